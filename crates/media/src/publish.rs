//! The publish side: sources -> encoders -> webrtcbin (send-only), offered to the server.
//!
//! Each track is two bins: an input (device capture, or its stand-in; `inputs.rs`) and an
//! encoder (the codec [`VideoEncoder::detect`] picked, or Opus) linked to webrtcbin. Devices
//! are swapped by replacing only the input, so the m-line, the encoder, its live bitrate
//! control and the negotiated payload type all stay.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use classroom_protocol::{PublishTrack, SimulcastLayer, Source};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_webrtc as gst_webrtc;
use tokio::sync::mpsc::UnboundedSender;
use tracing::{info, warn};

use crate::encode::{CodecChoice, Content, VideoEncoder};
use crate::inputs::{Inputs, Wanted, encoder_name};
use crate::keyframes::KeyframeRouter;
use crate::level::AudioLevel;
use crate::monitor::{Monitor, SentTrack, TrackEncoder};
use crate::pipeline::{
    BusWatch, add_candidate, make_webrtcbin, parse_sdp, set_local, shut_down, take_from_reply,
};
use crate::playback::{ECHO_PROBE, echo_probe_available};
use crate::simulcast;
use crate::sources::{AudioInput, VideoInput};
use crate::stats::PublisherStats;
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
    /// Video codec: hardware H.264 where present, else software H.264, else VP8.
    pub video_codec: CodecChoice,
    /// Draw each video frame's capture time into its corner (see [`crate::stamp`]), for
    /// glass-to-glass measurements. Visible in the picture: benchmarks and tests only.
    pub stamp_frames: bool,
    /// Fraction (0..1) of outgoing video RTP packets to drop before webrtcbin: a rehearsal
    /// of a lossy network for tests and benchmarks of the congestion controller. Keep 0.
    pub drop_video_rtp: f32,
    /// Simulcast layers the server asked the camera to be sent in (its `joined`); empty, or
    /// fewer than two layers that fit the camera: one encoding. See [`crate::simulcast`].
    pub simulcast: Vec<SimulcastLayer>,
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
            video_codec: CodecChoice::Auto,
            stamp_frames: false,
            drop_video_rtp: 0.0,
            simulcast: Vec::new(),
        }
    }
}

const OPUS_PT: u32 = 111;

/// The encoder half of a video track: raw I420 from the input (which always delivers
/// `mode`), encoded by `encoder` and packetised, up to webrtcbin.
fn video_encoder_branch(
    mode: (u32, u32, u32),
    bitrate: u32,
    encoder: VideoEncoder,
    content: Content,
    drop_rtp: f32,
) -> String {
    let lossy = if drop_rtp > 0.0 {
        format!(" ! identity drop-probability={drop_rtp}")
    } else {
        String::new()
    };
    // One queue buffer, leaky: when the encoder falls behind, the oldest frame is dropped
    // rather than delayed. The capture stamp is drawn on its sink pad, right after the input.
    format!(
        "queue name=encq max-size-buffers=1 max-size-bytes=0 max-size-time=0 leaky=downstream \
         ! {enc}{lossy}",
        enc = encoder.description(content, mode, bitrate, encoder.payload_type()),
    )
}

/// The microphone branch's volume element: muting it sends silence, so receivers keep a
/// running stream and nothing is renegotiated.
const MIC_VOLUME: &str = "mic-volume";

/// The encoder half of the microphone track. Real microphones go through webrtcdsp: noise
/// suppression and gain control always, echo cancellation when this process plays audio
/// through the echo probe (without a probe webrtcdsp refuses to start, and without playback
/// there is no echo). Opus is named `enc` and its payloader `pay` for the monitor; the
/// payloader writes each packet's audio level for the server's speaker detection
/// (`rtp_level.rs`).
fn audio_encoder_branch(input: &AudioInput) -> String {
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
         ! opusenc name=enc inband-fec=true packet-loss-percentage=10 bitrate=32000 frame-size=20 \
         audio-type=voice ! rtpopuspay name=pay pt={OPUS_PT}{levels}",
        levels = crate::rtp_level::branch_tail(),
    )
}

/// Hands each packet the microphone's Opus encoder makes (in `bin`) to the recording in
/// `recorder`, while there is one.
fn feed_recorder(bin: &gst::Bin, recorder: &Arc<Mutex<Option<Arc<crate::Recorder>>>>) {
    let Some(pad) = bin.by_name("enc").and_then(|enc| enc.static_pad("src")) else {
        return;
    };
    let recorder = recorder.clone();
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let Some(gst::PadProbeData::Buffer(buffer)) = &info.data
            && let Some(recorder) = lock(&recorder).clone()
        {
            recorder.local_audio(buffer);
        }
        gst::PadProbeReturn::Ok
    });
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Builds one track's encoder bin, links it to a new send-only webrtcbin sink pad and starts
/// it (a no-op before the pipeline plays; in a playing pipeline it joins in). Its input comes
/// separately ([`Inputs::set`]).
fn attach_branch(
    pipeline: &gst::Pipeline,
    webrtc: &gst::Element,
    source: Source,
    desc: &str,
    stamp: bool,
) -> Result<gst::Bin, MediaError> {
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
    // On the encoder bin, not the input: every input swapped in (the stand-in too) is
    // stamped, and the stamp is still the moment the frame left capture.
    if stamp && let Some(pad) = bin.by_name("encq").and_then(|q| q.static_pad("sink")) {
        crate::stamp::stamp_pad(&pad);
    }
    if source == Source::Microphone {
        crate::rtp_level::install(&bin);
    }
    pipeline.add(&bin)?;
    let Some(sink) = webrtc.request_pad_simple("sink_%u") else {
        let _ = pipeline.remove(&bin);
        return Err(MediaError::Pipeline("webrtcbin gave no sink pad".into()));
    };
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
    if let Err(e) = src.link(&sink) {
        webrtc.release_request_pad(&sink);
        let _ = pipeline.remove(&bin);
        return Err(MediaError::Pipeline(format!("{source:?} link: {e:?}")));
    }
    bin.sync_state_with_parent()?;
    Ok(bin)
}

/// How video tracks are encoded, fixed for the publisher's lifetime.
#[derive(Debug, Clone)]
struct VideoSetup {
    /// Encoders usable here, best first.
    encoders: Vec<VideoEncoder>,
    stamp: bool,
    drop_rtp: f32,
    /// Layers asked for the camera.
    simulcast: Vec<SimulcastLayer>,
}

/// Attaches a video track's encoder bin with the first encoder candidate that builds; a
/// hardware encoder whose plugin exists but whose device does not (or whose properties differ
/// in this GStreamer version) falls through to the next. No candidate at all is a
/// [`MediaError::MissingElement`].
fn attach_video(
    pipeline: &gst::Pipeline,
    webrtc: &gst::Element,
    source: Source,
    (mode, bitrate): ((u32, u32, u32), u32),
    setup: &VideoSetup,
) -> Result<SentTrack, MediaError> {
    let content = match source {
        Source::Screen => Content::Screen,
        _ => Content::Camera,
    };
    let mut last = MediaError::MissingElement(format!("{source:?}: no usable video encoder"));
    let mut layers = match source {
        Source::Camera => simulcast::plan(&setup.simulcast, (mode.0, mode.1), bitrate),
        _ => Vec::new(),
    };
    simulcast::assign_ssrcs(&mut layers);
    for &encoder in &setup.encoders {
        let desc = if layers.is_empty() {
            video_encoder_branch(mode, bitrate, encoder, content, setup.drop_rtp)
        } else {
            let pt = encoder.payload_type();
            simulcast::branch_description(&layers, encoder, mode, pt, setup.drop_rtp)
        };
        match attach_branch(pipeline, webrtc, source, &desc, setup.stamp) {
            Ok(bin) => {
                info!(
                    ?source,
                    encoder = encoder.factory(),
                    layers = layers.len(),
                    "video encoder"
                );
                let track = SentTrack::new(source, bin, TrackEncoder::Video(encoder), bitrate);
                if layers.is_empty() {
                    return Ok(track);
                }
                let camera = Arc::new(simulcast::Camera::new(layers));
                camera.tag(&track.bin)?;
                camera.hook_webrtcbin(webrtc);
                return Ok(track.with_layers(camera));
            }
            Err(e) => {
                warn!(
                    ?source,
                    encoder = encoder.factory(),
                    "encoder unusable: {e}"
                );
                last = e;
            }
        }
    }
    Err(last)
}

/// Creates an offer carrying every track, sets it locally and sends it with the source of
/// each m-line.
fn send_offer(
    webrtc: &gst::Element,
    sources: &Arc<Mutex<Vec<Source>>>,
    sent: &Arc<Mutex<Vec<SentTrack>>>,
    tx: &UnboundedSender<LocalSignal>,
) {
    let (w, sources, sent, tx) = (webrtc.clone(), sources.clone(), sent.clone(), tx.clone());
    let promise = gst::Promise::with_change_func(move |reply| {
        let Some(offer) = take_from_reply(reply, "offer", &tx) else {
            return;
        };
        let sources = lock(&sources).clone();
        let camera = lock(&sent)
            .iter()
            .find(|t| t.source == Source::Camera)
            .and_then(|t| t.simulcast.clone());
        let mline = sources.iter().position(|s| *s == Source::Camera);
        let (offer, layered) = match (camera, mline) {
            (Some(camera), Some(mline)) => match simulcast_offer(&offer, &camera, mline) {
                Ok(munged) => (munged, Some(camera)),
                Err(e) => {
                    // The top layer still reaches the server (its SSRC is in the offer);
                    // the others are dropped there as unknown.
                    warn!("camera offered without simulcast: {e}");
                    (offer, None)
                }
            },
            _ => (offer, None),
        };
        set_local(&w, &offer);
        let sdp = offer.sdp();
        let tracks = (0..sdp.medias_len())
            .filter_map(|i| {
                sdp.media(i)
                    .and_then(|m| m.attribute_val("mid"))
                    .map(str::to_owned)
            })
            .zip(sources)
            .map(|(mid, source)| {
                let mut track = PublishTrack::new(mid, source);
                if let (Source::Camera, Some(camera)) = (source, &layered) {
                    track.layers = camera.layers.iter().map(|l| l.declared()).collect();
                }
                track
            })
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

/// webrtcbin's offer with the camera's simulcast layers added on m-line `mline`.
fn simulcast_offer(
    offer: &gst_webrtc::WebRTCSessionDescription,
    camera: &simulcast::Camera,
    mline: usize,
) -> Result<gst_webrtc::WebRTCSessionDescription, String> {
    let text = offer.sdp().as_text().map_err(|e| e.to_string())?;
    let munged = camera.munge(&text, mline)?;
    parse_sdp(gst_webrtc::WebRTCSDPType::Offer, &munged).map_err(|e| e.to_string())
}

/// A running publish pipeline.
pub struct Publisher {
    pipeline: gst::Pipeline,
    webrtc: gst::Element,
    /// What each sink pad (so each m-line, in order) carries.
    sources: Arc<Mutex<Vec<Source>>>,
    video: VideoSetup,
    tracks: Arc<Mutex<Vec<SentTrack>>>,
    signals: UnboundedSender<LocalSignal>,
    inputs: Arc<Inputs>,
    monitor: Monitor,
    keyframes: KeyframeRouter,
    /// The recording this computer's own microphone goes into, if any (a student on stage
    /// recording the class records their own voice too).
    recorder: Arc<Mutex<Option<Arc<crate::Recorder>>>>,
    _bus: BusWatch,
}

impl Publisher {
    /// Builds the pipeline, starts it, and sends the offer through `signals` once webrtcbin
    /// asks for negotiation.
    ///
    /// A track with no usable encoder is left out and one whose device cannot be opened
    /// starts on its stand-in; both are reported as [`LocalSignal::TrackFailed`] and the
    /// other tracks start. Only a pipeline with no track at all is an error.
    pub fn start(
        config: &PublishConfig,
        signals: UnboundedSender<LocalSignal>,
    ) -> Result<Self, MediaError> {
        Self::start_with_encoders(config, signals, VideoEncoder::detect(config.video_codec))
    }

    /// [`Publisher::start`] with the video encoder candidates given rather than detected:
    /// tests use it to try encoders that are missing or unusable.
    pub(crate) fn start_with_encoders(
        config: &PublishConfig,
        signals: UnboundedSender<LocalSignal>,
        encoders: Vec<VideoEncoder>,
    ) -> Result<Self, MediaError> {
        if config.camera.is_none() && config.microphone.is_none() && config.screen.is_none() {
            return Err(MediaError::Pipeline("nothing to publish".into()));
        }
        let pipeline = gst::Pipeline::with_name("publish");
        // The system clock, always: pipewiresrc (a Wayland screen share) offers PipeWire's own
        // clock, and a pipeline that picked it up mid-class would retime every track (its
        // running time jumped by hours) and lose it again when the share ends.
        pipeline.use_clock(Some(&gst::SystemClock::obtain()));
        let webrtc = make_webrtcbin("publish-webrtc", &signals, &config.local_ips)?;
        pipeline.add(&webrtc)?;
        let inputs = Inputs::new(&pipeline, signals.clone());
        let video = VideoSetup {
            encoders,
            stamp: config.stamp_frames,
            drop_rtp: config.drop_video_rtp.clamp(0.0, 1.0),
            simulcast: config.simulcast.clone(),
        };

        let mut wanted: Vec<(Source, Wanted, u32)> = Vec::new();
        if let Some(cam) = &config.camera {
            let w = Wanted::Video(cam.clone(), config.camera_mode);
            wanted.push((Source::Camera, w, config.camera_bitrate));
        }
        if let Some(mic) = &config.microphone {
            wanted.push((Source::Microphone, Wanted::Audio(mic.clone()), 32_000));
        }
        if let Some(screen) = &config.screen {
            let w = Wanted::Video(screen.clone(), config.screen_mode);
            wanted.push((Source::Screen, w, config.screen_bitrate));
        }
        let recorder = Arc::new(Mutex::new(None));
        // The order pads are requested in is the order of the m-lines in the offer.
        let sources = Arc::new(Mutex::new(Vec::new()));
        let tracks = Arc::new(Mutex::new(Vec::new()));
        let mut last_error = None;
        for (source, wanted, bitrate) in wanted {
            let attached = match &wanted {
                Wanted::Video(_, mode) => {
                    attach_video(&pipeline, &webrtc, source, (*mode, bitrate), &video)
                }
                Wanted::Audio(mic) => {
                    let desc = audio_encoder_branch(mic);
                    attach_branch(&pipeline, &webrtc, source, &desc, false).map(|bin| {
                        feed_recorder(&bin, &recorder);
                        SentTrack::new(source, bin, TrackEncoder::Opus, bitrate)
                    })
                }
            };
            let track = match attached {
                Ok(t) => t,
                Err(e) => {
                    warn!(?source, "track left out: {e}");
                    let _ = signals.send(LocalSignal::TrackFailed {
                        source,
                        message: e.to_string(),
                    });
                    last_error = Some(e);
                    continue;
                }
            };
            lock(&tracks).push(track);
            lock(&sources).push(source);
            // A device that cannot be opened has already been reported and replaced by its
            // stand-in; the track goes ahead.
            let _ = inputs.set(source, wanted);
        }
        if lock(&sources).is_empty() {
            return Err(
                last_error.unwrap_or_else(|| MediaError::Pipeline("nothing to publish".into()))
            );
        }

        // webrtcbin asks again whenever a track is added mid-class; each answer to it is a
        // full offer carrying every track so far.
        let tx = signals.clone();
        let (shared_sources, shared_tracks) = (sources.clone(), tracks.clone());
        webrtc.connect("on-negotiation-needed", false, move |values| {
            let webrtc = values.first().and_then(|v| v.get::<gst::Element>().ok())?;
            send_offer(&webrtc, &shared_sources, &shared_tracks, &tx);
            None
        });

        let hook = Arc::downgrade(&inputs);
        let bus = BusWatch::spawn_with(&pipeline, "publish", signals.clone(), move |err| {
            hook.upgrade().is_some_and(|inputs| inputs.on_error(err))
        })?;
        let monitor = Monitor::spawn(&webrtc, tracks.clone())?;
        pipeline.set_state(gst::State::Playing)?;
        info!("publish pipeline playing");
        Ok(Publisher {
            pipeline,
            webrtc,
            sources,
            video,
            tracks,
            signals,
            inputs,
            monitor,
            keyframes: KeyframeRouter::default(),
            recorder,
            _bus: bus,
        })
    }

    /// Feeds `recorder` (or stops feeding one: `None`) with this computer's own microphone,
    /// encoded as it is sent, as the voice [`crate::record::LOCAL_MICROPHONE`].
    pub fn set_recorder(&self, recorder: Option<Arc<crate::Recorder>>) {
        *lock(&self.recorder) = recorder;
    }

    /// The video encoder a track uses (`None` for audio or an unknown track).
    pub fn video_encoder(&self, source: Source) -> Option<VideoEncoder> {
        lock(&self.tracks)
            .iter()
            .find(|t| t.source == source)
            .and_then(|t| match t.encoder {
                TrackEncoder::Video(v) => Some(v),
                TrackEncoder::Opus => None,
            })
    }

    /// Per-track send statistics, refreshed once a second: bitrate sent and targeted (after
    /// congestion control), frame rate, resolution, and the server's RTT/loss/jitter reports.
    pub fn stats(&self) -> PublisherStats {
        let (delivered, unknown) = self.keyframes.counts();
        PublisherStats {
            keyframe_requests: delivered,
            keyframe_requests_unknown: unknown,
            ..self.monitor.latest()
        }
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
        match attach_video(
            &self.pipeline,
            &self.webrtc,
            Source::Screen,
            (mode, bitrate),
            &self.video,
        ) {
            Ok(t) => lock(&self.tracks).push(t),
            Err(e) => {
                lock(&self.sources).pop();
                return Err(e);
            }
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
        self.adopt_answered_payload_types(answer.sdp());
        self.adopt_answered_level_id(answer.sdp());
        self.webrtc
            .emit_by_name::<()>("set-remote-description", &[&answer, &None::<gst::Promise>]);
        self.keyframes.hook(&self.webrtc, &self.pipeline);
        Ok(())
    }

    /// str0m answers a send-only m-line with its own payload type numbers; RTP must carry
    /// the answered number or the server drops it. Each m-line's payloader is switched to the
    /// answered type of its codec (a no-op when the offer already used str0m's numbers).
    fn adopt_answered_payload_types(&self, answer: &gstreamer_sdp::SDPMessageRef) {
        let sources = lock(&self.sources).clone();
        for (i, source) in sources.iter().enumerate() {
            let Some(media) = answer.media(i as u32) else {
                continue;
            };
            let name = format!("{source:?}").to_lowercase();
            let Some(bin) = self
                .pipeline
                .by_name(&name)
                .and_then(|b| b.downcast::<gst::Bin>().ok())
            else {
                continue;
            };
            let Some(pay) = bin.by_name("pay") else {
                continue;
            };
            let caps = pay.static_pad("src").and_then(|p| p.current_caps());
            let ours = caps
                .as_ref()
                .and_then(|c| c.structure(0))
                .and_then(|s| s.get::<&str>("encoding-name").ok())
                .map(str::to_ascii_uppercase);
            let answered = answered_pt(media, ours.as_deref());
            let current = pay.property::<u32>("pt");
            match answered {
                Some(pt) if pt != current => {
                    info!(
                        ?source,
                        from = current,
                        to = pt,
                        "payload type from the answer"
                    );
                    let layers = lock(&self.tracks)
                        .iter()
                        .find(|t| t.source == *source)
                        .and_then(|t| t.simulcast.clone());
                    match layers {
                        Some(camera) => camera.adopt_payload_type(&bin, pt),
                        None => pay.set_property("pt", pt),
                    }
                }
                Some(_) => {}
                None => {
                    warn!(?source, codec = ?ours, "the answer has no payload type for our codec")
                }
            }
        }
    }

    /// The microphone's packets carry their audio level under the id the answer gives it.
    fn adopt_answered_level_id(&self, answer: &gstreamer_sdp::SDPMessageRef) {
        let mline = lock(&self.sources)
            .iter()
            .position(|s| *s == Source::Microphone);
        let media = mline.and_then(|i| answer.media(i as u32));
        let bin = self
            .pipeline
            .by_name(&encoder_name(Source::Microphone))
            .and_then(|b| b.downcast::<gst::Bin>().ok());
        if let (Some(media), Some(bin)) = (media, bin) {
            crate::rtp_level::adopt_answer(&bin, media);
        }
    }

    /// Adds an ICE candidate from the server.
    pub fn add_remote_candidate(&self, mline: u32, candidate: &str) {
        add_candidate(&self.webrtc, mline, candidate);
    }

    /// Stops sharing the screen mid-class: its m-line goes inactive in a renegotiation (the
    /// server then ends the track for everyone) and the capture and encoder are taken down.
    /// The camera and microphone carry on.
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
        lock(&self.tracks).retain(|t| t.source != Source::Screen);
        self.inputs.remove(Source::Screen);
        bin.set_state(gst::State::Null)?;
        self.pipeline.remove(&bin)?;
        // webrtcbin 1.22 does not ask for negotiation when a transceiver's direction changes.
        send_offer(&self.webrtc, &self.sources, &self.tracks, &self.signals);
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

    /// Switches what the screen track shows (another screen or window, or a new portal share
    /// after the desktop ended the last one), like [`Publisher::set_camera`]: the track keeps
    /// its size and frame rate, a different shape is scaled in with borders.
    pub fn set_screen(&self, input: &VideoInput) -> Result<(), MediaError> {
        let mode = self.video_mode(Source::Screen)?;
        self.inputs
            .set(Source::Screen, Wanted::Video(input.clone(), mode))
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

/// The payload type an answer's m-line gives `encoding` (e.g. `H264`), or its first format
/// when the encoding is not known yet.
fn answered_pt(media: &gstreamer_sdp::SDPMediaRef, encoding: Option<&str>) -> Option<u32> {
    let formats: Vec<u32> = (0..media.formats_len())
        .filter_map(|i| media.format(i).and_then(|f| f.parse().ok()))
        .collect();
    let Some(encoding) = encoding else {
        return formats.first().copied();
    };
    formats.into_iter().find(|pt| {
        media.attributes().any(|a| {
            a.key() == "rtpmap"
                && a.value().is_some_and(|v| {
                    let mut parts = v.split_whitespace();
                    parts.next() == Some(&pt.to_string())
                        && parts
                            .next()
                            .and_then(|c| c.split('/').next())
                            .is_some_and(|c| c.eq_ignore_ascii_case(encoding))
                })
        })
    })
}

impl Drop for Publisher {
    fn drop(&mut self) {
        shut_down(&self.pipeline);
    }
}

#[cfg(test)]
mod tests;
