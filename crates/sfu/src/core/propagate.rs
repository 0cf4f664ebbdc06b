//! What polling the peer connections found (`poll.rs`), applied once the poll is over:
//! packets to forward (`forward.rs`), keyframe requests and NACKs, tracks appearing and
//! stopping, estimates, counters and transports gone.

use std::time::{Duration, Instant};

use classroom_protocol::{ErrorCode, MediaKind, ServerMessage, Source, TrackInfo};
use str0m::media::{KeyframeRequestKind, Mid, Rid};
use str0m::rtp::RtpPacket;
use tracing::{info, warn};

use super::rtx::rtx_age;
use super::simulcast::{self, Layer};
use super::{ConnId, INITIAL_ESTIMATE_BPS, Sfu, Track};

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

impl Sfu {
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
}
