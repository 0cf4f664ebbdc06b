//! The classroom SFU.
//!
//! A selective forwarding unit built on [str0m]: each participant's media arrives once and is
//! forwarded to every subscriber in the room, without decoding. The state machine lives in
//! [`core`] and does no IO; [`driver`] runs it on tokio with the media UDP sockets (one, or
//! one per interface address for a class on the school network: [`ServerConfig::lan`]) and
//! one HTTP listener for signaling: the websocket at `/ws`, WHIP ingest at `/whip/{room}` and
//! WHEP egress at `/whep/{room}` with the same tokens as bearer tokens. Embed it with
//! [`start`], or run the `classroom-server` binary.

pub mod access;
pub mod core;
pub mod crypto;
pub mod driver;
mod heap;
mod http;
mod lessons;
pub mod local_files;
pub mod metrics;
pub mod random;
pub mod tls;
mod udp;
mod web;

pub use access::{AccessError, AccessKey, Claims, Grants};
pub use core::{LimitError, Limits};
pub use driver::{
    ClassInvite, DEFAULT_PORT, ServerConfig, ServerHandle, standard_simulcast_layers, start,
};
/// What a lesson file's request headers ask for (`Range`, `If-Range`, `If-None-Match`); public
/// for the fuzz target `lesson_ranges`.
pub use lessons::{Selection as RangeSelection, select as select_range};
pub use metrics::{Metrics, MetricsSnapshot};
pub use tls::{Tls, TlsError};
pub use udp::MediaPath;

/// The allocator a server binary should declare (the system's on MSVC, and with the
/// `system-allocator` feature, for heap profilers that see only libc's malloc).
#[cfg(any(target_env = "msvc", feature = "system-allocator"))]
pub use std::alloc::System as ServerAllocator;
/// The allocator a server binary should declare (`#[global_allocator] static A:
/// ServerAllocator = ServerAllocator;`): jemalloc, which hands memory freed after a burst (a
/// flood of connections, a class of a thousand leaving) back to the system within seconds;
/// glibc's main arena kept it (issue 15's flood: +83 % resident memory after the flood, for
/// good). The system allocator on MSVC, where jemalloc does not build.
#[cfg(not(any(target_env = "msvc", feature = "system-allocator")))]
pub use tikv_jemallocator::Jemalloc as ServerAllocator;

/// The wall clock in Unix seconds (0 before 1970): tokens minted and checked here, and the
/// DTLS certificate's validity.
pub(crate) fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Errors from starting or running the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SfuError {
    /// A socket could not be bound.
    #[error("cannot bind {what} on {addr}: {source}")]
    Bind {
        /// Which socket.
        what: &'static str,
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The access key could not be set up.
    #[error(transparent)]
    Access(#[from] access::AccessError),
    /// TLS could not be set up (certificate, key).
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// Any other IO failure.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The class rules refused a set-up (a class code another class has).
    #[error("class set-up refused: {0}")]
    Class(String),
    /// The server has stopped.
    #[error("the server has stopped")]
    Stopped,
    /// The lessons folder could not be opened.
    #[error("the lesson library: {0}")]
    Lessons(classroom_store::StoreError),
}
