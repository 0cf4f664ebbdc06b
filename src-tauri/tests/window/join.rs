//! The first screen in its real window: the join form read, filled and sent by keyboard, at
//! 200 % zoom, and a Chinese desktop's screens in Chinese with the language switched in
//! settings.

use super::*;

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
