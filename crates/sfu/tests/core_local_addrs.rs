//! The core's own addresses: which host candidates a peer on this computer and a peer on
//! another are offered, and how an address that appears mid-class reaches connected peers
//! (a trickled `iceCandidate`). No sockets: the driver's part is `tests/lan_listen.rs`.

mod common;
use common::*;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use classroom_protocol::{
    ClientMessage, IceCandidate, PublishTrack, Role, ServerMessage, Source, Transport,
};
use classroom_sfu::Metrics;
use classroom_sfu::core::{Output, Sfu};
use str0m::media::{Direction, MediaKind};

fn addrs(list: &[&str]) -> Vec<SocketAddr> {
    list.iter().map(|a| a.parse().expect("addr")).collect()
}

/// Host candidates (`ip:port`) in an SDP or a trickled candidate line.
fn hosts(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter(|l| l.contains("candidate:") && l.contains("typ host"))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            format!("{}:{}", f.get(4)?, f.get(5)?).parse().ok()
        })
        .collect()
}

/// Joins `conn` as a teacher and publishes a camera; returns the answer's host candidates.
fn publish(sfu: &mut Sfu, now: Instant, conn: u64) -> Vec<SocketAddr> {
    sfu.handle_signal(now, conn, join(&format!("t{conn}"), Role::Teacher, false));
    let mut rtc = str0m::Rtc::builder()
        .set_crypto_provider(Arc::new(classroom_sfu::crypto::provider()))
        .build(now);
    let mut api = rtc.sdp_api();
    let mid = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
    let (offer, _pending) = api.apply().expect("offer");
    sfu.handle_signal(
        now,
        conn,
        ClientMessage::Offer {
            sdp: offer.to_sdp_string(),
            tracks: vec![PublishTrack::new(mid.to_string(), Source::Camera)],
        },
    );
    let mut answer = None;
    while let Some(out) = sfu.poll_output() {
        if let Output::Signal { to, msg } = out
            && to == conn
            && let ServerMessage::Answer { sdp } = *msg
        {
            answer = Some(sdp);
        }
    }
    hosts(&answer.expect("an answer"))
}

#[test]
fn peers_are_offered_the_addresses_that_reach_them_and_new_ones_are_trickled() {
    let now = Instant::now();
    let mut sfu = Sfu::new(core_config(now), Arc::new(Metrics::default()));
    sfu.set_local_addrs(now, &addrs(&["127.0.0.1:47800", "10.0.0.1:47800"]));
    assert_eq!(
        sfu.local_addrs(),
        addrs(&["127.0.0.1:47800", "10.0.0.1:47800"])
    );

    // The teacher's own app, over loopback, and a student's laptop on the LAN.
    sfu.connect_from(now, 1, "127.0.0.1:50000".parse().expect("addr"));
    sfu.connect_from(now, 2, "10.0.0.7:50000".parse().expect("addr"));
    assert_eq!(publish(&mut sfu, now, 1), addrs(&["127.0.0.1:47800"]));
    assert_eq!(publish(&mut sfu, now, 2), addrs(&["10.0.0.1:47800"]));

    // Wi-Fi comes up: the LAN peer is told the new address, the loopback one is not.
    sfu.set_local_addrs(
        now,
        &addrs(&["127.0.0.1:47800", "10.0.0.1:47800", "192.168.5.2:47800"]),
    );
    let mut trickled: Vec<(u64, IceCandidate)> = Vec::new();
    while let Some(out) = sfu.poll_output() {
        if let Output::Signal { to, msg } = out
            && let ServerMessage::IceCandidate(c) = *msg
        {
            trickled.push((to, c));
        }
    }
    assert_eq!(trickled.len(), 1, "{trickled:?}");
    let (to, c) = &trickled[0];
    assert_eq!(*to, 2);
    assert_eq!(c.transport, Transport::Publish);
    assert_eq!(c.sdp_m_line_index, 0);
    assert_eq!(hosts(&c.candidate), addrs(&["192.168.5.2:47800"]));

    // The same set again changes nothing; an empty set (no sockets) is ignored.
    sfu.set_local_addrs(
        now,
        &addrs(&["127.0.0.1:47800", "10.0.0.1:47800", "192.168.5.2:47800"]),
    );
    sfu.set_local_addrs(now, &[]);
    assert!(std::iter::from_fn(|| sfu.poll_output()).all(|o| !matches!(
        o,
        Output::Signal { msg, .. } if matches!(*msg, ServerMessage::IceCandidate(_))
    )));
    assert_eq!(sfu.local_addrs().len(), 3);

    // A new peer gets the whole current set that reaches it.
    sfu.connect_from(now, 3, "10.0.0.8:50000".parse().expect("addr"));
    assert_eq!(
        publish(&mut sfu, now, 3),
        addrs(&["10.0.0.1:47800", "192.168.5.2:47800"])
    );
}
