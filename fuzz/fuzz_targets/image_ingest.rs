//! Any bytes as a handed-in picture: refused with a reason or taken in, never a panic, and
//! never more memory than the limits allow. What is taken in decodes again at the size and
//! type it reports, with no EXIF left in it.
#![no_main]

use homework::{IngestLimits, ingest_image};
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
    assert!(!taken.bytes.windows(4).any(|w| w == b"Exif"));
    let format = match taken.media_type {
        "image/jpeg" => image::ImageFormat::Jpeg,
        "image/png" => image::ImageFormat::Png,
        other => panic!("unexpected media type {other}"),
    };
    let again = image::load_from_memory_with_format(&taken.bytes, format).expect("re-decodes");
    assert_eq!((again.width(), again.height()), (taken.width, taken.height));
});
