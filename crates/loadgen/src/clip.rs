//! The media a synthetic publisher sends: a real VP8 clip (IVF) and real Opus packets (Ogg),
//! read once into memory, looped with continuous RTP timestamps, cut into RTP payloads.

use std::path::Path;

use crate::LoadError;

/// One encoded video frame.
#[derive(Debug, Clone)]
pub struct VideoFrame {
    /// The VP8 frame as the encoder produced it.
    pub data: Vec<u8>,
    /// True for a keyframe (VP8 frame tag bit 0 clear).
    pub keyframe: bool,
}

/// A VP8 clip read from an IVF file.
#[derive(Debug, Clone)]
pub struct VideoClip {
    /// Frames in order.
    pub frames: Vec<VideoFrame>,
    /// Frames per second (from the IVF time base).
    pub fps: f64,
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
}

/// A clip file's bytes, or which file could not be read.
fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.display().to_string(),
        source,
    })
}

impl VideoClip {
    /// Reads an IVF file holding VP8.
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        Self::parse(&read(path)?)
    }

    /// Parses IVF: a 32-byte file header, then per frame a 12-byte header and the frame.
    pub fn parse(bytes: &[u8]) -> Result<Self, LoadError> {
        let bad = |why: &str| LoadError::BadClip(format!("IVF: {why}"));
        if bytes.len() < 32 || &bytes[0..4] != b"DKIF" {
            return Err(bad("no DKIF signature"));
        }
        if &bytes[8..12] != b"VP80" {
            return Err(bad("not VP8 (fourcc is not VP80)"));
        }
        let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
        let u32_at =
            |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let header_len = usize::from(u16_at(6));
        let (width, height) = (u16_at(12), u16_at(14));
        let (rate, scale) = (u32_at(16), u32_at(20));
        // Muxers disagree on which of rate/scale is which; frames per second is the larger
        // quotient that is sensible for video.
        let fps = match (rate, scale) {
            (0, _) | (_, 0) => 30.0,
            (r, s) => {
                let a = f64::from(r) / f64::from(s);
                if a >= 1.0 { a } else { 1.0 / a }
            }
        };
        let fps = if (1.0..=240.0).contains(&fps) {
            fps
        } else {
            30.0
        };
        let mut frames = Vec::new();
        let mut at = header_len.max(32);
        while at + 12 <= bytes.len() {
            let len = u32_at(at) as usize;
            at += 12;
            let Some(data) = bytes.get(at..at + len) else {
                return Err(bad("truncated frame"));
            };
            at += len;
            if data.is_empty() {
                continue;
            }
            frames.push(VideoFrame {
                keyframe: data[0] & 1 == 0,
                data: data.to_vec(),
            });
        }
        if frames.is_empty() {
            return Err(bad("no frames"));
        }
        if !frames[0].keyframe {
            return Err(bad(
                "the first frame is not a keyframe, so the clip cannot loop",
            ));
        }
        Ok(VideoClip {
            frames,
            fps,
            width,
            height,
        })
    }

    /// Average bitrate in bits per second.
    pub fn bitrate(&self) -> f64 {
        let bytes: usize = self.frames.iter().map(|f| f.data.len()).sum();
        bytes as f64 * 8.0 * self.fps / self.frames.len() as f64
    }
}

/// Opus packets read from an Ogg file (20 ms each as the asset is made).
#[derive(Debug, Clone)]
pub struct AudioClip {
    /// Opus packets in order, without the OpusHead/OpusTags headers.
    pub packets: Vec<Vec<u8>>,
}

impl AudioClip {
    /// Reads an Ogg Opus file.
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        Self::parse(&read(path)?)
    }

    /// Parses Ogg pages and joins their segments into packets.
    pub fn parse(bytes: &[u8]) -> Result<Self, LoadError> {
        let bad = |why: &str| LoadError::BadClip(format!("Ogg: {why}"));
        let mut packets = Vec::new();
        let mut current = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            if bytes.len() < at + 27 || &bytes[at..at + 4] != b"OggS" {
                return Err(bad("page without OggS capture pattern"));
            }
            let segments = usize::from(bytes[at + 26]);
            let table = bytes
                .get(at + 27..at + 27 + segments)
                .ok_or_else(|| bad("truncated segment table"))?;
            let mut data = at + 27 + segments;
            for &len in table {
                let len = usize::from(len);
                let seg = bytes
                    .get(data..data + len)
                    .ok_or_else(|| bad("truncated page"))?;
                current.extend_from_slice(seg);
                data += len;
                if len < 255 {
                    packets.push(std::mem::take(&mut current));
                }
            }
            at = data;
        }
        let packets: Vec<Vec<u8>> = packets
            .into_iter()
            .filter(|p| !p.starts_with(b"OpusHead") && !p.starts_with(b"OpusTags"))
            .filter(|p| !p.is_empty())
            .collect();
        if packets.is_empty() {
            return Err(bad("no Opus packets"));
        }
        Ok(AudioClip { packets })
    }
}

/// Largest VP8 payload per RTP packet (descriptor included), below a 1200-byte datagram
/// with RTP header, extensions and SRTP tag.
pub const MAX_VP8_PAYLOAD: usize = 1100;

/// Cuts one VP8 frame into RTP payloads (RFC 7741) with a 15-bit picture id, as browsers
/// send it: descriptor `X|S|PID`, then `I`, then the picture id.
pub fn packetize_vp8(frame: &[u8], picture_id: u16, out: &mut Vec<Vec<u8>>) {
    out.clear();
    let chunk = MAX_VP8_PAYLOAD - 4;
    for (i, part) in frame.chunks(chunk).enumerate() {
        let mut p = Vec::with_capacity(part.len() + 4);
        let start = if i == 0 { 0x10 } else { 0x00 };
        p.push(0x80 | start);
        p.push(0x80);
        p.push(0x80 | ((picture_id >> 8) as u8 & 0x7f));
        p.push(picture_id as u8);
        p.extend_from_slice(part);
        out.push(p);
    }
}

/// A key that identifies a packet after an SFU forwarded it: the last bytes of its payload.
///
/// SFUs rewrite SSRC, sequence numbers, timestamps and even the VP8 descriptor, but never the
/// encoded media, and encoded media is close to random: 8 trailing bytes plus the length of the
/// media part do not repeat within the seconds a packet is looked up for.
pub fn packet_key(payload: &[u8]) -> u64 {
    let tail = &payload[payload.len().saturating_sub(8)..];
    let mut k = [0u8; 8];
    k[8 - tail.len()..].copy_from_slice(tail);
    u64::from_le_bytes(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../assets")
            .join(name)
    }

    #[test]
    fn the_committed_clip_is_vp8_with_periodic_keyframes() {
        let clip = VideoClip::load(&asset(crate::VIDEO_ASSET)).expect("clip");
        assert_eq!((clip.width, clip.height), (1280, 720));
        assert!((clip.fps - 30.0).abs() < 0.5, "fps {}", clip.fps);
        let keys = clip.frames.iter().filter(|f| f.keyframe).count();
        assert!(keys >= 2, "{keys} keyframes");
        let kbps = clip.bitrate() / 1000.0;
        assert!((1200.0..1800.0).contains(&kbps), "{kbps} kbit/s");
        let audio = AudioClip::load(&asset(crate::AUDIO_ASSET)).expect("audio");
        assert!(audio.packets.len() >= 100, "{}", audio.packets.len());
    }

    #[test]
    fn bad_clips_are_errors() {
        assert!(VideoClip::parse(b"nope").is_err());
        let mut ivf = b"DKIF\0\0\x20\0VP80".to_vec();
        ivf.resize(32, 0);
        ivf.extend_from_slice(&[200, 0, 0, 0]);
        ivf.resize(44, 0);
        assert!(VideoClip::parse(&ivf).is_err(), "truncated frame");
        assert!(AudioClip::parse(b"OggS").is_err());
    }

    #[test]
    fn frames_are_cut_with_a_start_bit_only_on_the_first_packet() {
        let frame: Vec<u8> = (0..3000u32).map(|i| (i * 7) as u8).collect();
        let mut out = Vec::new();
        packetize_vp8(&frame, 300, &mut out);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0][0], 0x90);
        assert_eq!(out[1][0], 0x80);
        assert_eq!(u16::from(out[0][2] & 0x7f) << 8 | u16::from(out[0][3]), 300);
        let joined: Vec<u8> = out.iter().flat_map(|p| p[4..].to_vec()).collect();
        assert_eq!(joined, frame);
        assert!(out.iter().all(|p| p.len() <= MAX_VP8_PAYLOAD));
    }
}
