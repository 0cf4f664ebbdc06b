//! Taking part in a class from the app: a teacher starts a class server embedded in the app
//! and publishes camera, microphone and screen; a student joins with the teacher's invite and
//! receives. Plain Rust around [`classroom_client`], so it is tested without a window.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use classroom_client::host::{HostError, HostOptions, HostedClass, Reachability, host};
use classroom_client::{JoinOptions, Session, SessionEvent, connect};
use classroom_media::devices::DeviceKind;
use classroom_media::{AudioInput, PublishConfig, VideoInput};
use classroom_protocol::{LobbyPolicy, MediaKind, Role as WireRole, Source};
use serde::Serialize;
use tokio::sync::mpsc::UnboundedReceiver;
use ts_rs::TS;

use crate::devices::{Picked, ScreenChoice};
use crate::error::AppError;
use crate::join::JoinAccepted;
use crate::launch::Role;
use crate::notes::{ClassNote, SessionEnd};
use crate::recording::{Recording, RecordingView};
use crate::video::FrameStore;

mod rates;
mod recording;
mod sheets;

pub use sheets::{ReportWords, RosterImport, RosterProblem, SavedReport, save_report};

/// How long an invite token stays valid: a long lesson.
const INVITE_TTL: Duration = Duration::from_secs(6 * 3600);
/// How long to wait for the server to accept a join.
const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Session events kept for the class view.
const EVENT_LOG: usize = 20;

/// What students need to join the teacher's class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Invite {
    /// Server address.
    pub server: String,
    /// Room.
    pub room: String,
    /// The invite secret students join with (exchanged for a personal token at join).
    pub token: String,
    /// The short class code (`XXXX-XXXX-XXXX`), through the lobby.
    pub code: String,
    /// The server's TLS certificate fingerprint (SHA-256, base64url) students pin, when
    /// signaling is TLS (a class on the school network).
    pub fingerprint: Option<String>,
    /// All of the above a student needs, as one link to paste (`classroom://join?...`).
    pub link: String,
}

/// The result of a successful join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ClassJoined {
    /// Teacher or student.
    pub role: Role,
    /// Room joined.
    pub room: String,
    /// Server address.
    pub server: String,
    /// Our participant id, once the server said it (`None` while waiting in the lobby).
    pub participant_id: Option<String>,
    /// In the class's lobby (a join by class code), with the server's reason: the teacher has
    /// not let us in yet. The `session-status` event `admitted` follows when they do,
    /// `closed` if they do not. `None`: in the class.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional = nullable)]
    pub lobby: Option<String>,
    /// For a teacher: what to give the students.
    pub invite: Option<Invite>,
    /// For a teacher: who can reach the class (the school network's addresses and port,
    /// whether it is announced nearby; no addresses means only this computer can join).
    pub network: Option<Reachability>,
}

/// One received track, for the class view.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TrackStat {
    /// Server track id.
    pub track_id: String,
    /// Who sends it: the class's participant id, for the page to put a name on the tile
    /// where the class lets this receiver see that participant (staff, the stage).
    pub participant_id: String,
    /// Camera, microphone or screen.
    pub source: Source,
    /// Audio or video.
    pub kind: MediaKind,
    /// RTP packets so far.
    #[ts(type = "number")]
    pub packets: u64,
    /// Frames decoded so far.
    #[ts(type = "number")]
    pub frames: u64,
    /// Frames per second since the previous poll.
    pub fps: f64,
    /// Kilobits per second since the previous poll.
    pub kbps: f64,
    /// Latest frame size, `WxH`.
    pub resolution: Option<String>,
    /// Freezes so far.
    #[ts(type = "number")]
    pub freezes: u64,
    /// Latest audio peak, dBFS.
    pub audio_peak_db: Option<f64>,
    /// Its publisher is the one the room hears most now (the server's active speaker).
    pub speaking: bool,
}

/// The class view's periodic snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ClassStats {
    /// Received tracks.
    pub tracks: Vec<TrackStat>,
    /// Recent session events, oldest first.
    pub events: Vec<ClassNote>,
    /// Why the session ended, if it did.
    pub closed: Option<SessionEnd>,
    /// Our published tracks whose device failed (a stand-in is being sent).
    pub failed_tracks: Vec<Source>,
    /// Our microphone's input level (RMS, dBFS) when it is captured with cpal.
    pub microphone_level_db: Option<f64>,
    /// The participant the room hears most now (perhaps us); `None` while nobody speaks.
    pub active_speaker: Option<String>,
    /// For a teacher: who can reach the class now (follows the network: a laptop that joins
    /// Wi-Fi mid-class gains an address here).
    pub network: Option<Reachability>,
    /// The recording of the class this app is making, if any.
    pub recording: Option<RecordingView>,
}

/// A published track's device failed or came back: the `device-failed` event's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DeviceFailed {
    /// Which of our tracks.
    pub source: Source,
    /// Why it failed; `None` when it is back.
    pub message: Option<String>,
    /// True when the track has its device again.
    pub recovered: bool,
}

/// Called with every [`DeviceFailed`], on the session's event task.
pub type DeviceNotifier = Arc<dyn Fn(&DeviceFailed) + Send + Sync>;

/// The connection's state, for the banner the app shows while it reconnects: the
/// `session-status` event's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum SessionStatus {
    /// In the class.
    Connected,
    /// The connection was lost; trying again.
    Reconnecting {
        /// 1 for the first attempt.
        attempt: u32,
        /// Why it was lost.
        reason: String,
    },
    /// Let in from the lobby: now in the class.
    Admitted {
        /// Our participant id.
        #[serde(rename = "participantId")]
        participant_id: String,
        /// The room (class) we are in.
        room: String,
    },
    /// The session is over (left, ended by the teacher, removed, or reconnecting gave up).
    Closed {
        /// Why.
        end: SessionEnd,
    },
}

/// What the class tells the page: a class event, or a change of the connection's state.
#[derive(Debug, Clone, PartialEq)]
pub enum ClassNotice {
    /// A class event (`class-event`).
    Event(classroom_protocol::ClassEvent),
    /// The connection's state (`session-status`).
    Status(SessionStatus),
}

/// Called with every [`ClassNotice`], on the session's event task.
pub type ClassNotifier = Arc<dyn Fn(&ClassNotice) + Send + Sync>;

#[derive(Default)]
struct Log {
    events: VecDeque<ClassNote>,
    closed: Option<SessionEnd>,
    /// The server's latest active speaker.
    speaker: Option<String>,
    notify: Option<DeviceNotifier>,
    class: Option<ClassNotifier>,
    /// The latest attendance report the server sent (answer to `GetReport`).
    report: Option<classroom_protocol::AttendanceReport>,
    /// The room the server let us into and the personal token it issued (an invite or code
    /// join is given one), once joined.
    joined: Option<(String, Option<String>)>,
}

/// How this app reaches the lesson service of the class it is in: the class server's
/// websocket address (the lesson service is on the same port), the class, a token for it and
/// the certificate pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LessonAccess {
    /// The class server's websocket URL.
    pub url: String,
    /// The class (the course).
    pub room: String,
    /// A token the lesson service takes: the personal token the server issued at join, or
    /// the one joined with.
    pub token: String,
    /// The server certificate's SHA-256, for a teacher's self-signed server.
    pub pin: Option<[u8; 32]>,
    /// A teacher (who may add lessons and materials).
    pub staff: bool,
}

impl Log {
    /// Remembers a join's room and personal token (a later join without a token, after a
    /// reconnect, keeps the one issued before).
    fn record_join(&mut self, room: String, token: Option<String>) {
        let token = token.or_else(|| self.joined.take().and_then(|(_, t)| t));
        self.joined = Some((room, token));
    }
}

struct Active {
    session: Session,
    /// The room (class) joined.
    room: String,
    /// The class server's lesson service (the token until the server issues a personal one).
    access: LessonAccess,
    /// The embedded server and its announcement, for a teacher.
    server: Option<Hosted>,
    log: Arc<Mutex<Log>>,
    /// Frame and bit rates per received track, for the class view.
    rates: rates::Rates,
    /// Where the teacher's screen comes from, to share it again.
    screen: Option<ScreenChoice>,
    /// A recording of the class under way.
    recording: Option<Recording>,
    /// For a teacher's recording: a hidden observer session of this app's own on its class
    /// (see `start_recording`).
    recorder_session: Option<Session>,
}

/// A teacher's class on this computer's embedded server.
struct Hosted {
    class: HostedClass,
    /// The identity the teacher joined it as (whose companion the recording session is).
    teacher: String,
}

/// Where a teacher's class is hosted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Hosting {
    /// This computer only: loopback, not announced (tests, and a class on one computer).
    #[default]
    ThisComputer,
    /// The school network: every usable interface, announced nearby (the app).
    SchoolNetwork,
}

/// The app's one class at a time.
#[derive(Default)]
pub struct ClassController {
    active: tokio::sync::Mutex<Option<Active>>,
    hosting: Hosting,
    /// Decoded remote video for the page.
    pub video: Arc<FrameStore>,
    /// The class's whiteboard as this app has it.
    pub board: Arc<crate::board::BoardController>,
    notify: Mutex<Option<DeviceNotifier>>,
    class_notify: Mutex<Option<ClassNotifier>>,
    /// Where a hosted class's server keeps its lessons (the lesson service); None: none.
    lessons_dir: Mutex<Option<std::path::PathBuf>>,
}

/// Whether `session` sends a microphone (a student on stage): their own voice then goes into
/// their recording too.
fn publishes_voice(session: &Session) -> bool {
    session
        .publish_stats()
        .by_source(Source::Microphone)
        .is_some()
}

fn lock(log: &Mutex<Log>) -> std::sync::MutexGuard<'_, Log> {
    log.lock().unwrap_or_else(|p| p.into_inner())
}

/// The largest screen track and its frame rate: sharp text, few frames.
const SCREEN_MAX: (u32, u32) = (1920, 1080);
const SCREEN_FPS: u32 = 10;

/// Opens the screen `choice` names: the input and the track's `(width, height, fps)`. A portal
/// share asks the person (waiting as long as the dialog is open) and sends the shared
/// surface at its own size up to [`SCREEN_MAX`].
async fn open_screen(choice: &ScreenChoice) -> Result<(VideoInput, (u32, u32, u32)), AppError> {
    match choice {
        ScreenChoice::Input(input) => Ok((input.clone(), PublishConfig::default().screen_mode)),
        #[cfg(target_os = "linux")]
        ScreenChoice::Portal(request) => {
            match classroom_media::portal::request_screen(request).await {
                Ok(stream) => {
                    let mode = stream.fitting_mode(SCREEN_MAX, SCREEN_FPS);
                    Ok((VideoInput::Portal(stream), mode))
                }
                Err(classroom_media::MediaError::ShareCancelled) => Err(AppError::Cancelled(
                    "Screen sharing was cancelled in the desktop's dialog.".into(),
                )),
                Err(e) => Err(AppError::Media(format!("Screen: {e}."))),
            }
        }
        ScreenChoice::Refused(why) => Err(AppError::Locked(why.clone())),
    }
}

/// A class nearby that a class code was made for, reached: how to join it.
pub struct CodeTarget {
    /// `wss://` to the address that answered, the certificate pinned, the code set.
    pub options: JoinOptions,
    /// The class's announced title (its room), until the server names the room.
    pub title: String,
}

/// How a join went.
enum Verdict {
    /// In the class, with our participant id.
    Joined(String),
    /// In the lobby, with the server's reason.
    Waiting(String),
}

/// Waits for the server's verdict on the join, then keeps logging events in the background.
/// [`Verdict::Joined`], or [`Verdict::Waiting`] when `lobby` is set and the server put us in
/// the lobby (the class's `Waiting` event): the background task then reports the admission
/// as [`SessionStatus::Admitted`].
async fn await_joined(
    mut events: UnboundedReceiver<SessionEvent>,
    log: Arc<Mutex<Log>>,
    lobby: bool,
    board: Arc<crate::board::BoardController>,
) -> Result<Verdict, AppError> {
    let verdict = tokio::time::timeout(JOIN_TIMEOUT, async {
        while let Some(ev) = events.recv().await {
            lock(&log).events.extend(ClassNote::from_event(&ev));
            match ev {
                SessionEvent::Joined {
                    participant_id,
                    room,
                    token,
                    ..
                } => {
                    lock(&log).record_join(room, token);
                    return Ok(Verdict::Joined(participant_id));
                }
                SessionEvent::Class(ev) => {
                    if let classroom_protocol::ClassEvent::Annotation { ops } = ev.as_ref() {
                        board.receive(ops.clone());
                        continue;
                    }
                    if let Some(notify) = &lock(&log).class {
                        notify(&ClassNotice::Event(ev.as_ref().clone()));
                    }
                    if lobby && let classroom_protocol::ClassEvent::Waiting { reason } = ev.as_ref()
                    {
                        return Ok(Verdict::Waiting(reason.clone()));
                    }
                }
                SessionEvent::ServerError { message, .. } => {
                    return Err(AppError::Refused(message));
                }
                SessionEvent::Closed { reason, .. } => return Err(AppError::Connection(reason)),
                SessionEvent::MediaFailed(m) => return Err(AppError::Media(m)),
                _ => {}
            }
        }
        Err(AppError::Connection("the connection closed".into()))
    })
    .await
    .map_err(|_| AppError::Connection("the server did not answer within 10 s".into()))??;
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            // The whiteboard's changes go to its copy; the page gets what to redraw.
            if let SessionEvent::Class(class_event) = &ev
                && let classroom_protocol::ClassEvent::Annotation { ops } = class_event.as_ref()
            {
                board.receive(ops.clone());
                continue;
            }
            if let SessionEvent::Joined { participant_id, .. } = &ev {
                board.set_me(participant_id.clone());
            }
            let mut log = lock(&log);
            if let SessionEvent::Class(class_event) = &ev
                && let classroom_protocol::ClassEvent::Report(report) = class_event.as_ref()
            {
                log.report = Some(report.clone());
            }
            let notice = match &ev {
                SessionEvent::Class(ev) => Some(ClassNotice::Event(ev.as_ref().clone())),
                SessionEvent::Reconnecting { attempt, reason } => {
                    Some(ClassNotice::Status(SessionStatus::Reconnecting {
                        attempt: *attempt,
                        reason: reason.clone(),
                    }))
                }
                SessionEvent::Reconnected { .. } => {
                    Some(ClassNotice::Status(SessionStatus::Connected))
                }
                // Only after waiting in the lobby: a direct join was answered above.
                SessionEvent::Joined {
                    participant_id,
                    room,
                    ..
                } => Some(ClassNotice::Status(SessionStatus::Admitted {
                    participant_id: participant_id.clone(),
                    room: room.clone(),
                })),
                SessionEvent::Closed { reason, cause } => {
                    Some(ClassNotice::Status(SessionStatus::Closed {
                        end: SessionEnd::of(reason, *cause),
                    }))
                }
                _ => None,
            };
            if let (Some(notice), Some(notify)) = (notice, &log.class) {
                notify(&notice);
            }
            match &ev {
                // Class events go to the page as they are, not into the event list.
                SessionEvent::Class(_) => continue,
                SessionEvent::Joined { room, token, .. } => {
                    log.record_join(room.clone(), token.clone());
                }
                SessionEvent::Closed { reason, cause } => {
                    log.closed = Some(SessionEnd::of(reason, *cause));
                }
                // Shown as the class's speaker, not logged: in a discussion it changes every
                // few seconds and would push everything else out of the event list.
                SessionEvent::ActiveSpeaker { participant_id, .. } => {
                    log.speaker = participant_id.clone();
                    continue;
                }
                _ => {}
            }
            let device = match &ev {
                SessionEvent::TrackFailed { source, message } => Some(DeviceFailed {
                    source: *source,
                    message: Some(message.clone()),
                    recovered: false,
                }),
                SessionEvent::TrackRecovered(source) => Some(DeviceFailed {
                    source: *source,
                    message: None,
                    recovered: true,
                }),
                _ => None,
            };
            if let (Some(device), Some(notify)) = (device, &log.notify) {
                notify(&device);
            }
            log.events.extend(ClassNote::from_event(&ev));
            while log.events.len() > EVENT_LOG {
                log.events.pop_front();
            }
        }
    });
    Ok(verdict)
}

impl ClassController {
    /// A controller whose teacher hosts classes as `hosting` says.
    pub fn hosting(hosting: Hosting) -> Self {
        ClassController {
            hosting,
            ..ClassController::default()
        }
    }

    /// Where the classes this app hosts keep their lessons and files (served to their
    /// students by the embedded server's lesson service).
    pub fn set_lessons_dir(&self, dir: std::path::PathBuf) {
        *self.lessons_dir.lock().unwrap_or_else(|p| p.into_inner()) = Some(dir);
    }

    /// Calls `notify` whenever one of our published tracks fails or recovers (the app sends
    /// it to the UI as `device-failed`).
    pub fn on_device_event(&self, notify: DeviceNotifier) {
        *self.notify.lock().unwrap_or_else(|p| p.into_inner()) = Some(notify);
    }

    /// Calls `notify` with every class event and connection change (the app sends them to
    /// the UI as `class-event` and `session-status`).
    pub fn on_class_event(&self, notify: ClassNotifier) {
        *self.class_notify.lock().unwrap_or_else(|p| p.into_inner()) = Some(notify);
    }

    /// Joins (student) or starts (teacher) a class with the machine's first devices (test
    /// sources where there are none). One class at a time.
    pub async fn join(&self, form: JoinAccepted) -> Result<ClassJoined, AppError> {
        self.join_with(form, None).await
    }

    /// Joins with the devices `picked` (the user's remembered choice), its notices going to
    /// the class's event log.
    pub async fn join_with(
        &self,
        form: JoinAccepted,
        picked: Option<Picked>,
    ) -> Result<ClassJoined, AppError> {
        let mut active = self.active.lock().await;
        if active.is_some() {
            return Err(AppError::AlreadyInClass(
                "Leave the current class first.".into(),
            ));
        }
        classroom_media::init().map_err(|e| AppError::Media(e.to_string()))?;
        let log = self.new_log();
        if let Some(p) = &picked {
            lock(&log).events.extend(p.notices.iter().cloned());
        }
        let (joined, next) = match form.role {
            Role::Teacher => {
                self.start_as_teacher(&form, log.clone(), picked.as_ref())
                    .await?
            }
            Role::Student => {
                let opts = JoinOptions {
                    pin: form.pin,
                    ..JoinOptions::new(
                        &form.server,
                        &form.token,
                        &form.room,
                        &form.name,
                        WireRole::Student,
                    )
                };
                self.start_as_student(opts, &form.room, log, picked.as_ref())
                    .await?
            }
        };
        *active = Some(next);
        Ok(joined)
    }

    /// Joins the class nearby a class code was made for (see
    /// [`crate::nearby::NearbyController::reach_code`]), through its lobby: returns once in
    /// the lobby (`waiting`) or in the class.
    pub async fn join_by_code(
        &self,
        target: CodeTarget,
        picked: Option<Picked>,
    ) -> Result<ClassJoined, AppError> {
        let mut active = self.active.lock().await;
        if active.is_some() {
            return Err(AppError::AlreadyInClass(
                "Leave the current class first.".into(),
            ));
        }
        classroom_media::init().map_err(|e| AppError::Media(e.to_string()))?;
        let log = self.new_log();
        if let Some(p) = &picked {
            lock(&log).events.extend(p.notices.iter().cloned());
        }
        let (joined, next) = self
            .start_as_student(target.options, &target.title, log, picked.as_ref())
            .await?;
        *active = Some(next);
        Ok(joined)
    }

    fn new_log(&self) -> Arc<Mutex<Log>> {
        Arc::new(Mutex::new(Log {
            notify: self
                .notify
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            class: self
                .class_notify
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            ..Log::default()
        }))
    }

    /// A student's join with `opts` (invite or code): receive everything, play the class's
    /// audio on the chosen speaker. A code join may stop in the lobby.
    async fn start_as_student(
        &self,
        opts: JoinOptions,
        room: &str,
        log: Arc<Mutex<Log>>,
        picked: Option<&Picked>,
    ) -> Result<(ClassJoined, Active), AppError> {
        let speaker = picked.and_then(|p| p.speaker.clone());
        let lobby = opts.code.is_some();
        let opts = JoinOptions {
            frame_sink: Some(self.video.clone()),
            play_audio: speaker.is_some(),
            speaker,
            ..opts
        };
        let server = opts.url.clone();
        let access = LessonAccess {
            url: opts.url.clone(),
            room: opts.room.clone(),
            token: opts.token.clone(),
            pin: opts.pin,
            staff: false,
        };
        crate::video::join_stage("media", "");
        let (session, events) = connect(opts)
            .await
            .map_err(|e| AppError::Connection(e.to_string()))?;
        crate::video::join_stage("connected", "");
        let (participant_id, lobby) =
            match await_joined(events, log.clone(), lobby, self.board.clone()).await {
                Ok(Verdict::Joined(id)) => (Some(id), None),
                Ok(Verdict::Waiting(reason)) => (None, Some(reason)),
                Err(e) => {
                    session.leave().await;
                    return Err(e);
                }
            };
        self.board
            .start(participant_id.clone(), session.class_sender());
        let joined = ClassJoined {
            role: Role::Student,
            room: room.to_owned(),
            server,
            lobby,
            participant_id,
            invite: None,
            network: None,
        };
        Ok((
            joined,
            Active {
                session,
                room: room.to_owned(),
                access,
                server: None,
                log,
                rates: rates::Rates::default(),
                screen: None,
                recording: None,
                recorder_session: None,
            },
        ))
    }

    async fn start_as_teacher(
        &self,
        form: &JoinAccepted,
        log: Arc<Mutex<Log>>,
        picked: Option<&Picked>,
    ) -> Result<(ClassJoined, Active), AppError> {
        let mut opts = match self.hosting {
            Hosting::ThisComputer => HostOptions::this_computer(&form.room, &form.name),
            Hosting::SchoolNetwork => HostOptions::lan(&form.room, &form.name),
        };
        opts.server.lessons_dir = self
            .lessons_dir
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let server = host(opts).await.map_err(|e| match e {
            HostError::Server(e) => {
                AppError::CannotHost(format!("Cannot start the class on this computer: {e}."))
            }
            other => AppError::CannotHost(other.to_string()),
        })?;
        let network = server.reachability();
        if network.lan && network.only_this_computer() {
            lock(&log).events.push_back(ClassNote::NoSchoolNetwork);
        }
        if let Some(why) = &network.announce_error {
            lock(&log).events.push_back(ClassNote::NotAnnounced {
                detail: why.clone(),
            });
        }
        let mint = |identity: &str, role| {
            server
                .server()
                .mint_token(&form.room, identity, role, INVITE_TTL)
                .map_err(|e| AppError::Connection(e.to_string()))
        };
        let teacher_token = mint(&form.name, WireRole::Teacher)?;
        // Students come in with the class's invite secret (each gets an identity and a
        // token of their own at join) or its short code (through the lobby).
        let created = match server
            .server()
            .create_class(&form.room, LobbyPolicy::AdmitAll, Vec::new())
            .await
        {
            Ok(created) => created,
            Err(e) => {
                server.shutdown().await;
                return Err(AppError::Connection(format!(
                    "cannot set up the class: {e}"
                )));
            }
        };
        let fingerprint = server
            .fingerprint()
            .map(|f| classroom_protocol::fingerprint::to_base64url(&f));
        let invite = Invite {
            link: crate::link::invite_link(
                &server.invite_url(),
                &form.room,
                &created.secret,
                fingerprint.as_deref(),
            ),
            server: server.invite_url(),
            room: form.room.clone(),
            token: created.secret,
            code: created.code,
            fingerprint,
        };
        let (camera, microphone, screen_choice) = match picked {
            Some(p) => (p.camera.clone(), p.microphone.clone(), p.screen.clone()),
            None => (
                VideoInput::camera_or_test(),
                AudioInput::microphone_or_test(),
                ScreenChoice::Input(VideoInput::screen_or_test()),
            ),
        };
        let (screen, screen_mode) = match open_screen(&screen_choice).await {
            Ok((input, mode)) => (Some(input), mode),
            // The school's policy: no screen track at all (not a stand-in picture).
            Err(AppError::Locked(_)) => (None, PublishConfig::default().screen_mode),
            Err(why) => {
                lock(&log)
                    .events
                    .push_back(ClassNote::ScreenStandIn { error: why });
                (
                    Some(VideoInput::Test {
                        pattern: "smpte".into(),
                    }),
                    PublishConfig::default().screen_mode,
                )
            }
        };
        let publish = PublishConfig {
            camera: Some(camera),
            screen,
            screen_mode,
            microphone: Some(microphone),
            ..PublishConfig::default()
        };
        let access = LessonAccess {
            url: server.local_url(),
            room: form.room.clone(),
            token: teacher_token.clone(),
            pin: server.fingerprint(),
            staff: true,
        };
        let opts = JoinOptions {
            publish: Some(publish),
            frame_sink: Some(self.video.clone()),
            pin: server.fingerprint(),
            // The teacher sees and hears the students brought on stage.
            subscribe: true,
            ..JoinOptions::new(
                &server.local_url(),
                &teacher_token,
                &form.room,
                &form.name,
                WireRole::Teacher,
            )
        };
        let (session, events) = match connect(opts).await {
            Ok(ok) => ok,
            Err(e) => {
                server.shutdown().await;
                return Err(AppError::Connection(e.to_string()));
            }
        };
        let participant_id =
            match await_joined(events, log.clone(), false, self.board.clone()).await {
                Ok(Verdict::Joined(id)) => Some(id),
                Ok(Verdict::Waiting(_)) => None,
                Err(e) => {
                    session.leave().await;
                    server.shutdown().await;
                    return Err(e);
                }
            };
        self.board
            .start(participant_id.clone(), session.class_sender());
        let joined = ClassJoined {
            role: Role::Teacher,
            room: form.room.clone(),
            server: server.local_url(),
            participant_id,
            lobby: None,
            invite: Some(invite),
            network: Some(network),
        };
        Ok((
            joined,
            Active {
                session,
                room: form.room.clone(),
                access,
                server: Some(Hosted {
                    class: server,
                    teacher: form.name.clone(),
                }),
                log,
                rates: rates::Rates::default(),
                screen: Some(screen_choice),
                recording: None,
                recorder_session: None,
            },
        ))
    }

    /// A snapshot for the class view; rates are over the last half second or more
    /// (`rates::Rates`).
    pub async fn stats(&self) -> Result<ClassStats, AppError> {
        let mut guard = self.active.lock().await;
        let active = guard
            .as_mut()
            .ok_or_else(|| AppError::NotInClass("Join a class first.".into()))?;
        let now = Instant::now();
        let speaker = lock(&active.log).speaker.clone();
        let received = active.session.stats().tracks;
        // A recording follows the screen as it is shared and unshared.
        let recording = active.recording.as_ref().map(|r| {
            match &active.recorder_session {
                Some(own) => r.follow(&own.stats().tracks, false),
                None => r.follow(&received, publishes_voice(&active.session)),
            }
            r.view()
        });
        let tracks = received
            .into_iter()
            .map(|t| {
                let (fps, kbps) =
                    active
                        .rates
                        .of(&t.track.track_id, t.frames, t.bytes, now, t.fps());
                TrackStat {
                    track_id: t.track.track_id.clone(),
                    participant_id: t.track.participant_id.clone(),
                    source: t.track.source,
                    kind: t.track.kind,
                    packets: t.packets,
                    frames: t.frames,
                    fps,
                    kbps,
                    resolution: t.resolution.map(|(w, h)| format!("{w}x{h}")),
                    freezes: t.freeze.freezes(),
                    audio_peak_db: t.audio_peak_db,
                    speaking: speaker.as_deref() == Some(t.track.participant_id.as_str()),
                }
            })
            .collect::<Vec<_>>();
        for track in &tracks {
            self.video.listed(&track.track_id);
        }
        let publisher = active.session.publisher_handle();
        let failed_tracks = [Source::Camera, Source::Microphone, Source::Screen]
            .into_iter()
            .filter(|s| publisher.as_ref().is_some_and(|p| p.is_track_failed(*s)))
            .collect();
        let microphone_level_db = active.session.microphone_level().map(|l| l.rms_db);
        let network = active.server.as_ref().map(|h| h.class.reachability());
        let log = lock(&active.log);
        Ok(ClassStats {
            tracks,
            events: log.events.iter().cloned().collect(),
            closed: log.closed.clone(),
            failed_tracks,
            microphone_level_db,
            active_speaker: speaker,
            network,
            recording,
        })
    }

    /// True while our published `source` runs on its stand-in because its device failed.
    pub async fn is_track_failed(&self, source: Source) -> bool {
        self.active.lock().await.as_ref().is_some_and(|a| {
            a.session
                .publisher_handle()
                .is_some_and(|p| p.is_track_failed(source))
        })
    }

    /// Switches a device mid-class (also how a failed camera or microphone comes back).
    /// Not in a class: nothing to switch, the choice applies at the next join. The speaker
    /// moves the class's audio (and the echo canceller's reference) at once; cameras and
    /// microphones only matter while publishing.
    pub async fn switch_device(&self, kind: DeviceKind, id: &str) -> Result<(), AppError> {
        let guard = self.active.lock().await;
        let Some(active) = guard.as_ref() else {
            return Ok(());
        };
        if kind == DeviceKind::Speaker {
            return active
                .session
                .set_speaker(id)
                .map_err(|e| AppError::Media(e.to_string()));
        }
        if active.session.publisher_handle().is_none() {
            return Ok(());
        }
        let result = match kind {
            DeviceKind::Camera => match VideoInput::from_device_id(id) {
                Some(input) => active.session.set_camera(&input),
                None => return Err(AppError::UnknownDevice(format!("{id:?} is not a camera"))),
            },
            DeviceKind::Microphone => active
                .session
                .set_microphone(&AudioInput::Device { id: id.to_owned() }),
            _ => return Ok(()),
        };
        result.map_err(|e| AppError::Media(e.to_string()))
    }

    /// Shares the screen again (a teacher's, in a class): on Wayland the desktop's dialog asks
    /// what to share; on X11 the screen is captured again. The screen track stays and switches
    /// to it, which is also how a share the desktop ended comes back. A cancelled dialog is
    /// [`AppError::Cancelled`] and noted in the class's events; the track keeps what it sent.
    pub async fn share_screen(&self) -> Result<(), AppError> {
        // The dialog can stay open for long: the class (and its stats) is not locked meanwhile.
        let (choice, log) = {
            let guard = self.active.lock().await;
            let active = guard
                .as_ref()
                .ok_or_else(|| AppError::NotInClass("Join a class first.".into()))?;
            let choice = active
                .screen
                .clone()
                .ok_or_else(|| AppError::NotInClass("Only the teacher shares a screen.".into()))?;
            (choice, active.log.clone())
        };
        let opened = open_screen(&choice).await;
        let guard = self.active.lock().await;
        let active = guard
            .as_ref()
            .ok_or_else(|| AppError::NotInClass("The class has ended.".into()))?;
        match opened {
            Ok((input, _)) => active
                .session
                .set_screen(&input)
                .map_err(|e| AppError::Media(e.to_string())),
            // The school's policy is not a failure of the desktop: said on the button only.
            Err(why @ AppError::Locked(_)) => Err(why),
            Err(why) => {
                lock(&log)
                    .events
                    .push_back(ClassNote::ShareFailed { error: why.clone() });
                Err(why)
            }
        }
    }

    /// Asks something of the class (hands, chat, roll call, polls, staff actions). The server
    /// checks every request against the sender's role; its answer arrives as a class event.
    pub async fn request(&self, request: classroom_protocol::ClassRequest) -> Result<(), AppError> {
        let guard = self.active.lock().await;
        let active = guard
            .as_ref()
            .ok_or_else(|| AppError::NotInClass("Join a class first.".into()))?;
        active.session.class(request);
        Ok(())
    }

    /// A student on stage starts sending camera and microphone (`on`), or stops. Only a
    /// click does this: being brought on stage by the teacher only lets them.
    pub async fn stage_media(&self, on: bool, picked: Option<Picked>) -> Result<(), AppError> {
        let guard = self.active.lock().await;
        let active = guard
            .as_ref()
            .ok_or_else(|| AppError::NotInClass("Join a class first.".into()))?;
        if !on {
            active.session.publish(None);
            return Ok(());
        }
        let (camera, microphone) = match picked {
            Some(p) => (p.camera, p.microphone),
            None => (
                VideoInput::camera_or_test(),
                AudioInput::microphone_or_test(),
            ),
        };
        active.session.publish(Some(PublishConfig {
            camera: Some(camera),
            microphone: Some(microphone),
            screen: None,
            ..PublishConfig::default()
        }));
        Ok(())
    }

    /// The class's attendance report so far, from the embedded server (a teacher hosting)
    /// or, for a class on a school server, asked of it over the class's connection.
    pub async fn report(&self) -> Result<classroom_protocol::AttendanceReport, AppError> {
        let (room, log) =
            {
                let guard = self.active.lock().await;
                let active = guard
                    .as_ref()
                    .ok_or_else(|| AppError::NotInClass("Join a class first.".into()))?;
                if let Some(Hosted { class: server, .. }) = &active.server {
                    return server.server().report(&active.room).await.ok_or_else(|| {
                        AppError::NotInClass("The class has no report yet.".into())
                    });
                }
                active
                    .session
                    .class(classroom_protocol::ClassRequest::GetReport);
                (active.room.clone(), active.log.clone())
            };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(report) = lock(&log).report.take().filter(|r| r.room == room) {
                return Ok(report);
            }
            if Instant::now() > deadline {
                return Err(AppError::Connection(
                    "The server did not send the report within 10 s.".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// How to reach the lesson service of the class this app is in; None outside a class
    /// and in the lobby (the personal token comes with the admission).
    pub async fn lesson_access(&self) -> Option<LessonAccess> {
        let guard = self.active.lock().await;
        let active = guard.as_ref()?;
        let joined = lock(&active.log).joined.clone();
        let (room, token) = match joined {
            Some((room, Some(token))) => (room, token),
            Some((room, None)) => (room, active.access.token.clone()),
            // Not let in yet.
            None => return None,
        };
        if token.is_empty() {
            return None;
        }
        Some(LessonAccess {
            room,
            token,
            ..active.access.clone()
        })
    }

    /// Whether the app is in a class (or its lobby).
    pub async fn in_class(&self) -> bool {
        self.active.lock().await.is_some()
    }

    /// Whether this app joined the class as its teacher.
    pub async fn is_teacher(&self) -> Option<bool> {
        self.active.lock().await.as_ref().map(|a| a.access.staff)
    }

    /// Leaves the class; a teacher's leaving ends it (the embedded server says goodbye).
    pub async fn leave(&self) {
        let Some(active) = self.active.lock().await.take() else {
            return;
        };
        if let Some(own) = active.recorder_session {
            own.leave().await;
        }
        active.session.leave().await;
        if let Some(Hosted { class: server, .. }) = active.server {
            server.shutdown().await;
        }
        self.video.clear();
        self.board.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(role: Role, server: &str, token: &str) -> JoinAccepted {
        JoinAccepted {
            role,
            name: if role == Role::Teacher {
                "Ms. Rivera".into()
            } else {
                "Ada".into()
            },
            room: "physics-7b".into(),
            server: server.into(),
            token: token.into(),
            pin: None,
            code: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_student_joining_by_code_waits_in_the_lobby_until_admitted() {
        let teacher = ClassController::default();
        let started = teacher
            .join(form(Role::Teacher, "", ""))
            .await
            .expect("teacher starts the class");
        let invite = started.invite.expect("an invite");
        assert_eq!(started.lobby, None);

        let student = ClassController::default();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        student.on_class_event(Arc::new(move |notice: &ClassNotice| {
            if let ClassNotice::Status(status) = notice {
                let _ = tx.send(status.clone());
            }
        }));
        // What `NearbyController::reach_code` builds, here over loopback without TLS.
        let target = CodeTarget {
            options: JoinOptions {
                code: Some(invite.code.clone()),
                ..JoinOptions::new(&invite.server, "", "", "Ada", WireRole::Student)
            },
            title: "physics-7b".into(),
        };
        let joined = student
            .join_by_code(target, None)
            .await
            .expect("in the lobby");
        assert!(joined.lobby.is_some(), "{joined:?}");
        assert_eq!(joined.participant_id, None);
        assert_eq!(joined.room, "physics-7b");
        assert_eq!(
            serde_json::to_value(&joined).expect("json")["lobby"],
            serde_json::json!(joined.lobby)
        );

        teacher
            .request(classroom_protocol::ClassRequest::AdmitAll)
            .await
            .expect("admit");
        let admitted = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match rx.recv().await {
                    Some(SessionStatus::Admitted {
                        participant_id,
                        room,
                    }) => {
                        break (participant_id, room);
                    }
                    Some(_) => {}
                    None => panic!("the notifier went away"),
                }
            }
        })
        .await
        .expect("admitted within 10 s");
        assert!(!admitted.0.is_empty());
        assert_eq!(admitted.1, "physics-7b");
        assert_eq!(
            serde_json::to_value(SessionStatus::Admitted {
                participant_id: "p1".into(),
                room: "r".into()
            })
            .expect("json"),
            serde_json::json!({"state": "admitted", "participantId": "p1", "room": "r"})
        );
        student.leave().await;
        teacher.leave().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_teacher_starts_a_class_and_a_student_joins_with_the_invite() {
        let teacher = ClassController::default();
        // Test sources whatever the machine has: the teacher's "voice" is a tone, so the
        // class hears the teacher speaking.
        let sources = Picked {
            camera: VideoInput::Test {
                pattern: "ball".into(),
            },
            microphone: AudioInput::Test,
            speaker: None,
            screen: crate::devices::ScreenChoice::Input(VideoInput::Test {
                pattern: "smpte".into(),
            }),
            notices: Vec::new(),
        };
        let started = teacher
            .join_with(form(Role::Teacher, "", ""), Some(sources))
            .await
            .expect("teacher starts the class");
        let teacher_id = started.participant_id.clone().expect("teacher's id");
        let invite = started.invite.expect("a teacher gets an invite");
        assert!(invite.server.starts_with("ws://127.0.0.1:"));
        let network = started.network.expect("a teacher is told who can join");
        assert!(!network.lan && network.only_this_computer() && !network.announced);
        assert_eq!(teacher.stats().await.expect("stats").network, Some(network));
        assert_eq!(
            teacher.join(form(Role::Teacher, "", "")).await,
            Err(AppError::AlreadyInClass(
                "Leave the current class first.".into()
            ))
        );

        let student = ClassController::default();
        // A wrong token is refused with the server's reason.
        let refused = student
            .join(form(Role::Student, &invite.server, "not-a-token"))
            .await;
        assert!(matches!(refused, Err(AppError::Refused(_))), "{refused:?}");
        student.leave().await;
        student
            .join(form(Role::Student, &invite.server, &invite.token))
            .await
            .expect("student joins");

        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let stats = student.stats().await.expect("stats");
            let camera = stats.tracks.iter().find(|t| t.source == Source::Camera);
            // Camera, microphone and screen (frames count as they arrive: the camera's can
            // pass 10 before the screen's track is announced).
            if camera.is_some_and(|c| c.frames > 10 && c.resolution.is_some())
                && stats.tracks.len() == 3
            {
                assert!(stats.closed.is_none());
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no camera frames, or not camera, microphone and screen: {stats:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // The server names the teacher as the one speaking, from the audio levels the
        // teacher's microphone packets carry; the teacher's tracks are marked.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let stats = student.stats().await.expect("stats");
            if stats.active_speaker.as_deref() == Some(teacher_id.as_str()) {
                assert!(
                    stats.tracks.iter().all(|t| t.speaking),
                    "{:?}",
                    stats.tracks
                );
                assert!(
                    !stats
                        .events
                        .iter()
                        .any(|e| matches!(e, ClassNote::Other { .. })),
                    "speaker changes are not logged: {:?}",
                    stats.events
                );
                break;
            }
            assert!(Instant::now() < deadline, "no active speaker: {stats:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The teacher is told too (and receives no tracks to mark).
        let deadline = Instant::now() + Duration::from_secs(5);
        while teacher
            .stats()
            .await
            .expect("stats")
            .active_speaker
            .as_deref()
            != Some(teacher_id.as_str())
        {
            assert!(Instant::now() < deadline, "the teacher was not told");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        teacher.leave().await;
        // The student hears that the class ended, and that the teacher ended it.
        let deadline = Instant::now() + Duration::from_secs(10);
        let end = loop {
            if let Some(end) = student.stats().await.expect("stats").closed {
                break end;
            }
            assert!(
                Instant::now() < deadline,
                "the student was not told the class ended"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(end.why, crate::notes::EndedWhy::ClassEnded, "{end:?}");
        student.leave().await;
        assert_eq!(
            student.stats().await,
            Err(AppError::NotInClass("Join a class first.".into()))
        );
    }
}
