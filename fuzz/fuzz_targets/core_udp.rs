//! Arbitrary datagrams into the SFU core, from a stranger and from the address a joined
//! participant announced, one by one and together (as the driver hands in what one
//! `recvmmsg` took): dropped or handled, never a panic.
#![no_main]

use std::time::{Duration, Instant};

use classroom_fuzz::{SERVER, joined_core};
use classroom_protocol::{ClientMessage, IceCandidate, Role, Transport};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let mut sfu = joined_core(now, Role::Student);
    sfu.handle_signal(now, 1, ClientMessage::IceCandidate(IceCandidate {
        transport: Transport::Publish,
        candidate: "candidate:1 1 udp 2130706431 127.0.0.1 6000 typ host".into(),
        sdp_m_line_index: 0,
    }));
    let server = SERVER.parse().expect("addr");
    let (joined, stranger) = (
        "127.0.0.1:6000".parse().expect("addr"),
        "127.0.0.1:7000".parse().expect("addr"),
    );
    for source in [joined, stranger] {
        sfu.handle_udp(now, source, server, data);
    }
    let (head, tail) = data.split_at(data.len() / 2);
    sfu.handle_udp_batch(
        now,
        server,
        [(joined, data), (stranger, data), (joined, head), (joined, tail)],
    );
    sfu.handle_timeout(now + Duration::from_millis(20));
    while sfu.poll_output().is_some() {}
});
