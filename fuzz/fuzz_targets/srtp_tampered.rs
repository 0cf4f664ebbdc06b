//! Genuine SRTP and SRTCP from a connected class, changed on their way to the server: bytes
//! flipped (header, payload, authentication tag, SRTCP index), cut short, lengthened, or
//! replaced after the header. This reaches str0m's SRTP framing and our ciphers
//! (`classroom_sfu::crypto`: AES-GCM and AES-CTR with HMAC-SHA1 tags) with packets that
//! fail authentication by one bit, and the STUN and DTLS paths with damaged records. Each
//! must be dropped, never a panic; untouched ones pass and the class carries on.
//!
//! The class is kept between inputs ([`World::kept`]).
#![no_main]

use std::sync::Mutex;
use std::time::Duration;

use classroom_fuzz::world::{Bytes, World};
use libfuzzer_sys::fuzz_target;
use str0m::rtp::{RtpWrite, SeqNo};

static WORLD: Mutex<Option<World>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes(data);
    let mut world = WORLD.lock().unwrap_or_else(|p| p.into_inner());
    let Some(w) = World::kept(&mut world, false) else {
        return;
    };
    let pt = w.peers[0]
        .rtc
        .codec_config()
        .params()
        .first()
        .map(|p| p.pt());
    let Some(pt) = pt else {
        return;
    };
    for _ in 0..8 {
        // The teacher sends a camera packet; everything on its way to the server (this
        // packet, the students' receiver reports and NACKs, STUN) may be changed.
        let Some(size) = input.u8() else { break };
        w.seq += 1;
        let (seq, camera, now) = (w.seq, w.camera, w.now);
        let payload = vec![0x10; 20 + usize::from(size) * 4];
        let write = RtpWrite::new(pt, SeqNo::from(seq), seq as u32 * 3000, now, payload)
            .marker(true)
            .nackable(true);
        if let Some(tx) = w.peers[0].rtc.direct_api().stream_tx_by_mid(camera, None) {
            tx.write_rtp(write);
        }
        w.run_tampered(Duration::from_millis(2), &mut |datagram| {
            let Some(op) = input.u8() else { return };
            let at = usize::from(input.u16().unwrap_or(0));
            match op % 6 {
                0 => {} // as sent
                1 | 2 => {
                    // One bit, anywhere; more often near the end (the tag, the index).
                    let len = datagram.len().max(1);
                    let i = if op % 6 == 1 { at % len } else { len - 1 - at % len.min(24) };
                    if let Some(b) = datagram.get_mut(i) {
                        *b ^= 1 << (input.u8().unwrap_or(0) % 8);
                    }
                }
                3 => datagram.truncate(at % (datagram.len() + 1)),
                4 => datagram.extend(input.bytes(64).unwrap_or_default()),
                _ => {
                    // The header kept, the rest whatever the input says.
                    datagram.truncate(12.min(datagram.len()));
                    datagram.extend(input.bytes(200).unwrap_or_default());
                }
            }
        });
    }
    // Untouched again: the class must still carry media (or is rebuilt next time).
    w.run(Duration::from_millis(5));
});
