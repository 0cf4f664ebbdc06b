//! Pages written as PDF, the ink as vectors (krilla writes the file).
//!
//! - [`marked_pdf`]: a handed-in PDF with a teacher's marks. Every original page is embedded
//!   as it is (its content copied as a form, so its text is still text: selectable, searchable,
//!   sharp at any zoom) at its own size, and the marks made on the marking sheet
//!   ([`crate::render_pdf_sheet`]) are drawn over the page they were made on, clipped to it.
//! - [`board_pdf`]: whiteboard pages, one PDF page each (16:9, [`BOARD_PAGE_WIDTH_PT`] wide),
//!   with their paper, ruled or grid lines and items.
//! - [`photos_pdf`]: photos handed in together, one page each, so a student's several photos
//!   are one piece of work, marked and returned as one (as a handed-in PDF is).
//!
//! Items are drawn by the same code that draws them to pixels ([`crate::render`]), through
//! its `Painter`: the same segments, widths, colours and order, so the PDF shows what the
//! canvas and the PNG show. Two differences, both of the medium: opaque ink stays a stroke
//! per pair of samples (the PNG fills their outlines together, which looks the same), and
//! what lies wholly outside a page is not written. Text items and score stamps are written as
//! text in the faces the PNG draws them in ([`crate::text`]; embedded, subset), so they can
//! be selected and searched. A background picture (a photo, a PDF page
//! or a frozen frame) is not drawn on a whiteboard page: the canvas draws none yet.
//!
//! The original PDF is read twice: checked and laid out by the hayro that draws the marking
//! sheet (so the marks land where the teacher saw the page), then embedded through krilla's
//! own reader. Both reads are under [`std::panic::catch_unwind`], as in [`crate::pdf`].

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use annotate::{Background, Item, Page};
use krilla::Data;
use krilla::Document;
use krilla::SerializeSettings;
use krilla::blend::BlendMode;
use krilla::color::rgb;
use krilla::configure::{ConfigurationBuilder, PdfVersion};
use krilla::geom::{PathBuilder as PdfPathBuilder, Size};
use krilla::image::Image;
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule, LineCap, LineJoin, Stroke as PdfStroke};
use krilla::pdf::{Pdf, PdfDocument};
use krilla::surface::Surface;
use tiny_skia::{Path, PathBuilder, PathSegment, Rect, Stroke, Transform};

use crate::ingest::Ingested;
use crate::pdf::{self, PAGE_GAP_PX, PdfError, PdfLimits};
use crate::render::{
    self, Ink, MARK_PAGE_WIDTH, PAGE_HEIGHT, PAGE_WIDTH, PAPER, Painter, drawing_order,
};
use crate::text::{self, Run};
use krilla::text::{GlyphId, KrillaGlyph};

/// A whiteboard page's width in a PDF, in points (13.33 inches, a 16:9 slide's).
pub const BOARD_PAGE_WIDTH_PT: f32 = 960.0;
/// The most whiteboard pages written into one PDF.
pub const MAX_BOARD_PAGES: usize = 500;

/// Why a PDF was not written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The handed-in PDF could not be taken (as when it was handed in).
    #[error(transparent)]
    Pdf(#[from] PdfError),
    /// Nothing to write.
    #[error("there are no pages to write")]
    NoPages,
    /// More whiteboard pages than are written at once.
    #[error("{pages} pages are more than the {max} written into one PDF")]
    TooManyPages {
        /// Asked for.
        pages: usize,
        /// The most.
        max: usize,
    },
    /// Writing failed (the writer refused the original's pages, or failed on them).
    #[error("the PDF could not be written: {0}")]
    Write(String),
}

impl ExportError {
    /// A stable code for the app to put into words in the user's language.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Pdf(e) => e.kind(),
            Self::NoPages => "noPages",
            Self::TooManyPages { .. } => "tooManyPages",
            Self::Write(_) => "write",
        }
    }
}

/// A handed-in PDF (`original`, checked under `limits` as when it was marked) with `marks`
/// made on its marking sheet (in [`MARK_PAGE_WIDTH`] units across the sheet, as the app's
/// marking canvas records them): each original page kept as vectors, at its size, with the
/// marks that fall on it drawn over it. `title` is the document's title.
pub fn marked_pdf(
    original: &[u8],
    marks: &[Item],
    limits: &PdfLimits,
    title: &str,
) -> Result<Vec<u8>, ExportError> {
    let (info, layout) = pdf::lay_out(original, limits)?;
    let data = original.to_vec();
    let read = catch_unwind(AssertUnwindSafe(move || Pdf::new(data)));
    let source = match read {
        Ok(Ok(pdf)) => PdfDocument::new(Arc::new(pdf)),
        Ok(Err(e)) => return Err(ExportError::Write(format!("reading its pages: {e:?}"))),
        Err(_) => return Err(ExportError::Write("the PDF reader failed on it".into())),
    };
    let marks = render::marks_page(marks);
    let marks = drawing_order(&marks);
    // The sheet's pixels per mark unit, and where each page starts down the sheet, in units.
    let units_per_px = MARK_PAGE_WIDTH / layout.width as f32;
    let version = if original.starts_with(b"%PDF-2") {
        PdfVersion::Pdf20
    } else {
        PdfVersion::Pdf17
    };
    write(title, version, |document| {
        let mut top_px = 0u64;
        for (index, (&(width, height), &page_px)) in
            info.page_sizes_pt.iter().zip(&layout.heights).enumerate()
        {
            let top = top_px as f32 * units_per_px;
            top_px += u64::from(page_px) + u64::from(PAGE_GAP_PX);
            let (Some(settings), Some(size)) = (
                PageSettings::from_wh(width, height),
                Size::from_wh(width, height),
            ) else {
                // Checked (3 to 14,400 points): not reached.
                return Err(ExportError::Write(format!(
                    "page {} has no size",
                    index + 1
                )));
            };
            let mut page = document.start_page_with(settings);
            let mut surface = page.surface();
            surface.draw_pdf_page(&source, size, index);
            // Mark units to this page's points: the sheet's width is the page's width.
            let scale = width / MARK_PAGE_WIDTH;
            let at = Transform::from_row(scale, 0.0, 0.0, scale, 0.0, -top * scale);
            let mut painter = PdfPainter::new(&mut surface, width, height);
            painter.clipped(|painter| {
                for item in &marks {
                    render::draw_item(painter, item, at);
                }
            });
            surface.finish();
            page.finish();
        }
        Ok(())
    })
}

/// Whiteboard pages as a PDF, one page each ([`BOARD_PAGE_WIDTH_PT`] wide, 16:9), drawn as
/// the canvas draws them. `title` is the document's title.
pub fn board_pdf(pages: &[&Page], title: &str) -> Result<Vec<u8>, ExportError> {
    check_page_count(pages.len(), MAX_BOARD_PAGES)?;
    let scale = BOARD_PAGE_WIDTH_PT / PAGE_WIDTH;
    let (width, height) = (BOARD_PAGE_WIDTH_PT, PAGE_HEIGHT * scale);
    let at = Transform::from_scale(scale, scale);
    write(title, PdfVersion::Pdf17, |document| {
        for board_page in pages {
            let Some(settings) = PageSettings::from_wh(width, height) else {
                return Err(ExportError::Write("a page has no size".into()));
            };
            let mut page = document.start_page_with(settings);
            let mut surface = page.surface();
            let mut painter = PdfPainter::new(&mut surface, width, height);
            painter.clipped(|painter| {
                if let Some(paper) = Rect::from_xywh(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT) {
                    painter.fill(&PathBuilder::from_rect(paper), Ink::opaque(PAPER), at);
                }
                if let Background::Ruled { spacing } | Background::Grid { spacing } =
                    board_page.background
                {
                    let grid = matches!(board_page.background, Background::Grid { .. });
                    render::draw_rules(painter, spacing, grid, at);
                }
                for item in drawing_order(board_page) {
                    render::draw_item(painter, item, at);
                }
            });
            surface.finish();
            page.finish();
        }
        Ok(())
    })
}

/// A document written by `pages`, with `title`; krilla's own failures (and panics, on an
/// original it cannot embed) come back as [`ExportError::Write`].
fn write(
    title: &str,
    version: PdfVersion,
    pages: impl FnOnce(&mut Document) -> Result<(), ExportError>,
) -> Result<Vec<u8>, ExportError> {
    let configuration = ConfigurationBuilder::new()
        .with_version(version)
        .finish()
        .map_err(|e| ExportError::Write(format!("{e:?}")))?;
    let settings = SerializeSettings {
        configuration,
        ..SerializeSettings::default()
    };
    let written = catch_unwind(AssertUnwindSafe(move || {
        let mut document = Document::new_with(settings);
        document.set_metadata(
            Metadata::new()
                .title(title.to_owned())
                .creator("Classroom".into()),
        );
        pages(&mut document)?;
        document
            .finish()
            .map_err(|e| ExportError::Write(format!("{e:?}")))
    }));
    written.unwrap_or_else(|_| Err(ExportError::Write("the PDF writer failed".into())))
}

/// A PDF to write has 1 to `max` pages.
fn check_page_count(pages: usize, max: usize) -> Result<(), ExportError> {
    if pages == 0 {
        return Err(ExportError::NoPages);
    }
    if pages > max {
        return Err(ExportError::TooManyPages { pages, max });
    }
    Ok(())
}

/// The width of a page of [`photos_pdf`], in points (A4's).
pub const PHOTO_PAGE_WIDTH_PT: f32 = 595.0;
/// The most photos in one [`photos_pdf`]: the pages a handed-in PDF may have
/// ([`PdfLimits::max_pages`]'s default).
pub const MAX_PHOTO_PAGES: usize = pdf::DEFAULT_MAX_PAGES;

/// Photos handed in together as one PDF: a page each, in their order, [`PHOTO_PAGE_WIDTH_PT`]
/// wide and as tall as the photo's shape makes it (between [`crate::pdf::MIN_PAGE_SIDE_PT`]
/// and the tallest page [`crate::check_pdf`] takes), the photo filling it. The photos are
/// taken as [`crate::ingest_image`] left them (upright, scaled, without metadata): a JPEG
/// embedded as it is, a PNG's pixels compressed anew.
pub fn photos_pdf(photos: &[Ingested], title: &str) -> Result<Vec<u8>, ExportError> {
    check_page_count(photos.len(), MAX_PHOTO_PAGES)?;
    write(title, PdfVersion::Pdf17, |document| {
        for photo in photos {
            let data = Data::from(photo.bytes.clone());
            let image = match photo.media_type {
                "image/png" => Image::from_png(data, true),
                _ => Image::from_jpeg(data, true),
            }
            .map_err(|e| ExportError::Write(format!("a photo could not be embedded: {e}")))?;
            let height = (PHOTO_PAGE_WIDTH_PT * photo.height as f32 / photo.width.max(1) as f32)
                .clamp(pdf::MIN_PAGE_SIDE_PT, pdf::MAX_PAGE_SIDE_PT);
            let (Some(settings), Some(size)) = (
                PageSettings::from_wh(PHOTO_PAGE_WIDTH_PT, height),
                Size::from_wh(PHOTO_PAGE_WIDTH_PT, height),
            ) else {
                return Err(ExportError::Write("a page has no size".into()));
            };
            let mut page = document.start_page_with(settings);
            let mut surface = page.surface();
            surface.draw_image(image, size);
            surface.finish();
            page.finish();
        }
        Ok(())
    })
}

/// Draws on a PDF page, in points from its top-left corner (krilla's own orientation).
struct PdfPainter<'s, 'p> {
    surface: &'s mut Surface<'p>,
    /// The page, in points: a path wholly outside it is not written.
    page: Rect,
}

impl<'s, 'p> PdfPainter<'s, 'p> {
    fn new(surface: &'s mut Surface<'p>, width: f32, height: f32) -> Self {
        let page = Rect::from_xywh(0.0, 0.0, width, height).unwrap_or_else(|| {
            Rect::from_xywh(0.0, 0.0, 1.0, 1.0).unwrap_or_else(|| unreachable!())
        });
        Self { surface, page }
    }

    /// Runs `draw` with everything clipped to the page (marks crossing into the gap or the
    /// next page stop at the edge, as on the sheet).
    fn clipped(&mut self, draw: impl FnOnce(&mut Self)) {
        let clip = to_pdf_path(&PathBuilder::from_rect(self.page), Transform::identity());
        if let Some(clip) = &clip {
            self.surface.push_clip_path(clip, &FillRule::NonZero);
        }
        draw(self);
        if clip.is_some() {
            self.surface.pop();
        }
    }

    /// Whether `bounds`, grown by `margin` on every side, touches the page.
    fn touches(&self, bounds: Rect, margin: f32) -> bool {
        bounds.left() - margin <= self.page.right()
            && bounds.right() + margin >= self.page.left()
            && bounds.top() - margin <= self.page.bottom()
            && bounds.bottom() + margin >= self.page.top()
    }

    /// Draws `path` with the fill and stroke set, multiplied when `ink` says so.
    fn draw(&mut self, path: &krilla::geom::Path, ink: Ink) {
        if ink.multiply {
            self.surface.push_blend_mode(BlendMode::Multiply);
        }
        self.surface.draw_path(path);
        if ink.multiply {
            self.surface.pop();
        }
    }
}

impl Painter for PdfPainter<'_, '_> {
    fn fill(&mut self, path: &Path, ink: Ink, at: Transform) {
        let Some(bounds) = path.bounds().transform(at) else {
            return;
        };
        if !self.touches(bounds, 0.0) {
            return;
        }
        let Some(path) = to_pdf_path(path, at) else {
            return;
        };
        self.surface.set_stroke(None);
        self.surface.set_fill(Some(Fill {
            paint: color(ink),
            opacity: opacity(ink),
            rule: FillRule::NonZero,
        }));
        self.draw(&path, ink);
    }

    fn stroke(&mut self, path: &Path, ink: Ink, stroke: &Stroke, at: Transform) {
        // The page's transforms scale both axes alike, so a width scales by that factor.
        let scale = (at.sx * at.sy - at.kx * at.ky).abs().sqrt();
        let width = stroke.width * scale;
        let Some(bounds) = path.bounds().transform(at) else {
            return;
        };
        if !(width.is_finite() && width > 0.0 && self.touches(bounds, width / 2.0)) {
            return;
        }
        let Some(path) = to_pdf_path(path, at) else {
            return;
        };
        self.surface.set_fill(None);
        self.surface.set_stroke(Some(PdfStroke {
            paint: color(ink),
            width,
            miter_limit: stroke.miter_limit,
            line_cap: match stroke.line_cap {
                tiny_skia::LineCap::Butt => LineCap::Butt,
                tiny_skia::LineCap::Round => LineCap::Round,
                tiny_skia::LineCap::Square => LineCap::Square,
            },
            line_join: match stroke.line_join {
                tiny_skia::LineJoin::Round => LineJoin::Round,
                tiny_skia::LineJoin::Bevel => LineJoin::Bevel,
                tiny_skia::LineJoin::Miter | tiny_skia::LineJoin::MiterClip => LineJoin::Miter,
            },
            opacity: opacity(ink),
            dash: None,
        }));
        self.draw(&path, ink);
    }

    fn text(&mut self, run: &Run, ink: Ink, at: Transform) {
        let Some(font) = run.face.pdf_font() else {
            return;
        };
        let Some(bounds) = text::bounds(std::slice::from_ref(run))
            .and_then(|[l, t, r, b]| Rect::from_ltrb(l, t, r, b))
            .and_then(|b| b.transform(at))
        else {
            return;
        };
        if !self.touches(bounds, 0.0) {
            return;
        }
        let glyphs: Vec<KrillaGlyph> = run
            .glyphs
            .iter()
            .map(|g| {
                KrillaGlyph::new(
                    GlyphId::new(u32::from(g.id)),
                    g.advance,
                    g.dx,
                    g.dy,
                    0.0,
                    g.range.clone(),
                    None,
                )
            })
            .collect();
        self.surface.set_stroke(None);
        self.surface.set_fill(Some(Fill {
            paint: color(ink),
            opacity: opacity(ink),
            rule: FillRule::NonZero,
        }));
        self.surface
            .push_transform(&krilla::geom::Transform::from_row(
                at.sx, at.ky, at.kx, at.sy, at.tx, at.ty,
            ));
        self.surface.draw_glyphs(
            krilla::geom::Point::from_xy(run.origin[0], run.origin[1]),
            &glyphs,
            font,
            &run.text,
            run.size,
            false,
        );
        self.surface.pop();
    }
}

fn color(ink: Ink) -> krilla::paint::Paint {
    let [r, g, b] = ink.rgb;
    rgb::Color::new(r, g, b).into()
}

fn opacity(ink: Ink) -> NormalizedF32 {
    NormalizedF32::new(ink.alpha.clamp(0.0, 1.0)).unwrap_or(NormalizedF32::ONE)
}

/// `path` moved by `at`, as krilla's path (None when nothing of it is left).
fn to_pdf_path(path: &Path, at: Transform) -> Option<krilla::geom::Path> {
    let path = path.clone().transform(at)?;
    let mut out = PdfPathBuilder::new();
    for segment in path.segments() {
        match segment {
            PathSegment::MoveTo(p) => out.move_to(p.x, p.y),
            PathSegment::LineTo(p) => out.line_to(p.x, p.y),
            PathSegment::QuadTo(c, p) => out.quad_to(c.x, c.y, p.x, p.y),
            PathSegment::CubicTo(c1, c2, p) => out.cubic_to(c1.x, c1.y, c2.x, c2.y, p.x, p.y),
            PathSegment::Close => out.close(),
        }
    }
    out.finish()
}
