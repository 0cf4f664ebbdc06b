//! The app's screen sharing on a Wayland desktop: a teacher's class asks the desktop portal for
//! the screen (on the private headless desktop of `classroom_tests::wayland`, whose dialog is
//! answered by its chooser), a student's class view sees it at its size, a cancelled dialog is
//! a `cancelled` error and a class event, and a share the desktop ends shows as a failed screen
//! until `share_screen` brings it back. Skipped, with the reason, only where the desktop's
//! programs are not installed.

use std::time::{Duration, Instant};

use classroom_app::AppError;
use classroom_app::class::{ClassController, ClassStats};
use classroom_app::devices::{Picked, ScreenChoice};
use classroom_app::join::JoinAccepted;
use classroom_app::launch::Role;
use classroom_app::notes::ClassNote;
use classroom_media::portal::PortalRequest;
use classroom_media::{AudioInput, VideoInput};
use classroom_protocol::Source;
use classroom_tests::wayland::WaylandDesktop;

fn form(role: Role, server: &str, token: &str) -> JoinAccepted {
    JoinAccepted {
        role,
        name: "Ms. Rivera".into(),
        room: "wayland".into(),
        server: server.into(),
        token: token.into(),
        pin: None,
        code: None,
    }
}

async fn wait_for(
    what: &str,
    desktop: &WaylandDesktop,
    class: &ClassController,
    cond: impl Fn(&ClassStats) -> bool,
) -> ClassStats {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stats = class.stats().await.expect("stats");
        if cond(&stats) {
            return stats;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {stats:?}\n{}",
            desktop.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn screen_resolution(stats: &ClassStats) -> Option<&str> {
    stats
        .tracks
        .iter()
        .find(|t| t.source == Source::Screen && t.frames > 5)
        .and_then(|t| t.resolution.as_deref())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teacher_on_wayland_shares_through_the_portal_cancels_and_shares_again() {
    let mut desktop = match WaylandDesktop::start(1280, 720) {
        Ok(d) => d,
        Err(why) => {
            println!("SKIPPED: {}", why.0);
            return;
        }
    };
    let picked = Picked {
        camera: VideoInput::Test {
            pattern: "ball".into(),
        },
        microphone: AudioInput::Test,
        speaker: None,
        screen: ScreenChoice::Portal(PortalRequest {
            bus_address: Some(desktop.bus_address().to_owned()),
            ..PortalRequest::default()
        }),
        notices: Vec::new(),
    };
    let teacher = ClassController::default();
    let started = teacher
        .join_with(form(Role::Teacher, "", ""), Some(picked))
        .await
        .unwrap_or_else(|e| panic!("teacher: {e}\n{}", desktop.logs()));
    let invite = started.invite.expect("invite");
    let student = ClassController::default();
    student
        .join(form(Role::Student, &invite.server, &invite.token))
        .await
        .expect("student joins");
    // The screen is sent at the shared output's own size.
    wait_for("the shared screen", &desktop, &student, |s| {
        screen_resolution(s) == Some("1280x720")
    })
    .await;

    // Sharing again, declined in the dialog: a `cancelled` error and a class event; the
    // screen track carries on as it was.
    desktop.decline_next_share(true);
    let declined = teacher.share_screen().await;
    assert!(
        matches!(&declined, Err(AppError::Cancelled(_))),
        "{declined:?}"
    );
    assert_eq!(declined.expect_err("cancelled").kind(), "cancelled");
    let stats = teacher.stats().await.expect("stats");
    assert!(
        stats.events.iter().any(|e| matches!(
            e,
            ClassNote::ShareFailed {
                error: AppError::Cancelled(_)
            }
        )),
        "{:?}",
        stats.events
    );
    assert!(
        !stats.failed_tracks.contains(&Source::Screen),
        "{:?}\n{}",
        stats.events,
        desktop.logs()
    );

    // The desktop ends the share: the teacher's view shows the screen as failed, students keep
    // a live screen track (the stand-in) and the camera.
    desktop.end_screen_casts();
    wait_for("the screen to fail", &desktop, &teacher, |s| {
        s.failed_tracks.contains(&Source::Screen)
    })
    .await;
    let frames = |s: &ClassStats, source| {
        s.tracks
            .iter()
            .find(|t| t.source == source)
            .map_or(0, |t| t.frames)
    };
    let before = student.stats().await.expect("stats");
    let after = wait_for("frames after the failure", &desktop, &student, |s| {
        frames(s, Source::Screen) > frames(&before, Source::Screen) + 5
            && frames(s, Source::Camera) > frames(&before, Source::Camera) + 10
    })
    .await;
    assert_eq!(screen_resolution(&after), Some("1280x720"));

    // Sharing again brings it back.
    desktop.decline_next_share(false);
    desktop.restart_screen_casts();
    teacher
        .share_screen()
        .await
        .unwrap_or_else(|e| panic!("sharing again: {e}\n{}", desktop.logs()));
    wait_for("the screen to recover", &desktop, &teacher, |s| {
        !s.failed_tracks.contains(&Source::Screen)
    })
    .await;

    // A student has no screen to share.
    assert!(matches!(
        student.share_screen().await,
        Err(AppError::NotInClass(_))
    ));
    student.leave().await;
    teacher.leave().await;
    assert!(matches!(
        teacher.share_screen().await,
        Err(AppError::NotInClass(_))
    ));
}
