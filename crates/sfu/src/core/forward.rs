//! Publishers' RTP packets forwarded to subscribers (`Sfu::forward`, applied from
//! `propagate.rs`): each copy made (`copy_for`), keyframe requests to publishers, layer
//! choice, and a subscriber's streams opened.
//!
//! Forwarding is packet by packet (str0m's RTP mode): nothing is depacketised or buffered
//! in the SFU. Each subscriber's copy gets its own sequence numbers and RTP times from its
//! [`Rewriter`](super::rewrite::Rewriter), and the SFU keeps what it sent each subscriber
//! for its NACKs, answered without a round trip to the publisher. Losses between publisher
//! and SFU are NACKed by str0m's receive side.

use std::collections::VecDeque;
use std::time::Instant;

use classroom_protocol::MediaKind;
use str0m::format::{Codec, PayloadParams};
use str0m::media::{KeyframeRequestKind, Mid, Pt, Rid};
use str0m::rtp::{ExtensionValues, RtpCopy, RtpPacket};
use tracing::{debug, warn};

use super::outstream::OutStream;
use super::participant::{Deferred, SubscribeSide, Tally};
use super::payload;
use super::payload::starts_keyframe;
use super::rewrite::Incoming;
use super::rtx::{Cached, configure_out_stream};
use super::simulcast::{self, Layer, Limits};
use super::{ConnId, Output, Sfu};
use crate::metrics::Metrics;

/// Layer choice is revisited at most this often per subscriber and track.
const CHOOSE_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

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

    /// Forwards one RTP packet of `origin`'s m-line `mid` (layer `rid`) to every subscriber
    /// of its track.
    pub(super) fn forward(
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
