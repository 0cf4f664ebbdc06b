//! The signaling port's HTTP front door: the websocket upgrade at `/ws`, WHIP (RFC 9725)
//! ingest at `/whip/{room}`, WHEP egress at `/whep/{room}`, session resources for DELETE and
//! trickle-ICE PATCH, `/healthz`, and the lesson service under `/lessons` and `/files`
//! (`lessons.rs`). One port, so a school opens one TCP port for signaling however clients
//! come in.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use classroom_protocol::{ClientMessage, ErrorCode, IceCandidate, MAX_MESSAGE_BYTES, Transport};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role as WsRole;
use tracing::debug;

use crate::core::{ConnId, Limits};
use crate::driver::{Bucket, ConnEvent, Slot, WsContext, serve_websocket, ws_config};
use crate::metrics::{Limit, Metrics, Timeout};

/// A response body: bytes in memory, or a file streamed from disk.
pub(crate) type Body = BoxBody<Bytes, std::io::Error>;

/// A body of `bytes`.
pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// No body.
pub(crate) fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// What the core answers a WHIP or WHEP offer with.
pub(crate) type OfferReply = Result<String, (ErrorCode, String)>;

/// The WHIP/WHEP session resources by id, shared with the driver, which forgets the ones
/// whose session the core ended (a transport that never connected, ICE lost).
pub(crate) type Sessions = Arc<Mutex<HashMap<String, Session>>>;

/// Forgets every session resource of `conn`.
pub(crate) fn forget_sessions(sessions: &Sessions, conn: ConnId) {
    if let Ok(mut map) = sessions.lock() {
        map.retain(|_, s| s.conn != conn);
    }
}

/// A WHIP or WHEP session created over HTTP.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Session {
    conn: ConnId,
    /// The transport trickled candidates belong to.
    transport: Transport,
}

/// Everything a connection's HTTP handler needs.
#[derive(Clone)]
pub(crate) struct Front {
    pub events: mpsc::Sender<ConnEvent>,
    pub metrics: Arc<Metrics>,
    pub next_id: Arc<dyn Fn() -> ConnId + Send + Sync>,
    pub limits: Arc<Limits>,
    sessions: Sessions,
    /// The lesson service, when the server has a lessons folder.
    lessons: Option<Arc<crate::lessons::LessonService>>,
}

impl Front {
    pub fn new(
        events: mpsc::Sender<ConnEvent>,
        metrics: Arc<Metrics>,
        next_id: Arc<dyn Fn() -> ConnId + Send + Sync>,
        limits: Arc<Limits>,
        lessons: Option<Arc<crate::lessons::LessonService>>,
    ) -> Self {
        Front {
            events,
            metrics,
            next_id,
            limits,
            sessions: Arc::new(Mutex::new(HashMap::new())),
            lessons,
        }
    }

    /// The session resources, for the driver.
    pub fn sessions(&self) -> Sessions {
        self.sessions.clone()
    }

    fn session(&self, id: &str) -> Option<Session> {
        self.sessions.lock().ok()?.get(id).copied()
    }
}

/// Serves one connection (plain TCP or TLS): HTTP/1.1 with upgrades, headers within the
/// header deadline (which also ends an idle keep-alive connection), requests within the
/// connection's rate. `slot` is held as long as the connection or its websocket lives.
pub(crate) async fn serve_connection<S>(front: Front, stream: S, peer: SocketAddr, slot: Arc<Slot>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let limits = front.limits.clone();
    let metrics = front.metrics.clone();
    let bucket = Arc::new(Mutex::new(Bucket::new(
        limits.messages_per_second,
        limits.message_burst,
        tokio::time::Instant::now(),
    )));
    let service = service_fn(move |req| {
        let front = front.clone();
        let slot = slot.clone();
        let bucket = bucket.clone();
        async move {
            let allowed = bucket
                .lock()
                .map(|mut b| {
                    if b.take(tokio::time::Instant::now()) {
                        Ok(())
                    } else {
                        Err(b.retry_after())
                    }
                })
                .unwrap_or(Ok(()));
            Ok::<_, Infallible>(match allowed {
                Ok(()) => route(front, peer, slot, req).await,
                Err(wait) => too_many_requests(&front, wait),
            })
        }
    });
    if let Err(e) = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades()
        .await
    {
        if e.is_timeout() {
            metrics.timed_out(Timeout::Header);
        }
        debug!(%peer, "http connection ended: {e}");
    }
}

/// 429 with `Retry-After`, counted.
fn too_many_requests(front: &Front, wait: std::time::Duration) -> Response<Body> {
    front.metrics.refused(Limit::MessageRate);
    let mut r = error_response(
        StatusCode::TOO_MANY_REQUESTS,
        "too many requests on this connection; slow down",
    );
    let secs = wait.as_secs().max(1).to_string();
    if let Ok(v) = HeaderValue::from_str(&secs) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

pub(crate) fn respond(
    status: StatusCode,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    // WHEP players are often web pages on another origin.
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Location"),
    );
    r
}

/// A refusal found here: counted, then answered.
fn refuse(front: &Front, status: StatusCode, message: &str) -> Response<Body> {
    front.metrics.signaling_error();
    error_response(status, message)
}

/// A plain-text error; a 401 says which scheme to authenticate with.
pub(crate) fn error_response(status: StatusCode, message: &str) -> Response<Body> {
    let mut r = respond(status, "text/plain; charset=utf-8", format!("{message}\n"));
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    r
}

fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Unauthorized | ErrorCode::Expired => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden | ErrorCode::Removed | ErrorCode::Denied | ErrorCode::Locked => {
            StatusCode::FORBIDDEN
        }
        ErrorCode::BadState => StatusCode::CONFLICT,
        ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Full => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

async fn route(
    front: Front,
    peer: SocketAddr,
    slot: Arc<Slot>,
    req: Request<Incoming>,
) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    if matches!(
        parts.first(),
        Some(&("lessons" | "files" | "homework" | "assignments" | "returns"))
    ) {
        return match front.lessons.clone() {
            Some(lessons) => crate::lessons::route(&front, &lessons, req, &parts).await,
            None => refuse(
                &front,
                StatusCode::NOT_FOUND,
                "this server keeps no lessons",
            ),
        };
    }
    match (req.method().clone(), parts.as_slice()) {
        (Method::GET, ["ws"] | [""]) => upgrade(front, peer, slot, req),
        (Method::GET, ["healthz"]) => respond(StatusCode::OK, "text/plain", "ok\n"),
        (Method::OPTIONS, _) => {
            let mut r = respond(StatusCode::NO_CONTENT, "text/plain", "");
            let h = r.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, HEAD, PUT, POST, PATCH, DELETE, OPTIONS"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(
                    "Authorization, Content-Type, If-Match, Range, If-Range, If-None-Match",
                ),
            );
            r
        }
        (Method::POST, [kind @ ("whip" | "whep"), room]) => {
            let whep = *kind == "whep";
            let room = (*room).to_owned();
            offer(front, req, room, whep).await
        }
        (Method::DELETE, ["session", id]) => match front.session(id) {
            Some(s) => {
                if let Ok(mut map) = front.sessions.lock() {
                    map.remove(*id);
                }
                let _ = front.events.send(ConnEvent::Closed(s.conn)).await;
                respond(StatusCode::OK, "text/plain", "")
            }
            None => refuse(&front, StatusCode::NOT_FOUND, "no such session"),
        },
        (Method::PATCH, ["session", id]) => match front.session(id) {
            Some(s) => trickle(front, req, s).await,
            None => refuse(&front, StatusCode::NOT_FOUND, "no such session"),
        },
        _ => refuse(&front, StatusCode::NOT_FOUND, "not found"),
    }
}

/// The websocket handshake by hand, so the same port also speaks plain HTTP.
fn upgrade(
    front: Front,
    peer: SocketAddr,
    slot: Arc<Slot>,
    mut req: Request<Incoming>,
) -> Response<Body> {
    let key = req.headers().get(header::SEC_WEBSOCKET_KEY).cloned();
    let is_ws = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let (Some(key), true) = (key, is_ws) else {
        front.metrics.connection_refused();
        return refuse(
            &front,
            StatusCode::UPGRADE_REQUIRED,
            "this endpoint speaks websocket",
        );
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let ws = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    WsRole::Server,
                    Some(ws_config()),
                )
                .await;
                let cx = WsContext {
                    id: (front.next_id)(),
                    peer,
                    events: front.events.clone(),
                    metrics: front.metrics.clone(),
                    limits: front.limits.clone(),
                    slot,
                };
                serve_websocket(cx, ws).await;
            }
            Err(e) => debug!(%peer, "websocket upgrade failed: {e}"),
        }
    });
    let mut r = respond(StatusCode::SWITCHING_PROTOCOLS, "text/plain", "");
    let h = r.headers_mut();
    h.remove(header::CONTENT_TYPE);
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    r
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// Reads a body of at most [`MAX_MESSAGE_BYTES`] as UTF-8, within the body deadline.
async fn body_text(
    front: &Front,
    req: Request<Incoming>,
) -> Result<String, (StatusCode, &'static str)> {
    let limited = Limited::new(req.into_body(), MAX_MESSAGE_BYTES);
    let bytes = tokio::time::timeout(front.limits.body_timeout, limited.collect())
        .await
        .map_err(|_| {
            front.metrics.timed_out(Timeout::Body);
            (StatusCode::REQUEST_TIMEOUT, "body not sent in time")
        })?
        .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, "body too large or cut off"))?
        .to_bytes();
    String::from_utf8(bytes.to_vec()).map_err(|_| (StatusCode::BAD_REQUEST, "body is not UTF-8"))
}

fn content_type_is(req: &Request<Incoming>, want: &str) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case(want))
        })
}

async fn offer(front: Front, req: Request<Incoming>, room: String, whep: bool) -> Response<Body> {
    let Some(token) = bearer(req.headers()) else {
        return refuse(
            &front,
            StatusCode::UNAUTHORIZED,
            "an Authorization: Bearer token is required",
        );
    };
    if !content_type_is(&req, "application/sdp") {
        return refuse(
            &front,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the offer must be application/sdp",
        );
    }
    let sdp = match body_text(&front, req).await {
        Ok(s) => s,
        Err((status, why)) => return refuse(&front, status, why),
    };
    let conn = (front.next_id)();
    let (reply, answer) = oneshot::channel();
    let event = ConnEvent::HttpOffer {
        conn,
        whep,
        token,
        room: room.clone(),
        sdp,
        reply,
    };
    if front.events.send(event).await.is_err() {
        return refuse(
            &front,
            StatusCode::SERVICE_UNAVAILABLE,
            "server shutting down",
        );
    }
    match answer.await {
        Ok(Ok(answer)) => {
            let id = random_id();
            if let Ok(mut map) = front.sessions.lock() {
                let transport = if whep {
                    Transport::Subscribe
                } else {
                    Transport::Publish
                };
                map.insert(id.clone(), Session { conn, transport });
            }
            let mut r = respond(StatusCode::CREATED, "application/sdp", answer);
            if let Ok(v) = HeaderValue::from_str(&format!("/session/{id}")) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
        // The core counted the refusal.
        Ok(Err((code, message))) => error_response(status_of(code), &message),
        Err(_) => refuse(
            &front,
            StatusCode::SERVICE_UNAVAILABLE,
            "server shutting down",
        ),
    }
}

/// Trickle ICE (RFC 8840 fragments): each `a=candidate` line goes to the session's peer
/// connection.
async fn trickle(front: Front, req: Request<Incoming>, s: Session) -> Response<Body> {
    if !content_type_is(&req, "application/trickle-ice-sdpfrag") {
        return refuse(
            &front,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "PATCH takes application/trickle-ice-sdpfrag",
        );
    }
    let frag = match body_text(&front, req).await {
        Ok(s) => s,
        Err((status, why)) => return refuse(&front, status, why),
    };
    for line in frag.lines().filter(|l| l.starts_with("a=candidate:")) {
        let msg = ClientMessage::IceCandidate(IceCandidate {
            transport: s.transport,
            candidate: line.trim().to_owned(),
            sdp_m_line_index: 0,
        });
        if front
            .events
            .send(ConnEvent::Message(s.conn, msg))
            .await
            .is_err()
        {
            break;
        }
    }
    respond(StatusCode::NO_CONTENT, "text/plain", "")
}

/// An unguessable session id: the resource URL is the capability to end the session.
fn random_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: fall back to the time, which is unique though guessable; the
        // session still needed a valid bearer token to be created.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        bytes[..16].copy_from_slice(&t.to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
