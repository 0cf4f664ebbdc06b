//! `cargo xtask bench sfu|media|control`: benchmark commands that print figures and end with one
//! machine-readable `BENCH <name> {json}` line. Never timed assertions: these only measure.

mod control;
mod janus;
mod media;
mod sfu;

use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::args::Args;

/// Runs `bench <which>` with the remaining arguments.
pub fn bench(mut args: Args) -> Result<ExitCode> {
    match args.positional().as_deref() {
        Some("sfu") => sfu::run(args),
        Some("media") => media::run(args),
        Some("control") => control::run(args),
        Some(other) => bail!("unknown benchmark {other:?}: expected `sfu`, `media` or `control`"),
        None => bail!(
            "which benchmark? `cargo xtask bench sfu`, `cargo xtask bench media` or `cargo xtask bench control`"
        ),
    }
}
