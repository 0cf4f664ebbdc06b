//! Real-socket helpers for the hostile-client tests: a server on 127.0.0.1:0 with chosen
//! limits, websocket clients, raw HTTP requests and str0m-made SDP.
#![allow(dead_code)] // each test binary uses a different part

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use classroom_protocol::{ClientMessage, ErrorCode, PROTOCOL_VERSION, Role, ServerMessage};
use classroom_sfu::{Limits, ServerConfig, ServerHandle, start};
use futures_util::{SinkExt, StreamExt};
use str0m::Candidate;
use str0m::media::{Direction, MediaKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub async fn server(limits: Limits) -> ServerHandle {
    start(ServerConfig {
        limits,
        ..ServerConfig::loopback()
    })
    .await
    .expect("server starts")
}

pub async fn ws(h: &ServerHandle) -> Ws {
    connect_async(h.url()).await.expect("connects").0
}

/// The next frame, or `None` once the connection ended; fails after `wait`.
pub async fn frame(ws: &mut Ws, wait: Duration) -> Option<Message> {
    tokio::time::timeout(wait, ws.next())
        .await
        .expect("the server answers in time")?
        .ok()
}

/// The next protocol message (pings, and the class's own events, skipped: these tests are
/// about the transport).
pub async fn msg(ws: &mut Ws) -> ServerMessage {
    loop {
        match frame(ws, Duration::from_secs(10)).await.expect("open") {
            Message::Text(t) => match ServerMessage::decode(t.as_str()).expect("protocol") {
                ServerMessage::Class(_) => continue,
                m => return m,
            },
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

pub async fn expect_error(ws: &mut Ws, code: ErrorCode) -> String {
    match msg(ws).await {
        ServerMessage::Error { code: got, message } => {
            assert_eq!(got, code, "{message}");
            message
        }
        other => panic!("expected error {code:?}, got {other:?}"),
    }
}

/// Reads to the end: the `bye` reason, then the close frame's code. Fails if the
/// connection does not end within `wait`.
pub async fn expect_bye_and_close(ws: &mut Ws, wait: Duration) -> (String, u16) {
    let mut bye = None;
    let until = tokio::time::Instant::now() + wait;
    loop {
        let left = until.saturating_duration_since(tokio::time::Instant::now());
        match frame(ws, left).await {
            Some(Message::Text(t)) => {
                if let Ok(ServerMessage::Bye { reason, .. }) = ServerMessage::decode(t.as_str()) {
                    bye = Some(reason);
                }
            }
            Some(Message::Close(Some(f))) => {
                let reason = bye.expect("a bye before the close frame");
                // The stream ends after the close.
                assert!(frame(ws, Duration::from_secs(5)).await.is_none());
                return (reason, u16::from(f.code));
            }
            Some(Message::Close(None)) | None => panic!("closed without a close frame"),
            Some(_) => {}
        }
    }
}

pub fn join_as(h: &ServerHandle, room: &str, name: &str, role: Role) -> ClientMessage {
    ClientMessage::Join {
        token: h
            .mint_token(room, name, role, Duration::from_secs(600))
            .expect("mint"),
        room: room.into(),
        display_name: name.into(),
        role,
        protocol_version: PROTOCOL_VERSION,
        subscribe: true,
    }
}

pub async fn send(ws: &mut Ws, msg: &ClientMessage) {
    ws.send(Message::text(msg.encode())).await.expect("send");
}

/// Connects and joins `room` as `role`.
pub async fn joined(h: &ServerHandle, room: &str, name: &str, role: Role) -> Ws {
    let mut w = ws(h).await;
    send(&mut w, &join_as(h, room, name, role)).await;
    match msg(&mut w).await {
        ServerMessage::Joined { .. } => w,
        other => panic!("{name} did not join: {other:?}"),
    }
}

/// One HTTP/1.1 request with `Connection: close`; returns (status, head, body).
pub async fn request(
    addr: SocketAddr,
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
    let _ = s.write_all(body.as_bytes()).await;
    read_response(&mut s).await
}

/// Reads a response to the end of the connection.
pub async fn read_response(s: &mut TcpStream) -> (u16, String, String) {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut out))
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

pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// An offer from a str0m peer with `video` video m-lines and `audio` audio m-lines in
/// `direction`, without candidates unless `candidate` is given.
pub fn offer(
    audio: usize,
    video: usize,
    direction: Direction,
    candidate: Option<SocketAddr>,
) -> String {
    let mut rtc = str0m::Rtc::builder()
        .set_crypto_provider(Arc::new(classroom_sfu::crypto::provider()))
        .build(Instant::now());
    if let Some(addr) = candidate {
        rtc.add_local_candidate(Candidate::host(addr, "udp").expect("candidate"));
    }
    let mut api = rtc.sdp_api();
    for _ in 0..audio {
        api.add_media(MediaKind::Audio, direction, None, None, None);
    }
    for _ in 0..video {
        api.add_media(MediaKind::Video, direction, None, None, None);
    }
    let (offer, _pending) = api.apply().expect("offer");
    offer.to_sdp_string()
}

/// Polls `cond` every 20 ms until it holds or `wait` passes.
pub async fn eventually(wait: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let until = tokio::time::Instant::now() + wait;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A str0m peer on a real UDP socket, pumped by a task: what a client's media stack does,
/// with a switch that makes it go silent (a laptop closed, a network gone).
pub struct UdpPeer {
    pub rtc: Arc<std::sync::Mutex<str0m::Rtc>>,
    pub addr: SocketAddr,
    pub connected: Arc<std::sync::atomic::AtomicBool>,
    pub silent: Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for UdpPeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl UdpPeer {
    pub async fn new() -> UdpPeer {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = socket.local_addr().expect("addr");
        let mut rtc = str0m::Rtc::builder()
            .set_crypto_provider(Arc::new(classroom_sfu::crypto::provider()))
            .set_rtp_mode(true)
            .build(Instant::now());
        rtc.add_local_candidate(Candidate::host(addr, "udp").expect("candidate"));
        let rtc = Arc::new(std::sync::Mutex::new(rtc));
        let connected = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let silent = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let task = tokio::spawn(pump(socket, rtc.clone(), connected.clone(), silent.clone()));
        UdpPeer {
            rtc,
            addr,
            connected,
            silent,
            task,
        }
    }

    /// An offer sending `audio` then `video` m-lines; returns the SDP, the pending offer
    /// and the mids in order.
    pub fn offer(
        &self,
        audio: usize,
        video: usize,
    ) -> (String, str0m::change::SdpPendingOffer, Vec<String>) {
        let mut rtc = self.rtc.lock().expect("rtc");
        let mut api = rtc.sdp_api();
        let mut mids = Vec::new();
        for _ in 0..audio {
            mids.push(api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None));
        }
        for _ in 0..video {
            mids.push(api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None));
        }
        let (offer, pending) = api.apply().expect("offer");
        (
            offer.to_sdp_string(),
            pending,
            mids.iter().map(|m| m.to_string()).collect(),
        )
    }

    pub fn accept_answer(&self, pending: str0m::change::SdpPendingOffer, sdp: &str) {
        let answer = str0m::change::SdpAnswer::from_sdp_string(sdp).expect("answer sdp");
        self.rtc
            .lock()
            .expect("rtc")
            .sdp_api()
            .accept_answer(pending, answer)
            .expect("accept answer");
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stops answering and sending anything.
    pub fn go_silent(&self) {
        self.silent
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

async fn pump(
    socket: tokio::net::UdpSocket,
    rtc: Arc<std::sync::Mutex<str0m::Rtc>>,
    connected: Arc<std::sync::atomic::AtomicBool>,
    silent: Arc<std::sync::atomic::AtomicBool>,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let local = socket.local_addr().expect("addr");
    let mut buf = vec![0u8; 2000];
    loop {
        let mut sends = Vec::new();
        let wake = {
            let mut rtc = rtc.lock().expect("rtc");
            loop {
                match rtc.poll_output() {
                    Ok(str0m::Output::Timeout(t)) => break t,
                    Ok(str0m::Output::Transmit(t)) => {
                        sends.push((t.destination, t.contents.to_vec()))
                    }
                    Ok(str0m::Output::Event(str0m::Event::Connected)) => {
                        connected.store(true, Relaxed)
                    }
                    Ok(str0m::Output::Event(_)) => {}
                    Err(_) => return,
                }
            }
        };
        if !silent.load(Relaxed) {
            for (to, data) in sends {
                let _ = socket.send_to(&data, to).await;
            }
        }
        let wake =
            tokio::time::Instant::from_std(wake.min(Instant::now() + Duration::from_millis(50)));
        tokio::select! {
            r = socket.recv_from(&mut buf) => {
                let Ok((n, source)) = r else { continue };
                if silent.load(Relaxed) {
                    continue;
                }
                let Ok(contents) = buf[..n].try_into() else { continue };
                let input = str0m::Input::Receive(
                    Instant::now(),
                    str0m::net::Receive {
                        proto: str0m::net::Protocol::Udp,
                        source,
                        destination: local,
                        contents,
                    },
                );
                let _ = rtc.lock().expect("rtc").handle_input(input);
            }
            _ = tokio::time::sleep_until(wake) => {
                let _ = rtc.lock().expect("rtc").handle_input(str0m::Input::Timeout(Instant::now()));
            }
        }
    }
}
