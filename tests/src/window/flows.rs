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

/// Leaves the class (a teacher's leaving ends it) and waits for the join screen.
pub fn leave_class(window: &Window) -> Result<()> {
    window.click_testid("leave-class")?;
    window
        .wait_for_testid("join-form", WAIT)
        .context("the join screen after leaving")?;
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
