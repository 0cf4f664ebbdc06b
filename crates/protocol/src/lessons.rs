//! The lesson service's wire types: HTTP with JSON bodies on the class server's signaling
//! port, authorised by the same join tokens (`Authorization: Bearer <token>`).
//!
//! - `GET /lessons/{room}`: the room's [`LessonCatalog`] (anyone in the class).
//! - `PUT /lessons/{room}/{lesson}` with a [`LessonUpdate`]: adds or changes a lesson
//!   (teacher or assistant); answers the [`CatalogLesson`].
//! - `PUT /lessons/{room}/{lesson}/{material}?kind=pdf&title=...` with the file as the body
//!   and its media type as `Content-Type`: adds or replaces a material (teacher or assistant);
//!   answers the [`CatalogMaterial`].
//! - `GET` or `HEAD /files/{room}/{sha256}`: a material's file, with `Accept-Ranges: bytes`,
//!   the strong `ETag` `"<sha256>"`, `Range` (one range: 206; unsatisfiable: 416), `If-Range`
//!   and `If-None-Match`.
//!
//! - `PUT /homework/{room}/{assignment}/{key}?name=essay.pdf` with the file as the body: a
//!   student hands in homework (any participant's personal token; `student` is the token's
//!   identity). `key` is the student's idempotency key: the first time answers 201 with the
//!   [`HandIn`], the same key with the same file again answers 200 with the same record and
//!   changes nothing (an answer lost on the way), the same key with anything else is 409.
//! - `GET /homework/{room}`: the class's hand-ins as [`HandIns`]: every one for the teacher
//!   or an assistant, a student's own (with the teacher's [`Marking`] once returned) for a
//!   student.
//! - `PUT /assignments/{room}/{assignment}` with an [`AssignmentUpdate`]: sets homework
//!   (teacher or assistant); answers the [`CatalogAssignment`]. The catalog lists them.
//! - `PUT /returns/{room}/{key}?mark=8%2F10&feedback=...` with the marked copy (a PNG) as the
//!   body: the teacher returns the hand-in received with `key`, marked (teacher or
//!   assistant); answers the [`HandIn`] with its marking. The marked copy is served under
//!   `/files` to that student and the staff only, like the hand-in itself.
//!
//! Ids in paths (room, lesson, material, assignment, key) are 1 to 64 of
//! `A-Z a-z 0-9 - _ .`.

use serde::{Deserialize, Serialize};

/// A room's lessons, in order, with their materials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct LessonCatalog {
    /// The room (the course) they belong to.
    pub room: String,
    /// The lessons, by position.
    pub lessons: Vec<CatalogLesson>,
    /// The homework set, those without a due date first, then by due date.
    #[serde(default)]
    pub assignments: Vec<CatalogAssignment>,
}

/// Homework set in a class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct CatalogAssignment {
    /// Its id (the students' hand-ins name it).
    pub id: String,
    /// Its title.
    pub title: String,
    /// What to do.
    #[serde(default)]
    pub instructions: String,
    /// When it is due (ms since the epoch), if ever.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub due_ms: Option<i64>,
}

/// Homework as a teacher sets or changes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct AssignmentUpdate {
    /// Its title (1 to 200 characters).
    pub title: String,
    /// What to do (up to 20,000 characters).
    #[serde(default)]
    pub instructions: String,
    /// When it is due (ms since the epoch), if ever.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub due_ms: Option<i64>,
}

/// One lesson of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct CatalogLesson {
    /// Its id (stable: the client's library keys on it).
    pub id: String,
    /// Its title.
    pub title: String,
    /// The teacher's notes.
    #[serde(default)]
    pub notes: String,
    /// Its place in the course.
    #[serde(default)]
    pub position: i64,
    /// When it last changed on the server (ms since the epoch).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub updated_ms: i64,
    /// Its files.
    #[serde(default)]
    pub materials: Vec<CatalogMaterial>,
}

/// One file of a lesson.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct CatalogMaterial {
    /// Its id within the lesson.
    pub id: String,
    /// What it is.
    pub kind: MaterialKind,
    /// Its title.
    pub title: String,
    /// The SHA-256 of its content, 64 lowercase hex digits: its address under `/files` and
    /// its `ETag`; a client checks the bytes against it before using them.
    pub sha256: String,
    /// Its size in bytes.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub size: u64,
    /// Its media type.
    pub mime: String,
    /// Its place in the lesson.
    #[serde(default)]
    pub position: i64,
}

/// What a material is, for choosing how to show it. A kind this version does not know (a
/// newer server's) reads as [`MaterialKind::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum MaterialKind {
    /// A PDF document.
    Pdf,
    /// A slide deck.
    Slides,
    /// A picture.
    Image,
    /// A recorded video.
    Video,
    /// Anything else.
    Other,
}

impl<'de> Deserialize<'de> for MaterialKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(MaterialKind::parse(&name))
    }
}

impl MaterialKind {
    /// The name used on the wire and in `?kind=`.
    pub fn as_str(self) -> &'static str {
        match self {
            MaterialKind::Pdf => "pdf",
            MaterialKind::Slides => "slides",
            MaterialKind::Image => "image",
            MaterialKind::Video => "video",
            MaterialKind::Other => "other",
        }
    }

    /// From its name; anything unknown is [`MaterialKind::Other`].
    pub fn parse(name: &str) -> Self {
        match name {
            "pdf" => MaterialKind::Pdf,
            "slides" => MaterialKind::Slides,
            "image" => MaterialKind::Image,
            "video" => MaterialKind::Video,
            _ => MaterialKind::Other,
        }
    }
}

/// A lesson as a teacher adds or changes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct LessonUpdate {
    /// Its title (1 to 200 characters).
    pub title: String,
    /// The teacher's notes (up to 20,000 characters).
    #[serde(default)]
    pub notes: String,
    /// Its place in the course.
    #[serde(default)]
    pub position: i64,
}

/// Homework a class server received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct HandIn {
    /// The student's idempotency key.
    pub key: String,
    /// The assignment.
    pub assignment_id: String,
    /// Who handed it in (their token's identity).
    pub student: String,
    /// Their name in the class when it arrived (the roster's, or the one they joined with),
    /// if the class knew them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub student_name: Option<String>,
    /// The file's name as the student had it.
    pub file_name: String,
    /// The SHA-256 of the file (its address under `/files`).
    pub sha256: String,
    /// Its size in bytes.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub size: u64,
    /// When it first arrived (ms since the epoch).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub received_ms: i64,
    /// The teacher's marking, once returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub returned: Option<Marking>,
}

/// A teacher's marking of a hand-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Marking {
    /// The SHA-256 of the marked copy (its address under `/files`).
    pub sha256: String,
    /// Its size in bytes.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub size: u64,
    /// The mark ("8/10", "A-"), possibly empty.
    pub mark: String,
    /// The teacher's words, possibly empty.
    pub feedback: String,
    /// When it was returned (ms since the epoch).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub returned_ms: i64,
}

/// Longest mark accepted, in characters.
pub const MAX_MARK_CHARS: usize = 40;
/// Longest feedback accepted, in characters.
pub const MAX_FEEDBACK_CHARS: usize = 4_000;

/// A class's hand-ins, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct HandIns {
    /// The class.
    pub room: String,
    /// What it received.
    pub hand_ins: Vec<HandIn>,
}

/// Longest lesson title accepted, in characters.
pub const MAX_LESSON_TITLE_CHARS: usize = 200;
/// Longest lesson notes accepted, in characters.
pub const MAX_LESSON_NOTES_CHARS: usize = 20_000;

/// True for an id the lesson service takes in a path (room, lesson, material).
pub fn is_lesson_path_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && id != "."
        && id != ".."
}

/// The path of a room's catalog.
pub fn catalog_path(room: &str) -> String {
    format!("/lessons/{room}")
}

/// The path of a file by its content hash.
pub fn file_path(room: &str, sha256: &str) -> String {
    format!("/files/{room}/{sha256}")
}

/// The path homework is set at.
pub fn assignment_path(room: &str, assignment: &str) -> String {
    format!("/assignments/{room}/{assignment}")
}

/// The path a marked hand-in is returned to.
pub fn return_path(room: &str, key: &str) -> String {
    format!("/returns/{room}/{key}")
}

/// The path a class's hand-ins are listed at.
pub fn hand_ins_path(room: &str) -> String {
    format!("/homework/{room}")
}

/// The path a hand-in is sent to.
pub fn homework_path(room: &str, assignment: &str, key: &str) -> String {
    format!("/homework/{room}/{assignment}/{key}")
}
