//! State the app manages for its commands.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::launch::LaunchOptions;

/// What the commands share for the life of the app.
#[derive(Debug)]
pub struct AppState {
    launch: LaunchOptions,
    ui_ready: AtomicBool,
}

impl AppState {
    /// State for an app started with these command-line options.
    pub fn new(launch: LaunchOptions) -> Self {
        Self {
            launch,
            ui_ready: AtomicBool::new(false),
        }
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
}
