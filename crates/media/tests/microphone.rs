//! The cpal microphone in a real publish pipeline: it hears what a (virtual) sound card
//! plays, meters it, fails over when the card is unplugged mid-stream, and comes back.

#[path = "support/pulse.rs"]
#[allow(dead_code)]
mod pulse;

use std::time::{Duration, Instant};

use classroom_media::{AudioInput, LocalSignal, PublishConfig, Publisher};
use classroom_protocol::Source;
use gstreamer as gst;
use gstreamer::prelude::*;

fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Plays a 440 Hz tone at half scale (-6 dBFS peak) into `sink`.
fn tone(sink: &str) -> gst::Element {
    let p = gst::parse::launch(&format!(
        "audiotestsrc is-live=true wave=sine freq=440 volume=0.5 ! audioconvert ! audioresample ! pulsesink device={sink}"
    ))
    .expect("tone pipeline");
    p.set_state(gst::State::Playing).expect("tone plays");
    p
}

fn signal(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<LocalSignal>,
    what: &str,
    wanted: impl Fn(&LocalSignal) -> bool,
) -> LocalSignal {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        match rx.try_recv() {
            Ok(s) if wanted(&s) => return s,
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

#[test]
fn cpal_microphone_meters_fails_over_when_unplugged_and_recovers() {
    if let Err(why) = pulse::ensure_server() {
        println!("SKIPPED: {why}");
        return;
    }
    classroom_media::init().expect("GStreamer");
    let name = pulse::unique("classroom_mic");
    let mut card = pulse::NullSink::plug(&name);
    // ALSA's `default` capture is PulseAudio's default source: make it this card's monitor.
    pulse::pactl(&["set-default-source", &format!("{name}.monitor")]).expect("default source");
    let player = tone(&name);

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mic = AudioInput::Device {
        id: "cpal:default".into(),
    };
    let config = PublishConfig {
        camera: None,
        screen: None,
        microphone: Some(mic.clone()),
        ..PublishConfig::default()
    };
    let publisher = Publisher::start(&config, tx).expect("publisher");
    let peak = || {
        publisher
            .microphone_level()
            .map(|l| l.peak_db)
            .unwrap_or(-100.0)
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while peak() <= -12.0 {
        if let Ok(LocalSignal::TrackFailed { message, .. }) = rx.try_recv() {
            panic!("the microphone failed: {message}");
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for the tone at the microphone"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let level = publisher.microphone_level().expect("level");
    assert!(
        level.peak_db <= 0.0 && level.rms_db < level.peak_db,
        "{level:?}"
    );
    // Mute acts after the meter: the meter keeps showing the room, the track sends silence.
    publisher.set_microphone_muted(true).expect("mute");
    assert!(!publisher.is_track_failed(Source::Microphone));

    // Unplug the card mid-stream: the track switches to silence and the app is told.
    player.set_state(gst::State::Null).expect("stop tone");
    card.unplug();
    // PulseAudio moves a stream whose device went away to another one if there is any (as
    // a desktop falls back to the built-in microphone); with none left it kills the stream.
    // Other tests' cards may be plugged in, so end our stream the way the server would.
    std::thread::sleep(Duration::from_millis(300));
    pulse::kill_my_recordings();
    let failed = signal(&mut rx, "the microphone to fail", |s| {
        matches!(
            s,
            LocalSignal::TrackFailed {
                source: Source::Microphone,
                ..
            }
        )
    });
    println!("{failed:?}");
    assert!(publisher.is_track_failed(Source::Microphone));
    assert_eq!(
        publisher.microphone_level(),
        None,
        "no cpal capture while failed"
    );

    // Plug it back and choose it again: the same track recovers.
    let _card = pulse::NullSink::plug(&name);
    pulse::pactl(&["set-default-source", &format!("{name}.monitor")]).expect("default source");
    let player = tone(&name);
    publisher.set_microphone(&mic).expect("microphone back");
    signal(&mut rx, "the microphone to recover", |s| {
        matches!(
            s,
            LocalSignal::TrackRecovered {
                source: Source::Microphone
            }
        )
    });
    wait_for("the tone again", || peak() > -12.0);
    player.set_state(gst::State::Null).expect("stop tone");
}

#[test]
fn a_microphone_that_is_not_there_fails_the_track_not_the_publisher() {
    classroom_media::init().expect("GStreamer");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let config = PublishConfig {
        camera: None,
        screen: None,
        microphone: Some(AudioInput::Device {
            id: "cpal:no-such-microphone".into(),
        }),
        ..PublishConfig::default()
    };
    let publisher = Publisher::start(&config, tx).expect("the publisher starts anyway");
    let failed = signal(&mut rx, "the failure", |s| {
        matches!(s, LocalSignal::TrackFailed { .. })
    });
    let LocalSignal::TrackFailed { source, message } = failed else {
        unreachable!()
    };
    assert_eq!(source, Source::Microphone);
    assert!(message.contains("no-such-microphone"), "{message}");
    assert!(publisher.is_track_failed(Source::Microphone));
    // The track is still offered (it carries silence).
    let offer = signal(&mut rx, "the offer", |s| {
        matches!(s, LocalSignal::Offer { .. })
    });
    let LocalSignal::Offer { tracks, .. } = offer else {
        unreachable!()
    };
    assert_eq!(tracks.len(), 1);
    assert_eq!(tracks[0].source, Source::Microphone);
}
