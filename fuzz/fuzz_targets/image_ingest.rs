//! Any bytes as a handed-in picture: refused with a reason or taken in, never a panic, and
//! never more memory than the limits allow. What is taken in decodes again at the size and
//! type it reports, with no EXIF left in it, and a JPEG taken in again comes out the same.
#![no_main]

use homework::{IngestLimits, ingest_image};
use image::ImageDecoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = IngestLimits {
        max_width: 2000,
        max_height: 2000,
        max_alloc: 64 << 20,
        max_side: 512,
        ..IngestLimits::default()
    };
    let Ok(taken) = ingest_image(data, &limits) else {
        return;
    };
    assert!(taken.width <= 512 && taken.height <= 512);
    let format = match taken.media_type {
        "image/jpeg" => image::ImageFormat::Jpeg,
        "image/png" => image::ImageFormat::Png,
        other => panic!("unexpected media type {other}"),
    };
    // No EXIF (a clean JPEG is kept as it came, so its scan data may hold any bytes: the
    // decoder's reading of its segments is what counts, not a search of the bytes).
    let mut decoder = image::ImageReader::with_format(std::io::Cursor::new(&taken.bytes), format)
        .into_decoder()
        .expect("re-decodes");
    assert!(decoder.exif_metadata().ok().flatten().is_none());
    let again = image::load_from_memory_with_format(&taken.bytes, format).expect("re-decodes");
    assert_eq!((again.width(), again.height()), (taken.width, taken.height));
    // Taking in what was taken in changes nothing: a JPEG out is clean, upright and small
    // enough, so it is kept byte for byte.
    if format == image::ImageFormat::Jpeg {
        let twice = ingest_image(&taken.bytes, &limits).expect("taken in again");
        assert_eq!(twice.bytes, taken.bytes);
    }
});
