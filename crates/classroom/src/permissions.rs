//! The one table of who may do what.
//!
//! Every [`ClassRequest`] is checked here against the sender's role before anything else,
//! whatever the client's screens allow. Requests that act on someone else are checked
//! again against their target where they are carried out (staff cannot remove the teacher,
//! a student may lower only their own hand, direct messages are staff's).

use classroom_protocol::{ClassRequest, Role};

/// What a request asks to do: one per [`ClassRequest`] variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Action {
    /// [`ClassRequest::RaiseHand`]
    RaiseHand,
    /// [`ClassRequest::LowerHand`]: one's own, or (checked on the target) anyone's for staff.
    LowerHand,
    /// [`ClassRequest::LowerAllHands`]
    LowerAllHands,
    /// [`ClassRequest::SetStage`]
    SetStage,
    /// [`ClassRequest::Mute`]
    Mute,
    /// [`ClassRequest::AllowSpeak`]
    AllowSpeak,
    /// [`ClassRequest::Chat`]: direct messages are staff's (checked on the audience).
    Chat,
    /// [`ClassRequest::DeleteChat`]
    DeleteChat,
    /// [`ClassRequest::PauseChat`]
    PauseChat,
    /// [`ClassRequest::MuteChat`]
    MuteChat,
    /// [`ClassRequest::ChatHistory`]
    ChatHistory,
    /// [`ClassRequest::StartRollCall`]
    StartRollCall,
    /// [`ClassRequest::AnswerRollCall`]
    AnswerRollCall,
    /// [`ClassRequest::EndRollCall`]
    EndRollCall,
    /// [`ClassRequest::StartPoll`]
    StartPoll,
    /// [`ClassRequest::Vote`]
    Vote,
    /// [`ClassRequest::EndPoll`]
    EndPoll,
    /// [`ClassRequest::ShowResults`]
    ShowResults,
    /// [`ClassRequest::React`]
    React,
    /// [`ClassRequest::StartTimer`]
    StartTimer,
    /// [`ClassRequest::StopTimer`]
    StopTimer,
    /// [`ClassRequest::Admit`]
    Admit,
    /// [`ClassRequest::Deny`]
    Deny,
    /// [`ClassRequest::AdmitAll`]
    AdmitAll,
    /// [`ClassRequest::SetLobbyPolicy`]
    SetLobbyPolicy,
    /// [`ClassRequest::Lock`]
    Lock,
    /// [`ClassRequest::Remove`]
    Remove,
    /// [`ClassRequest::SetRoster`]
    SetRoster,
    /// [`ClassRequest::SetStageLimit`]
    SetStageLimit,
    /// [`ClassRequest::ListParticipants`]: everyone gets the list they may see.
    ListParticipants,
    /// [`ClassRequest::GetReport`]
    GetReport,
    /// [`ClassRequest::Annotate`]: staff, and students staff let draw (their own items).
    Annotate,
    /// [`ClassRequest::AnnotationSince`]
    AnnotationSince,
    /// [`ClassRequest::AllowDrawing`]
    AllowDrawing,
    /// [`ClassRequest::SetRecording`]
    SetRecording,
    /// A request this version does not know: nobody may make it.
    Unknown,
}

impl Action {
    /// The action a request asks for.
    pub fn of(req: &ClassRequest) -> Action {
        use ClassRequest as R;
        match req {
            R::RaiseHand => Action::RaiseHand,
            R::LowerHand { .. } => Action::LowerHand,
            R::LowerAllHands => Action::LowerAllHands,
            R::SetStage { .. } => Action::SetStage,
            R::Mute { .. } => Action::Mute,
            R::AllowSpeak { .. } => Action::AllowSpeak,
            R::Chat { .. } => Action::Chat,
            R::DeleteChat { .. } => Action::DeleteChat,
            R::PauseChat { .. } => Action::PauseChat,
            R::MuteChat { .. } => Action::MuteChat,
            R::ChatHistory { .. } => Action::ChatHistory,
            R::StartRollCall { .. } => Action::StartRollCall,
            R::AnswerRollCall { .. } => Action::AnswerRollCall,
            R::EndRollCall => Action::EndRollCall,
            R::StartPoll { .. } => Action::StartPoll,
            R::Vote { .. } => Action::Vote,
            R::EndPoll { .. } => Action::EndPoll,
            R::ShowResults { .. } => Action::ShowResults,
            R::React { .. } => Action::React,
            R::StartTimer { .. } => Action::StartTimer,
            R::StopTimer => Action::StopTimer,
            R::Admit { .. } => Action::Admit,
            R::Deny { .. } => Action::Deny,
            R::AdmitAll => Action::AdmitAll,
            R::SetLobbyPolicy { .. } => Action::SetLobbyPolicy,
            R::Lock { .. } => Action::Lock,
            R::Remove { .. } => Action::Remove,
            R::SetRoster { .. } => Action::SetRoster,
            R::SetStageLimit { .. } => Action::SetStageLimit,
            R::ListParticipants { .. } => Action::ListParticipants,
            R::GetReport => Action::GetReport,
            R::Annotate { .. } => Action::Annotate,
            R::AnnotationSince { .. } => Action::AnnotationSince,
            R::AllowDrawing { .. } => Action::AllowDrawing,
            R::SetRecording { .. } => Action::SetRecording,
            _ => Action::Unknown,
        }
    }
}

/// The teacher's bit in [`TABLE`].
pub const TEACHER: u8 = 1;
/// The assistant's bit in [`TABLE`].
pub const ASSISTANT: u8 = 2;
/// A student's bit in [`TABLE`].
pub const STUDENT: u8 = 4;
/// An observer's bit in [`TABLE`].
pub const OBSERVER: u8 = 8;
/// Teacher and assistants.
pub const STAFF: u8 = TEACHER | ASSISTANT;
/// Those who take part: observers watch, and may not chat, raise hands, vote or react.
pub const PARTICIPANTS: u8 = STAFF | STUDENT;
/// Every role.
pub const EVERYONE: u8 = STAFF | STUDENT | OBSERVER;

/// Who may make each request (role bits), indexed by `Action as usize` (a test keeps the
/// order).
pub const TABLE: [(Action, u8); 35] = [
    (Action::RaiseHand, STUDENT),
    (Action::LowerHand, PARTICIPANTS),
    (Action::LowerAllHands, STAFF),
    (Action::SetStage, STAFF),
    (Action::Mute, STAFF),
    (Action::AllowSpeak, STAFF),
    (Action::Chat, PARTICIPANTS),
    (Action::DeleteChat, STAFF),
    (Action::PauseChat, STAFF),
    (Action::MuteChat, STAFF),
    (Action::ChatHistory, EVERYONE),
    (Action::StartRollCall, STAFF),
    (Action::AnswerRollCall, STUDENT),
    (Action::EndRollCall, STAFF),
    (Action::StartPoll, STAFF),
    (Action::Vote, STUDENT),
    (Action::EndPoll, STAFF),
    (Action::ShowResults, STAFF),
    (Action::React, PARTICIPANTS),
    (Action::StartTimer, STAFF),
    (Action::StopTimer, STAFF),
    (Action::Admit, STAFF),
    (Action::Deny, STAFF),
    (Action::AdmitAll, STAFF),
    (Action::SetLobbyPolicy, STAFF),
    (Action::Lock, STAFF),
    (Action::Remove, TEACHER),
    (Action::SetRoster, TEACHER),
    (Action::SetStageLimit, TEACHER),
    (Action::ListParticipants, EVERYONE),
    (Action::GetReport, STAFF),
    // Students only once staff let them (checked on the member), and only their own items.
    (Action::Annotate, PARTICIPANTS),
    (Action::AnnotationSince, EVERYONE),
    (Action::AllowDrawing, STAFF),
    // Anyone who receives the class can record it; saying so is what the class can ask.
    (Action::SetRecording, EVERYONE),
];

fn role_bit(role: Role) -> u8 {
    match role {
        Role::Teacher => TEACHER,
        Role::Assistant => ASSISTANT,
        Role::Student => STUDENT,
        Role::Observer => OBSERVER,
        _ => 0,
    }
}

/// Whether `role` may make requests of kind `action` at all (targets are checked apart).
pub fn allowed(role: Role, action: Action) -> bool {
    TABLE
        .get(action as usize)
        .is_some_and(|(a, roles)| *a == action && roles & role_bit(role) != 0)
}

/// Teacher or assistant.
pub fn is_staff(role: Role) -> bool {
    role_bit(role) & STAFF != 0
}

/// Whether only staff may make requests of kind `action`.
pub fn staff_only(action: Action) -> bool {
    TABLE
        .get(action as usize)
        .is_some_and(|(a, roles)| *a == action && roles & !STAFF == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_indexed_by_action() {
        for (i, (action, _)) in TABLE.iter().enumerate() {
            assert_eq!(*action as usize, i, "{action:?} is out of place");
        }
        assert_eq!(Action::Unknown as usize, TABLE.len());
    }

    #[test]
    fn decisions_of_the_issue_hold() {
        use Role::*;
        for role in [Student, Observer] {
            for (action, _) in TABLE {
                if staff_only(action) {
                    assert!(!allowed(role, action), "{role:?} may {action:?}");
                }
            }
        }
        for action in [Action::Remove, Action::SetRoster, Action::SetStageLimit] {
            assert!(allowed(Teacher, action));
            assert!(!allowed(Assistant, action), "{action:?} is the teacher's");
        }
        for action in [Action::Chat, Action::RaiseHand, Action::Vote, Action::React] {
            assert!(!allowed(Observer, action), "observers may not {action:?}");
        }
        assert!(allowed(Student, Action::Vote));
        assert!(allowed(Student, Action::AnswerRollCall));
        assert!(allowed(Assistant, Action::Admit));
        assert!(!allowed(Teacher, Action::Unknown));
        assert!(is_staff(Assistant) && !is_staff(Observer));
    }
}
