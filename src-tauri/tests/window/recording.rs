//! A student whose school lets students record records the lesson in the real window: the
//! button in the class, the time running while it records, the teacher told that someone
//! records and who, the note where it went, and the
//! recording in the library, played by the page's own `<video>` from this computer's copy;
//! in English, then again in Chinese, kept by leaving the class while it records.

use super::*;

#[test]
fn a_student_records_the_lesson_and_watches_it_in_the_library() {
    let dir = policy_folder(
        "record",
        &[(
            "managed/30-recording.json",
            r#"{"studentsMayRecord": true}"#,
        )],
    );
    let policy_dir = dir.to_string_lossy().into_owned();
    Scenario::run("recording", app(), |s| {
        let teacher = s.launch(AppOptions::new("teacher"))?;
        let student =
            s.launch(AppOptions::new("student").env("CLASSROOM_POLICY_DIR", &policy_dir))?;
        let invite = flows::host_class(&teacher, "Ms. Rivera", "history-9")?;
        flows::join_class(&student, "Ada", &invite)?;
        flows::wait_for_moving_video(&student, REMOTE_CAMERA, flows::JOIN_WAIT)?;

        // Clicked once it is on (`click_testid` waits for that).
        student.click_testid("record")?;
        flows::wait_for_text_in_testid(&student, "recording-status", "Recording 0:0")?;
        flows::wait_for_text_in_testid(&student, "recording-status", "Recording 0:03")?;
        flows::wait_for_text_in_testid(&student, "record", "Stop recording")?;
        keep(s, &student, "class-student-recording-en")?;
        // The teacher's voice keeps arriving while the student records (its rate in the
        // table): a voice held up after its first second once read 0.0 here for good.
        voice_keeps_arriving(&student)?;
        // The class is told: the teacher sees that someone records, and who.
        flows::wait_for_text_in_testid(
            &teacher,
            "being-recorded",
            "Someone is recording this class on their computer.",
        )?;
        teacher.wait_until(WAIT, "Ada marked as recording", || {
            let marked: bool = teacher.eval(
                "return document.querySelector('[data-testid=participant][data-name=\"Ada\"] \
                 [data-testid=recording-tag]') !== null;",
                vec![],
            )?;
            Ok(marked.then_some(()))
        })?;
        flows::scroll_to(&teacher, "being-recorded")?;
        keep(s, &teacher, "class-teacher-recorded-en")?;
        student.click_testid("record")?;
        flows::wait_for_text_in_testid(
            &student,
            "record-note",
            "Saved in your library: history-9, ",
        )?;
        flows::wait_for_text_in_testid(&student, "record", "Record")?;
        ensure!(
            !student.has_testid("recording-status")?,
            "the time is gone once it stopped"
        );
        teacher.wait_until(WAIT, "the notice gone", || {
            Ok((!teacher.has_testid("being-recorded")?).then_some(()))
        })?;

        // Again in Chinese.
        student.click("Settings")?;
        student.select_option("Language", "zh-CN")?;
        student.press(&Key::Escape.to_string())?;
        flows::wait_for_text_in_testid(&student, "record", "录制")?;
        student.click_testid("record")?;
        flows::wait_for_text_in_testid(&student, "recording-status", "正在录制 0:02")?;
        flows::wait_for_text_in_testid(&student, "record", "停止录制")?;
        keep(s, &student, "class-student-recording-zh")?;
        // Leaving the class keeps the recording under way; then the class ends, and the
        // recordings play from this computer.
        student.click_testid("leave-class")?;
        student.wait_for_testid("join-submit", WAIT)?;
        flows::end_class(&teacher)?;
        student.click_testid("open-library")?;
        student.wait_for_testid("library-dialog", WAIT)?;
        student.wait_for_text("本机录制", WAIT)?;
        let lessons: u32 = student.eval(
            "return document.querySelectorAll('[data-testid=lesson-files]').length;",
            vec![],
        )?;
        ensure!(
            lessons == 2,
            "both recordings are in the library: {lessons}"
        );
        keep(s, &student, "library-recordings-zh")?;
        play_first_recording(&student)?;
        keep(s, &student, "library-recording-zh")?;
        Ok(())
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits until the table's row for the teacher's microphone shows sound arriving (a rate
/// above zero kbit/s, as the person sees it), twice a poll apart.
fn voice_keeps_arriving(student: &Window) -> Result<()> {
    let rate = || -> Result<f64> {
        let text: String = student.eval(
            "const cell = document.querySelector('tr[data-kind=audio] td:nth-of-type(3)'); \
             return cell ? cell.innerText : '';",
            vec![],
        )?;
        Ok(text.trim().parse::<f64>().unwrap_or(0.0))
    };
    for _ in 0..2 {
        student.wait_until(
            WAIT,
            "the teacher's voice arriving (kbit/s above 0)",
            || Ok((rate()? > 0.0).then_some(())),
        )?;
        std::thread::sleep(Duration::from_millis(1100));
    }
    Ok(())
}

/// The teacher records the lesson (through the app's own observer session, the teacher's
/// companion in the class: the teacher's app does not receive its own media), no extra
/// person appears in the class, the student is told, the teacher shares
/// the recording with the class, and the student downloads it and watches it offline.
#[test]
fn a_teacher_records_the_lesson_and_shares_it_with_the_class() {
    Scenario::run("teacher-recording", app(), |s| {
        let teacher = s.launch(AppOptions::new("teacher"))?;
        let student = s.launch(AppOptions::new("student"))?;
        let invite = flows::host_class(&teacher, "Ms. Rivera", "history-9")?;
        flows::join_class(&student, "Ada", &invite)?;
        flows::wait_for_moving_video(&student, REMOTE_CAMERA, flows::JOIN_WAIT)?;
        // No policy lets this student record: no button for them.
        ensure!(
            !student.has_testid("record")?,
            "the student is offered no recording"
        );

        teacher.click_testid("record")?;
        flows::wait_for_text_in_testid(&teacher, "recording-status", "Recording 0:03")?;
        flows::wait_for_text_in_testid(
            &student,
            "being-recorded",
            "Your teacher is recording this lesson.",
        )?;
        keep(s, &student, "class-student-teacher-records-en")?;
        // The recording's own session is part of the teacher: the list holds the teacher
        // (marked recording) and Ada, no third row.
        let rows: Vec<String> = teacher.wait_until(WAIT, "the teacher marked as recording", || {
            let rows: Vec<String> = teacher.eval(
                "return [...document.querySelectorAll('[data-testid=participant]')]\
                 .map(p => p.dataset.name + (p.querySelector('[data-testid=recording-tag]') ? ' (recording)' : ''));",
                vec![],
            )?;
            Ok(rows.iter().any(|r| r.ends_with("(recording)")).then_some(rows))
        })?;
        ensure!(
            rows == ["Ms. Rivera (recording)", "Ada"],
            "the teacher's list: {rows:?}"
        );
        keep(s, &teacher, "class-teacher-recording-en")?;
        teacher.click_testid("record")?;
        flows::wait_for_text_in_testid(
            &teacher,
            "record-note",
            "Saved in your library: history-9, ",
        )?;
        teacher.click_testid("share-recording")?;
        flows::wait_for_text_in_testid(&teacher, "record-note", "Shared with the class")?;
        keep(s, &teacher, "class-teacher-recording-shared-en")?;

        // The student takes it from the class and watches it.
        student.click_testid("open-library")?;
        student.wait_for_testid("library-dialog", WAIT)?;
        student.click_testid("library-refresh")?;
        student.wait_for_testid("lesson-download", WAIT)?;
        student.click_testid("lesson-download")?;
        student.wait_until(
            Duration::from_secs(30),
            "the recording on this computer",
            || {
                let state: Option<String> = student.eval(
                    "return document.querySelector('li.lesson')?.dataset.state ?? null;",
                    vec![],
                )?;
                Ok((state.as_deref() == Some("offline")).then_some(()))
            },
        )?;
        play_first_recording(&student)?;
        keep(s, &student, "library-shared-recording-en")?;

        // The teacher's screens in Chinese: recording, then the recording kept.
        teacher.click("Settings")?;
        teacher.select_option("Language", "zh-CN")?;
        teacher.press(&Key::Escape.to_string())?;
        flows::wait_for_text_in_testid(&teacher, "record", "录制")?;
        teacher.click_testid("record")?;
        flows::wait_for_text_in_testid(&teacher, "recording-status", "正在录制 0:02")?;
        flows::scroll_to(&teacher, "recording-status")?;
        keep(s, &teacher, "class-teacher-recording-zh")?;
        teacher.click_testid("record")?;
        flows::wait_for_text_in_testid(&teacher, "record-note", "已保存到你的资料库")?;
        teacher.wait_for_testid("share-recording", WAIT)?;
        keep(s, &teacher, "class-teacher-recorded-zh")?;
        Ok(())
    });
}

/// Opens the first lesson's file in the open library and plays it in the page's `<video>`,
/// streamed from the app's loopback file server: the picture moves and the file declares a
/// length of a few seconds.
fn play_first_recording(student: &Window) -> Result<()> {
    student.click_testid("lesson-files")?;
    student.wait_until(WAIT, "the recording's file listed", || {
        let opened: bool = student.eval(
            "const open = document.querySelector('[data-testid=lesson-materials] [data-testid=material-open]');\
             if (open === null) return false; open.click(); return true;",
            vec![],
        )?;
        Ok(opened.then_some(()))
    })?;
    student.wait_for_testid("library-video", WAIT)?;
    // Streamed from the app's loopback file server, not a blob of the whole file.
    let src: String = student.eval(
        "return document.querySelector('[data-testid=library-video]').src;",
        vec![],
    )?;
    ensure!(src.starts_with("http://127.0.0.1:"), "played from {src}");
    student.eval::<()>(
        "const v = document.querySelector('[data-testid=library-video]'); v.muted = true; v.play();",
        vec![],
    )?;
    let (width, duration): (u32, f64) =
        student.wait_until(Duration::from_secs(20), "the recording playing", || {
            let state: (f64, u32, f64) = student.eval(
                "const v = document.querySelector('[data-testid=library-video]');\
                 return [v.currentTime, v.videoWidth, v.duration];",
                vec![],
            )?;
            Ok((state.0 > 1.0 && state.1 > 0).then_some((state.1, state.2)))
        })?;
    eprintln!("the recording plays: {width} px wide, {duration} s");
    ensure!(
        duration.is_finite() && (2.0..30.0).contains(&duration),
        "the file declares its length: {duration}"
    );
    Ok(())
}
