//! Files the app writes for the person to keep: a whiteboard saved as PNG or PDF, a marked
//! copy of homework. They go where a browser puts downloads (the system's Downloads folder;
//! `~/Downloads` when the system names none but it exists; else `exports/` in the app's data
//! folder), under a name made from what they are, never over an existing file, written whole
//! or not at all.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::AppError;

/// A file written for the person: the answer of the commands that save one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SavedFile {
    /// Where it was written (the whole path, to show).
    pub path: String,
    /// Its name.
    pub name: String,
    /// Its size in bytes.
    #[ts(type = "number")]
    pub bytes: u64,
}

/// A whiteboard saved as...
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum SaveFormat {
    /// ...a picture of the page shown (PNG).
    Png,
    /// ...a document of every page, the ink as vectors (PDF).
    Pdf,
}

/// The longest name stem kept, in characters.
const MAX_STEM_CHARS: usize = 80;

/// Where saved files go: the Downloads folder the system names, else `~/Downloads` if it
/// exists, else `fallback` (the app's own `exports/` folder).
pub fn folder(downloads: Option<PathBuf>, home: Option<PathBuf>, fallback: PathBuf) -> PathBuf {
    downloads
        .filter(|d| d.is_dir())
        .or_else(|| home.map(|h| h.join("Downloads")).filter(|d| d.is_dir()))
        .unwrap_or(fallback)
}

/// `stem` made safe as a file name on every system: no path separators, no characters
/// Windows refuses, no control characters, no leading dots or trailing dots and spaces, at
/// most [`MAX_STEM_CHARS`]; "Classroom" when nothing is left.
pub fn safe_stem(stem: &str) -> String {
    let cleaned: String = stem
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .take(MAX_STEM_CHARS)
        .collect();
    let trimmed = cleaned
        .trim_start_matches(['.', ' '])
        .trim_end_matches(['.', ' ']);
    if trimmed.is_empty() {
        "Classroom".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Writes `bytes` into `dir` as `<stem>.<ext>` (with " (2)", " (3)"... when that name is
/// taken), creating the folder: into a temporary file first, synced, then linked under its
/// name only if that name is still free, so nothing is ever half-written or overwritten.
pub fn save_new(dir: &Path, stem: &str, ext: &str, bytes: &[u8]) -> Result<SavedFile, AppError> {
    let failed =
        |e: std::io::Error| AppError::Internal(format!("cannot save in {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(failed)?;
    let stem = safe_stem(stem);
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(failed)?;
    temp.write_all(bytes).map_err(failed)?;
    temp.as_file().sync_all().map_err(failed)?;
    for n in 1..1000 {
        let name = if n == 1 {
            format!("{stem}.{ext}")
        } else {
            format!("{stem} ({n}).{ext}")
        };
        let path = dir.join(&name);
        match temp.persist_noclobber(&path) {
            Ok(_) => {
                return Ok(SavedFile {
                    path: path.display().to_string(),
                    name,
                    bytes: bytes.len() as u64,
                });
            }
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => temp = e.file,
            Err(e) => return Err(failed(e.error)),
        }
    }
    Err(AppError::Internal(format!(
        "cannot save in {}: every name like {stem:?} is taken",
        dir.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_safe_and_never_empty() {
        assert_eq!(safe_stem("Fractions — marked"), "Fractions — marked");
        assert_eq!(safe_stem("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(safe_stem("a:b*c?\"<>|\n"), "a_b_c______");
        assert_eq!(safe_stem("..."), "Classroom");
        assert_eq!(safe_stem("  notes.  "), "notes");
        assert_eq!(safe_stem(&"x".repeat(500)).chars().count(), MAX_STEM_CHARS);
    }

    #[test]
    fn a_saved_file_never_replaces_another() {
        let dir = tempfile::tempdir().expect("a folder");
        let folder = dir.path().join("out");
        let first = save_new(&folder, "Board", "png", b"one").expect("saved");
        let second = save_new(&folder, "Board", "png", b"two").expect("saved");
        assert_eq!(first.name, "Board.png");
        assert_eq!(second.name, "Board (2).png");
        assert_eq!(std::fs::read(&first.path).expect("read"), b"one");
        assert_eq!(std::fs::read(&second.path).expect("read"), b"two");
        assert_eq!(second.bytes, 3);
        // Only the two files: no temporary one is left behind.
        assert_eq!(std::fs::read_dir(&folder).expect("list").count(), 2);
    }

    #[test]
    fn downloads_are_preferred_then_home_then_the_apps_folder() {
        let dir = tempfile::tempdir().expect("a folder");
        let fallback = dir.path().join("exports");
        let home = dir.path().join("home");
        assert_eq!(folder(None, Some(home.clone()), fallback.clone()), fallback);
        std::fs::create_dir_all(home.join("Downloads")).expect("made");
        assert_eq!(
            folder(
                Some(dir.path().join("missing")),
                Some(home.clone()),
                fallback.clone()
            ),
            home.join("Downloads")
        );
        assert_eq!(
            folder(Some(dir.path().to_path_buf()), Some(home), fallback),
            dir.path()
        );
    }
}
