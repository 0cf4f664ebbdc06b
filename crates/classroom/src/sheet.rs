//! A roster file's bytes as schools' spreadsheets save them, made text.
//!
//! Excel saves "CSV" in the system's code page (GBK on a Simplified Chinese Windows,
//! windows-1252 on an English or Western European one), "CSV UTF-8" with a byte-order mark,
//! and "Unicode Text" as UTF-16 with tabs between the fields; the Excel of much of Europe
//! separates fields with semicolons. WPS and LibreOffice ask, and usually write UTF-8. So:
//!
//! - a byte-order mark decides the encoding (UTF-8, UTF-16LE, UTF-16BE);
//! - bytes that are valid UTF-8 are UTF-8;
//! - anything else is guessed by `chardetng` (Firefox's detector for unlabelled text), hinted
//!   by the teacher's region, and decoded by `encoding_rs` without replacement: a byte the
//!   guessed encoding does not have refuses the file, rather than putting U+FFFD into names
//!   that then match nobody;
//! - a workbook (`.xlsx`, `.xls`, `.ods`) is recognised by its first bytes and refused with
//!   what to do instead;
//! - the separator is whichever of comma, semicolon and tab the first line that has any text
//!   holds most of outside quotes (a comma when it holds none, as a list of names alone).

use std::borrow::Cow;

use chardetng::EncodingDetector;
use encoding_rs::{Encoding, UTF_8};

/// A file's bytes as text, and how they were read.
#[derive(Debug)]
pub(crate) struct Text<'a> {
    /// The text, without a byte-order mark.
    pub text: Cow<'a, str>,
    /// The encoding's WHATWG name ("UTF-8", "GBK", "UTF-16LE", "windows-1252", ...).
    pub encoding: &'static str,
}

/// Why a file's bytes are not a roster's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Undecodable {
    /// A spreadsheet workbook (a ZIP container, as `.xlsx` and `.ods`, or an OLE2 one, as
    /// `.xls`), not text.
    Workbook,
    /// Read as `encoding`, the bytes are not text (a byte it does not have, or a NUL).
    NotText {
        /// The encoding tried.
        encoding: &'static str,
    },
}

/// A ZIP container's first bytes (`.xlsx`, `.ods`).
pub(crate) const ZIP: &[u8] = b"PK\x03\x04";
/// An OLE2 compound file's first bytes (`.xls`).
const OLE2: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// The text in `bytes`. `region` is a country code top-level domain's letters ("cn", "tw",
/// "jp", "de") naming where a file without a byte-order mark most likely comes from; it only
/// breaks ties between legacy encodings.
pub(crate) fn decode<'a>(bytes: &'a [u8], region: Option<&str>) -> Result<Text<'a>, Undecodable> {
    if bytes.starts_with(ZIP) || bytes.starts_with(OLE2) {
        return Err(Undecodable::Workbook);
    }
    let (encoding, body) = match Encoding::for_bom(bytes) {
        Some((encoding, bom)) => (encoding, &bytes[bom..]),
        None if std::str::from_utf8(bytes).is_ok() => (UTF_8, bytes),
        None => {
            let mut detector = EncodingDetector::new();
            detector.feed(bytes, true);
            let tld = region
                .filter(|r| r.len() == 2 && r.bytes().all(|b| b.is_ascii_alphabetic()))
                .map(str::as_bytes);
            // Not valid UTF-8, so never UTF-8.
            (detector.guess(tld, false), bytes)
        }
    };
    let not_text = Undecodable::NotText {
        encoding: encoding.name(),
    };
    let text = encoding
        .decode_without_bom_handling_and_without_replacement(body)
        .ok_or(not_text)?;
    if text.contains('\0') {
        return Err(not_text);
    }
    Ok(Text {
        text,
        encoding: encoding.name(),
    })
}

/// The field separator of a roster's text: the one of `,`, `;` and tab that its first line
/// with any text holds most of outside double quotes; a comma on a tie or when there is none.
pub(crate) fn separator(text: &str) -> u8 {
    const CANDIDATES: [u8; 3] = [b',', b';', b'\t'];
    let mut counts = [0usize; 3];
    let mut quoted = false;
    let mut seen_text = false;
    for b in text.bytes() {
        match b {
            b'"' => {
                quoted = !quoted;
                seen_text = true;
            }
            b'\n' | b'\r' if !quoted => {
                if seen_text {
                    break;
                }
            }
            _ if quoted => {}
            _ => {
                if let Some(i) = CANDIDATES.iter().position(|c| *c == b) {
                    counts[i] += 1;
                } else if !b.is_ascii_whitespace() {
                    seen_text = true;
                }
            }
        }
    }
    let mut best = 0;
    for i in 1..CANDIDATES.len() {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    CANDIDATES[best]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(encoding: &'static Encoding, text: &str) -> Vec<u8> {
        let (bytes, used, unmappable) = encoding.encode(text);
        assert_eq!(used, encoding, "{} encodes itself", encoding.name());
        assert!(!unmappable, "{text:?} is all in {}", encoding.name());
        bytes.into_owned()
    }

    #[test]
    fn a_byte_order_mark_decides_and_is_dropped() {
        let utf8 = b"\xEF\xBB\xBFname\n\xE5\xBC\xA0\xE4\xB8\x89\n";
        let read = decode(utf8, None).expect("UTF-8");
        assert_eq!(
            (read.text.as_ref(), read.encoding),
            ("name\n张三\n", "UTF-8")
        );

        let mut le = vec![0xFF, 0xFE];
        for unit in "姓名\t学号\r\n张三\t1\r\n".encode_utf16() {
            le.extend_from_slice(&unit.to_le_bytes());
        }
        let read = decode(&le, None).expect("UTF-16LE");
        assert_eq!(read.encoding, "UTF-16LE");
        assert_eq!(read.text, "姓名\t学号\r\n张三\t1\r\n");

        let mut be = vec![0xFE, 0xFF];
        for unit in "Ana".encode_utf16() {
            be.extend_from_slice(&unit.to_be_bytes());
        }
        assert_eq!(decode(&be, None).expect("UTF-16BE").text, "Ana");
    }

    #[test]
    fn chinese_excel_csv_is_read_as_gbk_not_as_replacement_characters() {
        let text = "姓名,学号\r\n张三,20230101\r\n李四,20230102\r\n欧阳娜娜,20230103\r\n";
        let gbk = encode(encoding_rs::GBK, text);
        assert!(std::str::from_utf8(&gbk).is_err(), "GBK is not UTF-8");
        for region in [None, Some("cn")] {
            let read = decode(&gbk, region).expect("GBK");
            assert_eq!(read.encoding, "GBK", "region {region:?}");
            assert_eq!(read.text, text);
        }
    }

    #[test]
    fn western_excel_csv_is_read_as_windows_1252() {
        let text = "Name;ID\r\nJosé Núñez;1\r\nBjörn Ångström;2\r\nFrançoise Lefèvre;3\r\n";
        let bytes = encode(encoding_rs::WINDOWS_1252, text);
        let read = decode(&bytes, None).expect("windows-1252");
        assert_eq!(read.encoding, "windows-1252");
        assert_eq!(read.text, text);
    }

    #[test]
    fn workbooks_and_binary_files_are_refused() {
        assert_eq!(
            decode(b"PK\x03\x04\x14\x00\x06\x00", None).expect_err("xlsx"),
            Undecodable::Workbook
        );
        assert_eq!(
            decode(
                &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0],
                None
            )
            .expect_err("xls"),
            Undecodable::Workbook
        );
        assert!(matches!(
            decode(b"name\n\0\0\0", None),
            Err(Undecodable::NotText { encoding: "UTF-8" })
        ));
        // A UTF-8 byte-order mark before bytes that are not UTF-8.
        assert!(matches!(
            decode(b"\xEF\xBB\xBFAna\xFF\n", None),
            Err(Undecodable::NotText { encoding: "UTF-8" })
        ));
        // An odd number of bytes after a UTF-16 mark.
        assert!(matches!(
            decode(&[0xFF, 0xFE, b'A', 0, b'n'], None),
            Err(Undecodable::NotText {
                encoding: "UTF-16LE"
            })
        ));
    }

    #[test]
    fn the_separator_is_what_the_first_line_holds_most_of_outside_quotes() {
        assert_eq!(separator("name,id\nAna,1\n"), b',');
        assert_eq!(separator("Name;ID\r\nJosé;1\r\n"), b';');
        assert_eq!(separator("姓名\t学号\r\n张三\t1\r\n"), b'\t');
        assert_eq!(separator("\"Li, Ana\";7\n"), b';', "the comma is quoted");
        assert_eq!(separator("\n\r\n  \nname;id\n"), b';', "blank lines first");
        assert_eq!(separator("Ana Li\nBen, Okafor;x;y\n"), b',', "names alone");
        assert_eq!(separator(""), b',');
        assert_eq!(separator("a,b;c\n"), b',', "a tie is a comma");
    }
}
