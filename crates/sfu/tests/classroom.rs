//! The class's rules through the real server: websockets on 127.0.0.1, the same messages the
//! app sends. Entry (invite secret exchanged for a personal token, class code through the
//! lobby), a participant's place kept across a reconnect, removal and revocation, a token
//! expiring during the class, roles checked on every request, and a roll call end to end.
//! (Every request from every role is covered against the pure rules in `crates/classroom`.)

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use classroom_protocol::{
    ClassEvent, ClassRequest, ClientMessage, ErrorCode, LobbyPolicy, MAX_MESSAGE_BYTES, MAX_ROSTER,
    PROTOCOL_VERSION, Role, RosterEntry, ServerMessage, roster_requests,
};
use classroom_sfu::{Claims, ServerConfig, ServerHandle, start};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

const ROOM: &str = "physics-7b";

async fn connect(h: &ServerHandle) -> Ws {
    connect_async(h.url()).await.expect("connects").0
}

async fn send(ws: &mut Ws, msg: ClientMessage) {
    ws.send(Message::text(msg.encode())).await.expect("send");
}

/// The next message, or `None` when the server closed the connection.
async fn next(ws: &mut Ws) -> Option<ServerMessage> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("the server answers in time");
        match frame {
            Some(Ok(Message::Text(t))) => {
                return Some(ServerMessage::decode(t.as_str()).expect("protocol"));
            }
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => continue,
        }
    }
}

/// Reads until `pick` returns something, panicking (with what was seen) if the connection
/// closes first.
async fn until<T>(ws: &mut Ws, mut pick: impl FnMut(&ServerMessage) -> Option<T>) -> T {
    let mut seen = Vec::new();
    loop {
        match next(ws).await {
            Some(msg) => {
                if let Some(t) = pick(&msg) {
                    return t;
                }
                seen.push(msg);
            }
            None => panic!("closed before the awaited message; saw {seen:?}"),
        }
    }
}

fn join_msg(token: &str, name: &str, role: Role) -> ClientMessage {
    ClientMessage::Join {
        token: token.into(),
        room: ROOM.into(),
        display_name: name.into(),
        role,
        protocol_version: PROTOCOL_VERSION,
        subscribe: false,
    }
}

/// Joins `name` with a personal token for `role`; returns the socket and participant id.
async fn join(h: &ServerHandle, name: &str, role: Role) -> (Ws, String) {
    let token = h
        .mint_token(ROOM, name, role, Duration::from_secs(600))
        .expect("mint");
    let mut ws = connect(h).await;
    send(&mut ws, join_msg(&token, name, role)).await;
    let id = until(&mut ws, |m| match m {
        ServerMessage::Joined { participant_id, .. } => Some(participant_id.clone()),
        _ => None,
    })
    .await;
    (ws, id)
}

fn error_code(m: &ServerMessage) -> Option<ErrorCode> {
    match m {
        ServerMessage::Error { code, .. } => Some(*code),
        _ => None,
    }
}

async fn server() -> ServerHandle {
    start(ServerConfig::loopback()).await.expect("server")
}

#[tokio::test]
async fn an_invite_is_exchanged_for_a_personal_token_that_keeps_the_place_across_a_reconnect() {
    let h = server().await;
    let invite = h
        .create_class(ROOM, LobbyPolicy::AdmitAll, Vec::new())
        .await
        .expect("class");
    let (mut teacher, _) = join(&h, "Ms. Rivera", Role::Teacher).await;

    // The invite secret lets a student in with an identity and a token of her own.
    let mut ada = connect(&h).await;
    send(&mut ada, join_msg(&invite.secret, "Ada", Role::Student)).await;
    let (id, identity, token) = until(&mut ada, |m| match m {
        ServerMessage::Joined {
            participant_id,
            identity,
            token,
            ..
        } => Some((participant_id.clone(), identity.clone(), token.clone())),
        _ => None,
    })
    .await;
    let token = token.expect("a personal token for an invite join");
    let identity = identity.expect("an identity");
    assert_ne!(token, invite.secret);
    // She raises her hand, then her connection drops.
    send(&mut ada, ClientMessage::Class(ClassRequest::RaiseHand)).await;
    until(&mut ada, |m| match m {
        ServerMessage::Class(ClassEvent::You(you)) if you.hand_position == Some(1) => Some(()),
        _ => None,
    })
    .await;
    drop(ada);

    // Back within the grace period with her personal token: the same participant, hand
    // still up, and nobody sees her twice.
    let mut again = connect(&h).await;
    send(&mut again, join_msg(&token, "Ada", Role::Student)).await;
    let (id2, identity2) = until(&mut again, |m| match m {
        ServerMessage::Joined {
            participant_id,
            identity,
            ..
        } => Some((participant_id.clone(), identity.clone())),
        _ => None,
    })
    .await;
    assert_eq!(id2, id);
    assert_eq!(identity2.as_deref(), Some(identity.as_str()));
    until(&mut again, |m| match m {
        ServerMessage::Class(ClassEvent::State { you, .. }) => {
            assert_eq!(you.hand_position, Some(1), "the hand stays up");
            Some(())
        }
        _ => None,
    })
    .await;
    // The teacher's list has her once, connected.
    send(
        &mut teacher,
        ClientMessage::Class(ClassRequest::ListParticipants {
            offset: 0,
            limit: 50,
        }),
    )
    .await;
    let items = until(&mut teacher, |m| match m {
        ServerMessage::Class(ClassEvent::Participants { items, .. })
            if items.iter().any(|p| p.participant_id == id) =>
        {
            Some(items.clone())
        }
        _ => None,
    })
    .await;
    let ada: Vec<_> = items.iter().filter(|p| p.participant_id == id).collect();
    assert_eq!(ada.len(), 1, "{items:?}");
    assert!(ada[0].connected);
    assert!(ada[0].hand.is_some());
    // A made-up secret is refused.
    let mut stranger = connect(&h).await;
    send(
        &mut stranger,
        join_msg("0123456789abcdef0123456789abcdef", "Eve", Role::Student),
    )
    .await;
    assert_eq!(
        until(&mut stranger, error_code).await,
        ErrorCode::Unauthorized
    );
    h.shutdown().await;
}

#[tokio::test]
async fn a_class_code_leads_to_the_lobby_and_staff_let_people_in_or_not() {
    let h = server().await;
    let invite = h
        .create_class(ROOM, LobbyPolicy::AdmitAll, Vec::new())
        .await
        .expect("class");
    let (mut teacher, _) = join(&h, "Ms. Rivera", Role::Teacher).await;
    let by_code = |name: &str, code: &str| ClientMessage::JoinCode {
        code: code.to_owned(),
        display_name: name.to_owned(),
        protocol_version: PROTOCOL_VERSION,
        subscribe: false,
    };
    // Typed in lower case with spaces: still the code.
    let typed = invite.code.to_lowercase().replace('-', " ");
    let mut bo = connect(&h).await;
    send(&mut bo, by_code("Bo", &typed)).await;
    until(&mut bo, |m| match m {
        ServerMessage::Class(ClassEvent::Waiting { .. }) => Some(()),
        _ => None,
    })
    .await;
    let waiting = until(&mut teacher, |m| match m {
        ServerMessage::Class(ClassEvent::Lobby { waiting }) if !waiting.is_empty() => {
            Some(waiting.clone())
        }
        _ => None,
    })
    .await;
    assert_eq!(waiting[0].name, "Bo");
    send(
        &mut teacher,
        ClientMessage::Class(ClassRequest::Admit {
            participant_id: waiting[0].participant_id.clone(),
        }),
    )
    .await;
    let token = until(&mut bo, |m| match m {
        ServerMessage::Joined { token, .. } => Some(token.clone()),
        _ => None,
    })
    .await;
    assert!(token.is_some(), "a code join is given a personal token");

    // Someone else comes by code and is sent away.
    let mut cy = connect(&h).await;
    send(&mut cy, by_code("Cy", &invite.code)).await;
    let waiting = until(&mut teacher, |m| match m {
        ServerMessage::Class(ClassEvent::Lobby { waiting }) if !waiting.is_empty() => {
            Some(waiting.clone())
        }
        _ => None,
    })
    .await;
    send(
        &mut teacher,
        ClientMessage::Class(ClassRequest::Deny {
            participant_id: waiting[0].participant_id.clone(),
        }),
    )
    .await;
    assert_eq!(until(&mut cy, error_code).await, ErrorCode::Denied);
    assert!(matches!(
        next(&mut cy).await,
        Some(ServerMessage::Bye {
            retry: false,
            cause: Some(classroom_protocol::ByeCause::Refused),
            ..
        })
    ));

    // A wrong code is refused, and guessing runs into the rate limit.
    let mut guesses = Vec::new();
    for i in 0..8 {
        let mut eve = connect(&h).await;
        send(&mut eve, by_code("Eve", &format!("0000-0000-{i:04}"))).await;
        guesses.push(until(&mut eve, error_code).await);
    }
    assert_eq!(guesses[0], ErrorCode::NotFound);
    assert!(guesses.contains(&ErrorCode::RateLimited), "{guesses:?}");
    h.shutdown().await;
}

#[tokio::test]
async fn a_removed_participant_is_closed_and_their_token_is_refused_afterwards() {
    let h = server().await;
    let (mut teacher, _) = join(&h, "Ms. Rivera", Role::Teacher).await;
    let token = h
        .mint_token(ROOM, "mallory", Role::Student, Duration::from_secs(600))
        .expect("mint");
    let mut mallory = connect(&h).await;
    send(&mut mallory, join_msg(&token, "Mallory", Role::Student)).await;
    let id = until(&mut mallory, |m| match m {
        ServerMessage::Joined { participant_id, .. } => Some(participant_id.clone()),
        _ => None,
    })
    .await;
    // A student cannot remove anyone: refused, counted, and the student stays.
    let errors = h.metrics().snapshot().signaling_errors;
    send(
        &mut mallory,
        ClientMessage::Class(ClassRequest::Remove {
            participant_id: "p1".into(),
        }),
    )
    .await;
    assert_eq!(until(&mut mallory, error_code).await, ErrorCode::Forbidden);
    assert_eq!(h.metrics().snapshot().signaling_errors, errors + 1);
    send(&mut mallory, ClientMessage::Ping { nonce: 5 }).await;
    until(&mut mallory, |m| {
        matches!(m, ServerMessage::Pong { nonce: 5 }).then_some(())
    })
    .await;

    send(
        &mut teacher,
        ClientMessage::Class(ClassRequest::Remove { participant_id: id }),
    )
    .await;
    assert_eq!(until(&mut mallory, error_code).await, ErrorCode::Removed);
    let mut closed = false;
    for _ in 0..10 {
        match next(&mut mallory).await {
            None => {
                closed = true;
                break;
            }
            Some(_) => continue,
        }
    }
    assert!(closed, "the removed participant's connection is closed");
    // Her token is refused for this class from now on.
    let mut back = connect(&h).await;
    send(&mut back, join_msg(&token, "Mallory", Role::Student)).await;
    assert_eq!(until(&mut back, error_code).await, ErrorCode::Removed);
    h.shutdown().await;
}

#[tokio::test]
async fn a_student_who_leaves_is_off_the_teachers_list_at_once_and_one_who_drops_is_not() {
    let h = server().await;
    let (mut teacher, _) = join(&h, "Ms. Rivera", Role::Teacher).await;
    let (mut ada, ada_id) = join(&h, "Ada", Role::Student).await;
    let (bo, bo_id) = join(&h, "Bo", Role::Student).await;
    // Bo's connection drops: kept, shown as not connected, for the grace period.
    drop(bo);
    until(&mut teacher, |m| match m {
        ServerMessage::Class(ClassEvent::ParticipantsChanged { upserts, .. }) => upserts
            .iter()
            .any(|p| p.participant_id == bo_id && !p.connected)
            .then_some(()),
        _ => None,
    })
    .await;
    // Ada leaves: off the list now (well inside the 30 s grace period).
    send(&mut ada, ClientMessage::Leave).await;
    let removed = until(&mut teacher, |m| match m {
        ServerMessage::Class(ClassEvent::ParticipantsChanged { removed, .. })
            if !removed.is_empty() =>
        {
            Some(removed.clone())
        }
        _ => None,
    })
    .await;
    assert_eq!(removed, vec![ada_id], "Bo is still kept");
    h.shutdown().await;
}

#[tokio::test]
async fn a_token_that_expires_during_the_class_ends_the_participant_there() {
    let h = server().await;
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    // Valid (with the server's clock-skew leeway) for about two more seconds.
    let leeway = classroom_sfu::access::LEEWAY_SECS;
    let claims = Claims::new(
        ROOM,
        "short",
        Role::Student,
        Duration::ZERO,
        unix - leeway + 2,
    );
    let token = h.access().mint(&claims).expect("mint");
    let mut ws = connect(&h).await;
    send(&mut ws, join_msg(&token, "Short", Role::Student)).await;
    until(&mut ws, |m| {
        matches!(m, ServerMessage::Joined { .. }).then_some(())
    })
    .await;
    let started = std::time::Instant::now();
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(10), next(&mut ws)).await {
            Ok(Some(ServerMessage::Error { code, .. })) => break code,
            Ok(Some(_)) => continue,
            other => panic!("no expiry error: {other:?}"),
        }
    };
    assert_eq!(code, ErrorCode::Expired);
    assert!(started.elapsed() < Duration::from_secs(8));
    h.shutdown().await;
}

#[tokio::test]
async fn a_roll_call_is_answered_and_counted_for_the_teacher() {
    let h = server().await;
    let (mut teacher, _) = join(&h, "Ms. Rivera", Role::Teacher).await;
    let (mut ada, _) = join(&h, "Ada", Role::Student).await;
    let (mut bo, _) = join(&h, "Bo", Role::Student).await;
    // Students cannot start one.
    send(
        &mut ada,
        ClientMessage::Class(ClassRequest::StartRollCall { seconds: 60 }),
    )
    .await;
    assert_eq!(until(&mut ada, error_code).await, ErrorCode::Forbidden);

    send(
        &mut teacher,
        ClientMessage::Class(ClassRequest::StartRollCall { seconds: 60 }),
    )
    .await;
    let id = until(&mut ada, |m| match m {
        ServerMessage::Class(ClassEvent::RollCall(r)) if r.open => Some(r.roll_call_id),
        _ => None,
    })
    .await;
    send(
        &mut ada,
        ClientMessage::Class(ClassRequest::AnswerRollCall { roll_call_id: id }),
    )
    .await;
    // The teacher sees one of two answered, and who has not.
    let (answered, expected, missing) = until(&mut teacher, |m| match m {
        ServerMessage::Class(ClassEvent::RollCallTally {
            answered,
            expected,
            missing,
            ..
        }) if *answered == 1 => Some((*answered, *expected, missing.clone())),
        _ => None,
    })
    .await;
    assert_eq!((answered, expected), (1, 2));
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].name, "Bo");
    let _ = until(&mut bo, |m| match m {
        ServerMessage::Class(ClassEvent::RollCall(r)) => Some(r.clone()),
        _ => None,
    })
    .await;
    h.shutdown().await;
}

#[tokio::test]
async fn a_roster_of_twenty_thousand_goes_in_parts_and_the_report_lists_them_all() {
    let h = server().await;
    let (mut teacher, _) = join(&h, "Ms. Rivera", Role::Teacher).await;
    let roster: Vec<RosterEntry> = (0..MAX_ROSTER)
        .map(|i| RosterEntry {
            name: format!("Student Number {i}"),
            id: Some(format!("S{i:07}")),
        })
        .collect();
    // As one message it is far over the limit: the server would close the teacher's
    // connection. As the app sends it, it is a few dozen messages within it.
    let whole = ClientMessage::Class(ClassRequest::SetRoster {
        entries: roster.clone(),
        append: false,
    })
    .encode();
    assert!(
        whole.len() > 10 * MAX_MESSAGE_BYTES,
        "{} bytes",
        whole.len()
    );
    let parts = roster_requests(roster.clone());
    assert!(parts.len() > 10, "{} parts", parts.len());
    for part in parts {
        send(&mut teacher, ClientMessage::Class(part)).await;
    }
    send(&mut teacher, ClientMessage::Class(ClassRequest::GetReport)).await;
    let report = until(&mut teacher, |m| match m {
        ServerMessage::Class(ClassEvent::Report(r)) => Some(r.clone()),
        _ => None,
    })
    .await;
    assert_eq!(report.absent, roster, "every student, in order, none came");

    // A student on it who comes is no longer absent; the teacher stays connected throughout.
    let (_ada, _) = join(&h, "S0000042", Role::Student).await;
    send(&mut teacher, ClientMessage::Class(ClassRequest::GetReport)).await;
    let report = until(&mut teacher, |m| match m {
        ServerMessage::Class(ClassEvent::Report(r)) if r.absent.len() < MAX_ROSTER => {
            Some(r.clone())
        }
        _ => None,
    })
    .await;
    assert_eq!(report.absent.len(), MAX_ROSTER - 1);
    let row = report
        .rows
        .iter()
        .find(|r| r.identity == "S0000042")
        .expect("her row");
    assert_eq!(row.roster_name.as_deref(), Some("Student Number 42"));
    h.shutdown().await;
}
