//! Tests of the whole state machine, driven like the SFU's driver drives it: joins,
//! requests and ticks in virtual time, outputs drained and looked at per connection.

mod board;
mod chat;
mod entry;
mod hands;
mod lessons;
mod prop;
mod roles;
mod scale;

use std::collections::HashSet;

use classroom_protocol::{
    ByeCause, ClassEvent, ClassRequest, EntryVia, ErrorCode, Role, ServerMessage, Source,
};

use crate::{Classroom, Config, ConnId, Entry, Millis, Output, SeededRandom};

/// The room most tests use.
pub(crate) const ROOM: &str = "math-7b";

/// A server in virtual time, with what it said.
pub(crate) struct Harness {
    pub c: Classroom,
    pub now: Millis,
    next_conn: ConnId,
}

impl Harness {
    pub(crate) fn new() -> Self {
        Harness::with(Config::default())
    }

    pub(crate) fn with(config: Config) -> Self {
        Harness {
            c: Classroom::new(config, Box::new(SeededRandom::new(42))),
            now: 1_700_000_000_000,
            next_conn: 0,
        }
    }

    pub(crate) fn conn(&mut self) -> ConnId {
        self.next_conn += 1;
        self.next_conn
    }

    /// A personal-token entry.
    pub(crate) fn entry(&self, identity: &str, role: Role) -> Entry {
        Entry {
            room: ROOM.into(),
            identity: Some(identity.into()),
            display_name: format!("Name {identity}"),
            role,
            via: EntryVia::Token,
            expires_ms: self.now + 6 * 3600 * 1000,
            subscribe: true,
            publish: vec![Source::Camera, Source::Microphone, Source::Screen],
            companion_of: None,
        }
    }

    /// Joins with a personal token on a new connection; panics if refused.
    pub(crate) fn join(&mut self, identity: &str, role: Role) -> ConnId {
        let conn = self.conn();
        let entry = self.entry(identity, role);
        self.c.join(self.now, conn, entry).expect("join accepted");
        conn
    }

    /// Joins and drains what it produced.
    pub(crate) fn joined(&mut self, identity: &str, role: Role) -> ConnId {
        let conn = self.join(identity, role);
        self.drain();
        conn
    }

    pub(crate) fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.c.poll_output()).collect()
    }

    /// A request, and what it produced at once.
    pub(crate) fn req(&mut self, conn: ConnId, req: ClassRequest) -> Vec<Output> {
        self.c.handle(self.now, conn, req);
        self.drain()
    }

    /// A request that must be accepted; returns what it and the next batch produced.
    pub(crate) fn ok(&mut self, conn: ConnId, req: ClassRequest) -> Vec<Output> {
        let before = self.c.stats().accepted;
        let mut out = self.req(conn, req.clone());
        assert_eq!(
            self.c.stats().accepted,
            before + 1,
            "{req:?} refused: {:?}",
            errors(&out, conn)
        );
        out.extend(self.advance(0));
        out
    }

    /// A request that must be refused with `code`, changing nothing else.
    pub(crate) fn refused(&mut self, conn: ConnId, req: ClassRequest, code: ErrorCode) {
        let before = self.c.stats();
        let out = self.req(conn, req.clone());
        assert_eq!(errors(&out, conn), vec![code], "{req:?}: {out:?}");
        let after = self.c.stats();
        assert_eq!(
            after.accepted, before.accepted,
            "{req:?} counted as accepted"
        );
        assert_eq!(
            after.refused(code),
            before.refused(code) + 1,
            "{req:?} not counted"
        );
    }

    /// Moves time on by `ms` and ticks (and again while something is due by then).
    pub(crate) fn advance(&mut self, ms: u64) -> Vec<Output> {
        self.now += ms;
        let mut out = Vec::new();
        for _ in 0..100 {
            self.c.tick(self.now);
            out.extend(self.drain());
            match self.c.poll_timeout() {
                Some(t) if t <= self.now => continue,
                _ => break,
            }
        }
        out
    }

    /// Moves time past every batch and tally period.
    pub(crate) fn settle(&mut self) -> Vec<Output> {
        let mut out = self.advance(0);
        out.extend(self.advance(1_000));
        out.extend(self.advance(1_000));
        out
    }

    /// A participant's id.
    pub(crate) fn pid(&self, conn: ConnId) -> String {
        self.c.member(conn).expect("a member").1.to_owned()
    }
}

/// Every class event that reached `conn`, in order.
pub(crate) fn events(out: &[Output], conn: ConnId) -> Vec<ClassEvent> {
    messages(out, conn)
        .into_iter()
        .filter_map(|m| match m {
            ServerMessage::Class(e) => Some(e),
            _ => None,
        })
        .collect()
}

/// Every server message that reached `conn`, in order.
pub(crate) fn messages(out: &[Output], conn: ConnId) -> Vec<ServerMessage> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send { to, msg } if *to == conn => Some(msg.clone()),
            Output::Broadcast { to, msg } if to.contains(&conn) => Some((**msg).clone()),
            _ => None,
        })
        .collect()
}

/// The error codes sent to `conn`.
pub(crate) fn errors(out: &[Output], conn: ConnId) -> Vec<ErrorCode> {
    messages(out, conn)
        .into_iter()
        .filter_map(|m| match m {
            ServerMessage::Error { code, .. } => Some(code),
            _ => None,
        })
        .collect()
}

/// The close asked for `conn`, if any.
pub(crate) fn closed(out: &[Output], conn: ConnId) -> Option<Option<ErrorCode>> {
    out.iter().find_map(|o| match o {
        Output::Close { conn: c, code, .. } if *c == conn => Some(*code),
        _ => None,
    })
}

/// The participant ids `to` was told left the class, in order.
pub(crate) fn removed_ids(out: &[Output], to: ConnId) -> Vec<String> {
    events(out, to)
        .into_iter()
        .flat_map(|e| match e {
            ClassEvent::ParticipantsChanged { removed, .. } => removed,
            _ => Vec::new(),
        })
        .collect()
}

/// Why `conn` was closed, for its client to say, if it was.
pub(crate) fn close_cause(out: &[Output], conn: ConnId) -> Option<ByeCause> {
    out.iter().find_map(|o| match o {
        Output::Close { conn: c, cause, .. } if *c == conn => Some(*cause),
        _ => None,
    })
}

/// Whether `conn` was admitted (and resumed or not).
pub(crate) fn admitted(out: &[Output], conn: ConnId) -> Option<bool> {
    out.iter().find_map(|o| match o {
        Output::Admitted {
            conn: c, resumed, ..
        } if *c == conn => Some(*resumed),
        _ => None,
    })
}

/// Connections any output addresses.
pub(crate) fn addressed(out: &[Output]) -> HashSet<ConnId> {
    let mut set = HashSet::new();
    for o in out {
        match o {
            Output::Send { to, .. } => {
                set.insert(*to);
            }
            Output::Broadcast { to, .. } => set.extend(to.iter().copied()),
            _ => {}
        }
    }
    set
}

/// The newest `You` a connection got.
pub(crate) fn last_you(out: &[Output], conn: ConnId) -> Option<classroom_protocol::YouInfo> {
    events(out, conn).into_iter().rev().find_map(|e| match e {
        ClassEvent::You(y) => Some(y),
        ClassEvent::State { you, .. } => Some(you),
        _ => None,
    })
}
