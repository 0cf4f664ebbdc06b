//! The SFU's sans-IO core: no sockets or clocks inside, and no threads but the optional
//! fan-out pool's ([`Fanout`]), which polls subscribers' connections side by side and hands
//! back what one thread would have, in the same order.
//!
//! The driver feeds it signaling messages, UDP datagrams and the current time, then drains
//! [`Output`]s (datagrams to send, messages to send, connections to close) with
//! [`Sfu::poll_output`] and sleeps until [`Sfu::poll_timeout`]. Everything the core does is a
//! function of those inputs, so tests can run it in virtual time.

mod datagrams;
pub mod dtls;
mod early;
mod fanout;
mod forward;
mod join;
mod keyframe;
mod limits;
mod local;
mod negotiate;
mod outstream;
mod participant;
mod payload;
mod poll;
mod propagate;
mod rewrite;
mod room;
mod rtc;
mod rtx;
mod simulcast;
mod speaker;
mod timers;
mod whip;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use classroom::Classroom;
use classroom_protocol::{
    AttendanceReport, ByeCause, ClientMessage, ErrorCode, ServerMessage, SimulcastLayer, TrackInfo,
};
use str0m::format::PayloadParams;
use str0m::media::{KeyframeRequestKind, Mid, Pt, Rid};
use tracing::{debug, info};

use crate::access::AccessKey;
use crate::metrics::Metrics;
use join::JoinRequest;
use keyframe::KeyframeBudget;
use participant::Participant;
use propagate::Propagate;
use rtc::{Crypto, new_rtc};
use speaker::Speakers;

/// Identifies one signaling connection (one participant) for the life of the server.
pub type ConnId = u64;

pub use datagrams::{DATAGRAMS_PER_RECEIVE, OUTPUTS_PER_PART, datagrams_per_part};
pub use fanout::Fanout;
pub use keyframe::{KEYFRAME_BURST, KEYFRAME_REQUEST_INTERVAL};
pub use limits::{LimitError, Limits, MAX_LAYER_SIDE};

/// Egress bandwidth assumed for a new subscriber until its feedback says otherwise: enough
/// for a 720p camera, a screen and a microphone.
const INITIAL_ESTIMATE_BPS: f64 = 2_500_000.0;

/// Whether subscribe transports run str0m's TWCC bandwidth estimator. Off: it brings str0m's
/// pacer, which the load generator measured adding 2-4 ms at the median and 70-200 ms at the
/// 99th percentile to forwarding even with one subscriber (1.3 ms / 4 ms without). Layer
/// choice uses the loss-based estimate from each subscriber's receiver reports instead
/// (`simulcast::next_estimate`); the TWCC path is kept for when a pacer-free estimator exists.
const EGRESS_TWCC_BWE: bool = false;

/// What the core asks the driver to do.
#[derive(Debug)]
pub enum Output {
    /// Send a UDP datagram.
    Transmit {
        /// Local address to send from.
        source: SocketAddr,
        /// Where to.
        destination: SocketAddr,
        /// The bytes.
        contents: Vec<u8>,
    },
    /// Send a signaling message to a connection.
    Signal {
        /// The connection.
        to: ConnId,
        /// The message, boxed: an `Output` is mostly a datagram, and every copy's output
        /// is moved into and out of queues (248 bytes with the message inline, 96 without).
        msg: Box<ServerMessage>,
    },
    /// Send one message to many connections: encode it once.
    Broadcast {
        /// The connections.
        to: Vec<ConnId>,
        /// The message.
        msg: Arc<ServerMessage>,
    },
    /// Close a signaling connection (after sending what was queued for it).
    Close {
        /// The connection.
        to: ConnId,
    },
    /// A class ended (or the server is shutting down): its attendance report, to keep.
    ClassEnded {
        /// The report (boxed, as a signal's message is).
        report: Box<AttendanceReport>,
    },
}

// Every copy the server sends is an `Output`, moved into and out of queues: kept small.
const _: () = assert!(std::mem::size_of::<Output>() <= 96);

/// A track being published into a room.
#[derive(Debug)]
struct Track {
    info: TrackInfo,
    /// The number in `info.track_id` ("t{num}"), a cheap key.
    num: u64,
    room: String,
    owner: ConnId,
    mid: Mid,
    /// Simulcast layers heard or declared; empty for a single-encoding track.
    layers: Vec<simulcast::Layer>,
    /// Whether `layers` came from the publisher's declaration (then no other RID is taken).
    declared_layers: bool,
    /// The publisher's codec parameters of each payload type seen (None: not negotiated),
    /// looked up once; subscribers map them to their own payload types.
    codecs: HashMap<Pt, Option<PayloadParams>>,
    /// RTP time of the latest packet per layer, to tell a frame's first packet.
    last_time: HashMap<Option<Rid>, u32>,
    /// Each layer's recent packets, for every subscriber's NACKs (video; `rtx.rs`). A
    /// subscriber's record of its copies names the layer by its index here.
    caches: Vec<(Option<Rid>, rtx::LayerCache)>,
    /// Subscribers whose m-line for this track is negotiated.
    subscribers: BTreeSet<ConnId>,
    /// Keyframe requests per layer: how many may go out, and one held back.
    keyframes: HashMap<Option<Rid>, KeyframeBudget>,
    /// Not forwarded: the class muted its owner's microphone.
    muted: bool,
}

/// Static settings of the core.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// The UDP address media arrives on; advertised as the host candidate.
    pub udp_addr: SocketAddr,
    /// Verifies join tokens.
    pub access: AccessKey,
    /// A monotonic instant and the Unix time (seconds) it corresponds to, so token expiry can
    /// be judged from the `now` the core is given.
    pub clock_origin: (Instant, u64),
    /// The simulcast layers camera publishers are asked for in their `joined` (smallest
    /// first); empty: every camera is sent as one encoding.
    pub simulcast: Vec<SimulcastLayer>,
    /// The class rules' settings (grace period, batching, rate limits, stage size).
    pub class: classroom::Config,
    /// Resource limits and deadlines.
    pub limits: Limits,
}

impl CoreConfig {
    /// Settings whose clock origin is the moment of the call (what a live server wants).
    pub fn new(udp_addr: SocketAddr, access: AccessKey) -> Self {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        CoreConfig {
            udp_addr,
            access,
            clock_origin: (Instant::now(), unix),
            simulcast: Vec::new(),
            class: classroom::Config::default(),
            limits: Limits::default(),
        }
    }

    /// Unix seconds at `now`.
    pub fn unix_time(&self, now: Instant) -> u64 {
        let (origin, unix) = self.clock_origin;
        unix.saturating_add(now.saturating_duration_since(origin).as_secs())
    }

    /// Unix milliseconds at `now`: the class's clock.
    pub fn unix_ms(&self, now: Instant) -> u64 {
        let (origin, unix) = self.clock_origin;
        let since =
            u64::try_from(now.saturating_duration_since(origin).as_millis()).unwrap_or(u64::MAX);
        unix.saturating_mul(1000).saturating_add(since)
    }

    /// The instant of Unix millisecond `ms` (never before the origin).
    pub fn instant_of(&self, ms: u64) -> Instant {
        let (origin, unix) = self.clock_origin;
        origin + Duration::from_millis(ms.saturating_sub(unix.saturating_mul(1000)))
    }
}

/// The SFU state machine.
pub struct Sfu {
    config: CoreConfig,
    crypto: Crypto,
    participants: BTreeMap<ConnId, Participant>,
    /// Participants that have (or had, until they leave) a peer connection: the only
    /// ones the per-input and per-timer walks need to visit. A class of 10,000 students
    /// holds 10,000 participants but only its teacher and stage publish or receive media;
    /// walking every participant on every signaling message made a roll call's 10,000
    /// answers cost O(n^2).
    with_media: BTreeSet<ConnId>,
    /// Connected participants per room, kept as they join and leave (the rooms gauge).
    room_members: HashMap<String, usize>,
    tracks: Vec<Track>,
    outputs: VecDeque<Output>,
    next_track: u64,
    metrics: Arc<Metrics>,
    last_now: Option<Instant>,
    /// Subscribers whose track set changed since their last offer.
    renegotiate: BTreeSet<ConnId>,
    /// Reused buffer of work found while polling.
    work: Vec<Propagate>,
    /// Audio levels per room, for the active speaker.
    speakers: HashMap<String, Speakers>,
    /// Which peer connection (participant, publish side?) a remote address last reached, so a
    /// datagram is not offered to every connection in the server in turn.
    addr_index: HashMap<SocketAddr, (ConnId, bool)>,
    /// The class rules: who is in, roles, lobby, hands, stage, chat, roll call, polls.
    class: Classroom,
    /// The addresses media is received on (`local.rs`); `config.udp_addr` until the driver
    /// says otherwise.
    local_addrs: Vec<SocketAddr>,
    /// Bookkeeping for the limits (unconnected transports, candidates, HTTP sessions).
    guard: limits::Guard,
    /// Threads for the per-subscriber work of a fan-out (`fanout.rs`); `None`: one thread.
    fanout: Option<Arc<Fanout>>,
    /// DTLS datagrams no connection accepted yet, offered again for a moment (`early.rs`).
    early: early::Early,
    /// With a fan-out pool: the packets this drive forwarded, which their copies are written
    /// from (`participant::Deferred`).
    batch: participant::Batch,
    /// Participants with media by when their peer connections' timers are due (`timers.rs`).
    timers: timers::Timers,
    /// Participants that may have a connection to poll since the last poll of them: every
    /// place that marks a connection dirty notes its participant here, so finding the ones
    /// with work reads only these (`poll.rs` `dirty_with_media`), not every participant
    /// with media, whose state the pool's threads last wrote from their cores.
    maybe_dirty: Vec<ConnId>,
}

impl Sfu {
    /// Creates a core that advertises `config.udp_addr` to peers.
    pub fn new(config: CoreConfig, metrics: Arc<Metrics>) -> Self {
        Sfu {
            crypto: Crypto::new(),
            participants: BTreeMap::new(),
            with_media: BTreeSet::new(),
            room_members: HashMap::new(),
            tracks: Vec::new(),
            outputs: VecDeque::new(),
            next_track: 1,
            metrics,
            last_now: None,
            renegotiate: BTreeSet::new(),
            work: Vec::new(),
            speakers: HashMap::new(),
            addr_index: HashMap::new(),
            class: Classroom::new(config.class.clone(), Box::new(crate::random::OsRandom)),
            local_addrs: vec![config.udp_addr],
            config,
            guard: limits::Guard::default(),
            fanout: None,
            early: early::Early::default(),
            batch: participant::Batch::default(),
            timers: timers::Timers::default(),
            maybe_dirty: Vec::new(),
        }
    }

    /// Spreads the per-subscriber work of forwarding over `pool`'s threads (see
    /// [`Fanout`]); without a pool (the default) the core runs on its caller's thread only.
    pub fn set_fanout(&mut self, pool: Option<Arc<Fanout>>) {
        self.fanout = pool;
    }

    /// The fan-out pool, for the driver to send a fan-out's datagrams on the same threads.
    pub fn fanout(&self) -> Option<&Arc<Fanout>> {
        self.fanout.as_ref()
    }

    /// Shared counters.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// A new signaling connection was accepted (from loopback, as far as the class's
    /// per-address limits are concerned).
    pub fn connect(&mut self, _now: Instant, conn: ConnId) {
        let loopback = IpAddr::from([127, 0, 0, 1]);
        self.participants
            .insert(conn, Participant::new(conn, loopback));
        self.metrics.set_participants(self.participants.len());
    }

    /// The signaling connection went away (closed or errored): its media ends, and the
    /// class keeps its place for the grace period.
    pub fn disconnect(&mut self, now: Instant, conn: ConnId) {
        self.end_connection(now, conn, false);
    }

    /// Ends `conn`'s media and tells the class: it left on purpose (`leave`: out of the
    /// class at once) or its connection went (kept for the grace period).
    fn end_connection(&mut self, now: Instant, conn: ConnId, on_purpose: bool) {
        if self.drop_media(conn) {
            let ms = self.config.unix_ms(now);
            if on_purpose {
                self.class.leave(ms, conn);
            } else {
                self.class.disconnect(ms, conn);
            }
            self.pump_class(now);
        }
        self.drive(now);
    }

    /// Ends everything media about `conn` (its peer connections and tracks); the class is
    /// not told. False when `conn` was not known.
    fn drop_media(&mut self, conn: ConnId) -> bool {
        let Some(mut p) = self.participants.remove(&conn) else {
            return false;
        };
        if self.with_media.remove(&conn) {
            self.addr_index.retain(|_, (c, _)| *c != conn);
        }
        self.guard.forget(conn);
        p.close_all();
        for t in &mut self.tracks {
            t.subscribers.remove(&conn);
        }
        self.metrics.set_participants(self.participants.len());
        if let Some(room) = p.room() {
            self.left_room(room);
        }
        self.end_tracks(conn, None);
        true
    }

    /// Ends `conn`'s tracks (only the one on `mid`, if given): tells the room and queues
    /// the subscribers' renegotiation.
    fn end_tracks(&mut self, conn: ConnId, mid: Option<Mid>) {
        let ends = |t: &Track| t.owner == conn && mid.is_none_or(|m| t.mid == m);
        let (gone, kept): (Vec<Track>, Vec<Track>) =
            std::mem::take(&mut self.tracks).into_iter().partition(ends);
        self.tracks = kept;
        for track in gone {
            info!(track = %track.info.track_id, "track ended");
            self.forget_speaker(&track.room, track.num);
            self.broadcast(
                &track.room,
                Some(conn),
                ServerMessage::TrackUnpublished {
                    track_id: track.info.track_id.clone(),
                },
            );
            for conn in &self.with_media {
                if let Some(side) = self
                    .participants
                    .get_mut(conn)
                    .and_then(|sub| sub.subscribe.as_mut())
                {
                    side.streams.remove(&track.num);
                    if side.stop(&track.info.track_id) {
                        self.renegotiate.insert(*conn);
                    }
                }
            }
        }
        self.metrics.set_tracks(self.tracks.len());
        // WHEP viewers cannot renegotiate: a freed m-line takes the next track of its kind.
        let whep: Vec<(ConnId, String)> = self
            .participants
            .values()
            .filter(|p| {
                p.subscribe
                    .as_ref()
                    .is_some_and(|s| !s.whep_mids.is_empty())
            })
            .filter_map(|p| Some((p.conn, p.room()?.to_owned())))
            .collect();
        let now = self.last_now.unwrap_or_else(Instant::now);
        for (viewer, room) in whep {
            let tracks: Vec<TrackInfo> = self
                .tracks
                .iter()
                .filter(|t| t.room == room && !t.subscribers.contains(&viewer))
                .map(|t| t.info.clone())
                .collect();
            for t in tracks {
                self.whep_attach(now, viewer, &t);
            }
        }
    }

    /// Tells every client the server is going away and why (the class's host ended the
    /// class, or the server is stopping), then closes them.
    pub fn shutdown(&mut self, cause: ByeCause) {
        let now = self.last_now.unwrap_or_else(Instant::now);
        self.final_reports(now);
        let reason = match cause {
            ByeCause::ClassEnded => "the teacher ended the class",
            _ => "server shutting down",
        };
        let conns: Vec<ConnId> = self.participants.keys().copied().collect();
        for conn in conns {
            self.signal(
                conn,
                ServerMessage::Bye {
                    reason: reason.to_owned(),
                    retry: false,
                    cause: Some(cause),
                },
            );
            self.outputs.push_back(Output::Close { to: conn });
        }
    }

    /// A signaling message arrived on `conn`.
    pub fn handle_signal(&mut self, now: Instant, conn: ConnId, msg: ClientMessage) {
        let Some(p) = self.participants.get_mut(&conn) else {
            return;
        };
        p.touch();
        self.maybe_dirty.push(conn);
        let result = match msg {
            ClientMessage::Join {
                token,
                room,
                display_name,
                role,
                protocol_version,
                subscribe,
            } => self.on_join(
                now,
                conn,
                JoinRequest {
                    token,
                    room,
                    display_name,
                    role,
                    protocol_version,
                    subscribe,
                },
            ),
            ClientMessage::Offer { sdp, tracks } => self
                .publish_offer(now, conn, &sdp, tracks)
                .map(|sdp| self.signal(conn, ServerMessage::Answer { sdp })),
            ClientMessage::Answer { sdp } => self.on_subscribe_answer(now, conn, &sdp),
            ClientMessage::IceCandidate(c) => self.on_candidate(conn, c),
            ClientMessage::Viewport {
                track_id,
                width,
                height,
            } => self.on_viewport(conn, &track_id, width, height),
            ClientMessage::Ping { nonce } => {
                self.signal(conn, ServerMessage::Pong { nonce });
                Ok(())
            }
            ClientMessage::Leave => {
                self.outputs.push_back(Output::Close { to: conn });
                self.end_connection(now, conn, true);
                Ok(())
            }
            ClientMessage::JoinCode {
                code,
                display_name,
                protocol_version,
                subscribe,
            } => self.on_join_code(now, conn, &code, &display_name, protocol_version, subscribe),
            ClientMessage::Class(req) => {
                let ms = self.config.unix_ms(now);
                self.class.handle(ms, conn, req);
                Ok(())
            }
            _ => Err((
                ErrorCode::UnknownMessage,
                "message not supported by this server".into(),
            )),
        };
        if let Err((code, message)) = result {
            self.metrics.signaling_error();
            debug!(conn, ?code, %message, "refused signaling message");
            self.signal(conn, ServerMessage::error(code, message));
        }
        self.pump_class(now);
        self.drive(now);
    }

    /// Time passed; run timers (retransmits, RTCP, ICE keep-alives).
    pub fn handle_timeout(&mut self, now: Instant) {
        let expired = self.early.expire(now);
        self.metrics.udp_dropped_many(expired);
        while let Some((at, conn)) = self.timers.pop_due(now) {
            let Some(p) = self.participants.get_mut(&conn) else {
                continue; // gone since
            };
            if !p.take_scheduled(at) {
                continue; // stale: an earlier entry was made since
            }
            // A connection due is polled in this turn's drive, which schedules it again;
            // one whose timer moved later since the entry was made is put in for it now.
            if p.mark_due(now) {
                self.maybe_dirty.push(conn);
            } else {
                self.timers.after_poll(p);
            }
        }
        let (with_media, participants) = (&self.with_media, &self.participants);
        self.timers.compact(with_media.len(), || {
            with_media.iter().filter_map(|c| participants.get(c))
        });
        self.send_due_keyframe_requests(now);
        let ms = self.config.unix_ms(now);
        self.class.tick(ms);
        self.pump_class(now);
        self.drop_unconnected(now);
        self.drive(now);
    }

    /// Next thing for the driver to do, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// How many outputs wait for [`Sfu::poll_output`].
    pub fn outputs_waiting(&self) -> usize {
        self.outputs.len()
    }

    /// When [`Sfu::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Instant {
        let base = self.last_now.unwrap_or_else(Instant::now);
        let keyframes = self
            .tracks
            .iter()
            .flat_map(|t| t.keyframes.values().filter_map(KeyframeBudget::held_until));
        let class = self
            .class
            .poll_timeout()
            .map(|ms| self.config.instant_of(ms));
        self.timers
            .next()
            .into_iter()
            .chain(keyframes)
            .chain(class)
            .chain(self.early.next_expiry())
            .min()
            .unwrap_or(base + Duration::from_millis(100))
    }

    /// Sends the held keyframe requests whose time has come.
    fn send_due_keyframe_requests(&mut self, now: Instant) {
        let due: Vec<(String, Option<Rid>)> = self
            .tracks
            .iter()
            .flat_map(|t| {
                t.keyframes
                    .iter()
                    .filter(|(_, b)| b.held_until().is_some_and(|at| at <= now))
                    .map(|(rid, _)| (t.info.track_id.clone(), *rid))
            })
            .collect();
        for (track_id, rid) in due {
            self.request_keyframe(now, &track_id, rid, KeyframeRequestKind::Pli);
        }
    }

    /// A participant was admitted to `room`.
    fn joined_room(&mut self, room: &str) {
        match self.room_members.get_mut(room) {
            Some(n) => *n += 1,
            None => {
                self.room_members.insert(room.to_owned(), 1);
            }
        }
        self.metrics.set_rooms(self.room_members.len());
    }

    /// An admitted participant left `room`.
    fn left_room(&mut self, room: &str) {
        if let Some(n) = self.room_members.get_mut(room) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.room_members.remove(room);
            }
        }
        self.metrics.set_rooms(self.room_members.len());
    }

    fn signal(&mut self, to: ConnId, msg: ServerMessage) {
        self.outputs.push_back(Output::Signal {
            to,
            msg: Box::new(msg),
        });
    }

    /// Sends `msg` to everyone in `room` but `except`, as one output the driver encodes once.
    fn broadcast(&mut self, room: &str, except: Option<ConnId>, msg: ServerMessage) {
        let to: Vec<ConnId> = self
            .participants
            .values()
            .filter(|p| p.room() == Some(room) && Some(p.conn) != except)
            .map(|p| p.conn)
            .collect();
        if !to.is_empty() {
            self.outputs.push_back(Output::Broadcast {
                to,
                msg: Arc::new(msg),
            });
        }
    }
}

type Refusal = (ErrorCode, String);

fn no_participant() -> Refusal {
    (ErrorCode::Internal, "no participant".into())
}
