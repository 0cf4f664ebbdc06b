//! Between the class's rules (`classroom`, pure) and the media: the class decides who is in,
//! what each connection may publish and whose microphone is forwarded; this applies its
//! outputs to the peer connections and tracks, and turns its messages into signaling.

use std::time::Instant;

use classroom::{MediaGrant, Output as ClassOutput};
use classroom_protocol::{MediaKind, NetworkQuality, Role, ServerMessage, Source, TrackInfo};
use tracing::{debug, info, warn};

use super::participant::Joined;
use super::{ConnId, Output, Sfu};
use crate::access::{Claims, Grants};

/// Loss above which a participant's network is fair, and poor (fractions).
const FAIR_LOSS: f32 = 0.02;
const POOR_LOSS: f32 = 0.10;

/// The quality a loss fraction means.
pub(super) fn quality_of(loss: f32) -> NetworkQuality {
    if loss < FAIR_LOSS {
        NetworkQuality::Good
    } else if loss < POOR_LOSS {
        NetworkQuality::Fair
    } else {
        NetworkQuality::Poor
    }
}

impl Sfu {
    /// Applies everything the class asked for, in order.
    pub(super) fn pump_class(&mut self, now: Instant) {
        while let Some(out) = self.class.poll_output() {
            match out {
                ClassOutput::Send { to, msg } => {
                    if matches!(msg, ServerMessage::Error { .. }) {
                        self.metrics.signaling_error();
                    }
                    self.signal(to, msg);
                }
                ClassOutput::Broadcast { to, msg } => {
                    if !to.is_empty() {
                        self.outputs.push_back(Output::Broadcast { to, msg });
                    }
                }
                ClassOutput::Admitted {
                    conn,
                    room,
                    participant_id,
                    identity,
                    role,
                    name,
                    media,
                    issue_token,
                    expires_ms,
                    resumed,
                } => self.admit(
                    now,
                    Admission {
                        conn,
                        room,
                        participant_id,
                        identity,
                        role,
                        name,
                        media,
                        issue_token,
                        expires_ms,
                        resumed,
                    },
                ),
                ClassOutput::Media { conn, grant } => self.apply_grant(conn, grant),
                ClassOutput::Close {
                    conn,
                    code,
                    cause,
                    reason,
                } => {
                    if let Some(code) = code {
                        self.signal(conn, ServerMessage::error(code, reason.clone()));
                    }
                    self.signal(
                        conn,
                        ServerMessage::Bye {
                            reason,
                            retry: false,
                            cause: Some(cause),
                        },
                    );
                    self.outputs.push_back(Output::Close { to: conn });
                    self.drop_media(conn);
                    // The class closed it, so it knows; being told the connection is gone
                    // lets it forget the connection (the person's place is its business).
                    let ms = self.config.unix_ms(now);
                    self.class.disconnect(ms, conn);
                }
                ClassOutput::Ended { report } => {
                    info!(room = %report.room, rows = report.rows.len(), "class ended");
                    self.outputs.push_back(Output::ClassEnded {
                        report: Box::new(report),
                    });
                }
                other => debug!(?other, "class output not handled by this server"),
            }
        }
    }

    /// The class let `a.conn` in: its media participant, `joined`, and the room's tracks.
    fn admit(&mut self, now: Instant, a: Admission) {
        let token = if a.issue_token {
            let claims = Claims {
                sub: a.identity.clone(),
                room: a.room.clone(),
                role: a.role,
                grants: Grants::for_role(a.role),
                iat: self.config.unix_time(now),
                exp: a.expires_ms / 1000,
                invite: false,
                companion_of: None,
            };
            match self.config.access.mint(&claims) {
                Ok(t) => Some(t),
                Err(e) => {
                    warn!(conn = a.conn, "cannot mint a personal token: {e}");
                    None
                }
            }
        } else {
            None
        };
        // Anyone who may ever send a camera (a student, once on stage) is asked for layers.
        let simulcast = if Grants::for_role(a.role).publish.contains(&Source::Camera) {
            self.config.simulcast.clone()
        } else {
            Vec::new()
        };
        let tracks: Vec<TrackInfo> = self
            .tracks
            .iter()
            .filter(|t| t.room == a.room)
            .map(|t| t.info.clone())
            .collect();
        let Some(p) = self.participants.get_mut(&a.conn) else {
            return;
        };
        info!(conn = a.conn, room = %a.room, identity = %a.identity, name = %a.name, role = ?a.role, resumed = a.resumed, "joined");
        let subscribe = a.media.subscribe;
        let before = p.joined.replace(Joined {
            participant_id: a.participant_id.clone(),
            room: a.room.clone(),
            role: a.role,
            subscribe,
            grant: a.media,
        });
        if let Some(before) = before {
            self.left_room(&before.room);
        }
        self.joined_room(&a.room);
        self.signal(
            a.conn,
            ServerMessage::Joined {
                participant_id: a.participant_id,
                room: a.room.clone(),
                role: a.role,
                tracks,
                simulcast,
                identity: Some(a.identity),
                token,
            },
        );
        self.tell_current_speaker(a.conn, &a.room);
        if subscribe {
            let ids: Vec<String> = self
                .tracks
                .iter()
                .filter(|t| t.room == a.room && t.owner != a.conn)
                .map(|t| t.info.track_id.clone())
                .collect();
            if let Err((_, e)) = self.subscribe_to(now, a.conn, ids) {
                warn!(conn = a.conn, "could not subscribe: {e}");
            }
        }
    }

    /// What `conn` may do with media changed: tracks it may no longer publish end for
    /// everyone (and with nothing left to publish, its publish transport goes, so a later
    /// stage appearance starts afresh); its microphone is forwarded or not.
    fn apply_grant(&mut self, conn: ConnId, grant: MediaGrant) {
        let Some(p) = self.participants.get_mut(&conn) else {
            return;
        };
        let Some(joined) = p.joined.as_mut() else {
            return;
        };
        let muted = !grant.forward_audio;
        let allowed = grant.publish.clone();
        joined.grant = grant;
        let close_publish = allowed.is_empty() && p.publish.is_some();
        if close_publish {
            if let Some(mut rtc) = p.publish.take() {
                rtc.disconnect();
            }
            p.publish_sources.clear();
            self.addr_index
                .retain(|_, (c, publish)| !(*c == conn && *publish));
        }
        for t in self.tracks.iter_mut().filter(|t| t.owner == conn) {
            if t.info.kind == MediaKind::Audio {
                t.muted = muted;
            }
        }
        let mids: Vec<_> = self
            .tracks
            .iter()
            .filter(|t| t.owner == conn && !allowed.contains(&t.info.source))
            .map(|t| t.mid)
            .collect();
        for mid in mids {
            self.end_tracks(conn, Some(mid));
        }
        if muted && let Some(room) = self.participants.get(&conn).and_then(|p| p.room()) {
            // A muted microphone is not the room's speaker any more.
            let room = room.to_owned();
            let nums: Vec<u64> = self
                .tracks
                .iter()
                .filter(|t| t.owner == conn && t.muted)
                .map(|t| t.num)
                .collect();
            for n in nums {
                self.forget_speaker(&room, n);
            }
        }
    }

    /// Tells the class how well `conn`'s media gets through, when that changes.
    pub(super) fn note_loss(&mut self, conn: ConnId, loss: f32) {
        let quality = quality_of(loss);
        let Some(p) = self.participants.get_mut(&conn) else {
            return;
        };
        if p.network == Some(quality) {
            return;
        }
        p.network = Some(quality);
        self.class.set_network(conn, quality);
    }

    /// The attendance report of every class with someone connected, for a shutdown.
    pub(super) fn final_reports(&mut self, now: Instant) {
        let ms = self.config.unix_ms(now);
        let mut rooms: Vec<String> = self
            .participants
            .values()
            .filter_map(|p| p.room().map(str::to_owned))
            .collect();
        rooms.sort();
        rooms.dedup();
        for room in rooms {
            if let Some(report) = self.class.report(ms, &room) {
                self.outputs.push_back(Output::ClassEnded {
                    report: Box::new(report),
                });
            }
        }
    }

    /// Whether `conn` was admitted and may publish `source` now.
    pub fn may_publish(&self, conn: ConnId, source: Source) -> bool {
        self.class.may_publish(conn, source)
    }

    /// Sets a class up before anyone joins (a host that hands out a code and an invite).
    /// Refused when the code does not parse or another class has it.
    pub fn setup_class(
        &mut self,
        now: Instant,
        room: &str,
        setup: classroom::ClassSetup,
    ) -> Result<(), classroom::Refusal> {
        let ms = self.config.unix_ms(now);
        let result = self.class.setup_class(ms, room, setup);
        self.pump_class(now);
        result
    }

    /// The attendance report of `room` so far.
    pub fn report(&self, now: Instant, room: &str) -> Option<classroom_protocol::AttendanceReport> {
        self.class.report(self.config.unix_ms(now), room)
    }

    /// The class rules' counters.
    pub fn class_stats(&self) -> classroom::Stats {
        self.class.stats()
    }
}

/// One `Admitted` output, named.
struct Admission {
    conn: ConnId,
    room: String,
    participant_id: String,
    identity: String,
    role: Role,
    name: String,
    media: MediaGrant,
    issue_token: bool,
    expires_ms: u64,
    resumed: bool,
}
