//! Policy as macOS managed preferences, for the bundle id `app.classroom.desktop`:
//!
//! - forced values of a configuration profile (locked): the computer's
//!   `/Library/Managed Preferences/app.classroom.desktop.plist`, then the user's
//!   `/Library/Managed Preferences/<user>/app.classroom.desktop.plist`, whose values replace
//!   the computer's (as `cfprefsd` layers them);
//! - `Set-Once` / `Often` values (recommended, not locked):
//!   `/Library/Preferences/app.classroom.desktop.plist`.
//!
//! A plist (XML or binary) is a dictionary of setting name to value: `<string>`, `<true/>` /
//! `<false/>`, or an `<array>` of strings (a `<date>` reads as its ISO 8601 text, `<data>` and
//! dictionaries are refused). The managed files and their folders must be owned by
//! root and writable by nobody else; the recommended file must be too (its folder is the admin
//! group's, which is trusted with recommendations). The parsing is compiled and tested on every
//! OS; only [`read_managed_preferences`] is macOS's.

use std::cell::Cell;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

use crate::MAX_FILE_BYTES;
use crate::fsread::{check_folder, read_file};
use crate::model::{Level, PolicySet, ProblemKind};

/// The app's bundle id: the preferences domain.
pub const BUNDLE_ID: &str = "app.classroom.desktop";
/// The computer's forced values.
pub const FORCED_PLIST: &str = "/Library/Managed Preferences/app.classroom.desktop.plist";
/// The recommended values.
pub const RECOMMENDED_PLIST: &str = "/Library/Preferences/app.classroom.desktop.plist";

/// The policy in a forced and a recommended plist's bytes, named [`FORCED_PLIST`] and
/// [`RECOMMENDED_PLIST`] in `why` and problems.
pub fn policy_from_plists(forced: Option<&[u8]>, recommended: Option<&[u8]>) -> PolicySet {
    let mut set = PolicySet::default();
    if let Some(bytes) = forced {
        add_plist(&mut set, Level::Mandatory, FORCED_PLIST, bytes);
    }
    if let Some(bytes) = recommended {
        add_plist(&mut set, Level::Recommended, RECOMMENDED_PLIST, bytes);
    }
    set
}

/// Adds one plist's settings to `set`, each under `source`; what is refused becomes a problem.
/// Never panics, whatever the bytes.
pub fn add_plist(set: &mut PolicySet, level: Level, source: &str, bytes: &[u8]) {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        let message = format!("larger than {MAX_FILE_BYTES} bytes");
        set.problem(source, None, ProblemKind::TooLarge, message);
        return;
    }
    let entries = match read_entries(bytes) {
        Ok(entries) => entries,
        Err(why) => {
            set.problem(source, None, ProblemKind::BadFormat, why);
            return;
        }
    };
    for (name, value) in entries {
        match value {
            Ok(json) => set.offer(level, &name, &json, source),
            Err(_) if crate::PolicyKey::from_name(&name).is_none() => {
                let message = crate::model::unknown_key_message(&name);
                set.problem(source, Some(&name), ProblemKind::UnknownKey, message);
            }
            Err(why) => {
                let message = format!("{name} must not be {why}");
                set.problem(source, Some(&name), ProblemKind::InvalidValue, message);
            }
        }
    }
}

/// More values than any policy has: a binary plist can refer to one array from many places,
/// so a small file can unfold into a great many.
const MAX_VALUES: usize = 100_000;
/// Deeper than any policy value (an array of strings is 2); past it, a file is refused.
const MAX_DEPTH: usize = 16;

type Entries = Vec<(String, Result<Value, String>)>;

/// The top dictionary's entries, each a JSON value or what it is instead (settings are
/// strings, booleans or arrays of them). Read through serde with a depth and a count limit
/// rather than as a `plist::Value`, which is built (and dropped) recursively: a deeply nested
/// file would exhaust the stack. Err: the file is not a plist of a dictionary.
fn read_entries(bytes: &[u8]) -> Result<Entries, String> {
    if bytes.is_empty() {
        return Err("empty".to_owned());
    }
    plist::from_bytes::<TopLevel>(bytes)
        .map(|top| top.0)
        .map_err(|e| format!("not a property list of settings: {}", error_text(&e)))
}

/// The plist crate's error in words: its `Display` is its `Debug`, which wraps what serde
/// said (ours, e.g. "nested more than 16 deep") as `Serde("...")`.
fn error_text(e: &plist::Error) -> String {
    let text = e.to_string();
    match text
        .strip_prefix("Serde(\"")
        .and_then(|t| t.strip_suffix("\")"))
    {
        Some(said) => said.replace("\\\"", "\""),
        None => text,
    }
}

struct TopLevel(Entries);

impl<'de> Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let budget = Cell::new(MAX_VALUES);
        deserializer
            .deserialize_any(TopVisitor(&budget))
            .map(TopLevel)
    }
}

fn spend<E: de::Error>(budget: &Cell<usize>) -> Result<(), E> {
    let left = budget.get();
    if left == 0 {
        return Err(E::custom(format!("more than {MAX_VALUES} values")));
    }
    budget.set(left - 1);
    Ok(())
}

struct TopVisitor<'b>(&'b Cell<usize>);

impl<'de> Visitor<'de> for TopVisitor<'_> {
    type Value = Entries;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a dictionary of setting names to values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
        let mut entries = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            spend(self.0)?;
            let value = map.next_value_seed(Node {
                budget: self.0,
                in_array: false,
            })?;
            entries.push((name, value));
        }
        Ok(entries)
    }
}

/// A setting's value (`in_array`: an item of one): Ok as JSON, or Err saying what it is
/// instead. What it holds past that is skipped, not read.
#[derive(Clone, Copy)]
struct Node<'b> {
    budget: &'b Cell<usize>,
    in_array: bool,
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Result<Value, String>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Result<Value, String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, a boolean, a number or an array of them")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Ok(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Ok(Value::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Ok(Value::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| "a number that is not finite".to_owned()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Ok(Value::from(v)))
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Self::Value, E> {
        Ok(Err("data".to_owned()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        if self.in_array {
            while seq.next_element_seed(Skip::new(self.budget, 2))?.is_some() {}
            return Ok(Err("an array inside an array".to_owned()));
        }
        let item = Node {
            in_array: true,
            ..self
        };
        let mut items = Vec::new();
        let mut refused = None;
        while let Some(value) = seq.next_element_seed(item)? {
            spend(self.budget)?;
            match value {
                Ok(value) => items.push(value),
                Err(what) if refused.is_none() => refused = Some(what),
                Err(_) => {}
            }
        }
        Ok(match refused {
            Some(what) if what.ends_with("inside an array") => Err(what),
            Some(what) => Err(format!("{what} inside an array")),
            None => Ok(Value::Array(items)),
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Skip::new(self.budget, if self.in_array { 2 } else { 1 }).visit_map(map)?;
        Ok(Err("a dictionary".to_owned()))
    }
}

/// Past a value without keeping it, refusing the file when it is deeper than [`MAX_DEPTH`].
#[derive(Clone, Copy)]
struct Skip<'b> {
    budget: &'b Cell<usize>,
    depth: usize,
}

impl<'b> Skip<'b> {
    fn new(budget: &'b Cell<usize>, depth: usize) -> Skip<'b> {
        Skip { budget, depth }
    }

    fn deeper<E: de::Error>(self) -> Result<Skip<'b>, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom(format!("nested more than {MAX_DEPTH} deep")));
        }
        Ok(Skip::new(self.budget, self.depth + 1))
    }
}

impl<'de> DeserializeSeed<'de> for Skip<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        spend(self.budget)?;
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any plist value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let inner = self.deeper()?;
        while seq.next_element_seed(inner)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let inner = self.deeper()?;
        while map.next_key_seed(inner)?.is_some() {
            map.next_value_seed(inner)?;
        }
        Ok(())
    }
}

/// The managed preferences under `library` (`/Library` on a Mac) for `user` (their short
/// name; `None`: the computer's only), the files and folders owned by `owner` (root: 0).
/// A user name with a `/` or starting with `.` is refused with a problem.
pub fn read_managed_preferences_from(library: &Path, user: Option<&str>, owner: u32) -> PolicySet {
    let mut set = PolicySet::default();
    let managed = library.join("Managed Preferences");
    let plist = format!("{BUNDLE_ID}.plist");
    let mut forced = vec![managed.clone()];
    match user {
        Some(user) if user.is_empty() || user.contains('/') || user.starts_with('.') => {
            let source = managed.display().to_string();
            let message = format!("{:?} is not a user name; read the computer's only", user);
            set.problem(&source, None, ProblemKind::Unreadable, message);
        }
        Some(user) => forced.push(managed.join(user)),
        None => {}
    }
    for folder in forced {
        match check_folder(&folder, owner) {
            Ok(true) => read_plist_file(&mut set, Level::Mandatory, &folder.join(&plist), owner),
            Ok(false) => {}
            Err(refused) => {
                let source = folder.display().to_string();
                set.problem(&source, None, refused.kind, refused.message);
            }
        }
    }
    let recommended = library.join("Preferences").join(&plist);
    read_plist_file(&mut set, Level::Recommended, &recommended, owner);
    set
}

fn read_plist_file(set: &mut PolicySet, level: Level, path: &Path, owner: u32) {
    let source = path.display().to_string();
    match read_file(path, owner) {
        Ok(Some(bytes)) => add_plist(set, level, &source, &bytes),
        Ok(None) => {}
        Err(refused) => set.problem(&source, None, refused.kind, refused.message),
    }
}

/// This Mac's managed preferences for `user` (their short name; `None`: the computer's only).
#[cfg(target_os = "macos")]
pub fn read_managed_preferences(user: Option<&str>) -> PolicySet {
    read_managed_preferences_from(Path::new("/Library"), user, 0)
}
