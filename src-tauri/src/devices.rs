//! Cameras, microphones and speakers for the app: the live list, the user's choice and its
//! memory across runs, and what a class then uses.
//!
//! The choice is remembered by device id (`classroom_media::devices::DeviceInfo::id`) in
//! `devices.json` in the app's config directory. On join: the remembered device if present,
//! else the system default, else a test source with a notice saying so.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use classroom_media::devices::{self, DeviceInfo, DeviceKind};
#[cfg(target_os = "linux")]
use classroom_media::portal::{PortalRequest, ShareChoice};
use classroom_media::screen::DisplayServer;
use classroom_media::{AudioInput, VideoInput};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::AppError;
use crate::notes::ClassNote;

/// The remembered choice per kind (device ids).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct DeviceSettings {
    /// Camera id.
    pub camera: Option<String>,
    /// Microphone id.
    pub microphone: Option<String>,
    /// Speaker id.
    pub speaker: Option<String>,
}

impl DeviceSettings {
    fn slot(&mut self, kind: DeviceKind) -> &mut Option<String> {
        match kind {
            DeviceKind::Camera => &mut self.camera,
            DeviceKind::Microphone => &mut self.microphone,
            _ => &mut self.speaker,
        }
    }

    /// The remembered id for `kind`.
    pub fn get(&self, kind: DeviceKind) -> Option<&str> {
        match kind {
            DeviceKind::Camera => self.camera.as_deref(),
            DeviceKind::Microphone => self.microphone.as_deref(),
            _ => self.speaker.as_deref(),
        }
    }
}

/// What a device is for, as the UI names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum DeviceKindName {
    /// A camera.
    Camera,
    /// A microphone.
    Microphone,
    /// A speaker or headphones.
    Speaker,
}

impl From<DeviceKind> for DeviceKindName {
    fn from(kind: DeviceKind) -> Self {
        match kind {
            DeviceKind::Camera => Self::Camera,
            DeviceKind::Microphone => Self::Microphone,
            _ => Self::Speaker,
        }
    }
}

/// One device as the UI sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DeviceView {
    /// Camera, microphone or speaker.
    pub kind: DeviceKindName,
    /// Stable id, what `choose_device` takes.
    pub id: String,
    /// For people.
    pub name: String,
    /// The system's default of its kind.
    pub is_default: bool,
}

/// What `list_devices` returns and `devices-changed` carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DeviceList {
    /// Every device present.
    pub devices: Vec<DeviceView>,
    /// The remembered choice.
    pub chosen: DeviceSettings,
}

/// Where a teacher's screen track comes from.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ScreenChoice {
    /// Captured directly: the X11 screen, or a test picture where there is nothing to share.
    Input(VideoInput),
    /// Asked of the desktop portal (Wayland): the person picks a screen or window in the
    /// desktop's own dialog, or cancels.
    #[cfg(target_os = "linux")]
    Portal(PortalRequest),
    /// The school's policy does not allow what this desktop would share; the words say why.
    Refused(String),
}

/// The school turned screen sharing off.
pub const SHARING_OFF: &str = "Your school has turned off screen sharing.";

/// The school allows windows only, and this desktop can share only the whole screen.
pub const WINDOWS_ONLY: &str = "Your school allows sharing one window only, and on this desktop the app can share only the whole screen.";

impl ScreenChoice {
    /// This choice under the school's `screenShareSources` policy (`screen`, `window`): the
    /// desktop's dialog offers only what is allowed; X11's whole screen needs `screen`; with
    /// nothing allowed, nothing is shared (not even a test picture).
    pub fn allowed_by(self, sources: &[String]) -> ScreenChoice {
        let screen = sources.iter().any(|s| s == "screen");
        let window = sources.iter().any(|s| s == "window");
        if !screen && !window {
            return ScreenChoice::Refused(SHARING_OFF.into());
        }
        match self {
            #[cfg(target_os = "linux")]
            ScreenChoice::Portal(mut request) => {
                request.choice = match (screen, window) {
                    (true, true) => ShareChoice::ScreenOrWindow,
                    (true, false) => ShareChoice::Screen,
                    _ => ShareChoice::Window,
                };
                ScreenChoice::Portal(request)
            }
            ScreenChoice::Input(VideoInput::X11Screen { .. }) if !screen => {
                ScreenChoice::Refused(WINDOWS_ONLY.into())
            }
            other => other,
        }
    }
}

/// The screen of this session: X11's, the portal's on Wayland, or a test picture (with the
/// notice saying why) where there is no display.
pub fn pick_screen(display: DisplayServer) -> (ScreenChoice, Option<ClassNote>) {
    let test = || {
        ScreenChoice::Input(VideoInput::Test {
            pattern: "smpte".into(),
        })
    };
    match display {
        DisplayServer::X11 { display } => {
            (ScreenChoice::Input(VideoInput::X11Screen { display }), None)
        }
        #[cfg(target_os = "linux")]
        DisplayServer::Wayland => (ScreenChoice::Portal(PortalRequest::default()), None),
        #[cfg(not(target_os = "linux"))]
        DisplayServer::Wayland => (test(), Some(ClassNote::WaylandUnsupported)),
        _ => (test(), Some(ClassNote::NoDisplay)),
    }
}

/// The inputs a class starts with, and what to tell the user about them.
#[derive(Debug, Clone, PartialEq)]
pub struct Picked {
    /// Camera input.
    pub camera: VideoInput,
    /// Microphone input.
    pub microphone: AudioInput,
    /// Speaker device id, `None` for no sound output.
    pub speaker: Option<String>,
    /// Where the screen comes from (used when teaching).
    pub screen: ScreenChoice,
    /// "No camera found: sending a test picture", and the like.
    pub notices: Vec<ClassNote>,
}

/// `camera`, `microphone`, `speaker`.
pub fn kind_name(kind: DeviceKind) -> &'static str {
    match kind {
        DeviceKind::Camera => "camera",
        DeviceKind::Microphone => "microphone",
        _ => "speaker",
    }
}

fn parse_kind(kind: &str) -> Option<DeviceKind> {
    match kind {
        "camera" => Some(DeviceKind::Camera),
        "microphone" => Some(DeviceKind::Microphone),
        "speaker" => Some(DeviceKind::Speaker),
        _ => None,
    }
}

/// Chooses the inputs for a class from what is present and what was remembered.
pub fn pick(present: &[DeviceInfo], settings: &DeviceSettings) -> Picked {
    let mut notices = Vec::new();
    let camera = devices::choose(present, DeviceKind::Camera, settings.camera.as_deref())
        .and_then(|d| VideoInput::from_device_id(&d.id))
        .unwrap_or_else(|| {
            notices.push(ClassNote::NoCamera);
            VideoInput::Test {
                pattern: "ball".into(),
            }
        });
    let microphone = match devices::choose(
        present,
        DeviceKind::Microphone,
        settings.microphone.as_deref(),
    ) {
        Some(d) => AudioInput::Device { id: d.id.clone() },
        None => {
            notices.push(ClassNote::NoMicrophone);
            AudioInput::Test
        }
    };
    let speaker = devices::choose(present, DeviceKind::Speaker, settings.speaker.as_deref())
        .map(|d| d.id.clone());
    if speaker.is_none() {
        notices.push(ClassNote::NoSpeaker);
    }
    let (screen, notice) = pick_screen(classroom_media::screen::display_server());
    notices.extend(notice);
    Picked {
        camera,
        microphone,
        speaker,
        screen,
        notices,
    }
}

/// The live device list and the remembered choice.
pub struct DeviceController {
    settings_path: Option<PathBuf>,
    settings: Mutex<DeviceSettings>,
    present: Mutex<Vec<DeviceInfo>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Reads the settings file; a missing file is no choice yet, a broken one is reported and
/// ignored (it is overwritten by the next choice) rather than stopping the app.
pub fn load_settings(path: &Path) -> DeviceSettings {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
            eprintln!(
                "classroom-app: ignoring unreadable device settings {}: {e}",
                path.display()
            );
            DeviceSettings::default()
        }),
        Err(_) => DeviceSettings::default(),
    }
}

fn save_settings(path: &Path, settings: &DeviceSettings) -> Result<(), AppError> {
    let fail = |e: std::io::Error| AppError::Storage(format!("cannot save the device choice: {e}"));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let text = serde_json::to_string_pretty(settings)
        .map_err(|e| AppError::Storage(format!("cannot save the device choice: {e}")))?;
    // Write then rename: a crash mid-write leaves the old choice, never half a file.
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

impl DeviceController {
    /// Remembers choices in `settings_path` (`None`: only for this run).
    pub fn new(settings_path: Option<PathBuf>) -> Self {
        let settings = settings_path
            .as_deref()
            .map(load_settings)
            .unwrap_or_default();
        DeviceController {
            settings_path,
            settings: Mutex::new(settings),
            present: Mutex::new(Vec::new()),
        }
    }

    /// Records a fresh listing (from the watcher) and returns the UI's view of it.
    pub fn update(&self, present: Vec<DeviceInfo>) -> DeviceList {
        *lock(&self.present) = present;
        self.view()
    }

    /// The UI's view of the latest listing.
    pub fn view(&self) -> DeviceList {
        DeviceList {
            devices: lock(&self.present)
                .iter()
                .map(|d| DeviceView {
                    kind: d.kind.into(),
                    id: d.id.clone(),
                    name: d.name.clone(),
                    is_default: d.is_default,
                })
                .collect(),
            chosen: lock(&self.settings).clone(),
        }
    }

    /// Remembers `id` for `kind`. Refuses a kind it does not know or a device that is not
    /// present (the webview is untrusted input); returns the kind for the caller to apply.
    pub fn choose(&self, kind: &str, id: &str) -> Result<DeviceKind, AppError> {
        let kind = parse_kind(kind)
            .ok_or_else(|| AppError::UnknownDevice(format!("no such kind of device: {kind:?}")))?;
        if !lock(&self.present)
            .iter()
            .any(|d| d.kind == kind && d.id == id)
        {
            return Err(AppError::UnknownDevice(format!(
                "no {} called {id:?} is connected",
                kind_name(kind)
            )));
        }
        let mut settings = lock(&self.settings);
        *settings.slot(kind) = Some(id.to_owned());
        if let Some(path) = &self.settings_path {
            save_settings(path, &settings)?;
        }
        Ok(kind)
    }

    /// The id of the device a class would use for `kind` now (remembered, else default).
    pub fn pick_id(&self, kind: DeviceKind) -> Option<String> {
        let settings = lock(&self.settings);
        devices::choose(&lock(&self.present), kind, settings.get(kind)).map(|d| d.id.clone())
    }

    /// The inputs a class would start with now.
    pub fn pick(&self) -> Picked {
        pick(&lock(&self.present), &lock(&self.settings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(kind: DeviceKind, id: &str, default: bool) -> DeviceInfo {
        DeviceInfo {
            kind,
            id: id.into(),
            name: id.to_uppercase(),
            is_default: default,
        }
    }

    #[test]
    fn nothing_present_means_test_sources_with_notices() {
        let p = pick(&[], &DeviceSettings::default());
        assert!(p.camera.is_test());
        assert_eq!(p.microphone, AudioInput::Test);
        assert_eq!(p.speaker, None);
        assert!(p.notices.len() >= 3, "{:?}", p.notices);
    }

    #[test]
    fn remembered_devices_win_when_present_else_the_default() {
        let present = vec![
            dev(DeviceKind::Camera, "v4l2:/dev/video0", true),
            dev(DeviceKind::Camera, "v4l2:/dev/video2", false),
            dev(DeviceKind::Microphone, "cpal:default", true),
            dev(DeviceKind::Microphone, "pulse:usb.mic", false),
            dev(DeviceKind::Speaker, "cpal:default", true),
        ];
        let settings = DeviceSettings {
            camera: Some("v4l2:/dev/video2".into()),
            microphone: Some("pulse:gone".into()),
            speaker: None,
        };
        let p = pick(&present, &settings);
        assert_eq!(
            p.camera,
            VideoInput::V4l2 {
                device: "/dev/video2".into()
            }
        );
        assert_eq!(
            p.microphone,
            AudioInput::Device {
                id: "cpal:default".into()
            }
        );
        assert_eq!(p.speaker.as_deref(), Some("cpal:default"));
        // Only the screen may add a notice (no display in a test run).
        assert!(
            p.notices
                .iter()
                .all(|n| matches!(n, ClassNote::NoDisplay | ClassNote::WaylandUnsupported)),
            "{:?}",
            p.notices
        );
    }

    #[test]
    fn the_schools_share_policy_limits_what_each_desktop_shares() {
        let sources = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let x11 = || {
            ScreenChoice::Input(VideoInput::X11Screen {
                display: ":1".into(),
            })
        };
        let portal = || ScreenChoice::Portal(PortalRequest::default());
        let offered = |choice: ScreenChoice| match choice {
            ScreenChoice::Portal(request) => Some(request.choice),
            _ => None,
        };
        let both = sources(&["screen", "window"]);
        assert_eq!(x11().allowed_by(&both), x11());
        assert_eq!(
            offered(portal().allowed_by(&both)),
            Some(ShareChoice::ScreenOrWindow)
        );
        assert_eq!(
            offered(portal().allowed_by(&sources(&["window"]))),
            Some(ShareChoice::Window)
        );
        assert_eq!(
            offered(portal().allowed_by(&sources(&["screen"]))),
            Some(ShareChoice::Screen)
        );
        // X11 shares the whole screen: a window-only school refuses it, in words.
        assert_eq!(
            x11().allowed_by(&sources(&["window"])),
            ScreenChoice::Refused(WINDOWS_ONLY.into())
        );
        // Sharing off: nothing, on any desktop, not even the test picture.
        let test = ScreenChoice::Input(VideoInput::Test {
            pattern: "smpte".into(),
        });
        for choice in [x11(), portal(), test] {
            assert_eq!(
                choice.allowed_by(&[]),
                ScreenChoice::Refused(SHARING_OFF.into())
            );
        }
    }

    #[test]
    fn x11_shares_its_screen_wayland_asks_the_portal_and_no_display_sends_a_test_picture() {
        assert_eq!(
            pick_screen(DisplayServer::X11 {
                display: ":1".into()
            }),
            (
                ScreenChoice::Input(VideoInput::X11Screen {
                    display: ":1".into()
                }),
                None
            )
        );
        assert_eq!(
            pick_screen(DisplayServer::Wayland),
            (ScreenChoice::Portal(PortalRequest::default()), None)
        );
        let (screen, notice) = pick_screen(DisplayServer::Headless);
        assert!(matches!(
            screen,
            ScreenChoice::Input(VideoInput::Test { .. })
        ));
        assert_eq!(notice, Some(ClassNote::NoDisplay));
    }

    #[test]
    fn a_choice_is_remembered_across_runs_and_bad_input_is_refused() {
        let dir = std::env::temp_dir().join(format!("classroom-devices-{}", std::process::id()));
        let path = dir.join("devices.json");
        let _ = std::fs::remove_file(&path);
        let c = DeviceController::new(Some(path.clone()));
        c.update(vec![dev(DeviceKind::Microphone, "pulse:usb.mic", false)]);
        assert!(matches!(
            c.choose("microphone", "pulse:not-here"),
            Err(AppError::UnknownDevice(_))
        ));
        assert!(matches!(
            c.choose("toaster", "pulse:usb.mic"),
            Err(AppError::UnknownDevice(_))
        ));
        assert!(matches!(
            c.choose("speaker", "pulse:usb.mic"),
            Err(AppError::UnknownDevice(_))
        ));
        assert_eq!(
            c.choose("microphone", "pulse:usb.mic").expect("chosen"),
            DeviceKind::Microphone
        );
        // A new run reads the choice back.
        let again = DeviceController::new(Some(path.clone()));
        assert_eq!(
            again.view().chosen.microphone.as_deref(),
            Some("pulse:usb.mic")
        );
        // A broken file is ignored, not fatal.
        std::fs::write(&path, "{ not json").expect("write");
        assert_eq!(
            DeviceController::new(Some(path.clone())).view().chosen,
            DeviceSettings::default()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_view_serializes_for_the_ui() {
        let c = DeviceController::new(None);
        let v = c.update(vec![dev(DeviceKind::Speaker, "cpal:default", true)]);
        let json = serde_json::to_value(&v).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "devices": [{"kind": "speaker", "id": "cpal:default", "name": "CPAL:DEFAULT", "isDefault": true}],
                "chosen": {"camera": null, "microphone": null, "speaker": null}
            })
        );
    }
}
