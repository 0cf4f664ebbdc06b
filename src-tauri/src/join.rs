//! The join form: what the join screen sends and the rules it must meet.
//!
//! The UI checks the same rules as the user types (`ui/src/lib/join.ts`) so it can point at the
//! field; this module is the authority. Both sides run the cases in `ui/src/lib/join.cases.json`.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::AppError;
use crate::launch::Role;

/// Longest display name or room name, in characters (Unicode scalar values).
pub const MAX_NAME_CHARS: usize = 64;

/// Longest join token, in characters (Unicode scalar values).
pub const MAX_TOKEN_CHARS: usize = 4096;

/// What the join screen submits.
///
/// A teacher starts a class server inside the app, so `server` and `token` are only read for a
/// student; a teacher may leave them empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct JoinForm {
    /// Teacher or student.
    pub role: Role,
    /// Display name shown to the class.
    pub name: String,
    /// Class server address, `ws://` or `wss://` (students).
    pub server: String,
    /// Room to join.
    pub room: String,
    /// Join token from the teacher's invite (students); absent counts as empty.
    #[serde(default)]
    pub token: String,
    /// The class server's certificate fingerprint (SHA-256, unpadded base64url) from the
    /// teacher's invite link: a `wss://` class on the school network has a self-signed
    /// certificate, which the app trusts only by this pin (students).
    #[serde(default)]
    #[ts(optional = nullable)]
    pub pin: Option<String>,
    /// The class's short code (`XXXX-XXXX-XXXX`), as typed (students). When given, the
    /// student joins the class nearby that the code was made for, through its lobby, and
    /// `server`, `room` and `token` are not read.
    #[serde(default)]
    #[ts(optional = nullable)]
    pub code: Option<String>,
}

/// A join request that passed validation, with surrounding whitespace removed.
///
/// For a teacher `server` and `token` are always empty: whatever the form held is ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinAccepted {
    /// Teacher or student.
    pub role: Role,
    /// Display name shown to the class.
    pub name: String,
    /// Room to join.
    pub room: String,
    /// Class server address; empty for a teacher.
    pub server: String,
    /// Join token; empty for a teacher.
    pub token: String,
    /// The server certificate's fingerprint to pin; `None` for a teacher.
    pub pin: Option<[u8; 32]>,
    /// A student's class code, canonical and grouped (`K7QM-3XZ2-9HWD`): join the class
    /// nearby it was made for. `server`, `room` and `token` are then empty.
    pub code: Option<String>,
}

/// Checks a join form, field by field in screen order (name, server, room, token), and returns
/// the cleaned-up request. A teacher's server and token are not checked. A student who gives
/// a class code needs only a name and the code.
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

    let student = form.role == Role::Student;
    if let Some(code) = form
        .code
        .as_deref()
        .map(str::trim)
        .filter(|c| student && !c.is_empty())
    {
        return Ok(JoinAccepted {
            role: form.role,
            name: name.to_owned(),
            room: String::new(),
            server: String::new(),
            token: String::new(),
            pin: None,
            code: Some(check_code(code).map_err(AppError::InvalidCode)?),
        });
    }
    let server = if student { form.server.trim() } else { "" };
    if student {
        check_server(server).map_err(AppError::InvalidServer)?;
    }

    let room = form.room.trim();
    if room.is_empty() {
        return Err(AppError::InvalidRoom("Enter the room to join.".into()));
    }
    if room.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::InvalidRoom(format!(
            "Use a room name of at most {MAX_NAME_CHARS} characters."
        )));
    }

    let token = if student { form.token.trim() } else { "" };
    if student {
        check_token(token).map_err(AppError::InvalidToken)?;
    }

    let pin = if student {
        check_pin(server, form.pin.as_deref())?
    } else {
        None
    };

    Ok(JoinAccepted {
        role: form.role,
        name: name.to_owned(),
        room: room.to_owned(),
        server: server.to_owned(),
        token: token.to_owned(),
        pin,
        code: None,
    })
}

/// Longest text read as a class code: far more than a code with any spacing.
const MAX_CODE_CHARS: usize = 64;

/// A class code as typed, made canonical by `classroom::code` (case, spaces, dashes and
/// look-alike letters forgiven) and shown grouped.
fn check_code(code: &str) -> Result<String, String> {
    if code.chars().count() > MAX_CODE_CHARS {
        return Err("That is too long for a class code. Type the code your teacher shows, like K7QM-3XZ2-9HWD.".into());
    }
    classroom::code::normalize(code)
        .map(|c| classroom::code::format(&c))
        .ok_or_else(|| {
            "A class code has 12 letters and digits, like K7QM-3XZ2-9HWD. Check it against your teacher's screen.".into()
        })
}

/// A token is opaque to the app: one piece of text, of a sane length.
fn check_token(token: &str) -> Result<(), String> {
    if token.is_empty() {
        return Err("Paste the token your teacher gave you.".into());
    }
    if token.chars().any(char::is_whitespace) {
        return Err(
            "The token cannot contain spaces or line breaks. Paste it again as one piece.".into(),
        );
    }
    if token.chars().count() > MAX_TOKEN_CHARS {
        return Err(format!(
            "The token is too long (at most {MAX_TOKEN_CHARS} characters). Paste only the token your teacher gave you."
        ));
    }
    Ok(())
}

/// The invite's certificate fingerprint, when one is given: only for a `wss://` server.
fn check_pin(server: &str, pin: Option<&str>) -> Result<Option<[u8; 32]>, AppError> {
    match pin.map(str::trim) {
        Some(pin) if !pin.is_empty() => {
            if !server.starts_with("wss://") {
                return Err(AppError::InvalidServer(
                    "A pinned certificate needs a wss:// server address. Paste the invite link again.".into(),
                ));
            }
            Ok(Some(classroom_protocol::fingerprint::parse(pin).map_err(|e| {
                AppError::InvalidServer(format!(
                    "The invite's certificate fingerprint is not valid ({e}). Paste the invite link again."
                ))
            })?))
        }
        _ => Ok(None),
    }
}

/// A server address to check the connection to (the join form's, or a class chosen nearby),
/// with its pin: the same rules as a join's.
pub fn server_to_check(
    server: &str,
    pin: Option<&str>,
) -> Result<(String, Option<[u8; 32]>), AppError> {
    let server = server.trim();
    check_server(server).map_err(AppError::InvalidServer)?;
    Ok((server.to_owned(), check_pin(server, pin)?))
}

/// A websocket address needs its scheme and a host, and at most
/// [`crate::check::MAX_SERVER_CHARS`] characters; the path is the server's business.
fn check_server(server: &str) -> Result<(), String> {
    if server.is_empty() {
        return Err("Enter the class server address, like ws://192.168.1.10:8080/ws.".into());
    }
    let max = crate::check::MAX_SERVER_CHARS;
    if server.chars().count() > max {
        return Err(format!(
            "The server address is too long (at most {max} characters). Paste the invite link again."
        ));
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
            token: "t0k3n.abc".into(),
            pin: None,
            code: None,
        }
    }

    #[test]
    fn accepts_and_trims_a_good_form() {
        let good = JoinForm {
            token: "\t abc.def \n".into(),
            ..form("  Ada ", " wss://class.example.org/ws ", " maths ")
        };
        let accepted = validate(&good).expect("valid");
        assert_eq!(
            accepted,
            JoinAccepted {
                role: Role::Student,
                name: "Ada".into(),
                room: "maths".into(),
                server: "wss://class.example.org/ws".into(),
                token: "abc.def".into(),
                pin: None,
                code: None,
            }
        );
    }

    #[test]
    fn a_teacher_needs_no_server_or_token_and_any_given_are_dropped() {
        for (server, token) in [("", ""), ("http://not-a-websocket", "has spaces")] {
            let teacher = JoinForm {
                role: Role::Teacher,
                token: token.into(),
                ..form(" Mr. Chips ", server, " Latin ")
            };
            assert_eq!(
                validate(&teacher).expect("a teacher's server and token are not checked"),
                JoinAccepted {
                    role: Role::Teacher,
                    name: "Mr. Chips".into(),
                    room: "Latin".into(),
                    server: String::new(),
                    token: String::new(),
                    pin: None,
                    code: None,
                }
            );
        }
    }

    #[test]
    fn a_missing_token_field_reads_as_empty() {
        let json = r#"{"role":"teacher","name":"Ada","server":"","room":"r"}"#;
        let form: JoinForm = serde_json::from_str(json).expect("token may be absent");
        assert_eq!(form.token, "");
        assert!(validate(&form).is_ok());
    }

    #[test]
    fn reports_the_first_bad_field() {
        let error = validate(&form("", "http://x", "")).expect_err("invalid");
        assert_eq!(error.kind(), "invalidName");
        let error = validate(&form("Ada", "http://x", "")).expect_err("invalid");
        assert_eq!(error.kind(), "invalidServer");
        let error = validate(&form("Ada", "ws://x", " ")).expect_err("invalid");
        assert_eq!(error.kind(), "invalidRoom");
        let no_token = JoinForm {
            token: " ".into(),
            ..form("Ada", "ws://x", "r")
        };
        let error = validate(&no_token).expect_err("invalid");
        assert_eq!(error.kind(), "invalidToken");
        assert_eq!(error.to_string(), "Paste the token your teacher gave you.");
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

    #[test]
    fn token_limit_counts_characters() {
        let with_token = |token: String| JoinForm {
            token,
            ..form("Ada", "ws://h", "r")
        };
        assert!(validate(&with_token("é".repeat(MAX_TOKEN_CHARS))).is_ok());
        assert_eq!(
            validate(&with_token("a".repeat(MAX_TOKEN_CHARS + 1)))
                .expect_err("too long")
                .kind(),
            "invalidToken"
        );
    }

    #[test]
    fn a_class_code_and_a_name_are_enough_for_a_student() {
        let by_code = |code: &str| JoinForm {
            code: Some(code.into()),
            ..form(" Ada ", "", "")
        };
        let accepted = validate(&by_code(" k7qm 3xz2-9hwd ")).expect("a code join");
        assert_eq!(
            accepted,
            JoinAccepted {
                role: Role::Student,
                name: "Ada".into(),
                room: String::new(),
                server: String::new(),
                token: String::new(),
                pin: None,
                code: Some("K7QM-3XZ2-9HWD".into()),
            }
        );
        // Look-alike letters read as the digits the alphabet has.
        assert_eq!(
            validate(&by_code("oOiI-lL00-1111"))
                .expect("forgiven")
                .code
                .as_deref(),
            Some("0011-1100-1111")
        );
        for bad in [
            "K7QM-3XZ2-9HW",
            "K7QM-3XZ2-9HWDD",
            "K7QM-3XZ2-9HWU",
            "K7QM-3XZ2-9HW!",
            &"K".repeat(500),
        ] {
            assert_eq!(
                validate(&by_code(bad)).expect_err(bad).kind(),
                "invalidCode",
                "{bad}"
            );
        }
        // The name still comes first; a blank code means the other fields are read.
        assert_eq!(
            validate(&JoinForm {
                name: " ".into(),
                ..by_code("K7QM-3XZ2-9HWD")
            })
            .expect_err("no name")
            .kind(),
            "invalidName"
        );
        assert_eq!(
            validate(&by_code("  ")).expect_err("no server").kind(),
            "invalidServer"
        );
        // A teacher's code is ignored: the teacher's class makes its own.
        let teacher = JoinForm {
            role: Role::Teacher,
            ..by_code("nonsense")
        };
        assert_eq!(
            validate(&JoinForm {
                room: "r".into(),
                ..teacher
            })
            .expect("a teacher")
            .code,
            None
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
            let expected = case.invalid.as_deref().map(|field| match field {
                "name" => "invalidName",
                "server" => "invalidServer",
                "room" => "invalidRoom",
                "token" => "invalidToken",
                "code" => "invalidCode",
                other => panic!("case {:?}: unknown field {other:?}", case.about),
            });
            let got = validate(&case.form).err().map(|error| error.kind());
            assert_eq!(got, expected, "case: {}", case.about);
        }
    }

    /// Text of any characters (controls, spaces, wide ones), of one character repeated, or\n    /// plain, of lengths around each limit.
    fn text(max: usize) -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            1 => proptest::string::string_regex(&format!("(?s).{{0,{max}}}")).expect("regex"),
            1 => (0..=max, any::<char>()).prop_map(|(n, c)| c.to_string().repeat(n)),
            3 => proptest::string::string_regex(&format!("[a-zA-Z0-9.:/_-]{{1,{max}}}"))
                .expect("regex"),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// The page is untrusted: any form is refused with a field or accepted within every
        /// limit, never a panic.
        #[test]
        fn any_form_is_refused_or_accepted_within_the_limits(
            student in proptest::prelude::any::<bool>(),
            name in text(80),
            scheme in proptest::prelude::prop_oneof![
                proptest::prelude::Just(""),
                proptest::prelude::Just("ws://"),
                proptest::prelude::Just("wss://"),
            ],
            server in text(2100),
            room in text(80),
            token in text(4200),
            pin in proptest::option::of(text(50)),
            code in proptest::option::of(text(70)),
        ) {
            let form = JoinForm {
                role: if student { Role::Student } else { Role::Teacher },
                name,
                server: format!("{scheme}{server}"),
                room,
                token,
                pin,
                code,
            };
            let Ok(ok) = validate(&form) else { return Ok(()) };
            let chars = |s: &str| s.chars().count();
            proptest::prop_assert!(!ok.name.is_empty() && chars(&ok.name) <= MAX_NAME_CHARS);
            proptest::prop_assert_eq!(ok.name.trim(), ok.name.as_str());
            if let Some(code) = &ok.code {
                proptest::prop_assert!(student && code.len() == 14, "{code}");
                proptest::prop_assert!(ok.server.is_empty() && ok.token.is_empty());
                return Ok(());
            }
            proptest::prop_assert!(!ok.room.is_empty() && chars(&ok.room) <= MAX_NAME_CHARS);
            if student {
                proptest::prop_assert!(chars(&ok.server) <= crate::check::MAX_SERVER_CHARS);
                proptest::prop_assert!(
                    ok.server.starts_with("ws://") || ok.server.starts_with("wss://")
                );
                proptest::prop_assert!(!ok.server.chars().any(char::is_whitespace));
                proptest::prop_assert!(
                    !ok.token.is_empty() && chars(&ok.token) <= MAX_TOKEN_CHARS
                );
                proptest::prop_assert!(!ok.token.chars().any(char::is_whitespace));
                proptest::prop_assert!(ok.pin.is_none() || ok.server.starts_with("wss://"));
            } else {
                proptest::prop_assert!(ok.server.is_empty() && ok.token.is_empty());
                proptest::prop_assert!(ok.pin.is_none());
            }
        }
    }
}
