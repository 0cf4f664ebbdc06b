//! The class's own messages: everything a lesson needs besides media. Roles and the lobby,
//! hands, the stage, microphones, chat, roll call, polls and quizzes, reactions and the class
//! timer.
//!
//! A client sends a [`ClassRequest`] inside [`crate::ClientMessage::Class`]
//! (`{"type":"class","action":"raiseHand"}`); the server answers with [`ClassEvent`]s inside
//! [`crate::ServerMessage::Class`] (`{"type":"class","event":"you",...}`). The server decides
//! what each role may do; a refused request gets a [`crate::ServerMessage::Error`] with a code
//! and changes nothing.
//!
//! Built for classes of 10,000: staff and students on stage see the participant list (paged,
//! changes batched), everyone else gets counts; chat arrives in batches, capped per receiver;
//! roll-call answers and poll votes reach staff as tallies at most once a second.
//!
//! Times are Unix milliseconds of the server's clock (`*_ms`); clients count down against
//! their own clock corrected by [`ClassEvent::State::server_time_ms`].

use serde::{Deserialize, Serialize};

use crate::Role;

/// Longest chat message, in characters.
pub const MAX_CHAT_CHARS: usize = 500;
/// Longest poll question, in characters.
pub const MAX_QUESTION_CHARS: usize = 300;
/// Longest poll option, in characters.
pub const MAX_OPTION_CHARS: usize = 120;
/// Most options a poll may have.
pub const MAX_POLL_OPTIONS: usize = 10;
/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Most roster entries a class takes.
pub const MAX_ROSTER: usize = 20_000;
/// Longest student id in a roster, in characters.
pub const MAX_ROSTER_ID_CHARS: usize = 128;
/// Longest class timer and roll-call deadline, in seconds (four hours).
pub const MAX_TIMER_SECS: u32 = 4 * 3600;
/// The largest stage a class may have.
pub const MAX_STAGE: u32 = 16;
/// Most participants one page of [`ClassEvent::Participants`] carries.
pub const MAX_PAGE: u32 = 500;

/// Who may come in without a staff member letting them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum LobbyPolicy {
    /// Every student waits in the lobby until staff admit them.
    AlwaysAsk,
    /// Students on the roster come straight in; others wait.
    AdmitRoster,
    /// Everyone with a valid invite comes straight in. Joins by class code still wait:
    /// a short code is only ever a way into the lobby.
    AdmitAll,
}

/// How a participant got in: decides whether the lobby applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum EntryVia {
    /// A personal token naming them (minted by the school, or exchanged for an invite).
    Token,
    /// The class's invite link.
    Invite,
    /// The short class code (always through the lobby).
    Code,
}

/// How well a participant's media is getting through, from the server's view of their
/// transport (loss and round-trip time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum NetworkQuality {
    /// Nothing measured yet (no media).
    Unknown,
    /// Under 2% loss and under 300 ms RTT.
    Good,
    /// Under 10% loss and under 600 ms RTT.
    Fair,
    /// Worse.
    Poor,
}

/// One participant as staff (and students on stage) see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ParticipantInfo {
    /// Stable for the whole class, across reconnects.
    pub participant_id: String,
    /// Display name.
    pub name: String,
    /// Their role.
    pub role: Role,
    /// When their hand went up: a class-wide sequence number, so sorting by it gives the
    /// queue. `None`: hand down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(as = "Option<f64>"))]
    pub hand: Option<u64>,
    /// On stage: may publish camera and microphone.
    #[serde(default)]
    pub on_stage: bool,
    /// Allowed to speak: their microphone is forwarded. Staff always are. For students off
    /// stage this follows [`ClassSettings::students_muted`] without an update of its own.
    #[serde(default)]
    pub mic_allowed: bool,
    /// Their chat is muted by staff.
    #[serde(default)]
    pub chat_muted: bool,
    /// Staff let them draw on the whiteboard (left out when not).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub may_draw: bool,
    /// While `may_draw`: only on these pages (none: on every page of the class's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub draw_pages: Option<Vec<String>>,
    /// They record the class on their computer (left out when not).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub recording: bool,
    /// False while they are reconnecting (within the grace period).
    #[serde(default = "yes")]
    pub connected: bool,
    /// Matched to an entry of the roster.
    #[serde(default)]
    pub on_roster: bool,
    /// How well their media is getting through.
    #[serde(default = "unknown_quality")]
    pub network: NetworkQuality,
}

fn yes() -> bool {
    true
}

fn unknown_quality() -> NetworkQuality {
    NetworkQuality::Unknown
}

/// Someone waiting in the lobby.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct LobbyEntry {
    /// Their id (kept if they are admitted).
    pub participant_id: String,
    /// The name they gave.
    pub name: String,
    /// How they came.
    pub via: EntryVia,
    /// Their name or identity matches the roster.
    pub on_roster: bool,
    /// When they started waiting, Unix ms.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub since_ms: u64,
}

/// One expected student.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct RosterEntry {
    /// Name as the school writes it.
    pub name: String,
    /// The school's id for the student, when tokens name it (matched against the token's
    /// identity); `None`: matched by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// Room left in each message for what surrounds the entries (`{"type":"class",
/// "action":"setRoster","append":true,"entries":[...]}`), with plenty to spare.
const ROSTER_ENVELOPE_BYTES: usize = 1024;

/// A roster as the requests that set it, in order, each one signaling message of at most
/// [`crate::MAX_MESSAGE_BYTES`]: the first replaces the roster, the rest add to it. An empty
/// roster is one request (it clears the roster).
pub fn roster_requests(entries: Vec<RosterEntry>) -> Vec<ClassRequest> {
    let budget = crate::MAX_MESSAGE_BYTES - ROSTER_ENVELOPE_BYTES;
    let mut requests = Vec::new();
    let mut chunk = Vec::new();
    let mut bytes = 0;
    for entry in entries {
        // The entry as it is encoded, and its comma.
        let size = serde_json::to_string(&entry).map_or(budget, |s| s.len()) + 1;
        if !chunk.is_empty() && bytes + size > budget {
            requests.push(ClassRequest::SetRoster {
                entries: std::mem::take(&mut chunk),
                append: !requests.is_empty(),
            });
            bytes = 0;
        }
        bytes += size;
        chunk.push(entry);
    }
    requests.push(ClassRequest::SetRoster {
        entries: chunk,
        append: !requests.is_empty(),
    });
    requests
}

/// Who a chat message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum ChatAudience {
    /// The whole class.
    Everyone,
    /// The teacher and assistants only (a student's private question).
    Staff,
    /// One participant (staff answering privately); names them in `to`.
    Direct,
}

fn student() -> Role {
    Role::Student
}

fn is_student(role: &Role) -> bool {
    *role == Role::Student
}

fn everyone() -> ChatAudience {
    ChatAudience::Everyone
}

fn is_everyone(audience: &ChatAudience) -> bool {
    *audience == ChatAudience::Everyone
}

/// One chat message as delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ChatMessage {
    /// Server-assigned, increasing within the class.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: u64,
    /// Sender's participant id.
    pub from: String,
    /// Sender's display name.
    pub name: String,
    /// Sender's role (teachers' messages are shown apart). Left out for a student, as the
    /// audience is for everyone: in a class of 10,000 the chat is most of the signaling, and
    /// the two saved a quarter of each message's bytes.
    #[serde(default = "student", skip_serializing_if = "is_student")]
    #[cfg_attr(feature = "ts", ts(as = "Option<Role>", optional))]
    pub role: Role,
    /// Who it is for; left out for everyone.
    #[serde(default = "everyone", skip_serializing_if = "is_everyone")]
    #[cfg_attr(feature = "ts", ts(as = "Option<ChatAudience>", optional))]
    pub audience: ChatAudience,
    /// For [`ChatAudience::Direct`]: the participant it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The text, at most [`MAX_CHAT_CHARS`] characters.
    pub text: String,
    /// When the server took it, Unix ms. Left out in a live batch: the batch leaves the
    /// server within its interval (200 ms) of taking the message, so the receiver uses the
    /// time it arrived (the panels show minutes). In a class of 10,000 with 20 messages a
    /// second this was a fifth of each message's bytes. History pages, the class's state
    /// and the sender's own copy carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(type = "number", optional))]
    pub at_ms: Option<u64>,
}

impl ChatMessage {
    /// This message as a live batch carries it: without its time.
    pub fn live(&self) -> Self {
        Self {
            at_ms: None,
            ..self.clone()
        }
    }
}

/// The reactions a participant can send: a small fixed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Reaction {
    /// 👍
    ThumbsUp,
    /// 👏
    Clap,
    /// ❤️
    Heart,
    /// 😂
    Laugh,
    /// 😮
    Surprised,
    /// ❓ (confused, a question)
    Confused,
}

impl Reaction {
    /// Every reaction, in display order.
    pub const ALL: [Reaction; 6] = [
        Reaction::ThumbsUp,
        Reaction::Clap,
        Reaction::Heart,
        Reaction::Laugh,
        Reaction::Surprised,
        Reaction::Confused,
    ];
}

/// How many of one reaction arrived in a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ReactionCount {
    /// Which.
    pub reaction: Reaction,
    /// How many.
    pub count: u32,
}

/// A poll (or quiz, when it has correct answers) as students see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct PollInfo {
    /// Server-assigned.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub poll_id: u64,
    /// The question.
    pub question: String,
    /// The choices, 2..=[`MAX_POLL_OPTIONS`].
    pub options: Vec<String>,
    /// Several choices may be picked.
    pub multiple: bool,
    /// A quiz: there are correct answers (not shown until the results are).
    pub quiz: bool,
    /// Still taking answers.
    pub open: bool,
}

/// Poll results: to staff live, to students once staff show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct PollResults {
    /// Which poll.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub poll_id: u64,
    /// Votes per option, in option order.
    pub counts: Vec<u32>,
    /// Participants who answered.
    pub voters: u32,
    /// Participants who could answer (students present).
    pub expected: u32,
    /// For a quiz: the correct options (empty for a poll, and for a quiz whose answers are
    /// not shown yet).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub correct: Vec<u32>,
    /// Still taking answers.
    pub open: bool,
}

/// A name with the id it belongs to, for short lists (who has not answered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct NameRef {
    /// Participant id.
    pub participant_id: String,
    /// Display name.
    pub name: String,
}

/// One row of the attendance report: one person, however often they reconnected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct AttendanceRow {
    /// Identity (the token's subject).
    pub identity: String,
    /// Latest display name.
    pub name: String,
    /// Their role.
    pub role: Role,
    /// The roster entry's name they were matched to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roster_name: Option<String>,
    /// First join, Unix ms.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub first_join_ms: u64,
    /// Last leave, Unix ms; `None` while still in class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(as = "Option<f64>"))]
    pub last_leave_ms: Option<u64>,
    /// Minutes in class, summed over connections (overlaps counted once).
    pub minutes: f64,
    /// Times they reconnected.
    pub reconnects: u32,
    /// Roll calls answered.
    pub roll_calls_answered: u32,
    /// Roll calls held while they were in class.
    pub roll_calls: u32,
    /// Hands raised.
    pub hands_raised: u32,
    /// Chat messages sent.
    pub chat_messages: u32,
    /// Quiz questions answered correctly.
    pub quiz_correct: u32,
    /// Quiz questions asked while they were in class.
    pub quiz_questions: u32,
}

/// The attendance report of a class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct AttendanceReport {
    /// The class (room).
    pub room: String,
    /// When the report was made, Unix ms.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub made_ms: u64,
    /// One row per person who came.
    pub rows: Vec<AttendanceRow>,
    /// Roster entries nobody matched.
    pub absent: Vec<RosterEntry>,
}

/// What a participant asks of the class. The server checks every request against the
/// sender's role (one permission table) whatever the client's screens allow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(
    tag = "action",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[non_exhaustive]
pub enum ClassRequest {
    /// Raise one's own hand (joins the end of the queue).
    RaiseHand,
    /// Lower a hand: one's own (`participant_id` absent) or, for staff, anyone's.
    LowerHand {
        /// Whose; absent: one's own.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        participant_id: Option<String>,
    },
    /// Lower every hand (staff).
    LowerAllHands,
    /// Bring a student on stage or take them off (staff). Taking someone off ends their
    /// camera and microphone for everyone.
    SetStage {
        /// Who.
        participant_id: String,
        /// On or off.
        on_stage: bool,
    },
    /// Stop forwarding a participant's microphone (staff); absent: every student's.
    Mute {
        /// Whom; absent: all students.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        participant_id: Option<String>,
    },
    /// Allow a participant to speak again (staff); absent: every student. Nobody can turn
    /// another's microphone on: this only lets them unmute themselves.
    AllowSpeak {
        /// Whom; absent: all students.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        participant_id: Option<String>,
    },
    /// Send a chat message.
    Chat {
        /// The text, 1..=[`MAX_CHAT_CHARS`] characters.
        text: String,
        /// Who it is for.
        audience: ChatAudience,
        /// For [`ChatAudience::Direct`] (staff only): the participant.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
    },
    /// Delete a chat message for everyone (staff).
    DeleteChat {
        /// Which.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        message_id: u64,
    },
    /// Pause or resume students' chat (staff).
    PauseChat {
        /// Paused or not.
        paused: bool,
    },
    /// Mute or unmute one participant's chat (staff).
    MuteChat {
        /// Whom.
        participant_id: String,
        /// Muted or not.
        muted: bool,
    },
    /// Ask for older chat than what one has.
    ChatHistory {
        /// Messages before this id; absent: the newest.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", ts(as = "Option<f64>"))]
        before: Option<u64>,
    },
    /// Start a roll call that closes after `seconds` (staff).
    StartRollCall {
        /// 5..=[`MAX_TIMER_SECS`].
        seconds: u32,
    },
    /// Answer the open roll call ("here").
    AnswerRollCall {
        /// Which roll call.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        roll_call_id: u64,
    },
    /// Close the roll call early (staff).
    EndRollCall,
    /// Start a poll, or a quiz when `correct` names the right options (staff).
    StartPoll {
        /// The question.
        question: String,
        /// The choices.
        options: Vec<String>,
        /// Several choices may be picked.
        multiple: bool,
        /// The correct options (a quiz); empty for a poll.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        correct: Vec<u32>,
    },
    /// Answer the open poll; answering again replaces the answer.
    Vote {
        /// Which poll.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        poll_id: u64,
        /// The options picked (exactly one unless the poll is `multiple`).
        choices: Vec<u32>,
    },
    /// Stop taking answers (staff).
    EndPoll {
        /// Which poll.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        poll_id: u64,
    },
    /// Show the results (and a quiz's correct answers) to everyone (staff).
    ShowResults {
        /// Which poll.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        poll_id: u64,
    },
    /// Send a reaction.
    React {
        /// Which.
        reaction: Reaction,
    },
    /// A change to the class's whiteboard (staff; the server checks it against its copy and
    /// gives it its place in the one order everyone applies).
    Annotate {
        /// The change.
        op: annotate::Op,
    },
    /// Let a student draw on the whiteboard, or stop them (staff): on every page of the
    /// class's, or on `page` only. A stroke they are drawing where they are stopped is
    /// finished as it is.
    AllowDrawing {
        /// Whom.
        participant_id: String,
        /// Drawing or not.
        allowed: bool,
        /// One page only (none: every page).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", ts(optional))]
        page: Option<String>,
    },
    /// Tell the class that one records it on one's own computer, or stopped. A class cannot
    /// stop what a computer keeps of what it receives; it makes it known: staff see who
    /// ([`ParticipantInfo::recording`]), everyone how many ([`Counts::recording`]).
    SetRecording {
        /// Recording or not.
        on: bool,
    },
    /// The whiteboard's changes after `seq` (a late joiner asks from 0; a participant that
    /// missed some asks from the last it has). Answered with `annotation` events.
    AnnotationSince {
        /// The last place in the order this participant has.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        seq: u64,
    },
    /// Start the class timer everyone sees (staff).
    StartTimer {
        /// 1..=[`MAX_TIMER_SECS`].
        seconds: u32,
    },
    /// Stop the class timer (staff).
    StopTimer,
    /// Let someone in from the lobby (staff).
    Admit {
        /// Who.
        participant_id: String,
    },
    /// Send someone in the lobby away (staff).
    Deny {
        /// Who.
        participant_id: String,
    },
    /// Let everyone in the lobby in (staff).
    AdmitAll,
    /// Who comes in without asking (staff).
    SetLobbyPolicy {
        /// The policy.
        policy: LobbyPolicy,
    },
    /// Lock or unlock the class: a locked class takes nobody new (staff).
    Lock {
        /// Locked or not.
        locked: bool,
    },
    /// Remove a participant; their token is refused for this class afterwards (teacher).
    Remove {
        /// Who.
        participant_id: String,
    },
    /// Set the roster, the students expected (teacher). A roster larger than one message
    /// ([`crate::MAX_MESSAGE_BYTES`]: about 1,000 students) goes as several, the first
    /// replacing the roster and the others adding to it: [`roster_requests`].
    SetRoster {
        /// The students.
        entries: Vec<RosterEntry>,
        /// Add these to the roster set so far instead of replacing it (left out when not).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        #[cfg_attr(feature = "ts", ts(optional = nullable))]
        append: bool,
    },
    /// How many may be on stage at once (teacher), 1..=[`MAX_STAGE`].
    SetStageLimit {
        /// The limit.
        limit: u32,
    },
    /// A page of the participant list (staff and students on stage).
    ListParticipants {
        /// First index, in join order.
        offset: u32,
        /// How many, at most [`MAX_PAGE`].
        limit: u32,
    },
    /// The attendance report so far (staff).
    GetReport,
}

/// The `action` tag of every [`ClassRequest`]: a `{"type":"class"}` message naming another
/// action is an unknown message (a newer client), not a malformed one.
pub const CLASS_ACTIONS: &[&str] = &[
    "raiseHand",
    "lowerHand",
    "lowerAllHands",
    "setStage",
    "mute",
    "allowSpeak",
    "chat",
    "deleteChat",
    "pauseChat",
    "muteChat",
    "chatHistory",
    "startRollCall",
    "answerRollCall",
    "endRollCall",
    "startPoll",
    "vote",
    "endPoll",
    "showResults",
    "react",
    "startTimer",
    "stopTimer",
    "admit",
    "deny",
    "admitAll",
    "setLobbyPolicy",
    "lock",
    "remove",
    "setRoster",
    "setStageLimit",
    "listParticipants",
    "getReport",
    "annotate",
    "annotationSince",
    "allowDrawing",
    "setRecording",
];

/// The `event` tag of every [`ClassEvent`], for the same reason as [`CLASS_ACTIONS`].
pub const CLASS_EVENTS: &[&str] = &[
    "state",
    "you",
    "settings",
    "counts",
    "participants",
    "participantsChanged",
    "lobby",
    "waiting",
    "chat",
    "chatDeleted",
    "rollCall",
    "rollCallTally",
    "poll",
    "pollResults",
    "reactions",
    "timer",
    "report",
    "invites",
    "annotation",
];

/// What the server tells a participant about the class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(
    tag = "event",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[non_exhaustive]
pub enum ClassEvent {
    /// The whole picture, sent after `joined` (and after a reconnect): enough to draw every
    /// panel without waiting for changes.
    State {
        /// The server's clock now, Unix ms, to correct countdowns.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        server_time_ms: u64,
        /// One's own standing.
        you: YouInfo,
        /// Class settings.
        settings: ClassSettings,
        /// Head counts.
        counts: Counts,
        /// The newest chat one may see, oldest first.
        chat: Vec<ChatMessage>,
        /// The roll call under way, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        roll_call: Option<RollCallInfo>,
        /// The current poll, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        poll: Option<PollInfo>,
        /// The class timer, if running.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timer: Option<TimerInfo>,
    },
    /// One's own standing changed.
    You(YouInfo),
    /// Settings changed.
    Settings(ClassSettings),
    /// Head counts changed (sent at most once a second).
    Counts(Counts),
    /// A page of the participant list (staff and stage; students always get the staff and
    /// the stage in it).
    Participants {
        /// Participants visible to this receiver.
        total: u32,
        /// Index of the first item.
        offset: u32,
        /// The page.
        items: Vec<ParticipantInfo>,
    },
    /// Participants changed since the last batch (coalesced; sent at most every 200 ms).
    ParticipantsChanged {
        /// New or changed participants.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        upserts: Vec<ParticipantInfo>,
        /// Ids of those who left for good.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        removed: Vec<String>,
        /// Participants visible to this receiver now.
        total: u32,
    },
    /// The lobby (staff).
    Lobby {
        /// Who waits, longest first; at most [`MAX_PAGE`] ([`Counts::lobby`] has the total).
        waiting: Vec<LobbyEntry>,
    },
    /// You wait in the lobby until staff let you in (then `joined` follows).
    Waiting {
        /// Why, for people.
        reason: String,
    },
    /// Chat messages (batched; capped per receiver, staff messages first).
    Chat {
        /// Messages, oldest first.
        messages: Vec<ChatMessage>,
        /// Messages this receiver was not sent because of the per-receiver cap (everyone's
        /// first, then private ones); they are in the history. Clients keep messages by
        /// `id`, so one seen twice (a history page and a batch) is shown once.
        #[serde(default, skip_serializing_if = "is_zero")]
        skipped: u32,
        /// An answer to [`ClassRequest::ChatHistory`], not new messages.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        history: bool,
    },
    /// Messages deleted by staff.
    ChatDeleted {
        /// Their ids.
        #[cfg_attr(feature = "ts", ts(as = "Vec<f64>"))]
        message_ids: Vec<u64>,
    },
    /// A roll call started, changed or closed.
    RollCall(RollCallInfo),
    /// Roll-call progress (staff; at most once a second).
    RollCallTally {
        /// Which roll call.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        roll_call_id: u64,
        /// Students who answered.
        answered: u32,
        /// Students expected to answer.
        expected: u32,
        /// Some of those who have not answered yet (at most 100).
        missing: Vec<NameRef>,
        /// Still open.
        open: bool,
    },
    /// A poll started, or closed.
    Poll(PollInfo),
    /// Poll results (staff live, at most once a second; everyone once shown).
    PollResults(PollResults),
    /// Reactions in the last batch.
    Reactions {
        /// Counts per reaction.
        counts: Vec<ReactionCount>,
        /// Names of some who reacted (at most 5).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        names: Vec<String>,
    },
    /// The class timer started or stopped.
    Timer {
        /// The timer; absent when stopped.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timer: Option<TimerInfo>,
    },
    /// The attendance report (answer to [`ClassRequest::GetReport`]).
    Report(AttendanceReport),
    /// Invite links and the class code (staff; sent on join and when they change).
    Invites {
        /// An invite link's secret: exchanged at join for a personal token.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        invite_token: Option<String>,
        /// The short class code, when the class has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
    },
    /// Whiteboard changes in the class's one order (a batch of what was drawn since the last
    /// one, samples of a stroke being drawn merged; or the answer to
    /// [`ClassRequest::AnnotationSince`]). The laser pointer comes with place 0.
    Annotation {
        /// The changes, in order.
        ops: Vec<annotate::Stamped>,
    },
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One's own standing in the class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct YouInfo {
    /// One's participant id.
    pub participant_id: String,
    /// One's role.
    pub role: Role,
    /// Place in the hand queue (1 is next); `None`: hand down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hand_position: Option<u32>,
    /// On stage: may publish camera and microphone.
    pub on_stage: bool,
    /// Allowed to speak (microphone forwarded). Kept current for students on stage, the
    /// only ones who send a microphone; off stage, "mute all" and "allow all" change it
    /// through [`ClassSettings::students_muted`] without a `you` of their own.
    pub mic_allowed: bool,
    /// Chat muted by staff.
    pub chat_muted: bool,
    /// Staff let one draw on the whiteboard (left out when not).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub may_draw: bool,
    /// While `may_draw`: only on these pages (none: on every page of the class's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub draw_pages: Option<Vec<String>>,
}

/// Settings of the class everyone sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ClassSettings {
    /// Nobody new comes in.
    pub locked: bool,
    /// Who waits in the lobby.
    pub lobby_policy: LobbyPolicy,
    /// Students cannot chat.
    pub chat_paused: bool,
    /// How many may be on stage.
    pub stage_limit: u32,
    /// Staff muted every student ("mute all") and have not allowed all to speak since.
    /// Students allowed (or muted) one by one afterwards are told in their `you`; a student
    /// off stage sends no microphone, so for them this setting is what applies when they
    /// come on stage.
    #[serde(default)]
    pub students_muted: bool,
}

/// Head counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Participants in class (observers are not counted for students).
    pub participants: u32,
    /// Hands up.
    pub hands: u32,
    /// On stage.
    pub on_stage: u32,
    /// Waiting in the lobby (staff only; 0 for others).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lobby: u32,
    /// Recording the class on their computers (left out when none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub recording: u32,
}

/// A roll call as everyone sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct RollCallInfo {
    /// Server-assigned.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub roll_call_id: u64,
    /// When it closes, Unix ms.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub deadline_ms: u64,
    /// Still taking answers.
    pub open: bool,
    /// This receiver has answered.
    pub answered: bool,
}

/// The class timer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct TimerInfo {
    /// When it reaches zero, Unix ms.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub ends_ms: u64,
    /// Its length, seconds.
    pub seconds: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClientMessage, MAX_MESSAGE_BYTES};

    fn roster(
        n: usize,
        name: impl Fn(usize) -> String,
        id: impl Fn(usize) -> String,
    ) -> Vec<RosterEntry> {
        (0..n)
            .map(|i| RosterEntry {
                name: name(i),
                id: Some(id(i)),
            })
            .collect()
    }

    /// Each request as the message the app sends: within the limit, and it decodes.
    fn check(entries: Vec<RosterEntry>) -> usize {
        let requests = roster_requests(entries.clone());
        let mut back = Vec::new();
        for (i, request) in requests.iter().enumerate() {
            let text = ClientMessage::Class(request.clone()).encode();
            assert!(
                text.len() <= MAX_MESSAGE_BYTES,
                "request {i}: {} bytes",
                text.len()
            );
            match ClientMessage::decode(&text).expect("decodes") {
                ClientMessage::Class(ClassRequest::SetRoster { entries, append }) => {
                    assert_eq!(append, i > 0, "only the first replaces");
                    assert!(!entries.is_empty() || requests.len() == 1);
                    back.extend(entries);
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(back, entries, "the entries, all of them, in order");
        requests.len()
    }

    #[test]
    fn a_clients_frames_are_capped_at_64_kib_and_the_servers_at_16_mib() {
        use crate::{DecodeError, MAX_SERVER_MESSAGE_BYTES, ServerMessage};
        let set_roster = |n: usize| {
            ClientMessage::Class(ClassRequest::SetRoster {
                entries: roster(n, |i| format!("Student {i}"), |i| format!("s{i}")),
                append: false,
            })
            .encode()
        };
        assert!(ClientMessage::decode(&set_roster(100)).is_ok());
        let big = set_roster(5_000);
        assert!(big.len() > MAX_MESSAGE_BYTES);
        assert!(matches!(
            ClientMessage::decode(&big),
            Err(DecodeError::TooLarge(n)) if n == big.len()
        ));
        // A full roster's report, all absent: far over a client's limit, within the server's.
        let report = ServerMessage::Class(ClassEvent::Report(AttendanceReport {
            room: "r".into(),
            made_ms: 0,
            rows: Vec::new(),
            absent: roster(
                MAX_ROSTER,
                |i| format!("Student Number {i}"),
                |i| format!("S{i:07}"),
            ),
        }))
        .encode();
        assert!(report.len() > 10 * MAX_MESSAGE_BYTES);
        assert!(ServerMessage::decode(&report).is_ok());
        // JSON allows the spaces after it; only the length is over.
        let huge = report.clone() + &" ".repeat(MAX_SERVER_MESSAGE_BYTES + 1 - report.len());
        assert!(matches!(
            ServerMessage::decode(&huge),
            Err(DecodeError::TooLarge(_))
        ));
    }

    #[test]
    fn a_roster_goes_in_messages_within_the_limit_first_replacing_then_adding() {
        assert_eq!(check(Vec::new()), 1, "an empty roster clears it");
        assert_eq!(
            check(roster(3, |i| format!("Student {i}"), |i| format!("s{i}"))),
            1
        );
        // A school's export: ~45 bytes a student, ~1,400 to a message.
        let typical = check(roster(
            MAX_ROSTER,
            |i| format!("Student Number {i}"),
            |i| format!("S{i:07}"),
        ));
        assert!((10..=40).contains(&typical), "{typical} messages");
        // The largest entries a class takes: 64 characters of Chinese, 128-character ids
        // full of characters JSON escapes.
        let largest = check(roster(
            2_000,
            |i| format!("{i:04}{}", "学".repeat(MAX_NAME_CHARS - 4)),
            |i| format!("{i:04}{}", "\"\u{1}".repeat((MAX_ROSTER_ID_CHARS - 4) / 2)),
        ));
        assert!(largest > 10, "{largest} messages");
    }
}
