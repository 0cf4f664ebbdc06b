//! Hands, the stage, microphones, media grants and who sees whom.

use classroom_protocol::{
    ClassEvent, ClassRequest as R, ErrorCode, NetworkQuality, ParticipantInfo, Role,
};

use super::*;
use crate::MediaGrant;

fn you_updates(out: &[Output], conn: ConnId) -> Vec<Option<u32>> {
    events(out, conn)
        .into_iter()
        .filter_map(|e| match e {
            ClassEvent::You(y) => Some(y.hand_position),
            _ => None,
        })
        .collect()
}

fn grants(out: &[Output], conn: ConnId) -> Vec<MediaGrant> {
    out.iter()
        .filter_map(|o| match o {
            Output::Media { conn: c, grant } if *c == conn => Some(grant.clone()),
            _ => None,
        })
        .collect()
}

fn upserts(out: &[Output], conn: ConnId) -> Vec<ParticipantInfo> {
    events(out, conn)
        .into_iter()
        .flat_map(|e| match e {
            ClassEvent::ParticipantsChanged { upserts, .. } => upserts,
            _ => Vec::new(),
        })
        .collect()
}

fn removed(out: &[Output], conn: ConnId) -> Vec<String> {
    events(out, conn)
        .into_iter()
        .flat_map(|e| match e {
            ClassEvent::ParticipantsChanged { removed, .. } => removed,
            _ => Vec::new(),
        })
        .collect()
}

fn page(h: &mut Harness, conn: ConnId) -> (u32, Vec<String>) {
    let out = h.req(
        conn,
        R::ListParticipants {
            offset: 0,
            limit: 500,
        },
    );
    events(&out, conn)
        .into_iter()
        .find_map(|e| match e {
            ClassEvent::Participants { total, items, .. } => {
                Some((total, items.into_iter().map(|p| p.participant_id).collect()))
            }
            _ => None,
        })
        .expect("a page")
}

#[test]
fn hands_queue_in_order_and_each_student_learns_only_their_own_changes() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let s: Vec<ConnId> = (0..4)
        .map(|i| h.joined(&format!("s{i}"), Role::Student))
        .collect();
    h.settle();
    for c in &s {
        h.req(*c, R::RaiseHand);
    }
    let out = h.settle();
    for (i, c) in s.iter().enumerate() {
        assert_eq!(you_updates(&out, *c), vec![Some(i as u32 + 1)]);
    }
    let mut hands: Vec<(String, u64)> = upserts(&out, t)
        .into_iter()
        .filter_map(|p| Some((p.participant_id, p.hand?)))
        .collect();
    hands.sort_by_key(|(_, seq)| *seq);
    let order: Vec<String> = hands.into_iter().map(|(p, _)| p).collect();
    let pids: Vec<String> = s.iter().map(|c| h.pid(*c)).collect();
    assert_eq!(order, pids, "staff see the queue in the order of raising");

    // Raising again changes nothing and tells nobody anything.
    let out = h.ok(s[1], R::RaiseHand);
    assert!(you_updates(&out, s[1]).is_empty());

    // The last one lowers: nobody else's place changes.
    let mut out = h.ok(
        s[3],
        R::LowerHand {
            participant_id: None,
        },
    );
    out.extend(h.settle());
    assert_eq!(you_updates(&out, s[3]), vec![None]);
    for c in &s[..3] {
        assert!(you_updates(&out, *c).is_empty());
    }
    // The first one is lowered by staff: the two behind move up.
    h.refused(
        s[2],
        R::LowerHand {
            participant_id: Some(pids[0].clone()),
        },
        ErrorCode::Forbidden,
    );
    let mut out = h.ok(
        t,
        R::LowerHand {
            participant_id: Some(pids[0].clone()),
        },
    );
    out.extend(h.settle());
    assert_eq!(you_updates(&out, s[0]), vec![None]);
    assert_eq!(you_updates(&out, s[1]), vec![Some(1)]);
    assert_eq!(you_updates(&out, s[2]), vec![Some(2)]);
    let counts = events(&out, t).into_iter().rev().find_map(|e| match e {
        ClassEvent::Counts(c) => Some(c),
        _ => None,
    });
    assert_eq!(counts.map(|c| c.hands), Some(2));

    h.refused(s[0], R::LowerAllHands, ErrorCode::Forbidden);
    let mut out = h.ok(t, R::LowerAllHands);
    out.extend(h.settle());
    assert_eq!(you_updates(&out, s[1]), vec![None]);
    assert_eq!(you_updates(&out, s[2]), vec![None]);
    assert!(h.c.class(ROOM).expect("class").hands.is_empty());
    // Lowering a hand that is down changes nothing.
    h.ok(
        s[0],
        R::LowerHand {
            participant_id: None,
        },
    );
    h.refused(t, R::RaiseHand, ErrorCode::Forbidden);
}

#[test]
fn the_stage_decides_what_a_student_may_publish() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let asst = h.joined("asst", Role::Assistant);
    let obs = h.joined("obs", Role::Observer);
    let s = h.join("s", Role::Student);
    let out = h.drain();
    let Some(Output::Admitted { media, .. }) = out
        .iter()
        .find(|o| matches!(o, Output::Admitted { conn, .. } if *conn == s))
    else {
        panic!("admitted");
    };
    assert!(media.publish.is_empty(), "off stage: nothing");
    assert!(!h.c.may_publish(s, Source::Camera));
    assert!(
        h.c.may_publish(t, Source::Screen),
        "staff: what the token allows"
    );
    assert!(!h.c.may_publish(obs, Source::Microphone));
    let pid = h.pid(s);

    let out = h.ok(
        asst,
        R::SetStage {
            participant_id: pid.clone(),
            on_stage: true,
        },
    );
    assert_eq!(
        grants(&out, s),
        vec![MediaGrant {
            publish: vec![Source::Camera, Source::Microphone],
            forward_audio: true,
            subscribe: true,
        }],
        "camera and microphone, never the screen the token also allows"
    );
    assert!(h.c.may_publish(s, Source::Microphone));
    assert!(!h.c.may_publish(s, Source::Screen));
    assert_eq!(last_you(&out, s).map(|y| y.on_stage), Some(true));

    let out = h.ok(
        t,
        R::SetStage {
            participant_id: pid.clone(),
            on_stage: false,
        },
    );
    assert_eq!(grants(&out, s)[0].publish, vec![]);
    assert!(!h.c.may_publish(s, Source::Camera));

    let tpid = h.pid(t);
    h.refused(
        asst,
        R::SetStage {
            participant_id: tpid,
            on_stage: true,
        },
        ErrorCode::Invalid,
    );
    let opid = h.pid(obs);
    h.refused(
        t,
        R::SetStage {
            participant_id: opid,
            on_stage: true,
        },
        ErrorCode::Invalid,
    );
    h.refused(
        t,
        R::SetStage {
            participant_id: "p999".into(),
            on_stage: true,
        },
        ErrorCode::NotFound,
    );
    h.refused(
        s,
        R::SetStage {
            participant_id: pid,
            on_stage: true,
        },
        ErrorCode::Forbidden,
    );
}

#[test]
fn the_stage_has_a_limit_only_the_teacher_sets() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let asst = h.joined("asst", Role::Assistant);
    let s: Vec<ConnId> = (0..3)
        .map(|i| h.joined(&format!("s{i}"), Role::Student))
        .collect();
    h.refused(asst, R::SetStageLimit { limit: 2 }, ErrorCode::Forbidden);
    h.refused(t, R::SetStageLimit { limit: 17 }, ErrorCode::Invalid);
    h.refused(t, R::SetStageLimit { limit: 0 }, ErrorCode::Invalid);
    let out = h.ok(t, R::SetStageLimit { limit: 2 });
    assert!(events(&out, s[0]).iter().any(|e| matches!(e,
        ClassEvent::Settings(settings) if settings.stage_limit == 2)));
    for c in &s[..2] {
        let pid = h.pid(*c);
        h.ok(
            t,
            R::SetStage {
                participant_id: pid,
                on_stage: true,
            },
        );
    }
    let pid = h.pid(s[2]);
    h.refused(
        t,
        R::SetStage {
            participant_id: pid,
            on_stage: true,
        },
        ErrorCode::Full,
    );
    assert!(!h.c.may_publish(s[2], Source::Camera));
}

#[test]
fn staff_mute_one_or_all_and_only_allow_speaking() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let t2 = h.joined("t2", Role::Teacher);
    let s = h.joined("s", Role::Student);
    let o = h.joined("o", Role::Student);
    let pid = h.pid(s);
    h.ok(
        t,
        R::SetStage {
            participant_id: pid.clone(),
            on_stage: true,
        },
    );
    let out = h.ok(
        t,
        R::Mute {
            participant_id: Some(pid.clone()),
        },
    );
    assert!(!grants(&out, s)[0].forward_audio);
    assert_eq!(last_you(&out, s).map(|y| y.mic_allowed), Some(false));
    let out = h.ok(
        t,
        R::AllowSpeak {
            participant_id: Some(pid.clone()),
        },
    );
    assert!(grants(&out, s)[0].forward_audio);
    let t2pid = h.pid(t2);
    h.refused(
        t,
        R::Mute {
            participant_id: Some(t2pid),
        },
        ErrorCode::Forbidden,
    );
    h.refused(
        s,
        R::AllowSpeak {
            participant_id: Some(pid.clone()),
        },
        ErrorCode::Forbidden,
    );

    // Mute all: one broadcast of the setting; the stage's microphones stop at once.
    let out = h.ok(
        t,
        R::Mute {
            participant_id: None,
        },
    );
    assert!(!grants(&out, s)[0].forward_audio);
    assert!(grants(&out, o).is_empty(), "off stage: nothing to stop");
    for c in [s, o, t] {
        assert!(events(&out, c).iter().any(|e| matches!(e,
            ClassEvent::Settings(settings) if settings.students_muted)));
    }
    assert!(
        h.c.grant(t).expect("grant").forward_audio,
        "staff are never muted"
    );
    // Those who join later come in muted.
    let late = h.join("late", Role::Student);
    let out = h.drain();
    assert_eq!(last_you(&out, late).map(|y| y.mic_allowed), Some(false));
    let lpid = h.pid(late);
    let out = h.ok(
        t,
        R::SetStage {
            participant_id: lpid.clone(),
            on_stage: true,
        },
    );
    assert!(!grants(&out, late)[0].forward_audio);
    // One allowed, then everyone.
    let out = h.ok(
        t,
        R::AllowSpeak {
            participant_id: Some(lpid),
        },
    );
    assert!(grants(&out, late)[0].forward_audio);
    assert!(!h.c.grant(s).expect("grant").forward_audio);
    let out = h.ok(
        t,
        R::AllowSpeak {
            participant_id: None,
        },
    );
    assert!(grants(&out, s)[0].forward_audio);
    assert!(h.c.grant(o).expect("grant").forward_audio);
}

#[test]
fn observers_are_invisible_to_students_and_students_see_staff_and_stage() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let obs = h.joined("obs", Role::Observer);
    let a = h.joined("a", Role::Student);
    h.settle();
    let b = h.join("b", Role::Student);
    let out = h.drain();
    let first = events(&out, b)
        .into_iter()
        .find_map(|e| match e {
            ClassEvent::Participants { total, items, .. } => Some((total, items)),
            _ => None,
        })
        .expect("a first page after state");
    let (tpid, opid, apid, bpid) = (h.pid(t), h.pid(obs), h.pid(a), h.pid(b));
    assert_eq!(first.0, 1);
    assert_eq!(first.1[0].participant_id, tpid);
    let counts = events(&out, b).into_iter().find_map(|e| match e {
        ClassEvent::State { counts, .. } => Some(counts),
        _ => None,
    });
    assert_eq!(
        counts.map(|c| c.participants),
        Some(3),
        "observers not counted"
    );

    let out = h.settle();
    // A student joining is not news to other students (counts only); staff see it.
    assert!(upserts(&out, a).is_empty());
    assert!(upserts(&out, obs).is_empty());
    assert!(upserts(&out, t).iter().any(|p| p.participant_id == bpid));
    let counts: Vec<u32> = events(&out, a)
        .into_iter()
        .filter_map(|e| match e {
            ClassEvent::Counts(c) => Some(c.participants),
            _ => None,
        })
        .collect();
    assert_eq!(counts, vec![3]);
    let staff_counts = events(&out, t).into_iter().find_map(|e| match e {
        ClassEvent::Counts(c) => Some(c.participants),
        _ => None,
    });
    assert_eq!(staff_counts, Some(4));

    assert_eq!(
        page(&mut h, t),
        (
            4,
            vec![tpid.clone(), opid.clone(), apid.clone(), bpid.clone()]
        )
    );
    assert_eq!(page(&mut h, a), (1, vec![tpid.clone()]));
    assert_eq!(page(&mut h, obs), (1, vec![tpid.clone()]));

    // On stage: everyone sees them; they see everyone but observers.
    let out = h.ok(
        t,
        R::SetStage {
            participant_id: apid.clone(),
            on_stage: true,
        },
    );
    assert!(upserts(&out, b).iter().any(|p| p.participant_id == apid));
    assert!(upserts(&out, obs).iter().any(|p| p.participant_id == apid));
    assert!(
        events(&out, a)
            .iter()
            .any(|e| matches!(e, ClassEvent::Participants { total: 3, .. }))
    );
    assert_eq!(
        page(&mut h, a),
        (3, vec![tpid.clone(), apid.clone(), bpid.clone()])
    );
    let out = h.ok(
        t,
        R::SetStage {
            participant_id: apid.clone(),
            on_stage: false,
        },
    );
    assert_eq!(removed(&out, b), vec![apid.clone()]);
    assert!(removed(&out, t).is_empty(), "staff still list them");
    assert_eq!(page(&mut h, a), (1, vec![tpid]));
    h.refused(
        t,
        R::ListParticipants {
            offset: 0,
            limit: 501,
        },
        ErrorCode::Invalid,
    );
    // An observer leaving is not news to students either.
    h.c.disconnect(h.now, obs);
    let out = h.advance(31_000);
    assert!(removed(&out, b).is_empty());
    assert_eq!(removed(&out, t), vec![opid]);
}

#[test]
fn paging_goes_through_the_list_in_join_order() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let mut pids = vec![h.pid(t)];
    for i in 0..30 {
        let c = h.joined(&format!("s{i}"), Role::Student);
        pids.push(h.pid(c));
    }
    // Some leave for good: the pages close up.
    for i in [3, 4, 17] {
        let conn =
            h.c.class(ROOM)
                .and_then(|c| c.member(i))
                .and_then(|m| m.conn)
                .expect("c");
        h.c.disconnect(h.now, conn);
    }
    h.advance(31_000);
    pids.retain(|p| !["p4", "p5", "p18"].contains(&p.as_str()));
    let mut seen = Vec::new();
    for offset in (0..40).step_by(7) {
        let out = h.req(t, R::ListParticipants { offset, limit: 7 });
        for e in events(&out, t) {
            if let ClassEvent::Participants {
                total,
                items,
                offset: o,
            } = e
            {
                assert_eq!(total, 28);
                assert_eq!(o, offset);
                seen.extend(items.into_iter().map(|p| p.participant_id));
            }
        }
    }
    assert_eq!(seen, pids);
}

#[test]
fn network_quality_reaches_staff_in_the_batch() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let s = h.joined("s", Role::Student);
    h.settle();
    h.c.set_network(s, NetworkQuality::Poor);
    h.c.set_network(s, NetworkQuality::Poor);
    let out = h.settle();
    let ups = upserts(&out, t);
    assert_eq!(ups.len(), 1);
    assert_eq!(ups[0].network, NetworkQuality::Poor);
    assert!(upserts(&out, s).is_empty());
}

fn last_counts(out: &[Output], conn: ConnId) -> Option<classroom_protocol::Counts> {
    events(out, conn).into_iter().rev().find_map(|e| match e {
        ClassEvent::Counts(c) => Some(c),
        _ => None,
    })
}

#[test]
fn who_records_the_class_is_shown_to_staff_and_how_many_to_everyone() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let s1 = h.joined("s1", Role::Student);
    let s2 = h.joined("s2", Role::Student);
    let obs = h.joined("o", Role::Observer);
    h.settle();

    let mut out = h.ok(s1, R::SetRecording { on: true });
    out.extend(h.settle());
    let told: Vec<(String, bool)> = upserts(&out, t)
        .into_iter()
        .map(|p| (p.participant_id, p.recording))
        .collect();
    assert_eq!(told, vec![(h.pid(s1), true)], "staff see who");
    for conn in [t, s1, s2] {
        assert_eq!(
            last_counts(&out, conn).map(|c| c.recording),
            Some(1),
            "everyone sees how many"
        );
    }
    // Saying it again tells nobody anything; an observer may say so too.
    let out = h.ok(s1, R::SetRecording { on: true });
    assert!(upserts(&out, t).is_empty());
    let mut out = h.ok(obs, R::SetRecording { on: true });
    out.extend(h.settle());
    assert_eq!(last_counts(&out, s2).map(|c| c.recording), Some(2));

    // Stopping, and leaving for good, count down.
    let mut out = h.ok(obs, R::SetRecording { on: false });
    out.extend(h.settle());
    assert_eq!(last_counts(&out, s2).map(|c| c.recording), Some(1));
    h.c.disconnect(h.now, s1);
    h.settle();
    // Within the grace period they may come back still recording.
    assert_eq!(h.c.class(ROOM).expect("class").n_recording, 1);
    let out = h.advance(30_000);
    assert_eq!(last_counts(&out, s2).map(|c| c.recording), Some(0));
    assert_eq!(h.c.class(ROOM).expect("class").n_recording, 0);

    // On the wire nothing is added while nobody records.
    let wire = serde_json::to_string(&h.c.class(ROOM).expect("class").counts(false)).expect("json");
    assert!(!wire.contains("recording"), "{wire}");
}
