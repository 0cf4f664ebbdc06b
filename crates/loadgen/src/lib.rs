//! SFU load generator: synthetic str0m peers that publish a real VP8 + Opus clip and subscribe
//! in any number, against our server or Janus's VideoRoom. It measures per-subscriber packets,
//! loss (sequence gaps), added forwarding latency (publisher send to subscriber receive, matched
//! by payload), and the server process's CPU per forwarded packet and memory per subscriber
//! from /proc.
//!
//! All peers run as tasks on one tokio thread so that the load generator takes at most one
//! core of the machine it shares with the server.

pub mod clip;
pub mod control;
pub mod host;
pub mod peer;
pub mod procfs;
pub mod run;
pub mod signal;
pub mod stats;

/// The committed VP8 clip (assets/README.md says how it was made).
pub const VIDEO_ASSET: &str = "clip-720p30-vp8.ivf";
/// The committed Opus clip.
pub const AUDIO_ASSET: &str = "clip-opus.ogg";

/// Where the committed assets are when running from the source tree.
pub fn default_asset(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets")
        .join(name)
}

/// What can go wrong in a load run.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A socket operation failed.
    #[error("socket: {0}")]
    Socket(#[from] std::io::Error),
    /// The media clip is not what it must be.
    #[error("bad clip: {0}")]
    BadClip(String),
    /// The WebRTC stack refused something.
    #[error("webrtc: {0}")]
    Rtc(String),
    /// Signaling failed or the server refused.
    #[error("signaling: {0}")]
    Signaling(String),
    /// /proc could not be read or parsed.
    #[error("proc: {0}")]
    Proc(String),
    /// The run could not get going (no publisher, no subscriber ever received media).
    #[error("{0}")]
    Run(String),
}
