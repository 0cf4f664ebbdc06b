//! RFC 6464 client-to-mixer audio levels on the microphone's RTP packets, so the server can
//! tell who is speaking without decoding anyone's audio.
//!
//! GStreamer's `rtphdrextclientaudiolevel` writes the header extension from the
//! `GstAudioLevelMeta` on each buffer the payloader receives; the payloader creates it
//! itself (`auto-header-extension`) from an `extmap-N` field in its downstream caps, which a
//! capsfilter behind it provides. Those caps also reach webrtcbin, which turns them into the
//! offer's `a=extmap` line, so the server knows the id.
//!
//! GStreamer's `level` element can add the meta, but it always clears the voice-activity
//! bit, and str0m (so the server) reads a cleared bit as "no voice": every packet would
//! count as silence. So the level is measured here, on the raw audio the encoder receives
//! (after echo cancellation and the mute volume: a muted microphone sends 127, silence),
//! and each encoded packet is stamped with it and an energy-based voice flag.

use std::sync::{Arc, Mutex, MutexGuard};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_audio::AudioLevelMeta;
use gstreamer_sdp as gst_sdp;
use tracing::{info, warn};

/// The extension's URI in `a=extmap` and in caps.
pub(crate) const URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

/// The id offered: str0m's own for this extension, so the server's map stays as it is.
pub(crate) const OFFERED_ID: u8 = 1;

/// The element the payloader creates for [`URI`]; GStreamer older than 1.20 lacks it.
const EXTENSION_FACTORY: &str = "rtphdrextclientaudiolevel";

/// Name of the capsfilter behind the Opus payloader that asks it for the extension.
const CAPS_FILTER: &str = "levelcaps";

/// Louder than this (RFC 6464 level, i.e. -dBov) sets the voice bit. Deliberately low: it
/// only separates sound from silence, the server applies its own speech threshold to the
/// smoothed level and compares speakers.
const VOICE_LEVEL: u8 = 60;

/// Silence, and anything quieter than -127 dBov.
pub(crate) const SILENT: u8 = 127;

/// True when GStreamer can write the extension here.
pub(crate) fn available() -> bool {
    gst::ElementFactory::find(EXTENSION_FACTORY).is_some()
}

/// What goes after the Opus payloader in the microphone's encoder branch: the capsfilter
/// [`install`] fills in, or nothing (with a warning) when the extension cannot be written.
/// The track is published either way; without levels the server cannot highlight its
/// speaker.
pub(crate) fn branch_tail() -> String {
    tail(available())
}

fn tail(extension_present: bool) -> String {
    if extension_present {
        format!(" ! capsfilter name={CAPS_FILTER}")
    } else {
        warn!(
            "GStreamer has no {EXTENSION_FACTORY} (it arrived in 1.20): the microphone is \
             published without audio levels and the server cannot tell when we speak"
        );
        String::new()
    }
}

/// Payloader caps asking for the extension with `id`. The array form (direction, URI,
/// attributes) is the one the extension writes back, so it intersects with the
/// payloader's own caps.
fn caps(id: u8) -> gst::Caps {
    gst::Caps::builder("application/x-rtp")
        .field(format!("extmap-{id}"), gst::Array::new(["", URI, "vad=on"]))
        .build()
}

/// RFC 6464 level (0 = full scale, 127 = silence) from an RMS in dBov.
pub(crate) fn level_from_dbov(rms_dbov: f64) -> u8 {
    if rms_dbov.is_nan() {
        return SILENT;
    }
    (-rms_dbov).round().clamp(0.0, f64::from(SILENT)) as u8
}

/// The voice-activity flag sent with `level`.
pub(crate) fn is_voice(level: u8) -> bool {
    level <= VOICE_LEVEL
}

/// The raw audio since the last packet, as a running sum of squares.
#[derive(Debug, Default)]
struct Meter {
    sum: f64,
    samples: u64,
    /// The previous packet's level, for a packet with no new audio under it.
    last: Option<u8>,
}

impl Meter {
    /// Interleaved signed 16-bit little-endian samples (what opusenc takes).
    fn add_s16le(&mut self, bytes: &[u8]) {
        for s in bytes.chunks_exact(2) {
            let v = f64::from(i16::from_le_bytes([s[0], s[1]])) / 32768.0;
            self.sum += v * v;
        }
        self.samples += (bytes.len() / 2) as u64;
    }

    /// `samples` of silence (a gap buffer, whose bytes need not be read).
    fn add_silence(&mut self, samples: u64) {
        self.samples += samples;
    }

    /// The level of the audio since the last call.
    fn take(&mut self) -> u8 {
        let level = if self.samples == 0 {
            self.last.unwrap_or(SILENT)
        } else {
            let rms = (self.sum / self.samples as f64).sqrt();
            if rms > 0.0 {
                level_from_dbov(20.0 * rms.log10())
            } else {
                SILENT
            }
        };
        *self = Meter {
            last: Some(level),
            ..Meter::default()
        };
        level
    }
}

fn lock(m: &Mutex<Meter>) -> MutexGuard<'_, Meter> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Wires the levels into a microphone encoder branch built with [`branch_tail`] (named
/// `enc` for opusenc, `pay` for its payloader): asks the payloader for the extension,
/// measures what the encoder receives and stamps each encoded buffer. Call before the
/// branch starts, so the first packet already negotiates the extension. Does nothing for a
/// branch without the capsfilter.
pub(crate) fn install(bin: &gst::Bin) {
    let Some(filter) = bin.by_name(CAPS_FILTER) else {
        return;
    };
    let pads = bin
        .by_name("enc")
        .and_then(|e| e.static_pad("sink"))
        .zip(bin.by_name("pay").and_then(|p| p.static_pad("sink")));
    let Some((raw, encoded)) = pads else {
        warn!("microphone branch without encoder or payloader: no audio levels");
        return;
    };
    filter.set_property("caps", caps(OFFERED_ID));
    let meter = Arc::new(Mutex::new(Meter::default()));
    let m = meter.clone();
    raw.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let Some(gst::PadProbeData::Buffer(buffer)) = &info.data {
            if buffer.flags().contains(gst::BufferFlags::GAP) {
                lock(&m).add_silence((buffer.size() / 2) as u64);
            } else if let Ok(map) = buffer.map_readable() {
                lock(&m).add_s16le(map.as_slice());
            }
        }
        gst::PadProbeReturn::Ok
    });
    encoded.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let Some(gst::PadProbeData::Buffer(buffer)) = &mut info.data {
            let level = lock(&meter).take();
            let buffer = buffer.make_mut();
            // opusenc copies metas of its input; an upstream element's level (webrtcdsp's
            // voice detection, say) must not be the one the extension finds first.
            while let Some(old) = buffer.meta_mut::<AudioLevelMeta>() {
                if old.remove().is_err() {
                    break;
                }
            }
            AudioLevelMeta::add(buffer, level, is_voice(level));
        }
        gst::PadProbeReturn::Ok
    });
}

/// The id an SDP m-line maps the audio-level extension to, if any.
pub(crate) fn extmap_id(media: &gst_sdp::SDPMediaRef) -> Option<u8> {
    media
        .attributes()
        .filter(|a| a.key() == "extmap")
        .filter_map(|a| a.value())
        .find_map(|v| {
            let mut parts = v.split_whitespace();
            let id = parts.next()?.split('/').next()?.parse::<u8>().ok()?;
            (parts.next() == Some(URI)).then_some(id)
        })
}

/// Follows the server's answer: str0m answers with the offered id (it remaps its own), but
/// should an answer map the extension elsewhere the packets must carry that id, and an
/// answer without it means the server will not read levels.
pub(crate) fn adopt_answer(bin: &gst::Bin, media: &gst_sdp::SDPMediaRef) {
    let Some(filter) = bin.by_name(CAPS_FILTER) else {
        return;
    };
    match extmap_id(media) {
        Some(OFFERED_ID) => {}
        Some(id) if id > 0 => {
            info!(
                from = OFFERED_ID,
                to = id,
                "audio-level extension id from the answer"
            );
            // GStreamer 1.22's payloader keeps an extension whose id left its caps and
            // would write both: drop it first, the new caps then bring the one wanted.
            if let Some(pay) = bin.by_name("pay") {
                pay.emit_by_name::<()>("clear-extensions", &[]);
            }
            filter.set_property("caps", caps(id));
        }
        Some(_) => warn!("the answer maps audio levels to id 0, which RTP cannot carry"),
        None => warn!("the server did not accept audio levels: it cannot see us speak"),
    }
}

#[cfg(test)]
mod tests;
