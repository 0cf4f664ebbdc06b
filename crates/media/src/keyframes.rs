//! Keyframe requests (RTCP PLI and FIR) from the server, delivered to the encoder of the
//! stream they name.
//!
//! webrtcbin's RTP session handles them itself, but it throttles per *sender*: a second
//! request from the same sender within two round trips is dropped, whatever stream it is
//! about. An SFU asks from one sender SSRC for all of a publisher's tracks, and asks for all
//! of them at once when a student joins, so on loopback (RTT under 1 ms) the second track's
//! request was dropped and that student waited for the periodic keyframe (up to 2 s).
//!
//! Here every request is routed by its media SSRC to the payloader sending that SSRC, and a
//! force-key-unit event goes upstream from there to its encoder. When webrtcbin's own
//! handling also gets through, the encoder receives two requests for the same frame and
//! codes one keyframe (the video encoder base class merges pending requests).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use tracing::{debug, warn};

use crate::pipeline::force_key_unit;

/// RTCP payload-specific feedback (RFC 4585).
const RTCP_PSFB: u32 = 206;
/// PSFB format: picture loss indication.
const FMT_PLI: u32 = 1;
/// PSFB format: full intra request (RFC 5104); the SSRCs are in the FCI.
const FMT_FIR: u32 = 4;

/// Routes keyframe requests arriving on a publisher's webrtcbin to its encoders.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyframeRouter {
    /// Internal RTP sessions already hooked (webrtcbin adds them as m-lines are negotiated).
    hooked: Arc<Mutex<HashSet<u32>>>,
    delivered: Arc<AtomicU64>,
    unknown: Arc<AtomicU64>,
}

/// webrtcbin's RTP sessions: with max-bundle one, but more if the server declines bundling.
const MAX_SESSIONS: u32 = 8;

impl KeyframeRouter {
    /// Hooks every RTP session webrtcbin has created so far and not hooked yet. Call it after
    /// each negotiation: sessions appear when m-lines are set up.
    pub(crate) fn hook(&self, webrtc: &gst::Element, pipeline: &gst::Pipeline) {
        let Some(rtpbin) = webrtc
            .downcast_ref::<gst::Bin>()
            .and_then(|b| b.by_name("rtpbin"))
        else {
            warn!("webrtcbin has no rtpbin: keyframe requests go through its own throttle");
            return;
        };
        let mut hooked = self.hooked.lock().unwrap_or_else(|p| p.into_inner());
        for id in 0..MAX_SESSIONS {
            if hooked.contains(&id) {
                continue;
            }
            let Some(session) =
                rtpbin.emit_by_name::<Option<glib::Object>>("get-internal-session", &[&id])
            else {
                continue;
            };
            let router = self.clone();
            let pipeline = pipeline.downgrade();
            session.connect("on-feedback-rtcp", false, move |values| {
                let arg = |i: usize| values.get(i).and_then(|v| v.get::<u32>().ok());
                let (Some(kind), Some(fmt), Some(media)) = (arg(1), arg(2), arg(4)) else {
                    return None;
                };
                let fci = values
                    .get(5)
                    .and_then(|v| v.get::<Option<gst::Buffer>>().ok())
                    .flatten();
                if let Some(pipeline) = pipeline.upgrade() {
                    for ssrc in requested_ssrcs(kind, fmt, media, fci.as_deref()) {
                        router.deliver(&pipeline, ssrc);
                    }
                }
                None
            });
            hooked.insert(id);
        }
    }

    /// Requests delivered to an encoder, and requests naming an SSRC we do not send.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.delivered.load(Ordering::Relaxed),
            self.unknown.load(Ordering::Relaxed),
        )
    }

    fn deliver(&self, pipeline: &gst::Pipeline, ssrc: u32) {
        match payloader_for(pipeline, ssrc).and_then(|p| p.static_pad("src")) {
            Some(pad) => {
                let sent = pad.send_event(force_key_unit(true));
                debug!(ssrc = format_args!("{ssrc:08x}"), sent, "keyframe request");
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                debug!(
                    ssrc = format_args!("{ssrc:08x}"),
                    "keyframe request for an unknown SSRC"
                );
                self.unknown.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The SSRCs a feedback message asks keyframes for: the media SSRC of a PLI, each FCI entry
/// of a FIR (8 bytes: SSRC, sequence number, 3 reserved). Anything else asks for none.
fn requested_ssrcs(kind: u32, fmt: u32, media: u32, fci: Option<&gst::BufferRef>) -> Vec<u32> {
    match (kind, fmt) {
        (RTCP_PSFB, FMT_PLI) => vec![media],
        (RTCP_PSFB, FMT_FIR) => fci
            .and_then(|b| b.map_readable().ok())
            .map(|m| {
                m.chunks_exact(8)
                    .map(|e| u32::from_be_bytes([e[0], e[1], e[2], e[3]]))
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Asks every video encoder in `bin` (a track's encoder bin: one, or one per simulcast
/// layer) for a keyframe now, from its payloader. Returns how many were asked.
pub(crate) fn request_keyframes(bin: &gst::Bin) -> usize {
    payloaders(bin)
        .filter_map(|p| p.static_pad("src"))
        .filter(|pad| pad.send_event(force_key_unit(true)))
        .count()
}

/// The RTP payloaders inside `bin`, at any depth.
fn payloaders(bin: &gst::Bin) -> impl Iterator<Item = gst::Element> {
    bin.iterate_recurse()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| {
            e.factory().is_some_and(|f| {
                f.metadata(gst::ELEMENT_METADATA_KLASS)
                    .is_some_and(|k| k.contains("Payloader"))
            })
        })
}

/// The RTP payloader in `pipeline` currently sending `ssrc` (from its `stats`).
fn payloader_for(pipeline: &gst::Pipeline, ssrc: u32) -> Option<gst::Element> {
    payloaders(pipeline.upcast_ref()).find(|e| {
        e.find_property("stats").is_some()
            && e.property::<gst::Structure>("stats")
                .get::<u32>("ssrc")
                .ok()
                == Some(ssrc)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pli_names_its_media_ssrc() {
        assert_eq!(
            requested_ssrcs(206, 1, 0xdead_beef, None),
            vec![0xdead_beef]
        );
    }

    #[test]
    fn fir_names_each_fci_entry() {
        gst::init().expect("gstreamer");
        let fci = gst::Buffer::from_slice([
            0, 0, 0, 7, 1, 0, 0, 0, //
            0, 0, 1, 2, 9, 0, 0, 0,    //
            0xff, // a truncated entry is ignored
        ]);
        assert_eq!(requested_ssrcs(206, 4, 0, Some(&fci)), vec![7, 0x102]);
    }

    /// Two encoders that only make a keyframe when asked; each request, sent back to back
    /// as an SFU does for a joining student, must reach its own encoder.
    #[test]
    fn back_to_back_requests_reach_each_encoder() {
        gst::init().expect("gstreamer");
        let Some(enc) = ["x264enc", "vp8enc"]
            .into_iter()
            .find(|f| gst::ElementFactory::find(f).is_some())
        else {
            eprintln!("no software video encoder here");
            return;
        };
        let (enc, pay) = match enc {
            "x264enc" => ("x264enc tune=zerolatency key-int-max=100000", "rtph264pay"),
            _ => ("vp8enc deadline=1 keyframe-max-dist=100000", "rtpvp8pay"),
        };
        let branch = |n: u32| {
            format!(
                "videotestsrc is-live=true ! video/x-raw,width=160,height=120,framerate=30/1 \
                 ! {enc} name=enc{n} ! {pay} name=pay{n} ! fakesink sync=false"
            )
        };
        let pipeline = gst::parse::launch(&format!("{} {}", branch(0), branch(1)))
            .expect("pipeline")
            .downcast::<gst::Pipeline>()
            .expect("a pipeline");
        let keyframes: Vec<Arc<AtomicU64>> = (0..2)
            .map(|n| {
                let count = Arc::new(AtomicU64::new(0));
                let c = count.clone();
                let pad = pipeline
                    .by_name(&format!("enc{n}"))
                    .and_then(|e| e.static_pad("src"))
                    .expect("encoder src");
                pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
                    if info
                        .buffer()
                        .is_some_and(|b| !b.flags().contains(gst::BufferFlags::DELTA_UNIT))
                    {
                        c.fetch_add(1, Ordering::Relaxed);
                    }
                    gst::PadProbeReturn::Ok
                });
                count
            })
            .collect();
        pipeline.set_state(gst::State::Playing).expect("play");
        let wait = |what: &str, cond: &dyn Fn() -> bool| {
            let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while !cond() {
                assert!(
                    std::time::Instant::now() < until,
                    "timed out waiting for {what}"
                );
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        };
        let ssrc = |n: u32| {
            pipeline
                .by_name(&format!("pay{n}"))
                .expect("payloader")
                .property::<gst::Structure>("stats")
                .get::<u32>("ssrc")
                .expect("ssrc")
        };
        // The first frame of each stream is a keyframe; after it, none comes unasked.
        wait("first keyframes", &|| {
            keyframes.iter().all(|k| k.load(Ordering::Relaxed) == 1)
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(keyframes.iter().all(|k| k.load(Ordering::Relaxed) == 1));

        let router = KeyframeRouter::default();
        router.deliver(&pipeline, ssrc(0));
        router.deliver(&pipeline, ssrc(1));
        router.deliver(&pipeline, ssrc(0) ^ ssrc(1) ^ 1);
        wait("a keyframe from each encoder", &|| {
            keyframes.iter().all(|k| k.load(Ordering::Relaxed) >= 2)
        });
        assert_eq!(router.counts(), (2, 1), "delivered, unknown SSRC");
        pipeline.set_state(gst::State::Null).expect("stop");
    }

    #[test]
    fn other_feedback_asks_for_nothing() {
        // Generic NACK (205/1), REMB (206/15), a FIR without FCI.
        assert!(requested_ssrcs(205, 1, 5, None).is_empty());
        assert!(requested_ssrcs(206, 15, 5, None).is_empty());
        assert!(requested_ssrcs(206, 4, 0, None).is_empty());
    }
}
