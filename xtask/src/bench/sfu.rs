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
use crate::util::{cargo, exe, release_tool, run as run_cmd, run_tee, target_dir, which};

mod report;

use report::{Scaling, print_report};

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
        "--bin",
        "classroom-delay-floor",
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
    let mut cmd = Command::new(release_tool("classroom-fanout-bench"));
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
    println!(
        "\n== the floors: sealing and sending the same copies, and relaying one packet, nothing else =="
    );
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
        let mut cmd = Command::new(release_tool("classroom-send-floor"));
        cmd.args(&args);
        fields.extend(bench_fields(&mut cmd, "sendfloor", &args, prefix)?);
    }
    // One packet relayed at a time by a bare thread: the floor under one subscriber's added
    // delay (the system calls, the route, two idle CPUs woken).
    let mut args = vec!["--ip", &ip, "--peers-ip", &students_ip, "--packets", "300"];
    if let Some((relay, peers)) = cpus {
        args.extend(["--relay-cpu", relay, "--peers-cpu", peers]);
    }
    if let Some(ns) = net.netns {
        args.extend(["--peers-netns", ns]);
    }
    let mut cmd = Command::new(release_tool("classroom-delay-floor"));
    cmd.args(&args);
    fields.extend(bench_fields(&mut cmd, "delayfloor", &args, "delay_")?);
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

#[cfg(test)]
/// Unit tests of the report helpers.
mod tests {
    use super::report::{common_step, json_num, json_str, num};
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
