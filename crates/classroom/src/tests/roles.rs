//! Every request, from every kind of sender: teacher, assistant, student, observer, a
//! removed participant, an expired token, someone in the lobby, and a connection that never
//! joined. The expectations are written out here, not derived from the permission table,
//! so a wrong table fails this test. Allowed requests must have their effect; refused ones
//! get the right code, are counted, and change nothing.

use std::net::IpAddr;

use classroom_protocol::{
    ChatAudience, ClassRequest as R, ErrorCode, LobbyPolicy, Reaction, Role, RosterEntry,
};

use super::*;
use crate::ClassSetup;
use crate::class::Class;
use crate::member::Status;

/// The class every case starts from.
struct Fx {
    h: Harness,
    t: ConnId,
    a: ConnId,
    s: ConnId,
    o: ConnId,
    removed: ConnId,
    expired: ConnId,
    lobby: ConnId,
    never: ConnId,
    s2: String,
    lobby_pid: String,
}

const CODE: &str = "AAAA-BBBB-CCCC";

impl Fx {
    fn new() -> Fx {
        let mut h = Harness::new();
        h.c.setup_class(
            h.now,
            ROOM,
            ClassSetup {
                code: Some(CODE.into()),
                ..ClassSetup::default()
            },
        )
        .expect("setup");
        let t = h.joined("t", Role::Teacher);
        let a = h.joined("a", Role::Assistant);
        let s = h.joined("s", Role::Student);
        let s2c = h.joined("s2", Role::Student);
        let o = h.joined("o", Role::Observer);
        let removed = h.joined("r", Role::Student);
        let expired = h.conn();
        let mut entry = h.entry("x", Role::Student);
        entry.expires_ms = h.now + 1_000;
        h.c.join(h.now, expired, entry).expect("join");
        let lobby = h.conn();
        let from: IpAddr = "192.0.2.7".parse().expect("ip");
        h.c.join_code(h.now, lobby, from, CODE, "Waiting Will", true)
            .expect("code");
        let never = 999_999;
        let s2 = h.pid(s2c);
        let rpid = h.pid(removed);
        h.req(s, R::RaiseHand);
        h.req(s2c, R::RaiseHand);
        h.req(
            s,
            R::Chat {
                text: "first".into(),
                audience: ChatAudience::Everyone,
                to: None,
            },
        );
        h.ok(
            t,
            R::Remove {
                participant_id: rpid,
            },
        );
        h.settle();
        // Expired, but no tick has noticed yet.
        h.now += 1_000;
        let lobby_pid =
            h.c.class(ROOM)
                .and_then(|c| c.lobby.values().next().copied())
                .map(|slot| format!("p{}", slot + 1))
                .expect("someone waits");
        Fx {
            h,
            t,
            a,
            s,
            o,
            removed,
            expired,
            lobby,
            never,
            s2,
            lobby_pid,
        }
    }

    fn class(&self) -> &Class {
        self.h.c.class(ROOM).expect("class")
    }

    fn s2(&self) -> &crate::member::Member {
        let slot = crate::member::slot_of(&self.s2).expect("pid");
        self.class().member(slot).expect("s2")
    }

    fn s(&self) -> &crate::member::Member {
        let slot = crate::member::slot_of(&self.h.pid(self.s)).expect("pid");
        self.class().member(slot).expect("s")
    }
}

/// The class's rules state, to compare before and after a refused request.
fn fingerprint(c: &Class) -> String {
    let members: Vec<String> = c
        .members
        .iter()
        .flatten()
        .map(|m| {
            format!(
                "{}:{:?}:{}:{}:{}:{:?}:{}:{}",
                m.pid, m.status, m.hand, m.on_stage, m.chat_muted, m.mic, m.roll_answered, m.vote
            )
        })
        .collect();
    format!(
        "{} {:?} {} {} {} {} | {:?} | {:?} | {} | roll {:?} | poll {:?} | timer {:?} | chat {:?} | revoked {} | roster {:?} | {:?}",
        c.locked,
        c.policy,
        c.chat_paused,
        c.stage_limit,
        c.students_muted,
        c.mic_epoch,
        c.hands,
        c.stage,
        c.lobby.len(),
        c.roll.as_ref().map(|r| (r.id, r.open, r.answered)),
        c.poll.info(),
        c.timer,
        c.chat.ids(),
        c.revoked.len(),
        c.roster.absent(),
        members,
    )
}

type Expect = Result<(), ErrorCode>;
const OK: Expect = Ok(());
const NO: Expect = Err(ErrorCode::Forbidden);

struct Case {
    name: &'static str,
    prep: fn(&mut Fx),
    req: fn(&Fx) -> R,
    /// Teacher, assistant, student, observer.
    expect: [Expect; 4],
    /// What must hold after an accepted request.
    effect: fn(&Fx) -> bool,
}

fn nothing(_: &mut Fx) {}
fn always(_: &Fx) -> bool {
    true
}
fn roll_call(fx: &mut Fx) {
    fx.h.ok(fx.t, R::StartRollCall { seconds: 60 });
}
fn poll(fx: &mut Fx) {
    fx.h.ok(
        fx.t,
        R::StartPoll {
            question: "q".into(),
            options: vec!["a".into(), "b".into()],
            multiple: false,
            correct: vec![1],
        },
    );
}
fn timer(fx: &mut Fx) {
    fx.h.ok(fx.t, R::StartTimer { seconds: 60 });
}

fn cases() -> Vec<Case> {
    let staff = [OK, OK, NO, NO];
    let teacher = [OK, NO, NO, NO];
    let taking_part = [OK, OK, OK, NO];
    let everyone = [OK, OK, OK, OK];
    vec![
        Case {
            name: "raiseHand",
            prep: |fx| {
                let s = fx.s;
                fx.h.ok(
                    s,
                    R::LowerHand {
                        participant_id: None,
                    },
                );
            },
            req: |_| R::RaiseHand,
            expect: [NO, NO, OK, NO],
            effect: |fx| fx.s().hand != 0,
        },
        Case {
            name: "lowerHand own",
            prep: nothing,
            req: |_| R::LowerHand {
                participant_id: None,
            },
            expect: taking_part,
            effect: |fx| fx.s2().hand != 0,
        },
        Case {
            name: "lowerHand other",
            prep: nothing,
            req: |fx| R::LowerHand {
                participant_id: Some(fx.s2.clone()),
            },
            expect: staff,
            effect: |fx| fx.s2().hand == 0,
        },
        Case {
            name: "lowerAllHands",
            prep: nothing,
            req: |_| R::LowerAllHands,
            expect: staff,
            effect: |fx| fx.class().hands.is_empty(),
        },
        Case {
            name: "setStage",
            prep: nothing,
            req: |fx| R::SetStage {
                participant_id: fx.s2.clone(),
                on_stage: true,
            },
            expect: staff,
            effect: |fx| fx.s2().on_stage,
        },
        Case {
            name: "mute one",
            prep: nothing,
            req: |fx| R::Mute {
                participant_id: Some(fx.s2.clone()),
            },
            expect: staff,
            effect: |fx| !fx.class().mic_allowed(fx.s2()),
        },
        Case {
            name: "mute all",
            prep: nothing,
            req: |_| R::Mute {
                participant_id: None,
            },
            expect: staff,
            effect: |fx| fx.class().students_muted && !fx.class().mic_allowed(fx.s2()),
        },
        Case {
            name: "allowSpeak one",
            prep: |fx| {
                let t = fx.t;
                fx.h.ok(
                    t,
                    R::Mute {
                        participant_id: None,
                    },
                );
            },
            req: |fx| R::AllowSpeak {
                participant_id: Some(fx.s2.clone()),
            },
            expect: staff,
            effect: |fx| fx.class().mic_allowed(fx.s2()) && !fx.class().mic_allowed(fx.s()),
        },
        Case {
            name: "allowSpeak all",
            prep: |fx| {
                let t = fx.t;
                fx.h.ok(
                    t,
                    R::Mute {
                        participant_id: None,
                    },
                );
            },
            req: |_| R::AllowSpeak {
                participant_id: None,
            },
            expect: staff,
            effect: |fx| !fx.class().students_muted && fx.class().mic_allowed(fx.s()),
        },
        Case {
            name: "chat everyone",
            prep: nothing,
            req: |_| R::Chat {
                text: "hello".into(),
                audience: ChatAudience::Everyone,
                to: None,
            },
            expect: taking_part,
            effect: |fx| history_len(fx) == 2,
        },
        Case {
            name: "chat staff",
            prep: nothing,
            req: |_| R::Chat {
                text: "psst".into(),
                audience: ChatAudience::Staff,
                to: None,
            },
            expect: taking_part,
            effect: |fx| history_len(fx) == 2,
        },
        Case {
            name: "chat direct",
            prep: nothing,
            req: |fx| R::Chat {
                text: "see me".into(),
                audience: ChatAudience::Direct,
                to: Some(fx.s2.clone()),
            },
            expect: staff,
            effect: |fx| history_len(fx) == 2,
        },
        Case {
            name: "deleteChat",
            prep: nothing,
            req: |_| R::DeleteChat { message_id: 1 },
            expect: staff,
            effect: |fx| history_len(fx) == 0,
        },
        Case {
            name: "pauseChat",
            prep: nothing,
            req: |_| R::PauseChat { paused: true },
            expect: staff,
            effect: |fx| fx.class().chat_paused,
        },
        Case {
            name: "muteChat",
            prep: nothing,
            req: |fx| R::MuteChat {
                participant_id: fx.s2.clone(),
                muted: true,
            },
            expect: staff,
            effect: |fx| fx.s2().chat_muted,
        },
        Case {
            name: "chatHistory",
            prep: nothing,
            req: |_| R::ChatHistory { before: None },
            expect: everyone,
            effect: always,
        },
        Case {
            name: "startRollCall",
            prep: nothing,
            req: |_| R::StartRollCall { seconds: 30 },
            expect: staff,
            effect: |fx| fx.class().roll.as_ref().is_some_and(|r| r.open),
        },
        Case {
            name: "answerRollCall",
            prep: roll_call,
            req: |_| R::AnswerRollCall { roll_call_id: 1 },
            expect: [NO, NO, OK, NO],
            effect: |fx| fx.class().roll.as_ref().is_some_and(|r| r.answered == 1),
        },
        Case {
            name: "endRollCall",
            prep: roll_call,
            req: |_| R::EndRollCall,
            expect: staff,
            effect: |fx| fx.class().roll.as_ref().is_some_and(|r| !r.open),
        },
        Case {
            name: "startPoll",
            prep: nothing,
            req: |_| R::StartPoll {
                question: "q".into(),
                options: vec!["a".into(), "b".into()],
                multiple: false,
                correct: Vec::new(),
            },
            expect: staff,
            effect: |fx| fx.class().poll.open_id() == Some(1),
        },
        Case {
            name: "vote",
            prep: poll,
            req: |_| R::Vote {
                poll_id: 1,
                choices: vec![1],
            },
            expect: [NO, NO, OK, NO],
            effect: |fx| fx.s().vote == 2,
        },
        Case {
            name: "endPoll",
            prep: poll,
            req: |_| R::EndPoll { poll_id: 1 },
            expect: staff,
            effect: |fx| fx.class().poll.info().is_some_and(|p| !p.open),
        },
        Case {
            name: "showResults",
            prep: poll,
            req: |_| R::ShowResults { poll_id: 1 },
            expect: staff,
            effect: |fx| fx.class().poll.shown_results().is_some(),
        },
        Case {
            name: "react",
            prep: nothing,
            req: |_| R::React {
                reaction: Reaction::ThumbsUp,
            },
            expect: taking_part,
            effect: |fx| fx.class().reactions_pending(),
        },
        Case {
            name: "startTimer",
            prep: nothing,
            req: |_| R::StartTimer { seconds: 60 },
            expect: staff,
            effect: |fx| fx.class().timer.is_some(),
        },
        Case {
            name: "stopTimer",
            prep: timer,
            req: |_| R::StopTimer,
            expect: staff,
            effect: |fx| fx.class().timer.is_none(),
        },
        Case {
            name: "admit",
            prep: nothing,
            req: |fx| R::Admit {
                participant_id: fx.lobby_pid.clone(),
            },
            expect: staff,
            effect: |fx| fx.class().lobby.is_empty() && fx.h.c.member(fx.lobby).is_some(),
        },
        Case {
            name: "deny",
            prep: nothing,
            req: |fx| R::Deny {
                participant_id: fx.lobby_pid.clone(),
            },
            expect: staff,
            effect: |fx| fx.class().lobby.is_empty() && fx.h.c.member(fx.lobby).is_none(),
        },
        Case {
            name: "admitAll",
            prep: nothing,
            req: |_| R::AdmitAll,
            expect: staff,
            effect: |fx| fx.class().lobby.is_empty() && fx.h.c.member(fx.lobby).is_some(),
        },
        Case {
            name: "setLobbyPolicy",
            prep: nothing,
            req: |_| R::SetLobbyPolicy {
                policy: LobbyPolicy::AlwaysAsk,
            },
            expect: staff,
            effect: |fx| fx.class().policy == LobbyPolicy::AlwaysAsk,
        },
        Case {
            name: "lock",
            prep: nothing,
            req: |_| R::Lock { locked: true },
            expect: staff,
            effect: |fx| fx.class().locked,
        },
        Case {
            name: "remove",
            prep: nothing,
            req: |fx| R::Remove {
                participant_id: fx.s2.clone(),
            },
            expect: teacher,
            effect: |fx| fx.s2().status == Status::Absent && fx.class().revoked.contains("s2"),
        },
        Case {
            name: "setRoster",
            prep: nothing,
            req: |_| R::SetRoster {
                entries: vec![RosterEntry {
                    name: "Zed".into(),
                    id: None,
                }],
                append: false,
            },
            expect: teacher,
            effect: |fx| fx.class().roster.absent().len() == 1,
        },
        Case {
            name: "setStageLimit",
            prep: nothing,
            req: |_| R::SetStageLimit { limit: 3 },
            expect: teacher,
            effect: |fx| fx.class().stage_limit == 3,
        },
        Case {
            name: "listParticipants",
            prep: nothing,
            req: |_| R::ListParticipants {
                offset: 0,
                limit: 10,
            },
            expect: everyone,
            effect: always,
        },
        Case {
            name: "getReport",
            prep: nothing,
            req: |_| R::GetReport,
            expect: staff,
            effect: always,
        },
        Case {
            name: "annotate",
            prep: nothing,
            req: |_| R::Annotate {
                op: annotate::Op::AddPage {
                    page: "board".into(),
                    background: annotate::Background::Blank,
                },
            },
            expect: staff,
            effect: |fx| fx.class().board.document().page("board").is_some(),
        },
        Case {
            name: "allowDrawing",
            prep: nothing,
            req: |fx| R::AllowDrawing {
                participant_id: fx.s2.clone(),
                allowed: true,
                page: None,
            },
            expect: staff,
            effect: |fx| fx.s2().may_draw,
        },
        Case {
            name: "annotationSince",
            prep: nothing,
            req: |_| R::AnnotationSince { seq: 0 },
            expect: everyone,
            effect: always,
        },
        Case {
            name: "setRecording",
            prep: nothing,
            req: |_| R::SetRecording { on: true },
            expect: everyone,
            effect: |fx| fx.class().n_recording == 1,
        },
    ]
}

fn history_len(fx: &Fx) -> usize {
    fx.class().chat.ids().len()
}

#[test]
fn every_request_from_every_kind_of_sender() {
    let cases = cases();
    // Every action of the protocol is covered.
    let golden = classroom_protocol::CLASS_ACTIONS.len();
    let mut names: Vec<&str> = cases
        .iter()
        .map(|c| c.name.split(' ').next().unwrap_or(""))
        .collect();
    names.dedup();
    assert_eq!(names.len(), golden, "{names:?}");

    let mut checked = 0;
    for case in &cases {
        for sender in 0..8 {
            let mut fx = Fx::new();
            (case.prep)(&mut fx);
            fx.h.settle();
            let conn = [
                fx.t, fx.a, fx.s, fx.o, fx.removed, fx.expired, fx.lobby, fx.never,
            ][sender];
            let expect = match sender {
                0..=3 => case.expect[sender],
                4 => Err(ErrorCode::Removed),
                5 => Err(ErrorCode::Expired),
                _ => Err(ErrorCode::BadState),
            };
            let req = (case.req)(&fx);
            let before = fingerprint(fx.class());
            let stats = fx.h.c.stats();
            let out = fx.h.req(conn, req.clone());
            let after = fx.h.c.stats();
            let label = format!("{} from sender {sender}", case.name);
            match expect {
                Ok(()) => {
                    assert!(errors(&out, conn).is_empty(), "{label}: {out:?}");
                    assert_eq!(after.accepted, stats.accepted + 1, "{label}");
                    assert!((case.effect)(&fx), "{label}: no effect");
                    fx.h.settle();
                }
                Err(code) => {
                    assert_eq!(errors(&out, conn), vec![code], "{label}");
                    assert_eq!(after.accepted, stats.accepted, "{label}");
                    assert_eq!(after.refused(code), stats.refused(code) + 1, "{label}");
                    assert_eq!(fingerprint(fx.class()), before, "{label} changed the class");
                    if code == ErrorCode::Expired {
                        // Closed by this request, or by the tick before it.
                        assert_eq!(
                            fx.h.c.conns.get(&conn),
                            Some(&crate::entry::ConnState::Closing {
                                code: Some(ErrorCode::Expired)
                            }),
                            "{label}"
                        );
                    }
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, cases.len() * 8);
}
