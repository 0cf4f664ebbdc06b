//! A roster file as a teacher picks it (`import_roster`): any bytes, read as spreadsheets save
//! them (`classroom::roster_from_bytes`: a byte-order mark, UTF-8, or a legacy encoding guessed
//! with the teacher's region; commas, semicolons or tabs; or an Excel workbook's first visible
//! sheet, its parts inflated within limits first), never panics, and what it reads is what
//! the server takes:
//!
//! - at most `MAX_ROSTER` entries, each one the server's check passes, ids unique;
//! - the signaling messages the app cuts it into are each within the server's limit, the first
//!   replacing and the rest adding, and together the roster in order;
//! - the attendance report of a class where nobody came lists every entry back, and no field
//!   of it starts like a spreadsheet formula (a name such as `=HYPERLINK(...)` is written
//!   with a `'` before it).
#![no_main]

use std::collections::HashSet;

use classroom::{AttendanceReport, ClassRequest, entry_is_valid, report_csv, roster_from_bytes};
use classroom_protocol::{ClientMessage, MAX_MESSAGE_BYTES, MAX_ROSTER, roster_requests};
use libfuzzer_sys::fuzz_target;

/// What a spreadsheet reads as a formula's start at a cell's beginning.
const FORMULA_STARTS: &[char] = &[
    '=', '+', '-', '@', '\t', '\r', '\u{ff1d}', '\u{ff0b}', '\u{ff0d}', '\u{ff20}',
];

fuzz_target!(|input: (u8, &[u8])| {
    let (hint, bytes) = input;
    let region = match hint % 4 {
        0 => None,
        1 => Some("cn"),
        2 => Some("tw"),
        _ => Some("de"),
    };
    let Ok(file) = roster_from_bytes(bytes, region) else {
        return;
    };
    let entries = file.entries;
    assert!(entries.len() <= MAX_ROSTER, "{} entries", entries.len());
    assert!([',', ';', '\t'].contains(&file.separator));
    let mut ids = HashSet::new();
    for e in &entries {
        assert!(entry_is_valid(e), "{e:?}");
        if let Some(id) = &e.id {
            assert!(ids.insert(id.clone()), "id {id:?} twice");
        }
    }

    let mut again = Vec::new();
    for (i, request) in roster_requests(entries.clone()).into_iter().enumerate() {
        let text = ClientMessage::Class(request.clone()).encode();
        assert!(text.len() <= MAX_MESSAGE_BYTES, "part {i}: {} bytes", text.len());
        match request {
            ClassRequest::SetRoster {
                entries: part,
                append,
            } => {
                assert_eq!(append, i > 0, "part {i}");
                again.extend(part);
            }
            other => panic!("part {i} is {other:?}"),
        }
    }
    assert_eq!(again, entries);

    let report = AttendanceReport {
        room: "fuzz".into(),
        made_ms: 0,
        rows: Vec::new(),
        absent: entries.clone(),
    };
    let csv = report_csv(&report);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = reader
        .records()
        .map(|r| r.expect("the report reads back"))
        .collect();
    assert_eq!(rows.len(), entries.len());
    for (row, e) in rows.iter().zip(&entries) {
        for field in row {
            assert!(!field.starts_with(FORMULA_STARTS), "{field:?}");
        }
        let name = &row[2];
        assert!(
            name == e.name || name.strip_prefix('\'') == Some(e.name.as_str()),
            "{name:?} for {:?}",
            e.name
        );
    }
});
