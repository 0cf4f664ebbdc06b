//! A joined participant sends arbitrary SDP as a publish offer, a subscribe answer and ICE
//! candidates to the SFU core, and the same text arrives as WHIP and WHEP offers: it must
//! refuse or accept, never panic.
#![no_main]

use std::time::{Duration, Instant};

use classroom_fuzz::{joined_core, token};
use classroom_protocol::{ClientMessage, IceCandidate, PublishTrack, Role, Source, Transport};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let now = Instant::now();
    let mut sfu = joined_core(now, Role::Teacher);
    sfu.handle_signal(now, 1, ClientMessage::Offer {
        sdp: text.clone(),
        tracks: vec![PublishTrack::new("0", Source::Camera)],
    });
    sfu.handle_signal(now, 1, ClientMessage::Answer { sdp: text.clone() });
    for transport in [Transport::Publish, Transport::Subscribe] {
        sfu.handle_signal(now, 1, ClientMessage::IceCandidate(IceCandidate { transport, candidate: text.clone(), sdp_m_line_index: 0 }));
    }
    let _ = sfu.whip_publish(now, 2, &token(Role::Teacher), "r", &text);
    let _ = sfu.whep_subscribe(now, 3, &token(Role::Student), "r", &text);
    sfu.handle_timeout(now + Duration::from_millis(50));
    while sfu.poll_output().is_some() {}
    sfu.disconnect(now + Duration::from_millis(60), 1);
});
