//! Sending what a student did offline: the store's outbox, item by item, to the class
//! server, each with its idempotency key (the server records a key once, so an item sent
//! again after a lost answer or a crash between sending and marking it sent is not doubled).

use classroom_protocol::lessons::{HandIn, homework_path};
use classroom_store::ContentHash;
use serde::{Deserialize, Serialize};

use super::{Downloader, LibraryError, json_answer, open_for_upload};

/// What one pass over the outbox did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxReport {
    /// Items the server took.
    pub sent: usize,
    /// Items that failed this time (tried again after the store's backoff).
    pub failed: usize,
    /// Items still queued.
    pub left: u64,
}

/// A hand-in as the store queues it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubmissionPayload {
    assignment_id: String,
    hash: String,
    file_name: String,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Downloader {
    /// Sends every queued item that is due, oldest first. A network failure stops the pass
    /// (the rest would fail the same way); a refusal is recorded on its item and the pass
    /// goes on.
    pub async fn send_outbox(&self) -> Result<OutboxReport, LibraryError> {
        let store = &self.inner.store;
        let now = now_ms();
        let due = store.run(move |s| s.outbox_due(now, 50)).await?;
        let mut report = OutboxReport::default();
        for item in due {
            let outcome = match item.kind.as_str() {
                "submission" => self.send_submission(&item.key, &item.payload).await,
                other => Err(LibraryError::Protocol(format!(
                    "this version cannot send {other:?}"
                ))),
            };
            let key = item.key.clone();
            match outcome {
                Ok(()) => {
                    store.run(move |s| s.outbox_sent(&key)).await?;
                    report.sent += 1;
                }
                Err(e) => {
                    let (why, network) = (e.to_string(), matches!(e, LibraryError::Network(_)));
                    store
                        .run(move |s| s.outbox_failed(&key, &why, now_ms()))
                        .await?;
                    report.failed += 1;
                    if network {
                        break;
                    }
                }
            }
        }
        report.left = store.run(|s| s.outbox_len()).await?;
        Ok(report)
    }

    /// Sends one hand-in (its file read through and checked first).
    async fn send_submission(&self, key: &str, payload: &str) -> Result<(), LibraryError> {
        let p: SubmissionPayload = serde_json::from_str(payload)
            .map_err(|e| LibraryError::Protocol(format!("a queued hand-in: {e}")))?;
        let hash = ContentHash::parse(&p.hash)?;
        let path = {
            let hash = hash.clone();
            self.inner.store.run(move |s| s.open_file(&hash)).await?
        };
        let (file, size) = open_for_upload(&path).await?;
        let s = &self.inner.server;
        let mut url = reqwest::Url::parse(&format!(
            "{}{}",
            s.base,
            homework_path(&s.room, &p.assignment_id, key)
        ))
        .map_err(|e| LibraryError::Setup(format!("the address: {e}")))?;
        url.query_pairs_mut().append_pair("name", &p.file_name);
        let request = self
            .inner
            .http
            .put(url)
            .bearer_auth(&s.token)
            .header(reqwest::header::CONTENT_LENGTH, size)
            .body(reqwest::Body::from(file));
        let recorded: HandIn = json_answer(request, "the hand-in").await?;
        if recorded.sha256 != hash.as_str() || recorded.key != key {
            return Err(LibraryError::Protocol(format!(
                "the server recorded {} for {}",
                recorded.sha256, recorded.key
            )));
        }
        Ok(())
    }
}
