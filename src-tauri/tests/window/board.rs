//! The whiteboard in real windows: ink everyone sees while it is drawn, a student the teacher
//! lets draw, and the board saved as PNG and PDF, drawn in Rust as the canvas draws it
//! (compared pixel for pixel with the canvas).

use super::*;

/// The page's view, read off the canvas in a script: `z` its zoom, `vx, vy` the page point at
/// the canvas's top-left corner.
const VIEW: &str = "const [z, vx, vy] = (c.dataset.view ?? '1 0 0').split(' ').map(Number);";

/// Dispatches a pointer event on the whiteboard's canvas at page units `(x, y)` (as the
/// platform would deliver a mouse's), where the window's view of the page shows them.
fn board_pointer(window: &Window, kind: &str, x: f64, y: f64) -> Result<()> {
    window.eval::<()>(
        &format!(
            "const c = document.querySelector('[data-testid=board-canvas]');\
         const r = c.getBoundingClientRect(); {VIEW}\
         c.dispatchEvent(new PointerEvent(arguments[0], {{\
           clientX: r.left + (arguments[1] - vx) * z / 1600 * r.width,\
           clientY: r.top + (arguments[2] - vy) * z / 900 * r.height,\
           pointerId: 7, pointerType: 'mouse', button: 0, buttons: 1, pressure: 0.5,\
           bubbles: true, cancelable: true }}));"
        ),
        vec![json!(kind), json!(x), json!(y)],
    )
}

/// The teacher opens the class's whiteboard and scrolls to it.
pub(super) fn open_whiteboard(teacher: &Window) -> Result<()> {
    flows::scroll_to(teacher, "whiteboard")?;
    teacher.click_testid("board-open")?;
    teacher.wait_for_testid("board-canvas", WAIT)?;
    flows::scroll_to(teacher, "whiteboard")
}

/// How many finished items the whiteboard's canvas says it has.
pub(super) fn board_items(window: &Window) -> Result<String> {
    window.eval(
        "return document.querySelector('[data-testid=board-canvas]').dataset.items;",
        vec![],
    )
}

/// Whether the whiteboard's canvas shows ink (a dark blue pixel) around page units `(x, y)`,
/// where the window's view of the page shows them.
fn board_ink_at(window: &Window, x: f64, y: f64) -> Result<bool> {
    board_pixel_at(window, x, y, "d[i] < 90 && d[i + 2] > 100 && d[i + 3] > 0")
}

/// Whether the whiteboard's canvas shows a laser's red around page units `(x, y)`.
fn board_red_at(window: &Window, x: f64, y: f64) -> Result<bool> {
    board_pixel_at(window, x, y, "d[i] > 180 && d[i + 1] < 90 && d[i + 2] < 90")
}

/// Whether some pixel within 6 device pixels of page units `(x, y)` (where the window's view
/// of the page shows them) meets `test` (JavaScript over `d`, the pixels' bytes, at `i`).
fn board_pixel_at(window: &Window, x: f64, y: f64, test: &str) -> Result<bool> {
    window.eval(
        &format!("const c = document.querySelector('[data-testid=board-canvas]');\
         if (c === null || c.width === 0) return false; {VIEW}\
         const s = c.width / 1600 * z;\
         const px = Math.round((arguments[0] - vx) * s), py = Math.round((arguments[1] - vy) * s);\
         const d = c.getContext('2d').getImageData(Math.max(0, px - 6), Math.max(0, py - 6), 13, 13).data;\
         for (let i = 0; i < d.length; i += 4) {{\
           if ({test}) return true;\
         }}\
         return false;"),
        vec![json!(x), json!(y)],
    )
}

/// Ink everyone sees while it is drawn: the teacher opens the whiteboard and draws; the
/// student's board shows the stroke before the pen is lifted, keeps it after, and loses it
/// when the teacher undoes it.
#[test]
fn the_teachers_ink_reaches_the_student_while_it_is_drawn() {
    Scenario::run("board", app(), |s| {
        let teacher = s.launch(AppOptions::new("teacher"))?;
        let student = s.launch(AppOptions::new("student").language("zh-CN"))?;
        let invite = flows::host_class(&teacher, "Ms. Rivera", "physics-7b")?;
        flows::join_class(&student, "Ada", &invite)?;

        flows::scroll_to(&teacher, "whiteboard")?;
        teacher.click_testid("board-open")?;
        teacher.wait_for_testid("board-canvas", WAIT)?;
        student.wait_for_testid("board-canvas", WAIT)?;
        flows::scroll_to(&teacher, "whiteboard")?;
        flows::scroll_to(&student, "whiteboard")?;

        // Pen down and along, not lifted: the student sees the ink already.
        board_pointer(&teacher, "pointerdown", 300.0, 300.0)?;
        for i in 1..=30 {
            let step = f64::from(i);
            board_pointer(
                &teacher,
                "pointermove",
                300.0 + step * 20.0,
                300.0 + step * 5.0,
            )?;
            std::thread::sleep(Duration::from_millis(15));
        }
        // The teacher's own board shows it at once.
        teacher.wait_until(WAIT, "the stroke on the teacher's board", || {
            Ok(board_ink_at(&teacher, 500.0, 350.0)?.then_some(()))
        })?;
        student.wait_until(
            WAIT,
            "the stroke on the student's board while drawn",
            || {
                let live: String = student.eval(
                "return document.querySelector('[data-testid=board-canvas]').dataset.liveSamples;",
                vec![],
            )?;
                Ok(
                    (live.parse::<u32>().unwrap_or(0) > 10
                        && board_ink_at(&student, 500.0, 350.0)?)
                    .then_some(()),
                )
            },
        )?;
        keep(s, &student, "board-live-zh")?;
        board_pointer(&teacher, "pointerup", 900.0, 450.0)?;
        student.wait_until(WAIT, "the finished stroke", || {
            let items = board_items(&student)?;
            Ok((items == "1" && board_ink_at(&student, 880.0, 445.0)?).then_some(()))
        })?;
        keep(s, &teacher, "board-teacher-en")?;
        keep(s, &student, "board-student-zh")?;

        // Ada zooms in to read it, in her own view (the teacher's stays whole): the + button
        // twice (156 %, about the middle), then the right arrow on the board moves her view a
        // tenth to the right. The stroke is drawn where her view shows its page points.
        student.click_testid("board-zoom-in")?;
        student.click_testid("board-zoom-in")?;
        student.eval::<()>(
            "document.querySelector('[data-testid=board-canvas]').focus();",
            vec![],
        )?;
        student.press("\u{E014}")?;
        student.wait_until(WAIT, "the student's view zoomed in and moved", || {
            let view: String = student.eval(
                "return document.querySelector('[data-testid=board-canvas]').dataset.view;",
                vec![],
            )?;
            let parts: Vec<f64> = view.split(' ').filter_map(|v| v.parse().ok()).collect();
            let expected = [1.5625, 288.0 + 102.4, 162.0];
            let zoomed = parts.len() == 3
                && parts
                    .iter()
                    .zip(expected)
                    .all(|(got, want)| (got - want).abs() < 1e-6);
            Ok((zoomed
                && student.text_of_testid("board-zoom-fit")?.contains("156")
                && board_ink_at(&student, 880.0, 445.0)?
                && board_ink_at(&student, 500.0, 350.0)?)
            .then_some(()))
        })?;
        assert_eq!(
            teacher.eval::<String>(
                "return document.querySelector('[data-testid=board-canvas]').dataset.view;",
                vec![],
            )?,
            "1 0 0",
            "one person's zoom is theirs alone"
        );
        keep(s, &student, "board-student-zoomed-zh")?;

        // The teacher undoes it: gone from the student's board too.
        teacher.click_testid("board-undo")?;
        student.wait_until(WAIT, "the stroke taken back", || {
            let items = board_items(&student)?;
            Ok((items == "0" && !board_ink_at(&student, 500.0, 350.0)?).then_some(()))
        })?;

        // The teacher lets Ada draw: her board takes her pen, and the teacher sees her ink,
        // drawn in her zoomed view, where it is on the page.
        teacher.click_testid("draw-toggle")?;
        student.wait_for_testid("board-may-draw", WAIT)?;
        flows::scroll_to(&student, "whiteboard")?;
        board_pointer(&student, "pointerdown", 400.0, 600.0)?;
        for i in 1..=20 {
            let step = f64::from(i);
            board_pointer(&student, "pointermove", 400.0 + step * 25.0, 600.0)?;
            std::thread::sleep(Duration::from_millis(15));
        }
        board_pointer(&student, "pointerup", 900.0, 600.0)?;
        teacher.wait_until(WAIT, "Ada's stroke on the teacher's board", || {
            let items = board_items(&teacher)?;
            Ok((items == "1"
                && board_ink_at(&teacher, 650.0, 600.0)?
                && !board_ink_at(&teacher, 300.0, 600.0)?)
            .then_some(()))
        })?;
        keep(s, &student, "board-student-draws-zh")?;

        // A second page: the teacher adds it and the class turns to it with her; her ink
        // there is on page 2 only. Ada looks back at page 1 on her own (her stroke is there,
        // the teacher stays on page 2) and comes back with "Back to the teacher's page".
        let on_page = |w: &Window| -> Result<String> {
            w.eval(
                "return document.querySelector('[data-testid=board-page]').dataset.page;",
                vec![],
            )
        };
        teacher.click_testid("board-page-add")?;
        for w in [&teacher, &student] {
            w.wait_until(WAIT, "page 2 shown to the class", || {
                Ok((on_page(w)? == "board-2" && board_items(w)? == "0").then_some(()))
            })?;
        }
        board_pointer(&teacher, "pointerdown", 300.0, 300.0)?;
        for i in 1..=10 {
            board_pointer(&teacher, "pointermove", 300.0 + f64::from(i) * 40.0, 300.0)?;
        }
        board_pointer(&teacher, "pointerup", 700.0, 300.0)?;
        student.wait_until(WAIT, "the teacher's ink on page 2", || {
            Ok((board_items(&student)? == "1"
                && board_ink_at(&student, 500.0, 300.0)?
                && !board_ink_at(&student, 650.0, 600.0)?)
            .then_some(()))
        })?;
        student.click_testid("board-page-prev")?;
        student.wait_until(WAIT, "Ada back on page 1 on her own", || {
            Ok((on_page(&student)? == "board-1"
                && board_ink_at(&student, 650.0, 600.0)?
                && !board_ink_at(&student, 500.0, 300.0)?)
            .then_some(()))
        })?;
        student.wait_for_testid("board-follow", WAIT)?;
        ensure!(
            on_page(&teacher)? == "board-2",
            "a student's turning is their own"
        );
        keep(s, &student, "board-student-page-1-zh")?;
        student.click_testid("board-follow")?;
        student.wait_until(WAIT, "Ada back with the teacher", || {
            Ok(
                (on_page(&student)? == "board-2" && board_ink_at(&student, 500.0, 300.0)?)
                    .then_some(()),
            )
        })?;

        // Her own page (homework): made with *My page*, ruled, hers to draw on even when the
        // teacher stops her drawing on the class's pages; the teacher turns to it alone (the
        // class stays on page 2) and sees her ink under her name.
        teacher.click_testid("draw-toggle")?;
        student.wait_until(WAIT, "Ada no longer let draw", || {
            Ok(student
                .wait_for_testid("board-may-draw", Duration::from_millis(100))
                .is_err()
                .then_some(()))
        })?;
        student.click_testid("board-my-page")?;
        student.wait_until(WAIT, "Ada on her own page", || {
            Ok(on_page(&student)?.starts_with("private-").then_some(()))
        })?;
        let hers = on_page(&student)?;
        student.wait_for_testid("board-pen", WAIT)?;
        board_pointer(&student, "pointerdown", 400.0, 450.0)?;
        for i in 1..=10 {
            board_pointer(&student, "pointermove", 400.0 + f64::from(i) * 40.0, 450.0)?;
        }
        board_pointer(&student, "pointerup", 800.0, 450.0)?;
        student.wait_until(WAIT, "Ada's ink on her page", || {
            Ok((board_items(&student)? == "1").then_some(()))
        })?;
        keep(s, &student, "board-student-own-page-zh")?;
        teacher.click_testid("board-page-next")?;
        teacher.wait_until(WAIT, "the teacher on Ada's page", || {
            Ok((on_page(&teacher)? == hers
                && board_items(&teacher)? == "1"
                && board_ink_at(&teacher, 600.0, 450.0)?
                && teacher.text_of_testid("board-private")?.contains("Ada"))
            .then_some(()))
        })?;
        keep(s, &teacher, "board-teacher-on-student-page-en")?;
        student.click_testid("board-follow")?;
        student.wait_until(WAIT, "the class still on page 2", || {
            Ok((on_page(&student)? == "board-2").then_some(()))
        })?;

        // Drawing on one page only: back on the class's page, the teacher lets Ada draw
        // there (not on page 1); Ada has the pen on page 2 and not on page 1.
        teacher.click_testid("board-follow")?;
        teacher.wait_until(WAIT, "the teacher back on the class's page", || {
            Ok((on_page(&teacher)? == "board-2").then_some(()))
        })?;
        teacher.click_selector("[data-testid=board-drawers] summary")?;
        teacher.click_testid("board-draws-here")?;
        student.wait_for_testid("board-may-draw", WAIT)?;
        student.wait_for_testid("board-pen", WAIT)?;
        student.click_testid("board-page-prev")?;
        student.wait_until(WAIT, "no pen on page 1", || {
            Ok((on_page(&student)? == "board-1"
                && student
                    .wait_for_testid("board-may-draw-elsewhere", Duration::from_millis(100))
                    .is_ok()
                && student
                    .wait_for_testid("board-pen", Duration::from_millis(100))
                    .is_err())
            .then_some(()))
        })?;
        // The participants panel says she draws on one page, not everywhere.
        teacher.wait_until(WAIT, "Ada's tag: one page", || {
            let tag: Option<String> = teacher.eval(
                "const t = document.querySelector('[data-testid=participant][data-name=Ada] \
                 [data-testid=draw-tag]');\
                 return t && t.innerText.trim();",
                vec![],
            )?;
            Ok((tag.as_deref() == Some("Draws on 1 page")).then_some(()))
        })?;
        keep(s, &teacher, "board-who-draws-here-en")?;

        // The laser pointer: the teacher points with it (the mouse hovering); Ada, back with
        // the class, sees a red dot where it points, in her zoomed view; nothing is drawn.
        student.click_testid("board-follow")?;
        teacher.click_testid("board-laser")?;
        // What Ada's board showed last, for a failure (once, of many runs, it timed out with
        // the dot in its screenshot).
        let mut seen = String::new();
        let laser = student.wait_until(WAIT, "the teacher's laser on Ada's board", || {
            board_pointer(&teacher, "pointermove", 900.0, 400.0)?;
            let (lasers, view): (String, String) = student.eval(
                "const c = document.querySelector('[data-testid=board-canvas]');\
                 return [c.dataset.lasers, c.dataset.view];",
                vec![],
            )?;
            let red = board_red_at(&student, 900.0, 400.0)?;
            seen = format!("lasers {lasers}, view {view}, red at (900, 400): {red}");
            Ok((lasers == "1" && red).then_some(()))
        });
        laser.with_context(|| format!("Ada's board last showed {seen}"))?;
        ensure!(board_items(&teacher)? == "1", "a laser draws nothing");
        keep(s, &student, "board-laser-zh")?;
        Ok(())
    });
}

/// Dispatches a pen's pointer event on the whiteboard's canvas at page units `(x, y)` with
/// `pressure`.
fn board_pen(window: &Window, kind: &str, x: f64, y: f64, pressure: f64) -> Result<()> {
    window.eval::<()>(
        "const c = document.querySelector('[data-testid=board-canvas]');\
         const r = c.getBoundingClientRect();\
         c.dispatchEvent(new PointerEvent(arguments[0], {\
           clientX: r.left + arguments[1] / 1600 * r.width,\
           clientY: r.top + arguments[2] / 900 * r.height,\
           pointerId: 11, pointerType: 'pen', button: 0, buttons: 1, pressure: arguments[3],\
           bubbles: true, cancelable: true }));",
        vec![json!(kind), json!(x), json!(y), json!(pressure)],
    )
}

/// Draws one stroke with the pen through `points` (page units and pressure) and waits until
/// the board holds `items` finished items.
fn draw_stroke(window: &Window, points: &[(f64, f64, f64)], items: usize) -> Result<()> {
    let (first, rest) = points.split_first().context("a stroke has points")?;
    board_pen(window, "pointerdown", first.0, first.1, first.2)?;
    for &(x, y, p) in rest {
        board_pen(window, "pointermove", x, y, p)?;
    }
    let last = points.last().unwrap_or(first);
    board_pen(window, "pointerup", last.0, last.1, last.2)?;
    window
        .wait_until(WAIT, "the stroke on the board", || {
            Ok((board_items(window)? == items.to_string()).then_some(()))
        })
        .with_context(|| {
            let now = board_items(window).unwrap_or_default();
            format!("{items} items wanted, the board has {now}")
        })
}

/// The canvas's own pixels (what the person sees, at the canvas's device pixels).
fn canvas_pixels(window: &Window) -> Result<image::RgbaImage> {
    use base64::Engine as _;
    let url: String = window.eval(
        "return document.querySelector('[data-testid=board-canvas]').toDataURL('image/png');",
        vec![],
    )?;
    let data = url
        .strip_prefix("data:image/png;base64,")
        .context("the canvas as a PNG data URL")?;
    let png = base64::engine::general_purpose::STANDARD.decode(data)?;
    Ok(image::load_from_memory(&png)?.to_rgba8())
}

/// How many red pixels (a score's, the loop's) a canvas shows within page units
/// `[left, top, right, bottom]` (the whole page in view).
fn red_in(canvas: &image::RgbaImage, area: [f64; 4]) -> usize {
    let scale = f64::from(canvas.width()) / 1600.0;
    let [l, t, r, b] = area.map(|v| (v * scale) as u32);
    (t..b.min(canvas.height()))
        .flat_map(|y| (l..r.min(canvas.width())).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let p = canvas.get_pixel(x, y).0;
            p[0] > 150 && p[1] < 90 && p[2] < 90
        })
        .count()
}

/// `picture` scaled to 480x270 (averaging, so anti-aliasing differences even out).
fn small(picture: &image::RgbaImage) -> image::RgbaImage {
    image::imageops::resize(picture, 480, 270, image::imageops::FilterType::Triangle)
}

/// How two pictures of one size differ: the mean difference per channel (of 255) and the
/// share of pixels more than a quarter apart in some channel.
fn difference(a: &image::RgbaImage, b: &image::RgbaImage) -> (f64, f64) {
    let (mut sum, mut far) = (0u64, 0u64);
    for (p, q) in a.pixels().zip(b.pixels()) {
        let d = [0, 1, 2].map(|c| p[c].abs_diff(q[c]));
        sum += d.iter().map(|&d| u64::from(d)).sum::<u64>();
        far += u64::from(d.iter().any(|&d| d > 64));
    }
    let n = u64::from(a.width()) * u64::from(a.height());
    (sum as f64 / (3 * n) as f64, far as f64 / n as f64)
}

/// The teacher draws on the whiteboard (pen strokes with changing pressure, a rectangle and
/// an arrow dragged out, a tick then moved, a highlighter, other colours) and saves it: the PNG, drawn in Rust, looks as the canvas does, and the PDF
/// holds the page with the same ink.
#[test]
fn a_saved_whiteboard_looks_as_the_canvas_draws_it() {
    Scenario::run("board-save", app(), |s| {
        let teacher = s.launch(AppOptions::new("teacher"))?;
        flows::host_class(&teacher, "Ms. Rivera", "physics-7b")?;
        open_whiteboard(&teacher)?;

        // A wave with the pen, pressing harder along it.
        let wave: Vec<_> = (0..=60)
            .map(|i| {
                let t = f64::from(i) / 60.0;
                (
                    200.0 + t * 1200.0,
                    300.0 + (t * 12.0).sin() * 120.0,
                    0.1 + 0.9 * t,
                )
            })
            .collect();
        draw_stroke(&teacher, &wave, 1)?;
        // A red loop, wide.
        teacher.click_selector("[data-testid=whiteboard] button[aria-label=Red]")?;
        teacher.eval::<()>(
            "const w = document.querySelector('[data-testid=whiteboard] input[type=range]');\
             w.value = '10'; w.dispatchEvent(new Event('input', { bubbles: true }));",
            vec![],
        )?;
        let loop_: Vec<_> = (0..=48)
            .map(|i| {
                let a = f64::from(i) / 48.0 * std::f64::consts::TAU;
                (800.0 + a.cos() * 220.0, 620.0 + a.sin() * 140.0, 0.7)
            })
            .collect();
        draw_stroke(&teacher, &loop_, 2)?;
        // A rectangle and an arrow, dragged out (keys pick the tools, as a person may).
        teacher.click_selector("[data-testid=whiteboard] button[aria-label=Black]")?;
        teacher.click_testid("board-rectangle")?;
        draw_stroke(
            &teacher,
            &[
                (1050.0, 120.0, 0.5),
                (1200.0, 180.0, 0.5),
                (1450.0, 260.0, 0.5),
            ],
            3,
        )?;
        teacher.click_testid("board-canvas")?;
        teacher.press("a")?;
        ensure!(
            teacher.eval::<bool>(
                "return document.querySelector('[data-testid=board-arrow]').getAttribute('aria-pressed') === 'true';",
                vec![],
            )?,
            "the A key picks the arrow"
        );
        draw_stroke(&teacher, &[(300.0, 820.0, 0.5), (600.0, 700.0, 0.5)], 4)?;
        // A tick, by its key, where the pen touches.
        teacher.press("t")?;
        draw_stroke(&teacher, &[(1300.0, 700.0, 0.5)], 5)?;
        // Moved (V) a little to the right and down: dragged, dropped, moved for everyone.
        teacher.press("v")?;
        draw_stroke(
            &teacher,
            &[
                (1300.0, 700.0, 0.5),
                (1350.0, 740.0, 0.5),
                (1400.0, 780.0, 0.5),
            ],
            5,
        )?;
        // Typed text (W, a press where it goes, typed, Enter), in English and Chinese, and a
        // score (S) stamped: Rust's PNG and PDF below must show them where the canvas does.
        teacher.press("w")?;
        board_pen(&teacher, "pointerdown", 1000.0, 340.0, 0.5)?;
        board_pen(&teacher, "pointerup", 1000.0, 340.0, 0.5)?;
        teacher.wait_for_testid("board-text-input", WAIT)?;
        teacher.wait_until(WAIT, "the text field focused", || {
            Ok(teacher
                .eval::<Option<String>>(
                    "return document.activeElement?.dataset?.testid ?? null;",
                    vec![],
                )?
                .filter(|id| id == "board-text-input"))
        })?;
        teacher.press("Well done ")?;
        // Chinese as an input method gives it: the whole word at once.
        teacher.eval::<()>(
            "const t = document.querySelector('[data-testid=board-text-input]');\
             t.value += '做得好'; t.dispatchEvent(new Event('input', { bubbles: true }));",
            vec![],
        )?;
        keep(s, &teacher, "board-typing-en")?;
        teacher.press(&Key::Enter.to_string())?;
        teacher.wait_until(WAIT, "the text on the board", || {
            Ok((board_items(&teacher)? == "6").then_some(()))
        })?;
        ensure!(
            teacher
                .wait_for_testid("board-text-input", Duration::from_millis(200))
                .is_err(),
            "the text field closes once the text is on the board"
        );
        // Enter gave the board the keys again (a click would start more text).
        teacher.press("s")?;
        teacher.type_into_testid("board-score-value", "9/10")?;
        draw_stroke(&teacher, &[(1150.0, 620.0, 0.5)], 7)?;
        // Both chosen with Move by a rectangle dragged over empty page around them, dragged
        // up together by one change; erased together with Delete; back with one undo.
        teacher.press("v")?;
        board_pen(&teacher, "pointerdown", 980.0, 290.0, 0.5)?;
        board_pen(&teacher, "pointermove", 1300.0, 500.0, 0.5)?;
        board_pen(&teacher, "pointerup", 1490.0, 665.0, 0.5)?;
        let chosen = || -> Result<String> {
            teacher.eval(
                "return document.querySelector('[data-testid=board-canvas]').dataset.selected;",
                vec![],
            )
        };
        ensure!(
            chosen()? == "2",
            "the text and the score chosen: {}",
            chosen()?
        );
        teacher.wait_for_testid("board-selection", WAIT)?;
        let (score_was, score_now) = (
            [1090.0, 590.0, 1210.0, 640.0],
            [1090.0, 530.0, 1210.0, 580.0],
        );
        // Painted at the next frame (or within 250 ms when the window gets no frames).
        teacher.wait_until(WAIT, "the score where it was stamped", || {
            Ok((red_in(&canvas_pixels(&teacher)?, score_was) > 30).then_some(()))
        })?;
        board_pen(&teacher, "pointerdown", 1150.0, 615.0, 0.5)?;
        board_pen(&teacher, "pointermove", 1150.0, 590.0, 0.5)?;
        board_pen(&teacher, "pointerup", 1150.0, 555.0, 0.5)?;
        teacher.wait_until(WAIT, "the score and the text moved up together", || {
            let canvas = canvas_pixels(&teacher)?;
            Ok((red_in(&canvas, score_now) > 30 && red_in(&canvas, score_was) == 0).then_some(()))
        })?;
        keep(s, &teacher, "board-chosen-en")?;
        teacher.press(&Key::Delete.to_string())?;
        teacher.wait_until(WAIT, "both erased", || {
            Ok((board_items(&teacher)? == "5").then_some(()))
        })?;
        teacher.click_testid("board-undo")?;
        teacher.wait_until(WAIT, "both back with one undo", || {
            Ok((board_items(&teacher)? == "7").then_some(()))
        })?;
        teacher.wait_until(WAIT, "the score back where it was moved", || {
            Ok((red_in(&canvas_pixels(&teacher)?, score_now) > 30).then_some(()))
        })?;
        // A highlighter across both.
        teacher.click_selector("[data-testid=whiteboard] button[aria-label=Green]")?;
        teacher.click_selector("[data-testid=whiteboard] .tools button:nth-child(2)")?;
        draw_stroke(
            &teacher,
            &[
                (150.0, 480.0, 0.5),
                (800.0, 500.0, 0.5),
                (1450.0, 470.0, 0.5),
            ],
            8,
        )?;
        keep(s, &teacher, "board-drawn-en")?;
        let canvas = canvas_pixels(&teacher)?;
        ensure!(
            canvas.width() > 400 && (canvas.width() * 9).abs_diff(canvas.height() * 16) <= 16,
            "the canvas is {}x{}",
            canvas.width(),
            canvas.height()
        );

        // Saved as PNG: Rust's drawing of the same page at 2560x1440.
        teacher.click_testid("board-save-png")?;
        teacher.wait_for_testid("board-saved", WAIT)?;
        let path = flows::data_of_testid(&teacher, "board-saved", "path")?
            .context("where the PNG went")?;
        ensure!(path.ends_with("Whiteboard.png"), "saved as {path}");
        let png = image::open(&path)
            .with_context(|| format!("reading {path}"))?
            .to_rgba8();
        ensure!(png.dimensions() == (2560, 1440), "{:?}", png.dimensions());
        let (canvas_small, png_small) = (small(&canvas), small(&png));
        // Both kept, to look at when they differ.
        let artifacts =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/artifacts");
        let _ = std::fs::create_dir_all(&artifacts);
        let _ = canvas.save(artifacts.join("board-compare-canvas.png"));
        let _ = image::imageops::resize(
            &png,
            canvas.width(),
            canvas.height(),
            image::imageops::FilterType::Triangle,
        )
        .save(artifacts.join("board-compare-saved.png"));
        let (mean, far) = difference(&canvas_small, &png_small);
        // There is ink to compare: the page differs from blank paper.
        let paper = image::RgbaImage::from_pixel(480, 270, image::Rgba([0xfd, 0xfc, 0xf7, 255]));
        let (ink_mean, ink_far) = difference(&png_small, &paper);
        println!(
            "canvas {}x{} vs PNG: mean {mean:.2}, far {:.3}%; PNG vs paper: mean {ink_mean:.2}, far {:.2}%",
            canvas.width(),
            canvas.height(),
            far * 100.0,
            ink_far * 100.0
        );
        ensure!(ink_far > 0.03, "the board has ink: {ink_far}");
        // Against how much ink there is: anti-aliased edges differ (thin lines are mostly
        // edge at this size: measured 2-4 % of the ink's pixels far apart, a mean of 15 % of
        // the ink's); a missing or misplaced item differs by its whole share of the ink.
        let same = |mean: f64, far: f64| mean < ink_mean * 0.25 && far < ink_far * 0.06;
        ensure!(
            same(mean, far),
            "the saved PNG differs from the canvas: mean {mean:.2}, {:.3}% far apart",
            far * 100.0
        );

        // Saved as PDF: one page, the same ink.
        teacher.click_testid("board-save-pdf")?;
        teacher.wait_until(WAIT, "the PDF saved", || {
            let path = flows::data_of_testid(&teacher, "board-saved", "path")?;
            Ok(path.filter(|p| p.ends_with("Whiteboard.pdf")))
        })?;
        let path = flows::data_of_testid(&teacher, "board-saved", "path")?
            .context("where the PDF went")?;
        let pdf = std::fs::read(&path)?;
        let limits = ::homework::PdfLimits {
            page_width_px: 2560,
            ..::homework::PdfLimits::default()
        };
        ensure!(::homework::check_pdf(&pdf, &limits)?.pages == 1, "one page");
        let drawn = ::homework::render_pdf_sheet(&pdf, &limits)?;
        let (mean, far) = difference(&small(&drawn), &png_small);
        ensure!(
            mean < 1.0 && far < 0.001,
            "the PDF differs from the PNG: mean {mean:.2}, {:.3}% far apart",
            far * 100.0
        );
        keep(s, &teacher, "board-saved-en")?;

        // Undo takes the highlighter back: the canvas draws again only the area it covered,
        // and still shows what Rust draws of the page.
        teacher.click_testid("board-undo")?;
        teacher.wait_until(WAIT, "the highlighter taken back", || {
            Ok((board_items(&teacher)? == "7").then_some(()))
        })?;
        std::thread::sleep(Duration::from_millis(300));
        let canvas = canvas_pixels(&teacher)?;
        teacher.click_testid("board-save-png")?;
        teacher.wait_until(WAIT, "the PNG saved again", || {
            let path = flows::data_of_testid(&teacher, "board-saved", "path")?;
            Ok(path.filter(|p| p.ends_with("Whiteboard (2).png")))
        })?;
        let path = flows::data_of_testid(&teacher, "board-saved", "path")?
            .context("where the PNG went")?;
        let again = small(&image::open(&path)?.to_rgba8());
        let (mean, far) = difference(&small(&canvas), &again);
        println!(
            "after undo: canvas vs PNG: mean {mean:.2}, far {:.3}%",
            far * 100.0
        );
        ensure!(
            same(mean, far),
            "after undo the canvas differs from the page: mean {mean:.2}, {:.3}% far apart",
            far * 100.0
        );
        let (moved, _) = difference(&again, &png_small);
        ensure!(
            moved > 0.2,
            "the highlighter is gone from the saved page: {moved}"
        );
        keep(s, &teacher, "board-undone-en")?;
        Ok(())
    });
}
