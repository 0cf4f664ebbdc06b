//! Publisher unit tests: tracks left out, encoder fall-through, stand-ins.

use super::*;

fn next_offer(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<LocalSignal>,
    failed: &mut Vec<(Source, String)>,
) -> (String, Vec<PublishTrack>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        assert!(std::time::Instant::now() < deadline, "no offer");
        match rx.try_recv() {
            Ok(LocalSignal::Offer { sdp, tracks }) => return (sdp, tracks),
            Ok(LocalSignal::TrackFailed { source, message }) => failed.push((source, message)),
            Ok(_) => {}
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
}

fn config(camera: VideoInput) -> PublishConfig {
    PublishConfig {
        camera: Some(camera),
        camera_mode: (320, 240, 15),
        screen: None,
        microphone: Some(AudioInput::Test),
        ..PublishConfig::default()
    }
}

/// A hardware encoder whose plugin this machine lacks, if there is one.
fn absent_encoder() -> Option<VideoEncoder> {
    [
        VideoEncoder::NvH264,
        VideoEncoder::VaH264,
        VideoEncoder::VaapiH264,
        VideoEncoder::VideoToolboxH264,
        VideoEncoder::MediaFoundationH264,
    ]
    .into_iter()
    .find(|e| gst::ElementFactory::find(e.factory()).is_none())
}

#[test]
fn a_missing_encoder_leaves_its_track_out_and_the_rest_is_offered() {
    gst::init().expect("gst");
    let Some(absent) = absent_encoder() else {
        eprintln!("every hardware encoder plugin is present: nothing to leave out");
        return;
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let cfg = config(VideoInput::Test {
        pattern: "ball".into(),
    });
    let publisher = Publisher::start_with_encoders(&cfg, tx, vec![absent]).expect("start");
    let mut failed = Vec::new();
    let (_, tracks) = next_offer(&mut rx, &mut failed);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].0, Source::Camera);
    assert!(failed[0].1.contains(absent.factory()), "{failed:?}");
    assert_eq!(
        tracks.iter().map(|t| t.source).collect::<Vec<_>>(),
        vec![Source::Microphone]
    );
    assert!(publisher.pipeline().by_name("camera").is_none());
    assert_eq!(publisher.video_encoder(Source::Camera), None);

    // No candidate at all (nothing usable for the codec asked for) does the same.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let publisher = Publisher::start_with_encoders(&cfg, tx, Vec::new()).expect("start");
    let mut failed = Vec::new();
    let (_, tracks) = next_offer(&mut rx, &mut failed);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].1.contains("no usable video encoder"),
        "{failed:?}"
    );
    assert_eq!(tracks.len(), 1);
    drop(publisher);

    // And a camera alone with no encoder is nothing to publish: an error, not a panic.
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let alone = PublishConfig {
        microphone: None,
        ..cfg
    };
    let err = Publisher::start_with_encoders(&alone, tx, vec![absent])
        .err()
        .expect("no track at all is an error");
    assert!(matches!(err, MediaError::MissingElement(_)), "{err:?}");
}

#[test]
fn an_unusable_encoder_falls_through_to_the_next() {
    gst::init().expect("gst");
    let Some(absent) = absent_encoder() else {
        return;
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let cfg = config(VideoInput::Test {
        pattern: "ball".into(),
    });
    let publisher =
        Publisher::start_with_encoders(&cfg, tx, vec![absent, VideoEncoder::Vp8]).expect("start");
    let mut failed = Vec::new();
    let (sdp, tracks) = next_offer(&mut rx, &mut failed);
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(tracks.len(), 2);
    assert_eq!(
        publisher.video_encoder(Source::Camera),
        Some(VideoEncoder::Vp8)
    );
    assert!(sdp.contains("VP8/90000"), "{sdp}");
}

#[test]
fn a_camera_that_cannot_open_is_offered_with_its_stand_in() {
    gst::init().expect("gst");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let cfg = config(VideoInput::V4l2 {
        device: "/dev/video-classroom-missing".into(),
    });
    let publisher = Publisher::start(&cfg, tx).expect("start");
    let mut failed = Vec::new();
    let (sdp, tracks) = next_offer(&mut rx, &mut failed);
    assert_eq!(
        tracks.iter().map(|t| t.source).collect::<Vec<_>>(),
        vec![Source::Camera, Source::Microphone]
    );
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(publisher.is_track_failed(Source::Camera));
    // Every m-line announces its SSRC, the stand-in's too: the server needs it.
    assert_eq!(sdp.matches("m=").count(), 2, "{sdp}");
    assert!(sdp.matches("a=ssrc:").count() >= 2, "{sdp}");
    for m in sdp.split("m=").skip(1) {
        assert!(m.contains("a=ssrc:"), "an m-line without SSRC: {m}");
        assert!(m.contains("a=sendonly"), "{m}");
    }
    // And the stand-in's pictures reach the encoder.
    let frames = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = frames.clone();
    publisher
        .pipeline()
        .by_name("camera")
        .and_then(|b| b.static_pad("sink"))
        .expect("camera encoder")
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while frames.load(std::sync::atomic::Ordering::Relaxed) < 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "the stand-in sent no pictures"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // ... and the encoder the machine picked (H.264 where x264 exists) codes them. Until
    // DTLS is up webrtcbin holds the first packet, so one coded keyframe is all there is.
    let expected = VideoEncoder::detect(CodecChoice::Auto).first().copied();
    assert_eq!(publisher.video_encoder(Source::Camera), expected);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let stats = publisher.stats();
        let cam = stats.by_source(Source::Camera);
        if cam.is_some_and(|c| c.keyframes >= 1) {
            assert_eq!(
                cam.map(|c| c.encoder.as_str()),
                expected.map(VideoEncoder::factory)
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the stand-in was not encoded by {expected:?}: {stats:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn the_microphone_is_offered_with_audio_levels_and_video_without() {
    gst::init().expect("gst");
    if !crate::rtp_level::available() {
        eprintln!("SKIPPED: no rtphdrextclientaudiolevel in this GStreamer");
        return;
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let cfg = config(VideoInput::Test {
        pattern: "ball".into(),
    });
    let _publisher = Publisher::start(&cfg, tx).expect("start");
    let (sdp, tracks) = next_offer(&mut rx, &mut Vec::new());
    let sections: Vec<&str> = sdp.split("m=").skip(1).collect();
    assert_eq!(sections.len(), 2, "{sdp}");
    let audio = tracks
        .iter()
        .position(|t| t.source == Source::Microphone)
        .expect("microphone m-line");
    let extmap = format!(
        "a=extmap:{} {}",
        crate::rtp_level::OFFERED_ID,
        crate::rtp_level::URI
    );
    assert!(sections[audio].contains(&extmap), "{sdp}");
    assert!(!sections[1 - audio].contains("ssrc-audio-level"), "{sdp}");
}
