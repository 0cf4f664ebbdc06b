//! The order of the layers (built-in default < school recommended < user < school mandatory),
//! the lock on what the school made mandatory, and what each key accepts.
#![allow(clippy::unwrap_used, missing_docs)]

use policy::*;
use serde_json::{Map, Value, json};

fn user(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => panic!("user settings are an object"),
    }
}

const MANAGED: &str = "/etc/classroom/policies/managed/10-school.json";
const RECOMMENDED: &str = "/etc/classroom/policies/recommended/10-school.json";

/// One key at each layer, and one key set at every layer.
fn layered() -> (PolicySet, Map<String, Value>) {
    let mut set = PolicySet::default();
    set.offer(
        Level::Mandatory,
        "serverUrl",
        &json!("wss://school.example.org/class"),
        MANAGED,
    );
    set.offer(Level::Mandatory, "theme", &json!("dark"), MANAGED);
    set.offer(Level::Recommended, "updates", &json!("notify"), RECOMMENDED);
    set.offer(Level::Recommended, "language", &json!("zh-CN"), RECOMMENDED);
    set.offer(Level::Recommended, "theme", &json!("light"), RECOMMENDED);
    assert_eq!(set.problems, vec![]);
    let user = user(json!({"language": "en", "downloadLimit": "mb5", "theme": "system"}));
    (set, user)
}

#[test]
fn each_layer_wins_over_the_one_below() {
    let (set, user) = layered();
    let resolved = resolve(&builtin_defaults(), &set, &user);

    // Default: nobody set it.
    let e = resolved.get(PolicyKey::StudentsMayRecord).unwrap();
    assert_eq!(
        (e.value.clone(), e.source, e.locked, e.why.clone()),
        (json!(false), Layer::Default, false, None)
    );
    // Recommended over the default.
    let e = resolved.get(PolicyKey::Updates).unwrap();
    assert_eq!(e.value, json!("notify"));
    assert_eq!(e.source, Layer::Recommended);
    assert!(!e.locked);
    assert_eq!(e.why.as_deref(), Some(RECOMMENDED));
    // The user's own over the recommendation.
    let e = resolved.get(PolicyKey::Language).unwrap();
    assert_eq!(
        (e.value.clone(), e.source, e.locked, e.why.clone()),
        (json!("en"), Layer::User, false, None)
    );
    assert_eq!(
        resolved.value(PolicyKey::DownloadLimit),
        Some(&json!("mb5"))
    );
    // Mandatory over everything, locked, naming the file.
    let e = resolved.get(PolicyKey::Theme).unwrap();
    assert_eq!(e.value, json!("dark"));
    assert_eq!(e.source, Layer::Mandatory);
    assert!(e.locked);
    assert_eq!(e.why.as_deref(), Some(MANAGED));
    let e = resolved.get(PolicyKey::ServerUrl).unwrap();
    assert_eq!((e.source, e.locked), (Layer::Mandatory, true));

    assert_eq!(resolved.settings.len(), PolicyKey::ALL.len());
    assert_eq!(resolved.problems, vec![]);
    assert!(Layer::Default < Layer::Recommended);
    assert!(Layer::Recommended < Layer::User);
    assert!(Layer::User < Layer::Mandatory);
}

#[test]
fn a_locked_key_refuses_a_change_naming_the_source() {
    let (set, mut user) = layered();
    let resolved = resolve(&builtin_defaults(), &set, &user);

    let locked = resolved.may_change(PolicyKey::Theme).unwrap_err();
    assert_eq!(locked.key, PolicyKey::Theme);
    assert_eq!(locked.locked_by, MANAGED);
    assert_eq!(
        locked.to_string(),
        format!("theme is locked by school policy ({MANAGED})")
    );
    let err = resolved
        .set_user(&mut user, PolicyKey::Theme, &json!("light"))
        .unwrap_err();
    assert_eq!(err.kind(), "locked");
    assert_eq!(
        user.get("theme"),
        Some(&json!("system")),
        "the user's settings are unchanged"
    );

    // A recommended key is the user's to change, and their value then wins.
    resolved.may_change(PolicyKey::Updates).unwrap();
    resolved
        .set_user(&mut user, PolicyKey::Updates, &json!("OFF"))
        .unwrap();
    assert_eq!(
        user.get("updates"),
        Some(&json!("off")),
        "stored in its one form"
    );
    let again = resolve(&builtin_defaults(), &set, &user);
    let e = again.get(PolicyKey::Updates).unwrap();
    assert_eq!((e.value.clone(), e.source), (json!("off"), Layer::User));

    // A value the key does not accept is refused, locked or not.
    let err = resolved
        .set_user(&mut user, PolicyKey::Language, &json!(5))
        .unwrap_err();
    assert_eq!(err.kind(), "invalid");
    assert!(err.to_string().contains("the number 5"), "{err}");
}

#[test]
fn a_bad_user_value_falls_through_to_the_layer_below_and_is_reported() {
    let (set, _) = layered();
    let user = user(json!({"updates": 3, "somethingElse": true}));
    let resolved = resolve(&builtin_defaults(), &set, &user);
    assert_eq!(resolved.value(PolicyKey::Updates), Some(&json!("notify")));
    assert_eq!(resolved.problems.len(), 1, "{:?}", resolved.problems);
    let p = &resolved.problems[0];
    assert_eq!(p.source, USER_SOURCE);
    assert_eq!(p.key.as_deref(), Some("updates"));
    assert_eq!(p.kind, ProblemKind::InvalidValue);
}

#[test]
fn later_stores_replace_earlier_ones_and_keep_all_problems() {
    let mut first = PolicySet::default();
    first.offer(Level::Mandatory, "language", &json!("en"), "a");
    first.offer(Level::Mandatory, "colour", &json!("red"), "a");
    let mut second = PolicySet::default();
    second.offer(Level::Mandatory, "language", &json!("zh-cn"), "b");
    first.extend(second);
    let lang = &first.mandatory[&PolicyKey::Language];
    assert_eq!(
        (lang.value.clone(), lang.source.as_str()),
        (json!("zh-CN"), "b")
    );
    assert_eq!(first.problems.len(), 1);
    assert_eq!(first.problems[0].kind, ProblemKind::UnknownKey);
    assert_eq!(first.problems[0].key.as_deref(), Some("colour"));
}

#[test]
fn each_key_checks_its_value() {
    let ok = [
        (
            PolicyKey::ServerUrl,
            json!("wss://class.example.org:8443/ws"),
            json!("wss://class.example.org:8443/ws"),
        ),
        (
            PolicyKey::ServerUrl,
            json!("  ws://10.0.0.5  "),
            json!("ws://10.0.0.5"),
        ),
        (PolicyKey::Language, json!("zh-cn"), json!("zh-CN")),
        (PolicyKey::StudentsMayRecord, json!(true), json!(true)),
        (
            PolicyKey::ScreenShareSources,
            json!(["window", "Screen", "window"]),
            json!(["window", "screen"]),
        ),
        (PolicyKey::ScreenShareSources, json!([]), json!([])),
        (PolicyKey::Updates, json!("notify"), json!("notify")),
        (PolicyKey::Theme, json!("dark"), json!("dark")),
        (PolicyKey::DownloadLimit, json!("mb20"), json!("mb20")),
    ];
    for (key, given, want) in ok {
        assert_eq!(key.check(&given), Ok(want), "{key} {given}");
    }
    let refused = [
        (
            PolicyKey::ServerUrl,
            json!("https://class.example.org"),
            "ws:// or wss://",
        ),
        (PolicyKey::ServerUrl, json!("wss://"), "no server name"),
        (PolicyKey::ServerUrl, json!("wss://a b"), "spaces"),
        (PolicyKey::ServerUrl, json!(42), "the number 42"),
        (PolicyKey::Language, json!(5), "the number 5"),
        (PolicyKey::Language, json!("fr"), "\"fr\""),
        (PolicyKey::StudentsMayRecord, json!(1), "true or false"),
        (PolicyKey::StudentsMayRecord, json!("yes"), "true or false"),
        (PolicyKey::ScreenShareSources, json!("screen"), "an array"),
        (
            PolicyKey::ScreenShareSources,
            json!(["screen", "camera"]),
            "\"camera\"",
        ),
        (PolicyKey::Updates, json!(null), "null"),
        (PolicyKey::Theme, json!({"a": 1}), "an object"),
        (PolicyKey::DownloadLimit, json!("mb2"), "\"mb2\""),
    ];
    for (key, given, why) in refused {
        let err = key.check(&given).unwrap_err();
        assert!(err.contains(why), "{key} {given}: {err}");
        assert!(err.starts_with(key.name()), "names the key: {err}");
    }
}

#[test]
fn keys_have_stable_camel_case_names_and_serialize_for_the_webview() {
    let names: Vec<&str> = PolicyKey::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(
        names,
        [
            "serverUrl",
            "language",
            "studentsMayRecord",
            "screenShareSources",
            "updates",
            "theme",
            "downloadLimit"
        ]
    );
    for key in PolicyKey::ALL {
        assert_eq!(serde_json::to_value(key).unwrap(), json!(key.name()));
        assert_eq!(key.name().parse::<PolicyKey>(), Ok(key));
        assert_eq!(
            PolicyKey::from_name_ignore_case(&key.name().to_uppercase()),
            Some(key)
        );
        key.check(&key.default_value())
            .or_else(|e| {
                if key.default_value().is_null() {
                    Ok(Value::Null)
                } else {
                    Err(e)
                }
            })
            .unwrap();
    }
    let (set, user) = layered();
    let resolved = resolve(&builtin_defaults(), &set, &user);
    let wire = serde_json::to_value(&resolved).unwrap();
    assert_eq!(
        wire["settings"]["theme"],
        json!({"value": "dark", "source": "mandatory", "locked": true, "why": MANAGED})
    );
    assert_eq!(
        wire["settings"]["studentsMayRecord"],
        json!({"value": false, "source": "default", "locked": false, "why": null})
    );
    let locked = resolved.may_change(PolicyKey::Theme).unwrap_err();
    assert_eq!(
        serde_json::to_value(locked).unwrap(),
        json!({"key": "theme", "lockedBy": MANAGED})
    );
}
