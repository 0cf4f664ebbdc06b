//! Whatever bytes a policy store holds, the readers answer with values and problems, never a
//! panic: the `.reg` parser, the plist reader and the JSON reader, on random bytes and on
//! random changes to good files.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;

use policy::macos::add_plist;
use policy::windows::policy_from_reg_export;
use policy::*;
use proptest::prelude::*;

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(path),
    )
    .unwrap()
}

/// A good file with some bytes overwritten, inserted or cut: closer to what breaks parsers
/// than random bytes, which rarely get past the first check.
fn mangled(good: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = good.len();
    (
        proptest::collection::vec((0..len, any::<u8>(), 0u8..3), 1..8),
        0..=len,
    )
        .prop_map(move |(edits, cut)| {
            let mut bytes = good.clone();
            for (at, byte, how) in edits {
                let at = at.min(bytes.len().saturating_sub(1));
                match how {
                    0 if !bytes.is_empty() => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ if !bytes.is_empty() => {
                        bytes.remove(at);
                    }
                    _ => {}
                }
            }
            bytes.truncate(cut.max(bytes.len() / 2));
            bytes
        })
}

fn all_readers(bytes: &[u8]) {
    if let Ok(export) = parse_reg_export_bytes(bytes) {
        let _ = policy_from_reg_export(&export);
    }
    let _ = parse_reg_export(&String::from_utf8_lossy(bytes));
    let mut set = PolicySet::default();
    add_plist(&mut set, Level::Mandatory, "plist", bytes);
    linux::add_json(&mut set, Level::Recommended, "json", bytes);
    let _ = resolve(&builtin_defaults(), &set, &serde_json::Map::new());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        all_readers(&bytes);
    }

    #[test]
    fn any_text_in_reg_form(lines in proptest::collection::vec(
        prop_oneof![
            Just("Windows Registry Editor Version 5.00".to_owned()),
            Just("[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Classroom\\Classroom]".to_owned()),
            "\"[a-zA-Z\\\\\"]{0,12}\"=\"[ -~]{0,16}\"",
            "\"[a-z]{1,8}\"=(dword|hex|hex\\([0-9a-fA-F+]{0,3}\\)):[0-9a-f, \\\\]{0,24}",
            "[ -~]{0,24}",
            Just("\\".to_owned()),
        ],
        0..12,
    )) {
        let text = lines.join("\r\n");
        all_readers(text.as_bytes());
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        all_readers(&utf16);
    }

    #[test]
    fn mangled_reg_exports(bytes in mangled(fixture("windows/every-type.reg"))) {
        all_readers(&bytes);
    }

    #[test]
    fn mangled_plists(bytes in mangled(fixture("macos/wrong-type.plist"))) {
        all_readers(&bytes);
    }

    #[test]
    fn mangled_binary_plists(bytes in mangled({
        let mut dict = plist::Dictionary::new();
        dict.insert("screenShareSources".into(), plist::Value::Array(vec!["screen".into(), 1.into(), true.into()]));
        dict.insert("theme".into(), "dark".into());
        dict.insert("nested".into(), plist::Value::Dictionary(plist::Dictionary::new()));
        let mut bytes = Vec::new();
        plist::Value::Dictionary(dict).to_writer_binary(&mut bytes).unwrap();
        bytes
    })) {
        all_readers(&bytes);
    }

    #[test]
    fn any_json_value(value in json_value()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        all_readers(&bytes);
        for key in PolicyKey::ALL {
            // What check accepts, it accepts again unchanged.
            if let Ok(checked) = key.check(&value) {
                prop_assert_eq!(key.check(&checked), Ok(checked.clone()));
            }
        }
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop_oneof![
            Just("screen".to_owned()),
            Just("zh-cn".to_owned()),
            Just(" wss://a.example ".to_owned()),
            "[ -~]{0,12}",
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("theme".to_owned()),
                    Just("language".to_owned()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
