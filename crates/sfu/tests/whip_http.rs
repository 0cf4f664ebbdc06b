//! WHIP and WHEP over real HTTP on the signaling port: bearer tokens, content types, size
//! limits, the SDP answer, the session resource (trickle PATCH, DELETE), and CORS.

use std::sync::Arc;
use std::time::{Duration, Instant};

use classroom_protocol::Role;
use classroom_sfu::{ServerConfig, start};
use str0m::Candidate;
use str0m::change::SdpAnswer;
use str0m::media::{Direction, MediaKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One HTTP/1.1 request with `Connection: close`; returns (status, headers, body).
async fn request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.expect("write head");
    // A server may answer (413) before reading a large body; a broken pipe is fine then.
    let _ = s.write_all(body.as_bytes()).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .expect("answer in time");
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A real offer from a str0m peer: audio + video, sending (WHIP) or receiving (WHEP).
fn offer(direction: Direction) -> String {
    let mut rtc = str0m::Rtc::builder()
        .set_crypto_provider(Arc::new(classroom_sfu::crypto::provider()))
        .build(Instant::now());
    rtc.add_local_candidate(
        Candidate::host("127.0.0.1:40000".parse().expect("addr"), "udp").expect("candidate"),
    );
    let mut api = rtc.sdp_api();
    api.add_media(MediaKind::Audio, direction, None, None, None);
    api.add_media(MediaKind::Video, direction, None, None, None);
    let (offer, _pending) = api.apply().expect("offer");
    offer.to_sdp_string()
}

#[tokio::test]
async fn whip_and_whep_speak_http_with_bearer_tokens() {
    let h = start(ServerConfig::loopback()).await.expect("server");
    let addr = h.signaling_addr();
    let teacher = h
        .mint_token("r", "obs", Role::Teacher, Duration::from_secs(60))
        .expect("token");
    let student = h
        .mint_token("r", "s", Role::Student, Duration::from_secs(60))
        .expect("token");
    let auth = format!("Bearer {teacher}");
    let sdp = [("Content-Type", "application/sdp")];
    let with_auth = [
        ("Content-Type", "application/sdp"),
        ("Authorization", auth.as_str()),
    ];
    let errors_before = h.metrics().snapshot().signaling_errors;

    // Refusals, each with a clear status.
    let (st, head, _) = request(addr, "POST", "/whip/r", &sdp, &offer(Direction::SendOnly)).await;
    assert_eq!(st, 401);
    assert_eq!(header(&head, "www-authenticate"), Some("Bearer"));
    let bad = [
        ("Content-Type", "application/sdp"),
        ("Authorization", "Bearer forged.token.x"),
    ];
    let (st, _, body) = request(addr, "POST", "/whip/r", &bad, &offer(Direction::SendOnly)).await;
    assert_eq!(st, 401, "{body}");
    let text = [
        ("Content-Type", "text/plain"),
        ("Authorization", auth.as_str()),
    ];
    assert_eq!(request(addr, "POST", "/whip/r", &text, "v=0").await.0, 415);
    let (st, _, body) = request(addr, "POST", "/whip/r", &with_auth, "v=0\r\nnot sdp").await;
    assert_eq!(st, 400, "{body}");
    let huge = "a".repeat(100 * 1024);
    assert_eq!(
        request(addr, "POST", "/whip/r", &with_auth, &huge).await.0,
        413
    );
    let wrong_room = request(
        addr,
        "POST",
        "/whip/other",
        &with_auth,
        &offer(Direction::SendOnly),
    )
    .await;
    assert_eq!(wrong_room.0, 401, "{}", wrong_room.2);
    let student_auth = format!("Bearer {student}");
    let student_hdr = [
        ("Content-Type", "application/sdp"),
        ("Authorization", student_auth.as_str()),
    ];
    let observer = h
        .mint_token("r", "o", Role::Observer, Duration::from_secs(60))
        .expect("token");
    let observer_auth = format!("Bearer {observer}");
    let observer_hdr = [
        ("Content-Type", "application/sdp"),
        ("Authorization", observer_auth.as_str()),
    ];
    let (st, _, body) = request(
        addr,
        "POST",
        "/whip/r",
        &observer_hdr,
        &offer(Direction::SendOnly),
    )
    .await;
    assert_eq!(st, 403, "an observer's token may not publish: {body}");
    assert_eq!(request(addr, "GET", "/nope", &[], "").await.0, 404);
    assert!(h.metrics().snapshot().signaling_errors >= errors_before + 7);
    assert_eq!(
        h.metrics().snapshot().participants,
        0,
        "nothing left behind"
    );

    // WHIP: 201, an SDP answer str0m accepts with the server's media address, a session.
    let (st, head, answer) = request(
        addr,
        "POST",
        "/whip/r",
        &with_auth,
        &offer(Direction::SendOnly),
    )
    .await;
    assert_eq!(st, 201, "{answer}");
    assert_eq!(header(&head, "content-type"), Some("application/sdp"));
    assert_eq!(header(&head, "access-control-allow-origin"), Some("*"));
    let location = header(&head, "location").expect("Location").to_owned();
    assert!(
        location.starts_with("/session/") && location.len() > 30,
        "{location}"
    );
    SdpAnswer::from_sdp_string(&answer).expect("a valid SDP answer");
    assert!(
        answer.contains(&format!(" {} typ host", h.udp_addr().port())),
        "{answer}"
    );
    assert_eq!(h.metrics().snapshot().participants, 1);

    // Trickle ICE and CORS preflight on the resource.
    let frag = [("Content-Type", "application/trickle-ice-sdpfrag")];
    let cand = "a=candidate:1 1 udp 2130706431 127.0.0.1 40001 typ host\r\n";
    assert_eq!(request(addr, "PATCH", &location, &frag, cand).await.0, 204);
    assert_eq!(request(addr, "PATCH", &location, &sdp, cand).await.0, 415);
    let (st, head, _) = request(addr, "OPTIONS", "/whep/r", &[], "").await;
    assert_eq!(st, 204);
    assert!(header(&head, "access-control-allow-methods").is_some_and(|m| m.contains("POST")));

    // WHEP: a student's token may watch.
    let (st, head, answer) = request(
        addr,
        "POST",
        "/whep/r",
        &student_hdr,
        &offer(Direction::RecvOnly),
    )
    .await;
    assert_eq!(st, 201, "{answer}");
    let whep_location = header(&head, "location").expect("Location").to_owned();
    assert!(
        answer.contains("a=sendonly"),
        "the server sends on the player's m-lines: {answer}"
    );
    assert_eq!(h.metrics().snapshot().participants, 2);

    // DELETE ends each session once.
    assert_eq!(request(addr, "DELETE", &location, &[], "").await.0, 200);
    assert_eq!(request(addr, "DELETE", &location, &[], "").await.0, 404);
    assert_eq!(
        request(addr, "DELETE", &whep_location, &[], "").await.0,
        200
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while h.metrics().snapshot().participants > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(h.metrics().snapshot().participants, 0);
    assert_eq!(request(addr, "GET", "/healthz", &[], "").await.0, 200);
    // A plain GET on the websocket path is told to upgrade.
    assert_eq!(request(addr, "GET", "/ws", &[], "").await.0, 426);
    h.shutdown().await;
}
