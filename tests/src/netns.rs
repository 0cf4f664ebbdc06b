//! A private network for tests: network namespaces, each joined by a veth pair to one bridge
//! (multicast flooded, as a school switch does), with addresses in one /24.
//!
//! Needs root and iproute2's `ip`; [`Lan::new`] says so plainly when either is missing.
//! Every namespace is named `clslan-<pid>-<nonce>-<node>`, so parallel runs never share one,
//! and namespaces left by a run that crashed (its pid gone) are removed by the next run.
//! Dropping the [`Lan`] deletes its namespaces, which deletes the links inside them.

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

const PREFIX: &str = "clslan-";

/// One computer on the test network.
#[derive(Debug, Clone)]
pub struct Node {
    /// Its name in the test.
    pub name: String,
    /// Its network namespace.
    pub netns: String,
    /// Its address on the network.
    pub ip: Ipv4Addr,
}

/// A network of namespaces joined by a bridge.
#[derive(Debug)]
pub struct Lan {
    hub: String,
    nodes: Vec<Node>,
    prefix_len: u8,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip` (iproute2): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// Deletes namespaces of earlier runs whose process is gone.
fn sweep_stale() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = ip(&["netns", "del", name]);
        }
    }
}

impl Lan {
    /// Makes a network with one namespace per name in `nodes`, addressed `10.x.y.1`,
    /// `10.x.y.2`, … in that order. Errors (with what to do) when not root or `ip` is missing.
    pub fn new(nodes: &[&str]) -> Result<Lan, String> {
        if !is_root() {
            return Err("the LAN test makes network namespaces and needs root".into());
        }
        Command::new("ip")
            .arg("-V")
            .output()
            .map_err(|e| format!("the LAN test needs iproute2's `ip` ({e})"))?;
        sweep_stale();
        let nonce = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let base = format!("{PREFIX}{}-{:x}", std::process::id(), nonce & 0xffff);
        // An address range of its own per run keeps logs of parallel runs apart.
        let subnet = [10, 200 + (nonce % 50) as u8, ((nonce >> 8) % 250) as u8];
        let mut lan = Lan {
            hub: format!("{base}-hub"),
            nodes: Vec::new(),
            prefix_len: 24,
        };
        ip(&["netns", "add", &lan.hub])?;
        let hub = lan.hub.clone();
        ip(&["-n", &hub, "link", "set", "lo", "up"])?;
        ip(&[
            "-n",
            &hub,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ])?;
        ip(&["-n", &hub, "link", "set", "br0", "up"])?;
        for (i, name) in nodes.iter().enumerate() {
            let netns = format!("{base}-{name}");
            let addr = Ipv4Addr::new(subnet[0], subnet[1], subnet[2], i as u8 + 1);
            ip(&["netns", "add", &netns])?;
            lan.nodes.push(Node {
                name: (*name).to_owned(),
                netns: netns.clone(),
                ip: addr,
            });
            let port = format!("p{i}");
            // The node's end is eth0 inside its namespace, as on a real computer.
            ip(&[
                "-n", &hub, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
                &netns,
            ])?;
            ip(&["-n", &hub, "link", "set", &port, "master", "br0", "up"])?;
            ip(&["-n", &netns, "link", "set", "lo", "up"])?;
            ip(&[
                "-n",
                &netns,
                "addr",
                "add",
                &format!("{addr}/{}", lan.prefix_len),
                "dev",
                "eth0",
            ])?;
            ip(&["-n", &netns, "link", "set", "eth0", "up"])?;
        }
        Ok(lan)
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("no node {name}"))
    }

    /// Every node.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The network's prefix length.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// `program` run inside `node`'s namespace.
    pub fn command(&self, node: &str, program: &std::path::Path) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.node(node).netns])
            .arg(program);
        cmd
    }

    /// Runs `ip -n <node's namespace> args…`.
    pub fn ip_in(&self, node: &str, args: &[&str]) -> Result<(), String> {
        let mut all = vec!["-n", self.node(node).netns.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for node in &self.nodes {
            let _ = ip(&["netns", "del", &node.netns]);
        }
        let _ = ip(&["netns", "del", &self.hub]);
    }
}
