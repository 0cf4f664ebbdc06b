//! Recording a lesson on this computer, to watch later without a network: a student (where
//! the school's policy allows it, `studentsMayRecord`) records the teacher as this app
//! receives them — the screen while it is shared, the camera otherwise — and the class's
//! voices (the teacher's microphone and whoever speaks on stage, mixed) with
//! `classroom_media::Recorder` (video frames into the file as received, nothing decoded). On stop, or
//! on leaving the class, the file becomes a lesson of the library's "Recordings" course,
//! offline like a downloaded one.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use classroom_media::{
    LOCAL_MICROPHONE, RecordChoice, Recorder, RecordingSummary, TrackStats, VideoCodec,
};
use classroom_protocol::{MediaKind, Source};
use serde::Serialize;
use ts_rs::TS;

use crate::error::AppError;

/// The library course recordings are kept in. Not a room name a class would have (course
/// ids of classes are their rooms), so a class's catalog never touches it.
pub const RECORDINGS_COURSE: &str = "this-computer:recordings";

/// The library's folder recordings are written in while they run.
pub const IN_PROGRESS: &str = "recordings-in-progress";

/// Written beside a recording while it runs (`<file>.json`), so that one cut short by a crash
/// is kept with its title at the next start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sidecar {
    /// The lesson's title.
    pub title: String,
    /// When it started (ms since the epoch).
    pub started_ms: i64,
    /// The file's media type.
    pub mime: String,
}

/// Longest recording title, in characters (a lesson title's limit).
pub const MAX_TITLE_CHARS: usize = classroom_protocol::lessons::MAX_LESSON_TITLE_CHARS;

/// Longest participant id the page may name, in bytes.
const MAX_PARTICIPANT_ID: usize = 128;

/// What a recording follows among the tracks received: `participant`'s screen while it is
/// shared (and of the recording's codec, once one is chosen), else its camera; every
/// microphone received (theirs first: the teacher, and whoever is on stage). The codec is
/// the chosen video's.
pub fn choose(
    tracks: &[TrackStats],
    participant: &str,
    codec: Option<VideoCodec>,
) -> (RecordChoice, Option<VideoCodec>) {
    let theirs = |source: Source| {
        tracks.iter().find(|t| {
            t.track.participant_id == participant
                && t.track.source == source
                && (t.track.kind == MediaKind::Audio
                    || (t.codec.is_some() && (codec.is_none() || t.codec == codec)))
        })
    };
    let video = theirs(Source::Screen).or_else(|| theirs(Source::Camera));
    let mut voices: Vec<&TrackStats> = tracks
        .iter()
        .filter(|t| t.track.kind == MediaKind::Audio && t.track.source == Source::Microphone)
        .collect();
    voices.sort_by_key(|t| t.track.participant_id != participant);
    // Nothing of theirs received (yet): nothing to record.
    if video.is_none()
        && voices
            .first()
            .is_none_or(|t| t.track.participant_id != participant)
    {
        return (RecordChoice::default(), None);
    }
    (
        RecordChoice {
            video: video.map(|t| t.track.track_id.clone()),
            audio: voices.iter().map(|t| t.track.track_id.clone()).collect(),
        },
        video.and_then(|t| t.codec),
    )
}

/// Adds this computer's own microphone to the voices when it publishes one (a student on
/// stage records their own question; their microphone is not received).
fn with_own_voice(choice: &mut RecordChoice, own_voice: bool) {
    if own_voice && !choice.audio.is_empty() {
        choice.audio.push(LOCAL_MICROPHONE.to_owned());
    }
}

/// The title and participant id the page asks a recording with, checked.
pub fn check_request(participant: &str, title: &str) -> Result<String, AppError> {
    if participant.is_empty() || participant.len() > MAX_PARTICIPANT_ID {
        return Err(AppError::Invalid("Name whom to record.".into()));
    }
    let title = title.trim();
    let chars = title.chars().count();
    if chars == 0 || chars > MAX_TITLE_CHARS || title.chars().any(char::is_control) {
        return Err(AppError::Invalid(format!(
            "A recording needs a title of 1 to {MAX_TITLE_CHARS} characters."
        )));
    }
    Ok(title.to_owned())
}

/// The frame sink of a teacher's recording session: asks for every video track's encoded
/// frames (where the recorder reads) and never for decoded ones, so no decoder runs.
pub struct EncodedOnly;

impl classroom_media::FrameSink for EncodedOnly {
    fn on_frame(&self, _frame: &classroom_media::DecodedFrame<'_>) {}

    fn wants_encoded(&self) -> bool {
        true
    }

    fn decodes_on_demand(&self) -> bool {
        true
    }

    fn wants_decoded(&self, _track: &classroom_protocol::TrackInfo) -> bool {
        false
    }
}

/// A recording under way, kept with the class.
pub struct Recording {
    /// Writes the file.
    pub recorder: Arc<Recorder>,
    /// Whom it follows.
    pub participant: String,
    /// Its lesson's title.
    pub title: String,
    /// Where the file is written (the library's temporary folder).
    pub path: PathBuf,
    /// When it started (ms since the epoch), its lesson's place in the course.
    pub started_ms: i64,
    started: Instant,
}

impl Recording {
    /// Starts recording `participant` of `tracks` into `path`; with this computer's own
    /// voice too when `own_voice` (a student on stage, whose microphone is not received).
    pub fn start(
        tracks: &[TrackStats],
        participant: &str,
        own_voice: bool,
        title: String,
        path: PathBuf,
        started_ms: i64,
    ) -> Result<Self, AppError> {
        let (mut choice, codec) = choose(tracks, participant, None);
        if choice == RecordChoice::default() {
            return Err(AppError::Invalid(
                "Nothing of theirs is received yet to record.".into(),
            ));
        }
        with_own_voice(&mut choice, own_voice);
        let recorder =
            Recorder::start(&path, codec, choice).map_err(|e| AppError::Media(e.to_string()))?;
        let side = Sidecar {
            title: title.clone(),
            started_ms,
            mime: Recorder::container(codec).1.to_owned(),
        };
        let json = serde_json::to_vec(&side).map_err(|e| AppError::Internal(e.to_string()))?;
        std::fs::write(path.with_extension("json"), json)
            .map_err(|e| AppError::Storage(format!("the recording's note: {e}")))?;
        Ok(Self {
            recorder,
            participant: participant.to_owned(),
            title,
            path,
            started_ms,
            started: Instant::now(),
        })
    }

    /// Follows the tracks received now (a screen share that began or ended, a student who
    /// came on stage or left it), and this computer's own voice while `own_voice`.
    pub fn follow(&self, tracks: &[TrackStats], own_voice: bool) {
        let (mut choice, _) = choose(tracks, &self.participant, self.recorder.codec());
        with_own_voice(&mut choice, own_voice);
        let current = self.recorder.choice();
        // A track that ended keeps its place until another comes: the file holds the last
        // picture meanwhile.
        if choice.video.is_none() {
            choice.video = current.video.clone();
        }
        if choice.audio.is_empty() {
            choice.audio = current.audio.clone();
        }
        // What it started without it stays without.
        if self.recorder.codec().is_none() {
            choice.video = None;
        }
        if !self.recorder.has_sound() {
            choice.audio.clear();
        }
        if choice != current {
            let _ = self.recorder.set_choice(choice);
        }
    }

    /// How it is doing, for the class view.
    pub fn view(&self) -> RecordingView {
        let status = self.recorder.status();
        RecordingView {
            participant_id: self.participant.clone(),
            seconds: self.started.elapsed().as_secs_f64(),
            recorded_seconds: status.duration.as_secs_f64(),
            failed: status.failed,
        }
    }
}

/// A recording under way, as the class view shows it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RecordingView {
    /// Whom it follows.
    pub participant_id: String,
    /// Since the button was pressed.
    pub seconds: f64,
    /// Of picture and sound written so far (starts at the first keyframe).
    pub recorded_seconds: f64,
    /// Why it stopped writing, if it did (a full disk).
    pub failed: Option<String>,
}

/// A finished recording, kept in the library.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SavedRecording {
    /// Its lesson in the "Recordings" course.
    pub lesson_id: String,
    /// Its title.
    pub title: String,
    /// Its length.
    pub seconds: f64,
    /// Its size.
    #[ts(type = "number")]
    pub bytes: u64,
    /// Why it stopped writing before it was stopped (a full disk): it holds what came before.
    pub stopped_early: Option<String>,
}

/// A recording finished but not yet in the library.
pub struct Finished {
    /// The file and what it holds.
    pub summary: RecordingSummary,
    /// Its lesson's title.
    pub title: String,
    /// When it started (ms since the epoch).
    pub started_ms: i64,
}

impl Recording {
    /// Ends the file (off the async threads: the muxer writes out what it holds).
    pub async fn finish(self) -> Result<Finished, AppError> {
        let recorder = self.recorder.clone();
        let summary = tokio::task::spawn_blocking(move || recorder.finish())
            .await
            .map_err(|e| AppError::Internal(format!("finishing the recording: {e}")))?
            .map_err(|e| {
                // Nothing was received (the file is gone): nothing to adopt at the next start.
                // A file that failed part way (a full disk) keeps its note and is kept then.
                if !self.path.exists() {
                    let _ = std::fs::remove_file(self.path.with_extension("json"));
                }
                AppError::Media(e.to_string())
            })?;
        Ok(Finished {
            summary,
            title: self.title,
            started_ms: self.started_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use classroom_protocol::TrackInfo;

    fn track(id: &str, who: &str, source: Source, codec: Option<VideoCodec>) -> TrackStats {
        TrackStats {
            frames: 1,
            codec,
            ..TrackStats::new(TrackInfo {
                track_id: id.into(),
                participant_id: who.into(),
                source,
                kind: if source == Source::Microphone {
                    MediaKind::Audio
                } else {
                    MediaKind::Video
                },
            })
        }
    }

    #[test]
    fn the_screen_while_shared_else_the_camera_and_every_voice() {
        let vp8 = Some(VideoCodec::Vp8);
        let mut tracks = vec![
            track("other-mic", "student", Source::Microphone, None),
            track("cam", "teacher", Source::Camera, vp8),
            track("mic", "teacher", Source::Microphone, None),
            track("other-cam", "student", Source::Camera, vp8),
        ];
        let (choice, codec) = choose(&tracks, "teacher", None);
        assert_eq!((choice.video.as_deref(), codec), (Some("cam"), vp8));
        // The teacher's voice first, then the student's on stage: both mixed.
        assert_eq!(choice.audio, ["mic", "other-mic"]);
        // This computer's own voice joins them while it is on stage (it is not received).
        let mut with_own = choice.clone();
        with_own_voice(&mut with_own, true);
        assert_eq!(with_own.audio, ["mic", "other-mic", LOCAL_MICROPHONE]);
        let mut without = choice.clone();
        with_own_voice(&mut without, false);
        assert_eq!(without, choice);
        tracks.push(track("screen", "teacher", Source::Screen, vp8));
        assert_eq!(
            choose(&tracks, "teacher", vp8).0.video.as_deref(),
            Some("screen")
        );
        // A screen in another codec than the file's is not followed.
        tracks.pop();
        tracks.push(track(
            "screen",
            "teacher",
            Source::Screen,
            Some(VideoCodec::H264),
        ));
        assert_eq!(
            choose(&tracks, "teacher", vp8).0.video.as_deref(),
            Some("cam")
        );
        // A video track whose branch is not built yet (no codec) is not chosen; others'
        // voices alone are not a recording of the teacher.
        let early = [
            track("cam", "teacher", Source::Camera, None),
            track("other-mic", "student", Source::Microphone, None),
        ];
        assert_eq!(choose(&early, "teacher", None).0, RecordChoice::default());
        // The teacher's voice without a picture is (sound only).
        let voices = [
            track("other-mic", "student", Source::Microphone, None),
            track("mic", "teacher", Source::Microphone, None),
        ];
        let (sound, codec) = choose(&voices, "teacher", None);
        assert_eq!(
            (sound.video, sound.audio, codec),
            (None, vec!["mic".to_owned(), "other-mic".to_owned()], None)
        );
        // Nobody's tracks: nothing.
        assert_eq!(choose(&tracks, "nobody", None).0, RecordChoice::default());
    }

    #[test]
    fn a_recording_request_is_checked() {
        assert_eq!(
            check_request("p1", "  Maths, 5 Dec  ").ok().as_deref(),
            Some("Maths, 5 Dec")
        );
        assert!(check_request("", "Maths").is_err());
        assert!(check_request(&"p".repeat(129), "Maths").is_err());
        assert!(check_request("p1", "   ").is_err());
        assert!(check_request("p1", "a\u{0}b").is_err());
        assert!(check_request("p1", &"字".repeat(MAX_TITLE_CHARS)).is_ok());
        assert!(check_request("p1", &"字".repeat(MAX_TITLE_CHARS + 1)).is_err());
    }
}
