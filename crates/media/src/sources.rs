//! Where media comes from: real devices where the machine has them, synthetic sources
//! (moving test patterns, a tone) where it does not, so a class runs on any machine.

use gstreamer as gst;
use gstreamer::prelude::*;

/// A video input.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum VideoInput {
    /// A moving GStreamer test pattern (`videotestsrc pattern=...`), with a clock overlay
    /// so every frame differs.
    Test {
        /// `videotestsrc` pattern name, e.g. `ball`, `smpte`.
        pattern: String,
    },
    /// A V4L2 camera device node, e.g. `/dev/video0`.
    V4l2 {
        /// Device path.
        device: String,
    },
    /// The X11 screen (Linux; Wayland's portal arrives with the media issue).
    X11Screen {
        /// X display, e.g. `:0`.
        display: String,
    },
    /// One X11 window (from [`crate::screen::list_windows`]).
    X11Window {
        /// X display, e.g. `:0`.
        display: String,
        /// The window's id.
        xid: u64,
    },
    /// A screen or window the person chose in the desktop portal's dialog (Wayland; from
    /// [`crate::portal::request_screen`]). Holding it keeps the portal session open.
    #[cfg(target_os = "linux")]
    Portal(crate::portal::PortalStream),
}

/// An audio input.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AudioInput {
    /// A sine tone.
    Test,
    /// The system's default microphone through PulseAudio/PipeWire.
    Pulse,
    /// A device from [`crate::devices::list_devices`], by id: `cpal:…` is captured with cpal
    /// and fed to GStreamer through `appsrc`, `pulse:…` with `pulsesrc`.
    Device {
        /// The device id.
        id: String,
    },
}

impl VideoInput {
    /// The first camera the device monitor finds, else a test pattern.
    pub fn camera_or_test() -> Self {
        first_device("Video/Source")
            .and_then(|d| {
                d.properties()
                    .and_then(|p| p.get::<String>("device.path").ok())
            })
            .map(|device| VideoInput::V4l2 { device })
            .unwrap_or(VideoInput::Test {
                pattern: "ball".into(),
            })
    }

    /// The X11 screen when a display is set (and not a test run), else a test pattern that
    /// looks like slides.
    ///
    /// Under Wayland the test pattern too: XWayland's display shows only X11 windows, not the
    /// desktop, and the desktop portal ([`crate::portal::request_screen`]) asks the person in
    /// a dialog, which is the caller's to start.
    pub fn screen_or_test() -> Self {
        match crate::screen::display_server() {
            crate::screen::DisplayServer::X11 { display }
                if gst::ElementFactory::find("ximagesrc").is_some() =>
            {
                VideoInput::X11Screen { display }
            }
            _ => VideoInput::Test {
                pattern: "smpte".into(),
            },
        }
    }

    /// The camera with device id `id` (`v4l2:/dev/videoN`), if it is one.
    pub fn from_device_id(id: &str) -> Option<Self> {
        match crate::devices::parse_id(id)? {
            (crate::devices::Backend::V4l2, path) => Some(VideoInput::V4l2 {
                device: path.to_owned(),
            }),
            _ => None,
        }
    }

    /// True for synthetic input.
    pub fn is_test(&self) -> bool {
        matches!(self, VideoInput::Test { .. })
    }

    /// gst-launch description of the raw video source, scaled to `w`x`h` at `fps`.
    pub(crate) fn describe(&self, w: u32, h: u32, fps: u32) -> String {
        let caps = format!("video/x-raw,width={w},height={h},framerate={fps}/1");
        match self {
            VideoInput::Test { pattern } => format!(
                "videotestsrc is-live=true pattern={pattern} ! {caps} ! timeoverlay font-desc=\"Sans 24\" ! videoconvert"
            ),
            VideoInput::V4l2 { device } => format!(
                "v4l2src device={device} ! decodebin ! videoconvert ! videoscale ! videorate ! {caps}"
            ),
            VideoInput::X11Screen { display } => format!(
                "ximagesrc display-name={display} use-damage=false show-pointer=true ! videoconvert ! videoscale ! videorate ! {caps}"
            ),
            // The window's area of the root window, never `xid=`: see
            // `crate::screen::window_area`. A window keeps its aspect when scaled: the slides
            // must not be stretched. Gone or hidden since the caller checked: black, until
            // the window watcher reports it.
            VideoInput::X11Window { display, xid } => {
                match crate::screen::window_area(display, *xid).filter(|a| a.viewable) {
                    Some(a) => format!(
                        "ximagesrc display-name={display} startx={} starty={} endx={} endy={} \
                         use-damage=false show-pointer=true ! videoconvert \
                         ! videoscale add-borders=true ! videorate ! {caps}",
                        a.x,
                        a.y,
                        a.x + a.width - 1,
                        a.y + a.height - 1
                    ),
                    None => format!("videotestsrc is-live=true pattern=black ! {caps}"),
                }
            }
            // A window's size follows the window: scaled with borders, like an X11 window.
            // Frames start at the first one captured, not at the start of the pipeline's time
            // (this input may join a class long running).
            #[cfg(target_os = "linux")]
            VideoInput::Portal(stream) => format!(
                "{} ! videoconvert ! videoscale add-borders=true ! videorate skip-to-first=true ! {caps}",
                stream.describe(1000 / fps.max(1))
            ),
        }
    }
}

impl AudioInput {
    /// The default microphone when the device monitor sees one, else a tone.
    pub fn microphone_or_test() -> Self {
        if first_device("Audio/Source").is_some() && gst::ElementFactory::find("pulsesrc").is_some()
        {
            AudioInput::Pulse
        } else {
            AudioInput::Test
        }
    }

    /// gst-launch description of the raw audio source. A cpal device is an `appsrc` that
    /// the publisher feeds (see `microphone.rs`).
    pub(crate) fn describe(&self) -> String {
        match self {
            AudioInput::Test => "audiotestsrc is-live=true wave=sine freq=440 volume=0.2".into(),
            AudioInput::Pulse => "pulsesrc".into(),
            AudioInput::Device { id } => match crate::devices::parse_id(id) {
                Some((crate::devices::Backend::Pulse, name)) => {
                    format!("pulsesrc device=\"{}\"", name.replace('"', ""))
                }
                // cpal (and anything unknown, which then fails to open with a clear error).
                _ => format!(
                    "appsrc name={MIC_APPSRC} is-live=true do-timestamp=true format=time max-bytes=96000 block=false"
                ),
            },
        }
    }

    /// The cpal device name, when this input is captured with cpal.
    pub(crate) fn cpal_name(&self) -> Option<Option<String>> {
        match self {
            AudioInput::Device { id } => match crate::devices::parse_id(id) {
                Some((crate::devices::Backend::Pulse, _)) => None,
                Some((crate::devices::Backend::Cpal, name)) => Some(Some(name.to_owned())),
                _ => Some(Some(id.clone())),
            },
            _ => None,
        }
    }

    /// Real microphones get echo cancellation, noise suppression and gain control; a test
    /// tone would only be mangled by them.
    pub(crate) fn is_real(&self) -> bool {
        !matches!(self, AudioInput::Test)
    }
}

/// Name of the `appsrc` a cpal microphone feeds.
pub(crate) const MIC_APPSRC: &str = "mic-appsrc";

fn first_device(class: &str) -> Option<gst::Device> {
    let monitor = gst::DeviceMonitor::new();
    monitor.add_filter(Some(class), None);
    if monitor.start().is_err() {
        return None;
    }
    let device = monitor.devices().into_iter().next();
    monitor.stop();
    device
}
