//! A joined participant sends arbitrary SDP as a publish offer, a subscribe answer and ICE
//! candidates to the SFU core: it must refuse or accept, never panic.
#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use classroom_protocol::{ClientMessage, IceCandidate, PROTOCOL_VERSION, PublishTrack, Role, Source, Transport};
use classroom_sfu::core::{CoreConfig, Sfu};
use classroom_sfu::{AccessKey, Claims, Metrics};
use libfuzzer_sys::fuzz_target;

const EPOCH: u64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let now = Instant::now();
    let Ok(key) = AccessKey::from_secret(&[9u8; 32]) else { return };
    let Ok(token) = key.mint(&Claims::new("r", "t", Role::Teacher, Duration::from_secs(60), EPOCH)) else { return };
    let config = CoreConfig { udp_addr: "127.0.0.1:5000".parse().expect("addr"), access: key, clock_origin: (now, EPOCH) };
    let mut sfu = Sfu::new(config, Arc::new(Metrics::default()));
    sfu.connect(now, 1);
    sfu.handle_signal(now, 1, ClientMessage::Join {
        token,
        room: "r".into(),
        display_name: "t".into(),
        role: Role::Teacher,
        protocol_version: PROTOCOL_VERSION,
        subscribe: true,
    });
    sfu.handle_signal(now, 1, ClientMessage::Offer {
        sdp: text.clone(),
        tracks: vec![PublishTrack { mid: "0".into(), source: Source::Camera }],
    });
    sfu.handle_signal(now, 1, ClientMessage::Answer { sdp: text.clone() });
    for transport in [Transport::Publish, Transport::Subscribe] {
        sfu.handle_signal(now, 1, ClientMessage::IceCandidate(IceCandidate { transport, candidate: text.clone(), sdp_m_line_index: 0 }));
    }
    sfu.handle_timeout(now + Duration::from_millis(50));
    while sfu.poll_output().is_some() {}
    sfu.disconnect(now + Duration::from_millis(60), 1);
});
