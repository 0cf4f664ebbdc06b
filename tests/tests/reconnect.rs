//! A student's network drops in the middle of a class: the client notices, reconnects by
//! itself through the same address, joins again as the same participant (hand still up),
//! and the teacher's video comes back — all without the app doing anything.
//!
//! The drop is real: the student's signaling goes through a TCP relay that the test cuts
//! (both sides closed at once, as a Wi-Fi drop looks to the server once TCP notices).

use std::time::{Duration, Instant};

use classroom_client::{JoinOptions, SessionEvent, connect};
use classroom_protocol::{ClassEvent, ClassRequest, Role, Source};
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const ROOM: &str = "reconnect";

/// Relays TCP from a local port to `target`; every relayed connection ends when the
/// generation number is bumped.
async fn relay(target: std::net::SocketAddr) -> (std::net::SocketAddr, watch::Sender<u64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
    let addr = listener.local_addr().expect("addr");
    let (cut, generation) = watch::channel(0u64);
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let mut generation = generation.clone();
            // Only a cut after this connection was made ends it.
            generation.borrow_and_update();
            tokio::spawn(async move {
                let Ok(mut server) = TcpStream::connect(target).await else {
                    return;
                };
                tokio::select! {
                    _ = copy_bidirectional(&mut client, &mut server) => {}
                    _ = generation.changed() => {}
                }
            });
        }
    });
    (addr, cut)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_student_comes_back_by_itself_as_the_same_participant() {
    let server = classroom_tests::class_server().await;
    let teacher_opts = classroom_tests::join_options(
        &server,
        ROOM,
        "Teacher",
        Role::Teacher,
        Some(classroom_tests::ball_camera(false)),
    );
    let (teacher, _teacher_events) = classroom_tests::connect_joined(teacher_opts).await;

    let (relay_addr, cut) = relay(server.signaling_addr()).await;
    let token = server
        .mint_token(ROOM, "ada", Role::Student, Duration::from_secs(600))
        .expect("token");
    let opts = JoinOptions::new(
        &format!("ws://{relay_addr}/ws"),
        &token,
        ROOM,
        "Ada",
        Role::Student,
    );
    let (student, mut events) = connect(opts).await.expect("connect");
    let mut participant = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    // Joined, then the hand goes up and the teacher's camera decodes.
    while participant.is_none() || student_frames(&student) < 10 {
        assert!(Instant::now() < deadline, "never joined and received video");
        if let Ok(Some(SessionEvent::Joined { participant_id, .. })) =
            tokio::time::timeout(Duration::from_millis(100), events.recv()).await
        {
            participant = Some(participant_id);
            student.class(ClassRequest::RaiseHand);
        }
    }
    let participant = participant.expect("joined");

    // The network drops.
    cut.send_modify(|g| *g += 1);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut reconnecting = false;
    let mut resumed = None;
    while resumed.is_none() {
        assert!(
            Instant::now() < deadline,
            "did not reconnect (reconnecting seen: {reconnecting})"
        );
        match tokio::time::timeout(Duration::from_millis(200), events.recv()).await {
            Ok(Some(SessionEvent::Reconnecting { .. })) => reconnecting = true,
            Ok(Some(SessionEvent::Reconnected { participant_id })) => {
                resumed = Some(participant_id)
            }
            Ok(Some(SessionEvent::Closed { reason, .. })) => panic!("gave up: {reason}"),
            _ => {}
        }
    }
    assert!(reconnecting, "the app is told while it reconnects");
    assert_eq!(resumed.as_deref(), Some(participant.as_str()));
    // The class kept her hand up, and the teacher's camera decodes again on the new
    // pipelines.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut hand = None;
    loop {
        if let Ok(Some(SessionEvent::Class(ev))) =
            tokio::time::timeout(Duration::from_millis(100), events.recv()).await
            && let ClassEvent::State { you, .. } = *ev
        {
            hand = you.hand_position;
        }
        if hand.is_some() && student_frames(&student) > 10 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after reconnecting: hand {hand:?}, frames {}",
            student_frames(&student)
        );
    }
    assert_eq!(hand, Some(1));
    student.leave().await;
    teacher.leave().await;
    server.shutdown().await;
}

/// Camera frames the student's current subscriber has decoded.
fn student_frames(student: &classroom_client::Session) -> u64 {
    student
        .stats()
        .tracks
        .iter()
        .filter(|t| t.track.source == Source::Camera)
        .map(|t| t.frames)
        .sum()
}
