//! `cargo xtask ui`: install the front end's packages when needed and build `ui/dist`.
//!
//! `ui/dist` must exist before cargo builds `src-tauri`: tauri's `generate_context!` embeds it.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Result, bail};

use crate::util::{npm, root, run};

/// Runs `npm ci` when `ui/node_modules` is missing or older than `ui/package-lock.json`, then
/// `npm run build` unless `ui/dist` is newer than every source file (or always, with `force`).
/// Returns a one-line summary.
pub fn ensure_built(force: bool) -> Result<String> {
    let ui = root().join("ui");
    if !ui.join("package.json").is_file() {
        bail!("ui: {} not found", ui.join("package.json").display());
    }
    let installed = if needs_install(&ui) {
        run(Command::new(npm())
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&ui))?;
        true
    } else {
        false
    };
    let dist_index = ui.join("dist").join("index.html");
    let stale = match mtime(&dist_index) {
        None => true,
        Some(built) => newest_source(&ui).is_some_and(|src| src > built),
    };
    if !(force || installed || stale) {
        let line = "ui: node_modules and dist up to date".to_owned();
        println!("{line}");
        return Ok(line);
    }
    run(Command::new(npm()).args(["run", "build"]).current_dir(&ui))?;
    if !dist_index.is_file() {
        bail!("ui: `npm run build` left no {}", dist_index.display());
    }
    Ok(format!(
        "ui: built{}",
        if installed { " after npm ci" } else { "" }
    ))
}

/// True when `npm ci` has not run since `package-lock.json` last changed.
fn needs_install(ui: &Path) -> bool {
    // npm writes node_modules/.package-lock.json at the end of every install.
    match (
        mtime(&ui.join("package-lock.json")),
        mtime(&ui.join("node_modules").join(".package-lock.json")),
    ) {
        (_, None) => true,
        (Some(lock), Some(installed)) => lock > installed,
        (None, Some(_)) => false,
    }
}

/// The file's modification time, if it exists.
fn mtime(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The newest modification time among the front end's sources: everything under `ui/` except
/// `node_modules`, `dist` and hidden entries.
fn newest_source(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    for entry in fs::read_dir(dir).ok()?.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "node_modules" || name == "dist" {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let time = if kind.is_dir() {
            newest_source(&entry.path())
        } else {
            mtime(&entry.path())
        };
        newest = newest.max(time);
    }
    newest
}
