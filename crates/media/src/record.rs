//! Recording a class as this computer receives it, to watch later without a network: one
//! participant's video, taken as it arrives encoded (after the depayloader, before any
//! decoder) and written into a WebM (VP8) or Matroska (H.264) file as it is, and the class's
//! voices (that participant's microphone and whoever else speaks, on stage), decoded, mixed
//! and encoded again into the file's one Opus track (about 1 % of a core; the picture is
//! never decoded).
//!
//! The video follows a track chosen by the caller and may switch to another track of the
//! same codec (the teacher starts sharing the screen, or stops): the switch happens at the
//! new track's next keyframe (asked for at once), and the file carries on with the new
//! picture size. A reconnect (a new receive pipeline, a new clock base) carries on at the
//! new pipeline's next keyframe too: the file's time runs on from where it stopped. A voice
//! that stops while others or the video go on (a publisher that sends nothing when silent, a
//! microphone track that ended) is filled with Opus silence, so the mixer and the muxer,
//! which wait for every input, never stall.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_base as gst_base;
use gstreamer_base::prelude::AggregatorPadExt;
use tracing::{debug, info, warn};

use crate::MediaError;
use crate::encode::VideoCodec;

/// The tracks a recording takes: a video track and the voices (microphone tracks), by
/// track id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordChoice {
    /// The video track (a camera or a screen); `None`: sound only.
    pub video: Option<String>,
    /// The voices, mixed into the file's one sound track (the teacher and whoever speaks
    /// on stage); empty: picture only.
    pub audio: Vec<String>,
}

/// How a running recording is doing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordingStatus {
    /// Length of what is written so far.
    pub duration: Duration,
    /// Video frames written.
    pub frames: u64,
    /// Audio packets received and mixed, of every voice (silence filled in not counted).
    pub audio_packets: u64,
    /// Voices mixed in so far (each that sent sound; one that left and came back counts again).
    pub voices: u32,
    /// Switches from one video track to another.
    pub switches: u32,
    /// Why the recording stopped writing (a full disk, a muxer error), if it did.
    pub failed: Option<String>,
}

/// A finished recording.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingSummary {
    /// The file.
    pub path: PathBuf,
    /// Its media type (`video/webm`, `video/x-matroska`, `audio/webm`).
    pub mime: &'static str,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its length, frames and packets.
    pub status: RecordingStatus,
}

/// The voice id of this computer's own microphone in a [`RecordChoice`]: what it publishes
/// (a student on stage), fed from the publish pipeline ([`crate::Publisher::set_recorder`]).
pub const LOCAL_MICROPHONE: &str = "this-computer-microphone";

/// Opus's 20 ms silence (TOC 0xf8: CELT fullband, 20 ms, one mono frame), what a decoder
/// plays as nothing.
const OPUS_SILENCE: [u8; 3] = [0xf8, 0xff, 0xfe];
const OPUS_FRAME: Duration = Duration::from_millis(20);
/// Audio missing for longer than this while video flows is filled with silence.
const AUDIO_GAP: Duration = Duration::from_millis(500);
/// Silence is filled up to this long before the newest video frame, so audio arriving a
/// little late is still written.
const AUDIO_SLACK: Duration = Duration::from_millis(200);
/// How far an audio packet's arrival time may stray from where the sound written so far
/// ends and still be taken as following it.
const AUDIO_JITTER: Duration = Duration::from_millis(100);
/// A track the recording waits on for a keyframe is asked again this often.
const KEYFRAME_ASK: Duration = Duration::from_millis(500);
/// What each stream may queue in front of the muxer before the oldest is dropped.
const QUEUE_BYTES: u64 = 64 * 1024 * 1024;
/// The gap left in the file's time when a reconnect restarts the input's clock.
const RESUME_GAP: Duration = Duration::from_millis(33);
/// The mixed sound's bitrate (bit/s): speech and a lesson's sounds, two channels.
const MIX_BITRATE: i32 = 96_000;
/// How long finishing waits for the muxer to write out what it holds.
const FINISH_WAIT: Duration = Duration::from_secs(10);

/// Input time to file time: the receive pipeline it holds for, the input's time at the base,
/// the file's time at the base (nanoseconds).
#[derive(Debug, Clone, Copy)]
struct Base {
    epoch: u64,
    input: u64,
    output: u64,
}

impl Base {
    fn map(&self, pts: u64) -> Option<u64> {
        pts.checked_sub(self.input).map(|d| self.output + d)
    }
}

/// One voice's way into the mix: its packets (and silence filled in) go into `src`, which
/// decodes them for the mixer.
struct Voice {
    track: String,
    src: gst_app::AppSrc,
    /// Its elements, `src` first, the one linked to the mixer last.
    chain: Vec<gst::Element>,
    /// File time where its sound written so far ends (ns).
    end: u64,
    /// Still fed (false once its stream was ended: a voice no longer chosen, while another
    /// one keeps the mixer going).
    live: bool,
    /// It sent sound (not only silence filled in).
    spoke: bool,
}

#[derive(Default)]
struct State {
    choice: RecordChoice,
    /// The video track being written (the wanted one once its keyframe came).
    current: Option<String>,
    base: Option<Base>,
    video_end: u64,
    /// Where the furthest voice's sound ends (ns).
    audio_end: u64,
    voices: Vec<Voice>,
    /// Voices that sent sound so far (a voice that left and came back counts again).
    voices_spoken: u32,
    /// When the latest received frame or packet was written, and its file time: this
    /// computer's own voice is placed by it (see [`Recorder::local_audio`]).
    anchor: Option<(Instant, u64)>,
    caps_set: bool,
    /// The NAL length size of the file's H.264 (from its first caps).
    nal_length: Option<usize>,
    status: RecordingStatus,
    asked: HashMap<String, Instant>,
    finished: bool,
}

impl State {
    /// From now on, input time `input` of receive pipeline `epoch` is file time `output`.
    fn rebase(&mut self, epoch: u64, input: u64, output: u64) -> Base {
        let base = Base {
            epoch,
            input,
            output,
        };
        self.base = Some(base);
        base
    }

    /// Whether it is time to ask `track` for a keyframe again (and notes that it was asked).
    fn ask(&mut self, track: &str) -> bool {
        let now = Instant::now();
        match self.asked.get(track) {
            Some(at) if now.duration_since(*at) < KEYFRAME_ASK => false,
            _ => {
                self.asked.insert(track.to_owned(), now);
                true
            }
        }
    }
}

/// A recording being written. Fed by every receive pipeline it is attached to
/// ([`crate::Subscriber::set_recorder`]); ended by [`Recorder::finish`].
pub struct Recorder {
    pipeline: gst::Pipeline,
    video: Option<gst_app::AppSrc>,
    /// The mixer every voice goes into (none: picture only).
    mixer: Option<gst::Element>,
    codec: Option<VideoCodec>,
    path: PathBuf,
    mime: &'static str,
    state: Mutex<State>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("path", &self.path)
            .field("mime", &self.mime)
            .finish_non_exhaustive()
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn make(factory: &str) -> Result<gst::Element, MediaError> {
    gst::ElementFactory::make(factory)
        .build()
        .map_err(|_| MediaError::MissingElement(factory.into()))
}

impl Recorder {
    /// The file a recording of `codec` (none: sound only) is best kept in: its extension and
    /// media type.
    pub fn container(codec: Option<VideoCodec>) -> (&'static str, &'static str) {
        match codec {
            Some(VideoCodec::Vp8) => ("webm", "video/webm"),
            Some(VideoCodec::H264) => ("mkv", "video/x-matroska"),
            None => ("webm", "audio/webm"),
        }
    }

    /// The file extension for a recording of media type `mime` (as [`Recorder::container`]
    /// names them; WebM for any other).
    pub fn extension_of(mime: &str) -> &'static str {
        [Some(VideoCodec::Vp8), Some(VideoCodec::H264), None]
            .into_iter()
            .map(Self::container)
            .find(|(_, m)| *m == mime)
            .map_or("webm", |(extension, _)| extension)
    }

    /// Starts writing `path` (created; an existing file is replaced) with the tracks of
    /// `choice`; `codec` is the video track's. Nothing is written until a receive pipeline
    /// feeds it the chosen video's keyframe (or, for sound only, the first audio).
    pub fn start(
        path: &Path,
        codec: Option<VideoCodec>,
        choice: RecordChoice,
    ) -> Result<Arc<Self>, MediaError> {
        crate::init()?;
        if choice.video.is_some() != codec.is_some() {
            return Err(MediaError::Recording(
                "a recording's video needs its codec, and only video has one".into(),
            ));
        }
        if choice.video.is_none() && choice.audio.is_empty() {
            return Err(MediaError::Recording("nothing to record".into()));
        }
        let (_, mime) = Self::container(codec);
        let pipeline = gst::Pipeline::with_name("record");
        let mux = make(if codec == Some(VideoCodec::H264) {
            "matroskamux"
        } else {
            "webmmux"
        })?;
        // Not streamable: the index (cues) and the length are written at the end, so the
        // file seeks when it is played.
        mux.set_property("streamable", false);
        let sink = make("filesink")?;
        sink.set_property("location", path.to_string_lossy().to_string());
        sink.set_property("sync", false);
        sink.set_property("async", false);
        pipeline.add_many([&mux, &sink])?;
        mux.link(&sink)?;
        // What the muxer's input `template` is given, queued.
        let into_mux = |template: &str, from: &gst::Element| -> Result<(), MediaError> {
            let queue = make("queue")?;
            queue.set_property("max-size-buffers", 0u32);
            queue.set_property("max-size-time", 0u64);
            queue.set_property("max-size-bytes", 16u32 * 1024 * 1024);
            pipeline.add(&queue)?;
            from.link(&queue)?;
            queue
                .link_pads(Some("src"), &mux, Some(template))
                .map_err(|e| MediaError::Pipeline(format!("recording {template}: {e}")))
        };
        let video = match codec {
            Some(_) => {
                let src = input_src();
                pipeline.add(&src)?;
                into_mux("video_%u", src.upcast_ref())?;
                Some(src)
            }
            None => None,
        };
        // The voices are decoded and mixed into one sound, encoded again (a lesson has the
        // teacher and whoever speaks on stage; a player plays one sound track).
        let mixer = if choice.audio.is_empty() {
            None
        } else {
            let mixer = make("audiomixer")?;
            let encoder = make("opusenc")?;
            encoder.set_property("bitrate", MIX_BITRATE);
            pipeline.add_many([&mixer, &encoder])?;
            mixer.link(&encoder)?;
            into_mux("audio_%u", &encoder)?;
            Some(mixer)
        };
        let mut voices = Vec::new();
        if let Some(mixer) = &mixer {
            for track in &choice.audio {
                voices.push(voice(&pipeline, mixer, track, 0)?);
            }
        }
        pipeline.set_state(gst::State::Playing)?;
        info!(path = %path.display(), ?codec, ?choice, "recording");
        Ok(Arc::new(Self {
            pipeline,
            video,
            mixer,
            codec,
            path: path.to_owned(),
            mime,
            state: Mutex::new(State {
                choice,
                voices,
                ..State::default()
            }),
        }))
    }

    /// Follows other tracks from now on: a new video track of the same codec takes over at
    /// its next keyframe; a new voice is mixed in from its first sound, and one no longer
    /// chosen leaves the mix. A track of another codec, video for a recording started
    /// without it, or voices for one started without sound are refused (start another
    /// recording).
    pub fn set_choice(&self, choice: RecordChoice) -> Result<(), MediaError> {
        if choice.video.is_some() && self.video.is_none() {
            return Err(MediaError::Recording(
                "this recording was started without video".into(),
            ));
        }
        if !choice.audio.is_empty() && self.mixer.is_none() {
            return Err(MediaError::Recording(
                "this recording was started without sound".into(),
            ));
        }
        let mut state = lock(&self.state);
        if state.choice != choice {
            debug!(?choice, "recording follows other tracks");
            state.choice = choice;
            retire_unchosen(&mut state);
        }
        Ok(())
    }

    /// Whether it records sound (it started with a voice chosen).
    pub fn has_sound(&self) -> bool {
        self.mixer.is_some()
    }

    /// The video codec it takes (none: sound only).
    pub fn codec(&self) -> Option<VideoCodec> {
        self.codec
    }

    /// The tracks it follows.
    pub fn choice(&self) -> RecordChoice {
        lock(&self.state).choice.clone()
    }

    /// How it is doing; a muxer or disk failure shows here as soon as GStreamer reports it.
    pub fn status(&self) -> RecordingStatus {
        self.check_bus(None);
        let state = lock(&self.state);
        let mut status = state.status.clone();
        status.duration = Duration::from_nanos(state.video_end.max(state.audio_end));
        status.voices = state.voices_spoken;
        status
    }

    /// Reads the pipeline's errors: waits up to `wait` for the end of the stream, or only
    /// looks (`None`). True once the end came.
    fn check_bus(&self, wait: Option<Duration>) -> bool {
        let Some(bus) = self.pipeline.bus() else {
            return false;
        };
        // Only `finish` takes the end of the stream off the bus: a look from `status` while
        // it waits must not take it.
        let message = match wait {
            Some(wait) => bus.timed_pop_filtered(
                gst::ClockTime::from_nseconds(wait.as_nanos() as u64),
                &[gst::MessageType::Eos, gst::MessageType::Error],
            ),
            None => bus.pop_filtered(&[gst::MessageType::Error]),
        };
        match message.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::Eos(_)) => true,
            Some(gst::MessageView::Error(e)) => {
                let why = e.error().to_string();
                warn!(path = %self.path.display(), %why, "recording failed");
                let mut state = lock(&self.state);
                state.status.failed.get_or_insert(why);
                state.finished = true;
                true
            }
            _ => false,
        }
    }

    /// Ends the file: what is queued is written, then the index and the length. A recording
    /// that got nothing is removed and refused; one that stopped writing part way is given
    /// back with why in `status.failed`.
    pub fn finish(&self) -> Result<RecordingSummary, MediaError> {
        let already = {
            let mut state = lock(&self.state);
            std::mem::replace(&mut state.finished, true)
        };
        let empty = {
            let state = lock(&self.state);
            state.status.frames == 0 && state.status.audio_packets == 0
        };
        if !already {
            let voices: Vec<gst_app::AppSrc> = lock(&self.state)
                .voices
                .iter()
                .filter(|v| v.live)
                .map(|v| v.src.clone())
                .collect();
            for src in self.video.iter().chain(voices.iter()) {
                let _ = src.end_of_stream();
            }
            let deadline = Instant::now() + FINISH_WAIT;
            while !self.check_bus(Some(deadline.saturating_duration_since(Instant::now()))) {
                if Instant::now() >= deadline {
                    lock(&self.state)
                        .status
                        .failed
                        .get_or_insert_with(|| "the file was not finished in time".into());
                    break;
                }
            }
        }
        let _ = self.pipeline.set_state(gst::State::Null);
        let status = self.status();
        if empty {
            let _ = std::fs::remove_file(&self.path);
            return Err(MediaError::Recording(
                "nothing was received to record".into(),
            ));
        }
        // A recording that stopped writing part way (a full disk) is what it wrote: the
        // summary says why it is short (`status.failed`); only one with no file at all fails.
        let bytes = std::fs::metadata(&self.path)
            .map(|m| m.len())
            .map_err(|e| {
                MediaError::Recording(match &status.failed {
                    Some(why) => why.clone(),
                    None => format!("the recording's file: {e}"),
                })
            })?;
        info!(path = %self.path.display(), bytes, ?status, "recording finished");
        Ok(RecordingSummary {
            path: self.path.clone(),
            mime: self.mime,
            bytes,
            status,
        })
    }

    /// An encoded video frame of `track` from receive pipeline `epoch` (`pad`: the tap it
    /// passed, whose caps describe H.264). True when the caller should ask the track for a
    /// keyframe.
    pub(crate) fn video(
        &self,
        epoch: u64,
        track: &str,
        codec: VideoCodec,
        pad: &gst::Pad,
        buffer: &gst::Buffer,
    ) -> bool {
        let Some(src) = &self.video else {
            return false;
        };
        let mut state = lock(&self.state);
        if state.finished || Some(codec) != self.codec {
            return false;
        }
        let key = !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT);
        let wanted = state.choice.video.as_deref() == Some(track);
        let current = state.current.as_deref() == Some(track);
        if !wanted && !current {
            return false;
        }
        if wanted && !current {
            // Switching to this track (or starting): only at a keyframe.
            if !key {
                return state.ask(track);
            }
            if state.current.is_some() {
                state.status.switches += 1;
                debug!(track, "recording switches to this track");
            }
            state.current = Some(track.to_owned());
        }
        // Not wanted but current: the old track carries on until the wanted one's keyframe
        // (asked for on that track's own frames, above).
        let Some(pts) = buffer.pts().map(|t| t.nseconds()) else {
            return false;
        };
        let base = match state.base {
            Some(base) if base.epoch == epoch => base,
            _ => {
                // The first frame, or the first of a new receive pipeline: a keyframe.
                if !key {
                    return state.ask(track);
                }
                let output = if state.status.frames == 0 && state.status.audio_packets == 0 {
                    0
                } else {
                    state.video_end.max(state.audio_end) + RESUME_GAP.as_nanos() as u64
                };
                state.rebase(epoch, pts, output)
            }
        };
        let Some(out) = base.map(pts) else {
            return false;
        };
        if !state.caps_set {
            let caps = match codec {
                VideoCodec::Vp8 => buffer.map_readable().ok().and_then(|map| {
                    crate::subscribe::vp8_keyframe_size(&map).map(|(w, h)| {
                        gst::Caps::builder("video/x-vp8")
                            .field("width", w as i32)
                            .field("height", h as i32)
                            .field("framerate", gst::Fraction::new(0, 1))
                            .build()
                    })
                }),
                VideoCodec::H264 => pad.current_caps(),
            };
            let Some(caps) = caps else {
                return state.ask(track);
            };
            if codec == VideoCodec::H264 {
                state.nal_length = avc_config(&caps).map(|(length, _)| length);
            }
            src.set_caps(Some(&caps));
            state.caps_set = true;
        }
        let copy = if codec == VideoCodec::H264 && key {
            // AVC keeps its parameter sets in the caps, which the file fixed at its first
            // track's; each keyframe carries its own track's in-band, so a switch to a track
            // of another size (and a decoder that starts at any keyframe) decodes.
            match with_parameter_sets(pad, buffer, state.nal_length) {
                Some(buffer) => buffer,
                None => return false,
            }
        } else {
            buffer.copy()
        };
        if src.push_buffer(at_file_time(copy, out)).is_err() {
            return false;
        }
        state.status.frames += 1;
        state.video_end = state.video_end.max(out);
        state.anchor = Some((Instant::now(), out));
        self.fill_silence(&mut state, out);
        false
    }

    /// Writes silence into every voice that has been quiet for long before `at` (file
    /// time of the newest frame or sound), up to a little before it: the mixer (and the
    /// muxer after it) waits for every input.
    fn fill_silence(&self, state: &mut State, at: u64) {
        self.sweep_retired(state);
        let gap = AUDIO_GAP.as_nanos() as u64;
        let Some(until) = at.checked_sub(AUDIO_SLACK.as_nanos() as u64) else {
            return;
        };
        let step = OPUS_FRAME.as_nanos() as u64;
        for voice in state.voices.iter_mut().filter(|v| v.live) {
            if voice.end + gap > at {
                continue;
            }
            while voice.end + step <= until {
                let mut buffer = gst::Buffer::from_slice(OPUS_SILENCE);
                {
                    let b = buffer.make_mut();
                    b.set_pts(gst::ClockTime::from_nseconds(voice.end));
                    b.set_duration(gst::ClockTime::from_nseconds(step));
                }
                if voice.src.push_buffer(buffer).is_err() {
                    break;
                }
                voice.end += step;
            }
            state.audio_end = state.audio_end.max(voice.end);
        }
    }

    /// Takes the branches of voices that left the mix out of the pipeline once the mixer
    /// has taken their end of stream (so all they held is mixed), so a long lesson with many
    /// students on stage in turn does not keep a decoder and a thread for each.
    fn sweep_retired(&self, state: &mut State) {
        let Some(mixer) = &self.mixer else {
            return;
        };
        let mut i = 0;
        while i < state.voices.len() {
            let voice = &state.voices[i];
            // (Called for every packet written: a voice still fed costs no pad lookups.)
            if voice.live {
                i += 1;
                continue;
            }
            // Its branch's output and the mixer's input it feeds.
            let out = voice.chain.last().and_then(|last| last.static_pad("src"));
            let into_mixer = out.as_ref().and_then(|out| out.peer());
            let mixed_to_the_end = into_mixer
                .as_ref()
                .and_then(|pad| pad.downcast_ref::<gst_base::AggregatorPad>())
                .is_some_and(|pad| pad.is_eos());
            if !mixed_to_the_end {
                i += 1;
                continue;
            }
            let voice = state.voices.remove(i);
            if let (Some(out), Some(into_mixer)) = (out, into_mixer) {
                let _ = out.unlink(&into_mixer);
                mixer.release_request_pad(&into_mixer);
            }
            for element in &voice.chain {
                let _ = element.set_state(gst::State::Null);
            }
            let _ = self.pipeline.remove_many(&voice.chain);
            debug!(track = voice.track, "a voice's branch is taken out");
        }
    }

    /// The voices' branches in the pipeline once those that left and were mixed to their
    /// end are taken out, for tests.
    #[cfg(test)]
    fn voice_branches(&self) -> usize {
        let mut state = lock(&self.state);
        self.sweep_retired(&mut state);
        state.voices.len()
    }

    /// An encoded audio packet of `track` from receive pipeline `epoch`.
    pub(crate) fn audio(&self, epoch: u64, track: &str, buffer: &gst::Buffer) {
        let Some(mixer) = &self.mixer else {
            return;
        };
        let mut state = lock(&self.state);
        if state.finished || !state.choice.audio.iter().any(|t| t == track) {
            return;
        }
        let Some(pts) = buffer.pts().map(|t| t.nseconds()) else {
            return;
        };
        let base = match state.base {
            Some(base) if base.epoch == epoch => base,
            // With video, the video's keyframe sets the time.
            _ if self.video.is_some() => return,
            _ => {
                let output = if state.status.audio_packets == 0 {
                    0
                } else {
                    state.audio_end + RESUME_GAP.as_nanos() as u64
                };
                state.rebase(epoch, pts, output)
            }
        };
        let Some(out) = base.map(pts) else {
            return;
        };
        if self.write_voice(&mut state, mixer, track, out, buffer) {
            state.anchor = Some((Instant::now(), out));
        }
    }

    /// An encoded packet of this computer's own microphone ([`LOCAL_MICROPHONE`], when the
    /// choice names it): a student on stage records their own question. It comes from the
    /// publish pipeline, whose clock is not the receive pipelines', so it is placed by when it
    /// arrives here against the latest received frame or packet (a packet encoded now is
    /// heard with what is being received now); nothing is placed before anything was.
    pub(crate) fn local_audio(&self, buffer: &gst::Buffer) {
        let Some(mixer) = &self.mixer else {
            return;
        };
        let mut state = lock(&self.state);
        if state.finished || !state.choice.audio.iter().any(|t| t == LOCAL_MICROPHONE) {
            return;
        }
        let Some((at, file_time)) = state.anchor else {
            return;
        };
        let out = file_time + at.elapsed().as_nanos() as u64;
        self.write_voice(&mut state, mixer, LOCAL_MICROPHONE, out, buffer);
    }

    /// Writes `buffer` of voice `track` at about file time `out` (making the voice's way into
    /// the mix if it is new); true when written.
    fn write_voice(
        &self,
        state: &mut State,
        mixer: &gst::Element,
        track: &str,
        out: u64,
        buffer: &gst::Buffer,
    ) -> bool {
        let slack = AUDIO_JITTER.as_nanos() as u64;
        // A voice new to the mix starts where it first speaks.
        let index = match state.voices.iter().position(|v| v.live && v.track == track) {
            Some(index) => index,
            None => match voice(&self.pipeline, mixer, track, out) {
                Ok(new) => {
                    state.voices.push(new);
                    retire_unchosen(state);
                    state.voices.len() - 1
                }
                Err(e) => {
                    warn!(track, "a voice cannot join the recording: {e}");
                    return false;
                }
            },
        };
        let Some(voice) = state.voices.get_mut(index) else {
            return false;
        };
        // A packet's time is when it arrived (the jitter buffer's, or here for this
        // computer's own), which wanders by a few milliseconds from packet to packet, while
        // the sound itself is continuous: one that arrives about when the voice's sound
        // written so far ends follows it exactly; one well after leaves a gap (packets lost);
        // one well before (before the base, or already covered by silence filled in) is
        // dropped.
        let out = if out + slack < voice.end {
            return false;
        } else if out <= voice.end + slack {
            voice.end
        } else {
            out
        };
        let duration = buffer
            .duration()
            .map(|d| d.nseconds())
            .unwrap_or(OPUS_FRAME.as_nanos() as u64);
        if voice
            .src
            .push_buffer(at_file_time(buffer.copy(), out))
            .is_err()
        {
            return false;
        }
        voice.end = out + duration;
        let first = !std::mem::replace(&mut voice.spoke, true);
        let end = voice.end;
        state.voices_spoken += u32::from(first);
        state.status.audio_packets += 1;
        state.audio_end = state.audio_end.max(end);
        // The others, quiet meanwhile, are filled with silence up to here.
        self.fill_silence(state, end);
        true
    }
}

/// An input the recording is fed by: the receive pipelines push what they received.
fn input_src() -> gst_app::AppSrc {
    let src = gst_app::AppSrc::builder()
        .format(gst::Format::Time)
        .is_live(false)
        .block(false)
        .max_bytes(QUEUE_BYTES)
        .build();
    src.set_property_from_str("leaky-type", "downstream");
    src
}

/// A voice's way into `mixer` for `track`, its sound starting at file time `from` (ns):
/// Opus in, decoded, made 48 kHz stereo. Built in a running pipeline too.
fn voice(
    pipeline: &gst::Pipeline,
    mixer: &gst::Element,
    track: &str,
    from: u64,
) -> Result<Voice, MediaError> {
    let src = input_src();
    src.set_caps(Some(
        &gst::Caps::builder("audio/x-opus")
            .field("channels", 2i32)
            .field("rate", 48_000i32)
            .field("channel-mapping-family", 0i32)
            .build(),
    ));
    let decode = make("opusdec")?;
    let convert = make("audioconvert")?;
    let resample = make("audioresample")?;
    let format = make("capsfilter")?;
    format.set_property(
        "caps",
        gst::Caps::builder("audio/x-raw")
            .field("format", "S16LE")
            .field("rate", 48_000i32)
            .field("channels", 2i32)
            .field("layout", "interleaved")
            .build(),
    );
    let chain = [
        src.upcast_ref::<gst::Element>(),
        &decode,
        &convert,
        &resample,
        &format,
    ];
    pipeline.add_many(chain)?;
    gst::Element::link_many(chain)?;
    format.link(mixer)?;
    for element in chain {
        element.sync_state_with_parent()?;
    }
    debug!(track, from, "a voice joins the recording");
    let chain = chain.into_iter().cloned().collect();
    Ok(Voice {
        track: track.to_owned(),
        src,
        chain,
        end: from,
        live: true,
        spoke: false,
    })
}

/// Voices no longer chosen leave the mix (their stream ended), except the last one: the
/// mixer needs an input to go on, which silence then fills.
fn retire_unchosen(state: &mut State) {
    let State { choice, voices, .. } = state;
    let mut live = voices.iter().filter(|v| v.live).count();
    for voice in voices.iter_mut().filter(|v| v.live) {
        if live > 1 && !choice.audio.contains(&voice.track) {
            let _ = voice.src.end_of_stream();
            voice.live = false;
            live -= 1;
            debug!(track = voice.track, "a voice leaves the recording");
        }
    }
}

/// `buffer` (a copy of what was received) stamped with its time in the file, `pts` ns.
fn at_file_time(mut buffer: gst::Buffer, pts: u64) -> gst::Buffer {
    let b = buffer.make_mut();
    b.set_pts(gst::ClockTime::from_nseconds(pts));
    b.set_dts(gst::ClockTime::NONE);
    buffer
}

/// The NAL length size and the parameter sets (SPS and PPS, each length-prefixed) of an
/// AVC decoder configuration record (ISO/IEC 14496-15 5.3.3.1); `None` when it is not one.
/// The bytes come from whoever publishes.
fn avc_parameter_sets(record: &[u8]) -> Option<(usize, Vec<u8>)> {
    let (&version, rest) = record.split_first()?;
    if version != 1 || rest.len() < 5 {
        return None;
    }
    let length = usize::from(rest[3] & 0x03) + 1;
    let mut at = 5;
    let mut sets = Vec::new();
    let mut take = |at: &mut usize, count: usize| -> Option<()> {
        for _ in 0..count {
            let size = usize::from(u16::from_be_bytes([*rest.get(*at)?, *rest.get(*at + 1)?]));
            let nal = rest.get(*at + 2..*at + 2 + size)?;
            let prefix = u32::try_from(size).ok()?.to_be_bytes();
            sets.extend_from_slice(prefix.get(4 - length..)?);
            sets.extend_from_slice(nal);
            *at += 2 + size;
        }
        Some(())
    };
    take(&mut at, usize::from(rest[4] & 0x1f))?;
    let pps = usize::from(*rest.get(at)?);
    at += 1;
    take(&mut at, pps)?;
    // A NAL length of 1 or 2 bytes cannot carry a set longer than it counts.
    (length >= 3 || sets.len() < 1 << (8 * length)).then_some((length, sets))
}

/// The NAL length size and parameter sets of H.264 caps in AVC form.
fn avc_config(caps: &gst::CapsRef) -> Option<(usize, Vec<u8>)> {
    let s = caps.structure(0)?;
    if s.get::<&str>("stream-format").ok()? != "avc" {
        return None;
    }
    let record = s.get::<gst::Buffer>("codec_data").ok()?;
    let map = record.map_readable().ok()?;
    avc_parameter_sets(&map)
}

/// An H.264 keyframe with its track's parameter sets in front, in the file's NAL length
/// size; `None` when the track's caps have none or another length size.
fn with_parameter_sets(
    pad: &gst::Pad,
    buffer: &gst::Buffer,
    file_length: Option<usize>,
) -> Option<gst::Buffer> {
    let caps = pad.current_caps()?;
    let (length, sets) = avc_config(&caps)?;
    if Some(length) != file_length {
        debug!(
            length,
            ?file_length,
            "an H.264 track with another NAL length is not recorded"
        );
        return None;
    }
    let map = buffer.map_readable().ok()?;
    let mut bytes = sets;
    bytes.extend_from_slice(&map);
    drop(map);
    let mut out = gst::Buffer::from_mut_slice(bytes);
    {
        let b = out.make_mut();
        b.set_flags(buffer.flags());
        b.set_duration(buffer.duration());
    }
    Some(out)
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// What a recording file plays back as: every frame's size and time, and the sound's
/// length. From decoding the whole file, so for tests and diagnostics, not for an hour's
/// lesson on the main thread.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Playback {
    /// The length the file declares (its header, written when it was finished).
    pub declared: Option<Duration>,
    /// Each decoded video frame: width, height, time.
    pub frames: Vec<(u32, u32, Duration)>,
    /// Decoded sound, in time.
    pub audio: Duration,
    /// The sound's loudness through the file: each decoded buffer's time and RMS (0..1).
    pub loudness: Vec<(Duration, f32)>,
}

/// The RMS (0..1) of a decoded sample of interleaved S16LE or F32LE sound.
fn rms(sample: &gst::Sample) -> Option<f32> {
    let format = sample
        .caps()?
        .structure(0)?
        .get::<&str>("format")
        .ok()?
        .to_owned();
    let map = sample.buffer()?.map_readable().ok()?;
    let values: Vec<f32> = match format.as_str() {
        "S16LE" => map
            .chunks_exact(2)
            .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
            .collect(),
        "F32LE" => map
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        _ => return None,
    };
    if values.is_empty() {
        return None;
    }
    Some((values.iter().map(|v| v * v).sum::<f32>() / values.len() as f32).sqrt())
}

/// Decodes `path` (a WebM or Matroska file with a video and/or an audio stream) to the end.
pub fn read_back(path: &Path) -> Result<Playback, MediaError> {
    crate::init()?;
    let pipeline = gst::Pipeline::with_name("read-back");
    let src = make("filesrc")?;
    src.set_property("location", path.to_string_lossy().to_string());
    let decode = make("decodebin")?;
    pipeline.add_many([&src, &decode])?;
    src.link(&decode)?;
    let found = Arc::new(Mutex::new(Playback::default()));
    let weak = pipeline.downgrade();
    let sink_for = found.clone();
    decode.connect_pad_added(move |_, pad| {
        let Some(pipeline) = weak.upgrade() else {
            return;
        };
        let video = pad
            .current_caps()
            .and_then(|c| c.structure(0).map(|s| s.name().starts_with("video/")))
            .unwrap_or(false);
        let Ok(sink) = gst_app::AppSink::builder()
            .sync(false)
            .build()
            .dynamic_cast::<gst::Element>()
        else {
            return;
        };
        let Ok(appsink) = sink.clone().dynamic_cast::<gst_app::AppSink>() else {
            return;
        };
        let found = sink_for.clone();
        appsink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |s| {
                    let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let mut found = found.lock().unwrap_or_else(|p| p.into_inner());
                    let at = sample
                        .buffer()
                        .and_then(|b| b.pts())
                        .map(|t| Duration::from_nanos(t.nseconds()))
                        .unwrap_or_default();
                    if video {
                        let size = sample.caps().and_then(|c| {
                            let s = c.structure(0)?;
                            Some((
                                s.get::<i32>("width").ok()? as u32,
                                s.get::<i32>("height").ok()? as u32,
                            ))
                        });
                        let (w, h) = size.unwrap_or((0, 0));
                        found.frames.push((w, h, at));
                    } else {
                        let length = sample
                            .buffer()
                            .and_then(|b| b.duration())
                            .map(|d| Duration::from_nanos(d.nseconds()))
                            .unwrap_or_default();
                        found.audio += length;
                        if let Some(rms) = rms(&sample) {
                            found.loudness.push((at, rms));
                        }
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        if pipeline.add(&sink).is_err() {
            return;
        }
        let _ = sink.sync_state_with_parent();
        if let Some(input) = sink.static_pad("sink") {
            let _ = pad.link(&input);
        }
    });
    pipeline.set_state(gst::State::Paused)?;
    let bus = pipeline
        .bus()
        .ok_or_else(|| MediaError::Pipeline("no bus".into()))?;
    let _ = pipeline.state(gst::ClockTime::from_seconds(10));
    let declared = pipeline
        .query_duration::<gst::ClockTime>()
        .map(|d| Duration::from_nanos(d.nseconds()));
    pipeline.set_state(gst::State::Playing)?;
    let result = match bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(60),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .as_ref()
        .map(|m| m.view())
    {
        Some(gst::MessageView::Eos(_)) => Ok(()),
        Some(gst::MessageView::Error(e)) => Err(MediaError::Recording(format!(
            "{} does not play: {}",
            path.display(),
            e.error()
        ))),
        _ => Err(MediaError::Recording(format!(
            "{} did not play to the end in a minute",
            path.display()
        ))),
    };
    let _ = pipeline.set_state(gst::State::Null);
    result?;
    let mut playback = found.lock().unwrap_or_else(|p| p.into_inner()).clone();
    playback.declared = declared;
    Ok(playback)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encoded buffers out of `desc` (ending in an element named `out`), in order.
    fn encoded(desc: &str) -> Vec<gst::Buffer> {
        crate::init().expect("GStreamer");
        let pipeline = gst::parse::launch(&format!("{desc} ! appsink name=out sync=false"))
            .expect("pipeline")
            .dynamic_cast::<gst::Pipeline>()
            .expect("a pipeline");
        let sink = pipeline
            .by_name("out")
            .and_then(|e| e.dynamic_cast::<gst_app::AppSink>().ok())
            .expect("appsink");
        pipeline.set_state(gst::State::Playing).expect("play");
        let mut out = Vec::new();
        while let Ok(sample) = sink.pull_sample() {
            out.push(sample.buffer_owned().expect("buffer"));
        }
        pipeline.set_state(gst::State::Null).expect("stop");
        out
    }

    fn vp8(width: u32, height: u32, frames: u32) -> Vec<gst::Buffer> {
        encoded(&format!(
            "videotestsrc num-buffers={frames} ! video/x-raw,width={width},height={height},framerate=30/1 \
             ! vp8enc deadline=1 keyframe-max-dist=10"
        ))
    }

    /// `buffer` as a receive pipeline whose clock started `base` earlier would hand it over.
    fn shifted(buffer: &gst::Buffer, base: Duration) -> gst::Buffer {
        let mut copy = buffer.copy();
        let pts =
            buffer.pts().expect("pts") + gst::ClockTime::from_nseconds(base.as_nanos() as u64);
        copy.make_mut().set_pts(pts);
        copy
    }

    #[test]
    fn a_recording_switches_tracks_and_survives_a_reconnect_and_plays_back() {
        let camera = vp8(320, 240, 45);
        let screen = vp8(640, 360, 45);
        let opus = encoded(
            "audiotestsrc num-buffers=75 samplesperbuffer=960 ! audio/x-raw,rate=48000,channels=2 ! opusenc frame-size=20",
        );
        assert!(camera.len() == 45 && screen.len() == 45 && opus.len() >= 70);
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("lesson.webm");
        let recorder = Recorder::start(
            &path,
            Some(VideoCodec::Vp8),
            RecordChoice {
                video: Some("camera".into()),
                audio: vec!["microphone".into()],
            },
        )
        .expect("start");
        let pad = gst::Pad::builder(gst::PadDirection::Src).build();
        // A VP8 frame of `track` from receive pipeline `epoch`, whose clock started `base`
        // before: whether a keyframe is asked for.
        let feed = |epoch, track: &str, frame: &gst::Buffer, base| {
            recorder.video(epoch, track, VideoCodec::Vp8, &pad, &shifted(frame, base))
        };
        let first = Duration::from_secs(5);

        // Joined mid-stream: audio and a delta frame before any keyframe write nothing, and
        // the delta frame asks for a keyframe (once per half second).
        assert!(feed(1, "camera", &camera[1], first));
        assert!(!feed(1, "camera", &camera[2], first));
        recorder.audio(1, "microphone", &shifted(&opus[0], first));
        assert_eq!(
            recorder.status().frames + recorder.status().audio_packets,
            0
        );
        // Another participant's track is not this recording's business.
        assert!(!feed(1, "other", &camera[0], first));

        // One and a half seconds of camera and microphone.
        let mut sound = opus.iter().peekable();
        for frame in &camera {
            assert!(!feed(1, "camera", frame, first));
            // The sound up to this frame, as it would arrive interleaved.
            while let Some(packet) = sound.next_if(|p| p.pts() <= frame.pts()) {
                recorder.audio(1, "microphone", &shifted(packet, first));
            }
        }
        let before = recorder.status();
        assert_eq!(before.frames, 45);
        assert!(before.audio_packets >= 70, "{before:?}");

        // The teacher shares the screen; then the connection drops and comes back (a new
        // pipeline whose clock started 100 s before), and the microphone sends nothing.
        recorder
            .set_choice(RecordChoice {
                video: Some("screen".into()),
                audio: vec!["microphone".into()],
            })
            .expect("switch");
        let later = Duration::from_secs(100);
        assert!(feed(2, "screen", &screen[1], later));
        for frame in &screen {
            feed(2, "screen", frame, later);
        }
        // The camera's frames are not written once the screen took over.
        recorder.video(
            2,
            "camera",
            VideoCodec::Vp8,
            &pad,
            &shifted(&camera[0], later),
        );
        let after = recorder.status();
        assert_eq!((after.frames, after.switches), (90, 1), "{after:?}");
        assert!(
            after.duration > Duration::from_millis(2900)
                && after.duration < Duration::from_millis(3100),
            "{after:?}"
        );

        let summary = recorder.finish().expect("finish");
        assert_eq!((summary.mime, summary.status.frames), ("video/webm", 90));
        assert!(summary.bytes > 10_000, "{summary:?}");
        // Finishing twice is harmless; feeding a finished recording writes nothing.
        assert!(recorder.finish().is_ok());
        recorder.audio(2, "microphone", &shifted(&opus[0], later));

        let played = read_back(&path).expect("plays");
        assert_eq!(played.frames.len(), 90, "{played:?}");
        assert!(played.frames[..45].iter().all(|f| (f.0, f.1) == (320, 240)));
        assert!(played.frames[45..].iter().all(|f| (f.0, f.1) == (640, 360)));
        assert!(
            played.frames.windows(2).all(|w| w[0].2 < w[1].2),
            "time runs on"
        );
        let gap = played.frames[45].2 - played.frames[44].2;
        assert!(
            gap < Duration::from_millis(100),
            "the reconnect leaves no hole: {gap:?}"
        );
        let declared = played
            .declared
            .expect("a finished file declares its length");
        assert!(
            declared > Duration::from_millis(2900) && declared < Duration::from_millis(3200),
            "{declared:?}"
        );
        // Sound for the camera's part and silence filled in for the screen's.
        assert!(played.audio > Duration::from_millis(2500), "{played:?}");
    }

    /// `packets` 20 ms Opus packets of a `freq` Hz tone, a quarter of full scale.
    fn tone(freq: u32, packets: u32) -> Vec<gst::Buffer> {
        encoded(&format!(
            "audiotestsrc num-buffers={packets} samplesperbuffer=960 freq={freq} volume=0.25 \
             ! audio/x-raw,rate=48000,channels=2 ! opusenc frame-size=20"
        ))
    }

    /// The mean loudness of `played` between `from` and `to` seconds.
    fn loudness(played: &Playback, from: f64, to: f64) -> f32 {
        let inside: Vec<f32> = played
            .loudness
            .iter()
            .filter(|(at, _)| (from..to).contains(&at.as_secs_f64()))
            .map(|(_, rms)| *rms)
            .collect();
        assert!(!inside.is_empty(), "sound between {from} and {to} s");
        inside.iter().sum::<f32>() / inside.len() as f32
    }

    #[test]
    fn a_student_on_stage_is_mixed_in_while_they_speak() {
        let camera = vp8(320, 240, 90);
        let teacher = tone(440, 150);
        // The student speaks from 1 s to 2 s of the lesson.
        let student: Vec<gst::Buffer> = tone(620, 50)
            .iter()
            .map(|p| shifted(p, Duration::from_secs(1)))
            .collect();
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("lesson.webm");
        let teacher_only = RecordChoice {
            video: Some("camera".into()),
            audio: vec!["teacher-mic".into()],
        };
        let recorder =
            Recorder::start(&path, Some(VideoCodec::Vp8), teacher_only.clone()).expect("start");
        let pad = gst::Pad::builder(gst::PadDirection::Src).build();
        let base = Duration::from_secs(7);
        let mut teacher_sound = teacher.iter().peekable();
        let mut student_sound = student.iter().peekable();
        for frame in &camera {
            // On stage a little before they speak: their voice joins the running mix.
            if frame.pts() >= Some(gst::ClockTime::from_mseconds(900)) {
                recorder
                    .set_choice(RecordChoice {
                        audio: vec!["teacher-mic".into(), "student-mic".into()],
                        ..teacher_only.clone()
                    })
                    .expect("follow");
            }
            recorder.video(1, "camera", VideoCodec::Vp8, &pad, &shifted(frame, base));
            while let Some(p) = teacher_sound.next_if(|p| p.pts() <= frame.pts()) {
                recorder.audio(1, "teacher-mic", &shifted(p, base));
            }
            while let Some(p) = student_sound.next_if(|p| p.pts() <= frame.pts()) {
                recorder.audio(1, "student-mic", &shifted(p, base));
            }
            // Off stage after two seconds: the student's voice leaves the mix.
            if frame.pts() >= Some(gst::ClockTime::from_mseconds(2_100)) {
                recorder.set_choice(teacher_only.clone()).expect("follow");
            }
        }
        // Off stage: once the mixer took the end of the student's sound, their branch is out
        // of the pipeline (the teacher's stays).
        let deadline = Instant::now() + Duration::from_secs(5);
        while recorder.voice_branches() > 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(recorder.voice_branches(), 1);
        // Someone else's microphone is not this recording's.
        recorder.audio(1, "other-mic", &shifted(&teacher[0], base));
        let summary = recorder.finish().expect("finish");
        assert_eq!(summary.status.voices, 2, "{summary:?}");
        assert_eq!(summary.status.audio_packets, 200, "{summary:?}");

        let played = read_back(&path).expect("plays");
        assert_eq!(played.frames.len(), 90);
        assert!(played.audio > Duration::from_millis(2800), "{played:?}");
        // Both voices where the student spoke (two tones: about 1.4 times as loud), the
        // teacher alone before and after.
        let alone_before = loudness(&played, 0.2, 0.9);
        let together = loudness(&played, 1.1, 1.9);
        let alone_after = loudness(&played, 2.2, 2.8);
        eprintln!(
            "loudness: alone {alone_before:.3}, with the student {together:.3}, alone again {alone_after:.3}; {:?} of sound",
            played.audio
        );
        assert!(alone_before > 0.05, "the teacher is heard: {alone_before}");
        assert!(
            together > 1.25 * alone_before && together > 1.25 * alone_after,
            "{alone_before} {together} {alone_after}"
        );
        assert!(
            (alone_after / alone_before - 1.0).abs() < 0.2,
            "{alone_before} {alone_after}"
        );
    }

    #[test]
    fn a_student_on_stage_records_their_own_voice_with_the_class() {
        let camera = vp8(320, 240, 90);
        let teacher = tone(440, 150);
        // Their own microphone from 1 s to 2 s, as the publish pipeline encodes it.
        let own = tone(620, 50);
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("lesson.webm");
        let choice = RecordChoice {
            video: Some("camera".into()),
            audio: vec!["teacher-mic".into()],
        };
        let recorder =
            Recorder::start(&path, Some(VideoCodec::Vp8), choice.clone()).expect("start");
        let pad = gst::Pad::builder(gst::PadDirection::Src).build();
        let base = Duration::from_secs(7);
        // Nothing received yet: their own voice has no time to go at.
        recorder.local_audio(&own[0]);
        let mut teacher_sound = teacher.iter().peekable();
        let mut own_sound = own.iter().skip(1).peekable();
        let second = gst::ClockTime::from_seconds(1);
        for frame in &camera {
            let at = frame.pts().expect("pts");
            let on_stage = at >= second && at < 2 * second;
            recorder
                .set_choice(RecordChoice {
                    audio: if on_stage {
                        vec!["teacher-mic".into(), LOCAL_MICROPHONE.into()]
                    } else {
                        vec!["teacher-mic".into()]
                    },
                    ..choice.clone()
                })
                .expect("follow");
            recorder.video(1, "camera", VideoCodec::Vp8, &pad, &shifted(frame, base));
            while let Some(p) = teacher_sound.next_if(|p| p.pts() <= Some(at)) {
                recorder.audio(1, "teacher-mic", &shifted(p, base));
            }
            // Encoded as it is spoken: placed by when it comes, against what was received.
            while on_stage
                && let Some(p) = own_sound.next_if(|p| p.pts().map(|t| t + second) <= Some(at))
            {
                recorder.local_audio(p);
            }
        }
        let summary = recorder.finish().expect("finish");
        assert_eq!(summary.status.voices, 2, "{summary:?}");
        let played = read_back(&path).expect("plays");
        let alone_before = loudness(&played, 0.2, 0.9);
        let together = loudness(&played, 1.2, 1.9);
        let alone_after = loudness(&played, 2.2, 2.8);
        eprintln!(
            "loudness: teacher {alone_before:.3}, with their own voice {together:.3}, teacher {alone_after:.3}"
        );
        assert!(
            together > 1.25 * alone_before && together > 1.25 * alone_after,
            "{alone_before} {together} {alone_after}"
        );
    }

    #[test]
    fn avc_configurations_give_their_parameter_sets_and_any_bytes_are_safe() {
        // x264's 320x240 record: NAL length 4, one SPS of 25 bytes, one PPS of 4.
        let sps: Vec<u8> = (0..25).collect();
        let pps = [0x68, 0xeb, 0xe3, 0xcb];
        let mut record = vec![1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, 25];
        record.extend_from_slice(&sps);
        record.extend_from_slice(&[1, 0, 4]);
        record.extend_from_slice(&pps);
        let (length, sets) = avc_parameter_sets(&record).expect("a record");
        assert_eq!(length, 4);
        let mut want = vec![0, 0, 0, 25];
        want.extend_from_slice(&sps);
        want.extend_from_slice(&[0, 0, 0, 4]);
        want.extend_from_slice(&pps);
        assert_eq!(sets, want);
        // NAL length 2.
        record[4] = 0xfd;
        let (length, sets) = avc_parameter_sets(&record).expect("a record");
        assert_eq!((length, &sets[..2]), (2, &[0u8, 25][..]));
        assert!(
            avc_parameter_sets(&record[..record.len() - 1]).is_none(),
            "cut short"
        );
        assert!(avc_parameter_sets(&[]).is_none());
        record[0] = 0;
        assert!(avc_parameter_sets(&record).is_none(), "not version 1");
        // Whatever a publisher sends answers without panicking.
        let mut seed = 0x2545_f491_u32;
        for n in 0..20_000usize {
            let bytes: Vec<u8> = (0..n % 64)
                .map(|i| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    if i == 0 { 1 } else { seed as u8 }
                })
                .collect();
            let _ = avc_parameter_sets(&bytes);
        }
    }

    /// A VP8 recording of the track "camera" alone, into `path`.
    fn camera_only(path: &Path) -> Arc<Recorder> {
        Recorder::start(
            path,
            Some(VideoCodec::Vp8),
            RecordChoice {
                video: Some("camera".into()),
                audio: Vec::new(),
            },
        )
        .expect("start")
    }

    #[test]
    fn a_recording_cut_short_without_finishing_still_plays_what_it_wrote() {
        // As a crash leaves it: the pipeline stopped with no end of stream, so no index and
        // no length are written.
        let camera = vp8(320, 240, 60);
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("cut.webm");
        let recorder = camera_only(&path);
        let pad = gst::Pad::builder(gst::PadDirection::Src).build();
        for frame in &camera {
            recorder.video(1, "camera", VideoCodec::Vp8, &pad, frame);
        }
        // Let the muxer write what it was given, then stop it dead.
        std::thread::sleep(Duration::from_millis(300));
        drop(recorder);
        let played = read_back(&path).expect("a cut file plays");
        assert!(played.frames.len() >= 50, "{} frames", played.frames.len());
        assert!(played.frames.iter().all(|f| (f.0, f.1) == (320, 240)));
    }

    #[test]
    fn a_full_disk_stops_the_recording_says_why_and_gives_back_what_it_was() {
        // /dev/full refuses every write with ENOSPC, as a full disk does.
        let recorder = camera_only(Path::new("/dev/full"));
        let pad = gst::Pad::builder(gst::PadDirection::Src).build();
        for frame in &vp8(320, 240, 30) {
            recorder.video(1, "camera", VideoCodec::Vp8, &pad, frame);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while recorder.status().failed.is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let failed = recorder.status().failed.expect("the write failure is seen");
        assert!(
            failed.to_lowercase().contains("space") || failed.contains("write"),
            "{failed}"
        );
        let summary = recorder.finish().expect("what it was is given back");
        assert_eq!(summary.status.failed.as_deref(), Some(failed.as_str()));
        assert_eq!(summary.status.frames, 30);
    }

    #[test]
    fn a_recording_that_receives_nothing_is_refused_and_leaves_no_file() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("empty.webm");
        let recorder = camera_only(&path);
        assert!(matches!(recorder.finish(), Err(MediaError::Recording(_))));
        assert!(!path.exists());
        // Each container's media type gives its extension back.
        assert_eq!(Recorder::extension_of("video/x-matroska"), "mkv");
        assert_eq!(Recorder::extension_of("audio/webm"), "webm");
        assert_eq!(Recorder::extension_of("video/mp4"), "webm");
        // A codec without video, or nothing chosen, does not start.
        assert!(Recorder::start(&path, None, RecordChoice::default()).is_err());
        assert!(
            Recorder::start(
                &path,
                None,
                RecordChoice {
                    video: Some("camera".into()),
                    audio: Vec::new()
                }
            )
            .is_err()
        );
    }
}
