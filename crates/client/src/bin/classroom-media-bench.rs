//! `classroom-media-bench`: glass-to-glass delay, join-to-first-frame and the publisher's CPU,
//! through the real classroom server on loopback.
//!
//! The parent runs the embedded server and the subscribers; the publisher (camera 720p30,
//! screen 1080p15, microphone; test sources) runs in a child process of this same binary, so
//! its CPU time is its own (`/proc/<pid>/stat`). Each video frame carries its capture time
//! drawn into its pixels (`classroom_media::stamp`); the subscriber reads it back after
//! decoding and subtracts it from the shared monotonic clock. Prints figures and ends with
//! `BENCH media {json}`. Measures only; asserts nothing about speed.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use classroom_client::{JoinOptions, Session, SessionEvent, connect};
use classroom_media::{
    AudioInput, CodecChoice, DecodedFrame, FrameSink, PublishConfig, VideoInput, stamp,
};
use classroom_protocol::{Role, Source};
use classroom_sfu::{ServerConfig, standard_simulcast_layers, start};
use serde_json::json;

const ROOM: &str = "bench";

#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    role: Option<RoleArgs>,
    /// Video codec: auto, h264, vp8, or an encoder name (x264enc, openh264enc, vp8enc).
    #[arg(long, default_value = "auto")]
    codec: String,
    /// Seconds of glass-to-glass and CPU measurement.
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    /// How many students join one after another for join-to-first-frame.
    #[arg(long, default_value_t = 8)]
    joins: usize,
    /// The server asks for the camera in simulcast layers (320x180, 640x360, 1280x720).
    #[arg(long)]
    simulcast: bool,
}

#[derive(Debug, Subcommand)]
enum RoleArgs {
    /// The publishing teacher (run by the benchmark itself as a child process).
    Publish {
        #[arg(long)]
        url: String,
        #[arg(long)]
        token: String,
        #[arg(long)]
        codec: String,
    },
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .try_init();
    classroom_media::init().context("GStreamer (run `cargo xtask deps`)")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args.role {
        Some(RoleArgs::Publish { url, token, codec }) => rt.block_on(publish(url, token, codec)),
        None => rt.block_on(bench(args.codec, args.seconds, args.joins, args.simulcast)),
    }
}

/// The child: publishes until its stdin closes, printing its encoders and once a second its
/// send statistics.
async fn publish(url: String, token: String, codec: String) -> anyhow::Result<()> {
    let codec: CodecChoice = codec.parse()?;
    let config = PublishConfig {
        camera: Some(VideoInput::Test {
            pattern: "ball".into(),
        }),
        camera_mode: (1280, 720, 30),
        camera_bitrate: 1_500_000,
        screen: Some(VideoInput::Test {
            pattern: "smpte".into(),
        }),
        screen_mode: (1920, 1080, 15),
        screen_bitrate: 2_500_000,
        microphone: Some(AudioInput::Test),
        video_codec: codec,
        stamp_frames: true,
        ..PublishConfig::default()
    };
    let (session, mut events) = connect(JoinOptions {
        publish: Some(config),
        ..JoinOptions::new(&url, &token, ROOM, "Teacher", Role::Teacher)
    })
    .await?;
    // The parent closes our stdin to stop us.
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
            line.clear();
        }
        let _ = stop_tx.send(());
    });
    let mut announced = false;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = &mut stop_rx => break,
            ev = events.recv() => match ev {
                Some(SessionEvent::MediaFailed(m)) => eprintln!("publisher: media failed: {m}"),
                Some(SessionEvent::Closed { reason, .. }) => bail!("publisher session closed: {reason}"),
                Some(_) => {}
                None => break,
            },
            _ = tick.tick() => {
                if !announced && let Some(enc) = session.video_encoder(Source::Camera) {
                    println!("ENCODER {}", enc.factory());
                    announced = true;
                }
                for t in session.publish_stats().tracks {
                    println!(
                        "SENT {:?} {} target={}kbps sent={}kbps fps={:.1} res={:?} rtt={:?} loss={:?} pli={} nack={} keyframes={}",
                        t.source, t.encoder, t.target_bitrate / 1000, t.sent_bitrate / 1000, t.fps,
                        t.resolution, t.rtp.rtt, t.rtp.fraction_lost, t.rtp.pli_count, t.rtp.nack_count, t.keyframes
                    );
                    for l in &t.layers {
                        println!(
                            "SENT {:?} layer {} {}x{} target={}kbps sent={}kbps pli={} nack={}",
                            t.source, l.rid, l.resolution.0, l.resolution.1, l.target_bitrate / 1000,
                            l.sent_bitrate / 1000, l.rtp.pli_count, l.rtp.nack_count
                        );
                    }
                }
            }
        }
    }
    session.leave().await;
    Ok(())
}

/// Glass-to-glass delays per source, from the stamps of decoded frames.
#[derive(Default)]
struct G2g {
    camera: Mutex<Vec<i64>>,
    screen: Mutex<Vec<i64>>,
    unreadable: Mutex<u64>,
}

impl FrameSink for G2g {
    fn on_frame(&self, frame: &DecodedFrame<'_>) {
        let now = stamp::now_ms();
        let list = match frame.track.source {
            Source::Camera => &self.camera,
            Source::Screen => &self.screen,
            _ => return,
        };
        match stamp::read_frame(frame) {
            Some(s) => list
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(stamp::elapsed_ms(s, now)),
            None => *self.unreadable.lock().unwrap_or_else(|p| p.into_inner()) += 1,
        }
    }
}

impl G2g {
    fn take(&self) -> (Vec<i64>, Vec<i64>, u64) {
        let take =
            |m: &Mutex<Vec<i64>>| std::mem::take(&mut *m.lock().unwrap_or_else(|p| p.into_inner()));
        let unreadable =
            std::mem::take(&mut *self.unreadable.lock().unwrap_or_else(|p| p.into_inner()));
        (take(&self.camera), take(&self.screen), unreadable)
    }
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted.get(rank.min(sorted.len() - 1)).copied()
}

fn summary(values: &[i64]) -> (Option<f64>, Option<f64>, Option<f64>) {
    let mut v: Vec<f64> = values.iter().map(|&x| x as f64).collect();
    v.sort_by(f64::total_cmp);
    (
        percentile(&v, 50.0),
        percentile(&v, 95.0),
        v.last().copied(),
    )
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces: fields count from the last ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("malformed /proc stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11).context("no utime")?.parse()?;
    let stime: f64 = fields.get(12).context("no stime")?.parse()?;
    Ok((utime + stime) / clock_ticks())
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

struct Publisher {
    child: Child,
    encoder: Arc<Mutex<Option<String>>>,
    last_sent: Arc<Mutex<Vec<String>>>,
}

impl Drop for Publisher {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_publisher(url: &str, token: &str, codec: &str) -> anyhow::Result<Publisher> {
    let mut child = Command::new(std::env::current_exe()?)
        .args(["publish", "--url", url, "--token", token, "--codec", codec])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("start the publisher process")?;
    let stdout = child.stdout.take().context("publisher stdout")?;
    let encoder = Arc::new(Mutex::new(None));
    let last_sent = Arc::new(Mutex::new(Vec::new()));
    let (enc, sent) = (encoder.clone(), last_sent.clone());
    std::thread::spawn(move || {
        let mut batch: Vec<String> = Vec::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(name) = line.strip_prefix("ENCODER ") {
                *enc.lock().unwrap_or_else(|p| p.into_inner()) = Some(name.to_owned());
            } else if let Some(s) = line.strip_prefix("SENT ") {
                // A new second's report starts at the camera's own line (its layers follow).
                if s.starts_with("Camera") && !s.starts_with("Camera layer") && !batch.is_empty() {
                    *sent.lock().unwrap_or_else(|p| p.into_inner()) = std::mem::take(&mut batch);
                }
                batch.push(s.to_owned());
            }
        }
    });
    Ok(Publisher {
        child,
        encoder,
        last_sent,
    })
}

async fn wait_for(what: &str, limit: Duration, cond: impl Fn() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while !cond() {
        if Instant::now() >= deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

fn student(url: &str, token: &str, name: &str, sink: Option<Arc<dyn FrameSink>>) -> JoinOptions {
    JoinOptions {
        frame_sink: sink,
        ..JoinOptions::new(url, token, ROOM, name, Role::Student)
    }
}

fn fmt_ms(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.0} ms"))
        .unwrap_or_else(|| "-".into())
}

async fn bench(codec: String, seconds: u64, joins: usize, simulcast: bool) -> anyhow::Result<()> {
    codec.parse::<CodecChoice>()?;
    let server = start(ServerConfig {
        simulcast: if simulcast {
            standard_simulcast_layers()
        } else {
            Vec::new()
        },
        ..ServerConfig::loopback()
    })
    .await?;
    let ttl = Duration::from_secs(3600);
    let url = server.url();
    let teacher = server.mint_token(ROOM, "teacher", Role::Teacher, ttl)?;
    let publisher = spawn_publisher(&url, &teacher, &codec)?;
    println!(
        "publisher: camera 1280x720@30 1.5 Mbit/s{}, screen 1920x1080@15 2.5 Mbit/s, microphone (test sources), pid {}",
        if simulcast {
            " as simulcast layers 320x180, 640x360 and 1280x720"
        } else {
            ""
        },
        publisher.child.id()
    );

    // A student that stays: glass-to-glass on every decoded frame.
    let g2g = Arc::new(G2g::default());
    let token = server.mint_token(ROOM, "watcher", Role::Student, ttl)?;
    let (watcher, _watcher_events) =
        connect(student(&url, &token, "Watcher", Some(g2g.clone()))).await?;
    let has_frames = |s: &Session, src| s.stats().by_source(src).is_some_and(|t| t.frames > 0);
    wait_for("camera and screen frames", Duration::from_secs(30), || {
        has_frames(&watcher, Source::Camera) && has_frames(&watcher, Source::Screen)
    })
    .await?;
    // Warm-up: encoders settle, the first keyframes pass.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = g2g.take();
    let _ = watcher.receive_reports(Duration::from_secs(1));
    let pid = publisher.child.id();
    let (cpu0, wall0) = (cpu_seconds(pid)?, Instant::now());
    let own0 = cpu_seconds(std::process::id())?;
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let wall = wall0.elapsed().as_secs_f64();
    let publish_cpu = (cpu_seconds(pid)? - cpu0) / wall * 100.0;
    let own_cpu = (cpu_seconds(std::process::id())? - own0) / wall * 100.0;
    let (camera, screen, unreadable) = g2g.take();
    let reports = tokio::task::block_in_place(|| watcher.receive_reports(Duration::from_secs(1)));

    // Students joining one after another: connect() to first decoded camera frame.
    let mut first_frames = Vec::new();
    let mut first_packets = Vec::new();
    for i in 0..joins {
        let name = format!("Joiner{i}");
        let token = server.mint_token(ROOM, &name, Role::Student, ttl)?;
        let (s, _events) = connect(student(&url, &token, &name, None)).await?;
        // Where the time goes: first camera RTP packet, then first decoded frame.
        wait_for(
            "a joiner's first camera packet",
            Duration::from_secs(10),
            || {
                s.stats()
                    .by_source(Source::Camera)
                    .is_some_and(|t| t.packets > 0)
            },
        )
        .await?;
        first_packets.push(s.started().elapsed().as_millis() as i64);
        wait_for(
            "a joiner's first camera frame",
            Duration::from_secs(10),
            || has_frames(&s, Source::Camera),
        )
        .await?;
        if let Some(first) = s
            .stats()
            .by_source(Source::Camera)
            .and_then(|t| t.first_frame_at)
        {
            first_frames.push(first.duration_since(s.started()).as_millis() as i64);
        }
        s.leave().await;
        // Uneven gaps: with a fixed one the joins lock onto one phase of the publisher's
        // 2 s keyframe cycle and every sample measures the same luck.
        tokio::time::sleep(Duration::from_millis(300 + (i as u64 * 617) % 1000)).await;
    }

    let encoder = publisher
        .encoder
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .unwrap_or_else(|| "unknown".into());
    let (cam50, cam95, cam_max) = summary(&camera);
    let (scr50, scr95, scr_max) = summary(&screen);
    let (ff50, ff95, ff_max) = summary(&first_frames);
    println!("encoder: {encoder}");
    println!(
        "glass-to-glass camera 720p30: {} frames, p50 {}, p95 {}, max {}",
        camera.len(),
        fmt_ms(cam50),
        fmt_ms(cam95),
        fmt_ms(cam_max)
    );
    println!(
        "glass-to-glass screen 1080p15: {} frames, p50 {}, p95 {}, max {}",
        screen.len(),
        fmt_ms(scr50),
        fmt_ms(scr95),
        fmt_ms(scr_max)
    );
    println!("frames without a readable stamp: {unreadable}");
    println!(
        "join to first camera frame ({} joins): p50 {}, p95 {}, max {}  {:?}",
        first_frames.len(),
        fmt_ms(ff50),
        fmt_ms(ff95),
        fmt_ms(ff_max),
        first_frames
    );
    println!("  of which to the first camera RTP packet: {first_packets:?} ms");
    println!(
        "server: {} keyframe requests sent to the publisher",
        server.metrics().snapshot().keyframe_requests
    );
    println!(
        "publisher CPU (camera 720p30{} + screen 1080p15 + mic, {encoder}): {publish_cpu:.1}% of one core over {wall:.1} s",
        if simulcast {
            " in 3 simulcast layers"
        } else {
            ""
        }
    );
    println!("server + subscribers process CPU: {own_cpu:.1}% of one core");
    for r in &reports {
        println!(
            "received {:?}: {} kbit/s, {:.1} fps, {:?}, jitter {:?}, lost {:?}, nack {:?}, pli {:?}, freezes {}, concealed {} events",
            r.track.source,
            r.bitrate / 1000,
            r.fps,
            r.resolution,
            r.jitter,
            r.packets_lost,
            r.nack_count,
            r.pli_count,
            r.freezes,
            r.concealment_events
        );
    }
    for line in publisher
        .last_sent
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
    {
        println!("sent {line}");
    }
    let json = json!({
        "encoder": encoder,
        "g2g_p50_ms": cam50,
        "g2g_p95_ms": cam95,
        "g2g_screen_p50_ms": scr50,
        "g2g_screen_p95_ms": scr95,
        "g2g_frames": camera.len(),
        "first_frame_p50_ms": ff50,
        "first_frame_p95_ms": ff95,
        "joins": first_frames.len(),
        "publish_cpu_pct": (publish_cpu * 10.0).round() / 10.0,
        "simulcast": simulcast,
        "seconds": wall,
    });
    watcher.leave().await;
    drop(publisher);
    server.shutdown().await;
    println!("BENCH media {json}");
    Ok(())
}
