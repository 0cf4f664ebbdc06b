//! The one error type every command returns to the webview.

use serde::Serialize;

/// An error a command reports to the front end.
///
/// It serializes as `{ "kind": "invalidName", "message": "..." }`: `kind` is stable and meant for
/// code (the UI maps it to a form field), `message` is meant for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
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
}

impl AppError {
    /// The stable, machine-readable kind, the same string as the serialized `kind` field.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidName(_) => "invalidName",
            Self::InvalidServer(_) => "invalidServer",
            Self::InvalidRoom(_) => "invalidRoom",
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
    }
}
