//! Which simulcast layer each subscriber gets.
//!
//! A publisher may send up to three encodings of one camera (for example 320x180, 640x360 and
//! 1280x720), each with its own RTP stream id (rid). Every subscriber gets exactly one of them:
//! the largest that its estimated bandwidth carries and its viewport can show. Switching only
//! happens at a keyframe of the new layer, so the decision here is a *target*; `forward` makes
//! the switch when the keyframe arrives.

use std::time::{Duration, Instant};

use classroom_protocol::ErrorCode;

use super::{ConnId, Refusal, Sfu};

/// A layer that has sent nothing for this long is treated as stopped (the publisher's
/// encoder or its own congestion control dropped it).
pub(crate) const LAYER_TIMEOUT: Duration = Duration::from_millis(1500);

/// Bitrate is measured over windows of this length.
const RATE_WINDOW: Duration = Duration::from_millis(500);

/// A layer is only chosen when the estimate exceeds its bitrate by this factor, so a
/// subscriber does not flap between two layers at the edge of its bandwidth.
const HEADROOM: f64 = 1.15;

/// What the server knows about one incoming layer.
#[derive(Debug, Clone)]
pub(crate) struct Layer {
    /// The RTP stream id (`a=rid`).
    pub rid: String,
    /// Declared frame size, if the publisher said.
    pub size: Option<(u32, u32)>,
    /// Measured bitrate in bits per second (last full window).
    pub bitrate_bps: f64,
    window_start: Option<Instant>,
    window_bytes: u64,
    /// When the last packet arrived.
    pub last_packet: Option<Instant>,
}

impl Layer {
    /// A layer nothing has been heard on yet.
    pub fn new(rid: String, size: Option<(u32, u32)>) -> Self {
        Layer {
            rid,
            size,
            bitrate_bps: 0.0,
            window_start: None,
            window_bytes: 0,
            last_packet: None,
        }
    }

    /// Accounts one packet of `bytes` arriving at `now`.
    pub fn on_packet(&mut self, now: Instant, bytes: usize) {
        self.last_packet = Some(now);
        self.window_bytes += bytes as u64;
        let start = *self.window_start.get_or_insert(now);
        let span = now.saturating_duration_since(start);
        if span >= RATE_WINDOW {
            self.bitrate_bps = self.window_bytes as f64 * 8.0 / span.as_secs_f64();
            self.window_start = Some(now);
            self.window_bytes = 0;
        }
    }

    fn active(&self, now: Instant) -> bool {
        self.last_packet
            .is_some_and(|t| now.saturating_duration_since(t) < LAYER_TIMEOUT)
    }
}

/// Lowest and highest egress estimate the loss-based controller gives a subscriber.
const ESTIMATE_BOUNDS: (f64, f64) = (100_000.0, 20_000_000.0);

/// The next egress estimate for a subscriber from the loss its receiver report gives
/// (GCC's loss-based rule): above 10 % loss the estimate drops by half the loss, below 2 % it
/// grows 8 %, in between it holds.
pub(crate) fn next_estimate(estimate_bps: f64, loss: f32) -> f64 {
    let loss = f64::from(loss).clamp(0.0, 1.0);
    let next = if loss > 0.10 {
        estimate_bps * (1.0 - 0.5 * loss)
    } else if loss < 0.02 {
        estimate_bps * 1.08
    } else {
        estimate_bps
    };
    next.clamp(ESTIMATE_BOUNDS.0, ESTIMATE_BOUNDS.1)
}

/// What limits one subscriber's choice.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Limits {
    /// The egress bandwidth estimate for this subscriber's share of it, bits per second.
    pub budget_bps: Option<f64>,
    /// The size the subscriber shows the track at, in device pixels.
    pub viewport: Option<(u32, u32)>,
}

/// Picks the layer index for a subscriber, or `None` when no layer is active.
///
/// Layers are ranked by declared size, else by measured bitrate. The choice is the largest
/// active layer that fits the budget (with headroom) and is not larger than needed to fill
/// the viewport: the smallest layer at least as tall as the viewport is enough. The smallest
/// active layer is the floor: a subscriber always gets something.
pub(crate) fn choose(layers: &[Layer], limits: Limits, now: Instant) -> Option<usize> {
    let mut ranked: Vec<usize> = (0..layers.len())
        .filter(|&i| layers[i].active(now))
        .collect();
    ranked.sort_by(|&a, &b| {
        // In u64: two u32 sides multiply past u32 (70000x70000 did, a panic in a debug build).
        let key = |l: &Layer| {
            (
                l.size.map(|(w, h)| u64::from(w) * u64::from(h)),
                l.bitrate_bps,
            )
        };
        let (ka, kb) = (key(&layers[a]), key(&layers[b]));
        ka.0.cmp(&kb.0)
            .then(ka.1.partial_cmp(&kb.1).unwrap_or(std::cmp::Ordering::Equal))
    });
    let floor = *ranked.first()?;
    let mut chosen = floor;
    for &i in &ranked {
        let layer = &layers[i];
        if let Some(budget) = limits.budget_bps
            && layer.bitrate_bps * HEADROOM > budget
        {
            break;
        }
        chosen = i;
        if let (Some((_, vh)), Some((_, lh))) = (limits.viewport, layer.size)
            && lh >= vh
        {
            break;
        }
    }
    Some(chosen)
}

impl Sfu {
    pub(super) fn on_viewport(
        &mut self,
        conn: ConnId,
        track_id: &str,
        width: u32,
        height: u32,
    ) -> Result<(), Refusal> {
        let num = self
            .tracks
            .iter()
            .find(|t| t.info.track_id == track_id)
            .map(|t| t.num)
            .ok_or((ErrorCode::Malformed, format!("no track {track_id:?}")))?;
        let out = self
            .participants
            .get_mut(&conn)
            .and_then(|p| p.subscribe.as_mut())
            .and_then(|s| s.streams.get_mut(&num))
            .ok_or((
                ErrorCode::BadState,
                format!("track {track_id:?} is not being received"),
            ))?;
        if width > 16_384 || height > 16_384 {
            return Err((ErrorCode::Malformed, "viewport larger than 16384".into()));
        }
        out.viewport = Some((width, height));
        out.force_choice();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers(now: Instant) -> Vec<Layer> {
        // Declared out of order on purpose: ranking must not depend on declaration order.
        let spec = [
            ("h", (1280, 720), 1_500_000.0),
            ("l", (320, 180), 150_000.0),
            ("m", (640, 360), 500_000.0),
        ];
        spec.iter()
            .map(|(rid, size, bps)| {
                let mut l = Layer::new((*rid).into(), Some(*size));
                l.bitrate_bps = *bps;
                l.last_packet = Some(now);
                l
            })
            .collect()
    }

    fn rid(ls: &[Layer], i: Option<usize>) -> &str {
        i.map(|i| ls[i].rid.as_str()).unwrap_or("none")
    }

    #[test]
    fn huge_declared_layers_rank_without_overflow() {
        let now = Instant::now();
        let mut ls = layers(now);
        ls[0].size = Some((70_000, 70_000));
        ls[1].size = Some((u32::MAX, u32::MAX));
        assert_eq!(rid(&ls, choose(&ls, Limits::default(), now)), "l");
    }

    #[test]
    fn unlimited_gets_the_top_layer() {
        let now = Instant::now();
        let ls = layers(now);
        assert_eq!(rid(&ls, choose(&ls, Limits::default(), now)), "h");
    }

    #[test]
    fn bandwidth_caps_the_layer_with_headroom() {
        let now = Instant::now();
        let ls = layers(now);
        let at = |bps: f64| {
            let limits = Limits {
                budget_bps: Some(bps),
                viewport: None,
            };
            rid(&ls, choose(&ls, limits, now)).to_owned()
        };
        assert_eq!(at(2_000_000.0), "h");
        assert_eq!(at(1_600_000.0), "m"); // 1.5 M needs 1.725 M with headroom
        assert_eq!(at(600_000.0), "m");
        assert_eq!(at(300_000.0), "l");
        assert_eq!(at(10_000.0), "l"); // the floor
    }

    #[test]
    fn a_small_viewport_needs_no_more_than_it_shows() {
        let now = Instant::now();
        let ls = layers(now);
        let limits = |h| Limits {
            budget_bps: None,
            viewport: Some((h * 16 / 9, h)),
        };
        assert_eq!(rid(&ls, choose(&ls, limits(120), now)), "l");
        assert_eq!(rid(&ls, choose(&ls, limits(300), now)), "m");
        assert_eq!(rid(&ls, choose(&ls, limits(1080), now)), "h");
    }

    #[test]
    fn stopped_layers_are_skipped_and_no_layer_means_none() {
        let now = Instant::now();
        let mut ls = layers(now);
        ls[0].last_packet = Some(now - Duration::from_secs(5)); // "h" stopped
        assert_eq!(rid(&ls, choose(&ls, Limits::default(), now)), "m");
        for l in &mut ls {
            l.last_packet = None;
        }
        assert_eq!(choose(&ls, Limits::default(), now), None);
    }

    #[test]
    fn the_estimate_backs_off_under_loss_and_grows_back() {
        let mut e = 2_500_000.0;
        for _ in 0..5 {
            e = next_estimate(e, 0.3);
        }
        // 0.85^5 of 2.5 Mbit/s.
        assert!((e - 1_109_000.0).abs() < 1_000.0, "{e}");
        let held = next_estimate(e, 0.05);
        assert_eq!(held, e);
        for _ in 0..40 {
            e = next_estimate(e, 0.0);
        }
        assert_eq!(e, 20_000_000.0, "capped");
        assert_eq!(next_estimate(50_000.0, 0.9), 100_000.0, "floored");
    }

    #[test]
    fn bitrate_is_measured_per_window() {
        let t0 = Instant::now();
        let mut l = Layer::new("m".into(), None);
        for i in 0..=50u64 {
            l.on_packet(t0 + Duration::from_millis(i * 10), 1250);
        }
        // 50 packets of 10 kbit in 0.5 s (plus the one that closes the window) ≈ 1 Mbit/s.
        assert!(
            (l.bitrate_bps - 1_020_000.0).abs() < 30_000.0,
            "{}",
            l.bitrate_bps
        );
    }
}
