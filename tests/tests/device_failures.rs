//! A device that fails mid-class (unplugged, refused) or is missing from the start fails only
//! its own track: the app is told, receivers get a stand-in picture on the same track, the
//! microphone and the screen keep flowing through the real server, and choosing the device
//! again recovers the track without renegotiating.

use std::time::{Duration, Instant};

use classroom_client::{JoinOptions, Session, SessionEvent, connect};
use classroom_media::{AudioInput, PublishConfig, VideoInput};
use classroom_protocol::{Role, Source};
use gstreamer as gst;
use gstreamer::prelude::*;
use tokio::sync::mpsc::UnboundedReceiver;

async fn wait_for(what: &str, student: &Session, cond: impl Fn(&Counts) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond(&counts(student)) {
        let c = counts(student);
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: camera {} frames, screen {} frames, {} audio packets; {:?}",
            c.camera,
            c.screen,
            c.audio,
            student.stats()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// From now on, whether each frame the camera's encoder puts out is a keyframe.
fn encoded_frames(
    publisher: &classroom_media::Publisher,
) -> std::sync::Arc<std::sync::Mutex<Vec<bool>>> {
    let frames = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let pad = publisher
        .pipeline()
        .by_name("camera")
        .and_then(|b| b.downcast::<gst::Bin>().ok())
        .and_then(|b| b.by_name("enc"))
        .and_then(|e| e.static_pad("src"))
        .expect("the camera encoder");
    let f = frames.clone();
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let Some(b) = info.buffer() {
            let key = !b.flags().contains(gst::BufferFlags::DELTA_UNIT);
            f.lock().unwrap_or_else(|e| e.into_inner()).push(key);
        }
        gst::PadProbeReturn::Ok
    });
    frames
}

async fn wait_event(
    events: &mut UnboundedReceiver<SessionEvent>,
    what: &str,
    wanted: impl Fn(&SessionEvent) -> bool,
) -> SessionEvent {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(ev)) if wanted(&ev) => return ev,
            Ok(Some(_)) => {}
            Ok(None) => panic!("events ended while waiting for {what}"),
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

struct Counts {
    camera: u64,
    screen: u64,
    audio: u64,
}

fn counts(student: &Session) -> Counts {
    let stats = student.stats();
    let get =
        |s, f: fn(&classroom_media::TrackStats) -> u64| stats.by_source(s).map(f).unwrap_or(0);
    Counts {
        camera: get(Source::Camera, |t| t.frames),
        screen: get(Source::Screen, |t| t.frames),
        audio: get(Source::Microphone, |t| t.packets),
    }
}

/// Over `secs` seconds, every track of the teacher keeps arriving at the student.
async fn all_tracks_flow(student: &Session, secs: u64, why: &str) {
    let before = counts(student);
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let after = counts(student);
    let secs = secs as f64;
    // Generous floors (a loaded 2-core machine): continuity, not speed.
    assert!(
        (after.camera - before.camera) as f64 / secs >= 5.0,
        "{why}: camera track stalled ({} -> {})",
        before.camera,
        after.camera
    );
    assert!(
        (after.audio - before.audio) as f64 / secs >= 20.0,
        "{why}: microphone stalled ({} -> {} packets)",
        before.audio,
        after.audio
    );
    assert!(
        after.screen > before.screen,
        "{why}: screen stalled ({} -> {})",
        before.screen,
        after.screen
    );
}

async fn class(
    camera: VideoInput,
) -> (
    classroom_sfu::ServerHandle,
    Session,
    UnboundedReceiver<SessionEvent>,
    Session,
    UnboundedReceiver<SessionEvent>,
) {
    let server = classroom_tests::class_server().await;
    let token = |name: &str, role| {
        server
            .mint_token("fail", name, role, Duration::from_secs(600))
            .expect("token")
    };
    let publish = PublishConfig {
        camera: Some(camera),
        camera_mode: (320, 240, 30),
        screen: Some(VideoInput::Test {
            pattern: "smpte".into(),
        }),
        screen_mode: (640, 360, 10),
        microphone: Some(AudioInput::Test),
        ..PublishConfig::default()
    };
    let (teacher, teacher_events) = connect(JoinOptions {
        publish: Some(publish),
        ..JoinOptions::new(
            &server.url(),
            &token("t", Role::Teacher),
            "fail",
            "Teacher",
            Role::Teacher,
        )
    })
    .await
    .expect("teacher");
    let (student, student_events) = connect(JoinOptions::new(
        &server.url(),
        &token("s", Role::Student),
        "fail",
        "Ada",
        Role::Student,
    ))
    .await
    .expect("student");
    (server, teacher, teacher_events, student, student_events)
}

fn no_media_failures(events: &mut UnboundedReceiver<SessionEvent>, who: &str) {
    while let Ok(ev) = events.try_recv() {
        assert!(
            !matches!(
                ev,
                SessionEvent::MediaFailed(_) | SessionEvent::ServerError { .. }
            ),
            "{who}: {ev:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_unplugged_mid_class_fails_alone_and_recovers() {
    let (server, teacher, mut teacher_events, student, mut student_events) =
        class(VideoInput::Test {
            pattern: "ball".into(),
        })
        .await;
    wait_for("all three tracks", &student, |c| {
        c.camera > 10 && c.screen > 3 && c.audio > 20
    })
    .await;
    assert_eq!(server.metrics().snapshot().tracks, 3);

    // Unplug: the camera's source reports what v4l2src reports when its device vanishes.
    let publisher = teacher.publisher_handle().expect("publishing");
    let input = publisher
        .pipeline()
        .by_name("camera-input")
        .and_then(|e| e.downcast::<gst::Bin>().ok())
        .expect("camera input bin");
    let source = input
        .iterate_sources()
        .into_iter()
        .flatten()
        .next()
        .expect("camera source element");
    source.post_error_message(gst::error_msg!(
        gst::ResourceError::NotFound,
        ("Device '/dev/video0' has been disconnected")
    ));
    let failed = wait_event(&mut teacher_events, "the camera to fail", |e| {
        matches!(e, SessionEvent::TrackFailed { .. })
    })
    .await;
    let SessionEvent::TrackFailed { source, message } = failed else {
        unreachable!()
    };
    assert_eq!(source, Source::Camera);
    assert!(message.contains("disconnected"), "{message}");
    assert!(publisher.is_track_failed(Source::Camera));

    // While the camera is gone: the microphone and the screen keep flowing, and the camera
    // track itself carries the stand-in picture; nothing was renegotiated.
    all_tracks_flow(&student, 2, "camera failed").await;
    assert_eq!(server.metrics().snapshot().tracks, 3);

    // The device comes back and is chosen again: same track, real pictures again, starting
    // with a keyframe (not at the next periodic one, 2 s away at worst).
    let encoded = encoded_frames(&publisher);
    teacher
        .set_camera(&VideoInput::Test {
            pattern: "ball".into(),
        })
        .expect("camera back");
    wait_event(&mut teacher_events, "the camera to recover", |e| {
        matches!(e, SessionEvent::TrackRecovered(Source::Camera))
    })
    .await;
    assert!(!publisher.is_track_failed(Source::Camera));
    let deadline = Instant::now() + Duration::from_secs(5);
    while encoded.lock().expect("frames").len() < 3 {
        assert!(Instant::now() < deadline, "the camera encoder stopped");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // One frame from the old input may still have been in the encoder.
    let first = encoded.lock().expect("frames")[..3].to_vec();
    assert!(
        first.contains(&true),
        "no keyframe among the first frames after the swap: {first:?}"
    );
    all_tracks_flow(&student, 2, "camera recovered").await;
    assert_eq!(server.metrics().snapshot().tracks, 3);
    no_media_failures(&mut teacher_events, "teacher");
    no_media_failures(&mut student_events, "student");
    student.leave().await;
    teacher.leave().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_that_cannot_be_opened_does_not_stop_the_class() {
    // A device node that is not there fails to open exactly as an unplugged or forbidden
    // camera does (v4l2src cannot open it); the class starts with the other tracks.
    let (server, teacher, mut teacher_events, student, mut student_events) =
        class(VideoInput::V4l2 {
            device: "/dev/video-classroom-missing".into(),
        })
        .await;
    let failed = wait_event(&mut teacher_events, "the camera failure", |e| {
        matches!(e, SessionEvent::TrackFailed { .. })
    })
    .await;
    let SessionEvent::TrackFailed { source, message } = failed else {
        unreachable!()
    };
    assert_eq!(source, Source::Camera);
    assert!(message.contains("video-classroom-missing"), "{message}");
    wait_for("all three tracks", &student, |c| {
        c.camera > 10 && c.screen > 3 && c.audio > 20
    })
    .await;
    all_tracks_flow(&student, 2, "no camera").await;
    // Switching to a camera that works recovers the track mid-class.
    teacher
        .set_camera(&VideoInput::Test {
            pattern: "ball".into(),
        })
        .expect("a working camera");
    wait_event(&mut teacher_events, "the camera to recover", |e| {
        matches!(e, SessionEvent::TrackRecovered(Source::Camera))
    })
    .await;
    no_media_failures(&mut teacher_events, "teacher");
    no_media_failures(&mut student_events, "student");
    student.leave().await;
    teacher.leave().await;
    server.shutdown().await;
}
