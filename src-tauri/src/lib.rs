//! The classroom desktop app: Tauri wiring around thin command adapters.
//!
//! Everything the webview may call lives in [`commands`]; the logic those commands use is plain
//! Rust in [`launch`] and [`join`] so it is tested without a window.

pub mod class;
pub mod commands;
pub mod devices;
pub mod error;
pub mod join;
pub mod launch;
pub mod state;
pub mod video;

pub use error::AppError;

use classroom_media::devices::DeviceKind;
use tauri::{Emitter, Manager};

/// How often the device list is polled: cpal has no hot-plug callback.
const DEVICE_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// Polls the devices on a thread of their own and sends the UI `devices-changed` with the new
/// list whenever it changes (and once at start).
fn watch_devices(app: tauri::AppHandle) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let watcher = match classroom_media::devices::DeviceWatcher::start(DEVICE_POLL, tx) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("classroom-app: cannot watch devices: {e}");
            return;
        }
    };
    tauri::async_runtime::spawn(async move {
        // The watcher stops when dropped: it lives as long as this task.
        let _watcher = watcher;
        while let Some(change) = rx.recv().await {
            let state = app.state::<state::AppState>();
            let list = state.devices.update(change.devices);
            if let Err(e) = app.emit("devices-changed", &list) {
                eprintln!("classroom-app: devices-changed: {e}");
            }
            // A failed camera or microphone whose chosen device is plugged back in recovers
            // by itself.
            for (kind, source) in [
                (DeviceKind::Camera, classroom_protocol::Source::Camera),
                (
                    DeviceKind::Microphone,
                    classroom_protocol::Source::Microphone,
                ),
            ] {
                let Some(id) = state.devices.pick_id(kind) else {
                    continue;
                };
                let returned = change
                    .changes
                    .added
                    .iter()
                    .any(|d| d.kind == kind && d.id == id);
                if returned
                    && state.class.is_track_failed(source).await
                    && let Err(e) = state.class.switch_device(kind, &id).await
                {
                    eprintln!("classroom-app: {id} is back but could not be reopened: {e}");
                }
            }
        }
    });
}

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

    let options = parsed.options;
    let result = tauri::Builder::default()
        .setup(move |app| {
            // The device choice lives in the app's config directory; without one (a broken
            // home) it is only remembered for this run.
            let settings = app
                .path()
                .app_config_dir()
                .ok()
                .map(|dir| dir.join("devices.json"));
            let state =
                state::AppState::with_devices(options, devices::DeviceController::new(settings));
            let handle = app.handle().clone();
            state
                .class
                .on_device_event(std::sync::Arc::new(move |failure| {
                    if let Err(e) = handle.emit("device-failed", failure) {
                        eprintln!("classroom-app: device-failed: {e}");
                    }
                }));
            app.manage(state);
            watch_devices(app.handle().clone());
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::ui_ready,
            commands::launch_options,
            commands::join_class,
            commands::class_stats,
            commands::leave_class,
            commands::video_frame,
            commands::video_settings,
            commands::video_painted,
            commands::list_devices,
            commands::choose_device,
            commands::share_screen,
        ])
        .run(tauri::generate_context!());
    if let Err(error) = result {
        eprintln!("classroom-app: {error}");
        std::process::exit(1);
    }
}
