//! The app's own settings: the language of its screens and its colour theme, remembered in
//! `settings.json` in the app's config directory.
//!
//! The file holds `{"language": "system" | "en" | "zh-CN", "theme": "system" | "light" |
//! "dark", "downloadLimit": "none" | "mb1" | "mb5" | "mb20"}` (the offline library's download
//! speed limit). A missing file, a missing field or a value this version does not know reads as
//! `"system"`; a file that is not JSON is reported and replaced by the next save, never a
//! reason not to start. "system" follows the desktop's locale as the environment gives it
//! (`LANGUAGE`, `LC_ALL`, `LC_MESSAGES`, `LANG` on Linux, read by `sys-locale`): WebKitGTK's
//! `navigator.languages` only follows `LC_CTYPE`, and only when that locale is installed, so a
//! Chinese desktop without the `zh_CN` locale generated would get English from the webview.
//!
//! A school's policy (`classroom_policy`: `/etc/classroom/policies` on Linux, the registry on
//! Windows, managed preferences on macOS) is layered over the file: built-in defaults <
//! school recommended < the user's choice < school mandatory. The file keeps only what the
//! user chose; a value left at its default counts as not chosen, so a recommended value
//! applies until the user picks another. A locked setting cannot be changed (kind `locked`,
//! naming where the school set it); the view says which are locked and why.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use policy::{PolicyKey, PolicySet, Resolved, builtin_defaults, resolve};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::AppError;

/// A language the app's screens are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[non_exhaustive]
pub enum Language {
    /// English.
    #[serde(rename = "en")]
    En,
    /// Simplified Chinese.
    #[serde(rename = "zh-CN")]
    ZhCn,
}

/// The language the person chose, or the desktop's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[non_exhaustive]
pub enum LanguageChoice {
    /// Follow the desktop's locale.
    #[default]
    #[serde(rename = "system")]
    System,
    /// English whatever the desktop says.
    #[serde(rename = "en")]
    En,
    /// Simplified Chinese whatever the desktop says.
    #[serde(rename = "zh-CN")]
    ZhCn,
}

/// Light or dark screens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Theme {
    /// Follow the desktop's light or dark preference.
    #[default]
    System,
    /// Light.
    Light,
    /// Dark.
    Dark,
}

/// What is remembered in `settings.json`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// The screens' language.
    pub language: LanguageChoice,
    /// The colour theme.
    pub theme: Theme,
    /// The offline library's download speed limit.
    pub download_limit: DownloadLimit,
}

/// The download speed limits the settings offer (a school on a thin line keeps some for the
/// class).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum DownloadLimit {
    /// As fast as the network allows.
    #[default]
    None,
    /// 1 MB/s.
    Mb1,
    /// 5 MB/s.
    Mb5,
    /// 20 MB/s.
    Mb20,
}

impl DownloadLimit {
    /// Bytes a second; None: no limit.
    pub fn bytes_per_second(self) -> Option<u64> {
        match self {
            DownloadLimit::None => None,
            DownloadLimit::Mb1 => Some(1_000_000),
            DownloadLimit::Mb5 => Some(5_000_000),
            DownloadLimit::Mb20 => Some(20_000_000),
        }
    }
}

impl<'de> Deserialize<'de> for Settings {
    /// Reads each field on its own: a missing field, or a value this version does not know (a
    /// language or theme a later version added), is `system` and does not lose the others.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize, Default)]
        #[serde(default, rename_all = "camelCase")]
        struct Raw {
            language: serde_json::Value,
            theme: serde_json::Value,
            download_limit: serde_json::Value,
        }
        let raw = Raw::deserialize(deserializer)?;
        Ok(Settings {
            language: LanguageChoice::deserialize(raw.language).unwrap_or_default(),
            theme: Theme::deserialize(raw.theme).unwrap_or_default(),
            download_limit: DownloadLimit::deserialize(raw.download_limit).unwrap_or_default(),
        })
    }
}

/// A setting the school locked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct LockedSetting {
    /// The setting (`language`, `theme`, `downloadLimit`, `serverUrl`, ...).
    pub key: String,
    /// Where the school set it: a policy file, a registry key or a managed-preferences file.
    pub source: String,
}

/// What the school's policy says, for the screens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SchoolPolicy {
    /// The settings the school locked.
    pub locked: Vec<LockedSetting>,
    /// The class server the school set, if any.
    pub server_url: Option<String>,
    /// Whether students may record a lesson.
    pub students_may_record: bool,
    /// What may be shared as a screen (`screen`, `window`; empty: nothing).
    pub screen_share_sources: Vec<String>,
    /// How the app updates itself: `auto`, `notify` or `off`.
    pub updates: String,
    /// Policy entries that were ignored, and why (for the school's IT).
    pub problems: Vec<String>,
}

/// What `get_settings` and `set_settings` answer: the settings in effect, and what they mean
/// on this desktop now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    /// The settings in effect (the user's choice under the school's policy).
    pub settings: Settings,
    /// The school's policy.
    pub policy: SchoolPolicy,
    /// The language to show: the choice, or the desktop's when the choice is `system`.
    pub language: Language,
    /// The desktop's language: what `system` means here.
    pub system_language: Language,
    /// The desktop's preferred locales, most preferred first (BCP 47, e.g. `zh-CN`), for the
    /// settings screen to say what "system" means.
    pub system_locales: Vec<String>,
}

/// The language a list of preferred locales (BCP 47 or POSIX, most preferred first) asks for:
/// the first that is Chinese or English; English when none is.
///
/// Every Chinese locale gets Simplified Chinese, the only Chinese the app is written in: a
/// reader of Traditional Chinese reads it more easily than English.
pub fn language_for<S: AsRef<str>>(locales: &[S]) -> Language {
    for locale in locales {
        let tag = locale.as_ref().trim().to_ascii_lowercase();
        let primary = tag.split(['-', '_', '.', '@']).next().unwrap_or_default();
        match primary {
            "zh" => return Language::ZhCn,
            "en" => return Language::En,
            _ => {}
        }
    }
    Language::En
}

impl Settings {
    /// The language to show, given the desktop's preferred locales.
    pub fn language<S: AsRef<str>>(&self, system_locales: &[S]) -> Language {
        match self.language {
            LanguageChoice::En => Language::En,
            LanguageChoice::ZhCn => Language::ZhCn,
            _ => language_for(system_locales),
        }
    }
}

/// The desktop's preferred locales, most preferred first. The C and POSIX locales name no
/// language and are left out.
pub fn system_locales() -> Vec<String> {
    sys_locale::get_locales()
        .filter(|l| !matches!(l.as_str(), "C" | "POSIX" | "c" | "posix" | ""))
        .collect()
}

/// Reads `path`; missing means defaults, unreadable is reported and means defaults.
pub fn load(path: &Path) -> Settings {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
            eprintln!(
                "classroom-app: ignoring unreadable settings {}: {e}",
                path.display()
            );
            Settings::default()
        }),
        Err(_) => Settings::default(),
    }
}

/// Writes `settings` to `path` through a temporary file, so a crash mid-write leaves the old
/// settings rather than half a file.
pub fn save(path: &Path, settings: &Settings) -> Result<(), AppError> {
    let fail = |e: &dyn std::fmt::Display| {
        AppError::Storage(format!(
            "cannot save the settings to {}: {e}",
            path.display()
        ))
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
    }
    let text = serde_json::to_string_pretty(settings).map_err(|e| fail(&e))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(|e| fail(&e))?;
    std::fs::rename(&tmp, path).map_err(|e| fail(&e))
}

/// This computer's school policy. A debug build (the tests') reads it from the folder
/// `$CLASSROOM_POLICY_DIR` instead when that is set, owned by whoever owns that folder; a
/// release build only ever reads the system's (a student cannot point it elsewhere).
pub fn school_policy() -> PolicySet {
    #[cfg(all(debug_assertions, unix))]
    if let Some(dir) = std::env::var_os("CLASSROOM_POLICY_DIR") {
        use std::os::unix::fs::MetadataExt;
        let dir = PathBuf::from(dir);
        let owner = std::fs::metadata(&dir).map(|m| m.uid()).unwrap_or(0);
        return policy::linux::read_policy_dir_owned_by(&dir, owner);
    }
    policy::read_system_policy()
}

/// The user's choices as the policy layers take them: a value left at its default is not a
/// choice (a recommended value applies instead).
fn user_choices(settings: &Settings) -> serde_json::Map<String, serde_json::Value> {
    let mut map = serde_json::Map::new();
    let defaults = Settings::default();
    let mut put = |key: PolicyKey, changed: bool, value: serde_json::Result<serde_json::Value>| {
        if let (true, Ok(value)) = (changed, value) {
            map.insert(key.name().to_owned(), value);
        }
    };
    put(
        PolicyKey::Language,
        settings.language != defaults.language,
        serde_json::to_value(settings.language),
    );
    put(
        PolicyKey::Theme,
        settings.theme != defaults.theme,
        serde_json::to_value(settings.theme),
    );
    put(
        PolicyKey::DownloadLimit,
        settings.download_limit != defaults.download_limit,
        serde_json::to_value(settings.download_limit),
    );
    map
}

/// A resolved value as the app's type (a value this version cannot take: the default).
fn effective<T: serde::de::DeserializeOwned + Default>(resolved: &Resolved, key: PolicyKey) -> T {
    resolved
        .value(key)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

/// The settings of this run, backed by a file when the app has a config directory, under the
/// school's policy.
pub struct SettingsStore {
    path: Option<PathBuf>,
    /// What the user chose (what the file holds).
    chosen: Mutex<Settings>,
    policy: PolicySet,
    system_locales: Vec<String>,
}

impl SettingsStore {
    /// Settings kept in `path` (`None`: only for this run), with the desktop's locales and no
    /// school policy.
    pub fn new(path: Option<PathBuf>, system_locales: Vec<String>) -> Self {
        let chosen = path.as_deref().map(load).unwrap_or_default();
        Self {
            path,
            chosen: Mutex::new(chosen),
            policy: PolicySet::default(),
            system_locales,
        }
    }

    /// The same store under the school's `policy`; its problems are reported once here.
    pub fn with_policy(mut self, policy: PolicySet) -> Self {
        for problem in &policy.problems {
            eprintln!("classroom-app: school policy: ignored: {problem}");
        }
        self.policy = policy;
        self
    }

    fn resolved(&self) -> (Settings, Resolved) {
        let chosen = *self.chosen.lock().unwrap_or_else(|p| p.into_inner());
        let resolved = resolve(&builtin_defaults(), &self.policy, &user_choices(&chosen));
        let settings = Settings {
            language: effective(&resolved, PolicyKey::Language),
            theme: effective(&resolved, PolicyKey::Theme),
            download_limit: effective(&resolved, PolicyKey::DownloadLimit),
        };
        (settings, resolved)
    }

    /// The settings in effect and what they mean here.
    pub fn view(&self) -> SettingsView {
        let (settings, resolved) = self.resolved();
        let value = |key| resolved.value(key).cloned().unwrap_or_default();
        let policy = SchoolPolicy {
            locked: resolved
                .settings
                .iter()
                .filter(|(_, e)| e.locked)
                .map(|(key, e)| LockedSetting {
                    key: key.name().to_owned(),
                    source: e.why.clone().unwrap_or_default(),
                })
                .collect(),
            server_url: value(PolicyKey::ServerUrl).as_str().map(str::to_owned),
            students_may_record: value(PolicyKey::StudentsMayRecord)
                .as_bool()
                .unwrap_or(false),
            screen_share_sources: value(PolicyKey::ScreenShareSources)
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            updates: value(PolicyKey::Updates)
                .as_str()
                .unwrap_or("auto")
                .to_owned(),
            problems: resolved.problems.iter().map(ToString::to_string).collect(),
        };
        SettingsView {
            settings,
            policy,
            language: settings.language(&self.system_locales),
            system_language: language_for(&self.system_locales),
            system_locales: self.system_locales.clone(),
        }
    }

    /// Refuses a student's recording unless the school's policy allows students to record
    /// (`studentsMayRecord`, off by default: classmates on stage are in a recording too).
    /// Teachers are not restricted by it.
    pub fn check_record(&self, teacher: bool) -> Result<(), AppError> {
        if teacher {
            return Ok(());
        }
        let (_, resolved) = self.resolved();
        let effective = resolved.get(PolicyKey::StudentsMayRecord);
        if effective.and_then(|e| e.value.as_bool()) == Some(true) {
            return Ok(());
        }
        let why = effective.and_then(|e| e.why.clone()).map_or_else(
            || "no school policy allows it".to_owned(),
            |w| format!("set in {w}"),
        );
        Err(AppError::Locked(format!(
            "your school does not allow students to record lessons ({why})"
        )))
    }

    /// Refuses a student's join that the school's policy does not allow: with the server URL
    /// locked, only that server (a class code finds a class nearby, which is not it). Teachers
    /// hosting a class on their own computer are not restricted by it.
    pub fn check_join(&self, join: &crate::join::JoinAccepted) -> Result<(), AppError> {
        if join.role != crate::launch::Role::Student {
            return Ok(());
        }
        let (_, resolved) = self.resolved();
        let Some(effective) = resolved.get(PolicyKey::ServerUrl).filter(|e| e.locked) else {
            return Ok(());
        };
        let allowed = effective.value.as_str().unwrap_or_default();
        let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
        if join.code.is_none() && same(&join.server, allowed) {
            return Ok(());
        }
        Err(AppError::Locked(format!(
            "your school allows classes on {allowed} only (set in {})",
            effective.why.as_deref().unwrap_or("the school's policy")
        )))
    }

    /// Remembers `settings` (in the file first: a choice that cannot be saved is refused, so
    /// the screen never shows a choice the next start forgets). A change to a setting the
    /// school locked is refused with kind `locked`, and nothing is changed.
    pub fn set(&self, settings: Settings) -> Result<SettingsView, AppError> {
        let (current, resolved) = self.resolved();
        for (key, changed) in [
            (PolicyKey::Language, settings.language != current.language),
            (PolicyKey::Theme, settings.theme != current.theme),
            (
                PolicyKey::DownloadLimit,
                settings.download_limit != current.download_limit,
            ),
        ] {
            if changed && let Err(locked) = resolved.may_change(key) {
                return Err(AppError::Locked(locked.to_string()));
            }
        }
        if let Some(path) = &self.path {
            save(path, &settings)?;
        }
        *self.chosen.lock().unwrap_or_else(|p| p.into_inner()) = settings;
        Ok(self.view())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_locales_get_simplified_chinese_and_the_rest_english() {
        for zh in [
            ["zh-CN"],
            ["zh_CN.UTF-8"],
            ["zh"],
            ["zh-Hans-SG"],
            ["zh_TW.UTF-8"],
            ["ZH-hk"],
        ] {
            assert_eq!(language_for(&zh), Language::ZhCn, "{zh:?}");
        }
        for en in [
            &["en-US"][..],
            &["en_GB.UTF-8"],
            &["de-DE"],
            &[],
            &["C"],
            &["fr-FR", "de"],
        ] {
            assert_eq!(language_for(en), Language::En, "{en:?}");
        }
        // The first language the app knows wins, in the desktop's order.
        assert_eq!(language_for(&["fr-FR", "zh-CN", "en"]), Language::ZhCn);
        assert_eq!(language_for(&["de", "en-US", "zh-CN"]), Language::En);
    }

    #[test]
    fn a_choice_overrides_the_desktop() {
        let chinese_desktop = ["zh-CN"];
        let mut settings = Settings::default();
        assert_eq!(settings.language(&chinese_desktop), Language::ZhCn);
        settings.language = LanguageChoice::En;
        assert_eq!(settings.language(&chinese_desktop), Language::En);
        settings.language = LanguageChoice::ZhCn;
        assert_eq!(settings.language(&["en-US"]), Language::ZhCn);
    }

    #[test]
    fn the_file_format_is_stable_and_forgiving() {
        let settings = Settings {
            language: LanguageChoice::ZhCn,
            theme: Theme::Dark,
            download_limit: DownloadLimit::Mb5,
        };
        assert_eq!(
            serde_json::to_value(settings).expect("serializes"),
            serde_json::json!({ "language": "zh-CN", "theme": "dark", "downloadLimit": "mb5" })
        );
        let read: Settings = serde_json::from_str(r#"{"downloadLimit":"mb1"}"#).expect("limit");
        assert_eq!(read.download_limit.bytes_per_second(), Some(1_000_000));
        // A file from before the limit existed: no limit.
        let read: Settings = serde_json::from_str(r#"{"theme":"dark"}"#).expect("old file");
        assert_eq!(read.download_limit, DownloadLimit::None);
        let read: Settings = serde_json::from_str(r#"{"language":"en"}"#).expect("partial");
        assert_eq!(read.language, LanguageChoice::En);
        assert_eq!(read.theme, Theme::System);
        // A language or theme a later version added reads as "system", not as an error.
        let read: Settings = serde_json::from_str(r#"{"language":"fr","theme":"sepia","extra":1}"#)
            .expect("unknown values");
        assert_eq!(read, Settings::default());
    }

    #[test]
    fn settings_survive_a_restart_and_a_broken_file_is_not_fatal() {
        let dir = std::env::temp_dir().join(format!("classroom-settings-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("nested").join("settings.json");
        let store = SettingsStore::new(Some(path.clone()), vec!["en-US".into()]);
        assert_eq!(store.view().language, Language::En);
        let view = store
            .set(Settings {
                language: LanguageChoice::ZhCn,
                theme: Theme::Light,
                download_limit: DownloadLimit::None,
            })
            .expect("saves");
        assert_eq!(view.language, Language::ZhCn);
        assert_eq!(view.system_language, Language::En);
        assert_eq!(view.system_locales, vec!["en-US".to_owned()]);

        let again = SettingsStore::new(Some(path.clone()), vec!["en-US".into()]);
        assert_eq!(again.view().settings.language, LanguageChoice::ZhCn);
        assert_eq!(again.view().settings.theme, Theme::Light);

        std::fs::write(&path, "{ not json").expect("write");
        let broken = SettingsStore::new(Some(path.clone()), vec!["zh-CN".into()]);
        assert_eq!(broken.view().settings, Settings::default());
        assert_eq!(broken.view().language, Language::ZhCn);

        // A folder where the file should be: the choice is refused with a storage error.
        std::fs::remove_file(&path).expect("remove");
        std::fs::create_dir_all(path.with_extension("json.tmp")).expect("block the temp file");
        let blocked = SettingsStore::new(Some(path), vec![]);
        let error = blocked.set(Settings::default()).expect_err("cannot save");
        assert_eq!(error.kind(), "storage");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn students_record_only_where_the_school_allows_it() {
        use policy::Level;
        // No policy: students may not record (classmates are in a recording too); a
        // teacher may.
        let none = SettingsStore::new(None, vec![]);
        let error = none.check_record(false).expect_err("off by default");
        assert_eq!(error.kind(), "locked");
        assert!(error.to_string().contains("no school policy"), "{error}");
        assert!(none.check_record(true).is_ok());
        let with = |level, json: &[u8]| {
            let mut set = PolicySet::default();
            policy::linux::add_json(&mut set, level, "/etc/classroom/policies/x/1.json", json);
            SettingsStore::new(None, vec![]).with_policy(set)
        };
        assert!(
            with(Level::Mandatory, br#"{"studentsMayRecord": true}"#)
                .check_record(false)
                .is_ok()
        );
        assert!(
            with(Level::Recommended, br#"{"studentsMayRecord": true}"#)
                .check_record(false)
                .is_ok()
        );
        let error = with(Level::Mandatory, br#"{"studentsMayRecord": false}"#)
            .check_record(false)
            .expect_err("the school says no");
        assert!(
            error
                .to_string()
                .contains("/etc/classroom/policies/x/1.json"),
            "{error}"
        );
    }

    #[test]
    fn the_schools_policy_recommends_locks_and_is_named() {
        use policy::Level;
        let mut set = PolicySet::default();
        let managed = "/etc/classroom/policies/managed/10-school.json";
        policy::linux::add_json(
            &mut set,
            Level::Mandatory,
            managed,
            br#"{"language": "zh-CN", "serverUrl": "wss://class.school.example/ws", "updates": "off"}"#,
        );
        policy::linux::add_json(
            &mut set,
            Level::Recommended,
            "/etc/classroom/policies/recommended/10-school.json",
            br#"{"theme": "dark", "studentsMayRecord": "yes"}"#,
        );
        let store = SettingsStore::new(None, vec!["en-US".into()]).with_policy(set);
        let view = store.view();
        // Locked: Chinese on an English desktop, the school's server, no updates.
        assert_eq!(view.settings.language, LanguageChoice::ZhCn);
        assert_eq!(view.language, Language::ZhCn);
        assert_eq!(
            view.policy.server_url.as_deref(),
            Some("wss://class.school.example/ws")
        );
        assert_eq!(view.policy.updates, "off");
        let locked: Vec<_> = view.policy.locked.iter().map(|l| l.key.as_str()).collect();
        assert_eq!(locked, ["serverUrl", "language", "updates"]);
        assert!(view.policy.locked.iter().all(|l| l.source == managed));
        // Recommended: the dark theme until the user picks another; a bad value reported.
        assert_eq!(view.settings.theme, Theme::Dark);
        assert!(!view.policy.students_may_record);
        assert_eq!(view.policy.problems.len(), 1, "{:?}", view.policy.problems);
        // The user may change what is not locked, not what is (nothing changes then).
        let mut wanted = view.settings;
        wanted.theme = Theme::Light;
        assert_eq!(
            store.set(wanted).expect("theme is free").settings.theme,
            Theme::Light
        );
        wanted.language = LanguageChoice::En;
        let error = store.set(wanted).expect_err("language is locked");
        assert_eq!(error.kind(), "locked");
        assert!(error.to_string().contains(managed), "{error}");
        assert_eq!(store.view().settings.language, LanguageChoice::ZhCn);
        assert_eq!(store.view().settings.theme, Theme::Light);

        // The school's server is locked: a student joins it and nothing else.
        let join = |server: &str, code: Option<&str>, role| crate::join::JoinAccepted {
            role,
            name: "Ada".into(),
            room: "r".into(),
            server: server.into(),
            token: "t".into(),
            pin: None,
            code: code.map(str::to_owned),
        };
        use crate::launch::Role;
        let school = "wss://class.school.example/ws";
        assert!(store.check_join(&join(school, None, Role::Student)).is_ok());
        assert!(
            store
                .check_join(&join("wss://class.school.example/ws/", None, Role::Student))
                .is_ok()
        );
        let refused = store
            .check_join(&join("wss://elsewhere.example/ws", None, Role::Student))
            .expect_err("another server");
        assert_eq!(refused.kind(), "locked");
        assert!(refused.to_string().contains(managed), "{refused}");
        assert!(
            store
                .check_join(&join("", Some("K7QM-3XZ2-9HWD"), Role::Student))
                .is_err()
        );
        assert!(
            store.check_join(&join("", None, Role::Teacher)).is_ok(),
            "a teacher hosts"
        );
        // Without a lock, anything goes.
        let free = SettingsStore::new(None, vec![]);
        assert!(
            free.check_join(&join("wss://elsewhere.example/ws", None, Role::Student))
                .is_ok()
        );
    }
}
