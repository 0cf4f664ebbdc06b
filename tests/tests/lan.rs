//! A class on a school network, for real: network namespaces joined by a bridge (see
//! `classroom_tests::netns`), the teacher's embedded server in one, students in others, each
//! a separate process (`classroom-lan-node`). Students find the class by mDNS, join, and decode
//! the teacher's camera; the server's media paths prove ICE ran over the LAN addresses, not
//! loopback. An address added to the teacher's interface mid-class is received on within a
//! rescan and dropped when removed. A fourth computer whose route to the teacher is refused
//! finds the class but is told it cannot connect, with the port named.
//!
//! Needs root and iproute2 (`ip netns`); without them it fails and says so.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use classroom_tests::netns::Lan;
use serde_json::Value;

const NODE: &str = env!("CARGO_BIN_EXE_classroom-lan-node");

/// A node process, its JSON lines arriving on a channel. Killed when dropped.
struct Proc {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Value>,
    seen: Vec<Value>,
}

impl Proc {
    fn spawn(lan: &Lan, node: &str, args: &[&str]) -> Proc {
        let mut child = lan
            .command(node, std::path::Path::new(NODE))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start classroom-lan-node");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        let who = node.to_owned();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => {
                        if v["event"] != "paths" {
                            eprintln!("[{who}] {line}");
                        }
                        if tx.send(v).is_err() {
                            break;
                        }
                    }
                    Err(_) => eprintln!("[{who}] (not JSON) {line}"),
                }
            }
        });
        Proc {
            name: node.to_owned(),
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for the first line whose `event` is `event` (an `error` line fails the test).
    fn expect(&mut self, event: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) if v["event"] == event => {
                    self.seen.push(v.clone());
                    return v;
                }
                Ok(v) if v["event"] == "error" && event != "error" => {
                    panic!("{} failed waiting for {event}: {v}", self.name)
                }
                Ok(v) => self.seen.push(v),
                Err(_) => panic!(
                    "{}: no {event} within {within:?}; seen {:?}",
                    self.name, self.seen
                ),
            }
        }
    }

    fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("write to node");
        stdin.flush().expect("flush");
    }

    fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (up to 10 s) for a `paths` line whose media addresses satisfy `done`.
fn wait_media_addrs(teacher: &mut Proc, done: impl Fn(&[SocketAddr]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let line = teacher.expect("paths", Duration::from_secs(5));
        let addrs: Vec<SocketAddr> = line["mediaAddrs"]
            .as_array()
            .expect("media addresses")
            .iter()
            .map(addr)
            .collect();
        if done(&addrs) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "media addresses did not follow the interface: {addrs:?}"
        );
    }
}

fn addr(v: &Value) -> SocketAddr {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an address: {v}"))
}

#[test]
fn students_find_the_class_by_mdns_and_receive_the_teacher_over_the_lan() {
    let lan = match Lan::new(&["teacher", "ada", "ben", "firewalled"]) {
        Ok(lan) => lan,
        Err(why) => panic!("cannot build the test network: {why}"),
    };
    let teacher_ip = IpAddr::V4(lan.node("teacher").ip);
    // The firewalled computer hears the announcement (multicast) but its packets to the
    // teacher are refused, as a blocked port would be.
    lan.ip_in(
        "firewalled",
        &["route", "add", "prohibit", &format!("{teacher_ip}/32")],
    )
    .expect("refuse the route to the teacher");

    let mut teacher = Proc::spawn(
        &lan,
        "teacher",
        &["teacher", "--title", "Physics 7B", "--name", "Ms. Rivera"],
    );
    let hosting = teacher.expect("hosting", Duration::from_secs(60));
    let port = hosting["port"].as_u64().expect("port") as u16;
    assert_eq!(
        hosting["addresses"],
        serde_json::json!([teacher_ip]),
        "the server's LAN addresses are the teacher's veth address only: {hosting}"
    );
    assert_eq!(hosting["announced"], true, "{hosting}");
    assert_eq!(hosting["onlyThisComputer"], false, "{hosting}");
    assert_eq!(
        hosting["inviteUrl"],
        format!("wss://{teacher_ip}:{port}/ws"),
        "signaling on the school network is TLS: {hosting}"
    );
    let media: Vec<SocketAddr> = hosting["mediaAddrs"]
        .as_array()
        .expect("media addresses")
        .iter()
        .map(addr)
        .collect();
    assert!(
        media.contains(&SocketAddr::new(teacher_ip, port)),
        "media on the same port number as signaling, on the LAN address: {media:?}"
    );
    // The class code is all a student is given: it finds the class (its first 8 characters
    // check the server's certificate) and knocks at the lobby, which the teacher opens.
    let invite = teacher.expect("invite", Duration::from_secs(10));
    teacher.expect("joined", Duration::from_secs(30));
    let code = invite["code"].as_str().expect("a class code").to_owned();
    assert_eq!(code.len(), 14, "XXXX-XXXX-XXXX: {code}");
    let invite_line = serde_json::json!({ "code": code }).to_string();

    let mut students: Vec<Proc> = ["ada", "ben"]
        .iter()
        .map(|name| {
            let mut p = Proc::spawn(
                &lan,
                name,
                &[
                    "student",
                    "--name",
                    name,
                    "--frames",
                    "30",
                    "--timeout",
                    "90",
                ],
            );
            p.send_line(&invite_line);
            p
        })
        .collect();
    let mut blocked = Proc::spawn(
        &lan,
        "firewalled",
        &["student", "--name", "cy", "--timeout", "60"],
    );
    blocked.send_line(&invite_line);

    for s in &mut students {
        let found = s.expect("found", Duration::from_secs(30));
        let class = &found["class"];
        assert_eq!(class["title"], "Physics 7B", "{found}");
        assert_eq!(class["teacher"], "Ms. Rivera", "{found}");
        assert_eq!(class["port"], port, "{found}");
        assert_eq!(class["tls"], true, "{found}");
        assert!(class["fingerprint"].is_string(), "{found}");
        assert_eq!(
            class["addresses"],
            serde_json::json!([teacher_ip]),
            "announced at the teacher's LAN address only: {found}"
        );
        let reached = s.expect("reached", Duration::from_secs(10));
        assert_eq!(addr(&reached["addr"]), SocketAddr::new(teacher_ip, port));
        s.expect("waiting", Duration::from_secs(30));
        s.expect("joined", Duration::from_secs(30));
    }
    // Mid-class the teacher's computer gains an address (a laptop joining another network):
    // the server receives media there within a rescan, and the announcement carries it.
    let extra = std::net::Ipv4Addr::new(
        lan.node("teacher").ip.octets()[0],
        lan.node("teacher").ip.octets()[1],
        lan.node("teacher").ip.octets()[2],
        101,
    );
    let extra_media = SocketAddr::new(IpAddr::V4(extra), port);
    lan.ip_in(
        "teacher",
        &["addr", "add", &format!("{extra}/24"), "dev", "eth0"],
    )
    .expect("add an address");
    wait_media_addrs(&mut teacher, |addrs| addrs.contains(&extra_media));

    let mut decoded = HashMap::new();
    for s in &mut students {
        let frames = s.expect("frames", Duration::from_secs(90));
        assert!(frames["camera"].as_u64().expect("frames") >= 30, "{frames}");
        assert_eq!(frames["resolution"], "320x240", "{frames}");
        decoded.insert(s.name.clone(), frames["camera"].as_u64().unwrap_or(0));
    }

    // Found, but cannot connect: the error names the port and the likely cause.
    let error = blocked.expect("error", Duration::from_secs(60));
    assert_eq!(error["kind"], "unreachable", "{error}");
    let message = error["message"].as_str().expect("message");
    assert!(
        message.contains(&format!("port {port}")) && message.contains("firewall"),
        "{message}"
    );

    // ICE ran over the LAN: the server received each student's media on its LAN address,
    // from that student's LAN address; nothing of theirs arrived on loopback.
    let student_ips: Vec<IpAddr> = ["ada", "ben"]
        .iter()
        .map(|n| IpAddr::V4(lan.node(n).ip))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    let paths = loop {
        let line = teacher.expect("paths", Duration::from_secs(5));
        // (local, remote, packets in, packets out)
        let paths: Vec<(SocketAddr, SocketAddr, u64, u64)> = line["paths"]
            .as_array()
            .expect("paths")
            .iter()
            .map(|p| {
                (
                    addr(&p["local"]),
                    addr(&p["remote"]),
                    p["packetsIn"].as_u64().unwrap_or(0),
                    p["packetsOut"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        // Each student answered (ICE, DTLS, receiver reports) and was sent the teacher's
        // media (at least the 30 frames it decoded) over the LAN addresses.
        let all_seen = student_ips.iter().all(|ip| {
            paths.iter().any(|(l, r, i, o)| {
                r.ip() == *ip && *l == SocketAddr::new(teacher_ip, port) && *i > 5 && *o > 30
            })
        });
        if all_seen {
            break paths;
        }
        assert!(
            Instant::now() < deadline,
            "students' media paths: {paths:?}"
        );
    };
    for (local, remote, packets_in, packets_out) in &paths {
        if student_ips.contains(&remote.ip()) {
            // The address added mid-class became a candidate of the students' connections
            // too (the server checks from it at once): either LAN address, never loopback.
            assert!(
                *local == SocketAddr::new(teacher_ip, port) || *local == extra_media,
                "{local} <-> {remote}"
            );
        } else {
            // The teacher's own session, on loopback and offered nothing else.
            assert!(
                local.ip().is_loopback() && remote.ip().is_loopback(),
                "unexpected media path {local} <-> {remote} ({packets_in} in, {packets_out} out)"
            );
        }
    }
    eprintln!("LAN test: decoded {decoded:?}; media paths {paths:?}");

    // The address goes again: its socket closes and it is no longer a candidate.
    lan.ip_in(
        "teacher",
        &["addr", "del", &format!("{extra}/24"), "dev", "eth0"],
    )
    .expect("remove the address");
    wait_media_addrs(&mut teacher, |addrs| {
        !addrs.contains(&extra_media) && addrs.contains(&SocketAddr::new(teacher_ip, port))
    });

    for s in &mut students {
        s.expect("left", Duration::from_secs(10));
        assert_eq!(s.wait_exit(Duration::from_secs(10)), Some(0), "{}", s.name);
    }
    assert_eq!(blocked.wait_exit(Duration::from_secs(10)), Some(3));
    // Closing its input ends the teacher's class: it says goodbye and exits cleanly.
    drop(teacher.stdin.take());
    teacher.expect("bye", Duration::from_secs(15));
    assert_eq!(teacher.wait_exit(Duration::from_secs(10)), Some(0));
}
