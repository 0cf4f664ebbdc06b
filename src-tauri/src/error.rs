//! The one error type every command returns to the webview.

use serde::Serialize;
use ts_rs::TS;

/// An error a command reports to the front end.
///
/// It serializes as `{ "kind": "invalidName", "message": "..." }`: `kind` is stable and meant for
/// code (the UI picks the sentence in the user's language by it, and the form field it is
/// about), `message` is the English detail (a server's reason, GStreamer's error), which the UI
/// may show after that sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, TS)]
#[serde(tag = "kind", content = "message", rename_all = "camelCase")]
#[non_exhaustive]
pub enum AppError {
    /// The display name is empty or too long.
    #[error("{0}")]
    InvalidName(String),
    /// The class server address is not a `ws://` or `wss://` URL.
    #[error("{0}")]
    InvalidServer(String),
    /// The room name is empty or too long.
    #[error("{0}")]
    InvalidRoom(String),
    /// A student's join token is missing, too long or has whitespace inside.
    #[error("{0}")]
    InvalidToken(String),
    /// A class code that is not 12 characters of the code alphabet (`XXXX-XXXX-XXXX`).
    #[error("{0}")]
    InvalidCode(String),
    /// No class announced nearby was made for this class code (the class has not started,
    /// is on another network, or the code was mistyped).
    #[error("{0}")]
    NoClassForCode(String),
    /// The class server could not be reached, started, or dropped the connection.
    #[error("{0}")]
    Connection(String),
    /// The class server refused the join (bad or expired token, wrong room).
    #[error("{0}")]
    Refused(String),
    /// Camera, microphone, screen or the media engine failed.
    #[error("{0}")]
    Media(String),
    /// Already in a class; leave it first.
    #[error("{0}")]
    AlreadyInClass(String),
    /// Not in a class.
    #[error("{0}")]
    NotInClass(String),
    /// The UI named a device (or kind of device) that is not there.
    #[error("{0}")]
    UnknownDevice(String),
    /// The person cancelled (e.g. the desktop's screen-sharing dialog): nothing is wrong.
    #[error("{0}")]
    Cancelled(String),
    /// A request's values are out of range (too large, a malformed roster file).
    #[error("{0}")]
    Invalid(String),
    /// The app itself failed (no data folder, a file that cannot be written).
    #[error("{0}")]
    Internal(String),
    /// The teacher's class server could not start (its ports could not be opened).
    #[error("{0}")]
    CannotHost(String),
    /// Looking for classes nearby is impossible: no usable network, or mDNS cannot run.
    #[error("{0}")]
    NoNetwork(String),
    /// A class nearby was found but does not accept connections (a firewall may block its
    /// port; the message names it).
    #[error("{0}")]
    ClassUnreachable(String),
    /// The class nearby is no longer announced (it ended, or left the network).
    #[error("{0}")]
    ClassGone(String),
    /// A setting or choice could not be saved to disk.
    #[error("{0}")]
    Storage(String),
    /// The page asked for video that does not exist or in a size that makes no sense.
    #[error("{0}")]
    InvalidVideoRequest(String),
    /// The disk is too full for what was asked (nothing saved was lost).
    #[error("{0}")]
    DiskFull(String),
    /// A file on this computer was damaged; it was removed and must be downloaded again.
    #[error("{0}")]
    Damaged(String),
    /// The offline library's size limit leaves no room (pinned lessons stay).
    #[error("{0}")]
    LibraryFull(String),
    /// A file cannot be used: not a photo or a PDF, damaged, or too large.
    #[error("{0}")]
    BadFile(String),
    /// The school's policy locked this setting (the message names where it was set).
    #[error("{0}")]
    Locked(String),
    /// An update was not signed by our key (tampered, signed by another key, or unsigned):
    /// refused, nothing installed.
    #[error("{0}")]
    Untrusted(String),
}

/// Runs `work` on the runtime's blocking threads (devices, files and sockets that block, work
/// that takes a while); a task that panicked is an internal error naming `what`.
pub async fn blocking<T: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::Internal(format!("{what}: {e}")))
}

impl AppError {
    /// The stable, machine-readable kind, the same string as the serialized `kind` field.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidName(_) => "invalidName",
            Self::InvalidServer(_) => "invalidServer",
            Self::InvalidRoom(_) => "invalidRoom",
            Self::InvalidToken(_) => "invalidToken",
            Self::InvalidCode(_) => "invalidCode",
            Self::NoClassForCode(_) => "noClassForCode",
            Self::Connection(_) => "connection",
            Self::Refused(_) => "refused",
            Self::Media(_) => "media",
            Self::AlreadyInClass(_) => "alreadyInClass",
            Self::NotInClass(_) => "notInClass",
            Self::UnknownDevice(_) => "unknownDevice",
            Self::Cancelled(_) => "cancelled",
            Self::Invalid(_) => "invalid",
            Self::Internal(_) => "internal",
            Self::CannotHost(_) => "cannotHost",
            Self::NoNetwork(_) => "noNetwork",
            Self::ClassUnreachable(_) => "classUnreachable",
            Self::ClassGone(_) => "classGone",
            Self::Storage(_) => "storage",
            Self::InvalidVideoRequest(_) => "invalidVideoRequest",
            Self::DiskFull(_) => "diskFull",
            Self::Damaged(_) => "damaged",
            Self::LibraryFull(_) => "libraryFull",
            Self::BadFile(_) => "badFile",
            Self::Locked(_) => "locked",
            Self::Untrusted(_) => "untrusted",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_kind_and_message() {
        let error = AppError::InvalidRoom("Enter a room name.".into());
        let json = serde_json::to_value(&error).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({ "kind": "invalidRoom", "message": "Enter a room name." })
        );
        assert_eq!(json["kind"], error.kind());
        assert_eq!(error.to_string(), "Enter a room name.");

        let error = AppError::InvalidToken("Paste the token your teacher gave you.".into());
        assert_eq!(
            serde_json::to_value(&error).expect("serializes"),
            serde_json::json!({
                "kind": "invalidToken",
                "message": "Paste the token your teacher gave you."
            })
        );
        assert_eq!(error.kind(), "invalidToken");

        let error = AppError::ClassUnreachable("port 47800".into());
        assert_eq!(
            serde_json::to_value(&error).expect("serializes"),
            serde_json::json!({ "kind": "classUnreachable", "message": "port 47800" })
        );
        for e in [
            AppError::CannotHost(String::new()),
            AppError::NoNetwork(String::new()),
            AppError::ClassGone(String::new()),
            AppError::InvalidCode(String::new()),
            AppError::NoClassForCode(String::new()),
        ] {
            assert_eq!(
                serde_json::to_value(&e).expect("serializes")["kind"],
                e.kind()
            );
        }
    }
}
