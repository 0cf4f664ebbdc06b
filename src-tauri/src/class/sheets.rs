//! The class's files in spreadsheets: what a roster file gave (`import_roster`'s answer,
//! worded by the page), the words and clock the teacher's attendance file is written in
//! (`export_report`'s argument, checked here), and the attendance file written to disk.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::AppError;

/// What a roster file gave: the `import_roster` command's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(
    tag = "outcome",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum RosterImport {
    /// The roster went to the class.
    Imported {
        /// How many students it lists.
        students: usize,
        /// How the file's bytes were read ("UTF-8", "GBK", "UTF-16LE", "windows-1252", ...).
        encoding: String,
        /// The field separator found: `,`, `;` or a tab.
        separator: String,
        /// The worksheet read, when the file was an Excel workbook.
        sheet: Option<String>,
        /// The workbook's visible worksheets in order (empty for a text file): the page
        /// offers the others, read by their number in this list (`roster-sheet`).
        sheets: Vec<String>,
    },
    /// The file was not taken (nothing was sent: the class keeps the roster it had); the
    /// page says why in the teacher's language.
    Refused {
        /// Why.
        problem: RosterProblem,
        /// The worksheet read, when the file was an Excel workbook that opened.
        sheet: Option<String>,
        /// That workbook's visible worksheets in order (empty otherwise): the page offers
        /// the others, as for an imported workbook (its first sheet may be a cover).
        sheets: Vec<String>,
    },
}

impl RosterImport {
    /// A file refused before it was read (its size).
    pub fn refused(problem: RosterProblem) -> RosterImport {
        RosterImport::Refused {
            problem,
            sheet: None,
            sheets: Vec::new(),
        }
    }
}

impl From<classroom::RosterRefusal> for RosterImport {
    fn from(r: classroom::RosterRefusal) -> RosterImport {
        RosterImport::Refused {
            problem: RosterProblem::from(r.error),
            sheet: r.sheet,
            sheets: r.sheets,
        }
    }
}

/// Why a roster file was not taken. Lines count from 1, the header included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum RosterProblem {
    /// Larger than the app takes.
    TooLarge {
        /// The limit, in MB.
        max_mb: usize,
    },
    /// A workbook the app does not read (`.xls`, `.ods`), not its `.xlsx` or CSV.
    Workbook,
    /// An Excel workbook (`.xlsx`) that cannot be read.
    UnreadableWorkbook {
        /// Why (the reader's words, in English).
        detail: String,
    },
    /// Not text in the encoding it was read in.
    NotText {
        /// That encoding.
        encoding: String,
    },
    /// A header row without a name column.
    NoNameColumn {
        /// The header's line.
        line: u32,
    },
    /// A row without a name.
    EmptyName {
        /// Where.
        line: u32,
    },
    /// A name longer than a display name may be.
    NameTooLong {
        /// Where.
        line: u32,
        /// The longest name, in characters.
        max: usize,
    },
    /// A student id longer than a roster takes.
    IdTooLong {
        /// Where.
        line: u32,
        /// The longest id, in characters.
        max: usize,
    },
    /// The same student id twice.
    DuplicateId {
        /// Where (the second time).
        line: u32,
        /// The id.
        id: String,
    },
    /// More students than a class takes.
    TooMany {
        /// The first row too many.
        line: u32,
        /// The most a class takes.
        max: usize,
    },
    /// The CSV itself is broken there (the CSV reader's words, in English).
    Csv {
        /// Where.
        line: u32,
        /// What the reader said.
        detail: String,
    },
}

impl From<classroom::RosterError> for RosterProblem {
    fn from(e: classroom::RosterError) -> Self {
        use classroom::RosterError as E;
        use classroom_protocol::{MAX_NAME_CHARS, MAX_ROSTER, MAX_ROSTER_ID_CHARS};
        // A file of at most a few MB has far fewer lines than u32 counts (u64 is a bigint in
        // TypeScript).
        let at = |line: u64| u32::try_from(line).unwrap_or(u32::MAX);
        match e {
            E::Workbook => Self::Workbook,
            E::UnreadableWorkbook { reason } => Self::UnreadableWorkbook { detail: reason },
            E::NotText { encoding } => Self::NotText {
                encoding: encoding.to_owned(),
            },
            E::NoNameColumn { line } => Self::NoNameColumn { line: at(line) },
            E::EmptyName { line } => Self::EmptyName { line: at(line) },
            E::NameTooLong { line } => Self::NameTooLong {
                line: at(line),
                max: MAX_NAME_CHARS,
            },
            E::IdTooLong { line } => Self::IdTooLong {
                line: at(line),
                max: MAX_ROSTER_ID_CHARS,
            },
            E::DuplicateId { line, id } => Self::DuplicateId { line: at(line), id },
            E::TooLong { line } => Self::TooMany {
                line: at(line),
                max: MAX_ROSTER,
            },
            E::Csv { line, message } => Self::Csv {
                line: at(line),
                detail: message,
            },
            // A kind added to the reader later: its words, at its line if it has one.
            other => Self::Csv {
                line: 0,
                detail: other.to_string(),
            },
        }
    }
}

/// The words and clock the teacher's attendance file is written in, from the page's
/// catalogue in the teacher's language (`export_report`'s argument).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ReportWords {
    /// A name for each column, in the order of `classroom::REPORT_COLUMNS` (status, identity,
    /// name, role, roster name, first joined, last left, minutes, reconnects, roll calls
    /// answered, roll calls, hands raised, chat messages, quiz correct, quiz questions).
    pub columns: Vec<String>,
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
    /// The teacher's time zone now, in minutes east of UTC (`-Date.getTimezoneOffset()`):
    /// the file's times are local times there.
    pub utc_offset_minutes: i32,
}

/// The longest word of a [`ReportWords`], in characters.
pub const MAX_REPORT_WORD_CHARS: usize = 64;

impl ReportWords {
    /// The style the file is written in; `Err` names what the page sent wrong.
    pub fn style(self) -> Result<classroom::ReportStyle, String> {
        let columns: [String; classroom::REPORT_COLUMNS.len()] =
            self.columns.try_into().map_err(|c: Vec<String>| {
                format!(
                    "{} column names for {} columns",
                    c.len(),
                    classroom::REPORT_COLUMNS.len()
                )
            })?;
        let words = columns.iter().chain([
            &self.present,
            &self.left,
            &self.absent,
            &self.teacher,
            &self.assistant,
            &self.student,
            &self.observer,
            &self.other,
        ]);
        for word in words {
            let chars = word.chars().count();
            if chars == 0 || chars > MAX_REPORT_WORD_CHARS || word.chars().any(char::is_control) {
                return Err(format!(
                    "a report word must be 1 to {MAX_REPORT_WORD_CHARS} characters without \
                     control characters ({chars} characters)"
                ));
            }
        }
        // Time zones lie within UTC-12:00 and UTC+14:00.
        if !(-12 * 60..=14 * 60).contains(&self.utc_offset_minutes) {
            return Err(format!(
                "{} minutes is not a time zone's offset",
                self.utc_offset_minutes
            ));
        }
        Ok(classroom::ReportStyle {
            columns,
            present: self.present,
            left: self.left,
            absent: self.absent,
            teacher: self.teacher,
            assistant: self.assistant,
            student: self.student,
            observer: self.observer,
            other: self.other,
            utc_offset_minutes: Some(self.utc_offset_minutes),
        })
    }
}

/// An attendance report written to disk: the `export_report` command's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SavedReport {
    /// Where the CSV was written.
    pub path: String,
    /// The CSV itself (for copying or a save dialog).
    pub csv: String,
    /// People who came.
    pub present: usize,
    /// Roster entries nobody matched.
    pub absent: usize,
}

/// Writes `report` as CSV in `style` into `dir` (`<room>-<unix ms>.csv`), creating the
/// folder.
pub fn save_report(
    dir: &std::path::Path,
    report: &classroom_protocol::AttendanceReport,
    style: &classroom::ReportStyle,
) -> Result<SavedReport, AppError> {
    let csv = classroom::report_csv_styled(report, style);
    let name: String = report
        .room
        .chars()
        .take(64)
        .map(|c| {
            if c.is_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = dir.join(format!("{name}-{}.csv", report.made_ms));
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&path, classroom::csv_file_bytes(&csv)))
        .map_err(|e| AppError::Internal(format!("cannot save the report: {e}")))?;
    Ok(SavedReport {
        path: path.display().to_string(),
        csv,
        present: report.rows.len(),
        absent: report.absent.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_words_from_the_page_are_checked_before_they_style_a_file() {
        let words = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v = serde_json::json!({
                "columns": (0..15).map(|i| format!("列{i}")).collect::<Vec<_>>(),
                "present": "在课堂", "left": "已离开", "absent": "缺席", "teacher": "老师",
                "assistant": "助教", "student": "学生", "observer": "旁听", "other": "其他",
                "utcOffsetMinutes": 480
            });
            f(&mut v);
            serde_json::from_value::<ReportWords>(v)
                .expect("the page's shape")
                .style()
        };
        let style = words(&|_| {}).expect("fine");
        assert_eq!(style.columns[14], "列14");
        assert_eq!(style.utc_offset_minutes, Some(480));
        assert_eq!(style.absent, "缺席");
        for (what, change) in [
            (
                "14 columns",
                &(|v: &mut serde_json::Value| {
                    v["columns"].as_array_mut().expect("array").pop();
                }) as &dyn Fn(&mut serde_json::Value),
            ),
            ("an empty word", &|v| v["absent"] = "".into()),
            ("a long word", &|v| v["teacher"] = "x".repeat(65).into()),
            ("a control character", &|v| v["columns"][3] = "a\nb".into()),
            ("an offset past UTC+14", &|v| {
                v["utcOffsetMinutes"] = (14 * 60 + 1).into()
            }),
            ("an offset past UTC-12", &|v| {
                v["utcOffsetMinutes"] = (-12 * 60 - 1).into()
            }),
        ] {
            assert!(words(change).is_err(), "{what} was taken");
        }
        assert!(words(&|v| v["utcOffsetMinutes"] = (-12 * 60).into()).is_ok());
        assert!(words(&|v| v["other"] = "x".repeat(64).into()).is_ok());
    }

    #[test]
    fn a_roster_file_answers_the_page_in_the_shape_it_words() {
        let problem = |bytes: &[u8]| {
            let e = classroom::roster_from_file(bytes, None, None).expect_err("refused");
            serde_json::to_value(RosterImport::from(e)).expect("serializes")
        };
        assert_eq!(
            problem(b"name,id\nAna,1\nBen,1\n"),
            serde_json::json!({
                "outcome": "refused",
                "problem": { "kind": "duplicateId", "line": 3, "id": "1" },
                "sheet": null,
                "sheets": []
            })
        );
        assert_eq!(
            problem(&"name\nx\n".replace('x', &"x".repeat(65)).into_bytes())["problem"],
            serde_json::json!({ "kind": "nameTooLong", "line": 2, "max": 64 })
        );
        assert_eq!(
            problem(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0])["problem"],
            serde_json::json!({ "kind": "workbook" })
        );
        assert_eq!(
            problem(b"PK\x03\x04")["problem"]["kind"],
            serde_json::json!("unreadableWorkbook")
        );
        assert_eq!(
            problem(b"\xEF\xBB\xBFname\n\xFF\n")["problem"],
            serde_json::json!({ "kind": "notText", "encoding": "UTF-8" })
        );
        // A workbook whose first sheet has no names: refused, its sheets offered.
        let cover = vec![vec![classroom::made_workbooks::Cell::Text("学号")]];
        let name = vec![
            vec![classroom::made_workbooks::Cell::Text("姓名")],
            vec![classroom::made_workbooks::Cell::Text("张三")],
        ];
        let book =
            classroom::made_workbooks::xlsx_with("封面", &cover, false, &[("七(1)班", name)]);
        let refused = problem(&book);
        assert_eq!(
            refused["problem"],
            serde_json::json!({ "kind": "noNameColumn", "line": 1 })
        );
        assert_eq!(refused["sheet"], serde_json::json!("封面"));
        assert_eq!(refused["sheets"], serde_json::json!(["封面", "七(1)班"]));
        let imported = RosterImport::Imported {
            students: 2,
            encoding: "GBK".into(),
            separator: ",".into(),
            sheet: None,
            sheets: Vec::new(),
        };
        assert_eq!(
            serde_json::to_value(imported).expect("serializes"),
            serde_json::json!({
                "outcome": "imported", "students": 2, "encoding": "GBK", "separator": ",",
                "sheet": null, "sheets": []
            })
        );
    }
}
