//! A school's policy in the real window: a setting the school locks is in effect and shown
//! as locked on the settings screen, with where the school set it; what it only recommends
//! the person may change; a locked class server is filled in and no other is joined.

use super::*;

#[test]
fn a_setting_the_school_locks_is_in_effect_and_shown_locked() {
    let dir = policy_folder(
        "policy",
        &[
            (
                "managed/10-school.json",
                r#"{"language": "zh-CN", "updates": "off", "serverUrl": "wss://class.school.example/ws"}"#,
            ),
            ("recommended/10-school.json", r#"{"theme": "dark"}"#),
        ],
    );
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
        let disabled = win.is_disabled_testid("settings-language")?;
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

#[test]
fn a_school_that_turns_screen_sharing_off_gets_a_class_without_a_screen() {
    let dir = policy_folder(
        "no-share",
        &[(
            "managed/20-no-sharing.json",
            r#"{"screenShareSources": []}"#,
        )],
    );
    let policy_dir = dir.to_string_lossy().into_owned();
    Scenario::run("policy-share", app(), |s| {
        let teacher =
            s.launch(AppOptions::new("teacher").env("CLASSROOM_POLICY_DIR", &policy_dir))?;
        let student = s.launch(AppOptions::new("student"))?;
        let invite = flows::host_class(&teacher, "Ms. Rivera", "art-3")?;
        // The button is off and says why.
        flows::wait_for_text_in_testid(
            &teacher,
            "sharing-off",
            "Your school has turned off screen sharing.",
        )?;
        let disabled = teacher.is_disabled_testid("share-screen")?;
        ensure!(disabled, "the share button is off");
        keep(s, &teacher, "class-teacher-sharing-off-en")?;
        // The class carries the camera, and no screen at all (not a stand-in picture).
        flows::join_class(&student, "Ada", &invite)?;
        flows::wait_for_moving_video(&student, flows::REMOTE_CAMERA, flows::JOIN_WAIT)?;
        std::thread::sleep(std::time::Duration::from_secs(2));
        let captions: Vec<String> = student.eval(
            "return [...document.querySelectorAll('[data-testid=class-view] figcaption')]\
             .map((c) => c.textContent.trim());",
            vec![],
        )?;
        // ("Ms. Rivera · Camera · speaking": the student sees who sends it, and that the
        // teacher's test tone plays.)
        ensure!(
            captions.len() == 1
                && captions[0].starts_with("Ms. Rivera · Camera")
                && !captions[0].contains("Screen"),
            "the student receives the camera only: {captions:?}"
        );
        Ok(())
    });
    let _ = std::fs::remove_dir_all(&dir);
}
