//! Roll call, polls and quizzes, reactions, the timer, and the attendance report.

use classroom_protocol::{
    ChatAudience, ClassEvent, ClassRequest as R, ErrorCode, PollResults, Reaction, Role,
    RosterEntry,
};

use super::*;
use crate::report_csv;

fn roll_calls(out: &[Output], conn: ConnId) -> Vec<(u64, bool, bool)> {
    events(out, conn)
        .into_iter()
        .filter_map(|e| match e {
            ClassEvent::RollCall(r) => Some((r.roll_call_id, r.open, r.answered)),
            _ => None,
        })
        .collect()
}

fn tallies(out: &[Output], conn: ConnId) -> Vec<(u32, u32, usize, bool)> {
    events(out, conn)
        .into_iter()
        .filter_map(|e| match e {
            ClassEvent::RollCallTally {
                answered,
                expected,
                missing,
                open,
                ..
            } => Some((answered, expected, missing.len(), open)),
            _ => None,
        })
        .collect()
}

fn results(out: &[Output], conn: ConnId) -> Vec<PollResults> {
    events(out, conn)
        .into_iter()
        .filter_map(|e| match e {
            ClassEvent::PollResults(r) => Some(r),
            _ => None,
        })
        .collect()
}

fn poll(question: &str, options: &[&str], multiple: bool, correct: &[u32]) -> R {
    R::StartPoll {
        question: question.into(),
        options: options.iter().map(|o| o.to_string()).collect(),
        multiple,
        correct: correct.to_vec(),
    }
}

#[test]
fn a_roll_call_is_answered_tallied_for_staff_and_closed_at_its_deadline() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let asst = h.joined("asst", Role::Assistant);
    let obs = h.joined("obs", Role::Observer);
    let s: Vec<ConnId> = (0..4)
        .map(|i| h.joined(&format!("s{i}"), Role::Student))
        .collect();
    h.settle();
    h.refused(s[0], R::StartRollCall { seconds: 60 }, ErrorCode::Forbidden);
    h.refused(asst, R::StartRollCall { seconds: 4 }, ErrorCode::Invalid);
    let out = h.ok(asst, R::StartRollCall { seconds: 60 });
    let prompts = out
        .iter()
        .filter(|o| {
            matches!(o, Output::Broadcast { msg, .. }
            if matches!(**msg, ServerMessage::Class(ClassEvent::RollCall(_))))
        })
        .count();
    assert_eq!(prompts, 1, "one broadcast prompts everyone");
    for c in s.iter().chain([&t, &obs]) {
        assert_eq!(roll_calls(&out, *c), vec![(1, true, false)]);
    }
    assert_eq!(tallies(&out, t), vec![(0, 4, 4, true)]);
    h.refused(asst, R::StartRollCall { seconds: 60 }, ErrorCode::BadState);
    h.refused(
        t,
        R::AnswerRollCall { roll_call_id: 1 },
        ErrorCode::Forbidden,
    );
    h.refused(
        s[0],
        R::AnswerRollCall { roll_call_id: 7 },
        ErrorCode::NotFound,
    );

    let out = h.ok(s[0], R::AnswerRollCall { roll_call_id: 1 });
    assert_eq!(roll_calls(&out, s[0]), vec![(1, true, true)]);
    assert!(tallies(&out, t).is_empty(), "at most one tally a second");
    h.ok(s[0], R::AnswerRollCall { roll_call_id: 1 }); // twice counts once
    h.now += 300;
    h.ok(s[1], R::AnswerRollCall { roll_call_id: 1 });
    // A student admitted while it is open is expected too.
    let late = h.joined("late", Role::Student);
    let out = h.advance(700);
    assert_eq!(tallies(&out, t), vec![(2, 5, 3, true)]);
    assert_eq!(tallies(&out, asst), vec![(2, 5, 3, true)]);
    assert!(tallies(&out, s[0]).is_empty(), "tallies are for staff");
    let out = h.advance(1_000);
    assert!(tallies(&out, t).is_empty(), "nothing changed, nothing sent");

    h.now += 58_000;
    h.refused(
        late,
        R::AnswerRollCall { roll_call_id: 1 },
        ErrorCode::BadState,
    );
    let out = h.advance(0);
    assert_eq!(roll_calls(&out, s[0]), vec![(1, false, true)]);
    assert_eq!(roll_calls(&out, s[2]), vec![(1, false, false)]);
    assert_eq!(tallies(&out, t), vec![(2, 5, 3, false)]);
    h.refused(t, R::EndRollCall, ErrorCode::BadState);

    // Staff may close the next one early.
    h.ok(t, R::StartRollCall { seconds: 30 });
    h.ok(s[3], R::AnswerRollCall { roll_call_id: 2 });
    let out = h.ok(t, R::EndRollCall);
    assert_eq!(tallies(&out, t).last(), Some(&(1, 5, 4, false)));
    let report = h.c.report(h.now, ROOM).expect("report");
    let row = |id: &str| report.rows.iter().find(|r| r.identity == id).expect("row");
    assert_eq!(
        (row("s0").roll_calls_answered, row("s0").roll_calls),
        (1, 2)
    );
    assert_eq!(
        (row("s3").roll_calls_answered, row("s3").roll_calls),
        (1, 2)
    );
    assert_eq!(
        (row("late").roll_calls_answered, row("late").roll_calls),
        (0, 2)
    );
    assert_eq!(row("t").roll_calls, 0, "staff are not expected");
}

#[test]
fn polls_validate_tally_live_for_staff_and_show_results_when_staff_choose() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let s: Vec<ConnId> = (0..3)
        .map(|i| h.joined(&format!("s{i}"), Role::Student))
        .collect();
    h.settle();
    for bad in [
        poll("q", &["one"], false, &[]),
        poll("q", &["a"; 11], false, &[]),
        poll("q", &["a", " "], false, &[]),
        poll("", &["a", "b"], false, &[]),
        poll(&"q".repeat(301), &["a", "b"], false, &[]),
        poll("q", &["a", &"b".repeat(121)], false, &[]),
        poll("q", &["a", "b"], false, &[2]),
        poll("q", &["a", "b"], false, &[0, 1]),
        poll("q", &["a", "b"], true, &[1, 1]),
    ] {
        h.refused(t, bad, ErrorCode::Invalid);
    }
    h.refused(
        s[0],
        poll("q", &["a", "b"], false, &[]),
        ErrorCode::Forbidden,
    );
    let out = h.ok(t, poll("Lunch?", &["pizza", "soup", "salad"], false, &[]));
    for c in s.iter().chain([&t]) {
        assert!(events(&out, *c).iter().any(|e| matches!(e,
            ClassEvent::Poll(p) if p.open && p.poll_id == 1 && !p.quiz)));
    }
    h.refused(
        t,
        poll("again", &["a", "b"], false, &[]),
        ErrorCode::BadState,
    );
    for (choices, code) in [
        (vec![0, 1], ErrorCode::Invalid),
        (vec![], ErrorCode::Invalid),
        (vec![3], ErrorCode::Invalid),
    ] {
        h.refused(
            s[0],
            R::Vote {
                poll_id: 1,
                choices,
            },
            code,
        );
    }
    h.refused(
        s[0],
        R::Vote {
            poll_id: 9,
            choices: vec![0],
        },
        ErrorCode::NotFound,
    );
    h.refused(
        t,
        R::Vote {
            poll_id: 1,
            choices: vec![0],
        },
        ErrorCode::Forbidden,
    );
    h.ok(
        s[0],
        R::Vote {
            poll_id: 1,
            choices: vec![0],
        },
    );
    h.ok(
        s[1],
        R::Vote {
            poll_id: 1,
            choices: vec![0],
        },
    );
    h.ok(
        s[1],
        R::Vote {
            poll_id: 1,
            choices: vec![1],
        },
    ); // changes their mind
    let out = h.settle();
    let live = results(&out, t);
    assert_eq!(
        live.last()
            .map(|r| (r.counts.clone(), r.voters, r.expected)),
        Some((vec![1, 1, 0], 2, 3))
    );
    assert!(
        results(&out, s[0]).is_empty(),
        "students wait until staff show them"
    );

    let out = h.ok(t, R::EndPoll { poll_id: 1 });
    assert!(
        events(&out, s[2])
            .iter()
            .any(|e| matches!(e, ClassEvent::Poll(p) if !p.open))
    );
    assert_eq!(results(&out, t).last().map(|r| r.open), Some(false));
    h.refused(
        s[2],
        R::Vote {
            poll_id: 1,
            choices: vec![2],
        },
        ErrorCode::BadState,
    );
    h.refused(t, R::EndPoll { poll_id: 1 }, ErrorCode::BadState);
    let out = h.ok(t, R::ShowResults { poll_id: 1 });
    for c in s.iter().chain([&t]) {
        assert_eq!(
            results(&out, *c).last().map(|r| r.counts.clone()),
            Some(vec![1, 1, 0])
        );
    }
    // A joiner sees the poll and its shown results.
    let late = h.join("late", Role::Student);
    let out = h.drain();
    assert!(events(&out, late).iter().any(|e| matches!(e,
        ClassEvent::State { poll: Some(p), .. } if p.poll_id == 1)));
    assert_eq!(results(&out, late).len(), 1);
    h.refused(t, R::ShowResults { poll_id: 2 }, ErrorCode::NotFound);
}

#[test]
fn a_quiz_scores_a_vote_right_when_it_picks_exactly_the_right_options() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let s: Vec<ConnId> = (0..4)
        .map(|i| h.joined(&format!("s{i}"), Role::Student))
        .collect();
    let out = h.ok(t, poll("Primes?", &["2", "4", "5", "9"], true, &[2, 0]));
    assert!(
        events(&out, s[0])
            .iter()
            .any(|e| matches!(e, ClassEvent::Poll(p) if p.quiz))
    );
    assert!(results(&out, s[0]).is_empty());
    h.ok(
        s[0],
        R::Vote {
            poll_id: 1,
            choices: vec![0, 2],
        },
    );
    h.ok(
        s[1],
        R::Vote {
            poll_id: 1,
            choices: vec![0],
        },
    );
    h.ok(
        s[2],
        R::Vote {
            poll_id: 1,
            choices: vec![2, 0],
        },
    );
    let late = h.joined("late", Role::Student);
    h.ok(
        late,
        R::Vote {
            poll_id: 1,
            choices: vec![1],
        },
    );
    let out = h.ok(t, R::EndPoll { poll_id: 1 });
    let last = results(&out, t).pop().expect("final results");
    assert_eq!(last.correct, vec![0, 2], "staff see the answers");
    assert_eq!((last.voters, last.expected), (4, 5));
    let after = h.joined("after", Role::Student);
    let _ = after;
    let out = h.ok(t, R::ShowResults { poll_id: 1 });
    assert_eq!(
        results(&out, s[3]).pop().map(|r| r.correct),
        Some(vec![0, 2])
    );

    // A second quiz, single choice.
    h.ok(t, poll("2+2?", &["3", "4"], false, &[1]));
    h.ok(
        s[1],
        R::Vote {
            poll_id: 2,
            choices: vec![1],
        },
    );
    h.ok(t, R::EndPoll { poll_id: 2 });
    let report = h.c.report(h.now, ROOM).expect("report");
    let score = |id: &str| {
        let r = report.rows.iter().find(|r| r.identity == id).expect("row");
        (r.quiz_correct, r.quiz_questions)
    };
    assert_eq!(score("s0"), (1, 2));
    assert_eq!(score("s1"), (1, 2));
    assert_eq!(score("s2"), (1, 2));
    assert_eq!(score("s3"), (0, 2), "present but silent: asked, not right");
    assert_eq!(score("late"), (0, 2));
    assert_eq!(score("after"), (0, 1), "joined after the first closed");
    assert_eq!(score("t"), (0, 0));
}

#[test]
fn reactions_are_summed_per_batch_into_one_broadcast() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let obs = h.joined("obs", Role::Observer);
    let s: Vec<ConnId> = (0..8)
        .map(|i| h.joined(&format!("s{i}"), Role::Student))
        .collect();
    h.settle();
    h.refused(
        obs,
        R::React {
            reaction: Reaction::Clap,
        },
        ErrorCode::Forbidden,
    );
    for c in &s {
        h.req(
            *c,
            R::React {
                reaction: Reaction::Clap,
            },
        );
    }
    h.req(
        s[0],
        R::React {
            reaction: Reaction::Heart,
        },
    );
    h.req(
        s[0],
        R::React {
            reaction: Reaction::Heart,
        },
    );
    h.refused(
        s[0],
        R::React {
            reaction: Reaction::Heart,
        },
        ErrorCode::RateLimited,
    );
    let out = h.settle();
    let batches: Vec<_> = out
        .iter()
        .filter(|o| {
            matches!(o, Output::Broadcast { msg, .. }
            if matches!(**msg, ServerMessage::Class(ClassEvent::Reactions { .. })))
        })
        .collect();
    assert_eq!(batches.len(), 1);
    for c in [t, obs, s[7]] {
        let got = events(&out, c).into_iter().find_map(|e| match e {
            ClassEvent::Reactions { counts, names } => Some((counts, names)),
            _ => None,
        });
        let (counts, names) = got.expect("reactions");
        let n = |r: Reaction| {
            counts
                .iter()
                .find(|c| c.reaction == r)
                .map_or(0, |c| c.count)
        };
        assert_eq!(
            (n(Reaction::Clap), n(Reaction::Heart), n(Reaction::Laugh)),
            (8, 2, 0)
        );
        assert!(counts.iter().all(|c| c.count > 0));
        assert_eq!(names.len(), 5);
    }
    let out = h.settle();
    assert!(
        !out.iter().any(|o| matches!(o, Output::Broadcast { msg, .. }
        if matches!(**msg, ServerMessage::Class(ClassEvent::Reactions { .. }))))
    );
}

#[test]
fn staff_run_the_class_timer_everyone_sees() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let s = h.joined("s", Role::Student);
    h.refused(s, R::StartTimer { seconds: 60 }, ErrorCode::Forbidden);
    h.refused(t, R::StartTimer { seconds: 0 }, ErrorCode::Invalid);
    h.refused(
        t,
        R::StartTimer {
            seconds: 4 * 3600 + 1,
        },
        ErrorCode::Invalid,
    );
    h.refused(t, R::StopTimer, ErrorCode::BadState);
    let out = h.ok(t, R::StartTimer { seconds: 300 });
    let ends = h.now + 300_000;
    for c in [t, s] {
        assert!(events(&out, c).iter().any(|e| matches!(e,
            ClassEvent::Timer { timer: Some(x) } if x.ends_ms == ends && x.seconds == 300)));
    }
    let late = h.join("late", Role::Student);
    assert!(events(&h.drain(), late).iter().any(|e| matches!(e,
        ClassEvent::State { timer: Some(x), .. } if x.ends_ms == ends)));
    let out = h.ok(t, R::StopTimer);
    assert!(
        events(&out, s)
            .iter()
            .any(|e| matches!(e, ClassEvent::Timer { timer: None }))
    );
    h.refused(t, R::StopTimer, ErrorCode::BadState);
    // A timer that ran out is simply gone.
    h.ok(t, R::StartTimer { seconds: 1 });
    h.advance(1_000);
    let late2 = h.join("late2", Role::Student);
    assert!(
        events(&h.drain(), late2)
            .iter()
            .any(|e| matches!(e, ClassEvent::State { timer: None, .. }))
    );
}

#[test]
fn the_report_merges_reconnects_into_one_row_per_person() {
    let mut h = Harness::new();
    let start = h.now;
    let t = h.joined("t", Role::Teacher);
    h.ok(
        t,
        R::SetRoster {
            entries: vec![
                RosterEntry {
                    name: "Sam".into(),
                    id: Some("s".into()),
                },
                RosterEntry {
                    name: "Nobody".into(),
                    id: Some("n".into()),
                },
            ],
            append: false,
        },
    );
    let s = h.joined("s", Role::Student);
    h.ok(s, R::RaiseHand);
    h.ok(
        s,
        R::Chat {
            text: "hi".into(),
            audience: ChatAudience::Everyone,
            to: None,
        },
    );
    // Ten minutes, a drop of 20 s, back, then a second connection takes over (no gap,
    // no double counting), then gone for good at 20 minutes.
    h.now = start + 600_000;
    h.c.disconnect(h.now, s);
    h.advance(20_000);
    let s2 = h.join("s", Role::Student);
    h.drain();
    h.now = start + 900_000;
    let s3 = h.join("s", Role::Student);
    h.drain();
    let _ = s2;
    h.now = start + 1_200_000;
    h.c.disconnect(h.now, s3);
    let report = h.c.report(h.now + 1_000, ROOM).expect("report");
    let row = report.rows.iter().find(|r| r.identity == "s").expect("row");
    assert_eq!(row.last_leave_ms, None, "within grace: still in the class");
    h.advance(30_000);
    let report = h.c.report(h.now, ROOM).expect("report");
    assert_eq!(report.rows.len(), 2);
    let row = report.rows.iter().find(|r| r.identity == "s").expect("row");
    assert_eq!(row.first_join_ms, start);
    assert_eq!(row.last_leave_ms, Some(start + 1_200_000));
    assert_eq!(row.minutes, 19.7, "20 minutes less the 20 s away");
    assert_eq!(row.reconnects, 2);
    assert_eq!((row.hands_raised, row.chat_messages), (1, 1));
    assert_eq!(row.roster_name.as_deref(), Some("Sam"));
    assert_eq!(report.absent.len(), 1);
    assert_eq!(report.absent[0].name, "Nobody");
    let teacher = report.rows.iter().find(|r| r.identity == "t").expect("row");
    assert_eq!(teacher.last_leave_ms, None);

    let out = h.ok(t, R::GetReport);
    assert!(
        events(&out, t)
            .iter()
            .any(|e| matches!(e, ClassEvent::Report(r) if r.rows.len() == 2))
    );
    let other = h.joined("o", Role::Student);
    h.refused(other, R::GetReport, ErrorCode::Forbidden);

    // Its CSV parses back to the same people.
    let csv_text = report_csv(&report);
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 3);
    let status: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
    assert_eq!(status, ["present", "left", "absent"]);
    assert_eq!(&rows[1][1], "s");
    assert_eq!(rows[1][7].parse::<f64>().expect("minutes"), 19.7);
    assert_eq!(&rows[2][2], "Nobody");
}
