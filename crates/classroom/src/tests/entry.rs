//! Ways in and out: lobby policies, codes and their rate limits, invites, reconnecting,
//! lock, removal, token expiry, the join queue and the end of a class.

use std::net::IpAddr;

use classroom_protocol::{
    ByeCause, ClassEvent, ClassRequest as R, EntryVia, ErrorCode, LobbyPolicy, Role, RosterEntry,
};

use super::*;
use crate::{ClassSetup, code};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

/// The invite secret and code staff were shown.
fn invites(out: &[Output], conn: ConnId) -> (String, String) {
    events(out, conn)
        .into_iter()
        .find_map(|e| match e {
            ClassEvent::Invites { invite_token, code } => Some((invite_token?, code?)),
            _ => None,
        })
        .expect("staff are shown the ways in")
}

fn lobby_ids(out: &[Output], conn: ConnId) -> Option<Vec<String>> {
    events(out, conn).into_iter().rev().find_map(|e| match e {
        ClassEvent::Lobby { waiting } => {
            Some(waiting.into_iter().map(|w| w.participant_id).collect())
        }
        _ => None,
    })
}

fn waiting(out: &[Output], conn: ConnId) -> bool {
    events(out, conn)
        .iter()
        .any(|e| matches!(e, ClassEvent::Waiting { .. }))
}

#[test]
fn a_teachers_first_join_makes_the_class_with_its_own_invite_and_code() {
    let mut h = Harness::new();
    let t = h.join("t", Role::Teacher);
    let out = h.drain();
    assert_eq!(admitted(&out, t), Some(false));
    let kinds: Vec<&str> = events(&out, t)
        .iter()
        .map(|e| match e {
            ClassEvent::State { .. } => "state",
            ClassEvent::Participants { .. } => "participants",
            ClassEvent::Lobby { .. } => "lobby",
            ClassEvent::Invites { .. } => "invites",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["state", "participants", "lobby", "invites"]);
    let (secret, shown) = invites(&out, t);
    assert_eq!(secret.len(), 32, "128 bits in hex");
    assert!(secret.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(shown.len(), 14);
    assert_eq!(
        code::format(&code::normalize(&shown).expect("parses")),
        shown
    );
    assert!(matches!(
        out.iter().find(|o| matches!(o, Output::Admitted { .. })),
        Some(Output::Admitted { issue_token: false, identity, .. }) if identity == "t"
    ));
}

#[test]
fn invites_get_fresh_identities_and_a_token_to_come_back_with() {
    let mut h = Harness::new();
    let t = h.join("t", Role::Teacher);
    let (secret, _) = invites(&h.drain(), t);

    let s = h.conn();
    h.c.join_invite(h.now, s, ROOM, &secret, "Ana", true)
        .expect("a valid secret");
    let out = h.drain();
    let Some(Output::Admitted {
        identity,
        issue_token,
        expires_ms,
        role,
        ..
    }) = out.iter().find(|o| matches!(o, Output::Admitted { .. }))
    else {
        panic!("not admitted: {out:?}");
    };
    assert!(
        identity.starts_with("g-") && identity.len() == 26,
        "{identity}"
    );
    assert!(*issue_token);
    assert_eq!(*role, Role::Student);
    assert_eq!(*expires_ms, h.now + h.c.config().guest_token_ms);

    // An invite JWT: also a fresh identity, whatever the entry says.
    let jwt = h.conn();
    let mut entry = h.entry("ignored", Role::Student);
    entry.via = EntryVia::Invite;
    h.c.join(h.now, jwt, entry).expect("invite");
    let out = h.drain();
    assert!(out.iter().any(|o| matches!(o,
        Output::Admitted { conn, identity, issue_token: true, .. }
            if *conn == jwt && identity.starts_with("g-"))));

    let bad = h.conn();
    let err =
        h.c.join_invite(h.now, bad, ROOM, "0123", "Eve", true)
            .expect_err("wrong secret");
    assert_eq!(err.0, ErrorCode::Unauthorized);
    let err =
        h.c.join_invite(h.now, bad, "elsewhere", &secret, "Eve", true)
            .expect_err("no such class");
    assert_eq!(err.0, ErrorCode::NotFound);
    assert_eq!(h.c.stats().refused(ErrorCode::Unauthorized), 1);
}

#[test]
fn always_ask_keeps_every_student_in_the_lobby_until_staff_decide() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    h.ok(
        t,
        R::SetLobbyPolicy {
            policy: LobbyPolicy::AlwaysAsk,
        },
    );
    let a = h.join("a", Role::Student);
    let b = h.join("b", Role::Student);
    let c = h.join("c", Role::Student);
    let out = h.drain();
    for s in [a, b, c] {
        assert!(waiting(&out, s));
        assert_eq!(admitted(&out, s), None);
    }
    // Staff and observers with personal tokens never wait.
    let asst = h.join("asst", Role::Assistant);
    let obs = h.join("obs", Role::Observer);
    let out = h.drain();
    assert_eq!(admitted(&out, asst), Some(false));
    assert_eq!(admitted(&out, obs), Some(false));

    let out = h.settle();
    let ids = lobby_ids(&out, t).expect("staff see the lobby");
    assert_eq!(ids.len(), 3);
    let counts = events(&out, t).into_iter().rev().find_map(|e| match e {
        ClassEvent::Counts(c) => Some(c),
        _ => None,
    });
    assert_eq!(counts.map(|c| c.lobby), Some(3));
    assert_eq!(h.c.stats().waiting, 3);

    // A request from the lobby is refused.
    h.refused(a, R::RaiseHand, ErrorCode::BadState);

    let out = h.ok(
        t,
        R::Admit {
            participant_id: ids[0].clone(),
        },
    );
    assert_eq!(admitted(&out, a), Some(false));
    let out = h.ok(
        t,
        R::Deny {
            participant_id: ids[1].clone(),
        },
    );
    assert_eq!(closed(&out, b), Some(Some(ErrorCode::Denied)));
    h.refused(b, R::RaiseHand, ErrorCode::Denied);
    let out = h.ok(asst, R::AdmitAll);
    assert_eq!(admitted(&out, c), Some(false));
    assert_eq!(lobby_ids(&out, t), Some(vec![]));
    assert_eq!(h.c.stats().waiting, 0);
    // Nobody waits with that id any more.
    h.refused(
        t,
        R::Admit {
            participant_id: ids[1].clone(),
        },
        ErrorCode::NotFound,
    );
}

#[test]
fn admit_roster_lets_in_those_on_it_by_id_or_by_name() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    h.ok(
        t,
        R::SetRoster {
            entries: vec![
                RosterEntry {
                    name: "Ana Li".into(),
                    id: Some("s-1".into()),
                },
                RosterEntry {
                    name: "Ben Okafor".into(),
                    id: None,
                },
            ],
            append: false,
        },
    );
    h.ok(
        t,
        R::SetLobbyPolicy {
            policy: LobbyPolicy::AdmitRoster,
        },
    );
    let a = h.join("s-1", Role::Student);
    let out = h.drain();
    assert_eq!(admitted(&out, a), Some(false));

    let b = h.conn();
    let mut entry = h.entry("b-77", Role::Student);
    entry.display_name = "  ben   okafor ".into();
    h.c.join(h.now, b, entry).expect("join");
    let out = h.drain();
    assert_eq!(admitted(&out, b), Some(false));

    let c = h.join("c", Role::Student);
    assert!(waiting(&h.drain(), c));
    let report = h.c.report(h.now, ROOM).expect("report");
    assert!(report.absent.is_empty(), "{:?}", report.absent);
    let ben = report
        .rows
        .iter()
        .find(|r| r.identity == "b-77")
        .expect("row");
    assert_eq!(ben.roster_name.as_deref(), Some("Ben Okafor"));
}

#[test]
fn a_roster_in_several_requests_is_one_roster_and_bad_entries_are_refused() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let entry = |name: &str, id: Option<&str>| RosterEntry {
        name: name.into(),
        id: id.map(str::to_owned),
    };
    let _student = h.join("s-1", Role::Student);
    h.drain();
    // The first part replaces, the next adds: the student who came matches the second part.
    h.ok(
        t,
        R::SetRoster {
            entries: vec![entry("Old Roster", None), entry("Ana Li", Some("s-0"))],
            append: false,
        },
    );
    h.ok(
        t,
        R::SetRoster {
            entries: vec![entry("Ben Okafor", None)],
            append: false,
        },
    );
    h.ok(
        t,
        R::SetRoster {
            entries: vec![entry("Chen Jie", Some("s-1")), entry("Dana", None)],
            append: true,
        },
    );
    let report = h.c.report(h.now, ROOM).expect("report");
    let absent: Vec<&str> = report.absent.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(absent, ["Ben Okafor", "Dana"]);
    let row = report
        .rows
        .iter()
        .find(|r| r.identity == "s-1")
        .expect("row");
    assert_eq!(row.roster_name.as_deref(), Some("Chen Jie"));

    // The server checks every entry, whatever the app read: names of 1 to 64 characters,
    // ids of 1 to 128, and the whole roster, parts added, at most MAX_ROSTER.
    let long_id = "i".repeat(classroom_protocol::MAX_ROSTER_ID_CHARS + 1);
    for bad in [
        entry("   ", None),
        entry(&"n".repeat(classroom_protocol::MAX_NAME_CHARS + 1), None),
        entry("Eve", Some("")),
        entry("Eve", Some(&long_id)),
    ] {
        h.refused(
            t,
            R::SetRoster {
                entries: vec![entry("Fine", None), bad],
                append: true,
            },
            ErrorCode::Invalid,
        );
    }
    let many = |n: usize| {
        (0..n)
            .map(|i| entry(&format!("S {i}"), None))
            .collect::<Vec<_>>()
    };
    h.ok(
        t,
        R::SetRoster {
            entries: many(classroom_protocol::MAX_ROSTER - 3),
            append: true,
        },
    );
    h.refused(
        t,
        R::SetRoster {
            entries: many(2),
            append: true,
        },
        ErrorCode::Invalid,
    );
    let report = h.c.report(h.now, ROOM).expect("report");
    // Everyone but the student who came, and nothing of the refused parts.
    assert_eq!(report.absent.len(), classroom_protocol::MAX_ROSTER - 1);
    assert!(!report.absent.iter().any(|e| e.name == "Fine"));
}

#[test]
fn a_class_code_only_ever_leads_to_the_lobby() {
    let mut h = Harness::new();
    let shown = code::generate(Some([1, 2, 3, 4, 5]), &mut SeededRandom::new(1));
    h.c.setup_class(
        h.now,
        ROOM,
        ClassSetup {
            code: Some(shown.clone()),
            ..ClassSetup::default()
        },
    )
    .expect("setup");
    let t = h.joined("t", Role::Teacher);
    let s = h.conn();
    let typed = shown.to_lowercase().replace('-', " ");
    h.c.join_code(h.now, s, ip("192.0.2.1"), &typed, "Chen", true)
        .expect("right code");
    let out = h.drain();
    assert!(
        waiting(&out, s),
        "AdmitAll does not open the door to a code"
    );
    assert_eq!(admitted(&out, s), None);
    let out = h.settle();
    let ids = lobby_ids(&out, t).expect("lobby");
    let out = h.ok(
        t,
        R::Admit {
            participant_id: ids[0].clone(),
        },
    );
    assert!(out.iter().any(|o| matches!(o,
        Output::Admitted { conn, issue_token: true, .. } if *conn == s)));
}

#[test]
fn code_attempts_are_limited_per_source_and_per_class() {
    let config = Config {
        code_burst: 5,
        code_per_sec: 0.1,
        code_class_burst: 20,
        code_class_per_sec: 1.0,
        ..Config::default()
    };
    let mut h = Harness::with(config);
    let shown = code::generate(Some([9; 5]), &mut SeededRandom::new(3));
    h.c.setup_class(
        h.now,
        ROOM,
        ClassSetup {
            code: Some(shown.clone()),
            ..ClassSetup::default()
        },
    )
    .expect("setup");
    let right = code::normalize(&shown).expect("parses");
    // A wrong guess at the secret part (same first 8 characters).
    let mut wrong = right.clone();
    let last = if wrong.ends_with('0') { "1" } else { "0" };
    wrong.replace_range(11.., last);

    let attempt = |h: &mut Harness, from: &str, code: &str| {
        let conn = h.conn();
        h.c.join_code(h.now, conn, ip(from), code, "x", true)
            .map_err(|e| e.0)
    };
    for _ in 0..5 {
        assert_eq!(
            attempt(&mut h, "192.0.2.1", &wrong),
            Err(ErrorCode::NotFound)
        );
    }
    // The sixth from the same address is refused even with the right code.
    assert_eq!(
        attempt(&mut h, "192.0.2.1", &right),
        Err(ErrorCode::RateLimited)
    );
    // Malformed codes cost the budget too.
    assert_eq!(
        attempt(&mut h, "192.0.2.2", "nope"),
        Err(ErrorCode::NotFound)
    );

    // Many addresses: the class's own budget (20, 5 spent) runs out.
    for i in 0..15 {
        let from = format!("198.51.100.{i}");
        assert_eq!(
            attempt(&mut h, &from, &wrong),
            Err(ErrorCode::NotFound),
            "{i}"
        );
    }
    assert_eq!(
        attempt(&mut h, "203.0.113.1", &right),
        Err(ErrorCode::RateLimited),
        "the class's budget is spent: even the right code waits"
    );
    // A guess whose first 8 characters name no class costs no class anything.
    assert_eq!(
        attempt(&mut h, "203.0.113.2", "ZZZZZZZZ0000"),
        Err(ErrorCode::NotFound)
    );
    h.now += 1_000;
    assert_eq!(attempt(&mut h, "203.0.113.3", &right), Ok(()));
    assert_eq!(h.c.stats().refused(ErrorCode::RateLimited), 2);
    assert_eq!(h.c.stats().refused(ErrorCode::NotFound), 22);
}

#[test]
fn reconnecting_within_grace_keeps_everything_and_never_duplicates() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let s = h.joined("s", Role::Student);
    let pid = h.pid(s);
    h.ok(s, R::RaiseHand);
    h.ok(
        t,
        R::SetStage {
            participant_id: pid.clone(),
            on_stage: true,
        },
    );
    h.settle();

    h.c.disconnect(h.now, s);
    let out = h.settle();
    let change = events(&out, t)
        .into_iter()
        .find_map(|e| match e {
            ClassEvent::ParticipantsChanged {
                upserts, removed, ..
            } => Some((upserts, removed)),
            _ => None,
        })
        .expect("staff see the drop");
    assert!(change.1.is_empty());
    assert_eq!(change.0.len(), 1);
    assert!(!change.0[0].connected && change.0[0].on_stage && change.0[0].hand.is_some());

    h.now += 20_000;
    let s2 = h.join("s", Role::Student);
    let out = h.drain();
    assert_eq!(admitted(&out, s2), Some(true));
    assert_eq!(h.pid(s2), pid);
    let you = last_you(&out, s2).expect("state");
    assert!(you.on_stage);
    assert_eq!(you.hand_position, Some(1));
    assert!(h.c.may_publish(s2, Source::Camera));

    // Same identity again while that connection is open: it is replaced.
    let s3 = h.join("s", Role::Student);
    let out = h.drain();
    assert_eq!(closed(&out, s2), Some(None));
    assert_eq!(close_cause(&out, s2), Some(ByeCause::Replaced));
    assert_eq!(admitted(&out, s3), Some(true));
    h.refused(s2, R::RaiseHand, ErrorCode::BadState);
    h.c.disconnect(h.now, s2); // the old connection going away changes nothing
    let out = h.settle();
    for e in events(&out, t) {
        if let ClassEvent::ParticipantsChanged {
            upserts, removed, ..
        } = e
        {
            assert!(removed.is_empty());
            assert!(upserts.iter().all(|p| p.connected));
        }
    }
    let list = h.req(
        t,
        R::ListParticipants {
            offset: 0,
            limit: 10,
        },
    );
    let ids: Vec<String> = events(&list, t)
        .into_iter()
        .find_map(|e| match e {
            ClassEvent::Participants { items, .. } => {
                Some(items.into_iter().map(|p| p.participant_id).collect())
            }
            _ => None,
        })
        .expect("page");
    assert_eq!(ids, vec![h.pid(t), pid.clone()]);
    let report = h.c.report(h.now, ROOM).expect("report");
    let row = report.rows.iter().find(|r| r.identity == "s").expect("row");
    assert_eq!(row.reconnects, 2);
    assert_eq!(report.rows.len(), 2, "one row per person");
}

#[test]
fn after_grace_a_participant_leaves_for_good() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let s = h.joined("s", Role::Student);
    let pid = h.pid(s);
    h.ok(s, R::RaiseHand);
    h.settle();
    h.c.disconnect(h.now, s);
    h.settle();
    let out = h.advance(30_000);
    assert_eq!(removed_ids(&out, t), vec![pid.clone()]);
    let class = h.c.class(ROOM).expect("class");
    assert!(class.hands.is_empty());
    let s2 = h.join("s", Role::Student);
    let out = h.drain();
    assert_eq!(admitted(&out, s2), Some(false));
    assert_eq!(h.pid(s2), pid, "the same person keeps their id");
    assert_eq!(last_you(&out, s2).and_then(|y| y.hand_position), None);
}

#[test]
fn a_participant_who_leaves_on_purpose_is_out_at_once_not_reconnecting() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let s = h.joined("s", Role::Student);
    let pid = h.pid(s);
    h.ok(s, R::RaiseHand);
    h.settle();
    assert_eq!(
        h.c.class(ROOM).map(|c| c.counts(true).participants),
        Some(2)
    );
    // `leave`: gone from everyone's list now, not kept (and shown) as reconnecting for 30 s.
    let at = h.now;
    h.c.leave(at, s);
    let out = h.settle();
    assert_eq!(removed_ids(&out, t), vec![pid.clone()]);
    let class = h.c.class(ROOM).expect("class");
    assert!(class.hands.is_empty());
    assert_eq!(class.counts(true).participants, 1);
    // The attendance says they left, not that they are away.
    let report = h.c.report(h.now, ROOM).expect("report");
    let row = report.rows.iter().find(|r| r.identity == "s").expect("row");
    assert_eq!(row.last_leave_ms, Some(at), "{row:?}");
    // The grace period passing changes nothing more; coming back is the same person.
    let out = h.advance(30_000);
    assert!(events(&out, t).iter().all(|e| !matches!(e,
        ClassEvent::ParticipantsChanged { removed, .. } if !removed.is_empty())));
    let s2 = h.join("s", Role::Student);
    h.drain();
    assert_eq!(h.pid(s2), pid, "the same person keeps their id");
}

#[test]
fn a_locked_class_takes_nobody_new_but_lets_members_back() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let s = h.joined("s", Role::Student);
    h.ok(t, R::Lock { locked: true });
    let conn = h.conn();
    let entry = h.entry("new", Role::Student);
    assert_eq!(
        h.c.join(h.now, conn, entry).map_err(|e| e.0),
        Err(ErrorCode::Locked)
    );
    let shown =
        h.c.class(ROOM)
            .and_then(|c| c.invite.clone())
            .expect("invite");
    let conn = h.conn();
    assert_eq!(
        h.c.join_invite(h.now, conn, ROOM, &shown, "x", true)
            .map_err(|e| e.0),
        Err(ErrorCode::Locked)
    );
    h.c.disconnect(h.now, s);
    h.now += 10_000;
    let back = h.join("s", Role::Student);
    assert_eq!(admitted(&h.drain(), back), Some(true));
    let asst = h.join("asst", Role::Assistant);
    assert_eq!(admitted(&h.drain(), asst), Some(false));
    h.ok(t, R::Lock { locked: false });
    h.join("new", Role::Student);
    assert_eq!(h.c.stats().refused(ErrorCode::Locked), 2);
}

#[test]
fn removal_closes_and_revokes_the_identity_for_this_class() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let t2 = h.joined("t2", Role::Teacher);
    let asst = h.joined("asst", Role::Assistant);
    let s = h.joined("s", Role::Student);
    let pid = h.pid(s);
    h.refused(
        asst,
        R::Remove {
            participant_id: pid.clone(),
        },
        ErrorCode::Forbidden,
    );
    let tpid = h.pid(t2);
    h.refused(
        t,
        R::Remove {
            participant_id: tpid,
        },
        ErrorCode::Forbidden,
    );
    let out = h.ok(
        t,
        R::Remove {
            participant_id: pid.clone(),
        },
    );
    assert_eq!(closed(&out, s), Some(Some(ErrorCode::Removed)));
    assert_eq!(close_cause(&out, s), Some(ByeCause::Refused));
    assert!(events(&out, t).iter().any(|e| matches!(e,
        ClassEvent::ParticipantsChanged { removed, .. } if removed.contains(&pid))));
    h.refused(s, R::RaiseHand, ErrorCode::Removed);
    h.c.disconnect(h.now, s);
    let conn = h.conn();
    let entry = h.entry("s", Role::Student);
    assert_eq!(
        h.c.join(h.now, conn, entry).map_err(|e| e.0),
        Err(ErrorCode::Removed)
    );
    h.refused(
        t,
        R::Remove {
            participant_id: pid,
        },
        ErrorCode::NotFound,
    );
}

#[test]
fn token_expiry_is_checked_at_join_and_during_the_class() {
    let mut h = Harness::new();
    let _t = h.joined("t", Role::Teacher);
    let conn = h.conn();
    let mut entry = h.entry("late", Role::Student);
    entry.expires_ms = h.now;
    assert_eq!(
        h.c.join(h.now, conn, entry).map_err(|e| e.0),
        Err(ErrorCode::Expired)
    );

    let s = h.conn();
    let mut entry = h.entry("s", Role::Student);
    entry.expires_ms = h.now + 10_000;
    h.c.join(h.now, s, entry.clone()).expect("join");
    h.drain();
    let out = h.advance(10_000);
    assert_eq!(closed(&out, s), Some(Some(ErrorCode::Expired)));
    h.refused(s, R::RaiseHand, ErrorCode::Expired);

    // A request before the tick notices: refused with Expired, then closed.
    let u = h.conn();
    let mut entry = h.entry("u", Role::Student);
    entry.expires_ms = h.now + 5_000;
    h.c.join(h.now, u, entry).expect("join");
    h.drain();
    h.now += 5_000;
    h.c.handle(h.now, u, R::RaiseHand);
    let out = h.drain();
    assert_eq!(errors(&out, u), vec![ErrorCode::Expired]);
    assert_eq!(closed(&out, u), Some(Some(ErrorCode::Expired)));
    let send_at = out.iter().position(|o| matches!(o, Output::Send { .. }));
    let close_at = out.iter().position(|o| matches!(o, Output::Close { .. }));
    assert!(send_at < close_at, "the reason goes out before the close");
    assert!(h.c.class(ROOM).expect("class").hands.is_empty());
}

#[test]
fn joins_beyond_the_budget_wait_in_order_and_are_let_in_by_tick() {
    let config = Config {
        joins_per_sec: 10.0,
        join_burst: 2,
        ..Config::default()
    };
    let mut h = Harness::with(config);
    let conns: Vec<ConnId> = (0..5)
        .map(|i| h.join(&format!("s{i}"), Role::Student))
        .collect();
    let out = h.drain();
    let admitted_now: Vec<bool> = conns.iter().map(|c| admitted(&out, *c).is_some()).collect();
    assert_eq!(admitted_now, [true, true, false, false, false]);
    assert_eq!(h.c.stats().waiting, 3);
    h.refused(conns[2], R::RaiseHand, ErrorCode::BadState);
    h.advance(0);
    assert_eq!(h.c.poll_timeout(), Some(h.now + 100));
    h.c.disconnect(h.now, conns[3]);
    assert_eq!(h.c.stats().waiting, 2);
    let out = h.advance(100);
    assert_eq!(admitted(&out, conns[2]), Some(false));
    assert_eq!(admitted(&out, conns[4]), None, "one token per 100 ms");
    let out = h.advance(100);
    assert_eq!(admitted(&out, conns[4]), Some(false));
    assert_eq!(h.c.stats().waiting, 0);
    assert!(!addressed(&out).contains(&conns[3]));
    // A second join on one connection is a mistake.
    let entry = h.entry("s0", Role::Student);
    assert_eq!(
        h.c.join(h.now, conns[0], entry).map_err(|e| e.0),
        Err(ErrorCode::BadState)
    );
}

#[test]
fn the_class_ends_with_its_report_when_the_last_one_is_gone() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let s = h.joined("s", Role::Student);
    h.now += 60_000;
    h.c.disconnect(h.now, s);
    h.c.disconnect(h.now, t);
    let out = h.advance(29_999);
    assert!(!out.iter().any(|o| matches!(o, Output::Ended { .. })));
    let out = h.advance(1);
    let report = out
        .iter()
        .find_map(|o| match o {
            Output::Ended { report } => Some(report.clone()),
            _ => None,
        })
        .expect("ended");
    assert_eq!(report.rows.len(), 2);
    assert!(report.rows.iter().all(|r| r.minutes == 1.0));
    assert_eq!(h.c.stats().classes, 0);
    assert!(h.c.report(h.now, ROOM).is_none());
}

#[test]
fn a_class_set_up_by_its_host_keeps_its_setup_after_it_ends() {
    let mut h = Harness::new();
    assert_eq!(
        h.c.setup_class(
            h.now,
            ROOM,
            ClassSetup {
                code: Some("not a code".into()),
                ..ClassSetup::default()
            }
        )
        .map_err(|e| e.0),
        Err(ErrorCode::Invalid)
    );
    h.c.setup_class(
        h.now,
        ROOM,
        ClassSetup {
            code: Some("AAAA-BBBB-CCCC".into()),
            invite_token: Some("secret".into()),
            lobby_policy: LobbyPolicy::AlwaysAsk,
            ..ClassSetup::default()
        },
    )
    .expect("setup");
    assert_eq!(
        h.c.setup_class(
            h.now,
            "other",
            ClassSetup {
                code: Some("aaaabbbbcccc".into()),
                ..ClassSetup::default()
            }
        )
        .map_err(|e| e.0),
        Err(ErrorCode::Invalid),
        "two classes cannot share a code"
    );
    h.advance(100_000);
    assert_eq!(
        h.c.stats().classes,
        1,
        "a set-up class waits for its first join"
    );
    let t = h.joined("t", Role::Teacher);
    h.c.disconnect(h.now, t);
    let out = h.advance(31_000);
    assert!(out.iter().any(|o| matches!(o, Output::Ended { .. })));
    assert_eq!(h.c.stats().classes, 1);
    let s = h.conn();
    h.c.join_code(h.now, s, ip("192.0.2.9"), "AAAA-BBBB-CCCC", "x", true)
        .expect("the code still works");
    assert!(waiting(&h.drain(), s));
    let v = h.conn();
    h.c.join_invite(h.now, v, ROOM, "secret", "y", true)
        .expect("the invite still works");
    assert!(waiting(&h.drain(), v), "AlwaysAsk kept");
}

#[test]
fn knocking_again_keeps_the_place_or_comes_in_if_the_door_opened() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    h.ok(
        t,
        R::SetLobbyPolicy {
            policy: LobbyPolicy::AlwaysAsk,
        },
    );
    let a = h.join("a", Role::Student);
    let b = h.join("b", Role::Student);
    h.drain();
    // Again from a new connection: the old one is replaced, the place kept.
    let a2 = h.join("a", Role::Student);
    let out = h.drain();
    assert_eq!(closed(&out, a), Some(None));
    assert_eq!(close_cause(&out, a), Some(ByeCause::Replaced));
    assert!(waiting(&out, a2));
    let out = h.settle();
    let ids = lobby_ids(&out, t).expect("lobby");
    assert_eq!(ids.len(), 2, "no one twice in the lobby");
    assert_eq!(
        ids[0],
        h.c.class(ROOM)
            .and_then(|c| c.member(1))
            .map(|m| m.pid.to_string())
            .expect("a")
    );
    h.ok(
        t,
        R::SetLobbyPolicy {
            policy: LobbyPolicy::AdmitAll,
        },
    );
    let b2 = h.join("b", Role::Student);
    let out = h.drain();
    assert_eq!(closed(&out, b), Some(None));
    assert_eq!(admitted(&out, b2), Some(false));
    assert_eq!(h.c.stats().waiting, 1);
}

/// The teacher's app's companion session (what its recording receives through): let in
/// beside the teacher as an observer, locked class or not; on no list, in no count and not
/// in the report; making no requests; closed when the teacher leaves. Nobody else gets in
/// that way.
#[test]
fn a_teachers_companion_session_is_part_of_the_teacher() {
    let companion = |h: &Harness, identity: &str, of: &str, role| Entry {
        companion_of: Some(of.into()),
        ..h.entry(identity, role)
    };
    let mut h = Harness::new();
    let conn = h.conn();
    let early = companion(&h, "rec", "t", Role::Observer);
    assert_eq!(
        h.c.join(h.now, conn, early).map_err(|e| e.0),
        Err(ErrorCode::Forbidden),
        "not before its teacher is there"
    );
    let t = h.joined("t", Role::Teacher);
    let s = h.joined("s", Role::Student);
    let conn = h.conn();
    let invite = Entry {
        via: EntryVia::Invite,
        ..companion(&h, "rec", "t", Role::Observer)
    };
    assert_eq!(
        h.c.join(h.now, conn, invite).map_err(|e| e.0),
        Err(ErrorCode::Forbidden),
        "an invite makes no companion"
    );
    for (identity, of, role) in [
        ("rec", "s", Role::Observer),
        ("rec", "t", Role::Student),
        ("rec", "t", Role::Teacher),
        ("rec", "nobody", Role::Observer),
        // Someone in the class cannot become a companion.
        ("s", "t", Role::Observer),
    ] {
        let conn = h.conn();
        let entry = companion(&h, identity, of, role);
        assert_eq!(
            h.c.join(h.now, conn, entry).map_err(|e| e.0),
            Err(ErrorCode::Forbidden),
            "{identity} as {role:?} of {of}"
        );
    }
    h.ok(t, R::Lock { locked: true });
    h.settle();
    let rec = h.conn();
    let entry = companion(&h, "rec", "t", Role::Observer);
    h.c.join(h.now, rec, entry)
        .expect("the teacher's companion comes in, locked class or not");
    let out = h.settle();
    assert_eq!(admitted(&out, rec), Some(false));
    let rec_pid = h.pid(rec);
    for e in events(&out, t) {
        if let ClassEvent::ParticipantsChanged { upserts, .. } = e {
            assert!(upserts.iter().all(|p| p.participant_id != rec_pid));
        }
    }
    let list = h.req(
        t,
        R::ListParticipants {
            offset: 0,
            limit: 10,
        },
    );
    let page = events(&list, t).into_iter().find_map(|e| match e {
        ClassEvent::Participants { items, total, .. } => Some((
            total,
            items
                .into_iter()
                .map(|p| p.participant_id)
                .collect::<Vec<_>>(),
        )),
        _ => None,
    });
    assert_eq!(page, Some((2, vec![h.pid(t), h.pid(s)])));
    let class = h.c.class(ROOM).expect("class");
    assert_eq!(class.counts(true).participants, 2);
    assert_eq!(class.counts(false).participants, 2);
    // The teacher asks; the companion does not (not even to say it records).
    h.refused(rec, R::RaiseHand, ErrorCode::Forbidden);
    h.refused(rec, R::SetRecording { on: true }, ErrorCode::Forbidden);
    h.ok(t, R::SetRecording { on: true });
    assert_eq!(h.c.class(ROOM).map(|c| c.counts(false).recording), Some(1));
    let report = h.c.report(h.now, ROOM).expect("report");
    let rows: Vec<&str> = report.rows.iter().map(|r| r.identity.as_str()).collect();
    assert_eq!(rows, vec!["t", "s"]);
    // The teacher gone for good: the companion is closed and leaves with them.
    h.c.disconnect(h.now, t);
    let out = h.advance(30_000);
    assert_eq!(closed(&out, rec), Some(None));
    assert_eq!(close_cause(&out, rec), Some(ByeCause::OwnerLeft));
    let class = h.c.class(ROOM).expect("the student is still there");
    assert!(class.companions.is_empty());
    assert_eq!(class.counts(true).participants, 1);
    assert_eq!(h.c.report(h.now, ROOM).map(|r| r.rows.len()), Some(2));
}
