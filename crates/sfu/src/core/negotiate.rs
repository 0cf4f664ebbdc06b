//! Peer connections negotiated over the websocket: a publisher's offer answered, the
//! subscribe connection offered by the server and its answer taken, trickled candidates,
//! and which tracks a subscriber is offered.

use std::time::Instant;

use classroom_protocol::{
    ErrorCode, IceCandidate, PublishTrack, ServerMessage, SubscribedTrack, Transport,
};
use str0m::Candidate;
use str0m::change::{SdpAnswer, SdpOffer};
use tracing::debug;

use super::participant::SubscribeSide;
use super::rtc::{Leg, new_rtc};
use super::{ConnId, Refusal, Sfu, no_participant};
use super::{limits, local, whip};

impl Sfu {
    /// Accepts a publish offer and returns the answer.
    pub(super) fn publish_offer(
        &mut self,
        now: Instant,
        conn: ConnId,
        sdp: &str,
        tracks: Vec<PublishTrack>,
    ) -> Result<String, Refusal> {
        let Some(joined) = self.participants.get(&conn).and_then(|p| p.joined.as_ref()) else {
            return Err((ErrorCode::BadState, "join before publishing".into()));
        };
        // The class decides (a student publishes only on stage); `grant` is its latest word.
        if joined.grant.publish.is_empty() {
            return Err((
                ErrorCode::Forbidden,
                "you may not publish now (students publish on stage)".into(),
            ));
        }
        if let Some(t) = tracks
            .iter()
            .find(|t| !joined.grant.publish.contains(&t.source))
        {
            return Err((
                ErrorCode::Forbidden,
                format!("you may not publish {:?} now", t.source),
            ));
        }
        let mlines = whip::m_lines(sdp);
        limits::check_publish_offer(&self.config.limits, &self.metrics, mlines.len(), &tracks)?;
        let offer = SdpOffer::from_sdp_string(sdp)
            .map_err(|e| (ErrorCode::BadSdp, format!("offer: {e}")))?;
        self.guard.add_sdp_candidates(
            &self.config.limits,
            &self.metrics,
            conn,
            Transport::Publish,
            sdp,
        )?;
        let p = self
            .participants
            .get_mut(&conn)
            .ok_or_else(no_participant)?;
        if p.publish.is_none() {
            let candidates = local::candidate_addrs(&self.local_addrs, p.local_peer);
            let (rtc, keyed) = new_rtc(&self.config, &self.crypto, &candidates, now, Leg::Publish)?;
            p.publish = Some(Box::new(rtc));
            p.publish_keyed = keyed;
            self.with_media.insert(conn);
            self.maybe_dirty.push(conn);
            self.timers.first_poll(p, now);
        }
        let rtc = p
            .publish
            .as_mut()
            .ok_or((ErrorCode::Internal, "no publish transport".into()))?;
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| (ErrorCode::BadSdp, format!("offer refused: {e}")))?;
        let answer = answer.to_sdp_string();
        if whip::has_data_channel(sdp) {
            p.publish_keyed.keep();
        }
        // Only an accepted offer says what its m-lines carry, and only m-lines it still has.
        p.publish_sources
            .retain(|mid, _| mlines.iter().any(|(m, _)| m == mid));
        for t in tracks {
            if mlines.iter().any(|(m, _)| *m == t.mid) {
                p.publish_sources.insert(t.mid.clone(), t);
            }
        }
        debug!(conn, offer = %sdp, %answer, "publish negotiated");
        p.publish_dirty = true;
        self.maybe_dirty.push(conn);
        Ok(answer)
    }

    pub(super) fn on_subscribe_answer(
        &mut self,
        now: Instant,
        conn: ConnId,
        sdp: &str,
    ) -> Result<(), Refusal> {
        let answer = SdpAnswer::from_sdp_string(sdp)
            .map_err(|e| (ErrorCode::BadSdp, format!("answer: {e}")))?;
        self.guard.add_sdp_candidates(
            &self.config.limits,
            &self.metrics,
            conn,
            Transport::Subscribe,
            sdp,
        )?;
        let p = self
            .participants
            .get_mut(&conn)
            .ok_or_else(no_participant)?;
        let side = p
            .subscribe
            .as_mut()
            .ok_or((ErrorCode::BadState, "no subscribe offer outstanding".into()))?;
        side.dirty = true;
        self.maybe_dirty.push(conn);
        let opened = side
            .accept_answer(answer)
            .map_err(|e| (ErrorCode::BadSdp, e))?;
        // A subscriber can only start decoding at a keyframe: ask for one rather than wait
        // for the encoder's next periodic one. (A simulcast track asks on the layer chosen
        // for this subscriber.)
        for (info, mid) in opened {
            self.open_out_stream(conn, &info.track_id, mid);
        }
        self.request_first_keyframes(now, conn);
        self.negotiate(now, conn);
        Ok(())
    }

    pub(super) fn on_candidate(&mut self, conn: ConnId, c: IceCandidate) -> Result<(), Refusal> {
        if c.candidate.trim().is_empty() {
            return Ok(()); // end-of-candidates
        }
        let text = c.candidate.trim().trim_start_matches("a=");
        let candidate = Candidate::from_sdp_string(text)
            .map_err(|e| (ErrorCode::Malformed, format!("candidate: {e}")))?;
        let p = self
            .participants
            .get_mut(&conn)
            .ok_or_else(no_participant)?;
        let rtc = match c.transport {
            Transport::Publish => p.publish.as_deref_mut(),
            Transport::Subscribe => p.subscribe.as_mut().map(|s| &mut s.rtc),
        }
        .ok_or((
            ErrorCode::BadState,
            "candidate for a transport that does not exist".into(),
        ))?;
        self.guard.add_candidate(
            &self.config.limits,
            &self.metrics,
            conn,
            c.transport,
            &candidate,
        )?;
        rtc.add_remote_candidate(candidate);
        Ok(())
    }

    /// Queues tracks for `conn` and starts a negotiation if none is under way.
    pub(super) fn subscribe_to(
        &mut self,
        now: Instant,
        conn: ConnId,
        track_ids: Vec<String>,
    ) -> Result<(), Refusal> {
        if track_ids.is_empty() {
            return Ok(());
        }
        let p = self
            .participants
            .get_mut(&conn)
            .ok_or_else(no_participant)?;
        let candidates = local::candidate_addrs(&self.local_addrs, p.local_peer);
        let side = match p.subscribe.as_mut() {
            Some(side) => side,
            None => {
                self.with_media.insert(conn);
                self.maybe_dirty.push(conn);
                self.timers.first_poll(p, now);
                p.subscribe.insert(Box::new(SubscribeSide::new(new_rtc(
                    &self.config,
                    &self.crypto,
                    &candidates,
                    now,
                    Leg::Subscribe,
                )?)))
            }
        };
        for id in track_ids {
            if let Some(t) = self.tracks.iter().find(|t| t.info.track_id == id) {
                side.queue(t.info.clone());
            }
        }
        // Negotiated once the current input is fully processed, so tracks that appear
        // together (a publisher's camera, microphone and screen) share one offer.
        self.renegotiate.insert(conn);
        Ok(())
    }

    pub(super) fn negotiate(&mut self, _now: Instant, conn: ConnId) {
        let Some(side) = self
            .participants
            .get_mut(&conn)
            .and_then(|p| p.subscribe.as_mut())
        else {
            return;
        };
        side.dirty = true;
        self.maybe_dirty.push(conn);
        if let Some((offer, tracks)) = side.make_offer() {
            let tracks = tracks
                .into_iter()
                .map(|(mid, track)| SubscribedTrack {
                    mid: mid.to_string(),
                    track,
                })
                .collect();
            let sdp = offer.to_sdp_string();
            debug!(conn, %sdp, "subscribe offer");
            self.signal(conn, ServerMessage::Offer { sdp, tracks });
        }
    }
}
