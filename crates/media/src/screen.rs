//! What can be shared: the whole screen or one window.
//!
//! On X11 windows are listed through the EWMH `_NET_CLIENT_LIST` the window manager keeps
//! (read with `xprop`, from x11-utils, rather than a new X11 crate in the graph), falling
//! back to the root's children (`xwininfo`) when no window manager runs; `ximagesrc xid=…`
//! captures one of them. Wayland has no way for an app to read the screen: there the person
//! picks a screen or window in the desktop portal's own dialog ([`crate::portal`]) and the
//! PipeWire stream it grants is captured with `pipewiresrc`.

use std::process::Command;

use crate::MediaError;

/// One window that can be shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowInfo {
    /// X11 window id, for `ximagesrc xid=`.
    pub xid: u64,
    /// The window's title.
    pub title: String,
}

/// The kind of desktop session, from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisplayServer {
    /// An X11 display (also XWayland when `DISPLAY` is set but Wayland is the session).
    X11 {
        /// e.g. `:0`.
        display: String,
    },
    /// A Wayland session without X11 access.
    Wayland,
    /// No display at all (a server, CI without Xvfb).
    Headless,
}

/// Reads the session type from `XDG_SESSION_TYPE`, `WAYLAND_DISPLAY` and `DISPLAY`.
pub fn display_server() -> DisplayServer {
    let var = |k| std::env::var(k).ok().filter(|v: &String| !v.is_empty());
    classify(
        var("XDG_SESSION_TYPE").as_deref(),
        var("WAYLAND_DISPLAY").is_some(),
        var("DISPLAY"),
    )
}

fn classify(session: Option<&str>, wayland: bool, display: Option<String>) -> DisplayServer {
    // Under a Wayland session XWayland's DISPLAY only shows X11 clients, never the desktop:
    // capturing it would share a mostly black screen, so Wayland wins.
    if session == Some("wayland") || (wayland && session != Some("x11")) {
        return DisplayServer::Wayland;
    }
    match display {
        Some(display) => DisplayServer::X11 { display },
        None => DisplayServer::Headless,
    }
}

/// The X11 display whose screen `ximagesrc` can capture, or why there is none. A Wayland
/// session shares through the desktop portal instead ([`crate::portal`]).
pub fn check_screen_capture() -> Result<String, MediaError> {
    match display_server() {
        DisplayServer::X11 { display } => Ok(display),
        DisplayServer::Wayland => Err(MediaError::Device(
            "a Wayland desktop is not readable through X11; share it through the desktop \
             portal"
                .into(),
        )),
        DisplayServer::Headless => Err(MediaError::Device("there is no display to share".into())),
    }
}

/// The top-level windows of X display `display`.
pub fn list_windows(display: &str) -> Result<Vec<WindowInfo>, MediaError> {
    let run = |program: &str, args: &[&str]| -> Result<String, MediaError> {
        let out = Command::new(program)
            .arg("-display")
            .arg(display)
            .args(args)
            .output()
            .map_err(|e| MediaError::Device(format!("{program} (x11-utils): {e}")))?;
        if !out.status.success() {
            return Err(MediaError::Device(format!(
                "{program}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let ids = parse_client_list(&run("xprop", &["-root", "_NET_CLIENT_LIST"])?);
    if ids.is_empty() {
        // No EWMH window manager (e.g. a bare Xvfb): the root's mapped children are the windows.
        return Ok(parse_xwininfo_children(&run(
            "xwininfo",
            &["-root", "-children"],
        )?));
    }
    let mut windows = Vec::new();
    for xid in ids {
        let id = format!("{xid:#x}");
        let text = run("xprop", &["-id", &id, "_NET_WM_NAME", "WM_NAME"]).unwrap_or_default();
        windows.push(WindowInfo {
            xid,
            title: parse_window_name(&text).unwrap_or_default(),
        });
    }
    Ok(windows)
}

/// Where a shared window is on the screen, clipped to the screen, and whether it shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowArea {
    /// Left edge, in root-window pixels.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width of the visible part.
    pub width: u32,
    /// Height of the visible part.
    pub height: u32,
    /// Mapped (not minimized) and at least partly on the screen.
    pub viewable: bool,
}

/// Where window `xid` is on `display` now; `None` once it is gone.
///
/// A window is shared by capturing its area of the *root* window, never through
/// `ximagesrc xid=`: with an xid ximagesrc asks X about that window every frame without an
/// X error handler of its own, and Xlib's default handler *exits the process* on a bad
/// window, so closing a shared window killed the app (seen under Xvfb: "BadWindow ...
/// X_GetWindowAttributes", exit 1). Installing our own Xlib handler needs unsafe FFI, which
/// this workspace forbids. The root never goes away; a watcher follows the window's area.
pub fn window_area(display: &str, xid: u64) -> Option<WindowArea> {
    let run = |args: &[&str]| {
        let out = Command::new("xwininfo")
            .arg("-display")
            .arg(display)
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let window = run(&["-id", &format!("{xid:#x}")])?;
    let root = run(&["-root"])?;
    parse_window_area(&window, &root)
}

/// A window's area from `xwininfo -id X` output, clipped to the screen from `xwininfo -root`.
pub fn parse_window_area(window: &str, root: &str) -> Option<WindowArea> {
    let field = |text: &str, name: &str| -> Option<i64> {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
    };
    let (x, y) = (
        field(window, "Absolute upper-left X:")?,
        field(window, "Absolute upper-left Y:")?,
    );
    let (w, h) = (field(window, "Width:")?, field(window, "Height:")?);
    let (rw, rh) = (field(root, "Width:")?, field(root, "Height:")?);
    let mapped = window
        .lines()
        .find_map(|l| l.trim().strip_prefix("Map State:"))
        .is_some_and(|v| v.trim() == "IsViewable");
    let (x0, y0) = (x.clamp(0, rw), y.clamp(0, rh));
    let (x1, y1) = ((x + w).clamp(0, rw), (y + h).clamp(0, rh));
    let (width, height) = ((x1 - x0).max(0), (y1 - y0).max(0));
    Some(WindowArea {
        x: u32::try_from(x0).ok()?,
        y: u32::try_from(y0).ok()?,
        width: u32::try_from(width).ok()?,
        height: u32::try_from(height).ok()?,
        // ximagesrc needs at least 2x2 (an end coordinate of 0 means "the screen's edge").
        viewable: mapped && width >= 2 && height >= 2,
    })
}

/// Window ids from `xprop -root _NET_CLIENT_LIST`
/// (`_NET_CLIENT_LIST(WINDOW): window id # 0x1e00003, 0x2200007`).
pub fn parse_client_list(text: &str) -> Vec<u64> {
    let Some((_, ids)) = text.split_once('#') else {
        return Vec::new();
    };
    ids.split(',').filter_map(|s| parse_hex(s.trim())).collect()
}

fn parse_hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.strip_prefix("0x")?, 16).ok()
}

/// The first quoted title in `xprop -id X _NET_WM_NAME WM_NAME` output.
pub fn parse_window_name(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (_, rest) = line.split_once(" = \"")?;
        Some(rest.strip_suffix('"').unwrap_or(rest).replace("\\\"", "\""))
    })
}

/// Windows from `xwininfo -root -children`
/// (`     0x200001 "title": ("class" "Class")  320x240+0+0  +0+0`); untitled ones are skipped.
pub fn parse_xwininfo_children(text: &str) -> Vec<WindowInfo> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let (id, rest) = line.split_once(' ')?;
            let xid = parse_hex(id)?;
            let title = rest.strip_prefix('"')?.split_once("\":")?.0.to_owned();
            Some(WindowInfo { xid, title })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_list_parses_every_id() {
        assert_eq!(
            parse_client_list("_NET_CLIENT_LIST(WINDOW): window id # 0x1e00003, 0x2200007\n"),
            vec![0x1e00003, 0x2200007]
        );
        assert!(parse_client_list("_NET_CLIENT_LIST:  not found.\n").is_empty());
    }

    #[test]
    fn window_names_prefer_the_first_title() {
        let text =
            "_NET_WM_NAME(UTF8_STRING) = \"Lesson — \\\"Slides\\\"\"\nWM_NAME(STRING) = \"x\"\n";
        assert_eq!(
            parse_window_name(text).as_deref(),
            Some("Lesson — \"Slides\"")
        );
        assert_eq!(parse_window_name("_NET_WM_NAME:  not found.\n"), None);
    }

    #[test]
    fn xwininfo_children_keep_titled_windows() {
        let text = "\nxwininfo: Window id: 0x1f3 (the root window) (has no name)\n\n  Root window id: 0x1f3 (the root window) (has no name)\n  2 children:\n     0x200001 \"gst-launch-1.0\": (\"gst-launch-1.0\" \"Gst-launch-1.0\")  320x240+0+0  +0+0\n     0x400001 (has no name): ()  10x10+0+0  +0+0\n";
        assert_eq!(
            parse_xwininfo_children(text),
            vec![WindowInfo {
                xid: 0x200001,
                title: "gst-launch-1.0".into()
            }]
        );
    }

    const ROOT: &str =
        "  Absolute upper-left X:  0\n  Width: 1280\n  Height: 720\n  Map State: IsViewable\n";

    fn window(x: i64, y: i64, w: u32, h: u32, state: &str) -> String {
        format!(
            "xwininfo: Window id: 0x20002c \"xmessage\"\n\n  Absolute upper-left X:  {x}\n  Absolute upper-left Y:  {y}\n  Relative upper-left X:  0\n  Relative upper-left Y:  0\n  Width: {w}\n  Height: {h}\n  Depth: 24\n  Map State: {state}\n"
        )
    }

    #[test]
    fn a_window_area_is_read_and_clipped_to_the_screen() {
        let a = parse_window_area(&window(10, 20, 400, 200, "IsViewable"), ROOT).expect("area");
        assert_eq!(
            a,
            WindowArea {
                x: 10,
                y: 20,
                width: 400,
                height: 200,
                viewable: true
            }
        );
        // Hanging off the top-left and the right edge: only the part on screen.
        let a = parse_window_area(&window(-50, -10, 1300, 100, "IsViewable"), ROOT).expect("area");
        assert_eq!((a.x, a.y, a.width, a.height), (0, 0, 1250, 90));
        // Minimized, or entirely off screen: not viewable, so not captured.
        assert!(
            !parse_window_area(&window(10, 20, 400, 200, "IsUnMapped"), ROOT)
                .expect("area")
                .viewable
        );
        assert!(
            !parse_window_area(&window(2000, 20, 400, 200, "IsViewable"), ROOT)
                .expect("area")
                .viewable
        );
        // Not xwininfo's output at all.
        assert_eq!(parse_window_area("X Error: BadWindow", ROOT), None);
    }

    #[test]
    fn wayland_sessions_are_told_apart_from_x11() {
        assert_eq!(
            classify(Some("wayland"), true, Some(":0".into())),
            DisplayServer::Wayland
        );
        assert_eq!(classify(None, true, None), DisplayServer::Wayland);
        assert_eq!(
            classify(Some("x11"), false, Some(":1".into())),
            DisplayServer::X11 {
                display: ":1".into()
            }
        );
        assert_eq!(classify(None, false, None), DisplayServer::Headless);
    }
}
