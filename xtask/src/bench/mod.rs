//! `cargo xtask bench sfu|misses|media|flood|video|app|control|store|annotate`: benchmark commands that print figures and end
//! with one machine-readable `BENCH <name> {json}` line. Never timed assertions: these only measure.

mod annotate;
mod control;
mod flood;
mod janus;
mod media;
mod misses;
mod sfu;
mod store;
mod video;

use std::process::{Command, ExitCode, ExitStatus};

use anyhow::{Result, bail};

use crate::args::Args;
use crate::util::{self, cargo, exe, run_status, target_dir};

/// Runs `bench <which>` with the remaining arguments.
pub fn bench(mut args: Args) -> Result<ExitCode> {
    match args.positional().as_deref() {
        Some("sfu") => sfu::run(args),
        Some("misses") => misses::run(args),
        Some("media") => media::run(args),
        Some("flood") => flood::run(args),
        Some("video") => video::run(args),
        Some("app") => video::run_app(args),
        Some("control") => control::run(args),
        Some("store") => store::run(args),
        Some("annotate") => annotate::run(args),
        Some(other) => bail!(
            "unknown benchmark {other:?}: expected `sfu`, `misses`, `media`, `flood`, `video`, `app`, `control`, `store` or `annotate`"
        ),
        None => bail!(
            "which benchmark? `cargo xtask bench sfu`, `misses`, `media`, `flood`, `video`, `app`, `control`, `store` or `annotate`"
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

/// Builds the measuring binary `bin` of `package` (release unless `debug`) and runs it with
/// `forward`; the bench's exit code.
fn build_and_run(package: &str, bin: &str, debug: bool, forward: &[String]) -> Result<ExitCode> {
    let mut build = cargo();
    build.args(["build", "-p", package, "--bin", bin]);
    if !debug {
        build.arg("--release");
    }
    util::run(&mut build)?;
    let path = target_dir()
        .join(if debug { "debug" } else { "release" })
        .join(exe(bin));
    let status = run_status(Command::new(path).args(forward))?;
    Ok(exit_code(status))
}
