//! The publisher's once-a-second loop: read webrtcbin's statistics, turn them into
//! [`PublisherStats`], and move each video encoder's bitrate with the loss the server reports.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use classroom_protocol::Source;
use gstreamer as gst;
use gstreamer::prelude::*;
use tracing::{debug, info};

use crate::encode::VideoEncoder;
use crate::rate::LossController;
use crate::simulcast::{Camera, LayerMonitor};
use crate::stats::{OutboundRtp, OutboundTrackStats, PublisherStats, get_stats, parse_outbound};

const PERIOD: Duration = Duration::from_secs(1);

/// What encodes a sent track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TrackEncoder {
    Video(VideoEncoder),
    Opus,
}

impl TrackEncoder {
    fn factory(self) -> &'static str {
        match self {
            TrackEncoder::Video(v) => v.factory(),
            TrackEncoder::Opus => "opusenc",
        }
    }
}

/// One published track as the monitor follows it.
pub(crate) struct SentTrack {
    pub(crate) source: Source,
    /// The branch bin, holding `enc` and `pay`.
    pub(crate) bin: gst::Bin,
    pub(crate) encoder: TrackEncoder,
    pub(crate) controller: Option<LossController>,
    /// Encoded frames so far (a probe on the encoder's src pad counts them).
    pub(crate) frames: Arc<AtomicU64>,
    /// Of which keyframes (counted for video only).
    keyframes: Arc<AtomicU64>,
    last: Option<Sample>,
    last_report: Option<(Option<i64>, Option<u64>, Option<u64>)>,
    /// The layers of a simulcast camera: the controller then drives their sum.
    layers: Option<LayerMonitor>,
    /// The simulcast set-up of a camera sent as layers, for its offers and payload types.
    pub(crate) simulcast: Option<Arc<Camera>>,
}

#[derive(Clone, Copy)]
struct Sample {
    at: Instant,
    bytes: u64,
    frames: u64,
}

impl SentTrack {
    pub(crate) fn new(source: Source, bin: gst::Bin, encoder: TrackEncoder, bitrate: u32) -> Self {
        let frames = Arc::new(AtomicU64::new(0));
        let keyframes = Arc::new(AtomicU64::new(0));
        if let Some(pad) = bin.by_name("enc").and_then(|e| e.static_pad("src")) {
            let counter = frames.clone();
            let keys = keyframes.clone();
            pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
                counter.fetch_add(1, Ordering::Relaxed);
                if info
                    .buffer()
                    .is_some_and(|b| !b.flags().contains(gst::BufferFlags::DELTA_UNIT))
                {
                    keys.fetch_add(1, Ordering::Relaxed);
                    if source.kind() == classroom_protocol::MediaKind::Video {
                        tracing::trace!(?source, "keyframe encoded");
                    }
                }
                gst::PadProbeReturn::Ok
            });
        }
        // Down to a tenth of the asked-for rate under loss, never above it: the user's
        // setting is the ceiling.
        let controller = matches!(encoder, TrackEncoder::Video(_))
            .then(|| LossController::new(bitrate, (bitrate / 10).max(100_000), bitrate));
        SentTrack {
            source,
            bin,
            encoder,
            controller,
            frames,
            keyframes,
            last: None,
            last_report: None,
            layers: None,
            simulcast: None,
        }
    }

    /// Makes this (camera) track a simulcast one: one loss controller for the sum of the
    /// layers, from the loss all their receiver reports give, shared out in the layers' own
    /// proportions. So the layers never change size or order under the server, which picks
    /// among them by each subscriber's viewport and downlink; the publisher's uplink only
    /// decides how many bits each carries.
    pub(crate) fn with_layers(mut self, camera: Arc<Camera>) -> Self {
        let layers = LayerMonitor::new(camera.clone());
        self.simulcast = Some(camera);
        let total = layers.total_bitrate();
        self.controller = Some(LossController::new(total, (total / 10).max(100_000), total));
        self.layers = Some(layers);
        self
    }

    fn ssrc(&self) -> Option<u32> {
        let pay = self.bin.by_name("pay")?;
        let stats = pay.property::<gst::Structure>("stats");
        stats.get::<u32>("ssrc").ok()
    }

    fn resolution(&self) -> Option<(u32, u32)> {
        let caps = self
            .bin
            .by_name("enc")?
            .static_pad("sink")?
            .current_caps()?;
        let s = caps.structure(0)?;
        let w = s.get::<i32>("width").ok()?;
        let h = s.get::<i32>("height").ok()?;
        Some((u32::try_from(w).ok()?, u32::try_from(h).ok()?))
    }

    fn target_bitrate(&self) -> u32 {
        match (&self.controller, self.bin.by_name("enc")) {
            (Some(c), _) => c.bitrate(),
            (None, Some(enc)) if enc.has_property("bitrate") => {
                enc.property::<i32>("bitrate").max(0) as u32
            }
            _ => 0,
        }
    }

    /// One second's step: stats from `rtp`, and the controller fed when the server's report
    /// is new (a report repeated between RTCP intervals must not cut the rate twice).
    fn step(&mut self, now: Instant, rtp: OutboundRtp, all: &[OutboundRtp]) -> OutboundTrackStats {
        let frames = self.frames.load(Ordering::Relaxed);
        let sample = Sample {
            at: now,
            bytes: rtp.bytes_sent,
            frames,
        };
        let (sent_bitrate, fps, elapsed) = match self.last {
            Some(prev) if now > prev.at => {
                let dt = (now - prev.at).as_secs_f64();
                (
                    (rtp.bytes_sent.saturating_sub(prev.bytes) as f64 * 8.0 / dt) as u32,
                    frames.saturating_sub(prev.frames) as f64 / dt,
                    now - prev.at,
                )
            }
            _ => (0, 0.0, PERIOD),
        };
        self.last = Some(sample);
        let report = (
            rtp.packets_lost,
            rtp.rtt.map(|d| d.as_micros() as u64),
            rtp.jitter.map(|j| (j * 1e6) as u64),
        );
        let fresh = rtp.fraction_lost.is_some() && self.last_report != Some(report);
        if fresh {
            self.last_report = Some(report);
        }
        let layered = self.layers.as_mut().map(|l| l.step(now, all));
        let (loss, fresh_loss) = match &layered {
            Some(step) => (step.loss, step.loss.is_some()),
            None => (rtp.fraction_lost, fresh),
        };
        if let (Some(c), Some(loss), TrackEncoder::Video(v), true) =
            (self.controller.as_mut(), loss, self.encoder, fresh_loss)
        {
            let before = c.bitrate();
            let after = c.on_report(loss, elapsed);
            if after != before {
                match self.layers.as_mut() {
                    Some(layers) => layers.apply(&self.bin, v, after),
                    None => {
                        if let Some(enc) = self.bin.by_name("enc") {
                            v.set_bitrate(&enc, after);
                        }
                    }
                }
                if after < before {
                    info!(source = ?self.source, loss, before, after, "loss: bitrate down");
                } else {
                    debug!(source = ?self.source, before, after, "bitrate up");
                }
            }
        }
        // Opus's in-band FEC only spends bits when told to expect loss: size it to what the
        // server reports, never below the 10 % it starts with.
        if let (TrackEncoder::Opus, Some(loss), true) = (self.encoder, rtp.fraction_lost, fresh)
            && let Some(enc) = self.bin.by_name("enc")
        {
            enc.set_property("packet-loss-percentage", opus_loss_percentage(loss));
        }
        OutboundTrackStats {
            source: self.source,
            encoder: self.encoder.factory().to_owned(),
            target_bitrate: self.target_bitrate(),
            sent_bitrate: layered.as_ref().map_or(sent_bitrate, |l| l.sent_bitrate),
            fps: if matches!(self.encoder, TrackEncoder::Video(_)) {
                fps
            } else {
                0.0
            },
            resolution: self.resolution(),
            keyframes: match self.encoder {
                TrackEncoder::Video(_) => self.keyframes.load(Ordering::Relaxed),
                TrackEncoder::Opus => 0,
            },
            rtp,
            // Each layer's target as just set, not as it was before this step.
            layers: layered
                .map(|l| {
                    let targets = self
                        .layers
                        .as_ref()
                        .map(|m| m.targets())
                        .unwrap_or_default();
                    l.layers
                        .into_iter()
                        .zip(targets)
                        .map(|(mut layer, target)| {
                            layer.target_bitrate = target;
                            layer
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// The loss Opus should prepare its FEC for, in percent: the reported loss, 10..=40.
fn opus_loss_percentage(fraction_lost: f64) -> i32 {
    ((fraction_lost * 100.0).round() as i32).clamp(10, 40)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The running loop; stops when dropped.
pub(crate) struct Monitor {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    latest: Arc<Mutex<PublisherStats>>,
}

impl Monitor {
    pub(crate) fn spawn(
        webrtc: &gst::Element,
        tracks: Arc<Mutex<Vec<SentTrack>>>,
    ) -> Result<Self, crate::MediaError> {
        let stop = Arc::new(AtomicBool::new(false));
        let latest = Arc::new(Mutex::new(PublisherStats::default()));
        let (flag, out, webrtc) = (stop.clone(), latest.clone(), webrtc.downgrade());
        let thread = std::thread::Builder::new()
            .name("publish-stats".into())
            .spawn(move || {
                let mut next = Instant::now() + PERIOD;
                while !flag.load(Ordering::Relaxed) {
                    // Sleep in short steps so dropping the publisher is not held up.
                    if Instant::now() < next {
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    }
                    next += PERIOD;
                    let Some(webrtc) = webrtc.upgrade() else {
                        break;
                    };
                    let Some(all) = get_stats(&webrtc, Duration::from_millis(500)) else {
                        continue;
                    };
                    let rtp = parse_outbound(&all);
                    let now = Instant::now();
                    let mut tracks = lock(&tracks);
                    let snapshot = tracks
                        .iter_mut()
                        .map(|t| {
                            let ssrc = t.ssrc();
                            let r = rtp
                                .iter()
                                .find(|r| Some(r.ssrc) == ssrc)
                                .cloned()
                                .unwrap_or_default();
                            t.step(now, r, &rtp)
                        })
                        .collect();
                    *lock(&out) = PublisherStats {
                        tracks: snapshot,
                        ..PublisherStats::default()
                    };
                }
            })
            .map_err(|e| crate::MediaError::Pipeline(format!("stats thread: {e}")))?;
        Ok(Monitor {
            stop,
            thread: Some(thread),
            latest,
        })
    }

    pub(crate) fn latest(&self) -> PublisherStats {
        lock(&self.latest).clone()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::opus_loss_percentage;

    #[test]
    fn opus_fec_follows_reported_loss_within_bounds() {
        assert_eq!(opus_loss_percentage(0.0), 10);
        assert_eq!(opus_loss_percentage(0.25), 25);
        assert_eq!(opus_loss_percentage(0.9), 40);
    }
}
