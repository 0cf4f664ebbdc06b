//! `cargo xtask bench annotate`: the whiteboard and homework figures. Runs
//! `classroom-annotate-bench` (loadgen, release: remote stroke delay teacher -> server ->
//! student over websockets on loopback, and the model's changes applied per second), the
//! `homework_bench` example (homework, release: ingest of a 12 MP photo, a 4K page of 2,000
//! strokes over a photo exported to PNG, 20 marked PDF pages written as PDF) and
//! `classroom-video-bench --board-figures` (the release app under Xvfb as a student on a
//! board of 5,000 strokes while the teacher draws: each paint of the whiteboard's canvas,
//! timed by the page), then prints `BENCH annotate {json}`. `--no-window` leaves the last
//! out (`frame_ms_5k` is then `null`).

use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

use crate::args::Args;
use crate::util::{self, cargo, exe, run_tee, target_dir};

/// Runs the annotation benchmark.
pub fn run(mut args: Args) -> Result<ExitCode> {
    let strokes = args.value("--strokes")?.unwrap_or_else(|| "40".into());
    let window = !args.flag("--no-window");
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
    if window {
        super::video::build_app_and_bench()?;
    }
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
    let frame = if window {
        let figures = bench_line(
            Command::new(release.join(exe("classroom-video-bench")))
                .arg("--app")
                .arg(release.join(exe("classroom-app")))
                .arg("--artifacts")
                .arg(target_dir().join("artifacts").join("annotate-bench"))
                .args(["--board-figures", "--strokes", "5000", "--seconds", "8"])
                .args(["--warmup", "3", "--screen", "1280x800"]),
            "BENCH board ",
        )?;
        let figures: serde_json::Value =
            serde_json::from_str(&figures).context("the BENCH board line")?;
        figures["frame_ms_5k"].clone()
    } else {
        println!("not measured: frame_ms_5k (--no-window)");
        serde_json::Value::Null
    };
    println!(
        "BENCH annotate {board},{homework_body},\"frame_ms_5k\":{frame}}}",
        homework_body = homework.trim_end().trim_end_matches('}'),
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `cmd`, showing its output; its last `RESULT {json}`.
fn result_of(cmd: &mut Command, name: &str) -> Result<String> {
    bench_line(cmd, "RESULT ").with_context(|| name.to_owned())
}

/// Runs `cmd`, showing its output; what follows `prefix` on its last line starting so.
fn bench_line(cmd: &mut Command, prefix: &str) -> Result<String> {
    let (status, kept) = run_tee(cmd, |l| l.starts_with("RESULT ") || l.starts_with("BENCH "))?;
    if !status.success() {
        bail!("failed ({status})");
    }
    kept.iter()
        .rev()
        .find_map(|l| l.strip_prefix(prefix))
        .map(str::to_owned)
        .with_context(|| format!("no {prefix:?} line"))
}
