//! Text as the canvas lays it out (`ui/src/lib/board.ts`, `drawItem`), from the system's
//! fonts: typed text and score stamps, drawn to pixels as glyph outlines and written into a
//! PDF as text (selectable, searchable).
//!
//! The canvas and this module agree on everything that decides where a glyph goes, not on
//! the font's own metrics: the same list of families ([`FAMILIES`], the canvas's `TEXT_FAMILIES`),
//! each character from the first family that has it (so Chinese comes from a CJK font and
//! Latin from a Latin one, as a browser falls back), lines split at `\n` and
//! [`LINE_HEIGHT`] apart, and the first baseline [`TEXT_BASELINE`] of the size below the
//! item's corner (a score's [`SCORE_BASELINE`] below its centre). Runs of one face are shaped
//! by rustybuzz (kerning, ligatures), as the webview shapes them.
//!
//! Reading fonts is the one thing in this crate that touches the file system: the system's
//! fonts are listed once, on first use, and a face's file is read only when a character
//! needs it (a page of English never reads the 20 MB CJK font). With none of the families
//! installed, the system's sans-serif face is used; with no font at all, text is not drawn
//! (tofu would be no better) and the rest of the page is.

use std::ops::Range;
use std::sync::{Arc, LazyLock, OnceLock};

use annotate::MAX_TEXT_SIZE;
use fontdb::{Database, Family, Query, Stretch, Style, Weight};
use rustybuzz::ttf_parser::{GlyphId, OutlineBuilder};
use rustybuzz::{Face, UnicodeBuffer};
use tiny_skia::{Path, PathBuilder};

/// The families text is drawn in, in order, each character from the first that has it: a
/// Latin face on each system (Debian's default sans, Windows', macOS's), then Chinese ones.
/// The canvas's `TEXT_FAMILIES` names the same list.
pub const FAMILIES: [&str; 7] = [
    "DejaVu Sans",
    "Segoe UI",
    "Helvetica Neue",
    "Noto Sans CJK SC",
    "Microsoft YaHei",
    "PingFang SC",
    "Droid Sans Fallback",
];
/// A text item's first baseline below its top-left corner, as a fraction of its size.
pub const TEXT_BASELINE: f32 = 0.8;
/// From one line's baseline to the next, as a fraction of the size.
pub const LINE_HEIGHT: f32 = 1.25;
/// A score stamp's size, page units (bold).
pub const SCORE_SIZE: f32 = 36.0;
/// A score's baseline below the stamp's centre, as a fraction of its size (capitals and
/// digits then sit about the centre).
pub const SCORE_BASELINE: f32 = 0.35;

/// Where laid-out text is anchored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchor {
    /// At its top-left corner (typed text).
    TopLeft,
    /// Each line centred on the point, the first baseline [`SCORE_BASELINE`] below it.
    Centre,
}

/// A face's file, read once.
struct Loaded {
    data: Arc<Vec<u8>>,
    index: u32,
}

/// One face of one family: its file read, and parsed, when a character first needs it; kept
/// for the life of the process.
pub(crate) struct Slot {
    id: fontdb::ID,
    loaded: OnceLock<Option<Loaded>>,
    /// The face as rustybuzz reads it (borrowing `loaded`'s bytes).
    face: OnceLock<Option<Face<'static>>>,
    /// The same face for a PDF (made on first use).
    pdf: OnceLock<Option<krilla::text::Font>>,
}

impl Slot {
    /// Its file, read on the first call (None when it cannot be read).
    fn loaded(&'static self) -> Option<&'static Loaded> {
        self.loaded
            .get_or_init(|| {
                let (data, index) = FONTS
                    .db
                    .with_face_data(self.id, |data, index| (data.to_vec(), index))?;
                Some(Loaded {
                    data: Arc::new(data),
                    index,
                })
            })
            .as_ref()
    }

    /// The face, parsed on the first call (None when its file is no face rustybuzz reads).
    fn face(&'static self) -> Option<&'static Face<'static>> {
        self.face
            .get_or_init(|| {
                let loaded = self.loaded()?;
                Face::from_slice(&loaded.data, loaded.index)
            })
            .as_ref()
    }

    /// The face as krilla embeds it (None when krilla cannot read it).
    pub(crate) fn pdf_font(&'static self) -> Option<krilla::text::Font> {
        self.pdf
            .get_or_init(|| {
                let loaded = self.loaded()?;
                krilla::text::Font::new(krilla::Data::from(loaded.data.clone()), loaded.index)
            })
            .clone()
    }
}

/// The system's fonts: regular and bold faces of [`FAMILIES`], then the sans-serif default.
struct Fonts {
    db: Database,
    regular: Vec<Slot>,
    bold: Vec<Slot>,
}

static FONTS: LazyLock<Fonts> = LazyLock::new(Fonts::from_system);

impl Fonts {
    fn from_system() -> Self {
        let mut db = Database::new();
        db.load_system_fonts();
        let slots = |db: &Database, weight: Weight| {
            let mut ids: Vec<fontdb::ID> = Vec::new();
            let names = FAMILIES.iter().map(|name| Family::Name(name));
            for family in names.chain([Family::SansSerif]) {
                let query = Query {
                    families: &[family],
                    weight,
                    stretch: Stretch::Normal,
                    style: Style::Normal,
                };
                if let Some(id) = db.query(&query)
                    && !ids.contains(&id)
                {
                    ids.push(id);
                }
            }
            ids.into_iter()
                .map(|id| Slot {
                    id,
                    loaded: OnceLock::new(),
                    face: OnceLock::new(),
                    pdf: OnceLock::new(),
                })
                .collect()
        };
        let regular = slots(&db, Weight::NORMAL);
        let bold = slots(&db, Weight::BOLD);
        Self { db, regular, bold }
    }
}

/// One glyph, in ems (times the size: page units).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Glyph {
    pub id: u16,
    pub advance: f32,
    pub dx: f32,
    pub dy: f32,
    /// Its characters in the run's text.
    pub range: Range<usize>,
}

/// Text of one face on one line, shaped and placed.
pub(crate) struct Run {
    pub face: &'static Slot,
    pub text: String,
    pub glyphs: Vec<Glyph>,
    /// Its baseline's start, page units.
    pub origin: [f32; 2],
    /// Page units per em.
    pub size: f32,
}

impl Run {
    /// How far it reaches along its baseline, page units.
    pub fn width(&self) -> f32 {
        self.glyphs.iter().map(|g| g.advance).sum::<f32>() * self.size
    }

    /// Its glyphs' outlines, page units (None for nothing visible, such as spaces).
    pub fn outline(&self) -> Option<Path> {
        let face = self.face.face()?;
        let scale = self.size / face.units_per_em() as f32;
        let mut pen = Pen {
            path: PathBuilder::new(),
            x: 0.0,
            y: 0.0,
            scale,
        };
        let mut x = self.origin[0];
        for glyph in &self.glyphs {
            pen.x = x + glyph.dx * self.size;
            pen.y = self.origin[1] - glyph.dy * self.size;
            face.outline_glyph(GlyphId(glyph.id), &mut pen);
            x += glyph.advance * self.size;
        }
        pen.path.finish()
    }
}

/// Glyph outlines (font units, y up) into a path (page units, y down).
struct Pen {
    path: PathBuilder,
    x: f32,
    y: f32,
    scale: f32,
}

impl Pen {
    fn at(&self, x: f32, y: f32) -> (f32, f32) {
        (self.x + x * self.scale, self.y - y * self.scale)
    }
}

impl OutlineBuilder for Pen {
    fn move_to(&mut self, x: f32, y: f32) {
        let (x, y) = self.at(x, y);
        self.path.move_to(x, y);
    }

    fn line_to(&mut self, x: f32, y: f32) {
        let (x, y) = self.at(x, y);
        self.path.line_to(x, y);
    }

    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        let (x1, y1) = self.at(x1, y1);
        let (x, y) = self.at(x, y);
        self.path.quad_to(x1, y1, x, y);
    }

    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        let (x1, y1) = self.at(x1, y1);
        let (x2, y2) = self.at(x2, y2);
        let (x, y) = self.at(x, y);
        self.path.cubic_to(x1, y1, x2, y2, x, y);
    }

    fn close(&mut self) {
        self.path.close();
    }
}

/// `text` at `size` page units (bold or not), anchored at `at`: its runs, line by line.
/// Nothing for a size that is not finite, not positive or above [`MAX_TEXT_SIZE`], or when
/// the system has no font.
pub(crate) fn lay_out(text: &str, size: f32, bold: bool, at: [f32; 2], anchor: Anchor) -> Vec<Run> {
    let drawable = size.is_finite() && size > 0.0 && size <= MAX_TEXT_SIZE;
    if !(drawable && at[0].is_finite() && at[1].is_finite()) {
        return Vec::new();
    }
    let fonts: &'static Fonts = &FONTS;
    let slots = if bold { &fonts.bold } else { &fonts.regular };
    let first_baseline = match anchor {
        Anchor::TopLeft => TEXT_BASELINE,
        Anchor::Centre => SCORE_BASELINE,
    };
    let mut runs = Vec::new();
    for (n, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let y = at[1] + size * (first_baseline + LINE_HEIGHT * n as f32);
        let start = runs.len();
        let mut x = at[0];
        for (slot, part) in split_by_face(line, slots) {
            let Some(face) = slot.face() else {
                continue;
            };
            let glyphs = shape(face, part);
            let run = Run {
                face: slot,
                text: part.to_owned(),
                glyphs,
                origin: [x, y],
                size,
            };
            x += run.width();
            runs.push(run);
        }
        if anchor == Anchor::Centre {
            let shift = (x - at[0]) / 2.0;
            for run in &mut runs[start..] {
                run.origin[0] -= shift;
            }
        }
    }
    runs
}

/// The page units `runs` cover: from a line's top (a size above its baseline) to below its
/// descenders (0.3 of the size), across every run.
pub(crate) fn bounds(runs: &[Run]) -> Option<[f32; 4]> {
    runs.iter().fold(None, |b, run| {
        let r = [
            run.origin[0],
            run.origin[1] - run.size,
            run.origin[0] + run.width(),
            run.origin[1] + run.size * 0.3,
        ];
        Some(b.map_or(r, |b: [f32; 4]| {
            [
                b[0].min(r[0]),
                b[1].min(r[1]),
                b[2].max(r[2]),
                b[3].max(r[3]),
            ]
        }))
    })
}

/// `line` in pieces of one face each: each character from the first face that has it (a
/// space stays with the piece it is in); one no face has goes with the first face that
/// reads (its missing-glyph box, as the canvas shows one). Faces are read in order only as
/// far as a character needs: English never reads a CJK face.
fn split_by_face<'t>(line: &'t str, slots: &'static [Slot]) -> Vec<(&'static Slot, &'t str)> {
    let has =
        |slot: &'static Slot, c: char| slot.face().is_some_and(|f| f.glyph_index(c).is_some());
    let mut pieces: Vec<(&'static Slot, &str)> = Vec::new();
    let mut open: Option<(&'static Slot, usize)> = None;
    for (at, c) in line.char_indices() {
        let slot = match open {
            Some((slot, _)) if c.is_whitespace() => Some(slot),
            _ => slots
                .iter()
                .find(|s| has(s, c))
                .or_else(|| slots.iter().find(|s| s.face().is_some())),
        };
        let Some(slot) = slot else { continue };
        match open {
            Some((current, _)) if std::ptr::eq(current, slot) => {}
            Some((current, from)) => {
                pieces.push((current, &line[from..at]));
                open = Some((slot, at));
            }
            None => open = Some((slot, at)),
        }
    }
    if let Some((slot, from)) = open {
        pieces.push((slot, &line[from..]));
    }
    pieces
}

/// `text` shaped in `face`, left to right.
fn shape(face: &Face<'_>, text: &str) -> Vec<Glyph> {
    let mut buffer = UnicodeBuffer::new();
    buffer.push_str(text);
    buffer.guess_segment_properties();
    buffer.set_direction(rustybuzz::Direction::LeftToRight);
    let shaped = rustybuzz::shape(face, &[], buffer);
    let em = face.units_per_em() as f32;
    let infos = shaped.glyph_infos();
    infos
        .iter()
        .zip(shaped.glyph_positions())
        .enumerate()
        .map(|(i, (info, pos))| {
            let start = info.cluster as usize;
            // A cluster ends where the next one starts.
            let end = infos[i + 1..]
                .iter()
                .map(|next| next.cluster as usize)
                .find(|&c| c != start)
                .unwrap_or(text.len());
            Glyph {
                // Fonts have at most 65,535 glyphs.
                id: u16::try_from(info.glyph_id).unwrap_or(0),
                advance: pos.x_advance as f32 / em,
                dx: pos.x_offset as f32 / em,
                dy: pos.y_offset as f32 / em,
                range: start..end.max(start),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_and_chinese_come_from_different_faces_on_one_baseline() {
        let runs = lay_out("Hi 你好 ok", 40.0, false, [100.0, 200.0], Anchor::TopLeft);
        assert!(
            runs.len() >= 2,
            "Latin and Chinese in one face? {}",
            runs.len()
        );
        let texts: Vec<&str> = runs.iter().map(|r| r.text.as_str()).collect();
        assert!(texts.iter().any(|t| t.contains('你')), "{texts:?}");
        assert!(!std::ptr::eq(runs[0].face, runs[1].face));
        for run in &runs {
            assert_eq!(run.origin[1], 200.0 + 40.0 * TEXT_BASELINE);
        }
        // Each run starts where the one before ends.
        for pair in runs.windows(2) {
            assert!((pair[0].origin[0] + pair[0].width() - pair[1].origin[0]).abs() < 1e-3);
        }
        assert!(runs.iter().all(|r| r.outline().is_some()));
    }

    #[test]
    fn lines_go_down_and_centred_text_straddles_its_point() {
        let runs = lay_out(
            "8/10\n9/10",
            SCORE_SIZE,
            true,
            [500.0, 300.0],
            Anchor::Centre,
        );
        assert_eq!(runs.len(), 2);
        assert_eq!(
            runs[1].origin[1] - runs[0].origin[1],
            SCORE_SIZE * LINE_HEIGHT
        );
        let w = runs[0].width();
        assert!(w > 40.0 && w < 120.0, "{w}");
        assert!((runs[0].origin[0] + w / 2.0 - 500.0).abs() < 1e-3);
        let b = bounds(&runs).unwrap_or_else(|| unreachable!());
        assert!(b[0] < 500.0 && b[2] > 500.0 && b[1] < 300.0 && b[3] > 300.0);
    }

    /// The canvas (`ui/src/lib/board.ts`) lays text out with the same families and numbers:
    /// a change on one side only would move text between the screen and the export.
    #[test]
    fn the_canvas_uses_the_same_families_and_numbers() {
        let board = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../ui/src/lib/board.ts"
        ))
        .unwrap_or_else(|e| panic!("board.ts: {e}"));
        let quoted: Vec<String> = FAMILIES.iter().map(|f| format!("\"{f}\"")).collect();
        let families = format!("'{}, sans-serif';", quoted.join(", "));
        assert!(board.contains(&families), "board.ts has not {families}");
        for (name, value) in [
            ("TEXT_BASELINE", TEXT_BASELINE),
            ("LINE_HEIGHT", LINE_HEIGHT),
            ("SCORE_SIZE", SCORE_SIZE),
            ("SCORE_BASELINE", SCORE_BASELINE),
            ("MAX_TEXT_SIZE", MAX_TEXT_SIZE),
        ] {
            let line = format!("export const {name} = {value};");
            assert!(board.contains(&line), "board.ts has not {line}");
        }
        for (name, value) in [
            ("MAX_TEXT_CHARS", annotate::MAX_TEXT_CHARS),
            ("MAX_SCORE_CHARS", annotate::MAX_SCORE_CHARS),
        ] {
            let line = format!("export const {name} = {value};");
            assert!(board.contains(&line), "board.ts has not {line}");
        }
    }

    #[test]
    fn nonsense_sizes_and_places_lay_out_nothing() {
        for size in [0.0, -3.0, f32::NAN, f32::INFINITY, MAX_TEXT_SIZE * 2.0] {
            assert!(lay_out("x", size, false, [0.0, 0.0], Anchor::TopLeft).is_empty());
        }
        assert!(lay_out("x", 20.0, false, [f32::NAN, 0.0], Anchor::TopLeft).is_empty());
        assert!(lay_out("", 20.0, false, [0.0, 0.0], Anchor::TopLeft).is_empty());
    }

    #[test]
    fn a_character_no_font_has_still_lays_out() {
        // A private-use character: the first face's missing-glyph box.
        let runs = lay_out("a\u{E000}b", 20.0, false, [0.0, 0.0], Anchor::TopLeft);
        let glyphs: usize = runs.iter().map(|r| r.glyphs.len()).sum();
        assert_eq!(glyphs, 3);
    }
}
