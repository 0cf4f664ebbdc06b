//! The students: real websockets speaking the classroom protocol, many per task.
//!
//! A group task owns the websockets of up to a few hundred students and reads them all
//! through one `SelectAll` (woken per socket, never polled in turn). Each student reads
//! every message it is sent; it looks inside with [`Peek`] (no allocation) and acts as a
//! client would: it answers a roll call the moment the prompt arrives and sends chat when
//! told to. What the bench measures is recorded where it happens: when each student saw
//! the teacher's current action, when answers left, the bytes of every frame.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use classroom_protocol::{ChatAudience, ClassRequest, ClientMessage, PROTOCOL_VERSION, Role};
use futures_util::stream::{self, BoxStream, SelectAll, SplitSink};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};

use super::traffic::{Peek, Traffic};
use crate::LoadError;

/// One student's (or the teacher's) websocket.
pub type Ws = WebSocketStream<TcpStream>;

/// Read buffer per websocket. tungstenite allocates its read buffer eagerly and zero-fills
/// it up to capacity before each read (128 KiB by default): 10,000 of those cost 1.3 GB and
/// a 128 KiB memset per frame. Server messages here are small; larger ones still fit, as the
/// buffer grows to the frame's length.
const READ_BUFFER: usize = 4096;

/// The websocket settings of every simulated client.
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(READ_BUFFER)
}

/// Opens a websocket to the server (TCP_NODELAY, as an interactive client wants).
pub async fn open(addr: SocketAddr, url: &str) -> Result<Ws, LoadError> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, tcp, Some(ws_config()))
        .await
        .map_err(|e| LoadError::Signaling(format!("websocket handshake: {e}")))?;
    Ok(ws)
}

/// The `join` a client sends first.
pub fn join_message(token: &str, room: &str, name: &str, role: Role) -> String {
    ClientMessage::Join {
        token: token.to_owned(),
        room: room.to_owned(),
        display_name: name.to_owned(),
        role,
        protocol_version: PROTOCOL_VERSION,
        subscribe: true,
    }
    .encode()
}

/// What every group and the conductor share.
#[derive(Debug)]
pub struct Shared {
    /// Students whose `joined` arrived.
    pub joined: AtomicUsize,
    /// Students whose connection could not be opened.
    pub connect_failed: AtomicUsize,
    /// Students whose connection ended.
    pub closed: AtomicUsize,
    /// `error` messages received.
    pub errors: AtomicUsize,
    /// The first few problems, for the report.
    pub problems: Mutex<Vec<String>>,
    /// The teacher's action being measured (0: none): the next `timer`, `settings` or
    /// `rollCall` event a student receives is its arrival.
    pub action: AtomicU32,
    /// Students that saw the current action.
    pub notified: AtomicUsize,
    /// Roll-call answers sent.
    pub answers_sent: AtomicUsize,
    /// When the latest answer left, microseconds after `epoch`.
    pub last_answer_us: AtomicU64,
    /// The bench's time origin.
    pub epoch: Instant,
}

impl Shared {
    /// Nothing seen yet.
    pub fn new() -> Self {
        Shared {
            joined: AtomicUsize::new(0),
            connect_failed: AtomicUsize::new(0),
            closed: AtomicUsize::new(0),
            errors: AtomicUsize::new(0),
            problems: Mutex::new(Vec::new()),
            action: AtomicU32::new(0),
            notified: AtomicUsize::new(0),
            answers_sent: AtomicUsize::new(0),
            last_answer_us: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// Keeps the first few problems' words.
    pub fn problem(&self, what: String) {
        let mut p = self.problems.lock().unwrap_or_else(|p| p.into_inner());
        if p.len() < 10 {
            p.push(what);
        }
    }

    fn micros(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_micros()).unwrap_or(u64::MAX)
    }

    /// When the latest roll-call answer left.
    pub fn last_answer(&self) -> Option<Instant> {
        match self.last_answer_us.load(Ordering::Relaxed) {
            0 => None,
            us => Some(self.epoch + std::time::Duration::from_micros(us)),
        }
    }
}

impl Default for Shared {
    fn default() -> Self {
        Self::new()
    }
}

/// What the conductor asks of a group.
pub enum Cmd {
    /// A student's websocket, opened and with its `join` sent.
    Add {
        /// Its index in the group.
        local: u32,
        /// The websocket.
        ws: Box<Ws>,
        /// When its connection was started.
        started: Instant,
        /// Bytes of the `join` it sent.
        join_len: usize,
    },
    /// The student sends a chat message to everyone.
    Chat {
        /// Its index in the group.
        local: u32,
        /// The text.
        text: Arc<str>,
    },
    /// Start counting traffic afresh (a measurement window begins).
    Reset(oneshot::Sender<()>),
    /// Everything recorded so far.
    Report(oneshot::Sender<Report>),
}

/// What a group recorded.
#[derive(Debug, Default)]
pub struct Report {
    /// Traffic of all its students since the last reset.
    pub traffic: Traffic,
    /// Per student: estimated wire bytes since the last reset.
    pub wire_per_student: Vec<u64>,
    /// Chat messages received in batches since the last reset (history pages excluded).
    pub chat_messages: u64,
    /// Per action: when each student saw it.
    pub arrivals: Vec<(u32, Instant)>,
    /// Connection start to `joined`, per student, ms.
    pub join_ms: Vec<f64>,
}

struct Student {
    tx: SplitSink<Ws, Message>,
    started: Instant,
    joined: bool,
    open: bool,
    last_action: u32,
    answered_roll: u64,
    traffic: Traffic,
}

impl Student {
    async fn send(&mut self, text: String) -> bool {
        let len = text.len();
        match self.tx.send(Message::text(text)).await {
            Ok(()) => {
                self.traffic.sent(len);
                true
            }
            Err(_) => false,
        }
    }
}

type Incoming = (u32, Option<Result<Message, tungstenite::Error>>);

/// Runs one group until its command channel closes.
pub async fn run_group(shared: Arc<Shared>, mut cmds: mpsc::UnboundedReceiver<Cmd>) {
    let mut students: Vec<Option<Student>> = Vec::new();
    let mut streams: SelectAll<BoxStream<'static, Incoming>> = SelectAll::new();
    let mut report = Report::default();
    loop {
        tokio::select! {
            Some((local, item)) = streams.next(), if !streams.is_empty() => {
                let Some(Some(s)) = students.get_mut(local as usize) else { continue };
                on_frame(&shared, s, item, &mut report).await;
            }
            cmd = cmds.recv() => match cmd {
                None => return,
                Some(Cmd::Add { local, ws, started, join_len }) => {
                    let (tx, rx) = (*ws).split();
                    let rx = rx
                        .map(move |m| (local, Some(m)))
                        .chain(stream::once(async move { (local, None) }));
                    streams.push(rx.boxed());
                    let i = local as usize;
                    if students.len() <= i {
                        students.resize_with(i + 1, || None);
                    }
                    let mut traffic = Traffic::default();
                    traffic.sent(join_len);
                    students[i] = Some(Student {
                        tx,
                        started,
                        joined: false,
                        open: true,
                        last_action: 0,
                        answered_roll: 0,
                        traffic,
                    });
                }
                Some(Cmd::Chat { local, text }) => {
                    if let Some(Some(s)) = students.get_mut(local as usize) && s.open {
                        let msg = ClientMessage::Class(ClassRequest::Chat {
                            text: text.to_string(),
                            audience: ChatAudience::Everyone,
                            to: None,
                        });
                        s.send(msg.encode()).await;
                    }
                }
                Some(Cmd::Reset(done)) => {
                    for s in students.iter_mut().flatten() {
                        s.traffic = Traffic::default();
                    }
                    report.chat_messages = 0;
                    let _ = done.send(());
                }
                Some(Cmd::Report(reply)) => {
                    let mut r = Report {
                        chat_messages: report.chat_messages,
                        arrivals: report.arrivals.clone(),
                        join_ms: report.join_ms.clone(),
                        ..Report::default()
                    };
                    for s in students.iter().flatten() {
                        r.traffic.add(&s.traffic);
                        r.wire_per_student.push(s.traffic.wire());
                    }
                    let _ = reply.send(r);
                }
            },
        }
    }
}

/// One frame (or the end) on a student's websocket.
async fn on_frame(
    shared: &Shared,
    s: &mut Student,
    item: Option<Result<Message, tungstenite::Error>>,
    report: &mut Report,
) {
    let text = match item {
        Some(Ok(Message::Text(text))) => text,
        Some(Ok(Message::Ping(p))) => {
            // tungstenite answers with a pong of the same payload.
            s.traffic.received(p.len());
            s.traffic.sent(p.len());
            return;
        }
        Some(Ok(Message::Pong(p) | Message::Binary(p))) => {
            s.traffic.received(p.len());
            return;
        }
        Some(Ok(Message::Frame(_))) => return,
        Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
            if s.open {
                s.open = false;
                shared.closed.fetch_add(1, Ordering::Relaxed);
            }
            return;
        }
    };
    let now = Instant::now();
    s.traffic.received(text.len());
    let Some(p) = Peek::of(text.as_str()) else {
        shared.errors.fetch_add(1, Ordering::Relaxed);
        shared.problem(format!("unreadable server message: {}", text.as_str()));
        return;
    };
    match (p.kind, p.event) {
        ("joined", _) if !s.joined => {
            s.joined = true;
            shared.joined.fetch_add(1, Ordering::Relaxed);
            report
                .join_ms
                .push(now.duration_since(s.started).as_secs_f64() * 1000.0);
        }
        ("class", Some(event @ ("timer" | "settings" | "rollCall"))) => {
            let action = shared.action.load(Ordering::Relaxed);
            if action != 0 && s.last_action != action {
                s.last_action = action;
                report.arrivals.push((action, now));
                shared.notified.fetch_add(1, Ordering::Relaxed);
            }
            if event == "rollCall"
                && p.open == Some(true)
                && let Some(id) = p.roll_call_id
                && s.answered_roll != id
            {
                // "Here", at once: the bench measures the server, not reaction times.
                s.answered_roll = id;
                let answer =
                    ClientMessage::Class(ClassRequest::AnswerRollCall { roll_call_id: id });
                if s.send(answer.encode()).await {
                    shared.answers_sent.fetch_add(1, Ordering::Relaxed);
                    let sent = shared.micros(Instant::now());
                    shared.last_answer_us.fetch_max(sent, Ordering::Relaxed);
                }
            }
        }
        ("class", Some("chat")) if p.history != Some(true) => {
            report.chat_messages += p.messages.map_or(0, |m| m.len() as u64);
        }
        ("error", _) => {
            shared.errors.fetch_add(1, Ordering::Relaxed);
            shared.problem(format!(
                "error {}: {}",
                p.code.unwrap_or("?"),
                p.message.as_deref().unwrap_or("")
            ));
        }
        ("bye", _) => {
            shared.problem(format!("bye: {}", p.reason.as_deref().unwrap_or("")));
        }
        _ => {}
    }
}

/// Opens one student's websocket, sends its `join`, and hands it to its group.
pub async fn connect_student(
    addr: SocketAddr,
    url: Arc<str>,
    join: String,
    local: u32,
    group: mpsc::UnboundedSender<Cmd>,
    shared: Arc<Shared>,
) {
    let started = Instant::now();
    let opened = async {
        let mut ws = open(addr, &url).await?;
        let len = join.len();
        ws.send(Message::text(join))
            .await
            .map_err(|e| LoadError::Signaling(format!("sending join: {e}")))?;
        Ok::<_, LoadError>((ws, len))
    }
    .await;
    match opened {
        Ok((ws, join_len)) => {
            let _ = group.send(Cmd::Add {
                local,
                ws: Box::new(ws),
                started,
                join_len,
            });
        }
        Err(e) => {
            shared.connect_failed.fetch_add(1, Ordering::Relaxed);
            shared.problem(format!("student connection: {e}"));
        }
    }
}
