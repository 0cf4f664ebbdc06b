//! The roster: the students a class expects, so the report can list who did not come.
//!
//! Entries with an id match a token's identity; entries without match a joiner's name
//! (case and spacing ignored). Read from a school's CSV or Excel file by `file`.

use std::collections::HashMap;

use classroom_protocol::{MAX_NAME_CHARS, MAX_ROSTER, MAX_ROSTER_ID_CHARS, RosterEntry};

/// Why a roster file could not be read. Lines count from 1, header included.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RosterError {
    /// The CSV itself could not be read.
    #[error("line {line}: {message}")]
    Csv {
        /// Where.
        line: u64,
        /// What the CSV reader said.
        message: String,
    },
    /// A row without a name.
    #[error("line {line}: the name is empty")]
    EmptyName {
        /// Where.
        line: u64,
    },
    /// A name longer than a display name may be.
    #[error("line {line}: the name is longer than {MAX_NAME_CHARS} characters")]
    NameTooLong {
        /// Where.
        line: u64,
    },
    /// A student id longer than a roster takes.
    #[error("line {line}: the student id is longer than {MAX_ROSTER_ID_CHARS} characters")]
    IdTooLong {
        /// Where.
        line: u64,
    },
    /// The same student id twice.
    #[error("line {line}: student id {id:?} appears twice")]
    DuplicateId {
        /// Where (the second time).
        line: u64,
        /// The id.
        id: String,
    },
    /// A header row without a `name` column.
    #[error("line {line}: the header has no \"name\" column")]
    NoNameColumn {
        /// The header's line.
        line: u64,
    },
    /// More students than a class takes.
    #[error("line {line}: more than {MAX_ROSTER} students")]
    TooLong {
        /// The first row too many.
        line: u64,
    },
    /// A spreadsheet workbook this does not read (`.xls`, `.ods`; `.xlsx` too without the
    /// `workbook` feature) instead of its CSV.
    #[error(
        "this workbook is not one the app reads: save the sheet as an Excel workbook (.xlsx) \
         or as CSV (in Excel: File > Save As > CSV UTF-8) and choose that file"
    )]
    Workbook,
    /// An Excel workbook (`.xlsx`) that cannot be read: damaged, protected with a password,
    /// unpacking to more than the app takes, or without a visible worksheet.
    #[error("the workbook cannot be read: {reason}")]
    UnreadableWorkbook {
        /// Why, in English.
        reason: String,
    },
    /// Bytes that are not text in the encoding they were read in.
    #[error("the file is not text (read as {encoding}, some of its bytes are not)")]
    NotText {
        /// The encoding the bytes were read in.
        encoding: &'static str,
    },
}

/// A roster file read: its students, and how its bytes were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterFile {
    /// The students, in the file's order.
    pub entries: Vec<RosterEntry>,
    /// The encoding the bytes were read in (WHATWG name: "UTF-8", "GBK", "UTF-16LE",
    /// "windows-1252", ...).
    pub encoding: &'static str,
    /// The field separator found: `,`, `;` or a tab.
    pub separator: char,
    /// The worksheet read, when the file was a workbook (its encoding is then UTF-8 and its
    /// separator a comma, as its cells need none).
    pub sheet: Option<String>,
    /// A workbook's visible worksheets, in order (empty for a text file): the others can be
    /// read instead ([`roster_from_file`]).
    pub sheets: Vec<String>,
}

/// A roster file refused: why, and for a workbook that opened, the sheet read and its visible
/// sheets, so another can be chosen (a school's workbook often starts with a cover or a
/// summary sheet, which has no names to read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterRefusal {
    /// Why.
    pub error: RosterError,
    /// The worksheet read, when the file was a workbook that opened.
    pub sheet: Option<String>,
    /// That workbook's visible worksheets, in order (empty otherwise).
    pub sheets: Vec<String>,
}

impl From<RosterError> for RosterRefusal {
    fn from(error: RosterError) -> Self {
        RosterRefusal {
            error,
            sheet: None,
            sheets: Vec::new(),
        }
    }
}

/// Columns read from each row of a roster file or sheet; fields further right are left out
/// (a roster's name and id are in the first few, and a line of a million commas is not
/// made a million fields).
pub(crate) const MAX_COLUMNS: usize = 256;

mod file;
pub use file::{roster_from_bytes, roster_from_csv, roster_from_file};

/// What makes a roster entry one a class does not take.
enum EntryProblem {
    /// The name is empty or only spaces.
    NoName,
    /// The name is longer than [`MAX_NAME_CHARS`] characters.
    NameTooLong,
    /// The id is empty or longer than [`MAX_ROSTER_ID_CHARS`] characters.
    BadId,
}

/// The first rule `e` breaks, name before id; the one set of rules for a roster read from
/// CSV and for every entry the server is sent.
fn entry_problem(e: &RosterEntry) -> Option<EntryProblem> {
    if e.name.trim().is_empty() {
        Some(EntryProblem::NoName)
    } else if e.name.chars().count() > MAX_NAME_CHARS {
        Some(EntryProblem::NameTooLong)
    } else if e
        .id
        .as_ref()
        .is_some_and(|id| id.is_empty() || id.chars().count() > MAX_ROSTER_ID_CHARS)
    {
        Some(EntryProblem::BadId)
    } else {
        None
    }
}

/// Whether a roster entry is one a class takes: a name of 1 to [`MAX_NAME_CHARS`]
/// characters that is not only spaces, and an id, when there is one, of 1 to
/// [`MAX_ROSTER_ID_CHARS`]. The server checks every entry it is sent; a roster read by
/// [`roster_from_csv`] always passes.
pub fn entry_is_valid(e: &RosterEntry) -> bool {
    entry_problem(e).is_none()
}

/// A name as rosters are matched: spacing and case ignored.
pub(crate) fn match_key(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// A class's roster with its indexes.
#[derive(Debug, Default)]
pub(crate) struct Roster {
    entries: Vec<RosterEntry>,
    by_id: HashMap<String, u32>,
    /// Entries without an id, by name.
    by_name: HashMap<String, Vec<u32>>,
    /// How many came as each entry.
    claimed: Vec<u32>,
}

impl Roster {
    pub(crate) fn new(entries: Vec<RosterEntry>) -> Self {
        let mut roster = Roster {
            claimed: vec![0; entries.len()],
            ..Roster::default()
        };
        for (i, e) in entries.iter().enumerate() {
            match &e.id {
                Some(id) => {
                    roster.by_id.entry(id.clone()).or_insert(i as u32);
                }
                None => roster
                    .by_name
                    .entry(match_key(&e.name))
                    .or_default()
                    .push(i as u32),
            }
        }
        roster.entries = entries;
        roster
    }

    /// The entry someone is, if any: by identity, else by name among entries without an
    /// id (one nobody came as first). `current` is kept while it still fits, so coming
    /// back does not claim a namesake's entry.
    pub(crate) fn lookup(&self, identity: &str, name: &str, current: Option<u32>) -> Option<u32> {
        if let Some(i) = self.by_id.get(identity) {
            return Some(*i);
        }
        let same = self.by_name.get(&match_key(name))?;
        if let Some(c) = current
            && same.contains(&c)
        {
            return Some(c);
        }
        same.iter()
            .copied()
            .find(|i| self.claimed.get(*i as usize) == Some(&0))
            .or_else(|| same.first().copied())
    }

    /// How many entries.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entries, in order.
    pub(crate) fn into_entries(self) -> Vec<RosterEntry> {
        self.entries
    }

    /// Someone came as entry `i`.
    pub(crate) fn claim(&mut self, i: u32) {
        if let Some(n) = self.claimed.get_mut(i as usize) {
            *n += 1;
        }
    }

    pub(crate) fn name(&self, i: u32) -> Option<&str> {
        self.entries.get(i as usize).map(|e| e.name.as_str())
    }

    /// Entries nobody came as.
    pub(crate) fn absent(&self) -> Vec<RosterEntry> {
        self.entries
            .iter()
            .zip(&self.claimed)
            .filter(|(_, n)| **n == 0)
            .map(|(e, _)| e.clone())
            .collect()
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn entry(name: &str, id: Option<&str>) -> RosterEntry {
        RosterEntry {
            name: name.into(),
            id: id.map(str::to_owned),
        }
    }

    #[test]
    fn lookup_by_id_then_by_name_prefers_unclaimed_namesakes() {
        let mut r = Roster::new(vec![
            entry("Ana Li", Some("s-1")),
            entry("Ben Okafor", None),
            entry("ben  OKAFOR", None),
        ]);
        assert_eq!(r.lookup("s-1", "whoever", None), Some(0));
        assert_eq!(
            r.lookup("x", "Ana Li", None),
            None,
            "entries with an id match by id"
        );
        assert_eq!(r.lookup("x", "Ben Okafor", None), Some(1));
        r.claim(1);
        assert_eq!(r.lookup("y", "BEN okafor", None), Some(2));
        assert_eq!(
            r.lookup("x", "Ben Okafor", Some(1)),
            Some(1),
            "keeps its own"
        );
        r.claim(2);
        assert_eq!(r.absent(), vec![entry("Ana Li", Some("s-1"))]);
        assert_eq!(r.name(2), Some("ben  OKAFOR"));
    }
}
