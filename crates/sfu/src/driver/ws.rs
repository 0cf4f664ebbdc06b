//! One signaling client's websocket: messages in (rate-limited, decoded) to the core, the
//! core's messages out, pings, and every way it ends — the client closes, it does not join
//! in time, it goes silent, it floods, or the core closes it — with `bye` and a close frame
//! where the client can still be told.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use classroom_protocol::{ByeCause, ClientMessage, ErrorCode, MAX_MESSAGE_BYTES, ServerMessage};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};
use tracing::debug;

use super::ConnEvent;
use super::accept::Slot;
use super::rate::Bucket;
use crate::core::{ConnId, Limits};
use crate::metrics::{Limit, Metrics, Timeout};

/// What goes out on one websocket: the text of one frame, already encoded (a broadcast once
/// for everyone it goes to). A queue slot is a `Bytes` and a flag (40 bytes), not a
/// `ServerMessage`: tokio allocates a queue's slots 32 at a time, and with the message inline
/// that block was 6.7 KiB per connection (bench control).
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    /// The frame's text.
    pub text: Utf8Bytes,
    /// It answers a join (`joined`, or the class's word to someone waiting in the lobby),
    /// which meets the join deadline.
    pub answers_join: bool,
}

impl Outgoing {
    /// Encodes `msg` for the queue.
    pub(crate) fn of(msg: &ServerMessage) -> Self {
        Self {
            text: Utf8Bytes::from(msg.encode()),
            answers_join: matches!(msg, ServerMessage::Joined { .. } | ServerMessage::Class(_)),
        }
    }
}

/// The driver's end of one websocket: its outgoing queue, and how to close it.
#[derive(Debug)]
pub(crate) struct ConnHandle {
    /// Messages for the client, in order.
    pub tx: mpsc::Sender<Outgoing>,
    /// Closes the websocket once what is queued (the core's `bye`) is sent.
    pub close: oneshot::Sender<CloseFrame>,
}

/// Frames up to this size are read whole before the message limit refuses them, so the
/// socket is drained and the peer receives the error and the close frame instead of a TCP
/// reset; anything larger is cut off at the header. Bounds per-connection memory either way.
const MAX_FRAME_BYTES: usize = 1024 * 1024;

/// How long the close handshake may take after the close frame is sent.
const CLOSE_LINGER: Duration = Duration::from_secs(1);

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

/// How a websocket ends on the server's side: a `bye` (if the client is to be told why in
/// the protocol) and the close frame.
struct Ending {
    bye: Option<String>,
    /// The client should come back (it went quiet, perhaps its network dropped).
    retry: bool,
    frame: CloseFrame,
}

fn ending(bye: Option<&str>, code: CloseCode, reason: &str) -> Option<Ending> {
    Some(Ending {
        bye: bye.map(str::to_owned),
        retry: code == CloseCode::Away,
        frame: CloseFrame {
            code,
            reason: reason.to_owned().into(),
        },
    })
}

/// Everything the websocket task needs besides the socket.
pub(crate) struct WsContext {
    pub id: ConnId,
    pub peer: SocketAddr,
    pub events: mpsc::Sender<ConnEvent>,
    pub metrics: Arc<Metrics>,
    pub limits: Arc<Limits>,
    /// Held until the websocket ends: the connection counts against its source's limit.
    pub slot: Arc<Slot>,
}

/// Runs one signaling client's websocket (already upgraded) until it closes.
pub(crate) async fn serve_websocket<S>(cx: WsContext, mut ws: WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let WsContext {
        id,
        peer,
        events,
        metrics,
        limits,
        slot: _slot,
    } = cx;
    let (tx, mut rx) = mpsc::channel::<Outgoing>(limits.outgoing_queue.max(1));
    // Errors found while reading go out on the same queue, so they stay in order with the
    // core's replies.
    let local_tx = tx.clone();
    let (close_tx, mut close_rx) = oneshot::channel::<CloseFrame>();
    let handle = ConnHandle {
        tx,
        close: close_tx,
    };
    if events
        .send(ConnEvent::Open(id, handle, peer))
        .await
        .is_err()
    {
        return;
    }
    let start = Instant::now();
    let far = |d: Duration| {
        start
            .checked_add(d)
            .unwrap_or(start + Duration::from_secs(86_400))
    };
    let join_deadline = far(limits.join_timeout);
    let mut joined = false;
    let mut last_heard = start;
    let mut ping = tokio::time::interval_at(far(limits.ping_interval), limits.ping_interval);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut bucket = Bucket::new(limits.messages_per_second, limits.message_burst, start);
    let mut refused_in_a_row = 0u32;
    let write_timeout = limits.idle_timeout;
    let end: Option<Ending> = loop {
        let idle_at = last_heard
            .checked_add(limits.idle_timeout)
            .unwrap_or_else(|| far(limits.idle_timeout));
        tokio::select! {
            frame = &mut close_rx => {
                // The core closed this connection; its `bye` is queued.
                break Some(Ending {
                    bye: None,
                    retry: false,
                    frame: frame.unwrap_or(CloseFrame {
                        code: CloseCode::Normal,
                        reason: "closed by the server".into(),
                    }),
                });
            }
            msg = rx.recv() => {
                let Some(msg) = msg else { break None };
                // The join deadline is met by `joined`, or by the lobby's first word.
                joined |= msg.answers_join;
                let frame = Message::Text(msg.text);
                if !send(&mut ws, frame, write_timeout, &metrics).await {
                    break None;
                }
            }
            frame = ws.next() => {
                let now = Instant::now();
                last_heard = now;
                let Some(frame) = frame else { break None };
                let counted = matches!(&frame, Ok(Message::Text(_) | Message::Binary(_) | Message::Ping(_)));
                if counted && !bucket.take(now) {
                    metrics.refused(Limit::MessageRate);
                    refused_in_a_row = refused_in_a_row.saturating_add(1);
                    if refused_in_a_row == 1 {
                        let _ = local_tx.try_send(Outgoing::of(&ServerMessage::error(
                            ErrorCode::RateLimited,
                            format!(
                                "more than {} messages per second; messages are being dropped",
                                limits.messages_per_second
                            ),
                        )));
                    }
                    // A client that keeps going after being told is not a client.
                    if refused_in_a_row > limits.message_burst {
                        break ending(
                            Some("too many messages"),
                            CloseCode::Policy,
                            "too many messages",
                        );
                    }
                    continue;
                }
                if counted {
                    refused_in_a_row = 0;
                }
                match frame {
                    Ok(Message::Text(text)) => match ClientMessage::decode(text.as_str()) {
                        Ok(msg) => {
                            if events.send(ConnEvent::Message(id, msg)).await.is_err() {
                                break None;
                            }
                        }
                        Err(e) => {
                            metrics.signaling_error();
                            debug!(%peer, "bad signaling message: {e}");
                            let _ = local_tx.try_send(Outgoing::of(&ServerMessage::error(e.code(), e.to_string())));
                        }
                    },
                    Ok(Message::Binary(_)) => {
                        metrics.signaling_error();
                        let _ = local_tx.try_send(Outgoing::of(&ServerMessage::error(
                            ErrorCode::Malformed,
                            "binary frames are not part of the protocol",
                        )));
                    }
                    Ok(Message::Close(_)) => break None,
                    Ok(_) => {} // ping answered by tungstenite; pong only counts as heard
                    Err(tungstenite::Error::Capacity(e)) => {
                        metrics.signaling_error();
                        metrics.connection_refused();
                        let _ = local_tx.try_send(Outgoing::of(&ServerMessage::error(ErrorCode::TooLarge, e.to_string())));
                        break ending(None, CloseCode::Size, "message too large");
                    }
                    Err(e) => {
                        debug!(%peer, "websocket error: {e}");
                        break None;
                    }
                }
            }
            _ = ping.tick() => {
                if !send(&mut ws, Message::Ping(Default::default()), write_timeout, &metrics).await {
                    break None;
                }
            }
            _ = tokio::time::sleep_until(idle_at) => {
                metrics.timed_out(Timeout::Idle);
                let why = format!("nothing heard for {} s", limits.idle_timeout.as_secs());
                break ending(Some(&why), CloseCode::Away, "idle");
            }
            _ = tokio::time::sleep_until(join_deadline), if !joined => {
                metrics.timed_out(Timeout::Join);
                let why = format!("no join within {} s", limits.join_timeout.as_secs());
                break ending(Some(&why), CloseCode::Policy, "no join");
            }
        }
    };
    // The core forgets the participant (a no-op when the core closed it itself).
    let _ = events.send(ConnEvent::Closed(id)).await;
    let Some(end) = end else {
        return;
    };
    // Flush what is queued (errors, the core's `bye`) so the client learns why.
    while let Ok(msg) = rx.try_recv() {
        let frame = Message::Text(msg.text);
        if !send(&mut ws, frame, write_timeout, &metrics).await {
            return;
        }
    }
    if let Some(reason) = end.bye {
        let bye = ServerMessage::Bye {
            reason,
            retry: end.retry,
            // Gone quiet: lost, come back. Too many messages, or no join: no cause to name.
            cause: end.retry.then_some(ByeCause::Lost),
        };
        if !send(
            &mut ws,
            Message::text(bye.encode()),
            write_timeout,
            &metrics,
        )
        .await
        {
            return;
        }
    }
    if !send(
        &mut ws,
        Message::Close(Some(end.frame)),
        write_timeout,
        &metrics,
    )
    .await
    {
        return;
    }
    // Wait briefly for the client's close frame, then drop the socket either way.
    let _ = tokio::time::timeout(CLOSE_LINGER, async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

/// Sends one frame within `timeout`; false when the connection is unusable (broken, or a
/// client that stopped reading so long that its socket buffer stayed full).
async fn send<S>(
    ws: &mut WebSocketStream<S>,
    msg: Message,
    timeout: Duration,
    metrics: &Metrics,
) -> bool
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    match tokio::time::timeout(timeout, ws.send(msg)).await {
        Ok(Ok(())) => true,
        Ok(Err(_)) => false,
        Err(_) => {
            metrics.timed_out(Timeout::Idle);
            false
        }
    }
}
