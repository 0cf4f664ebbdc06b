//! Which of WebKitGTK's renderers the app's windows use, decided before GTK starts.
//!
//! WebKitGTK 2.42 and later draw a page into DMA-BUF buffers that the app's process shows.
//! With NVIDIA's driver loaded that renderer leaves the window blank (a white or grey window
//! and nothing else: reported by many WebKitGTK apps, Tauri's among them; Ubuntu turns the
//! renderer off for NVIDIA users in its own WebKitGTK build, other distributions do not). A
//! school that rolls the app out to a room of NVIDIA machines would get a room of blank
//! windows. So on Linux, when NVIDIA's kernel driver is loaded, the app sets
//! `WEBKIT_DISABLE_DMABUF_RENDERER=1` for itself before anything starts, unless the
//! environment already says what to do (IT can set `WEBKIT_DISABLE_DMABUF_RENDERER=0` to keep
//! the default renderer on a machine where it works). The choice and why are in the
//! diagnostics report.
//!
//! `cargo xtask bench app` sets the variable itself (no GPU behind Xvfb); the window tests do
//! not (WebKitWebDriver's screenshots hang without the default renderer), so their report
//! says "default".

use std::path::Path;
use std::sync::OnceLock;

/// WebKitGTK's switch: set and not "0", the DMA-BUF renderer is off.
pub const DISABLE_DMABUF: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";

/// Present while NVIDIA's kernel driver (proprietary or its open modules) is loaded.
const NVIDIA_DRIVER: &str = "/proc/driver/nvidia/version";

/// The renderer chosen for this process, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebRenderer {
    /// Not WebKitGTK (Windows' and macOS's webviews have one renderer).
    System,
    /// WebKitGTK's default, DMA-BUF renderer.
    Default,
    /// `WEBKIT_DISABLE_DMABUF_RENDERER` was set before the app started: `off` is what it said.
    SetInEnvironment {
        /// Whether the variable turned the DMA-BUF renderer off.
        off: bool,
    },
    /// The app turned the DMA-BUF renderer off: NVIDIA's driver is loaded.
    OffForNvidia,
}

impl WebRenderer {
    /// The variable the app sets for itself for this choice, if any.
    pub fn variable(self) -> Option<(&'static str, &'static str)> {
        (self == Self::OffForNvidia).then_some((DISABLE_DMABUF, "1"))
    }

    /// One line for the diagnostics report.
    pub fn describe(self) -> String {
        match self {
            Self::System => "the system's webview".into(),
            Self::Default => "WebKitGTK's default (DMA-BUF)".into(),
            Self::SetInEnvironment { off: true } => {
                format!("WebKitGTK without DMA-BUF ({DISABLE_DMABUF} set in the environment)")
            }
            Self::SetInEnvironment { off: false } => {
                format!("WebKitGTK's default (DMA-BUF; {DISABLE_DMABUF}=0 set in the environment)")
            }
            Self::OffForNvidia => format!(
                "WebKitGTK without DMA-BUF: NVIDIA's driver is loaded, which leaves the default \
                 renderer blank ({DISABLE_DMABUF}=0 in the environment keeps it)"
            ),
        }
    }
}

/// The choice for a Linux process whose environment holds `variable` (the value of
/// [`DISABLE_DMABUF`], if set) on a computer where NVIDIA's driver is loaded or not.
pub fn choose(variable: Option<&str>, nvidia_driver: bool) -> WebRenderer {
    match variable {
        // WebKit reads any value but "0" as off.
        Some(value) => WebRenderer::SetInEnvironment { off: value != "0" },
        None if nvidia_driver => WebRenderer::OffForNvidia,
        None => WebRenderer::Default,
    }
}

static CHOSEN: OnceLock<WebRenderer> = OnceLock::new();

/// Decides for this process (its environment, and whether NVIDIA's driver is loaded here)
/// and remembers the choice for [`chosen`]. Call once, first thing in `main`, and set the
/// variable it returns before any thread starts.
pub fn decide_here() -> Option<(&'static str, &'static str)> {
    let choice = if cfg!(target_os = "linux") {
        choose(
            std::env::var(DISABLE_DMABUF).ok().as_deref(),
            Path::new(NVIDIA_DRIVER).exists(),
        )
    } else {
        WebRenderer::System
    };
    let _ = CHOSEN.set(choice);
    choice.variable()
}

/// The choice [`decide_here`] made (none when it was not called: a test process).
pub fn chosen() -> Option<WebRenderer> {
    CHOSEN.get().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvidia_turns_the_dmabuf_renderer_off_unless_the_environment_decided() {
        assert_eq!(choose(None, false), WebRenderer::Default);
        assert_eq!(choose(None, true), WebRenderer::OffForNvidia);
        assert_eq!(
            WebRenderer::OffForNvidia.variable(),
            Some(("WEBKIT_DISABLE_DMABUF_RENDERER", "1"))
        );
        // IT's own setting wins either way, and the app then sets nothing.
        for nvidia in [false, true] {
            assert_eq!(
                choose(Some("0"), nvidia),
                WebRenderer::SetInEnvironment { off: false }
            );
            assert_eq!(
                choose(Some("1"), nvidia),
                WebRenderer::SetInEnvironment { off: true }
            );
            assert_eq!(choose(Some("0"), nvidia).variable(), None);
        }
        assert_eq!(WebRenderer::Default.variable(), None);
    }

    #[test]
    fn each_choice_is_said_in_words() {
        assert!(WebRenderer::OffForNvidia.describe().contains("NVIDIA"));
        assert!(
            WebRenderer::SetInEnvironment { off: true }
                .describe()
                .contains("set in the environment")
        );
        assert!(WebRenderer::Default.describe().contains("default"));
    }
}
