//! Classes on the local network.
//!
//! A teacher's app announces its class with DNS-SD over mDNS ([`announce`]: service type
//! [`SERVICE_TYPE`], the signaling port, and a TXT record read by [`ClassTxt`]); students'
//! apps [`browse`] and keep a live list of [`NearbyClass`]es, then [`reach`] one to find an
//! address that answers. [`interfaces`] decides which of this computer's addresses count as
//! "the school network", for the announcement here and for the server's ICE candidates.
//!
//! mDNS runs on `mdns-sd`'s own thread; nothing here needs a particular async runtime except
//! [`reach`], which uses tokio's TCP connect.

pub mod interfaces;
pub mod list;
mod nearby;
pub mod txt;

pub use interfaces::{LanAddress, lan_addresses};
pub use list::{Announced, NearbyList, Rejected};
pub use nearby::{
    AnnounceOptions, Announcement, BrowseOptions, BrowseStats, Browser, NearbyClass, Scope,
    announce, browse, reach,
};
pub use txt::{ClassTxt, TxtError};

/// The DNS-SD service type classes are announced under.
pub const SERVICE_TYPE: &str = "_classroom._tcp.local.";

/// The standard mDNS port.
pub const MDNS_PORT: u16 = 5353;

/// Errors from announcing, browsing and reaching classes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The mDNS daemon could not start or refused a request.
    #[error("local network discovery: {0}")]
    Mdns(#[from] mdns_sd::Error),
    /// The announcement's TXT record could not be made.
    #[error(transparent)]
    Txt(#[from] TxtError),
    /// The class was announced but none of its addresses accepted a connection on its port.
    #[error(
        "found the class but could not connect to it on port {port} (tried {}); a firewall may block that port",
        tried.iter().map(|ip| ip.to_string()).collect::<Vec<_>>().join(", ")
    )]
    Unreachable {
        /// The signaling port.
        port: u16,
        /// The addresses tried.
        tried: Vec<std::net::IpAddr>,
    },
    /// The class is no longer announced (the teacher ended it, or it went off the network).
    #[error("that class is no longer on the network")]
    Gone,
    /// The network interfaces could not be listed.
    #[error("cannot list network interfaces: {0}")]
    Interfaces(std::io::Error),
    /// The browsing thread could not start.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
