//! Roll call and the class timer: the two things that run against a deadline.
//!
//! A roll call marks the students present at its start as expected (one pass, the same
//! order as the broadcast that announces it), counts answers as they come, and tells staff
//! the tally at most once per [`crate::Config::tally_ms`] while it changes, then once more
//! when it closes.

use classroom_protocol::{ClassEvent, ErrorCode, MAX_TIMER_SECS, NameRef, RollCallInfo, TimerInfo};

use crate::class::{Class, Ctx, refuse};
use crate::{Config, Millis, Refusal};

/// Most names in a tally's "missing" list.
const MISSING_MAX: usize = 100;

/// One roll call.
#[derive(Debug, Clone)]
pub(crate) struct RollCall {
    pub id: u64,
    pub deadline_ms: Millis,
    pub open: bool,
    pub expected: u32,
    pub answered: u32,
    /// The tally changed since staff were last told.
    pub changed: bool,
    pub last_tally: Option<Millis>,
}

impl RollCall {
    pub(crate) fn info(&self, answered: bool) -> RollCallInfo {
        RollCallInfo {
            roll_call_id: self.id,
            deadline_ms: self.deadline_ms,
            open: self.open,
            answered,
        }
    }
}

impl Class {
    /// Staff start a roll call that closes after `seconds`.
    pub(crate) fn start_roll_call(&mut self, ctx: &Ctx, seconds: u32) -> Result<(), Refusal> {
        if !(5..=MAX_TIMER_SECS).contains(&seconds) {
            return refuse(ErrorCode::Invalid, "a roll call lasts 5 s to 4 h");
        }
        if self.roll.as_ref().is_some_and(|r| r.open) {
            return refuse(ErrorCode::BadState, "a roll call is already open");
        }
        self.roll_seq += 1;
        let id = self.roll_seq;
        let mut expected = 0;
        for slot in self.present.clone() {
            if let Some(m) = self.member_mut(slot)
                && m.is_student()
            {
                m.roll_expected = id;
                expected += 1;
            }
        }
        self.roll = Some(RollCall {
            id,
            deadline_ms: ctx.now.saturating_add(u64::from(seconds) * 1000),
            open: true,
            expected,
            answered: 0,
            changed: true,
            last_tally: None,
        });
        self.batch.roll = true;
        self.schedule(ctx, true);
        Ok(())
    }

    /// A student answers "here".
    pub(crate) fn answer_roll_call(
        &mut self,
        ctx: &mut Ctx,
        slot: u32,
        id: u64,
    ) -> Result<(), Refusal> {
        let Some(roll) = self.roll.as_ref().filter(|r| r.id == id) else {
            return refuse(ErrorCode::NotFound, "no such roll call");
        };
        if !roll.open || ctx.now >= roll.deadline_ms {
            return refuse(ErrorCode::BadState, "the roll call is closed");
        }
        let Some(m) = self.member_mut(slot) else {
            return refuse(ErrorCode::NotFound, "no such participant");
        };
        if m.roll_answered == id {
            return Ok(()); // answering twice counts once
        }
        m.roll_answered = id;
        m.att.roll_calls_answered += 1;
        let newly_expected = m.roll_expected != id;
        m.roll_expected = id;
        let conn = m.conn;
        if let Some(roll) = self.roll.as_mut() {
            roll.answered += 1;
            roll.expected += u32::from(newly_expected);
            roll.changed = true;
            if let Some(conn) = conn {
                ctx.send(conn, ClassEvent::RollCall(roll.info(true)));
            }
        }
        Ok(())
    }

    /// Staff close the roll call before its deadline.
    pub(crate) fn end_roll_call(&mut self, ctx: &mut Ctx) -> Result<(), Refusal> {
        if !self.roll.as_ref().is_some_and(|r| r.open) {
            return refuse(ErrorCode::BadState, "no roll call is open");
        }
        self.close_roll_call(ctx);
        Ok(())
    }

    /// Closes a roll call whose deadline passed.
    pub(crate) fn roll_due(&mut self, ctx: &mut Ctx) {
        if self
            .roll
            .as_ref()
            .is_some_and(|r| r.open && r.deadline_ms <= ctx.now)
        {
            self.close_roll_call(ctx);
        }
    }

    fn close_roll_call(&mut self, ctx: &mut Ctx) {
        let Some(roll) = self.roll.as_mut() else {
            return;
        };
        roll.open = false;
        roll.changed = true;
        let id = roll.id;
        // Everyone expected held this roll call, for the report: once per roll call.
        for m in self.members.iter_mut().flatten() {
            if m.roll_expected == id {
                m.att.roll_calls += 1;
            }
        }
        self.batch.roll = true;
        self.schedule(ctx, true);
        self.send_roll_tally(ctx, true);
    }

    /// When staff are next due a tally.
    pub(crate) fn roll_tally_due(&self, cfg: &Config) -> Option<Millis> {
        let roll = self.roll.as_ref().filter(|r| r.changed)?;
        Some(roll.last_tally.map_or(0, |at| at + cfg.tally_ms))
    }

    /// Tells staff the tally, if it changed and it is time (or `force`: the close).
    pub(crate) fn send_roll_tally(&mut self, ctx: &mut Ctx, force: bool) {
        let Some(due) = self.roll_tally_due(ctx.cfg) else {
            return;
        };
        if !force && due > ctx.now {
            return;
        }
        let Some(roll) = self.roll.as_mut() else {
            return;
        };
        roll.changed = false;
        roll.last_tally = Some(ctx.now);
        let (id, answered, expected, open) = (roll.id, roll.answered, roll.expected, roll.open);
        // Who has not answered, among those present: at most a hundred, in join order.
        let mut missing: Vec<u32> = self
            .present
            .iter()
            .copied()
            .filter(|s| {
                self.member(*s)
                    .is_some_and(|m| m.roll_expected == id && m.roll_answered != id)
            })
            .collect();
        missing.sort_unstable();
        missing.truncate(MISSING_MAX);
        let missing = missing
            .into_iter()
            .filter_map(|s| self.member(s))
            .map(|m| NameRef {
                participant_id: m.pid.to_string(),
                name: m.name.to_string(),
            })
            .collect();
        let staff = self.staff_conns();
        ctx.broadcast(
            staff,
            ClassEvent::RollCallTally {
                roll_call_id: id,
                answered,
                expected,
                missing,
                open,
            },
        );
    }

    /// The roll call as everyone sees it: two broadcasts, those who answered and the rest.
    pub(crate) fn broadcast_roll_call(&mut self, ctx: &mut Ctx) {
        let Some(roll) = self.roll.clone() else {
            return;
        };
        let (mut yes, mut no) = (Vec::new(), Vec::new());
        for slot in &self.present {
            if let Some(m) = self.member(*slot)
                && let Some(conn) = m.conn
            {
                if m.roll_answered == roll.id {
                    yes.push(conn);
                } else {
                    no.push(conn);
                }
            }
        }
        ctx.broadcast(no, ClassEvent::RollCall(roll.info(false)));
        ctx.broadcast(yes, ClassEvent::RollCall(roll.info(true)));
    }

    /// Staff start the class timer everyone sees (a running one is replaced).
    pub(crate) fn start_timer(&mut self, ctx: &Ctx, seconds: u32) -> Result<(), Refusal> {
        if !(1..=MAX_TIMER_SECS).contains(&seconds) {
            return refuse(ErrorCode::Invalid, "a timer runs 1 s to 4 h");
        }
        let timer = TimerInfo {
            ends_ms: ctx.now.saturating_add(u64::from(seconds) * 1000),
            seconds,
        };
        self.timer = Some(timer.clone());
        self.batch
            .events
            .push(ClassEvent::Timer { timer: Some(timer) });
        self.schedule(ctx, true);
        Ok(())
    }

    /// Staff stop the class timer.
    pub(crate) fn stop_timer(&mut self, ctx: &Ctx) -> Result<(), Refusal> {
        if self.timer.take().is_none() {
            return refuse(ErrorCode::BadState, "no timer is running");
        }
        self.batch.events.push(ClassEvent::Timer { timer: None });
        self.schedule(ctx, true);
        Ok(())
    }
}
