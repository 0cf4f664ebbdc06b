//! A full disk on a real (small) filesystem: a tmpfs of a few MiB mounted for the test (needs
//! root, like the LAN test; it fails and says so without). Whatever fills it, the user gets an
//! error that says the disk is full, and nothing already saved is lost or damaged.

// A test that cannot go on panics with what it got: that is its report.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use classroom_store::*;

/// A tmpfs mounted for the test, unmounted when dropped.
struct SmallDisk {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn new(size: &str) -> Self {
        let uid = Command::new("id").arg("-u").output().expect("`id` runs");
        assert!(
            String::from_utf8_lossy(&uid.stdout).trim() == "0",
            "the full-disk test mounts a small tmpfs and needs root"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk");
        fs::create_dir(&path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .expect("`mount` runs");
        assert!(status.success(), "mounting a tmpfs at {}", path.display());
        Self { path, _dir: dir }
    }

    /// Fills what is left of the disk with one file; its path.
    fn fill(&self) -> PathBuf {
        let filler = self.path.join("filler");
        let block = vec![0xAAu8; 64 * 1024];
        let mut f = fs::File::create(&filler).unwrap();
        use std::io::Write;
        while f.write_all(&block).is_ok() {}
        // The last partial block too.
        while f.write_all(&block[..512]).is_ok() {}
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

fn course() -> Course {
    Course {
        id: "c".into(),
        title: "Course".into(),
        teacher: String::new(),
        origin: String::new(),
    }
}

fn lessons(n: usize, round: usize) -> Vec<(Lesson, Vec<Material>)> {
    (0..n)
        .map(|i| {
            (
                Lesson {
                    id: format!("l{round}-{i}"),
                    course_id: "c".into(),
                    title: format!("Lesson {i}"),
                    notes: "a long note that takes room ".repeat(40),
                    position: i as i64,
                    updated_ms: 1,
                },
                vec![],
            )
        })
        .collect()
}

fn check_sound(store: &Store, file: &[u8], lessons_before: usize) {
    assert_eq!(store.integrity_check().unwrap(), ["ok"]);
    assert_eq!(
        fs::read(store.open_file(&ContentHash::of(file)).unwrap()).unwrap(),
        file,
        "a file saved before is intact"
    );
    assert_eq!(store.lessons(None).unwrap().len(), lessons_before);
}

#[test]
fn a_full_disk_is_reported_and_loses_nothing() {
    let disk = SmallDisk::new("6m");
    let root: &Path = &disk.path;
    let store_dir = root.join("store");
    let options = StoreOptions {
        reserve_bytes: 256 * 1024,
    };
    let mut store = Store::open(&store_dir, &options).unwrap();
    store.put_course(&course()).unwrap();
    store.put_lessons(&lessons(20, 0)).unwrap();
    let saved = vec![5u8; 300_000];
    store.save_bytes(&saved).unwrap();

    // 1. A download bigger than the free space is refused before a byte is written.
    let big = ContentHash::of(b"big");
    let err = store.begin_download(&big, 50_000_000).unwrap_err();
    assert!(matches!(err, StoreError::DiskFull { .. }), "{err}");
    assert!(
        err.to_string().contains("not enough free disk space"),
        "{err}"
    );

    // 2. Something else fills the disk while a download runs: the next chunk is refused.
    let content = vec![7u8; 1_000_000];
    let hash = ContentHash::of(&content);
    let mut part = store.begin_download(&hash, content.len() as u64).unwrap();
    part.write(&content[..100_000]).unwrap();
    part.sync().unwrap();
    let filler = disk.fill();
    let err = part.write(&content[100_000..200_000]).unwrap_err();
    assert!(err.is_disk_full(), "{err}");
    assert_eq!(err.kind(), "diskFull");
    drop(part);
    check_sound(&store, &saved, 20);

    // 3. The database itself cannot grow: SQLite's "full" is the same error, and the
    // transaction left nothing half done.
    let mut full_seen = false;
    for round in 1..50 {
        match store.put_lessons(&lessons(200, round)) {
            Ok(()) => {}
            Err(e) => {
                assert!(e.is_disk_full(), "{e}");
                full_seen = true;
                break;
            }
        }
    }
    assert!(full_seen, "the database never filled the disk");
    // Saving a hand-in of unknown size on the full disk: refused as it goes.
    let err = store.save_from(&mut &vec![1u8; 2_000_000][..]).unwrap_err();
    assert!(err.is_disk_full(), "{err}");

    // 4. Room again: the download goes on from where it was, the store works.
    fs::remove_file(filler).unwrap();
    drop(store);
    let mut store = Store::open(&store_dir, &options).unwrap();
    let lessons_now = store.lessons(None).unwrap().len();
    assert!(
        lessons_now >= 20 && (lessons_now - 20).is_multiple_of(200),
        "{lessons_now}"
    );
    check_sound(&store, &saved, lessons_now);
    let mut part = store.begin_download(&hash, content.len() as u64).unwrap();
    assert_eq!(part.offset(), 100_000);
    part.write(&content[100_000..]).unwrap();
    store.finish_download(part).unwrap();
    assert!(store.has_file(&hash).unwrap());
    store.put_lessons(&lessons(5, 99)).unwrap();
    assert_eq!(
        fs::read_dir(store_dir.join("files").join("tmp"))
            .unwrap()
            .count(),
        0,
        "no temporary file left by the refused writes"
    );
}
