//! The microphone through cpal, fed into the publish pipeline's `appsrc`.
//!
//! cpal owns the device (ALSA, CoreAudio, WASAPI); its callback converts each block to 32-bit
//! float, updates the input level meter and pushes the block into GStreamer, where echo
//! cancellation, noise suppression, gain control and the encoder take over. A cpal stream is
//! not `Send`, so it lives on a thread of its own for as long as the [`Microphone`] does.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use gstreamer as gst;
use gstreamer_app as gst_app;
use tracing::{info, warn};

use crate::MediaError;
use crate::level::{AudioLevel, level_f32};

/// How long a device may deliver nothing before it counts as gone. ALSA's PulseAudio plugin
/// (what cpal opens on a desktop) does not report a source that disappears: the stream just
/// stops. A USB microphone pulled out through PipeWire behaves the same.
const STALL: Duration = Duration::from_millis(1500);

/// How long a device may take to deliver its first block (Bluetooth headsets and the
/// PulseAudio plugin's connection take a while).
const FIRST_BLOCK: Duration = Duration::from_secs(5);

type OnError = Arc<dyn Fn(String) + Send + Sync>;

/// A running cpal capture stream feeding an `appsrc`. Capture stops when it is dropped.
pub(crate) struct Microphone {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    level: Arc<Mutex<AudioLevel>>,
}

fn find_input(name: Option<&str>) -> Result<cpal::Device, MediaError> {
    let host = cpal::default_host();
    let device = match name {
        // The default needs no listing: listing opens every ALSA PCM, JACK's among them.
        None | Some("default") => host.default_input_device(),
        Some(name) => host
            .input_devices()
            .map_err(|e| MediaError::Device(format!("cannot list microphones: {e}")))?
            .find(|d| d.name().is_ok_and(|n| n == name)),
    };
    device.ok_or_else(|| {
        MediaError::Device(format!(
            "microphone {:?} is not connected",
            name.unwrap_or("default")
        ))
    })
}

impl Microphone {
    /// Opens the cpal input device called `name` (the default one for `None`) and starts
    /// pushing its audio into `appsrc`. A device that fails later (unplugged) is reported to
    /// `on_error`, on cpal's device thread.
    pub(crate) fn start(
        name: Option<String>,
        appsrc: gst_app::AppSrc,
        on_error: impl Fn(String) + Send + Sync + 'static,
    ) -> Result<Self, MediaError> {
        let on_error: OnError = Arc::new(on_error);
        let stop = Arc::new(AtomicBool::new(false));
        let level = Arc::new(Mutex::new(AudioLevel::SILENT));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), MediaError>>();
        let (flag, meter) = (stop.clone(), level.clone());
        let thread = std::thread::Builder::new()
            .name("microphone".into())
            .spawn(move || {
                let start = Instant::now();
                // Milliseconds since `start` of the latest block.
                let last = Arc::new(AtomicU64::new(0));
                let stamp = {
                    let last = last.clone();
                    move || last.store(start.elapsed().as_millis().max(1) as u64, Ordering::Relaxed)
                };
                let stream = match open_stream(name.as_deref(), appsrc, meter, on_error.clone(), stamp) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                let mut reported = false;
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(50));
                    let silent_for = start
                        .elapsed()
                        .saturating_sub(Duration::from_millis(last.load(Ordering::Relaxed)));
                    let started = last.load(Ordering::Relaxed) > 0;
                    let limit = if started { STALL } else { FIRST_BLOCK };
                    if !reported && silent_for > limit {
                        reported = true;
                        on_error(format!(
                            "the microphone stopped delivering audio (nothing for {} ms): unplugged or taken by another program",
                            silent_for.as_millis()
                        ));
                    }
                }
                drop(stream);
            })
            .map_err(|e| MediaError::Device(format!("microphone thread: {e}")))?;
        match ready_rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(())) => Ok(Microphone {
                stop,
                thread: Some(thread),
                level,
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(MediaError::Device(
                "the microphone did not open within 5 s".into(),
            )),
        }
    }

    /// The level of the latest block captured.
    pub(crate) fn level(&self) -> AudioLevel {
        *self.level.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Microphone {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // A dead device can leave cpal's stream stuck in the driver, and stopping it then
        // blocks: wait a moment, then let the thread finish on its own rather than freeze
        // the pipeline that is replacing it.
        let deadline = Instant::now() + Duration::from_secs(1);
        if let Some(t) = self.thread.take() {
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if t.is_finished() {
                let _ = t.join();
            } else {
                warn!("the microphone's driver did not stop; leaving its thread behind");
            }
        }
    }
}

fn open_stream(
    name: Option<&str>,
    appsrc: gst_app::AppSrc,
    level: Arc<Mutex<AudioLevel>>,
    on_error: OnError,
    stamp: impl Fn() + Send + 'static,
) -> Result<cpal::Stream, MediaError> {
    let device = find_input(name)?;
    let supported = device
        .default_input_config()
        .map_err(|e| MediaError::Device(format!("microphone has no usable format: {e}")))?;
    let format = supported.sample_format();
    let config: cpal::StreamConfig = supported.into();
    info!(device = ?device.name().ok(), ?format, rate = config.sample_rate.0, channels = config.channels, "microphone open");
    let caps = gst::Caps::builder("audio/x-raw")
        .field("format", "F32LE")
        .field("layout", "interleaved")
        .field("rate", config.sample_rate.0 as i32)
        .field("channels", i32::from(config.channels))
        .build();
    appsrc.set_caps(Some(&caps));

    let push = move |samples: &[f32]| {
        stamp();
        *level.lock().unwrap_or_else(|p| p.into_inner()) = level_f32(samples);
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        // A stopped pipeline refuses buffers; the device thread must never block on it.
        let _ = appsrc.push_buffer(gst::Buffer::from_mut_slice(bytes));
    };
    let on_error = move |e: cpal::StreamError| {
        warn!("microphone: {e}");
        on_error(format!("microphone: {e}"));
    };
    let stream = match format {
        cpal::SampleFormat::F32 => device.build_input_stream(
            &config,
            move |data: &[f32], _: &cpal::InputCallbackInfo| push(data),
            on_error,
            None,
        ),
        cpal::SampleFormat::I16 => device.build_input_stream(
            &config,
            move |data: &[i16], _: &cpal::InputCallbackInfo| {
                let f: Vec<f32> = data.iter().map(|s| f32::from(*s) / 32768.0).collect();
                push(&f)
            },
            on_error,
            None,
        ),
        cpal::SampleFormat::I32 => device.build_input_stream(
            &config,
            move |data: &[i32], _: &cpal::InputCallbackInfo| {
                let f: Vec<f32> = data
                    .iter()
                    .map(|s| (f64::from(*s) / 2_147_483_648.0) as f32)
                    .collect();
                push(&f)
            },
            on_error,
            None,
        ),
        other => {
            return Err(MediaError::Device(format!(
                "microphone sample format {other:?} is not supported"
            )));
        }
    }
    .map_err(|e| MediaError::Device(format!("cannot open the microphone: {e}")))?;
    stream
        .play()
        .map_err(|e| MediaError::Device(format!("cannot start the microphone: {e}")))?;
    Ok(stream)
}
