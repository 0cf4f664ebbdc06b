//! Hands a teacher's invite to the program that started the app, for `cargo xtask demo`: the
//! demo opens the teacher's window, which starts the class, and then needs the class's address
//! and a student token to bring the students in.
//!
//! Only when `CLASSROOM_INVITE_FILE` names a file: after a teacher's class starts, the invite
//! is written there as JSON (`{"server","room","token"}`), readable by the user only, through a
//! temporary file and a rename so the reader never sees half of it. Whoever can set the app's
//! environment can already read everything the app holds, so this opens nothing new; without
//! the variable nothing is written.

use std::path::{Path, PathBuf};

use crate::class::Invite;

/// The environment variable naming the file.
pub const INVITE_FILE_ENV: &str = "CLASSROOM_INVITE_FILE";

/// The file named by [`INVITE_FILE_ENV`], if any.
pub fn invite_file_from_env() -> Option<PathBuf> {
    std::env::var_os(INVITE_FILE_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Writes `invite` to `path` (user-only permissions, then renamed into place).
pub fn write_invite(path: &Path, invite: &Invite) -> std::io::Result<()> {
    let json = serde_json::to_vec(invite).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    std::io::Write::write_all(&mut options.open(&tmp)?, &json)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invite_is_written_whole_and_private() {
        let dir = std::env::temp_dir().join(format!("classroom-handoff-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("invite.json");
        let invite = Invite {
            server: "ws://127.0.0.1:1234/ws".into(),
            room: "demo".into(),
            token: "a.b.c".into(),
            code: "ABCD-EFGH-JKLM".into(),
            fingerprint: None,
            link: "classroom://join?server=ws%3A%2F%2F127.0.0.1%3A1234%2Fws&room=demo&invite=a.b.c"
                .into(),
        };
        write_invite(&path, &invite).expect("written");
        let read: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        assert_eq!(
            read,
            serde_json::json!({
                "server": "ws://127.0.0.1:1234/ws", "room": "demo", "token": "a.b.c",
                "code": "ABCD-EFGH-JKLM", "fingerprint": null,
                "link": "classroom://join?server=ws%3A%2F%2F127.0.0.1%3A1234%2Fws&room=demo&invite=a.b.c"
            })
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o077, 0, "readable by others: {mode:o}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
