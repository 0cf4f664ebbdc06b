//! Homework pages, without IO but for reading the system's fonts ([`text`]): the bytes of a
//! picture or a PDF in, the bytes of a picture out.
//!
//! - [`ingest_image`]: a photo or scan a student hands in, taken in under explicit
//!   [`IngestLimits`] (file size, declared pixels and decoder memory are all checked before
//!   pixels are allocated, so a decompression bomb is refused cheaply), turned upright by its
//!   EXIF orientation, scaled so its longer side is at most [`IngestLimits::max_side`] and
//!   written again as JPEG (or PNG when it has an alpha channel) with no metadata at all: no
//!   EXIF, no GPS position, no camera serial.
//! - [`check_pdf`] and [`render_pdf_sheet`]: a PDF a student hands in, checked under explicit
//!   [`PdfLimits`] (file size, pages, each page's size, and the sheet's pixels before any are
//!   allocated; one that needs a password is refused) and drawn by hayro, a PDF renderer in
//!   pure Rust, as one sheet: every page at the same width, one under the other, for a
//!   teacher to mark.
//! - [`render_page`]: an annotated page ([`annotate::Page`]) drawn the way the app's canvas
//!   draws it (`ui/src/lib/board.ts`), over an optional background picture, as a PNG; and
//!   [`render_pixmap`], the same without encoding; [`render_marked`], a teacher's marks over
//!   a handed-in photo at the photo's own size.
//! - [`marked_pdf`] and [`board_pdf`]: the same items written as PDF vectors, over a
//!   handed-in PDF's own pages (kept as they are, their text still text) or a whiteboard's
//!   paper.
//!
//! `image` is re-exported so callers use the same build of it (its `RgbaImage` is in the
//! signatures).

mod capsule;
pub mod export;
pub mod ingest;
mod orient;
pub mod pdf;
pub mod render;
mod resample;
pub mod text;

pub use export::{ExportError, MAX_PHOTO_PAGES, board_pdf, marked_pdf, photos_pdf};
pub use image;
pub use ingest::{IngestError, IngestLimits, Ingested, ingest_image};
pub use pdf::{PdfError, PdfInfo, PdfLimits, check_pdf, render_pdf_sheet};
pub use render::{RenderError, encode_png, image_rect, render_marked, render_page, render_pixmap};
