//! The store as the app uses it: catalog, search, downloads that resume, damaged files,
//! quota eviction, hand-ins through the outbox, and "clear my data".

// A test that cannot go on panics with what it got: that is its report.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::io::Write;

use classroom_store::*;

fn options() -> StoreOptions {
    StoreOptions { reserve_bytes: 0 }
}

fn course() -> Course {
    Course {
        id: "physics".into(),
        title: "Physics 7B".into(),
        teacher: "Ms. Rivera".into(),
        origin: "https://school.example:8443".into(),
    }
}

fn lesson(id: &str, title: &str, notes: &str, position: i64) -> Lesson {
    Lesson {
        id: id.into(),
        course_id: "physics".into(),
        title: title.into(),
        notes: notes.into(),
        position,
        updated_ms: 1_700_000_000_000,
    }
}

fn material(id: &str, lesson_id: &str, content: &[u8]) -> Material {
    Material {
        id: id.into(),
        lesson_id: lesson_id.into(),
        kind: MaterialKind::Pdf,
        title: format!("{id}.pdf"),
        hash: ContentHash::of(content),
        size: content.len() as u64,
        mime: "application/pdf".into(),
        position: 0,
    }
}

/// Downloads `content` into the store the way the downloader does: in chunks, synced.
fn download(store: &Store, content: &[u8]) -> Result<()> {
    let mut part = store.begin_download(&ContentHash::of(content), content.len() as u64)?;
    let from = part.offset() as usize;
    for chunk in content[from..].chunks(64 * 1024) {
        part.write(chunk)?;
    }
    part.sync()?;
    store.finish_download(part)
}

#[test]
fn migrations_are_valid() {
    migrations().unwrap().validate().unwrap();
}

#[test]
fn the_catalog_lists_lessons_with_what_is_offline() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), &options()).unwrap();
    store.put_course(&course()).unwrap();
    let a = vec![7u8; 300_000];
    let b = b"second file".to_vec();
    store
        .put_lessons(&[
            (
                lesson("l1", "Forces", "Newton's laws", 1),
                vec![material("m1", "l1", &a), material("m2", "l1", &b)],
            ),
            (lesson("l2", "Energy", "", 2), vec![]),
        ])
        .unwrap();
    download(&store, &a).unwrap();
    let list = store.lessons(Some("physics")).unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].title, "Forces");
    assert_eq!(store.lesson("l1").unwrap().notes, "Newton's laws");
    assert!(matches!(store.lesson("nope"), Err(StoreError::NotFound(_))));
    assert_eq!((list[0].materials, list[0].materials_offline), (2, 1));
    assert_eq!(list[0].bytes, 300_000 + 11);
    assert_eq!(list[0].bytes_offline, 300_000);
    assert!(!list[0].offline());
    download(&store, &b).unwrap();
    assert!(store.lessons(None).unwrap()[0].offline());
    let materials = store.materials("l1").unwrap();
    assert!(materials.iter().all(|m| m.offline));
    // A catalog update that drops a material drops it here too.
    store
        .put_lessons(&[(
            lesson("l1", "Forces and motion", "", 1),
            vec![material("m2", "l1", &b)],
        )])
        .unwrap();
    assert_eq!(store.materials("l1").unwrap().len(), 1);
    assert_eq!(store.courses().unwrap(), vec![course()]);
}

#[test]
fn search_finds_words_in_titles_and_notes_in_any_script() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), &options()).unwrap();
    store.put_course(&course()).unwrap();
    store
        .put_lessons(&[
            (
                lesson("l1", "Forces", "Newton's three laws of motion", 1),
                vec![],
            ),
            (
                lesson("l2", "Energy", "kinetic and potential energy", 2),
                vec![],
            ),
            (lesson("l3", "牛顿运动定律", "物理 第三课", 3), vec![]),
            (lesson("l4", "Café chemistry", "", 4), vec![]),
        ])
        .unwrap();
    let ids = |store: &Store, q: &str| -> Vec<String> {
        store
            .search(q, 10)
            .unwrap()
            .into_iter()
            .map(|h| h.lesson_id)
            .collect()
    };
    assert_eq!(ids(&store, "newton"), ["l1"]);
    assert_eq!(ids(&store, "MOTION laws"), ["l1"]);
    assert_eq!(ids(&store, "energy"), ["l2"]);
    assert_eq!(ids(&store, "运动定律"), ["l3"]);
    assert_eq!(ids(&store, "物理"), ["l3"], "a two-character Chinese word");
    assert_eq!(ids(&store, "cafe"), ["l4"], "accents aside");
    assert!(ids(&store, "biology").is_empty());
    // Query syntax typed by a student is only words.
    assert!(ids(&store, "\"unbalanced OR NEAR(").is_empty());
    assert!(ids(&store, "%").is_empty());
    let hit = &store.search("kinetic", 1).unwrap()[0];
    assert!(hit.snippet.contains("[kin"), "{:?}", hit.snippet);
    // Renamed lessons are found by their new title only.
    store
        .put_lessons(&[(lesson("l2", "Work and power", "", 2), vec![])])
        .unwrap();
    assert!(ids(&store, "energy").is_empty());
    assert_eq!(ids(&store, "power"), ["l2"]);
}

#[test]
fn a_download_resumes_where_it_stopped_and_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let content: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let hash = ContentHash::of(&content);
    {
        let store = Store::open(dir.path(), &options()).unwrap();
        let mut part = store.begin_download(&hash, content.len() as u64).unwrap();
        part.write(&content[..400_000]).unwrap();
        part.sync().unwrap();
        // The app quits here.
    }
    let store = Store::open(dir.path(), &options()).unwrap();
    let mut part = store.begin_download(&hash, content.len() as u64).unwrap();
    assert_eq!(part.offset(), 400_000);
    assert!(
        part.write(&vec![0; 700_000]).is_err(),
        "more than the file's size"
    );
    part.write(&content[400_000..]).unwrap();
    store.finish_download(part).unwrap();
    assert!(store.has_file(&hash).unwrap());
    assert_eq!(fs::read(store.open_file(&hash).unwrap()).unwrap(), content);

    // A download whose bytes do not match is refused and removed.
    let wrong = ContentHash::of(b"something else");
    let mut part = store.begin_download(&wrong, 5).unwrap();
    part.write(b"hello").unwrap();
    let err = store.finish_download(part).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(!store.has_file(&wrong).unwrap());
    assert_eq!(store.begin_download(&wrong, 5).unwrap().offset(), 0);
}

#[test]
fn a_flipped_byte_is_found_before_the_file_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), &options()).unwrap();
    store.put_course(&course()).unwrap();
    let content = vec![42u8; 100_000];
    store
        .put_lessons(&[(
            lesson("l1", "Forces", "", 1),
            vec![material("m1", "l1", &content)],
        )])
        .unwrap();
    download(&store, &content).unwrap();
    let hash = ContentHash::of(&content);
    let path = store.open_file(&hash).unwrap();
    let mut bytes = fs::read(&path).unwrap();
    bytes[54_321] ^= 0x01;
    fs::write(&path, &bytes).unwrap();
    assert_eq!(store.damaged_files().unwrap(), vec![hash.clone()]);
    let err = store.open_file(&hash).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("damaged"));
    // Forgotten and removed: the lesson is no longer offline, the file can come again.
    assert!(!path.exists());
    assert_eq!(store.lessons(None).unwrap()[0].materials_offline, 0);
    download(&store, &content).unwrap();
    assert!(store.open_file(&hash).is_ok());
    // Read into memory, checked on the way: the same bytes, or the same refusal.
    assert!(store.read_file(&hash).unwrap() == content);
    bytes[54_321] ^= 0x03;
    fs::write(&path, &bytes).unwrap();
    let err = store.read_file(&hash).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(!path.exists());
}

#[test]
fn opening_after_a_crash_adopts_finished_files_and_drops_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let content = b"a complete file the crash never recorded".to_vec();
    let hash = ContentHash::of(&content);
    let kept = ContentHash::of(b"kept");
    let gone = ContentHash::of(b"gone");
    {
        let store = Store::open(dir.path(), &options()).unwrap();
        store.save_bytes(b"kept").unwrap();
        store.save_bytes(b"gone").unwrap();
        let gone_dir = store.dir().join("files").join(&gone.as_str()[..2]);
        fs::remove_file(gone_dir.join(gone.as_str())).unwrap();
    }
    let files = dir.path().join("files");
    // A finished file in place but not recorded, a temporary file, a damaged file in place,
    // a record whose file is gone.
    fs::create_dir_all(files.join(&hash.as_str()[..2])).unwrap();
    fs::write(
        files.join(&hash.as_str()[..2]).join(hash.as_str()),
        &content,
    )
    .unwrap();
    fs::write(files.join("tmp").join("123-0.tmp"), b"half").unwrap();
    let bad = ContentHash::of(b"bad");
    fs::create_dir_all(files.join(&bad.as_str()[..2])).unwrap();
    fs::write(
        files.join(&bad.as_str()[..2]).join(bad.as_str()),
        b"not bad",
    )
    .unwrap();
    let store = Store::open(dir.path(), &options()).unwrap();
    let r = store.recovery();
    assert_eq!(
        (
            r.adopted,
            r.temporary_removed,
            r.damaged_removed,
            r.missing_dropped
        ),
        (1, 1, 1, 1),
        "{r:?}"
    );
    assert!(store.has_file(&hash).unwrap());
    assert!(store.has_file(&kept).unwrap());
    assert!(!store.has_file(&gone).unwrap());
    assert_eq!(fs::read_dir(files.join("tmp")).unwrap().count(), 0);
    assert_eq!(store.integrity_check().unwrap(), ["ok"]);
}

#[test]
fn eviction_takes_the_least_recently_used_and_never_pinned_lessons_or_own_work() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), &options()).unwrap();
    store.put_course(&course()).unwrap();
    let files: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i; 100_000]).collect();
    store
        .put_lessons(&[
            (
                lesson("old", "Old", "", 1),
                vec![material("m0", "old", &files[0])],
            ),
            (
                lesson("pinned", "Pinned", "", 2),
                vec![material("m1", "pinned", &files[1])],
            ),
            (
                lesson("recent", "Recent", "", 3),
                vec![material("m2", "recent", &files[2])],
            ),
            // Shares its file with "old": used more recently, so the file stays.
            (
                lesson("shares", "Shares", "", 4),
                vec![material("m3", "shares", &files[0])],
            ),
        ])
        .unwrap();
    for f in &files[..3] {
        download(&store, f).unwrap();
    }
    store.mark_used("old", 1_000).unwrap();
    store.mark_used("pinned", 500).unwrap();
    store.mark_used("recent", 3_000).unwrap();
    store.mark_used("shares", 2_000).unwrap();
    store.set_pinned("pinned", true).unwrap();
    assert!(store.set_pinned("nope", true).is_err());
    store
        .put_assignment(&Assignment {
            id: "hw1".into(),
            course_id: "physics".into(),
            lesson_id: None,
            title: "Essay".into(),
            instructions: String::new(),
            due_ms: None,
        })
        .unwrap();
    let own = vec![9u8; 100_000];
    store
        .hand_in("hw1", "essay.pdf", &mut &own[..], 4_000)
        .unwrap();
    let usage = store.usage().unwrap();
    assert_eq!(usage.bytes, 400_000);
    assert_eq!(usage.kept_bytes, 200_000);
    assert_eq!(
        store.evict(0).unwrap(),
        Vec::<String>::new(),
        "no quota, no eviction"
    );

    store.set_quota(Some(350_000)).unwrap();
    // 400 KB held, 350 KB allowed: "old" is oldest but its file is shared with a lesson used
    // later, so "shares" goes (its file is that same one: freed once nobody newer needs it).
    let evicted = store.evict(0).unwrap();
    assert_eq!(evicted, ["shares"]);
    assert!(!store.has_file(&ContentHash::of(&files[0])).unwrap());
    assert!(
        store.has_file(&ContentHash::of(&files[1])).unwrap(),
        "pinned"
    );
    assert!(store.has_file(&ContentHash::of(&own)).unwrap(), "own work");
    // Room for 200 KB more: "recent" goes too, the pinned lesson and the hand-in never.
    assert_eq!(store.evict(200_000).unwrap(), ["recent"]);
    assert!(store.evict(10_000_000).unwrap().is_empty());
    assert_eq!(store.usage().unwrap().bytes, 200_000);
}

#[test]
fn a_hand_in_is_saved_and_queued_once_and_sent_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), &options()).unwrap();
    store.put_course(&course()).unwrap();
    store
        .put_assignment(&Assignment {
            id: "hw1".into(),
            course_id: "physics".into(),
            lesson_id: None,
            title: "Essay".into(),
            instructions: "Two pages".into(),
            due_ms: Some(2_000_000_000_000),
        })
        .unwrap();
    let essay = b"%PDF-1.7 my essay".to_vec();
    let sub = store
        .hand_in("hw1", "essay.pdf", &mut &essay[..], 10)
        .unwrap();
    assert_eq!(sub.state, SubmissionState::Queued);
    assert!(matches!(
        store.hand_in("nope", "x.pdf", &mut &b"x"[..], 10),
        Err(StoreError::NotFound(_))
    ));
    let due = store.outbox_due(10, 10).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(
        due[0].key, sub.id,
        "the hand-in's id is the idempotency key"
    );
    assert_eq!(due[0].kind, "submission");
    // The network fails: tried again after a backoff, not before.
    store
        .outbox_failed(&sub.id, "connection refused", 20)
        .unwrap();
    assert!(store.outbox_due(500, 10).unwrap().is_empty());
    let again = store.outbox_due(1_020, 10).unwrap();
    assert_eq!(
        (again[0].attempts, again[0].last_error.as_deref()),
        (1, Some("connection refused"))
    );
    store.outbox_sent(&sub.id).unwrap();
    assert_eq!(store.outbox_len().unwrap(), 0);
    assert_eq!(
        store.submission(&sub.id).unwrap().state,
        SubmissionState::Sent
    );
    // Anything else done offline queues with a fresh key.
    let k1 = store
        .enqueue("quizAnswer", r#"{"quiz":"q1","answer":2}"#, 30)
        .unwrap();
    let k2 = store
        .enqueue("quizAnswer", r#"{"quiz":"q2","answer":0}"#, 31)
        .unwrap();
    assert_ne!(k1, k2);
    assert!(store.enqueue("quizAnswer", "not json", 32).is_err());
    assert_eq!(
        store
            .outbox_due(40, 10)
            .unwrap()
            .iter()
            .map(|i| i.key.clone())
            .collect::<Vec<_>>(),
        [k1, k2]
    );
    // Annotation documents are kept as given.
    store
        .save_annotation("a1", AnnotationTarget::Submission(&sub.id), b"ink", 50)
        .unwrap();
    store
        .save_annotation("a1", AnnotationTarget::Submission(&sub.id), b"more ink", 60)
        .unwrap();
    assert_eq!(store.annotation("a1").unwrap(), b"more ink");

    // The teacher's marking comes back: the marked copy saved, the hand-in returned, and
    // both kept offline (the student's own work is never evicted).
    assert!(
        store
            .mark_returned(&sub.id, &ContentHash::of(b"not saved"), "9/10", "")
            .is_err(),
        "a marked copy that is not here is refused"
    );
    let marked = store.save_bytes(b"PNG of the marked essay").unwrap();
    let returned = store
        .mark_returned(&sub.id, &marked, "9/10", "Well argued.")
        .unwrap();
    assert_eq!(returned.state, SubmissionState::Returned);
    assert_eq!(
        (returned.mark.as_deref(), returned.feedback.as_deref()),
        (Some("9/10"), Some("Well argued."))
    );
    assert_eq!(returned.returned_hash, Some(marked));
    assert!(matches!(
        store.mark_returned("nope", &ContentHash::of(b"PNG of the marked essay"), "", ""),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.submissions("hw1").unwrap(), [returned]);
    assert_eq!(store.assignments("physics").unwrap()[0].title, "Essay");
    assert!(store.assignments("chemistry").unwrap().is_empty());
}

#[test]
fn clear_my_data_leaves_nothing_readable() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "SECRET-NOTE-4f1c9a";
    let mut store = Store::open(dir.path(), &options()).unwrap();
    store.put_course(&course()).unwrap();
    let file = format!("file body {secret}").into_bytes();
    store
        .put_lessons(&[(
            lesson(
                "l1",
                &format!("Title {secret}"),
                &format!("notes {secret}"),
                1,
            ),
            vec![material("m1", "l1", &file)],
        )])
        .unwrap();
    download(&store, &file).unwrap();
    store
        .enqueue("note", &format!("{{\"text\":\"{secret}\"}}"), 1)
        .unwrap();
    store.clear_everything().unwrap();
    assert!(store.lessons(None).unwrap().is_empty());
    assert!(store.search("SECRET", 10).unwrap().is_empty());
    assert_eq!(store.usage().unwrap().bytes, 0);
    // Nothing under the store's folder still has it: database, WAL, shared memory, files.
    let mut stack = vec![dir.path().to_path_buf()];
    let mut checked = 0;
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let bytes = fs::read(&path).unwrap();
        checked += 1;
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{} still holds the secret",
            path.display()
        );
    }
    assert!(checked >= 1);
    // The store goes on working.
    store.put_course(&course()).unwrap();
    assert_eq!(store.integrity_check().unwrap(), ["ok"]);
}

#[test]
fn bad_hashes_are_refused_in_words() {
    for bad in [
        "",
        "abc",
        &"g".repeat(64),
        &"a".repeat(65),
        "../../etc/passwd",
    ] {
        let err = ContentHash::parse(bad).unwrap_err();
        assert!(err.to_string().contains("not a SHA-256"), "{err}");
    }
    assert_eq!(
        ContentHash::parse(&"AB".repeat(32)).unwrap().as_str(),
        "ab".repeat(32)
    );
    let json = format!("\"{}\"", "0".repeat(63));
    assert!(serde_json::from_str::<ContentHash>(&json).is_err());
}

#[tokio::test]
async fn the_handle_runs_the_store_off_the_async_threads() {
    let dir = tempfile::tempdir().unwrap();
    let handle = StoreHandle::open(dir.path().to_path_buf(), options()).unwrap();
    handle.run(|s| s.put_course(&course())).await.unwrap();
    let courses = handle.run(|s| s.courses()).await.unwrap();
    assert_eq!(courses.len(), 1);
    let err = handle
        .run(|s| s.set_pinned("missing", true))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "notFound");
    let mut f = fs::File::create(dir.path().join("x")).unwrap();
    f.write_all(b"x").unwrap();
}

/// Scripts a class writes in, as blocks SQLite's Unicode tables (older than today's Unicode)
/// know: Latin with its accents, Greek, Cyrillic, Hebrew, Arabic, Devanagari, Bengali,
/// Thai, Han, kana and Hangul. A letter added to Unicode since (and a mark alone) is not a
/// word to SQLite's tokenizer.
const SCRIPTS: &str = "[0-9A-Za-z\\u{C0}-\\u{24F}\\u{300}-\\u{36F}\\u{370}-\\u{3FF}\\u{400}-\\u{4FF}\\u{591}-\\u{5F4}\\u{600}-\\u{6FF}\\u{900}-\\u{97F}\\u{980}-\\u{9FF}\\u{E00}-\\u{E7F}\\u{3040}-\\u{30FF}\\u{4E00}-\\u{9FFF}\\u{AC00}-\\u{D7AF}]";

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]
    /// Whatever a student types into the search box is words, never a query error; and
    /// words (a letter or digit, then letters, digits and marks, in the [`SCRIPTS`]) find the
    /// lesson whose title they are. A mark on its own is not a word: SQLite's tokenizer
    /// reads it as a separator, as it reads the marks after a word's letters.
    #[test]
    fn any_typed_search_is_answered(
        typed in "\\PC{0,40}",
        quotes in "[\"*():^{}+-]{0,6}",
        words in proptest::string::string_regex(&format!(
            "([[\\p{{L}}\\p{{N}}]&&{SCRIPTS}][[\\p{{L}}\\p{{N}}\\p{{M}}]&&{SCRIPTS}]{{0,8}} ){{1,4}}"
        )).unwrap(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), &options()).unwrap();
        store.put_course(&course()).unwrap();
        store
            .put_lessons(&[
                (lesson("l1", &typed, &format!("{quotes} notes"), 1), vec![]),
                (lesson("l2", &words, "", 2), vec![]),
            ])
            .unwrap();
        store.search(&typed, 10).unwrap();
        store.search(&format!("{quotes}{typed}{quotes}"), 10).unwrap();
        let hits = store.search(&words, 10).unwrap();
        proptest::prop_assert!(hits.iter().any(|h| h.lesson_id == "l2"), "{:?}: {:?}", words, hits);
    }
}

/// A class server records a hand-in once per idempotency key: the same key with the same
/// file again (an answer lost on the way) changes nothing; the same key for another file is
/// refused; the file is kept like any other.
#[test]
fn a_hand_in_is_received_once_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), &options()).unwrap();
    let temp_with = |store: &Store, bytes: &[u8]| {
        let path = store.temp_path();
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, bytes).unwrap();
        path
    };
    let key = "0190f1c2-0000-7000-8000-000000000001";
    let temp = temp_with(&store, b"my essay");
    let (first, receipt) = store
        .receive_submission(key, "physics", "essay-1", "ada", "essay.pdf", &temp)
        .unwrap();
    assert_eq!(receipt, Receipt::New);
    assert_eq!(first.hash, ContentHash::of(b"my essay"));
    assert!(!temp.exists());

    let again = temp_with(&store, b"my essay");
    let (repeat, receipt) = store
        .receive_submission(key, "physics", "essay-1", "ada", "essay.pdf", &again)
        .unwrap();
    assert_eq!((repeat, receipt), (first.clone(), Receipt::Repeat));
    assert!(!again.exists(), "the repeat's temporary file is removed");

    let other = temp_with(&store, b"someone else's essay");
    let err = store
        .receive_submission(key, "physics", "essay-1", "ada", "essay.pdf", &other)
        .unwrap_err();
    assert_eq!(err.kind(), "invalid");
    let err = store
        .receive_submission(
            key,
            "physics",
            "essay-1",
            "bob",
            "essay.pdf",
            &temp_with(&store, b"my essay"),
        )
        .unwrap_err();
    assert_eq!(err.kind(), "invalid");

    let second = temp_with(&store, b"a drawing");
    store
        .receive_submission("k2", "physics", "essay-1", "bob", "drawing.png", &second)
        .unwrap();
    let all = store.received_submissions("physics").unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0], first);
    assert!(store.received_submissions("chemistry").unwrap().is_empty());
    let path = store.open_file(&first.hash).unwrap();
    assert_eq!(fs::read(path).unwrap(), b"my essay");

    // The teacher returns it marked: served to that student and the staff only.
    assert!(first.returned.is_none());
    let marked = temp_with(&store, b"the essay with red ink");
    let err = store
        .return_submission("no-such-key", "physics", "8/10", "", &marked)
        .unwrap_err();
    assert_eq!(err.kind(), "notFound");
    assert!(!marked.exists(), "a refused marking's file is removed");
    let err = store
        .return_submission(key, "chemistry", "8/10", "", &temp_with(&store, b"x"))
        .unwrap_err();
    assert_eq!(err.kind(), "notFound", "another class's hand-in");
    let returned = store
        .return_submission(
            key,
            "physics",
            "8/10",
            "Good.",
            &temp_with(&store, b"the essay with red ink"),
        )
        .unwrap();
    let marking = returned.returned.clone().expect("returned");
    assert_eq!(marking.hash, ContentHash::of(b"the essay with red ink"));
    assert_eq!(
        (marking.mark.as_str(), marking.feedback.as_str()),
        ("8/10", "Good.")
    );
    assert_eq!(marking.size, 22);
    let hash = &marking.hash;
    assert!(
        store
            .hand_in_file("physics", hash, Some("ada"))
            .unwrap()
            .is_some()
    );
    assert!(store.hand_in_file("physics", hash, None).unwrap().is_some());
    assert!(
        store
            .hand_in_file("physics", hash, Some("bob"))
            .unwrap()
            .is_none(),
        "another student never gets it"
    );
    assert_eq!(
        store.received_submissions_of("physics", "ada").unwrap(),
        [returned]
    );
    assert_eq!(
        store
            .received_submissions_of("physics", "bob")
            .unwrap()
            .len(),
        1
    );
    // The class's name for the student, kept with the hand-in.
    assert_eq!(first.student_name, None);
    let named = store
        .name_hand_in(key, "Ada Lovelace")
        .unwrap()
        .expect("the hand-in");
    assert_eq!(named.student_name.as_deref(), Some("Ada Lovelace"));
    // Marked again: the latest marking stands.
    let again = store
        .return_submission(key, "physics", "9/10", "Better.", &temp_with(&store, b"v2"))
        .unwrap();
    assert_eq!(again.returned.unwrap().mark, "9/10");
    assert_eq!(store.integrity_check().unwrap(), vec!["ok".to_owned()]);
}
