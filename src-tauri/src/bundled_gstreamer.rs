//! GStreamer shipped inside the app (the Windows MSI, the macOS app bundle).
//!
//! Its plugins, plugin scanner and registry are named in GStreamer's environment before
//! GStreamer starts (`main.rs`, before any thread exists), so that a GStreamer installed on the
//! computer, or a `GST_PLUGIN_PATH` someone set, cannot leak into the app. On Linux the
//! system's GStreamer is used (the .deb depends on its packages) and nothing is set; so is a
//! development build, which has no bundled copy beside it.
//!
//! Layouts (what `installer/windows/stage-gstreamer.ps1` and
//! `installer/macos/stage-gstreamer.sh` stage, and Tauri's bundler installs):
//! - Windows: the DLLs beside `classroom-app.exe` (found first by the loader), plugins in
//!   `gstreamer\lib\gstreamer-1.0`, the scanner in `gstreamer\libexec\gstreamer-1.0`;
//! - macOS: `Classroom.app/Contents/Frameworks/GStreamer.framework/Versions/1.0/{lib,libexec}`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Where a bundled GStreamer sits relative to the executable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Beside the executable, under `gstreamer\`.
    Windows,
    /// In the app bundle's `Frameworks`.
    MacOs,
}

impl Layout {
    /// This platform's layout; `None` on Linux, which uses the system's GStreamer.
    pub fn this_platform() -> Option<Layout> {
        if cfg!(windows) {
            Some(Layout::Windows)
        } else if cfg!(target_os = "macos") {
            Some(Layout::MacOs)
        } else {
            None
        }
    }

    fn root(self, exe: &Path) -> Option<PathBuf> {
        let dir = exe.parent()?;
        Some(match self {
            Layout::Windows => dir.join("gstreamer"),
            Layout::MacOs => dir
                .parent()?
                .join("Frameworks")
                .join("GStreamer.framework")
                .join("Versions")
                .join("1.0"),
        })
    }

    fn scanner(self) -> &'static str {
        match self {
            Layout::Windows => "gst-plugin-scanner.exe",
            Layout::MacOs => "gst-plugin-scanner",
        }
    }
}

/// The variables to set (`Some`) or remove (`None`) for a bundled GStreamer beside `exe`, its
/// registry kept in `cache_dir`; empty when there is no bundled GStreamer.
pub fn environment(
    layout: Layout,
    exe: &Path,
    cache_dir: &Path,
) -> Vec<(&'static str, Option<OsString>)> {
    let Some(root) = layout.root(exe) else {
        return Vec::new();
    };
    let plugins = root.join("lib").join("gstreamer-1.0");
    if !plugins.is_dir() {
        return Vec::new();
    }
    let scanner = root
        .join("libexec")
        .join("gstreamer-1.0")
        .join(layout.scanner());
    // One registry per app version: a new version's plugins are scanned afresh.
    let registry = cache_dir.join(format!(
        "gstreamer-registry-{}.bin",
        env!("CARGO_PKG_VERSION")
    ));
    vec![
        ("GST_PLUGIN_SYSTEM_PATH_1_0", Some(plugins.into_os_string())),
        ("GST_PLUGIN_SYSTEM_PATH", None),
        ("GST_PLUGIN_PATH_1_0", None),
        ("GST_PLUGIN_PATH", None),
        ("GST_PLUGIN_SCANNER_1_0", Some(scanner.into_os_string())),
        ("GST_PLUGIN_SCANNER", None),
        ("GST_REGISTRY_1_0", Some(registry.into_os_string())),
        ("GST_REGISTRY", None),
    ]
}

/// The environment for this process: its executable, this platform's layout and the user's
/// cache folder (`%LOCALAPPDATA%\app.classroom.desktop`, `~/Library/Caches/app.classroom.desktop`).
pub fn environment_here() -> Vec<(&'static str, Option<OsString>)> {
    let (Some(layout), Ok(exe)) = (Layout::this_platform(), std::env::current_exe()) else {
        return Vec::new();
    };
    let base = if cfg!(windows) {
        std::env::var_os("LOCALAPPDATA").map(PathBuf::from)
    } else {
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join("Library").join("Caches"))
    };
    let cache = base
        .unwrap_or_else(std::env::temp_dir)
        .join("app.classroom.desktop");
    environment(layout, &exe, &cache)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("classroom-gst-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn value<'a>(env: &'a [(&'static str, Option<OsString>)], key: &str) -> Option<&'a OsString> {
        env.iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.as_ref())
    }

    #[test]
    fn a_windows_install_uses_only_its_own_plugins_scanner_and_registry() {
        let dir = temp("win");
        let plugins = dir.join("gstreamer").join("lib").join("gstreamer-1.0");
        std::fs::create_dir_all(&plugins).expect("dir");
        let env = environment(
            Layout::Windows,
            &dir.join("classroom-app.exe"),
            &dir.join("cache"),
        );
        assert_eq!(
            value(&env, "GST_PLUGIN_SYSTEM_PATH_1_0"),
            Some(&plugins.into_os_string())
        );
        assert_eq!(
            value(&env, "GST_PLUGIN_SCANNER_1_0"),
            Some(
                &dir.join("gstreamer/libexec/gstreamer-1.0/gst-plugin-scanner.exe")
                    .into_os_string()
            )
        );
        let registry = value(&env, "GST_REGISTRY_1_0").expect("registry");
        assert!(Path::new(registry).starts_with(dir.join("cache")));
        // Whatever the computer's environment says about plugins is removed.
        for key in [
            "GST_PLUGIN_PATH",
            "GST_PLUGIN_PATH_1_0",
            "GST_PLUGIN_SYSTEM_PATH",
        ] {
            assert!(env.iter().any(|(k, v)| *k == key && v.is_none()), "{key}");
        }
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn a_macos_bundle_uses_the_framework_inside_it() {
        let dir = temp("mac");
        let contents = dir.join("Classroom.app").join("Contents");
        let plugins =
            contents.join("Frameworks/GStreamer.framework/Versions/1.0/lib/gstreamer-1.0");
        std::fs::create_dir_all(&plugins).expect("dir");
        let exe = contents.join("MacOS").join("classroom-app");
        let env = environment(Layout::MacOs, &exe, &dir.join("cache"));
        assert_eq!(
            value(&env, "GST_PLUGIN_SYSTEM_PATH_1_0"),
            Some(&plugins.into_os_string())
        );
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn without_a_bundled_gstreamer_nothing_is_set() {
        let dir = temp("none");
        std::fs::create_dir_all(&dir).expect("dir");
        for layout in [Layout::Windows, Layout::MacOs] {
            assert!(environment(layout, &dir.join("classroom-app"), &dir).is_empty());
        }
        // A development build or Linux: this process has none either.
        assert!(environment_here().is_empty());
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
