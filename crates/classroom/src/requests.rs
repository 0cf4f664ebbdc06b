//! One request from a member: checked against the permission table, then carried out.

use classroom_protocol::{ClassEvent, ClassRequest, ErrorCode, MAX_PAGE};

use crate::class::{Class, Ctx, refuse};
use crate::permissions::{Action, allowed};
use crate::{ConnId, Refusal};

impl Class {
    /// Carries out a request from the member in `slot` on `conn`. An expired token is
    /// refused with [`ErrorCode::Expired`] (the caller then closes the connection).
    pub(crate) fn request(
        &mut self,
        ctx: &mut Ctx,
        slot: u32,
        conn: ConnId,
        req: ClassRequest,
    ) -> Result<(), Refusal> {
        let Some(m) = self
            .member(slot)
            .filter(|m| m.conn == Some(conn) && m.present())
        else {
            return refuse(ErrorCode::BadState, "you are not in the class");
        };
        if m.expires_ms <= ctx.now {
            return refuse(ErrorCode::Expired, "your access to this class has expired");
        }
        if m.is_companion() {
            // Part of its staff member, who asks for themselves.
            return refuse(
                ErrorCode::Forbidden,
                "a companion session makes no requests",
            );
        }
        let action = Action::of(&req);
        if !allowed(m.role, action) {
            return refuse(ErrorCode::Forbidden, "your role may not do this");
        }
        let staff = m.is_staff();
        self.carry_out(ctx, slot, conn, req)?;
        // What a staff action changed reaches everyone in the very next tick.
        if staff && self.batch.due.is_some() {
            self.schedule(ctx, true);
        }
        Ok(())
    }

    fn carry_out(
        &mut self,
        ctx: &mut Ctx,
        slot: u32,
        conn: ConnId,
        req: ClassRequest,
    ) -> Result<(), Refusal> {
        use ClassRequest as R;
        match req {
            R::RaiseHand => self.raise_hand(ctx, slot),
            R::LowerHand { participant_id } => {
                self.lower_hand(ctx, slot, participant_id.as_deref())?;
            }
            R::LowerAllHands => self.lower_all(ctx),
            R::SetStage {
                participant_id,
                on_stage,
            } => self.set_stage(ctx, &participant_id, on_stage)?,
            R::Mute { participant_id } => self.set_mic(ctx, participant_id.as_deref(), false)?,
            R::AllowSpeak { participant_id } => {
                self.set_mic(ctx, participant_id.as_deref(), true)?;
            }
            R::Chat { text, audience, to } => {
                self.send_chat(ctx, slot, &text, audience, to.as_deref())?;
            }
            R::DeleteChat { message_id } => self.delete_chat(ctx, message_id)?,
            R::PauseChat { paused } => self.pause_chat(ctx, paused),
            R::MuteChat {
                participant_id,
                muted,
            } => self.mute_chat(ctx, &participant_id, muted)?,
            R::ChatHistory { before } => self.chat_history(ctx, slot, before),
            R::StartRollCall { seconds } => self.start_roll_call(ctx, seconds)?,
            R::AnswerRollCall { roll_call_id } => {
                self.answer_roll_call(ctx, slot, roll_call_id)?;
            }
            R::EndRollCall => self.end_roll_call(ctx)?,
            R::StartPoll {
                question,
                options,
                multiple,
                correct,
            } => self.start_poll(ctx, &question, &options, multiple, &correct)?,
            R::Vote { poll_id, choices } => self.vote(slot, poll_id, &choices)?,
            R::EndPoll { poll_id } => self.end_poll(ctx, poll_id)?,
            R::ShowResults { poll_id } => self.show_results(ctx, poll_id)?,
            R::React { reaction } => self.react(ctx, slot, reaction)?,
            R::Annotate { op } => self.annotate(ctx, slot, op)?,
            R::AnnotationSince { seq } => self.annotation_since(ctx, slot, seq),
            R::AllowDrawing {
                participant_id,
                allowed,
                page,
            } => self.allow_drawing(ctx, &participant_id, allowed, page)?,
            R::SetRecording { on } => self.set_recording(ctx, slot, on),
            R::StartTimer { seconds } => self.start_timer(ctx, seconds)?,
            R::StopTimer => self.stop_timer(ctx)?,
            R::Admit { participant_id } => self.admit_from_lobby(ctx, &participant_id)?,
            R::Deny { participant_id } => self.deny(ctx, &participant_id)?,
            R::AdmitAll => self.admit_everyone(ctx),
            R::SetLobbyPolicy { policy } => self.set_policy(ctx, policy),
            R::Lock { locked } => self.set_lock(ctx, locked),
            R::Remove { participant_id } => self.remove(ctx, &participant_id)?,
            R::SetRoster { entries, append } => {
                let before = if append { self.roster.len() } else { 0 };
                if before + entries.len() > classroom_protocol::MAX_ROSTER {
                    return refuse(ErrorCode::Invalid, "the roster is too long");
                }
                if !entries.iter().all(crate::roster::entry_is_valid) {
                    return refuse(
                        ErrorCode::Invalid,
                        "a roster entry needs a name of 1 to 64 characters and an id of at most 128",
                    );
                }
                self.set_roster(ctx, entries, append);
            }
            R::SetStageLimit { limit } => self.set_stage_limit(ctx, limit)?,
            R::ListParticipants { offset, limit } => {
                if limit == 0 || limit > MAX_PAGE {
                    return refuse(ErrorCode::Invalid, "a page holds 1 to 500");
                }
                let Some(m) = self.member(slot) else {
                    return refuse(ErrorCode::NotFound, "no such participant");
                };
                let page = self.page(m.viewer(), offset, limit);
                ctx.send(conn, page);
            }
            R::GetReport => {
                let report = self.report(ctx.now);
                ctx.send(conn, ClassEvent::Report(report));
            }
            _ => return refuse(ErrorCode::Forbidden, "unknown request"),
        }
        Ok(())
    }
}
