//! Everything the webview may invoke. Each command is a thin adapter: it reads app state, calls
//! plain Rust and returns serializable data or an [`AppError`].
//!
//! A new command must also be listed in `build.rs` and granted in `capabilities/`.

use std::io::Write;

use tauri::State;

use crate::AppError;
use crate::join::{self, JoinAccepted, JoinForm};
use crate::launch::LaunchOptions;
use crate::state::AppState;

/// The page has mounted. Prints `UI_READY` on stdout the first time, which tests and scripts wait
/// for to know the window shows the UI.
#[tauri::command]
pub fn ui_ready(state: State<'_, AppState>) {
    if state.mark_ui_ready() {
        let mut stdout = std::io::stdout().lock();
        // Nobody may be reading stdout (a desktop launch); that must not stop the app.
        let _ = writeln!(stdout, "UI_READY").and_then(|()| stdout.flush());
    }
}

/// The values given on the command line, to pre-fill the join screen.
#[tauri::command]
pub fn launch_options(state: State<'_, AppState>) -> LaunchOptions {
    state.launch_options().clone()
}

/// Validates the join form and accepts it.
///
/// For now this only echoes the validated request back; connecting to the class server through
/// the client session is wired up by a later change.
/// A refused form is counted and logged: the webview is untrusted input like the network.
#[tauri::command]
pub fn join_class(state: State<'_, AppState>, form: JoinForm) -> Result<JoinAccepted, AppError> {
    join::validate(&form).inspect_err(|err| {
        let n = state.count_refused();
        eprintln!("join_class refused ({n} refused calls so far): {err}");
    })
}
