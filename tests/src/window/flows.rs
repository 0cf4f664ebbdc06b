//! What a person does in the app, one function each, for the window tests.
//!
//! Tests call these instead of clicking through the screens themselves, so when a screen
//! changes (joining by class code instead of server, room and token) only the function here
//! changes. They find controls by `data-testid`, so they work whatever the app's language.

use std::time::Duration;

use anyhow::{Context, Result};

use super::{WAIT, Window};

/// How long starting or joining a class may take: the teacher's app starts a server, a camera,
/// a microphone and a screen capture, and negotiates media.
pub const JOIN_WAIT: Duration = Duration::from_secs(60);

/// What a student needs to join a teacher's class, as the teacher's screen shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    /// The class server's address.
    pub server: String,
    /// The room.
    pub room: String,
    /// The student join token.
    pub token: String,
    /// All of it as one link (with the certificate pin of a class on the school network).
    pub link: String,
    /// The short class code (`XXXX-XXXX-XXXX`) a student types to join through the lobby.
    pub code: String,
}

/// Replaces the text of the field with `data-testid="id"`.
fn fill(window: &Window, id: &str, text: &str) -> Result<()> {
    window.type_into_testid(id, text)
}

/// The teacher starts a class on this computer from the join screen; returns the invite their
/// class view shows.
pub fn host_class(teacher: &Window, name: &str, room: &str) -> Result<Invite> {
    teacher.wait_for_testid("join-form", WAIT)?;
    teacher.click_testid("role-teacher")?;
    fill(teacher, "join-name", name)?;
    fill(teacher, "join-room", room)?;
    teacher.click_testid("join-submit")?;
    teacher
        .wait_for_testid("class-view", JOIN_WAIT)
        .context("the teacher's class view")?;
    let invite = Invite {
        server: teacher.value_of_testid("invite-server")?,
        room: teacher.value_of_testid("invite-room")?,
        token: teacher.value_of_testid("invite-token")?,
        link: teacher.value_of_testid("invite-link")?,
        code: teacher.value_of_testid("invite-code")?,
    };
    anyhow::ensure!(
        (invite.server.starts_with("ws://") || invite.server.starts_with("wss://"))
            && !invite.token.is_empty()
            && invite.link.starts_with("classroom://join?"),
        "the invite looks wrong: {invite:?}"
    );
    Ok(invite)
}

/// A student joins the class of `invite` from the join screen, pasting the invite link.
pub fn join_class(student: &Window, name: &str, invite: &Invite) -> Result<()> {
    student.wait_for_testid("join-form", WAIT)?;
    student.click_testid("role-student")?;
    fill(student, "join-link", &invite.link)?;
    fill(student, "join-name", name)?;
    student.click_testid("join-submit")?;
    student
        .wait_for_testid("class-view", JOIN_WAIT)
        .context("the student's class view")?;
    Ok(())
}

/// A student joins by the class code on the teacher's screen, typing only a name and the
/// code: the app finds the class nearby the code was made for and knocks. Returns once the
/// student waits in the class's lobby (the teacher lets them in) or is in the class view.
pub fn join_by_code(student: &Window, name: &str, code: &str) -> Result<()> {
    student.wait_for_testid("join-form", WAIT)?;
    student.click_testid("role-student")?;
    fill(student, "join-name", name)?;
    fill(student, "join-code", code)?;
    student.click_testid("join-submit")?;
    student
        .wait_until(JOIN_WAIT, "the lobby or the class view", || {
            let failed: Option<String> = student.eval(
                "return document.querySelector('[data-testid=join-failure]')?.innerText ?? null",
                vec![],
            )?;
            if let Some(failed) = failed {
                anyhow::bail!("the join failed: {failed}");
            }
            Ok(student
                .eval::<bool>(
                    "return !!document.querySelector('[data-testid=lobby-waiting], [data-testid=class-view]')",
                    vec![],
                )?
                .then_some(()))
        })
        .context("the student's lobby or class view")?;
    Ok(())
}

/// A student leaves the class and waits for the join screen.
pub fn leave_class(window: &Window) -> Result<()> {
    window.click_testid("leave-class")?;
    window
        .wait_for_testid("join-form", WAIT)
        .context("the join screen after leaving")?;
    Ok(())
}

/// A teacher ends the class: Leave, the yes it asks for (it ends the class for everyone),
/// then the join screen.
pub fn end_class(teacher: &Window) -> Result<()> {
    teacher.click_testid("leave-class")?;
    teacher.click_testid("end-yes")?;
    teacher
        .wait_for_testid("join-form", WAIT)
        .context("the join screen after ending the class")?;
    Ok(())
}

/// The CSS selector of the picture of the remote camera (the first video tile).
pub const REMOTE_CAMERA: &str = "[data-testid=\"class-view\"] figure canvas, \
                                 [data-testid=\"class-view\"] figure video";

/// Waits until the remote camera's picture moves: two reads of the pixels inside it, half a
/// second apart, differ, and the picture is not one flat colour. Returns the mean per-channel
/// difference seen.
pub fn wait_for_moving_video(window: &Window, selector: &str, timeout: Duration) -> Result<f64> {
    window.wait_for(selector, timeout)?;
    window.wait_until(timeout, "a moving picture in the video tile", || {
        let first = window.element_pixels(selector, (32, 18))?;
        if !first.has_picture() || first.spread() < 4.0 {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(500));
        let second = window.element_pixels(selector, (32, 18))?;
        let moved = first.difference(&second);
        Ok((second.has_picture() && moved > 0.5).then_some(moved))
    })
}

/// The `data-<name>` attribute of the element with `data-testid="id"`, if both exist.
pub fn data_of_testid(window: &Window, id: &str, name: &str) -> Result<Option<String>> {
    window.eval(
        "const el = document.querySelector(`[data-testid=\"${arguments[0]}\"]`);\
         return el === null ? null : (el.dataset[arguments[1]] ?? null);",
        vec![serde_json::json!(id), serde_json::json!(name)],
    )
}

/// Waits until the text of the element with `data-testid="id"` contains `text`.
pub fn wait_for_text_in_testid(window: &Window, id: &str, text: &str) -> Result<()> {
    window.wait_until(WAIT, &format!("{text:?} in {id}"), || {
        Ok(window.text_of_testid(id)?.contains(text).then_some(()))
    })
}

/// A student raises their hand and waits until the class gives them a place in the queue.
///
/// A click the page never saw (one was lost once in a loaded run: the button still up, no
/// request sent) is clicked again; a request that was sent and never answered fails, saying
/// so: that would be the app's fault, not the test's.
pub fn raise_hand(student: &Window) -> Result<()> {
    let sent = |w: &Window| -> Result<u64> {
        let n: String = w.eval(
            "return document.querySelector('[data-testid=\"hands-panel\"]')?.dataset.sent ?? '0';",
            vec![],
        )?;
        Ok(n.parse().unwrap_or(0))
    };
    let before = sent(student)?;
    student.click_testid("raise-hand")?;
    if student
        .wait_for_testid("hand-position", Duration::from_secs(10))
        .is_ok()
    {
        return Ok(());
    }
    let after = sent(student)?;
    anyhow::ensure!(
        after == before,
        "{}: the raise-hand request was sent ({before} -> {after} requests) and not answered in 10 s",
        student.label()
    );
    eprintln!(
        "{}: the raise-hand click reached no handler in 10 s (no request sent); clicking again",
        student.label()
    );
    student.click_testid("raise-hand")?;
    student
        .wait_for_testid("hand-position", WAIT)
        .context("the student's place in the hand queue")?;
    Ok(())
}

/// Waits until `name` is in the teacher's queue of raised hands.
pub fn wait_for_raised_hand(teacher: &Window, name: &str) -> Result<()> {
    wait_for_text_in_testid(teacher, "hands-queue", name)
}

/// Sends `text` to the class's chat (a student's goes to everyone).
pub fn send_chat(window: &Window, text: &str) -> Result<()> {
    fill(window, "chat-input", text)?;
    window.click_testid("chat-send")?;
    // The field empties once the app has taken the message.
    window.wait_until(WAIT, "the chat field to empty", || {
        Ok(window
            .value_of_testid("chat-input")?
            .is_empty()
            .then_some(()))
    })
}

/// Sends `text` to the chat by keyboard: typed into the field, then Enter.
pub fn send_chat_by_keyboard(window: &Window, text: &str) -> Result<()> {
    fill(window, "chat-input", text)?;
    window.press(&super::Key::Enter.to_string())?;
    window.wait_until(WAIT, "the chat field to empty", || {
        Ok(window
            .value_of_testid("chat-input")?
            .is_empty()
            .then_some(()))
    })
}

/// Waits until `text` shows in the chat.
pub fn wait_for_chat(window: &Window, text: &str) -> Result<()> {
    wait_for_text_in_testid(window, "chat-log", text)
}

/// The teacher starts a roll call that closes after `seconds`.
pub fn start_roll_call(teacher: &Window, seconds: u32) -> Result<()> {
    fill(teacher, "rollcall-seconds", &seconds.to_string())?;
    teacher.click_testid("rollcall-start")?;
    teacher
        .wait_for_testid("rollcall-end", WAIT)
        .context("the open roll call on the teacher's screen")?;
    Ok(())
}

/// A student answers the roll call ("I'm here") and waits to be marked present.
pub fn answer_roll_call(student: &Window) -> Result<()> {
    student.click_testid("rollcall-answer")?;
    student
        .wait_for_testid("rollcall-done", WAIT)
        .context("the student marked present")?;
    Ok(())
}

/// Waits until the teacher's roll-call tally says `answered` students answered.
pub fn wait_for_roll_call_answers(teacher: &Window, answered: u32) -> Result<()> {
    teacher.wait_until(WAIT, &format!("{answered} answered the roll call"), || {
        let seen = data_of_testid(teacher, "rollcall-tally", "answered")?;
        Ok((seen.as_deref() == Some(answered.to_string().as_str())).then_some(()))
    })
}

/// The teacher starts a single-choice poll with `question` and `options`.
pub fn start_poll(teacher: &Window, question: &str, options: &[&str]) -> Result<()> {
    fill(teacher, "poll-question", question)?;
    for (i, option) in options.iter().enumerate() {
        if i >= 2 {
            teacher.click_testid("poll-add-option")?;
        }
        fill(teacher, &format!("poll-option-{i}"), option)?;
    }
    teacher.click_testid("poll-start")?;
    teacher
        .wait_for_testid("poll-end", WAIT)
        .context("the open poll on the teacher's screen")?;
    Ok(())
}

/// A student picks option `choice` (from 0) of the open poll and sends the answer.
pub fn answer_poll(student: &Window, choice: usize) -> Result<()> {
    student.click_testid(&format!("poll-choice-{choice}"))?;
    student.click_testid("poll-vote")?;
    student
        .wait_for_testid("poll-voted", WAIT)
        .context("the student's answer sent")?;
    Ok(())
}

/// Waits until the teacher's tally shows `votes` votes for option `option` (from 0).
pub fn wait_for_poll_votes(teacher: &Window, option: usize, votes: u32) -> Result<()> {
    let id = format!("poll-count-{option}");
    teacher.wait_until(WAIT, &format!("{votes} votes for option {option}"), || {
        Ok((teacher.text_of_testid(&id)?.trim() == votes.to_string()).then_some(()))
    })
}

/// The teacher brings the student called `name` on stage (or takes them off: it toggles).
pub fn toggle_stage(teacher: &Window, name: &str) -> Result<()> {
    teacher.click_selector(&format!(
        "[data-testid=\"participant\"][data-name={name:?}] [data-testid=\"stage-toggle\"]"
    ))
}

/// A student on stage turns on camera and microphone with the button (their consent).
pub fn start_stage_media(student: &Window) -> Result<()> {
    student
        .wait_for_testid("stage-media-start", WAIT)
        .context("the student's \"turn on camera and microphone\" button")?;
    student.click_testid("stage-media-start")?;
    student
        .wait_for_testid("stage-media-stop", JOIN_WAIT)
        .context("the student's camera and microphone on")?;
    Ok(())
}

/// Scrolls the element with `data-testid="id"` to the top of the window (for a screenshot).
/// Finding and scrolling happen in one script, retried: on a loaded machine the element was
/// once found by WebDriver and gone (re-rendered) by the next call. A retry is reported with
/// what the page showed, so a page that really lost the element can be told apart.
pub fn scroll_to(window: &Window, id: &str) -> Result<()> {
    let mut misses = 0u32;
    window.wait_until(WAIT, &format!("the element {id:?} to scroll to"), || {
        let found = window.eval::<bool>(
            "const el = document.querySelector(`[data-testid=\"${arguments[0]}\"]`);\
             if (el === null) return false;\
             el.scrollIntoView({block: 'start'}); return true;",
            vec![serde_json::json!(id)],
        )?;
        if !found {
            misses += 1;
            if misses == 1 {
                let page: String = window
                    .eval(
                        "return (document.body?.innerText ?? '').slice(0, 300);",
                        vec![],
                    )
                    .unwrap_or_default();
                eprintln!(
                    "{}: no {id:?} to scroll to yet; the page shows: {page:?}",
                    window.label()
                );
            }
        }
        Ok(found.then_some(()))
    })
}

/// Scrolls the class panels into view (for a screenshot of them).
pub fn show_panels(window: &Window) -> Result<()> {
    scroll_to(window, "class-panels")
}

/// The teacher lets everyone waiting in the lobby into the class.
pub fn admit_all(teacher: &Window) -> Result<()> {
    teacher
        .wait_for_testid("admit-all", WAIT)
        .context("the teacher's \"admit everyone\" button")?;
    teacher.click_testid("admit-all")
}

/// Puts a file in the file input `data-testid="id"` as a pick would (`bytes` named `name`, of
/// type `mime`) and tells the page it changed.
pub fn pick_file(window: &Window, id: &str, bytes: &[u8], name: &str, mime: &str) -> Result<()> {
    pick_files(window, id, &[(bytes, name, mime)])
}

/// Chooses several files at once in the file input `id`, as a person choosing them in the
/// system's file dialog would: `(bytes, name, type)` each, in that order.
pub fn pick_files(window: &Window, id: &str, files: &[(&[u8], &str, &str)]) -> Result<()> {
    let files: Vec<serde_json::Value> = files
        .iter()
        .map(|(bytes, name, mime)| serde_json::json!([bytes, name, mime]))
        .collect();
    window.eval::<()>(
        "const input = document.querySelector(`[data-testid=\"${arguments[0]}\"]`);\
         const files = new DataTransfer();\
         for (const [bytes, name, type] of arguments[1]) \
           files.items.add(new File([Uint8Array.from(bytes)], name, { type }));\
         input.files = files.files;\
         input.dispatchEvent(new Event('change', { bubbles: true }));",
        vec![serde_json::json!(id), serde_json::json!(files)],
    )
}

/// The teacher sets homework titled `title` for the class (the homework dialog opened).
pub fn set_homework(teacher: &Window, title: &str) -> Result<()> {
    teacher.click_testid("open-homework")?;
    teacher.wait_for_testid("homework-dialog", WAIT)?;
    teacher.type_into_testid("homework-new-title", title)?;
    teacher.click_testid("homework-set")?;
    // “Fractions” is set for the class. / 已为班级布置“Fractions”。
    teacher.wait_for_text(&format!("“{title}”"), WAIT)?;
    Ok(())
}
