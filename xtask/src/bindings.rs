//! `cargo xtask bindings`: regenerate the front end's TypeScript types from the Rust types.

use std::process::ExitCode;

use anyhow::Result;

use crate::ui;
use crate::util::{cargo, run};

/// Runs classroom-app's bindings test in write mode (it owns the list of types), after the UI
/// build that compiling src-tauri needs.
pub fn bindings() -> Result<ExitCode> {
    ui::ensure_built(false)?;
    run(cargo()
        .args(["test", "-p", "classroom-app", "--lib", "--locked", "--"])
        .args(["bindings::tests::committed_bindings_are_current", "--exact"])
        .env("CLASSROOM_WRITE_BINDINGS", "1"))?;
    println!("bindings: ui/src/lib/bindings is current; commit it with the Rust change");
    Ok(ExitCode::SUCCESS)
}
