//! Each subscriber's retransmission cache: str0m keeps the video packets sent on a
//! subscriber's stream so its NACKs are answered without asking the publisher, and the cache
//! is most of what a subscriber costs in memory (each entry is str0m's whole packet, ~430
//! bytes besides the payload, which the copies share). So it is sized by what it must cover:
//! how long (the subscriber's round trip, [`rtx_age`]) and how many packets that is for the
//! track being sent ([`PacketRate`], [`rtx_slots`]).

use std::time::{Duration, Instant};

use classroom_protocol::MediaKind;
use str0m::media::Mid;

use super::forward::OutStream;

/// Video packets kept per subscriber stream for NACKs, at most: about 1.5 s of a 2 Mbit/s
/// camera. str0m's default (2000 packets, 3 s) made the cache most of a subscriber's memory.
pub(crate) const RTX_CACHE_PACKETS: usize = 400;
/// The fewest packets a cache sized for its track keeps.
const RTX_SLOTS_MIN: usize = 32;
/// How long packets are kept before the round trip is known: covers any round trip worth
/// repairing.
pub(crate) const RTX_CACHE_AGE: Duration = Duration::from_millis(1500);
/// The least a cache keeps once the round trip is known: a receiver asks again for a packet
/// while its jitter buffer still waits for it (ours holds 50 ms; a browser's may wait a few
/// hundred ms for a repair), so even on a school's network a request comes well within it.
const RTX_AGE_MIN: Duration = Duration::from_millis(300);

/// How long a subscriber stream's cache keeps packets for a round trip of `rtt`: the first
/// request and a few repeats (each a round trip later) on top of the least, rounded up to
/// 100 ms, at most [`RTX_CACHE_AGE`]. With the cache's age the memory follows the round
/// trip: a class on one network keeps a third of what a class across an ocean keeps.
pub(crate) fn rtx_age(rtt: Duration) -> Duration {
    let wanted = Duration::from_millis(250).saturating_add(rtt.saturating_mul(4));
    let rounded = wanted.as_millis().div_ceil(100).saturating_mul(100);
    Duration::from_millis(u64::try_from(rounded).unwrap_or(u64::MAX))
        .clamp(RTX_AGE_MIN, RTX_CACHE_AGE)
}

/// Packets a cache keeping `age` must hold for a track that sends `per_second` packets in
/// frames of up to `largest_frame` packets: what the track sends in that time, or its
/// largest frame and half the age's worth after it, whichever is more. Not the largest frame
/// on top of the whole age: a frame that big is a keyframe (or a screen that changed whole),
/// and what it pushes out are packets of frames before it, which a decoder that has the
/// keyframe no longer needs; the half age after it keeps the keyframe itself (the packet most
/// worth repairing) through the first requests for it and their repeats.
fn rtx_need(age: Duration, per_second: u32, largest_frame: u32) -> u128 {
    let in_age = (u128::from(per_second) * age.as_millis()).div_ceil(1000);
    in_age.max(u128::from(largest_frame) + in_age.div_ceil(2))
}

/// The size a cache is given for [`rtx_need`]: an eighth again and a few more, within
/// [`RTX_SLOTS_MIN`] and [`RTX_CACHE_PACKETS`].
pub(crate) fn rtx_slots(age: Duration, per_second: u32, largest_frame: u32) -> usize {
    let need = usize::try_from(rtx_need(age, per_second, largest_frame)).unwrap_or(usize::MAX);
    need.saturating_add(need / 8)
        .saturating_add(8)
        .clamp(RTX_SLOTS_MIN, RTX_CACHE_PACKETS)
}

/// Whether a cache keeping `current` should keep `wanted` instead: at half or less, or half
/// as long again or more. Resizing empties the cache, so a round trip that wanders (jitter,
/// a busy moment) must not keep emptying it; the 250 ms [`rtx_age`] adds to the round trips
/// covers what is in between.
pub(crate) fn rtx_resize(current: Duration, wanted: Duration) -> bool {
    let (current, wanted) = (current.as_millis(), wanted.as_millis());
    wanted.saturating_mul(2) <= current || wanted.saturating_mul(2) >= current.saturating_mul(3)
}

/// What one layer of a track sends, for sizing its subscribers' caches: its busiest second
/// and its largest frame (in packets), both of the last one to two minutes. Peaks, not the
/// latest figures: resizing empties a cache, so the size must not follow a screen share
/// between a still slide and a video, or a camera through a pause.
#[derive(Debug, Default, Clone)]
pub(crate) struct PacketRate {
    /// The current second: when it began and the packets in it so far.
    second: Option<(Instant, u32)>,
    /// Packets of the frame being received.
    frame: u32,
    /// The current period: when it began, and its busiest second and largest frame so far.
    period: Option<(Instant, Peaks)>,
    /// The period before.
    last_period: Peaks,
}

/// The most packets in a second and in a frame.
#[derive(Debug, Default, Clone, Copy)]
struct Peaks {
    second: u32,
    frame: u32,
}

/// How long a peak counts: our teacher's camera sends a keyframe every 2 s and its screen
/// every 3 s, OBS typically every 2 s; a browser only when asked (a student joining), so a
/// keyframe's size is remembered a while. One that comes after it was forgotten and does not
/// fit is cached whole from the next receiver report on.
const RATE_PERIOD: Duration = Duration::from_secs(60);
const SECOND: Duration = Duration::from_secs(1);

impl PacketRate {
    /// A packet arrived at `now`; `new_frame` when it is the first of its frame.
    pub fn on_packet(&mut self, now: Instant, new_frame: bool) {
        let (start, count) = self.second.get_or_insert((now, 0));
        if now.saturating_duration_since(*start) >= SECOND {
            (*start, *count) = (now, 0);
        }
        *count = count.saturating_add(1);
        let in_second = *count;
        self.frame = if new_frame {
            1
        } else {
            self.frame.saturating_add(1)
        };
        let (start, peaks) = self.period.get_or_insert((now, Peaks::default()));
        if now.saturating_duration_since(*start) >= RATE_PERIOD {
            self.last_period = *peaks;
            (*start, *peaks) = (now, Peaks::default());
        }
        peaks.second = peaks.second.max(in_second);
        peaks.frame = peaks.frame.max(self.frame);
    }

    fn peaks(&self) -> Peaks {
        let current = self.period.map(|(_, p)| p).unwrap_or_default();
        Peaks {
            second: current.second.max(self.last_period.second),
            frame: current.frame.max(self.last_period.frame),
        }
    }

    /// Packets in the busiest second lately.
    pub fn per_second(&self) -> u32 {
        self.peaks().second
    }

    /// The largest frame lately, in packets.
    pub fn largest_frame(&self) -> u32 {
        self.peaks().frame
    }
}

/// Sets up the outgoing stream on `mid`: its retransmission cache (video only: audio is not
/// resent) and no pacing.
pub(crate) fn configure_out_stream(rtc: &mut str0m::Rtc, mid: Mid, kind: MediaKind) {
    let packets = if kind == MediaKind::Video {
        RTX_CACHE_PACKETS
    } else {
        0
    };
    if let Some(tx) = rtc.direct_api().stream_tx_by_mid(mid, None) {
        set_rtx_cache(tx, packets, RTX_CACHE_AGE);
        // Forward as packets arrive: the publisher's encoder and pacer already spread them,
        // and pacing again here held keyframes back by up to ~200 ms (p99 of the load
        // generator's delay). Only matters when `EGRESS_TWCC_BWE` turns str0m's pacer on.
        tx.set_unpaced(true);
    }
}

/// Sizes an outgoing stream's retransmission cache (emptying it).
fn set_rtx_cache(tx: &mut str0m::rtp::StreamTx, packets: usize, age: Duration) {
    // Resends may be up to half of what is sent before str0m drops queued ones: at 15 %
    // (its default) a 4 % lossy link in each direction already lost frames for good. A
    // stream that caches nothing (audio) resends nothing, so it gets no cap: with one,
    // str0m files every packet sent in a second-long history to compute the ratio
    // (~1.5 KB a student for the voice, and a push per copy).
    let cap = (packets > 0).then_some(0.5);
    tx.set_rtx_cache(packets, age, cap);
}

/// The age and size a cache keeping `current` (age, packets) should have for a round trip
/// of `rtt` and a track sending `rate` (packets per second, largest frame), or `None` to
/// leave it. Resizing empties it, so: the age only when it changed enough
/// ([`rtx_resize`]); grown as soon as it holds less than the track needs (a keyframe that
/// does not fit cannot be repaired); shrunk only to half or less.
fn refit(current: (Duration, usize), rtt: Duration, rate: (u32, u32)) -> Option<(Duration, usize)> {
    let age = rtx_age(rtt);
    let slots = rtx_slots(age, rate.0, rate.1);
    let short = (current.1 as u128) < rtx_need(age, rate.0, rate.1).min(slots as u128);
    (rtx_resize(current.0, age) || short || slots.saturating_mul(2) <= current.1)
        .then_some((age, slots))
}

/// A subscriber's receiver report gave the round trip of its video stream `out`, which
/// sends a track at `rate`: its cache is sized for both ([`rtx_age`], [`rtx_slots`]) when
/// the age changed enough ([`rtx_resize`]), the cache holds less than the track needs, or
/// twice what it is given. True when it was resized.
pub(crate) fn fit_rtx_cache(
    rtc: &mut str0m::Rtc,
    out: &mut OutStream,
    rtt: Duration,
    rate: (u32, u32),
) -> bool {
    if !out.video {
        return false;
    }
    let Some((age, slots)) = refit((out.rtx_age, out.rtx_slots), rtt, rate) else {
        return false;
    };
    let mut api = rtc.direct_api();
    let Some(tx) = api.stream_tx_by_mid(out.mid, None) else {
        return false;
    };
    set_rtx_cache(tx, slots, age);
    (out.rtx_age, out.rtx_slots) = (age, slots);
    true
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{
        PacketRate, RTX_CACHE_AGE, RTX_CACHE_PACKETS, refit, rtx_age, rtx_resize, rtx_slots,
    };

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_cache_keeps_what_the_round_trip_needs() {
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
    fn the_cache_is_resized_only_for_a_round_trip_that_really_changed() {
        // From the first size to a school network's, or to the other side of an ocean.
        assert!(rtx_resize(RTX_CACHE_AGE, ms(300)));
        assert!(rtx_resize(RTX_CACHE_AGE, ms(700)));
        assert!(!rtx_resize(RTX_CACHE_AGE, ms(900)));
        // A round trip that wanders (25 ms each way with 20 ms of jitter: 500-700 ms wanted):
        // left alone either way.
        assert!(!rtx_resize(ms(500), ms(700)));
        assert!(!rtx_resize(ms(700), ms(500)));
        assert!(!rtx_resize(ms(300), ms(400)));
        // Half as long again, or half: resized.
        assert!(rtx_resize(ms(300), ms(500)));
        assert!(rtx_resize(ms(900), ms(400)));
    }

    #[test]
    fn the_cache_holds_what_the_track_sends_in_its_age_or_its_largest_frame_and_half_more() {
        // The load generator's 720p camera on a school network: ~175 packets a second (53 in
        // 300 ms), keyframes of up to 61 packets: the keyframe and 150 ms after it decide.
        assert_eq!(rtx_slots(ms(300), 175, 61), 88 + 11 + 8);
        // The same camera across an ocean (900 ms): the rate decides.
        assert_eq!(rtx_slots(ms(900), 175, 61), 158 + 19 + 8);
        // A still slide shared as a screen: a handful of packets, the least.
        assert_eq!(rtx_slots(ms(300), 5, 3), 32);
        // A 1080p screen share's keyframe, or anything bigger: the most.
        assert_eq!(rtx_slots(ms(1500), 600, 200), RTX_CACHE_PACKETS);
        assert_eq!(rtx_slots(ms(300), 0, u32::MAX), RTX_CACHE_PACKETS);
        assert_eq!(
            rtx_slots(Duration::MAX, u32::MAX, u32::MAX),
            RTX_CACHE_PACKETS
        );
    }

    #[test]
    fn a_tracks_rate_is_its_busiest_second_and_largest_frame_of_the_last_minutes() {
        let t0 = Instant::now();
        let mut rate = PacketRate::default();
        let frames = |rate: &mut PacketRate, from: Duration, count: u64| {
            for frame in 0..count {
                let at = t0 + from + ms(33 * frame);
                for packet in 0..5 {
                    rate.on_packet(at, packet == 0);
                }
            }
        };
        // A keyframe of 40 packets, then 3 s of 30 frames a second, 5 packets each.
        for _ in 0..40 {
            rate.on_packet(t0, false);
        }
        frames(&mut rate, ms(33), 90);
        assert_eq!(rate.largest_frame(), 40);
        // The keyframe's second: 40 and 30 frames of 5.
        assert_eq!(rate.per_second(), 190);
        // A pause of 10 s changes nothing: the cache is not emptied for it.
        frames(&mut rate, ms(13_000), 30);
        assert_eq!((rate.per_second(), rate.largest_frame()), (190, 40));
        // Two minutes of small frames later, the keyframe is forgotten.
        frames(&mut rate, ms(14_000), 3_700);
        assert_eq!(rate.largest_frame(), 5);
        assert!(
            (150..=160).contains(&rate.per_second()),
            "{}",
            rate.per_second()
        );
    }

    #[test]
    fn a_cache_grows_at_once_when_short_and_shrinks_only_to_half() {
        let lan = ms(2);
        // The first report: from 1.5 s and 400 packets to the school network's size.
        let first = refit((RTX_CACHE_AGE, RTX_CACHE_PACKETS), lan, (175, 61));
        assert_eq!(first, Some((ms(300), 107)));
        // The same track again: left alone.
        assert_eq!(refit((ms(300), 107), lan, (175, 61)), None);
        // Keyframes of 90 packets now: 107 holds less than 90 and 150 ms after it, so it
        // grows at once, though less than half as big again.
        assert_eq!(refit((ms(300), 107), lan, (175, 90)), Some((ms(300), 139)));
        // A smaller need is not worth emptying the cache for, until it is half or less.
        assert_eq!(refit((ms(300), 139), lan, (175, 61)), None);
        assert_eq!(refit((ms(300), 139), lan, (30, 10)), Some((ms(300), 32)));
    }
}
