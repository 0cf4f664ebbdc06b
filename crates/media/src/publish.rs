//! The publish side: sources -> encoders -> webrtcbin (send-only), offered to the server.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use classroom_protocol::Source;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_webrtc as gst_webrtc;
use tokio::sync::mpsc::UnboundedSender;
use tracing::{info, warn};

use crate::encode::{CodecChoice, Content, VideoEncoder};
use crate::monitor::{Monitor, SentTrack, TrackEncoder};
use crate::pipeline::{
    BusWatch, add_candidate, make_webrtcbin, parse_sdp, set_local_from_reply, shut_down,
};
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
        }
    }
}

const OPUS_PT: u32 = 111;

/// Raw video from `input` at `mode`, stamped with its capture time when asked, encoded by
/// `encoder` and packetised: the whole branch up to webrtcbin.
fn video_branch(
    input: &VideoInput,
    mode: (u32, u32, u32),
    bitrate: u32,
    encoder: VideoEncoder,
    content: Content,
    drop_rtp: f32,
) -> String {
    let (w, h, fps) = mode;
    let lossy = if drop_rtp > 0.0 {
        format!(" ! identity drop-probability={drop_rtp}")
    } else {
        String::new()
    };
    // I420 is what every encoder takes and what the stamp writer understands. One queue
    // buffer, leaky: when the encoder falls behind, the oldest frame is dropped rather than
    // delayed.
    format!(
        "{src} ! video/x-raw,format=I420 ! queue name=encq max-size-buffers=1 max-size-bytes=0 \
         max-size-time=0 leaky=downstream ! {enc}{lossy}",
        src = input.describe(w, h, fps),
        enc = encoder.description(content, mode, bitrate, encoder.payload_type()),
    )
}

/// The microphone branch's volume element: muting it sends silence, so receivers keep a
/// running stream and nothing is renegotiated.
const MIC_VOLUME: &str = "mic-volume";

fn audio_branch(input: &AudioInput) -> String {
    format!(
        "{src} ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=1 \
         ! volume name={MIC_VOLUME} ! opusenc name=enc inband-fec=true packet-loss-percentage=10 \
         bitrate=32000 frame-size=20 audio-type=voice ! rtpopuspay name=pay pt={OPUS_PT}",
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
    stamp: bool,
) -> Result<gst::Bin, MediaError> {
    let bin = gst::parse::bin_from_description(desc, true)
        .map_err(|e| MediaError::Pipeline(format!("{source:?} branch: {e}")))?;
    bin.set_property("name", format!("{source:?}").to_lowercase());
    if stamp && let Some(pad) = bin.by_name("encq").and_then(|q| q.static_pad("sink")) {
        crate::stamp::stamp_pad(&pad);
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
    if let Err(e) = src.link(&sink) {
        webrtc.release_request_pad(&sink);
        let _ = pipeline.remove(&bin);
        return Err(MediaError::Pipeline(format!("{source:?} link: {e:?}")));
    }
    bin.sync_state_with_parent()?;
    Ok(bin)
}

/// Attaches a video branch with the first encoder candidate that builds; a hardware encoder
/// whose plugin exists but whose device does not (or whose properties differ in this
/// GStreamer version) falls through to the next.
fn attach_video(
    pipeline: &gst::Pipeline,
    webrtc: &gst::Element,
    source: Source,
    video: (&VideoInput, (u32, u32, u32), u32),
    encoders: &[VideoEncoder],
    stamp: bool,
    drop_rtp: f32,
) -> Result<SentTrack, MediaError> {
    let (input, mode, bitrate) = video;
    let content = match source {
        Source::Screen => Content::Screen,
        _ => Content::Camera,
    };
    let mut last = MediaError::Pipeline("no video encoder on this machine".into());
    for &encoder in encoders {
        let desc = video_branch(input, mode, bitrate, encoder, content, drop_rtp);
        match attach_branch(pipeline, webrtc, source, &desc, stamp) {
            Ok(bin) => {
                info!(?source, encoder = encoder.factory(), "video encoder");
                return Ok(SentTrack::new(
                    source,
                    bin,
                    TrackEncoder::Video(encoder),
                    bitrate,
                ));
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
    /// Video encoders usable here, best first.
    encoders: Vec<VideoEncoder>,
    stamp: bool,
    drop_rtp: f32,
    tracks: Arc<Mutex<Vec<SentTrack>>>,
    signals: UnboundedSender<LocalSignal>,
    monitor: Monitor,
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
        let encoders = VideoEncoder::detect(config.video_codec);
        let has_video = config.camera.is_some() || config.screen.is_some();
        if has_video && encoders.is_empty() {
            return Err(MediaError::MissingElement(format!(
                "a video encoder for {:?}",
                config.video_codec
            )));
        }
        if config.camera.is_none() && config.microphone.is_none() && config.screen.is_none() {
            return Err(MediaError::Pipeline("nothing to publish".into()));
        }
        // The order pads are requested in is the order of the m-lines in the offer.
        let sources = Arc::new(Mutex::new(Vec::new()));
        let tracks = Arc::new(Mutex::new(Vec::new()));
        let stamp = config.stamp_frames;
        let drop = config.drop_video_rtp.clamp(0.0, 1.0);
        if let Some(cam) = &config.camera {
            let video = (cam, config.camera_mode, config.camera_bitrate);
            let t = attach_video(
                &pipeline,
                &webrtc,
                Source::Camera,
                video,
                &encoders,
                stamp,
                drop,
            )?;
            lock(&tracks).push(t);
            lock(&sources).push(Source::Camera);
        }
        if let Some(mic) = &config.microphone {
            let bin = attach_branch(
                &pipeline,
                &webrtc,
                Source::Microphone,
                &audio_branch(mic),
                false,
            )?;
            lock(&tracks).push(SentTrack::new(
                Source::Microphone,
                bin,
                TrackEncoder::Opus,
                32_000,
            ));
            lock(&sources).push(Source::Microphone);
        }
        if let Some(screen) = &config.screen {
            let video = (screen, config.screen_mode, config.screen_bitrate);
            let t = attach_video(
                &pipeline,
                &webrtc,
                Source::Screen,
                video,
                &encoders,
                stamp,
                drop,
            )?;
            lock(&tracks).push(t);
            lock(&sources).push(Source::Screen);
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
        let monitor = Monitor::spawn(&webrtc, tracks.clone())?;
        pipeline.set_state(gst::State::Playing)?;
        info!("publish pipeline playing");
        Ok(Publisher {
            pipeline,
            webrtc,
            sources,
            encoders,
            stamp,
            drop_rtp: drop,
            tracks,
            signals,
            monitor,
            _bus: bus,
        })
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
        self.monitor.latest()
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
        let video = (input, mode, bitrate);
        match attach_video(
            &self.pipeline,
            &self.webrtc,
            Source::Screen,
            video,
            &self.encoders,
            self.stamp,
            self.drop_rtp,
        ) {
            Ok(t) => lock(&self.tracks).push(t),
            Err(e) => {
                lock(&self.sources).pop();
                return Err(e);
            }
        }
        info!("screen sharing started");
        Ok(())
    }

    /// Applies the server's answer to our offer.
    pub fn apply_answer(&self, sdp: &str) -> Result<(), MediaError> {
        let answer = parse_sdp(gst_webrtc::WebRTCSDPType::Answer, sdp)?;
        self.adopt_answered_payload_types(answer.sdp());
        self.webrtc
            .emit_by_name::<()>("set-remote-description", &[&answer, &None::<gst::Promise>]);
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
            let Some(pay) = self
                .pipeline
                .by_name(&name)
                .and_then(|b| b.downcast::<gst::Bin>().ok())
                .and_then(|b| b.by_name("pay"))
            else {
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
                    pay.set_property("pt", pt);
                }
                Some(_) => {}
                None => {
                    warn!(?source, codec = ?ours, "the answer has no payload type for our codec")
                }
            }
        }
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
        lock(&self.tracks).retain(|t| t.source != Source::Screen);
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
