//! A student's lesson library: the class's catalog and files, from the class server's lesson
//! service (`classroom_protocol::lessons`) into the offline store (`classroom-store`).
//!
//! Downloads resume where they stopped: each file goes to the store's `.part` file, synced
//! every [`DownloadOptions::sync_every`] bytes; a retry asks for `Range: bytes=<have>-` with
//! `If-Range: "<sha256>"`, so a server with other bytes at that address sends all of it
//! again rather than a wrong tail. A file counts as present only once the store has checked
//! its hash. Several files at once ([`DownloadOptions::concurrency`]), one bandwidth cap for
//! all of them (governor), retries with exponential backoff and jitter (backon) while the
//! network is down, progress as events (bytes, rate, time left), pause, resume and cancel.

mod homework;
mod outbox;

pub use outbox::OutboxReport;

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backon::BackoffBuilder;
use classroom_protocol::lessons::{
    CatalogLesson, CatalogMaterial, LessonCatalog, LessonUpdate, MaterialKind, is_lesson_path_id,
};
use classroom_store::{ContentHash, Course, Lesson, Material, Partial, StoreError, StoreHandle};
use futures_util::StreamExt;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, IF_RANGE, RANGE};
use serde::Serialize;
use tokio::sync::{Semaphore, mpsc, watch};

/// The class server's lesson service, and the student's token for it.
#[derive(Debug, Clone)]
pub struct LibraryServer {
    /// `https://host:port` (or `http://` on this computer).
    pub base: String,
    /// The class (the course).
    pub room: String,
    /// The student's personal token for the class.
    pub token: String,
    /// The server certificate's SHA-256 fingerprint, for a school's self-signed server.
    pub pin: Option<[u8; 32]>,
}

/// A file a teacher adds to a lesson.
#[derive(Debug, Clone)]
pub struct MaterialUpload {
    /// Its id within the lesson (replaces a material with the same id).
    pub id: String,
    /// What it is.
    pub kind: MaterialKind,
    /// Its title.
    pub title: String,
    /// Its media type.
    pub mime: String,
}

/// The lesson service's address for a class joined at the websocket URL `ws_url`: the same
/// host and port over `https` (`http` for `ws`), without the path.
pub fn lesson_base(ws_url: &str) -> Result<String, LibraryError> {
    let url = reqwest::Url::parse(ws_url)
        .map_err(|e| LibraryError::Setup(format!("{ws_url:?} is not an address: {e}")))?;
    let scheme = match url.scheme() {
        "wss" | "https" => "https",
        "ws" | "http" => "http",
        other => {
            return Err(LibraryError::Setup(format!(
                "{other}: is not a class server's scheme"
            )));
        }
    };
    // An IPv6 host comes in brackets.
    let host = url
        .host_str()
        .ok_or_else(|| LibraryError::Setup(format!("{ws_url:?} has no host")))?;
    Ok(match url.port() {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    })
}

/// How downloads behave.
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// Files fetched at once.
    pub concurrency: usize,
    /// A cap on all downloads together, bytes per second (None: as fast as the network).
    pub max_bytes_per_second: Option<u64>,
    /// Bytes written between syncs of a `.part` file: at most this much is fetched again
    /// after a power cut.
    pub sync_every: u64,
    /// Tries after the first before a file's download gives up.
    pub max_retries: usize,
    /// The first retry's delay (doubling up to `max_retry_delay`, with jitter).
    pub first_retry_delay: Duration,
    /// The longest delay between retries.
    pub max_retry_delay: Duration,
    /// A connection that sends nothing for this long is dropped and retried.
    pub stall_timeout: Duration,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        Self {
            concurrency: 3,
            max_bytes_per_second: None,
            sync_every: 1024 * 1024,
            max_retries: 12,
            first_retry_delay: Duration::from_millis(500),
            max_retry_delay: Duration::from_secs(30),
            stall_timeout: Duration::from_secs(20),
        }
    }
}

/// What a download reports as it goes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum DownloadEvent {
    /// Bytes of a lesson's files on this computer so far (at most four a second).
    #[serde(rename_all = "camelCase")]
    Progress {
        /// The lesson.
        lesson_id: String,
        /// Bytes present (all its files).
        done: u64,
        /// Bytes in all.
        total: u64,
        /// Recent rate.
        bytes_per_second: f64,
        /// At that rate.
        seconds_left: Option<f64>,
    },
    /// The network failed; trying again.
    #[serde(rename_all = "camelCase")]
    Retrying {
        /// The material.
        material_id: String,
        /// Which retry this is.
        attempt: usize,
        /// In how long.
        in_ms: u64,
        /// What went wrong.
        error: String,
    },
    /// One file is present and checked.
    #[serde(rename_all = "camelCase")]
    FileDone {
        /// The material.
        material_id: String,
    },
    /// The download is paused (bytes so far are kept).
    Paused,
    /// It goes on.
    Resumed,
}

/// The end of a lesson's download.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DownloadReport {
    /// Files fetched (those already present are not counted).
    pub files: usize,
    /// Bytes received over the network (a resumed file counts only what came again).
    pub fetched_bytes: u64,
    /// Bytes the files have in all.
    pub total_bytes: u64,
}

/// Why a download stopped.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// The network failed (retried until the retries ran out).
    #[error("the class server cannot be reached: {0}")]
    Network(String),
    /// The server answered with an error.
    #[error("the class server answered {status}: {message}")]
    Server {
        /// Its status.
        status: u16,
        /// Its words.
        message: String,
    },
    /// The server sent something that is not what was asked for.
    #[error("the class server sent something unexpected: {0}")]
    Protocol(String),
    /// The store refused (a full disk, a damaged file, ...).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Cancelled by the user; what was fetched is removed.
    #[error("the download was cancelled")]
    Cancelled,
    /// The settings cannot work (a bad address, a bad TLS setting).
    #[error("{0}")]
    Setup(String),
}

impl LibraryError {
    fn retryable(&self) -> bool {
        match self {
            LibraryError::Network(_) => true,
            LibraryError::Server { status, .. } => {
                *status >= 500 || *status == 429 || *status == 408
            }
            // A file whose bytes did not match is fetched again from the start.
            LibraryError::Store(StoreError::Corrupt { .. }) => true,
            _ => false,
        }
    }
}

/// Where downloads stand: running, paused or cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Control {
    Run,
    Pause,
    Cancel,
}

/// Downloads a class's lessons into the store.
#[derive(Clone)]
pub struct Downloader {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    server: LibraryServer,
    store: StoreHandle,
    options: DownloadOptions,
    limiter: Option<(DefaultDirectRateLimiter, NonZeroU32)>,
    control: watch::Sender<Control>,
}

impl std::fmt::Debug for Downloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Downloader")
            .field("base", &self.inner.server.base)
            .field("room", &self.inner.server.room)
            .finish_non_exhaustive()
    }
}

/// The bandwidth cap counts in KiB (governor's cells).
const CELL: u64 = 1024;

impl Downloader {
    /// A downloader for `server` into `store`.
    pub fn new(
        server: LibraryServer,
        store: StoreHandle,
        options: DownloadOptions,
    ) -> Result<Self, LibraryError> {
        if !is_lesson_path_id(&server.room) {
            return Err(LibraryError::Setup(format!(
                "{:?} is not a class id",
                server.room
            )));
        }
        let mut http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("classroom/", env!("CARGO_PKG_VERSION")));
        // Always our own TLS settings (ring, and the class's pinned certificate): reqwest is
        // built without a crypto provider of its own, and would panic building a client
        // without them, even for plain http.
        // And ring as the process's default provider, so any other reqwest client in the
        // process (the same build of reqwest, without a provider) does not panic either.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let seen = Arc::new(Mutex::new(None));
        let tls = crate::tls::client_config(server.pin, &[], seen)
            .map_err(|e| LibraryError::Setup(e.to_string()))?;
        http = http.tls_backend_preconfigured(tls);
        let http = http
            .build()
            .map_err(|e| LibraryError::Setup(format!("the HTTP client: {e}")))?;
        let limiter = options.max_bytes_per_second.map(|bps| {
            let cells = NonZeroU32::new(u32::try_from((bps / CELL).max(1)).unwrap_or(u32::MAX))
                .unwrap_or(NonZeroU32::MIN);
            // Bursts of a quarter of a second's worth: the cap holds over short spans too.
            let burst = NonZeroU32::new((cells.get() / 4).max(1)).unwrap_or(NonZeroU32::MIN);
            (
                RateLimiter::direct(Quota::per_second(cells).allow_burst(burst)),
                burst,
            )
        });
        let (control, _) = watch::channel(Control::Run);
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                server,
                store,
                options,
                limiter,
                control,
            }),
        })
    }

    /// Fetches the class's catalog and records it (lessons and materials; files are not
    /// fetched). The number of lessons.
    pub async fn refresh_catalog(&self) -> Result<usize, LibraryError> {
        let s = &self.inner.server;
        let url = format!("{}/lessons/{}", s.base, s.room);
        let response = self
            .inner
            .http
            .get(&url)
            .bearer_auth(&s.token)
            .send()
            .await
            .map_err(|e| LibraryError::Network(e.to_string()))?;
        let response = ok_or_server_error(response).await?;
        let catalog: LessonCatalog = response
            .json()
            .await
            .map_err(|e| LibraryError::Protocol(format!("the catalog: {e}")))?;
        if catalog.room != s.room {
            return Err(LibraryError::Protocol(format!(
                "asked for the class {:?}, got {:?}",
                s.room, catalog.room
            )));
        }
        let (room, base) = (s.room.clone(), s.base.clone());
        let lessons: Vec<(Lesson, Vec<Material>)> = catalog
            .lessons
            .into_iter()
            .map(|l| {
                let materials = l
                    .materials
                    .into_iter()
                    .map(|m| {
                        Ok(Material {
                            id: m.id,
                            lesson_id: l.id.clone(),
                            kind: m.kind,
                            title: m.title,
                            hash: ContentHash::parse(&m.sha256)?,
                            size: m.size,
                            mime: m.mime,
                            position: m.position,
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                Ok((
                    Lesson {
                        id: l.id,
                        course_id: room.clone(),
                        title: l.title,
                        notes: l.notes,
                        position: l.position,
                        updated_ms: l.updated_ms,
                    },
                    materials,
                ))
            })
            .collect::<Result<_, StoreError>>()?;
        let count = lessons.len();
        let assignments: Vec<_> = catalog
            .assignments
            .into_iter()
            .map(|a| homework::stored_assignment(&room, a))
            .collect();
        self.inner
            .store
            .run(move |store| {
                store.put_course(&Course {
                    id: room.clone(),
                    title: room,
                    teacher: String::new(),
                    origin: base,
                })?;
                store.put_lessons(&lessons)?;
                for a in &assignments {
                    store.put_assignment(a)?;
                }
                Ok(())
            })
            .await?;
        Ok(count)
    }

    /// Adds or changes a lesson (a teacher's or an assistant's token): its title, notes and
    /// place in the course.
    pub async fn put_lesson(
        &self,
        lesson_id: &str,
        update: &LessonUpdate,
    ) -> Result<CatalogLesson, LibraryError> {
        let s = &self.inner.server;
        if !is_lesson_path_id(lesson_id) {
            return Err(LibraryError::Setup(format!(
                "{lesson_id:?} is not a lesson id"
            )));
        }
        let request = self
            .inner
            .http
            .put(format!("{}/lessons/{}/{lesson_id}", s.base, s.room))
            .bearer_auth(&s.token)
            .json(update);
        json_answer(request, "the lesson").await
    }

    /// Uploads the file at `path` as a material of a lesson (a teacher's or an assistant's
    /// token), streamed from the disk; answers the material as the server recorded it.
    pub async fn upload_material(
        &self,
        lesson_id: &str,
        material: &MaterialUpload,
        path: &std::path::Path,
    ) -> Result<CatalogMaterial, LibraryError> {
        let s = &self.inner.server;
        for id in [lesson_id, material.id.as_str()] {
            if !is_lesson_path_id(id) {
                return Err(LibraryError::Setup(format!("{id:?} is not an id")));
            }
        }
        let (file, size) = open_for_upload(path).await?;
        let mut url = reqwest::Url::parse(&format!(
            "{}/lessons/{}/{lesson_id}/{}",
            s.base, s.room, material.id
        ))
        .map_err(|e| LibraryError::Setup(format!("the address: {e}")))?;
        url.query_pairs_mut()
            .append_pair("kind", material.kind.as_str())
            .append_pair("title", &material.title);
        let request = self
            .inner
            .http
            .put(url)
            .bearer_auth(&s.token)
            .header(reqwest::header::CONTENT_TYPE, &material.mime)
            .header(reqwest::header::CONTENT_LENGTH, size)
            .body(reqwest::Body::from(file));
        json_answer(request, "the material").await
    }

    /// Pauses every download (each keeps what it has; the connection is dropped).
    pub fn pause(&self) {
        self.inner.control.send_replace(Control::Pause);
    }

    /// Resumes paused downloads (each from where it stopped).
    pub fn resume(&self) {
        self.inner.control.send_replace(Control::Run);
    }

    /// Cancels every download: what was fetched of unfinished files is removed.
    pub fn cancel(&self) {
        self.inner.control.send_replace(Control::Cancel);
    }

    /// Downloads every file of a lesson that is not on this computer yet, reporting
    /// progress on `events`; returns when all are present (or one failed for good).
    pub async fn download_lesson(
        &self,
        lesson_id: &str,
        events: mpsc::UnboundedSender<DownloadEvent>,
    ) -> Result<DownloadReport, LibraryError> {
        if *self.inner.control.borrow() == Control::Cancel {
            self.resume();
        }
        let id = lesson_id.to_owned();
        let materials = self.inner.store.run(move |s| s.materials(&id)).await?;
        let total: u64 = materials.iter().map(|m| m.material.size).sum();
        let missing: Vec<Material> = materials
            .into_iter()
            .filter(|m| !m.offline)
            .map(|m| m.material)
            .collect();
        let present = total - missing.iter().map(|m| m.size).sum::<u64>();
        let progress = Arc::new(Progress::new(lesson_id, present, total, events.clone()));
        let permits = Arc::new(Semaphore::new(self.inner.options.concurrency.max(1)));
        let mut tasks = Vec::new();
        for material in missing {
            let (inner, progress, permits, events) = (
                self.inner.clone(),
                progress.clone(),
                permits.clone(),
                events.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let _permit = permits.acquire_owned().await;
                let fetched = fetch_with_retries(&inner, &material, &progress, &events).await?;
                let _ = events.send(DownloadEvent::FileDone {
                    material_id: material.id.clone(),
                });
                Ok::<u64, LibraryError>(fetched)
            }));
        }
        let mut report = DownloadReport {
            files: tasks.len(),
            fetched_bytes: 0,
            total_bytes: total,
        };
        let mut first_error = None;
        for task in tasks {
            match task.await {
                Ok(Ok(fetched)) => report.fetched_bytes += fetched,
                Ok(Err(e)) => {
                    // One file failed for good: the others stop too (their bytes are kept).
                    if first_error.is_none() && !matches!(e, LibraryError::Cancelled) {
                        self.pause();
                    }
                    first_error.get_or_insert(e);
                }
                Err(e) => {
                    first_error.get_or_insert(LibraryError::Protocol(format!("a task: {e}")));
                }
            }
        }
        if let Some(e) = first_error {
            if !matches!(e, LibraryError::Cancelled) {
                self.resume();
            }
            return Err(e);
        }
        progress.report(true);
        Ok(report)
    }
}

/// A lesson's bytes present, shared by its files' tasks, reported at most four times a
/// second.
struct Progress {
    lesson_id: String,
    total: u64,
    events: mpsc::UnboundedSender<DownloadEvent>,
    state: Mutex<ProgressState>,
}

struct ProgressState {
    done: u64,
    last_report: Option<Instant>,
    /// (when, done) samples of the last few seconds, for the rate.
    window: std::collections::VecDeque<(Instant, u64)>,
}

impl Progress {
    fn new(
        lesson_id: &str,
        done: u64,
        total: u64,
        events: mpsc::UnboundedSender<DownloadEvent>,
    ) -> Self {
        Self {
            lesson_id: lesson_id.to_owned(),
            total,
            events,
            state: Mutex::new(ProgressState {
                done,
                last_report: None,
                window: std::collections::VecDeque::new(),
            }),
        }
    }

    fn add(&self, bytes: u64) {
        if let Ok(mut s) = self.state.lock() {
            s.done += bytes;
        }
        self.report(false);
    }

    /// A file started again from the start: its bytes no longer count.
    fn take_back(&self, bytes: u64) {
        if let Ok(mut s) = self.state.lock() {
            s.done = s.done.saturating_sub(bytes);
        }
    }

    fn report(&self, always: bool) {
        let Ok(mut s) = self.state.lock() else { return };
        let now = Instant::now();
        if !always
            && s.last_report
                .is_some_and(|t| now - t < Duration::from_millis(250))
        {
            return;
        }
        s.last_report = Some(now);
        let done = s.done;
        s.window.push_back((now, done));
        while s.window.len() > 2 && now - s.window[0].0 > Duration::from_secs(3) {
            s.window.pop_front();
        }
        let (t0, d0) = s.window[0];
        let secs = (now - t0).as_secs_f64();
        let rate = if secs > 0.2 {
            (done - d0.min(done)) as f64 / secs
        } else {
            0.0
        };
        let left = self.total.saturating_sub(done);
        let _ = self.events.send(DownloadEvent::Progress {
            lesson_id: self.lesson_id.clone(),
            done,
            total: self.total,
            bytes_per_second: rate,
            seconds_left: (rate > 0.0).then(|| left as f64 / rate),
        });
    }
}

/// Waits while paused; errors when cancelled. Reports the pause and the resume.
async fn wait_if_paused(
    inner: &Inner,
    events: &mpsc::UnboundedSender<DownloadEvent>,
) -> Result<(), LibraryError> {
    let mut rx = inner.control.subscribe();
    let mut reported = false;
    loop {
        match *rx.borrow_and_update() {
            Control::Run => {
                if reported {
                    let _ = events.send(DownloadEvent::Resumed);
                }
                return Ok(());
            }
            Control::Cancel => return Err(LibraryError::Cancelled),
            Control::Pause => {
                if !reported {
                    let _ = events.send(DownloadEvent::Paused);
                    reported = true;
                }
            }
        }
        if rx.changed().await.is_err() {
            return Err(LibraryError::Cancelled);
        }
    }
}

async fn fetch_with_retries(
    inner: &Arc<Inner>,
    material: &Material,
    progress: &Progress,
    events: &mpsc::UnboundedSender<DownloadEvent>,
) -> Result<u64, LibraryError> {
    let o = &inner.options;
    let mut delays = backon::ExponentialBuilder::default()
        .with_min_delay(o.first_retry_delay)
        .with_max_delay(o.max_retry_delay)
        .with_max_times(o.max_retries)
        .with_jitter()
        .build();
    let mut fetched = 0u64;
    let mut attempt = 0usize;
    loop {
        if let Err(e) = wait_if_paused(inner, events).await {
            let hash = material.hash.clone();
            let _ = inner.store.run(move |s| s.cancel_download(&hash)).await;
            return Err(e);
        }
        match fetch_once(inner, material, progress, &mut fetched).await {
            Ok(()) => return Ok(fetched),
            Err(Stop::Paused) => continue,
            Err(Stop::Failed(e)) if e.retryable() => {
                let Some(delay) = delays.next() else {
                    return Err(e);
                };
                attempt += 1;
                let _ = events.send(DownloadEvent::Retrying {
                    material_id: material.id.clone(),
                    attempt,
                    in_ms: delay.as_millis() as u64,
                    error: e.to_string(),
                });
                // Cancel cuts the wait short.
                let mut rx = inner.control.subscribe();
                let _ = tokio::time::timeout(delay, async {
                    while rx.changed().await.is_ok() {
                        if *rx.borrow() == Control::Cancel {
                            return;
                        }
                    }
                })
                .await;
            }
            Err(Stop::Failed(e)) => return Err(e),
        }
    }
}

/// Why one attempt stopped.
enum Stop {
    /// Paused: the bytes so far are kept, the connection dropped.
    Paused,
    Failed(LibraryError),
}

impl<E: Into<LibraryError>> From<E> for Stop {
    fn from(e: E) -> Self {
        Stop::Failed(e.into())
    }
}

/// One request for the rest of a file, written to its `.part` file as it comes.
async fn fetch_once(
    inner: &Arc<Inner>,
    material: &Material,
    progress: &Progress,
    fetched: &mut u64,
) -> Result<(), Stop> {
    let (hash, size) = (material.hash.clone(), material.size);
    let mut partial = {
        let hash = hash.clone();
        inner
            .store
            .run(move |s| s.begin_download(&hash, size))
            .await?
    };
    let offset = partial.offset();
    if offset < size {
        let s = &inner.server;
        let etag = format!("\"{hash}\"");
        let mut request = inner
            .http
            .get(format!("{}/files/{}/{hash}", s.base, s.room))
            .bearer_auth(&s.token);
        if offset > 0 {
            request = request
                .header(RANGE, format!("bytes={offset}-"))
                .header(IF_RANGE, &etag);
        }
        let response = request
            .send()
            .await
            .map_err(|e| LibraryError::Network(e.to_string()))?;
        let response = match response.status() {
            StatusCode::PARTIAL_CONTENT => {
                let range = response
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !range.starts_with(&format!("bytes {offset}-")) {
                    return Err(LibraryError::Protocol(format!(
                        "asked for bytes from {offset}, got {range:?}"
                    ))
                    .into());
                }
                response
            }
            StatusCode::OK => {
                if offset > 0 {
                    // The server sends all of it: start the file again.
                    partial = restart(inner, partial).await?;
                    progress.take_back(offset);
                }
                response
            }
            StatusCode::RANGE_NOT_SATISFIABLE => {
                restart(inner, partial).await?;
                progress.take_back(offset);
                return Err(LibraryError::Server {
                    status: 416,
                    message: "the file is shorter than what was here; fetched again".into(),
                }
                .into());
            }
            _ => {
                ok_or_server_error(response).await?;
                return Err(LibraryError::Protocol("an unexpected status".into()).into());
            }
        };
        let mut control = inner.control.subscribe();
        let mut body = response.bytes_stream();
        let mut unsynced = 0u64;
        loop {
            let next = tokio::select! {
                next = tokio::time::timeout(inner.options.stall_timeout, body.next()) => next,
                _ = control.changed() => {
                    if *control.borrow() != Control::Run {
                        sync(partial).await?;
                        return Err(Stop::Paused);
                    }
                    continue;
                }
            };
            let chunk = match next {
                Err(_) => {
                    return Err(LibraryError::Network("the download stalled".into()).into());
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    let _ = sync(partial).await;
                    return Err(LibraryError::Network(e.to_string()).into());
                }
                Ok(Some(Ok(chunk))) => chunk,
            };
            // Under a cap, a chunk goes in pieces of one burst each, so a pause takes
            // effect within a burst's time (the rest of the chunk is asked for again).
            let mut rest = chunk;
            while !rest.is_empty() {
                if *control.borrow() != Control::Run {
                    sync(partial).await?;
                    return Err(Stop::Paused);
                }
                let take = match &inner.limiter {
                    Some((limiter, burst)) => {
                        let take = rest.len().min((u64::from(burst.get()) * CELL) as usize);
                        let cells = (take as u64).div_ceil(CELL) as u32;
                        let _ = limiter
                            .until_n_ready(NonZeroU32::new(cells).unwrap_or(NonZeroU32::MIN))
                            .await;
                        take
                    }
                    None => rest.len(),
                };
                let piece = rest.split_to(take);
                let len = piece.len() as u64;
                partial = tokio::task::spawn_blocking(move || {
                    partial.write(&piece)?;
                    Ok::<Partial, StoreError>(partial)
                })
                .await
                .map_err(|e| LibraryError::Protocol(format!("a write task: {e}")))??;
                *fetched += len;
                unsynced += len;
                progress.add(len);
            }
            if unsynced >= inner.options.sync_every {
                partial = sync(partial).await?;
                unsynced = 0;
            }
        }
    }
    if partial.offset() != size {
        let have = partial.offset();
        let _ = sync(partial).await;
        return Err(
            LibraryError::Network(format!("the file ended at {have} of {size} bytes")).into(),
        );
    }
    let finished = inner.store.run(move |s| s.finish_download(partial)).await;
    if let Err(StoreError::Corrupt { .. }) = &finished {
        // Removed by the store: the next try starts from nothing.
        progress.take_back(size);
    }
    finished?;
    Ok(())
}

async fn sync(mut partial: Partial) -> Result<Partial, LibraryError> {
    tokio::task::spawn_blocking(move || {
        partial.sync()?;
        Ok::<Partial, StoreError>(partial)
    })
    .await
    .map_err(|e| LibraryError::Protocol(format!("a sync task: {e}")))?
    .map_err(LibraryError::from)
}

/// Drops a `.part` file and opens it again empty.
async fn restart(inner: &Inner, partial: Partial) -> Result<Partial, LibraryError> {
    let (hash, size) = (partial.hash().clone(), partial.size());
    drop(partial);
    Ok(inner
        .store
        .run(move |s| {
            s.cancel_download(&hash)?;
            s.begin_download(&hash, size)
        })
        .await?)
}

/// A file to send as a request's body, and its length.
async fn open_for_upload(path: &std::path::Path) -> Result<(tokio::fs::File, u64), LibraryError> {
    let setup = |e: std::io::Error| LibraryError::Setup(format!("{}: {e}", path.display()));
    let file = tokio::fs::File::open(path).await.map_err(setup)?;
    let size = file.metadata().await.map_err(setup)?.len();
    Ok((file, size))
}

/// Sends `request` and reads the JSON of a successful answer (`what` names it in errors).
async fn json_answer<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
    what: &str,
) -> Result<T, LibraryError> {
    let response = request
        .send()
        .await
        .map_err(|e| LibraryError::Network(e.to_string()))?;
    ok_or_server_error(response)
        .await?
        .json()
        .await
        .map_err(|e| LibraryError::Protocol(format!("{what}: {e}")))
}

/// The response when it is a success; otherwise the server's status and words.
async fn ok_or_server_error(
    response: reqwest::Response,
) -> Result<reqwest::Response, LibraryError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let words = response.text().await.unwrap_or_default();
    Err(LibraryError::Server {
        status: status.as_u16(),
        message: words.trim().chars().take(300).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lesson_service_is_on_the_signaling_port() {
        for (ws, base) in [
            ("wss://192.168.1.10:8443/ws", "https://192.168.1.10:8443"),
            ("ws://127.0.0.1:9000/ws?x=1", "http://127.0.0.1:9000"),
            ("wss://school.example/ws", "https://school.example"),
            ("ws://[::1]:80/ws", "http://[::1]"),
            ("wss://[fe80::1]:8443/ws", "https://[fe80::1]:8443"),
        ] {
            assert_eq!(lesson_base(ws).expect(ws), base);
        }
        for bad in ["ftp://x/ws", "not a url", "mailto:a@b"] {
            assert!(lesson_base(bad).is_err(), "{bad}");
        }
    }
}
