//! `cargo xtask bench sfu|media|flood|video|control`: benchmark commands that print figures and end
//! with one machine-readable `BENCH <name> {json}` line. Never timed assertions: these only measure.

mod control;
mod flood;
mod janus;
mod media;
mod sfu;
mod video;

use std::process::{ExitCode, ExitStatus};

use anyhow::{Result, bail};

use crate::args::Args;

/// Runs `bench <which>` with the remaining arguments.
pub fn bench(mut args: Args) -> Result<ExitCode> {
    match args.positional().as_deref() {
        Some("sfu") => sfu::run(args),
        Some("media") => media::run(args),
        Some("flood") => flood::run(args),
        Some("video") => video::run(args),
        Some("control") => control::run(args),
        Some(other) => bail!(
            "unknown benchmark {other:?}: expected `sfu`, `media`, `flood`, `video` or `control`"
        ),
        None => bail!(
            "which benchmark? `cargo xtask bench sfu`, `media`, `flood`, `video` or `control`"
        ),
    }
}

/// The exit code of a bench whose measuring binary ended with `status`.
fn exit_code(status: ExitStatus) -> ExitCode {
    if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
