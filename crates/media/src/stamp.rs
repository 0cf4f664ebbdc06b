//! Capture-time stamps drawn into the picture, for glass-to-glass delay measurement.
//!
//! The publisher writes the capture time (milliseconds of the system's monotonic clock, low
//! 32 bits) into the top-left corner of each raw frame as a grid of black and white blocks,
//! 32 data bits plus an 8-bit CRC. Blocks of 16x16 luma pixels survive any sane encoder
//! setting; the reader samples each block's centre and rejects a stamp whose CRC fails. Both
//! ends run on one machine and read the same monotonic clock, so the receiver's "now" minus
//! the stamp is the delay from capture to decoded frame.

use gstreamer as gst;
use gstreamer::prelude::*;

/// Side of one bit's block in luma pixels.
pub const BLOCK: usize = 16;
const COLS: usize = 8;
const ROWS: usize = 5;
const BITS: usize = COLS * ROWS;
const BLACK: u8 = 16;
const WHITE: u8 = 235;
const MID: u32 = (BLACK as u32 + WHITE as u32) / 2;

/// Width and height in pixels of the stamp area.
pub const AREA: (usize, usize) = (COLS * BLOCK, ROWS * BLOCK);

/// Milliseconds of the monotonic system clock (GStreamer's system clock, CLOCK_MONOTONIC),
/// which every process on the machine shares.
pub fn now_ms() -> u64 {
    gst::SystemClock::obtain().time().mseconds()
}

/// Milliseconds from a stamp to `now_ms` (32-bit wrap-around aware).
pub fn elapsed_ms(stamp: u32, now_ms: u64) -> i64 {
    i64::from((now_ms as u32).wrapping_sub(stamp) as i32)
}

/// CRC-8 (polynomial 0x07) of the value's bytes.
fn crc8(value: u32) -> u8 {
    let mut crc = 0u8;
    for byte in value.to_be_bytes() {
        crc ^= byte;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn word(value: u32) -> u64 {
    (u64::from(value) << 8) | u64::from(crc8(value))
}

/// Default row stride of an I420 luma plane (GStreamer rounds it up to 4 bytes).
pub fn i420_stride(width: usize) -> usize {
    width.div_ceil(4) * 4
}

/// Draws `value` into a luma plane. Returns false (and draws nothing) when the plane is too
/// small to hold the stamp.
pub fn write(luma: &mut [u8], stride: usize, width: usize, height: usize, value: u32) -> bool {
    let (w, h) = AREA;
    if width < w || height < h || stride < width || luma.len() < stride * (h - 1) + w {
        return false;
    }
    let word = word(value);
    for bit in 0..BITS {
        let on = (word >> (BITS - 1 - bit)) & 1 == 1;
        let (bx, by) = ((bit % COLS) * BLOCK, (bit / COLS) * BLOCK);
        let level = if on { WHITE } else { BLACK };
        for y in by..by + BLOCK {
            luma[y * stride + bx..y * stride + bx + BLOCK].fill(level);
        }
    }
    true
}

/// Reads a stamp back from a (decoded) luma plane; `None` when there is none or it is damaged.
pub fn read(luma: &[u8], stride: usize, width: usize, height: usize) -> Option<u32> {
    let (w, h) = AREA;
    if width < w || height < h || stride < width || luma.len() < stride * (h - 1) + w {
        return None;
    }
    let mut word = 0u64;
    // The centre half of each block: codec ringing stays at the edges.
    let (lo, hi) = (BLOCK / 4, BLOCK - BLOCK / 4);
    for bit in 0..BITS {
        let (bx, by) = ((bit % COLS) * BLOCK, (bit / COLS) * BLOCK);
        let mut sum = 0u32;
        for y in by + lo..by + hi {
            for x in bx + lo..bx + hi {
                sum += u32::from(luma[y * stride + x]);
            }
        }
        let mean = sum / ((hi - lo) * (hi - lo)) as u32;
        word = (word << 1) | u64::from(mean > MID);
    }
    let value = (word >> 8) as u32;
    (crc8(value) == (word & 0xff) as u8).then_some(value)
}

/// Stamps every raw I420 frame passing `pad` with the current [`now_ms`]. Frames in other
/// formats, or too small, pass untouched.
pub(crate) fn stamp_pad(pad: &gst::Pad) {
    pad.add_probe(gst::PadProbeType::BUFFER, |pad, info| {
        let Some((width, height)) = pad.current_caps().and_then(|c| i420_size(&c)) else {
            return gst::PadProbeReturn::Ok;
        };
        if let Some(buffer) = info.buffer_mut() {
            let buffer = buffer.make_mut();
            if let Ok(mut map) = buffer.map_writable() {
                write(
                    map.as_mut_slice(),
                    i420_stride(width),
                    width,
                    height,
                    now_ms() as u32,
                );
            }
        }
        gst::PadProbeReturn::Ok
    });
}

fn i420_size(caps: &gst::CapsRef) -> Option<(usize, usize)> {
    let s = caps.structure(0)?;
    if s.get::<&str>("format").ok()? != "I420" {
        return None;
    }
    let w = usize::try_from(s.get::<i32>("width").ok()?).ok()?;
    let h = usize::try_from(s.get::<i32>("height").ok()?).ok()?;
    Some((w, h))
}

/// Reads the stamp of a decoded frame handed to a [`crate::FrameSink`] (I420 only).
pub fn read_frame(frame: &crate::DecodedFrame<'_>) -> Option<u32> {
    if frame.format != "I420" {
        return None;
    }
    let (w, h) = (frame.width as usize, frame.height as usize);
    read(frame.data, i420_stride(w), w, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(w: usize, h: usize) -> Vec<u8> {
        // A gradient background, so the stamp is not read off a flat picture by luck.
        (0..w * h).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn round_trips_values() {
        for value in [0, 1, 0xdead_beef, u32::MAX, 123_456_789] {
            let mut p = plane(320, 240);
            assert!(write(&mut p, 320, 320, 240, value));
            assert_eq!(read(&p, 320, 320, 240), Some(value));
        }
    }

    #[test]
    fn survives_noise_and_blur_at_the_edges() {
        let mut p = plane(640, 360);
        assert!(write(&mut p, 640, 640, 360, 0x1234_5678));
        // Codec-like damage: +-40 noise everywhere, edges smeared.
        for (i, px) in p.iter_mut().enumerate() {
            let noise = ((i * 7919) % 81) as i32 - 40;
            *px = (i32::from(*px) + noise).clamp(0, 255) as u8;
        }
        for y in 0..AREA.1 {
            for x in (0..AREA.0).step_by(BLOCK) {
                p[y * 640 + x] = 128;
                p[y * 640 + x + BLOCK - 1] = 128;
            }
        }
        assert_eq!(read(&p, 640, 640, 360), Some(0x1234_5678));
    }

    #[test]
    fn rejects_unstamped_damaged_and_small_frames() {
        assert_eq!(read(&plane(320, 240), 320, 320, 240), None);
        let mut p = plane(320, 240);
        assert!(write(&mut p, 320, 320, 240, 42));
        // Flip one data block: the CRC catches it.
        for y in 0..BLOCK {
            for x in 0..BLOCK {
                p[y * 320 + BLOCK * 3 + x] ^= 0xff;
            }
        }
        assert_eq!(read(&p, 320, 320, 240), None);
        let mut tiny = plane(64, 48);
        assert!(!write(&mut tiny, 64, 64, 48, 1));
        assert_eq!(read(&tiny, 64, 64, 48), None);
        assert_eq!(read(&[], 320, 320, 240), None);
    }

    #[test]
    fn padded_stride_and_wrapping_elapsed() {
        let (w, h) = (322, 200);
        let stride = i420_stride(w);
        assert_eq!(stride, 324);
        let mut p = vec![0u8; stride * h];
        assert!(write(&mut p, stride, w, h, 7));
        assert_eq!(read(&p, stride, w, h), Some(7));
        assert_eq!(elapsed_ms(1000, 1042), 42);
        assert_eq!(elapsed_ms(u32::MAX - 9, 1u64 << 32), 10);
        assert_eq!(elapsed_ms(1042, 1000), -42);
    }
}
