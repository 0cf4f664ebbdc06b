//! `cargo xtask bench annotate`: the whiteboard and homework figures. Runs
//! `classroom-annotate-bench` (loadgen, release: remote stroke delay teacher -> server ->
//! student over websockets on loopback, and the model's changes applied per second) and the
//! `homework_bench` example (homework, release: ingest of a 12 MP photo, a 4K page of 2,000
//! strokes over a photo exported to PNG), then prints `BENCH annotate {json}`.
//!
//! Not measured yet, and `null` in the JSON: `export_pdf20_ms` (no PDF export exists) and
//! `frame_ms_5k` (the real webview's frame time on a page of 5,000 strokes needs a window
//! harness run like `bench app`).

use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

use crate::args::Args;
use crate::util::{self, cargo, exe, run_tee, target_dir};

/// Runs the annotation benchmark.
pub fn run(mut args: Args) -> Result<ExitCode> {
    let strokes = args.value("--strokes")?.unwrap_or_else(|| "40".into());
    args.finish("bench annotate")?;
    util::run(cargo().args([
        "build",
        "--release",
        "-p",
        "classroom-loadgen",
        "--bin",
        "classroom-annotate-bench",
        "-p",
        "classroom-homework",
        "--example",
        "homework_bench",
    ]))?;
    let release = target_dir().join("release");
    let board = result_of(
        Command::new(release.join(exe("classroom-annotate-bench"))).args(["--strokes", &strokes]),
        "classroom-annotate-bench",
    )?;
    let homework = result_of(
        &mut Command::new(release.join("examples").join(exe("homework_bench"))),
        "homework_bench",
    )?;
    let (Some(board), Some(homework)) = (
        board.trim().strip_suffix('}'),
        homework.trim().strip_prefix('{'),
    ) else {
        bail!("a RESULT line is not a JSON object");
    };
    println!("not measured: export_pdf20_ms (no PDF export yet), frame_ms_5k (needs the webview)");
    println!(
        "BENCH annotate {board},{homework_body},\"export_pdf20_ms\":null,\"frame_ms_5k\":null}}",
        homework_body = homework.trim_end().trim_end_matches('}'),
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `cmd`, showing its output; its last `RESULT {json}`.
fn result_of(cmd: &mut Command, name: &str) -> Result<String> {
    let (status, kept) = run_tee(cmd, |l| l.starts_with("RESULT "))?;
    if !status.success() {
        bail!("{name} failed ({status})");
    }
    kept.iter()
        .rev()
        .find_map(|l| l.strip_prefix("RESULT "))
        .map(str::to_owned)
        .with_context(|| format!("no RESULT line from {name}"))
}
