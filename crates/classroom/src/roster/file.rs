//! Reading a roster from a file: a CSV or text file as a spreadsheet saves it (its encoding
//! and separator found), or an Excel workbook's sheet, row by row through one set of rules
//! (`Rows`): a header among the first rows names the columns, title rows above it are left
//! out, and every row after is a student checked as the server checks one.

use std::collections::HashMap;

use classroom_protocol::{MAX_ROSTER, RosterEntry};

use super::{EntryProblem, MAX_COLUMNS, RosterError, RosterFile, RosterRefusal, entry_problem};
use crate::sheet;

/// Rows a header row may come after: the title lines schools' sheets start with (a class's
/// name, "三年级二班学生名单" merged across the columns, the date), left out once a header
/// row follows them within this many rows.
const HEADER_WITHIN: usize = 10;

/// Header words for the name column (compared in lower case).
const NAME_HEADERS: &[&str] = &[
    "name",
    "student name",
    "student_name",
    "full name",
    "姓名",
    "学生姓名",
    "名字",
];

/// Header words for the id column (compared in lower case).
const ID_HEADERS: &[&str] = &[
    "id",
    "student_id",
    "student id",
    "studentid",
    "student-id",
    "学号",
    "学生学号",
    "学籍号",
    "编号",
];

/// Reads a roster file's bytes as schools' spreadsheets save them: UTF-8 or UTF-16 with a
/// byte-order mark, UTF-8 without one, or a legacy encoding (GBK from a Chinese Excel,
/// windows-1252 from a Western one) guessed with `region`'s help (a country code top-level
/// domain's letters, "cn" for a Chinese teacher); fields separated by commas, semicolons or
/// tabs (see `sheet`), then as [`roster_from_csv`]. With the `workbook` feature, an Excel
/// workbook (`.xlsx`) too: its first visible worksheet (or, after a cover page, the first
/// class's: see `read_workbook`), read the same way row by row.
pub fn roster_from_bytes(bytes: &[u8], region: Option<&str>) -> Result<RosterFile, RosterError> {
    roster_from_file(bytes, region, None).map_err(|r| r.error)
}

/// As [`roster_from_bytes`], reading a workbook's visible worksheet number `sheet` (from 0,
/// in [`RosterFile::sheets`]' order) instead of its first; a text file has no sheets and
/// ignores it. A refusal names the workbook's sheets when it opened.
pub fn roster_from_file(
    bytes: &[u8],
    region: Option<&str>,
    sheet: Option<usize>,
) -> Result<RosterFile, RosterRefusal> {
    #[cfg(feature = "workbook")]
    if bytes.starts_with(sheet::ZIP) {
        return read_workbook(bytes, sheet);
    }
    #[cfg(not(feature = "workbook"))]
    let _ = sheet;
    let text = sheet::decode(bytes, region).map_err(|e| match e {
        sheet::Undecodable::Workbook => RosterError::Workbook,
        sheet::Undecodable::NotText { encoding } => RosterError::NotText { encoding },
    })?;
    let separator = sheet::separator(&text.text);
    Ok(RosterFile {
        entries: read(&text.text, separator)?,
        encoding: text.encoding,
        separator: char::from(separator),
        sheet: None,
        sheets: Vec::new(),
    })
}

/// Reads a roster from CSV text: a header row is optional (without one, the first column is
/// the name and the second, if any, the id); columns `name` (or `姓名`) and optionally `id`,
/// `student_id` (or `学号`); with or without a byte-order mark; fields separated by commas,
/// semicolons or tabs, whichever the first line holds most of; quoted fields as usual.
pub fn roster_from_csv(text: &str) -> Result<Vec<RosterEntry>, RosterError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    read(text, sheet::separator(text))
}

fn read(text: &str, separator: u8) -> Result<Vec<RosterEntry>, RosterError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(separator)
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rows = Rows::default();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|e| RosterError::Csv {
            line: e.position().map_or(index as u64 + 1, |p| p.line()),
            message: e.to_string(),
        })?;
        let line = record.position().map_or(index as u64 + 1, |p| p.line());
        rows.row(line, &record.iter().take(MAX_COLUMNS).collect::<Vec<_>>())?;
    }
    rows.finish()
}

/// A roster's rows read one by one, from a CSV file or a workbook's sheet. A header row,
/// among the first [`HEADER_WITHIN`] rows with text, names the columns, and the rows before
/// it are a title; without one, the first column is the name and the second the id. Every
/// other row is a student.
#[derive(Default)]
struct Rows {
    /// Rows with text before a header, kept until one comes or [`HEADER_WITHIN`] passed.
    pending: Vec<(u64, Vec<String>)>,
    /// Whether the columns are known (a header came, or none did in time).
    settled: bool,
    /// The name's column and the id's, once a header named them.
    columns: Option<(usize, Option<usize>)>,
    /// Whether a header row came (one that named the columns, or one refused for naming
    /// no name column).
    headed: bool,
    entries: Vec<RosterEntry>,
    ids: HashMap<String, ()>,
}

impl Rows {
    /// The row numbered `line` (from 1, as the file or sheet shows it), its fields trimmed.
    fn row(&mut self, line: u64, record: &[&str]) -> Result<(), RosterError> {
        if record.iter().all(|f| f.is_empty()) {
            return Ok(()); // a row of empty cells, as spreadsheets leave at the end
        }
        if self.settled {
            return self.student(line, record);
        }
        let columns = header(line, record).inspect_err(|_| self.headed = true)?;
        if let Some(columns) = columns {
            // What came before is the sheet's title.
            self.pending.clear();
            self.columns = Some(columns);
            self.headed = true;
            self.settled = true;
            return Ok(());
        }
        self.pending
            .push((line, record.iter().map(|f| (*f).to_owned()).collect()));
        if self.pending.len() == HEADER_WITHIN {
            self.settle()?;
        }
        Ok(())
    }

    /// No header came: the rows kept are students.
    fn settle(&mut self) -> Result<(), RosterError> {
        self.settled = true;
        for (line, fields) in std::mem::take(&mut self.pending) {
            let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
            self.student(line, &fields)?;
        }
        Ok(())
    }

    /// The students read, once the rows have ended.
    fn finish(mut self) -> Result<Vec<RosterEntry>, RosterError> {
        if !self.settled {
            self.settle()?;
        }
        Ok(self.entries)
    }

    /// A student's row.
    fn student(&mut self, line: u64, record: &[&str]) -> Result<(), RosterError> {
        let (name_col, id_col) = self.columns.unwrap_or((0, Some(1)));
        let name = record
            .get(name_col)
            .copied()
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let id = id_col
            .and_then(|c| record.get(c))
            .filter(|id| !id.is_empty())
            .map(|id| (*id).to_owned());
        let entry = RosterEntry { name, id };
        match entry_problem(&entry) {
            None => {}
            Some(EntryProblem::NoName) => return Err(RosterError::EmptyName { line }),
            Some(EntryProblem::NameTooLong) => return Err(RosterError::NameTooLong { line }),
            // Empty ids are read as none above.
            Some(EntryProblem::BadId) => return Err(RosterError::IdTooLong { line }),
        }
        if let Some(id) = &entry.id
            && self.ids.insert(id.clone(), ()).is_some()
        {
            return Err(RosterError::DuplicateId {
                line,
                id: id.clone(),
            });
        }
        if self.entries.len() == MAX_ROSTER {
            return Err(RosterError::TooLong { line });
        }
        self.entries.push(entry);
        Ok(())
    }
}

/// The columns a header row names (the name's, and the id's if any), or none when `record`
/// is not a header; a header without a name column is refused.
fn header(line: u64, record: &[&str]) -> Result<Option<(usize, Option<usize>)>, RosterError> {
    let lower: Vec<String> = record.iter().map(|f| f.to_lowercase()).collect();
    let is = |words: &[&str], f: &String| words.contains(&f.as_str());
    if !lower
        .iter()
        .any(|f| is(NAME_HEADERS, f) || is(ID_HEADERS, f))
    {
        return Ok(None);
    }
    let name = lower
        .iter()
        .position(|f| is(NAME_HEADERS, f))
        .ok_or(RosterError::NoNameColumn { line })?;
    let id = lower.iter().position(|f| is(ID_HEADERS, f));
    Ok(Some((name, id)))
}

/// A worksheet's rows read as a roster.
#[cfg(feature = "workbook")]
struct SheetRead {
    /// Its students, or why not.
    read: Result<Vec<RosterEntry>, RosterError>,
    /// Whether a header row named (or failed to name) its columns.
    headed: bool,
    /// Whether its rows with text ended before a header could no longer come (fewer than
    /// [`HEADER_WITHIN`]): a cover or a title page, or a short list.
    short: bool,
}

/// The roster on the visible worksheet number `sheet` of the `.xlsx` workbook in `bytes`, its
/// row numbers as the spreadsheet shows them. Without a `sheet` chosen, the first visible
/// one, unless it has no header row and only a few rows (a cover: "七年级花名册", the term,
/// the teacher): then the first later sheet whose header names the columns and whose rows
/// read, if one does. A sheet of ten rows or more without a header is a list of names and is
/// read; so is a first sheet with a header, even one refused (its error names the sheet, and
/// the teacher chooses another).
#[cfg(feature = "workbook")]
fn read_workbook(bytes: &[u8], sheet: Option<usize>) -> Result<RosterFile, RosterRefusal> {
    use crate::workbook::{Unreadable, Workbook};
    let mut book = Workbook::open(bytes, sheet).map_err(|e| match e {
        Unreadable::NotXlsx => RosterError::Workbook,
        Unreadable::Broken(reason) => RosterError::UnreadableWorkbook { reason },
    })?;
    let first = read_sheet(&mut book);
    let read = if sheet.is_none() && !first.headed && first.short {
        (1..book.choices())
            .find_map(|i| {
                book.choose(i);
                let later = read_sheet(&mut book);
                (later.headed && later.read.is_ok()).then_some(later.read)
            })
            .unwrap_or_else(|| {
                book.choose(0);
                first.read
            })
    } else {
        first.read
    };
    let entries = match read {
        Ok(entries) => entries,
        Err(error) => {
            return Err(RosterRefusal {
                error,
                sheet: Some(book.sheet()),
                sheets: book.sheets,
            });
        }
    };
    Ok(RosterFile {
        entries,
        encoding: "UTF-8",
        separator: ',',
        sheet: Some(book.sheet()),
        sheets: book.sheets,
    })
}

/// The roster on the workbook's sheet being read.
#[cfg(feature = "workbook")]
fn read_sheet(book: &mut crate::workbook::Workbook) -> SheetRead {
    let mut rows = Rows::default();
    let read = book.rows(
        |(line, fields)| {
            let trimmed: Vec<&str> = fields.iter().map(|f| f.trim()).collect();
            rows.row(line, &trimmed)
        },
        |reason| RosterError::UnreadableWorkbook { reason },
    );
    let (headed, short) = (rows.headed, !rows.settled);
    SheetRead {
        read: read.and_then(|()| rows.finish()),
        headed,
        short,
    }
}

#[cfg(test)]
mod tests {
    use classroom_protocol::{MAX_NAME_CHARS, MAX_ROSTER_ID_CHARS};

    use super::*;
    use crate::roster::entry_is_valid;
    use crate::roster::tests::entry;

    #[test]
    fn reads_a_header_in_any_order_with_bom_and_quotes() {
        let text = "\u{feff}Student_ID,Name\r\ns-1,\"Li, Ana\"\r\n s-2 , Ben  Okafor \r\n";
        assert_eq!(
            roster_from_csv(text).expect("valid"),
            vec![
                entry("Li, Ana", Some("s-1")),
                entry("Ben Okafor", Some("s-2"))
            ]
        );
    }

    #[test]
    fn reads_rows_without_a_header() {
        let text = "Ana Li\nBen Okafor,s-2\n\n\"Chen \"\"CJ\"\" Wu\"\n";
        assert_eq!(
            roster_from_csv(text).expect("valid"),
            vec![
                entry("Ana Li", None),
                entry("Ben Okafor", Some("s-2")),
                entry("Chen \"CJ\" Wu", None)
            ]
        );
        assert_eq!(roster_from_csv("").expect("empty is fine"), vec![]);
        assert_eq!(roster_from_csv("name\n").expect("header only"), vec![]);
    }

    #[test]
    fn errors_name_their_line() {
        assert_eq!(
            roster_from_csv("name,id\nAna,1\n,2\n"),
            Err(RosterError::EmptyName { line: 3 })
        );
        assert_eq!(
            roster_from_csv("name,id\nAna,1\nBen,2\nCid,1\n"),
            Err(RosterError::DuplicateId {
                line: 4,
                id: "1".into()
            })
        );
        assert_eq!(
            roster_from_csv("id,email\n1,a@b\n"),
            Err(RosterError::NoNameColumn { line: 1 })
        );
        let long = format!("name\nAna\n{}\n", "x".repeat(MAX_NAME_CHARS + 1));
        assert_eq!(
            roster_from_csv(&long),
            Err(RosterError::NameTooLong { line: 3 })
        );
        let err = roster_from_csv("name,id\nAna\n,7\n").expect_err("empty name");
        assert_eq!(err.to_string(), "line 3: the name is empty");
    }

    #[test]
    fn a_quoted_newline_does_not_shift_line_numbers_of_the_error() {
        // The record starting on line 2 spans lines 2 and 3; line 4 is a row of empty
        // cells (skipped: spreadsheets leave them); the bad one is on line 5.
        let text = "name,id\n\"Ana\nLi\",1\n,,\n\"\",5\n";
        assert_eq!(
            roster_from_csv(text),
            Err(RosterError::EmptyName { line: 5 })
        );
    }

    #[test]
    fn an_id_too_long_is_refused_with_its_line_and_what_is_read_passes_the_servers_check() {
        let long = "7".repeat(MAX_ROSTER_ID_CHARS + 1);
        let text = format!("name,id\nAna,{}\nBen,{long}\n", &long[1..]);
        assert_eq!(
            roster_from_csv(&text),
            Err(RosterError::IdTooLong { line: 3 })
        );
        let read = roster_from_csv(&format!("name,id\nAna,{}\n  Ben  Okafor ,\n", &long[1..]))
            .expect("reads");
        assert_eq!(read.len(), 2);
        assert!(read.iter().all(entry_is_valid), "{read:?}");
    }

    #[test]
    fn too_many_rows_are_refused() {
        let mut text = String::from("name\n");
        for i in 0..=MAX_ROSTER {
            text.push_str(&format!("Student {i}\n"));
        }
        assert_eq!(
            roster_from_csv(&text),
            Err(RosterError::TooLong {
                line: MAX_ROSTER as u64 + 2
            })
        );
    }

    #[test]
    fn chinese_headers_name_their_columns() {
        let text = "学号,姓名,班级\n20230101,张三,七(2)班\n20230102,欧阳 娜娜,七(2)班\n";
        assert_eq!(
            roster_from_csv(text).expect("valid"),
            vec![
                entry("张三", Some("20230101")),
                entry("欧阳 娜娜", Some("20230102"))
            ]
        );
        assert_eq!(
            roster_from_csv("Student Name\nAna Li\n").expect("valid"),
            vec![entry("Ana Li", None)]
        );
        assert_eq!(
            roster_from_csv("学号,班级\n1,七(2)班\n"),
            Err(RosterError::NoNameColumn { line: 1 })
        );
    }

    #[test]
    fn files_as_spreadsheets_save_them_read_the_same_students() {
        let students = vec![
            entry("张三", Some("20230101")),
            entry("李四", Some("20230102")),
            entry("欧阳娜娜", Some("20230103")),
        ];
        let text = "姓名,学号\r\n张三,20230101\r\n李四,20230102\r\n欧阳娜娜,20230103\r\n";
        // Excel's "CSV (comma delimited)" on a Chinese Windows: GBK.
        let (gbk, _, unmappable) = encoding_rs::GBK.encode(text);
        assert!(!unmappable);
        let read = roster_from_bytes(&gbk, Some("cn")).expect("GBK");
        assert_eq!((read.encoding, read.separator), ("GBK", ','));
        assert_eq!(read.entries, students);
        // "Unicode Text": UTF-16LE with a byte-order mark, tabs between fields.
        let mut utf16 = vec![0xFF, 0xFE];
        for unit in text.replace(',', "\t").encode_utf16() {
            utf16.extend_from_slice(&unit.to_le_bytes());
        }
        let read = roster_from_bytes(&utf16, None).expect("UTF-16");
        assert_eq!((read.encoding, read.separator), ("UTF-16LE", '\t'));
        assert_eq!(read.entries, students);
        // "CSV UTF-8": a byte-order mark.
        let read = roster_from_bytes(format!("\u{feff}{text}").as_bytes(), None).expect("UTF-8");
        assert_eq!((read.encoding, read.separator), ("UTF-8", ','));
        assert_eq!(read.entries, students);
        // A Western European Excel: windows-1252 and semicolons.
        let (latin, _, _) =
            encoding_rs::WINDOWS_1252.encode("Name;ID\r\nJosé Núñez;1\r\n\"Løvaas; Åse\";2\r\n");
        let read = roster_from_bytes(&latin, None).expect("windows-1252");
        assert_eq!((read.encoding, read.separator), ("windows-1252", ';'));
        assert_eq!(
            read.entries,
            vec![
                entry("José Núñez", Some("1")),
                entry("Løvaas; Åse", Some("2"))
            ]
        );
    }

    #[test]
    fn title_rows_before_the_header_are_left_out() {
        // As schools' systems export a class: its name, a date, then the columns.
        assert_eq!(
            roster_from_csv("三年级二班学生名单,,\n导出日期：2026-09-01,,\n,,\n序号,姓名,学号\n1,张三,S1\n2,李四,S2\n")
                .expect("read"),
            vec![entry("张三", Some("S1")), entry("李四", Some("S2"))]
        );
        assert_eq!(
            roster_from_csv("Class 7B\nid,email\n1,a@b\n"),
            Err(RosterError::NoNameColumn { line: 2 })
        );
        // Without a header in the first ten rows every row is a student, in order.
        let names: Vec<String> = (1..=12).map(|i| format!("Student {i}")).collect();
        let read = roster_from_csv(&names.join("\n")).expect("read");
        assert_eq!(
            read.iter().map(|e| e.name.clone()).collect::<Vec<_>>(),
            names
        );
        // So a header word there is a student's name.
        let late = format!("{}\nname\n", names[..10].join("\n"));
        assert_eq!(roster_from_csv(&late).expect("read").len(), 11);
        // A line of a million fields is read as its first columns.
        let wide = format!("name{}\nAna{}\n", ",".repeat(1 << 20), ",x".repeat(1 << 19));
        assert_eq!(
            roster_from_csv(&wide).expect("read"),
            vec![entry("Ana", None)]
        );
    }

    #[test]
    fn a_workbook_or_binary_file_is_refused_with_what_to_do() {
        // An old Excel workbook (`.xls`, OLE2): never read.
        let xls = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0];
        let err = roster_from_bytes(&xls, None).expect_err("xls");
        assert_eq!(err, RosterError::Workbook);
        assert!(err.to_string().contains("CSV UTF-8"), "{err}");
        // The start of a ZIP and no more: a workbook without the feature, a broken one with it.
        let err = roster_from_bytes(b"PK\x03\x04\x14\x00\x06\x00[Content_Types].xml", None)
            .expect_err("xlsx");
        if cfg!(feature = "workbook") {
            assert!(
                matches!(err, RosterError::UnreadableWorkbook { .. }),
                "{err:?}"
            );
        } else {
            assert_eq!(err, RosterError::Workbook);
        }
        assert_eq!(
            roster_from_bytes(b"name\nAna\0\n", None),
            Err(RosterError::NotText { encoding: "UTF-8" })
        );
    }

    #[cfg(feature = "workbook")]
    mod workbooks {
        use super::*;
        use crate::workbook::MAX_PART;
        use crate::workbook::make::{Cell, sheet_data, xlsx, xlsx_of, xlsx_with, zip_of};

        fn t(s: &'static str) -> Cell {
            Cell::Text(s)
        }

        #[test]
        fn an_excel_roster_reads_its_first_visible_sheet_with_numbers_as_ids() {
            let rows = vec![
                vec![t("序号"), t("姓名"), t("学号")],
                vec![Cell::Number(1.0), t("张三"), Cell::Number(20230101.0)],
                vec![Cell::Number(2.0), t(" 李  四 "), t("S-2")],
                // A row left empty in the middle, and one of a name without an id.
                vec![],
                vec![Cell::Number(3.0), t("Ada Lovelace"), Cell::Empty],
            ];
            let read = roster_from_bytes(&xlsx("三年级二班", &rows, true), None).expect("xlsx");
            assert_eq!(read.sheet.as_deref(), Some("三年级二班"));
            assert_eq!(
                read.entries,
                vec![
                    entry("张三", Some("20230101")),
                    entry("李 四", Some("S-2")),
                    entry("Ada Lovelace", None),
                ]
            );
        }

        #[test]
        fn a_sheets_problems_name_its_rows_as_the_spreadsheet_numbers_them() {
            let rows = vec![
                vec![t("Name"), t("ID")],
                vec![t("Ada"), Cell::Number(7.0)],
                vec![],
                vec![t("Grace"), Cell::Number(7.0)],
            ];
            assert_eq!(
                roster_from_bytes(&xlsx("Sheet1", &rows, false), None),
                Err(RosterError::DuplicateId {
                    line: 4,
                    id: "7".into()
                })
            );
            let rows = vec![
                vec![t("Name"), t("ID")],
                vec![Cell::Empty, Cell::Number(1.5)],
            ];
            assert_eq!(
                roster_from_bytes(&xlsx("Sheet1", &rows, false), None),
                Err(RosterError::EmptyName { line: 2 })
            );
        }

        #[test]
        fn a_title_above_the_header_is_left_out_and_rows_keep_their_numbers() {
            let rows = vec![
                vec![t("三年级二班学生名单")],
                vec![],
                vec![t("姓名"), t("学号")],
                vec![t("张三"), Cell::Number(1.0)],
                vec![t("李四"), Cell::Number(1.0)],
            ];
            assert_eq!(
                roster_from_bytes(&xlsx("名单", &rows, false), None),
                Err(RosterError::DuplicateId {
                    line: 5,
                    id: "1".into()
                })
            );
        }

        #[test]
        fn a_workbook_of_several_classes_names_its_sheets_and_reads_the_one_chosen() {
            let first = vec![vec![t("姓名")], vec![t("张三")]];
            let more = [
                (
                    "七(2)班",
                    vec![vec![t("姓名")], vec![t("李四")], vec![t("王五")]],
                ),
                ("七(3)班", vec![vec![t("Name")], vec![t("Ada")]]),
            ];
            let book = xlsx_with("七(1)班", &first, true, &more);
            let read = roster_from_bytes(&book, None).expect("first");
            assert_eq!(read.sheet.as_deref(), Some("七(1)班"));
            assert_eq!(read.sheets, vec!["七(1)班", "七(2)班", "七(3)班"]);
            assert_eq!(read.entries, vec![entry("张三", None)]);
            let read = roster_from_file(&book, None, Some(1)).expect("second");
            assert_eq!(read.sheet.as_deref(), Some("七(2)班"));
            assert_eq!(read.entries, vec![entry("李四", None), entry("王五", None)]);
            match roster_from_file(&book, None, Some(3)).map_err(|r| r.error) {
                Err(RosterError::UnreadableWorkbook { reason }) => {
                    assert_eq!(reason, "it has 3 visible worksheets, not 4")
                }
                other => panic!("{other:?}"),
            }
            // A sheet without names (a cover, a summary) is refused naming the workbook's
            // sheets, so the teacher can choose the class's.
            let cover = vec![vec![t("学号")], vec![t("20230101")]];
            let book = xlsx_with("封面", &cover, false, &[("七(1)班", first.clone())]);
            let refused = roster_from_file(&book, None, None).expect_err("no names");
            assert_eq!(refused.error, RosterError::NoNameColumn { line: 1 });
            assert_eq!(refused.sheet.as_deref(), Some("封面"));
            assert_eq!(refused.sheets, vec!["封面", "七(1)班"]);
            let read = roster_from_file(&book, None, Some(1)).expect("the class's sheet");
            assert_eq!(read.entries, vec![entry("张三", None)]);
            // A text file refused names no sheets.
            let refused = roster_from_file(b"name,id\nAda,1\nBob,1\n", None, None);
            assert_eq!(refused.expect_err("dup").sheets, Vec::<String>::new());
            // A sheet's name is shown as a display name is: no reordering characters.
            let odd = xlsx_with("A", &first, false, &[("\u{202e}Class B", first.clone())]);
            let read = roster_from_file(&odd, None, Some(1)).expect("odd name");
            assert_eq!(read.sheets, vec!["A", "Class B"]);
            assert_eq!(read.sheet.as_deref(), Some("Class B"));
            assert_eq!(read.entries, vec![entry("张三", None)]);
            // A text file has no sheets: the choice is ignored.
            let csv = roster_from_file(b"name\nAda\n", None, Some(2)).expect("csv");
            assert!(csv.sheets.is_empty() && csv.sheet.is_none());
        }

        #[test]
        fn a_cover_sheet_is_passed_over_for_the_first_class_sheet_that_reads() {
            let cover = vec![vec![t("七年级学生花名册")], vec![t("2026年秋季学期")]];
            let class = vec![vec![t("姓名"), t("学号")], vec![t("张三"), t("1")]];
            let broken = vec![
                vec![t("姓名"), t("学号")],
                vec![t("李四"), t("1")],
                vec![t("王五"), t("1")],
            ];
            let book = xlsx_with("封面", &cover, true, &[("七(1)班", class.clone())]);
            let read = roster_from_bytes(&book, None).expect("the class's sheet");
            assert_eq!(read.sheet.as_deref(), Some("七(1)班"));
            assert_eq!(read.sheets, vec!["封面", "七(1)班"]);
            assert_eq!(read.entries, vec![entry("张三", Some("1"))]);
            // Chosen, the cover is read as it is: its lines as names.
            let read = roster_from_file(&book, None, Some(0)).expect("the cover, asked for");
            assert_eq!(read.sheet.as_deref(), Some("封面"));
            assert_eq!(read.entries.len(), 2);
            // A refused class sheet is passed over too, for one that reads.
            let book = xlsx_with(
                "封面",
                &cover,
                false,
                &[("七(1)班", broken.clone()), ("七(2)班", class.clone())],
            );
            let read = roster_from_bytes(&book, None).expect("the sheet that reads");
            assert_eq!(read.sheet.as_deref(), Some("七(2)班"));
            // No later sheet reads: the first is what was read, refusals and all.
            let book = xlsx_with("封面", &cover, false, &[("七(1)班", broken.clone())]);
            let read = roster_from_bytes(&book, None).expect("the cover");
            assert_eq!(read.sheet.as_deref(), Some("封面"));
            assert_eq!(read.entries[0], entry("七年级学生花名册", None));
            // Ten names or more without a header are a list, not a cover: read.
            let names: Vec<Vec<Cell>> =
                ["甲", "乙", "丙", "丁", "戊", "己", "庚", "辛", "壬", "癸"]
                    .into_iter()
                    .map(|n| vec![t(n)])
                    .collect();
            let book = xlsx_with("名单", &names, false, &[("七(1)班", class.clone())]);
            let read = roster_from_bytes(&book, None).expect("the list");
            assert_eq!(
                (read.sheet.as_deref(), read.entries.len()),
                (Some("名单"), 10)
            );
            // A first sheet with a header is read, even refused.
            let book = xlsx_with("七(1)班", &broken, false, &[("七(2)班", class)]);
            let refused = roster_from_file(&book, None, None).expect_err("duplicate id");
            assert_eq!(refused.sheet.as_deref(), Some("七(1)班"));
        }

        #[test]
        fn a_declared_giant_sheet_and_far_columns_cost_nothing() {
            // A million rows by sixteen thousand columns declared, a cell at the far right
            // and one at the bottom: read as the two students there are.
            let (data, strings) = sheet_data(&[vec![t("Name")], vec![t("Ada")]]);
            let far = "<row r=\"3\"><c r=\"XFD3\" t=\"inlineStr\"><is><t>far</t></is></c></row>\
                 <row r=\"1048576\"><c r=\"A1048576\" t=\"inlineStr\"><is><t>Grace</t></is></c></row>";
            let body =
                format!("<dimension ref=\"A1:XFD1048576\"/><sheetData>{data}{far}</sheetData>");
            let read = roster_from_bytes(&xlsx_of("Big", &body, &strings, false, &[]), None)
                .expect("read");
            assert_eq!(read.entries, vec![entry("Ada", None), entry("Grace", None)]);
            // XFD, the last column, is past what is read.
            const { assert!(MAX_COLUMNS < 16_384) };
        }

        #[test]
        fn a_part_that_inflates_past_the_limit_is_refused_before_it_is_read() {
            // 33 MB of spaces in the sheet (a few dozen KB deflated).
            let (data, strings) = sheet_data(&[vec![t("Name")], vec![t("Ada")]]);
            let padding = " ".repeat(usize::try_from(MAX_PART).expect("size") + (1 << 20));
            let body = format!("<sheetData>{data}</sheetData>{padding}");
            let bytes = xlsx_of("Bomb", &body, &strings, false, &[]);
            assert!(bytes.len() < 1 << 20, "{} bytes", bytes.len());
            match roster_from_bytes(&bytes, None) {
                Err(RosterError::UnreadableWorkbook { reason }) => {
                    assert!(reason.contains("more than 32 MB"), "{reason}")
                }
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn an_opendocument_sheet_or_a_zip_of_anything_is_not_a_workbook_read() {
            let ods = zip_of(&[(
                "mimetype".into(),
                "application/vnd.oasis.opendocument.spreadsheet".into(),
            )]);
            assert_eq!(roster_from_bytes(&ods, None), Err(RosterError::Workbook));
            let other = zip_of(&[("notes.txt".into(), "Ada\nGrace\n".into())]);
            assert_eq!(roster_from_bytes(&other, None), Err(RosterError::Workbook));
            // A workbook cut short.
            let whole = xlsx("Sheet1", &[vec![t("Ada")]], false);
            assert!(matches!(
                roster_from_bytes(&whole[..whole.len() / 2], None),
                Err(RosterError::UnreadableWorkbook { .. })
            ));
        }
    }
}
