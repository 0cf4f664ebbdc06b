//! `cargo xtask bench store`: builds `classroom-store-bench` (client crate, release) and runs
//! it: lists a library of 10,000 lessons and searches it, downloads a 200 MB lesson file
//! from our lesson service against curl from nginx, and cuts a download to count the bytes
//! fetched again; ends with `BENCH store {json}`. `--mb N` sets the file's size.

use std::process::ExitCode;

use anyhow::Result;

use crate::args::Args;

/// Runs the store benchmark (`--debug`: the dev profile, no release build to wait for).
pub fn run(mut args: Args) -> Result<ExitCode> {
    let debug = args.flag("--debug");
    let forward = args.finish("bench store")?;
    super::build_and_run("classroom-client", "classroom-store-bench", debug, &forward)
}
