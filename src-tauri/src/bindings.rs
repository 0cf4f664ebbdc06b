//! The TypeScript the front end uses for what crosses the webview boundary: command arguments
//! and results, event payloads, `AppError`, and the class's wire types.
//!
//! Generated from the Rust types with ts-rs into `ui/src/lib/bindings/` (committed, one file
//! per type, plus `events.ts` naming every event with its payload and `index.ts`). `cargo
//! xtask bindings` rewrites them; the test `bindings::tests::committed_bindings_are_current`
//! fails, naming that command, when they are stale.
//!
//! JSON numbers are plain numbers: ts-rs would type `u64` as `bigint`, which JSON never gives,
//! so every `u64` field is annotated `#[ts(type = "number")]` (our counters and ids stay far
//! below 2^53); a generated `bigint` fails the test.

use std::any::TypeId;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ts_rs::{Config, TS, TypeVisitor};

use crate::class::{
    ClassJoined, ClassStats, DeviceFailed, Invite, ReportWords, RosterImport, RosterProblem,
    SavedReport, SessionStatus,
};
use crate::devices::DeviceList;
use crate::error::AppError;
use crate::events;
use crate::join::JoinForm;
use crate::launch::LaunchOptions;
use crate::nearby::{NearbyClasses, ReachedClass};
use crate::settings::{Settings, SettingsView};

/// The folder of the generated files, relative to the workspace root.
pub const BINDINGS_DIR: &str = "ui/src/lib/bindings";

/// The first line of every file this module writes besides ts-rs's own.
const NOTE: &str = "// Generated from the Rust types by `cargo xtask bindings`. Do not edit.\n";

/// Collects every type reachable from the roots, with its file and TypeScript.
struct Collect<'a> {
    cfg: &'a Config,
    /// File name -> (the Rust type written there, its TypeScript).
    files: BTreeMap<PathBuf, (TypeId, &'static str, String)>,
    errors: Vec<String>,
}

impl TypeVisitor for Collect<'_> {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        let Some(path) = T::output_path() else {
            // A primitive or a std type: inlined where it is used.
            return;
        };
        let id = TypeId::of::<T>();
        let rust = std::any::type_name::<T>();
        if let Some((seen, other, _)) = self.files.get(&path) {
            if *seen != id {
                self.errors.push(format!(
                    "{rust} and {other} both become {}: rename one with #[ts(rename = \"...\")]",
                    path.display()
                ));
            }
            return;
        }
        match T::export_to_string(self.cfg) {
            Ok(text) => {
                self.files.insert(path, (id, rust, text));
            }
            Err(e) => self.errors.push(format!("{rust}: {e}")),
        }
        T::visit_dependencies(self);
    }
}

impl Collect<'_> {
    /// The TypeScript name of `T` and the module it is imported from (`./Name`).
    fn import<T: TS + 'static + ?Sized>(&mut self) -> (String, String) {
        self.visit::<T>();
        let name = T::ident(self.cfg);
        let module = T::output_path()
            .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_else(|| name.clone());
        (name, format!("./{module}"))
    }
}

/// Every generated file: name (relative to [`BINDINGS_DIR`]) and contents.
pub fn generate() -> Result<BTreeMap<PathBuf, String>, String> {
    let cfg = Config::new();
    let mut collect = Collect {
        cfg: &cfg,
        files: BTreeMap::new(),
        errors: Vec::new(),
    };
    // Command arguments and results (see `commands`), and the error every command rejects with.
    collect.visit::<LaunchOptions>();
    collect.visit::<JoinForm>();
    collect.visit::<ClassJoined>();
    collect.visit::<ClassStats>();
    collect.visit::<crate::recording::SavedRecording>();
    collect.visit::<DeviceList>();
    collect.visit::<Settings>();
    collect.visit::<SettingsView>();
    collect.visit::<Invite>();
    collect.visit::<SavedReport>();
    collect.visit::<ReportWords>();
    collect.visit::<RosterImport>();
    collect.visit::<RosterProblem>();
    collect.visit::<NearbyClasses>();
    collect.visit::<ReachedClass>();
    collect.visit::<AppError>();
    collect.visit::<crate::library::LibraryView>();
    collect.visit::<crate::library::MaterialView>();
    collect.visit::<crate::library::UsageView>();
    collect.visit::<crate::library::SearchHitView>();
    collect.visit::<crate::library::HomeworkView>();
    collect.visit::<crate::library::HandInView>();
    collect.visit::<crate::updates::UpdateCheck>();
    collect.visit::<crate::check::DeviceCheckView>();
    collect.visit::<crate::check::NetworkCheck>();
    collect.visit::<crate::board::BoardUpdate>();
    collect.visit::<crate::saved::SavedFile>();
    collect.visit::<crate::saved::SaveFormat>();
    collect.visit::<annotate::Op>();
    // The detail of the DOM event a pen's pressure reaches the page with (`pen.rs`).
    collect.visit::<crate::pen::PenSample>();
    // The class's messages, which the classroom's panels receive as events.
    collect.visit::<classroom_protocol::ClassEvent>();
    collect.visit::<classroom_protocol::ClassRequest>();

    // Events: name -> payload type, so `listen` is typed by the event's name.
    let mut imports = BTreeMap::new();
    let mut entries = String::new();
    for (event, (name, module)) in [
        (events::DEVICES_CHANGED, collect.import::<DeviceList>()),
        (events::DEVICE_FAILED, collect.import::<DeviceFailed>()),
        (
            events::CLASS_EVENT,
            collect.import::<classroom_protocol::ClassEvent>(),
        ),
        (events::SESSION_STATUS, collect.import::<SessionStatus>()),
        (
            events::NEARBY_CLASSES_CHANGED,
            collect.import::<NearbyClasses>(),
        ),
        (
            events::INVITE_LINK_OPENED,
            collect.import::<crate::launch::OpenedLink>(),
        ),
        (
            events::LIBRARY_CHANGED,
            collect.import::<crate::library::LibraryUpdate>(),
        ),
        (
            events::BOARD_CHANGED,
            collect.import::<crate::board::BoardUpdate>(),
        ),
        (
            events::UPDATE_READY,
            collect.import::<crate::updates::UpdateReady>(),
        ),
        (
            events::VIDEO_TRACKS_CHANGED,
            collect.import::<crate::video::VideoTracksChanged>(),
        ),
    ] {
        entries.push_str(&format!("  '{event}': {name};\n"));
        imports.insert(module, name);
    }
    let mut events_ts = String::from(NOTE);
    for (module, name) in &imports {
        events_ts.push_str(&format!("import type {{ {name} }} from '{module}';\n"));
    }
    events_ts.push_str(
        "\n/** Every event the app sends the page, by name, with the type of its payload. */\n",
    );
    events_ts.push_str("export interface AppEvents {\n");
    events_ts.push_str(&entries);
    events_ts.push_str("}\n\n/** The name of an event the app sends. */\n");
    events_ts.push_str("export type AppEventName = keyof AppEvents;\n");

    if !collect.errors.is_empty() {
        return Err(collect.errors.join("\n"));
    }
    let mut files: BTreeMap<PathBuf, String> = collect
        .files
        .into_iter()
        .map(|(path, (_, _, text))| (path, text))
        .collect();
    let mut index = String::from(NOTE);
    for path in files.keys() {
        if let Some(stem) = path.file_stem() {
            index.push_str(&format!(
                "export type * from './{}';\n",
                stem.to_string_lossy()
            ));
        }
    }
    index.push_str("export type * from './events';\n");
    files.insert(PathBuf::from("events.ts"), events_ts);
    files.insert(PathBuf::from("index.ts"), index);
    Ok(files)
}

/// Writes the generated files into `dir`, removing `.ts` files there that are no longer
/// generated; returns the names written.
pub fn write(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let files = generate()?;
    std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let entries = std::fs::read_dir(dir).map_err(|e| format!("read {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let name = PathBuf::from(entry.file_name());
        if name.extension().is_some_and(|e| e == "ts") && !files.contains_key(&name) {
            std::fs::remove_file(entry.path())
                .map_err(|e| format!("remove {}: {e}", entry.path().display()))?;
        }
    }
    for (name, text) in &files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
    }
    Ok(files.into_keys().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn committed_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(BINDINGS_DIR)
    }

    /// `cargo xtask bindings` runs this test with `CLASSROOM_WRITE_BINDINGS=1`, which rewrites
    /// the committed files instead of comparing with them.
    #[test]
    fn committed_bindings_are_current() {
        let dir = committed_dir();
        if std::env::var_os("CLASSROOM_WRITE_BINDINGS").is_some() {
            let written = write(&dir).expect("write the bindings");
            eprintln!("wrote {} files into {}", written.len(), dir.display());
            return;
        }
        let fresh = std::env::temp_dir().join(format!("classroom-bindings-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&fresh);
        write(&fresh).expect("generate the bindings");
        let listing = |d: &Path| -> BTreeMap<String, String> {
            std::fs::read_dir(d)
                .map(|entries| {
                    entries
                        .flatten()
                        .filter(|e| e.path().extension().is_some_and(|x| x == "ts"))
                        .map(|e| {
                            (
                                e.file_name().to_string_lossy().into_owned(),
                                std::fs::read_to_string(e.path()).unwrap_or_default(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let want = listing(&fresh);
        let have = listing(&dir);
        let _ = std::fs::remove_dir_all(&fresh);
        let stale: Vec<&String> = want
            .iter()
            .filter(|(name, text)| have.get(*name) != Some(text))
            .map(|(name, _)| name)
            .chain(have.keys().filter(|name| !want.contains_key(*name)))
            .collect();
        assert!(
            stale.is_empty(),
            "the TypeScript bindings in {BINDINGS_DIR} are stale ({stale:?}); \
             run `cargo xtask bindings` and commit the result"
        );
    }

    #[test]
    fn json_numbers_are_typed_as_numbers() {
        for (name, text) in generate().expect("generate") {
            assert!(
                !text.contains("bigint"),
                "{} has a bigint: JSON gives plain numbers; annotate the u64/i64 field with \
                 #[ts(type = \"number\")]:\n{text}",
                name.display()
            );
        }
    }

    #[test]
    fn the_error_and_the_events_have_their_wire_shape() {
        let files = generate().expect("generate");
        let error = &files[Path::new("AppError.ts")];
        assert!(
            error.contains(r#"{ "kind": "invalidName", "message": string }"#),
            "{error}"
        );
        assert!(error.contains(r#""kind": "storage""#), "{error}");
        let events = &files[Path::new("events.ts")];
        assert!(
            events.contains("'devices-changed': DeviceList;"),
            "{events}"
        );
        assert!(
            events.contains("'device-failed': DeviceFailed;"),
            "{events}"
        );
        // The wire role and the join screen's role are different types with different names.
        assert!(files.contains_key(Path::new("Role.ts")));
        assert!(files.contains_key(Path::new("JoinRole.ts")));
        assert!(files.contains_key(Path::new("ClassEvent.ts")));
    }
}
