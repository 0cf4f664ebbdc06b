//! The tokio driver: one UDP socket for all media, a websocket listener for signaling, and
//! one task that owns the [`Sfu`] core and feeds it.
//!
//! The signaling port's accept loop (connection slots, TLS, backoff) is in [`accept`], each
//! websocket's task in [`ws`], and the per-connection rate limit in [`rate`].

mod accept;
mod rate;
mod ws;

pub(crate) use accept::Slot;
pub(crate) use rate::Bucket;
pub(crate) use ws::{WsContext, serve_websocket, ws_config};

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use classroom_protocol::{ClientMessage, Role, SimulcastLayer};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tracing::{debug, info, warn};

use crate::SfuError;
use crate::access::{AccessError, AccessKey, Claims};
use crate::core::{ConnId, CoreConfig, Limits, Output, Sfu};
use crate::metrics::Metrics;
use crate::tls::Tls;
use ws::ConnHandle;

/// The driver's clock: tokio's, so tests with paused time move the core's time too.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

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
    /// Resource limits and deadlines (defaults suit a school).
    pub limits: Limits,
    /// TLS on the signaling port (websocket, WHIP, WHEP, `/healthz`). Off by default; a
    /// class beyond loopback wants it on.
    pub tls: Tls,
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
            limits: Limits::default(),
            tls: Tls::Off,
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
    fingerprint: Option<[u8; 32]>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl ServerHandle {
    /// The websocket URL clients join with: `wss://` when TLS is on.
    pub fn url(&self) -> String {
        let scheme = if self.fingerprint.is_some() {
            "wss"
        } else {
            "ws"
        };
        format!("{scheme}://{}/ws", self.signaling_addr)
    }

    /// SHA-256 of the TLS certificate's DER (the leaf), when TLS is on: what clients pin
    /// (an invite carries it, see `classroom_protocol::fingerprint`).
    pub fn fingerprint(&self) -> Option<[u8; 32]> {
        self.fingerprint
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

    /// Tells every client goodbye, closes their connections and stops the server.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

/// From connection tasks to the core task.
pub(crate) enum ConnEvent {
    Open(ConnId, ConnHandle),
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
    let tls = crate::tls::acceptor(&config.tls)?;
    let fingerprint = tls.as_ref().map(|t| t.1);
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
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let limits = Arc::new(config.limits.clone());
    let front = crate::web::Front::new(
        events_tx,
        metrics.clone(),
        Arc::new(|| NEXT.fetch_add(1, Ordering::Relaxed)),
        limits.clone(),
    );
    let sessions = front.sessions();
    tokio::spawn(accept::accept_loop(
        listener,
        front,
        accept::Slots::new(&limits, metrics.clone()),
        tls.map(|t| t.0),
        shutdown_rx.clone(),
    ));
    let access = match config.access {
        Some(key) => key,
        None => AccessKey::random()?,
    };
    let core_config = CoreConfig {
        simulcast: config.simulcast.clone(),
        limits: config.limits.clone(),
        ..CoreConfig::new(udp_addr, access.clone())
    };
    let core = Sfu::new(core_config, metrics.clone());
    let task = tokio::spawn(run_core(core, udp, events_rx, sessions, shutdown_rx));
    Ok(ServerHandle {
        access,
        metrics_addr,
        signaling_addr,
        udp_addr,
        metrics,
        fingerprint,
        shutdown,
        task,
    })
}

async fn run_core(
    mut core: Sfu,
    udp: UdpSocket,
    mut events: mpsc::Receiver<ConnEvent>,
    sessions: crate::web::Sessions,
    mut shutdown: watch::Receiver<bool>,
) {
    let local = udp
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let mut conns = Conns {
        ws: HashMap::new(),
        sessions,
    };
    let mut buf = vec![0u8; 2048];
    loop {
        let deadline = tokio::time::Instant::from_std(core.poll_timeout());
        tokio::select! {
            _ = shutdown.changed() => {
                core.shutdown("server shutting down");
                flush(&mut core, &udp, &mut conns).await;
                return;
            }
            r = udp.recv_from(&mut buf) => match r {
                Ok((n, source)) => core.handle_udp(now(), source, local, &buf[..n]),
                Err(e) => debug!("udp receive error: {e}"), // e.g. ICMP port unreachable
            },
            ev = events.recv() => match ev {
                Some(ConnEvent::Open(id, handle)) => {
                    conns.ws.insert(id, handle);
                    core.connect(now(), id);
                }
                Some(ConnEvent::Message(id, msg)) => core.handle_signal(now(), id, msg),
                Some(ConnEvent::Closed(id)) => {
                    conns.ws.remove(&id);
                    core.disconnect(now(), id);
                }
                Some(ConnEvent::HttpOffer { conn, whep, token, room, sdp, reply }) => {
                    let now = now();
                    let answer = if whep {
                        core.whep_subscribe(now, conn, &token, &room, &sdp)
                    } else {
                        core.whip_publish(now, conn, &token, &room, &sdp)
                    };
                    let _ = reply.send(answer);
                }
                None => return,
            },
            _ = tokio::time::sleep_until(deadline) => core.handle_timeout(now()),
        }
        flush(&mut core, &udp, &mut conns).await;
    }
}

/// The connections the core's outputs go to.
struct Conns {
    /// Websockets.
    ws: HashMap<ConnId, ConnHandle>,
    /// WHIP/WHEP session resources, forgotten when the core ends their session.
    sessions: crate::web::Sessions,
}

async fn flush(core: &mut Sfu, udp: &UdpSocket, conns: &mut Conns) {
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
            Output::Signal { to, msg } => {
                let Some(conn) = conns.ws.get(&to) else {
                    continue;
                };
                match conn.tx.try_send(msg) {
                    Ok(()) => {}
                    // A client that does not read its signaling is dropped rather than
                    // allowed to grow the server's memory, and the core is told.
                    Err(TrySendError::Full(_)) => {
                        warn!(conn = to, "signaling queue full; closing");
                        core.metrics().queue_overflow();
                        if let Some(conn) = conns.ws.remove(&to) {
                            let _ = conn.close.send(CloseFrame {
                                code: CloseCode::Policy,
                                reason: "signaling queue full: the client is not reading".into(),
                            });
                        }
                        core.disconnect(now(), to);
                    }
                    // The websocket task is ending; it tells the core itself.
                    Err(TrySendError::Closed(_)) => {}
                }
            }
            Output::Close { to } => match conns.ws.remove(&to) {
                Some(conn) => {
                    let _ = conn.close.send(CloseFrame {
                        code: CloseCode::Normal,
                        reason: "closed by the server".into(),
                    });
                }
                None => crate::web::forget_sessions(&conns.sessions, to),
            },
        }
    }
}
