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
}

/// An audio input.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AudioInput {
    /// A sine tone.
    Test,
    /// The system's default microphone through PulseAudio/PipeWire.
    Pulse,
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
    pub fn screen_or_test() -> Self {
        match std::env::var("DISPLAY") {
            Ok(display)
                if !display.is_empty() && gst::ElementFactory::find("ximagesrc").is_some() =>
            {
                VideoInput::X11Screen { display }
            }
            _ => VideoInput::Test {
                pattern: "smpte".into(),
            },
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

    pub(crate) fn describe(&self) -> &'static str {
        match self {
            AudioInput::Test => "audiotestsrc is-live=true wave=sine freq=440 volume=0.2",
            AudioInput::Pulse => "pulsesrc",
        }
    }
}

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
