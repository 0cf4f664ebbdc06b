//! `cargo xtask bench flood`: builds `classroom-flood` (tests crate) and runs it: a teacher
//! and two students in a class on a server in its own process while garbage datagrams,
//! spoofed DTLS ClientHellos and idle TCP connections hit it. Prints the students' frame
//! rate before/during/after and the server's memory before/after, ending with
//! `BENCH flood {json}`.

use std::process::ExitCode;

use anyhow::Result;

use crate::args::Args;

/// Runs the flood benchmark: `--seconds N` (flood length, default 60), `--garbage N`
/// (datagrams/s, default 20000), `--hellos N` (ClientHellos/s, default 1000), `--idle N`
/// (idle connections, default 1000), `--debug` (dev profile: no release build to wait for).
pub fn run(mut args: Args) -> Result<ExitCode> {
    let mut forward = Vec::new();
    for name in ["--seconds", "--garbage", "--hellos", "--idle"] {
        if let Some(v) = args.value(name)? {
            forward.push(name.to_owned());
            forward.push(v);
        }
    }
    let debug = args.flag("--debug");
    forward.extend(args.finish("bench flood")?);
    super::build_and_run("classroom-tests", "classroom-flood", debug, &forward)
}
