//! Any bytes as a handed-in PDF the teacher returns marked: `marked_pdf` refuses it with a
//! reason or writes a PDF that reads back with the pages the check counted, never a panic.
//! The original is a student's file, read a second time here by krilla's own PDF reader
//! (hayro-syntax 0.7) to embed its pages.
//!
//! The crate wraps krilla in `catch_unwind`, but a fuzzer builds with `panic = "abort"`, so a
//! panic inside it still stops the run here: which is the point.
#![no_main]

use annotate::{Item, ItemKind, Sample, Style, Tool};
use homework::{PdfLimits, check_pdf, marked_pdf};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = classroom_fuzz::small_pdf_limits();
    let Ok(info) = check_pdf(data, &limits) else {
        return;
    };
    // A mark down the middle of the whole sheet, so every page gets some ink.
    let mark = Item {
        author: "teacher".into(),
        kind: ItemKind::Stroke {
            tool: Tool::Pen,
            style: Style {
                color: [200, 30, 30, 255],
                width: 4.0,
            },
            samples: (0..8)
                .map(|i| Sample {
                    x: 500.0,
                    y: i as f32 * 2000.0,
                    p: 0.5,
                    t: i,
                })
                .collect(),
            live: false,
        },
        offset: [0.0, 0.0],
        erased: false,
        order: 1,
        touched: 1,
    };
    let Ok(written) = marked_pdf(data, &[mark], &limits, "fuzz") else {
        return;
    };
    let again = check_pdf(&written, &PdfLimits::default()).expect("a written PDF reads back");
    assert_eq!(again.pages, info.pages);
});
