//! Remote video into the page. WebKitGTK has no WebRTC, so frames reach the page through the
//! `video_frame` command as raw bytes (no JSON).
//!
//! The decoder threads only swap references: [`FrameStore`] keeps, per track, the latest decoded
//! frame ([`SharedFrame`], the decoder's own buffer) and the encoded frames since the last
//! keyframe ([`EncodedChunk`]s, the depayloader's buffers). Nothing is copied or converted per
//! frame. A request waits (up to [`WAIT`]) until a frame newer than the one the page drew exists,
//! takes a reference under a short lock, and converts or copies outside it, on a blocking
//! thread, so neither the main thread nor a decoder ever waits for a conversion.
//!
//! A track is decoded in Rust only once the page asks for it in RGBA or I420 (a webview without
//! WebCodecs, or that cannot decode the codec): the page decodes the encoded frames itself
//! otherwise, and a second decoder here cost ~20 MB and a decoder's CPU per track for
//! nothing ([`FrameSink::decodes_on_demand`]). The first such request starts the decoder at
//! the next keyframe (asked for at once), so it may come back empty; the page asks again.
//!
//! Every answer starts with a 24-byte header (little-endian): kind (u32), width (u32), height
//! (u32), frame number (u32), and when the newest frame in it was decoded (or, for encoded
//! frames, received), in milliseconds since the Unix epoch (f64), for the page to measure how
//! long a frame takes to reach the screen. Then, by kind:
//! - [`Kind::Rgba`]: RGBA pixels, `width * 4` bytes a row.
//! - [`Kind::I420`]: matrix (u32: 0 BT.601, 1 BT.709), range (u32: 0 limited, 1 full), then the
//!   Y, U and V planes, rows tightly packed (U and V are `ceil(width/2) x ceil(height/2)`).
//! - [`Kind::Encoded`]: codec (u32: 1 VP8, 2 H.264 Annex B, 3 H.264 AVC), the length of the
//!   decoder description (u32; H.264 AVC's `avcC`, else 0), the number of frames (u32), the
//!   description, then per frame its number (u32), keyframe (u32: 0 or 1), received-at ms
//!   (f64), length (u32), and the bytes. The first frame is a keyframe unless it continues
//!   from `after`.

use std::collections::{HashMap, VecDeque};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use classroom_media::{
    DecodedFrame, EncodedChunk, EncodedFrame, FrameSink, SharedFrame, VideoCodec, YuvMatrix,
};
use classroom_protocol::{Source, TrackInfo};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// Bytes of the common header before the kind's own fields.
pub const HEADER_BYTES: usize = 24;

/// How long a request waits for a new frame before answering "nothing new".
pub const WAIT: Duration = Duration::from_millis(500);

/// The widest or tallest picture a page may ask for (8K): anything larger is a bad request.
pub const MAX_SIZE: u32 = 7680;

/// The longest track id accepted from the page.
pub const MAX_TRACK_ID: usize = 128;

/// Encoded frames kept per track at most (a slow page past this waits for the next keyframe).
const MAX_ENCODED: usize = 300;

/// Encoded bytes sent in one answer at most; the rest follows in the next request.
const MAX_ENCODED_ANSWER: usize = 8 << 20;

/// What the page asks to receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(u32)]
pub enum Kind {
    /// RGBA pixels converted in Rust, drawn with `putImageData`.
    Rgba = 1,
    /// The decoded I420 planes, converted to RGB in a WebGL2 shader.
    I420 = 2,
    /// Encoded frames for the page's WebCodecs `VideoDecoder`.
    Encoded = 3,
}

/// Why a request was refused: bad input from the page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VideoError {
    /// The track id is not a video track of this class.
    #[error("no video track {0:?} in this class")]
    UnknownTrack(String),
    /// The track was one of this class and has ended (its sender left or went off stage): a
    /// tile that asks once more before the page drops it is not bad input.
    #[error("video track {0:?} has ended")]
    Ended(String),
    /// Width or height is zero or larger than [`MAX_SIZE`], or the id is too long.
    #[error("{0}")]
    BadRequest(String),
    /// The frame could not be converted (a GStreamer failure, not the page's fault).
    #[error("cannot convert the frame: {0}")]
    Convert(String),
}

/// One request from a tile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameRequest {
    /// The track.
    pub track_id: String,
    /// The number of the frame the page has (0: none).
    pub after: u32,
    /// The tile's size in device pixels: the picture is scaled down to fit, never up.
    pub width: u32,
    /// See `width`.
    pub height: u32,
    /// What to send.
    pub kind: Kind,
}

impl FrameRequest {
    fn check(&self) -> Result<(), VideoError> {
        if self.track_id.is_empty() || self.track_id.len() > MAX_TRACK_ID {
            return Err(VideoError::BadRequest(format!(
                "a track id has 1 to {MAX_TRACK_ID} bytes"
            )));
        }
        for (what, v) in [("width", self.width), ("height", self.height)] {
            if v == 0 || v > MAX_SIZE {
                return Err(VideoError::BadRequest(format!(
                    "{what} {v} is not between 1 and {MAX_SIZE}"
                )));
            }
        }
        Ok(())
    }
}

/// How the page should show video, from the environment: `CLASSROOM_VIDEO_PATH` =
/// `rgba`|`i420`|`webcodecs` forces a path (benchmarks; unset: the page picks), and
/// `CLASSROOM_VIDEO_REPORT=1` makes the page report what it painted (`video_painted`), which
/// the app prints on stdout as `VIDEO_PAINTED {json}` for `cargo xtask bench video`, and
/// `CLASSROOM_VIDEO_ENLARGE=1` shows the first video tile enlarged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoSettings {
    /// The forced path, or `None` for the page's own choice.
    pub path: Option<String>,
    /// Whether the page reports its paint counts.
    pub report: bool,
    /// Whether the first video tile starts enlarged (`CLASSROOM_VIDEO_ENLARGE=1`, benchmarks).
    pub enlarge: bool,
}

impl VideoSettings {
    /// From `CLASSROOM_VIDEO_PATH` and `CLASSROOM_VIDEO_REPORT`; an unknown path is ignored
    /// with a warning.
    pub fn from_env() -> Self {
        let path = std::env::var("CLASSROOM_VIDEO_PATH").ok().and_then(|p| {
            if ["rgba", "i420", "webcodecs"].contains(&p.as_str()) {
                Some(p)
            } else {
                eprintln!(
                    "classroom-app: ignoring CLASSROOM_VIDEO_PATH={p:?} (rgba, i420 or webcodecs)"
                );
                None
            }
        });
        let flag = |name| std::env::var(name).is_ok_and(|v| v == "1");
        Self {
            path,
            report: flag("CLASSROOM_VIDEO_REPORT"),
            enlarge: flag("CLASSROOM_VIDEO_ENLARGE"),
        }
    }
}

/// Benchmarks (`CLASSROOM_VIDEO_REPORT=1`): prints `JOIN_STAGE <stage> <wall ms> <track>`
/// on stdout, so `cargo xtask bench app` can split join-to-first-frame into its steps (the
/// join command, joined, a video track announced, its first encoded and decoded frame, the
/// page's first listing of it and first fetch of its frames; the page reports the first
/// paint). Called once per step and track, never per frame.
pub fn join_stage(stage: &str, track: &str) {
    if VideoSettings::from_env().report {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "JOIN_STAGE {stage} {:.1} {track}", wall_ms())
            .and_then(|()| stdout.flush());
    }
}

/// [`join_stage`] the first time only: `flag` remembers it was stamped.
fn join_stage_once(flag: &AtomicBool, stage: &str, track: &str) {
    if !flag.swap(true, Ordering::Relaxed) {
        join_stage(stage, track);
    }
}

/// What a tile painted since it started, as the page reports it (cumulative).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TilePaints {
    /// The track.
    pub track_id: String,
    /// The path the tile uses: `rgba`, `i420` or `webcodecs`.
    pub path: String,
    /// Frames painted.
    pub painted: u64,
    /// Sum of (painted - decoded or received) over the painted frames, ms.
    pub latency_ms_sum: f64,
    /// The largest such latency since the previous report, ms.
    pub latency_ms_max: f64,
    /// Size of the latest frame painted.
    pub width: u32,
    /// See `width`.
    pub height: u32,
    /// When the tile painted its first frame, wall-clock ms.
    pub first_painted_ms: f64,
}

impl TilePaints {
    /// Refuses figures no page produces (ids too long, negative or non-finite times).
    pub fn check(&self) -> Result<(), VideoError> {
        let ok = !self.track_id.is_empty()
            && self.track_id.len() <= MAX_TRACK_ID
            && self.path.len() <= 16
            && self.latency_ms_sum.is_finite()
            && self.latency_ms_max.is_finite()
            && self.first_painted_ms.is_finite()
            && self.width <= MAX_SIZE
            && self.height <= MAX_SIZE;
        if ok {
            Ok(())
        } else {
            Err(VideoError::BadRequest("malformed paint report".into()))
        }
    }
}

#[derive(Clone)]
struct Latest {
    frame: SharedFrame,
    seq: u32,
    at_ms: f64,
}

#[derive(Clone)]
struct Chunk {
    seq: u32,
    key: bool,
    at_ms: f64,
    data: EncodedChunk,
}

#[derive(Default)]
struct EncodedQueue {
    /// Since the latest keyframe; empty, or starting with a keyframe.
    frames: VecDeque<Chunk>,
    next_seq: u32,
}

struct Slot {
    source: Source,
    codec: VideoCodec,
    decoded: watch::Sender<Option<Latest>>,
    encoded: Mutex<EncodedQueue>,
    /// The number of the newest encoded frame, for waiters.
    encoded_seq: watch::Sender<u32>,
    /// A first encoded / decoded frame arrived, the page first listed the track and first
    /// fetched frames of it (benchmarks time each: [`join_stage`]).
    encoded_once: AtomicBool,
    decoded_once: AtomicBool,
    listed_once: AtomicBool,
    fetched_once: AtomicBool,
    /// The page asked for decoded frames (RGBA or I420) of it: its decoder runs from then on
    /// (the page's own decoder takes the encoded frames otherwise).
    decoded_wanted: AtomicBool,
}

/// A video track began or ended in the store: the `video-tracks-changed` event's payload.
/// The page lists its tiles from `class_stats` once a second; this makes it ask at once, so a
/// new camera's first frame is painted when it is decoded, not up to a second later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct VideoTracksChanged {
    /// The track.
    pub track_id: String,
    /// True when it ended; false when it began.
    pub ended: bool,
}

/// Called with every [`VideoTracksChanged`], on the media thread that saw the change.
pub type TracksNotifier = Arc<dyn Fn(&VideoTracksChanged) + Send + Sync>;

/// The latest frames per track; the app's [`FrameSink`].
#[derive(Default)]
pub struct FrameStore {
    /// Told when a track begins or ends.
    notify: Mutex<Option<TracksNotifier>>,
    tracks: Mutex<HashMap<String, Arc<Slot>>>,
    /// Tracks that ended in this class (ids are never reused within it).
    ended: Mutex<std::collections::HashSet<String>>,
    /// Decoded frames that were not I420 and cannot be shown.
    unsupported: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Now, in milliseconds since the Unix epoch: the page's `performance.timeOrigin + now()`.
pub fn wall_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

impl FrameSink for FrameStore {
    fn on_video_track(&self, track: &TrackInfo, codec: VideoCodec) {
        let mut tracks = lock(&self.tracks);
        let fresh = |codec| {
            Arc::new(Slot {
                source: track.source,
                codec,
                decoded: watch::Sender::new(None),
                encoded: Mutex::new(EncodedQueue::default()),
                encoded_seq: watch::Sender::new(0),
                encoded_once: AtomicBool::new(false),
                decoded_once: AtomicBool::new(false),
                listed_once: AtomicBool::new(false),
                fetched_once: AtomicBool::new(false),
                decoded_wanted: AtomicBool::new(false),
            })
        };
        match tracks.get(&track.track_id) {
            Some(slot) if slot.codec == codec => {}
            _ => {
                tracks.insert(track.track_id.clone(), fresh(codec));
                drop(tracks);
                join_stage("track", &track.track_id);
                self.tell(&track.track_id, false);
            }
        }
    }

    fn on_frame(&self, frame: &DecodedFrame<'_>) {
        let Some(shared) = frame.shared else {
            self.unsupported.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let Some(slot) = self.slot(&frame.track.track_id) else {
            return;
        };
        join_stage_once(&slot.decoded_once, "decoded", &frame.track.track_id);
        let at_ms = wall_ms();
        slot.decoded.send_modify(|latest| {
            let seq = latest.as_ref().map_or(0, |l| l.seq).wrapping_add(1).max(1);
            *latest = Some(Latest {
                frame: shared.clone(),
                seq,
                at_ms,
            });
        });
    }

    fn wants_encoded(&self) -> bool {
        true
    }

    fn decodes_on_demand(&self) -> bool {
        true
    }

    fn wants_decoded(&self, track: &TrackInfo) -> bool {
        self.slot(&track.track_id)
            .is_some_and(|slot| slot.decoded_wanted.load(Ordering::Relaxed))
    }

    fn on_track_ended(&self, track: &TrackInfo) {
        // Its last picture and keyframe run go with it; a tile still asking hears "ended".
        lock(&self.tracks).remove(&track.track_id);
        lock(&self.ended).insert(track.track_id.clone());
        self.tell(&track.track_id, true);
    }

    fn on_encoded(&self, frame: &EncodedFrame<'_>) {
        let Some(slot) = self.slot(&frame.track.track_id) else {
            return;
        };
        join_stage_once(&slot.encoded_once, "encoded", &frame.track.track_id);
        let key = frame.chunk.is_keyframe();
        let queued = {
            let mut q = lock(&slot.encoded);
            q.next_seq = q.next_seq.wrapping_add(1).max(1);
            let seq = q.next_seq;
            if key {
                // Whoever has not fetched the frames before a keyframe starts from it.
                q.frames.clear();
            }
            if key || (!q.frames.is_empty() && q.frames.len() < MAX_ENCODED) {
                q.frames.push_back(Chunk {
                    seq,
                    key,
                    at_ms: wall_ms(),
                    data: frame.chunk.clone(),
                });
                Some(seq)
            } else {
                // No keyframe to start from, or a page that stopped fetching: wait for the
                // next keyframe rather than hold a growing queue.
                q.frames.clear();
                None
            }
        };
        if let Some(seq) = queued {
            slot.encoded_seq.send_replace(seq);
        }
    }
}

impl FrameStore {
    /// Calls `notify` whenever a video track begins or ends (the app sends it to the page as
    /// `video-tracks-changed`).
    pub fn on_tracks_changed(&self, notify: TracksNotifier) {
        *lock(&self.notify) = Some(notify);
    }

    fn tell(&self, track_id: &str, ended: bool) {
        let notify = lock(&self.notify).clone();
        if let Some(notify) = notify {
            notify(&VideoTracksChanged {
                track_id: track_id.to_owned(),
                ended,
            });
        }
    }

    fn slot(&self, track_id: &str) -> Option<Arc<Slot>> {
        lock(&self.tracks).get(track_id).cloned()
    }

    /// Decoded frames dropped because they were not I420.
    pub fn unsupported_frames(&self) -> u64 {
        self.unsupported.load(Ordering::Relaxed)
    }

    /// The codec of a video track, if it is one of this class.
    pub fn codec(&self, track_id: &str) -> Option<VideoCodec> {
        self.slot(track_id).map(|s| s.codec)
    }

    /// The page is told of `track_id` (its tile is listed in `class_stats`); benchmarks time
    /// the first time ([`join_stage`] `listed`).
    pub fn listed(&self, track_id: &str) {
        if let Some(slot) = self.slot(track_id) {
            join_stage_once(&slot.listed_once, "listed", track_id);
        }
    }

    /// The source (camera, screen) of a video track, if it is one of this class.
    pub fn source(&self, track_id: &str) -> Option<Source> {
        self.slot(track_id).map(|s| s.source)
    }

    /// Waits up to `wait` for a frame newer than `request.after` and answers it in the
    /// requested kind (see the module's header layout); `Ok(None)` when nothing new came.
    pub async fn next(
        &self,
        request: &FrameRequest,
        wait: Duration,
    ) -> Result<Option<Vec<u8>>, VideoError> {
        request.check()?;
        let slot = self.slot(&request.track_id).ok_or_else(|| {
            if lock(&self.ended).contains(&request.track_id) {
                VideoError::Ended(request.track_id.clone())
            } else {
                VideoError::UnknownTrack(request.track_id.clone())
            }
        })?;
        let answer = match request.kind {
            Kind::Encoded => {
                let mut rx = slot.encoded_seq.subscribe();
                let ready = |seq: &u32| *seq != 0 && *seq != request.after;
                if !wait_for(&mut rx, wait, ready).await {
                    return Ok(None);
                }
                encoded_answer(&slot, request.after)
            }
            Kind::Rgba | Kind::I420 => {
                slot.decoded_wanted.store(true, Ordering::Relaxed);
                let mut rx = slot.decoded.subscribe();
                let ready = |l: &Option<Latest>| l.as_ref().is_some_and(|l| l.seq != request.after);
                if !wait_for(&mut rx, wait, ready).await {
                    return Ok(None);
                }
                // A reference, taken under the watch's lock for the time of a clone.
                let Some(latest) = rx.borrow().clone() else {
                    return Ok(None);
                };
                let (kind, w, h) = (request.kind, request.width, request.height);
                Some(
                    tokio::task::spawn_blocking(move || convert(&latest, kind, w, h))
                        .await
                        .map_err(|e| VideoError::Convert(e.to_string()))??,
                )
            }
        };
        if answer.is_some() {
            join_stage_once(&slot.fetched_once, "fetched", &request.track_id);
        }
        Ok(answer)
    }

    /// Forgets every track (leaving a class); waiting requests answer "nothing new".
    pub fn clear(&self) {
        lock(&self.tracks).clear();
        lock(&self.ended).clear();
    }
}

/// Waits until `ready` holds for the watched value, at most `wait`; false on timeout or when
/// the track went away.
async fn wait_for<T>(
    rx: &mut watch::Receiver<T>,
    wait: Duration,
    ready: impl FnMut(&T) -> bool,
) -> bool {
    matches!(
        tokio::time::timeout(wait, rx.wait_for(ready)).await,
        Ok(Ok(_))
    )
}

/// The size to send: the frame fitted into `max_w` x `max_h`, aspect kept, never enlarged,
/// even (so chroma planes stay aligned with luma) unless the frame itself is odd.
pub fn fit(frame: (u32, u32), max_w: u32, max_h: u32) -> (u32, u32) {
    let (w, h) = frame;
    if w == 0 || h == 0 {
        return (0, 0);
    }
    if w <= max_w && h <= max_h {
        return (w, h);
    }
    // The smaller of the two scale factors, as a fraction, in 64-bit to stay exact.
    let (num, den) = if u64::from(max_w) * u64::from(h) <= u64::from(max_h) * u64::from(w) {
        (u64::from(max_w), u64::from(w))
    } else {
        (u64::from(max_h), u64::from(h))
    };
    let scale = |v: u32| ((u64::from(v) * num / den) as u32 & !1).max(2).min(v);
    (scale(w), scale(h))
}

fn header(out: &mut Vec<u8>, kind: Kind, w: u32, h: u32, seq: u32, at_ms: f64) {
    out.extend_from_slice(&(kind as u32).to_le_bytes());
    out.extend_from_slice(&w.to_le_bytes());
    out.extend_from_slice(&h.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&at_ms.to_le_bytes());
}

fn convert(latest: &Latest, kind: Kind, max_w: u32, max_h: u32) -> Result<Vec<u8>, VideoError> {
    let f = &latest.frame;
    let (w, h) = fit((f.width(), f.height()), max_w, max_h);
    match kind {
        Kind::Rgba => {
            let mut out = f
                .to_rgba(w, h, HEADER_BYTES)
                .map_err(|e| VideoError::Convert(e.to_string()))?;
            let mut head = Vec::with_capacity(HEADER_BYTES);
            header(&mut head, kind, w, h, latest.seq, latest.at_ms);
            out[..HEADER_BYTES].copy_from_slice(&head);
            Ok(out)
        }
        Kind::I420 | Kind::Encoded => {
            let (cw, ch) = (w.div_ceil(2) as usize, h.div_ceil(2) as usize);
            let mut out =
                Vec::with_capacity(HEADER_BYTES + 8 + w as usize * h as usize + 2 * cw * ch);
            header(&mut out, Kind::I420, w, h, latest.seq, latest.at_ms);
            let matrix: u32 = match f.matrix() {
                YuvMatrix::Bt709 => 1,
                _ => 0,
            };
            out.extend_from_slice(&matrix.to_le_bytes());
            out.extend_from_slice(&u32::from(f.full_range()).to_le_bytes());
            f.write_i420(w, h, &mut out);
            Ok(out)
        }
    }
}

fn encoded_answer(slot: &Slot, after: u32) -> Option<Vec<u8>> {
    // References under the queue's lock; the bytes are copied after it is released.
    let chunks: Vec<Chunk> = {
        let q = lock(&slot.encoded);
        let first = q.frames.front()?;
        // Continue after `after` when the queue still holds its successor; else start at the
        // keyframe that heads the queue.
        let from = q
            .frames
            .iter()
            .position(|c| c.seq == after.wrapping_add(1).max(1))
            .filter(|_| after != 0)
            .unwrap_or(0);
        if from == 0 && !first.key {
            return None;
        }
        let mut bytes = 0;
        q.frames
            .iter()
            .skip(from)
            .take_while(|c| {
                bytes += c.data.len();
                bytes <= MAX_ENCODED_ANSWER || bytes == c.data.len()
            })
            .cloned()
            .collect()
    };
    let last = chunks.last()?;
    // The stream's configuration changes only at a keyframe, which starts a batch or ends
    // the queue before it: every frame here shares the last one's.
    let description = last.data.description().unwrap_or_default();
    let total: usize = chunks.iter().map(|c| 20 + c.data.len()).sum();
    let mut out = Vec::with_capacity(HEADER_BYTES + 12 + description.len() + total);
    header(&mut out, Kind::Encoded, 0, 0, last.seq, last.at_ms);
    let codec: u32 = match slot.codec {
        VideoCodec::Vp8 => 1,
        VideoCodec::H264 if description.is_empty() => 2,
        VideoCodec::H264 => 3,
    };
    out.extend_from_slice(&codec.to_le_bytes());
    out.extend_from_slice(&(description.len() as u32).to_le_bytes());
    out.extend_from_slice(&(chunks.len() as u32).to_le_bytes());
    out.extend_from_slice(&description);
    for c in &chunks {
        out.extend_from_slice(&c.seq.to_le_bytes());
        out.extend_from_slice(&u32::from(c.key).to_le_bytes());
        out.extend_from_slice(&c.at_ms.to_le_bytes());
        out.extend_from_slice(&(c.data.len() as u32).to_le_bytes());
        if c.data.append_to(&mut out).is_err() {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use classroom_protocol::MediaKind;

    fn track(id: &str, source: Source) -> TrackInfo {
        TrackInfo {
            track_id: id.into(),
            participant_id: "p1".into(),
            source,
            kind: MediaKind::Video,
        }
    }

    /// A `w` x `h` I420 frame of one colour in GStreamer's default layout.
    fn solid(w: u32, h: u32, yuv: (u8, u8, u8)) -> (Vec<u8>, SharedFrame) {
        let stride = |v: u32| (v as usize).div_ceil(4) * 4;
        let luma = stride(w) * h as usize;
        let chroma = stride(w.div_ceil(2)) * h.div_ceil(2) as usize;
        let mut v = vec![yuv.0; luma];
        v.extend(std::iter::repeat_n(yuv.1, chroma));
        v.extend(std::iter::repeat_n(yuv.2, chroma));
        let frame = SharedFrame::from_i420_bytes(w, h, v.clone()).expect("frame");
        (v, frame)
    }

    fn feed(store: &FrameStore, t: &TrackInfo, w: u32, h: u32, yuv: (u8, u8, u8)) {
        let (data, shared) = solid(w, h, yuv);
        store.on_frame(&DecodedFrame {
            track: t,
            width: w,
            height: h,
            format: "I420",
            data: &data,
            shared: Some(&shared),
        });
    }

    fn request(track_id: &str, after: u32, width: u32, kind: Kind) -> FrameRequest {
        FrameRequest {
            track_id: track_id.into(),
            after,
            width,
            height: 4000,
            kind,
        }
    }

    fn word(b: &[u8], i: usize) -> u32 {
        u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
    }

    fn init() {
        classroom_media::init().expect("GStreamer");
    }

    #[test]
    fn sizes_fit_the_tile_and_are_never_enlarged() {
        assert_eq!(fit((1920, 1080), 4000, 4000), (1920, 1080));
        assert_eq!(fit((1920, 1080), 960, 4000), (960, 540));
        assert_eq!(fit((1920, 1080), 4000, 540), (960, 540));
        assert_eq!(fit((1366, 768), 683, 4000), (682, 384));
        assert_eq!(fit((1280, 720), 321, 999), (320, 180));
        assert_eq!(fit((640, 360), 1, 1), (2, 2));
        assert_eq!(fit((0, 360), 100, 100), (0, 0));
    }

    #[tokio::test]
    async fn a_track_is_decoded_once_its_page_asks_for_decoded_frames() {
        let store = FrameStore::default();
        assert!(store.decodes_on_demand() && store.wants_encoded());
        let (cam, screen) = (track("t1", Source::Camera), track("t2", Source::Screen));
        store.on_video_track(&cam, VideoCodec::Vp8);
        store.on_video_track(&screen, VideoCodec::Vp8);
        let short = Duration::from_millis(5);
        // The page's own decoder takes encoded frames: nothing to decode here.
        let _ = store
            .next(&request("t1", 0, 320, Kind::Encoded), short)
            .await;
        assert!(!store.wants_decoded(&cam) && !store.wants_decoded(&screen));
        // A tile drawing RGBA (or I420) wants that track decoded, and only that one.
        let _ = store.next(&request("t1", 0, 320, Kind::Rgba), short).await;
        assert!(store.wants_decoded(&cam) && !store.wants_decoded(&screen));
        let _ = store.next(&request("t2", 0, 320, Kind::I420), short).await;
        assert!(store.wants_decoded(&screen));
        // A track that is gone is not wanted.
        store.on_track_ended(&cam);
        assert!(!store.wants_decoded(&cam));
    }

    #[tokio::test]
    async fn the_page_gets_each_frame_once_scaled_to_its_tile() {
        init();
        let store = FrameStore::default();
        let t = track("t1", Source::Camera);
        store.on_video_track(&t, VideoCodec::H264);
        let short = Duration::from_millis(20);
        let none = store.next(&request("t1", 0, 320, Kind::Rgba), short).await;
        assert_eq!(none, Ok(None), "nothing decoded yet: wait, then nothing");
        feed(&store, &t, 1280, 720, (235, 128, 128));
        let out = store
            .next(&request("t1", 0, 320, Kind::Rgba), short)
            .await
            .expect("ok")
            .expect("a frame");
        assert_eq!(
            (word(&out, 0), word(&out, 4), word(&out, 8), word(&out, 12)),
            (Kind::Rgba as u32, 320, 180, 1)
        );
        assert_eq!(out.len(), HEADER_BYTES + 320 * 180 * 4);
        assert!(out[HEADER_BYTES..].iter().all(|&b| b >= 253), "white");
        let at = f64::from_le_bytes(out[16..24].try_into().expect("8 bytes"));
        assert!((wall_ms() - at).abs() < 60_000.0, "decode time {at}");
        let again = store.next(&request("t1", 1, 320, Kind::Rgba), short).await;
        assert_eq!(again, Ok(None), "already drawn");
        // A big tile gets the frame at its own size, not more.
        let full = store
            .next(&request("t1", 0, 4000, Kind::I420), short)
            .await
            .expect("ok")
            .expect("frame");
        assert_eq!((word(&full, 4), word(&full, 8)), (1280, 720));
        assert_eq!(full.len(), HEADER_BYTES + 8 + 1280 * 720 + 2 * 640 * 360);
    }

    #[tokio::test]
    async fn an_ended_track_is_forgotten_with_its_frames() {
        init();
        let store = FrameStore::default();
        let t = track("t1", Source::Camera);
        store.on_video_track(&t, VideoCodec::H264);
        feed(&store, &t, 64, 36, (235, 128, 128));
        let short = Duration::from_millis(20);
        assert!(matches!(
            store.next(&request("t1", 0, 64, Kind::Rgba), short).await,
            Ok(Some(_))
        ));
        store.on_track_ended(&t);
        assert_eq!(
            store.next(&request("t1", 0, 64, Kind::Rgba), short).await,
            Err(VideoError::Ended("t1".into()))
        );
        // A track that never was one of the class is still bad input.
        assert_eq!(
            store.next(&request("t9", 0, 64, Kind::Rgba), short).await,
            Err(VideoError::UnknownTrack("t9".into()))
        );
        assert_eq!(store.codec("t1"), None);
    }

    #[test]
    fn the_page_is_told_once_when_a_track_begins_and_once_when_it_ends() {
        let store = FrameStore::default();
        let told: Arc<Mutex<Vec<VideoTracksChanged>>> = Arc::default();
        let sink = told.clone();
        store.on_tracks_changed(Arc::new(move |c| lock(&sink).push(c.clone())));
        let t = track("t1", Source::Camera);
        store.on_video_track(&t, VideoCodec::Vp8);
        // The same track announced again (a renegotiation) is not news.
        store.on_video_track(&t, VideoCodec::Vp8);
        store.on_track_ended(&t);
        let change = |ended| VideoTracksChanged {
            track_id: "t1".into(),
            ended,
        };
        assert_eq!(*lock(&told), vec![change(false), change(true)]);
    }

    #[tokio::test]
    async fn a_waiting_request_wakes_when_a_frame_arrives() {
        init();
        let store = Arc::new(FrameStore::default());
        let t = track("t1", Source::Screen);
        store.on_video_track(&t, VideoCodec::Vp8);
        let waiter = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .next(&request("t1", 0, 64, Kind::I420), Duration::from_secs(30))
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "it waits for a frame");
        feed(&store, &t, 64, 48, (16, 128, 128));
        let out = tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .expect("woken well before its 30 s")
            .expect("task")
            .expect("ok")
            .expect("frame");
        assert_eq!((word(&out, 0), word(&out, 4), word(&out, 8)), (2, 64, 48));
    }

    #[tokio::test]
    async fn bad_requests_are_refused_clearly() {
        let store = FrameStore::default();
        let wait = Duration::from_millis(1);
        let unknown = store.next(&request("nope", 0, 64, Kind::Rgba), wait).await;
        assert_eq!(unknown, Err(VideoError::UnknownTrack("nope".into())));
        for (width, height) in [(0, 100), (100, 0), (MAX_SIZE + 1, 100), (100, u32::MAX)] {
            let r = FrameRequest {
                height,
                ..request("t1", 0, width, Kind::Rgba)
            };
            assert!(
                matches!(store.next(&r, wait).await, Err(VideoError::BadRequest(_))),
                "{width}x{height}"
            );
        }
        let long = "x".repeat(MAX_TRACK_ID + 1);
        assert!(matches!(
            store.next(&request(&long, 0, 64, Kind::Rgba), wait).await,
            Err(VideoError::BadRequest(_))
        ));
    }

    #[test]
    fn frames_that_cannot_be_shown_are_counted() {
        let store = FrameStore::default();
        let t = track("t1", Source::Camera);
        store.on_video_track(&t, VideoCodec::Vp8);
        store.on_frame(&DecodedFrame {
            track: &t,
            width: 64,
            height: 64,
            format: "NV12",
            data: &[0; 10],
            shared: None,
        });
        assert_eq!(store.unsupported_frames(), 1);
    }

    fn encoded(store: &FrameStore, t: &TrackInfo, bytes: &[u8], key: bool) {
        store.on_encoded(&EncodedFrame {
            track: t,
            codec: VideoCodec::H264,
            chunk: &EncodedChunk::from_bytes(bytes.to_vec(), key, Some(vec![1, 0x42, 0xc0, 0x1f])),
        });
    }

    /// (seq, key, bytes) of each frame in an encoded answer.
    fn chunks(out: &[u8]) -> Vec<(u32, bool, Vec<u8>)> {
        assert_eq!(word(out, 0), Kind::Encoded as u32);
        let described = word(out, 28) as usize;
        let count = word(out, 32) as usize;
        assert_eq!(
            &out[HEADER_BYTES + 12..HEADER_BYTES + 12 + described],
            &[1, 0x42, 0xc0, 0x1f],
            "the stream's avcC"
        );
        let mut at = HEADER_BYTES + 12 + described;
        let mut v = Vec::new();
        for _ in 0..count {
            let (seq, key, len) = (word(out, at), word(out, at + 4) == 1, word(out, at + 16));
            at += 20;
            v.push((seq, key, out[at..at + len as usize].to_vec()));
            at += len as usize;
        }
        assert_eq!(at, out.len());
        v
    }

    #[tokio::test]
    async fn encoded_frames_start_at_a_keyframe_and_continue_in_order() {
        init();
        let store = FrameStore::default();
        let t = track("t1", Source::Camera);
        store.on_video_track(&t, VideoCodec::H264);
        let wait = Duration::from_millis(20);
        encoded(&store, &t, &[1], false);
        let r = |after| request("t1", after, 64, Kind::Encoded);
        assert_eq!(store.next(&r(0), wait).await, Ok(None), "no keyframe yet");
        encoded(&store, &t, &[2, 2], true);
        encoded(&store, &t, &[3], false);
        let out = store.next(&r(0), wait).await.expect("ok").expect("frames");
        assert_eq!(word(&out, 24), 3, "H.264 in AVC form");
        assert_eq!(
            chunks(&out),
            vec![(2, true, vec![2, 2]), (3, false, vec![3])]
        );
        encoded(&store, &t, &[4], false);
        let next = store.next(&r(3), wait).await.expect("ok").expect("frames");
        assert_eq!(chunks(&next), vec![(4, false, vec![4])], "continues");
        assert_eq!(store.next(&r(4), wait).await, Ok(None), "nothing new");
        encoded(&store, &t, &[5], true);
        encoded(&store, &t, &[6], false);
        let after_gap = store.next(&r(1), wait).await.expect("ok").expect("frames");
        assert_eq!(
            chunks(&after_gap),
            vec![(5, true, vec![5]), (6, false, vec![6])],
            "a page that missed frames restarts at the keyframe"
        );
    }
}
