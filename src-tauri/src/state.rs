//! State the app manages for its commands.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::class::{ClassController, Hosting};
use crate::devices::DeviceController;
use crate::launch::LaunchOptions;
use crate::library::LibraryController;
use crate::nearby::NearbyController;
use crate::settings::SettingsStore;

/// What the commands share for the life of the app.
pub struct AppState {
    /// The class this app takes part in, if any.
    pub class: ClassController,
    /// Devices present and the remembered choice.
    pub devices: DeviceController,
    /// Classes announced on the local network.
    pub nearby: NearbyController,
    /// Language and theme.
    pub settings: SettingsStore,
    /// The offline library.
    pub library: std::sync::Arc<LibraryController>,
    /// The update the last check found.
    pub updates: crate::updates::Updates,
    /// The check before a class (camera, microphone, speaker, connection).
    pub check: std::sync::Arc<crate::check::CheckController>,
    launch: LaunchOptions,
    ui_ready: AtomicBool,
    refused_calls: AtomicU64,
}

impl AppState {
    /// State for an app started with these command-line options.
    pub fn new(launch: LaunchOptions) -> Self {
        Self::with_devices(launch, DeviceController::new(None))
    }

    /// State whose device choice is remembered by `devices`.
    pub fn with_devices(launch: LaunchOptions, devices: DeviceController) -> Self {
        Self {
            // A teacher's class is on the school network: students on other computers join.
            class: ClassController::hosting(Hosting::SchoolNetwork),
            devices,
            nearby: NearbyController::default(),
            settings: SettingsStore::new(None, crate::settings::system_locales()),
            library: std::sync::Arc::new(LibraryController::new(None)),
            updates: crate::updates::Updates::default(),
            check: std::sync::Arc::default(),
            launch,
            ui_ready: AtomicBool::new(false),
            refused_calls: AtomicU64::new(0),
        }
    }

    /// The same state with its settings kept by `settings`.
    pub fn with_settings(mut self, settings: SettingsStore) -> Self {
        self.settings = settings;
        self
    }

    /// The same state with its offline library.
    pub fn with_library(mut self, library: LibraryController) -> Self {
        self.library = std::sync::Arc::new(library);
        self
    }

    /// The options the app was started with.
    pub fn launch_options(&self) -> &LaunchOptions {
        &self.launch
    }

    /// Records that the page has mounted; true only for the first call, so a page reload does
    /// not announce readiness twice.
    pub fn mark_ui_ready(&self) -> bool {
        !self.ui_ready.swap(true, Ordering::AcqRel)
    }

    /// Counts a webview call refused for bad input; returns the count so far.
    pub fn count_refused(&self) -> u64 {
        self.refused_calls.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Counts a call of `command` refused for bad input and logs why, with the count so far.
    pub fn refuse(&self, command: &str, why: impl std::fmt::Display) {
        let n = self.count_refused();
        eprintln!("{command} refused ({n} refused calls so far): {why}");
    }

    /// Webview calls refused for bad input since start.
    pub fn refused_calls(&self) -> u64 {
        self.refused_calls.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ui_ready_is_reported_once() {
        let state = AppState::new(LaunchOptions::default());
        assert!(state.mark_ui_ready());
        assert!(!state.mark_ui_ready());
        assert!(!state.mark_ui_ready());
    }

    #[test]
    fn refused_calls_are_counted() {
        let state = AppState::new(LaunchOptions::default());
        assert_eq!(state.refused_calls(), 0);
        assert_eq!(state.count_refused(), 1);
        assert_eq!(state.count_refused(), 2);
        assert_eq!(state.refused_calls(), 2);
    }
}
