//! The classroom desktop app's entry point; everything lives in the library so tests can reach it.

// Without this a Windows release build would open a console window next to the app.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

// The teacher's app embeds the class's server: the server's allocator, which hands memory
// back after a burst (see `classroom_sfu::ServerAllocator`).
#[global_allocator]
static ALLOCATOR: classroom_sfu::ServerAllocator = classroom_sfu::ServerAllocator;

fn main() {
    classroom_app::run();
}
