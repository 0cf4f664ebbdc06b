//! The subscribe side: webrtcbin answers the server's offer; each arriving track is depacketised,
//! decoded and handed to a [`FrameSink`], with counters per track.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use classroom_protocol::{MediaKind, Source, SubscribedTrack, TrackInfo};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_webrtc as gst_webrtc;
use tokio::sync::mpsc::UnboundedSender;
use tracing::{debug, info, warn};

use crate::encode::VideoCodec;
use crate::frame::{EncodedChunk, SharedFrame};
use crate::freeze::FreezeDetector;
use crate::pipeline::{
    BusWatch, add_candidate, force_key_unit, make_webrtcbin, parse_sdp, shut_down,
};
use crate::playback::{AudioOutput, ProbeGuard, SpeakerChain};
use crate::record::Recorder;
use crate::stats::TrackReport;
use crate::{LocalSignal, MediaError};

mod gate;

pub(crate) use gate::vp8_keyframe_size;
use gate::{Gate, KEYFRAME_RETRY, encoded_size};

/// Numbers each receive pipeline, so a recording fed by one after another (a reconnect)
/// knows when the input's clock started again.
static EPOCHS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// One decoded video frame, borrowed for the duration of the callback.
#[derive(Debug)]
pub struct DecodedFrame<'a> {
    /// The track it belongs to.
    pub track: &'a TrackInfo,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Raw pixel format name, e.g. `I420`.
    pub format: &'a str,
    /// The pixels, in GStreamer's default layout for the format (rows padded to 4 bytes) unless
    /// the decoder attached other strides: read the layout from `shared`.
    pub data: &'a [u8],
    /// The same frame held by reference, with its plane layout: clone it to keep the frame
    /// past the callback without copying it. `None` for formats other than I420.
    pub shared: Option<&'a SharedFrame>,
}

/// One encoded video frame as it left the depayloader, before the decoder.
#[derive(Debug)]
pub struct EncodedFrame<'a> {
    /// The track it belongs to.
    pub track: &'a TrackInfo,
    /// Its codec.
    pub codec: VideoCodec,
    /// The frame, held by reference: clone it to keep it.
    pub chunk: &'a EncodedChunk,
}

/// Where decoded frames go: the desktop app's renderer, or a headless client's counter.
/// Called on a GStreamer streaming thread; keep it short.
pub trait FrameSink: Send + Sync {
    /// A frame was decoded.
    fn on_frame(&self, frame: &DecodedFrame<'_>);

    /// A video track's receive branch was built (before its first frame), with its codec.
    fn on_video_track(&self, _track: &TrackInfo, _codec: VideoCodec) {}

    /// Whether [`FrameSink::on_encoded`] is wanted: it costs a pad probe per video track.
    fn wants_encoded(&self) -> bool {
        false
    }

    /// An encoded frame arrived (only when [`FrameSink::wants_encoded`]).
    fn on_encoded(&self, _frame: &EncodedFrame<'_>) {}

    /// Whether a video track is decoded only once [`FrameSink::wants_decoded`] asks for it
    /// (with [`FrameSink::wants_encoded`]): a sink whose frames are decoded elsewhere (the
    /// app's page, with WebCodecs) saves the decoder's CPU and memory. Until then a track's
    /// statistics (frames, size, freezes) count its encoded frames.
    fn decodes_on_demand(&self) -> bool {
        false
    }

    /// Whether `track`'s frames are wanted decoded now: asked at each encoded frame while its
    /// decoder waits ([`FrameSink::decodes_on_demand`]); once true, the decoder starts at the
    /// next keyframe (asked for at once) and stays on.
    fn wants_decoded(&self, _track: &TrackInfo) -> bool {
        true
    }

    /// A track ended: the server no longer sends it (no frame of it follows).
    fn on_track_ended(&self, _track: &TrackInfo) {}
}

/// Counters for one received track.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackStats {
    /// The track.
    pub track: TrackInfo,
    /// RTP packets received.
    pub packets: u64,
    /// RTP bytes received (headers included), for bitrates.
    pub bytes: u64,
    /// Frames decoded (video only; received, for a sink that decodes on demand:
    /// [`FrameSink::decodes_on_demand`]).
    pub frames: u64,
    /// Size of the latest decoded frame (video only; of the latest keyframe received, when
    /// decoding on demand).
    pub resolution: Option<(u32, u32)>,
    /// Freezes seen in the decoded (or, on demand, received) frames (video only).
    pub freeze: FreezeDetector,
    /// Peak level of the latest decoded audio buffer in dBFS, floored at -100 (audio only).
    pub audio_peak_db: Option<f64>,
    /// When the first frame was decoded (on demand: received).
    pub first_frame_at: Option<Instant>,
    /// When the latest frame was decoded (on demand: received).
    pub last_frame_at: Option<Instant>,
    /// Audio packets the jitter buffer declared lost, that the Opus decoder concealed (PLC,
    /// or FEC from the next packet) (audio only).
    pub concealment_events: u64,
    /// Audio time concealed (audio only).
    pub concealed: std::time::Duration,
    /// SSRC of the RTP stream carrying it, to find it in webrtcbin's statistics.
    pub ssrc: Option<u32>,
    /// Its codec (video only), once its receive branch is built.
    pub codec: Option<VideoCodec>,
}

impl TrackStats {
    /// Nothing received yet of `track`.
    pub fn new(track: TrackInfo) -> Self {
        TrackStats {
            track,
            packets: 0,
            bytes: 0,
            frames: 0,
            resolution: None,
            freeze: FreezeDetector::default(),
            audio_peak_db: None,
            first_frame_at: None,
            last_frame_at: None,
            concealment_events: 0,
            concealed: std::time::Duration::ZERO,
            ssrc: None,
            codec: None,
        }
    }

    /// Frames per second between the first and the latest frame (0 under half a second).
    pub fn fps(&self) -> f64 {
        match (self.first_frame_at, self.last_frame_at) {
            // Too early to tell under half a second: the first frames can arrive together
            // (what the jitter buffer held while the transport came up).
            (Some(a), Some(b)) if b - a >= FPS_SPAN && self.frames > 1 => {
                (self.frames - 1) as f64 / (b - a).as_secs_f64()
            }
            _ => 0.0,
        }
    }
}

/// The shortest time between a track's first and latest frame its frame rate is told over.
const FPS_SPAN: std::time::Duration = std::time::Duration::from_millis(500);

/// Receive-side RTP statistics of one inbound stream, as webrtcbin's `get-stats` reports them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InboundRtpStats {
    /// The stream's SSRC.
    pub ssrc: u32,
    /// Packets received.
    pub packets_received: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Packets lost (RFC 3550 cumulative; may be negative with duplicates).
    pub packets_lost: i64,
    /// Interarrival jitter, seconds.
    pub jitter: f64,
    /// NACKs sent for this stream.
    pub nack_count: u32,
    /// PLIs sent for this stream.
    pub pli_count: u32,
    /// FIRs sent for this stream.
    pub fir_count: u32,
}

/// Counters for every track a subscriber has received.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubscriberStats {
    /// By track id.
    pub tracks: Vec<TrackStats>,
}

impl SubscriberStats {
    /// The first track carrying `source`.
    pub fn by_source(&self, source: Source) -> Option<&TrackStats> {
        self.tracks.iter().find(|t| t.track.source == source)
    }
}

struct Shared {
    /// Track behind each subscribe m-line, from the server's latest offer.
    mids: Mutex<HashMap<String, TrackInfo>>,
    stats: Mutex<HashMap<String, TrackStats>>,
    /// Tracks the server stopped sending: buffers of theirs still in the pipeline when the
    /// offer ended them (the jitter buffer, the decoder) must not count them back in.
    ended: Mutex<std::collections::HashSet<String>>,
    sink: Option<Arc<dyn FrameSink>>,
    /// Where received audio is played; `None` for headless clients.
    speaker: Option<SpeakerChain>,
    /// The recording this pipeline feeds, if any.
    recorder: Mutex<Option<Arc<Recorder>>>,
    /// This pipeline's number for the recorder.
    epoch: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in a frame sink must not stop the counting for everybody else.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn with_stats(&self, track: &TrackInfo, f: impl FnOnce(&mut TrackStats)) {
        if lock(&self.ended).contains(&track.track_id) {
            return;
        }
        let mut stats = lock(&self.stats);
        let entry = stats
            .entry(track.track_id.clone())
            .or_insert_with(|| TrackStats::new(track.clone()));
        f(entry);
    }
}

/// A running receive pipeline for one participant.
pub struct Subscriber {
    pipeline: gst::Pipeline,
    webrtc: gst::Element,
    shared: Arc<Shared>,
    signals: UnboundedSender<LocalSignal>,
    previous: Mutex<Option<(Instant, SubscriberStats, Vec<InboundRtpStats>)>>,
    _bus: BusWatch,
    _probe: Option<ProbeGuard>,
}

impl Subscriber {
    /// Starts an idle receive pipeline; media arrives after [`Subscriber::handle_offer`].
    /// `local_ips` limits the addresses ICE uses (empty: all interfaces).
    pub fn start(
        signals: UnboundedSender<LocalSignal>,
        sink: Option<Arc<dyn FrameSink>>,
        play_audio: bool,
        local_ips: &[IpAddr],
    ) -> Result<Self, MediaError> {
        Self::start_with_output(
            signals,
            sink,
            AudioOutput::from_play_audio(play_audio),
            local_ips,
        )
    }

    /// Like [`Subscriber::start`], playing received audio on `output` (through the echo
    /// canceller's probe unless the output is [`AudioOutput::None`]).
    pub fn start_with_output(
        signals: UnboundedSender<LocalSignal>,
        sink: Option<Arc<dyn FrameSink>>,
        output: AudioOutput,
        local_ips: &[IpAddr],
    ) -> Result<Self, MediaError> {
        let pipeline = gst::Pipeline::with_name("subscribe");
        let webrtc = make_webrtcbin("subscribe-webrtc", &signals, local_ips)?;
        pipeline.add(&webrtc)?;
        let (speaker, probe) = match output {
            AudioOutput::None => (None, None),
            ref out => {
                let (chain, guard) = SpeakerChain::add_to(&pipeline, out)?;
                (Some(chain), Some(guard))
            }
        };
        let shared = Arc::new(Shared {
            mids: Mutex::new(HashMap::new()),
            stats: Mutex::new(HashMap::new()),
            ended: Mutex::new(std::collections::HashSet::new()),
            sink,
            speaker,
            recorder: Mutex::new(None),
            epoch: EPOCHS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        });
        let weak_pipeline = pipeline.downgrade();
        let sh = shared.clone();
        let tx = signals.clone();
        webrtc.connect_pad_added(move |_, pad| {
            let Some(pipeline) = weak_pipeline.upgrade() else {
                return;
            };
            if let Err(e) = on_pad_added(&pipeline, pad, &sh) {
                warn!("cannot receive track: {e}");
                let _ = tx.send(LocalSignal::Failed {
                    message: e.to_string(),
                });
            }
        });
        let bus = BusWatch::spawn(&pipeline, "subscribe", signals.clone())?;
        pipeline.set_state(gst::State::Playing)?;
        Ok(Subscriber {
            pipeline,
            webrtc,
            shared,
            signals,
            previous: Mutex::new(None),
            _bus: bus,
            _probe: probe,
        })
    }

    /// Applies the server's subscribe offer and sends back the answer.
    pub fn handle_offer(&self, sdp: &str, tracks: &[SubscribedTrack]) -> Result<(), MediaError> {
        debug!(%sdp, "subscribe offer");
        let offer = parse_sdp(gst_webrtc::WebRTCSDPType::Offer, sdp)?;
        // Each offer carries every track the server still sends: one that is not in it has
        // ended (its publisher left, went off stage or stopped it), here too.
        let ended: Vec<TrackInfo> = {
            let mut mids = lock(&self.shared.mids);
            mids.clear();
            for t in tracks {
                mids.insert(t.mid.clone(), t.track.clone());
            }
            let mut stats = lock(&self.shared.stats);
            let gone: Vec<String> = stats
                .keys()
                .filter(|id| !tracks.iter().any(|t| &t.track.track_id == *id))
                .cloned()
                .collect();
            lock(&self.shared.ended).extend(gone.iter().cloned());
            gone.iter()
                .filter_map(|id| stats.remove(id))
                .map(|s| s.track)
                .collect()
        };
        if let Some(sink) = &self.shared.sink {
            for track in &ended {
                debug!(track = %track.track_id, "track ended");
                sink.on_track_ended(track);
            }
        }
        let webrtc = self.webrtc.clone();
        let tx = self.signals.clone();
        let offered = offer.sdp().to_owned();
        let on_remote_set = gst::Promise::with_change_func(move |_| {
            let w = webrtc.clone();
            let tx2 = tx.clone();
            let on_answer = gst::Promise::with_change_func(move |reply| {
                let answer = match reply {
                    Ok(Some(s)) => s.get::<gst_webrtc::WebRTCSessionDescription>("answer").ok(),
                    _ => None,
                };
                let Some(answer) = answer else {
                    let _ = tx2.send(LocalSignal::Failed {
                        message: "webrtcbin created no answer".into(),
                    });
                    return;
                };
                let mut sdp = answer.sdp().to_owned();
                let have_avdec = gst::ElementFactory::find("avdec_h264").is_some();
                let added = crate::negotiate::widen_video_answer(&offered, &mut sdp, have_avdec);
                debug!(added, "answer widened to every decodable video format");
                let answer = gst_webrtc::WebRTCSessionDescription::new(
                    gst_webrtc::WebRTCSDPType::Answer,
                    sdp,
                );
                w.emit_by_name::<()>("set-local-description", &[&answer, &None::<gst::Promise>]);
                match answer.sdp().as_text() {
                    Ok(sdp) => {
                        debug!(%sdp, "subscribe answer");
                        let _ = tx2.send(LocalSignal::Answer { sdp });
                    }
                    Err(e) => warn!("answer to text: {e}"),
                }
            });
            webrtc.emit_by_name::<()>("create-answer", &[&None::<gst::Structure>, &on_answer]);
        });
        self.webrtc
            .emit_by_name::<()>("set-remote-description", &[&offer, &on_remote_set]);
        Ok(())
    }

    /// Adds an ICE candidate from the server.
    pub fn add_remote_candidate(&self, mline: u32, candidate: &str) {
        add_candidate(&self.webrtc, mline, candidate);
    }

    /// Feeds `recorder` (or stops feeding one: `None`) with the encoded frames and packets
    /// of the tracks it chose, from their next keyframe.
    pub fn set_recorder(&self, recorder: Option<Arc<Recorder>>) {
        *lock(&self.shared.recorder) = recorder;
    }

    /// Counters for every track so far.
    pub fn stats(&self) -> SubscriberStats {
        let mut tracks: Vec<TrackStats> = lock(&self.shared.stats).values().cloned().collect();
        tracks.sort_by(|a, b| a.track.track_id.cmp(&b.track.track_id));
        SubscriberStats { tracks }
    }

    /// Moves the class's audio to another speaker mid-class; the echo canceller keeps
    /// working (its probe stays in the chain). A subscriber started without a speaker
    /// ([`AudioOutput::None`]) has no chain to move: that is an error, and the choice applies
    /// from the next join. Choosing [`AudioOutput::None`] here plays into nothing.
    pub fn set_audio_output(&self, output: &AudioOutput) -> Result<(), MediaError> {
        let chain = self.shared.speaker.as_ref().ok_or_else(|| {
            MediaError::Pipeline("this class was joined without a speaker".into())
        })?;
        chain.set_output(&self.pipeline, output)
    }

    /// The GStreamer pipeline, for tests and diagnostics.
    pub fn pipeline(&self) -> &gst::Pipeline {
        &self.pipeline
    }

    /// Inbound RTP statistics from webrtcbin (loss, jitter, NACK/PLI/FIR counts). Blocks
    /// until webrtcbin answers, at most `timeout`; call it off the async runtime's threads.
    pub fn rtp_stats(&self, timeout: std::time::Duration) -> Vec<InboundRtpStats> {
        let (tx, rx) = std::sync::mpsc::channel();
        let promise = gst::Promise::with_change_func(move |reply| {
            let stats = match reply {
                Ok(Some(s)) => parse_inbound(s),
                _ => Vec::new(),
            };
            let _ = tx.send(stats);
        });
        self.webrtc
            .emit_by_name::<()>("get-stats", &[&None::<gst::Pad>, &promise]);
        rx.recv_timeout(timeout).unwrap_or_default()
    }

    /// Per-track figures over the interval since the previous call (call it about once a
    /// second): bitrate, frame rate, resolution, jitter, loss, NACK/PLI counts, freezes and
    /// audio concealment. Blocks up to `timeout` for webrtcbin's statistics.
    pub fn reports(&self, timeout: std::time::Duration) -> Vec<TrackReport> {
        let rtp = self.rtp_stats(timeout);
        let now = Instant::now();
        let current = self.stats();
        let mut prev = lock(&self.previous);
        let reports = current
            .tracks
            .iter()
            .map(|t| {
                let inbound = t.ssrc.and_then(|ssrc| rtp.iter().find(|r| r.ssrc == ssrc));
                let before = prev.as_ref().and_then(|(at, p, p_rtp)| {
                    let old = p
                        .tracks
                        .iter()
                        .find(|x| x.track.track_id == t.track.track_id)?;
                    let old_rtp = old
                        .ssrc
                        .and_then(|ssrc| p_rtp.iter().find(|r| r.ssrc == ssrc));
                    Some((now.saturating_duration_since(*at), old, old_rtp))
                });
                TrackReport::between(before, t, inbound)
            })
            .collect();
        *prev = Some((now, current, rtp));
        reports
    }
}

// webrtcbin 1.22 labels every inbound stream `kind=video`, audio too, so the kind is left out;
// match streams to tracks by SSRC when that is needed.
fn parse_inbound(all: &gst::StructureRef) -> Vec<InboundRtpStats> {
    let mut out = Vec::new();
    for (_, value) in all.iter() {
        let Ok(s) = value.get::<gst::Structure>() else {
            continue;
        };
        let is_inbound = s
            .get::<gst_webrtc::WebRTCStatsType>("type")
            .is_ok_and(|t| t == gst_webrtc::WebRTCStatsType::InboundRtp);
        if !is_inbound {
            continue;
        }
        out.push(InboundRtpStats {
            ssrc: s.get::<u32>("ssrc").unwrap_or(0),
            packets_received: s.get::<u64>("packets-received").unwrap_or(0),
            bytes_received: s.get::<u64>("bytes-received").unwrap_or(0),
            packets_lost: s.get::<i64>("packets-lost").unwrap_or(0),
            jitter: s.get::<f64>("jitter").unwrap_or(0.0),
            nack_count: s.get::<u32>("nack-count").unwrap_or(0),
            pli_count: s.get::<u32>("pli-count").unwrap_or(0),
            fir_count: s.get::<u32>("fir-count").unwrap_or(0),
        });
    }
    out.sort_by_key(|s| s.ssrc);
    out
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        shut_down(&self.pipeline);
    }
}

fn on_pad_added(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    shared: &Arc<Shared>,
) -> Result<(), MediaError> {
    if pad.direction() != gst::PadDirection::Src {
        return Ok(());
    }
    let mid = pad
        .property::<Option<gst_webrtc::WebRTCRTPTransceiver>>("transceiver")
        .and_then(|t| t.property::<Option<String>>("mid"))
        .unwrap_or_default();
    let caps = pad.current_caps().or_else(|| Some(pad.query_caps(None)));
    let structure = caps
        .as_ref()
        .and_then(|c| c.structure(0).map(|s| s.to_owned()));
    let encoding = structure
        .as_ref()
        .and_then(|s| s.get::<String>("encoding-name").ok())
        .unwrap_or_default();
    let media = structure
        .as_ref()
        .and_then(|s| s.get::<String>("media").ok())
        .unwrap_or_default();
    let track = lock(&shared.mids)
        .get(&mid)
        .cloned()
        .unwrap_or_else(|| TrackInfo {
            track_id: format!("mid-{mid}"),
            participant_id: String::new(),
            source: if media == "audio" {
                Source::Microphone
            } else {
                Source::Camera
            },
            kind: if media == "audio" {
                MediaKind::Audio
            } else {
                MediaKind::Video
            },
        });
    info!(%mid, track = %track.track_id, source = ?track.source, %encoding, "receiving track");

    // Count RTP packets as they leave webrtcbin (after SRTP, before depacketising).
    let sh = shared.clone();
    let counted = track.clone();
    let is_video = media == "video";
    let last_request: Mutex<Option<Instant>> = Mutex::new(None);
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let size = info.buffer().map(|b| b.size() as u64).unwrap_or(0);
        let ssrc = info.buffer().and_then(|b| rtp_ssrc(b));
        let mut decoded = 0;
        sh.with_stats(&counted, |s| {
            if s.packets == 0 {
                debug!(track = %counted.track_id, "first packet");
            }
            s.packets += 1;
            if ssrc.is_some() {
                s.ssrc = ssrc;
            }
            s.bytes += size;
            decoded = s.frames;
        });
        // Until the first frame decodes, ask for a keyframe (PLI) every 150 ms, counted from
        // the first packet. Our server starts a stream at a keyframe it asked for when our
        // transport came up, so normally the first packets decode and nothing is asked;
        // asking at once anyway spent the server's keyframe budget for the track (one
        // request per 500 ms) and made the next student wait. A keyframe lost on the way, or
        // a server that starts streams anywhere, is covered by asking again.
        if is_video && decoded == 0 {
            let now = Instant::now();
            let mut last = lock(&last_request);
            if last.is_none() {
                *last = Some(now);
            } else if last.is_some_and(|t| now.duration_since(t) >= KEYFRAME_RETRY) {
                *last = Some(now);
                drop(last);
                let sent = pad.send_event(force_key_unit(false));
                debug!(sent, "keyframe request before the first frame");
            }
        }
        gst::PadProbeReturn::Ok
    });

    // The element named `encoded` outputs whole encoded frames (the tap for the page's own
    // decoder): VP8 frames from the depayloader; H.264 access units from the parser in the
    // form the decoder negotiated (AVC with its configuration in the caps for libav, Annex B
    // for OpenH264). Forcing Annex B into avdec_h264 1.22 lost the first slice of every frame
    // of x264's sliced-threads streams, so the tap takes the stream as the decoder wants it.
    // A sink that decodes on demand gets a closed gate between the tap and the decoder,
    // opened at a keyframe once the sink wants the track decoded.
    let on_demand = is_video
        && shared
            .sink
            .as_ref()
            .is_some_and(|s| s.wants_encoded() && s.decodes_on_demand());
    let gate = if on_demand {
        "! valve name=gate drop=true "
    } else {
        ""
    };
    // Every sink here is `sync=false` and `async=false`: a branch is added to a pipeline
    // already playing, and a sink that prerolls (`async=true`, the default) made the pipeline
    // lose its state while another branch was being added. In about half the classes whose
    // camera track came before the voice, the voice's `fakesink` (a student without a
    // speaker, the teacher's recording companion) stayed prerolling: its queue filled with
    // one second of sound (~54 packets) and the voice stopped there, to the level meter and
    // to a recording, while the pictures went on.
    let desc = match (media.as_str(), encoding.as_str()) {
        ("video", "VP8") => format!(
            "queue ! rtpvp8depay name=encoded request-keyframe=true wait-for-keyframe=true {gate}\
             ! vp8dec threads=2 ! appsink name=frames sync=false async=false max-buffers=2 drop=true"
        ),
        ("video", "H264") => format!(
            "queue ! rtph264depay request-keyframe=true wait-for-keyframe=true ! h264parse name=encoded \
             {gate}! {} ! appsink name=frames sync=false async=false max-buffers=2 drop=true",
            h264_decoder()
        ),
        ("audio", "OPUS") => {
            // With a speaker the branch ends in a free pad that joins the speaker's mix.
            let out = if shared.speaker.is_some() {
                "queue max-size-time=200000000 leaky=downstream"
            } else {
                "fakesink sync=false async=false"
            };
            format!(
                "queue ! rtpopusdepay name=opusdepay ! opusdec name=opusdec plc=true use-inband-fec=true ! audioconvert ! audio/x-raw,format=F32LE \
                 ! identity name=meter ! audioconvert ! audioresample ! {out}"
            )
        }
        _ => {
            debug!(%media, %encoding, "unsupported track; discarding");
            "fakesink sync=false async=false".to_owned()
        }
    };
    let bin = gst::parse::bin_from_description(&desc, true)?;
    let codec = match encoding.as_str() {
        "VP8" => Some(VideoCodec::Vp8),
        "H264" => Some(VideoCodec::H264),
        _ => None,
    };
    if let Some(codec) = codec.filter(|_| is_video) {
        shared.with_stats(&track, |s| s.codec = Some(codec));
    }
    feed_recorder(&bin, shared, &track, codec.filter(|_| is_video));
    if let (Some(sink), Some(codec)) = (&shared.sink, codec.filter(|_| is_video)) {
        sink.on_video_track(&track, codec);
        if sink.wants_encoded()
            && let Some(tap) = bin.by_name("encoded").and_then(|e| e.static_pad("src"))
        {
            let sink = sink.clone();
            let tr = track.clone();
            let gate = on_demand
                .then(|| bin.by_name("gate"))
                .flatten()
                .map(|valve| Mutex::new(Gate::new(valve)));
            let sh = shared.clone();
            tap.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
                if let Some(gst::PadProbeData::Buffer(buffer)) = &info.data {
                    // AVC carries its SPS/PPS in the caps (`codec_data`), Annex B in-band.
                    let description = pad.current_caps().and_then(|caps| {
                        let s = caps.structure(0)?;
                        (s.get::<&str>("stream-format").ok()? == "avc")
                            .then(|| s.get::<gst::Buffer>("codec_data").ok())
                            .flatten()
                    });
                    let chunk = EncodedChunk::new(buffer.clone(), description);
                    if let Some(gate) = &gate {
                        let key = chunk.is_keyframe();
                        let size = key.then(|| encoded_size(codec, pad, buffer)).flatten();
                        count_frame(&sh, &tr, size);
                        lock(gate).on_frame(pad, key, || sink.wants_decoded(&tr), &tr.track_id);
                    }
                    sink.on_encoded(&EncodedFrame {
                        track: &tr,
                        codec,
                        chunk: &chunk,
                    });
                }
                gst::PadProbeReturn::Ok
            });
        }
    }
    if let Some(appsink) = bin
        .by_name("frames")
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
    {
        let sh = shared.clone();
        let tr = track.clone();
        appsink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    // Decoding on demand, the frames were counted as they arrived encoded.
                    if !on_demand {
                        count_frame(&sh, &tr, frame_size(&sample));
                    }
                    if let Some(frame_sink) = &sh.sink {
                        deliver(frame_sink.as_ref(), &tr, &sample);
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
    }
    if let Some(meter) = bin.by_name("meter").and_then(|m| m.static_pad("src")) {
        let sh = shared.clone();
        let tr = track.clone();
        meter.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(peak) = info.buffer().and_then(|b| peak_dbfs(b)) {
                sh.with_stats(&tr, |s| s.audio_peak_db = Some(peak));
            }
            gst::PadProbeReturn::Ok
        });
    }
    if let Some(dec) = bin.by_name("opusdec").and_then(|d| d.static_pad("sink")) {
        count_concealment(&dec, shared, &track);
    }
    pipeline.add(&bin)?;
    if let (Some(speaker), Some(out)) = (&shared.speaker, bin.static_pad("src")) {
        speaker.connect(&out)?;
    }
    bin.sync_state_with_parent()?;
    let sink = bin
        .static_pad("sink")
        .ok_or_else(|| MediaError::Pipeline("decode branch has no sink pad".into()))?;
    pad.link(&sink)
        .map_err(|e| MediaError::Pipeline(format!("link received track: {e:?}")))?;
    Ok(())
}

/// Hands a receive branch's encoded video frames (the element `encoded`) or Opus packets
/// (`opusdepay`) to the recorder while one is attached, asking for a keyframe when it waits
/// on one. A probe per track whether or not anything records: a lock per frame or packet.
fn feed_recorder(
    bin: &gst::Bin,
    shared: &Arc<Shared>,
    track: &TrackInfo,
    codec: Option<VideoCodec>,
) {
    let sh = shared.clone();
    let id = track.track_id.clone();
    if let Some(codec) = codec {
        if let Some(tap) = bin.by_name("encoded").and_then(|e| e.static_pad("src")) {
            tap.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
                let recorder = lock(&sh.recorder).clone();
                if let (Some(recorder), Some(gst::PadProbeData::Buffer(buffer))) =
                    (recorder, &info.data)
                    && recorder.video(sh.epoch, &id, codec, pad, buffer)
                {
                    let sent = pad.send_event(force_key_unit(false));
                    debug!(track = %id, sent, "keyframe asked for the recording");
                }
                gst::PadProbeReturn::Ok
            });
        }
    } else if let Some(tap) = bin.by_name("opusdepay").and_then(|e| e.static_pad("src")) {
        tap.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            let recorder = lock(&sh.recorder).clone();
            if let (Some(recorder), Some(gst::PadProbeData::Buffer(buffer))) =
                (recorder, &info.data)
            {
                recorder.audio(sh.epoch, &id, buffer);
            }
            gst::PadProbeReturn::Ok
        });
    }
}

/// A frame of `track` arrived (decoded, or encoded when decoding on demand): its statistics.
fn count_frame(shared: &Shared, track: &TrackInfo, size: Option<(u32, u32)>) {
    let now = Instant::now();
    shared.with_stats(track, |s| {
        s.frames += 1;
        if s.first_frame_at.is_none() {
            debug!(track = %track.track_id, packets = s.packets, "first frame");
        }
        s.first_frame_at.get_or_insert(now);
        s.last_frame_at = Some(now);
        s.freeze.on_frame(now);
        if size.is_some() {
            s.resolution = size;
        }
    });
}

/// The SSRC of an RTP packet (bytes 8..12 of a version-2 header).
fn rtp_ssrc(buffer: &gst::BufferRef) -> Option<u32> {
    let mut head = [0u8; 12];
    if buffer.copy_to_slice(0, &mut head).is_err() || head[0] >> 6 != 2 {
        return None;
    }
    Some(u32::from_be_bytes([head[8], head[9], head[10], head[11]]))
}

/// The H.264 decoder: libav's, with slice threads only. Frame threading (libav's default on
/// more than one core) holds a frame per thread before output, 30-60 ms at 30 fps; x264's
/// zerolatency streams are sliced, so slice threads lose no speed. OpenH264's otherwise.
fn h264_decoder() -> &'static str {
    if gst::ElementFactory::find("avdec_h264").is_some() {
        "avdec_h264 thread-type=slice max-threads=2"
    } else {
        "openh264dec"
    }
}

/// Counts the jitter buffer's `GstRTPPacketLost` events reaching the Opus decoder: each is a
/// gap the decoder fills by concealment (or with FEC data from the next packet).
fn count_concealment(pad: &gst::Pad, shared: &Arc<Shared>, track: &TrackInfo) {
    let sh = shared.clone();
    let tr = track.clone();
    pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
        if let Some(ev) = info.event()
            && let Some(s) = ev.structure()
            && s.name() == "GstRTPPacketLost"
        {
            let duration = s.get::<u64>("duration").unwrap_or(0);
            sh.with_stats(&tr, |t| {
                t.concealment_events += 1;
                t.concealed += std::time::Duration::from_nanos(duration);
            });
        }
        gst::PadProbeReturn::Ok
    });
}

/// Peak of a buffer of 32-bit float samples in dBFS, floored at -100 (digital silence).
fn peak_dbfs(buffer: &gst::BufferRef) -> Option<f64> {
    let map = buffer.map_readable().ok()?;
    let peak = map
        .as_slice()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]).abs())
        .fold(0.0f32, f32::max);
    Some(if peak > 1e-5 {
        20.0 * f64::from(peak).log10()
    } else {
        -100.0
    })
}

fn frame_size(sample: &gst::Sample) -> Option<(u32, u32)> {
    caps_size(sample.caps()?)
}

/// The `width` and `height` that caps carry (raw video, or h264parse's output).
fn caps_size(caps: &gst::CapsRef) -> Option<(u32, u32)> {
    let s = caps.structure(0)?;
    let w = s.get::<i32>("width").ok()?;
    let h = s.get::<i32>("height").ok()?;
    Some((u32::try_from(w).ok()?, u32::try_from(h).ok()?))
}

pub(crate) fn deliver(sink: &dyn FrameSink, track: &TrackInfo, sample: &gst::Sample) {
    let (Some(buffer), Some(caps)) = (sample.buffer(), sample.caps()) else {
        return;
    };
    let Some(s) = caps.structure(0) else { return };
    let width = s.get::<i32>("width").unwrap_or(0).max(0) as u32;
    let height = s.get::<i32>("height").unwrap_or(0).max(0) as u32;
    let format = s.get::<&str>("format").unwrap_or("");
    let Ok(map) = buffer.map_readable() else {
        return;
    };
    let shared = if format == "I420" {
        SharedFrame::from_sample(sample)
            .inspect_err(|e| debug!("frame not shared: {e}"))
            .ok()
    } else {
        None
    };
    sink.on_frame(&DecodedFrame {
        track,
        width,
        height,
        format,
        data: map.as_slice(),
        shared: shared.as_ref(),
    });
}
