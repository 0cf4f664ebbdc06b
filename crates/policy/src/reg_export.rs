//! A reader for `.reg` files, what `reg export` and regedit write:
//!
//! ```text
//! Windows Registry Editor Version 5.00
//!
//! ; a comment
//! [HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Classroom\Classroom]
//! "serverUrl"="wss://class.example.org"
//! "studentsMayRecord"=dword:00000000
//! "screenShareSources"=hex(7):73,00,63,00,72,00,65,00,65,00,6e,00,00,00,00,00
//! ```
//!
//! Read: the header (`Windows Registry Editor Version 5.00`, or `REGEDIT4` whose `hex(2)` and
//! `hex(7)` strings are one byte a character), `[key]` lines, `"name"=` and `@=` (the default
//! value), `"string"` with `\"` and `\\` escapes, `dword:`, `hex:` and `hex(N):` data,
//! lines continued by a final `\`, `;` comment lines and blank lines. Refused with the line
//! number: anything else, including deletions (`[-key]`, `"name"=-`), which have no place in a
//! policy. Text is UTF-16LE with a byte-order mark (as regedit writes) or UTF-8.

use std::collections::BTreeMap;

use crate::windows::RegValue;

/// A `.reg` file's keys (as written, e.g. `HKEY_LOCAL_MACHINE\SOFTWARE\...`) and each key's
/// values in file order. A key written twice has the values of both, in order.
pub type RegExport = BTreeMap<String, Vec<(String, RegValue)>>;

/// Why a `.reg` file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct RegParseError {
    /// The line (from 1; a continued value's first line), or 0 for the file's encoding.
    pub line: usize,
    /// What is wrong, in English.
    pub message: String,
}

fn error<T>(line: usize, message: impl Into<String>) -> Result<T, RegParseError> {
    Err(RegParseError {
        line,
        message: message.into(),
    })
}

const HEADER_5: &str = "Windows Registry Editor Version 5.00";
const HEADER_4: &str = "REGEDIT4";

/// Parses a `.reg` file's bytes: UTF-16LE with a byte-order mark, or UTF-8 (with or without
/// one). Never panics, whatever the bytes.
pub fn parse_reg_export_bytes(bytes: &[u8]) -> Result<RegExport, RegParseError> {
    parse_reg_export(&decode(bytes)?)
}

fn decode(bytes: &[u8]) -> Result<String, RegParseError> {
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        if rest.len() % 2 != 0 {
            return error(0, "UTF-16 text with an odd number of bytes");
        }
        let units = rest
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]));
        return char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .or_else(|_| error(0, "UTF-16 text with a broken surrogate pair"));
    }
    if bytes.starts_with(b"\xFE\xFF") {
        return error(
            0,
            "big-endian UTF-16 is not what regedit writes; save as UTF-16LE or UTF-8",
        );
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    String::from_utf8(bytes.to_vec())
        .or_else(|_| error(0, "neither UTF-16LE with a byte-order mark nor UTF-8"))
}

/// Parses a `.reg` file's text (see the module's description for what is read).
pub fn parse_reg_export(text: &str) -> Result<RegExport, RegParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = logical_lines(text).into_iter();
    let narrow = loop {
        let Some((number, line)) = lines.next() else {
            return error(1, format!("empty: a .reg file starts with {HEADER_5:?}"));
        };
        match line.trim() {
            "" => continue,
            HEADER_5 => break false,
            HEADER_4 => break true,
            _ => {
                return error(
                    number,
                    format!("not a .reg file: it starts with {HEADER_5:?}"),
                );
            }
        }
    };
    let mut export = RegExport::new();
    let mut current: Option<String> = None;
    for (number, line) in lines {
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let Some(path) = rest.strip_suffix(']') else {
                return error(number, "a key line must end with ]");
            };
            let path = path.trim();
            if path.starts_with('-') {
                return error(number, "deletes a key; a policy only sets values");
            }
            if path.is_empty() {
                return error(number, "a key line without a key");
            }
            export.entry(path.to_owned()).or_default();
            current = Some(path.to_owned());
            continue;
        }
        let Some(path) = &current else {
            return error(number, "a value before any [key] line");
        };
        let (name, value) = parse_value_line(line, narrow).or_else(|m| error(number, m))?;
        export.entry(path.clone()).or_default().push((name, value));
    }
    Ok(export)
}

/// Lines with continuations (a final `\`) joined, each with the number of its first line.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (index, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let (number, mut line) = match pending.take() {
            Some((number, mut joined)) => {
                joined.push_str(raw.trim_start());
                (number, joined)
            }
            None => (index + 1, raw.to_owned()),
        };
        let is_comment = line.trim_start().starts_with(';');
        if !is_comment && line.trim_end().ends_with('\\') {
            let keep = line.trim_end().len() - 1;
            line.truncate(keep);
            pending = Some((number, line));
        } else {
            out.push((number, line));
        }
    }
    out.extend(pending);
    out
}

/// `"name"=data` or `@=data`.
fn parse_value_line(line: &str, narrow: bool) -> Result<(String, RegValue), String> {
    let (name, rest) = if let Some(rest) = line.strip_prefix('@') {
        (String::new(), rest)
    } else if line.starts_with('"') {
        parse_quoted(line)?
    } else {
        return Err("expected a \"name\"=value line, a [key] line or a ; comment".to_owned());
    };
    let Some(data) = rest.trim_start().strip_prefix('=') else {
        return Err("expected = after the value's name".to_owned());
    };
    let value = parse_data(data.trim(), narrow)?;
    Ok((name, value))
}

/// A `"..."` string at the start of `s` with `\"` and `\\` unescaped, and what follows it.
/// Other backslashes are kept as they are (regedit does not escape them in names).
fn parse_quoted(s: &str) -> Result<(String, &str), String> {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &s[i + 1..])),
            '\\' => match chars.next() {
                Some((_, '"')) => out.push('"'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, other)) => {
                    out.push('\\');
                    out.push(other);
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    Err("a string without its closing \"".to_owned())
}

fn parse_data(data: &str, narrow: bool) -> Result<RegValue, String> {
    if data.starts_with('"') {
        let (text, rest) = parse_quoted(data)?;
        if !rest.trim().is_empty() {
            return Err(format!(
                "unexpected {:?} after the string",
                crate::model::shorten(rest)
            ));
        }
        return Ok(RegValue::Sz(text));
    }
    if data == "-" {
        return Err("deletes a value; a policy only sets values".to_owned());
    }
    let lower = data.to_ascii_lowercase();
    if let Some(digits) = lower.strip_prefix("dword:") {
        let digits = digits.trim();
        if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("dword:{digits} is not up to 8 hex digits"));
        }
        return u32::from_str_radix(digits, 16)
            .map(RegValue::Dword)
            .map_err(|e| format!("dword:{digits}: {e}"));
    }
    if let Some(bytes) = lower.strip_prefix("hex:") {
        return Ok(RegValue::Binary(parse_hex_bytes(bytes)?));
    }
    if let Some(rest) = lower.strip_prefix("hex(") {
        let Some((kind, bytes)) = rest.split_once("):") else {
            return Err("hex( without its ):".to_owned());
        };
        let kind = kind.trim();
        if kind.is_empty() || kind.len() > 8 || !kind.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("hex({kind}) is not a registry type"));
        }
        let kind = u32::from_str_radix(kind, 16)
            .map_err(|_| format!("hex({kind}) is not a registry type"))?;
        let bytes = parse_hex_bytes(bytes)?;
        return Ok(if narrow {
            RegValue::from_raw_narrow(kind, &bytes)
        } else {
            RegValue::from_raw(kind, &bytes)
        });
    }
    Err(format!(
        "unknown value data {:?} (expected \"text\", dword:, hex: or hex(N):)",
        crate::model::shorten(data)
    ))
}

/// `41,00,42` (whitespace allowed, a trailing comma allowed, nothing for no bytes).
fn parse_hex_bytes(s: &str) -> Result<Vec<u8>, String> {
    let s = s.trim();
    let s = s.strip_suffix(',').unwrap_or(s);
    if s.trim().is_empty() {
        return Ok(Vec::new());
    }
    s.split(',')
        .map(|byte| {
            let byte = byte.trim();
            // from_str_radix alone would take "+f".
            if byte.is_empty() || byte.len() > 2 || !byte.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "{:?} is not a hex byte",
                    crate::model::shorten(byte)
                ));
            }
            u8::from_str_radix(byte, 16)
                .map_err(|_| format!("{:?} is not a hex byte", crate::model::shorten(byte)))
        })
        .collect()
}
