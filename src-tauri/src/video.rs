//! Remote video into the page. WebKitGTK has no WebRTC, so the Rust side decodes (GStreamer)
//! and the page draws: [`FrameStore`] keeps the latest decoded frame of each track, and the
//! `video_frame` command hands the page an RGBA copy, scaled to what a tile shows, as raw bytes
//! (no JSON). The page *pulls* at its own paint rate, so a slow webview skips frames instead
//! of queueing them, and only frames that are shown are converted.

use std::collections::HashMap;
use std::sync::Mutex;

use classroom_media::{DecodedFrame, FrameSink};

/// Frames are converted no wider than this for a tile (the page scales up with CSS).
pub const MAX_TILE_WIDTH: u32 = 640;

/// Bytes of the header before the pixels: width, height and frame number, little-endian u32.
pub const HEADER_BYTES: usize = 12;

struct Latest {
    width: u32,
    height: u32,
    seq: u32,
    /// I420 planes, as decoded.
    i420: Vec<u8>,
}

/// The latest decoded frame per track.
#[derive(Default)]
pub struct FrameStore {
    frames: Mutex<HashMap<String, Latest>>,
}

impl FrameSink for FrameStore {
    fn on_frame(&self, frame: &DecodedFrame<'_>) {
        if frame.format != "I420" || i420_len(frame.width, frame.height) > frame.data.len() {
            return; // only what the decoders here produce; anything else is not drawn
        }
        let mut frames = self.frames.lock().unwrap_or_else(|p| p.into_inner());
        let latest = frames
            .entry(frame.track.track_id.clone())
            .or_insert_with(|| Latest {
                width: 0,
                height: 0,
                seq: 0,
                i420: Vec::new(),
            });
        latest.width = frame.width;
        latest.height = frame.height;
        latest.seq = latest.seq.wrapping_add(1);
        latest.i420.clear();
        latest.i420.extend_from_slice(frame.data);
    }
}

impl FrameStore {
    /// The track's latest frame as header + RGBA, scaled to at most `max_width`, or `None`
    /// when there is no frame newer than `after` (the number the page drew last).
    pub fn rgba(&self, track_id: &str, after: u32, max_width: u32) -> Option<Vec<u8>> {
        let frames = self.frames.lock().unwrap_or_else(|p| p.into_inner());
        let f = frames.get(track_id)?;
        if f.seq == after || f.width == 0 {
            return None;
        }
        let out_w = f.width.min(max_width.clamp(16, MAX_TILE_WIDTH));
        let out_h = (u64::from(f.height) * u64::from(out_w) / u64::from(f.width)).max(1) as u32;
        let mut out = Vec::with_capacity(HEADER_BYTES + (out_w * out_h * 4) as usize);
        out.extend_from_slice(&out_w.to_le_bytes());
        out.extend_from_slice(&out_h.to_le_bytes());
        out.extend_from_slice(&f.seq.to_le_bytes());
        i420_to_rgba_scaled(&f.i420, f.width, f.height, out_w, out_h, &mut out);
        Some(out)
    }

    /// Forgets every frame (leaving a class).
    pub fn clear(&self) {
        self.frames
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

fn i420_len(w: u32, h: u32) -> usize {
    let (w, h) = (w as usize, h as usize);
    w * h + 2 * (w.div_ceil(2) * h.div_ceil(2))
}

/// BT.601 limited-range I420 to RGBA, nearest-neighbour scaled to `ow`x`oh`, appended to `out`.
fn i420_to_rgba_scaled(src: &[u8], w: u32, h: u32, ow: u32, oh: u32, out: &mut Vec<u8>) {
    let (w, h) = (w as usize, h as usize);
    let cw = w.div_ceil(2);
    let (y_plane, rest) = src.split_at(w * h);
    let (u_plane, v_plane) = rest.split_at(cw * h.div_ceil(2));
    let clamp = |v: i32| v.clamp(0, 255) as u8;
    for oy in 0..oh as usize {
        let sy = oy * h / oh as usize;
        for ox in 0..ow as usize {
            let sx = ox * w / ow as usize;
            let c = (sy / 2) * cw + sx / 2;
            let y = i32::from(y_plane[sy * w + sx]) - 16;
            let u = i32::from(u_plane[c]) - 128;
            let v = i32::from(v_plane[c]) - 128;
            let y = 298 * y + 128;
            out.extend_from_slice(&[
                clamp((y + 409 * v) >> 8),
                clamp((y - 100 * u - 208 * v) >> 8),
                clamp((y + 516 * u) >> 8),
                255,
            ]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use classroom_protocol::{MediaKind, Source, TrackInfo};

    fn track() -> TrackInfo {
        TrackInfo {
            track_id: "t1".into(),
            participant_id: "p1".into(),
            source: Source::Camera,
            kind: MediaKind::Video,
        }
    }

    /// A w x h I420 frame of one colour (Y, U, V).
    fn solid(w: u32, h: u32, yuv: (u8, u8, u8)) -> Vec<u8> {
        let luma = (w * h) as usize;
        let chroma = (w.div_ceil(2) * h.div_ceil(2)) as usize;
        let mut v = vec![yuv.0; luma];
        v.extend(std::iter::repeat_n(yuv.1, chroma));
        v.extend(std::iter::repeat_n(yuv.2, chroma));
        v
    }

    #[test]
    fn colours_convert_as_bt601() {
        let mut out = Vec::new();
        // Limited-range white, black, and pure red (Y=81, U=90, V=240).
        i420_to_rgba_scaled(&solid(2, 2, (235, 128, 128)), 2, 2, 1, 1, &mut out);
        i420_to_rgba_scaled(&solid(2, 2, (16, 128, 128)), 2, 2, 1, 1, &mut out);
        i420_to_rgba_scaled(&solid(2, 2, (81, 90, 240)), 2, 2, 1, 1, &mut out);
        assert_eq!(&out[0..4], &[255, 255, 255, 255]);
        assert_eq!(&out[4..8], &[0, 0, 0, 255]);
        assert!(
            out[8] > 250 && out[9] < 5 && out[10] < 5,
            "{:?}",
            &out[8..12]
        );
    }

    #[test]
    fn the_page_gets_each_frame_once_scaled_to_its_tile() {
        let store = FrameStore::default();
        let t = track();
        assert!(store.rgba("t1", 0, 320).is_none(), "nothing decoded yet");
        let data = solid(1280, 720, (235, 128, 128));
        store.on_frame(&DecodedFrame {
            track: &t,
            width: 1280,
            height: 720,
            format: "I420",
            data: &data,
        });
        let out = store.rgba("t1", 0, 320).expect("a frame");
        let word = |i: usize| u32::from_le_bytes([out[i], out[i + 1], out[i + 2], out[i + 3]]);
        assert_eq!((word(0), word(4), word(8)), (320, 180, 1));
        assert_eq!(out.len(), HEADER_BYTES + 320 * 180 * 4);
        assert!(store.rgba("t1", 1, 320).is_none(), "already drawn");
        assert_eq!(
            word(0),
            320,
            "a tile never asks for more than MAX_TILE_WIDTH"
        );
        let wide = store.rgba("t1", 0, 10_000).expect("frame");
        assert_eq!(
            u32::from_le_bytes([wide[0], wide[1], wide[2], wide[3]]),
            MAX_TILE_WIDTH
        );
    }

    #[test]
    fn short_or_foreign_frames_are_ignored() {
        let store = FrameStore::default();
        let t = track();
        let data = vec![0u8; 10];
        for format in ["I420", "NV12"] {
            store.on_frame(&DecodedFrame {
                track: &t,
                width: 64,
                height: 64,
                format,
                data: &data,
            });
        }
        assert!(store.rgba("t1", 0, 64).is_none());
    }
}
