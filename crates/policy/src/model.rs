//! The settings a school can set, what each accepts, and the values one policy store gave.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A setting a school can recommend or lock. Its name (`serverUrl`, ...) is the same in every
/// store: a JSON file's key, a registry value's name, a plist key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum PolicyKey {
    /// The class server to connect to: a `ws://` or `wss://` URL.
    ServerUrl,
    /// The screens' language: `"system"`, `"en"` or `"zh-CN"`.
    Language,
    /// Whether students may record a lesson: a boolean.
    StudentsMayRecord,
    /// What may be shared as a screen: an array of `"screen"` and `"window"` (empty: nothing).
    ScreenShareSources,
    /// How the app updates itself: `"auto"`, `"notify"` or `"off"`.
    Updates,
    /// The colour theme: `"system"`, `"light"` or `"dark"`.
    Theme,
    /// The offline library's download speed limit: `"none"`, `"mb1"`, `"mb5"` or `"mb20"`.
    DownloadLimit,
}

/// The shape of a key's value, which stores without JSON need to map theirs (a registry DWORD
/// is a boolean, a multi-string a list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum ValueKind {
    /// A string (a URL or one of a few words).
    String,
    /// `true` or `false`.
    Bool,
    /// An array of strings.
    StringList,
}

const LANGUAGES: &[&str] = &["system", "en", "zh-CN"];
const UPDATES: &[&str] = &["auto", "notify", "off"];
const THEMES: &[&str] = &["system", "light", "dark"];
const DOWNLOAD_LIMITS: &[&str] = &["none", "mb1", "mb5", "mb20"];
const SHARE_SOURCES: &[&str] = &["screen", "window"];
/// Longer than any real server address; keeps a pasted page of text out of the settings.
const MAX_URL_LEN: usize = 2048;

impl PolicyKey {
    /// Every key, in a stable order (the settings screen's).
    pub const ALL: [PolicyKey; 7] = [
        PolicyKey::ServerUrl,
        PolicyKey::Language,
        PolicyKey::StudentsMayRecord,
        PolicyKey::ScreenShareSources,
        PolicyKey::Updates,
        PolicyKey::Theme,
        PolicyKey::DownloadLimit,
    ];

    /// The stable camelCase name.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKey::ServerUrl => "serverUrl",
            PolicyKey::Language => "language",
            PolicyKey::StudentsMayRecord => "studentsMayRecord",
            PolicyKey::ScreenShareSources => "screenShareSources",
            PolicyKey::Updates => "updates",
            PolicyKey::Theme => "theme",
            PolicyKey::DownloadLimit => "downloadLimit",
        }
    }

    /// The key of this exact name.
    pub fn from_name(name: &str) -> Option<PolicyKey> {
        PolicyKey::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The key of this name in any ASCII case (registry value names are case-insensitive).
    pub fn from_name_ignore_case(name: &str) -> Option<PolicyKey> {
        PolicyKey::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name))
    }

    /// The shape of the key's value.
    pub fn kind(self) -> ValueKind {
        match self {
            PolicyKey::StudentsMayRecord => ValueKind::Bool,
            PolicyKey::ScreenShareSources => ValueKind::StringList,
            _ => ValueKind::String,
        }
    }

    /// The built-in default: what the app does when neither the school nor the user says.
    /// `serverUrl` has none (`null`: the app's own choice, e.g. the server it embeds); students
    /// may not record unless a school allows it.
    pub fn default_value(self) -> Value {
        match self {
            PolicyKey::ServerUrl => Value::Null,
            PolicyKey::Language | PolicyKey::Theme => Value::from("system"),
            PolicyKey::StudentsMayRecord => Value::Bool(false),
            PolicyKey::ScreenShareSources => Value::from(vec!["screen", "window"]),
            PolicyKey::Updates => Value::from("auto"),
            PolicyKey::DownloadLimit => Value::from("none"),
        }
    }

    /// The value in its one accepted form, or why it is refused (in English, naming the key).
    ///
    /// Strings are trimmed; the words of `language`, `updates`, `theme`, `downloadLimit` and
    /// `screenShareSources` match in any ASCII case and come back as written above (`zh-cn` is
    /// `zh-CN`); repeated share sources are kept once.
    pub fn check(self, value: &Value) -> Result<Value, String> {
        match self {
            PolicyKey::ServerUrl => check_url(self, value),
            PolicyKey::Language => one_of(self, LANGUAGES, value).map(Value::from),
            PolicyKey::Updates => one_of(self, UPDATES, value).map(Value::from),
            PolicyKey::Theme => one_of(self, THEMES, value).map(Value::from),
            PolicyKey::DownloadLimit => one_of(self, DOWNLOAD_LIMITS, value).map(Value::from),
            PolicyKey::StudentsMayRecord => match value {
                Value::Bool(b) => Ok(Value::Bool(*b)),
                other => Err(format!(
                    "{self} must be true or false, not {}",
                    describe(other)
                )),
            },
            PolicyKey::ScreenShareSources => {
                let Value::Array(items) = value else {
                    return Err(format!(
                        "{self} must be an array of {}, not {}",
                        quoted(SHARE_SOURCES),
                        describe(value)
                    ));
                };
                let mut sources: Vec<&str> = Vec::new();
                for item in items {
                    let source = one_of(self, SHARE_SOURCES, item)?;
                    if !sources.contains(&source) {
                        sources.push(source);
                    }
                }
                Ok(Value::from(sources))
            }
        }
    }
}

impl fmt::Display for PolicyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PolicyKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PolicyKey::from_name(s).ok_or_else(|| unknown_key_message(s))
    }
}

/// Why a name is not a key, listing the ones there are.
pub(crate) fn unknown_key_message(name: &str) -> String {
    let known: Vec<&str> = PolicyKey::ALL.iter().map(|k| k.name()).collect();
    format!(
        "unknown setting {:?} (known: {})",
        shorten(name),
        known.join(", ")
    )
}

fn one_of(key: PolicyKey, allowed: &[&'static str], value: &Value) -> Result<&'static str, String> {
    let Value::String(s) = value else {
        return Err(format!(
            "{key} must be one of {}, not {}",
            quoted(allowed),
            describe(value)
        ));
    };
    let s = s.trim();
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(s))
        .copied()
        .ok_or_else(|| {
            format!(
                "{key} must be one of {}, not {}",
                quoted(allowed),
                describe(value)
            )
        })
}

fn check_url(key: PolicyKey, value: &Value) -> Result<Value, String> {
    let Value::String(s) = value else {
        return Err(format!(
            "{key} must be a ws:// or wss:// URL, not {}",
            describe(value)
        ));
    };
    let url = s.trim();
    let refuse = |why: &str| Err(format!("{key} {:?} {why}", shorten(url)));
    if url.len() > MAX_URL_LEN {
        return refuse("is too long");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return refuse("has spaces or control characters in it");
    }
    let rest = match url.split_once("://") {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("ws") || scheme.eq_ignore_ascii_case("wss") =>
        {
            rest
        }
        _ => return refuse("must start with ws:// or wss://"),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return refuse("has no server name");
    }
    Ok(Value::from(url))
}

/// A JSON value in words, for a refusal ("the number 5", "the string \"fr\"").
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {:?}", shorten(s)),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

fn quoted(words: &[&str]) -> String {
    let words: Vec<String> = words.iter().map(|w| format!("{w:?}")).collect();
    words.join(", ")
}

/// At most 60 characters of a string someone else wrote, for a message.
pub(crate) fn shorten(s: &str) -> String {
    const MAX: usize = 60;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

/// Where a value sits in the order of precedence, lowest first:
/// `Default < Recommended < User < Mandatory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Layer {
    /// Built into the app.
    Default,
    /// Recommended by the school; the user may choose otherwise.
    Recommended,
    /// The user's own choice.
    User,
    /// Set by the school and locked.
    Mandatory,
}

/// Which half of a policy store a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Level {
    /// A starting value the user may change.
    Recommended,
    /// A locked value.
    Mandatory,
}

impl From<Level> for Layer {
    fn from(level: Level) -> Layer {
        match level {
            Level::Recommended => Layer::Recommended,
            Level::Mandatory => Layer::Mandatory,
        }
    }
}

/// A value from a policy store, with where it was found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyValue {
    /// The checked value (see [`PolicyKey::check`]).
    pub value: Value,
    /// The file, registry key or plist it came from, e.g.
    /// `/etc/classroom/policies/managed/10-school.json`.
    pub source: String,
}

/// Why something in a policy store was ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum ProblemKind {
    /// A name that is not a [`PolicyKey`].
    UnknownKey,
    /// A value of the wrong type or outside what the key accepts.
    InvalidValue,
    /// A file or folder others than its expected owner could have written.
    UnsafePermissions,
    /// The store could not be read (permission denied, not a file, an IO error).
    Unreadable,
    /// Not JSON, not a plist, not a `.reg` export, or not an object of settings.
    BadFormat,
    /// A file over [`crate::MAX_FILE_BYTES`].
    TooLarge,
}

/// Something a policy store held that was ignored, and why. Never silent: the app logs these
/// and can show them to whoever manages the computer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// The file, folder, registry key or plist, as in [`PolicyValue::source`].
    pub source: String,
    /// The setting name (JSON key, registry value, plist key) when the problem is one entry.
    pub key: Option<String>,
    /// What kind of problem.
    pub kind: ProblemKind,
    /// Why, in English.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "{} ({key}): {}", self.source, self.message),
            None => write!(f, "{}: {}", self.source, self.message),
        }
    }
}

/// What the policy stores say: locked values, recommended values, and what was ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicySet {
    /// Locked values.
    pub mandatory: BTreeMap<PolicyKey, PolicyValue>,
    /// Starting values the user may change.
    pub recommended: BTreeMap<PolicyKey, PolicyValue>,
    /// What was ignored, in the order it was met.
    pub problems: Vec<Problem>,
}

impl PolicySet {
    /// No values and no problems.
    pub fn is_empty(&self) -> bool {
        self.mandatory.is_empty() && self.recommended.is_empty() && self.problems.is_empty()
    }

    /// The values of one level.
    pub fn level(&self, level: Level) -> &BTreeMap<PolicyKey, PolicyValue> {
        match level {
            Level::Recommended => &self.recommended,
            Level::Mandatory => &self.mandatory,
        }
    }

    /// Offers one entry of a store: a known key with a value it accepts replaces what an
    /// earlier entry set; anything else becomes a [`Problem`].
    pub fn offer(&mut self, level: Level, name: &str, value: &Value, source: &str) {
        let Some(key) = PolicyKey::from_name(name) else {
            self.problem(
                source,
                Some(name),
                ProblemKind::UnknownKey,
                unknown_key_message(name),
            );
            return;
        };
        self.offer_key(level, key, value, source);
    }

    /// [`PolicySet::offer`] for a name already matched to a key.
    pub fn offer_key(&mut self, level: Level, key: PolicyKey, value: &Value, source: &str) {
        match key.check(value) {
            Ok(value) => {
                let map = match level {
                    Level::Recommended => &mut self.recommended,
                    Level::Mandatory => &mut self.mandatory,
                };
                map.insert(
                    key,
                    PolicyValue {
                        value,
                        source: source.to_owned(),
                    },
                );
            }
            Err(why) => self.problem(source, Some(key.name()), ProblemKind::InvalidValue, why),
        }
    }

    /// Notes something ignored.
    pub fn problem(
        &mut self,
        source: &str,
        key: Option<&str>,
        kind: ProblemKind,
        message: impl Into<String>,
    ) {
        self.problems.push(Problem {
            source: source.to_owned(),
            key: key.map(shorten),
            kind,
            message: message.into(),
        });
    }

    /// Lays a later store over this one: its values replace these for the same key and
    /// level; problems of both are kept.
    pub fn extend(&mut self, later: PolicySet) {
        self.mandatory.extend(later.mandatory);
        self.recommended.extend(later.recommended);
        self.problems.extend(later.problems);
    }
}
