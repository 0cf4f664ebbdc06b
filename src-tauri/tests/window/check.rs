//! The check before a class in the real window: the camera the class would get moves in the
//! preview, the microphone's meter follows the tone a class without a microphone sends, the
//! speaker test says what it can, and the connection to a real class server on loopback is
//! measured and judged; in English and Chinese. Closing the check frees the devices for the
//! class.

use super::*;

/// A real class server on loopback for the connection check (nothing joins it).
fn class_server() -> (tokio::runtime::Runtime, classroom_sfu::ServerHandle) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let server = runtime
        .block_on(classroom_sfu::start(classroom_sfu::ServerConfig::loopback()))
        .expect("a class server");
    (runtime, server)
}

/// The meter's level now, in dBFS (None before the first reading).
fn meter_db(win: &Window) -> Result<Option<f64>> {
    Ok(flows::data_of_testid(win, "check-meter", "db")?.and_then(|db| db.parse().ok()))
}

#[test]
fn the_check_before_a_class_shows_the_camera_meters_the_microphone_and_judges_the_connection() {
    let (runtime, server) = class_server();
    let url = server.url();
    Scenario::run("check", app(), |s| {
        let win = s.launch(
            AppOptions::new("student").args(["--role", "student", "--server", &url, "--room", "r"]),
        )?;
        win.wait_for_text("Join a class", WAIT)?;
        win.click_testid("open-check")?;
        win.wait_for_testid("check-dialog", WAIT)?;
        // The picture the class would get: the test pattern where there is no camera.
        let moved = flows::wait_for_moving_video(&win, "[data-testid=check-preview] canvas", WAIT)?;
        eprintln!("preview moved by {moved:.1} per channel");
        // The tone a class without a microphone sends reads near -17 dBFS.
        let db = win.wait_until(WAIT, "the meter to hear the microphone", || {
            Ok(meter_db(&win)?.filter(|db| *db > -40.0))
        })?;
        eprintln!("meter at {db:.1} dBFS");
        flows::wait_for_text_in_testid(&win, "check-mic-note", "We hear you.")?;
        // The server on loopback: reached, encrypted or not as its URL says, judged good.
        flows::wait_for_text_in_testid(&win, "check-network", "Good connection.")?;
        let verdict: String = win.eval(
            "return document.querySelector('[data-testid=check-network] [data-verdict]').dataset.verdict;",
            vec![],
        )?;
        ensure!(verdict == "good", "verdict {verdict}");
        // A speaker plays the chime; without one, the button says so instead of failing later.
        if win.is_disabled_testid("check-speaker")? {
            flows::wait_for_text_in_testid(&win, "check-speaker-note", "No speaker")?;
        } else {
            win.click_testid("check-speaker")?;
            win.wait_until(WAIT, "the test sound played or refused in words", || {
                let note = win.text_of_testid("check-speaker-note")?;
                Ok((note.contains("Did you hear") || !note.contains("two notes")).then_some(note))
            })?;
        }
        keep(s, &win, "check-en")?;

        // Again right away: the page waits its turn (Rust takes one check a second) and
        // measures again, rather than showing the pace as a failure.
        let answers = || -> Result<u32> {
            let n = flows::data_of_testid(&win, "check-network", "answers")?;
            Ok(n.context("the connection check's answer count")?.parse()?)
        };
        let before = answers()?;
        win.click_testid("check-network-again")?;
        win.wait_until(WAIT, "the second connection check", || {
            Ok((answers()? > before).then_some(()))
        })?;
        flows::wait_for_text_in_testid(&win, "check-network", "Good connection.")?;

        // Closing frees the devices: the class can take them.
        win.click_testid("check-close")?;
        win.wait_until(WAIT, "the dialog to close", || {
            let open: bool = win.eval(
                "return document.querySelector('[data-testid=check-dialog]').open;",
                vec![],
            )?;
            Ok((!open).then_some(()))
        })?;

        // In Chinese: a server that is not there is said in words, without saying why.
        let zh = s.launch(AppOptions::new("student-zh").language("zh-CN").args([
            "--role",
            "student",
            "--server",
            "ws://127.0.0.1:9/ws",
            "--room",
            "r",
        ]))?;
        zh.wait_for_text("进入课堂", WAIT)?;
        zh.click_testid("open-check")?;
        zh.wait_for_testid("check-dialog", WAIT)?;
        flows::wait_for_moving_video(&zh, "[data-testid=check-preview] canvas", WAIT)?;
        zh.wait_until(WAIT, "the unreachable server in words", || {
            let verdict: Option<String> = zh.eval(
                "return document.querySelector('[data-testid=check-network] [data-verdict]')?.dataset.verdict ?? null;",
                vec![],
            )?;
            Ok(verdict.filter(|v| v == "unreachable"))
        })?;
        let said = zh.text_of_testid("check-network")?;
        ensure!(
            said.contains("无法连接课堂服务器")
                && !said.contains("refused")
                && !said.contains("did not answer"),
            "the failure in Chinese, not why and not in English: {said}"
        );
        ensure!(zh.has_text("检查摄像头、麦克风和网络")?);
        keep(s, &zh, "check-zh")?;
        Ok(())
    });
    runtime.block_on(server.shutdown());
}
