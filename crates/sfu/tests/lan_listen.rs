//! A server for the school network (`ServerConfig::lan`): where it listens, the port it falls
//! back from, and which host candidates each kind of peer is offered. Clients here are on
//! this computer; the real LAN is `tests/tests/lan.rs` (network namespaces).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use classroom_protocol::{
    ClientMessage, PROTOCOL_VERSION, PublishTrack, Role, ServerMessage, Source,
};
use classroom_sfu::{ServerConfig, SfuError, start};
use futures_util::{SinkExt, StreamExt};
use str0m::media::{Direction, MediaKind};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

fn lan_ips() -> Vec<IpAddr> {
    classroom_discovery::lan_addresses()
        .expect("interfaces")
        .into_iter()
        .map(|a| a.ip)
        .collect()
}

/// The `ip port` of every host candidate in `sdp`.
fn candidates(sdp: &str) -> Vec<SocketAddr> {
    sdp.lines()
        .filter(|l| l.starts_with("a=candidate:") && l.contains("typ host"))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            format!("{}:{}", f.get(4)?, f.get(5)?)
                .parse()
                .ok()
                .or_else(|| format!("[{}]:{}", f.get(4)?, f.get(5)?).parse().ok())
        })
        .collect()
}

/// A sending video offer from a str0m peer, and its m-line's mid.
fn offer() -> (String, String) {
    let mut rtc = str0m::Rtc::builder()
        .set_crypto_provider(Arc::new(classroom_sfu::crypto::provider()))
        .build(Instant::now());
    let mut change = rtc.sdp_api();
    let mid = change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
    let (offer, _pending) = change.apply().expect("offer");
    (offer.to_sdp_string(), mid.to_string())
}

#[tokio::test]
async fn a_lan_server_listens_on_every_interface_and_gives_way_on_a_taken_port() {
    // Someone already has the port: the server takes a free one instead.
    let taken = std::net::TcpListener::bind("0.0.0.0:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let h = start(ServerConfig::lan(port)).await.expect("server");
    let signaling = h.signaling_addr();
    assert!(signaling.ip().is_unspecified(), "{signaling}");
    assert_ne!(signaling.port(), port);
    assert_eq!(h.url(), format!("ws://127.0.0.1:{}/ws", signaling.port()));

    // Media: loopback and every usable address, all on one port.
    let media = h.media_addrs();
    let media_port = media[0].port();
    assert!(media.iter().all(|a| a.port() == media_port), "{media:?}");
    let mut ips: Vec<IpAddr> = media.iter().map(|a| a.ip()).collect();
    ips.sort();
    let mut want = lan_ips();
    want.push("127.0.0.1".parse().expect("ip"));
    want.sort();
    assert_eq!(ips, want);
    assert_eq!(
        h.lan_ips(),
        lan_ips(),
        "loopback is not a school-network address"
    );
    let v4: Vec<String> = lan_ips()
        .into_iter()
        .filter(|ip| ip.is_ipv4())
        .map(|ip| format!("ws://{ip}:{}/ws", signaling.port()))
        .collect();
    assert_eq!(h.lan_urls(), v4);
    // The fixed port is back when it is free again; the first server still has its own.
    drop(taken);
    let second = start(ServerConfig::lan(port)).await.expect("second server");
    assert_eq!(second.signaling_addr().port(), port);
    second.shutdown().await;

    // Without the fallback (the standalone server's fixed port) a taken port is an error.
    let taken = std::net::TcpListener::bind("0.0.0.0:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let err = start(ServerConfig {
        port_fallback: false,
        lessons_dir: None,
        udp: "127.0.0.1:0".parse().expect("addr"),
        ..ServerConfig::lan(port)
    })
    .await
    .err()
    .expect("refused");
    assert!(
        matches!(
            err,
            SfuError::Bind {
                what: "signaling",
                ..
            }
        ),
        "{err}"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn loopback_candidates_go_only_to_clients_on_this_computer() {
    let h = start(ServerConfig::lan(0)).await.expect("server");
    let media = h.media_addrs();
    let lan: Vec<SocketAddr> = media
        .iter()
        .copied()
        .filter(|a| !a.ip().is_loopback())
        .collect();

    // A websocket client on loopback (the teacher's own app) is offered loopback.
    let (mut ws, _) = connect_async(h.url()).await.expect("connect");
    let token = h
        .mint_token("room", "t", Role::Teacher, Duration::from_secs(60))
        .expect("mint");
    let join = ClientMessage::Join {
        token,
        room: "room".into(),
        display_name: "T".into(),
        role: Role::Teacher,
        protocol_version: PROTOCOL_VERSION,
        subscribe: false,
    };
    ws.send(Message::text(join.encode())).await.expect("send");
    let (sdp, mid) = offer();
    let publish = ClientMessage::Offer {
        sdp,
        tracks: vec![PublishTrack::new(&mid, Source::Camera)],
    };
    ws.send(Message::text(publish.encode()))
        .await
        .expect("send");
    let answer = loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("answer in time")
            .expect("open")
            .expect("frame");
        let Message::Text(text) = frame else { continue };
        match ServerMessage::decode(text.as_str()).expect("protocol") {
            ServerMessage::Answer { sdp } => break sdp,
            ServerMessage::Error { message, .. } => panic!("refused: {message}"),
            _ => {}
        }
    };
    let loopback: Vec<SocketAddr> = media
        .iter()
        .copied()
        .filter(|a| a.ip().is_loopback())
        .collect();
    assert_eq!(candidates(&answer), loopback, "{answer}");

    // WHIP carries no peer address to the core: treated as another computer, it is offered
    // the LAN addresses only (loopback only when there is no LAN).
    let token = h
        .mint_token("room", "obs", Role::Teacher, Duration::from_secs(60))
        .expect("mint");
    let (sdp, _) = offer();
    let body = whip(&h, &token, &sdp).await;
    let mut offered = candidates(&body);
    offered.sort();
    let want = if lan.is_empty() { media.clone() } else { lan };
    assert_eq!(offered, want, "{body}");
    h.shutdown().await;
}

trait PortAddr {
    fn port_addr(&self) -> SocketAddr;
}

impl PortAddr for SocketAddr {
    /// This computer's loopback at the same port (for a server bound to a wildcard).
    fn port_addr(&self) -> SocketAddr {
        SocketAddr::new("127.0.0.1".parse().expect("ip"), self.port())
    }
}

/// POSTs a WHIP offer and returns the answer's body.
async fn whip(h: &classroom_sfu::ServerHandle, token: &str, sdp: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(h.signaling_addr().port_addr())
        .await
        .expect("connect");
    let head = format!(
        "POST /whip/room HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Type: application/sdp\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n",
        sdp.len()
    );
    s.write_all(head.as_bytes()).await.expect("write");
    s.write_all(sdp.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .expect("answer in time")
        .expect("read");
    let text = String::from_utf8_lossy(&out).into_owned();
    assert!(text.starts_with("HTTP/1.1 201"), "{text}");
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}
