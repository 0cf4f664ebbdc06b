//! The command line: `classroom-app --role teacher|student --server ws://… --room NAME --name NAME`.
//!
//! Every option is optional and only pre-fills the join screen. Desktop launchers, session
//! managers and test harnesses add arguments of their own, so anything unknown is reported and
//! skipped instead of stopping the app.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Parser, ValueEnum};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Whether the person joining teaches the class or attends it.
///
/// Named `JoinRole` in TypeScript: the wire protocol's `Role` has more roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ValueEnum, TS)]
#[serde(rename_all = "lowercase")]
#[ts(rename = "JoinRole")]
pub enum Role {
    /// Runs the class: shares screen and camera, manages students.
    Teacher,
    /// Attends the class.
    Student,
}

/// Join-screen values given on the command line; `None` where the option was absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Parser, TS)]
#[command(name = "classroom-app", version, about = "Classroom: live online teaching", long_about = None)]
#[serde(rename_all = "camelCase")]
pub struct LaunchOptions {
    /// Join as a teacher or as a student.
    #[arg(long, value_enum)]
    pub role: Option<Role>,
    /// Class server address, for example ws://127.0.0.1:8080/ws.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Room to join.
    #[arg(long)]
    pub room: Option<String>,
    /// Display name shown to the class.
    #[arg(long)]
    pub name: Option<String>,
    /// A file holding the join token from the teacher (students), readable by you alone.
    /// A token itself is never taken on the command line, where every user of this computer
    /// can read it (`ps`).
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    #[ts(skip)]
    pub token_file: Option<PathBuf>,
    /// Join token from the teacher (students), read from `--token-file`.
    #[arg(skip)]
    pub token: Option<String>,
    /// The class server's certificate fingerprint to pin (from the teacher's invite; a
    /// `wss://` class on the school network).
    #[arg(long)]
    pub pin: Option<String>,
    /// Join as soon as the window opens, with the values above.
    #[arg(long)]
    pub join: bool,
    /// Print GStreamer's version and whether each element a class uses is installed, then
    /// exit without opening a window (status 1 when one the app cannot run without is
    /// missing): for a school's IT after installing.
    #[arg(long)]
    #[serde(skip)]
    #[ts(skip)]
    pub check_media: bool,
    /// An invite link (`classroom://join?...`), as the desktop passes a clicked one: it only
    /// fills the join form.
    #[arg(value_name = "INVITE_LINK", value_parser = parse_link)]
    #[ts(optional = nullable)]
    pub link: Option<String>,
}

/// The `invite-link-opened` event's payload: an invite link opened while the app runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct OpenedLink {
    /// The link, `classroom://join?...`.
    pub link: String,
}

/// Longest invite link read from the command line or another start of the app.
const MAX_LINK_CHARS: usize = 8192;

/// `arg` when it is an invite link (`classroom://join...`, any case of the scheme) of a sane
/// length; the page reads its values.
pub fn invite_link(arg: &str) -> Option<&str> {
    let arg = arg.trim();
    let prefix = crate::link::PREFIX;
    (arg.len() <= MAX_LINK_CHARS
        && arg
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix)))
    .then_some(arg)
}

fn parse_link(arg: &str) -> Result<String, String> {
    invite_link(arg).map(str::to_owned).ok_or_else(|| {
        format!(
            "not an invite link (they start with {})",
            crate::link::PREFIX
        )
    })
}

/// The outcome of reading a command line the app can run with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedLaunch {
    /// The options that were understood.
    pub options: LaunchOptions,
    /// Arguments that were skipped, each with the reason, for a warning on stderr.
    pub ignored: Vec<String>,
}

/// The long options the app knows; each takes one value.
const KNOWN_OPTIONS: &[&str] = &[
    "--role",
    "--server",
    "--room",
    "--name",
    "--token-file",
    "--pin",
];

/// Why `--token` is refused, for the warning.
const NO_TOKEN_ON_THE_COMMAND_LINE: &str = "a token is not taken on the command line, where \
     every user of this computer can read it; put it in a file only you can read and pass \
     --token-file FILE";

/// The largest token file read.
const MAX_TOKEN_FILE_BYTES: u64 = 8 * 1024;

/// The long flags the app knows; they take no value.
const KNOWN_FLAGS: &[&str] = &["--join", "--check-media"];

/// Reads the command line (program name first, as from [`std::env::args_os`]).
///
/// Returns `Err` only for `--help` and `--version`, whose error prints the text and exits the
/// process through [`clap::Error::exit`]. Anything else that does not parse is skipped and listed
/// in [`ParsedLaunch::ignored`].
pub fn parse<I, T>(args: I) -> Result<ParsedLaunch, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let mut parsed = match LaunchOptions::try_parse_from(&args) {
        Ok(options) => ParsedLaunch {
            options,
            ignored: Vec::new(),
        },
        Err(error) if is_help_or_version(&error) => return Err(error),
        Err(_) => parse_leniently(&args),
    };
    if let Some(path) = parsed.options.token_file.clone() {
        match read_token_file(&path) {
            Ok(token) => parsed.options.token = Some(token),
            Err(why) => parsed.ignored.push(format!(
                "--token-file {:?}: {why}",
                path.display().to_string()
            )),
        }
    }
    Ok(parsed)
}

/// The token in the file at `path`: its text without surrounding white space. Refused when
/// other users may read the file (on Unix: any group or other permission bit), when it is not
/// a file, empty, or larger than a token.
pub fn read_token_file(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let cannot = |e: std::io::Error| format!("cannot read it: {e}");
    // One open: the checks are of the file that is then read, not of whatever the path
    // named a moment before.
    let file = std::fs::File::open(path).map_err(cannot)?;
    let meta = file.metadata().map_err(cannot)?;
    if !meta.is_file() {
        return Err("not a file".into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "other users of this computer may read it (permissions {mode:o}); make it \
                 readable by you alone (chmod 600)"
            ));
        }
    }
    if meta.len() > MAX_TOKEN_FILE_BYTES {
        return Err(format!(
            "{} bytes, more than a token ({MAX_TOKEN_FILE_BYTES} at most)",
            meta.len()
        ));
    }
    let mut text = String::new();
    file.take(MAX_TOKEN_FILE_BYTES)
        .read_to_string(&mut text)
        .map_err(cannot)?;
    let token = text.trim();
    if token.is_empty() {
        return Err("it is empty".into());
    }
    Ok(token.to_owned())
}

fn is_help_or_version(error: &clap::Error) -> bool {
    matches!(
        error.kind(),
        clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
    )
}

/// Picks the known `--option value` / `--option=value` pairs out of a command line clap refused,
/// parsing each pair on its own so one bad value does not discard the others.
fn parse_leniently(args: &[OsString]) -> ParsedLaunch {
    let program = args
        .first()
        .cloned()
        .unwrap_or_else(|| OsString::from("classroom-app"));
    let mut parsed = ParsedLaunch::default();
    let mut rest = args
        .iter()
        .skip(1)
        .map(|arg| arg.to_string_lossy().into_owned())
        .peekable();
    while let Some(arg) = rest.next() {
        if arg == "--token" || arg.starts_with("--token=") {
            // Its value is not repeated in the warning: it is the secret.
            if arg == "--token" {
                rest.next_if(|next| !next.starts_with("--"));
            }
            parsed
                .ignored
                .push(format!("\"--token\": {NO_TOKEN_ON_THE_COMMAND_LINE}"));
            continue;
        }
        if KNOWN_FLAGS.contains(&arg.as_str()) {
            if arg == "--check-media" {
                parsed.options.check_media = true;
            } else {
                parsed.options.join = true;
            }
            continue;
        }
        if let Some(link) = invite_link(&arg) {
            parsed.options.link = Some(link.to_owned());
            continue;
        }
        let (option, value) = match arg.split_once('=') {
            Some((option, value)) if KNOWN_OPTIONS.contains(&option) => {
                (option.to_owned(), Some(value.to_owned()))
            }
            _ if KNOWN_OPTIONS.contains(&arg.as_str()) => {
                let value = rest.next_if(|next| !next.starts_with("--"));
                (arg, value)
            }
            _ => {
                parsed
                    .ignored
                    .push(format!("{arg:?}: not an option of this app"));
                continue;
            }
        };
        let Some(value) = value else {
            parsed
                .ignored
                .push(format!("{option:?}: missing its value"));
            continue;
        };
        let pair = [program.clone(), option.clone().into(), value.clone().into()];
        match LaunchOptions::try_parse_from(pair) {
            Ok(one) => parsed.options.merge(one),
            Err(error) => parsed.ignored.push(format!(
                "{option} {value:?}: {}",
                first_line(&error.to_string())
            )),
        }
    }
    parsed
}

fn first_line(text: &str) -> &str {
    let line = text.lines().next().unwrap_or_default();
    line.strip_prefix("error: ").unwrap_or(line)
}

impl LaunchOptions {
    /// Takes every option `other` sets; a later occurrence wins, as it does for clap.
    fn merge(&mut self, other: LaunchOptions) {
        self.role = other.role.or(self.role);
        self.server = other.server.or(self.server.take());
        self.room = other.room.or(self.room.take());
        self.name = other.name.or(self.name.take());
        self.token_file = other.token_file.or(self.token_file.take());
        self.token = other.token.or(self.token.take());
        self.pin = other.pin.or(self.pin.take());
        self.join |= other.join;
        self.check_media |= other.check_media;
        self.link = other.link.or(self.link.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(args: &[&str]) -> ParsedLaunch {
        match parse(args.iter().copied()) {
            Ok(parsed) => parsed,
            Err(error) => panic!("{args:?} should parse: {error}"),
        }
    }

    #[test]
    fn no_arguments_means_no_prefill() {
        let parsed = parse_ok(&["classroom-app"]);
        assert_eq!(parsed, ParsedLaunch::default());
    }

    #[test]
    fn reads_every_option() {
        let parsed = parse_ok(&[
            "classroom-app",
            "--role",
            "teacher",
            "--server",
            "ws://127.0.0.1:8080/ws",
            "--room=physics 101",
            "--name",
            "Ada Lovelace",
        ]);
        assert!(parsed.ignored.is_empty(), "{:?}", parsed.ignored);
        assert_eq!(
            parsed.options,
            LaunchOptions {
                role: Some(Role::Teacher),
                server: Some("ws://127.0.0.1:8080/ws".into()),
                room: Some("physics 101".into()),
                name: Some("Ada Lovelace".into()),
                ..LaunchOptions::default()
            }
        );
    }

    /// A file holding `text` with permissions `mode`, in a folder of its own.
    fn token_file(text: &str, mode: u32) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("a folder");
        let path = dir.path().join("token");
        std::fs::write(&path, text).expect("written");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                .expect("permissions");
        }
        #[cfg(not(unix))]
        let _ = mode;
        (dir, path)
    }

    #[test]
    fn the_token_comes_from_a_private_file_and_join_among_unknown_arguments() {
        let (_dir, path) = token_file(" abc.def.ghi\n", 0o600);
        let path = path.to_string_lossy().into_owned();
        let parsed = parse_ok(&["classroom-app", "--token-file", &path, "--bogus", "--join"]);
        assert_eq!(parsed.options.token.as_deref(), Some("abc.def.ghi"));
        assert!(parsed.options.join);
        assert_eq!(parsed.ignored.len(), 1, "{:?}", parsed.ignored);
        let parsed = parse_ok(&["classroom-app", &format!("--token-file={path}")]);
        assert_eq!(parsed.options.token.as_deref(), Some("abc.def.ghi"));
        assert!(parsed.ignored.is_empty(), "{:?}", parsed.ignored);
    }

    #[test]
    fn a_token_on_the_command_line_is_refused_and_not_repeated() {
        for args in [
            &["classroom-app", "--token", "s3cret.tok.en", "--join"][..],
            &["classroom-app", "--token=s3cret.tok.en", "--join"][..],
        ] {
            let parsed = parse_ok(args);
            assert_eq!(parsed.options.token, None, "{args:?}");
            assert!(parsed.options.join, "{args:?}");
            assert_eq!(parsed.ignored.len(), 1, "{:?}", parsed.ignored);
            assert!(
                parsed.ignored[0].contains("--token-file"),
                "{:?}",
                parsed.ignored
            );
            assert!(
                !parsed.ignored.iter().any(|i| i.contains("s3cret")),
                "the token is repeated in a warning: {:?}",
                parsed.ignored
            );
        }
    }

    #[test]
    fn a_token_file_others_may_read_or_that_is_no_token_is_refused() {
        #[cfg(unix)]
        for mode in [0o644, 0o640, 0o604] {
            let (_dir, path) = token_file("abc.def.ghi", mode);
            let parsed = parse_ok(&["classroom-app", "--token-file", &path.to_string_lossy()]);
            assert_eq!(parsed.options.token, None, "{mode:o}");
            assert!(
                parsed.ignored[0].contains("chmod 600"),
                "{:?}",
                parsed.ignored
            );
        }
        let (_dir, empty) = token_file(" \n", 0o600);
        assert!(
            read_token_file(&empty)
                .expect_err("empty")
                .contains("empty")
        );
        let (_dir, big) = token_file(&"x".repeat(8 * 1024 + 1), 0o600);
        assert!(
            read_token_file(&big)
                .expect_err("big")
                .contains("more than a token")
        );
        let dir = tempfile::tempdir().expect("a folder");
        assert_eq!(read_token_file(dir.path()), Err("not a file".into()));
        assert!(read_token_file(&dir.path().join("none")).is_err());
    }

    #[test]
    fn the_media_check_is_a_flag_of_its_own() {
        let parsed = parse_ok(&["classroom-app", "--check-media"]);
        assert!(parsed.options.check_media && !parsed.options.join);
        let parsed = parse_ok(&["classroom-app", "--bogus", "--check-media"]);
        assert!(parsed.options.check_media && !parsed.options.join);
        assert!(!parse_ok(&["classroom-app", "--join"]).options.check_media);
    }

    #[test]
    fn unknown_arguments_are_skipped_not_fatal() {
        let parsed = parse_ok(&[
            "classroom-app",
            "--no-sandbox",
            "--role",
            "student",
            "stray",
            "--room",
            "maths",
            "-x",
        ]);
        assert_eq!(parsed.options.role, Some(Role::Student));
        assert_eq!(parsed.options.room.as_deref(), Some("maths"));
        assert_eq!(parsed.ignored.len(), 3, "{:?}", parsed.ignored);
    }

    #[test]
    fn a_bad_value_drops_only_that_option() {
        let parsed = parse_ok(&[
            "classroom-app",
            "--role",
            "principal",
            "--name",
            "Grace",
            "--server",
        ]);
        assert_eq!(parsed.options.role, None);
        assert_eq!(parsed.options.name.as_deref(), Some("Grace"));
        assert_eq!(parsed.ignored.len(), 2, "{:?}", parsed.ignored);
        assert!(
            parsed.ignored[0].contains("principal"),
            "{:?}",
            parsed.ignored
        );
    }

    #[test]
    fn an_invite_link_on_the_command_line_is_kept_for_the_form() {
        let link = "classroom://join?server=wss%3A%2F%2F10.0.0.5%3A47800%2Fws&room=r&invite=s";
        let parsed = parse_ok(&["classroom-app", link]);
        assert_eq!(parsed.options.link.as_deref(), Some(link));
        assert!(!parsed.options.join, "a link never joins by itself");
        let parsed = parse_ok(&["classroom-app", "--bogus", "CLASSROOM://join?x=1"]);
        assert_eq!(parsed.options.link.as_deref(), Some("CLASSROOM://join?x=1"));
        let parsed = parse_ok(&["classroom-app", "https://example.org"]);
        assert_eq!(parsed.options.link, None);
        assert_eq!(parsed.ignored.len(), 1, "{:?}", parsed.ignored);
        assert_eq!(
            invite_link(&format!("classroom://join?{}", "a".repeat(9000))),
            None
        );
        assert_eq!(
            invite_link("  classroom://join?a=1 "),
            Some("classroom://join?a=1")
        );
    }

    #[test]
    fn help_and_version_are_not_swallowed() {
        for flag in ["--help", "--version"] {
            let error = parse(["classroom-app", flag]).expect_err(flag);
            assert!(is_help_or_version(&error));
        }
    }

    #[test]
    fn serializes_for_the_join_screen() {
        let options = LaunchOptions {
            role: Some(Role::Student),
            ..LaunchOptions::default()
        };
        assert_eq!(
            serde_json::to_value(options).expect("serializes"),
            serde_json::json!({
                "role": "student", "server": null, "room": null, "name": null, "token": null, "pin": null, "join": false, "link": null
            })
        );
    }
}
