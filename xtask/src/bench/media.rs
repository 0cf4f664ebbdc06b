//! `cargo xtask bench media`.

use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::args::Args;

/// Runs the media benchmark.
pub fn run(args: Args) -> Result<ExitCode> {
    args.finish("bench media")?;
    bail!("bench media: not implemented yet")
}
