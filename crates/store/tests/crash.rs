//! Kills a process working the store (SIGKILL, at random moments) 200 times and checks what
//! the next open finds: SQLite's integrity check passes, every file recorded as present
//! matches its hash, no temporary file is left, every hand-in has its file and (until sent)
//! its outbox item, and each interrupted download resumes at most one chunk before where it
//! was. `CRASH_SEED=n` replays a run.

// A test that cannot go on panics with what it got: that is its report.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use classroom_store::*;

const KILLS: usize = 200;
const CHUNK: u64 = 32 * 1024;

#[derive(Default, Debug)]
struct Seen {
    files: HashMap<usize, (ContentHash, u64)>,
    /// Per file being downloaded: the end of the last chunk that "arrived".
    got: HashMap<usize, u64>,
    ready: bool,
}

#[test]
fn two_hundred_kills_leave_a_sound_store_that_resumes() {
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(1..u64::MAX));
    eprintln!("CRASH_SEED={seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let dir = tempfile::tempdir().unwrap();
    let (mut resumed, mut refetched_max, mut adopted, mut temporary) = (0u64, 0u64, 0usize, 0usize);
    let started = Instant::now();
    for kill in 0..KILLS {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_classroom-store-torture"))
            .arg(dir.path())
            .arg(rng.u64(..).to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the torture binary starts");
        let stdout = child.stdout.take().unwrap();
        let reader = {
            let seen = seen.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let parts: Vec<&str> = line.split(' ').collect();
                    let mut s = seen.lock().unwrap();
                    let n = |k: usize| parts[k].parse::<u64>().unwrap();
                    match parts[0] {
                        "file" => {
                            let hash = ContentHash::parse(parts[2]).unwrap();
                            s.files.insert(n(1) as usize, (hash, n(3)));
                            s.ready = s.files.len() == 6;
                        }
                        "begin" | "got" => {
                            s.got.insert(n(1) as usize, n(2));
                        }
                        "done" => {
                            s.got.remove(&(n(1) as usize));
                        }
                        other => panic!("the torture binary said {other:?}"),
                    }
                }
            })
        };
        // Wait for it to have opened the store, then let it work a random while.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !seen.lock().unwrap().ready {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("kill {kill}: the torture binary stopped by itself: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "kill {kill}: it never opened the store"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(rng.u64(0..80)));
        // Child::kill is SIGKILL on Unix.
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();

        let seen = seen.lock().unwrap();
        let store = Store::open(dir.path(), &StoreOptions { reserve_bytes: 0 })
            .unwrap_or_else(|e| panic!("kill {kill}: the store does not open: {e}"));
        let r = store.recovery();
        adopted += r.adopted;
        temporary += r.temporary_removed;
        assert_eq!(store.integrity_check().unwrap(), ["ok"], "kill {kill}");
        assert!(
            store.damaged_files().unwrap().is_empty(),
            "kill {kill}: a file recorded as present does not match its hash"
        );
        let tmp = dir.path().join("files").join("tmp");
        assert_eq!(
            std::fs::read_dir(&tmp).unwrap().count(),
            0,
            "kill {kill}: temporary files left"
        );
        check_hand_ins(dir.path(), kill);
        // Each interrupted download goes on from at most one chunk before what had arrived.
        for (i, got) in &seen.got {
            let (hash, size) = &seen.files[i];
            if store.has_file(hash).unwrap() {
                continue;
            }
            let part = store.begin_download(hash, *size).unwrap();
            let refetch = got.saturating_sub(part.offset());
            assert!(
                refetch <= CHUNK,
                "kill {kill}: file {i} had {got} bytes arrive, resumes at {} ({refetch} again)",
                part.offset()
            );
            refetched_max = refetched_max.max(refetch);
            resumed += 1;
        }
    }
    eprintln!(
        "{KILLS} kills in {:.1} s: {resumed} downloads resumed (at most {refetched_max} bytes \
         fetched again), {adopted} finished files adopted, {temporary} temporary files removed",
        started.elapsed().as_secs_f64()
    );
    assert!(
        resumed > 0,
        "no kill landed inside a download: the test proved nothing"
    );
}

/// Every hand-in has its file; every one not yet sent is in the outbox under its id.
fn check_hand_ins(dir: &std::path::Path, kill: usize) {
    let db = rusqlite::Connection::open(dir.join(DATABASE_FILE)).unwrap();
    let without_file: i64 = db
        .query_row(
            "SELECT count(*) FROM submissions s LEFT JOIN blobs b ON b.hash = s.hash
             WHERE b.hash IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(without_file, 0, "kill {kill}: a hand-in lost its file");
    let unqueued: i64 = db
        .query_row(
            "SELECT count(*) FROM submissions s LEFT JOIN outbox o ON o.key = s.id
             WHERE s.state = 'queued' AND o.key IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        unqueued, 0,
        "kill {kill}: a queued hand-in is not in the outbox"
    );
}
