//! The server drops each peer connection's DTLS state once the handshake has settled (the
//! peer heard under the keys, or quiet for `dtls::QUIET`; `classroom_sfu::core::dtls`), and
//! nothing a class does afterwards needs it: media keeps
//! flowing, losses are still repaired (NACKs and retransmissions are SRTCP and SRTP, not
//! DTLS), and a student who leaves is let go. str0m peers in virtual time; the counters are
//! process-wide, and nextest runs each test in a process of its own.

mod common;
use common::*;
use std::time::{Duration, Instant};

use classroom_sfu::core::dtls;
use str0m::format::Codec;
use str0m::media::{MediaTime, Mid};

/// One camera frame every 33 ms and one microphone packet every 20 ms from `t0`.
fn media(cam: Mid, mic: Mid, t0: Instant) -> impl FnMut(Instant, &mut [&mut Peer]) {
    let mut frame = 0u32;
    move |now, peers| {
        let elapsed = now - t0;
        let ms = elapsed.as_millis() as u32;
        let teacher = &mut peers[0];
        let (vp8, opus) = (
            pt_of(&teacher.rtc, Codec::Vp8),
            pt_of(&teacher.rtc, Codec::Opus),
        );
        if ms.is_multiple_of(20)
            && let Some(w) = teacher.rtc.writer(mic)
        {
            let _ = w.write(opus, now, MediaTime::from(elapsed), vec![0xfc, 0xff, 0xfe]);
        }
        if ms.is_multiple_of(33)
            && let Some(w) = teacher.rtc.writer(cam)
        {
            // Every tenth frame a keyframe (P bit clear), the others delta frames.
            let first = if frame.is_multiple_of(10) { 0x10 } else { 0x11 };
            let _ = w.write(
                vp8,
                now,
                MediaTime::from(elapsed),
                vec![first, 0x02, 0x00, frame as u8],
            );
            frame += 1;
        }
    }
}

#[test]
fn dtls_state_is_dropped_once_the_peer_is_heard_under_the_keys_and_the_class_carries_on() {
    let mut now = Instant::now();
    let TwoPeers {
        mut sfu,
        metrics,
        mut teacher,
        mut student,
        cam,
        mic,
    } = teacher_and_student(&mut now);
    accept_subscribe_offer(&mut sfu, now, &mut student, "the subscribe offer");

    // Media from now on. The teacher's first RTP packet and the student's first receiver
    // report (both through SRTP) prove that each peer completed its handshake: both of the
    // server's connections (the teacher's publish and the student's subscribe) let go of
    // their DTLS state then, long before the quiet period would have.
    let t0 = now;
    let mut feed = media(cam, mic, t0);
    while dtls::released() < 2 && now - t0 < dtls::QUIET {
        run(
            &mut sfu,
            &mut [&mut teacher, &mut student],
            &mut now,
            Duration::from_millis(100),
            &mut feed,
        );
    }
    let took = now - t0;
    eprintln!("both released {took:?} after media started");
    assert!(teacher.connected && student.connected, "both connected");
    assert_eq!(
        dtls::released(),
        2,
        "the publish and the subscribe connection"
    );
    assert!(
        took <= Duration::from_secs(3),
        "released {took:?} after media started, not after {:?}",
        dtls::QUIET
    );
    assert_eq!(
        metrics.snapshot().dtls_released,
        2,
        "and the snapshot says so"
    );
    run(
        &mut sfu,
        &mut [&mut teacher, &mut student],
        &mut now,
        Duration::from_secs(2),
        &mut feed,
    );
    let before = student.media_in.len();
    assert!(before > 100, "media flows: {before}");

    // Afterwards, on a network that loses 5 % of media: still delivered, and repaired.
    let nacks = metrics.snapshot().nacks_received;
    let received = student.media_in.len();
    let mut net = Net::impaired(0.05, Duration::from_millis(20), Duration::ZERO);
    run_net(
        &mut sfu,
        &mut [&mut teacher, &mut student],
        &mut now,
        Duration::from_secs(4),
        &mut net,
        &mut feed,
    );
    let after = student.media_in.len() - received;
    eprintln!(
        "before {before}, after release {after}, nacks {nacks} -> {}",
        metrics.snapshot().nacks_received
    );
    // 4 s: ~121 frames and 200 audio packets sent; audio is not resent, video is.
    assert!(
        after >= 290,
        "student got {after} of ~321 after the release"
    );
    assert!(
        metrics.snapshot().nacks_received > nacks,
        "losses after the release are NACKed and answered"
    );
    assert_eq!(
        dtls::ignored_after_release(),
        0,
        "str0m peers send no DTLS now"
    );

    // The student leaves: their connection is closed without DTLS.
    let participants = metrics.snapshot().participants;
    sfu.disconnect(now, 2);
    run(
        &mut sfu,
        &mut [&mut teacher, &mut student],
        &mut now,
        Duration::from_millis(200),
        |_, _| {},
    );
    assert_eq!(metrics.snapshot().participants, participants - 1);
}

#[test]
fn a_peer_never_heard_under_the_keys_is_let_go_after_the_quiet_period() {
    let mut now = Instant::now();
    let TwoPeers {
        mut sfu,
        mut teacher,
        mut student,
        cam,
        mic,
        ..
    } = teacher_and_student(&mut now);
    accept_subscribe_offer(&mut sfu, now, &mut student, "the subscribe offer");

    // Connected, but the teacher sends nothing yet, so the student has nothing to report
    // on either: neither peer is heard under the keys, and the state is kept.
    run(
        &mut sfu,
        &mut [&mut teacher, &mut student],
        &mut now,
        Duration::from_secs(5),
        |_, _| {},
    );
    assert!(teacher.connected && student.connected, "both connected");
    assert_eq!(dtls::released(), 0, "kept while the peers are silent");

    // After the quiet period, both are let go all the same.
    run(
        &mut sfu,
        &mut [&mut teacher, &mut student],
        &mut now,
        Duration::from_secs(6),
        |_, _| {},
    );
    assert_eq!(dtls::released(), 2, "released by the quiet period");

    // And media that starts only now flows under the keys kept in SRTP.
    let mut feed = media(cam, mic, now);
    run(
        &mut sfu,
        &mut [&mut teacher, &mut student],
        &mut now,
        Duration::from_secs(2),
        &mut feed,
    );
    let got = student.media_in.len();
    assert!(got > 100, "media after the release: {got}");
}

#[test]
fn a_publisher_with_a_data_channel_keeps_its_dtls_state() {
    let mut now = Instant::now();
    // The teacher's SCTP INIT (DTLS application data) is lost for the first 2 s, while its
    // SRTP gets through: the server hears the teacher under the keys before any SCTP.
    let mut net = Net::default();
    net.app_data_lost_until = Some(now + Duration::from_secs(2));
    let TwoPeers {
        mut sfu,
        mut teacher,
        mut student,
        cam,
        mic,
        ..
    } = teacher_and_student_with(&mut now, true, &mut net);
    accept_subscribe_offer(&mut sfu, now, &mut student, "the subscribe offer");

    // Media flows, so both peers are heard under the keys; the teacher's offer carried a
    // data channel, so its connection keeps DTLS, and the INIT sent again later opens it.
    let mut feed = media(cam, mic, now);
    run_net(
        &mut sfu,
        &mut [&mut teacher, &mut student],
        &mut now,
        Duration::from_secs(8),
        &mut net,
        &mut feed,
    );
    assert!(teacher.connected && student.connected, "both connected");
    assert!(net.app_data_lost > 0, "the first SCTP was lost");
    assert!(student.media_in.len() > 100, "media flows");
    assert_eq!(
        teacher.channels_open, 1,
        "the teacher's data channel opened"
    );
    assert_eq!(
        dtls::released(),
        1,
        "the student's subscribe connection only"
    );
}
