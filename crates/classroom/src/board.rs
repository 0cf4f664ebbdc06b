//! The class's whiteboard: changes checked against the server's copy, put in one order, and
//! sent to everyone with the next batch (a stroke's samples merged); a participant who
//! missed some, or joined late, asks for what came after the last one they have.

use std::collections::BTreeSet;

use classroom_protocol::{ClassEvent, ErrorCode, MAX_MESSAGE_BYTES};

use crate::ConnId;
use crate::Refusal;
use crate::class::{Class, Ctx, refuse};
use crate::member;

/// The most private pages one student keeps on the class's board.
pub(crate) const MAX_PRIVATE_PAGES: usize = 3;

/// How much of a message the changes may fill (the rest is the envelope).
const CHUNK_BYTES: usize = MAX_MESSAGE_BYTES * 3 / 4;

/// Splits changes into messages under the size limit (an op alone is always under it: it
/// came in one message, or is a merge of at most [`annotate::MAX_MERGED_SAMPLES`] samples).
pub(crate) fn chunks(ops: Vec<annotate::Stamped>) -> Vec<Vec<annotate::Stamped>> {
    let mut out = Vec::new();
    let mut chunk = Vec::new();
    let mut bytes = 0;
    for op in ops {
        let size = serde_json::to_vec(&op).map_or(CHUNK_BYTES, |v| v.len());
        if !chunk.is_empty() && bytes + size > CHUNK_BYTES {
            out.push(std::mem::take(&mut chunk));
            bytes = 0;
        }
        bytes += size;
        chunk.push(op);
    }
    if !chunk.is_empty() {
        out.push(chunk);
    }
    out
}

impl Class {
    /// A whiteboard change by the member in `slot`: checked against the server's copy,
    /// given its place, and sent to everyone with the next batch (soon: within
    /// [`crate::Config::annotation_ms`]).
    pub(crate) fn annotate(
        &mut self,
        ctx: &Ctx,
        slot: u32,
        op: annotate::Op,
    ) -> Result<(), Refusal> {
        let (cfg, now) = (ctx.cfg, ctx.now);
        let Some(m) = self.member(slot) else {
            return refuse(ErrorCode::NotFound, "no such participant");
        };
        if matches!(op, annotate::Op::Withheld) {
            return refuse(ErrorCode::Invalid, "only the server withholds changes");
        }
        if m.is_student() {
            let pid: &str = &m.pid;
            // A student's private page (homework): theirs to draw on, let or not; another
            // student's is not theirs to touch.
            let owner = annotate::private_owner(op.page());
            if owner.is_some_and(|o| o != pid) {
                return refuse(ErrorCode::Forbidden, "that page is another student's");
            }
            let private = owner.is_some();
            if !private && !self.may_draw_on(m, op.page()) {
                let why = if m.may_draw {
                    "the teacher has not let you draw on this page"
                } else {
                    "the teacher has not let you draw"
                };
                return refuse(ErrorCode::Forbidden, why);
            }
            // A student draws and takes back their own marks only; the class's pages, and
            // which one the class is shown, are the staff's.
            let own = |item: &str| item.strip_prefix(pid).is_some_and(|r| r.starts_with('-'));
            let their_pages = || {
                self.board
                    .document()
                    .pages
                    .iter()
                    .filter(|(id, _)| annotate::private_owner(id) == Some(pid))
                    .count()
            };
            let allowed = match &op {
                annotate::Op::AddPage { .. } => private && their_pages() < MAX_PRIVATE_PAGES,
                annotate::Op::ShowPage { .. } | annotate::Op::Withheld => false,
                annotate::Op::BeginStroke { item, .. } | annotate::Op::AddItem { item, .. } => {
                    own(item)
                }
                annotate::Op::ExtendStroke { .. }
                | annotate::Op::EndStroke { .. }
                | annotate::Op::Laser { .. } => true,
                annotate::Op::Erase { page, .. }
                | annotate::Op::Restore { page, .. }
                | annotate::Op::Move { page, .. }
                | annotate::Op::MoveItems { page, .. }
                | annotate::Op::EraseItems { page, .. }
                | annotate::Op::RestoreItems { page, .. } => {
                    let on_page = self.board.document().page(page);
                    op.existing_items().iter().all(|item| {
                        on_page
                            .and_then(|p| p.items.get(item))
                            .is_some_and(|i| i.author == pid)
                    })
                }
            };
            if !allowed {
                return refuse(
                    ErrorCode::Forbidden,
                    "students draw and take back only their own marks",
                );
            }
        }
        let Some(m) = self.member_mut(slot) else {
            return refuse(ErrorCode::NotFound, "no such participant");
        };
        if !m.draw_bucket.take(now, cfg.draw_burst, cfg.draw_per_sec) {
            return refuse(
                ErrorCode::RateLimited,
                "slow down: too many whiteboard changes",
            );
        }
        let author = m.pid.to_string();
        let stamped = self
            .board
            .stamp(&author, op)
            .map_err(|e| (ErrorCode::Invalid, e.to_string()))?;
        self.batch.annotations.push(stamped);
        let at = now.max(self.batch.last_flush + cfg.annotation_ms);
        self.batch.due = Some(self.batch.due.map_or(at, |due| due.min(at)));
        Ok(())
    }

    /// Staff let a student draw, or stop them: a stroke they are drawing is finished as it is
    /// (nobody else may end it).
    pub(crate) fn allow_drawing(
        &mut self,
        ctx: &Ctx,
        pid: &str,
        allowed: bool,
        page: Option<String>,
    ) -> Result<(), Refusal> {
        let slot = self.target(pid)?;
        if let Some(page) = &page
            && (self.board.document().page(page).is_none()
                || annotate::private_owner(page).is_some())
        {
            return refuse(ErrorCode::Invalid, "no such page of the class's");
        }
        let Some(m) = self.member(slot) else {
            return refuse(ErrorCode::NotFound, "no such participant in the class");
        };
        if !m.is_student() {
            return refuse(
                ErrorCode::Invalid,
                "staff draw anyway; students are let draw",
            );
        }
        let (author, mut may_draw) = (m.pid.to_string(), m.may_draw);
        let document = self.board.document();
        let pages = &mut self.draw_pages;
        match (&page, allowed) {
            (None, _) => {
                may_draw = allowed;
                pages.remove(&author);
            }
            (Some(p), true) => {
                if !may_draw {
                    may_draw = true;
                    pages.insert(author.clone(), std::iter::once(p.clone()).collect());
                } else if let Some(some) = pages.get_mut(&author) {
                    some.insert(p.clone());
                }
            }
            (Some(p), false) => {
                // Taken from someone let draw on every page: the class's other pages.
                let mut some = pages.remove(&author).unwrap_or_else(|| {
                    document
                        .pages
                        .iter()
                        .map(|(id, _)| id.clone())
                        .filter(|id| annotate::private_owner(id).is_none())
                        .collect()
                });
                some.remove(p);
                may_draw = may_draw && !some.is_empty();
                if may_draw {
                    pages.insert(author.clone(), some);
                }
            }
        }
        if let Some(m) = self.member_mut(slot) {
            m.may_draw = may_draw;
        }
        if !allowed {
            // Where they may no longer draw, a stroke in progress ends as it is.
            let stopped = |id: &str| page.as_deref().is_none_or(|p| p == id);
            let live: Vec<(String, String, u32)> = self
                .board
                .document()
                .pages
                .iter()
                .filter(|(id, _)| stopped(id) && annotate::private_owner(id).is_none())
                .flat_map(|(page, p)| {
                    p.items.iter().filter_map(|(id, i)| match &i.kind {
                        annotate::ItemKind::Stroke {
                            live: true,
                            samples,
                            ..
                        } if i.author == author => {
                            Some((page.clone(), id.clone(), samples.len() as u32))
                        }
                        _ => None,
                    })
                })
                .collect();
            for (page, item, count) in live {
                let end = annotate::Op::EndStroke { page, item, count };
                if let Ok(stamped) = self.board.stamp(&author, end) {
                    self.batch.annotations.push(stamped);
                }
            }
        }
        self.touch(ctx, slot);
        self.touch_you(ctx, slot);
        self.schedule(ctx, true);
        Ok(())
    }

    /// Sends changes (in the class's order) to `everyone`: one on a student's private page
    /// goes whole to the staff and that student, and to the rest as withheld (it keeps its
    /// place, so nobody waits for it). Without private pages, one message for all.
    pub(crate) fn send_annotations(
        &self,
        ctx: &mut Ctx,
        ops: Vec<annotate::Stamped>,
        everyone: &[ConnId],
    ) {
        let owners: BTreeSet<&str> = ops
            .iter()
            .filter_map(|s| annotate::private_owner(s.op.page()))
            .collect();
        if owners.is_empty() {
            for ops in chunks(ops) {
                ctx.broadcast(everyone.to_vec(), ClassEvent::Annotation { ops });
            }
            return;
        }
        let staff: Vec<ConnId> = self
            .staff_conns()
            .into_iter()
            .filter(|c| everyone.contains(c))
            .collect();
        let mut seen: Vec<(ConnId, Vec<annotate::Stamped>)> = Vec::new();
        for owner in &owners {
            let conn = member::slot_of(owner)
                .and_then(|slot| self.member(slot))
                .filter(|m| m.is_student())
                .and_then(|m| m.conn)
                .filter(|c| everyone.contains(c));
            if let Some(conn) = conn {
                seen.push((conn, annotate::seen_by(&ops, Some(owner))));
            }
        }
        let rest: Vec<ConnId> = everyone
            .iter()
            .filter(|c| !staff.contains(c) && !seen.iter().any(|(o, _)| o == *c))
            .copied()
            .collect();
        // Nobody's: every private change withheld (`seen_by` a viewer who owns none).
        let withheld = annotate::seen_by(&ops, Some(""));
        for ops in chunks(ops) {
            ctx.broadcast(staff.clone(), ClassEvent::Annotation { ops });
        }
        for (conn, ops) in seen {
            for ops in chunks(ops) {
                ctx.send(conn, ClassEvent::Annotation { ops });
            }
        }
        for ops in chunks(withheld) {
            ctx.broadcast(rest.clone(), ClassEvent::Annotation { ops });
        }
    }

    /// The changes after `seq`, to the member in `slot` only (another student's private
    /// pages withheld).
    pub(crate) fn annotation_since(&mut self, ctx: &mut Ctx, slot: u32, seq: u64) {
        let Some(m) = self.member(slot) else {
            return;
        };
        let Some(conn) = m.conn else {
            return;
        };
        let viewer = m.is_student().then(|| m.pid.to_string());
        let missed = annotate::seen_by(
            &annotate::coalesce(self.board.since(seq).to_vec()),
            viewer.as_deref(),
        );
        if missed.is_empty() {
            // Nothing after `seq`: say so, so a late joiner knows the board is as it has it.
            ctx.send(conn, ClassEvent::Annotation { ops: Vec::new() });
            return;
        }
        for ops in chunks(missed) {
            ctx.send(conn, ClassEvent::Annotation { ops });
        }
    }
}
