//! `cargo xtask bench sfu`: the same load against our server and Janus's VideoRoom, one after
//! the other in one run. Both servers are separate processes measured from /proc by the load
//! generator (`classroom-load`), which shares the machine with them. By default the load
//! generator has a network namespace of its own behind a veth pair, each side's receives
//! steered to its own CPUs (`janus::Route::Hosts`): on one kernel a datagram's delivery to its
//! reader otherwise runs in its sender's system call, and the 200 students' receiving would
//! be counted as the server's CPU.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Read;
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::janus::{self, MediaNet, Route};
use crate::args::Args;
use crate::util::{cargo, exe, run as run_cmd, run_tee, target_dir, which};

/// Options of `bench sfu`.
struct Options {
    max_subs: u64,
    step_seconds: u64,
    skip_janus: bool,
    /// Our server is measured on one thread and on this many (`--threads`).
    threads: u64,
    /// How the load generator reaches the servers (`--route hosts|local`).
    route: Route,
}

/// Runs the sfu benchmark.
pub fn run(mut args: Args) -> Result<ExitCode> {
    let opts = Options {
        max_subs: args.number("--max-subs", 200)?,
        // The load generator's clip loops every 8 s (240 frames at 30 fps) with keyframes of
        // 61, 24, 26 and 23 packets: a window of a whole loop holds each once, so the p99
        // delay (the largest keyframe's fan-out) is the same figure at every step and in
        // every run. With 5 s windows, which hold the 61-packet keyframe or not, our p99 at
        // 200 students read 29.9-78.4 ms over nine runs; with 8 s windows 27.9-39.5 over
        // twenty (session 42).
        step_seconds: args.number("--step-seconds", 8)?,
        skip_janus: args.flag("--skip-janus"),
        threads: args.number("--threads", 2)?,
        route: Route::parse(&args.value("--route")?.unwrap_or_else(|| "hosts".into()))?,
    };
    args.finish("bench sfu")?;
    if opts.max_subs == 0 || opts.step_seconds == 0 || opts.threads < 2 {
        bail!("--max-subs and --step-seconds must be at least 1, --threads at least 2");
    }
    let started = Instant::now();
    // Janus is optimized C: ours is measured as a release build too.
    let (bin, work) = build_server_and_load("classroom-load", "bench-sfu")?;

    let janus_bin = if opts.skip_janus {
        None
    } else {
        Some(janus::ensure_installed()?)
    };
    // Both servers get their media on the same address and route, so the network path is
    // equal; receives are steered as the one-thread runs are pinned.
    let pin = Pinning::for_threads(1);
    let net = MediaNet::set_up(
        opts.route,
        &pin.server.as_deref().map(cpu_list).unwrap_or_default(),
        &pin.load.as_deref().map(cpu_list).unwrap_or_default(),
    )?;
    println!(
        "bench sfu: 1 publisher (VP8 ~1.5 Mbit/s + Opus), subscribers stepping 1, 2, 5, ... up to {} \
         until a server exceeds 85% of one core or loses packets; {} s windows. The load \
         generator runs on the same machine, on CPUs of its own when there are more than the \
         server's threads.",
        opts.max_subs, opts.step_seconds
    );

    let core = bench_core(&opts)?;
    let floor = bench_floor(&net)?;
    let ours = bench_ours(&bin, &work, &net, &opts, 1, false)?;
    let ours_threads = bench_ours(&bin, &work, &net, &opts, opts.threads, false)?;
    // The app's own students (GStreamer 1.22) offer only AES-CM SRTP, not the AES-GCM the
    // load generator's peers and browsers negotiate: a per-packet HMAC-SHA1 instead.
    let ours_aes_cm = bench_ours(&bin, &work, &net, &opts, 1, true)?;
    let theirs = match &janus_bin {
        Some(j) => Some(bench_janus(j, &bin, &work, &net, &opts)?),
        None => None,
    };
    let route = net.route;
    drop(net);
    print_report(
        &ours,
        theirs.as_ref(),
        &Scaling {
            threads: opts.threads,
            ours: ours_threads,
            core,
        },
        &ours_aes_cm,
        &floor,
        route,
        started.elapsed(),
    );
    Ok(ExitCode::SUCCESS)
}

/// A port nobody listens on right now.
pub(super) fn free_port(udp: bool, ip: IpAddr) -> Result<u16> {
    let addr = SocketAddr::new(ip, 0);
    Ok(if udp {
        UdpSocket::bind(addr)?.local_addr()?.port()
    } else {
        std::net::TcpListener::bind(addr)?.local_addr()?.port()
    })
}

/// Waits until something accepts TCP connections on `addr`, or the child exits.
pub(super) fn wait_listening(
    addr: SocketAddr,
    child: &mut Child,
    what: &str,
    log: &Path,
) -> Result<()> {
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("{what} exited ({status}); see {}", log.display());
        }
        thread::sleep(Duration::from_millis(100));
    }
    bail!(
        "{what} did not listen on {addr} within 20 s; see {}",
        log.display()
    )
}

/// Stops a server child, politely first.
pub(super) fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A fresh 32-byte secret as hex, from the kernel's random source.
pub(super) fn write_secret(path: &Path) -> Result<()> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    let hex: String = bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    });
    std::fs::write(path, hex).with_context(|| format!("writing {}", path.display()))
}

/// Builds the release `classroom-server` and the load generator `load_bin` (both measured as
/// release builds), and makes the bench's work folder `target/<work>`; returns the folder of
/// the binaries and the work folder.
pub(super) fn build_server_and_load(load_bin: &str, work: &str) -> Result<(PathBuf, PathBuf)> {
    run_cmd(cargo().args([
        "build",
        "--release",
        "-p",
        "classroom-sfu",
        "-p",
        "classroom-loadgen",
        "--bin",
        "classroom-server",
        "--bin",
        load_bin,
    ]))?;
    let work = target_dir().join(work);
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    Ok((target_dir().join("release"), work))
}

/// The `SUMMARY k=v ...` line of a `classroom-load` run, as a map.
type Summary = HashMap<String, String>;

fn parse_summary(lines: &[String]) -> Option<Summary> {
    let line = lines.iter().rev().find(|l| l.starts_with("SUMMARY "))?;
    Some(
        line.split_whitespace()
            .skip(1)
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    )
}

/// The CPUs the server under test and the load generator run on (`taskset` lists). When the
/// machine has more CPUs than the server has threads, each gets its own: the server the last
/// ones, the load generator the rest, as in a school where the students' computers are
/// elsewhere. Sharing every CPU, the scheduler put the server's thread where the load generator
/// was busy and its wake-ups waited: with one subscriber the added delay's p50 was 0.30-0.35 ms
/// unpinned and 0.15-0.23 ms pinned on a 2-core machine, while the server's own work per
/// datagram was 15-30 µs. Janus is pinned as our one-thread server is.
#[derive(Clone, Default)]
struct Pinning {
    server: Option<String>,
    load: Option<String>,
}

impl Pinning {
    fn for_threads(threads: u64) -> Pinning {
        let allowed = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                    .map(cpu_list)
            })
            .unwrap_or_default();
        let threads = threads as usize;
        if allowed.len() <= threads || which("taskset").is_none() {
            return Pinning::default();
        }
        let (load, server) = allowed.split_at(allowed.len() - threads);
        let join = |cpus: &[u32]| {
            cpus.iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        Pinning {
            server: Some(join(server)),
            load: Some(join(load)),
        }
    }

    /// `program` to run on the server's CPUs (`server`) or the load generator's (in the load
    /// generator's network namespace when the route gives it one).
    fn command(&self, program: &Path, server: bool, net: &MediaNet) -> Command {
        let mut words: Vec<&std::ffi::OsStr> = Vec::new();
        if let (false, Some(ns)) = (server, net.netns) {
            words.extend(["ip", "netns", "exec", ns].map(std::ffi::OsStr::new));
        }
        if let Some(cpus) = if server { &self.server } else { &self.load } {
            words.extend(["taskset", "-c", cpus].map(std::ffi::OsStr::new));
        }
        words.push(program.as_os_str());
        let mut cmd = Command::new(words[0]);
        cmd.args(&words[1..]);
        cmd
    }

    fn describe(&self) -> String {
        match (&self.server, &self.load) {
            (Some(s), Some(l)) => format!("server on CPU {s}, load generator on CPU {l}"),
            _ => "server and load generator share every CPU".into(),
        }
    }
}

/// A kernel CPU list (`0-3,8,10-11`) as the CPUs in it.
fn cpu_list(list: &str) -> Vec<u32> {
    list.trim()
        .split(',')
        .filter_map(|part| match part.split_once('-') {
            Some((a, b)) => Some((a.trim().parse().ok()?..=b.trim().parse().ok()?).collect()),
            None => part.trim().parse().ok().map(|c| vec![c]),
        })
        .flatten()
        .collect()
}

fn load_cmd(bin: &Path, pid: u32, net: &MediaNet, opts: &Options, pin: &Pinning) -> Command {
    let mut cmd = pin.command(&bin.join(exe("classroom-load")), false, net);
    cmd.args([
        "--server-pid",
        &pid.to_string(),
        "--max-subs",
        &opts.max_subs.to_string(),
        "--step-seconds",
        &opts.step_seconds.to_string(),
        "--bind-ip",
        &net.students_ip.to_string(),
    ]);
    cmd
}

fn run_load(mut cmd: Command, what: &str) -> Result<Summary> {
    let (status, kept) = run_tee(&mut cmd, |l| l.starts_with("SUMMARY "))?;
    if !status.success() {
        bail!("the load generator failed against {what} ({status})");
    }
    parse_summary(&kept).with_context(|| format!("no SUMMARY line from the run against {what}"))
}

/// The core's own cost per copy on one thread and on `--threads` (`classroom-fanout-bench`:
/// no sockets, no load generator beside it): its `BENCH` line's fields.
fn bench_core(opts: &Options) -> Result<Summary> {
    println!(
        "\n== ours: the core alone, 1 and {} threads ==",
        opts.threads
    );
    run_cmd(cargo().args([
        "build",
        "--release",
        "-p",
        "classroom-loadgen",
        "--bin",
        "classroom-fanout-bench",
        "--bin",
        "classroom-send-floor",
    ]))?;
    // 200 students, on one thread and on `--threads`, one packet a turn.
    let threads = format!("1,{}", opts.threads);
    let mut fields = fanout_run(&["--threads", &threads], "")?;
    // A keyframe's burst: 8 packets arriving together, handed to the core together as the
    // driver does with what one `recvmmsg` took.
    fields.extend(fanout_run(
        &["--threads", &threads, "--burst", "8"],
        "burst8_",
    )?);
    // One thread asleep 5 ms between turns, as the server's waits for a stream's next packet
    // at 200 students: what the machine leaves of the core's state in its caches meanwhile.
    let idle = ["--threads", "1", "--packets", "300", "--idle-us", "5000"];
    fields.extend(fanout_run(&idle, "idle5ms_")?);
    Ok(fields)
}

/// One run of the release `classroom-fanout-bench` with 200 students and `args`: its
/// `BENCH fanout` fields, each name prefixed with `prefix`.
fn fanout_run(args: &[&str], prefix: &str) -> Result<Summary> {
    let mut cmd = Command::new(
        target_dir()
            .join("release")
            .join(exe("classroom-fanout-bench")),
    );
    cmd.args(["--students", "200"]).args(args);
    bench_fields(&mut cmd, "fanout", args, prefix)
}

/// Runs `cmd` (a release tool given `args`) and returns the fields of its last
/// `BENCH <name> {json}` line, each name prefixed with `prefix`.
fn bench_fields(cmd: &mut Command, name: &str, args: &[&str], prefix: &str) -> Result<Summary> {
    let tag = format!("BENCH {name} ");
    let (status, kept) = run_tee(cmd, |l| l.starts_with("BENCH "))?;
    if !status.success() {
        bail!("the {name} bench {} failed ({status})", args.join(" "));
    }
    let line = kept
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix(&tag))
        .with_context(|| format!("no BENCH {name} line"))?;
    let fields: HashMap<String, serde_json::Value> =
        serde_json::from_str(line).with_context(|| format!("the BENCH {name} line"))?;
    Ok(fields
        .into_iter()
        .map(|(k, v)| (format!("{prefix}{k}"), v.to_string()))
        .collect())
}

/// The floor under the load run's CPU per packet (`classroom-send-floor`): the same
/// datagrams for 200 students sealed with the server's AES-GCM and sent with the server's
/// system calls over the media route, with nothing of an SFU, the sender on the server's CPU
/// and the students' thread on the load generator's, asleep 5 ms between turns as the server
/// is at 200.
fn bench_floor(net: &MediaNet) -> Result<Summary> {
    println!("\n== the send floor: sealing and sending the same copies, nothing else ==");
    let pin = Pinning::for_threads(1);
    let (ip, students_ip) = (net.ip.to_string(), net.students_ip.to_string());
    // The first of the server's CPUs for the sender, of the load generator's for the students.
    fn first(cpus: Option<&str>) -> Option<&str> {
        cpus.and_then(|c| c.split(',').next())
    }
    let cpus = first(pin.server.as_deref()).zip(first(pin.load.as_deref()));
    let mut fields = Summary::new();
    // A copy of a 1,200-byte packet alone, a camera frame's five to a student in one GSO
    // message, and an Opus packet (160 bytes sealed) alone.
    for (burst, size, prefix) in [
        ("1", "1200", "burst1_"),
        ("5", "1200", "burst5_"),
        ("1", "160", "audio_"),
    ] {
        let mut args = vec![
            "--students",
            "200",
            "--ip",
            &ip,
            "--students-ip",
            &students_ip,
            "--burst",
            burst,
            "--size",
            size,
        ];
        if let Some((sender, receiver)) = cpus {
            args.extend(["--sender-cpu", sender, "--receiver-cpu", receiver]);
        }
        if let Some(ns) = net.netns {
            args.extend(["--students-netns", ns]);
        }
        let mut cmd = Command::new(
            target_dir()
                .join("release")
                .join(exe("classroom-send-floor")),
        );
        cmd.args(&args);
        fields.extend(bench_fields(&mut cmd, "sendfloor", &args, prefix)?);
    }
    Ok(fields)
}

fn bench_ours(
    bin: &Path,
    work: &Path,
    net: &MediaNet,
    opts: &Options,
    threads: u64,
    srtp_aes_cm: bool,
) -> Result<Summary> {
    let srtp = if srtp_aes_cm {
        ", students offering only AES-CM SRTP (as the app's)"
    } else {
        ""
    };
    println!("\n== ours: classroom-server (release), {threads} thread(s){srtp} ==");
    let secret = work.join("secret");
    write_secret(&secret)?;
    // Signaling on the media address too: the load generator may be in its own namespace.
    let ws = SocketAddr::new(net.ip, free_port(false, net.ip)?);
    let udp = SocketAddr::new(net.ip, free_port(true, net.ip)?);
    let log_path = work.join("ours-server.log");
    let log = std::fs::File::create(&log_path).context("server log")?;
    let pin = Pinning::for_threads(threads);
    println!("{}", pin.describe());
    let mut server = pin
        .command(&bin.join(exe("classroom-server")), true, net)
        .args([
            "serve",
            "--listen",
            &ws.to_string(),
            "--udp",
            &udp.to_string(),
        ])
        .arg("--secret-file")
        .arg(&secret)
        // Every simulated student connects from the load generator's one address: the
        // per-address cap that stops one hostile machine (64) would stop the bench at 63.
        .args(["--limit", "max_connections_per_source=4096"])
        .args(["--threads", &threads.to_string()])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting classroom-server")?;
    let result = wait_listening(ws, &mut server, "classroom-server", &log_path).and_then(|()| {
        let mut cmd = load_cmd(bin, server.id(), net, opts, &pin);
        // A server on N threads may use N cores before it counts as full.
        cmd.args(["--cpu-limit", &format!("{:.2}", 0.85 * threads as f64)]);
        if srtp_aes_cm {
            cmd.arg("--srtp-aes-cm");
        }
        cmd.args(["ours", "--url", &format!("ws://{ws}/ws"), "--secret-file"])
            .arg(&secret);
        run_load(cmd, "ours")
    });
    stop(server);
    result
}

fn bench_janus(
    janus_bin: &Path,
    bin: &Path,
    work: &Path,
    net: &MediaNet,
    opts: &Options,
) -> Result<Summary> {
    println!("\n== Janus VideoRoom ({}) ==", janus_bin.display());
    let dir: PathBuf = work.join("janus");
    let port = free_port(false, net.ip)?;
    janus::write_config(&dir, port, net)?;
    let pin = Pinning::for_threads(1);
    println!("{}", pin.describe());
    let mut child = janus::spawn(pin.command(janus_bin, true, net), janus_bin, &dir)?;
    let log = dir.join("janus.log");
    let result =
        wait_listening(SocketAddr::new(net.ip, port), &mut child, "janus", &log).and_then(|()| {
            let mut cmd = load_cmd(bin, child.id(), net, opts, &pin);
            cmd.args(["janus", "--url", &format!("ws://{}:{port}", net.ip)]);
            run_load(cmd, "Janus")
        });
    stop(child);
    result
}

fn num(s: Option<&Summary>, key: &str) -> Option<f64> {
    s?.get(key)?.parse().ok()
}

/// `cpu_by_subs=1:1.4,2:2.0,...` as (subscribers, CPU %) pairs.
fn cpu_by_subs(s: Option<&Summary>) -> Vec<(u64, f64)> {
    s.and_then(|s| s.get("cpu_by_subs"))
        .map(|v| {
            v.split(',')
                .filter_map(|p| p.split_once(':'))
                .filter_map(|(n, c)| Some((n.parse().ok()?, c.parse().ok()?)))
                .collect()
        })
        .unwrap_or_default()
}

/// The largest subscriber count both runs reached within limits, with each server's CPU there.
fn common_step(a: &[(u64, f64)], b: &[(u64, f64)]) -> Option<(u64, f64, f64)> {
    a.iter()
        .filter_map(|&(n, ca)| b.iter().find(|&&(m, _)| m == n).map(|&(_, cb)| (n, ca, cb)))
        .max_by_key(|&(n, _, _)| n)
}

fn json_num(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.3}"),
        _ => "null".into(),
    }
}

fn json_str(v: Option<&String>) -> String {
    match v {
        Some(s) => format!(
            "\"{}\"",
            s.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('_', " ")
        ),
        None => "null".into(),
    }
}

/// Our server on more than one thread: the load run and the core alone.
struct Scaling {
    threads: u64,
    ours: Summary,
    core: Summary,
}

fn print_report(
    ours: &Summary,
    janus: Option<&Summary>,
    scaling: &Scaling,
    aes_cm: &Summary,
    floor: &Summary,
    route: Route,
    took: Duration,
) {
    let o = Some(ours);
    let cell = |v: Option<f64>, prec: usize| match v {
        Some(x) => format!("{x:.prec$}"),
        None => "-".into(),
    };
    let ratio = match (
        num(o, "subs_per_core"),
        num(janus, "subs_per_core").filter(|&j| j > 0.0),
    ) {
        (Some(a), Some(b)) => Some(a / b),
        _ => None,
    };
    println!("\n== bench sfu: ours vs Janus, same load, same machine ==");
    println!(
        "{:<34} {:>12} {:>12} {:>16}",
        "figure (at the last step within limits)", "ours", "janus", "target (ours)"
    );
    let rows: [(&str, &str, usize, &str); 13] = [
        ("subscribers reached", "last_good_subs", 0, ""),
        ("server CPU, % of one core", "cpu_pct", 1, ""),
        ("server CPU us per video pkt out", "us_per_pkt", 2, "<= 3"),
        ("subscribers per core", "subs_per_core", 1, ">= 5x janus"),
        ("added latency p50, ms", "p50_ms", 3, ""),
        ("added latency p99, ms", "p99_ms", 3, "<= 10 at 200"),
        ("  of large frames' packets", "p99_ms_large_frames", 3, ""),
        ("  of the other packets", "p99_ms_other", 3, ""),
        (
            "  large frames' share of copies, %",
            "large_frame_copies_pct",
            2,
            "",
        ),
        ("added latency p50, ms, 1 sub", "p50_ms_1sub", 3, "<= 0.2"),
        ("added latency p99, ms, 1 sub", "p99_ms_1sub", 3, "<= 1"),
        ("loss, %", "loss_pct", 3, ""),
        (
            "server RSS per subscriber, KiB",
            "rss_kb_per_sub",
            1,
            "<= 100",
        ),
    ];
    for (label, key, prec, target) in rows {
        println!(
            "{:<34} {:>12} {:>12} {:>16}",
            label,
            cell(num(o, key), prec),
            cell(num(janus, key), prec),
            target
        );
    }
    let common = common_step(&cpu_by_subs(o), &cpu_by_subs(janus));
    if let Some((n, a, b)) = common {
        println!(
            "{:<34} {:>12.1} {:>12.1}    (janus/ours: {:.2}x)",
            format!("server CPU % at {n} subscribers"),
            a,
            b,
            if a > 0.0 { b / a } else { 0.0 }
        );
    }
    println!(
        "{:<34} {:>12} {:>12}",
        "load generator CPU, % of one core",
        cell(num(o, "loadgen_cpu_pct"), 1),
        cell(num(janus, "loadgen_cpu_pct"), 1)
    );
    println!(
        "{:<34} {:>12} {:>12}",
        "run stopped by",
        ours.get("stop").map_or("-".into(), |s| s.replace('_', " ")),
        janus
            .and_then(|j| j.get("stop"))
            .map_or("-".into(), |s| s.replace('_', " "))
    );
    let t = scaling.threads;
    let o2 = Some(&scaling.ours);
    let core = Some(&scaling.core);
    println!("\n== ours on {t} threads ==");
    println!(
        "{:<34} {:>12} {:>12}",
        "figure",
        "1 thread",
        format!("{t} threads")
    );
    for (label, one, many, prec) in [
        (
            "core alone: ns per copy, 200 subs",
            num(core, "core_ns_per_copy_1_threads"),
            num(core, &format!("core_ns_per_copy_{t}_threads")),
            0,
        ),
        (
            "core alone: ns/copy, bursts of 8",
            num(core, "burst8_core_ns_per_copy_1_threads"),
            num(core, &format!("burst8_core_ns_per_copy_{t}_threads")),
            0,
        ),
        (
            "load run: subscribers per core",
            num(o, "subs_per_core"),
            num(o2, "subs_per_core"),
            1,
        ),
        (
            "load run: subscribers reached",
            num(o, "last_good_subs"),
            num(o2, "last_good_subs"),
            0,
        ),
        (
            "load run: latency p99, ms",
            num(o, "p99_ms"),
            num(o2, "p99_ms"),
            3,
        ),
    ] {
        println!(
            "{:<34} {:>12} {:>12}",
            label,
            cell(one, prec),
            cell(many, prec)
        );
    }
    println!(
        "core speed-up on {t} threads: {} (the same work, wall time; the load run shares \
         the machine's 2 cores with the load generator, which receives every copy)",
        cell(num(core, &format!("core_speedup_{t}_threads")), 2)
    );
    println!(
        "core alone, 1 thread, asleep 5 ms between turns: {} ns per copy (the state a stream's \
         next packet finds left in the caches, as in the load run at 200)",
        cell(num(core, "idle5ms_core_ns_per_copy_1_threads"), 0)
    );
    let cm = Some(aes_cm);
    println!(
        "\n== ours, 1 thread: SRTP as browsers (AES-GCM) and as the app's students (AES-CM) =="
    );
    for (label, key, prec) in [
        ("server CPU us per video pkt out", "us_per_pkt", 2),
        ("subscribers per core", "subs_per_core", 1),
        ("latency p99, ms", "p99_ms", 3),
    ] {
        println!(
            "{:<34} {:>12} {:>12}",
            label,
            cell(num(o, key), prec),
            cell(num(cm, key), prec)
        );
    }
    let fl = Some(floor);
    let floor_us = |prefix: &str| num(fl, &format!("{prefix}ns_per_datagram")).map(|n| n / 1000.0);
    println!(
        "\n== the send floor: 200 students' copies sealed (AES-GCM) and sent, nothing else, asleep \
         5 ms between turns =="
    );
    for (label, prefix) in [
        ("one datagram per student a turn", "burst1_"),
        ("five in one GSO message each", "burst5_"),
        ("an audio packet (160 B) alone", "audio_"),
    ] {
        println!(
            "{:<34} {:>8} us per datagram (system {} us)",
            label,
            cell(floor_us(prefix), 2),
            cell(
                num(fl, &format!("{prefix}ns_sys_per_datagram")).map(|n| n / 1000.0),
                2
            )
        );
    }
    // The load run's mix: its video copies go in GSO messages of a frame's packets, its
    // audio copies alone, and `us_per_pkt` divides the CPU of both by the video packets.
    let floor_mix = floor_us("burst5_")
        .zip(floor_us("audio_"))
        .zip(num(o, "audio_per_video"))
        .map(|((video, audio), per)| video + per * audio);
    println!(
        "{:<34} {:>8} us per video packet (five per GSO message, plus {} audio copies alone \
         per video copy)",
        "the load run's mix",
        cell(floor_mix, 2),
        cell(num(o, "audio_per_video"), 3)
    );
    println!(
        "ours, 1 thread, load run: {} us per video packet, {} us of it above the floor",
        cell(num(o, "us_per_pkt"), 2),
        cell(num(o, "us_per_pkt").zip(floor_mix).map(|(a, b)| a - b), 2)
    );
    println!(
        "subscribers per core = subscribers reached / server CPU fraction at that step (extrapolated \
         when the run ended at --max-subs before 85%); us per packet = all server CPU in the \
         window / video packets subscribers received (audio, RTCP and ingest included, so an upper \
         bound); latency = publisher socket send to subscriber socket receive of the same payload, \
         both in the load generator, on the same machine. Route: {}. Took {:.0} s.",
        match route {
            Route::Hosts =>
                "as between hosts (the load generator in its own network namespace, \
                             each side's receives on its own CPUs)",
            Route::Local => "one local address (the students' receives charged to the server)",
        },
        took.as_secs_f64()
    );
    let json = format!(
        "{{\"us_per_pkt_ours\":{},\"us_per_pkt_janus\":{},\"subs_per_core_ours\":{},\
         \"subs_per_core_janus\":{},\"subs_per_core_ratio\":{},\"added_latency_p50_ms\":{},\
         \"added_latency_p99_ms\":{},\"loss_pct\":{},\"rss_kb_per_sub\":{},\
         \"added_latency_p50_ms_janus\":{},\"added_latency_p99_ms_janus\":{},\"loss_pct_janus\":{},\
         \"rss_kb_per_sub_janus\":{},\"subs_reached_ours\":{},\"subs_reached_janus\":{},\
         \"cpu_pct_ours\":{},\"cpu_pct_janus\":{},\"common_subs\":{},\"cpu_pct_common_ours\":{},\
         \"cpu_pct_common_janus\":{},\"stop_ours\":{},\"stop_janus\":{},\
         \"added_latency_p50_ms_1sub\":{},\"added_latency_p99_ms_1sub\":{},\
         \"added_latency_p50_ms_1sub_janus\":{},\"added_latency_p99_ms_1sub_janus\":{},\
         \"threads\":{},\"subs_per_core_2_threads\":{},\"subs_reached_2_threads\":{},\
         \"added_latency_p50_ms_2_threads\":{},\"added_latency_p99_ms_2_threads\":{},\
         \"core_ns_per_copy_1_thread\":{},\"core_ns_per_copy_2_threads\":{},\
         \"core_speedup_2_threads\":{},\"us_per_pkt_ours_aes_cm\":{},\
         \"subs_per_core_ours_aes_cm\":{},\"added_latency_p99_ms_aes_cm\":{},\
         \"core_ns_per_copy_burst8_1_thread\":{},\"core_ns_per_copy_burst8_2_threads\":{},\
         \"core_ns_per_copy_idle5ms_1_thread\":{},\"send_floor_us_per_pkt_1by1\":{},\
         \"send_floor_us_per_pkt_gso5\":{},\"send_floor_us_per_video_pkt_mix\":{},\
         \"loadgen_shares_machine\":true,\"pinned_1_thread\":{},\"route\":\"{}\",\
         \"added_latency_p99_ms_large_frames\":{},\"added_latency_p99_ms_other\":{},\
         \"large_frame_copies_pct\":{}}}",
        json_num(num(o, "us_per_pkt")),
        json_num(num(janus, "us_per_pkt")),
        json_num(num(o, "subs_per_core")),
        json_num(num(janus, "subs_per_core")),
        json_num(ratio),
        json_num(num(o, "p50_ms")),
        json_num(num(o, "p99_ms")),
        json_num(num(o, "loss_pct")),
        json_num(num(o, "rss_kb_per_sub")),
        json_num(num(janus, "p50_ms")),
        json_num(num(janus, "p99_ms")),
        json_num(num(janus, "loss_pct")),
        json_num(num(janus, "rss_kb_per_sub")),
        json_num(num(o, "last_good_subs")),
        json_num(num(janus, "last_good_subs")),
        json_num(num(o, "cpu_pct")),
        json_num(num(janus, "cpu_pct")),
        json_num(common.map(|c| c.0 as f64)),
        json_num(common.map(|c| c.1)),
        json_num(common.map(|c| c.2)),
        json_str(ours.get("stop")),
        json_str(janus.and_then(|j| j.get("stop"))),
        json_num(num(o, "p50_ms_1sub")),
        json_num(num(o, "p99_ms_1sub")),
        json_num(num(janus, "p50_ms_1sub")),
        json_num(num(janus, "p99_ms_1sub")),
        t,
        json_num(num(o2, "subs_per_core")),
        json_num(num(o2, "last_good_subs")),
        json_num(num(o2, "p50_ms")),
        json_num(num(o2, "p99_ms")),
        json_num(num(core, "core_ns_per_copy_1_threads")),
        json_num(num(core, &format!("core_ns_per_copy_{t}_threads"))),
        json_num(num(core, &format!("core_speedup_{t}_threads"))),
        json_num(num(cm, "us_per_pkt")),
        json_num(num(cm, "subs_per_core")),
        json_num(num(cm, "p99_ms")),
        json_num(num(core, "burst8_core_ns_per_copy_1_threads")),
        json_num(num(core, &format!("burst8_core_ns_per_copy_{t}_threads"))),
        json_num(num(core, "idle5ms_core_ns_per_copy_1_threads")),
        json_num(floor_us("burst1_")),
        json_num(floor_us("burst5_")),
        json_num(floor_mix),
        Pinning::for_threads(1).server.is_some(),
        route.name(),
        json_num(num(o, "p99_ms_large_frames")),
        json_num(num(o, "p99_ms_other")),
        json_num(num(o, "large_frame_copies_pct")),
    );
    println!("BENCH sfu {json}");
}

#[cfg(test)]
/// Unit tests of the report helpers.
mod tests {
    use super::*;

    #[test]
    fn cpu_masks_are_written_as_the_kernel_reads_them() {
        assert_eq!(janus::cpu_mask(&[1]), "00000002");
        assert_eq!(janus::cpu_mask(&[0, 3]), "00000009");
        assert_eq!(janus::cpu_mask(&[0, 33]), "00000002,00000001");
        assert_eq!(janus::cpu_mask(&[]), "00000000");
    }

    #[test]
    fn cpu_lists_read_as_the_kernel_writes_them() {
        assert_eq!(cpu_list("0-1\n"), vec![0, 1]);
        assert_eq!(cpu_list("0-3,8,10-11"), vec![0, 1, 2, 3, 8, 10, 11]);
        assert_eq!(cpu_list("5"), vec![5]);
        assert!(cpu_list("").is_empty());
        assert!(cpu_list("x-1").is_empty());
    }

    /// The loadgen's SUMMARY line becomes a map; the last one wins.
    #[test]
    fn parses_the_summary_line() {
        let lines = vec![
            "noise".to_owned(),
            "SUMMARY server=ours us_per_pkt=2.50 stop=max-subs".to_owned(),
        ];
        let s = parse_summary(&lines).expect("summary");
        assert_eq!(num(Some(&s), "us_per_pkt"), Some(2.5));
        assert_eq!(s.get("stop").map(String::as_str), Some("max-subs"));
        assert!(parse_summary(&["x".to_owned()]).is_none());
        assert_eq!(json_num(None), "null");
        assert_eq!(json_str(Some(&"a_\"b".to_owned())), "\"a \\\"b\"");
        let a = vec![(1, 1.0), (50, 14.0), (100, 27.0)];
        let b = vec![(1, 1.5), (50, 30.0)];
        assert_eq!(common_step(&a, &b), Some((50, 14.0, 30.0)));
        assert_eq!(common_step(&a, &[]), None);
    }
}
