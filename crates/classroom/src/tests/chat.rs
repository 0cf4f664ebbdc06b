//! Chat: audiences, limits, pause and mute, deletion, history, and the batches.

use classroom_protocol::{
    ChatAudience, ChatMessage, ClassEvent, ClassRequest as R, ErrorCode, MAX_CHAT_CHARS, Role,
};

use super::*;

fn say(text: &str) -> R {
    R::Chat {
        text: text.into(),
        audience: ChatAudience::Everyone,
        to: None,
    }
}

/// Chat messages (not history pages) that reached `conn`, with the skipped counts.
fn chats(out: &[Output], conn: ConnId) -> (Vec<ChatMessage>, u32) {
    let mut msgs = Vec::new();
    let mut skipped = 0;
    for e in events(out, conn) {
        if let ClassEvent::Chat {
            messages,
            skipped: s,
            history: false,
        } = e
        {
            msgs.extend(messages);
            skipped += s;
        }
    }
    (msgs, skipped)
}

fn texts(msgs: &[ChatMessage]) -> Vec<String> {
    msgs.iter().map(|m| m.text.clone()).collect()
}

fn history(h: &mut Harness, conn: ConnId, before: Option<u64>) -> Vec<u64> {
    let out = h.req(conn, R::ChatHistory { before });
    events(&out, conn)
        .into_iter()
        .find_map(|e| match e {
            ClassEvent::Chat {
                messages,
                history: true,
                ..
            } => Some(messages.into_iter().map(|m| m.id).collect()),
            _ => None,
        })
        .expect("a history page")
}

#[test]
fn a_message_to_everyone_comes_back_at_once_and_reaches_the_rest_in_one_broadcast() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let s: Vec<ConnId> = (0..5)
        .map(|i| h.joined(&format!("s{i}"), Role::Student))
        .collect();
    h.settle();
    let out = h.req(s[0], say("  hello  "));
    assert_eq!(
        texts(&chats(&out, s[0]).0),
        ["hello"],
        "the sender's copy, trimmed"
    );
    assert!(
        chats(&out, s[1]).0.is_empty(),
        "the rest wait for the batch"
    );
    let out = h.settle();
    let broadcasts: Vec<&Vec<ConnId>> = out
        .iter()
        .filter_map(|o| match o {
            Output::Broadcast { to, msg }
                if matches!(**msg, ServerMessage::Class(ClassEvent::Chat { .. })) =>
            {
                Some(to)
            }
            _ => None,
        })
        .collect();
    assert_eq!(broadcasts.len(), 1, "one message for the whole class");
    assert_eq!(broadcasts[0].len(), 6);
    for c in s.iter().chain([&t]) {
        assert_eq!(texts(&chats(&out, *c).0), ["hello"]);
    }
    let sends = out
        .iter()
        .filter(|o| {
            matches!(
                o,
                Output::Send {
                    msg: ServerMessage::Class(ClassEvent::Chat { .. }),
                    ..
                }
            )
        })
        .count();
    assert_eq!(sends, 0);
}

#[test]
fn text_must_have_one_to_the_limit_characters() {
    let mut h = Harness::new();
    let s = h.joined("s", Role::Student);
    h.refused(s, say(""), ErrorCode::Invalid);
    h.refused(s, say(" \n\t "), ErrorCode::Invalid);
    h.refused(s, say(&"é".repeat(MAX_CHAT_CHARS + 1)), ErrorCode::Invalid);
    let out = h.ok(s, say(&format!("  {}  ", "é".repeat(MAX_CHAT_CHARS))));
    assert_eq!(chats(&out, s).0[0].text.chars().count(), MAX_CHAT_CHARS);
}

#[test]
fn students_are_rate_limited_and_staff_are_not() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let s = h.joined("s", Role::Student);
    for i in 0..5 {
        h.ok(s, say(&format!("m{i}")));
    }
    h.refused(s, say("one too many"), ErrorCode::RateLimited);
    h.now += 2_000; // 0.5 per second: one more
    h.ok(s, say("again"));
    h.refused(s, say("and again"), ErrorCode::RateLimited);
    for i in 0..50 {
        h.ok(t, say(&format!("t{i}")));
    }
}

#[test]
fn paused_chat_and_muted_students_are_refused() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let asst = h.joined("asst", Role::Assistant);
    let s = h.joined("s", Role::Student);
    let o = h.joined("o", Role::Student);
    h.refused(s, R::PauseChat { paused: true }, ErrorCode::Forbidden);
    let out = h.ok(asst, R::PauseChat { paused: true });
    assert!(events(&out, s).iter().any(|e| matches!(e,
        ClassEvent::Settings(settings) if settings.chat_paused)));
    h.refused(s, say("hi"), ErrorCode::Forbidden);
    h.refused(
        s,
        R::Chat {
            text: "psst".into(),
            audience: ChatAudience::Staff,
            to: None,
        },
        ErrorCode::Forbidden,
    );
    h.ok(t, say("quiet please"));
    h.ok(t, R::PauseChat { paused: false });
    let pid = h.pid(s);
    let out = h.ok(
        t,
        R::MuteChat {
            participant_id: pid.clone(),
            muted: true,
        },
    );
    assert_eq!(last_you(&out, s).map(|y| y.chat_muted), Some(true));
    h.refused(s, say("hi"), ErrorCode::Forbidden);
    h.ok(o, say("hi"));
    let tpid = h.pid(t);
    h.refused(
        asst,
        R::MuteChat {
            participant_id: tpid,
            muted: true,
        },
        ErrorCode::Invalid,
    );
    h.refused(
        o,
        R::MuteChat {
            participant_id: pid.clone(),
            muted: false,
        },
        ErrorCode::Forbidden,
    );
    h.ok(
        t,
        R::MuteChat {
            participant_id: pid,
            muted: false,
        },
    );
    h.ok(s, say("back"));
}

#[test]
fn private_questions_reach_staff_and_direct_answers_their_one_receiver() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let asst = h.joined("asst", Role::Assistant);
    let obs = h.joined("obs", Role::Observer);
    let s = h.joined("s", Role::Student);
    let o = h.joined("o", Role::Student);
    h.settle();
    let mut out = h.req(
        s,
        R::Chat {
            text: "is this on the test?".into(),
            audience: ChatAudience::Staff,
            to: None,
        },
    );
    out.extend(h.settle());
    for c in [t, asst, s] {
        assert_eq!(texts(&chats(&out, c).0), ["is this on the test?"], "{c}");
    }
    for c in [o, obs] {
        assert!(chats(&out, c).0.is_empty(), "{c}");
    }
    let spid = h.pid(s);
    let mut out = h.req(
        asst,
        R::Chat {
            text: "yes".into(),
            audience: ChatAudience::Direct,
            to: Some(spid.clone()),
        },
    );
    out.extend(h.settle());
    for c in [t, asst, s] {
        assert_eq!(texts(&chats(&out, c).0), ["yes"], "{c}");
    }
    for c in [o, obs] {
        assert!(chats(&out, c).0.is_empty(), "{c}");
    }
    h.refused(
        s,
        R::Chat {
            text: "hi".into(),
            audience: ChatAudience::Direct,
            to: Some(h.pid(o)),
        },
        ErrorCode::Forbidden,
    );
    h.refused(
        t,
        R::Chat {
            text: "hi".into(),
            audience: ChatAudience::Direct,
            to: None,
        },
        ErrorCode::Invalid,
    );
    h.refused(
        t,
        R::Chat {
            text: "hi".into(),
            audience: ChatAudience::Direct,
            to: Some("p404".into()),
        },
        ErrorCode::NotFound,
    );
    h.refused(obs, say("hi"), ErrorCode::Forbidden);
    // Histories follow the same audiences.
    assert_eq!(history(&mut h, o, None), Vec::<u64>::new());
    assert_eq!(history(&mut h, s, None), vec![1, 2]);
    assert_eq!(history(&mut h, t, None), vec![1, 2]);
}

#[test]
fn each_receiver_gets_at_most_the_cap_per_second_staff_first_and_the_rest_counted() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let s: Vec<ConnId> = (0..60)
        .map(|i| h.joined(&format!("s{i}"), Role::Student))
        .collect();
    h.settle();
    for (i, c) in s.iter().enumerate() {
        h.req(*c, say(&format!("s{i}")));
    }
    h.req(t, say("teacher one"));
    h.req(t, say("teacher two"));
    let out = h.settle();
    let (msgs, skipped) = chats(&out, s[59]);
    assert_eq!(msgs.len(), 20);
    assert_eq!(skipped, 42);
    let got = texts(&msgs);
    assert!(got.contains(&"teacher one".to_owned()) && got.contains(&"teacher two".to_owned()));
    assert!(msgs.windows(2).all(|w| w[0].id < w[1].id), "oldest first");
    let (msgs, skipped) = chats(&out, t);
    assert_eq!((msgs.len(), skipped), (20, 42));
    // The rest stay in the history.
    h.now += 5_000;
    let ids = history(&mut h, s[0], None);
    assert_eq!(ids.len(), h.c.config().chat_page);
    assert_eq!(*ids.last().expect("newest"), 62);
    // A second later the budget is back.
    h.req(s[0], say("later"));
    let out = h.settle();
    assert_eq!(
        (texts(&chats(&out, s[5]).0), chats(&out, s[5]).1),
        (vec!["later".to_owned()], 0)
    );
}

#[test]
fn staff_delete_a_message_for_everyone_who_could_see_it() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let s = h.joined("s", Role::Student);
    let o = h.joined("o", Role::Student);
    h.settle();
    h.req(s, say("rude"));
    h.req(
        s,
        R::Chat {
            text: "private".into(),
            audience: ChatAudience::Staff,
            to: None,
        },
    );
    h.settle();
    h.refused(o, R::DeleteChat { message_id: 1 }, ErrorCode::Forbidden);
    let out = h.ok(t, R::DeleteChat { message_id: 1 });
    for c in [t, s, o] {
        assert!(events(&out, c).iter().any(|e| matches!(e,
            ClassEvent::ChatDeleted { message_ids } if message_ids == &[1])));
    }
    h.refused(t, R::DeleteChat { message_id: 1 }, ErrorCode::NotFound);
    assert_eq!(history(&mut h, o, None), Vec::<u64>::new());
    let out = h.ok(t, R::DeleteChat { message_id: 2 });
    for c in [t, s] {
        assert!(
            events(&out, c)
                .iter()
                .any(|e| matches!(e, ClassEvent::ChatDeleted { .. }))
        );
    }
    assert!(
        !events(&out, o)
            .iter()
            .any(|e| matches!(e, ClassEvent::ChatDeleted { .. }))
    );
    // Deleted before its batch: it never goes out.
    h.req(s, say("oops"));
    h.ok(t, R::DeleteChat { message_id: 3 });
    let out = h.settle();
    assert_eq!(
        chats(&out, o),
        (vec![], 0),
        "neither sent nor counted as skipped"
    );
}

#[test]
fn joiners_get_the_newest_page_and_can_page_back_through_the_bounded_history() {
    let config = Config {
        chat_history: 10,
        chat_page: 4,
        ..Config::default()
    };
    let mut h = Harness::with(config);
    let t = h.joined("t", Role::Teacher);
    for i in 1..=15 {
        h.req(t, say(&format!("m{i}")));
    }
    h.settle();
    let s = h.join("s", Role::Student);
    let out = h.drain();
    let page: Vec<u64> = events(&out, s)
        .into_iter()
        .find_map(|e| match e {
            ClassEvent::State { chat, .. } => Some(chat.into_iter().map(|m| m.id).collect()),
            _ => None,
        })
        .expect("state");
    assert_eq!(page, vec![12, 13, 14, 15]);
    assert_eq!(history(&mut h, s, Some(12)), vec![8, 9, 10, 11]);
    assert_eq!(
        history(&mut h, s, Some(8)),
        vec![6, 7],
        "the history holds ten"
    );
    assert_eq!(history(&mut h, s, Some(6)), Vec::<u64>::new());
}
