//! `classroom-load`: drives one publisher and a growing number of subscribers against our
//! server or Janus's VideoRoom and prints, per step, the server's CPU and memory (from /proc
//! of --server-pid) and the subscribers' loss and forwarding delay.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use classroom_loadgen::clip::{AudioClip, VideoClip};
use classroom_loadgen::run::{self, Plan, Step, Target};
use classroom_loadgen::{AUDIO_ASSET, VIDEO_ASSET, default_asset};
use classroom_sfu::AccessKey;

/// SFU load generator: one publisher sending a real VP8 + Opus clip, subscribers added step by
/// step (1, 2, 5, 10, 20, 50, ...). After each step it measures, over a window, the server
/// process's CPU and resident memory (/proc/PID of --server-pid) and each subscriber's packets,
/// loss and publisher-to-subscriber delay. Prints one `STEP {json}` line per step and a
/// final `RESULT {json}` and `SUMMARY k=v ...` line. All peers share one thread.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    server: Server,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Subcommand)]
enum Server {
    /// Our classroom server (websocket signaling).
    Ours {
        /// Signaling URL, e.g. ws://127.0.0.1:8443/ws.
        #[arg(long)]
        url: String,
        /// The server's secret file, to mint join tokens (else $CLASSROOM_SECRET).
        #[arg(long)]
        secret_file: Option<PathBuf>,
        /// Room name.
        #[arg(long, default_value = "load")]
        room: String,
    },
    /// Janus's VideoRoom plugin over Janus's websocket transport.
    Janus {
        /// Janus websocket URL.
        #[arg(long, default_value = "ws://127.0.0.1:8188")]
        url: String,
        /// Room number (created if missing).
        #[arg(long, default_value_t = 4242)]
        room: u64,
    },
}

#[derive(Debug, Args)]
struct Common {
    /// Largest number of subscribers.
    #[arg(long, global = true, default_value_t = 200)]
    max_subs: usize,
    /// Explicit subscriber steps instead of 1, 2, 5, ... up to --max-subs (comma separated).
    #[arg(long, global = true, value_delimiter = ',')]
    steps: Option<Vec<usize>>,
    /// Measurement window per step, seconds.
    #[arg(long, global = true, default_value_t = 5.0)]
    step_seconds: f64,
    /// Wait after joins before measuring, seconds.
    #[arg(long, global = true, default_value_t = 1.5)]
    settle_seconds: f64,
    /// PID of the server process, for its CPU and memory.
    #[arg(long, global = true)]
    server_pid: Option<u32>,
    /// Stop when the server exceeds this fraction of one core.
    #[arg(long, global = true, default_value_t = 0.85)]
    cpu_limit: f64,
    /// Carry on after a window with loss.
    #[arg(long, global = true)]
    ignore_loss: bool,
    /// Local IP the peers bind to.
    #[arg(long, global = true, default_value = "127.0.0.1")]
    bind_ip: IpAddr,
    /// Peers offer only AES128_CM_SHA1_80 for SRTP, as the app's GStreamer clients do
    /// (otherwise AES-GCM, as a browser).
    #[arg(long, global = true)]
    srtp_aes_cm: bool,
    /// VP8 clip (IVF).
    #[arg(long, global = true)]
    video: Option<PathBuf>,
    /// Opus clip (Ogg).
    #[arg(long, global = true)]
    audio: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,str0m=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // One thread for every peer: the load generator must leave the other core to the server.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    rt.block_on(run_cli(cli))
}

async fn run_cli(cli: Cli) -> anyhow::Result<()> {
    let c = cli.common;
    let video_path = c.video.unwrap_or_else(|| default_asset(VIDEO_ASSET));
    let audio_path = c.audio.unwrap_or_else(|| default_asset(AUDIO_ASSET));
    let video = Arc::new(VideoClip::load(&video_path)?);
    let audio = Arc::new(AudioClip::load(&audio_path)?);
    let target = match cli.server {
        Server::Ours {
            url,
            secret_file,
            room,
        } => {
            let secret = match secret_file {
                Some(p) => std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?,
                None => std::env::var("CLASSROOM_SECRET")
                    .context("no --secret-file and no $CLASSROOM_SECRET")?
                    .into_bytes(),
            };
            let key = AccessKey::from_secret(secret.trim_ascii()).context("the secret")?;
            Target::Ours { url, key, room }
        }
        Server::Janus { url, room } => Target::Janus { url, room },
    };
    let steps = c.steps.unwrap_or_else(|| run::default_steps(c.max_subs));
    if steps.is_empty() {
        bail!("no steps: --max-subs must be at least 1");
    }
    if !(c.step_seconds > 0.0 && c.settle_seconds >= 0.0) {
        bail!("--step-seconds must be positive and --settle-seconds not negative");
    }
    let plan = Plan {
        steps,
        window: Duration::from_secs_f64(c.step_seconds),
        settle: Duration::from_secs_f64(c.settle_seconds),
        server_pid: c.server_pid,
        cpu_limit: c.cpu_limit,
        stop_on_loss: !c.ignore_loss,
        bind_ip: c.bind_ip,
        srtp_aes_cm: c.srtp_aes_cm,
    };
    println!(
        "classroom-load: {} at {}, clip {}x{} {:.0} fps {:.0} kbit/s + Opus, steps {:?}, {:.1} s windows{}",
        target.name(),
        match &target {
            Target::Ours { url, .. } | Target::Janus { url, .. } => url.as_str(),
        },
        video.width,
        video.height,
        video.fps,
        video.bitrate() / 1000.0,
        plan.steps,
        c.step_seconds,
        if plan.server_pid.is_none() {
            " (no --server-pid: no server figures)"
        } else {
            ""
        }
    );
    println!(
        "{:>5} {:>8} {:>8} {:>9} {:>8} {:>8} {:>8} {:>9} {:>8}",
        "subs",
        "srv cpu%",
        "rss MiB",
        "us/pkt",
        "loss%",
        "p50 ms",
        "p99 ms",
        "pkts rx",
        "load cpu%"
    );
    let outcome = run::run(target, &plan, video, audio, |s: &Step| {
        println!(
            "{:>5} {:>8.1} {:>8.1} {:>9.2} {:>8.3} {:>8.3} {:>8.3} {:>9} {:>9.1} {:>7}{}",
            s.subscribers,
            s.server_cpu_pct,
            s.server_rss_kb as f64 / 1024.0,
            s.us_per_pkt,
            s.loss_pct,
            s.rx.delay_p50_ms,
            s.rx.delay_p99_ms,
            s.rx.video_received + s.rx.audio_received,
            s.loadgen_cpu_pct,
            s.udp_rcvbuf_drops,
            s.limit
                .as_deref()
                .map(|l| format!("  <- {l}"))
                .unwrap_or_default()
        );
        if let Ok(j) = serde_json::to_string(s) {
            println!("STEP {j}");
        }
    })
    .await?;
    println!("RESULT {}", serde_json::to_string(&outcome)?);
    println!("{}", outcome.summary_line());
    Ok(())
}
