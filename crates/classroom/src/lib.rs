//! The class's rules: a pure state machine, like the SFU's core. No IO, no clock, no tokio.
//!
//! The SFU's signaling driver authenticates a connection (checks the token's signature) and
//! then hands the class what it learnt: [`Classroom::join`] / [`Classroom::join_code`], every
//! [`ClassRequest`] through [`Classroom::handle`], connection loss through
//! [`Classroom::disconnect`], and the passing of time through [`Classroom::tick`]. Every call
//! takes `now` (Unix milliseconds). What the class wants done comes out of
//! [`Classroom::poll_output`]: messages per recipient, the media each connection may send,
//! connections to close. Media stays the SFU's; who may publish what, and whose microphone is
//! forwarded, is decided here ([`MediaGrant`]).
//!
//! One permission table ([`permissions::allowed`]) says which role may make which request;
//! every request is checked against it whatever the client shows. A refused request is
//! answered with an error carrying an [`ErrorCode`], counted in [`Stats`], and changes
//! nothing; the sender stays connected.
//!
//! Built for classes of 10,000 students: nothing costs O(participants) per request except
//! what must reach everyone, and what must reach everyone is batched
//! ([`Config::batch_ms`]) and sent as one [`Output::Broadcast`] the driver encodes once.

#![allow(missing_docs)] // skeleton: every item is documented once implemented

use std::net::IpAddr;
use std::sync::Arc;

pub use classroom_protocol::{
    AttendanceReport, ClassEvent, ClassRequest, EntryVia, ErrorCode, LobbyPolicy, NetworkQuality,
    Role, RosterEntry, ServerMessage, Source,
};

pub mod permissions;

/// A signaling connection, as the driver numbers them.
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
    /// A student's chat: burst and sustained messages per second.
    pub chat_burst: u32,
    pub chat_per_sec: f64,
    /// Reactions: burst and sustained per sender.
    pub react_burst: u32,
    pub react_per_sec: f64,
    /// Joins admitted per second across the server (token bucket), and its burst; joins
    /// beyond it wait (in order) rather than fail.
    pub joins_per_sec: f64,
    pub join_burst: u32,
    /// Class-code attempts per source address: burst and sustained per second.
    pub code_burst: u32,
    pub code_per_sec: f64,
    /// Participant list page sent on join (staff and stage).
    pub first_page: u32,
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
            joins_per_sec: 500.0,
            join_burst: 1_000,
            code_burst: 5,
            code_per_sec: 0.1,
            first_page: 200,
        }
    }
}

/// A join the driver has authenticated (token signature checked, claims read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The class (room) the token opens.
    pub room: String,
    /// The token's subject for a personal token; `None` for an invite, for which the class
    /// makes a fresh identity (and the driver mints a personal token, see
    /// [`Output::Admitted::issue_token`]).
    pub identity: Option<String>,
    /// The name they gave (trimmed and capped here).
    pub display_name: String,
    /// The role the token grants.
    pub role: Role,
    /// Token or invite (codes come through [`Classroom::join_code`]).
    pub via: EntryVia,
    /// When the token expires, Unix ms: checked during the class, not only now.
    pub expires_ms: u64,
    /// Whether they want the room's media.
    pub subscribe: bool,
    /// What the token lets them publish at most (the stage decides the rest for students).
    pub publish: Vec<Source>,
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
    Send { to: ConnId, msg: ServerMessage },
    /// One message to many connections: encode it once.
    Broadcast {
        to: Vec<ConnId>,
        msg: Arc<ServerMessage>,
    },
    /// The connection is in the class: the driver sets up its media participant with
    /// `media` and sends `joined` (with a personal token when `issue_token`), before any
    /// message queued after this output.
    Admitted {
        conn: ConnId,
        room: String,
        participant_id: String,
        identity: String,
        role: Role,
        name: String,
        media: MediaGrant,
        /// The join used an invite or a code: mint a personal token for `identity` (valid
        /// until `expires_ms`) and send it in `joined`.
        issue_token: bool,
        expires_ms: u64,
        /// The same identity came back within the grace period.
        resumed: bool,
    },
    /// What a connection may do with media changed: end tracks it may no longer publish,
    /// stop or resume forwarding its microphone.
    Media { conn: ConnId, grant: MediaGrant },
    /// Send `bye` (and the error, if any) and close the connection.
    Close {
        conn: ConnId,
        code: Option<ErrorCode>,
        reason: String,
    },
    /// A class ended (its last participant left and the grace period passed): its final
    /// attendance report, to keep.
    Ended { report: AttendanceReport },
}

/// Counters for `/metrics` and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests refused, per code.
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

/// Settings a host gives a class it creates ahead of the first join (the teacher's app).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassSetup {
    pub lobby_policy: LobbyPolicy,
    pub stage_limit: u32,
    /// The short class code (already formatted); `None`: joins by code are off.
    pub code: Option<String>,
    /// The invite link's secret to show staff in [`ClassEvent::Invites`].
    pub invite_token: Option<String>,
    pub roster: Vec<RosterEntry>,
}

/// Randomness for the identities and secrets the class makes (injected: the class has no
/// source of its own).
pub trait RandomSource: Send {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// The report as CSV.
pub fn report_csv(_report: &AttendanceReport) -> String {
    todo!()
}

/// All classes on one server.
pub struct Classroom {
    #[allow(dead_code)]
    config: Config,
}

impl Classroom {
    /// An empty server.
    pub fn new(config: Config, _random: Box<dyn RandomSource>) -> Self {
        Classroom { config }
    }

    /// A join with the class's invite secret.
    pub fn join_invite(
        &mut self,
        _now: Millis,
        _conn: ConnId,
        _room: &str,
        _secret: &str,
        _display_name: &str,
        _subscribe: bool,
    ) -> Result<(), Refusal> {
        todo!()
    }

    /// Creates (or reconfigures) a class before anyone joins: a host that hands out a code.
    /// Classes are otherwise created by their first join with the defaults of [`Config`].
    pub fn setup_class(&mut self, _now: Millis, _room: &str, _setup: ClassSetup) {
        todo!()
    }

    /// An authenticated join. Admits (see [`Output::Admitted`]), puts in the lobby
    /// ([`ClassEvent::Waiting`]), queues behind the join rate, resumes an identity within its
    /// grace period (closing an older connection of the same identity), or refuses:
    /// [`ErrorCode::Locked`], [`ErrorCode::Removed`], [`ErrorCode::Expired`],
    /// [`ErrorCode::BadState`] (already joined on this connection).
    pub fn join(&mut self, _now: Millis, _conn: ConnId, _entry: Entry) -> Result<(), Refusal> {
        todo!()
    }

    /// A join by short class code from `source`: rate-limited per source address
    /// ([`ErrorCode::RateLimited`]), always through the lobby; a wrong code is
    /// [`ErrorCode::NotFound`] and counts against the source's budget.
    pub fn join_code(
        &mut self,
        _now: Millis,
        _conn: ConnId,
        _source: IpAddr,
        _code: &str,
        _display_name: &str,
        _subscribe: bool,
    ) -> Result<(), Refusal> {
        todo!()
    }

    /// The connection is gone. A participant keeps their place for the grace period.
    pub fn disconnect(&mut self, _now: Millis, _conn: ConnId) {
        todo!()
    }

    /// A request from a connection. Refusals are answered and counted here.
    pub fn handle(&mut self, _now: Millis, _conn: ConnId, _req: ClassRequest) {
        todo!()
    }

    /// The SFU's view of a connection's media.
    pub fn set_network(&mut self, _conn: ConnId, _quality: NetworkQuality) {
        todo!()
    }

    /// Time passed: deadlines (roll call), batches, grace periods, token expiry, the join
    /// queue.
    pub fn tick(&mut self, _now: Millis) {
        todo!()
    }

    /// When [`Classroom::tick`] must be called next, if anything waits on time.
    pub fn poll_timeout(&self) -> Option<Millis> {
        todo!()
    }

    /// The next thing to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        todo!()
    }

    /// Whether `conn` may publish `source` now.
    pub fn may_publish(&self, _conn: ConnId, _source: Source) -> bool {
        todo!()
    }

    /// The class a connection is in and its participant id, once admitted.
    pub fn member(&self, _conn: ConnId) -> Option<(&str, &str)> {
        todo!()
    }

    /// The attendance report of a class so far.
    pub fn report(&self, _now: Millis, _room: &str) -> Option<AttendanceReport> {
        todo!()
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        todo!()
    }
}
