//! The session task: one websocket at a time, the media pipelines hanging off it, and
//! reconnection when the network drops.
//!
//! A connection ends in one of three ways: we left, the server ended it on purpose (`bye`
//! without `retry`, or a refused join), or it was lost (the socket broke, or `bye` with
//! `retry`: the media transport failed). A lost connection is opened again with backoff for
//! up to [`RECONNECT_FOR`] — the server keeps our place in the class that long — and joins
//! again with the personal token the server gave (or the one we came with). The pipelines
//! are torn down and started afresh each time: the server's side of them is gone too.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use classroom_media::{AudioOutput, LocalSignal, PublishConfig, Publisher, Recorder, Subscriber};
use classroom_protocol::{
    ByeCause, ClassEvent, ClientMessage, ErrorCode, IceCandidate, PROTOCOL_VERSION, ServerMessage,
    Transport,
};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio_tungstenite::tungstenite::Message;
use tracing::{debug, info, warn};

use crate::{ClientError, EndCause, JoinOptions, SessionEvent};

/// How long a lost connection is tried again: the server's grace period for a participant.
pub const RECONNECT_FOR: Duration = Duration::from_secs(30);

/// The longest wait between two reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(4);

/// Error codes after which joining again cannot help.
const FINAL: &[ErrorCode] = &[
    ErrorCode::Unauthorized,
    ErrorCode::Removed,
    ErrorCode::Denied,
    ErrorCode::Expired,
    ErrorCode::Locked,
    ErrorCode::UnsupportedVersion,
    ErrorCode::NotFound,
    ErrorCode::RateLimited,
];

/// What the [`crate::Session`] handle asks of the task.
#[derive(Debug)]
pub(crate) enum Control {
    /// Send a message as it is.
    Send(ClientMessage),
    /// Start publishing with this configuration (now, and again after a reconnect), or stop.
    Publish(Option<Box<PublishConfig>>),
    /// Leave the class.
    Leave,
}

/// The pipelines of the current connection, shared with the handle.
#[derive(Clone, Default)]
pub(crate) struct Slots {
    pub subscriber: Arc<Mutex<Option<Arc<Subscriber>>>>,
    pub publisher: Arc<Mutex<Option<Arc<Publisher>>>>,
    /// The recording every subscriber of this session feeds (across reconnects).
    pub recorder: Arc<Mutex<Option<Arc<Recorder>>>>,
}

impl Slots {
    fn set_subscriber(&self, s: Option<Arc<Subscriber>>) {
        if let Some(s) = &s {
            s.set_recorder(self.recorder());
        }
        *self.subscriber.lock().unwrap_or_else(|p| p.into_inner()) = s;
    }

    /// The recording being fed, if any.
    pub fn recorder(&self) -> Option<Arc<Recorder>> {
        self.recorder
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Starts (`Some`) or stops feeding a recording, on the current subscriber and every
    /// later one, and with this session's own microphone while it publishes one.
    pub fn set_recorder(&self, recorder: Option<Arc<Recorder>>) {
        *self.recorder.lock().unwrap_or_else(|p| p.into_inner()) = recorder.clone();
        if let Some(p) = self
            .publisher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            p.set_recorder(recorder.clone());
        }
        if let Some(s) = self
            .subscriber
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            s.set_recorder(recorder);
        }
    }

    fn set_publisher(&self, p: Option<Arc<Publisher>>) {
        if let Some(p) = &p {
            p.set_recorder(self.recorder());
        }
        *self.publisher.lock().unwrap_or_else(|p| p.into_inner()) = p;
    }
}

type Ws = tokio_tungstenite::WebSocketStream<Box<dyn crate::tls::Io>>;

/// Opens the websocket of `opts`: TLS as the URL and the pin say (`ws://` only to loopback
/// unless `allow_insecure`).
pub(crate) async fn open(opts: &JoinOptions) -> Result<Ws, ClientError> {
    let target = crate::tls::Target::parse(&opts.url)?;
    let io = crate::tls::open(&target, opts.pin, &opts.extra_roots, opts.allow_insecure).await?;
    let (ws, _) = tokio_tungstenite::client_async(opts.url.as_str(), io).await?;
    Ok(ws)
}

/// How one connection ended.
enum Exit {
    /// We left.
    Left,
    /// The server ended it on purpose, or refused us: do not come back.
    Ended(String, EndCause),
    /// Lost: try again.
    Lost(String),
}

/// Why the server ended a session: the `bye`'s cause, or the refusal it follows (the code
/// of the error just before it; from a server that names no cause, only a refusal joining
/// again cannot help counts, as a stale one may precede any `bye`).
fn end_cause(cause: Option<ByeCause>, refusal: Option<ErrorCode>) -> EndCause {
    match (cause, refusal) {
        (Some(ByeCause::Refused), Some(code)) => EndCause::Refused(code),
        (None, Some(code)) if FINAL.contains(&code) => EndCause::Refused(code),
        (cause, _) => EndCause::Server(cause),
    }
}

/// What survives from one connection to the next.
struct Carry {
    /// The token to join with: the personal token the server issued, once it did.
    token: String,
    /// The room, once known (a code join learns it from `joined`).
    room: String,
    /// Whether we were admitted on some connection already (a refusal of a rejoin after
    /// that is final too, but a drop before the first admission is not retried).
    admitted: bool,
    /// What to publish, if anything.
    publish: Option<PublishConfig>,
}

/// The session task: runs connections until we leave, the server ends the session, or a
/// lost connection cannot be restored within [`RECONNECT_FOR`].
pub(crate) async fn run(
    opts: JoinOptions,
    first: Ws,
    events: UnboundedSender<SessionEvent>,
    mut control: UnboundedReceiver<Control>,
    slots: Slots,
) {
    let local_ips = crate::loopback_ips(&opts.url);
    let mut publish = opts.publish.clone();
    if let Some(cfg) = publish.as_mut()
        && cfg.local_ips.is_empty()
    {
        cfg.local_ips = local_ips.clone();
    }
    let mut carry = Carry {
        token: opts.token.clone(),
        room: opts.room.clone(),
        admitted: false,
        publish,
    };
    let mut ws = Some(first);
    let mut first_join = true;
    let (reason, cause) = loop {
        let Some(socket) = ws.take() else {
            break ("no connection".to_owned(), EndCause::Lost);
        };
        let exit = serve(
            &opts,
            &local_ips,
            socket,
            first_join,
            &mut carry,
            &events,
            &mut control,
            &slots,
        )
        .await;
        first_join = false;
        slots.set_publisher(None);
        slots.set_subscriber(None);
        match exit {
            Exit::Left => break ("left".to_owned(), EndCause::Left),
            Exit::Ended(reason, cause) => break (reason, cause),
            Exit::Lost(reason) if !carry.admitted => break (reason, EndCause::Lost),
            Exit::Lost(reason) => {
                info!(%reason, "connection lost; reconnecting");
                match reconnect(&opts, &reason, &events, &mut control).await {
                    Ok(Some(socket)) => ws = Some(socket),
                    Ok(None) => break ("left".to_owned(), EndCause::Left),
                    Err(why) => break (why, EndCause::Lost),
                }
            }
        }
    };
    let _ = events.send(SessionEvent::Closed { reason, cause });
}

/// Opens the websocket again with backoff until it works, we leave (`Ok(None)`), or
/// [`RECONNECT_FOR`] has passed (`Err`).
async fn reconnect(
    opts: &JoinOptions,
    reason: &str,
    events: &UnboundedSender<SessionEvent>,
    control: &mut UnboundedReceiver<Control>,
) -> Result<Option<Ws>, String> {
    let deadline = Instant::now() + RECONNECT_FOR;
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let _ = events.send(SessionEvent::Reconnecting {
            attempt,
            reason: reason.to_owned(),
        });
        // 250 ms, 500 ms, 1 s, 2 s, then every 4 s.
        let wait = Duration::from_millis(250)
            .saturating_mul(1 << attempt.saturating_sub(1).min(4))
            .min(MAX_BACKOFF);
        let sleep = tokio::time::sleep(wait);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => break,
                c = control.recv() => match c {
                    Some(Control::Leave) | None => return Ok(None),
                    // Requests made while disconnected are dropped: their answers would
                    // describe a class the next `State` replaces anyway.
                    Some(_) => {}
                },
            }
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "could not reconnect within {} s: {reason}",
                RECONNECT_FOR.as_secs()
            ));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, open(opts)).await {
            Ok(Ok(ws)) => return Ok(Some(ws)),
            Ok(Err(e)) => debug!(attempt, "reconnect failed: {e}"),
            Err(_) => {}
        }
    }
}

/// The first message on a connection.
fn join_message(opts: &JoinOptions, carry: &Carry, first: bool) -> ClientMessage {
    match (&opts.code, first) {
        (Some(code), true) => ClientMessage::JoinCode {
            code: code.clone(),
            display_name: opts.display_name.clone(),
            protocol_version: PROTOCOL_VERSION,
            subscribe: opts.subscribe,
        },
        _ => ClientMessage::Join {
            token: carry.token.clone(),
            room: carry.room.clone(),
            display_name: opts.display_name.clone(),
            role: opts.role,
            protocol_version: PROTOCOL_VERSION,
            subscribe: opts.subscribe,
        },
    }
}

/// Runs one connection: join, then relay between the server, the pipelines and the handle.
#[allow(clippy::too_many_arguments)]
async fn serve(
    opts: &JoinOptions,
    local_ips: &[std::net::IpAddr],
    ws: Ws,
    first: bool,
    carry: &mut Carry,
    events: &UnboundedSender<SessionEvent>,
    control: &mut UnboundedReceiver<Control>,
    slots: &Slots,
) -> Exit {
    let (mut sink, mut stream) = ws.split();
    if let Err(e) = sink
        .send(Message::text(join_message(opts, carry, first).encode()))
        .await
    {
        return Exit::Lost(format!("signaling failed: {e}"));
    }
    let (pub_tx, mut pub_rx) = mpsc::unbounded_channel::<LocalSignal>();
    let (sub_tx, mut sub_rx) = mpsc::unbounded_channel::<LocalSignal>();
    let mut publisher: Option<Arc<Publisher>> = None;
    let mut subscriber: Option<Arc<Subscriber>> = None;
    let mut joined = false;
    let mut simulcast = Vec::new();
    // The last refusal, which explains a `bye` that follows it.
    let mut refusal: Option<ErrorCode> = None;
    loop {
        tokio::select! {
            frame = stream.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(f))) => {
                        let why = f.map(|f| f.reason.to_string()).filter(|r| !r.is_empty());
                        return Exit::Lost(why.unwrap_or_else(|| "closed by the server".into()));
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Exit::Lost(format!("signaling failed: {e}")),
                    None => return Exit::Lost("connection closed".into()),
                };
                let msg = match ServerMessage::decode(text.as_str()) {
                    Ok(m) => m,
                    Err(e) => {
                        warn!("ignoring server message: {e}");
                        continue;
                    }
                };
                match msg {
                    ServerMessage::Joined { participant_id, simulcast: layers, identity, token, room, .. } => {
                        joined = true;
                        let resumed = carry.admitted;
                        carry.admitted = true;
                        carry.room = room.clone();
                        if let Some(t) = &token {
                            carry.token = t.clone();
                        }
                        simulcast = layers;
                        let _ = events.send(if resumed {
                            SessionEvent::Reconnected { participant_id: participant_id.clone() }
                        } else {
                            SessionEvent::Joined { participant_id: participant_id.clone(), room, identity, token }
                        });
                        // The speaker's echo probe must exist before the microphone's echo
                        // canceller starts, so a participant who plays audio starts the
                        // (idle) subscriber before publishing.
                        if opts.subscribe && opts.play_audio && subscriber.is_none() {
                            match start_subscriber(opts, &sub_tx, local_ips) {
                                Ok(s) => {
                                    slots.set_subscriber(Some(s.clone()));
                                    subscriber = Some(s);
                                }
                                Err(e) => { let _ = events.send(SessionEvent::MediaFailed(e.to_string())); }
                            }
                        }
                        if let Some(cfg) = carry.publish.as_ref() {
                            publisher = start_publisher(cfg, &simulcast, &pub_tx, events, slots);
                        }
                    }
                    ServerMessage::Answer { sdp } => {
                        if let Some(p) = &publisher && let Err(e) = p.apply_answer(&sdp) {
                            let _ = events.send(SessionEvent::MediaFailed(e.to_string()));
                        }
                    }
                    ServerMessage::Offer { sdp, tracks } => {
                        if subscriber.is_none() {
                            match start_subscriber(opts, &sub_tx, local_ips) {
                                Ok(s) => {
                                    slots.set_subscriber(Some(s.clone()));
                                    subscriber = Some(s);
                                }
                                Err(e) => { let _ = events.send(SessionEvent::MediaFailed(e.to_string())); continue; }
                            }
                        }
                        if let Some(s) = &subscriber && let Err(e) = s.handle_offer(&sdp, &tracks) {
                            let _ = events.send(SessionEvent::MediaFailed(e.to_string()));
                        }
                    }
                    ServerMessage::IceCandidate(c) => match c.transport {
                        Transport::Publish => if let Some(p) = &publisher { p.add_remote_candidate(c.sdp_m_line_index, &c.candidate) },
                        Transport::Subscribe => if let Some(s) = &subscriber { s.add_remote_candidate(c.sdp_m_line_index, &c.candidate) },
                    },
                    ServerMessage::TrackPublished { track } => { let _ = events.send(SessionEvent::TrackPublished(track)); }
                    ServerMessage::TrackUnpublished { track_id } => { let _ = events.send(SessionEvent::TrackUnpublished(track_id)); }
                    ServerMessage::Error { code, message } => {
                        refusal = Some(code);
                        let _ = events.send(SessionEvent::ServerError { code, message: message.clone() });
                        // A join refused for good ends the session here.
                        if !joined && FINAL.contains(&code) {
                            return Exit::Ended(message, EndCause::Refused(code));
                        }
                    }
                    ServerMessage::Bye { reason, retry, cause } => {
                        let final_code = refusal.is_some_and(|c| FINAL.contains(&c));
                        return if retry && !final_code { Exit::Lost(reason) } else { Exit::Ended(reason, end_cause(cause, refusal)) };
                    }
                    ServerMessage::Pong { .. } => {}
                    ServerMessage::ActiveSpeaker { participant_id, level_dbov, .. } => { let _ = events.send(SessionEvent::ActiveSpeaker { participant_id, level_dbov }); }
                    ServerMessage::Class(ev) => {
                        if let ClassEvent::You(you) = &ev {
                            debug!(?you, "our standing changed");
                        }
                        let _ = events.send(SessionEvent::Class(Box::new(ev)));
                    }
                    other => debug!("unhandled server message {other:?}"),
                }
            }
            Some(sig) = pub_rx.recv() => {
                let msg = match sig {
                    LocalSignal::Offer { sdp, tracks } => ClientMessage::Offer { sdp, tracks },
                    LocalSignal::Candidate { mline, candidate } => ClientMessage::IceCandidate(IceCandidate { transport: Transport::Publish, candidate, sdp_m_line_index: mline }),
                    LocalSignal::Failed { message } => { let _ = events.send(SessionEvent::MediaFailed(message)); continue; }
                    LocalSignal::TrackFailed { source, message } => { let _ = events.send(SessionEvent::TrackFailed { source, message }); continue; }
                    LocalSignal::TrackRecovered { source } => { let _ = events.send(SessionEvent::TrackRecovered(source)); continue; }
                    _ => continue,
                };
                if let Err(e) = sink.send(Message::text(msg.encode())).await {
                    return Exit::Lost(format!("signaling send failed: {e}"));
                }
            }
            Some(sig) = sub_rx.recv() => {
                let msg = match sig {
                    LocalSignal::Answer { sdp } => ClientMessage::Answer { sdp },
                    LocalSignal::Candidate { mline, candidate } => ClientMessage::IceCandidate(IceCandidate { transport: Transport::Subscribe, candidate, sdp_m_line_index: mline }),
                    LocalSignal::Failed { message } => { let _ = events.send(SessionEvent::MediaFailed(message)); continue; }
                    _ => continue,
                };
                if let Err(e) = sink.send(Message::text(msg.encode())).await {
                    return Exit::Lost(format!("signaling send failed: {e}"));
                }
            }
            c = control.recv() => match c {
                Some(Control::Send(msg)) => {
                    if let Err(e) = sink.send(Message::text(msg.encode())).await {
                        return Exit::Lost(format!("signaling send failed: {e}"));
                    }
                }
                Some(Control::Publish(cfg)) => {
                    let mut cfg = cfg.map(|c| *c);
                    if let Some(c) = cfg.as_mut() && c.local_ips.is_empty() {
                        c.local_ips = local_ips.to_vec();
                    }
                    // Whatever was published stops first: a new stage appearance is a fresh
                    // publish transport on the server too.
                    slots.set_publisher(None);
                    publisher = None;
                    carry.publish = cfg;
                    if joined && let Some(c) = carry.publish.as_ref() {
                        publisher = start_publisher(c, &simulcast, &pub_tx, events, slots);
                    }
                }
                Some(Control::Leave) | None => {
                    let _ = sink.send(Message::text(ClientMessage::Leave.encode())).await;
                    let _ = sink.close().await;
                    return Exit::Left;
                }
            },
        }
    }
}

/// Starts the publish pipeline; a failure is reported as an event and nothing is published.
fn start_publisher(
    cfg: &PublishConfig,
    simulcast: &[classroom_protocol::SimulcastLayer],
    signals: &UnboundedSender<LocalSignal>,
    events: &UnboundedSender<SessionEvent>,
    slots: &Slots,
) -> Option<Arc<Publisher>> {
    let mut cfg = cfg.clone();
    // The server decides whether the camera goes out as layers.
    cfg.simulcast = simulcast.to_vec();
    match Publisher::start(&cfg, signals.clone()) {
        Ok(p) => {
            let p = Arc::new(p);
            slots.set_publisher(Some(p.clone()));
            Some(p)
        }
        Err(e) => {
            let _ = events.send(SessionEvent::MediaFailed(e.to_string()));
            None
        }
    }
}

/// The subscriber for `opts`: playing on the chosen speaker when it plays audio at all.
fn start_subscriber(
    opts: &JoinOptions,
    signals: &UnboundedSender<LocalSignal>,
    local_ips: &[std::net::IpAddr],
) -> Result<Arc<Subscriber>, classroom_media::MediaError> {
    let output = match (&opts.speaker, opts.play_audio) {
        (_, false) => AudioOutput::None,
        (None, true) => AudioOutput::Default,
        (Some(id), true) => AudioOutput::Device { id: id.clone() },
    };
    Subscriber::start_with_output(signals.clone(), opts.frame_sink.clone(), output, local_ips)
        .map(Arc::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sessions_end_is_the_byes_cause_or_the_refusal_it_follows() {
        // The server names the cause.
        assert_eq!(
            end_cause(Some(ByeCause::ClassEnded), None),
            EndCause::Server(Some(ByeCause::ClassEnded))
        );
        // A stale refusal (a chat message refused earlier) does not explain a shutdown.
        assert_eq!(
            end_cause(Some(ByeCause::ServerStopped), Some(ErrorCode::RateLimited)),
            EndCause::Server(Some(ByeCause::ServerStopped))
        );
        // Refused: the error before the bye says which.
        assert_eq!(
            end_cause(Some(ByeCause::Refused), Some(ErrorCode::Removed)),
            EndCause::Refused(ErrorCode::Removed)
        );
        // A server that names no cause: only a refusal joining again cannot help counts.
        assert_eq!(
            end_cause(None, Some(ErrorCode::Expired)),
            EndCause::Refused(ErrorCode::Expired)
        );
        assert_eq!(
            end_cause(None, Some(ErrorCode::Invalid)),
            EndCause::Server(None)
        );
        assert_eq!(end_cause(None, None), EndCause::Server(None));
    }
}
