//! The attacks of issue 15, replayed over real sockets against a server on 127.0.0.1:0:
//! each is refused (with a clear error, counted) or cleaned up, and the class keeps working.

mod net;
use net::*;

use std::time::Duration;

use classroom_protocol::{
    ClientMessage, ErrorCode, IceCandidate, PublishTrack, Role, ServerMessage, SimulcastLayer,
    Source, Transport,
};
use classroom_sfu::Limits;
use str0m::media::Direction;
use tokio::net::{TcpStream, UdpSocket};

fn mids(sdp: &str) -> Vec<String> {
    sdp.lines()
        .filter_map(|l| l.strip_prefix("a=mid:"))
        .map(|m| m.trim().to_owned())
        .collect()
}

/// WHEP offers without candidates never connect. One identity holds one session at a time
/// (the class lets a newer connection of an identity replace the older one), a room holds at
/// most a few, and each is dropped with its session after the connect deadline.
#[tokio::test(start_paused = true)]
async fn ghost_whep_sessions_are_capped_and_dropped_when_they_never_connect() {
    let h = server(Limits {
        max_http_sessions_per_identity: 3,
        max_http_sessions_per_room: 5,
        ..Limits::default()
    })
    .await;
    let addr = h.signaling_addr();
    let token = h
        .mint_token("r", "viewer", Role::Student, Duration::from_secs(600))
        .expect("token");
    let auth = format!("Bearer {token}");
    let whep = offer(1, 1, Direction::RecvOnly, None);
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/sdp"),
    ];
    let mut locations = Vec::new();
    for _ in 0..3 {
        let (status, head, _) = request(addr, "POST", "/whep/r", &headers, &whep).await;
        assert_eq!(status, 201, "{head}");
        locations.push(header(&head, "location").expect("location").to_owned());
    }
    // Each session of "viewer" replaced the one before: one is left, the older URLs are gone.
    assert_eq!(h.metrics().snapshot().participants, 1);
    let (status, _, _) = request(addr, "DELETE", &locations[0], &[], "").await;
    assert_eq!(status, 404, "a replaced session's resource is gone");
    // Other identities fill the room up to its own limit.
    for (i, expect) in [201, 201, 201, 201, 503].into_iter().enumerate() {
        let other = h
            .mint_token(
                "r",
                &format!("v{i}"),
                Role::Student,
                Duration::from_secs(600),
            )
            .expect("token");
        let auth = format!("Bearer {other}");
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/sdp"),
        ];
        let (status, _, body) = request(addr, "POST", "/whep/r", &headers, &whep).await;
        assert_eq!(status, expect, "{body}");
    }
    let m = h.metrics().snapshot();
    assert_eq!(m.participants, 5);
    assert_eq!(m.refusals.http_sessions_per_room, 1);

    // None ever connects: 30 s later every one is gone, and so are their session URLs.
    tokio::time::sleep(Duration::from_secs(32)).await;
    let m = h.metrics().snapshot();
    assert_eq!(m.participants, 0, "{m:?}");
    assert_eq!(m.timeouts.transport_connect, 5);
    let (status, _, _) = request(addr, "DELETE", &locations[2], &[], "").await;
    assert_eq!(status, 404, "the dropped session's resource is gone");
    // The identity may start again.
    let (status, _, _) = request(addr, "POST", "/whep/r", &headers, &whep).await;
    assert_eq!(status, 201);
    h.shutdown().await;
}

/// A websocket publisher whose transport never connects is told so and closed (a close that
/// closes: `bye`, a close frame, the end of the stream).
#[tokio::test(start_paused = true)]
async fn a_transport_that_never_connects_ends_its_websocket_with_bye_and_close() {
    let h = server(Limits::default()).await;
    let mut teacher = joined(&h, "r", "t", Role::Teacher).await;
    let sdp = offer(0, 1, Direction::SendOnly, None);
    let mid = mids(&sdp).remove(0);
    send(
        &mut teacher,
        &ClientMessage::Offer {
            sdp,
            tracks: vec![PublishTrack::new(mid, Source::Camera)],
        },
    )
    .await;
    assert!(matches!(
        msg(&mut teacher).await,
        ServerMessage::Answer { .. }
    ));
    let mut student = joined(&h, "r", "s", Role::Student).await;
    let (reason, code) = expect_bye_and_close(&mut teacher, Duration::from_secs(40)).await;
    assert!(reason.contains("did not connect"), "{reason}");
    assert_eq!(code, 1000);
    assert_eq!(h.metrics().snapshot().timeouts.transport_connect, 1);
    // The student saw the track come and go; the room still answers.
    send(&mut student, &ClientMessage::Ping { nonce: 5 }).await;
    loop {
        match msg(&mut student).await {
            ServerMessage::Pong { nonce } => {
                assert_eq!(nonce, 5);
                break;
            }
            // Its subscribe transport never connects either, so it may be closed too
            // later; before that it still answers.
            _ => continue,
        }
    }
    h.shutdown().await;
}

#[tokio::test]
async fn a_room_holds_at_most_its_participants_and_other_rooms_are_unaffected() {
    let h = server(Limits {
        max_participants_per_room: 2,
        ..Limits::default()
    })
    .await;
    let _a = joined(&h, "r", "a", Role::Student).await;
    let _b = joined(&h, "r", "b", Role::Student).await;
    let mut c = ws(&h).await;
    send(&mut c, &join_as(&h, "r", "c", Role::Student)).await;
    let why = expect_error(&mut c, ErrorCode::Full).await;
    assert!(why.contains("full"), "{why}");
    let _d = joined(&h, "other", "d", Role::Student).await;
    assert_eq!(h.metrics().snapshot().refusals.participants_per_room, 1);
    h.shutdown().await;
}

/// Hundreds of m-lines, a second camera, four layers or a 70000x70000 layer: refused, and
/// nobody else hears of a track.
#[tokio::test]
async fn publish_offers_are_bounded() {
    let h = server(Limits::default()).await;
    let mut student = joined(&h, "r", "s", Role::Student).await;
    let mut teacher = joined(&h, "r", "t", Role::Teacher).await;

    // A hand-made offer, a hundred bytes an m-line, so 200 fit in one message.
    let mut many = String::from(
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n",
    );
    for i in 0..200 {
        many.push_str(&format!(
            "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:{i}\r\na=sendonly\r\na=rtpmap:96 VP8/90000\r\n"
        ));
    }
    assert!(many.len() < 64 * 1024);
    let tracks = mids(&many)
        .into_iter()
        .map(|m| PublishTrack::new(m, Source::Camera))
        .collect();
    send(&mut teacher, &ClientMessage::Offer { sdp: many, tracks }).await;
    let why = expect_error(&mut teacher, ErrorCode::Full).await;
    assert!(why.contains("200 m-lines"), "{why}");

    let layered = |sizes: &[(u32, u32)]| {
        let sdp = offer(0, 1, Direction::SendOnly, None);
        let mut track = PublishTrack::new(mids(&sdp).remove(0), Source::Camera);
        track.layers = sizes
            .iter()
            .enumerate()
            .map(|(i, &(width, height))| SimulcastLayer {
                rid: format!("r{i}"),
                width,
                height,
            })
            .collect();
        ClientMessage::Offer {
            sdp,
            tracks: vec![track],
        }
    };
    send(&mut teacher, &layered(&[(70_000, 70_000)])).await;
    let why = expect_error(&mut teacher, ErrorCode::Invalid).await;
    assert!(why.contains("70000x70000"), "{why}");
    send(
        &mut teacher,
        &layered(&[(160, 90), (320, 180), (640, 360), (1280, 720)]),
    )
    .await;
    expect_error(&mut teacher, ErrorCode::Invalid).await;

    // Two m-lines both declared as the camera: once media can flow, one track; the other
    // is refused.
    let peer = UdpPeer::new().await;
    let (sdp, pending, mids) = peer.offer(0, 2);
    let tracks = mids
        .into_iter()
        .map(|m| PublishTrack::new(m, Source::Camera))
        .collect();
    send(&mut teacher, &ClientMessage::Offer { sdp, tracks }).await;
    match msg(&mut teacher).await {
        ServerMessage::Answer { sdp } => peer.accept_answer(pending, &sdp),
        other => panic!("{other:?}"),
    }
    let why = expect_error(&mut teacher, ErrorCode::Full).await;
    assert!(why.contains("one per source"), "{why}");
    assert!(eventually(Duration::from_secs(5), || peer.is_connected()).await);
    // The student heard of exactly one track (and got one subscribe offer).
    let mut published = 0;
    loop {
        match msg(&mut student).await {
            ServerMessage::TrackPublished { .. } => published += 1,
            ServerMessage::Offer { tracks, .. } => {
                assert_eq!(tracks.len(), 1);
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(published, 1);
    let m = h.metrics().snapshot();
    assert_eq!(m.tracks, 1);
    assert_eq!(m.refusals.tracks, 2);
    drop(peer);
    assert_eq!(m.refusals.simulcast_layers, 2);
    h.shutdown().await;
}

/// A peer whose DTLS certificate is not the one its offer named: ICE connects, the
/// handshake fails, and the session ends as one that never connected (not as a connection
/// lost).
#[tokio::test]
async fn a_transport_whose_handshake_fails_counts_as_never_connected() {
    let h = server(Limits::default()).await;
    let mut teacher = joined(&h, "r", "t", Role::Teacher).await;
    let peer = UdpPeer::new().await;
    let (sdp, pending, mids) = peer.offer(1, 0);
    // One byte of the certificate's fingerprint changed.
    let at = sdp.find("a=fingerprint:sha-256 ").expect("a fingerprint") + 22;
    let byte = &sdp[at..at + 2];
    let other = if byte == "00" { "01" } else { "00" };
    let sdp = format!("{}{other}{}", &sdp[..at], &sdp[at + 2..]);
    let tracks = vec![PublishTrack::new(mids[0].clone(), Source::Microphone)];
    send(&mut teacher, &ClientMessage::Offer { sdp, tracks }).await;
    match msg(&mut teacher).await {
        ServerMessage::Answer { sdp } => peer.accept_answer(pending, &sdp),
        other => panic!("{other:?}"),
    }
    let (reason, _) = expect_bye_and_close(&mut teacher, Duration::from_secs(60)).await;
    assert_eq!(reason, "media could not connect");
    let m = h.metrics().snapshot();
    assert_eq!(
        (m.tracks, m.timeouts.ice_lost, m.timeouts.transport_connect),
        (0, 0, 1),
        "{m:?}"
    );
    h.shutdown().await;
}

/// A peer that connects and then goes silent loses ICE: its websocket gets `bye` and a
/// close frame, and the room hears the track end.
#[tokio::test]
async fn ice_lost_after_connecting_ends_the_session_with_bye_and_close() {
    let h = server(Limits::default()).await;
    let mut student = joined(&h, "r", "s", Role::Student).await;
    let mut teacher = joined(&h, "r", "t", Role::Teacher).await;
    let peer = UdpPeer::new().await;
    let (sdp, pending, mids) = peer.offer(1, 0);
    let tracks = vec![PublishTrack::new(mids[0].clone(), Source::Microphone)];
    send(&mut teacher, &ClientMessage::Offer { sdp, tracks }).await;
    match msg(&mut teacher).await {
        ServerMessage::Answer { sdp } => peer.accept_answer(pending, &sdp),
        other => panic!("{other:?}"),
    }
    assert!(
        eventually(Duration::from_secs(10), || h.metrics().snapshot().tracks
            == 1)
        .await,
        "published"
    );
    let started = tokio::time::Instant::now();
    peer.go_silent();
    let (reason, code) = expect_bye_and_close(&mut teacher, Duration::from_secs(60)).await;
    eprintln!("ICE loss noticed after {:?}", started.elapsed());
    assert!(reason.contains("lost"), "{reason}");
    assert_eq!(code, 1000);
    let m = h.metrics().snapshot();
    assert_eq!((m.tracks, m.timeouts.ice_lost), (0, 1));
    let mut ended = false;
    while !ended {
        ended = matches!(
            msg(&mut student).await,
            ServerMessage::TrackUnpublished { .. }
        );
    }
    h.shutdown().await;
}

/// Remote candidates past the limit are refused, and the server sends connectivity checks
/// to no more addresses than the limit.
#[tokio::test]
async fn remote_candidates_are_capped_and_checks_reach_no_more_addresses() {
    let h = server(Limits {
        max_remote_candidates: 4,
        ..Limits::default()
    })
    .await;
    let mut teacher = joined(&h, "r", "t", Role::Teacher).await;
    let sdp = offer(1, 0, Direction::SendOnly, None);
    let mid = mids(&sdp).remove(0);
    send(
        &mut teacher,
        &ClientMessage::Offer {
            sdp,
            tracks: vec![PublishTrack::new(mid, Source::Microphone)],
        },
    )
    .await;
    assert!(matches!(
        msg(&mut teacher).await,
        ServerMessage::Answer { .. }
    ));
    let mut sockets = Vec::new();
    for _ in 0..12 {
        sockets.push(UdpSocket::bind("127.0.0.1:0").await.expect("bind"));
    }
    for s in &sockets {
        let addr = s.local_addr().expect("addr");
        let line = format!(
            "candidate:1 1 udp 2130706431 127.0.0.1 {} typ host",
            addr.port()
        );
        send(
            &mut teacher,
            &ClientMessage::IceCandidate(IceCandidate {
                transport: Transport::Publish,
                candidate: line,
                sdp_m_line_index: 0,
            }),
        )
        .await;
    }
    for _ in 0..8 {
        expect_error(&mut teacher, ErrorCode::Full).await;
    }
    // A broadcast address is refused outright.
    send(
        &mut teacher,
        &ClientMessage::IceCandidate(IceCandidate {
            transport: Transport::Publish,
            candidate: "candidate:2 1 udp 2130706431 255.255.255.255 9 typ host".into(),
            sdp_m_line_index: 0,
        }),
    )
    .await;
    expect_error(&mut teacher, ErrorCode::Malformed).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut reached = 0;
    let mut buf = [0u8; 1500];
    for s in &sockets {
        if s.try_recv(&mut buf).is_ok() {
            reached += 1;
        }
    }
    assert!(
        (1..=4).contains(&reached),
        "checks went to {reached} addresses"
    );
    assert_eq!(h.metrics().snapshot().refusals.remote_candidates, 9);
    h.shutdown().await;
}

#[tokio::test]
async fn connections_per_source_are_capped_and_given_back() {
    let h = server(Limits {
        max_connections_per_source: 3,
        ..Limits::default()
    })
    .await;
    let addr = h.signaling_addr();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(addr).await.expect("connect"));
    }
    let mut extra = TcpStream::connect(addr).await.expect("the kernel accepts");
    let (status, _, body) = read_response(&mut extra).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        net::eventually(Duration::from_secs(5), || {
            h.metrics().snapshot().refusals.connections_per_source == 1
        })
        .await
    );
    held.pop();
    // The slot comes back once the server sees the close.
    let mut ok = false;
    for _ in 0..50 {
        let (status, _, _) = request(addr, "GET", "/healthz", &[], "").await;
        if status == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok, "a freed slot is usable again");
    h.shutdown().await;
}

/// A client that floods messages is told once, refused, and closed if it keeps on; the
/// others carry on.
#[tokio::test]
async fn a_flooding_websocket_is_rate_limited_then_closed() {
    let h = server(Limits {
        messages_per_second: 10,
        message_burst: 20,
        ..Limits::default()
    })
    .await;
    let mut calm = joined(&h, "r", "calm", Role::Student).await;
    let mut flood = joined(&h, "r", "flood", Role::Student).await;
    for nonce in 0..200 {
        if futures_util::SinkExt::send(
            &mut flood,
            tokio_tungstenite::tungstenite::Message::text(ClientMessage::Ping { nonce }.encode()),
        )
        .await
        .is_err()
        {
            break;
        }
    }
    let mut pongs = 0;
    let mut limited = 0;
    let mut bye = None;
    let mut close = None;
    while let Some(f) = frame(&mut flood, Duration::from_secs(10)).await {
        match f {
            tokio_tungstenite::tungstenite::Message::Text(t) => {
                match ServerMessage::decode(t.as_str()).expect("protocol") {
                    ServerMessage::Pong { .. } => pongs += 1,
                    ServerMessage::Error {
                        code: ErrorCode::RateLimited,
                        ..
                    } => limited += 1,
                    ServerMessage::Bye { reason, .. } => bye = Some(reason),
                    // The class's own news (the other joiner) may arrive between pongs.
                    ServerMessage::Class(_) => {}
                    other => panic!("{other:?}"),
                }
            }
            tokio_tungstenite::tungstenite::Message::Close(f) => close = f,
            _ => {}
        }
    }
    assert!(pongs <= 25, "{pongs} pongs got through");
    assert_eq!(limited, 1, "told once");
    assert_eq!(bye.as_deref(), Some("too many messages"));
    assert_eq!(close.map(|f| u16::from(f.code)), Some(1008));
    assert!(h.metrics().snapshot().refusals.message_rate >= 21);
    send(&mut calm, &ClientMessage::Ping { nonce: 1 }).await;
    assert_eq!(msg(&mut calm).await, ServerMessage::Pong { nonce: 1 });
    h.shutdown().await;
}

/// A client that stops reading while the server has messages for it fills its queue: the
/// core is told (the participant leaves the room) and the connection is closed.
#[tokio::test]
async fn a_client_that_does_not_read_is_dropped_and_the_core_is_told() {
    let h = server(Limits {
        messages_per_second: 1_000_000,
        message_burst: 1_000_000,
        outgoing_queue: 8,
        idle_timeout: Duration::from_secs(3),
        ..Limits::default()
    })
    .await;
    let addr = h.signaling_addr();
    // A small receive window, so the server's writes block soon.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("rcvbuf");
    let stream = socket.connect(addr).await.expect("connect");
    let (mut ws, _) = tokio_tungstenite::client_async(
        format!("ws://{addr}/ws"),
        tokio_tungstenite::MaybeTlsStream::Plain(stream),
    )
    .await
    .expect("ws");
    send(&mut ws, &join_as(&h, "r", "sleepy", Role::Student)).await;
    let writer = tokio::spawn(async move {
        for nonce in 0..20_000u64 {
            let m = tokio_tungstenite::tungstenite::Message::text(
                ClientMessage::Ping { nonce }.encode(),
            );
            if tokio::time::timeout(
                Duration::from_secs(5),
                futures_util::SinkExt::feed(&mut ws, m),
            )
            .await
            .map_or(true, |r| r.is_err())
            {
                break;
            }
        }
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            futures_util::SinkExt::flush(&mut ws),
        )
        .await;
        ws
    });
    assert!(
        eventually(Duration::from_secs(20), || {
            h.metrics().snapshot().signaling_queue_overflows >= 1
        })
        .await,
        "the queue overflowed"
    );
    assert!(
        eventually(Duration::from_secs(5), || h
            .metrics()
            .snapshot()
            .participants
            == 0)
        .await,
        "the core was told"
    );
    let mut ws = writer.await.expect("writer");
    // Draining it now ends with the connection closed by the server.
    let mut ended = false;
    for _ in 0..100_000 {
        if frame(&mut ws, Duration::from_secs(20)).await.is_none() {
            ended = true;
            break;
        }
    }
    assert!(ended);
    let mut other = joined(&h, "r", "awake", Role::Student).await;
    send(&mut other, &ClientMessage::Ping { nonce: 2 }).await;
    assert_eq!(msg(&mut other).await, ServerMessage::Pong { nonce: 2 });
    h.shutdown().await;
}
