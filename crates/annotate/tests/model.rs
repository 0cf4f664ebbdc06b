//! The annotation model's promises: everyone who receives the same operations, in any order,
//! with repeats and losses healed from the server, ends with the same pages; batches of
//! samples coalesced for a slow receiver give the same strokes; undo takes an author's
//! changes back and redo brings them again; stored documents keep their schema.

use annotate::*;
use proptest::prelude::*;

const AUTHORS: [&str; 3] = ["teacher", "ada", "bob"];

fn style() -> Style {
    Style {
        color: [20, 40, 200, 255],
        width: 3.0,
    }
}

fn samples(n: usize, seed: u32) -> Vec<Sample> {
    (0..n)
        .map(|i| Sample {
            x: (seed as f32) + i as f32 * 1.5,
            y: (seed as f32 * 0.5) + (i as f32).sin() * 10.0,
            p: ((i % 10) as f32) / 10.0,
            t: i as u32 * 4,
        })
        .collect()
}

/// A server whose teacher added blank `pages`.
fn with_pages(pages: &[&str]) -> Sequencer {
    let mut server = Sequencer::new();
    for page in pages {
        server
            .stamp(
                "teacher",
                Op::AddPage {
                    page: (*page).into(),
                    background: Background::Blank,
                },
            )
            .expect("a page");
    }
    server
}

/// What an author does next, chosen by the test.
#[derive(Debug, Clone)]
enum Action {
    Draw {
        author: usize,
        samples: usize,
        batches: usize,
    },
    Shape {
        author: usize,
    },
    Stamp {
        author: usize,
    },
    Erase {
        author: usize,
        pick: usize,
    },
    Move {
        author: usize,
        pick: usize,
        dx: i8,
        dy: i8,
    },
    /// Several items at once: moved, erased, or brought back; `twice` names one of them
    /// twice (refused).
    Group {
        author: usize,
        picks: Vec<usize>,
        what: u8,
        twice: bool,
    },
    /// The page shown to the class (`real`: the page there is; else one that is not).
    Show {
        author: usize,
        real: bool,
    },
    Laser {
        author: usize,
    },
    Bad {
        author: usize,
    },
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => (0..3usize, 1..40usize, 1..5usize)
            .prop_map(|(author, samples, batches)| Action::Draw { author, samples, batches }),
        1 => (0..3usize).prop_map(|author| Action::Shape { author }),
        1 => (0..3usize).prop_map(|author| Action::Stamp { author }),
        2 => (0..3usize, 0..50usize).prop_map(|(author, pick)| Action::Erase { author, pick }),
        1 => (0..3usize, 0..50usize, any::<i8>(), any::<i8>())
            .prop_map(|(author, pick, dx, dy)| Action::Move { author, pick, dx, dy }),
        1 => (0..3usize, prop::collection::vec(0..50usize, 1..6), 0..3u8, prop::bool::weighted(0.1))
            .prop_map(|(author, picks, what, twice)| Action::Group { author, picks, what, twice }),
        1 => (0..3usize, any::<bool>()).prop_map(|(author, real)| Action::Show { author, real }),
        1 => (0..3usize).prop_map(|author| Action::Laser { author }),
        1 => (0..3usize).prop_map(|author| Action::Bad { author }),
    ]
}

/// Runs the actions through a sequencer as a class would: the stamped operations in order.
fn run(actions: &[Action]) -> (Sequencer, Vec<Stamped>) {
    let mut server = Sequencer::new();
    let mut out = Vec::new();
    let page = "p1".to_owned();
    out.push(
        server
            .stamp(
                "teacher",
                Op::AddPage {
                    page: page.clone(),
                    background: Background::Ruled { spacing: 24.0 },
                },
            )
            .expect("a page"),
    );
    let mut n = 0;
    for a in actions {
        n += 1;
        let ops: Vec<(usize, Op)> = match a {
            Action::Draw {
                author,
                samples: count,
                batches,
            } => {
                let item = format!("{}-{n}", AUTHORS[*author]);
                let all = samples(*count, n);
                let per = all.len().div_ceil(*batches).max(1);
                let mut ops = vec![(
                    *author,
                    Op::BeginStroke {
                        page: page.clone(),
                        item: item.clone(),
                        tool: if n % 5 == 0 {
                            Tool::Highlighter
                        } else {
                            Tool::Pen
                        },
                        style: style(),
                        samples: all[..per.min(all.len())].to_vec(),
                    },
                )];
                let mut from = per.min(all.len());
                while from < all.len() {
                    let to = (from + per).min(all.len());
                    // Batches overlap a little, as a resend after a lost answer would.
                    let start = from.saturating_sub(1);
                    ops.push((
                        *author,
                        Op::ExtendStroke {
                            page: page.clone(),
                            item: item.clone(),
                            from: start as u32,
                            samples: all[start..to].to_vec(),
                        },
                    ));
                    from = to;
                }
                ops.push((
                    *author,
                    Op::EndStroke {
                        page: page.clone(),
                        item,
                        count: all.len() as u32,
                    },
                ));
                ops
            }
            Action::Shape { author } => vec![(
                *author,
                Op::AddItem {
                    page: page.clone(),
                    item: format!("{}-{n}", AUTHORS[*author]),
                    kind: ItemKind::Shape {
                        shape: ShapeKind::Arrow,
                        from: [1.0, 2.0],
                        to: [n as f32, 40.0],
                        style: style(),
                    },
                },
            )],
            Action::Stamp { author } => vec![(
                *author,
                Op::AddItem {
                    page: page.clone(),
                    item: format!("{}-{n}", AUTHORS[*author]),
                    kind: ItemKind::Stamp {
                        at: [10.0, n as f32],
                        stamp: if n % 2 == 0 {
                            Stamp::Tick
                        } else {
                            Stamp::Score("8/10".into())
                        },
                    },
                },
            )],
            Action::Erase { author, pick } | Action::Move { author, pick, .. } => {
                let items: Vec<String> = server
                    .document()
                    .page(&page)
                    .map(|p| p.items.keys().cloned().collect())
                    .unwrap_or_default();
                let Some(item) = items.get(pick % items.len().max(1)).cloned() else {
                    continue;
                };
                let op = match a {
                    Action::Move { dx, dy, .. } => Op::Move {
                        page: page.clone(),
                        item,
                        dx: f32::from(*dx),
                        dy: f32::from(*dy),
                    },
                    _ => Op::Erase {
                        page: page.clone(),
                        item,
                    },
                };
                vec![(*author, op)]
            }
            Action::Group {
                author,
                picks,
                what,
                twice,
            } => {
                let items: Vec<String> = server
                    .document()
                    .page(&page)
                    .map(|p| p.items.keys().cloned().collect())
                    .unwrap_or_default();
                if items.is_empty() {
                    continue;
                }
                let mut chosen: Vec<String> = Vec::new();
                for pick in picks {
                    let item = items[pick % items.len()].clone();
                    if *twice || !chosen.contains(&item) {
                        chosen.push(item);
                    }
                }
                let op = match what {
                    0 => Op::MoveItems {
                        page: page.clone(),
                        items: chosen,
                        dx: 7.0,
                        dy: -3.0,
                    },
                    1 => Op::EraseItems {
                        page: page.clone(),
                        items: chosen,
                    },
                    _ => Op::RestoreItems {
                        page: page.clone(),
                        items: chosen,
                    },
                };
                vec![(*author, op)]
            }
            Action::Show { author, real } => vec![(
                *author,
                Op::ShowPage {
                    page: if *real {
                        page.clone()
                    } else {
                        "nowhere".into()
                    },
                },
            )],
            Action::Laser { author } => vec![(
                *author,
                Op::Laser {
                    page: page.clone(),
                    at: [3.0, 4.0],
                },
            )],
            // Refused by the server: never reaches anyone.
            Action::Bad { author } => vec![(
                *author,
                Op::BeginStroke {
                    page: page.clone(),
                    item: format!("bad-{n}"),
                    tool: Tool::Pen,
                    style: style(),
                    samples: vec![Sample {
                        x: f32::NAN,
                        y: 0.0,
                        p: 2.0,
                        t: 0,
                    }],
                },
            )],
        };
        for (author, op) in ops {
            let before = server.document().clone();
            match server.stamp(AUTHORS[author], op) {
                Ok(stamped) => out.push(stamped),
                // A refused change changes nothing (the server applies in place).
                Err(_) => assert_eq!(server.document(), &before),
            }
        }
    }
    (server, out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Two participants receive the same operations, one in order, the other shuffled with
    /// repeats and some lost (healed by asking the server for what it lacks): both end with
    /// the server's pages.
    #[test]
    fn everyone_with_the_same_operations_has_the_same_pages(
        actions in prop::collection::vec(action(), 1..40),
        shuffle in any::<u64>(),
        lose_every in 2..9usize,
    ) {
        let (server, stamped) = run(&actions);
        let mut in_order = Replica::new();
        for s in &stamped {
            in_order.receive(s.clone());
        }
        prop_assert_eq!(in_order.document(), server.document());

        // Shuffled deterministically, every third repeated, every `lose_every`-th lost.
        let mut order: Vec<Stamped> = Vec::new();
        for (i, s) in stamped.iter().enumerate() {
            if i % lose_every != lose_every - 1 {
                order.push(s.clone());
            }
            if i % 3 == 0 {
                order.push(s.clone());
            }
        }
        let mut state = shuffle | 1;
        for i in (1..order.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            order.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let mut late = Replica::new();
        for s in order {
            late.receive(s);
        }
        // Healing: ask for what is missing until nothing is (and for the tail).
        for _ in 0..stamped.len() + 1 {
            let from = match late.missing() {
                Some((from, _)) => from - 1,
                None => late.document().applied,
            };
            for s in server.since(from) {
                late.receive(s.clone());
            }
        }
        prop_assert_eq!(late.missing(), None);
        prop_assert_eq!(late.document(), server.document());
    }

    /// A change the server refuses leaves its document exactly as it was (the server applies
    /// in place, never on a copy): `run` compares the document before and after every
    /// refused change; here, also its count of applied changes matches what it kept.
    #[test]
    fn a_refused_change_changes_nothing(actions in prop::collection::vec(action(), 1..60)) {
        let (server, stamped) = run(&actions);
        let last_kept = stamped.iter().map(|s| s.seq).max().unwrap_or(0);
        prop_assert_eq!(server.document().applied, last_kept);
    }

    /// A slow receiver gets its backlog coalesced (batches of samples merged): the same
    /// strokes, in fewer messages.
    #[test]
    fn coalesced_batches_draw_the_same_strokes(actions in prop::collection::vec(action(), 1..30)) {
        let (server, stamped) = run(&actions);
        let kept: Vec<Stamped> = stamped.into_iter().filter(|s| s.seq > 0).collect();
        let before = kept.len();
        let merged = coalesce(kept);
        prop_assert!(merged.len() <= before);
        let mut replica = Replica::new();
        for s in merged {
            replica.receive(s);
        }
        prop_assert_eq!(replica.document(), server.document());
    }

    /// Undo takes an author's changes back one by one and redo brings them again; the other
    /// authors' work is untouched.
    #[test]
    fn undo_and_redo_take_back_and_bring_again(actions in prop::collection::vec(action(), 1..25)) {
        let (mut server, stamped) = run(&actions);
        let before_visible = visible(server.document());
        // Ada's own history, from the operations the server took from her.
        let mut history = History::new();
        let mut ada_changes = 0;
        for s in &stamped {
            if s.author == "ada" && inverse(&s.op).is_some() {
                history.record(&s.op);
                ada_changes += 1;
            }
        }
        let mut undone = 0;
        while let Some(op) = history.undo(server.document()) {
            server.stamp("ada", op).expect("an undo that changes something is taken");
            undone += 1;
        }
        prop_assert!(undone <= ada_changes);
        // Nothing Ada made is left on the page, and nobody else's work changed.
        let after_undo = visible(server.document());
        prop_assert!(after_undo.iter().all(|(_, a)| a != "ada"), "{:?}", after_undo);
        let others = |v: &[(String, String)]| -> Vec<(String, String)> {
            v.iter().filter(|(_, a)| a != "ada").cloned().collect()
        };
        if !erased_back_by_ada(&stamped) {
            prop_assert_eq!(others(&after_undo), others(&before_visible));
        }
        while let Some(op) = history.redo(server.document()) {
            server.stamp("ada", op).expect("a redo that changes something is taken");
        }
        let ada_after: Vec<_> = visible(server.document()).into_iter().filter(|(_, a)| a == "ada").collect();
        let ada_before: Vec<_> = before_visible.into_iter().filter(|(_, a)| a == "ada").collect();
        prop_assert_eq!(ada_after, ada_before);
    }
}

/// Whether Ada erased or moved anyone else's items (her undo then brings theirs back, so
/// only her own items are compared).
fn erased_back_by_ada(stamped: &[Stamped]) -> bool {
    stamped.iter().any(|s| {
        s.author == "ada"
            && s.op
                .existing_items()
                .iter()
                .any(|item| !item.starts_with("ada-"))
    })
}

/// The visible items: (id, author), in drawing order.
fn visible(doc: &Document) -> Vec<(String, String)> {
    doc.page("p1")
        .map(|p| {
            p.visible()
                .into_iter()
                .map(|(id, i)| (id.clone(), i.author.clone()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_stroke_streams_while_drawn_and_only_its_author_extends_it() {
    let mut server = with_pages(&["p"]);
    let all = samples(10, 1);
    server
        .stamp(
            "ada",
            Op::BeginStroke {
                page: "p".into(),
                item: "ada-1".into(),
                tool: Tool::Pen,
                style: style(),
                samples: all[..4].to_vec(),
            },
        )
        .expect("begins");
    // Someone else cannot add to it.
    let refused = server.stamp(
        "bob",
        Op::ExtendStroke {
            page: "p".into(),
            item: "ada-1".into(),
            from: 4,
            samples: all[4..].to_vec(),
        },
    );
    assert_eq!(refused, Err(Refused::NotYours("ada-1".into())));
    // A gap waits; the batch after it is refused until the missing samples come.
    assert!(matches!(
        server.stamp(
            "ada",
            Op::ExtendStroke {
                page: "p".into(),
                item: "ada-1".into(),
                from: 6,
                samples: all[6..].to_vec()
            }
        ),
        Err(Refused::Invalid(_))
    ));
    server
        .stamp(
            "ada",
            Op::ExtendStroke {
                page: "p".into(),
                item: "ada-1".into(),
                from: 4,
                samples: all[4..].to_vec(),
            },
        )
        .expect("extends");
    // Live until pen-up.
    let live = |s: &Sequencer| match &s.document().page("p").expect("page").items["ada-1"].kind {
        ItemKind::Stroke { live, samples, .. } => (*live, samples.len()),
        _ => unreachable!(),
    };
    assert_eq!(live(&server), (true, 10));
    server
        .stamp(
            "ada",
            Op::EndStroke {
                page: "p".into(),
                item: "ada-1".into(),
                count: 10,
            },
        )
        .expect("ends");
    assert_eq!(live(&server), (false, 10));
    // Committed: no more samples.
    assert!(
        server
            .stamp(
                "ada",
                Op::ExtendStroke {
                    page: "p".into(),
                    item: "ada-1".into(),
                    from: 10,
                    samples: all[..1].to_vec()
                }
            )
            .is_err()
    );
    // A second pen-up cannot cut a finished stroke short.
    assert!(
        server
            .stamp(
                "ada",
                Op::EndStroke {
                    page: "p".into(),
                    item: "ada-1".into(),
                    count: 1
                }
            )
            .is_err()
    );
    assert_eq!(live(&server), (false, 10));
    // The laser pointer is shown, never kept.
    let laser = server
        .stamp(
            "bob",
            Op::Laser {
                page: "p".into(),
                at: [1.0, 1.0],
            },
        )
        .expect("laser");
    assert_eq!(laser.seq, 0);
    let mut replica = Replica::new();
    assert!(matches!(replica.receive(laser), Received::Ephemeral { .. }));
}

#[test]
fn stored_documents_keep_their_schema() {
    let (server, _) = run(&[
        Action::Draw {
            author: 0,
            samples: 12,
            batches: 3,
        },
        Action::Stamp { author: 0 },
    ]);
    let bytes = server.document().to_json();
    let read = Document::from_json(&bytes).expect("reads back");
    assert_eq!(&read, server.document());
    let mut newer: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    newer["schema"] = serde_json::json!(SCHEMA_VERSION + 1);
    assert_eq!(
        Document::from_json(newer.to_string().as_bytes()),
        Err(SchemaError::Newer(SCHEMA_VERSION + 1))
    );
    assert!(matches!(
        Document::from_json(b"{}"),
        Err(SchemaError::Malformed(_))
    ));
    // A board stored at schema 1 (before the page shown was kept) reads as showing its
    // first page, and is written again at this schema.
    let mut first: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    first["schema"] = serde_json::json!(1);
    first.as_object_mut().expect("an object").remove("shown");
    let read = Document::from_json(first.to_string().as_bytes()).expect("schema 1 reads");
    assert_eq!(read.schema, SCHEMA_VERSION);
    assert_eq!(read.shown, None);
    assert_eq!(read.shown_page().map(String::as_str), Some("p1"));
    assert_eq!(read.pages, server.document().pages);
    assert!(matches!(
        Document::from_json(b"not json"),
        Err(SchemaError::Malformed(_))
    ));
}

#[test]
fn text_and_scores_past_their_limits_are_refused() {
    let mut server = with_pages(&["p"]);
    let text = |text: String, size: f32| ItemKind::Text {
        at: [10.0, 10.0],
        text,
        size,
        color: [0, 0, 0, 255],
    };
    let score = |s: &str| ItemKind::Stamp {
        at: [10.0, 10.0],
        stamp: Stamp::Score(s.into()),
    };
    let add = |server: &mut Sequencer, n: usize, kind: ItemKind| {
        server.stamp(
            "teacher",
            Op::AddItem {
                page: "p".into(),
                item: format!("teacher-{n}"),
                kind,
            },
        )
    };
    let kept = [
        text("a".repeat(MAX_TEXT_CHARS), 32.0),
        text("做得好".into(), MAX_TEXT_SIZE),
        score("8/10"),
        score(&"9".repeat(MAX_SCORE_CHARS)),
    ];
    for (n, kind) in kept.into_iter().enumerate() {
        add(&mut server, n, kind).expect("within the limits");
    }
    let refused = [
        text("a".repeat(MAX_TEXT_CHARS + 1), 32.0),
        text("x".into(), MAX_TEXT_SIZE * 1.01),
        text("x".into(), 0.0),
        text("x".into(), f32::NAN),
        score(&"9".repeat(MAX_SCORE_CHARS + 1)),
    ];
    for (n, kind) in refused.into_iter().enumerate() {
        let before = server.document().clone();
        let result = add(&mut server, 100 + n, kind);
        assert!(
            matches!(result, Err(Refused::Invalid(_))),
            "{n}: {result:?}"
        );
        assert_eq!(
            server.document(),
            &before,
            "a refused item leaves the page as it was"
        );
    }
}

#[test]
fn several_items_change_together_or_not_at_all_and_undo_as_one() {
    let mut server = with_pages(&["p"]);
    let mut history = History::new();
    for n in 0..3 {
        server
            .stamp(
                "teacher",
                Op::AddItem {
                    page: "p".into(),
                    item: format!("teacher-{n}"),
                    kind: ItemKind::Stamp {
                        at: [10.0 * n as f32, 0.0],
                        stamp: Stamp::Tick,
                    },
                },
            )
            .expect("an item");
    }
    let offsets = |server: &Sequencer| -> Vec<[f32; 2]> {
        let page = server.document().page("p").expect("the page");
        (0..3)
            .map(|n| page.items[&format!("teacher-{n}")].offset)
            .collect()
    };
    let group = |items: &[&str]| Op::MoveItems {
        page: "p".into(),
        items: items.iter().map(|s| s.to_string()).collect(),
        dx: 5.0,
        dy: 7.0,
    };
    let moved = server
        .stamp("teacher", group(&["teacher-0", "teacher-2"]))
        .expect("moved");
    history.record(&moved.op);
    assert_eq!(offsets(&server), [[5.0, 7.0], [0.0, 0.0], [5.0, 7.0]]);
    // One missing, one named twice, none, too many: nothing moves.
    let before = server.document().clone();
    for bad in [
        group(&["teacher-1", "nobody"]),
        group(&["teacher-1", "teacher-1"]),
        group(&[]),
        Op::EraseItems {
            page: "p".into(),
            items: (0..=MAX_GROUP_ITEMS)
                .map(|n| format!("teacher-{}", n % 3))
                .collect(),
        },
    ] {
        assert!(server.stamp("teacher", bad).is_err());
        assert_eq!(server.document(), &before);
    }
    // Erased together, brought back together by one undo.
    let erased = server
        .stamp(
            "teacher",
            Op::EraseItems {
                page: "p".into(),
                items: vec!["teacher-0".into(), "teacher-1".into()],
            },
        )
        .expect("erased");
    history.record(&erased.op);
    let visible = |server: &Sequencer| {
        let page = server.document().page("p").expect("the page");
        page.items.values().filter(|i| !i.erased).count()
    };
    assert_eq!(visible(&server), 1);
    let undo = history.undo(server.document()).expect("an undo");
    assert!(matches!(undo, Op::RestoreItems { .. }), "{undo:?}");
    server.stamp("teacher", undo).expect("restored");
    assert_eq!(visible(&server), 3);
    let undo = history.undo(server.document()).expect("the move undone");
    server.stamp("teacher", undo).expect("moved back");
    assert_eq!(offsets(&server), [[0.0, 0.0]; 3]);
}

#[test]
fn the_page_shown_is_one_there_is() {
    assert_eq!(Sequencer::new().document().shown_page(), None);
    let mut server = with_pages(&["one", "two"]);
    assert_eq!(
        server.document().shown_page().map(String::as_str),
        Some("one")
    );
    let shown = server
        .stamp("teacher", Op::ShowPage { page: "two".into() })
        .expect("shown");
    assert_eq!(inverse(&shown.op), None, "showing a page is not undone");
    assert_eq!(
        server.document().shown_page().map(String::as_str),
        Some("two")
    );
    let before = server.document().clone();
    assert!(matches!(
        server.stamp(
            "teacher",
            Op::ShowPage {
                page: "three".into()
            }
        ),
        Err(Refused::Page(_))
    ));
    assert_eq!(server.document(), &before);
    // A participant who joins late gets the page shown with the rest.
    let mut late = Replica::new();
    for s in server.since(0) {
        late.receive(s.clone());
    }
    assert_eq!(
        late.document().shown_page().map(String::as_str),
        Some("two")
    );
}

#[test]
fn a_private_page_reaches_its_owner_and_staff_only_and_nobody_waits_for_it() {
    assert_eq!(private_owner("private-ada-1"), Some("ada"));
    assert_eq!(private_owner(&private_page("p-12", 3)), Some("p-12"));
    for public in [
        "board-1",
        "private-",
        "private-ada",
        "private--1",
        "private-ada-x",
        "xprivate-ada-1",
    ] {
        assert_eq!(private_owner(public), None, "{public}");
    }
    let mut server = Sequencer::new();
    let page = |id: &str| Op::AddPage {
        page: id.into(),
        background: Background::Blank,
    };
    let tick = |page: &str, item: &str| Op::AddItem {
        page: page.into(),
        item: item.into(),
        kind: ItemKind::Stamp {
            at: [1.0, 1.0],
            stamp: Stamp::Tick,
        },
    };
    let mut all = Vec::new();
    for (author, op) in [
        ("teacher", page("board-1")),
        ("ada", page(&private_page("ada", 1))),
        ("bob", page(&private_page("bob", 1))),
        ("ada", tick(&private_page("ada", 1), "ada-1")),
        ("teacher", tick("board-1", "teacher-1")),
        ("bob", tick(&private_page("bob", 1), "bob-1")),
        ("teacher", tick(&private_page("ada", 1), "teacher-2")),
    ] {
        all.push(server.stamp(author, op).expect("taken"));
    }
    let laser = Stamped {
        seq: 0,
        span: 0,
        author: "ada".into(),
        op: Op::Laser {
            page: private_page("ada", 1),
            at: [1.0, 2.0],
        },
    };
    all.push(laser);
    let pages =
        |doc: &Document| -> Vec<String> { doc.pages.iter().map(|(id, _)| id.clone()).collect() };
    // Bob: the class's page and his own; Ada's changes kept their places, empty, unsigned.
    let bobs = seen_by(&all, Some("bob"));
    assert_eq!(bobs.len(), all.len() - 1, "Ada's laser left out");
    assert!(
        bobs.iter()
            .all(|s| s.op != Op::Withheld || s.author.is_empty())
    );
    let mut bob = Replica::new();
    for s in bobs {
        bob.receive(s);
    }
    assert_eq!(pages(bob.document()), ["board-1", "private-bob-1"]);
    assert_eq!(bob.document().applied, server.document().applied);
    assert_eq!(bob.missing(), None, "nothing to wait for");
    // Ada: hers, with the teacher's mark on it.
    let mut ada = Replica::new();
    for s in seen_by(&all, Some("ada")) {
        ada.receive(s);
    }
    assert_eq!(pages(ada.document()), ["board-1", "private-ada-1"]);
    assert_eq!(
        ada.document().page("private-ada-1").map(|p| p.items.len()),
        Some(2)
    );
    // Staff: everything.
    let mut staff = Replica::new();
    for s in seen_by(&all, None) {
        staff.receive(s);
    }
    assert_eq!(staff.document(), server.document());
}
