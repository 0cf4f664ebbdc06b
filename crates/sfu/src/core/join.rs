//! Joining a class over the websocket: a token or the class's short invite code checked,
//! the protocol version and the room's capacity, then the class's rules decide (admitted,
//! the lobby, the join queue).

use std::time::Instant;

use classroom::Entry;
use classroom_protocol::{EntryVia, ErrorCode, PROTOCOL_VERSION, Role};

use super::{ConnId, Refusal, Sfu, no_participant};
use crate::access::{AccessError, LEEWAY_SECS};

pub(super) struct JoinRequest {
    pub(super) token: String,
    pub(super) room: String,
    pub(super) display_name: String,
    pub(super) role: Role,
    pub(super) protocol_version: u32,
    pub(super) subscribe: bool,
}

impl Sfu {
    /// A websocket join: a personal or invite token (a JWT signed with the server's key), or
    /// the class's short invite secret. The class decides what happens next (admitted, the
    /// lobby, the join queue) through its outputs.
    pub(super) fn on_join(
        &mut self,
        now: Instant,
        conn: ConnId,
        req: JoinRequest,
    ) -> Result<(), Refusal> {
        self.check_join_request(conn, req.protocol_version)?;
        if req.room.trim().is_empty() || req.room.len() > 128 {
            return Err((ErrorCode::Malformed, "room must be 1..=128 bytes".into()));
        }
        self.check_room_capacity(&req.room)?;
        let ms = self.config.unix_ms(now);
        match self
            .config
            .access
            .verify(&req.token, self.config.unix_time(now))
        {
            Ok(claims) => {
                if claims.room != req.room {
                    return Err((
                        ErrorCode::Unauthorized,
                        format!(
                            "the token is for room {:?}, not {:?}",
                            claims.room, req.room
                        ),
                    ));
                }
                if claims.role != req.role {
                    return Err((
                        ErrorCode::Unauthorized,
                        format!(
                            "the token grants the role {:?}, not {:?}",
                            claims.role, req.role
                        ),
                    ));
                }
                let entry = Entry {
                    room: req.room,
                    identity: (!claims.invite).then_some(claims.sub),
                    display_name: req.display_name,
                    role: claims.role,
                    via: if claims.invite {
                        EntryVia::Invite
                    } else {
                        EntryVia::Token
                    },
                    expires_ms: claims.exp.saturating_add(LEEWAY_SECS).saturating_mul(1000),
                    subscribe: req.subscribe && claims.grants.subscribe,
                    publish: claims.grants.publish,
                    companion_of: claims.companion_of,
                };
                self.class.join(ms, conn, entry)?;
            }
            Err(AccessError::Expired(ago)) => {
                return Err((ErrorCode::Expired, format!("the token expired {ago} s ago")));
            }
            Err(e) if req.token.contains('.') || req.role != Role::Student => {
                return Err((ErrorCode::Unauthorized, e.to_string()));
            }
            // Not a JWT: perhaps the class's invite secret, which lets students in.
            Err(_) => self
                .class
                .join_invite(
                    ms,
                    conn,
                    &req.room,
                    &req.token,
                    &req.display_name,
                    req.subscribe,
                )
                .map_err(|(code, message)| match code {
                    ErrorCode::NotFound => (
                        ErrorCode::Unauthorized,
                        "the invite is not valid for this class".to_owned(),
                    ),
                    _ => (code, message),
                })?,
        }
        self.mark_join_started(conn);
        Ok(())
    }

    /// A join by short class code: the class rate-limits it and puts it in the lobby.
    pub(super) fn on_join_code(
        &mut self,
        now: Instant,
        conn: ConnId,
        code: &str,
        display_name: &str,
        protocol_version: u32,
        subscribe: bool,
    ) -> Result<(), Refusal> {
        self.check_join_request(conn, protocol_version)?;
        let peer = self
            .participants
            .get(&conn)
            .map(|p| p.peer)
            .ok_or_else(no_participant)?;
        let ms = self.config.unix_ms(now);
        self.class
            .join_code(ms, conn, peer, code, display_name, subscribe)?;
        self.mark_join_started(conn);
        Ok(())
    }

    /// The checks every join makes before the class sees it.
    fn check_join_request(&self, conn: ConnId, protocol_version: u32) -> Result<(), Refusal> {
        let p = self.participants.get(&conn).ok_or_else(no_participant)?;
        if p.joined.is_some() || p.join_started {
            return Err((ErrorCode::BadState, "already joined".into()));
        }
        if protocol_version != PROTOCOL_VERSION {
            return Err((
                ErrorCode::UnsupportedVersion,
                format!(
                    "protocol version {protocol_version} not supported (server speaks {PROTOCOL_VERSION})"
                ),
            ));
        }
        Ok(())
    }

    fn mark_join_started(&mut self, conn: ConnId) {
        if let Some(p) = self.participants.get_mut(&conn) {
            p.join_started = true;
        }
    }
}
