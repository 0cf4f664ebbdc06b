//! The class's whiteboard: changes checked against the server's copy, put in one order, and
//! sent to everyone with the next batch (a stroke's samples merged); a participant who
//! missed some, or joined late, asks for what came after the last one they have.

use classroom_protocol::{ClassEvent, ErrorCode, MAX_MESSAGE_BYTES};

use crate::Refusal;
use crate::class::{Class, Ctx, refuse};

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
        if m.is_student() {
            if !m.may_draw {
                return refuse(ErrorCode::Forbidden, "the teacher has not let you draw");
            }
            // A student draws and takes back their own marks only; pages, and which one the
            // class is shown, are the staff's.
            let pid: &str = &m.pid;
            let own = |item: &str| item.strip_prefix(pid).is_some_and(|r| r.starts_with('-'));
            let allowed = match &op {
                annotate::Op::AddPage { .. } | annotate::Op::ShowPage { .. } => false,
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
    ) -> Result<(), Refusal> {
        let slot = self.target(pid)?;
        let Some(m) = self.member_mut(slot) else {
            return refuse(ErrorCode::NotFound, "no such participant in the class");
        };
        if !m.is_student() {
            return refuse(
                ErrorCode::Invalid,
                "staff draw anyway; students are let draw",
            );
        }
        m.may_draw = allowed;
        let author = m.pid.to_string();
        if !allowed {
            let live: Vec<(String, String, u32)> = self
                .board
                .document()
                .pages
                .iter()
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

    /// The changes after `seq`, to the member in `slot` only.
    pub(crate) fn annotation_since(&mut self, ctx: &mut Ctx, slot: u32, seq: u64) {
        let Some(conn) = self.member(slot).and_then(|m| m.conn) else {
            return;
        };
        let missed = annotate::coalesce(self.board.since(seq).to_vec());
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
