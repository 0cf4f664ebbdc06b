//! Media between peer connections: polling every `Rtc` until idle, forwarding publishers'
//! media to subscribers, keyframe requests, and tracks appearing.

use std::time::Instant;

use classroom_protocol::{ErrorCode, MediaKind, ServerMessage, Source, TrackInfo};
use str0m::media::{KeyframeRequestKind, MediaData, Mid};
use str0m::{Event, IceConnectionState, Output as RtcOutput};
use tracing::{debug, info, warn};

use super::{ConnId, KEYFRAME_REQUEST_INTERVAL, Output, Sfu, Track};

/// Work found while polling one peer connection, applied after the poll so that no two
/// participants are borrowed at once.
enum Propagate {
    Media(ConnId, Box<MediaData>),
    KeyframeRequest {
        subscriber: ConnId,
        mid: Mid,
        kind: KeyframeRequestKind,
    },
    MediaAdded(ConnId, Mid, str0m::media::MediaKind),
    /// The publisher stopped sending on an m-line (e.g. it stopped sharing its screen).
    MediaStopped(ConnId, Mid),
    Gone(ConnId),
}

impl Sfu {
    pub(super) fn request_keyframe(
        &mut self,
        now: Instant,
        track_id: &str,
        kind: KeyframeRequestKind,
    ) {
        let Some(track) = self.tracks.iter_mut().find(|t| t.info.track_id == track_id) else {
            return;
        };
        if track.info.kind != MediaKind::Video {
            return;
        }
        if track
            .last_keyframe_request
            .is_some_and(|t| now.saturating_duration_since(t) < KEYFRAME_REQUEST_INTERVAL)
        {
            return;
        }
        track.last_keyframe_request = Some(now);
        let (owner, mid) = (track.owner, track.mid);
        let writer = self
            .participants
            .get_mut(&owner)
            .and_then(|p| p.publish.as_mut())
            .and_then(|r| r.writer(mid));
        if let Some(mut writer) = writer
            && writer.request_keyframe(None, kind).is_ok()
        {
            self.metrics.keyframe_request();
        }
    }

    /// Polls every peer connection until all are idle, forwarding media between them.
    pub(super) fn drive(&mut self, now: Instant) {
        self.last_now = Some(now);
        loop {
            let mut work = Vec::new();
            for p in self.participants.values_mut() {
                let conn = p.conn;
                let mut gone = false;
                for (is_publish, rtc, next) in p.rtcs_tagged_mut() {
                    loop {
                        if !rtc.is_alive() {
                            gone = true;
                            break;
                        }
                        match rtc.poll_output() {
                            Ok(RtcOutput::Timeout(t)) => {
                                *next = Some(t);
                                break;
                            }
                            Ok(RtcOutput::Transmit(t)) => {
                                self.metrics.udp_out(t.contents.len());
                                self.outputs.push_back(Output::Transmit {
                                    source: t.source,
                                    destination: t.destination,
                                    contents: t.contents.to_vec(),
                                });
                            }
                            Ok(RtcOutput::Event(ev)) => match ev {
                                Event::MediaData(data) if is_publish => {
                                    work.push(Propagate::Media(conn, Box::new(data)))
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
                                    work.push(Propagate::KeyframeRequest {
                                        subscriber: conn,
                                        mid: req.mid,
                                        kind: req.kind,
                                    })
                                }
                                Event::IceConnectionStateChange(
                                    IceConnectionState::Disconnected,
                                ) => {
                                    info!(conn, "ICE disconnected");
                                    rtc.disconnect();
                                }
                                Event::Connected => {
                                    debug!(conn, publish = is_publish, "peer connected")
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
                if gone {
                    work.push(Propagate::Gone(conn));
                }
            }
            if work.is_empty() {
                if self.renegotiate.is_empty() {
                    return;
                }
                for conn in std::mem::take(&mut self.renegotiate) {
                    self.negotiate(now, conn);
                }
                continue;
            }
            for item in work {
                self.apply(now, item);
            }
        }
    }

    fn apply(&mut self, now: Instant, item: Propagate) {
        match item {
            Propagate::Media(conn, data) => self.forward(now, conn, *data),
            Propagate::KeyframeRequest {
                subscriber,
                mid,
                kind,
            } => {
                let track_id = self
                    .participants
                    .get(&subscriber)
                    .and_then(|p| p.subscribe.as_ref())
                    .and_then(|s| s.track_at(mid))
                    .map(str::to_owned);
                if let Some(id) = track_id {
                    self.request_keyframe(now, &id, kind);
                }
            }
            Propagate::MediaAdded(conn, mid, kind) => self.on_track_added(now, conn, mid, kind),
            Propagate::MediaStopped(conn, mid) => self.end_tracks(conn, Some(mid)),
            Propagate::Gone(conn) => {
                self.outputs.push_back(Output::Close { to: conn });
                self.disconnect(now, conn);
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
        let source = p
            .publish_sources
            .get(&mid.to_string())
            .copied()
            .unwrap_or(fallback);
        // The offer was checked against the grants, but an m-line it did not declare, or one
        // declared as another kind, must not slip through as a track.
        if source.kind() != kind || !joined.grants.publish.contains(&source) {
            let message = format!(
                "m-line {mid} ({kind:?} as {source:?}) is not allowed; it is not forwarded"
            );
            warn!(conn, "{message}");
            self.metrics.signaling_error();
            self.signal(conn, ServerMessage::error(ErrorCode::Unauthorized, message));
            return;
        }
        let track = Track {
            info: TrackInfo {
                track_id: format!("t{}", self.next_track),
                participant_id: joined.participant_id.clone(),
                source,
                kind: source.kind(),
            },
            room: joined.room.clone(),
            owner: conn,
            mid,
            last_keyframe_request: None,
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
    }

    fn forward(&mut self, now: Instant, origin: ConnId, data: MediaData) {
        let Some(track) = self
            .tracks
            .iter()
            .find(|t| t.owner == origin && t.mid == data.mid)
        else {
            return;
        };
        let track_id = track.info.track_id.clone();
        if !data.contiguous {
            self.request_keyframe(now, &track_id, KeyframeRequestKind::Fir);
        }
        for p in self.participants.values_mut() {
            let Some(side) = p.subscribe.as_mut() else {
                continue;
            };
            let Some(mid) = side.open_mid(&track_id) else {
                continue;
            };
            let Some(writer) = side.rtc.writer(mid) else {
                continue;
            };
            let Some(pt) = writer.match_params(data.params) else {
                continue;
            };
            match writer.write(pt, data.network_time, data.time, data.data.clone()) {
                Ok(()) => self.metrics.forwarded(),
                Err(e) => {
                    warn!(conn = p.conn, "forwarding failed: {e}");
                    side.rtc.disconnect();
                }
            }
        }
    }
}
