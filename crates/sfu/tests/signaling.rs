//! Speaks the real websocket protocol to a real server on 127.0.0.1:0: bad input is answered
//! with an error or a close, counted, and never takes the server down.

use std::time::Duration;

use classroom_protocol::{
    ByeCause, ClientMessage, ErrorCode, PROTOCOL_VERSION, Role, ServerMessage,
};
use classroom_sfu::{ServerConfig, ServerHandle, start};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn server() -> ServerHandle {
    start(ServerConfig::loopback())
        .await
        .expect("server starts")
}

async fn connect(h: &ServerHandle) -> Ws {
    connect_async(h.url()).await.expect("connects").0
}

async fn next_frame(ws: &mut Ws) -> Option<Message> {
    match tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("server answers in time")?
    {
        Ok(m) => Some(m),
        Err(e) => {
            eprintln!("connection ended with {e}");
            None
        }
    }
}

/// The next message that is not about the class (these tests are about signaling; the
/// class's own events are tested in `classroom.rs`).
async fn next_msg(ws: &mut Ws) -> ServerMessage {
    loop {
        match next_frame(ws).await.expect("connection open") {
            Message::Text(t) => {
                match ServerMessage::decode(t.as_str()).expect("server speaks the protocol") {
                    ServerMessage::Class(_) => continue,
                    msg => return msg,
                }
            }
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

async fn expect_error(ws: &mut Ws, code: ErrorCode) {
    match next_msg(ws).await {
        ServerMessage::Error { code: got, message } => {
            assert_eq!(got, code, "{message}");
            assert!(!message.is_empty());
        }
        other => panic!("expected error {code:?}, got {other:?}"),
    }
}

fn token(h: &ServerHandle, role: Role) -> String {
    h.mint_token("room-1", "ada", role, Duration::from_secs(60))
        .expect("mint")
}

fn join(token: &str) -> ClientMessage {
    ClientMessage::Join {
        token: token.into(),
        room: "room-1".into(),
        display_name: "Ada".into(),
        role: Role::Student,
        protocol_version: PROTOCOL_VERSION,
        subscribe: true,
    }
}

async fn send(ws: &mut Ws, msg: &ClientMessage) {
    ws.send(Message::text(msg.encode())).await.expect("send");
}

#[tokio::test]
async fn malformed_and_unknown_messages_get_errors_and_the_connection_survives() {
    let h = server().await;
    let mut ws = connect(&h).await;
    for bad in [
        "{not json",
        "[]",
        r#"{"type":"join"}"#,
        r#"{"type":"ping","nonce":-1}"#,
    ] {
        ws.send(Message::text(bad)).await.expect("send");
        expect_error(&mut ws, ErrorCode::Malformed).await;
    }
    ws.send(Message::text(r#"{"type":"teleport"}"#))
        .await
        .expect("send");
    expect_error(&mut ws, ErrorCode::UnknownMessage).await;
    ws.send(Message::binary(vec![0u8, 1, 2]))
        .await
        .expect("send");
    expect_error(&mut ws, ErrorCode::Malformed).await;
    // Still a working connection.
    send(&mut ws, &ClientMessage::Ping { nonce: 9 }).await;
    assert_eq!(next_msg(&mut ws).await, ServerMessage::Pong { nonce: 9 });
    assert_eq!(h.metrics().snapshot().signaling_errors, 6);
    h.shutdown().await;
}

#[tokio::test]
async fn oversized_message_is_refused_with_a_close_and_others_are_unaffected() {
    let h = server().await;
    let mut other = connect(&h).await;
    send(&mut other, &join(&token(&h, Role::Student))).await;
    assert!(matches!(
        next_msg(&mut other).await,
        ServerMessage::Joined { .. }
    ));

    let mut ws = connect(&h).await;
    let huge = format!(r#"{{"type":"answer","sdp":"{}"}}"#, "x".repeat(70 * 1024));
    // The server may close before reading all of it; a failed send is fine too.
    let _ = ws.send(Message::text(huge)).await;
    let mut saw_close = false;
    while let Some(frame) = next_frame(&mut ws).await {
        match frame {
            Message::Text(t) => {
                let msg = ServerMessage::decode(t.as_str()).expect("protocol");
                assert!(
                    matches!(
                        msg,
                        ServerMessage::Error {
                            code: ErrorCode::TooLarge,
                            ..
                        }
                    ),
                    "{msg:?}"
                );
            }
            Message::Close(Some(frame)) => {
                assert_eq!(frame.code, CloseCode::Size);
                saw_close = true;
            }
            Message::Close(None) => saw_close = true,
            _ => {}
        }
    }
    assert!(saw_close, "oversized message must close the connection");
    assert!(h.metrics().snapshot().connections_refused >= 1);

    // The room and the server carry on.
    send(&mut other, &ClientMessage::Ping { nonce: 1 }).await;
    assert_eq!(next_msg(&mut other).await, ServerMessage::Pong { nonce: 1 });
    let mut late = connect(&h).await;
    send(&mut late, &join(&token(&h, Role::Student))).await;
    assert!(matches!(
        next_msg(&mut late).await,
        ServerMessage::Joined { .. }
    ));
    h.shutdown().await;
}

#[tokio::test]
async fn joins_and_offers_are_checked() {
    let h = server().await;
    let mut ws = connect(&h).await;
    send(
        &mut ws,
        &ClientMessage::Offer {
            sdp: "v=0".into(),
            tracks: vec![],
        },
    )
    .await;
    expect_error(&mut ws, ErrorCode::BadState).await;
    send(&mut ws, &join("   ")).await;
    expect_error(&mut ws, ErrorCode::Unauthorized).await;
    let mut old = join(&token(&h, Role::Student));
    if let ClientMessage::Join {
        protocol_version, ..
    } = &mut old
    {
        *protocol_version = 0;
    }
    send(&mut ws, &old).await;
    expect_error(&mut ws, ErrorCode::UnsupportedVersion).await;
    send(&mut ws, &join(&token(&h, Role::Student))).await;
    match next_msg(&mut ws).await {
        ServerMessage::Joined { room, tracks, .. } => {
            assert_eq!(room, "room-1");
            assert!(tracks.is_empty());
        }
        other => panic!("{other:?}"),
    }
    send(&mut ws, &join(&token(&h, Role::Student))).await;
    expect_error(&mut ws, ErrorCode::BadState).await;
    // A student off stage may not publish: refused before the SDP is even read.
    send(
        &mut ws,
        &ClientMessage::Offer {
            sdp: "this is not sdp".into(),
            tracks: vec![],
        },
    )
    .await;
    expect_error(&mut ws, ErrorCode::Forbidden).await;
    // Someone who may publish gets the SDP checked.
    let mut teacher = connect(&h).await;
    let teacher_token = h
        .mint_token("room-1", "rivera", Role::Teacher, Duration::from_secs(60))
        .expect("mint");
    let mut as_teacher = join(&teacher_token);
    if let ClientMessage::Join { role, .. } = &mut as_teacher {
        *role = Role::Teacher;
    }
    send(&mut teacher, &as_teacher).await;
    assert!(matches!(
        next_msg(&mut teacher).await,
        ServerMessage::Joined { .. }
    ));
    send(
        &mut teacher,
        &ClientMessage::Offer {
            sdp: "this is not sdp".into(),
            tracks: vec![],
        },
    )
    .await;
    expect_error(&mut teacher, ErrorCode::BadSdp).await;
    send(
        &mut ws,
        &ClientMessage::Answer {
            sdp: "v=0\r\n".into(),
        },
    )
    .await;
    expect_error(&mut ws, ErrorCode::BadSdp).await;
    h.shutdown().await;
}

#[tokio::test]
async fn random_udp_is_dropped_and_counted() {
    let h = server().await;
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for len in [0usize, 1, 2, 12, 13, 20, 100, 1200, 1500] {
        let mut data = vec![0u8; len];
        for b in &mut data {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            *b = seed as u8;
        }
        sock.send_to(&data, h.udp_addr()).await.expect("send");
    }
    // Counted as dropped at once, or (one that looks like DTLS, kept a moment in case its
    // connection accepts it next: `core/early.rs`) half a second later.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while (h.metrics().snapshot().udp_packets_in < 9 || h.metrics().snapshot().udp_dropped < 9)
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let m = h.metrics().snapshot();
    assert_eq!(m.udp_packets_in, 9);
    assert_eq!(m.udp_dropped, 9);
    // And still serving.
    let mut ws = connect(&h).await;
    send(&mut ws, &ClientMessage::Ping { nonce: 3 }).await;
    assert_eq!(next_msg(&mut ws).await, ServerMessage::Pong { nonce: 3 });
    h.shutdown().await;
}

/// The `bye` a joined student gets when the server stops, by its host ending the class
/// (`end_class`) or by being stopped (`shutdown`).
async fn bye_when_stopped(end_class: bool) -> ServerMessage {
    let h = server().await;
    let mut ws = connect(&h).await;
    send(&mut ws, &join(&token(&h, Role::Student))).await;
    assert!(matches!(
        next_msg(&mut ws).await,
        ServerMessage::Joined { .. }
    ));
    if end_class {
        h.end_class().await;
    } else {
        h.shutdown().await;
    }
    next_msg(&mut ws).await
}

#[tokio::test]
async fn shutdown_says_goodbye() {
    assert!(matches!(
        bye_when_stopped(false).await,
        ServerMessage::Bye {
            retry: false,
            cause: Some(ByeCause::ServerStopped),
            ..
        }
    ));
}

#[tokio::test]
async fn a_class_ended_by_its_host_says_so() {
    assert!(matches!(
        bye_when_stopped(true).await,
        ServerMessage::Bye {
            retry: false,
            cause: Some(ByeCause::ClassEnded),
            ..
        }
    ));
}

#[tokio::test]
async fn tokens_decide_who_joins_and_what_they_may_publish() {
    use classroom_protocol::{PublishTrack, Source};
    use classroom_sfu::{AccessKey, Claims};
    let h = server().await;
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let mut ws = connect(&h).await;

    // Expired, signed by someone else, for another room, for another role: all refused.
    let expired = h
        .access()
        .mint(&Claims::new(
            "room-1",
            "ada",
            Role::Student,
            Duration::ZERO,
            unix - 3600,
        ))
        .expect("mint");
    let forged = AccessKey::from_secret(&[1u8; 32])
        .expect("key")
        .mint(&Claims::new(
            "room-1",
            "ada",
            Role::Student,
            Duration::from_secs(60),
            unix,
        ))
        .expect("mint");
    let other_room = h
        .mint_token("room-2", "ada", Role::Student, Duration::from_secs(60))
        .expect("mint");
    let teacher = h
        .mint_token("room-1", "ada", Role::Teacher, Duration::from_secs(60))
        .expect("mint");
    // An expired token is told apart from the rest (so the app can say "ask for a new
    // invite"); the others are simply not valid here.
    send(&mut ws, &join(&expired)).await;
    expect_error(&mut ws, ErrorCode::Expired).await;
    for bad in [forged.as_str(), other_room.as_str(), "", "a.b.c"] {
        send(&mut ws, &join(bad)).await;
        expect_error(&mut ws, ErrorCode::Unauthorized).await;
    }
    // A teacher's token used to join as a student is refused too: the token decides the role.
    send(&mut ws, &join(&teacher)).await;
    expect_error(&mut ws, ErrorCode::Unauthorized).await;

    // A student may not share the screen; an observer may not publish at all.
    send(&mut ws, &join(&token(&h, Role::Student))).await;
    assert!(matches!(
        next_msg(&mut ws).await,
        ServerMessage::Joined {
            role: Role::Student,
            ..
        }
    ));
    let screen = ClientMessage::Offer {
        sdp: "v=0\r\n".into(),
        tracks: vec![PublishTrack::new("0", Source::Screen)],
    };
    send(&mut ws, &screen).await;
    expect_error(&mut ws, ErrorCode::Forbidden).await;

    let mut observer = connect(&h).await;
    send(
        &mut observer,
        &ClientMessage::Join {
            token: h
                .mint_token("room-1", "parent", Role::Observer, Duration::from_secs(60))
                .expect("mint"),
            room: "room-1".into(),
            display_name: "Parent".into(),
            role: Role::Observer,
            protocol_version: PROTOCOL_VERSION,
            subscribe: true,
        },
    )
    .await;
    assert!(matches!(
        next_msg(&mut observer).await,
        ServerMessage::Joined {
            role: Role::Observer,
            ..
        }
    ));
    send(
        &mut observer,
        &ClientMessage::Offer {
            sdp: "v=0\r\n".into(),
            tracks: vec![],
        },
    )
    .await;
    expect_error(&mut observer, ErrorCode::Forbidden).await;
    assert_eq!(h.metrics().snapshot().signaling_errors, 8);
    h.shutdown().await;
}

/// A server with simulcast on asks those who may publish a camera for its layers in their
/// `joined`; observers, and every client of a server without it, are asked for none.
#[tokio::test]
async fn joined_asks_camera_publishers_for_simulcast_layers() {
    let layers = classroom_sfu::standard_simulcast_layers();
    let h = start(ServerConfig {
        simulcast: layers.clone(),
        ..ServerConfig::loopback()
    })
    .await
    .expect("server starts");
    let joined_layers = |msg: ServerMessage| match msg {
        ServerMessage::Joined { simulcast, .. } => simulcast,
        other => panic!("expected joined, got {other:?}"),
    };
    for (role, expected) in [
        (Role::Student, layers.clone()),
        (Role::Observer, Vec::new()),
    ] {
        let mut ws = connect(&h).await;
        let token = h
            .mint_token("room-1", "ada", role, Duration::from_secs(60))
            .expect("mint");
        send(
            &mut ws,
            &ClientMessage::Join {
                token,
                room: "room-1".into(),
                display_name: "Ada".into(),
                role,
                protocol_version: PROTOCOL_VERSION,
                subscribe: true,
            },
        )
        .await;
        assert_eq!(joined_layers(next_msg(&mut ws).await), expected, "{role:?}");
    }
    h.shutdown().await;

    let plain = server().await;
    let mut ws = connect(&plain).await;
    send(&mut ws, &join(&token(&plain, Role::Student))).await;
    assert!(joined_layers(next_msg(&mut ws).await).is_empty());
    plain.shutdown().await;
}
