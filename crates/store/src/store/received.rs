//! The class server's side of homework: hand-ins received, once per idempotency key.

use std::path::Path;

use rusqlite::{OptionalExtension, params};

use super::{CourseFile, Store, now_ms, record_blob_in};
use crate::error::{Result, StoreError};
use crate::files::ContentHash;
use crate::model::ReceivedSubmission;

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
                &format!("{RECEIVED_COLUMNS} WHERE key = ?1"),
                [key],
                received_row,
            )
            .optional()?)
    }

    /// A file handed in to a class (by `student` only, when given), to serve.
    pub fn hand_in_file(
        &self,
        course_id: &str,
        hash: &ContentHash,
        student: Option<&str>,
    ) -> Result<Option<CourseFile>> {
        let size: Option<i64> = self
            .db
            .query_row(
                "SELECT size FROM received_submissions
                 WHERE course_id = ?1 AND hash = ?2 AND (?3 IS NULL OR student = ?3) LIMIT 1",
                params![course_id, hash.as_str(), student],
                |r| r.get(0),
            )
            .optional()?;
        Ok(size.map(|size| CourseFile {
            path: self.files.path(hash),
            size: size as u64,
            mime: "application/octet-stream".into(),
        }))
    }

    /// Every hand-in a class received, oldest first.
    pub fn received_submissions(&self, course_id: &str) -> Result<Vec<ReceivedSubmission>> {
        let mut stmt = self.db.prepare_cached(&format!(
            "{RECEIVED_COLUMNS} WHERE course_id = ?1 ORDER BY received_ms, key"
        ))?;
        let rows = stmt.query_map([course_id], received_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

const RECEIVED_COLUMNS: &str = "SELECT key, course_id, assignment_id, student, file_name, hash,
                                       size, received_ms
                                FROM received_submissions";

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
    })
}
