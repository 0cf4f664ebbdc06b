//! The classroom desktop app's entry point; everything lives in the library so tests can reach it.

// Without this a Windows release build would open a console window next to the app.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    classroom_app::run();
}
