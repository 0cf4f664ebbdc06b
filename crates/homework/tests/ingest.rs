//! Taking pictures in: every input is made here, in the test (EXIF and PNG chunks by hand).
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::Cursor;

use homework::{IngestError, IngestLimits, ingest_image};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{
    DynamicImage, ExtendedColorType, ImageDecoder, ImageEncoder, ImageReader, Rgb, RgbImage, Rgba,
    RgbaImage,
};
use proptest::prelude::*;

const RED: Rgb<u8> = Rgb([230, 20, 20]);
const BLUE: Rgb<u8> = Rgb([20, 40, 200]);
/// A string only the GPS block holds, to look for in what comes out.
const GPS_DATUM: &[u8] = b"WGS-84-SECRET-PLACE\0";

fn jpeg(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 95)
        .write_image(
            image,
            image.width(),
            image.height(),
            ExtendedColorType::Rgb8,
        )
        .unwrap();
    out
}

fn png(image: &DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    image.write_with_encoder(PngEncoder::new(&mut out)).unwrap();
    out
}

/// A 64x48 blue picture with a red 16x16 square in its top-left corner.
fn marked_photo() -> RgbImage {
    RgbImage::from_fn(64, 48, |x, y| if x < 16 && y < 16 { RED } else { BLUE })
}

/// An EXIF block (big-endian TIFF) with orientation `orientation` in IFD0 and a GPS IFD holding
/// a version, a latitude and a map datum.
fn exif(orientation: u16) -> Vec<u8> {
    fn entry(out: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]) {
        out.extend(tag.to_be_bytes());
        out.extend(kind.to_be_bytes());
        out.extend(count.to_be_bytes());
        out.extend(value);
    }
    const SHORT: u16 = 3;
    const LONG: u16 = 4;
    const BYTE: u16 = 1;
    const ASCII: u16 = 2;
    const RATIONAL: u16 = 5;
    // Offsets are from the TIFF header. IFD0 at 8: 2 entries (2 + 24 + 4 = 30 bytes).
    let gps_ifd = 8 + 30;
    // The GPS IFD: 4 entries (2 + 48 + 4 = 54 bytes), then its data.
    let latitude_at = gps_ifd + 54;
    let datum_at = latitude_at + 24;
    let mut tiff = b"MM\0\x2a".to_vec();
    tiff.extend(8u32.to_be_bytes());
    tiff.extend(2u16.to_be_bytes());
    let mut value = [0; 4];
    value[..2].copy_from_slice(&orientation.to_be_bytes());
    entry(&mut tiff, 0x0112, SHORT, 1, value);
    entry(&mut tiff, 0x8825, LONG, 1, (gps_ifd as u32).to_be_bytes());
    tiff.extend(0u32.to_be_bytes());
    assert_eq!(tiff.len(), gps_ifd);
    tiff.extend(4u16.to_be_bytes());
    entry(&mut tiff, 0x0000, BYTE, 4, [2, 3, 0, 0]);
    entry(&mut tiff, 0x0001, ASCII, 2, *b"N\0\0\0");
    entry(
        &mut tiff,
        0x0002,
        RATIONAL,
        3,
        (latitude_at as u32).to_be_bytes(),
    );
    let datum_len = GPS_DATUM.len() as u32;
    entry(
        &mut tiff,
        0x0012,
        ASCII,
        datum_len,
        (datum_at as u32).to_be_bytes(),
    );
    tiff.extend(0u32.to_be_bytes());
    assert_eq!(tiff.len(), latitude_at);
    for (num, den) in [(48u32, 1u32), (51, 1), (2959, 100)] {
        tiff.extend(num.to_be_bytes());
        tiff.extend(den.to_be_bytes());
    }
    tiff.extend(GPS_DATUM);
    let mut block = b"Exif\0\0".to_vec();
    block.extend(tiff);
    block
}

/// `jpeg` with an APP1 segment holding `exif` right after its SOI.
fn with_app1(jpeg: &[u8], exif: &[u8]) -> Vec<u8> {
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    let mut out = jpeg[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(u16::try_from(exif.len() + 2).unwrap().to_be_bytes());
    out.extend(exif);
    out.extend(&jpeg[2..]);
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn decode(bytes: &[u8]) -> DynamicImage {
    ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .unwrap()
        .decode()
        .unwrap()
}

fn is_red(p: Rgb<u8>) -> bool {
    p[0] > 180 && p[1] < 80 && p[2] < 80
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG signature and an IHDR chunk (valid CRC) declaring `width` x `height` RGBA pixels, and
/// nothing after it.
fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut chunk = b"IHDR".to_vec();
    chunk.extend(width.to_be_bytes());
    chunk.extend(height.to_be_bytes());
    chunk.extend([8, 6, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(13u32.to_be_bytes());
    out.extend(&chunk);
    out.extend(crc32(&chunk).to_be_bytes());
    out
}

#[test]
fn a_phone_photo_comes_out_upright_without_exif_or_gps() {
    let input = with_app1(&jpeg(&marked_photo()), &exif(6));
    // The test's own EXIF is what the decoder reads: orientation 6 and the GPS datum.
    assert!(contains(&input, GPS_DATUM));
    let mut decoder = ImageReader::new(Cursor::new(&input))
        .with_guessed_format()
        .unwrap()
        .into_decoder()
        .unwrap();
    assert_eq!(
        decoder.orientation().unwrap(),
        image::metadata::Orientation::Rotate90
    );

    let out = ingest_image(&input, &IngestLimits::default()).unwrap();
    assert_eq!(out.media_type, "image/jpeg");
    assert!(out.orientation_applied);
    assert_eq!((out.width, out.height), (48, 64), "turned a quarter");
    // Turned clockwise: the top-left corner went to the top-right.
    let upright = decode(&out.bytes).into_rgb8();
    assert_eq!(upright.dimensions(), (48, 64));
    assert!(
        is_red(*upright.get_pixel(40, 7)),
        "{:?}",
        upright.get_pixel(40, 7)
    );
    assert!(!is_red(*upright.get_pixel(7, 7)));
    assert!(!is_red(*upright.get_pixel(40, 56)));
    // Nothing of the metadata is left.
    assert!(!contains(&out.bytes, b"Exif"));
    assert!(!contains(&out.bytes, b"MM\0\x2a"));
    assert!(!contains(&out.bytes, GPS_DATUM));
    let mut decoder = ImageReader::new(Cursor::new(&out.bytes))
        .with_guessed_format()
        .unwrap()
        .into_decoder()
        .unwrap();
    assert_eq!(decoder.exif_metadata().unwrap(), None);
}

#[test]
fn a_photo_without_orientation_is_left_as_it_is() {
    let out = ingest_image(&jpeg(&marked_photo()), &IngestLimits::default()).unwrap();
    assert!(!out.orientation_applied);
    assert_eq!((out.width, out.height), (64, 48));
    let image = decode(&out.bytes).into_rgb8();
    assert!(is_red(*image.get_pixel(7, 7)));
}

/// A JPEG that holds nothing but its picture and needs no turning or scaling is kept byte for
/// byte (a photo from the app's camera, written by `image`'s encoder as the app writes it, or
/// one taken in before: taking it in again changes nothing); one that carries EXIF is written
/// again even when it needs no turning, so its GPS position goes.
#[test]
fn a_clean_jpeg_is_kept_as_it_came_and_one_with_metadata_is_not() {
    let camera = jpeg(&marked_photo());
    let out = ingest_image(&camera, &IngestLimits::default()).unwrap();
    assert_eq!(out.bytes, camera, "a camera photo is kept as it is");
    assert_eq!(
        (out.width, out.height, out.media_type),
        (64, 48, "image/jpeg")
    );

    let phone = with_app1(&camera, &exif(1));
    assert!(contains(&phone, GPS_DATUM));
    let first = ingest_image(&phone, &IngestLimits::default()).unwrap();
    assert_ne!(first.bytes, phone);
    assert!(!first.orientation_applied);
    assert!(!contains(&first.bytes, GPS_DATUM));
    assert!(!contains(&first.bytes, b"Exif"));
    let again = ingest_image(&first.bytes, &IngestLimits::default()).unwrap();
    assert_eq!(
        again.bytes, first.bytes,
        "taking it in twice changes nothing"
    );

    // A clean JPEG larger than the limit is still scaled (and so written again).
    let limits = IngestLimits {
        max_side: 32,
        ..IngestLimits::default()
    };
    let small = ingest_image(&camera, &limits).unwrap();
    assert_eq!((small.width, small.height), (32, 24));
    assert_ne!(small.bytes, camera);

    // Kept only whole: a clean JPEG cut short is refused, not kept.
    let cut = &camera[..camera.len() - 40];
    assert!(ingest_image(cut, &IngestLimits::default()).is_err());
}

#[test]
fn a_large_photo_is_scaled_to_2560_on_its_longer_side() {
    // Rule: the longer side becomes max_side, the shorter one keeps the aspect, rounded to
    // the nearest pixel: 4000 * 2560 / 6000 = 1706.67 -> 1707.
    let big = DynamicImage::ImageRgb8(RgbImage::from_pixel(6000, 4000, Rgb([120, 130, 140])));
    let out = ingest_image(&png(&big), &IngestLimits::default()).unwrap();
    assert_eq!((out.width, out.height), (2560, 1707));
    assert_eq!(out.media_type, "image/jpeg", "no alpha: a photo");
    assert_eq!(decode(&out.bytes).into_rgb8().dimensions(), (2560, 1707));

    let small = IngestLimits {
        max_side: 300,
        ..IngestLimits::default()
    };
    let tall = DynamicImage::ImageRgb8(RgbImage::from_pixel(400, 1000, Rgb([1, 2, 3])));
    let out = ingest_image(&png(&tall), &small).unwrap();
    assert_eq!((out.width, out.height), (120, 300));
}

#[test]
fn a_picture_with_alpha_stays_png() {
    let mut picture = RgbaImage::from_pixel(40, 30, Rgba([10, 200, 10, 255]));
    picture.put_pixel(5, 5, Rgba([0, 0, 0, 0]));
    let out = ingest_image(
        &png(&DynamicImage::ImageRgba8(picture)),
        &IngestLimits::default(),
    )
    .unwrap();
    assert_eq!(out.media_type, "image/png");
    let back = decode(&out.bytes).into_rgba8();
    assert_eq!(back.get_pixel(5, 5)[3], 0);
    assert_eq!(*back.get_pixel(20, 20), Rgba([10, 200, 10, 255]));
}

#[test]
fn a_webp_is_taken_in_as_jpeg() {
    let picture = marked_photo();
    let mut webp = Vec::new();
    WebPEncoder::new_lossless(&mut webp)
        .write_image(&picture, 64, 48, ExtendedColorType::Rgb8)
        .unwrap();
    let out = ingest_image(&webp, &IngestLimits::default()).unwrap();
    assert_eq!(
        (out.media_type, out.width, out.height),
        ("image/jpeg", 64, 48)
    );
}

#[test]
fn a_png_declaring_100000_pixels_a_side_is_refused_before_decoding() {
    let bomb = png_header(100_000, 100_000);
    let err = ingest_image(&bomb, &IngestLimits::default()).unwrap_err();
    assert_eq!(
        err,
        IngestError::TooBig {
            width: 100_000,
            height: 100_000
        }
    );
    assert_eq!(err.kind(), "tooBig");
    assert!(err.to_string().contains("100000x100000"), "{err}");
}

#[test]
fn a_jpeg_declaring_too_many_pixels_is_refused_with_its_size() {
    let mut big = jpeg(&marked_photo());
    // SOF0: FF C0, length, precision, then height and width.
    let sof = big.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    big[sof + 5..sof + 7].copy_from_slice(&60_000u16.to_be_bytes());
    big[sof + 7..sof + 9].copy_from_slice(&50_000u16.to_be_bytes());
    let err = ingest_image(&big, &IngestLimits::default()).unwrap_err();
    assert_eq!(
        err,
        IngestError::TooBig {
            width: 50_000,
            height: 60_000
        }
    );
}

#[test]
fn a_picture_needing_more_memory_than_allowed_is_too_big() {
    let picture = DynamicImage::ImageRgb8(RgbImage::from_pixel(200, 100, BLUE));
    let tight = IngestLimits {
        max_alloc: 200 * 100 * 3 - 1,
        ..IngestLimits::default()
    };
    let err = ingest_image(&png(&picture), &tight).unwrap_err();
    assert_eq!(
        err,
        IngestError::TooBig {
            width: 200,
            height: 100
        }
    );
}

#[test]
fn a_cut_off_jpeg_is_corrupt() {
    let whole = jpeg(&RgbImage::from_fn(256, 256, |x, y| {
        Rgb([x as u8, y as u8, (x ^ y) as u8])
    }));
    assert!(ingest_image(&whole, &IngestLimits::default()).is_ok());
    for keep in [whole.len() * 2 / 3, whole.len() - 2, 200, 3] {
        let err = ingest_image(&whole[..keep], &IngestLimits::default()).unwrap_err();
        assert_eq!(err.kind(), "corrupt", "kept {keep} bytes: {err}");
    }
}

#[test]
fn a_cut_off_png_is_corrupt() {
    let whole = png(&DynamicImage::ImageRgb8(marked_photo()));
    let err = ingest_image(&whole[..whole.len() / 2], &IngestLimits::default()).unwrap_err();
    assert_eq!(err.kind(), "corrupt", "{err}");
    let err = ingest_image(&png_header(64, 48), &IngestLimits::default()).unwrap_err();
    assert_eq!(err.kind(), "corrupt", "{err}");
}

#[test]
fn other_formats_and_random_bytes_are_unsupported() {
    let cases: [(&str, &[u8]); 5] = [
        (
            "GIF",
            b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!",
        ),
        (
            "BMP",
            b"BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00",
        ),
        (
            "TIFF",
            b"II*\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        ),
        ("", b"this is a letter, not a picture"),
        ("", b""),
    ];
    for (name, bytes) in cases {
        let err = ingest_image(bytes, &IngestLimits::default()).unwrap_err();
        assert_eq!(err.kind(), "unsupported", "{name}: {err}");
        let message = err.to_string();
        assert!(message.contains("JPEG, PNG and WebP"), "{message}");
        assert!(message.contains(name), "{message}");
    }
}

#[test]
fn a_file_over_the_size_limit_is_too_large() {
    let photo = jpeg(&marked_photo());
    let limits = IngestLimits {
        max_input_bytes: photo.len() as u64 - 1,
        ..IngestLimits::default()
    };
    let err = ingest_image(&photo, &limits).unwrap_err();
    assert_eq!(
        err,
        IngestError::TooLarge {
            size: photo.len() as u64,
            max: photo.len() as u64 - 1
        }
    );
    assert_eq!(err.kind(), "tooLarge");
    let exact = IngestLimits {
        max_input_bytes: photo.len() as u64,
        ..IngestLimits::default()
    };
    assert!(ingest_image(&photo, &exact).is_ok());
}

#[test]
fn limits_default_to_the_documented_values() {
    let l = IngestLimits::default();
    assert_eq!(l.max_input_bytes, 40 << 20);
    assert_eq!((l.max_width, l.max_height), (12_000, 12_000));
    assert_eq!(l.max_alloc, 256 << 20);
    assert_eq!(l.max_side, 2560);
}

fn small_limits() -> IngestLimits {
    IngestLimits {
        max_width: 2000,
        max_height: 2000,
        max_alloc: 64 << 20,
        max_side: 256,
        ..IngestLimits::default()
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = ingest_image(&bytes, &small_limits());
    }

    /// Damage inside real pictures reaches deeper into the decoders than random bytes do.
    #[test]
    fn damaged_pictures_never_panic(
        which in 0usize..3,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let photo = marked_photo();
        let mut bytes = match which {
            0 => with_app1(&jpeg(&photo), &exif(6)),
            1 => png(&DynamicImage::ImageRgb8(photo)),
            _ => {
                let mut webp = Vec::new();
                WebPEncoder::new_lossless(&mut webp)
                    .write_image(&photo, 64, 48, ExtendedColorType::Rgb8)
                    .unwrap();
                webp
            }
        };
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        bytes.truncate(cut.index(bytes.len() + 1).max(1));
        let _ = ingest_image(&bytes, &small_limits());
    }
}
