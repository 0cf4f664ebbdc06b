//! The announcement's TXT record: what a student sees before connecting.
//!
//! Keys (RFC 6763 §6: short, ASCII, one `key=value` string of at most 255 bytes each):
//! `v` the signaling protocol version, `title` the class title, `teacher` the teacher's
//! display name, `tls` `1` or `0`, and `fp` the server certificate's SHA-256 fingerprint in
//! unpadded base64url (43 characters) when there is a certificate to pin. Values from the
//! network are checked strictly: a record this app would never send is refused with the
//! reason, never shown half-understood.

/// Longest title or teacher name sent or accepted, in bytes of UTF-8. A TXT string holds
/// 255 bytes with its key; this leaves room and is more than a screen shows.
pub const MAX_TEXT_BYTES: usize = 200;
/// Length of a SHA-256 digest in unpadded base64url.
pub const FINGERPRINT_CHARS: usize = 43;

/// What a class announces about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassTxt {
    /// Signaling protocol version the server speaks.
    pub protocol_version: u32,
    /// The class title.
    pub title: String,
    /// The teacher's display name.
    pub teacher: String,
    /// Whether signaling is `wss://`.
    pub tls: bool,
    /// SHA-256 of the server's certificate, unpadded base64url.
    pub fingerprint: Option<String>,
}

/// Why a TXT record was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxtError {
    /// A key every announcement has is absent.
    #[error("TXT key {0:?} is missing")]
    Missing(&'static str),
    /// A value is not UTF-8.
    #[error("TXT value of {0:?} is not UTF-8")]
    NotUtf8(&'static str),
    /// A value is longer than this app ever sends.
    #[error("TXT value of {key:?} is {len} bytes (at most {max})")]
    TooLong {
        /// The key.
        key: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A value has control characters, or is blank.
    #[error("TXT value of {0:?} is blank or has control characters")]
    BadText(&'static str),
    /// `v` is not a number.
    #[error("TXT protocol version {0:?} is not a number")]
    BadVersion(String),
    /// `tls` is neither `1` nor `0`.
    #[error("TXT tls flag {0:?} is not 1 or 0")]
    BadFlag(String),
    /// `fp` is not 43 base64url characters.
    #[error("TXT fingerprint is not a base64url SHA-256 ({0} characters)")]
    BadFingerprint(usize),
}

/// Cuts `s` to at most `max` bytes on a character boundary, and drops control characters.
pub fn fit_text(s: &str, max: usize) -> String {
    let clean: String = s.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim();
    let mut end = clean.len().min(max);
    while !clean.is_char_boundary(end) {
        end -= 1;
    }
    clean[..end].trim_end().to_owned()
}

/// Whether `fp` looks like a SHA-256 digest in unpadded base64url: 43 characters of the
/// URL-safe alphabet, the last one carrying only the digest's final 4 bits.
pub fn is_fingerprint(fp: &str) -> bool {
    let alphabet = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    fp.len() == FINGERPRINT_CHARS
        && fp.bytes().all(alphabet)
        // 43 characters carry 258 bits; the last character's two low bits must be zero.
        && fp.bytes().last().is_some_and(|b| {
            let v = match b {
                b'A'..=b'Z' => b - b'A',
                b'a'..=b'z' => b - b'a' + 26,
                b'0'..=b'9' => b - b'0' + 52,
                b'-' => 62,
                _ => 63,
            };
            v & 0b11 == 0
        })
}

impl ClassTxt {
    /// The TXT properties to announce. Title and teacher are cut to [`MAX_TEXT_BYTES`] (on a
    /// character boundary, control characters dropped); a fingerprint that is not a
    /// base64url SHA-256 is an error rather than something students would fail to pin.
    pub fn to_properties(&self) -> Result<Vec<(String, String)>, TxtError> {
        let mut props = vec![
            ("v".to_owned(), self.protocol_version.to_string()),
            ("title".to_owned(), fit_text(&self.title, MAX_TEXT_BYTES)),
            (
                "teacher".to_owned(),
                fit_text(&self.teacher, MAX_TEXT_BYTES),
            ),
            (
                "tls".to_owned(),
                if self.tls { "1" } else { "0" }.to_owned(),
            ),
        ];
        if let Some(fp) = &self.fingerprint {
            if !is_fingerprint(fp) {
                return Err(TxtError::BadFingerprint(fp.len()));
            }
            props.push(("fp".to_owned(), fp.clone()));
        }
        Ok(props)
    }

    /// Reads an announcement: `get(key)` is the record's value for `key` (`None`: absent,
    /// `Some(None)`: a key without `=`).
    pub fn parse<'a>(get: impl Fn(&str) -> Option<Option<&'a [u8]>>) -> Result<Self, TxtError> {
        let text = |key: &'static str, max: usize| -> Result<String, TxtError> {
            let raw = get(key).flatten().ok_or(TxtError::Missing(key))?;
            if raw.len() > max {
                return Err(TxtError::TooLong {
                    key,
                    len: raw.len(),
                    max,
                });
            }
            let s = std::str::from_utf8(raw).map_err(|_| TxtError::NotUtf8(key))?;
            if s.trim().is_empty() || s.chars().any(char::is_control) {
                return Err(TxtError::BadText(key));
            }
            Ok(s.to_owned())
        };
        let version = text("v", 10)?;
        let protocol_version = version
            .parse::<u32>()
            .map_err(|_| TxtError::BadVersion(version.clone()))?;
        let title = text("title", MAX_TEXT_BYTES)?;
        let teacher = text("teacher", MAX_TEXT_BYTES)?;
        let tls = match text("tls", 1)?.as_str() {
            "1" => true,
            "0" => false,
            other => return Err(TxtError::BadFlag(other.to_owned())),
        };
        let fingerprint = match get("fp") {
            None => None,
            Some(raw) => {
                let raw = raw.unwrap_or_default();
                let fp = std::str::from_utf8(raw).map_err(|_| TxtError::NotUtf8("fp"))?;
                if !is_fingerprint(fp) {
                    return Err(TxtError::BadFingerprint(raw.len()));
                }
                Some(fp.to_owned())
            }
        };
        Ok(ClassTxt {
            protocol_version,
            title,
            teacher,
            tls,
            fingerprint,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const FP: &str = "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU";

    fn parse(props: &[(&str, &[u8])]) -> Result<ClassTxt, TxtError> {
        let map: HashMap<&str, &[u8]> = props.iter().copied().collect();
        ClassTxt::parse(|k| map.get(k).map(|v| Some(*v)))
    }

    fn sample() -> ClassTxt {
        ClassTxt {
            protocol_version: 1,
            title: "Physics 7B".into(),
            teacher: "Ms. Rivera".into(),
            tls: true,
            fingerprint: Some(FP.into()),
        }
    }

    #[test]
    fn an_announcement_reads_back_as_sent() {
        let props = sample().to_properties().expect("props");
        let map: HashMap<String, String> = props.into_iter().collect();
        let back = ClassTxt::parse(|k| map.get(k).map(|v| Some(v.as_bytes())));
        assert_eq!(back, Ok(sample()));
        let plain = ClassTxt {
            tls: false,
            fingerprint: None,
            ..sample()
        };
        let map: HashMap<String, String> =
            plain.to_properties().expect("props").into_iter().collect();
        assert!(!map.contains_key("fp"));
        assert_eq!(
            ClassTxt::parse(|k| map.get(k).map(|v| Some(v.as_bytes()))),
            Ok(plain)
        );
    }

    #[test]
    fn long_titles_are_cut_on_a_character_boundary() {
        let long = ClassTxt {
            title: "数学".repeat(100),
            teacher: "\u{7}Ms.\tRivera ".into(),
            ..sample()
        };
        let props = long.to_properties().expect("props");
        let title = &props[1].1;
        assert!(title.len() <= MAX_TEXT_BYTES && title.len() >= MAX_TEXT_BYTES - 3);
        assert!(title.starts_with("数学"));
        assert_eq!(props[2].1, "Ms.Rivera");
        // Every string fits DNS's 255-byte limit with its key.
        assert!(props.iter().all(|(k, v)| k.len() + 1 + v.len() <= 255));
    }

    #[test]
    fn a_bad_fingerprint_is_not_announced() {
        let bad = ClassTxt {
            fingerprint: Some("AA:BB".into()),
            ..sample()
        };
        assert_eq!(bad.to_properties(), Err(TxtError::BadFingerprint(5)));
    }

    #[test]
    fn malformed_records_are_refused_with_the_reason() {
        let ok: Vec<(&str, &[u8])> = vec![
            ("v", b"1"),
            ("title", b"Physics"),
            ("teacher", b"Rivera"),
            ("tls", b"0"),
        ];
        assert!(parse(&ok).is_ok());
        let with = |key: &'static str, value: &'static [u8]| {
            let mut props: Vec<(&str, &[u8])> = ok.iter().filter(|p| p.0 != key).copied().collect();
            props.push((key, value));
            parse(&props)
        };
        let without = |key: &str| {
            let props: Vec<(&str, &[u8])> = ok.iter().filter(|p| p.0 != key).copied().collect();
            parse(&props)
        };
        assert_eq!(without("title"), Err(TxtError::Missing("title")));
        assert_eq!(without("v"), Err(TxtError::Missing("v")));
        assert_eq!(with("v", b"one"), Err(TxtError::BadVersion("one".into())));
        assert_eq!(with("title", b"\xff\xfe"), Err(TxtError::NotUtf8("title")));
        assert_eq!(with("title", b"  "), Err(TxtError::BadText("title")));
        assert_eq!(with("teacher", b"a\nb"), Err(TxtError::BadText("teacher")));
        assert_eq!(with("tls", b"2"), Err(TxtError::BadFlag("2".into())));
        assert_eq!(
            with("tls", b"yes"),
            Err(TxtError::TooLong {
                key: "tls",
                len: 3,
                max: 1
            })
        );
        assert_eq!(with("fp", b"short"), Err(TxtError::BadFingerprint(5)));
        let long: &'static [u8] = Box::leak(vec![b'a'; 255].into_boxed_slice());
        assert_eq!(
            with("title", long),
            Err(TxtError::TooLong {
                key: "title",
                len: 255,
                max: MAX_TEXT_BYTES
            })
        );
        // A key present without a value counts as missing, not as empty text.
        let map: HashMap<&str, Option<&[u8]>> = ok
            .iter()
            .map(|(k, v)| (*k, if *k == "title" { None } else { Some(*v) }))
            .collect();
        assert_eq!(
            ClassTxt::parse(|k| map.get(k).copied()),
            Err(TxtError::Missing("title"))
        );
    }

    #[test]
    fn any_bytes_in_any_key_never_panic() {
        // Every length 0..=255 of every byte value in each key: an error or a record, no panic.
        for key in ["v", "title", "teacher", "tls", "fp"] {
            for len in [0usize, 1, 2, 42, 43, 44, 199, 200, 201, 255] {
                for byte in [0u8, b'1', b'A', 0x7f, 0x80, 0xc3, 0xff] {
                    let value: &'static [u8] = Box::leak(vec![byte; len].into_boxed_slice());
                    let mut props: Vec<(&str, &[u8])> = vec![
                        ("v", b"1"),
                        ("title", b"T"),
                        ("teacher", b"R"),
                        ("tls", b"1"),
                    ];
                    props.retain(|p| p.0 != key);
                    props.push((key, value));
                    let _ = parse(&props);
                }
            }
        }
    }

    #[test]
    fn fingerprints_are_checked_to_the_last_bit() {
        assert!(is_fingerprint(FP));
        assert!(!is_fingerprint(&FP[..42]));
        assert!(!is_fingerprint(&format!("{}=", &FP[..42])));
        // 'V' is 21: its low bits are not zero, so no 32-byte digest encodes to it.
        assert!(!is_fingerprint(&format!("{}V", &FP[..42])));
    }
}
