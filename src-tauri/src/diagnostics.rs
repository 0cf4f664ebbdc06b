//! The report a teacher or student copies for the school's IT: what this computer has (the
//! app, the system, GStreamer and its elements, devices, networks) and how the class is going
//! (tracks, frame rates, freezes, failures, the latest events).
//!
//! Plain English text, whatever language the app shows: it is read by IT staff and pasted
//! into tickets and searches. It never carries a token, an invite, a class code or a
//! certificate pin: people paste it into chats and e-mails.

use std::fmt::Write as _;

use classroom_discovery::interfaces::LanAddress;
use classroom_media::Inventory;

use crate::class::ClassStats;
use crate::devices::DeviceList;
use crate::settings::SettingsView;

/// Everything the report is made from, gathered by the `diagnostics` command.
pub struct Facts {
    /// The app's version.
    pub version: &'static str,
    /// The app's identifier (from `tauri.conf.json`).
    pub identifier: String,
    /// Operating system, architecture and release.
    pub system: String,
    /// Language and theme.
    pub settings: SettingsView,
    /// GStreamer and its elements.
    pub media: Inventory,
    /// Cameras, microphones and speakers.
    pub devices: DeviceList,
    /// The addresses that count as the school network, or why they could not be read.
    pub network: Result<Vec<LanAddress>, String>,
    /// The class, when the app is in one.
    pub class: Option<ClassStats>,
    /// Calls from the page that were refused (bad input) since the app started.
    pub refused_calls: u64,
    /// Requests the library's loopback file server refused since the app started.
    pub file_server_refusals: u64,
    /// How the app's windows are drawn (`web_renderer`), when it was decided.
    pub web_renderer: Option<crate::web_renderer::WebRenderer>,
}

/// The operating system as people name it: `linux x86_64, Debian GNU/Linux 12 (bookworm),
/// kernel 6.1.0-18-amd64`.
pub fn system() -> String {
    let mut out = format!("{} {}", std::env::consts::OS, std::env::consts::ARCH);
    if let Ok(release) = std::fs::read_to_string("/etc/os-release")
        && let Some(name) = release.lines().find_map(|l| l.strip_prefix("PRETTY_NAME="))
    {
        let _ = write!(out, ", {}", name.trim_matches('"'));
    }
    if let Ok(kernel) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        let _ = write!(out, ", kernel {}", kernel.trim());
    }
    out
}

/// `classroom-app --check-media`: GStreamer's version and each element a class uses, then
/// whether a class can run; true when it can.
pub fn media_check() -> (String, bool) {
    let inventory = classroom_media::inventory();
    let ready = classroom_media::init().map_err(|e| e.to_string());
    (media_check_text(&inventory, &ready), ready.is_ok())
}

/// The text of [`media_check`]: one element per line, so a script can grep it.
pub fn media_check_text(inventory: &Inventory, ready: &Result<(), String>) -> String {
    let mut out = match &inventory.version {
        Ok(v) => format!("{v}\n"),
        Err(e) => format!("GStreamer did not start: {e}\n"),
    };
    for (name, present) in &inventory.elements {
        let state = if *present { "installed" } else { "missing" };
        let _ = writeln!(out, "{name}: {state}");
    }
    match ready {
        Ok(()) => out.push_str("ready: every element a class needs is installed\n"),
        Err(e) => {
            let _ = writeln!(out, "not ready: {e}");
        }
    }
    out
}

/// The report as text.
pub fn report(facts: &Facts) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line("Classroom diagnostics".into());
    line(format!("App: {} ({})", facts.version, facts.identifier));
    line(format!("System: {}", facts.system));
    if let Some(renderer) = facts.web_renderer {
        line(format!("Web renderer: {}", renderer.describe()));
    }
    line(format!(
        "Language: {:?} (shown: {:?}, desktop: {:?}); theme: {:?}",
        facts.settings.settings.language,
        facts.settings.language,
        facts.settings.system_language,
        facts.settings.settings.theme
    ));
    line(String::new());

    match &facts.media.version {
        Ok(v) => line(format!("Media: {v}")),
        Err(e) => line(format!("Media: GStreamer did not start: {e}")),
    }
    let (present, missing): (Vec<_>, Vec<_>) = facts.media.elements.iter().partition(|e| e.1);
    let names = |v: &[&(&str, bool)]| {
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.iter().map(|e| e.0).collect::<Vec<_>>().join(", ")
        }
    };
    line(format!("  installed: {}", names(&present)));
    line(format!("  missing: {}", names(&missing)));
    line(String::new());

    line("Devices:".into());
    if facts.devices.devices.is_empty() {
        line("  none found".into());
    }
    for d in &facts.devices.devices {
        line(format!(
            "  {:?}: {}{}",
            d.kind,
            d.name,
            if d.is_default { " (default)" } else { "" }
        ));
    }
    line(String::new());

    match &facts.network {
        Ok(addrs) if addrs.is_empty() => line(
            "Network: no usable school network (only this computer can join a class hosted here)"
                .into(),
        ),
        Ok(addrs) => {
            line("Network:".into());
            for a in addrs {
                line(format!("  {}: {}/{}", a.interface, a.ip, a.prefix_len));
            }
        }
        Err(e) => line(format!("Network: could not read the interfaces: {e}")),
    }
    line(String::new());

    match &facts.class {
        None => line("Class: not in a class".into()),
        Some(c) => {
            match &c.closed {
                Some(end) => line(format!("Class: ended ({})", end.reason)),
                None => line("Class: connected".into()),
            }
            if let Some(n) = &c.network {
                line(format!(
                    "  hosting on port {} at {}",
                    n.port,
                    if n.addresses.is_empty() {
                        "this computer only".to_owned()
                    } else {
                        n.addresses
                            .iter()
                            .map(|a| a.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ));
            }
            for t in &c.tracks {
                line(format!(
                    "  {:?} {}: {} packets, {} frames, {:.1} fps, {:.0} kbit/s, {}, {} freezes",
                    t.source,
                    t.track_id,
                    t.packets,
                    t.frames,
                    t.fps,
                    t.kbps,
                    t.resolution.as_deref().unwrap_or("no picture"),
                    t.freezes
                ));
            }
            for s in &c.failed_tracks {
                line(format!("  our {s:?} failed: a stand-in is sent"));
            }
            let recent = c.events.len().saturating_sub(10);
            for e in &c.events[recent..] {
                line(format!("  event: {e:?}"));
            }
        }
    }
    line(format!(
        "Refused calls from the page: {}",
        facts.refused_calls
    ));
    line(format!(
        "Refused requests to the library's file server: {}",
        facts.file_server_refusals
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::{DeviceKindName, DeviceView};

    fn facts() -> Facts {
        Facts {
            version: "1.2.3",
            identifier: "app.classroom.desktop".into(),
            system: "linux x86_64, Debian GNU/Linux 12 (bookworm), kernel 6.1".into(),
            settings: crate::settings::SettingsStore::new(None, vec!["zh-CN".into()]).view(),
            media: Inventory {
                version: Ok("GStreamer 1.22.0".into()),
                elements: vec![("webrtcbin", true), ("x264enc", false)],
            },
            devices: DeviceList {
                devices: vec![DeviceView {
                    kind: DeviceKindName::Camera,
                    id: "v4l2:/dev/video0".into(),
                    name: "Integrated Camera".into(),
                    is_default: true,
                }],
                chosen: Default::default(),
            },
            network: Ok(vec![LanAddress {
                interface: "wlp2s0".into(),
                ip: "192.168.1.20".parse().expect("ip"),
                prefix_len: 24,
            }]),
            class: None,
            refused_calls: 2,
            file_server_refusals: 3,
            web_renderer: Some(crate::web_renderer::WebRenderer::OffForNvidia),
        }
    }

    #[test]
    fn the_report_says_what_this_computer_has() {
        let text = report(&facts());
        for expected in [
            "App: 1.2.3 (app.classroom.desktop)",
            "Debian GNU/Linux 12",
            "Media: GStreamer 1.22.0",
            "installed: webrtcbin",
            "missing: x264enc",
            "Camera: Integrated Camera (default)",
            "wlp2s0: 192.168.1.20/24",
            "Class: not in a class",
            "Refused calls from the page: 2",
            "Refused requests to the library's file server: 3",
            "Web renderer: WebKitGTK without DMA-BUF: NVIDIA's driver is loaded",
        ] {
            assert!(
                text.contains(expected),
                "{expected:?} missing from:\n{text}"
            );
        }
    }

    #[test]
    fn no_network_and_a_broken_gstreamer_are_said_in_words() {
        let mut f = facts();
        f.network = Ok(Vec::new());
        f.media.version = Err("no plugins".into());
        f.media.elements = vec![("webrtcbin", false)];
        let text = report(&f);
        assert!(text.contains("no usable school network"), "{text}");
        assert!(
            text.contains("GStreamer did not start: no plugins"),
            "{text}"
        );
        assert!(text.contains("installed: none"), "{text}");
    }

    #[test]
    fn the_media_check_lists_each_element_and_says_whether_a_class_can_run() {
        let f = facts();
        let text = media_check_text(&f.media, &Ok(()));
        assert_eq!(
            text,
            "GStreamer 1.22.0\nwebrtcbin: installed\nx264enc: missing\n\
             ready: every element a class needs is installed\n"
        );
        let text = media_check_text(&f.media, &Err("webrtcbin is not installed".into()));
        assert!(
            text.ends_with("not ready: webrtcbin is not installed\n"),
            "{text}"
        );
    }

    #[test]
    fn this_computer_is_described() {
        let s = system();
        assert!(s.starts_with(std::env::consts::OS), "{s}");
    }
}
