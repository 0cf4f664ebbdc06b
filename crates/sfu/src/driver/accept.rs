//! The signaling port's accept loop: connection slots per source address and in all, the
//! TLS handshake under a deadline, and a pause after a failed accept (out of file
//! descriptors must not become a busy loop that floods the log).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tracing::{debug, warn};

use crate::core::Limits;
use crate::metrics::{Limit, Metrics, Timeout};
use crate::web::Front;

/// Open connections, per source address and in all.
#[derive(Debug)]
pub(crate) struct Slots {
    open: Mutex<(HashMap<IpAddr, usize>, usize)>,
    per_source: usize,
    total: usize,
    metrics: Arc<Metrics>,
}

/// One open connection's place; given back when dropped (the connection and, after an
/// upgrade, its websocket are done).
#[derive(Debug)]
pub(crate) struct Slot {
    slots: Arc<Slots>,
    ip: IpAddr,
}

impl Slots {
    pub fn new(limits: &Limits, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Slots {
            open: Mutex::new((HashMap::new(), 0)),
            per_source: limits.max_connections_per_source,
            total: limits.max_connections,
            metrics,
        })
    }

    /// A slot for a connection from `ip`, or the limit that refuses it.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Limit> {
        let mut guard = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let (per_source, total) = &mut *guard;
        if *total >= self.total {
            return Err(Limit::Connections);
        }
        let n = per_source.entry(ip).or_default();
        if *n >= self.per_source {
            return Err(Limit::ConnectionsPerSource);
        }
        *n += 1;
        *total += 1;
        self.metrics.set_connections_open(*total);
        Ok(Slot {
            slots: self.clone(),
            ip,
        })
    }

    /// Connections open now.
    #[cfg(test)]
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).1
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut guard = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        let (per_source, total) = &mut *guard;
        *total = total.saturating_sub(1);
        self.slots.metrics.set_connections_open(*total);
        if let Some(n) = per_source.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                per_source.remove(&self.ip);
            }
        }
    }
}

/// Pause after the first failed accept; doubled on each further failure up to
/// [`MAX_ACCEPT_PAUSE`], back to none after a success.
const FIRST_ACCEPT_PAUSE: Duration = Duration::from_millis(5);
const MAX_ACCEPT_PAUSE: Duration = Duration::from_secs(1);

/// Failed accepts are logged at most this often (with how many were not).
const ACCEPT_LOG_EVERY: Duration = Duration::from_secs(10);

/// What a refused connection is told before it is closed (plain HTTP only).
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 40\r\n\r\ntoo many connections from this address\r\n";

pub(crate) async fn accept_loop(
    listener: TcpListener,
    front: Front,
    slots: Arc<Slots>,
    tls: Option<TlsAcceptor>,
    mut shutdown: crate::driver::Stop,
) {
    let metrics = front.metrics.clone();
    let mut pause = Duration::ZERO;
    let mut last_log: Option<tokio::time::Instant> = None;
    let mut unlogged = 0u64;
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => return,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                pause = Duration::ZERO;
                match slots.take(peer.ip()) {
                    Ok(slot) => {
                        // Until the connection ends or the server stops: a file still
                        // streaming to a student is cut when the server shuts down (an
                        // upgraded websocket lives in a task of its own, told `bye`).
                        let connection = serve(front.clone(), stream, peer, slot, tls.clone());
                        let mut stop = shutdown.clone();
                        tokio::spawn(async move {
                            tokio::select! {
                                () = connection => {}
                                _ = stop.changed() => {}
                            }
                        });
                    }
                    Err(limit) => {
                        metrics.refused(limit);
                        debug!(%peer, limit = limit.name(), "connection refused");
                        if tls.is_none() {
                            let _ = stream.try_write(BUSY);
                        }
                    }
                }
            }
            Err(e) => {
                metrics.accept_error();
                let now = tokio::time::Instant::now();
                if last_log.is_none_or(|t| now.duration_since(t) >= ACCEPT_LOG_EVERY) {
                    warn!(
                        "accept failed: {e} ({unlogged} more since the last report); pausing accepts"
                    );
                    last_log = Some(now);
                    unlogged = 0;
                } else {
                    unlogged += 1;
                }
                pause = (pause * 2).clamp(FIRST_ACCEPT_PAUSE, MAX_ACCEPT_PAUSE);
                tokio::select! {
                    _ = shutdown.changed() => return,
                    _ = tokio::time::sleep(pause) => {}
                }
            }
        }
    }
}

/// One accepted connection: the TLS handshake (under the header deadline) when TLS is on,
/// then HTTP.
async fn serve(
    front: Front,
    stream: TcpStream,
    peer: SocketAddr,
    slot: Slot,
    tls: Option<TlsAcceptor>,
) {
    let _ = stream.set_nodelay(true);
    let slot = Arc::new(slot);
    match tls {
        None => crate::web::serve_connection(front, stream, peer, slot).await,
        Some(acceptor) => {
            let deadline = front.limits.header_timeout;
            match tokio::time::timeout(deadline, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => crate::web::serve_connection(front, tls, peer, slot).await,
                Ok(Err(e)) => {
                    front.metrics.signaling_error();
                    debug!(%peer, "TLS handshake failed: {e}");
                }
                Err(_) => {
                    front.metrics.timed_out(Timeout::Header);
                    debug!(%peer, "no TLS handshake within {deadline:?}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_per_source_and_in_all_and_given_back() {
        let limits = Limits {
            max_connections_per_source: 2,
            max_connections: 3,
            ..Limits::default()
        };
        let slots = Slots::new(&limits, Arc::new(Metrics::default()));
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        let b: IpAddr = "10.0.0.2".parse().expect("ip");
        let a1 = slots.take(a).expect("first");
        let _a2 = slots.take(a).expect("second");
        assert_eq!(slots.take(a).err(), Some(Limit::ConnectionsPerSource));
        let _b1 = slots.take(b).expect("other source");
        assert_eq!(slots.take(b).err(), Some(Limit::Connections));
        drop(a1);
        assert_eq!(slots.open(), 2);
        assert!(slots.take(b).is_ok());
    }
}
