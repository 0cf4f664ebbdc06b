//! After a real handshake (ICE, DTLS, SRTP) between the SFU core and str0m peers, the
//! teacher sends arbitrary RTP on its camera and microphone: any sequence numbers (jumps,
//! repeats, wraps), RTP times, payload types (negotiated or not), marker bits, header
//! extensions (audio level, voice activity, orientation), payloads and sizes, on declared
//! and invented RIDs; the students change viewports and ask for keyframes. This reaches
//! `forward`, the per-subscriber `Rewriter`, simulcast layer choice and switching, the
//! keyframe budget and the active speaker. The students' str0m NACKs the gaps the jumps
//! leave, which the core answers from the track's shared cache (`core::rtx`: its
//! `SentLog`, `LayerCache` and `ResendCap` with whatever sequence numbers come back).
//! Nothing may panic; invented RIDs must not grow the server's state.
//!
//! The handshake costs about a second of CPU, so the class is kept between inputs (one per
//! simulcast mode) and built anew every 500 inputs or when a transport went down: a
//! finding may depend on the inputs before it (libFuzzer's `-runs` over the crash's
//! neighbours, or the target's log, tell which).
#![no_main]

use std::sync::Mutex;
use std::time::Duration;

use classroom_fuzz::world::{Bytes, World};
use classroom_protocol::ClientMessage;
use libfuzzer_sys::fuzz_target;
use str0m::media::{KeyframeRequestKind, Rid};
use str0m::rtp::{ExtensionValues, RtpWrite, SeqNo, VideoOrientation};

/// The kept classes: without and with simulcast.
static WORLDS: Mutex<[Option<World>; 2]> = Mutex::new([None, None]);

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes(data);
    let simulcast = input.u8().is_some_and(|b| b & 1 == 1);
    let mut worlds = WORLDS.lock().unwrap_or_else(|p| p.into_inner());
    let Some(w) = World::kept(&mut worlds[usize::from(simulcast)], simulcast) else {
        return;
    };
    let video_pts: Vec<_> = w.peers[0]
        .rtc
        .codec_config()
        .params()
        .iter()
        .map(|p| p.pt())
        .collect();
    for _ in 0..96 {
        let Some(op) = input.u8() else { break };
        match op % 8 {
            0..=3 => {
                // A camera packet on a declared layer, no layer, or an invented RID.
                let pick = usize::from(input.u8().unwrap_or(0));
                let rid = if w.rids.is_empty() {
                    None
                } else if pick % (w.rids.len() + 1) < w.rids.len() {
                    Some(Rid::from(w.rids[pick % (w.rids.len() + 1)].as_str()))
                } else {
                    let name: String = input
                        .bytes(8)
                        .unwrap_or_default()
                        .iter()
                        .map(|b| char::from(b'a' + b % 26))
                        .collect();
                    let rid = Rid::from(if name.is_empty() { "x" } else { name.as_str() });
                    if !w.invented.contains(&rid) && w.invented.len() < 16 {
                        let camera = w.camera;
                        let mut direct = w.peers[0].rtc.direct_api();
                        let (ssrc, rtx) = (direct.new_ssrc(), direct.new_ssrc());
                        direct.declare_stream_tx(ssrc, Some(rtx), camera, Some(rid));
                        w.invented.push(rid);
                    }
                    Some(rid)
                };
                let jump = input.u16().unwrap_or(1);
                w.seq = match jump {
                    0xffff => w.seq.saturating_sub(50), // a late or repeated packet
                    j => w.seq.saturating_add(u64::from(j % 4096)),
                };
                let seq = w.seq;
                let time = input.u32().unwrap_or(0);
                let pt_pick = input.u8().unwrap_or(0);
                let pt = if pt_pick < 200 && !video_pts.is_empty() {
                    video_pts[usize::from(pt_pick) % video_pts.len()]
                } else {
                    str0m::media::Pt::new_with_value(pt_pick & 0x7f)
                };
                let flags = input.u8().unwrap_or(0);
                let mut payload = input.bytes(1100).unwrap_or_default();
                if flags & 0x10 != 0 && !payload.is_empty() {
                    payload[0] = 0x10; // a VP8 keyframe start, often
                }
                let ext = ExtensionValues {
                    video_orientation: (flags & 0x20 != 0).then_some(VideoOrientation::Deg90),
                    ..Default::default()
                };
                let camera = w.camera;
                let now = w.now;
                let write = RtpWrite::new(pt, SeqNo::from(seq), time, now, payload)
                    .marker(flags & 1 == 1)
                    .ext_vals(ext)
                    .nackable(flags & 2 == 2);
                if let Some(tx) = w.peers[0].rtc.direct_api().stream_tx_by_mid(camera, rid) {
                    tx.write_rtp(write);
                }
            }
            4 => {
                // A microphone packet with an arbitrary level.
                let level = input.u8().unwrap_or(0) as i8;
                let voice = input.u8().map(|b| b & 1 == 1);
                w.seq = w.seq.saturating_add(1);
                let seq = w.seq;
                let payload = input.bytes(300).unwrap_or_default();
                let pt = video_pts.first().copied().unwrap_or(str0m::media::Pt::new_with_value(111));
                let mic = w.microphone;
                let now = w.now;
                let write = RtpWrite::new(pt, SeqNo::from(seq), input.u32().unwrap_or(0), now, payload)
                    .ext_vals(ExtensionValues {
                        audio_level: Some(level),
                        voice_activity: voice,
                        ..Default::default()
                    });
                if let Some(tx) = w.peers[0].rtc.direct_api().stream_tx_by_mid(mic, None) {
                    tx.write_rtp(write);
                }
            }
            5 => {
                // A student's viewport, any size (0x0 hides the track).
                let who = 2 + u64::from(input.u8().unwrap_or(0) % 2);
                let track = input.u8().unwrap_or(0);
                let track_id = w
                    .track_ids
                    .get(usize::from(track) % w.track_ids.len().max(1))
                    .cloned()
                    .unwrap_or_else(|| format!("t{track}"));
                let (width, height) = (input.u32().unwrap_or(0), input.u32().unwrap_or(0));
                let now = w.now;
                w.sfu.handle_signal(now, who, ClientMessage::Viewport { track_id, width, height });
            }
            6 => {
                // A student asks for a keyframe on each of its m-lines.
                let who = 1 + usize::from(input.u8().unwrap_or(0) % 2);
                let kind = if input.u8().unwrap_or(0) & 1 == 0 {
                    KeyframeRequestKind::Pli
                } else {
                    KeyframeRequestKind::Fir
                };
                let mids = w.receive_mids[who].clone();
                for mid in mids {
                    if let Some(rx) = w.peers[who].rtc.direct_api().stream_rx_by_mid(mid, None) {
                        rx.request_keyframe(kind);
                    }
                }
            }
            _ => {
                let ms = u64::from(input.u8().unwrap_or(0));
                w.run(Duration::from_millis(ms));
            }
        }
        w.run(Duration::from_millis(1));
    }
    w.run(Duration::from_millis(20));
});
