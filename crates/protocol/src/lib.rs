//! Wire types for classroom signaling.
//!
//! Every message is one JSON object with a `"type"` tag in camelCase, sent as one websocket
//! text frame. The protocol is versioned by *adding* variants and optional fields: a peer
//! that receives a `type` it does not know answers with [`ErrorCode::UnknownMessage`] and
//! carries on. [`PROTOCOL_VERSION`] is sent in [`ClientMessage::Join`] so a server can
//! refuse clients that are too old.
//!
//! Two transports per participant, as in LiveKit: the *publish* transport is offered by the
//! client (it knows what it sends), the *subscribe* transport is offered by the server (it
//! knows what there is to receive). So an `offer` from a client and an `answer` from the
//! server belong to the publish transport, and the reverse pair to the subscribe transport.

use serde::{Deserialize, Serialize};

mod class;
pub use class::*;
pub mod fingerprint;
pub mod lessons;

/// Version of this wire protocol; bumped when a change is not purely additive.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest signaling message accepted, in bytes. Larger frames are refused and the
/// connection closed, so a peer cannot make the server buffer without bound.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Largest message from the server a client decodes, in bytes. The server's messages are
/// bounded by what it holds, and some are large for a large class: the attendance report of
/// a full roster ([`MAX_ROSTER`] students, 10,000 of whom came) is about 4 MB. A client
/// still refuses what no server of ours sends, so it cannot be made to hold without bound.
pub const MAX_SERVER_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// What a participant is in the class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Role {
    /// Runs the class; may publish everything.
    Teacher,
    /// Helps the teacher.
    Assistant,
    /// Attends the class.
    Student,
    /// Watches without taking part (a parent, an inspector, a recorder).
    Observer,
}

/// Which device a track comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Source {
    /// The camera.
    Camera,
    /// The microphone.
    Microphone,
    /// A shared screen or window: its own video track, never mixed with the camera.
    Screen,
}

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum MediaKind {
    /// An audio track.
    Audio,
    /// A video track.
    Video,
}

impl Source {
    /// The media kind this source produces.
    pub fn kind(self) -> MediaKind {
        match self {
            Source::Microphone => MediaKind::Audio,
            Source::Camera | Source::Screen => MediaKind::Video,
        }
    }
}

/// Which of a participant's two peer connections a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Transport {
    /// Client -> server media; the client offers.
    Publish,
    /// Server -> client media; the server offers.
    Subscribe,
}

/// A track the client announces in its publish offer: which m-line carries which source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishTrack {
    /// The m-line's `a=mid` in the offer.
    pub mid: String,
    /// What the track carries.
    pub source: Source,
    /// Simulcast encodings sent on this m-line (`a=rid`), smallest first; empty when the
    /// m-line carries one encoding.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<SimulcastLayer>,
}

impl PublishTrack {
    /// A track with one encoding.
    pub fn new(mid: impl Into<String>, source: Source) -> Self {
        PublishTrack {
            mid: mid.into(),
            source,
            layers: Vec::new(),
        }
    }
}

/// One simulcast encoding of a video track, as the publisher declares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimulcastLayer {
    /// The RTP stream id (`a=rid`) of the encoding.
    pub rid: String,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
}

/// A track somebody in the room publishes, as the server describes it to others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackInfo {
    /// Server-assigned id, unique in the room for the life of the track.
    pub track_id: String,
    /// The publishing participant.
    pub participant_id: String,
    /// What the track carries.
    pub source: Source,
    /// Audio or video.
    pub kind: MediaKind,
}

/// Where a track arrives on the client's subscribe transport.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscribedTrack {
    /// The m-line's `a=mid` in the server's offer.
    pub mid: String,
    /// The track it carries.
    pub track: TrackInfo,
}

/// An ICE candidate, in the form webrtcbin and browsers exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IceCandidate {
    /// Which peer connection.
    pub transport: Transport,
    /// The `candidate:...` attribute value (without `a=`); empty means end of candidates.
    pub candidate: String,
    /// Index of the m-line it belongs to.
    pub sdp_m_line_index: u32,
}

/// Messages from a client to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[non_exhaustive]
pub enum ClientMessage {
    /// First message on a connection: who is joining which room.
    Join {
        /// Access token; the server refuses a join without a valid one.
        token: String,
        /// The room (class) to join.
        room: String,
        /// Name shown to others.
        display_name: String,
        /// The role asked for; the token decides whether it is granted.
        role: Role,
        /// [`PROTOCOL_VERSION`] of the client.
        protocol_version: u32,
        /// Whether the server should send the room's tracks to this client.
        #[serde(default = "default_true")]
        subscribe: bool,
    },
    /// SDP offer for the publish transport, with what each m-line carries.
    Offer {
        /// The SDP text.
        sdp: String,
        /// Which source each sending m-line carries.
        tracks: Vec<PublishTrack>,
    },
    /// SDP answer to the server's subscribe offer.
    Answer {
        /// The SDP text.
        sdp: String,
    },
    /// A trickled ICE candidate.
    IceCandidate(IceCandidate),
    /// Keep-alive; the server answers [`ServerMessage::Pong`].
    Ping {
        /// Echoed back.
        nonce: u64,
    },
    /// The size the client shows a video track at, so the server sends the simulcast layer
    /// that fills it and no larger. A client that never says gets the best layer its
    /// bandwidth carries.
    Viewport {
        /// The track.
        track_id: String,
        /// Width in device pixels; 0 when the track is not shown at all.
        width: u32,
        /// Height in device pixels; 0 when the track is not shown at all.
        height: u32,
    },
    /// The client leaves the class.
    Leave,
    /// First message on a connection, instead of [`ClientMessage::Join`]: join the class a
    /// short class code names. Rate-limited, and always through the lobby.
    JoinCode {
        /// The class code as typed (case and dashes do not matter).
        code: String,
        /// Name shown to others.
        display_name: String,
        /// [`PROTOCOL_VERSION`] of the client.
        protocol_version: u32,
        /// Whether the server should send the room's tracks to this client.
        #[serde(default = "default_true")]
        subscribe: bool,
    },
    /// A request of the class (hands, chat, roll call, polls, staff actions).
    Class(ClassRequest),
}

fn default_true() -> bool {
    true
}

/// Messages from the server to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[non_exhaustive]
pub enum ServerMessage {
    /// The join was accepted.
    Joined {
        /// This client's participant id.
        participant_id: String,
        /// The room joined.
        room: String,
        /// The role granted.
        role: Role,
        /// Tracks already published in the room.
        tracks: Vec<TrackInfo>,
        /// The simulcast layers the server asks this client to send its camera in, smallest
        /// first (a publisher scales each to its camera's aspect ratio and leaves out layers
        /// larger than its camera). Empty: send the camera as one encoding. Servers that do
        /// not know simulcast leave it out, so it defaults to empty.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        simulcast: Vec<SimulcastLayer>,
        /// Who this participant is to the class (the token's subject); stable across
        /// reconnects. Absent from servers that predate classes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        identity: Option<String>,
        /// A personal token to reconnect with, when the join used an invite or a class code
        /// (which are exchanged for one). Absent when the join used a personal token.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
    },
    /// SDP answer for the client's publish offer.
    Answer {
        /// The SDP text.
        sdp: String,
    },
    /// SDP offer for the subscribe transport, with what each m-line carries.
    Offer {
        /// The SDP text.
        sdp: String,
        /// The track behind each m-line the client will receive on.
        tracks: Vec<SubscribedTrack>,
    },
    /// A trickled ICE candidate from the server.
    IceCandidate(IceCandidate),
    /// Somebody started publishing a track.
    TrackPublished {
        /// The new track.
        track: TrackInfo,
    },
    /// A track ended.
    TrackUnpublished {
        /// Id of the track that ended.
        track_id: String,
    },
    /// The participant heard most in the room changed (from the audio level each
    /// microphone track carries, RFC 6464).
    ActiveSpeaker {
        /// The speaking participant, or none when the room went quiet.
        participant_id: Option<String>,
        /// Their microphone track.
        track_id: Option<String>,
        /// Smoothed level in dBov (0 is loudest, -127 silence).
        level_dbov: i8,
    },
    /// Answer to [`ClientMessage::Ping`].
    Pong {
        /// The client's nonce.
        nonce: u64,
    },
    /// Something the client sent was refused; the connection stays open unless the
    /// error is fatal.
    Error {
        /// Machine-readable reason.
        code: ErrorCode,
        /// Human-readable detail.
        message: String,
    },
    /// The server is closing this connection (shutdown, kicked, room ended).
    Bye {
        /// Why.
        reason: String,
        /// The client should reconnect (the connection was lost, not ended on purpose: a
        /// media transport that failed, a queue that overflowed). Absent: do not reconnect
        /// (the class ended, you were removed, your token expired).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        retry: bool,
        /// Why, for the client to say in the person's language (`reason` is English, for
        /// logs). Absent from servers before it was added; a cause this client does not
        /// know reads as [`ByeCause::Other`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cause: Option<ByeCause>,
    },
    /// Something about the class (not media): see [`ClassEvent`].
    Class(ClassEvent),
}

/// Why the server closes a connection ([`ServerMessage::Bye`]). (Not exported to the page:
/// the app tells it a sentence's name, `EndedWhy`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum ByeCause {
    /// The class's host ended the class (the teacher left the class their app hosted).
    ClassEnded,
    /// The server is stopping.
    ServerStopped,
    /// The same person joined again on a newer connection, which takes over.
    Replaced,
    /// A companion session (a teacher's recorder) whose staff member left.
    OwnerLeft,
    /// Refused for good: the [`ServerMessage::Error`] sent just before says which
    /// (removed, not let in, access expired, locked, full).
    Refused,
    /// The connection failed (media did not connect, signaling went quiet); `retry` says
    /// whether to come back.
    Lost,
    /// A cause this client does not know (a newer server's).
    #[serde(other)]
    Other,
}

/// Machine-readable reasons in [`ServerMessage::Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The frame was not valid JSON or did not match any message's fields.
    Malformed,
    /// The `type` tag names no message this server knows.
    UnknownMessage,
    /// The frame exceeded [`MAX_MESSAGE_BYTES`].
    TooLarge,
    /// The token is missing, invalid or expired.
    Unauthorized,
    /// The message is valid but not allowed now (e.g. an offer before join).
    BadState,
    /// The SDP could not be used.
    BadSdp,
    /// The client speaks a protocol version the server cannot serve.
    UnsupportedVersion,
    /// The server failed; not the client's fault.
    Internal,
    /// The sender's role may not do this (checked against the permission table).
    Forbidden,
    /// Too many requests of this kind; try again later.
    RateLimited,
    /// The request names something that does not exist (a participant, poll, message).
    NotFound,
    /// The request's values are out of range (empty text, too many options, ...).
    Invalid,
    /// The class is locked: nobody new comes in.
    Locked,
    /// This identity was removed from the class; its token is refused here.
    Removed,
    /// Staff did not let this participant in from the lobby.
    Denied,
    /// The token expired (checked during the class, not only at join).
    Expired,
    /// A limit is reached (the stage is full, the class is full).
    Full,
    /// A track is sent in a codec this client did not accept when it negotiated: it
    /// cannot be shown or heard.
    UnsupportedCodec,
}

/// Why a text frame could not be turned into a message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Over [`MAX_MESSAGE_BYTES`] (from a client) or [`MAX_SERVER_MESSAGE_BYTES`] (from the
    /// server).
    #[error("message of {0} bytes exceeds the limit")]
    TooLarge(usize),
    /// Valid JSON object whose `type` is not known.
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    /// Anything else: not JSON, no `type`, wrong fields.
    #[error("malformed message: {0}")]
    Malformed(String),
}

impl DecodeError {
    /// The error code to send back to the peer.
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::TooLarge(_) => ErrorCode::TooLarge,
            DecodeError::UnknownType(_) => ErrorCode::UnknownMessage,
            DecodeError::Malformed(_) => ErrorCode::Malformed,
        }
    }
}

const CLIENT_TYPES: &[&str] = &[
    "join",
    "offer",
    "answer",
    "iceCandidate",
    "ping",
    "viewport",
    "leave",
    "joinCode",
    "class",
];
const SERVER_TYPES: &[&str] = &[
    "joined",
    "answer",
    "offer",
    "iceCandidate",
    "trackPublished",
    "trackUnpublished",
    "activeSpeaker",
    "pong",
    "error",
    "bye",
    "class",
];

/// The largest frame a decoder takes, and the tags it knows: message `type`s, and inside
/// `{"type":"class"}` the field that
/// names the class message (`action` or `event`) with its known values.
struct Known {
    max_bytes: usize,
    types: &'static [&'static str],
    class_field: &'static str,
    class_tags: &'static [&'static str],
}

fn decode<T: serde::de::DeserializeOwned>(text: &str, known: &Known) -> Result<T, DecodeError> {
    if text.len() > known.max_bytes {
        return Err(DecodeError::TooLarge(text.len()));
    }
    match serde_json::from_str::<T>(text) {
        Ok(msg) => Ok(msg),
        Err(err) => {
            // Tell "a newer peer sent something we do not know" apart from garbage, so the
            // answer can say which; only parse a second time on the error path.
            let value = serde_json::from_str::<serde_json::Value>(text).ok();
            let tag = |v: &serde_json::Value, field: &str| {
                v.get(field).and_then(|t| t.as_str()).map(str::to_owned)
            };
            let Some(value) = value else {
                return Err(DecodeError::Malformed(err.to_string()));
            };
            match tag(&value, "type") {
                Some(t) if !known.types.contains(&t.as_str()) => Err(DecodeError::UnknownType(t)),
                // A class message is versioned by its inner tag: a newer peer's new action
                // or event is "unknown", not garbage.
                Some(t) if t == "class" => match tag(&value, known.class_field) {
                    Some(inner) if !known.class_tags.contains(&inner.as_str()) => {
                        Err(DecodeError::UnknownType(format!("class/{inner}")))
                    }
                    _ => Err(DecodeError::Malformed(err.to_string())),
                },
                _ => Err(DecodeError::Malformed(err.to_string())),
            }
        }
    }
}

const CLIENT_KNOWN: Known = Known {
    max_bytes: MAX_MESSAGE_BYTES,
    types: CLIENT_TYPES,
    class_field: "action",
    class_tags: CLASS_ACTIONS,
};
const SERVER_KNOWN: Known = Known {
    max_bytes: MAX_SERVER_MESSAGE_BYTES,
    types: SERVER_TYPES,
    class_field: "event",
    class_tags: CLASS_EVENTS,
};

impl ClientMessage {
    /// Parses one text frame from a client.
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        decode(text, &CLIENT_KNOWN)
    }

    /// Serialises to the JSON text sent on the wire.
    pub fn encode(&self) -> String {
        // Serialising these plain data types cannot fail: no maps with non-string keys.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl ServerMessage {
    /// Parses one text frame from the server.
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        decode(text, &SERVER_KNOWN)
    }

    /// Serialises to the JSON text sent on the wire.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Builds an error message.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        ServerMessage::Error {
            code,
            message: message.into(),
        }
    }
}
