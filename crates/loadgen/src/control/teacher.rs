//! The teacher: one websocket that decodes everything it is sent, makes the class requests
//! the bench times, and watches the roll-call tally.

use std::net::SocketAddr;
use std::time::Instant;

use classroom_protocol::{ClassEvent, ClassRequest, ClientMessage, Role, ServerMessage};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;

use super::crowd::{Ws, join_message, open};
use super::traffic::Traffic;
use crate::LoadError;

/// The latest roll-call tally the teacher was shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tally {
    /// Which roll call.
    pub roll_call_id: u64,
    /// Answers counted.
    pub answered: u32,
    /// Students expected.
    pub expected: u32,
    /// When it arrived.
    pub at: Option<Instant>,
    /// Tallies received so far.
    pub count: u32,
}

enum Cmd {
    Send(ClassRequest, oneshot::Sender<Instant>),
    Report(oneshot::Sender<TeacherReport>),
}

/// What the teacher saw.
#[derive(Debug, Clone, Default)]
pub struct TeacherReport {
    /// Its traffic.
    pub traffic: Traffic,
    /// Every roll-call tally: when, and how many had answered.
    pub tallies: Vec<(Instant, u32)>,
    /// Errors the server answered its requests with.
    pub errors: Vec<String>,
}

/// A connected teacher.
pub struct Teacher {
    cmds: mpsc::UnboundedSender<Cmd>,
    /// The latest tally.
    pub tally: watch::Receiver<Tally>,
}

impl Teacher {
    /// Connects and joins as the teacher; returns once `joined` arrived.
    pub async fn join(
        addr: SocketAddr,
        url: &str,
        token: &str,
        room: &str,
    ) -> Result<Teacher, LoadError> {
        let mut ws = open(addr, url).await?;
        let join = join_message(token, room, "Teacher", Role::Teacher);
        let mut report = TeacherReport::default();
        report.traffic.sent(join.len());
        ws.send(Message::text(join))
            .await
            .map_err(|e| LoadError::Signaling(format!("teacher join: {e}")))?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    report.traffic.received(t.len());
                    match ServerMessage::decode(t.as_str()) {
                        Ok(ServerMessage::Joined { .. }) => break,
                        Ok(ServerMessage::Error { code, message }) => {
                            return Err(LoadError::Signaling(format!(
                                "teacher join refused: {code:?}: {message}"
                            )));
                        }
                        _ => {}
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(LoadError::Signaling(format!("teacher: {e}"))),
                None => return Err(LoadError::Signaling("teacher: connection closed".into())),
            }
        }
        let (cmds, rx) = mpsc::unbounded_channel();
        let (tally_tx, tally) = watch::channel(Tally::default());
        tokio::spawn(run(ws, rx, tally_tx, report));
        Ok(Teacher { cmds, tally })
    }

    /// Sends a class request; returns when it was handed to the socket.
    pub async fn request(&self, req: ClassRequest) -> Result<Instant, LoadError> {
        let (tx, rx) = oneshot::channel();
        self.cmds
            .send(Cmd::Send(req, tx))
            .map_err(|_| LoadError::Signaling("teacher connection gone".into()))?;
        rx.await
            .map_err(|_| LoadError::Signaling("teacher connection gone".into()))
    }

    /// What the teacher saw so far.
    pub async fn report(&self) -> TeacherReport {
        let (tx, rx) = oneshot::channel();
        if self.cmds.send(Cmd::Report(tx)).is_err() {
            return TeacherReport::default();
        }
        rx.await.unwrap_or_default()
    }
}

async fn run(
    mut ws: Ws,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    tally: watch::Sender<Tally>,
    mut report: TeacherReport,
) {
    loop {
        tokio::select! {
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(t))) => {
                    let now = Instant::now();
                    report.traffic.received(t.len());
                    match ServerMessage::decode(t.as_str()) {
                        Ok(ServerMessage::Class(ClassEvent::RollCallTally {
                            roll_call_id, answered, expected, ..
                        })) => {
                            report.tallies.push((now, answered));
                            tally.send_modify(|t| {
                                *t = Tally {
                                    roll_call_id,
                                    answered,
                                    expected,
                                    at: Some(now),
                                    count: t.count + 1,
                                };
                            });
                        }
                        Ok(ServerMessage::Error { code, message }) => {
                            tracing::warn!(?code, "teacher's request refused: {message}");
                            report.errors.push(format!("{code:?}: {message}"));
                        }
                        Ok(_) => {}
                        Err(e) => report.errors.push(format!("undecodable: {e}")),
                    }
                }
                Some(Ok(Message::Ping(p))) => {
                    report.traffic.received(p.len());
                    report.traffic.sent(p.len());
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    report.errors.push("teacher connection closed".into());
                    // Keep answering commands so the conductor learns it from the errors.
                    while let Some(cmd) = cmds.recv().await {
                        if let Cmd::Report(reply) = cmd {
                            let _ = reply.send(report.clone());
                        }
                    }
                    return;
                }
            },
            cmd = cmds.recv() => match cmd {
                None => return,
                Some(Cmd::Send(req, sent)) => {
                    let text = ClientMessage::Class(req).encode();
                    let len = text.len();
                    let at = Instant::now();
                    if ws.send(Message::text(text)).await.is_ok() {
                        report.traffic.sent(len);
                        let _ = sent.send(at);
                    }
                }
                Some(Cmd::Report(reply)) => {
                    let _ = reply.send(report.clone());
                }
            },
        }
    }
}
