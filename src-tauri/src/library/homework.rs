//! Homework in the app: a student hands in photos (made upright, scaled and stripped of
//! their metadata here, before anything leaves the computer) or a PDF, sees what they handed
//! in and the teacher's marking when it comes back (kept in the library: it opens offline); a
//! teacher sets homework, lists the class's hand-ins, marks a photo up with ink and stamps,
//! and returns it with a mark and a comment (the marked page rendered here, in Rust).

use std::collections::HashMap;

use annotate::{Item, ItemKind};
use classroom_protocol::lessons::{AssignmentUpdate, HandIn, MAX_FEEDBACK_CHARS, MAX_MARK_CHARS};
use classroom_store::{StoreError, SubmissionState};
use homework::image;
use homework::{
    IngestLimits, MAX_PHOTO_PAGES, PdfLimits, check_pdf, ingest_image, photos_pdf, render_pdf_sheet,
};
use serde::Serialize;
use ts_rs::TS;

use super::{LibraryController, LibraryUpdate, library_error, locked, now_ms, store_error};
use crate::AppError;
use crate::error::blocking;

/// The largest file a student may hand in (before a photo is scaled down).
pub const MAX_HAND_IN_BYTES: u64 = 40 * 1024 * 1024;

/// A handed-in PDF as it is drawn for marking: every page 1000 px across (the marking page's
/// own units), at most 20 pages, and at most 16 megapixels in all (a longer PDF is drawn
/// narrower rather than refused; the webview keeps the whole sheet in one canvas).
fn marking_pdf_limits() -> PdfLimits {
    PdfLimits {
        max_bytes: MAX_HAND_IN_BYTES,
        page_width_px: 1000,
        max_sheet_pixels: 16_000_000,
        // The default pages, as many as photos handed in together make.
        ..PdfLimits::default()
    }
}

/// The most marks on one marked page, and samples in one stroke of them.
const MAX_MARK_ITEMS: usize = 5_000;
const MAX_MARK_SAMPLES: usize = 20_000;

/// The homework of the classes in this library.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HomeworkView {
    /// Every assignment, the class the app is in first.
    pub assignments: Vec<AssignmentView>,
    /// A teacher of the class the app is in (sets and marks homework).
    pub staff: bool,
    /// The class the app is in, if any.
    pub source: Option<String>,
}

/// One assignment, with this student's hand-ins of it.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AssignmentView {
    /// Its id.
    pub id: String,
    /// Its class.
    pub course_id: String,
    /// Its title.
    pub title: String,
    /// What to do.
    pub instructions: String,
    /// When it is due (ms since the epoch).
    #[ts(type = "number | null")]
    pub due_ms: Option<i64>,
    /// This student's hand-ins of it, oldest first.
    pub hand_ins: Vec<OwnHandInView>,
}

/// A hand-in of this student's.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct OwnHandInView {
    /// Its id (also the key it is sent with).
    pub id: String,
    /// The file's name as kept (a photo's is `.jpg` or `.png`).
    pub file_name: String,
    /// Bytes.
    #[ts(type = "number")]
    pub size: u64,
    /// When it was handed in (ms since the epoch).
    #[ts(type = "number")]
    pub submitted_ms: i64,
    /// `queued` (waiting for the network), `sent`, or `returned` (marked).
    pub state: String,
    /// The teacher's mark, once returned.
    pub mark: Option<String>,
    /// The teacher's comment, once returned.
    pub feedback: Option<String>,
}

/// A hand-in the class server received (the teacher's list).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HandInView {
    /// The student's idempotency key: names the hand-in.
    pub key: String,
    /// The homework.
    pub assignment_id: String,
    /// Who handed it in (the identity their token carries).
    pub student: String,
    /// Their name as the class knows it (the roster's, or the one they joined with): from the
    /// running class, else as the server recorded it with the hand-in, else their identity.
    pub name: String,
    /// The file's name.
    pub file_name: String,
    /// Bytes.
    #[ts(type = "number")]
    pub size: u64,
    /// When it arrived (ms since the epoch).
    #[ts(type = "number")]
    pub received_ms: i64,
    /// A picture or a PDF the teacher can mark up in the app.
    pub markable: bool,
    /// Returned marked.
    pub returned: bool,
    /// The mark given, once returned.
    pub mark: Option<String>,
    /// The comment given, once returned.
    pub feedback: Option<String>,
}

fn hand_in_view(h: HandIn, names: &HashMap<String, String>) -> HandInView {
    let lower = h.file_name.to_lowercase();
    let markable = [".jpg", ".jpeg", ".png", ".webp", ".pdf"]
        .iter()
        .any(|ext| lower.ends_with(ext));
    HandInView {
        markable,
        returned: h.returned.is_some(),
        mark: h.returned.as_ref().map(|m| m.mark.clone()),
        feedback: h.returned.map(|m| m.feedback),
        name: names
            .get(&h.student)
            .cloned()
            .unwrap_or_else(|| h.student.clone()),
        key: h.key,
        assignment_id: h.assignment_id,
        student: h.student,
        file_name: h.file_name,
        size: h.size,
        received_ms: h.received_ms,
    }
}

/// The hand-in a teacher has open for marking.
pub(super) struct Marking {
    key: String,
    /// What its marked copy is made from.
    source: MarkedFrom,
    /// The hand-in's file name (the marked PDF's title).
    file_name: String,
}

/// What a marked copy is made from.
#[derive(Clone)]
enum MarkedFrom {
    /// A photo: the marks are drawn over it (a PNG).
    Photo(image::RgbaImage),
    /// A PDF itself: its pages are kept and the marks written over them (a PDF).
    Pdf(Vec<u8>),
}

/// What a handed-in file is turned into before it is kept and sent: a photo made upright,
/// at most 2560 px, re-encoded without metadata; a PDF as it is. Anything else is refused.
pub fn prepare_hand_in(bytes: &[u8], file_name: &str) -> Result<(Vec<u8>, String), AppError> {
    check_size(bytes.len() as u64, file_name)?;
    if is_pdf(bytes) {
        // Kept as it is (its text stays text), once Rust has read it: a PDF the teacher's
        // app could not draw (damaged, locked by a password, too many pages) is refused here,
        // while the student can still do something about it.
        check_pdf(bytes, &marking_pdf_limits()).map_err(|e| pdf_error(file_name, &e))?;
        return Ok((bytes.to_vec(), file_name.to_owned()));
    }
    let ingested = ingest_photo(bytes, file_name)?;
    let stem = stem_of(file_name, "photo");
    let ext = if ingested.media_type == "image/png" {
        "png"
    } else {
        "jpg"
    };
    Ok((ingested.bytes, format!("{stem}.{ext}")))
}

/// A file name as the page sent it, without control characters; "homework" when nothing
/// is left.
fn clean_name(name: &str) -> String {
    let name: String = name.trim().chars().filter(|c| !c.is_control()).collect();
    if name.is_empty() {
        "homework".to_owned()
    } else {
        name
    }
}

/// Refuses what is larger than a student may hand in ([`MAX_HAND_IN_BYTES`]), naming it.
fn check_size(bytes: u64, what: &str) -> Result<(), AppError> {
    if bytes > MAX_HAND_IN_BYTES {
        return Err(AppError::BadFile(format!(
            "{what} is larger than {} MB",
            MAX_HAND_IN_BYTES / (1024 * 1024)
        )));
    }
    Ok(())
}

/// A photo taken in for handing in: upright, at most 2560 px, without metadata.
fn ingest_photo(bytes: &[u8], file_name: &str) -> Result<homework::Ingested, AppError> {
    ingest_image(bytes, &IngestLimits::default())
        .map_err(|e| AppError::BadFile(format!("{file_name}: {e}")))
}

/// Several photos handed in at once, as one piece of work the teacher marks and returns as
/// one: each taken in as a single photo is (upright, scaled, no metadata), read one at a time
/// (`files` reads them as it goes), then one PDF of a page each in their order
/// (`homework::photos_pdf`), named `name` with `.pdf`. A PDF among them, anything that is not
/// a picture, more than [`MAX_PHOTO_PAGES`], or a result over [`MAX_HAND_IN_BYTES`] is
/// refused, naming what.
pub fn prepare_photos(
    files: impl IntoIterator<Item = Result<(Vec<u8>, String), AppError>>,
    name: &str,
) -> Result<(Vec<u8>, String), AppError> {
    let mut photos = Vec::new();
    for file in files {
        let (bytes, file_name) = file?;
        if photos.len() == MAX_PHOTO_PAGES {
            return Err(AppError::BadFile(format!(
                "at most {MAX_PHOTO_PAGES} photos are handed in together"
            )));
        }
        check_size(bytes.len() as u64, &file_name)?;
        if is_pdf(&bytes) {
            return Err(AppError::BadFile(format!(
                "{file_name} is a PDF: a PDF is handed in by itself, not with photos"
            )));
        }
        photos.push(ingest_photo(&bytes, &file_name)?);
    }
    let stem = stem_of(name, "photos");
    let pdf = photos_pdf(&photos, &stem).map_err(|e| AppError::BadFile(format!("{name}: {e}")))?;
    check_size(pdf.len() as u64, "the PDF of the photos")?;
    Ok((pdf, format!("{stem}.pdf")))
}

/// Whether `bytes` are a PDF (by its header, as handing in decides).
fn is_pdf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"%PDF-")
}

/// A file name without its extension (`otherwise` when nothing is left).
fn stem_of(file_name: &str, otherwise: &str) -> String {
    std::path::Path::new(file_name)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| otherwise.into())
}

/// What a hand-in's marked copy is called (without an extension): its title, and the name
/// it is saved under.
fn marked_name(file_name: &str) -> String {
    format!("{} (marked)", stem_of(file_name, "homework"))
}

/// A PDF that cannot be taken, in words a student can act on.
fn pdf_error(file_name: &str, e: &homework::PdfError) -> AppError {
    let why = match e.kind() {
        "encrypted" => "it is locked with a password; save it again without one".to_owned(),
        "tooManyPages" => "it has more than 20 pages".to_owned(),
        _ => e.to_string(),
    };
    AppError::BadFile(format!("{file_name}: {why}"))
}

/// A handed-in file drawn for marking, and the picture the page shows: a photo as the
/// student's app prepared it, a PDF's pages one under the other.
fn marking_picture(bytes: &[u8], name: &str) -> Result<(image::RgbaImage, Vec<u8>), AppError> {
    if is_pdf(bytes) {
        let sheet =
            render_pdf_sheet(bytes, &marking_pdf_limits()).map_err(|e| pdf_error(name, &e))?;
        // Shown without its (opaque) alpha: converted straight from the sheet, which is
        // kept for drawing the marks, rather than copied whole first.
        let rgb: image::RgbImage = image::buffer::ConvertBuffer::convert(&sheet);
        let mut shown = Vec::new();
        rgb.write_to(
            &mut std::io::Cursor::new(&mut shown),
            image::ImageFormat::Png,
        )
        .map_err(|e| AppError::Internal(format!("showing {name}: {e}")))?;
        return Ok((sheet, shown));
    }
    let ingested = ingest_image(bytes, &IngestLimits::default())
        .map_err(|e| AppError::BadFile(format!("{name}: {e}")))?;
    let photo = image::load_from_memory(&ingested.bytes)
        .map_err(|e| AppError::BadFile(format!("{name}: {e}")))?
        .to_rgba8();
    Ok((photo, ingested.bytes))
}

/// Marks the page sent are checked before anything is drawn: a bounded number, bounded
/// strokes, finite coordinates.
fn check_marks(items: &[Item]) -> Result<(), AppError> {
    if items.len() > MAX_MARK_ITEMS {
        return Err(AppError::Invalid(format!(
            "at most {MAX_MARK_ITEMS} marks on a page"
        )));
    }
    for item in items {
        let too_long = matches!(&item.kind, ItemKind::Stroke { samples, .. } if samples.len() > MAX_MARK_SAMPLES);
        if too_long || !item.offset.iter().all(|v| v.is_finite()) {
            return Err(AppError::Invalid(
                "a mark has a coordinate that is not a number or too many points".into(),
            ));
        }
        // What the class server would refuse on the whiteboard is refused here too.
        annotate::check_item_kind(&item.kind)
            .map_err(|e| AppError::Invalid(format!("a mark is not drawable: {e}")))?;
    }
    Ok(())
}

impl LibraryController {
    /// The homework in this library, the class the app is in first.
    pub async fn homework_view(&self) -> Result<HomeworkView, AppError> {
        let store = self.store().await?;
        let source = locked(&self.source).clone();
        let current = source.as_ref().map(|s| s.room.clone());
        let assignments = store
            .run(move |s| {
                let mut courses: Vec<String> = s.courses()?.into_iter().map(|c| c.id).collect();
                courses.sort_by_key(|c| Some(c) != current.as_ref());
                let mut all = Vec::new();
                for course in courses {
                    for a in s.assignments(&course)? {
                        let hand_ins = s.submissions(&a.id)?;
                        all.push((a, hand_ins));
                    }
                }
                Ok(all)
            })
            .await
            .map_err(store_error)?;
        Ok(HomeworkView {
            assignments: assignments
                .into_iter()
                .map(|(a, subs)| AssignmentView {
                    id: a.id,
                    course_id: a.course_id,
                    title: a.title,
                    instructions: a.instructions,
                    due_ms: a.due_ms,
                    hand_ins: subs
                        .into_iter()
                        .map(|s| OwnHandInView {
                            state: match s.state {
                                SubmissionState::Queued => "queued",
                                SubmissionState::Sent => "sent",
                                SubmissionState::Returned => "returned",
                            }
                            .into(),
                            id: s.id,
                            file_name: s.file_name,
                            size: s.size,
                            submitted_ms: s.submitted_ms,
                            mark: s.mark,
                            feedback: s.feedback,
                        })
                        .collect(),
                })
                .collect(),
            staff: source.as_ref().is_some_and(|s| s.staff),
            source: source.map(|s| s.room),
        })
    }

    /// Fetches the class's homework, sends what waits to be sent, and (for a student) brings
    /// back the teacher's marking.
    pub async fn homework_refresh(&self) -> Result<HomeworkView, AppError> {
        self.store().await?;
        let access = self.source()?;
        let client = self.downloader(&access, None)?;
        client.refresh_catalog().await.map_err(library_error)?;
        self.send_outbox().await;
        if !access.staff && client.sync_returns().await.map_err(library_error)? > 0 {
            self.emit(&LibraryUpdate::Changed);
        }
        self.homework_view().await
    }

    /// Sets homework for the class (a teacher): its id is made from the title.
    pub async fn homework_set(
        &self,
        title: &str,
        instructions: &str,
        due_ms: Option<i64>,
    ) -> Result<HomeworkView, AppError> {
        let title = title.trim();
        let chars = title.chars().count();
        if chars == 0 || chars > classroom_protocol::lessons::MAX_LESSON_TITLE_CHARS {
            return Err(AppError::Invalid(
                "Homework needs a title of 1 to 200 characters.".into(),
            ));
        }
        if instructions.chars().count() > classroom_protocol::lessons::MAX_LESSON_NOTES_CHARS {
            return Err(AppError::Invalid(
                "Homework's instructions are at most 20,000 characters.".into(),
            ));
        }
        self.store().await?;
        let access = self.staff_source()?;
        let client = self.downloader(&access, None)?;
        let id = super::lesson_id_for(title, now_ms());
        client
            .put_assignment(
                &id,
                &AssignmentUpdate {
                    title: title.to_owned(),
                    instructions: instructions.trim().to_owned(),
                    due_ms,
                },
            )
            .await
            .map_err(library_error)?;
        self.emit(&LibraryUpdate::Changed);
        self.homework_view().await
    }

    /// Hands in what the page sent as `upload_ids` (each file's name in `file_names`) for an
    /// assignment, named `file_name`: one file as it is, a photo made upright, scaled and
    /// stripped of metadata first; several photos as one PDF of a page each
    /// ([`prepare_photos`]). It is kept here and queued, then sent when the class's server
    /// answers.
    pub async fn homework_hand_in(
        &self,
        upload_ids: &[String],
        file_names: &[String],
        assignment_id: &str,
        file_name: &str,
    ) -> Result<HomeworkView, AppError> {
        // Every upload is taken off the list (its file removed when it is dropped), also
        // when the call is refused: one missing, too large, or names that do not match.
        let uploads: Vec<_> = {
            let mut all = locked(&self.uploads);
            upload_ids.iter().map(|id| (id, all.remove(id))).collect()
        };
        if uploads.is_empty() || uploads.len() != file_names.len() {
            return Err(AppError::Invalid(
                "a hand-in is one or more files, each with its name".into(),
            ));
        }
        let mut parts = Vec::with_capacity(uploads.len());
        for ((id, upload), part_name) in uploads.into_iter().zip(file_names) {
            let upload = upload
                .ok_or_else(|| AppError::Invalid(format!("no upload {id:?} is under way")))?;
            check_size(upload.written, part_name)?;
            parts.push((upload, clean_name(part_name)));
        }
        let name = clean_name(file_name);
        let (prepared, name) = blocking("preparing the hand-in", move || {
            let read = |upload: &super::Upload| {
                std::fs::read(&upload.path)
                    .map_err(|e| store_error(StoreError::io("read", &upload.path, e)))
            };
            if let [(upload, _)] = parts.as_slice() {
                return prepare_hand_in(&read(upload)?, &name);
            }
            prepare_photos(
                parts
                    .iter()
                    .map(|(upload, part)| Ok((read(upload)?, part.clone()))),
                &name,
            )
        })
        .await??;
        let store = self.store().await?;
        let assignment = assignment_id.to_owned();
        store
            .run(move |s| s.hand_in(&assignment, &name, &mut prepared.as_slice(), now_ms()))
            .await
            .map_err(store_error)?;
        self.emit(&LibraryUpdate::Changed);
        self.send_outbox().await;
        self.homework_view().await
    }

    /// The teacher's marked copy of one of this student's hand-ins, from this computer, as a
    /// picture to show: a marked photo as it came, a marked PDF's pages drawn one under the
    /// other as they were when marked.
    pub async fn homework_marked_copy(&self, submission_id: &str) -> Result<Vec<u8>, AppError> {
        let (bytes, name) = self.marked_copy(submission_id).await?;
        if !is_pdf(&bytes) {
            return Ok(bytes);
        }
        let (_, shown) = blocking("showing the marked copy", move || {
            marking_picture(&bytes, &name)
        })
        .await??;
        Ok(shown)
    }

    /// Saves the marked copy of one of this student's hand-ins into `dir` as it came (a PDF
    /// with its pages and the marks, or the marked photo as PNG), named after the hand-in.
    pub async fn homework_save_copy(
        &self,
        submission_id: &str,
        dir: std::path::PathBuf,
    ) -> Result<crate::saved::SavedFile, AppError> {
        let (bytes, name) = self.marked_copy(submission_id).await?;
        let ext = if is_pdf(&bytes) { "pdf" } else { "png" };
        let stem = marked_name(&name);
        blocking("saving the marked copy", move || {
            crate::saved::save_new(&dir, &stem, ext, &bytes)
        })
        .await?
    }

    /// The marked copy's bytes as stored, and the hand-in's file name.
    async fn marked_copy(&self, submission_id: &str) -> Result<(Vec<u8>, String), AppError> {
        let store = self.store().await?;
        let id = submission_id.to_owned();
        store
            .run(move |s| {
                let sub = s.submission(&id)?;
                let hash = sub.returned_hash.ok_or_else(|| {
                    StoreError::NotFound(format!("a marked copy of {:?}", sub.file_name))
                })?;
                Ok((s.read_file(&hash)?, sub.file_name))
            })
            .await
            .map_err(store_error)
    }

    /// The class's hand-ins (a teacher), from its server; `names` are the class's names by
    /// identity (its attendance).
    pub async fn homework_hand_ins(
        &self,
        names: &HashMap<String, String>,
    ) -> Result<Vec<HandInView>, AppError> {
        self.store().await?;
        let access = self.staff_source()?;
        let client = self.downloader(&access, None)?;
        let list = client.hand_ins().await.map_err(library_error)?;
        Ok(list.into_iter().map(|h| hand_in_view(h, names)).collect())
    }

    /// Opens a hand-in for marking (a teacher): the picture, as the page shows it. It stays
    /// open here until it is returned or another is opened.
    pub async fn homework_open(&self, key: &str) -> Result<Vec<u8>, AppError> {
        self.store().await?;
        let access = self.staff_source()?;
        let client = self.downloader(&access, None)?;
        let hand_in = client
            .hand_ins()
            .await
            .map_err(library_error)?
            .into_iter()
            .find(|h| h.key == key)
            .ok_or_else(|| AppError::Invalid(format!("no hand-in {key:?} in this class")))?;
        let bytes = client
            .fetch_file(&hand_in.sha256)
            .await
            .map_err(library_error)?;
        // Decoded under the same limits as when it was handed in (the server keeps what it
        // was sent: a student's own build, or another client, may send anything).
        let name = hand_in.file_name.clone();
        let (source, shown) = blocking("opening the hand-in", move || {
            let (picture, shown) = marking_picture(&bytes, &name)?;
            // A PDF's sheet is only shown: its marks go back onto the PDF's own pages.
            let source = if is_pdf(&bytes) {
                MarkedFrom::Pdf(bytes)
            } else {
                MarkedFrom::Photo(picture)
            };
            Ok::<_, AppError>((source, shown))
        })
        .await??;
        *locked(&self.marking) = Some(Marking {
            key: key.to_owned(),
            source,
            file_name: hand_in.file_name,
        });
        Ok(shown)
    }

    /// Returns the open hand-in marked (a teacher): the marks drawn over the picture in
    /// Rust, the same way the page draws them, sent with the mark and the comment.
    pub async fn homework_return(
        &self,
        names: &HashMap<String, String>,
        key: &str,
        mark: &str,
        feedback: &str,
        items: Vec<Item>,
    ) -> Result<HandInView, AppError> {
        let mark = mark.trim();
        let feedback = feedback.trim();
        if mark.chars().count() > MAX_MARK_CHARS || feedback.chars().count() > MAX_FEEDBACK_CHARS {
            return Err(AppError::Invalid(format!(
                "A mark is at most {MAX_MARK_CHARS} characters and a comment at most \
                 {MAX_FEEDBACK_CHARS}."
            )));
        }
        check_marks(&items)?;
        let (source, file_name) = match locked(&self.marking).as_ref() {
            Some(m) if m.key == key => (m.source.clone(), m.file_name.clone()),
            _ => {
                return Err(AppError::Invalid(format!(
                    "the hand-in {key:?} is not open for marking"
                )));
            }
        };
        // A photo comes back as the photo with the marks drawn on it (PNG); a PDF as itself,
        // its pages kept as they are (their text still text), the marks over them as vectors.
        let marked = blocking("drawing the marks", move || match source {
            MarkedFrom::Pdf(pdf) => {
                let title = marked_name(&file_name);
                homework::marked_pdf(&pdf, &items, &marking_pdf_limits(), &title)
                    .map_err(|e| format!("writing the marked PDF: {e}"))
            }
            MarkedFrom::Photo(photo) => homework::render_marked(&photo, &items)
                .map_err(|e| format!("drawing the marks: {e}")),
        })
        .await?
        .map_err(AppError::Internal)?;
        let access = self.staff_source()?;
        let client = self.downloader(&access, None)?;
        let returned = client
            .return_marked(key, mark, feedback, marked)
            .await
            .map_err(library_error)?;
        *locked(&self.marking) = None;
        Ok(hand_in_view(returned, names))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pictures_and_pdfs_are_handed_in_and_pictures_lose_their_metadata() {
        let pdf = WORKSHEET.to_vec();
        assert_eq!(
            prepare_hand_in(&pdf, "essay.pdf").expect("a PDF"),
            (pdf, "essay.pdf".to_owned())
        );
        for (bytes, name) in [
            (b"%PDF-1.7\n% a worksheet".to_vec(), "cut.pdf"),
            (WORKSHEET[..WORKSHEET.len() / 2].to_vec(), "half.pdf"),
            (b"just some notes".to_vec(), "notes.txt"),
            (b"GIF89a\x01\0\x01\0".to_vec(), "cat.gif"),
            (vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16], "cut.jpg"),
        ] {
            let e = prepare_hand_in(&bytes, name).expect_err(name);
            assert_eq!(e.kind(), "badFile", "{name}: {e}");
            assert!(e.to_string().contains(name), "{e}");
        }
        let big = vec![0u8; MAX_HAND_IN_BYTES as usize + 1];
        assert_eq!(
            prepare_hand_in(&big, "huge.jpg")
                .expect_err("too large")
                .kind(),
            "badFile"
        );
        // A PNG photo: re-encoded, named by its new type.
        let picture = image::RgbImage::from_pixel(40, 30, image::Rgb([200, 10, 10]));
        let mut png = Vec::new();
        picture
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .expect("encode");
        let (kept, name) = prepare_hand_in(&png, "IMG_0001.PNG").expect("a photo");
        assert_eq!(name, "IMG_0001.jpg");
        assert_eq!(
            image::guess_format(&kept).expect("a picture"),
            image::ImageFormat::Jpeg
        );
    }

    #[tokio::test]
    async fn a_refused_hand_in_leaves_no_upload_behind() {
        let dir = tempfile::tempdir().expect("a folder");
        let student = LibraryController::new(Some(dir.path().to_path_buf()));
        // Uploads are written in the store's temporary folder.
        let uploads = || {
            std::fs::read_dir(dir.path().join("files").join("tmp"))
                .expect("the library's temporary folder")
                .flatten()
                .count()
        };
        for id in ["u1", "u2"] {
            student
                .upload_piece(id, 0, &jpeg(20, 20))
                .await
                .expect("a piece");
        }
        assert_eq!(uploads(), 2);
        // Two files and one name: refused, and both files are gone.
        let refused = student
            .homework_hand_in(&["u1".into(), "u2".into()], &["a.jpg".into()], "hw", "a")
            .await
            .expect_err("refused");
        assert_eq!(refused.kind(), "invalid");
        assert_eq!(uploads(), 0);
    }

    /// A `w` x `h` JPEG of one colour.
    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let picture = image::RgbImage::from_pixel(w, h, image::Rgb([30, 120, 200]));
        let mut out = Vec::new();
        picture
            .write_to(
                &mut std::io::Cursor::new(&mut out),
                image::ImageFormat::Jpeg,
            )
            .expect("encode");
        out
    }

    #[test]
    fn photos_handed_in_together_become_one_pdf_a_page_each() {
        let files = |list: Vec<(Vec<u8>, &str)>| {
            list.into_iter()
                .map(|(b, n)| Ok((b, n.to_owned())))
                .collect::<Vec<Result<_, AppError>>>()
        };
        let (pdf, name) = prepare_photos(
            files(vec![(jpeg(300, 400), "p1.jpg"), (jpeg(400, 300), "p2.jpg")]),
            "p1 (2 photos).pdf",
        )
        .expect("one PDF");
        assert_eq!(name, "p1 (2 photos).pdf");
        let info = check_pdf(&pdf, &marking_pdf_limits()).expect("the teacher can open it");
        assert_eq!(info.pages, 2);
        // And the teacher's app draws it for marking as any handed-in PDF.
        marking_picture(&pdf, &name).expect("drawn");

        for (list, why) in [
            (
                vec![(jpeg(30, 30), "p.jpg"), (WORKSHEET.to_vec(), "essay.pdf")],
                "essay.pdf",
            ),
            (
                vec![(jpeg(30, 30), "p.jpg"), (b"hello".to_vec(), "notes.txt")],
                "notes.txt",
            ),
            (
                vec![(jpeg(8, 8), "p.jpg"); MAX_PHOTO_PAGES + 1],
                "at most 20 photos",
            ),
        ] {
            let e = prepare_photos(files(list), "x.pdf").expect_err(why);
            assert_eq!(e.kind(), "badFile", "{why}: {e}");
            assert!(e.to_string().contains(why), "{e}");
        }
        let unread = vec![Err(AppError::Internal("the disk went away".into()))];
        assert_eq!(
            prepare_photos(unread, "x.pdf").expect_err("unread").kind(),
            "internal"
        );
    }

    /// A two-page worksheet (text, lines, a blue and a red box), written for these tests.
    const WORKSHEET: &[u8] = include_bytes!("../../tests/fixtures/worksheet.pdf");

    #[test]
    fn a_handed_in_pdf_is_drawn_for_marking_page_under_page() {
        let (sheet, shown) = marking_picture(WORKSHEET, "worksheet.pdf").expect("drawn");
        // Two A4 pages 1000 px across, a 16 px gap between them.
        let page = (1000.0_f32 * 842.0 / 595.0).round() as u32;
        assert_eq!(sheet.width(), 1000);
        assert!(
            sheet.height().abs_diff(2 * page + 16) <= 2,
            "{}",
            sheet.height()
        );
        // Page 1's blue box (x 60-260 pt, y 420-540 pt from the bottom) is blue.
        let px = |pt: f32| (pt * 1000.0 / 595.0) as u32;
        let p = sheet.get_pixel(px(160.0), px(842.0 - 480.0)).0;
        assert!(p[2] > 150 && p[0] < 80, "blue box: {p:?}");
        // Page 2's red box (300-400 pt, 300-400 pt) is red, on the second page.
        let p = sheet.get_pixel(px(350.0), page + 16 + px(842.0 - 350.0)).0;
        assert!(p[0] > 150 && p[2] < 80, "red box: {p:?}");
        assert_eq!(
            image::guess_format(&shown).expect("a picture"),
            image::ImageFormat::Png
        );
        let e = marking_picture(b"%PDF-1.4 nothing", "x.pdf").expect_err("damaged");
        assert_eq!(e.kind(), "badFile");
    }

    #[test]
    fn marks_with_bad_numbers_or_too_many_points_are_refused() {
        let stroke = |x: f32, n: usize| Item {
            author: "t".into(),
            kind: ItemKind::Stroke {
                tool: annotate::Tool::Pen,
                style: annotate::Style {
                    color: [0, 0, 0, 255],
                    width: 3.0,
                },
                samples: vec![
                    annotate::Sample {
                        x,
                        y: 1.0,
                        p: 0.5,
                        t: 0
                    };
                    n
                ],
                live: false,
            },
            offset: [0.0, 0.0],
            erased: false,
            order: 1,
            touched: 1,
        };
        assert!(check_marks(&[stroke(10.0, 100)]).is_ok());
        assert!(check_marks(&[stroke(f32::NAN, 2)]).is_err());
        assert!(check_marks(&[stroke(1.0, MAX_MARK_SAMPLES + 1)]).is_err());
        assert!(check_marks(&vec![stroke(1.0, 1); MAX_MARK_ITEMS + 1]).is_err());
        // Text and scores as the class server takes them on the whiteboard.
        let with = |kind: ItemKind| Item {
            kind,
            ..stroke(1.0, 1)
        };
        let score = |s: &str| {
            with(ItemKind::Stamp {
                at: [10.0, 10.0],
                stamp: annotate::Stamp::Score(s.into()),
            })
        };
        let text = |size: f32| {
            with(ItemKind::Text {
                at: [10.0, 10.0],
                text: "Well done".into(),
                size,
                color: [0, 0, 0, 255],
            })
        };
        assert!(check_marks(&[score("8/10"), text(28.0)]).is_ok());
        assert!(check_marks(&[score(&"9".repeat(annotate::MAX_SCORE_CHARS + 1))]).is_err());
        assert!(check_marks(&[text(annotate::MAX_TEXT_SIZE * 2.0)]).is_err());
        assert!(check_marks(&[text(-1.0)]).is_err());
    }
}
