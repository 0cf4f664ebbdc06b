//! `cargo xtask bench store`: builds `classroom-store-bench` (release) and runs it: lists a
//! library of 10,000 lessons and searches it, ending with `BENCH store {json}`.

use std::process::ExitCode;

use anyhow::Result;

use crate::args::Args;

/// Runs the store benchmark (`--debug`: the dev profile, no release build to wait for).
pub fn run(mut args: Args) -> Result<ExitCode> {
    let debug = args.flag("--debug");
    let forward = args.finish("bench store")?;
    super::build_and_run("classroom-store", "classroom-store-bench", debug, &forward)
}
