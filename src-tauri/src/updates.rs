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

/// What the app did about a newer version by itself: the `update-ready` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UpdateReady {
    /// The newer version.
    pub version: String,
    /// Found and offered (`notify`), installed (`auto`), or not installable.
    pub state: UpdateState,
    /// Why it could not be installed, in English (the page says the rest in its language).
    pub detail: Option<String>,
}

/// See [`UpdateReady::state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum UpdateState {
    /// Found: the person may install it.
    Available,
    /// Installed: it starts with the next start of the app.
    Installed,
    /// Found, but the install failed (the running version is untouched).
    Failed,
}

/// What the app does by itself, once after it starts, under the school's `updates` policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStart {
    /// `off`: nothing is asked of the network.
    Nothing,
    /// `notify`: ask, and offer what was found.
    Offer,
    /// `auto` (the default): ask, and install what was found once no class is running.
    Install,
}

/// The start-up behaviour for `policy`. A development build asks nobody unless pointed at an
/// update service (`CLASSROOM_UPDATE_ENDPOINT`): it must never replace itself with a release.
/// Where installing needs the administrator (`needs_root`: a .deb or .rpm, installed through
/// pkexec's password prompt) `auto` only offers: a password prompt nobody asked for is not
/// something to spring on a student.
pub fn on_start(policy: &str, debug_endpoint_set: bool, needs_root: bool) -> OnStart {
    if cfg!(debug_assertions) && !debug_endpoint_set {
        return OnStart::Nothing;
    }
    match policy {
        "off" => OnStart::Nothing,
        "notify" => OnStart::Offer,
        _ if needs_root => OnStart::Offer,
        _ => OnStart::Install,
    }
}

/// Whether this copy was installed from a package whose update needs the administrator.
pub fn install_needs_root() -> bool {
    use tauri::utils::config::BundleType;
    use tauri::utils::platform::bundle_type;
    matches!(bundle_type(), Some(BundleType::Deb | BundleType::Rpm))
}

/// How long after start the app asks: not while it is starting.
pub const START_DELAY: std::time::Duration = std::time::Duration::from_secs(4);

/// How often an `auto` install waits for the class to end before trying again.
pub const CLASS_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

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
    fn the_policy_decides_what_happens_at_start() {
        assert_eq!(on_start("off", true, false), OnStart::Nothing);
        assert_eq!(on_start("notify", true, false), OnStart::Offer);
        assert_eq!(on_start("auto", true, false), OnStart::Install);
        // A .deb installs through a password prompt: offered, never sprung on anyone.
        assert_eq!(on_start("auto", true, true), OnStart::Offer);
        assert_eq!(on_start("off", true, true), OnStart::Nothing);
        // Tests run debug builds: without an update service of their own, nothing is asked.
        if cfg!(debug_assertions) {
            assert_eq!(on_start("auto", false, false), OnStart::Nothing);
        }
    }

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
