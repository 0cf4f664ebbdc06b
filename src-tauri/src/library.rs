//! The offline library: the lessons of the classes this app has been in, their files on this
//! computer, downloads with progress, and a teacher's lessons and materials.
//!
//! Plain Rust over `classroom-store` (the database and files in the app's data folder) and
//! `classroom_client::library` (the class server's lesson service); the commands in
//! [`crate::commands`] are thin adapters over [`LibraryController`]. Downloads run on tasks
//! of their own and report through a [`LibraryNotifier`] (the app sends each update to the
//! page as the `library-changed` event).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use classroom_client::library::{
    DownloadEvent, DownloadOptions, Downloader, LibraryError, LibraryServer, MaterialUpload,
    lesson_base,
};
use classroom_protocol::lessons::{LessonUpdate, MaterialKind, is_lesson_path_id};
use classroom_store::{StoreError, StoreHandle, StoreOptions};
use serde::Serialize;
use tokio::sync::mpsc;
use ts_rs::TS;

use crate::AppError;
use crate::class::LessonAccess;

mod homework;
mod recordings;
pub use homework::{
    AssignmentView, HandInView, HomeworkView, MAX_HAND_IN_BYTES, OwnHandInView, prepare_hand_in,
};

/// The library as the library screen shows it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct LibraryView {
    /// The classes, each with its lessons.
    pub courses: Vec<CourseView>,
    /// Room taken and the limit.
    pub usage: UsageView,
    /// The class whose lessons can be fetched now (the class this app is in, or was in
    /// during this run); None: only what is on this computer.
    pub source: Option<String>,
    /// The source takes new lessons and materials from this app (a teacher).
    pub staff: bool,
}

/// A class's lessons.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CourseView {
    /// The class (room).
    pub id: String,
    /// Its name.
    pub title: String,
    /// Its lessons, in order.
    pub lessons: Vec<LessonView>,
}

/// One lesson in the library.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct LessonView {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Kept whatever the size limit says.
    pub pinned: bool,
    /// Files.
    pub materials: u32,
    /// Files on this computer.
    pub materials_offline: u32,
    /// Bytes in all.
    #[ts(type = "number")]
    pub bytes: u64,
    /// Bytes on this computer.
    #[ts(type = "number")]
    pub bytes_offline: u64,
    /// Every file is on this computer.
    pub offline: bool,
    /// A download under way.
    pub download: Option<DownloadView>,
}

/// A download under way.
#[derive(Debug, Clone, PartialEq, Default, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DownloadView {
    /// Bytes present.
    #[ts(type = "number")]
    pub done: u64,
    /// Bytes in all.
    #[ts(type = "number")]
    pub total: u64,
    /// Recent rate.
    pub bytes_per_second: f64,
    /// At that rate.
    pub seconds_left: Option<f64>,
    /// Paused by the person.
    pub paused: bool,
    /// The network failed and the download tries again: why.
    pub retrying: Option<String>,
}

/// Room taken by the library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UsageView {
    /// Bytes of files on this computer.
    #[ts(type = "number")]
    pub bytes: u64,
    /// Of those, bytes that eviction never takes (pinned lessons, the student's own work).
    #[ts(type = "number")]
    pub kept_bytes: u64,
    /// The size limit, if any.
    #[ts(type = "number | null")]
    pub quota: Option<u64>,
}

impl From<classroom_store::Usage> for UsageView {
    fn from(u: classroom_store::Usage) -> Self {
        Self {
            bytes: u.bytes,
            kept_bytes: u.kept_bytes,
            quota: u.quota,
        }
    }
}

/// One file of a lesson.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct MaterialView {
    /// Its id within the lesson.
    pub id: String,
    /// What it is.
    pub kind: MaterialKind,
    /// Its title.
    pub title: String,
    /// Bytes.
    #[ts(type = "number")]
    pub size: u64,
    /// Its media type.
    pub mime: String,
    /// On this computer (checked when it was saved; checked again when opened).
    pub offline: bool,
}

/// A lesson whose title or notes have the words searched for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SearchHitView {
    /// The lesson.
    pub lesson_id: String,
    /// Its class.
    pub course_id: String,
    /// Its title.
    pub title: String,
    /// Where the words were found in its notes, each between `[` and `]`.
    pub snippet: String,
}

/// The longest search accepted, in characters.
pub const MAX_SEARCH_CHARS: usize = 200;

/// What changed in the library: the `library-changed` event's payload.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum LibraryUpdate {
    /// A lesson's download moved on (or paused, or is retrying).
    #[serde(rename_all = "camelCase")]
    Progress {
        /// The lesson.
        lesson_id: String,
        /// Where it stands.
        download: DownloadView,
    },
    /// A lesson's download ended: every file is on this computer.
    #[serde(rename_all = "camelCase")]
    Done {
        /// The lesson.
        lesson_id: String,
    },
    /// A lesson's download stopped for good (or was cancelled: kind `cancelled`).
    #[serde(rename_all = "camelCase")]
    Failed {
        /// The lesson.
        lesson_id: String,
        /// Why.
        error: AppError,
    },
    /// The catalog, the limit or the files changed: read the library again.
    Changed,
}

/// Called with every [`LibraryUpdate`], from the download tasks.
pub type LibraryNotifier = Arc<dyn Fn(&LibraryUpdate) + Send + Sync>;

/// A material a teacher is sending from the page, piece by piece, before it goes to the
/// class server.
struct Upload {
    path: PathBuf,
    written: u64,
    file: std::fs::File,
}

/// An upload's temporary file goes with it: sent, refused, replaced or abandoned.
impl Drop for Upload {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The largest file the page may hand over for a lesson (the lesson service's own cap).
pub const MAX_UPLOAD_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// The largest piece of an upload in one call.
pub const MAX_UPLOAD_PIECE: usize = 16 * 1024 * 1024;

/// The largest file the library hands the page to show in the app.
pub const MAX_VIEW_BYTES: u64 = 512 * 1024 * 1024;

/// The offline library and its downloads.
#[derive(Default)]
pub struct LibraryController {
    dir: Option<PathBuf>,
    store: tokio::sync::OnceCell<StoreHandle>,
    /// The last class whose lesson service this app could reach, this run.
    source: Mutex<Option<LessonAccess>>,
    /// Lessons downloading now: their downloader (pause, resume, cancel) and where they stand.
    downloads: Arc<Mutex<HashMap<String, Running>>>,
    notify: Mutex<Option<LibraryNotifier>>,
    uploads: Mutex<HashMap<String, Upload>>,
    /// The hand-in a teacher has open for marking.
    marking: Mutex<Option<homework::Marking>>,
    outbox_started: std::sync::atomic::AtomicBool,
    /// The library's files to the page's `<video>` and `<audio>`, over loopback HTTP.
    local: tokio::sync::OnceCell<classroom_sfu::local_files::LocalFiles>,
}

/// How often queued work is sent while a class's server is known.
const OUTBOX_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

struct Running {
    downloader: Downloader,
    view: DownloadView,
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Now, in milliseconds since the Unix epoch (0 before it): the store's times.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The store's errors in the words the page picks its sentence by.
pub fn store_error(e: StoreError) -> AppError {
    match e {
        e if e.is_disk_full() => AppError::DiskFull(e.to_string()),
        StoreError::Corrupt { .. } => AppError::Damaged(e.to_string()),
        StoreError::NotFound(_) | StoreError::Invalid(_) => AppError::Invalid(e.to_string()),
        e => AppError::Storage(e.to_string()),
    }
}

/// The downloader's errors in the words the page picks its sentence by.
pub fn library_error(e: LibraryError) -> AppError {
    match e {
        LibraryError::Network(m) => AppError::Connection(m),
        LibraryError::Server { status, message } if status == 401 || status == 403 => {
            AppError::Refused(message)
        }
        LibraryError::Server {
            status: 507,
            message,
        } => AppError::DiskFull(message),
        e @ (LibraryError::Server { .. } | LibraryError::Protocol(_)) => {
            AppError::Connection(e.to_string())
        }
        LibraryError::Store(e) => store_error(e),
        LibraryError::Cancelled => AppError::Cancelled("The download was cancelled.".into()),
        LibraryError::Setup(m) => AppError::Internal(m),
    }
}

impl LibraryController {
    /// A library kept in `dir` (the app's data folder); None: no library (a broken home).
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self {
            dir,
            ..Self::default()
        }
    }

    /// Calls `notify` with every update (the app sends them to the page).
    pub fn on_update(&self, notify: LibraryNotifier) {
        *locked(&self.notify) = Some(notify);
    }

    fn emit(&self, update: &LibraryUpdate) {
        if let Some(notify) = locked(&self.notify).clone() {
            notify(update);
        }
    }

    /// The store, opened on first use (a crash's leftovers are repaired then).
    pub async fn store(&self) -> Result<StoreHandle, AppError> {
        let dir = self.dir.clone().ok_or_else(|| {
            AppError::Storage("This computer gives the app no data folder.".into())
        })?;
        self.store
            .get_or_try_init(|| async move {
                let opened = crate::error::blocking("opening the library", move || {
                    StoreHandle::open(dir, StoreOptions::default())
                })
                .await?;
                let store = opened.map_err(store_error)?;
                let recovery = store.run(|s| Ok(s.recovery())).await.map_err(store_error)?;
                if recovery != Default::default() {
                    eprintln!("classroom-app: the library was repaired on opening: {recovery:?}");
                }
                let adopted = store
                    .run(|s| Ok(recordings::adopt_recordings(s)))
                    .await
                    .map_err(store_error)?;
                if adopted > 0 {
                    eprintln!("classroom-app: kept {adopted} recording(s) cut short last time");
                }
                Ok(store)
            })
            .await
            .cloned()
    }

    /// Remembers the lesson service of the class this app is in (`None` keeps the last one:
    /// downloads can go on after the class, as long as the server answers). The first one
    /// starts the outbox's sender.
    pub fn set_source(self: &Arc<Self>, access: Option<LessonAccess>) {
        let Some(access) = access else { return };
        *locked(&self.source) = Some(access);
        if !self
            .outbox_started
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            let weak = Arc::downgrade(self);
            tokio::spawn(async move {
                loop {
                    let Some(this) = weak.upgrade() else { return };
                    this.send_outbox().await;
                    drop(this);
                    tokio::time::sleep(OUTBOX_EVERY).await;
                }
            });
        }
    }

    /// Sends what was done offline (hand-ins) to the class's server, once each; what fails
    /// stays queued for the next pass.
    pub async fn send_outbox(&self) {
        let (Some(store), Ok(access)) = (self.store.get().cloned(), self.source()) else {
            return;
        };
        match store.run(|s| s.outbox_len()).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let Ok(client) = self.downloader(&access, None) else {
            return;
        };
        match client.send_outbox().await {
            Ok(report) if report.sent > 0 => self.emit(&LibraryUpdate::Changed),
            Ok(_) => {}
            Err(e) => eprintln!("classroom-app: the outbox: {e}"),
        }
    }

    fn source(&self) -> Result<LessonAccess, AppError> {
        locked(&self.source).clone().ok_or_else(|| {
            AppError::NotInClass(
                "Join a class to get its lessons; what is on this computer opens without one."
                    .into(),
            )
        })
    }

    fn downloader(
        &self,
        access: &LessonAccess,
        limit: Option<u64>,
    ) -> Result<Downloader, AppError> {
        let store = self
            .store
            .get()
            .cloned()
            .ok_or_else(|| AppError::Internal("the library is not open".into()))?;
        let base = lesson_base(&access.url).map_err(library_error)?;
        Downloader::new(
            LibraryServer {
                base,
                room: access.room.clone(),
                token: access.token.clone(),
                pin: access.pin,
            },
            store,
            DownloadOptions {
                max_bytes_per_second: limit,
                ..DownloadOptions::default()
            },
        )
        .map_err(library_error)
    }

    /// The library: every class's lessons with what is on this computer, downloads under
    /// way, the room taken.
    pub async fn view(&self) -> Result<LibraryView, AppError> {
        let store = self.store().await?;
        let (courses, usage) = store
            .run(|s| {
                let mut courses = Vec::new();
                for course in s.courses()? {
                    let lessons = s.lessons(Some(&course.id))?;
                    courses.push((course, lessons));
                }
                Ok((courses, s.usage()?))
            })
            .await
            .map_err(store_error)?;
        let downloads = locked(&self.downloads);
        let courses = courses
            .into_iter()
            .map(|(course, lessons)| CourseView {
                id: course.id,
                title: course.title,
                lessons: lessons
                    .into_iter()
                    .map(|l| LessonView {
                        offline: l.offline(),
                        download: downloads.get(&l.id).map(|r| r.view.clone()),
                        id: l.id,
                        title: l.title,
                        pinned: l.pinned,
                        materials: l.materials,
                        materials_offline: l.materials_offline,
                        bytes: l.bytes,
                        bytes_offline: l.bytes_offline,
                    })
                    .collect(),
            })
            .collect();
        let source = locked(&self.source).clone();
        Ok(LibraryView {
            courses,
            usage: usage.into(),
            staff: source.as_ref().is_some_and(|s| s.staff),
            source: source.map(|s| s.room),
        })
    }

    /// Fetches the class's catalog into the library.
    pub async fn refresh(&self) -> Result<LibraryView, AppError> {
        self.store().await?;
        let access = self.source()?;
        let downloader = self.downloader(&access, None)?;
        downloader.refresh_catalog().await.map_err(library_error)?;
        self.view().await
    }

    /// Lessons whose title or notes have every word of `query` (any script; Chinese words
    /// anywhere), best first; at most 50.
    pub async fn search(&self, query: &str) -> Result<Vec<SearchHitView>, AppError> {
        if query.chars().count() > MAX_SEARCH_CHARS {
            return Err(AppError::Invalid(format!(
                "a search is at most {MAX_SEARCH_CHARS} characters"
            )));
        }
        let store = self.store().await?;
        let query = query.to_owned();
        let hits = store
            .run(move |s| s.search(&query, 50))
            .await
            .map_err(store_error)?;
        Ok(hits
            .into_iter()
            .map(|h| SearchHitView {
                lesson_id: h.lesson_id,
                course_id: h.course_id,
                title: h.title,
                snippet: h.snippet,
            })
            .collect())
    }

    /// A lesson's files and whether each is on this computer.
    pub async fn materials(&self, lesson_id: &str) -> Result<Vec<MaterialView>, AppError> {
        let store = self.store().await?;
        let id = lesson_id.to_owned();
        let materials = store
            .run(move |s| s.materials(&id))
            .await
            .map_err(store_error)?;
        Ok(materials
            .into_iter()
            .map(|m| MaterialView {
                id: m.material.id,
                kind: m.material.kind,
                title: m.material.title,
                size: m.material.size,
                mime: m.material.mime,
                offline: m.offline,
            })
            .collect())
    }

    /// Starts fetching every file of a lesson not on this computer yet, at most `limit` bytes
    /// a second; returns at once (progress comes as updates). Room is made under the size
    /// limit first (least recently used lessons go); a lesson already downloading is left
    /// as it is.
    pub async fn download(
        self: &Arc<Self>,
        lesson_id: &str,
        limit: Option<u64>,
    ) -> Result<(), AppError> {
        let store = self.store().await?;
        let access = self.source()?;
        if locked(&self.downloads).contains_key(lesson_id) {
            return Ok(());
        }
        let id = lesson_id.to_owned();
        // Used now: the least recently used lessons make room, not this one.
        let missing = store
            .run(move |s| {
                s.mark_used(&id, now_ms())?;
                let missing: u64 = s
                    .materials(&id)?
                    .iter()
                    .filter(|m| !m.offline)
                    .map(|m| m.material.size)
                    .sum();
                s.evict(missing)?;
                let usage = s.usage()?;
                if let Some(quota) = usage.quota
                    && usage.bytes + missing > quota
                {
                    return Err(StoreError::DiskFull {
                        needed: missing,
                        available: quota.saturating_sub(usage.bytes),
                        reserve: 0,
                    });
                }
                Ok(missing)
            })
            .await
            .map_err(|e| match e {
                StoreError::DiskFull { reserve: 0, .. } => AppError::LibraryFull(
                    "The lesson does not fit in the library's size limit: pinned lessons stay; \
                     unpin some or raise the limit in Settings."
                        .into(),
                ),
                e => store_error(e),
            })?;
        let downloader = self.downloader(&access, limit)?;
        locked(&self.downloads).insert(
            lesson_id.to_owned(),
            Running {
                downloader: downloader.clone(),
                view: DownloadView {
                    total: missing,
                    ..DownloadView::default()
                },
            },
        );
        let (tx, mut rx) = mpsc::unbounded_channel();
        let lesson = lesson_id.to_owned();
        let this = self.clone();
        tokio::spawn(async move {
            let updates = {
                let (this, lesson) = (this.clone(), lesson.clone());
                tokio::spawn(async move {
                    while let Some(event) = rx.recv().await {
                        let view = {
                            let mut downloads = locked(&this.downloads);
                            let Some(running) = downloads.get_mut(&lesson) else {
                                continue;
                            };
                            apply(&mut running.view, &event);
                            running.view.clone()
                        };
                        this.emit(&LibraryUpdate::Progress {
                            lesson_id: lesson.clone(),
                            download: view,
                        });
                    }
                })
            };
            let result = downloader.download_lesson(&lesson, tx).await;
            // Every progress event is out before the end is told.
            let _ = updates.await;
            locked(&this.downloads).remove(&lesson);
            let update = match result {
                Ok(_) => LibraryUpdate::Done {
                    lesson_id: lesson.clone(),
                },
                Err(e) => LibraryUpdate::Failed {
                    lesson_id: lesson.clone(),
                    error: library_error(e),
                },
            };
            this.emit(&update);
        });
        Ok(())
    }

    fn running(&self, lesson_id: &str) -> Result<Downloader, AppError> {
        locked(&self.downloads)
            .get(lesson_id)
            .map(|r| r.downloader.clone())
            .ok_or_else(|| AppError::Invalid(format!("{lesson_id:?} is not downloading")))
    }

    /// Pauses a lesson's download (what it has is kept).
    pub fn pause(&self, lesson_id: &str) -> Result<(), AppError> {
        self.running(lesson_id)?.pause();
        Ok(())
    }

    /// Resumes a lesson's paused download.
    pub fn resume(&self, lesson_id: &str) -> Result<(), AppError> {
        self.running(lesson_id)?.resume();
        Ok(())
    }

    /// Cancels a lesson's download (what it fetched of unfinished files is removed).
    pub fn cancel(&self, lesson_id: &str) -> Result<(), AppError> {
        self.running(lesson_id)?.cancel();
        Ok(())
    }

    /// Keeps a lesson whatever the size limit says, or lets it go again.
    pub async fn pin(&self, lesson_id: &str, pinned: bool) -> Result<(), AppError> {
        let store = self.store().await?;
        let id = lesson_id.to_owned();
        store
            .run(move |s| s.set_pinned(&id, pinned))
            .await
            .map_err(store_error)?;
        self.emit(&LibraryUpdate::Changed);
        Ok(())
    }

    /// Sets the library's size limit (None: none) and makes room under it at once.
    pub async fn set_quota(&self, bytes: Option<u64>) -> Result<UsageView, AppError> {
        let store = self.store().await?;
        let usage = store
            .run(move |s| {
                s.set_quota(bytes)?;
                s.evict(0)?;
                s.usage()
            })
            .await
            .map_err(store_error)?;
        self.emit(&LibraryUpdate::Changed);
        Ok(usage.into())
    }

    /// Requests the library's loopback file server refused this run (none before it started):
    /// another program on this computer guessing at it shows here.
    pub fn file_server_refusals(&self) -> u64 {
        self.local
            .get()
            .map_or(0, classroom_sfu::local_files::LocalFiles::refused)
    }

    /// Where the page's `<video>` or `<audio>` plays a material from: the library's loopback
    /// file server (`classroom_sfu::local_files`), which streams it with ranges instead of
    /// the page holding the whole file. Marks the lesson as used.
    pub async fn media_url(&self, lesson_id: &str, material_id: &str) -> Result<String, AppError> {
        let store = self.store().await?;
        let (lesson, material) = (lesson_id.to_owned(), material_id.to_owned());
        let hash = store
            .run(move |s| {
                let found = offline_material(s, &lesson, &material)?;
                s.mark_used(&lesson, now_ms())?;
                Ok(found.material.hash)
            })
            .await
            .map_err(store_error)?;
        let local = self
            .local
            .get_or_try_init(|| classroom_sfu::local_files::LocalFiles::start(store.clone()))
            .await
            .map_err(|e| AppError::Internal(format!("the library's file server: {e}")))?;
        Ok(local.url(&hash))
    }

    /// A material's bytes, checked against its hash as they are read (a damaged copy is
    /// removed and reported, never shown). Marks the lesson as used.
    pub async fn file(&self, lesson_id: &str, material_id: &str) -> Result<Vec<u8>, AppError> {
        let store = self.store().await?;
        let (lesson, material) = (lesson_id.to_owned(), material_id.to_owned());
        let bytes = store
            .run(move |s| {
                let found = offline_material(s, &lesson, &material)?;
                if found.material.size > MAX_VIEW_BYTES {
                    return Err(StoreError::Invalid(format!(
                        "{:?} is too large to show in the app",
                        found.material.title
                    )));
                }
                let bytes = s.read_file(&found.material.hash)?;
                s.mark_used(&lesson, now_ms())?;
                Ok(bytes)
            })
            .await;
        match bytes {
            Ok(bytes) => Ok(bytes),
            Err(e @ StoreError::Corrupt { .. }) => {
                // The copy is gone: the lesson is no longer offline.
                self.emit(&LibraryUpdate::Changed);
                Err(store_error(e))
            }
            Err(e) => Err(store_error(e)),
        }
    }

    /// "Clear my data": stops every download and removes every lesson, file and queued item
    /// from this computer, leaving nothing readable behind.
    pub async fn clear(&self) -> Result<(), AppError> {
        let running: Vec<Downloader> = locked(&self.downloads)
            .values()
            .map(|r| r.downloader.clone())
            .collect();
        for d in &running {
            d.cancel();
        }
        // The cancelled tasks remove their part files and leave the table.
        for _ in 0..100 {
            if locked(&self.downloads).is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let store = self.store().await?;
        store
            .run(|s| s.clear_everything())
            .await
            .map_err(store_error)?;
        self.emit(&LibraryUpdate::Changed);
        Ok(())
    }

    /// Adds a lesson to the class (a teacher): its id is made from the title.
    pub async fn add_lesson(&self, title: &str) -> Result<String, AppError> {
        let title = title.trim();
        let chars = title.chars().count();
        if chars == 0 || chars > classroom_protocol::lessons::MAX_LESSON_TITLE_CHARS {
            return Err(AppError::Invalid(
                "A lesson needs a title of 1 to 200 characters.".into(),
            ));
        }
        self.store().await?;
        let access = self.staff_source()?;
        let id = lesson_id_for(title, now_ms());
        let client = self.downloader(&access, None)?;
        client
            .put_lesson(
                &id,
                &LessonUpdate {
                    title: title.to_owned(),
                    notes: String::new(),
                    position: now_ms() / 1000,
                },
            )
            .await
            .map_err(library_error)?;
        client.refresh_catalog().await.map_err(library_error)?;
        self.emit(&LibraryUpdate::Changed);
        Ok(id)
    }

    fn staff_source(&self) -> Result<LessonAccess, AppError> {
        let access = self.source()?;
        if !access.staff {
            return Err(AppError::Refused(
                "Only the class's teacher adds lessons and materials.".into(),
            ));
        }
        Ok(access)
    }

    /// Keeps the file a teacher just added to a lesson in their own library, so it opens
    /// there at once (a student's copy is there once downloaded: the same bytes, so the same
    /// content hash the catalog names). Room is made under the library's size limit as for a
    /// download; when the file does not fit, or keeping it fails, the file is in the class
    /// all the same and the lesson reads "not downloaded". Whether it was kept.
    async fn keep_own_copy(&self, lesson_id: &str, path: &std::path::Path, size: u64) -> bool {
        let Ok(store) = self.store().await else {
            return false;
        };
        let (lesson, temp) = (lesson_id.to_owned(), path.to_owned());
        let kept = store
            .run(move |s| {
                s.mark_used(&lesson, now_ms())?;
                s.evict(size)?;
                let usage = s.usage()?;
                if usage.quota.is_some_and(|quota| usage.bytes + size > quota) {
                    return Ok(false);
                }
                s.save_temp_file(&temp)?;
                Ok(true)
            })
            .await;
        kept.unwrap_or_else(|e| {
            eprintln!("classroom-app: the teacher's copy of a material was not kept: {e}");
            false
        })
    }

    /// Takes the next piece of a file the page sends for a lesson (`offset` must be where
    /// the last piece ended; offset 0 starts the upload `upload_id` again).
    pub async fn upload_piece(
        &self,
        upload_id: &str,
        offset: u64,
        piece: &[u8],
    ) -> Result<u64, AppError> {
        use std::io::Write;
        if !is_lesson_path_id(upload_id) {
            return Err(AppError::Invalid(format!(
                "{upload_id:?} is not an upload id"
            )));
        }
        if piece.len() > MAX_UPLOAD_PIECE {
            return Err(AppError::Invalid(format!(
                "a piece of {} bytes is larger than {MAX_UPLOAD_PIECE}",
                piece.len()
            )));
        }
        let store = self.store().await?;
        // In the store's temporary folder: what a crash leaves there goes when the library
        // next opens, and a teacher's material is moved from there into the library as is.
        let fresh = if offset == 0 {
            Some(
                store
                    .run(|s| Ok(s.temp_path()))
                    .await
                    .map_err(store_error)?,
            )
        } else {
            None
        };
        let mut uploads = locked(&self.uploads);
        if let Some(path) = fresh {
            // A fresh start: the old file goes.
            uploads.remove(upload_id);
            let file = std::fs::File::create(&path)
                .map_err(|e| store_error(StoreError::io("create", &path, e)))?;
            uploads.insert(
                upload_id.to_owned(),
                Upload {
                    path,
                    written: 0,
                    file,
                },
            );
        }
        let upload = uploads
            .get_mut(upload_id)
            .ok_or_else(|| AppError::Invalid(format!("no upload {upload_id:?} is under way")))?;
        if offset != upload.written {
            return Err(AppError::Invalid(format!(
                "the piece starts at {offset}, the file has {} bytes",
                upload.written
            )));
        }
        if upload.written + piece.len() as u64 > MAX_UPLOAD_BYTES {
            uploads.remove(upload_id);
            return Err(AppError::Invalid("A material can be at most 4 GiB.".into()));
        }
        if let Err(e) = upload.file.write_all(piece) {
            let path = upload.path.clone();
            uploads.remove(upload_id);
            return Err(store_error(StoreError::io("write", &path, e)));
        }
        upload.written += piece.len() as u64;
        Ok(upload.written)
    }

    /// Sends a file the page handed over to the class server as a material of `lesson_id`
    /// (a teacher), then fetches the catalog again. The material's kind comes from its
    /// media type.
    pub async fn finish_upload(
        &self,
        upload_id: &str,
        lesson_id: &str,
        file_name: &str,
        mime: &str,
    ) -> Result<MaterialView, AppError> {
        let upload = locked(&self.uploads)
            .remove(upload_id)
            .ok_or_else(|| AppError::Invalid(format!("no upload {upload_id:?} is under way")))?;
        let path = upload.path.clone();
        // The temporary file is removed when `upload` goes, at the end, whatever happened.
        let result = async {
            upload
                .file
                .sync_all()
                .map_err(|e| store_error(StoreError::io("sync", &path, e)))?;
            let access = self.staff_source()?;
            let client = self.downloader(&access, None)?;
            let (title, mime) = material_title_and_mime(file_name, mime);
            let sent = client
                .upload_material(
                    lesson_id,
                    &MaterialUpload {
                        id: format!("m{}", now_ms()),
                        kind: kind_for(&mime),
                        title,
                        mime,
                    },
                    &path,
                )
                .await
                .map_err(library_error)?;
            client.refresh_catalog().await.map_err(library_error)?;
            let offline = self.keep_own_copy(lesson_id, &path, sent.size).await;
            Ok(MaterialView {
                id: sent.id,
                kind: sent.kind,
                title: sent.title,
                size: sent.size,
                mime: sent.mime,
                offline,
            })
        }
        .await;
        drop(upload);
        self.emit(&LibraryUpdate::Changed);
        result
    }
}

/// Moves a download's view on by one event.
/// A material of a lesson that is on this computer (not found otherwise, saying which).
fn offline_material(
    s: &classroom_store::Store,
    lesson: &str,
    material: &str,
) -> Result<classroom_store::MaterialState, StoreError> {
    let found = s
        .materials(lesson)?
        .into_iter()
        .find(|m| m.material.id == material)
        .ok_or_else(|| StoreError::NotFound(format!("the material {material:?}")))?;
    if !found.offline {
        return Err(StoreError::NotFound(format!(
            "a copy of {:?} on this computer",
            found.material.title
        )));
    }
    Ok(found)
}

fn apply(view: &mut DownloadView, event: &DownloadEvent) {
    match event {
        DownloadEvent::Progress {
            done,
            total,
            bytes_per_second,
            seconds_left,
            ..
        } => {
            view.done = *done;
            view.total = *total;
            view.bytes_per_second = *bytes_per_second;
            view.seconds_left = *seconds_left;
            // Bytes are coming again.
            if *bytes_per_second > 0.0 {
                view.retrying = None;
            }
        }
        DownloadEvent::Retrying { error, .. } => {
            view.retrying = Some(error.clone());
            view.bytes_per_second = 0.0;
            view.seconds_left = None;
        }
        DownloadEvent::FileDone { .. } => view.retrying = None,
        DownloadEvent::Paused => {
            view.paused = true;
            view.bytes_per_second = 0.0;
            view.seconds_left = None;
        }
        DownloadEvent::Resumed => view.paused = false,
    }
}

/// A lesson id from its title: its letters and digits (ASCII, up to 40), then the time, so
/// two lessons with one title do not collide.
pub fn lesson_id_for(title: &str, now_ms: i64) -> String {
    let mut slug = String::new();
    for c in title.chars() {
        if slug.len() >= 40 {
            break;
        }
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        format!("lesson-{now_ms}")
    } else {
        format!("{slug}-{now_ms}")
    }
}

/// A material's title (the file name without its folder, at most 200 characters) and its
/// media type (the page's, else one from the name's extension).
pub fn material_title_and_mime(file_name: &str, mime: &str) -> (String, String) {
    let name = file_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(file_name)
        .trim();
    let title: String = if name.is_empty() { "file" } else { name }
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let mime = mime.trim();
    let valid = !mime.is_empty()
        && mime.len() <= 100
        && mime.contains('/')
        && mime.bytes().all(|b| b.is_ascii_graphic());
    let mime = if valid {
        mime.to_ascii_lowercase()
    } else {
        let ext = title.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
        match ext.as_str() {
            "pdf" => "application/pdf",
            "png" => "image/png",
            "jpg" | "jpeg" => "image/jpeg",
            "gif" => "image/gif",
            "webp" => "image/webp",
            "mp4" => "video/mp4",
            "webm" => "video/webm",
            "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "odp" => "application/vnd.oasis.opendocument.presentation",
            "txt" => "text/plain",
            _ => "application/octet-stream",
        }
        .to_owned()
    };
    (title, mime)
}

/// What a material is, from its media type.
pub fn kind_for(mime: &str) -> MaterialKind {
    match mime {
        "application/pdf" => MaterialKind::Pdf,
        m if m.starts_with("image/") => MaterialKind::Image,
        m if m.starts_with("video/") => MaterialKind::Video,
        m if m.contains("presentation") || m.contains("powerpoint") => MaterialKind::Slides,
        _ => MaterialKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lesson_ids_come_from_titles_and_are_valid_path_ids() {
        assert_eq!(lesson_id_for("Forces & Motion", 7), "forces-motion-7");
        assert_eq!(lesson_id_for("  光的折射 ", 9), "lesson-9");
        assert_eq!(lesson_id_for("Week 3: Waves!", 1), "week-3-waves-1");
        let long = "a".repeat(300);
        for title in ["Forces & Motion", "光的折射", "--", &long, "x/../y"] {
            let id = lesson_id_for(title, 1_780_000_000_000);
            assert!(is_lesson_path_id(&id), "{title:?} -> {id:?}");
        }
    }

    #[test]
    fn materials_are_named_and_typed_from_the_file() {
        assert_eq!(
            material_title_and_mime("C:\\Users\\t\\Week 1.pdf", ""),
            ("Week 1.pdf".into(), "application/pdf".into())
        );
        assert_eq!(
            material_title_and_mime("photo.JPG", "image/jpeg"),
            ("photo.JPG".into(), "image/jpeg".into())
        );
        assert_eq!(
            material_title_and_mime("notes", "bad type\n"),
            ("notes".into(), "application/octet-stream".into())
        );
        assert_eq!(material_title_and_mime("", "").0, "file");
        assert_eq!(kind_for("application/pdf"), MaterialKind::Pdf);
        assert_eq!(kind_for("image/png"), MaterialKind::Image);
        assert_eq!(kind_for("video/webm"), MaterialKind::Video);
        assert_eq!(
            kind_for("application/vnd.openxmlformats-officedocument.presentationml.presentation"),
            MaterialKind::Slides
        );
        assert_eq!(kind_for("application/zip"), MaterialKind::Other);
    }

    #[test]
    fn a_download_view_follows_its_events() {
        let mut view = DownloadView::default();
        apply(
            &mut view,
            &DownloadEvent::Progress {
                lesson_id: "l".into(),
                done: 10,
                total: 100,
                bytes_per_second: 5.0,
                seconds_left: Some(18.0),
            },
        );
        assert_eq!((view.done, view.total), (10, 100));
        apply(
            &mut view,
            &DownloadEvent::Retrying {
                material_id: "m".into(),
                attempt: 1,
                in_ms: 500,
                error: "refused".into(),
            },
        );
        assert_eq!(view.retrying.as_deref(), Some("refused"));
        assert_eq!(view.seconds_left, None);
        apply(&mut view, &DownloadEvent::Paused);
        assert!(view.paused);
        apply(&mut view, &DownloadEvent::Resumed);
        assert!(!view.paused);
        apply(
            &mut view,
            &DownloadEvent::Progress {
                lesson_id: "l".into(),
                done: 50,
                total: 100,
                bytes_per_second: 9.0,
                seconds_left: Some(5.0),
            },
        );
        assert_eq!(view.retrying, None);
        assert_eq!(view.done, 50);
    }

    #[test]
    fn errors_keep_their_meaning_for_the_page() {
        assert_eq!(
            library_error(LibraryError::Server {
                status: 403,
                message: "another class".into()
            })
            .kind(),
            "refused"
        );
        assert_eq!(
            library_error(LibraryError::Network("down".into())).kind(),
            "connection"
        );
        assert_eq!(
            store_error(StoreError::DiskFull {
                needed: 1,
                available: 0,
                reserve: 0
            })
            .kind(),
            "diskFull"
        );
        assert_eq!(
            store_error(StoreError::Corrupt { hash: "x".into() }).kind(),
            "damaged"
        );
        assert_eq!(library_error(LibraryError::Cancelled).kind(), "cancelled");
    }

    /// A teacher adds a lesson and a file through the controller (pieces, then the
    /// upload), a student downloads it with progress, opens it with the server gone, and
    /// clears the library; a student may not add lessons.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_recording_cut_short_by_a_crash_is_kept_at_the_next_start() {
        use crate::recording::{IN_PROGRESS, RECORDINGS_COURSE, Sidecar};
        let dir = std::env::temp_dir().join(format!("classroom-adopt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let folder = dir.join(IN_PROGRESS);
        std::fs::create_dir_all(&folder).expect("folder");
        // What a crash leaves: the file as far as it was written, and its sidecar; and a
        // sidecar whose recording never wrote anything.
        let bytes: Vec<u8> = (0..50_000u32).map(|i| (i * 7) as u8).collect();
        std::fs::write(folder.join("1-1.media"), &bytes).expect("media");
        let side = Sidecar {
            title: "history-9, 5 Dec".into(),
            started_ms: 1_764_900_000_000,
            mime: "video/webm".into(),
        };
        std::fs::write(
            folder.join("1-1.json"),
            serde_json::to_vec(&side).expect("json"),
        )
        .expect("sidecar");
        std::fs::write(
            folder.join("2-1.json"),
            serde_json::to_vec(&side).expect("json"),
        )
        .expect("orphan");
        // A sidecar cut short beside a file: kept under a plain name.
        std::fs::write(folder.join("3-1.json"), b"{ not json").expect("broken");
        let mut webm = vec![0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x82, 0x84];
        webm.extend_from_slice(b"webm and more");
        std::fs::write(folder.join("3-1.media"), &webm).expect("media");
        // Another cut short in the same millisecond under the same title: a lesson of its own.
        std::fs::write(folder.join("6-1.media"), b"the other one").expect("media");
        std::fs::write(
            folder.join("6-1.json"),
            serde_json::to_vec(&side).expect("json"),
        )
        .expect("its note");
        // A file without any note (kept the same way), and an empty one with its note (gone).
        std::fs::write(folder.join("4-1.media"), &webm).expect("media");
        std::fs::write(folder.join("5-1.media"), b"").expect("empty");
        std::fs::write(
            folder.join("5-1.json"),
            serde_json::to_vec(&side).expect("json"),
        )
        .expect("its note");

        let library = LibraryController::new(Some(dir.clone()));
        let view = library.view().await.expect("view");
        let course = view
            .courses
            .iter()
            .find(|c| c.id == RECORDINGS_COURSE)
            .expect("the recordings");
        assert_eq!(course.lessons.len(), 4, "{course:?}");
        let twins: Vec<_> = course
            .lessons
            .iter()
            .filter(|l| l.title == "history-9, 5 Dec")
            .collect();
        assert_eq!(twins.len(), 2, "{course:?}");
        assert_ne!(twins[0].bytes, twins[1].bytes, "each keeps its own file");
        let plain = course
            .lessons
            .iter()
            .find(|l| l.title == "Recording")
            .expect("the one without its note");
        let plain_files = library.materials(&plain.id).await.expect("materials");
        assert_eq!(plain_files[0].mime, "video/webm");
        let lesson = course
            .lessons
            .iter()
            .find(|l| l.title != "Recording" && l.bytes == bytes.len() as u64)
            .expect("the one with its note");
        assert_eq!(lesson.title, "history-9, 5 Dec");
        assert!(lesson.offline);
        assert!(lesson.pinned, "the only copy is never evicted to make room");
        let materials = library.materials(&lesson.id).await.expect("materials");
        assert_eq!(materials[0].mime, "video/webm");
        let file = library
            .file(&lesson.id, &materials[0].id)
            .await
            .expect("the bytes");
        assert_eq!(file, bytes);
        // Nothing is left to adopt again.
        let left: Vec<_> = std::fs::read_dir(&folder)
            .expect("folder")
            .flatten()
            .collect();
        assert!(left.is_empty(), "{left:?}");
        let again = LibraryController::new(Some(dir.clone()));
        let view = again.view().await.expect("view");
        let lessons: usize = view.courses.iter().map(|c| c.lessons.len()).sum();
        assert_eq!(lessons, 4);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_teachers_file_reaches_the_students_library_and_opens_offline() {
        use classroom_protocol::Role as WireRole;
        let dir = std::env::temp_dir().join(format!("classroom-library-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let server = classroom_sfu::start(classroom_sfu::ServerConfig {
            lessons_dir: Some(dir.join("server")),
            ..classroom_sfu::ServerConfig::loopback()
        })
        .await
        .expect("a server");
        let url = format!("ws://{}/ws", server.signaling_addr());
        let access = |who: &str, role, staff| LessonAccess {
            url: url.clone(),
            room: "physics-7b".into(),
            token: server
                .mint_token("physics-7b", who, role, std::time::Duration::from_secs(600))
                .expect("a token"),
            pin: None,
            staff,
        };

        let teacher = Arc::new(LibraryController::new(Some(dir.join("teacher"))));
        teacher.set_source(Some(access("ms-rivera", WireRole::Teacher, true)));
        let lesson = teacher
            .add_lesson("Forces & Motion")
            .await
            .expect("a lesson");
        let picture: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut sent = 0;
        for piece in picture.chunks(1_000_000) {
            sent = teacher
                .upload_piece("u1", sent, piece)
                .await
                .expect("a piece");
        }
        assert_eq!(sent, picture.len() as u64);
        // A piece out of order is refused in words.
        let refused = teacher
            .upload_piece("u2", 5, b"x")
            .await
            .expect_err("refused");
        assert_eq!(refused.kind(), "invalid");
        let material = teacher
            .finish_upload("u1", &lesson, "/home/t/board.png", "")
            .await
            .expect("the upload");
        // The temporary file went with the upload: into the teacher's own library, where
        // the file opens at once without downloading it back.
        let temporary = || {
            std::fs::read_dir(dir.join("teacher").join("files").join("tmp"))
                .expect("the teacher's library")
                .flatten()
                .count()
        };
        assert_eq!(temporary(), 0);
        assert_eq!(material.kind, MaterialKind::Image);
        assert_eq!(material.title, "board.png");
        assert_eq!(material.size, picture.len() as u64);
        assert!(material.offline, "the teacher's copy is kept");
        assert_eq!(
            teacher
                .file(&lesson, &material.id)
                .await
                .expect("the teacher's copy"),
            picture
        );
        let own = teacher.view().await.expect("the teacher's library");
        assert!(own.courses[0].lessons[0].offline);

        let student = Arc::new(LibraryController::new(Some(dir.join("student"))));
        let (tx, mut rx) = mpsc::unbounded_channel();
        student.on_update(Arc::new(move |u: &LibraryUpdate| {
            let _ = tx.send(u.clone());
        }));
        // Nothing to fetch from before a class.
        assert_eq!(
            student.refresh().await.expect_err("refused").kind(),
            "notInClass"
        );
        student.set_source(Some(access("ada", WireRole::Student, false)));
        assert_eq!(
            student
                .add_lesson("Mine")
                .await
                .expect_err("refused")
                .kind(),
            "refused"
        );
        let view = student.refresh().await.expect("the catalog");
        let hits = student.search("motion").await.expect("a search");
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].lesson_id, lesson);
        assert!(
            student
                .search("gravity")
                .await
                .expect("a search")
                .is_empty()
        );
        let long = "x".repeat(MAX_SEARCH_CHARS + 1);
        assert_eq!(
            student.search(&long).await.expect_err("too long").kind(),
            "invalid"
        );
        let listed = &view.courses[0].lessons[0];
        assert_eq!(
            (listed.id.as_str(), listed.offline),
            (lesson.as_str(), false)
        );
        assert_eq!(listed.bytes, picture.len() as u64);

        student
            .download(&lesson, Some(2_000_000))
            .await
            .expect("starts");
        let mut progress = 0;
        loop {
            let update = tokio::time::timeout(std::time::Duration::from_secs(30), rx.recv())
                .await
                .expect("an update in time")
                .expect("updates");
            match update {
                LibraryUpdate::Progress { download, .. } => {
                    assert_eq!(download.total, picture.len() as u64);
                    progress += 1;
                }
                LibraryUpdate::Done { lesson_id } => {
                    assert_eq!(lesson_id, lesson);
                    break;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(progress >= 2, "{progress} progress updates");
        // Homework handed in is sent by the outbox (once; nothing is left queued). The
        // teacher sets it first: the server takes hand-ins of its class's homework only.
        let set = teacher
            .homework_set("Essay", "", None)
            .await
            .expect("homework set");
        let essay = set
            .assignments
            .iter()
            .find(|a| a.title == "Essay")
            .expect("the homework")
            .id
            .clone();
        let store = student.store().await.expect("the store");
        store
            .run(move |s| {
                s.put_assignment(&classroom_store::Assignment {
                    id: essay.clone(),
                    course_id: "physics-7b".into(),
                    lesson_id: None,
                    title: "Essay".into(),
                    instructions: String::new(),
                    due_ms: None,
                })?;
                s.hand_in(&essay, "essay.txt", &mut &b"my essay"[..], 1)
            })
            .await
            .expect("handed in");
        student.send_outbox().await;
        assert_eq!(store.run(|s| s.outbox_len()).await.expect("the outbox"), 0);
        server.shutdown().await;

        let view = student.view().await.expect("the library");
        assert!(view.courses[0].lessons[0].offline);
        assert_eq!(
            view.usage.bytes,
            picture.len() as u64 + 8,
            "the picture and the essay"
        );
        let materials = student.materials(&lesson).await.expect("materials");
        assert!(materials[0].offline);
        let bytes = student
            .file(&lesson, &materials[0].id)
            .await
            .expect("opens offline");
        assert!(bytes == picture, "the same bytes");

        student.clear().await.expect("cleared");
        assert!(student.view().await.expect("view").courses.is_empty());

        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_teachers_file_over_the_library_limit_is_in_the_class_and_not_kept() {
        use classroom_protocol::Role as WireRole;
        let dir = tempfile::tempdir().expect("a folder");
        let server = classroom_sfu::start(classroom_sfu::ServerConfig {
            lessons_dir: Some(dir.path().join("server")),
            ..classroom_sfu::ServerConfig::loopback()
        })
        .await
        .expect("a server");
        let teacher = Arc::new(LibraryController::new(Some(dir.path().join("teacher"))));
        teacher.set_source(Some(LessonAccess {
            url: format!("ws://{}/ws", server.signaling_addr()),
            room: "physics-7b".into(),
            token: server
                .mint_token(
                    "physics-7b",
                    "ms-rivera",
                    WireRole::Teacher,
                    std::time::Duration::from_secs(600),
                )
                .expect("a token"),
            pin: None,
            staff: true,
        }));
        teacher.set_quota(Some(1_000_000)).await.expect("a limit");
        let lesson = teacher.add_lesson("Waves").await.expect("a lesson");
        let big: Vec<u8> = (0..2_000_000u32).map(|i| (i * 13 % 241) as u8).collect();
        teacher.upload_piece("u1", 0, &big).await.expect("a piece");
        let sent = teacher
            .finish_upload("u1", &lesson, "waves.bin", "")
            .await
            .expect("sent all the same");
        assert!(!sent.offline, "kept over the limit");
        assert_eq!(sent.size, big.len() as u64);
        let view = teacher.view().await.expect("the library");
        assert!(!view.courses[0].lessons[0].offline);
        assert_eq!(view.usage.bytes, 0);
        // Nothing is left in the temporary folder.
        let left = std::fs::read_dir(dir.path().join("teacher").join("files").join("tmp"))
            .expect("the temporary folder")
            .count();
        assert_eq!(left, 0);
        server.shutdown().await;
    }
}
