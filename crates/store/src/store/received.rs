//! The class server's side of homework: hand-ins received, once per idempotency key.

use std::path::Path;

use rusqlite::{OptionalExtension, params};

use super::{CourseFile, Store, now_ms, record_blob_in};
use crate::error::{Result, StoreError};
use crate::files::ContentHash;
use crate::model::{Marking, ReceivedSubmission};

/// Whether a hand-in was new or a repeat of one already received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Receipt {
    /// Recorded now.
    New,
    /// The same key was received before, with the same file: nothing changed.
    Repeat,
}

impl Store {
    /// Records a hand-in whose file is the temporary file `temp` (in the store's temporary
    /// folder; moved into the files, or removed on a repeat). A key received before answers
    /// the first record ([`Receipt::Repeat`]); the same key with another file, another
    /// student or another assignment is refused.
    pub fn receive_submission(
        &mut self,
        key: &str,
        course_id: &str,
        assignment_id: &str,
        student: &str,
        file_name: &str,
        temp: &Path,
    ) -> Result<(ReceivedSubmission, Receipt)> {
        if let Some(first) = self.received_submission(key)? {
            let hash = crate::files::hash_file(temp)?;
            let _ = std::fs::remove_file(temp);
            if first.hash != hash
                || first.student != student
                || first.assignment_id != assignment_id
                || first.course_id != course_id
            {
                return Err(StoreError::Invalid(format!(
                    "the key {key:?} was used for another hand-in"
                )));
            }
            return Ok((first, Receipt::Repeat));
        }
        let (hash, size) = self.save_temp_file(temp)?;
        let received = ReceivedSubmission {
            key: key.to_owned(),
            course_id: course_id.to_owned(),
            assignment_id: assignment_id.to_owned(),
            student: student.to_owned(),
            file_name: file_name.to_owned(),
            hash,
            size,
            received_ms: now_ms(),
            returned: None,
            student_name: None,
        };
        let tx = self.db.transaction()?;
        record_blob_in(&tx, &received.hash, size, received.received_ms)?;
        tx.execute(
            "INSERT INTO received_submissions(key, course_id, assignment_id, student, file_name,
                                               hash, size, received_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                received.key,
                received.course_id,
                received.assignment_id,
                received.student,
                received.file_name,
                received.hash.as_str(),
                size as i64,
                received.received_ms
            ],
        )?;
        tx.commit()?;
        Ok((received, Receipt::New))
    }

    /// The hand-in received with `key`, if any.
    pub fn received_submission(&self, key: &str) -> Result<Option<ReceivedSubmission>> {
        Ok(self
            .db
            .query_row(
                &format!("{RECEIVED_COLUMNS} WHERE r.key = ?1"),
                [key],
                received_row,
            )
            .optional()?)
    }

    /// A file handed in to a class, or a marked copy returned (to `student` only, when
    /// given: a student gets their own work and its marking, nobody else's), to serve.
    pub fn hand_in_file(
        &self,
        course_id: &str,
        hash: &ContentHash,
        student: Option<&str>,
    ) -> Result<Option<CourseFile>> {
        let found: Option<(i64, bool)> = self
            .db
            .query_row(
                "SELECT size, 0 FROM received_submissions
                 WHERE course_id = ?1 AND hash = ?2 AND (?3 IS NULL OR student = ?3)
                 UNION ALL
                 SELECT b.size, 1 FROM received_submissions r JOIN blobs b ON b.hash = r.returned_hash
                 WHERE r.course_id = ?1 AND r.returned_hash = ?2 AND (?3 IS NULL OR r.student = ?3)
                 LIMIT 1",
                params![course_id, hash.as_str(), student],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(found.map(|(size, marked)| CourseFile {
            path: self.files.path(hash),
            size: size as u64,
            mime: if marked {
                marked_copy_file_type(&self.files.path(hash))
            } else {
                "application/octet-stream"
            }
            .into(),
        }))
    }

    /// Records the teacher's marking of the hand-in received with `key`: the marked copy is
    /// the temporary file `temp` (moved into the files). Marking again replaces the marking.
    pub fn return_submission(
        &mut self,
        key: &str,
        course_id: &str,
        mark: &str,
        feedback: &str,
        temp: &Path,
    ) -> Result<ReceivedSubmission> {
        match self.received_submission(key)? {
            Some(r) if r.course_id == course_id => {}
            _ => {
                let _ = std::fs::remove_file(temp);
                return Err(StoreError::NotFound(format!("the hand-in {key:?}")));
            }
        }
        let (hash, size) = self.save_temp_file(temp)?;
        let now = now_ms();
        let tx = self.db.transaction()?;
        record_blob_in(&tx, &hash, size, now)?;
        tx.execute(
            "UPDATE received_submissions
             SET returned_hash = ?2, mark = ?3, feedback = ?4, returned_ms = ?5
             WHERE key = ?1",
            params![key, hash.as_str(), mark, feedback, now],
        )?;
        tx.commit()?;
        self.received_submission(key)?
            .ok_or_else(|| StoreError::NotFound(format!("the hand-in {key:?}")))
    }

    /// Records the name the hand-in's student has in the class (the latest one wins).
    pub fn name_hand_in(&self, key: &str, name: &str) -> Result<Option<ReceivedSubmission>> {
        self.db.execute(
            "UPDATE received_submissions SET student_name = ?2 WHERE key = ?1",
            params![key, name],
        )?;
        self.received_submission(key)
    }

    /// One student's hand-ins to a class, oldest first.
    pub fn received_submissions_of(
        &self,
        course_id: &str,
        student: &str,
    ) -> Result<Vec<ReceivedSubmission>> {
        let mut stmt = self.db.prepare_cached(&format!(
            "{RECEIVED_COLUMNS} WHERE r.course_id = ?1 AND r.student = ?2
             ORDER BY r.received_ms, r.key"
        ))?;
        let rows = stmt.query_map([course_id, student], received_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every hand-in a class received, oldest first.
    pub fn received_submissions(&self, course_id: &str) -> Result<Vec<ReceivedSubmission>> {
        let mut stmt = self.db.prepare_cached(&format!(
            "{RECEIVED_COLUMNS} WHERE r.course_id = ?1 ORDER BY r.received_ms, r.key"
        ))?;
        let rows = stmt.query_map([course_id], received_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

const RECEIVED_COLUMNS: &str = "SELECT r.key, r.course_id, r.assignment_id, r.student,
                                       r.file_name, r.hash, r.size, r.received_ms,
                                       r.returned_hash, b.size, r.mark, r.feedback, r.returned_ms,
                                       r.student_name
                                FROM received_submissions r
                                LEFT JOIN blobs b ON b.hash = r.returned_hash";

fn received_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReceivedSubmission> {
    Ok(ReceivedSubmission {
        key: r.get(0)?,
        course_id: r.get(1)?,
        assignment_id: r.get(2)?,
        student: r.get(3)?,
        file_name: r.get(4)?,
        hash: ContentHash(r.get(5)?),
        size: r.get::<_, i64>(6)? as u64,
        received_ms: r.get(7)?,
        returned: match r.get::<_, Option<String>>(8)? {
            None => None,
            Some(hash) => Some(Marking {
                hash: ContentHash(hash),
                size: r.get::<_, Option<i64>>(9)?.unwrap_or(0) as u64,
                mark: r.get::<_, Option<String>>(10)?.unwrap_or_default(),
                feedback: r.get::<_, Option<String>>(11)?.unwrap_or_default(),
                returned_ms: r.get::<_, Option<i64>>(12)?.unwrap_or(0),
            }),
        },
        student_name: r.get(13)?,
    })
}

/// A marked copy's media type, by its first bytes ([`marked_copy_type`]; a file that cannot
/// be read is taken for a PNG: serving it then fails on its own).
fn marked_copy_file_type(path: &Path) -> &'static str {
    use std::io::Read;
    let mut head = [0u8; 5];
    let read = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head));
    marked_copy_type(if read.is_ok() { &head } else { &[] })
}

/// A marked copy's media type, from its bytes (the first five are enough): a marked PDF
/// hand-in is a PDF, a marked photo a PNG.
pub fn marked_copy_type(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"%PDF-") {
        "application/pdf"
    } else {
        "image/png"
    }
}
