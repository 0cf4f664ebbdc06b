//! Any bytes as a handed-in PDF: refused with a reason or drawn, never a panic, and never a
//! sheet larger than the limits. What passes the check is drawn with every page the same
//! width, the pages the check counted stacked with their gaps.
//!
//! hayro's calls are wrapped in `catch_unwind` in the crate, but a fuzzer builds with
//! `panic = "abort"`, so a panic inside hayro still stops the run here: which is the point.
#![no_main]

use homework::pdf::{MIN_SCALED_WIDTH_PX, PAGE_GAP_PX};
use homework::{check_pdf, render_pdf_sheet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = classroom_fuzz::small_pdf_limits();
    let Ok(info) = check_pdf(data, &limits) else {
        return;
    };
    assert!((1..=limits.max_pages).contains(&info.pages));
    assert_eq!(info.page_sizes_pt.len(), info.pages);
    let Ok(sheet) = render_pdf_sheet(data, &limits) else {
        return;
    };
    let (width, height) = sheet.dimensions();
    assert!(width <= limits.page_width_px);
    assert!(width >= MIN_SCALED_WIDTH_PX.min(limits.page_width_px));
    assert!(u64::from(width) * u64::from(height) <= limits.max_sheet_pixels);
    assert!(height >= PAGE_GAP_PX * (info.pages as u32 - 1) + info.pages as u32);
    assert!(sheet.pixels().all(|p| p.0[3] == 255));
});
