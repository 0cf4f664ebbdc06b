//! The server drops each peer connection's DTLS state once the handshake has settled
//! (`classroom_sfu::core::dtls`). With our real clients (GStreamer's webrtcbin, OpenSSL DTLS
//! on their side) the state goes as soon as each client is heard under the keys (the
//! teacher's media, a student's receiver reports or keyframe requests), and the class carries
//! on afterwards: the teacher's camera and voice keep reaching a student, and a student who
//! joins later is served as usual. The quiet period, the fallback for a peer never heard, is
//! lengthened to a minute for this process (ten seconds in a server), so every release here
//! comes from hearing GStreamer's SRTP and SRTCP.

use std::time::{Duration, Instant};

use classroom_protocol::{Role, Source};
use classroom_sfu::core::dtls;

const ROOM: &str = "dtls-release";

/// Decoded frames of the camera, or received packets of the microphone (audio is not
/// counted in frames).
fn frames(session: &classroom_client::Session, source: Source) -> u64 {
    session
        .stats()
        .tracks
        .iter()
        .filter(|t| t.track.source == source)
        .map(|t| match source {
            Source::Microphone => t.packets,
            _ => t.frames,
        })
        .sum()
}

async fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_carries_on_after_the_server_lets_go_of_dtls() {
    dtls::set_quiet(Duration::from_secs(60));
    let server = classroom_tests::class_server().await;
    let teacher_opts = classroom_tests::join_options(
        &server,
        ROOM,
        "Teacher",
        Role::Teacher,
        Some(classroom_tests::ball_camera(true)),
    );
    let (teacher, _teacher_events) = classroom_tests::connect_joined(teacher_opts).await;
    let opts = classroom_tests::join_options(&server, ROOM, "Ada", Role::Student, None);
    let (ada, _ada_events) = classroom_tests::connect_joined(opts).await;
    wait_for("Ada's first frames", Duration::from_secs(15), || {
        frames(&ada, Source::Camera) >= 5
    })
    .await;

    // The teacher's publish connection and Ada's subscribe connection let go.
    wait_for("two releases", Duration::from_secs(10), || {
        dtls::released() >= 2
    })
    .await;
    let (video, audio) = (
        frames(&ada, Source::Camera),
        frames(&ada, Source::Microphone),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let video_after = frames(&ada, Source::Camera) - video;
    let audio_after = frames(&ada, Source::Microphone) - audio;
    // 2 s of a 30 fps camera and 50 packets/s of Opus.
    assert!(
        video_after >= 30,
        "camera frames after the release: {video_after}"
    );
    assert!(
        audio_after >= 50,
        "voice frames after the release: {audio_after}"
    );

    // A student who joins now is served as usual, and is let go of in turn.
    let released = dtls::released();
    let opts = classroom_tests::join_options(&server, ROOM, "Grace", Role::Student, None);
    let (grace, _grace_events) = classroom_tests::connect_joined(opts).await;
    wait_for("Grace's frames", Duration::from_secs(15), || {
        frames(&grace, Source::Camera) >= 5
    })
    .await;
    wait_for("Grace's release", Duration::from_secs(10), || {
        dtls::released() > released
    })
    .await;
    let video = frames(&grace, Source::Camera);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(frames(&grace, Source::Camera) - video >= 15);
    assert_eq!(
        dtls::ignored_after_release(),
        0,
        "our clients send no DTLS after it"
    );

    grace.leave().await;
    ada.leave().await;
    teacher.leave().await;
    server.shutdown().await;
}
