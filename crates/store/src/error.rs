//! What can go wrong in the store, in words a user can act on.

use std::io;
use std::path::PathBuf;

/// An error from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The disk is (or would be) too full: nothing was written, nothing saved was lost.
    #[error(
        "not enough free disk space: {needed} bytes needed, {available} available (keeping {reserve} free)"
    )]
    DiskFull {
        /// Bytes the operation needed.
        needed: u64,
        /// Bytes the filesystem had free.
        available: u64,
        /// Bytes the store leaves free for the rest of the computer.
        reserve: u64,
    },
    /// The disk filled up while writing: what was being written was dropped, nothing saved
    /// was lost.
    #[error("the disk is full: could not {op} {path}")]
    NoSpace {
        /// What was being done.
        op: &'static str,
        /// Where.
        path: PathBuf,
    },
    /// A file's content does not match its hash: it was removed and must be fetched again.
    #[error("the file {hash} is damaged (its content does not match); it was removed")]
    Corrupt {
        /// The hash it should have had.
        hash: String,
    },
    /// A file or folder could not be read or written.
    #[error("could not {op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// Where.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: io::Error,
    },
    /// Something asked for is not in the store.
    #[error("{0} is not in the library")]
    NotFound(String),
    /// Input the store refuses (a malformed hash, a size that does not add up).
    #[error("{0}")]
    Invalid(String),
    /// The database refused or failed.
    #[error("the library database: {0}")]
    Database(#[from] rusqlite::Error),
    /// The database could not be brought to this version's layout.
    #[error("the library database could not be upgraded: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// The store's thread is gone (the app is closing).
    #[error("the library is closed")]
    Closed,
}

/// The store's result.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// An I/O error at `path`, turned into [`StoreError::NoSpace`] when the disk is full
    /// (for code that writes beside the store, such as the lesson service's uploads).
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        let path = path.into();
        if is_disk_full(&source) {
            return StoreError::NoSpace { op, path };
        }
        StoreError::Io { op, path, source }
    }

    /// True when the error says the disk is full (from a file or from SQLite).
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::DiskFull { .. } | StoreError::NoSpace { .. } => true,
            StoreError::Database(rusqlite::Error::SqliteFailure(e, _)) => {
                e.code == rusqlite::ErrorCode::DiskFull
            }
            StoreError::Io { source, .. } => is_disk_full(source),
            _ => false,
        }
    }

    /// A stable name for counting errors by kind.
    pub fn kind(&self) -> &'static str {
        if self.is_disk_full() {
            return "diskFull";
        }
        match self {
            StoreError::DiskFull { .. } | StoreError::NoSpace { .. } => "diskFull",
            StoreError::Corrupt { .. } => "corrupt",
            StoreError::Io { .. } => "io",
            StoreError::NotFound(_) => "notFound",
            StoreError::Invalid(_) => "invalid",
            StoreError::Database(_) => "database",
            StoreError::Migration(_) => "migration",
            StoreError::Closed => "closed",
        }
    }
}

fn is_disk_full(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::StorageFull || e.raw_os_error() == Some(28) // ENOSPC
}
