//! Resource limits and the deadlines that keep hostile or broken clients from holding the
//! server's memory, file descriptors or forwarding time.
//!
//! [`Limits`] is one settings struct shared by the core (tracks, candidates, sessions,
//! participants, transport deadlines) and the driver (connections, message rate, HTTP and
//! websocket timeouts). Every refusal is counted in [`crate::Metrics`] under the limit's name
//! and answered with a clear error. [`Guard`] is the core's bookkeeping for them.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use classroom_protocol::{ByeCause, ErrorCode, PublishTrack, ServerMessage, Source, Transport};
use str0m::Candidate;

use super::{ConnId, Output, Refusal, Sfu};
use crate::metrics::{Limit, Metrics, Timeout};

/// Largest simulcast layer side accepted in a declaration, in pixels.
pub const MAX_LAYER_SIDE: u32 = 16_384;

/// Every limit the server enforces, each with a default that suits a school.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Participants (websocket, WHIP and WHEP) in one room. Default 200.
    pub max_participants_per_room: usize,
    /// Live published tracks per participant; besides, at most one per source (camera,
    /// microphone, screen). Default 3.
    pub max_tracks_per_participant: usize,
    /// m-lines in one publish offer (a screen shared again adds one; stopped ones stay).
    /// Default 16.
    pub max_mlines_per_offer: usize,
    /// Simulcast layers per track, declared or (WHIP) learned; other RIDs are ignored.
    /// Default 3.
    pub max_simulcast_layers: usize,
    /// Remote ICE candidates per peer connection (in the SDP and trickled): the server
    /// sends connectivity checks to no more addresses than this. Default 32.
    pub max_remote_candidates: usize,
    /// WHIP plus WHEP sessions one identity (token subject) may hold. Default 4.
    pub max_http_sessions_per_identity: usize,
    /// WHIP plus WHEP sessions in one room. Default 64.
    pub max_http_sessions_per_room: usize,
    /// A peer connection not connected (ICE and DTLS) this long after it was made is
    /// dropped with its session; so is one whose ICE is lost later. Default 30 s.
    pub transport_connect_timeout: Duration,
    /// Open TCP connections on the signaling port from one IP address. Default 64 (a class
    /// behind one school NAT still fits).
    pub max_connections_per_source: usize,
    /// Open TCP connections on the signaling port in all. Default 4096.
    pub max_connections: usize,
    /// Websocket messages (and HTTP requests) per second one connection may send,
    /// sustained. Default 50.
    pub messages_per_second: u32,
    /// Messages a connection may send at once above the sustained rate (the trickle of
    /// candidates at start). Default 200.
    pub message_burst: u32,
    /// Time to send a request's headers (also the TLS handshake and an idle keep-alive
    /// connection's wait). Default 10 s.
    pub header_timeout: Duration,
    /// Time to send a request's body. Default 10 s.
    pub body_timeout: Duration,
    /// Time from the websocket opening to the server's `joined` (or a class event such as
    /// the lobby). Default 10 s.
    pub join_timeout: Duration,
    /// A websocket ping goes out this often. Default 15 s.
    pub ping_interval: Duration,
    /// A websocket from which nothing (not even a pong) arrived for this long is closed;
    /// also the longest a write to it may take. Default 45 s.
    pub idle_timeout: Duration,
    /// Messages queued to one websocket before it counts as not reading and is closed.
    /// Default 256.
    pub outgoing_queue: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // The class's own cap (`classroom::Config::max_class_size`) is 20,000: a room
            // here is a class, and a school's largest lecture must fit.
            max_participants_per_room: 20_000,
            max_tracks_per_participant: 3,
            max_mlines_per_offer: 16,
            max_simulcast_layers: 3,
            max_remote_candidates: 32,
            max_http_sessions_per_identity: 4,
            max_http_sessions_per_room: 64,
            transport_connect_timeout: Duration::from_secs(30),
            max_connections_per_source: 64,
            max_connections: 16_384,
            messages_per_second: 50,
            message_burst: 200,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            join_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(45),
            outgoing_queue: 256,
        }
    }
}

/// A limit name or value that [`Limits::set`] cannot take.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitError {
    /// No limit has this name.
    #[error("unknown limit {0:?} (known: {known})", known = Limits::NAMES.join(", "))]
    Unknown(String),
    /// The value is not a whole number, or 0 where 0 would disable the server.
    #[error("limit {name}: {value:?} is not a whole number of at least 1")]
    Value {
        /// The limit.
        name: String,
        /// What was given.
        value: String,
    },
}

impl Limits {
    /// The names [`Limits::set`] takes: the field names; durations end in `_secs`.
    pub const NAMES: &'static [&'static str] = &[
        "max_participants_per_room",
        "max_tracks_per_participant",
        "max_mlines_per_offer",
        "max_simulcast_layers",
        "max_remote_candidates",
        "max_http_sessions_per_identity",
        "max_http_sessions_per_room",
        "transport_connect_timeout_secs",
        "max_connections_per_source",
        "max_connections",
        "messages_per_second",
        "message_burst",
        "header_timeout_secs",
        "body_timeout_secs",
        "join_timeout_secs",
        "ping_interval_secs",
        "idle_timeout_secs",
        "outgoing_queue",
    ];

    /// Sets one limit by name (as in the server's TOML `[limits]` table and its
    /// `--limit NAME=VALUE` flag) to a whole number of at least 1.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), LimitError> {
        let n: u64 = value
            .trim()
            .parse()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| LimitError::Value {
                name: name.to_owned(),
                value: value.to_owned(),
            })?;
        let count = usize::try_from(n).unwrap_or(usize::MAX);
        let small = u32::try_from(n).unwrap_or(u32::MAX);
        let secs = Duration::from_secs(n);
        match name {
            "max_participants_per_room" => self.max_participants_per_room = count,
            "max_tracks_per_participant" => self.max_tracks_per_participant = count,
            "max_mlines_per_offer" => self.max_mlines_per_offer = count,
            "max_simulcast_layers" => self.max_simulcast_layers = count,
            "max_remote_candidates" => self.max_remote_candidates = count,
            "max_http_sessions_per_identity" => self.max_http_sessions_per_identity = count,
            "max_http_sessions_per_room" => self.max_http_sessions_per_room = count,
            "transport_connect_timeout_secs" => self.transport_connect_timeout = secs,
            "max_connections_per_source" => self.max_connections_per_source = count,
            "max_connections" => self.max_connections = count,
            "messages_per_second" => self.messages_per_second = small,
            "message_burst" => self.message_burst = small,
            "header_timeout_secs" => self.header_timeout = secs,
            "body_timeout_secs" => self.body_timeout = secs,
            "join_timeout_secs" => self.join_timeout = secs,
            "ping_interval_secs" => self.ping_interval = secs,
            "idle_timeout_secs" => self.idle_timeout = secs,
            "outgoing_queue" => self.outgoing_queue = count,
            _ => return Err(LimitError::Unknown(name.to_owned())),
        }
        Ok(())
    }
}

/// A WHIP or WHEP session, for the per-identity and per-room counts.
#[derive(Debug, Clone)]
struct HttpSession {
    identity: String,
    room: String,
}

/// The core's bookkeeping for the limits: when each unconnected peer connection was first
/// seen, how many remote candidates each has, and the WHIP/WHEP sessions.
#[derive(Debug, Default)]
pub(crate) struct Guard {
    /// (participant, publish side?) -> when first seen not connected.
    unconnected: HashMap<(ConnId, bool), Instant>,
    /// (participant, publish side?) -> the remote candidates' addresses.
    candidates: HashMap<(ConnId, bool), HashSet<SocketAddr>>,
    http: HashMap<ConnId, HttpSession>,
    next_sweep: Option<Instant>,
}

/// How often unconnected transports are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

fn refusal(metrics: &Metrics, limit: Limit, code: ErrorCode, message: String) -> Refusal {
    metrics.refused(limit);
    (code, message)
}

impl Guard {
    /// Forgets everything about `conn` (it left).
    pub fn forget(&mut self, conn: ConnId) {
        self.unconnected.retain(|(c, _), _| *c != conn);
        self.candidates.retain(|(c, _), _| *c != conn);
        self.http.remove(&conn);
    }

    /// Whether `identity` may open another WHIP/WHEP session in `room`.
    pub fn check_http_session(
        &self,
        limits: &Limits,
        metrics: &Metrics,
        identity: &str,
        room: &str,
    ) -> Result<(), Refusal> {
        let mine = self
            .http
            .values()
            .filter(|s| s.identity == identity)
            .count();
        if mine >= limits.max_http_sessions_per_identity {
            return Err(refusal(
                metrics,
                Limit::HttpSessionsPerIdentity,
                ErrorCode::RateLimited,
                format!(
                    "{identity:?} already holds {mine} WHIP/WHEP sessions (limit {}); end one with DELETE first",
                    limits.max_http_sessions_per_identity
                ),
            ));
        }
        let in_room = self.http.values().filter(|s| s.room == room).count();
        if in_room >= limits.max_http_sessions_per_room {
            return Err(refusal(
                metrics,
                Limit::HttpSessionsPerRoom,
                ErrorCode::Full,
                format!("room {room:?} has {in_room} WHIP/WHEP sessions, the limit",),
            ));
        }
        Ok(())
    }

    /// Records a WHIP/WHEP session that was answered.
    pub fn add_http_session(&mut self, conn: ConnId, identity: &str, room: &str) {
        self.http.insert(
            conn,
            HttpSession {
                identity: identity.to_owned(),
                room: room.to_owned(),
            },
        );
    }

    /// Counts one remote candidate for `conn`'s `transport`, refusing it past the limit or
    /// when it names an address nobody should be sent checks at. A candidate already known
    /// (a renegotiation repeats them) costs nothing.
    pub fn add_candidate(
        &mut self,
        limits: &Limits,
        metrics: &Metrics,
        conn: ConnId,
        transport: Transport,
        candidate: &Candidate,
    ) -> Result<(), Refusal> {
        let addr = candidate.addr();
        check_candidate_address(metrics, addr.ip(), addr.port())?;
        let known = self
            .candidates
            .entry((conn, transport == Transport::Publish))
            .or_default();
        if known.contains(&addr) {
            return Ok(());
        }
        if known.len() >= limits.max_remote_candidates {
            return Err(refusal(
                metrics,
                Limit::RemoteCandidates,
                ErrorCode::Full,
                format!(
                    "more than {} remote candidates for the {transport:?} transport; ignored",
                    limits.max_remote_candidates
                ),
            ));
        }
        known.insert(addr);
        Ok(())
    }

    /// Counts the candidates an offer or answer carries in its SDP (str0m adds them to the
    /// peer connection itself), refusing the whole SDP when they would pass the limit or one
    /// names no reachable host.
    pub fn add_sdp_candidates(
        &mut self,
        limits: &Limits,
        metrics: &Metrics,
        conn: ConnId,
        transport: Transport,
        sdp: &str,
    ) -> Result<(), Refusal> {
        let mut addrs: HashSet<SocketAddr> = HashSet::new();
        for line in sdp.lines() {
            let Some(text) = line.trim().strip_prefix("a=") else {
                continue;
            };
            if !text.starts_with("candidate") {
                continue;
            }
            // What str0m cannot parse it does not use either.
            if let Ok(c) = Candidate::from_sdp_string(text) {
                check_candidate_address(metrics, c.addr().ip(), c.addr().port())?;
                addrs.insert(c.addr());
                if addrs.len() > limits.max_remote_candidates {
                    break;
                }
            }
        }
        let key = (conn, transport == Transport::Publish);
        let known = self.candidates.get(&key);
        let total = known.map_or(0, HashSet::len)
            + addrs
                .iter()
                .filter(|a| known.is_none_or(|k| !k.contains(a)))
                .count();
        if total > limits.max_remote_candidates {
            return Err(refusal(
                metrics,
                Limit::RemoteCandidates,
                ErrorCode::Full,
                format!(
                    "the SDP brings the remote candidates to {total}, over the limit of {}",
                    limits.max_remote_candidates
                ),
            ));
        }
        self.candidates.entry(key).or_default().extend(addrs);
        Ok(())
    }

    /// Which transports have stayed unconnected past the deadline, at most once a second.
    /// `transports` lists every live peer connection as (participant, publish side?,
    /// connected?).
    pub fn overdue(
        &mut self,
        limits: &Limits,
        now: Instant,
        transports: impl Iterator<Item = (ConnId, bool, bool)>,
    ) -> Vec<ConnId> {
        if self.next_sweep.is_some_and(|t| now < t) {
            return Vec::new();
        }
        self.next_sweep = now.checked_add(SWEEP_EVERY);
        let mut seen = HashSet::new();
        let mut overdue = Vec::new();
        for (conn, publish, connected) in transports {
            if connected {
                continue;
            }
            seen.insert((conn, publish));
            let since = *self.unconnected.entry((conn, publish)).or_insert(now);
            if now.saturating_duration_since(since) >= limits.transport_connect_timeout
                && !overdue.contains(&conn)
            {
                overdue.push(conn);
            }
        }
        // Connected (or gone) transports start afresh should they ever be made again.
        self.unconnected.retain(|k, _| seen.contains(k));
        overdue
    }
}

/// Refuses candidates that name no single reachable host: the server would send checks to
/// a broadcast, multicast or unspecified address, or port 0.
fn check_candidate_address(metrics: &Metrics, ip: IpAddr, port: u16) -> Result<(), Refusal> {
    let bad = port == 0
        || ip.is_unspecified()
        || ip.is_multicast()
        || matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    if bad {
        return Err(refusal(
            metrics,
            Limit::RemoteCandidates,
            ErrorCode::Malformed,
            format!("candidate address {ip} port {port} is not a host one can reach"),
        ));
    }
    Ok(())
}

/// Checks what a publish offer declares before it is applied: how many m-lines and tracks,
/// how many simulcast layers, and that each layer's size is sane (a product of two sides
/// must not overflow anything).
pub(crate) fn check_publish_offer(
    limits: &Limits,
    metrics: &Metrics,
    mlines: usize,
    tracks: &[PublishTrack],
) -> Result<(), Refusal> {
    if mlines > limits.max_mlines_per_offer || tracks.len() > limits.max_mlines_per_offer {
        return Err(refusal(
            metrics,
            Limit::Tracks,
            ErrorCode::Full,
            format!(
                "the offer has {mlines} m-lines and declares {} tracks; at most {} are accepted",
                tracks.len(),
                limits.max_mlines_per_offer
            ),
        ));
    }
    for t in tracks {
        if t.layers.len() > limits.max_simulcast_layers {
            return Err(refusal(
                metrics,
                Limit::SimulcastLayers,
                ErrorCode::Invalid,
                format!(
                    "track {:?} declares {} simulcast layers; at most {}",
                    t.mid,
                    t.layers.len(),
                    limits.max_simulcast_layers
                ),
            ));
        }
        if let Some(l) = t.layers.iter().find(|l| {
            l.width == 0 || l.height == 0 || l.width > MAX_LAYER_SIDE || l.height > MAX_LAYER_SIDE
        }) {
            return Err(refusal(
                metrics,
                Limit::SimulcastLayers,
                ErrorCode::Invalid,
                format!(
                    "layer {:?} of track {:?} is {}x{}; each side must be 1..={MAX_LAYER_SIDE}",
                    l.rid, t.mid, l.width, l.height
                ),
            ));
        }
    }
    Ok(())
}

impl Sfu {
    /// Ends the sessions one of whose peer connections has not connected within
    /// [`Limits::transport_connect_timeout`] (an offer without candidates, ICE that never
    /// completes): each one otherwise holds a participant, a peer connection and a share
    /// of every forwarding pass forever.
    pub(super) fn drop_unconnected(&mut self, now: Instant) {
        let transports = self.participants.values().flat_map(|p| {
            let publish = p.publish.as_ref().map(|r| (p.conn, true, r.is_connected()));
            let subscribe = p
                .subscribe
                .as_ref()
                .map(|s| (p.conn, false, s.rtc.is_connected()));
            publish.into_iter().chain(subscribe)
        });
        let overdue = self.guard.overdue(&self.config.limits, now, transports);
        for conn in overdue {
            self.metrics.timed_out(Timeout::TransportConnect);
            let secs = self.config.limits.transport_connect_timeout.as_secs();
            tracing::info!(
                conn,
                "media did not connect within {secs} s; session dropped"
            );
            // The client may try again: its place in the class is kept for a while.
            self.close_with_bye(
                now,
                conn,
                format!("media did not connect within {secs} s"),
                true,
            );
        }
    }

    /// Tells `conn` why (`bye`), has the driver close its connection, and removes it.
    pub(super) fn close_with_bye(
        &mut self,
        now: Instant,
        conn: ConnId,
        reason: String,
        retry: bool,
    ) {
        self.signal(
            conn,
            ServerMessage::Bye {
                reason,
                retry,
                cause: Some(ByeCause::Lost),
            },
        );
        self.outputs.push_back(Output::Close { to: conn });
        self.disconnect(now, conn);
    }

    /// Refuses a join to a room that already holds [`Limits::max_participants_per_room`].
    pub(super) fn check_room_capacity(&self, room: &str) -> Result<(), Refusal> {
        let max = self.config.limits.max_participants_per_room;
        let n = self
            .participants
            .values()
            .filter(|p| p.room() == Some(room))
            .count();
        if n >= max {
            return Err(refusal(
                &self.metrics,
                Limit::ParticipantsPerRoom,
                ErrorCode::Full,
                format!("room {room:?} is full ({max} participants)"),
            ));
        }
        Ok(())
    }

    /// Whether `conn` may publish one more track of `source`: one live track per source,
    /// and [`Limits::max_tracks_per_participant`] in all.
    pub(super) fn check_new_track(&self, conn: ConnId, source: Source) -> Result<(), Refusal> {
        let mine = || self.tracks.iter().filter(|t| t.owner == conn);
        if mine().any(|t| t.info.source == source) {
            return Err(refusal(
                &self.metrics,
                Limit::Tracks,
                ErrorCode::Full,
                format!("already publishing a {source:?} track; one per source"),
            ));
        }
        let max = self.config.limits.max_tracks_per_participant;
        if mine().count() >= max {
            return Err(refusal(
                &self.metrics,
                Limit::Tracks,
                ErrorCode::Full,
                format!("already publishing {max} tracks, the limit"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use classroom_protocol::{SimulcastLayer, Source};

    #[test]
    fn every_named_limit_can_be_set_and_bad_ones_are_clear() {
        let mut l = Limits::default();
        for name in Limits::NAMES {
            l.set(name, "7").expect(name);
        }
        assert_eq!(l.max_participants_per_room, 7);
        assert_eq!(l.idle_timeout, Duration::from_secs(7));
        assert_ne!(l, Limits::default());
        let e = l.set("max_fun", "1").expect_err("unknown");
        assert!(e.to_string().contains("max_participants_per_room"), "{e}");
        assert!(matches!(
            l.set("max_connections", "0"),
            Err(LimitError::Value { .. })
        ));
        assert!(matches!(
            l.set("max_connections", "-1"),
            Err(LimitError::Value { .. })
        ));
        assert!(matches!(
            l.set("max_connections", "x"),
            Err(LimitError::Value { .. })
        ));
        l.set("messages_per_second", &u64::MAX.to_string())
            .expect("saturates");
        assert_eq!(l.messages_per_second, u32::MAX);
    }

    #[test]
    fn offers_with_too_many_lines_layers_or_huge_layers_are_refused_and_counted() {
        let m = Metrics::default();
        let l = Limits::default();
        let cam = |layers: Vec<(u32, u32)>| {
            let mut t = PublishTrack::new("0", Source::Camera);
            t.layers = layers
                .into_iter()
                .enumerate()
                .map(|(i, (width, height))| SimulcastLayer {
                    rid: format!("r{i}"),
                    width,
                    height,
                })
                .collect();
            t
        };
        assert!(check_publish_offer(&l, &m, 3, &[cam(vec![(320, 180)])]).is_ok());
        let err = check_publish_offer(&l, &m, 300, &[]).expect_err("m-lines");
        assert_eq!(err.0, ErrorCode::Full);
        let four = cam(vec![(1, 1), (2, 2), (3, 3), (4, 4)]);
        assert_eq!(
            check_publish_offer(&l, &m, 1, &[four])
                .expect_err("layers")
                .0,
            ErrorCode::Invalid
        );
        let huge = cam(vec![(70_000, 70_000)]);
        let err = check_publish_offer(&l, &m, 1, &[huge]).expect_err("size");
        assert!(err.1.contains("70000x70000"), "{}", err.1);
        let s = m.snapshot();
        assert_eq!(s.refusals.tracks, 1);
        assert_eq!(s.refusals.simulcast_layers, 2);
    }

    #[test]
    fn candidates_are_capped_per_transport_and_odd_addresses_refused() {
        let m = Metrics::default();
        let l = Limits {
            max_remote_candidates: 2,
            ..Limits::default()
        };
        let mut g = Guard::default();
        let c = |a: &str| Candidate::host(a.parse().expect("addr"), "udp").expect("candidate");
        for port in [1000, 1001] {
            g.add_candidate(
                &l,
                &m,
                1,
                Transport::Publish,
                &c(&format!("10.0.0.1:{port}")),
            )
            .expect("within");
        }
        assert!(
            g.add_candidate(&l, &m, 1, Transport::Publish, &c("10.0.0.1:1002"))
                .is_err()
        );
        // The other transport and the other participant have their own budgets.
        assert!(
            g.add_candidate(&l, &m, 1, Transport::Subscribe, &c("10.0.0.1:1002"))
                .is_ok()
        );
        assert!(
            g.add_candidate(&l, &m, 2, Transport::Publish, &c("10.0.0.1:1002"))
                .is_ok()
        );
        // (str0m itself refuses some of these; the check stands on its own.)
        for bad in [
            "255.255.255.255:9",
            "224.0.0.1:9",
            "0.0.0.0:9",
            "10.0.0.1:0",
        ] {
            let a: std::net::SocketAddr = bad.parse().expect("addr");
            assert!(
                check_candidate_address(&m, a.ip(), a.port()).is_err(),
                "{bad}"
            );
        }
        let line =
            |port: u16| format!("a=candidate:1 1 udp 2130706431 10.0.0.2 {port} typ host\r\n");
        let two = format!("{}{}", line(1), line(2));
        g.add_sdp_candidates(&l, &m, 4, Transport::Publish, &two)
            .expect("two fit");
        // The same two again (a renegotiation) cost nothing; a third does not fit.
        g.add_sdp_candidates(&l, &m, 4, Transport::Publish, &two)
            .expect("repeated");
        let three = format!("{two}{}", line(3));
        assert!(
            g.add_sdp_candidates(&l, &m, 4, Transport::Publish, &three)
                .is_err()
        );
        g.forget(1);
        assert!(
            g.add_candidate(&l, &m, 1, Transport::Publish, &c("10.0.0.1:1002"))
                .is_ok()
        );
        assert_eq!(m.snapshot().refusals.remote_candidates, 6);
    }

    #[test]
    fn unconnected_transports_are_overdue_after_the_deadline_only() {
        let l = Limits {
            transport_connect_timeout: Duration::from_secs(30),
            ..Limits::default()
        };
        let mut g = Guard::default();
        let t0 = Instant::now();
        let world = |connected: bool| vec![(1, true, connected), (2, false, false)].into_iter();
        assert!(g.overdue(&l, t0, world(false)).is_empty());
        // Within a second nothing is looked at.
        assert!(
            g.overdue(&l, t0 + Duration::from_millis(10), world(false))
                .is_empty()
        );
        // 1 connects in time; 2 never does.
        assert!(
            g.overdue(&l, t0 + Duration::from_secs(5), world(true))
                .is_empty()
        );
        assert_eq!(
            g.overdue(&l, t0 + Duration::from_secs(31), world(true)),
            vec![2]
        );
    }
}
