//! Window sharing on X11: the windows of a real (virtual) X display are listed, one of them is
//! captured as the screen track, and a window that is gone (before sharing or closed while
//! shared) fails that track alone, without taking the process with it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use classroom_media::screen::list_windows;
use classroom_media::{LocalSignal, PublishConfig, Publisher, VideoInput};
use classroom_protocol::Source;
use gstreamer as gst;
use gstreamer::prelude::*;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts Xvfb on a display number it picks itself.
fn xvfb() -> (Killed, String) {
    let mut child = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "640x480x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb (package xvfb, installed by `cargo xtask deps`)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("display number");
    (Killed(child), format!(":{}", line.trim()))
}

fn publish_screen(
    input: VideoInput,
) -> (Publisher, tokio::sync::mpsc::UnboundedReceiver<LocalSignal>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let config = PublishConfig {
        camera: None,
        microphone: None,
        screen: Some(input),
        screen_mode: (320, 240, 5),
        ..PublishConfig::default()
    };
    (Publisher::start(&config, tx).expect("publisher"), rx)
}

fn count_frames(publisher: &Publisher) -> Arc<AtomicU64> {
    let frames = Arc::new(AtomicU64::new(0));
    let counter = frames.clone();
    publisher
        .pipeline()
        .by_name("screen")
        .and_then(|b| b.static_pad("sink"))
        .expect("screen encoder")
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            counter.fetch_add(1, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
    frames
}

/// Waits for the screen track's failure and returns its message.
fn wait_failed(rx: &mut tokio::sync::mpsc::UnboundedReceiver<LocalSignal>, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match rx.try_recv() {
            Ok(LocalSignal::TrackFailed { source, message }) => {
                assert_eq!(source, Source::Screen, "{message}");
                return message;
            }
            Ok(_) => {}
            Err(_) => {
                assert!(Instant::now() < deadline, "{what} was not reported");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

#[test]
fn one_window_is_listed_and_captured_and_a_vanished_one_fails_alone() {
    classroom_media::init().expect("GStreamer");
    let (_x, display) = xvfb();
    let mut window_process = Killed(
        Command::new("xmessage")
            .args([
                "-display",
                &display,
                "-geometry",
                "300x120+20+20",
                "Slides for today",
            ])
            .spawn()
            .expect("xmessage (package x11-utils)"),
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let window = loop {
        let windows = list_windows(&display).expect("list windows");
        if let Some(w) = windows.into_iter().find(|w| w.title == "xmessage") {
            break w;
        }
        assert!(Instant::now() < deadline, "the window never appeared");
        std::thread::sleep(Duration::from_millis(100));
    };

    let (publisher, mut rx) = publish_screen(VideoInput::X11Window {
        display: display.clone(),
        xid: window.xid,
    });
    let frames = count_frames(&publisher);
    let deadline = Instant::now() + Duration::from_secs(15);
    while frames.load(Ordering::Relaxed) < 5 {
        assert!(Instant::now() < deadline, "no frames from the window");
        std::thread::sleep(Duration::from_millis(50));
    }
    while let Ok(sig) = rx.try_recv() {
        assert!(
            !matches!(
                sig,
                LocalSignal::TrackFailed { .. } | LocalSignal::Failed { .. }
            ),
            "{sig:?}"
        );
    }

    // The teacher closes the shared window mid-class. Captured through `xid=`, Xlib's
    // default error handler ended this whole process here; now the track falls to its
    // stand-in, says why, and keeps sending.
    let _ = window_process.0.kill();
    let _ = window_process.0.wait();
    let message = wait_failed(&mut rx, "the closed window");
    assert!(message.contains("closed"), "{message}");
    assert!(publisher.is_track_failed(Source::Screen));
    let before = frames.load(Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(15);
    while frames.load(Ordering::Relaxed) < before + 3 {
        assert!(
            Instant::now() < deadline,
            "nothing sent after the window closed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(publisher);

    // A window id that does not exist (closed before sharing started): the screen track
    // starts on its stand-in and says why.
    let (publisher, mut rx) = publish_screen(VideoInput::X11Window {
        display,
        xid: 0x7fff_fff0,
    });
    wait_failed(&mut rx, "the vanished window");
    assert!(publisher.is_track_failed(Source::Screen));
    let frames = count_frames(&publisher);
    let deadline = Instant::now() + Duration::from_secs(15);
    while frames.load(Ordering::Relaxed) < 3 {
        assert!(Instant::now() < deadline, "the stand-in sent nothing");
        std::thread::sleep(Duration::from_millis(50));
    }
}
