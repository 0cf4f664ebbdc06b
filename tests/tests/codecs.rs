//! Every software video encoder publishes through the real server: x264 and OpenH264 (H.264,
//! str0m's payload type adopted from its answer) and VP8. A student decodes the camera, and
//! the capture-time stamp drawn into each frame comes back intact after encode, SFU and
//! decode: readable, monotonic, and within sane bounds of the shared clock.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use classroom_client::{JoinOptions, Session, SessionEvent, connect};
use classroom_media::{
    CodecChoice, DecodedFrame, EncodedFrame, FrameSink, PublishConfig, VideoEncoder, stamp,
};
use classroom_protocol::{Role, Source, TrackInfo};
use classroom_sfu::ServerHandle;
use tokio::sync::mpsc::UnboundedReceiver;

/// A session's events.
type Events = UnboundedReceiver<SessionEvent>;

/// Collects (stamp, delay ms) of every decoded camera frame, and how many frames had none.
#[derive(Default)]
struct StampReader {
    read: Mutex<Vec<(u32, i64)>>,
    unreadable: Mutex<u64>,
}

impl FrameSink for StampReader {
    fn on_frame(&self, frame: &DecodedFrame<'_>) {
        if frame.track.source != Source::Camera {
            return;
        }
        let now = stamp::now_ms();
        match stamp::read_frame(frame) {
            Some(s) => self
                .read
                .lock()
                .expect("lock")
                .push((s, stamp::elapsed_ms(s, now))),
            None => *self.unreadable.lock().expect("lock") += 1,
        }
    }
}

/// A class on the real server where a teacher publishes a stamped 320x240 camera with
/// `encoder` and a student receives it into `sink`: the server, then each side's session and
/// events.
async fn class_with_camera(
    encoder: VideoEncoder,
    sink: Arc<dyn FrameSink>,
) -> (ServerHandle, (Session, Events), (Session, Events)) {
    let server = classroom_tests::class_server().await;
    let token = |name: &str, role| {
        server
            .mint_token("codecs", name, role, Duration::from_secs(600))
            .expect("token")
    };
    let publish = PublishConfig {
        camera_mode: (320, 240, 30),
        camera_bitrate: 500_000,
        video_codec: CodecChoice::Only(encoder),
        stamp_frames: true,
        ..classroom_tests::ball_camera(true)
    };
    let teacher = connect(JoinOptions {
        publish: Some(publish),
        ..JoinOptions::new(
            &server.url(),
            &token("t", Role::Teacher),
            "codecs",
            "Teacher",
            Role::Teacher,
        )
    })
    .await
    .expect("teacher joins");
    let student = connect(JoinOptions {
        frame_sink: Some(sink),
        ..JoinOptions::new(
            &server.url(),
            &token("s", Role::Student),
            "codecs",
            "Student",
            Role::Student,
        )
    })
    .await
    .expect("student joins");
    (server, teacher, student)
}

async fn publish_and_read_stamps(encoder: VideoEncoder) {
    let reader = Arc::new(StampReader::default());
    let (server, (teacher, mut teacher_events), (student, mut student_events)) =
        class_with_camera(encoder, reader.clone()).await;

    let deadline = Instant::now() + Duration::from_secs(20);
    while reader.read.lock().expect("lock").len() < 60 {
        if Instant::now() >= deadline {
            while let Ok(ev) = teacher_events.try_recv() {
                eprintln!("teacher: {ev:?}");
            }
            while let Ok(ev) = student_events.try_recv() {
                eprintln!("student: {ev:?}");
            }
            panic!(
                "{encoder:?}: {} stamped frames, {} unreadable, stats {:?}",
                reader.read.lock().expect("lock").len(),
                reader.unreadable.lock().expect("lock"),
                student.stats()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let the publisher's once-a-second statistics see the server's receiver reports.
    tokio::time::sleep(Duration::from_millis(2500)).await;

    assert_eq!(teacher.video_encoder(Source::Camera), Some(encoder));
    let read = reader.read.lock().expect("lock").clone();
    let unreadable = *reader.unreadable.lock().expect("lock");
    // Every stamp is a capture time no later than its decode and not absurdly old, and the
    // stamps come in capture order.
    for (s, delay) in &read {
        assert!(
            (0..5_000).contains(delay),
            "{encoder:?}: stamp {s} decoded {delay} ms after capture"
        );
    }
    assert!(
        read.windows(2).all(|w| w[1].0 > w[0].0),
        "{encoder:?}: stamps not increasing"
    );
    // The stamp must survive the codec on (nearly) every frame, not just by luck.
    assert!(
        unreadable * 10 <= read.len() as u64,
        "{encoder:?}: {unreadable} unreadable vs {} read",
        read.len()
    );
    let cam = student
        .stats()
        .by_source(Source::Camera)
        .cloned()
        .expect("camera track");
    assert_eq!(cam.resolution, Some((320, 240)));

    let sent = teacher.publish_stats();
    let cam_sent = sent.by_source(Source::Camera).expect("camera stats");
    assert_eq!(cam_sent.encoder, encoder.factory());
    assert!(
        cam_sent.rtp.packets_sent > 0 && cam_sent.sent_bitrate > 0,
        "{cam_sent:?}"
    );
    assert!(cam_sent.target_bitrate > 0, "{cam_sent:?}");
    assert_eq!(cam_sent.resolution, Some((320, 240)));
    assert!(sent.by_source(Source::Microphone).is_some(), "{sent:?}");
    eprintln!(
        "{encoder:?}: {} stamps, median delay {} ms, sent {cam_sent:?}",
        read.len(),
        {
            let mut d: Vec<i64> = read.iter().map(|r| r.1).collect();
            d.sort_unstable();
            d[d.len() / 2]
        }
    );
    while let Ok(ev) = student_events.try_recv() {
        assert!(!matches!(ev, SessionEvent::MediaFailed(_)), "{ev:?}");
    }
    student.leave().await;
    teacher.leave().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x264_camera_reaches_a_student_with_stamps_intact() {
    publish_and_read_stamps(VideoEncoder::X264).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openh264_camera_reaches_a_student_with_stamps_intact() {
    publish_and_read_stamps(VideoEncoder::OpenH264).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vp8_camera_reaches_a_student_with_stamps_intact() {
    publish_and_read_stamps(VideoEncoder::Vp8).await;
}

/// A sink that decodes on demand, as the app's: counts the camera's encoded and decoded
/// frames (and decoded frames whose stamp did not read) and wants decoding once told to.
#[derive(Default)]
struct OnDemand {
    want: AtomicBool,
    encoded: AtomicU64,
    decoded: AtomicU64,
    unreadable: AtomicU64,
}

impl FrameSink for OnDemand {
    fn on_frame(&self, frame: &DecodedFrame<'_>) {
        if frame.track.source == Source::Camera {
            self.decoded.fetch_add(1, Ordering::Relaxed);
            if stamp::read_frame(frame).is_none() {
                self.unreadable.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn wants_encoded(&self) -> bool {
        true
    }

    fn on_encoded(&self, frame: &EncodedFrame<'_>) {
        if frame.track.source == Source::Camera {
            self.encoded.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn decodes_on_demand(&self) -> bool {
        true
    }

    fn wants_decoded(&self, _track: &TrackInfo) -> bool {
        self.want.load(Ordering::Relaxed)
    }
}

/// Waits up to 20 s for `done`.
async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Nothing is decoded until the sink wants it, while the track's statistics count its
/// encoded frames and read its size from them; once wanted, decoding starts at a keyframe
/// (the first decoded frame is whole: its stamp reads) and keeps up.
async fn decodes_only_on_demand(encoder: VideoEncoder) {
    let sink = Arc::new(OnDemand::default());
    let (server, (teacher, _teacher_events), (student, _student_events)) =
        class_with_camera(encoder, sink.clone()).await;
    until("60 encoded frames", || {
        sink.encoded.load(Ordering::Relaxed) >= 60
    })
    .await;
    assert_eq!(
        sink.decoded.load(Ordering::Relaxed),
        0,
        "{encoder:?}: decoded unasked"
    );
    let camera = || {
        student
            .stats()
            .by_source(Source::Camera)
            .cloned()
            .expect("camera")
    };
    let cam = camera();
    assert!(cam.frames >= 60, "{encoder:?}: {cam:?}");
    assert_eq!(cam.resolution, Some((320, 240)), "{encoder:?}");
    assert!(
        cam.first_frame_at.is_some() && cam.fps() > 10.0,
        "{encoder:?}: {cam:?}"
    );

    sink.want.store(true, Ordering::Relaxed);
    until("60 decoded frames", || {
        sink.decoded.load(Ordering::Relaxed) >= 60
    })
    .await;
    let unreadable = sink.unreadable.load(Ordering::Relaxed);
    assert!(
        unreadable * 10 <= 60,
        "{encoder:?}: {unreadable} decoded frames without a readable stamp"
    );
    assert_eq!(camera().resolution, Some((320, 240)), "{encoder:?}");
    student.leave().await;
    teacher.leave().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vp8_is_decoded_only_once_the_sink_wants_it() {
    decodes_only_on_demand(VideoEncoder::Vp8).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_is_decoded_only_once_the_sink_wants_it() {
    decodes_only_on_demand(VideoEncoder::X264).await;
}
