//! The server drops each peer connection's DTLS state once the handshake has settled
//! (`classroom_sfu::core::dtls`), and nothing a class does afterwards needs it: media keeps
//! flowing, losses are still repaired (NACKs and retransmissions are SRTCP and SRTP, not
//! DTLS), and a student who leaves is let go. str0m peers in virtual time; the counters are
//! process-wide, and nextest runs each test in a process of its own.

mod common;
use common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

use classroom_protocol::{Role, Transport};
use classroom_sfu::Metrics;
use classroom_sfu::core::{Sfu, dtls};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, MediaTime, Mid};

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
fn dtls_state_is_dropped_once_settled_and_the_class_carries_on_without_it() {
    let mut now = Instant::now();
    let metrics = Arc::new(Metrics::default());
    let mut sfu = Sfu::new(core_config(now), metrics.clone());
    let mut teacher = Peer::new(1, "127.0.0.1:6001", now);
    let mut student = Peer::new(2, "127.0.0.1:6002", now);
    sfu.connect(now, 1);
    sfu.connect(now, 2);
    sfu.handle_signal(now, 1, join("teacher", Role::Teacher, false));
    sfu.handle_signal(now, 2, join("student", Role::Student, true));

    let mut api = teacher.rtc.sdp_api();
    let cam = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
    let mic = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
    let (offer, pending): (SdpOffer, SdpPendingOffer) = api.apply().expect("offer");
    sfu.handle_signal(now, 1, camera_and_mic_offer(&offer, cam, mic));
    sfu.handle_signal(now, 1, teacher.candidate(Transport::Publish));
    let step = |sfu: &mut Sfu, t: &mut Peer, s: &mut Peer, now: &mut Instant, ms: u64| {
        run(sfu, &mut [t, s], now, Duration::from_millis(ms), |_, _| {})
    };
    step(&mut sfu, &mut teacher, &mut student, &mut now, 5);
    let answer = take_answer(&mut teacher).expect("the publish answer");
    teacher
        .rtc
        .sdp_api()
        .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).expect("sdp"))
        .expect("accept");
    step(&mut sfu, &mut teacher, &mut student, &mut now, 500);
    let (sdp, _) = take_offer(&mut student).expect("the subscribe offer");
    answer_subscribe_offer(&mut sfu, now, &mut student, &sdp);
    sfu.handle_signal(now, 2, student.candidate(Transport::Subscribe));

    // Both connections up and media flowing; nothing is dropped within the quiet period.
    let t0 = now;
    let mut feed = media(cam, mic, t0);
    run(
        &mut sfu,
        &mut [&mut teacher, &mut student],
        &mut now,
        Duration::from_secs(5),
        &mut feed,
    );
    assert!(teacher.connected && student.connected, "both connected");
    assert_eq!(
        dtls::released(),
        0,
        "nothing is dropped within {:?} of the handshake",
        dtls::QUIET
    );
    let before = student.media_in.len();
    assert!(before > 300, "media flows before: {before}");

    // Past the quiet period both of the server's connections (the teacher's publish and
    // the student's subscribe) have let go of their DTLS state.
    run(
        &mut sfu,
        &mut [&mut teacher, &mut student],
        &mut now,
        Duration::from_secs(8),
        &mut feed,
    );
    assert_eq!(
        dtls::released(),
        2,
        "the publish and the subscribe connection"
    );
    assert_eq!(
        metrics.snapshot().dtls_released,
        2,
        "and the snapshot says so"
    );

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
    step(&mut sfu, &mut teacher, &mut student, &mut now, 200);
    assert_eq!(metrics.snapshot().participants, participants - 1);
}
