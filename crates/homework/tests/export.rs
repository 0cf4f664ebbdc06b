//! PDFs written: a handed-in PDF with its marks, and whiteboard pages. Each is read back by
//! the same PDF renderer that draws handed-in PDFs and compared with the pixels the PNG path
//! draws, so the PDF is checked by what it shows, not by its bytes alone.
#![allow(clippy::unwrap_used, missing_docs)]

use annotate::{Background, Item, ItemKind, Page, Sample, Stamp, Style, Tool};
use homework::export::BOARD_PAGE_WIDTH_PT;
use homework::{
    ExportError, IngestLimits, PdfError, PdfLimits, board_pdf, check_pdf, ingest_image, marked_pdf,
    photos_pdf, render_marked, render_pdf_sheet, render_pixmap,
};
use image::RgbaImage;
use proptest::prelude::*;

/// A two-page A4 worksheet (text in Helvetica, a rule, a blue and a red box), written for the
/// app's tests.
const WORKSHEET: &[u8] = include_bytes!("../../../src-tauri/tests/fixtures/worksheet.pdf");

/// The marking sheet's limits, as the app marks with them: pages 1,000 px across.
fn limits() -> PdfLimits {
    PdfLimits {
        page_width_px: 1000,
        ..PdfLimits::default()
    }
}

/// Page 2 of the worksheet starts this far down its sheet (1,000 px across: an A4 page is
/// 1,415 px down, then a 16 px gap).
const PAGE_2_TOP: f32 = 1431.0;

fn item(kind: ItemKind, order: u64) -> Item {
    Item {
        author: "teacher".into(),
        kind,
        offset: [0.0, 0.0],
        erased: false,
        order,
        touched: order,
    }
}

fn stroke(tool: Tool, color: [u8; 4], width: f32, points: &[(f32, f32)]) -> Item {
    let samples = points
        .iter()
        .enumerate()
        .map(|(i, &(x, y))| Sample {
            x,
            y,
            p: 0.3 + 0.7 * (i % 3) as f32 / 2.0,
            t: i as u32 * 8,
        })
        .collect();
    stroke_of(tool, color, width, samples)
}

fn stroke_of(tool: Tool, color: [u8; 4], width: f32, samples: Vec<Sample>) -> Item {
    item(
        ItemKind::Stroke {
            tool,
            style: Style { color, width },
            samples,
            live: false,
        },
        0,
    )
}

/// Marks as a teacher makes them: a yellow highlighter over page 1's first sum, a tick beside
/// it, a translucent pencil note, and a red pen underline on page 2.
fn marks() -> Vec<Item> {
    let sum_y = (842.0 - 700.0) * 1000.0 / 595.0;
    let mut marks = vec![
        stroke(
            Tool::Highlighter,
            [250, 220, 40, 255],
            6.0,
            &[(90.0, sum_y), (300.0, sum_y + 4.0), (420.0, sum_y)],
        ),
        item(
            ItemKind::Stamp {
                at: [520.0, sum_y],
                stamp: Stamp::Tick,
            },
            1,
        ),
        stroke(
            Tool::Pencil,
            [20, 20, 20, 255],
            5.0,
            &[
                (600.0, 500.0),
                (650.0, 540.0),
                (700.0, 520.0),
                (760.0, 560.0),
            ],
        ),
        stroke(
            Tool::Pen,
            [200, 30, 30, 255],
            8.0,
            &[
                (150.0, PAGE_2_TOP + 700.0),
                (400.0, PAGE_2_TOP + 720.0),
                (650.0, PAGE_2_TOP + 690.0),
                (850.0, PAGE_2_TOP + 710.0),
            ],
        ),
    ];
    for (i, mark) in marks.iter_mut().enumerate() {
        mark.order = i as u64;
    }
    marks
}

/// Every stream of a PDF, decoded (krilla writes the embedded pages compressed), one after
/// another.
fn decoded_streams(pdf: &[u8]) -> Vec<u8> {
    use hayro::hayro_syntax::Pdf;
    use hayro::hayro_syntax::object::Object;
    let pdf = Pdf::new(pdf.to_vec()).unwrap();
    let mut all = Vec::new();
    for object in pdf.objects() {
        if let Object::Stream(stream) = object {
            all.extend_from_slice(&stream.decoded().unwrap());
        }
    }
    all
}

fn decode(png: &[u8]) -> RgbaImage {
    image::load_from_memory(png).unwrap().to_rgba8()
}

fn is_red_ink(p: &image::Rgba<u8>) -> bool {
    p[0] > 150 && p[1] < 90 && p[2] < 90
}

/// How two pictures of one size differ: the mean difference per channel (0 to 255) and the
/// share of pixels that differ by more than a quarter in any channel.
fn difference(a: &RgbaImage, b: &RgbaImage) -> (f64, f64) {
    assert_eq!(a.dimensions(), b.dimensions());
    let (mut sum, mut far) = (0u64, 0u64);
    for (p, q) in a.pixels().zip(b.pixels()) {
        let d: Vec<u8> = (0..3).map(|c| p[c].abs_diff(q[c])).collect();
        sum += d.iter().map(|&d| u64::from(d)).sum::<u64>();
        if d.iter().any(|&d| d > 64) {
            far += 1;
        }
    }
    let n = u64::from(a.width()) * u64::from(a.height());
    (sum as f64 / (3 * n) as f64, far as f64 / n as f64)
}

/// Two renderings of the same vectors: they differ only in anti-aliased edges (measured:
/// a mean of 0.006 for a marked worksheet, 0.06 for a whiteboard page; no pixel far apart).
fn looks_the_same(mean: f64, far: f64) -> bool {
    mean < 0.5 && far < 0.0005
}

/// Rows `rows` of `picture` hold at least `at_least` pixels of red ink.
fn red_in_rows(picture: &RgbaImage, rows: std::ops::Range<u32>) -> usize {
    rows.flat_map(|y| (0..picture.width()).map(move |x| (x, y)))
        .filter(|&(x, y)| is_red_ink(picture.get_pixel(x, y)))
        .count()
}

#[test]
fn a_marked_pdf_keeps_its_pages_and_their_text_and_shows_the_marks_where_they_were_made() {
    let marks = marks();
    let out = marked_pdf(WORKSHEET, &marks, &limits(), "Worksheet — marked").unwrap();

    // The same pages, at the same sizes.
    let original = check_pdf(WORKSHEET, &limits()).unwrap();
    let marked = check_pdf(&out, &limits()).unwrap();
    assert_eq!(marked, original);

    // The pages are the original's own content, not a picture of it: the text is still text.
    let content = decoded_streams(&out);
    for text in [
        &b"(Worksheet: fractions) Tj"[..],
        b"(2.  2/3 - 1/6 = 1/2) Tj",
        b"(Page 2: show your working) Tj",
    ] {
        assert!(
            content.windows(text.len()).any(|w| w == text),
            "{:?} is not in the PDF",
            String::from_utf8_lossy(text)
        );
    }

    // Drawn back, it shows what the marking path draws: the sheet with the marks over it.
    let shown = render_pdf_sheet(&out, &limits()).unwrap();
    let sheet = render_pdf_sheet(WORKSHEET, &limits()).unwrap();
    let expected = decode(&render_marked(&sheet, &marks).unwrap());
    let (mean, far) = difference(&shown, &expected);
    assert!(
        looks_the_same(mean, far),
        "mean difference {mean:.2}, {:.3}% of pixels far apart",
        far * 100.0
    );
    // Marks 4 units off where they were made would not pass for the same.
    let mut moved = marks.clone();
    for mark in &mut moved {
        mark.offset = [4.0, 4.0];
    }
    let moved = decode(&render_marked(&sheet, &moved).unwrap());
    let (mean, far) = difference(&shown, &moved);
    assert!(!looks_the_same(mean, far), "{mean} {far}");
    // And the marks are really there: the red underline on page 2 (where the original has a
    // red box too, so look beside it), and not on page 1.
    let underline = (PAGE_2_TOP as u32 + 680)..(PAGE_2_TOP as u32 + 730);
    assert!(red_in_rows(&shown, underline.clone()) > 2000);
    assert_eq!(red_in_rows(&sheet, underline), 0);
    assert_eq!(red_in_rows(&shown, 0..1415), 0);
}

#[test]
fn a_mark_across_the_gap_between_pages_is_on_both_pages_and_stops_at_their_edges() {
    let across = vec![stroke(
        Tool::Pen,
        [200, 30, 30, 255],
        10.0,
        &[(500.0, 1300.0), (500.0, 1550.0)],
    )];
    let out = marked_pdf(WORKSHEET, &across, &limits(), "across").unwrap();
    let shown = render_pdf_sheet(&out, &limits()).unwrap();
    // Page 1 ends at 1,415 px and page 2 starts at 1,431.
    assert!(red_in_rows(&shown, 1320..1410) > 500, "the end of page 1");
    assert!(red_in_rows(&shown, 1436..1540) > 500, "the top of page 2");
    // The gap is the sheet's, not the page's: no ink is written outside a page.
    assert_eq!(red_in_rows(&shown, 1416..1430), 0, "the gap");
}

#[test]
fn whiteboard_pages_as_pdf_look_as_they_do_as_png() {
    let mut first = Page::new(Background::Grid { spacing: 50.0 });
    let mut second = Page::new(Background::Ruled { spacing: 40.0 });
    for (n, mark) in marks().into_iter().enumerate() {
        // The marks moved onto the whiteboard's 1600x900 page.
        let mut mark = mark;
        mark.offset = [200.0, if n == 3 { -1500.0 } else { 100.0 }];
        first.items.insert(format!("teacher-{n}"), mark.clone());
        second.items.insert(format!("teacher-{n}"), mark);
    }
    let out = board_pdf(&[&first, &second], "Lesson board").unwrap();
    let board_limits = PdfLimits {
        page_width_px: 1600,
        ..PdfLimits::default()
    };
    let info = check_pdf(&out, &board_limits).unwrap();
    assert_eq!(info.pages, 2);
    let height = BOARD_PAGE_WIDTH_PT * 900.0 / 1600.0;
    for &(w, h) in &info.page_sizes_pt {
        assert!((w - BOARD_PAGE_WIDTH_PT).abs() < 0.01 && (h - height).abs() < 0.01);
    }
    let shown = render_pdf_sheet(&out, &board_limits).unwrap();
    assert_eq!(shown.dimensions(), (1600, 900 * 2 + 16));
    for (i, page) in [&first, &second].into_iter().enumerate() {
        let expected = render_pixmap(page, None, 1600, 900).unwrap();
        let expected = RgbaImage::from_raw(1600, 900, expected.data().to_vec()).unwrap();
        let top = i as u32 * (900 + 16);
        let part = image::imageops::crop_imm(&shown, 0, top, 1600, 900).to_image();
        let (mean, far) = difference(&part, &expected);
        assert!(
            looks_the_same(mean, far),
            "page {}: mean difference {mean:.2}, {:.3}% of pixels far apart",
            i + 1,
            far * 100.0
        );
        assert!(red_in_rows(&part, 0..900) > 2000, "page {}: the pen", i + 1);
    }
}

#[test]
fn text_and_scores_are_text_in_the_pdf_and_look_as_they_do_as_png() {
    let mut page = Page::new(Background::Blank);
    page.items.insert(
        "teacher-1".into(),
        item(
            ItemKind::Text {
                at: [200.0, 200.0],
                text: "Well done 做得好\nsee page 2".into(),
                size: 48.0,
                color: [20, 20, 20, 255],
            },
            1,
        ),
    );
    page.items.insert(
        "teacher-2".into(),
        item(
            ItemKind::Stamp {
                at: [1200.0, 300.0],
                stamp: Stamp::Score("8/10".into()),
            },
            2,
        ),
    );
    let out = board_pdf(&[&page], "Text").unwrap();
    // Text operators with a font, and a map from its glyphs back to the characters (what
    // makes it selectable and searchable): Latin and Chinese.
    let streams = decoded_streams(&out);
    let has = |needle: &[u8]| {
        streams
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    };
    assert!(has(b"BT") && has(b"Tf") && has(b"ET"), "no text operators");
    assert!(has(b"begincmap"), "no ToUnicode map");
    for c in ['W', '做', '好', '8', '/'] {
        let hex = format!("<{:04X}>", c as u32);
        assert!(
            has(hex.as_bytes()),
            "{c:?} ({hex}) is not in the PDF's character maps"
        );
    }
    let board_limits = PdfLimits {
        page_width_px: 1600,
        ..PdfLimits::default()
    };
    let shown = render_pdf_sheet(&out, &board_limits).unwrap();
    let expected = render_pixmap(&page, None, 1600, 900).unwrap();
    let expected = RgbaImage::from_raw(1600, 900, expected.data().to_vec()).unwrap();
    // Glyphs are many thin, high-contrast edges that the two rasterizers anti-alias
    // slightly apart (measured: a mean of 0.14, 0.080% of pixels far apart; looked at side
    // by side, the same text in the same places). A missing line or a shifted run would be
    // several percent.
    let (mean, far) = difference(&shown, &expected);
    assert!(
        mean < 0.5 && far < 0.002,
        "mean difference {mean:.2}, {:.3}% of pixels far apart",
        far * 100.0
    );
    let dark = |rows: std::ops::Range<u32>, cols: std::ops::Range<u32>| {
        rows.flat_map(|y| cols.clone().map(move |x| (x, y)))
            .filter(|&(x, y)| shown.get_pixel(x, y).0[0] < 100)
            .count()
    };
    assert!(dark(200..260, 200..700) > 1000, "the first line is drawn");
    assert!(red_in_rows(&shown, 270..320) > 200, "the score is drawn");
}

#[test]
fn what_cannot_be_written_says_why() {
    assert_eq!(
        marked_pdf(b"not a pdf at all", &marks(), &limits(), "x").unwrap_err(),
        ExportError::Pdf(PdfError::NotPdf)
    );
    let cut = &WORKSHEET[..WORKSHEET.len() - 200];
    assert_eq!(
        marked_pdf(cut, &marks(), &limits(), "x")
            .unwrap_err()
            .kind(),
        "corrupt"
    );
    assert_eq!(board_pdf(&[], "x").unwrap_err(), ExportError::NoPages);
    let page = Page::new(Background::Blank);
    let many = vec![&page; homework::export::MAX_BOARD_PAGES + 1];
    assert_eq!(board_pdf(&many, "x").unwrap_err().kind(), "tooManyPages");
}

/// A photo of one colour, `w` x `h`, as a phone would send it (JPEG) or a screenshot (PNG).
fn photo(w: u32, h: u32, rgb: [u8; 3], png: bool) -> homework::Ingested {
    let picture = image::RgbImage::from_pixel(w, h, image::Rgb(rgb));
    let mut bytes = std::io::Cursor::new(Vec::new());
    let format = if png {
        image::ImageFormat::Png
    } else {
        image::ImageFormat::Jpeg
    };
    picture.write_to(&mut bytes, format).unwrap();
    ingest_image(bytes.get_ref(), &IngestLimits::default()).unwrap()
}

#[test]
fn photos_handed_in_together_are_one_pdf_a_page_each_in_their_order_and_shape() {
    let photos = [
        photo(900, 1200, [200, 30, 30], false),
        photo(1600, 900, [30, 160, 60], true),
        photo(1000, 1000, [30, 40, 200], false),
    ];
    let pdf = photos_pdf(&photos, "Worksheet (3 photos)").unwrap();
    let info = check_pdf(&pdf, &limits()).unwrap();
    assert_eq!(info.pages, 3);
    for ((w, h), p) in info.page_sizes_pt.iter().zip(&photos) {
        assert!(
            (w - homework::export::PHOTO_PAGE_WIDTH_PT).abs() < 0.5,
            "{w}"
        );
        let shape = p.height as f32 / p.width as f32;
        assert!(
            (h / w - shape).abs() < 0.01,
            "page {w}x{h} for a photo {}x{}",
            p.width,
            p.height
        );
    }
    // Drawn as the teacher's marking sheet draws it: each page, in order, is its photo.
    let colours = [[200, 30, 30], [30, 160, 60], [30, 40, 200]];
    let sheet = render_pdf_sheet(&pdf, &limits()).unwrap();
    let mut top = 0u32;
    for ((w, h), want) in info.page_sizes_pt.iter().zip(colours) {
        let rows = (h / w * 1000.0).round() as u32;
        let middle = sheet.get_pixel(500, top + rows / 2).0;
        assert!(
            middle[..3]
                .iter()
                .zip(want)
                .all(|(a, b)| a.abs_diff(b) < 16),
            "page at row {top}: {middle:?}, not {want:?}"
        );
        top += rows + 16;
    }
    assert!(
        top.abs_diff(sheet.height() + 16) <= 3,
        "{top} vs {}",
        sheet.height()
    );

    assert_eq!(photos_pdf(&[], "x").unwrap_err(), ExportError::NoPages);
    let many = vec![photos[0].clone(); homework::MAX_PHOTO_PAGES + 1];
    assert_eq!(photos_pdf(&many, "x").unwrap_err().kind(), "tooManyPages");
}

fn any_sample() -> impl Strategy<Value = Sample> {
    let coord = prop_oneof![
        -2000.0f32..4000.0,
        Just(f32::NAN),
        Just(f32::INFINITY),
        Just(1.0e30f32),
    ];
    (coord.clone(), coord, -1.0f32..2.0).prop_map(|(x, y, p)| Sample { x, y, p, t: 0 })
}

fn any_mark() -> impl Strategy<Value = Item> {
    (
        prop_oneof![Just(Tool::Pen), Just(Tool::Pencil), Just(Tool::Highlighter)],
        prop::collection::vec(any_sample(), 0..12),
        prop_oneof![-5.0f32..60.0, Just(f32::NAN), Just(1.0e9f32)],
        any::<[u8; 4]>(),
    )
        .prop_map(|(tool, samples, width, color)| stroke_of(tool, color, width, samples))
}

/// Text or a score anywhere, of any size, in any characters (none may break the writer).
fn any_words() -> impl Strategy<Value = Item> {
    let coord = prop_oneof![-2000.0f32..4000.0, Just(f32::NAN), Just(1.0e30f32)];
    (
        ".{0,40}",
        coord.clone(),
        coord,
        prop_oneof![-5.0f32..400.0, Just(f32::NAN), Just(1.0e9f32)],
        any::<bool>(),
    )
        .prop_map(|(text, x, y, size, score)| {
            let kind = if score {
                ItemKind::Stamp {
                    at: [x, y],
                    stamp: Stamp::Score(text),
                }
            } else {
                ItemKind::Text {
                    at: [x, y],
                    text,
                    size,
                    color: [0, 0, 0, 255],
                }
            };
            item(kind, 1)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever marks come (far off the page, not finite, absurdly wide), the worksheet is
    /// written whole and reads back as the same two pages.
    #[test]
    fn any_marks_still_give_a_whole_pdf(marks in prop::collection::vec(any_mark(), 0..8)) {
        let out = marked_pdf(WORKSHEET, &marks, &limits(), "any").unwrap();
        prop_assert_eq!(check_pdf(&out, &limits()).unwrap().pages, 2);
    }

    /// Whatever text comes, the worksheet is written whole, and so is a whiteboard page.
    #[test]
    fn any_words_still_give_a_whole_pdf(words in prop::collection::vec(any_words(), 0..6)) {
        let out = marked_pdf(WORKSHEET, &words, &limits(), "any").unwrap();
        prop_assert_eq!(check_pdf(&out, &limits()).unwrap().pages, 2);
        let mut page = Page::new(Background::Blank);
        for (n, w) in words.into_iter().enumerate() {
            page.items.insert(format!("t-{n}"), w);
        }
        prop_assert!(board_pdf(&[&page], "any").is_ok());
        prop_assert!(render_pixmap(&page, None, 800, 450).is_ok());
    }
}
