//! The app's offline store: lessons, materials, homework, annotation documents and an outbox
//! in one SQLite database, with the files beside it addressed by content hash.
//!
//! [`Store`] is the blocking store; [`StoreHandle`] runs it on a thread of its own so the UI
//! and the async runtime never wait on the disk. Every write of a file goes temporary file,
//! sync, rename, folder sync, and only then into the database; opening after a crash puts
//! right whatever was half done ([`Recovery`]).

mod error;
mod files;
mod model;
mod search;
mod store;

use std::path::PathBuf;
use std::sync::mpsc;

pub use error::{Result, StoreError};
pub use files::{ContentHash, Partial};
pub use model::*;
pub use store::{
    AnnotationTarget, CourseFile, DATABASE_FILE, Receipt, Store, StoreOptions, marked_copy_type,
    migrations,
};

type Job = Box<dyn FnOnce(&mut Store) + Send>;

/// The store on its own thread: each call runs there, in order, and answers asynchronously.
#[derive(Clone, Debug)]
pub struct StoreHandle {
    jobs: mpsc::Sender<Job>,
    dir: PathBuf,
}

impl StoreHandle {
    /// Opens the store in `dir` on a new thread (waiting for it to open).
    pub fn open(dir: PathBuf, options: StoreOptions) -> Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (opened, opened_rx) = mpsc::channel();
        let thread_dir = dir.clone();
        std::thread::Builder::new()
            .name("store".into())
            .spawn(move || {
                let mut store = match Store::open(&thread_dir, &options) {
                    Ok(store) => {
                        let _ = opened.send(Ok(()));
                        store
                    }
                    Err(e) => {
                        let _ = opened.send(Err(e));
                        return;
                    }
                };
                while let Ok(job) = queue.recv() {
                    job(&mut store);
                }
            })
            .map_err(|e| StoreError::io("start the thread of", &dir, e))?;
        opened_rx.recv().map_err(|_| StoreError::Closed)??;
        Ok(Self { jobs, dir })
    }

    /// The store's folder.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Runs `f` on the store's thread; its answer.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |store| {
                let _ = tx.send(f(store));
            }))
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}
