//! Homework on the lesson service: the teacher sets it, students hand it in (once per
//! idempotency key), the teacher returns it marked, and each student lists their own.

use classroom_protocol::Role;
use classroom_protocol::lessons::{
    AssignmentUpdate, CatalogAssignment, HandIn, HandIns, MAX_FEEDBACK_CHARS,
    MAX_LESSON_NOTES_CHARS, MAX_LESSON_TITLE_CHARS, MAX_MARK_CHARS, Marking, is_lesson_path_id,
};
use classroom_store::{Assignment, Receipt, ReceivedSubmission, StoreError};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::{
    LessonService, Refusal, authorize, course_of, json_response, read_json, receive_upload,
    refusal, store_refusal,
};
use crate::web::{Body, Front};

/// The largest hand-in accepted (photos of pages, a PDF).
const MAX_HAND_IN_BYTES: u64 = 200 * 1024 * 1024;

/// The largest marked copy accepted (a page rendered as a PNG).
const MAX_MARKED_BYTES: u64 = 64 * 1024 * 1024;

pub(super) fn wire_assignment(a: Assignment) -> CatalogAssignment {
    CatalogAssignment {
        id: a.id,
        title: a.title,
        instructions: a.instructions,
        due_ms: a.due_ms,
    }
}

fn wire_hand_in(r: ReceivedSubmission) -> HandIn {
    HandIn {
        key: r.key,
        assignment_id: r.assignment_id,
        student: r.student,
        student_name: r.student_name,
        file_name: r.file_name,
        sha256: r.hash.to_string(),
        size: r.size,
        received_ms: r.received_ms,
        returned: r.returned.map(|m| Marking {
            sha256: m.hash.to_string(),
            size: m.size,
            mark: m.mark,
            feedback: m.feedback,
            returned_ms: m.returned_ms,
        }),
    }
}

/// The name `identity` has in the class `room` now (its roster name, or the name it joined
/// with), from the class's attendance; `None` when the class is not running or does not know
/// them (a hand-in is taken all the same).
async fn class_name(front: &Front, room: &str, identity: &str) -> Option<String> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    front
        .events
        .send(crate::driver::ConnEvent::Report {
            room: room.to_owned(),
            reply,
        })
        .await
        .ok()?;
    let report = tokio::time::timeout(std::time::Duration::from_secs(2), answer)
        .await
        .ok()?
        .ok()??;
    report
        .rows
        .into_iter()
        .find(|row| row.identity == identity)
        .map(|row| row.roster_name.unwrap_or(row.name))
}

/// Words typed by a person, for a query parameter: trimmed, control characters dropped
/// (line breaks kept in feedback).
fn typed(value: &str, keep_lines: bool) -> String {
    value
        .trim()
        .chars()
        .filter(|c| !c.is_control() || (keep_lines && *c == '\n'))
        .collect()
}

/// The teacher (or an assistant) sets or changes homework.
pub(super) async fn put_assignment(
    front: &Front,
    service: &LessonService,
    req: Request<Incoming>,
    (room, assignment_id): (String, String),
) -> Result<Response<Body>, Refusal> {
    authorize(service, req.headers(), &room, true)?;
    if !is_lesson_path_id(&assignment_id) {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            "an assignment id is 1 to 64 letters, digits, '-', '_' or '.'",
        ));
    }
    let update: AssignmentUpdate = read_json(front, req, "the homework").await?;
    let title = update.title.trim().to_owned();
    if title.is_empty() || title.chars().count() > MAX_LESSON_TITLE_CHARS {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            format!("homework's title is 1 to {MAX_LESSON_TITLE_CHARS} characters"),
        ));
    }
    if update.instructions.chars().count() > MAX_LESSON_NOTES_CHARS {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            format!("homework's instructions are at most {MAX_LESSON_NOTES_CHARS} characters"),
        ));
    }
    let assignment = Assignment {
        id: assignment_id,
        course_id: room.clone(),
        lesson_id: None,
        title,
        instructions: update.instructions,
        due_ms: update.due_ms,
    };
    let saved = assignment.clone();
    service
        .store
        .run(move |s| {
            if let Some(existing) = s.assignment(&saved.id)?
                && existing.course_id != saved.course_id
            {
                return Err(StoreError::Invalid(format!(
                    "the assignment id {:?} is taken by another class",
                    saved.id
                )));
            }
            s.put_course(&course_of(&room))?;
            s.put_assignment(&saved)
        })
        .await
        .map_err(store_refusal)?;
    json_response(StatusCode::OK, &wire_assignment(assignment))
}

/// A student hands in homework: recorded once per idempotency key (`key`), the same key
/// with the same file again answered with the first record.
pub(super) async fn hand_in(
    front: &Front,
    service: &LessonService,
    req: Request<Incoming>,
    (room, assignment, key): (String, String, String),
) -> Result<Response<Body>, Refusal> {
    let claims = authorize(service, req.headers(), &room, false)?;
    if claims.role == Role::Observer {
        return Err(refusal(
            StatusCode::FORBIDDEN,
            "an observer does not hand in homework",
        ));
    }
    if !is_lesson_path_id(&assignment) || !is_lesson_path_id(&key) {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            "assignment ids and keys are 1 to 64 letters, digits, '-', '_' or '.'",
        ));
    }
    let mut file_name = String::new();
    for (name, value) in form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()) {
        if name == "name" {
            file_name = typed(&value, false);
        }
    }
    if file_name.is_empty() || file_name.chars().count() > MAX_LESSON_TITLE_CHARS {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            format!("a hand-in's file name (?name=) is 1 to {MAX_LESSON_TITLE_CHARS} characters"),
        ));
    }
    // Only homework this class has set: under a made-up id a hand-in would be filed where
    // no teacher looks. Checked before a byte of the file is read.
    let (course, id) = (room.clone(), assignment.clone());
    let set = service
        .store
        .run(move |s| Ok(s.assignment(&id)?.is_some_and(|a| a.course_id == course)))
        .await
        .map_err(store_refusal)?;
    if !set {
        return Err(refusal(
            StatusCode::NOT_FOUND,
            "this class has set no homework with that id",
        ));
    }
    let upload = receive_upload(front, service, req, MAX_HAND_IN_BYTES, "a hand-in", |_| {
        Ok(())
    })
    .await?;
    let temp = upload.path().to_path_buf();
    let name = class_name(front, &room, &claims.sub).await;
    let student = claims.sub;
    let (received, receipt) = service
        .store
        .run(move |s| {
            let (received, receipt) =
                s.receive_submission(&key, &room, &assignment, &student, &file_name, &temp)?;
            let received = match name {
                Some(name) if received.student_name.as_deref() != Some(name.as_str()) => {
                    s.name_hand_in(&key, &name)?.unwrap_or(received)
                }
                _ => received,
            };
            Ok((received, receipt))
        })
        .await
        .map_err(|e| match e {
            StoreError::Invalid(m) => refusal(StatusCode::CONFLICT, m),
            e => store_refusal(e),
        })?;
    drop(upload);
    let status = match receipt {
        Receipt::New => StatusCode::CREATED,
        Receipt::Repeat => StatusCode::OK,
    };
    json_response(status, &wire_hand_in(received))
}

/// A class's hand-ins: every one for its teacher or an assistant, a student's own for a
/// student (with the teacher's marking once returned).
pub(super) async fn hand_ins(
    service: &LessonService,
    req: &Request<Incoming>,
    room: &str,
) -> Result<Response<Body>, Refusal> {
    let claims = authorize(service, req.headers(), room, false)?;
    let staff = matches!(claims.role, Role::Teacher | Role::Assistant);
    if claims.role == Role::Observer {
        return Err(refusal(
            StatusCode::FORBIDDEN,
            "an observer does not see homework",
        ));
    }
    let course = room.to_owned();
    let received = service
        .store
        .run(move |s| {
            if staff {
                s.received_submissions(&course)
            } else {
                s.received_submissions_of(&course, &claims.sub)
            }
        })
        .await
        .map_err(store_refusal)?;
    json_response(
        StatusCode::OK,
        &HandIns {
            room: room.to_owned(),
            hand_ins: received.into_iter().map(wire_hand_in).collect(),
        },
    )
}

/// The teacher (or an assistant) returns a hand-in marked: the marked copy as the body, the
/// mark and the words in the query. Marking again replaces the marking.
pub(super) async fn return_marked(
    front: &Front,
    service: &LessonService,
    req: Request<Incoming>,
    (room, key): (String, String),
) -> Result<Response<Body>, Refusal> {
    authorize(service, req.headers(), &room, true)?;
    if !is_lesson_path_id(&key) {
        return Err(refusal(StatusCode::NOT_FOUND, "no such hand-in"));
    }
    let (mut mark, mut feedback) = (String::new(), String::new());
    for (name, value) in form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()) {
        match name.as_ref() {
            "mark" => mark = typed(&value, false),
            "feedback" => feedback = typed(&value, true),
            _ => {}
        }
    }
    if mark.chars().count() > MAX_MARK_CHARS || feedback.chars().count() > MAX_FEEDBACK_CHARS {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            format!(
                "a mark is at most {MAX_MARK_CHARS} characters and feedback at most \
                 {MAX_FEEDBACK_CHARS}"
            ),
        ));
    }
    // The hand-in first, and room on the disk, before a byte is received.
    let (check_key, check_room) = (key.clone(), room.clone());
    let upload = receive_upload(
        front,
        service,
        req,
        MAX_MARKED_BYTES,
        "a marked copy",
        move |s| match s.received_submission(&check_key)? {
            Some(r) if r.course_id == check_room => Ok(()),
            _ => Err(StoreError::NotFound(format!("the hand-in {check_key:?}"))),
        },
    )
    .await?;
    let temp = upload.path().to_path_buf();
    let returned = service
        .store
        .run(move |s| s.return_submission(&key, &room, &mark, &feedback, &temp))
        .await
        .map_err(store_refusal)?;
    drop(upload);
    json_response(StatusCode::OK, &wire_hand_in(returned))
}
