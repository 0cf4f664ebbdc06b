//! Taking a picture in: checked, upright, scaled and stripped of metadata.

use std::io::Cursor;

use image::codecs::png::PngEncoder;
use image::metadata::Orientation;
use image::{
    ColorType, DynamicImage, GrayImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits,
    RgbImage, RgbaImage,
};
use serde::{Deserialize, Serialize};

use crate::resample::{FilterType, resample};

/// JPEG quality of a re-encoded photo: text on paper stays crisp, a phone photo shrinks a lot.
pub const JPEG_QUALITY: u8 = 85;

/// What a picture may be before it is taken in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IngestLimits {
    /// The largest file taken, in bytes (default 40 MiB).
    pub max_input_bytes: u64,
    /// The widest picture taken, as its header declares it (default 12,000 pixels).
    pub max_width: u32,
    /// The tallest picture taken, as its header declares it (default 12,000 pixels).
    pub max_height: u32,
    /// The most memory the decoder may allocate, decoded pixels included (default 256 MiB).
    pub max_alloc: u64,
    /// The longer side of what comes out, in pixels (default 2,560); larger pictures are scaled
    /// down, smaller ones are left as they are.
    pub max_side: u32,
}

impl Default for IngestLimits {
    fn default() -> Self {
        Self {
            max_input_bytes: 40 * 1024 * 1024,
            max_width: 12_000,
            max_height: 12_000,
            max_alloc: 256 * 1024 * 1024,
            max_side: 2560,
        }
    }
}

/// A picture taken in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    /// The re-encoded file: JPEG or PNG, with no metadata.
    pub bytes: Vec<u8>,
    /// `"image/jpeg"` or `"image/png"`.
    pub media_type: &'static str,
    /// Pixels across, upright.
    pub width: u32,
    /// Pixels down, upright.
    pub height: u32,
    /// The file said it was turned or mirrored (EXIF orientation) and the pixels were turned
    /// to match.
    pub orientation_applied: bool,
}

/// Why a picture was not taken in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// Not a JPEG, PNG or WebP picture (or one of those in a form the decoder cannot read).
    #[error("{what}; the app takes in JPEG, PNG and WebP pictures")]
    Unsupported {
        /// What the file was found to be, in words.
        what: String,
    },
    /// The file is larger than [`IngestLimits::max_input_bytes`].
    #[error("the file is {size} bytes; the largest picture taken in is {max} bytes")]
    TooLarge {
        /// The file's size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The picture declares more pixels than the limits allow (or would need more memory to
    /// decode than [`IngestLimits::max_alloc`]).
    #[error("the picture is {width}x{height} pixels, more than the app takes in")]
    TooBig {
        /// Pixels across, as declared.
        width: u32,
        /// Pixels down, as declared.
        height: u32,
    },
    /// Damaged or incomplete (a cut-off upload, for example).
    #[error("the picture is damaged or incomplete: {0}")]
    Corrupt(String),
}

impl IngestError {
    /// A stable code for the app to put into words in the user's language.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unsupported { .. } => "unsupported",
            Self::TooLarge { .. } => "tooLarge",
            Self::TooBig { .. } => "tooBig",
            Self::Corrupt(_) => "corrupt",
        }
    }
}

/// Takes a picture in: checks it against `limits` before decoding anything large, decodes it,
/// turns it upright by its EXIF orientation, scales its longer side down to at most
/// `limits.max_side` (aspect kept, each side rounded to the nearest pixel, at least 1) and
/// writes it again with no metadata: JPEG at quality [`JPEG_QUALITY`], or PNG when the picture
/// has an alpha channel.
pub fn ingest_image(bytes: &[u8], limits: &IngestLimits) -> Result<Ingested, IngestError> {
    let size = bytes.len() as u64;
    if size > limits.max_input_bytes {
        return Err(IngestError::TooLarge {
            size,
            max: limits.max_input_bytes,
        });
    }
    let format = taken_format(bytes)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    // Set before any decoder exists: PNG checks the declared size as soon as it has read the
    // header, the others when the limits are handed over, all before pixels are allocated.
    reader.limits(decoder_limits(limits, limits.max_alloc));
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| from_image_error(e, bytes, format, limits))?;
    let (width, height) = decoder.dimensions();
    if width > limits.max_width || height > limits.max_height {
        return Err(IngestError::TooBig { width, height });
    }
    // The decoded pixels count against the memory limit; the decoder gets what is left for its
    // own buffers (as `ImageReader::decode` does).
    let pixels = decoder.total_bytes();
    let Some(rest) = limits.max_alloc.checked_sub(pixels) else {
        return Err(IngestError::TooBig { width, height });
    };
    decoder
        .set_limits(decoder_limits(limits, rest))
        .map_err(|e| from_image_error(e, bytes, format, limits))?;
    // A broken EXIF block is no reason to refuse the picture: it is only not turned.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let walk = (format == ImageFormat::Jpeg).then(|| walk_jpeg(bytes));
    if walk.is_some_and(|w| !w.complete) {
        // The JPEG decoder is lenient and paints a cut-off file's missing part grey; a
        // half-uploaded photo should be sent again instead.
        return Err(IngestError::Corrupt(
            "the JPEG data ends before its end marker".into(),
        ));
    }
    let image = DynamicImage::from_decoder(decoder)
        .map_err(|e| from_image_error(e, bytes, format, limits))?;

    let alpha = image.color().has_alpha();
    // 8 bits a channel from here on: what JPEG and the app need, and half the work of scaling
    // a 16-bit PNG.
    let mut image = match (alpha, image.color()) {
        (true, _) => DynamicImage::ImageRgba8(image.into_rgba8()),
        (false, ColorType::L8 | ColorType::L16) => DynamicImage::ImageLuma8(image.into_luma8()),
        (false, _) => DynamicImage::ImageRgb8(image.into_rgb8()),
    };
    // Scaled before it is turned: the longer side is the same either way, and turning the
    // smaller picture is cheaper.
    let scaled = scaled_size(image.width(), image.height(), limits.max_side);
    if let Some((w, h)) = scaled {
        image = scale(image, w, h)?;
    }
    let scaled = scaled.is_some();
    let image = crate::orient::apply(image, orientation);
    let orientation_applied = orientation != Orientation::NoTransforms;
    if !scaled && walk.is_some_and(|w| w.clean) {
        // A JPEG that carries nothing but its picture (a photo from the app's camera, one
        // taken in before) and needs no turning or scaling is kept as it came, now that it
        // has decoded whole: writing it again would only lose quality and time.
        return Ok(Ingested {
            bytes: bytes.to_vec(),
            media_type: "image/jpeg",
            width: image.width(),
            height: image.height(),
            orientation_applied,
        });
    }

    let (width, height) = (image.width(), image.height());
    let mut out = Vec::new();
    let media_type = if alpha {
        image
            .write_with_encoder(PngEncoder::new(&mut out))
            .map_err(|e| IngestError::Corrupt(e.to_string()))?;
        "image/png"
    } else {
        let (Ok(w), Ok(h)) = (u16::try_from(width), u16::try_from(height)) else {
            // Only with a max_side above what JPEG can hold.
            return Err(IngestError::TooBig { width, height });
        };
        let color = if image.color() == ColorType::L8 {
            jpeg_encoder::ColorType::Luma
        } else {
            jpeg_encoder::ColorType::Rgb
        };
        // A fresh JFIF file: nothing of the source's metadata is carried over.
        jpeg_encoder::Encoder::new(&mut out, JPEG_QUALITY)
            .encode(image.as_bytes(), w, h, color)
            .map_err(|e| IngestError::Corrupt(e.to_string()))?;
        "image/jpeg"
    };
    Ok(Ingested {
        bytes: out,
        media_type,
        width,
        height,
        orientation_applied,
    })
}

/// The size a `width` x `height` picture is scaled to so that its longer side is `max_side`,
/// or `None` when it already fits. The shorter side is rounded to the nearest pixel (6000x4000
/// at 2560 becomes 2560x1707) and is at least 1.
pub fn scaled_size(width: u32, height: u32, max_side: u32) -> Option<(u32, u32)> {
    let max_side = max_side.max(1);
    let longer = width.max(height);
    if longer <= max_side {
        return None;
    }
    let shorter = |side: u32| -> u32 {
        let scaled = (u64::from(side) * u64::from(max_side) * 2 + u64::from(longer))
            / (2 * u64::from(longer));
        u32::try_from(scaled).unwrap_or(max_side).max(1)
    };
    Some(if width >= height {
        (max_side, shorter(height))
    } else {
        (shorter(width), max_side)
    })
}

/// `image` (8 bits a channel: grey, RGB or RGBA) resampled to `width` x `height` with a Hamming
/// filter: a bilinear filter's cost with a sharper result when shrinking, which keeps
/// handwriting legible.
fn scale(image: DynamicImage, width: u32, height: u32) -> Result<DynamicImage, IngestError> {
    let channels = usize::from(image.color().channel_count());
    let from = (image.width(), image.height());
    let scaled = resample(
        image.as_bytes(),
        channels,
        from,
        (width, height),
        FilterType::Hamming,
    );
    let out = scaled.and_then(|bytes| match channels {
        1 => GrayImage::from_raw(width, height, bytes).map(DynamicImage::from),
        4 => RgbaImage::from_raw(width, height, bytes).map(DynamicImage::from),
        _ => RgbImage::from_raw(width, height, bytes).map(DynamicImage::from),
    });
    // Unreachable with the 8-bit pictures this is given.
    out.ok_or_else(|| IngestError::Corrupt("the picture could not be scaled".into()))
}

/// The format the bytes begin like, if it is one that is taken in.
fn taken_format(bytes: &[u8]) -> Result<ImageFormat, IngestError> {
    let guessed = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| IngestError::Corrupt(e.to_string()))?
        .format();
    match guessed {
        Some(f @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)) => Ok(f),
        Some(other) => Err(IngestError::Unsupported {
            what: format!("this is a {} picture", format_name(other)),
        }),
        None => Err(IngestError::Unsupported {
            what: "this file is not a picture the app recognises".into(),
        }),
    }
}

fn format_name(format: ImageFormat) -> String {
    match format {
        ImageFormat::Gif => "GIF".into(),
        ImageFormat::Bmp => "BMP".into(),
        ImageFormat::Tiff => "TIFF".into(),
        ImageFormat::Ico => "ICO".into(),
        ImageFormat::Avif => "AVIF".into(),
        ImageFormat::Hdr => "HDR".into(),
        ImageFormat::OpenExr => "OpenEXR".into(),
        ImageFormat::Qoi => "QOI".into(),
        ImageFormat::Tga => "TGA".into(),
        ImageFormat::Dds => "DDS".into(),
        ImageFormat::Pnm => "PNM".into(),
        other => other
            .extensions_str()
            .first()
            .map_or_else(|| format!("{other:?}"), |e| e.to_uppercase()),
    }
}

fn decoder_limits(limits: &IngestLimits, max_alloc: u64) -> Limits {
    // `Limits` is non-exhaustive: start from its defaults and set every field we know.
    let mut l = Limits::default();
    l.max_image_width = Some(limits.max_width);
    l.max_image_height = Some(limits.max_height);
    l.max_alloc = Some(max_alloc);
    l
}

fn from_image_error(
    error: ImageError,
    bytes: &[u8],
    format: ImageFormat,
    limits: &IngestLimits,
) -> IngestError {
    match error {
        ImageError::Limits(_) => match declared_size(bytes, format, limits) {
            Some((width, height)) => IngestError::TooBig { width, height },
            None => IngestError::Corrupt(format!("its size cannot be read ({error})")),
        },
        ImageError::Unsupported(e) => IngestError::Unsupported {
            what: format!("this {} picture cannot be read ({e})", format_name(format)),
        },
        other => IngestError::Corrupt(other.to_string().trim_end().to_owned()),
    }
}

/// The size a picture's header declares, read again after a limit refused it so the error can
/// name it. A PNG refuses as soon as its header is read, so its IHDR is read here directly (a
/// declared bomb is usually cut off right after it); the other decoders read their headers
/// without checking the size, which is then cheap to ask for.
fn declared_size(bytes: &[u8], format: ImageFormat, limits: &IngestLimits) -> Option<(u32, u32)> {
    if format == ImageFormat::Png {
        let ihdr = bytes.get(8..24)?;
        if &ihdr[4..8] != b"IHDR" {
            return None;
        }
        let word =
            |at: usize| u32::from_be_bytes([ihdr[at], ihdr[at + 1], ihdr[at + 2], ihdr[at + 3]]);
        return Some((word(8), word(12)));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut l = Limits::default();
    l.max_alloc = Some(limits.max_alloc);
    reader.limits(l);
    reader.into_dimensions().ok()
}

/// What a walk over a JPEG's markers found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct JpegWalk {
    /// The markers run on to the end-of-image marker.
    complete: bool,
    /// Nothing but a plain JFIF header (no thumbnail), tables, one frame of a baseline,
    /// extended or progressive JPEG, its scans and restart markers, and the end marker as the
    /// file's last two bytes: no EXIF, XMP, ICC, Adobe or comment segment, no stray or
    /// trailing bytes. Such a file carries nothing but its picture.
    clean: bool,
}

/// The header a clean JPEG may have: `APP0` of 16 bytes, `JFIF\0`, its version, density
/// units and densities, and a thumbnail of 0x0.
fn plain_jfif(segment: &[u8]) -> bool {
    matches!(
        segment,
        [
            0x00,
            0x10,
            b'J',
            b'F',
            b'I',
            b'F',
            0x00,
            _,
            _,
            _,
            _,
            _,
            _,
            _,
            0,
            0
        ]
    )
}

/// Walks a JPEG's marker segments by their lengths (an EXIF thumbnail's own end marker is
/// inside one and skipped) and the entropy-coded data after each start-of-scan, where 0xFF is
/// always followed by 0x00 or a restart marker unless a real marker begins; stray bytes
/// between segments are skipped as decoders skip them (and make the file not clean).
fn walk_jpeg(bytes: &[u8]) -> JpegWalk {
    let mut clean = true;
    // A second frame could hold a second picture the decoder never shows.
    let mut frames = 0;
    let mut i = 2; // after SOI
    while i + 1 < bytes.len() {
        if bytes[i] != 0xFF {
            // Stray bytes between segments: decoders skip them to the next marker, so do we.
            clean = false;
            i += 1;
            continue;
        }
        let marker = bytes[i + 1];
        match marker {
            0xD9 => {
                return JpegWalk {
                    complete: true,
                    clean: clean && frames == 1 && i + 2 == bytes.len(),
                };
            }
            // Fill bytes before a marker.
            0xFF => {
                clean = false;
                i += 1;
            }
            // Markers with no length.
            0x01 | 0xD0..=0xD7 => {
                clean &= marker != 0x01;
                i += 2;
            }
            _ => {
                let Some(len) = bytes.get(i + 2..i + 4) else {
                    break;
                };
                let length = usize::from(u16::from_be_bytes([len[0], len[1]]));
                clean &= match marker {
                    // Frames (baseline, extended, progressive), Huffman and quantisation
                    // tables, restart interval, scans.
                    0xC0..=0xC2 => {
                        frames += 1;
                        true
                    }
                    0xC4 | 0xDB | 0xDD | 0xDA => true,
                    0xE0 => bytes.get(i + 2..i + 2 + length).is_some_and(plain_jfif),
                    _ => false,
                };
                i += 2 + length;
                if marker == 0xDA {
                    while i + 1 < bytes.len()
                        && !(bytes[i] == 0xFF
                            && bytes[i + 1] != 0x00
                            && !(0xD0..=0xD7).contains(&bytes[i + 1]))
                    {
                        i += 1;
                    }
                }
            }
        }
    }
    JpegWalk {
        complete: false,
        clean: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_size_keeps_the_aspect_and_rounds_to_nearest() {
        assert_eq!(scaled_size(6000, 4000, 2560), Some((2560, 1707)));
        assert_eq!(scaled_size(4000, 6000, 2560), Some((1707, 2560)));
        assert_eq!(scaled_size(4000, 3000, 2560), Some((2560, 1920)));
        assert_eq!(scaled_size(2560, 100, 2560), None);
        assert_eq!(scaled_size(100_000, 1, 2560), Some((2560, 1)));
        assert_eq!(scaled_size(10, 10, 0), Some((1, 1)));
    }

    #[test]
    fn a_jpeg_without_its_end_marker_is_incomplete() {
        // SOI, an APP1 holding a thumbnail's FFD9, SOS with two bytes of data, EOI.
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x06, 0xFF, 0xD9, 0x00, 0x00];
        jpeg.extend([
            0xFF, 0xDA, 0x00, 0x02, 0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56,
        ]);
        assert!(!walk_jpeg(&jpeg).complete);
        jpeg.extend([0xFF, 0xD9]);
        assert!(walk_jpeg(&jpeg).complete);
        // Complete, but an APP1 (EXIF's segment) is not clean.
        assert!(!walk_jpeg(&jpeg).clean);
    }

    /// Only a plain JFIF header, tables, a frame and scans, ending at the end marker.
    #[test]
    fn a_clean_jpeg_holds_nothing_but_its_picture() {
        let jfif = [
            0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x02, 0x00, 0x00, 0x01,
            0x00, 0x01, 0x00, 0x00,
        ];
        let body = [
            0xFF, 0xDB, 0x00, 0x03, 0x00, 0xFF, 0xC0, 0x00, 0x03, 0x08, 0xFF, 0xC4, 0x00, 0x02,
            0xFF, 0xDA, 0x00, 0x02, 0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xD9,
        ];
        let file = |parts: &[&[u8]]| {
            let mut out = vec![0xFF, 0xD8];
            for part in parts {
                out.extend_from_slice(part);
            }
            out
        };
        let plain = file(&[&jfif, &body]);
        assert_eq!(
            walk_jpeg(&plain),
            JpegWalk {
                complete: true,
                clean: true
            }
        );
        assert!(walk_jpeg(&file(&[&body])).clean, "no header at all");
        let mut thumbnail = jfif.to_vec();
        thumbnail[3] = 0x13;
        thumbnail[16] = 1;
        thumbnail[17] = 1;
        thumbnail.extend([1, 2, 3]);
        let comment: &[u8] = &[0xFF, 0xFE, 0x00, 0x04, b'h', b'i'];
        let icc: &[u8] = &[0xFF, 0xE2, 0x00, 0x04, 0x00, 0x00];
        for (why, bytes) in [
            ("a JFIF thumbnail", file(&[&thumbnail, &body])),
            ("a comment", file(&[&jfif, comment, &body])),
            ("an ICC profile", file(&[&jfif, icc, &body])),
            ("stray bytes", file(&[&jfif, &[0x00, 0x00], &body])),
            ("bytes after the end", file(&[&jfif, &body, &[0x00]])),
            (
                "a lossless frame",
                file(&[&jfif, &[0xFF, 0xC3, 0x00, 0x02], &body]),
            ),
            (
                "a second frame",
                file(&[&jfif, &[0xFF, 0xC0, 0x00, 0x02], &body]),
            ),
        ] {
            let walk = walk_jpeg(&bytes);
            assert!(walk.complete, "{why}");
            assert!(!walk.clean, "{why}");
        }
    }
}
