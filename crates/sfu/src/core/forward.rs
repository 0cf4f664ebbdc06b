//! Media between peer connections: what polling them found (`poll.rs`) applied: publishers'
//! RTP packets forwarded to subscribers, keyframe requests, layer choice and tracks
//! appearing.
//!
//! Forwarding is packet by packet (str0m's RTP mode): nothing is depacketised or buffered in
//! the SFU. Each subscriber's copy gets its own sequence numbers and RTP times from its
//! [`Rewriter`], and str0m keeps every sent video packet in the subscriber's retransmission
//! cache, so the subscriber's NACKs are answered by the SFU without a round trip to the
//! publisher. Losses between publisher and SFU are NACKed by str0m's receive side.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use classroom_protocol::{ErrorCode, MediaKind, ServerMessage, Source, TrackInfo};
use str0m::format::{Codec, PayloadParams};
use str0m::media::{KeyframeRequestKind, Mid, Pt, Rid};
use str0m::rtp::{ExtensionValues, RtpCopy, RtpPacket};
use tracing::{debug, info, warn};

use super::participant::{Deferred, SubscribeSide, Tally};
use super::payload;
use super::rewrite::{Incoming, Rewriter};
use super::rtx::{Cached, RTX_CACHE_AGE, ResendCap, SentLog, configure_out_stream, rtx_age};
use super::simulcast::{self, Layer, Limits};
use super::{ConnId, INITIAL_ESTIMATE_BPS, Output, Sfu, Track};
use crate::metrics::Metrics;

/// Layer choice is revisited at most this often per subscriber and track.
const CHOOSE_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Work found while polling one peer connection, applied after the poll so that no two
/// participants are borrowed at once.
#[allow(clippy::large_enum_variant)] // see `Rtp::packet`
pub(super) enum Propagate {
    Rtp {
        conn: ConnId,
        mid: Mid,
        rid: Option<Rid>,
        // Not boxed: `work` is reused across polls, so a large variant costs nothing, and
        // a box would be an allocation per forwarded packet.
        packet: RtpPacket,
    },
    KeyframeRequest {
        subscriber: ConnId,
        mid: Mid,
        kind: KeyframeRequestKind,
    },
    /// A subscriber asked again for packets of its stream `mid` (NACK).
    Nack {
        subscriber: ConnId,
        mid: Mid,
        seq_nos: Vec<str0m::rtp::SeqNo>,
    },
    MediaAdded(ConnId, Mid, str0m::media::MediaKind),
    /// The publisher stopped sending on an m-line (e.g. it stopped sharing its screen).
    MediaStopped(ConnId, Mid),
    /// A new egress bandwidth estimate for a subscriber (TWCC).
    Estimate(ConnId, f64),
    /// A subscriber's transport is up (DTLS done): media written from now on arrives.
    SubscriberConnected(ConnId),
    /// Cumulative counters of one stream (publish side: ingress; subscribe side: egress).
    Stats {
        conn: ConnId,
        key: (bool, Mid, Option<Rid>),
        nacks: u64,
        packets: u64,
        loss: Option<f32>,
        /// The round trip the receiver's report gave (subscribe side).
        rtt: Option<Duration>,
    },
    Gone(ConnId),
}

/// One track as one subscriber receives it.
#[derive(Debug)]
pub(crate) struct OutStream {
    /// The m-line on the subscriber's transport.
    pub mid: Mid,
    /// Continuous numbering across layer switches.
    pub rewriter: Rewriter,
    /// The layer being sent: `None` before the first packet, `Some(None)` for a track
    /// without simulcast.
    pub current: Option<Option<Rid>>,
    /// The layer wanted (simulcast only); switched to at its next keyframe.
    pub target: Option<Rid>,
    /// The size the subscriber shows the track at, if it said.
    pub viewport: Option<(u32, u32)>,
    last_choice: Option<Instant>,
    /// Whether the track is video (video packets are kept for NACKs; audio is not).
    pub video: bool,
    /// The subscriber's payload type for each of the publisher's (`None`: it cannot take
    /// that codec). A handful at most: the codecs one m-line carries.
    pts: Vec<(Pt, Option<Pt>)>,
    /// The subscriber was told it cannot take this track's codec (told once).
    told_unsupported: bool,
    /// How old a packet its NACKs may have resent (video): [`RTX_CACHE_AGE`] until the
    /// subscriber's receiver reports give a round trip, then [`rtx_age`].
    pub rtx_age: Duration,
    /// The copies it was sent, for its NACKs (video).
    pub sent: SentLog,
    /// How much of what it was sent may be resent.
    pub cap: ResendCap,
}

/// A subscriber's [`OutStream`]s by track number. A handful in a large class (the teacher's
/// camera, screen and microphone), so kept in order in one vector and searched from the
/// front: a copy finds its stream in the vector's first cache lines, where a hash map reads
/// its control bytes and then its entry, one more line to fetch per copy when the state has
/// left the caches between a stream's packets (as it does on a shared machine).
#[derive(Debug, Default)]
pub(crate) struct OutStreams(Vec<(u64, OutStream)>);

impl OutStreams {
    pub fn get(&self, num: &u64) -> Option<&OutStream> {
        self.0.iter().find(|(n, _)| n == num).map(|(_, o)| o)
    }

    pub fn get_mut(&mut self, num: &u64) -> Option<&mut OutStream> {
        self.0.iter_mut().find(|(n, _)| n == num).map(|(_, o)| o)
    }

    /// Adds or replaces track `num`'s stream.
    pub fn insert(&mut self, num: u64, out: OutStream) {
        match self.get_mut(&num) {
            Some(o) => *o = out,
            None => self.0.push((num, out)),
        }
    }

    pub fn remove(&mut self, num: &u64) -> Option<OutStream> {
        let i = self.0.iter().position(|(n, _)| n == num)?;
        Some(self.0.swap_remove(i).1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&u64, &OutStream)> {
        self.0.iter().map(|(n, o)| (n, o))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&u64, &mut OutStream)> {
        self.0.iter_mut().map(|(n, o)| (&*n, o))
    }

    pub fn values(&self) -> impl Iterator<Item = &OutStream> {
        self.0.iter().map(|(_, o)| o)
    }
}

impl OutStream {
    /// Makes the next packet revisit the layer choice (the viewport changed).
    pub fn force_choice(&mut self) {
        self.last_choice = None;
    }

    /// A stream not sending anything yet.
    pub fn new(mid: Mid, kind: MediaKind) -> Self {
        let video = kind == MediaKind::Video;
        OutStream {
            mid,
            rewriter: Rewriter::new(if video { 90_000 } else { 48_000 }),
            current: None,
            target: None,
            viewport: None,
            last_choice: None,
            video,
            pts: Vec::new(),
            told_unsupported: false,
            rtx_age: RTX_CACHE_AGE,
            sent: SentLog::default(),
            cap: ResendCap::default(),
        }
    }

    /// The payload type to write a packet the publisher sent as `pt` (`params`) with, on
    /// this stream of `rtc`, or `None` when the subscriber cannot take that codec (none of
    /// the m-line's codecs match, or it refused the m-line). A stream opens once its m-line
    /// is negotiated, so what it negotiated does not change; learnt once per payload type.
    pub(super) fn payload_type(
        &mut self,
        rtc: &str0m::Rtc,
        pt: Pt,
        params: &PayloadParams,
    ) -> Option<Pt> {
        if let Some((_, mapped)) = self.pts.iter().find(|(p, _)| *p == pt) {
            return *mapped;
        }
        let mapped = payload::map(params, &payload::negotiated(rtc, self.mid));
        self.pts.push((pt, mapped));
        mapped
    }
}

/// What a forwarded packet's copies are made from, found once for all its subscribers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Facts {
    /// The layer it belongs to (simulcast), and whether the track has layers.
    pub rid: Option<Rid>,
    pub simulcast: bool,
    /// It starts a keyframe; the track's codec lets keyframes be spotted at all.
    pub keyframe: bool,
    pub keyframe_detectable: bool,
    pub incoming: Incoming,
    /// Its VP8 descriptor where picture ids are rewritten (simulcast).
    pub descriptor: Option<str0m::rtp::Vp8Descriptor>,
    /// The publisher's payload type and its codec.
    pub pt: Pt,
    pub params: PayloadParams,
    pub codec: Codec,
    /// Its layer's retransmission cache (`SentLog::note`).
    pub layer: u8,
}

/// A packet whose copies the threads that poll its subscribers make (`copy_for`), each for
/// the students it polls, instead of the core's thread for all (`Sfu::poll_dirty`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fanned {
    /// The track's index in `Sfu::tracks` and its number (the subscribers' stream key).
    pub track: usize,
    pub num: u64,
    /// Its index in the drive's `Batch`.
    pub packet: u32,
    pub facts: Facts,
}

/// The copy of one forwarded packet (`f`) for subscriber `sub`'s stream of track `num`:
/// its m-line and its own numbers, or `None` when it gets none (not subscribed, transport
/// not up, not at a point it can start from, the track hidden, or a codec it cannot take,
/// which it is told once). Updates the stream's numbering and retransmission record.
pub(super) fn copy_for(
    sub: ConnId,
    side: &mut SubscribeSide,
    num: u64,
    f: &Facts,
    track_id: &str,
    metrics: &Metrics,
    outputs: &mut VecDeque<Output>,
) -> Option<(Mid, RtpCopy)> {
    let out = side.streams.get_mut(&num)?;
    if !side.rtc.is_connected() {
        // Written before DTLS is up, packets would queue and arrive stale; the stream
        // starts at the keyframe asked for when the transport connects.
        return None;
    }
    let switch = match out.current {
        Some(cur) if cur == f.rid => false,
        // A new subscriber's video starts at a keyframe: frames before it cannot be
        // decoded, and sending them only makes the decoder ask again. (Codecs whose
        // keyframes this server cannot spot start at once.)
        _ if !f.simulcast => !out.video || f.keyframe || !f.keyframe_detectable,
        // Not the layer being sent: switch to it only at a keyframe of the target.
        _ if f.rid == out.target && f.keyframe => true,
        _ => return None,
    };
    if out.viewport == Some((0, 0)) && out.video {
        return None; // the subscriber hides this track: send nothing
    }
    let Some(out_pt) = out.payload_type(&side.rtc, f.pt, &f.params) else {
        metrics.codec_mismatch();
        if !std::mem::replace(&mut out.told_unsupported, true) {
            let codec = payload::codec_name(f.codec);
            warn!(sub, track = %track_id, codec, "subscriber cannot take the track's codec");
            // A WHEP session has no websocket to tell.
            if side.whep_mids.is_empty() {
                let msg = payload::unsupported(track_id, f.codec);
                outputs.push_back(Output::Signal {
                    to: sub,
                    msg: Box::new(msg),
                });
            }
        }
        return None;
    };
    let rw = out.rewriter.rewrite(f.incoming, switch)?;
    if switch {
        let (rid, keyframe) = (f.rid, f.keyframe);
        debug!(sub, track = %track_id, ?rid, keyframe, "subscriber stream starts");
        out.current = Some(f.rid);
    }
    let patch = Cached::patch(rw.picture_id.zip(f.descriptor));
    if out.video {
        let patched = patch.map(|(_, pid)| pid);
        out.sent
            .note(rw.seq, f.incoming.seq, rw.time, patched, f.layer);
    }
    let copy = Cached::copy(out_pt, rw.seq, rw.time, out.video, patch.map(|(p, _)| p));
    Some((out.mid, copy))
}

/// Whether an RTP payload starts a keyframe, for the codecs str0m negotiates; `None` for a
/// codec whose keyframes this server cannot spot. A VP8 payload's descriptor, parsed once by
/// the caller, is passed in.
fn starts_keyframe(
    codec: Codec,
    vp8: Option<&str0m::rtp::Vp8Descriptor>,
    payload: &[u8],
) -> Option<bool> {
    match codec {
        Codec::Vp8 => Some(vp8.is_some_and(|d| d.starts_keyframe(payload))),
        Codec::H264 => Some(h264_starts_keyframe(payload)),
        _ => None,
    }
}

/// An H.264 RTP payload (RFC 6184) that carries an SPS or the start of an IDR slice.
fn h264_starts_keyframe(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    let idr_or_sps = |nal: u8| matches!(nal & 0x1f, 5 | 7);
    match first & 0x1f {
        // STAP-A: 2-byte sizes, then NAL units.
        24 => {
            let mut at = 1;
            while at + 2 < payload.len() {
                let size = usize::from(u16::from_be_bytes([payload[at], payload[at + 1]]));
                if payload.get(at + 2).is_some_and(|&n| idr_or_sps(n)) {
                    return true;
                }
                at += 2 + size;
            }
            false
        }
        // FU-A: the start bit and the fragmented unit's type.
        28 => payload
            .get(1)
            .is_some_and(|&h| h & 0x80 != 0 && idr_or_sps(h)),
        _ => idr_or_sps(first),
    }
}

impl Sfu {
    /// Asks the publisher of `track_id` for a keyframe on `rid` (the layer), within the
    /// layer's budget (see `keyframe.rs`); a request over budget is held, not dropped.
    pub(super) fn request_keyframe(
        &mut self,
        now: Instant,
        track_id: &str,
        rid: Option<Rid>,
        kind: KeyframeRequestKind,
    ) {
        let Some(track) = self.tracks.iter_mut().find(|t| t.info.track_id == track_id) else {
            return;
        };
        if track.info.kind != MediaKind::Video {
            return;
        }
        if !track.keyframes.entry(rid).or_default().try_send(now) {
            return;
        }
        let (owner, mid) = (track.owner, track.mid);
        let Some(p) = self.participants.get_mut(&owner) else {
            return;
        };
        p.publish_dirty = true;
        self.maybe_dirty.push(owner);
        let Some(rtc) = p.publish.as_mut() else {
            return;
        };
        if let Some(rx) = rtc.direct_api().stream_rx_by_mid(mid, rid) {
            rx.request_keyframe(kind);
            self.metrics.keyframe_request();
            debug!(track = track_id, ?rid, ?kind, "keyframe requested");
        } else {
            debug!(
                track = track_id,
                ?rid,
                "keyframe wanted but the publisher's stream is unknown"
            );
        }
    }

    /// Starts sending the track `track_id` to `conn` on its subscribe m-line `mid`. The
    /// video starts at a keyframe: see [`Sfu::request_first_keyframes`].
    pub(super) fn open_out_stream(&mut self, conn: ConnId, track_id: &str, mid: Mid) {
        let Some(side) = self
            .participants
            .get_mut(&conn)
            .and_then(|p| p.subscribe.as_mut())
        else {
            return;
        };
        let Some(t) = self.tracks.iter_mut().find(|t| t.info.track_id == track_id) else {
            return;
        };
        side.streams.insert(t.num, OutStream::new(mid, t.info.kind));
        configure_out_stream(&mut side.rtc, mid, t.info.kind);
        side.dirty = true;
        self.maybe_dirty.push(conn);
        t.subscribers.insert(conn);
    }

    /// Asks for a keyframe for each of `conn`'s video tracks that has not started yet, once
    /// its transport is up: a keyframe sent before that never reaches the subscriber, so a
    /// transport still connecting asks when it connects (`SubscriberConnected`).
    pub(super) fn request_first_keyframes(&mut self, now: Instant, conn: ConnId) {
        let Some(side) = self
            .participants
            .get(&conn)
            .and_then(|p| p.subscribe.as_ref())
            .filter(|s| s.rtc.is_connected())
        else {
            return;
        };
        let waiting: Vec<(u64, Option<Rid>)> = side
            .streams
            .iter()
            .filter(|(_, o)| o.video && o.current.is_none())
            .map(|(num, o)| (*num, o.target))
            .collect();
        for (num, rid) in waiting {
            let id = self
                .tracks
                .iter()
                .find(|t| t.num == num)
                .map(|t| t.info.track_id.clone());
            if let Some(id) = id {
                self.request_keyframe(now, &id, rid, KeyframeRequestKind::Pli);
            }
        }
    }

    pub(super) fn apply(&mut self, now: Instant, item: Propagate) {
        match item {
            Propagate::Rtp {
                conn,
                mid,
                rid,
                packet,
            } => self.forward(now, conn, mid, rid, &packet),
            Propagate::KeyframeRequest {
                subscriber,
                mid,
                kind,
            } => {
                let Some(side) = self
                    .participants
                    .get(&subscriber)
                    .and_then(|p| p.subscribe.as_ref())
                else {
                    return;
                };
                let Some(track_id) = side.track_at(mid).map(str::to_owned) else {
                    return;
                };
                let num = self
                    .tracks
                    .iter()
                    .find(|t| t.info.track_id == track_id)
                    .map(|t| t.num);
                let rid = num
                    .and_then(|n| side.streams.get(&n))
                    .and_then(|o| o.current.flatten());
                self.request_keyframe(now, &track_id, rid, kind);
            }
            Propagate::MediaAdded(conn, mid, kind) => self.on_track_added(now, conn, mid, kind),
            Propagate::MediaStopped(conn, mid) => self.end_tracks(conn, Some(mid)),
            Propagate::Estimate(conn, bps) => {
                if let Some(side) = self
                    .participants
                    .get_mut(&conn)
                    .and_then(|p| p.subscribe.as_mut())
                {
                    side.estimate_bps = Some(bps);
                }
            }
            Propagate::Stats {
                conn,
                key,
                nacks,
                packets,
                loss,
                rtt,
            } => {
                let Some(p) = self.participants.get_mut(&conn) else {
                    return;
                };
                let seen = p.stats_seen.entry(key).or_insert((0, 0));
                let (dn, dp) = (nacks.saturating_sub(seen.0), packets.saturating_sub(seen.1));
                *seen = (nacks, packets);
                let lost = (f64::from(loss.unwrap_or(0.0)) * dp as f64).round() as u64;
                self.metrics.nacks(dn);
                if let Some(loss) = loss
                    && dp > 0
                {
                    self.note_loss(conn, loss);
                }
                let Some(p) = self.participants.get_mut(&conn) else {
                    return;
                };
                if key.0 {
                    self.metrics.lost_in(lost);
                } else {
                    self.metrics.lost_out(lost);
                    let Some(side) = p.subscribe.as_mut() else {
                        return;
                    };
                    let Some((_, out)) = side.streams.iter_mut().find(|(_, o)| o.mid == key.1)
                    else {
                        return;
                    };
                    if let Some(rtt) = rtt {
                        out.rtx_age = rtx_age(rtt);
                    }
                    // The subscriber's receiver report on a video stream steers its estimate.
                    if let Some(loss) = loss
                        && out.video
                    {
                        let current = side.estimate_bps.unwrap_or(INITIAL_ESTIMATE_BPS);
                        side.estimate_bps = Some(simulcast::next_estimate(current, loss));
                    }
                }
            }
            Propagate::Nack {
                subscriber,
                mid,
                seq_nos,
            } => self.answer_nacks(now, subscriber, mid, &seq_nos),
            Propagate::SubscriberConnected(conn) => self.request_first_keyframes(now, conn),
            Propagate::Gone(conn) => {
                if let Some(p) = self.participants.get(&conn) {
                    // A transport that dies before it ever connected (a DTLS handshake that
                    // fails: a certificate not the one the offer named) failed to connect; it
                    // was not lost.
                    let (timeout, reason) = if p.media_connected {
                        (crate::metrics::Timeout::IceLost, "media connection lost")
                    } else {
                        (
                            crate::metrics::Timeout::TransportConnect,
                            "media could not connect",
                        )
                    };
                    self.metrics.timed_out(timeout);
                    // The media transport failed, not the person: the client comes back, and
                    // the class keeps its place for the grace period.
                    self.close_with_bye(now, conn, reason.into(), true);
                }
            }
        }
    }

    fn on_track_added(
        &mut self,
        now: Instant,
        conn: ConnId,
        mid: Mid,
        kind: str0m::media::MediaKind,
    ) {
        let Some(p) = self.participants.get(&conn) else {
            return;
        };
        let Some(joined) = p.joined.as_ref() else {
            return;
        };
        let kind = match kind {
            str0m::media::MediaKind::Audio => MediaKind::Audio,
            str0m::media::MediaKind::Video => MediaKind::Video,
        };
        let fallback = match kind {
            MediaKind::Audio => Source::Microphone,
            MediaKind::Video => Source::Camera,
        };
        let declared = p.publish_sources.get(&mid.to_string());
        let source = declared.map(|d| d.source).unwrap_or(fallback);
        let layers: Vec<Layer> = declared
            .map(|d| {
                d.layers
                    .iter()
                    .map(|l| Layer::new(l.rid.clone(), Some((l.width, l.height))))
                    .collect()
            })
            .unwrap_or_default();
        // The offer was checked against the grants, but an m-line it did not declare, or one
        // declared as another kind, must not slip through as a track.
        if source.kind() != kind || !joined.grant.publish.contains(&source) {
            let message = format!(
                "m-line {mid} ({kind:?} as {source:?}) is not allowed; it is not forwarded"
            );
            warn!(conn, "{message}");
            self.metrics.signaling_error();
            self.signal(conn, ServerMessage::error(ErrorCode::Forbidden, message));
            return;
        }
        let muted = source == Source::Microphone && !joined.grant.forward_audio;
        if let Err((code, message)) = self.check_new_track(conn, source) {
            let message = format!("m-line {mid}: {message}; it is not forwarded");
            warn!(conn, "{message}");
            self.signal(conn, ServerMessage::error(code, message));
            return;
        }
        let num = self.next_track;
        let track = Track {
            info: TrackInfo {
                track_id: format!("t{num}"),
                participant_id: joined.participant_id.clone(),
                source,
                kind: source.kind(),
            },
            num,
            room: joined.room.clone(),
            owner: conn,
            mid,
            declared_layers: !layers.is_empty(),
            layers,
            codecs: Default::default(),
            subscribers: Default::default(),
            keyframes: Default::default(),
            last_time: Default::default(),
            caches: Vec::new(),
            muted,
        };
        self.next_track += 1;
        info!(track = %track.info.track_id, ?source, room = %track.room, "track published");
        let room = track.room.clone();
        let info = track.info.clone();
        self.tracks.push(track);
        self.metrics.set_tracks(self.tracks.len());
        self.broadcast(
            &room,
            Some(conn),
            ServerMessage::TrackPublished {
                track: info.clone(),
            },
        );
        let subscribers: Vec<ConnId> = self
            .participants
            .values()
            .filter(|p| {
                p.conn != conn
                    && p.room() == Some(room.as_str())
                    && p.joined.as_ref().is_some_and(|j| j.subscribe)
            })
            .map(|p| p.conn)
            .collect();
        for sub in subscribers {
            if let Err((_, e)) = self.subscribe_to(now, sub, vec![info.track_id.clone()]) {
                warn!(sub, "could not subscribe: {e}");
            }
        }
        let whep: Vec<ConnId> = self
            .participants
            .values()
            .filter(|p| {
                p.room() == Some(room.as_str())
                    && p.subscribe
                        .as_ref()
                        .is_some_and(|s| !s.whep_mids.is_empty())
            })
            .map(|p| p.conn)
            .collect();
        for viewer in whep {
            self.whep_attach(now, viewer, &info);
        }
    }

    /// Forwards one RTP packet of `origin`'s m-line `mid` (layer `rid`) to every subscriber
    /// of its track.
    fn forward(
        &mut self,
        now: Instant,
        origin: ConnId,
        mid: Mid,
        rid: Option<Rid>,
        packet: &RtpPacket,
    ) {
        let Some(ti) = self
            .tracks
            .iter()
            .position(|t| t.owner == origin && t.mid == mid)
        else {
            return;
        };
        if self.tracks[ti].muted {
            // Muted by staff: not forwarded, and not heard as the room's speaker.
            return;
        }
        let pt = packet.header.payload_type;
        let params = {
            let track = &mut self.tracks[ti];
            match track.codecs.get(&pt) {
                Some(c) => *c,
                None => {
                    let c = self
                        .participants
                        .get(&origin)
                        .and_then(|p| p.publish.as_ref())
                        .and_then(|rtc| rtc.codec_config().find(|p| p.pt() == pt))
                        .copied();
                    track.codecs.insert(pt, c);
                    c
                }
            }
        };
        let Some(params) = params else {
            self.metrics.udp_dropped(); // a payload type that was never negotiated
            return;
        };
        let codec = params.spec().codec;
        let max_layers = self.config.limits.max_simulcast_layers;
        let track = &mut self.tracks[ti];
        if let Some(r) = rid {
            let known = track.layers.len();
            match track.layers.iter_mut().find(|l| *l.rid == *r) {
                Some(l) => l.on_packet(now, packet.payload.len()),
                // A track that declared no layers (WHIP) has its first few learnt, size
                // unknown; any other RID is ignored, so no map grows with what the
                // publisher invents.
                None if !track.declared_layers && known < max_layers => {
                    let mut l = Layer::new(r.to_string(), None);
                    l.on_packet(now, packet.payload.len());
                    track.layers.push(l);
                }
                None => {
                    self.metrics.udp_dropped();
                    return;
                }
            }
        }
        let time = packet.header.timestamp;
        let new_frame = track.last_time.insert(rid, time) != Some(time);
        if track.info.kind == MediaKind::Audio
            && let Some(level) = packet.header.ext_vals.audio_level
        {
            let voice = packet.header.ext_vals.voice_activity;
            self.speakers
                .entry(track.room.clone())
                .or_default()
                .on_level(track.num, now, level, voice);
        }
        let track = &self.tracks[ti];
        let vp8 = (codec == Codec::Vp8)
            .then(|| str0m::rtp::Vp8Descriptor::parse(&packet.payload).ok())
            .flatten();
        // A keyframe starts at the first packet of its frame. An H.264 keyframe cut into
        // slices repeats SPS/PPS before each slice, so "carries an SPS" alone also matches
        // the middle of a frame, and a subscriber started there cannot decode it.
        let detected = starts_keyframe(codec, vp8.as_ref(), &packet.payload);
        let keyframe_detectable = detected.is_some();
        let keyframe =
            track.info.kind == MediaKind::Video && new_frame && detected.unwrap_or(false);
        if keyframe
            && let Some(budget) = self.tracks[ti].keyframes.get_mut(&rid)
            && budget.on_keyframe()
        {
            // Whoever asked while requests were held back is served by this keyframe: sending
            // the held request as well would only spend the budget the next joiner needs.
            debug!(track = %self.tracks[ti].info.track_id, ?rid, "held keyframe request answered");
        }
        let track = &self.tracks[ti];
        let simulcast = rid.is_some();
        // Picture ids are only rewritten where layers switch.
        let descriptor = vp8.filter(|_| simulcast);
        let num = track.num;
        let ext = ExtensionValues {
            audio_level: packet.header.ext_vals.audio_level,
            voice_activity: packet.header.ext_vals.voice_activity,
            video_orientation: packet.header.ext_vals.video_orientation,
            abs_capture_time: packet.header.ext_vals.abs_capture_time,
            ..Default::default()
        };
        let incoming = Incoming {
            seq: *packet.seq_no,
            time,
            picture_id: descriptor.and_then(|d| d.picture_id()),
            arrival: packet.timestamp,
        };
        // What every copy is sent from (its shared write, with `Cached::copy`); video is kept
        // as it for every subscriber's NACKs (`rtx.rs`), in its layer's cache.
        let source = Cached::new(
            *packet.seq_no,
            pt,
            packet.header.marker,
            packet.timestamp,
            packet.payload.clone(),
            ext,
        );
        let layer = if self.tracks[ti].info.kind == MediaKind::Video {
            let caches = &mut self.tracks[ti].caches;
            let at = match caches.iter().position(|(r, _)| *r == rid) {
                Some(at) => at,
                None => {
                    caches.push((rid, Default::default()));
                    caches.len() - 1
                }
            };
            caches[at].1.push(source.clone());
            u8::try_from(at).unwrap_or(u8::MAX)
        } else {
            u8::MAX
        };
        let facts = Facts {
            rid,
            simulcast,
            keyframe,
            keyframe_detectable,
            incoming,
            descriptor,
            pt,
            params,
            codec,
            layer,
        };
        // Without layers to choose, every student's copy is left to the poll of the student
        // (`Fanned`), which makes all of a turn's copies for one student together, student
        // by student rather than packet by packet: the student's state is read once a turn
        // (a frame's packets, or a keyframe's dozens, arrive in one turn) instead of once a
        // packet, each time from further out in the caches. With a pool those polls are
        // spread over its threads and the core's thread touches no student's state (the
        // pool's threads last wrote it from their own cores); a class too small for the
        // pool stays in the walk below, its copies deferred to the poll.
        let fan = !simulcast
            && self
                .fanout
                .as_ref()
                .is_none_or(|pool| self.tracks[ti].subscribers.len() >= pool.parallel_from());
        if fan {
            let packet = self.batch.keep(source);
            self.batch.fanned.push(Fanned {
                track: ti,
                num,
                packet,
                facts,
            });
            self.announce_speaker(now, ti);
            return;
        }
        let mut wanted_keyframes: Vec<Option<Rid>> = Vec::new();
        // Split borrows: the track is read while subscribers' peer connections are written.
        // With a fan-out pool, each copy is sent by the thread that polls the subscriber, not
        // here on the core's thread, from the packet kept once here.
        let kept = self
            .fanout
            .is_some()
            .then(|| (self.batch.generation, self.batch.keep(source.clone())));
        let Sfu {
            tracks,
            participants,
            metrics,
            outputs,
            maybe_dirty,
            ..
        } = self;
        let track = &tracks[ti];
        // Counted once after the loop (`Tally`).
        let mut tally = Tally::default();
        for &sub in &track.subscribers {
            let Some(p) = participants.get_mut(&sub) else {
                continue;
            };
            let Some(side) = p.subscribe.as_mut() else {
                continue;
            };
            // Whether this copy's layer is chosen again now (simulcast, at most every
            // `CHOOSE_EVERY`), and then the subscriber's estimate shared by the video it
            // takes: counted only then, as walking the streams for every copy was a few per
            // cent of the core's time.
            let choose = simulcast
                && side.streams.get(&num).is_some_and(|o| {
                    o.last_choice
                        .is_none_or(|t| now.saturating_duration_since(t) >= CHOOSE_EVERY)
                });
            let budget = if choose {
                let video_outs = side.streams.values().filter(|o| o.video).count().max(1);
                side.estimate_bps.map(|b| b / video_outs as f64)
            } else {
                None
            };
            if choose && let Some(out) = side.streams.get_mut(&num) {
                out.last_choice = Some(now);
                let limits = Limits {
                    budget_bps: budget,
                    viewport: out.viewport,
                };
                let layers = &track.layers;
                let chosen = simulcast::choose(layers, limits, now)
                    .map(|i| Rid::from(layers[i].rid.as_str()));
                if chosen != out.target {
                    debug!(sub, track = %track.info.track_id, from = ?out.target, to = ?chosen, "layer target");
                    out.target = chosen;
                    if out.current != Some(chosen) {
                        wanted_keyframes.push(chosen);
                    }
                }
            }
            let id = &track.info.track_id;
            let Some((out_mid, copy)) = copy_for(sub, side, num, &facts, id, metrics, outputs)
            else {
                continue;
            };
            if let Some((generation, packet)) = kept {
                // Counted when sent, by the thread that polls the subscriber.
                side.writes.push(Deferred {
                    mid: out_mid,
                    generation,
                    packet,
                    copy,
                });
            } else {
                side.write_copy(now, out_mid, copy, &source, outputs, &mut tally);
            }
            // A copy kept for the poll, or one str0m queued, leaves the connection work.
            if side.has_work() {
                maybe_dirty.push(sub);
            }
        }
        tally.add_to(metrics);
        if !wanted_keyframes.is_empty() {
            let track_id = self.tracks[ti].info.track_id.clone();
            for rid in wanted_keyframes {
                self.request_keyframe(now, &track_id, rid, KeyframeRequestKind::Pli);
            }
        }
        self.announce_speaker(now, ti);
    }
}
