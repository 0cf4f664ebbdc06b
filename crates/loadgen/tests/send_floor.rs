//! `classroom-send-floor` as `bench sfu` runs it, small: every sealed datagram reaches its
//! student, one by one and in GSO messages, and the `BENCH sendfloor` line carries figures.

use std::process::Command;

/// Runs the floor with `args` and returns its `BENCH sendfloor` fields.
fn floor(args: &[&str]) -> serde_json::Map<String, serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_classroom-send-floor"))
        .args(["--students", "8", "--turns", "30", "--idle-us", "200"])
        .args(args)
        .output()
        .expect("running classroom-send-floor");
    bench_line(&out, &format!("{args:?}"))
}

/// The `BENCH sendfloor` fields of a run that succeeded (`what` names it in a failure).
fn bench_line(
    out: &std::process::Output,
    what: &str,
) -> serde_json::Map<String, serde_json::Value> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{what}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("BENCH sendfloor "))
        .unwrap_or_else(|| panic!("no BENCH line in {stdout}"));
    serde_json::from_str(line).expect("the BENCH line is JSON")
}

#[test]
fn every_sealed_copy_reaches_its_student_alone_and_in_gso_messages() {
    for (args, gso) in [
        (&["--burst", "1"][..], false),
        (&["--burst", "4"][..], true),
        (&["--burst", "4", "--no-gso"][..], false),
        (&["--burst", "2", "--size", "160", "--no-seal"][..], true),
    ] {
        let f = floor(args);
        assert_eq!(f["received_pct"].as_f64(), Some(100.0), "{args:?}: {f:?}");
        // GSO on loopback is Linux 4.18+; every kernel these machines run has it.
        assert_eq!(f["gso"].as_bool(), Some(gso), "{args:?}: {f:?}");
        assert!(f["ns_per_datagram"].as_f64().unwrap_or(0.0) > 0.0, "{f:?}");
    }
}

#[test]
fn a_gso_message_over_a_datagrams_limit_is_refused_with_a_reason() {
    let out = Command::new(env!("CARGO_BIN_EXE_classroom-send-floor"))
        .args(["--students", "2", "--burst", "60", "--size", "1200"])
        .output()
        .expect("running classroom-send-floor");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("65,507"), "{err}");
}

/// `ip` with `args`, true when it succeeded.
fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Two network namespaces joined by a veth pair (the hosts route of `bench sfu`, under names
/// of this test's own): the sender's (10.78.0.1) and the students' (10.78.0.2), both apart
/// from this machine's own network, where an address would be seen by every program (the app
/// under test in a window test beside this one takes a new address for its invites).
struct Namespaces {
    sender: String,
    students: String,
}

impl Namespaces {
    /// None where the machine cannot make them (not root, no iproute2): said on stderr.
    fn make() -> Option<Namespaces> {
        let id = std::process::id() % 100_000;
        let ns = Namespaces {
            sender: format!("clfloor{id}a"),
            students: format!("clfloor{id}b"),
        };
        if !ip(&["netns", "add", &ns.sender]) {
            eprintln!("no network namespace could be made here (not root?)");
            return None;
        }
        assert!(ip(&["netns", "add", &ns.students]), "a second namespace");
        let (a, b) = (format!("clf{id}a"), format!("clf{id}b"));
        for step in [
            vec![
                "-n",
                &ns.sender,
                "link",
                "add",
                &a,
                "type",
                "veth",
                "peer",
                "name",
                &b,
                "netns",
                &ns.students,
            ],
            vec!["-n", &ns.sender, "addr", "add", "10.78.0.1/24", "dev", &a],
            vec!["-n", &ns.sender, "link", "set", &a, "up"],
            vec!["-n", &ns.students, "addr", "add", "10.78.0.2/24", "dev", &b],
            vec!["-n", &ns.students, "link", "set", &b, "up"],
        ] {
            assert!(ip(&step), "ip {step:?}");
        }
        Some(ns)
    }

    /// `classroom-send-floor` with `args`, run in the sender's namespace.
    fn floor(&self, args: &[&str]) -> std::process::Output {
        Command::new("ip")
            .args(["netns", "exec", &self.sender])
            .arg(env!("CARGO_BIN_EXE_classroom-send-floor"))
            .args(["--students", "8", "--turns", "30", "--idle-us", "200"])
            .args(args)
            .output()
            .expect("running classroom-send-floor")
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        // The pair goes with either namespace.
        ip(&["netns", "del", &self.sender]);
        ip(&["netns", "del", &self.students]);
    }
}

#[test]
fn students_in_their_own_network_namespace_receive_every_copy() {
    // Root is what CI and the bench run as; elsewhere the route cannot be made at all.
    let Some(ns) = Namespaces::make() else {
        let root = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                let uid = s.lines().find_map(|l| l.strip_prefix("Uid:"))?;
                Some(uid.split_whitespace().nth(1) == Some("0"))
            })
            .unwrap_or(false);
        assert!(!root, "root could not make a network namespace");
        return;
    };
    for burst in ["1", "4"] {
        let out = ns.floor(&[
            "--ip",
            "10.78.0.1",
            "--students-ip",
            "10.78.0.2",
            "--students-netns",
            &ns.students,
            "--burst",
            burst,
        ]);
        let f = bench_line(&out, burst);
        assert_eq!(f["received_pct"].as_f64(), Some(100.0), "{burst}: {f:?}");
    }
    // The students' address is only in their namespace: bound beside the sender, refused.
    let out = ns.floor(&["--ip", "10.78.0.1", "--students-ip", "10.78.0.2"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("binding a student's socket"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
