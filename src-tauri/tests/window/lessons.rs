//! Lessons in real windows: a download that survives the server stopping and opens with the
//! server gone, and a lesson the teacher adds that a student opens after the class.

use super::*;

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
/// the page's file input as a person's pick would be) and opens it from their own library at
/// once, a student in Chinese downloads it, the teacher ends the class, and the picture opens
/// on the student's computer.
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
        // The teacher's own copy is kept (the library says so to a teacher): the picture
        // opens at once, not downloaded back.
        flows::wait_for_text_in_testid(&teacher, "lesson-state", "On this computer")?;
        ensure!(teacher.has_text("What you add is kept on this computer too.")?);
        keep(s, &teacher, "lessons-teacher-en")?;
        teacher.click_testid("material-open")?;
        let size = shown_picture(&teacher)?;
        ensure!(size == (320, 200), "the teacher's picture is {size:?}");
        keep(s, &teacher, "lessons-teacher-viewer-en")?;
        teacher.click_testid("library-back")?;

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
        flows::end_class(&teacher)?;
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
