//! Recordings in the library (see `crate::recording`): where one is written while it runs,
//! keeping it as a pinned lesson of "Recordings on this computer", adopting what a crash or
//! a full disk left behind, and a teacher sharing one with the class.

use std::path::PathBuf;

use classroom_client::library::MaterialUpload;
use classroom_protocol::lessons::LessonUpdate;
use classroom_store::StoreError;

use super::{
    LibraryController, LibraryUpdate, kind_for, lesson_id_for, library_error, now_ms, store_error,
};
use crate::AppError;

impl LibraryController {
    /// Where a recording is written while it runs: a folder of the library's own (its
    /// temporary folder is emptied at every start, and a recording cut short by a crash is
    /// kept at the next one: `adopt_recordings`).
    pub async fn recording_path(&self) -> Result<PathBuf, AppError> {
        let store = self.store().await?;
        // Room for about 45 minutes at the rate a class records at (~630 kbit/s), beside the
        // store's own reserve: refused as `diskFull` rather than failing mid-lesson.
        store
            .run(|s| s.check_space(RECORDING_ROOM))
            .await
            .map_err(store_error)?;
        let dir = store.dir().join(crate::recording::IN_PROGRESS);
        std::fs::create_dir_all(&dir)
            .map_err(|e| store_error(StoreError::io("create", &dir, e)))?;
        Ok(dir.join(format!("{}-{}.media", now_ms(), std::process::id())))
    }

    /// Keeps a finished recording as a lesson of the "Recordings" course, offline.
    pub async fn save_recording(
        &self,
        finished: crate::recording::Finished,
    ) -> Result<crate::recording::SavedRecording, AppError> {
        let store = self.store().await?;
        let crate::recording::Finished {
            summary,
            title,
            started_ms,
        } = finished;
        let side = crate::recording::Sidecar {
            title: title.clone(),
            started_ms,
            mime: summary.mime.to_owned(),
        };
        let path = summary.path.clone();
        let (lesson_id, bytes) = store
            .run(move |s| keep_recording(s, &path, &side))
            .await
            .map_err(store_error)?;
        self.emit(&LibraryUpdate::Changed);
        Ok(crate::recording::SavedRecording {
            lesson_id,
            title,
            seconds: summary.status.duration.as_secs_f64(),
            bytes,
            stopped_early: summary.status.failed,
        })
    }

    /// Shares a recording of this computer's with the class (its teacher): a lesson of the
    /// class with the recording's title and file, which students then download to watch
    /// offline. The id of the class's new lesson.
    pub async fn share_recording(&self, lesson_id: &str) -> Result<String, AppError> {
        let access = self.staff_source()?;
        let store = self.store().await?;
        let id = lesson_id.to_owned();
        let (lesson, material, path) = store
            .run(move |s| {
                let lesson = s.lesson(&id)?;
                if lesson.course_id != crate::recording::RECORDINGS_COURSE {
                    return Err(StoreError::Invalid(format!("{id:?} is not a recording")));
                }
                let found = s
                    .materials(&id)?
                    .into_iter()
                    .find(|m| m.offline)
                    .ok_or_else(|| StoreError::NotFound(format!("the recording of {id:?}")))?;
                let path = s.open_file(&found.material.hash)?;
                Ok((lesson, found.material, path))
            })
            .await
            .map_err(store_error)?;
        let client = self.downloader(&access, None)?;
        let shared = lesson_id_for(&lesson.title, now_ms());
        client
            .put_lesson(
                &shared,
                &LessonUpdate {
                    title: lesson.title,
                    notes: String::new(),
                    position: now_ms() / 1000,
                },
            )
            .await
            .map_err(library_error)?;
        client
            .upload_material(
                &shared,
                &MaterialUpload {
                    id: format!("m{}", now_ms()),
                    kind: material.kind,
                    title: material.title,
                    mime: material.mime,
                },
                &path,
            )
            .await
            .map_err(library_error)?;
        client.refresh_catalog().await.map_err(library_error)?;
        self.emit(&LibraryUpdate::Changed);
        Ok(shared)
    }
}

/// Free disk a recording needs before it starts.
const RECORDING_ROOM: u64 = 200 * 1000 * 1000;

/// Keeps the recording written at `path` (in the in-progress folder) as a lesson of the
/// "Recordings" course, offline: moved into the store's temporary folder, then into place.
/// Its sidecar goes once it is kept. The lesson's id and the file's size.
fn keep_recording(
    s: &mut classroom_store::Store,
    path: &std::path::Path,
    side: &crate::recording::Sidecar,
) -> Result<(String, u64), StoreError> {
    use crate::recording::RECORDINGS_COURSE;
    s.put_course(&classroom_store::Course {
        id: RECORDINGS_COURSE.into(),
        title: "Recordings".into(),
        teacher: String::new(),
        origin: "this computer".into(),
    })?;
    let temp = s.temp_path();
    std::fs::rename(path, &temp).map_err(|e| StoreError::io("move", path, e))?;
    let (hash, size) = s.save_temp_file(&temp)?;
    // Two kept in the same millisecond under one title (recordings adopted together) are
    // two lessons, not one that takes the other's file.
    let base = lesson_id_for(&side.title, side.started_ms);
    let mut id = base.clone();
    let mut n = 1;
    while s.lesson(&id).is_ok() {
        n += 1;
        id = format!("{base}-{n}");
    }
    s.put_lesson(&classroom_store::Lesson {
        id: id.clone(),
        course_id: RECORDINGS_COURSE.into(),
        title: side.title.clone(),
        notes: String::new(),
        position: side.started_ms / 1000,
        updated_ms: now_ms(),
    })?;
    let extension = classroom_media::Recorder::extension_of(&side.mime);
    s.put_material(&classroom_store::Material {
        // Material ids are the library's, across lessons.
        id: format!("{id}-recording"),
        lesson_id: id.clone(),
        kind: kind_for(&side.mime),
        title: format!("recording.{extension}"),
        hash,
        size,
        mime: side.mime.clone(),
        position: 0,
    })?;
    // The only copy (a downloaded lesson can be downloaded again): kept when the library
    // makes room under its size limit, unless the person unpins it.
    s.set_pinned(&id, true)?;
    let _ = std::fs::remove_file(path.with_extension("json"));
    Ok((id, size))
}

/// Keeps what recordings cut short (the app crashed, the computer lost power, the disk
/// filled) left in the in-progress folder: each file with data becomes a recording lesson
/// (its picture and sound up to where it stopped; the file has no index, so it plays without
/// seeking far ahead), named by its sidecar. Empty files and lone sidecars are removed. How
/// many were kept.
pub(super) fn adopt_recordings(s: &mut classroom_store::Store) -> usize {
    let dir = s.dir().join(crate::recording::IN_PROGRESS);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let mut kept = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        match path.extension().and_then(|e| e.to_str()) {
            // A note whose file is gone.
            Some("json") if !path.with_extension("media").exists() => {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            Some("media") => {}
            _ => continue,
        }
        let side_path = path.with_extension("json");
        if std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) == 0 {
            let _ = std::fs::remove_file(&side_path);
            let _ = std::fs::remove_file(&path);
            continue;
        }
        // A sidecar missing or cut short too: the file is kept all the same, named plainly,
        // its type read from its header (WebM says so; Matroska otherwise).
        let side = std::fs::read(&side_path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_else(|| {
                let mut head = [0u8; 64];
                let read = std::fs::File::open(&path)
                    .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
                    .unwrap_or(0);
                let webm = head[..read].windows(4).any(|w| w == b"webm");
                crate::recording::Sidecar {
                    title: "Recording".into(),
                    started_ms: now_ms(),
                    mime: if webm {
                        "video/webm"
                    } else {
                        "video/x-matroska"
                    }
                    .into(),
                }
            });
        match keep_recording(s, &path, &side) {
            Ok(_) => kept += 1,
            Err(e) => {
                eprintln!("classroom-app: a recording cut short is left for next time: {e}")
            }
        }
    }
    kept
}
