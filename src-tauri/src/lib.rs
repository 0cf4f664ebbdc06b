//! The classroom desktop app: Tauri wiring around thin command adapters.
//!
//! Everything the webview may call lives in [`commands`]; the logic those commands use is plain
//! Rust in [`launch`] and [`join`] so it is tested without a window.

pub mod class;
pub mod commands;
pub mod error;
pub mod join;
pub mod launch;
pub mod state;
pub mod video;

pub use error::AppError;

/// Parses the command line, builds the Tauri app with its commands and runs it until the last
/// window closes.
///
/// `--help` and `--version` print and exit; command-line arguments the app does not know are
/// reported on stderr and otherwise ignored, because desktop launchers add their own.
pub fn run() {
    let parsed = match launch::parse(std::env::args_os()) {
        Ok(parsed) => parsed,
        Err(help_or_version) => help_or_version.exit(),
    };
    for ignored in &parsed.ignored {
        eprintln!("classroom-app: ignoring command-line argument {ignored}");
    }

    let result = tauri::Builder::default()
        .manage(state::AppState::new(parsed.options))
        .invoke_handler(tauri::generate_handler![
            commands::ui_ready,
            commands::launch_options,
            commands::join_class,
            commands::class_stats,
            commands::leave_class,
            commands::video_frame,
        ])
        .run(tauri::generate_context!());
    if let Err(error) = result {
        eprintln!("classroom-app: {error}");
        std::process::exit(1);
    }
}
