//! Signaling for the two servers a run can target: ours (the classroom websocket protocol)
//! and Janus's VideoRoom (the Janus API over its websocket transport, `janus-protocol`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use classroom_protocol::{
    ClientMessage, IceCandidate, PROTOCOL_VERSION, PublishTrack, Role as ClassRole, ServerMessage,
    Source, Transport,
};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::media::{Direction, MediaKind};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::LoadError;
use crate::clip::{AudioClip, VideoClip};
use crate::peer::{Peer, Publisher, Role};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long any signaling step may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(15);

/// Janus drops a session after 60 s of silence.
const JANUS_KEEPALIVE: Duration = Duration::from_secs(25);

/// A peer's signaling connection.
pub enum Signaling {
    /// Our server.
    Ours(Ws),
    /// Janus: the session and plugin handle this peer owns.
    Janus {
        /// The websocket.
        ws: Ws,
        /// Janus session id.
        session: u64,
        /// VideoRoom handle id.
        handle: u64,
        /// When the next keepalive is due.
        keepalive: Instant,
    },
}

fn sig_err(what: impl std::fmt::Display) -> LoadError {
    LoadError::Signaling(what.to_string())
}

impl Signaling {
    fn ws(&mut self) -> &mut Ws {
        match self {
            Signaling::Ours(ws) | Signaling::Janus { ws, .. } => ws,
        }
    }

    /// The next text message; `None` when the connection closed.
    pub async fn recv(&mut self) -> Result<Option<String>, LoadError> {
        loop {
            match self.ws().next().await {
                None | Some(Ok(Message::Close(_))) => return Ok(None),
                Some(Ok(Message::Text(t))) => return Ok(Some(t.to_string())),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(sig_err(e)),
            }
        }
    }

    /// Handles a message that arrives while media flows; false: the peer should stop.
    pub async fn handle(
        &mut self,
        msg: Option<String>,
        peer: &mut Peer,
    ) -> Result<bool, LoadError> {
        let Some(text) = msg else {
            return Ok(false);
        };
        match self {
            Signaling::Ours(ws) => match ServerMessage::decode(&text) {
                Ok(ServerMessage::Offer { sdp, tracks }) => {
                    tracing::debug!(tracks = tracks.len(), "renegotiation offer");
                    let answer = accept_offer(peer, &sdp)?;
                    send_ours(ws, &ClientMessage::Answer { sdp: answer }).await?;
                    Ok(true)
                }
                Ok(ServerMessage::Bye { .. }) => Ok(false),
                Ok(ServerMessage::Error { code, message }) => {
                    tracing::warn!(?code, "server error: {message}");
                    Ok(true)
                }
                _ => Ok(true),
            },
            Signaling::Janus { .. } => {
                let v: Value = serde_json::from_str(&text).map_err(sig_err)?;
                Ok(v["janus"] != "hangup" && v["janus"] != "detached")
            }
        }
    }

    /// When [`Signaling::on_timer`] wants to run next.
    pub fn next_timer(&self) -> Option<Instant> {
        match self {
            Signaling::Ours(_) => None,
            Signaling::Janus { keepalive, .. } => Some(*keepalive),
        }
    }

    /// Sends Janus's keepalive when due.
    pub async fn on_timer(&mut self, now: Instant) -> Result<(), LoadError> {
        if let Signaling::Janus {
            ws,
            session,
            keepalive,
            ..
        } = self
            && now >= *keepalive
        {
            *keepalive = now + JANUS_KEEPALIVE;
            let msg = json!({"janus": "keepalive", "session_id": *session, "transaction": tx_id()});
            ws.send(Message::text(msg.to_string()))
                .await
                .map_err(sig_err)?;
        }
        Ok(())
    }

    /// Says goodbye, best effort.
    pub async fn leave(&mut self) {
        match self {
            Signaling::Ours(ws) => {
                let _ = send_ours(ws, &ClientMessage::Leave).await;
                let _ = ws.close(None).await;
            }
            Signaling::Janus { ws, session, .. } => {
                let msg =
                    json!({"janus": "destroy", "session_id": *session, "transaction": tx_id()});
                let _ = ws.send(Message::text(msg.to_string())).await;
                let _ = ws.close(None).await;
            }
        }
    }
}

fn accept_offer(peer: &mut Peer, sdp: &str) -> Result<String, LoadError> {
    let offer = SdpOffer::from_sdp_string(sdp).map_err(|e| sig_err(format!("offer: {e}")))?;
    let answer = peer
        .rtc
        .sdp_api()
        .accept_offer(offer)
        .map_err(|e| sig_err(format!("accepting offer: {e}")))?;
    Ok(answer.to_sdp_string())
}

/// Adds a send-only video and audio m-line; returns the offer SDP, the pending offer and the
/// publisher state.
fn publish_offer(
    peer: &mut Peer,
    video: Arc<VideoClip>,
    audio: Arc<AudioClip>,
) -> Result<(String, str0m::change::SdpPendingOffer, Publisher), LoadError> {
    let mut api = peer.rtc.sdp_api();
    let vmid = api.add_media(
        MediaKind::Video,
        Direction::SendOnly,
        Some("load".into()),
        None,
        None,
    );
    let amid = api.add_media(
        MediaKind::Audio,
        Direction::SendOnly,
        Some("load".into()),
        None,
        None,
    );
    let (offer, pending) = api.apply().ok_or_else(|| sig_err("no offer to make"))?;
    Ok((
        offer.to_sdp_string(),
        pending,
        Publisher::new(video, audio, vmid, amid),
    ))
}

fn accept_answer(
    peer: &mut Peer,
    pending: str0m::change::SdpPendingOffer,
    sdp: &str,
) -> Result<(), LoadError> {
    let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| sig_err(format!("answer: {e}")))?;
    peer.rtc
        .sdp_api()
        .accept_answer(pending, answer)
        .map_err(|e| sig_err(format!("accepting answer: {e}")))
}

async fn connect(url: &str, protocol: Option<&str>) -> Result<Ws, LoadError> {
    let mut req = url.into_client_request().map_err(sig_err)?;
    if let Some(p) = protocol {
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            p.parse().map_err(|_| sig_err("subprotocol"))?,
        );
    }
    let (ws, _) = tokio::time::timeout(STEP_TIMEOUT, tokio_tungstenite::connect_async(req))
        .await
        .map_err(|_| sig_err(format!("connecting to {url} timed out")))?
        .map_err(|e| sig_err(format!("connecting to {url}: {e}")))?;
    Ok(ws)
}

// ---- ours ----

async fn send_ours(ws: &mut Ws, msg: &ClientMessage) -> Result<(), LoadError> {
    let text = serde_json::to_string(msg).map_err(sig_err)?;
    ws.send(Message::text(text)).await.map_err(sig_err)
}

/// Waits for the first server message `pick` accepts.
async fn wait_ours<T>(
    ws: &mut Ws,
    mut pick: impl FnMut(ServerMessage) -> Option<T>,
) -> Result<T, LoadError> {
    let fut = async {
        loop {
            let Some(frame) = ws.next().await else {
                return Err(sig_err("server closed the connection"));
            };
            if let Message::Text(t) = frame.map_err(sig_err)? {
                let msg = ServerMessage::decode(t.as_str()).map_err(sig_err)?;
                if let ServerMessage::Error { code, message } = &msg {
                    return Err(sig_err(format!("server refused: {code:?}: {message}")));
                }
                if let Some(v) = pick(msg) {
                    return Ok(v);
                }
            }
        }
    };
    tokio::time::timeout(STEP_TIMEOUT, fut)
        .await
        .map_err(|_| sig_err("timed out waiting for the server"))?
}

fn join_msg(
    token: &str,
    room: &str,
    name: &str,
    role: ClassRole,
    subscribe: bool,
) -> ClientMessage {
    ClientMessage::Join {
        token: token.into(),
        room: room.into(),
        display_name: name.into(),
        role,
        protocol_version: PROTOCOL_VERSION,
        subscribe,
    }
}

/// Joins our server as the teacher and publishes camera and microphone.
pub async fn ours_publish(
    url: &str,
    token: &str,
    room: &str,
    peer: &mut Peer,
    video: Arc<VideoClip>,
    audio: Arc<AudioClip>,
) -> Result<(Signaling, Role), LoadError> {
    let mut ws = connect(url, None).await?;
    send_ours(
        &mut ws,
        &join_msg(token, room, "load-publisher", ClassRole::Teacher, false),
    )
    .await?;
    wait_ours(&mut ws, |m| {
        matches!(m, ServerMessage::Joined { .. }).then_some(())
    })
    .await?;
    let (sdp, pending, publisher) = publish_offer(peer, video, audio)?;
    let tracks = vec![
        PublishTrack::new(publisher_mid(&publisher, MediaKind::Video), Source::Camera),
        PublishTrack::new(
            publisher_mid(&publisher, MediaKind::Audio),
            Source::Microphone,
        ),
    ];
    send_ours(&mut ws, &ClientMessage::Offer { sdp, tracks }).await?;
    send_ours(&mut ws, &candidate(peer, Transport::Publish)).await?;
    let answer = wait_ours(&mut ws, |m| match m {
        ServerMessage::Answer { sdp } => Some(sdp),
        _ => None,
    })
    .await?;
    accept_answer(peer, pending, &answer)?;
    Ok((Signaling::Ours(ws), Role::Publisher(Box::new(publisher))))
}

fn publisher_mid(p: &Publisher, kind: MediaKind) -> String {
    p.mid(kind).to_string()
}

fn candidate(peer: &Peer, transport: Transport) -> ClientMessage {
    ClientMessage::IceCandidate(IceCandidate {
        transport,
        candidate: peer.candidate_sdp(),
        sdp_m_line_index: 0,
    })
}

/// Joins our server as a student and answers its subscribe offer.
pub async fn ours_subscribe(
    url: &str,
    token: &str,
    room: &str,
    name: &str,
    peer: &mut Peer,
) -> Result<Signaling, LoadError> {
    let mut ws = connect(url, None).await?;
    send_ours(
        &mut ws,
        &join_msg(token, room, name, ClassRole::Student, true),
    )
    .await?;
    let offer = wait_ours(&mut ws, |m| match m {
        ServerMessage::Offer { sdp, tracks } if !tracks.is_empty() => Some(sdp),
        _ => None,
    })
    .await?;
    let answer = accept_offer(peer, &offer)?;
    send_ours(&mut ws, &ClientMessage::Answer { sdp: answer }).await?;
    send_ours(&mut ws, &candidate(peer, Transport::Subscribe)).await?;
    Ok(Signaling::Ours(ws))
}

// ---- Janus ----

fn tx_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("t{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Sends a Janus request and waits for the reply to it that `done` accepts (a `success`, or
/// an `event` after the `ack` of an asynchronous request).
async fn janus_call(
    ws: &mut Ws,
    mut req: Value,
    done: impl Fn(&Value) -> bool,
) -> Result<Value, LoadError> {
    let tx = tx_id();
    req["transaction"] = json!(tx);
    ws.send(Message::text(req.to_string()))
        .await
        .map_err(sig_err)?;
    let fut = async {
        loop {
            let Some(frame) = ws.next().await else {
                return Err(sig_err("janus closed the connection"));
            };
            let Message::Text(t) = frame.map_err(sig_err)? else {
                continue;
            };
            let v: Value = serde_json::from_str(t.as_str()).map_err(sig_err)?;
            if v["transaction"] != json!(tx) {
                continue;
            }
            if v["janus"] == "error" {
                return Err(sig_err(format!("janus error: {}", v["error"])));
            }
            if let Some(code) = v["plugindata"]["data"]["error_code"].as_u64() {
                // 427: the room exists already, which is what a create wants anyway.
                if code != 427 {
                    return Err(sig_err(format!(
                        "videoroom error {code}: {}",
                        v["plugindata"]["data"]["error"]
                    )));
                }
                return Ok(v);
            }
            if done(&v) {
                return Ok(v);
            }
        }
    };
    tokio::time::timeout(STEP_TIMEOUT, fut)
        .await
        .map_err(|_| sig_err("timed out waiting for janus"))?
}

fn is_success(v: &Value) -> bool {
    v["janus"] == "success"
}

fn is_event(v: &Value) -> bool {
    v["janus"] == "event" || (v["janus"] == "success" && v.get("plugindata").is_some())
}

/// Opens a Janus session with a VideoRoom handle.
async fn janus_attach(url: &str) -> Result<(Ws, u64, u64), LoadError> {
    let mut ws = connect(url, Some("janus-protocol")).await?;
    let v = janus_call(&mut ws, json!({"janus": "create"}), is_success).await?;
    let session = v["data"]["id"]
        .as_u64()
        .ok_or_else(|| sig_err("no session id"))?;
    let v = janus_call(
        &mut ws,
        json!({"janus": "attach", "session_id": session, "plugin": "janus.plugin.videoroom"}),
        is_success,
    )
    .await?;
    let handle = v["data"]["id"]
        .as_u64()
        .ok_or_else(|| sig_err("no handle id"))?;
    Ok((ws, session, handle))
}

async fn janus_message(
    ws: &mut Ws,
    session: u64,
    handle: u64,
    body: Value,
    jsep: Option<Value>,
) -> Result<Value, LoadError> {
    let mut req =
        json!({"janus": "message", "session_id": session, "handle_id": handle, "body": body});
    if let Some(j) = jsep {
        req["jsep"] = j;
    }
    janus_call(ws, req, is_event).await
}

async fn janus_trickle_done(ws: &mut Ws, session: u64, handle: u64) -> Result<(), LoadError> {
    let msg = json!({"janus": "trickle", "session_id": session, "handle_id": handle,
        "transaction": tx_id(), "candidate": {"completed": true}});
    ws.send(Message::text(msg.to_string()))
        .await
        .map_err(sig_err)
}

/// Creates `room` (VP8 + Opus, no bitrate cap) in Janus's VideoRoom, joins it as publisher and
/// publishes; returns the signaling, the role and the publisher's feed id.
pub async fn janus_publish(
    url: &str,
    room: u64,
    peer: &mut Peer,
    video: Arc<VideoClip>,
    audio: Arc<AudioClip>,
) -> Result<(Signaling, Role, u64), LoadError> {
    let (mut ws, session, handle) = janus_attach(url).await?;
    janus_message(
        &mut ws,
        session,
        handle,
        json!({"request": "create", "room": room, "publishers": 1, "bitrate": 0,
            "fir_freq": 0, "videocodec": "vp8", "audiocodec": "opus", "notify_joining": false}),
        None,
    )
    .await?;
    let v = janus_message(
        &mut ws,
        session,
        handle,
        json!({"request": "join", "ptype": "publisher", "room": room, "display": "load-publisher"}),
        None,
    )
    .await?;
    let feed = v["plugindata"]["data"]["id"]
        .as_u64()
        .ok_or_else(|| sig_err(format!("no publisher id in {v}")))?;
    let (sdp, pending, publisher) = publish_offer(peer, video, audio)?;
    let v = janus_message(
        &mut ws,
        session,
        handle,
        json!({"request": "configure", "audio": true, "video": true}),
        Some(json!({"type": "offer", "sdp": sdp})),
    )
    .await?;
    let answer = v["jsep"]["sdp"]
        .as_str()
        .ok_or_else(|| sig_err(format!("no answer in {v}")))?;
    tracing::debug!("janus answer: {answer}");
    accept_answer(peer, pending, answer)?;
    janus_trickle_done(&mut ws, session, handle).await?;
    let sig = Signaling::Janus {
        ws,
        session,
        handle,
        keepalive: Instant::now() + JANUS_KEEPALIVE,
    };
    Ok((sig, Role::Publisher(Box::new(publisher)), feed))
}

/// Joins `room` as a subscriber to `feed` and answers Janus's offer.
pub async fn janus_subscribe(
    url: &str,
    room: u64,
    feed: u64,
    peer: &mut Peer,
) -> Result<Signaling, LoadError> {
    let (mut ws, session, handle) = janus_attach(url).await?;
    let v = janus_message(
        &mut ws,
        session,
        handle,
        json!({"request": "join", "ptype": "subscriber", "room": room, "streams": [{"feed": feed}]}),
        None,
    )
    .await?;
    let offer = v["jsep"]["sdp"]
        .as_str()
        .ok_or_else(|| sig_err(format!("no offer in {v}")))?;
    let answer = accept_offer(peer, offer)?;
    janus_message(
        &mut ws,
        session,
        handle,
        json!({"request": "start", "room": room}),
        Some(json!({"type": "answer", "sdp": answer})),
    )
    .await?;
    janus_trickle_done(&mut ws, session, handle).await?;
    Ok(Signaling::Janus {
        ws,
        session,
        handle,
        keepalive: Instant::now() + JANUS_KEEPALIVE,
    })
}
