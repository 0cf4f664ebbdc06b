//! `classroom-demo`: a real class on this computer. Starts the embedded classroom server,
//! a teacher publishing camera, microphone and screen (test sources where the machine has no
//! devices) and two students who receive and decode everything; prints what each student got.

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
    /// Also open the app's teacher and student windows, using this app binary.
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

/// App windows opened for the demo; closed when dropped.
struct Windows(Vec<Child>);

impl Drop for Windows {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The app's windows on the demo class: the teacher's shows its join screen (the demo's own
/// headless teacher is the one publishing); the students' join by themselves with tokens
/// from the embedded server and show what they receive.
fn open_windows(app: &std::path::Path, server: &ServerHandle) -> anyhow::Result<Windows> {
    let url = server.url();
    let mut children = Vec::new();
    let teacher = Command::new(app)
        .args(["--role", "teacher", "--room", "demo", "--name", "Teacher"])
        .spawn()
        .with_context(|| format!("opening the teacher window with {}", app.display()))?;
    children.push(teacher);
    for name in ["Ada (window)", "Grace (window)"] {
        let token = server.mint_token("demo", name, Role::Student, Duration::from_secs(3600))?;
        let child = Command::new(app)
            .args([
                "--role", "student", "--server", &url, "--room", "demo", "--name", name, "--token",
                &token, "--join",
            ])
            .spawn()
            .with_context(|| format!("opening a student window with {}", app.display()))?;
        children.push(child);
    }
    Ok(Windows(children))
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

    let server = start(ServerConfig::loopback())
        .await
        .context("starting the embedded classroom server")?;
    let url = server.url();
    println!("classroom server (embedded) at {url}");

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
    let _windows = match (&args.app_binary, args.headless) {
        (Some(app), false) => Some(open_windows(app, &server)?),
        _ => None,
    };

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

    let names = ["Ada", "Grace"];
    let mut students = Vec::new();
    for name in names {
        let (s, events) = connect(options(&server, name, Role::Student, None)?).await?;
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
    println!(
        "DEMO {}",
        serde_json::json!({ "seconds": args.seconds, "students": reports, "server": metrics })
    );

    for (_, s, _) in students {
        s.leave().await;
    }
    teacher.leave().await;
    server.shutdown().await;

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
