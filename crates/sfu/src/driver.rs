//! The tokio driver: one UDP socket for all media, a websocket listener for signaling, and
//! one task that owns the [`Sfu`] core and feeds it.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use classroom_protocol::{
    AttendanceReport, ClientMessage, ErrorCode, MAX_MESSAGE_BYTES, Role, ServerMessage,
    SimulcastLayer,
};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};
use tracing::{debug, info, warn};

use crate::SfuError;
use crate::access::{AccessError, AccessKey, Claims};
use crate::core::{ConnId, CoreConfig, Output, Sfu};
use crate::metrics::Metrics;

/// Where the server listens.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Websocket signaling listen address (`127.0.0.1:0` picks a free port).
    pub signaling: SocketAddr,
    /// UDP media address (`127.0.0.1:0` picks a free port).
    pub udp: SocketAddr,
    /// Address advertised to peers when `udp` is a wildcard address such as `0.0.0.0`.
    pub advertise_ip: Option<IpAddr>,
    /// Verifies (and, through the handle, mints) join tokens. `None`: a fresh random key,
    /// right for a server embedded in the teacher's app, which hands out its own tokens.
    pub access: Option<AccessKey>,
    /// Address for the operations HTTP listener (`/metrics`, `/healthz`); `None`: off.
    pub metrics: Option<SocketAddr>,
    /// Simulcast layers camera publishers are asked for when they join (smallest first;
    /// [`standard_simulcast_layers`] is the usual set). Each subscriber then gets the layer
    /// its viewport and bandwidth call for, at the cost of the publisher encoding every
    /// layer. Empty (the default): cameras are sent as one encoding.
    pub simulcast: Vec<SimulcastLayer>,
    /// The class rules' settings (grace period, stage size, rate limits, batching).
    pub class: classroom::Config,
    /// Where each class's attendance report is written (CSV and JSON) when it ends or the
    /// server stops; `None`: reports are only kept in memory ([`ServerHandle::reports`]).
    pub reports_dir: Option<std::path::PathBuf>,
}

/// The layers a server asks for when simulcast is on: 320x180, 640x360 and 1280x720
/// (`l`, `m`, `h`), for a thumbnail, a tile in a grid, and a camera shown large.
pub fn standard_simulcast_layers() -> Vec<SimulcastLayer> {
    [("l", 320, 180), ("m", 640, 360), ("h", 1280, 720)]
        .into_iter()
        .map(|(rid, width, height)| SimulcastLayer {
            rid: rid.into(),
            width,
            height,
        })
        .collect()
}

impl ServerConfig {
    /// Everything on loopback with free ports: a class on one computer, and tests.
    pub fn loopback() -> Self {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        ServerConfig {
            signaling: SocketAddr::new(lo, 0),
            udp: SocketAddr::new(lo, 0),
            advertise_ip: None,
            access: None,
            metrics: None,
            simulcast: Vec::new(),
            class: classroom::Config::default(),
            reports_dir: None,
        }
    }
}

/// A running server. Dropping it does not stop it; call [`ServerHandle::shutdown`].
pub struct ServerHandle {
    access: AccessKey,
    metrics_addr: Option<SocketAddr>,
    signaling_addr: SocketAddr,
    udp_addr: SocketAddr,
    metrics: Arc<Metrics>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
    control: mpsc::Sender<ConnEvent>,
    reports: Arc<std::sync::Mutex<Vec<AttendanceReport>>>,
}

impl ServerHandle {
    /// Sets up a class before anyone joins: its code, invite secret, roster and lobby
    /// policy (the teacher's app does this before it shows the code).
    pub async fn setup_class(
        &self,
        room: &str,
        setup: classroom::ClassSetup,
    ) -> Result<(), SfuError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.control
            .send(ConnEvent::SetupClass {
                room: room.to_owned(),
                setup,
                reply,
            })
            .await
            .map_err(|_| SfuError::Stopped)?;
        answer
            .await
            .map_err(|_| SfuError::Stopped)?
            .map_err(|(_, why)| SfuError::Class(why))
    }

    /// Creates `room` with a fresh invite secret and class code, so the teacher can show
    /// them before anyone joins; returns them.
    pub async fn create_class(
        &self,
        room: &str,
        lobby_policy: classroom_protocol::LobbyPolicy,
        roster: Vec<classroom_protocol::RosterEntry>,
    ) -> Result<ClassInvite, SfuError> {
        let secret = crate::random::invite_secret();
        let code = classroom::code::generate(None, &mut crate::random::OsRandom);
        let setup = classroom::ClassSetup {
            lobby_policy,
            stage_limit: classroom::Config::default().stage_limit,
            code: Some(code.clone()),
            invite_token: Some(secret.clone()),
            roster,
        };
        self.setup_class(room, setup).await?;
        Ok(ClassInvite { secret, code })
    }

    /// The attendance report of `room` so far (`None`: no such class).
    pub async fn report(&self, room: &str) -> Option<AttendanceReport> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.control
            .send(ConnEvent::Report {
                room: room.to_owned(),
                reply,
            })
            .await
            .ok()?;
        answer.await.ok().flatten()
    }

    /// Reports of the classes that ended so far (and, after [`ServerHandle::shutdown`], of
    /// those that were running), oldest first.
    pub fn reports(&self) -> Vec<AttendanceReport> {
        self.reports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The websocket URL clients join with.
    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.signaling_addr)
    }

    /// The bound signaling address.
    pub fn signaling_addr(&self) -> SocketAddr {
        self.signaling_addr
    }

    /// Where `/metrics` is served, if it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The bound media address.
    pub fn udp_addr(&self) -> SocketAddr {
        self.udp_addr
    }

    /// Live counters.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The key join tokens are checked with.
    pub fn access(&self) -> &AccessKey {
        &self.access
    }

    /// Mints a token for `identity` in `room` as `role`, with the role's usual grants, valid
    /// for `ttl`.
    pub fn mint_token(
        &self,
        room: &str,
        identity: &str,
        role: Role,
        ttl: Duration,
    ) -> Result<String, AccessError> {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.access
            .mint(&Claims::new(room, identity, role, ttl, unix))
    }

    /// Tells every client goodbye, closes their connections and stops the server; returns
    /// every class's attendance report (kept in `reports_dir` too, when set).
    pub async fn shutdown(self) -> Vec<AttendanceReport> {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        self.reports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// What lets students into a class the server created: see [`ServerHandle::create_class`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassInvite {
    /// The invite secret (128 random bits): joining with it as the token lets a student in
    /// (through the lobby if the class asks) with an identity of their own.
    pub secret: String,
    /// The short class code, `XXXX-XXXX-XXXX`: rate-limited, always through the lobby.
    pub code: String,
}

/// From connection tasks to the core task.
pub(crate) enum ConnEvent {
    Open(ConnId, mpsc::Sender<Outgoing>, SocketAddr),
    Message(ConnId, ClientMessage),
    Closed(ConnId),
    /// A WHIP (`whep: false`) or WHEP offer over HTTP, answered on `reply`.
    HttpOffer {
        conn: ConnId,
        whep: bool,
        token: String,
        room: String,
        sdp: String,
        reply: tokio::sync::oneshot::Sender<crate::web::OfferReply>,
    },
    /// From the handle: set a class up.
    SetupClass {
        room: String,
        setup: classroom::ClassSetup,
        reply: tokio::sync::oneshot::Sender<Result<(), classroom::Refusal>>,
    },
    /// From the handle: a class's report.
    Report {
        room: String,
        reply: tokio::sync::oneshot::Sender<Option<AttendanceReport>>,
    },
}

/// What goes out on one websocket: the text of one frame, already encoded (a broadcast once
/// for everyone, a message of its own by the core's task). A queue slot is the size of a
/// `Bytes` (32 bytes), not of a `ServerMessage`: tokio allocates a queue's slots 32 at a
/// time, and with the message inline that block was 6.7 KiB per connection.
pub(crate) type Outgoing = Utf8Bytes;

/// A message of one connection's own, encoded for its queue.
fn encoded(msg: &ServerMessage) -> Outgoing {
    Utf8Bytes::from(msg.encode())
}

/// Socket buffers asked for on the media socket. With the kernel's default (~208 KiB) a burst
/// of students joining at once (DTLS flights plus everyone's media) overflowed the receive
/// queue in the load test. The kernel caps the request at `net.core.{r,w}mem_max`, so the
/// size granted is logged.
const UDP_BUFFER_BYTES: usize = 4 << 20;

fn size_buffers(udp: &UdpSocket) {
    let sock = socket2::SockRef::from(udp);
    let _ = sock.set_recv_buffer_size(UDP_BUFFER_BYTES);
    let _ = sock.set_send_buffer_size(UDP_BUFFER_BYTES);
    let granted = (sock.recv_buffer_size(), sock.send_buffer_size());
    match granted {
        (Ok(recv), Ok(send)) if recv.min(send) < UDP_BUFFER_BYTES => info!(
            recv,
            send,
            "UDP buffers capped by the kernel (raise net.core.rmem_max/wmem_max for big classes)"
        ),
        (Ok(recv), Ok(send)) => debug!(recv, send, "UDP buffers"),
        _ => {}
    }
}

/// Binds the sockets and starts the server on the current tokio runtime.
pub async fn start(config: ServerConfig) -> Result<ServerHandle, SfuError> {
    let udp = UdpSocket::bind(config.udp)
        .await
        .map_err(|source| SfuError::Bind {
            what: "media UDP",
            addr: config.udp,
            source,
        })?;
    size_buffers(&udp);
    let listener = TcpListener::bind(config.signaling)
        .await
        .map_err(|source| SfuError::Bind {
            what: "signaling",
            addr: config.signaling,
            source,
        })?;
    let mut udp_addr = udp.local_addr()?;
    let signaling_addr = listener.local_addr()?;
    if udp_addr.ip().is_unspecified() {
        let ip = config.advertise_ip.unwrap_or_else(|| {
            warn!("media bound to a wildcard address and no advertise address given; advertising 127.0.0.1");
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        });
        udp_addr = SocketAddr::new(ip, udp_addr.port());
    }
    info!(%signaling_addr, %udp_addr, "classroom server listening");
    let metrics = Arc::new(Metrics::default());
    let (shutdown, shutdown_rx) = watch::channel(false);
    let metrics_addr = match config.metrics {
        Some(addr) => {
            let http = TcpListener::bind(addr)
                .await
                .map_err(|source| SfuError::Bind {
                    what: "metrics",
                    addr,
                    source,
                })?;
            let bound = http.local_addr()?;
            info!(%bound, "metrics at http://{bound}/metrics");
            tokio::spawn(crate::http::serve(
                http,
                crate::http::registry(metrics.clone()),
                shutdown_rx.clone(),
            ));
            Some(bound)
        }
        None => None,
    };
    let (events_tx, events_rx) = mpsc::channel(1024);
    let control = events_tx.clone();
    tokio::spawn(accept_loop(
        listener,
        events_tx,
        metrics.clone(),
        shutdown_rx.clone(),
    ));
    let access = match config.access {
        Some(key) => key,
        None => AccessKey::random()?,
    };
    let core_config = CoreConfig {
        simulcast: config.simulcast.clone(),
        class: config.class.clone(),
        ..CoreConfig::new(udp_addr, access.clone())
    };
    let core = Sfu::new(core_config, metrics.clone());
    let reports = Arc::new(std::sync::Mutex::new(Vec::new()));
    let keeper = Reports {
        dir: config.reports_dir.clone(),
        kept: reports.clone(),
    };
    let task = tokio::spawn(run_core(core, udp, events_rx, shutdown_rx, keeper));
    Ok(ServerHandle {
        control,
        reports,
        access,
        metrics_addr,
        signaling_addr,
        udp_addr,
        metrics,
        shutdown,
        task,
    })
}

/// Where ended classes' attendance reports go.
struct Reports {
    dir: Option<std::path::PathBuf>,
    kept: Arc<std::sync::Mutex<Vec<AttendanceReport>>>,
}

impl Reports {
    /// Keeps the report in memory and, with a folder, as `<room>-<unix ms>.csv` and `.json`.
    fn keep(&self, report: AttendanceReport) {
        if let Some(dir) = &self.dir {
            let stem = format!("{}-{}", file_safe(&report.room), report.made_ms);
            let csv = classroom::report_csv(&report);
            let json = serde_json::to_string_pretty(&report).unwrap_or_default();
            let written = std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::write(dir.join(format!("{stem}.csv")), csv))
                .and_then(|()| std::fs::write(dir.join(format!("{stem}.json")), json));
            match written {
                Ok(()) => info!(dir = %dir.display(), %stem, "attendance report kept"),
                Err(e) => warn!(dir = %dir.display(), "cannot write the attendance report: {e}"),
            }
        }
        self.kept
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(report);
    }
}

/// A room name as a file name: letters, digits, `-` and `_`; anything else becomes `_`.
fn file_safe(room: &str) -> String {
    room.chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

async fn run_core(
    mut core: Sfu,
    udp: UdpSocket,
    mut events: mpsc::Receiver<ConnEvent>,
    mut shutdown: watch::Receiver<bool>,
    reports: Reports,
) {
    let local = udp
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let mut conns: HashMap<ConnId, mpsc::Sender<Outgoing>> = HashMap::new();
    let mut buf = vec![0u8; 2048];
    loop {
        let deadline = tokio::time::Instant::from_std(core.poll_timeout());
        tokio::select! {
            _ = shutdown.changed() => {
                core.shutdown("server shutting down");
                flush(&mut core, &udp, &mut conns, &reports).await;
                return;
            }
            r = udp.recv_from(&mut buf) => match r {
                Ok((n, source)) => core.handle_udp(Instant::now(), source, local, &buf[..n]),
                Err(e) => debug!("udp receive error: {e}"), // e.g. ICMP port unreachable
            },
            ev = events.recv() => match ev {
                Some(ConnEvent::Open(id, tx, peer)) => {
                    conns.insert(id, tx);
                    core.connect_from(Instant::now(), id, peer.ip());
                }
                Some(ConnEvent::SetupClass { room, setup, reply }) => {
                    let _ = reply.send(core.setup_class(Instant::now(), &room, setup));
                }
                Some(ConnEvent::Report { room, reply }) => {
                    let _ = reply.send(core.report(Instant::now(), &room));
                }
                Some(ConnEvent::Message(id, msg)) => core.handle_signal(Instant::now(), id, msg),
                Some(ConnEvent::Closed(id)) => {
                    conns.remove(&id);
                    core.disconnect(Instant::now(), id);
                }
                Some(ConnEvent::HttpOffer { conn, whep, token, room, sdp, reply }) => {
                    let now = Instant::now();
                    let answer = if whep {
                        core.whep_subscribe(now, conn, &token, &room, &sdp)
                    } else {
                        core.whip_publish(now, conn, &token, &room, &sdp)
                    };
                    let _ = reply.send(answer);
                }
                None => return,
            },
            _ = tokio::time::sleep_until(deadline) => core.handle_timeout(Instant::now()),
        }
        flush(&mut core, &udp, &mut conns, &reports).await;
    }
}

async fn flush(
    core: &mut Sfu,
    udp: &UdpSocket,
    conns: &mut HashMap<ConnId, mpsc::Sender<Outgoing>>,
    reports: &Reports,
) {
    while let Some(out) = core.poll_output() {
        match out {
            Output::Transmit {
                destination,
                contents,
                ..
            } => {
                if let Err(e) = udp.send_to(&contents, destination).await {
                    debug!(%destination, "udp send failed: {e}");
                }
            }
            Output::Signal { to, msg } => send_to(conns, to, encoded(&msg)),
            Output::Broadcast { to, msg } => {
                // Encoded once, shared by every receiver's writer.
                let text = Utf8Bytes::from(msg.encode());
                for conn in to {
                    send_to(conns, conn, text.clone());
                }
            }
            Output::Close { to } => {
                conns.remove(&to);
            }
            Output::ClassEnded { report } => reports.keep(report),
        }
    }
}

/// Queues a message for one connection. A client that does not read its signaling is
/// dropped rather than allowed to grow the server's memory.
fn send_to(conns: &mut HashMap<ConnId, mpsc::Sender<Outgoing>>, to: ConnId, out: Outgoing) {
    if let Some(tx) = conns.get(&to)
        && tx.try_send(out).is_err()
    {
        warn!(conn = to, "signaling queue full; closing");
        conns.remove(&to);
    }
}

async fn accept_loop(
    listener: TcpListener,
    events: mpsc::Sender<ConnEvent>,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let front = crate::web::Front::new(
        events,
        metrics,
        Arc::new(|| NEXT.fetch_add(1, Ordering::Relaxed)),
    );
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    tokio::spawn(crate::web::serve_connection(front.clone(), stream, peer));
                }
                Err(e) => warn!("accept failed: {e}"),
            },
        }
    }
}

/// Frames up to this size are read whole before the message limit refuses them, so the
/// socket is drained and the peer receives the error and the close frame instead of a TCP
/// reset; anything larger is cut off at the header. Bounds per-connection memory either way.
const MAX_FRAME_BYTES: usize = 1024 * 1024;

/// Read buffer per websocket. tungstenite allocates it up front and zero-fills it to its
/// capacity before each read: its default of 128 KiB made 128 KiB of resident memory per
/// connected student (bench control: 188 KiB per student in all). Client messages are small
/// (a join, a class request, a candidate); a larger one (an SDP offer) still arrives whole,
/// as the buffer grows to the frame's length and is read in steps of this size.
const READ_BUFFER_BYTES: usize = 1024;

pub(crate) fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_FRAME_BYTES))
}

/// Runs one signaling client's websocket (already upgraded) until it closes.
pub(crate) async fn serve_websocket<S>(
    id: ConnId,
    ws: tokio_tungstenite::WebSocketStream<S>,
    peer: SocketAddr,
    events: mpsc::Sender<ConnEvent>,
    metrics: Arc<Metrics>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Outgoing>(256);
    // Errors found while reading go out on the same queue, so they stay in order with the
    // core's replies.
    let local_tx = tx.clone();
    if events.send(ConnEvent::Open(id, tx, peer)).await.is_err() {
        return;
    }
    // A oneshot, not a queue: a tokio queue allocates its first 32 slots up front.
    let (close_tx, mut close_rx) = tokio::sync::oneshot::channel::<CloseFrame>();
    let writer = tokio::spawn(async move {
        loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(msg) => {
                        if sink.send(frame_of(msg)).await.is_err() {
                            return;
                        }
                    }
                    None => break,
                },
                frame = &mut close_rx => {
                    let frame = frame.ok();
                    // Flush what is queued first so the peer learns why it is closed.
                    while let Ok(msg) = rx.try_recv() {
                        let _ = sink.send(frame_of(msg)).await;
                    }
                    let _ = sink.send(Message::Close(frame)).await;
                    return;
                }
            }
        }
        let _ = sink.send(Message::Close(None)).await;
    });
    while let Some(frame) = stream.next().await {
        let refusal = match frame {
            Ok(Message::Text(text)) => match ClientMessage::decode(text.as_str()) {
                Ok(msg) => {
                    if events.send(ConnEvent::Message(id, msg)).await.is_err() {
                        break;
                    }
                    continue;
                }
                Err(e) => {
                    metrics.signaling_error();
                    debug!(%peer, "bad signaling message: {e}");
                    let _ = local_tx.try_send(encoded(&ServerMessage::error(e.code(), e.to_string())));
                    continue;
                }
            },
            Ok(Message::Binary(_)) => {
                metrics.signaling_error();
                let _ = local_tx.try_send(encoded(&ServerMessage::error(
                    ErrorCode::Malformed,
                    "binary frames are not part of the protocol",
                )));
                continue;
            }
            Ok(Message::Close(_)) => break,
            Ok(_) => continue, // ping/pong handled by tungstenite
            Err(tungstenite::Error::Capacity(e)) => {
                metrics.signaling_error();
                metrics.connection_refused();
                let _ = local_tx.try_send(encoded(&ServerMessage::error(
                    ErrorCode::TooLarge,
                    e.to_string(),
                )));
                Some(CloseFrame {
                    code: CloseCode::Size,
                    reason: "message too large".into(),
                })
            }
            Err(e) => {
                debug!(%peer, "websocket error: {e}");
                break;
            }
        };
        if let Some(frame) = refusal {
            let _ = close_tx.send(frame);
            break;
        }
    }
    drop(local_tx);
    let _ = events.send(ConnEvent::Closed(id)).await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), writer).await;
}

/// The websocket frame for one outgoing message.
fn frame_of(out: Outgoing) -> Message {
    Message::Text(out)
}
