//! `classroom-video-bench`: how fast remote video reaches the app's page, per path, in the real
//! app window under Xvfb.
//!
//! For each mode (a 720p30 camera, a 1080p15 screen) it starts the real classroom server on
//! loopback and a teacher publishing that one synthetic video track (test pattern with a running
//! clock, through the real encoder), then for each path the real app (`--app`, the release
//! build) as a student that joins from its command line, with `CLASSROOM_VIDEO_PATH=<path>` and
//! `CLASSROOM_VIDEO_REPORT=1`: the page then reports once a second what each tile painted
//! (`VIDEO_PAINTED` on the app's stdout). After the first frame and a warm-up, over a fixed
//! window it measures frames painted per second, the time from a frame decoded (RGBA, I420) or
//! received (encoded) to painted, and CPU from `/proc`: the app's own process and its WebKit
//! child processes (where the page runs and where WebCodecs decodes). Prints a table and ends
//! with `BENCH video {json}`. Measures only; asserts nothing about speed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use classroom_client::{JoinOptions, Session, connect};
use classroom_media::{CodecChoice, PublishConfig, VideoInput};
use classroom_protocol::Role;
use classroom_sfu::{ServerConfig, ServerHandle, start};
use serde::Deserialize;
use serde_json::json;

const ROOM: &str = "video-bench";

#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The app binary (build it with `cargo build --release -p classroom-app`).
    #[arg(long)]
    app: PathBuf,
    /// Paths to measure, comma-separated: rgba, i420, webcodecs.
    #[arg(long, default_value = "rgba,i420,webcodecs")]
    paths: String,
    /// Modes, comma-separated: 720p30 (camera), 1080p15 (screen).
    #[arg(long, default_value = "720p30,1080p15")]
    modes: String,
    /// Video codec: auto, h264, vp8, or an encoder name.
    #[arg(long, default_value = "auto")]
    codec: String,
    /// Seconds measured per case.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seconds after the first painted frame before measuring.
    #[arg(long, default_value_t = 4)]
    warmup: u64,
    /// Virtual screen size, e.g. 1920x1080.
    #[arg(long, default_value = "1920x1080")]
    screen: String,
    /// Enlarge the tile over the window (the view a student uses for a shared screen).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    enlarge: bool,
    /// Where to keep a screenshot and the app's stderr per case.
    #[arg(long)]
    artifacts: Option<PathBuf>,
    /// The app's own figures instead (`cargo xtask bench app`): cold start to the home
    /// screen, join to the first remote frame painted, a 720p30 camera painted (fps and CPU)
    /// and the student app's memory in the class; ends with `BENCH app {json}`.
    #[arg(long)]
    app_figures: bool,
    /// Starts of the app timed for the cold start (the median is reported).
    #[arg(long, default_value_t = 5)]
    starts: u32,
    /// The whiteboard's figures instead (`cargo xtask bench annotate`): a student's app on a
    /// board of `--strokes` finished strokes while the teacher draws one more, live: the
    /// time of each paint of the whiteboard's canvas; ends with `BENCH board {json}`.
    #[arg(long)]
    board_figures: bool,
    /// Finished strokes on the board for `--board-figures`.
    #[arg(long, default_value_t = 5000)]
    strokes: usize,
}

#[derive(Debug, Clone, Copy)]
struct Mode {
    name: &'static str,
    size: (u32, u32, u32),
    screen: bool,
}

fn parse_modes(list: &str) -> anyhow::Result<Vec<Mode>> {
    list.split(',')
        .map(|m| match m.trim() {
            "720p30" => Ok(Mode {
                name: "720p30",
                size: (1280, 720, 30),
                screen: false,
            }),
            "1080p15" => Ok(Mode {
                name: "1080p15",
                size: (1920, 1080, 15),
                screen: true,
            }),
            other => bail!("unknown mode {other:?}: 720p30 or 1080p15"),
        })
        .collect()
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .try_init();
    classroom_media::init().context("GStreamer (run `cargo xtask deps`)")?;
    let paths: Vec<String> = args.paths.split(',').map(|p| p.trim().to_owned()).collect();
    for p in &paths {
        if !["rgba", "i420", "webcodecs"].contains(&p.as_str()) {
            bail!("unknown path {p:?}: rgba, i420 or webcodecs");
        }
    }
    let modes = parse_modes(&args.modes)?;
    let codec: CodecChoice = args.codec.parse()?;
    if !args.app.is_file() {
        bail!("no app binary at {}", args.app.display());
    }
    let work = std::env::temp_dir().join(format!("classroom-video-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let xvfb = Xvfb::start(&args.screen, &work)?;
    println!(
        "display {} ({}), {} s warm-up + {} s measured per case, load before: {}",
        xvfb.display,
        args.screen,
        args.warmup,
        args.seconds,
        load_average()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if args.board_figures {
        let figures = board_figures(&args, &xvfb.display, &work, &rt);
        let _ = std::fs::remove_dir_all(&work);
        println!("load after: {}", load_average());
        println!("BENCH board {}", figures?);
        return Ok(());
    }
    if args.app_figures {
        let figures = app_figures(&args, &xvfb.display, &work, &rt, codec);
        let _ = std::fs::remove_dir_all(&work);
        println!("load after: {}", load_average());
        println!("BENCH app {}", figures?);
        return Ok(());
    }
    let mut results = Vec::new();
    for mode in &modes {
        let (server, teacher) = rt.block_on(class(*mode, codec))?;
        for path in &paths {
            let r = measure(&args, &xvfb.display, &work, &server, *mode, path);
            let r = match r {
                Ok(r) => r,
                Err(e) => {
                    println!("{:>8} {:>10}: failed: {e:#}", mode.name, path);
                    json!({"mode": mode.name, "path": path, "error": format!("{e:#}")})
                }
            };
            results.push(r);
        }
        rt.block_on(async {
            teacher.leave().await;
            server.shutdown().await;
        });
    }
    let _ = std::fs::remove_dir_all(&work);
    println!("load after: {}", load_average());
    println!(
        "BENCH video {}",
        json!({"screen": args.screen, "seconds": args.seconds, "cases": results})
    );
    Ok(())
}

/// One process's memory (see `App::memory`).
struct ProcessMemory {
    name: String,
    rss_kb: u64,
    pss_kb: u64,
    /// Where the proportional memory is: the largest mappings by name (a library's file
    /// name, `[heap]`, `[anon]` for unnamed memory), with their kB.
    largest: Vec<(String, u64)>,
}

/// The proportional memory (kB) of each mapping name in `smaps` (`/proc/<pid>/smaps`), the
/// largest `keep` first: a library by its file name (all its segments), `[heap]`, `[stack]`,
/// `[anon]` for unnamed mappings, a memfd or a deleted file by its name.
fn largest_mappings(smaps: &str, keep: usize) -> Vec<(String, u64)> {
    let mut by_name: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let mut current = String::from("[anon]");
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or_default();
        // A mapping's header: "start-end perms offset dev inode [name]" (the name may hold
        // spaces, and is padded before).
        if first.contains('-') && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            let name = line
                .splitn(6, ' ')
                .nth(5)
                .map(str::trim)
                .unwrap_or_default();
            current = match name.rsplit('/').next() {
                Some(n) if !n.is_empty() => n.to_owned(),
                _ => "[anon]".to_owned(),
            };
            continue;
        }
        if first == "Pss:" {
            let kb = fields
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            *by_name.entry(current.clone()).or_default() += kb;
        }
    }
    let mut all: Vec<(String, u64)> = by_name.into_iter().filter(|(_, kb)| *kb > 0).collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    all.truncate(keep);
    all
}

/// `cargo xtask bench app`: the app's start, join and steady state as a student.
fn app_figures(
    args: &Args,
    display: &str,
    work: &Path,
    rt: &tokio::runtime::Runtime,
    codec: CodecChoice,
) -> anyhow::Result<serde_json::Value> {
    // Cold start: the process started until the page has mounted and painted the home screen
    // (the app prints UI_READY then). Each start has a fresh home folder; the files the app
    // reads are in the page cache after the first start, as on a computer in use.
    let mut starts = Vec::new();
    for n in 0..args.starts.max(1) {
        let home = work.join(format!("start-{n}"));
        let started = Instant::now();
        let mut app = App::launch_home(&args.app, display, &home)?;
        app.wait_for_line(Duration::from_secs(60), "UI_READY")?;
        starts.push(started.elapsed().as_secs_f64() * 1000.0);
        drop(app);
    }
    let first_start = starts[0];
    starts.sort_by(f64::total_cmp);
    let cold_start_ms = starts[starts.len() / 2];
    println!(
        "cold start to the home screen: median {cold_start_ms:.0} ms of {} (first {first_start:.0} ms, fastest {:.0}, slowest {:.0})",
        starts.len(),
        starts[0],
        starts[starts.len() - 1]
    );

    // The class: a teacher's 720p30 camera through the real server.
    let mode = parse_modes("720p30")?[0];
    let (server, teacher) = rt.block_on(class(mode, codec))?;
    let result = (|| {
        let token = server.mint_token(ROOM, "student", Role::Student, Duration::from_secs(3600))?;
        let home = work.join("class");
        let mut app = App::launch(
            &args.app,
            display,
            &home,
            &server.url(),
            &token,
            "",
            args.enlarge,
        )?;
        // The page joins once it shows (`--join`): the join command stamps `JOIN_STAGE join`.
        app.wait_for_stage(Duration::from_secs(60), "join")?;
        let joined = Instant::now();
        let (_, first) = app.wait_for(Duration::from_secs(60), |t| t.painted > 0)?;
        let reported_ms = joined.elapsed().as_secs_f64() * 1000.0;
        // The app stamps each step on the wall clock (`JOIN_STAGE`), the page its first
        // paint: the split says where the time goes. Without the stamps (an older app), the
        // time until the paint report arrived.
        let steps = join_steps(&app, &first);
        let join_first_frame_ms = steps
            .iter()
            .find(|(step, _)| *step == "painted")
            .map_or(reported_ms, |(_, ms)| *ms);
        println!("join to the first remote frame painted: {join_first_frame_ms:.0} ms");
        for (step, ms) in &steps {
            println!("  {step:<8} {ms:>7.0} ms after the join command");
        }
        // Steady state: frames painted and CPU over the measured window.
        let warm = Instant::now();
        while warm.elapsed() < Duration::from_secs(args.warmup) {
            app.wait_for(Duration::from_secs(10), |_| true)?;
        }
        let (start, start_at) = (app.latest.clone().context("no report")?, app.latest_at);
        let cpu0 = app.cpu()?;
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(args.seconds) {
            app.wait_for(Duration::from_secs(10), |_| true)?;
        }
        let cpu1 = app.cpu()?;
        let end = app.latest.clone().context("no report")?;
        let span = app
            .latest_at
            .saturating_duration_since(start_at)
            .as_secs_f64();
        let elapsed = t0.elapsed().as_secs_f64();
        let fps = end.painted.saturating_sub(start.painted) as f64
            / if span > 0.5 { span } else { elapsed };
        let cpu_pct = 100.0 * ((cpu1.0 - cpu0.0) + (cpu1.1 - cpu0.1)) / elapsed;
        let memory = app.memory();
        let rss_mb = memory.iter().map(|m| m.rss_kb).sum::<u64>() as f64 / 1024.0;
        let pss_mb = memory.iter().map(|m| m.pss_kb).sum::<u64>() as f64 / 1024.0;
        for m in &memory {
            println!(
                "  {:<20} resident {:>6.0} MB, proportional {:>6.0} MB",
                m.name,
                m.rss_kb as f64 / 1024.0,
                m.pss_kb as f64 / 1024.0
            );
            let largest: Vec<String> = m
                .largest
                .iter()
                .map(|(name, kb)| format!("{name} {:.1}", *kb as f64 / 1024.0))
                .collect();
            println!("      largest (MB): {}", largest.join(", "));
        }
        println!(
            "720p30 camera painted at {fps:.1} fps ({}x{}, path {}), app + WebKit CPU {cpu_pct:.1} % of one core, resident memory {rss_mb:.0} MB (app and its WebKit processes; {pss_mb:.0} MB counting shared pages once)",
            end.width, end.height, end.path
        );
        keep_artifacts(args, display, &home, mode, "app");
        Ok::<_, anyhow::Error>(json!({
            "cold_start_ms": cold_start_ms.round(),
            "join_first_frame_ms": join_first_frame_ms.round(),
            "join_steps_ms": steps
                .iter()
                .map(|(step, ms)| (step.to_string(), json!(ms.round())))
                .collect::<serde_json::Map<_, _>>(),
            "fps_720p": round1(fps),
            "paint_cpu_pct": round1(cpu_pct),
            "rss_mb": rss_mb.round(),
            "pss_mb": pss_mb.round(),
        }))
    })();
    rt.block_on(async {
        teacher.leave().await;
        server.shutdown().await;
    });
    result
}

/// Join to first paint by step, ms after the join command, in order: prewarmed (the media
/// prepared as the app started: negative when before the join), devices (chosen), media
/// (GStreamer initialised), connected (the websocket open), joined (the join command
/// returned), track (the video track announced), encoded and decoded (its first frame),
/// listed (the page's first `class_stats` naming it), fetched (the tile's first answer with
/// frames), painted (the page's first paint of the tile). Steps the app did not stamp are left out.
fn join_steps(app: &App, first: &TilePaints) -> Vec<(&'static str, f64)> {
    let Some(start) = app.stage("join", "") else {
        return Vec::new();
    };
    let track = first.track_id.as_str();
    let painted = (first.first_painted_ms > 0.0).then_some(first.first_painted_ms);
    [
        ("prewarmed", app.stage("prewarmed", "")),
        ("devices", app.stage("devices", "")),
        ("media", app.stage("media", "")),
        ("connected", app.stage("connected", "")),
        ("joined", app.stage("joined", "")),
        ("track", app.stage("track", track)),
        ("encoded", app.stage("encoded", track)),
        ("decoded", app.stage("decoded", track)),
        ("listed", app.stage("listed", track)),
        ("fetched", app.stage("fetched", track)),
        ("painted", painted),
    ]
    .into_iter()
    .filter_map(|(step, at)| at.map(|at| (step, at - start)))
    .collect()
}

/// A stroke of 40 samples wandering from a point of the page (`n` picks which), as a hand
/// writes: the same shape of page as the PNG export's benchmark.
fn bench_stroke(n: usize) -> annotate::ItemKind {
    let mut seed = (n as u32).wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    let mut x = (next() % 1500) as f32 + 50.0;
    let mut y = (next() % 800) as f32 + 50.0;
    let samples = (0..40u32)
        .map(|i| {
            x += (next() % 13) as f32 - 6.0;
            y += (next() % 13) as f32 - 6.0;
            annotate::Sample {
                x,
                y,
                p: 0.3 + (next() % 70) as f32 / 100.0,
                t: i * 8,
            }
        })
        .collect();
    annotate::ItemKind::Stroke {
        tool: annotate::Tool::Pen,
        style: annotate::Style {
            color: [30, 50, 140, 255],
            width: 4.0,
        },
        samples,
        live: false,
    }
}

/// `--board-figures`: the whiteboard's paint time on a page of `--strokes` strokes, in a
/// student's app, while the teacher draws another stroke live (each batch of it repaints the
/// student's canvas: the cached finished strokes, then the live one).
fn board_figures(
    args: &Args,
    display: &str,
    work: &Path,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<serde_json::Value> {
    use annotate::{Background, Op, Sample};
    use classroom_protocol::ClassRequest;
    // A teacher who sends the whole board at once: the rate limits are lifted for that.
    let mut config = ServerConfig::loopback();
    config.limits.messages_per_second = 1_000_000;
    config.limits.message_burst = 1_000_000;
    config.class.draw_per_sec = 1_000_000.0;
    config.class.draw_burst = 1_000_000;
    let server = rt.block_on(start(config))?;
    let token = server.mint_token(ROOM, "teacher", Role::Teacher, Duration::from_secs(3600))?;
    let (teacher, _events) = rt.block_on(connect(JoinOptions::new(
        &server.url(),
        &token,
        ROOM,
        "Teacher",
        Role::Teacher,
    )))?;
    let page = "board-1".to_owned();
    let send = |op: Op| teacher.class(ClassRequest::Annotate { op });
    send(Op::AddPage {
        page: page.clone(),
        background: Background::Grid { spacing: 50.0 },
    });
    for n in 0..args.strokes {
        send(Op::AddItem {
            page: page.clone(),
            item: format!("bench-{n}"),
            kind: bench_stroke(n),
        });
    }
    let result = (|| {
        let token = server.mint_token(ROOM, "student", Role::Student, Duration::from_secs(3600))?;
        let home = work.join("board");
        let mut app = App::launch(&args.app, display, &home, &server.url(), &token, "", false)?;
        app.wait_for_stage(Duration::from_secs(60), "join")?;
        // The board arrives and is drawn whole into the cache once: the slowest paint.
        let (_, first) =
            app.wait_for_track(Duration::from_secs(120), "whiteboard", |t| t.painted > 0)?;
        let mut first_paint_ms = first.latency_ms_max;
        let settle = Instant::now();
        while settle.elapsed() < Duration::from_secs(args.warmup) {
            let (_, t) = app.wait_for_track(Duration::from_secs(10), "whiteboard", |_| true)?;
            first_paint_ms = first_paint_ms.max(t.latency_ms_max);
        }
        // The teacher draws, a batch every 33 ms, for the measured window.
        let item = "bench-live".to_owned();
        let live_sample = |i: u32| Sample {
            x: 200.0 + (i % 1200) as f32,
            y: 450.0 + ((i as f32) / 9.0).sin() * 200.0,
            p: 0.6,
            t: i * 33,
        };
        send(Op::BeginStroke {
            page: page.clone(),
            item: item.clone(),
            tool: annotate::Tool::Pen,
            style: annotate::Style {
                color: [200, 40, 40, 255],
                width: 6.0,
            },
            samples: vec![live_sample(0)],
        });
        let (_, start) = app.wait_for_track(Duration::from_secs(10), "whiteboard", |_| true)?;
        let t0 = Instant::now();
        let mut worst_ms: f64 = 0.0;
        let mut sent = 1u32;
        let mut next_report = Instant::now() + Duration::from_millis(1100);
        let mut end = start.clone();
        while t0.elapsed() < Duration::from_secs(args.seconds) {
            std::thread::sleep(Duration::from_millis(33));
            send(Op::ExtendStroke {
                page: page.clone(),
                item: item.clone(),
                from: sent,
                samples: vec![live_sample(sent)],
            });
            sent += 1;
            if Instant::now() >= next_report {
                let (_, t) = app.wait_for_track(Duration::from_secs(10), "whiteboard", |_| true)?;
                worst_ms = worst_ms.max(t.latency_ms_max);
                end = t;
                next_report = Instant::now() + Duration::from_millis(1100);
            }
        }
        send(Op::EndStroke {
            page: page.clone(),
            item,
            count: sent,
        });
        // The stroke finished: it joins the cached layer. Then a stroke in the middle of the
        // pile is erased: its area of the layer is drawn again. Each is the slowest paint of
        // the report that follows it (reports come once a second, their maximum is per
        // report).
        let mut paint_after = |what: &str| -> anyhow::Result<f64> {
            std::thread::sleep(Duration::from_millis(1200));
            let (_, t) = app.wait_for_track(Duration::from_secs(10), "whiteboard", |_| true)?;
            println!("  {what}: slowest paint {:.1} ms", t.latency_ms_max);
            Ok(t.latency_ms_max)
        };
        let finish_ms = paint_after("the teacher's stroke finished")?;
        send(Op::Erase {
            page: page.clone(),
            item: format!("bench-{}", args.strokes / 2),
        });
        let erase_ms = paint_after("a stroke erased")?;
        let paints = end.painted.saturating_sub(start.painted);
        if paints == 0 {
            bail!("the whiteboard did not paint while the teacher drew");
        }
        let frame_ms = (end.latency_ms_sum - start.latency_ms_sum) / paints as f64;
        let per_s = paints as f64 / t0.elapsed().as_secs_f64();
        println!(
            "whiteboard of {} strokes ({}x{} canvas): drawn whole into its cache in {first_paint_ms:.1} ms; \
             while the teacher draws: {paints} paints ({per_s:.1}/s), {frame_ms:.2} ms each on average, slowest {worst_ms:.1} ms",
            args.strokes, end.width, end.height
        );
        keep_artifacts(args, display, &home, parse_modes("720p30")?[0], "board");
        Ok::<_, anyhow::Error>(json!({
            "strokes": args.strokes,
            "frame_ms_5k": (frame_ms * 100.0).round() / 100.0,
            "frame_ms_max": round1(worst_ms),
            "cache_build_ms": round1(first_paint_ms),
            "finish_paint_ms": round1(finish_ms),
            "erase_paint_ms": round1(erase_ms),
            "paints_per_s": round1(per_s),
        }))
    })();
    rt.block_on(async {
        teacher.leave().await;
        server.shutdown().await;
    });
    result
}

/// The server and a teacher publishing one video track in `mode`.
async fn class(mode: Mode, codec: CodecChoice) -> anyhow::Result<(ServerHandle, Session)> {
    let server = start(ServerConfig::loopback()).await?;
    let token = server.mint_token(ROOM, "teacher", Role::Teacher, Duration::from_secs(3600))?;
    let input = Some(VideoInput::Test {
        pattern: if mode.screen { "smpte" } else { "ball" }.into(),
    });
    let config = PublishConfig {
        camera: if mode.screen { None } else { input.clone() },
        camera_mode: mode.size,
        camera_bitrate: 1_500_000,
        screen: if mode.screen { input } else { None },
        screen_mode: mode.size,
        screen_bitrate: 2_500_000,
        microphone: None,
        video_codec: codec,
        ..PublishConfig::default()
    };
    let (session, _events) = connect(JoinOptions {
        publish: Some(config),
        ..JoinOptions::new(&server.url(), &token, ROOM, "Teacher", Role::Teacher)
    })
    .await?;
    Ok((server, session))
}

/// One tile's cumulative figures, as the page reports them.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TilePaints {
    track_id: String,
    path: String,
    painted: u64,
    latency_ms_sum: f64,
    latency_ms_max: f64,
    width: u32,
    height: u32,
    /// Wall-clock ms of the tile's first paint (0 from an app that does not say).
    #[serde(default)]
    first_painted_ms: f64,
}

fn measure(
    args: &Args,
    display: &str,
    work: &Path,
    server: &ServerHandle,
    mode: Mode,
    path: &str,
) -> anyhow::Result<serde_json::Value> {
    let token = server.mint_token(ROOM, "student", Role::Student, Duration::from_secs(3600))?;
    let home = work.join(format!("{}-{path}", mode.name));
    let mut app = App::launch(
        &args.app,
        display,
        &home,
        &server.url(),
        &token,
        path,
        args.enlarge,
    )?;
    // The first painted frame, then the warm-up.
    let first = app
        .wait_for(Duration::from_secs(120), |t| t.painted > 0)
        .inspect_err(|_| keep_artifacts(args, display, &home, mode, path))?;
    let ready_at = Instant::now();
    while ready_at.elapsed() < Duration::from_secs(args.warmup) {
        app.wait_for(Duration::from_secs(10), |_| true)?;
    }
    let (t0, start, start_at) = (
        Instant::now(),
        app.latest.clone().context("no report")?,
        app.latest_at,
    );
    let cpu0 = app.cpu()?;
    let mut max_latency: f64 = 0.0;
    while t0.elapsed() < Duration::from_secs(args.seconds) {
        let t = app.wait_for(Duration::from_secs(10), |_| true)?;
        max_latency = max_latency.max(t.1.latency_ms_max);
    }
    let cpu1 = app.cpu()?;
    let end = app.latest.clone().context("no report")?;
    keep_artifacts(args, display, &home, mode, path);
    // Painted frames over the time between the two reports they come from.
    let span = app.latest_at.saturating_duration_since(start_at);
    let elapsed = t0.elapsed().as_secs_f64();
    let painted = end.painted.saturating_sub(start.painted);
    let secs = if span.as_secs_f64() > 0.5 {
        span.as_secs_f64()
    } else {
        elapsed
    };
    let fps = painted as f64 / secs;
    let latency = (end.latency_ms_sum - start.latency_ms_sum) / painted.max(1) as f64;
    let app_pct = 100.0 * (cpu1.0 - cpu0.0) / elapsed;
    let web_pct = 100.0 * (cpu1.1 - cpu0.1) / elapsed;
    println!(
        "{:>8} {:>10}: {:5.1} fps painted at {}x{}, decoded/received->painted {:5.1} ms (max {:4.0}), CPU app {:5.1} % + WebKit {:5.1} % = {:5.1} % of one core (first frame after {:.1} s)",
        mode.name,
        path,
        fps,
        end.width,
        end.height,
        latency,
        max_latency,
        app_pct,
        web_pct,
        app_pct + web_pct,
        first.0.as_secs_f64(),
    );
    if end.path != path {
        println!("         (the page used {} instead)", end.path);
    }
    Ok(json!({
        "mode": mode.name, "path": path, "pagePath": end.path,
        "fps": round1(fps), "latencyMs": round1(latency), "latencyMaxMs": round1(max_latency),
        "cpuAppPct": round1(app_pct), "cpuWebKitPct": round1(web_pct),
        "cpuTotalPct": round1(app_pct + web_pct),
        "painted": [end.width, end.height], "firstFrameS": round1(first.0.as_secs_f64()),
    }))
}

/// A screenshot of the screen and the app's stderr, when `--artifacts` names a folder.
fn keep_artifacts(args: &Args, display: &str, home: &Path, mode: Mode, path: &str) {
    let Some(dir) = &args.artifacts else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let shot = dir.join(format!("video-{}-{path}.png", mode.name));
    let taken = Command::new("import")
        .args(["-display", display, "-window", "root"])
        .arg(&shot)
        .env("DISPLAY", display)
        .status();
    if !taken.is_ok_and(|s| s.success()) {
        println!("         (no screenshot: ImageMagick's import failed)");
    }
    let _ = std::fs::copy(
        home.join("stderr.log"),
        dir.join(format!("video-{}-{path}.stderr.log", mode.name)),
    );
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<(u64, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields count from the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ppid: u32 = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime, ppid))
}

/// Every process below `root`.
fn descendants(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            if let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok())
                && let Some((_, ppid)) = cpu_ticks(pid)
            {
                parents.push((pid, ppid));
            }
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    found.remove(0);
    found
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

/// A child process that gets SIGTERM, then SIGKILL, when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.0.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Xvfb {
    display: String,
    _guard: Guard,
}

impl Xvfb {
    fn start(screen: &str, work: &Path) -> anyhow::Result<Self> {
        for number in 150..200 {
            if Path::new(&format!("/tmp/.X11-unix/X{number}")).exists()
                || Path::new(&format!("/tmp/.X{number}-lock")).exists()
            {
                continue;
            }
            let display = format!(":{number}");
            let log = std::fs::File::create(work.join("xvfb.log"))?;
            let child = Command::new("Xvfb")
                .args([display.as_str(), "-screen", "0", &format!("{screen}x24")])
                .args(["-nolisten", "tcp", "-noreset"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .context("start Xvfb (package xvfb)")?;
            let mut guard = Guard(child);
            let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline && !socket.exists() {
                if let Ok(Some(_)) = guard.0.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            std::thread::sleep(Duration::from_millis(300));
            if socket.exists() && matches!(guard.0.try_wait(), Ok(None)) {
                return Ok(Self {
                    display,
                    _guard: guard,
                });
            }
            drop(guard);
        }
        bail!("no free X display between :150 and :199")
    }
}

struct App {
    guard: Guard,
    lines: Receiver<String>,
    /// `JOIN_STAGE` lines seen so far: the step, its wall-clock ms, the track (may be empty).
    stages: Vec<(String, f64, String)>,
    latest: Option<TilePaints>,
    latest_at: Instant,
    ticks: f64,
}

impl App {
    fn launch(
        binary: &Path,
        display: &str,
        home: &Path,
        url: &str,
        token: &str,
        path: &str,
        enlarge: bool,
    ) -> anyhow::Result<Self> {
        // The token in a file only this user can read (`--token-file`), never on the command
        // line; `home` is the app's own folder for this run.
        std::fs::create_dir_all(home)?;
        let token_file = home.join("join.token");
        let _ = std::fs::remove_file(&token_file);
        classroom_client::write_token_file(&token_file, token)
            .with_context(|| format!("writing {}", token_file.display()))?;
        let mut command = Command::new(binary);
        command
            .args(["--role", "student", "--name", "Bench", "--room", ROOM])
            .args(["--server", url, "--join"])
            .arg("--token-file")
            .arg(&token_file)
            .env("CLASSROOM_VIDEO_REPORT", "1")
            .env("CLASSROOM_VIDEO_ENLARGE", if enlarge { "1" } else { "0" });
        // An empty path: the page's own choice.
        if !path.is_empty() {
            command.env("CLASSROOM_VIDEO_PATH", path);
        }
        Self::spawn(command, display, home, binary)
    }

    /// The app on its home screen (no class).
    fn launch_home(binary: &Path, display: &str, home: &Path) -> anyhow::Result<Self> {
        Self::spawn(Command::new(binary), display, home, binary)
    }

    fn spawn(
        mut command: Command,
        display: &str,
        home: &Path,
        binary: &Path,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(home)?;
        let mut child = command
            .env("DISPLAY", display)
            .env_remove("WAYLAND_DISPLAY")
            .env("GDK_BACKEND", "x11")
            // As in the window test: no GPU behind Xvfb. `WEBKIT_DISABLE_DMABUF_RENDERER=0`
            // in the bench's own environment measures WebKit's default renderer instead.
            .env(
                "WEBKIT_DISABLE_DMABUF_RENDERER",
                std::env::var("WEBKIT_DISABLE_DMABUF_RENDERER").unwrap_or_else(|_| "1".into()),
            )
            .env("LIBGL_ALWAYS_SOFTWARE", "1")
            .env("NO_AT_BRIDGE", "1")
            .env("HOME", home.join("home"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("start {}", binary.display()))?;
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().context("app stdout")?;
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let err = child.stderr.take().context("app stderr")?;
        let log = home.join("stderr.log");
        std::thread::spawn(move || {
            let mut file = std::fs::File::create(log).ok();
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Some(f) = file.as_mut() {
                    use std::io::Write;
                    let _ = writeln!(f, "{line}");
                }
            }
        });
        Ok(Self {
            guard: Guard(child),
            lines,
            stages: Vec::new(),
            latest: None,
            latest_at: Instant::now(),
            ticks: clock_ticks(),
        })
    }

    /// Waits for the next paint report satisfying `cond`; returns how long that took and the
    /// report.
    fn wait_for(
        &mut self,
        limit: Duration,
        cond: impl Fn(&TilePaints) -> bool,
    ) -> anyhow::Result<(Duration, TilePaints)> {
        self.wait_for_track(limit, "", cond)
    }

    /// As [`App::wait_for`], for the tile `track` (empty: the video tile, the first that is
    /// not the whiteboard).
    fn wait_for_track(
        &mut self,
        limit: Duration,
        track: &str,
        cond: impl Fn(&TilePaints) -> bool,
    ) -> anyhow::Result<(Duration, TilePaints)> {
        let started = Instant::now();
        loop {
            let left = limit.saturating_sub(started.elapsed());
            if left.is_zero() {
                bail!("no paint report within {} s", limit.as_secs());
            }
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.note_stage(&line);
                    let Some(json) = line.strip_prefix("VIDEO_PAINTED ") else {
                        continue;
                    };
                    let tiles: Vec<TilePaints> =
                        serde_json::from_str(json).context("VIDEO_PAINTED line")?;
                    // The bench publishes one video track: one video tile (and the
                    // whiteboard, when it paints).
                    let Some(tile) = tiles.into_iter().find(|t| {
                        if track.is_empty() {
                            t.track_id != "whiteboard"
                        } else {
                            t.track_id == track
                        }
                    }) else {
                        continue;
                    };
                    self.latest = Some(tile.clone());
                    self.latest_at = Instant::now();
                    if cond(&tile) {
                        return Ok((started.elapsed(), tile));
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => bail!("the app exited"),
            }
        }
    }

    /// Keeps a `JOIN_STAGE <step> <wall ms> [track]` line.
    fn note_stage(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("JOIN_STAGE ") else {
            return;
        };
        let mut words = rest.split_whitespace();
        if let (Some(step), Some(Ok(ms))) = (words.next(), words.next().map(str::parse::<f64>)) {
            let track = words.next().unwrap_or_default();
            self.stages.push((step.to_owned(), ms, track.to_owned()));
        }
    }

    /// The wall-clock ms of the first `step` (for `track`, when not empty).
    fn stage(&self, step: &str, track: &str) -> Option<f64> {
        self.stages
            .iter()
            .find(|(s, _, t)| s == step && (track.is_empty() || t == track))
            .map(|(_, ms, _)| *ms)
    }

    /// Waits for the app to stamp `step` (`JOIN_STAGE`, [`App::note_stage`]).
    fn wait_for_stage(&mut self, limit: Duration, step: &str) -> anyhow::Result<()> {
        self.read_until(limit, &format!("stamp {step}"), |app, _| {
            app.stage(step, "").is_some()
        })
    }

    /// Waits for the app to print `wanted` on a line of its own.
    fn wait_for_line(&mut self, limit: Duration, wanted: &str) -> anyhow::Result<()> {
        self.read_until(limit, &format!("print {wanted}"), |_, line| {
            line.is_some_and(|l| l.trim() == wanted)
        })
    }

    /// Reads the app's lines, noting its join stamps, until `done` holds (asked once before
    /// the first line, with `None`, then after each line) or `limit` has passed (an error
    /// saying the app did not `what`).
    fn read_until(
        &mut self,
        limit: Duration,
        what: &str,
        mut done: impl FnMut(&Self, Option<&str>) -> bool,
    ) -> anyhow::Result<()> {
        let started = Instant::now();
        if done(self, None) {
            return Ok(());
        }
        loop {
            let left = limit.saturating_sub(started.elapsed());
            if left.is_zero() {
                bail!("the app did not {what} within {} s", limit.as_secs());
            }
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.note_stage(&line);
                    if done(self, Some(&line)) {
                        return Ok(());
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => bail!("the app exited"),
            }
        }
    }

    /// Memory of the app and each of its child processes: resident (shared libraries
    /// counted in every process that maps them) and proportional (shared pages divided
    /// among the processes sharing them, so the sum is what the app really takes).
    fn memory(&self) -> Vec<ProcessMemory> {
        let pid = self.guard.0.id();
        let field = |text: &str, key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        };
        std::iter::once(pid)
            .chain(descendants(pid))
            .filter_map(|p| {
                let status = std::fs::read_to_string(format!("/proc/{p}/status")).ok()?;
                let rollup =
                    std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).unwrap_or_default();
                Some(ProcessMemory {
                    name: std::fs::read_to_string(format!("/proc/{p}/comm"))
                        .map(|n| n.trim().to_owned())
                        .unwrap_or_default(),
                    rss_kb: field(&status, "VmRSS:")?,
                    pss_kb: field(&rollup, "Pss:").unwrap_or(0),
                    largest: largest_mappings(
                        &std::fs::read_to_string(format!("/proc/{p}/smaps")).unwrap_or_default(),
                        6,
                    ),
                })
            })
            .collect()
    }

    /// CPU seconds so far: the app's own process, and its child processes (WebKit's).
    fn cpu(&self) -> anyhow::Result<(f64, f64)> {
        let pid = self.guard.0.id();
        let own = cpu_ticks(pid).context("the app is gone")?.0;
        let children: u64 = descendants(pid)
            .into_iter()
            .filter_map(|c| cpu_ticks(c).map(|t| t.0))
            .sum();
        Ok((own as f64 / self.ticks, children as f64 / self.ticks))
    }
}

#[cfg(test)]
mod tests {
    use super::largest_mappings;

    #[test]
    fn mappings_are_summed_by_name_largest_first() {
        let smaps = "\
55d0c8a00000-55d0c8a21000 r-xp 00000000 08:01 1234                       /usr/lib/libwebkit2gtk-4.1.so.0
Rss:                 200 kB
Pss:                 100 kB
55d0c8a21000-55d0c8a41000 r--p 00021000 08:01 1234                       /usr/lib/libwebkit2gtk-4.1.so.0
Pss:                  50 kB
55d0c8b00000-55d0c8c00000 rw-p 00000000 00:00 0                          [heap]
Pss:                 120 kB
7f0000000000-7f0000100000 rw-p 00000000 00:00 0 
Pss:                  30 kB
7f0000100000-7f0000200000 rw-s 00000000 00:01 99                         /memfd:wayland-shm (deleted)
Pss:                  40 kB
7f0000200000-7f0000300000 rw-p 00000000 00:00 0 
Pss:                  20 kB
VmFlags: rd wr mr mw me ac sd
";
        assert_eq!(
            largest_mappings(smaps, 3),
            vec![
                ("libwebkit2gtk-4.1.so.0".to_owned(), 150),
                ("[heap]".to_owned(), 120),
                ("[anon]".to_owned(), 50),
            ]
        );
        assert_eq!(
            largest_mappings(smaps, 9)[3],
            ("memfd:wayland-shm (deleted)".to_owned(), 40)
        );
        assert!(largest_mappings("garbage\nPss: x kB\n", 3).is_empty());
    }
}
