//! Retransmissions: one cache per track layer, shared by all its subscribers.
//!
//! A NACK asks the SFU again for a video packet a subscriber missed. Left to str0m, every
//! subscriber's connection kept its own copy of each packet it was sent (a ~430-byte entry
//! per packet besides the shared payload): the largest part of a subscriber's memory (~120
//! KB resident each at 200 students) and a sixth of each copy's time, mostly cache misses
//! on slots last touched a fan-out before. Here the teacher's packets are kept once per
//! layer ([`LayerCache`], [`RTX_CACHE_AGE`]); each subscriber stream notes in a small ring
//! which of them it sent under which sequence number ([`SentLog`], 16 bytes a packet, 256), and
//! its NACKs come to the core (str0m patched for it: `vendor/str0m/CLASSROOM.md`), which
//! rebuilds the packet exactly as it was written and has str0m send it as RTX.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use classroom_protocol::MediaKind;
use str0m::media::{Mid, Pt};
use str0m::rtp::{ExtensionValues, RtpCopy, RtpWrite, SeqNo, Vp8Descriptor, Vp8Patch};
use tracing::debug;

use super::{ConnId, Sfu};

/// How long a track's packets are kept for NACKs, and how old a packet a subscriber may
/// have resent before its round trip is known: covers any round trip worth repairing.
pub(crate) const RTX_CACHE_AGE: Duration = Duration::from_millis(1500);
/// The least a subscriber may ask for once its round trip is known: a receiver asks again
/// for a packet while its jitter buffer still waits for it (ours holds 50 ms; a browser's
/// may wait a few hundred ms for a repair), so even on a school's network a request comes
/// well within it.
const RTX_AGE_MIN: Duration = Duration::from_millis(300);
/// Packets a layer's cache keeps at most, however fast it sends: 1.5 s of ~27 Mbit/s.
const CACHED_MAX: usize = 4096;

/// How old a packet a subscriber with a round trip of `rtt` is resent: the first request
/// and a few repeats (each a round trip later) on top of the least, rounded up to 100 ms, at
/// most [`RTX_CACHE_AGE`]. Older requests are not worth the bandwidth: the receiver has
/// given the frame up by then.
pub(crate) fn rtx_age(rtt: Duration) -> Duration {
    let wanted = Duration::from_millis(250).saturating_add(rtt.saturating_mul(4));
    let rounded = wanted.as_millis().div_ceil(100).saturating_mul(100);
    Duration::from_millis(u64::try_from(rounded).unwrap_or(u64::MAX))
        .clamp(RTX_AGE_MIN, RTX_CACHE_AGE)
}

/// Sets up the outgoing stream on `mid`: no cache of its own (video NACKs come to the core,
/// audio is not resent) and no pacing.
pub(crate) fn configure_out_stream(rtc: &mut str0m::Rtc, mid: Mid, kind: MediaKind) {
    if let Some(tx) = rtc.direct_api().stream_tx_by_mid(mid, None) {
        // No cache and no resend cap (str0m's cap files every packet sent in a second-long
        // history, ~12 KB a video stream): `ResendCap` does that job for NACKs answered here.
        tx.set_rtx_cache(0, Duration::ZERO, None);
        tx.set_nacks_to_app(kind == MediaKind::Video);
        // Forward as packets arrive: the publisher's encoder and pacer already spread them,
        // and pacing again here held keyframes back by up to ~200 ms (p99 of the load
        // generator's delay). Only matters when `EGRESS_TWCC_BWE` turns str0m's pacer on.
        tx.set_unpaced(true);
    }
}

/// One of the teacher's packets as its subscribers' copies were built from it.
#[derive(Debug, Clone)]
pub(crate) struct Cached {
    /// Extended incoming sequence number.
    pub seq: u64,
    /// The publisher's payload type.
    pub pt: Pt,
    /// When it arrived (the copies' wallclock).
    pub arrival: Instant,
    pub payload: Arc<[u8]>,
    /// What every copy shares (payload, marker, the header extension values the copies
    /// carry, the wallclock), made once per packet: a copy is this with its own numbers
    /// ([`Cached::copy`]), sent without a write of its own (`Rtc::send_rtp_now`).
    pub write: RtpWrite,
}

impl Cached {
    /// The packet as its copies are built from it.
    pub fn new(
        seq: u64,
        pt: Pt,
        marker: bool,
        arrival: Instant,
        payload: Arc<[u8]>,
        ext: ExtensionValues,
    ) -> Self {
        let write = RtpWrite::new(pt, seq.into(), 0, arrival, payload.clone())
            .marker(marker)
            .ext_vals(ext);
        Cached {
            seq,
            pt,
            arrival,
            payload,
            write,
        }
    }

    /// Its copy on a subscriber stream, as a write of its own (a resend's): the payload
    /// type, sequence number and RTP time it has there, and the VP8 picture id to write when
    /// the stream rewrites them (with the payload's descriptor). The first send (`forward`)
    /// and a resend ([`Sfu::answer_nacks`]) are built from the same [`Cached::copy`], so a
    /// resend is the copy as first sent. Also returns the picture id the copy was patched
    /// with.
    pub fn write(
        &self,
        pt: Pt,
        seq: u64,
        time: u32,
        nackable: bool,
        picture: Option<(u16, Vp8Descriptor)>,
    ) -> (RtpWrite, Option<u16>) {
        let patch = Self::patch(picture);
        let copy = Self::copy(pt, seq, time, nackable, patch.map(|(p, _)| p));
        (self.write.with_copy(copy), patch.map(|(_, pid)| pid))
    }

    /// The VP8 patch that writes picture id `pid` into a payload with descriptor `d`, and
    /// the picture id, when it can be written.
    pub fn patch(picture: Option<(u16, Vp8Descriptor)>) -> Option<(Vp8Patch, u16)> {
        let (pid, d) = picture?;
        Some((d.patch().picture_id(pid).build().ok()?, pid))
    }

    /// What one copy has of its own on its stream, the patch already made
    /// ([`Cached::patch`]).
    pub fn copy(pt: Pt, seq: u64, time: u32, nackable: bool, patch: Option<Vp8Patch>) -> RtpCopy {
        RtpCopy {
            pt,
            seq_no: seq.into(),
            time,
            nackable,
            vp8_patch: patch,
        }
    }
}

/// The recent packets of one layer of a track (or of a track without layers), in sequence
/// order, for [`RTX_CACHE_AGE`].
#[derive(Debug, Default)]
pub(crate) struct LayerCache {
    packets: VecDeque<Cached>,
}

impl LayerCache {
    /// Keeps `packet` (a late one in its place; a duplicate once), dropping what has aged.
    pub fn push(&mut self, packet: Cached) {
        let now = packet.arrival;
        while self.packets.front().is_some_and(|p| {
            now.saturating_duration_since(p.arrival) > RTX_CACHE_AGE
                || self.packets.len() >= CACHED_MAX
        }) {
            self.packets.pop_front();
        }
        match self.packets.back() {
            Some(last) if last.seq >= packet.seq => {
                if let Err(at) = self.packets.binary_search_by_key(&packet.seq, |p| p.seq) {
                    self.packets.insert(at, packet);
                }
            }
            _ => self.packets.push_back(packet),
        }
    }

    /// The packet with extended sequence number `seq`, if kept.
    pub fn get(&self, seq: u64) -> Option<&Cached> {
        let first = self.packets.front()?.seq;
        // Usually no gaps: the packet sits at its distance from the first.
        let guess = usize::try_from(seq.checked_sub(first)?).ok()?;
        if let Some(p) = self.packets.get(guess)
            && p.seq == seq
        {
            return Some(p);
        }
        let at = self.packets.binary_search_by_key(&seq, |p| p.seq).ok()?;
        self.packets.get(at)
    }

    /// The packet whose sequence number ends in the 32 bits `low`, if kept.
    pub fn get_low(&self, low: u32) -> Option<&Cached> {
        let last = self.packets.back()?.seq;
        // The candidate at or below the newest, and the one 2^32 earlier is long gone.
        let high = last & !u64::from(u32::MAX);
        let seq = high | u64::from(low);
        let seq = if seq > last {
            seq.checked_sub(1 << 32)?
        } else {
            seq
        };
        self.get(seq)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.packets.len()
    }
}

/// Slots of a [`SentLog`]: the packets of the longest a subscriber may ask back
/// ([`RTX_CACHE_AGE`]) of our 1.5 Mbit/s camera, or of an ocean's round trip (900 ms) at 2.2
/// Mbit/s; a 1080p screen share's keyframe (~200 packets) fits. 4 KB a video stream: the old
/// per-connection caches held 32-400 packets of ~430 bytes.
const SENT_SLOTS: usize = 256;

/// What one copy was: which of the layer's packets, with which time and picture id.
#[derive(Debug, Clone, Copy, Default)]
struct Sent {
    /// The incoming sequence number's low 32 bits.
    in_seq: u32,
    /// The outgoing RTP time.
    time: u32,
    /// The outgoing sequence number's low 16 bits, to tell the slot's packet.
    out_seq: u16,
    /// The outgoing VP8 picture id, or `NO_PICTURE_ID`.
    picture_id: u16,
    /// The layer's index in its track's caches.
    layer: u8,
    used: bool,
}

const NO_PICTURE_ID: u16 = u16::MAX;

/// A subscriber video stream's record of the copies it was sent, by outgoing sequence number,
/// for the last [`SENT_SLOTS`]: a NACK is answered only for a packet this subscriber was
/// sent, rebuilt as it was. Allocated at the first copy.
#[derive(Debug, Default)]
pub(crate) struct SentLog {
    slots: Vec<Sent>,
    /// The first copy's outgoing sequence number.
    first: u64,
}

/// Where a copy came from, as [`SentLog::get`] finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SentCopy {
    pub in_seq_low: u32,
    pub time: u32,
    pub picture_id: Option<u16>,
    pub layer: u8,
}

impl SentLog {
    /// The copy with outgoing sequence number `out_seq` was sent.
    pub fn note(
        &mut self,
        out_seq: u64,
        in_seq: u64,
        time: u32,
        picture_id: Option<u16>,
        layer: u8,
    ) {
        if self.slots.is_empty() {
            self.slots = vec![Sent::default(); SENT_SLOTS];
            self.first = out_seq;
        }
        let slot = &mut self.slots[(out_seq % SENT_SLOTS as u64) as usize];
        *slot = Sent {
            in_seq: in_seq as u32,
            time,
            out_seq: out_seq as u16,
            picture_id: picture_id.unwrap_or(NO_PICTURE_ID),
            layer,
            used: true,
        };
    }

    /// The first copy's outgoing sequence number (0 before any).
    pub fn first(&self) -> u64 {
        self.first
    }

    /// The copy sent as `out_seq`, if it is among the last [`SENT_SLOTS`].
    pub fn get(&self, out_seq: u64) -> Option<SentCopy> {
        let slot = self.slots.get((out_seq % SENT_SLOTS as u64) as usize)?;
        (slot.used && slot.out_seq == out_seq as u16).then_some(SentCopy {
            in_seq_low: slot.in_seq,
            time: slot.time,
            picture_id: (slot.picture_id != NO_PICTURE_ID).then_some(slot.picture_id),
            layer: slot.layer,
        })
    }
}

/// Keeps a subscriber's resends to at most as many packets as it was sent lately (a ratio
/// of resent to all of 0.5): at str0m's 15 % a 4 % lossy link in each direction already lost
/// frames for good, and without a cap a subscriber's NACKs could make the server resend
/// without bound. Both counts halve every second. Sent packets are read off the stream's
/// outgoing sequence numbers, so nothing is counted per copy.
#[derive(Debug, Default)]
pub(crate) struct ResendCap {
    /// When the counts last halved.
    halved_at: Option<Instant>,
    /// The outgoing sequence number sent packets are counted up to.
    counted_to: Option<u64>,
    sent: u64,
    resent: u64,
}

impl ResendCap {
    /// Whether one more resend is allowed at `now` on a stream whose first and latest
    /// outgoing sequence numbers are `first` and `last`; counted when it is.
    pub fn allow(&mut self, now: Instant, first: u64, last: u64) -> bool {
        let halved_at = *self.halved_at.get_or_insert(now);
        let seconds = now.saturating_duration_since(halved_at).as_secs();
        if seconds > 0 {
            let halvings = seconds.min(63) as u32;
            self.sent >>= halvings;
            self.resent >>= halvings;
            self.halved_at = Some(now);
        }
        let counted_to = self.counted_to.get_or_insert(first);
        self.sent = self.sent.saturating_add(last.saturating_sub(*counted_to));
        *counted_to = last.max(*counted_to);
        if self.resent < self.sent {
            self.resent += 1;
            true
        } else {
            false
        }
    }
}

impl Sfu {
    /// Subscriber `conn` asked again for `seq_nos` of its stream `mid`: each that it was sent,
    /// that is still kept and young enough for its round trip, and within its [`ResendCap`]
    /// is written back to its connection to go out as RTX.
    pub(super) fn answer_nacks(&mut self, now: Instant, conn: ConnId, mid: Mid, seq_nos: &[SeqNo]) {
        let Sfu {
            participants,
            tracks,
            metrics,
            maybe_dirty,
            ..
        } = self;
        let Some(side) = participants
            .get_mut(&conn)
            .and_then(|p| p.subscribe.as_mut())
        else {
            return;
        };
        let Some((num, out)) = side
            .streams
            .iter_mut()
            .find(|(_, o)| o.mid == mid && o.video)
        else {
            return;
        };
        let Some(track) = tracks.iter().find(|t| t.num == *num) else {
            return;
        };
        let (first_out, last_out) = (out.sent.first(), out.rewriter.last_out_seq());
        let (mut resent, mut missed) = (0u64, 0u64);
        for seq in seq_nos {
            let copy = out.sent.get(**seq);
            let packet = copy.and_then(|c| {
                let (_, cache) = track.caches.get(usize::from(c.layer))?;
                cache.get_low(c.in_seq_low)
            });
            let (Some(copy), Some(packet)) = (copy, packet) else {
                missed += 1;
                continue;
            };
            if now.saturating_duration_since(packet.arrival) > out.rtx_age
                || !out.cap.allow(now, first_out, last_out)
            {
                missed += 1;
                continue;
            }
            let Some(Some(params)) = track.codecs.get(&packet.pt).copied() else {
                missed += 1;
                continue;
            };
            let Some(out_pt) = out.payload_type(&side.rtc, packet.pt, &params) else {
                missed += 1;
                continue;
            };
            // The descriptor, parsed again: copies carry a picture id only where layers
            // switch, and only resends need it here.
            let picture = copy
                .picture_id
                .and_then(|pid| Vp8Descriptor::parse(&packet.payload).ok().map(|d| (pid, d)));
            let (write, _) = packet.write(out_pt, **seq, copy.time, true, picture);
            let written = side
                .rtc
                .direct_api()
                .stream_tx_by_mid(mid, None)
                .is_some_and(|tx| tx.write_resend(write));
            if written {
                resent += 1;
            } else {
                missed += 1;
            }
        }
        if resent > 0 {
            side.dirty = true;
            maybe_dirty.push(conn);
        }
        debug!(conn, %mid, resent, missed, "NACK answered");
        metrics.rtx(resent, missed);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use str0m::rtp::ExtensionValues;

    use super::{
        CACHED_MAX, Cached, LayerCache, RTX_CACHE_AGE, ResendCap, SENT_SLOTS, SentCopy, SentLog,
        rtx_age,
    };

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn packet(seq: u64, arrival: Instant) -> Cached {
        Cached::new(
            seq,
            96.into(),
            false,
            arrival,
            Arc::from(seq.to_be_bytes().as_slice()),
            ExtensionValues::default(),
        )
    }

    #[test]
    fn a_subscriber_may_ask_back_what_its_round_trip_needs() {
        // A school's network (or loopback): the least.
        assert_eq!(rtx_age(ms(0)), ms(300));
        assert_eq!(rtx_age(ms(5)), ms(300));
        // Across a country: four round trips on top, rounded up to 100 ms.
        assert_eq!(rtx_age(ms(40)), ms(500));
        // Across an ocean, and anything longer: the most.
        assert_eq!(rtx_age(ms(150)), ms(900));
        assert_eq!(rtx_age(ms(400)), RTX_CACHE_AGE);
        assert_eq!(rtx_age(Duration::MAX), RTX_CACHE_AGE);
    }

    #[test]
    fn a_layer_keeps_its_packets_for_the_cache_age_in_order() {
        let t0 = Instant::now();
        let mut cache = LayerCache::default();
        for seq in 100..200 {
            cache.push(packet(seq, t0 + ms(seq - 100)));
        }
        assert_eq!(cache.get(150).map(|p| p.seq), Some(150));
        assert!(cache.get(99).is_none() && cache.get(200).is_none());
        // A late packet lands in its place; a duplicate is kept once.
        let mut gappy = LayerCache::default();
        for seq in [1, 2, 4, 5, 3, 3] {
            gappy.push(packet(seq, t0));
        }
        assert_eq!(gappy.len(), 5);
        for seq in 1..=5 {
            assert_eq!(gappy.get(seq).map(|p| p.seq), Some(seq));
        }
        // Past the age the oldest go.
        cache.push(packet(200, t0 + RTX_CACHE_AGE + ms(50)));
        assert!(cache.get(100).is_none(), "aged out");
        assert!(cache.get(160).is_some());
        // A sequence number's low 32 bits find it, across a wrap of the low bits too.
        let mut wrap = LayerCache::default();
        let base = (7u64 << 32) - 2;
        for seq in base..base + 4 {
            wrap.push(packet(seq, t0));
        }
        for seq in base..base + 4 {
            assert_eq!(wrap.get_low(seq as u32).map(|p| p.seq), Some(seq));
        }
        assert!(wrap.get_low((base - 1) as u32).is_none());
    }

    #[test]
    fn a_layer_keeps_at_most_its_bound_however_fast_it_sends() {
        let t0 = Instant::now();
        let mut cache = LayerCache::default();
        for seq in 0..(CACHED_MAX as u64 + 100) {
            cache.push(packet(seq, t0));
        }
        assert_eq!(cache.len(), CACHED_MAX);
        assert!(cache.get(99).is_none());
        assert!(cache.get(CACHED_MAX as u64 + 99).is_some());
    }

    #[test]
    fn a_subscriber_is_resent_only_what_it_was_sent() {
        let mut log = SentLog::default();
        assert_eq!(log.get(5), None, "nothing sent yet");
        log.note(1000, 70_000, 9000, Some(42), 1);
        log.note(1001, 70_001, 9000, None, 1);
        assert_eq!(
            log.get(1000),
            Some(SentCopy {
                in_seq_low: 70_000,
                time: 9000,
                picture_id: Some(42),
                layer: 1
            })
        );
        assert_eq!(log.get(1001).and_then(|c| c.picture_id), None);
        // A number never sent (a gap while the track was hidden), or one whose slot a later
        // copy took: nothing.
        assert_eq!(log.get(1002), None);
        log.note(1000 + SENT_SLOTS as u64, 71_000, 9900, None, 0);
        assert_eq!(log.get(1000), None);
        assert_eq!(log.get(1000 + SENT_SLOTS as u64).map(|c| c.layer), Some(0));
    }

    #[test]
    fn any_sequence_numbers_a_subscriber_sends_are_refused_or_found_never_a_panic() {
        // NACKs carry whatever a subscriber writes; str0m lengthens them near the last number
        // sent, so any u64 may reach the caches.
        let t0 = Instant::now();
        let mut cache = LayerCache::default();
        let mut log = SentLog::default();
        let extremes = [0, 1, u64::from(u32::MAX), 1 << 32, u64::MAX - 1, u64::MAX];
        for seq in extremes {
            assert!(cache.get(seq).is_none() && log.get(seq).is_none());
            assert!(cache.get_low(seq as u32).is_none());
        }
        for seq in [5, 6, 7, u64::MAX - 1, u64::MAX] {
            cache.push(packet(seq, t0));
            log.note(seq, seq, 0, None, u8::MAX);
        }
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if let Some(p) = cache.get(x) {
                assert_eq!(p.seq, x);
            }
            let _ = (cache.get_low(x as u32), log.get(x));
        }
        for seq in extremes {
            let _ = (cache.get(seq), cache.get_low(seq as u32), log.get(seq));
        }
        assert_eq!(cache.get(u64::MAX).map(|p| p.seq), Some(u64::MAX));
        // A clock or numbers that run backwards only refuse.
        let mut cap = ResendCap::default();
        assert!(cap.allow(t0 + ms(10), 0, u64::MAX));
        assert!(
            cap.allow(t0, 10, 5),
            "an earlier time and number take nothing away"
        );
    }

    #[test]
    fn resends_stay_within_what_was_sent_and_the_allowance_comes_back() {
        let t0 = Instant::now();
        let mut cap = ResendCap::default();
        // The stream's first packet was 100, nothing after it yet: refused.
        assert!(!cap.allow(t0, 100, 100));
        // 100 packets sent since: up to 100 resends.
        let allowed = (0..150)
            .filter(|_| cap.allow(t0 + ms(500), 100, 200))
            .count();
        assert_eq!(allowed, 100);
        // A second later the counts halve (sent and resent 100 -> 50) and 60 more went out:
        // 60 more resends.
        let allowed = (0..150)
            .filter(|_| cap.allow(t0 + ms(1600), 100, 260))
            .count();
        assert_eq!(allowed, 60);
        // Long quiet: the counts fade, and what is sent anew decides.
        let allowed = (0..150)
            .filter(|_| cap.allow(t0 + ms(90_000), 100, 270))
            .count();
        assert_eq!(allowed, 10);
        // A first request well into a stream counts everything sent since its first packet.
        let mut fresh = ResendCap::default();
        assert!(fresh.allow(t0, 5, 400));
    }
}
