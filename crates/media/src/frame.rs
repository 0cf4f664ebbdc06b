//! Video frames held by reference, for whoever shows them later.
//!
//! A [`SharedFrame`] is a decoded frame as the decoder produced it: the GStreamer buffer, mapped
//! once, with the plane layout (strides, offsets) read from its caps and `GstVideoMeta`. Cloning
//! it is a reference count, so a frame store can keep the latest frame of every track without
//! copying a pixel, and convert only the frames somebody asks for, on the asker's thread.
//!
//! An [`EncodedChunk`] is one encoded frame (an H.264 access unit in Annex B form, or a VP8
//! frame) as it left the depayloader, also held by reference.

use std::sync::Arc;

use gstreamer as gst;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;

use crate::MediaError;

/// How the frame's YUV values map to RGB, from its caps' colorimetry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum YuvMatrix {
    /// ITU-R BT.601 (standard definition; what most small frames say).
    Bt601,
    /// ITU-R BT.709 (HD).
    Bt709,
}

/// One plane of a mapped frame.
#[derive(Debug, Clone, Copy)]
pub struct Plane<'a> {
    /// The plane's bytes from its first row: `stride * rows` (the last row may be shorter).
    pub data: &'a [u8],
    /// Bytes from the start of one row to the start of the next.
    pub stride: usize,
    /// Pixels per row that carry picture.
    pub width: usize,
    /// Rows.
    pub rows: usize,
}

/// A decoded I420 frame, shared with the decoder's buffer. Clone it freely.
#[derive(Clone)]
pub struct SharedFrame {
    frame: Arc<gst_video::VideoFrame<gst_video::video_frame::Readable>>,
}

impl std::fmt::Debug for SharedFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedFrame")
            .field("width", &self.width())
            .field("height", &self.height())
            .field("strides", &self.frame.plane_stride())
            .finish()
    }
}

impl SharedFrame {
    /// Holds a decoded sample. Only I420 is accepted: it is what the decoders here produce,
    /// and what the page's paths take.
    pub fn from_sample(sample: &gst::Sample) -> Result<Self, MediaError> {
        let caps = sample
            .caps()
            .ok_or_else(|| MediaError::Pipeline("decoded sample without caps".into()))?;
        let buffer = sample
            .buffer_owned()
            .ok_or_else(|| MediaError::Pipeline("decoded sample without a buffer".into()))?;
        let info = gst_video::VideoInfo::from_caps(caps)
            .map_err(|e| MediaError::Pipeline(format!("decoded caps {caps}: {e}")))?;
        Self::from_buffer(buffer, &info)
    }

    /// Holds `buffer` laid out as `info` says (a `GstVideoMeta` on the buffer wins).
    pub fn from_buffer(
        buffer: gst::Buffer,
        info: &gst_video::VideoInfo,
    ) -> Result<Self, MediaError> {
        if info.format() != gst_video::VideoFormat::I420 {
            return Err(MediaError::Pipeline(format!(
                "decoded format {} is not I420",
                info.format()
            )));
        }
        let frame = gst_video::VideoFrame::from_buffer_readable(buffer, info)
            .map_err(|_| MediaError::Pipeline("decoded buffer does not match its caps".into()))?;
        Ok(Self {
            frame: Arc::new(frame),
        })
    }

    /// An I420 frame from bytes in GStreamer's default layout for `width` x `height` (rows
    /// padded to 4 bytes), e.g. a picture made in a test.
    pub fn from_i420_bytes(width: u32, height: u32, data: Vec<u8>) -> Result<Self, MediaError> {
        let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, width, height)
            .build()
            .map_err(|e| MediaError::Pipeline(format!("{width}x{height}: {e}")))?;
        if data.len() < info.size() {
            return Err(MediaError::Pipeline(format!(
                "{width}x{height} I420 needs {} bytes, got {}",
                info.size(),
                data.len()
            )));
        }
        Self::from_buffer(gst::Buffer::from_mut_slice(data), &info)
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.frame.width()
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.frame.height()
    }

    /// The colour matrix to turn its YUV into RGB.
    pub fn matrix(&self) -> YuvMatrix {
        match self.frame.info().colorimetry().matrix() {
            gst_video::VideoColorMatrix::Bt709 => YuvMatrix::Bt709,
            _ => YuvMatrix::Bt601,
        }
    }

    /// Whether Y spans 0..=255 rather than 16..=235.
    pub fn full_range(&self) -> bool {
        self.frame.info().colorimetry().range() == gst_video::VideoColorRange::Range0_255
    }

    /// Plane `i` (0 = Y, 1 = U, 2 = V) with its stride.
    pub fn plane(&self, i: u32) -> Plane<'_> {
        let data = self.frame.plane_data(i).unwrap_or_default();
        let stride = self
            .frame
            .plane_stride()
            .get(i as usize)
            .copied()
            .unwrap_or(0)
            .max(0) as usize;
        let (w, h) = (self.width() as usize, self.height() as usize);
        let (width, rows) = if i == 0 {
            (w, h)
        } else {
            (w.div_ceil(2), h.div_ceil(2))
        };
        Plane {
            data,
            stride,
            width,
            rows,
        }
    }

    /// Converts to RGBA at `out_w` x `out_h` (GStreamer's converter: the caps' colour matrix,
    /// bilinear scaling) into `out`, whose first `header` bytes are left for the caller. Returns
    /// the buffer, `header + out_w * out_h * 4` long.
    pub fn to_rgba(&self, out_w: u32, out_h: u32, header: usize) -> Result<Vec<u8>, MediaError> {
        let in_info = self.frame.info();
        let stride = out_w as usize * 4;
        let size = header + stride * out_h as usize;
        let out_info = gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgba, out_w, out_h)
            .fps(in_info.fps())
            .offset(&[header])
            .stride(&[stride as i32])
            .size(size)
            .build()
            .map_err(|e| MediaError::Pipeline(format!("RGBA {out_w}x{out_h}: {e}")))?;
        let mut config = gst_video::VideoConverterConfig::new();
        config.set_resampler_method(gst_video::VideoResamplerMethod::Linear);
        config.set_chroma_resampler_method(gst_video::VideoResamplerMethod::Linear);
        config.set_dither_method(gst_video::VideoDitherMethod::None);
        let converter = gst_video::VideoConverter::new(in_info, &out_info, Some(config))
            .map_err(|e| MediaError::Pipeline(format!("converter: {e}")))?;
        let mut buffer = gst::Buffer::from_mut_slice(vec![0u8; size]);
        {
            let buffer = buffer
                .get_mut()
                .ok_or_else(|| MediaError::Pipeline("new buffer not writable".into()))?;
            let mut dest = gst_video::VideoFrameRef::from_buffer_ref_writable(buffer, &out_info)
                .map_err(|_| MediaError::Pipeline("cannot map the RGBA buffer".into()))?;
            converter.frame_ref(&self.frame.as_video_frame_ref(), &mut dest);
        }
        buffer
            .try_into_inner::<Vec<u8>>()
            .map_err(|(_, e)| MediaError::Pipeline(format!("RGBA buffer: {e:?}")))
    }

    /// Appends the three planes to `out`, rows tightly packed (stride = plane width), picking
    /// every `n`th pixel and row when `out_w`/`out_h` are smaller than the frame (nearest
    /// neighbour). `out_w` and `out_h` must not exceed the frame's size.
    pub fn write_i420(&self, out_w: u32, out_h: u32, out: &mut Vec<u8>) {
        let (out_w, out_h) = (
            out_w.clamp(1, self.width()) as usize,
            out_h.clamp(1, self.height()) as usize,
        );
        for i in 0..3 {
            let p = self.plane(i);
            let (ow, oh) = if i == 0 {
                (out_w, out_h)
            } else {
                (out_w.div_ceil(2), out_h.div_ceil(2))
            };
            for oy in 0..oh {
                let sy = oy * p.rows / oh;
                let Some(row) = p.data.get(sy * p.stride..) else {
                    out.resize(out.len() + ow, 0);
                    continue;
                };
                let row = &row[..p.width.min(row.len())];
                if ow == p.width && row.len() == ow {
                    out.extend_from_slice(row);
                } else {
                    out.extend((0..ow).map(|ox| row.get(ox * p.width / ow).copied().unwrap_or(0)));
                }
            }
        }
    }
}

/// One encoded video frame before the decoder: a VP8 frame, or an H.264 access unit either in
/// AVC form (length-prefixed NAL units, with the stream's `avcC` configuration as its
/// description) or in Annex B form (start codes, SPS/PPS in-band, no description). Cloning is
/// a reference count.
#[derive(Clone, Debug)]
pub struct EncodedChunk {
    buffer: gst::Buffer,
    description: Option<gst::Buffer>,
}

impl EncodedChunk {
    /// Holds `buffer`, with the stream's decoder configuration when it has one out of band.
    pub fn new(buffer: gst::Buffer, description: Option<gst::Buffer>) -> Self {
        Self {
            buffer,
            description,
        }
    }

    /// An encoded frame made of `bytes`, e.g. in a test.
    pub fn from_bytes(bytes: Vec<u8>, keyframe: bool, description: Option<Vec<u8>>) -> Self {
        let mut buffer = gst::Buffer::from_mut_slice(bytes);
        if !keyframe && let Some(b) = buffer.get_mut() {
            b.set_flags(gst::BufferFlags::DELTA_UNIT);
        }
        Self {
            buffer,
            description: description.map(gst::Buffer::from_mut_slice),
        }
    }

    /// The decoder configuration the stream carries out of band (H.264 `avcC`), if any.
    pub fn description(&self) -> Option<Vec<u8>> {
        let map = self.description.as_ref()?.map_readable().ok()?;
        Some(map.as_slice().to_vec())
    }

    /// Its size in bytes.
    pub fn len(&self) -> usize {
        self.buffer.size()
    }

    /// Whether it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether it decodes on its own (no `DELTA_UNIT` flag).
    pub fn is_keyframe(&self) -> bool {
        !self.buffer.flags().contains(gst::BufferFlags::DELTA_UNIT)
    }

    /// Appends its bytes to `out`.
    pub fn append_to(&self, out: &mut Vec<u8>) -> Result<(), MediaError> {
        let map = self
            .buffer
            .map_readable()
            .map_err(|e| MediaError::Pipeline(format!("map encoded frame: {e}")))?;
        out.extend_from_slice(map.as_slice());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn init() {
        gst::init().expect("GStreamer");
    }

    /// A `w` x `h` frame in GStreamer's default layout: Y rising with x (a horizontal ramp),
    /// U = 100, V = 150.
    fn ramp(w: u32, h: u32) -> SharedFrame {
        let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, w, h)
            .build()
            .expect("info");
        let mut data = vec![0u8; info.size()];
        let (strides, offsets) = (info.stride(), info.offset());
        for y in 0..h as usize {
            for x in 0..w as usize {
                data[offsets[0] + y * strides[0] as usize + x] = (x * 255 / (w as usize - 1)) as u8;
            }
        }
        for (plane, value) in [(1, 100u8), (2, 150u8)] {
            for y in 0..h.div_ceil(2) as usize {
                for x in 0..w.div_ceil(2) as usize {
                    data[offsets[plane] + y * strides[plane] as usize + x] = value;
                }
            }
        }
        SharedFrame::from_i420_bytes(w, h, data).expect("frame")
    }

    #[test]
    fn planes_carry_their_strides_and_pack_tightly() {
        init();
        let f = ramp(1366, 10);
        assert_eq!(f.plane(0).stride, 1368, "GStreamer pads rows to 4 bytes");
        assert_eq!(f.plane(1).stride, 684);
        assert_eq!((f.plane(1).width, f.plane(1).rows), (683, 5));
        let mut out = Vec::new();
        f.write_i420(1366, 10, &mut out);
        assert_eq!(out.len(), 1366 * 10 + 2 * 683 * 5);
        for row in 0..10 {
            assert_eq!(out[row * 1366], 0, "row {row} starts black");
            assert_eq!(out[row * 1366 + 1365], 255, "row {row} ends white");
        }
        assert!(
            out[1366 * 10..1366 * 10 + 683 * 5]
                .iter()
                .all(|&u| u == 100)
        );
        assert!(out[1366 * 10 + 683 * 5..].iter().all(|&v| v == 150));
        let mut half = Vec::new();
        f.write_i420(683, 5, &mut half);
        assert_eq!(half.len(), 683 * 5 + 2 * 342 * 3);
        assert_eq!(
            half[682], 254,
            "the last column picked is the frame's 1364th"
        );
    }

    #[test]
    fn rgba_follows_the_matrix_and_leaves_room_for_a_header() {
        init();
        // Limited-range white (235, 128, 128) at 64x48: converted to 255 everywhere.
        let (w, h) = (64u32, 48u32);
        let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, w, h)
            .build()
            .expect("info");
        let mut data = vec![128u8; info.size()];
        data[..info.offset()[1]].fill(235);
        let white = SharedFrame::from_i420_bytes(w, h, data).expect("frame");
        let out = white.to_rgba(32, 24, 8).expect("rgba");
        assert_eq!(out.len(), 8 + 32 * 24 * 4);
        assert!(out[..8].iter().all(|&b| b == 0), "header room untouched");
        assert!(out[8..].iter().all(|&b| b >= 253), "white stays white");
        // The ramp keeps its direction when scaled.
        let f = ramp(1366, 8);
        let rgba = f.to_rgba(683, 4, 0).expect("rgba");
        let px = |x: usize, y: usize| rgba[(y * 683 + x) * 4];
        for y in 0..4 {
            assert!(
                px(5, y) < 20 && px(677, y) > 200,
                "row {y}: {} .. {}",
                px(5, y),
                px(677, y)
            );
        }
    }

    #[test]
    fn refuses_frames_it_cannot_lay_out() {
        init();
        assert!(SharedFrame::from_i420_bytes(64, 64, vec![0; 10]).is_err());
        let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::Nv12, 64, 64)
            .build()
            .expect("info");
        let nv12 = gst::Buffer::from_mut_slice(vec![0u8; info.size()]);
        assert!(SharedFrame::from_buffer(nv12, &info).is_err());
    }

    #[test]
    fn encoded_chunks_know_keyframes() {
        init();
        let key = EncodedChunk::from_bytes(vec![1, 2, 3], true, Some(vec![1, 0x42]));
        assert!(key.is_keyframe());
        assert_eq!(key.description(), Some(vec![1, 0x42]));
        let delta = EncodedChunk::from_bytes(vec![4u8, 5], false, None);
        assert_eq!(delta.description(), None);
        assert!(!delta.is_keyframe());
        let mut out = vec![9];
        key.append_to(&mut out).expect("map");
        delta.append_to(&mut out).expect("map");
        assert_eq!(out, [9, 1, 2, 3, 4, 5]);
        assert_eq!((key.len(), delta.is_empty()), (3, false));
    }
}
