//! Policy in the Windows registry: the values of `HKLM\SOFTWARE\Policies\Classroom\Classroom`
//! (locked) and of its `Recommended` subkey, as Group Policy or an MDM writes them.
//!
//! The mapping (compiled and tested on every OS; only [`read_registry`] needs Windows):
//! - value names match the keys in any case (the registry ignores case);
//! - strings (`serverUrl`, `language`, `updates`, `theme`, `downloadLimit`): `REG_SZ` or
//!   `REG_EXPAND_SZ` (not expanded);
//! - `studentsMayRecord`: `REG_DWORD` 0 (false) or 1 (true);
//! - `screenShareSources`: `REG_MULTI_SZ` (one source a string), or a JSON array in a
//!   `REG_SZ` (`["screen","window"]`), which some management consoles find easier.
//!
//! Anything else is a [`Problem`](crate::Problem) naming the key and the value.

use serde_json::Value;

use crate::model::{Level, PolicyKey, PolicySet, ProblemKind, ValueKind, shorten};
use crate::reg_export::RegExport;

/// The locked values' key, as the `why` of a value from it names it.
pub const POLICY_KEY: &str = r"HKLM\SOFTWARE\Policies\Classroom\Classroom";
/// The recommended values' key.
pub const RECOMMENDED_KEY: &str = r"HKLM\SOFTWARE\Policies\Classroom\Classroom\Recommended";
/// [`POLICY_KEY`] below `HKEY_LOCAL_MACHINE`.
pub const POLICY_SUBKEY: &str = r"SOFTWARE\Policies\Classroom\Classroom";
/// [`RECOMMENDED_KEY`] below `HKEY_LOCAL_MACHINE`.
pub const RECOMMENDED_SUBKEY: &str = r"SOFTWARE\Policies\Classroom\Classroom\Recommended";

const REG_NONE: u32 = 0;
const REG_SZ: u32 = 1;
const REG_EXPAND_SZ: u32 = 2;
const REG_BINARY: u32 = 3;
const REG_DWORD: u32 = 4;
const REG_DWORD_BIG_ENDIAN: u32 = 5;
const REG_MULTI_SZ: u32 = 7;
const REG_QWORD: u32 = 11;

/// A registry value's data.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegValue {
    /// `REG_SZ`.
    Sz(String),
    /// `REG_EXPAND_SZ`.
    ExpandSz(String),
    /// `REG_MULTI_SZ`.
    MultiSz(Vec<String>),
    /// `REG_DWORD` (and `REG_DWORD_BIG_ENDIAN`, decoded).
    Dword(u32),
    /// `REG_QWORD`.
    Qword(u64),
    /// `REG_BINARY`.
    Binary(Vec<u8>),
    /// Any other type, or data the wrong length for its type.
    Other {
        /// The `REG_*` number.
        kind: u32,
        /// The raw data.
        bytes: Vec<u8>,
    },
}

impl RegValue {
    /// Decodes a value as the registry stores it: a `REG_*` type number and its bytes
    /// (strings UTF-16LE, NUL-terminated; numbers little-endian).
    pub fn from_raw(kind: u32, bytes: &[u8]) -> RegValue {
        match kind {
            REG_SZ => RegValue::Sz(first_string(&utf16le(bytes))),
            REG_EXPAND_SZ => RegValue::ExpandSz(first_string(&utf16le(bytes))),
            REG_MULTI_SZ => RegValue::MultiSz(string_list(&utf16le(bytes))),
            REG_BINARY => RegValue::Binary(bytes.to_vec()),
            REG_DWORD => match <[u8; 4]>::try_from(bytes) {
                Ok(b) => RegValue::Dword(u32::from_le_bytes(b)),
                Err(_) => other(kind, bytes),
            },
            REG_DWORD_BIG_ENDIAN => match <[u8; 4]>::try_from(bytes) {
                Ok(b) => RegValue::Dword(u32::from_be_bytes(b)),
                Err(_) => other(kind, bytes),
            },
            REG_QWORD => match <[u8; 8]>::try_from(bytes) {
                Ok(b) => RegValue::Qword(u64::from_le_bytes(b)),
                Err(_) => other(kind, bytes),
            },
            _ => other(kind, bytes),
        }
    }

    /// [`RegValue::from_raw`] for the narrow (one byte a character) strings of a `REGEDIT4`
    /// export.
    pub(crate) fn from_raw_narrow(kind: u32, bytes: &[u8]) -> RegValue {
        let text = || String::from_utf8_lossy(bytes).into_owned();
        match kind {
            REG_SZ => RegValue::Sz(first_string(&text())),
            REG_EXPAND_SZ => RegValue::ExpandSz(first_string(&text())),
            REG_MULTI_SZ => RegValue::MultiSz(string_list(&text())),
            _ => RegValue::from_raw(kind, bytes),
        }
    }

    /// The type's name, for messages (`REG_SZ`).
    pub fn type_name(&self) -> String {
        match self {
            RegValue::Sz(_) => "REG_SZ".to_owned(),
            RegValue::ExpandSz(_) => "REG_EXPAND_SZ".to_owned(),
            RegValue::MultiSz(_) => "REG_MULTI_SZ".to_owned(),
            RegValue::Dword(_) => "REG_DWORD".to_owned(),
            RegValue::Qword(_) => "REG_QWORD".to_owned(),
            RegValue::Binary(_) => "REG_BINARY".to_owned(),
            RegValue::Other { kind, .. } => match *kind {
                REG_NONE => "REG_NONE".to_owned(),
                REG_DWORD => "REG_DWORD of the wrong length".to_owned(),
                REG_DWORD_BIG_ENDIAN => "REG_DWORD_BIG_ENDIAN of the wrong length".to_owned(),
                REG_QWORD => "REG_QWORD of the wrong length".to_owned(),
                k => format!("registry type {k}"),
            },
        }
    }
}

fn other(kind: u32, bytes: &[u8]) -> RegValue {
    RegValue::Other {
        kind,
        bytes: bytes.to_vec(),
    }
}

fn utf16le(bytes: &[u8]) -> String {
    let units = bytes
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]));
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// Up to the first NUL: the registry keeps the terminator, and sometimes junk after it.
fn first_string(text: &str) -> String {
    text.split('\0').next().unwrap_or_default().to_owned()
}

/// A `REG_MULTI_SZ`'s strings: NUL-separated, ended by an empty string.
fn string_list(text: &str) -> Vec<String> {
    text.split('\0')
        .take_while(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A registry value as the JSON the key's [`PolicyKey::check`] takes, or why its type does
/// not fit the key.
pub fn reg_to_json(key: PolicyKey, value: &RegValue) -> Result<Value, String> {
    let wrong = |expected: &str| {
        Err(format!(
            "{key} must be {expected}, not {}",
            describe_reg(value)
        ))
    };
    match (key.kind(), value) {
        (ValueKind::String, RegValue::Sz(s) | RegValue::ExpandSz(s)) => Ok(Value::from(s.as_str())),
        (ValueKind::String, _) => wrong("a REG_SZ"),
        (ValueKind::Bool, RegValue::Dword(0)) => Ok(Value::Bool(false)),
        (ValueKind::Bool, RegValue::Dword(1)) => Ok(Value::Bool(true)),
        (ValueKind::Bool, _) => wrong("a REG_DWORD of 0 or 1"),
        (ValueKind::StringList, RegValue::MultiSz(items)) => Ok(Value::from(items.clone())),
        (ValueKind::StringList, RegValue::Sz(s)) if s.trim_start().starts_with('[') => {
            serde_json::from_str(s).map_err(|e| format!("{key} is not a JSON array: {e}"))
        }
        (ValueKind::StringList, _) => wrong("a REG_MULTI_SZ, or a JSON array in a REG_SZ"),
    }
}

fn describe_reg(value: &RegValue) -> String {
    match value {
        RegValue::Sz(s) | RegValue::ExpandSz(s) => {
            format!("the {} {:?}", value.type_name(), shorten(s))
        }
        RegValue::Dword(n) => format!("the REG_DWORD {n}"),
        RegValue::Qword(n) => format!("the REG_QWORD {n}"),
        _ => format!("a {}", value.type_name()),
    }
}

/// Adds one registry key's values to `set`, each under `source` (the key's path); what is
/// refused becomes a problem.
pub fn add_registry_values(
    set: &mut PolicySet,
    level: Level,
    source: &str,
    values: &[(String, RegValue)],
) {
    for (name, value) in values {
        let Some(key) = PolicyKey::from_name_ignore_case(name) else {
            let message = crate::model::unknown_key_message(name);
            set.problem(source, Some(name), ProblemKind::UnknownKey, message);
            continue;
        };
        match reg_to_json(key, value) {
            Ok(json) => set.offer_key(level, key, &json, source),
            Err(why) => set.problem(source, Some(key.name()), ProblemKind::InvalidValue, why),
        }
    }
}

/// The policy in the values of [`POLICY_KEY`] (locked) and [`RECOMMENDED_KEY`].
pub fn policy_from_registry(
    mandatory: &[(String, RegValue)],
    recommended: &[(String, RegValue)],
) -> PolicySet {
    let mut set = PolicySet::default();
    add_registry_values(&mut set, Level::Mandatory, POLICY_KEY, mandatory);
    add_registry_values(&mut set, Level::Recommended, RECOMMENDED_KEY, recommended);
    set
}

/// The policy in a `.reg` export (parsed by [`crate::parse_reg_export`]): the values of
/// [`POLICY_KEY`] and [`RECOMMENDED_KEY`], written `HKEY_LOCAL_MACHINE\...` or `HKLM\...` in
/// any case. Other keys in the export are left alone.
pub fn policy_from_reg_export(export: &RegExport) -> PolicySet {
    let find = |subkey: &str| -> Vec<(String, RegValue)> {
        export
            .iter()
            .filter(|(path, _)| is_hklm_path(path, subkey))
            .flat_map(|(_, values)| values.iter().cloned())
            .collect()
    };
    policy_from_registry(&find(POLICY_SUBKEY), &find(RECOMMENDED_SUBKEY))
}

fn is_hklm_path(path: &str, subkey: &str) -> bool {
    let Some((hive, rest)) = path.split_once('\\') else {
        return false;
    };
    (hive.eq_ignore_ascii_case("HKEY_LOCAL_MACHINE") || hive.eq_ignore_ascii_case("HKLM"))
        && rest.trim_end_matches('\\').eq_ignore_ascii_case(subkey)
}

/// The policy in this computer's registry. A missing key is no policy; a key or value that
/// cannot be read is a problem.
#[cfg(windows)]
pub fn read_registry() -> PolicySet {
    use winreg::RegKey;
    use winreg::enums::{HKEY_LOCAL_MACHINE, KEY_READ, KEY_WOW64_64KEY};

    fn values(
        hklm: &RegKey,
        subkey: &str,
        source: &str,
        set: &mut PolicySet,
    ) -> Vec<(String, RegValue)> {
        // The 64-bit view: Policies is shared between the views, but say so rather than rely
        // on it.
        let key = match hklm.open_subkey_with_flags(subkey, KEY_READ | KEY_WOW64_64KEY) {
            Ok(key) => key,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
            Err(e) => {
                let message = format!("cannot open the key: {e}");
                set.problem(source, None, ProblemKind::Unreadable, message);
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for item in key.enum_values() {
            match item {
                Ok((name, value)) => {
                    let kind = value.vtype.clone() as u32;
                    out.push((name, RegValue::from_raw(kind, &value.bytes)));
                }
                Err(e) => {
                    let message = format!("cannot read a value: {e}");
                    set.problem(source, None, ProblemKind::Unreadable, message);
                }
            }
        }
        out
    }

    let hklm = RegKey::predef(HKEY_LOCAL_MACHINE);
    let mut problems = PolicySet::default();
    let mandatory = values(&hklm, POLICY_SUBKEY, POLICY_KEY, &mut problems);
    let recommended = values(&hklm, RECOMMENDED_SUBKEY, RECOMMENDED_KEY, &mut problems);
    let mut set = policy_from_registry(&mandatory, &recommended);
    set.problems.splice(0..0, problems.problems);
    set
}
