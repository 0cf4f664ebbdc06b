//! The lesson service over real HTTP on the signaling port: a teacher adds a lesson and its
//! files, a student reads the catalog and downloads with ranges (as a download manager and
//! curl do), tokens for another class, invites and students writing are refused, and bad
//! input gets a clear status, never a crash.

use std::time::Duration;

use classroom_protocol::Role;
use classroom_protocol::lessons::{CatalogLesson, CatalogMaterial, LessonCatalog};
use classroom_sfu::{ServerConfig, ServerHandle, start};
use sha2::{Digest, Sha256};

struct Class {
    server: ServerHandle,
    base: String,
    teacher: String,
    student: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn class() -> Class {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let config = ServerConfig {
        lessons_dir: Some(dir.path().join("lessons")),
        ..ServerConfig::loopback()
    };
    let server = start(config).await.expect("the server starts");
    let base = format!("http://{}", server.signaling_addr());
    let token = |role, who| {
        server
            .mint_token("physics-7b", who, role, Duration::from_secs(3600))
            .expect("a token")
    };
    let (teacher, student) = (token(Role::Teacher, "t1"), token(Role::Student, "s1"));
    Class {
        base,
        teacher,
        student,
        server,
        http: http_client(),
        _dir: dir,
    }
}

/// An HTTP client. The workspace builds reqwest without a crypto provider of its own (the
/// lesson downloader brings ring), so one is installed as the process default first.
fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn content(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

impl Class {
    async fn put_lesson(
        &self,
        token: &str,
        id: &str,
        json: serde_json::Value,
    ) -> reqwest::Response {
        self.http
            .put(format!("{}/lessons/physics-7b/{id}", self.base))
            .bearer_auth(token)
            .json(&json)
            .send()
            .await
            .expect("an answer")
    }

    async fn upload(
        &self,
        token: &str,
        lesson: &str,
        id: &str,
        body: Vec<u8>,
    ) -> reqwest::Response {
        self.http
            .put(format!(
                "{}/lessons/physics-7b/{lesson}/{id}?kind=pdf&title=Chapter%201%20%E2%80%94%20Forces",
                self.base
            ))
            .bearer_auth(token)
            .header("content-type", "application/pdf")
            .body(body)
            .send()
            .await
            .expect("an answer")
    }

    async fn get(&self, path: &str, token: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.expect("an answer")
    }
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

#[tokio::test]
async fn a_teacher_adds_a_lesson_and_a_student_downloads_it_in_ranges() {
    let c = class().await;
    let r = c
        .put_lesson(
            &c.teacher,
            "forces",
            serde_json::json!({"title": "Forces", "notes": "牛顿定律", "position": 1}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let lesson: CatalogLesson = r.json().await.expect("the lesson");
    assert_eq!(
        (lesson.title.as_str(), lesson.notes.as_str()),
        ("Forces", "牛顿定律")
    );

    let file = content(3_000_000);
    let sha = hex::encode(Sha256::digest(&file));
    let r = c
        .upload(&c.teacher, "forces", "chapter-1", file.clone())
        .await;
    assert_eq!(r.status(), 201);
    let material: CatalogMaterial = r.json().await.expect("the material");
    assert_eq!(material.sha256, sha);
    assert_eq!(material.size, 3_000_000);
    assert_eq!(material.title, "Chapter 1 — Forces");

    // The student's catalog.
    let r = c.get("/lessons/physics-7b", &c.student, &[]).await;
    assert_eq!(r.status(), 200);
    let catalog: LessonCatalog = r.json().await.expect("the catalog");
    assert_eq!(catalog.lessons.len(), 1);
    assert_eq!(catalog.lessons[0].materials, vec![material.clone()]);

    let path = format!("/files/physics-7b/{sha}");
    let etag = format!("\"{sha}\"");
    // Whole.
    let r = c.get(&path, &c.student, &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "etag"), etag);
    assert_eq!(header(&r, "accept-ranges"), "bytes");
    assert_eq!(header(&r, "content-type"), "application/pdf");
    assert_eq!(header(&r, "content-length"), "3000000");
    assert_eq!(r.bytes().await.expect("the file").as_ref(), &file[..]);
    // A range, and the rest after it with If-Range, as a resumed download asks.
    let r = c
        .get(&path, &c.student, &[("range", "bytes=0-999999")])
        .await;
    assert_eq!(r.status(), 206);
    assert_eq!(header(&r, "content-range"), "bytes 0-999999/3000000");
    let first = r.bytes().await.expect("the range");
    let r = c
        .get(
            &path,
            &c.student,
            &[("range", "bytes=1000000-"), ("if-range", &etag)],
        )
        .await;
    assert_eq!(r.status(), 206);
    let rest = r.bytes().await.expect("the rest");
    assert_eq!([first.as_ref(), rest.as_ref()].concat(), file);
    // If-Range with another tag: the whole file again.
    let r = c
        .get(
            &path,
            &c.student,
            &[("range", "bytes=1000000-"), ("if-range", "\"0000\"")],
        )
        .await;
    assert_eq!(r.status(), 200);
    // Unsatisfiable.
    let r = c
        .get(&path, &c.student, &[("range", "bytes=3000000-")])
        .await;
    assert_eq!(r.status(), 416);
    assert_eq!(header(&r, "content-range"), "bytes */3000000");
    // Already there.
    let r = c.get(&path, &c.student, &[("if-none-match", &etag)]).await;
    assert_eq!(r.status(), 304);
    // HEAD: the headers, no body.
    let r = c
        .http
        .head(format!("{}{path}", c.base))
        .bearer_auth(&c.student)
        .send()
        .await
        .expect("an answer");
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-length"), "3000000");
    assert!(r.bytes().await.expect("no body").is_empty());

    // curl resumes a cut download the same way (-C -).
    let out = c._dir.path().join("curl.bin");
    std::fs::write(&out, &file[..1_234_567]).expect("a partial file");
    // (On a blocking thread: the server runs on this test's runtime.)
    let (auth, url, to) = (
        format!("Authorization: Bearer {}", c.student),
        format!("{}{path}", c.base),
        out.clone(),
    );
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args(["-sS", "--fail", "-C", "-", "-o"])
            .arg(&to)
            .arg("-H")
            .arg(auth)
            .arg(url)
            .status()
            .expect("curl runs")
    })
    .await
    .expect("the curl thread");
    assert!(status.success());
    assert_eq!(std::fs::read(&out).expect("curl's file"), file);
    c.server.shutdown().await;
}

#[tokio::test]
async fn only_the_class_and_its_staff_get_in() {
    let c = class().await;
    assert_eq!(
        c.put_lesson(&c.teacher, "l1", serde_json::json!({"title": "One"}))
            .await
            .status(),
        200
    );
    let file = content(1000);
    let sha = hex::encode(Sha256::digest(&file));
    assert_eq!(c.upload(&c.teacher, "l1", "m1", file).await.status(), 201);

    // A student cannot change lessons.
    let r = c
        .put_lesson(&c.student, "l2", serde_json::json!({"title": "Mine"}))
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        c.upload(&c.student, "l1", "m2", vec![1, 2, 3])
            .await
            .status(),
        403
    );
    // No token, a bad token, another class's token, an invite.
    let r = c
        .http
        .get(format!("{}/lessons/physics-7b", c.base))
        .send()
        .await
        .expect("an answer");
    assert_eq!(r.status(), 401);
    assert_eq!(header(&r, "www-authenticate"), "Bearer");
    assert_eq!(
        c.get("/lessons/physics-7b", "nonsense", &[]).await.status(),
        401
    );
    let other = c
        .server
        .mint_token("chemistry", "s1", Role::Student, Duration::from_secs(60))
        .expect("a token");
    assert_eq!(
        c.get("/lessons/physics-7b", &other, &[]).await.status(),
        403
    );
    assert_eq!(
        c.get(&format!("/files/physics-7b/{sha}"), &other, &[])
            .await
            .status(),
        403
    );
    // The other class's own token does not find this class's file under its own name.
    assert_eq!(
        c.get(&format!("/files/chemistry/{sha}"), &other, &[])
            .await
            .status(),
        404
    );
    let invite = c
        .server
        .access()
        .mint(&classroom_sfu::Claims::invite(
            "physics-7b",
            Role::Student,
            Duration::from_secs(60),
            unix_now(),
        ))
        .expect("an invite");
    assert_eq!(
        c.get("/lessons/physics-7b", &invite, &[]).await.status(),
        403
    );
    c.server.shutdown().await;
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[tokio::test]
async fn bad_requests_get_clear_statuses_and_are_counted() {
    let c = class().await;
    let t = &c.teacher;
    // An upload to a lesson that does not exist: refused before the body is kept.
    assert_eq!(c.upload(t, "nope", "m1", vec![0; 10]).await.status(), 404);
    // Bad lesson JSON, an empty or too long title, too long notes, a bad id.
    for body in [
        serde_json::json!({"notes": "no title"}),
        serde_json::json!({"title": "   "}),
        serde_json::json!({"title": "x".repeat(201)}),
        serde_json::json!({"title": "ok", "notes": "字".repeat(20_001)}),
    ] {
        assert_eq!(c.put_lesson(t, "l1", body).await.status(), 400);
    }
    // An id that is not one (the client's URL library would resolve ".." itself).
    assert_eq!(
        c.put_lesson(t, "bad%20id", serde_json::json!({"title": "x"}))
            .await
            .status(),
        400
    );
    let r = c
        .http
        .put(format!("{}/lessons/physics-7b/l1", c.base))
        .bearer_auth(t)
        .body("{not json")
        .send()
        .await
        .expect("an answer");
    assert_eq!(r.status(), 400);
    assert!(r.text().await.expect("words").contains("not valid"));
    // A material without a title.
    c.put_lesson(t, "l1", serde_json::json!({"title": "One"}))
        .await;
    let r = c
        .http
        .put(format!("{}/lessons/physics-7b/l1/m1", c.base))
        .bearer_auth(t)
        .body(vec![1u8; 10])
        .send()
        .await
        .expect("an answer");
    assert_eq!(r.status(), 400);
    // Files: not a hash, a hash nobody uploaded, a method the service does not take.
    assert_eq!(
        c.get("/files/physics-7b/%2e%2e%2fetc%2fpasswd", &c.student, &[])
            .await
            .status(),
        404
    );
    assert_eq!(
        c.get("/files/physics-7b/zz", &c.student, &[])
            .await
            .status(),
        404
    );
    assert_eq!(
        c.get(
            &format!("/files/physics-7b/{}", "0".repeat(64)),
            &c.student,
            &[]
        )
        .await
        .status(),
        404
    );
    let r = c
        .http
        .delete(format!("{}/lessons/physics-7b/l1", c.base))
        .bearer_auth(t)
        .send()
        .await
        .expect("an answer");
    assert_eq!(r.status(), 405);
    // Hand-ins: no file name, a key that is not one, an observer, more than the cap
    // declared, and no token.
    let hand_in = |key: &str, name: Option<&str>, token: &str, body: Vec<u8>| {
        let mut url = format!("{}/homework/physics-7b/essay-1/{key}", c.base);
        if let Some(name) = name {
            url.push_str(&format!("?name={name}"));
        }
        c.http.put(url).bearer_auth(token).body(body).send()
    };
    let observer = c
        .server
        .mint_token("physics-7b", "o1", Role::Observer, Duration::from_secs(60))
        .expect("a token");
    assert_eq!(
        hand_in("k1", None, &c.student, vec![1])
            .await
            .expect("answer")
            .status(),
        400
    );
    assert_eq!(
        hand_in("bad%20key", Some("a.pdf"), &c.student, vec![1])
            .await
            .expect("answer")
            .status(),
        400
    );
    assert_eq!(
        hand_in("k1", Some("a.pdf"), &observer, vec![1])
            .await
            .expect("answer")
            .status(),
        403
    );
    assert_eq!(
        hand_in("k1", Some("a.pdf"), "", vec![1])
            .await
            .expect("answer")
            .status(),
        401
    );
    // Homework the class never set: refused, nothing kept.
    assert_eq!(
        hand_in("k1", Some("a.pdf"), &c.student, vec![1])
            .await
            .expect("answer")
            .status(),
        404
    );
    let kept = c.get("/homework/physics-7b", &c.teacher, &[]).await;
    let kept: serde_json::Value = kept.json().await.expect("hand-ins");
    assert_eq!(kept["handIns"], serde_json::json!([]), "{kept}");
    // Set, so the size below is what is refused.
    let set = c
        .http
        .put(format!("{}/assignments/physics-7b/essay-1", c.base))
        .bearer_auth(&c.teacher)
        .json(&serde_json::json!({"title": "Essay", "instructions": "", "dueMs": null}))
        .send()
        .await
        .expect("an answer");
    assert_eq!(set.status(), 200);
    let r = c
        .http
        .put(format!(
            "{}/homework/physics-7b/essay-1/k1?name=a.pdf",
            c.base
        ))
        .bearer_auth(&c.student)
        .header("content-length", (300u64 << 20).to_string())
        .body(vec![0u8; 4])
        .send()
        .await;
    // Refused before the body (413), or the connection closed on the short body.
    if let Ok(r) = r {
        assert_eq!(r.status(), 413);
    }
    let metrics = c.server.metrics().snapshot();
    assert!(metrics.lesson_errors >= 15, "{metrics:?}");
    // The catalog, the class's hand-ins and the homework set.
    assert_eq!(metrics.lesson_requests, 3, "{metrics:?}");
    c.server.shutdown().await;
}

#[tokio::test]
async fn without_a_lessons_folder_there_is_no_lesson_service() {
    let server = start(ServerConfig::loopback())
        .await
        .expect("the server starts");
    let token = server
        .mint_token("physics-7b", "t1", Role::Teacher, Duration::from_secs(60))
        .expect("a token");
    let r = http_client()
        .get(format!(
            "http://{}/lessons/physics-7b",
            server.signaling_addr()
        ))
        .bearer_auth(token)
        .send()
        .await
        .expect("an answer");
    assert_eq!(r.status(), 404);
    server.shutdown().await;
}

#[tokio::test]
async fn homework_is_set_handed_in_returned_marked_and_each_student_sees_only_their_own() {
    use classroom_protocol::lessons::{HandIn, HandIns};
    let c = class().await;
    let bob = c
        .server
        .mint_token("physics-7b", "s2", Role::Student, Duration::from_secs(3600))
        .expect("a token");
    let put_json = |path: String, token: &str, json: serde_json::Value| {
        c.http
            .put(format!("{}{path}", c.base))
            .bearer_auth(token)
            .json(&json)
            .send()
    };
    // The teacher sets homework; a student cannot; the catalog lists it.
    let set = serde_json::json!({"title": " Friction ", "instructions": "Two pages", "dueMs": 1_900_000_000_000i64});
    assert_eq!(
        put_json(
            "/assignments/physics-7b/hw1".into(),
            &c.student,
            set.clone()
        )
        .await
        .expect("answer")
        .status(),
        403
    );
    let r = put_json("/assignments/physics-7b/hw1".into(), &c.teacher, set)
        .await
        .expect("answer");
    assert_eq!(r.status(), 200);
    for bad in [
        serde_json::json!({"title": ""}),
        serde_json::json!({"title": "x".repeat(201)}),
        serde_json::json!({"instructions": "no title"}),
    ] {
        let r = put_json("/assignments/physics-7b/hw2".into(), &c.teacher, bad)
            .await
            .expect("answer");
        assert_eq!(r.status(), 400);
    }
    let catalog: LessonCatalog = c
        .get("/lessons/physics-7b", &c.student, &[])
        .await
        .json()
        .await
        .expect("the catalog");
    assert_eq!(catalog.assignments.len(), 1);
    assert_eq!(
        (
            catalog.assignments[0].title.as_str(),
            catalog.assignments[0].due_ms
        ),
        ("Friction", Some(1_900_000_000_000))
    );

    // Ada is in the class (her name there is kept with her hand-in); Bob never joined.
    let mut ada_ws = in_class(&c, &c.student, "Ada Lovelace").await;
    // Two students hand in.
    let hand_in = |token: &str, key: &str, body: &'static [u8]| {
        c.http
            .put(format!(
                "{}/homework/physics-7b/hw1/{key}?name=photo.jpg",
                c.base
            ))
            .bearer_auth(token)
            .body(body)
            .send()
    };
    let ada: HandIn = hand_in(&c.student, "ada-1", b"ada's page")
        .await
        .expect("answer")
        .json()
        .await
        .expect("a hand-in");
    assert_eq!(ada.student_name.as_deref(), Some("Ada Lovelace"));
    let bobs: HandIn = hand_in(&bob, "bob-1", b"bob's page")
        .await
        .expect("answer")
        .json()
        .await
        .expect("a hand-in");
    assert_eq!(bobs.student_name, None, "a student the class does not know");
    let list = |token: String| {
        let c = &c;
        async move {
            let r = c.get("/homework/physics-7b", &token, &[]).await;
            assert_eq!(r.status(), 200);
            r.json::<HandIns>().await.expect("hand-ins").hand_ins
        }
    };
    assert_eq!(
        list(c.teacher.clone()).await.len(),
        2,
        "the teacher sees all"
    );
    let own = list(c.student.clone()).await;
    assert_eq!(own.len(), 1, "a student sees their own only");
    assert_eq!(
        (own[0].key.as_str(), own[0].returned.as_ref()),
        ("ada-1", None)
    );

    // The teacher fetches the page, and returns it marked.
    let page = c
        .get(
            &format!("/files/physics-7b/{}", ada.sha256),
            &c.teacher,
            &[],
        )
        .await;
    assert_eq!(page.bytes().await.expect("bytes").as_ref(), b"ada's page");
    let ret = |token: &str, key: &str, query: &str, body: &'static [u8]| {
        c.http
            .put(format!("{}/returns/physics-7b/{key}?{query}", c.base))
            .bearer_auth(token)
            .header("content-type", "image/png")
            .body(body)
            .send()
    };
    let status = |r: Result<reqwest::Response, reqwest::Error>| r.expect("answer").status();
    assert_eq!(status(ret(&c.student, "ada-1", "mark=10", b"x").await), 403);
    assert_eq!(status(ret(&c.teacher, "nobody", "mark=1", b"x").await), 404);
    let long = format!("mark={}", "9".repeat(41));
    assert_eq!(status(ret(&c.teacher, "ada-1", &long, b"x").await), 400);
    let r = ret(
        &c.teacher,
        "ada-1",
        "mark=8%2F10&feedback=Good%20work%0ASee%20page%202",
        b"marked png",
    )
    .await
    .expect("answer");
    assert_eq!(r.status(), 200);
    let marked: HandIn = r.json().await.expect("the hand-in");
    let marking = marked.returned.expect("marked");
    assert_eq!(
        (
            marking.mark.as_str(),
            marking.feedback.as_str(),
            marking.size
        ),
        ("8/10", "Good work\nSee page 2", 10)
    );

    // Ada sees her marking and gets the marked copy; Bob gets neither.
    let own = list(c.student.clone()).await;
    assert_eq!(own[0].returned.as_ref(), Some(&marking));
    let path = format!("/files/physics-7b/{}", marking.sha256);
    let r = c.get(&path, &c.student, &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "image/png");
    assert_eq!(r.bytes().await.expect("bytes").as_ref(), b"marked png");
    assert_eq!(c.get(&path, &bob, &[]).await.status(), 404);
    assert!(list(bob.clone()).await[0].returned.is_none());
    // Marked again as a PDF (a handed-in PDF comes back as itself, marked): served as one.
    let r = ret(&c.teacher, "ada-1", "mark=9%2F10", b"%PDF-1.7 marked pages")
        .await
        .expect("answer");
    assert_eq!(r.status(), 200);
    let again = r
        .json::<HandIn>()
        .await
        .expect("the hand-in")
        .returned
        .expect("marked");
    let r = c
        .get(
            &format!("/files/physics-7b/{}", again.sha256),
            &c.student,
            &[],
        )
        .await;
    assert_eq!(header(&r, "content-type"), "application/pdf");
    // The name stays with the hand-in after Ada left.
    let _ = futures_util::SinkExt::close(&mut ada_ws).await;
    let all = list(c.teacher.clone()).await;
    assert_eq!(all[0].student_name.as_deref(), Some("Ada Lovelace"));
    c.server.shutdown().await;
}

/// Joins the class over its websocket as `name` with `token`; the open socket.
async fn in_class(
    c: &Class,
    token: &str,
    name: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    use classroom_protocol::{ClientMessage, PROTOCOL_VERSION, ServerMessage};
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let url = format!("ws://{}/ws", c.server.signaling_addr());
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("a websocket");
    let join = ClientMessage::Join {
        token: token.into(),
        room: "physics-7b".into(),
        display_name: name.into(),
        role: Role::Student,
        protocol_version: PROTOCOL_VERSION,
        subscribe: false,
    };
    ws.send(Message::text(join.encode()))
        .await
        .expect("join sent");
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                if let Ok(ServerMessage::Joined { .. }) = ServerMessage::decode(t.as_str()) {
                    return ws;
                }
            }
            Some(Ok(_)) => {}
            other => panic!("the join did not finish: {other:?}"),
        }
    }
}
