//! `cargo xtask bench store`: a library of 10,000 lessons (50 courses, one to three materials
//! each, titles of three subject words in English or Chinese, notes of thirty words from a
//! larger vocabulary), listed and searched: broad queries (a subject word is in about one
//! lesson in five), a rare word, a single Chinese character (any pair starting with it). Prints the figures
//! and ends with `BENCH store {json}`.
//!
//!
//! Then downloads: a file (200 MB, `--mb N`) on a lesson of our lesson service (a server on
//! loopback in this process) fetched by the downloader into a fresh store (written, synced,
//! hash-checked), against the same file fetched by curl from nginx (Debian's package, a
//! process of its own) into a file, best of three each: `download_vs_curl` is ours over
//! curl's. And a download of it capped at 100 MB/s cut by the server stopping at a third and
//! finished when it is back: `resume_extra_bytes` is what came twice.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use classroom_client::library::{DownloadEvent, DownloadOptions, Downloader, LibraryServer};
use classroom_protocol::Role;
use classroom_sfu::{ServerConfig, ServerHandle};
use classroom_store::*;

const LESSONS: usize = 10_000;
const RUNS: usize = 30;

const WORDS: &[&str] = &[
    "forces",
    "energy",
    "motion",
    "waves",
    "light",
    "electricity",
    "magnetism",
    "atoms",
    "cells",
    "genetics",
    "evolution",
    "fractions",
    "algebra",
    "geometry",
    "poetry",
    "history",
    "牛顿",
    "运动",
    "能量",
    "电路",
    "光学",
    "细胞",
    "遗传",
    "几何",
    "代数",
    "诗歌",
    "历史",
];

fn main() {
    if let Err(e) = run() {
        eprintln!("bench store: {e}");
        std::process::exit(1);
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn run() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("classroom-store-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut store = Store::open(&dir, &StoreOptions { reserve_bytes: 0 })?;
    let mut rng = fastrand::Rng::with_seed(7);
    // Notes read like notes: mostly words from a larger vocabulary (5,000 made-up words, the
    // common ones far more often), now and then a subject word.
    let syllables = [
        "ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "qu", "xi",
    ];
    let vocabulary: Vec<String> = (0..5_000)
        .map(|n| {
            let mut w = String::new();
            let mut k = n + 12;
            while k > 0 {
                w.push_str(syllables[k % syllables.len()]);
                k /= syllables.len();
            }
            w
        })
        .collect();
    let fill = Instant::now();
    for c in 0..50 {
        store.put_course(&Course {
            id: format!("c{c}"),
            title: format!("Course {c}"),
            teacher: format!("Teacher {c}"),
            origin: String::new(),
        })?;
        let lessons: Vec<(Lesson, Vec<Material>)> = (0..LESSONS / 50)
            .map(|i| {
                let id = format!("c{c}-l{i}");
                let title: Vec<&str> = (0..3).map(|_| WORDS[rng.usize(..WORDS.len())]).collect();
                let notes: Vec<&str> = (0..30)
                    .map(|_| {
                        if rng.u8(0..10) == 0 {
                            WORDS[rng.usize(..WORDS.len())]
                        } else {
                            let u = rng.f64();
                            vocabulary[(u * u * vocabulary.len() as f64) as usize].as_str()
                        }
                    })
                    .collect();
                let materials = (0..rng.usize(1..4))
                    .map(|m| Material {
                        id: format!("{id}-m{m}"),
                        lesson_id: id.clone(),
                        kind: MaterialKind::Pdf,
                        title: format!("Material {m}"),
                        hash: ContentHash::of(format!("{id}-{m}").as_bytes()),
                        size: rng.u64(10_000..50_000_000),
                        mime: "application/pdf".into(),
                        position: m as i64,
                    })
                    .collect();
                (
                    Lesson {
                        id: id.clone(),
                        course_id: format!("c{c}"),
                        title: format!("{} {i}", title.join(" ")),
                        notes: notes.join(" "),
                        position: i as i64,
                        updated_ms: 0,
                    },
                    materials,
                )
            })
            .collect();
        store.put_lessons(&lessons)?;
    }
    // A tenth of the materials are on this computer.
    for n in 0..LESSONS / 10 {
        store.save_bytes(format!("offline {n}").as_bytes())?;
    }
    println!(
        "library: {LESSONS} lessons in 50 courses, written in {:.0} ms",
        fill.elapsed().as_secs_f64() * 1000.0
    );

    let mut list = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let all = store.lessons(None)?;
        list.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(all.len(), LESSONS);
    }
    let list_ms = median(list);
    println!("list all {LESSONS} lessons with what is offline: {list_ms:.2} ms (median of {RUNS})");

    let queries = [
        "energy",
        "waves light",
        "牛顿",
        "运动 能量",
        "geometry 12",
        "kalo",
        "电",
    ];
    let mut search = Vec::new();
    for q in queries {
        let mut times = Vec::new();
        let mut found = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            found = store.search(q, 50)?.len();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let m = median(times);
        println!("search {q:?}: {m:.2} ms, {found} hits (first 50)");
        search.push(m);
    }
    let search_ms = search.iter().cloned().fold(0.0, f64::max);
    println!("search (slowest query's median): {search_ms:.2} ms");
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);

    let mb: usize = std::env::args()
        .skip_while(|a| a != "--mb")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| StoreError::Invalid(format!("a runtime: {e}")))?;
    let (download_vs_curl, resume_extra_bytes) = runtime.block_on(downloads(mb));
    println!(
        "BENCH store {}",
        serde_json::json!({
            "lessons": LESSONS,
            "list_10k_ms": (list_ms * 100.0).round() / 100.0,
            "search_ms": (search_ms * 100.0).round() / 100.0,
            "download_vs_curl": download_vs_curl.map(|r| (r * 100.0).round() / 100.0),
            "resume_extra_bytes": resume_extra_bytes,
        })
    );
    Ok(())
}

/// The download figures: ours over curl's throughput (None without nginx or curl), and the
/// bytes fetched twice across a cut (None if the download failed).
async fn downloads(mb: usize) -> (Option<f64>, Option<u64>) {
    match try_downloads(mb).await {
        Ok(figures) => figures,
        Err(e) => {
            println!("downloads not measured: {e}");
            (None, None)
        }
    }
}

const ROOM: &str = "bench";

async fn start_server(
    lessons: &Path,
    signaling: Option<std::net::SocketAddr>,
    key: Option<classroom_sfu::AccessKey>,
) -> Result<ServerHandle, String> {
    let mut config = ServerConfig {
        lessons_dir: Some(lessons.to_path_buf()),
        access: key,
        ..ServerConfig::loopback()
    };
    if let Some(addr) = signaling {
        config.signaling = addr;
    }
    classroom_sfu::start(config)
        .await
        .map_err(|e| format!("the server: {e}"))
}

fn token(server: &ServerHandle, role: Role) -> Result<String, String> {
    server
        .mint_token(ROOM, "bench", role, Duration::from_secs(3600))
        .map_err(|e| e.to_string())
}

async fn try_downloads(mb: usize) -> Result<(Option<f64>, Option<u64>), String> {
    let dir = std::env::temp_dir().join(format!("classroom-download-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("www")).map_err(|e| e.to_string())?;
    // The file: made-up bytes (no two megabytes alike).
    let size = mb * 1024 * 1024;
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let file: Vec<u8> = (0..size / 8)
        .flat_map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()
        })
        .collect();
    let source = dir.join("www").join("lesson.bin");
    std::fs::write(&source, &file).map_err(|e| e.to_string())?;

    let server = start_server(&dir.join("server"), None, None).await?;
    let base = format!("http://{}", server.signaling_addr());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let teacher = token(&server, Role::Teacher)?;
    let put = |url: String, body: reqwest::Body| http.put(url).bearer_auth(&teacher).body(body);
    let r = put(
        format!("{base}/lessons/{ROOM}/l1"),
        r#"{"title":"Bench"}"#.into(),
    )
    .header("content-type", "application/json")
    .send()
    .await
    .map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("adding the lesson: {}", r.status()));
    }
    let r = put(
        format!("{base}/lessons/{ROOM}/l1/m1?kind=video&title=Recording"),
        file.clone().into(),
    )
    .send()
    .await
    .map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("uploading: {}", r.status()));
    }
    drop(file);
    println!("download: a {mb} MiB file on loopback");

    let mut ours = Vec::new();
    for run in 0..3 {
        let store_dir = dir.join(format!("student-{run}"));
        let secs = our_download(&server, &store_dir).await?;
        let _ = std::fs::remove_dir_all(&store_dir);
        println!(
            "  ours (written, synced, hash-checked): {:.0} MB/s",
            size as f64 / secs / 1e6
        );
        ours.push(size as f64 / secs);
    }
    let ours_best = ours.iter().cloned().fold(0.0, f64::max);

    let curl_best = match curl_from_nginx(&dir, size) {
        Ok(best) => Some(best),
        Err(e) => {
            println!("  curl from nginx not measured: {e}");
            None
        }
    };
    let ratio = curl_best.map(|c| ours_best / c);
    if let Some(r) = ratio {
        println!("download_vs_curl: {r:.2} (best of three each)");
    }

    // The cut: capped so it is still going when the server stops at a third.
    let options = DownloadOptions {
        max_bytes_per_second: Some(100_000_000),
        first_retry_delay: Duration::from_millis(100),
        max_retry_delay: Duration::from_millis(500),
        max_retries: 100,
        ..DownloadOptions::default()
    };
    let (addr, key) = (server.signaling_addr(), server.access().clone());
    let d = student(&server, &dir.join("student-cut"), options).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let task = {
        let d = d.clone();
        tokio::spawn(async move { d.download_lesson("l1", tx).await })
    };
    let third = (size / 3) as u64;
    while let Some(event) = rx.recv().await {
        if let DownloadEvent::Progress { done, .. } = event
            && done >= third
        {
            break;
        }
    }
    // The server stops (its connections cut); the download retries until it is back.
    server.shutdown().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let back = start_server(&dir.join("server"), Some(addr), Some(key)).await?;
    let report = task
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    back.shutdown().await;
    let extra = report.fetched_bytes.saturating_sub(size as u64);
    println!("resume after a cut at a third: {extra} bytes fetched again");
    let _ = std::fs::remove_dir_all(&dir);
    Ok((ratio, Some(extra)))
}

/// A student's downloader into a fresh store at `store_dir`, the catalog fetched.
async fn student(
    server: &ServerHandle,
    store_dir: &Path,
    options: DownloadOptions,
) -> Result<Downloader, String> {
    let store = StoreHandle::open(store_dir.to_path_buf(), StoreOptions::default())
        .map_err(|e| e.to_string())?;
    let d = Downloader::new(
        LibraryServer {
            base: format!("http://{}", server.signaling_addr()),
            room: ROOM.into(),
            token: token(server, Role::Student)?,
            pin: None,
        },
        store,
        options,
    )
    .map_err(|e| e.to_string())?;
    d.refresh_catalog().await.map_err(|e| e.to_string())?;
    Ok(d)
}

/// Downloads the lesson into a fresh store; the seconds it took.
async fn our_download(server: &ServerHandle, store_dir: &Path) -> Result<f64, String> {
    let d = student(server, store_dir, DownloadOptions::default()).await?;
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let started = Instant::now();
    d.download_lesson("l1", tx)
        .await
        .map_err(|e| e.to_string())?;
    Ok(started.elapsed().as_secs_f64())
}

/// nginx serving `dir/www` on a free loopback port, curl fetching the file into a file,
/// best of three; bytes per second.
fn curl_from_nginx(dir: &Path, size: usize) -> Result<f64, String> {
    let nginx = which("nginx").ok_or("nginx is not installed (apt-get install nginx-light)")?;
    which("curl").ok_or("curl is not installed")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "daemon off; worker_processes 1; pid {d}/nginx.pid; error_log {d}/nginx-error.log;\n\
             events {{}}\n\
             http {{ access_log off; sendfile on; tcp_nopush on;\n\
               client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp;\n\
               uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;\n\
               server {{ listen 127.0.0.1:{port}; root {d}/www; }} }}\n",
            d = dir.display()
        ),
    )
    .map_err(|e| e.to_string())?;
    let mut child = Command::new(nginx)
        .args(["-e", "stderr", "-c"])
        .arg(&conf)
        .args(["-p"])
        .arg(dir)
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("nginx: {e}"))?;
    let url = format!("http://127.0.0.1:{port}/lesson.bin");
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err("nginx did not start".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut best: f64 = 0.0;
    for _ in 0..3 {
        let out = dir.join("curl.bin");
        let started = Instant::now();
        let status = Command::new("curl")
            .args(["-sS", "--fail", "-o"])
            .arg(&out)
            .arg(&url)
            .status()
            .map_err(|e| e.to_string())?;
        // Synced like ours, so both are measured to the disk.
        let synced = std::fs::File::open(&out).and_then(|f| f.sync_all());
        let secs = started.elapsed().as_secs_f64();
        let got = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
        let _ = std::fs::remove_file(&out);
        if !status.success() || synced.is_err() || got != size as u64 {
            let _ = child.kill();
            return Err(format!("curl failed ({status}, {got} bytes)"));
        }
        println!(
            "  curl from nginx (written, synced): {:.0} MB/s",
            size as f64 / secs / 1e6
        );
        best = best.max(size as f64 / secs);
    }
    let _ = child.kill();
    let _ = child.wait();
    Ok(best)
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(program))
        .chain([Path::new("/usr/sbin").join(program)])
        .find(|p| p.is_file())
}
