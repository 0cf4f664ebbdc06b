//! The store: the database and the files, kept in step.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use rusqlite_migration::Migrations;

use crate::error::{Result, StoreError};
use crate::files::{ContentHash, Files, Partial};
use crate::model::*;
use crate::search;

static MIGRATIONS_DIR: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/migrations");

/// The database's migrations, from the `migrations` folder (one sub-folder per version).
pub fn migrations() -> Result<Migrations<'static>> {
    Ok(Migrations::from_directory(&MIGRATIONS_DIR)?)
}

/// The database file's name in the store's folder.
pub const DATABASE_FILE: &str = "library.sqlite3";

/// How the store is opened.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Bytes of free disk the store never takes (for the rest of the computer).
    pub reserve_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            reserve_bytes: 256 * 1024 * 1024,
        }
    }
}

/// The offline library: one SQLite database (WAL, foreign keys, secure delete) and its files.
/// Blocking: the app runs it on its own thread through [`crate::StoreHandle`].
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    db: Connection,
    files: Files,
    recovery: Recovery,
}

const QUOTA_KEY: &str = "quota_bytes";

mod homework;
mod received;
pub use received::{Receipt, marked_copy_type};

impl Store {
    /// Opens (making) the store in `dir`, brings the database to this version, and puts right
    /// what a crash left (see [`Recovery`]).
    pub fn open(dir: &Path, options: &StoreOptions) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io("create the folder", dir, e))?;
        let files = Files::open(&dir.join("files"), options.reserve_bytes)?;
        let mut db = Connection::open(dir.join(DATABASE_FILE))?;
        // WAL: readers never wait for the writer; FULL: a commit survives a power cut;
        // secure_delete: removed rows are overwritten, not left readable in free pages.
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "FULL")?;
        db.pragma_update(None, "foreign_keys", true)?;
        db.pragma_update(None, "secure_delete", true)?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations()?.to_latest(&mut db)?;
        let mut store = Self {
            dir: dir.to_path_buf(),
            db,
            files,
            recovery: Recovery::default(),
        };
        store.recovery = store.recover()?;
        Ok(store)
    }

    /// The store's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What opening put right.
    pub fn recovery(&self) -> Recovery {
        self.recovery
    }

    fn recover(&mut self) -> Result<Recovery> {
        let mut recovery = Recovery {
            temporary_removed: self.files.remove_temporary()?,
            ..Recovery::default()
        };
        let recorded: HashSet<String> = self
            .db
            .prepare("SELECT hash FROM blobs")?
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut in_place = HashSet::new();
        for (hash, size) in self.files.in_place()? {
            if !recorded.contains(hash.as_str()) {
                // Complete and renamed, but the crash came before it was recorded.
                if self.files.verify(&hash, size)? {
                    self.record_blob(&hash, size)?;
                    recovery.adopted += 1;
                } else {
                    self.files.remove(&hash)?;
                    recovery.damaged_removed += 1;
                    continue;
                }
            }
            in_place.insert(hash.as_str().to_owned());
        }
        for hash in recorded.difference(&in_place) {
            self.db
                .execute("DELETE FROM blobs WHERE hash = ?1", [hash])?;
            recovery.missing_dropped += 1;
        }
        for (hash, _) in self.files.partials()? {
            if in_place.contains(hash.as_str()) {
                self.files.remove_partial(&hash)?;
                recovery.stale_partials_removed += 1;
            }
        }
        if recovery != Recovery::default() {
            tracing::info!(?recovery, "the library put right what a crash left");
        }
        Ok(recovery)
    }

    fn record_blob(&self, hash: &ContentHash, size: u64) -> Result<()> {
        record_blob_in(&self.db, hash, size, now_ms())
    }

    // ---- the catalog -------------------------------------------------------------------

    /// Adds or updates a course.
    pub fn put_course(&self, course: &Course) -> Result<()> {
        self.db.execute(
            "INSERT INTO courses(id, title, teacher, origin) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(id) DO UPDATE SET title = ?2, teacher = ?3, origin = ?4",
            params![course.id, course.title, course.teacher, course.origin],
        )?;
        Ok(())
    }

    /// Adds or updates lessons and their materials (the catalog as the server sent it), in
    /// one transaction. A lesson's materials are replaced by the ones given.
    pub fn put_lessons(&mut self, lessons: &[(Lesson, Vec<Material>)]) -> Result<()> {
        let tx = self.db.transaction()?;
        for (lesson, materials) in lessons {
            put_lesson(&tx, lesson, materials)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The courses, by title.
    pub fn courses(&self) -> Result<Vec<Course>> {
        let mut stmt = self
            .db
            .prepare_cached("SELECT id, title, teacher, origin FROM courses ORDER BY title, id")?;
        let rows = stmt.query_map([], |r| {
            Ok(Course {
                id: r.get(0)?,
                title: r.get(1)?,
                teacher: r.get(2)?,
                origin: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The library list: every lesson (of one course, or all) with what is offline of it.
    pub fn lessons(&self, course_id: Option<&str>) -> Result<Vec<LessonSummary>> {
        let mut stmt = self.db.prepare_cached(
            "SELECT id, course_id, title, position, updated_ms, pinned, last_used_ms,
                    materials, materials_offline, bytes, bytes_offline
             FROM lessons WHERE ?1 IS NULL OR course_id = ?1
             ORDER BY course_id, position, id",
        )?;
        let rows = stmt.query_map([course_id], |r| {
            Ok(LessonSummary {
                id: r.get(0)?,
                course_id: r.get(1)?,
                title: r.get(2)?,
                position: r.get(3)?,
                updated_ms: r.get(4)?,
                pinned: r.get(5)?,
                last_used_ms: r.get(6)?,
                materials: r.get(7)?,
                materials_offline: r.get(8)?,
                bytes: r.get::<_, i64>(9)? as u64,
                bytes_offline: r.get::<_, i64>(10)? as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One lesson, with its notes.
    pub fn lesson(&self, id: &str) -> Result<Lesson> {
        self.db
            .query_row(
                "SELECT id, course_id, title, notes, position, updated_ms FROM lessons
                 WHERE id = ?1",
                [id],
                lesson_row,
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("the lesson {id:?}")))
    }

    /// One lesson's materials and whether each is offline.
    pub fn materials(&self, lesson_id: &str) -> Result<Vec<MaterialState>> {
        let mut stmt = self.db.prepare_cached(
            "SELECT m.id, m.lesson_id, m.kind, m.title, m.hash, m.size, m.mime, m.position,
                    b.hash IS NOT NULL
             FROM materials m LEFT JOIN blobs b ON b.hash = m.hash
             WHERE m.lesson_id = ?1 ORDER BY m.position, m.id",
        )?;
        let rows = stmt.query_map([lesson_id], |r| {
            Ok((
                Material {
                    id: r.get(0)?,
                    lesson_id: r.get(1)?,
                    kind: MaterialKind::parse(&r.get::<_, String>(2)?),
                    title: r.get(3)?,
                    hash: ContentHash(r.get(4)?),
                    size: r.get::<_, i64>(5)? as u64,
                    mime: r.get(6)?,
                    position: r.get(7)?,
                },
                r.get::<_, bool>(8)?,
            ))
        })?;
        rows.map(|row| {
            let (material, offline) = row?;
            Ok(MaterialState { material, offline })
        })
        .collect()
    }

    /// Lessons whose title or notes have every word of `query` (in any order, words by
    /// their start, Chinese words anywhere), best first, title matches above notes.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let Some(fts) = search::match_query(query) else {
            return Ok(Vec::new());
        };
        let mut stmt = self.db.prepare_cached(
            "SELECT l.id, l.course_id, l.title, l.notes
             FROM (SELECT rowid, rank FROM lesson_search WHERE lesson_search MATCH ?1
                   ORDER BY rank LIMIT ?2) AS found
             JOIN lessons l ON l.rowid = found.rowid
             ORDER BY found.rank",
        )?;
        let rows = stmt.query_map(params![fts, limit as i64], |r| {
            let notes: String = r.get(3)?;
            Ok(SearchHit {
                lesson_id: r.get(0)?,
                course_id: r.get(1)?,
                title: r.get(2)?,
                snippet: search::snippet(&notes, query, 60),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Pins a lesson (never evicted) or unpins it.
    pub fn set_pinned(&self, lesson_id: &str, pinned: bool) -> Result<()> {
        let n = self.db.execute(
            "UPDATE lessons SET pinned = ?2 WHERE id = ?1",
            params![lesson_id, pinned],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("the lesson {lesson_id:?}")));
        }
        Ok(())
    }

    /// Notes that the student opened a lesson now (for least-recently-used eviction).
    pub fn mark_used(&self, lesson_id: &str, now_ms: i64) -> Result<()> {
        self.db.execute(
            "UPDATE lessons SET last_used_ms = ?2 WHERE id = ?1",
            params![lesson_id, now_ms],
        )?;
        Ok(())
    }

    // ---- files -----------------------------------------------------------------------

    /// True when the file with `hash` is on this computer (recorded; not re-read).
    pub fn has_file(&self, hash: &ContentHash) -> Result<bool> {
        Ok(self
            .db
            .query_row(
                "SELECT 1 FROM blobs WHERE hash = ?1",
                [hash.as_str()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Opens or resumes the download of a file (its bytes go on from [`Partial::offset`]).
    pub fn begin_download(&self, hash: &ContentHash, size: u64) -> Result<Partial> {
        self.files.partial(hash, size)
    }

    /// Finishes a download: checked against its hash, moved into place, recorded. A
    /// mismatch removes it and errors with [`StoreError::Corrupt`].
    pub fn finish_download(&self, partial: Partial) -> Result<()> {
        let (hash, size) = (partial.hash().clone(), partial.size());
        self.files.finish(partial)?;
        self.record_blob(&hash, size)
    }

    /// Drops a download in progress (cancel).
    pub fn cancel_download(&self, hash: &ContentHash) -> Result<()> {
        self.files.remove_partial(hash)
    }

    /// Saves bytes as a file (a hand-in, a returned copy); its hash.
    pub fn save_bytes(&self, bytes: &[u8]) -> Result<ContentHash> {
        let hash = self.files.write_bytes(bytes)?;
        self.record_blob(&hash, bytes.len() as u64)?;
        Ok(hash)
    }

    /// Saves what `reader` gives as a file; its hash and size.
    pub fn save_from(&self, reader: &mut dyn Read) -> Result<(ContentHash, u64)> {
        let (hash, size) = self.files.write_from(reader, None)?;
        self.record_blob(&hash, size)?;
        Ok((hash, size))
    }

    /// The path of a file, after reading it through to check it still matches its hash: a
    /// damaged file is removed, forgotten, and reported as [`StoreError::Corrupt`] (the
    /// lesson shows as not offline again).
    pub fn open_file(&self, hash: &ContentHash) -> Result<PathBuf> {
        self.checked(hash, |files, size| {
            Ok(files.verify(hash, size)?.then(|| files.path(hash)))
        })
    }

    /// A file's bytes, read once and checked against its hash on the way (a damaged file is
    /// handled as by [`Store::open_file`]).
    pub fn read_file(&self, hash: &ContentHash) -> Result<Vec<u8>> {
        self.checked(hash, |files, size| files.read_checked(hash, size))
    }

    /// Runs `read` on a recorded file (with its recorded size); `read` answers None when the
    /// content does not match: the file is then removed, forgotten and reported as
    /// [`StoreError::Corrupt`].
    fn checked<T>(
        &self,
        hash: &ContentHash,
        read: impl FnOnce(&Files, u64) -> Result<Option<T>>,
    ) -> Result<T> {
        let size: Option<i64> = self
            .db
            .query_row(
                "SELECT size FROM blobs WHERE hash = ?1",
                [hash.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        let Some(size) = size else {
            return Err(StoreError::NotFound(format!("the file {hash}")));
        };
        if let Some(found) = read(&self.files, size as u64)? {
            return Ok(found);
        }
        tracing::warn!(%hash, "a cached file does not match its hash; removed");
        self.forget_file(hash)?;
        Err(StoreError::Corrupt {
            hash: hash.to_string(),
        })
    }

    fn forget_file(&self, hash: &ContentHash) -> Result<()> {
        self.db
            .execute("DELETE FROM blobs WHERE hash = ?1", [hash.as_str()])?;
        self.files.remove(hash)
    }

    /// Reads every recorded file through; the hashes of those that no longer match (they
    /// are left as they are: [`Store::open_file`] removes them when used).
    pub fn damaged_files(&self) -> Result<Vec<ContentHash>> {
        let mut damaged = Vec::new();
        for (hash, size) in self.present_files()? {
            if !self.files.verify(&hash, size)? {
                damaged.push(hash);
            }
        }
        Ok(damaged)
    }

    // ---- the server's side: a course's catalog and files --------------------------------

    /// A course's lessons, by position, each with its materials: the catalog a server gives.
    pub fn catalog(&self, course_id: &str) -> Result<Vec<(Lesson, Vec<Material>)>> {
        let lessons: Vec<Lesson> = self
            .db
            .prepare_cached(
                "SELECT id, course_id, title, notes, position, updated_ms FROM lessons
                 WHERE course_id = ?1 ORDER BY course_id, position, id",
            )?
            .query_map([course_id], lesson_row)?
            .collect::<rusqlite::Result<_>>()?;
        lessons
            .into_iter()
            .map(|lesson| {
                let materials = self
                    .materials(&lesson.id)?
                    .into_iter()
                    .map(|m| m.material)
                    .collect();
                Ok((lesson, materials))
            })
            .collect()
    }

    /// Adds or updates one lesson, keeping its materials.
    pub fn put_lesson(&mut self, lesson: &Lesson) -> Result<()> {
        let tx = self.db.transaction()?;
        put_lesson_row(&tx, lesson)?;
        tx.commit()?;
        Ok(())
    }

    /// Adds or replaces one material of an existing lesson.
    pub fn put_material(&mut self, material: &Material) -> Result<()> {
        let tx = self.db.transaction()?;
        let exists = tx
            .query_row(
                "SELECT 1 FROM lessons WHERE id = ?1",
                [&material.lesson_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !exists {
            return Err(StoreError::NotFound(format!(
                "the lesson {:?}",
                material.lesson_id
            )));
        }
        put_material_row(&tx, material)?;
        tx.commit()?;
        Ok(())
    }

    /// A fresh path in the store's temporary folder, for a file written elsewhere (an upload
    /// arriving over the network) and then given to [`Store::save_temp_file`]. A crash leaves
    /// it to be removed by the next open.
    pub fn temp_path(&self) -> PathBuf {
        self.files.temp_path()
    }

    /// Moves a file written at a [`Store::temp_path`] into place (read through for its hash,
    /// synced, renamed) and records it; its hash and size.
    pub fn save_temp_file(&self, temp: &Path) -> Result<(ContentHash, u64)> {
        if temp.parent() != self.files.temp_path().parent() {
            return Err(StoreError::Invalid(format!(
                "{} is not in the store's temporary folder",
                temp.display()
            )));
        }
        let (hash, size) = self.files.import(temp)?;
        self.record_blob(&hash, size)?;
        Ok((hash, size))
    }

    /// Errors with [`StoreError::DiskFull`] unless `bytes` more fit, leaving the reserve.
    pub fn check_space(&self, bytes: u64) -> Result<()> {
        self.files.check_space(bytes)
    }

    /// A file some material of this computer's library names, if present: its path, size and
    /// media type. Not read through: whoever serves it checks it first
    /// ([`Store::open_file`]).
    pub fn library_file(&self, hash: &ContentHash) -> Result<Option<CourseFile>> {
        self.material_file(hash, None)
    }

    /// A file a material of one of the course's lessons names, if present: its path, size
    /// and media type. Not read through (the server wrote it through the store, checked);
    /// whoever receives it checks the bytes against the hash.
    pub fn course_file(&self, course_id: &str, hash: &ContentHash) -> Result<Option<CourseFile>> {
        self.material_file(hash, Some(course_id))
    }

    /// The file with content `hash` that a material names, of a lesson of `course` (any
    /// course: `None`), if present.
    fn material_file(
        &self,
        hash: &ContentHash,
        course: Option<&str>,
    ) -> Result<Option<CourseFile>> {
        let found: Option<(i64, String)> = self
            .db
            .query_row(
                "SELECT b.size, m.mime FROM blobs b
                 JOIN materials m ON m.hash = b.hash
                 JOIN lessons l ON l.id = m.lesson_id
                 WHERE b.hash = ?1 AND (?2 IS NULL OR l.course_id = ?2) LIMIT 1",
                params![hash.as_str(), course],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(found.map(|(size, mime)| CourseFile {
            path: self.files.path(hash),
            size: size as u64,
            mime,
        }))
    }

    // ---- quota -----------------------------------------------------------------------

    /// Sets the size limit (None: no limit).
    pub fn set_quota(&self, bytes: Option<u64>) -> Result<()> {
        match bytes {
            Some(b) => self.db.execute(
                "INSERT INTO settings(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = ?2",
                params![QUOTA_KEY, b.to_string()],
            )?,
            None => self
                .db
                .execute("DELETE FROM settings WHERE key = ?1", [QUOTA_KEY])?,
        };
        Ok(())
    }

    /// How much room the library takes, and the limit.
    pub fn usage(&self) -> Result<Usage> {
        let bytes: i64 =
            self.db
                .query_row("SELECT coalesce(sum(size), 0) FROM blobs", [], |r| r.get(0))?;
        let kept_bytes: i64 = self.db.query_row(
            &format!("SELECT coalesce(sum(size), 0) FROM blobs WHERE hash IN ({KEPT_HASHES})"),
            [],
            |r| r.get(0),
        )?;
        let quota: Option<String> = self
            .db
            .query_row(
                "SELECT value FROM settings WHERE key = ?1",
                [QUOTA_KEY],
                |r| r.get(0),
            )
            .optional()?;
        Ok(Usage {
            bytes: bytes as u64,
            kept_bytes: kept_bytes as u64,
            quota: quota.and_then(|q| q.parse().ok()),
        })
    }

    /// Makes room for `incoming` more bytes under the quota: removes the files of the least
    /// recently used lessons that are not pinned, oldest first, never a file a kept lesson
    /// or the student's own work uses. The lessons whose files went, in that order.
    pub fn evict(&mut self, incoming: u64) -> Result<Vec<String>> {
        let usage = self.usage()?;
        let Some(quota) = usage.quota else {
            return Ok(Vec::new());
        };
        let mut over = (usage.bytes + incoming).saturating_sub(quota);
        if over == 0 {
            return Ok(Vec::new());
        }
        let candidates: Vec<String> = self
            .db
            .prepare(
                "SELECT l.id FROM lessons l
                 WHERE l.pinned = 0 AND EXISTS (
                     SELECT 1 FROM materials m JOIN blobs b ON b.hash = m.hash
                     WHERE m.lesson_id = l.id)
                 ORDER BY l.last_used_ms, l.id",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut evicted = Vec::new();
        for lesson in candidates {
            if over == 0 {
                break;
            }
            // Its files that nothing else still needs: no pinned lesson, no lesson used more
            // recently that keeps them, none of the student's own work.
            let hashes: Vec<(String, i64)> = self
                .db
                .prepare(&format!(
                    "SELECT DISTINCT b.hash, b.size FROM materials m JOIN blobs b ON b.hash = m.hash
                     WHERE m.lesson_id = ?1
                       AND b.hash NOT IN ({KEPT_HASHES})
                       AND NOT EXISTS (
                           SELECT 1 FROM materials o JOIN lessons ol ON ol.id = o.lesson_id
                           WHERE o.hash = b.hash AND o.lesson_id <> ?1
                             AND ol.last_used_ms > (SELECT last_used_ms FROM lessons WHERE id = ?1))"
                ))?
                .query_map([&lesson], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            if hashes.is_empty() {
                continue;
            }
            for (hash, size) in hashes {
                // Forgotten first, then removed: a crash between leaves a stray file that
                // the next open adopts again, never a record without its file.
                let hash = ContentHash(hash);
                self.forget_file(&hash)?;
                over = over.saturating_sub(size as u64);
            }
            evicted.push(lesson);
        }
        Ok(evicted)
    }

    // ---- the outbox --------------------------------------------------------------------

    /// Queues something done offline; its idempotency key.
    pub fn enqueue(&mut self, kind: &str, payload_json: &str, now_ms: i64) -> Result<String> {
        let key = uuid::Uuid::now_v7().to_string();
        let tx = self.db.transaction()?;
        enqueue_in(&tx, &key, kind, payload_json, now_ms)?;
        tx.commit()?;
        Ok(key)
    }

    /// What is due to be sent at `now_ms`, oldest first.
    pub fn outbox_due(&self, now_ms: i64, limit: usize) -> Result<Vec<OutboxItem>> {
        let mut stmt = self.db.prepare_cached(
            "SELECT key, kind, payload, created_ms, attempts, last_error FROM outbox
             WHERE next_attempt_ms <= ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![now_ms, limit as i64], |r| {
            Ok(OutboxItem {
                key: r.get(0)?,
                kind: r.get(1)?,
                payload: r.get(2)?,
                created_ms: r.get(3)?,
                attempts: r.get(4)?,
                last_error: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Everything queued.
    pub fn outbox_len(&self) -> Result<u64> {
        Ok(self
            .db
            .query_row("SELECT count(*) FROM outbox", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    /// The server took it: removed from the outbox (a hand-in becomes sent), at once.
    pub fn outbox_sent(&mut self, key: &str) -> Result<()> {
        let tx = self.db.transaction()?;
        tx.execute("DELETE FROM outbox WHERE key = ?1", [key])?;
        tx.execute(
            "UPDATE submissions SET state = 'sent' WHERE id = ?1 AND state = 'queued'",
            [key],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Sending failed: tried again after a backoff that doubles (1 s up to 10 min).
    pub fn outbox_failed(&self, key: &str, error: &str, now_ms: i64) -> Result<()> {
        self.db.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?2,
                 next_attempt_ms = ?3 + min(600000, 1000 * (1 << min(attempts, 10)))
             WHERE key = ?1",
            params![key, error, now_ms],
        )?;
        Ok(())
    }

    // ---- privacy and checks ------------------------------------------------------------

    /// "Clear my data": every row and every file removed, the database rewritten so nothing
    /// removed is readable in its free pages or its journal.
    pub fn clear_everything(&mut self) -> Result<()> {
        let tx = self.db.transaction()?;
        for table in [
            "received_submissions",
            "outbox",
            "annotations",
            "submissions",
            "assignments",
            "materials",
            "lessons",
            "courses",
            "blobs",
            "settings",
        ] {
            tx.execute(&format!("DELETE FROM {table}"), [])?;
        }
        tx.execute("DELETE FROM lesson_search", [])?;
        // Merged into one segment: no deleted words linger in the index's pages.
        tx.execute(
            "INSERT INTO lesson_search(lesson_search) VALUES ('optimize')",
            [],
        )?;
        tx.commit()?;
        self.files.remove_everything()?;
        self.db.execute_batch(
            "PRAGMA wal_checkpoint(TRUNCATE); VACUUM; PRAGMA wal_checkpoint(TRUNCATE);",
        )?;
        Ok(())
    }

    /// SQLite's own check of the database: `["ok"]` when sound.
    pub fn integrity_check(&self) -> Result<Vec<String>> {
        let mut stmt = self.db.prepare("PRAGMA integrity_check")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every file recorded as present: hash and size.
    pub fn present_files(&self) -> Result<Vec<(ContentHash, u64)>> {
        let mut stmt = self
            .db
            .prepare("SELECT hash, size FROM blobs ORDER BY hash")?;
        let rows = stmt.query_map([], |r| {
            Ok((ContentHash(r.get(0)?), r.get::<_, i64>(1)? as u64))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// A course's file, as the server serves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CourseFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its size.
    pub size: u64,
    /// Its media type.
    pub mime: String,
}

/// What an annotation marks up.
#[derive(Clone, Copy, Debug)]
pub enum AnnotationTarget<'a> {
    /// A hand-in (by its id).
    Submission(&'a str),
    /// A lesson's material (by its id).
    Material(&'a str),
}

/// Hashes the student's own work and pinned lessons keep: eviction never takes them.
const KEPT_HASHES: &str = "SELECT hash FROM submissions
     UNION SELECT hash FROM received_submissions
     UNION SELECT returned_hash FROM received_submissions WHERE returned_hash IS NOT NULL
     UNION SELECT returned_hash FROM submissions WHERE returned_hash IS NOT NULL
     UNION SELECT m.hash FROM materials m JOIN lessons l ON l.id = m.lesson_id WHERE l.pinned = 1";

/// Records a file as present (a transaction's connection, or the store's own).
fn record_blob_in(db: &Connection, hash: &ContentHash, size: u64, added_ms: i64) -> Result<()> {
    db.prepare_cached(
        "INSERT INTO blobs(hash, size, added_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT(hash) DO NOTHING",
    )?
    .execute(params![hash.as_str(), size as i64, added_ms])?;
    Ok(())
}

/// A lesson from `SELECT id, course_id, title, notes, position, updated_ms`.
fn lesson_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Lesson> {
    Ok(Lesson {
        id: r.get(0)?,
        course_id: r.get(1)?,
        title: r.get(2)?,
        notes: r.get(3)?,
        position: r.get(4)?,
        updated_ms: r.get(5)?,
    })
}

fn put_lesson(tx: &Transaction<'_>, lesson: &Lesson, materials: &[Material]) -> Result<()> {
    put_lesson_row(tx, lesson)?;
    replace_materials(tx, lesson, materials)
}

/// Adds or updates a lesson's row and its search entry (its materials untouched).
fn put_lesson_row(tx: &Transaction<'_>, lesson: &Lesson) -> Result<()> {
    let rowid: i64 = tx
        .prepare_cached(
            "INSERT INTO lessons(id, course_id, title, notes, position, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(id) DO UPDATE SET course_id = ?2, title = ?3, notes = ?4,
                 position = ?5, updated_ms = ?6
             RETURNING rowid",
        )?
        .query_row(
            params![
                lesson.id,
                lesson.course_id,
                lesson.title,
                lesson.notes,
                lesson.position,
                lesson.updated_ms
            ],
            |r| r.get(0),
        )?;
    tx.prepare_cached("DELETE FROM lesson_search WHERE rowid = ?1")?
        .execute([rowid])?;
    tx.prepare_cached("INSERT INTO lesson_search(rowid, title, notes) VALUES (?1, ?2, ?3)")?
        .execute(params![
            rowid,
            search::index_text(&lesson.title),
            search::index_text(&lesson.notes)
        ])?;
    Ok(())
}

/// Replaces a lesson's materials by `materials`.
fn replace_materials(tx: &Transaction<'_>, lesson: &Lesson, materials: &[Material]) -> Result<()> {
    let keep: Vec<&str> = materials.iter().map(|m| m.id.as_str()).collect();
    let existing: Vec<String> = tx
        .prepare_cached("SELECT id FROM materials WHERE lesson_id = ?1")?
        .query_map([&lesson.id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in existing.iter().filter(|id| !keep.contains(&id.as_str())) {
        tx.execute("DELETE FROM materials WHERE id = ?1", [id])?;
    }
    for m in materials {
        if m.lesson_id != lesson.id {
            return Err(StoreError::Invalid(format!(
                "the material {:?} is given with the lesson {:?} but names {:?}",
                m.id, lesson.id, m.lesson_id
            )));
        }
        put_material_row(tx, m)?;
    }
    Ok(())
}

fn put_material_row(tx: &Transaction<'_>, m: &Material) -> Result<()> {
    tx.execute(
        "INSERT INTO materials(id, lesson_id, kind, title, hash, size, mime, position)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(id) DO UPDATE SET lesson_id = ?2, kind = ?3, title = ?4, hash = ?5,
             size = ?6, mime = ?7, position = ?8",
        params![
            m.id,
            m.lesson_id,
            m.kind.as_str(),
            m.title,
            m.hash.as_str(),
            m.size as i64,
            m.mime,
            m.position
        ],
    )?;
    Ok(())
}

fn enqueue_in(
    tx: &Transaction<'_>,
    key: &str,
    kind: &str,
    payload_json: &str,
    now_ms: i64,
) -> Result<()> {
    if serde_json::from_str::<serde_json::Value>(payload_json).is_err() {
        return Err(StoreError::Invalid(format!(
            "the outbox item {kind:?} is not JSON"
        )));
    }
    tx.execute(
        "INSERT INTO outbox(key, kind, payload, created_ms, next_attempt_ms)
         VALUES (?1, ?2, ?3, ?4, ?4)",
        params![key, kind, payload_json, now_ms],
    )?;
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
