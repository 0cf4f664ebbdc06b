//! Polling the peer connections that have work: each connection's outputs until it is idle,
//! its due timers run inside the poll, on the fan-out pool's threads when many are waiting
//! (`fanout.rs`), and what the core must act on gathered as [`Propagate`] work for
//! `forward.rs`.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use str0m::{Event, IceConnectionState, Input, Output as RtcOutput};
use tracing::{debug, info, warn};

use super::forward::{Fanned, copy_for};
use super::participant::{Batch, Participant, Tally};
use super::propagate::Propagate;
use super::{ConnId, Output, Sfu};

/// Timers already due that one peer connection may run within one poll of it; past this, the
/// rest wait for the driver's next turn, so no connection can keep the core to itself.
const MAX_DUE_NOW: u32 = 1024;

impl Sfu {
    /// Polls the peer connections that have work until all are idle, forwarding media
    /// between them.
    pub(super) fn drive(&mut self, now: Instant) {
        self.last_now = Some(now);
        // Work polled before (`poll_one`, from `handle_udp_batch`) is acted on first.
        let mut work = std::mem::take(&mut self.work);
        loop {
            if work.is_empty() {
                self.poll_dirty(now, &mut work);
            }
            if work.is_empty() {
                if self.renegotiate.is_empty() {
                    break;
                }
                for conn in std::mem::take(&mut self.renegotiate) {
                    self.negotiate(now, conn);
                }
                continue;
            }
            for item in work.drain(..) {
                self.apply(now, item);
            }
        }
        self.work = work;
        // Every copy forwarded in this drive has been written (`poll_dirty` polls each
        // subscriber it was forwarded to).
        self.batch.clear();
    }

    /// Polls one participant's connections now, its work kept for the next [`Sfu::drive`].
    pub(super) fn poll_one(&mut self, now: Instant, conn: ConnId) {
        let Some(p) = self.participants.get_mut(&conn) else {
            return;
        };
        let mut tally = Tally::default();
        let into = (&mut self.outputs, &mut self.work);
        let copies = Copies {
            batch: &self.batch,
            // Fanned packets are left for the drive's poll of every subscriber.
            fanned: &[],
            tracks: &self.tracks,
            metrics: &self.metrics,
        };
        poll_participant(p, now, &copies, &mut tally, into);
        if p.is_dirty() {
            self.maybe_dirty.push(conn);
        }
        self.timers.after_poll(p);
        tally.add_to(&self.metrics);
    }

    /// Polls every peer connection with input or timers to process and, with packets
    /// fanned out, every subscriber of their tracks (once, for all of them): on the fan-out
    /// pool when one is set and packets were fanned out or enough are waiting (a packet
    /// forwarded to a class leaves dozens to hundreds of subscriber connections to encrypt
    /// and send from), else one by one on this thread. Either way outputs and work come out
    /// in connection order.
    fn poll_dirty(&mut self, now: Instant, work: &mut Vec<Propagate>) {
        // Packets whose copies the polls make: every subscriber is polled for them.
        let fanned = std::mem::take(&mut self.batch.fanned);
        // Otherwise (or without a pool) the connections with work, from the notes (a timer
        // turn marks a few).
        let dirty: Vec<ConnId> = if fanned.is_empty() || self.fanout.is_none() {
            self.dirty_with_media()
        } else {
            // Every participant with media is picked below, and the dirty ones polled.
            self.maybe_dirty.clear();
            Vec::new()
        };
        if let Some(pool) = self.fanout.clone()
            && (!fanned.is_empty() || dirty.len() >= pool.parallel_from())
        {
            let Sfu {
                participants,
                metrics,
                outputs,
                batch,
                timers,
                tracks,
                with_media,
                maybe_dirty,
                ..
            } = self;
            let (batch, tracks, metrics_ref) = (&*batch, &*tracks, &**metrics);
            let copies = Copies {
                batch,
                fanned: &fanned,
                tracks,
                metrics: metrics_ref,
            };
            // Every participant's connections are its own: each is polled by one thread.
            // They are picked by connection id, without reading their state, which the
            // pool's threads last wrote from their cores: with packets fanned out, every
            // participant with media (its thread finds whether it subscribes), else the
            // ones found with work.
            let picked = if fanned.is_empty() {
                pick(participants, dirty.iter().copied())
            } else {
                pick(participants, with_media.iter().copied())
            };
            let with_fanned = !fanned.is_empty();
            let runs = pool.map_runs(picked, |p, run: &mut Polled| {
                if !((with_fanned && p.subscribe.is_some()) || p.is_dirty()) {
                    return;
                }
                run.polled += 1;
                poll_participant(
                    p,
                    now,
                    &copies,
                    &mut run.tally,
                    (&mut run.outputs, &mut run.work),
                );
                if p.is_dirty() {
                    run.still_dirty.push(p.conn);
                }
                if let Some(at) = p.reschedule() {
                    run.due.push((at, p.conn));
                }
            });
            let mut total = Tally::default();
            let mut spread = 0;
            for mut run in runs {
                outputs.append(&mut run.outputs);
                work.append(&mut run.work);
                total.add(&run.tally);
                spread += run.polled;
                maybe_dirty.append(&mut run.still_dirty);
                for (at, conn) in run.due {
                    timers.push(at, conn);
                }
            }
            metrics.fanout_spread(spread);
            total.add_to(metrics);
        } else {
            let copies = Copies {
                batch: &self.batch,
                fanned: &fanned,
                tracks: &self.tracks,
                metrics: &self.metrics,
            };
            // With packets fanned out (no pool), their tracks' subscribers too.
            let mut polled = dirty;
            if !fanned.is_empty() {
                let mut tracks: Vec<usize> = fanned.iter().map(|f| f.track).collect();
                tracks.sort_unstable();
                tracks.dedup();
                for t in tracks {
                    polled.extend(self.tracks[t].subscribers.iter().copied());
                }
                polled.sort_unstable();
                polled.dedup();
            }
            let mut tally = Tally::default();
            for conn in &polled {
                let Some(p) = self.participants.get_mut(conn) else {
                    continue;
                };
                poll_participant(p, now, &copies, &mut tally, (&mut self.outputs, work));
                if p.is_dirty() {
                    self.maybe_dirty.push(*conn);
                }
                self.timers.after_poll(p);
            }
            tally.add_to(&self.metrics);
        }
        // Its room kept for the next packets.
        let mut fanned = fanned;
        fanned.clear();
        self.batch.fanned = fanned;
    }

    /// The participants with media that have a connection to poll, in connection order:
    /// those noted in `maybe_dirty` since the last poll that still are. Debug builds (the
    /// tests) check the notes against a walk over every participant with media, so a place
    /// that marks a connection dirty without noting it fails them rather than leaving the
    /// connection unpolled until its next timer.
    fn dirty_with_media(&mut self) -> Vec<ConnId> {
        // Drained, not taken: the notes keep their room for the next turn.
        let mut dirty: Vec<ConnId> = self.maybe_dirty.drain(..).collect();
        dirty.sort_unstable();
        dirty.dedup();
        let participants = &self.participants;
        let has_work = |c: &ConnId| participants.get(c).is_some_and(Participant::is_dirty);
        dirty.retain(has_work);
        #[cfg(debug_assertions)]
        {
            let walked: Vec<ConnId> = self.with_media.iter().copied().filter(has_work).collect();
            debug_assert_eq!(dirty, walked, "dirty connections not noted in maybe_dirty");
        }
        dirty
    }
}

/// What a poll sends copies from: the drive's packets, those fanned out since the last
/// poll, and the tracks and counters `forward::copy_for` reads.
struct Copies<'a> {
    batch: &'a Batch,
    fanned: &'a [Fanned],
    tracks: &'a [super::Track],
    metrics: &'a crate::metrics::Metrics,
}

/// What polling a run of participants on one thread gave.
#[derive(Default)]
struct Polled {
    /// Datagrams and messages, in the run's order.
    outputs: VecDeque<Output>,
    /// What the core must act on.
    work: Vec<Propagate>,
    tally: Tally,
    /// The participants to put in the core's timers (`timers.rs`), for when.
    due: Vec<(Instant, ConnId)>,
    /// How many it polled.
    polled: usize,
    /// Those left with work after their poll (for the core's `maybe_dirty`).
    still_dirty: Vec<ConnId>,
}

/// The participants of `keys` (connection ids in ascending order, each in the map), found
/// by walking the map's keys beside them: a B-tree keeps its keys apart from its values, so
/// no participant's own state is read on the way.
fn pick(
    participants: &mut BTreeMap<ConnId, Participant>,
    keys: impl Iterator<Item = ConnId>,
) -> Vec<&mut Participant> {
    let mut keys = keys.peekable();
    let mut picked = Vec::new();
    let Some(&first) = keys.peek() else {
        return picked;
    };
    for (conn, p) in participants.range_mut(first..) {
        while keys.next_if(|k| k < conn).is_some() {}
        match keys.peek() {
            None => break,
            Some(k) if k == conn => {
                picked.push(p);
                keys.next();
            }
            Some(_) => {}
        }
    }
    picked
}

/// Polls `p`'s connections that have work until each is idle or waits for a later time:
/// copies forwarded to it sent first (from `batch`), datagrams into `outputs`, what the
/// core must act on (packets to forward, requests, state changes) into `work`, what it
/// counted into `tally`. Writes nothing but `p`, so participants can be polled on several
/// threads at once.
fn poll_participant(
    p: &mut Participant,
    now: Instant,
    copies: &Copies<'_>,
    tally: &mut Tally,
    (outputs, work): (&mut VecDeque<Output>, &mut Vec<Propagate>),
) {
    let conn = p.conn;
    let mut gone = false;
    let mut connected = false;
    // The peer was heard under the keys, on the publish and the subscribe connection: what
    // lets their DTLS state go (`dtls::PeerKeyed`).
    let mut heard = [false; 2];
    // Copies the core forwarded are sent here, on this thread; fanned packets' copies are
    // made here too.
    if let Some(side) = p.subscribe.as_mut() {
        for f in copies.fanned {
            let id = &copies.tracks[f.track].info.track_id;
            let made = copy_for(conn, side, f.num, &f.facts, id, copies.metrics, outputs);
            if let Some(((mid, copy), source)) =
                made.zip(copies.batch.packets.get(f.packet as usize))
            {
                side.write_copy(now, mid, copy, source, outputs, tally);
            }
        }
        side.write_forwarded(now, copies.batch, outputs, tally);
    }
    for (is_publish, rtc, next, dirty) in p.rtcs_tagged_mut().into_iter().flatten() {
        if !*dirty {
            continue;
        }
        *dirty = false;
        if next.is_none_or(|t| t <= now) {
            // Its timer is due (or it never asked for one): give it the time. Needed even
            // though the loop below runs timers str0m reports as past: a connection only
            // learns that time has moved from a timeout input, so one nobody writes to (a
            // transport that never connects) would otherwise never see its deadline.
            *next = None;
            if let Err(e) = rtc.handle_input(Input::Timeout(now)) {
                warn!(conn, "timeout handling failed: {e}");
                rtc.disconnect();
            }
        }
        let mut due_now = 0;
        loop {
            if !rtc.is_alive() {
                gone = true;
                break;
            }
            match rtc.poll_output() {
                Ok(RtcOutput::Timeout(t)) if t <= now && due_now < MAX_DUE_NOW => {
                    // str0m asks for a timer at a time already past after
                    // every queued or sent packet (its pacer releases one
                    // packet per timer, even the non-pacing one). Run it here:
                    // left to the driver, the runtime's millisecond timer
                    // wheel made it a floor of ~1 ms under every forwarded
                    // packet, and one packet per subscriber per millisecond
                    // the tail of a keyframe's fan-out.
                    due_now += 1;
                    if let Err(e) = rtc.handle_input(Input::Timeout(now)) {
                        warn!(conn, "timeout handling failed: {e}");
                        rtc.disconnect();
                    }
                }
                Ok(RtcOutput::Timeout(t)) => {
                    *next = Some(t);
                    break;
                }
                Ok(RtcOutput::Transmit(t)) => tally.transmit(t, outputs),
                Ok(RtcOutput::Event(ev)) => match ev {
                    Event::RtpPacket(packet) if is_publish => {
                        heard[0] = true;
                        let Some((mid, rid)) = rtc
                            .direct_api()
                            .stream_rx(&packet.header.ssrc)
                            .map(|rx| (rx.mid(), rx.rid()))
                        else {
                            continue;
                        };
                        work.push(Propagate::Rtp {
                            conn,
                            mid,
                            rid,
                            packet,
                        });
                    }
                    Event::MediaAdded(added) if is_publish => {
                        work.push(Propagate::MediaAdded(conn, added.mid, added.kind))
                    }
                    Event::MediaChanged(change)
                        if is_publish && !change.direction.is_receiving() =>
                    {
                        work.push(Propagate::MediaStopped(conn, change.mid))
                    }
                    Event::KeyframeRequest(req) if !is_publish => {
                        heard[1] = true;
                        work.push(Propagate::KeyframeRequest {
                            subscriber: conn,
                            mid: req.mid,
                            kind: req.kind,
                        })
                    }
                    Event::NackRequest(req) if !is_publish => {
                        heard[1] = true;
                        work.push(Propagate::Nack {
                            subscriber: conn,
                            mid: req.mid,
                            seq_nos: req.seq_nos,
                        })
                    }
                    Event::EgressBitrateEstimate(str0m::bwe::BweKind::Twcc {
                        estimate, ..
                    }) if !is_publish => work.push(Propagate::Estimate(conn, estimate.as_f64())),
                    Event::MediaEgressStats(s) if !is_publish => {
                        // A receiver report came (SRTCP).
                        heard[1] |= s.remote.is_some();
                        work.push(Propagate::Stats {
                            conn,
                            key: (false, s.mid, s.rid),
                            nacks: s.nacks,
                            packets: s.packets,
                            loss: s.loss,
                            rtt: s.rtt,
                        })
                    }
                    Event::MediaIngressStats(s) if is_publish => work.push(Propagate::Stats {
                        conn,
                        key: (true, s.mid, s.rid),
                        nacks: 0,
                        packets: s.packets,
                        loss: s.loss,
                        rtt: None,
                    }),
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                        info!(conn, "ICE disconnected");
                        rtc.disconnect();
                    }
                    Event::Connected => {
                        debug!(conn, publish = is_publish, "peer connected");
                        connected = true;
                        if !is_publish {
                            work.push(Propagate::SubscriberConnected(conn));
                        }
                    }
                    _ => {}
                },
                Err(e) => {
                    warn!(conn, "peer connection failed: {e}");
                    rtc.disconnect();
                }
            }
        }
    }
    if heard[0] {
        p.publish_keyed.heard();
    }
    if heard[1]
        && let Some(side) = p.subscribe.as_ref()
    {
        side.keyed.heard();
    }
    // Written only when it changes: a store takes the cache line from the core's thread,
    // which reads this participant's state when it is noted (`dirty_with_media`).
    if connected {
        p.media_connected = true;
    }
    if gone {
        work.push(Propagate::Gone(conn));
    }
}
