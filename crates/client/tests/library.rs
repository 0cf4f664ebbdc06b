//! The student's lesson downloader against a real class server's lesson service: the
//! catalog into the store, files downloaded several at once and checked, a download that
//! survives the server going away mid-file and resumes with at most one sync interval
//! fetched again, pause and resume, cancel, and a bandwidth cap that holds.

use std::time::{Duration, Instant};

use classroom_client::library::{
    DownloadEvent, DownloadOptions, Downloader, LibraryError, LibraryServer, MaterialUpload,
    lesson_base,
};
use classroom_protocol::Role;
use classroom_protocol::lessons::{LessonUpdate, MaterialKind};
use classroom_sfu::{AccessKey, ServerConfig, ServerHandle, start};
use classroom_store::{ContentHash, StoreHandle, StoreOptions};
use tokio::sync::mpsc;

const ROOM: &str = "physics-7b";

fn content(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| ((i * 31) as u8).wrapping_add(seed))
        .collect()
}

async fn server(
    dir: &std::path::Path,
    addr: Option<std::net::SocketAddr>,
    key: Option<AccessKey>,
) -> ServerHandle {
    let mut config = ServerConfig {
        lessons_dir: Some(dir.join("server")),
        access: key,
        ..ServerConfig::loopback()
    };
    if let Some(addr) = addr {
        config.signaling = addr;
    }
    start(config).await.expect("the server starts")
}

/// The teacher adds `files` to a lesson `lesson`, through the client's upload API (streamed
/// from files on disk, as the app does).
async fn teach(server: &ServerHandle, lesson: &str, files: &[Vec<u8>]) {
    let token = server
        .mint_token(ROOM, "teacher", Role::Teacher, Duration::from_secs(3600))
        .expect("a token");
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = StoreHandle::open(dir.path().join("teacher"), StoreOptions::default())
        .expect("the teacher's store");
    let teacher = Downloader::new(
        LibraryServer {
            base: lesson_base(&format!("ws://{}/ws", server.signaling_addr())).expect("base"),
            room: ROOM.into(),
            token,
            pin: None,
        },
        store,
        DownloadOptions::default(),
    )
    .expect("a client");
    let recorded = teacher
        .put_lesson(
            lesson,
            &LessonUpdate {
                title: format!("Lesson {lesson}"),
                notes: "notes".into(),
                position: 0,
            },
        )
        .await
        .expect("the lesson is added");
    assert_eq!(recorded.id, lesson);
    for (i, f) in files.iter().enumerate() {
        let path = dir.path().join(format!("part-{i}.mp4"));
        std::fs::write(&path, f).expect("write");
        let material = teacher
            .upload_material(
                lesson,
                &MaterialUpload {
                    id: format!("m{i}"),
                    kind: MaterialKind::Video,
                    title: format!("Part {i}"),
                    mime: "video/mp4".into(),
                },
                &path,
            )
            .await
            .expect("the file is uploaded");
        assert_eq!(material.size, f.len() as u64);
        assert_eq!(material.title, format!("Part {i}"));
        assert_eq!(material.sha256, ContentHash::of(f).to_string());
    }
}

fn student(server: &ServerHandle, store: StoreHandle, options: DownloadOptions) -> Downloader {
    let token = server
        .mint_token(ROOM, "ada", Role::Student, Duration::from_secs(3600))
        .expect("a token");
    Downloader::new(
        LibraryServer {
            base: format!("http://{}", server.signaling_addr()),
            room: ROOM.into(),
            token,
            pin: None,
        },
        store,
        options,
    )
    .expect("a downloader")
}

fn quick_retries() -> DownloadOptions {
    DownloadOptions {
        first_retry_delay: Duration::from_millis(100),
        max_retry_delay: Duration::from_millis(400),
        max_retries: 60,
        sync_every: 256 * 1024,
        ..DownloadOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lesson_downloads_checked_and_opens_with_the_server_gone() {
    let dir = tempfile::tempdir().expect("a folder");
    let server = server(dir.path(), None, None).await;
    let files = vec![content(3_000_000, 1), content(1_500_000, 2), content(10, 3)];
    teach(&server, "forces", &files).await;
    let store = StoreHandle::open(
        dir.path().join("student"),
        StoreOptions { reserve_bytes: 0 },
    )
    .expect("the student's store");
    let d = student(&server, store.clone(), DownloadOptions::default());
    assert_eq!(d.refresh_catalog().await.expect("the catalog"), 1);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let report = d.download_lesson("forces", tx).await.expect("downloaded");
    assert_eq!(report.files, 3);
    assert_eq!(report.fetched_bytes, 4_500_010);
    let mut progress = Vec::new();
    let mut done = 0;
    while let Ok(e) = rx.try_recv() {
        match e {
            DownloadEvent::Progress { done: d, total, .. } => {
                assert_eq!(total, 4_500_010);
                progress.push(d);
            }
            DownloadEvent::FileDone { .. } => done += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(done, 3);
    assert!(
        progress.windows(2).all(|w| w[0] <= w[1]),
        "progress only grows"
    );
    assert_eq!(progress.last(), Some(&4_500_010));
    server.shutdown().await;
    // The server is gone: the lesson is on this computer, checked, and opens.
    let list = store.run(|s| s.lessons(None)).await.expect("the library");
    assert!(list[0].offline());
    for f in &files {
        let hash = ContentHash::of(f);
        let path = store.run(move |s| s.open_file(&hash)).await.expect("opens");
        assert_eq!(&std::fs::read(path).expect("reads"), f);
    }
    // Downloading again fetches nothing.
    let (tx, _rx) = mpsc::unbounded_channel();
    assert_eq!(
        d.download_lesson("forces", tx)
            .await
            .expect("nothing to do")
            .files,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_cut_by_the_server_going_away_resumes_when_it_returns() {
    let dir = tempfile::tempdir().expect("a folder");
    let first = server(dir.path(), None, None).await;
    let (addr, key) = (first.signaling_addr(), first.access().clone());
    // Bigger than what the kernel buffers on loopback (several MB each way), so the cut
    // lands in the middle.
    let file = content(40_000_000, 9);
    teach(&first, "waves", std::slice::from_ref(&file)).await;
    let store = StoreHandle::open(
        dir.path().join("student"),
        StoreOptions { reserve_bytes: 0 },
    )
    .expect("the student's store");
    let options = DownloadOptions {
        // Slow enough to be cut in the middle: 10 MB/s.
        max_bytes_per_second: Some(10_000_000),
        ..quick_retries()
    };
    let d = student(&first, store.clone(), options.clone());
    d.refresh_catalog().await.expect("the catalog");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let task = {
        let d = d.clone();
        tokio::spawn(async move { d.download_lesson("waves", tx).await })
    };
    // Wait for about a third, then the server goes away.
    loop {
        match rx.recv().await.expect("events") {
            DownloadEvent::Progress { done, .. } if done > 5_000_000 => break,
            _ => {}
        }
    }
    first.shutdown().await;
    // What the kernel had buffered still arrives (at the capped rate); then the connection
    // is found cut and the downloader retries while nobody answers.
    let mut retried = 0;
    let gone = Instant::now();
    while retried < 3 {
        assert!(
            gone.elapsed() < Duration::from_secs(20),
            "the downloader never retried with the server away"
        );
        if let Ok(Some(DownloadEvent::Retrying { .. })) =
            tokio::time::timeout(Duration::from_millis(100), rx.recv()).await
        {
            retried += 1;
        }
    }
    // Back, on the same address with the same key and lessons.
    let second = server(dir.path(), Some(addr), Some(key)).await;
    let report = tokio::time::timeout(Duration::from_secs(60), task)
        .await
        .expect("finishes once the server is back")
        .expect("the task")
        .expect("downloaded");
    let again = report.fetched_bytes - file.len() as u64;
    eprintln!(
        "resumed after {retried} retries: {} bytes fetched for an {}-byte file ({again} again)",
        report.fetched_bytes,
        file.len()
    );
    assert!(
        again <= options.sync_every,
        "fetched {again} bytes again, more than one sync interval"
    );
    let hash = ContentHash::of(&file);
    let path = store.run(move |s| s.open_file(&hash)).await.expect("opens");
    assert_eq!(std::fs::read(path).expect("reads"), file);
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_cancel_and_the_bandwidth_cap() {
    let dir = tempfile::tempdir().expect("a folder");
    let server = server(dir.path(), None, None).await;
    let file = content(3_000_000, 5);
    teach(&server, "light", std::slice::from_ref(&file)).await;
    let store = StoreHandle::open(
        dir.path().join("student"),
        StoreOptions { reserve_bytes: 0 },
    )
    .expect("the student's store");
    let options = DownloadOptions {
        max_bytes_per_second: Some(1_000_000),
        ..quick_retries()
    };
    let d = student(&server, store.clone(), options);
    d.refresh_catalog().await.expect("the catalog");

    // Paused after a little: nothing more arrives until resumed.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let task = {
        let d = d.clone();
        tokio::spawn(async move { d.download_lesson("light", tx).await })
    };
    let mut last;
    loop {
        if let DownloadEvent::Progress { done, .. } = rx.recv().await.expect("events") {
            last = done;
            if done > 500_000 {
                break;
            }
        }
    }
    d.pause();
    // A pause takes effect within one burst of the cap (a quarter of a second).
    tokio::time::sleep(Duration::from_millis(1000)).await;
    while let Ok(e) = rx.try_recv() {
        if let DownloadEvent::Progress { done, .. } = e {
            last = done;
        }
    }
    let paused_at = last;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    while let Ok(e) = rx.try_recv() {
        if let DownloadEvent::Progress { done, .. } = e {
            assert_eq!(done, paused_at, "bytes arrived while paused");
        }
    }
    d.resume();
    let report = task.await.expect("the task").expect("downloaded");
    assert!(report.fetched_bytes <= file.len() as u64 + 256 * 1024);
    let hash = ContentHash::of(&file);
    assert!(
        store
            .run(move |s| s.has_file(&hash))
            .await
            .expect("the store")
    );

    // The cap: 2 MB at 1 MB/s take about two seconds.
    teach(&server, "sound", &[content(2_000_000, 7)]).await;
    d.refresh_catalog().await.expect("the catalog");
    let (tx, _rx) = mpsc::unbounded_channel();
    let started = Instant::now();
    d.download_lesson("sound", tx).await.expect("downloaded");
    let secs = started.elapsed().as_secs_f64();
    eprintln!("2 MB under a 1 MB/s cap: {secs:.2} s");
    assert!(secs >= 1.6, "2 MB took {secs:.2} s under a 1 MB/s cap");

    // Cancel: what was fetched is removed, and the error says so.
    teach(&server, "heat", &[content(3_000_000, 6)]).await;
    d.refresh_catalog().await.expect("the catalog");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let task = {
        let d = d.clone();
        tokio::spawn(async move { d.download_lesson("heat", tx).await })
    };
    loop {
        if let DownloadEvent::Progress { done, .. } = rx.recv().await.expect("events")
            && done > 300_000
        {
            break;
        }
    }
    d.cancel();
    let err = task.await.expect("the task").expect_err("cancelled");
    assert!(matches!(err, LibraryError::Cancelled), "{err}");
    let list = store.run(|s| s.lessons(None)).await.expect("the library");
    let heat = list.iter().find(|l| l.id == "heat").expect("listed");
    assert_eq!(heat.materials_offline, 0);
    let partial_dir = dir.path().join("student").join("files").join("partial");
    assert_eq!(std::fs::read_dir(partial_dir).expect("partials").count(), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn another_class_token_or_no_server_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("a folder");
    let server = server(dir.path(), None, None).await;
    let store = StoreHandle::open(
        dir.path().join("student"),
        StoreOptions { reserve_bytes: 0 },
    )
    .expect("the student's store");
    let other = server
        .mint_token("chemistry", "ada", Role::Student, Duration::from_secs(60))
        .expect("a token");
    let d = Downloader::new(
        LibraryServer {
            base: format!("http://{}", server.signaling_addr()),
            room: ROOM.into(),
            token: other,
            pin: None,
        },
        store.clone(),
        DownloadOptions::default(),
    )
    .expect("a downloader");
    let err = d.refresh_catalog().await.expect_err("refused");
    assert!(
        matches!(err, LibraryError::Server { status: 403, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("another class"), "{err}");
    let addr = server.signaling_addr();
    server.shutdown().await;
    let d = Downloader::new(
        LibraryServer {
            base: format!("http://{addr}"),
            room: ROOM.into(),
            token: "x".into(),
            pin: None,
        },
        store,
        DownloadOptions::default(),
    )
    .expect("a downloader");
    let err = d.refresh_catalog().await.expect_err("nobody there");
    assert!(matches!(err, LibraryError::Network(_)), "{err}");
}

/// Homework handed in with the server away stays queued; once the server is back it is sent,
/// and the server records it once: the same key sent again (an answer lost on the way, or a
/// crash between sending and marking it sent) changes nothing, and the key cannot be reused
/// for another file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn homework_handed_in_offline_is_sent_once_when_the_server_returns() {
    let dir = tempfile::tempdir().expect("a folder");
    let first = server(dir.path(), None, None).await;
    let (addr, key) = (first.signaling_addr(), first.access().clone());
    let store = StoreHandle::open(
        dir.path().join("student"),
        StoreOptions { reserve_bytes: 0 },
    )
    .expect("the student's store");
    let d = student(&first, store.clone(), quick_retries());
    first.shutdown().await;

    // Offline: the hand-in is saved and queued.
    let essay = content(300_000, 5);
    let submission = {
        let essay = essay.clone();
        store
            .run(move |s| {
                s.put_course(&classroom_store::Course {
                    id: ROOM.into(),
                    title: ROOM.into(),
                    teacher: String::new(),
                    origin: String::new(),
                })?;
                s.put_assignment(&classroom_store::Assignment {
                    id: "essay-1".into(),
                    course_id: ROOM.into(),
                    lesson_id: None,
                    title: "Essay".into(),
                    instructions: String::new(),
                    due_ms: None,
                })?;
                s.hand_in("essay-1", "essay.pdf", &mut essay.as_slice(), 1)
            })
            .await
            .expect("handed in")
    };
    let report = d.send_outbox().await.expect("a pass");
    assert_eq!((report.sent, report.failed, report.left), (0, 1, 1));

    // Back: once the backoff (1 s) has passed, it goes.
    let second = server(dir.path(), Some(addr), Some(key)).await;
    // The class has this homework set (the server takes hand-ins of its own homework only).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let teacher = second
        .mint_token(ROOM, "ms-rivera", Role::Teacher, Duration::from_secs(3600))
        .expect("a token");
    let set = reqwest::Client::new()
        .put(format!(
            "http://{}/assignments/{ROOM}/essay-1",
            second.signaling_addr()
        ))
        .bearer_auth(&teacher)
        .json(&serde_json::json!({"title": "Essay", "instructions": "", "dueMs": null}))
        .send()
        .await
        .expect("an answer");
    assert_eq!(set.status(), 200);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let report = d.send_outbox().await.expect("a pass");
    assert_eq!((report.sent, report.failed, report.left), (1, 0, 0));
    let id = submission.id.clone();
    let state = store
        .run(move |s| s.submission(&id))
        .await
        .expect("the submission")
        .state;
    assert_eq!(state, classroom_store::SubmissionState::Sent);

    // The same key again, as after a lost answer: 200, recorded once.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let base = format!("http://{}", second.signaling_addr());
    let token = second
        .mint_token(ROOM, "ada", Role::Student, Duration::from_secs(3600))
        .expect("a token");
    let url = format!(
        "{base}/homework/{ROOM}/essay-1/{}?name=essay.pdf",
        submission.id
    );
    let again = http
        .put(&url)
        .bearer_auth(&token)
        .body(essay.clone())
        .send()
        .await
        .expect("an answer");
    assert_eq!(again.status(), 200);
    let other = http
        .put(&url)
        .bearer_auth(&token)
        .body(content(1000, 1))
        .send()
        .await
        .expect("an answer");
    assert_eq!(other.status(), 409);
    // A student lists their own hand-ins only.
    let own_list = d.hand_ins().await.expect("her hand-ins");
    assert_eq!(own_list.len(), 1);
    assert!(own_list[0].returned.is_none());
    let teacher = second
        .mint_token(ROOM, "ms-rivera", Role::Teacher, Duration::from_secs(3600))
        .expect("a token");
    let listed: classroom_protocol::lessons::HandIns = http
        .get(format!("{base}/homework/{ROOM}"))
        .bearer_auth(&teacher)
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("the list");
    assert_eq!(listed.hand_ins.len(), 1);
    let only = &listed.hand_ins[0];
    assert_eq!(
        (only.student.as_str(), only.file_name.as_str(), only.size),
        ("ada", "essay.pdf", essay.len() as u64)
    );
    assert_eq!(only.sha256, ContentHash::of(&essay).to_string());
    // The teacher reads the file like any other.
    let file = http
        .get(format!("{base}/files/{ROOM}/{}", only.sha256))
        .bearer_auth(&teacher)
        .send()
        .await
        .expect("an answer")
        .bytes()
        .await
        .expect("the file");
    assert!(file.as_ref() == essay.as_slice());
    // Another student does not get it, even knowing its hash.
    let bob = second
        .mint_token(ROOM, "bob", Role::Student, Duration::from_secs(3600))
        .expect("a token");
    let refused = http
        .get(format!("{base}/files/{ROOM}/{}", only.sha256))
        .bearer_auth(&bob)
        .send()
        .await
        .expect("an answer");
    assert_eq!(refused.status(), 404);
    let own = http
        .get(format!("{base}/files/{ROOM}/{}", only.sha256))
        .bearer_auth(&token)
        .send()
        .await
        .expect("an answer");
    assert_eq!(own.status(), 200);

    // The teacher fetches the hand-in through the client, marks it and returns it.
    let teacher_client = Downloader::new(
        LibraryServer {
            base: base.clone(),
            room: ROOM.into(),
            token: teacher,
            pin: None,
        },
        StoreHandle::open(dir.path().join("teacher"), StoreOptions::default())
            .expect("the teacher's store"),
        DownloadOptions::default(),
    )
    .expect("a client");
    let fetched = teacher_client
        .fetch_file(&only.sha256)
        .await
        .expect("the hand-in");
    assert_eq!(fetched, essay);
    let marked_png = content(5_000, 9);
    let returned = teacher_client
        .return_marked(
            &only.key,
            "8/10",
            "Good.\nSee the margin.",
            marked_png.clone(),
        )
        .await
        .expect("returned");
    assert_eq!(returned.returned.expect("marked").mark, "8/10");
    // The student's library takes it in once, and it opens with the server gone.
    assert_eq!(d.sync_returns().await.expect("synced"), 1);
    assert_eq!(d.sync_returns().await.expect("synced"), 0, "once");
    second.shutdown().await;
    let id = submission.id.clone();
    let (sub, bytes) = store
        .run(move |s| {
            let sub = s.submission(&id)?;
            let bytes = s.read_file(sub.returned_hash.as_ref().expect("a marked copy"))?;
            Ok((sub, bytes))
        })
        .await
        .expect("the returned hand-in");
    assert_eq!(sub.state, classroom_store::SubmissionState::Returned);
    assert_eq!(
        (sub.mark.as_deref(), sub.feedback.as_deref()),
        (Some("8/10"), Some("Good.\nSee the margin."))
    );
    assert_eq!(bytes, marked_png);
}
