//! Screen sharing on Wayland, for real: a private headless sway desktop with PipeWire and
//! xdg-desktop-portal (see `classroom_tests::wayland`), the ScreenCast portal's dialog answered
//! by its chooser, the stream captured with pipewiresrc, published through the real server and
//! decoded by a student. Skipped, with the reason printed, only where the desktop's programs
//! are not installed (`cargo xtask deps` installs them).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use classroom_client::{JoinOptions, Session, SessionEvent, connect};
use classroom_media::portal::{PortalRequest, PortalStream, ShareChoice, request_screen};
use classroom_media::{AudioInput, DecodedFrame, FrameSink, MediaError, PublishConfig, VideoInput};
use classroom_protocol::{Role, Source};
use classroom_sfu::ServerHandle;
use classroom_tests::wayland::{BACKGROUND_RGB, OUTPUT, WaylandDesktop};
use tokio::sync::mpsc::UnboundedReceiver;

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 720;

fn desktop() -> Option<WaylandDesktop> {
    match WaylandDesktop::start(WIDTH, HEIGHT) {
        Ok(d) => Some(d),
        Err(why) => {
            println!("SKIPPED: {}", why.0);
            None
        }
    }
}

fn request(desktop: &WaylandDesktop) -> PortalRequest {
    PortalRequest {
        bus_address: Some(desktop.bus_address().to_owned()),
        ..PortalRequest::default()
    }
}

async fn wait_for(what: &str, desktop: &WaylandDesktop, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\n{}",
            desktop.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One decoded screen frame: width, height, and Y'CbCr in the middle.
type Seen = (u32, u32, Option<(u8, u8, u8)>);

/// The student's view of the screen track.
#[derive(Default)]
struct ScreenFrames {
    seen: Mutex<Vec<Seen>>,
}

impl FrameSink for ScreenFrames {
    fn on_frame(&self, frame: &DecodedFrame<'_>) {
        if frame.track.source != Source::Screen {
            return;
        }
        let yuv = (frame.format == "I420")
            .then(|| centre_yuv(frame.data, frame.width as usize, frame.height as usize))
            .flatten();
        self.seen
            .lock()
            .expect("lock")
            .push((frame.width, frame.height, yuv));
    }
}

impl ScreenFrames {
    fn count(&self) -> usize {
        self.seen.lock().expect("lock").len()
    }

    fn last(&self) -> Option<Seen> {
        self.seen.lock().expect("lock").last().copied()
    }
}

/// Y, U, V at the centre of an I420 frame.
fn centre_yuv(data: &[u8], w: usize, h: usize) -> Option<(u8, u8, u8)> {
    let (x, y) = (w / 2, h / 2);
    let y_plane = w * h;
    let chroma = (w / 2) * (h / 2);
    let c = (y / 2) * (w / 2) + x / 2;
    Some((
        *data.get(y * w + x)?,
        *data.get(y_plane + c)?,
        *data.get(y_plane + chroma + c)?,
    ))
}

/// The desktop's background colour in Y'CbCr (BT.601 limited range; BT.709 differs by a few
/// steps, well inside the tolerance).
fn background_yuv() -> (f64, f64, f64) {
    let (r, g, b) = BACKGROUND_RGB;
    let (r, g, b) = (f64::from(r), f64::from(g), f64::from(b));
    (
        16.0 + 0.257 * r + 0.504 * g + 0.098 * b,
        128.0 - 0.148 * r - 0.291 * g + 0.439 * b,
        128.0 + 0.439 * r - 0.368 * g - 0.071 * b,
    )
}

fn shows_the_desktop(yuv: Option<(u8, u8, u8)>) -> bool {
    let Some((y, u, v)) = yuv else { return false };
    let (ey, eu, ev) = background_yuv();
    [(y, ey), (u, eu), (v, ev)]
        .iter()
        .all(|&(got, want)| (f64::from(got) - want).abs() < 20.0)
}

struct Class {
    server: ServerHandle,
    teacher: Session,
    teacher_events: UnboundedReceiver<SessionEvent>,
    student: Session,
    screen: Arc<ScreenFrames>,
}

/// A class whose teacher publishes a test camera and `screen` (at its own size, 10 fps).
async fn class_sharing(screen: &PortalStream) -> Class {
    let server = classroom_tests::class_server().await;
    let token = |name: &str, role| {
        server
            .mint_token("wayland", name, role, Duration::from_secs(600))
            .expect("token")
    };
    let publish = PublishConfig {
        camera: Some(VideoInput::Test {
            pattern: "ball".into(),
        }),
        camera_mode: (320, 240, 30),
        screen: Some(VideoInput::Portal(screen.clone())),
        screen_mode: screen.fitting_mode((1920, 1080), 10),
        microphone: Some(AudioInput::Test),
        ..PublishConfig::default()
    };
    let (teacher, teacher_events) = connect(JoinOptions {
        publish: Some(publish),
        ..JoinOptions::new(
            &server.url(),
            &token("t", Role::Teacher),
            "wayland",
            "Teacher",
            Role::Teacher,
        )
    })
    .await
    .expect("teacher");
    let frames = Arc::new(ScreenFrames::default());
    let (student, _student_events) = connect(JoinOptions {
        frame_sink: Some(frames.clone()),
        ..JoinOptions::new(
            &server.url(),
            &token("s", Role::Student),
            "wayland",
            "Ada",
            Role::Student,
        )
    })
    .await
    .expect("student");
    Class {
        server,
        teacher,
        teacher_events,
        student,
        screen: frames,
    }
}

fn camera_frames(student: &Session) -> u64 {
    student
        .stats()
        .by_source(Source::Camera)
        .map(|t| t.frames)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wayland_screen_shared_through_the_portal_reaches_a_student_at_its_size() {
    let Some(desktop) = desktop() else { return };
    let screen = request_screen(&request(&desktop))
        .await
        .unwrap_or_else(|e| panic!("portal share: {e}\n{}", desktop.logs()));
    assert_eq!(
        desktop.offered_outputs().trim(),
        OUTPUT,
        "the dialog offers the screen"
    );
    assert_eq!(screen.size(), Some((WIDTH, HEIGHT)));
    assert_eq!(screen.fitting_mode((1920, 1080), 10), (WIDTH, HEIGHT, 10));

    let mut class = class_sharing(&screen).await;
    wait_for("decoded screen frames", &desktop, || {
        class.screen.count() >= 10
    })
    .await;
    let (w, h, yuv) = class.screen.last().expect("a screen frame");
    assert_eq!(
        (w, h),
        (WIDTH, HEIGHT),
        "the student decodes the screen at its size"
    );
    assert!(
        shows_the_desktop(yuv),
        "the middle of the shared screen is {yuv:?}, not the desktop's background {:?}",
        background_yuv()
    );
    // A still desktop is still sent: pipewiresrc repeats the last frame, so a student who
    // joins later gets a picture and the track never looks frozen.
    let before = class.screen.count();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let gained = class.screen.count() - before;
    assert!(
        gained >= 8,
        "only {gained} screen frames in 2 s from a still desktop at 10 fps"
    );
    assert!(camera_frames(&class.student) > 0, "the camera flows too");
    let publisher = class.teacher.publisher_handle().expect("publishing");
    assert!(!publisher.is_track_failed(Source::Screen));
    drop(publisher);
    while let Ok(ev) = class.teacher_events.try_recv() {
        assert!(
            !matches!(
                ev,
                SessionEvent::TrackFailed { .. } | SessionEvent::MediaFailed(_)
            ),
            "{ev:?}"
        );
    }
    class.student.leave().await;
    class.teacher.leave().await;
    class.server.shutdown().await;
    // Once nothing holds the share, its portal session is closed (the desktop stops showing
    // that the screen is shared).
    drop(screen);
    wait_for("the portal session to close", &desktop, || {
        desktop.log("portal").contains("session owned by")
            && desktop.log("portal").contains("closed")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declining_the_portal_dialog_is_a_cancel_and_the_next_share_works() {
    let Some(desktop) = desktop() else { return };
    desktop.decline_next_share(true);
    match request_screen(&request(&desktop)).await {
        Err(MediaError::ShareCancelled) => {}
        other => panic!(
            "a declined dialog gave {other:?}, not a cancel\n{}",
            desktop.logs()
        ),
    }
    desktop.decline_next_share(false);
    let screen = request_screen(&request(&desktop))
        .await
        .unwrap_or_else(|e| panic!("sharing after a cancel: {e}\n{}", desktop.logs()));
    assert!(!screen.is_closed());

    // xdg-desktop-portal-wlr 0.7 shares screens only: asking for a window alone is a clear
    // error before any dialog, not a hang or a black picture.
    let window_only = PortalRequest {
        choice: ShareChoice::Window,
        ..request(&desktop)
    };
    match request_screen(&window_only).await {
        Err(MediaError::Device(message)) => {
            assert!(message.contains("cannot share a window"), "{message}")
        }
        other => panic!("a window-only request gave {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktop_ending_the_share_fails_the_screen_alone_and_a_new_share_recovers_it() {
    let Some(mut desktop) = desktop() else { return };
    let screen = request_screen(&request(&desktop))
        .await
        .unwrap_or_else(|e| panic!("portal share: {e}\n{}", desktop.logs()));
    let mut class = class_sharing(&screen).await;
    wait_for("decoded screen frames", &desktop, || {
        class.screen.count() >= 5
    })
    .await;
    assert!(shows_the_desktop(class.screen.last().and_then(|f| f.2)));

    // The desktop ends every cast: the PipeWire stream stops. The screen track falls to its
    // stand-in with a TrackFailed, like an unplugged camera; the camera carries on.
    desktop.end_screen_casts();
    let ended_at = Instant::now();
    let message = loop {
        match tokio::time::timeout(Duration::from_secs(15), class.teacher_events.recv()).await {
            Ok(Some(SessionEvent::TrackFailed { source, message })) => {
                assert_eq!(source, Source::Screen, "{message}");
                break message;
            }
            Ok(Some(SessionEvent::MediaFailed(m))) => panic!("the class failed: {m}"),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!(
                "no TrackFailed after the desktop ended the share\n{}",
                desktop.logs()
            ),
        }
    };
    println!(
        "screen failed {:.1} s after the share ended: {message}",
        ended_at.elapsed().as_secs_f64()
    );
    let publisher = class.teacher.publisher_handle().expect("publishing");
    assert!(publisher.is_track_failed(Source::Screen));
    // Students keep a live screen track (the "Screen unavailable" picture, same size), and
    // the camera keeps its pace.
    let (screen_before, camera_before, at) = (
        class.screen.count(),
        camera_frames(&class.student),
        Instant::now(),
    );
    wait_for("stand-in frames", &desktop, || {
        class.screen.count() >= screen_before + 5
    })
    .await;
    let (w, h, yuv) = class.screen.last().expect("a frame");
    assert_eq!((w, h), (WIDTH, HEIGHT));
    assert!(!shows_the_desktop(yuv), "the stand-in, not the desktop");
    tokio::time::sleep(Duration::from_secs(1).saturating_sub(at.elapsed())).await;
    let camera_gain = camera_frames(&class.student) - camera_before;
    let secs = at.elapsed().as_secs_f64();
    assert!(
        camera_gain as f64 / secs >= 10.0,
        "the camera slowed to {camera_gain} frames in {secs:.1} s when the screen failed"
    );

    // Sharing again (a new portal dialog) brings the track back, on the same m-line.
    desktop.restart_screen_casts();
    let again = request_screen(&request(&desktop))
        .await
        .unwrap_or_else(|e| panic!("sharing again: {e}\n{}", desktop.logs()));
    class
        .teacher
        .set_screen(&VideoInput::Portal(again))
        .expect("set screen");
    let recovered = loop {
        match tokio::time::timeout(Duration::from_secs(15), class.teacher_events.recv()).await {
            Ok(Some(SessionEvent::TrackRecovered(source))) => break source,
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("the screen never recovered\n{}", desktop.logs()),
        }
    };
    assert_eq!(recovered, Source::Screen);
    wait_for("the desktop again", &desktop, || {
        shows_the_desktop(class.screen.last().and_then(|f| f.2))
    })
    .await;
    assert_eq!(class.server.metrics().snapshot().tracks, 3, "no new track");
    class.student.leave().await;
    class.teacher.leave().await;
    class.server.shutdown().await;
}
