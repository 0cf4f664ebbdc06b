//! The Windows mapping through `.reg` exports (UTF-8, and UTF-16LE with a byte-order mark as
//! regedit writes them): every value type, the `Recommended` subkey, wrong types, bad lines.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;

use policy::windows::{
    POLICY_KEY, RECOMMENDED_KEY, RegValue, policy_from_reg_export, policy_from_registry,
};
use policy::*;
use serde_json::json;

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/windows")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn policy_of(name: &str) -> PolicySet {
    policy_from_reg_export(&parse_reg_export_bytes(&fixture(name)).unwrap())
}

fn value(set: &PolicySet, level: Level, key: PolicyKey) -> (serde_json::Value, String) {
    let v = &set.level(level)[&key];
    (v.value.clone(), v.source.clone())
}

#[test]
fn a_utf8_export_gives_mandatory_and_recommended_values() {
    let set = policy_of("classroom-utf8.reg");
    assert_eq!(set.problems, vec![]);
    let m = |key| value(&set, Level::Mandatory, key);
    assert_eq!(
        m(PolicyKey::ServerUrl),
        (
            json!("wss://class.example.org:8443/ws"),
            POLICY_KEY.to_owned()
        )
    );
    assert_eq!(m(PolicyKey::Language).0, json!("zh-CN"));
    assert_eq!(
        m(PolicyKey::StudentsMayRecord).0,
        json!(true),
        "REG_DWORD 1"
    );
    assert_eq!(
        m(PolicyKey::ScreenShareSources).0,
        json!(["window", "screen"]),
        "REG_MULTI_SZ"
    );
    assert_eq!(m(PolicyKey::Updates).0, json!("notify"), "REG_EXPAND_SZ");
    assert_eq!(m(PolicyKey::Theme).0, json!("dark"));
    assert_eq!(set.mandatory.len(), 6);

    let r = |key| value(&set, Level::Recommended, key);
    assert_eq!(
        r(PolicyKey::DownloadLimit),
        (json!("mb5"), RECOMMENDED_KEY.to_owned())
    );
    assert_eq!(
        r(PolicyKey::ScreenShareSources).0,
        json!(["screen", "window"]),
        "a JSON array in a REG_SZ"
    );
    assert_eq!(
        r(PolicyKey::StudentsMayRecord).0,
        json!(false),
        "names match in any case"
    );
    assert_eq!(set.recommended.len(), 4);

    // Mandatory wins over the user; recommended gives way to them.
    let user = serde_json::from_value(json!({"language": "en", "downloadLimit": "none"})).unwrap();
    let resolved = resolve(&builtin_defaults(), &set, &user);
    let language = resolved.get(PolicyKey::Language).unwrap();
    assert_eq!(
        (language.value.clone(), language.locked),
        (json!("zh-CN"), true)
    );
    assert_eq!(
        language.why.as_deref(),
        Some(r"HKLM\SOFTWARE\Policies\Classroom\Classroom")
    );
    let limit = resolved.get(PolicyKey::DownloadLimit).unwrap();
    assert_eq!(
        (limit.value.clone(), limit.source),
        (json!("none"), Layer::User)
    );
}

#[test]
fn a_utf16le_export_reads_the_same_as_utf8() {
    let utf16 = fixture("classroom-utf16.reg");
    assert_eq!(
        &utf16[..2],
        b"\xFF\xFE",
        "the fixture is what regedit writes"
    );
    assert_eq!(
        parse_reg_export_bytes(&utf16).unwrap(),
        parse_reg_export_bytes(&fixture("classroom-utf8.reg")).unwrap()
    );
}

#[test]
fn every_value_type_is_parsed() {
    let export = parse_reg_export_bytes(&fixture("every-type.reg")).unwrap();
    let values = &export[r"HKEY_LOCAL_MACHINE\SOFTWARE\Classroom\Every Type"];
    let want = vec![
        (String::new(), RegValue::Sz("the default value".into())),
        (
            "path".into(),
            RegValue::Sz(r#"C:\Program Files\Classroom "beta""#.into()),
        ),
        ("count".into(), RegValue::Dword(42)),
        ("big".into(), RegValue::Qword(1 << 40)),
        (
            "blob".into(),
            RegValue::Binary(vec![0xde, 0xad, 0xbe, 0xef]),
        ),
        (
            "expand".into(),
            RegValue::ExpandSz(r"%ProgramFiles%\Classroom".into()),
        ),
        (
            "list".into(),
            RegValue::MultiSz(vec![
                "first".into(),
                "second value".into(),
                "third, with a comma".into(),
                "and a fourth to wrap the line".into(),
            ]),
        ),
        ("nothing".into(), RegValue::from_raw(0, &[])),
    ];
    assert_eq!(values, &want);

    // Only the policy keys count; the other key in the export is left alone.
    let set = policy_from_reg_export(&export);
    assert_eq!(set.problems, vec![]);
    assert_eq!(set.mandatory[&PolicyKey::Theme].value, json!("light"));
    assert_eq!(set.mandatory.len() + set.recommended.len(), 1);
}

#[test]
fn wrong_types_are_reported_per_value_and_the_good_ones_apply() {
    let set = policy_of("wrong-types.reg");
    assert_eq!(
        set.mandatory.keys().copied().collect::<Vec<_>>(),
        [PolicyKey::DownloadLimit]
    );
    assert_eq!(
        set.mandatory[&PolicyKey::DownloadLimit].value,
        json!("mb20")
    );
    let problems: Vec<(&str, ProblemKind, &str)> = set
        .problems
        .iter()
        .map(|p| (p.key.as_deref().unwrap(), p.kind, p.message.as_str()))
        .collect();
    let expect = [
        (
            "studentsMayRecord",
            ProblemKind::InvalidValue,
            "a REG_DWORD of 0 or 1, not the REG_DWORD 2",
        ),
        (
            "language",
            ProblemKind::InvalidValue,
            "a REG_SZ, not the REG_DWORD 1",
        ),
        (
            "screenShareSources",
            ProblemKind::InvalidValue,
            "REG_MULTI_SZ, or a JSON array in a REG_SZ",
        ),
        ("theme", ProblemKind::InvalidValue, "not a REG_BINARY"),
        ("updates", ProblemKind::InvalidValue, "not the REG_QWORD 1"),
        (
            "colour",
            ProblemKind::UnknownKey,
            "unknown setting \"colour\"",
        ),
    ];
    assert_eq!(problems.len(), expect.len(), "{problems:?}");
    for ((key, kind, message), (want_key, want_kind, want_text)) in problems.iter().zip(expect) {
        assert_eq!((*key, *kind), (want_key, want_kind));
        assert!(message.contains(want_text), "{key}: {message}");
    }
    assert!(
        set.problems.iter().all(|p| p.source == POLICY_KEY),
        "written HKLM\\ in the file"
    );
}

#[test]
fn a_bad_line_is_reported_with_its_number() {
    let err = parse_reg_export_bytes(&fixture("bad-line.reg")).unwrap_err();
    assert_eq!(err.line, 5);
    assert!(err.message.contains("unknown value data"), "{err}");
    assert!(err.to_string().starts_with("line 5: "), "{err}");
}

#[test]
fn what_is_not_a_policy_export_is_refused() {
    let header = "Windows Registry Editor Version 5.00\n";
    let key = "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Classroom\\Classroom]\n";
    let cases: [(String, usize, &str); 12] = [
        (String::new(), 1, "empty"),
        ("[HKEY_LOCAL_MACHINE\\X]\n".into(), 1, "not a .reg file"),
        (format!("{header}\"a\"=\"b\"\n"), 2, "before any [key]"),
        (
            format!("{header}[-HKEY_LOCAL_MACHINE\\X]\n"),
            2,
            "deletes a key",
        ),
        (format!("{header}{key}\"theme\"=-\n"), 3, "deletes a value"),
        (format!("{header}{key}\"theme=\"dark\"\n"), 3, "expected ="),
        (format!("{header}{key}\"theme\"=\"dark\n"), 3, "closing"),
        (
            format!("{header}{key}\"theme\"=\"dark\" x\n"),
            3,
            "after the string",
        ),
        (
            format!("{header}{key}\"n\"=dword:123456789\n"),
            3,
            "8 hex digits",
        ),
        (format!("{header}{key}\"n\"=hex:0g\n"), 3, "not a hex byte"),
        (
            format!("{header}{key}\"n\"=hex(+7):00\n"),
            3,
            "not a registry type",
        ),
        (format!("{header}[HKEY_LOCAL_MACHINE\\X\n"), 2, "end with ]"),
    ];
    for (text, line, why) in cases {
        let err = parse_reg_export(&text).unwrap_err();
        assert_eq!(err.line, line, "{text:?}: {err}");
        assert!(err.message.contains(why), "{text:?}: {err}");
    }
    assert_eq!(
        parse_reg_export_bytes(b"\xFF\xFEW\x00!").unwrap_err().line,
        0
    );
    assert_eq!(
        parse_reg_export_bytes(b"\xFE\xFF\x00W").unwrap_err().line,
        0
    );
    assert_eq!(parse_reg_export_bytes(b"\xC3\x28").unwrap_err().line, 0);
}

#[test]
fn regedit4_exports_and_utf8_byte_order_marks_are_read() {
    // REGEDIT4: one byte a character in hex(2) and hex(7).
    let text = "\u{feff}REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Classroom\\Classroom]\r\n\
                \"screenShareSources\"=hex(7):73,63,72,65,65,6e,00,00\r\n\"updates\"=hex(2):6f,66,66,00\r\n";
    let set = policy_from_reg_export(&parse_reg_export(text).unwrap());
    assert_eq!(set.problems, vec![]);
    assert_eq!(
        set.mandatory[&PolicyKey::ScreenShareSources].value,
        json!(["screen"])
    );
    assert_eq!(set.mandatory[&PolicyKey::Updates].value, json!("off"));
}

#[test]
fn registry_values_map_by_type() {
    let mandatory = vec![
        (
            "serverUrl".to_owned(),
            RegValue::ExpandSz("ws://10.0.0.2:9000".into()),
        ),
        ("studentsMayRecord".to_owned(), RegValue::Dword(0)),
        ("screenShareSources".to_owned(), RegValue::MultiSz(vec![])),
    ];
    let recommended = vec![
        (
            "screenShareSources".to_owned(),
            RegValue::Sz("[\"screen\"".into()),
        ),
        ("studentsMayRecord".to_owned(), RegValue::Qword(1)),
        (
            "theme".to_owned(),
            RegValue::from_raw(1, &[0x64, 0, 0x61, 0, 0x72, 0, 0x6b, 0, 0, 0, 0x78, 0]),
        ),
        ("language".to_owned(), RegValue::from_raw(4, &[1, 0])),
    ];
    let set = policy_from_registry(&mandatory, &recommended);
    assert_eq!(
        set.mandatory[&PolicyKey::ServerUrl].value,
        json!("ws://10.0.0.2:9000")
    );
    assert_eq!(
        set.mandatory[&PolicyKey::StudentsMayRecord].value,
        json!(false)
    );
    assert_eq!(
        set.mandatory[&PolicyKey::ScreenShareSources].value,
        json!([]),
        "no sharing at all"
    );
    assert_eq!(
        set.recommended[&PolicyKey::Theme].value,
        json!("dark"),
        "up to the first NUL"
    );
    let refused: Vec<(&str, &str)> = set
        .problems
        .iter()
        .map(|p| (p.key.as_deref().unwrap(), p.source.as_str()))
        .collect();
    assert_eq!(
        refused,
        [
            ("screenShareSources", RECOMMENDED_KEY),
            ("studentsMayRecord", RECOMMENDED_KEY),
            ("language", RECOMMENDED_KEY),
        ]
    );
    assert!(
        set.problems[0].message.contains("not a JSON array"),
        "{}",
        set.problems[0]
    );
    assert!(
        set.problems[2]
            .message
            .contains("REG_DWORD of the wrong length"),
        "{}",
        set.problems[2]
    );
}
