//! Playing the class's audio on the chosen speaker, through the echo canceller's probe.
//!
//! Every received audio track is mixed (`audiomixer`) into one speaker chain that ends in
//! `webrtcechoprobe ! <sink>`. The probe records what the speaker plays; the microphone's
//! `webrtcdsp` (in the publish pipeline, same process) finds it by name and subtracts it from
//! what the microphone hears, so students do not hear themselves back.
//!
//! `webrtcdsp` with echo cancellation refuses to start when no probe of its name exists, so
//! live probes are counted here and the publisher asks before turning echo cancellation on.
//! (No speaker: nothing to echo, nothing to cancel.)

use std::sync::atomic::{AtomicUsize, Ordering};

use gstreamer as gst;
use gstreamer::prelude::*;

use crate::MediaError;
use crate::devices::{Backend, parse_id};

/// The name the echo probe and the microphone's `webrtcdsp` agree on.
pub const ECHO_PROBE: &str = "classroom-echo-probe";

static LIVE_PROBES: AtomicUsize = AtomicUsize::new(0);

/// True while some speaker chain in this process carries an echo probe.
pub fn echo_probe_available() -> bool {
    LIVE_PROBES.load(Ordering::SeqCst) > 0
}

/// Where received audio goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AudioOutput {
    /// Nowhere (headless clients, tests): decoded and measured, then dropped.
    #[default]
    None,
    /// The system's default speaker (`autoaudiosink`).
    Default,
    /// A device from [`crate::devices::list_devices`], by id.
    Device {
        /// `cpal:…` (played through `alsasink`) or `pulse:…` (through `pulsesink`).
        id: String,
    },
}

impl AudioOutput {
    /// `Default` for `true`, `None` for `false`: the old `play_audio` switch.
    pub fn from_play_audio(play: bool) -> Self {
        if play {
            AudioOutput::Default
        } else {
            AudioOutput::None
        }
    }

    /// The sink element for this output.
    pub(crate) fn make_sink(&self) -> Result<gst::Element, MediaError> {
        let (factory, device) = match self {
            AudioOutput::None => ("fakesink", None),
            AudioOutput::Default => ("autoaudiosink", None),
            AudioOutput::Device { id } => match parse_id(id) {
                // cpal's names on Linux are ALSA PCM names, which alsasink opens as they are.
                Some((Backend::Cpal, name)) => ("alsasink", Some(name)),
                Some((Backend::Pulse, name)) => ("pulsesink", Some(name)),
                _ => {
                    return Err(MediaError::Device(format!(
                        "{id:?} is not a speaker this app can open"
                    )));
                }
            },
        };
        let sink = gst::ElementFactory::make(factory)
            .build()
            .map_err(|_| MediaError::MissingElement(factory.into()))?;
        if let Some(device) = device {
            sink.set_property("device", device);
        }
        // Play what arrives when it arrives: the jitter buffer already paced it.
        sink.set_property("sync", false);
        Ok(sink)
    }
}

/// The mixer → echo probe → speaker chain of one subscribe pipeline.
pub(crate) struct SpeakerChain {
    mixer: gst::Element,
    /// The element feeding the speaker sink; its src pad is where a new speaker is linked.
    last: gst::Element,
    sink: std::sync::Mutex<gst::Element>,
}

impl SpeakerChain {
    /// Adds the chain to `pipeline` (not yet started with it: the caller's state change does).
    pub(crate) fn add_to(
        pipeline: &gst::Pipeline,
        output: &AudioOutput,
    ) -> Result<(SpeakerChain, ProbeGuard), MediaError> {
        let make = |f: &str| {
            gst::ElementFactory::make(f)
                .build()
                .map_err(|_| MediaError::MissingElement(f.into()))
        };
        let mixer = make("audiomixer")?;
        let convert = make("audioconvert")?;
        let resample = make("audioresample")?;
        // webrtcechoprobe takes 16-bit interleaved at one of webrtc's rates.
        let filter = gst::ElementFactory::make("capsfilter")
            .property(
                "caps",
                gst::Caps::builder("audio/x-raw")
                    .field("format", "S16LE")
                    .field("rate", 48_000i32)
                    .field("channels", 1i32)
                    .build(),
            )
            .build()
            .map_err(|_| MediaError::MissingElement("capsfilter".into()))?;
        let probe = gst::ElementFactory::make("webrtcechoprobe")
            .name(ECHO_PROBE)
            .build()
            .map_err(|_| MediaError::MissingElement("webrtcechoprobe".into()))?;
        let convert_out = make("audioconvert")?;
        let sink = output.make_sink()?;
        let chain = [
            &mixer,
            &convert,
            &resample,
            &filter,
            &probe,
            &convert_out,
            &sink,
        ];
        pipeline.add_many(chain)?;
        gst::Element::link_many(chain)?;
        let chain = SpeakerChain {
            mixer,
            last: convert_out,
            sink: std::sync::Mutex::new(sink),
        };
        Ok((chain, ProbeGuard::new()))
    }

    /// Moves playback to another speaker mid-class. The mix, and the echo probe the
    /// microphone's canceller listens to, stay; only the sink is swapped, while no buffer is
    /// on its way (an idle probe), so nothing upstream sees an unlinked pad.
    pub(crate) fn set_output(
        &self,
        pipeline: &gst::Pipeline,
        output: &AudioOutput,
    ) -> Result<(), MediaError> {
        let new = output.make_sink()?;
        let src = self
            .last
            .static_pad("src")
            .ok_or_else(|| MediaError::Pipeline("speaker chain has no src pad".into()))?;
        pipeline.add(&new)?;
        let mut current = self.sink.lock().unwrap_or_else(|p| p.into_inner());
        let old = std::mem::replace(&mut *current, new.clone());
        drop(current);
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let pipeline_weak = pipeline.downgrade();
        src.add_probe(gst::PadProbeType::IDLE, move |pad, _| {
            let result = (|| {
                if let Some(peer) = pad.peer() {
                    pad.unlink(&peer)
                        .map_err(|e| MediaError::Pipeline(format!("unlink speaker: {e:?}")))?;
                }
                let _ = old.set_state(gst::State::Null);
                if let Some(p) = pipeline_weak.upgrade() {
                    let _ = p.remove(&old);
                }
                let sink_pad = new
                    .static_pad("sink")
                    .ok_or_else(|| MediaError::Pipeline("speaker has no sink pad".into()))?;
                pad.link(&sink_pad)
                    .map_err(|e| MediaError::Pipeline(format!("link speaker: {e:?}")))?;
                new.sync_state_with_parent()?;
                Ok(())
            })();
            let _ = done_tx.send(result);
            gst::PadProbeReturn::Remove
        });
        done_rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .map_err(|_| MediaError::Pipeline("the speaker chain stayed busy".into()))?
    }

    /// Links a decoded track's last pad into the mix.
    pub(crate) fn connect(&self, src: &gst::Pad) -> Result<(), MediaError> {
        let sink = self
            .mixer
            .request_pad_simple("sink_%u")
            .ok_or_else(|| MediaError::Pipeline("audiomixer gave no pad".into()))?;
        src.link(&sink)
            .map_err(|e| MediaError::Pipeline(format!("link to speaker: {e:?}")))?;
        Ok(())
    }
}

/// Counts a live echo probe for [`echo_probe_available`] while it exists.
pub(crate) struct ProbeGuard(());

impl ProbeGuard {
    fn new() -> Self {
        LIVE_PROBES.fetch_add(1, Ordering::SeqCst);
        ProbeGuard(())
    }
}

impl Drop for ProbeGuard {
    fn drop(&mut self) {
        LIVE_PROBES.fetch_sub(1, Ordering::SeqCst);
    }
}
