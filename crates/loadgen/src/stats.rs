//! What the peers record: when each publisher packet left, what each subscriber received,
//! and the figures a measurement window boils down to.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde::Serialize;

/// Audio or video, for counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Opus.
    Audio,
    /// VP8.
    Video,
}

/// How long a sent packet stays findable: longer than any sane forwarding delay.
const SENT_MEMORY: Duration = Duration::from_secs(3);

/// Publisher packets by key, with their send time.
#[derive(Debug, Default)]
pub struct SentLog {
    /// When each video packet was sent, and whether it was part of a large frame.
    by_key: HashMap<u64, (Instant, bool)>,
    order: VecDeque<(Instant, u64)>,
    /// Video packets sent since the last [`Stats::reset_window`].
    pub video_sent: u64,
    /// Audio packets sent since the last window reset.
    pub audio_sent: u64,
    /// Video frames sent since the last window reset.
    pub frames_sent: u64,
}

impl SentLog {
    /// Notes one packet handed to the network at `at`.
    ///
    /// Only video is keyed: a steady test tone encodes to Opus packets that repeat within
    /// seconds, so their keys would not be unique.
    /// `large`: the packet is part of a large frame (its copies' delays are also counted
    /// apart: a large frame's fan-out is what makes the tail at a class's size).
    pub fn sent(&mut self, key: u64, kind: Kind, at: Instant, large: bool) {
        match kind {
            Kind::Audio => {
                self.audio_sent += 1;
                return;
            }
            Kind::Video => self.video_sent += 1,
        }
        self.by_key.insert(key, (at, large));
        self.order.push_back((at, key));
        while let Some(&(t, k)) = self.order.front() {
            if at.duration_since(t) < SENT_MEMORY {
                break;
            }
            self.order.pop_front();
            if self.by_key.get(&k).map(|&(sent, _)| sent) == Some(t) {
                self.by_key.remove(&k);
            }
        }
    }

    /// When the packet with `key` was sent and whether it was a large frame's, if it is known.
    pub fn sent_at(&self, key: u64) -> Option<(Instant, bool)> {
        self.by_key.get(&key).copied()
    }
}

/// Per-stream reception, by (extended) sequence number.
#[derive(Debug, Default, Clone)]
pub struct StreamRx {
    /// Packets received in the window.
    pub received: u64,
    /// Lowest sequence number seen in the window.
    pub first_seq: Option<u64>,
    /// Highest sequence number seen in the window.
    pub last_seq: u64,
}

impl StreamRx {
    fn packet(&mut self, seq: u64) {
        self.received += 1;
        self.first_seq = Some(self.first_seq.map_or(seq, |f| f.min(seq)));
        self.last_seq = self.last_seq.max(seq);
    }

    /// Packets the sequence numbers say were sent in the window.
    pub fn expected(&self) -> u64 {
        self.first_seq.map_or(0, |f| self.last_seq - f + 1)
    }

    /// Packets missing from the window's sequence number range (never negative: duplicates
    /// and retransmissions do not hide a loss elsewhere for long, but cannot make it negative).
    pub fn lost(&self) -> u64 {
        self.expected().saturating_sub(self.received)
    }
}

/// One subscriber's window.
#[derive(Debug, Default, Clone)]
pub struct SubRx {
    /// Video stream.
    pub video: StreamRx,
    /// Audio stream.
    pub audio: StreamRx,
    /// Packets whose key matched a sent packet.
    pub matched: u64,
    /// True once media flowed to this subscriber.
    pub flowing: bool,
}

/// Packets from which a video frame counts as large: a keyframe, or an inter frame as large
/// as one (the clip's scene cuts: frames of 68, 65 and 40 packets besides its keyframes of
/// 61, 26, 24 and 23; its other frames are at most 13).
pub const LARGE_FRAME: usize = 20;

/// Everything shared by the peers of one run.
#[derive(Debug, Default)]
pub struct Stats {
    /// The publisher's packets.
    pub sent: SentLog,
    /// Subscribers by index.
    pub subs: Vec<SubRx>,
    /// Forwarding delays of matched packets of large frames (see [`LARGE_FRAME`]) in the
    /// window, in microseconds.
    pub large_delays_us: Vec<u32>,
    /// Those of the other matched packets.
    pub other_delays_us: Vec<u32>,
    /// Keyframe requests (PLI/FIR) that reached the publisher.
    pub keyframe_requests: u64,
}

impl Stats {
    /// Registers a subscriber; returns its index.
    pub fn add_sub(&mut self) -> usize {
        self.subs.push(SubRx::default());
        self.subs.len() - 1
    }

    /// One packet reached subscriber `sub` at `at`.
    pub fn received(&mut self, sub: usize, kind: Kind, seq: u64, key: u64, at: Instant) {
        let Some(rx) = self.subs.get_mut(sub) else {
            return;
        };
        rx.flowing = true;
        match kind {
            Kind::Video => rx.video.packet(seq),
            Kind::Audio => rx.audio.packet(seq),
        }
        if kind == Kind::Audio {
            return;
        }
        if let Some((sent, large)) = self.sent.sent_at(key) {
            rx.matched += 1;
            let us = at.saturating_duration_since(sent).as_micros();
            let us = u32::try_from(us).unwrap_or(u32::MAX);
            if large {
                self.large_delays_us.push(us);
            } else {
                self.other_delays_us.push(us);
            }
        }
    }

    /// Starts a measurement window: counters to zero, delays forgotten.
    pub fn reset_window(&mut self) {
        for s in &mut self.subs {
            let flowing = s.flowing;
            *s = SubRx::default();
            s.flowing = flowing;
        }
        self.large_delays_us.clear();
        self.other_delays_us.clear();
        self.sent.video_sent = 0;
        self.sent.audio_sent = 0;
        self.sent.frames_sent = 0;
    }

    /// The window's figures for the client side.
    pub fn window(&self) -> WindowRx {
        let mut w = WindowRx {
            subscribers: self.subs.len(),
            video_sent: self.sent.video_sent,
            audio_sent: self.sent.audio_sent,
            frames_sent: self.sent.frames_sent,
            ..WindowRx::default()
        };
        for s in &self.subs {
            w.video_received += s.video.received;
            w.audio_received += s.audio.received;
            w.lost += s.video.lost() + s.audio.lost();
            w.expected += s.video.expected() + s.audio.expected();
            w.matched += s.matched;
            if !s.flowing {
                w.silent_subscribers += 1;
            }
        }
        let sorted = |delays: &[u32]| {
            let mut d = delays.to_vec();
            d.sort_unstable();
            d
        };
        let (large, other) = (sorted(&self.large_delays_us), sorted(&self.other_delays_us));
        let d = sorted(&[large.as_slice(), other.as_slice()].concat());
        w.delay_p50_ms = percentile(&d, 0.50);
        w.delay_p99_ms = percentile(&d, 0.99);
        w.delay_max_ms = d.last().map_or(0.0, |&v| f64::from(v) / 1000.0);
        w.delay_p99_ms_large_frames = percentile(&large, 0.99);
        w.delay_p99_ms_other = percentile(&other, 0.99);
        w.large_frame_copies_pct = 100.0 * large.len() as f64 / d.len().max(1) as f64;
        w
    }
}

/// The `q` quantile of sorted microseconds, in milliseconds.
fn percentile(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let i = ((sorted_us.len() - 1) as f64 * q).round() as usize;
    f64::from(sorted_us[i.min(sorted_us.len() - 1)]) / 1000.0
}

/// Client-side figures of one window.
#[derive(Debug, Default, Clone, Serialize)]
pub struct WindowRx {
    /// Subscribers connected.
    pub subscribers: usize,
    /// Subscribers that never received media.
    pub silent_subscribers: usize,
    /// Video packets the publisher sent.
    pub video_sent: u64,
    /// Audio packets the publisher sent.
    pub audio_sent: u64,
    /// Video frames the publisher sent.
    pub frames_sent: u64,
    /// Video packets all subscribers received.
    pub video_received: u64,
    /// Audio packets all subscribers received.
    pub audio_received: u64,
    /// Packets the sequence numbers said should have arrived.
    pub expected: u64,
    /// Sequence-number gaps over all subscribers' streams.
    pub lost: u64,
    /// Received packets whose payload matched a sent packet (the delay sample count).
    pub matched: u64,
    /// Median publisher-send to subscriber-receive delay, ms.
    pub delay_p50_ms: f64,
    /// 99th percentile of that delay, ms.
    pub delay_p99_ms: f64,
    /// Largest delay, ms.
    pub delay_max_ms: f64,
    /// 99th percentile of the delay of large frames' packets, ms.
    pub delay_p99_ms_large_frames: f64,
    /// 99th percentile of the delay of the other packets (frames under [`LARGE_FRAME`]), ms.
    pub delay_p99_ms_other: f64,
    /// Share of the delay samples that are large frames' packets, %.
    pub large_frame_copies_pct: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_count_as_loss_and_delays_are_matched_by_key() {
        let t0 = Instant::now();
        let mut s = Stats::default();
        let a = s.add_sub();
        // Packets 100-102 are a large frame's.
        for i in 0..10u64 {
            s.sent.sent(100 + i, Kind::Video, t0, i < 3);
        }
        // Packets `seqs` reach the subscriber `after` their sending.
        let receive = |s: &mut Stats, seqs: &[u64], after: Duration| {
            for &seq in seqs {
                s.received(a, Kind::Video, seq, 100 + seq, t0 + after);
            }
        };
        receive(&mut s, &[5, 6, 8, 9], Duration::from_micros(300));
        let w = s.window();
        assert_eq!(w.video_received, 4);
        assert_eq!(w.expected, 5);
        assert_eq!(w.lost, 1);
        assert_eq!(w.matched, 4);
        assert!((w.delay_p50_ms - 0.3).abs() < 1e-9);
        // The large frame's packets late, the others not: each counted on its side.
        receive(&mut s, &[0, 1], Duration::from_millis(9));
        let w = s.window();
        assert!((w.delay_p99_ms_large_frames - 9.0).abs() < 1e-9, "{w:?}");
        assert!((w.delay_p99_ms_other - 0.3).abs() < 1e-9, "{w:?}");
        assert!(
            (w.large_frame_copies_pct - 100.0 / 3.0).abs() < 1e-9,
            "{w:?}"
        );
        assert!((w.delay_p99_ms - 9.0).abs() < 1e-9, "{w:?}");
        s.reset_window();
        assert_eq!(s.window().delay_p99_ms_large_frames, 0.0);
        assert_eq!(s.window().video_received, 0);
        assert_eq!(s.window().silent_subscribers, 0, "still known to flow");
    }
}
