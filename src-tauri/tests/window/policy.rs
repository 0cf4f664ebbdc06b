//! A school's policy in the real window: a setting the school locks is in effect and shown
//! as locked on the settings screen, with where the school set it; what it only recommends
//! the person may change; a locked class server is filled in and no other is joined.

use super::*;

#[test]
fn a_setting_the_school_locks_is_in_effect_and_shown_locked() {
    let dir = std::env::temp_dir().join(format!("classroom-policy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (level, json) in [
        (
            "managed",
            r#"{"language": "zh-CN", "updates": "off", "serverUrl": "wss://class.school.example/ws"}"#,
        ),
        ("recommended", r#"{"theme": "dark"}"#),
    ] {
        std::fs::create_dir_all(dir.join(level)).expect("a policy folder");
        std::fs::write(dir.join(level).join("10-school.json"), json).expect("a policy file");
    }
    let policy_dir = dir.to_string_lossy().into_owned();
    Scenario::run("policy", app(), |s| {
        // An English desktop; the school locks Chinese.
        let win = s.launch(AppOptions::new("student").env("CLASSROOM_POLICY_DIR", &policy_dir))?;
        win.wait_for_text("进入课堂", WAIT)?;
        let theme: String = win.eval("return document.documentElement.dataset.theme;", vec![])?;
        ensure!(theme == "dark", "the recommended theme applies: {theme}");
        // The school's server is filled in; a class found by code is not it: refused, saying so.
        let server: String = win.eval(
            "return document.querySelector('[data-testid=join-server]').value;",
            vec![],
        )?;
        ensure!(
            server == "wss://class.school.example/ws",
            "the school's server: {server:?}"
        );
        win.click_testid("role-student")?;
        win.type_into_testid("join-name", "Ada")?;
        win.type_into_testid("join-code", "K7QM-3XZ2-9HWD")?;
        win.click_testid("join-submit")?;
        flows::wait_for_text_in_testid(&win, "join-failure", "学校的策略不允许这样做")?;
        flows::wait_for_text_in_testid(&win, "join-failure", "wss://class.school.example/ws")?;
        keep(s, &win, "join-locked-zh")?;
        win.click_testid("open-settings")?;
        win.wait_for_testid("settings-language-locked", WAIT)?;
        let disabled: bool = win.eval(
            "return document.querySelector('[data-testid=settings-language]').disabled;",
            vec![],
        )?;
        ensure!(disabled, "the language cannot be changed");
        flows::wait_for_text_in_testid(&win, "settings-language-locked", "10-school.json")?;
        keep(s, &win, "settings-locked-zh")?;
        // Recommended, not locked: the person picks the light theme.
        win.click_selector("input[name=theme][value=light]")?;
        win.wait_until(WAIT, "the light theme", || {
            let theme: String =
                win.eval("return document.documentElement.dataset.theme;", vec![])?;
            Ok((theme == "light").then_some(()))
        })?;
        Ok(())
    });
    let _ = std::fs::remove_dir_all(&dir);
}
