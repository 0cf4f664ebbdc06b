//! The Linux reader on real folders: files in name order, unsafe files and folders refused,
//! bad files and bad keys reported while the good keys still apply.
//!
//! The tests expect the owner of a folder they just made (root when run as root), and show
//! the refusal of another owner with an expected uid that does not match.
#![cfg(unix)]
#![allow(clippy::unwrap_used, missing_docs)]

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use policy::linux::{read_policy_dir, read_policy_dir_owned_by};
use policy::*;
use serde_json::json;

struct Policies {
    _dir: tempfile::TempDir,
    root: PathBuf,
    /// Who the test's files belong to: the "root" these tests expect.
    owner: u32,
}

impl Policies {
    fn new() -> Policies {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("policies");
        for folder in ["", "managed", "recommended"] {
            let path = root.join(folder);
            fs::create_dir_all(&path).unwrap();
            chmod(&path, 0o755);
        }
        let owner = fs::metadata(&root).unwrap().uid();
        Policies {
            _dir: dir,
            root,
            owner,
        }
    }

    fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.root.join(relative);
        fs::write(&path, text).unwrap();
        chmod(&path, 0o644);
        path
    }

    fn read(&self) -> PolicySet {
        read_policy_dir_owned_by(&self.root, self.owner)
    }

    /// A path under the root as problems and `why` name it ("" for the root itself).
    fn source(&self, relative: &str) -> String {
        if relative.is_empty() {
            return self.root.display().to_string();
        }
        self.root.join(relative).display().to_string()
    }
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn kinds(set: &PolicySet) -> Vec<(String, Option<String>, ProblemKind)> {
    set.problems
        .iter()
        .map(|p| (p.source.clone(), p.key.clone(), p.kind))
        .collect()
}

#[test]
fn managed_files_apply_in_name_order_and_lock() {
    let p = Policies::new();
    p.write(
        "managed/20-room.json",
        r#"{"language": "en", "studentsMayRecord": true}"#,
    );
    p.write(
        "managed/10-school.json",
        r#"{"serverUrl": "wss://school.example.org", "language": "zh-CN"}"#,
    );
    p.write(
        "recommended/10-school.json",
        r#"{"updates": "notify", "theme": "dark"}"#,
    );
    p.write("managed/README.txt", "not policy");
    p.write("managed/.hidden.json", r#"{"theme": "light"}"#);
    let set = p.read();
    assert_eq!(set.problems, vec![]);

    let language = &set.mandatory[&PolicyKey::Language];
    assert_eq!(language.value, json!("en"), "the later file wins");
    assert_eq!(language.source, p.source("managed/20-room.json"));
    let url = &set.mandatory[&PolicyKey::ServerUrl];
    assert_eq!(url.source, p.source("managed/10-school.json"));
    assert_eq!(set.mandatory.len(), 3);
    assert_eq!(set.recommended[&PolicyKey::Updates].value, json!("notify"));
    assert!(
        !set.mandatory.contains_key(&PolicyKey::Theme),
        "dotfiles are not read"
    );

    let resolved = resolve(&builtin_defaults(), &set, &serde_json::Map::new());
    let e = resolved.get(PolicyKey::Language).unwrap();
    assert!(e.locked);
    assert_eq!(
        e.why.as_deref(),
        Some(p.source("managed/20-room.json").as_str())
    );
    let refused = resolved.may_change(PolicyKey::ServerUrl).unwrap_err();
    assert_eq!(refused.locked_by, p.source("managed/10-school.json"));
    let e = resolved.get(PolicyKey::Theme).unwrap();
    assert_eq!((e.source, e.locked), (Layer::Recommended, false));
}

#[test]
fn a_world_writable_file_is_ignored_with_a_problem() {
    let p = Policies::new();
    p.write("managed/10-school.json", r#"{"language": "en"}"#);
    let unsafe_file = p.write("managed/20-student.json", r#"{"studentsMayRecord": true}"#);
    chmod(&unsafe_file, 0o666);
    let set = p.read();
    assert_eq!(set.mandatory.len(), 1, "only the safe file's key");
    assert_eq!(
        kinds(&set),
        [(
            p.source("managed/20-student.json"),
            None,
            ProblemKind::UnsafePermissions
        )]
    );
    assert!(
        set.problems[0]
            .message
            .contains("writable by others (mode 0666)"),
        "{}",
        set.problems[0]
    );
}

#[test]
fn a_group_writable_folder_is_ignored_with_a_problem() {
    let p = Policies::new();
    p.write("managed/10-school.json", r#"{"language": "en"}"#);
    p.write("recommended/10-school.json", r#"{"theme": "dark"}"#);
    chmod(&p.root.join("managed"), 0o775);
    let set = p.read();
    assert!(set.mandatory.is_empty());
    assert_eq!(set.recommended.len(), 1, "the other folder still applies");
    assert_eq!(
        kinds(&set),
        [(p.source("managed"), None, ProblemKind::UnsafePermissions)]
    );
    assert!(
        set.problems[0].message.contains("writable by its group"),
        "{}",
        set.problems[0]
    );

    // The root itself: nothing under it is read.
    chmod(&p.root.join("managed"), 0o755);
    chmod(&p.root, 0o757);
    let set = p.read();
    assert!(set.mandatory.is_empty() && set.recommended.is_empty());
    assert_eq!(
        kinds(&set),
        [(p.source(""), None, ProblemKind::UnsafePermissions)]
    );
}

#[test]
fn a_group_writable_file_is_ignored_with_a_problem() {
    let p = Policies::new();
    let file = p.write("recommended/10-school.json", r#"{"theme": "dark"}"#);
    chmod(&file, 0o664);
    let set = p.read();
    assert!(set.recommended.is_empty());
    assert_eq!(
        kinds(&set),
        [(
            p.source("recommended/10-school.json"),
            None,
            ProblemKind::UnsafePermissions
        )]
    );
}

#[test]
fn files_of_another_owner_are_ignored() {
    let p = Policies::new();
    p.write("managed/10-school.json", r#"{"language": "en"}"#);
    let other = p.owner.wrapping_add(1);
    let set = read_policy_dir_owned_by(&p.root, other);
    assert!(set.mandatory.is_empty());
    assert_eq!(
        kinds(&set),
        [(p.source(""), None, ProblemKind::UnsafePermissions)]
    );
    assert!(
        set.problems[0]
            .message
            .contains(&format!("owned by uid {}", p.owner)),
        "{}",
        set.problems[0]
    );
}

#[test]
fn read_policy_dir_expects_root() {
    let p = Policies::new();
    p.write("managed/10-school.json", r#"{"language": "en"}"#);
    let set = read_policy_dir(&p.root);
    if p.owner == 0 {
        assert_eq!(set.mandatory.len(), 1);
    } else {
        assert_eq!(set.problems[0].kind, ProblemKind::UnsafePermissions);
    }
}

#[test]
fn bad_json_and_unknown_keys_are_reported_while_good_keys_apply() {
    let p = Policies::new();
    p.write("managed/10-broken.json", r#"{"language": "en",,}"#);
    p.write("managed/20-array.json", r#"["language", "en"]"#);
    p.write(
        "managed/30-school.json",
        r#"{"serverUrl": "wss://school.example.org", "colour": "red", "theme": "dark"}"#,
    );
    let set = p.read();
    let keys: Vec<PolicyKey> = set.mandatory.keys().copied().collect();
    assert_eq!(keys, [PolicyKey::ServerUrl, PolicyKey::Theme]);
    assert_eq!(
        kinds(&set),
        [
            (
                p.source("managed/10-broken.json"),
                None,
                ProblemKind::BadFormat
            ),
            (
                p.source("managed/20-array.json"),
                None,
                ProblemKind::BadFormat
            ),
            (
                p.source("managed/30-school.json"),
                Some("colour".to_owned()),
                ProblemKind::UnknownKey
            ),
        ]
    );
    assert!(
        set.problems[0].message.starts_with("not JSON"),
        "{}",
        set.problems[0]
    );
    assert!(
        set.problems[1].message.contains("not an array"),
        "{}",
        set.problems[1]
    );
}

#[test]
fn wrong_value_types_are_refused_per_key() {
    let p = Policies::new();
    p.write(
        "managed/10-school.json",
        r#"{
            "serverUrl": "https://not-a-websocket.example.org",
            "language": 5,
            "studentsMayRecord": "yes",
            "screenShareSources": ["screen", "camera"],
            "updates": "sometimes",
            "theme": true,
            "downloadLimit": "mb5"
        }"#,
    );
    let set = p.read();
    assert_eq!(
        set.mandatory.keys().copied().collect::<Vec<_>>(),
        [PolicyKey::DownloadLimit]
    );
    assert!(
        set.problems
            .iter()
            .all(|p| p.kind == ProblemKind::InvalidValue),
        "{:?}",
        set.problems
    );
    let mut refused: Vec<String> = set
        .problems
        .iter()
        .map(|p| p.key.clone().unwrap())
        .collect();
    refused.sort();
    let mut want = [
        "serverUrl",
        "language",
        "studentsMayRecord",
        "screenShareSources",
        "updates",
        "theme",
    ];
    want.sort();
    assert_eq!(refused, want);
    let language = set
        .problems
        .iter()
        .find(|p| p.key.as_deref() == Some("language"))
        .unwrap();
    assert!(language.message.contains("the number 5"), "{language}");
}

#[test]
fn missing_folders_are_no_policy() {
    let p = Policies::new();
    fs::remove_dir(p.root.join("recommended")).unwrap();
    p.write("managed/10-school.json", r#"{"language": "en"}"#);
    let set = p.read();
    assert_eq!((set.mandatory.len(), set.problems.len()), (1, 0));

    let nowhere = p.root.join("nowhere");
    assert!(read_policy_dir_owned_by(&nowhere, p.owner).is_empty());
}

#[test]
fn files_over_one_mebibyte_are_refused() {
    let p = Policies::new();
    let padding = " ".repeat(MAX_FILE_BYTES as usize);
    p.write(
        "managed/10-big.json",
        &format!(r#"{{"language": "en"}}{padding}"#),
    );
    let set = p.read();
    assert!(set.mandatory.is_empty());
    assert_eq!(
        kinds(&set),
        [(p.source("managed/10-big.json"), None, ProblemKind::TooLarge)]
    );
}

#[test]
fn a_utf8_byte_order_mark_is_allowed() {
    let p = Policies::new();
    p.write("managed/10-notepad.json", "\u{feff}{\"language\": \"en\"}");
    let set = p.read();
    assert_eq!(
        (set.mandatory.len(), set.problems.len()),
        (1, 0),
        "{:?}",
        set.problems
    );
}

#[test]
fn symlinks_are_followed_only_into_safe_folders() {
    let p = Policies::new();
    let elsewhere = p.root.parent().unwrap().join("shared");
    fs::create_dir(&elsewhere).unwrap();
    chmod(&elsewhere, 0o755);
    let target = elsewhere.join("school.json");
    fs::write(&target, r#"{"language": "en"}"#).unwrap();
    chmod(&target, 0o644);
    symlink(&target, p.root.join("managed/10-school.json")).unwrap();
    let set = p.read();
    assert_eq!(
        (set.mandatory.len(), set.problems.len()),
        (1, 0),
        "{:?}",
        set.problems
    );
    assert_eq!(
        set.mandatory[&PolicyKey::Language].source,
        p.source("managed/10-school.json"),
        "why names the link the school put in the policy folder"
    );

    // A folder anyone may write to: the file could be swapped; refused.
    chmod(&elsewhere, 0o777);
    let set = p.read();
    assert!(set.mandatory.is_empty());
    assert_eq!(
        kinds(&set),
        [(
            p.source("managed/10-school.json"),
            None,
            ProblemKind::UnsafePermissions
        )]
    );

    // The target itself writable by others: refused.
    chmod(&elsewhere, 0o755);
    chmod(&target, 0o646);
    let set = p.read();
    assert!(set.mandatory.is_empty());
    assert_eq!(set.problems[0].kind, ProblemKind::UnsafePermissions);

    // A dangling link: reported, not a crash.
    fs::remove_file(&target).unwrap();
    let set = p.read();
    assert_eq!(
        kinds(&set),
        [(
            p.source("managed/10-school.json"),
            None,
            ProblemKind::Unreadable
        )]
    );
}

#[test]
fn a_folder_named_like_a_file_is_reported() {
    let p = Policies::new();
    let dir = p.root.join("managed/10-school.json");
    fs::create_dir(&dir).unwrap();
    chmod(&dir, 0o755);
    let set = p.read();
    assert_eq!(
        kinds(&set),
        [(
            p.source("managed/10-school.json"),
            None,
            ProblemKind::Unreadable
        )]
    );
}

#[test]
fn the_system_policy_on_linux_is_read_from_etc() {
    assert_eq!(policy::linux::POLICY_DIR, "/etc/classroom/policies");
    let set = read_system_policy();
    if !Path::new(policy::linux::POLICY_DIR).exists() {
        assert!(set.is_empty());
    }
}
