//! `classroom-control-load`: one teacher and many students over the real signaling
//! protocol against a running classroom server; prints the control-plane figures and a
//! final `RESULT {json}` line (see `classroom_loadgen::control`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use classroom_loadgen::control::{self, Outcome, Plan};
use classroom_sfu::AccessKey;

/// A class of simulated students against a classroom server: joins, teacher actions, a roll
/// call and chat, over real websockets, with the server's CPU and memory from /proc.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// The server's signaling address (host:port); the websocket is ws://ADDR/ws.
    #[arg(long)]
    addr: SocketAddr,
    /// The server's secret file, to mint personal tokens (else $CLASSROOM_SECRET).
    #[arg(long)]
    secret_file: Option<PathBuf>,
    /// The class.
    #[arg(long, default_value = "control")]
    room: String,
    /// Students.
    #[arg(long, default_value_t = 10_000)]
    students: usize,
    /// Students per task.
    #[arg(long, default_value_t = 250)]
    per_task: usize,
    /// Connections opened at once.
    #[arg(long, default_value_t = 64)]
    connect_parallel: usize,
    /// Teacher actions to time (a multiple of four).
    #[arg(long, default_value_t = 12)]
    actions: usize,
    /// Chat messages to everyone per second in the chat phase.
    #[arg(long, default_value_t = 20.0)]
    chat_rate: f64,
    /// Chat phase length, seconds.
    #[arg(long, default_value_t = 10.0)]
    chat_seconds: f64,
    /// The server's PID, for its CPU and memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Give up on joins after this long without one, seconds.
    #[arg(long, default_value_t = 30)]
    stall_secs: u64,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if cli.students == 0 || !(cli.chat_seconds > 0.0 && cli.chat_rate > 0.0) {
        bail!("--students, --chat-rate and --chat-seconds must be positive");
    }
    let secret = match &cli.secret_file {
        Some(p) => std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
        None => std::env::var("CLASSROOM_SECRET")
            .context("no --secret-file and no $CLASSROOM_SECRET")?
            .into_bytes(),
    };
    let key = AccessKey::from_secret(secret.trim_ascii()).context("the secret")?;
    let plan = Plan {
        addr: cli.addr,
        url: format!("ws://{}/ws", cli.addr),
        key,
        room: cli.room,
        students: cli.students,
        per_task: cli.per_task,
        connect_parallel: cli.connect_parallel,
        actions: cli.actions,
        chat_per_sec: cli.chat_rate,
        chat_window: Duration::from_secs_f64(cli.chat_seconds),
        server_pid: cli.server_pid,
        stall_timeout: Duration::from_secs(cli.stall_secs),
    };
    // One thread for every client: the other core is the server's.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let outcome = rt.block_on(control::run(&plan, |line| println!("  {line}")))?;
    print_report(&outcome);
    println!("RESULT {}", serde_json::to_string(&outcome)?);
    Ok(())
}

fn opt(v: Option<f64>, prec: usize) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.prec$}"))
}

fn print_report(o: &Outcome) {
    println!(
        "\nstudents joined: {} of {} (connections failed {}, closed {}, errors received {}); open-file limit {}",
        o.students, o.students_target, o.connect_failed, o.closed, o.errors, o.nofile_limit
    );
    for p in &o.problems {
        println!("  problem: {p}");
    }
    println!(
        "join: all in {:.0} ms; per student connect-to-joined p50 {:.0} ms, p95 {:.0} ms (the class admits joins through a token bucket)",
        o.join_all_ms, o.join_p50_ms, o.join_p95_ms
    );
    println!(
        "teacher action -> every student notified (sent by the teacher to read by each student):"
    );
    println!(
        "  {:<14} {:>10} {:>10} {:>10} {:>8}",
        "action", "all ms", "p50 ms", "p95 ms", "missing"
    );
    for a in &o.actions {
        println!(
            "  {:<14} {:>10} {:>10.1} {:>10.1} {:>8}",
            a.action,
            opt(a.all_ms, 1),
            a.p50_ms,
            a.p95_ms,
            a.missing
        );
    }
    println!(
        "  over all actions (roll call prompt excluded): p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        o.notify_p50_ms, o.notify_p95_ms, o.notify_p99_ms, o.notify_max_ms
    );
    println!(
        "roll call: {} answers; prompt to all {} ms; last answer sent {} ms after the start; teacher saw {} answered {} ms after the last answer ({} ms after the start; {} tallies)",
        o.rollcall_answers,
        opt(o.rollcall_prompt_all_ms, 0),
        opt(o.rollcall_answers_ms, 0),
        o.rollcall_answered_seen,
        opt(o.rollcall_all_ms, 0),
        opt(o.rollcall_from_start_ms, 0),
        o.rollcall_tallies
    );
    println!(
        "chat: {:.1} msgs/s sent for {:.1} s (texts {:.1} chars on average); each student received {:.1} chat msgs/s in {:.1} frames/s",
        o.chat_sent_per_sec,
        o.chat_seconds,
        o.chat_text_chars,
        o.chat_received_per_student_per_sec,
        o.frames_per_student_per_sec
    );
    println!(
        "  per student: {:.2} kbit/s payload, {:.2} kbit/s on the wire (websocket headers + one 52-byte TCP/IP segment and one ACK per frame, both directions); busiest student {:.2} kbit/s",
        o.kbps_payload_per_student, o.kbps_per_student, o.kbps_per_student_max
    );
    println!(
        "{:<10} {:>8} {:>12} {:>14} {:>10}",
        "phase", "secs", "server cpu%", "loadgen cpu%", "load avg"
    );
    for (name, p) in [
        ("join", o.cpu_join),
        ("notify", o.cpu_notify),
        ("roll call", o.cpu_rollcall),
        ("chat", o.cpu_chat),
    ] {
        println!(
            "{:<10} {:>8.1} {:>12} {:>14} {:>10}",
            name,
            p.seconds,
            opt(p.server_pct, 1),
            opt(p.loadgen_pct, 1),
            opt(p.load_avg, 2)
        );
    }
    println!(
        "server memory: RSS {} KiB before, {} KiB with everyone joined, {} KiB at the end: {} KiB per student",
        o.rss_kb_before.map_or("-".into(), |v| v.to_string()),
        o.rss_kb_connected.map_or("-".into(), |v| v.to_string()),
        o.rss_kb_end.map_or("-".into(), |v| v.to_string()),
        opt(o.rss_kb_per_student, 2)
    );
}
