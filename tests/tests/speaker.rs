//! Remote audio is played on the chosen speaker, through the echo canceller's probe, and a
//! microphone in the same app then runs with echo cancellation on. The speaker is a virtual
//! sound card in PulseAudio; what it plays is recorded from its monitor and measured.

#[path = "../../crates/media/tests/support/pulse.rs"]
#[allow(dead_code)]
mod pulse;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use classroom_client::{JoinOptions, connect};
use classroom_media::level::level_f32;
use classroom_media::{AudioInput, LocalSignal, PublishConfig, Publisher};
use classroom_protocol::{Role, Source};
use gstreamer as gst;
use gstreamer::prelude::*;

/// Records `source` and keeps the peak (dBFS) of the latest 100 ms.
struct Recorder {
    pipeline: gst::Pipeline,
    peak: Arc<Mutex<f64>>,
    blocks: Arc<AtomicU64>,
}

impl Recorder {
    fn start(source: &str) -> Recorder {
        let pipeline = gst::parse::launch(&format!(
            "pulsesrc device={source} buffer-time=100000 ! audioconvert ! audio/x-raw,format=F32LE,channels=1 ! fakesink name=rec signal-handoffs=true sync=false"
        ))
        .expect("recorder")
        .downcast::<gst::Pipeline>()
        .expect("pipeline");
        let peak = Arc::new(Mutex::new(-100.0));
        let blocks = Arc::new(AtomicU64::new(0));
        let (p, b) = (peak.clone(), blocks.clone());
        pipeline
            .by_name("rec")
            .expect("sink")
            .connect("handoff", false, move |values| {
                let buffer = values.get(1).and_then(|v| v.get::<gst::Buffer>().ok())?;
                let map = buffer.map_readable().ok()?;
                let samples: Vec<f32> = map
                    .as_slice()
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                *p.lock().unwrap_or_else(|e| e.into_inner()) = level_f32(&samples).peak_db;
                b.fetch_add(1, Ordering::Relaxed);
                None
            });
        pipeline.set_state(gst::State::Playing).expect("record");
        Recorder {
            pipeline,
            peak,
            blocks,
        }
    }

    fn peak(&self) -> f64 {
        *self.peak.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

async fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_teachers_voice_plays_on_the_chosen_speaker_and_the_microphone_cancels_it() {
    if let Err(why) = pulse::ensure_server() {
        println!("SKIPPED: {why}");
        return;
    }
    let server = classroom_tests::class_server().await;
    let speaker = pulse::NullSink::plug(&pulse::unique("classroom_speaker"));
    let token = |name: &str, role| {
        server
            .mint_token("spk", name, role, Duration::from_secs(600))
            .expect("token")
    };
    // The teacher's "voice" is a 440 Hz tone at 0.2 (about -14 dBFS).
    let (teacher, _te) = connect(JoinOptions {
        publish: Some(PublishConfig {
            camera: None,
            screen: None,
            microphone: Some(AudioInput::Test),
            ..PublishConfig::default()
        }),
        ..JoinOptions::new(
            &server.url(),
            &token("t", Role::Teacher),
            "spk",
            "Teacher",
            Role::Teacher,
        )
    })
    .await
    .expect("teacher");
    let recorder = Recorder::start(&format!("{}.monitor", speaker.name));
    wait_for("the recorder", || {
        recorder.blocks.load(Ordering::Relaxed) > 0
    })
    .await;
    assert!(
        recorder.peak() < -60.0,
        "the card is silent before the class"
    );

    let (student, _se) = connect(JoinOptions {
        play_audio: true,
        speaker: Some(format!("pulse:{}", speaker.name)),
        ..JoinOptions::new(
            &server.url(),
            &token("s", Role::Student),
            "spk",
            "Ada",
            Role::Student,
        )
    })
    .await
    .expect("student");
    wait_for("the tone on the student's speaker", || {
        recorder.peak() > -30.0
    })
    .await;
    assert!(classroom_media::playback::echo_probe_available());
    let received = student
        .stats()
        .by_source(Source::Microphone)
        .map(|t| t.packets)
        .unwrap_or(0);
    assert!(received > 0);

    // Muted, the teacher's track carries silence and the speaker goes quiet.
    teacher.set_microphone_muted(true).expect("mute");
    wait_for("silence on the speaker", || recorder.peak() < -60.0).await;
    teacher.set_microphone_muted(false).expect("unmute");
    wait_for("the tone again", || recorder.peak() > -30.0).await;

    // Switching the speaker mid-class moves the class's audio to the new card at once, and
    // the old one falls silent; the echo probe stays in the chain.
    let headset = pulse::NullSink::plug(&pulse::unique("classroom_headset"));
    let on_headset = Recorder::start(&format!("{}.monitor", headset.name));
    wait_for("the headset recorder", || {
        on_headset.blocks.load(Ordering::Relaxed) > 0
    })
    .await;
    assert!(on_headset.peak() < -60.0, "the headset is silent before");
    student
        .set_speaker(&format!("pulse:{}", headset.name))
        .expect("switch speaker");
    wait_for("the tone on the headset", || on_headset.peak() > -30.0).await;
    wait_for("silence on the old speaker", || recorder.peak() < -60.0).await;
    assert!(classroom_media::playback::echo_probe_available());
    // A speaker the app cannot open is refused with a clear error; playback goes on.
    let err = student
        .set_speaker("bogus:nothing")
        .expect_err("not a speaker");
    assert!(err.to_string().contains("not a speaker"), "{err}");
    wait_for("the tone still on the headset", || {
        on_headset.peak() > -30.0
    })
    .await;
    drop(on_headset);

    // A microphone started in this app now finds the speaker's echo probe: webrtcdsp runs
    // with echo cancellation (it refuses to start without a probe), on a real capture.
    // (It listens where the class now plays: the headset.)
    pulse::pactl(&["set-default-source", &format!("{}.monitor", headset.name)])
        .expect("default source");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mic = Publisher::start(
        &PublishConfig {
            camera: None,
            screen: None,
            microphone: Some(AudioInput::Device {
                id: "cpal:default".into(),
            }),
            ..PublishConfig::default()
        },
        tx,
    )
    .expect("microphone publisher");
    let dsp = mic
        .pipeline()
        .iterate_recurse()
        .into_iter()
        .flatten()
        .find(|e| e.factory().is_some_and(|f| f.name() == "webrtcdsp"))
        .expect("webrtcdsp in the microphone path");
    assert!(dsp.property::<bool>("echo-cancel"));
    assert!(dsp.property::<bool>("noise-suppression"));
    assert!(dsp.property::<bool>("gain-control"));
    wait_for("the microphone to hear the speaker", || {
        mic.microphone_level().is_some_and(|l| l.peak_db > -30.0)
    })
    .await;
    while let Ok(sig) = rx.try_recv() {
        assert!(
            !matches!(
                sig,
                LocalSignal::Failed { .. } | LocalSignal::TrackFailed { .. }
            ),
            "{sig:?}"
        );
    }
    drop(mic);
    drop(recorder);
    student.leave().await;
    teacher.leave().await;
    server.shutdown().await;
}
