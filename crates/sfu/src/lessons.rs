//! The lesson service on the signaling port: a class's lesson catalog and its files over
//! HTTP, authorised by the class's own join tokens (see `classroom_protocol::lessons` for the
//! paths). The catalog and files live in a [`classroom_store`] library in the server's
//! lessons folder; the course is the room.
//!
//! Files are served as a download manager wants them: `Accept-Ranges: bytes`, the strong
//! `ETag` `"<sha256>"` (the content hash: it never changes for these bytes), one `Range`
//! answered with 206 and `Content-Range`, an unsatisfiable one with 416, `If-Range` (a range
//! only while the tag still matches), `If-None-Match` (304), and `HEAD`. Bodies are streamed
//! from the file, never held in memory.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use classroom_protocol::Role;
use classroom_protocol::lessons::{
    CatalogLesson, CatalogMaterial, LessonCatalog, LessonUpdate, MAX_LESSON_NOTES_CHARS,
    MAX_LESSON_TITLE_CHARS, MaterialKind, is_lesson_path_id,
};
use classroom_store::{
    ContentHash, Course, CourseFile, Lesson, Material, StoreError, StoreHandle, StoreOptions,
};
use futures_util::TryStreamExt;
use http_body_util::{BodyExt, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio_util::io::ReaderStream;
use tracing::{debug, warn};

mod homework;

use crate::access::{AccessKey, Claims};
use crate::metrics::Timeout;
use crate::web::{Body, Front, bearer, error_response, respond};

/// Largest material accepted by default (a recorded lesson fits).
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// Largest lesson JSON accepted (20,000 characters of notes in any script, and the title).
const MAX_LESSON_JSON_BYTES: usize = 128 * 1024;

/// Bytes read from a file per body frame.
const FILE_CHUNK: usize = 256 * 1024;

/// The lesson service: the library and the key that checks tokens.
pub(crate) struct LessonService {
    store: StoreHandle,
    access: AccessKey,
    max_upload_bytes: u64,
}

impl std::fmt::Debug for LessonService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LessonService")
            .field("dir", &self.store.dir())
            .finish_non_exhaustive()
    }
}

impl LessonService {
    /// Opens (making) the library in `dir`.
    pub(crate) fn open(
        dir: &Path,
        access: AccessKey,
        max_upload_bytes: u64,
    ) -> Result<Arc<Self>, StoreError> {
        let store = StoreHandle::open(dir.to_path_buf(), StoreOptions::default())?;
        Ok(Arc::new(Self {
            store,
            access,
            max_upload_bytes,
        }))
    }
}

/// A refusal: status and words for the user.
type Refusal = (StatusCode, String);

fn refusal(status: StatusCode, message: impl Into<String>) -> Refusal {
    (status, message.into())
}

/// Answers a request under `/lessons` or `/files` (the caller routes only those here).
pub(crate) async fn route(
    front: &Front,
    service: &LessonService,
    req: Request<Incoming>,
    parts: &[&str],
) -> Response<Body> {
    let method = req.method().clone();
    let outcome = match (&method, parts) {
        (&Method::GET, ["lessons", room]) => catalog(service, &req, room).await,
        (&Method::PUT, ["lessons", room, lesson]) => {
            let (room, lesson) = ((*room).to_owned(), (*lesson).to_owned());
            put_lesson(front, service, req, &room, &lesson).await
        }
        (&Method::PUT, ["lessons", room, lesson, material]) => {
            let ids = (
                (*room).to_owned(),
                (*lesson).to_owned(),
                (*material).to_owned(),
            );
            upload(front, service, req, ids).await
        }
        (&Method::GET | &Method::HEAD, ["files", room, sha256]) => {
            serve_file(front, service, &req, room, sha256).await
        }
        (&Method::PUT, ["homework", room, assignment, key]) => {
            let ids = (
                (*room).to_owned(),
                (*assignment).to_owned(),
                (*key).to_owned(),
            );
            homework::hand_in(front, service, req, ids).await
        }
        (&Method::GET, ["homework", room]) => homework::hand_ins(service, &req, room).await,
        (&Method::PUT, ["assignments", room, assignment]) => {
            let ids = ((*room).to_owned(), (*assignment).to_owned());
            homework::put_assignment(front, service, req, ids).await
        }
        (&Method::PUT, ["returns", room, key]) => {
            let ids = ((*room).to_owned(), (*key).to_owned());
            homework::return_marked(front, service, req, ids).await
        }
        _ => Err(refusal(
            StatusCode::METHOD_NOT_ALLOWED,
            "the lesson service takes GET and PUT under /lessons and /homework, PUT under \
             /assignments and /returns, GET and HEAD under /files",
        )),
    };
    match outcome {
        Ok(response) => {
            front.metrics.lesson_request();
            response
        }
        Err((status, message)) => {
            front.metrics.lesson_error();
            debug!(%status, "lesson service: {message}");
            error_response(status, &message)
        }
    }
}

/// Checks the bearer token: a personal token for this room (staff to write).
fn authorize(
    service: &LessonService,
    headers: &HeaderMap,
    room: &str,
    write: bool,
) -> Result<Claims, Refusal> {
    if !is_lesson_path_id(room) {
        return Err(refusal(StatusCode::NOT_FOUND, "no such class"));
    }
    let token = bearer(headers).ok_or_else(|| {
        refusal(
            StatusCode::UNAUTHORIZED,
            "the lesson service needs the class's token (Authorization: Bearer)",
        )
    })?;
    let claims = service
        .access
        .verify(&token, crate::unix_secs())
        .map_err(|e| {
            refusal(
                StatusCode::UNAUTHORIZED,
                format!("the token is refused: {e}"),
            )
        })?;
    if claims.room != room {
        return Err(refusal(
            StatusCode::FORBIDDEN,
            "the token is for another class",
        ));
    }
    if claims.invite {
        return Err(refusal(
            StatusCode::FORBIDDEN,
            "an invite does not open the lessons: join the class first",
        ));
    }
    if write && !matches!(claims.role, Role::Teacher | Role::Assistant) {
        return Err(refusal(
            StatusCode::FORBIDDEN,
            "only the teacher or an assistant can change the lessons",
        ));
    }
    Ok(claims)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// What a store error means to the client.
fn store_refusal(e: StoreError) -> Refusal {
    match &e {
        _ if e.is_disk_full() => refusal(
            StatusCode::INSUFFICIENT_STORAGE,
            format!("the class server's disk is full: {e}"),
        ),
        StoreError::NotFound(_) => refusal(StatusCode::NOT_FOUND, e.to_string()),
        StoreError::Invalid(_) => refusal(StatusCode::BAD_REQUEST, e.to_string()),
        _ => {
            warn!("lesson service: {e}");
            refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the class server could not read or write its lessons",
            )
        }
    }
}

/// An I/O failure beside the store (an upload being written, a file being read): a full
/// disk is told as one (507), like the store's own errors.
fn io_refusal(op: &'static str, path: &Path, e: std::io::Error) -> Refusal {
    store_refusal(StoreError::io(op, path, e))
}

fn json_response<T: serde::Serialize>(
    status: StatusCode,
    value: &T,
) -> Result<Response<Body>, Refusal> {
    let body = serde_json::to_vec(value)
        .map_err(|e| refusal(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(respond(status, "application/json", body))
}

fn wire_material(m: Material) -> CatalogMaterial {
    CatalogMaterial {
        id: m.id,
        kind: m.kind,
        title: m.title,
        sha256: m.hash.to_string(),
        size: m.size,
        mime: m.mime,
        position: m.position,
    }
}

fn wire_lesson(lesson: Lesson, materials: Vec<Material>) -> CatalogLesson {
    CatalogLesson {
        id: lesson.id,
        title: lesson.title,
        notes: lesson.notes,
        position: lesson.position,
        updated_ms: lesson.updated_ms,
        materials: materials.into_iter().map(wire_material).collect(),
    }
}

async fn catalog(
    service: &LessonService,
    req: &Request<Incoming>,
    room: &str,
) -> Result<Response<Body>, Refusal> {
    authorize(service, req.headers(), room, false)?;
    let course = room.to_owned();
    let (lessons, assignments) = service
        .store
        .run(move |s| Ok((s.catalog(&course)?, s.assignments(&course)?)))
        .await
        .map_err(store_refusal)?;
    json_response(
        StatusCode::OK,
        &LessonCatalog {
            room: room.to_owned(),
            lessons: lessons
                .into_iter()
                .map(|(l, m)| wire_lesson(l, m))
                .collect(),
            assignments: assignments
                .into_iter()
                .map(homework::wire_assignment)
                .collect(),
        },
    )
}

async fn put_lesson(
    front: &Front,
    service: &LessonService,
    req: Request<Incoming>,
    room: &str,
    lesson_id: &str,
) -> Result<Response<Body>, Refusal> {
    authorize(service, req.headers(), room, true)?;
    if !is_lesson_path_id(lesson_id) {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            "a lesson id is 1 to 64 letters, digits, '-', '_' or '.'",
        ));
    }
    let update: LessonUpdate = read_json(front, req, "the lesson").await?;
    let title = update.title.trim().to_owned();
    if title.is_empty() || title.chars().count() > MAX_LESSON_TITLE_CHARS {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            format!("a lesson's title is 1 to {MAX_LESSON_TITLE_CHARS} characters"),
        ));
    }
    if update.notes.chars().count() > MAX_LESSON_NOTES_CHARS {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            format!("a lesson's notes are at most {MAX_LESSON_NOTES_CHARS} characters"),
        ));
    }
    let lesson = Lesson {
        id: lesson_id.to_owned(),
        course_id: room.to_owned(),
        title,
        notes: update.notes,
        position: update.position,
        updated_ms: now_ms(),
    };
    let room = room.to_owned();
    let (lesson, materials) = service
        .store
        .run(move |s| {
            if let Ok(existing) = s.lesson(&lesson.id)
                && existing.course_id != room
            {
                return Err(StoreError::Invalid(format!(
                    "the lesson id {:?} is taken by another class",
                    lesson.id
                )));
            }
            s.put_course(&course_of(&room))?;
            s.put_lesson(&lesson)?;
            let materials = s
                .materials(&lesson.id)?
                .into_iter()
                .map(|m| m.material)
                .collect();
            Ok((lesson, materials))
        })
        .await
        .map_err(store_refusal)?;
    json_response(StatusCode::OK, &wire_lesson(lesson, materials))
}

/// Reads a small JSON body (at most [`MAX_LESSON_JSON_BYTES`], sent in time).
async fn read_json<T: serde::de::DeserializeOwned>(
    front: &Front,
    req: Request<Incoming>,
    what: &str,
) -> Result<T, Refusal> {
    let limited = Limited::new(req.into_body(), MAX_LESSON_JSON_BYTES);
    let bytes = tokio::time::timeout(front.limits.body_timeout, limited.collect())
        .await
        .map_err(|_| {
            front.metrics.timed_out(Timeout::Body);
            refusal(
                StatusCode::REQUEST_TIMEOUT,
                format!("{what} was not sent in time"),
            )
        })?
        .map_err(|_| {
            refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("{what} is too large"),
            )
        })?
        .to_bytes();
    serde_json::from_slice(&bytes)
        .map_err(|e| refusal(StatusCode::BAD_REQUEST, format!("{what} is not valid: {e}")))
}

/// The room's course record, made on the first lesson or homework set in it.
fn course_of(room: &str) -> Course {
    Course {
        id: room.to_owned(),
        title: room.to_owned(),
        teacher: String::new(),
        origin: String::new(),
    }
}

/// Removes a half-written upload when dropped (a client gone, a refusal, an error).
struct TempUpload(Option<PathBuf>);

impl TempUpload {
    /// Where the upload is.
    fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }
}

/// Receives a request's body into a new temporary file of the store: first `check` on the
/// store's thread (is there a lesson, a hand-in, for it?) and room on the disk for what the
/// client declared; a declared length over `max` is refused before a byte is read; then the
/// body (see [`receive_into`]). The file goes when the guard is dropped (once the store has
/// moved it into its files, there is nothing left to remove).
async fn receive_upload(
    front: &Front,
    service: &LessonService,
    req: Request<Incoming>,
    max: u64,
    what: &'static str,
    check: impl FnOnce(&mut classroom_store::Store) -> Result<(), StoreError> + Send + 'static,
) -> Result<TempUpload, Refusal> {
    let declared = declared_length(req.headers());
    if declared.is_some_and(|n| n > max) {
        return Err(refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{what} is at most {max} bytes"),
        ));
    }
    let need = declared.unwrap_or(0);
    let temp = service
        .store
        .run(move |s| {
            check(s)?;
            s.check_space(need)?;
            Ok(s.temp_path())
        })
        .await
        .map_err(store_refusal)?;
    receive_into(front, req.into_body(), &temp, declared, max, what).await?;
    Ok(TempUpload(Some(temp)))
}

impl Drop for TempUpload {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

async fn upload(
    front: &Front,
    service: &LessonService,
    req: Request<Incoming>,
    (room, lesson_id, material_id): (String, String, String),
) -> Result<Response<Body>, Refusal> {
    authorize(service, req.headers(), &room, true)?;
    if !is_lesson_path_id(&lesson_id) || !is_lesson_path_id(&material_id) {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            "lesson and material ids are 1 to 64 letters, digits, '-', '_' or '.'",
        ));
    }
    let query = req.uri().query().unwrap_or("");
    let mut kind = MaterialKind::Other;
    let mut title = String::new();
    let mut position = 0i64;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "kind" => kind = MaterialKind::parse(&value),
            "title" => title = value.trim().to_owned(),
            "position" => position = value.parse().unwrap_or(0),
            _ => {}
        }
    }
    if title.is_empty() || title.chars().count() > MAX_LESSON_TITLE_CHARS {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            format!("a material's title (?title=) is 1 to {MAX_LESSON_TITLE_CHARS} characters"),
        ));
    }
    let mime = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 100)
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    // The lesson first, and room on the disk, before a byte is received.
    let check_room = room.clone();
    let check_lesson = lesson_id.clone();
    let max = service.max_upload_bytes;
    let upload = receive_upload(front, service, req, max, "a material", move |s| {
        let lesson = s.lesson(&check_lesson)?;
        if lesson.course_id != check_room {
            return Err(StoreError::NotFound(format!("the lesson {check_lesson:?}")));
        }
        Ok(())
    })
    .await?;
    let temp = upload.path().to_path_buf();
    let material = service
        .store
        .run(move |s| {
            let (hash, size) = s.save_temp_file(&temp)?;
            let material = Material {
                id: material_id,
                lesson_id,
                kind,
                title,
                hash,
                size,
                mime,
                position,
            };
            s.put_material(&material)?;
            Ok(material)
        })
        .await
        .map_err(store_refusal)?;
    json_response(StatusCode::CREATED, &wire_material(material))
}

/// The body's length as the client declared it (`Content-Length`), if it did.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Receives a request's body into the new file `temp`: a deadline per piece (a big file on a
/// slow link is fine, a client that stops sending is not), at most `max` bytes, exactly
/// `declared` when the client said. The file is removed on any refusal.
async fn receive_into(
    front: &Front,
    mut body: Incoming,
    temp: &Path,
    declared: Option<u64>,
    max: u64,
    what: &str,
) -> Result<(), Refusal> {
    let mut guard = TempUpload(Some(temp.to_path_buf()));
    let mut file = tokio::fs::File::create(temp)
        .await
        .map_err(|e| io_refusal("create", temp, e))?;
    let mut received = 0u64;
    loop {
        let frame = match tokio::time::timeout(front.limits.body_timeout, body.frame()).await {
            Err(_) => {
                front.metrics.timed_out(Timeout::Body);
                return Err(refusal(StatusCode::REQUEST_TIMEOUT, "the upload stalled"));
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(refusal(
                    StatusCode::BAD_REQUEST,
                    format!("the upload was cut off: {e}"),
                ));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        received += data.len() as u64;
        if received > max {
            return Err(refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("{what} is at most {max} bytes"),
            ));
        }
        file.write_all(&data)
            .await
            .map_err(|e| io_refusal("write", temp, e))?;
    }
    if declared.is_some_and(|n| n != received) {
        return Err(refusal(StatusCode::BAD_REQUEST, "the upload was cut off"));
    }
    file.flush()
        .await
        .map_err(|e| io_refusal("write", temp, e))?;
    guard.0 = None;
    Ok(())
}

/// Which part of a file a GET or HEAD gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// All of it (200).
    Whole,
    /// Bytes `start..=end` (206).
    Part(u64, u64),
    /// The range asked for lies outside the file (416).
    Unsatisfiable,
    /// The client has it already (304).
    NotModified,
}

/// Chooses what to send for the request headers, given the file's strong tag and size.
/// Malformed, several, or too many ranges are ignored (the whole file), as RFC 9110 allows.
pub fn select(headers: &HeaderMap, etag: &str, size: u64) -> Selection {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Some(tags) = text(header::IF_NONE_MATCH) {
        let matches = tags
            .split(',')
            .map(str::trim)
            .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag);
        if matches {
            return Selection::NotModified;
        }
    }
    let Some(range) = text(header::RANGE) else {
        return Selection::Whole;
    };
    // If-Range: the range only while the file is the one the client started with (a strong
    // comparison; a date or a weak tag never matches a content hash).
    if let Some(tag) = text(header::IF_RANGE)
        && tag.trim() != etag
    {
        return Selection::Whole;
    }
    match http_range_header::parse_range_header(range) {
        Err(_) => Selection::Whole,
        Ok(parsed) => match parsed.validate(size) {
            Ok(ranges) if ranges.len() == 1 => {
                Selection::Part(*ranges[0].start(), *ranges[0].end())
            }
            Ok(_) => Selection::Whole,
            Err(http_range_header::RangeUnsatisfiableError::Unsatisfiable) => {
                Selection::Unsatisfiable
            }
            Err(_) => Selection::Whole,
        },
    }
}

async fn serve_file(
    front: &Front,
    service: &LessonService,
    req: &Request<Incoming>,
    room: &str,
    sha256: &str,
) -> Result<Response<Body>, Refusal> {
    let claims = authorize(service, req.headers(), room, false)?;
    let hash =
        ContentHash::parse(sha256).map_err(|_| refusal(StatusCode::NOT_FOUND, "no such file"))?;
    let course = room.to_owned();
    let lookup = hash.clone();
    // A lesson's file for anyone in the class; a hand-in only for the staff and the student
    // who handed it in (other students never get it, even knowing its hash).
    let staff = matches!(claims.role, Role::Teacher | Role::Assistant);
    let student = claims.sub.clone();
    let file = service
        .store
        .run(move |s| match s.course_file(&course, &lookup)? {
            Some(file) => Ok(Some(file)),
            None => s.hand_in_file(&course, &lookup, (!staff).then_some(student.as_str())),
        })
        .await
        .map_err(store_refusal)?
        .ok_or_else(|| refusal(StatusCode::NOT_FOUND, "no such file in this class"))?;
    let (r, sent) = ranged_file(req, &file, &hash)
        .await
        .map_err(|e| io_refusal("read", &file.path, e))?;
    if r.status() == StatusCode::RANGE_NOT_SATISFIABLE {
        front.metrics.lesson_error();
    }
    front.metrics.lesson_bytes_out(sent);
    Ok(r)
}

/// The store's `file` with content `hash` answered to `req` as a download manager or a media
/// element wants it (one `Range`, `If-Range`, `If-None-Match`, `HEAD`; see the module's
/// notes), streamed from disk; and how many bytes of it the body sends.
pub(crate) async fn ranged_file<B>(
    req: &Request<B>,
    file: &CourseFile,
    hash: &ContentHash,
) -> Result<(Response<Body>, u64), std::io::Error> {
    let (path, size, mime) = (&file.path, file.size, file.mime.as_str());
    // The bytes at this address never change: the content hash is a strong tag.
    let etag = &format!("\"{hash}\"");
    let selection = select(req.headers(), etag, size);
    let (status, start, len) = match selection {
        Selection::Whole => (StatusCode::OK, 0, size),
        Selection::Part(start, end) => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        Selection::NotModified => (StatusCode::NOT_MODIFIED, 0, 0),
        Selection::Unsatisfiable => {
            let mut r = error_response(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "the range asked for is outside the file",
            );
            insert(
                r.headers_mut(),
                header::CONTENT_RANGE,
                &format!("bytes */{size}"),
            );
            insert(r.headers_mut(), header::ACCEPT_RANGES, "bytes");
            return Ok((r, 0));
        }
    };
    let head = req.method() == Method::HEAD || selection == Selection::NotModified;
    let (body, sent) = if head {
        (crate::web::empty(), 0)
    } else {
        let mut f = tokio::fs::File::open(path).await?;
        if start > 0 {
            f.seek(SeekFrom::Start(start)).await?;
        }
        let stream = ReaderStream::with_capacity(f.take(len), FILE_CHUNK);
        (
            BodyExt::boxed(StreamBody::new(stream.map_ok(Frame::data))),
            len,
        )
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    insert(h, header::ETAG, etag);
    insert(h, header::ACCEPT_RANGES, "bytes");
    // The bytes at this address never change.
    insert(
        h,
        header::CACHE_CONTROL,
        "private, max-age=31536000, immutable",
    );
    insert(h, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    insert(
        h,
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        "Content-Range, Content-Length, ETag, Accept-Ranges",
    );
    if selection != Selection::NotModified {
        insert(h, header::CONTENT_TYPE, mime);
        insert(h, header::CONTENT_LENGTH, &len.to_string());
    }
    if let Selection::Part(first, last) = selection {
        insert(
            h,
            header::CONTENT_RANGE,
            &format!("bytes {first}-{last}/{size}"),
        );
    }
    Ok((r, sent))
}

fn insert(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                header::HeaderName::from_bytes(k.as_bytes()).expect("a header name"),
                HeaderValue::from_str(v).expect("a header value"),
            );
        }
        h
    }

    const TAG: &str = "\"abc\"";

    #[test]
    fn ranges_if_range_and_if_none_match_choose_what_is_sent() {
        let s = |pairs: &[(&str, &str)]| select(&headers(pairs), TAG, 1000);
        assert_eq!(s(&[]), Selection::Whole);
        assert_eq!(s(&[("range", "bytes=0-99")]), Selection::Part(0, 99));
        assert_eq!(s(&[("range", "bytes=900-")]), Selection::Part(900, 999));
        assert_eq!(s(&[("range", "bytes=-100")]), Selection::Part(900, 999));
        assert_eq!(s(&[("range", "bytes=990-5000")]), Selection::Part(990, 999));
        assert_eq!(s(&[("range", "bytes=1000-")]), Selection::Unsatisfiable);
        assert_eq!(
            s(&[("range", "bytes=0-1,5-9")]),
            Selection::Whole,
            "several ranges"
        );
        assert_eq!(
            s(&[("range", "bytes=abc")]),
            Selection::Whole,
            "malformed: ignored"
        );
        assert_eq!(s(&[("range", "lines=1-2")]), Selection::Whole);
        assert_eq!(
            s(&[("range", "bytes=10-19"), ("if-range", TAG)]),
            Selection::Part(10, 19)
        );
        assert_eq!(
            s(&[("range", "bytes=10-19"), ("if-range", "\"other\"")]),
            Selection::Whole,
            "the file changed: all of it"
        );
        assert_eq!(
            s(&[
                ("range", "bytes=10-19"),
                ("if-range", "Wed, 21 Oct 2015 07:28:00 GMT")
            ]),
            Selection::Whole
        );
        assert_eq!(s(&[("if-none-match", TAG)]), Selection::NotModified);
        assert_eq!(
            s(&[("if-none-match", "\"x\", W/\"abc\"")]),
            Selection::NotModified
        );
        assert_eq!(s(&[("if-none-match", "\"x\"")]), Selection::Whole);
        assert_eq!(
            select(&headers(&[("range", "bytes=0-")]), TAG, 0),
            Selection::Unsatisfiable,
            "an empty file has no first byte"
        );
    }

    proptest::proptest! {
        /// Whatever a client puts in Range and If-Range, the answer is a range inside the
        /// file or no range at all; nothing panics.
        #[test]
        fn any_range_header_selects_inside_the_file(
            range in "(bytes=)?[0-9, -]{0,24}|\\PC{0,30}",
            size in 0u64..5_000,
        ) {
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&range) {
                h.insert(header::RANGE, v);
            }
            match select(&h, TAG, size) {
                Selection::Part(start, end) => proptest::prop_assert!(start <= end && end < size),
                Selection::Whole | Selection::Unsatisfiable => {}
                Selection::NotModified => proptest::prop_assert!(false, "no If-None-Match sent"),
            }
        }
    }
}
