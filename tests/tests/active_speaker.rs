//! Who is speaking, end to end: two people publish a microphone through GStreamer, whose
//! Opus packets carry RFC 6464 audio levels; the real server compares them and tells the
//! room, and a listening student's client reports the loud one. Muting one and unmuting the
//! other moves the highlight; muting both clears it. The student speaks only once the
//! teacher has brought her on stage, and a student the teacher mutes is not forwarded, what
//! ever her own app sends.

use std::time::{Duration, Instant};

use classroom_client::{JoinOptions, Session, SessionEvent, connect};
use classroom_media::{AudioInput, PublishConfig};
use classroom_protocol::{ClassRequest, Role};
use classroom_sfu::ServerHandle;
use tokio::sync::mpsc::UnboundedReceiver;

const ROOM: &str = "speakers";

/// Joins `name`; with `microphone`, publishing a 440 Hz tone at 0.2 (-17 dBov) and no video.
async fn join(
    server: &ServerHandle,
    name: &str,
    role: Role,
    microphone: bool,
) -> (Session, UnboundedReceiver<SessionEvent>, String) {
    let token = server
        .mint_token(ROOM, name, role, Duration::from_secs(600))
        .expect("token");
    let publish = microphone.then(tone);
    let (session, mut events) = connect(JoinOptions {
        publish,
        ..JoinOptions::new(&server.url(), &token, ROOM, name, role)
    })
    .await
    .expect("join");
    let id = match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
        Ok(Some(SessionEvent::Joined { participant_id, .. })) => participant_id,
        other => panic!("{name} did not join: {other:?}"),
    };
    // The publish pipeline starts just after the join is accepted.
    let deadline = Instant::now() + Duration::from_secs(10);
    while microphone && session.publisher_handle().is_none() {
        assert!(Instant::now() < deadline, "{name} never started publishing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (session, events, id)
}

/// The tone publisher's settings.
fn tone() -> PublishConfig {
    PublishConfig {
        camera: None,
        screen: None,
        microphone: Some(AudioInput::Test),
        ..PublishConfig::default()
    }
}

/// Waits for the room's active speaker to become `want`, returning its level in dBov.
/// Panics (with every speaker event seen) after 15 s.
async fn speaker_becomes(events: &mut UnboundedReceiver<SessionEvent>, want: Option<&str>) -> i8 {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, events.recv()).await {
            Ok(Some(SessionEvent::ActiveSpeaker {
                participant_id,
                level_dbov,
            })) => {
                if participant_id.as_deref() == want {
                    return level_dbov;
                }
                seen.push((participant_id, level_dbov));
            }
            Ok(Some(SessionEvent::MediaFailed(m))) => panic!("media failed: {m}"),
            Ok(Some(_)) => {}
            Ok(None) => panic!("the session ended; speaker events: {seen:?}"),
            Err(_) => panic!("the active speaker never became {want:?}; events: {seen:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_room_is_told_who_is_speaking_from_the_publishers_audio_levels() {
    let server = classroom_tests::class_server().await;
    let (teacher, _te, teacher_id) = join(&server, "Teacher", Role::Teacher, true).await;
    let (student, mut student_events, student_id) =
        join(&server, "Ada", Role::Student, false).await;
    // A student publishes only on stage: the teacher brings her there, then she starts.
    teacher.class(ClassRequest::SetStage {
        participant_id: student_id.clone(),
        on_stage: true,
    });
    classroom_tests::wait_on_stage(&mut student_events).await;
    student.publish(Some(tone()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while student.publisher_handle().is_none() {
        assert!(Instant::now() < deadline, "Ada never started publishing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The student starts muted: only the teacher is heard.
    student.set_microphone_muted(true).expect("mute");
    let (listener, mut events, _) = join(&server, "Grace", Role::Student, false).await;

    let level = speaker_becomes(&mut events, Some(&teacher_id)).await;
    // The tone is -17 dBov. The server announces a speaker while its smoothed level is still
    // rising from silence: above the speech threshold (-50), never above the tone.
    assert!((-50..=-15).contains(&level), "teacher's level {level} dBov");

    // The teacher stops, the student speaks: the highlight moves.
    teacher.set_microphone_muted(true).expect("mute");
    student.set_microphone_muted(false).expect("unmute");
    let level = speaker_becomes(&mut events, Some(&student_id)).await;
    assert!((-50..=-15).contains(&level), "student's level {level} dBov");

    // The teacher mutes her through the class: her app still sends the tone, but the server
    // forwards none of it, so nobody is speaking.
    teacher.class(ClassRequest::Mute {
        participant_id: Some(student_id.clone()),
    });
    speaker_becomes(&mut events, None).await;
    // Allowed to speak again, she is heard again.
    teacher.class(ClassRequest::AllowSpeak {
        participant_id: Some(student_id.clone()),
    });
    speaker_becomes(&mut events, Some(&student_id)).await;

    // Both muted by themselves: nobody is speaking.
    student.set_microphone_muted(true).expect("mute");
    speaker_becomes(&mut events, None).await;

    assert!(server.metrics().snapshot().active_speaker_changes >= 5);
    listener.leave().await;
    student.leave().await;
    teacher.leave().await;
    server.shutdown().await;
}
