//! The app in its real window (WebKitGTK under Xvfb), driven through WebDriver (tauri-driver
//! and WebKitWebDriver) the way a person uses it: what the page shows, typed into and clicked,
//! in English and Chinese, by keyboard and at 200 % zoom, and a whole class between two apps.
//!
//! The harness is `classroom_tests::window`; the steps a person takes (host a class, join it)
//! are `classroom_tests::window::flows`. Screenshots of each screen in both languages are kept
//! in `target/artifacts/window-*.png`; a failing test also keeps every window's screenshot and
//! output there. Needs Xvfb, WebKitWebDriver and tauri-driver (`cargo xtask deps`): the tests
//! fail, rather than skip, without them.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use classroom_tests::window::flows::{self, REMOTE_CAMERA};
use classroom_tests::window::{AppOptions, AppUnderTest, Key, Scenario, WAIT, Window};
use serde_json::json;

#[path = "window/board.rs"]
mod board;
#[path = "window/check.rs"]
mod check;
#[path = "window/class.rs"]
mod class;
#[path = "window/entry.rs"]
mod entry;
#[path = "window/homework.rs"]
mod homework;
#[path = "window/join.rs"]
mod join;
#[path = "window/lessons.rs"]
mod lessons;
#[path = "window/pen.rs"]
mod pen;
#[path = "window/policy.rs"]
mod policy;
#[path = "window/recording.rs"]
mod recording;
#[path = "window/updates.rs"]
mod updates;

fn app() -> AppUnderTest {
    let conf: serde_json::Value =
        serde_json::from_str(include_str!("../tauri.conf.json")).expect("tauri.conf.json");
    AppUnderTest {
        binary: env!("CARGO_BIN_EXE_classroom-app").into(),
        identifier: conf["identifier"]
            .as_str()
            .expect("identifier in tauri.conf.json")
            .to_owned(),
    }
}

/// A school policy folder as IT writes one (`managed/*.json` locks, `recommended/*.json`
/// suggests), made afresh in a temporary folder named for the test; the app reads it through
/// `CLASSROOM_POLICY_DIR` (debug builds). The test removes it when done.
fn policy_folder(name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("classroom-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (path, json) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("a policy folder");
        std::fs::write(&path, json).expect("a policy file");
    }
    dir
}

/// Saves a screenshot of `window` as `target/artifacts/window-<name>.png`, for people to look at.
fn keep(scenario: &Scenario, window: &Window, name: &str) -> Result<()> {
    let path = scenario.artifacts().join(format!("window-{name}.png"));
    window.screenshot(&path)?;
    eprintln!("screenshot: {}", path.display());
    Ok(())
}

/// The value of a form field, found by its label.
fn field_value(window: &Window, label: &str) -> Result<String> {
    window.find_by_name(label, WAIT)?;
    window.eval(
        "for (const label of document.querySelectorAll('label')) {\
           if (label.innerText.trim() === arguments[0] && label.control) return label.control.value;\
         }\
         return null;",
        vec![json!(label)],
    )
}

/// Zooms the page to 200 % with Ctrl+= (five steps of Tauri's zoom hotkeys) and waits until the
/// layout has reflowed to the narrow width. One press at a time, each seen to narrow the page
/// before the next: under load a press was once lost among five sent at once, and the page
/// stayed at 180 %. A press that changed nothing in 3 s is pressed again (at most 10 in all).
fn zoom_to_200(win: &Window) -> Result<()> {
    let width = || -> Result<f64> { win.eval("return window.innerWidth", vec![]) };
    let mut now = width()?;
    for _ in 0..10 {
        if now < 600.0 {
            return Ok(());
        }
        win.press_with_control('=')?;
        let before = now;
        let narrowed = win.wait_until(Duration::from_secs(3), "the page one step larger", || {
            let w = width()?;
            Ok((w < before).then_some(w))
        });
        now = match narrowed {
            Ok(w) => w,
            Err(_) => width()?,
        };
    }
    win.wait_until(WAIT, "the page at 200 %", || {
        Ok((width()? < 600.0).then_some(()))
    })
}

/// At the current zoom: no horizontal scrolling of the page, and each of `testids` is shown
/// whole across (scrolled into view vertically, which is fine).
fn assert_fits(win: &Window, testids: &[&str]) -> Result<()> {
    for id in testids {
        win.eval::<Option<bool>>(
            "document.querySelector(`[data-testid=\"${arguments[0]}\"]`).scrollIntoView({block: 'nearest'}); return null;",
            vec![json!(id)],
        )?;
        let g = win
            .geometry(&format!("[data-testid={id:?}]"))?
            .with_context(|| format!("{id} is not on the page"))?;
        ensure!(
            g.scroll_width <= g.viewport_width + 1.0
                && g.body_scroll_width <= g.viewport_width + 1.0,
            "the page scrolls sideways at this zoom: {g:?}"
        );
        ensure!(g.fits_horizontally(), "{id} is cut off: {g:?}");
        ensure!(
            g.bottom > 0.0 && g.top < g.viewport_height,
            "{id} is not visible after scrolling to it: {g:?}"
        );
    }
    Ok(())
}
