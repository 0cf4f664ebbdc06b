//! WHIP ingest (RFC 9725) and WHEP egress: one HTTP offer, one answer, no websocket.
//!
//! A WHIP session is a participant that joins with the bearer token and publishes the
//! offer's m-lines (audio as the microphone, video as the camera). A WHEP session is a
//! participant whose *client* offers receive-only m-lines; the server answers and feeds
//! them the room's first audio and video tracks, and when such a track ends, the next one
//! published of the same kind takes over the same m-line (WHEP has no renegotiation, and
//! the RTP rewriting keeps the numbering continuous across the change).

use std::time::Instant;

use classroom_protocol::{ErrorCode, MediaKind, PROTOCOL_VERSION, PublishTrack, Source, TrackInfo};
use str0m::change::SdpOffer;
use str0m::format::PayloadParams;
use str0m::media::Mid;

use super::participant::SubscribeSide;
use super::payload;
use super::{ConnId, JoinRequest, Refusal, Sfu, new_rtc};

/// The m-lines of an SDP: (mid, kind), in order.
pub(crate) fn m_lines(sdp: &str) -> Vec<(String, MediaKind)> {
    let mut out = Vec::new();
    let mut kind = None;
    for line in sdp.lines() {
        if let Some(rest) = line.strip_prefix("m=") {
            kind = match rest.split_whitespace().next() {
                Some("audio") => Some(MediaKind::Audio),
                Some("video") => Some(MediaKind::Video),
                _ => None,
            };
        } else if let (Some(mid), Some(k)) = (line.strip_prefix("a=mid:"), kind) {
            out.push((mid.trim().to_owned(), k));
            kind = None;
        }
    }
    out
}

/// Whether an offer carries a data channel (an `m=application` line): its connection keeps
/// its DTLS state for good (`dtls::PeerKeyed::keep`), as the channel's SCTP runs over it.
pub(crate) fn has_data_channel(sdp: &str) -> bool {
    sdp.lines().any(|line| line.starts_with("m=application"))
}

/// What a WHIP offer publishes: audio as the microphone, video as the camera.
fn whip_tracks(offer: &str) -> Vec<PublishTrack> {
    m_lines(offer)
        .into_iter()
        .map(|(mid, kind)| {
            let source = match kind {
                MediaKind::Audio => Source::Microphone,
                MediaKind::Video => Source::Camera,
            };
            PublishTrack::new(mid, source)
        })
        .collect()
}

impl Sfu {
    fn http_join(
        &mut self,
        now: Instant,
        conn: ConnId,
        token: &str,
        room: &str,
        whep: bool,
    ) -> Result<String, Refusal> {
        let claims = self
            .config
            .access
            .verify(token, self.config.unix_time(now))
            .map_err(|e| (ErrorCode::Unauthorized, e.to_string()))?;
        self.guard
            .check_http_session(&self.config.limits, &self.metrics, &claims.sub, room)?;
        self.connect(now, conn);
        let joined = self.on_join(
            now,
            conn,
            JoinRequest {
                token: token.to_owned(),
                room: room.to_owned(),
                display_name: claims.sub.clone(),
                role: claims.role,
                protocol_version: PROTOCOL_VERSION,
                subscribe: whep,
            },
        );
        self.pump_class(now);
        // An HTTP session cannot wait in the lobby or the join queue: it is in now or not.
        let joined = joined.and_then(|()| {
            let admitted = self
                .participants
                .get(&conn)
                .is_some_and(|p| p.joined.is_some());
            if admitted {
                Ok(())
            } else {
                Err((
                    ErrorCode::Denied,
                    "this class lets people in through its lobby, which WHIP/WHEP cannot wait in"
                        .to_owned(),
                ))
            }
        });
        if joined.is_err() {
            self.forget(now, conn);
        }
        joined.map(|()| claims.sub)
    }

    /// Removes a participant that never got going, without telling anyone.
    fn forget(&mut self, now: Instant, conn: ConnId) {
        self.disconnect(now, conn);
        // Nothing was sent to this connection's (absent) websocket.
        self.outputs.retain(|o| {
            !matches!(o, super::Output::Signal { to, .. } | super::Output::Close { to } if *to == conn)
        });
    }

    /// WHIP: `conn` (a new id) publishes `offer` into `room` with `token` as bearer. Returns
    /// the SDP answer.
    pub fn whip_publish(
        &mut self,
        now: Instant,
        conn: ConnId,
        token: &str,
        room: &str,
        offer: &str,
    ) -> Result<String, (ErrorCode, String)> {
        self.http_offer(now, conn, token, room, offer, false)
    }

    /// WHEP: `conn` (a new id) watches `room`; `offer` has the client's receive-only
    /// m-lines. Returns the SDP answer.
    pub fn whep_subscribe(
        &mut self,
        now: Instant,
        conn: ConnId,
        token: &str,
        room: &str,
        offer: &str,
    ) -> Result<String, (ErrorCode, String)> {
        self.http_offer(now, conn, token, room, offer, true)
    }

    /// Joins `conn` with the bearer token and answers its offer; on any refusal the
    /// half-made participant is removed and the refusal counted.
    fn http_offer(
        &mut self,
        now: Instant,
        conn: ConnId,
        token: &str,
        room: &str,
        offer: &str,
        whep: bool,
    ) -> Result<String, Refusal> {
        let identity = self
            .http_join(now, conn, token, room, whep)
            .inspect_err(|e| self.count_refusal(e))?;
        let answer = if whep {
            self.whep_answer(now, conn, room, offer)
        } else {
            self.publish_offer(now, conn, offer, whip_tracks(offer))
        };
        match answer {
            Ok(sdp) => {
                self.guard.add_http_session(conn, &identity, room);
                self.drive(now);
                Ok(sdp)
            }
            Err(e) => {
                self.count_refusal(&e);
                self.forget(now, conn);
                Err(e)
            }
        }
    }

    fn count_refusal(&self, (code, message): &Refusal) {
        self.metrics.signaling_error();
        tracing::debug!(?code, %message, "refused HTTP offer");
    }

    fn whep_answer(
        &mut self,
        now: Instant,
        conn: ConnId,
        room: &str,
        offer: &str,
    ) -> Result<String, Refusal> {
        let grants_subscribe = self
            .participants
            .get(&conn)
            .and_then(|p| p.joined.as_ref())
            .is_some_and(|j| j.grant.subscribe);
        if !grants_subscribe {
            return Err((
                ErrorCode::Unauthorized,
                "this token may not subscribe".into(),
            ));
        }
        let mids = m_lines(offer);
        if mids.len() > self.config.limits.max_mlines_per_offer {
            self.metrics.refused(crate::metrics::Limit::Tracks);
            return Err((
                ErrorCode::Full,
                format!(
                    "the offer has {} m-lines; at most {} are accepted",
                    mids.len(),
                    self.config.limits.max_mlines_per_offer
                ),
            ));
        }
        self.guard.add_sdp_candidates(
            &self.config.limits,
            &self.metrics,
            conn,
            classroom_protocol::Transport::Subscribe,
            offer,
        )?;
        let parsed = SdpOffer::from_sdp_string(offer)
            .map_err(|e| (ErrorCode::BadSdp, format!("offer: {e}")))?;
        let local_peer = self.participants.get(&conn).is_some_and(|p| p.local_peer);
        let candidates = super::local::candidate_addrs(&self.local_addrs, local_peer);
        let (mut rtc, keyed) = new_rtc(
            &self.config,
            &self.crypto,
            &candidates,
            now,
            super::rtc::Leg::Subscribe,
        )?;
        let answer = rtc
            .sdp_api()
            .accept_offer(parsed)
            .map_err(|e| (ErrorCode::BadSdp, format!("offer refused: {e}")))?
            .to_sdp_string();
        if has_data_channel(offer) {
            keyed.keep();
        }
        let mut side = SubscribeSide::new((rtc, keyed));
        if mids.is_empty() {
            return Err((ErrorCode::BadSdp, "the offer has no audio or video".into()));
        }
        side.whep_mids = mids
            .into_iter()
            .map(|(mid, kind)| (Mid::from(mid.as_str()), kind))
            .collect();
        let p = self
            .participants
            .get_mut(&conn)
            .ok_or_else(super::no_participant)?;
        p.subscribe = Some(Box::new(side));
        self.with_media.insert(conn);
        self.maybe_dirty.push(conn);
        self.timers.first_poll(p, now);
        let tracks: Vec<TrackInfo> = self
            .tracks
            .iter()
            .filter(|t| t.room == room)
            .map(|t| t.info.clone())
            .collect();
        for t in tracks {
            self.whep_attach(now, conn, &t);
        }
        Ok(answer)
    }

    /// Points the first free WHEP m-line of `track`'s kind at it (tracks are offered in the
    /// order they were published).
    pub(super) fn whep_attach(&mut self, now: Instant, conn: ConnId, track: &TrackInfo) {
        let Some(side) = self
            .participants
            .get(&conn)
            .and_then(|p| p.subscribe.as_ref())
        else {
            return;
        };
        let used: Vec<Mid> = side.streams.values().map(|o| o.mid).collect();
        // The publisher's codecs for this track, to prefer an m-line that takes one of them
        // (a viewer may offer, say, one video m-line for VP8 and one for H.264 only).
        let sent: Vec<PayloadParams> = self
            .tracks
            .iter()
            .find(|t| t.info.track_id == track.track_id)
            .and_then(|t| {
                let rtc = self.participants.get(&t.owner)?.publish.as_ref()?;
                Some(payload::negotiated(rtc, t.mid))
            })
            .unwrap_or_default();
        let free: Vec<Mid> = side
            .whep_mids
            .iter()
            .filter(|(m, k)| *k == track.kind && !used.contains(m))
            .map(|(m, _)| *m)
            .collect();
        let takes = |m: &&Mid| {
            let offered = payload::negotiated(&side.rtc, **m);
            sent.iter().any(|p| payload::map(p, &offered).is_some())
        };
        // None takes it: the first free one, where the mismatch is counted and logged.
        let Some(&mid) = free.iter().find(takes).or(free.first()) else {
            return;
        };
        self.open_out_stream(conn, &track.track_id, mid);
        self.request_first_keyframes(now, conn);
    }

    /// WHIP/WHEP session `conn` ended (HTTP DELETE).
    pub fn http_session_end(&mut self, now: Instant, conn: ConnId) {
        self.disconnect(now, conn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m_lines_are_read_in_order_with_their_mids() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\nm=application 9 x\r\na=mid:d\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n";
        assert_eq!(
            m_lines(sdp),
            vec![
                ("0".into(), MediaKind::Audio),
                ("1".into(), MediaKind::Video)
            ]
        );
        assert!(m_lines("garbage").is_empty());
        assert!(has_data_channel(sdp));
        assert!(!has_data_channel(
            "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n"
        ));
    }
}
