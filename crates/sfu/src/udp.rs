//! The media sockets: one UDP socket, or one per usable interface address.
//!
//! A server bound to one address (loopback, or a wildcard with an address to advertise behind
//! NAT) has one socket, as before. A server asked for a wildcard address with nothing to
//! advertise (`ServerConfig::lan`) binds each usable interface address
//! (`classroom_discovery::interfaces`) and loopback, all on one port where it can, so every
//! datagram is received with its exact local address (str0m matches it to a local candidate)
//! and every reply leaves from the address the peer knows (no IP_PKTINFO needed, which tokio
//! does not expose). Interfaces are re-read every [`RESCAN`], so a laptop that joins Wi-Fi
//! mid-class is reachable there.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::ReadBuf;
use tokio::net::UdpSocket;
use tracing::{debug, info, warn};

use crate::SfuError;
use crate::core::Fanout;

/// How often a per-interface server re-reads the interfaces.
pub(crate) const RESCAN: Duration = Duration::from_secs(2);

/// Media paths remembered for diagnostics; past this, paths unused since the last snapshot
/// are forgotten first.
const MAX_PATHS: usize = 1024;

/// Socket buffers asked for on the media sockets. With the kernel's default (~208 KiB) a burst
/// of students joining at once (DTLS flights plus everyone's media) overflowed the receive
/// queue in the load test. The kernel caps the request at `net.core.{r,w}mem_max`, so the
/// size granted is logged.
const UDP_BUFFER_BYTES: usize = 4 << 20;

fn size_buffers(udp: &UdpSocket) {
    let sock = socket2::SockRef::from(udp);
    let _ = sock.set_recv_buffer_size(UDP_BUFFER_BYTES);
    let _ = sock.set_send_buffer_size(UDP_BUFFER_BYTES);
    let granted = (sock.recv_buffer_size(), sock.send_buffer_size());
    match granted {
        (Ok(recv), Ok(send)) if recv.min(send) < UDP_BUFFER_BYTES => info!(
            recv,
            send,
            "UDP buffers capped by the kernel (raise net.core.rmem_max/wmem_max for big classes)"
        ),
        (Ok(recv), Ok(send)) => debug!(recv, send, "UDP buffers"),
        _ => {}
    }
}

/// One datagram the core wants sent.
#[derive(Debug)]
pub(crate) struct Datagram {
    /// The server address (local candidate) it must leave from.
    pub source: SocketAddr,
    /// Where to.
    pub destination: SocketAddr,
    /// The bytes (already encrypted).
    pub contents: Vec<u8>,
}

/// Datagrams handed to the kernel per `sendmmsg` call at most.
#[cfg(target_os = "linux")]
const BATCH: usize = 64;

/// One `sendmmsg` call with the first [`BATCH`] datagrams of `chunk`, without waiting: how
/// many the kernel took, or its error for the first one (`WouldBlock` when the socket's send
/// buffer is full).
#[cfg(target_os = "linux")]
fn sendmmsg_now(fd: std::os::fd::RawFd, chunk: &[(SocketAddr, &[u8])]) -> io::Result<usize> {
    use std::io::IoSlice;

    use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, sendmmsg};

    let chunk = &chunk[..chunk.len().min(BATCH)];
    let slices: Vec<[IoSlice<'_>; 1]> = chunk.iter().map(|(_, b)| [IoSlice::new(b)]).collect();
    let addrs: Vec<Option<SockaddrStorage>> = chunk
        .iter()
        .map(|(a, _)| Some(SockaddrStorage::from(*a)))
        .collect();
    // The message headers hold raw pointers (not `Send`): made and dropped within the call.
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(chunk.len(), None);
    sendmmsg(
        fd,
        &mut headers,
        &slices,
        &addrs,
        [],
        MsgFlags::MSG_DONTWAIT,
    )
    .map(|r| r.count())
    .map_err(io::Error::from)
}

/// Sends `batch` in order from `socket`, [`BATCH`] datagrams per `sendmmsg` system call,
/// waiting while the socket's send buffer is full. A datagram the kernel refuses (an ICMP
/// error reported on the socket, an address it cannot reach) is skipped with a log line, as a
/// lost datagram would be. Returns the indices of the datagrams not sent (usually none).
#[cfg(target_os = "linux")]
async fn send_batch(socket: &UdpSocket, batch: &[(SocketAddr, &[u8])]) -> Vec<usize> {
    use std::os::fd::AsRawFd;

    use tokio::io::Interest;

    let fd = socket.as_raw_fd();
    let mut at = 0;
    let mut unsent = Vec::new();
    while at < batch.len() {
        let chunk = &batch[at..];
        let result = loop {
            if let Err(e) = socket.writable().await {
                break Err(e);
            }
            match socket.try_io(Interest::WRITABLE, || sendmmsg_now(fd, chunk)) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => break other,
            }
        };
        match result {
            Ok(0) => {
                // Nothing taken and no error: give up on this chunk rather than spin.
                let dropped = chunk.len().min(BATCH);
                debug!(count = dropped, "udp send took nothing; dropped");
                unsent.extend(at..at + dropped);
                at += dropped;
            }
            Ok(n) => at += n,
            Err(e) => {
                // The first datagram of the chunk was refused; the rest may still go.
                debug!(destination = %chunk[0].0, "udp send failed: {e}");
                unsent.push(at);
                at += 1;
            }
        }
    }
    unsent
}

/// Sends as much of `batch` as the socket takes without waiting, its runs
/// ([`Fanout::runs`]) spread over `pool`'s threads (the kernel's part of a fan-out, each
/// datagram's route and copy, is most of it). Returns, per run in order, the range not sent
/// (the send buffer filled: the caller sends those, waiting) and the indices refused.
#[cfg(target_os = "linux")]
fn send_spread(
    socket: &UdpSocket,
    batch: &[(SocketAddr, &[u8])],
    pool: &Fanout,
) -> (Vec<std::ops::Range<usize>>, Vec<usize>) {
    use std::os::fd::AsRawFd;

    let fd = socket.as_raw_fd();
    let sent = pool.join_runs(pool.runs(batch.len()), |run| {
        let mut at = run.start;
        let mut refused = Vec::new();
        while at < run.end {
            match sendmmsg_now(fd, &batch[at..run.end]) {
                Ok(0) => break,
                Ok(n) => at += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    debug!(destination = %batch[at].0, "udp send failed: {e}");
                    refused.push(at);
                    at += 1;
                }
            }
        }
        (at..run.end, refused)
    });
    let mut left = Vec::new();
    let mut refused = Vec::new();
    for (range, mut r) in sent {
        if !range.is_empty() {
            left.push(range);
        }
        refused.append(&mut r);
    }
    (left, refused)
}

/// Sends `batch` in order from `socket`, a system call each (no `sendmmsg` here). Returns
/// the indices of the datagrams not sent.
#[cfg(not(target_os = "linux"))]
async fn send_batch(socket: &UdpSocket, batch: &[(SocketAddr, &[u8])]) -> Vec<usize> {
    let mut unsent = Vec::new();
    for (i, (destination, contents)) in batch.iter().enumerate() {
        if let Err(e) = socket.send_to(contents, destination).await {
            debug!(%destination, "udp send failed: {e}");
            unsent.push(i);
        }
    }
    unsent
}

/// [`send_batch`] with the first attempt at every datagram spread over `pool`'s threads;
/// what the kernel did not take then is sent in order, waiting for room.
async fn send_batch_spread(
    socket: &UdpSocket,
    batch: &[(SocketAddr, &[u8])],
    pool: &Fanout,
) -> Vec<usize> {
    #[cfg(target_os = "linux")]
    {
        let (left, mut unsent) = send_spread(socket, batch, pool);
        for range in left {
            let start = range.start;
            let more = send_batch(socket, &batch[range]).await;
            unsent.extend(more.into_iter().map(|i| start + i));
        }
        unsent.sort_unstable();
        unsent
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pool;
        send_batch(socket, batch).await
    }
}

/// A pair of addresses media flowed between, and how much.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaPath {
    /// The server's address (a host candidate).
    pub local: SocketAddr,
    /// The peer's address.
    pub remote: SocketAddr,
    /// Datagrams received on this path.
    pub packets_in: u64,
    /// Datagrams sent on this path.
    pub packets_out: u64,
}

/// What the handle shows of the media sockets.
#[derive(Debug, Clone, Default)]
pub(crate) struct MediaState {
    /// Advertised addresses, loopback included.
    pub addrs: Vec<SocketAddr>,
    /// Paths seen so far.
    pub paths: Vec<MediaPath>,
}

struct Socket {
    socket: UdpSocket,
    /// The address peers send to and str0m knows as the local candidate.
    advertised: SocketAddr,
}

/// All the media sockets of a server.
pub(crate) struct MediaSockets {
    sockets: Vec<Socket>,
    /// Re-read interfaces and bind new addresses on this port (per-interface mode only).
    per_interface: Option<u16>,
    /// Which socket to poll first, so a busy one does not starve the others.
    next: usize,
    /// (packets in, packets out, used since the last snapshot) per (local, remote).
    paths: HashMap<(SocketAddr, SocketAddr), (u64, u64, bool)>,
}

async fn bind_one(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = UdpSocket::bind(addr).await?;
    size_buffers(&socket);
    Ok(socket)
}

/// The addresses a per-interface server listens on: loopback and every usable address.
fn wanted_addresses() -> Vec<IpAddr> {
    let mut ips = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
    match classroom_discovery::lan_addresses() {
        Ok(list) => ips.extend(list.into_iter().map(|a| a.ip)),
        Err(e) => warn!("cannot list network interfaces: {e}"),
    }
    ips
}

/// Binds every address in `ips` on `port`: all of them, or an error if `port` is taken on any
/// (addresses that cannot be bound for another reason, such as an IPv6 address still being
/// checked for duplicates, are left for the next scan).
async fn bind_all(ips: &[IpAddr], port: u16) -> io::Result<Vec<Socket>> {
    let mut out = Vec::new();
    let mut port = port;
    for ip in ips {
        match bind_one(SocketAddr::new(*ip, port)).await {
            Ok(socket) => {
                let advertised = socket.local_addr()?;
                port = advertised.port();
                out.push(Socket { socket, advertised });
            }
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => return Err(e),
            Err(e) => warn!(%ip, "cannot receive media on this address: {e}"),
        }
    }
    Ok(out)
}

impl MediaSockets {
    /// Binds the sockets for `udp`/`advertise_ip` (see the module docs). With `fallback`, a
    /// taken port gives way to a free one instead of an error.
    pub(crate) async fn bind(
        udp: SocketAddr,
        advertise_ip: Option<IpAddr>,
        fallback: bool,
    ) -> Result<Self, SfuError> {
        let bind_error = |source| SfuError::Bind {
            what: "media UDP",
            addr: udp,
            source,
        };
        if !udp.ip().is_unspecified() || advertise_ip.is_some() {
            let socket = match bind_one(udp).await {
                Err(e) if fallback && e.kind() == io::ErrorKind::AddrInUse => {
                    bind_one(SocketAddr::new(udp.ip(), 0)).await
                }
                other => other,
            }
            .map_err(bind_error)?;
            let mut advertised = socket.local_addr()?;
            if let Some(ip) = advertise_ip.filter(|_| advertised.ip().is_unspecified()) {
                advertised.set_ip(ip);
            }
            return Ok(MediaSockets {
                sockets: vec![Socket { socket, advertised }],
                per_interface: None,
                next: 0,
                paths: HashMap::new(),
            });
        }
        let ips = wanted_addresses();
        let mut bound = bind_all(&ips, udp.port()).await;
        // A free port on the first address can still be taken on another: try a few.
        let mut tries = 0;
        while let Err(e) = &bound {
            if tries == 3 || !(fallback || udp.port() == 0) {
                break;
            }
            info!(
                port = udp.port(),
                "media port taken ({e}); using a free one"
            );
            bound = bind_all(&ips, 0).await;
            tries += 1;
        }
        let sockets = bound.map_err(bind_error)?;
        if sockets.is_empty() {
            return Err(bind_error(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                "no address to receive media on",
            )));
        }
        let port = sockets[0].advertised.port();
        let media = MediaSockets {
            sockets,
            per_interface: Some(port),
            next: 0,
            paths: HashMap::new(),
        };
        info!(addrs = ?media.advertised(), "media on every usable interface");
        Ok(media)
    }

    /// The addresses peers can send media to.
    pub(crate) fn advertised(&self) -> Vec<SocketAddr> {
        self.sockets.iter().map(|s| s.advertised).collect()
    }

    /// The first usable address, for logs and the handle's `udp_addr`.
    pub(crate) fn primary(&self) -> SocketAddr {
        let lan = self
            .sockets
            .iter()
            .find(|s| !s.advertised.ip().is_loopback());
        lan.or(self.sockets.first())
            .map(|s| s.advertised)
            .unwrap_or_else(|| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))
    }

    /// Polls every socket for a datagram: `(our advertised address, result)`.
    pub(crate) fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<(SocketAddr, io::Result<(usize, SocketAddr)>)> {
        let n = self.sockets.len();
        for i in 0..n {
            let idx = (self.next + i) % n;
            let s = &self.sockets[idx];
            let mut read = ReadBuf::new(buf);
            if let Poll::Ready(r) = s.socket.poll_recv_from(cx, &mut read) {
                self.next = (idx + 1) % n;
                let local = s.advertised;
                let r = r.map(|from| (read.filled().len(), from));
                if let Ok((_, from)) = &r {
                    self.note_path(local, *from, true);
                }
                return Poll::Ready((local, r));
            }
        }
        Poll::Pending
    }

    fn note_path(&mut self, local: SocketAddr, remote: SocketAddr, inbound: bool) {
        let count = |(packets_in, packets_out, fresh): &mut (u64, u64, bool)| {
            if inbound {
                *packets_in += 1;
            } else {
                *packets_out += 1;
            }
            *fresh = true;
        };
        if let Some(entry) = self.paths.get_mut(&(local, remote)) {
            count(entry);
            return;
        }
        if self.paths.len() >= MAX_PATHS {
            self.paths.retain(|_, (_, _, fresh)| *fresh);
            if self.paths.len() >= MAX_PATHS {
                return;
            }
        }
        let mut entry = (0, 0, true);
        count(&mut entry);
        self.paths.insert((local, remote), entry);
    }

    /// Sends each datagram from the socket whose address is its `source` (str0m's local
    /// candidate), many to a system call (see [`send_batch`]); a large batch (a fan-out) on
    /// `pool`'s threads as well, when there is a pool.
    pub(crate) async fn send_all(&mut self, datagrams: &[Datagram], pool: Option<&Fanout>) {
        let mut batch: Vec<(SocketAddr, &[u8])> = Vec::with_capacity(datagrams.len());
        for idx in 0..self.sockets.len() {
            batch.clear();
            let single = self.sockets.len() == 1;
            let advertised = self.sockets[idx].advertised;
            batch.extend(
                datagrams
                    .iter()
                    .filter(|d| single || d.source == advertised)
                    .map(|d| (d.destination, d.contents.as_slice())),
            );
            if batch.is_empty() {
                continue;
            }
            let socket = &self.sockets[idx].socket;
            let unsent = match pool.filter(|p| batch.len() >= p.parallel_from()) {
                Some(pool) => send_batch_spread(socket, &batch, pool).await,
                None => send_batch(socket, &batch).await,
            };
            for (i, (destination, _)) in batch.iter().enumerate() {
                if !unsent.contains(&i) {
                    self.note_path(advertised, *destination, false);
                }
            }
        }
        if self.sockets.len() > 1 {
            for d in datagrams {
                if !self.sockets.iter().any(|s| s.advertised == d.source) {
                    debug!(source = %d.source, destination = %d.destination,
                        "no socket for that address any more; dropped");
                }
            }
        }
    }

    /// Re-reads the interfaces (per-interface mode): binds addresses that appeared, closes
    /// those that went. True when the set changed.
    pub(crate) async fn rescan(&mut self) -> bool {
        let Some(port) = self.per_interface else {
            return false;
        };
        let wanted = wanted_addresses();
        let before = self.sockets.len();
        self.sockets.retain(|s| {
            let keep = wanted.contains(&s.advertised.ip());
            if !keep {
                info!(addr = %s.advertised, "interface address gone; media socket closed");
            }
            keep
        });
        let removed = before != self.sockets.len();
        let mut added = false;
        for ip in wanted {
            if self.sockets.iter().any(|s| s.advertised.ip() == ip) {
                continue;
            }
            let bound = match bind_one(SocketAddr::new(ip, port)).await {
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                    warn!(%ip, port, "media port taken on a new address; using a free one");
                    bind_one(SocketAddr::new(ip, 0)).await
                }
                other => other,
            };
            match bound.and_then(|socket| Ok((socket.local_addr()?, socket))) {
                Ok((advertised, socket)) => {
                    info!(addr = %advertised, "new interface address; receiving media there");
                    self.sockets.push(Socket { socket, advertised });
                    added = true;
                }
                Err(e) => debug!(%ip, "cannot bind a new address yet: {e}"),
            }
        }
        if self.next >= self.sockets.len() {
            self.next = 0;
        }
        removed || added
    }

    /// A snapshot for the handle; paths not used since the previous one become prunable.
    pub(crate) fn snapshot(&mut self) -> MediaState {
        let mut paths: Vec<MediaPath> = self
            .paths
            .iter_mut()
            .map(|((local, remote), (packets_in, packets_out, fresh))| {
                *fresh = false;
                MediaPath {
                    local: *local,
                    remote: *remote,
                    packets_in: *packets_in,
                    packets_out: *packets_out,
                }
            })
            .collect();
        paths.sort_by_key(|p| (p.local, p.remote));
        MediaState {
            addrs: self.advertised(),
            paths,
        }
    }
}
