//! Ways in, server-wide: authenticated joins, class codes and invite secrets, the join queue
//! that spreads a stampede over time, and the classes joins create.

use std::net::IpAddr;

use classroom_protocol::{
    ByeCause, ClassEvent, EntryVia, ErrorCode, MAX_NAME_CHARS, Role, ServerMessage,
};

use crate::bucket::Bucket;
use crate::class::{Class, Ctx};
use crate::member::{CAMERA, MICROPHONE, source_bits};
use crate::random::{constant_time_eq, hex};
use crate::{ClassSetup, Classroom, ConnId, Entry, Millis, Output, Refusal, code};

/// What the class knows about a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnState {
    /// Waiting in the join queue; `ticket` tells its queue entry apart.
    Queued { ticket: u64 },
    /// In a class's lobby.
    Lobby { class: u32, slot: u32 },
    /// In a class.
    Member { class: u32, slot: u32 },
    /// Told to close (removed, denied, expired, replaced); requests get `code` until the
    /// driver reports the connection gone.
    Closing { code: Option<ErrorCode> },
}

/// A join on its way in: what the class needs to place it.
#[derive(Debug, Clone)]
pub(crate) struct Joiner {
    pub room: String,
    /// `None`: the class makes a fresh identity (invites and codes).
    pub identity: Option<String>,
    pub name: String,
    pub role: Role,
    pub via: EntryVia,
    pub expires_ms: u64,
    pub subscribe: bool,
    /// Sources the token allows (bits of [`crate::member::CAMERA`] ...).
    pub publish: u8,
    /// Mint a personal token at admission.
    pub issue_token: bool,
    /// The staff member (identity) this is a companion session of ([`crate::Entry::companion_of`]).
    pub companion_of: Option<String>,
}

/// A join waiting for the server-wide join budget.
#[derive(Debug)]
pub(crate) struct QueuedJoin {
    conn: ConnId,
    ticket: u64,
    joiner: Joiner,
}

/// Whose code budget an attempt spends: one IPv4 address, or one IPv6 /64 (a single host
/// usually holds a whole /64, so per-address limits would not limit it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SourceKey {
    V4(u32),
    V6(u64),
}

impl SourceKey {
    fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => SourceKey::V4(u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => SourceKey::V4(u32::from(v4)),
                None => SourceKey::V6((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

/// A display name as the class shows it: control characters, bidirectional embeddings,
/// overrides and isolates, and invisible characters dropped, spaces collapsed, at most
/// [`MAX_NAME_CHARS`] characters; "Guest" when nothing is left.
pub(crate) fn clean_name(name: &str) -> String {
    let words: Vec<&str> = name.split_whitespace().collect();
    let joined: String = words
        .join(" ")
        .chars()
        .filter(|c| !c.is_control() && !hides_or_reorders(*c))
        .take(MAX_NAME_CHARS)
        .collect();
    let trimmed = joined.trim();
    if trimmed.is_empty() {
        "Guest".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Characters a display name must not carry, as they let it pass for another or rearrange
/// what is shown beside it: the bidirectional embeddings, overrides and isolates (U+202A to
/// U+202E, U+2066 to U+2069; "Ada" followed by U+202E shows the rest of the line reversed)
/// and the invisible ones (U+200B zero-width space, U+2060 word joiner, U+FEFF, U+00AD soft
/// hyphen, U+180E, U+2061 to U+2064), which make "Ms. Rivera" and another name look the
/// same. Right-to-left names need none of them (the bidirectional algorithm places their
/// letters); the joiners U+200C and U+200D that some scripts and emoji need, and the marks
/// U+200E and U+200F, stay.
fn hides_or_reorders(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200B}'
            | '\u{2060}'..='\u{2064}'
            | '\u{FEFF}'
            | '\u{00AD}'
            | '\u{180E}'
    )
}

fn refusal(code: ErrorCode, message: &str) -> Refusal {
    (code, message.to_owned())
}

/// How often forgotten code budgets are swept.
const SOURCE_PRUNE_MS: u64 = 60_000;

impl Classroom {
    /// Creates (or reconfigures) a class before anyone joins: a host that hands out a code.
    /// Classes are otherwise created by their first join with the defaults of [`crate::Config`]
    /// (and an invite secret and class code of their own). A class set up here keeps its
    /// setup when it ends and starts afresh with it. Refused with [`ErrorCode::Invalid`]
    /// when the code does not parse or another class has it.
    pub fn setup_class(
        &mut self,
        now: Millis,
        room: &str,
        setup: ClassSetup,
    ) -> Result<(), Refusal> {
        let code = match &setup.code {
            Some(typed) => Some(
                code::normalize(typed)
                    .ok_or_else(|| refusal(ErrorCode::Invalid, "the class code does not parse"))?,
            ),
            None => None,
        };
        let existing = self.rooms.get(room).copied();
        if let Some(c) = &code
            && let Some(holder) = self.codes.get(c)
            && Some(*holder) != existing
        {
            return Err(refusal(
                ErrorCode::Invalid,
                "another class has this class code",
            ));
        }
        let id = match existing {
            Some(id) => id,
            None => self.create_class(now, room),
        };
        let invite = match &setup.invite_token {
            Some(secret) => secret.clone(),
            None => hex(&mut *self.random, 16),
        };
        self.set_code(id, code.clone());
        if let Some(class) = self.classes[id as usize].as_mut() {
            let mut ctx = Ctx {
                cfg: &self.config,
                out: &mut self.out,
                conns: &mut self.conns,
                random: &mut *self.random,
                class_id: id,
                now,
            };
            class.configure(&mut ctx, setup, code, invite);
        }
        Ok(())
    }

    /// An authenticated join. Admits (see [`Output::Admitted`]), puts in the lobby
    /// ([`crate::ClassEvent::Waiting`]), queues behind the join rate (then the answer
    /// comes from [`Classroom::tick`]), resumes an identity within its grace period
    /// (closing an older connection of the same identity), or refuses:
    /// [`ErrorCode::Locked`], [`ErrorCode::Removed`], [`ErrorCode::Expired`],
    /// [`ErrorCode::Full`], [`ErrorCode::Invalid`] (a personal token without a subject, or
    /// `via: Code`), [`ErrorCode::BadState`] (already joined on this connection).
    /// Refusals are counted in [`crate::Stats`].
    pub fn join(&mut self, now: Millis, conn: ConnId, entry: Entry) -> Result<(), Refusal> {
        let result = self.try_join(now, conn, entry);
        self.counted(result)
    }

    /// A join by short class code from `source`: rate-limited per source address and per
    /// class ([`ErrorCode::RateLimited`]), always through the lobby; a wrong code is
    /// [`ErrorCode::NotFound`] and counts against both budgets. Admitted code joiners get
    /// a fresh identity and a personal token.
    pub fn join_code(
        &mut self,
        now: Millis,
        conn: ConnId,
        source: IpAddr,
        code: &str,
        display_name: &str,
        subscribe: bool,
    ) -> Result<(), Refusal> {
        let result = self.try_join_code(now, conn, source, code, display_name, subscribe);
        self.counted(result)
    }

    /// A join with the class's invite secret (the link staff share): a valid secret lets
    /// a student in with a fresh identity, through the lobby as the class's policy says,
    /// and [`Output::Admitted::issue_token`] asks the driver to mint their personal token.
    /// A wrong secret is [`ErrorCode::Unauthorized`]; an unknown class
    /// [`ErrorCode::NotFound`].
    pub fn join_invite(
        &mut self,
        now: Millis,
        conn: ConnId,
        room: &str,
        secret: &str,
        display_name: &str,
        subscribe: bool,
    ) -> Result<(), Refusal> {
        let result = self.try_join_invite(now, conn, room, secret, display_name, subscribe);
        self.counted(result)
    }

    fn counted(&mut self, result: Result<(), Refusal>) -> Result<(), Refusal> {
        if let Err((code, _)) = &result {
            self.count_refusal(*code);
        }
        result
    }

    fn try_join(&mut self, now: Millis, conn: ConnId, entry: Entry) -> Result<(), Refusal> {
        if self.conns.contains_key(&conn) {
            return Err(refusal(
                ErrorCode::BadState,
                "this connection already joined",
            ));
        }
        let (identity, issue_token) = match entry.via {
            EntryVia::Token => match entry.identity {
                Some(id) if !id.trim().is_empty() => (Some(id), false),
                _ => {
                    return Err(refusal(
                        ErrorCode::Invalid,
                        "a personal token must name its holder",
                    ));
                }
            },
            EntryVia::Invite => (None, true),
            _ => {
                return Err(refusal(
                    ErrorCode::Invalid,
                    "class codes are joined with joinCode",
                ));
            }
        };
        let joiner = Joiner {
            room: entry.room,
            identity,
            name: clean_name(&entry.display_name),
            role: entry.role,
            via: entry.via,
            expires_ms: entry.expires_ms,
            subscribe: entry.subscribe,
            publish: source_bits(&entry.publish),
            issue_token,
            companion_of: entry.companion_of,
        };
        self.enqueue(now, conn, joiner)
    }

    fn try_join_code(
        &mut self,
        now: Millis,
        conn: ConnId,
        source: IpAddr,
        typed: &str,
        display_name: &str,
        subscribe: bool,
    ) -> Result<(), Refusal> {
        if self.conns.contains_key(&conn) {
            return Err(refusal(
                ErrorCode::BadState,
                "this connection already joined",
            ));
        }
        if !self.take_source_budget(now, SourceKey::of(source)) {
            return Err(refusal(
                ErrorCode::RateLimited,
                "too many class-code attempts; wait a minute",
            ));
        }
        let not_found = || refusal(ErrorCode::NotFound, "no class has this code");
        let code = code::normalize(typed).ok_or_else(not_found)?;
        // Every class a guess could be aimed at pays for it, right or wrong, so the secret
        // part cannot be searched however many addresses the guesser has.
        let candidates = self
            .code_prefixes
            .get(code::prefix(&code))
            .cloned()
            .unwrap_or_default();
        let mut limited = false;
        let mut found = None;
        for id in candidates {
            let Some(class) = self.classes.get_mut(id as usize).and_then(Option::as_mut) else {
                continue;
            };
            if !class.take_code_budget(now, &self.config) {
                limited = true;
            }
            if class
                .code
                .as_deref()
                .is_some_and(|c| constant_time_eq(c.as_bytes(), code.as_bytes()))
            {
                found = Some(class.room.clone());
            }
        }
        if limited {
            return Err(refusal(
                ErrorCode::RateLimited,
                "too many class-code attempts for this class; wait a minute",
            ));
        }
        let room = found.ok_or_else(not_found)?;
        let joiner = Joiner {
            room,
            identity: None,
            name: clean_name(display_name),
            role: Role::Student,
            via: EntryVia::Code,
            expires_ms: now.saturating_add(self.config.guest_token_ms),
            subscribe,
            publish: CAMERA | MICROPHONE,
            issue_token: true,
            companion_of: None,
        };
        self.enqueue(now, conn, joiner)
    }

    fn try_join_invite(
        &mut self,
        now: Millis,
        conn: ConnId,
        room: &str,
        secret: &str,
        display_name: &str,
        subscribe: bool,
    ) -> Result<(), Refusal> {
        if self.conns.contains_key(&conn) {
            return Err(refusal(
                ErrorCode::BadState,
                "this connection already joined",
            ));
        }
        let class = self
            .class_by_room(room)
            .ok_or_else(|| refusal(ErrorCode::NotFound, "no such class"))?;
        let valid = class
            .invite
            .as_deref()
            .is_some_and(|s| constant_time_eq(s.as_bytes(), secret.as_bytes()));
        if !valid {
            return Err(refusal(
                ErrorCode::Unauthorized,
                "this invite is not valid for the class",
            ));
        }
        let joiner = Joiner {
            room: room.to_owned(),
            identity: None,
            name: clean_name(display_name),
            role: Role::Student,
            via: EntryVia::Invite,
            expires_ms: now.saturating_add(self.config.guest_token_ms),
            subscribe,
            publish: CAMERA | MICROPHONE,
            issue_token: true,
            companion_of: None,
        };
        self.enqueue(now, conn, joiner)
    }

    /// Places a join now if the server's join budget allows and nobody is queued ahead,
    /// else queues it. What can be refused already is refused now, so a locked class does
    /// not keep 10,000 joiners waiting just to turn them away.
    fn enqueue(&mut self, now: Millis, conn: ConnId, joiner: Joiner) -> Result<(), Refusal> {
        if joiner.expires_ms <= now {
            return Err(refusal(ErrorCode::Expired, "the token has expired"));
        }
        if let Some(class) = self.class_by_room(&joiner.room) {
            class.check_entry(now, &joiner, &self.config)?;
        }
        if self.queued == 0 && self.take_join_budget(now) {
            return self.place(now, conn, joiner);
        }
        self.next_ticket += 1;
        let ticket = self.next_ticket;
        self.conns.insert(conn, ConnState::Queued { ticket });
        self.queue.push_back(QueuedJoin {
            conn,
            ticket,
            joiner,
        });
        self.queued += 1;
        // Said at once, so the client can show it and the server's join deadline (which
        // waits for the class's first word) does not close a connection that is only queued.
        self.out.push_back(Output::Send {
            to: conn,
            msg: ServerMessage::Class(ClassEvent::Waiting {
                reason: "many people are joining; you are in the queue".to_owned(),
            }),
        });
        Ok(())
    }

    fn take_join_budget(&mut self, now: Millis) -> bool {
        self.join_bucket
            .take(now, self.config.join_burst, self.config.joins_per_sec)
    }

    /// Lets queued joins in as the join budget refills, oldest first.
    pub(crate) fn run_queue(&mut self, now: Millis) {
        while let Some(front) = self.queue.front() {
            let live = matches!(
                self.conns.get(&front.conn),
                Some(ConnState::Queued { ticket }) if *ticket == front.ticket
            );
            if live && !self.take_join_budget(now) {
                break;
            }
            let Some(q) = self.queue.pop_front() else {
                break;
            };
            if !live {
                continue; // gone while it waited (counted down at disconnect)
            }
            self.queued = self.queued.saturating_sub(1);
            self.conns.remove(&q.conn);
            if q.joiner.expires_ms <= now {
                self.turn_away(q.conn, ErrorCode::Expired, "the token has expired");
                continue;
            }
            if let Err((code, message)) = self.place(now, q.conn, q.joiner) {
                self.turn_away(q.conn, code, &message);
            }
        }
    }

    /// Refuses a join after it was accepted into the queue: the answer and the close.
    fn turn_away(&mut self, conn: ConnId, code: ErrorCode, message: &str) {
        self.count_refusal(code);
        self.out.push_back(Output::Send {
            to: conn,
            msg: ServerMessage::error(code, message),
        });
        self.out.push_back(Output::Close {
            conn,
            code: Some(code),
            cause: ByeCause::Refused,
            reason: message.to_owned(),
        });
        self.conns
            .insert(conn, ConnState::Closing { code: Some(code) });
    }

    /// Puts a join into its class (making the class if this is its first join).
    fn place(&mut self, now: Millis, conn: ConnId, joiner: Joiner) -> Result<(), Refusal> {
        let id = match self.rooms.get(&joiner.room) {
            Some(id) => *id,
            None => {
                let id = self.create_class(now, &joiner.room);
                // A class nobody set up makes its own ways in, shown to staff on join.
                let invite = hex(&mut *self.random, 16);
                let code = self.fresh_code();
                self.set_code(id, Some(code));
                if let Some(class) = self.classes[id as usize].as_mut() {
                    class.invite = Some(invite);
                }
                id
            }
        };
        let Some(class) = self.classes[id as usize].as_mut() else {
            return Err(refusal(ErrorCode::Internal, "the class is gone"));
        };
        let mut ctx = Ctx {
            cfg: &self.config,
            out: &mut self.out,
            conns: &mut self.conns,
            random: &mut *self.random,
            class_id: id,
            now,
        };
        class.enter(&mut ctx, conn, joiner)
    }

    /// A random code no class has.
    fn fresh_code(&mut self) -> String {
        loop {
            let shown = code::generate(None, &mut *self.random);
            if let Some(c) = code::normalize(&shown)
                && !self.codes.contains_key(&c)
            {
                return c;
            }
        }
    }

    fn create_class(&mut self, now: Millis, room: &str) -> u32 {
        let class = Class::new(now, room, &self.config);
        let id = match self.classes.iter().position(Option::is_none) {
            Some(free) => {
                self.classes[free] = Some(class);
                free
            }
            None => {
                self.classes.push(Some(class));
                self.classes.len() - 1
            }
        } as u32;
        self.rooms.insert(room.to_owned(), id);
        id
    }

    /// Gives class `id` its code (normalized), keeping both code indexes true.
    fn set_code(&mut self, id: u32, code: Option<String>) {
        let Some(class) = self.classes.get_mut(id as usize).and_then(Option::as_mut) else {
            return;
        };
        if let Some(old) = class.code.take() {
            self.codes.remove(&old);
            if let Some(ids) = self.code_prefixes.get_mut(code::prefix(&old)) {
                ids.retain(|i| *i != id);
                if ids.is_empty() {
                    self.code_prefixes.remove(code::prefix(&old));
                }
            }
        }
        if let Some(new) = code {
            self.codes.insert(new.clone(), id);
            self.code_prefixes
                .entry(code::prefix(&new).to_owned())
                .or_default()
                .push(id);
            class.code = Some(new);
        }
    }

    /// A class whose last participant is gone: its report goes to the driver; a class set
    /// up by its host starts afresh with that setup, any other is forgotten.
    pub(crate) fn end_class(&mut self, now: Millis, id: u32) {
        let Some(class) = self.classes.get_mut(id as usize).and_then(Option::as_mut) else {
            return;
        };
        if class.ever_admitted() {
            let report = class.report(now);
            self.out.push_back(Output::Ended { report });
        }
        if let Some(fresh) = class.restart(now, &self.config) {
            *class = fresh;
            return;
        }
        let room = class.room.clone();
        self.set_code(id, None);
        self.rooms.remove(&room);
        self.classes[id as usize] = None;
    }

    fn take_source_budget(&mut self, now: Millis, key: SourceKey) -> bool {
        let (burst, rate) = (self.config.code_burst, self.config.code_per_sec);
        if let Some(bucket) = self.sources.get_mut(&key) {
            return bucket.take(now, burst, rate);
        }
        if self.sources.len() >= self.config.code_sources_max {
            // Fail closed: a flood of new addresses must not grow memory or win guesses.
            return false;
        }
        let mut bucket = Bucket::full(now, burst);
        let taken = bucket.take(now, burst, rate);
        self.sources.insert(key, bucket);
        taken
    }

    /// Forgets sources whose budget has refilled: they are no different from new ones.
    pub(crate) fn prune_sources(&mut self, now: Millis) {
        if now < self.sources_pruned.saturating_add(SOURCE_PRUNE_MS) {
            return;
        }
        self.sources_pruned = now;
        let (burst, rate) = (self.config.code_burst, self.config.code_per_sec);
        self.sources
            .retain(|_, bucket| !bucket.is_full(now, burst, rate));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned() {
        assert_eq!(clean_name("  Ana \t Li  "), "Ana Li");
        assert_eq!(clean_name("\u{7}\u{1b}"), "Guest");
        assert_eq!(clean_name(""), "Guest");
        assert_eq!(clean_name(&"x".repeat(200)).chars().count(), MAX_NAME_CHARS);
        // Reordering and invisible characters go; what names in other scripts need stays.
        assert_eq!(clean_name("Ada\u{202E}txt.exe"), "Adatxt.exe");
        assert_eq!(clean_name("\u{2067}Ms. Rivera\u{2069}"), "Ms. Rivera");
        assert_eq!(
            clean_name("Ms.\u{200B} Rivera\u{FEFF}\u{2060}"),
            "Ms. Rivera"
        );
        assert_eq!(clean_name("\u{202D}\u{200B}\u{00AD}"), "Guest");
        assert_eq!(clean_name("محمد علي"), "محمد علي");
        assert_eq!(clean_name("欧阳 娜娜"), "欧阳 娜娜");
        assert_eq!(clean_name("नमस्\u{200D}ते"), "नमस्\u{200D}ते");
        assert_eq!(clean_name("👩\u{200D}🏫 Ms. Li"), "👩\u{200D}🏫 Ms. Li");
    }

    #[test]
    fn ipv6_sources_count_per_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(SourceKey::of(a), SourceKey::of(b));
        assert_ne!(SourceKey::of(a), SourceKey::of(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().expect("ip");
        let v4: IpAddr = "192.0.2.1".parse().expect("ip");
        assert_eq!(SourceKey::of(mapped), SourceKey::of(v4));
    }
}
