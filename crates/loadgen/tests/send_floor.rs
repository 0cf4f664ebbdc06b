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
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{args:?}: {stdout}{}",
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
