//! Classes nearby, for a student's home screen: a live list from mDNS, and reaching one of
//! them before joining. Plain Rust around [`classroom_client::discovery`], tested without a
//! window; the commands `nearby_classes` / `reach_nearby_class` and the event
//! `nearby-classes-changed` are thin adapters over it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use classroom_client::discovery::{self, BrowseOptions, Browser, DiscoveryError, NearbyClass};
use serde::Serialize;
use ts_rs::TS;

use crate::class::CodeTarget;
use crate::error::AppError;
use classroom_client::host::{class_for_code, code_join};

/// How long one address may take to accept a connection before the next is tried.
const REACH_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a join by class code looks for its class nearby: announcements arrive within a
/// second or two of browsing starting (the first look may be this join's).
pub const CODE_SEARCH: Duration = Duration::from_secs(6);

/// The list the home screen shows: the `nearby_classes` command's result and the
/// `nearby-classes-changed` event's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NearbyClasses {
    /// Classes announced on the local network now, by title.
    pub classes: Vec<NearbyClass>,
    /// Whether this computer has a usable network at all; `false` means "connect to the
    /// school network" rather than "no classes found nearby".
    pub network: bool,
    /// Announcements seen that could not be read (a newer or broken app nearby).
    #[ts(type = "number")]
    pub unreadable: u64,
}

/// Where a join to a nearby class goes: the `reach_nearby_class` command's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ReachedClass {
    /// The signaling URL that answered.
    pub url: String,
    /// The server certificate's fingerprint to pin, from the announcement.
    pub fingerprint: Option<String>,
}

/// Called with the list whenever it changes.
pub type NearbyNotifier = Arc<dyn Fn(&NearbyClasses) + Send + Sync>;

/// Browsing for classes, started on first use and kept for the app's life.
pub struct NearbyController {
    options: BrowseOptions,
    browser: Mutex<Option<Arc<Browser>>>,
    notify: Mutex<Option<NearbyNotifier>>,
}

impl Default for NearbyController {
    fn default() -> Self {
        NearbyController::new(BrowseOptions::default())
    }
}

fn has_network() -> bool {
    discovery::lan_addresses().is_ok_and(|l| !l.is_empty())
}

impl NearbyController {
    /// Browsing with `options` (the school network in the app; loopback in tests).
    pub fn new(options: BrowseOptions) -> Self {
        NearbyController {
            options,
            browser: Mutex::new(None),
            notify: Mutex::new(None),
        }
    }

    /// Calls `notify` with the list whenever it changes, once browsing has started.
    pub fn on_change(&self, notify: NearbyNotifier) {
        *self.notify.lock().unwrap_or_else(|p| p.into_inner()) = Some(notify);
    }

    fn browser(&self) -> Result<Arc<Browser>, AppError> {
        let mut slot = self.browser.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = slot.as_ref() {
            return Ok(b.clone());
        }
        let browser = Arc::new(discovery::browse(self.options).map_err(|e| {
            AppError::NoNetwork(format!("Cannot look for classes on the network: {e}"))
        })?);
        let notify = self
            .notify
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(notify) = notify {
            let mut changes = browser.subscribe();
            let weak = Arc::downgrade(&browser);
            // Tauri's runtime: this may be called from a synchronous command (main thread).
            tauri::async_runtime::spawn(async move {
                while changes.changed().await.is_ok() {
                    let Some(browser) = weak.upgrade() else {
                        return;
                    };
                    notify(&snapshot(&browser));
                }
            });
        }
        *slot = Some(browser.clone());
        Ok(browser)
    }

    /// The classes announced nearby now (starts browsing on the first call; the list fills
    /// within a second or two and then follows the network).
    pub fn classes(&self) -> Result<NearbyClasses, AppError> {
        let browser = self.browser()?;
        Ok(snapshot(&browser))
    }

    /// Finds an address of the nearby class `id` that accepts connections. Errors:
    /// `classGone` (no longer announced), `classUnreachable` (announced, but nothing
    /// answers on its port: a firewall, usually).
    pub async fn reach(&self, id: &str) -> Result<ReachedClass, AppError> {
        if id.len() > 300 {
            return Err(AppError::ClassGone(
                "That class is not on the network.".into(),
            ));
        }
        let class = self
            .browser()?
            .find(id)
            .ok_or_else(|| AppError::ClassGone("That class is no longer on the network.".into()))?;
        match discovery::reach(&class, REACH_TIMEOUT).await {
            Ok(addr) => Ok(ReachedClass {
                url: class.url(addr.ip()),
                fingerprint: class.fingerprint.clone(),
            }),
            Err(e @ DiscoveryError::Unreachable { .. }) => {
                Err(AppError::ClassUnreachable(format!("{e}.")))
            }
            Err(e) => Err(AppError::Connection(e.to_string())),
        }
    }
}

impl NearbyController {
    /// Finds the class nearby that `code` (canonical, see [`crate::join`]) was made for,
    /// waiting up to `wait` for it to be announced, and reaches it: how `name` joins it by
    /// code, pinned to the certificate the code checks. Errors: `noClassForCode` (none
    /// matches: not started, another network, a mistyped code), `noNetwork`,
    /// `classUnreachable` (found, but its port does not answer).
    pub async fn reach_code(
        &self,
        code: &str,
        name: &str,
        wait: Duration,
    ) -> Result<CodeTarget, AppError> {
        let browser = self.browser()?;
        let mut changes = browser.subscribe();
        let deadline = tokio::time::Instant::now() + wait;
        let class = loop {
            if let Some(class) = class_for_code(&browser.classes(), code) {
                break class.clone();
            }
            let changed = tokio::time::timeout_at(deadline, changes.changed()).await;
            if !matches!(changed, Ok(Ok(()))) {
                let seen = browser.classes().len();
                if seen == 0 && !has_network() {
                    return Err(AppError::NoNetwork(
                        "No network to look for the class on.".into(),
                    ));
                }
                return Err(AppError::NoClassForCode(format!(
                    "No class nearby was made for the code {code} ({seen} other classes found)."
                )));
            }
        };
        let addr = match discovery::reach(&class, REACH_TIMEOUT).await {
            Ok(addr) => addr,
            Err(e @ DiscoveryError::Unreachable { .. }) => {
                return Err(AppError::ClassUnreachable(format!("{e}.")));
            }
            Err(e) => return Err(AppError::Connection(e.to_string())),
        };
        let options = code_join(&class, addr.ip(), code, name).ok_or_else(|| {
            AppError::NoClassForCode("The class announces no certificate to check.".into())
        })?;
        Ok(CodeTarget {
            options,
            title: class.title.clone(),
        })
    }
}

fn snapshot(browser: &Browser) -> NearbyClasses {
    NearbyClasses {
        classes: browser.classes(),
        network: has_network(),
        unreadable: browser.stats().rejected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use classroom_client::discovery::{AnnounceOptions, Scope, announce};
    use std::time::Instant;

    fn loopback_port() -> u16 {
        std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .map(|a| a.port())
            .expect("port")
    }

    #[tokio::test]
    async fn a_class_code_finds_the_class_it_was_made_for_and_no_other() {
        let mdns_port = loopback_port();
        let nearby = NearbyController::new(BrowseOptions {
            scope: Scope::Loopback,
            mdns_port,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listener");
        let port = listener.local_addr().expect("addr").port();
        let fingerprint = [7u8; 32];
        let code = classroom::code::format(&format!(
            "{}ABCD",
            classroom::code::fingerprint_prefix(&fingerprint)
        ));
        let other_code = classroom::code::format(&format!(
            "{}ABCD",
            classroom::code::fingerprint_prefix(&[8u8; 32])
        ));
        // Nothing announced yet: the search gives up with the code's own kind.
        assert!(matches!(
            nearby
                .reach_code(&code, "Ada", Duration::from_millis(300))
                .await,
            Err(AppError::NoClassForCode(_))
        ));
        let _announcement = announce(&AnnounceOptions {
            scope: Scope::Loopback,
            mdns_port,
            tls: true,
            fingerprint: Some(classroom_protocol::fingerprint::to_base64url(&fingerprint)),
            ..AnnounceOptions::new("Physics", "Ms. Rivera", port)
        })
        .expect("announce");
        let target = nearby
            .reach_code(&code, "Ada", Duration::from_secs(10))
            .await
            .expect("the class the code was made for");
        assert_eq!(target.title, "Physics");
        assert_eq!(target.options.url, format!("wss://127.0.0.1:{port}/ws"));
        assert_eq!(target.options.pin, Some(fingerprint));
        assert_eq!(target.options.code.as_deref(), Some(code.as_str()));
        assert_eq!(target.options.display_name, "Ada");
        // A code made for another certificate never goes to this class.
        assert!(matches!(
            nearby
                .reach_code(&other_code, "Ada", Duration::from_millis(300))
                .await,
            Err(AppError::NoClassForCode(_))
        ));
    }

    #[tokio::test]
    async fn a_class_nearby_is_listed_reached_and_reported_when_blocked_or_gone() {
        let mdns_port = loopback_port();
        let nearby = NearbyController::new(BrowseOptions {
            scope: Scope::Loopback,
            mdns_port,
        });
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        nearby.on_change(Arc::new(move |list: &NearbyClasses| {
            let _ = tx.send(list.clone());
        }));
        assert!(nearby.classes().expect("browse").classes.is_empty());

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listener");
        let port = listener.local_addr().expect("addr").port();
        let announcement = announce(&AnnounceOptions {
            scope: Scope::Loopback,
            mdns_port,
            ..AnnounceOptions::new("Physics", "Ms. Rivera", port)
        })
        .expect("announce");
        let event = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("an event within 10 s")
            .expect("event");
        assert_eq!(event.classes.len(), 1, "{event:?}");
        let id = event.classes[0].id.clone();
        assert_eq!(nearby.classes().expect("list"), event);

        let reached = nearby.reach(&id).await.expect("reach");
        assert_eq!(reached.url, format!("ws://127.0.0.1:{port}/ws"));
        drop(listener);
        match nearby.reach(&id).await {
            Err(AppError::ClassUnreachable(m)) => {
                assert!(m.contains(&format!("port {port}")), "{m}")
            }
            other => panic!("expected classUnreachable, got {other:?}"),
        }

        drop(announcement);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !nearby.classes().expect("list").classes.is_empty() {
            assert!(Instant::now() < deadline, "the class did not go");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(matches!(
            nearby.reach(&id).await,
            Err(AppError::ClassGone(_))
        ));
        assert!(matches!(
            nearby.reach(&"x".repeat(10_000)).await,
            Err(AppError::ClassGone(_))
        ));
    }
}
