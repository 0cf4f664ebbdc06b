//! A class between real windows: a student sees and hears the teacher, leaves and rejoins;
//! hands, chat, a roll call, a poll, the roster and the attendance report between teacher and
//! student; a student on stage seen and heard by another.

use super::*;

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

        // Leave and come back: the picture moves again, and the teacher's list has one Ada
        // (she left: she is not also kept there as reconnecting).
        flows::leave_class(&student)?;
        student.wait_for_text("进入课堂", WAIT)?;
        flows::join_class(&student, "Ada", &invite)?;
        flows::wait_for_moving_video(&student, REMOTE_CAMERA, flows::JOIN_WAIT)?;
        teacher.wait_until(WAIT, "one Ada on the teacher's list", || {
            let adas: u32 = teacher.eval(
                "return document.querySelectorAll('[data-testid=participant][data-name=Ada]').length;",
                vec![],
            )?;
            Ok((adas == 1).then_some(()))
        })?;

        // The teacher's Leave asks first (it ends the class for everyone): kept teaching, the
        // student's picture still moves. Then the teacher ends the class; the student is told,
        // in the student's language, that the teacher ended it (not the server's words).
        teacher.click_testid("leave-class")?;
        flows::wait_for_text_in_testid(&teacher, "end-confirm", "要为所有人结束课堂吗")?;
        keep(s, &teacher, "class-teacher-end-confirm-zh")?;
        teacher.click_testid("end-no")?;
        flows::wait_for_moving_video(&student, REMOTE_CAMERA, WAIT)?;
        ensure!(
            !teacher.has_testid("end-confirm")?,
            "the question stays after Keep teaching"
        );
        flows::end_class(&teacher)?;
        student.wait_for_text("课堂已结束。", Duration::from_secs(20))?;
        flows::wait_for_text_in_testid(&student, "ended-why", "老师结束了课堂。")?;
        ensure!(
            !student.has_text("server shutting down")?,
            "the student reads the server's English words"
        );
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

        // The teacher removes the student (asked first: it cannot be undone), who is told so
        // in English.
        teacher.click("将Ada移出课堂")?;
        flows::wait_for_text_in_testid(&teacher, "remove-confirm", "移出后不能再回到这个课堂")?;
        keep(s, &teacher, "panels-teacher-zh-remove")?;
        teacher.click_testid("remove-yes")?;
        flows::wait_for_text_in_testid(
            &student,
            "ended-why",
            "The teacher removed you from the class.",
        )?;
        ensure!(
            !student.has_text("The server refused")?,
            "the removal is said twice, once in the server's words"
        );
        ensure!(
            student.has_text("You are no longer in this class.")?
                && !student.has_text("The class has ended.")?,
            "the class did not end, the student's place in it did"
        );
        keep(s, &student, "class-removed-en")?;
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
