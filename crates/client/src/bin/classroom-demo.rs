//! `classroom-demo`: a real class on this computer. Starts the embedded classroom server,
//! a teacher publishing camera, microphone and screen (test sources where the machine has no
//! devices) and two students who receive and decode everything; prints what each student got.
//!
//! With `--app-binary` (and a display) the teacher is the app's own window instead: it starts
//! the class as a teacher does, the headless students join it, and so does a student window.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use classroom_client::{JoinOptions, Session, SessionEvent, connect};
use classroom_media::{AudioInput, PublishConfig, VideoInput};
use classroom_protocol::{MediaKind, Role, Source};
use classroom_sfu::{ServerConfig, ServerHandle, start};
use serde::Serialize;

/// Runs a demo class and reports per-student media figures.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// How long the class runs once the students have joined.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The teacher is this app's window (it starts the class), and a student window joins.
    #[arg(long)]
    app_binary: Option<std::path::PathBuf>,
    /// Never open windows (the default unless --app-binary is given).
    #[arg(long)]
    headless: bool,
    /// Use synthetic sources even where devices exist.
    #[arg(long)]
    test_sources: bool,
    /// Instead of a demo: list the classes announced on the local network, one JSON line per
    /// change, until interrupted (what a student's home screen shows).
    #[arg(long)]
    nearby: bool,
}

/// `--nearby`: the live list of classes on the local network.
async fn print_nearby() -> anyhow::Result<()> {
    let browser = classroom_client::discovery::browse(Default::default())?;
    let mut changes = browser.subscribe();
    eprintln!("looking for classes on the local network (Ctrl-C stops)");
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            changed = changes.changed() => {
                changed?;
                let classes = changes.borrow_and_update().clone();
                println!("{}", serde_json::json!({"classes": classes, "stats": browser.stats()}));
            }
        }
    }
}

#[derive(Debug, Serialize)]
struct TrackReport {
    track_id: String,
    source: Source,
    frames: u64,
    fps: f64,
    packets: u64,
    /// Received bitrate over the student's whole session.
    kbps: f64,
    /// Latest decoded frame size, e.g. `640x360`.
    resolution: Option<String>,
    freezes: u64,
}

#[derive(Debug, Serialize)]
struct StudentReport {
    name: String,
    /// Frames decoded over all video tracks.
    video_frames: u64,
    /// Decoded frames per second of the camera track.
    fps: f64,
    audio_packets: u64,
    /// From the student's connect() to its first decoded video frame.
    first_frame_ms: Option<f64>,
    tracks: Vec<TrackReport>,
}

fn report(name: &str, session: &Session) -> StudentReport {
    let stats = session.stats();
    let video = || {
        stats
            .tracks
            .iter()
            .filter(|t| t.track.kind == MediaKind::Video)
    };
    let first = video().filter_map(|t| t.first_frame_at).min();
    StudentReport {
        name: name.to_owned(),
        video_frames: video().map(|t| t.frames).sum(),
        fps: round1(
            stats
                .by_source(Source::Camera)
                .map(|t| t.fps())
                .unwrap_or(0.0),
        ),
        audio_packets: stats
            .tracks
            .iter()
            .filter(|t| t.track.kind == MediaKind::Audio)
            .map(|t| t.packets)
            .sum(),
        first_frame_ms: first
            .map(|f| round1(f.saturating_duration_since(session.started()).as_secs_f64() * 1000.0)),
        tracks: stats
            .tracks
            .iter()
            .map(|t| TrackReport {
                track_id: t.track.track_id.clone(),
                source: t.track.source,
                frames: t.frames,
                fps: round1(t.fps()),
                packets: t.packets,
                kbps: round1(
                    t.bytes as f64 * 8.0 / 1000.0 / session.started().elapsed().as_secs_f64(),
                ),
                resolution: t.resolution.map(|(w, h)| format!("{w}x{h}")),
                freezes: t.freeze.freezes(),
            })
            .collect(),
    }
}

fn options(
    server: &ServerHandle,
    name: &str,
    role: Role,
    publish: Option<PublishConfig>,
) -> anyhow::Result<JoinOptions> {
    // The embedded server signs its own tokens, as the teacher's app will for its students.
    let token = server.mint_token("demo", name, role, Duration::from_secs(3600))?;
    Ok(JoinOptions {
        publish,
        ..JoinOptions::new(&server.url(), &token, "demo", name, role)
    })
}

/// App windows opened for the demo, closed when dropped, and a folder only this user can
/// read (0700) for the students' token files, removed with it.
struct Windows {
    children: Vec<Child>,
    private: tempfile::TempDir,
}

impl Windows {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            children: Vec::new(),
            private: tempfile::Builder::new()
                .prefix("classroom-demo-")
                .tempdir()
                .context("a private folder for the students' tokens")?,
        })
    }
}

impl Drop for Windows {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What the teacher's window hands over once its class runs (the app writes it to the file
/// named by `CLASSROOM_INVITE_FILE`).
#[derive(Debug, serde::Deserialize)]
struct Invite {
    server: String,
    room: String,
    token: String,
    /// The certificate fingerprint to pin: the app hosts its class on the school network
    /// over `wss://` with a self-signed certificate.
    fingerprint: Option<String>,
}

impl Invite {
    /// The fingerprint as bytes, for [`JoinOptions::pin`].
    fn pin(&self) -> anyhow::Result<Option<[u8; 32]>> {
        self.fingerprint
            .as_deref()
            .map(classroom_protocol::fingerprint::parse)
            .transpose()
            .context("the invite's fingerprint")
    }
}

/// How long the teacher's window may take to start its class (a cold WebKit start, the
/// embedded server, camera, microphone and screen).
const TEACHER_WINDOW_WAIT: Duration = Duration::from_secs(90);

/// Opens the teacher's window, which starts the class on this computer as a teacher would
/// (`--join`), and waits for the invite it hands over.
async fn open_teacher_window(
    app: &std::path::Path,
    windows: &mut Windows,
) -> anyhow::Result<Invite> {
    let invite_file =
        std::env::temp_dir().join(format!("classroom-demo-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&invite_file);
    let teacher = Command::new(app)
        .args([
            "--role", "teacher", "--room", "demo", "--name", "Teacher", "--join",
        ])
        .env("CLASSROOM_INVITE_FILE", &invite_file)
        // The app's stdout only says UI_READY, for scripts; its stderr stays: real errors.
        .stdout(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("opening the teacher window with {}", app.display()))?;
    windows.children.push(teacher);
    let deadline = Instant::now() + TEACHER_WINDOW_WAIT;
    loop {
        if let Ok(text) = std::fs::read_to_string(&invite_file) {
            let _ = std::fs::remove_file(&invite_file);
            return serde_json::from_str(&text).context("the teacher window's invite");
        }
        if let Some(status) = windows
            .children
            .last_mut()
            .and_then(|c| c.try_wait().ok().flatten())
        {
            bail!("the teacher window exited ({status}) before its class started");
        }
        if Instant::now() > deadline {
            bail!("the teacher window did not start its class within {TEACHER_WINDOW_WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the teacher's window sends camera, microphone and screen (a short-lived
/// participant sees three tracks and a decoded camera frame), so the measured students join a
/// class under way, as in the demo's own class, and their figures are not the teacher's
/// start-up.
async fn wait_for_teacher_media(invite: &Invite) -> anyhow::Result<()> {
    let opts = JoinOptions {
        pin: invite.pin()?,
        ..JoinOptions::new(
            &invite.server,
            &invite.token,
            &invite.room,
            "demo-probe",
            Role::Student,
        )
    };
    let (probe, _events) = connect(opts).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stats = probe.stats();
        let camera_frames = stats
            .by_source(Source::Camera)
            .map(|t| t.frames)
            .unwrap_or(0);
        if stats.tracks.len() >= 3 && camera_frames > 0 {
            break;
        }
        if Instant::now() > deadline {
            probe.leave().await;
            bail!("the teacher's window sent no camera within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    probe.leave().await;
    Ok(())
}

/// Opens a student's window that joins the class of `invite` by itself.
fn open_student_window(
    app: &std::path::Path,
    invite: &Invite,
    name: &str,
    windows: &mut Windows,
) -> anyhow::Result<()> {
    // The token goes in a file only this user can read, not on the command line where every
    // user of the computer can read it.
    let token_file = windows.private.path().join(format!("{name}.token"));
    classroom_client::write_token_file(&token_file, &invite.token)
        .with_context(|| format!("writing {}", token_file.display()))?;
    let child = Command::new(app)
        .args([
            "--role",
            "student",
            "--server",
            &invite.server,
            "--room",
            &invite.room,
        ])
        .args(["--name", name, "--join"])
        .arg("--token-file")
        .arg(&token_file)
        .args(
            invite
                .fingerprint
                .as_deref()
                .map(|pin| vec!["--pin", pin])
                .unwrap_or_default(),
        )
        // The app's stdout only says UI_READY, for scripts; its stderr stays: real errors.
        .stdout(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("opening a student window with {}", app.display()))?;
    windows.children.push(child);
    Ok(())
}

/// The class the demo runs: its own embedded server with a headless teacher (`--headless` or
/// no display), or the teacher's app window's class.
enum Class {
    Embedded {
        server: ServerHandle,
        teacher: Box<Session>,
    },
    Window {
        invite: Invite,
        _windows: Windows,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if args.nearby {
        return print_nearby().await;
    }
    classroom_media::init().context("GStreamer is not ready; run `cargo xtask deps`")?;

    let class = match (&args.app_binary, args.headless) {
        (Some(app), false) => {
            // The teacher's window starts the class; the demo's students join it, and so does
            // one student window.
            let mut windows = Windows::new()?;
            let invite = open_teacher_window(app, &mut windows).await?;
            println!(
                "the teacher's window started the class at {}",
                invite.server
            );
            wait_for_teacher_media(&invite).await?;
            open_student_window(app, &invite, "Ada (window)", &mut windows)?;
            Class::Window {
                invite,
                _windows: windows,
            }
        }
        _ => embedded_class(&args).await?,
    };
    let (url, room) = match &class {
        Class::Embedded { server, .. } => (server.url(), "demo".to_owned()),
        Class::Window { invite, .. } => (invite.server.clone(), invite.room.clone()),
    };

    let names = ["Ada", "Grace"];
    let mut students = Vec::new();
    for name in names {
        let opts = match &class {
            Class::Embedded { server, .. } => options(server, name, Role::Student, None)?,
            Class::Window { invite, .. } => JoinOptions {
                pin: invite.pin()?,
                ..JoinOptions::new(&url, &invite.token, &room, name, Role::Student)
            },
        };
        let (s, events) = connect(opts).await?;
        students.push((name, s, events));
    }
    println!("2 students joined; class runs for {} s", args.seconds);
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;

    let reports: Vec<StudentReport> = students.iter().map(|(n, s, _)| report(n, s)).collect();
    for r in &reports {
        println!(
            "student {:<6} first frame {:>7} ms | camera {:>5.1} fps | audio packets {:>5}",
            r.name,
            r.first_frame_ms
                .map(|v| format!("{v:.0}"))
                .unwrap_or_else(|| "-".into()),
            r.fps,
            r.audio_packets
        );
        for t in &r.tracks {
            println!(
                "    {:<4} {:<10} frames {:>5}  fps {:>5.1}  packets {:>6}  {:>7.1} kbit/s  {:>9}  freezes {}",
                t.track_id,
                format!("{:?}", t.source),
                t.frames,
                t.fps,
                t.packets,
                t.kbps,
                t.resolution.as_deref().unwrap_or("-"),
                t.freezes
            );
        }
    }
    for (name, _, events) in students.iter_mut() {
        while let Ok(ev) = events.try_recv() {
            if matches!(
                ev,
                SessionEvent::MediaFailed(_) | SessionEvent::ServerError { .. }
            ) {
                eprintln!("student {name}: {ev:?}");
            }
        }
    }
    let metrics = match &class {
        Class::Embedded { server, .. } => {
            let metrics = server.metrics().snapshot();
            println!(
                "server: {} participants, {} tracks, {} frames forwarded, {} udp packets in / {} out, {} dropped",
                metrics.participants,
                metrics.tracks,
                metrics.media_forwarded,
                metrics.udp_packets_in,
                metrics.udp_packets_out,
                metrics.udp_dropped
            );
            serde_json::to_value(metrics)?
        }
        // The server runs inside the teacher's window.
        Class::Window { .. } => serde_json::Value::Null,
    };
    println!(
        "DEMO {}",
        serde_json::json!({ "seconds": args.seconds, "students": reports, "server": metrics })
    );

    for (_, s, _) in students {
        s.leave().await;
    }
    if let Class::Embedded { server, teacher } = class {
        teacher.leave().await;
        server.shutdown().await;
    }

    let starved: Vec<&str> = reports
        .iter()
        .filter(|r| r.video_frames == 0 || r.audio_packets == 0)
        .map(|r| r.name.as_str())
        .collect();
    if !starved.is_empty() {
        bail!("no media reached {}", starved.join(", "));
    }
    Ok(())
}

/// The demo's own class: an embedded server and a headless teacher publishing camera, screen
/// and microphone (devices where there are some, test sources otherwise).
async fn embedded_class(args: &Args) -> anyhow::Result<Class> {
    let server = start(ServerConfig::loopback())
        .await
        .context("starting the embedded classroom server")?;
    println!("classroom server (embedded) at {}", server.url());

    let publish = if args.test_sources {
        PublishConfig::default()
    } else {
        PublishConfig {
            camera: Some(VideoInput::camera_or_test()),
            screen: Some(VideoInput::screen_or_test()),
            microphone: Some(AudioInput::microphone_or_test()),
            ..PublishConfig::default()
        }
    };
    println!(
        "teacher publishes camera {:?} {}x{}@{}, screen {:?} {}x{}@{}, microphone {:?}",
        publish.camera.as_ref().map(describe),
        publish.camera_mode.0,
        publish.camera_mode.1,
        publish.camera_mode.2,
        publish.screen.as_ref().map(describe),
        publish.screen_mode.0,
        publish.screen_mode.1,
        publish.screen_mode.2,
        publish.microphone,
    );
    let (teacher, mut teacher_events) =
        connect(options(&server, "Teacher", Role::Teacher, Some(publish))?).await?;
    // Students join a class already under way, as they would.
    let deadline = Instant::now() + Duration::from_secs(15);
    while server.metrics().snapshot().tracks < 3 {
        if let Ok(ev) = teacher_events.try_recv()
            && let SessionEvent::MediaFailed(m) | SessionEvent::ServerError { message: m, .. } = ev
        {
            bail!("teacher could not publish: {m}");
        }
        if Instant::now() > deadline {
            bail!("teacher's tracks were not published within 15 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(Class::Embedded {
        server,
        teacher: Box::new(teacher),
    })
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn describe(v: &VideoInput) -> String {
    match v {
        VideoInput::Test { pattern } => format!("test pattern {pattern}"),
        VideoInput::V4l2 { device } => format!("camera {device}"),
        VideoInput::X11Screen { display } => format!("X11 screen {display}"),
        other => format!("{other:?}"),
    }
}
