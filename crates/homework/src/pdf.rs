//! Taking a PDF in: checked under explicit limits, then every page drawn to pixels, one under
//! the other, as one sheet a teacher marks up.
//!
//! The drawing is hayro's (a PDF renderer in pure Rust). What it does not do, and so neither
//! does this module:
//! - Encrypted PDFs that need a password to open are refused ([`PdfError::Encrypted`]); ones
//!   locked only against editing or printing (an empty user password, RC4 or AES) open as
//!   any viewer opens them.
//! - hayro bounds how deeply forms and patterns nest, but not how large a compressed stream
//!   or an embedded picture may decode: a PDF under [`PdfLimits::max_bytes`] can still ask for
//!   a lot of memory while a page is drawn. The sheet itself never exceeds
//!   [`PdfLimits::max_sheet_pixels`].
//! - hayro is not written to panic on bad input, but it is young: every call into it is made
//!   under [`std::panic::catch_unwind`], and a panic comes back as [`PdfError::Corrupt`] or
//!   [`PdfError::Render`]. (The process's panic hook still runs and prints the panic; and a
//!   build with `panic = "abort"`, such as a fuzzer's, aborts instead: which is what a fuzzer
//!   wants to find.)
//!
//! The checks come in this order, each cheap before the next: the file's size, its `%PDF-`
//! header and `%%EOF` marker (within the first and last 1,024 bytes, as Acrobat requires them:
//! a cut-off upload ends without its marker), hayro reading the cross-reference table and page
//! tree, the number of pages, each page's size, and last the sheet's size in pixels, worked
//! out before any pixel is allocated.

use std::panic::{AssertUnwindSafe, catch_unwind};

use hayro::hayro_interpret::InterpreterSettings;
use hayro::hayro_interpret::util::TransformExt;
use hayro::hayro_syntax::page::{Page, Rotation};
use hayro::hayro_syntax::{LoadPdfError, Pdf};
use hayro::kurbo::Affine;
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::vello_cpu::{PixmapMut, RasterizerSettings, RenderContext, Resources, TargetInit};
use hayro::{RenderCache, RenderSettings};
use image::RgbaImage;
use serde::{Deserialize, Serialize};

/// The longest side a page may have, in points: PDF's own limit (200 inches).
pub const MAX_PAGE_SIDE_PT: f32 = 14_400.0;
/// The shortest side a page may have, in points: PDF's own limit.
pub const MIN_PAGE_SIDE_PT: f32 = 3.0;
/// The narrowest a sheet's pages are scaled down to so the sheet fits
/// [`PdfLimits::max_sheet_pixels`]; a sheet that would need narrower pages is refused.
pub const MIN_SCALED_WIDTH_PX: u32 = 400;
/// The gap between two pages of a sheet, in pixels.
pub const PAGE_GAP_PX: u32 = 16;
/// The gap's colour: a light grey, opaque.
pub const GAP_COLOR: [u8; 4] = [0xD9, 0xD9, 0xD9, 0xFF];
/// The most pixels a page may be wide or tall (the renderer counts them in 16 bits).
pub const MAX_PAGE_PX: u32 = u16::MAX as u32;
/// How far into a file its `%PDF-` header, and how far from its end its `%%EOF` marker, are
/// looked for, in bytes.
const MARKER_WINDOW: usize = 1024;

/// The most pages a PDF may have by default ([`PdfLimits::max_pages`]).
pub const DEFAULT_MAX_PAGES: usize = 20;

/// What a PDF may be before it is taken in, and how large its sheet is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PdfLimits {
    /// The largest file taken, in bytes (default 50 MiB).
    pub max_bytes: u64,
    /// The most pages taken (default 20).
    pub max_pages: usize,
    /// How wide every page is drawn, in pixels (default 1,240: A4 at 150 dpi); at most
    /// [`MAX_PAGE_PX`].
    pub page_width_px: u32,
    /// The most pixels a whole sheet may have, gaps included (default 40,000,000: 160 MB of
    /// RGBA). A sheet that would have more is drawn with every page narrower, down to
    /// [`MIN_SCALED_WIDTH_PX`], and refused if that is not enough.
    pub max_sheet_pixels: u64,
}

impl Default for PdfLimits {
    fn default() -> Self {
        Self {
            max_bytes: 50 * 1024 * 1024,
            max_pages: DEFAULT_MAX_PAGES,
            page_width_px: 1240,
            max_sheet_pixels: 40_000_000,
        }
    }
}

/// What a PDF that passed [`check_pdf`] holds.
#[derive(Debug, Clone, PartialEq)]
pub struct PdfInfo {
    /// How many pages.
    pub pages: usize,
    /// Each page's width and height in points (1/72 inch) as it is shown: its crop box, turned
    /// by its `/Rotate`.
    pub page_sizes_pt: Vec<(f32, f32)>,
}

/// Why a PDF was not taken in or not drawn.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PdfError {
    /// The file is larger than [`PdfLimits::max_bytes`].
    #[error("the file is {size} bytes; the largest PDF taken in is {max} bytes")]
    TooLarge {
        /// The file's size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// No `%PDF-` header near the file's start: not a PDF at all.
    #[error("this file is not a PDF")]
    NotPdf,
    /// It begins like a PDF but cannot be read: damaged, or cut off before its end.
    #[error("the PDF is damaged or incomplete: {0}")]
    Corrupt(String),
    /// Encrypted so that it needs a password to open, or in a way the renderer cannot undo.
    #[error(
        "the PDF is password-protected or encrypted; save or print it again without a password"
    )]
    Encrypted,
    /// The PDF has no pages.
    #[error("the PDF has no pages")]
    NoPages,
    /// More pages than [`PdfLimits::max_pages`].
    #[error("the PDF has {pages} pages; at most {max} are taken in")]
    TooManyPages {
        /// How many pages the PDF has.
        pages: usize,
        /// The limit.
        max: usize,
    },
    /// A page's size is not one PDF allows: a side shorter than [`MIN_PAGE_SIDE_PT`], longer
    /// than [`MAX_PAGE_SIDE_PT`], or not a number.
    #[error("page {page} is {width}x{height} points, not a size a PDF page can have")]
    BadPage {
        /// The page, counted from 1.
        page: usize,
        /// Its width in points, as read.
        width: f32,
        /// Its height in points, as read.
        height: f32,
    },
    /// The sheet would have more than [`PdfLimits::max_sheet_pixels`] (or a page more than
    /// [`MAX_PAGE_PX`] down) even with its pages [`MIN_SCALED_WIDTH_PX`] wide: pages far
    /// taller than they are wide.
    #[error("the pages would be {pixels} pixels drawn; at most {max} are drawn")]
    TooBig {
        /// The sheet's pixels at the narrowest pages drawn (saturating).
        pixels: u64,
        /// The limit.
        max: u64,
    },
    /// Drawing failed: the renderer gave up on this file, or the limits cannot be drawn with
    /// (a page width of 0 or above [`MAX_PAGE_PX`]).
    #[error("the PDF could not be drawn: {0}")]
    Render(String),
}

impl PdfError {
    /// A stable code for the app to put into words in the user's language.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "tooLarge",
            Self::NotPdf => "notPdf",
            Self::Corrupt(_) => "corrupt",
            Self::Encrypted => "encrypted",
            Self::NoPages => "noPages",
            Self::TooManyPages { .. } => "tooManyPages",
            Self::BadPage { .. } => "badPage",
            Self::TooBig { .. } => "tooBig",
            Self::Render(_) => "render",
        }
    }
}

/// Checks a PDF against `limits` without drawing anything: its size, that it is a whole PDF
/// that opens without a password, its number of pages (1 to [`PdfLimits::max_pages`]) and
/// each page's size.
pub fn check_pdf(bytes: &[u8], limits: &PdfLimits) -> Result<PdfInfo, PdfError> {
    open(bytes, limits).map(|(_, info)| info)
}

/// Draws every page of a PDF, checked as [`check_pdf`] checks it, into one picture: each page
/// [`PdfLimits::page_width_px`] wide (its height by its shape, turned by its `/Rotate`) on
/// white, one under the other with [`PAGE_GAP_PX`] of [`GAP_COLOR`] between them. Every pixel
/// is opaque.
///
/// The sheet's size is worked out before it is allocated: when it would have more than
/// [`PdfLimits::max_sheet_pixels`], every page is drawn narrower by the same factor, as wide
/// as fits but at least [`MIN_SCALED_WIDTH_PX`] (or the page width asked for, if that is
/// less); when even that does not fit, [`PdfError::TooBig`].
pub fn render_pdf_sheet(bytes: &[u8], limits: &PdfLimits) -> Result<RgbaImage, PdfError> {
    if limits.page_width_px == 0 || limits.page_width_px > MAX_PAGE_PX {
        return Err(PdfError::Render(format!(
            "pages are drawn 1 to {MAX_PAGE_PX} pixels wide, not {}",
            limits.page_width_px
        )));
    }
    let (pdf, info) = open(bytes, limits)?;
    let layout = sheet_layout(&info.page_sizes_pt, limits)?;
    let width = layout.width;
    let pixels = u64::from(width).saturating_mul(layout.height());
    let too_big = || PdfError::TooBig {
        pixels,
        max: limits.max_sheet_pixels,
    };
    // Only with limits far above the defaults: more rows than an image holds, or more bytes
    // than this machine addresses.
    let height = u32::try_from(layout.height()).map_err(|_| too_big())?;
    let len = usize::try_from(pixels.saturating_mul(4)).map_err(|_| too_big())?;
    // The pages are drawn over all of it but the gaps; filling it all first is simpler than
    // filling the gaps alone and costs little next to drawing.
    let mut sheet = vec![0u8; len];
    for pixel in sheet.chunks_exact_mut(4) {
        pixel.copy_from_slice(&GAP_COLOR);
    }
    // hayro may panic on a file it was not written for; the sheet is thrown away if it does,
    // so nothing half-drawn is seen (AssertUnwindSafe is sound for that reason).
    let drawn = catch_unwind(AssertUnwindSafe(|| {
        draw_pages(&pdf, &info.page_sizes_pt, &layout, &mut sheet)
    }));
    match drawn {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => {
            return Err(PdfError::Render("the renderer failed on this file".into()));
        }
    }
    RgbaImage::from_raw(width, height, sheet)
        .ok_or_else(|| PdfError::Render("the sheet's size does not match its pixels".into()))
}

/// Checks a PDF as [`render_pdf_sheet`] does and says where its pages lie on the sheet it
/// would draw, without drawing: for writing marks made on the sheet back onto the pages.
pub(crate) fn lay_out(bytes: &[u8], limits: &PdfLimits) -> Result<(PdfInfo, Layout), PdfError> {
    let (_, info) = open(bytes, limits)?;
    let layout = sheet_layout(&info.page_sizes_pt, limits)?;
    Ok((info, layout))
}

/// Opens `bytes` as a PDF and checks it; the [`Pdf`] is kept for drawing.
fn open(bytes: &[u8], limits: &PdfLimits) -> Result<(Pdf, PdfInfo), PdfError> {
    let size = bytes.len() as u64;
    if size > limits.max_bytes {
        return Err(PdfError::TooLarge {
            size,
            max: limits.max_bytes,
        });
    }
    let head = &bytes[..bytes.len().min(MARKER_WINDOW)];
    if !contains(head, b"%PDF-") {
        return Err(PdfError::NotPdf);
    }
    let tail = &bytes[bytes.len().saturating_sub(MARKER_WINDOW)..];
    if !contains(tail, b"%%EOF") {
        // hayro would piece together what it could of a cut-off file; a half-uploaded
        // homework should be sent again instead.
        return Err(PdfError::Corrupt(
            "the file ends before its %%EOF marker".into(),
        ));
    }
    // hayro keeps the bytes (behind an Arc), so it gets a copy of its own.
    let data = bytes.to_vec();
    // Reading the cross-reference table and page tree is hayro's too: a panic there is a file
    // it cannot read.
    let read = catch_unwind(AssertUnwindSafe(move || {
        let pdf = Pdf::new(data)?;
        let sizes: Vec<_> = pdf.pages().iter().map(page_size).collect();
        Ok::<_, LoadPdfError>((pdf, sizes))
    }));
    let (pdf, sizes) = match read {
        Ok(Ok(read)) => read,
        Ok(Err(LoadPdfError::Decryption(_))) => return Err(PdfError::Encrypted),
        Ok(Err(LoadPdfError::Invalid)) => {
            return Err(PdfError::Corrupt(
                "its cross-reference table or page tree cannot be read".into(),
            ));
        }
        Err(_) => return Err(PdfError::Corrupt("the PDF reader failed on it".into())),
    };
    if sizes.is_empty() {
        return Err(PdfError::NoPages);
    }
    if sizes.len() > limits.max_pages {
        return Err(PdfError::TooManyPages {
            pages: sizes.len(),
            max: limits.max_pages,
        });
    }
    let mut page_sizes_pt = Vec::with_capacity(sizes.len());
    for (i, size) in sizes.into_iter().enumerate() {
        let PageSize {
            width,
            height,
            turned,
        } = size;
        let fits =
            |side: f32| side.is_finite() && (MIN_PAGE_SIDE_PT..=MAX_PAGE_SIDE_PT).contains(&side);
        if !fits(width) || !fits(height) {
            return Err(PdfError::BadPage {
                page: i + 1,
                width,
                height,
            });
        }
        page_sizes_pt.push(if turned {
            (height, width)
        } else {
            (width, height)
        });
    }
    let info = PdfInfo {
        pages: page_sizes_pt.len(),
        page_sizes_pt,
    };
    Ok((pdf, info))
}

/// A page's size as read, before hayro's own fallbacks (it draws a page of no area as A4).
struct PageSize {
    /// The crop box's width (within the media box), points.
    width: f32,
    /// Its height, points.
    height: f32,
    /// Turned a quarter or three quarters (`/Rotate 90` or `270`): shown with width and height
    /// swapped.
    turned: bool,
}

fn page_size(page: &Page<'_>) -> PageSize {
    let crop = page.intersected_crop_box();
    PageSize {
        width: crop.width() as f32,
        height: crop.height() as f32,
        turned: matches!(
            page.rotation(),
            Rotation::Horizontal | Rotation::FlippedHorizontal
        ),
    }
}

/// Where the pages of a sheet go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Every page's width, pixels.
    pub width: u32,
    /// Each page's height, pixels.
    pub heights: Vec<u32>,
}

impl Layout {
    /// The sheet's height: every page and the gaps between them.
    fn height(&self) -> u64 {
        let gaps = u64::from(PAGE_GAP_PX) * self.heights.len().saturating_sub(1) as u64;
        self.heights.iter().map(|&h| u64::from(h)).sum::<u64>() + gaps
    }
}

/// The sheet for pages of `sizes` (points, as shown): as wide as the limits ask, or narrower
/// so it fits [`PdfLimits::max_sheet_pixels`] and every page fits [`MAX_PAGE_PX`] down.
fn sheet_layout(sizes: &[(f32, f32)], limits: &PdfLimits) -> Result<Layout, PdfError> {
    let full = limits.page_width_px;
    let narrowest = MIN_SCALED_WIDTH_PX.min(full);
    let gaps = u64::from(PAGE_GAP_PX) * sizes.len().saturating_sub(1) as u64;
    // Heights per pixel of width; the sides were checked (3 to 14,400 points), so this is
    // finite and at most 4,800.
    let aspects: Vec<f64> = sizes
        .iter()
        .map(|&(w, h)| f64::from(h) / f64::from(w))
        .collect();
    let heights_at = |width: u32| -> Vec<u64> {
        aspects
            .iter()
            .map(|a| ((f64::from(width) * a).round() as u64).max(1))
            .collect()
    };
    let pixels_at = |heights: &[u64], width: u32| -> u64 {
        u64::from(width).saturating_mul(heights.iter().sum::<u64>().saturating_add(gaps))
    };
    let fits = |width: u32| -> bool {
        let heights = heights_at(width);
        heights.iter().all(|&h| h <= u64::from(MAX_PAGE_PX))
            && pixels_at(&heights, width) <= limits.max_sheet_pixels
    };
    let mut width = full;
    if !fits(width) {
        // w * (w * sum(aspects) + gaps) <= max, solved for w, is where to start; rounding each
        // page's height can make that a pixel or two too wide, so step down from there.
        let sum: f64 = aspects.iter().sum();
        let max = limits.max_sheet_pixels as f64;
        let g = gaps as f64;
        let by_pixels = (-g + (g * g + 4.0 * sum * max).sqrt()) / (2.0 * sum);
        let tallest = aspects.iter().copied().fold(0.0, f64::max);
        let by_height = f64::from(MAX_PAGE_PX) / tallest;
        let start = by_pixels.min(by_height).floor();
        width = if start.is_finite() && start >= 0.0 {
            (start as u32).min(full)
        } else {
            0
        };
        // A few steps at most; bounded whatever the arithmetic did.
        let mut steps = 0;
        while width > narrowest && !fits(width) && steps < 64 {
            width -= 1;
            steps += 1;
        }
        if width < narrowest || !fits(width) {
            return Err(PdfError::TooBig {
                pixels: pixels_at(&heights_at(narrowest), narrowest),
                max: limits.max_sheet_pixels,
            });
        }
    }
    let heights = heights_at(width)
        .into_iter()
        .map(|h| u32::try_from(h).unwrap_or(MAX_PAGE_PX))
        .collect();
    Ok(Layout { width, heights })
}

/// Draws each page (of `sizes`, points as shown) into its rows of `sheet`: RGBA, the size of
/// `layout`.
fn draw_pages(
    pdf: &Pdf,
    sizes: &[(f32, f32)],
    layout: &Layout,
    sheet: &mut [u8],
) -> Result<(), PdfError> {
    let width = layout.width;
    let too_big = || PdfError::Render("a page is larger than the renderer draws".into());
    let w16 = u16::try_from(width).map_err(|_| too_big())?;
    let row = width as usize * 4;
    let cache = RenderCache::new();
    // The defaults: the 14 standard fonts (Helvetica, Times, Courier, Symbol, ZapfDingbats)
    // from substitutes built into hayro, and the predefined CJK CMaps.
    let interpreter = InterpreterSettings::default();
    let settings = RenderSettings::default();
    let mut resources = Resources::default();
    let mut top = 0usize;
    let pages = pdf.pages().iter().zip(sizes).zip(&layout.heights);
    for ((page, &(shown_w, _)), &height) in pages {
        let h16 = u16::try_from(height).map_err(|_| too_big())?;
        let rows = height as usize * row;
        let target = sheet.get_mut(top..top + rows).ok_or_else(too_big)?;
        let scale = f64::from(width) / f64::from(shown_w);
        // The page's own transform turns it by its /Rotate, flips PDF's upward y and moves its
        // crop box to the origin; then it is scaled to the sheet's width.
        let transform = Affine::scale(scale) * page.initial_transform(true).to_kurbo();
        let mut ctx = RenderContext::new(w16, h16);
        hayro::render_into(page, &cache, &interpreter, &settings, &mut ctx, transform);
        ctx.flush();
        let target = PixmapMut::new(w16, h16, target).ok_or_else(too_big)?;
        ctx.render_with(
            target,
            &mut resources,
            RasterizerSettings {
                target_init: TargetInit::Clear(WHITE),
                ..RasterizerSettings::default()
            },
        );
        top += rows + PAGE_GAP_PX as usize * row;
    }
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn limits(width: u32, max: u64) -> PdfLimits {
        PdfLimits {
            page_width_px: width,
            max_sheet_pixels: max,
            ..PdfLimits::default()
        }
    }

    const A4: (f32, f32) = (595.0, 842.0);

    #[test]
    fn a4_pages_are_drawn_at_the_width_asked_for() {
        let layout = sheet_layout(&[A4, A4, A4], &PdfLimits::default()).unwrap();
        assert_eq!(layout.width, 1240);
        assert_eq!(layout.heights, vec![1755; 3]);
        assert_eq!(layout.height(), 3 * 1755 + 2 * 16);
    }

    #[test]
    fn a_sheet_too_large_is_drawn_narrower_to_fit() {
        // 20 A4 pages at 1240 are 43.6 megapixels.
        let pages = vec![A4; 20];
        let limits = PdfLimits::default();
        let layout = sheet_layout(&pages, &limits).unwrap();
        assert!(layout.width < 1240 && layout.width >= MIN_SCALED_WIDTH_PX);
        let pixels = u64::from(layout.width) * layout.height();
        assert!(pixels <= limits.max_sheet_pixels, "{pixels}");
        // As wide as fits: one pixel wider does not.
        let wider = layout.width + 1;
        let heights: u64 = pages
            .iter()
            .map(|&(w, h)| (f64::from(wider) * f64::from(h) / f64::from(w)).round() as u64)
            .sum();
        assert!(u64::from(wider) * (heights + 19 * 16) > limits.max_sheet_pixels);
    }

    #[test]
    fn a_sheet_that_needs_pages_narrower_than_400_is_refused() {
        let err = sheet_layout(&[A4; 20], &limits(1240, 4_000_000)).unwrap_err();
        assert_eq!(err.kind(), "tooBig");
    }

    #[test]
    fn a_page_too_tall_for_the_renderer_is_drawn_narrower_or_refused() {
        // 144 times as tall as wide: 178,560 pixels down at 1,240 across.
        let tall = (100.0, 14_400.0);
        let layout = sheet_layout(&[tall], &PdfLimits::default()).unwrap();
        assert_eq!(layout.width, 455);
        assert!(layout.heights[0] <= MAX_PAGE_PX);
        // 4,800 times: 13 pixels across at most, narrower than pages are drawn.
        let thin = (3.0, 14_400.0);
        let err = sheet_layout(&[thin], &limits(1240, u64::MAX)).unwrap_err();
        assert_eq!(err.kind(), "tooBig");
    }

    #[test]
    fn limits_of_zero_pixels_are_refused_not_divided_by() {
        assert_eq!(
            sheet_layout(&[A4], &limits(1240, 0)).unwrap_err().kind(),
            "tooBig"
        );
    }
}
