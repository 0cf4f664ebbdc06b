//! The whiteboard through the class: the staff draw, everyone receives the changes in one
//! order within a short batch (a stroke's samples merged), students may not draw, bad
//! changes are refused with a code, and a late joiner gets the board by asking.

use annotate::{Background, Op, Replica, Sample, Style, Tool};
use classroom_protocol::{ClassEvent, ClassRequest as R, ErrorCode, Role};

use super::*;

fn annotations(out: &[Output], conn: ConnId) -> Vec<annotate::Stamped> {
    events(out, conn)
        .into_iter()
        .filter_map(|e| match e {
            ClassEvent::Annotation { ops } => Some(ops),
            _ => None,
        })
        .flatten()
        .collect()
}

fn samples(from: u32, n: u32) -> Vec<Sample> {
    (from..from + n)
        .map(|i| Sample {
            x: i as f32,
            y: 2.0 * i as f32,
            p: 0.5,
            t: i * 8,
        })
        .collect()
}

fn style() -> Style {
    Style {
        color: [0, 0, 0, 255],
        width: 4.0,
    }
}

#[test]
fn the_teacher_draws_and_everyone_sees_the_stroke_grow_in_one_order() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let s = h.joined("s", Role::Student);
    let obs = h.joined("o", Role::Observer);
    h.settle();
    h.req(
        t,
        R::Annotate {
            op: Op::AddPage {
                page: "board".into(),
                background: Background::Grid { spacing: 40.0 },
            },
        },
    );
    h.req(
        t,
        R::Annotate {
            op: Op::BeginStroke {
                page: "board".into(),
                item: "t-1".into(),
                tool: Tool::Pen,
                style: style(),
                samples: samples(0, 4),
            },
        },
    );
    // Within the annotation period (40 ms), before pen-up: the stroke is already there.
    let out = h.advance(50);
    let mut student = Replica::new();
    for op in annotations(&out, s) {
        student.receive(op);
    }
    let live = |r: &Replica| {
        r.document()
            .page("board")
            .and_then(|p| p.items.get("t-1"))
            .map(|i| match &i.kind {
                annotate::ItemKind::Stroke { samples, live, .. } => (samples.len(), *live),
                _ => (0, false),
            })
    };
    assert_eq!(live(&student), Some((4, true)));
    // Three batches of samples while drawing: one merged message to each receiver.
    for k in 0..3 {
        h.req(
            t,
            R::Annotate {
                op: Op::ExtendStroke {
                    page: "board".into(),
                    item: "t-1".into(),
                    from: 4 + 4 * k,
                    samples: samples(4 + 4 * k, 4),
                },
            },
        );
    }
    let out = h.advance(50);
    let got = annotations(&out, s);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].span, 2);
    for op in got {
        student.receive(op);
    }
    assert_eq!(live(&student), Some((16, true)));
    h.req(
        t,
        R::Annotate {
            op: Op::EndStroke {
                page: "board".into(),
                item: "t-1".into(),
                count: 16,
            },
        },
    );
    let out = h.advance(50);
    for op in annotations(&out, s) {
        student.receive(op);
    }
    assert_eq!(live(&student), Some((16, false)));
    // The observer and the teacher got the same.
    assert!(!annotations(&out, obs).is_empty());
    assert!(!annotations(&out, t).is_empty());

    // Students may not draw; bad changes are refused with a code.
    h.refused(
        s,
        R::Annotate {
            op: Op::Erase {
                page: "board".into(),
                item: "t-1".into(),
            },
        },
        ErrorCode::Forbidden,
    );
    h.refused(
        t,
        R::Annotate {
            op: Op::Erase {
                page: "nowhere".into(),
                item: "t-1".into(),
            },
        },
        ErrorCode::Invalid,
    );

    // A late joiner asks from 0 and gets the board as everyone has it.
    let late = h.joined("late", Role::Student);
    h.settle();
    let out = h.req(late, R::AnnotationSince { seq: 0 });
    let mut replica = Replica::new();
    for op in annotations(&out, late) {
        replica.receive(op);
    }
    assert_eq!(replica.document(), student.document());
    // Nothing after the last: an empty answer, not silence.
    let last = replica.document().applied;
    let out = h.req(late, R::AnnotationSince { seq: last });
    assert!(
        events(&out, late)
            .iter()
            .any(|e| matches!(e, ClassEvent::Annotation { ops } if ops.is_empty()))
    );
}

#[test]
fn a_flood_of_changes_is_limited_per_author() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    h.settle();
    h.req(
        t,
        R::Annotate {
            op: Op::AddPage {
                page: "p".into(),
                background: Background::Blank,
            },
        },
    );
    let mut limited = false;
    for i in 0..200 {
        let out = h.req(
            t,
            R::Annotate {
                op: Op::Laser {
                    page: "p".into(),
                    at: [i as f32, 0.0],
                },
            },
        );
        if errors(&out, t).contains(&ErrorCode::RateLimited) {
            limited = true;
            break;
        }
    }
    assert!(limited, "200 changes at once were all taken");
}

#[test]
fn a_student_draws_only_when_let_and_only_their_own_marks() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let s = h.joined("s", Role::Student);
    h.settle();
    let sp = h.pid(s);
    let page = || "board".to_owned();
    h.req(
        t,
        R::Annotate {
            op: Op::AddPage {
                page: page(),
                background: Background::Blank,
            },
        },
    );
    h.req(
        t,
        R::Annotate {
            op: Op::AddItem {
                page: page(),
                item: "t-1".into(),
                kind: annotate::ItemKind::Stamp {
                    at: [10.0, 10.0],
                    stamp: annotate::Stamp::Tick,
                },
            },
        },
    );
    let begin = |item: &str| R::Annotate {
        op: Op::BeginStroke {
            page: "board".into(),
            item: item.into(),
            tool: Tool::Pen,
            style: style(),
            samples: samples(0, 3),
        },
    };
    // Not let draw yet.
    h.refused(s, begin(&format!("{sp}-1")), ErrorCode::Forbidden);
    let out = h.req(
        t,
        R::AllowDrawing {
            participant_id: sp.clone(),
            allowed: true,
            page: None,
        },
    );
    assert!(errors(&out, t).is_empty());
    let out = h.settle();
    assert_eq!(last_you(&out, s).map(|y| y.may_draw), Some(true));
    // Their own stroke: taken. Someone else's id, a page, the teacher's mark: refused.
    h.ok(s, begin(&format!("{sp}-1")));
    h.refused(s, begin("t-9"), ErrorCode::Forbidden);
    h.refused(
        s,
        R::Annotate {
            op: Op::AddPage {
                page: "mine".into(),
                background: Background::Blank,
            },
        },
        ErrorCode::Forbidden,
    );
    h.refused(
        s,
        R::Annotate {
            op: Op::Erase {
                page: page(),
                item: "t-1".into(),
            },
        },
        ErrorCode::Forbidden,
    );
    h.refused(
        s,
        R::Annotate {
            op: Op::ShowPage { page: page() },
        },
        ErrorCode::Forbidden,
    );
    // Several at once: only when every one is their own.
    let group = |items: Vec<String>| R::Annotate {
        op: Op::MoveItems {
            page: page(),
            items,
            dx: 4.0,
            dy: 4.0,
        },
    };
    h.refused(
        s,
        group(vec![format!("{sp}-1"), "t-1".into()]),
        ErrorCode::Forbidden,
    );
    h.refused(
        s,
        R::Annotate {
            op: Op::EraseItems {
                page: page(),
                items: vec!["t-1".into()],
            },
        },
        ErrorCode::Forbidden,
    );
    h.ok(s, group(vec![format!("{sp}-1")]));
    // Stopped mid-stroke: the stroke is finished as it is, and no more is taken.
    h.req(
        t,
        R::AllowDrawing {
            participant_id: sp.clone(),
            allowed: false,
            page: None,
        },
    );
    let out = h.settle();
    let mut replica = Replica::new();
    let all = h.req(s, R::AnnotationSince { seq: 0 });
    for op in annotations(&all, s) {
        replica.receive(op);
    }
    let stroke = &replica.document().page("board").expect("page").items[&format!("{sp}-1")];
    assert!(matches!(
        stroke.kind,
        annotate::ItemKind::Stroke { live: false, .. }
    ));
    assert_eq!(last_you(&out, s).map(|y| y.may_draw), Some(false));
    h.refused(s, begin(&format!("{sp}-2")), ErrorCode::Forbidden);
}

#[test]
fn a_students_private_page_reaches_them_and_the_staff_only() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let ada = h.joined("ada", Role::Student);
    let bob = h.joined("bob", Role::Student);
    h.settle();
    let (ap, bp) = (h.pid(ada), h.pid(bob));
    let add = |page: &str| R::Annotate {
        op: Op::AddPage {
            page: page.into(),
            background: Background::Ruled { spacing: 30.0 },
        },
    };
    let tick = |page: &str, item: &str| R::Annotate {
        op: Op::AddItem {
            page: page.into(),
            item: item.into(),
            kind: annotate::ItemKind::Stamp {
                at: [10.0, 10.0],
                stamp: annotate::Stamp::Tick,
            },
        },
    };
    h.ok(t, add("board-1"));
    // Ada, not let draw on the class's pages, makes her own and writes on it; the teacher
    // marks it.
    let mine = annotate::private_page(&ap, 1);
    let mut out = h.ok(ada, add(&mine));
    out.extend(h.ok(ada, tick(&mine, &format!("{ap}-1"))));
    out.extend(h.ok(t, tick(&mine, "t-1")));
    out.extend(h.advance(50));
    let shown = |ops: &[annotate::Stamped]| -> Vec<String> {
        let mut replica = Replica::new();
        for op in ops {
            replica.receive(op.clone());
        }
        assert_eq!(replica.missing(), None, "nothing waited for");
        replica
            .document()
            .pages
            .iter()
            .map(|(id, p)| format!("{id}:{}", p.items.len()))
            .collect()
    };
    let everything = h.req(t, R::AnnotationSince { seq: 0 });
    assert_eq!(
        shown(&annotations(&everything, t)),
        ["board-1:0".to_owned(), format!("{mine}:2")]
    );
    // Bob gets the same places in the order, Ada's changes withheld, her name off them.
    let bobs = annotations(&out, bob);
    assert!(
        bobs.iter()
            .any(|s| s.op == Op::Withheld && s.author.is_empty())
    );
    let asked = h.req(bob, R::AnnotationSince { seq: 0 });
    assert_eq!(shown(&annotations(&asked, bob)), ["board-1:0"]);
    assert_eq!(
        annotations(&asked, bob).last().map(annotate::Stamped::last),
        annotations(&everything, t)
            .last()
            .map(annotate::Stamped::last)
    );
    let asked = h.req(ada, R::AnnotationSince { seq: 0 });
    assert_eq!(
        shown(&annotations(&asked, ada)),
        ["board-1:0".to_owned(), format!("{mine}:2")]
    );
    // Bob may not touch it, nor make a page that is not his, nor more than three of his own;
    // nobody sends a withheld change.
    h.refused(bob, tick(&mine, &format!("{bp}-1")), ErrorCode::Forbidden);
    h.refused(bob, add("board-2"), ErrorCode::Forbidden);
    h.refused(
        bob,
        add(&annotate::private_page(&ap, 2)),
        ErrorCode::Forbidden,
    );
    for n in 1..=3 {
        h.ok(bob, add(&annotate::private_page(&bp, n)));
    }
    h.refused(
        bob,
        add(&annotate::private_page(&bp, 4)),
        ErrorCode::Forbidden,
    );
    h.refused(
        bob,
        tick("board-1", &format!("{bp}-2")),
        ErrorCode::Forbidden,
    );
    h.refused(t, R::Annotate { op: Op::Withheld }, ErrorCode::Invalid);
}

#[test]
fn a_student_may_be_let_draw_on_one_page_only() {
    let mut h = Harness::new();
    let t = h.joined("t", Role::Teacher);
    let s = h.joined("s", Role::Student);
    h.settle();
    let sp = h.pid(s);
    for page in ["board-1", "board-2"] {
        h.ok(
            t,
            R::Annotate {
                op: Op::AddPage {
                    page: page.into(),
                    background: Background::Blank,
                },
            },
        );
    }
    let allow = |allowed: bool, page: Option<&str>| R::AllowDrawing {
        participant_id: sp.clone(),
        allowed,
        page: page.map(str::to_owned),
    };
    let mut n = 0;
    let mut stamp = |page: &str| {
        n += 1;
        R::Annotate {
            op: Op::AddItem {
                page: page.into(),
                item: format!("{sp}-{n}"),
                kind: annotate::ItemKind::Stamp {
                    at: [5.0, 5.0],
                    stamp: annotate::Stamp::Cross,
                },
            },
        }
    };
    // Page 2 only: told so, refused on page 1.
    let mut out = h.ok(t, allow(true, Some("board-2")));
    out.extend(h.settle());
    let you = last_you(&out, s).expect("told");
    assert!(you.may_draw);
    assert_eq!(you.draw_pages, Some(vec!["board-2".to_owned()]));
    h.refused(s, stamp("board-1"), ErrorCode::Forbidden);
    h.ok(s, stamp("board-2"));
    // Page 2 taken back: not let draw at all.
    let mut out = h.ok(t, allow(false, Some("board-2")));
    out.extend(h.settle());
    assert_eq!(
        last_you(&out, s).map(|y| (y.may_draw, y.draw_pages)),
        Some((false, None))
    );
    h.refused(s, stamp("board-2"), ErrorCode::Forbidden);
    // Every page, then page 1 taken back: page 2 still.
    h.ok(t, allow(true, None));
    h.ok(s, stamp("board-1"));
    let mut out = h.ok(t, allow(false, Some("board-1")));
    out.extend(h.settle());
    assert_eq!(
        last_you(&out, s).and_then(|y| y.draw_pages),
        Some(vec!["board-2".to_owned()])
    );
    h.refused(s, stamp("board-1"), ErrorCode::Forbidden);
    h.ok(s, stamp("board-2"));
    // No such page, or a student's own page, is not the teacher's to grant.
    h.refused(t, allow(true, Some("board-9")), ErrorCode::Invalid);
    h.refused(
        t,
        allow(true, Some(&annotate::private_page(&sp, 1))),
        ErrorCode::Invalid,
    );
}
