//! One continuous outgoing RTP stream per subscriber and track, whichever incoming layer
//! feeds it.
//!
//! A subscriber's decoder sees one SSRC whose sequence numbers, RTP times and VP8 picture ids
//! run on without jumps, even when the SFU switches it from one simulcast layer to another
//! (each layer has its own numbering). Within one layer the mapping is a constant offset, so a
//! gap stays a gap (the subscriber NACKs it, and a late retransmission fills it) and a
//! reordered packet keeps its place. A switch starts a new *epoch* whose offsets make the
//! first packet follow the last one sent.

use std::time::Instant;

/// Sequence-number jumps larger than this within one layer are treated as the publisher
/// restarting its stream, not as loss, so the subscriber does not NACK thousands of packets.
const MAX_SEQ_JUMP: u64 = 3000;

/// Where one incoming packet lands in the outgoing stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rewritten {
    /// Extended outgoing sequence number.
    pub seq: u64,
    /// Outgoing RTP time.
    pub time: u32,
    /// Outgoing VP8 picture id, when the incoming one must change.
    pub picture_id: Option<u16>,
}

/// The incoming packet as the rewriter needs it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Incoming {
    /// Extended incoming sequence number (str0m unrolls the 16-bit one).
    pub seq: u64,
    /// Incoming RTP time.
    pub time: u32,
    /// VP8 picture id (15 bits), if the payload has one.
    pub picture_id: Option<u16>,
    /// When it arrived.
    pub arrival: Instant,
}

/// Rewriting state of one outgoing stream.
#[derive(Debug)]
pub(crate) struct Rewriter {
    clock_rate: u32,
    /// `None` until the first packet.
    epoch: Option<Epoch>,
    last_out_seq: u64,
    last_out_time: u32,
    last_out_at: Option<Instant>,
    last_out_pid: Option<u16>,
    last_in_seq: u64,
}

#[derive(Debug, Clone, Copy)]
struct Epoch {
    first_in_seq: u64,
    seq_offset: i64,
    time_offset: u32,
    /// Added to picture ids (mod 2^15); 0 in the first epoch so ids pass untouched.
    pid_offset: u16,
}

impl Rewriter {
    /// A rewriter for a stream whose RTP clock runs at `clock_rate` Hz.
    pub fn new(clock_rate: u32) -> Self {
        Rewriter {
            clock_rate,
            epoch: None,
            last_out_seq: 0,
            last_out_time: 0,
            last_out_at: None,
            last_out_pid: None,
            last_in_seq: 0,
        }
    }

    /// The latest outgoing sequence number (0 before the first packet).
    pub fn last_out_seq(&self) -> u64 {
        self.last_out_seq
    }

    /// Maps a packet of the current layer; with `switch`, the packet (a keyframe's first)
    /// starts a new epoch that continues the outgoing stream. Returns `None` for a packet
    /// that belongs before the current epoch (a late packet of the previous layer).
    pub fn rewrite(&mut self, pkt: Incoming, switch: bool) -> Option<Rewritten> {
        let restart = self.epoch.is_some_and(|e| {
            pkt.seq >= e.first_in_seq && pkt.seq > self.last_in_seq.saturating_add(MAX_SEQ_JUMP)
        });
        let epoch = match self.epoch {
            Some(e) if !switch && !restart => e,
            _ => self.start_epoch(pkt),
        };
        if pkt.seq < epoch.first_in_seq {
            return None;
        }
        let seq = i64::try_from(pkt.seq).ok()?.checked_add(epoch.seq_offset)?;
        let seq = u64::try_from(seq).ok()?;
        let time = pkt.time.wrapping_add(epoch.time_offset);
        let picture_id = pkt
            .picture_id
            .filter(|_| epoch.pid_offset != 0)
            .map(|pid| pid.wrapping_add(epoch.pid_offset) & 0x7fff);
        if seq > self.last_out_seq || self.last_out_at.is_none() {
            self.last_out_seq = seq;
            self.last_out_time = time;
            self.last_out_at = Some(pkt.arrival);
            self.last_in_seq = pkt.seq;
            if let Some(pid) = picture_id.or(pkt.picture_id) {
                self.last_out_pid = Some(pid);
            }
        }
        Some(Rewritten {
            seq,
            time,
            picture_id,
        })
    }

    fn start_epoch(&mut self, pkt: Incoming) -> Epoch {
        let epoch = match self.last_out_at {
            // The very first packet: pass numbers through unchanged.
            None => Epoch {
                first_in_seq: pkt.seq,
                seq_offset: 0,
                time_offset: 0,
                pid_offset: 0,
            },
            Some(at) => {
                let elapsed = pkt.arrival.saturating_duration_since(at);
                let ticks = (elapsed.as_secs_f64() * f64::from(self.clock_rate)) as u32;
                let next_time = self.last_out_time.wrapping_add(ticks.max(1));
                let pid_offset = match (self.last_out_pid, pkt.picture_id) {
                    (Some(last), Some(pid)) => last.wrapping_add(1).wrapping_sub(pid) & 0x7fff,
                    _ => 0,
                };
                Epoch {
                    first_in_seq: pkt.seq,
                    // Saturating: str0m's extended numbers stay far below 2^63, but they are
                    // the peer's to drive; a nonsense offset only drops the packets.
                    seq_offset: i64::try_from(self.last_out_seq)
                        .unwrap_or(i64::MAX)
                        .saturating_add(1)
                        .saturating_sub(i64::try_from(pkt.seq).unwrap_or(i64::MAX)),
                    time_offset: next_time.wrapping_sub(pkt.time),
                    pid_offset,
                }
            }
        };
        self.epoch = Some(epoch);
        // A new epoch may start below the last outgoing number (a layer with lower
        // numbering); the first packet of it must count as the newest.
        self.last_out_at = None;
        epoch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn pkt(t0: Instant, seq: u64, time: u32, pid: Option<u16>, ms: u64) -> Incoming {
        Incoming {
            seq,
            time,
            picture_id: pid,
            arrival: t0 + Duration::from_millis(ms),
        }
    }

    #[test]
    fn one_layer_passes_numbers_through_and_keeps_gaps_and_order() {
        let t0 = Instant::now();
        let mut r = Rewriter::new(90_000);
        let a = r.rewrite(pkt(t0, 100, 9000, Some(5), 0), false).expect("a");
        assert_eq!((a.seq, a.time, a.picture_id), (100, 9000, None));
        // 101 lost, 103 before 102.
        let c = r
            .rewrite(pkt(t0, 103, 12000, Some(7), 66), false)
            .expect("c");
        let b = r
            .rewrite(pkt(t0, 102, 12000, Some(7), 67), false)
            .expect("b");
        assert_eq!((b.seq, c.seq), (102, 103));
    }

    #[test]
    fn a_switch_continues_numbers_time_and_picture_ids() {
        let t0 = Instant::now();
        let mut r = Rewriter::new(90_000);
        for i in 0..10u64 {
            r.rewrite(
                pkt(t0, 1000 + i, 3000 * i as u32, Some(i as u16), i * 33),
                false,
            )
            .expect("low layer");
        }
        // The high layer numbers everything differently; its keyframe arrives 33 ms later.
        let k = r
            .rewrite(pkt(t0, 50_000, 777_777, Some(30_000), 9 * 33 + 33), true)
            .expect("switch");
        assert_eq!(k.seq, 1010);
        assert_eq!(k.time, 27_000 + 2970);
        assert_eq!(k.picture_id, Some(10));
        let n = r
            .rewrite(
                pkt(t0, 50_001, 777_777 + 3000, Some(30_001), 9 * 33 + 66),
                false,
            )
            .expect("next");
        assert_eq!(
            (n.seq, n.time, n.picture_id),
            (1011, 27_000 + 5970, Some(11))
        );
        // A straggler of the old layer, numbered before the switch, is dropped.
        assert!(r.rewrite(pkt(t0, 49_999, 0, None, 400), false).is_none());
    }

    #[test]
    fn picture_ids_wrap_at_15_bits() {
        let t0 = Instant::now();
        let mut r = Rewriter::new(90_000);
        r.rewrite(pkt(t0, 1, 0, Some(0x7fff), 0), false)
            .expect("first");
        let s = r.rewrite(pkt(t0, 9, 0, Some(3), 33), true).expect("switch");
        assert_eq!(s.picture_id, Some(0));
    }

    #[test]
    fn a_huge_jump_restarts_instead_of_opening_a_gap() {
        let t0 = Instant::now();
        let mut r = Rewriter::new(48_000);
        r.rewrite(pkt(t0, 10, 0, None, 0), false).expect("first");
        let j = r
            .rewrite(pkt(t0, 60_000, 480, None, 10), false)
            .expect("jump");
        assert_eq!(j.seq, 11);
    }
}
