//! A student records the class as received: the teacher's camera and voice (and an
//! assistant's voice, mixed in), then the teacher's screen once it is shared, through the
//! real server, into a file that plays back with both pictures and the sound, and declares
//! its length. VP8 goes into WebM, H.264
//! (x264) into Matroska.

use std::time::{Duration, Instant};

use classroom_client::{Session, connect};
use classroom_media::{
    AudioInput, CodecChoice, PublishConfig, RecordChoice, Recorder, VideoEncoder, VideoInput,
    record::read_back,
};
use classroom_protocol::{Role, Source};
use classroom_sfu::ServerHandle;

/// Waits up to 20 s for `cond`; a timeout says what the class looked like (`report`), so a
/// failure on another machine can be read without reproducing it.
async fn wait_for(what: &str, cond: impl Fn() -> bool, report: &impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\n{}",
            report()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What a timed-out wait prints: what the student received, what the teacher sent and the
/// server's counters.
fn class_report(student: &Session, teacher: &Session, server: &ServerHandle) -> String {
    format!(
        "student received: {:#?}\nteacher sent: {:#?}\nserver: {:#?}",
        student.stats(),
        teacher.publish_stats(),
        server.metrics().snapshot()
    )
}

/// The track id and codec of what `student` receives from `source`.
fn received(student: &Session, source: Source) -> (String, Option<classroom_media::VideoCodec>) {
    let stats = student.stats();
    let track = stats.by_source(source).expect("received");
    (track.track.track_id.clone(), track.codec)
}

/// The packets received so far of each microphone track `student` receives.
fn voice_packets(student: &Session) -> Vec<(String, u64)> {
    student
        .stats()
        .tracks
        .into_iter()
        .filter(|t| t.track.source == Source::Microphone)
        .map(|t| (t.track.track_id, t.packets))
        .collect()
}

/// A test camera (a moving ball, 320x240 at 30 fps) in `encoder`, and a test tone.
fn camera_and_voice(encoder: VideoEncoder) -> PublishConfig {
    PublishConfig {
        camera_mode: (320, 240, 30),
        video_codec: CodecChoice::Only(encoder),
        ..classroom_tests::ball_camera(true)
    }
}

/// A test tone alone.
fn voice_only() -> PublishConfig {
    PublishConfig {
        camera: None,
        screen: None,
        microphone: Some(AudioInput::Test),
        ..PublishConfig::default()
    }
}

async fn record_the_class(encoder: VideoEncoder, mime: &str) {
    let server = classroom_tests::class_server().await;
    let room = "recording";
    let teacher_opts = classroom_tests::join_options(
        &server,
        room,
        "Teacher",
        Role::Teacher,
        Some(camera_and_voice(encoder)),
    );
    let (teacher, _teacher_events) = connect(teacher_opts).await.expect("teacher");
    // An assistant who speaks: a second voice in the class.
    let (_assistant, _assistant_events) = connect(classroom_tests::join_options(
        &server,
        room,
        "Mr. Ito",
        Role::Assistant,
        Some(voice_only()),
    ))
    .await
    .expect("assistant");
    let (student, _events) = connect(classroom_tests::join_options(
        &server,
        room,
        "Ada",
        Role::Student,
        None,
    ))
    .await
    .expect("student");
    let report = || class_report(&student, &teacher, &server);
    let frames = |source| {
        student
            .stats()
            .by_source(source)
            .map(|t| t.frames)
            .unwrap_or(0)
    };
    wait_for("camera frames", || frames(Source::Camera) > 10, &report).await;
    let microphones = || {
        voice_packets(&student)
            .into_iter()
            .filter(|(_, packets)| *packets > 10)
            .map(|(track, _)| track)
            .collect::<Vec<_>>()
    };
    wait_for("both voices", || microphones().len() == 2, &report).await;

    let (camera, codec) = received(&student, Source::Camera);
    let voices = microphones();
    let dir = tempfile::tempdir().expect("dir");
    let (extension, container) = Recorder::container(codec);
    assert_eq!(container, mime);
    let path = dir.path().join(format!("lesson.{extension}"));
    let recorder = Recorder::start(
        &path,
        codec,
        RecordChoice {
            video: Some(camera),
            audio: voices.clone(),
        },
    )
    .expect("recording starts");
    let started = Instant::now();
    let at_start = voice_packets(&student);
    student.record(recorder.clone());
    // The recorder starts at the camera's next keyframe, which it asks for.
    wait_for("recorded frames", || recorder.status().frames > 30, &report).await;

    teacher
        .share_screen(
            &VideoInput::Test {
                pattern: "smpte".into(),
            },
            (640, 360, 10),
            300_000,
        )
        .expect("share screen");
    wait_for("screen frames", || frames(Source::Screen) > 3, &report).await;
    let (screen, screen_codec) = received(&student, Source::Screen);
    assert_eq!(screen_codec, codec);
    recorder
        .set_choice(RecordChoice {
            video: Some(screen),
            audio: voices,
        })
        .expect("follow the screen");
    wait_for(
        "the switch to the screen",
        || recorder.status().switches == 1,
        &report,
    )
    .await;
    let at_switch = recorder.status().frames;
    wait_for(
        "screen frames recorded",
        || recorder.status().frames > at_switch + 10,
        &report,
    )
    .await;

    let summary = student
        .stop_recording()
        .expect("was recording")
        .finish()
        .expect("finished");
    let elapsed = started.elapsed();
    assert!(student.recorder().is_none());
    assert_eq!(summary.mime, mime);
    let played = read_back(&path).expect("the file plays");
    let sizes = |w, h| {
        played
            .frames
            .iter()
            .filter(|f| (f.0, f.1) == (w, h))
            .count()
    };
    assert!(sizes(320, 240) > 30, "camera frames: {played:?}");
    assert!(sizes(640, 360) > 10, "screen frames: {played:?}");
    assert_eq!(
        sizes(320, 240) + sizes(640, 360),
        played.frames.len(),
        "only the camera's and the screen's pictures"
    );
    let first_screen = played
        .frames
        .iter()
        .position(|f| f.0 == 640)
        .expect("screen");
    assert!(
        played.frames[first_screen..].iter().all(|f| f.0 == 640),
        "the camera does not come back after the switch"
    );
    let declared = played.declared.expect("a length");
    assert!(
        declared < elapsed + Duration::from_millis(200)
            && declared + Duration::from_secs(2) > elapsed,
        "declared {declared:?} for {elapsed:?} recorded"
    );
    assert!(
        played.audio + Duration::from_millis(500) > declared,
        "sound all along: {:?} of {declared:?}",
        played.audio
    );
    assert_eq!(played.frames.len() as u64, summary.status.frames);
    assert_eq!(summary.status.voices, 2, "both voices mixed: {summary:?}");
    // Both voices kept arriving while it recorded, each on its own: the file's sound alone
    // would not tell a voice that stopped after its first second (a receive branch held up
    // once did, at ~54 packets), as quiet voices are filled with silence.
    let at_stop = voice_packets(&student);
    for (track, before) in &at_start {
        let after = at_stop
            .iter()
            .find(|(t, _)| t == track)
            .map_or(0, |(_, n)| *n);
        let least = (25.0 * elapsed.as_secs_f64()) as u64;
        assert!(
            after >= before + least,
            "voice {track}: {before} -> {after} packets in {elapsed:?} of recording"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_student_records_the_teachers_camera_then_screen_and_voice_into_webm() {
    record_the_class(VideoEncoder::Vp8, "video/webm").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h264_class_is_recorded_into_matroska() {
    record_the_class(VideoEncoder::X264, "video/x-matroska").await;
}

/// A student records the class, comes on stage and asks a question: their own microphone
/// (which the server does not send back to them) goes into their recording beside the
/// teacher's voice, from the publish pipeline's encoder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_student_on_stage_records_their_own_question() {
    use classroom_client::SessionEvent;
    use classroom_protocol::ClassRequest;

    let server = classroom_tests::class_server().await;
    let room = "own-voice";
    let (teacher, _teacher_events) = connect(classroom_tests::join_options(
        &server,
        room,
        "Teacher",
        Role::Teacher,
        Some(camera_and_voice(VideoEncoder::Vp8)),
    ))
    .await
    .expect("teacher");
    let (student, mut events) = connect(classroom_tests::join_options(
        &server,
        room,
        "Ada",
        Role::Student,
        None,
    ))
    .await
    .expect("student");
    let ada = match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
        Ok(Some(SessionEvent::Joined { participant_id, .. })) => participant_id,
        other => panic!("Ada did not join: {other:?}"),
    };
    let report = || class_report(&student, &teacher, &server);
    wait_for(
        "the teacher's camera and voice",
        || {
            let stats = student.stats();
            stats
                .by_source(Source::Camera)
                .is_some_and(|t| t.frames > 10)
                && stats
                    .by_source(Source::Microphone)
                    .is_some_and(|t| t.packets > 10)
        },
        &report,
    )
    .await;
    let (camera, codec) = received(&student, Source::Camera);
    let (microphone, _) = received(&student, Source::Microphone);
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("lesson.webm");
    let recorder = Recorder::start(
        &path,
        codec,
        RecordChoice {
            video: Some(camera),
            audio: vec![microphone, classroom_media::LOCAL_MICROPHONE.into()],
        },
    )
    .expect("recording starts");
    student.record(recorder.clone());
    wait_for("recorded frames", || recorder.status().frames > 15, &report).await;
    assert_eq!(recorder.status().voices, 1, "only the teacher speaks yet");

    // On stage: the teacher brings her there, she starts her microphone.
    teacher.class(ClassRequest::SetStage {
        participant_id: ada,
        on_stage: true,
    });
    classroom_tests::wait_on_stage(&mut events).await;
    student.publish(Some(voice_only()));
    wait_for(
        "her own voice in the recording",
        || recorder.status().voices == 2,
        &report,
    )
    .await;
    let at_voice = recorder.status().audio_packets;
    wait_for(
        "more of both voices",
        || recorder.status().audio_packets > at_voice + 50,
        &report,
    )
    .await;
    let summary = student
        .stop_recording()
        .expect("was recording")
        .finish()
        .expect("finished");
    assert_eq!(summary.status.voices, 2, "{summary:?}");
    let played = read_back(&path).expect("the file plays");
    let declared = played.declared.expect("a length");
    assert!(
        played.audio + Duration::from_millis(500) > declared,
        "sound all along: {:?} of {declared:?}",
        played.audio
    );
}
