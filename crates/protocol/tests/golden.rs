//! Golden-JSON tests: the wire form of every message is pinned in `tests/golden/*.json`.
//! A change that alters the JSON of an existing message breaks old clients, so it must show
//! up here as a failing test. Set `UPDATE_GOLDEN=1` to rewrite the files after an intended,
//! additive change, and review the diff.

use classroom_protocol::*;
use std::path::PathBuf;

fn track(id: &str, source: Source) -> TrackInfo {
    TrackInfo {
        track_id: id.into(),
        participant_id: "p1".into(),
        source,
        kind: source.kind(),
    }
}

fn client_cases() -> Vec<(&'static str, ClientMessage)> {
    vec![
        (
            "client_join",
            ClientMessage::Join {
                token: "tok".into(),
                room: "math-7b".into(),
                display_name: "Ms. Rivera".into(),
                role: Role::Teacher,
                protocol_version: PROTOCOL_VERSION,
                subscribe: false,
            },
        ),
        (
            "client_offer",
            ClientMessage::Offer {
                sdp: "v=0\r\n".into(),
                tracks: vec![
                    PublishTrack {
                        mid: "0".into(),
                        source: Source::Camera,
                        layers: vec![
                            SimulcastLayer {
                                rid: "l".into(),
                                width: 320,
                                height: 180,
                            },
                            SimulcastLayer {
                                rid: "h".into(),
                                width: 1280,
                                height: 720,
                            },
                        ],
                    },
                    PublishTrack::new("1", Source::Microphone),
                    PublishTrack::new("2", Source::Screen),
                ],
            },
        ),
        (
            "client_answer",
            ClientMessage::Answer {
                sdp: "v=0\r\n".into(),
            },
        ),
        (
            "client_ice",
            ClientMessage::IceCandidate(IceCandidate {
                transport: Transport::Publish,
                candidate: "candidate:1 1 UDP 2015363327 127.0.0.1 40000 typ host".into(),
                sdp_m_line_index: 0,
            }),
        ),
        ("client_ping", ClientMessage::Ping { nonce: 7 }),
        ("client_leave", ClientMessage::Leave),
        (
            "client_viewport",
            ClientMessage::Viewport {
                track_id: "t1".into(),
                width: 640,
                height: 360,
            },
        ),
    ]
}

fn server_cases() -> Vec<(&'static str, ServerMessage)> {
    vec![
        (
            "server_joined",
            ServerMessage::Joined {
                participant_id: "p2".into(),
                room: "math-7b".into(),
                role: Role::Student,
                tracks: vec![track("t1", Source::Camera)],
                simulcast: Vec::new(),
                identity: None,
                token: None,
            },
        ),
        (
            "server_joined_simulcast",
            ServerMessage::Joined {
                participant_id: "p1".into(),
                room: "math-7b".into(),
                role: Role::Teacher,
                tracks: Vec::new(),
                simulcast: vec![
                    SimulcastLayer {
                        rid: "l".into(),
                        width: 320,
                        height: 180,
                    },
                    SimulcastLayer {
                        rid: "m".into(),
                        width: 640,
                        height: 360,
                    },
                    SimulcastLayer {
                        rid: "h".into(),
                        width: 1280,
                        height: 720,
                    },
                ],
                identity: None,
                token: None,
            },
        ),
        (
            "server_answer",
            ServerMessage::Answer {
                sdp: "v=0\r\n".into(),
            },
        ),
        (
            "server_offer",
            ServerMessage::Offer {
                sdp: "v=0\r\n".into(),
                tracks: vec![SubscribedTrack {
                    mid: "0".into(),
                    track: track("t2", Source::Screen),
                }],
            },
        ),
        (
            "server_ice",
            ServerMessage::IceCandidate(IceCandidate {
                transport: Transport::Subscribe,
                candidate: "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host".into(),
                sdp_m_line_index: 1,
            }),
        ),
        (
            "server_track_published",
            ServerMessage::TrackPublished {
                track: track("t3", Source::Microphone),
            },
        ),
        (
            "server_track_unpublished",
            ServerMessage::TrackUnpublished {
                track_id: "t3".into(),
            },
        ),
        ("server_pong", ServerMessage::Pong { nonce: 7 }),
        (
            "server_active_speaker",
            ServerMessage::ActiveSpeaker {
                participant_id: Some("p1".into()),
                track_id: Some("t2".into()),
                level_dbov: -23,
            },
        ),
        (
            "server_error",
            ServerMessage::error(ErrorCode::UnknownMessage, "unknown message type \"x\""),
        ),
        (
            "server_bye",
            ServerMessage::Bye {
                reason: "server shutting down".into(),
            },
        ),
    ]
}

fn check(name: &str, json: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.json"));
    let pretty = {
        let v: serde_json::Value = serde_json::from_str(json).expect("own output is JSON");
        serde_json::to_string_pretty(&v).expect("pretty") + "\n"
    };
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &pretty).expect("write golden");
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create)",
            path.display()
        )
    });
    assert_eq!(pretty, golden, "wire form of {name} changed");
}

#[test]
fn client_messages_match_golden_json_and_round_trip() {
    for (name, msg) in client_cases() {
        check(name, &msg.encode());
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{name}.json"));
        let text = std::fs::read_to_string(path).expect("golden exists");
        assert_eq!(
            ClientMessage::decode(&text).expect("golden decodes"),
            msg,
            "{name}"
        );
    }
}

#[test]
fn server_messages_match_golden_json_and_round_trip() {
    for (name, msg) in server_cases() {
        check(name, &msg.encode());
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{name}.json"));
        let text = std::fs::read_to_string(path).expect("golden exists");
        assert_eq!(
            ServerMessage::decode(&text).expect("golden decodes"),
            msg,
            "{name}"
        );
    }
}

#[test]
fn join_without_subscribe_field_defaults_to_subscribing() {
    let text = r#"{"type":"join","token":"t","room":"r","displayName":"n","role":"student","protocolVersion":1}"#;
    match ClientMessage::decode(text).expect("valid") {
        ClientMessage::Join { subscribe, .. } => assert!(subscribe),
        other => panic!("decoded as {other:?}"),
    }
}

#[test]
fn bad_input_gets_the_right_error() {
    let cases: &[(&str, ErrorCode)] = &[
        ("", ErrorCode::Malformed),
        ("not json", ErrorCode::Malformed),
        ("[1,2]", ErrorCode::Malformed),
        (r#"{"nonce":1}"#, ErrorCode::Malformed),
        (r#"{"type":"ping"}"#, ErrorCode::Malformed),
        (r#"{"type":"ping","nonce":"x"}"#, ErrorCode::Malformed),
        (
            r#"{"type":"teleport","to":"mars"}"#,
            ErrorCode::UnknownMessage,
        ),
        (r#"{"type":42}"#, ErrorCode::Malformed),
        (
            "{\"type\":\"join\",\"token\":\"\u{0}\"",
            ErrorCode::Malformed,
        ),
    ];
    for (text, code) in cases {
        let err = ClientMessage::decode(text).expect_err(text);
        assert_eq!(err.code(), *code, "{text:?} -> {err}");
    }
    let big = format!(
        r#"{{"type":"answer","sdp":"{}"}}"#,
        "a".repeat(MAX_MESSAGE_BYTES)
    );
    assert_eq!(
        ClientMessage::decode(&big).expect_err("too large").code(),
        ErrorCode::TooLarge
    );
    assert_eq!(
        ServerMessage::decode(r#"{"type":"hologram"}"#)
            .expect_err("unknown")
            .code(),
        ErrorCode::UnknownMessage
    );
}
