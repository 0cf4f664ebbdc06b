//! The core over an imperfect network and with simulcast, in virtual time: loss repaired by
//! NACKs answered from the SFU's retransmission cache, layers chosen per subscriber and
//! switched at keyframes, and the active speaker from RFC 6464 audio levels.

mod common;
use common::*;

use std::sync::Arc;
use std::time::{Duration, Instant};

use classroom_protocol::{
    ClassRequest, ClientMessage, ErrorCode, PublishTrack, Role, ServerMessage,
    SimulcastLayer as DeclaredLayer, Source, SubscribedTrack, Transport,
};
use classroom_sfu::Metrics;
use classroom_sfu::core::Sfu;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, MediaTime, Mid, Rid, Simulcast, SimulcastLayer};

/// A room with a connected teacher whose offer (built by `offer`) is answered, and students
/// who answered their subscribe offers. Returns the students' track lists.
fn class(
    sfu: &mut Sfu,
    now: &mut Instant,
    teacher: &mut Peer,
    students: &mut [&mut Peer],
    net: &mut Net,
    offer: impl FnOnce(&mut Peer) -> (SdpOffer, SdpPendingOffer, Vec<PublishTrack>),
) -> Vec<Vec<SubscribedTrack>> {
    sfu.connect(*now, teacher.conn);
    sfu.handle_signal(*now, teacher.conn, join("teacher", Role::Teacher, false));
    for s in students.iter_mut() {
        sfu.connect(*now, s.conn);
        let name = format!("student{}", s.conn);
        sfu.handle_signal(*now, s.conn, join(&name, Role::Student, true));
    }
    let (sdp, pending, tracks) = offer(teacher);
    sfu.handle_signal(
        *now,
        teacher.conn,
        ClientMessage::Offer {
            sdp: sdp.to_sdp_string(),
            tracks,
        },
    );
    sfu.handle_signal(*now, teacher.conn, teacher.candidate(Transport::Publish));
    run_net(
        sfu,
        &mut [&mut *teacher],
        now,
        Duration::from_millis(5),
        net,
        |_, _| {},
    );
    let answer = take_answer(teacher).expect("publish answer");
    teacher
        .rtc
        .sdp_api()
        .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).expect("sdp"))
        .expect("accept");
    let mut all: Vec<&mut Peer> = vec![teacher];
    all.extend(students.iter_mut().map(|s| &mut **s));
    run_net(
        sfu,
        &mut all,
        now,
        Duration::from_millis(500),
        net,
        |_, _| {},
    );
    let mut lists = Vec::new();
    for s in students.iter_mut() {
        let (sdp, tracks) = take_offer(s).expect("subscribe offer");
        answer_subscribe_offer(sfu, *now, s, &sdp);
        sfu.handle_signal(*now, s.conn, s.candidate(Transport::Subscribe));
        lists.push(tracks);
    }
    lists
}

fn mid_of(tracks: &[SubscribedTrack], source: Source) -> Mid {
    let t = tracks
        .iter()
        .find(|t| t.track.source == source)
        .expect("track");
    t.mid.as_str().into()
}

fn pt(peer: &Peer, codec: Codec) -> str0m::media::Pt {
    peer.rtc
        .codec_config()
        .find(|p| p.spec().codec == codec)
        .map(|p| p.pt())
        .expect("codec")
}

#[test]
fn loss_delay_and_reordering_are_repaired_by_nacks_from_the_sfu_cache() {
    let mut now = Instant::now();
    let metrics = Arc::new(Metrics::default());
    let mut sfu = Sfu::new(core_config(now), metrics.clone());
    let mut teacher = Peer::new(1, "127.0.0.1:6001", now);
    let mut student = Peer::new(2, "127.0.0.1:6002", now);
    // 4% loss each way on every hop, 25 ms delay, up to 20 ms jitter: packets of one frame
    // (sent together) overtake each other.
    let mut net = Net::impaired(0.04, Duration::from_millis(25), Duration::from_millis(20));
    let mut cam = None;
    let lists = class(
        &mut sfu,
        &mut now,
        &mut teacher,
        &mut [&mut student],
        &mut net,
        |t| {
            let mut api = t.rtc.sdp_api();
            let mid = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
            cam = Some(mid);
            let (o, p) = api.apply().expect("offer");
            (
                o,
                p,
                vec![PublishTrack::new(mid.to_string(), Source::Camera)],
            )
        },
    );
    let cam = cam.expect("camera mid");
    let sub_mid = mid_of(&lists[0], Source::Camera);
    let vp8 = pt(&teacher, Codec::Vp8);
    run_net(
        &mut sfu,
        &mut [&mut teacher, &mut student],
        &mut now,
        Duration::from_millis(500),
        &mut net,
        |_, _| {},
    );
    let t0 = now;
    let mut sent = 0usize;
    run_net(
        &mut sfu,
        &mut [&mut teacher, &mut student],
        &mut now,
        Duration::from_secs(6),
        &mut net,
        |now, peers| {
            let elapsed = now - t0;
            if elapsed.as_millis().is_multiple_of(33)
                && let Some(w) = peers[0].rtc.writer(cam)
            {
                // 3000 bytes: three RTP packets per frame, so a frame needs all three.
                let mut frame = vec![0u8; 3000];
                frame[0] = 0x10;
                frame[1] = sent as u8;
                if w.write(vp8, now, MediaTime::from(elapsed), frame).is_ok() {
                    sent += 1;
                }
            }
        },
    );
    // Let retransmissions of the last frames land.
    run_net(
        &mut sfu,
        &mut [&mut teacher, &mut student],
        &mut now,
        Duration::from_millis(500),
        &mut net,
        |_, _| {},
    );
    let got = student
        .media_in
        .iter()
        .filter(|(m, len)| *m == sub_mid && *len == 3000)
        .count();
    let m = metrics.snapshot();
    eprintln!(
        "out {} sent {sent} frames; student got {got}; net lost {} and reordered {} datagrams; \
         NACKs at the SFU {}; lost in {} out {}",
        m.udp_packets_out,
        net.lost,
        net.reordered,
        m.nacks_received,
        m.packets_lost_in,
        m.packets_lost_out
    );
    assert!(
        net.lost > 50 && net.reordered > 50,
        "the network really was bad"
    );
    // Without repair about 1 - 0.96^6 = 22% of 3-packet frames would be missing.
    assert!(
        got * 100 >= sent * 95,
        "student got {got} of {sent} frames: loss was not repaired"
    );
    assert!(
        m.nacks_received > 0,
        "the student's NACKs reached the SFU and were counted"
    );
    // The repairs came from the track's shared cache, as RTX. Some NACKs go unanswered:
    // packets the SFU had not received yet (lost on the teacher's leg, forwarded once the
    // teacher's own retransmission came).
    eprintln!("resent {} unanswered {}", m.rtx_resent, m.rtx_unanswered);
    assert!(
        m.rtx_resent > 0,
        "NACKs were answered from the shared cache"
    );
    assert!(
        m.rtx_resent + m.rtx_unanswered <= m.nacks_received * 17,
        "no more answers than asked for (a NACK names up to 17 packets)"
    );
    // Both peers offer AEAD-AES-GCM (str0m with OpenSSL does), so both DTLS handshakes with
    // the SFU picked a GCM profile, not AES128_CM_SHA1_80.
    eprintln!("SRTP profiles negotiated: {:04x?}", net.srtp_profiles);
    assert_eq!(net.srtp_profiles.len(), 2, "{:?}", net.srtp_profiles);
    assert!(
        net.srtp_profiles
            .iter()
            .all(|p| *p == 0x0007 || *p == 0x0008),
        "{:04x?}",
        net.srtp_profiles
    );
}

fn simulcast_offer(t: &mut Peer) -> (SdpOffer, SdpPendingOffer, Vec<PublishTrack>) {
    let mut sim = Simulcast::new();
    for rid in ["l", "m", "h"] {
        sim.add_send_layer(SimulcastLayer::new(rid));
    }
    let mut api = t.rtc.sdp_api();
    let mid = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, Some(sim));
    let (o, p) = api.apply().expect("offer");
    let layers = [("l", 320, 180), ("m", 640, 360), ("h", 1280, 720)]
        .iter()
        .map(|(rid, width, height)| DeclaredLayer {
            rid: (*rid).into(),
            width: *width,
            height: *height,
        })
        .collect();
    let mut track = PublishTrack::new(mid.to_string(), Source::Camera);
    track.layers = layers;
    (o, p, vec![track])
}

/// Which layer (0 = l, 1 = m, 2 = h) each received frame came from, in order.
fn layers_seen(p: &Peer, mid: Mid) -> Vec<u8> {
    p.payloads
        .iter()
        .filter(|(m, _)| *m == mid)
        .filter_map(|(_, d)| d.get(1).copied())
        .collect()
}

#[test]
fn simulcast_layers_follow_each_viewport_and_switch_at_keyframes() {
    let mut now = Instant::now();
    let metrics = Arc::new(Metrics::default());
    let mut sfu = Sfu::new(core_config(now), metrics.clone());
    let mut teacher = Peer::new(1, "127.0.0.1:6001", now);
    let mut big = Peer::new(2, "127.0.0.1:6002", now);
    let mut small = Peer::new(3, "127.0.0.1:6003", now);
    big.keep_payloads = true;
    small.keep_payloads = true;
    let mut net = Net::default();
    let mut cam = None;
    let lists = class(
        &mut sfu,
        &mut now,
        &mut teacher,
        &mut [&mut big, &mut small],
        &mut net,
        |t| {
            let (o, p, tracks) = simulcast_offer(t);
            cam = Some(Mid::from(tracks[0].mid.as_str()));
            (o, p, tracks)
        },
    );
    let cam = cam.expect("camera mid");
    let track_id = lists[1][0].track.track_id.clone();
    let (big_mid, small_mid) = (
        mid_of(&lists[0], Source::Camera),
        mid_of(&lists[1], Source::Camera),
    );
    // The small student shows the camera as a thumbnail.
    sfu.handle_signal(
        now,
        3,
        ClientMessage::Viewport {
            track_id: track_id.clone(),
            width: 320,
            height: 180,
        },
    );
    let vp8 = pt(&teacher, Codec::Vp8);
    let t0 = now;
    let mut frame = 0u32;
    let mut send = |now: Instant, peers: &mut [&mut Peer]| {
        let elapsed = now - t0;
        if !elapsed.as_millis().is_multiple_of(33) {
            return;
        }
        // A keyframe every 15 frames (P bit clear), otherwise delta frames.
        let key = frame.is_multiple_of(15);
        for (i, (rid, size)) in [("l", 200), ("m", 600), ("h", 1100)].iter().enumerate() {
            let mut data = vec![0u8; *size];
            data[0] = if key { 0x10 } else { 0x11 };
            data[1] = i as u8;
            if let Some(w) = peers[0].rtc.writer(cam) {
                let _ = w
                    .rid(Rid::from(*rid))
                    .write(vp8, now, MediaTime::from(elapsed), data);
            }
        }
        frame += 1;
    };
    run_net(
        &mut sfu,
        &mut [&mut teacher, &mut big, &mut small],
        &mut now,
        Duration::from_secs(3),
        &mut net,
        &mut send,
    );
    let (b, s) = (layers_seen(&big, big_mid), layers_seen(&small, small_mid));
    eprintln!(
        "big got {} frames (last {:?}), small got {} (last {:?})",
        b.len(),
        b.last(),
        s.len(),
        s.last()
    );
    assert!(b.len() > 60 && s.len() > 60, "both receive video");
    assert!(
        b.iter().rev().take(30).all(|&l| l == 2),
        "the full-size viewer gets the 720p layer"
    );
    assert!(
        s.iter().rev().take(30).all(|&l| l == 0),
        "the thumbnail viewer gets the 180p layer"
    );
    // Each receives one layer at a time: never two frames per frame interval.
    assert!(b.len() <= 91 && s.len() <= 91, "3 s at 30 fps is 91 frames");

    // The small student goes full screen: the next keyframe of "h" switches it up, and the
    // frames before that keep coming from "l" (no freeze while waiting).
    big.payloads.clear();
    small.payloads.clear();
    sfu.handle_signal(
        now,
        3,
        ClientMessage::Viewport {
            track_id,
            width: 1280,
            height: 720,
        },
    );
    run_net(
        &mut sfu,
        &mut [&mut teacher, &mut big, &mut small],
        &mut now,
        Duration::from_secs(2),
        &mut net,
        &mut send,
    );
    let s = layers_seen(&small, small_mid);
    let first_high = s.iter().position(|&l| l == 2).expect("switched up");
    assert!(
        s[..first_high].iter().all(|&l| l == 0),
        "low layer until the switch"
    );
    assert!(
        s[first_high..].iter().all(|&l| l == 2),
        "high layer after the switch"
    );
    assert!(
        s.len() >= 55,
        "no gap around the switch: {} frames in 2 s",
        s.len()
    );
    assert!(
        first_high <= 16,
        "switched at the first keyframe, after {first_high} frames"
    );
}

#[test]
fn the_loudest_microphone_is_announced_as_active_speaker() {
    let mut now = Instant::now();
    let metrics = Arc::new(Metrics::default());
    let mut sfu = Sfu::new(core_config(now), metrics.clone());
    let mut teacher = Peer::new(1, "127.0.0.1:6001", now);
    let mut student = Peer::new(2, "127.0.0.1:6002", now);
    let mut net = Net::default();
    let mut mic = None;
    class(
        &mut sfu,
        &mut now,
        &mut teacher,
        &mut [&mut student],
        &mut net,
        |t| {
            let mut api = t.rtc.sdp_api();
            let mid = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
            mic = Some(mid);
            let (o, p) = api.apply().expect("offer");
            (
                o,
                p,
                vec![PublishTrack::new(mid.to_string(), Source::Microphone)],
            )
        },
    );
    let mic = mic.expect("mic");
    let opus = pt(&teacher, Codec::Opus);
    let t0 = now;
    let mut level = 20i8;
    let mut talk = |now: Instant, peers: &mut [&mut Peer]| {
        let elapsed = now - t0;
        if elapsed.as_millis().is_multiple_of(20)
            && let Some(w) = peers[0].rtc.writer(mic)
        {
            let _ = w.audio_level(level, level < 100).write(
                opus,
                now,
                MediaTime::from(elapsed),
                vec![0xfc, 0xff, 0xfe],
            );
        }
    };
    run_net(
        &mut sfu,
        &mut [&mut teacher, &mut student],
        &mut now,
        Duration::from_secs(2),
        &mut net,
        &mut talk,
    );
    let speakers: Vec<(Option<String>, i8)> = student
        .inbox
        .drain(..)
        .filter_map(|m| match m {
            ServerMessage::ActiveSpeaker {
                participant_id,
                level_dbov,
                ..
            } => Some((participant_id, level_dbov)),
            _ => None,
        })
        .collect();
    assert_eq!(speakers.len(), 1, "{speakers:?}");
    assert_eq!(speakers[0].0.as_deref(), Some("p1"));
    assert!(speakers[0].1 > -50, "announced as speech: {speakers:?}");
    // Someone joining while the teacher talks is told at once, not at the next change.
    let mut late = Peer::new(3, "127.0.0.1:6003", now);
    sfu.connect(now, late.conn);
    sfu.handle_signal(now, late.conn, join("late", Role::Student, false));
    run_net(
        &mut sfu,
        &mut [&mut teacher, &mut student, &mut late],
        &mut now,
        Duration::from_millis(20),
        &mut net,
        &mut talk,
    );
    let told: Vec<Option<String>> = late
        .inbox
        .iter()
        .filter_map(|m| match m {
            ServerMessage::ActiveSpeaker { participant_id, .. } => Some(participant_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(told, [Some("p1".to_owned())]);
    assert!(
        !student
            .inbox
            .iter()
            .any(|m| matches!(m, ServerMessage::ActiveSpeaker { .. })),
        "the others are not told again"
    );
    // The teacher stops talking: the room goes quiet.
    level = 127;
    let _ = level;
    let mut silent = |now: Instant, peers: &mut [&mut Peer]| {
        let elapsed = now - t0;
        if elapsed.as_millis().is_multiple_of(20)
            && let Some(w) = peers[0].rtc.writer(mic)
        {
            let _ = w.audio_level(127, false).write(
                opus,
                now,
                MediaTime::from(elapsed),
                vec![0xf8, 0xff, 0xfe],
            );
        }
    };
    run_net(
        &mut sfu,
        &mut [&mut teacher, &mut student],
        &mut now,
        Duration::from_secs(2),
        &mut net,
        &mut silent,
    );
    let quiet = student.inbox.iter().any(|m| {
        matches!(
            m,
            ServerMessage::ActiveSpeaker {
                participant_id: None,
                ..
            }
        )
    });
    assert!(quiet, "silence clears the active speaker");
    assert_eq!(metrics.snapshot().active_speaker_changes, 2);
}

#[test]
fn whip_ingest_reaches_websocket_students_and_whep_viewers() {
    let mut now = Instant::now();
    let metrics = Arc::new(Metrics::default());
    let mut sfu = Sfu::new(core_config(now), metrics.clone());
    let mut obs = Peer::new(10, "127.0.0.1:6010", now);
    let mut student = Peer::new(2, "127.0.0.1:6002", now);
    let mut player = Peer::new(11, "127.0.0.1:6011", now);
    let mut net = Net::default();

    // Refusals first: a bad token, a bad offer, and a token that may not publish.
    let err =
        |r: Result<String, (classroom_protocol::ErrorCode, String)>| r.expect_err("refused").0;
    use classroom_protocol::ErrorCode;
    assert_eq!(
        err(sfu.whip_publish(now, 20, "not-a-token", "r", "v=0")),
        ErrorCode::Unauthorized
    );
    assert_eq!(
        err(sfu.whip_publish(now, 21, &token("obs", Role::Teacher), "r", "v=0\r\nbogus")),
        ErrorCode::BadSdp
    );
    assert_eq!(
        err(sfu.whep_subscribe(now, 22, &token("obs", Role::Teacher), "other-room", "v=0")),
        ErrorCode::Unauthorized
    );
    assert_eq!(
        metrics.snapshot().participants,
        0,
        "refused sessions leave nothing behind"
    );

    // OBS offers audio and video with its candidate in the SDP (no trickle).
    let mut api = obs.rtc.sdp_api();
    let mic = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
    let cam = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
    let (offer, pending) = api.apply().expect("offer");
    let answer = sfu
        .whip_publish(
            now,
            10,
            &token("obs", Role::Teacher),
            "r",
            &offer.to_sdp_string(),
        )
        .expect("WHIP answer");
    obs.rtc
        .sdp_api()
        .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).expect("sdp"))
        .expect("accept");
    // A websocket student joins as usual.
    sfu.connect(now, 2);
    sfu.handle_signal(now, 2, join("student2", Role::Student, true));
    run_net(
        &mut sfu,
        &mut [&mut obs, &mut student],
        &mut now,
        Duration::from_millis(500),
        &mut net,
        |_, _| {},
    );
    let tracks = accept_subscribe_offer(
        &mut sfu,
        now,
        &mut student,
        "the student is offered OBS's tracks",
    );
    assert_eq!(tracks.len(), 2);

    // A WHEP player offers receive-only audio and video.
    whep_watch(&mut sfu, now, &mut player, &token("player", Role::Observer));

    let (vp8, opus) = (pt(&obs, Codec::Vp8), pt(&obs, Codec::Opus));
    let t0 = now;
    run_net(
        &mut sfu,
        &mut [&mut obs, &mut student, &mut player],
        &mut now,
        Duration::from_secs(3),
        &mut net,
        |now, peers| {
            let elapsed = now - t0;
            if elapsed.as_millis().is_multiple_of(20)
                && let Some(w) = peers[0].rtc.writer(mic)
            {
                let _ = w.write(opus, now, MediaTime::from(elapsed), vec![0xfc, 0xff, 0xfe]);
            }
            if elapsed.as_millis().is_multiple_of(33)
                && let Some(w) = peers[0].rtc.writer(cam)
            {
                let _ = w.write(
                    vp8,
                    now,
                    MediaTime::from(elapsed),
                    vec![0x10, 0x02, 0x00, 1],
                );
            }
        },
    );
    let count = |p: &Peer, len: usize| p.media_in.iter().filter(|(_, l)| *l == len).count();
    let (sv, sa) = (count(&student, 4), count(&student, 3));
    let (pv, pa) = (count(&player, 4), count(&player, 3));
    eprintln!("student: {sv} video, {sa} audio; WHEP player: {pv} video, {pa} audio");
    assert!(
        sv > 80 && sa > 140,
        "the websocket student gets OBS's media"
    );
    assert!(pv > 80 && pa > 140, "the WHEP player gets OBS's media");

    // DELETE on the WHIP resource ends OBS's tracks for everyone.
    sfu.http_session_end(now, 10);
    run_net(
        &mut sfu,
        &mut [&mut student, &mut player],
        &mut now,
        Duration::from_millis(5),
        &mut net,
        |_, _| {},
    );
    assert_eq!(metrics.snapshot().tracks, 0);
    assert!(
        student
            .inbox
            .iter()
            .any(|m| matches!(m, ServerMessage::TrackUnpublished { .. }))
    );
}

/// Publishes a camera from `peer` (already joined): offer, answer, and its candidate.
fn publish_camera(sfu: &mut Sfu, now: &mut Instant, peer: &mut Peer, net: &mut Net) -> Mid {
    let mut api = peer.rtc.sdp_api();
    let mid = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
    let (offer, pending) = api.apply().expect("offer");
    sfu.handle_signal(
        *now,
        peer.conn,
        ClientMessage::Offer {
            sdp: offer.to_sdp_string(),
            tracks: vec![PublishTrack::new(mid.to_string(), Source::Camera)],
        },
    );
    sfu.handle_signal(*now, peer.conn, peer.candidate(Transport::Publish));
    run_net(
        sfu,
        &mut [&mut *peer],
        now,
        Duration::from_millis(5),
        net,
        |_, _| {},
    );
    let answer = take_answer(peer).expect("publish answer");
    peer.rtc
        .sdp_api()
        .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).expect("sdp"))
        .expect("accept");
    mid
}

/// The participant id the server gave `peer` in its `joined`.
fn participant_id(peer: &Peer) -> String {
    peer.inbox
        .iter()
        .find_map(|m| match m {
            ServerMessage::Joined { participant_id, .. } => Some(participant_id.clone()),
            _ => None,
        })
        .expect("joined")
}

/// Whether `peer` was refused with `code` since its inbox was last cleared.
fn refused(peer: &Peer, code: ErrorCode) -> bool {
    peer.inbox
        .iter()
        .any(|m| matches!(m, ServerMessage::Error { code: c, .. } if *c == code))
}

#[test]
fn a_student_on_stage_publishes_beside_the_teacher_and_everyone_sees_both() {
    let mut now = Instant::now();
    let metrics = Arc::new(Metrics::default());
    let mut sfu = Sfu::new(core_config(now), metrics.clone());
    let mut net = Net::default();
    // A test peer has one peer connection, so the two publishers only publish here; the
    // watcher only subscribes.
    let mut teacher = Peer::new(1, "127.0.0.1:6001", now);
    let mut on_stage = Peer::new(2, "127.0.0.1:6002", now);
    let mut watcher = Peer::new(3, "127.0.0.1:6003", now);
    for (p, name, role) in [
        (&mut teacher, "teacher", Role::Teacher),
        (&mut on_stage, "ada", Role::Student),
        (&mut watcher, "bo", Role::Student),
    ] {
        sfu.connect(now, p.conn);
        sfu.handle_signal(now, p.conn, join(name, role, p.conn == 3));
    }
    run_net(
        &mut sfu,
        &mut [&mut teacher, &mut on_stage, &mut watcher],
        &mut now,
        Duration::from_millis(5),
        &mut net,
        |_, _| {},
    );
    let ada = participant_id(&on_stage);
    // Not on stage: the server refuses her camera, and nothing is published.
    {
        let mut api = on_stage.rtc.sdp_api();
        let mid = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
        let (offer, _pending) = api.apply().expect("offer");
        sfu.handle_signal(
            now,
            2,
            ClientMessage::Offer {
                sdp: offer.to_sdp_string(),
                tracks: vec![PublishTrack::new(mid.to_string(), Source::Camera)],
            },
        );
    }
    let settle = |sfu: &mut Sfu, now: &mut Instant, peers: &mut [&mut Peer], net: &mut Net| {
        run_net(sfu, peers, now, Duration::from_millis(5), net, |_, _| {});
    };
    settle(
        &mut sfu,
        &mut now,
        &mut [&mut teacher, &mut on_stage, &mut watcher],
        &mut net,
    );
    assert!(
        refused(&on_stage, ErrorCode::Forbidden),
        "{:?}",
        on_stage.inbox
    );
    assert!(take_answer(&mut on_stage).is_none());
    // A student cannot put herself on stage either.
    sfu.handle_signal(
        now,
        3,
        ClientMessage::Class(ClassRequest::SetStage {
            participant_id: participant_id(&watcher),
            on_stage: true,
        }),
    );
    settle(
        &mut sfu,
        &mut now,
        &mut [&mut teacher, &mut on_stage, &mut watcher],
        &mut net,
    );
    assert!(
        refused(&watcher, ErrorCode::Forbidden),
        "{:?}",
        watcher.inbox
    );
    // The teacher brings her on stage; she starts afresh (a new peer connection).
    sfu.handle_signal(
        now,
        1,
        ClientMessage::Class(ClassRequest::SetStage {
            participant_id: ada.clone(),
            on_stage: true,
        }),
    );
    let mut on_stage = Peer::new(2, "127.0.0.1:6002", now);
    let cams = [
        publish_camera(&mut sfu, &mut now, &mut teacher, &mut net),
        publish_camera(&mut sfu, &mut now, &mut on_stage, &mut net),
    ];
    run_net(
        &mut sfu,
        &mut [&mut teacher, &mut on_stage, &mut watcher],
        &mut now,
        Duration::from_millis(500),
        &mut net,
        |_, _| {},
    );
    // The watcher is offered both cameras (maybe over two offers, as they appeared).
    let mut offered = Vec::new();
    while let Some((sdp, tracks)) = take_offer(&mut watcher) {
        answer_subscribe_offer(&mut sfu, now, &mut watcher, &sdp);
        sfu.handle_signal(now, 3, watcher.candidate(Transport::Subscribe));
        offered = tracks;
        run_net(
            &mut sfu,
            &mut [&mut teacher, &mut on_stage, &mut watcher],
            &mut now,
            Duration::from_millis(50),
            &mut net,
            |_, _| {},
        );
    }
    assert_eq!(offered.len(), 2, "{offered:?}");
    let vp8 = pt(&teacher, Codec::Vp8);
    let t0 = now;
    run_net(
        &mut sfu,
        &mut [&mut teacher, &mut on_stage, &mut watcher],
        &mut now,
        Duration::from_secs(2),
        &mut net,
        |now, peers| {
            let elapsed = now - t0;
            if !elapsed.as_millis().is_multiple_of(33) {
                return;
            }
            // Frame sizes tell the two cameras apart at the receiver.
            for (i, size) in [(0usize, 700usize), (1, 900)] {
                if let Some(w) = peers[i].rtc.writer(cams[i]) {
                    let mut frame = vec![0u8; size];
                    frame[0] = 0x10;
                    let _ = w.write(vp8, now, MediaTime::from(elapsed), frame);
                }
            }
        },
    );
    let got = |len: usize| watcher.media_in.iter().filter(|(_, l)| *l == len).count();
    eprintln!(
        "watcher: teacher {} frames, student {} frames",
        got(700),
        got(900)
    );
    assert!(got(700) > 50, "the teacher's camera reaches the watcher");
    assert!(
        got(900) > 50,
        "the on-stage student's camera reaches the watcher"
    );
    assert_eq!(metrics.snapshot().tracks, 2);

    // Off stage: her camera ends for everyone.
    watcher.inbox.clear();
    sfu.handle_signal(
        now,
        1,
        ClientMessage::Class(ClassRequest::SetStage {
            participant_id: ada,
            on_stage: false,
        }),
    );
    run_net(
        &mut sfu,
        &mut [&mut teacher, &mut on_stage, &mut watcher],
        &mut now,
        Duration::from_millis(50),
        &mut net,
        |_, _| {},
    );
    assert_eq!(
        metrics.snapshot().tracks,
        1,
        "only the teacher's camera is left"
    );
    assert!(
        watcher
            .inbox
            .iter()
            .any(|m| matches!(m, ServerMessage::TrackUnpublished { .. })),
        "{:?}",
        watcher.inbox
    );
    // Her closed publish connection leaves no timer behind: its last one, once past, made
    // every turn's timeout due at once (a server spinning on its core until she left).
    run_net(
        &mut sfu,
        &mut [&mut teacher, &mut on_stage, &mut watcher],
        &mut now,
        Duration::from_secs(2),
        &mut net,
        |_, _| {},
    );
    sfu.handle_timeout(now);
    assert!(
        sfu.poll_timeout() > now,
        "the next timeout is {:?} past",
        now.saturating_duration_since(sfu.poll_timeout())
    );
}
