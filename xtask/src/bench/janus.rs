//! Janus for `bench sfu`: installed from Debian's packages when missing, configured with only
//! the VideoRoom plugin and the websocket transport, and the local address media uses.
//!
//! libnice, Janus's ICE agent, never gathers loopback addresses (Janus skips `lo` even when
//! `ice_enforce_list = "lo"`), so an ICE session with Janus cannot run on 127.0.0.1. The bench
//! gives both servers another address instead: 10.77.0.1 on a virtual interface `cl0`. On the
//! hosts route (the default, [`Route::Hosts`]) the load generator has a network namespace of
//! its own at the other end of a veth pair, as the students' computers would be; on the local
//! route `cl0` is a dummy interface (or one end of a veth pair where the dummy module is
//! missing) in the server's namespace, and traffic between two sockets on a local address
//! never leaves the kernel: it takes the same loopback path as 127.0.0.1.

use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::util::{output, which};

/// How the load generator's traffic reaches the server under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// As between separate hosts: the load generator in a network namespace of its own
    /// (`clstudents`, 10.77.0.2 on `cl1`) joined to the server's `cl0` (10.77.0.1) by a veth
    /// pair, each end's receive processing steered (RPS) to its own side's CPUs. On one
    /// kernel the receiving side's half of a datagram's delivery (IP and UDP receive, the
    /// socket's queue, GSO segmentation, waking the reader) otherwise runs in the *sender's*
    /// system call on the sender's CPU: the students' work charged to the server, which a
    /// network card and the students' own computers take in a school.
    Hosts,
    /// Both on one local address (the route before session 55): every datagram's delivery to
    /// its reader is charged to its sender.
    Local,
}

impl Route {
    pub fn parse(s: &str) -> Result<Route> {
        match s {
            "hosts" => Ok(Route::Hosts),
            "local" => Ok(Route::Local),
            _ => bail!("--route is `hosts` (the default) or `local`, not `{s}`"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Route::Hosts => "hosts",
            Route::Local => "local",
        }
    }
}

/// The interface and addresses media runs on.
pub struct MediaNet {
    /// The server's interface, for Janus's `ice_enforce_list`.
    pub iface: String,
    /// The address servers bind to (media and signaling).
    pub ip: IpAddr,
    /// The address the load generator's peers bind to (`ip` on the local route).
    pub students_ip: IpAddr,
    /// The load generator's network namespace (the hosts route).
    pub netns: Option<&'static str>,
    /// The route taken (the hosts route falls back to the local one where it cannot be made).
    pub route: Route,
    /// True when this run created the interface (and removes it at the end).
    created: bool,
}

const IFACE: &str = "cl0";
const PEER_IFACE: &str = "cl1";
const ADDR: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const STUDENTS_ADDR: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const NETNS: &str = "clstudents";

fn ip_cmd(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A kernel CPU mask (`rps_cpus`) of `cpus`: hex words of 32 CPUs, the highest first,
/// separated by commas.
pub fn cpu_mask(cpus: &[u32]) -> String {
    let words = cpus.iter().map(|c| c / 32 + 1).max().unwrap_or(1) as usize;
    let mut mask = vec![0u32; words];
    for &c in cpus {
        mask[(c / 32) as usize] |= 1 << (c % 32);
    }
    mask.iter()
        .rev()
        .map(|w| format!("{w:08x}"))
        .collect::<Vec<_>>()
        .join(",")
}

impl MediaNet {
    /// The media route: the hosts route when `route` asks for it and this machine can make it
    /// (root, network namespaces, veth), receives steered to `server_cpus` on the server's side
    /// and to `load_cpus` on the load generator's (none: where the kernel runs them, the
    /// sender's CPU); else the local one.
    pub fn set_up(route: Route, server_cpus: &[u32], load_cpus: &[u32]) -> Result<MediaNet> {
        if route == Route::Hosts {
            match Self::hosts(server_cpus, load_cpus) {
                Ok(net) => return Ok(net),
                Err(e) => println!(
                    "bench sfu: the hosts route could not be made ({e:#}); media on a local \
                     address, where each datagram's delivery is charged to its sender"
                ),
            }
        }
        Self::local()
    }

    fn hosts(server_cpus: &[u32], load_cpus: &[u32]) -> Result<MediaNet> {
        // Leftovers of a run that did not end cleanly go first: the names are the bench's.
        ip_cmd(&["link", "del", IFACE]);
        ip_cmd(&["netns", "del", NETNS]);
        if !ip_cmd(&["netns", "add", NETNS]) {
            bail!("`ip netns add {NETNS}` failed (not root, or no iproute2)");
        }
        let net = MediaNet {
            iface: IFACE.into(),
            ip: IpAddr::V4(ADDR),
            students_ip: IpAddr::V4(STUDENTS_ADDR),
            netns: Some(NETNS),
            route: Route::Hosts,
            created: true,
        };
        let (server_cidr, students_cidr) = (format!("{ADDR}/24"), format!("{STUDENTS_ADDR}/24"));
        let steps: [&[&str]; 6] = [
            &[
                "link", "add", IFACE, "type", "veth", "peer", "name", PEER_IFACE, "netns", NETNS,
            ],
            &["addr", "add", &server_cidr, "dev", IFACE],
            &["link", "set", IFACE, "up"],
            &[
                "-n",
                NETNS,
                "addr",
                "add",
                &students_cidr,
                "dev",
                PEER_IFACE,
            ],
            &["-n", NETNS, "link", "set", PEER_IFACE, "up"],
            &["-n", NETNS, "link", "set", "lo", "up"],
        ];
        for step in steps {
            if !ip_cmd(step) {
                bail!("`ip {}` failed", step.join(" "));
            }
        }
        // Each side's receives on its own CPUs, as on two machines.
        if !server_cpus.is_empty() {
            let path = format!("/sys/class/net/{IFACE}/queues/rx-0/rps_cpus");
            fs::write(&path, cpu_mask(server_cpus)).with_context(|| format!("writing {path}"))?;
        }
        if !load_cpus.is_empty() {
            // The namespace's own sysfs, which `ip netns exec` mounts.
            let script = format!(
                "echo {} > /sys/class/net/{PEER_IFACE}/queues/rx-0/rps_cpus",
                cpu_mask(load_cpus)
            );
            if !ip_cmd(&["netns", "exec", NETNS, "sh", "-c", &script]) {
                bail!("steering {PEER_IFACE}'s receives (rps_cpus) failed");
            }
        }
        println!(
            "bench sfu: media between hosts: the server on {ADDR} ({IFACE}), the load generator \
             in network namespace {NETNS} on {STUDENTS_ADDR} ({PEER_IFACE}), a veth pair between; \
             receives steered to the receiver's CPUs (server {}, load generator {})",
            if server_cpus.is_empty() {
                "unsteered".into()
            } else {
                cpu_mask(server_cpus)
            },
            if load_cpus.is_empty() {
                "unsteered".into()
            } else {
                cpu_mask(load_cpus)
            },
        );
        Ok(net)
    }

    /// `cl0` with 10.77.0.1, made if missing (needs root and iproute2). Falls back to the
    /// first non-loopback IPv4 address of the machine, which is as local to the kernel.
    fn local() -> Result<MediaNet> {
        let has_addr = || {
            output("ip", &["-4", "-o", "addr", "show", "dev", IFACE])
                .is_some_and(|o| o.contains(&format!("inet {ADDR}/")))
        };
        let net = |iface: String, ip: IpAddr, created: bool| MediaNet {
            iface,
            ip,
            students_ip: ip,
            netns: None,
            route: Route::Local,
            created,
        };
        if has_addr() {
            return Ok(net(IFACE.into(), IpAddr::V4(ADDR), false));
        }
        let made = ip_cmd(&["link", "add", IFACE, "type", "dummy"])
            || ip_cmd(&[
                "link", "add", IFACE, "type", "veth", "peer", "name", PEER_IFACE,
            ]);
        if made {
            let cidr = format!("{ADDR}/32");
            ip_cmd(&["addr", "add", &cidr, "dev", IFACE]);
            ip_cmd(&["link", "set", IFACE, "up"]);
            ip_cmd(&["link", "set", PEER_IFACE, "up"]);
            if has_addr() {
                println!(
                    "bench sfu: media on {ADDR} ({IFACE}), a local address Janus's ICE accepts"
                );
                return Ok(net(IFACE.into(), IpAddr::V4(ADDR), true));
            }
            ip_cmd(&["link", "del", IFACE]);
        }
        // No way to add an interface (not root?): use an existing local address.
        let listing = output("ip", &["-4", "-o", "addr", "show", "scope", "global"])
            .context("`ip` (iproute2) is needed to find a local address for Janus")?;
        for line in listing.lines() {
            let mut words = line.split_whitespace();
            let (Some(_), Some(iface), Some("inet"), Some(cidr)) =
                (words.next(), words.next(), words.next(), words.next())
            else {
                continue;
            };
            if let Some(Ok(ip)) = cidr.split('/').next().map(str::parse::<IpAddr>) {
                println!(
                    "bench sfu: could not add {IFACE} (not root?); media on {ip} ({iface}), \
                     which stays inside the kernel like loopback"
                );
                return Ok(net(iface.trim_end_matches(':').into(), ip, false));
            }
        }
        bail!(
            "no local address other than loopback, and {IFACE} could not be made; Janus's ICE \
             (libnice) ignores loopback. As root: ip link add {IFACE} type dummy && \
             ip addr add {ADDR}/32 dev {IFACE} && ip link set {IFACE} up"
        )
    }
}

impl Drop for MediaNet {
    fn drop(&mut self) {
        if self.created {
            ip_cmd(&["link", "del", IFACE]);
        }
        if let Some(ns) = self.netns {
            ip_cmd(&["netns", "del", ns]);
        }
    }
}

/// `/usr/bin/janus`, installed with apt-get when missing.
pub fn ensure_installed() -> Result<PathBuf> {
    if let Some(p) = which("janus") {
        return Ok(p);
    }
    println!("bench sfu: Janus is not installed; installing Debian's `janus` package");
    crate::deps::apt_install(&["janus"])?;
    which("janus").context("apt-get installed janus but there is no `janus` on PATH")
}

/// Janus's library folders: next to the binary's multiarch lib folder.
fn lib_dir() -> Result<PathBuf> {
    let candidates = [
        "/usr/lib/x86_64-linux-gnu/janus",
        "/usr/lib/aarch64-linux-gnu/janus",
        "/usr/lib/janus",
        "/usr/local/lib/janus",
    ];
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.join("plugins").is_dir())
        .context("Janus's plugin folder not found (looked in /usr/lib/*/janus)")
}

/// Every `.so` in `dir` except `keep`, comma separated, for a `disable` list.
fn all_but(dir: &Path, keep: &str) -> Result<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".so") && n != keep)
        .collect();
    names.sort();
    Ok(names.join(","))
}

/// Writes a configuration folder: VideoRoom only, websockets on the server's address
/// (`net.ip`:`ws_port`) only, ICE on `net` only, little logging.
pub fn write_config(dir: &Path, ws_port: u16, net: &MediaNet) -> Result<()> {
    let lib = lib_dir()?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let plugins_off = all_but(&lib.join("plugins"), "libjanus_videoroom.so")?;
    let transports_off = all_but(&lib.join("transports"), "libjanus_websockets.so")?;
    let loggers_off = all_but(&lib.join("loggers"), "").unwrap_or_default();
    let lib = lib.display();
    let main = format!(
        r#"general: {{
	configs_folder = "{dir}"
	plugins_folder = "{lib}/plugins"
	transports_folder = "{lib}/transports"
	events_folder = "{lib}/events"
	loggers_folder = "{lib}/loggers"
	debug_level = 3
	session_timeout = 60
}}
certificates: {{
}}
media: {{
	rtp_port_range = "20000-40000"
}}
nat: {{
	nice_debug = false
	ignore_mdns = true
	ice_enforce_list = "{iface}"
}}
plugins: {{
	disable = "{plugins_off}"
}}
transports: {{
	disable = "{transports_off}"
}}
loggers: {{
	disable = "{loggers_off}"
}}
events: {{
	broadcast = false
}}
"#,
        dir = dir.display(),
        iface = net.iface,
    );
    let ws = format!(
        r#"general: {{
	json = "compact"
	ws = true
	ws_port = {ws_port}
	ws_ip = "{ws_ip}"
	wss = false
}}
admin: {{
	admin_ws = false
}}
"#,
        ws_ip = net.ip,
    );
    // Rooms are created over the API by the load generator.
    let videoroom = "general: {\n}\n";
    for (name, text) in [
        ("janus.jcfg", main.as_str()),
        ("janus.transport.websockets.jcfg", ws.as_str()),
        ("janus.plugin.videoroom.jcfg", videoroom),
    ] {
        fs::write(dir.join(name), text).with_context(|| format!("writing {name}"))?;
    }
    Ok(())
}

/// Starts Janus (`command`: the `janus` binary, or a wrapper that runs it) with the folder
/// `write_config` made; its output goes to `janus.log` there.
pub fn spawn(mut command: Command, janus: &Path, dir: &Path) -> Result<Child> {
    let log = fs::File::create(dir.join("janus.log")).context("janus.log")?;
    let err = log.try_clone().context("janus.log")?;
    command
        .arg("-C")
        .arg(dir.join("janus.jcfg"))
        .arg("-F")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .with_context(|| format!("starting {}", janus.display()))
}
