//! Active speaker detection from the audio level each microphone packet carries (RFC 6464,
//! `urn:ietf:params:rtp-hdrext:ssrc-audio-level`). The SFU never decodes audio: the
//! publisher measures its own level and the server only compares numbers.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use classroom_protocol::ServerMessage;

use super::Sfu;

/// How often a room's loudest speaker is re-evaluated.
pub(crate) const DECIDE_EVERY: Duration = Duration::from_millis(300);

/// A speaker quieter than this (dBov) counts as silent.
const SPEECH_DBOV: f64 = -50.0;

/// A new speaker must be this much louder (dB) than the current one to take over, so two
/// people talking over each other do not make the highlight flicker.
const TAKE_OVER_DB: f64 = 3.0;

/// Smoothing factor per packet (20 ms): about 200 ms to follow a change.
const ALPHA: f64 = 0.1;

/// Levels of one room's microphone tracks.
#[derive(Debug, Default)]
pub(crate) struct Speakers {
    levels: HashMap<u64, Level>,
    current: Option<u64>,
    last_decision: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Level {
    /// Smoothed level in dBov (negative; -127 is silence).
    dbov: f64,
    last: Instant,
}

impl Speakers {
    /// Accounts one packet of track `track` with level `-level` dBov (RFC 6464 sends the
    /// magnitude, 0..=127) and the voice-activity flag, if present.
    pub fn on_level(&mut self, track: u64, now: Instant, level: i8, voice: Option<bool>) {
        let dbov = if voice == Some(false) {
            -127.0
        } else {
            -f64::from(level.unsigned_abs().min(127))
        };
        let entry = self.levels.entry(track).or_insert(Level {
            dbov: -127.0,
            last: now,
        });
        entry.dbov += ALPHA * (dbov - entry.dbov);
        entry.last = now;
    }

    /// Forgets a track that ended (or is no longer forwarded). True when it was the
    /// current speaker: the room must be told it went quiet.
    pub fn remove(&mut self, track: u64) -> bool {
        self.levels.remove(&track);
        if self.current == Some(track) {
            self.current = None;
            return true;
        }
        false
    }

    /// The speaker last announced and its smoothed level, if the room is not quiet.
    pub fn current(&self) -> Option<(u64, i8)> {
        let track = self.current?;
        let level = self.levels.get(&track)?;
        Some((track, level.dbov.round() as i8))
    }

    /// Re-evaluates at most every [`DECIDE_EVERY`]; returns the new speaker (track and
    /// level) when it changed, `Some((None, _))` when the room went quiet.
    pub fn decide(&mut self, now: Instant) -> Option<(Option<u64>, i8)> {
        if self
            .last_decision
            .is_some_and(|t| now.saturating_duration_since(t) < DECIDE_EVERY)
        {
            return None;
        }
        self.last_decision = Some(now);
        let live = |l: &Level| now.saturating_duration_since(l.last) < Duration::from_secs(1);
        let loudest = self
            .levels
            .iter()
            .filter(|(_, l)| live(l) && l.dbov > SPEECH_DBOV)
            .max_by(|a, b| a.1.dbov.total_cmp(&b.1.dbov))
            .map(|(t, l)| (*t, l.dbov));
        let current = self
            .current
            .and_then(|t| self.levels.get(&t).map(|l| (t, *l)))
            .filter(|(_, l)| live(l) && l.dbov > SPEECH_DBOV);
        let next = match (loudest, current) {
            (None, _) => None,
            (Some((t, _)), None) => Some(t),
            (Some((t, db)), Some((c, cl))) if t != c && db > cl.dbov + TAKE_OVER_DB => Some(t),
            (Some(_), Some((c, _))) => Some(c),
        };
        if next == self.current {
            return None;
        }
        self.current = next;
        let level = next
            .and_then(|t| self.levels.get(&t))
            .map(|l| l.dbov.round() as i8)
            .unwrap_or(-127);
        Some((next, level))
    }
}

impl Sfu {
    /// Tells the room of track `ti` when its loudest speaker changed. Called per forwarded
    /// packet; `Speakers::decide` itself limits how often a room is re-evaluated.
    pub(super) fn announce_speaker(&mut self, now: Instant, ti: usize) {
        let room = &self.tracks[ti].room;
        let Some((track, level_dbov)) = self.speakers.get_mut(room).and_then(|s| s.decide(now))
        else {
            return;
        };
        let room = room.clone();
        let info = track.and_then(|n| self.tracks.iter().find(|t| t.num == n));
        let msg = ServerMessage::ActiveSpeaker {
            participant_id: info.map(|t| t.info.participant_id.clone()),
            track_id: info.map(|t| t.info.track_id.clone()),
            level_dbov,
        };
        self.metrics.speaker_change();
        self.broadcast(&room, None, msg);
    }

    /// Stops counting track `num` of `room` as a speaker; if it was the one speaking, the
    /// room is told nobody is now.
    pub(super) fn forget_speaker(&mut self, room: &str, num: u64) {
        if self.speakers.get_mut(room).is_some_and(|s| s.remove(num)) {
            self.metrics.speaker_change();
            self.broadcast(
                room,
                None,
                ServerMessage::ActiveSpeaker {
                    participant_id: None,
                    track_id: None,
                    level_dbov: -127,
                },
            );
        }
    }

    /// Tells a participant who just joined `room` who is speaking there: announcements are
    /// only sent on a change, and the speaker may not change for minutes.
    pub(super) fn tell_current_speaker(&mut self, conn: super::ConnId, room: &str) {
        let Some((track, level_dbov)) = self.speakers.get(room).and_then(Speakers::current) else {
            return;
        };
        let Some(info) = self.tracks.iter().find(|t| t.num == track) else {
            return;
        };
        let msg = ServerMessage::ActiveSpeaker {
            participant_id: Some(info.info.participant_id.clone()),
            track_id: Some(info.info.track_id.clone()),
            level_dbov,
        };
        self.signal(conn, msg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(s: &mut Speakers, t0: Instant, from_ms: u64, to_ms: u64, levels: &[(u64, i8)]) {
        let mut ms = from_ms;
        while ms < to_ms {
            for &(track, level) in levels {
                s.on_level(track, t0 + Duration::from_millis(ms), level, None);
            }
            ms += 20;
        }
    }

    #[test]
    fn the_loudest_talker_becomes_active_and_silence_clears_it() {
        let t0 = Instant::now();
        let mut s = Speakers::default();
        feed(&mut s, t0, 0, 1000, &[(1, 20), (2, 90)]);
        assert_eq!(s.current(), None, "nothing announced yet");
        let (who, level) = s
            .decide(t0 + Duration::from_millis(1000))
            .expect("decision");
        assert_eq!(who, Some(1));
        assert!((-22..=-19).contains(&level), "{level}");
        assert_eq!(s.current(), Some((1, level)));
        // Nothing changed: no event.
        feed(&mut s, t0, 1000, 1400, &[(1, 20), (2, 90)]);
        assert_eq!(s.decide(t0 + Duration::from_millis(1400)), None);
        // Track 1 stops talking; track 2 starts.
        feed(&mut s, t0, 1400, 3000, &[(1, 127), (2, 25)]);
        assert_eq!(
            s.decide(t0 + Duration::from_millis(3000)).map(|d| d.0),
            Some(Some(2))
        );
        feed(&mut s, t0, 3000, 5000, &[(1, 127), (2, 127)]);
        assert_eq!(
            s.decide(t0 + Duration::from_millis(5000)),
            Some((None, -127))
        );
        assert_eq!(s.current(), None);
    }

    #[test]
    fn a_slightly_louder_voice_does_not_take_over() {
        let t0 = Instant::now();
        let mut s = Speakers::default();
        feed(&mut s, t0, 0, 1000, &[(1, 30)]);
        assert!(s.decide(t0 + Duration::from_millis(1000)).is_some());
        feed(&mut s, t0, 1000, 2000, &[(1, 30), (2, 29)]);
        assert_eq!(s.decide(t0 + Duration::from_millis(2000)), None);
        feed(&mut s, t0, 2000, 3000, &[(1, 30), (2, 20)]);
        assert_eq!(
            s.decide(t0 + Duration::from_millis(3000)).map(|d| d.0),
            Some(Some(2))
        );
    }

    #[test]
    fn decisions_are_rate_limited() {
        let t0 = Instant::now();
        let mut s = Speakers::default();
        feed(&mut s, t0, 0, 500, &[(1, 10)]);
        assert!(s.decide(t0 + Duration::from_millis(500)).is_some());
        s.remove(1);
        assert_eq!(s.decide(t0 + Duration::from_millis(600)), None);
        assert_eq!(
            s.decide(t0 + Duration::from_millis(900)),
            None,
            "already cleared by remove"
        );
    }
}
