//! The batching system calls: `sendmmsg` (many messages per call, each one datagram or a
//! UDP GSO message of several), `recvmmsg` (many datagrams per call), and the GSO probe.
//! Each makes and drops its message headers within the call (they hold raw pointers and are
//! not `Send`, and the driver's task is).

use std::io::{self, IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::{AsFd, RawFd};

use nix::sys::socket::{
    ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg, sockopt,
};

use super::plan::Message;

/// Whether the kernel knows `UDP_SEGMENT` on this socket (Linux 4.18+). Whether the route's
/// device can take it is known only at the first send: see `Gso::refused`.
pub(super) fn gso_supported(socket: &impl AsFd) -> bool {
    nix::sys::socket::getsockopt(socket, sockopt::UdpGsoSegment).is_ok()
}

/// One non-blocking `sendmmsg` call with `messages` (all with the same segment size, see
/// `plan::run_len`), their datagrams taken from `batch`: how many messages the kernel took,
/// or its error for the first one (`WouldBlock` when the socket's send buffer is full).
pub(super) fn send_messages(
    fd: RawFd,
    batch: &[(SocketAddr, &[u8])],
    messages: &[Message],
) -> io::Result<usize> {
    let Some(first) = messages.first() else {
        return Ok(0);
    };
    let addrs: Vec<Option<SockaddrStorage>> = messages
        .iter()
        .map(|m| Some(SockaddrStorage::from(m.destination)))
        .collect();
    let sent = match first.segment {
        None => {
            let slices: Vec<[IoSlice<'_>; 1]> = messages
                .iter()
                .map(|m| [IoSlice::new(batch[m.datagrams.start].1)])
                .collect();
            let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(messages.len(), None);
            sendmmsg(
                fd,
                &mut headers,
                &slices,
                &addrs,
                [],
                MsgFlags::MSG_DONTWAIT,
            )
            .map(|r| r.count())
        }
        Some(segment) => {
            let slices: Vec<Vec<IoSlice<'_>>> = messages
                .iter()
                .map(|m| {
                    batch[m.datagrams.clone()]
                        .iter()
                        .map(|(_, b)| IoSlice::new(b))
                        .collect()
                })
                .collect();
            let cmsgs = [ControlMessage::UdpGsoSegments(&segment)];
            let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(
                messages.len(),
                Some(nix::cmsg_space!(u16)),
            );
            sendmmsg(
                fd,
                &mut headers,
                &slices,
                &addrs,
                cmsgs,
                MsgFlags::MSG_DONTWAIT,
            )
            .map(|r| r.count())
        }
    };
    sent.map_err(io::Error::from)
}

/// Whether `error`, for a GSO message, means the kernel or the route cannot segment (no
/// checksum offload on the device: `EIO`; a segment over the route's MTU: `EMSGSIZE`, or
/// `EINVAL` on older kernels, as for too many segments; an old kernel: `ENOPROTOOPT` or
/// `EOPNOTSUPP`), so its datagrams should go singly (the kernel fragments one over the MTU,
/// as it did before GSO).
pub(super) fn gso_refused(error: &io::Error) -> bool {
    use nix::errno::Errno;
    matches!(
        error.raw_os_error().map(Errno::from_raw),
        Some(Errno::EIO | Errno::EINVAL | Errno::EMSGSIZE | Errno::ENOPROTOOPT | Errno::EOPNOTSUPP)
    )
}

/// What one receive call took: per datagram, in order, the buffer it is in, its length and
/// its sender; and how many were left out (longer than a buffer, so cut by the kernel: no
/// WebRTC datagram is; or without a sender address).
#[derive(Debug, Default)]
pub(super) struct Taken {
    pub datagrams: Vec<(usize, usize, SocketAddr)>,
    pub left_out: usize,
}

/// One non-blocking `recvmmsg` call into `bufs`.
pub(super) fn receive(fd: RawFd, bufs: &mut [Vec<u8>]) -> io::Result<Taken> {
    let mut slices: Vec<[IoSliceMut<'_>; 1]> = bufs
        .iter_mut()
        .map(|b| [IoSliceMut::new(b.as_mut_slice())])
        .collect();
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(slices.len(), None);
    let received = recvmmsg(
        fd,
        &mut headers,
        slices.iter_mut(),
        MsgFlags::MSG_DONTWAIT,
        None,
    )
    .map_err(io::Error::from)?;
    let mut taken = Taken::default();
    for (i, msg) in received.enumerate() {
        match msg.address.and_then(socket_addr) {
            Some(from) if !msg.flags.contains(MsgFlags::MSG_TRUNC) => {
                taken.datagrams.push((i, msg.bytes, from));
            }
            _ => taken.left_out += 1,
        }
    }
    Ok(taken)
}

fn socket_addr(addr: SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(SocketAddr::from(*v4));
    }
    addr.as_sockaddr_in6().map(|v6| SocketAddr::from(*v6))
}
