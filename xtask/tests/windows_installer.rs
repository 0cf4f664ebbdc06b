//! The Windows installer's own WiX: what can be checked on Linux.
//!
//! Tauri builds the MSI only on Windows (WiX 3.14, in the CI workflow). Here:
//! - the school-settings fragment's logic: for every setting, whether given on msiexec's
//!   command line or not, remembered from the last install or not, exactly one component
//!   installs and it writes the value a school expects (an MSI condition evaluator below);
//! - the fragment compiles with Debian's wixl (inside a wrapper product, with the two things
//!   wixl does not know, component conditions and `Secure`, taken out) and its tables read back
//!   with `msiinfo`: the registry rows are the keys and names the app's policy reader reads;
//! - the Tauri configuration pins the upgrade code and references the fragments.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

fn fragment_text() -> String {
    fs::read_to_string(root().join("installer/windows/school-settings.wxs")).expect("fragment")
}

/// Where the app reads mandatory school policy (crates/policy/src/windows.rs).
const POLICY_KEY: &str = r"SOFTWARE\Policies\Classroom\Classroom";
/// Where the installer remembers what it was told.
const REMEMBER_KEY: &str = r"SOFTWARE\Classroom\Classroom\Installer";

/// One component of the fragment: its condition and the registry values it writes.
#[derive(Debug)]
struct Component {
    id: String,
    condition: String,
    /// (key, name, type, value)
    values: Vec<(String, String, String, String)>,
}

fn components(text: &str) -> Vec<Component> {
    let doc = roxmltree::Document::parse(text).expect("the fragment is XML");
    doc.descendants()
        .filter(|n| n.has_tag_name("Component"))
        .map(|c| Component {
            id: c.attribute("Id").expect("Id").to_owned(),
            condition: c
                .children()
                .find(|n| n.has_tag_name("Condition"))
                .and_then(|n| n.text())
                .expect("every component has a condition")
                .trim()
                .to_owned(),
            values: c
                .children()
                .filter(|n| n.has_tag_name("RegistryValue"))
                .map(|v| {
                    assert_eq!(v.attribute("Root"), Some("HKLM"));
                    (
                        v.attribute("Key").expect("Key").to_owned(),
                        v.attribute("Name").expect("Name").to_owned(),
                        v.attribute("Type").expect("Type").to_owned(),
                        v.attribute("Value").expect("Value").to_owned(),
                    )
                })
                .collect(),
        })
        .collect()
}

/// An MSI condition as the fragment writes them: `A AND B`, `NOT A`, `PROP`, `PROP = "v"`.
fn holds(condition: &str, props: &HashMap<String, String>) -> bool {
    let value = |name: &str| props.get(name).cloned().unwrap_or_default();
    condition.split(" AND ").all(|term| {
        let term = term.trim();
        let (negated, term) = match term.strip_prefix("NOT ") {
            Some(rest) => (true, rest.trim()),
            None => (false, term),
        };
        let truth = match term.split_once('=') {
            Some((name, literal)) => {
                let literal = literal.trim();
                assert!(
                    literal.starts_with('"') && literal.ends_with('"'),
                    "unexpected literal in {condition:?}"
                );
                value(name.trim()) == literal[1..literal.len() - 1]
            }
            None => {
                assert!(
                    term.chars()
                        .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit()),
                    "unexpected term {term:?} in {condition:?}"
                );
                !value(term).is_empty()
            }
        };
        truth != negated
    })
}

/// `[PROP]` replaced as Windows Installer formats a value.
fn format(value: &str, props: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find('[') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find(']').expect("closing bracket") + start;
        out.push_str(props.get(&rest[start + 1..end]).map_or("", String::as_str));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// What one install writes: policy name -> (type, value), and what it remembers.
fn install(
    comps: &[Component],
    props: &HashMap<String, String>,
) -> (BTreeMap<String, (String, String)>, BTreeMap<String, String>) {
    let mut policy = BTreeMap::new();
    let mut remembered = BTreeMap::new();
    for c in comps.iter().filter(|c| holds(&c.condition, props)) {
        for (key, name, kind, value) in &c.values {
            let value = format(value, props);
            if key == POLICY_KEY {
                let old = policy.insert(name.clone(), (kind.clone(), value));
                assert!(old.is_none(), "{name} written twice (component {})", c.id);
            } else {
                assert_eq!(key, REMEMBER_KEY);
                remembered.insert(name.clone(), value);
            }
        }
    }
    (policy, remembered)
}

fn props(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Properties as the next install's AppSearch sees them: the remembered values.
fn after(
    remembered: &BTreeMap<String, String>,
    command_line: &[(&str, &str)],
) -> HashMap<String, String> {
    let mut p: HashMap<String, String> = remembered
        .iter()
        .map(|(k, v)| (format!("REMEMBERED_{k}"), v.clone()))
        .collect();
    p.extend(props(command_line));
    p
}

#[test]
fn a_silent_install_writes_the_schools_settings_as_locked_policy() {
    let comps = components(&fragment_text());
    let (policy, _) = install(
        &comps,
        &props(&[
            ("SERVERURL", "wss://classes.school.example:8443/ws"),
            ("LANGUAGE", "zh-CN"),
            ("STUDENTSMAYRECORD", "1"),
            ("SCREENSHARESOURCES", r#"["screen"]"#),
        ]),
    );
    let expect = |name: &str, kind: &str, value: &str| {
        assert_eq!(
            policy.get(name),
            Some(&(kind.to_owned(), value.to_owned())),
            "{name} in {policy:?}"
        );
    };
    expect(
        "serverUrl",
        "string",
        "wss://classes.school.example:8443/ws",
    );
    expect("language", "string", "zh-CN");
    expect("studentsMayRecord", "integer", "1");
    expect("screenShareSources", "string", r#"["screen"]"#);
    // Not given: a machine-wide install does not update itself.
    expect("updates", "string", "off");
}

#[test]
fn an_install_without_properties_writes_only_that_updates_are_off() {
    let comps = components(&fragment_text());
    let (policy, remembered) = install(&comps, &HashMap::new());
    assert_eq!(
        policy.into_iter().collect::<Vec<_>>(),
        vec![(
            "updates".to_owned(),
            ("string".to_owned(), "off".to_owned())
        )]
    );
    assert_eq!(remembered.get("UPDATES").map(String::as_str), Some("off"));
}

#[test]
fn an_upgrade_keeps_what_the_school_set_and_a_new_value_wins() {
    let comps = components(&fragment_text());
    let (first, remembered) = install(
        &comps,
        &props(&[
            ("SERVERURL", "wss://a.example/ws"),
            ("UPDATES", "notify"),
            ("STUDENTSMAYRECORD", "0"),
        ]),
    );
    // The upgrade is run with no properties: everything stays.
    let (second, remembered2) = install(&comps, &after(&remembered, &[]));
    assert_eq!(first, second);
    // A later upgrade changes only the server.
    let (third, _) = install(
        &comps,
        &after(&remembered2, &[("SERVERURL", "wss://b.example/ws")]),
    );
    assert_eq!(third["serverUrl"].1, "wss://b.example/ws");
    assert_eq!(third["updates"].1, "notify");
    assert_eq!(third["studentsMayRecord"], ("integer".into(), "0".into()));
}

#[test]
fn every_setting_has_exactly_one_source_in_every_case() {
    let comps = components(&fragment_text());
    let settings = [
        ("SERVERURL", "serverUrl", "wss://x/ws", "wss://y/ws", None),
        ("LANGUAGE", "language", "en", "zh-CN", None),
        (
            "SCREENSHARESOURCES",
            "screenShareSources",
            "[]",
            r#"["window"]"#,
            None,
        ),
        ("UPDATES", "updates", "auto", "notify", Some("off")),
        ("STUDENTSMAYRECORD", "studentsMayRecord", "1", "0", None),
    ];
    for (prop, name, given, remembered, default) in settings {
        let remembered_prop = format!("REMEMBERED_{prop}");
        for (g, r) in [
            (None, None),
            (Some(given), None),
            (None, Some(remembered)),
            (Some(given), Some(remembered)),
        ] {
            let mut p = HashMap::new();
            if let Some(g) = g {
                p.insert(prop.to_owned(), g.to_owned());
            }
            if let Some(r) = r {
                p.insert(remembered_prop.clone(), r.to_owned());
            }
            let (policy, _) = install(&comps, &p);
            let want = g.or(r).or(default);
            assert_eq!(
                policy.get(name).map(|v| v.1.as_str()),
                want,
                "{prop}: given {g:?}, remembered {r:?}"
            );
        }
    }
}

/// The fragment as wixl takes it: no component conditions, no `Secure`, and the properties
/// (wixl reads them only under `Product`) returned apart.
fn for_wixl(text: &str) -> (String, String) {
    let mut fragment = String::new();
    let mut properties = String::new();
    let mut in_property = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("<Condition>") {
            continue;
        }
        let line = line.replace(" Secure=\"yes\"", "");
        if trimmed.starts_with("<Property ") {
            in_property = !trimmed.ends_with("/>");
            properties.push_str(&line);
            properties.push('\n');
            continue;
        }
        if in_property {
            properties.push_str(&line);
            properties.push('\n');
            in_property = !trimmed.starts_with("</Property>");
            continue;
        }
        fragment.push_str(&line);
        fragment.push('\n');
    }
    (fragment, properties)
}

fn msiinfo(msi: &Path, table: &str) -> String {
    let out = Command::new("msiinfo")
        .args(["export"])
        .arg(msi)
        .arg(table)
        .output()
        .expect("msiinfo (Debian's msitools; `cargo xtask deps` installs it)");
    assert!(out.status.success(), "msiinfo export {table}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_fragment_compiles_with_wixl_and_its_tables_read_back() {
    let dir = std::env::temp_dir().join(format!("classroom-wixl-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("dir");
    let (fragment, properties) = for_wixl(&fragment_text());
    fs::write(dir.join("school-settings.wxs"), fragment).expect("write");
    let wrapper = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="Classroom fragment check" Language="1033" Version="0.1.0"
      Manufacturer="Classroom" UpgradeCode="8E1D9C55-3B7A-4E0F-A1C2-6D4B9E7F0A11">
    <Package InstallerVersion="500" Compressed="yes" InstallScope="perMachine" />
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFiles64Folder">
        <Directory Id="INSTALLDIR" Name="Classroom" />
      </Directory>
    </Directory>
{properties}
    <Feature Id="Main" Level="1">
      <ComponentGroupRef Id="SchoolSettings" />
    </Feature>
  </Product>
</Wix>
"#
    );
    fs::write(dir.join("wrapper.wxs"), wrapper).expect("write");
    let msi = dir.join("check.msi");
    let out = Command::new("wixl")
        .args(["-a", "x64", "-o"])
        .arg(&msi)
        .arg(dir.join("wrapper.wxs"))
        .arg(dir.join("school-settings.wxs"))
        .output()
        .expect("wixl (Debian's wixl package; `cargo xtask deps` installs it)");
    assert!(
        out.status.success(),
        "wixl: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Registry rows: Root 2 is HKLM; every policy value is one the app's reader knows.
    let registry = msiinfo(&msi, "Registry");
    let mut policy_names = std::collections::BTreeSet::new();
    for row in registry.lines().skip(3) {
        let cols: Vec<&str> = row.split('\t').collect();
        assert_eq!(cols[1], "2", "not HKLM: {row}");
        if cols[2] == POLICY_KEY {
            policy_names.insert(cols[3].to_owned());
        } else {
            assert_eq!(cols[2], REMEMBER_KEY, "{row}");
        }
    }
    assert_eq!(
        policy_names.into_iter().collect::<Vec<_>>(),
        vec![
            "language",
            "screenShareSources",
            "serverUrl",
            "studentsMayRecord",
            "updates"
        ]
    );
    // The DWORD is written as one ("#1"), the rest as strings.
    assert!(registry.contains("studentsMayRecord\t#1\t"), "{registry}");
    // The remembered values are searched for at every install.
    let locator = msiinfo(&msi, "RegLocator");
    assert_eq!(
        locator
            .lines()
            .skip(3)
            .filter(|l| l.contains(REMEMBER_KEY))
            .count(),
        5,
        "{locator}"
    );
    let search = msiinfo(&msi, "AppSearch");
    assert!(search.contains("REMEMBERED_SERVERURL"), "{search}");
    fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn tauris_windows_config_pins_the_upgrade_code_and_uses_the_fragments() {
    let text =
        fs::read_to_string(root().join("src-tauri/tauri.windows.conf.json")).expect("config");
    let config: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let wix = &config["bundle"]["windows"]["wix"];
    // Changing it would make every school's next version install beside the old one.
    assert_eq!(wix["upgradeCode"], "6e91a913-6891-4959-9d96-09cbe5ac0b17");
    for path in wix["fragmentPaths"].as_array().expect("fragments") {
        let path = root().join("src-tauri").join(path.as_str().expect("path"));
        assert!(path.is_file(), "{} missing", path.display());
    }
    assert_eq!(
        wix["componentGroupRefs"],
        serde_json::json!(["SchoolSettings"])
    );
    let merge = fs::read_to_string(root().join("installer/windows/vc-runtime.wxs")).expect("vc");
    let doc = roxmltree::Document::parse(&merge).expect("XML");
    let merge_ids: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("Merge"))
        .filter_map(|n| n.attribute("Id"))
        .collect();
    assert_eq!(serde_json::json!(merge_ids), wix["mergeRefs"]);
}
