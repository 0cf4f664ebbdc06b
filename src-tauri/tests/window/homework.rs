//! The homework loop in real windows: the teacher sets homework, a student hands in a phone
//! photo taken sideways (EXIF orientation 6), the teacher marks it up with the pen and a tick
//! and returns it with a mark and a comment, and the student sees the marked copy, upright,
//! with the teacher's red ink where it was drawn, also after the class has ended.

use super::*;

/// A pale JPEG of `width` x `height` whose EXIF says "turn 90° clockwise to view", as a
/// phone held upright writes it.
fn sideways_photo(width: u32, height: u32) -> Vec<u8> {
    let picture = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([235 - (x % 16) as u8, 235 - (y % 16) as u8, 230])
    });
    let mut jpeg = Vec::new();
    picture
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .expect("encode the photo");
    // APP1 "Exif": a big-endian TIFF header and one IFD entry, Orientation (0x0112) = 6.
    let mut app1 = vec![0xFF, 0xE1, 0x00, 34];
    app1.extend_from_slice(b"Exif\0\0MM\0\x2A\0\0\0\x08");
    app1.extend_from_slice(&[0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0]);
    assert_eq!(app1.len(), 36);
    jpeg.splice(2..2, app1);
    jpeg
}

/// Dispatches a pointer event on the marking canvas at a fraction of its width and height.
fn mark_pointer(window: &Window, kind: &str, fx: f64, fy: f64) -> Result<()> {
    window.eval::<()>(
        "const c = document.querySelector('[data-testid=marking-canvas]');\
         const r = c.getBoundingClientRect();\
         c.dispatchEvent(new PointerEvent(arguments[0], {\
           clientX: r.left + arguments[1] * r.width, clientY: r.top + arguments[2] * r.height,\
           pointerId: 9, pointerType: 'mouse', button: 0, buttons: 1, pressure: 0.5,\
           bubbles: true, cancelable: true }));",
        vec![json!(kind), json!(fx), json!(fy)],
    )
}

/// The marked copy the student sees: its size, and whether it is red around a fraction of its
/// width and height (the teacher's pen) and pale at another (the photo, unmarked).
fn marked_copy(
    window: &Window,
    ink: (f64, f64),
    plain: (f64, f64),
) -> Result<(u32, u32, bool, bool)> {
    window.wait_until(WAIT, "the marked copy shown", || {
        window.eval::<Option<(u32, u32, bool, bool)>>(
            "const img = document.querySelector('[data-testid=homework-marked-image]');\
             if (img === null || !img.complete || img.naturalWidth === 0) return null;\
             const c = document.createElement('canvas');\
             c.width = img.naturalWidth; c.height = img.naturalHeight;\
             const g = c.getContext('2d'); g.drawImage(img, 0, 0);\
             const red = (fx, fy) => {\
               const d = g.getImageData(Math.round(fx * c.width) - 4, Math.round(fy * c.height) - 4, 9, 9).data;\
               for (let i = 0; i < d.length; i += 4) if (d[i] > 150 && d[i + 1] < 90 && d[i + 2] < 90) return true;\
               return false;\
             };\
             return [c.width, c.height, red(arguments[0], arguments[1]), red(arguments[2], arguments[3])];",
            vec![json!(ink.0), json!(ink.1), json!(plain.0), json!(plain.1)],
        )
    })
}

/// How many pixels of the marked copy the student sees are red within fractions
/// `[left, top, right, bottom]` of its width and height.
fn red_pixels_in(window: &Window, area: [f64; 4]) -> Result<u64> {
    window.eval(
        "const img = document.querySelector('[data-testid=homework-marked-image]');\
         const c = document.createElement('canvas');\
         c.width = img.naturalWidth; c.height = img.naturalHeight;\
         const g = c.getContext('2d'); g.drawImage(img, 0, 0);\
         const [l, t, r, b] = arguments[0];\
         const x = Math.round(l * c.width), y = Math.round(t * c.height);\
         const d = g.getImageData(x, y, Math.round(r * c.width) - x, Math.round(b * c.height) - y).data;\
         let n = 0;\
         for (let i = 0; i < d.length; i += 4) if (d[i] > 150 && d[i + 1] < 90 && d[i + 2] < 90) n += 1;\
         return n;",
        vec![json!(area)],
    )
}

#[test]
fn a_handed_in_photo_comes_back_marked() {
    Scenario::run("homework", app(), |s| {
        let teacher = s.launch(AppOptions::new("teacher"))?;
        let student = s.launch(AppOptions::new("student").language("zh-CN"))?;
        let invite = flows::host_class(&teacher, "Ms. Rivera", "physics-7b")?;
        flows::join_class(&student, "Ada", &invite)?;

        // The teacher sets homework.
        flows::set_homework(&teacher, "Friction worksheet")?;

        // The student gets it and hands in a photo taken sideways.
        student.click_testid("open-homework")?;
        student.wait_for_testid("homework-dialog", WAIT)?;
        student.wait_for_text("Friction worksheet", WAIT)?;
        let photo = sideways_photo(1200, 900);
        flows::pick_file(
            &student,
            "hand-in-input",
            &photo,
            "worksheet.jpeg",
            "image/jpeg",
        )?;
        student.wait_for_text("worksheet.jpeg 已提交。", WAIT)?;
        // Kept under its new name (re-encoded), and sent.
        student.wait_for_text("已发送给老师", WAIT)?;
        keep(s, &student, "homework-handed-in-zh")?;
        // The camera, in her language: a photo taken, then put away without handing it in
        // (the camera stops with the panel).
        // Nothing lies over the button (the file input beside it once did, invisibly).
        flows::scroll_to(&student, "hand-in-camera")?;
        let on_top: bool = student.eval(
            "const b = document.querySelector('[data-testid=hand-in-camera]');\
             const r = b.getBoundingClientRect();\
             return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === b;",
            vec![],
        )?;
        ensure!(on_top, "the camera button is what a click there reaches");
        student.click_testid("hand-in-camera")?;
        flows::wait_for_moving_video(&student, "[data-testid=homework-camera] canvas", WAIT)?;
        student.click_testid("camera-take")?;
        student.wait_for_testid("camera-photos", WAIT)?;
        let hand_in: String = student.text_of_testid("camera-hand-in")?;
        ensure!(hand_in == "提交 1 张照片", "the button reads {hand_in:?}");
        keep(s, &student, "homework-camera-zh")?;
        student.click_testid("camera-close")?;
        student.wait_until(WAIT, "the camera put away", || {
            Ok(student
                .wait_for_testid("homework-camera", Duration::from_millis(100))
                .is_err()
                .then_some(()))
        })?;

        // The teacher sees it and marks it: a pen stroke across the top and a tick.
        teacher.click_testid("homework-refresh")?;
        teacher.wait_for_text("worksheet.jpg", WAIT)?;
        teacher.wait_for_text("Not marked", WAIT)?;
        // Named as the class knows her, not by her token's identity.
        let who: String = teacher.eval(
            "return document.querySelector('tr[data-testid^=hand-in-] td').innerText;",
            vec![],
        )?;
        ensure!(who == "Ada", "the hand-in is Ada's: {who}");
        keep(s, &teacher, "homework-hand-ins-en")?;
        flows::scroll_to(&teacher, "hand-in-mark")?;
        teacher.click_testid("hand-in-mark")?;
        teacher.wait_for_testid("marking-canvas", WAIT)?;
        let (w, h): (u32, u32) =
            teacher.wait_until(WAIT, "the photo in the marking canvas", || {
                teacher.eval::<Option<(u32, u32)>>(
                    "const c = document.querySelector('[data-testid=marking-canvas]');\
                 return c && c.width !== 1000 ? [c.width, c.height] : null;",
                    vec![],
                )
            })?;
        ensure!((w, h) == (900, 1200), "the photo is upright: {w}x{h}");
        mark_pointer(&teacher, "pointerdown", 0.2, 0.2)?;
        for i in 1..=24 {
            mark_pointer(&teacher, "pointermove", 0.2 + f64::from(i) * 0.025, 0.2)?;
        }
        mark_pointer(&teacher, "pointerup", 0.8, 0.2)?;
        teacher.click_testid("mark-tool-tick")?;
        mark_pointer(&teacher, "pointerdown", 0.5, 0.6)?;
        let marks: String = teacher.eval(
            "return document.querySelector('[data-testid=marking-canvas]').dataset.marks;",
            vec![],
        )?;
        ensure!(marks == "2", "two marks made: {marks}");
        // Zoomed in to read the working (+ twice, about the box's middle): the photo is drawn
        // 1.5625 times as large in a box that scrolls, its middle still in the box's middle;
        // 100 % shows it whole again.
        let fit_width: f64 = teacher.eval(
            "return document.querySelector('[data-testid=marking-canvas]').getBoundingClientRect().width;",
            vec![],
        )?;
        teacher.click_testid("mark-zoom-in")?;
        teacher.click_testid("mark-zoom-in")?;
        teacher.wait_until(WAIT, "the photo zoomed in about its middle", || {
            teacher.eval::<Option<bool>>(
                "const c = document.querySelector('[data-testid=marking-canvas]');\
                 const box = document.querySelector('[data-testid=marking-sheet]');\
                 const r = c.getBoundingClientRect(), b = box.getBoundingClientRect();\
                 const off = [r.left + r.width / 2 - (b.left + b.width / 2),\
                              r.top + r.height / 2 - (b.top + b.height / 2)];\
                 const ok = c.dataset.zoom === '1.5625'\
                   && Math.abs(r.width - arguments[0] * 1.5625) < 2\
                   && box.scrollHeight > box.clientHeight + 10\
                   && Math.abs(off[0]) < b.width * 0.05 && Math.abs(off[1]) < b.height * 0.05;\
                 return ok ? true : null;",
                vec![json!(fit_width)],
            )
        })?;
        keep(s, &teacher, "homework-marking-zoomed-en")?;
        teacher.click_testid("mark-zoom-fit")?;
        flows::scroll_to(&teacher, "mark-score")?;
        teacher.type_into_testid("mark-score", "9/10")?;
        teacher.type_into_testid("mark-comment", "Clear working. Check the units.")?;
        // The mark stamped on the work (the score tool takes it from the field), and a
        // comment typed where it applies.
        flows::scroll_to(&teacher, "marking-canvas")?;
        let stamp: String = teacher.text_of_testid("mark-tool-score")?;
        ensure!(
            stamp.contains("9/10"),
            "the score tool stamps the mark: {stamp:?}"
        );
        teacher.click_testid("mark-tool-score")?;
        mark_pointer(&teacher, "pointerdown", 0.5, 0.7)?;
        teacher.click_testid("mark-tool-text")?;
        mark_pointer(&teacher, "pointerdown", 0.12, 0.45)?;
        teacher.wait_until(WAIT, "the comment field focused on the photo", || {
            Ok(teacher
                .eval::<Option<String>>(
                    "return document.activeElement?.dataset?.testid ?? null;",
                    vec![],
                )?
                .filter(|id| id == "mark-text-input"))
        })?;
        teacher.press("Units?")?;
        teacher.press(&Key::Enter.to_string())?;
        teacher.wait_until(WAIT, "four marks made", || {
            let marks: String = teacher.eval(
                "return document.querySelector('[data-testid=marking-canvas]').dataset.marks;",
                vec![],
            )?;
            Ok((marks == "4").then_some(()))
        })?;
        keep(s, &teacher, "homework-marking-en")?;
        flows::scroll_to(&teacher, "mark-return")?;
        teacher.click_testid("mark-return")?;
        teacher.wait_for_text("Returned to Ada.", WAIT)?;
        teacher.wait_for_text("Marked 9/10", WAIT)?;

        // The student sees the mark and the comment, and the marked copy.
        student.click_testid("homework-refresh")?;
        student.wait_for_text("已批改", WAIT)?;
        student.wait_for_text("成绩：9/10", WAIT)?;
        student.wait_for_text("Check the units.", WAIT)?;
        keep(s, &student, "homework-returned-zh")?;

        // With the class over and its server gone, it still opens from this computer.
        teacher.click_testid("homework-close")?;
        flows::end_class(&teacher)?;
        flows::scroll_to(&student, "own-open-marked")?;
        student.click_testid("own-open-marked")?;
        let (mw, mh, inked, plain_red) = marked_copy(&student, (0.5, 0.2), (0.5, 0.9))?;
        ensure!(
            (mw, mh) == (900, 1200),
            "the marked copy is upright: {mw}x{mh}"
        );
        ensure!(
            inked,
            "the teacher's red ink is on the marked copy where it was drawn"
        );
        ensure!(!plain_red, "and nowhere else");
        // The score and the typed comment, drawn by Rust where they were put.
        let score = red_pixels_in(&student, [0.42, 0.66, 0.58, 0.72])?;
        let comment = red_pixels_in(&student, [0.12, 0.44, 0.3, 0.48])?;
        let above = red_pixels_in(&student, [0.12, 0.36, 0.6, 0.42])?;
        ensure!(
            score > 100 && comment > 60 && above == 0,
            "red pixels: score {score}, comment {comment}, above them {above}"
        );
        keep(s, &student, "homework-marked-copy-zh")?;
        Ok(())
    });
}

/// A two-page PDF handed in is drawn in Rust, page under page, for the teacher to mark; the
/// ink on page 2 comes back on page 2.
#[test]
fn a_handed_in_pdf_comes_back_marked_on_its_page() {
    Scenario::run("homework-pdf", app(), |s| {
        // The teacher marks in Chinese (the photo's test marks in English).
        let teacher = s.launch(AppOptions::new("teacher").language("zh-CN"))?;
        let student = s.launch(AppOptions::new("student"))?;
        let invite = flows::host_class(&teacher, "Ms. Rivera", "maths-5a")?;
        flows::join_class(&student, "Ada", &invite)?;
        flows::set_homework(&teacher, "Fractions")?;

        student.click_testid("open-homework")?;
        student.wait_for_testid("homework-dialog", WAIT)?;
        student.wait_for_text("Fractions", WAIT)?;
        let pdf = include_bytes!("../fixtures/worksheet.pdf").to_vec();
        flows::pick_file(
            &student,
            "hand-in-input",
            &pdf,
            "fractions.pdf",
            "application/pdf",
        )?;
        student.wait_for_text("fractions.pdf is handed in.", WAIT)?;
        student.wait_for_text("Sent to the teacher", WAIT)?;

        teacher.click_testid("homework-refresh")?;
        teacher.wait_for_text("fractions.pdf", WAIT)?;
        flows::scroll_to(&teacher, "hand-in-mark")?;
        teacher.click_testid("hand-in-mark")?;
        teacher.wait_for_testid("marking-canvas", WAIT)?;
        // Both A4 pages, 1000 px across, 16 px apart.
        let (w, h): (u32, u32) = teacher.wait_until(WAIT, "the PDF's pages drawn", || {
            teacher.eval::<Option<(u32, u32)>>(
                "const c = document.querySelector('[data-testid=marking-canvas]');\
                 return c && c.height > 2000 ? [c.width, c.height] : null;",
                vec![],
            )
        })?;
        ensure!(
            w == 1000 && h.abs_diff(2 * 1415 + 16) <= 2,
            "two pages: {w}x{h}"
        );
        let scrolls: bool = teacher.eval(
            "const s = document.querySelector('[data-testid=marking-sheet]');\
             return s.classList.contains('tall') && s.scrollHeight > s.clientHeight;",
            vec![],
        )?;
        ensure!(scrolls, "the pages are read by scrolling");
        teacher.wait_for_text("正在批改 Ada 的 fractions.pdf", WAIT)?;
        keep(s, &teacher, "homework-pdf-marking-zh")?;
        // A stroke across page 2, three quarters of the way down the sheet.
        mark_pointer(&teacher, "pointerdown", 0.2, 0.75)?;
        for i in 1..=24 {
            mark_pointer(&teacher, "pointermove", 0.2 + f64::from(i) * 0.025, 0.75)?;
        }
        mark_pointer(&teacher, "pointerup", 0.8, 0.75)?;
        flows::scroll_to(&teacher, "mark-score")?;
        teacher.type_into_testid("mark-score", "7/10")?;
        flows::scroll_to(&teacher, "mark-return")?;
        teacher.click_testid("mark-return")?;
        teacher.wait_for_text("已退回给 Ada。", WAIT)?;

        student.click_testid("homework-refresh")?;
        student.wait_for_text("Mark: 7/10", WAIT)?;
        flows::scroll_to(&student, "own-open-marked")?;
        student.click_testid("own-open-marked")?;
        let (mw, mh, inked, plain_red) = marked_copy(&student, (0.5, 0.75), (0.5, 0.3))?;
        ensure!(
            (mw, mh) == (w, h),
            "the marked copy is the sheet: {mw}x{mh}"
        );
        ensure!(inked, "the red ink is on page 2 where it was drawn");
        ensure!(!plain_red, "and not on page 1");
        keep(s, &student, "homework-pdf-marked-en")?;

        // Ada saves her marked copy: the PDF itself, its two pages kept, the ink on page 2.
        student.click_testid("homework-save-copy")?;
        student.wait_for_testid("homework-saved", WAIT)?;
        let path = flows::data_of_testid(&student, "homework-saved", "path")?
            .context("where the copy was saved")?;
        ensure!(path.ends_with("fractions (marked).pdf"), "saved as {path}");
        let saved = std::fs::read(&path).with_context(|| format!("reading {path}"))?;
        let limits = ::homework::PdfLimits::default();
        let info = ::homework::check_pdf(&saved, &limits).context("the saved PDF opens")?;
        ensure!(info.pages == 2, "{} pages", info.pages);
        let sheet = ::homework::render_pdf_sheet(&saved, &limits)?;
        let red = |fx: f64, fy: f64| {
            let (x, y) = (
                (fx * f64::from(sheet.width())) as u32,
                (fy * f64::from(sheet.height())) as u32,
            );
            (y.saturating_sub(6)..y + 6).any(|y| {
                let p = sheet.get_pixel(x, y.min(sheet.height() - 1));
                p[0] > 150 && p[1] < 90 && p[2] < 90
            })
        };
        ensure!(red(0.5, 0.75), "the saved PDF has the ink on page 2");
        ensure!(!red(0.5, 0.3), "and not on page 1");
        keep(s, &student, "homework-pdf-saved-en")?;

        // Two photos chosen together are one piece of work: one hand-in, a page each.
        student.click_testid("homework-back")?;
        let (first, second) = (sideways_photo(900, 1200), sideways_photo(1200, 900));
        flows::pick_files(
            &student,
            "hand-in-input",
            &[
                (&first, "page1.jpeg", "image/jpeg"),
                (&second, "page2.jpeg", "image/jpeg"),
            ],
        )?;
        student.wait_for_text("page1 (2 photos).pdf is handed in.", WAIT)?;
        teacher.click_testid("homework-refresh")?;
        teacher.wait_for_text("page1 (2 photos).pdf", WAIT)?;
        keep(s, &teacher, "homework-photos-handed-in-en")?;
        // Opened for marking as any PDF: the two photos upright, one under the other, 1000
        // px across (the first 4:3 landscape, the second 3:4 portrait).
        teacher.eval::<()>(
            "[...document.querySelectorAll('tr[data-testid^=hand-in-]')]\
               .find((r) => r.innerText.includes('(2 photos)'))\
               .querySelector('[data-testid=hand-in-mark]').click();",
            vec![],
        )?;
        let (w, h): (u32, u32) = teacher.wait_until(WAIT, "the photos drawn", || {
            teacher.eval::<Option<(u32, u32)>>(
                "const c = document.querySelector('[data-testid=marking-canvas]');\
                 return c && c.height > 1500 ? [c.width, c.height] : null;",
                vec![],
            )
        })?;
        ensure!(
            w == 1000 && h.abs_diff(750 + 16 + 1333) <= 3,
            "two photos, upright: {w}x{h}"
        );

        // Ada photographs two pages with the camera (the test picture here: no camera) and
        // hands them in as one piece of work.
        student.click_testid("hand-in-camera")?;
        student.wait_for_testid("homework-camera", WAIT)?;
        flows::wait_for_moving_video(&student, "[data-testid=homework-camera] canvas", WAIT)?;
        for n in 1..=2 {
            student.click_testid("camera-take")?;
            student.wait_until(WAIT, "the photo taken", || {
                let taken: usize = student.eval(
                    "return document.querySelectorAll('[data-testid=camera-photos] img').length;",
                    vec![],
                )?;
                Ok((taken == n).then_some(()))
            })?;
        }
        keep(s, &student, "homework-camera-en")?;
        student.click_testid("camera-hand-in")?;
        student.wait_for_text("Photo 1 (2 photos).pdf is handed in.", WAIT)?;
        teacher.click_testid("mark-cancel")?;
        teacher.click_testid("homework-refresh")?;
        teacher.wait_for_text("Photo 1 (2 photos).pdf", WAIT)?;
        Ok(())
    });
}
