//! Typed per-track statistics from webrtcbin's `get-stats`, for the app's connection panel
//! and the server's metrics: what a publisher sends (and what the server reports back about
//! it), and what a subscriber receives.

use std::time::Duration;

use classroom_protocol::{Source, TrackInfo};

use crate::{InboundRtpStats, TrackStats};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_webrtc as gst_webrtc;

/// One sent stream as webrtcbin sees it, joined with the server's receiver report about it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutboundRtp {
    /// SSRC.
    pub ssrc: u32,
    /// Packets sent.
    pub packets_sent: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// NACKs the server sent us for it.
    pub nack_count: u64,
    /// PLIs (keyframe requests) the server sent us for it.
    pub pli_count: u64,
    /// Round-trip time from the latest receiver report.
    pub rtt: Option<Duration>,
    /// Fraction of packets lost in the latest report interval (0..=1).
    pub fraction_lost: Option<f64>,
    /// Cumulative packets lost as the server counts them.
    pub packets_lost: Option<i64>,
    /// Interarrival jitter the server measured, seconds.
    pub jitter: Option<f64>,
}

/// One published track, sampled about once a second.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundTrackStats {
    /// What the track carries.
    pub source: Source,
    /// Encoder element (e.g. `x264enc`, `opusenc`).
    pub encoder: String,
    /// Bitrate the encoder is asked for now (bits/s), after congestion control.
    pub target_bitrate: u32,
    /// Bitrate actually sent over the last interval (bits/s, RTP payload and headers).
    pub sent_bitrate: u32,
    /// Frames per second leaving the encoder over the last interval (video only).
    pub fps: f64,
    /// Frame size sent (video only).
    pub resolution: Option<(u32, u32)>,
    /// Keyframes encoded so far (video only): periodic ones plus those the server asked for.
    pub keyframes: u64,
    /// RTP-level counters and the server's receiver report (the top layer's, for a
    /// simulcast camera; `sent_bitrate` and `target_bitrate` are then the layers' sum).
    pub rtp: OutboundRtp,
    /// Each simulcast layer, smallest first; empty for a track sent as one encoding.
    pub layers: Vec<OutboundLayerStats>,
}

/// One simulcast layer of a published track.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundLayerStats {
    /// Its RTP stream id.
    pub rid: String,
    /// Its frame size.
    pub resolution: (u32, u32),
    /// Bitrate its encoder is asked for now (bits/s).
    pub target_bitrate: u32,
    /// Bitrate sent over the last interval (bits/s).
    pub sent_bitrate: u32,
    /// Its RTP counters and the server's receiver report.
    pub rtp: OutboundRtp,
}

/// A publisher's per-track statistics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PublisherStats {
    /// One entry per published track.
    pub tracks: Vec<OutboundTrackStats>,
    /// Keyframe requests (PLI/FIR) from the server handed to the encoder of their stream.
    pub keyframe_requests: u64,
    /// Keyframe requests naming an SSRC this publisher does not send (ignored).
    pub keyframe_requests_unknown: u64,
}

impl PublisherStats {
    /// The track carrying `source`.
    pub fn by_source(&self, source: Source) -> Option<&OutboundTrackStats> {
        self.tracks.iter().find(|t| t.source == source)
    }
}

/// One received track over the last interval: what a connection panel or the server's
/// metrics show.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackReport {
    /// The track.
    pub track: TrackInfo,
    /// Length of the interval.
    pub interval: Duration,
    /// Bits per second received (RTP, headers included).
    pub bitrate: u32,
    /// Frames decoded per second (video).
    pub fps: f64,
    /// Latest decoded size (video).
    pub resolution: Option<(u32, u32)>,
    /// Interarrival jitter, seconds (from webrtcbin, when it has the stream).
    pub jitter: Option<f64>,
    /// Packets lost in the interval (RFC 3550 count; negative with duplicates).
    pub packets_lost: Option<i64>,
    /// Fraction of the interval's packets lost (0..=1).
    pub loss: Option<f64>,
    /// NACKs sent so far.
    pub nack_count: Option<u32>,
    /// PLIs (keyframe requests) sent so far.
    pub pli_count: Option<u32>,
    /// Freezes so far.
    pub freezes: u64,
    /// Freezes that began in this interval.
    pub new_freezes: u64,
    /// Audio concealment events in this interval (lost packets the decoder filled).
    pub concealment_events: u64,
    /// Audio time concealed in this interval.
    pub concealed: Duration,
}

impl TrackReport {
    /// Figures between two snapshots of one track (`before`: how long ago, what it was and
    /// webrtcbin's figures then; `None` for the first report, which then covers the track's
    /// whole life).
    pub fn between(
        before: Option<(Duration, &TrackStats, Option<&InboundRtpStats>)>,
        now: &TrackStats,
        inbound: Option<&InboundRtpStats>,
    ) -> Self {
        let interval = before.map(|(d, _, _)| d).unwrap_or_else(|| {
            match (now.first_frame_at, now.last_frame_at) {
                (Some(a), Some(b)) => b.saturating_duration_since(a),
                _ => Duration::ZERO,
            }
        });
        let secs = interval.as_secs_f64();
        let per_second = |delta: u64| if secs > 0.0 { delta as f64 / secs } else { 0.0 };
        let prev = before.map(|(_, p, _)| p);
        let prev_inbound = before.and_then(|(_, _, r)| r);
        let delta = |f: fn(&TrackStats) -> u64| f(now).saturating_sub(prev.map(f).unwrap_or(0));
        let packets = delta(|t| t.packets);
        let lost = inbound.map(|r| r.packets_lost - prev_inbound.map_or(0, |p| p.packets_lost));
        let loss = lost.map(|l| {
            let expected = packets as i64 + l.max(0);
            if expected > 0 {
                l.max(0) as f64 / expected as f64
            } else {
                0.0
            }
        });
        TrackReport {
            track: now.track.clone(),
            interval,
            bitrate: (per_second(delta(|t| t.bytes)) * 8.0) as u32,
            fps: per_second(delta(|t| t.frames)),
            resolution: now.resolution,
            jitter: inbound.map(|r| r.jitter),
            packets_lost: lost,
            loss,
            nack_count: inbound.map(|r| r.nack_count),
            pli_count: inbound.map(|r| r.pli_count),
            freezes: now.freeze.freezes(),
            new_freezes: delta(|t| t.freeze.freezes()),
            concealment_events: delta(|t| t.concealment_events),
            concealed: now
                .concealed
                .saturating_sub(prev.map(|p| p.concealed).unwrap_or_default()),
        }
    }
}

/// A number from a stats structure whatever integer or float type webrtcbin used for it.
pub(crate) fn number(s: &gst::StructureRef, field: &str) -> Option<f64> {
    let v = s.value(field).ok()?;
    v.get::<f64>()
        .ok()
        .or_else(|| v.get::<u64>().ok().map(|n| n as f64))
        .or_else(|| v.get::<i64>().ok().map(|n| n as f64))
        .or_else(|| v.get::<u32>().ok().map(f64::from))
        .or_else(|| v.get::<i32>().ok().map(f64::from))
}

fn stats_of_type(
    all: &gst::StructureRef,
    kind: gst_webrtc::WebRTCStatsType,
) -> impl Iterator<Item = gst::Structure> + '_ {
    all.iter().filter_map(move |(_, value)| {
        let s = value.get::<gst::Structure>().ok()?;
        s.get::<gst_webrtc::WebRTCStatsType>("type")
            .is_ok_and(|t| t == kind)
            .then_some(s)
    })
}

/// Outbound streams joined with the remote-inbound (receiver report) entry of the same SSRC.
pub(crate) fn parse_outbound(all: &gst::StructureRef) -> Vec<OutboundRtp> {
    let remote: Vec<gst::Structure> =
        stats_of_type(all, gst_webrtc::WebRTCStatsType::RemoteInboundRtp).collect();
    let mut out: Vec<OutboundRtp> = stats_of_type(all, gst_webrtc::WebRTCStatsType::OutboundRtp)
        .map(|s| {
            let ssrc = number(&s, "ssrc").unwrap_or(0.0) as u32;
            let report = remote
                .iter()
                .find(|r| number(r, "ssrc").map(|n| n as u32) == Some(ssrc));
            OutboundRtp {
                ssrc,
                packets_sent: number(&s, "packets-sent").unwrap_or(0.0) as u64,
                bytes_sent: number(&s, "bytes-sent").unwrap_or(0.0) as u64,
                nack_count: number(&s, "nack-count").unwrap_or(0.0) as u64,
                pli_count: number(&s, "pli-count").unwrap_or(0.0) as u64,
                rtt: report
                    .and_then(|r| number(r, "round-trip-time"))
                    .filter(|t| t.is_finite() && *t >= 0.0)
                    .map(Duration::from_secs_f64),
                fraction_lost: report
                    .and_then(|r| number(r, "fraction-lost"))
                    .map(normalise_fraction),
                packets_lost: report
                    .and_then(|r| number(r, "packets-lost"))
                    .map(|n| n as i64),
                jitter: report.and_then(|r| number(r, "jitter")),
            }
        })
        .collect();
    out.sort_by_key(|s| s.ssrc);
    out
}

/// RTCP carries the fraction lost as x/256; webrtcbin versions differ on whether they scale it.
fn normalise_fraction(f: f64) -> f64 {
    if f > 1.0 {
        (f / 256.0).min(1.0)
    } else {
        f.max(0.0)
    }
}

/// Asks webrtcbin for its statistics and waits up to `timeout` for the answer.
pub(crate) fn get_stats(webrtc: &gst::Element, timeout: Duration) -> Option<gst::Structure> {
    let (tx, rx) = std::sync::mpsc::channel();
    let promise = gst::Promise::with_change_func(move |reply| {
        let _ = tx.send(match reply {
            Ok(Some(s)) => Some(s.to_owned()),
            _ => None,
        });
    });
    webrtc.emit_by_name::<()>("get-stats", &[&None::<gst::Pad>, &promise]);
    rx.recv_timeout(timeout).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fraction_lost_in_either_scale() {
        assert_eq!(normalise_fraction(0.25), 0.25);
        assert_eq!(normalise_fraction(64.0), 0.25);
        assert_eq!(normalise_fraction(-1.0), 0.0);
    }

    #[test]
    fn joins_outbound_with_its_receiver_report() {
        gst::init().expect("gstreamer");
        let out = gst::Structure::builder("application/x-webrtc-stats")
            .field("type", gst_webrtc::WebRTCStatsType::OutboundRtp)
            .field("ssrc", 42u32)
            .field("packets-sent", 100u64)
            .field("bytes-sent", 120_000u64)
            .field("pli-count", 2u32)
            .build();
        let remote = gst::Structure::builder("application/x-webrtc-stats")
            .field("type", gst_webrtc::WebRTCStatsType::RemoteInboundRtp)
            .field("ssrc", 42u32)
            .field("fraction-lost", 0.125f64)
            .field("round-trip-time", 0.004f64)
            .field("packets-lost", 3i64)
            .build();
        let other = gst::Structure::builder("application/x-webrtc-stats")
            .field("type", gst_webrtc::WebRTCStatsType::OutboundRtp)
            .field("ssrc", 7u32)
            .build();
        let all = gst::Structure::builder("application/x-webrtc-stats")
            .field("a", out)
            .field("b", remote)
            .field("c", other)
            .build();
        let parsed = parse_outbound(&all);
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].ssrc, 7);
        assert_eq!(parsed[0].rtt, None);
        let s = &parsed[1];
        assert_eq!(
            (s.packets_sent, s.bytes_sent, s.pli_count),
            (100, 120_000, 2)
        );
        assert_eq!(s.fraction_lost, Some(0.125));
        assert_eq!(s.rtt, Some(Duration::from_millis(4)));
        assert_eq!(s.packets_lost, Some(3));
    }
}
