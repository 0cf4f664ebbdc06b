//! Ways into a class in real windows: the class code alone and the lobby, an invite link on
//! the command line, and a link clicked while the app already runs.

use super::*;

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
