//! The flood of issue 15 against a class: 20,000 garbage datagrams/s and 1,000 spoofed DTLS
//! ClientHellos/s at the media port and 1,000 idle TCP connections at the signaling port for
//! 60 s, while a teacher streams to two students through real GStreamer pipelines. Asserts
//! survival and recovery with generous bounds; the figures are printed (and measured on
//! their own by `cargo xtask bench flood`).

use std::path::Path;

use classroom_tests::flood::{FloodOptions, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_survives_a_flood_and_recovers() {
    classroom_media::init().expect("GStreamer with the plugins from `cargo xtask deps`");
    let opts = FloodOptions::default();
    let report = run(Path::new(env!("CARGO_BIN_EXE_classroom-flood")), &opts)
        .await
        .expect("the flood ran");
    eprintln!(
        "{}",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    );
    assert!(report.server_alive, "the server survived");
    for i in 0..2 {
        let (before, during, after) = (
            report.fps_before[i],
            report.fps_during[i],
            report.fps_after[i],
        );
        assert!(
            before > 10.0,
            "student {i} had a class before: {before:.1} fps"
        );
        // Generous: frames keep flowing under the flood, and the class recovers after it.
        assert!(
            during > before * 0.5,
            "student {i}: {during:.1} fps during, {before:.1} before"
        );
        assert!(
            after > before * 0.7,
            "student {i}: {after:.1} fps after, {before:.1} before"
        );
    }
    // The junk really was sent (the generator is not what is measured, but must have run).
    assert!(report.garbage_sent > u64::from(opts.garbage_per_second) * opts.seconds / 4);
    assert!(report.hellos_sent > u64::from(opts.hellos_per_second) * opts.seconds / 4);
    // The header deadline closed every idle connection (each reopened until the end).
    assert!(report.idle_opened >= opts.idle_connections as u64);
    assert!(report.idle_closed_by_server >= opts.idle_connections as u64);
    // The server holds none of them any more: only the class's three websockets (a few that
    // it never accepted may linger on this side, see `idle_left_open`).
    assert_eq!(
        report.server_connections_open, 3,
        "idle connections outlived the deadline on the server"
    );
    // Memory comes back near where it was: the target is 10 %; measured +2 % with
    // jemalloc (`ServerAllocator`), +83 % with glibc's allocator, which kept the flood's
    // buffers. Room here for a slower machine: 20 % + 4 MiB.
    assert!(
        report.rss_after_kib <= report.rss_before_kib * 6 / 5 + 4 * 1024,
        "server RSS {} KiB after, {} KiB before",
        report.rss_after_kib,
        report.rss_before_kib
    );
}
