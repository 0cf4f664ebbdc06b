//! The closed valve in front of a track's decoder while its sink decodes on demand
//! ([`super::FrameSink::decodes_on_demand`]), and what an encoded frame tells of its size.

use std::time::Instant;

use gstreamer as gst;
use gstreamer::prelude::*;
use tracing::debug;

use super::caps_size;
use crate::encode::VideoCodec;
use crate::pipeline::force_key_unit;

/// How often a track that has not decoded a frame yet asks for a keyframe.
pub(super) const KEYFRAME_RETRY: std::time::Duration = std::time::Duration::from_millis(150);

/// Opens the valve at a keyframe once the sink wants the track decoded, asking for one at
/// once (and again every [`KEYFRAME_RETRY`] until one comes); it stays open. The frames are
/// counted by the caller meanwhile, from the encoded frames.
pub(super) struct Gate {
    valve: gst::Element,
    open: bool,
    asked: Option<Instant>,
}

impl Gate {
    pub(super) fn new(valve: gst::Element) -> Self {
        Self {
            valve,
            open: false,
            asked: None,
        }
    }

    /// An encoded frame (`key`: a keyframe) of track `track_id` on its way to the valve
    /// (`pad`: the tap it passed); `wanted` tells whether the sink wants the track decoded,
    /// asked only while the valve is closed.
    pub(super) fn on_frame(
        &mut self,
        pad: &gst::Pad,
        key: bool,
        wanted: impl FnOnce() -> bool,
        track_id: &str,
    ) {
        if self.open || !wanted() {
            return;
        }
        if key {
            // Set before this buffer reaches the valve: the decoder starts at this keyframe.
            self.valve.set_property("drop", false);
            self.open = true;
            debug!(track = %track_id, "decoding from this keyframe on");
        } else if self.asked.is_none_or(|t| t.elapsed() >= KEYFRAME_RETRY) {
            self.asked = Some(Instant::now());
            let sent = pad.send_event(force_key_unit(false));
            debug!(track = %track_id, sent, "keyframe asked for to start decoding");
        }
    }
}

/// The picture size a keyframe of `codec` declares: a VP8 keyframe's header, or the caps
/// h264parse put on `pad`.
pub(super) fn encoded_size(
    codec: VideoCodec,
    pad: &gst::Pad,
    buffer: &gst::Buffer,
) -> Option<(u32, u32)> {
    match codec {
        VideoCodec::Vp8 => buffer
            .map_readable()
            .ok()
            .and_then(|map| vp8_keyframe_size(&map)),
        _ => pad.current_caps().and_then(|caps| caps_size(&caps)),
    }
}

/// The picture size a VP8 keyframe declares (RFC 6386 9.1: a 3-byte frame tag whose lowest
/// bit is 0 for a keyframe, the start code 9d 01 2a, then width and height in 14 bits each).
pub(crate) fn vp8_keyframe_size(frame: &[u8]) -> Option<(u32, u32)> {
    match frame {
        [tag, _, _, 0x9d, 0x01, 0x2a, w0, w1, h0, h1, ..] if tag & 1 == 0 => {
            let w = u32::from(u16::from_le_bytes([*w0, *w1]) & 0x3fff);
            let h = u32::from(u16::from_le_bytes([*h0, *h1]) & 0x3fff);
            (w > 0 && h > 0).then_some((w, h))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::vp8_keyframe_size;

    #[test]
    fn a_vp8_keyframe_tells_its_size_and_nothing_else_does() {
        // The first 12 bytes of vp8enc's keyframe and next frame at 1366x768, and a whole
        // 16x16 keyframe.
        let key = [
            0x50, 0x28, 0x02, 0x9d, 0x01, 0x2a, 0x56, 0x05, 0x00, 0x03, 0x01, 0x07,
        ];
        let delta = [
            0x31, 0x4a, 0x00, 0x0f, 0x11, 0xfc, 0x00, 0x18, 0x88, 0x8d, 0xfe, 0x77,
        ];
        let small = [
            0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x10, 0x00, 0x10, 0x00, 0x00, 0x47, 0x08, 0x85,
        ];
        assert_eq!(vp8_keyframe_size(&key), Some((1366, 768)));
        assert_eq!(vp8_keyframe_size(&small), Some((16, 16)));
        assert_eq!(vp8_keyframe_size(&delta), None);
        assert_eq!(vp8_keyframe_size(&key[..9]), None, "cut short");
        let mut no_start_code = key;
        no_start_code[4] = 0;
        assert_eq!(vp8_keyframe_size(&no_start_code), None);
        // The top two bits of each side are the scaling mode, not the size.
        let mut scaled = key;
        scaled[7] |= 0xc0;
        assert_eq!(vp8_keyframe_size(&scaled), Some((1366, 768)));
    }

    #[test]
    fn any_bytes_from_the_network_give_a_size_in_range_or_none() {
        // The frames come from whoever publishes: every input answers, none panics.
        let mut seed = 0x9e37_79b9_u32;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        let mut sized = 0;
        for n in 0..20_000 {
            let mut frame: Vec<u8> = (0..n % 16).map(|_| next() as u8).collect();
            if n % 2 == 0 && frame.len() >= 6 {
                // Half with a keyframe's tag and start code, so the size fields are read.
                frame[0] &= 0xfe;
                frame[3..6].copy_from_slice(&[0x9d, 0x01, 0x2a]);
            }
            if let Some((w, h)) = vp8_keyframe_size(&frame) {
                assert!((1..=0x3fff).contains(&w) && (1..=0x3fff).contains(&h));
                sized += 1;
            }
        }
        assert!(sized > 1000, "the keyframe-shaped inputs are read: {sized}");
    }
}
