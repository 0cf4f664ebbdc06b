//! Classroom media through GStreamer.
//!
//! [`Publisher`] captures (or synthesises) camera, microphone and screen, encodes them and
//! sends them through `webrtcbin`; [`Subscriber`] receives a room's tracks through
//! `webrtcbin`, decodes them and hands frames to one [`FrameSink`] interface that the desktop
//! app and headless clients share.
//!
//! Neither knows how signaling travels: they emit [`LocalSignal`]s and take the remote side's
//! SDP and candidates through methods, so the websocket code lives elsewhere (the client crate).

pub mod check;
pub mod devices;
pub mod encode;
pub mod frame;
pub mod freeze;
mod inputs;
mod keyframes;
pub mod level;
mod microphone;
mod monitor;
mod negotiate;
mod pipeline;
pub mod playback;
#[cfg(target_os = "linux")]
pub mod portal;
mod publish;
pub mod rate;
pub mod record;
mod rtp_level;
pub mod screen;
mod simulcast;
pub mod sources;
pub mod stamp;
pub mod stats;
mod subscribe;
mod window_watch;

pub use devices::{DeviceInfo, DeviceKind, DevicesChanged};
pub use encode::{CodecChoice, VideoCodec, VideoEncoder};
pub use frame::{EncodedChunk, SharedFrame, YuvMatrix};
pub use level::AudioLevel;
pub use playback::AudioOutput;
pub use publish::{PublishConfig, Publisher};
pub use record::{LOCAL_MICROPHONE, RecordChoice, Recorder, RecordingStatus, RecordingSummary};
pub use sources::{AudioInput, VideoInput};
pub use stats::{OutboundLayerStats, OutboundRtp, OutboundTrackStats, PublisherStats, TrackReport};
pub use subscribe::{
    DecodedFrame, EncodedFrame, FrameSink, InboundRtpStats, Subscriber, SubscriberStats, TrackStats,
};

use classroom_protocol::{PublishTrack, Source};

/// Something the local peer connection wants sent to the server.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum LocalSignal {
    /// A publish offer, with the source carried by each sending m-line's mid.
    Offer {
        /// SDP text.
        sdp: String,
        /// Mid, source and simulcast layers per track, as the server is told.
        tracks: Vec<PublishTrack>,
    },
    /// An answer to the server's subscribe offer.
    Answer {
        /// SDP text.
        sdp: String,
    },
    /// A local ICE candidate.
    Candidate {
        /// m-line index.
        mline: u32,
        /// `candidate:...` text.
        candidate: String,
    },
    /// The pipeline failed; the track or connection is gone.
    Failed {
        /// What GStreamer said.
        message: String,
    },
    /// The device or encoder behind one published track failed (unplugged, cannot be
    /// opened, encoder missing). The other tracks carry on; a video track keeps sending a
    /// "camera unavailable" picture until [`Publisher::set_camera`] brings a device back.
    TrackFailed {
        /// Which track.
        source: Source,
        /// What went wrong, for people.
        message: String,
    },
    /// A failed track has a working device again.
    TrackRecovered {
        /// Which track.
        source: Source,
    },
}

/// Errors from building or driving media pipelines.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// GStreamer could not be initialised.
    #[error("GStreamer init failed: {0}")]
    Init(String),
    /// A GStreamer element is not installed.
    #[error("GStreamer element {0:?} is missing; install the plugin package that provides it")]
    MissingElement(String),
    /// A pipeline could not be built or started.
    #[error("pipeline: {0}")]
    Pipeline(String),
    /// Remote SDP could not be parsed or applied.
    #[error("bad remote SDP: {0}")]
    BadSdp(String),
    /// A capture or playback device is missing, refused or failed.
    #[error("device: {0}")]
    Device(String),
    /// The person cancelled screen sharing in the desktop's dialog.
    #[error("screen sharing was cancelled")]
    ShareCancelled,
    /// A recording could not be started, written or finished.
    #[error("recording: {0}")]
    Recording(String),
}

impl From<gstreamer::glib::BoolError> for MediaError {
    fn from(e: gstreamer::glib::BoolError) -> Self {
        MediaError::Pipeline(e.to_string())
    }
}

impl From<gstreamer::glib::Error> for MediaError {
    fn from(e: gstreamer::glib::Error) -> Self {
        MediaError::Pipeline(e.to_string())
    }
}

impl From<gstreamer::StateChangeError> for MediaError {
    fn from(e: gstreamer::StateChangeError) -> Self {
        MediaError::Pipeline(e.to_string())
    }
}

/// What a diagnostics report says about GStreamer on this computer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    /// `GStreamer 1.22.0`, or why GStreamer could not start.
    pub version: Result<String, String>,
    /// Each element a class may use and whether it is installed.
    pub elements: Vec<(&'static str, bool)>,
}

/// Elements a class cannot run without: [`init`] refuses to start when one is missing.
const REQUIRED_ELEMENTS: &[&str] = &[
    "webrtcbin",
    "nicesrc",
    "vp8enc",
    "vp8dec",
    "rtpvp8pay",
    "rtpvp8depay",
    "opusenc",
    "opusdec",
    "rtpopuspay",
    "rtpopusdepay",
    "videotestsrc",
    "audiotestsrc",
    "appsink",
];

/// Elements used where present (other encoders and decoders, capture sources, echo
/// cancellation), reported by [`inventory`] after the required ones.
const OPTIONAL_ELEMENTS: &[&str] = &[
    "x264enc",
    "openh264enc",
    "avdec_h264",
    "v4l2src",
    "pulsesrc",
    "pipewiresrc",
    "ximagesrc",
    "webrtcdsp",
];

/// GStreamer's version and which of the elements a class uses are installed.
pub fn inventory() -> Inventory {
    let version = gstreamer::init()
        .map(|()| gstreamer::version_string().to_string())
        .map_err(|e| e.to_string());
    let elements = REQUIRED_ELEMENTS
        .iter()
        .chain(OPTIONAL_ELEMENTS)
        .map(|&name| {
            (
                name,
                version.is_ok() && gstreamer::ElementFactory::find(name).is_some(),
            )
        })
        .collect();
    Inventory { version, elements }
}

/// Does ahead of a class what its first connection would otherwise wait for: GStreamer's
/// initialisation, loading the plugins a class uses, and above all the process's DTLS
/// certificate. GStreamer's DTLS elements make one RSA-2048 key per process, on the first
/// transport a `webrtcbin` sets up: 0.1-0.4 s on a quiet two-core machine and ~0.8 s beside a
/// painting window, spent between a student's join and the answer to the class's offer (the
/// app's `bench app` split showed it as most of join-to-first-frame). Blocking: call it on a
/// thread of its own as the app starts (the app does, in its `setup`).
pub fn prewarm() -> Result<(), MediaError> {
    init()?;
    // The key is made in the element's init and kept for the process, so creating one
    // decoder is enough; dropping it keeps the key.
    for name in ["dtlsdec", "webrtcbin", "rtpvp8depay", "vp8dec", "opusdec"] {
        gstreamer::ElementFactory::make(name)
            .build()
            .map_err(|_| MediaError::MissingElement(name.into()))?;
    }
    Ok(())
}

/// Initialises GStreamer once and checks that the elements this crate needs exist.
pub fn init() -> Result<(), MediaError> {
    gstreamer::init().map_err(|e| MediaError::Init(e.to_string()))?;
    for &name in REQUIRED_ELEMENTS {
        if gstreamer::ElementFactory::find(name).is_none() {
            return Err(MediaError::MissingElement(name.into()));
        }
    }
    Ok(())
}
