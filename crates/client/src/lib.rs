//! A classroom participant: one websocket to the server plus the media pipelines, glued
//! together. The desktop app and headless clients (the demo, tests, load tools) all join a
//! class through [`connect`]. A teacher's app hosts its class with [`host::host`]; students
//! find classes nearby with [`discovery`].

pub mod host;
/// Classes on the local network (announce, browse, reach): `classroom-discovery`.
pub use classroom_discovery as discovery;

mod connection;
pub mod library;
pub mod probe;
mod tls;

use std::sync::Arc;
use std::time::Instant;

use classroom_media::{AudioOutput, FrameSink, PublishConfig, Publisher, SubscriberStats};
use classroom_protocol::{ClassEvent, ClassRequest, ClientMessage, ErrorCode, Role, TrackInfo};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;

use connection::Control;
pub use connection::RECONNECT_FOR;

/// How to join.
#[derive(Clone)]
pub struct JoinOptions {
    /// Server websocket URL, e.g. `ws://127.0.0.1:8443/ws`.
    pub url: String,
    /// Access token: a personal token, an invite token, or the class's invite secret.
    pub token: String,
    /// Room (class) name.
    pub room: String,
    /// Join by the class's short code instead of `token`/`room` (the server puts the join
    /// in the lobby and gives a personal token once admitted).
    pub code: Option<String>,
    /// Name shown to others.
    pub display_name: String,
    /// Role asked for.
    pub role: Role,
    /// What to publish, if anything.
    pub publish: Option<PublishConfig>,
    /// Whether to receive the room's tracks.
    pub subscribe: bool,
    /// Where decoded video frames go.
    pub frame_sink: Option<Arc<dyn FrameSink>>,
    /// Play received audio on the speakers.
    pub play_audio: bool,
    /// Which speaker (a device id from `classroom_media::devices`) when `play_audio` is set;
    /// `None` is the system default.
    pub speaker: Option<String>,
    /// For `wss://`: accept exactly the server certificate whose SHA-256 this is (the
    /// teacher's self-signed certificate, from the invite; see
    /// `classroom_protocol::fingerprint`), host name unchecked. `None`: verify against the
    /// usual roots and [`JoinOptions::extra_roots`].
    pub pin: Option<[u8; 32]>,
    /// Certificate authorities (DER) trusted besides the built-in roots when nothing is
    /// pinned, e.g. a school's own.
    pub extra_roots: Vec<Vec<u8>>,
    /// Allow `ws://` to a host that is not this computer (signaling and tokens then travel
    /// in clear). Off: such a URL is refused with [`ClientError::Insecure`].
    pub allow_insecure: bool,
}

impl JoinOptions {
    /// Options for joining `room` at `url`: teachers publish nothing and receive nothing until
    /// told otherwise, everyone else receives the room's tracks. Adjust the fields as needed.
    pub fn new(url: &str, token: &str, room: &str, display_name: &str, role: Role) -> Self {
        JoinOptions {
            url: url.to_owned(),
            token: token.to_owned(),
            room: room.to_owned(),
            display_name: display_name.to_owned(),
            role,
            code: None,
            publish: None,
            subscribe: role != Role::Teacher,
            frame_sink: None,
            play_audio: false,
            speaker: None,
            pin: None,
            extra_roots: Vec::new(),
            allow_insecure: false,
        }
    }
}

/// What happens in the session, for the app to show.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// The server accepted the join.
    Joined {
        /// Our participant id (stable across reconnects).
        participant_id: String,
        /// The room joined (a code join learns it here).
        room: String,
        /// Who we are to the class (the token's subject), when the server says.
        identity: Option<String>,
        /// A personal token the server issued for an invite or code join: what a later
        /// join (a restart of the app during the class) uses.
        token: Option<String>,
    },
    /// The connection was lost; the session is trying again (the class keeps our place for
    /// [`RECONNECT_FOR`]).
    Reconnecting {
        /// 1 for the first attempt.
        attempt: u32,
        /// Why the connection was lost.
        reason: String,
    },
    /// Back in the class after a loss, as the same participant.
    Reconnected {
        /// Our participant id (unchanged).
        participant_id: String,
    },
    /// Something about the class: standing, lists, chat, roll call, polls, timer.
    Class(Box<ClassEvent>),
    /// Somebody started publishing.
    TrackPublished(TrackInfo),
    /// A track ended.
    TrackUnpublished(String),
    /// The server refused something we sent.
    ServerError {
        /// Why, machine-readable.
        code: ErrorCode,
        /// Why, for people.
        message: String,
    },
    /// A media pipeline failed.
    MediaFailed(String),
    /// The participant heard most in the room changed (`None`: the room went quiet).
    ActiveSpeaker {
        /// Who is speaking.
        participant_id: Option<String>,
        /// Their smoothed level, dBov.
        level_dbov: i8,
    },
    /// The device or encoder behind one of our published tracks failed (no camera,
    /// permission denied, unplugged, encoder missing). The other tracks carry on; the track
    /// sends a stand-in until a device is chosen again.
    TrackFailed {
        /// Which track.
        source: classroom_protocol::Source,
        /// Why, for people.
        message: String,
    },
    /// A failed track has its device back.
    TrackRecovered(classroom_protocol::Source),
    /// The session ended.
    Closed {
        /// Why, in English (for logs, and for a cause with no words of its own).
        reason: String,
        /// Why, for the app to say in the person's language.
        cause: EndCause,
    },
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndCause {
    /// This app left.
    Left,
    /// The server closed it, with the cause it named (`None`: a server that names none).
    Server(Option<classroom_protocol::ByeCause>),
    /// The server refused us for good: its code (removed, not let in, access expired, ...).
    Refused(ErrorCode),
    /// The connection was lost and could not be made again.
    Lost,
}

/// Errors while joining or in a session.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The websocket could not be opened or broke.
    #[error("signaling connection: {0}")]
    Signaling(#[from] tokio_tungstenite::tungstenite::Error),
    /// Media could not start.
    #[error(transparent)]
    Media(#[from] classroom_media::MediaError),
    /// The server URL cannot be used.
    #[error("server URL {0}")]
    InvalidUrl(String),
    /// `ws://` to a host that is not this computer, without `allow_insecure`.
    #[error(
        "refusing unencrypted ws:// to {host}: signaling and tokens would travel in clear; use wss:// (or allow_insecure)"
    )]
    Insecure {
        /// The host named.
        host: String,
    },
    /// The TCP connection to the server could not be made.
    #[error("cannot reach the server: {0}")]
    Connect(std::io::Error),
    /// The server's certificate is not the pinned one: not the class's server (or a
    /// changed certificate, e.g. the teacher restarted the app: ask for a new invite).
    #[error(
        "the server's certificate (SHA-256 {actual}) is not the pinned one ({expected})",
        actual = classroom_protocol::fingerprint::to_hex(actual),
        expected = classroom_protocol::fingerprint::to_hex(expected)
    )]
    PinMismatch {
        /// The pin.
        expected: [u8; 32],
        /// What the server presented.
        actual: [u8; 32],
    },
    /// The TLS handshake failed (unknown authority, wrong host name, ...).
    #[error("TLS: {0}")]
    Tls(String),
}

/// A joined (or joining) class session. Dropping it leaves the class.
pub struct Session {
    started: Instant,
    slots: connection::Slots,
    control: UnboundedSender<Control>,
    task: Option<JoinHandle<()>>,
}

impl Drop for Session {
    fn drop(&mut self) {
        // Leaving is what dropping means; the session task then closes the websocket and
        // stops the pipelines. A second Leave after `leave()` finds the task gone: harmless.
        let _ = self.control.send(Control::Leave);
    }
}

/// Sends class requests on a session (see [`Session::class_sender`]).
#[derive(Clone)]
pub struct ClassSender(UnboundedSender<Control>);

impl ClassSender {
    /// Sends `request` to the class (dropped if the session has ended).
    pub fn class(&self, request: ClassRequest) {
        let _ = self.0.send(Control::Send(ClientMessage::Class(request)));
    }
}

impl std::fmt::Debug for ClassSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClassSender")
    }
}

impl Session {
    /// When [`connect`] was called: the zero for join-to-first-frame times.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Receive counters for every track so far (empty when not subscribing).
    pub fn stats(&self) -> SubscriberStats {
        let sub = self
            .slots
            .subscriber
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        sub.map(|s| s.stats()).unwrap_or_default()
    }

    /// Records what this session receives into `recorder` (see [`classroom_media::Recorder`]),
    /// through reconnects, until [`Session::stop_recording`].
    pub fn record(&self, recorder: Arc<classroom_media::Recorder>) {
        self.slots.set_recorder(Some(recorder));
    }

    /// The recording being fed, if any.
    pub fn recorder(&self) -> Option<Arc<classroom_media::Recorder>> {
        self.slots.recorder()
    }

    /// Stops feeding the recording, and gives it back to be finished
    /// ([`classroom_media::Recorder::finish`], which waits for the file to be written out).
    pub fn stop_recording(&self) -> Option<Arc<classroom_media::Recorder>> {
        let recorder = self.slots.recorder()?;
        self.slots.set_recorder(None);
        Some(recorder)
    }

    /// Mutes or unmutes this participant's microphone (silence keeps flowing; nothing is
    /// renegotiated).
    pub fn set_microphone_muted(&self, muted: bool) -> Result<(), ClientError> {
        Ok(self.publisher()?.set_microphone_muted(muted)?)
    }

    /// Switches the camera mid-class, or brings a failed one back; nothing is renegotiated.
    pub fn set_camera(&self, input: &classroom_media::VideoInput) -> Result<(), ClientError> {
        Ok(self.publisher()?.set_camera(input)?)
    }

    /// Switches what the shared screen track shows (e.g. a new portal share after the desktop
    /// ended the last one); nothing is renegotiated.
    pub fn set_screen(&self, input: &classroom_media::VideoInput) -> Result<(), ClientError> {
        Ok(self.publisher()?.set_screen(input)?)
    }

    /// Switches the microphone mid-class, or brings a failed one back; mute is kept.
    pub fn set_microphone(&self, input: &classroom_media::AudioInput) -> Result<(), ClientError> {
        Ok(self.publisher()?.set_microphone(input)?)
    }

    /// The microphone's input level (cpal microphones only), for the app's meter.
    pub fn microphone_level(&self) -> Option<classroom_media::AudioLevel> {
        self.publisher().ok()?.microphone_level()
    }

    /// Starts sharing the screen mid-class (its own track; the camera carries on).
    pub fn share_screen(
        &self,
        input: &classroom_media::VideoInput,
        mode: (u32, u32, u32),
        bitrate: u32,
    ) -> Result<(), ClientError> {
        Ok(self.publisher()?.share_screen(input, mode, bitrate)?)
    }

    /// Stops sharing the screen; the track ends for everyone, the camera carries on.
    pub fn stop_screen_share(&self) -> Result<(), ClientError> {
        Ok(self.publisher()?.stop_screen_share()?)
    }

    /// Tells the server how large this client shows a video track, so it sends the simulcast
    /// layer that fills it (0x0: the track is hidden; nothing is sent).
    pub fn set_viewport(&self, track_id: &str, width: u32, height: u32) {
        self.send(ClientMessage::Viewport {
            track_id: track_id.to_owned(),
            width,
            height,
        });
    }

    /// The publish side's controls once the join has started it, for diagnostics and tests
    /// (its GStreamer pipeline, the failed-track state).
    pub fn publisher_handle(&self) -> Option<Arc<Publisher>> {
        self.publisher().ok()
    }

    /// The publish pipeline, once the join has started it.
    fn publisher(&self) -> Result<Arc<Publisher>, ClientError> {
        let publisher = self
            .slots
            .publisher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        publisher.ok_or_else(|| {
            ClientError::Media(classroom_media::MediaError::Pipeline(
                "not publishing".into(),
            ))
        })
    }

    /// Per-track send statistics of the publish pipeline (empty when not publishing),
    /// refreshed once a second.
    pub fn publish_stats(&self) -> classroom_media::PublisherStats {
        self.publisher().map(|p| p.stats()).unwrap_or_default()
    }

    /// The video encoder publishing `source`, once publishing.
    pub fn video_encoder(
        &self,
        source: classroom_protocol::Source,
    ) -> Option<classroom_media::VideoEncoder> {
        self.publisher().ok().and_then(|p| p.video_encoder(source))
    }

    /// Per-track receive figures since the previous call (bitrate, fps, loss, jitter,
    /// NACK/PLI, freezes, audio concealment); call about once a second from a blocking
    /// context (waits up to `timeout` for webrtcbin).
    pub fn receive_reports(
        &self,
        timeout: std::time::Duration,
    ) -> Vec<classroom_media::TrackReport> {
        let sub = self
            .slots
            .subscriber
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        sub.map(|s| s.reports(timeout)).unwrap_or_default()
    }

    /// webrtcbin's inbound RTP statistics (loss, jitter, NACK/PLI counts) of the subscribe
    /// transport. Blocks up to `timeout`; call it from a blocking context.
    pub fn rtp_stats(&self, timeout: std::time::Duration) -> Vec<classroom_media::InboundRtpStats> {
        let sub = self
            .slots
            .subscriber
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        sub.map(|s| s.rtp_stats(timeout)).unwrap_or_default()
    }

    /// Moves the class's audio to another speaker mid-class (a device id from
    /// `classroom_media::devices`). Joined without a speaker, there is nothing to move: an
    /// error, and the choice applies from the next join.
    pub fn set_speaker(&self, id: &str) -> Result<(), ClientError> {
        let sub = self
            .slots
            .subscriber
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| {
                ClientError::Media(classroom_media::MediaError::Pipeline(
                    "not receiving the class yet".into(),
                ))
            })?;
        Ok(sub.set_audio_output(&AudioOutput::Device { id: id.to_owned() })?)
    }

    /// Asks something of the class (raise a hand, answer a roll call, chat, staff actions).
    /// The answer, or a refusal, arrives as an event.
    pub fn class(&self, request: ClassRequest) {
        self.send(ClientMessage::Class(request));
    }

    /// Starts publishing with `config` (a student brought on stage), or stops (`None`). The
    /// choice is kept across reconnects. Whatever was published before stops first.
    pub fn publish(&self, config: Option<PublishConfig>) {
        let _ = self.control.send(Control::Publish(config.map(Box::new)));
    }

    /// Sends a message on the current connection (dropped while reconnecting).
    fn send(&self, msg: ClientMessage) {
        let _ = self.control.send(Control::Send(msg));
    }

    /// A handle that sends class requests on this session from elsewhere (the app's
    /// whiteboard asks for what it missed from its event task); it does nothing once the
    /// session is gone.
    pub fn class_sender(&self) -> ClassSender {
        ClassSender(self.control.clone())
    }

    /// Leaves the class and stops the media.
    pub async fn leave(mut self) {
        let _ = self.control.send(Control::Leave);
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(3), task).await;
        }
    }
}

/// Opens the websocket, joins, and starts publishing/subscribing as the options say.
/// Events arrive on the returned receiver. The session reconnects by itself when the
/// connection drops (see [`SessionEvent::Reconnecting`]); an error here means the first
/// connection could not be opened at all.
pub async fn connect(
    opts: JoinOptions,
) -> Result<(Session, UnboundedReceiver<SessionEvent>), ClientError> {
    let started = Instant::now();
    let ws = connection::open(&opts).await?;
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let slots = connection::Slots::default();
    let task = tokio::spawn(connection::run(
        opts,
        ws,
        events_tx,
        control_rx,
        slots.clone(),
    ));
    Ok((
        Session {
            started,
            slots,
            control: control_tx,
            task: Some(task),
        },
        events_rx,
    ))
}

/// `[127.0.0.1]` when the server URL's host is a loopback address, else empty (all interfaces).
pub(crate) fn loopback_ips(url: &str) -> Vec<std::net::IpAddr> {
    let host = url
        .split("://")
        .nth(1)
        .unwrap_or(url)
        .split('/')
        .next()
        .unwrap_or("");
    let host = host
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(host)
        .trim_matches(['[', ']']);
    let is_loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if is_loopback {
        vec![std::net::IpAddr::from([127, 0, 0, 1])]
    } else {
        Vec::new()
    }
}

/// Writes `token` to a new file at `path` that only this user may read (0600 on Unix), for
/// starting the app with `--token-file` (the app takes no token on its command line, where
/// every user of the computer can read it). The file is created exclusively: a file or a
/// link someone placed at `path` first is an error, never followed.
pub fn write_token_file(path: &std::path::Path, token: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    std::io::Write::write_all(&mut options.open(path)?, token.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::{loopback_ips, write_token_file};

    #[test]
    fn a_token_file_is_private_and_never_written_through_what_was_there() {
        let dir = tempfile::tempdir().expect("a folder");
        let path = dir.path().join("token");
        write_token_file(&path, "a.b.c").expect("written");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "a.b.c");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let elsewhere = dir.path().join("elsewhere");
            let link = dir.path().join("link");
            std::os::unix::fs::symlink(&elsewhere, &link).expect("a link");
            assert!(write_token_file(&link, "a.b.c").is_err());
            assert!(!elsewhere.exists(), "written through a link");
        }
        assert!(
            write_token_file(&path, "d.e.f").is_err(),
            "over an existing file"
        );
    }

    #[test]
    fn loopback_servers_keep_ice_on_loopback() {
        assert_eq!(loopback_ips("ws://127.0.0.1:8443/ws").len(), 1);
        assert_eq!(loopback_ips("ws://localhost:1/ws").len(), 1);
        assert_eq!(loopback_ips("ws://[::1]:80/ws").len(), 1);
        assert!(loopback_ips("ws://10.1.2.3:8443/ws").is_empty());
        assert!(loopback_ips("wss://school.example/ws").is_empty());
    }
}
