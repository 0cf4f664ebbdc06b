//! `classroom-flood`: the flood benchmark (`cargo xtask bench flood`). A teacher and two
//! students in a class on a classroom server in a child process (this same binary, run as
//! `classroom-flood server`), while garbage datagrams and spoofed DTLS ClientHellos hit the
//! media port and idle TCP connections sit on the signaling port. Prints the students' frame
//! rate before/during/after and the server's memory before/after, and ends with
//! `BENCH flood {json}`. Measures; asserts nothing about speed (the heavy test does the
//! survival checks).

use anyhow::Context;
use classroom_tests::flood::{self, FloodOptions};

fn number(args: &[String], name: &str, default: u64) -> anyhow::Result<u64> {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .with_context(|| format!("{name} needs a value"))?
            .parse()
            .with_context(|| format!("{name} takes a whole number")),
        None => Ok(default),
    }
}

// The server's allocator, as classroom-server declares it: the memory figures are the
// product's.
#[global_allocator]
static ALLOCATOR: classroom_sfu::ServerAllocator = classroom_sfu::ServerAllocator;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("server") {
        // One thread, as the standalone classroom-server runs.
        return tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(flood::serve());
    }
    let d = FloodOptions::default();
    let opts = FloodOptions {
        seconds: number(&args, "--seconds", d.seconds)?,
        garbage_per_second: u32::try_from(number(
            &args,
            "--garbage",
            u64::from(d.garbage_per_second),
        )?)?,
        hellos_per_second: u32::try_from(number(
            &args,
            "--hellos",
            u64::from(d.hellos_per_second),
        )?)?,
        idle_connections: usize::try_from(number(&args, "--idle", d.idle_connections as u64)?)?,
    };
    classroom_media::init().context("GStreamer (run `cargo xtask deps`)")?;
    let exe = std::env::current_exe()?;
    let report = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(flood::run(&exe, &opts))?;
    let fmt = |v: &[f64]| {
        v.iter()
            .map(|f| format!("{f:.1}"))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    println!();
    println!(
        "flood for {} s: {} garbage datagrams/s, {} ClientHellos/s, {} idle connections",
        opts.seconds, opts.garbage_per_second, opts.hellos_per_second, opts.idle_connections
    );
    println!(
        "  students' camera fps  before {}  during {}  after {}",
        fmt(&report.fps_before),
        fmt(&report.fps_during),
        fmt(&report.fps_after)
    );
    println!(
        "  server memory        before {} KiB  peak {} KiB  after {} KiB",
        report.rss_before_kib, report.rss_peak_kib, report.rss_after_kib
    );
    println!(
        "  sent                 {} garbage, {} ClientHellos; {} idle connections opened, {} closed by the server, {} left open",
        report.garbage_sent,
        report.hellos_sent,
        report.idle_opened,
        report.idle_closed_by_server,
        report.idle_left_open
    );
    for (k, v) in &report.server_metrics {
        println!("  server {k} = {v}");
    }
    println!("  server alive: {}", report.server_alive);
    println!("BENCH flood {}", serde_json::to_string(&report)?);
    Ok(())
}
