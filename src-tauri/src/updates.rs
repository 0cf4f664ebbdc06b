//! Updates: Tauri's updater (the release manifest, the download, and the minisign signature
//! checked against the public key in `tauri.conf.json`) under the school's `updates` policy.
//!
//! A package is installed only when its signature was made with our key over exactly its bytes:
//! a tampered package, one signed with another key and an unsigned one are refused with kind
//! `untrusted` and never installed. With the policy `off` (what a machine-wide MSI sets unless
//! the school says otherwise) nothing is asked of the network at all.
//!
//! Debug builds take `CLASSROOM_UPDATE_ENDPOINT` and `CLASSROOM_UPDATE_PUBKEY` instead of the
//! configured ones, for the window test's loopback server and its own keys; release builds
//! ignore both.

use std::sync::Mutex;

use serde::Serialize;
use tauri::{AppHandle, Runtime};
use tauri_plugin_updater::{Error as UpdaterError, Update, Updater, UpdaterExt};
use ts_rs::TS;

use crate::AppError;

/// What `update_check` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UpdateCheck {
    /// This app's version.
    pub current: String,
    /// A newer version that can be installed, if any.
    pub available: Option<String>,
    /// The release's notes as published, if any.
    pub notes: Option<String>,
}

/// The update found by the last check, kept for `update_install`.
#[derive(Default)]
pub struct Updates {
    found: Mutex<Option<Update>>,
}

/// The school turned updates off.
const UPDATES_OFF: &str = "Your school has turned updates off: it installs new versions itself.";

/// Refuses when the school's `updates` policy is `off`.
pub fn allowed(policy: &str) -> Result<(), AppError> {
    if policy == "off" {
        Err(AppError::Locked(UPDATES_OFF.into()))
    } else {
        Ok(())
    }
}

/// An updater error in the app's words: a bad signature is `untrusted`; the rest is the
/// network's or this computer's.
pub fn app_error(error: UpdaterError) -> AppError {
    match error {
        UpdaterError::Minisign(_) | UpdaterError::Base64(_) | UpdaterError::SignatureUtf8(_) => {
            AppError::Untrusted(format!(
                "The update is not signed by Classroom's publisher, so it was not installed ({error})."
            ))
        }
        UpdaterError::Reqwest(_)
        | UpdaterError::Network(_)
        | UpdaterError::ReleaseNotFound
        | UpdaterError::Serialization(_)
        | UpdaterError::TargetNotFound(_)
        | UpdaterError::TargetsNotFound(_) => {
            AppError::Connection(format!("Cannot reach the update service: {error}."))
        }
        other => AppError::Internal(format!("The update could not be installed: {other}.")),
    }
}

fn updater<R: Runtime>(app: &AppHandle<R>) -> Result<Updater, AppError> {
    let mut builder = app.updater_builder();
    if cfg!(debug_assertions) {
        if let Ok(url) = std::env::var("CLASSROOM_UPDATE_ENDPOINT") {
            let url = url
                .parse()
                .map_err(|e| AppError::Internal(format!("CLASSROOM_UPDATE_ENDPOINT: {e}")))?;
            builder = builder.endpoints(vec![url]).map_err(app_error)?;
        }
        if let Ok(key) = std::env::var("CLASSROOM_UPDATE_PUBKEY") {
            builder = builder.pubkey(key);
        }
    }
    builder.build().map_err(app_error)
}

impl Updates {
    /// Asks the update service whether there is a newer version (unless the policy is off).
    pub async fn check<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        policy: &str,
    ) -> Result<UpdateCheck, AppError> {
        allowed(policy)?;
        let found = updater(app)?.check().await.map_err(app_error)?;
        let check = UpdateCheck {
            current: app.package_info().version.to_string(),
            available: found.as_ref().map(|u| u.version.clone()),
            notes: found.as_ref().and_then(|u| u.body.clone()),
        };
        *self.found.lock().unwrap_or_else(|p| p.into_inner()) = found;
        Ok(check)
    }

    /// Downloads the update the last check found, checks its signature, and installs it.
    pub async fn install(&self, policy: &str) -> Result<(), AppError> {
        allowed(policy)?;
        let update = self
            .found
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| AppError::Invalid("Check for updates first.".into()))?;
        // `download` verifies the signature over the bytes before it returns them, and
        // `install` verifies again before it writes anything.
        let bytes = update.download(|_, _| {}, || {}).await.map_err(app_error)?;
        update.install(bytes).map_err(app_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_off_asks_nothing_and_says_why() {
        assert!(allowed("auto").is_ok());
        assert!(allowed("notify").is_ok());
        let error = allowed("off").expect_err("off");
        assert_eq!(error.kind(), "locked");
        assert!(error.to_string().contains("turned updates off"));
    }

    #[test]
    fn a_bad_signature_is_untrusted_and_a_network_failure_is_not() {
        assert_eq!(
            app_error(UpdaterError::SignatureUtf8("x".into())).kind(),
            "untrusted"
        );
        assert_eq!(
            app_error(UpdaterError::Network("503".into())).kind(),
            "connection"
        );
        assert_eq!(
            app_error(UpdaterError::ReleaseNotFound).kind(),
            "connection"
        );
    }
}
