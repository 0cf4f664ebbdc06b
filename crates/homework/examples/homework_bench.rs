//! Times the heavy paths and prints them as one JSON line:
//! `{"ingest_12mp_ms":..,"export_4k_ms":..,"pdf_sheet20_ms":..,"export_pdf20_ms":..}`.
//!
//! - ingest: a 4000x3000 noisy photo JPEG carrying EXIF orientation 6 (median of 5);
//! - export: a page of 2,000 pen strokes of 40 samples each over a 2560x1920 photo, rendered to
//!   a 3840x2160 PNG (median of 3);
//! - PDF sheet: a 20-page A4 PDF (each page 40 lines of Helvetica text, a ruled table of 12
//!   rows and a filled rectangle) checked and drawn as one sheet under the default limits
//!   (median of 3);
//! - PDF export: that PDF with 100 pen strokes of 40 samples marked on each of its 20 pages
//!   (2,000 in all, as the marking sheet records them), written as a PDF with the original
//!   pages embedded and the marks as vectors (median of 3).
//!
//! Run it in release: `cargo run --release -p classroom-homework --example homework_bench`.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use annotate::{Background, Item, ItemKind, Page, Sample, Style, Tool};
use homework::{
    IngestLimits, PdfLimits, check_pdf, ingest_image, marked_pdf, render_page, render_pdf_sheet,
};
use image::codecs::jpeg::JpegEncoder;
use image::{ExtendedColorType, ImageEncoder, Rgb, RgbImage, Rgba, RgbaImage};

/// A small, fast, deterministic noise source (xorshift32).
struct Noise(u32);

impl Noise {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }

    /// -range..=range.
    fn around(&mut self, range: i32) -> i32 {
        (self.next() % (2 * range as u32 + 1)) as i32 - range
    }
}

/// Gradients with grain, the way a phone photo of paper looks to an encoder.
fn photo(width: u32, height: u32) -> RgbImage {
    let mut noise = Noise(0x9E37_79B9);
    RgbImage::from_fn(width, height, |x, y| {
        let base = [
            (200 * x / width) as i32 + 30,
            (180 * y / height) as i32 + 40,
            (120 * (x + y) / (width + height)) as i32 + 90,
        ];
        Rgb(base.map(|c| (c + noise.around(24)).clamp(0, 255) as u8))
    })
}

/// An EXIF APP1 payload with only an orientation (big-endian TIFF, one IFD entry).
fn exif_orientation(orientation: u16) -> Vec<u8> {
    let mut block = b"Exif\0\0MM\0\x2a".to_vec();
    block.extend(8u32.to_be_bytes());
    block.extend(1u16.to_be_bytes());
    block.extend(0x0112u16.to_be_bytes());
    block.extend(3u16.to_be_bytes());
    block.extend(1u32.to_be_bytes());
    block.extend(orientation.to_be_bytes());
    block.extend([0, 0]);
    block.extend(0u32.to_be_bytes());
    block
}

fn jpeg_with_exif(image: &RgbImage, exif: &[u8]) -> Vec<u8> {
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 90)
        .write_image(
            image,
            image.width(),
            image.height(),
            ExtendedColorType::Rgb8,
        )
        .unwrap();
    let mut out = jpeg[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(u16::try_from(exif.len() + 2).unwrap().to_be_bytes());
    out.extend(exif);
    out.extend(&jpeg[2..]);
    out
}

/// 2,000 pen strokes of 40 samples with changing pressure, spread over the page.
fn marked_page() -> Page {
    let mut noise = Noise(0x1234_5678);
    let mut page = Page::new(Background::Image {
        hash: "bench".into(),
        width: 2560,
        height: 1920,
    });
    for n in 0..2000u64 {
        let mut x = (noise.next() % 1500) as f32 + 50.0;
        let mut y = (noise.next() % 800) as f32 + 50.0;
        let samples = (0..40u32)
            .map(|i| {
                x += noise.around(6) as f32;
                y += noise.around(6) as f32;
                Sample {
                    x,
                    y,
                    p: 0.3 + (noise.next() % 70) as f32 / 100.0,
                    t: i * 8,
                }
            })
            .collect();
        let item = Item {
            author: "teacher".into(),
            kind: ItemKind::Stroke {
                tool: Tool::Pen,
                style: Style {
                    color: [200, 30, 30, 255],
                    width: 4.0,
                },
                samples,
                live: false,
            },
            offset: [0.0, 0.0],
            erased: false,
            order: n + 1,
            touched: n + 1,
        };
        page.items.insert(format!("teacher-{n}"), item);
    }
    page
}

/// An A4 PDF of `pages` pages, each of 40 lines of text, a ruled table and a filled rectangle,
/// with a true xref table.
fn worksheet_pdf(pages: usize) -> Vec<u8> {
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {pages} >>",
            (0..pages)
                .map(|i| format!("{} 0 R", 4 + 2 * i))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    for i in 0..pages {
        let mut content = format!("0.2 0.2 0.6 rg 60 {} 200 40 re f\n0 0 0 rg\n", 700 - 10 * i);
        for line in 0..40 {
            content += &format!(
                "BT /F1 11 Tf 60 {} Td (Question {}.{line}: explain why the answer is {}.) Tj ET\n",
                680 - 14 * line,
                i + 1,
                line * 7 + i
            );
        }
        content += "0.5 w 0 0 0 RG\n";
        for row in 0..=12 {
            let y = 60 + 8 * row;
            content += &format!("300 {y} m 540 {y} l S\n");
        }
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] \
             /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
            5 + 2 * i
        ));
        objects.push(format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len() + 1
        ));
    }
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{object}\nendobj\n", i + 1).bytes());
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).bytes());
    for offset in offsets {
        out.extend(format!("{offset:010} 00000 n \n").bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .bytes(),
    );
    out
}

fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

fn main() {
    let input = jpeg_with_exif(&photo(4000, 3000), &exif_orientation(6));
    let limits = IngestLimits::default();
    let check = ingest_image(&input, &limits).unwrap();
    assert_eq!(
        (check.width, check.height),
        (1920, 2560),
        "upright and scaled"
    );
    let ingest_12mp_ms = median_ms(5, || {
        ingest_image(&input, &limits).unwrap();
    });

    let rgb = photo(2560, 1920);
    let background = RgbaImage::from_fn(2560, 1920, |x, y| {
        let [r, g, b] = rgb.get_pixel(x, y).0;
        Rgba([r, g, b, 255])
    });
    let page = marked_page();
    let export_4k_ms = median_ms(3, || {
        render_page(&page, Some(&background), 3840, 2160).unwrap();
    });
    // Where the time goes: drawing alone, and writing the PNG of what was drawn.
    let draw_4k_ms = median_ms(3, || {
        homework::render_pixmap(&page, Some(&background), 3840, 2160).unwrap();
    });
    let drawn = homework::render_pixmap(&page, Some(&background), 3840, 2160).unwrap();
    let png_bytes = homework::encode_png(&drawn).unwrap().len();
    let png_4k_ms = median_ms(5, || {
        homework::encode_png(&drawn).unwrap();
    });
    let blank = Page::new(Background::Blank);
    let picture_4k_ms = median_ms(3, || {
        homework::render_pixmap(&blank, Some(&background), 3840, 2160).unwrap();
    });
    println!(
        "  of which drawing {draw_4k_ms:.1} ms (the photo alone {picture_4k_ms:.1} ms), writing the PNG {png_4k_ms:.1} ms (median of 5; {:.1} MB)",
        png_bytes as f64 / 1e6
    );

    let pdf = worksheet_pdf(20);
    let pdf_limits = PdfLimits::default();
    let sheet = render_pdf_sheet(&pdf, &pdf_limits).unwrap();
    let pdf_sheet20_ms = median_ms(3, || {
        render_pdf_sheet(&pdf, &pdf_limits).unwrap();
    });

    // The marks a teacher makes on 20 pages, on the sheet the app marks on (pages 1,000 units
    // across, one under the other).
    let marking = PdfLimits {
        page_width_px: 1000,
        ..PdfLimits::default()
    };
    let sheet_units = render_pdf_sheet(&pdf, &marking).unwrap();
    let scale = 1000.0 / sheet_units.width() as f32;
    let sheet_height = sheet_units.height() as f32 * scale;
    let mut noise = Noise(0x0bad_cafe);
    let marks: Vec<Item> = marked_page()
        .items
        .into_values()
        .enumerate()
        .map(|(n, mut item)| {
            // Spread over the sheet: each page gets its share.
            item.offset = [
                (noise.next() % 100) as f32 - 300.0,
                n as f32 / 2000.0 * (sheet_height - 900.0),
            ];
            item
        })
        .collect();
    let marked = marked_pdf(&pdf, &marks, &marking, "bench").unwrap();
    assert_eq!(check_pdf(&marked, &marking).unwrap().pages, 20);
    let export_pdf20_ms = median_ms(3, || {
        marked_pdf(&pdf, &marks, &marking, "bench").unwrap();
    });

    eprintln!(
        "input JPEG {:.1} MB -> {:.1} MB",
        input.len() as f64 / 1e6,
        check.bytes.len() as f64 / 1e6
    );
    println!(
        "ingest of a 12 MP photo: {ingest_12mp_ms:.1} ms (median of 5); a 4K page of 2,000 strokes over a photo to PNG: {export_4k_ms:.1} ms (median of 3)"
    );
    eprintln!(
        "20-page PDF {:.1} kB -> sheet {}x{}",
        pdf.len() as f64 / 1e3,
        sheet.width(),
        sheet.height()
    );
    println!("a 20-page PDF drawn as one sheet: {pdf_sheet20_ms:.1} ms (median of 3)");
    println!(
        "20 pages with 2,000 marks written as PDF (the pages embedded, the marks as vectors): \
         {export_pdf20_ms:.1} ms (median of 3), {:.0} kB (the original {:.0} kB)",
        marked.len() as f64 / 1e3,
        pdf.len() as f64 / 1e3
    );
    println!(
        "RESULT {{\"ingest_12mp_ms\":{ingest_12mp_ms:.1},\"export_4k_ms\":{export_4k_ms:.1},\"pdf_sheet20_ms\":{pdf_sheet20_ms:.1},\"export_pdf20_ms\":{export_pdf20_ms:.1}}}"
    );
}
