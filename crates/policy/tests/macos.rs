//! The macOS mapping through plist fixtures: forced values lock, recommended ones do not, a
//! binary plist reads like XML, wrong types are reported; and the files under a stand-in
//! `/Library`, where the user's forced values replace the computer's.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;

use policy::macos::{FORCED_PLIST, RECOMMENDED_PLIST, add_plist, policy_from_plists};
use policy::*;
use serde_json::{Map, json};

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/macos")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn forced_values_lock_and_recommended_values_do_not() {
    let set = policy_from_plists(
        Some(&fixture("forced.plist")),
        Some(&fixture("recommended.plist")),
    );
    assert_eq!(set.problems, vec![]);
    assert_eq!(set.mandatory.len(), 4);
    assert_eq!(
        set.mandatory[&PolicyKey::ScreenShareSources].value,
        json!(["window"])
    );
    assert_eq!(
        set.mandatory[&PolicyKey::StudentsMayRecord].value,
        json!(false)
    );
    assert_eq!(set.recommended[&PolicyKey::Language].value, json!("zh-CN"));

    let user: Map<String, serde_json::Value> =
        serde_json::from_value(json!({"theme": "light", "updates": "auto"})).unwrap();
    let resolved = resolve(&builtin_defaults(), &set, &user);
    let updates = resolved.get(PolicyKey::Updates).unwrap();
    assert_eq!(
        (updates.value.clone(), updates.locked),
        (json!("off"), true),
        "forced beats user"
    );
    assert_eq!(updates.why.as_deref(), Some(FORCED_PLIST));
    assert_eq!(
        resolved
            .may_change(PolicyKey::StudentsMayRecord)
            .unwrap_err()
            .locked_by,
        FORCED_PLIST
    );
    let theme = resolved.get(PolicyKey::Theme).unwrap();
    assert_eq!(
        (theme.value.clone(), theme.source),
        (json!("light"), Layer::User),
        "user beats recommended"
    );
    let language = resolved.get(PolicyKey::Language).unwrap();
    assert_eq!(
        (language.source, language.locked),
        (Layer::Recommended, false)
    );
    assert_eq!(language.why.as_deref(), Some(RECOMMENDED_PLIST));
}

#[test]
fn a_binary_plist_reads_like_xml() {
    let mut dict = plist::Dictionary::new();
    dict.insert("serverUrl".into(), "wss://class.example.org/ws".into());
    dict.insert("studentsMayRecord".into(), false.into());
    dict.insert(
        "screenShareSources".into(),
        plist::Value::Array(vec!["window".into()]),
    );
    dict.insert("updates".into(), "off".into());
    let mut binary = Vec::new();
    plist::Value::Dictionary(dict)
        .to_writer_binary(&mut binary)
        .unwrap();
    assert!(binary.starts_with(b"bplist00"));
    assert_eq!(
        policy_from_plists(Some(&binary), None),
        policy_from_plists(Some(&fixture("forced.plist")), None)
    );
}

#[test]
fn wrong_types_are_reported_and_the_good_keys_apply() {
    let set = policy_from_plists(Some(&fixture("wrong-type.plist")), None);
    assert_eq!(
        set.mandatory.keys().copied().collect::<Vec<_>>(),
        [PolicyKey::DownloadLimit]
    );
    let problems: Vec<(&str, ProblemKind, &str)> = set
        .problems
        .iter()
        .map(|p| (p.key.as_deref().unwrap(), p.kind, p.message.as_str()))
        .collect();
    let expect = [
        ("language", ProblemKind::InvalidValue, "the number 5"),
        (
            "screenShareSources",
            ProblemKind::InvalidValue,
            "an array inside an array",
        ),
        (
            "studentsMayRecord",
            ProblemKind::InvalidValue,
            "the string \"YES\"",
        ),
        ("theme", ProblemKind::InvalidValue, "must not be data"),
        // A date reads as its text.
        (
            "updates",
            ProblemKind::InvalidValue,
            "not the string \"2026-01-01T00:00:00Z\"",
        ),
        (
            "WebKitDeveloperExtras",
            ProblemKind::UnknownKey,
            "unknown setting",
        ),
    ];
    assert_eq!(problems.len(), expect.len(), "{problems:?}");
    for ((key, kind, message), (want_key, want_kind, want_text)) in problems.iter().zip(expect) {
        assert_eq!((*key, *kind), (want_key, want_kind));
        assert!(message.contains(want_text), "{key}: {message}");
    }
    assert!(set.problems.iter().all(|p| p.source == FORCED_PLIST));
}

#[test]
fn what_is_not_a_dictionary_plist_is_reported() {
    let mut set = PolicySet::default();
    add_plist(&mut set, Level::Mandatory, "a", b"not a plist");
    add_plist(
        &mut set,
        Level::Mandatory,
        "b",
        br#"<?xml version="1.0"?><plist version="1.0"><array/></plist>"#,
    );
    add_plist(&mut set, Level::Mandatory, "c", &[]);
    let kinds: Vec<(&str, ProblemKind)> = set
        .problems
        .iter()
        .map(|p| (p.source.as_str(), p.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("a", ProblemKind::BadFormat),
            ("b", ProblemKind::BadFormat),
            ("c", ProblemKind::BadFormat)
        ]
    );
    assert!(set.mandatory.is_empty());
}

#[test]
fn deeply_nested_arrays_do_not_exhaust_the_stack() {
    let depth = 50_000;
    let xml = format!(
        r#"<?xml version="1.0"?><plist version="1.0"><dict><key>screenShareSources</key>{}{}</dict></plist>"#,
        "<array>".repeat(depth),
        "</array>".repeat(depth)
    );
    let mut set = PolicySet::default();
    add_plist(&mut set, Level::Mandatory, "deep", xml.as_bytes());
    assert!(set.mandatory.is_empty());
    assert_eq!(set.problems.len(), 1, "{:?}", set.problems);
}

/// A binary plist whose arrays each hold the next one 14 times: a few hundred bytes that
/// unfold into 14^12 values.
fn unfolding_binary_plist(depth: u8) -> Vec<u8> {
    let mut objects: Vec<Vec<u8>> = Vec::new();
    objects.push(vec![0xD1, 1, 2]); // {object 1: object 2}
    let mut key = vec![0x5F, 0x10, 18];
    key.extend_from_slice(b"screenShareSources");
    objects.push(key);
    for i in 0..depth {
        let mut array = vec![0xAE];
        array.extend(std::iter::repeat_n(3 + i, 14));
        objects.push(array);
    }
    objects.push(b"\x56screen".to_vec());
    let mut out = b"bplist00".to_vec();
    let mut offsets = Vec::new();
    for object in &objects {
        offsets.push(u16::try_from(out.len()).unwrap());
        out.extend_from_slice(object);
    }
    let table = out.len() as u64;
    for offset in offsets {
        out.extend_from_slice(&offset.to_be_bytes());
    }
    out.extend_from_slice(&[0; 6]);
    out.extend_from_slice(&[2, 1]); // offset size, reference size
    out.extend_from_slice(&(objects.len() as u64).to_be_bytes());
    out.extend_from_slice(&0u64.to_be_bytes());
    out.extend_from_slice(&table.to_be_bytes());
    out
}

#[test]
fn a_binary_plist_that_unfolds_without_end_is_refused_quickly() {
    // One array of 14 "screen"s: the hand-made file is a real plist.
    let set = policy_from_plists(Some(&unfolding_binary_plist(1)), None);
    assert_eq!(set.problems, vec![]);
    assert_eq!(
        set.mandatory[&PolicyKey::ScreenShareSources].value,
        json!(["screen"])
    );
    let set = policy_from_plists(Some(&unfolding_binary_plist(2)), None);
    assert!(
        set.problems[0].message.contains("an array inside an array"),
        "{}",
        set.problems[0]
    );

    let set = policy_from_plists(Some(&unfolding_binary_plist(12)), None);
    assert_eq!(set.problems.len(), 1, "{:?}", set.problems);
    assert_eq!(set.problems[0].kind, ProblemKind::BadFormat);
    assert!(
        set.problems[0].message.contains("more than"),
        "{}",
        set.problems[0]
    );
}

#[cfg(unix)]
mod files {
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::Path;

    use policy::macos::read_managed_preferences_from;
    use policy::*;
    use serde_json::json;

    use super::fixture;

    fn put(path: &Path, bytes: &[u8]) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
    }

    fn plist(entries: &[(&str, plist::Value)]) -> Vec<u8> {
        let dict: plist::Dictionary = entries.iter().map(|(k, v)| (*k, v.clone())).collect();
        let mut xml = Vec::new();
        plist::Value::Dictionary(dict)
            .to_writer_xml(&mut xml)
            .unwrap();
        xml
    }

    #[test]
    fn the_users_forced_values_replace_the_computers() {
        let dir = tempfile::tempdir().unwrap();
        let library = dir.path();
        let owner = fs::metadata(library).unwrap().uid();
        let managed = library.join("Managed Preferences");
        let machine = managed.join("app.classroom.desktop.plist");
        let ada = managed.join("ada/app.classroom.desktop.plist");
        let recommended = library.join("Preferences/app.classroom.desktop.plist");
        put(&machine, &fixture("forced.plist"));
        put(
            &ada,
            &plist(&[("updates", "notify".into()), ("theme", "dark".into())]),
        );
        put(&recommended, &fixture("recommended.plist"));
        for folder in [managed.clone(), managed.join("ada")] {
            fs::set_permissions(&folder, fs::Permissions::from_mode(0o755)).unwrap();
        }

        let set = read_managed_preferences_from(library, Some("ada"), owner);
        assert_eq!(set.problems, vec![]);
        let updates = &set.mandatory[&PolicyKey::Updates];
        assert_eq!(
            (updates.value.clone(), updates.source.clone()),
            (json!("notify"), ada.display().to_string())
        );
        assert_eq!(
            set.mandatory[&PolicyKey::ServerUrl].source,
            machine.display().to_string()
        );
        assert_eq!(
            set.recommended[&PolicyKey::Language].source,
            recommended.display().to_string()
        );

        // The computer's only.
        let set = read_managed_preferences_from(library, None, owner);
        assert_eq!(set.mandatory[&PolicyKey::Updates].value, json!("off"));
        assert!(!set.mandatory.contains_key(&PolicyKey::Theme));

        // Someone else's user folder name cannot climb out.
        let set = read_managed_preferences_from(library, Some("../Preferences"), owner);
        assert_eq!(set.problems.len(), 1);
        assert_eq!(set.mandatory[&PolicyKey::Updates].value, json!("off"));

        // A user folder anyone may write to is ignored, the computer's still applies.
        fs::set_permissions(managed.join("ada"), fs::Permissions::from_mode(0o777)).unwrap();
        let set = read_managed_preferences_from(library, Some("ada"), owner);
        assert_eq!(set.mandatory[&PolicyKey::Updates].value, json!("off"));
        assert_eq!(set.problems.len(), 1);
        assert_eq!(set.problems[0].kind, ProblemKind::UnsafePermissions);

        // Another owner: nothing is read.
        let set = read_managed_preferences_from(library, None, owner.wrapping_add(1));
        assert!(set.mandatory.is_empty() && set.recommended.is_empty());
        assert!(
            set.problems
                .iter()
                .all(|p| p.kind == ProblemKind::UnsafePermissions)
        );

        // No managed preferences at all: no policy.
        let empty = tempfile::tempdir().unwrap();
        assert!(read_managed_preferences_from(empty.path(), Some("ada"), owner).is_empty());
    }
}
