//! Golden-JSON tests: the wire form of every message is pinned in `tests/golden/*.json`.
//! A change that alters the JSON of an existing message breaks old clients, so it must show
//! up here as a failing test. Set `UPDATE_GOLDEN=1` to rewrite the files after an intended,
//! additive change, and review the diff.

use classroom_protocol::*;
use std::path::PathBuf;

#[path = "golden_cases/class.rs"]
mod class_cases;

fn track(id: &str, source: Source) -> TrackInfo {
    TrackInfo {
        track_id: id.into(),
        participant_id: "p1".into(),
        source,
        kind: source.kind(),
    }
}

fn client_cases() -> Vec<(String, ClientMessage)> {
    let mut cases: Vec<(String, ClientMessage)> = vec![
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
        (
            "client_join_code",
            ClientMessage::JoinCode {
                code: "k7qm-3xz2-9hwd".into(),
                display_name: "Chen Wu".into(),
                protocol_version: PROTOCOL_VERSION,
                subscribe: true,
            },
        ),
    ]
    .into_iter()
    .map(|(name, msg)| (name.to_owned(), msg))
    .collect();
    for (name, req) in class_cases::requests() {
        cases.push((format!("client_class_{name}"), ClientMessage::Class(req)));
    }
    cases
}

fn server_cases() -> Vec<(String, ServerMessage)> {
    let mut cases: Vec<(String, ServerMessage)> = vec![
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
                retry: false,
                cause: Some(ByeCause::ServerStopped),
            },
        ),
        (
            "server_bye_retry",
            ServerMessage::Bye {
                reason: "the media connection was lost".into(),
                retry: true,
                cause: Some(ByeCause::Lost),
            },
        ),
        (
            "server_bye_class_ended",
            ServerMessage::Bye {
                reason: "the teacher ended the class".into(),
                retry: false,
                cause: Some(ByeCause::ClassEnded),
            },
        ),
        (
            "server_joined_identity",
            ServerMessage::Joined {
                participant_id: "p9".into(),
                room: "math-7b".into(),
                role: Role::Student,
                tracks: Vec::new(),
                simulcast: Vec::new(),
                identity: Some("g-5d2c81f0a9e4b7c36d1e0f2a".into()),
                token: Some("eyJhbGciOiJIUzI1NiJ9.e30.sig".into()),
            },
        ),
        (
            "server_error_removed",
            ServerMessage::error(ErrorCode::Removed, "you were removed from this class"),
        ),
    ]
    .into_iter()
    .map(|(name, msg)| (name.to_owned(), msg))
    .collect();
    for (name, event) in class_cases::events() {
        cases.push((format!("server_class_{name}"), ServerMessage::Class(event)));
    }
    cases
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
        let name = name.as_str();
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
        let name = name.as_str();
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
fn a_bye_without_a_cause_or_with_one_from_a_newer_server_still_reads() {
    // A server from before causes were added.
    let old = ServerMessage::decode(r#"{"type":"bye","reason":"server shutting down"}"#)
        .expect("an old bye");
    assert_eq!(
        old,
        ServerMessage::Bye {
            reason: "server shutting down".into(),
            retry: false,
            cause: None,
        }
    );
    // A cause this client does not know is "other", not a malformed message.
    let newer = ServerMessage::decode(
        r#"{"type":"bye","reason":"moved to another server","cause":"movedAway"}"#,
    )
    .expect("a newer bye");
    assert!(matches!(
        newer,
        ServerMessage::Bye {
            cause: Some(ByeCause::Other),
            ..
        }
    ));
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

/// The tag a class message carries, read from its JSON.
fn inner_tag(json: &str, field: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(json).expect("own output is JSON");
    assert_eq!(v["type"], "class", "{json}");
    v[field]
        .as_str()
        .expect("class messages carry their tag")
        .to_owned()
}

#[test]
fn every_class_action_and_event_has_a_golden_case_and_a_known_tag() {
    let mut actions: Vec<String> = class_cases::requests()
        .into_iter()
        .map(|(_, req)| inner_tag(&ClientMessage::Class(req).encode(), "action"))
        .collect();
    actions.sort();
    actions.dedup();
    let mut known: Vec<String> = CLASS_ACTIONS.iter().map(|s| s.to_string()).collect();
    known.sort();
    assert_eq!(
        actions, known,
        "one golden case per action, and the decoder knows each"
    );

    let mut events: Vec<String> = class_cases::events()
        .into_iter()
        .map(|(_, ev)| inner_tag(&ServerMessage::Class(ev).encode(), "event"))
        .collect();
    events.sort();
    events.dedup();
    let mut known: Vec<String> = CLASS_EVENTS.iter().map(|s| s.to_string()).collect();
    known.sort();
    assert_eq!(
        events, known,
        "one golden case per event, and the decoder knows each"
    );
}

#[test]
fn every_case_round_trips_through_its_own_encoding() {
    for (name, msg) in client_cases() {
        let back = ClientMessage::decode(&msg.encode()).expect(&name);
        assert_eq!(back, msg, "{name}");
    }
    for (name, msg) in server_cases() {
        let back = ServerMessage::decode(&msg.encode()).expect(&name);
        assert_eq!(back, msg, "{name}");
    }
}

#[test]
fn unknown_class_action_or_event_is_an_unknown_message_not_a_malformed_one() {
    let err = ClientMessage::decode(r#"{"type":"class","action":"teleport","to":"mars"}"#)
        .expect_err("unknown action");
    assert_eq!(err.code(), ErrorCode::UnknownMessage, "{err}");
    assert!(err.to_string().contains("teleport"), "{err}");

    let err =
        ServerMessage::decode(r#"{"type":"class","event":"confetti"}"#).expect_err("unknown event");
    assert_eq!(err.code(), ErrorCode::UnknownMessage, "{err}");

    // A known action with bad fields, or none at all, is still malformed.
    for text in [
        r#"{"type":"class","action":"startTimer","seconds":"soon"}"#,
        r#"{"type":"class","action":"chat"}"#,
        r#"{"type":"class"}"#,
        r#"{"type":"class","action":7}"#,
    ] {
        let err = ClientMessage::decode(text).expect_err(text);
        assert_eq!(err.code(), ErrorCode::Malformed, "{text} -> {err}");
    }
}

#[test]
fn optional_class_fields_may_be_left_out() {
    let req = ClientMessage::decode(r#"{"type":"class","action":"lowerHand"}"#).expect("valid");
    assert_eq!(
        req,
        ClientMessage::Class(ClassRequest::LowerHand {
            participant_id: None
        })
    );
    let req = ClientMessage::decode(
        r#"{"type":"joinCode","code":"x","displayName":"n","protocolVersion":1}"#,
    )
    .expect("valid");
    assert!(matches!(
        req,
        ClientMessage::JoinCode {
            subscribe: true,
            ..
        }
    ));
    let settings = ServerMessage::decode(
        r#"{"type":"class","event":"settings","locked":false,"lobbyPolicy":"admitAll","chatPaused":false,"stageLimit":6}"#,
    )
    .expect("a settings event from before studentsMuted");
    assert!(matches!(
        settings,
        ServerMessage::Class(ClassEvent::Settings(ClassSettings {
            students_muted: false,
            ..
        }))
    ));
}

#[test]
fn a_chat_message_leaves_out_a_students_role_and_an_everyone_audience_and_reads_either_form() {
    let full = r#"{"id":1,"from":"p7","name":"Ana","role":"student","audience":"everyone","text":"hi","atMs":5}"#;
    let short = r#"{"id":1,"from":"p7","name":"Ana","text":"hi","atMs":5}"#;
    let a: ChatMessage = serde_json::from_str(full).expect("the full form");
    let b: ChatMessage = serde_json::from_str(short).expect("the short form");
    assert_eq!(a, b);
    assert_eq!(b.role, Role::Student);
    assert_eq!(b.audience, ChatAudience::Everyone);
    let encoded = serde_json::to_string(&a).expect("encode");
    assert!(
        !encoded.contains("role") && !encoded.contains("audience"),
        "{encoded}"
    );
    // A teacher's, or a private one, says so.
    let teacher = ChatMessage {
        role: Role::Teacher,
        audience: ChatAudience::Staff,
        ..a
    };
    let encoded = serde_json::to_string(&teacher).expect("encode");
    assert!(encoded.contains(r#""role":"teacher""#) && encoded.contains(r#""audience":"staff""#));
}

#[test]
fn lesson_service_bodies_match_golden_json_and_round_trip() {
    use classroom_protocol::lessons::*;
    let catalog = LessonCatalog {
        room: "physics-7b".into(),
        lessons: vec![CatalogLesson {
            id: "forces".into(),
            title: "Forces".into(),
            notes: "牛顿定律".into(),
            position: 1,
            updated_ms: 1_796_000_000_000,
            materials: vec![CatalogMaterial {
                id: "chapter-1".into(),
                kind: MaterialKind::Pdf,
                title: "Chapter 1".into(),
                sha256: "ab".repeat(32),
                size: 3_000_000,
                mime: "application/pdf".into(),
                position: 0,
            }],
        }],
        assignments: vec![CatalogAssignment {
            id: "essay-1".into(),
            title: "Essay".into(),
            instructions: "Two pages on friction".into(),
            due_ms: Some(1_796_500_000_000),
        }],
    };
    let json = serde_json::to_string(&catalog).expect("encodes");
    check("lessons_catalog", &json);
    assert_eq!(
        serde_json::from_str::<LessonCatalog>(&json).expect("decodes"),
        catalog
    );
    let update = LessonUpdate {
        title: "Forces".into(),
        notes: String::new(),
        position: 2,
    };
    check(
        "lessons_update",
        &serde_json::to_string(&update).expect("encodes"),
    );
    let hand_ins = HandIns {
        room: "physics-7b".into(),
        hand_ins: vec![HandIn {
            key: "0190f1c2-7b3a-7000-8000-5a1e00000001".into(),
            assignment_id: "essay-1".into(),
            student: "ada".into(),
            student_name: Some("Ada Lovelace".into()),
            file_name: "essay.pdf".into(),
            sha256: "cd".repeat(32),
            size: 120_000,
            received_ms: 1_796_000_000_000,
            returned: Some(Marking {
                sha256: "ef".repeat(32),
                size: 300_000,
                mark: "8/10".into(),
                feedback: "写得很好".into(),
                returned_ms: 1_796_100_000_000,
            }),
        }],
    };
    let json = serde_json::to_string(&hand_ins).expect("encodes");
    check("lessons_hand_ins", &json);
    assert_eq!(
        serde_json::from_str::<HandIns>(&json).expect("decodes"),
        hand_ins
    );
    assert_eq!(
        homework_path("physics-7b", "essay-1", "k"),
        "/homework/physics-7b/essay-1/k"
    );
    check(
        "lessons_assignment_update",
        &serde_json::to_string(&AssignmentUpdate {
            title: "Essay".into(),
            instructions: String::new(),
            due_ms: None,
        })
        .expect("encodes"),
    );
    assert_eq!(assignment_path("r", "a"), "/assignments/r/a");
    assert_eq!(return_path("r", "k"), "/returns/r/k");
    assert_eq!(hand_ins_path("r"), "/homework/r");
    // An older server's catalog has no assignments; a hand-in not yet marked has no marking.
    let old: LessonCatalog = serde_json::from_str(r#"{"room":"r","lessons":[]}"#).expect("decodes");
    assert!(old.assignments.is_empty());
    // A kind a newer server adds reads as "other"; notes, position and materials may be
    // left out.
    let lesson: CatalogLesson = serde_json::from_str(
        r#"{"id":"l","title":"t","updatedMs":1,"materials":[{"id":"m","kind":"hologram",
            "title":"x","sha256":"00","size":1,"mime":"x/y"}]}"#,
    )
    .expect("decodes");
    assert_eq!(lesson.materials[0].kind, MaterialKind::Other);
    assert_eq!((lesson.notes.as_str(), lesson.position), ("", 0));
    assert!(is_lesson_path_id("physics-7b") && is_lesson_path_id("v1.2_x"));
    for bad in ["", ".", "..", "a/b", "a b", "%2e", &"x".repeat(65), "课"] {
        assert!(!is_lesson_path_id(bad), "{bad:?}");
    }
}
