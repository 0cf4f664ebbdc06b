//! Capture inputs that can fail, be switched and come back without touching the rest of the
//! publish pipeline.
//!
//! Each published track is two bins: an *input* (`camera-input`: the device plus conversion
//! to one fixed raw format) and an *encoder* (`camera`: queue, encoder, payloader, linked to
//! webrtcbin). The input can be swapped while the encoder keeps its caps, SSRC and m-line, so
//! switching a device or losing one never renegotiates:
//! - switching devices mid-class swaps in the new device's input;
//! - a device that fails (unplugged, cannot be opened, permission denied) is swapped for a
//!   stand-in — a "camera unavailable" picture or silence — so receivers keep a live track,
//!   and the app hears [`LocalSignal::TrackFailed`];
//! - choosing a device again (the same one back, or another) recovers the track and sends
//!   [`LocalSignal::TrackRecovered`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use classroom_protocol::Source;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use tokio::sync::mpsc::UnboundedSender;
use tracing::{info, warn};

use crate::level::AudioLevel;
use crate::microphone::Microphone;
use crate::screen::WindowArea;
use crate::sources::{AudioInput, MIC_APPSRC, VideoInput};
use crate::{LocalSignal, MediaError};

// A description ends in `capsfilter caps=…`, not bare caps: gst-launch syntax takes caps
// only between two elements.

/// The raw format every input of one track delivers, so swapping inputs never changes what
/// the encoder sees.
fn video_caps((w, h, fps): (u32, u32, u32)) -> String {
    format!("video/x-raw,format=I420,width={w},height={h},framerate={fps}/1,pixel-aspect-ratio=1/1")
}

/// How long a portal screen share may take to send its first frame, and how long it may then
/// be silent (pipewiresrc repeats still frames every frame interval), before it counts as
/// ended by the desktop.
#[cfg(target_os = "linux")]
const PORTAL_FIRST_FRAME: std::time::Duration = std::time::Duration::from_secs(10);
#[cfg(target_os = "linux")]
const PORTAL_SILENCE: std::time::Duration = std::time::Duration::from_secs(3);

const AUDIO_CAPS: &str = "audio/x-raw,format=S16LE,layout=interleaved,rate=48000,channels=1";

/// Bin name of a track's encoder, e.g. `camera`.
pub(crate) fn encoder_name(source: Source) -> String {
    format!("{source:?}").to_lowercase()
}

fn input_name(source: Source) -> String {
    format!("{}-input", encoder_name(source))
}

/// What to capture for one track.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Wanted {
    /// A video input at `(width, height, fps)`.
    Video(VideoInput, (u32, u32, u32)),
    /// An audio input.
    Audio(AudioInput),
}

impl Wanted {
    fn describe(&self) -> String {
        match self {
            Wanted::Video(input, mode) => format!(
                "{} ! videoconvert ! videoscale ! capsfilter caps=\"{}\"",
                input.describe(mode.0, mode.1, mode.2),
                video_caps(*mode)
            ),
            Wanted::Audio(input) => format!(
                "{} ! audioconvert ! audioresample ! capsfilter caps=\"{AUDIO_CAPS}\"",
                input.describe()
            ),
        }
    }

    /// The stand-in while the device is gone.
    fn fallback(&self, source: Source) -> String {
        match self {
            Wanted::Video(_, mode) => {
                let what = if source == Source::Screen {
                    "Screen"
                } else {
                    "Camera"
                };
                format!(
                    "videotestsrc is-live=true pattern=black ! video/x-raw,width={w},height={h},framerate={fps}/1 \
                     ! textoverlay text=\"{what} unavailable\" valignment=center halignment=center font-desc=\"Sans 24\" \
                     ! videoconvert ! capsfilter caps=\"{caps}\"",
                    w = mode.0,
                    h = mode.1,
                    fps = mode.2,
                    caps = video_caps(*mode)
                )
            }
            Wanted::Audio(_) => {
                format!("audiotestsrc is-live=true wave=silence ! capsfilter caps=\"{AUDIO_CAPS}\"")
            }
        }
    }
}

struct Slot {
    /// The input bin in the pipeline now.
    bin: gst::Element,
    /// What the user asked for (the stand-in may be running instead).
    wanted: Wanted,
    /// True while the stand-in runs.
    failed: bool,
    /// The cpal capture feeding the bin's appsrc, if any.
    mic: Option<Microphone>,
}

/// The inputs of one publish pipeline.
pub(crate) struct Inputs {
    pipeline: gst::glib::WeakRef<gst::Pipeline>,
    signals: UnboundedSender<LocalSignal>,
    slots: Mutex<HashMap<Source, Slot>>,
    /// Bumped each time a source's input is set: a window watcher of an older input stops.
    watches: Mutex<HashMap<Source, u64>>,
    me: Weak<Inputs>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Parses an input and opens it (NULL → READY) in a scratch pipeline, where a device that is
/// missing, busy or refused says why on a bus nobody else reads.
fn build_checked(desc: &str) -> Result<gst::Bin, MediaError> {
    // Only the src pad is ghosted: ghosting "unlinked pads" would also ghost textoverlay's
    // text sink, and textoverlay then waits for text that never comes.
    let bin = gst::parse::bin_from_description(desc, false).map_err(|e| {
        match e.kind::<gst::ParseError>() {
            Some(gst::ParseError::NoSuchElement) => MediaError::MissingElement(e.to_string()),
            _ => MediaError::Pipeline(e.to_string()),
        }
    })?;
    let free_src = bin
        .iterate_recurse()
        .into_iter()
        .flatten()
        .flat_map(|e| e.src_pads())
        .find(|p| !p.is_linked())
        .ok_or_else(|| MediaError::Pipeline(format!("input has no free src pad: {desc}")))?;
    let ghost = gst::GhostPad::builder_with_target(&free_src)?
        .name("src")
        .build();
    bin.add_pad(&ghost)?;
    let scratch = gst::Pipeline::new();
    scratch.add(&bin)?;
    let opened = bin.set_state(gst::State::Ready);
    let _ = bin.set_state(gst::State::Null);
    let detail = scratch.bus().and_then(|bus| {
        bus.pop_filtered(&[gst::MessageType::Error])
            .and_then(|m| match m.view() {
                gst::MessageView::Error(e) => Some(e.error().to_string()),
                _ => None,
            })
    });
    scratch.remove(&bin)?;
    match opened {
        Ok(_) => Ok(bin),
        Err(_) => Err(MediaError::Device(
            detail.unwrap_or_else(|| "the device could not be opened".into()),
        )),
    }
}

/// A window to capture must still exist and show (`window`: its area now, see
/// [`crate::screen::window_area`]), and a portal screen share must not have been ended from
/// the desktop.
fn check_window(wanted: &Wanted, window: Option<WindowArea>) -> Result<(), MediaError> {
    match wanted {
        Wanted::Video(VideoInput::X11Window { xid, .. }, _) => match window {
            None => Err(MediaError::Device(format!(
                "the window to share ({xid:#x}) is gone"
            ))),
            Some(a) if !a.viewable => Err(MediaError::Device(
                "the shared window is minimized or off screen".into(),
            )),
            Some(_) => Ok(()),
        },
        #[cfg(target_os = "linux")]
        Wanted::Video(VideoInput::Portal(stream), _) if stream.is_closed() => Err(
            MediaError::Device("the desktop has ended this screen share".into()),
        ),
        _ => Ok(()),
    }
}

impl Inputs {
    pub(crate) fn new(
        pipeline: &gst::Pipeline,
        signals: UnboundedSender<LocalSignal>,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| Inputs {
            pipeline: pipeline.downgrade(),
            signals,
            slots: Mutex::new(HashMap::new()),
            watches: Mutex::new(HashMap::new()),
            me: me.clone(),
        })
    }

    /// Starts (or switches) `source`'s input to `wanted`. If the device cannot be used the
    /// stand-in runs, [`LocalSignal::TrackFailed`] is sent and the error is returned; the
    /// track itself stays up either way.
    pub(crate) fn set(&self, source: Source, wanted: Wanted) -> Result<(), MediaError> {
        let generation = {
            let mut watches = lock(&self.watches);
            let g = watches.entry(source).or_insert(0);
            *g += 1;
            *g
        };
        let mut window = None;
        if let Wanted::Video(VideoInput::X11Window { display, xid }, _) = &wanted {
            window = crate::screen::window_area(display, *xid);
            // Also when it cannot start now (minimized): the watch restarts it once it shows.
            crate::window_watch::spawn(
                self.me.clone(),
                source,
                wanted.clone(),
                (display.clone(), *xid),
                window.filter(|a| a.viewable),
                generation,
            );
        }
        let mut slots = lock(&self.slots);
        let was_failed = slots.get(&source).is_some_and(|s| s.failed);
        let result = check_window(&wanted, window)
            .and_then(|()| build_checked(&wanted.describe()))
            .and_then(|bin| {
                let cpal = match &wanted {
                    Wanted::Audio(input) => input.cpal_name(),
                    Wanted::Video(..) => None,
                };
                self.swap(&mut slots, source, bin.upcast(), &wanted, cpal)
            });
        match result {
            Ok(()) => {
                info!(?source, ?wanted, "input started");
                if was_failed {
                    let _ = self.signals.send(LocalSignal::TrackRecovered { source });
                }
                if let Some(slot) = slots.get(&source) {
                    self.watch_portal(source, &wanted, &slot.bin);
                }
                Ok(())
            }
            Err(e) => {
                self.fall_back(&mut slots, source, &wanted, &e.to_string());
                Err(e)
            }
        }
    }

    /// Puts `bin` where `source`'s current input is, and starts cpal if the input needs it.
    fn swap(
        &self,
        slots: &mut HashMap<Source, Slot>,
        source: Source,
        bin: gst::Element,
        wanted: &Wanted,
        cpal: Option<Option<String>>,
    ) -> Result<(), MediaError> {
        let pipeline = self
            .pipeline
            .upgrade()
            .ok_or_else(|| MediaError::Pipeline("the publish pipeline is gone".into()))?;
        let encoder = pipeline
            .by_name(&encoder_name(source))
            .ok_or_else(|| MediaError::Pipeline(format!("{source:?} is not published")))?;
        let enc_sink = encoder
            .static_pad("sink")
            .ok_or_else(|| MediaError::Pipeline("encoder has no sink pad".into()))?;
        if let Some(old) = slots.remove(&source) {
            // Stop the old capture before unlinking, or it reports not-linked as an error.
            drop(old.mic);
            let _ = old.bin.set_state(gst::State::Null);
            if let Some(src) = old.bin.static_pad("src") {
                let _ = src.unlink(&enc_sink);
            }
            let _ = pipeline.remove(&old.bin);
        }
        bin.set_property("name", input_name(source));
        pipeline.add(&bin)?;
        let src = bin
            .static_pad("src")
            .ok_or_else(|| MediaError::Pipeline("input has no src pad".into()))?;
        src.link(&enc_sink)
            .map_err(|e| MediaError::Pipeline(format!("{source:?} input link: {e:?}")))?;
        slots.insert(
            source,
            Slot {
                bin: bin.clone(),
                wanted: wanted.clone(),
                failed: false,
                mic: None,
            },
        );
        bin.sync_state_with_parent()?;
        if matches!(wanted, Wanted::Video(..))
            && let Some(encoder) = encoder.downcast_ref::<gst::Bin>()
        {
            // A new picture (another camera, the stand-in, the device back) starts with a
            // keyframe: students switch to it cleanly rather than watch the old picture smear
            // into the new one until the next periodic keyframe.
            crate::keyframes::request_keyframes(encoder);
        }
        if let Some(name) = cpal {
            let appsrc = bin
                .downcast_ref::<gst::Bin>()
                .and_then(|b| b.by_name(MIC_APPSRC))
                .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
                .ok_or_else(|| MediaError::Pipeline("microphone input has no appsrc".into()))?;
            let me = self.me.clone();
            let on_error = move |message: String| {
                // cpal calls this on its own device thread, which stopping the stream joins:
                // fail over from a thread of our own.
                let me = me.clone();
                let _ = std::thread::Builder::new()
                    .name("mic-failover".into())
                    .spawn(move || {
                        if let Some(inputs) = me.upgrade() {
                            inputs.fail(Source::Microphone, &message);
                        }
                    });
            };
            let mic = Microphone::start(name, appsrc, on_error)?;
            if let Some(s) = slots.get_mut(&source) {
                s.mic = Some(mic);
            }
        }
        Ok(())
    }

    /// Swaps the stand-in in for `source` and tells the app why.
    fn fall_back(
        &self,
        slots: &mut HashMap<Source, Slot>,
        source: Source,
        wanted: &Wanted,
        message: &str,
    ) {
        warn!(?source, "input failed: {message}");
        let standin = build_checked(&wanted.fallback(source))
            .and_then(|bin| self.swap(slots, source, bin.upcast(), wanted, None));
        if let Err(e) = standin {
            warn!(?source, "stand-in input failed too: {e}");
        }
        if let Some(slot) = slots.get_mut(&source) {
            slot.wanted = wanted.clone();
            slot.failed = true;
        }
        let _ = self.signals.send(LocalSignal::TrackFailed {
            source,
            message: message.to_owned(),
        });
    }

    /// The current watch generation of `source` (see [`crate::window_watch`]).
    pub(crate) fn watch_generation(&self, source: Source) -> u64 {
        lock(&self.watches).get(&source).copied().unwrap_or(0)
    }

    /// A portal screen share that the desktop ends fails its track like an unplugged device,
    /// unless another input has replaced it by then. Desktops say so in two ways, and both are
    /// watched: the portal session's `Closed` signal (GNOME's and KDE's "stop sharing"), and
    /// the PipeWire stream stopping — pipewiresrc posts no error when its node goes away, and
    /// xdg-desktop-portal-wlr sends no `Closed`. pipewiresrc repeats the last frame while the
    /// screen is still (`keepalive-time`), so a capture that goes quiet has ended.
    ///
    /// Neither watcher holds the stream: the slot owns it, and the portal session closes when
    /// the slot lets it go (a callback stored in the stream that owned it would never let go).
    #[cfg(target_os = "linux")]
    fn watch_portal(&self, source: Source, wanted: &Wanted, bin: &gst::Element) {
        use std::time::Duration;

        let Wanted::Video(VideoInput::Portal(stream), _) = wanted else {
            return;
        };
        let key = stream.key();
        let me = self.me.clone();
        stream.on_closed(move |reason| {
            if let Some(inputs) = me.upgrade() {
                inputs.fail_portal(source, key, reason);
            }
        });
        let Some(activity) = crate::portal::watch_capture(bin) else {
            warn!("the screen share's capture element is missing");
            return;
        };
        let me = self.me.clone();
        let watchdog = move || {
            loop {
                std::thread::sleep(Duration::from_millis(250));
                let Some(inputs) = me.upgrade() else { return };
                if inputs.current_portal(source, key).is_none() {
                    return;
                }
                let ended = match activity.quiet_for() {
                    Some(quiet) => quiet > PORTAL_SILENCE,
                    None => activity.since_start() > PORTAL_FIRST_FRAME,
                };
                if ended {
                    inputs.fail_portal(
                        source,
                        key,
                        "the desktop stopped sending the shared screen",
                    );
                    return;
                }
            }
        };
        if let Err(e) = std::thread::Builder::new()
            .name("portal-watchdog".into())
            .spawn(watchdog)
        {
            warn!("cannot watch the shared screen: {e}");
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn watch_portal(&self, _source: Source, _wanted: &Wanted, _bin: &gst::Element) {}

    /// What `source` wants while it runs the portal share `key` (not replaced, not on its
    /// stand-in).
    #[cfg(target_os = "linux")]
    fn current_portal(&self, source: Source, key: usize) -> Option<Wanted> {
        lock(&self.slots)
            .get(&source)
            .filter(|s| !s.failed)
            .filter(
                |s| matches!(&s.wanted, Wanted::Video(VideoInput::Portal(p), _) if p.key() == key),
            )
            .map(|s| s.wanted.clone())
    }

    /// Fails `source` over if it still runs the portal share `key`.
    #[cfg(target_os = "linux")]
    fn fail_portal(&self, source: Source, key: usize, message: &str) {
        if let Some(wanted) = self.current_portal(source, key) {
            let mut slots = lock(&self.slots);
            // Checked again under this lock: a swap may have come in between.
            if slots
                .get(&source)
                .is_some_and(|s| !s.failed && s.wanted == wanted)
            {
                self.fall_back(&mut slots, source, &wanted, message);
            }
        }
    }

    /// `source`'s device failed while running.
    pub(crate) fn fail(&self, source: Source, message: &str) {
        let mut slots = lock(&self.slots);
        let Some(wanted) = slots
            .get(&source)
            .filter(|s| !s.failed)
            .map(|s| s.wanted.clone())
        else {
            // Already on the stand-in: this is the stand-in failing, or a late echo of the
            // first failure. Nothing better to swap in; keep it visible in the log.
            warn!(?source, "failed again: {message}");
            return;
        };
        self.fall_back(&mut slots, source, &wanted, message);
    }

    /// Offered every bus error: an error from inside an input fails that input over and is
    /// handled; one from an input already taken out is stale and dropped; anything else is
    /// the caller's.
    pub(crate) fn on_error(&self, err: &gst::message::Error) -> bool {
        let Some(origin) = err.src() else {
            return false;
        };
        let failed = {
            let slots = lock(&self.slots);
            let mut at: Option<gst::Object> = Some(origin.clone());
            let mut found = None;
            let mut attached = false;
            while let Some(obj) = at {
                if let Some((source, _)) = slots
                    .iter()
                    .find(|(_, s)| s.bin.upcast_ref::<gst::Object>() == &obj)
                {
                    found = Some(*source);
                }
                if obj.downcast_ref::<gst::Pipeline>().is_some() {
                    attached = true;
                }
                at = obj.parent();
            }
            if !attached {
                return true;
            }
            found
        };
        match failed {
            Some(source) => {
                self.fail(source, &err.error().to_string());
                true
            }
            None => false,
        }
    }

    /// Takes `source`'s input out of the pipeline (the track is being removed).
    pub(crate) fn remove(&self, source: Source) {
        *lock(&self.watches).entry(source).or_insert(0) += 1;
        if let Some(old) = lock(&self.slots).remove(&source) {
            drop(old.mic);
            let _ = old.bin.set_state(gst::State::Null);
            if let Some(p) = self.pipeline.upgrade() {
                let _ = p.remove(&old.bin);
            }
        }
    }

    /// The cpal microphone's latest level, if a cpal microphone is capturing.
    pub(crate) fn microphone_level(&self) -> Option<AudioLevel> {
        lock(&self.slots)
            .get(&Source::Microphone)
            .and_then(|s| s.mic.as_ref())
            .map(Microphone::level)
    }

    /// The `(width, height, fps)` a video track was started with.
    pub(crate) fn video_mode(&self, source: Source) -> Option<(u32, u32, u32)> {
        match lock(&self.slots).get(&source).map(|s| &s.wanted) {
            Some(Wanted::Video(_, mode)) => Some(*mode),
            _ => None,
        }
    }

    /// True while `source` runs on its stand-in.
    pub(crate) fn is_failed(&self, source: Source) -> bool {
        lock(&self.slots).get(&source).is_some_and(|s| s.failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_input_description_parses() {
        gst::init().expect("gst");
        let mode = (320, 240, 15);
        let wanted = [
            Wanted::Video(
                VideoInput::Test {
                    pattern: "ball".into(),
                },
                mode,
            ),
            Wanted::Audio(AudioInput::Test),
            Wanted::Audio(AudioInput::Device {
                id: "cpal:default".into(),
            }),
            Wanted::Audio(AudioInput::Device {
                id: "pulse:x.monitor".into(),
            }),
        ];
        for w in wanted {
            for desc in [w.describe(), w.fallback(Source::Camera)] {
                gst::parse::bin_from_description(&desc, true)
                    .unwrap_or_else(|e| panic!("{desc}: {e}"));
            }
        }
    }
}
