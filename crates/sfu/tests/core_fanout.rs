//! The fan-out pool in the core, in virtual time: a teacher's camera and microphone reach a
//! class of students with the per-student work spread over two threads, and every student
//! gets exactly what the same class gets on one thread; and the same whether the datagrams
//! that arrived together are handed to the core together (as the driver does) or one by one.

mod common;
use common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

use classroom_protocol::{Role, Transport};
use classroom_sfu::Metrics;
use classroom_sfu::core::{Fanout, Sfu};
use str0m::change::SdpAnswer;
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, MediaTime};

const STUDENTS: u64 = 24;

/// What a class run gave.
struct Class {
    /// Each student's (video frames, audio frames), in student order.
    received: Vec<(usize, usize)>,
    metrics: classroom_sfu::MetricsSnapshot,
    /// The most datagrams handed to the core together.
    largest_batch: usize,
}

fn class_on(threads: usize, one_by_one: bool) -> Class {
    let largest_batch = std::cell::Cell::new(0);
    let mut now = Instant::now();
    let metrics = Arc::new(Metrics::default());
    let mut sfu = Sfu::new(core_config(now), metrics.clone());
    sfu.set_fanout(Fanout::new(threads).expect("threads").map(Arc::new));
    let mut teacher = Peer::new(1, "127.0.0.1:6001", now);
    let mut students: Vec<Peer> = (0..STUDENTS)
        .map(|i| Peer::new(10 + i, &format!("127.0.0.1:{}", 7000 + i), now))
        .collect();
    sfu.connect(now, 1);
    sfu.handle_signal(now, 1, join("teacher", Role::Teacher, false));
    for s in &students {
        sfu.connect(now, s.conn);
        sfu.handle_signal(
            now,
            s.conn,
            join(&format!("s{}", s.conn), Role::Student, true),
        );
    }
    let mut api = teacher.rtc.sdp_api();
    let cam = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
    let mic = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
    let (offer, pending) = api.apply().expect("offer");
    sfu.handle_signal(now, 1, camera_and_mic_offer(&offer, cam, mic));
    sfu.handle_signal(now, 1, teacher.candidate(Transport::Publish));
    let everyone = |sfu: &mut Sfu,
                    teacher: &mut Peer,
                    students: &mut [Peer],
                    now: &mut Instant,
                    dur,
                    f: &mut dyn FnMut(Instant, &mut [&mut Peer])| {
        let mut peers: Vec<&mut Peer> = std::iter::once(teacher)
            .chain(students.iter_mut())
            .collect();
        let mut net = if one_by_one {
            Net::one_by_one()
        } else {
            Net::default()
        };
        run_net(sfu, &mut peers, now, dur, &mut net, |t, p| f(t, p));
        largest_batch.set(largest_batch.get().max(net.largest_batch));
    };
    everyone(
        &mut sfu,
        &mut teacher,
        &mut students,
        &mut now,
        Duration::from_millis(5),
        &mut |_, _| {},
    );
    let answer = take_answer(&mut teacher).expect("publish answer");
    teacher
        .rtc
        .sdp_api()
        .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).expect("sdp"))
        .expect("accept");
    everyone(
        &mut sfu,
        &mut teacher,
        &mut students,
        &mut now,
        Duration::from_millis(500),
        &mut |_, _| {},
    );
    for s in &mut students {
        let (sdp, tracks) = take_offer(s).expect("the class's tracks are offered");
        assert_eq!(tracks.len(), 2);
        // Nothing reads a subscriber's transport-wide feedback, so it is not asked for.
        assert!(!sdp.contains("transport-wide-cc"), "{sdp}");
        assert!(
            sdp.contains("urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
            "{sdp}"
        );
        answer_subscribe_offer(&mut sfu, now, s, &sdp);
        sfu.handle_signal(now, s.conn, s.candidate(Transport::Subscribe));
    }
    let vp8 = pt_of(&teacher.rtc, Codec::Vp8);
    let opus = pt_of(&teacher.rtc, Codec::Opus);
    let t0 = now;
    let mut frame = 0u8;
    everyone(
        &mut sfu,
        &mut teacher,
        &mut students,
        &mut now,
        Duration::from_secs(2),
        &mut |now, peers| {
            let elapsed = now - t0;
            let ms = elapsed.as_millis() as u32;
            if ms.is_multiple_of(20)
                && let Some(w) = peers[0].rtc.writer(mic)
            {
                let _ = w.write(opus, now, MediaTime::from(elapsed), vec![0xfc, 0xff, 0xfe]);
            }
            if ms.is_multiple_of(33)
                && let Some(w) = peers[0].rtc.writer(cam)
            {
                // Keyframes (P bit clear) of a few packets each, so every copy is a burst.
                let _ = w.write(
                    vp8,
                    now,
                    MediaTime::from(elapsed),
                    [&[0x10, 0x02, 0x00, frame][..], &[7u8; 3000]].concat(),
                );
                frame = frame.wrapping_add(1);
            }
        },
    );
    assert_eq!(
        sfu.largest_audience(),
        STUDENTS as usize,
        "every student takes the teacher's tracks"
    );
    let received = students
        .iter()
        .map(|s| {
            let mut kinds = s
                .media_in
                .iter()
                .map(|(mid, _)| s.rtc.media(*mid).map(|m| m.kind()));
            let video = kinds
                .clone()
                .filter(|k| *k == Some(MediaKind::Video))
                .count();
            let audio = kinds
                .by_ref()
                .filter(|k| *k == Some(MediaKind::Audio))
                .count();
            (video, audio)
        })
        .collect();
    Class {
        received,
        metrics: metrics.snapshot(),
        largest_batch: largest_batch.get(),
    }
}

#[test]
fn a_class_on_two_threads_receives_what_it_does_on_one() {
    let Class {
        received: one,
        metrics: m1,
        ..
    } = class_on(1, false);
    let Class {
        received: two,
        metrics: m2,
        ..
    } = class_on(2, false);
    eprintln!("one thread: {one:?}\ntwo threads: {two:?}");
    for (i, &(video, audio)) in two.iter().enumerate() {
        assert!(
            video >= 50,
            "student {i} got {video} of ~60 video frames on two threads"
        );
        assert!(
            audio >= 90,
            "student {i} got {audio} of ~100 audio frames on two threads"
        );
    }
    assert_eq!(
        one, two,
        "each student gets the same on one thread and on two"
    );
    assert_eq!(m1.fanout_spread, 0, "one thread: no pool");
    assert!(
        m2.fanout_spread >= 50 * STUDENTS,
        "the students' copies were polled on the pool ({} connections)",
        m2.fanout_spread
    );
    assert_eq!(m1.media_forwarded, m2.media_forwarded);
    assert_eq!(m2.udp_dropped, 0);
}

#[test]
fn datagrams_handed_in_together_reach_the_class_as_when_handed_in_one_by_one() {
    let together = class_on(1, false);
    let alone = class_on(1, true);
    assert!(
        together.largest_batch >= 3,
        "a keyframe's packets arrived together ({} at most)",
        together.largest_batch
    );
    assert_eq!(alone.largest_batch, 1);
    for (i, &(video, audio)) in together.received.iter().enumerate() {
        assert!(video >= 50, "student {i} got {video} of ~60 video frames");
        assert!(audio >= 90, "student {i} got {audio} of ~100 audio frames");
    }
    assert_eq!(
        together.received, alone.received,
        "each student gets the same either way"
    );
    assert_eq!(
        together.metrics.media_forwarded,
        alone.metrics.media_forwarded
    );
    assert_eq!(together.metrics.udp_dropped, 0);
}

#[test]
fn copies_are_encrypted_at_once_not_queued_for_a_poll_of_each_student() {
    for threads in [1, 2] {
        let Class {
            received,
            metrics: m,
            ..
        } = class_on(threads, false);
        for (i, &(video, audio)) in received.iter().enumerate() {
            assert!(video >= 50, "student {i} got {video} of ~60 video frames");
            assert!(audio >= 90, "student {i} got {audio} of ~100 audio frames");
        }
        eprintln!(
            "{threads} thread(s): {} copies, {} through the send queue",
            m.media_forwarded, m.media_forwarded_queued
        );
        // A stream's packets go through str0m's queue only before its first timeout (or
        // behind packets already queued); the class's copies go out as they are made.
        assert!(
            m.media_forwarded_queued * 20 <= m.media_forwarded,
            "{threads} thread(s): {} of {} copies waited in a send queue",
            m.media_forwarded_queued,
            m.media_forwarded
        );
        assert_eq!(m.udp_dropped, 0);
    }
}
