//! Arbitrary datagrams into the SFU core, from a stranger and from the address a joined
//! publisher announced: dropped or handled, never a panic.
#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use classroom_protocol::{ClientMessage, IceCandidate, PROTOCOL_VERSION, Role, Transport};
use classroom_sfu::core::{CoreConfig, Sfu};
use classroom_sfu::{AccessKey, Claims, Metrics};
use libfuzzer_sys::fuzz_target;

const EPOCH: u64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let Ok(key) = AccessKey::from_secret(&[9u8; 32]) else { return };
    let Ok(token) = key.mint(&Claims::new("r", "s", Role::Student, Duration::from_secs(60), EPOCH)) else { return };
    let server = "127.0.0.1:5000".parse().expect("addr");
    let config = CoreConfig { udp_addr: server, access: key, clock_origin: (now, EPOCH) };
    let mut sfu = Sfu::new(config, Arc::new(Metrics::default()));
    sfu.connect(now, 1);
    sfu.handle_signal(now, 1, ClientMessage::Join {
        token,
        room: "r".into(),
        display_name: "s".into(),
        role: Role::Student,
        protocol_version: PROTOCOL_VERSION,
        subscribe: true,
    });
    sfu.handle_signal(now, 1, ClientMessage::IceCandidate(IceCandidate {
        transport: Transport::Publish,
        candidate: "candidate:1 1 udp 2130706431 127.0.0.1 6000 typ host".into(),
        sdp_m_line_index: 0,
    }));
    for source in ["127.0.0.1:6000", "127.0.0.1:7000"] {
        sfu.handle_udp(now, source.parse().expect("addr"), server, data);
    }
    sfu.handle_timeout(now + Duration::from_millis(20));
    while sfu.poll_output().is_some() {}
});
