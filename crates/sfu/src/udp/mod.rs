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

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::task::{Context, Poll};
use std::time::Duration;

#[cfg(not(target_os = "linux"))]
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;
use tracing::{debug, info, warn};

use crate::SfuError;
use crate::core::Fanout;

#[cfg(target_os = "linux")]
mod linux;
mod plan;
mod send;

use send::{Gso, SendCount, send_messages, send_messages_spread};

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

/// Datagrams taken from the kernel per receive call at most (`recvmmsg`): what arrived
/// together is handled together and its fan-out sent together, so a student gets a frame's
/// packets in one GSO message. `CLASSROOM_UDP_RECV_BATCH` (1 to 64) overrides it, for
/// measuring.
const RECV_BATCH: usize = crate::core::DATAGRAMS_PER_RECEIVE;

/// A receive buffer's size: larger than any datagram WebRTC sends (they keep under the
/// path's MTU).
const RECV_BUF: usize = 2048;

fn recv_batch() -> usize {
    std::env::var("CLASSROOM_UDP_RECV_BATCH")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| (1..=64).contains(n))
        .unwrap_or(RECV_BATCH)
}

/// Datagrams received together from one socket ([`MediaSockets::poll_recv`]).
pub(crate) struct Received {
    bufs: Vec<Vec<u8>>,
    /// (buffer, length, sender) per datagram, in arrival order.
    got: Vec<(usize, usize, SocketAddr)>,
    /// Datagrams received but left out (cut to the buffer's size, or without a sender).
    left_out: usize,
    /// The server's address they arrived at (advertised).
    local: SocketAddr,
}

impl Received {
    pub(crate) fn new() -> Self {
        Received {
            bufs: vec![vec![0u8; RECV_BUF]; recv_batch()],
            got: Vec::new(),
            left_out: 0,
            local: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        }
    }

    /// The server's (advertised) address they arrived at.
    pub(crate) fn local(&self) -> SocketAddr {
        self.local
    }

    /// How many datagrams were received but left out: longer than a buffer (no WebRTC
    /// datagram is) or without a sender.
    pub(crate) fn left_out(&self) -> usize {
        self.left_out
    }

    /// Each datagram's sender and contents, in arrival order.
    pub(crate) fn datagrams(&self) -> impl Iterator<Item = (SocketAddr, &[u8])> {
        self.got
            .iter()
            .map(|(buf, len, from)| (*from, &self.bufs[*buf][..*len]))
    }
}

impl Socket {
    /// Takes what has arrived (up to the batch size) into `into`.
    fn poll_receive(&self, cx: &mut Context<'_>, into: &mut Received) -> Poll<io::Result<()>> {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;

            use tokio::io::Interest;

            let fd = self.socket.as_raw_fd();
            loop {
                match self.socket.poll_recv_ready(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Ready(Ok(())) => {}
                }
                match self
                    .socket
                    .try_io(Interest::READABLE, || linux::receive(fd, &mut into.bufs))
                {
                    // Readiness was stale: polling again registers for the next datagram.
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(e) => return Poll::Ready(Err(e)),
                    Ok(taken) => {
                        into.got = taken.datagrams;
                        into.left_out = taken.left_out;
                        into.local = self.advertised;
                        return Poll::Ready(Ok(()));
                    }
                }
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let mut read = ReadBuf::new(&mut into.bufs[0]);
            self.socket.poll_recv_from(cx, &mut read).map_ok(|from| {
                into.got = vec![(0, read.filled().len(), from)];
                into.left_out = 0;
                into.local = self.advertised;
            })
        }
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
    gso: Gso,
}

impl Socket {
    fn new(socket: UdpSocket, advertised: SocketAddr) -> Socket {
        let gso = Gso::probe(&socket);
        Socket {
            socket,
            advertised,
            gso,
        }
    }
}

/// All the media sockets of a server.
pub(crate) struct MediaSockets {
    sockets: Vec<Socket>,
    /// Re-read interfaces and bind new addresses on this port (per-interface mode only).
    per_interface: Option<u16>,
    /// Which socket to poll first, so a busy one does not starve the others.
    next: usize,
    /// (packets in, packets out, used since the last snapshot) per (local, remote).
    paths: foldhash::HashMap<(SocketAddr, SocketAddr), (u64, u64, bool)>,
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
                out.push(Socket::new(socket, advertised));
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
                sockets: vec![Socket::new(socket, advertised)],
                per_interface: None,
                next: 0,
                paths: foldhash::HashMap::default(),
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
            paths: foldhash::HashMap::default(),
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

    /// Polls every socket for datagrams; what one socket has (up to a batch) goes into `into`.
    pub(crate) fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        into: &mut Received,
    ) -> Poll<io::Result<()>> {
        let n = self.sockets.len();
        for i in 0..n {
            let idx = (self.next + i) % n;
            if let Poll::Ready(r) = self.sockets[idx].poll_receive(cx, into) {
                self.next = (idx + 1) % n;
                if r.is_ok() {
                    for (_, _, from) in &into.got {
                        self.note_path(into.local, *from, true);
                    }
                }
                return Poll::Ready(r);
            }
        }
        Poll::Pending
    }

    fn note_path(&mut self, local: SocketAddr, remote: SocketAddr, inbound: bool) {
        self.note_paths(local, remote, inbound, 1);
    }

    /// `packets` datagrams went (or came) between `local` and `remote`.
    fn note_paths(&mut self, local: SocketAddr, remote: SocketAddr, inbound: bool, packets: u64) {
        let count = |(packets_in, packets_out, fresh): &mut (u64, u64, bool)| {
            if inbound {
                *packets_in += packets;
            } else {
                *packets_out += packets;
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
    /// candidate), many to a system call (see [`send_messages`]), a destination's datagrams
    /// together and, where the kernel can, several to a message (GSO, see [`plan`]); a large
    /// batch (a fan-out) on `pool`'s threads as well, when there is a pool. Returns how many
    /// datagrams went inside GSO messages and how many messages the kernel took.
    pub(crate) async fn send_all(
        &mut self,
        datagrams: &[Datagram],
        pool: Option<&Fanout>,
    ) -> SendCount {
        let mut count = SendCount::default();
        for idx in 0..self.sockets.len() {
            let single = self.sockets.len() == 1;
            let advertised = self.sockets[idx].advertised;
            let batch: Vec<(SocketAddr, &[u8])> = datagrams
                .iter()
                .filter(|d| single || d.source == advertised)
                .map(|d| (d.destination, d.contents.as_slice()))
                .collect();
            if batch.is_empty() {
                continue;
            }
            let socket = &self.sockets[idx];
            let gso = socket.gso.on();
            let batch = if gso {
                plan::by_destination(batch)
            } else {
                batch
            };
            let messages = plan::messages(&batch, gso);
            let sent = match pool.filter(|p| messages.len() >= p.parallel_from()) {
                Some(pool) => send_messages_spread(socket, &batch, messages, pool).await,
                None => send_messages(socket, &batch, messages).await,
            };
            count += sent.count;
            // Counted per run of datagrams to one destination (`by_destination` grouped
            // them): a map lookup per datagram was ~1 % of the server's CPU at 200 students.
            let mut at = 0;
            while at < batch.len() {
                let destination = batch[at].0;
                let end = batch[at..]
                    .iter()
                    .position(|(d, _)| *d != destination)
                    .map_or(batch.len(), |n| at + n);
                let unsent = sent.unsent.iter().filter(|i| (at..end).contains(i)).count();
                let went = (end - at - unsent) as u64;
                if went > 0 {
                    self.note_paths(advertised, destination, false, went);
                }
                at = end;
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
        count
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
                    self.sockets.push(Socket::new(socket, advertised));
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;

    async fn receiver() -> UdpSocket {
        UdpSocket::bind("127.0.0.1:0").await.expect("bind")
    }

    async fn media_on_loopback() -> MediaSockets {
        MediaSockets::bind("127.0.0.1:0".parse().expect("an address"), None, false)
            .await
            .expect("media socket")
    }

    /// One receive from `media` into `received`, within five seconds.
    async fn receive(media: &mut MediaSockets, received: &mut Received) {
        tokio::time::timeout(
            Duration::from_secs(5),
            std::future::poll_fn(|cx| media.poll_recv(cx, received)),
        )
        .await
        .expect("datagrams in time")
        .expect("received");
    }

    /// Whether this kernel takes GSO messages (then the tests expect them to be used).
    fn kernel_has_gso(media: &MediaSockets) -> bool {
        #[cfg(target_os = "linux")]
        {
            linux::gso_supported(&media.sockets[0].socket)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = media;
            false
        }
    }

    /// `packets` packets fanned out to every one of `students`, interleaved as the core
    /// produces them (each packet to everyone, then the next); packet `p` to student `s`
    /// starts with `[p, s]`, and the last packet is shorter (a frame's last).
    fn fan_out(source: SocketAddr, students: &[SocketAddr], packets: u8) -> Vec<Datagram> {
        let mut out = Vec::new();
        for p in 0..packets {
            let len = if p + 1 == packets { 300 } else { 1100 };
            for (s, to) in students.iter().enumerate() {
                let mut contents = vec![0xAA; len];
                contents[0] = p;
                contents[1] = s as u8;
                out.push(Datagram {
                    source,
                    destination: *to,
                    contents,
                });
            }
        }
        out
    }

    /// Receives `count` datagrams on `socket` and checks they are student `s`'s packets,
    /// whole and in order.
    async fn expect_packets(socket: &UdpSocket, s: usize, count: u8) {
        let mut buf = vec![0u8; 4096];
        for p in 0..count {
            let n = tokio::time::timeout(Duration::from_secs(5), socket.recv(&mut buf))
                .await
                .expect("a datagram in time")
                .expect("received");
            let len = if p + 1 == count { 300 } else { 1100 };
            assert_eq!(n, len, "student {s} packet {p}: one datagram each");
            assert_eq!(&buf[..2], &[p, s as u8], "student {s}: packets in order");
            assert!(buf[2..n].iter().all(|b| *b == 0xAA));
        }
    }

    #[tokio::test]
    async fn a_fan_out_arrives_as_its_datagrams_in_order_several_to_a_message() {
        let mut media = media_on_loopback().await;
        let students = [receiver().await, receiver().await, receiver().await];
        let addrs: Vec<SocketAddr> = students
            .iter()
            .map(|s| s.local_addr().expect("bound"))
            .collect();
        let datagrams = fan_out(media.primary(), &addrs, 5);
        let sent = media.send_all(&datagrams, None).await;
        for (s, socket) in students.iter().enumerate() {
            expect_packets(socket, s, 5).await;
        }
        // Counted per destination's run of datagrams, each counted once.
        let paths = media.snapshot().paths;
        for a in &addrs {
            let path = paths.iter().find(|p| p.remote == *a).expect("a path");
            assert_eq!((path.packets_in, path.packets_out), (0, 5), "to {a}");
        }
        assert_eq!(paths.len(), addrs.len());
        if kernel_has_gso(&media) {
            assert_eq!(
                sent,
                SendCount {
                    in_gso: 15,
                    messages: 3
                },
                "each student's five packets went as one GSO message"
            );
            assert!(media.sockets[0].gso.on(), "loopback takes GSO");
        } else {
            assert_eq!(
                sent,
                SendCount {
                    in_gso: 0,
                    messages: 15
                }
            );
        }
    }

    #[tokio::test]
    async fn a_fan_out_on_the_pool_arrives_whole_too() {
        let pool = Fanout::new(2).expect("pool").expect("two threads");
        let mut media = media_on_loopback().await;
        let mut students = Vec::new();
        for _ in 0..40 {
            students.push(receiver().await);
        }
        let addrs: Vec<SocketAddr> = students
            .iter()
            .map(|s| s.local_addr().expect("bound"))
            .collect();
        // Three packets to each of 40: enough messages to be spread over the pool.
        let mut datagrams = fan_out(media.primary(), &addrs, 3);
        assert!(datagrams.len() >= pool.parallel_from());
        let sent = media.send_all(&datagrams, Some(&pool)).await;
        for (s, socket) in students.iter().enumerate() {
            expect_packets(socket, s, 3).await;
        }
        if kernel_has_gso(&media) {
            assert_eq!(
                sent,
                SendCount {
                    in_gso: 120,
                    messages: 40
                }
            );
        }
        // Without GSO (as after a refusal), one message per datagram, the same result.
        media.sockets[0].gso.0.store(false, Ordering::Relaxed);
        datagrams.truncate(40);
        assert_eq!(
            media.send_all(&datagrams, Some(&pool)).await,
            SendCount {
                in_gso: 0,
                messages: 40
            }
        );
        let mut buf = [0u8; 2048];
        for (s, socket) in students.iter().enumerate() {
            let n = socket.recv(&mut buf).await.expect("received");
            assert_eq!((n, buf[0], buf[1]), (1100, 0, s as u8));
        }
    }

    /// A GSO message the route refuses (here a segment over its MTU) is sent again one
    /// datagram at a time, which the kernel fragments as it always did, and GSO is turned
    /// off for the socket. Runs in a network namespace of its own (root, as the LAN test),
    /// whose loopback has the smallest IPv6 MTU, 1280 bytes.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_gso_message_the_route_refuses_goes_again_one_datagram_at_a_time() {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
            .expect("a network namespace of its own (needs root, as the LAN test)");
        let up = std::process::Command::new("ip")
            .args(["link", "set", "lo", "mtu", "1280", "up"])
            .status()
            .expect("ip (iproute2)");
        assert!(up.success(), "loopback up with a 1280-byte MTU");
        let mut media = media_on_loopback().await;
        assert!(media.sockets[0].gso.on(), "the kernel knows UDP_SEGMENT");
        // Three packets to each of two students: two GSO messages planned.
        let students = [receiver().await, receiver().await];
        let mut datagrams = Vec::new();
        for p in 0..3u8 {
            for (s, student) in students.iter().enumerate() {
                datagrams.push(Datagram {
                    source: media.primary(),
                    destination: student.local_addr().expect("bound"),
                    contents: vec![p * 2 + s as u8; 1400],
                });
            }
        }
        let planned: Vec<(SocketAddr, &[u8])> = datagrams
            .iter()
            .map(|d| (d.destination, d.contents.as_slice()))
            .collect();
        let planned = plan::messages(&plan::by_destination(planned), true);
        assert_eq!(planned.len(), 2, "planned as two GSO messages");
        let sent = media.send_all(&datagrams, None).await;
        assert_eq!(sent.in_gso, 0, "none went as GSO");
        assert_eq!(sent.messages, 6, "six datagrams, six messages");
        assert!(!media.sockets[0].gso.on(), "GSO turned off for the socket");
        let mut buf = vec![0u8; 4096];
        for (s, student) in students.iter().enumerate() {
            for p in 0..3u8 {
                let n = tokio::time::timeout(Duration::from_secs(5), student.recv(&mut buf))
                    .await
                    .expect("a datagram in time")
                    .expect("received");
                assert_eq!(n, 1400, "whole, reassembled");
                assert!(buf[..n].iter().all(|b| *b == p * 2 + s as u8), "in order");
            }
        }
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_datagram_longer_than_a_buffer_is_left_out_and_counted() {
        let mut media = media_on_loopback().await;
        let peer = receiver().await;
        let to = media.primary();
        peer.send_to(&[7; 100], to).await.expect("sent");
        peer.send_to(&[8; 3000], to).await.expect("sent");
        peer.send_to(&[9; 100], to).await.expect("sent");
        let mut received = Received::new();
        receive(&mut media, &mut received).await;
        let got: Vec<(usize, u8)> = received.datagrams().map(|(_, d)| (d.len(), d[0])).collect();
        assert_eq!(got, vec![(100, 7), (100, 9)]);
        assert_eq!(received.left_out(), 1);
    }

    #[tokio::test]
    async fn datagrams_that_arrived_together_are_taken_in_one_call_in_order() {
        let mut media = media_on_loopback().await;
        let peer = receiver().await;
        let to = media.primary();
        for i in 0..10u8 {
            peer.send_to(&[i; 100], to).await.expect("sent");
        }
        let mut received = Received::new();
        let mut got = Vec::new();
        let mut calls = 0;
        while got.len() < 10 {
            receive(&mut media, &mut received).await;
            calls += 1;
            assert_eq!(received.local(), to);
            for (from, data) in received.datagrams() {
                assert_eq!(from, peer.local_addr().expect("bound"));
                assert_eq!(data.len(), 100);
                got.push(data[0]);
            }
        }
        assert_eq!(got, (0..10).collect::<Vec<u8>>());
        #[cfg(target_os = "linux")]
        assert_eq!(calls, 1, "all ten waiting were taken by one recvmmsg");
        #[cfg(not(target_os = "linux"))]
        let _ = calls;
    }
}
