//! Reading a policy file or folder only when nobody but its expected owner could have written
//! it, so a student cannot drop in a policy that unlocks what the school locked.

use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::path::Path;

use crate::MAX_FILE_BYTES;
use crate::model::ProblemKind;

/// Why a file or folder was not read.
#[derive(Debug)]
pub(crate) struct Refused {
    pub(crate) kind: ProblemKind,
    pub(crate) message: String,
}

impl Refused {
    fn new(kind: ProblemKind, message: impl Into<String>) -> Refused {
        Refused {
            kind,
            message: message.into(),
        }
    }

    fn io(what: &str, e: &io::Error) -> Refused {
        Refused::new(ProblemKind::Unreadable, format!("cannot read {what}: {e}"))
    }
}

/// Whether the folder exists (`false`: no policy there) and is safe to read from: owned by
/// `owner` and writable by nobody else. Symlinks are followed; what is checked is the folder
/// they lead to.
pub(crate) fn check_folder(path: &Path, owner: u32) -> Result<bool, Refused> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Refused::io("the folder", &e)),
    };
    if !meta.is_dir() {
        return Err(Refused::new(ProblemKind::Unreadable, "not a folder"));
    }
    check_safe(&meta, owner, "the folder")?;
    Ok(true)
}

/// The file's bytes (`None`: there is no file), when it is a regular file of at most
/// [`MAX_FILE_BYTES`] owned by `owner` and writable by nobody else.
///
/// A symlink is followed only when the folder its target is in passes the same check; the
/// target itself is checked on the open handle (`fstat`), so what is checked is what is read.
pub(crate) fn read_file(path: &Path, owner: u32) -> Result<Option<Vec<u8>>, Refused> {
    let link = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Refused::io("the file", &e)),
    };
    if link.file_type().is_symlink() {
        let target = fs::canonicalize(path)
            .map_err(|e| Refused::io("the file this symlink points to", &e))?;
        if let Some(folder) = target.parent() {
            let meta = fs::metadata(folder)
                .map_err(|e| Refused::io("the folder this symlink points into", &e))?;
            check_safe(
                &meta,
                owner,
                &format!("the folder this symlink points into ({})", folder.display()),
            )?;
        }
    }
    // Not opened unless it is a regular file: opening a FIFO would wait forever.
    let meta = fs::metadata(path).map_err(|e| Refused::io("the file", &e))?;
    if !meta.is_file() {
        return Err(Refused::new(ProblemKind::Unreadable, "not a regular file"));
    }
    let file = File::open(path).map_err(|e| Refused::io("the file", &e))?;
    let meta = file.metadata().map_err(|e| Refused::io("the file", &e))?;
    if !meta.is_file() {
        return Err(Refused::new(ProblemKind::Unreadable, "not a regular file"));
    }
    check_safe(&meta, owner, "the file")?;
    let too_large = || {
        Refused::new(
            ProblemKind::TooLarge,
            format!("larger than {MAX_FILE_BYTES} bytes"),
        )
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    // The limit again while reading: the file may have grown since fstat.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Refused::io("the file", &e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large());
    }
    Ok(Some(bytes))
}

/// Owned by `owner` and not writable by group or others.
#[cfg(unix)]
fn check_safe(meta: &Metadata, owner: u32, what: &str) -> Result<(), Refused> {
    use std::os::unix::fs::MetadataExt;
    let unsafe_because = |why: String| {
        Refused::new(
            ProblemKind::UnsafePermissions,
            format!(
                "ignored: {what} is {why}; policy must be owned by uid {owner} and writable by nobody else"
            ),
        )
    };
    if meta.uid() != owner {
        return Err(unsafe_because(format!("owned by uid {}", meta.uid())));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o002 != 0 {
        return Err(unsafe_because(format!(
            "writable by others (mode {mode:04o})"
        )));
    }
    if mode & 0o020 != 0 {
        return Err(unsafe_because(format!(
            "writable by its group (mode {mode:04o})"
        )));
    }
    Ok(())
}

/// No owner or mode bits to check here: the folder's ACLs are the administrator's job.
#[cfg(not(unix))]
fn check_safe(_meta: &Metadata, _owner: u32, _what: &str) -> Result<(), Refused> {
    Ok(())
}
