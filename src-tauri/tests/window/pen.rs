//! A graphics tablet's pen on the whiteboard, through a real X server's pen device (X's
//! `inputtest` driver): WebKitGTK gives the page the pen as a mouse at a fixed pressure of
//! 0.5, and the app reads the pen's pressure from GTK (`src-tauri/src/pen.rs`), so a stroke
//! pressed harder along its way is drawn wider; the pen's eraser end erases.

use super::board::{board_items, open_whiteboard};
use super::*;
use classroom_tests::window::Pen;

/// The ink (summed coverage, in device pixels) across the stroke at page units `x`: the
/// whiteboard's canvas read in a column 40 device pixels either side of page height `y`.
fn ink_across(window: &Window, x: f64, y: f64) -> Result<f64> {
    window.eval(
        "const c = document.querySelector('[data-testid=board-canvas]');\
         const s = c.width / 1600;\
         const px = Math.round(arguments[0] * s), py = Math.round(arguments[1] * s);\
         const d = c.getContext('2d').getImageData(px, py - 40, 1, 81).data;\
         let ink = 0;\
         for (let i = 0; i < d.length; i += 4) {\
           if (d[i + 2] > 100 && d[i] < 200) ink += Math.min(1, (255 - d[i]) / (255 - 28));\
         }\
         return ink;",
        vec![json!(x), json!(y)],
    )
}

/// Where page units `(x, y)` of the whiteboard are on the screen, given `offset` (screen
/// minus page coordinates, from a pointer event the page saw).
fn on_screen(window: &Window, offset: (f64, f64), x: f64, y: f64) -> Result<(f64, f64)> {
    let at: Vec<f64> = window.eval(
        "const r = document.querySelector('[data-testid=board-canvas]').getBoundingClientRect();\
         return [r.left + arguments[0] / 1600 * r.width, r.top + arguments[1] / 900 * r.height];",
        vec![json!(x), json!(y)],
    )?;
    Ok((at[0] + offset.0, at[1] + offset.1))
}

/// What the page's pointer events said: kind, pointer type, pressure, and screen minus client
/// coordinates.
type Seen = Vec<(String, String, f64, f64, f64)>;

/// The teacher's window in a class with the whiteboard open, its widest pen chosen (widths
/// then differ by whole device pixels), and the page's pointer events noted (`window.seen`:
/// what the webview says of the device, and where the page is on the screen).
fn teacher_at_the_board(s: &mut Scenario) -> Result<Window> {
    let teacher = s.launch(AppOptions::new("teacher"))?;
    flows::host_class(&teacher, "Ms. Rivera", "art-2")?;
    open_whiteboard(&teacher)?;
    teacher.eval::<()>(
        "const w = document.querySelector('[data-testid=whiteboard] .width input');\
         w.value = '16'; w.dispatchEvent(new Event('input', { bubbles: true }));\
         window.seen = [];\
         for (const kind of ['pointermove', 'pointerdown', 'pointerup']) {\
           document.addEventListener(kind, (e) => window.seen.push(\
             [kind, e.pointerType, e.pressure, e.screenX - e.clientX, e.screenY - e.clientY]));\
         }",
        vec![],
    )?;
    Ok(teacher)
}

/// Moves `device` over the middle of the screen, hovering, and returns where the page is on
/// the screen (screen minus client coordinates, from the page's last pointer move).
fn hover(device: &mut Pen, window: &Window, what: &str) -> Result<(f64, f64)> {
    let (width, height) = device.screen();
    let (x, y) = (f64::from(width) / 2.0, f64::from(height) / 2.0);
    device.move_to(x, y, 0.0)?;
    device.move_to(x + 5.0, y, 0.0)?;
    device.sync()?;
    window.wait_until(WAIT, what, || {
        let seen: Seen = window.eval("return window.seen;", vec![])?;
        Ok(seen
            .iter()
            .rev()
            .find(|e| e.0 == "pointermove")
            .map(|e| (e.3, e.4)))
    })
}

/// The arch the tests write, on the screen (`offset` as [`on_screen`] takes it): 61 points from
/// page point (200, 450) up to (800, 250) and down to (1400, 450).
fn arch(window: &Window, offset: (f64, f64)) -> Result<Vec<(f64, f64)>> {
    (0..=60)
        .map(|i| {
            let f = f64::from(i) / 60.0;
            let (x, y) = (
                200.0 + 1200.0 * f,
                450.0 - 200.0 * (std::f64::consts::PI * f).sin(),
            );
            on_screen(window, offset, x, y)
        })
        .collect()
}

/// Puts `device`'s tip (a mouse's button) down at `path`'s first point and moves it through
/// the rest, a point every 12 ms or so at `pressure(i)`; leaves it down.
fn draw(device: &mut Pen, path: &[(f64, f64)], pressure: impl Fn(usize) -> f64) -> Result<()> {
    let (x0, y0) = path[0];
    device.move_to(x0, y0, 0.0)?;
    for (i, (x, y)) in path.iter().copied().enumerate() {
        if i == 0 {
            device.tip(true, x, y, pressure(i))?;
        } else {
            device.move_to(x, y, pressure(i))?;
        }
        device.sync()?;
        std::thread::sleep(Duration::from_millis(12));
    }
    Ok(())
}

/// Waits until the board's stroke being drawn has more than 40 samples (`what` for the error).
fn wait_live(window: &Window, what: &str) -> Result<()> {
    window.wait_until(WAIT, what, || {
        let live: String = window.eval(
            "return document.querySelector('[data-testid=board-canvas]').dataset.liveSamples;",
            vec![],
        )?;
        Ok((live.parse::<u32>().unwrap_or(0) > 40).then_some(()))
    })
}

/// Waits for `whose` stroke on the board, and checks that the webview's own events of the
/// touch (late or not) add nothing: still one stroke a moment later.
fn one_stroke(window: &Window, whose: &str) -> Result<()> {
    window.wait_until(WAIT, &format!("{whose} stroke on the board"), || {
        Ok((board_items(window)? == "1").then_some(()))
    })?;
    std::thread::sleep(Duration::from_millis(800));
    let items = board_items(window)?;
    ensure!(
        items == "1",
        "{items} items on the board after {whose} one stroke"
    );
    Ok(())
}

/// The teacher writes an arch with a pen pressed lightly at first and hard at the end: the
/// stroke is on the board before the pen is lifted and shows the arch (every sample, though
/// WebKit gives the page the press and moves only at the lift, merged into one move), thin
/// where it began and wide where it ended (with the webview's fixed 0.5 it would be as wide
/// at both ends). Then the pen's eraser end, rubbed across the arch with the pen still the
/// tool chosen, erases it.
#[test]
fn a_pens_pressure_reaches_the_whiteboard() {
    Scenario::run_with_pen("pen", app(), |s| {
        let teacher = teacher_at_the_board(s)?;
        let pen = s.pen()?;
        let offset = hover(pen, &teacher, "the pen hovering over the page")?;

        // The arch, pressing from 0.1 to 0.9 along it.
        let path = arch(&teacher, offset)?;
        let last = path.len() - 1;
        draw(s.pen()?, &path, |i| 0.1 + 0.8 * i as f64 / last as f64)?;
        // Before the lift the stroke is on the board already (sent while drawn), though the
        // page has had no pointer event of the touch yet.
        wait_live(&teacher, "the pen's stroke on the board before the lift")?;
        let before_lift: Seen = teacher.eval("return window.seen;", vec![])?;
        eprintln!(
            "pointer events of the touch the page had before the lift: {}",
            before_lift.iter().filter(|e| e.0 == "pointerdown").count()
        );
        let pen = s.pen()?;
        let (x1, y1) = path[last];
        pen.tip(false, x1, y1, 0.0)?;
        pen.move_to(x1 + 20.0, y1 + 20.0, 0.0)?;
        pen.sync()?;
        one_stroke(&teacher, "the pen's")?;
        keep(s, &teacher, "board-pen")?;
        let seen: Seen = teacher.eval("return window.seen;", vec![])?;
        let down = seen.iter().find(|e| e.0 == "pointerdown");
        let moves = seen.iter().filter(|e| e.0 == "pointermove").count();
        eprintln!("the webview's pointerdown from the pen: {down:?}; pointermoves: {moves}");
        // The arch's top: a stroke from the merged events alone would be a straight line.
        let top = ink_across(&teacher, 800.0, 250.0)?;
        // Where the arch is at x 400 and 1200 (a sixth from each end): y 350.
        let light = ink_across(&teacher, 400.0, 350.0)?;
        let hard = ink_across(&teacher, 1200.0, 350.0)?;
        eprintln!(
            "ink across the stroke: {light:.1} px where light, {hard:.1} px where hard, \
             {top:.1} px at the top"
        );
        ensure!(
            top > 1.0,
            "the board has no ink at the arch's top ({top:.1})"
        );
        ensure!(light > 1.0, "no ink where the stroke began ({light:.1})");
        ensure!(
            hard > light * 1.4,
            "the stroke is not wider where the pen pressed harder: {light:.1} px at the light \
             end, {hard:.1} px at the hard end (the webview's pointerdown: {down:?})"
        );

        // The pen's other end rubbed down across the arch's top, the pen still the tool
        // chosen: the stroke goes while the eraser still touches, and the eraser draws nothing.
        let rub = (0..=20)
            .map(|i| on_screen(&teacher, offset, 800.0, 150.0 + 10.0 * f64::from(i)))
            .collect::<Result<Vec<_>>>()?;
        draw(s.eraser()?, &rub, |_| 0.5)?;
        let to = rub[rub.len() - 1];
        teacher.wait_until(
            WAIT,
            "the stroke erased before the eraser is lifted",
            || Ok((board_items(&teacher)? == "0").then_some(())),
        )?;
        let eraser = s.eraser()?;
        eraser.tip(false, to.0, to.1, 0.0)?;
        eraser.move_to(to.0 + 20.0, to.1, 0.0)?;
        eraser.sync()?;
        std::thread::sleep(Duration::from_millis(800));
        let items = board_items(&teacher)?;
        ensure!(
            items == "0",
            "{items} items on the board after the eraser's touch"
        );
        Ok(())
    });
}

/// A mouse writes the same arch on the board in a class, through the X server (not
/// WebDriver, which hands the page made-up events), while every core is kept busy, as on a
/// laptop doing other work: the stroke is on the board before the button is let go, keeps
/// its shape (ink at the arch's top), is one stroke, and is as wide at both ends (a mouse has
/// no pressure, and is not taken for the pen). Without the app reading the mouse too
/// (`src-tauri/src/pen.rs`), WebKit held the press in some runs (1 of 3 here; the first press
/// in a class, 1 s on an idle machine, 3 s on a loaded one) and then gave the page the stroke
/// as one move, a straight line, the page's main thread idle all the while; with it, every
/// run drew the arch as it was drawn.
#[test]
fn a_mouse_writes_on_the_whiteboard_as_it_moves() {
    Scenario::run_with_pen("mouse", app(), |s| {
        let teacher = teacher_at_the_board(s)?;
        let mouse = s.mouse()?;
        let offset = hover(mouse, &teacher, "the mouse over the page")?;
        std::thread::sleep(Duration::from_millis(300));
        teacher.eval::<()>("window.seen = [];", vec![])?;

        let path = arch(&teacher, offset)?;
        let busy = Busy::start();
        draw(s.mouse()?, &path, |_| 0.0)?;
        wait_live(
            &teacher,
            "the mouse's stroke on the board before the button is let go",
        )?;
        let mouse = s.mouse()?;
        let (x1, y1) = path[path.len() - 1];
        mouse.tip(false, x1, y1, 0.0)?;
        mouse.sync()?;
        drop(busy);
        one_stroke(&teacher, "the mouse's")?;
        keep(s, &teacher, "board-mouse")?;
        let seen: Seen = teacher.eval("return window.seen;", vec![])?;
        let moves = seen.iter().filter(|e| e.0 == "pointermove").count();
        ensure!(
            seen.iter().all(|e| e.1 == "mouse"),
            "the mouse was taken for something else: {seen:?}"
        );
        let top = ink_across(&teacher, 800.0, 250.0)?;
        let start = ink_across(&teacher, 400.0, 350.0)?;
        let end = ink_across(&teacher, 1200.0, 350.0)?;
        eprintln!(
            "the webview gave the page {moves} moves of the stroke; ink {start:.1} px near its \
             start, {end:.1} px near its end, {top:.1} px at the top"
        );
        ensure!(
            top > 1.0,
            "the board has no ink at the arch's top ({top:.1})"
        );
        ensure!(
            start > 1.0 && end > 1.0 && (end / start - 1.0).abs() < 0.25,
            "a mouse's stroke should be as wide at both ends: {start:.1} and {end:.1} px"
        );
        Ok(())
    });
}

/// Every core kept busy (a thread each, spinning) until dropped.
struct Busy {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Busy {
    fn start() -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let threads = (0..cores)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                })
            })
            .collect();
        Self { stop, threads }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}
