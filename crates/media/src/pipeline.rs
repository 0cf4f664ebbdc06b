//! Pieces shared by the publish and subscribe pipelines: webrtcbin set-up, SDP handling,
//! ICE candidates and the bus watcher.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_sdp as gst_sdp;
use gstreamer_webrtc as gst_webrtc;
use tokio::sync::mpsc::UnboundedSender;
use tracing::{debug, warn};

use crate::{LocalSignal, MediaError};

/// Receive-side jitter buffer in ms: sized for conversation, not for smoothness.
pub(crate) const JITTER_MS: u32 = 50;

/// An upstream force-key-unit event. Sent towards a decoder's webrtcbin, its RTP session
/// turns it into a PLI for the stream's SSRC (the SSRC demuxer on the way fills it in), or a
/// FIR with `all_headers`; sent from a payloader's src pad it reaches the encoder.
pub(crate) fn force_key_unit(all_headers: bool) -> gst::Event {
    gst::event::CustomUpstream::new(
        gst::Structure::builder("GstForceKeyUnit")
            .field("all-headers", all_headers)
            .build(),
    )
}

pub(crate) fn make_element(factory: &str, name: &str) -> Result<gst::Element, MediaError> {
    gst::ElementFactory::make(factory)
        .name(name)
        .build()
        .map_err(|_| MediaError::MissingElement(factory.into()))
}

/// A webrtcbin that bundles everything on one transport, with a short jitter buffer, and
/// reports its ICE candidates as [`LocalSignal::Candidate`].
///
/// With `local_ips` non-empty, ICE gathers only on those addresses: a class on one computer
/// then stays on loopback instead of hairpinning through the network interface.
pub(crate) fn make_webrtcbin(
    name: &str,
    signals: &UnboundedSender<LocalSignal>,
    local_ips: &[IpAddr],
) -> Result<gst::Element, MediaError> {
    let webrtc = make_element("webrtcbin", name)?;
    webrtc.set_property_from_str("bundle-policy", "max-bundle");
    webrtc.set_property("latency", JITTER_MS);
    let ice = webrtc.property::<gst::glib::Object>("ice-agent");
    disable_upnp(&ice);
    if !local_ips.is_empty() {
        for ip in local_ips {
            if !ice.emit_by_name::<bool>("add-local-ip-address", &[&ip.to_string()]) {
                return Err(MediaError::Pipeline(format!(
                    "ICE agent refused local address {ip}"
                )));
            }
        }
    }
    let tx = signals.clone();
    webrtc.connect("on-ice-candidate", false, move |values| {
        let mline = values.get(1).and_then(|v| v.get::<u32>().ok());
        let candidate = values.get(2).and_then(|v| v.get::<String>().ok());
        if let (Some(mline), Some(candidate)) = (mline, candidate) {
            let _ = tx.send(LocalSignal::Candidate { mline, candidate });
        }
        None
    });
    Ok(webrtc)
}

/// Turns off libnice's UPnP on webrtcbin's ICE agent. libnice asks the LAN's router (UPnP
/// IGD, through GUPnP) to forward a port for every candidate it gathers: a classroom's peer
/// is always our server, which needs no forwarded port, and on a network without such a router
/// (most school networks, every test machine) GUPnP prints warnings that look like failures.
fn disable_upnp(ice: &gst::glib::Object) {
    // GstWebRTCNice keeps its NiceAgent in "agent"; libnice built without GUPnP has no "upnp".
    if ice.find_property("agent").is_none() {
        return;
    }
    let agent = ice.property::<gst::glib::Object>("agent");
    if agent.find_property("upnp").is_some() {
        agent.set_property("upnp", false);
    }
}

/// Parses SDP text into a session description of the given type.
pub(crate) fn parse_sdp(
    kind: gst_webrtc::WebRTCSDPType,
    sdp: &str,
) -> Result<gst_webrtc::WebRTCSessionDescription, MediaError> {
    let msg = gst_sdp::SDPMessage::parse_buffer(sdp.as_bytes())
        .map_err(|e| MediaError::BadSdp(e.to_string()))?;
    if msg.medias_len() == 0 {
        return Err(MediaError::BadSdp("no media sections".into()));
    }
    Ok(gst_webrtc::WebRTCSessionDescription::new(kind, msg))
}

/// The session description webrtcbin put under `field` ("offer" or "answer") in a
/// create-offer/create-answer reply; reports
/// [`LocalSignal::Failed`] and returns `None` when there is none.
pub(crate) fn take_from_reply(
    reply: Result<Option<&gst::StructureRef>, gst::PromiseError>,
    field: &str,
    signals: &UnboundedSender<LocalSignal>,
) -> Option<gst_webrtc::WebRTCSessionDescription> {
    let desc = match reply {
        Ok(Some(s)) => s.get::<gst_webrtc::WebRTCSessionDescription>(field).ok(),
        _ => None,
    };
    if desc.is_none() {
        let _ = signals.send(LocalSignal::Failed {
            message: format!("webrtcbin created no {field}"),
        });
    }
    desc
}

/// Sets `desc` as webrtcbin's local description.
pub(crate) fn set_local(webrtc: &gst::Element, desc: &gst_webrtc::WebRTCSessionDescription) {
    webrtc.emit_by_name::<()>("set-local-description", &[desc, &None::<gst::Promise>]);
}

/// Adds a candidate the server trickled.
pub(crate) fn add_candidate(webrtc: &gst::Element, mline: u32, candidate: &str) {
    webrtc.emit_by_name::<()>("add-ice-candidate", &[&mline, &candidate]);
}

/// Watches a pipeline's bus on its own thread and reports errors as [`LocalSignal::Failed`].
pub(crate) struct BusWatch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl BusWatch {
    pub(crate) fn spawn(
        pipeline: &gst::Pipeline,
        label: &'static str,
        signals: UnboundedSender<LocalSignal>,
    ) -> Result<Self, MediaError> {
        Self::spawn_with(pipeline, label, signals, |_| false)
    }

    /// Like [`BusWatch::spawn`], offering each error to `on_error` first; errors it handles
    /// (returns true for) are not reported as [`LocalSignal::Failed`].
    pub(crate) fn spawn_with(
        pipeline: &gst::Pipeline,
        label: &'static str,
        signals: UnboundedSender<LocalSignal>,
        on_error: impl Fn(&gst::message::Error) -> bool + Send + 'static,
    ) -> Result<Self, MediaError> {
        let bus = pipeline
            .bus()
            .ok_or_else(|| MediaError::Pipeline("pipeline has no bus".into()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(format!("{label}-bus"))
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) else {
                        continue;
                    };
                    match msg.view() {
                        gst::MessageView::Error(err) if on_error(err) => {}
                        gst::MessageView::Error(err) => {
                            let message = format!(
                                "{}: {} ({})",
                                err.src()
                                    .map(|s| s.path_string().to_string())
                                    .unwrap_or_default(),
                                err.error(),
                                err.debug().map(|d| d.to_string()).unwrap_or_default()
                            );
                            warn!(pipeline = label, "{message}");
                            let _ = signals.send(LocalSignal::Failed { message });
                        }
                        gst::MessageView::Warning(w) => {
                            debug!(pipeline = label, "warning: {}", w.error())
                        }
                        gst::MessageView::Eos(_) => debug!(pipeline = label, "end of stream"),
                        _ => {}
                    }
                }
            })
            .map_err(|e| MediaError::Pipeline(format!("bus thread: {e}")))?;
        Ok(BusWatch {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for BusWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Stops a pipeline; errors on the way down are only logged, there is nothing left to save.
pub(crate) fn shut_down(pipeline: &gst::Pipeline) {
    if let Err(e) = pipeline.set_state(gst::State::Null) {
        debug!("pipeline stop: {e}");
    }
}
