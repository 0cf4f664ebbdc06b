//! DTLS datagrams that arrive before their connection accepts them.
//!
//! A peer whose own ICE check has succeeded sends its DTLS ClientHello at once, while this
//! side's check on the same candidate pair may still be on its way; str0m then accepts
//! nothing from that address yet (no viable pair) and the datagram was dropped, so the
//! handshake waited for the peer's DTLS retransmission, a second later. Measured in
//! `cargo xtask demo`: ICE connected, DTLS accepted 1.02 s later, for about half the students
//! (their first frame 1.1-1.2 s instead of ~150 ms). Such datagrams are now kept for a
//! moment ([`KEEP`], at most [`MAX_HELD`]) and offered again when a connection takes a STUN
//! datagram from the same address (the check that makes that pair viable): only those, so a
//! flood of strangers' datagrams costs at most a scan of the few kept per check, never a
//! search of every connection per packet of the class.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long an early datagram is kept: well under DTLS's first retransmission (1 s).
pub(super) const KEEP: Duration = Duration::from_millis(500);

/// The most kept at once (a handshake's first flight is one or a few datagrams per peer;
/// anything else is bounded and the oldest goes first).
pub(super) const MAX_HELD: usize = 32;

/// Whether `data` is a DTLS record (RFC 7983: first byte 20..=63).
pub(super) fn is_dtls(data: &[u8]) -> bool {
    data.first().is_some_and(|b| (20..=63).contains(b))
}

/// Whether `data` is a STUN message (RFC 7983: first byte 0..=3).
pub(super) fn is_stun(data: &[u8]) -> bool {
    data.first().is_some_and(|b| *b <= 3)
}

/// One datagram kept.
#[derive(Debug)]
pub(super) struct Held {
    pub at: Instant,
    pub source: SocketAddr,
    pub destination: SocketAddr,
    pub data: Vec<u8>,
}

/// The datagrams kept, oldest first.
#[derive(Debug, Default)]
pub(super) struct Early {
    held: VecDeque<Held>,
}

impl Early {
    /// Keeps `held`; returns how many were pushed out to make room (to be counted as dropped).
    pub fn hold(&mut self, held: Held) -> usize {
        let mut out = 0;
        while self.held.len() >= MAX_HELD {
            self.held.pop_front();
            out += 1;
        }
        self.held.push_back(held);
        out
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Takes the datagrams kept from `source` that are not older than [`KEEP`] at `now`,
    /// oldest first; the others stay (until [`Early::expire`]).
    pub fn take_from(&mut self, source: SocketAddr, now: Instant) -> Vec<Held> {
        let (mine, others): (VecDeque<Held>, VecDeque<Held>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|h| h.source == source && now.saturating_duration_since(h.at) <= KEEP);
        self.held = others;
        mine.into()
    }

    /// When the oldest kept datagram is to be forgotten.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.held.front().map(|h| h.at + KEEP)
    }

    /// Forgets the datagrams older than [`KEEP`] at `now`; returns how many.
    pub fn expire(&mut self, now: Instant) -> usize {
        let before = self.held.len();
        self.held
            .retain(|h| now.saturating_duration_since(h.at) <= KEEP);
        before - self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(at: Instant, port: u16) -> Held {
        Held {
            at,
            source: SocketAddr::from(([192, 0, 2, 7], port)),
            destination: SocketAddr::from(([192, 0, 2, 1], 47800)),
            data: vec![22, 254, 253],
        }
    }

    #[test]
    fn only_dtls_records_are_kept_for_later() {
        assert!(is_dtls(&[22, 254, 253]));
        assert!(is_dtls(&[20]) && is_dtls(&[63]));
        // STUN (0..=3), RTP/RTCP (128..=191), nothing.
        assert!(!is_dtls(&[0, 1]) && !is_dtls(&[128]) && !is_dtls(&[]));
        assert!(is_stun(&[0, 1]) && is_stun(&[1, 1]) && !is_stun(&[22]) && !is_stun(&[]));
    }

    #[test]
    fn kept_a_moment_and_bounded() {
        let t0 = Instant::now();
        let mut early = Early::default();
        assert!(early.is_empty());
        for i in 0..MAX_HELD as u16 {
            assert_eq!(early.hold(held(t0, 1000 + i)), 0);
        }
        // Full: the oldest goes.
        assert_eq!(early.hold(held(t0 + Duration::from_millis(10), 2000)), 1);
        // Taken by source: only that address's, the rest stay.
        let mine = early.take_from(held(t0, 2000).source, t0 + Duration::from_millis(100));
        assert_eq!(mine.len(), 1);
        assert!(
            early.take_from(held(t0, 1000).source, t0).is_empty(),
            "pushed out"
        );
        assert_eq!(early.take_from(held(t0, 1001).source, t0).len(), 1);
        assert_eq!(early.expire(t0 + KEEP * 2), MAX_HELD - 2);
        assert!(early.is_empty());
        // Past KEEP one is not taken, and expires.
        early.hold(held(t0, 1));
        assert!(
            early
                .take_from(held(t0, 1).source, t0 + KEEP + Duration::from_millis(1))
                .is_empty()
        );
        assert_eq!(early.expire(t0 + KEEP + Duration::from_millis(1)), 1);
        early.hold(held(t0, 3));
        assert_eq!(early.next_expiry(), Some(t0 + KEEP));
        assert_eq!(early.expire(t0 + KEEP * 2), 1);
        assert_eq!(early.next_expiry(), None);
        assert!(early.is_empty());
    }
}
