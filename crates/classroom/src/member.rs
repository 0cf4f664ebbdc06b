//! One person in a class, kept per identity (the token's subject) across reconnects.
//!
//! Kept small on purpose: a class of 10,000 holds 10,000 of these, and the whole server
//! should stay under 20 KB per connected student. Names and identities are boxed strings,
//! flags are bools, time is `u64`, and the attendance counters live inline.

use classroom_protocol::{EntryVia, NetworkQuality, ParticipantInfo, Role, Source};

use crate::bucket::Bucket;
use crate::permissions::is_staff;
use crate::{ConnId, Millis};

/// Source bits of [`Member::publish`].
pub(crate) const CAMERA: u8 = 1;
/// See [`CAMERA`].
pub(crate) const MICROPHONE: u8 = 2;
/// See [`CAMERA`].
pub(crate) const SCREEN: u8 = 4;

fn source_bit(source: Source) -> u8 {
    match source {
        Source::Camera => CAMERA,
        Source::Microphone => MICROPHONE,
        Source::Screen => SCREEN,
        _ => 0,
    }
}

/// The bits of a list of sources.
pub(crate) fn source_bits(sources: &[Source]) -> u8 {
    sources.iter().fold(0, |bits, s| bits | source_bit(*s))
}

/// The sources of some bits, in a fixed order.
pub(crate) fn sources(bits: u8) -> Vec<Source> {
    [Source::Camera, Source::Microphone, Source::Screen]
        .into_iter()
        .filter(|s| bits & source_bit(*s) != 0)
        .collect()
}

/// Where a member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Not in the class (left for good, denied, or never admitted).
    Absent,
    /// Waiting in the lobby.
    Lobby,
    /// In the class: connected, or reconnecting within the grace period.
    Present,
}

/// The participant lists a member appears in ([`Member::views`]).
pub(crate) const VIEW_STAFF: u8 = 1;
/// Students on stage: everyone but observers.
pub(crate) const VIEW_STAGE: u8 = 2;
/// Everyone else: staff and the stage only.
pub(crate) const VIEW_STUDENT: u8 = 4;

/// Which list a receiver gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Viewer {
    /// Staff: everyone, observers too.
    Staff,
    /// A student on stage: everyone but observers.
    Stage,
    /// Other students and observers: staff and the stage.
    Student,
}

/// One person's figures for the attendance report.
#[derive(Debug, Clone, Default)]
pub(crate) struct Attendance {
    pub first_join: Option<Millis>,
    /// When they last left for good (or dropped, while reconnecting).
    pub last_leave: Option<Millis>,
    /// Connected time before the current connection.
    pub connected_ms: u64,
    /// The current connection's start, while connected.
    pub connected_since: Option<Millis>,
    pub reconnects: u32,
    pub roll_calls_answered: u32,
    pub roll_calls: u32,
    pub hands_raised: u32,
    pub chat_messages: u32,
    pub quiz_correct: u32,
    pub quiz_questions: u32,
}

/// One person in a class.
#[derive(Debug)]
pub(crate) struct Member {
    /// `p{n}`, for the whole class.
    pub pid: Box<str>,
    pub identity: Box<str>,
    pub name: Box<str>,
    pub role: Role,
    pub status: Status,
    /// The connection, while connected (or waiting in the lobby).
    pub conn: Option<ConnId>,
    /// The class made this identity (invite or code): forgotten if never admitted.
    pub fresh: bool,
    pub via: EntryVia,
    /// Mint a personal token when admitted.
    pub issue_token: bool,
    /// Lobby: waiting since. Present and disconnected: end of the grace period.
    pub since: Millis,
    /// When the current disconnection began (for the report's last leave).
    pub dropped_at: Millis,
    /// Key in the class's lobby order.
    pub lobby_seq: u64,
    /// Key in the hand queue; 0: hand down.
    pub hand: u64,
    /// Place last told to them (0: none), so only changes are sent.
    pub sent_hand_pos: u32,
    pub on_stage: bool,
    pub chat_muted: bool,
    /// Individual microphone decision and the "mute all" epoch it was made in; older
    /// decisions give way to the class-wide one.
    pub mic: Option<(u32, bool)>,
    pub network: NetworkQuality,
    /// What the token lets them publish.
    pub publish: u8,
    pub subscribe: bool,
    pub expires_ms: u64,
    /// Index of the roster entry they were matched to.
    pub roster: Option<u32>,
    /// Lists they were in at the last batch, and in at any moment since.
    pub vis_sent: u8,
    pub vis_since: u8,
    /// Queued for the next participant-list batch / for a `you` update.
    pub dirty: bool,
    pub you_dirty: bool,
    /// Index in the class's present list.
    pub present_pos: u32,
    /// Last roll call they were expected at / answered (ids start at 1).
    pub roll_expected: u64,
    pub roll_answered: u64,
    /// Last poll they were expected at, and their vote in it (option bits; 0: none).
    pub poll_expected: u64,
    pub vote: u16,
    pub chat_bucket: Bucket,
    pub react_bucket: Bucket,
    pub draw_bucket: Bucket,
    /// Staff let this student draw on the whiteboard (on which pages: `Class::draw_pages`).
    pub may_draw: bool,
    /// They said they record the class on their computer.
    pub recording: bool,
    /// A companion session of a staff member (whose identity the class keeps in
    /// `companion_of`): on no list, in no count, not in the report
    /// ([`crate::Entry::companion_of`]). Fixed when the member is first made.
    pub companion: bool,
    pub att: Attendance,
}

impl Member {
    pub(crate) fn new(slot: u32, identity: String, name: String, role: Role, now: Millis) -> Self {
        Member {
            pid: format!("p{}", u64::from(slot) + 1).into_boxed_str(),
            identity: identity.into_boxed_str(),
            name: name.into_boxed_str(),
            role,
            status: Status::Absent,
            conn: None,
            fresh: false,
            via: EntryVia::Token,
            issue_token: false,
            since: now,
            dropped_at: now,
            lobby_seq: 0,
            hand: 0,
            sent_hand_pos: 0,
            on_stage: false,
            chat_muted: false,
            mic: None,
            network: NetworkQuality::Unknown,
            publish: 0,
            subscribe: true,
            expires_ms: 0,
            roster: None,
            vis_sent: 0,
            vis_since: 0,
            dirty: false,
            you_dirty: false,
            present_pos: 0,
            roll_expected: 0,
            roll_answered: 0,
            poll_expected: 0,
            vote: 0,
            chat_bucket: Bucket::full(now, 0),
            react_bucket: Bucket::full(now, 0),
            draw_bucket: Bucket::full(now, 0),
            may_draw: false,
            recording: false,
            companion: false,
            att: Attendance::default(),
        }
    }

    pub(crate) fn is_staff(&self) -> bool {
        is_staff(self.role)
    }

    pub(crate) fn is_student(&self) -> bool {
        self.role == Role::Student
    }

    pub(crate) fn is_observer(&self) -> bool {
        self.role == Role::Observer
    }

    pub(crate) fn present(&self) -> bool {
        self.status == Status::Present
    }

    pub(crate) fn is_companion(&self) -> bool {
        self.companion
    }

    /// The lists this member appears in now.
    pub(crate) fn views(&self) -> u8 {
        if !self.present() || self.is_companion() {
            0
        } else if self.is_observer() {
            VIEW_STAFF
        } else if self.is_staff() || self.on_stage {
            VIEW_STAFF | VIEW_STAGE | VIEW_STUDENT
        } else {
            VIEW_STAFF | VIEW_STAGE
        }
    }

    /// The list this member receives.
    pub(crate) fn viewer(&self) -> Viewer {
        if self.is_staff() {
            Viewer::Staff
        } else if self.on_stage {
            Viewer::Stage
        } else {
            Viewer::Student
        }
    }

    /// Connected time so far, merging reconnects (one connection at a time, so intervals
    /// never overlap: a newer connection replaces the older one without a gap).
    pub(crate) fn connected_ms(&self, now: Millis) -> u64 {
        self.att.connected_ms
            + self
                .att
                .connected_since
                .map_or(0, |since| now.saturating_sub(since))
    }

    pub(crate) fn info(&self, mic_allowed: bool) -> ParticipantInfo {
        ParticipantInfo {
            participant_id: self.pid.to_string(),
            name: self.name.to_string(),
            role: self.role,
            hand: (self.hand != 0).then_some(self.hand),
            on_stage: self.on_stage,
            mic_allowed,
            chat_muted: self.chat_muted,
            may_draw: self.may_draw,
            recording: self.recording,
            // Known to the class (`Class::info`).
            draw_pages: None,
            connected: self.conn.is_some(),
            on_roster: self.roster.is_some(),
            network: self.network,
        }
    }
}

/// `p{n}` back to a slot.
pub(crate) fn slot_of(pid: &str) -> Option<u32> {
    let n: u64 = pid.strip_prefix('p')?.parse().ok()?;
    if pid.len() > 1 && pid.as_bytes()[1] == b'0' {
        return None; // one spelling per participant
    }
    u32::try_from(n.checked_sub(1)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn participant_ids_round_trip() {
        assert_eq!(slot_of("p1"), Some(0));
        assert_eq!(slot_of("p10000"), Some(9999));
        for bad in ["", "p", "p0", "p01", "q1", "p-1", "p1x", "p99999999999"] {
            assert_eq!(slot_of(bad), None, "{bad}");
        }
        let m = Member::new(41, "id".into(), "n".into(), Role::Student, 0);
        assert_eq!(slot_of(&m.pid), Some(41));
    }

    #[test]
    fn source_bits_round_trip() {
        let all = [Source::Camera, Source::Microphone, Source::Screen];
        assert_eq!(sources(source_bits(&all)), all.to_vec());
        assert_eq!(
            sources(source_bits(&[Source::Screen])),
            vec![Source::Screen]
        );
        assert!(sources(0).is_empty());
    }

    #[test]
    fn member_stays_small() {
        // The per-student budget is 20 KB for the whole server; this is the biggest part.
        let size = std::mem::size_of::<Member>();
        assert!(size <= 320, "Member is {size} bytes");
    }
}
