//! What the measuring tools share about the host: pinning a thread to a CPU, entering a
//! network namespace, receiving a datagram with the kernel's arrival time as an `Instant`,
//! and the sealed datagram's layout the floors send.

use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg};
use nix::sys::time::TimeSpec;

/// RTP's fixed header, a sealed datagram's authenticated part.
pub const RTP_HEADER: usize = 12;
/// AES-GCM's tag (RFC 7714).
pub const TAG: usize = 16;

/// Pins the calling thread to `cpu` (nothing for `None`).
pub fn pin(cpu: Option<usize>) -> io::Result<()> {
    let Some(cpu) = cpu else {
        return Ok(());
    };
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu)
        .map_err(|e| io::Error::other(format!("CPU number {cpu}: {e}")))?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .map_err(|e| io::Error::other(format!("pinning to CPU {cpu}: {e}")))
}

/// Moves the calling thread into the network namespace `name` (`ip netns` names it): the
/// sockets it makes from then on stay there, whatever thread uses them.
pub fn enter_netns(name: &str) -> io::Result<()> {
    let path = format!("/var/run/netns/{name}");
    let file = std::fs::File::open(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("opening {path}: {e}")))?;
    nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| io::Error::other(format!("entering the network namespace {path}: {e}")))
}

/// Receives one datagram on `socket` (`SO_TIMESTAMPNS` on) with `flags`: its length, its
/// source, and the kernel's arrival time as an `Instant` (the time of the call when the
/// kernel gave none).
pub fn recv_stamped(
    socket: &impl AsRawFd,
    buf: &mut [u8],
    flags: MsgFlags,
) -> io::Result<(usize, Option<SocketAddr>, Instant)> {
    let mut iov = [IoSliceMut::new(buf)];
    let mut space = nix::cmsg_space!(TimeSpec);
    let msg = recvmsg::<SockaddrStorage>(socket.as_raw_fd(), &mut iov, Some(&mut space), flags)
        .map_err(io::Error::from)?;
    let mut at = Instant::now();
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            if let ControlMessageOwned::ScmTimestampns(ts) = c {
                at = instant_of(ts);
            }
        }
    }
    let source = msg.address.as_ref().and_then(|a| {
        a.as_sockaddr_in()
            .map(|v4| SocketAddr::from(std::net::SocketAddrV4::from(*v4)))
            .or_else(|| {
                a.as_sockaddr_in6()
                    .map(|v6| SocketAddr::from(std::net::SocketAddrV6::from(*v6)))
            })
    });
    Ok((msg.bytes, source, at))
}

/// The `Instant` of a kernel receive timestamp (`SO_TIMESTAMPNS`, wall-clock time), read
/// against the clocks now: what a receiver reports as a datagram's arrival.
pub fn instant_of(kernel: TimeSpec) -> Instant {
    let (now_i, now_s) = (Instant::now(), SystemTime::now());
    let at = UNIX_EPOCH
        + Duration::new(
            kernel.tv_sec().max(0) as u64,
            kernel.tv_nsec().max(0) as u32,
        );
    let age = now_s.duration_since(at).unwrap_or_default();
    now_i.checked_sub(age).unwrap_or(now_i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kernel_time_becomes_the_instant_that_long_ago() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970");
        let ago = now - Duration::from_millis(250);
        let ts = TimeSpec::new(ago.as_secs() as i64, i64::from(ago.subsec_nanos()));
        let age = Instant::now().saturating_duration_since(instant_of(ts));
        assert!(
            age >= Duration::from_millis(249) && age < Duration::from_secs(5),
            "{age:?}"
        );
        // A time in the future (clocks stepped) is now, not a panic.
        let ahead = now + Duration::from_secs(60);
        let ts = TimeSpec::new(ahead.as_secs() as i64, 0);
        assert!(Instant::now().saturating_duration_since(instant_of(ts)) < Duration::from_secs(5));
        assert!(pin(None).is_ok());
    }
}
