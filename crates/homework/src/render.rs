//! A page drawn as the app's canvas draws it (`ui/src/lib/board.ts`, `drawItem`, and the
//! whiteboard's `drawBackground`), to a pixmap or a PNG.
//!
//! The same constants as the canvas: a page is [`PAGE_WIDTH`] x [`PAGE_HEIGHT`] units, its
//! paper is [`PAPER`], ruled and grid lines are 1 unit of `rgba(60, 90, 140, 0.15)`, ink is
//! one round-capped segment per pair of samples as wide as [`width_at`] their mean pressure
//! (pencil at 0.8 of its colour's alpha), a highlighter one round-joined path of one width
//! (0.35 of its colour's alpha, multiplied, under the rest), shapes and stamps as `drawItem`
//! draws them.
//!
//! Where the canvas has nothing to follow or this crate cannot follow it:
//! - A background picture (the canvas draws none yet) is fitted inside the page whole, centred,
//!   with paper around it ([`image_rect`]): a homework photo is never cropped or stretched, and
//!   a portrait page keeps its margins for marks. Its edges are rounded to whole pixels.
//! - Text items and score stamps are drawn from the system's fonts, laid out as the canvas
//!   lays them out ([`crate::text`]): the same families, baselines and line height; the
//!   glyphs' own shapes come from whichever face the system has.
//! - Bad data from a participant is bounded instead of handed to the rasterizer: a width of
//!   zero, a negative or non-finite one draws nothing (the canvas would keep the previous line
//!   width), widths above [`MAX_LINE_WIDTH`] are drawn at it, pressure is clamped to 0..=1 (as
//!   the page records it), a path reaching beyond [`MAX_COORD`] units is not drawn, and ruled
//!   or grid spacing below 1 unit draws no lines (the canvas would never finish drawing them).
//! - Strokes still being drawn are drawn after the finished ones, as the canvas draws its live
//!   layer over the cached one.

use annotate::{Background, Item, ItemKind, Page, ShapeKind, Stamp, Tool};
use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::{ExtendedColorType, ImageEncoder, RgbaImage};
use tiny_skia::{
    BlendMode, Color, FillRule, LineCap, LineJoin, Paint, Path, PathBuilder, PathStroker, Pixmap,
    PixmapMut, Rect, Stroke, Transform,
};

use crate::capsule::{self, Capsule};
use crate::resample::{FilterType, resample};
use crate::text::{self, Anchor, Run, SCORE_SIZE};

/// A page's logical width: every participant's coordinates are in these units (`PAGE_WIDTH`
/// in board.ts).
pub const PAGE_WIDTH: f32 = 1600.0;
/// A page's logical height (`PAGE_HEIGHT` in board.ts).
pub const PAGE_HEIGHT: f32 = 900.0;
/// The largest width or height rendered, in pixels.
pub const MAX_RENDER_SIDE: u32 = 8192;
/// The paper under everything (`#fdfcf7`, the whiteboard's fill).
pub const PAPER: [u8; 3] = [0xfd, 0xfc, 0xf7];

/// The width of ruled and grid lines, page units.
const RULE_WIDTH: f32 = 1.0;
/// Ruled and grid lines: `rgba(60, 90, 140, 0.15)`.
const RULE_COLOR: ([u8; 3], f32) = ([60, 90, 140], 0.15);
/// The line width of ticks and crosses, page units.
const STAMP_WIDTH: f32 = 6.0;
/// A tick's colour, `rgb(30, 140, 60)`.
const TICK_COLOR: [u8; 3] = [30, 140, 60];
/// A cross's colour, `rgb(200, 40, 40)`.
const CROSS_COLOR: [u8; 3] = [200, 40, 40];
/// How much of its colour's alpha a highlighter keeps.
const HIGHLIGHTER_ALPHA: f32 = 0.35;
/// How much of its colour's alpha a pencil keeps.
const PENCIL_ALPHA: f32 = 0.8;
/// The shortest arrow head, page units.
const ARROW_HEAD_MIN: f32 = 12.0;
/// The farthest from the page's origin a point is drawn, page units (62 pages away): a
/// participant's bad data must not reach the rasterizer's fixed-point limits.
pub const MAX_COORD: f32 = 100_000.0;
/// The widest line drawn, page units: wider than the page's diagonal, so a wider one would look
/// no different on it.
pub const MAX_LINE_WIDTH: f32 = 4000.0;

/// Ink: a colour, how much of it covers (0 to 1), and whether it multiplies with what is
/// under it (the highlighter) instead of covering it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Ink {
    /// Red, green, blue.
    pub rgb: [u8; 3],
    /// Coverage, 0 to 1.
    pub alpha: f32,
    /// Multiplied with what is under it.
    pub multiply: bool,
}

impl Ink {
    /// `rgb` covering `alpha` (clamped to 0..=1) of what is under it.
    pub(crate) fn new(rgb: [u8; 3], alpha: f32) -> Self {
        Self {
            rgb,
            alpha: alpha.clamp(0.0, 1.0),
            multiply: false,
        }
    }

    /// `rgb`, covering what is under it.
    pub(crate) fn opaque(rgb: [u8; 3]) -> Self {
        Self::new(rgb, 1.0)
    }
}

/// Where items are drawn: pixels ([`PixmapMut`], a band of a pixmap) or a PDF page (`crate::export`). Both get the
/// same paths, so a page exported as PDF shows what the PNG and the canvas show.
pub(crate) trait Painter {
    /// Fills `path` (page units, moved by `at`) with `ink`.
    fn fill(&mut self, path: &Path, ink: Ink, at: Transform);
    /// Strokes `path` (page units, moved by `at`) with `ink` as `stroke` says.
    fn stroke(&mut self, path: &Path, ink: Ink, stroke: &Stroke, at: Transform);
    /// Draws opaque ink's segments (`[x0, y0, x1, y1, width]`, page units moved by `at`,
    /// finite, of a width and within reach) in `rgb`, each round-capped and on its own, as
    /// the canvas strokes them. By default one stroke each: a PDF keeps them as strokes
    /// (smaller, and exact at any zoom); pixels draw them faster (`crate::capsule`).
    fn opaque_segments(&mut self, segments: &[[f32; 5]], rgb: [u8; 3], at: Transform)
    where
        Self: Sized,
    {
        stroke_segments(self, segments, Ink::opaque(rgb), at);
    }
    /// Draws `run` (page units, moved by `at`) in `ink`: pixels fill its glyphs' outlines; a
    /// PDF writes it as text.
    fn text(&mut self, run: &Run, ink: Ink, at: Transform) {
        if let Some(outline) = run.outline()
            && within_reach(&outline, at)
        {
            self.fill(&outline, ink, at);
        }
    }
}

impl Painter for PixmapMut<'_> {
    fn fill(&mut self, path: &Path, ink: Ink, at: Transform) {
        self.fill_path(path, &paint(ink), FillRule::Winding, at, None);
    }

    fn stroke(&mut self, path: &Path, ink: Ink, stroke: &Stroke, at: Transform) {
        self.stroke_path(path, &paint(ink), stroke, at, None);
    }

    /// Each segment as a capsule straight into the pixels (`crate::capsule`) when the page is
    /// scaled alike on both axes; the rest (a stretched page, a capsule too large to draw
    /// there) as tiny-skia's outlines of them, filled together.
    fn opaque_segments(&mut self, segments: &[[f32; 5]], rgb: [u8; 3], at: Transform) {
        let alike =
            at.kx == 0.0 && at.ky == 0.0 && at.sx > 0.0 && (at.sx - at.sy).abs() <= at.sx * 1e-4;
        let width = self.width() as usize;
        let mut rest = Vec::new();
        for &segment in segments {
            let [x0, y0, x1, y1, w] = segment;
            let capsule = Capsule {
                a: [x0 * at.sx + at.tx, y0 * at.sy + at.ty],
                b: [x1 * at.sx + at.tx, y1 * at.sy + at.ty],
                radius: w * at.sx / 2.0,
            };
            if alike && capsule.fits() {
                capsule::draw(self.data_mut(), width, &capsule, rgb);
            } else {
                rest.push(segment);
            }
        }
        fill_outlines(self, &rest, rgb, at);
    }
}

/// Opaque segments (as [`Painter::opaque_segments`] takes them) as tiny-skia's round-capped
/// outlines, filled as one path: the same look as stroking each, in a third less time.
fn fill_outlines(pixmap: &mut PixmapMut<'_>, segments: &[[f32; 5]], rgb: [u8; 3], at: Transform) {
    let mut stroker = PathStroker::new();
    let resolution = PathStroker::compute_resolution_scale(&at);
    let mut outlines = PathBuilder::new();
    for &[x0, y0, x1, y1, width] in segments {
        if let (Some(segment), Some(style)) = (segment_path(x0, y0, x1, y1), round_stroke(width))
            && let Some(outline) = stroker.stroke(&segment, &style, resolution)
        {
            outlines.push_path(&outline);
        }
    }
    if let Some(outlines) = outlines.finish() {
        Painter::fill(pixmap, &outlines, Ink::opaque(rgb), at);
    }
}

/// The straight line from `(x0, y0)` to `(x1, y1)` (`None` when a point is not finite).
fn segment_path(x0: f32, y0: f32, x1: f32, y1: f32) -> Option<Path> {
    let mut path = PathBuilder::new();
    path.move_to(x0, y0);
    path.line_to(x1, y1);
    path.finish()
}

/// Segments (as [`Painter::opaque_segments`] takes them) stroked one by one in `ink`, each
/// round-capped: translucent ink darkens where they overlap, as on the canvas.
fn stroke_segments(painter: &mut impl Painter, segments: &[[f32; 5]], ink: Ink, at: Transform) {
    for &[x0, y0, x1, y1, width] in segments {
        stroke(painter, segment_path(x0, y0, x1, y1), ink, width, at);
    }
}

/// `ink` as tiny-skia paints it, anti-aliased.
fn paint(ink: Ink) -> Paint<'static> {
    let [r, g, b] = ink.rgb;
    let mut paint = Paint {
        anti_alias: true,
        ..Paint::default()
    };
    let mut color = Color::from_rgba8(r, g, b, 255);
    color.set_alpha(ink.alpha.clamp(0.0, 1.0));
    paint.set_color(color);
    if ink.multiply {
        paint.blend_mode = BlendMode::Multiply;
    }
    paint
}

/// Why a page was not rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// Zero, or more than [`MAX_RENDER_SIDE`], pixels across or down.
    #[error("a page is rendered 1 to {MAX_RENDER_SIDE} pixels a side, not {width}x{height}")]
    BadSize {
        /// Asked for across.
        width: u32,
        /// Asked for down.
        height: u32,
    },
    /// Writing the PNG failed.
    #[error("the rendered page could not be written as PNG: {0}")]
    Encode(String),
}

impl RenderError {
    /// A stable code for the app to put into words in the user's language.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BadSize { .. } => "badSize",
            Self::Encode(_) => "encode",
        }
    }
}

/// The width a sample draws at: the pen follows pressure, the pencil a little, the highlighter
/// not at all (`widthAt` in board.ts; the page clamps pressure to 0..=1 as it records it).
pub fn width_at(tool: Tool, width: f32, pressure: f32) -> f32 {
    let pressure = if pressure.is_nan() {
        0.5
    } else {
        pressure.clamp(0.0, 1.0)
    };
    match tool {
        Tool::Highlighter => width * 4.0,
        Tool::Pencil => width * (0.5 + 0.3 * pressure),
        Tool::Pen => width * (0.35 + 0.65 * pressure),
    }
}

/// Where a background picture of `width` x `height` pixels lies on the page, in page units
/// (`[x, y, width, height]`): as large as fits whole, centred.
pub fn image_rect(width: u32, height: u32) -> [f32; 4] {
    if width == 0 || height == 0 {
        return [PAGE_WIDTH / 2.0, PAGE_HEIGHT / 2.0, 0.0, 0.0];
    }
    let (w, h) = (width as f32, height as f32);
    let scale = (PAGE_WIDTH / w).min(PAGE_HEIGHT / h);
    let (dw, dh) = (w * scale, h * scale);
    [(PAGE_WIDTH - dw) / 2.0, (PAGE_HEIGHT - dh) / 2.0, dw, dh]
}

/// Renders `page` over `background` (a picture fitted by [`image_rect`]) at `width` x `height`
/// pixels and writes it as an RGB PNG (the paper is opaque, so there is no alpha to keep).
pub fn render_page(
    page: &Page,
    background: Option<&RgbaImage>,
    width: u32,
    height: u32,
) -> Result<Vec<u8>, RenderError> {
    encode_png(&render_pixmap(page, background, width, height)?)
}

/// An opaque pixmap as an RGB PNG (every pixel is opaque: the paper or the photo is drawn
/// first, so premultiplied is already straight). Compressed fast (fdeflate, the `image`
/// crate's default, named here so a change of default cannot slow exports): a 4K page over a
/// photo is written in 64 ms (10.8 MB), where zlib's default level takes 308 ms (9.7 MB); the
/// `Up` filter instead of `Adaptive` saves a few ms for a larger file. Used for exports and
/// returned homework (`homework_bench` prints this figure).
pub fn encode_png(pixmap: &Pixmap) -> Result<Vec<u8>, RenderError> {
    let rgb: Vec<u8> = pixmap
        .data()
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, PngFilter::Adaptive)
        .write_image(
            &rgb,
            pixmap.width(),
            pixmap.height(),
            ExtendedColorType::Rgb8,
        )
        .map_err(|e| RenderError::Encode(e.to_string()))?;
    Ok(out)
}

/// A marking page's width in units (`MARK_PAGE_WIDTH` in `ui/src/lib/homework.ts`): its
/// height follows the photo's shape, so a mark made at a point of the photo in the app lands
/// on the same point of the photo here whatever its resolution.
pub const MARK_PAGE_WIDTH: f32 = 1000.0;

/// A handed-in photo with a teacher's marks (items in marking-page units, drawn as the
/// canvas draws them, highlighter under the rest, then in their order), at the photo's own
/// size, as a PNG.
pub fn render_marked(photo: &RgbaImage, items: &[Item]) -> Result<Vec<u8>, RenderError> {
    let (width, height) = photo.dimensions();
    let bad = RenderError::BadSize { width, height };
    if width > MAX_RENDER_SIDE || height > MAX_RENDER_SIDE {
        return Err(bad);
    }
    let mut pixmap = Pixmap::new(width, height).ok_or(bad)?;
    let [r, g, b] = PAPER;
    pixmap.fill(Color::from_rgba8(r, g, b, 255));
    let scale = width as f32 / MARK_PAGE_WIDTH;
    let units = Transform::from_scale(scale, scale);
    let picture = Placed {
        pixels: photo.as_raw(),
        left: 0,
        top: 0,
        width: width as usize,
    };
    let marks = marks_page(items);
    draw_in_bands(
        &mut pixmap,
        Some(picture),
        None,
        &drawing_order(&marks),
        units,
    );
    encode_png(&pixmap)
}

/// A teacher's marks, in the order they were sent, as a page's items (so they are drawn in
/// the page's order: highlighter under the rest).
pub(crate) fn marks_page(items: &[Item]) -> Page {
    let mut page = Page::new(Background::Blank);
    for (i, item) in items.iter().enumerate() {
        page.items.insert(format!("{i:08}"), item.clone());
    }
    page
}

/// A page's items in the order the canvas draws them: its visible items in the page's order,
/// strokes still being drawn last (the canvas draws its live layer over the cached one).
pub(crate) fn drawing_order(page: &Page) -> Vec<&Item> {
    let (live, done): (Vec<_>, Vec<_>) = page
        .visible()
        .into_iter()
        .map(|(_, item)| item)
        .partition(|item| matches!(item.kind, ItemKind::Stroke { live: true, .. }));
    done.into_iter().chain(live).collect()
}

/// Renders `page` over `background` at `width` x `height` pixels: the page's 1600x900 units
/// scaled to the pixmap on each axis (ask for 16:9 to keep circles round), anti-aliased.
pub fn render_pixmap(
    page: &Page,
    background: Option<&RgbaImage>,
    width: u32,
    height: u32,
) -> Result<Pixmap, RenderError> {
    let bad = RenderError::BadSize { width, height };
    if width > MAX_RENDER_SIDE || height > MAX_RENDER_SIDE {
        return Err(bad);
    }
    let mut pixmap = Pixmap::new(width, height).ok_or(bad)?;
    let [r, g, b] = PAPER;
    pixmap.fill(Color::from_rgba8(r, g, b, 255));
    let page_units = Transform::from_scale(width as f32 / PAGE_WIDTH, height as f32 / PAGE_HEIGHT);
    let fitted = background.and_then(|picture| fit_picture(picture, page_units));
    let rules = match page.background {
        Background::Ruled { spacing } => Some((spacing, false)),
        Background::Grid { spacing } => Some((spacing, true)),
        _ => None,
    };
    draw_in_bands(
        &mut pixmap,
        fitted.as_ref().map(Fitted::placed),
        rules,
        &drawing_order(page),
        page_units,
    );
    Ok(pixmap)
}

/// A picture's pixels (straight-alpha RGBA, `width` a row) placed with its top-left corner at
/// `(left, top)` pixels.
#[derive(Clone, Copy)]
struct Placed<'a> {
    pixels: &'a [u8],
    left: usize,
    top: usize,
    width: usize,
}

/// A picture fitted to the pixels it covers: borrowed when it already has their size.
struct Fitted<'a> {
    pixels: std::borrow::Cow<'a, [u8]>,
    left: usize,
    top: usize,
    width: usize,
}

impl Fitted<'_> {
    fn placed(&self) -> Placed<'_> {
        Placed {
            pixels: &self.pixels,
            left: self.left,
            top: self.top,
            width: self.width,
        }
    }
}

/// The fewest rows a band is drawn with: below that, a thread costs more than it saves.
const MIN_BAND_ROWS: usize = 128;

/// Draws a picture, ruled or grid lines (`rules`: spacing and whether it is a grid) and
/// `items` (in order, page units mapped by `page_units`) over the opaque `pixmap`: in
/// horizontal bands, one per core, each on its own thread into its own rows. An item is
/// drawn in every band its bounds reach (none is skipped that could touch a band), so the
/// result is the same as drawing it all at once; each band's work is only what lies in it.
fn draw_in_bands(
    pixmap: &mut Pixmap,
    picture: Option<Placed<'_>>,
    rules: Option<(f32, bool)>,
    items: &[&Item],
    page_units: Transform,
) {
    let cores = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let bands = cores.min(pixmap.height() as usize / MIN_BAND_ROWS).max(1);
    draw_banded(pixmap, picture, rules, items, page_units, bands);
}

/// [`draw_in_bands`] with `bands` bands (at least one).
fn draw_banded(
    pixmap: &mut Pixmap,
    picture: Option<Placed<'_>>,
    rules: Option<(f32, bool)>,
    items: &[&Item],
    page_units: Transform,
    bands: usize,
) {
    let (width, height) = (pixmap.width(), pixmap.height() as usize);
    let bands = bands.max(1);
    let rows_per_band = height.div_ceil(bands).max(1);
    // Each item's rows, in pixels (None: not known, drawn in every band).
    let rows: Vec<Option<(f32, f32)>> = items
        .iter()
        .map(|item| {
            item_bounds(item).map(|[_, top, _, bottom]| {
                let (a, b) = (
                    top * page_units.sy + page_units.ty,
                    bottom * page_units.sy + page_units.ty,
                );
                (a.min(b), a.max(b))
            })
        })
        .collect();
    let stride = width as usize * 4;
    let draw_band = |index: usize, data: &mut [u8]| {
        let top = index * rows_per_band;
        let count = data.len() / stride;
        if let Some(picture) = picture {
            blend_rows(data, top, stride, picture);
        }
        let Some(mut band) = PixmapMut::from_bytes(data, width, count as u32) else {
            return;
        };
        let at = page_units.post_translate(0.0, -(top as f32));
        if let Some((spacing, grid)) = rules {
            draw_rules(&mut band, spacing, grid, at);
        }
        let (band_top, band_bottom) = (top as f32, (top + count) as f32);
        for (item, reach) in items.iter().zip(&rows) {
            if reach.is_none_or(|(a, b)| a <= band_bottom && b >= band_top) {
                draw_item(&mut band, item, at);
            }
        }
    };
    let chunks = pixmap.data_mut().chunks_mut(rows_per_band * stride);
    if bands == 1 || stride == 0 {
        for (index, data) in chunks.enumerate() {
            draw_band(index, data);
        }
        return;
    }
    std::thread::scope(|scope| {
        for (index, data) in chunks.enumerate() {
            let draw_band = &draw_band;
            scope.spawn(move || draw_band(index, data));
        }
    });
}

/// The area an item's ink can reach, page units (`[left, top, right, bottom]`), with room for
/// its width, caps and anti-aliasing; `None` when it is not known (bad numbers: the drawing
/// code bounds those itself), which draws it everywhere.
fn item_bounds(item: &Item) -> Option<[f32; 4]> {
    let [ox, oy] = item.offset;
    let (mut b, pad) = match &item.kind {
        ItemKind::Stroke {
            tool,
            style,
            samples,
            ..
        } => {
            let mut b = [
                f32::INFINITY,
                f32::INFINITY,
                f32::NEG_INFINITY,
                f32::NEG_INFINITY,
            ];
            for s in samples {
                b = [b[0].min(s.x), b[1].min(s.y), b[2].max(s.x), b[3].max(s.y)];
            }
            (
                b,
                width_at(*tool, style.width, 1.0).min(MAX_LINE_WIDTH) / 2.0,
            )
        }
        ItemKind::Shape {
            shape,
            from,
            to,
            style,
        } => {
            let head = if *shape == ShapeKind::Arrow {
                ARROW_HEAD_MIN.max(style.width * 4.0)
            } else {
                0.0
            };
            let b = [
                from[0].min(to[0]),
                from[1].min(to[1]),
                from[0].max(to[0]),
                from[1].max(to[1]),
            ];
            (b, style.width.min(MAX_LINE_WIDTH) / 2.0 + head)
        }
        ItemKind::Stamp {
            at: [x, y],
            stamp: Stamp::Score(score),
        } => {
            let runs = text::lay_out(score, SCORE_SIZE, true, [*x, *y], Anchor::Centre);
            (text::bounds(&runs)?, 0.0)
        }
        ItemKind::Stamp { at: [x, y], .. } => {
            ([*x - 24.0, *y - 20.0, *x + 24.0, *y + 20.0], STAMP_WIDTH)
        }
        ItemKind::Text { at, text, size, .. } => {
            let runs = text::lay_out(text, *size, false, *at, Anchor::TopLeft);
            (text::bounds(&runs)?, 0.0)
        }
    };
    let pad = pad + 2.0;
    b = [
        b[0] + ox - pad,
        b[1] + oy - pad,
        b[2] + ox + pad,
        b[3] + oy + pad,
    ];
    b.iter().all(|v| v.is_finite()).then_some(b)
}

/// `picture` where [`image_rect`] puts it: resampled once to the whole pixels it covers
/// (bilinear, which also averages properly when it shrinks), with its top-left corner and
/// width in pixels; laid over the paper afterwards ([`blend_rows`]): faster than sampling it
/// through a transform, and no aliasing when a large photo is drawn small. `None` when it
/// covers no pixel.
fn fit_picture(picture: &RgbaImage, page_units: Transform) -> Option<Fitted<'_>> {
    let [x, y, w, h] = image_rect(picture.width(), picture.height());
    let (left, top) = ((x * page_units.sx).round(), (y * page_units.sy).round());
    let right = ((x + w) * page_units.sx).round();
    let bottom = ((y + h) * page_units.sy).round();
    // Within the pixmap (at most 8192 a side), so these fit.
    let (left, top) = (left.max(0.0) as usize, top.max(0.0) as usize);
    let (width, height) = (right as usize - left, bottom as usize - top);
    if width == 0 || height == 0 {
        return None;
    }
    let from = picture.dimensions();
    let to = (width as u32, height as u32);
    let pixels = if from == to {
        std::borrow::Cow::Borrowed(picture.as_raw().as_slice())
    } else {
        std::borrow::Cow::Owned(resample(
            picture.as_raw(),
            4,
            from,
            to,
            FilterType::Bilinear,
        )?)
    };
    Some(Fitted {
        pixels,
        left,
        top,
        width,
    })
}

/// Lays the rows of `picture` that fall in a band (`data`: rows from `band_top` down,
/// `stride` bytes each) over it; straight alpha over the opaque paper.
fn blend_rows(data: &mut [u8], band_top: usize, stride: usize, picture: Placed<'_>) {
    let Placed {
        pixels,
        left,
        top,
        width,
    } = picture;
    let row_bytes = width * 4;
    if row_bytes == 0 {
        return;
    }
    let band_rows = data.len() / stride;
    let picture_rows = pixels.len() / row_bytes;
    let first = top.max(band_top);
    let last = (top + picture_rows).min(band_top + band_rows);
    for y in first..last {
        let source = &pixels[(y - top) * row_bytes..(y - top + 1) * row_bytes];
        let at = (y - band_top) * stride + left * 4;
        let Some(target) = data.get_mut(at..at + row_bytes) else {
            return;
        };
        blend_row(target, source);
    }
}

/// Lays one row of straight-alpha RGBA `source` over the opaque `target`.
fn blend_row(target: &mut [u8], source: &[u8]) {
    for (d, s) in target.chunks_exact_mut(4).zip(source.chunks_exact(4)) {
        let a = u16::from(s[3]);
        if a == 255 {
            d[..3].copy_from_slice(&s[..3]);
        } else if a != 0 {
            for c in 0..3 {
                let blended = u16::from(s[c]) * a + u16::from(d[c]) * (255 - a);
                d[c] = ((blended + 127) / 255) as u8;
            }
        }
    }
}

/// Ruled or grid lines `spacing` apart over the whole page (none closer than a unit).
pub(crate) fn draw_rules(
    painter: &mut impl Painter,
    spacing: f32,
    grid: bool,
    page_units: Transform,
) {
    if !spacing.is_finite() || spacing < 1.0 {
        return;
    }
    // One path stroked once, as the canvas does: crossings are not darker.
    let mut path = PathBuilder::new();
    let mut y = spacing;
    while y < PAGE_HEIGHT {
        path.move_to(0.0, y);
        path.line_to(PAGE_WIDTH, y);
        y += spacing;
    }
    if grid {
        let mut x = spacing;
        while x < PAGE_WIDTH {
            path.move_to(x, 0.0);
            path.line_to(x, PAGE_HEIGHT);
            x += spacing;
        }
    }
    let (rgb, a) = RULE_COLOR;
    let stroke = Stroke {
        width: RULE_WIDTH,
        ..Stroke::default()
    };
    if let Some(path) = path.finish() {
        painter.stroke(&path, Ink::new(rgb, a), &stroke, page_units);
    }
}

fn round_stroke(width: f32) -> Option<Stroke> {
    (width.is_finite() && width > 0.0).then(|| Stroke {
        width: width.min(MAX_LINE_WIDTH),
        line_cap: LineCap::Round,
        line_join: LineJoin::Round,
        ..Stroke::default()
    })
}

fn stroke(painter: &mut impl Painter, path: Option<Path>, ink: Ink, width: f32, at: Transform) {
    if let (Some(path), Some(stroke)) = (path, round_stroke(width))
        && within_reach(&path, at)
    {
        painter.stroke(&path, ink, &stroke, at);
    }
}

/// Whether every point of `path`, moved by the item's offset, is within [`MAX_COORD`] of the
/// page's origin (a path is only made of finite points).
fn within_reach(path: &Path, at: Transform) -> bool {
    let b = path.bounds();
    bounds_within_reach([b.left(), b.top(), b.right(), b.bottom()], at)
}

/// Whether `[left, top, right, bottom]` (page units), moved by the item's offset, is within
/// [`MAX_COORD`] of the page's origin.
fn bounds_within_reach(bounds: [f32; 4], at: Transform) -> bool {
    let (dx, dy) = (at.tx / at.sx, at.ty / at.sy);
    let [left, top, right, bottom] = bounds;
    [left + dx, right + dx, top + dy, bottom + dy]
        .iter()
        .all(|v| v.abs() <= MAX_COORD)
}

/// Ink as the canvas draws it: a segment per pair of samples, each as wide as its pressure,
/// each stroked on its own (so translucent ink is darker where segments overlap, as on the
/// canvas). Opaque ink goes to the painter's [`Painter::opaque_segments`] all at once.
/// Segments of no width, with a point that is not finite or out of reach are left out.
fn draw_segments(
    painter: &mut impl Painter,
    tool: Tool,
    width: f32,
    samples: &[annotate::Sample],
    ink: Ink,
    at: Transform,
    opaque: bool,
) {
    let mut segments = Vec::new();
    for pair in samples.windows(2) {
        let (s0, s1) = (pair[0], pair[1]);
        let width = width_at(tool, width, (s0.p + s1.p) / 2.0);
        let bounds = [
            s0.x.min(s1.x),
            s0.y.min(s1.y),
            s0.x.max(s1.x),
            s0.y.max(s1.y),
        ];
        // The points themselves: `min` and `max` pass over NaN.
        if let Some(stroke) = round_stroke(width)
            && [s0.x, s0.y, s1.x, s1.y].iter().all(|v| v.is_finite())
            && bounds_within_reach(bounds, at)
        {
            segments.push([s0.x, s0.y, s1.x, s1.y, stroke.width]);
        }
    }
    if !opaque {
        stroke_segments(painter, &segments, ink, at);
    } else if !segments.is_empty() {
        painter.opaque_segments(&segments, ink.rgb, at);
    }
}

/// Draws one item as the canvas's `drawItem` does; `page_units` maps page units to the
/// painter's.
pub(crate) fn draw_item(painter: &mut impl Painter, item: &Item, page_units: Transform) {
    let [ox, oy] = item.offset;
    if !(ox.is_finite() && oy.is_finite()) {
        return;
    }
    let at = page_units.pre_translate(ox, oy);
    match &item.kind {
        ItemKind::Stroke {
            tool,
            style,
            samples,
            ..
        } => {
            let [r, g, b, a] = style.color;
            let keep = match tool {
                Tool::Highlighter => HIGHLIGHTER_ALPHA,
                Tool::Pencil => PENCIL_ALPHA,
                Tool::Pen => 1.0,
            };
            let mut ink = Ink::new([r, g, b], f32::from(a) / 255.0 * keep);
            ink.multiply = *tool == Tool::Highlighter;
            if let [only] = samples.as_slice() {
                let radius = width_at(*tool, style.width, only.p) / 2.0;
                let radius = radius.min(MAX_LINE_WIDTH / 2.0);
                if radius.is_finite()
                    && radius > 0.0
                    && let Some(dot) = PathBuilder::from_circle(only.x, only.y, radius)
                    && within_reach(&dot, at)
                {
                    painter.fill(&dot, ink, at);
                }
            }
            if *tool == Tool::Highlighter && samples.len() > 1 {
                // One width all along: one path, as the canvas draws it, so the ink is even
                // where segments meet.
                let mut path = PathBuilder::new();
                path.move_to(samples[0].x, samples[0].y);
                for s in &samples[1..] {
                    path.line_to(s.x, s.y);
                }
                let width = width_at(*tool, style.width, 0.5);
                stroke(painter, path.finish(), ink, width, at);
                return;
            }
            let opaque = !ink.multiply && a == 255 && keep >= 1.0;
            draw_segments(painter, *tool, style.width, samples, ink, at, opaque);
        }
        ItemKind::Shape {
            shape,
            from,
            to,
            style,
        } => {
            let [r, g, b, a] = style.color;
            let ink = Ink::new([r, g, b], f32::from(a) / 255.0);
            let ([x1, y1], [x2, y2]) = (*from, *to);
            let mut path = PathBuilder::new();
            match shape {
                ShapeKind::Rectangle => {
                    if let Some(rect) =
                        Rect::from_ltrb(x1.min(x2), y1.min(y2), x1.max(x2), y1.max(y2))
                    {
                        path.push_rect(rect);
                    }
                }
                ShapeKind::Ellipse => {
                    if let Some(oval) =
                        Rect::from_ltrb(x1.min(x2), y1.min(y2), x1.max(x2), y1.max(y2))
                    {
                        path.push_oval(oval);
                    }
                }
                ShapeKind::Line | ShapeKind::Arrow => {
                    path.move_to(x1, y1);
                    path.line_to(x2, y2);
                    if *shape == ShapeKind::Arrow {
                        let angle = (y2 - y1).atan2(x2 - x1);
                        let head = ARROW_HEAD_MIN.max(style.width * 4.0);
                        for turn in [-0.5_f32, 0.5] {
                            path.move_to(x2, y2);
                            path.line_to(
                                x2 - head * (angle + turn).cos(),
                                y2 - head * (angle + turn).sin(),
                            );
                        }
                    }
                }
            }
            stroke(painter, path.finish(), ink, style.width, at);
        }
        ItemKind::Stamp { at: [x, y], stamp } => {
            let (x, y) = (*x, *y);
            let mut path = PathBuilder::new();
            let rgb = match stamp {
                Stamp::Tick => {
                    path.move_to(x - 20.0, y);
                    path.line_to(x - 5.0, y + 16.0);
                    path.line_to(x + 24.0, y - 20.0);
                    TICK_COLOR
                }
                Stamp::Cross => {
                    path.move_to(x - 18.0, y - 18.0);
                    path.line_to(x + 18.0, y + 18.0);
                    path.move_to(x + 18.0, y - 18.0);
                    path.line_to(x - 18.0, y + 18.0);
                    CROSS_COLOR
                }
                Stamp::Score(score) => {
                    let ink = Ink::opaque(CROSS_COLOR);
                    let runs = text::lay_out(score, SCORE_SIZE, true, [x, y], Anchor::Centre);
                    for run in &runs {
                        painter.text(run, ink, at);
                    }
                    return;
                }
            };
            stroke(painter, path.finish(), Ink::new(rgb, 1.0), STAMP_WIDTH, at);
        }
        ItemKind::Text {
            at: corner,
            text,
            size,
            color: [r, g, b, a],
        } => {
            let ink = Ink::new([*r, *g, *b], f32::from(*a) / 255.0);
            for run in &text::lay_out(text, *size, false, *corner, Anchor::TopLeft) {
                painter.text(run, ink, at);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use annotate::Sample;

    /// A small, fast, deterministic noise source (xorshift32) starting from `seed`.
    fn xorshift(mut seed: u32) -> impl FnMut() -> u32 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        }
    }

    /// Drawn in bands on several threads, a page is what it is drawn in one go: items crossing
    /// the bands' edges, a picture, grid lines, a highlighter under the ink. Only the
    /// anti-aliasing of a few edge pixels differs: tiny-skia clips a path that crosses the
    /// pixmap's edge before it rasterizes it, which moves an edge's coverage slightly
    /// (measured: 174 of 921,600 pixels in 2 bands, by at most 17 of 255; 1,072 in 7 bands,
    /// at most 43). Nothing is missing or added: that would differ by far more.
    #[test]
    fn a_page_drawn_in_bands_is_the_page_drawn_at_once() {
        let mut next = xorshift(11u32);
        let mut page = Page::new(Background::Grid { spacing: 40.0 });
        for n in 0..300u64 {
            let (x, y) = ((next() % 1500) as f32, (next() % 850) as f32);
            let tool = [Tool::Pen, Tool::Pencil, Tool::Highlighter][n as usize % 3];
            let samples = (0..12u32)
                .map(|i| Sample {
                    x: x + (i * 9) as f32,
                    y: y + (next() % 60) as f32 - 30.0,
                    p: (next() % 100) as f32 / 100.0,
                    t: i,
                })
                .collect();
            page.items.insert(
                format!("t-{n:04}"),
                Item {
                    author: "t".into(),
                    kind: ItemKind::Stroke {
                        tool,
                        style: annotate::Style {
                            color: [(n * 7 % 255) as u8, 60, 160, 255],
                            width: 2.0 + (n % 9) as f32,
                        },
                        samples,
                        live: false,
                    },
                    offset: [0.0, 0.0],
                    erased: false,
                    order: n,
                    touched: n,
                },
            );
        }
        let photo = RgbaImage::from_fn(400, 300, |x, y| {
            image::Rgba([(x % 256) as u8, (y % 256) as u8, 128, 200])
        });
        let (w, h) = (1280, 720);
        let units = Transform::from_scale(w as f32 / PAGE_WIDTH, h as f32 / PAGE_HEIGHT);
        let fitted = fit_picture(&photo, units).unwrap_or_else(|| unreachable!());
        let picture = fitted.placed();
        let items = drawing_order(&page);
        let draw = |bands| {
            let mut pixmap = Pixmap::new(w, h).unwrap_or_else(|| unreachable!());
            pixmap.fill(Color::WHITE);
            draw_banded(
                &mut pixmap,
                Some(picture),
                Some((40.0, true)),
                &items,
                units,
                bands,
            );
            pixmap
        };
        let whole = draw(1);
        for bands in [2, 3, 7] {
            let banded = draw(bands);
            let (mut differ, mut worst) = (0usize, 0u8);
            for (a, b) in whole.pixels().iter().zip(banded.pixels()) {
                let d = a
                    .red()
                    .abs_diff(b.red())
                    .max(a.green().abs_diff(b.green()))
                    .max(a.blue().abs_diff(b.blue()));
                differ += usize::from(d > 0);
                worst = worst.max(d);
            }
            let all = (w * h) as usize;
            assert!(
                differ * 500 < all && worst <= 64,
                "{bands} bands: {differ} of {all} pixels differ, by at most {worst}"
            );
        }
    }

    /// Opaque ink drawn as capsules (a page scaled alike on both axes) or as tiny-skia's
    /// outlines filled together (a stretched page) looks like tiny-skia stroking segment by
    /// segment: only anti-aliased edge pixels differ, and not by much; a segment missing, or
    /// drawn too wide or narrow, would differ by whole pixels of ink.
    #[test]
    fn opaque_ink_looks_like_segment_by_segment() {
        let mut next = xorshift(7u32);
        let samples: Vec<Sample> = (0..200)
            .map(|i| Sample {
                x: 100.0 + (i * 7) as f32 + (next() % 40) as f32,
                y: 450.0 + (next() % 300) as f32 - 150.0,
                p: (next() % 100) as f32 / 100.0,
                t: i,
            })
            .collect();
        let ink = Ink::new([20, 40, 200], 1.0);
        // 4K (capsules), thin lines (capsules, mostly edge), a stretched page (outlines).
        for at in [
            Transform::from_scale(2.4, 2.4),
            Transform::from_scale(0.4, 0.4),
            Transform::from_scale(2.4, 1.2),
        ] {
            let render = |opaque| {
                let mut pixmap = Pixmap::new(3840, 2160).unwrap_or_else(|| unreachable!());
                pixmap.fill(Color::WHITE);
                draw_segments(
                    &mut pixmap.as_mut(),
                    Tool::Pen,
                    6.0,
                    &samples,
                    ink,
                    at,
                    opaque,
                );
                pixmap
            };
            let (one_by_one, drawn) = (render(false), render(true));
            let (mut inked, mut ink_one, mut ink_drawn) = (0usize, 0f64, 0f64);
            let (mut far, mut worst, mut total) = (0usize, 0u8, 0f64);
            for (a, b) in one_by_one.pixels().iter().zip(drawn.pixels()) {
                if a.red() != 255 || b.red() != 255 {
                    inked += 1;
                }
                ink_one += f64::from(255 - a.red());
                ink_drawn += f64::from(255 - b.red());
                let d = a.red().abs_diff(b.red()).max(a.blue().abs_diff(b.blue()));
                total += f64::from(d);
                far += usize::from(d > 64);
                worst = worst.max(d);
            }
            let mean = total / inked as f64;
            let case = format!(
                "{at:?}: {inked} inked pixels differ by {mean:.2} on average, {far} by more \
                 than 64 (worst {worst}); ink {ink_drawn:.0} vs {ink_one:.0}"
            );
            assert!(inked > 2_000, "{case}");
            assert!(mean < 8.0, "{case}");
            assert!(far * 1000 < inked, "{case}");
            assert!((ink_drawn - ink_one).abs() < ink_one * 0.01, "{case}");
        }
    }
}
