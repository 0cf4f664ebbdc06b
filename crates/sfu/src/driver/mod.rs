//! The tokio driver: the media UDP sockets (one, or one per interface address: `udp/`), a
//! websocket listener for signaling, and one task that owns the [`Sfu`] core and feeds it.
//!
//! The signaling port's accept loop (connection slots, TLS, backoff) is in [`accept`], each
//! websocket's task in [`ws`], and the per-connection rate limit in [`rate`].

mod accept;
mod rate;
mod ws;

pub(crate) use accept::Slot;
pub(crate) use rate::Bucket;
pub(crate) use ws::{Outgoing, WsContext, serve_websocket, ws_config};

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use classroom_protocol::{AttendanceReport, ByeCause, ClientMessage, Role, SimulcastLayer};
use tokio::net::TcpListener;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tracing::{debug, info, warn};

use crate::SfuError;
use crate::access::{AccessError, AccessKey, Claims};
use crate::core::{ConnId, CoreConfig, Fanout, Limits, Output, Sfu, datagrams_per_part};
use crate::metrics::Metrics;
use crate::tls::Tls;
use crate::udp::{Datagram, MediaPath, MediaSockets, MediaState, RESCAN};
use ws::ConnHandle;

/// The server's stop: `None` while it runs, then why it stopped (what clients are told).
pub(crate) type Stop = watch::Receiver<Option<ByeCause>>;

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
    /// The class rules' settings (grace period, stage size, rate limits, batching).
    pub class: classroom::Config,
    /// Where each class's attendance report is written (CSV and JSON) when it ends or the
    /// server stops; `None`: reports are only kept in memory ([`ServerHandle::reports`]).
    pub reports_dir: Option<std::path::PathBuf>,
    /// When the signaling or media port asked for is taken, use a free one instead of
    /// failing. The embedded server's fixed port is for a school's firewall rule; a second
    /// class on the same computer still starts.
    pub port_fallback: bool,
    /// Where the lesson service keeps the classes' lessons and files (a `classroom-store`
    /// library); `None`: no lesson service (`/lessons` and `/files` answer 404).
    pub lessons_dir: Option<std::path::PathBuf>,
    /// Threads that share a fan-out's per-subscriber work (encrypting and sending each
    /// student's copy of a packet: `core::Fanout`). 1: everything on the server's one
    /// thread, right for a class inside the teacher's app; a school server gives it its
    /// cores (`classroom-server --threads`).
    pub threads: usize,
}

/// The port the embedded server listens on by default, for signaling (TCP) and media (UDP):
/// the same every time, so a school's firewall rule can name it.
pub const DEFAULT_PORT: u16 = 47800;

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
            class: classroom::Config::default(),
            reports_dir: None,
            port_fallback: false,
            lessons_dir: None,
            threads: 1,
        }
    }

    /// A class on the school network: signaling on every IPv4 interface on `port`, media on
    /// every usable interface address (and loopback, offered only to clients on this
    /// computer) on the same port number, each advertised as a host candidate, interfaces
    /// re-read while the class runs. A taken port falls back to a free one.
    /// [`DEFAULT_PORT`] is the usual `port`.
    pub fn lan(port: u16) -> Self {
        let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        ServerConfig {
            signaling: SocketAddr::new(any, port),
            udp: SocketAddr::new(any, port),
            port_fallback: true,
            ..ServerConfig::loopback()
        }
    }
}

/// A running server. Dropping it does not stop it; call [`ServerHandle::shutdown`].
pub struct ServerHandle {
    access: AccessKey,
    metrics_addr: Option<SocketAddr>,
    signaling_addr: SocketAddr,
    udp_addr: SocketAddr,
    media: watch::Receiver<MediaState>,
    metrics: Arc<Metrics>,
    fingerprint: Option<[u8; 32]>,
    /// Set once: the server stops, telling every client this cause.
    shutdown: watch::Sender<Option<ByeCause>>,
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
        // With TLS on, the code's first 8 characters check the certificate, so a student's
        // app finds this server among those nearby and knows it is the right one.
        let head = self
            .fingerprint
            .and_then(|f| <[u8; 5]>::try_from(&f[..5]).ok());
        let code = classroom::code::generate(head, &mut crate::random::OsRandom);
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

    /// The websocket URL clients on this computer join with (loopback when the server
    /// listens on every interface).
    pub fn url(&self) -> String {
        let mut addr = self.signaling_addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        format!("{}://{addr}/ws", self.scheme())
    }

    /// `wss` when TLS is on, else `ws`.
    fn scheme(&self) -> &'static str {
        if self.fingerprint.is_some() {
            "wss"
        } else {
            "ws"
        }
    }

    /// SHA-256 of the TLS certificate's DER (the leaf), when TLS is on: what clients pin
    /// (an invite carries it, see `classroom_protocol::fingerprint`).
    pub fn fingerprint(&self) -> Option<[u8; 32]> {
        self.fingerprint
    }

    /// The signaling URL at each of the server's network addresses other computers may
    /// reach (empty for a server on loopback, or with no usable network).
    pub fn lan_urls(&self) -> Vec<String> {
        if !self.signaling_addr.ip().is_unspecified() {
            return Vec::new();
        }
        self.lan_ips()
            .into_iter()
            .filter(|ip| ip.is_ipv4())
            .map(|ip| {
                format!(
                    "{}://{}/ws",
                    self.scheme(),
                    SocketAddr::new(ip, self.signaling_addr.port())
                )
            })
            .collect()
    }

    /// The non-loopback addresses media is received on now (they follow the interfaces).
    pub fn lan_ips(&self) -> Vec<IpAddr> {
        self.media_addrs()
            .into_iter()
            .map(|a| a.ip())
            .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
            .collect()
    }

    /// Every address media is received on now, each advertised as a host candidate.
    pub fn media_addrs(&self) -> Vec<SocketAddr> {
        self.media.borrow().addrs.clone()
    }

    /// A receiver that sees the media addresses change (an interface came or went). Call it
    /// inside a tokio runtime: a small task follows the server's state.
    pub fn watch_media_addrs(&self) -> watch::Receiver<Vec<SocketAddr>> {
        let (tx, rx) = watch::channel(self.media_addrs());
        let mut media = self.media.clone();
        tokio::spawn(async move {
            while media.changed().await.is_ok() {
                let addrs = media.borrow_and_update().addrs.clone();
                tx.send_if_modified(|old| {
                    let changed = *old != addrs;
                    *old = addrs;
                    changed
                });
                if tx.is_closed() {
                    return;
                }
            }
        });
        rx
    }

    /// The address pairs media has arrived on (our candidate, the peer's address), refreshed
    /// every couple of seconds: what a diagnostics report or a LAN test checks.
    pub fn media_paths(&self) -> Vec<MediaPath> {
        self.media.borrow().paths.clone()
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
        let unix = crate::unix_secs();
        self.access
            .mint(&Claims::new(room, identity, role, ttl, unix))
    }

    /// Mints an observer's token for `identity`, a companion session of the staff member
    /// `of` in `room` (see [`Claims::companion_of`]): it receives the class and is listed,
    /// counted and reported nowhere. A teacher's recording joins with one.
    pub fn mint_companion_token(
        &self,
        room: &str,
        identity: &str,
        of: &str,
        ttl: Duration,
    ) -> Result<String, AccessError> {
        let unix = crate::unix_secs();
        self.access.mint(&Claims {
            companion_of: Some(of.to_owned()),
            ..Claims::new(room, identity, Role::Observer, ttl, unix)
        })
    }

    /// Tells every client goodbye, closes their connections and stops the server; returns
    /// every class's attendance report (kept in `reports_dir` too, when set).
    pub async fn shutdown(self) -> Vec<AttendanceReport> {
        self.stop(ByeCause::ServerStopped).await
    }

    /// [`ServerHandle::shutdown`] for a server that hosts one teacher's class (in the
    /// teacher's app): the students are told the teacher ended the class.
    pub async fn end_class(self) -> Vec<AttendanceReport> {
        self.stop(ByeCause::ClassEnded).await
    }

    async fn stop(self, cause: ByeCause) -> Vec<AttendanceReport> {
        let _ = self.shutdown.send(Some(cause));
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
    /// A websocket opened, from this address.
    Open(ConnId, ConnHandle, SocketAddr),
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

/// Binds the sockets and starts the server on the current tokio runtime.
pub async fn start(config: ServerConfig) -> Result<ServerHandle, SfuError> {
    let mut media =
        MediaSockets::bind(config.udp, config.advertise_ip, config.port_fallback).await?;
    let listener = match TcpListener::bind(config.signaling).await {
        Err(e) if config.port_fallback && e.kind() == std::io::ErrorKind::AddrInUse => {
            info!(addr = %config.signaling, "signaling port taken; using a free one");
            TcpListener::bind(SocketAddr::new(config.signaling.ip(), 0)).await
        }
        other => other,
    }
    .map_err(|source| SfuError::Bind {
        what: "signaling",
        addr: config.signaling,
        source,
    })?;
    let tls = crate::tls::acceptor(&config.tls)?;
    let fingerprint = tls.as_ref().map(|t| t.1);
    let udp_addr = media.primary();
    let signaling_addr = listener.local_addr()?;
    info!(%signaling_addr, media = ?media.advertised(), "classroom server listening");
    let metrics = Arc::new(Metrics::default());
    let (shutdown, shutdown_rx) = watch::channel(None);
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
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let limits = Arc::new(config.limits.clone());
    let access = match config.access {
        Some(key) => key,
        None => AccessKey::random()?,
    };
    let lessons = match &config.lessons_dir {
        Some(dir) => Some(
            crate::lessons::LessonService::open(
                dir,
                access.clone(),
                crate::lessons::DEFAULT_MAX_UPLOAD_BYTES,
            )
            .map_err(SfuError::Lessons)?,
        ),
        None => None,
    };
    let front = crate::web::Front::new(
        events_tx,
        metrics.clone(),
        Arc::new(|| NEXT.fetch_add(1, Ordering::Relaxed)),
        limits.clone(),
        lessons,
    );
    let sessions = front.sessions();
    tokio::spawn(accept::accept_loop(
        listener,
        front,
        accept::Slots::new(&limits, metrics.clone()),
        tls.map(|t| t.0),
        shutdown_rx.clone(),
    ));
    let core_config = CoreConfig {
        simulcast: config.simulcast.clone(),
        limits: config.limits.clone(),
        class: config.class.clone(),
        ..CoreConfig::new(udp_addr, access.clone())
    };
    let mut core = Sfu::new(core_config, metrics.clone());
    match Fanout::new(config.threads) {
        Ok(pool) => core.set_fanout(pool.map(Arc::new)),
        Err(e) => warn!(
            threads = config.threads,
            "cannot start the fan-out threads ({e}); forwarding on one thread"
        ),
    }
    core.set_local_addrs(now(), &media.advertised());
    let (media_tx, media_rx) = watch::channel(media.snapshot());
    let reports = Arc::new(std::sync::Mutex::new(Vec::new()));
    let keeper = Reports {
        dir: config.reports_dir.clone(),
        kept: reports.clone(),
    };
    let task = tokio::spawn(run_core(
        core,
        media,
        media_tx,
        events_rx,
        sessions,
        shutdown_rx,
        keeper,
    ));
    Ok(ServerHandle {
        control,
        reports,
        media: media_rx,
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
            let csv = classroom::report_csv_file(&report);
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
    mut media: MediaSockets,
    media_state: watch::Sender<MediaState>,
    mut events: mpsc::Receiver<ConnEvent>,
    sessions: crate::web::Sessions,
    mut shutdown: Stop,
    reports: Reports,
) {
    let mut conns = Conns {
        ws: HashMap::new(),
        sessions,
    };
    let mut received = crate::udp::Received::new();
    let mut rescan = tokio::time::interval(RESCAN);
    rescan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut trimmer = crate::heap::Trimmer::default();
    loop {
        let deadline = tokio::time::Instant::from_std(core.poll_timeout());
        tokio::select! {
            _ = shutdown.changed() => {
                let cause = shutdown.borrow().unwrap_or(ByeCause::ServerStopped);
                core.shutdown(cause);
                flush(&mut core, &mut media, &mut conns, &reports).await;
                return;
            }
            r = std::future::poll_fn(|cx| media.poll_recv(cx, &mut received)) => match r {
                // What arrived together is handled together and its outputs sent together.
                Ok(()) => {
                    core.metrics().udp_received();
                    core.metrics().udp_dropped_many(received.left_out());
                    let now = now();
                    // Taken together, a burst from the teacher (a keyframe's packets) costs
                    // each student's connection one write and one poll, not one per packet;
                    // in a class too large for the whole batch, in parts, each part's
                    // fan-out sent before the next is made.
                    let part = datagrams_per_part(core.largest_audience());
                    let mut datagrams = received.datagrams().peekable();
                    while datagrams.peek().is_some() {
                        core.handle_udp_batch(now, received.local(), datagrams.by_ref().take(part));
                        if datagrams.peek().is_some() {
                            flush(&mut core, &mut media, &mut conns, &reports).await;
                        }
                    }
                }
                Err(e) => debug!("udp receive error: {e}"), // e.g. ICMP port unreachable
            },
            _ = rescan.tick() => {
                if media.rescan().await {
                    core.set_local_addrs(now(), &media.advertised());
                }
                media_state.send_replace(media.snapshot());
                if trimmer.due(now(), crate::core::dtls::released()) {
                    tokio::task::spawn_blocking(|| {
                        let freed = crate::heap::trim();
                        debug!(freed, "gave freed heap back after DTLS releases");
                    });
                }
            }
            ev = events.recv() => match ev {
                Some(ConnEvent::Open(id, handle, peer)) => {
                    conns.ws.insert(id, handle);
                    core.connect_from(now(), id, peer);
                }
                Some(ConnEvent::SetupClass { room, setup, reply }) => {
                    let _ = reply.send(core.setup_class(now(), &room, setup));
                }
                Some(ConnEvent::Report { room, reply }) => {
                    let _ = reply.send(core.report(now(), &room));
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
        flush(&mut core, &mut media, &mut conns, &reports).await;
        // The turn's datagrams are out: the fan-out pool's threads may sleep, unless turns
        // are coming close together (`Fanout::rest`).
        if let Some(pool) = core.fanout() {
            pool.rest();
        }
    }
}

/// The connections the core's outputs go to.
struct Conns {
    /// Websockets.
    ws: HashMap<ConnId, ConnHandle>,
    /// WHIP/WHEP session resources, forgotten when the core ends their session.
    sessions: crate::web::Sessions,
}

async fn flush(core: &mut Sfu, media: &mut MediaSockets, conns: &mut Conns, reports: &Reports) {
    // Datagrams go out together, a system call for many (`sendmmsg`), after everything else
    // the core has to say; a packet fanned out to a class is one batch.
    let mut datagrams = Vec::new();
    while let Some(out) = core.poll_output() {
        match out {
            Output::Transmit {
                source,
                destination,
                contents,
            } => datagrams.push(Datagram {
                source,
                destination,
                contents,
            }),
            Output::Signal { to, msg } => send_to(core, conns, to, Outgoing::of(&msg)),
            Output::Broadcast { to, msg } => {
                // Encoded once, shared by every receiver's writer.
                let out = Outgoing::of(&msg);
                for conn in to {
                    send_to(core, conns, conn, out.clone());
                }
            }
            Output::ClassEnded { report } => reports.keep(*report),
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
    if !datagrams.is_empty() {
        let sent = media
            .send_all(&datagrams, core.fanout().map(Arc::as_ref))
            .await;
        core.metrics().udp_sent(sent.in_gso, sent.messages);
    }
}

/// Queues a message for one websocket. A client that does not read its signaling is dropped
/// rather than allowed to grow the server's memory, and the core is told.
fn send_to(core: &mut Sfu, conns: &mut Conns, to: ConnId, out: Outgoing) {
    let Some(conn) = conns.ws.get(&to) else {
        return;
    };
    match conn.tx.try_send(out) {
        Ok(()) => {}
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
