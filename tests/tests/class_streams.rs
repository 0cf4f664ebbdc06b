//! A whole class on one machine: the real server on 127.0.0.1:0, a teacher publishing a
//! 30 fps camera, a microphone and a screen through GStreamer's webrtcbin, and two students
//! who receive, decode and count.

use std::time::{Duration, Instant};

use classroom_client::{JoinOptions, SessionEvent, connect};
use classroom_media::{AudioInput, PublishConfig, VideoInput};
use classroom_protocol::{Role, Source};
use classroom_sfu::ServerHandle;

fn options(
    server: &ServerHandle,
    name: &str,
    role: Role,
    publish: Option<PublishConfig>,
) -> JoinOptions {
    classroom_tests::join_options(server, "e2e", name, role, publish)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_students_decode_the_teachers_camera_screen_and_audio() {
    let server = classroom_tests::class_server().await;

    let publish = PublishConfig {
        camera: Some(VideoInput::Test {
            pattern: "ball".into(),
        }),
        camera_mode: (320, 240, 30),
        screen: Some(VideoInput::Test {
            pattern: "smpte".into(),
        }),
        screen_mode: (640, 360, 10),
        microphone: Some(AudioInput::Test),
        camera_bitrate: 400_000,
        screen_bitrate: 300_000,
        local_ips: Vec::new(),
        ..PublishConfig::default()
    };
    let (teacher, mut teacher_events) =
        classroom_tests::connect_joined(options(&server, "Teacher", Role::Teacher, Some(publish)))
            .await;

    let mut students = Vec::new();
    for name in ["Ada", "Grace"] {
        let (s, events) = connect(options(&server, name, Role::Student, None))
            .await
            .expect("student joins");
        students.push((name, s, events));
    }

    // Wait (bounded) until both students decode camera frames, then measure 5 s.
    let deadline = Instant::now() + Duration::from_secs(20);
    while students.iter().any(|(_, s, _)| {
        s.stats()
            .by_source(Source::Camera)
            .is_none_or(|t| t.frames == 0)
    }) {
        if Instant::now() >= deadline {
            while let Ok(ev) = teacher_events.try_recv() {
                eprintln!("teacher event: {ev:?}");
            }
            for (name, _, events) in students.iter_mut() {
                while let Ok(ev) = events.try_recv() {
                    eprintln!("{name} event: {ev:?}");
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no camera frames within 20 s: {:?}",
            students.iter().map(|s| s.1.stats()).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before: Vec<_> = students.iter().map(|(_, s, _)| s.stats()).collect();
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let elapsed = t0.elapsed().as_secs_f64();

    for ((name, s, events), before) in students.iter_mut().zip(before) {
        let after = s.stats();
        let cam = after.by_source(Source::Camera).expect("camera track");
        let cam_before = before.by_source(Source::Camera).expect("camera track");
        let fps = (cam.frames - cam_before.frames) as f64 / elapsed;
        let audio = after
            .by_source(Source::Microphone)
            .map(|t| t.packets)
            .unwrap_or(0);
        let screen = after
            .by_source(Source::Screen)
            .map(|t| t.frames)
            .unwrap_or(0);
        eprintln!("{name}: camera {fps:.1} fps, screen {screen} frames, {audio} audio packets");
        assert!(
            fps >= 25.0,
            "{name} decoded camera at {fps:.1} fps, want >= 25"
        );
        // 20 ms Opus frames: 50 packets/s; allow for start-up.
        assert!(audio >= 100, "{name} received {audio} audio packets");
        assert!(screen > 0, "{name} decoded no screen frames");
        while let Ok(ev) = events.try_recv() {
            assert!(
                !matches!(
                    ev,
                    SessionEvent::MediaFailed(_) | SessionEvent::ServerError { .. }
                ),
                "{name}: {ev:?}"
            );
        }
    }
    // The students hear the teacher's tone (a 0.2 sine is about -14 dBFS); muted, the
    // microphone track keeps flowing but carries silence.
    for (name, s, _) in &students {
        let peak = s
            .stats()
            .by_source(Source::Microphone)
            .and_then(|t| t.audio_peak_db);
        assert!(
            peak.is_some_and(|p| p > -30.0),
            "{name} hears {peak:?} dBFS"
        );
    }
    teacher.set_microphone_muted(true).expect("mute");
    let packets = |s: &classroom_client::Session| {
        s.stats()
            .by_source(Source::Microphone)
            .map(|t| t.packets)
            .unwrap_or(0)
    };
    let before_mute: Vec<u64> = students.iter().map(|(_, s, _)| packets(s)).collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for ((name, s, _), before) in students.iter().zip(before_mute) {
        let peak = s
            .stats()
            .by_source(Source::Microphone)
            .and_then(|t| t.audio_peak_db);
        assert!(
            peak.is_some_and(|p| p < -60.0),
            "{name} still hears {peak:?} dBFS after mute"
        );
        assert!(
            packets(s) >= before + 40,
            "{name}: the muted track must keep flowing"
        );
    }
    teacher.set_microphone_muted(false).expect("unmute");

    // webrtcbin's own receive statistics agree that media arrived on every stream.
    for (name, s, _) in &students {
        let rtp = tokio::task::block_in_place(|| s.rtp_stats(Duration::from_secs(5)));
        eprintln!("{name}: {rtp:?}");
        assert!(rtp.len() >= 3, "{name}: inbound streams {rtp:?}");
        assert!(
            rtp.iter().filter(|r| r.packets_received > 0).count() >= 3,
            "{name}: {rtp:?}"
        );
    }
    let m = server.metrics().snapshot();
    assert_eq!(m.tracks, 3);
    assert!(m.media_forwarded > 0);

    for (_, s, _) in students {
        s.leave().await;
    }
    teacher.leave().await;
    server.shutdown().await;
}
