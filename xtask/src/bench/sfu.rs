//! `cargo xtask bench sfu`.

use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::args::Args;

/// Runs the sfu benchmark.
pub fn run(args: Args) -> Result<ExitCode> {
    args.finish("bench sfu")?;
    bail!("bench sfu: not implemented yet")
}
