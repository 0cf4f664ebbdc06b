//! `cargo xtask bench video`: builds the UI, the app and `classroom-video-bench` in release
//! mode and runs the bench: a synthetic 720p30 camera and a 1080p15 screen through the real
//! server, shown by the real app under Xvfb, per path (RGBA + putImageData, I420 + WebGL2,
//! WebCodecs). Prints frames painted per second, decode-to-paint time and the app's CPU, ending
//! with `BENCH video {json}`; a screenshot and the app's stderr per case are kept in
//! `target/artifacts/video-bench/`.

use std::process::{Command, ExitCode};

use anyhow::Result;

use crate::args::Args;
use crate::util::{self, cargo, exe, run_status, target_dir};

/// Runs the video benchmark: `--paths rgba,i420,webcodecs`, `--modes 720p30,1080p15`,
/// `--codec auto|h264|vp8|...`, `--seconds N`, `--warmup N`, `--screen WxH`.
pub fn run(mut args: Args) -> Result<ExitCode> {
    let mut forward = Vec::new();
    for name in [
        "--paths",
        "--modes",
        "--codec",
        "--seconds",
        "--warmup",
        "--screen",
        "--enlarge",
    ] {
        if let Some(v) = args.value(name)? {
            forward.push(name.to_owned());
            forward.push(v);
        }
    }
    forward.extend(args.finish("bench video")?);
    build_and_run(&forward)
}

/// `cargo xtask bench app`: the same binaries, measuring the app itself (`--app-figures`):
/// cold start to the home screen (`--starts N`, median), join to the first remote frame
/// painted, a 720p30 camera painted (fps, CPU of the app and WebKit) and the student app's
/// resident memory in the class; ends with `BENCH app {json}`.
pub fn run_app(mut args: Args) -> Result<ExitCode> {
    let mut forward = vec!["--app-figures".to_owned()];
    for name in ["--starts", "--seconds", "--warmup", "--codec", "--screen"] {
        if let Some(v) = args.value(name)? {
            forward.push(name.to_owned());
            forward.push(v);
        }
    }
    forward.extend(args.finish("bench app")?);
    build_and_run(&forward)
}

/// Builds the UI, the app and `classroom-video-bench` in release mode (also for
/// `bench annotate`'s whiteboard figures).
pub(super) fn build_app_and_bench() -> Result<()> {
    crate::ui::ensure_built(false)?;
    util::run(cargo().args([
        "build",
        "--release",
        "-p",
        "classroom-app",
        "-p",
        "classroom-client",
        "--bin",
        "classroom-app",
        "--bin",
        "classroom-video-bench",
    ]))
}

/// Builds what the bench needs ([`build_app_and_bench`]) and runs it with `forward`.
fn build_and_run(forward: &[String]) -> Result<ExitCode> {
    build_app_and_bench()?;
    let release = target_dir().join("release");
    let status = run_status(
        Command::new(release.join(exe("classroom-video-bench")))
            .arg("--app")
            .arg(release.join(exe("classroom-app")))
            .arg("--artifacts")
            .arg(target_dir().join("artifacts").join("video-bench"))
            .args(forward),
    )?;
    Ok(super::exit_code(status))
}
