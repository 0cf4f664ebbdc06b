//! Chat: to everyone, privately to staff, or from staff to one participant.
//!
//! A sender gets their own message back at once (the server's id and time); everyone else
//! gets it in the next batch. Messages to everyone are capped per receiver per second
//! (staff's first) by one class-wide budget, so the batch for every ordinary receiver is
//! the same and goes out as one broadcast; only receivers with private messages get a
//! message of their own. History is bounded; late joiners and reconnects get its newest
//! page, and pages further back on request.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use classroom_protocol::{ChatAudience, ChatMessage, ClassEvent, ErrorCode, MAX_CHAT_CHARS};

use crate::bucket::Bucket;
use crate::class::{Class, Ctx, refuse};
use crate::member::Member;
use crate::{ConnId, Refusal};

/// A message as the class keeps it: what is sent, and who may see it.
#[derive(Debug)]
pub(crate) struct Stored {
    pub msg: ChatMessage,
    pub sender: u32,
    pub to: Option<u32>,
    pub staff_sender: bool,
}

impl Stored {
    /// Whether the member in `slot` may see it.
    fn visible_to(&self, slot: u32, staff: bool) -> bool {
        match self.msg.audience {
            ChatAudience::Everyone => true,
            ChatAudience::Staff => staff || self.sender == slot,
            _ => staff || self.sender == slot || self.to == Some(slot),
        }
    }
}

/// The class's chat.
#[derive(Debug, Default)]
pub(crate) struct ChatState {
    history: VecDeque<Arc<Stored>>,
    next_id: u64,
    /// Ids up to this went through a batch: history pages stop here, so a message never
    /// reaches someone both in a page and in the batch that follows.
    flushed_upto: u64,
    /// Messages to everyone since the last batch: staff's, students' (at most a batch's
    /// worth is kept: the rest can only be skipped), and how many there were.
    everyone_staff: Vec<Arc<Stored>>,
    everyone_students: Vec<Arc<Stored>>,
    everyone_total: u32,
    /// Private messages since the last batch; students' questions to staff beyond a
    /// batch's worth are only counted.
    private: Vec<Arc<Stored>>,
    private_students: u32,
    dropped_to_staff: u32,
    /// Deleted messages to everyone, announced in the next batch.
    pub deleted: Vec<u64>,
    /// The shared per-receiver budget for messages to everyone, and per-receiver budgets
    /// for private ones (only receivers with recent private messages have one).
    shared: Option<crate::bucket::Bucket>,
    private_budget: HashMap<u32, Bucket>,
}

impl ChatState {
    /// Whether the next batch has chat to send.
    pub(crate) fn pending(&self) -> bool {
        self.everyone_total > 0 || !self.private.is_empty() || !self.deleted.is_empty()
    }

    /// Ids of every message in the history, flushed or not.
    #[cfg(test)]
    pub(crate) fn ids(&self) -> Vec<u64> {
        self.history.iter().map(|s| s.msg.id).collect()
    }

    /// The newest `n` messages before `before` (or the newest) that `m` may see, oldest
    /// first.
    pub(crate) fn page_for(&self, m: &Member, before: Option<u64>, n: usize) -> Vec<ChatMessage> {
        let slot = crate::member::slot_of(&m.pid).unwrap_or(u32::MAX);
        let limit = before.map_or(self.flushed_upto, |b| {
            b.saturating_sub(1).min(self.flushed_upto)
        });
        let mut page: Vec<ChatMessage> = self
            .history
            .iter()
            .rev()
            .filter(|s| s.msg.id <= limit && s.visible_to(slot, m.is_staff()))
            .take(n)
            .map(|s| s.msg.clone())
            .collect();
        page.reverse();
        page
    }
}

impl Class {
    /// A participant sends a chat message.
    pub(crate) fn send_chat(
        &mut self,
        ctx: &mut Ctx,
        slot: u32,
        text: &str,
        audience: ChatAudience,
        to: Option<&str>,
    ) -> Result<(), Refusal> {
        let Some(m) = self.member(slot) else {
            return refuse(ErrorCode::NotFound, "no such participant");
        };
        let staff = m.is_staff();
        if !staff && self.chat_paused {
            return refuse(ErrorCode::Forbidden, "chat is paused");
        }
        if !staff && m.chat_muted {
            return refuse(ErrorCode::Forbidden, "your chat is muted");
        }
        let text = text.trim();
        let chars = text.chars().count();
        if chars == 0 || chars > MAX_CHAT_CHARS {
            return refuse(ErrorCode::Invalid, "a message has 1 to 500 characters");
        }
        let target = match audience {
            ChatAudience::Everyone | ChatAudience::Staff => None,
            ChatAudience::Direct => {
                if !staff {
                    return refuse(ErrorCode::Forbidden, "only staff send direct messages");
                }
                let Some(pid) = to else {
                    return refuse(ErrorCode::Invalid, "a direct message needs a receiver");
                };
                Some(self.target(pid)?)
            }
            _ => return refuse(ErrorCode::Invalid, "unknown audience"),
        };
        let (cfg, now) = (ctx.cfg, ctx.now);
        let Some(m) = self.member_mut(slot) else {
            return refuse(ErrorCode::NotFound, "no such participant");
        };
        if !staff && !m.chat_bucket.take(now, cfg.chat_burst, cfg.chat_per_sec) {
            return refuse(ErrorCode::RateLimited, "slow down: too many messages");
        }
        m.att.chat_messages += 1;
        let (from, name, role, conn) = (m.pid.to_string(), m.name.to_string(), m.role, m.conn);
        let to_pid = target
            .and_then(|t| self.member(t))
            .map(|t| t.pid.to_string());
        let chat = &mut self.chat;
        chat.next_id += 1;
        let stored = Arc::new(Stored {
            msg: ChatMessage {
                id: chat.next_id,
                from,
                name,
                role,
                audience,
                to: to_pid,
                text: text.to_owned(),
                at_ms: Some(now),
            },
            sender: slot,
            to: target,
            staff_sender: staff,
        });
        chat.history.push_back(stored.clone());
        while chat.history.len() > cfg.chat_history {
            chat.history.pop_front();
        }
        let cap = cfg.chat_per_receiver_per_sec as usize;
        match audience {
            ChatAudience::Everyone => {
                chat.everyone_total += 1;
                if staff {
                    if chat.everyone_staff.len() < cap {
                        chat.everyone_staff.push(stored.clone());
                    }
                } else if chat.everyone_students.len() < cap {
                    chat.everyone_students.push(stored.clone());
                }
            }
            _ if !staff => {
                if (chat.private_students as usize) < cap {
                    chat.private_students += 1;
                    chat.private.push(stored.clone());
                } else {
                    chat.dropped_to_staff += 1;
                }
            }
            _ => chat.private.push(stored.clone()),
        }
        // The sender's copy, at once: it carries the id they may later see again.
        if let Some(conn) = conn {
            ctx.send(
                conn,
                ClassEvent::Chat {
                    messages: vec![stored.msg.clone()],
                    skipped: 0,
                    history: false,
                },
            );
        }
        self.schedule(ctx, false);
        Ok(())
    }

    /// Staff delete a message for everyone who could see it.
    pub(crate) fn delete_chat(&mut self, ctx: &mut Ctx, id: u64) -> Result<(), Refusal> {
        let chat = &mut self.chat;
        let Ok(index) = chat.history.binary_search_by_key(&id, |s| s.msg.id) else {
            return refuse(ErrorCode::NotFound, "no such message in the history");
        };
        let Some(stored) = chat.history.remove(index) else {
            return refuse(ErrorCode::NotFound, "no such message in the history");
        };
        let keep = |s: &Arc<Stored>| s.msg.id != id;
        chat.everyone_staff.retain(keep);
        chat.everyone_students.retain(keep);
        chat.private.retain(keep);
        if stored.msg.audience == ChatAudience::Everyone {
            if id > chat.flushed_upto {
                // Not out yet: it will neither be sent nor counted as skipped.
                chat.everyone_total = chat.everyone_total.saturating_sub(1);
            }
            chat.deleted.push(id);
            self.schedule(ctx, true);
            return Ok(());
        }
        // A private message: its few readers are told now.
        let mut conns: Vec<ConnId> = self.staff_conns();
        for slot in [Some(stored.sender), stored.to].into_iter().flatten() {
            if let Some(conn) = self
                .member(slot)
                .filter(|m| m.present())
                .and_then(|m| m.conn)
            {
                conns.push(conn);
            }
        }
        conns.sort_unstable();
        conns.dedup();
        ctx.broadcast(
            conns,
            ClassEvent::ChatDeleted {
                message_ids: vec![id],
            },
        );
        Ok(())
    }

    /// Staff pause or resume students' chat.
    pub(crate) fn pause_chat(&mut self, ctx: &Ctx, paused: bool) {
        self.chat_paused = paused;
        self.settings_changed(ctx);
    }

    /// Staff mute or unmute one participant's chat.
    pub(crate) fn mute_chat(&mut self, ctx: &Ctx, pid: &str, muted: bool) -> Result<(), Refusal> {
        let slot = self.target(pid)?;
        let Some(m) = self.member_mut(slot) else {
            return refuse(ErrorCode::NotFound, "no such participant in the class");
        };
        if !m.is_student() {
            return refuse(ErrorCode::Invalid, "only students' chat is muted");
        }
        m.chat_muted = muted;
        self.touch(ctx, slot);
        self.touch_you(ctx, slot);
        self.schedule(ctx, true);
        Ok(())
    }

    /// A page of older messages.
    pub(crate) fn chat_history(&self, ctx: &mut Ctx, slot: u32, before: Option<u64>) {
        let Some(m) = self.member(slot) else {
            return;
        };
        let Some(conn) = m.conn else {
            return;
        };
        let messages = self.chat.page_for(m, before, ctx.cfg.chat_page);
        ctx.send(
            conn,
            ClassEvent::Chat {
                messages,
                skipped: 0,
                history: true,
            },
        );
    }

    /// The batch's chat: one broadcast of the messages to everyone within the shared
    /// budget, and a message of its own for each receiver of private messages.
    pub(crate) fn flush_chat(&mut self, ctx: &mut Ctx, everyone: &[ConnId]) {
        let (now, cap) = (ctx.now, ctx.cfg.chat_per_receiver_per_sec);
        let chat = &mut self.chat;
        if !chat.deleted.is_empty() {
            let ids = std::mem::take(&mut chat.deleted);
            ctx.broadcast(
                everyone.to_vec(),
                ClassEvent::ChatDeleted { message_ids: ids },
            );
        }
        let shared = chat.shared.get_or_insert_with(|| Bucket::full(now, cap));
        let budget = shared.available(now, cap, f64::from(cap)) as usize;
        let mut selected: Vec<Arc<Stored>> = chat
            .everyone_staff
            .drain(..)
            .chain(chat.everyone_students.drain(..))
            .take(budget)
            .collect();
        shared.spend(selected.len() as u32);
        let skipped_everyone =
            std::mem::take(&mut chat.everyone_total).saturating_sub(selected.len() as u32);
        chat.everyone_staff.clear();
        chat.everyone_students.clear();
        selected.sort_by_key(|s| s.msg.id);
        let private = std::mem::take(&mut chat.private);
        let dropped_to_staff = std::mem::take(&mut chat.dropped_to_staff);
        chat.private_students = 0;
        chat.flushed_upto = chat.next_id;

        // Who gets private messages (never their own: they had it at once).
        let staff: Vec<u32> = self.staff.iter().copied().collect();
        let mut inbox: HashMap<u32, Vec<Arc<Stored>>> = HashMap::new();
        for s in &private {
            for r in staff.iter().copied().chain(s.to) {
                if r != s.sender {
                    inbox.entry(r).or_default().push(s.clone());
                }
            }
        }
        for r in &staff {
            if dropped_to_staff > 0 {
                inbox.entry(*r).or_default();
            }
        }
        let mut personal: Vec<ConnId> = Vec::with_capacity(inbox.len());
        let mut receivers: Vec<(u32, Vec<Arc<Stored>>)> = inbox.into_iter().collect();
        receivers.sort_unstable_by_key(|(r, _)| *r);
        for (r, mut msgs) in receivers {
            let Some(m) = self.member(r).filter(|m| m.present()) else {
                continue;
            };
            let Some(conn) = m.conn else {
                continue;
            };
            let extra = if m.is_staff() { dropped_to_staff } else { 0 };
            // Per receiver: staff's messages first, within their own private budget.
            msgs.sort_by_key(|s| (!s.staff_sender, s.msg.id));
            let budget = self
                .chat
                .private_budget
                .entry(r)
                .or_insert_with(|| Bucket::full(now, cap));
            let room = budget.available(now, cap, f64::from(cap)) as usize;
            let taken = msgs.len().min(room);
            budget.spend(taken as u32);
            let skipped = skipped_everyone + (msgs.len() - taken) as u32 + extra;
            let mut messages: Vec<ChatMessage> = selected
                .iter()
                .chain(msgs.iter().take(taken))
                .map(|s| s.msg.live())
                .collect();
            messages.sort_by_key(|msg| msg.id);
            personal.push(conn);
            if !messages.is_empty() || skipped > 0 {
                ctx.send(
                    conn,
                    ClassEvent::Chat {
                        messages,
                        skipped,
                        history: false,
                    },
                );
            }
        }
        // Budgets that refilled are forgotten (only recent private receivers keep one).
        self.chat
            .private_budget
            .retain(|_, b| !b.is_full(now, cap, f64::from(cap)));
        if selected.is_empty() && skipped_everyone == 0 {
            return;
        }
        personal.sort_unstable();
        let rest: Vec<ConnId> = everyone
            .iter()
            .copied()
            .filter(|c| personal.binary_search(c).is_err())
            .collect();
        ctx.broadcast(
            rest,
            ClassEvent::Chat {
                messages: selected.iter().map(|s| s.msg.live()).collect(),
                skipped: skipped_everyone,
                history: false,
            },
        );
    }
}
