//! Byte accounting for signaling: what a websocket frame costs on the wire, and a cheap
//! look at a server message that finds what the bench needs without building it.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::IgnoredAny;

/// IPv4 (20 B) plus TCP with the timestamp option Linux sends by default (20 + 12 B).
pub const TCP_IP_HEADER_BYTES: u64 = 52;

/// The websocket header of a frame carrying `len` payload bytes (RFC 6455 5.2): 2 bytes,
/// plus 2 or 8 for the extended length, plus the 4-byte mask key on frames from a client.
pub fn ws_header_bytes(len: usize, from_client: bool) -> u64 {
    let base = if len < 126 {
        2
    } else if len <= 0xffff {
        4
    } else {
        10
    };
    base + if from_client { 4 } else { 0 }
}

/// Signaling traffic of one or more connections, both directions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Traffic {
    /// Frames received (text and control).
    pub rx_frames: u64,
    /// Payload bytes received.
    pub rx_payload: u64,
    /// Websocket header bytes of the frames received.
    pub rx_ws_header: u64,
    /// Frames sent (text and control, pongs included).
    pub tx_frames: u64,
    /// Payload bytes sent.
    pub tx_payload: u64,
    /// Websocket header bytes of the frames sent (mask key included).
    pub tx_ws_header: u64,
}

impl Traffic {
    /// One frame of `len` payload bytes from the server.
    pub fn received(&mut self, len: usize) {
        self.rx_frames += 1;
        self.rx_payload += len as u64;
        self.rx_ws_header += ws_header_bytes(len, false);
    }

    /// One frame of `len` payload bytes to the server.
    pub fn sent(&mut self, len: usize) {
        self.tx_frames += 1;
        self.tx_payload += len as u64;
        self.tx_ws_header += ws_header_bytes(len, true);
    }

    /// Payload bytes, both directions.
    pub fn payload(&self) -> u64 {
        self.rx_payload + self.tx_payload
    }

    /// Estimated bytes on the wire, both directions: payload, websocket headers, and per
    /// frame one TCP segment of its own plus one bare ACK from the other side, each with
    /// [`TCP_IP_HEADER_BYTES`]. Link-layer framing (Ethernet) is not counted. An estimate:
    /// frames written together can share a segment, and delayed ACKs can cover two.
    pub fn wire(&self) -> u64 {
        let frames = self.rx_frames + self.tx_frames;
        self.payload() + self.rx_ws_header + self.tx_ws_header + frames * 2 * TCP_IP_HEADER_BYTES
    }

    /// Adds another's counts.
    pub fn add(&mut self, other: &Traffic) {
        self.rx_frames += other.rx_frames;
        self.rx_payload += other.rx_payload;
        self.rx_ws_header += other.rx_ws_header;
        self.tx_frames += other.tx_frames;
        self.tx_payload += other.tx_payload;
        self.tx_ws_header += other.tx_ws_header;
    }
}

/// The fields of a server message the students act on, read without allocating: the tags,
/// a roll call's id and state, how many messages a chat batch carries, an error's code.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Peek<'a> {
    /// The message's `type`.
    #[serde(rename = "type", borrow)]
    pub kind: &'a str,
    /// A class message's `event`.
    #[serde(default, borrow)]
    pub event: Option<&'a str>,
    /// `rollCall`: which.
    #[serde(default)]
    pub roll_call_id: Option<u64>,
    /// `rollCall`: still taking answers.
    #[serde(default)]
    pub open: Option<bool>,
    /// `chat`: the messages, only counted.
    #[serde(default)]
    pub messages: Option<Vec<IgnoredAny>>,
    /// `chat`: a history page rather than new messages.
    #[serde(default)]
    pub history: Option<bool>,
    /// `error`: the code.
    #[serde(default, borrow)]
    pub code: Option<&'a str>,
    /// `error` and `bye`: words.
    #[serde(default, borrow)]
    pub message: Option<Cow<'a, str>>,
    /// `bye`: why.
    #[serde(default, borrow)]
    pub reason: Option<Cow<'a, str>>,
}

impl<'a> Peek<'a> {
    /// Reads `text`; `None` when it is not a server message at all.
    pub fn of(text: &'a str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use classroom_protocol::{
        ChatAudience, ChatMessage, ClassEvent, ErrorCode, Role, RollCallInfo, ServerMessage,
    };

    #[test]
    fn websocket_headers_follow_rfc_6455() {
        assert_eq!(ws_header_bytes(0, false), 2);
        assert_eq!(ws_header_bytes(125, false), 2);
        assert_eq!(ws_header_bytes(126, false), 4);
        assert_eq!(ws_header_bytes(65_535, false), 4);
        assert_eq!(ws_header_bytes(65_536, false), 10);
        assert_eq!(ws_header_bytes(10, true), 6);
        let mut t = Traffic::default();
        t.received(200);
        t.sent(50);
        assert_eq!(t.payload(), 250);
        assert_eq!(t.wire(), 250 + 4 + 6 + 2 * 2 * TCP_IP_HEADER_BYTES);
    }

    #[test]
    fn peeks_at_real_server_messages() {
        let roll = ServerMessage::Class(ClassEvent::RollCall(RollCallInfo {
            roll_call_id: 7,
            deadline_ms: 1,
            open: true,
            answered: false,
        }))
        .encode();
        let p = Peek::of(&roll).expect("roll call");
        assert_eq!((p.kind, p.event), ("class", Some("rollCall")));
        assert_eq!((p.roll_call_id, p.open), (Some(7), Some(true)));
        let msg = ChatMessage {
            id: 1,
            from: "p2".into(),
            name: "A \"quoted\" name".into(),
            role: Role::Student,
            audience: ChatAudience::Everyone,
            to: None,
            text: "héllo\nthere".into(),
            at_ms: None,
        };
        let chat = ServerMessage::Class(ClassEvent::Chat {
            messages: vec![msg.clone(), msg],
            skipped: 3,
            history: false,
        })
        .encode();
        let p = Peek::of(&chat).expect("chat");
        assert_eq!(p.event, Some("chat"));
        assert_eq!(p.messages.map(|m| m.len()), Some(2));
        assert_eq!(p.history, None);
        let err = ServerMessage::error(ErrorCode::RateLimited, "slow \"down\"").encode();
        let p = Peek::of(&err).expect("error");
        assert_eq!((p.kind, p.code), ("error", Some("rateLimited")));
        assert_eq!(p.message.as_deref(), Some("slow \"down\""));
        assert!(Peek::of("not json").is_none());
    }
}
