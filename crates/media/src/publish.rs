//! The publish side: sources -> encoders -> webrtcbin (send-only), offered to the server.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use classroom_protocol::Source;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_webrtc as gst_webrtc;
use tokio::sync::mpsc::UnboundedSender;
use tracing::{info, warn};

use crate::pipeline::{
    BusWatch, add_candidate, make_webrtcbin, parse_sdp, set_local_from_reply, shut_down,
};
use crate::sources::{AudioInput, VideoInput};
use crate::{LocalSignal, MediaError};

/// What to publish and how.
#[derive(Debug, Clone)]
pub struct PublishConfig {
    /// Camera input, if the camera is on.
    pub camera: Option<VideoInput>,
    /// Camera resolution and frame rate.
    pub camera_mode: (u32, u32, u32),
    /// Screen input, if sharing.
    pub screen: Option<VideoInput>,
    /// Screen resolution and frame rate: sharp text, few frames.
    pub screen_mode: (u32, u32, u32),
    /// Microphone input, if the microphone is on.
    pub microphone: Option<AudioInput>,
    /// Camera target bitrate in bits/s.
    pub camera_bitrate: u32,
    /// Screen target bitrate in bits/s.
    pub screen_bitrate: u32,
    /// Addresses ICE may use; empty means every interface.
    pub local_ips: Vec<IpAddr>,
}

impl Default for PublishConfig {
    fn default() -> Self {
        PublishConfig {
            camera: Some(VideoInput::Test {
                pattern: "ball".into(),
            }),
            camera_mode: (640, 360, 30),
            screen: Some(VideoInput::Test {
                pattern: "smpte".into(),
            }),
            screen_mode: (1280, 720, 10),
            microphone: Some(AudioInput::Test),
            camera_bitrate: 800_000,
            screen_bitrate: 1_000_000,
            local_ips: Vec::new(),
        }
    }
}

/// RTP payload types. Camera and screen share VP8's type: str0m answers every VP8 m-line
/// with its own number, and the two are told apart by the SSRCs the offer announces.
const CAMERA_PT: u32 = 96;
const SCREEN_PT: u32 = 96;
const OPUS_PT: u32 = 111;

fn video_branch(input: &VideoInput, (w, h, fps): (u32, u32, u32), bitrate: u32, pt: u32) -> String {
    // deadline=1 is libvpx's realtime mode; no lookahead, and a keyframe at least every
    // 2 s so a subscriber whose keyframe request is lost still starts soon.
    format!(
        "{src} ! queue max-size-buffers=2 leaky=downstream ! vp8enc deadline=1 cpu-used=8 end-usage=cbr \
         target-bitrate={bitrate} keyframe-max-dist={kf} lag-in-frames=0 threads=2 buffer-size=500 \
         ! rtpvp8pay pt={pt} mtu=1200 picture-id-mode=15-bit",
        src = input.describe(w, h, fps),
        kf = fps * 2,
    )
}

/// The microphone branch's volume element: muting it sends silence, so receivers keep a
/// running stream and nothing is renegotiated.
const MIC_VOLUME: &str = "mic-volume";

fn audio_branch(input: &AudioInput) -> String {
    format!(
        "{src} ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=1 \
         ! volume name={MIC_VOLUME} ! opusenc inband-fec=true bitrate=32000 frame-size=20 ! rtpopuspay pt={OPUS_PT}",
        src = input.describe()
    )
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Builds one source's branch, links it to a new send-only webrtcbin sink pad and starts it
/// (a no-op before the pipeline plays; in a playing pipeline it joins in).
fn attach_branch(
    pipeline: &gst::Pipeline,
    webrtc: &gst::Element,
    source: Source,
    desc: &str,
) -> Result<(), MediaError> {
    let bin = gst::parse::bin_from_description(desc, true)
        .map_err(|e| MediaError::Pipeline(format!("{source:?} branch: {e}")))?;
    bin.set_property("name", format!("{source:?}").to_lowercase());
    pipeline.add(&bin)?;
    let sink = webrtc
        .request_pad_simple("sink_%u")
        .ok_or_else(|| MediaError::Pipeline("webrtcbin gave no sink pad".into()))?;
    let transceiver = sink.property::<gst_webrtc::WebRTCRTPTransceiver>("transceiver");
    transceiver.set_property(
        "direction",
        gst_webrtc::WebRTCRTPTransceiverDirection::Sendonly,
    );
    // No codec-preferences: webrtcbin then takes the payloader's caps, SSRC included, and
    // announces a=ssrc so the server can tell camera from screen.
    if source.kind() == classroom_protocol::MediaKind::Video {
        transceiver.set_property("do-nack", true);
    }
    let src = bin
        .static_pad("src")
        .ok_or_else(|| MediaError::Pipeline("branch has no src pad".into()))?;
    src.link(&sink)
        .map_err(|e| MediaError::Pipeline(format!("{source:?} link: {e:?}")))?;
    bin.sync_state_with_parent()?;
    Ok(())
}

/// Creates an offer carrying every track, sets it locally and sends it with the source of
/// each m-line.
fn send_offer(
    webrtc: &gst::Element,
    sources: &Arc<Mutex<Vec<Source>>>,
    tx: &UnboundedSender<LocalSignal>,
) {
    let (w, sources, tx) = (webrtc.clone(), sources.clone(), tx.clone());
    let promise = gst::Promise::with_change_func(move |reply| {
        let Some(offer) = set_local_from_reply(&w, reply, "offer", &tx) else {
            return;
        };
        let sdp = offer.sdp();
        let sources = lock(&sources).clone();
        let tracks = (0..sdp.medias_len())
            .filter_map(|i| {
                sdp.media(i)
                    .and_then(|m| m.attribute_val("mid"))
                    .map(str::to_owned)
            })
            .zip(sources)
            .collect();
        match sdp.as_text() {
            Ok(text) => {
                let _ = tx.send(LocalSignal::Offer { sdp: text, tracks });
            }
            Err(e) => warn!("offer to text: {e}"),
        }
    });
    webrtc.emit_by_name::<()>("create-offer", &[&None::<gst::Structure>, &promise]);
}

/// A running publish pipeline.
pub struct Publisher {
    pipeline: gst::Pipeline,
    webrtc: gst::Element,
    /// What each sink pad (so each m-line, in order) carries.
    sources: Arc<Mutex<Vec<Source>>>,
    signals: UnboundedSender<LocalSignal>,
    _bus: BusWatch,
}

impl Publisher {
    /// Builds the pipeline, starts it, and sends the offer through `signals` once webrtcbin
    /// asks for negotiation.
    pub fn start(
        config: &PublishConfig,
        signals: UnboundedSender<LocalSignal>,
    ) -> Result<Self, MediaError> {
        let pipeline = gst::Pipeline::with_name("publish");
        let webrtc = make_webrtcbin("publish-webrtc", &signals, &config.local_ips)?;
        pipeline.add(&webrtc)?;

        let mut branches: Vec<(Source, String)> = Vec::new();
        if let Some(cam) = &config.camera {
            branches.push((
                Source::Camera,
                video_branch(cam, config.camera_mode, config.camera_bitrate, CAMERA_PT),
            ));
        }
        if let Some(mic) = &config.microphone {
            branches.push((Source::Microphone, audio_branch(mic)));
        }
        if let Some(screen) = &config.screen {
            branches.push((
                Source::Screen,
                video_branch(screen, config.screen_mode, config.screen_bitrate, SCREEN_PT),
            ));
        }
        if branches.is_empty() {
            return Err(MediaError::Pipeline("nothing to publish".into()));
        }
        // The order pads are requested in is the order of the m-lines in the offer.
        let sources = Arc::new(Mutex::new(Vec::new()));
        for (source, desc) in branches {
            attach_branch(&pipeline, &webrtc, source, &desc)?;
            lock(&sources).push(source);
        }

        // webrtcbin asks again whenever a track is added mid-class; each answer to it is a
        // full offer carrying every track so far.
        let tx = signals.clone();
        let shared_sources = sources.clone();
        webrtc.connect("on-negotiation-needed", false, move |values| {
            let webrtc = values.first().and_then(|v| v.get::<gst::Element>().ok())?;
            send_offer(&webrtc, &shared_sources, &tx);
            None
        });

        let bus = BusWatch::spawn(&pipeline, "publish", signals.clone())?;
        pipeline.set_state(gst::State::Playing)?;
        info!("publish pipeline playing");
        Ok(Publisher {
            pipeline,
            webrtc,
            sources,
            signals,
            _bus: bus,
        })
    }

    /// Starts sharing the screen mid-class as a track of its own: the camera and microphone
    /// carry on, and webrtcbin renegotiates to add the new m-line.
    pub fn share_screen(
        &self,
        input: &VideoInput,
        mode: (u32, u32, u32),
        bitrate: u32,
    ) -> Result<(), MediaError> {
        if self.pipeline.by_name("screen").is_some() {
            return Err(MediaError::Pipeline("the screen is already shared".into()));
        }
        // Record the source before the pad exists: the offer webrtcbin then asks for must
        // already know what its new m-line carries.
        lock(&self.sources).push(Source::Screen);
        let desc = video_branch(input, mode, bitrate, SCREEN_PT);
        if let Err(e) = attach_branch(&self.pipeline, &self.webrtc, Source::Screen, &desc) {
            lock(&self.sources).pop();
            return Err(e);
        }
        info!("screen sharing started");
        Ok(())
    }

    /// Applies the server's answer to our offer.
    pub fn apply_answer(&self, sdp: &str) -> Result<(), MediaError> {
        let answer = parse_sdp(gst_webrtc::WebRTCSDPType::Answer, sdp)?;
        self.webrtc
            .emit_by_name::<()>("set-remote-description", &[&answer, &None::<gst::Promise>]);
        Ok(())
    }

    /// Adds an ICE candidate from the server.
    pub fn add_remote_candidate(&self, mline: u32, candidate: &str) {
        add_candidate(&self.webrtc, mline, candidate);
    }

    /// Stops sharing the screen mid-class: its m-line goes inactive in a renegotiation (the
    /// server then ends the track for everyone) and the capture branch is taken down. The
    /// camera and microphone carry on.
    pub fn stop_screen_share(&self) -> Result<(), MediaError> {
        let bin = self
            .pipeline
            .by_name("screen")
            .ok_or_else(|| MediaError::Pipeline("the screen is not being shared".into()))?;
        let src = bin
            .static_pad("src")
            .ok_or_else(|| MediaError::Pipeline("screen branch has no src pad".into()))?;
        if let Some(sink) = src.peer() {
            let transceiver = sink.property::<gst_webrtc::WebRTCRTPTransceiver>("transceiver");
            transceiver.set_property(
                "direction",
                gst_webrtc::WebRTCRTPTransceiverDirection::Inactive,
            );
            let _ = src.unlink(&sink);
        }
        bin.set_state(gst::State::Null)?;
        self.pipeline.remove(&bin)?;
        // webrtcbin 1.22 does not ask for negotiation when a transceiver's direction changes.
        send_offer(&self.webrtc, &self.sources, &self.signals);
        info!("screen sharing stopped");
        Ok(())
    }

    /// Mutes or unmutes the microphone. The track keeps flowing (silence), so muting is
    /// instant and costs no renegotiation.
    pub fn set_microphone_muted(&self, muted: bool) -> Result<(), MediaError> {
        let volume = self
            .pipeline
            .by_name(MIC_VOLUME)
            .ok_or_else(|| MediaError::Pipeline("no microphone is being published".into()))?;
        volume.set_property("mute", muted);
        Ok(())
    }

    /// The GStreamer pipeline, for tests and diagnostics.
    pub fn pipeline(&self) -> &gst::Pipeline {
        &self.pipeline
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        shut_down(&self.pipeline);
    }
}
