//! The check before a class: the chosen camera shown, the chosen microphone metered and a test
//! sound played on the chosen speaker, with the same inputs a class would open
//! ([`VideoInput::describe`], [`AudioInput::describe`], cpal through [`Microphone`]) so what
//! the person sees and hears here is what the class gets.
//!
//! Camera and microphone run as two pipelines of their own: a camera that is busy (another
//! program holds it) must not take the microphone's meter down with it, nor the other way
//! round. Each pipeline's bus is read when the status is asked for; no main loop is needed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use classroom_protocol::{MediaKind, Source, TrackInfo};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use crate::level::{AudioLevel, FLOOR_DB, level_f32};
use crate::microphone::Microphone;
use crate::playback::AudioOutput;
use crate::sources::{AudioInput, MIC_APPSRC, VideoInput};
use crate::subscribe::deliver;
use crate::{FrameSink, MediaError, VideoCodec};

/// The track id the camera preview's frames are delivered under.
pub const PREVIEW_TRACK: &str = "device-check";

/// The preview's size and rate: enough to see oneself, cheap to convert.
const PREVIEW: (u32, u32, u32) = (640, 360, 15);

/// A photo's size and the preview's rate when the camera takes photos (homework): a page of
/// handwriting must stay readable, so the camera's usual HD, not the preview's size.
pub const PHOTO: (u32, u32, u32) = (1280, 720, 15);

/// The appsink that keeps the camera's latest frame as RGB, for a photo.
const STILL: &str = "still";

/// A photo taken with the camera: `width` x `height` pixels, RGB, rows packed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Still {
    /// Pixels across.
    pub width: u32,
    /// Pixels down.
    pub height: u32,
    /// Red, green, blue for each pixel, row after row.
    pub rgb: Vec<u8>,
}

/// How long the test sound plays.
pub const TEST_SOUND: Duration = Duration::from_millis(1200);

/// How the microphone has sounded since the check started.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MicReading {
    /// The latest block's level.
    pub now: AudioLevel,
    /// The loudest peak since the check started, in dBFS.
    pub loudest_db: f64,
}

impl MicReading {
    /// Takes in the level of the block just heard.
    fn note(&mut self, now: AudioLevel) {
        self.now = now;
        self.loudest_db = self.loudest_db.max(now.peak_db);
    }
}

/// What the check shows now.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckStatus {
    /// Frames the camera delivered so far (`None`: no camera check running).
    pub camera_frames: Option<u64>,
    /// The microphone's level (`None`: no microphone check running).
    pub microphone: Option<MicReading>,
    /// Why the camera stopped, if it did.
    pub camera_error: Option<String>,
    /// Why the microphone stopped, if it did.
    pub microphone_error: Option<String>,
}

/// One device's pipeline and what went wrong with it.
struct Part {
    pipeline: gst::Pipeline,
    error: Option<String>,
}

impl Part {
    fn start(desc: &str) -> Result<Part, MediaError> {
        let pipeline = gst::parse::launch(desc)?
            .downcast::<gst::Pipeline>()
            .map_err(|_| MediaError::Pipeline("a check pipeline is not a pipeline".into()))?;
        Ok(Part {
            pipeline,
            error: None,
        })
    }

    /// The pipeline's appsink called `name`.
    fn appsink(&self, name: &str) -> Result<gst_app::AppSink, MediaError> {
        self.pipeline
            .by_name(name)
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
            .ok_or_else(|| MediaError::Pipeline(format!("the check has no appsink {name}")))
    }

    /// A device that did not start: an empty pipeline holding only the reason.
    fn failed(why: MediaError) -> Part {
        Part {
            pipeline: gst::Pipeline::new(),
            error: Some(why.to_string()),
        }
    }

    fn play(&mut self) -> Result<(), MediaError> {
        if let Err(e) = self.pipeline.set_state(gst::State::Playing) {
            let detail = self.poll().unwrap_or_else(|| e.to_string());
            let _ = self.pipeline.set_state(gst::State::Null);
            return Err(MediaError::Device(detail));
        }
        Ok(())
    }

    /// Reads the bus: the first error stays as the reason.
    fn poll(&mut self) -> Option<String> {
        if let Some(bus) = self.pipeline.bus() {
            while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
                if let gst::MessageView::Error(err) = msg.view()
                    && self.error.is_none()
                {
                    self.error = Some(error_text(err));
                }
            }
        }
        self.error.clone()
    }
}

impl Drop for Part {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

fn error_text(err: &gst::message::Error) -> String {
    match err.debug() {
        Some(debug) if !debug.is_empty() => format!("{} ({debug})", err.error()),
        _ => err.error().to_string(),
    }
}

/// The camera previewed and the microphone metered until dropped.
pub struct DeviceCheck {
    camera: Option<Mutex<Part>>,
    frames: Arc<AtomicU64>,
    // Declared before the microphone's pipeline, so dropped before it (fields drop in
    // order): cpal stops pushing into an appsrc that still exists.
    cpal: Option<Microphone>,
    microphone: Option<Mutex<Part>>,
    level: Arc<Mutex<MicReading>>,
}

impl std::fmt::Debug for DeviceCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCheck")
            .field("camera", &self.camera.is_some())
            .field("microphone", &self.microphone.is_some())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl DeviceCheck {
    /// Starts the preview of `camera` (frames to `sink` as track [`PREVIEW_TRACK`], I420) and
    /// the meter of `microphone`. A device that cannot start is an error of the whole check
    /// only when it is the only one asked for; otherwise its reason shows in the status.
    pub fn start(
        camera: Option<&VideoInput>,
        microphone: Option<&AudioInput>,
        sink: Arc<dyn FrameSink>,
    ) -> Result<DeviceCheck, MediaError> {
        crate::init()?;
        let frames = Arc::new(AtomicU64::new(0));
        let level = Arc::new(Mutex::new(MicReading {
            now: AudioLevel::SILENT,
            loudest_db: FLOOR_DB,
        }));
        let cam = camera.map(|c| start_camera(c, sink, frames.clone(), false));
        let mic = microphone.map(|m| start_microphone(m, level.clone()));
        let working = matches!(cam, Some(Ok(_))) || matches!(mic, Some(Ok(_)));
        if !working {
            // Nothing to show: the first reason is the check's.
            if let Some(Err(e)) = cam {
                return Err(e);
            }
            if let Some(Err(e)) = mic {
                return Err(e);
            }
        }
        // One device failed and the other works: its reason shows in the status.
        let (microphone, cpal) = match mic {
            Some(Ok((part, cpal))) => (Some(part), cpal),
            Some(Err(e)) => (Some(Part::failed(e)), None),
            None => (None, None),
        };
        Ok(DeviceCheck {
            camera: cam.map(|r| Mutex::new(r.unwrap_or_else(Part::failed))),
            frames,
            cpal,
            microphone: microphone.map(Mutex::new),
            level,
        })
    }

    /// Starts the camera to take photos with (homework): previewed as [`DeviceCheck::start`]
    /// does, under [`PREVIEW_TRACK`], at [`PHOTO`]'s size, and its latest frame kept for
    /// [`DeviceCheck::take_photo`]. No microphone.
    pub fn start_photo(
        camera: &VideoInput,
        sink: Arc<dyn FrameSink>,
    ) -> Result<DeviceCheck, MediaError> {
        crate::init()?;
        let frames = Arc::new(AtomicU64::new(0));
        let part = start_camera(camera, sink, frames.clone(), true)?;
        Ok(DeviceCheck {
            camera: Some(Mutex::new(part)),
            frames,
            cpal: None,
            microphone: None,
            level: Arc::new(Mutex::new(MicReading {
                now: AudioLevel::SILENT,
                loudest_db: FLOOR_DB,
            })),
        })
    }

    /// The camera's latest frame as a photo (a check started with
    /// [`DeviceCheck::start_photo`]; waits up to 2 s for the first frame).
    pub fn take_photo(&self) -> Result<Still, MediaError> {
        let camera = self
            .camera
            .as_ref()
            .ok_or_else(|| MediaError::Device("no camera is running".into()))?;
        // The appsink is taken out of the lock: waiting for a first picture must not hold up
        // the status the page polls meanwhile.
        let appsink = {
            let mut part = lock(camera);
            if let Some(why) = part.poll() {
                return Err(MediaError::Device(why));
            }
            part.appsink(STILL)
                .map_err(|_| MediaError::Device("this camera check does not take photos".into()))?
        };
        let sample = appsink
            .try_pull_sample(gst::ClockTime::from_seconds(2))
            .ok_or_else(|| MediaError::Device("the camera gave no picture".into()))?;
        still_of(&sample)
    }

    /// Frames, level and failures so far.
    pub fn status(&self) -> CheckStatus {
        let camera_error = self.camera.as_ref().and_then(|p| lock(p).poll());
        let microphone_error = self.microphone.as_ref().and_then(|p| lock(p).poll());
        CheckStatus {
            camera_frames: self
                .camera
                .as_ref()
                .map(|_| self.frames.load(Ordering::Relaxed)),
            microphone: self.microphone.as_ref().map(|_| match &self.cpal {
                // cpal's own meter: the block it just captured.
                Some(mic) => {
                    let mut reading = lock(&self.level);
                    reading.note(mic.level());
                    *reading
                }
                None => *lock(&self.level),
            }),
            camera_error,
            microphone_error,
        }
    }
}

/// A sample of the still branch (RGB) as a packed picture, read through its video frame, so
/// rows padded to GStreamer's stride come out right at any width.
fn still_of(sample: &gst::Sample) -> Result<Still, MediaError> {
    use gstreamer_video::prelude::*;
    let bad =
        |why: &str| MediaError::Device(format!("the camera's picture could not be read: {why}"));
    let caps = sample.caps().ok_or_else(|| bad("no caps"))?;
    let info = gstreamer_video::VideoInfo::from_caps(caps).map_err(|_| bad("no video info"))?;
    let buffer = sample.buffer().ok_or_else(|| bad("no buffer"))?;
    let frame = gstreamer_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info)
        .map_err(|_| bad("unreadable buffer"))?;
    if frame.format() != gstreamer_video::VideoFormat::Rgb {
        return Err(bad("not RGB"));
    }
    let (width, height) = (frame.width(), frame.height());
    let stride = frame.plane_stride()[0] as usize;
    let data = frame.plane_data(0).map_err(|_| bad("no plane"))?;
    let row = width as usize * 3;
    let mut rgb = Vec::with_capacity(row * height as usize);
    for y in 0..height as usize {
        let start = y * stride;
        rgb.extend_from_slice(
            data.get(start..start + row)
                .ok_or_else(|| bad("short plane"))?,
        );
    }
    Ok(Still { width, height, rgb })
}

fn start_camera(
    camera: &VideoInput,
    sink: Arc<dyn FrameSink>,
    frames: Arc<AtomicU64>,
    photos: bool,
) -> Result<Part, MediaError> {
    let preview = "videoconvert ! video/x-raw,format=I420 ! appsink name=preview max-buffers=1 drop=true sync=false";
    let desc = if photos {
        let (w, h, fps) = PHOTO;
        // The preview and the latest frame as RGB, both from one camera.
        format!(
            "{} ! tee name=camera camera. ! queue max-size-buffers=2 leaky=downstream ! {preview} \
             camera. ! queue max-size-buffers=2 leaky=downstream ! videoconvert ! video/x-raw,format=RGB \
             ! appsink name={STILL} max-buffers=1 drop=true sync=false",
            camera.describe(w, h, fps)
        )
    } else {
        let (w, h, fps) = PREVIEW;
        format!("{} ! {preview}", camera.describe(w, h, fps))
    };
    let mut part = Part::start(&desc)?;
    let appsink = part.appsink("preview")?;
    let track = TrackInfo {
        track_id: PREVIEW_TRACK.into(),
        participant_id: String::new(),
        source: Source::Camera,
        kind: MediaKind::Video,
    };
    // The preview is raw frames: the codec only tells the store which kind of slot to keep.
    sink.on_video_track(&track, VideoCodec::Vp8);
    appsink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |appsink| {
                let sample = appsink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                frames.fetch_add(1, Ordering::Relaxed);
                deliver(sink.as_ref(), &track, &sample);
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    part.play()?;
    Ok(part)
}

fn start_microphone(
    microphone: &AudioInput,
    level: Arc<Mutex<MicReading>>,
) -> Result<(Part, Option<Microphone>), MediaError> {
    let desc = format!(
        "{} ! audioconvert ! audioresample ! audio/x-raw,format=F32LE,rate=48000,channels=1 ! appsink name=meter max-buffers=4 drop=true sync=false",
        microphone.describe()
    );
    let mut part = Part::start(&desc)?;
    let appsink = part.appsink("meter")?;
    appsink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |appsink| {
                let sample = appsink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                if let Some(buffer) = sample.buffer()
                    && let Ok(map) = buffer.map_readable()
                {
                    let samples: Vec<f32> = map
                        .as_slice()
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect();
                    lock(&level).note(level_f32(&samples));
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    part.play()?;
    let cpal = match microphone.cpal_name() {
        Some(name) => {
            let appsrc = part
                .pipeline
                .by_name(MIC_APPSRC)
                .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
                .ok_or_else(|| MediaError::Pipeline("microphone input has no appsrc".into()))?;
            // A device that fails later shows on the bus: the appsrc stops getting audio,
            // which the status reads as the cpal meter going silent; say so as an error.
            let bus = part.pipeline.bus();
            let on_error = move |message: String| {
                if let Some(bus) = &bus {
                    let err =
                        gst::message::Error::builder(gst::ResourceError::Read, &message).build();
                    let _ = bus.post(err);
                }
            };
            Some(Microphone::start(name, appsrc, on_error)?)
        }
        None => None,
    };
    Ok((part, cpal))
}

/// Plays a short two-note chime on `output` and returns when it has played (or failed). The
/// sink keeps time here (unlike in a class, where the jitter buffer paces), so the sound lasts
/// as long as it should.
pub fn play_test_sound(output: &AudioOutput) -> Result<(), MediaError> {
    crate::init()?;
    let pipeline = gst::Pipeline::new();
    let make = |f: &str| {
        gst::ElementFactory::make(f)
            .build()
            .map_err(|_| MediaError::MissingElement(f.into()))
    };
    // Two notes (E5 then C5), each half of the sound: 48 kHz, blocks of 20 ms.
    let notes = [659.25f64, 523.25];
    let blocks = (TEST_SOUND.as_millis() / 20) as i32;
    let src = gst::ElementFactory::make("audiotestsrc")
        .property_from_str("wave", "sine")
        .property("freq", notes[0])
        .property("volume", 0.3f64)
        .property("samplesperbuffer", 960i32)
        .property("num-buffers", blocks)
        .build()
        .map_err(|_| MediaError::MissingElement("audiotestsrc".into()))?;
    let convert = make("audioconvert")?;
    let resample = make("audioresample")?;
    let sink = output.make_sink()?;
    sink.set_property("sync", true);
    let chain = [&src, &convert, &resample, &sink];
    pipeline.add_many(chain)?;
    gst::Element::link_many(chain)?;
    // The second note from half-way: the source's frequency is changed on its streaming
    // thread, between two blocks.
    let half = (blocks / 2).max(1) as u64;
    let counted = AtomicU64::new(0);
    let second = notes[1];
    if let Some(pad) = src.static_pad("src") {
        let src_weak = src.downgrade();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            if counted.fetch_add(1, Ordering::Relaxed) + 1 == half
                && let Some(src) = src_weak.upgrade()
            {
                src.set_property("freq", second);
            }
            gst::PadProbeReturn::Ok
        });
    }
    let bus = pipeline
        .bus()
        .ok_or_else(|| MediaError::Pipeline("the test sound has no bus".into()))?;
    // Stopped when dropped, whichever way this returns.
    let mut part = Part {
        pipeline,
        error: None,
    };
    part.play()?;
    let started = Instant::now();
    let deadline = TEST_SOUND + Duration::from_secs(4);
    loop {
        let left = deadline.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(MediaError::Device(
                "the speaker did not play the test sound within 5 s".into(),
            ));
        }
        let Some(msg) = bus.timed_pop_filtered(
            gst::ClockTime::from_nseconds(left.as_nanos() as u64),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        ) else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Eos(_) => return Ok(()),
            gst::MessageView::Error(err) => return Err(MediaError::Device(error_text(err))),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DecodedFrame;

    #[derive(Default)]
    struct Frames {
        seen: Mutex<Vec<(String, u32, u32, bool)>>,
        tracks: Mutex<Vec<String>>,
    }

    impl FrameSink for Frames {
        fn on_frame(&self, frame: &DecodedFrame<'_>) {
            lock(&self.seen).push((
                frame.track.track_id.clone(),
                frame.width,
                frame.height,
                frame.shared.is_some(),
            ));
        }
        fn on_video_track(&self, track: &TrackInfo, _codec: VideoCodec) {
            lock(&self.tracks).push(track.track_id.clone());
        }
    }

    fn wait_until(mut done: impl FnMut() -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if done() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    #[test]
    fn the_camera_takes_photos_at_hd_while_it_is_previewed() {
        let frames = Arc::new(Frames::default());
        let camera = VideoInput::Test {
            pattern: "smpte".into(),
        };
        let check = DeviceCheck::start_photo(&camera, frames.clone()).expect("test setup");
        assert!(
            wait_until(|| check.status().camera_frames.unwrap_or(0) >= 3),
            "{:?}",
            check.status()
        );
        assert_eq!(check.status().microphone, None);
        let (w, h, _) = PHOTO;
        assert!(
            lock(&frames.seen).iter().all(|f| (f.1, f.2) == (w, h)),
            "the preview is the photo's size"
        );
        let photo = check.take_photo().expect("a photo");
        assert_eq!((photo.width, photo.height), (w, h));
        assert_eq!(photo.rgb.len(), (w * h * 3) as usize);
        // SMPTE bars: the top left is light grey, the second bar yellow (no blue).
        let at = |x: u32, y: u32| {
            let i = ((y * w + x) * 3) as usize;
            [photo.rgb[i], photo.rgb[i + 1], photo.rgb[i + 2]]
        };
        let grey = at(20, 100);
        assert!(grey.iter().all(|&c| c > 150), "{grey:?}");
        let yellow = at(w / 7 + 20, 100);
        assert!(
            yellow[0] > 150 && yellow[1] > 150 && yellow[2] < 80,
            "{yellow:?}"
        );
        // A check started for the class's devices takes none.
        let plain = DeviceCheck::start(Some(&camera), None, frames).expect("test setup");
        assert!(plain.take_photo().is_err());
    }

    #[test]
    fn the_test_inputs_are_previewed_and_metered() {
        let frames = Arc::new(Frames::default());
        let camera = VideoInput::Test {
            pattern: "ball".into(),
        };
        let check = DeviceCheck::start(Some(&camera), Some(&AudioInput::Test), frames.clone())
            .expect("test setup");
        assert!(
            wait_until(|| check.status().camera_frames.unwrap_or(0) >= 3),
            "{:?}",
            check.status()
        );
        // The tone (0.2 of full scale) reads near -17 dBFS RMS, -14 dBFS peak.
        assert!(
            wait_until(|| check
                .status()
                .microphone
                .is_some_and(|m| m.now.rms_db > -25.0 && m.loudest_db > -20.0)),
            "{:?}",
            check.status()
        );
        let status = check.status();
        assert_eq!(status.camera_error, None);
        assert_eq!(status.microphone_error, None);
        assert_eq!(lock(&frames.tracks).as_slice(), [PREVIEW_TRACK]);
        let seen = lock(&frames.seen);
        assert!(
            seen.iter()
                .all(|(id, w, h, shared)| id == PREVIEW_TRACK && (*w, *h) == (640, 360) && *shared),
            "{seen:?}"
        );
    }

    #[test]
    fn a_camera_that_cannot_open_leaves_the_microphone_running_and_says_why() {
        let frames = Arc::new(Frames::default());
        let camera = VideoInput::V4l2 {
            device: "/dev/no-such-camera".into(),
        };
        let check =
            DeviceCheck::start(Some(&camera), Some(&AudioInput::Test), frames).expect("test setup");
        assert!(wait_until(|| check.status().camera_error.is_some()));
        assert!(wait_until(|| check
            .status()
            .microphone
            .is_some_and(|m| m.now.rms_db > -25.0)));
        assert_eq!(check.status().microphone_error, None);
    }

    #[test]
    fn a_check_of_only_a_broken_device_is_an_error() {
        let camera = VideoInput::V4l2 {
            device: "/dev/no-such-camera".into(),
        };
        let started = DeviceCheck::start(Some(&camera), None, Arc::new(Frames::default()));
        // Either refused at start, or running with the reason in its status.
        if let Ok(check) = started {
            assert!(wait_until(|| check.status().camera_error.is_some()));
        }
    }

    #[test]
    fn the_test_sound_plays_for_its_length() {
        let started = Instant::now();
        play_test_sound(&AudioOutput::None).expect("test setup");
        // A sink that keeps time: the chime takes its length, not a burst.
        assert!(started.elapsed() >= TEST_SOUND - Duration::from_millis(200));
    }

    #[test]
    fn a_speaker_that_is_not_there_is_an_error() {
        let err = play_test_sound(&AudioOutput::Device {
            id: "pulse:no-such-speaker".into(),
        });
        assert!(err.is_err());
    }
}
