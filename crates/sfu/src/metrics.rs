//! Counters shared between the core, the driver and whoever reports them.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Server counters. Plain atomics so that reading them never blocks forwarding.
#[derive(Debug, Default)]
pub struct Metrics {
    rooms: AtomicU64,
    participants: AtomicU64,
    tracks: AtomicU64,
    udp_packets_in: AtomicU64,
    udp_bytes_in: AtomicU64,
    udp_packets_out: AtomicU64,
    udp_bytes_out: AtomicU64,
    udp_dropped: AtomicU64,
    codec_mismatches: AtomicU64,
    fanout_spread: AtomicU64,
    rtx_resent: AtomicU64,
    rtx_unanswered: AtomicU64,
    early_datagrams_taken: AtomicU64,
    udp_receives: AtomicU64,
    udp_gso_datagrams: AtomicU64,
    udp_send_messages: AtomicU64,
    media_forwarded: AtomicU64,
    media_forwarded_queued: AtomicU64,
    keyframe_requests: AtomicU64,
    signaling_errors: AtomicU64,
    connections_refused: AtomicU64,
    nacks_received: AtomicU64,
    packets_lost_in: AtomicU64,
    packets_lost_out: AtomicU64,
    active_speaker_changes: AtomicU64,
    refusals: [AtomicU64; Limit::ALL.len()],
    timeouts: [AtomicU64; Timeout::ALL.len()],
    accept_errors: AtomicU64,
    signaling_queue_overflows: AtomicU64,
    connections_open: AtomicU64,
    lesson_requests: AtomicU64,
    lesson_errors: AtomicU64,
    lesson_bytes_out: AtomicU64,
}

/// A limit from [`crate::Limits`] that refused something, for the refusal counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// A room already had `max_participants_per_room`.
    ParticipantsPerRoom,
    /// Too many m-lines or tracks (or a second track of one source).
    Tracks,
    /// Too many or oversized simulcast layers, or an undeclared RID.
    SimulcastLayers,
    /// Too many remote candidates, or one naming no reachable host.
    RemoteCandidates,
    /// One identity's WHIP/WHEP sessions.
    HttpSessionsPerIdentity,
    /// One room's WHIP/WHEP sessions.
    HttpSessionsPerRoom,
    /// Open connections from one address.
    ConnectionsPerSource,
    /// Open connections in all.
    Connections,
    /// Messages or requests over a connection's rate.
    MessageRate,
}

impl Limit {
    /// Every limit, in the order of [`Refusals`]' fields.
    pub const ALL: [Limit; 9] = [
        Limit::ParticipantsPerRoom,
        Limit::Tracks,
        Limit::SimulcastLayers,
        Limit::RemoteCandidates,
        Limit::HttpSessionsPerIdentity,
        Limit::HttpSessionsPerRoom,
        Limit::ConnectionsPerSource,
        Limit::Connections,
        Limit::MessageRate,
    ];

    /// The label in `/metrics`.
    pub fn name(self) -> &'static str {
        match self {
            Limit::ParticipantsPerRoom => "participants_per_room",
            Limit::Tracks => "tracks",
            Limit::SimulcastLayers => "simulcast_layers",
            Limit::RemoteCandidates => "remote_candidates",
            Limit::HttpSessionsPerIdentity => "http_sessions_per_identity",
            Limit::HttpSessionsPerRoom => "http_sessions_per_room",
            Limit::ConnectionsPerSource => "connections_per_source",
            Limit::Connections => "connections",
            Limit::MessageRate => "message_rate",
        }
    }
}

/// A deadline that ended a connection or a session, for the timeout counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Timeout {
    /// Request headers (or the TLS handshake) not sent in time; idle keep-alive.
    Header,
    /// A request body not sent in time.
    Body,
    /// A websocket that did not join in time.
    Join,
    /// A websocket silent (no pong either) for too long, or not taking writes.
    Idle,
    /// A peer connection that did not connect in time.
    TransportConnect,
    /// A peer connection whose ICE was lost after connecting.
    IceLost,
}

impl Timeout {
    /// Every timeout, in the order of [`Timeouts`]' fields.
    pub const ALL: [Timeout; 6] = [
        Timeout::Header,
        Timeout::Body,
        Timeout::Join,
        Timeout::Idle,
        Timeout::TransportConnect,
        Timeout::IceLost,
    ];

    /// The label in `/metrics`.
    pub fn name(self) -> &'static str {
        match self {
            Timeout::Header => "header",
            Timeout::Body => "body",
            Timeout::Join => "join",
            Timeout::Idle => "idle",
            Timeout::TransportConnect => "transport_connect",
            Timeout::IceLost => "ice_lost",
        }
    }
}

/// Refusals per limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Refusals {
    /// See [`Limit::ParticipantsPerRoom`].
    pub participants_per_room: u64,
    /// See [`Limit::Tracks`].
    pub tracks: u64,
    /// See [`Limit::SimulcastLayers`].
    pub simulcast_layers: u64,
    /// See [`Limit::RemoteCandidates`].
    pub remote_candidates: u64,
    /// See [`Limit::HttpSessionsPerIdentity`].
    pub http_sessions_per_identity: u64,
    /// See [`Limit::HttpSessionsPerRoom`].
    pub http_sessions_per_room: u64,
    /// See [`Limit::ConnectionsPerSource`].
    pub connections_per_source: u64,
    /// See [`Limit::Connections`].
    pub connections: u64,
    /// See [`Limit::MessageRate`].
    pub message_rate: u64,
}

/// Connections and sessions ended by each deadline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Timeouts {
    /// See [`Timeout::Header`].
    pub header: u64,
    /// See [`Timeout::Body`].
    pub body: u64,
    /// See [`Timeout::Join`].
    pub join: u64,
    /// See [`Timeout::Idle`].
    pub idle: u64,
    /// See [`Timeout::TransportConnect`].
    pub transport_connect: u64,
    /// See [`Timeout::IceLost`].
    pub ice_lost: u64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MetricsSnapshot {
    /// Rooms with at least one joined participant.
    pub rooms: u64,
    /// Connected signaling clients.
    pub participants: u64,
    /// Tracks being published.
    pub tracks: u64,
    /// UDP datagrams received.
    pub udp_packets_in: u64,
    /// UDP bytes received.
    pub udp_bytes_in: u64,
    /// UDP datagrams sent.
    pub udp_packets_out: u64,
    /// UDP bytes sent.
    pub udp_bytes_out: u64,
    /// Datagrams dropped: unparseable, for no known peer, or refused by the peer's stack.
    pub udp_dropped: u64,
    /// Packets not sent to a subscriber that did not accept their codec.
    pub codec_mismatches: u64,
    /// Peer connections polled on the fan-out threads rather than the core's own (0 with
    /// one thread).
    pub fanout_spread: u64,
    /// Video packets resent to subscribers that asked again for them (NACK), as RTX, from
    /// the track's shared cache (`core::rtx`).
    pub rtx_resent: u64,
    /// Packets subscribers asked again for that were not resent (never sent to them, no
    /// longer kept, too old for their round trip, over their cap, or no RTX negotiated).
    pub rtx_unanswered: u64,
    /// Peer connections whose DTLS state was dropped once the handshake settled
    /// (`core::dtls`; process-wide, like the provider).
    pub dtls_released: u64,
    /// DTLS datagrams that arrived after their connection's state was dropped, ignored
    /// (process-wide).
    pub dtls_ignored_after_release: u64,
    /// DTLS datagrams that came before their connection accepted them, kept and taken a
    /// moment later (each saved a handshake a second's retransmission wait).
    pub early_datagrams_taken: u64,
    /// Receive calls on the media sockets; `udp_packets_in` over this is how many datagrams
    /// one call took (`recvmmsg`).
    pub udp_receives: u64,
    /// Datagrams sent inside UDP GSO messages (several to one destination per message).
    pub udp_gso_datagrams: u64,
    /// Messages handed to the kernel: a UDP GSO message or a single datagram each (the
    /// kernel's per-message work, route and device transmit, is paid once per message);
    /// `udp_packets_out` over this is how many datagrams a message carried.
    pub udp_send_messages: u64,
    /// RTP packets written to subscribers.
    pub media_forwarded: u64,
    /// Of those, the ones that waited in str0m's send queue for a poll of the subscriber's
    /// connection instead of being encrypted at once (`Rtc::send_rtp_now`): a stream's
    /// first packet, or packets behind others queued.
    pub media_forwarded_queued: u64,
    /// Keyframe requests sent to publishers.
    pub keyframe_requests: u64,
    /// Signaling messages refused (malformed, unknown, not allowed now).
    pub signaling_errors: u64,
    /// Connections closed for protocol abuse (oversized frames, binary frames).
    pub connections_refused: u64,
    /// NACKs subscribers sent (each answered from the retransmission cache when it can be).
    pub nacks_received: u64,
    /// Packets publishers sent that never arrived (from the receive side's sequence gaps).
    pub packets_lost_in: u64,
    /// Packets subscribers reported lost (from their receiver reports).
    pub packets_lost_out: u64,
    /// Times a room's active speaker changed.
    pub active_speaker_changes: u64,
    /// Refusals by the limits, per limit.
    pub refusals: Refusals,
    /// Connections and sessions ended by a deadline, per deadline.
    pub timeouts: Timeouts,
    /// Failed accepts on the signaling port (e.g. out of file descriptors), each followed
    /// by a pause.
    pub accept_errors: u64,
    /// Websockets closed because their outgoing queue was full (a client not reading).
    pub signaling_queue_overflows: u64,
    /// TCP connections open on the signaling port (HTTP, websocket, TLS handshakes).
    pub connections_open: u64,
    /// Lesson service requests answered (catalog, lesson, upload, file).
    pub lesson_requests: u64,
    /// Lesson service requests refused or failed (each with its status and words).
    pub lesson_errors: u64,
    /// Bytes of lesson files sent (as answered, whether or not the client read them all).
    pub lesson_bytes_out: u64,
}

impl Metrics {
    pub(crate) fn set_rooms(&self, n: usize) {
        self.rooms.store(n as u64, Relaxed);
    }
    pub(crate) fn set_participants(&self, n: usize) {
        self.participants.store(n as u64, Relaxed);
    }
    pub(crate) fn set_tracks(&self, n: usize) {
        self.tracks.store(n as u64, Relaxed);
    }
    pub(crate) fn udp_in(&self, bytes: usize) {
        self.udp_packets_in.fetch_add(1, Relaxed);
        self.udp_bytes_in.fetch_add(bytes as u64, Relaxed);
    }
    /// `datagrams` sent, `bytes` in all (a connection's poll counts its datagrams once).
    pub(crate) fn udp_out_many(&self, datagrams: u64, bytes: u64) {
        if datagrams > 0 {
            self.udp_packets_out.fetch_add(datagrams, Relaxed);
            self.udp_bytes_out.fetch_add(bytes, Relaxed);
        }
    }
    pub(crate) fn udp_dropped(&self) {
        self.udp_dropped.fetch_add(1, Relaxed);
    }
    /// `datagrams` dropped at once (early DTLS pushed out or expired).
    pub(crate) fn udp_dropped_many(&self, datagrams: usize) {
        self.udp_dropped.fetch_add(datagrams as u64, Relaxed);
    }
    pub(crate) fn codec_mismatch(&self) {
        self.codec_mismatches.fetch_add(1, Relaxed);
    }
    pub(crate) fn fanout_spread(&self, connections: usize) {
        self.fanout_spread.fetch_add(connections as u64, Relaxed);
    }
    pub(crate) fn udp_received(&self) {
        self.udp_receives.fetch_add(1, Relaxed);
    }
    /// A send handed the kernel `messages`, `in_gso` datagrams inside GSO messages.
    pub(crate) fn udp_sent(&self, in_gso: usize, messages: usize) {
        self.udp_gso_datagrams.fetch_add(in_gso as u64, Relaxed);
        self.udp_send_messages.fetch_add(messages as u64, Relaxed);
    }
    pub(crate) fn early_datagram_taken(&self) {
        self.early_datagrams_taken.fetch_add(1, Relaxed);
    }
    pub(crate) fn rtx(&self, resent: u64, unanswered: u64) {
        if resent > 0 {
            self.rtx_resent.fetch_add(resent, Relaxed);
        }
        if unanswered > 0 {
            self.rtx_unanswered.fetch_add(unanswered, Relaxed);
        }
    }
    pub(crate) fn forwarded_many(&self, copies: u64, queued: u64) {
        if copies > 0 {
            self.media_forwarded.fetch_add(copies, Relaxed);
        }
        if queued > 0 {
            self.media_forwarded_queued.fetch_add(queued, Relaxed);
        }
    }
    pub(crate) fn keyframe_request(&self) {
        self.keyframe_requests.fetch_add(1, Relaxed);
    }
    pub(crate) fn signaling_error(&self) {
        self.signaling_errors.fetch_add(1, Relaxed);
    }
    pub(crate) fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Relaxed);
    }
    pub(crate) fn nacks(&self, n: u64) {
        self.nacks_received.fetch_add(n, Relaxed);
    }
    pub(crate) fn lost_in(&self, n: u64) {
        self.packets_lost_in.fetch_add(n, Relaxed);
    }
    pub(crate) fn lost_out(&self, n: u64) {
        self.packets_lost_out.fetch_add(n, Relaxed);
    }
    pub(crate) fn speaker_change(&self) {
        self.active_speaker_changes.fetch_add(1, Relaxed);
    }

    /// Counts a refusal by `limit`.
    pub fn refused(&self, limit: Limit) {
        if let Some(c) = Limit::ALL
            .iter()
            .position(|l| *l == limit)
            .and_then(|i| self.refusals.get(i))
        {
            c.fetch_add(1, Relaxed);
        }
    }
    /// Counts a connection or session ended by `timeout`.
    pub fn timed_out(&self, timeout: Timeout) {
        if let Some(c) = Timeout::ALL
            .iter()
            .position(|t| *t == timeout)
            .and_then(|i| self.timeouts.get(i))
        {
            c.fetch_add(1, Relaxed);
        }
    }
    pub(crate) fn accept_error(&self) {
        self.accept_errors.fetch_add(1, Relaxed);
    }
    pub(crate) fn set_connections_open(&self, n: usize) {
        self.connections_open.store(n as u64, Relaxed);
    }
    pub(crate) fn queue_overflow(&self) {
        self.signaling_queue_overflows.fetch_add(1, Relaxed);
    }
    pub(crate) fn lesson_request(&self) {
        self.lesson_requests.fetch_add(1, Relaxed);
    }
    pub(crate) fn lesson_error(&self) {
        self.lesson_errors.fetch_add(1, Relaxed);
    }
    pub(crate) fn lesson_bytes_out(&self, bytes: u64) {
        self.lesson_bytes_out.fetch_add(bytes, Relaxed);
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let r = |l: Limit| {
            Limit::ALL
                .iter()
                .position(|x| *x == l)
                .and_then(|i| self.refusals.get(i))
                .map_or(0, |c| c.load(Relaxed))
        };
        let t = |x: Timeout| {
            Timeout::ALL
                .iter()
                .position(|y| *y == x)
                .and_then(|i| self.timeouts.get(i))
                .map_or(0, |c| c.load(Relaxed))
        };
        MetricsSnapshot {
            rooms: self.rooms.load(Relaxed),
            participants: self.participants.load(Relaxed),
            tracks: self.tracks.load(Relaxed),
            udp_packets_in: self.udp_packets_in.load(Relaxed),
            udp_bytes_in: self.udp_bytes_in.load(Relaxed),
            udp_packets_out: self.udp_packets_out.load(Relaxed),
            udp_bytes_out: self.udp_bytes_out.load(Relaxed),
            udp_dropped: self.udp_dropped.load(Relaxed),
            codec_mismatches: self.codec_mismatches.load(Relaxed),
            fanout_spread: self.fanout_spread.load(Relaxed),
            rtx_resent: self.rtx_resent.load(Relaxed),
            rtx_unanswered: self.rtx_unanswered.load(Relaxed),
            dtls_released: crate::core::dtls::released(),
            dtls_ignored_after_release: crate::core::dtls::ignored_after_release(),
            early_datagrams_taken: self.early_datagrams_taken.load(Relaxed),
            udp_receives: self.udp_receives.load(Relaxed),
            udp_gso_datagrams: self.udp_gso_datagrams.load(Relaxed),
            udp_send_messages: self.udp_send_messages.load(Relaxed),
            media_forwarded: self.media_forwarded.load(Relaxed),
            media_forwarded_queued: self.media_forwarded_queued.load(Relaxed),
            keyframe_requests: self.keyframe_requests.load(Relaxed),
            signaling_errors: self.signaling_errors.load(Relaxed),
            connections_refused: self.connections_refused.load(Relaxed),
            nacks_received: self.nacks_received.load(Relaxed),
            packets_lost_in: self.packets_lost_in.load(Relaxed),
            packets_lost_out: self.packets_lost_out.load(Relaxed),
            active_speaker_changes: self.active_speaker_changes.load(Relaxed),
            refusals: Refusals {
                participants_per_room: r(Limit::ParticipantsPerRoom),
                tracks: r(Limit::Tracks),
                simulcast_layers: r(Limit::SimulcastLayers),
                remote_candidates: r(Limit::RemoteCandidates),
                http_sessions_per_identity: r(Limit::HttpSessionsPerIdentity),
                http_sessions_per_room: r(Limit::HttpSessionsPerRoom),
                connections_per_source: r(Limit::ConnectionsPerSource),
                connections: r(Limit::Connections),
                message_rate: r(Limit::MessageRate),
            },
            timeouts: Timeouts {
                header: t(Timeout::Header),
                body: t(Timeout::Body),
                join: t(Timeout::Join),
                idle: t(Timeout::Idle),
                transport_connect: t(Timeout::TransportConnect),
                ice_lost: t(Timeout::IceLost),
            },
            accept_errors: self.accept_errors.load(Relaxed),
            signaling_queue_overflows: self.signaling_queue_overflows.load(Relaxed),
            connections_open: self.connections_open.load(Relaxed),
            lesson_requests: self.lesson_requests.load(Relaxed),
            lesson_errors: self.lesson_errors.load(Relaxed),
            lesson_bytes_out: self.lesson_bytes_out.load(Relaxed),
        }
    }
}
