//! The property test's inputs: drawn as plain numbers (cheap to draw, clone and shrink;
//! shrinking makes them simpler) and read as joins, requests, disconnects and ticks.

use proptest::prelude::*;

use classroom_protocol::{ChatAudience, ClassRequest as R, LobbyPolicy, Reaction, RosterEntry};

/// One input to the class.
#[derive(Debug, Clone)]
pub(super) enum Op {
    Join {
        ident: u8,
        role: u8,
        invite: bool,
        room: u8,
        expires_in: u32,
        /// A companion session of this identity's (`i{n}`).
        companion_of: Option<u8>,
    },
    JoinCode {
        room: u8,
        right: bool,
        ip: u8,
    },
    JoinInvite {
        room: u8,
        right: bool,
    },
    Disconnect {
        pick: u8,
        /// The client said `leave` (out at once) rather than the connection dropping.
        on_purpose: bool,
    },
    Request {
        pick: u8,
        req: R,
    },
    Stranger {
        req: R,
    },
    Network {
        pick: u8,
        bad: bool,
    },
    Tick {
        ms: u32,
    },
}

/// One input as proptest draws it: plain numbers (cheap to draw, clone and shrink, and
/// shrinking makes them simpler), read as an [`Op`] by [`decode`].
pub(super) type Raw = (u8, u8, u8, u16, u32, u32);

pub(super) fn raw() -> impl Strategy<Value = Raw> {
    (
        0u8..100,
        any::<u8>(),
        any::<u8>(),
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
    )
}

/// A participant id, mostly of someone who may exist, sometimes of nobody.
fn pid(x: u32) -> String {
    match x % 12 {
        0 => "p0".to_owned(),
        1 => "nobody".to_owned(),
        _ => format!("p{}", 1 + x % 23),
    }
}

fn maybe_pid(x: u32) -> Option<String> {
    (!x.is_multiple_of(4)).then(|| pid(x / 4))
}

/// Chat text: mostly fine, sometimes empty, blank, or around the limit.
fn text(y: u32) -> String {
    match y % 10 {
        0 => String::new(),
        1 => " \t\n ".to_owned(),
        2 => "é".repeat(495 + (y / 10 % 10) as usize),
        3 => format!("  {}  ", "x".repeat(495 + (y / 10 % 10) as usize)),
        _ => "word ".repeat(1 + (y / 10 % 8) as usize),
    }
}

fn request(sub: u8, x: u16, y: u32, z: u32) -> R {
    match sub % 31 {
        0 => R::RaiseHand,
        1 => R::LowerHand {
            participant_id: maybe_pid(y),
        },
        2 => R::LowerAllHands,
        3 => R::SetStage {
            participant_id: pid(y),
            on_stage: !x.is_multiple_of(3),
        },
        4 => R::Mute {
            participant_id: maybe_pid(y),
        },
        5 => R::AllowSpeak {
            participant_id: maybe_pid(y),
        },
        6 => R::Chat {
            text: text(y),
            audience: [
                ChatAudience::Everyone,
                ChatAudience::Everyone,
                ChatAudience::Staff,
                ChatAudience::Direct,
            ][x as usize % 4],
            to: maybe_pid(z),
        },
        7 => R::DeleteChat {
            message_id: u64::from(y % 40),
        },
        8 => R::PauseChat {
            paused: x.is_multiple_of(2),
        },
        9 => R::MuteChat {
            participant_id: pid(y),
            muted: x.is_multiple_of(2),
        },
        10 => R::ChatHistory {
            before: (!x.is_multiple_of(3)).then_some(u64::from(y % 40)),
        },
        11 => R::StartRollCall {
            seconds: [y % 8, 5 + y % 115, u32::MAX][x as usize % 3],
        },
        12 => R::AnswerRollCall {
            roll_call_id: u64::from(y % 4),
        },
        13 => R::EndRollCall,
        14 => {
            let options = (0..x % 12).map(|i| "abc "[..(i as usize % 4)].to_owned());
            R::StartPoll {
                question: text(y),
                options: options.collect(),
                multiple: z.is_multiple_of(2),
                correct: (0..(z / 2) % 3).map(|i| (z / 8 + i) % 4).collect(),
            }
        }
        15 => R::Vote {
            poll_id: u64::from(y % 4),
            choices: (0..x % 4).map(|i| (z >> (4 * i)) % 12).collect(),
        },
        16 => R::EndPoll {
            poll_id: u64::from(y % 4),
        },
        17 => R::ShowResults {
            poll_id: u64::from(y % 4),
        },
        18 => R::React {
            reaction: Reaction::ALL[y as usize % Reaction::ALL.len()],
        },
        19 => R::StartTimer {
            seconds: [y % 3, 1 + y % 100, u32::MAX][x as usize % 3],
        },
        20 => R::StopTimer,
        21 => R::Admit {
            participant_id: pid(y),
        },
        22 => R::Deny {
            participant_id: pid(y),
        },
        23 => R::AdmitAll,
        24 => R::SetLobbyPolicy {
            policy: [
                LobbyPolicy::AlwaysAsk,
                LobbyPolicy::AdmitRoster,
                LobbyPolicy::AdmitAll,
            ][y as usize % 3],
        },
        25 => R::Lock {
            locked: x.is_multiple_of(4),
        },
        26 => R::Remove {
            participant_id: pid(y),
        },
        27 => R::SetRoster {
            entries: (0..x % 6)
                .map(|i| {
                    let n = (y >> (4 * i)) % 12;
                    RosterEntry {
                        name: format!("Name i{n}"),
                        id: (z >> i).is_multiple_of(2).then(|| format!("i{n}")),
                    }
                })
                .collect(),
            append: z.is_multiple_of(3),
        },
        28 => R::SetStageLimit { limit: y % 20 },
        29 => R::ListParticipants {
            offset: y % 30,
            limit: z % 600,
        },
        _ => R::GetReport,
    }
}

/// What a drawn input means.
pub(super) fn decode((kind, sub, pick, x, y, z): Raw) -> Op {
    match kind {
        0..12 => Op::Join {
            ident: sub % 12,
            role: (x % 6) as u8,
            invite: y % 7 == 0,
            room: pick % 2,
            expires_in: if z % 4 == 0 {
                500 + z % 19_500
            } else {
                3_600_000
            },
            // The last identity mostly comes as someone's companion (whose, and as what
            // role, varies: most are refused), sometimes as itself.
            companion_of: (sub % 12 == 11 && !y.is_multiple_of(5)).then_some((z % 4) as u8),
        },
        12..14 => Op::JoinCode {
            room: sub % 2,
            right: x % 5 < 3,
            ip: pick % 4,
        },
        14..16 => Op::JoinInvite {
            room: sub % 2,
            right: x % 5 < 4,
        },
        16..22 => Op::Disconnect {
            pick,
            on_purpose: x % 3 == 0,
        },
        22..77 => Op::Request {
            pick,
            req: request(sub, x, y, z),
        },
        77 => Op::Stranger {
            req: request(sub, x, y, z),
        },
        78..81 => Op::Network {
            pick,
            bad: x % 2 == 0,
        },
        _ => Op::Tick {
            ms: match y % 7 {
                0..4 => z % 300,
                4..6 => 300 + z % 1_700,
                _ => 2_000 + z % 10_000,
            },
        },
    }
}
