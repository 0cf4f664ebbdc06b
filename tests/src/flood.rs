//! The flood: a class (a teacher publishing a camera and a microphone through GStreamer, two
//! students decoding) on a classroom server running in a process of its own, while garbage
//! datagrams and spoofed DTLS ClientHellos hit its media port and idle TCP connections sit on
//! its signaling port. Measures the students' frame rate before, during and after, the
//! server's memory before and after, and what the server did with the junk. Shared by the
//! heavy test (`tests/flood.rs`, generous bounds) and `cargo xtask bench flood` (figures).

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use classroom_client::{JoinOptions, Session, connect};
use classroom_media::{AudioInput, PublishConfig, VideoInput};
use classroom_protocol::{Role, Source};
use classroom_sfu::{AccessKey, Claims};
use tokio::io::AsyncReadExt;

/// How hard and how long.
#[derive(Debug, Clone)]
pub struct FloodOptions {
    /// Seconds of flood.
    pub seconds: u64,
    /// Garbage datagrams per second at the media port.
    pub garbage_per_second: u32,
    /// Spoofed DTLS ClientHellos per second at the media port.
    pub hellos_per_second: u32,
    /// Idle TCP connections held open at the signaling port.
    pub idle_connections: usize,
}

impl Default for FloodOptions {
    fn default() -> Self {
        FloodOptions {
            seconds: 60,
            garbage_per_second: 20_000,
            hellos_per_second: 1_000,
            idle_connections: 1_000,
        }
    }
}

/// What was measured.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FloodReport {
    /// Each student's camera frame rate over 10 s before the flood.
    pub fps_before: Vec<f64>,
    /// Each student's camera frame rate during the flood (after its first 5 s).
    pub fps_during: Vec<f64>,
    /// Each student's camera frame rate over 5 s once the flood and its connections are gone.
    pub fps_after: Vec<f64>,
    /// Server resident memory before the flood, KiB.
    pub rss_before_kib: u64,
    /// Highest server resident memory seen during the flood, KiB.
    pub rss_peak_kib: u64,
    /// Server resident memory after the flood (its idle connections timed out), KiB.
    pub rss_after_kib: u64,
    /// Garbage datagrams sent.
    pub garbage_sent: u64,
    /// ClientHellos sent.
    pub hellos_sent: u64,
    /// Idle connections opened (the server's header deadline closes them; each is reopened
    /// until the flood ends).
    pub idle_opened: u64,
    /// Idle connections the server closed.
    pub idle_closed_by_server: u64,
    /// Idle connections this side still counted open 40 s after the flood. The server's
    /// own count (`server_connections_open`) is the one that matters: a few here have been
    /// seen with no such socket left in the kernel (`ss`), i.e. the harness's count, not
    /// the server's connections.
    pub idle_left_open: u64,
    /// TCP connections the server itself still had open after the flood (the class's three
    /// websockets when every idle one was closed).
    pub server_connections_open: u64,
    /// How long after the flood the last idle connection was closed by the server, s.
    pub idle_drain_seconds: f64,
    /// The server process still runs.
    pub server_alive: bool,
    /// The server's counters at the end that tell what it did with the junk (dropped
    /// datagrams, timeouts, refusals), from its `/metrics`.
    pub server_metrics: std::collections::BTreeMap<String, f64>,
}

/// A server child process and how to reach it.
struct Server {
    child: Child,
    signaling: SocketAddr,
    udp: SocketAddr,
    metrics: SocketAddr,
    key: AccessKey,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `exe server` with a fresh secret and reads its `READY` line.
fn spawn_server(exe: &Path) -> anyhow::Result<Server> {
    let mut secret = [0u8; 32];
    for (i, b) in secret.iter_mut().enumerate() {
        *b = (SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(7)
            .wrapping_mul(i as u32 + 13)
            >> 3) as u8;
    }
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let mut child = Command::new(exe)
        .arg("server")
        .env("CLASSROOM_SECRET", &hex)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let [_, signaling, udp, metrics] = words.as_slice() else {
        anyhow::bail!("server said {line:?}");
    };
    Ok(Server {
        child,
        signaling: signaling.parse()?,
        udp: udp.parse()?,
        metrics: metrics.parse()?,
        key: AccessKey::from_secret(hex.as_bytes())?,
    })
}

/// The server side of the flood: the real server on loopback with default limits, until
/// stdin closes. Prints `READY <signaling> <udp> <metrics>`.
pub async fn serve() -> anyhow::Result<()> {
    let secret = std::env::var("CLASSROOM_SECRET")?;
    let lo = std::net::IpAddr::V4(Ipv4Addr::LOCALHOST);
    let handle = classroom_sfu::start(classroom_sfu::ServerConfig {
        access: Some(AccessKey::from_secret(secret.as_bytes())?),
        metrics: Some(SocketAddr::new(lo, 0)),
        ..classroom_sfu::ServerConfig::loopback()
    })
    .await?;
    println!(
        "READY {} {} {}",
        handle.signaling_addr(),
        handle.udp_addr(),
        handle
            .metrics_addr()
            .ok_or_else(|| anyhow::anyhow!("metrics"))?
    );
    // Until the parent goes away (stdin closes).
    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        let _ = std::io::stdin().read_line(&mut sink);
    })
    .await;
    handle.shutdown().await;
    Ok(())
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

fn alive(child: &mut Child) -> bool {
    matches!(child.try_wait(), Ok(None))
}

fn token(key: &AccessKey, name: &str, role: Role) -> anyhow::Result<String> {
    let unix = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    Ok(key.mint(&Claims::new(
        "flood",
        name,
        role,
        Duration::from_secs(3600),
        unix,
    ))?)
}

/// Camera frames each student decoded so far.
fn frames(students: &[Session]) -> Vec<u64> {
    students
        .iter()
        .map(|s| s.stats().by_source(Source::Camera).map_or(0, |t| t.frames))
        .collect()
}

async fn fps_over(students: &[Session], window: Duration) -> Vec<f64> {
    let a = frames(students);
    let t = Instant::now();
    tokio::time::sleep(window).await;
    let secs = t.elapsed().as_secs_f64();
    frames(students)
        .iter()
        .zip(a)
        .map(|(b, a)| (b.saturating_sub(a)) as f64 / secs)
        .collect()
}

/// A DTLS 1.2 ClientHello record as a browser's first flight starts, with a fresh random.
fn client_hello(n: u64) -> Vec<u8> {
    let mut body = vec![0xfe, 0xfd];
    body.extend((0..32u64).map(|i| (n.wrapping_mul(31).wrapping_add(i * 7)) as u8));
    body.push(0); // session id
    body.push(0); // cookie
    body.extend([0x00, 0x04, 0xc0, 0x2b, 0xc0, 0x2f]); // cipher suites
    body.extend([0x01, 0x00]); // compression: null
    // Extensions: use_srtp (AES128_CM_SHA1_80), extended master secret.
    let ext = [
        0x00, 0x0e, 0x00, 0x05, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00, 0x17, 0x00, 0x00,
    ];
    body.extend((ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let len = body.len() as u32;
    let mut hs = vec![1u8];
    hs.extend(&len.to_be_bytes()[1..]);
    hs.extend([0, 0]); // message seq
    hs.extend([0, 0, 0]); // fragment offset
    hs.extend(&len.to_be_bytes()[1..]);
    hs.extend(body);
    let mut rec = vec![22u8, 0xfe, 0xfd, 0, 0];
    rec.extend(&n.to_be_bytes()[2..]); // 48-bit sequence number
    rec.extend((hs.len() as u16).to_be_bytes());
    rec.extend(hs);
    rec
}

/// Sends `per_second` datagrams made by `make` from `sources` sockets, paced every 10 ms,
/// until `stop`; returns how many were sent.
fn blast(
    target: SocketAddr,
    sources: Vec<UdpSocket>,
    per_second: u32,
    stop: Arc<AtomicBool>,
    make: impl Fn(u64) -> Vec<u8>,
) -> u64 {
    let per_tick = u64::from(per_second) / 100;
    let mut sent = 0u64;
    let start = Instant::now();
    let mut tick = 0u64;
    while !stop.load(Relaxed) {
        for _ in 0..per_tick {
            let s = &sources[(sent as usize) % sources.len()];
            if s.send_to(&make(sent), target).is_ok() {
                sent += 1;
            }
        }
        tick += 1;
        let next = start + Duration::from_millis(10 * tick);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    sent
}

/// Holds idle TCP connections from many loopback addresses; reopens each one the server
/// closes until `stop`. Counts opened and server-closed connections and those open now.
async fn idle_connection(
    target: SocketAddr,
    from: Ipv4Addr,
    stop: Arc<AtomicBool>,
    opened: Arc<AtomicU64>,
    closed: Arc<AtomicU64>,
    open_now: Arc<AtomicU64>,
) {
    while !stop.load(Relaxed) {
        let Ok(socket) = tokio::net::TcpSocket::new_v4() else {
            return;
        };
        if socket
            .bind(SocketAddr::V4(SocketAddrV4::new(from, 0)))
            .is_err()
        {
            return;
        }
        let Ok(mut stream) = socket.connect(target).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        opened.fetch_add(1, Relaxed);
        open_now.fetch_add(1, Relaxed);
        let mut buf = [0u8; 512];
        // Never writes; waits for the server to give up on it.
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        open_now.fetch_sub(1, Relaxed);
        closed.fetch_add(1, Relaxed);
    }
}

async fn metrics_text(addr: SocketAddr) -> String {
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return String::new();
    };
    use tokio::io::AsyncWriteExt;
    let _ = s
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or(text)
}

/// The counters of interest in an OpenMetrics text, by name and labels.
fn counters(text: &str) -> std::collections::BTreeMap<String, f64> {
    text.lines()
        .filter(|l| {
            [
                "classroom_udp_packets_in",
                "classroom_udp_dropped",
                "classroom_timeouts",
                "classroom_limit_refusals",
                "classroom_accept_errors",
                "classroom_connections_open",
                "classroom_participants",
            ]
            .iter()
            .any(|p| l.starts_with(p))
        })
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .filter(|(name, v)| *v != 0.0 || !name.contains('{'))
        .collect()
}

/// Runs the class and the flood against `exe server`; GStreamer must be initialised.
pub async fn run(exe: &Path, opts: &FloodOptions) -> anyhow::Result<FloodReport> {
    let mut server = spawn_server(exe)?;
    let pid = server.child.id();
    let url = format!("ws://{}/ws", server.signaling);
    let publish = PublishConfig {
        camera: Some(VideoInput::Test {
            pattern: "ball".into(),
        }),
        camera_mode: (320, 240, 30),
        microphone: Some(AudioInput::Test),
        camera_bitrate: 400_000,
        ..PublishConfig::default()
    };
    let teacher_opts = JoinOptions {
        publish: Some(publish),
        ..JoinOptions::new(
            &url,
            &token(&server.key, "teacher", Role::Teacher)?,
            "flood",
            "Teacher",
            Role::Teacher,
        )
    };
    let (teacher, _teacher_events) = connect(teacher_opts).await?;
    let mut students = Vec::new();
    let mut student_events = Vec::new();
    for name in ["Ada", "Grace"] {
        let opts = JoinOptions::new(
            &url,
            &token(&server.key, name, Role::Student)?,
            "flood",
            name,
            Role::Student,
        );
        let (s, events) = connect(opts).await?;
        students.push(s);
        student_events.push(events);
    }
    let ready = Instant::now() + Duration::from_secs(30);
    while frames(&students).contains(&0) {
        anyhow::ensure!(Instant::now() < ready, "no camera frames within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut report = FloodReport {
        rss_before_kib: rss_kib(pid),
        ..FloodReport::default()
    };
    report.fps_before = fps_over(&students, Duration::from_secs(10)).await;
    eprintln!(
        "flood: before: fps {:?}, server RSS {} KiB",
        report.fps_before, report.rss_before_kib
    );

    let stop = Arc::new(AtomicBool::new(false));
    let garbage_sources = (0..4)
        .map(|_| UdpSocket::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()?;
    let hello_sources = (0..64u8)
        .map(|i| UdpSocket::bind((Ipv4Addr::new(127, 0, 2, i + 1), 0)))
        .collect::<Result<Vec<_>, _>>()?;
    let (udp, gps, hps) = (server.udp, opts.garbage_per_second, opts.hellos_per_second);
    let stop_g = stop.clone();
    let garbage = std::thread::spawn(move || {
        blast(udp, garbage_sources, gps, stop_g, |n| {
            // xorshift bytes, every first-byte class, 20..1200 bytes.
            let mut x = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            let len = 20 + (x % 1180) as usize;
            (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect()
        })
    });
    let stop_h = stop.clone();
    let hellos = std::thread::spawn(move || blast(udp, hello_sources, hps, stop_h, client_hello));
    let (opened, closed, open_now) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let mut idle = Vec::new();
    for i in 0..opts.idle_connections {
        // 20 per address: under the per-source limit, so the deadlines are what closes them.
        let from = Ipv4Addr::new(127, 0, 3, (i / 20 % 250) as u8 + 1);
        idle.push(tokio::spawn(idle_connection(
            server.signaling,
            from,
            stop.clone(),
            opened.clone(),
            closed.clone(),
            open_now.clone(),
        )));
    }
    let flood_start = Instant::now();
    let flood_end = flood_start + Duration::from_secs(opts.seconds);
    tokio::time::sleep(Duration::from_secs(5.min(opts.seconds))).await;
    let before_window = frames(&students);
    let window_start = Instant::now();
    while Instant::now() < flood_end {
        report.rss_peak_kib = report.rss_peak_kib.max(rss_kib(pid));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let window = window_start.elapsed().as_secs_f64();
    report.fps_during = frames(&students)
        .iter()
        .zip(before_window)
        .map(|(b, a)| b.saturating_sub(a) as f64 / window)
        .collect();
    stop.store(true, Relaxed);
    report.garbage_sent = garbage.join().unwrap_or(0);
    report.hellos_sent = hellos.join().unwrap_or(0);
    eprintln!(
        "flood: during: fps {:?}, peak RSS {} KiB, {} garbage + {} hellos sent, {} idle connections opened",
        report.fps_during,
        report.rss_peak_kib,
        report.garbage_sent,
        report.hellos_sent,
        opened.load(Relaxed)
    );
    // What the flood did to the idle connections, as it ended: every one the server
    // accepted was closed by its header deadline while the flood went on.
    report.idle_opened = opened.load(Relaxed);
    report.idle_closed_by_server = closed.load(Relaxed);
    report.idle_left_open = open_now.load(Relaxed);
    // Then the attacker goes away (its sockets close), and what counts is that the server
    // comes back to the class's own connections. A connection the kernel left in the accept
    // queue (or whose handshake it finished late, after SYN-ACK retries) reaches the server
    // seconds after the flood: its count can dip to the class's three and rise again as the
    // queue is accepted, so it must stay there for two reads a second apart. (Waiting for
    // the server's deadline on queued connections while their client still held them open
    // was a race: the count dipped, then 131 more were accepted, each with a fresh 10 s.)
    for task in idle {
        task.abort();
    }
    let stopped = Instant::now();
    let class_only = |text: &str| {
        counters(text)
            .get("classroom_connections_open")
            .is_some_and(|open| *open as u64 <= 3)
    };
    let mut settled = 0;
    while stopped.elapsed() < Duration::from_secs(70) && settled < 2 {
        if class_only(&metrics_text(server.metrics).await) {
            settled += 1;
        } else {
            settled = 0;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    report.idle_drain_seconds = stopped.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    report.rss_after_kib = rss_kib(pid);
    report.server_metrics = counters(&metrics_text(server.metrics).await);
    report.fps_after = fps_over(&students, Duration::from_secs(5)).await;
    report.server_alive = alive(&mut server.child);
    report.server_connections_open = report
        .server_metrics
        .get("classroom_connections_open")
        .map_or(u64::MAX, |v| *v as u64);
    eprintln!(
        "flood: after: fps {:?}, server RSS {} KiB, {} idle left open",
        report.fps_after, report.rss_after_kib, report.idle_left_open
    );
    for s in students {
        s.leave().await;
    }
    teacher.leave().await;
    drop(student_events);
    Ok(report)
}
