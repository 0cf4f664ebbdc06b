//! The join form: what the join screen sends and the rules it must meet.
//!
//! The UI checks the same rules as the user types (`ui/src/lib/join.ts`) so it can point at the
//! field; this module is the authority. Both sides run the cases in `ui/src/lib/join.cases.json`.

use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::launch::Role;

/// Longest display name or room name, in characters (Unicode scalar values).
pub const MAX_NAME_CHARS: usize = 64;

/// What the join screen submits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinForm {
    /// Teacher or student.
    pub role: Role,
    /// Display name shown to the class.
    pub name: String,
    /// Class server address, `ws://` or `wss://`.
    pub server: String,
    /// Room to join.
    pub room: String,
}

/// A join request that passed validation, with surrounding whitespace removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinAccepted {
    /// Teacher or student.
    pub role: Role,
    /// Display name shown to the class.
    pub name: String,
    /// Room to join.
    pub room: String,
    /// Class server address.
    pub server: String,
}

/// Checks a join form, field by field in screen order, and returns the cleaned-up request.
pub fn validate(form: &JoinForm) -> Result<JoinAccepted, AppError> {
    let name = form.name.trim();
    if name.is_empty() {
        return Err(AppError::InvalidName(
            "Enter the name the class will see.".into(),
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::InvalidName(format!(
            "Use a name of at most {MAX_NAME_CHARS} characters."
        )));
    }

    let server = form.server.trim();
    check_server(server).map_err(AppError::InvalidServer)?;

    let room = form.room.trim();
    if room.is_empty() {
        return Err(AppError::InvalidRoom("Enter the room to join.".into()));
    }
    if room.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::InvalidRoom(format!(
            "Use a room name of at most {MAX_NAME_CHARS} characters."
        )));
    }

    Ok(JoinAccepted {
        role: form.role,
        name: name.to_owned(),
        room: room.to_owned(),
        server: server.to_owned(),
    })
}

/// A websocket address needs its scheme and a host; the path is the server's business.
fn check_server(server: &str) -> Result<(), String> {
    if server.is_empty() {
        return Err("Enter the class server address, like ws://192.168.1.10:8080/ws.".into());
    }
    let Some(rest) = server
        .strip_prefix("ws://")
        .or_else(|| server.strip_prefix("wss://"))
    else {
        return Err("The server address must start with ws:// or wss://.".into());
    };
    if server.chars().any(char::is_whitespace) {
        return Err("The server address cannot contain spaces.".into());
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err("The server address needs a host, like ws://192.168.1.10:8080/ws.".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(name: &str, server: &str, room: &str) -> JoinForm {
        JoinForm {
            role: Role::Student,
            name: name.into(),
            server: server.into(),
            room: room.into(),
        }
    }

    #[test]
    fn accepts_and_trims_a_good_form() {
        let accepted =
            validate(&form("  Ada ", " wss://class.example.org/ws ", " maths ")).expect("valid");
        assert_eq!(
            accepted,
            JoinAccepted {
                role: Role::Student,
                name: "Ada".into(),
                room: "maths".into(),
                server: "wss://class.example.org/ws".into(),
            }
        );
    }

    #[test]
    fn reports_the_first_bad_field() {
        let error = validate(&form("", "http://x", "")).expect_err("invalid");
        assert_eq!(error.kind(), "invalidName");
        let error = validate(&form("Ada", "http://x", "")).expect_err("invalid");
        assert_eq!(error.kind(), "invalidServer");
        let error = validate(&form("Ada", "ws://x", " ")).expect_err("invalid");
        assert_eq!(error.kind(), "invalidRoom");
    }

    #[test]
    fn name_limit_counts_characters_not_bytes() {
        let at_limit = "é".repeat(MAX_NAME_CHARS);
        assert!(validate(&form(&at_limit, "ws://h", "r")).is_ok());
        let over = "é".repeat(MAX_NAME_CHARS + 1);
        assert_eq!(
            validate(&form(&over, "ws://h", "r"))
                .expect_err("too long")
                .kind(),
            "invalidName"
        );
    }

    /// A case shared with the UI's vitest suite, so the two validators cannot drift apart.
    #[derive(Debug, Deserialize)]
    struct SharedCase {
        about: String,
        form: JoinForm,
        /// The field that must be refused, or `None` when the form is valid.
        invalid: Option<String>,
    }

    #[test]
    fn agrees_with_the_ui_on_shared_cases() {
        let cases: Vec<SharedCase> =
            serde_json::from_str(include_str!("../../ui/src/lib/join.cases.json"))
                .expect("join.cases.json parses");
        assert!(cases.len() >= 10, "the shared cases went missing");
        for case in cases {
            let got = validate(&case.form).err().map(|error| match error {
                AppError::InvalidName(_) => "name",
                AppError::InvalidServer(_) => "server",
                AppError::InvalidRoom(_) => "room",
            });
            assert_eq!(got, case.invalid.as_deref(), "case: {}", case.about);
        }
    }
}
