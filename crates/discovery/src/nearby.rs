//! Announcing a class, browsing for classes, and reaching one.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use classroom_protocol::PROTOCOL_VERSION;
use mdns_sd::{IfKind, IfPredicate, ResolvedService, ServiceDaemon, ServiceEvent, ServiceInfo};
use serde::Serialize;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::interfaces::{is_usable, lan_addresses, rank_addresses};
use crate::list::{Announced, NearbyList, Rejected};
use crate::txt::{ClassTxt, fit_text};
use crate::{DiscoveryError, MDNS_PORT, SERVICE_TYPE};

/// Which interfaces mDNS runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scope {
    /// The school network: every usable interface ([`crate::interfaces`]).
    Lan,
    /// This computer only (IPv4 loopback): a class on one computer, and tests that must not
    /// send anything onto a real network.
    Loopback,
}

fn daemon(scope: Scope, port: u16) -> Result<ServiceDaemon, DiscoveryError> {
    let daemon = ServiceDaemon::new_with_port(port)?;
    // The last selection that matches an interface wins.
    daemon.disable_interface(IfKind::All)?;
    match scope {
        Scope::Lan => daemon.enable_interface(IfKind::Predicate(IfPredicate::new(is_usable)))?,
        Scope::Loopback => daemon.enable_interface(IfKind::LoopbackV4)?,
    }
    Ok(daemon)
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // Only tells two announcements apart; a fixed value if the OS has no randomness is fine.
    let _ = getrandom::fill(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// What to announce.
#[derive(Debug, Clone)]
pub struct AnnounceOptions {
    /// The class title (cut to [`crate::txt::MAX_TEXT_BYTES`]).
    pub title: String,
    /// The teacher's display name (cut likewise).
    pub teacher: String,
    /// The signaling port.
    pub port: u16,
    /// Whether signaling is `wss://`.
    pub tls: bool,
    /// The server certificate's SHA-256 fingerprint, unpadded base64url, to pin.
    pub fingerprint: Option<String>,
    /// Where to announce.
    pub scope: Scope,
    /// The mDNS port: [`MDNS_PORT`] except in tests.
    pub mdns_port: u16,
}

impl AnnounceOptions {
    /// A class on the school network, plain `ws://`, on the standard mDNS port.
    pub fn new(title: &str, teacher: &str, port: u16) -> Self {
        AnnounceOptions {
            title: title.to_owned(),
            teacher: teacher.to_owned(),
            port,
            tls: false,
            fingerprint: None,
            scope: Scope::Lan,
            mdns_port: MDNS_PORT,
        }
    }
}

/// A class being announced; dropping it says goodbye on the network and stops announcing.
pub struct Announcement {
    daemon: ServiceDaemon,
    fullname: String,
}

impl std::fmt::Debug for Announcement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Announcement")
            .field("fullname", &self.fullname)
            .finish()
    }
}

impl Announcement {
    /// The DNS-SD instance name (`Title (1a2b)._classroom._tcp.local.`).
    pub fn instance(&self) -> &str {
        &self.fullname
    }
}

impl Drop for Announcement {
    fn drop(&mut self) {
        // The daemon handles commands in order, so the goodbye goes out before it stops.
        if let Err(e) = self.daemon.unregister(&self.fullname) {
            debug!("mDNS unregister: {e}");
        }
        if let Err(e) = self.daemon.shutdown() {
            debug!("mDNS shutdown: {e}");
        }
    }
}

/// Announces a class. The addresses announced follow the interfaces: `mdns-sd` re-reads them
/// (every 30 s by default) and answers on each interface with that interface's addresses, so a
/// laptop that joins Wi-Fi mid-class is found there too.
pub fn announce(opts: &AnnounceOptions) -> Result<Announcement, DiscoveryError> {
    let txt = ClassTxt {
        protocol_version: PROTOCOL_VERSION,
        title: opts.title.clone(),
        teacher: opts.teacher.clone(),
        tls: opts.tls,
        fingerprint: opts.fingerprint.clone(),
    };
    let props = txt.to_properties()?;
    let daemon = daemon(opts.scope, opts.mdns_port)?;
    // Instance labels are at most 63 bytes; the suffix keeps two classes with one title apart
    // without waiting for mDNS's conflict renaming.
    let title = fit_text(&opts.title, 48);
    let instance = format!(
        "{} ({})",
        if title.is_empty() { "Class" } else { &title },
        random_hex(2)
    );
    let host = format!("classroom-{}.local.", random_hex(4));
    let mut info = ServiceInfo::new(
        SERVICE_TYPE,
        &instance,
        &host,
        &[] as &[IpAddr],
        opts.port,
        &props[..],
    )?
    .enable_addr_auto();
    match opts.scope {
        // IPv4 addresses only: the signaling port listens on IPv4 (media candidates may
        // still include IPv6).
        Scope::Lan => info.set_interfaces(vec![IfKind::Predicate(IfPredicate::new(|i| {
            is_usable(i) && i.ip().is_ipv4()
        }))]),
        Scope::Loopback => info.set_interfaces(vec![IfKind::LoopbackV4]),
    }
    let fullname = info.get_fullname().to_owned();
    daemon.register(info)?;
    info!(%fullname, port = opts.port, "announcing the class on the local network");
    Ok(Announcement { daemon, fullname })
}

/// A class found on the local network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct NearbyClass {
    /// Stable id while it is announced (the DNS-SD instance name).
    pub id: String,
    /// The class title.
    pub title: String,
    /// The teacher's display name.
    pub teacher: String,
    /// Addresses it was announced at, IPv4 first.
    pub addresses: Vec<IpAddr>,
    /// The signaling port.
    pub port: u16,
    /// Whether signaling is `wss://`.
    pub tls: bool,
    /// The server certificate's SHA-256 fingerprint (unpadded base64url), to pin.
    pub fingerprint: Option<String>,
    /// The signaling protocol version the server speaks.
    pub protocol_version: u32,
}

impl NearbyClass {
    /// The signaling URL at `ip`.
    pub fn url(&self, ip: IpAddr) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}/ws", SocketAddr::new(ip, self.port))
    }

    /// Whether this app speaks the server's protocol version.
    pub fn compatible(&self) -> bool {
        self.protocol_version == PROTOCOL_VERSION
    }
}

/// Puts what mDNS resolved into `list` ([`NearbyList::resolved`]).
fn list_resolved(list: &mut NearbyList, svc: &ResolvedService) -> Result<bool, (Rejected, bool)> {
    let addresses: Vec<IpAddr> = svc.get_addresses().iter().map(|a| a.to_ip_addr()).collect();
    list.resolved(&Announced {
        fullname: svc.get_fullname(),
        port: svc.get_port(),
        addresses: &addresses,
        txt: svc.get_properties(),
    })
}

/// Most announcement names whose refusal is logged as a warning; the rest go to debug.
const MAX_WARNED: usize = 64;

/// Where to browse.
#[derive(Debug, Clone, Copy)]
pub struct BrowseOptions {
    /// Which interfaces.
    pub scope: Scope,
    /// The mDNS port: [`MDNS_PORT`] except in tests.
    pub mdns_port: u16,
}

impl Default for BrowseOptions {
    fn default() -> Self {
        BrowseOptions {
            scope: Scope::Lan,
            mdns_port: MDNS_PORT,
        }
    }
}

/// What browsing has seen, for diagnostics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BrowseStats {
    /// Announcements read and listed (updates included).
    pub resolved: u64,
    /// Classes that went away.
    pub removed: u64,
    /// Announcements refused (malformed TXT, no port, no usable address).
    pub rejected: u64,
    /// Why the latest refused announcement was refused.
    pub last_rejection: Option<String>,
}

#[derive(Default)]
struct Counters {
    resolved: AtomicU64,
    removed: AtomicU64,
    rejected: AtomicU64,
    last_rejection: Mutex<Option<String>>,
}

/// A live list of the classes announced nearby. Dropping it stops browsing.
pub struct Browser {
    daemon: ServiceDaemon,
    list: watch::Receiver<Vec<NearbyClass>>,
    counters: Arc<Counters>,
}

impl Browser {
    /// The classes announced now, by title.
    pub fn classes(&self) -> Vec<NearbyClass> {
        self.list.borrow().clone()
    }

    /// A receiver that sees every change of the list (a class appears, changes or goes).
    pub fn subscribe(&self) -> watch::Receiver<Vec<NearbyClass>> {
        self.list.clone()
    }

    /// The class with this id, if it is still announced.
    pub fn find(&self, id: &str) -> Option<NearbyClass> {
        self.list.borrow().iter().find(|c| c.id == id).cloned()
    }

    /// Counters since browsing started.
    pub fn stats(&self) -> BrowseStats {
        BrowseStats {
            resolved: self.counters.resolved.load(Ordering::Relaxed),
            removed: self.counters.removed.load(Ordering::Relaxed),
            rejected: self.counters.rejected.load(Ordering::Relaxed),
            last_rejection: self
                .counters
                .last_rejection
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The daemon's channels close, which ends the list thread.
        let _ = self.daemon.shutdown();
    }
}

/// Starts browsing for classes; the list fills as announcements arrive (usually within a
/// second) and follows them as they change or go.
pub fn browse(opts: BrowseOptions) -> Result<Browser, DiscoveryError> {
    let daemon = daemon(opts.scope, opts.mdns_port)?;
    let events = daemon.browse(SERVICE_TYPE)?;
    let (tx, list) = watch::channel(Vec::new());
    let counters = Arc::new(Counters::default());
    let count = counters.clone();
    std::thread::Builder::new()
        .name("classroom-browse".into())
        .spawn(move || {
            let mut list = NearbyList::new();
            // Names whose refusal was logged as a warning: a flood of bad announcements
            // (or one device re-announcing every few seconds) logs each name once, and
            // the rest at debug level; every refusal is counted.
            let mut warned: BTreeSet<String> = BTreeSet::new();
            while let Ok(event) = events.recv() {
                let changed = match event {
                    ServiceEvent::ServiceResolved(svc) => match list_resolved(&mut list, &svc) {
                        Ok(changed) => {
                            count.resolved.fetch_add(1, Ordering::Relaxed);
                            changed
                        }
                        Err((why, was_listed)) => {
                            count.rejected.fetch_add(1, Ordering::Relaxed);
                            let name = svc.get_fullname();
                            if warned.len() < MAX_WARNED && warned.insert(name.to_owned()) {
                                warn!(instance = %name, "ignoring a class announcement: {why}");
                            } else {
                                debug!(instance = %name, "ignoring a class announcement: {why}");
                            }
                            *count
                                .last_rejection
                                .lock()
                                .unwrap_or_else(|p| p.into_inner()) = Some(why.to_string());
                            // An update that broke a listed class took it off the list.
                            was_listed
                        }
                    },
                    ServiceEvent::ServiceRemoved(_, fullname) => {
                        let gone = list.removed(&fullname);
                        if gone {
                            count.removed.fetch_add(1, Ordering::Relaxed);
                        }
                        gone
                    }
                    _ => false,
                };
                if changed && tx.send(list.classes()).is_err() {
                    // Nobody holds the list any more.
                    break;
                }
            }
        })?;
    Ok(Browser {
        daemon,
        list,
        counters,
    })
}

/// Finds an address of `class` that accepts a connection on its signaling port, trying
/// those on our own networks first, each for up to `per_address`. None does: the class is
/// there (it was announced) but something between blocks the port, usually a firewall:
/// [`DiscoveryError::Unreachable`].
pub async fn reach(
    class: &NearbyClass,
    per_address: Duration,
) -> Result<SocketAddr, DiscoveryError> {
    let own = lan_addresses().unwrap_or_default();
    let order = rank_addresses(&class.addresses, &own);
    for ip in &order {
        let addr = SocketAddr::new(*ip, class.port);
        match tokio::time::timeout(per_address, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(_)) => return Ok(addr),
            Ok(Err(e)) => debug!(%addr, "class not reachable: {e}"),
            Err(_) => debug!(%addr, "class not reachable: no answer"),
        }
    }
    Err(DiscoveryError::Unreachable {
        port: class.port,
        tried: order,
    })
}
