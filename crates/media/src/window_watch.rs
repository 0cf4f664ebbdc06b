//! Follows a shared X11 window while it is captured (as an area of the root window, see
//! [`crate::screen::window_area`]): closed, the track falls to its stand-in and the app is
//! told; minimized or moved off screen, the stand-in shows instead of whatever is under it;
//! back, moved or resized, the capture restarts on its new area.

use std::sync::Weak;
use std::time::Duration;

use classroom_protocol::Source;
use tracing::debug;

use crate::inputs::{Inputs, Wanted};
use crate::screen::{WindowArea, window_area};

/// How often the window is looked at: a closed window shows its last picture this long.
const EVERY: Duration = Duration::from_millis(300);

/// Watches window `xid` on `display`, captured for `source` as `wanted` at `area`, until the
/// input is set again (its watch `generation` changes) or the publisher is gone.
pub(crate) fn spawn(
    inputs: Weak<Inputs>,
    source: Source,
    wanted: Wanted,
    (display, xid): (String, u64),
    area: Option<WindowArea>,
    generation: u64,
) {
    let watch = move || {
        loop {
            std::thread::sleep(EVERY);
            let Some(inputs) = inputs.upgrade() else {
                return;
            };
            if inputs.watch_generation(source) != generation {
                return;
            }
            match window_area(&display, xid) {
                None => {
                    inputs.fail(source, "the shared window was closed");
                    return;
                }
                Some(now) if !now.viewable => {
                    if !inputs.is_failed(source) {
                        inputs.fail(source, "the shared window is minimized or off screen");
                    }
                }
                Some(now) if inputs.is_failed(source) || Some(now) != area => {
                    debug!(
                        ?source,
                        ?now,
                        "shared window moved or back: capture restarts"
                    );
                    // Starts a new watch (and a new generation), so this one ends.
                    let _ = inputs.set(source, wanted);
                    return;
                }
                Some(_) => {}
            }
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name("window-watch".into())
        .spawn(watch)
    {
        tracing::warn!("cannot watch the shared window: {e}");
    }
}
