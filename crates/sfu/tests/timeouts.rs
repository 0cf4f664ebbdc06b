//! The signaling port's deadlines over real sockets, in tokio's paused time (the server's
//! clock is tokio's, so the 10 s and 45 s deadlines pass in milliseconds): headers, bodies,
//! joins, silent websockets; and that a client that answers pings is kept.

mod net;
use net::*;

use std::time::Duration;

use classroom_protocol::{ClientMessage, Role, ServerMessage};
use classroom_sfu::Limits;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// Reads until the server closes; true if it did within `wait`.
async fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let until = tokio::time::Instant::now() + wait;
    loop {
        let left = until.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test(start_paused = true)]
async fn silent_and_slow_header_connections_are_closed() {
    let h = server(Limits::default()).await;
    let addr = h.signaling_addr();
    let mut silent = TcpStream::connect(addr).await.expect("connect");
    let mut slow = TcpStream::connect(addr).await.expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    assert!(!closed_within(&mut silent, Duration::from_secs(9)).await);
    assert!(closed_within(&mut silent, Duration::from_secs(2)).await);
    assert!(closed_within(&mut slow, Duration::from_secs(2)).await);
    assert_eq!(h.metrics().snapshot().timeouts.header, 2);
    // A keep-alive connection that goes quiet after a request is closed the same way.
    let mut kept = TcpStream::connect(addr).await.expect("connect");
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 256];
    let n = kept.read(&mut buf).await.expect("response");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    assert!(closed_within(&mut kept, Duration::from_secs(11)).await);
    assert_eq!(request(addr, "GET", "/healthz", &[], "").await.0, 200);
    h.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_body_not_sent_in_time_is_answered_408() {
    let h = server(Limits::default()).await;
    let mut s = TcpStream::connect(h.signaling_addr())
        .await
        .expect("connect");
    s.write_all(
        b"POST /whip/r HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer x\r\nContent-Type: application/sdp\r\nContent-Length: 1000\r\n\r\nv=0\r\n",
    )
    .await
    .expect("write");
    let (status, _, body) = read_response(&mut s).await;
    assert_eq!(status, 408, "{body}");
    assert_eq!(h.metrics().snapshot().timeouts.body, 1);
    h.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_websocket_that_does_not_join_gets_bye_and_a_close_frame() {
    let h = server(Limits::default()).await;
    let mut ws = ws(&h).await;
    // A ping does not count as joining.
    send(&mut ws, &ClientMessage::Ping { nonce: 1 }).await;
    assert_eq!(msg(&mut ws).await, ServerMessage::Pong { nonce: 1 });
    let (reason, code) = expect_bye_and_close(&mut ws, Duration::from_secs(11)).await;
    assert!(reason.contains("no join within 10 s"), "{reason}");
    assert_eq!(code, 1008);
    assert_eq!(h.metrics().snapshot().timeouts.join, 1);
    // One who joins stays well past the deadline.
    let mut ok = joined(&h, "r", "a", Role::Student).await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    send(&mut ok, &ClientMessage::Ping { nonce: 2 }).await;
    assert_eq!(msg(&mut ok).await, ServerMessage::Pong { nonce: 2 });
    h.shutdown().await;
}

/// The server pings; a client that reads (and so answers with pongs) stays however long it
/// says nothing, one that stops reading is closed after the idle deadline.
#[tokio::test(start_paused = true)]
async fn pings_keep_a_reading_client_and_a_silent_one_is_closed() {
    let h = server(Limits::default()).await;
    let mut reader = joined(&h, "r", "reader", Role::Student).await;
    let mut sleeper = joined(&h, "r", "sleeper", Role::Student).await;
    // The reader reads in the background (tungstenite answers each ping while reading).
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let reading = tokio::spawn(async move {
        while let Some(Ok(m)) = reader.next().await {
            let ping = matches!(m, Message::Ping(_));
            if seen_tx.send(ping).is_err() {
                break;
            }
            if let Message::Text(t) = &m
                && matches!(
                    ServerMessage::decode(t.as_str()),
                    Ok(ServerMessage::Bye { .. })
                )
            {
                break;
            }
        }
        reader
    });
    tokio::time::sleep(Duration::from_secs(100)).await;
    let mut pings = 0;
    while let Ok(ping) = seen_rx.try_recv() {
        pings += usize::from(ping);
    }
    assert!(pings >= 5, "pinged {pings} times in 100 s");
    // The sleeper read nothing for 100 s. Its socket holds pings, then the bye and a close
    // frame (1001), then the end. Read raw: a websocket library would answer the pings
    // into the closed connection and lose the rest to the reset.
    let raw = match sleeper.get_mut() {
        tokio_tungstenite::MaybeTlsStream::Plain(s) => s,
        _ => unreachable!("plain ws"),
    };
    let mut bytes = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), raw.read_to_end(&mut bytes))
        .await
        .expect("the server closed it")
        .expect("read");
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("nothing heard for 45 s"), "{text:?}");
    let close = bytes
        .windows(4)
        .rposition(|w| w[0] == 0x88 && w[2] == 0x03 && w[3] == 0xe9);
    assert!(
        close.is_some(),
        "a close frame with 1001 at the end: {bytes:02x?}"
    );
    reading.abort();
    let m = h.metrics().snapshot();
    assert_eq!(m.timeouts.idle, 1, "only the sleeper");
    assert_eq!(m.participants, 1, "the reader is still in class");
    h.shutdown().await;
}
