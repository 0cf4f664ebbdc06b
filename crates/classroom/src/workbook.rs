//! A roster in an Excel workbook (`.xlsx`, as Excel, WPS and LibreOffice save it): a visible
//! worksheet's rows (the first, or the one the teacher chooses), read with `calamine`.
//!
//! A workbook is a ZIP of XML parts, and what a part inflates to is not bounded by the
//! file's size (a few KB of deflate can be gigabytes), nor by the sizes the ZIP directory
//! declares. `calamine` reads the shared-strings part whole when it opens a workbook, so
//! every part is first inflated here into nothing, counting, and the workbook refused when
//! a part or all of them together inflate past [`MAX_PART`] / [`MAX_INFLATED`]. Then the
//! sheet's cells are streamed (`worksheet_cells_reader`: no grid is made from the sheet's
//! declared dimension, which a hostile file sets to a million rows by sixteen thousand
//! columns), a row at a time, columns past [`MAX_COLUMNS`] left out (a roster's name and id
//! are in the first few), and a shared string is borrowed, not copied, into each cell that
//! refers to it.

use std::borrow::Cow;
use std::io::{Cursor, Read};

use calamine::{DataRef, Reader, SheetType, SheetVisible, Xlsx};

use crate::roster::MAX_COLUMNS;

/// Most bytes one part of the workbook may inflate to (the sheet of 20,000 students with a
/// dozen columns is ~10 MB of XML).
pub(crate) const MAX_PART: u64 = 32 << 20;
/// Most bytes all parts together may inflate to.
pub(crate) const MAX_INFLATED: u64 = 64 << 20;
/// Most parts a workbook may have (Excel writes a dozen for a simple one).
const MAX_PARTS: usize = 4096;
/// Most sheets offered to choose from (a school's workbook has a sheet per class).
const MAX_SHEETS_LISTED: usize = 100;

/// Why a workbook's rows could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unreadable {
    /// Not a workbook this reads: an OpenDocument spreadsheet (`.ods`), or a ZIP that is no
    /// workbook at all.
    NotXlsx,
    /// An `.xlsx` that cannot be read, and why (in English).
    Broken(String),
}

/// A row of the sheet: its number as the spreadsheet shows it (from 1) and its cells' text
/// from column A, empty strings where a cell is empty.
pub(crate) type Row<'a> = (u64, Vec<Cow<'a, str>>);

/// The workbook in `bytes`, checked and opened, with the sheet a roster is read from.
pub(crate) struct Workbook {
    xlsx: Xlsx<Cursor<Vec<u8>>>,
    /// The visible worksheets, as the workbook names them.
    visible: Vec<String>,
    /// The worksheet read: its number in `visible`.
    reading: usize,
    /// The visible worksheets, in the workbook's order, as shown: the first
    /// [`MAX_SHEETS_LISTED`].
    pub sheets: Vec<String>,
}

/// A sheet's name as the page shows it: a name is the workbook author's words, so it is
/// cleaned as a display name is (no controls, bidirectional overrides or invisible
/// characters, at most 64 characters).
fn shown(name: &str) -> String {
    crate::entry::clean_name(name)
}

impl Workbook {
    /// Checks `bytes` (see the module docs) and opens the workbook, to read its visible
    /// worksheet number `sheet` (from 0), or the first.
    pub(crate) fn open(bytes: &[u8], sheet: Option<usize>) -> Result<Workbook, Unreadable> {
        check_parts(bytes)?;
        let xlsx = Xlsx::new(Cursor::new(bytes.to_vec())).map_err(|e| {
            Unreadable::Broken(match e {
                calamine::XlsxError::Password => "it is protected with a password".to_owned(),
                other => other.to_string(),
            })
        })?;
        let sheets: Vec<String> = xlsx
            .sheets_metadata()
            .iter()
            .filter(|s| s.typ == SheetType::WorkSheet && s.visible == SheetVisible::Visible)
            .map(|s| s.name.clone())
            .collect();
        let reading = sheet.unwrap_or(0);
        if sheets.is_empty() {
            return Err(Unreadable::Broken("it has no visible worksheet".to_owned()));
        }
        if reading >= sheets.len() {
            return Err(Unreadable::Broken(format!(
                "it has {} visible worksheets, not {}",
                sheets.len(),
                reading + 1
            )));
        }
        Ok(Workbook {
            xlsx,
            reading,
            sheets: sheets
                .iter()
                .take(MAX_SHEETS_LISTED)
                .map(|s| shown(s))
                .collect(),
            visible: sheets,
        })
    }

    /// How many of the visible worksheets can be chosen: those listed in [`Self::sheets`].
    pub(crate) fn choices(&self) -> usize {
        self.sheets.len()
    }

    /// Reads visible worksheet number `index` from now on (one of [`Self::choices`]).
    pub(crate) fn choose(&mut self, index: usize) {
        if index < self.choices() {
            self.reading = index;
        }
    }

    /// The worksheet read, as shown (see [`shown`]).
    pub(crate) fn sheet(&self) -> String {
        shown(&self.visible[self.reading])
    }

    /// Calls `each` with the sheet's rows in the order the file holds them, until it
    /// returns an error (which is returned) or the rows end.
    pub(crate) fn rows<E>(
        &mut self,
        mut each: impl FnMut(Row<'_>) -> Result<(), E>,
        broken: impl Fn(String) -> E,
    ) -> Result<(), E> {
        let mut cells = self
            .xlsx
            .worksheet_cells_reader(&self.visible[self.reading])
            .map_err(|e| broken(e.to_string()))?;
        let mut row: Option<Row<'_>> = None;
        while let Some(cell) = cells.next_cell().map_err(|e| broken(e.to_string()))? {
            let (r, c) = cell.get_position();
            if c as usize >= MAX_COLUMNS {
                continue;
            }
            let Some(text) = text(cell.get_value()) else {
                continue;
            };
            let number = u64::from(r) + 1;
            if row.as_ref().is_some_and(|(n, _)| *n != number)
                && let Some(done) = row.take()
            {
                each(done)?;
            }
            let (_, fields) = row.get_or_insert_with(|| (number, Vec::new()));
            let c = c as usize;
            if fields.len() <= c {
                fields.resize(c + 1, Cow::Borrowed(""));
            }
            fields[c] = text;
        }
        match row {
            Some(done) => each(done),
            None => Ok(()),
        }
    }
}

/// A cell's text as a roster reads it, or none for an empty cell. Student numbers are often
/// numbers in a sheet: a whole number is written without a decimal point or exponent
/// (`20230101`, not `20230101.0`).
fn text<'a>(value: &DataRef<'a>) -> Option<Cow<'a, str>> {
    Some(match value {
        DataRef::Empty => return None,
        DataRef::SharedString(s) => Cow::Borrowed(*s),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => {
            Cow::Owned(s.clone())
        }
        DataRef::Int(i) => Cow::Owned(i.to_string()),
        DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Cow::Owned(format!("{f:.0}")),
        DataRef::Float(f) => Cow::Owned(f.to_string()),
        DataRef::Bool(b) => Cow::Borrowed(if *b { "TRUE" } else { "FALSE" }),
        DataRef::DateTime(d) => Cow::Owned(d.to_string()),
        // `#N/A`, `#REF!`: what the sheet shows.
        DataRef::Error(e) => Cow::Owned(e.to_string()),
    })
}

/// Inflates every part of the ZIP in `bytes` into nothing, refusing a workbook whose parts
/// inflate past the limits, and tells an OpenDocument spreadsheet from an `.xlsx`.
fn check_parts(bytes: &[u8]) -> Result<(), Unreadable> {
    let broken = |e: zip::result::ZipError| Unreadable::Broken(e.to_string());
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(broken)?;
    if zip.len() > MAX_PARTS {
        return Err(Unreadable::Broken(format!(
            "it has more than {MAX_PARTS} parts"
        )));
    }
    if zip.index_for_name("mimetype").is_some() || zip.index_for_name("xl/workbook.xml").is_none() {
        return Err(Unreadable::NotXlsx);
    }
    let mut total = 0u64;
    for i in 0..zip.len() {
        let part = zip.by_index(i).map_err(broken)?;
        let inflated = std::io::copy(&mut part.take(MAX_PART + 1), &mut std::io::sink())
            .map_err(|e| Unreadable::Broken(e.to_string()))?;
        total += inflated;
        if inflated > MAX_PART || total > MAX_INFLATED {
            return Err(Unreadable::Broken(format!(
                "it unpacks to more than {} MB",
                if inflated > MAX_PART {
                    MAX_PART >> 20
                } else {
                    MAX_INFLATED >> 20
                }
            )));
        }
    }
    Ok(())
}

/// Workbooks made for tests and fuzz seeds: the parts Excel writes for a sheet of text and
/// numbers (content types, relationships, the workbook, shared strings, one worksheet).
pub mod make {
    use std::io::Write;

    /// A cell of a made sheet.
    #[derive(Debug, Clone)]
    pub enum Cell {
        /// Text, kept in the shared strings as Excel keeps it.
        Text(&'static str),
        /// A number.
        Number(f64),
        /// Nothing.
        Empty,
    }

    /// An `.xlsx` whose first sheet (`sheet`) holds `rows` from A1, a second hidden sheet
    /// first in the workbook when `hidden_first`.
    pub fn xlsx(sheet: &str, rows: &[Vec<Cell>], hidden_first: bool) -> Vec<u8> {
        xlsx_with(sheet, rows, hidden_first, &[])
    }

    /// As [`xlsx`], with more visible sheets after the first, their text inline.
    pub fn xlsx_with(
        sheet: &str,
        rows: &[Vec<Cell>],
        hidden_first: bool,
        more: &[(&str, Vec<Vec<Cell>>)],
    ) -> Vec<u8> {
        let (data, strings) = sheet_data(rows);
        let more: Vec<(String, String)> = more
            .iter()
            .map(|(name, rows)| {
                let data = rows_xml(rows, |t| {
                    format!("t=\"inlineStr\"><is><t>{}</t></is>", escape(t))
                });
                ((*name).to_owned(), format!("<sheetData>{data}</sheetData>"))
            })
            .collect();
        xlsx_of(
            sheet,
            &format!("<sheetData>{data}</sheetData>"),
            &strings,
            hidden_first,
            &more,
        )
    }

    /// `rows` as a sheet's `<row>` elements, and the shared strings they refer to.
    pub fn sheet_data(rows: &[Vec<Cell>]) -> (String, Vec<&'static str>) {
        let mut strings: Vec<&'static str> = Vec::new();
        let data = rows_xml(rows, |t| {
            let i = strings.iter().position(|s| *s == t).unwrap_or_else(|| {
                strings.push(t);
                strings.len() - 1
            });
            format!("t=\"s\"><v>{i}</v>")
        });
        (data, strings)
    }

    /// `rows` as `<row>` elements, a text cell's type and value written by `text`.
    fn rows_xml(rows: &[Vec<Cell>], mut text: impl FnMut(&'static str) -> String) -> String {
        let mut data = String::new();
        for (r, row) in rows.iter().enumerate() {
            data += &format!("<row r=\"{}\">", r + 1);
            for (c, cell) in row.iter().enumerate() {
                let at = format!("{}{}", column(c), r + 1);
                match cell {
                    Cell::Text(t) => data += &format!("<c r=\"{at}\" {}</c>", text(t)),
                    Cell::Number(n) => data += &format!("<c r=\"{at}\"><v>{n}</v></c>"),
                    Cell::Empty => {}
                }
            }
            data += "</row>";
        }
        data
    }

    /// An `.xlsx` whose visible sheet `sheet` is the worksheet `body` (what goes inside
    /// `<worksheet>`: a `<dimension>`, the `<sheetData>`) with the shared `strings`, then the
    /// visible sheets `more` (name, body).
    pub fn xlsx_of(
        sheet: &str,
        body: &str,
        strings: &[&str],
        hidden_first: bool,
        more: &[(String, String)],
    ) -> Vec<u8> {
        let shared: String = strings
            .iter()
            .map(|s| format!("<si><t>{}</t></si>", escape(s)))
            .collect();
        let ns = "http://schemas.openxmlformats.org";
        let mut sheets = String::new();
        let mut rels = String::new();
        let mut parts: Vec<(String, String)> = Vec::new();
        let worksheet = |body: &str| {
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
                 <worksheet xmlns=\"{ns}/spreadsheetml/2006/main\">{body}</worksheet>"
            )
        };
        if hidden_first {
            sheets += "<sheet name=\"Old\" sheetId=\"2\" state=\"hidden\" r:id=\"rId2\"/>";
            rels += &format!(
                "<Relationship Id=\"rId2\" Type=\"{ns}/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet2.xml\"/>"
            );
            parts.push((
                "xl/worksheets/sheet2.xml".into(),
                worksheet(
                    "<sheetData><row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>Hidden</t></is></c></row></sheetData>",
                ),
            ));
        }
        sheets += &format!(
            "<sheet name=\"{}\" sheetId=\"1\" r:id=\"rId1\"/>",
            escape(sheet)
        );
        rels += &format!(
            "<Relationship Id=\"rId1\" Type=\"{ns}/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet1.xml\"/>\
             <Relationship Id=\"rId9\" Type=\"{ns}/officeDocument/2006/relationships/sharedStrings\" Target=\"sharedStrings.xml\"/>"
        );
        parts.push(("xl/worksheets/sheet1.xml".into(), worksheet(body)));
        for (i, (name, body)) in more.iter().enumerate() {
            let n = i + 3;
            sheets += &format!(
                "<sheet name=\"{}\" sheetId=\"{n}\" r:id=\"rIdMore{n}\"/>",
                escape(name)
            );
            rels += &format!(
                "<Relationship Id=\"rIdMore{n}\" Type=\"{ns}/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet{n}.xml\"/>"
            );
            parts.push((format!("xl/worksheets/sheet{n}.xml"), worksheet(body)));
        }
        parts.push((
            "xl/sharedStrings.xml".into(),
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
                 <sst xmlns=\"{ns}/spreadsheetml/2006/main\" count=\"{n}\" uniqueCount=\"{n}\">{shared}</sst>",
                n = strings.len()
            ),
        ));
        parts.push((
            "xl/workbook.xml".into(),
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
                 <workbook xmlns=\"{ns}/spreadsheetml/2006/main\" \
                 xmlns:r=\"{ns}/officeDocument/2006/relationships\"><sheets>{sheets}</sheets></workbook>"
            ),
        ));
        parts.push((
            "xl/_rels/workbook.xml.rels".into(),
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
                 <Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">{rels}</Relationships>"
            ),
        ));
        parts.push((
            "_rels/.rels".into(),
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
                 <Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
                 <Relationship Id=\"rId1\" Type=\"{ns}/officeDocument/2006/relationships/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>"
            ),
        ));
        parts.push((
            "[Content_Types].xml".into(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
             <Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
             <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
             <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
             <Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>\
             </Types>"
                .into(),
        ));
        zip_of(&parts)
    }

    /// A ZIP (deflated) of `parts`, in order.
    pub fn zip_of(parts: &[(String, String)]) -> Vec<u8> {
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, text) in parts {
            out.start_file(name.as_str(), options).expect("zip part");
            out.write_all(text.as_bytes()).expect("zip write");
        }
        out.finish().expect("zip finish").into_inner()
    }

    fn column(mut c: usize) -> String {
        let mut name = Vec::new();
        loop {
            name.push(b'A' + (c % 26) as u8);
            if c < 26 {
                break;
            }
            c = c / 26 - 1;
        }
        name.reverse();
        String::from_utf8(name).expect("ASCII")
    }

    fn escape(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    }
}
