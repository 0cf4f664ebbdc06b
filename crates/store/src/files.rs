//! The files beside the database, each named by the SHA-256 of its content.
//!
//! A file is written to a temporary file, synced, renamed into place and its folder synced;
//! only then does the store record it. A download goes to a `.part` file that survives a crash
//! and resumes where it stopped; it is checked against its hash before it is moved into place.
//! Free space is checked before and while writing, keeping a reserve for the rest of the
//! computer.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::error::{Result, StoreError};

/// A file's content hash: SHA-256, 64 lowercase hex digits.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct ContentHash(pub(crate) String);

impl ContentHash {
    /// Parses a hash (case aside); anything else is refused.
    pub fn parse(text: &str) -> Result<Self> {
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(text.to_ascii_lowercase()))
        } else {
            Err(StoreError::Invalid(format!(
                "{:?} is not a SHA-256 content hash",
                text.chars().take(80).collect::<String>()
            )))
        }
    }

    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(hex::encode(Sha256::digest(bytes)))
    }

    /// The 64 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn from_digest(hasher: Sha256) -> Self {
        Self(hex::encode(hasher.finalize()))
    }
}

impl std::fmt::Display for ContentHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ContentHash {
    type Error = StoreError;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(&value)
    }
}

impl From<ContentHash> for String {
    fn from(value: ContentHash) -> Self {
        value.0
    }
}

/// The folder of files.
#[derive(Debug)]
pub(crate) struct Files {
    root: PathBuf,
    space: Space,
}

/// Free space on the files' filesystem, less a reserve for the rest of the computer.
#[derive(Clone, Debug)]
struct Space {
    root: PathBuf,
    reserve: u64,
}

impl Space {
    /// Errors with [`StoreError::DiskFull`] unless `needed` bytes fit and leave the reserve.
    fn check(&self, needed: u64) -> Result<()> {
        let available = fs4::available_space(&self.root)
            .map_err(|e| StoreError::io("read the free space of", &self.root, e))?;
        if available < needed.saturating_add(self.reserve) {
            return Err(StoreError::DiskFull {
                needed,
                available,
                reserve: self.reserve,
            });
        }
        Ok(())
    }
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

const READ_BUFFER: usize = 256 * 1024;

impl Files {
    /// Opens (making) the folder under `root`.
    pub(crate) fn open(root: &Path, reserve: u64) -> Result<Self> {
        for dir in [root.to_path_buf(), root.join("tmp"), root.join("partial")] {
            fs::create_dir_all(&dir).map_err(|e| StoreError::io("create the folder", &dir, e))?;
        }
        Ok(Self {
            root: root.to_path_buf(),
            space: Space {
                root: root.to_path_buf(),
                reserve,
            },
        })
    }

    /// Where the file with `hash` lives once present.
    pub(crate) fn path(&self, hash: &ContentHash) -> PathBuf {
        self.root.join(&hash.as_str()[..2]).join(hash.as_str())
    }

    fn partial_path(&self, hash: &ContentHash) -> PathBuf {
        self.root.join("partial").join(format!("{hash}.part"))
    }

    /// Errors with [`StoreError::DiskFull`] unless `needed` bytes fit and leave the reserve.
    pub(crate) fn check_space(&self, needed: u64) -> Result<()> {
        self.space.check(needed)
    }

    /// Writes `bytes` as a file in place (temporary file, sync, rename, folder sync).
    pub(crate) fn write_bytes(&self, bytes: &[u8]) -> Result<ContentHash> {
        self.write_from(&mut &bytes[..], Some(bytes.len() as u64))
            .map(|(hash, _)| hash)
    }

    /// Copies everything `reader` gives into a file in place; its hash and size.
    pub(crate) fn write_from(
        &self,
        reader: &mut dyn Read,
        size_hint: Option<u64>,
    ) -> Result<(ContentHash, u64)> {
        self.check_space(size_hint.unwrap_or(0))?;
        let temp = self.temp_path();
        let result = (|| {
            let mut file = create_new(&temp)?;
            let (hasher, size) = hash_through(reader, &temp, |piece| {
                if size_hint.is_none() {
                    self.check_space(piece.len() as u64)?;
                }
                file.write_all(piece)
                    .map_err(|e| StoreError::io("write", &temp, e))
            })?;
            file.sync_all()
                .map_err(|e| StoreError::io("sync", &temp, e))?;
            let hash = ContentHash::from_digest(hasher);
            self.move_into_place(&temp, &hash)?;
            Ok((hash, size))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result
    }

    pub(crate) fn temp_path(&self) -> PathBuf {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        self.root
            .join("tmp")
            .join(format!("{}-{n}.tmp", std::process::id()))
    }

    /// Moves a file written at `temp` (in the temporary folder) into place: read through for
    /// its hash, synced, renamed; its hash and size. Removed on any failure.
    pub(crate) fn import(&self, temp: &Path) -> Result<(ContentHash, u64)> {
        let result = (|| {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(temp)
                .map_err(|e| StoreError::io("open", temp, e))?;
            let (hasher, size) = hash_through(&mut file, temp, |_| Ok(()))?;
            file.sync_all()
                .map_err(|e| StoreError::io("sync", temp, e))?;
            let hash = ContentHash::from_digest(hasher);
            self.move_into_place(temp, &hash)?;
            Ok((hash, size))
        })();
        if result.is_err() {
            let _ = fs::remove_file(temp);
        }
        result
    }

    /// Renames a synced file to its place and syncs both folders.
    fn move_into_place(&self, from: &Path, hash: &ContentHash) -> Result<()> {
        let to = self.path(hash);
        let dir = to.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| StoreError::io("create the folder", &dir, e))?;
        fs::rename(from, &to).map_err(|e| StoreError::io("move into place", &to, e))?;
        sync_dir(&dir)?;
        if let Some(from_dir) = from.parent() {
            sync_dir(from_dir)?;
        }
        Ok(())
    }

    /// Opens (or resumes) the download of the file with `hash` and `size`.
    pub(crate) fn partial(&self, hash: &ContentHash, size: u64) -> Result<Partial> {
        let path = self.partial_path(hash);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| StoreError::io("open", &path, e))?;
        let mut have = file
            .metadata()
            .map_err(|e| StoreError::io("read the size of", &path, e))?
            .len();
        self.check_space(size - have.min(size))?;
        if have > size {
            file.set_len(0)
                .map_err(|e| StoreError::io("truncate", &path, e))?;
            have = 0;
        }
        // The hash goes on from what is already there.
        let mut reader = File::open(&path)
            .map_err(|e| StoreError::io("open", &path, e))?
            .take(have);
        let (hasher, read) = hash_through(&mut reader, &path, |_| Ok(()))?;
        if read != have {
            return Err(StoreError::Invalid(format!(
                "the download of {hash} shrank while it was read"
            )));
        }
        file.flush().map_err(|e| StoreError::io("open", &path, e))?;
        Ok(Partial {
            space: self.space.clone(),
            file,
            path,
            hash: hash.clone(),
            size,
            written: have,
            hasher,
        })
    }

    /// Finishes a download: all of it there, synced, matching its hash, moved into place.
    pub(crate) fn finish(&self, partial: Partial) -> Result<()> {
        let Partial {
            space: _,
            file,
            path,
            hash,
            size,
            written,
            hasher,
        } = partial;
        if written != size {
            return Err(StoreError::Invalid(format!(
                "the download of {hash} has {written} of {size} bytes"
            )));
        }
        file.sync_all()
            .map_err(|e| StoreError::io("sync", &path, e))?;
        drop(file);
        if ContentHash::from_digest(hasher) != hash {
            let _ = fs::remove_file(&path);
            return Err(StoreError::Corrupt {
                hash: hash.to_string(),
            });
        }
        self.move_into_place(&path, &hash)
    }

    /// Reads the file with `hash` through and says whether it still matches (and has `size`).
    pub(crate) fn verify(&self, hash: &ContentHash, size: u64) -> Result<bool> {
        let path = self.path(hash);
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(StoreError::io("open", &path, e)),
        };
        let (hasher, total) = hash_through(&mut file, &path, |_| Ok(()))?;
        Ok(total == size && ContentHash::from_digest(hasher) == *hash)
    }

    /// The file with `hash` read into memory, if it still matches (and has `size`).
    pub(crate) fn read_checked(&self, hash: &ContentHash, size: u64) -> Result<Option<Vec<u8>>> {
        let path = self.path(hash);
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io("open", &path, e)),
        };
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        let (hasher, total) = hash_through(&mut file, &path, |piece| {
            bytes.extend_from_slice(piece);
            Ok(())
        })?;
        Ok((total == size && ContentHash::from_digest(hasher) == *hash).then_some(bytes))
    }

    /// Removes the file with `hash` (absent is fine).
    pub(crate) fn remove(&self, hash: &ContentHash) -> Result<()> {
        remove_if_present(&self.path(hash))
    }

    /// Removes a download's `.part` file (absent is fine).
    pub(crate) fn remove_partial(&self, hash: &ContentHash) -> Result<()> {
        remove_if_present(&self.partial_path(hash))
    }

    /// Removes what a crash left in the temporary folder; how many files.
    pub(crate) fn remove_temporary(&self) -> Result<usize> {
        let dir = self.root.join("tmp");
        let mut removed = 0;
        for entry in read_dir(&dir)? {
            let path = entry.path();
            fs::remove_file(&path).map_err(|e| StoreError::io("remove", &path, e))?;
            removed += 1;
        }
        Ok(removed)
    }

    /// Every file in place, by the hash its name says, with its size on disk.
    pub(crate) fn in_place(&self) -> Result<Vec<(ContentHash, u64)>> {
        let mut found = Vec::new();
        for shard in read_dir(&self.root)? {
            let name = shard.file_name();
            let name = name.to_string_lossy();
            if name.len() != 2 || !shard.path().is_dir() {
                continue;
            }
            for entry in read_dir(&shard.path())? {
                let path = entry.path();
                match ContentHash::parse(&entry.file_name().to_string_lossy()) {
                    Ok(hash) if hash.as_str().starts_with(name.as_ref()) => {
                        let size = entry
                            .metadata()
                            .map_err(|e| StoreError::io("read the size of", &path, e))?
                            .len();
                        found.push((hash, size));
                    }
                    // Not ours: a stray file is left alone, never counted.
                    _ => {}
                }
            }
        }
        Ok(found)
    }

    /// Downloads in progress, by hash, with the bytes they have.
    pub(crate) fn partials(&self) -> Result<Vec<(ContentHash, u64)>> {
        let mut found = Vec::new();
        for entry in read_dir(&self.root.join("partial"))? {
            let name = entry.file_name();
            let Some(hash) = name
                .to_string_lossy()
                .strip_suffix(".part")
                .and_then(|h| ContentHash::parse(h).ok())
            else {
                continue;
            };
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            found.push((hash, size));
        }
        Ok(found)
    }

    /// Removes every file, download and temporary file (the folders stay).
    pub(crate) fn remove_everything(&self) -> Result<()> {
        for entry in read_dir(&self.root)? {
            let path = entry.path();
            if path.is_dir() {
                fs::remove_dir_all(&path).map_err(|e| StoreError::io("remove", &path, e))?;
            } else {
                fs::remove_file(&path).map_err(|e| StoreError::io("remove", &path, e))?;
            }
        }
        for dir in [self.root.join("tmp"), self.root.join("partial")] {
            fs::create_dir_all(&dir).map_err(|e| StoreError::io("create the folder", &dir, e))?;
        }
        sync_dir(&self.root)
    }
}

/// A download being written: resumable from [`Partial::offset`] after a crash.
#[derive(Debug)]
pub struct Partial {
    space: Space,
    file: File,
    path: PathBuf,
    hash: ContentHash,
    size: u64,
    written: u64,
    hasher: Sha256,
}

impl Partial {
    /// Bytes already there: where the download goes on from.
    pub fn offset(&self) -> u64 {
        self.written
    }

    /// The whole file's size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The hash the file must have.
    pub fn hash(&self) -> &ContentHash {
        &self.hash
    }

    /// Appends the next bytes (refusing more than the file's size).
    pub fn write(&mut self, chunk: &[u8]) -> Result<()> {
        let after = self.written + chunk.len() as u64;
        if after > self.size {
            return Err(StoreError::Invalid(format!(
                "the download of {} got {after} bytes of {}",
                self.hash, self.size
            )));
        }
        // Checked as it goes too: something else on the computer may be filling the disk.
        self.space.check(chunk.len() as u64)?;
        self.file
            .write_all(chunk)
            .map_err(|e| StoreError::io("write", &self.path, e))?;
        self.hasher.update(chunk);
        self.written = after;
        Ok(())
    }

    /// Makes what was written so far durable.
    pub fn sync(&mut self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| StoreError::io("sync", &self.path, e))
    }
}

/// The content hash of the file at `path`.
pub(crate) fn hash_file(path: &Path) -> Result<ContentHash> {
    let mut file = File::open(path).map_err(|e| StoreError::io("open", path, e))?;
    let (hasher, _) = hash_through(&mut file, path, |_| Ok(()))?;
    Ok(ContentHash::from_digest(hasher))
}

/// Reads `reader` to its end, hashing it and handing each piece to `each`; the hash and the
/// bytes read. `path` names the file in errors.
fn hash_through(
    reader: &mut dyn Read,
    path: &Path,
    mut each: impl FnMut(&[u8]) -> Result<()>,
) -> Result<(Sha256, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; READ_BUFFER];
    let mut size = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(StoreError::io("read", path, e)),
        };
        each(&buf[..n])?;
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hasher, size))
}

/// Removes a file; one already gone is fine.
fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io("remove", path, e)),
    }
}

fn create_new(path: &Path) -> Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| StoreError::io("create", path, e))
}

fn read_dir(dir: &Path) -> Result<Vec<fs::DirEntry>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io("list", dir, e)),
    };
    entries
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| StoreError::io("list", dir, e))
}

/// Syncs a folder, so a rename in it survives a power cut.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io("sync the folder", dir, e))
}
