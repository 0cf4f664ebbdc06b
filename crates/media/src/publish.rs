//! The publish side: sources -> encoders -> webrtcbin (send-only), offered to the server.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use classroom_protocol::Source;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_webrtc as gst_webrtc;
use tokio::sync::mpsc::UnboundedSender;
use tracing::{info, warn};

use crate::inputs::{Inputs, Wanted, encoder_name};
use crate::level::AudioLevel;
use crate::pipeline::{
    BusWatch, add_candidate, make_webrtcbin, parse_sdp, set_local_from_reply, shut_down,
};
use crate::playback::{ECHO_PROBE, echo_probe_available};
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

/// The video encoder's factory. Tests point it at a missing element.
const VIDEO_ENCODER: &str = "vp8enc";

/// The encoder half of a video track; the input half lives in `inputs.rs`.
fn video_encoder(encoder: &str, fps: u32, bitrate: u32, pt: u32) -> String {
    // deadline=1 is libvpx's realtime mode; no lookahead, and a keyframe at least every
    // 2 s so a subscriber whose keyframe request is lost still starts soon.
    format!(
        "queue max-size-buffers=2 leaky=downstream ! {encoder} deadline=1 cpu-used=8 end-usage=cbr \
         target-bitrate={bitrate} keyframe-max-dist={kf} lag-in-frames=0 threads=2 buffer-size=500 \
         ! rtpvp8pay pt={pt} mtu=1200 picture-id-mode=15-bit",
        kf = fps * 2,
    )
}

/// The microphone branch's volume element: muting it sends silence, so receivers keep a
/// running stream and nothing is renegotiated.
const MIC_VOLUME: &str = "mic-volume";

/// The encoder half of the microphone track. Real microphones go through webrtcdsp: noise
/// suppression and gain control always, echo cancellation when this process plays audio
/// through the echo probe (without a probe webrtcdsp refuses to start, and without playback
/// there is no echo).
fn audio_encoder(input: &AudioInput) -> String {
    let dsp = if input.is_real() && gst::ElementFactory::find("webrtcdsp").is_some() {
        format!(
            "webrtcdsp probe={ECHO_PROBE} echo-cancel={} noise-suppression=true gain-control=true ! audioconvert ! ",
            echo_probe_available()
        )
    } else {
        String::new()
    };
    format!(
        "queue max-size-time=100000000 leaky=downstream ! {dsp}volume name={MIC_VOLUME} \
         ! opusenc inband-fec=true bitrate=32000 frame-size=20 ! rtpopuspay pt={OPUS_PT}"
    )
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Builds one track's encoder, links it to a new send-only webrtcbin sink pad and starts it
/// (a no-op before the pipeline plays; in a playing pipeline it joins in). Its input comes
/// separately ([`Inputs::set`]).
fn attach_branch(
    pipeline: &gst::Pipeline,
    webrtc: &gst::Element,
    source: Source,
    desc: &str,
) -> Result<(), MediaError> {
    let bin = gst::parse::bin_from_description(desc, true).map_err(|e| {
        match e.kind::<gst::ParseError>() {
            Some(gst::ParseError::NoSuchElement) => {
                MediaError::MissingElement(format!("{source:?} encoder: {e}"))
            }
            _ => MediaError::Pipeline(format!("{source:?} branch: {e}")),
        }
    })?;
    bin.set_property("name", encoder_name(source));
    // An input that dies sends EOS; the track must outlive it (a stand-in input follows).
    // An input swapped in asks for an allocation, a serialized query that waits until the
    // queue has drained, and a queue stuck downstream (webrtcbin holds media until DTLS is
    // up) would then hold the input's thread, and swapping it out again, forever: answer it
    // here with "no preference" (plain system memory).
    if let Some(sink) = bin.static_pad("sink") {
        sink.add_probe(
            gst::PadProbeType::EVENT_DOWNSTREAM | gst::PadProbeType::QUERY_DOWNSTREAM,
            |_, info| match &info.data {
                Some(gst::PadProbeData::Event(e)) if e.type_() == gst::EventType::Eos => {
                    gst::PadProbeReturn::Drop
                }
                Some(gst::PadProbeData::Query(q))
                    if matches!(q.view(), gst::QueryView::Allocation(_)) =>
                {
                    gst::PadProbeReturn::Handled
                }
                _ => gst::PadProbeReturn::Ok,
            },
        );
    }
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
    inputs: Arc<Inputs>,
    _bus: BusWatch,
}

impl Publisher {
    /// Builds the pipeline, starts it, and sends the offer through `signals` once webrtcbin
    /// asks for negotiation.
    ///
    /// A track whose encoder is missing is left out and one whose device cannot be opened
    /// starts on its stand-in; both are reported as [`LocalSignal::TrackFailed`] and the
    /// other tracks start. Only a pipeline with no track at all is an error.
    pub fn start(
        config: &PublishConfig,
        signals: UnboundedSender<LocalSignal>,
    ) -> Result<Self, MediaError> {
        Self::start_with_encoder(config, signals, VIDEO_ENCODER)
    }

    pub(crate) fn start_with_encoder(
        config: &PublishConfig,
        signals: UnboundedSender<LocalSignal>,
        encoder: &str,
    ) -> Result<Self, MediaError> {
        let pipeline = gst::Pipeline::with_name("publish");
        let webrtc = make_webrtcbin("publish-webrtc", &signals, &config.local_ips)?;
        pipeline.add(&webrtc)?;
        let inputs = Inputs::new(&pipeline, signals.clone());

        let mut branches: Vec<(Source, String, Wanted)> = Vec::new();
        if let Some(cam) = &config.camera {
            let (_, _, fps) = config.camera_mode;
            branches.push((
                Source::Camera,
                video_encoder(encoder, fps, config.camera_bitrate, CAMERA_PT),
                Wanted::Video(cam.clone(), config.camera_mode),
            ));
        }
        if let Some(mic) = &config.microphone {
            branches.push((
                Source::Microphone,
                audio_encoder(mic),
                Wanted::Audio(mic.clone()),
            ));
        }
        if let Some(screen) = &config.screen {
            let (_, _, fps) = config.screen_mode;
            branches.push((
                Source::Screen,
                video_encoder(encoder, fps, config.screen_bitrate, SCREEN_PT),
                Wanted::Video(screen.clone(), config.screen_mode),
            ));
        }
        // The order pads are requested in is the order of the m-lines in the offer.
        let sources = Arc::new(Mutex::new(Vec::new()));
        for (source, desc, wanted) in branches {
            if let Err(e) = attach_branch(&pipeline, &webrtc, source, &desc) {
                warn!(?source, "track left out: {e}");
                let _ = signals.send(LocalSignal::TrackFailed {
                    source,
                    message: e.to_string(),
                });
                continue;
            }
            lock(&sources).push(source);
            // A device that cannot be opened has already been reported and replaced by its
            // stand-in; the track goes ahead.
            let _ = inputs.set(source, wanted);
        }
        if lock(&sources).is_empty() {
            return Err(MediaError::Pipeline("nothing to publish".into()));
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

        let hook = Arc::downgrade(&inputs);
        let bus = BusWatch::spawn_with(&pipeline, "publish", signals.clone(), move |err| {
            hook.upgrade().is_some_and(|inputs| inputs.on_error(err))
        })?;
        pipeline.set_state(gst::State::Playing)?;
        info!("publish pipeline playing");
        Ok(Publisher {
            pipeline,
            webrtc,
            sources,
            signals,
            inputs,
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
        let desc = video_encoder(VIDEO_ENCODER, mode.2, bitrate, SCREEN_PT);
        if let Err(e) = attach_branch(&self.pipeline, &self.webrtc, Source::Screen, &desc) {
            lock(&self.sources).pop();
            return Err(e);
        }
        if let Err(e) = self
            .inputs
            .set(Source::Screen, Wanted::Video(input.clone(), mode))
        {
            // The stand-in is running and the app has been told; the share itself stands.
            warn!("screen input: {e}");
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
        self.inputs.remove(Source::Screen);
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

    /// Switches the camera mid-class (or brings a failed one back): the track, its m-line and
    /// its encoder stay, only the capture changes. On error the stand-in picture runs and
    /// [`LocalSignal::TrackFailed`] has been sent.
    pub fn set_camera(&self, input: &VideoInput) -> Result<(), MediaError> {
        let mode = self.video_mode(Source::Camera)?;
        self.inputs
            .set(Source::Camera, Wanted::Video(input.clone(), mode))
    }

    /// Switches the microphone mid-class (or brings a failed one back), like
    /// [`Publisher::set_camera`]; mute is kept. Echo cancellation stays as the track started.
    pub fn set_microphone(&self, input: &AudioInput) -> Result<(), MediaError> {
        if self
            .pipeline
            .by_name(&encoder_name(Source::Microphone))
            .is_none()
        {
            return Err(MediaError::Pipeline(
                "no microphone is being published".into(),
            ));
        }
        self.inputs
            .set(Source::Microphone, Wanted::Audio(input.clone()))
    }

    /// The input level of a cpal microphone (before echo cancellation and mute), updated
    /// per captured block; `None` when the microphone is not captured through cpal.
    pub fn microphone_level(&self) -> Option<AudioLevel> {
        self.inputs.microphone_level()
    }

    /// True while `source`'s device has failed and its stand-in is being sent.
    pub fn is_track_failed(&self, source: Source) -> bool {
        self.inputs.is_failed(source)
    }

    fn video_mode(&self, source: Source) -> Result<(u32, u32, u32), MediaError> {
        self.inputs
            .video_mode(source)
            .ok_or_else(|| MediaError::Pipeline(format!("{source:?} is not being published")))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn next_offer(
        rx: &mut tokio::sync::mpsc::UnboundedReceiver<LocalSignal>,
        failed: &mut Vec<(Source, String)>,
    ) -> (String, Vec<(String, Source)>) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            assert!(std::time::Instant::now() < deadline, "no offer");
            match rx.try_recv() {
                Ok(LocalSignal::Offer { sdp, tracks }) => return (sdp, tracks),
                Ok(LocalSignal::TrackFailed { source, message }) => failed.push((source, message)),
                Ok(_) => {}
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        }
    }

    fn config(camera: VideoInput) -> PublishConfig {
        PublishConfig {
            camera: Some(camera),
            camera_mode: (320, 240, 15),
            screen: None,
            microphone: Some(AudioInput::Test),
            ..PublishConfig::default()
        }
    }

    #[test]
    fn a_missing_encoder_leaves_its_track_out_and_the_rest_is_offered() {
        gst::init().expect("gst");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let cfg = config(VideoInput::Test {
            pattern: "ball".into(),
        });
        let publisher =
            Publisher::start_with_encoder(&cfg, tx, "classroom-no-such-encoder").expect("start");
        let mut failed = Vec::new();
        let (_, tracks) = next_offer(&mut rx, &mut failed);
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert_eq!(failed[0].0, Source::Camera);
        assert!(
            failed[0].1.contains("classroom-no-such-encoder"),
            "{failed:?}"
        );
        assert_eq!(
            tracks.iter().map(|t| t.1).collect::<Vec<_>>(),
            vec![Source::Microphone]
        );
        assert!(publisher.pipeline().by_name("camera").is_none());
    }

    #[test]
    fn a_camera_that_cannot_open_is_offered_with_its_stand_in() {
        gst::init().expect("gst");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let cfg = config(VideoInput::V4l2 {
            device: "/dev/video-classroom-missing".into(),
        });
        let publisher = Publisher::start(&cfg, tx).expect("start");
        let mut failed = Vec::new();
        let (sdp, tracks) = next_offer(&mut rx, &mut failed);
        assert_eq!(
            tracks.iter().map(|t| t.1).collect::<Vec<_>>(),
            vec![Source::Camera, Source::Microphone]
        );
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert!(publisher.is_track_failed(Source::Camera));
        // Every m-line announces its SSRC, the stand-in's too: the server needs it.
        assert_eq!(sdp.matches("m=").count(), 2, "{sdp}");
        assert!(sdp.matches("a=ssrc:").count() >= 2, "{sdp}");
        for m in sdp.split("m=").skip(1) {
            assert!(m.contains("a=ssrc:"), "an m-line without SSRC: {m}");
            assert!(m.contains("a=sendonly"), "{m}");
        }
        // And the stand-in's pictures reach the encoder.
        let frames = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = frames.clone();
        publisher
            .pipeline()
            .by_name("camera")
            .and_then(|b| b.static_pad("sink"))
            .expect("camera encoder")
            .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                gst::PadProbeReturn::Ok
            });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while frames.load(std::sync::atomic::Ordering::Relaxed) < 5 {
            assert!(
                std::time::Instant::now() < deadline,
                "the stand-in sent no pictures"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}
