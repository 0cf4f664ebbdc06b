//! A property test: a million random inputs (joins with random roles and ways in, codes,
//! invites, disconnects, reconnects, every request with random and hostile arguments,
//! network reports, ticks with random steps) against the invariants of the class. A small
//! configuration (short grace, tiny stage and history, slow join budget) makes every limit
//! and queue come into play.
//!
//! Each connection is followed as a client would be: its participant list is rebuilt from
//! the pages and batched changes it receives, and must agree with the server's count every
//! time a batch says how many there are.

use std::collections::{BTreeMap, HashMap, HashSet};

use proptest::prelude::*;

use classroom_protocol::{
    ClassEvent, ClassRequest as R, EntryVia, ErrorCode, MAX_CHAT_CHARS, MAX_STAGE, NetworkQuality,
    ParticipantInfo, Role, ServerMessage, Source,
};

use crate::class::Class;
use crate::entry::ConnState;
use crate::member::Status;
use crate::permissions::{Action, is_staff, staff_only};
use crate::{ClassSetup, Classroom, Config, ConnId, Entry, Millis, Output, SeededRandom};

mod inputs;
use inputs::{Op, decode, raw};

const ROOMS: [&str; 2] = ["r0", "r1"];
const CODES: [&str; 2] = ["AAAA-BBBB-CCC0", "AAAA-BBBB-CCC1"];
const INVITES: [&str; 2] = ["invite-zero", "invite-one"];
const ROLES: [Role; 6] = [
    Role::Teacher,
    Role::Assistant,
    Role::Student,
    Role::Student,
    Role::Student,
    Role::Observer,
];

/// A connection as its client sees the class.
#[derive(Default)]
struct Client {
    role: Option<Role>,
    list: HashMap<String, ParticipantInfo>,
}

/// The driver's side: open connections and their clients.
struct World {
    c: Classroom,
    now: Millis,
    next_conn: ConnId,
    clients: BTreeMap<ConnId, Client>,
}

impl World {
    fn new() -> World {
        let config = Config {
            grace_ms: 5_000,
            stage_limit: 2,
            chat_history: 20,
            chat_page: 5,
            chat_burst: 3,
            chat_per_sec: 1.0,
            chat_per_receiver_per_sec: 3,
            react_burst: 2,
            joins_per_sec: 5.0,
            join_burst: 3,
            code_burst: 2,
            code_per_sec: 0.5,
            code_class_burst: 4,
            code_class_per_sec: 1.0,
            max_class_size: 15,
            ..Config::default()
        };
        let mut w = World {
            c: Classroom::new(config, Box::new(SeededRandom::new(7))),
            now: 1_700_000_000_000,
            next_conn: 0,
            clients: BTreeMap::new(),
        };
        for i in 0..2 {
            w.c.setup_class(
                w.now,
                ROOMS[i],
                ClassSetup {
                    code: Some(CODES[i].into()),
                    invite_token: Some(INVITES[i].into()),
                    ..ClassSetup::default()
                },
            )
            .expect("setup");
        }
        w
    }

    fn open(&mut self) -> ConnId {
        self.next_conn += 1;
        self.clients.insert(self.next_conn, Client::default());
        self.next_conn
    }

    fn pick(&self, n: u8) -> Option<ConnId> {
        let len = self.clients.len();
        (len > 0).then(|| *self.clients.keys().nth(n as usize % len).unwrap_or(&0))
    }

    /// A sender: every other time staff, when there are any (random senders are mostly
    /// students, whose staff requests are all refused alike).
    fn pick_sender(&self, n: u8) -> Option<ConnId> {
        if n.is_multiple_of(2) {
            let staff: Vec<ConnId> = self
                .clients
                .iter()
                .filter(|(_, c)| c.role.is_some_and(is_staff))
                .map(|(conn, _)| *conn)
                .collect();
            if !staff.is_empty() {
                return Some(staff[(n / 2) as usize % staff.len()]);
            }
        }
        self.pick(n / 2)
    }

    fn class_of(&self, conn: ConnId) -> Option<&Class> {
        match self.c.conns.get(&conn)? {
            ConnState::Member { class, .. } | ConnState::Lobby { class, .. } => {
                self.c.classes.get(*class as usize)?.as_ref()
            }
            _ => None,
        }
    }

    fn slot_of(&self, conn: ConnId) -> Option<u32> {
        match self.c.conns.get(&conn)? {
            ConnState::Member { slot, .. } => Some(*slot),
            _ => None,
        }
    }

    /// A joined connection whose join was refused is closed by the driver.
    fn joined(&mut self, conn: ConnId, result: Result<(), crate::Refusal>) {
        if result.is_err() {
            self.clients.remove(&conn);
        }
    }

    fn step(&mut self, op: Op) -> Result<(), TestCaseError> {
        let mut checked_request = None;
        match op {
            Op::Join {
                ident,
                role,
                invite,
                room,
                expires_in,
                companion_of,
            } => {
                let conn = self.open();
                let entry = Entry {
                    room: ROOMS[room as usize].into(),
                    identity: Some(format!("i{ident}")),
                    display_name: format!("Name i{ident}"),
                    role: ROLES[role as usize],
                    via: if invite {
                        EntryVia::Invite
                    } else {
                        EntryVia::Token
                    },
                    expires_ms: self.now + u64::from(expires_in),
                    subscribe: true,
                    publish: vec![Source::Camera, Source::Microphone, Source::Screen],
                    companion_of: companion_of.map(|n| format!("i{n}")),
                };
                let r = self.c.join(self.now, conn, entry);
                self.joined(conn, r);
            }
            Op::JoinCode { room, right, ip } => {
                let conn = self.open();
                let code = if right {
                    CODES[room as usize]
                } else {
                    "AAAA-BBBB-CCC9"
                };
                let from = std::net::IpAddr::from([192, 0, 2, ip]);
                let r = self.c.join_code(self.now, conn, from, code, "Coder", true);
                self.joined(conn, r);
            }
            Op::JoinInvite { room, right } => {
                let conn = self.open();
                let secret = if right {
                    INVITES[room as usize]
                } else {
                    "guess"
                };
                let r =
                    self.c
                        .join_invite(self.now, conn, ROOMS[room as usize], secret, "Guest", true);
                self.joined(conn, r);
            }
            Op::Disconnect { pick, on_purpose } => {
                if let Some(conn) = self.pick(pick) {
                    self.clients.remove(&conn);
                    if on_purpose {
                        self.c.leave(self.now, conn);
                    } else {
                        self.c.disconnect(self.now, conn);
                    }
                }
            }
            Op::Request { pick, req } => {
                if let Some(conn) = self.pick_sender(pick) {
                    checked_request = Some((conn, req.clone(), self.before(conn)));
                    self.c.handle(self.now, conn, req);
                }
            }
            Op::Stranger { req } => {
                let conn = self.open();
                let accepted = self.c.stats().accepted;
                self.c.handle(self.now, conn, req);
                let out: Vec<Output> = std::iter::from_fn(|| self.c.poll_output()).collect();
                prop_assert_eq!(super::errors(&out, conn), vec![ErrorCode::BadState]);
                prop_assert_eq!(self.c.stats().accepted, accepted);
                self.clients.remove(&conn);
                return Ok(());
            }
            Op::Network { pick, bad } => {
                if let Some(conn) = self.pick(pick) {
                    let q = if bad {
                        NetworkQuality::Poor
                    } else {
                        NetworkQuality::Good
                    };
                    self.c.set_network(conn, q);
                }
            }
            Op::Tick { ms } => {
                self.now += u64::from(ms);
                self.c.tick(self.now);
            }
        }
        let out: Vec<Output> = std::iter::from_fn(|| self.c.poll_output()).collect();
        if let Some((conn, req, before)) = checked_request {
            self.check_request(conn, &req, before, &out)?;
        }
        self.deliver(&out)?;
        self.check_state()
    }

    /// What a request may not change, taken before it.
    fn before(&self, conn: ConnId) -> (Option<Role>, u64, Option<u64>) {
        let role = self
            .class_of(conn)
            .zip(self.slot_of(conn))
            .and_then(|(c, s)| c.member(s))
            .map(|m| m.role);
        // Staff may change anything; only others' requests are fingerprinted.
        let print = self
            .class_of(conn)
            .filter(|_| !role.is_some_and(is_staff))
            .map(|c| staff_state(c, self.slot_of(conn)));
        (role, self.c.stats().accepted, print)
    }

    fn check_request(
        &self,
        conn: ConnId,
        req: &R,
        (role, accepted, print): (Option<Role>, u64, Option<u64>),
        out: &[Output],
    ) -> Result<(), TestCaseError> {
        let errors = super::errors(out, conn);
        prop_assert!(errors.len() <= 1, "{:?}", errors);
        let took_effect = self.c.stats().accepted == accepted + 1;
        prop_assert_eq!(took_effect, errors.is_empty(), "{:?} {:?}", req, errors);
        let staff = role.is_some_and(is_staff);
        if !staff {
            // Nothing staff decide may change because of this request.
            let after = self
                .class_of(conn)
                .map(|c| staff_state(c, self.slot_of(conn)));
            if let (Some(before), Some(after)) = (&print, &after) {
                prop_assert_eq!(before, after, "{:?} from {:?}", req, role);
            }
            if role.is_some() && staff_only(Action::of(req)) {
                prop_assert_eq!(errors, vec![ErrorCode::Forbidden], "{:?}", req);
            }
        }
        Ok(())
    }

    /// Plays the outputs to the clients, as the driver and the apps would.
    fn deliver(&mut self, out: &[Output]) -> Result<(), TestCaseError> {
        let mut closing: HashSet<ConnId> = HashSet::new();
        for o in out {
            let (to, msg): (&[ConnId], &ServerMessage) = match o {
                Output::Send { to, msg } => (std::slice::from_ref(to), msg),
                Output::Broadcast { to, msg } => {
                    let mut seen = HashSet::new();
                    prop_assert!(
                        to.iter().all(|c| seen.insert(*c)),
                        "a broadcast names one twice"
                    );
                    (to.as_slice(), &**msg)
                }
                Output::Admitted { conn, role, .. } => {
                    prop_assert!(
                        self.clients.contains_key(conn),
                        "admitted a closed connection"
                    );
                    if let Some(client) = self.clients.get_mut(conn) {
                        *client = Client {
                            role: Some(*role),
                            list: HashMap::new(),
                        };
                    }
                    continue;
                }
                Output::Media { conn, grant } => {
                    let member = self
                        .class_of(*conn)
                        .zip(self.slot_of(*conn))
                        .and_then(|(c, s)| c.member(s));
                    if let Some(m) = member
                        && !is_staff(m.role)
                        && !m.on_stage
                    {
                        prop_assert!(
                            !grant.publish.contains(&Source::Camera)
                                && !grant.publish.contains(&Source::Microphone),
                            "off stage, but granted {:?}",
                            grant
                        );
                    }
                    continue;
                }
                Output::Close { conn, .. } => {
                    closing.insert(*conn);
                    continue;
                }
                _ => continue,
            };
            for conn in to.iter().copied() {
                prop_assert!(!closing.contains(&conn), "sent to {} after its close", conn);
                prop_assert!(
                    self.clients.contains_key(&conn),
                    "sent to {} which is gone",
                    conn
                );
                if let ServerMessage::Class(event) = msg {
                    self.receive(conn, event)?;
                }
            }
        }
        // The driver closes what it was told to.
        for conn in closing {
            self.clients.remove(&conn);
            self.c.disconnect(self.now, conn);
        }
        Ok(())
    }

    fn receive(&mut self, conn: ConnId, event: &ClassEvent) -> Result<(), TestCaseError> {
        let Some(client) = self.clients.get_mut(&conn) else {
            return Ok(());
        };
        let sees_observers = client.role.is_some_and(is_staff);
        match event {
            ClassEvent::Participants {
                total,
                offset,
                items,
            } => {
                let mut ids = HashSet::new();
                prop_assert!(
                    items.iter().all(|p| ids.insert(p.participant_id.clone())),
                    "twice in a page"
                );
                prop_assert!(sees_observers || items.iter().all(|p| p.role != Role::Observer));
                if *offset == 0 && items.len() as u32 == *total {
                    client.list = items
                        .iter()
                        .map(|p| (p.participant_id.clone(), p.clone()))
                        .collect();
                }
            }
            ClassEvent::ParticipantsChanged {
                upserts,
                removed,
                total,
            } => {
                let mut ids = HashSet::new();
                prop_assert!(
                    upserts.iter().all(|p| ids.insert(p.participant_id.clone())),
                    "twice in a batch"
                );
                prop_assert!(
                    removed.iter().all(|r| !ids.contains(r)),
                    "upserted and removed"
                );
                prop_assert!(sees_observers || upserts.iter().all(|p| p.role != Role::Observer));
                for p in upserts {
                    client.list.insert(p.participant_id.clone(), p.clone());
                }
                for r in removed {
                    client.list.remove(r);
                }
                prop_assert_eq!(
                    client.list.len() as u32,
                    *total,
                    "the client's list drifted"
                );
            }
            ClassEvent::Chat { messages, .. } => {
                for m in messages {
                    let n = m.text.chars().count();
                    prop_assert!(
                        (1..=MAX_CHAT_CHARS).contains(&n),
                        "a message of {} characters",
                        n
                    );
                    prop_assert_eq!(m.text.trim(), m.text.as_str());
                }
            }
            ClassEvent::State { chat, counts, .. } => {
                prop_assert!(
                    chat.iter()
                        .all(|m| m.text.chars().count() <= MAX_CHAT_CHARS)
                );
                prop_assert!(counts.hands <= counts.participants);
            }
            ClassEvent::Counts(counts) => {
                prop_assert!(counts.hands <= counts.participants);
                prop_assert!(counts.on_stage <= counts.participants.min(MAX_STAGE));
                prop_assert!(counts.participants <= 15 && counts.lobby <= 15);
                prop_assert!(sees_observers || counts.lobby == 0);
            }
            _ => {}
        }
        Ok(())
    }

    /// The class's own books balance.
    fn check_state(&self) -> Result<(), TestCaseError> {
        let mut connected = 0;
        let mut lobby_total = 0;
        for class in self.c.classes.iter().flatten() {
            let class_id = self.c.rooms[&class.room];
            let mut present = 0;
            let mut observers = 0;
            let mut companions = 0;
            let mut with_conn = 0;
            let mut hands = 0;
            for (slot, m) in class.members.iter().enumerate() {
                let Some(m) = m else { continue };
                let slot = slot as u32;
                if m.present() && m.is_companion() {
                    // Part of its staff member, who is in the class; on no list.
                    present += 1;
                    companions += 1;
                    with_conn += u32::from(m.conn.is_some());
                    prop_assert_eq!(m.role, Role::Observer);
                    prop_assert!(class.companions.contains(&slot));
                    let owner = class
                        .companion_of
                        .get(&slot)
                        .and_then(|o| class.by_identity.get(o))
                        .and_then(|o| class.member(*o));
                    prop_assert!(
                        owner.is_some_and(|o| o.present() && !o.is_companion()),
                        "a companion without its staff member"
                    );
                    prop_assert!(m.hand == 0 && !m.on_stage && !m.recording);
                    prop_assert!(!class.staff.contains(&slot) && !class.notable.contains(&slot));
                    prop_assert!(!class.list_all.contains(slot));
                } else if m.present() {
                    present += 1;
                    observers += u32::from(m.role == Role::Observer);
                    with_conn += u32::from(m.conn.is_some());
                    prop_assert_eq!(class.staff.contains(&slot), is_staff(m.role));
                    prop_assert_eq!(class.stage.contains(&slot), m.on_stage);
                    prop_assert!(!m.on_stage || m.role == Role::Student);
                    prop_assert_eq!(
                        class.notable.contains(&slot),
                        is_staff(m.role) || m.on_stage
                    );
                    if m.hand != 0 {
                        hands += 1;
                        prop_assert_eq!(class.hands.get(&m.hand), Some(&slot));
                    }
                    if let Some(conn) = m.conn {
                        prop_assert_eq!(
                            self.c.conns.get(&conn),
                            Some(&ConnState::Member {
                                class: class_id,
                                slot
                            })
                        );
                        let publish = Class::publish_bits(m);
                        let allowed = is_staff(m.role) || (m.on_stage && m.role == Role::Student);
                        prop_assert!(
                            allowed || publish == 0,
                            "{:?} off stage may publish",
                            m.role
                        );
                    }
                } else {
                    prop_assert!(m.hand == 0 && !m.on_stage, "gone, but hand or stage kept");
                }
                if m.status == Status::Lobby {
                    prop_assert!(class.lobby.get(&m.lobby_seq) == Some(&slot));
                }
            }
            prop_assert_eq!(class.present.len() as u32, present);
            prop_assert_eq!(class.companions.len() as u32, companions);
            prop_assert_eq!(class.list_all.len(), present - companions);
            prop_assert_eq!(
                class.list_no_observers.len(),
                present - companions - observers
            );
            prop_assert_eq!(class.counts(true).participants, present - companions);
            prop_assert_eq!(class.n_observers, observers);
            prop_assert_eq!(class.n_connected, with_conn);
            prop_assert_eq!(class.hands.len(), hands, "hand queue and hands disagree");
            let unique: HashSet<&u32> = class.hands.values().collect();
            prop_assert_eq!(unique.len(), class.hands.len(), "a hand twice in the queue");
            prop_assert!(class.stage.len() as u32 <= MAX_STAGE);
            // Companions come with their staff member whatever the class's size.
            prop_assert!(
                class.present.len() - class.companions.len() + class.lobby.len() <= 15,
                "present {} companions {} lobby {}: {:?}",
                class.present.len(),
                class.companions.len(),
                class.lobby.len(),
                class
                    .members
                    .iter()
                    .flatten()
                    .filter(|m| m.present() || m.status == Status::Lobby)
                    .map(|m| (m.identity.to_string(), m.role, m.status, m.is_companion()))
                    .collect::<Vec<_>>()
            );
            if let Some(roll) = &class.roll {
                prop_assert!(roll.answered <= roll.expected);
            }
            connected += with_conn as usize;
            lobby_total += class.lobby.len();
        }
        let stats = self.c.stats();
        prop_assert_eq!(stats.connected, connected);
        prop_assert_eq!(stats.waiting, lobby_total + self.c.queued);
        let live_queue = self
            .c
            .conns
            .values()
            .filter(|s| matches!(s, ConnState::Queued { .. }))
            .count();
        prop_assert_eq!(self.c.queued, live_queue);
        // Everything the class knows about is a connection the driver holds.
        for conn in self.c.conns.keys() {
            prop_assert!(
                self.clients.contains_key(conn),
                "{} is gone but known",
                conn
            );
        }
        Ok(())
    }

    /// At a quiet moment every client's list is the server's.
    fn check_lists(&mut self) -> Result<(), TestCaseError> {
        self.now += 5_000;
        self.c.tick(self.now);
        let out: Vec<Output> = std::iter::from_fn(|| self.c.poll_output()).collect();
        self.deliver(&out)?;
        let conns: Vec<ConnId> = self.clients.keys().copied().collect();
        for conn in conns {
            let Some((class, slot)) = self.class_of(conn).zip(self.slot_of(conn)) else {
                continue;
            };
            let Some(m) = class.member(slot) else {
                continue;
            };
            let crate::member::Viewer::Staff = m.viewer() else {
                continue;
            };
            let truth: HashSet<String> = class
                .members
                .iter()
                .flatten()
                .filter(|m| m.present() && !m.is_companion())
                .map(|m| m.pid.to_string())
                .collect();
            let seen: HashSet<String> = self.clients[&conn].list.keys().cloned().collect();
            prop_assert_eq!(seen, truth, "staff's list at rest");
        }
        Ok(())
    }
}

/// A fast, non-cryptographic hasher for fingerprints (SipHash dominated the test's time).
#[derive(Default)]
struct Fx(u64);

impl std::hash::Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// Everything staff decide, and the hands of all but `sender`, as a hash.
fn staff_state(c: &Class, sender: Option<u32>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = Fx::default();
    (
        c.locked,
        c.chat_paused,
        c.stage_limit,
        c.students_muted,
        c.mic_epoch,
    )
        .hash(&mut h);
    (c.policy as u8).hash(&mut h);
    let mut revoked: Vec<&str> = c.revoked.iter().map(|r| r.as_ref()).collect();
    revoked.sort_unstable();
    revoked.hash(&mut h);
    for e in c.roster.absent() {
        (e.name, e.id).hash(&mut h);
    }
    c.timer
        .as_ref()
        .map(|t| (t.ends_ms, t.seconds))
        .hash(&mut h);
    c.roll
        .as_ref()
        .map(|r| (r.id, r.open, r.deadline_ms))
        .hash(&mut h);
    c.poll.info().map(|p| (p.poll_id, p.open)).hash(&mut h);
    c.poll.shown_results().is_some().hash(&mut h);
    c.lobby.hash(&mut h);
    for (seq, slot) in &c.hands {
        if Some(*slot) != sender {
            (seq, slot).hash(&mut h);
        }
    }
    for (i, m) in c.members.iter().enumerate() {
        if let Some(m) = m {
            let hand = if Some(i as u32) == sender { 0 } else { m.hand };
            (i, m.chat_muted, m.on_stage, m.mic, hand).hash(&mut h);
        }
    }
    h.finish()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 200,
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    })]

    /// 200 runs of 5,000 inputs: a million in all.
    #[test]
    fn random_classes_keep_their_invariants(ops in prop::collection::vec(raw(), 5_000)) {
        let mut world = World::new();
        for (i, op) in ops.into_iter().enumerate() {
            world.step(decode(op))?;
            if i % 500 == 499 {
                world.check_lists()?;
            }
        }
        world.check_lists()?;
    }
}
