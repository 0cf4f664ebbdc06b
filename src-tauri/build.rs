//! Generates Tauri's context and one permission per app command.

/// Every `#[tauri::command]` the app registers. Listing them here makes tauri-build generate the
/// `allow-<command>` / `deny-<command>` permissions that `capabilities/` grants per window; a
/// command missing from this list cannot be granted and is refused at runtime.
const COMMANDS: &[&str] = &[
    "ui_ready",
    "launch_options",
    "join_class",
    "class_stats",
    "leave_class",
    "video_frame",
    "video_settings",
    "video_painted",
    "list_devices",
    "choose_device",
    "share_screen",
    "start_recording",
    "stop_recording",
    "share_recording",
    "library_media_url",
    "class_request",
    "stage_media",
    "import_roster",
    "export_report",
    "nearby_classes",
    "reach_nearby_class",
    "get_settings",
    "set_settings",
    "diagnostics",
    "board_view",
    "board_send",
    "board_undo",
    "board_save",
    "library_view",
    "library_refresh",
    "library_search",
    "library_materials",
    "library_download",
    "library_pause",
    "library_resume",
    "library_cancel",
    "library_pin",
    "library_set_quota",
    "library_file",
    "library_clear",
    "lesson_add",
    "material_upload_piece",
    "material_upload_finish",
    "homework_view",
    "homework_refresh",
    "homework_set",
    "homework_hand_in",
    "homework_marked_copy",
    "homework_hand_ins",
    "homework_open",
    "homework_return",
    "homework_save_copy",
    "update_check",
    "update_install",
    "device_check_start",
    "device_check_status",
    "device_check_stop",
    "camera_photo_start",
    "camera_photo_take",
    "speaker_test",
    "network_check",
];

fn main() {
    // `generate_context!` embeds the built UI and the icons when the crate compiles, but nothing
    // tells cargo to recompile when only they change; a rerun of this script does.
    println!("cargo:rerun-if-changed=../ui/dist");
    println!("cargo:rerun-if-changed=../icons");
    if !std::path::Path::new("../ui/dist/index.html").exists() {
        // `generate_context!` would fail later with a less helpful message.
        eprintln!(
            "ui/dist/index.html is missing: build the front end first with \
             `cd ui && npm ci && npm run build`"
        );
        std::process::exit(1);
    }

    // macOS: the app bundle carries GStreamer.framework in Contents/Frameworks (the DMG build;
    // installer/macos); its libraries are found through these run paths.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("macos") {
        for rpath in [
            "@executable_path/../Frameworks",
            "@executable_path/../Frameworks/GStreamer.framework/Versions/1.0/lib",
        ] {
            println!("cargo:rustc-link-arg-bins=-Wl,-rpath,{rpath}");
        }
    }

    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(error) = tauri_build::try_build(attributes) {
        // Report the cause plainly rather than as a panic with a backtrace.
        eprintln!("tauri-build failed: {error:#}");
        std::process::exit(1);
    }
}
