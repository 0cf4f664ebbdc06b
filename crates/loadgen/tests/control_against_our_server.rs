//! The control-plane load generator against an in-process classroom server: a small class
//! goes through every phase. Only counts are checked (who joined, who was notified, what the
//! teacher was shown), never times: the figures are the benchmark's to print.

use std::time::Duration;

use classroom_loadgen::control::{self, Plan};
use classroom_sfu::{ServerConfig, start};

#[tokio::test(flavor = "current_thread")]
async fn a_small_class_goes_through_every_phase() {
    let server = start(ServerConfig::loopback()).await.expect("server");
    let students = 40;
    let plan = Plan {
        addr: server.signaling_addr(),
        url: server.url(),
        key: server.access().clone(),
        room: "control-test".into(),
        students,
        per_task: 16,
        connect_parallel: 8,
        actions: 4,
        chat_per_sec: 20.0,
        chat_window: Duration::from_secs(1),
        server_pid: Some(std::process::id()),
        stall_timeout: Duration::from_secs(20),
    };
    let out = control::run(&plan, |line| eprintln!("{line}"))
        .await
        .expect("run");
    server.shutdown().await;
    eprintln!("{out:#?}");
    assert_eq!(out.students, students);
    assert_eq!((out.connect_failed, out.closed, out.errors), (0, 0, 0));
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    assert_eq!(out.actions.len(), 5, "four actions and the roll call");
    assert!(
        out.actions.iter().all(|a| a.missing == 0),
        "{:?}",
        out.actions
    );
    assert_eq!(out.rollcall_answers, students);
    assert_eq!(out.rollcall_answered_seen, students as u32);
    assert!(out.rollcall_all_ms.is_some());
    assert!(out.chat_received_per_student_per_sec > 0.0);
    assert!(out.kbps_per_student > out.kbps_payload_per_student);
    assert!(out.rss_kb_per_student.is_some());
}
