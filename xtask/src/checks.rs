//! What the project needs from the system, per platform, and where each piece comes from.

use crate::deps::{Check, Probe};

/// Node's lowest major version: Vite 5 runs on Node 18, which Debian 12's `nodejs` gives.
pub const MIN_NODE_MAJOR: u32 = 18;

/// pkg-config modules on Linux and the Debian package that ships each `.pc` file.
const LINUX_PKG_CONFIG: &[(&str, &str)] = &[
    ("webkit2gtk-4.1", "libwebkit2gtk-4.1-dev"),
    ("javascriptcoregtk-4.1", "libjavascriptcoregtk-4.1-dev"),
    ("libsoup-3.0", "libsoup-3.0-dev"),
    ("ayatana-appindicator3-0.1", "libayatana-appindicator3-dev"),
    ("librsvg-2.0", "librsvg2-dev"),
    ("gstreamer-1.0", "libgstreamer1.0-dev"),
    ("gstreamer-base-1.0", "libgstreamer1.0-dev"),
    ("gstreamer-app-1.0", "libgstreamer-plugins-base1.0-dev"),
    ("gstreamer-video-1.0", "libgstreamer-plugins-base1.0-dev"),
    ("gstreamer-audio-1.0", "libgstreamer-plugins-base1.0-dev"),
    ("gstreamer-sdp-1.0", "libgstreamer-plugins-base1.0-dev"),
    ("gstreamer-webrtc-1.0", "libgstreamer-plugins-bad1.0-dev"),
    (
        "gstreamer-plugins-bad-1.0",
        "libgstreamer-plugins-bad1.0-dev",
    ),
    ("alsa", "libasound2-dev"),
    ("libpipewire-0.3", "libpipewire-0.3-dev"),
    ("gbm", "libgbm-dev"),
    // str0m's DTLS: OpenSSL's, the one GStreamer's dtlssrtpenc/dec interoperate with.
    ("openssl", "libssl-dev"),
];

/// GStreamer elements on Linux and the Debian package whose plugin provides each.
const LINUX_ELEMENTS: &[(&str, &str)] = &[
    ("webrtcbin", "gstreamer1.0-plugins-bad"),
    // libnice's plugin carries its own version (0.1.x), so `gst-inspect-1.0 --exists nicesrc`
    // says no even when it is installed; the listing is what we read.
    ("nicesrc", "gstreamer1.0-nice"),
    ("vp8enc", "gstreamer1.0-plugins-good"),
    ("vp8dec", "gstreamer1.0-plugins-good"),
    ("x264enc", "gstreamer1.0-plugins-ugly"),
    ("opusenc", "gstreamer1.0-plugins-base"),
    ("opusdec", "gstreamer1.0-plugins-base"),
    ("videotestsrc", "gstreamer1.0-plugins-base"),
    ("audiotestsrc", "gstreamer1.0-plugins-base"),
    ("rtpvp8pay", "gstreamer1.0-plugins-good"),
    ("rtpvp8depay", "gstreamer1.0-plugins-good"),
    ("rtpopuspay", "gstreamer1.0-plugins-good"),
    ("rtpopusdepay", "gstreamer1.0-plugins-good"),
    // RFC 6464 audio levels on the microphone's packets, for the server's active speaker.
    ("rtphdrextclientaudiolevel", "gstreamer1.0-plugins-good"),
    ("ximagesrc", "gstreamer1.0-plugins-good"),
    ("appsink", "gstreamer1.0-plugins-base"),
    ("appsrc", "gstreamer1.0-plugins-base"),
    ("avdec_h264", "gstreamer1.0-libav"),
    ("pulsesrc", "gstreamer1.0-pulseaudio"),
    ("alsasrc", "gstreamer1.0-alsa"),
    ("pipewiresrc", "gstreamer1.0-pipewire"),
    ("webrtcdsp", "gstreamer1.0-plugins-bad"),
    ("webrtcechoprobe", "gstreamer1.0-plugins-bad"),
    ("audiomixer", "gstreamer1.0-plugins-base"),
    ("pulsesink", "gstreamer1.0-pulseaudio"),
    ("alsasink", "gstreamer1.0-alsa"),
];

/// Programs on Linux and the Debian package that installs each.
const LINUX_PROGRAMS: &[(&str, &str)] = &[
    ("pkg-config", "pkg-config"),
    ("gst-inspect-1.0", "gstreamer1.0-tools"),
    ("clang", "clang"),
    ("Xvfb", "xvfb"),
    ("xauth", "xauth"),
    ("WebKitWebDriver", "webkit2gtk-driver"),
    ("pulseaudio", "pulseaudio"),
    // Device tests load virtual sound cards (null sinks) into a private PulseAudio.
    ("pactl", "pulseaudio-utils"),
    // Window sharing lists X11 windows with xprop.
    ("xprop", "x11-utils"),
    // Wayland screen sharing is tested on a private headless desktop (tests/src/wayland):
    // its own session bus, PipeWire with WirePlumber, sway with a solid background.
    ("dbus-daemon", "dbus-daemon"),
    ("dbus-send", "dbus-bin"),
    ("pipewire", "pipewire-bin"),
    ("wireplumber", "wireplumber"),
    ("sway", "sway"),
    ("swaymsg", "sway"),
    ("swaybg", "swaybg"),
    ("npm", "npm"),
    // The LAN test (tests/tests/lan.rs) builds its network from namespaces, veth and a bridge.
    ("ip", "iproute2"),
    // The interop test (tests/tests/browser.rs) publishes and watches from a real browser,
    // headless, over WebDriver. (Debian's packages; Ubuntu ships Chromium as a snap.)
    ("chromium", "chromium"),
    ("chromedriver", "chromium-driver"),
    // The lesson service's test resumes a cut download with curl (-C -), as users do.
    ("curl", "curl"),
    // The store's full-disk test mounts a small tmpfs.
    ("mount", "mount"),
    // The Windows installer's WiX fragment is compiled with wixl and read back with msiinfo
    // (xtask/tests/windows_installer.rs).
    ("wixl", "wixl"),
    ("msiinfo", "msitools"),
];

/// Every check on Debian/Ubuntu; each names the apt packages that satisfy it.
pub fn linux() -> Vec<Check> {
    let mut checks = Vec::new();
    for &(name, pkg) in LINUX_PKG_CONFIG {
        checks.push(Check::new(Probe::PkgConfig(name), &[pkg]));
    }
    // libxdo-dev ships no .pc file, only the header and the library link.
    checks.push(Check::new(
        Probe::File("/usr/include/xdo.h"),
        &["libxdo-dev"],
    ));
    for &(name, pkg) in LINUX_ELEMENTS {
        checks.push(Check::new(Probe::Element(name), &[pkg]));
    }
    for &(name, pkg) in LINUX_PROGRAMS {
        checks.push(Check::new(Probe::Program(name), &[pkg]));
    }
    // The desktop portal and its wlroots backend (ScreenCast), for the Wayland tests; Debian
    // installs both outside PATH.
    checks.push(Check::new(
        Probe::File("/usr/libexec/xdg-desktop-portal"),
        &["xdg-desktop-portal"],
    ));
    checks.push(Check::new(
        Probe::File("/usr/libexec/xdg-desktop-portal-wlr"),
        &["xdg-desktop-portal-wlr"],
    ));
    // cpal speaks ALSA; this routes ALSA's `default`/`pulse` PCMs to PulseAudio/PipeWire.
    checks.push(Check::new(
        Probe::File("/usr/lib/x86_64-linux-gnu/alsa-lib/libasound_module_pcm_pulse.so"),
        &["libasound2-plugins"],
    ));
    // The pen test (src-tauri/tests/window/pen.rs) runs a real X server with a pen device of
    // its `inputtest` driver (part of xserver-xorg-core) on the dummy video driver.
    checks.push(Check::new(
        Probe::File("/usr/lib/xorg/modules/input/inputtest_drv.so"),
        &["xserver-xorg-core"],
    ));
    checks.push(Check::new(
        Probe::File("/usr/lib/xorg/modules/drivers/dummy_drv.so"),
        &["xserver-xorg-video-dummy"],
    ));
    checks.push(Check::new(Probe::Libclang, &["libclang-dev"]));
    checks.push(Check::new(Probe::ImageMagick, &["imagemagick"]));
    checks.push(Check::new(Probe::Node, &["nodejs", "npm"]));
    // The app's screens in Simplified Chinese (and the window tests' screenshots of them).
    checks.push(Check::new(Probe::Font("zh"), &["fonts-noto-cjk"]));
    checks
}

/// The GStreamer libraries the crates link on every platform.
const GST_PKG_CONFIG: &[&str] = &[
    "gstreamer-1.0",
    "gstreamer-base-1.0",
    "gstreamer-app-1.0",
    "gstreamer-video-1.0",
    "gstreamer-audio-1.0",
    "gstreamer-sdp-1.0",
    "gstreamer-webrtc-1.0",
    "gstreamer-plugins-bad-1.0",
];

/// GStreamer elements needed on every platform except the ICE plugin.
const GST_ELEMENTS: &[&str] = &[
    "webrtcbin",
    "vp8enc",
    "vp8dec",
    "x264enc",
    "opusenc",
    "opusdec",
    "videotestsrc",
    "audiotestsrc",
    "rtpvp8pay",
    "rtpvp8depay",
    "rtpopuspay",
    "rtpopusdepay",
    "appsink",
    "appsrc",
    "avdec_h264",
];

/// Checks on macOS and Windows, where xtask only reports. `gst`, `nice`, `pkgconf`, `clang`
/// and `node` are what each platform calls the source of that piece.
fn portable(
    gst: &'static str,
    nice: &'static str,
    pkgconf: &'static str,
    clang: &'static str,
    node: &'static str,
) -> Vec<Check> {
    let mut checks = vec![Check::new(Probe::Program("pkg-config"), &[pkgconf])];
    for &name in GST_PKG_CONFIG {
        checks.push(Check::new(Probe::PkgConfig(name), &[gst]));
    }
    checks.push(Check::new(Probe::Program("gst-inspect-1.0"), &[gst]));
    for &name in GST_ELEMENTS {
        checks.push(Check::new(Probe::Element(name), &[gst]));
    }
    checks.push(Check::new(Probe::Element("nicesrc"), &[nice]));
    checks.push(Check::new(Probe::Program("clang"), &[clang]));
    checks.push(Check::new(Probe::Program("npm"), &[node]));
    checks.push(Check::new(Probe::Node, &[node]));
    checks
}

/// Checks on macOS; each names a Homebrew formula, except `xcode` (the command line tools).
pub fn macos() -> Vec<Check> {
    portable("gstreamer", "libnice-gstreamer", "pkgconf", "xcode", "node")
}

/// Checks on Windows; each names a block of [`windows_help`].
pub fn windows() -> Vec<Check> {
    portable("gstreamer", "gstreamer", "pkg-config", "llvm", "node")
}

/// The commands that install what `missing` (formulae from [`macos`]) names.
pub fn macos_help(missing: &[&str]) -> String {
    let mut text = String::from("Install with (xtask does not run these for you):\n");
    if missing.contains(&"xcode") {
        text.push_str("  xcode-select --install\n");
    }
    let formulae: Vec<&str> = missing.iter().copied().filter(|f| *f != "xcode").collect();
    if !formulae.is_empty() {
        text.push_str(&format!("  brew install {}\n", formulae.join(" ")));
    }
    text.push_str(
        "Homebrew's `gstreamer` formula bundles all plugin sets and libav; the ICE elements\n\
         (nicesrc/nicesink) that webrtcbin needs come from `libnice-gstreamer`.\n",
    );
    text
}

/// The GStreamer release whose MSVC installers the Windows instructions name.
const GST_WINDOWS_VERSION: &str = "1.24.13";

/// The steps that install what `missing` (keys from [`windows`]) names, plus the ones xtask
/// cannot check (Visual Studio's C++ tools, WebView2).
pub fn windows_help(missing: &[&str]) -> String {
    let v = GST_WINDOWS_VERSION;
    let base = format!("https://gstreamer.freedesktop.org/data/pkg/windows/{v}/msvc");
    let mut text = String::from(
        "Install with (PowerShell; xtask does not run these for you):\n\
         \x20 winget install --id Microsoft.VisualStudio.2022.BuildTools   # then add \"Desktop development with C++\"\n\
         \x20 winget install --id Microsoft.EdgeWebView2Runtime            # already present on Windows 11\n",
    );
    if missing.contains(&"gstreamer") {
        text.push_str(&format!(
            "  # GStreamer {v}, MSVC x86_64: the runtime AND the development installer\n\
             \x20 curl.exe -LO {base}/gstreamer-1.0-msvc-x86_64-{v}.msi\n\
             \x20 curl.exe -LO {base}/gstreamer-1.0-devel-msvc-x86_64-{v}.msi\n\
             \x20 msiexec /passive /i gstreamer-1.0-msvc-x86_64-{v}.msi ADDLOCAL=ALL\n\
             \x20 msiexec /passive /i gstreamer-1.0-devel-msvc-x86_64-{v}.msi ADDLOCAL=ALL\n\
             \x20 [Environment]::SetEnvironmentVariable(\"PKG_CONFIG_PATH\", \"C:\\gstreamer\\1.0\\msvc_x86_64\\lib\\pkgconfig\", \"User\")\n\
             \x20 [Environment]::SetEnvironmentVariable(\"Path\", [Environment]::GetEnvironmentVariable(\"Path\", \"User\") + \";C:\\gstreamer\\1.0\\msvc_x86_64\\bin\", \"User\")\n"
        ));
    }
    if missing.contains(&"pkg-config") {
        text.push_str("  choco install pkgconfiglite\n");
    }
    if missing.contains(&"llvm") {
        text.push_str("  winget install --id LLVM.LLVM\n");
    }
    if missing.contains(&"node") {
        text.push_str("  winget install --id OpenJS.NodeJS.LTS\n");
    }
    text.push_str("Then open a new terminal so PATH and PKG_CONFIG_PATH take effect.\n");
    text
}
