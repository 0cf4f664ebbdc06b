//! One class: its members, settings and the indexes that keep every request cheap.
//!
//! Members are kept per identity in slots (`p{slot+1}`) for the whole class. Who is present
//! is kept in a list (for broadcasts), in two order-statistics sets (the lists staff and the
//! stage page through, in join order) and in the small set of staff and stage members that
//! ordinary students see. Counters are kept as things change, never recounted.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use classroom_protocol::{
    ByeCause, ClassEvent, ClassSettings, Counts, ErrorCode, LobbyPolicy, MAX_STAGE,
    ParticipantInfo, ServerMessage, TimerInfo, YouInfo,
};

use crate::batch::Batch;
use crate::bucket::Bucket;
use crate::chat::ChatState;
use crate::entry::ConnState;
use crate::member::{CAMERA, MICROPHONE, Member, Viewer, slot_of, sources};
use crate::order::OrderSet;
use crate::polls::{PollState, Reactions};
use crate::random::RandomSource;
use crate::rollcall::RollCall;
use crate::roster::Roster;
use crate::{ClassSetup, Config, ConnId, MediaGrant, Millis, Output, Refusal};

/// What a class needs from the server to act: settings, where outputs go, the connection
/// table, randomness, and the time.
pub(crate) struct Ctx<'a> {
    pub cfg: &'a Config,
    pub out: &'a mut VecDeque<Output>,
    pub conns: &'a mut HashMap<ConnId, ConnState>,
    pub random: &'a mut dyn RandomSource,
    pub class_id: u32,
    pub now: Millis,
}

impl Ctx<'_> {
    pub(crate) fn send(&mut self, to: ConnId, event: ClassEvent) {
        self.out.push_back(Output::Send {
            to,
            msg: ServerMessage::Class(event),
        });
    }

    pub(crate) fn broadcast(&mut self, to: Vec<ConnId>, event: ClassEvent) {
        if !to.is_empty() {
            self.out.push_back(Output::Broadcast {
                to,
                msg: Arc::new(ServerMessage::Class(event)),
            });
        }
    }

    /// Tells a connection to close for `cause` (replaced, its owner left): no refusal.
    pub(crate) fn close(&mut self, conn: ConnId, cause: ByeCause, reason: &str) {
        self.push_close(conn, None, cause, reason);
    }

    /// Refuses a connection for good with `code` (removed, denied, expired) and closes it;
    /// until the driver reports it gone, its requests are answered with `code`.
    pub(crate) fn refuse_and_close(&mut self, conn: ConnId, code: ErrorCode, reason: &str) {
        self.push_close(conn, Some(code), ByeCause::Refused, reason);
    }

    fn push_close(&mut self, conn: ConnId, code: Option<ErrorCode>, cause: ByeCause, reason: &str) {
        self.out.push_back(Output::Close {
            conn,
            code,
            cause,
            reason: reason.to_owned(),
        });
        self.conns.insert(conn, ConnState::Closing { code });
    }
}

/// A refusal with words.
pub(crate) fn refuse<T>(code: ErrorCode, message: &str) -> Result<T, Refusal> {
    Err((code, message.to_owned()))
}

/// The class timer.
pub(crate) type Timer = Option<TimerInfo>;

/// One class.
pub(crate) struct Class {
    pub room: String,
    /// The host's setup, kept to start afresh when the class ends.
    setup: Option<ClassSetup>,
    pub locked: bool,
    pub policy: LobbyPolicy,
    pub chat_paused: bool,
    pub stage_limit: u32,
    /// "Mute all" in force, and its epoch (individual decisions older than it give way).
    pub students_muted: bool,
    pub mic_epoch: u32,
    /// Normalized class code and invite secret.
    pub code: Option<String>,
    pub invite: Option<String>,
    code_bucket: Bucket,
    pub roster: Roster,
    pub members: Vec<Option<Box<Member>>>,
    pub by_identity: HashMap<Box<str>, u32>,
    pub revoked: HashSet<Box<str>>,
    /// Present members (connected or within grace), unordered, for broadcasts.
    pub present: Vec<u32>,
    /// Present members in join order: all, and all but observers.
    pub list_all: OrderSet,
    pub list_no_observers: OrderSet,
    /// Present staff and stage members: what ordinary students see.
    pub notable: BTreeSet<u32>,
    pub staff: BTreeSet<u32>,
    pub stage: BTreeSet<u32>,
    /// Raised hands by when they went up.
    pub hands: BTreeMap<u64, u32>,
    pub hand_seq: u64,
    pub lobby: BTreeMap<u64, u32>,
    pub lobby_seq: u64,
    pub n_observers: u32,
    /// Present companion sessions of staff ([`crate::Entry::companion_of`]): in `present`
    /// (they receive what any observer does) and nowhere else.
    pub companions: Vec<u32>,
    /// Every companion member's staff member (identity), by slot.
    pub companion_of: HashMap<u32, Box<str>>,
    pub n_connected: u32,
    /// Members who said they record the class.
    pub n_recording: u32,
    /// Disconnected members by end of grace; members by token expiry.
    pub grace: BTreeSet<(Millis, u32)>,
    pub expiry: BTreeSet<(Millis, u32)>,
    pub chat: ChatState,
    pub roll: Option<RollCall>,
    pub roll_seq: u64,
    pub poll: PollState,
    pub reactions: Reactions,
    pub timer: Timer,
    pub batch: Batch,
    /// The class's whiteboard: the server's copy and the one order of its changes.
    pub board: annotate::Sequencer,
    /// The pages of the class's each student let draw on some pages only may draw on, by
    /// participant id (not in `Member`: few have one, and a member's size is budgeted). Read
    /// only while the member `may_draw`.
    pub draw_pages: HashMap<String, BTreeSet<String>>,
    ever_admitted: bool,
}

impl Class {
    pub(crate) fn new(now: Millis, room: &str, cfg: &Config) -> Self {
        Class {
            room: room.to_owned(),
            setup: None,
            locked: false,
            policy: cfg.lobby_policy,
            chat_paused: false,
            stage_limit: cfg.stage_limit.clamp(1, MAX_STAGE),
            students_muted: false,
            mic_epoch: 0,
            code: None,
            invite: None,
            code_bucket: Bucket::full(now, cfg.code_class_burst),
            roster: Roster::default(),
            members: Vec::new(),
            by_identity: HashMap::new(),
            revoked: HashSet::new(),
            present: Vec::new(),
            list_all: OrderSet::default(),
            list_no_observers: OrderSet::default(),
            notable: BTreeSet::new(),
            staff: BTreeSet::new(),
            stage: BTreeSet::new(),
            hands: BTreeMap::new(),
            hand_seq: 0,
            lobby: BTreeMap::new(),
            lobby_seq: 0,
            n_observers: 0,
            companions: Vec::new(),
            companion_of: HashMap::new(),
            n_recording: 0,
            n_connected: 0,
            grace: BTreeSet::new(),
            expiry: BTreeSet::new(),
            chat: ChatState::default(),
            roll: None,
            roll_seq: 0,
            poll: PollState::default(),
            reactions: Reactions::default(),
            timer: None,
            batch: Batch::new(now, cfg.batch_ms),
            board: annotate::Sequencer::new(),
            draw_pages: HashMap::new(),
            ever_admitted: false,
        }
    }

    /// Applies a host's setup (and remembers it for when the class starts afresh).
    pub(crate) fn configure(
        &mut self,
        ctx: &mut Ctx,
        setup: ClassSetup,
        code: Option<String>,
        invite: String,
    ) {
        self.policy = setup.lobby_policy;
        self.stage_limit = setup.stage_limit.clamp(1, MAX_STAGE);
        self.code = code;
        self.invite = Some(invite.clone());
        self.set_roster(ctx, setup.roster.clone(), false);
        self.setup = Some(ClassSetup {
            invite_token: Some(invite),
            ..setup
        });
        self.batch.settings = true;
        self.batch.invites = true;
        self.schedule(ctx, true);
    }

    /// A fresh class with the same setup, for a class set up by its host that ended.
    pub(crate) fn restart(&self, now: Millis, cfg: &Config) -> Option<Class> {
        let setup = self.setup.clone()?;
        let mut fresh = Class::new(now, &self.room, cfg);
        fresh.policy = setup.lobby_policy;
        fresh.stage_limit = setup.stage_limit.clamp(1, MAX_STAGE);
        fresh.code.clone_from(&self.code);
        fresh.invite.clone_from(&self.invite);
        fresh.roster = Roster::new(setup.roster.clone());
        fresh.setup = Some(setup);
        Some(fresh)
    }

    pub(crate) fn ever_admitted(&self) -> bool {
        self.ever_admitted
    }

    pub(crate) fn mark_admitted(&mut self) {
        self.ever_admitted = true;
    }

    /// Nobody is in it or waiting: it has ended (or, never used and not set up, was
    /// never needed).
    pub(crate) fn is_over(&self) -> bool {
        self.present.is_empty()
            && self.lobby.is_empty()
            && (self.ever_admitted || self.setup.is_none())
    }

    pub(crate) fn take_code_budget(&mut self, now: Millis, cfg: &Config) -> bool {
        self.code_bucket
            .take(now, cfg.code_class_burst, cfg.code_class_per_sec)
    }

    pub(crate) fn member(&self, slot: u32) -> Option<&Member> {
        self.members.get(slot as usize)?.as_deref()
    }

    pub(crate) fn member_mut(&mut self, slot: u32) -> Option<&mut Member> {
        self.members.get_mut(slot as usize)?.as_deref_mut()
    }

    /// The present member a request names.
    pub(crate) fn target(&self, pid: &str) -> Result<u32, Refusal> {
        match slot_of(pid) {
            Some(slot) if self.member(slot).is_some_and(Member::present) => Ok(slot),
            _ => refuse(ErrorCode::NotFound, "no such participant in the class"),
        }
    }

    pub(crate) fn connected_count(&self) -> usize {
        self.n_connected as usize
    }

    pub(crate) fn lobby_len(&self) -> usize {
        self.lobby.len()
    }

    /// Makes the next batch due: at once for staff actions everyone must see, else at the
    /// end of the batch period.
    pub(crate) fn schedule(&mut self, ctx: &Ctx, urgent: bool) {
        let at = if urgent {
            ctx.now
        } else {
            ctx.now.max(self.batch.last_flush + ctx.cfg.batch_ms)
        };
        self.batch.due = Some(self.batch.due.map_or(at, |due| due.min(at)));
    }

    /// A member's standing changed: their row goes out in the next batch.
    pub(crate) fn touch(&mut self, ctx: &Ctx, slot: u32) {
        let at = ctx.now.max(self.batch.last_flush + ctx.cfg.batch_ms);
        self.touch_at(slot, at);
    }

    /// [`Class::touch`] with the batch due no later than `at`.
    pub(crate) fn touch_at(&mut self, slot: u32, at: Millis) {
        let Some(m) = self.member_mut(slot) else {
            return;
        };
        m.vis_since |= m.views();
        if !m.dirty {
            m.dirty = true;
            self.batch.dirty.push(slot);
        }
        self.batch.due = Some(self.batch.due.map_or(at, |due| due.min(at)));
    }

    /// Their own standing changed: a `you` goes out in the next batch.
    pub(crate) fn touch_you(&mut self, ctx: &Ctx, slot: u32) {
        let Some(m) = self.member_mut(slot) else {
            return;
        };
        if !m.you_dirty {
            m.you_dirty = true;
            self.batch.you.push(slot);
        }
        self.schedule(ctx, false);
    }

    pub(crate) fn counts_changed(&mut self, ctx: &Ctx) {
        self.batch.counts = true;
        self.schedule(ctx, false);
    }

    /// Adds a member who became present to every index.
    pub(crate) fn index(&mut self, slot: u32) {
        let Some(m) = self
            .members
            .get_mut(slot as usize)
            .and_then(|m| m.as_deref_mut())
        else {
            return;
        };
        m.present_pos = self.present.len() as u32;
        self.present.push(slot);
        if m.conn.is_some() {
            self.n_connected += 1;
        }
        if m.is_companion() {
            self.companions.push(slot);
            return;
        }
        self.list_all.insert(slot);
        if m.is_observer() {
            self.n_observers += 1;
        } else {
            self.list_no_observers.insert(slot);
        }
        if m.is_staff() {
            self.staff.insert(slot);
            self.notable.insert(slot);
        }
    }

    /// Takes a member who is no longer present out of every index: hand down, off stage.
    pub(crate) fn unindex(&mut self, slot: u32) {
        let Some(m) = self
            .members
            .get_mut(slot as usize)
            .and_then(|m| m.as_deref_mut())
        else {
            return;
        };
        let pos = m.present_pos as usize;
        if m.hand != 0 {
            self.hands.remove(&m.hand);
            m.hand = 0;
            self.batch.hands = true;
        }
        if std::mem::take(&mut m.recording) {
            self.n_recording = self.n_recording.saturating_sub(1);
        }
        // Whoever leaves the index is gone or about to be told everything afresh.
        m.sent_hand_pos = 0;
        m.on_stage = false;
        if m.is_companion() {
            self.companions.retain(|s| *s != slot);
        } else if m.is_observer() {
            self.n_observers = self.n_observers.saturating_sub(1);
        }
        if m.conn.is_some() {
            self.n_connected = self.n_connected.saturating_sub(1);
        }
        if self.present.get(pos) == Some(&slot) {
            self.present.swap_remove(pos);
            if let Some(moved) = self.present.get(pos).copied()
                && let Some(other) = self.member_mut(moved)
            {
                other.present_pos = pos as u32;
            }
        }
        self.list_all.remove(slot);
        self.list_no_observers.remove(slot);
        self.staff.remove(&slot);
        self.stage.remove(&slot);
        self.notable.remove(&slot);
    }

    /// Whether a member's microphone may be forwarded.
    pub(crate) fn mic_allowed(&self, m: &Member) -> bool {
        if m.is_staff() {
            return true;
        }
        if !m.is_student() {
            return false;
        }
        match m.mic {
            Some((epoch, allowed)) if epoch == self.mic_epoch => allowed,
            _ => !self.students_muted,
        }
    }

    /// What a member may do with media now: the token's sources, narrowed by role and
    /// stage.
    pub(crate) fn grant(&self, m: &Member) -> MediaGrant {
        MediaGrant {
            publish: sources(Self::publish_bits(m)),
            forward_audio: self.mic_allowed(m),
            subscribe: m.subscribe,
        }
    }

    /// The sources a member may publish now, as bits.
    pub(crate) fn publish_bits(m: &Member) -> u8 {
        if m.is_staff() {
            m.publish
        } else if m.is_student() && m.on_stage {
            m.publish & (CAMERA | MICROPHONE)
        } else {
            0
        }
    }

    /// Sends a connected member their media grant.
    pub(crate) fn send_grant(&self, ctx: &mut Ctx, slot: u32) {
        if let Some(m) = self.member(slot)
            && let Some(conn) = m.conn
            && m.present()
        {
            ctx.out.push_back(Output::Media {
                conn,
                grant: self.grant(m),
            });
        }
    }

    pub(crate) fn info(&self, m: &Member) -> ParticipantInfo {
        ParticipantInfo {
            draw_pages: self.drawing_pages(m),
            ..m.info(self.mic_allowed(m))
        }
    }

    /// The pages a student let draw on some pages only may draw on (for the wire).
    pub(crate) fn drawing_pages(&self, m: &Member) -> Option<Vec<String>> {
        let pages = self.draw_pages.get(m.pid.as_ref() as &str)?;
        m.may_draw.then(|| pages.iter().cloned().collect())
    }

    /// Whether staff let `m` draw on `page` of the class's.
    pub(crate) fn may_draw_on(&self, m: &Member, page: &str) -> bool {
        m.may_draw
            && self
                .draw_pages
                .get(m.pid.as_ref() as &str)
                .is_none_or(|pages| pages.contains(page))
    }

    pub(crate) fn you(&self, m: &Member) -> YouInfo {
        YouInfo {
            participant_id: m.pid.to_string(),
            role: m.role,
            hand_position: (m.sent_hand_pos != 0).then_some(m.sent_hand_pos),
            on_stage: m.on_stage,
            mic_allowed: self.mic_allowed(m),
            chat_muted: m.chat_muted,
            may_draw: m.may_draw,
            draw_pages: self.drawing_pages(m),
        }
    }

    pub(crate) fn settings(&self) -> ClassSettings {
        ClassSettings {
            locked: self.locked,
            lobby_policy: self.policy,
            chat_paused: self.chat_paused,
            stage_limit: self.stage_limit,
            students_muted: self.students_muted,
        }
    }

    /// Head counts as staff see them (observers and the lobby counted) or as everyone else
    /// does.
    pub(crate) fn counts(&self, staff: bool) -> Counts {
        let present = (self.present.len() - self.companions.len()) as u32;
        Counts {
            participants: if staff {
                present
            } else {
                present.saturating_sub(self.n_observers)
            },
            hands: self.hands.len() as u32,
            on_stage: self.stage.len() as u32,
            lobby: if staff { self.lobby.len() as u32 } else { 0 },
            recording: self.n_recording,
        }
    }

    /// How many a viewer's list holds.
    pub(crate) fn list_total(&self, viewer: Viewer) -> u32 {
        match viewer {
            Viewer::Staff => self.list_all.len(),
            Viewer::Stage => self.list_no_observers.len(),
            Viewer::Student => self.notable.len() as u32,
        }
    }

    /// A page of a viewer's list, in join order.
    pub(crate) fn page(&self, viewer: Viewer, offset: u32, limit: u32) -> ClassEvent {
        let slots: Vec<u32> = match viewer {
            Viewer::Staff | Viewer::Stage => {
                let set = if viewer == Viewer::Staff {
                    &self.list_all
                } else {
                    &self.list_no_observers
                };
                (offset..offset.saturating_add(limit))
                    .map_while(|k| set.select(k))
                    .collect()
            }
            Viewer::Student => self
                .notable
                .iter()
                .skip(offset as usize)
                .take(limit as usize)
                .copied()
                .collect(),
        };
        let items = slots
            .into_iter()
            .filter_map(|s| self.member(s))
            .map(|m| self.info(m))
            .collect();
        ClassEvent::Participants {
            total: self.list_total(viewer),
            offset,
            items,
        }
    }

    /// The whole picture for someone just admitted (or back).
    pub(crate) fn state(&self, ctx: &Ctx, m: &Member) -> ClassEvent {
        let roll_call = self
            .roll
            .as_ref()
            .filter(|r| r.open)
            .map(|r| r.info(m.roll_answered == r.id));
        ClassEvent::State {
            server_time_ms: ctx.now,
            you: self.you(m),
            settings: self.settings(),
            counts: self.counts(m.is_staff()),
            chat: self.chat.page_for(m, None, ctx.cfg.chat_page),
            roll_call,
            poll: self.poll.info(),
            timer: self.timer.clone().filter(|t| t.ends_ms > ctx.now),
        }
    }

    /// The connections of present, connected members of each list kind: (staff, stage,
    /// everyone else).
    pub(crate) fn audiences(&self) -> (Vec<ConnId>, Vec<ConnId>, Vec<ConnId>) {
        let mut staff = Vec::with_capacity(self.staff.len());
        let mut stage = Vec::with_capacity(self.stage.len());
        let mut rest = Vec::with_capacity(self.present.len());
        for slot in &self.present {
            let Some(m) = self.member(*slot) else {
                continue;
            };
            let Some(conn) = m.conn else {
                continue;
            };
            match m.viewer() {
                Viewer::Staff => staff.push(conn),
                Viewer::Stage => stage.push(conn),
                Viewer::Student => rest.push(conn),
            }
        }
        (staff, stage, rest)
    }

    /// The connections of present staff.
    pub(crate) fn staff_conns(&self) -> Vec<ConnId> {
        self.staff
            .iter()
            .filter_map(|s| self.member(*s)?.conn)
            .collect()
    }

    /// When this class next needs a tick.
    pub(crate) fn next_due(&self, cfg: &Config) -> Option<Millis> {
        let roll = self.roll.as_ref().filter(|r| r.open).map(|r| r.deadline_ms);
        let timer = self.timer.as_ref().map(|t| t.ends_ms);
        let grace = self.grace.first().map(|(at, _)| *at);
        let expiry = self.expiry.first().map(|(at, _)| *at);
        let over = self.is_over().then_some(0);
        [
            self.batch.due,
            self.batch.counts_due(cfg),
            self.roll_tally_due(cfg),
            self.poll.tally_due(cfg),
            roll,
            timer,
            grace,
            expiry,
            over,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Everything time decides, then the batch.
    pub(crate) fn tick(&mut self, ctx: &mut Ctx) {
        self.expire_due(ctx);
        self.grace_due(ctx);
        self.roll_due(ctx);
        if self.timer.as_ref().is_some_and(|t| t.ends_ms <= ctx.now) {
            // Clients count down themselves; the class only forgets it.
            self.timer = None;
        }
        if self.batch.due.is_some_and(|due| due <= ctx.now) {
            self.flush(ctx);
        }
        self.send_counts(ctx);
        self.send_roll_tally(ctx, false);
        self.send_poll_tally(ctx, false);
    }
}
