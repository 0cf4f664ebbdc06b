//! What a school's IT puts in the policy stores, and what a user's settings file holds, any
//! bytes: JSON policy files (Linux), plists (macOS managed preferences, XML or binary), `.reg`
//! exports and raw registry values (Windows), each at either level, then resolved over the
//! built-in defaults and a user's settings. The app reads these before its window opens, so
//! a broken or hostile file must be a `Problem`, never a panic or a stack overflow (a plist
//! can nest arrays deeply), and:
//!
//! - every value a store gave is one its key accepts, unchanged by checking it again;
//! - every setting in effect is locked exactly when a mandatory value exists, and its value
//!   is that value, the user's, the recommended one or the default, each one the key accepts;
//! - the policy serialises for the page.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use policy::windows::{RegValue, add_registry_values, policy_from_reg_export};
use policy::{Layer, Level, PolicyKey, PolicySet, builtin_defaults, parse_reg_export_bytes, resolve};

#[derive(Debug, Arbitrary)]
enum Store<'a> {
    Json(bool, &'a [u8]),
    Plist(bool, &'a [u8]),
    RegExport(&'a [u8]),
    Registry(bool, Vec<(String, u32, &'a [u8])>),
}

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    stores: Vec<Store<'a>>,
    user: &'a [u8],
}

fn level(mandatory: bool) -> Level {
    if mandatory {
        Level::Mandatory
    } else {
        Level::Recommended
    }
}

fuzz_target!(|input: Input<'_>| {
    let mut set = PolicySet::default();
    for store in input.stores.iter().take(8) {
        match store {
            Store::Json(m, bytes) => {
                policy::linux::add_json(&mut set, level(*m), "/etc/classroom/policies/x.json", bytes)
            }
            Store::Plist(m, bytes) => {
                policy::macos::add_plist(&mut set, level(*m), "/Library/x.plist", bytes)
            }
            Store::RegExport(bytes) => {
                if let Ok(export) = parse_reg_export_bytes(bytes) {
                    set.extend(policy_from_reg_export(&export));
                }
            }
            Store::Registry(m, values) => {
                let values: Vec<(String, RegValue)> = values
                    .iter()
                    .take(64)
                    .map(|(name, kind, bytes)| (name.clone(), RegValue::from_raw(*kind, bytes)))
                    .collect();
                add_registry_values(&mut set, level(*m), "HKLM\\SOFTWARE\\Policies\\x", &values);
            }
        }
    }
    for l in [Level::Mandatory, Level::Recommended] {
        for (key, value) in set.level(l) {
            assert_eq!(
                key.check(&value.value).as_ref(),
                Ok(&value.value),
                "{key}: a stored value its key does not take as it is"
            );
        }
    }
    serde_json::to_string(&set).expect("the policy serialises");

    let user = serde_json::from_slice::<serde_json::Value>(input.user)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    let defaults = builtin_defaults();
    let resolved = resolve(&defaults, &set, &user);
    for key in PolicyKey::ALL {
        let effective = resolved.get(key).expect("every key resolves");
        assert_eq!(effective.locked, set.mandatory.contains_key(&key), "{key}");
        match effective.source {
            Layer::Mandatory => assert_eq!(Some(&effective.value), set.mandatory.get(&key).map(|p| &p.value)),
            Layer::Recommended => assert_eq!(Some(&effective.value), set.recommended.get(&key).map(|p| &p.value)),
            Layer::Default => {
                assert_eq!(&effective.value, defaults.get(&key).unwrap_or(&serde_json::Value::Null))
            }
            _ => {}
        }
        if effective.source != Layer::Default {
            assert!(key.check(&effective.value).is_ok(), "{key}: {:?}", effective.value);
        }
        assert_eq!(resolved.may_change(key).is_err(), effective.locked, "{key}");
    }
});
