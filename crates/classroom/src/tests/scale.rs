//! Classes of 10,000: not timed (benchmarks print figures elsewhere), but counted. What a
//! class sends must grow with the number of students, not with its square: outputs and
//! deliveries (a broadcast to n connections is n deliveries) are O(N), and no student
//! receives a number of messages that grows with the class.

use std::collections::HashMap;

use classroom_protocol::{ChatAudience, ClassEvent, ClassRequest as R, Role};

use super::*;

const N: usize = 10_000;

/// What a stretch of outputs cost.
#[derive(Default, Debug)]
struct Cost {
    outputs: usize,
    deliveries: usize,
    per_conn: HashMap<ConnId, usize>,
}

impl Cost {
    fn add(&mut self, out: &[Output]) {
        for o in out {
            self.outputs += 1;
            let to: &[ConnId] = match o {
                Output::Send { to, .. } => std::slice::from_ref(to),
                Output::Broadcast { to, .. } => to,
                _ => &[],
            };
            self.deliveries += to.len();
            for c in to {
                *self.per_conn.entry(*c).or_default() += 1;
            }
        }
    }

    fn most_to_one(&self, except: ConnId) -> usize {
        self.per_conn
            .iter()
            .filter(|(c, _)| **c != except)
            .map(|(_, n)| *n)
            .max()
            .unwrap_or(0)
    }
}

/// A teacher and N students, every join let in through the join queue.
fn big_class() -> (Harness, ConnId, Vec<ConnId>, Cost) {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let mut cost = Cost::default();
    let students: Vec<ConnId> = (0..N)
        .map(|i| h.join(&format!("s{i}"), Role::Student))
        .collect();
    cost.add(&h.drain());
    // 500 joins a second after a burst of 1,000: about 18 s of virtual time.
    for _ in 0..400 {
        let out = h.advance(100);
        cost.add(&out);
        if h.c.stats().waiting == 0 {
            break;
        }
    }
    cost.add(&h.settle());
    assert_eq!(h.c.stats().waiting, 0);
    assert_eq!(h.c.stats().connected, N + 1);
    (h, t, students, cost)
}

#[test]
fn ten_thousand_join_and_answer_a_roll_call_in_linear_messages() {
    let (mut h, t, students, joins) = big_class();
    // Each join: admitted, state, first page, and (for the 9,000 beyond the join burst) one
    // `waiting` while queued; then counts about once a second while the class fills, and the
    // teacher's batched list changes.
    // (Measured: 3.9 N outputs, 12.7 N deliveries, at most 23 messages to a student.)
    assert!(
        joins.outputs <= 4 * N + 500,
        "{} outputs for {N} joins",
        joins.outputs
    );
    assert!(
        joins.deliveries <= 20 * N,
        "{} deliveries",
        joins.deliveries
    );
    assert!(
        joins.most_to_one(t) <= 40,
        "a student got {}",
        joins.most_to_one(t)
    );
    let staff_pages = joins.per_conn.get(&t).copied().unwrap_or(0);
    assert!(staff_pages <= 300, "the teacher got {staff_pages} messages");

    let mut roll = Cost::default();
    let out = h.ok(t, R::StartRollCall { seconds: 120 });
    let prompts: Vec<usize> = out
        .iter()
        .filter_map(|o| match o {
            Output::Broadcast { to, msg }
                if matches!(**msg, ServerMessage::Class(ClassEvent::RollCall(_))) =>
            {
                Some(to.len())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        prompts,
        vec![N + 1],
        "one broadcast prompts the whole class"
    );
    roll.add(&out);
    let mut all = Vec::new();
    for (i, s) in students.iter().enumerate() {
        h.c.handle(h.now, *s, R::AnswerRollCall { roll_call_id: 1 });
        if i % 1_000 == 999 {
            h.now += 100;
            h.c.tick(h.now);
        }
        let out = h.drain();
        roll.add(&out);
        all.extend(
            out.into_iter()
                .filter(|o| matches!(o, Output::Broadcast { .. })),
        );
    }
    let out = h.settle();
    roll.add(&out);
    all.extend(out);
    let last = events(&all, t)
        .into_iter()
        .rev()
        .find_map(|e| match e {
            ClassEvent::RollCallTally {
                answered,
                expected,
                missing,
                ..
            } => Some((answered, expected, missing.len())),
            _ => None,
        })
        .expect("the teacher sees the total");
    assert_eq!(last, (N as u32, N as u32, 0));
    let tallies = events(&h.drain(), t).len();
    assert_eq!(tallies, 0);
    // One answer each back to the student, the tallies, the prompt.
    assert!(roll.outputs <= N + 10, "{} outputs", roll.outputs);
    assert!(
        roll.deliveries <= 2 * N + 10,
        "{} deliveries",
        roll.deliveries
    );
    assert!(roll.most_to_one(t) <= 3);
    let to_teacher = roll.per_conn.get(&t).copied().unwrap_or(0);
    assert!(
        to_teacher <= 10,
        "the teacher got {to_teacher} tallies for 10,000 answers"
    );

    let out = h.ok(t, R::EndRollCall);
    let closes = out
        .iter()
        .filter(|o| {
            matches!(o, Output::Broadcast { msg, .. }
            if matches!(**msg, ServerMessage::Class(ClassEvent::RollCall(_))))
        })
        .count();
    assert_eq!(closes, 2, "those who answered, and the rest");
}

#[test]
fn ten_thousand_hands_are_recounted_once_per_batch_and_only_changes_are_sent() {
    let (mut h, t, students, _) = big_class();
    for s in &students {
        h.c.handle(h.now, *s, R::RaiseHand);
    }
    h.drain();
    let out = h.settle();
    let you = |out: &[Output]| {
        out.iter()
            .filter(|o| {
                matches!(
                    o,
                    Output::Send {
                        msg: ServerMessage::Class(ClassEvent::You(_)),
                        ..
                    }
                )
            })
            .count()
    };
    assert_eq!(you(&out), N, "each learns their place once");
    // The last hundred go down: nobody else moves.
    for s in &students[N - 100..] {
        h.c.handle(
            h.now,
            *s,
            R::LowerHand {
                participant_id: None,
            },
        );
    }
    let mut out = h.drain();
    out.extend(h.settle());
    assert_eq!(you(&out), 100);
    // The first ten go down in one batch: everyone behind moves up ten places, told once.
    for s in &students[..10] {
        h.c.handle(
            h.now,
            *s,
            R::LowerHand {
                participant_id: None,
            },
        );
    }
    let mut out = h.drain();
    out.extend(h.settle());
    assert_eq!(you(&out), N - 100);
    assert_eq!(
        last_you(&out, students[10]).and_then(|y| y.hand_position),
        Some(1)
    );
    assert_eq!(
        last_you(&out, students[N - 101]).and_then(|y| y.hand_position),
        Some((N - 110) as u32)
    );
    let staff_batches = events(&out, t)
        .iter()
        .filter(|e| matches!(e, ClassEvent::ParticipantsChanged { .. }))
        .count();
    assert_eq!(staff_batches, 1, "staff get one batch of hand changes");
}

#[test]
fn chat_in_a_class_of_ten_thousand_is_one_broadcast_per_batch() {
    let (mut h, t, students, _) = big_class();
    let mut cost = Cost::default();
    // A thousand students speak at once (each within their own budget).
    for (i, s) in students.iter().take(1_000).enumerate() {
        h.c.handle(
            h.now,
            *s,
            R::Chat {
                text: format!("message {i}"),
                audience: ChatAudience::Everyone,
                to: None,
            },
        );
    }
    cost.add(&h.drain());
    assert_eq!(cost.outputs, 1_000, "each sender's own copy");
    let out = h.settle();
    let chats: Vec<(usize, usize, u32)> = out
        .iter()
        .filter_map(|o| match o {
            Output::Broadcast { to, msg } => match &**msg {
                ServerMessage::Class(ClassEvent::Chat {
                    messages, skipped, ..
                }) => Some((to.len(), messages.len(), *skipped)),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(chats, vec![(N + 1, 20, 980)]);
    let _ = t;
}

#[test]
fn a_burst_of_joins_reaches_staff_in_messages_clients_accept() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    h.drain();
    // The join bucket's burst: a thousand come in at once, into one batch.
    let students: Vec<ConnId> = (0..1_000)
        .map(|i| {
            h.join(
                &format!("a student with a long name, number {i}"),
                Role::Student,
            )
        })
        .collect();
    let mut out = h.drain();
    out.extend(h.settle());
    let mut seen = std::collections::HashSet::new();
    let mut messages = 0;
    for event in events(&out, t) {
        if let ClassEvent::ParticipantsChanged { upserts, .. } = &event {
            messages += 1;
            let size = ServerMessage::Class(event.clone()).encode().len();
            assert!(
                size <= classroom_protocol::MAX_MESSAGE_BYTES,
                "a message of {size} bytes"
            );
            seen.extend(upserts.iter().map(|p| p.participant_id.clone()));
        }
    }
    assert!(
        students.iter().all(|s| seen.contains(&h.pid(*s))),
        "every student is in the teacher's list"
    );
    assert!(
        messages <= 1_000 / crate::batch::CHANGES_PER_MESSAGE + 2,
        "{messages}"
    );
}
