//! What the measuring tools share about the host: pinning a thread to a CPU, the kernel's
//! receive time of a datagram as an `Instant`, and the sealed datagram's layout the floors
//! send.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::time::TimeSpec;

/// RTP's fixed header, a sealed datagram's authenticated part.
pub const RTP_HEADER: usize = 12;
/// AES-GCM's tag (RFC 7714).
pub const TAG: usize = 16;

/// Pins the calling thread to `cpu` (nothing for `None`).
pub fn pin(cpu: Option<usize>) -> Result<(), String> {
    let Some(cpu) = cpu else {
        return Ok(());
    };
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu).map_err(|e| format!("CPU number {cpu}: {e}"))?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .map_err(|e| format!("pinning to CPU {cpu}: {e}"))
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
        assert_eq!(pin(None), Ok(()));
    }
}
