//! Cameras, microphones and speakers: what the machine has, and what changed.
//!
//! Three backends feed one list:
//! - cameras from GStreamer's `DeviceMonitor` (`Video/Source`: V4L2 / PipeWire providers);
//! - audio from cpal (ALSA PCMs on Linux: `default`, `pulse`, `hw:…` cards), opened with cpal
//!   for the microphone and `alsasink` for the speaker; on Linux listed from ALSA's hints
//!   directly (as cpal would, but without opening JACK's PCM, which prints on every poll);
//! - audio from GStreamer's PulseAudio provider (`Audio/Source`, `Audio/Sink`): on a desktop
//!   with PulseAudio or PipeWire the headsets and USB microphones a teacher actually picks live
//!   there, and ALSA shows them only behind `default`/`pulse`.
//!
//! cpal has no hot-plug callback, so [`DeviceWatcher`] polls every backend on a thread of its
//! own (never a media thread) and reports the difference; [`diff`] is the pure part.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

#[cfg(not(target_os = "linux"))]
use cpal::traits::{DeviceTrait, HostTrait};
use gstreamer as gst;
use gstreamer::prelude::*;
use tokio::sync::mpsc::UnboundedSender;
use tracing::debug;

/// What a device is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DeviceKind {
    /// Video capture.
    Camera,
    /// Audio capture.
    Microphone,
    /// Audio playback.
    Speaker,
}

/// Which API opens the device; also the prefix of its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Backend {
    /// cpal (ALSA on Linux, CoreAudio, WASAPI).
    Cpal,
    /// GStreamer's PulseAudio device provider (PulseAudio or PipeWire's pulse server).
    Pulse,
    /// A V4L2 device node.
    V4l2,
}

impl Backend {
    fn prefix(self) -> &'static str {
        match self {
            Backend::Cpal => "cpal",
            Backend::Pulse => "pulse",
            Backend::V4l2 => "v4l2",
        }
    }
}

/// One device, named stably enough to remember between runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceInfo {
    /// What it is for.
    pub kind: DeviceKind,
    /// `backend:name`, e.g. `cpal:default`, `pulse:alsa_input.usb-…`, `v4l2:/dev/video0`.
    /// Stable across restarts for the same hardware on the same port, which is what a
    /// remembered choice needs.
    pub id: String,
    /// For people, e.g. "HD Webcam C270".
    pub name: String,
    /// Whether the backend calls it the default of its kind.
    pub is_default: bool,
}

impl DeviceInfo {
    /// The backend that opens it, from the id's prefix.
    pub fn backend(&self) -> Option<Backend> {
        parse_id(&self.id).map(|(b, _)| b)
    }
}

/// Splits a device id into backend and backend-specific name.
pub fn parse_id(id: &str) -> Option<(Backend, &str)> {
    let (prefix, name) = id.split_once(':')?;
    let backend = [Backend::Cpal, Backend::Pulse, Backend::V4l2]
        .into_iter()
        .find(|b| b.prefix() == prefix)?;
    (!name.is_empty()).then_some((backend, name))
}

fn make_id(backend: Backend, name: &str) -> String {
    format!("{}:{name}", backend.prefix())
}

/// What changed between two listings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceChanges {
    /// Devices that appeared.
    pub added: Vec<DeviceInfo>,
    /// Devices that went away.
    pub removed: Vec<DeviceInfo>,
}

impl DeviceChanges {
    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// The difference between two listings, by `(kind, id)`. A device whose name or default flag
/// changed counts as removed and added again, so a listener re-reads it. Order-insensitive and
/// duplicate-tolerant (backends do list a device twice during a plug event).
pub fn diff(before: &[DeviceInfo], after: &[DeviceInfo]) -> DeviceChanges {
    let key = |d: &DeviceInfo| (d.kind, d.id.clone());
    let old: BTreeMap<_, _> = before.iter().map(|d| (key(d), d)).collect();
    let new: BTreeMap<_, _> = after.iter().map(|d| (key(d), d)).collect();
    DeviceChanges {
        added: new
            .iter()
            .filter(|(k, d)| old.get(*k) != Some(*d))
            .map(|(_, d)| (*d).clone())
            .collect(),
        removed: old
            .iter()
            .filter(|(k, d)| new.get(*k) != Some(*d))
            .map(|(_, d)| (*d).clone())
            .collect(),
    }
}

/// Picks the device to use for `kind`: the remembered one if it is present, else the
/// backend's default, else the first. `None` means none exists: use a test source and tell
/// the user.
pub fn choose<'a>(
    devices: &'a [DeviceInfo],
    kind: DeviceKind,
    remembered: Option<&str>,
) -> Option<&'a DeviceInfo> {
    let mut of_kind = devices.iter().filter(|d| d.kind == kind);
    if let Some(id) = remembered
        && let Some(d) = devices.iter().find(|d| d.kind == kind && d.id == id)
    {
        return Some(d);
    }
    let first = of_kind.next();
    devices
        .iter()
        .find(|d| d.kind == kind && d.is_default)
        .or(first)
}

/// Every device every backend sees now. Slow-ish (ALSA opens each PCM to see whether it
/// captures or plays): call it off the media threads.
pub fn list_devices() -> Vec<DeviceInfo> {
    let mut all = gst_devices();
    all.extend(cpal_devices());
    all.sort();
    all.dedup();
    all
}

/// Cameras and PulseAudio devices from GStreamer's device providers.
fn gst_devices() -> Vec<DeviceInfo> {
    if gst::init().is_err() {
        return Vec::new();
    }
    let monitor = gst::DeviceMonitor::new();
    monitor.add_filter(Some("Video/Source"), None);
    monitor.add_filter(Some("Audio/Source"), None);
    monitor.add_filter(Some("Audio/Sink"), None);
    if monitor.start().is_err() {
        // No provider could start (no PulseAudio running, no /dev/video*): nothing to list.
        return Vec::new();
    }
    let devices = monitor.devices();
    monitor.stop();
    devices.iter().filter_map(from_gst_device).collect()
}

/// Turns a GStreamer device into ours; `None` for providers we cannot open.
pub fn from_gst_device(device: &gst::Device) -> Option<DeviceInfo> {
    let class = device.device_class();
    let props = device.properties();
    let prop = |name: &str| props.as_ref().and_then(|p| p.get::<String>(name).ok());
    let is_default = props
        .as_ref()
        .and_then(|p| p.get::<bool>("is-default").ok())
        .unwrap_or(false);
    let name = device.display_name().to_string();
    let (kind, id) = if class.contains("Video/Source") {
        // Only V4L2 nodes: PipeWire's camera nodes duplicate them under another name.
        (
            DeviceKind::Camera,
            make_id(Backend::V4l2, &prop("device.path")?),
        )
    } else if class.contains("Audio/Source") || class.contains("Audio/Sink") {
        // Only PulseAudio's devices: the ALSA provider's duplicate what cpal lists.
        if device.type_().name() != "GstPulseDevice"
            || device.find_property("internal-name").is_none()
        {
            return None;
        }
        let kind = if class.contains("Source") {
            DeviceKind::Microphone
        } else {
            DeviceKind::Speaker
        };
        let pulse_name = device.property::<Option<String>>("internal-name")?;
        (kind, make_id(Backend::Pulse, &pulse_name))
    } else {
        return None;
    };
    Some(DeviceInfo {
        kind,
        id,
        name,
        is_default,
    })
}

/// ALSA PCMs that are not probed: their plugin connects to a sound server that is rarely
/// running (JACK), and its library then prints "jack server is not running or cannot be
/// started" on stderr each time the device list is polled. Nobody picks one for a class: the
/// same hardware is there as `default`, `pulse` or `hw:…`.
const UNPROBED_ALSA_PCMS: &[&str] = &["jack"];

/// True for an ALSA PCM name the device list leaves alone (see [`UNPROBED_ALSA_PCMS`]).
pub fn is_unprobed_alsa_pcm(name: &str) -> bool {
    let base = name.split(':').next().unwrap_or(name);
    base == "null" || UNPROBED_ALSA_PCMS.contains(&base)
}

/// Audio devices cpal can open, by cpal's names: on Linux the ALSA PCMs of ALSA's hints that
/// open for playback or capture (what cpal's own enumeration does, minus the PCMs
/// [`is_unprobed_alsa_pcm`] skips); elsewhere cpal's listing.
#[cfg(target_os = "linux")]
fn cpal_devices() -> Vec<DeviceInfo> {
    let Ok(hints) = alsa::device_name::HintIter::new_str(None, "pcm") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for hint in hints {
        let Some(name) = hint.name else { continue };
        if is_unprobed_alsa_pcm(&name) || !seen.insert(name.clone()) {
            continue;
        }
        // Non-blocking, as cpal opens them: a device in use elsewhere still lists.
        let opens = |direction| alsa::PCM::new(&name, direction, true).is_ok();
        for (kind, direction) in [
            (DeviceKind::Microphone, alsa::Direction::Capture),
            (DeviceKind::Speaker, alsa::Direction::Playback),
        ] {
            if opens(direction) {
                out.push(DeviceInfo {
                    kind,
                    id: make_id(Backend::Cpal, &name),
                    // cpal's default devices are ALSA's `default` PCM.
                    is_default: name == "default",
                    name: name.clone(),
                });
            }
        }
    }
    out
}

/// Audio devices cpal sees on its default host.
#[cfg(not(target_os = "linux"))]
fn cpal_devices() -> Vec<DeviceInfo> {
    let host = cpal::default_host();
    let default_in = host.default_input_device().and_then(|d| d.name().ok());
    let default_out = host.default_output_device().and_then(|d| d.name().ok());
    let mut out = Vec::new();
    let mut add = |kind, devices: Option<Vec<cpal::Device>>, default: &Option<String>| {
        for d in devices.unwrap_or_default() {
            let Ok(name) = d.name() else { continue };
            out.push(DeviceInfo {
                kind,
                id: make_id(Backend::Cpal, &name),
                is_default: default.as_deref() == Some(name.as_str()),
                name,
            });
        }
    };
    add(
        DeviceKind::Microphone,
        host.input_devices().ok().map(Iterator::collect),
        &default_in,
    );
    add(
        DeviceKind::Speaker,
        host.output_devices().ok().map(Iterator::collect),
        &default_out,
    );
    out
}

/// A device list change, as the watcher reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct DevicesChanged {
    /// What changed since the previous report.
    pub changes: DeviceChanges,
    /// Everything present now.
    pub devices: Vec<DeviceInfo>,
}

/// Polls the device backends on its own thread and reports every change. The first report is
/// the initial listing (everything "added"). Stops when dropped.
pub struct DeviceWatcher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DeviceWatcher {
    /// Starts polling every `interval`.
    pub fn start(
        interval: Duration,
        events: UnboundedSender<DevicesChanged>,
    ) -> std::io::Result<Self> {
        Self::start_with(interval, events, list_devices)
    }

    /// Like [`DeviceWatcher::start`] with another source of listings (tests, or a backend
    /// subset).
    pub fn start_with(
        interval: Duration,
        events: UnboundedSender<DevicesChanged>,
        list: impl Fn() -> Vec<DeviceInfo> + Send + 'static,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("device-watch".into())
            .spawn(move || {
                let mut known: Vec<DeviceInfo> = Vec::new();
                let mut first = true;
                while !flag.load(Ordering::Relaxed) {
                    let now = list();
                    let changes = diff(&known, &now);
                    if first || !changes.is_empty() {
                        debug!(?changes, "devices changed");
                        first = false;
                        let report = DevicesChanged {
                            changes,
                            devices: now.clone(),
                        };
                        if events.send(report).is_err() {
                            return;
                        }
                    }
                    known = now;
                    // Sleep in small steps so dropping the watcher does not wait a whole period.
                    let mut slept = Duration::ZERO;
                    while slept < interval && !flag.load(Ordering::Relaxed) {
                        let step = Duration::from_millis(50).min(interval - slept);
                        std::thread::sleep(step);
                        slept += step;
                    }
                }
            })?;
        Ok(DeviceWatcher {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for DeviceWatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jack_and_null_pcms_are_not_probed() {
        for name in ["jack", "null", "jack:foo"] {
            assert!(is_unprobed_alsa_pcm(name), "{name}");
        }
        for name in [
            "default",
            "pulse",
            "hw:CARD=PCH,DEV=0",
            "sysdefault:CARD=PCH",
            "jackd",
        ] {
            assert!(!is_unprobed_alsa_pcm(name), "{name}");
        }
    }

    fn dev(kind: DeviceKind, id: &str, default: bool) -> DeviceInfo {
        DeviceInfo {
            kind,
            id: id.into(),
            name: format!("{id} name"),
            is_default: default,
        }
    }

    #[test]
    fn diff_reports_added_and_removed_by_kind_and_id() {
        let mic = dev(DeviceKind::Microphone, "pulse:a", false);
        let cam = dev(DeviceKind::Camera, "v4l2:/dev/video0", true);
        let spk = dev(DeviceKind::Speaker, "pulse:a", false);
        let c = diff(&[mic.clone(), cam.clone()], &[cam.clone(), spk.clone()]);
        assert_eq!(c.added, vec![spk]);
        assert_eq!(c.removed, vec![mic]);
        assert!(diff(std::slice::from_ref(&cam), &[cam.clone(), cam.clone()]).is_empty());
        assert!(diff(&[], &[]).is_empty());
    }

    #[test]
    fn a_device_that_changes_is_reported_again() {
        let before = dev(DeviceKind::Speaker, "cpal:default", false);
        let after = dev(DeviceKind::Speaker, "cpal:default", true);
        let c = diff(std::slice::from_ref(&before), std::slice::from_ref(&after));
        assert_eq!((c.added, c.removed), (vec![after], vec![before]));
    }

    #[test]
    fn choice_prefers_remembered_then_default_then_first() {
        let list = vec![
            dev(DeviceKind::Microphone, "cpal:hw:1", false),
            dev(DeviceKind::Microphone, "cpal:default", true),
            dev(DeviceKind::Speaker, "cpal:usb", false),
        ];
        let pick = |kind, remembered| choose(&list, kind, remembered).map(|d| d.id.as_str());
        assert_eq!(
            pick(DeviceKind::Microphone, Some("cpal:hw:1")),
            Some("cpal:hw:1")
        );
        assert_eq!(
            pick(DeviceKind::Microphone, Some("cpal:gone")),
            Some("cpal:default")
        );
        // A remembered id of another kind does not count.
        assert_eq!(
            pick(DeviceKind::Microphone, Some("cpal:usb")),
            Some("cpal:default")
        );
        assert_eq!(pick(DeviceKind::Speaker, None), Some("cpal:usb"));
        assert_eq!(pick(DeviceKind::Camera, None), None);
    }

    #[test]
    fn ids_parse_back_to_backend_and_name() {
        assert_eq!(parse_id("cpal:hw:1,0"), Some((Backend::Cpal, "hw:1,0")));
        assert_eq!(
            parse_id("v4l2:/dev/video2"),
            Some((Backend::V4l2, "/dev/video2"))
        );
        assert_eq!(parse_id("pulse:"), None);
        assert_eq!(parse_id("nope:x"), None);
        assert_eq!(parse_id("plain"), None);
    }

    #[test]
    fn watcher_reports_the_first_listing_then_only_changes() {
        let state = Arc::new(std::sync::Mutex::new(vec![dev(
            DeviceKind::Camera,
            "v4l2:/dev/video0",
            true,
        )]));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let s = state.clone();
        let _w = DeviceWatcher::start_with(Duration::from_millis(20), tx, move || {
            s.lock().map(|v| v.clone()).unwrap_or_default()
        })
        .expect("thread");
        let first = rx.blocking_recv().expect("first report");
        assert_eq!(first.changes.added.len(), 1);
        state
            .lock()
            .expect("lock")
            .push(dev(DeviceKind::Microphone, "cpal:default", true));
        let next = rx.blocking_recv().expect("change");
        assert_eq!(next.changes.added[0].id, "cpal:default");
        assert!(next.changes.removed.is_empty());
        assert_eq!(next.devices.len(), 2);
        state.lock().expect("lock").clear();
        let gone = rx.blocking_recv().expect("removal");
        assert_eq!(gone.changes.removed.len(), 2);
    }
}
