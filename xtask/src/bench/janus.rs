//! Janus for `bench sfu`: installed from Debian's packages when missing, configured with only
//! the VideoRoom plugin and the websocket transport, and the local address media uses.
//!
//! libnice, Janus's ICE agent, never gathers loopback addresses (Janus skips `lo` even when
//! `ice_enforce_list = "lo"`), so an ICE session with Janus cannot run on 127.0.0.1. The bench
//! gives both servers a second local address instead: 10.77.0.1 on a virtual interface `cl0`
//! (a dummy interface, or one end of a veth pair where the dummy module is missing). Traffic
//! between two sockets on a local address never leaves the kernel: it takes the same loopback
//! path as 127.0.0.1.

use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::util::{output, which};

/// The interface and address media runs on.
pub struct MediaNet {
    /// Interface name for Janus's `ice_enforce_list`.
    pub iface: String,
    /// Address peers and servers bind to.
    pub ip: IpAddr,
    /// True when this run created the interface (and removes it at the end).
    created: bool,
}

const IFACE: &str = "cl0";
const PEER_IFACE: &str = "cl1";
const ADDR: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);

fn ip_cmd(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl MediaNet {
    /// `cl0` with 10.77.0.1, made if missing (needs root and iproute2). Falls back to the
    /// first non-loopback IPv4 address of the machine, which is as local to the kernel.
    pub fn set_up() -> Result<MediaNet> {
        let has_addr = || {
            output("ip", &["-4", "-o", "addr", "show", "dev", IFACE])
                .is_some_and(|o| o.contains(&format!("inet {ADDR}/")))
        };
        if has_addr() {
            return Ok(MediaNet {
                iface: IFACE.into(),
                ip: IpAddr::V4(ADDR),
                created: false,
            });
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
                return Ok(MediaNet {
                    iface: IFACE.into(),
                    ip: IpAddr::V4(ADDR),
                    created: true,
                });
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
                return Ok(MediaNet {
                    iface: iface.trim_end_matches(':').into(),
                    ip,
                    created: false,
                });
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

/// Writes a configuration folder: VideoRoom only, websockets on 127.0.0.1:`ws_port` only, ICE
/// on `net` only, little logging.
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
	ws_ip = "127.0.0.1"
	wss = false
}}
admin: {{
	admin_ws = false
}}
"#
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
