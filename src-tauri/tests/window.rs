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
#[path = "window/homework.rs"]
mod homework;
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

#[test]
fn the_join_screen_shows_its_form_works_by_keyboard_and_reads_at_200_percent() {
    Scenario::run("join-screen", app(), |s| {
        // The command line pre-fills the form; an argument the app does not know (desktop
        // launchers add their own) must not stop it.
        let win = s.launch(AppOptions::new("teacher").args([
            "--role",
            "teacher",
            "--name",
            "Ada Lovelace",
            "--room",
            "physics-7b",
            "--server",
            "ws://127.0.0.1:8080/ws",
            "--flag-from-a-launcher",
        ]))?;

        // A teacher's form: heading, role, the two fields a teacher fills in, pre-filled.
        win.wait_for_text("Start a class", WAIT)?;
        ensure!(win.has_text("The class runs from this computer.")?);
        let teacher_checked: bool = win.eval(
            "return document.querySelector('[data-testid=role-teacher] input').checked",
            vec![],
        )?;
        ensure!(teacher_checked, "the Teacher role is chosen");
        ensure!(field_value(&win, "Display name")? == "Ada Lovelace");
        ensure!(field_value(&win, "Room")? == "physics-7b");
        ensure!(
            !win.has_text("Join token")?,
            "a teacher is not asked for a token"
        );
        let start = win.find_by_name("Start class", WAIT)?;
        ensure!(win.eval::<bool>(
            "return !arguments[0].disabled",
            vec![serde_json::to_value(&start)?]
        )?);
        let lang: String = win.eval("return document.documentElement.lang", vec![])?;
        ensure!(lang == "en", "<html lang> is {lang}");
        keep(s, &win, "join-teacher-en")?;

        // A student's home screen: the class code first, classes nearby, the invite link; the
        // server, room and token behind "Enter details by hand", the server pre-filled.
        win.click("Student")?;
        win.wait_for_text("Join a class", WAIT)?;
        win.find_by_name("Class code", WAIT)?;
        win.find_by_name("Invite link", WAIT)?;
        win.wait_for_text("Classes nearby", WAIT)?;
        ensure!(
            !win.has_text("Join token")?,
            "the details by hand start folded away"
        );
        // The role cards' colours fade over 120 ms.
        std::thread::sleep(Duration::from_millis(300));
        keep(s, &win, "home-student-en")?;
        win.click("Enter details by hand")?;
        ensure!(field_value(&win, "Class server address")? == "ws://127.0.0.1:8080/ws");
        win.find_by_name("Join token", WAIT)?;
        keep(s, &win, "join-student-en")?;

        // Keyboard: from the top of the page, Tab reaches the controls in reading order, each
        // with a visible focus ring.
        win.eval::<Option<bool>>("document.activeElement?.blur(); return null;", vec![])?;
        let mut order = Vec::new();
        for _ in 0..16 {
            win.press(&Key::Tab.to_string())?;
            let Some(focused) = win.focused()? else {
                continue;
            };
            ensure!(
                focused.ring,
                "{:?} has no visible focus ring (outline {}, shadow {})",
                focused.name,
                focused.outline,
                focused.box_shadow
            );
            ensure!(focused.in_viewport, "{:?} is off screen", focused.name);
            if order.last() == Some(&focused.name) {
                break;
            }
            order.push(focused.name.clone());
            if focused.name == "Join class" {
                break;
            }
        }
        let wanted = [
            "Settings",
            "Student",
            "Display name",
            "Class code",
            "Join class",
        ];
        let reached: Vec<&str> = order
            .iter()
            .map(String::as_str)
            .filter(|n| wanted.contains(n))
            .collect();
        ensure!(reached == wanted, "Tab order {order:?}");
        eprintln!("Tab order: {order:?}");

        // Enter on the button submits: the empty token is pointed out in words (the server
        // given on the command line makes it a join by details, not by code).
        win.press(&Key::Enter.to_string())?;
        win.wait_for_text("Paste the token your teacher gave you.", WAIT)?;

        // Arrow keys move between roles; Space on the settings button opens the dialog and
        // Escape closes it, giving the focus back to the button.
        let settings = win.find_by_name("Settings", WAIT)?;
        win.eval::<Option<bool>>(
            "arguments[0].focus(); return null;",
            vec![serde_json::to_value(&settings)?],
        )?;
        win.press(&Key::Space.to_string())?;
        win.wait_for("dialog[open]", WAIT)?;
        keep(s, &win, "settings-en")?;
        // The diagnostics report for IT: made by Rust on a click, shown, copied; no secrets.
        win.click_testid("diagnostics-show")?;
        win.wait_until(WAIT, "the diagnostics report", || {
            let report = win
                .value_of_testid("diagnostics-report")
                .unwrap_or_default();
            Ok(report.contains("Classroom diagnostics").then_some(report))
        })
        .and_then(|report| {
            for expected in [
                "App: ",
                "System: ",
                "Media: GStreamer 1.",
                "installed: webrtcbin",
                "Class: not in a class",
                // Chosen in `main` (`web_renderer`): no NVIDIA driver here.
                "Web renderer: WebKitGTK",
            ] {
                ensure!(
                    report.contains(expected),
                    "{expected:?} missing from:\n{report}"
                );
            }
            ensure!(
                !report.to_lowercase().contains("token"),
                "a token in:\n{report}"
            );
            Ok(())
        })?;
        win.click_testid("diagnostics-copy")?;
        win.wait_for_testid("diagnostics-note", WAIT)?;
        keep(s, &win, "diagnostics-en")?;
        win.press(&Key::Escape.to_string())?;
        win.wait_until(WAIT, "the dialog to close", || {
            Ok(win
                .eval::<bool>("return !document.querySelector('dialog[open]')", vec![])?
                .then_some(()))
        })?;
        let back = win.focused()?.context("focus after Escape")?;
        ensure!(back.name == "Settings", "focus went to {:?}", back.name);

        // 200 % zoom, as a person gets it (Ctrl+= five times, 20 % each): the layout reflows
        // to the narrower page, nothing scrolls sideways, the controls fit.
        let default_width: f64 = win.eval("return window.innerWidth", vec![])?;
        for _ in 0..5 {
            win.press_with_control('=')?;
        }
        win.wait_until(WAIT, "the page at 200 %", || {
            let width: f64 = win.eval("return window.innerWidth", vec![])?;
            Ok(((width - default_width / 2.0).abs() < 8.0).then_some(width))
        })?;
        assert_fits(
            &win,
            &[
                "join-form",
                "join-name",
                "join-code",
                "join-submit",
                "nearby-classes",
                "join-link",
                "join-token",
            ],
        )?;
        keep(s, &win, "join-student-en-zoom200")?;
        win.press_with_control('0')?;
        Ok(())
    });
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

#[test]
fn a_chinese_desktop_gets_chinese_screens_and_settings_switch_the_language() {
    Scenario::run("language", app(), |s| {
        // No settings file: the desktop's locale decides. This machine has no zh_CN locale
        // generated, which is what the webview's own navigator.languages would depend on.
        let win = s.launch(AppOptions::new("student").env("LANG", "zh_CN.UTF-8"))?;
        win.wait_for_text("进入课堂", WAIT)?;
        ensure!(win.has_text("我的身份")?);
        ensure!(field_value(&win, "显示名称")?.is_empty());
        win.find_by_name("课堂码", WAIT)?;
        win.find_by_name("邀请链接", WAIT)?;
        win.wait_for_text("附近的课堂", WAIT)?;
        keep(s, &win, "home-student-zh")?;
        win.click("手动填写信息")?;
        win.find_by_name("课堂服务器地址", WAIT)?;
        win.find_by_name("加入凭证", WAIT)?;
        let lang: String = win.eval("return document.documentElement.lang", vec![])?;
        ensure!(lang == "zh-CN", "<html lang> is {lang}");
        let webview_languages: Vec<String> = win.eval("return navigator.languages", vec![])?;
        eprintln!("LANG=zh_CN.UTF-8: the webview's navigator.languages = {webview_languages:?}");
        keep(s, &win, "join-student-zh")?;

        // Errors in Chinese too.
        win.click("进入课堂")?;
        win.wait_for_text("请输入课堂上显示的名字。", WAIT)?;
        win.wait_for_text("请输入老师屏幕上的课堂码", WAIT)?;
        win.click("老师")?;
        win.wait_for_text("开始上课", WAIT)?;
        keep(s, &win, "join-teacher-zh")?;

        // Settings: English, remembered in the app's config folder.
        win.click("设置")?;
        win.wait_for("dialog[open]", WAIT)?;
        keep(s, &win, "settings-zh")?;
        win.select_option("语言", "en")?;
        win.wait_for_text("Language", WAIT)?;
        // The dark theme applies at once and is remembered with the language.
        win.click("Dark")?;
        win.wait_until(WAIT, "the dark theme", || {
            let theme: Option<String> =
                win.eval("return document.documentElement.dataset.theme", vec![])?;
            Ok((theme.as_deref() == Some("dark")).then_some(()))
        })?;
        win.press(&Key::Escape.to_string())?;
        win.wait_for_text("Start a class", WAIT)?;
        keep(s, &win, "join-teacher-en-dark")?;
        let saved = std::fs::read_to_string(win.config_dir().join("settings.json"))
            .context("settings.json")?;
        let saved: serde_json::Value = serde_json::from_str(&saved)?;
        ensure!(
            saved["language"] == "en" && saved["theme"] == "dark",
            "settings.json says {saved}"
        );

        // And back to following the desktop.
        win.click("Settings")?;
        win.select_option("Language", "system")?;
        win.wait_for_text("语言", WAIT)?;
        let shown: String = win.eval(
            "const s = document.querySelector('[data-testid=settings-language]');\
             return s.options[s.selectedIndex].text;",
            vec![],
        )?;
        ensure!(
            shown == "跟随系统（简体中文）",
            "the language choice reads {shown:?}"
        );
        win.click("关闭")?;
        win.wait_for_text("开始上课", WAIT)?;
        Ok(())
    });
}

#[test]
fn a_student_sees_the_teachers_moving_video_in_both_languages_and_leaves_and_rejoins() {
    Scenario::run("class", app(), |s| {
        let teacher = s.launch(AppOptions::new("teacher"))?;
        let student = s.launch(AppOptions::new("student").language("en"))?;

        let invite = flows::host_class(&teacher, "Ms. Rivera", "physics-7b")?;
        teacher.wait_for_text("Your class is live", WAIT)?;
        teacher.wait_for_text("Invite your students", WAIT)?;
        flows::join_class(&student, "Ada", &invite)?;
        student.wait_for_text("In class", WAIT)?;

        // The teacher's camera (a moving test pattern here) moves inside the student's tile.
        let moved = flows::wait_for_moving_video(&student, REMOTE_CAMERA, flows::JOIN_WAIT)?;
        eprintln!("the student's camera tile changed by {moved:.1} per channel in 0.5 s");
        student.wait_for_text("Joined as", WAIT)?;
        keep(s, &student, "class-student-en")?;
        keep(s, &teacher, "class-teacher-en")?;

        // The student reads the class at 200 %: nothing scrolls sideways, Leave stays reachable.
        zoom_to_200(&student)?;
        assert_fits(&student, &["class-view", "leave-class"])?;
        keep(s, &student, "class-student-en-zoom200")?;
        student.press_with_control('0')?;

        // Both switch to Chinese in settings, mid-class.
        for window in [&student, &teacher] {
            window.click("Settings")?;
            window.select_option("Language", "zh-CN")?;
            window.press(&Key::Escape.to_string())?;
        }
        student.wait_for_text("上课中", WAIT)?;
        student.wait_for_text("老师的画面和声音", WAIT)?;
        teacher.wait_for_text("正在上课", WAIT)?;
        teacher.wait_for_text("邀请学生", WAIT)?;
        keep(s, &student, "class-student-zh")?;
        keep(s, &teacher, "class-teacher-zh")?;

        // Leave and come back: the picture moves again.
        flows::leave_class(&student)?;
        student.wait_for_text("进入课堂", WAIT)?;
        flows::join_class(&student, "Ada", &invite)?;
        flows::wait_for_moving_video(&student, REMOTE_CAMERA, flows::JOIN_WAIT)?;

        // The teacher ends the class; the student is told.
        flows::leave_class(&teacher)?;
        student.wait_for_text("课堂已结束。", Duration::from_secs(20))?;
        keep(s, &student, "class-ended-zh")?;
        Ok(())
    });
}

#[test]
fn a_class_runs_hands_chat_a_roll_call_and_a_poll_between_teacher_and_student() {
    Scenario::run("panels", app(), |s| {
        // The teacher's screens in English, the student's in Chinese: both catalogues are used.
        let teacher = s.launch(AppOptions::new("teacher"))?;
        let student = s.launch(AppOptions::new("student").language("zh-CN"))?;

        let invite = flows::host_class(&teacher, "Ms. Rivera", "physics-7b")?;
        flows::join_class(&student, "Ada", &invite)?;
        teacher.wait_for_testid("class-panels", WAIT)?;
        student.wait_for_testid("class-panels", WAIT)?;
        flows::wait_for_text_in_testid(&teacher, "participants", "Ada")?;

        // A hand goes up and shows in the teacher's queue.
        flows::raise_hand(&student)?;
        flows::wait_for_raised_hand(&teacher, "Ada")?;
        student.wait_for_text("你排在第 1 位", WAIT)?;

        // Chat both ways.
        flows::send_chat(&student, "Is the homework due Friday?")?;
        flows::wait_for_chat(&teacher, "Is the homework due Friday?")?;
        flows::send_chat(&teacher, "Yes, on Friday.")?;
        flows::wait_for_chat(&student, "Yes, on Friday.")?;
        // By keyboard: Enter in the field sends, Tab goes on to the next control with a ring.
        flows::send_chat_by_keyboard(&student, "Thank you!")?;
        flows::wait_for_chat(&teacher, "Thank you!")?;
        student.press(&Key::Tab.to_string())?;
        let next = student
            .focused()?
            .context("nothing has the focus after Tab")?;
        ensure!(
            next.kind.as_deref() == Some("checkbox") && next.ring,
            "Tab from the chat field should reach \"only to teachers\" with a focus ring: {next:?}"
        );
        // The teacher answers Ada privately; she sees it marked private.
        teacher.click_testid("chat-reply")?;
        teacher.wait_for_testid("chat-private-to", WAIT)?;
        flows::send_chat(&teacher, "See me after class.")?;
        flows::wait_for_chat(&student, "See me after class.")?;
        let private: bool = student.eval(
            "return [...document.querySelectorAll('[data-testid=chat-log] li.private')]\
             .some((li) => li.textContent.includes('See me after class.'))",
            vec![],
        )?;
        ensure!(
            private,
            "the teacher's private answer is not marked private"
        );
        // Live batches leave each message's time out; both windows still show one (the time
        // it arrived, on the server's clock).
        for (who, app) in [("teacher", &teacher), ("student", &student)] {
            let times: Vec<String> = app.eval(
                "return [...document.querySelectorAll('[data-testid=chat-log] .time')]\
                 .map((e) => e.textContent.trim())",
                vec![],
            )?;
            ensure!(
                times.len() >= 4
                    && times
                        .iter()
                        .all(|t| t.chars().any(|c| c.is_ascii_digit()) && !t.contains("Invalid")),
                "the {who}'s chat does not show a time on every message: {times:?}"
            );
        }

        // A roll call: the student answers, the teacher's count says one answered.
        flows::start_roll_call(&teacher, 120)?;
        student.wait_for_testid("rollcall-answer", WAIT)?;
        flows::scroll_to(&student, "class-prompts")?;
        keep(s, &student, "panels-student-zh-rollcall")?;
        flows::answer_roll_call(&student)?;
        flows::wait_for_roll_call_answers(&teacher, 1)?;
        teacher.wait_for_text("1 of 1 answered", WAIT)?;

        // A poll: answered and tallied.
        flows::start_poll(
            &teacher,
            "Which planet is largest?",
            &["Mars", "Jupiter", "Venus"],
        )?;
        student.wait_for_text("Which planet is largest?", WAIT)?;
        flows::answer_poll(&student, 1)?;
        flows::wait_for_poll_votes(&teacher, 1, 1)?;
        flows::wait_for_poll_votes(&teacher, 0, 0)?;
        flows::show_panels(&student)?;
        keep(s, &student, "panels-student-zh")?;
        flows::show_panels(&teacher)?;
        keep(s, &teacher, "panels-teacher-en")?;

        // An old Excel workbook (.xls) is refused with what to do. A school's workbook of
        // several classes (.xlsx: a hidden sheet, a cover page, a sheet of grades by student
        // number, then a sheet per class, a title row, Chinese column names, student numbers
        // as numbers): the cover and the grades (no names) are passed over for the first
        // class's sheet; the teacher then chooses the grades sheet, refused naming
        // it, and the other class's sheet from the list offered. Then the roster as a
        // Chinese Excel saves "CSV": GBK, Chinese column names. Ada is on it (and here);
        // 张三 is not here.
        flows::scroll_to(&teacher, "class-tools")?;
        flows::pick_file(
            &teacher,
            "roster-file",
            &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0],
            "roster.xls",
            "application/vnd.ms-excel",
        )?;
        teacher.wait_for_text("The app does not read this kind of workbook", WAIT)?;
        {
            use classroom::made_workbooks::{Cell, xlsx_with};
            let book = xlsx_with(
                "封面",
                &[
                    vec![Cell::Text("七年级学生花名册")],
                    vec![Cell::Text("2026年秋季学期")],
                ],
                true,
                &[
                    (
                        "成绩",
                        vec![
                            vec![Cell::Text("学号"), Cell::Text("成绩")],
                            vec![Cell::Number(20230001.0), Cell::Number(95.0)],
                        ],
                    ),
                    (
                        "七(1)班",
                        vec![
                            vec![Cell::Text("姓名"), Cell::Text("学号")],
                            vec![Cell::Text("李四"), Cell::Number(20230001.0)],
                        ],
                    ),
                    (
                        "七(2)班",
                        vec![
                            // The title a school's system puts above the columns.
                            vec![Cell::Text("七(2)班学生名单")],
                            vec![Cell::Text("姓名"), Cell::Text("学号")],
                            vec![Cell::Text("Ada"), Cell::Number(20230101.0)],
                            vec![Cell::Text("张三"), Cell::Number(20230102.0)],
                        ],
                    ),
                ],
            );
            flows::pick_file(
                &teacher,
                "roster-file",
                &book,
                "名单.xlsx",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            )?;
        }
        teacher.wait_for_text("Read from the sheet “七(1)班”.", WAIT)?;
        ensure!(
            teacher.has_text("Roster loaded: 1 student.")?,
            "the first class's one student was not loaded"
        );
        // Another sheet of the same file, chosen in the list offered.
        let choose_sheet = |index: &str| -> Result<String> {
            let chosen: String = teacher.eval(
                "const s = document.querySelector('[data-testid=roster-sheet]');\
                 s.value = arguments[0]; s.dispatchEvent(new Event('change', { bubbles: true }));\
                 return s.options[s.selectedIndex].text;",
                vec![json!(index)],
            )?;
            teacher.click_selector("[data-testid=roster-read-sheet]")?;
            Ok(chosen)
        };
        // The grades sheet: refused, naming it; the class keeps the roster it had.
        ensure!(choose_sheet("1")? == "成绩", "the list did not offer 成绩");
        teacher.wait_for_text("In the sheet “成绩”.", WAIT)?;
        teacher.wait_for_text("The class keeps the roster it had: 1 student.", WAIT)?;
        keep(s, &teacher, "panels-teacher-en-xlsx-refused")?;
        // Then the other class's sheet.
        let chosen = choose_sheet("3")?;
        ensure!(chosen == "七(2)班", "the list chose {chosen:?}");
        teacher.wait_for_text("Read from the sheet “七(2)班”.", WAIT)?;
        ensure!(
            teacher.has_text("Roster loaded: 2 students.")?,
            "the second sheet's two students were not loaded"
        );
        keep(s, &teacher, "panels-teacher-en-xlsx")?;
        let (gbk, _, unmappable) =
            encoding_rs::GBK.encode("姓名,班级\r\nAda,七(2)班\r\n张三,七(2)班\r\n");
        ensure!(!unmappable && std::str::from_utf8(&gbk).is_err(), "not GBK");
        flows::pick_file(&teacher, "roster-file", &gbk, "名单.csv", "text/csv")?;
        teacher.wait_for_text("Roster loaded: 2 students.", WAIT)?;
        teacher.wait_for_text("The file was read as GBK.", WAIT)?;
        // The attendance file: UTF-8 with the byte-order mark Excel needs, the names intact,
        // in the teacher's words (English here, Chinese below).
        let (path, csv) = export_report(&teacher, None)?;
        ensure!(
            csv.starts_with("Status,Identity,Name,Role,Name on the roster,First joined (UTC"),
            "the report's header is not in English words:\n{csv}"
        );
        ensure!(
            csv.lines()
                .any(|l| l.starts_with("Absent,,张三,Student,张三")),
            "张三 is not absent in the report:\n{csv}"
        );
        ensure!(
            csv.lines()
                .any(|l| l.starts_with("Present,") && l.contains(",Ada,Student,Ada,")),
            "Ada is not present as the roster's Ada in the report:\n{csv}"
        );
        keep(s, &teacher, "panels-teacher-en-roster")?;

        // On stage: nothing is sent until the student clicks; then the server announces the
        // student's camera to the teacher (the teacher's event log, in English here), and the
        // teacher's window shows the student's moving camera.
        flows::toggle_stage(&teacher, "Ada")?;
        student.wait_for_testid("stage-media-start", WAIT)?;
        flows::scroll_to(&student, "class-prompts")?;
        keep(s, &student, "panels-student-zh-stage")?;
        std::thread::sleep(Duration::from_secs(2));
        ensure!(
            !teacher.has_text("Camera track")?,
            "a camera track from the student started before the student clicked"
        );
        flows::start_stage_media(&student)?;
        teacher.wait_for_text("Camera track", Duration::from_secs(30))?;
        let moved =
            flows::wait_for_moving_video(&teacher, flows::REMOTE_CAMERA, Duration::from_secs(30))
                .context("the student's stage camera in the teacher's window")?;
        eprintln!("the teacher's tile of the student's camera changed by {moved:.1} per channel");
        keep(s, &teacher, "panels-teacher-en-stage")?;

        // The student reads the panels at 200 %: nothing scrolls sideways.
        zoom_to_200(&student)?;
        assert_fits(&student, &["class-panels", "lower-hand", "chat-send"])?;
        keep(s, &student, "panels-student-zh-zoom200")?;
        student.press_with_control('0')?;

        // The teacher in Chinese, the student in English.
        teacher.click("Settings")?;
        teacher.select_option("Language", "zh-CN")?;
        teacher.press(&Key::Escape.to_string())?;
        teacher.wait_for_text("举手", WAIT)?;
        flows::show_panels(&teacher)?;
        keep(s, &teacher, "panels-teacher-zh")?;
        // The attendance file in Chinese words now.
        let (_, csv) = export_report(&teacher, Some(&path))?;
        ensure!(
            csv.starts_with("状态,身份标识,姓名,角色,名单上的姓名,首次进入（UTC"),
            "the report's header is not in Chinese words:\n{csv}"
        );
        ensure!(
            csv.lines().any(|l| l.starts_with("缺席,,张三,学生,张三")),
            "张三 is not 缺席 in the report:\n{csv}"
        );
        // The teacher's panels at 200 %: one column, nothing cut off.
        zoom_to_200(&teacher)?;
        assert_fits(
            &teacher,
            &[
                "participants-panel",
                "hands-queue",
                "rollcall-end",
                "poll-end",
                "chat-send",
            ],
        )?;
        flows::scroll_to(&teacher, "poll-panel")?;
        keep(s, &teacher, "panels-teacher-zh-zoom200")?;
        teacher.press_with_control('0')?;
        student.click("设置")?;
        student.select_option("语言", "en")?;
        student.press(&Key::Escape.to_string())?;
        student.wait_for_text("Raised hands", WAIT)?;
        flows::show_panels(&student)?;
        keep(s, &student, "panels-student-en")?;
        Ok(())
    });
}

/// Clicks "Export attendance" and reads the file the page says it saved (a path other than
/// `previous`): its path and its text after the UTF-8 byte-order mark it must start with.
fn export_report(teacher: &Window, previous: Option<&str>) -> Result<(String, String)> {
    teacher.click_testid("export-report")?;
    let path = teacher.wait_until(WAIT, "the saved report's path", || {
        let path: String = teacher.eval(
            "const code = document.querySelector('[data-testid=report-saved] code');\
             return code === null ? '' : code.textContent",
            vec![],
        )?;
        Ok((!path.is_empty() && Some(path.as_str()) != previous).then_some(path))
    })?;
    let saved = std::fs::read(&path).with_context(|| format!("the report at {path}"))?;
    let csv = saved
        .strip_prefix(b"\xEF\xBB\xBF")
        .context("the report has no UTF-8 byte-order mark")?;
    let csv = String::from_utf8(csv.to_vec()).context("the report is not UTF-8")?;
    Ok((path, csv))
}

/// The number of received tracks in `window`'s figures table.
fn track_rows(window: &Window) -> Result<usize> {
    window.eval(
        "return document.querySelectorAll('[data-testid=class-view] tr[data-participant]').length;",
        vec![],
    )
}

#[test]
fn a_student_on_stage_is_seen_and_heard_by_another_student() {
    Scenario::run("stage", app(), |s| {
        let teacher = s.launch(AppOptions::new("teacher"))?;
        let ada = s.launch(AppOptions::new("ada"))?;
        // Bo's page takes decoded pictures (RGBA), as a webview without WebCodecs does: the
        // app decodes a track only once its page asks that way, so this is where the decoder
        // starts mid-stream, for a track there from the start and for one that begins later.
        let bo = s.launch(
            AppOptions::new("bo")
                .language("zh-CN")
                .env("CLASSROOM_VIDEO_PATH", "rgba"),
        )?;
        let invite = flows::host_class(&teacher, "Ms. Rivera", "physics-7b")?;
        flows::join_class(&ada, "Ada", &invite)?;
        flows::join_class(&bo, "Bo", &invite)?;
        flows::wait_for_text_in_testid(&teacher, "participants", "Ada")?;
        flows::wait_for_moving_video(&bo, flows::REMOTE_CAMERA, flows::JOIN_WAIT)
            .context("the teacher's camera in Bo's window")?;
        let path: String = bo.eval(
            "return document.querySelector(arguments[0]).dataset.path;",
            vec![json!(flows::REMOTE_CAMERA)],
        )?;
        ensure!(
            path == "rgba",
            "Bo's tile is drawn from decoded frames: {path}"
        );
        // Off stage Ada sends nothing: Bo receives the teacher's tracks only.
        let before = bo.wait_until(WAIT, "the teacher's tracks in Bo's table", || {
            Ok(Some(track_rows(&bo)?).filter(|n| *n >= 2))
        })?;

        flows::toggle_stage(&teacher, "Ada")?;
        flows::start_stage_media(&ada)?;
        // Bo sees Ada's camera, named (a student on stage is someone the class may see)...
        let tile = "[data-testid=\"class-view\"] figure canvas[aria-label^=\"Ada的摄像头\"]";
        let moved = flows::wait_for_moving_video(&bo, tile, Duration::from_secs(30))
            .context("Ada's stage camera in Bo's window")?;
        eprintln!("Bo's tile of Ada's camera changed by {moved:.1} per channel");
        let ada_id: String = bo.eval(
            "return document.querySelector(arguments[0]).closest('figure').dataset.participant;",
            vec![json!(tile)],
        )?;
        // ...and hears her: her microphone arrives and its decoded level is above the floor
        // (Ada's app sends a test tone where it has no microphone).
        let level = bo.wait_until(Duration::from_secs(30), "Ada's microphone in Bo's table", || {
            let db: Option<f64> = bo.eval(
                "const m = document.querySelector(`[data-testid=class-view] tr[data-participant=\"${arguments[0]}\"][data-kind=audio] [role=meter]`);\
                 return m === null ? null : Number(m.getAttribute('aria-valuenow'));",
                vec![json!(ada_id)],
            )?;
            Ok(db.filter(|db| *db > -50.0))
        })?;
        eprintln!("Ada's microphone reaches Bo at {level:.1} dBFS");
        ensure!(
            track_rows(&bo)? == before + 2,
            "Bo receives Ada's camera and microphone besides the teacher's {before} tracks"
        );
        flows::scroll_to(&bo, "class-view")?;
        keep(s, &bo, "stage-other-student-zh")?;

        // Off stage again: her tracks end for Bo too.
        flows::toggle_stage(&teacher, "Ada")?;
        bo.wait_until(
            Duration::from_secs(30),
            "Ada's tracks gone from Bo's window",
            || Ok((track_rows(&bo)? == before).then_some(())),
        )?;
        Ok(())
    });
}

#[test]
fn a_student_joins_by_the_class_code_alone_and_waits_in_the_lobby() {
    Scenario::run("code", app(), |s| {
        // Two apps on this computer: the teacher's class is announced on the network (mDNS),
        // the student's app finds it by the code on the teacher's screen.
        let teacher = s.launch(AppOptions::new("teacher"))?;
        let student = s.launch(AppOptions::new("student"))?;
        let invite = flows::host_class(&teacher, "Ms. Rivera", "physics-7b")?;
        ensure!(
            invite.code.len() == 14 && invite.code.matches('-').count() == 2,
            "the class code reads {:?}",
            invite.code
        );

        // The class shows in the student's list nearby. (Typing first: a window that was
        // never used since it opened behind the teacher's may not have painted yet.)
        student.wait_for_testid("join-form", WAIT)?;
        student.type_into_testid("join-name", "Ada")?;
        student.wait_until(flows::JOIN_WAIT, "the class in the list nearby", || {
            Ok(student.has_text("Taught by Ms. Rivera")?.then_some(()))
        })?;
        // Choosing it reaches it and asks for the code (it never joins by itself).
        student.click("Choose physics-7b")?;
        student.wait_for_text("physics-7b is here", WAIT)?;
        let focused = student.focused()?.context("focus after choosing")?;
        ensure!(
            focused.name == "Class code",
            "focus went to {:?}",
            focused.name
        );
        ensure!(!student.has_text("Waiting for the teacher")?);
        std::thread::sleep(Duration::from_millis(300));
        keep(s, &student, "home-nearby-en")?;

        // A mistyped code (its check characters belong to no class here) is refused in words.
        let wrong = format!("ZZZZ-ZZZZ-{}", &invite.code[10..]);
        student.type_into_testid("join-code", &wrong)?;
        student.click_testid("join-submit")?;
        student.wait_for_text("No class nearby was made for this code", flows::JOIN_WAIT)?;

        // The right one, typed in lower case with spaces, knocks: the student waits in the
        // lobby until the teacher lets them in.
        let typed = invite.code.to_lowercase().replace('-', " ");
        flows::join_by_code(&student, "Ada", &typed)?;
        if student.has_text("Waiting for the teacher to let you in")? {
            keep(s, &student, "lobby-en")?;
            student.click("Settings")?;
            student.select_option("Language", "zh-CN")?;
            student.press(&Key::Escape.to_string())?;
            student.wait_for_text("正在等待老师允许你进入", WAIT)?;
            keep(s, &student, "lobby-zh")?;
            // The teacher sees the knock in the lobby panel and lets everyone waiting in.
            flows::wait_for_text_in_testid(&teacher, "lobby-panel", "Ada")?;
            flows::admit_all(&teacher)?;
            student
                .wait_for_testid("class-view", flows::JOIN_WAIT)
                .context("the student in the class after the teacher admitted them")?;
            keep(s, &student, "code-admitted-zh")?;
        } else {
            // Admitted at once (a class whose lobby lets everyone in).
            student.wait_for_testid("class-view", WAIT)?;
            keep(s, &student, "code-admitted-en")?;
        }
        keep(s, &teacher, "code-teacher-en")?;
        Ok(())
    });
}

#[test]
fn an_invite_link_on_the_command_line_fills_the_form_and_waits_for_a_click() {
    Scenario::run("link", app(), |s| {
        // As a desktop starts the app for a clicked link (`classroom-app %u`).
        let link = "classroom://join?server=wss%3A%2F%2F10.0.0.5%3A47800%2Fws&room=physics-7b\
                    &invite=s3cr3t&pin=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let win = s.launch(AppOptions::new("student").args([link]))?;
        win.wait_for_testid("join-form", WAIT)?;
        win.wait_for_text("Filled in from the invite link.", WAIT)?;
        ensure!(win.value_of_testid("join-link")? == link);
        win.click("Enter details by hand")?;
        ensure!(field_value(&win, "Class server address")? == "wss://10.0.0.5:47800/ws");
        ensure!(field_value(&win, "Room")? == "physics-7b");
        ensure!(field_value(&win, "Join token")? == "s3cr3t");
        // Nothing was joined: the form waits for the student.
        std::thread::sleep(Duration::from_secs(1));
        ensure!(win.has_text("Join class")? && !win.has_text("Joining")?);
        keep(s, &win, "home-link-en")?;

        // A launcher hands a token in a file only the user can read (`--token-file`); one on
        // the command line itself, where every user of the computer can read it, is refused.
        let private = tempfile::tempdir()?;
        let token_file = private.path().join("join.token");
        std::fs::write(&token_file, "from.the.file\n")?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600))?;
        }
        let filed = s.launch(AppOptions::new("filed").args([
            "--server",
            "ws://10.0.0.5:47800/ws",
            "--room",
            "physics-7b",
            "--token",
            "on.the.line",
            "--token-file",
            &token_file.to_string_lossy(),
        ]))?;
        filed.wait_for_testid("join-form", WAIT)?;
        filed.click("Enter details by hand")?;
        let token = filed.wait_until(WAIT, "the token from the file", || {
            let token = field_value(&filed, "Join token")?;
            Ok((!token.is_empty()).then_some(token))
        })?;
        ensure!(token == "from.the.file", "the token field holds {token:?}");
        Ok(())
    });
}

#[test]
fn a_link_clicked_while_the_app_runs_goes_to_the_running_app() {
    Scenario::run("single-instance", app(), |s| {
        // One desktop session: both starts share its D-Bus bus, as on a real desktop.
        let bus = s.session_bus()?;
        let win = s.launch(AppOptions::new("student").env("DBUS_SESSION_BUS_ADDRESS", &bus))?;
        win.wait_for_testid("join-form", WAIT)?;
        // A student in the middle of typing a name: the link must not lose it.
        win.type_into_testid("join-name", "Ada")?;
        let link = "classroom://join?server=wss%3A%2F%2F10.0.0.5%3A47800%2Fws&room=physics-7b\
                    &invite=s3cr3t&pin=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        // The desktop starts the app again for the clicked link: that start hands the link
        // to the running app and exits without a window of its own.
        let (status, output) = s.start_again(
            &[link],
            &[("DBUS_SESSION_BUS_ADDRESS", bus.as_str())],
            Duration::from_secs(30),
        )?;
        ensure!(status.success(), "the second start: {status}\n{output}");
        ensure!(
            !output.contains("UI_READY"),
            "the second start opened a page of its own:\n{output}"
        );
        // The running app has the link in its form, and nothing was joined.
        win.wait_for_text("Filled in from the invite link.", WAIT)?;
        ensure!(win.value_of_testid("join-link")? == link);
        ensure!(win.value_of_testid("join-name")? == "Ada");
        std::thread::sleep(Duration::from_secs(1));
        ensure!(win.has_text("Join class")? && !win.has_text("Joining")?);

        // A broken link is said to be broken, and changes none of the class's details: the
        // server, room and token stay those of the good link.
        let (status, _) = s.start_again(
            &["classroom://join?server=ws%3A%2F%2Fevil.example%2Fws"],
            &[("DBUS_SESSION_BUS_ADDRESS", bus.as_str())],
            Duration::from_secs(30),
        )?;
        ensure!(status.success());
        win.wait_for_text("This is not a whole invite link.", WAIT)?;
        win.click("Enter details by hand")?;
        ensure!(field_value(&win, "Class server address")? == "wss://10.0.0.5:47800/ws");
        ensure!(field_value(&win, "Join token")? == "s3cr3t");
        keep(s, &win, "home-link-again-en")?;
        Ok(())
    });
}

/// Waits for the library's viewer to show a decoded picture; its size in pixels.
fn shown_picture(window: &Window) -> Result<(u32, u32)> {
    window.wait_until(WAIT, "the picture shown", || {
        window.eval::<Option<(u32, u32)>>(
            "const img = document.querySelector('[data-testid=library-image]');\
             return img !== null && img.complete && img.naturalWidth > 0\
               ? [img.naturalWidth, img.naturalHeight] : null;",
            vec![],
        )
    })
}

/// A picture for a lesson: `width` x `height` of noise (so PNG cannot shrink it), as PNG.
fn noise_png(width: u32, height: u32, seed: u32) -> Vec<u8> {
    let mut state = seed | 1;
    let picture = image::RgbImage::from_fn(width, height, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let [r, g, b, _] = state.to_le_bytes();
        image::Rgb([r, g, b])
    });
    let mut png = Vec::new();
    picture
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("encode the picture");
    png
}

/// The real-window test for the offline library: a student downloads a lesson with a
/// visible progress bar at the speed the settings allow, the class server stops in the middle
/// (the bar says it waits for the network), comes back on the same address, the download
/// goes on from where it was and finishes, and with the server gone again the lesson's
/// picture opens in the app from this computer.
#[test]
fn a_lesson_download_survives_the_server_stopping_and_opens_with_the_server_gone() {
    use classroom_client::library::{
        DownloadOptions, Downloader, LibraryServer, MaterialUpload, lesson_base,
    };
    use classroom_protocol::Role as WireRole;
    use classroom_protocol::lessons::{LessonUpdate, MaterialKind};

    const ROOM: &str = "physics-7b";
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let work =
        std::env::temp_dir().join(format!("classroom-window-library-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let config = |signaling, access| classroom_sfu::ServerConfig {
        lessons_dir: Some(work.join("server")),
        access,
        signaling,
        ..classroom_sfu::ServerConfig::loopback()
    };
    let server = runtime
        .block_on(classroom_sfu::start(config(
            classroom_sfu::ServerConfig::loopback().signaling,
            None,
        )))
        .expect("the class server");
    let (addr, key) = (server.signaling_addr(), server.access().clone());
    let url = format!("ws://{addr}/ws");

    // The teacher's lesson: a recording large enough to be cut in the middle, and a picture.
    let recording: Vec<u8> = (0..40_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let picture = noise_png(640, 400, 7);
    runtime.block_on(async {
        let token = server
            .mint_token(
                ROOM,
                "ms-rivera",
                WireRole::Teacher,
                Duration::from_secs(3600),
            )
            .expect("a token");
        let store = classroom_store::StoreHandle::open(
            work.join("teacher"),
            classroom_store::StoreOptions::default(),
        )
        .expect("a store");
        let teacher = Downloader::new(
            LibraryServer {
                base: lesson_base(&url).expect("base"),
                room: ROOM.into(),
                token,
                pin: None,
            },
            store,
            DownloadOptions::default(),
        )
        .expect("a client");
        teacher
            .put_lesson(
                "forces",
                &LessonUpdate {
                    title: "Forces and motion".into(),
                    notes: String::new(),
                    position: 1,
                },
            )
            .await
            .expect("the lesson");
        for (id, kind, title, mime, bytes) in [
            (
                "m1",
                MaterialKind::Other,
                "Recording",
                "application/octet-stream",
                &recording,
            ),
            (
                "m2",
                MaterialKind::Image,
                "The board",
                "image/png",
                &picture,
            ),
        ] {
            let path = work.join(id);
            std::fs::write(&path, bytes).expect("write");
            teacher
                .upload_material(
                    "forces",
                    &MaterialUpload {
                        id: id.into(),
                        kind,
                        title: title.into(),
                        mime: mime.into(),
                    },
                    &path,
                )
                .await
                .expect("the upload");
        }
    });
    let token = server
        .mint_token(ROOM, "ada", WireRole::Student, Duration::from_secs(3600))
        .expect("a token");
    let server = std::sync::Mutex::new(Some(server));

    Scenario::run("library", app(), |s| {
        let student = s.launch(AppOptions::new("student").language("en"))?;
        let invite = flows::Invite {
            server: url.clone(),
            room: ROOM.into(),
            token: token.clone(),
            link: classroom_app::link::invite_link(&url, ROOM, &token, None),
            code: String::new(),
        };
        flows::join_class(&student, "Ada", &invite)?;

        // 5 MB/s: a school that keeps some of its line for the class.
        student.click_testid("open-settings")?;
        student.select_option("Download speed", "mb5")?;
        flows::scroll_to(&student, "settings-download-limit")?;
        keep(s, &student, "settings-library-en")?;
        student.press(&Key::Escape.to_string())?;

        student.click_testid("open-library")?;
        student.wait_for_testid("library-dialog", WAIT)?;
        student.click_testid("library-refresh")?;
        student.wait_for_text("Forces and motion", WAIT)?;
        student.wait_for_text("Not downloaded", WAIT)?;
        keep(s, &student, "library-catalog-en")?;
        student.click_testid("lesson-download")?;

        // The bar moves; at about a quarter the server stops.
        let done_at_cut = student.wait_until(WAIT, "a quarter downloaded", || {
            let value: Option<f64> = student.eval(
                "const p = document.querySelector('[data-testid=lesson-progress] progress');\
                 return p === null ? null : p.value;",
                vec![],
            )?;
            Ok(value.filter(|v| *v >= 25.0))
        })?;
        keep(s, &student, "library-downloading-en")?;
        let stopped = server.lock().expect("server").take().expect("running");
        runtime.block_on(stopped.shutdown());
        student.wait_for_text("Waiting for the network", Duration::from_secs(30))?;
        let waiting: f64 = student.eval(
            "return document.querySelector('[data-testid=lesson-progress] progress').value;",
            vec![],
        )?;
        keep(s, &student, "library-waiting-en")?;
        eprintln!("cut at {done_at_cut}%, waiting at {waiting}%");

        // Back on the same address, with the same key and lessons.
        let back = runtime
            .block_on(classroom_sfu::start(config(addr, Some(key.clone()))))
            .map_err(|e| anyhow::anyhow!("the server again: {e}"))?;
        // It goes on from where it was: the bar never goes back to the start.
        let mut lowest = 100.0f64;
        student.wait_until(Duration::from_secs(90), "the lesson on this computer", || {
            let value: Option<f64> = student.eval(
                "const p = document.querySelector('[data-testid=lesson-progress] progress');\
                 return p === null ? null : p.value;",
                vec![],
            )?;
            if let Some(v) = value {
                lowest = lowest.min(v);
            }
            let state: Option<String> = student.eval(
                "return document.querySelector('[data-testid=lesson-forces]')?.dataset.state ?? null;",
                vec![],
            )?;
            Ok((state.as_deref() == Some("offline")).then_some(()))
        })?;
        ensure!(
            lowest >= waiting - 1.0,
            "the download started again from {lowest}% after the cut at {waiting}%"
        );
        let sent_again = back.metrics().snapshot().lesson_bytes_out;
        eprintln!(
            "after the server came back it sent {sent_again} bytes of {}",
            recording.len() + picture.len()
        );
        ensure!(
            (sent_again as usize) < recording.len() + picture.len() - 5_000_000,
            "the server sent {sent_again} bytes after coming back: the download started over"
        );
        student.wait_for_text("is on this computer", WAIT)?;
        keep(s, &student, "library-offline-en")?;

        // The server goes away for good: the picture opens from this computer.
        runtime.block_on(back.shutdown());
        student.click_testid("lesson-files")?;
        student.wait_for_testid("lesson-materials", WAIT)?;
        student.wait_for_text("The board", WAIT)?;
        student.eval::<()>(
            "const rows = [...document.querySelectorAll('[data-testid=lesson-materials] li')];\
             const row = rows.find((r) => r.innerText.includes('The board'));\
             row.querySelector('[data-testid=material-open]').click();",
            vec![],
        )?;
        let size = shown_picture(&student)?;
        ensure!(size == (640, 400), "the picture is {size:?}");
        keep(s, &student, "library-viewer-en")?;
        Ok(())
    });
    let _ = std::fs::remove_dir_all(&work);
}

/// A teacher adds a lesson and a picture to the class from the library (the file handed to
/// the page's file input as a person's pick would be), a student in Chinese downloads it,
/// the teacher ends the class, and the picture opens on the student's computer.
#[test]
fn a_teacher_adds_a_lesson_and_a_student_opens_it_after_the_class() {
    Scenario::run("lessons", app(), |s| {
        let teacher = s.launch(AppOptions::new("teacher"))?;
        let student = s.launch(AppOptions::new("student").language("zh-CN"))?;
        let invite = flows::host_class(&teacher, "Ms. Rivera", "physics-7b")?;

        teacher.click_testid("open-library")?;
        teacher.wait_for_testid("library-dialog", WAIT)?;
        teacher.type_into_testid("lesson-title", "Light and lenses")?;
        teacher.click("Add")?;
        teacher.wait_for_text("Light and lenses", WAIT)?;
        teacher.wait_for_testid("material-input", WAIT)?;
        // The picture, as the file input would hold it after a pick.
        let picture = noise_png(320, 200, 11);
        flows::pick_file(
            &teacher,
            "material-input",
            &picture,
            "lens-diagram.png",
            "image/png",
        )?;
        teacher.wait_for_text("lens-diagram.png was added.", WAIT)?;
        keep(s, &teacher, "lessons-teacher-en")?;

        flows::join_class(&student, "Ada", &invite)?;
        student.click_testid("open-library")?;
        student.wait_for_testid("library-dialog", WAIT)?;
        student.click_testid("library-refresh")?;
        student.wait_for_text("Light and lenses", WAIT)?;
        student.wait_for_text("未下载", WAIT)?;
        student.click_testid("lesson-download")?;
        student.wait_for_text("已下载到本机", WAIT)?;
        student.wait_for_text("已在本机", WAIT)?;
        keep(s, &student, "lessons-student-zh")?;
        // The library searches titles and notes as the student types.
        student.type_into_testid("library-search", "lenses")?;
        flows::wait_for_text_in_testid(&student, "library-hits", "Light and lenses")?;
        student.type_into_testid("library-search", "gravity")?;
        flows::wait_for_text_in_testid(&student, "library-hits", "没有课程包含这些词。")?;
        student.type_into_testid("library-search", "lenses")?;
        flows::wait_for_text_in_testid(&student, "library-hits", "Light and lenses")?;

        // The teacher ends the class: the server is gone with it.
        teacher.click_testid("library-close")?;
        flows::leave_class(&teacher)?;
        // A search hit opens its lesson's files.
        student.click_selector("[data-testid=library-hits] button")?;
        student.wait_for_testid("lesson-materials", WAIT)?;
        student.wait_for_text("lens-diagram.png", WAIT)?;
        student.click_testid("material-open")?;
        let size = shown_picture(&student)?;
        ensure!(size == (320, 200), "the picture is {size:?}");
        keep(s, &student, "lessons-viewer-zh")?;
        Ok(())
    });
}
