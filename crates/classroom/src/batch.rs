//! The batch: what changed since the last one goes out together, once per
//! [`crate::Config::batch_ms`] (at once after a staff action everyone must see).
//!
//! Participant-list changes are built once per kind of list and sent as one broadcast per
//! kind: staff (everyone), the stage (everyone but observers) and everyone else (staff and
//! the stage). A member's row records which lists it was in at the last batch and since, so
//! a receiver learns of a removal exactly when someone leaves their list. The connection
//! lists for a broadcast to everyone are built at most once per batch.

use classroom_protocol::{ClassEvent, Counts};

use crate::class::{Class, Ctx};
use crate::member::{VIEW_STAFF, VIEW_STAGE, VIEW_STUDENT, Viewer};
use crate::{Config, ConnId, Millis};

/// What waits for the next batch.
#[derive(Debug)]
pub(crate) struct Batch {
    /// When the next batch is due; `None`: nothing waits.
    pub due: Option<Millis>,
    pub last_flush: Millis,
    pub period_ms: u64,
    /// Members whose rows changed; members due a `you`.
    pub dirty: Vec<u32>,
    pub you: Vec<u32>,
    /// The hand queue changed; hands that went down since the last count.
    pub hands: bool,
    pub lowered: Vec<u32>,
    pub lobby: bool,
    pub settings: bool,
    pub invites: bool,
    /// The roll call started or closed.
    pub roll: bool,
    /// Events for everyone, in order (timer, polls, results).
    pub events: Vec<ClassEvent>,
    /// Whiteboard changes the server took since the last batch, in order.
    pub annotations: Vec<annotate::Stamped>,
    /// Head counts changed; what staff and the others were last told, and when.
    pub counts: bool,
    sent_counts: Option<(Counts, Counts)>,
    counts_at: Option<Millis>,
}

impl Batch {
    pub(crate) fn new(now: Millis, period_ms: u64) -> Self {
        Batch {
            due: None,
            last_flush: now,
            period_ms,
            dirty: Vec::new(),
            you: Vec::new(),
            hands: false,
            lowered: Vec::new(),
            lobby: false,
            settings: false,
            invites: false,
            roll: false,
            events: Vec::new(),
            annotations: Vec::new(),
            counts: false,
            sent_counts: None,
            counts_at: None,
        }
    }

    /// When head counts are next due.
    pub(crate) fn counts_due(&self, cfg: &Config) -> Option<Millis> {
        self.counts
            .then(|| self.counts_at.map_or(0, |at| at + cfg.tally_ms))
    }
}

/// Most participant rows in one `participantsChanged` message. A row is about 180 bytes of
/// JSON, and up to ~550 with a 64-character name that JSON escapes, so a hundred stay under
/// the protocol's 64 KiB message limit ([`classroom_protocol::MAX_MESSAGE_BYTES`]), which
/// clients enforce on what they receive. The burst of a thousand joins in the first batch
/// of a big class made one of 86-114 KB, which the teacher's client refused (bench control).
pub(crate) const CHANGES_PER_MESSAGE: usize = 100;

/// Most ids of departed participants in one message (about 10 bytes each).
pub(crate) const REMOVALS_PER_MESSAGE: usize = 2_000;

/// Participant-list changes for one kind of list.
#[derive(Default)]
struct Changes {
    upserts: Vec<classroom_protocol::ParticipantInfo>,
    removed: Vec<String>,
}

impl Changes {
    fn is_empty(&self) -> bool {
        self.upserts.is_empty() && self.removed.is_empty()
    }

    /// The changes as messages within the size limit: usually one.
    fn events(self, total: u32) -> Vec<ClassEvent> {
        let mut upserts = self.upserts.into_iter().peekable();
        let mut removed = self.removed.into_iter().peekable();
        let mut out = Vec::new();
        while upserts.peek().is_some() || removed.peek().is_some() {
            out.push(ClassEvent::ParticipantsChanged {
                upserts: upserts.by_ref().take(CHANGES_PER_MESSAGE).collect(),
                removed: removed.by_ref().take(REMOVALS_PER_MESSAGE).collect(),
                total,
            });
        }
        out
    }
}

/// Connections by the list they receive, built once per batch when a broadcast needs them.
struct Audiences {
    staff: Vec<ConnId>,
    stage: Vec<ConnId>,
    rest: Vec<ConnId>,
}

impl Audiences {
    fn everyone(&self) -> Vec<ConnId> {
        let mut all = Vec::with_capacity(self.staff.len() + self.stage.len() + self.rest.len());
        all.extend_from_slice(&self.staff);
        all.extend_from_slice(&self.stage);
        all.extend_from_slice(&self.rest);
        all
    }

    fn not_staff(&self) -> Vec<ConnId> {
        let mut all = Vec::with_capacity(self.stage.len() + self.rest.len());
        all.extend_from_slice(&self.stage);
        all.extend_from_slice(&self.rest);
        all
    }
}

impl Class {
    /// Sends everything that waited for this batch.
    pub(crate) fn flush(&mut self, ctx: &mut Ctx) {
        self.count_hands(ctx);
        let mut by_view = [Changes::default(), Changes::default(), Changes::default()];
        for slot in std::mem::take(&mut self.batch.dirty) {
            let Some(m) = self
                .members
                .get_mut(slot as usize)
                .and_then(|m| m.as_deref_mut())
            else {
                continue;
            };
            m.dirty = false;
            let now_in = m.views();
            let was_in = m.vis_sent | m.vis_since;
            m.vis_sent = now_in;
            m.vis_since = now_in;
            let Some(m) = self.member(slot) else {
                continue;
            };
            let info = (now_in != 0).then(|| self.info(m));
            for (i, bit) in [VIEW_STAFF, VIEW_STAGE, VIEW_STUDENT]
                .into_iter()
                .enumerate()
            {
                if now_in & bit != 0 {
                    if let Some(info) = &info {
                        by_view[i].upserts.push(info.clone());
                    }
                } else if was_in & bit != 0 {
                    by_view[i].removed.push(m.pid.to_string());
                }
            }
        }
        let [staff_changes, stage_changes, student_changes] = by_view;
        let needs_everyone = !student_changes.is_empty()
            || self.batch.settings
            || self.batch.roll
            || !self.batch.events.is_empty()
            || !self.batch.annotations.is_empty()
            || self.chat.pending()
            || self.reactions_pending();
        // The small lists come from their own indexes; the big one only when needed.
        let audiences = if needs_everyone {
            let (staff, stage, rest) = self.audiences();
            Audiences { staff, stage, rest }
        } else {
            Audiences {
                staff: self.staff_conns(),
                stage: self
                    .stage
                    .iter()
                    .filter_map(|s| self.member(*s)?.conn)
                    .collect(),
                rest: Vec::new(),
            }
        };
        if !staff_changes.is_empty() {
            let total = self.list_total(Viewer::Staff);
            for event in staff_changes.events(total) {
                ctx.broadcast(audiences.staff.clone(), event);
            }
        }
        if !stage_changes.is_empty() {
            let total = self.list_total(Viewer::Stage);
            for event in stage_changes.events(total) {
                ctx.broadcast(audiences.stage.clone(), event);
            }
        }
        if !student_changes.is_empty() {
            let total = self.list_total(Viewer::Student);
            for event in student_changes.events(total) {
                ctx.broadcast(audiences.rest.clone(), event);
            }
        }
        for slot in std::mem::take(&mut self.batch.you) {
            let Some(m) = self.member_mut(slot) else {
                continue;
            };
            m.you_dirty = false;
            if let Some(conn) = m.conn.filter(|_| m.present()) {
                let Some(m) = self.member(slot) else {
                    continue;
                };
                let you = self.you(m);
                ctx.send(conn, ClassEvent::You(you));
            }
        }
        if std::mem::take(&mut self.batch.lobby) {
            ctx.broadcast(audiences.staff.clone(), self.lobby_event());
        }
        if std::mem::take(&mut self.batch.invites) {
            ctx.broadcast(audiences.staff.clone(), self.invites_event());
        }
        let everyone = if needs_everyone {
            audiences.everyone()
        } else {
            Vec::new()
        };
        if std::mem::take(&mut self.batch.settings) {
            ctx.broadcast(everyone.clone(), ClassEvent::Settings(self.settings()));
        }
        if std::mem::take(&mut self.batch.roll) {
            self.broadcast_roll_call(ctx);
        }
        for event in std::mem::take(&mut self.batch.events) {
            ctx.broadcast(everyone.clone(), event);
        }
        let drawn = std::mem::take(&mut self.batch.annotations);
        if !drawn.is_empty() {
            // A stroke's batches of samples since the last one go as one.
            self.send_annotations(ctx, annotate::coalesce(drawn), &everyone);
        }
        if self.chat.pending() {
            self.flush_chat(ctx, &everyone);
        }
        self.flush_reactions(ctx, &everyone);
        self.batch.last_flush = ctx.now;
        self.batch.due = None;
    }

    /// Head counts, at most once per tally period and only when they changed: one
    /// broadcast to staff (observers and the lobby counted), one to everyone else.
    pub(crate) fn send_counts(&mut self, ctx: &mut Ctx) {
        let Some(due) = self.batch.counts_due(ctx.cfg) else {
            return;
        };
        if due > ctx.now {
            return;
        }
        self.batch.counts = false;
        let staff = self.counts(true);
        let others = self.counts(false);
        let (staff_before, others_before) = match &self.batch.sent_counts {
            Some((s, o)) => (Some(s), Some(o)),
            None => (None, None),
        };
        let staff_changed = staff_before != Some(&staff);
        let others_changed = others_before != Some(&others);
        if !staff_changed && !others_changed {
            return;
        }
        self.batch.counts_at = Some(ctx.now);
        if staff_changed {
            ctx.broadcast(self.staff_conns(), ClassEvent::Counts(staff.clone()));
        }
        if others_changed {
            let (_, stage, rest) = self.audiences();
            let audiences = Audiences {
                staff: Vec::new(),
                stage,
                rest,
            };
            ctx.broadcast(audiences.not_staff(), ClassEvent::Counts(others.clone()));
        }
        self.batch.sent_counts = Some((staff, others));
    }
}
