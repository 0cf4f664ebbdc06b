//! The classroom desktop app's entry point; everything lives in the library so tests can reach it.

// Without this a Windows release build would open a console window next to the app.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

// The teacher's app embeds the class's server: the server's allocator, which hands memory
// back after a burst (see `classroom_sfu::ServerAllocator`).
#[global_allocator]
static ALLOCATOR: classroom_sfu::ServerAllocator = classroom_sfu::ServerAllocator;

fn main() {
    use_bundled_gstreamer();
    choose_web_renderer();
    classroom_app::run();
}

/// Turns WebKitGTK's DMA-BUF renderer off where it would leave the window blank (NVIDIA's
/// driver; `classroom_app::web_renderer`), before GTK starts.
#[allow(unsafe_code)]
fn choose_web_renderer() {
    if let Some((key, value)) = classroom_app::web_renderer::decide_here() {
        // SAFETY: in `main` before the app starts any thread, so nothing reads or writes the
        // environment at the same time.
        unsafe { std::env::set_var(key, value) };
    }
}

/// Points GStreamer at the copy shipped inside the app, where there is one (Windows, macOS;
/// `classroom_app::bundled_gstreamer`), before anything can start it.
#[allow(unsafe_code)]
fn use_bundled_gstreamer() {
    for (key, value) in classroom_app::bundled_gstreamer::environment_here() {
        // SAFETY: the first thing `main` does, before the app starts any thread, so nothing
        // reads or writes the environment at the same time.
        unsafe {
            match value {
                Some(value) => std::env::set_var(key, value),
                None => std::env::remove_var(key),
            }
        }
    }
}
