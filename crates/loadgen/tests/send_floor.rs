//! `classroom-send-floor` as `bench sfu` runs it, small: every sealed datagram reaches its
//! student, one by one and in GSO messages, and the `BENCH sendfloor` line carries figures.

use std::process::Command;

/// A small class, quickly: every run of these tests.
const SMALL: [&str; 6] = ["--students", "8", "--turns", "30", "--idle-us", "200"];

/// Runs the floor with `args` and returns its `BENCH sendfloor` fields.
fn floor(args: &[&str]) -> serde_json::Map<String, serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_classroom-send-floor"))
        .args(SMALL)
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

/// The cross-crate tests' private network (namespaces on a bridge, names of this run's own,
/// stale ones swept), shared as a file: `classroom-tests` depends on this crate.
#[path = "../../../tests/src/netns.rs"]
#[allow(dead_code)]
mod netns;

#[test]
fn students_in_their_own_network_namespace_receive_every_copy() {
    // The sender and the students each in a namespace of their own (the hosts route of
    // `bench sfu`), apart from this machine's own network, where an address would be taken
    // by the app a window test beside this one starts, for its invites.
    let lan = netns::Lan::new(&["sender", "students"])
        .unwrap_or_else(|why| panic!("cannot build the test network: {why}"));
    let (sender, students) = (lan.node("sender"), lan.node("students"));
    let (sender_ip, students_ip) = (sender.ip.to_string(), students.ip.to_string());
    let floor = |args: &[&str]| {
        lan.command(
            "sender",
            env!("CARGO_BIN_EXE_classroom-send-floor").as_ref(),
        )
        .args(SMALL)
        .args(["--ip", &sender_ip, "--students-ip", &students_ip])
        .args(args)
        .output()
        .expect("running classroom-send-floor")
    };
    for burst in ["1", "4"] {
        let out = floor(&["--students-netns", &students.netns, "--burst", burst]);
        let f = bench_line(&out, burst);
        assert_eq!(f["received_pct"].as_f64(), Some(100.0), "{burst}: {f:?}");
    }
    // The students' address is only in their namespace: bound beside the sender, refused.
    let out = floor(&[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("binding a student's socket"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
