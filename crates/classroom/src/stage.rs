//! Hands, the stage and microphones.
//!
//! Hands queue by a class-wide sequence number (a `BTreeMap` from it to the member), so
//! raising and lowering cost O(log n); each student's place is counted once per batch, in
//! one pass, and only those whose place changed are told. The stage decides what a
//! student may publish; "mute all" is one class-wide epoch, not a flag per student.

use classroom_protocol::{ErrorCode, MAX_PAGE, MAX_STAGE};

use crate::Refusal;
use crate::class::{Class, Ctx, refuse};

impl Class {
    /// A student raises their hand (raising it again changes nothing).
    pub(crate) fn raise_hand(&mut self, ctx: &Ctx, slot: u32) {
        if self.member(slot).is_none_or(|m| m.hand != 0) {
            return;
        }
        self.hand_seq += 1;
        let seq = self.hand_seq;
        if let Some(m) = self.member_mut(slot) {
            m.hand = seq;
            m.att.hands_raised += 1;
        }
        self.hands.insert(seq, slot);
        self.hands_changed(ctx, slot);
    }

    /// Lowers one hand: one's own, or (staff) anyone's.
    pub(crate) fn lower_hand(
        &mut self,
        ctx: &Ctx,
        sender: u32,
        target: Option<&str>,
    ) -> Result<(), Refusal> {
        let slot = match target {
            Some(pid) => self.target(pid)?,
            None => sender,
        };
        let staff = self.member(sender).is_some_and(|m| m.is_staff());
        if slot != sender && !staff {
            return refuse(ErrorCode::Forbidden, "only staff lower others' hands");
        }
        self.lower(ctx, slot);
        Ok(())
    }

    /// Staff lower every hand.
    pub(crate) fn lower_all(&mut self, ctx: &Ctx) {
        let raised: Vec<u32> = self.hands.values().copied().collect();
        for slot in raised {
            self.lower(ctx, slot);
        }
    }

    fn lower(&mut self, ctx: &Ctx, slot: u32) {
        let Some(m) = self.member_mut(slot) else {
            return;
        };
        if m.hand == 0 {
            return;
        }
        let seq = std::mem::take(&mut m.hand);
        self.hands.remove(&seq);
        self.batch.lowered.push(slot);
        self.hands_changed(ctx, slot);
    }

    fn hands_changed(&mut self, ctx: &Ctx, slot: u32) {
        self.batch.hands = true;
        self.touch(ctx, slot);
        self.counts_changed(ctx);
    }

    /// Counts places in the hand queue, once per batch: only those whose place changed
    /// (or whose hand went down) get a `you`.
    pub(crate) fn count_hands(&mut self, ctx: &Ctx) {
        if !std::mem::take(&mut self.batch.hands) {
            return;
        }
        let mut changed = Vec::new();
        for (place, slot) in self.hands.values().enumerate() {
            let place = place as u32 + 1;
            if let Some(m) = self
                .members
                .get_mut(*slot as usize)
                .and_then(|m| m.as_deref_mut())
                && m.sent_hand_pos != place
            {
                m.sent_hand_pos = place;
                changed.push(*slot);
            }
        }
        for slot in std::mem::take(&mut self.batch.lowered) {
            if let Some(m) = self.member_mut(slot)
                && m.hand == 0
                && m.sent_hand_pos != 0
            {
                m.sent_hand_pos = 0;
                changed.push(slot);
            }
        }
        for slot in changed {
            self.touch_you(ctx, slot);
        }
    }

    /// A member says they record the class on their computer, or stopped: staff see who,
    /// everyone how many. Saying it again changes nothing.
    pub(crate) fn set_recording(&mut self, ctx: &Ctx, slot: u32, on: bool) {
        let Some(m) = self.member_mut(slot).filter(|m| m.recording != on) else {
            return;
        };
        m.recording = on;
        if on {
            self.n_recording += 1;
        } else {
            self.n_recording = self.n_recording.saturating_sub(1);
        }
        self.touch(ctx, slot);
        self.counts_changed(ctx);
    }

    /// Staff bring a student on stage or take them off.
    pub(crate) fn set_stage(&mut self, ctx: &mut Ctx, pid: &str, on: bool) -> Result<(), Refusal> {
        let slot = self.target(pid)?;
        let Some(m) = self.member(slot) else {
            return refuse(ErrorCode::NotFound, "no such participant in the class");
        };
        if !m.is_student() {
            return refuse(ErrorCode::Invalid, "only students go on and off stage");
        }
        if m.on_stage == on {
            return Ok(());
        }
        if on && self.stage.len() as u32 >= self.stage_limit {
            return refuse(ErrorCode::Full, "the stage is full");
        }
        if let Some(m) = self.member_mut(slot) {
            m.on_stage = on;
        }
        if on {
            self.stage.insert(slot);
            self.notable.insert(slot);
        } else {
            self.stage.remove(&slot);
            self.notable.remove(&slot);
        }
        self.touch(ctx, slot);
        self.touch_you(ctx, slot);
        self.counts_changed(ctx);
        self.schedule(ctx, true);
        // Enforcement does not wait for the batch: the SFU narrows their media now.
        self.send_grant(ctx, slot);
        // Their list changes kind (the stage sees everyone, others staff and stage).
        if let Some(m) = self.member(slot)
            && let Some(conn) = m.conn
        {
            let page = self.page(m.viewer(), 0, ctx.cfg.first_page.min(MAX_PAGE));
            ctx.send(conn, page);
        }
        Ok(())
    }

    /// The teacher sets how many may be on stage (those already there stay).
    pub(crate) fn set_stage_limit(&mut self, ctx: &Ctx, limit: u32) -> Result<(), Refusal> {
        if !(1..=MAX_STAGE).contains(&limit) {
            return refuse(ErrorCode::Invalid, "the stage holds 1 to 16");
        }
        self.stage_limit = limit;
        self.settings_changed(ctx);
        Ok(())
    }

    /// Staff mute (or allow to speak) one student, or every student.
    pub(crate) fn set_mic(
        &mut self,
        ctx: &mut Ctx,
        target: Option<&str>,
        allowed: bool,
    ) -> Result<(), Refusal> {
        let Some(pid) = target else {
            // A new epoch: every earlier individual decision gives way, and students who
            // join later come in under it.
            self.students_muted = !allowed;
            self.mic_epoch = self.mic_epoch.wrapping_add(1);
            self.settings_changed(ctx);
            let stage: Vec<u32> = self.stage.iter().copied().collect();
            for slot in stage {
                self.mic_changed(ctx, slot);
            }
            return Ok(());
        };
        let slot = self.target(pid)?;
        let Some(m) = self.member(slot) else {
            return refuse(ErrorCode::NotFound, "no such participant in the class");
        };
        if m.is_staff() {
            return refuse(ErrorCode::Forbidden, "staff are never muted");
        }
        if !m.is_student() {
            return refuse(ErrorCode::Invalid, "observers have no microphone");
        }
        let epoch = self.mic_epoch;
        if let Some(m) = self.member_mut(slot) {
            m.mic = Some((epoch, allowed));
        }
        self.mic_changed(ctx, slot);
        self.schedule(ctx, true);
        Ok(())
    }

    fn mic_changed(&mut self, ctx: &mut Ctx, slot: u32) {
        self.touch(ctx, slot);
        self.touch_you(ctx, slot);
        if self.member(slot).is_some_and(|m| m.on_stage) {
            self.send_grant(ctx, slot);
        }
    }
}
