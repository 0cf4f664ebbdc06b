//! The class's rules: a pure state machine, like the SFU's core. No IO, no clock, no tokio,
//! no randomness of its own.
//!
//! The SFU's signaling driver authenticates a connection (checks the token's signature) and
//! then hands the class what it learnt: [`Classroom::join`] / [`Classroom::join_code`] /
//! [`Classroom::join_invite`], every [`ClassRequest`] through [`Classroom::handle`],
//! connection loss through [`Classroom::disconnect`], and the passing of time through
//! [`Classroom::tick`]. Every call takes `now` (Unix milliseconds). What the class wants done
//! comes out of [`Classroom::poll_output`]: messages per recipient, the media each connection
//! may send, connections to close. Media stays the SFU's; who may publish what, and whose
//! microphone is forwarded, is decided here ([`MediaGrant`]).
//!
//! One permission table ([`permissions::allowed`]) says which role may make which request;
//! every request is checked against it whatever the client shows. A refused request is
//! answered with an error carrying an [`ErrorCode`], counted in [`Stats`], and changes
//! nothing; the sender stays connected.
//!
//! Built for classes of 10,000 students: nothing costs O(participants) per request except
//! what must reach everyone, and what must reach everyone is batched
//! ([`Config::batch_ms`]) and sent as one [`Output::Broadcast`] the driver encodes once.
//! Staff actions that everyone must see make the next batch due at once (so
//! [`Classroom::poll_timeout`] returns `now`): a teacher's click reaches 10,000 students in
//! one tick, not after a batch period.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

pub use classroom_protocol::{
    AttendanceReport, ByeCause, ClassEvent, ClassRequest, EntryVia, ErrorCode, LobbyPolicy,
    NetworkQuality, Role, RosterEntry, ServerMessage, Source,
};

mod batch;
mod board;
mod bucket;
mod chat;
mod class;
pub mod code;
mod entry;
mod lobby;
mod member;
mod order;
pub mod permissions;
mod polls;
mod random;
mod report;
mod requests;
mod rollcall;
mod roster;
mod sheet;
mod stage;
#[cfg(test)]
mod tests;
#[cfg(feature = "workbook")]
mod workbook;

pub use random::{RandomSource, SeededRandom};
pub use report::{
    REPORT_COLUMNS, ReportStyle, csv_file_bytes, report_csv, report_csv_file, report_csv_styled,
};
pub use roster::{
    RosterError, RosterFile, RosterRefusal, entry_is_valid, roster_from_bytes, roster_from_csv,
    roster_from_file,
};
/// Workbooks made for tests and fuzz seeds (`.xlsx` of a sheet of text and numbers).
#[cfg(feature = "workbook")]
#[doc(hidden)]
pub use workbook::make as made_workbooks;

use bucket::Bucket;
use class::Class;
use entry::{ConnState, QueuedJoin};

/// A signaling connection, as the driver numbers them. The driver never reuses one.
pub type ConnId = u64;

/// Unix time in milliseconds: the only clock the class knows, always passed in.
pub type Millis = u64;

/// Why a join or request was refused: the code sent back, and words for people.
pub type Refusal = (ErrorCode, String);

/// Tunables; [`Config::default`] holds the values the issue asks for.
#[derive(Debug, Clone)]
pub struct Config {
    /// How long a dropped participant keeps role, hand, stage place and chat (30 s).
    pub grace_ms: u64,
    /// Stage size of a new class (6; at most `MAX_STAGE`).
    pub stage_limit: u32,
    /// Lobby policy of a new class.
    pub lobby_policy: LobbyPolicy,
    /// Participant-list changes, chat and reactions are batched this long (200 ms).
    pub batch_ms: u64,
    /// Most chat messages a receiver gets per second (20); staff messages go first.
    pub chat_per_receiver_per_sec: u32,
    /// Tallies (roll call, polls) and head counts reach staff at most this often (1 s).
    pub tally_ms: u64,
    /// Chat messages kept for late joiners and reconnects (per class).
    pub chat_history: usize,
    /// Chat messages sent on join / per history page.
    pub chat_page: usize,
    /// A student's chat burst (staff are not limited).
    pub chat_burst: u32,
    /// A student's sustained chat messages per second.
    pub chat_per_sec: f64,
    /// Reactions a participant may send at once.
    pub react_burst: u32,
    /// Reactions per second a participant may send, sustained.
    pub react_per_sec: f64,
    /// Whiteboard changes an author may send at once (a client batches a stroke's samples
    /// about 30 times a second).
    pub draw_burst: u32,
    /// Whiteboard changes per second an author may send, sustained.
    pub draw_per_sec: f64,
    /// Whiteboard changes go out this often at most while someone draws (40 ms: 25 a second,
    /// smooth enough to watch a stroke grow), sooner than the other batched changes.
    pub annotation_ms: u64,
    /// Joins admitted per second across the server (token bucket); joins beyond it wait
    /// (in order) rather than fail.
    pub joins_per_sec: f64,
    /// Joins admitted at once before [`Config::joins_per_sec`] applies.
    pub join_burst: u32,
    /// Class-code attempts per source address (an IPv6 /64 counts as one): burst.
    pub code_burst: u32,
    /// Class-code attempts per source address: sustained per second.
    pub code_per_sec: f64,
    /// Class-code attempts against one class (every attempt whose first 8 characters name
    /// it, right or wrong): burst. With the sustained rate this keeps the 2^20 secret
    /// codes out of reach for the length of a lesson.
    pub code_class_burst: u32,
    /// Class-code attempts against one class: sustained per second.
    pub code_class_per_sec: f64,
    /// Source addresses whose code budget is remembered; when full, new sources are
    /// refused (rate-limited) until old ones refill and are forgotten.
    pub code_sources_max: usize,
    /// Participant list page sent on join (staff and stage).
    pub first_page: u32,
    /// How long the personal token minted for a class-invite or class-code join lasts.
    pub guest_token_ms: u64,
    /// Most people in one class, waiting in the lobby included ([`ErrorCode::Full`]).
    pub max_class_size: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            grace_ms: 30_000,
            stage_limit: 6,
            lobby_policy: LobbyPolicy::AdmitAll,
            batch_ms: 200,
            chat_per_receiver_per_sec: 20,
            tally_ms: 1_000,
            chat_history: 500,
            chat_page: 50,
            chat_burst: 5,
            chat_per_sec: 0.5,
            react_burst: 3,
            react_per_sec: 1.0,
            draw_burst: 120,
            draw_per_sec: 60.0,
            annotation_ms: 40,
            joins_per_sec: 500.0,
            join_burst: 1_000,
            code_burst: 5,
            code_per_sec: 0.1,
            code_class_burst: 20,
            code_class_per_sec: 1.0,
            code_sources_max: 100_000,
            first_page: 200,
            guest_token_ms: 6 * 3600 * 1000,
            max_class_size: 20_000,
        }
    }
}

/// A join the driver has authenticated (token signature checked, claims read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The class (room) the token opens.
    pub room: String,
    /// The token's subject for a personal token; ignored for an invite, for which the class
    /// makes a fresh identity (and the driver mints a personal token, see
    /// [`Output::Admitted::issue_token`]).
    pub identity: Option<String>,
    /// The name they gave (trimmed and capped here).
    pub display_name: String,
    /// The role the token grants.
    pub role: Role,
    /// Token or invite (codes come through [`Classroom::join_code`]).
    pub via: EntryVia,
    /// When the token expires, Unix ms: checked during the class, not only now. For an
    /// invite, also the expiry of the personal token minted for it.
    pub expires_ms: u64,
    /// Whether they want the room's media.
    pub subscribe: bool,
    /// What the token lets them publish at most (the stage decides the rest for students).
    pub publish: Vec<Source>,
    /// A companion session of this staff member (by identity): their own app's second
    /// connection, such as the one a teacher's recording receives through. It is part of
    /// them: let in only as an observer while they are in the class (the lock and the size
    /// limit do not apply), on no list, in no count and not in the report, and closed when
    /// they leave. Only the server's own tokens carry it.
    pub companion_of: Option<String>,
}

/// What a connection may do with media, decided by the class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaGrant {
    /// Sources it may publish now (students: camera and microphone only while on stage).
    pub publish: Vec<Source>,
    /// Whether its microphone is forwarded (false while muted by staff).
    pub forward_audio: bool,
    /// Whether it receives the room's tracks.
    pub subscribe: bool,
}

/// What the class asks the driver to do, in order.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Output {
    /// One message to one connection.
    Send {
        /// The connection.
        to: ConnId,
        /// The message.
        msg: ServerMessage,
    },
    /// One message to many connections: encode it once.
    Broadcast {
        /// The connections.
        to: Vec<ConnId>,
        /// The message.
        msg: Arc<ServerMessage>,
    },
    /// The connection is in the class: the driver sets up its media participant with
    /// `media` and sends `joined` (with a personal token when `issue_token`), before any
    /// message queued after this output.
    Admitted {
        /// The connection.
        conn: ConnId,
        /// The class.
        room: String,
        /// Its participant id, stable across reconnects.
        participant_id: String,
        /// Who it is (the token's subject, or the identity made for an invite or code).
        identity: String,
        /// Its role.
        role: Role,
        /// Its display name, as the class shows it.
        name: String,
        /// What it may do with media now.
        media: MediaGrant,
        /// The join used an invite or a code: mint a personal token for `identity` (valid
        /// until `expires_ms`) and send it in `joined`.
        issue_token: bool,
        /// When its token expires (or the minted one should), Unix ms.
        expires_ms: u64,
        /// The same identity came back within the grace period.
        resumed: bool,
    },
    /// What a connection may do with media changed: end tracks it may no longer publish,
    /// stop or resume forwarding its microphone.
    Media {
        /// The connection.
        conn: ConnId,
        /// What it may do now.
        grant: MediaGrant,
    },
    /// Send `bye` (and the error, if any) and close the connection. The class keeps
    /// answering requests from it with that code until [`Classroom::disconnect`].
    Close {
        /// The connection.
        conn: ConnId,
        /// Why, for machines: the error sent before the `bye`, if any.
        code: Option<ErrorCode>,
        /// Why, for the client to put in words ([`ByeCause::Refused`] when `code` is set).
        cause: ByeCause,
        /// Why, for people.
        reason: String,
    },
    /// A class ended (its last participant left and the grace period passed): its final
    /// attendance report, to keep.
    Ended {
        /// The report.
        report: AttendanceReport,
    },
}

/// Counters for `/metrics` and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests and joins refused, per code.
    pub refused: Vec<(ErrorCode, u64)>,
    /// Requests that took effect.
    pub accepted: u64,
    /// Classes open now.
    pub classes: usize,
    /// Participants connected now (all classes).
    pub connected: usize,
    /// Waiting in lobbies or the join queue now.
    pub waiting: usize,
}

impl Stats {
    /// Refusals with `code` so far.
    pub fn refused(&self, code: ErrorCode) -> u64 {
        self.refused
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(0, |(_, n)| *n)
    }
}

/// Settings a host gives a class it creates ahead of the first join (the teacher's app).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassSetup {
    /// Who comes in without asking.
    pub lobby_policy: LobbyPolicy,
    /// How many may be on stage (clamped to 1..=`MAX_STAGE`).
    pub stage_limit: u32,
    /// The short class code (formatted or not; see [`code`]); `None`: joins by code are off.
    pub code: Option<String>,
    /// The invite link's secret, shown to staff in [`ClassEvent::Invites`] and checked by
    /// [`Classroom::join_invite`]; `None`: the class makes one (128 random bits).
    pub invite_token: Option<String>,
    /// The students expected.
    pub roster: Vec<RosterEntry>,
}

impl Default for ClassSetup {
    fn default() -> Self {
        ClassSetup {
            lobby_policy: LobbyPolicy::AdmitAll,
            stage_limit: 6,
            code: None,
            invite_token: None,
            roster: Vec::new(),
        }
    }
}

/// All classes on one server.
pub struct Classroom {
    config: Config,
    random: Box<dyn RandomSource>,
    /// Classes by number; a number is reused only after its class ended.
    classes: Vec<Option<Class>>,
    rooms: HashMap<String, u32>,
    /// Normalized class code -> class; and the first 8 characters -> classes, which is
    /// what a guess at a code's secret part must get right, so what its budget is.
    codes: HashMap<String, u32>,
    code_prefixes: HashMap<String, Vec<u32>>,
    conns: HashMap<ConnId, ConnState>,
    queue: VecDeque<QueuedJoin>,
    queued: usize,
    next_ticket: u64,
    join_bucket: Bucket,
    sources: HashMap<entry::SourceKey, Bucket>,
    sources_pruned: Millis,
    out: VecDeque<Output>,
    refused: Vec<(ErrorCode, u64)>,
    accepted: u64,
}

impl Classroom {
    /// An empty server. `random` makes the identities, invite secrets and codes the class
    /// creates itself: the OS's randomness in the driver, [`SeededRandom`] in tests.
    pub fn new(config: Config, random: Box<dyn RandomSource>) -> Self {
        let join_bucket = Bucket::full(0, config.join_burst);
        Classroom {
            config,
            random,
            classes: Vec::new(),
            rooms: HashMap::new(),
            codes: HashMap::new(),
            code_prefixes: HashMap::new(),
            conns: HashMap::new(),
            queue: VecDeque::new(),
            queued: 0,
            next_ticket: 0,
            join_bucket,
            sources: HashMap::new(),
            sources_pruned: 0,
            out: VecDeque::new(),
            refused: Vec::new(),
            accepted: 0,
        }
    }

    /// The tunables.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The next thing to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// The class a connection is in and its participant id, once admitted.
    pub fn member(&self, conn: ConnId) -> Option<(&str, &str)> {
        let (class, slot) = self.member_of(conn)?;
        let class = self.classes.get(class as usize)?.as_ref()?;
        Some((class.room.as_str(), class.member(slot)?.pid.as_ref()))
    }

    /// Whether `conn` may publish `source` now.
    pub fn may_publish(&self, conn: ConnId, source: Source) -> bool {
        self.grant(conn)
            .is_some_and(|grant| grant.publish.contains(&source))
    }

    /// What `conn` may do with media now (`None` unless it is in a class).
    pub fn grant(&self, conn: ConnId) -> Option<MediaGrant> {
        let (class, slot) = self.member_of(conn)?;
        let class = self.classes.get(class as usize)?.as_ref()?;
        Some(class.grant(class.member(slot)?))
    }

    /// The attendance report of a class so far.
    pub fn report(&self, now: Millis, room: &str) -> Option<AttendanceReport> {
        let class = self.class_by_room(room)?;
        Some(class.report(now))
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        let live = self.classes.iter().flatten();
        let (connected, lobby) = live.fold((0, 0), |(c, l), class| {
            (c + class.connected_count(), l + class.lobby_len())
        });
        Stats {
            refused: self.refused.clone(),
            accepted: self.accepted,
            classes: self.classes.iter().flatten().count(),
            connected,
            waiting: lobby + self.queued,
        }
    }

    /// When [`Classroom::tick`] must be called next, if anything waits on time.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let queue = if self.queued > 0 {
            Some(
                self.join_bucket
                    .next_token_at(self.config.joins_per_sec)
                    .unwrap_or(0),
            )
        } else {
            None
        };
        let classes = self
            .classes
            .iter()
            .flatten()
            .filter_map(|c| c.next_due(&self.config));
        queue.into_iter().chain(classes).min()
    }

    /// Time passed: deadlines (roll call, timer), batches, tallies, grace periods, token
    /// expiry, the join queue.
    pub fn tick(&mut self, now: Millis) {
        self.run_queue(now);
        for id in 0..self.classes.len() as u32 {
            let Some(class) = self.classes[id as usize].as_mut() else {
                continue;
            };
            let mut ctx = class::Ctx {
                cfg: &self.config,
                out: &mut self.out,
                conns: &mut self.conns,
                random: &mut *self.random,
                class_id: id,
                now,
            };
            class.tick(&mut ctx);
            if class.is_over() {
                self.end_class(now, id);
            }
        }
        self.prune_sources(now);
    }

    /// The participant on `conn` left on purpose (the client said `leave`): out of the class
    /// at once, where a lost connection keeps its place for the grace period (and shows as
    /// reconnecting meanwhile). Anything else about the connection is as [`Self::disconnect`].
    pub fn leave(&mut self, now: Millis, conn: ConnId) {
        self.end_connection(now, conn, true);
    }

    /// The connection is gone. A participant keeps their place for the grace period.
    pub fn disconnect(&mut self, now: Millis, conn: ConnId) {
        self.end_connection(now, conn, false);
    }

    fn end_connection(&mut self, now: Millis, conn: ConnId, on_purpose: bool) {
        match self.conns.remove(&conn) {
            Some(ConnState::Queued { .. }) => self.queued = self.queued.saturating_sub(1),
            Some(ConnState::Lobby { class, slot }) | Some(ConnState::Member { class, slot }) => {
                if let Some(c) = self
                    .classes
                    .get_mut(class as usize)
                    .and_then(Option::as_mut)
                {
                    let mut ctx = class::Ctx {
                        cfg: &self.config,
                        out: &mut self.out,
                        conns: &mut self.conns,
                        random: &mut *self.random,
                        class_id: class,
                        now,
                    };
                    if on_purpose {
                        c.left(&mut ctx, slot, conn);
                    } else {
                        c.disconnected(&mut ctx, slot, conn);
                    }
                }
            }
            Some(ConnState::Closing { .. }) | None => {}
        }
    }

    /// The SFU's view of a connection's media.
    pub fn set_network(&mut self, conn: ConnId, quality: NetworkQuality) {
        if let Some((class, slot)) = self.member_of(conn)
            && let Some(c) = self
                .classes
                .get_mut(class as usize)
                .and_then(Option::as_mut)
        {
            c.set_network(slot, quality);
        }
    }

    /// A request from a connection. Refusals are answered and counted here.
    pub fn handle(&mut self, now: Millis, conn: ConnId, req: ClassRequest) {
        let (class_id, slot) = match self.conns.get(&conn) {
            Some(ConnState::Member { class, slot }) => (*class, *slot),
            Some(ConnState::Lobby { .. }) => {
                return self.refuse(conn, ErrorCode::BadState, "you are waiting in the lobby");
            }
            Some(ConnState::Queued { .. }) => {
                return self.refuse(conn, ErrorCode::BadState, "you are not in the class yet");
            }
            Some(ConnState::Closing { code }) => {
                let code = code.unwrap_or(ErrorCode::BadState);
                return self.refuse(conn, code, "this connection is closing");
            }
            None => {
                return self.refuse(conn, ErrorCode::BadState, "join a class first");
            }
        };
        let Some(class) = self
            .classes
            .get_mut(class_id as usize)
            .and_then(Option::as_mut)
        else {
            return self.refuse(conn, ErrorCode::BadState, "the class is over");
        };
        let mut ctx = class::Ctx {
            cfg: &self.config,
            out: &mut self.out,
            conns: &mut self.conns,
            random: &mut *self.random,
            class_id,
            now,
        };
        match class.request(&mut ctx, slot, conn, req) {
            Ok(()) => self.accepted += 1,
            Err((code, message)) => {
                // The answer goes out before anything the refusal set off (an expired
                // token's close), so the client learns why.
                self.refuse(conn, code, message);
                if code == ErrorCode::Expired
                    && let Some(class) = self.classes[class_id as usize].as_mut()
                {
                    let mut ctx = class::Ctx {
                        cfg: &self.config,
                        out: &mut self.out,
                        conns: &mut self.conns,
                        random: &mut *self.random,
                        class_id,
                        now,
                    };
                    class.expire(&mut ctx, slot);
                }
            }
        }
    }

    fn refuse(&mut self, conn: ConnId, code: ErrorCode, message: impl Into<String>) {
        self.count_refusal(code);
        self.out.push_back(Output::Send {
            to: conn,
            msg: ServerMessage::error(code, message),
        });
    }

    fn count_refusal(&mut self, code: ErrorCode) {
        match self.refused.iter_mut().find(|(c, _)| *c == code) {
            Some((_, n)) => *n += 1,
            None => self.refused.push((code, 1)),
        }
    }

    fn member_of(&self, conn: ConnId) -> Option<(u32, u32)> {
        match self.conns.get(&conn)? {
            ConnState::Member { class, slot } => Some((*class, *slot)),
            _ => None,
        }
    }

    fn class_by_room(&self, room: &str) -> Option<&Class> {
        let id = *self.rooms.get(room)?;
        self.classes.get(id as usize)?.as_ref()
    }
}

#[cfg(test)]
impl Classroom {
    /// A class, for tests that look inside.
    pub(crate) fn class(&self, room: &str) -> Option<&Class> {
        self.class_by_room(room)
    }
}
