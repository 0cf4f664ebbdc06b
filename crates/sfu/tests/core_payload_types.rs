//! Publishers and subscribers that number their codecs and header extensions unlike the
//! server and unlike each other, as different WebRTC stacks do (a browser's Opus is 111,
//! GStreamer's 96 or 97, OBS's what it likes). The numbers are drawn at random per run; the
//! seed is printed, and `PT_SEED=<n>` replays a run.
//!
//! Before payload types were mapped per leg, a subscriber of another stack connected and
//! received nothing: every packet carried the publisher's numbers.

mod common;
use common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

use classroom_protocol::Transport;
use classroom_protocol::{ClientMessage, ErrorCode, PublishTrack, Role, ServerMessage, Source};
use classroom_sfu::Metrics;
use classroom_sfu::core::Sfu;
use str0m::change::SdpAnswer;
use str0m::format::{Codec, FormatParams};
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid, Pt};
use str0m::rtp::Extension;
use str0m::{Rtc, RtcConfig};

/// xorshift64*, seeded per run.
struct Dice(u64);

impl Dice {
    fn from_env_or_clock() -> Dice {
        let seed = std::env::var("PT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
                    | 1
            });
        eprintln!("payload type seed: PT_SEED={seed}");
        Dice(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// The numbers one stack uses.
#[derive(Debug, Clone, Copy)]
struct Numbering {
    opus: u8,
    vp8: u8,
    vp8_rtx: u8,
    h264: u8,
    h264_rtx: u8,
    audio_level: u8,
}

fn numbering(dice: &mut Dice) -> Numbering {
    let mut pts: Vec<u8> = (96..=127).collect();
    dice.shuffle(&mut pts);
    let mut ids: Vec<u8> = (1..=14).collect();
    dice.shuffle(&mut ids);
    Numbering {
        opus: pts[0],
        vp8: pts[1],
        vp8_rtx: pts[2],
        h264: pts[3],
        h264_rtx: pts[4],
        audio_level: ids[0],
    }
}

/// A str0m configuration with `n`'s numbers: Opus, and VP8 (`vp8`) and/or H.264 (`h264`).
/// The other extensions get the remaining ids, shuffled.
fn config(dice: &mut Dice, n: Numbering, vp8: bool, h264: bool) -> RtcConfig {
    let mut c = Rtc::builder().clear_codecs().clear_extension_map();
    let codecs = c.codec_config();
    codecs.add_config(
        n.opus.into(),
        None,
        Codec::Opus,
        Frequency::FORTY_EIGHT_KHZ,
        Some(2),
        FormatParams {
            min_p_time: Some(10),
            use_inband_fec: Some(true),
            ..Default::default()
        },
    );
    if vp8 {
        codecs.add_config(
            n.vp8.into(),
            Some(n.vp8_rtx.into()),
            Codec::Vp8,
            Frequency::NINETY_KHZ,
            None,
            FormatParams::default(),
        );
    }
    if h264 {
        codecs.add_config(
            n.h264.into(),
            Some(n.h264_rtx.into()),
            Codec::H264,
            Frequency::NINETY_KHZ,
            None,
            FormatParams::parse_line(
                "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
            ),
        );
    }
    let mut ids: Vec<u8> = (1..=14).filter(|i| *i != n.audio_level).collect();
    dice.shuffle(&mut ids);
    let mut c = c.set_extension(n.audio_level, Extension::AudioLevel);
    for (id, ext) in ids.into_iter().zip([
        Extension::AbsoluteSendTime,
        Extension::TransportSequenceNumber,
        Extension::RtpMid,
        Extension::RtpStreamId,
        Extension::RepairedRtpStreamId,
        Extension::VideoOrientation,
    ]) {
        c = c.set_extension(id, ext);
    }
    c
}

/// Numberings for `count` stacks that share no payload type or audio-level id with each
/// other: any packet forwarded with the publisher's numbers is lost on every other leg.
fn distinct_numberings(dice: &mut Dice, count: usize) -> Vec<Numbering> {
    loop {
        let all: Vec<Numbering> = (0..count).map(|_| numbering(dice)).collect();
        let clash = all.iter().enumerate().any(|(i, a)| {
            all[i + 1..].iter().any(|b| {
                a.opus == b.opus
                    || a.vp8 == b.vp8
                    || a.h264 == b.h264
                    || a.audio_level == b.audio_level
            })
        });
        if !clash {
            return all;
        }
    }
}

/// A peer numbered `n`, taking VP8 and/or H.264, on 127.0.0.1:(6000 + conn).
fn numbered_peer(
    conn: u64,
    now: Instant,
    dice: &mut Dice,
    n: Numbering,
    vp8: bool,
    h264: bool,
) -> Peer {
    let addr = format!("127.0.0.1:{}", 6000 + conn);
    Peer::with_config(conn, &addr, now, config(dice, n, vp8, h264))
}

fn pt_of(p: &Peer, codec: Codec) -> Pt {
    p.rtc
        .codec_config()
        .find(|c| c.spec().codec == codec)
        .map(|c| c.pt())
        .expect("codec configured")
}

struct Class {
    now: Instant,
    metrics: Arc<Metrics>,
    sfu: Sfu,
}

impl Class {
    fn new() -> Class {
        let now = Instant::now();
        let metrics = Arc::new(Metrics::default());
        let sfu = Sfu::new(core_config(now), metrics.clone());
        Class { now, metrics, sfu }
    }

    /// `teacher` joins over the websocket and publishes a camera in `codec` and a microphone.
    fn publish(&mut self, teacher: &mut Peer, others: &mut [&mut Peer]) -> (Mid, Mid) {
        self.sfu.connect(self.now, teacher.conn);
        self.sfu.handle_signal(
            self.now,
            teacher.conn,
            join("teacher", Role::Teacher, false),
        );
        let mut api = teacher.rtc.sdp_api();
        let cam = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
        let mic = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let (offer, pending) = api.apply().expect("offer");
        self.sfu.handle_signal(
            self.now,
            teacher.conn,
            ClientMessage::Offer {
                sdp: offer.to_sdp_string(),
                tracks: vec![
                    PublishTrack::new(cam.to_string(), Source::Camera),
                    PublishTrack::new(mic.to_string(), Source::Microphone),
                ],
            },
        );
        let candidate = teacher.candidate(Transport::Publish);
        self.sfu.handle_signal(self.now, teacher.conn, candidate);
        self.run(teacher, others, Duration::from_millis(5), None);
        let answer = take_answer(teacher).expect("server answers the publish offer");
        teacher
            .rtc
            .sdp_api()
            .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).expect("sdp"))
            .expect("accept");
        (cam, mic)
    }

    /// A websocket student, who is offered the tracks and answers.
    fn student_joins(&mut self, student: &mut Peer) {
        self.sfu.connect(self.now, student.conn);
        let name = format!("student{}", student.conn);
        self.sfu
            .handle_signal(self.now, student.conn, join(&name, Role::Student, true));
    }

    /// `students` join over the websocket while `publisher` is in the class, and accept the
    /// offers of its tracks.
    fn students_subscribe(&mut self, publisher: &mut Peer, students: &mut [&mut Peer]) {
        for s in students.iter_mut() {
            self.student_joins(s);
        }
        self.run(publisher, students, Duration::from_millis(500), None);
        assert!(publisher.connected, "the publisher connected");
        self.answer_offers(students);
    }

    fn answer_offers(&mut self, students: &mut [&mut Peer]) {
        for s in students.iter_mut() {
            let (sdp, tracks) = take_offer(s).expect("the student is offered the tracks");
            assert_eq!(tracks.len(), 2, "camera and microphone");
            answer_subscribe_offer(&mut self.sfu, self.now, s, &sdp);
            let candidate = s.candidate(Transport::Subscribe);
            self.sfu.handle_signal(self.now, s.conn, candidate);
        }
    }

    /// A WHEP player joins as an observer.
    fn whep(&mut self, player: &mut Peer) {
        whep_watch(
            &mut self.sfu,
            self.now,
            player,
            &token("player", Role::Observer),
        );
    }

    /// `publisher` sends 3 s of H.264 and audio on `media`; `student` and `player` must get
    /// it all.
    fn h264_reaches(
        &mut self,
        publisher: &mut Peer,
        student: &mut Peer,
        player: &mut Peer,
        media: (Mid, Mid),
        what: &str,
    ) {
        self.run(
            publisher,
            &mut [&mut *student, &mut *player],
            Duration::from_secs(3),
            Some((media.0, media.1, Codec::H264)),
        );
        assert_received(&[("student", student), ("WHEP player", player)], what);
        assert_eq!(self.metrics.snapshot().codec_mismatches, 0);
    }

    /// Runs for `dur`; with `media`, the teacher (first peer) sends 30 fps video in `codec`
    /// and 50 packets/s of audio at level -30 on `(cam, mic)`.
    fn run(
        &mut self,
        teacher: &mut Peer,
        others: &mut [&mut Peer],
        dur: Duration,
        media: Option<(Mid, Mid, Codec)>,
    ) {
        let mut peers: Vec<&mut Peer> = vec![teacher];
        peers.extend(others.iter_mut().map(|p| &mut **p));
        let sends = media.map(|(cam, mic, codec)| {
            (
                cam,
                mic,
                pt_of(&*peers[0], codec),
                pt_of(&*peers[0], Codec::Opus),
                codec,
            )
        });
        let t0 = self.now;
        let mut frame = 0u8;
        run(
            &mut self.sfu,
            &mut peers,
            &mut self.now,
            dur,
            |now, peers| {
                let Some((cam, mic, video_pt, opus_pt, codec)) = sends else {
                    return;
                };
                let elapsed = now - t0;
                let ms = elapsed.as_millis();
                if ms.is_multiple_of(20)
                    && let Some(w) = peers[0].rtc.writer(mic)
                {
                    let _ = w.audio_level(-30, true).write(
                        opus_pt,
                        now,
                        MediaTime::from(elapsed),
                        vec![0xfc, 0xff, 0xfe],
                    );
                }
                if ms.is_multiple_of(33)
                    && let Some(w) = peers[0].rtc.writer(cam)
                {
                    let payload = match codec {
                        // A VP8 keyframe (P bit clear).
                        Codec::Vp8 => vec![0x10, 0x02, 0x00, frame],
                        // An H.264 IDR slice in Annex B, as str0m's packetizer takes it.
                        _ => vec![0, 0, 0, 1, 0x65, 0x88, 0x84, frame],
                    };
                    let _ = w.write(video_pt, now, MediaTime::from(elapsed), payload);
                    frame = frame.wrapping_add(1);
                }
            },
        );
    }
}

/// Frames received on `p`'s m-lines of `kind`, counted by payload size: video payloads are
/// 4 bytes (VP8) or at least 5 (H.264), audio 3.
fn frames(p: &Peer, audio: bool) -> usize {
    p.media_in
        .iter()
        .filter(|(_, len)| if audio { *len == 3 } else { *len >= 4 })
        .count()
}

/// Each of `peers` got at least 80 of ~90 video frames and 140 of ~150 audio frames.
fn assert_received(peers: &[(&str, &Peer)], what: &str) {
    for (who, p) in peers {
        let (video, audio) = (frames(p, false), frames(p, true));
        eprintln!("{who}: {video} {what} frames, {audio} audio frames");
        assert!(video >= 80, "{who} got {video} of ~90 {what} frames");
        assert!(audio >= 140, "{who} got {audio} of ~150 audio frames");
    }
}

#[test]
fn every_leg_gets_its_own_payload_types_and_extension_ids() {
    let mut dice = Dice::from_env_or_clock();
    let n = distinct_numberings(&mut dice, 4);
    eprintln!("numberings (teacher, student, student, WHEP player): {n:?}");
    let mut class = Class::new();
    let now = class.now;
    let mut teacher = numbered_peer(1, now, &mut dice, n[0], true, false);
    // One student takes VP8 only, the other VP8 and H.264.
    let mut s1 = numbered_peer(2, now, &mut dice, n[1], true, false);
    let mut s2 = numbered_peer(3, now, &mut dice, n[2], true, true);
    let mut player = numbered_peer(4, now, &mut dice, n[3], true, false);

    let (cam, mic) = class.publish(&mut teacher, &mut []);
    class.students_subscribe(&mut teacher, &mut [&mut s1, &mut s2]);
    class.whep(&mut player);
    class.run(
        &mut teacher,
        &mut [&mut s1, &mut s2, &mut player],
        Duration::from_secs(3),
        Some((cam, mic, Codec::Vp8)),
    );
    let legs = [
        ("student 1", &s1),
        ("student 2", &s2),
        ("WHEP player", &player),
    ];
    assert_received(&legs, "VP8");
    for (who, p) in legs {
        // The level travels in the publisher's extension id and arrives in the subscriber's.
        assert!(
            p.audio_levels.len() >= 140 && p.audio_levels.iter().all(|l| *l == -30),
            "{who} reads the audio level under its own extension id ({} levels)",
            p.audio_levels.len()
        );
        assert!(
            p.inbox
                .iter()
                .all(|m| !matches!(m, ServerMessage::Error { .. }))
        );
    }
    let m = class.metrics.snapshot();
    assert_eq!(m.codec_mismatches, 0);
    assert_eq!(m.udp_dropped, 0);
}

#[test]
fn h264_reaches_subscribers_who_number_it_differently() {
    let mut dice = Dice::from_env_or_clock();
    let n = distinct_numberings(&mut dice, 3);
    let mut class = Class::new();
    let now = class.now;
    let mut teacher = numbered_peer(1, now, &mut dice, n[0], false, true);
    let mut student = numbered_peer(2, now, &mut dice, n[1], true, true);
    let mut player = numbered_peer(4, now, &mut dice, n[2], false, true);
    let (cam, mic) = class.publish(&mut teacher, &mut []);
    class.students_subscribe(&mut teacher, &mut [&mut student]);
    class.whep(&mut player);
    class.h264_reaches(&mut teacher, &mut student, &mut player, (cam, mic), "H.264");
}

#[test]
fn a_subscriber_without_the_codec_is_told_and_still_hears_the_audio() {
    let mut dice = Dice::from_env_or_clock();
    let n = distinct_numberings(&mut dice, 2);
    let mut class = Class::new();
    let now = class.now;
    let mut teacher = numbered_peer(1, now, &mut dice, n[0], true, false);
    // This student's app decodes H.264 only; the teacher sends VP8.
    let mut student = numbered_peer(2, now, &mut dice, n[1], false, true);
    let (cam, mic) = class.publish(&mut teacher, &mut []);
    class.students_subscribe(&mut teacher, &mut [&mut student]);
    class.run(
        &mut teacher,
        &mut [&mut student],
        Duration::from_secs(2),
        Some((cam, mic, Codec::Vp8)),
    );
    let (video, audio) = (frames(&student, false), frames(&student, true));
    assert_eq!(video, 0, "no VP8 can reach an H.264-only subscriber");
    assert!(audio >= 90, "the audio still arrives ({audio} frames)");
    let told: Vec<&str> = student
        .inbox
        .iter()
        .filter_map(|m| match m {
            ServerMessage::Error {
                code: ErrorCode::UnsupportedCodec,
                message,
            } => Some(message.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(told.len(), 1, "told once, not per packet: {told:?}");
    assert!(
        told[0].contains("VP8"),
        "the error names the codec: {}",
        told[0]
    );
    assert!(
        class.metrics.snapshot().codec_mismatches >= 50,
        "the packets not sent are counted"
    );
}

/// What OBS 30's WHIP output offers (plugins/obs-webrtc/whip-output.cpp, through
/// libdatachannel): audio on mid 0 as Opus 111 with libdatachannel's default format
/// (stereo, in-band FEC), video on mid 1 as H.264 96 (packetization mode 1, profile
/// 42e01f), no RTX, no header extensions at all (streams are told apart by the SSRCs in the
/// SDP), candidates in the offer.
fn obs_config() -> RtcConfig {
    let mut c = Rtc::builder().clear_codecs().clear_extension_map();
    let codecs = c.codec_config();
    codecs.add_config(
        111.into(),
        None,
        Codec::Opus,
        Frequency::FORTY_EIGHT_KHZ,
        Some(2),
        FormatParams::parse_line(
            "minptime=10;maxaveragebitrate=96000;stereo=1;sprop-stereo=1;useinbandfec=1",
        ),
    );
    codecs.add_config(
        96.into(),
        None,
        Codec::H264,
        Frequency::NINETY_KHZ,
        None,
        FormatParams::parse_line(
            "profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1",
        ),
    );
    c
}

#[test]
fn an_obs_style_whip_offer_reaches_websocket_students_and_whep_players() {
    let mut dice = Dice::from_env_or_clock();
    let n = distinct_numberings(&mut dice, 2);
    let mut class = Class::new();
    let now = class.now;
    let mut obs = Peer::with_config(10, "127.0.0.1:6010", now, obs_config());
    let mut student = numbered_peer(2, now, &mut dice, n[0], true, true);
    let mut player = numbered_peer(4, now, &mut dice, n[1], false, true);

    let mut api = obs.rtc.sdp_api();
    let mic = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
    let cam = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
    let (offer, pending) = api.apply().expect("offer");
    let offer = offer.to_sdp_string();
    assert!(
        !offer.contains("a=extmap:") && offer.contains("a=rtpmap:111 opus/48000/2"),
        "the offer looks like OBS's:\n{offer}"
    );
    let answer = class
        .sfu
        .whip_publish(now, 10, &token("obs", Role::Teacher), "r", &offer)
        .expect("WHIP answer");
    obs.rtc
        .sdp_api()
        .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).expect("sdp"))
        .expect("accept");
    class.students_subscribe(&mut obs, &mut [&mut student]);
    class.whep(&mut player);
    class.h264_reaches(
        &mut obs,
        &mut student,
        &mut player,
        (cam, mic),
        "H.264 from OBS",
    );
}
