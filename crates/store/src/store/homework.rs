//! A student's homework in their own library: the class's assignments, their hand-ins (sent
//! through the outbox), the teacher's marking when it comes back, and annotation documents.

use std::io::Read;

use rusqlite::{OptionalExtension, params};

use super::{AnnotationTarget, Store, enqueue_in, record_blob_in};
use crate::error::{Result, StoreError};
use crate::files::ContentHash;
use crate::model::{Assignment, Submission, SubmissionState};

impl Store {
    /// Adds or updates an assignment.
    pub fn put_assignment(&self, a: &Assignment) -> Result<()> {
        self.db.execute(
            "INSERT INTO assignments(id, course_id, lesson_id, title, instructions, due_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(id) DO UPDATE SET course_id = ?2, lesson_id = ?3, title = ?4,
                 instructions = ?5, due_ms = ?6",
            params![
                a.id,
                a.course_id,
                a.lesson_id,
                a.title,
                a.instructions,
                a.due_ms
            ],
        )?;
        Ok(())
    }

    /// Hands in homework: the file saved, the submission recorded and its sending queued in
    /// one transaction (the submission's id is the sending's idempotency key).
    pub fn hand_in(
        &mut self,
        assignment_id: &str,
        file_name: &str,
        reader: &mut dyn Read,
        now_ms: i64,
    ) -> Result<Submission> {
        let (hash, size) = self.files.write_from(reader, None)?;
        let id = uuid::Uuid::now_v7().to_string();
        let tx = self.db.transaction()?;
        record_blob_in(&tx, &hash, size, now_ms)?;
        tx.execute(
            "INSERT INTO submissions(id, assignment_id, hash, file_name, size, submitted_ms, state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                id,
                assignment_id,
                hash.as_str(),
                file_name,
                size as i64,
                now_ms,
                SubmissionState::Queued.as_str()
            ],
        )
        .map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                StoreError::NotFound(format!("the assignment {assignment_id:?}"))
            }
            e => e.into(),
        })?;
        let payload = serde_json::json!({
            "submissionId": id, "assignmentId": assignment_id, "hash": hash,
            "fileName": file_name, "size": size,
        });
        enqueue_in(&tx, &id, "submission", &payload.to_string(), now_ms)?;
        tx.commit()?;
        self.submission(&id)
    }

    /// One hand-in.
    pub fn submission(&self, id: &str) -> Result<Submission> {
        self.db
            .query_row(
                "SELECT id, assignment_id, hash, file_name, size, submitted_ms, state, mark,
                        feedback, returned_hash
                 FROM submissions WHERE id = ?1",
                [id],
                |r| {
                    Ok(Submission {
                        id: r.get(0)?,
                        assignment_id: r.get(1)?,
                        hash: ContentHash(r.get(2)?),
                        file_name: r.get(3)?,
                        size: r.get::<_, i64>(4)? as u64,
                        submitted_ms: r.get(5)?,
                        state: SubmissionState::parse(&r.get::<_, String>(6)?),
                        mark: r.get(7)?,
                        feedback: r.get(8)?,
                        returned_hash: r.get::<_, Option<String>>(9)?.map(ContentHash),
                    })
                },
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("the hand-in {id:?}")))
    }

    /// Saves an annotation document (the ink over a hand-in or a material).
    pub fn save_annotation(
        &self,
        id: &str,
        target: AnnotationTarget<'_>,
        document: &[u8],
        now_ms: i64,
    ) -> Result<()> {
        let (submission, material) = match target {
            AnnotationTarget::Submission(s) => (Some(s), None),
            AnnotationTarget::Material(m) => (None, Some(m)),
        };
        self.db.execute(
            "INSERT INTO annotations(id, submission_id, material_id, document, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(id) DO UPDATE SET document = ?4, updated_ms = ?5",
            params![id, submission, material, document, now_ms],
        )?;
        Ok(())
    }

    /// An annotation document.
    pub fn annotation(&self, id: &str) -> Result<Vec<u8>> {
        self.db
            .query_row(
                "SELECT document FROM annotations WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("the annotation {id:?}")))
    }

    /// One assignment, if it is set.
    pub fn assignment(&self, id: &str) -> Result<Option<Assignment>> {
        Ok(self
            .db
            .query_row(
                "SELECT id, course_id, lesson_id, title, instructions, due_ms FROM assignments
                 WHERE id = ?1",
                [id],
                assignment_row,
            )
            .optional()?)
    }

    /// A class's assignments, the latest due last (those without a date first).
    pub fn assignments(&self, course_id: &str) -> Result<Vec<Assignment>> {
        let mut stmt = self.db.prepare_cached(
            "SELECT id, course_id, lesson_id, title, instructions, due_ms FROM assignments
             WHERE course_id = ?1 ORDER BY due_ms IS NOT NULL, due_ms, title, id",
        )?;
        let rows = stmt.query_map([course_id], assignment_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// This student's hand-ins of an assignment, oldest first.
    pub fn submissions(&self, assignment_id: &str) -> Result<Vec<Submission>> {
        let ids: Vec<String> = self
            .db
            .prepare_cached(
                "SELECT id FROM submissions WHERE assignment_id = ?1 ORDER BY submitted_ms, id",
            )?
            .query_map([assignment_id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        ids.iter().map(|id| self.submission(id)).collect()
    }

    /// The teacher's marking came back: the marked copy (already saved, `hash`), the mark and
    /// the words recorded on the hand-in, which is then returned. Kept offline for good (the
    /// student's own work is never evicted).
    pub fn mark_returned(
        &self,
        submission_id: &str,
        hash: &ContentHash,
        mark: &str,
        feedback: &str,
    ) -> Result<Submission> {
        if !self.has_file(hash)? {
            return Err(StoreError::NotFound(format!("the marked copy {hash}")));
        }
        let changed = self.db.execute(
            "UPDATE submissions SET state = 'returned', returned_hash = ?2, mark = ?3,
                 feedback = ?4
             WHERE id = ?1",
            params![submission_id, hash.as_str(), mark, feedback],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!(
                "the hand-in {submission_id:?}"
            )));
        }
        self.submission(submission_id)
    }
}

fn assignment_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Assignment> {
    Ok(Assignment {
        id: r.get(0)?,
        course_id: r.get(1)?,
        lesson_id: r.get(2)?,
        title: r.get(3)?,
        instructions: r.get(4)?,
        due_ms: r.get(5)?,
    })
}
