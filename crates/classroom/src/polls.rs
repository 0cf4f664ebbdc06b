//! Polls and quizzes, and reactions.
//!
//! Votes are kept on the members (a bit per option, so re-voting replaces in O(options))
//! and tallied as they come; staff see the tally at most once per
//! [`crate::Config::tally_ms`]. A quiz scores a vote right when its set of choices is the
//! set of correct options, and counts as a question for every student present while it was
//! open. Reactions are summed per batch into one broadcast.

use classroom_protocol::{
    ClassEvent, ErrorCode, MAX_OPTION_CHARS, MAX_POLL_OPTIONS, MAX_QUESTION_CHARS, PollInfo,
    PollResults, Reaction, ReactionCount,
};

use crate::class::{Class, Ctx, refuse};
use crate::{Config, Millis, Refusal};

/// Most names a reactions batch carries.
const REACTION_NAMES: usize = 5;

/// One poll.
#[derive(Debug, Clone)]
pub(crate) struct Poll {
    id: u64,
    question: String,
    options: Vec<String>,
    multiple: bool,
    correct: Vec<u32>,
    correct_bits: u16,
    open: bool,
    shown: bool,
    counts: Vec<u32>,
    voters: u32,
    expected: u32,
}

impl Poll {
    fn info(&self) -> PollInfo {
        PollInfo {
            poll_id: self.id,
            question: self.question.clone(),
            options: self.options.clone(),
            multiple: self.multiple,
            quiz: !self.correct.is_empty(),
            open: self.open,
        }
    }

    fn results(&self, with_correct: bool) -> PollResults {
        PollResults {
            poll_id: self.id,
            counts: self.counts.clone(),
            voters: self.voters,
            expected: self.expected,
            correct: if with_correct {
                self.correct.clone()
            } else {
                Vec::new()
            },
            open: self.open,
        }
    }
}

/// The class's current (latest) poll and its tally's pace.
#[derive(Debug, Default)]
pub(crate) struct PollState {
    current: Option<Poll>,
    next_id: u64,
    changed: bool,
    last_tally: Option<Millis>,
}

impl PollState {
    pub(crate) fn info(&self) -> Option<PollInfo> {
        self.current.as_ref().map(Poll::info)
    }

    pub(crate) fn open_id(&self) -> Option<u64> {
        self.current.as_ref().filter(|p| p.open).map(|p| p.id)
    }

    /// One more student may answer (admitted while it is open).
    pub(crate) fn expect_one(&mut self) {
        if let Some(p) = self.current.as_mut() {
            p.expected += 1;
            self.changed = true;
        }
    }

    /// Results shown to everyone, for a joiner.
    pub(crate) fn shown_results(&self) -> Option<PollResults> {
        self.current
            .as_ref()
            .filter(|p| p.shown)
            .map(|p| p.results(true))
    }

    pub(crate) fn tally_due(&self, cfg: &Config) -> Option<Millis> {
        if !self.changed || self.current.is_none() {
            return None;
        }
        Some(self.last_tally.map_or(0, |at| at + cfg.tally_ms))
    }
}

/// Option indices as bits; `None` when one is out of range or repeated.
fn choice_bits(choices: &[u32], options: usize) -> Option<u16> {
    let mut bits = 0u16;
    for c in choices {
        if *c as usize >= options {
            return None;
        }
        let bit = 1u16 << c;
        if bits & bit != 0 {
            return None;
        }
        bits |= bit;
    }
    Some(bits)
}

fn text_ok(text: &str, max: usize) -> bool {
    let n = text.chars().count();
    (1..=max).contains(&n)
}

/// Sums of reactions since the last batch.
#[derive(Debug, Default)]
pub(crate) struct Reactions {
    counts: [u32; Reaction::ALL.len()],
    names: Vec<String>,
    any: bool,
}

impl Class {
    /// Staff start a poll (a quiz when `correct` is given).
    pub(crate) fn start_poll(
        &mut self,
        ctx: &Ctx,
        question: &str,
        options: &[String],
        multiple: bool,
        correct: &[u32],
    ) -> Result<(), Refusal> {
        if self.poll.open_id().is_some() {
            return refuse(ErrorCode::BadState, "a poll is already open");
        }
        let question = question.trim();
        if !text_ok(question, MAX_QUESTION_CHARS) {
            return refuse(ErrorCode::Invalid, "a question has 1 to 300 characters");
        }
        if !(2..=MAX_POLL_OPTIONS).contains(&options.len()) {
            return refuse(ErrorCode::Invalid, "a poll has 2 to 10 options");
        }
        let options: Vec<String> = options.iter().map(|o| o.trim().to_owned()).collect();
        if !options.iter().all(|o| text_ok(o, MAX_OPTION_CHARS)) {
            return refuse(ErrorCode::Invalid, "an option has 1 to 120 characters");
        }
        let Some(correct_bits) = choice_bits(correct, options.len()) else {
            return refuse(ErrorCode::Invalid, "correct answers must name options once");
        };
        if !multiple && correct.len() > 1 {
            return refuse(
                ErrorCode::Invalid,
                "a single-choice quiz has one right answer",
            );
        }
        self.poll.next_id += 1;
        let id = self.poll.next_id;
        let mut expected = 0;
        for slot in self.present.clone() {
            if let Some(m) = self.member_mut(slot)
                && m.is_student()
            {
                m.poll_expected = id;
                m.vote = 0;
                expected += 1;
            }
        }
        let mut correct = correct.to_vec();
        correct.sort_unstable();
        let poll = Poll {
            id,
            question: question.to_owned(),
            counts: vec![0; options.len()],
            options,
            multiple,
            correct,
            correct_bits,
            open: true,
            shown: false,
            voters: 0,
            expected,
        };
        self.batch.events.push(ClassEvent::Poll(poll.info()));
        self.poll.current = Some(poll);
        self.poll.changed = true;
        self.poll.last_tally = None;
        self.schedule(ctx, true);
        Ok(())
    }

    /// A student answers (again: the new answer replaces the old).
    pub(crate) fn vote(&mut self, slot: u32, id: u64, choices: &[u32]) -> Result<(), Refusal> {
        let Some(poll) = self.poll.current.as_ref().filter(|p| p.id == id) else {
            return refuse(ErrorCode::NotFound, "no such poll");
        };
        if !poll.open {
            return refuse(ErrorCode::BadState, "the poll is closed");
        }
        let Some(bits) = choice_bits(choices, poll.options.len()) else {
            return refuse(ErrorCode::Invalid, "choices must name options once");
        };
        if bits == 0 || (!poll.multiple && choices.len() != 1) {
            return refuse(
                ErrorCode::Invalid,
                "pick one option (or several when allowed)",
            );
        }
        let Some(m) = self.member_mut(slot) else {
            return refuse(ErrorCode::NotFound, "no such participant");
        };
        let newly_expected = m.poll_expected != id;
        if newly_expected {
            m.poll_expected = id;
            m.vote = 0;
        }
        let old = std::mem::replace(&mut m.vote, bits);
        let Some(poll) = self.poll.current.as_mut() else {
            return refuse(ErrorCode::NotFound, "no such poll");
        };
        poll.expected += u32::from(newly_expected);
        if old == 0 {
            poll.voters += 1;
        }
        for (i, count) in poll.counts.iter_mut().enumerate() {
            if old & (1 << i) != 0 {
                *count = count.saturating_sub(1);
            }
            if bits & (1 << i) != 0 {
                *count += 1;
            }
        }
        self.poll.changed = true;
        Ok(())
    }

    fn poll_named(&self, id: u64) -> Result<&Poll, Refusal> {
        match self.poll.current.as_ref() {
            Some(p) if p.id == id => Ok(p),
            _ => refuse(ErrorCode::NotFound, "no such poll"),
        }
    }

    /// Staff stop taking answers; a quiz is scored.
    pub(crate) fn end_poll(&mut self, ctx: &mut Ctx, id: u64) -> Result<(), Refusal> {
        if !self.poll_named(id)?.open {
            return refuse(ErrorCode::BadState, "the poll is closed");
        }
        let Some(poll) = self.poll.current.as_mut() else {
            return refuse(ErrorCode::NotFound, "no such poll");
        };
        poll.open = false;
        let (quiz, correct) = (!poll.correct.is_empty(), poll.correct_bits);
        let info = poll.info();
        if quiz {
            for m in self.members.iter_mut().flatten() {
                if m.poll_expected == id {
                    m.att.quiz_questions += 1;
                    if m.vote == correct {
                        m.att.quiz_correct += 1;
                    }
                }
            }
        }
        self.batch.events.push(ClassEvent::Poll(info));
        self.poll.changed = true;
        self.schedule(ctx, true);
        self.send_poll_tally(ctx, true);
        Ok(())
    }

    /// Staff show the results (and a quiz's answers) to everyone.
    pub(crate) fn show_results(&mut self, ctx: &Ctx, id: u64) -> Result<(), Refusal> {
        self.poll_named(id)?;
        let Some(poll) = self.poll.current.as_mut() else {
            return refuse(ErrorCode::NotFound, "no such poll");
        };
        poll.shown = true;
        let results = poll.results(true);
        self.batch.events.push(ClassEvent::PollResults(results));
        self.schedule(ctx, true);
        Ok(())
    }

    /// Tells staff the live results, if they changed and it is time (or `force`).
    pub(crate) fn send_poll_tally(&mut self, ctx: &mut Ctx, force: bool) {
        let Some(due) = self.poll.tally_due(ctx.cfg) else {
            return;
        };
        if !force && due > ctx.now {
            return;
        }
        let Some(poll) = self.poll.current.as_ref() else {
            return;
        };
        let results = poll.results(true);
        self.poll.changed = false;
        self.poll.last_tally = Some(ctx.now);
        let staff = self.staff_conns();
        ctx.broadcast(staff, ClassEvent::PollResults(results));
    }

    /// A participant reacts.
    pub(crate) fn react(
        &mut self,
        ctx: &Ctx,
        slot: u32,
        reaction: Reaction,
    ) -> Result<(), Refusal> {
        let Some(index) = Reaction::ALL.iter().position(|r| *r == reaction) else {
            return refuse(ErrorCode::Invalid, "unknown reaction");
        };
        let (cfg, now) = (ctx.cfg, ctx.now);
        let Some(m) = self.member_mut(slot) else {
            return refuse(ErrorCode::NotFound, "no such participant");
        };
        if !m.react_bucket.take(now, cfg.react_burst, cfg.react_per_sec) {
            return refuse(ErrorCode::RateLimited, "slow down: too many reactions");
        }
        let name = m.name.to_string();
        let r = &mut self.reactions;
        r.counts[index] += 1;
        r.any = true;
        if r.names.len() < REACTION_NAMES && !r.names.contains(&name) {
            r.names.push(name);
        }
        self.schedule(ctx, false);
        Ok(())
    }

    /// The batch's reactions, summed, to everyone.
    pub(crate) fn flush_reactions(&mut self, ctx: &mut Ctx, everyone: &[crate::ConnId]) {
        let r = std::mem::take(&mut self.reactions);
        if !r.any {
            return;
        }
        let counts = Reaction::ALL
            .iter()
            .zip(r.counts)
            .filter(|(_, n)| *n > 0)
            .map(|(reaction, count)| ReactionCount {
                reaction: *reaction,
                count,
            })
            .collect();
        ctx.broadcast(
            everyone.to_vec(),
            ClassEvent::Reactions {
                counts,
                names: r.names,
            },
        );
    }

    /// Whether reactions wait for the batch.
    pub(crate) fn reactions_pending(&self) -> bool {
        self.reactions.any
    }
}
