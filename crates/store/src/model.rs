//! What the store holds, as the app uses it.

use serde::{Deserialize, Serialize};

pub use classroom_protocol::lessons::MaterialKind;

use crate::files::ContentHash;

/// A course: the lessons of one class, from one server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Course {
    /// The server's id for it.
    pub id: String,
    /// Its name.
    pub title: String,
    /// Who teaches it.
    pub teacher: String,
    /// The server it came from.
    pub origin: String,
}

/// A lesson as the catalog gives it (the store keeps what the student did with it apart).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lesson {
    /// The server's id for it.
    pub id: String,
    /// Its course.
    pub course_id: String,
    /// Its title.
    pub title: String,
    /// The teacher's notes.
    pub notes: String,
    /// Its place in the course.
    pub position: i64,
    /// When the server last changed it (ms since the epoch).
    pub updated_ms: i64,
}

/// A file of a lesson.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Material {
    /// The server's id for it.
    pub id: String,
    /// Its lesson.
    pub lesson_id: String,
    /// What it is.
    pub kind: MaterialKind,
    /// Its title.
    pub title: String,
    /// The content it must have.
    pub hash: ContentHash,
    /// Its size in bytes.
    pub size: u64,
    /// Its media type.
    pub mime: String,
    /// Its place in the lesson.
    pub position: i64,
}

/// A material and whether it is on this computer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MaterialState {
    /// The material.
    #[serde(flatten)]
    pub material: Material,
    /// Complete and checked on this computer.
    pub offline: bool,
}

/// A lesson in the library list: what is offline of it and how big it is (its notes are
/// left out: [`crate::Store::lesson`] has them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LessonSummary {
    /// The lesson's id.
    pub id: String,
    /// Its course.
    pub course_id: String,
    /// Its title.
    pub title: String,
    /// Its place in the course.
    pub position: i64,
    /// When the server last changed it (ms since the epoch).
    pub updated_ms: i64,
    /// The student keeps it whatever the quota.
    pub pinned: bool,
    /// When the student last opened it (ms since the epoch, 0 for never).
    pub last_used_ms: i64,
    /// Its materials.
    pub materials: u32,
    /// Its materials on this computer.
    pub materials_offline: u32,
    /// All its materials' bytes.
    pub bytes: u64,
    /// The bytes of those on this computer.
    pub bytes_offline: u64,
}

impl LessonSummary {
    /// Every material is on this computer (and there is at least one).
    pub fn offline(&self) -> bool {
        self.materials > 0 && self.materials_offline == self.materials
    }
}

/// A lesson found by a search, best first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchHit {
    /// The lesson's id.
    pub lesson_id: String,
    /// Its course.
    pub course_id: String,
    /// Its title.
    pub title: String,
    /// Where the words were found, matches between `[` and `]`.
    pub snippet: String,
}

/// Homework set in a course.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    /// The server's id for it.
    pub id: String,
    /// Its course.
    pub course_id: String,
    /// The lesson it belongs to, if any.
    pub lesson_id: Option<String>,
    /// Its title.
    pub title: String,
    /// What to do.
    pub instructions: String,
    /// When it is due (ms since the epoch).
    pub due_ms: Option<i64>,
}

/// Where a hand-in is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SubmissionState {
    /// Saved here, waiting for the network.
    Queued,
    /// The server has it.
    Sent,
    /// The teacher marked it and sent it back.
    Returned,
}

impl SubmissionState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SubmissionState::Queued => "queued",
            SubmissionState::Sent => "sent",
            SubmissionState::Returned => "returned",
        }
    }

    pub(crate) fn parse(text: &str) -> Self {
        match text {
            "sent" => SubmissionState::Sent,
            "returned" => SubmissionState::Returned,
            _ => SubmissionState::Queued,
        }
    }
}

/// This student's hand-in of an assignment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Submission {
    /// Its id (made here, also the idempotency key of its sending).
    pub id: String,
    /// The assignment.
    pub assignment_id: String,
    /// The handed-in file.
    pub hash: ContentHash,
    /// The file's name as the student chose it.
    pub file_name: String,
    /// Its size.
    pub size: u64,
    /// When it was handed in (ms since the epoch).
    pub submitted_ms: i64,
    /// Where it is.
    pub state: SubmissionState,
    /// The teacher's mark, once returned.
    pub mark: Option<String>,
    /// The teacher's words, once returned.
    pub feedback: Option<String>,
    /// The teacher's marked-up copy, once returned.
    pub returned_hash: Option<ContentHash>,
}

/// Something done offline, waiting to be sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxItem {
    /// The idempotency key the server honours.
    pub key: String,
    /// What it is (`submission`, `annotation`, `quizAnswer`, ...).
    pub kind: String,
    /// Its content, JSON.
    pub payload: String,
    /// When it was done (ms since the epoch).
    pub created_ms: i64,
    /// Sends tried so far.
    pub attempts: u32,
    /// The last failure, if any.
    pub last_error: Option<String>,
}

/// How much room the library takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Bytes of every file on this computer.
    pub bytes: u64,
    /// Bytes that eviction may not take (pinned lessons and the student's own work).
    pub kept_bytes: u64,
    /// The limit set, if any.
    pub quota: Option<u64>,
}

/// What opening the store found and put right after a crash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recovery {
    /// Temporary files removed.
    pub temporary_removed: usize,
    /// Complete files found in place but not recorded (the crash came between), checked and
    /// recorded.
    pub adopted: usize,
    /// Files in place that did not match their names, removed.
    pub damaged_removed: usize,
    /// Records whose file was gone, dropped.
    pub missing_dropped: usize,
    /// Downloads of files already present, removed.
    pub stale_partials_removed: usize,
}

/// Homework a class server received from a student (the server's record, keyed by the
/// student's idempotency key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceivedSubmission {
    /// The student's idempotency key (their outbox item's key).
    pub key: String,
    /// The class.
    pub course_id: String,
    /// The assignment.
    pub assignment_id: String,
    /// Who handed it in.
    pub student: String,
    /// The file's name as the student had it.
    pub file_name: String,
    /// Its content.
    pub hash: ContentHash,
    /// Bytes.
    pub size: u64,
    /// When it first arrived (ms since the epoch).
    pub received_ms: i64,
    /// The teacher's marking, once returned.
    pub returned: Option<Marking>,
    /// The student's name in the class when it arrived, if the class knew them.
    pub student_name: Option<String>,
}

/// A teacher's marking of a hand-in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Marking {
    /// The marked copy (the page with the teacher's ink).
    pub hash: ContentHash,
    /// Its size in bytes.
    pub size: u64,
    /// The mark ("8/10", "A-"), possibly empty.
    pub mark: String,
    /// The teacher's words, possibly empty.
    pub feedback: String,
    /// When it was returned (ms since the epoch).
    pub returned_ms: i64,
}
