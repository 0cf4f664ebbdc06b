//! What the class view's event list and notices say, as data: the UI words each note in the
//! person's language (`ui/src/lib/notes.ts`). Details that come from elsewhere (a server's
//! reason, GStreamer's error) travel as they are and are shown after the translated sentence.

use classroom_client::{EndCause, SessionEvent};
use classroom_protocol::{ByeCause, ErrorCode, Source};
use serde::Serialize;
use ts_rs::TS;

use crate::AppError;

/// One entry of the class's event list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[non_exhaustive]
pub enum ClassNote {
    /// The server accepted us.
    Joined {
        /// Our id in the class.
        participant_id: String,
    },
    /// The connection was lost; the app is joining again by itself.
    Reconnecting {
        /// 1 for the first attempt.
        attempt: u32,
        /// Why it was lost.
        detail: String,
    },
    /// Back in the class after a lost connection.
    Reconnected,
    /// The teacher's class is for the school network but no network is connected: only this
    /// computer can join until one is.
    NoSchoolNetwork,
    /// Students nearby will not see the class in their list (announcing it failed); the
    /// invite still works.
    NotAnnounced {
        /// Why announcing failed.
        detail: String,
    },
    /// A track started arriving.
    TrackStarted {
        /// Its source.
        source: Source,
        /// The server's id for it.
        track_id: String,
    },
    /// A track ended.
    TrackEnded {
        /// The server's id for it.
        track_id: String,
    },
    /// The server refused something.
    Refused {
        /// Why, machine-readable.
        code: ErrorCode,
        /// The server's words.
        detail: String,
    },
    /// A media pipeline failed.
    MediaProblem {
        /// GStreamer's words.
        detail: String,
    },
    /// One of our devices failed; a stand-in is sent.
    TrackFailed {
        /// Which of our tracks.
        source: Source,
        /// Why.
        detail: String,
    },
    /// A failed device is back.
    TrackRecovered {
        /// Which of our tracks.
        source: Source,
    },
    /// The session ended.
    SessionEnded {
        /// Why.
        end: SessionEnd,
    },
    /// No camera: a test picture is sent.
    NoCamera,
    /// No microphone: a test tone is sent.
    NoMicrophone,
    /// No speaker: class audio is not played.
    NoSpeaker,
    /// No display to share: a test picture is sent as the screen.
    NoDisplay,
    /// Sharing a Wayland desktop is not supported on this system: a test picture is sent.
    WaylandUnsupported,
    /// The screen could not be opened when the class started: a test picture is sent until
    /// it is shared again.
    ScreenStandIn {
        /// What went wrong (kind `cancelled` when the person cancelled the dialog).
        error: AppError,
    },
    /// Sharing the screen again failed or was cancelled; the screen track keeps what it sent.
    ShareFailed {
        /// What went wrong (kind `cancelled` when the person cancelled the dialog).
        error: AppError,
    },
    /// Anything else the session reported.
    Other {
        /// As the session put it.
        detail: String,
    },
}

/// How a session ended, for the page to say in the person's language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionEnd {
    /// Which sentence.
    pub why: EndedWhy,
    /// The server's or the connection's words, in English: shown after the sentence when
    /// `why` has none of its own (`other`, `refused`, `lost`).
    pub reason: String,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum EndedWhy {
    /// This app left.
    Left,
    /// The teacher ended the class (the one their app hosted).
    ClassEnded,
    /// The class's server stopped.
    ServerStopped,
    /// The same person joined again elsewhere (another window or computer), which took over.
    Replaced,
    /// The teacher removed this person from the class.
    Removed,
    /// The teacher did not let this person in from the lobby.
    Denied,
    /// This person's access to the class expired.
    Expired,
    /// The class refused this person for another reason (`reason` says which).
    Refused,
    /// The connection was lost and joining again did not work in time.
    Lost,
    /// Anything else (`reason` says what).
    Other,
}

impl SessionEnd {
    /// The end of a session as the client reported it.
    pub fn of(reason: &str, cause: EndCause) -> Self {
        let why = match cause {
            EndCause::Left => EndedWhy::Left,
            EndCause::Lost | EndCause::Server(Some(ByeCause::Lost)) => EndedWhy::Lost,
            EndCause::Server(Some(ByeCause::ClassEnded)) => EndedWhy::ClassEnded,
            EndCause::Server(Some(ByeCause::ServerStopped)) => EndedWhy::ServerStopped,
            EndCause::Server(Some(ByeCause::Replaced)) => EndedWhy::Replaced,
            EndCause::Server(Some(ByeCause::Refused)) => EndedWhy::Refused,
            EndCause::Refused(ErrorCode::Removed) => EndedWhy::Removed,
            EndCause::Refused(ErrorCode::Denied) => EndedWhy::Denied,
            EndCause::Refused(ErrorCode::Expired) => EndedWhy::Expired,
            EndCause::Refused(_) => EndedWhy::Refused,
            // A companion's staff member left (no person sees it), a cause this app does not
            // know, or a server that names none.
            _ => EndedWhy::Other,
        };
        Self {
            why,
            reason: reason.to_owned(),
        }
    }
}

impl ClassNote {
    /// The note for a session event; `None` for events that are shown elsewhere (the active
    /// speaker) or said by another note (a refusal that ends the session).
    pub fn from_event(event: &SessionEvent) -> Option<Self> {
        Some(match event {
            SessionEvent::Joined { participant_id, .. } => Self::Joined {
                participant_id: participant_id.clone(),
            },
            SessionEvent::TrackPublished(t) => Self::TrackStarted {
                source: t.source,
                track_id: t.track_id.clone(),
            },
            SessionEvent::TrackUnpublished(id) => Self::TrackEnded {
                track_id: id.clone(),
            },
            // The refusals that end the session are said by its end, in the person's words
            // ("The teacher removed you from the class."), not twice, once in the server's.
            SessionEvent::ServerError {
                code: ErrorCode::Removed | ErrorCode::Denied | ErrorCode::Expired,
                ..
            } => return None,
            SessionEvent::ServerError { code, message } => Self::Refused {
                code: *code,
                detail: message.clone(),
            },
            SessionEvent::MediaFailed(m) => Self::MediaProblem { detail: m.clone() },
            SessionEvent::TrackFailed { source, message } => Self::TrackFailed {
                source: *source,
                detail: message.clone(),
            },
            SessionEvent::TrackRecovered(source) => Self::TrackRecovered { source: *source },
            SessionEvent::Closed { reason, cause } => Self::SessionEnded {
                end: SessionEnd::of(reason, *cause),
            },
            SessionEvent::Reconnecting { attempt, reason } => Self::Reconnecting {
                attempt: *attempt,
                detail: reason.clone(),
            },
            SessionEvent::Reconnected { .. } => Self::Reconnected,
            // Shown in the class's panels, not the event list.
            SessionEvent::ActiveSpeaker { .. } | SessionEvent::Class(_) => return None,
            other => Self::Other {
                detail: format!("{other:?}"),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_serialize_as_a_kind_with_named_values() {
        let note = ClassNote::from_event(&SessionEvent::TrackFailed {
            source: Source::Camera,
            message: "unplugged".into(),
        })
        .expect("a note");
        assert_eq!(
            serde_json::to_value(&note).expect("json"),
            serde_json::json!({"kind": "trackFailed", "source": "camera", "detail": "unplugged"})
        );
        assert_eq!(
            serde_json::to_value(ClassNote::NoCamera).expect("json"),
            serde_json::json!({"kind": "noCamera"})
        );
        let share = ClassNote::ShareFailed {
            error: AppError::Cancelled("closed the dialog".into()),
        };
        assert_eq!(
            serde_json::to_value(&share).expect("json"),
            serde_json::json!({
                "kind": "shareFailed",
                "error": {"kind": "cancelled", "message": "closed the dialog"}
            })
        );
        assert_eq!(
            ClassNote::from_event(&SessionEvent::ActiveSpeaker {
                participant_id: None,
                level_dbov: -30
            }),
            None
        );
    }

    #[test]
    fn a_sessions_end_names_the_sentence_the_page_says() {
        let end = |cause| SessionEnd::of("words", cause).why;
        assert_eq!(end(EndCause::Left), EndedWhy::Left);
        assert_eq!(
            end(EndCause::Server(Some(ByeCause::ClassEnded))),
            EndedWhy::ClassEnded
        );
        assert_eq!(
            end(EndCause::Server(Some(ByeCause::ServerStopped))),
            EndedWhy::ServerStopped
        );
        assert_eq!(
            end(EndCause::Server(Some(ByeCause::Replaced))),
            EndedWhy::Replaced
        );
        assert_eq!(
            end(EndCause::Refused(ErrorCode::Removed)),
            EndedWhy::Removed
        );
        assert_eq!(end(EndCause::Refused(ErrorCode::Denied)), EndedWhy::Denied);
        assert_eq!(
            end(EndCause::Refused(ErrorCode::Expired)),
            EndedWhy::Expired
        );
        assert_eq!(end(EndCause::Refused(ErrorCode::Locked)), EndedWhy::Refused);
        assert_eq!(end(EndCause::Lost), EndedWhy::Lost);
        assert_eq!(end(EndCause::Server(Some(ByeCause::Lost))), EndedWhy::Lost);
        // An older server (no cause), or a newer one's cause: the server's words.
        assert_eq!(end(EndCause::Server(None)), EndedWhy::Other);
        assert_eq!(
            end(EndCause::Server(Some(ByeCause::Other))),
            EndedWhy::Other
        );
        // Removed: said once, by the session's end.
        assert_eq!(
            ClassNote::from_event(&SessionEvent::ServerError {
                code: ErrorCode::Removed,
                message: "you were removed from the class".into(),
            }),
            None
        );
        assert!(
            ClassNote::from_event(&SessionEvent::ServerError {
                code: ErrorCode::RateLimited,
                message: "slow down".into(),
            })
            .is_some()
        );
        let note = ClassNote::from_event(&SessionEvent::Closed {
            reason: "the teacher ended the class".into(),
            cause: EndCause::Server(Some(ByeCause::ClassEnded)),
        })
        .expect("a note");
        assert_eq!(
            serde_json::to_value(&note).expect("json"),
            serde_json::json!({
                "kind": "sessionEnded",
                "end": {"why": "classEnded", "reason": "the teacher ended the class"}
            })
        );
    }
}
