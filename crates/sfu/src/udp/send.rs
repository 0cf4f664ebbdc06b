//! How the media sockets send: a batch's messages (see `plan`) handed to the kernel many to a
//! system call (`sendmmsg`), a fan-out's first attempt spread over the fan-out pool's
//! threads, UDP GSO turned off for good when the kernel refuses it, and what was taken
//! counted ([`SendCount`]).

#[cfg(target_os = "linux")]
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::UdpSocket;
use tracing::debug;

use super::Socket;
use super::plan::Message;
#[cfg(target_os = "linux")]
use super::{linux, plan};
use crate::core::Fanout;

/// Messages handed to the kernel per `sendmmsg` call at most.
#[cfg(target_os = "linux")]
const BATCH: usize = 64;

/// Whether a socket sends with UDP GSO (`plan`): found out at bind (the kernel knows
/// `UDP_SEGMENT`) and turned off for good the first time the kernel refuses a GSO message
/// (a device without checksum offload), the refused datagrams then going one by one.
/// `CLASSROOM_UDP_GSO=0` turns it off, for measuring.
#[derive(Debug)]
pub(super) struct Gso(pub(super) AtomicBool);

impl Gso {
    pub(super) fn probe(socket: &UdpSocket) -> Gso {
        let wanted = std::env::var("CLASSROOM_UDP_GSO").map_or(true, |v| v != "0");
        #[cfg(target_os = "linux")]
        let on = wanted && linux::gso_supported(socket);
        #[cfg(not(target_os = "linux"))]
        let on = {
            let _ = (wanted, socket);
            false
        };
        debug!(on, "UDP GSO");
        Gso(AtomicBool::new(on))
    }

    pub(super) fn on(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    #[cfg(target_os = "linux")]
    fn refused(&self, error: &io::Error) {
        if self.0.swap(false, Ordering::Relaxed) {
            tracing::info!(
                "the kernel refused UDP GSO ({error}); sending media datagrams one by one"
            );
        }
    }
}

/// Sends `messages` (see [`plan`]) in order from `socket`, a `sendmmsg` system call for up to
/// [`BATCH`] of them, waiting while the socket's send buffer is full. A GSO message the kernel
/// refuses is sent again as single datagrams (and GSO turned off); a datagram the kernel
/// refuses (an ICMP error reported on the socket, an address it cannot reach) is skipped with
/// a log line, as a lost datagram would be.
#[cfg(target_os = "linux")]
pub(super) async fn send_messages(
    socket: &Socket,
    batch: &[(SocketAddr, &[u8])],
    mut messages: Vec<Message>,
) -> Sent {
    use std::os::fd::AsRawFd;

    use tokio::io::Interest;

    let udp = &socket.socket;
    let fd = udp.as_raw_fd();
    let mut at = 0;
    let mut sent = Sent::default();
    while at < messages.len() {
        let run = plan::run_len(&messages[at..], BATCH);
        let result = loop {
            if let Err(e) = udp.writable().await {
                break Err(e);
            }
            match udp.try_io(Interest::WRITABLE, || {
                linux::send_messages(fd, batch, &messages[at..at + run])
            }) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => break other,
            }
        };
        match result {
            Ok(0) => {
                // Nothing taken and no error: give up on this run rather than spin.
                for m in &messages[at..at + run] {
                    sent.unsent.extend(m.datagrams.clone());
                }
                debug!(count = run, "udp send took nothing; dropped");
                at += run;
            }
            Ok(n) => {
                sent.taken(&messages[at..at + n]);
                at += n;
            }
            Err(e) if messages[at].segment.is_some() && linux::gso_refused(&e) => {
                socket.gso.refused(&e);
                // This message and every GSO message after it go as single datagrams.
                let rest: Vec<Message> = messages
                    .drain(at..)
                    .flat_map(|m| match m.segment {
                        Some(_) => plan::split(&m).collect::<Vec<_>>(),
                        None => vec![m],
                    })
                    .collect();
                messages.extend(rest);
            }
            Err(e) => {
                // The run's first message was refused; the rest may still go.
                debug!(destination = %messages[at].destination, "udp send failed: {e}");
                sent.unsent.extend(messages[at].datagrams.clone());
                at += 1;
            }
        }
    }
    sent
}

/// What [`super::MediaSockets::send_all`] handed to the kernel: datagrams inside GSO messages, and
/// messages (a GSO message or a single datagram each: the kernel's per-message work, a route
/// and a device's transmit, is paid once per message).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SendCount {
    pub in_gso: usize,
    pub messages: usize,
}

impl std::ops::AddAssign for SendCount {
    fn add_assign(&mut self, other: SendCount) {
        self.in_gso += other.in_gso;
        self.messages += other.messages;
    }
}

/// What a send did: the indices (into the batch) of the datagrams not sent (usually none),
/// and what the kernel took.
#[derive(Debug, Default)]
pub(super) struct Sent {
    pub(super) unsent: Vec<usize>,
    pub(super) count: SendCount,
}

impl Sent {
    /// `messages` were taken by the kernel.
    #[cfg(target_os = "linux")]
    fn taken(&mut self, messages: &[Message]) {
        self.count += SendCount {
            in_gso: messages
                .iter()
                .filter(|m| m.segment.is_some())
                .map(|m| m.datagrams.len())
                .sum(),
            messages: messages.len(),
        };
    }

    #[cfg(target_os = "linux")]
    fn append(&mut self, mut other: Sent) {
        self.unsent.append(&mut other.unsent);
        self.count += other.count;
    }
}

/// Sends as many of `messages` as the socket takes without waiting, their runs
/// ([`Fanout::runs`]) spread over `pool`'s threads (the kernel's part of a fan-out, each
/// datagram's route and copy, is most of it). Returns, per run in order, the range of
/// messages not sent (the send buffer filled, or GSO was refused: the caller sends those,
/// waiting) and what was sent.
#[cfg(target_os = "linux")]
fn send_spread(
    socket: &Socket,
    batch: &[(SocketAddr, &[u8])],
    messages: &[Message],
    pool: &Fanout,
) -> (Vec<std::ops::Range<usize>>, Sent) {
    use std::os::fd::AsRawFd;

    let fd = socket.socket.as_raw_fd();
    let per_run = pool.join_runs(pool.runs(messages.len()), |run| {
        let mut at = run.start;
        let mut sent = Sent::default();
        while at < run.end {
            let n = plan::run_len(&messages[at..run.end], BATCH);
            match linux::send_messages(fd, batch, &messages[at..at + n]) {
                Ok(0) => break,
                Ok(k) => {
                    sent.taken(&messages[at..at + k]);
                    at += k;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if messages[at].segment.is_some() && linux::gso_refused(&e) => {
                    socket.gso.refused(&e);
                    break;
                }
                Err(e) => {
                    debug!(destination = %messages[at].destination, "udp send failed: {e}");
                    sent.unsent.extend(messages[at].datagrams.clone());
                    at += 1;
                }
            }
        }
        (at..run.end, sent)
    });
    let mut left = Vec::new();
    let mut sent = Sent::default();
    for (range, run) in per_run {
        if !range.is_empty() {
            left.push(range);
        }
        sent.append(run);
    }
    (left, sent)
}

/// Sends `messages` (single datagrams here: no GSO) in order from `socket`, a system call
/// each (no `sendmmsg` here).
#[cfg(not(target_os = "linux"))]
pub(super) async fn send_messages(
    socket: &Socket,
    batch: &[(SocketAddr, &[u8])],
    messages: Vec<Message>,
) -> Sent {
    let mut sent = Sent::default();
    for i in messages.iter().flat_map(|m| m.datagrams.clone()) {
        let (destination, contents) = batch[i];
        match socket.socket.send_to(contents, destination).await {
            Ok(_) => sent.count.messages += 1,
            Err(e) => {
                debug!(%destination, "udp send failed: {e}");
                sent.unsent.push(i);
            }
        }
    }
    sent
}

/// [`send_messages`] with the first attempt at every message spread over `pool`'s threads;
/// what the kernel did not take then is sent in order, waiting for room.
pub(super) async fn send_messages_spread(
    socket: &Socket,
    batch: &[(SocketAddr, &[u8])],
    messages: Vec<Message>,
    pool: &Fanout,
) -> Sent {
    #[cfg(target_os = "linux")]
    {
        let (left, mut sent) = send_spread(socket, batch, &messages, pool);
        for range in left {
            sent.append(send_messages(socket, batch, messages[range].to_vec()).await);
        }
        sent.unsent.sort_unstable();
        sent
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pool;
        send_messages(socket, batch, messages).await
    }
}
