//! Homework through the lesson service: the teacher sets it and returns hand-ins marked; a
//! student's marked work comes back into their library, where it stays offline.

use classroom_protocol::lessons::{
    AssignmentUpdate, CatalogAssignment, HandIn, HandIns, assignment_path, file_path,
    hand_ins_path, is_lesson_path_id, return_path,
};
use classroom_store::{Assignment, ContentHash, SubmissionState};

use super::{Downloader, LibraryError, json_answer, ok_or_server_error};

/// The largest hand-in or marked copy fetched into memory (a page photo, a PDF).
const MAX_FETCH_BYTES: u64 = 200 * 1024 * 1024;

/// The store's record of an assignment of the class `room`.
pub(super) fn stored_assignment(room: &str, a: CatalogAssignment) -> Assignment {
    Assignment {
        id: a.id,
        course_id: room.to_owned(),
        lesson_id: None,
        title: a.title,
        instructions: a.instructions,
        due_ms: a.due_ms,
    }
}

impl Downloader {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.inner.server.base)
    }

    /// Sets or changes homework (a teacher's or an assistant's token); it is also recorded in
    /// this library, so it is listed at once.
    pub async fn put_assignment(
        &self,
        id: &str,
        update: &AssignmentUpdate,
    ) -> Result<CatalogAssignment, LibraryError> {
        let s = &self.inner.server;
        if !is_lesson_path_id(id) {
            return Err(LibraryError::Setup(format!(
                "{id:?} is not an assignment id"
            )));
        }
        let request = self
            .inner
            .http
            .put(self.url(&assignment_path(&s.room, id)))
            .bearer_auth(&s.token)
            .json(update);
        let set: CatalogAssignment = json_answer(request, "the homework").await?;
        let stored = stored_assignment(&s.room, set.clone());
        let course = s.room.clone();
        self.inner
            .store
            .run(move |store| {
                store.put_course(&classroom_store::Course {
                    id: course.clone(),
                    title: course,
                    teacher: String::new(),
                    origin: String::new(),
                })?;
                store.put_assignment(&stored)
            })
            .await?;
        Ok(set)
    }

    /// The class's hand-ins: all of them for the staff, a student's own for a student.
    pub async fn hand_ins(&self) -> Result<Vec<HandIn>, LibraryError> {
        let s = &self.inner.server;
        let request = self
            .inner
            .http
            .get(self.url(&hand_ins_path(&s.room)))
            .bearer_auth(&s.token);
        let list: HandIns = json_answer(request, "the hand-ins").await?;
        Ok(list.hand_ins)
    }

    /// A file of the class by its content hash (a hand-in to mark, a marked copy), read into
    /// memory and checked against the hash.
    pub async fn fetch_file(&self, sha256: &str) -> Result<Vec<u8>, LibraryError> {
        let s = &self.inner.server;
        let hash = ContentHash::parse(sha256)?;
        let response = self
            .inner
            .http
            .get(self.url(&file_path(&s.room, sha256)))
            .bearer_auth(&s.token)
            .send()
            .await
            .map_err(|e| LibraryError::Network(e.to_string()))?;
        let mut response = ok_or_server_error(response).await?;
        if response
            .content_length()
            .is_some_and(|n| n > MAX_FETCH_BYTES)
        {
            return Err(LibraryError::Protocol(format!(
                "the file is larger than {MAX_FETCH_BYTES} bytes"
            )));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| LibraryError::Network(e.to_string()))?
        {
            if bytes.len() as u64 + chunk.len() as u64 > MAX_FETCH_BYTES {
                return Err(LibraryError::Protocol(format!(
                    "the file is larger than {MAX_FETCH_BYTES} bytes"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        if ContentHash::of(&bytes) != hash {
            return Err(LibraryError::Protocol(
                "the file does not match its hash".into(),
            ));
        }
        Ok(bytes)
    }

    /// Returns a hand-in marked (a teacher's or an assistant's token): the marked copy (a
    /// marked photo as PNG, or a marked PDF), the mark and the words.
    pub async fn return_marked(
        &self,
        key: &str,
        mark: &str,
        feedback: &str,
        marked: Vec<u8>,
    ) -> Result<HandIn, LibraryError> {
        let s = &self.inner.server;
        if !is_lesson_path_id(key) {
            return Err(LibraryError::Setup(format!("{key:?} is not a hand-in")));
        }
        let mut url = reqwest::Url::parse(&self.url(&return_path(&s.room, key)))
            .map_err(|e| LibraryError::Setup(format!("the address: {e}")))?;
        url.query_pairs_mut()
            .append_pair("mark", mark)
            .append_pair("feedback", feedback);
        let request = self
            .inner
            .http
            .put(url)
            .bearer_auth(&s.token)
            .header(
                reqwest::header::CONTENT_TYPE,
                classroom_store::marked_copy_type(&marked),
            )
            .body(marked);
        json_answer(request, "the marked hand-in").await
    }

    /// Brings the teacher's marking of this student's hand-ins into the library: each marked
    /// copy fetched, checked and kept, and the hand-in recorded as returned. The number newly
    /// returned.
    pub async fn sync_returns(&self) -> Result<usize, LibraryError> {
        let mut returned = 0;
        for hand_in in self.hand_ins().await? {
            let Some(marking) = hand_in.returned else {
                continue;
            };
            let key = hand_in.key.clone();
            let local = self
                .inner
                .store
                .run(move |s| match s.submission(&key) {
                    Ok(sub) => Ok(Some(sub)),
                    Err(classroom_store::StoreError::NotFound(_)) => Ok(None),
                    Err(e) => Err(e),
                })
                .await?;
            // Only this computer's own hand-ins, and only a marking not recorded yet.
            let Some(local) = local else { continue };
            let hash = ContentHash::parse(&marking.sha256)?;
            if local.state == SubmissionState::Returned
                && local.returned_hash.as_ref() == Some(&hash)
                && local.mark.as_deref() == Some(marking.mark.as_str())
                && local.feedback.as_deref() == Some(marking.feedback.as_str())
            {
                continue;
            }
            let have = {
                let hash = hash.clone();
                self.inner.store.run(move |s| s.has_file(&hash)).await?
            };
            if !have {
                let bytes = self.fetch_file(&marking.sha256).await?;
                self.inner.store.run(move |s| s.save_bytes(&bytes)).await?;
            }
            let id = local.id;
            self.inner
                .store
                .run(move |s| s.mark_returned(&id, &hash, &marking.mark, &marking.feedback))
                .await?;
            returned += 1;
        }
        Ok(returned)
    }
}
