//! Coming in and going out of one class: the lobby, admission, reconnecting within the
//! grace period, leaving for good, lock, removal and token expiry.

use classroom_protocol::{
    ByeCause, ClassEvent, EntryVia, ErrorCode, LobbyEntry, LobbyPolicy, MAX_PAGE, NetworkQuality,
    Role,
};

use crate::bucket::Bucket;
use crate::class::{Class, Ctx, refuse};
use crate::entry::{ConnState, Joiner};
use crate::member::{Member, Status};
use crate::random::hex;
use crate::{Config, ConnId, Millis, Output, Refusal};

impl Class {
    /// What refuses a join before it is placed: revoked identity, lock, size.
    pub(crate) fn check_entry(
        &self,
        now: Millis,
        joiner: &Joiner,
        cfg: &Config,
    ) -> Result<(), Refusal> {
        if joiner.expires_ms <= now {
            return refuse(ErrorCode::Expired, "the token has expired");
        }
        let known_slot = joiner
            .identity
            .as_deref()
            .and_then(|id| self.by_identity.get(id))
            .copied();
        let known = known_slot.and_then(|slot| self.member(slot));
        if let Some(id) = &joiner.identity
            && self.revoked.contains(id.as_str())
        {
            return refuse(ErrorCode::Removed, "you were removed from this class");
        }
        // A companion is what it was first made as, and comes only with its staff member.
        let known_owner = known_slot.and_then(|slot| self.companion_of.get(&slot));
        if known.is_some() && known_owner.map(|o| &**o) != joiner.companion_of.as_deref() {
            return refuse(
                ErrorCode::Forbidden,
                "this identity is in the class as someone else",
            );
        }
        if let Some(owner) = &joiner.companion_of {
            let owner_here = self
                .by_identity
                .get(owner.as_str())
                .and_then(|slot| self.member(*slot))
                .is_some_and(|o| o.present() && o.is_staff() && !o.is_companion());
            // A personal token: an invite's fresh identity would wait in the lobby.
            let personal = joiner.via == EntryVia::Token && joiner.identity.is_some();
            if joiner.role != Role::Observer || !personal || !owner_here {
                return refuse(
                    ErrorCode::Forbidden,
                    "a companion session joins only with a personal observer's token, with its staff member in the class",
                );
            }
            return Ok(());
        }
        // Someone in the class (reconnecting within grace) or already waiting is not new.
        let returning = known.is_some_and(|m| m.status != Status::Absent);
        let staff_token =
            joiner.via == EntryVia::Token && matches!(joiner.role, Role::Teacher | Role::Assistant);
        if self.locked && !returning && !staff_token {
            return refuse(ErrorCode::Locked, "the class is locked");
        }
        let size = self.present.len() + self.lobby.len();
        if !returning && size >= cfg.max_class_size as usize {
            return refuse(ErrorCode::Full, "the class is full");
        }
        Ok(())
    }

    /// Places a join: back into the class, into the lobby, or straight in.
    pub(crate) fn enter(
        &mut self,
        ctx: &mut Ctx,
        conn: ConnId,
        joiner: Joiner,
    ) -> Result<(), Refusal> {
        self.check_entry(ctx.now, &joiner, ctx.cfg)?;
        let slot = match joiner
            .identity
            .as_deref()
            .and_then(|id| self.by_identity.get(id))
        {
            Some(slot) => *slot,
            None => {
                let fresh = joiner.identity.is_none();
                let identity = match &joiner.identity {
                    Some(id) => id.clone(),
                    None => self.fresh_identity(ctx),
                };
                self.new_member(ctx.now, identity, &joiner, fresh)
            }
        };
        let Some(status) = self.member(slot).map(|m| m.status) else {
            return refuse(ErrorCode::Internal, "lost a member");
        };
        match status {
            Status::Present => self.resume(ctx, slot, conn, &joiner),
            Status::Lobby => {
                // Knocking again from a new connection: keep the place in the queue, unless
                // what the new join says (or the policy now) lets them straight in.
                self.update_details(slot, &joiner);
                self.expiry.insert((joiner.expires_ms, slot));
                let old = self.member_mut(slot).and_then(|m| m.conn.replace(conn));
                if let Some(old) = old {
                    ctx.close(old, ByeCause::Replaced, "replaced by a newer connection");
                }
                if self.member(slot).is_some_and(|m| !self.needs_lobby(m)) {
                    self.admit(ctx, slot, conn, true);
                    return Ok(());
                }
                ctx.conns.insert(
                    conn,
                    ConnState::Lobby {
                        class: ctx.class_id,
                        slot,
                    },
                );
                self.send_waiting(ctx, slot);
            }
            Status::Absent => {
                self.update_details(slot, &joiner);
                if self.member(slot).is_some_and(|m| self.needs_lobby(m)) {
                    self.put_in_lobby(ctx, slot, conn);
                } else {
                    self.admit(ctx, slot, conn, false);
                }
            }
        }
        Ok(())
    }

    fn fresh_identity(&mut self, ctx: &mut Ctx) -> String {
        loop {
            // 96 bits: unguessable, and collisions are checked anyway.
            let id = format!("g-{}", hex(ctx.random, 12));
            if !self.by_identity.contains_key(id.as_str()) {
                return id;
            }
        }
    }

    fn new_member(&mut self, now: Millis, identity: String, joiner: &Joiner, fresh: bool) -> u32 {
        let slot = self.members.len() as u32;
        let mut m = Member::new(slot, identity, joiner.name.clone(), joiner.role, now);
        m.fresh = fresh;
        if let Some(owner) = &joiner.companion_of {
            m.companion = true;
            self.companion_of.insert(slot, owner.as_str().into());
        }
        self.by_identity.insert(m.identity.clone(), slot);
        self.members.push(Some(Box::new(m)));
        slot
    }

    /// Takes what the newest join says about a member not (or no longer) in the class.
    fn update_details(&mut self, slot: u32, joiner: &Joiner) {
        let Some(m) = self.member_mut(slot) else {
            return;
        };
        m.name = joiner.name.clone().into_boxed_str();
        m.role = joiner.role;
        m.via = joiner.via;
        m.issue_token = joiner.issue_token;
        m.publish = joiner.publish;
        m.subscribe = joiner.subscribe;
        m.expires_ms = joiner.expires_ms;
        let (identity, name, current) = (m.identity.clone(), m.name.clone(), m.roster);
        let roster = self.roster.lookup(&identity, &name, current);
        if let Some(m) = self.member_mut(slot) {
            m.roster = roster;
        }
    }

    fn needs_lobby(&self, m: &Member) -> bool {
        if m.via == EntryVia::Code {
            return true; // a short code is only ever a way to knock
        }
        match m.role {
            Role::Teacher | Role::Assistant => false,
            Role::Observer => m.via != EntryVia::Token && self.policy != LobbyPolicy::AdmitAll,
            Role::Student => match self.policy {
                LobbyPolicy::AlwaysAsk => true,
                LobbyPolicy::AdmitRoster => m.roster.is_none(),
                _ => false,
            },
            _ => true,
        }
    }

    fn put_in_lobby(&mut self, ctx: &mut Ctx, slot: u32, conn: ConnId) {
        self.lobby_seq += 1;
        let seq = self.lobby_seq;
        let Some(m) = self.member_mut(slot) else {
            return;
        };
        m.status = Status::Lobby;
        m.conn = Some(conn);
        m.since = ctx.now;
        m.lobby_seq = seq;
        let expires = m.expires_ms;
        self.lobby.insert(seq, slot);
        self.expiry.insert((expires, slot));
        ctx.conns.insert(
            conn,
            ConnState::Lobby {
                class: ctx.class_id,
                slot,
            },
        );
        self.send_waiting(ctx, slot);
        self.lobby_changed(ctx);
    }

    fn send_waiting(&self, ctx: &mut Ctx, slot: u32) {
        if let Some(conn) = self.member(slot).and_then(|m| m.conn) {
            ctx.send(
                conn,
                ClassEvent::Waiting {
                    reason: "Please wait: the teacher will let you in.".to_owned(),
                },
            );
        }
    }

    fn lobby_changed(&mut self, ctx: &Ctx) {
        self.batch.lobby = true;
        self.counts_changed(ctx);
    }

    /// The lobby as staff see it, longest waiting first.
    pub(crate) fn lobby_event(&self) -> ClassEvent {
        let waiting = self
            .lobby
            .values()
            .take(MAX_PAGE as usize)
            .filter_map(|s| self.member(*s))
            .map(|m| LobbyEntry {
                participant_id: m.pid.to_string(),
                name: m.name.to_string(),
                via: m.via,
                on_roster: m.roster.is_some(),
                since_ms: m.since,
            })
            .collect();
        ClassEvent::Lobby { waiting }
    }

    /// Takes a member out of the lobby. One the class made an identity for, and who was
    /// never let in, is forgotten: nothing will ever name them again.
    fn leave_lobby(&mut self, ctx: &Ctx, slot: u32, admitted: bool) {
        let Some(m) = self.member_mut(slot) else {
            return;
        };
        let seq = m.lobby_seq;
        m.status = Status::Absent;
        let forget = !admitted && m.fresh && m.att.first_join.is_none();
        let identity = m.identity.clone();
        self.lobby.remove(&seq);
        if forget {
            self.by_identity.remove(&identity);
            self.members[slot as usize] = None;
        }
        self.lobby_changed(ctx);
    }

    /// Lets a member in (new, or back after leaving for good).
    pub(crate) fn admit(&mut self, ctx: &mut Ctx, slot: u32, conn: ConnId, from_lobby: bool) {
        if from_lobby {
            self.leave_lobby(ctx, slot, true);
        }
        let roll = self.roll.as_ref().filter(|r| r.open).map(|r| r.id);
        let poll = self.poll.open_id();
        let cfg = ctx.cfg;
        let now = ctx.now;
        let Some(m) = self.member_mut(slot) else {
            return;
        };
        m.status = Status::Present;
        m.conn = Some(conn);
        m.on_stage = false;
        m.hand = 0;
        m.sent_hand_pos = 0;
        m.mic = None;
        m.chat_bucket = Bucket::full(now, cfg.chat_burst);
        m.react_bucket = Bucket::full(now, cfg.react_burst);
        m.draw_bucket = Bucket::full(now, cfg.draw_burst);
        if m.att.first_join.is_none() {
            m.att.first_join = Some(now);
        } else {
            m.att.reconnects += 1;
        }
        m.att.connected_since = Some(now);
        m.att.last_leave = None;
        let student = m.is_student();
        // Those admitted while a roll call or poll is open are expected to answer it too.
        let mut expected_roll = false;
        if let Some(id) = roll
            && student
            && m.roll_expected != id
        {
            m.roll_expected = id;
            expected_roll = true;
        }
        let mut expected_poll = false;
        if let Some(id) = poll
            && student
            && m.poll_expected != id
        {
            m.poll_expected = id;
            m.vote = 0;
            expected_poll = true;
        }
        let (expires, roster) = (m.expires_ms, m.roster);
        if expected_roll && let Some(r) = self.roll.as_mut() {
            r.expected += 1;
            r.changed = true;
        }
        if expected_poll {
            self.poll.expect_one();
        }
        if let Some(idx) = roster {
            self.roster.claim(idx);
        }
        self.expiry.insert((expires, slot));
        ctx.conns.insert(
            conn,
            ConnState::Member {
                class: ctx.class_id,
                slot,
            },
        );
        self.index(slot);
        self.mark_admitted();
        self.touch(ctx, slot);
        self.counts_changed(ctx);
        self.welcome(ctx, slot, false);
    }

    /// The same identity again while present: the new connection takes over, with hand,
    /// stage place and everything else kept.
    fn resume(&mut self, ctx: &mut Ctx, slot: u32, conn: ConnId, joiner: &Joiner) {
        let role_changed = self.member(slot).is_some_and(|m| m.role != joiner.role);
        if role_changed {
            // A new token with another role: out of every index under the old role, in
            // under the new one (hand and stage do not carry over).
            self.unindex(slot);
            if let Some(m) = self.member_mut(slot) {
                m.role = joiner.role;
            }
        }
        let now = ctx.now;
        let Some(m) = self.member_mut(slot) else {
            return;
        };
        m.name = joiner.name.clone().into_boxed_str();
        m.publish = joiner.publish;
        m.subscribe = joiner.subscribe;
        m.expires_ms = joiner.expires_ms;
        m.issue_token = joiner.issue_token;
        let old = m.conn.replace(conn);
        m.att.reconnects += 1;
        if old.is_none() {
            m.att.connected_since = Some(now);
        }
        let expires = m.expires_ms;
        match old {
            Some(old) => ctx.close(old, ByeCause::Replaced, "replaced by a newer connection"),
            None if !role_changed => self.n_connected += 1,
            None => {}
        }
        if role_changed {
            self.index(slot);
            self.counts_changed(ctx);
        }
        self.expiry.insert((expires, slot));
        ctx.conns.insert(
            conn,
            ConnState::Member {
                class: ctx.class_id,
                slot,
            },
        );
        self.touch(ctx, slot);
        self.welcome(ctx, slot, true);
    }

    /// What someone just admitted (or back) is told: who they are, the whole picture,
    /// their first page of the list, and for staff the lobby and the ways in.
    fn welcome(&mut self, ctx: &mut Ctx, slot: u32, resumed: bool) {
        let Some(m) = self.member(slot) else {
            return;
        };
        let Some(conn) = m.conn else {
            return;
        };
        ctx.out.push_back(Output::Admitted {
            conn,
            room: self.room.clone(),
            participant_id: m.pid.to_string(),
            identity: m.identity.to_string(),
            role: m.role,
            name: m.name.to_string(),
            media: self.grant(m),
            issue_token: m.issue_token,
            expires_ms: m.expires_ms,
            resumed,
        });
        let state = self.state(ctx, m);
        ctx.send(conn, state);
        let page = self.page(m.viewer(), 0, ctx.cfg.first_page.min(MAX_PAGE));
        ctx.send(conn, page);
        if m.is_staff() {
            ctx.send(conn, self.lobby_event());
            ctx.send(conn, self.invites_event());
        }
        if let Some(results) = self.poll.shown_results() {
            ctx.send(conn, ClassEvent::PollResults(results));
        }
        let hand_pos = m.sent_hand_pos;
        if hand_pos != 0 || m.hand != 0 {
            // Their place is recounted in the next batch.
            self.batch.hands = true;
        }
    }

    pub(crate) fn invites_event(&self) -> ClassEvent {
        ClassEvent::Invites {
            invite_token: self.invite.clone(),
            code: self.code.as_deref().map(crate::code::format),
        }
    }

    /// The driver lost `conn` (already out of the connection table).
    pub(crate) fn disconnected(&mut self, ctx: &mut Ctx, slot: u32, conn: ConnId) {
        if self.member(slot).and_then(|m| m.conn) != Some(conn) {
            return;
        }
        self.detach(ctx, slot);
    }

    /// The member on `conn` left on purpose: out of the class now, no grace period.
    pub(crate) fn left(&mut self, ctx: &mut Ctx, slot: u32, conn: ConnId) {
        let Some(m) = self.member(slot) else {
            return;
        };
        if m.conn != Some(conn) {
            return;
        }
        if m.status == Status::Present {
            // Out of every index (and the connected count) with its connection.
            self.leave_for_good(ctx, slot, ctx.now);
        } else {
            self.detach(ctx, slot);
        }
    }

    /// The member's connection is gone: out of the lobby, or reconnecting within grace.
    fn detach(&mut self, ctx: &mut Ctx, slot: u32) {
        let grace = ctx.cfg.grace_ms;
        let now = ctx.now;
        let Some(m) = self.member_mut(slot) else {
            return;
        };
        if m.conn.take().is_none() {
            return;
        }
        match m.status {
            Status::Lobby => self.leave_lobby(ctx, slot, false),
            Status::Present => {
                m.since = now.saturating_add(grace);
                m.dropped_at = now;
                if let Some(since) = m.att.connected_since.take() {
                    m.att.connected_ms += now.saturating_sub(since);
                }
                let until = m.since;
                self.n_connected = self.n_connected.saturating_sub(1);
                self.grace.insert((until, slot));
                self.touch(ctx, slot);
            }
            Status::Absent => {}
        }
    }

    /// Members whose grace period ran out leave for good.
    pub(crate) fn grace_due(&mut self, ctx: &mut Ctx) {
        while let Some(&(at, slot)) = self.grace.first() {
            if at > ctx.now {
                break;
            }
            self.grace.pop_first();
            let still = self
                .member(slot)
                .is_some_and(|m| m.present() && m.conn.is_none() && m.since == at);
            if still {
                let left = self.member(slot).map_or(at, |m| m.dropped_at);
                self.leave_for_good(ctx, slot, left);
            }
        }
    }

    /// Out of the class: off every list, hand down, off stage.
    fn leave_for_good(&mut self, ctx: &mut Ctx, slot: u32, at: Millis) {
        self.close_companions(ctx, slot);
        self.unindex(slot);
        let Some(m) = self.member_mut(slot) else {
            return;
        };
        m.status = Status::Absent;
        if m.conn.take().is_some()
            && let Some(since) = m.att.connected_since.take()
        {
            m.att.connected_ms += at.saturating_sub(since);
        }
        m.att.last_leave = Some(at);
        self.touch(ctx, slot);
        self.counts_changed(ctx);
    }

    /// A staff member leaves: their companion sessions are closed and leave with them.
    fn close_companions(&mut self, ctx: &mut Ctx, owner: u32) {
        let Some(identity) = self.member(owner).map(|m| m.identity.clone()) else {
            return;
        };
        let theirs: Vec<u32> = self
            .companions
            .iter()
            .copied()
            .filter(|s| self.companion_of.get(s) == Some(&identity))
            .collect();
        for slot in theirs {
            if let Some(conn) = self.member(slot).and_then(|c| c.conn) {
                ctx.close(
                    conn,
                    ByeCause::OwnerLeft,
                    "the staff member it belongs to left the class",
                );
            }
            self.leave_for_good(ctx, slot, ctx.now);
        }
    }

    /// Tokens that expired during the class: their connections are closed.
    pub(crate) fn expire_due(&mut self, ctx: &mut Ctx) {
        while let Some(&(at, slot)) = self.expiry.first() {
            if at > ctx.now {
                break;
            }
            self.expiry.pop_first();
            let still = self
                .member(slot)
                .is_some_and(|m| m.expires_ms == at && m.conn.is_some());
            if still {
                self.expire(ctx, slot);
            }
        }
    }

    /// Closes a member whose token expired; they may come back with a new one within grace.
    pub(crate) fn expire(&mut self, ctx: &mut Ctx, slot: u32) {
        let Some(conn) = self.member(slot).and_then(|m| m.conn) else {
            return;
        };
        ctx.refuse_and_close(
            conn,
            ErrorCode::Expired,
            "your access to this class has expired",
        );
        self.detach(ctx, slot);
    }

    /// Staff let someone in from the lobby.
    pub(crate) fn admit_from_lobby(&mut self, ctx: &mut Ctx, pid: &str) -> Result<(), Refusal> {
        let slot = self.lobby_member(pid)?;
        let Some(conn) = self.member(slot).and_then(|m| m.conn) else {
            return refuse(ErrorCode::NotFound, "nobody waits with that id");
        };
        self.admit(ctx, slot, conn, true);
        Ok(())
    }

    /// Staff let everyone in the lobby in, longest waiting first.
    pub(crate) fn admit_everyone(&mut self, ctx: &mut Ctx) {
        let waiting: Vec<u32> = self.lobby.values().copied().collect();
        for slot in waiting {
            if let Some(conn) = self.member(slot).and_then(|m| m.conn) {
                self.admit(ctx, slot, conn, true);
            }
        }
    }

    /// Staff send someone in the lobby away.
    pub(crate) fn deny(&mut self, ctx: &mut Ctx, pid: &str) -> Result<(), Refusal> {
        let slot = self.lobby_member(pid)?;
        if let Some(conn) = self.member_mut(slot).and_then(|m| m.conn.take()) {
            ctx.refuse_and_close(conn, ErrorCode::Denied, "the teacher did not let you in");
        }
        self.leave_lobby(ctx, slot, false);
        Ok(())
    }

    fn lobby_member(&self, pid: &str) -> Result<u32, Refusal> {
        match crate::member::slot_of(pid) {
            Some(slot) if self.member(slot).is_some_and(|m| m.status == Status::Lobby) => Ok(slot),
            _ => refuse(ErrorCode::NotFound, "nobody waits with that id"),
        }
    }

    /// The teacher removes someone (in the class or waiting): closed, and their identity
    /// refused here from now on.
    pub(crate) fn remove(&mut self, ctx: &mut Ctx, pid: &str) -> Result<(), Refusal> {
        let slot = match crate::member::slot_of(pid) {
            Some(slot)
                if self
                    .member(slot)
                    .is_some_and(|m| m.status != Status::Absent) =>
            {
                slot
            }
            _ => return refuse(ErrorCode::NotFound, "no such participant in the class"),
        };
        let Some(m) = self.member(slot) else {
            return refuse(ErrorCode::NotFound, "no such participant in the class");
        };
        if m.role == Role::Teacher {
            return refuse(ErrorCode::Forbidden, "a teacher cannot be removed");
        }
        let (status, conn, identity) = (m.status, m.conn, m.identity.clone());
        self.revoked.insert(identity);
        if let Some(conn) = conn {
            ctx.refuse_and_close(conn, ErrorCode::Removed, "you were removed from the class");
        }
        match status {
            Status::Lobby => {
                if let Some(m) = self.member_mut(slot) {
                    m.conn = None;
                }
                self.leave_lobby(ctx, slot, false);
            }
            _ => self.leave_for_good(ctx, slot, ctx.now),
        }
        Ok(())
    }

    /// Lock or unlock; choose the lobby policy.
    pub(crate) fn set_lock(&mut self, ctx: &Ctx, locked: bool) {
        self.locked = locked;
        self.settings_changed(ctx);
    }

    pub(crate) fn set_policy(&mut self, ctx: &Ctx, policy: LobbyPolicy) {
        self.policy = policy;
        self.settings_changed(ctx);
    }

    pub(crate) fn settings_changed(&mut self, ctx: &Ctx) {
        self.batch.settings = true;
        self.schedule(ctx, true);
    }

    /// A new roster: everyone who came is matched again (teacher-only and rare, so one
    /// pass over the members is fine).
    /// A new roster, or (`append`) more entries for the one set so far; either way every
    /// member is matched against the whole of it again.
    pub(crate) fn set_roster(
        &mut self,
        ctx: &Ctx,
        entries: Vec<classroom_protocol::RosterEntry>,
        append: bool,
    ) {
        let entries = if append {
            let mut all = std::mem::take(&mut self.roster).into_entries();
            all.extend(entries);
            all
        } else {
            entries
        };
        self.roster = crate::roster::Roster::new(entries);
        for slot in 0..self.members.len() as u32 {
            let Some(m) = self.member(slot) else {
                continue;
            };
            let (identity, name, came) = (
                m.identity.clone(),
                m.name.clone(),
                m.att.first_join.is_some(),
            );
            let (before, status) = (m.roster, m.status);
            // A new roster: earlier matches mean nothing in it.
            let roster = self.roster.lookup(&identity, &name, None);
            if came && let Some(idx) = roster {
                self.roster.claim(idx);
            }
            if let Some(m) = self.member_mut(slot) {
                m.roster = roster;
            }
            if before.is_some() != roster.is_some() {
                match status {
                    Status::Present => self.touch(ctx, slot),
                    Status::Lobby => self.batch.lobby = true,
                    Status::Absent => {}
                }
            }
        }
    }

    /// The SFU's view of a member's media.
    pub(crate) fn set_network(&mut self, slot: u32, quality: NetworkQuality) {
        let Some(m) = self.member_mut(slot) else {
            return;
        };
        if m.network == quality || !m.present() {
            return;
        }
        m.network = quality;
        let at = self.batch.last_flush + self.batch.period_ms;
        self.touch_at(slot, at);
    }
}
