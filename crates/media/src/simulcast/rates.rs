//! The camera's layers under the publisher's loss-based rate control.

use std::sync::Arc;
use std::time::Instant;

use gstreamer as gst;

use super::{Camera, LAYER_FLOOR_BPS};
use crate::encode::VideoEncoder;
use crate::stats::{OutboundLayerStats, OutboundRtp};

/// Shares `total` (bits/s, from the track's loss controller) among layers whose clean-path
/// bitrates are `maxes`: each gets the same fraction of its own, so the layers keep their
/// proportions, none above its own, none below [`LAYER_FLOOR_BPS`] (or its own, if smaller).
/// The server keeps choosing among the same sizes; only how many bits each carries changes.
pub(crate) fn split_bitrate(total: u32, maxes: &[u32]) -> Vec<u32> {
    let sum: u64 = maxes.iter().map(|&m| u64::from(m)).sum();
    if sum == 0 {
        return maxes.to_vec();
    }
    let fraction = (f64::from(total) / sum as f64).clamp(0.0, 1.0);
    maxes
        .iter()
        .map(|&m| ((f64::from(m) * fraction) as u32).max(LAYER_FLOOR_BPS.min(m)))
        .collect()
}

/// The loss of the whole track from its layers' fresh receiver reports: packets-weighted, so
/// a small layer's one lost packet of twenty does not count as much as the top layer's
/// hundreds. `(fraction_lost, packets sent since the previous step)` per fresh report.
pub(crate) fn track_loss(reports: &[(f64, u64)]) -> Option<f64> {
    let packets: u64 = reports.iter().map(|(_, p)| *p).sum();
    if reports.is_empty() {
        return None;
    }
    if packets == 0 {
        return Some(reports.iter().map(|(l, _)| *l).sum::<f64>() / reports.len() as f64);
    }
    Some(reports.iter().map(|(l, p)| l * *p as f64).sum::<f64>() / packets as f64)
}

/// What the monitor learns about a simulcast track's layers in one step.
pub(crate) struct LayersStep {
    /// The track's loss from the layers' fresh receiver reports, if any was fresh.
    pub loss: Option<f64>,
    /// All layers together, bits/s.
    pub sent_bitrate: u32,
    /// Per layer.
    pub layers: Vec<OutboundLayerStats>,
}

/// What identifies one receiver report (cumulative loss, RTT, jitter): the same values again
/// are the same report, not news.
type ReportKey = (Option<i64>, Option<u64>, Option<u64>);

/// The monitor's view of a simulcast camera: per layer the previous byte and packet counts
/// and the previous receiver report, and the bitrate its encoder was last given.
pub(crate) struct LayerMonitor {
    camera: Arc<Camera>,
    last: Vec<Option<(Instant, u64, u64)>>,
    reports: Vec<Option<ReportKey>>,
    targets: Vec<u32>,
}

impl LayerMonitor {
    /// Follows `camera`'s layers, each at its clean-path bitrate.
    pub fn new(camera: Arc<Camera>) -> Self {
        let n = camera.layers.len();
        let targets = camera.layers.iter().map(|l| l.bitrate).collect();
        LayerMonitor {
            camera,
            last: vec![None; n],
            reports: vec![None; n],
            targets,
        }
    }

    /// The layers' bitrates added up: the track controller's ceiling.
    pub fn total_bitrate(&self) -> u32 {
        self.camera.layers.iter().map(|l| l.bitrate).sum()
    }

    /// Reads each layer's sender statistics from `all` (webrtcbin's outbound RTP, which lists
    /// every SSRC of the funnelled pad).
    pub fn step(&mut self, now: Instant, all: &[OutboundRtp]) -> LayersStep {
        let mut fresh: Vec<(f64, u64)> = Vec::new();
        let mut layers = Vec::with_capacity(self.camera.layers.len());
        for (i, layer) in self.camera.layers.iter().enumerate() {
            let rtp = all
                .iter()
                .find(|r| r.ssrc == layer.ssrc)
                .cloned()
                .unwrap_or_default();
            let (sent_bitrate, packets) = match self.last[i] {
                Some((at, bytes, packets)) if now > at => (
                    (rtp.bytes_sent.saturating_sub(bytes) as f64 * 8.0 / (now - at).as_secs_f64())
                        as u32,
                    rtp.packets_sent.saturating_sub(packets),
                ),
                _ => (0, 0),
            };
            self.last[i] = Some((now, rtp.bytes_sent, rtp.packets_sent));
            let report = (
                rtp.packets_lost,
                rtp.rtt.map(|d| d.as_micros() as u64),
                rtp.jitter.map(|j| (j * 1e6) as u64),
            );
            if let Some(loss) = rtp.fraction_lost
                && self.reports[i] != Some(report)
            {
                self.reports[i] = Some(report);
                fresh.push((loss, packets));
            }
            layers.push(OutboundLayerStats {
                rid: layer.rid.clone(),
                resolution: (layer.width, layer.height),
                target_bitrate: self.targets[i],
                sent_bitrate,
                rtp,
            });
        }
        LayersStep {
            loss: track_loss(&fresh),
            sent_bitrate: layers.iter().map(|l| l.sent_bitrate).sum(),
            layers,
        }
    }

    /// The bitrate each layer's encoder was last given, smallest layer first.
    pub fn targets(&self) -> Vec<u32> {
        self.targets.clone()
    }

    /// Gives the layers' encoders in `bin` their shares of `total` bits/s.
    pub fn apply(&mut self, bin: &gst::Bin, encoder: VideoEncoder, total: u32) {
        let maxes: Vec<u32> = self.camera.layers.iter().map(|l| l.bitrate).collect();
        self.targets = split_bitrate(total, &maxes);
        for (enc, rate) in self.camera.encoders(bin).into_iter().zip(&self.targets) {
            if let Some(enc) = enc {
                encoder.set_bitrate(&enc, *rate);
            }
        }
    }
}
