//! `cargo xtask bench control`: the class's control plane at scale. Starts the release
//! `classroom-server` as its own process and runs `classroom-control-load` against it: one
//! teacher and (by default) 10,000 students over real websockets on loopback, through joins,
//! teacher actions, a roll call and chat. Prints the figures and `BENCH control {json}`.

use std::net::{IpAddr, SocketAddr};
use std::process::{Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::sfu::{build_server_and_load, free_port, stop, wait_listening, write_secret};
use crate::args::Args;
use crate::util::{exe, run_tee};

/// Settings the bench gives the server beyond its defaults, in `--flag value` form; printed
/// with the figures. Every simulated student connects from 127.0.0.1, and the server allows
/// 64 connections per source address by default (a school's students come from their own
/// addresses), so the bench lifts that one limit; the class size and the total connection cap
/// stay at their defaults (20,000 and 16,384).
const SERVER_SETTINGS: &[&str] = &["--limit", "max_connections_per_source=20000"];

/// The 1-minute load average.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Runs the control benchmark.
pub fn run(mut args: Args) -> Result<ExitCode> {
    let students = args.number("--students", 10_000)?;
    let actions = args.number("--actions", 12)?;
    let chat_seconds = args.number("--chat-seconds", 10)?;
    let chat_rate = args.number("--chat-rate", 20)?;
    let wait_secs = args.number("--wait-secs", 0)?;
    let max_load: Option<f64> = match args.value("--max-load")? {
        Some(v) => Some(v.parse().context("--max-load takes a number")?),
        None => None,
    };
    args.finish("bench control")?;
    if students == 0 || chat_seconds == 0 || chat_rate == 0 {
        bail!("--students, --chat-seconds and --chat-rate must be at least 1");
    }
    let (bin, work) = build_server_and_load("classroom-control-load", "bench-control")?;

    if let Some(limit) = max_load {
        let until = Instant::now() + Duration::from_secs(wait_secs);
        while let Some(load) = load_average().filter(|l| *l > limit) {
            if Instant::now() >= until {
                println!("load average {load:.2} is above {limit}; measuring anyway");
                break;
            }
            println!("load average {load:.2} is above {limit}; waiting");
            thread::sleep(Duration::from_secs(10));
        }
    }
    let load_start = load_average();
    println!(
        "bench control: {students} students + 1 teacher over websockets on loopback against \
         classroom-server (release, its own process); load average {} at the start. The load \
         generator (one thread) shares this machine's {} cores with the server.",
        load_start.map_or("?".into(), |l| format!("{l:.2}")),
        thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "server settings beyond the defaults: {}",
        if SERVER_SETTINGS.is_empty() {
            "none".to_owned()
        } else {
            SERVER_SETTINGS.join(" ")
        }
    );

    let secret = work.join("secret");
    write_secret(&secret)?;
    let lo: IpAddr = [127, 0, 0, 1].into();
    let ws = SocketAddr::new(lo, free_port(false, lo)?);
    let udp = SocketAddr::new(lo, free_port(true, lo)?);
    let log_path = work.join("server.log");
    let log = std::fs::File::create(&log_path).context("server log")?;
    let mut server = Command::new(bin.join(exe("classroom-server")))
        .args([
            "serve",
            "--listen",
            &ws.to_string(),
            "--udp",
            &udp.to_string(),
        ])
        .args(SERVER_SETTINGS)
        .arg("--secret-file")
        .arg(&secret)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting classroom-server")?;
    let result = wait_listening(ws, &mut server, "classroom-server", &log_path).and_then(|()| {
        let mut load = Command::new(bin.join(exe("classroom-control-load")));
        load.args([
            "--addr",
            &ws.to_string(),
            "--server-pid",
            &server.id().to_string(),
            "--students",
            &students.to_string(),
            "--actions",
            &actions.to_string(),
            "--chat-seconds",
            &chat_seconds.to_string(),
            "--chat-rate",
            &chat_rate.to_string(),
            "--secret-file",
        ])
        .arg(&secret);
        let (status, kept) = run_tee(&mut load, |l| l.starts_with("RESULT "))?;
        if !status.success() {
            bail!("the load generator failed ({status})");
        }
        kept.iter()
            .rev()
            .find_map(|l| l.strip_prefix("RESULT "))
            .map(str::to_owned)
            .context("no RESULT line from classroom-control-load")
    });
    stop(server);
    let result = result?;
    let warnings = server_warnings(&log_path);
    if !warnings.is_empty() {
        println!(
            "server log ({}): {} warnings, first: {}",
            log_path.display(),
            warnings.len(),
            warnings.first().map_or("", String::as_str)
        );
    }
    let load_end = load_average();
    let settings = SERVER_SETTINGS.join(" ");
    let extra = format!(
        "\"load_avg_start\":{},\"load_avg_end\":{},\"server_warnings\":{},\
         \"server_settings\":\"{}\",\"loadgen_shares_machine\":true,\
         \"kbps_per_student_is\":\"wire estimate: payload + websocket headers + one 52-byte \
         TCP/IP segment and one ACK per frame, both directions\"",
        json_num(load_start),
        json_num(load_end),
        warnings.len(),
        settings.replace('"', "'"),
    );
    let json = match result.trim_end().strip_suffix('}') {
        Some(body) => format!("{body},{extra}}}"),
        None => bail!("the RESULT line is not a JSON object: {result}"),
    };
    println!("BENCH control {json}");
    Ok(ExitCode::SUCCESS)
}

fn json_num(v: Option<f64>) -> String {
    v.filter(|x| x.is_finite())
        .map_or_else(|| "null".into(), |x| format!("{x:.2}"))
}

/// The server's warning lines (a queue that overflowed, a connection it gave up on).
fn server_warnings(log: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .map(crate::util::strip_ansi)
        .collect()
}
