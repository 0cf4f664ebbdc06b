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

use std::path::{Path, PathBuf};
use std::sync::Mutex;

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

/// What `get_settings` and `set_settings` answer: the choice, and what it means on this
/// desktop now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    /// The remembered choice.
    pub settings: Settings,
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

/// The settings of this run, backed by a file when the app has a config directory.
pub struct SettingsStore {
    path: Option<PathBuf>,
    current: Mutex<Settings>,
    system_locales: Vec<String>,
}

impl SettingsStore {
    /// Settings kept in `path` (`None`: only for this run), with the desktop's locales.
    pub fn new(path: Option<PathBuf>, system_locales: Vec<String>) -> Self {
        let current = path.as_deref().map(load).unwrap_or_default();
        Self {
            path,
            current: Mutex::new(current),
            system_locales,
        }
    }

    /// The current settings and what they mean here.
    pub fn view(&self) -> SettingsView {
        let settings = *self.current.lock().unwrap_or_else(|p| p.into_inner());
        SettingsView {
            settings,
            language: settings.language(&self.system_locales),
            system_language: language_for(&self.system_locales),
            system_locales: self.system_locales.clone(),
        }
    }

    /// Remembers `settings` (in the file first: a choice that cannot be saved is refused, so
    /// the screen never shows a choice the next start forgets).
    pub fn set(&self, settings: Settings) -> Result<SettingsView, AppError> {
        if let Some(path) = &self.path {
            save(path, &settings)?;
        }
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = settings;
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
}
