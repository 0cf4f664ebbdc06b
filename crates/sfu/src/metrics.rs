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
    media_forwarded: AtomicU64,
    keyframe_requests: AtomicU64,
    signaling_errors: AtomicU64,
    connections_refused: AtomicU64,
    nacks_received: AtomicU64,
    packets_lost_in: AtomicU64,
    packets_lost_out: AtomicU64,
    active_speaker_changes: AtomicU64,
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
    /// RTP packets written to subscribers.
    pub media_forwarded: u64,
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
    pub(crate) fn udp_out(&self, bytes: usize) {
        self.udp_packets_out.fetch_add(1, Relaxed);
        self.udp_bytes_out.fetch_add(bytes as u64, Relaxed);
    }
    pub(crate) fn udp_dropped(&self) {
        self.udp_dropped.fetch_add(1, Relaxed);
    }
    pub(crate) fn forwarded(&self) {
        self.media_forwarded.fetch_add(1, Relaxed);
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

    /// Reads every counter.
    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            rooms: self.rooms.load(Relaxed),
            participants: self.participants.load(Relaxed),
            tracks: self.tracks.load(Relaxed),
            udp_packets_in: self.udp_packets_in.load(Relaxed),
            udp_bytes_in: self.udp_bytes_in.load(Relaxed),
            udp_packets_out: self.udp_packets_out.load(Relaxed),
            udp_bytes_out: self.udp_bytes_out.load(Relaxed),
            udp_dropped: self.udp_dropped.load(Relaxed),
            media_forwarded: self.media_forwarded.load(Relaxed),
            keyframe_requests: self.keyframe_requests.load(Relaxed),
            signaling_errors: self.signaling_errors.load(Relaxed),
            connections_refused: self.connections_refused.load(Relaxed),
            nacks_received: self.nacks_received.load(Relaxed),
            packets_lost_in: self.packets_lost_in.load(Relaxed),
            packets_lost_out: self.packets_lost_out.load(Relaxed),
            active_speaker_changes: self.active_speaker_changes.load(Relaxed),
        }
    }
}
