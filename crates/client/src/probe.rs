//! How well the class server can be reached, before joining: the same signaling connection a
//! join opens (TCP, TLS with the invite's pin, the websocket handshake to the same URL), then
//! a few round trips of websocket pings over it. Nothing is joined; the connection is closed
//! with a normal close frame.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::ClientError;

/// How long the whole probe may take before it counts as "cannot reach".
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(8);

/// What one probe measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// From the first TCP packet to the websocket open (TLS included), in milliseconds.
    pub connect_ms: f64,
    /// Each ping's round trip over the open websocket, in milliseconds.
    pub round_trips_ms: Vec<f64>,
    /// Whether the connection was encrypted (`wss://`).
    pub secure: bool,
}

impl Probe {
    /// The middle round trip (the connect time when no ping came back).
    pub fn median_ms(&self) -> f64 {
        let mut v = self.round_trips_ms.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(self.connect_ms)
    }

    /// The spread of the round trips: slowest minus fastest.
    pub fn jitter_ms(&self) -> f64 {
        let min = self
            .round_trips_ms
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        let max = self.round_trips_ms.iter().copied().fold(0.0, f64::max);
        if min.is_finite() { max - min } else { 0.0 }
    }
}

/// Opens the signaling connection to `url` as a join would (`pin`: the invite's certificate
/// fingerprint; `ws://` only to loopback unless `allow_insecure`) and times `rounds` pings.
pub async fn probe(
    url: &str,
    pin: Option<[u8; 32]>,
    allow_insecure: bool,
    rounds: usize,
) -> Result<Probe, ClientError> {
    match tokio::time::timeout(PROBE_TIMEOUT, run(url, pin, allow_insecure, rounds)).await {
        Ok(result) => result,
        Err(_) => Err(ClientError::Connect(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no answer within {} s", PROBE_TIMEOUT.as_secs()),
        ))),
    }
}

async fn run(
    url: &str,
    pin: Option<[u8; 32]>,
    allow_insecure: bool,
    rounds: usize,
) -> Result<Probe, ClientError> {
    let target = crate::tls::Target::parse(url)?;
    let started = Instant::now();
    let io = crate::tls::open(&target, pin, &[], allow_insecure).await?;
    let (mut ws, _) = tokio_tungstenite::client_async(url, io).await?;
    let connect_ms = ms(started.elapsed());
    let mut round_trips_ms = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let payload = format!("probe-{i}").into_bytes();
        let sent = Instant::now();
        ws.send(Message::Ping(payload.clone().into())).await?;
        // Anything else the server sends before the pong (it sends nothing before a join)
        // is read past.
        loop {
            match ws.next().await {
                Some(Ok(Message::Pong(p))) if p.as_ref() == payload.as_slice() => {
                    round_trips_ms.push(ms(sent.elapsed()));
                    break;
                }
                Some(Ok(Message::Close(_))) | None => {
                    return Err(ClientError::Signaling(
                        tokio_tungstenite::tungstenite::Error::ConnectionClosed,
                    ));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
            }
        }
    }
    let _ = ws
        .close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "connection check".into(),
        }))
        .await;
    Ok(Probe {
        connect_ms,
        round_trips_ms,
        secure: target.secure,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_jitter_of_the_round_trips() {
        let p = Probe {
            connect_ms: 9.0,
            round_trips_ms: vec![12.0, 3.0, 5.0, 40.0, 4.0],
            secure: false,
        };
        assert_eq!(p.median_ms(), 5.0);
        assert_eq!(p.jitter_ms(), 37.0);
        let none = Probe {
            round_trips_ms: vec![],
            ..p
        };
        assert_eq!(none.median_ms(), 9.0);
        assert_eq!(none.jitter_ms(), 0.0);
    }

    #[tokio::test]
    async fn nothing_listening_is_a_connect_error() {
        // A port taken and released: nothing listens there now.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("test setup")
            .local_addr()
            .expect("test setup")
            .port();
        let err = probe(&format!("ws://127.0.0.1:{port}/ws"), None, false, 3)
            .await
            .expect_err("an error");
        assert!(matches!(err, ClientError::Connect(_)), "{err}");
    }

    #[tokio::test]
    async fn cleartext_beyond_this_computer_is_refused_before_connecting() {
        let err = probe("ws://192.0.2.1:47800/ws", None, false, 3)
            .await
            .expect_err("an error");
        assert!(matches!(err, ClientError::Insecure { .. }), "{err}");
    }
}
