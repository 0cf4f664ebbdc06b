//! Policy as JSON files: `/etc/classroom/policies/managed/*.json` (locked) and
//! `/etc/classroom/policies/recommended/*.json`, each a JSON object of setting name to value.
//!
//! Compiled on every OS (the tests run anywhere). The rules:
//! - Files are read in file-name order (byte order: `10-school.json` before `20-room.json`); a
//!   later file's value replaces an earlier one's for the same key.
//! - Only names ending in `.json` and not starting with `.` are read; others are left alone
//!   (an editor's backup, a README).
//! - The root, each of `managed/` and `recommended/`, and each file must be owned by root and
//!   writable by neither group nor others, or it is ignored with a [`Problem`]; so must the
//!   folder a symlinked file's target is in. (On non-Unix systems these checks are skipped.)
//!   The folders above the root (`/etc/classroom`) are not checked.
//! - A missing root or folder is no policy. A file over [`MAX_FILE_BYTES`], one that is not
//!   JSON, or whose top level is not an object is ignored with a [`Problem`]; in a good file,
//!   each unknown key or refused value is a [`Problem`] and the other keys still apply.
//!
//! [`Problem`]: crate::Problem

use std::ffi::OsString;
use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::MAX_FILE_BYTES;
use crate::fsread::{check_folder, read_file};
use crate::model::{Level, PolicySet, ProblemKind, describe};

/// Where the app looks on Linux.
pub const POLICY_DIR: &str = "/etc/classroom/policies";

/// The policy under `root` (`root/managed`, `root/recommended`), which only root may write.
pub fn read_policy_dir(root: &Path) -> PolicySet {
    read_policy_dir_owned_by(root, 0)
}

/// [`read_policy_dir`] with another expected owner than root (for tests, and for tools that
/// check a folder prepared by another account before it is installed).
pub fn read_policy_dir_owned_by(root: &Path, owner: u32) -> PolicySet {
    let mut set = PolicySet::default();
    if !folder_usable(root, owner, &mut set) {
        return set;
    }
    for (folder, level) in [
        ("managed", Level::Mandatory),
        ("recommended", Level::Recommended),
    ] {
        read_folder(&root.join(folder), level, owner, &mut set);
    }
    set
}

fn folder_usable(folder: &Path, owner: u32, set: &mut PolicySet) -> bool {
    match check_folder(folder, owner) {
        Ok(exists) => exists,
        Err(refused) => {
            set.problem(
                &folder.display().to_string(),
                None,
                refused.kind,
                refused.message,
            );
            false
        }
    }
}

fn read_folder(folder: &Path, level: Level, owner: u32, set: &mut PolicySet) {
    if !folder_usable(folder, owner, set) {
        return;
    }
    let source = folder.display().to_string();
    let entries = match fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) => {
            let message = format!("cannot list the folder: {e}");
            set.problem(&source, None, ProblemKind::Unreadable, message);
            return;
        }
    };
    let mut names: Vec<OsString> = Vec::new();
    for entry in entries {
        match entry {
            Ok(entry) => names.push(entry.file_name()),
            Err(e) => {
                let message = format!("cannot list the folder: {e}");
                set.problem(&source, None, ProblemKind::Unreadable, message);
            }
        }
    }
    names.retain(is_policy_file_name);
    names.sort();
    for name in names {
        let path = folder.join(&name);
        let source = path.display().to_string();
        match read_file(&path, owner) {
            Ok(Some(bytes)) => add_json(set, level, &source, &bytes),
            // Removed since the folder was listed: no policy.
            Ok(None) => {}
            Err(refused) => set.problem(&source, None, refused.kind, refused.message),
        }
    }
}

fn is_policy_file_name(name: &OsString) -> bool {
    let name = name.to_string_lossy();
    name.ends_with(".json") && !name.starts_with('.')
}

/// Adds one JSON policy file's settings (`{"serverUrl": "wss://...", ...}`) to `set`, each
/// under `source`; what is refused becomes a problem. A UTF-8 byte-order mark is allowed
/// (Notepad writes one). Never panics, whatever the bytes.
pub fn add_json(set: &mut PolicySet, level: Level, source: &str, bytes: &[u8]) {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        let message = format!("larger than {MAX_FILE_BYTES} bytes");
        set.problem(source, None, ProblemKind::TooLarge, message);
        return;
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(settings)) => {
            for (name, value) in &settings {
                set.offer(level, name, value, source);
            }
        }
        Ok(other) => {
            let message = format!(
                "must be a JSON object of setting names to values, not {}",
                describe(&other)
            );
            set.problem(source, None, ProblemKind::BadFormat, message);
        }
        Err(e) => {
            let message = format!("not JSON: {e}");
            set.problem(source, None, ProblemKind::BadFormat, message);
        }
    }
}
