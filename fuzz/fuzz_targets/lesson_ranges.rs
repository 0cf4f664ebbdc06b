//! Any request headers a download manager, a media element or a hostile client sends for a
//! lesson file (`Range`, `If-Range`, `If-None-Match`) against a file of any size: the lesson
//! service's choice (`classroom_sfu::select_range`, on http-range-header) never panics, and a
//! part it serves lies inside the file, so the response's length (`end - start + 1`) and the
//! seek cannot overflow or read past the end.
//!
//! A `Range` is any bytes, any bytes after `bytes=`, or a list of ranges with any numbers
//! (missing, zero, past the end, near `u64::MAX`, reversed), so the parser's and the check's
//! every branch is reached without libFuzzer having to find the syntax; the tags are the
//! file's own (strong or weak) or any bytes.
#![no_main]

use classroom_sfu::{RangeSelection, select_range};
use http::header::{HeaderMap, HeaderValue, IF_NONE_MATCH, IF_RANGE, RANGE};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

const ETAG: &str = "\"1f2e3d\"";

#[derive(Debug, Arbitrary)]
enum Range {
    Bytes(Vec<u8>),
    AfterUnit(Vec<u8>),
    /// `first-last` pairs, either side may be absent (`-500` is the last 500 bytes).
    List(Vec<(Option<u64>, Option<u64>)>, bool),
}

#[derive(Debug, Arbitrary)]
enum Tag {
    Ours,
    Weak,
    Bytes(Vec<u8>),
}

impl Tag {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Tag::Ours => ETAG.into(),
            Tag::Weak => format!("W/{ETAG}").into(),
            Tag::Bytes(b) => b.clone(),
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Input {
    size: u64,
    small: bool,
    range: Option<Range>,
    if_range: Option<Tag>,
    if_none_match: Option<Tag>,
}

fuzz_target!(|input: Input| {
    // Small files half the time, where a range meets the end most often.
    let size = if input.small { input.size % 64 } else { input.size };
    let mut headers = HeaderMap::new();
    let mut put = |name, bytes: &[u8]| {
        if let Ok(v) = HeaderValue::from_bytes(bytes) {
            headers.insert(name, v);
        }
    };
    if let Some(range) = &input.range {
        let text = match range {
            Range::Bytes(b) => b.clone(),
            Range::AfterUnit(b) => [b"bytes=".as_slice(), b].concat(),
            Range::List(parts, spaced) => {
                let show = |n: &Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
                let list: Vec<String> =
                    parts.iter().map(|(a, b)| format!("{}-{}", show(a), show(b))).collect();
                format!("bytes={}", list.join(if *spaced { ", " } else { "," })).into_bytes()
            }
        };
        put(RANGE, &text);
    }
    if let Some(tag) = &input.if_range {
        put(IF_RANGE, &tag.bytes());
    }
    if let Some(tag) = &input.if_none_match {
        put(IF_NONE_MATCH, &tag.bytes());
    }
    match select_range(&headers, ETAG, size) {
        RangeSelection::Part(start, end) => {
            assert!(start <= end && end < size, "{start}..={end} of {size}");
            assert!(headers.contains_key(RANGE));
        }
        RangeSelection::Unsatisfiable => assert!(headers.contains_key(RANGE)),
        RangeSelection::NotModified => assert!(headers.contains_key(IF_NONE_MATCH)),
        RangeSelection::Whole => {}
    }
});
