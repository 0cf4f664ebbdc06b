//! Rendering pages: what the canvas draws, where it draws it.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::Cursor;

use annotate::{Background, Item, ItemKind, Page, Sample, ShapeKind, Stamp, Style, Tool};
use homework::render::{PAPER, width_at};
use homework::{RenderError, image_rect, render_page, render_pixmap};
use image::{Rgba, RgbaImage};
use proptest::prelude::*;
use tiny_skia::Pixmap;

const RED: [u8; 4] = [255, 0, 0, 255];

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

fn stroke(tool: Tool, color: [u8; 4], width: f32, points: &[(f32, f32)]) -> ItemKind {
    ItemKind::Stroke {
        tool,
        style: Style { color, width },
        samples: points
            .iter()
            .enumerate()
            .map(|(i, &(x, y))| Sample {
                x,
                y,
                p: 1.0,
                t: i as u32 * 10,
            })
            .collect(),
        live: false,
    }
}

/// A red pen stroke across the middle of the page, 10 units wide.
fn red_line() -> ItemKind {
    stroke(
        Tool::Pen,
        RED,
        10.0,
        &[(100.0, 450.0), (800.0, 450.0), (1500.0, 450.0)],
    )
}

fn page(items: Vec<Item>) -> Page {
    let mut page = Page::new(Background::Blank);
    for (n, item) in items.into_iter().enumerate() {
        page.items.insert(format!("teacher-{n}"), item);
    }
    page
}

fn rgb(pixmap: &Pixmap, x: u32, y: u32) -> [u8; 3] {
    let p = pixmap.pixel(x, y).unwrap();
    assert_eq!(p.alpha(), 255, "every pixel is opaque");
    [p.red(), p.green(), p.blue()]
}

fn near(a: [u8; 3], b: [u8; 3], slack: u8) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= slack)
}

#[test]
fn a_red_stroke_is_red_along_its_path_and_paper_elsewhere() {
    let pixmap = render_pixmap(&page(vec![item(red_line(), 1)]), None, 1600, 900).unwrap();
    for x in [100, 400, 800, 1200, 1500] {
        assert_eq!(rgb(&pixmap, x, 450), [255, 0, 0], "on the path at x={x}");
        assert_eq!(
            rgb(&pixmap, x, 452),
            [255, 0, 0],
            "within its width at x={x}"
        );
    }
    // Round caps reach half the width past the ends, no further.
    assert_eq!(rgb(&pixmap, 97, 450), [255, 0, 0]);
    assert_eq!(rgb(&pixmap, 90, 450), PAPER);
    for (x, y) in [
        (800, 440),
        (800, 460),
        (50, 450),
        (1550, 450),
        (0, 0),
        (1599, 899),
    ] {
        assert_eq!(rgb(&pixmap, x, y), PAPER, "off the path at ({x}, {y})");
    }
    // Anti-aliased: the round cap's edge has pixels between red and paper.
    let cap = (90..100).flat_map(|x| (440..460).map(move |y| (x, y)));
    assert!(cap.into_iter().any(|(x, y)| {
        let p = rgb(&pixmap, x, y);
        p != PAPER && p != [255, 0, 0]
    }));
}

#[test]
fn the_page_is_scaled_to_the_size_asked_for() {
    let pixmap = render_pixmap(&page(vec![item(red_line(), 1)]), None, 3200, 1800).unwrap();
    assert_eq!((pixmap.width(), pixmap.height()), (3200, 1800));
    assert_eq!(rgb(&pixmap, 1600, 900), [255, 0, 0]);
    assert_eq!(
        rgb(&pixmap, 1600, 909),
        [255, 0, 0],
        "10 units are 20 pixels"
    );
    assert_eq!(rgb(&pixmap, 1600, 915), PAPER);
}

#[test]
fn pressure_sets_the_width_as_the_canvas_does() {
    assert_eq!(width_at(Tool::Pen, 10.0, 0.0), 3.5);
    assert_eq!(width_at(Tool::Pen, 10.0, 1.0), 10.0);
    assert_eq!(width_at(Tool::Pencil, 10.0, 0.5), 6.5);
    assert_eq!(width_at(Tool::Highlighter, 10.0, 0.1), 40.0);
    let mut light = red_line();
    if let ItemKind::Stroke { samples, .. } = &mut light {
        samples.iter_mut().for_each(|s| s.p = 0.0);
    }
    // 3.5 units wide at no pressure: 3 pixels from the middle is paper.
    let pixmap = render_pixmap(&page(vec![item(light, 1)]), None, 1600, 900).unwrap();
    assert_eq!(rgb(&pixmap, 800, 450), [255, 0, 0]);
    assert_eq!(rgb(&pixmap, 800, 453), PAPER);
}

#[test]
fn erased_items_are_not_drawn() {
    let mut erased = item(red_line(), 1);
    erased.erased = true;
    let pixmap = render_pixmap(&page(vec![erased]), None, 1600, 900).unwrap();
    assert_eq!(rgb(&pixmap, 800, 450), PAPER);
}

#[test]
fn offsets_move_items() {
    let mut moved = item(red_line(), 1);
    moved.offset = [0.0, 100.0];
    let pixmap = render_pixmap(&page(vec![moved]), None, 1600, 900).unwrap();
    assert_eq!(rgb(&pixmap, 800, 450), PAPER);
    assert_eq!(rgb(&pixmap, 800, 550), [255, 0, 0]);
}

#[test]
fn a_highlighter_is_translucent_and_multiplied_over_the_picture() {
    // A 16:9 picture fills the page.
    let photo = RgbaImage::from_pixel(160, 90, Rgba([100, 150, 200, 255]));
    let yellow = stroke(
        Tool::Highlighter,
        [255, 255, 0, 255],
        10.0,
        &[(100.0, 300.0), (1500.0, 300.0)],
    );
    let pixmap = render_pixmap(&page(vec![item(yellow, 1)]), Some(&photo), 1600, 900).unwrap();
    assert_eq!(rgb(&pixmap, 800, 600), [100, 150, 200], "the picture");
    // Multiply at 0.35: red and green stay, blue falls to 200 * 0.65.
    let lit = rgb(&pixmap, 800, 300);
    assert!(near(lit, [100, 150, 130], 2), "{lit:?}");
}

#[test]
fn a_highlighter_is_even_where_its_samples_meet() {
    // Forty samples along a line, as a hand gives them: drawn segment by segment, each joint
    // would be multiplied twice (a darker bead every sample).
    let points: Vec<(f32, f32)> = (0..40).map(|i| (100.0 + i as f32 * 30.0, 450.0)).collect();
    let green = stroke(Tool::Highlighter, [40, 200, 80, 255], 6.0, &points);
    let pixmap = render_pixmap(&page(vec![item(green, 1)]), None, 1600, 900).unwrap();
    let at_joint = rgb(&pixmap, 400, 450);
    let between = rgb(&pixmap, 415, 450);
    assert!(near(at_joint, between, 1), "{at_joint:?} {between:?}");
    assert_ne!(at_joint, [0xfd, 0xfc, 0xf7], "inked");
}

#[test]
fn the_highlighter_is_under_other_ink_whatever_its_order() {
    let black = stroke(
        Tool::Pen,
        [0, 0, 0, 255],
        10.0,
        &[(100.0, 300.0), (1500.0, 300.0)],
    );
    let yellow = stroke(
        Tool::Highlighter,
        [255, 255, 0, 255],
        10.0,
        &[(800.0, 100.0), (800.0, 800.0)],
    );
    let pixmap = render_pixmap(
        &page(vec![item(black, 1), item(yellow, 2)]),
        None,
        1600,
        900,
    )
    .unwrap();
    assert_eq!(
        rgb(&pixmap, 800, 300),
        [0, 0, 0],
        "ink over the highlighter"
    );
    let lit = rgb(&pixmap, 800, 500);
    assert!(near(lit, [253, 252, 161], 2), "{lit:?}");
}

#[test]
fn a_pencil_keeps_eight_tenths_of_its_colour() {
    let pencil = stroke(
        Tool::Pencil,
        [0, 0, 0, 255],
        10.0,
        &[(100.0, 450.0), (1500.0, 450.0)],
    );
    let pixmap = render_pixmap(&page(vec![item(pencil, 1)]), None, 1600, 900).unwrap();
    let grey = rgb(&pixmap, 800, 450);
    assert!(near(grey, [51, 50, 49], 2), "{grey:?}");
}

#[test]
fn a_single_sample_is_a_dot() {
    let dot = stroke(Tool::Pen, RED, 20.0, &[(400.0, 400.0)]);
    let pixmap = render_pixmap(&page(vec![item(dot, 1)]), None, 1600, 900).unwrap();
    assert_eq!(rgb(&pixmap, 400, 400), [255, 0, 0]);
    assert_eq!(rgb(&pixmap, 408, 400), [255, 0, 0]);
    assert_eq!(rgb(&pixmap, 412, 400), PAPER);
}

#[test]
fn shapes_are_drawn_as_outlines() {
    let blue = [0, 0, 255, 255];
    let shape = |shape, from, to| ItemKind::Shape {
        shape,
        from,
        to,
        style: Style {
            color: blue,
            width: 4.0,
        },
    };
    let items = vec![
        item(
            shape(ShapeKind::Rectangle, [100.0, 100.0], [300.0, 200.0]),
            1,
        ),
        item(shape(ShapeKind::Ellipse, [500.0, 100.0], [700.0, 300.0]), 2),
        item(shape(ShapeKind::Line, [100.0, 500.0], [300.0, 500.0]), 3),
        item(shape(ShapeKind::Arrow, [500.0, 500.0], [700.0, 500.0]), 4),
    ];
    let pixmap = render_pixmap(&page(items), None, 1600, 900).unwrap();
    let b = [0, 0, 255];
    // The rectangle's edges, and paper inside it.
    assert_eq!(rgb(&pixmap, 200, 100), b);
    assert_eq!(rgb(&pixmap, 300, 150), b);
    assert_eq!(rgb(&pixmap, 200, 150), PAPER);
    // The ellipse (a circle of radius 100 around (600, 200)).
    assert_eq!(rgb(&pixmap, 600, 100), b);
    assert_eq!(rgb(&pixmap, 700, 200), b);
    assert_eq!(rgb(&pixmap, 600, 200), PAPER);
    assert_eq!(rgb(&pixmap, 671, 271), b, "at 45 degrees");
    // The line.
    assert_eq!(rgb(&pixmap, 200, 500), b);
    // The arrow's head: 16 units (4 x width) back from its tip, turned half a radian.
    let (hx, hy) = (
        700.0 - 16.0 * 0.5f32.cos() * 0.6,
        500.0 - 16.0 * 0.5f32.sin() * 0.6,
    );
    assert_eq!(rgb(&pixmap, hx as u32, hy as u32), b);
    assert_eq!(rgb(&pixmap, hx as u32, (1000.0 - hy) as u32), b);
    assert_eq!(rgb(&pixmap, 300, 495), PAPER, "a line has no head");
}

/// The pixels in `x` by `y` (page units at 1600 x 900) that are not paper, and how many are
/// close to `ink`.
fn inked(
    pixmap: &Pixmap,
    x: std::ops::Range<u32>,
    y: std::ops::Range<u32>,
    ink: [u8; 3],
) -> (usize, usize) {
    let (mut any, mut close) = (0, 0);
    for x in x {
        for y in y.clone() {
            let c = rgb(pixmap, x, y);
            any += usize::from(c != PAPER);
            close += usize::from(near(c, ink, 40));
        }
    }
    (any, close)
}

#[test]
fn stamps_scores_and_text_are_drawn_where_the_canvas_puts_them() {
    let stamp = |at, stamp| ItemKind::Stamp { at, stamp };
    let text = |at, text: &str| ItemKind::Text {
        at,
        text: text.into(),
        size: 40.0,
        color: [0, 0, 0, 255],
    };
    let items = vec![
        item(stamp([200.0, 200.0], Stamp::Tick), 1),
        item(stamp([400.0, 200.0], Stamp::Cross), 2),
        item(stamp([600.0, 200.0], Stamp::Score("8/10".into())), 3),
        item(text([800.0, 200.0], "well done"), 4),
        item(text([800.0, 500.0], "做得好\nline two"), 5),
    ];
    let pixmap = render_pixmap(&page(items), None, 1600, 900).unwrap();
    // The tick's corner at (x - 5, y + 16), the cross's middle.
    assert_eq!(rgb(&pixmap, 195, 216), [30, 140, 60]);
    assert_eq!(rgb(&pixmap, 400, 200), [200, 40, 40]);
    // The score: bold red digits centred on its point, capitals about it (its baseline
    // 0.35 of 36 units below).
    let red = [200, 40, 40];
    let (left, left_red) = inked(&pixmap, 560..600, 180..214, red);
    let (_, right_red) = inked(&pixmap, 600..640, 180..214, red);
    assert!(
        left_red > 60 && right_red > 60,
        "score ink: {left_red} left, {right_red} right"
    );
    assert!(left - left_red < left / 2, "mostly red: {left} {left_red}");
    assert_eq!(
        inked(&pixmap, 500..550, 150..260, red).0,
        0,
        "nothing far left of it"
    );
    assert_eq!(
        inked(&pixmap, 560..640, 150..176, red).0,
        0,
        "nothing above its capitals"
    );
    // The text: from its corner down and right, its first baseline 0.8 of 40 below.
    let black = [0, 0, 0];
    let (_, ink) = inked(&pixmap, 800..1000, 200..240, black);
    assert!(ink > 300, "text ink: {ink}");
    assert_eq!(
        inked(&pixmap, 780..1100, 150..198, black).0,
        0,
        "nothing above the text"
    );
    assert_eq!(
        inked(&pixmap, 760..798, 190..260, black).0,
        0,
        "nothing left of it"
    );
    // Chinese from a CJK face, and a second line 1.25 sizes below the first.
    let (_, chinese) = inked(&pixmap, 800..920, 500..540, black);
    assert!(chinese > 300, "Chinese ink: {chinese}");
    let (_, second) = inked(&pixmap, 800..960, 550..590, black);
    assert!(second > 200, "second line ink: {second}");
}

#[test]
fn ruled_and_grid_pages_have_their_lines() {
    // At twice the page's size a 1-unit line at y = 100 covers pixel rows 199 and 200 whole.
    let mut ruled = Page::new(Background::Ruled { spacing: 100.0 });
    let pixmap = render_pixmap(&ruled, None, 3200, 1800).unwrap();
    let line = rgb(&pixmap, 50, 200);
    // rgba(60, 90, 140, 0.15) over the paper.
    assert!(near(line, [224, 228, 231], 2), "{line:?}");
    assert_eq!(rgb(&pixmap, 50, 199), line);
    assert_eq!(rgb(&pixmap, 50, 300), PAPER);
    assert_eq!(rgb(&pixmap, 200, 300), PAPER, "ruled: no columns");
    ruled.background = Background::Grid { spacing: 100.0 };
    let pixmap = render_pixmap(&ruled, None, 3200, 1800).unwrap();
    assert_eq!(rgb(&pixmap, 200, 300), line, "grid: columns too");
    // The crossing is one stroke, not two on top of each other (as the canvas draws it).
    assert_eq!(rgb(&pixmap, 200, 200), line);
}

#[test]
fn a_background_picture_is_fitted_whole_and_centred() {
    // 4:3 on a 16:9 page: full height, 1200 units wide, 200 units of paper each side.
    assert_eq!(image_rect(400, 300), [200.0, 0.0, 1200.0, 900.0]);
    assert_eq!(image_rect(1600, 900), [0.0, 0.0, 1600.0, 900.0]);
    let photo = RgbaImage::from_pixel(400, 300, Rgba([10, 20, 30, 255]));
    let pixmap = render_pixmap(&Page::new(Background::Blank), Some(&photo), 800, 450).unwrap();
    assert_eq!(rgb(&pixmap, 95, 200), PAPER);
    assert_eq!(rgb(&pixmap, 105, 200), [10, 20, 30]);
    assert_eq!(rgb(&pixmap, 400, 0), [10, 20, 30]);
    assert_eq!(rgb(&pixmap, 695, 449), [10, 20, 30]);
    assert_eq!(rgb(&pixmap, 705, 200), PAPER);
}

#[test]
fn a_large_picture_shrunk_a_lot_keeps_its_average_colour() {
    // Black and white stripes one pixel wide: sampled without filtering they would come out
    // black or white; shrunk properly they are grey.
    let stripes = RgbaImage::from_fn(3200, 1800, |x, _| {
        if x % 2 == 0 {
            Rgba([0, 0, 0, 255])
        } else {
            Rgba([255, 255, 255, 255])
        }
    });
    let pixmap = render_pixmap(&Page::new(Background::Blank), Some(&stripes), 320, 180).unwrap();
    let grey = rgb(&pixmap, 160, 90);
    assert!(near(grey, [128, 128, 128], 12), "{grey:?}");
}

#[test]
fn sizes_outside_1_to_8192_are_refused() {
    let blank = Page::new(Background::Blank);
    for (w, h) in [(0, 900), (1600, 0), (8193, 100), (100, 8193)] {
        let err = render_page(&blank, None, w, h).unwrap_err();
        assert_eq!(
            err,
            RenderError::BadSize {
                width: w,
                height: h
            }
        );
        assert_eq!(err.kind(), "badSize");
    }
    assert!(render_pixmap(&blank, None, 8192, 1).is_ok());
}

#[test]
fn render_page_writes_a_png_of_the_pixmap() {
    let marked = page(vec![item(red_line(), 1)]);
    let png = render_page(&marked, None, 800, 450).unwrap();
    let decoded = image::ImageReader::new(Cursor::new(&png))
        .with_guessed_format()
        .unwrap()
        .decode()
        .unwrap()
        .into_rgb8();
    assert_eq!(decoded.dimensions(), (800, 450));
    let pixmap = render_pixmap(&marked, None, 800, 450).unwrap();
    for (x, y) in [(400, 225), (400, 100), (10, 10)] {
        assert_eq!(decoded.get_pixel(x, y).0, rgb(&pixmap, x, y));
    }
}

#[test]
fn two_thousand_strokes_at_4k_over_a_photo_render() {
    let photo = RgbaImage::from_fn(640, 480, |x, y| {
        Rgba([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8, 255])
    });
    let items = (0..2000u64)
        .map(|n| {
            let x0 = (n % 50) as f32 * 30.0 + 20.0;
            let y0 = (n / 50) as f32 * 20.0 + 40.0;
            let points: Vec<_> = (0..40)
                .map(|i| (x0 + i as f32, y0 + (i as f32 * 0.5).sin() * 5.0))
                .collect();
            item(stroke(Tool::Pen, [0, 0, 200, 255], 3.0, &points), n + 1)
        })
        .collect();
    let png = render_page(&page(items), Some(&photo), 3840, 2160).unwrap();
    let decoded = image::load_from_memory(&png).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (3840, 2160));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any coordinates, widths and colours (infinite and NaN included) draw without panicking.
    #[test]
    fn any_items_render(
        strokes in prop::collection::vec(
            (
                prop::collection::vec((any::<f32>(), any::<f32>(), any::<f32>()), 0..6),
                any::<f32>(),
                any::<[u8; 4]>(),
                0usize..3,
                (any::<f32>(), any::<f32>()),
            ),
            0..8,
        ),
        shape in (any::<[f32; 2]>(), any::<[f32; 2]>(), any::<f32>(), 0usize..4),
        spacing in any::<f32>(),
    ) {
        let tools = [Tool::Pen, Tool::Pencil, Tool::Highlighter];
        let shapes = [ShapeKind::Line, ShapeKind::Arrow, ShapeKind::Rectangle, ShapeKind::Ellipse];
        let mut items: Vec<Item> = strokes
            .into_iter()
            .enumerate()
            .map(|(n, (samples, width, color, tool, offset))| {
                let mut it = item(
                    ItemKind::Stroke {
                        tool: tools[tool],
                        style: Style { color, width },
                        samples: samples
                            .into_iter()
                            .map(|(x, y, p)| Sample { x, y, p, t: 0 })
                            .collect(),
                        live: n % 2 == 0,
                    },
                    n as u64,
                );
                it.offset = [offset.0, offset.1];
                it
            })
            .collect();
        let (from, to, width, which) = shape;
        items.push(item(
            ItemKind::Shape { shape: shapes[which], from, to, style: Style { color: RED, width } },
            99,
        ));
        let mut page = page(items);
        page.background = Background::Grid { spacing };
        let pixmap = render_pixmap(&page, None, 160, 90).unwrap();
        prop_assert_eq!(pixmap.width(), 160);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// The largest coordinates and widths still drawn, at the largest scale, draw without
    /// panicking (the rasterizer's fixed-point limits are far beyond them).
    #[test]
    fn extreme_but_accepted_geometry_renders(
        points in prop::collection::vec(
            (-homework::render::MAX_COORD..=homework::render::MAX_COORD,
             -homework::render::MAX_COORD..=homework::render::MAX_COORD),
            1..5,
        ),
        width in 0.0f32..=homework::render::MAX_LINE_WIDTH * 2.0,
        ellipse in any::<bool>(),
    ) {
        let mut items = vec![item(stroke(Tool::Highlighter, RED, width, &points), 1)];
        let (a, b) = (points[0], points[points.len() - 1]);
        items.push(item(
            ItemKind::Shape {
                shape: if ellipse { ShapeKind::Ellipse } else { ShapeKind::Arrow },
                from: [a.0, a.1],
                to: [b.0, b.1],
                style: Style { color: RED, width },
            },
            2,
        ));
        let pixmap = render_pixmap(&page(items), None, 8192, 16).unwrap();
        prop_assert_eq!(pixmap.width(), 8192);
    }
}

/// A marked photo: the marks in marking-page units (1000 across) land on the photo at its own
/// size, whatever its resolution; the photo shows where there are no marks.
#[test]
fn marks_on_a_photo_land_where_they_were_made_at_the_photos_size() {
    use homework::render::MARK_PAGE_WIDTH;
    use homework::render_marked;
    let pale = Rgba([230, 235, 240, 255]);
    for (w, h) in [(900u32, 1200u32), (2560, 1920)] {
        let photo = RgbaImage::from_pixel(w, h, pale);
        let units_high = MARK_PAGE_WIDTH * h as f32 / w as f32;
        let y = units_high * 0.2;
        let marks = vec![
            item(stroke(Tool::Pen, RED, 6.0, &[(200.0, y), (800.0, y)]), 1),
            item(
                ItemKind::Stamp {
                    at: [500.0, units_high * 0.6],
                    stamp: Stamp::Tick,
                },
                2,
            ),
        ];
        let png = render_marked(&photo, &marks).unwrap();
        let marked = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(marked.dimensions(), (w, h));
        let at =
            |fx: f32, fy: f32| *marked.get_pixel((fx * w as f32) as u32, (fy * h as f32) as u32);
        let ink = at(0.5, 0.2);
        assert!(
            ink[0] > 200 && ink[1] < 60,
            "red ink at the stroke: {ink:?}"
        );
        // The tick's lowest corner, 5 units left of and 16 below its centre.
        let tick = at(0.495, (units_high * 0.6 + 16.0) / units_high);
        assert!(
            tick[1] > tick[0] + 60 && tick[2] < 120,
            "a green tick: {tick:?}"
        );
        assert_eq!(at(0.5, 0.9).0, [230, 235, 240], "the photo elsewhere");
    }
    assert!(matches!(
        render_marked(&RgbaImage::new(0, 10), &[]),
        Err(RenderError::BadSize { .. })
    ));
}
