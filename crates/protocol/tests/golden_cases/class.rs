//! Golden cases for the class's messages: every [`ClassRequest`] and [`ClassEvent`] variant,
//! each inside its `{"type":"class"}` wrapper.

use classroom_protocol::*;

fn participant(id: &str, role: Role) -> ParticipantInfo {
    ParticipantInfo {
        participant_id: id.into(),
        name: "Ana Li".into(),
        role,
        hand: Some(3),
        on_stage: true,
        mic_allowed: true,
        chat_muted: false,
        may_draw: false,
        draw_pages: None,
        recording: true,
        connected: true,
        on_roster: true,
        network: NetworkQuality::Good,
    }
}

fn you() -> YouInfo {
    YouInfo {
        participant_id: "p7".into(),
        role: Role::Student,
        hand_position: Some(2),
        on_stage: false,
        mic_allowed: true,
        chat_muted: false,
        may_draw: true,
        draw_pages: Some(vec!["board-2".into()]),
    }
}

fn settings() -> ClassSettings {
    ClassSettings {
        locked: false,
        lobby_policy: LobbyPolicy::AdmitRoster,
        chat_paused: false,
        stage_limit: 6,
        students_muted: true,
    }
}

fn counts() -> Counts {
    Counts {
        participants: 31,
        hands: 2,
        on_stage: 1,
        lobby: 3,
        recording: 1,
    }
}

fn chat(id: u64, audience: ChatAudience, to: Option<&str>) -> ChatMessage {
    ChatMessage {
        id,
        from: "p7".into(),
        name: "Ana Li".into(),
        role: Role::Student,
        audience,
        to: to.map(str::to_owned),
        text: "Is this on the test?".into(),
        at_ms: Some(1_700_000_000_000),
    }
}

fn poll() -> PollInfo {
    PollInfo {
        poll_id: 4,
        question: "2 + 2?".into(),
        options: vec!["3".into(), "4".into(), "5".into()],
        multiple: false,
        quiz: true,
        open: true,
    }
}

fn report() -> AttendanceReport {
    AttendanceReport {
        room: "math-7b".into(),
        made_ms: 1_700_000_600_000,
        rows: vec![AttendanceRow {
            identity: "s-1041".into(),
            name: "Ana Li".into(),
            role: Role::Student,
            roster_name: Some("Ana Li".into()),
            first_join_ms: 1_700_000_000_000,
            last_leave_ms: Some(1_700_000_540_000),
            minutes: 8.5,
            reconnects: 1,
            roll_calls_answered: 1,
            roll_calls: 1,
            hands_raised: 2,
            chat_messages: 3,
            quiz_correct: 1,
            quiz_questions: 2,
        }],
        absent: vec![RosterEntry {
            name: "Ben Okafor".into(),
            id: Some("s-1042".into()),
        }],
    }
}

/// Every class request, named after its action.
pub fn requests() -> Vec<(&'static str, ClassRequest)> {
    use ClassRequest as R;
    vec![
        ("raise_hand", R::RaiseHand),
        (
            "lower_hand",
            R::LowerHand {
                participant_id: Some("p7".into()),
            },
        ),
        ("lower_all_hands", R::LowerAllHands),
        (
            "set_stage",
            R::SetStage {
                participant_id: "p7".into(),
                on_stage: true,
            },
        ),
        (
            "mute",
            R::Mute {
                participant_id: None,
            },
        ),
        (
            "allow_speak",
            R::AllowSpeak {
                participant_id: Some("p7".into()),
            },
        ),
        (
            "chat",
            R::Chat {
                text: "Hello".into(),
                audience: ChatAudience::Direct,
                to: Some("p7".into()),
            },
        ),
        ("delete_chat", R::DeleteChat { message_id: 12 }),
        ("pause_chat", R::PauseChat { paused: true }),
        (
            "mute_chat",
            R::MuteChat {
                participant_id: "p7".into(),
                muted: true,
            },
        ),
        ("chat_history", R::ChatHistory { before: Some(40) }),
        ("start_roll_call", R::StartRollCall { seconds: 60 }),
        ("answer_roll_call", R::AnswerRollCall { roll_call_id: 2 }),
        ("end_roll_call", R::EndRollCall),
        (
            "start_poll",
            R::StartPoll {
                question: "2 + 2?".into(),
                options: vec!["3".into(), "4".into()],
                multiple: false,
                correct: vec![1],
            },
        ),
        (
            "vote",
            R::Vote {
                poll_id: 4,
                choices: vec![1],
            },
        ),
        ("end_poll", R::EndPoll { poll_id: 4 }),
        ("show_results", R::ShowResults { poll_id: 4 }),
        (
            "react",
            R::React {
                reaction: Reaction::Clap,
            },
        ),
        ("start_timer", R::StartTimer { seconds: 300 }),
        ("stop_timer", R::StopTimer),
        (
            "admit",
            R::Admit {
                participant_id: "p9".into(),
            },
        ),
        (
            "deny",
            R::Deny {
                participant_id: "p9".into(),
            },
        ),
        ("admit_all", R::AdmitAll),
        (
            "set_lobby_policy",
            R::SetLobbyPolicy {
                policy: LobbyPolicy::AlwaysAsk,
            },
        ),
        ("lock", R::Lock { locked: true }),
        (
            "remove",
            R::Remove {
                participant_id: "p7".into(),
            },
        ),
        (
            "set_roster",
            R::SetRoster {
                entries: vec![
                    RosterEntry {
                        name: "Ana Li".into(),
                        id: Some("s-1041".into()),
                    },
                    RosterEntry {
                        name: "Ben Okafor".into(),
                        id: None,
                    },
                ],
                append: false,
            },
        ),
        ("set_stage_limit", R::SetStageLimit { limit: 8 }),
        (
            "list_participants",
            R::ListParticipants {
                offset: 200,
                limit: 200,
            },
        ),
        ("get_report", R::GetReport),
        (
            "annotate_move_items",
            R::Annotate {
                op: annotate::Op::MoveItems {
                    page: "board".into(),
                    items: vec!["p1-3".into(), "p1-4".into()],
                    dx: 12.5,
                    dy: -4.0,
                },
            },
        ),
        (
            "annotate_show_page",
            R::Annotate {
                op: annotate::Op::ShowPage {
                    page: "board-2".into(),
                },
            },
        ),
        (
            "annotate_erase_items",
            R::Annotate {
                op: annotate::Op::EraseItems {
                    page: "board".into(),
                    items: vec!["p1-3".into()],
                },
            },
        ),
        (
            "annotate",
            R::Annotate {
                op: annotate::Op::BeginStroke {
                    page: "board".into(),
                    item: "p1-3".into(),
                    tool: annotate::Tool::Pen,
                    style: annotate::Style {
                        color: [20, 40, 200, 255],
                        width: 3.0,
                    },
                    samples: vec![annotate::Sample {
                        x: 1.0,
                        y: 2.0,
                        p: 0.25,
                        t: 0,
                    }],
                },
            },
        ),
        ("annotation_since", R::AnnotationSince { seq: 42 }),
        (
            "allow_drawing",
            R::AllowDrawing {
                participant_id: "p7".into(),
                allowed: true,
                page: None,
            },
        ),
        (
            "allow_drawing_on_a_page",
            R::AllowDrawing {
                participant_id: "p7".into(),
                allowed: true,
                page: Some("board-2".into()),
            },
        ),
        ("set_recording", R::SetRecording { on: true }),
    ]
}

/// Every class event, named after its event.
pub fn events() -> Vec<(&'static str, ClassEvent)> {
    use ClassEvent as E;
    vec![
        (
            "state",
            E::State {
                server_time_ms: 1_700_000_000_000,
                you: you(),
                settings: settings(),
                counts: counts(),
                chat: vec![chat(11, ChatAudience::Everyone, None)],
                roll_call: Some(RollCallInfo {
                    roll_call_id: 2,
                    deadline_ms: 1_700_000_060_000,
                    open: true,
                    answered: false,
                }),
                poll: Some(poll()),
                timer: Some(TimerInfo {
                    ends_ms: 1_700_000_300_000,
                    seconds: 300,
                }),
            },
        ),
        ("you", E::You(you())),
        ("settings", E::Settings(settings())),
        ("counts", E::Counts(counts())),
        (
            "participants",
            E::Participants {
                total: 2,
                offset: 0,
                items: vec![
                    participant("p1", Role::Teacher),
                    participant("p7", Role::Student),
                ],
            },
        ),
        (
            "participants_changed",
            E::ParticipantsChanged {
                upserts: vec![participant("p7", Role::Student)],
                removed: vec!["p8".into()],
                total: 30,
            },
        ),
        (
            "lobby",
            E::Lobby {
                waiting: vec![LobbyEntry {
                    participant_id: "p9".into(),
                    name: "Chen Wu".into(),
                    via: EntryVia::Code,
                    on_roster: false,
                    since_ms: 1_700_000_000_000,
                }],
            },
        ),
        (
            "waiting",
            E::Waiting {
                reason: "The teacher will let you in.".into(),
            },
        ),
        (
            "chat",
            E::Chat {
                messages: vec![
                    chat(12, ChatAudience::Staff, None).live(),
                    chat(13, ChatAudience::Direct, Some("p1")).live(),
                ],
                skipped: 4,
                history: false,
            },
        ),
        (
            "chat_history",
            E::Chat {
                messages: vec![chat(3, ChatAudience::Everyone, None)],
                skipped: 0,
                history: true,
            },
        ),
        (
            "chat_deleted",
            E::ChatDeleted {
                message_ids: vec![12],
            },
        ),
        (
            "roll_call",
            E::RollCall(RollCallInfo {
                roll_call_id: 2,
                deadline_ms: 1_700_000_060_000,
                open: false,
                answered: true,
            }),
        ),
        (
            "roll_call_tally",
            E::RollCallTally {
                roll_call_id: 2,
                answered: 29,
                expected: 31,
                missing: vec![NameRef {
                    participant_id: "p8".into(),
                    name: "Ben Okafor".into(),
                }],
                open: true,
            },
        ),
        ("poll", E::Poll(poll())),
        (
            "poll_results",
            E::PollResults(PollResults {
                poll_id: 4,
                counts: vec![3, 25, 1],
                voters: 29,
                expected: 31,
                correct: vec![1],
                open: false,
            }),
        ),
        (
            "reactions",
            E::Reactions {
                counts: vec![
                    ReactionCount {
                        reaction: Reaction::ThumbsUp,
                        count: 12,
                    },
                    ReactionCount {
                        reaction: Reaction::Confused,
                        count: 1,
                    },
                ],
                names: vec!["Ana Li".into()],
            },
        ),
        (
            "timer",
            E::Timer {
                timer: Some(TimerInfo {
                    ends_ms: 1_700_000_300_000,
                    seconds: 300,
                }),
            },
        ),
        ("timer_stopped", E::Timer { timer: None }),
        ("report", E::Report(report())),
        (
            "invites",
            E::Invites {
                invite_token: Some("3f1c9a0e5b7d2468ace0f13579bdf024".into()),
                code: Some("K7QM-3XZ2-9HWD".into()),
            },
        ),
        (
            "annotation",
            E::Annotation {
                ops: vec![
                    annotate::Stamped {
                        seq: 7,
                        span: 2,
                        author: "p1".into(),
                        op: annotate::Op::ExtendStroke {
                            page: "board".into(),
                            item: "p1-3".into(),
                            from: 4,
                            samples: vec![annotate::Sample {
                                x: 10.5,
                                y: 20.0,
                                p: 0.5,
                                t: 32,
                            }],
                        },
                    },
                    annotate::Stamped {
                        seq: 0,
                        span: 0,
                        author: "p1".into(),
                        op: annotate::Op::Laser {
                            page: "board".into(),
                            at: [1.0, 2.0],
                        },
                    },
                    annotate::Stamped {
                        seq: 10,
                        span: 0,
                        author: String::new(),
                        op: annotate::Op::Withheld,
                    },
                ],
            },
        ),
    ]
}
