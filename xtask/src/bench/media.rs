//! `cargo xtask bench media`: builds `classroom-media-bench` in release mode and runs it. The
//! binary starts the real server on loopback, a publisher process (camera 720p30, screen
//! 1080p15, microphone; test sources) and subscribers, and prints glass-to-glass delay,
//! join-to-first-frame and the publisher's CPU, ending with `BENCH media {json}`.

use std::process::{Command, ExitCode};

use anyhow::Result;

use crate::args::Args;
use crate::util::{self, cargo, release_tool, run_status};

/// Runs the media benchmark: `--codec auto|h264|vp8|x264enc|openh264enc|vp8enc`,
/// `--seconds N` (measurement window), `--joins N` (join-to-first-frame samples),
/// `--simulcast` (the server asks for the camera in three layers).
pub fn run(mut args: Args) -> Result<ExitCode> {
    let mut forward = Vec::new();
    for name in ["--codec", "--seconds", "--joins"] {
        if let Some(v) = args.value(name)? {
            forward.push(name.to_owned());
            forward.push(v);
        }
    }
    if args.flag("--simulcast") {
        forward.push("--simulcast".to_owned());
    }
    forward.extend(args.finish("bench media")?);
    util::run(cargo().args([
        "build",
        "--release",
        "-p",
        "classroom-client",
        "--bin",
        "classroom-media-bench",
    ]))?;
    let bin = release_tool("classroom-media-bench");
    let status = run_status(Command::new(bin).args(&forward))?;
    Ok(super::exit_code(status))
}
