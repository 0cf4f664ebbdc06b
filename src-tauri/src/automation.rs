//! Whether a WebDriver may drive the app's webview (the window tests do, through tauri-driver
//! and WebKitWebDriver).
//!
//! How it works on Linux: tauri-driver starts WebKitWebDriver with
//! `TAURI_WEBVIEW_AUTOMATION=true`; WebKitWebDriver starts the app with
//! `WEBKIT_INSPECTOR_SERVER=127.0.0.1:<port>` (where it then asks for an automation session);
//! tauri-runtime-wry sees `TAURI_WEBVIEW_AUTOMATION=true` and makes the first web context allow
//! automation (`webkit_web_context_set_automation_allowed`). That variable alone is enough for
//! Tauri, so anything that sets it would open the webview to automation.
//!
//! The app therefore decides for itself ([`allowed`]): only a debug build (or one built with the
//! `webdriver` feature), only with both variables set as WebKitWebDriver sets them. Otherwise,
//! when Tauri allowed it anyway, the app turns it off again on the window's web context as soon
//! as the window exists, before the page has run.

/// What the process environment says, read once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AutomationEnv {
    /// `TAURI_WEBVIEW_AUTOMATION`: Tauri's own switch.
    pub tauri_automation: Option<String>,
    /// `WEBKIT_INSPECTOR_SERVER`: where WebKitWebDriver listens for the automation session.
    pub inspector_server: Option<String>,
}

impl AutomationEnv {
    /// Reads the two variables from this process's environment.
    pub fn from_process() -> Self {
        Self {
            tauri_automation: std::env::var("TAURI_WEBVIEW_AUTOMATION").ok(),
            inspector_server: std::env::var("WEBKIT_INSPECTOR_SERVER").ok(),
        }
    }

    /// True when Tauri will have allowed automation on the first web context.
    pub fn tauri_allows(&self) -> bool {
        self.tauri_automation.as_deref() == Some("true")
    }
}

/// Whether this build may be driven at all: debug builds (tests, `cargo xtask demo`) and
/// builds with the `webdriver` feature. A release build for schools never is.
pub const BUILD_ALLOWS_AUTOMATION: bool = cfg!(any(debug_assertions, feature = "webdriver"));

/// True when the webview may be driven: the build allows it, and the app was started the way
/// WebKitWebDriver starts it (Tauri's switch on, and an inspector server on loopback).
pub fn allowed(env: &AutomationEnv, build_allows: bool) -> bool {
    let on_loopback = env.inspector_server.as_deref().is_some_and(|address| {
        address
            .rsplit_once(':')
            .is_some_and(|(host, port)| host == "127.0.0.1" && port.parse::<u16>().is_ok())
    });
    build_allows && env.tauri_allows() && on_loopback
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(tauri: Option<&str>, inspector: Option<&str>) -> AutomationEnv {
        AutomationEnv {
            tauri_automation: tauri.map(str::to_owned),
            inspector_server: inspector.map(str::to_owned),
        }
    }

    #[test]
    fn only_a_launch_by_webkitwebdriver_in_a_build_that_allows_it() {
        let driver = env(Some("true"), Some("127.0.0.1:43111"));
        assert!(allowed(&driver, true));
        assert!(!allowed(&driver, false), "a release build never");
        for not_the_driver in [
            env(None, None),
            env(Some("true"), None),
            env(None, Some("127.0.0.1:43111")),
            env(Some("1"), Some("127.0.0.1:43111")),
            env(Some("true"), Some("0.0.0.0:43111")),
            env(Some("true"), Some("192.168.1.5:43111")),
            env(Some("true"), Some("127.0.0.1:port")),
        ] {
            assert!(!allowed(&not_the_driver, true), "{not_the_driver:?}");
        }
        assert!(env(Some("true"), None).tauri_allows());
        assert!(!env(Some("1"), None).tauri_allows());
    }
}
