//! The check before a class, for the page's check dialog: the chosen camera previewed, the
//! chosen microphone metered, a test sound on the chosen speaker, and the connection to the
//! class server measured (or, for a teacher hosting, the network students will come over).
//!
//! The same devices a class would open ([`crate::devices::DeviceController::pick`]), through
//! the same inputs; the same signaling connection a join would open
//! ([`classroom_client::probe`]). A class takes the devices over: joining stops the check.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use classroom_client::ClientError;
use classroom_media::check::{DeviceCheck, PREVIEW_TRACK};
use classroom_media::{AudioInput, AudioOutput};
use serde::Serialize;
use ts_rs::TS;

use crate::AppError;
use crate::devices::Picked;
use crate::video::FrameStore;

/// The JPEG quality a camera photo is handed to the page at: the quality handed-in photos are
/// kept at, since a clean JPEG of at most 2,560 px is handed in as it is, not written again.
const PHOTO_QUALITY: u8 = homework::ingest::JPEG_QUALITY;

/// Pings timed per connection check.
pub const PROBE_ROUNDS: usize = 5;

/// The least time between two connection checks: the page asks on open and on a click, and a
/// page that asks in a loop must not turn the app into a port scanner.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// The longest server address a join or a connection check takes, in characters: a page
/// cannot hand the app an address of any length.
pub const MAX_SERVER_CHARS: usize = 2048;

/// What the check dialog shows about the devices, polled while it is open.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DeviceCheckView {
    /// The preview's track for `video_frame` (`None`: no camera preview running).
    pub preview_track: Option<String>,
    /// Frames the camera delivered so far.
    #[ts(type = "number")]
    pub camera_frames: u64,
    /// No camera was found: the preview is the test picture a class would send.
    pub camera_is_test: bool,
    /// Why the camera stopped or did not start.
    pub camera_error: Option<String>,
    /// The microphone's level now, in dBFS (`None`: no microphone check running).
    pub microphone_db: Option<f64>,
    /// The loudest peak heard since the check started, in dBFS.
    pub microphone_loudest_db: f64,
    /// No microphone was found: the meter hears the test tone a class would send.
    pub microphone_is_test: bool,
    /// Why the microphone stopped or did not start.
    pub microphone_error: Option<String>,
    /// Whether a speaker was found for the test sound.
    pub has_speaker: bool,
}

/// How good the connection to the class server is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum Verdict {
    /// Fast and steady: video and speech will flow.
    Good,
    /// Usable, with some delay or unevenness.
    Fair,
    /// Far or uneven: expect delay and breaks.
    Poor,
}

/// What the connection check found.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "kind"
)]
pub enum NetworkCheck {
    /// The class server was reached.
    Server {
        /// What it means for a class.
        verdict: Verdict,
        /// Connecting (TCP, TLS, websocket), in milliseconds.
        connect_ms: f64,
        /// The middle round trip, in milliseconds.
        round_trip_ms: f64,
        /// Slowest minus fastest round trip, in milliseconds.
        jitter_ms: f64,
        /// Encrypted (`wss://`).
        secure: bool,
    },
    /// A teacher hosting: where students on the school network will reach this computer.
    Hosting {
        /// The addresses students can use (empty: only this computer can join).
        addresses: Vec<String>,
        /// The class's port.
        port: u16,
        /// The port is taken (another program, another class of this app).
        port_taken: bool,
    },
}

/// Good up to 100 ms and 50 ms of spread, fair up to 250 ms and 150 ms, poor beyond. A
/// class across an ocean (150 ms round trip) is fair: it works, with delay people notice.
pub fn verdict(round_trip_ms: f64, jitter_ms: f64) -> Verdict {
    if round_trip_ms <= 100.0 && jitter_ms <= 50.0 {
        Verdict::Good
    } else if round_trip_ms <= 250.0 && jitter_ms <= 150.0 {
        Verdict::Fair
    } else {
        Verdict::Poor
    }
}

/// A failed connection check in the words the page shows. Whether nothing listens, a
/// firewall drops the packets or the name does not resolve, the page hears the same thing:
/// the check must not tell a page what is listening where.
pub fn probe_error(e: ClientError) -> AppError {
    match e {
        ClientError::PinMismatch { .. } => AppError::Connection(
            "The class server's certificate is not the one in the invite: ask for a new invite."
                .into(),
        ),
        ClientError::Insecure { .. } | ClientError::InvalidUrl(_) => AppError::InvalidServer(
            "This address cannot be checked: a server on another computer needs wss://.".into(),
        ),
        // The page's sentence for the kind ("Could not reach the class server.") says all
        // there is to say; English words after it would only repeat it.
        _ => AppError::Connection(String::new()),
    }
}

struct Running {
    check: Arc<DeviceCheck>,
    camera_is_test: bool,
    microphone_is_test: bool,
    has_speaker: bool,
}

/// The running check, if any, and the connection checks' pace.
#[derive(Default)]
pub struct CheckController {
    running: Mutex<Option<Running>>,
    /// The preview's frames, which `video_frame` serves under [`PREVIEW_TRACK`].
    pub video: Arc<FrameStore>,
    last_probe: Mutex<Option<Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl CheckController {
    /// Starts previewing the camera and metering the microphone `picked` names (again, if
    /// already running: a device chosen meanwhile is used).
    pub fn start(&self, picked: &Picked) -> Result<DeviceCheckView, AppError> {
        self.run(picked, true, |video| {
            DeviceCheck::start(Some(&picked.camera), Some(&picked.microphone), video)
        })
    }

    /// Starts the camera `picked` names to take homework photos with: previewed as in the
    /// check (under the view's `previewTrack`), at the photo's size
    /// ([`classroom_media::check::PHOTO`]); no microphone. Status and stop as the check's.
    pub fn start_photo(&self, picked: &Picked) -> Result<DeviceCheckView, AppError> {
        self.run(picked, false, |video| {
            DeviceCheck::start_photo(&picked.camera, video)
        })
    }

    /// Stops what runs, starts `start` with the preview's frame store and keeps it as the
    /// running check (with the microphone, or the camera alone).
    fn run(
        &self,
        picked: &Picked,
        microphone: bool,
        start: impl FnOnce(Arc<FrameStore>) -> Result<DeviceCheck, classroom_media::MediaError>,
    ) -> Result<DeviceCheckView, AppError> {
        self.stop();
        let check = start(self.video.clone()).map_err(|e| AppError::Media(e.to_string()))?;
        *lock(&self.running) = Some(Running {
            check: Arc::new(check),
            camera_is_test: picked.camera.is_test(),
            microphone_is_test: microphone && matches!(picked.microphone, AudioInput::Test),
            has_speaker: picked.speaker.is_some(),
        });
        self.view()
    }

    /// A photo from the camera started by [`CheckController::start_photo`], as a JPEG (the
    /// page shows it, then hands it in like a photo from a file: made upright, scaled and
    /// stripped there). Waits up to 2 s for the camera's first picture: not on a runtime
    /// thread.
    pub fn take_photo(&self) -> Result<Vec<u8>, AppError> {
        let check = lock(&self.running)
            .as_ref()
            .map(|r| r.check.clone())
            .ok_or_else(|| AppError::Invalid("The camera is not on.".into()))?;
        let still = check
            .take_photo()
            .map_err(|e| AppError::Media(e.to_string()))?;
        let mut jpeg = Vec::new();
        homework::image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, PHOTO_QUALITY)
            .encode(
                &still.rgb,
                still.width,
                still.height,
                homework::image::ExtendedColorType::Rgb8,
            )
            .map_err(|e| AppError::Internal(format!("the photo could not be written: {e}")))?;
        Ok(jpeg)
    }

    /// What the check shows now.
    pub fn view(&self) -> Result<DeviceCheckView, AppError> {
        let running = lock(&self.running);
        let Some(r) = running.as_ref() else {
            return Err(AppError::Invalid("No device check is running.".into()));
        };
        let status = r.check.status();
        Ok(DeviceCheckView {
            preview_track: status
                .camera_frames
                .filter(|_| status.camera_error.is_none())
                .map(|_| PREVIEW_TRACK.to_owned()),
            camera_frames: status.camera_frames.unwrap_or(0),
            camera_is_test: r.camera_is_test,
            camera_error: status.camera_error,
            microphone_db: status.microphone.map(|m| m.now.rms_db),
            microphone_loudest_db: status
                .microphone
                .map_or(classroom_media::level::FLOOR_DB, |m| m.loudest_db),
            microphone_is_test: r.microphone_is_test,
            microphone_error: status.microphone_error,
            has_speaker: r.has_speaker,
        })
    }

    /// Stops the preview and the meter (closing the dialog, joining a class).
    pub fn stop(&self) {
        let taken = lock(&self.running).take();
        drop(taken);
        self.video.clear();
    }

    /// Refuses a connection check sooner than [`PROBE_INTERVAL`] after the last one.
    pub fn pace_probe(&self) -> Result<(), AppError> {
        let mut last = lock(&self.last_probe);
        if last.is_some_and(|at| at.elapsed() < PROBE_INTERVAL) {
            return Err(AppError::Invalid(
                "A connection check ran a moment ago; try again in a second.".into(),
            ));
        }
        *last = Some(Instant::now());
        Ok(())
    }
}

/// The speaker `picked` names as an output, or why there is none.
pub fn speaker_output(picked: &Picked) -> Result<AudioOutput, AppError> {
    picked
        .speaker
        .as_ref()
        .map(|id| AudioOutput::Device { id: id.clone() })
        .ok_or_else(|| AppError::UnknownDevice("No speaker was found on this computer.".into()))
}

/// The measured probe as the page shows it.
pub fn server_check(probe: &classroom_client::probe::Probe) -> NetworkCheck {
    let (rtt, jitter) = (probe.median_ms(), probe.jitter_ms());
    NetworkCheck::Server {
        verdict: verdict(rtt, jitter),
        connect_ms: probe.connect_ms,
        round_trip_ms: rtt,
        jitter_ms: jitter,
        secure: probe.secure,
    }
}

/// Where students on the school network would reach a class hosted here, and whether its
/// port is free.
pub fn hosting_check(port: u16) -> NetworkCheck {
    let addresses = classroom_discovery::interfaces::lan_addresses()
        .unwrap_or_default()
        .into_iter()
        .map(|a| a.ip.to_string())
        .collect();
    // The class listens on every IPv4 address: a program holding the port anywhere stops it.
    let port_taken = std::net::TcpListener::bind(("0.0.0.0", port)).is_err();
    NetworkCheck::Hosting {
        addresses,
        port,
        port_taken,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_delay_and_spread() {
        assert_eq!(verdict(3.0, 1.0), Verdict::Good);
        assert_eq!(verdict(100.0, 50.0), Verdict::Good);
        assert_eq!(verdict(90.0, 80.0), Verdict::Fair);
        assert_eq!(verdict(150.0, 20.0), Verdict::Fair);
        assert_eq!(verdict(260.0, 10.0), Verdict::Poor);
        assert_eq!(verdict(50.0, 400.0), Verdict::Poor);
    }

    #[test]
    fn a_failed_check_never_says_what_listens_where() {
        let refused = probe_error(ClientError::Connect(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "refused",
        )));
        let timed_out = probe_error(ClientError::Connect(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "timed out",
        )));
        assert_eq!(refused.to_string(), timed_out.to_string());
        assert!(matches!(refused, AppError::Connection(_)));
        let tls = probe_error(ClientError::Tls("unknown issuer".into()));
        assert_eq!(tls.to_string(), refused.to_string());
        assert_eq!(refused.to_string(), "", "the page's sentence says it");
    }

    #[test]
    fn connection_checks_are_paced() {
        let c = CheckController::default();
        c.pace_probe().expect("test setup");
        assert!(matches!(c.pace_probe(), Err(AppError::Invalid(_))));
    }

    #[test]
    fn a_taken_port_is_reported() {
        let held = std::net::TcpListener::bind(("0.0.0.0", 0)).expect("test setup");
        let port = held.local_addr().expect("test setup").port();
        match hosting_check(port) {
            NetworkCheck::Hosting { port_taken, .. } => assert!(port_taken),
            other => panic!("{other:?}"),
        }
        drop(held);
        match hosting_check(port) {
            NetworkCheck::Hosting { port_taken, .. } => assert!(!port_taken),
            other => panic!("{other:?}"),
        }
    }
}
