//! One participant's state: its signaling identity and its two peer connections.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::Instant;

use classroom::MediaGrant;
use classroom_protocol::{MediaKind, NetworkQuality, PublishTrack, Role, TrackInfo};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, Mid, Rid};
use str0m::{Rtc, SentNow};

use super::dtls::PeerKeyed;
use super::outstream::OutStreams;
use super::rtx::Cached;
use super::{ConnId, Output};

/// A participant the class let in.
#[derive(Debug, Clone)]
pub(crate) struct Joined {
    /// The class's id for them, stable across reconnects.
    pub participant_id: String,
    pub room: String,
    #[allow(dead_code)] // kept for logs and diagnostics
    pub role: Role,
    pub subscribe: bool,
    /// What the class lets them do with media now (publish which sources, microphone
    /// forwarded); updated by the class's `Media` outputs.
    pub grant: MediaGrant,
}

/// A signaling connection and the peer connections hanging off it.
pub(crate) struct Participant {
    pub conn: ConnId,
    /// Where the signaling connection comes from (the class rate-limits code joins by it).
    pub peer: IpAddr,
    /// A join was handed to the class (it may be waiting in the lobby or the join queue).
    pub join_started: bool,
    /// The network quality last told to the class.
    pub network: Option<NetworkQuality>,
    pub joined: Option<Joined>,
    /// Client -> server media; the client offers. Boxed, like the subscribe side: an `Rtc`
    /// is kilobytes, and most participants (students off stage) never have one.
    pub publish: Option<Box<Rtc>>,
    /// Set once the publisher is heard under the publish connection's keys (its DTLS state
    /// is then let go, `dtls::PeerKeyed`).
    pub publish_keyed: PeerKeyed,
    publish_next: Option<Instant>,
    /// The publish transport has input or timers to process: poll it.
    pub publish_dirty: bool,
    /// What the client said each publish m-line carries (source, simulcast layers), by mid.
    pub publish_sources: HashMap<String, PublishTrack>,
    /// Server -> client media; the server offers.
    pub subscribe: Option<Box<SubscribeSide>>,
    /// Last cumulative (NACKs, packets) seen per stream, to turn str0m's totals into deltas.
    pub stats_seen: HashMap<(bool, Mid, Option<Rid>), (u64, u64)>,
    /// The signaling connection came from this computer, so loopback candidates are offered.
    pub local_peer: bool,
    /// A peer connection of theirs has connected (ICE and DTLS) at least once: one that dies
    /// afterwards was lost, one that dies before never connected.
    pub media_connected: bool,
    /// The time of their live entry in the core's timers (`timers.rs`), if they have one.
    scheduled: Option<Instant>,
}

impl Participant {
    pub fn new(conn: ConnId, peer: IpAddr) -> Self {
        Participant {
            conn,
            peer,
            join_started: false,
            network: None,
            joined: None,
            publish: None,
            publish_keyed: PeerKeyed::default(),
            publish_next: None,
            publish_dirty: true,
            publish_sources: HashMap::new(),
            subscribe: None,
            stats_seen: HashMap::new(),
            local_peer: false,
            media_connected: false,
            scheduled: None,
        }
    }

    pub fn room(&self) -> Option<&str> {
        self.joined.as_ref().map(|j| j.room.as_str())
    }

    /// Both peer connections, for demultiplexing input.
    pub fn rtcs_mut(&mut self) -> impl Iterator<Item = &mut Rtc> {
        self.publish
            .as_deref_mut()
            .into_iter()
            .chain(self.subscribe.as_deref_mut().map(|s| &mut s.rtc))
    }

    /// Both peer connections with whether each is the publish one, its timeout slot and its
    /// dirty flag.
    pub fn rtcs_tagged_mut(&mut self) -> [Option<TaggedRtc<'_>>; 2] {
        [
            self.publish
                .as_deref_mut()
                .map(|rtc| (true, rtc, &mut self.publish_next, &mut self.publish_dirty)),
            self.subscribe
                .as_mut()
                .map(|s| (false, &mut s.rtc, &mut s.next, &mut s.dirty)),
        ]
    }

    /// The publish (`publish`) or subscribe peer connection, tagged as above.
    pub fn rtc_tagged_mut(&mut self, publish: bool) -> Option<TaggedRtc<'_>> {
        self.rtcs_tagged_mut()
            .into_iter()
            .flatten()
            .find(|t| t.0 == publish)
    }

    /// Whether a peer connection has input or timers to process, or copies to send.
    pub fn is_dirty(&self) -> bool {
        (self.publish.is_some() && self.publish_dirty)
            || self.subscribe.as_ref().is_some_and(|s| s.has_work())
    }

    /// Marks both peer connections as needing a poll.
    pub fn touch(&mut self) {
        self.publish_dirty = true;
        if let Some(s) = self.subscribe.as_mut() {
            s.dirty = true;
        }
    }

    /// Marks the peer connections whose timers are due as needing a poll; the poll runs
    /// their timers (`poll::poll_participant`), on whichever thread polls them. Whether any
    /// was.
    pub fn mark_due(&mut self, now: Instant) -> bool {
        let mut any = false;
        for (_, _, next, dirty) in self.rtcs_tagged_mut().into_iter().flatten() {
            if next.is_none_or(|t| t <= now) {
                *dirty = true;
                any = true;
            }
        }
        any
    }

    /// The time of their live entry in the core's timers.
    pub fn scheduled(&self) -> Option<Instant> {
        self.scheduled
    }

    /// Their entry for `at` in the core's timers, when it is earlier than the live one (or
    /// there is none): `Some(at)` is to be pushed.
    pub fn reschedule_at(&mut self, at: Instant) -> Option<Instant> {
        if self.scheduled.is_some_and(|s| s <= at) {
            return None;
        }
        self.scheduled = Some(at);
        Some(at)
    }

    /// After a poll: their entry for the earliest timer of their connections, when it is
    /// earlier than the live one (`Some` is to be pushed).
    pub fn reschedule(&mut self) -> Option<Instant> {
        self.next_timeout().and_then(|at| self.reschedule_at(at))
    }

    /// Their entry for `at` came out of the core's timers: true (and no live entry left)
    /// when it was the live one, false for a stale one.
    pub fn take_scheduled(&mut self, at: Instant) -> bool {
        if self.scheduled != Some(at) {
            return false;
        }
        self.scheduled = None;
        true
    }

    /// Earliest timer of either peer connection.
    pub fn next_timeout(&self) -> Option<Instant> {
        let sub = self.subscribe.as_ref().and_then(|s| s.next);
        // Only a publish connection that is still there: one closed (taken off stage) left
        // its last timer behind, which, once past, made every turn's timeout due at once.
        let publish = self.publish.as_ref().and(self.publish_next);
        match (publish, sub) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn close_all(&mut self) {
        for rtc in self.rtcs_mut() {
            rtc.disconnect();
        }
    }
}

/// One peer connection as [`Participant::rtcs_tagged_mut`] hands it out: whether it is the
/// publish one, the connection, its next timer and its dirty flag.
pub(crate) type TaggedRtc<'a> = (bool, &'a mut Rtc, &'a mut Option<Instant>, &'a mut bool);

/// Where one forwarded track stands in the subscribe negotiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutState {
    /// Waiting for the next offer.
    Queued,
    /// In an offer the client has not answered yet.
    Negotiating(Mid),
    /// Negotiated: media flows.
    Open(Mid),
    /// The track ended; its m-line is to be stopped in the next offer.
    StopQueued(Mid),
    /// Stopped in an offer the client has not answered yet.
    Stopping(Mid),
    /// Made inactive instead of stopped because no other m-line would stay live: an offer
    /// whose m-lines are all stopped has no BUNDLE group, and peers (str0m among them) refuse
    /// it. Not reused yet: a new track gets a new m-line.
    Idle(Mid),
}

struct Out {
    track: TrackInfo,
    state: OutState,
}

/// The server-offered peer connection that carries the room's tracks to one participant.
pub(crate) struct SubscribeSide {
    pub rtc: Rtc,
    /// Set once the subscriber is heard under the connection's keys (`dtls::PeerKeyed`).
    pub keyed: PeerKeyed,
    pub next: Option<Instant>,
    /// Has input, queued writes or timers to process: poll it. (Copies sent at once need
    /// no poll: `write_copy`.)
    pub dirty: bool,
    pending: Option<SdpPendingOffer>,
    outs: Vec<Out>,
    /// Per open track (by track number): the rewriting and layer state of what is sent.
    pub streams: OutStreams,
    /// The latest egress bandwidth estimate (TWCC), bits per second.
    pub estimate_bps: Option<f64>,
    /// For a WHEP session: the m-lines the client offered, which tracks are pointed at
    /// instead of negotiated. Empty for a websocket client.
    pub whep_mids: Vec<(Mid, MediaKind)>,
    /// Copies forwarded but not yet written into the connection's streams: written when the
    /// connection is polled, on whichever thread polls it.
    pub writes: Vec<Deferred>,
}

/// The packets forwarded in one [`Sfu::drive`](super::Sfu) with a fan-out pool, kept once for
/// all their copies ([`Deferred`]) until every copy is written (the end of the drive).
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// Which drive: a copy from another one is stale and not written.
    pub generation: u32,
    pub packets: Vec<Cached>,
    /// Packets forwarded since the last poll whose copies the polling threads make
    /// (`forward::copy_for`), for every subscriber they poll.
    pub fanned: Vec<super::forward::Fanned>,
}

impl Batch {
    /// Keeps `packet` for this drive's copies; its index.
    pub fn keep(&mut self, packet: Cached) -> u32 {
        self.packets.push(packet);
        u32::try_from(self.packets.len() - 1).unwrap_or(u32::MAX)
    }

    /// The drive is over: its copies are written.
    pub fn clear(&mut self) {
        if !self.packets.is_empty() {
            self.packets.clear();
            self.generation = self.generation.wrapping_add(1);
        }
    }
}

/// A copy forwarded with a fan-out pool: what the thread that polls the subscriber sends it
/// from with the packet's shared write (`Cached::copy`). ~48 bytes where an `RtpWrite` is
/// 320: the core's thread writes one per student for every packet, and the pool's threads
/// read them from another core.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deferred {
    pub mid: Mid,
    /// [`Batch::generation`] and the packet's index in it.
    pub generation: u32,
    pub packet: u32,
    /// What the copy has of its own on the subscriber's stream.
    pub copy: str0m::rtp::RtpCopy,
}

// Small is the point of it (see above).
const _: () = assert!(std::mem::size_of::<Deferred>() <= 48);

/// Counts of copies and datagrams, added to the shared [`Metrics`](crate::metrics::Metrics)
/// once per packet or per batch rather than per copy: an atomic add per copy was ~2 % of the
/// core's time, and from the pool's threads the counters' cache line would travel between
/// cores.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Tally {
    /// Copies that found their stream.
    pub forwarded: u64,
    /// Of those, copies queued for a poll instead of sent at once.
    pub queued: u64,
    pub datagrams: u64,
    pub bytes: u64,
}

impl Tally {
    /// Counts `t` and hands it to the driver, in `outputs`.
    pub fn transmit(&mut self, t: str0m::net::Transmit, outputs: &mut VecDeque<Output>) {
        self.datagrams += 1;
        self.bytes += t.contents.len() as u64;
        outputs.push_back(Output::Transmit {
            source: t.source,
            destination: t.destination,
            // The encrypted datagram itself, not a copy of it.
            contents: t.contents.into(),
        });
    }

    pub fn add(&mut self, other: &Tally) {
        self.forwarded += other.forwarded;
        self.queued += other.queued;
        self.datagrams += other.datagrams;
        self.bytes += other.bytes;
    }

    pub fn add_to(&self, metrics: &crate::metrics::Metrics) {
        metrics.forwarded_many(self.forwarded, self.queued);
        metrics.udp_out_many(self.datagrams, self.bytes);
    }
}

impl SubscribeSide {
    /// Its connection has input or timers to process, or copies kept for its poll.
    pub fn has_work(&self) -> bool {
        self.dirty || !self.writes.is_empty()
    }

    pub fn new((rtc, keyed): (Rtc, PeerKeyed)) -> Self {
        SubscribeSide {
            rtc,
            keyed,
            next: None,
            dirty: true,
            pending: None,
            outs: Vec::new(),
            streams: OutStreams::default(),
            estimate_bps: None,
            whep_mids: Vec::new(),
            writes: Vec::new(),
        }
    }

    /// Sends one copy on the stream of `mid`: encrypted at once into `outputs` when str0m
    /// can (`Rtc::send_rtp_now`, vendor/str0m/CLASSROOM.md), else written into the stream's
    /// queue and the connection marked for a poll; counted into `tally` either way.
    pub fn write_copy(
        &mut self,
        now: Instant,
        mid: Mid,
        copy: str0m::rtp::RtpCopy,
        source: &Cached,
        outputs: &mut VecDeque<Output>,
        tally: &mut Tally,
    ) {
        match self.rtc.send_rtp_now(mid, None, &source.write, copy, now) {
            SentNow::Transmit(t) => {
                tally.forwarded += 1;
                tally.transmit(t, outputs);
            }
            SentNow::Queued => {
                self.dirty = true;
                tally.forwarded += 1;
                tally.queued += 1;
            }
            // One renegotiated away takes nothing; a PT the media lacks cannot be sent
            // (`OutStream::payload_type` maps to the subscriber's own).
            SentNow::NoStream | SentNow::Dropped => {}
        }
    }

    /// Sends the copies forwarded since the last poll (`write_copy`), built from `batch`,
    /// counted into `tally`.
    pub fn write_forwarded(
        &mut self,
        now: Instant,
        batch: &Batch,
        outputs: &mut VecDeque<Output>,
        tally: &mut Tally,
    ) {
        if self.writes.is_empty() {
            return;
        }
        // Taken out and put back, so the list keeps its room for the next burst.
        let mut writes = std::mem::take(&mut self.writes);
        for d in writes.drain(..) {
            let source = (d.generation == batch.generation)
                .then(|| batch.packets.get(d.packet as usize))
                .flatten();
            // Every copy is written within the drive that made it (`Sfu::drive`).
            debug_assert!(source.is_some(), "a copy outlived its drive");
            let Some(source) = source else {
                continue;
            };
            self.write_copy(now, d.mid, d.copy, source, outputs, tally);
        }
        self.writes = writes;
    }

    /// Adds a track to send, unless it is already there.
    pub fn queue(&mut self, track: TrackInfo) {
        if !self.outs.iter().any(|o| o.track.track_id == track.track_id) {
            self.outs.push(Out {
                track,
                state: OutState::Queued,
            });
        }
    }

    /// The track ended: stop its m-line (or forget it if it was never offered). Returns
    /// whether an offer is needed to tell the client.
    pub fn stop(&mut self, track_id: &str) -> bool {
        self.outs
            .retain(|o| !(o.track.track_id == track_id && o.state == OutState::Queued));
        let mut changed = false;
        for o in self
            .outs
            .iter_mut()
            .filter(|o| o.track.track_id == track_id)
        {
            if let OutState::Open(m) | OutState::Negotiating(m) = o.state {
                o.state = OutState::StopQueued(m);
                changed = true;
            }
        }
        changed
    }

    /// Builds the next offer if anything changed and no offer is outstanding. Returns the
    /// offer and every track that is (or will be, once answered) carried, by mid.
    pub fn make_offer(&mut self) -> Option<(SdpOffer, Vec<(Mid, TrackInfo)>)> {
        if self.pending.is_some() {
            return None;
        }
        let live = self
            .outs
            .iter()
            .filter(|o| {
                matches!(
                    o.state,
                    OutState::Queued | OutState::Negotiating(_) | OutState::Open(_)
                )
            })
            .count();
        let mut api = self.rtc.sdp_api();
        for o in &mut self.outs {
            match o.state {
                OutState::Queued => {
                    let kind = match o.track.kind {
                        MediaKind::Audio => str0m::media::MediaKind::Audio,
                        MediaKind::Video => str0m::media::MediaKind::Video,
                    };
                    let mid = api.add_media(
                        kind,
                        Direction::SendOnly,
                        Some(o.track.participant_id.clone()),
                        Some(o.track.track_id.clone()),
                        None,
                    );
                    o.state = OutState::Negotiating(mid);
                }
                OutState::StopQueued(m) if live == 0 => {
                    api.set_direction(m, Direction::Inactive);
                    o.state = OutState::Idle(m);
                }
                OutState::StopQueued(m) => {
                    api.stop_media(m);
                    o.state = OutState::Stopping(m);
                }
                _ => {}
            }
        }
        if !api.has_changes() {
            return None;
        }
        let (offer, pending) = api.apply()?;
        self.pending = Some(pending);
        let carried = self
            .outs
            .iter()
            .filter_map(|o| match o.state {
                OutState::Negotiating(m) | OutState::Open(m) => Some((m, o.track.clone())),
                _ => None,
            })
            .collect();
        Some((offer, carried))
    }

    /// Applies the client's answer; returns the tracks that just opened and their mids.
    pub fn accept_answer(&mut self, answer: SdpAnswer) -> Result<Vec<(TrackInfo, Mid)>, String> {
        let pending = self
            .pending
            .take()
            .ok_or("no subscribe offer outstanding")?;
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| format!("answer refused: {e}"))?;
        let mut opened = Vec::new();
        for o in &mut self.outs {
            if let OutState::Negotiating(m) = o.state {
                o.state = OutState::Open(m);
                opened.push((o.track.clone(), m));
            }
        }
        self.outs
            .retain(|o| !matches!(o.state, OutState::Stopping(_)));
        Ok(opened)
    }

    /// The track carried on `mid`, if any.
    pub fn track_at(&self, mid: Mid) -> Option<&str> {
        self.outs
            .iter()
            .find(|o| matches!(o.state, OutState::Open(m) | OutState::Negotiating(m) if m == mid))
            .map(|o| o.track.track_id.as_str())
    }
}
