//! `cargo xtask fuzz`: runs every cargo-fuzz target in `fuzz/` for a set time, one after
//! the other, and reports executions, coverage and findings. Fuzzing needs nightly-only
//! compiler flags, which the stable toolchain allows with `RUSTC_BOOTSTRAP=1`.

use std::fs::File;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::args::Args;
use crate::util::{self, root, secs};

/// What one target's run found.
struct Outcome {
    target: String,
    executions: u64,
    coverage: Option<u64>,
    corpus: Option<u64>,
    crashed: bool,
    seconds: f64,
    log: String,
}

/// `fuzz/Cargo.toml`: the fuzz targets' own workspace.
pub fn manifest() -> std::path::PathBuf {
    root().join("fuzz").join("Cargo.toml")
}

/// The targets named in `fuzz/Cargo.toml`'s `[[bin]]` sections.
fn targets() -> Result<Vec<String>> {
    let manifest = manifest();
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    let mut out = Vec::new();
    let mut in_bin = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin && let Some(v) = line.strip_prefix("name") {
            let name = v
                .trim_start()
                .trim_start_matches('=')
                .trim()
                .trim_matches('"');
            out.push(name.to_owned());
        }
    }
    if out.is_empty() {
        bail!("no [[bin]] targets in {}", manifest.display());
    }
    Ok(out)
}

/// A cargo command in `fuzz/` with a fixed environment. Variables that `cargo run` gives
/// xtask (CARGO_*, LD_LIBRARY_PATH, ...) made the nested build see a different environment
/// than a plain `cargo fuzz` in a shell and rebuild every dependency from ring on (40
/// minutes on a busy 2-core machine), so only what a build needs is passed on. The fuzz
/// workspace also keeps its own target folder: a CARGO_TARGET_DIR meant for the main
/// workspace would mix sanitizer builds into it.
fn fuzz_cmd() -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(root().join("fuzz")).env_clear();
    for key in [
        "PATH",
        "HOME",
        "USER",
        "LANG",
        "TERM",
        "TMPDIR",
        "RUSTUP_HOME",
        "CARGO_HOME",
        "RUSTUP_TOOLCHAIN",
    ] {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
    cmd.env("RUSTC_BOOTSTRAP", "1");
    cmd
}

/// Installs cargo-fuzz from crates.io when it is missing.
fn ensure_cargo_fuzz() -> Result<()> {
    if util::output("cargo", &["fuzz", "--version"]).is_some() {
        return Ok(());
    }
    println!("cargo-fuzz is missing; installing it (cargo install cargo-fuzz --locked)");
    util::run(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))
}

/// Reads libFuzzer's output: executions (final stats), coverage and corpus size (last
/// status line), and whether it stopped on a finding.
fn read_log(text: &str) -> (u64, Option<u64>, Option<u64>, bool) {
    let mut execs = 0;
    let mut cov = None;
    let mut corp = None;
    let number = |s: &str| s.trim().split(['/', ' ']).next()?.parse::<u64>().ok();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("stat::number_of_executed_units:") {
            execs = number(v).unwrap_or(execs);
        }
        if line.starts_with('#') {
            let words: Vec<&str> = line.split_whitespace().collect();
            for pair in words.windows(2) {
                match pair[0] {
                    "cov:" => cov = number(pair[1]).or(cov),
                    "corp:" => corp = number(pair[1]).or(corp),
                    _ => {}
                }
            }
        }
    }
    let crashed = text.contains("==ERROR: libFuzzer")
        || text.contains("ERROR: AddressSanitizer")
        || text.contains("panicked at")
        || text.contains("Test unit written to");
    (execs, cov, corp, crashed)
}

/// `cargo xtask fuzz [--seconds N] [--target NAME]`.
pub fn run(mut args: Args) -> Result<ExitCode> {
    let seconds = args.number("--seconds", 60)?;
    let only = args.value("--target")?;
    args.finish("fuzz")?;
    ensure_cargo_fuzz()?;
    let mut names = targets()?;
    if let Some(t) = &only {
        if !names.contains(t) {
            bail!("no fuzz target {t:?}; there are {}", names.join(", "));
        }
        names.retain(|n| n == t);
    }
    util::run(fuzz_cmd().args(["fuzz", "build", "-O"]))?;
    let logs = root().join("fuzz").join("target").join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let mut outcomes = Vec::new();
    for target in &names {
        let log = logs.join(format!("{target}.log"));
        println!(
            "fuzzing {target} for {seconds} s (libFuzzer output: {})",
            log.display()
        );
        let file = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let started = Instant::now();
        // A target with seeds in `fuzz/seeds/<target>` (checked in, unlike the corpus that
        // runs grow) starts from them: the corpus first, where libFuzzer writes what it finds.
        let mut corpora = Vec::new();
        let seeds = root().join("fuzz").join("seeds").join(target);
        if seeds.is_dir() {
            let corpus = root().join("fuzz").join("corpus").join(target);
            std::fs::create_dir_all(&corpus)
                .with_context(|| format!("creating {}", corpus.display()))?;
            corpora = vec![corpus, seeds];
        }
        let status = fuzz_cmd()
            .args(["fuzz", "run", "-O", target])
            .args(&corpora)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg("-print_final_stats=1")
            .stdout(Stdio::null())
            .stderr(file)
            .status()
            .context("running cargo fuzz")?;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let (executions, coverage, corpus, found) = read_log(&text);
        let outcome = Outcome {
            target: target.clone(),
            executions,
            coverage,
            corpus,
            crashed: found || !status.success(),
            seconds: started.elapsed().as_secs_f64(),
            log: log.display().to_string(),
        };
        println!(
            "  {target}: {} executions in {}, coverage {}, corpus {}, {}",
            outcome.executions,
            secs(started.elapsed()),
            outcome.coverage.map_or("?".into(), |c| c.to_string()),
            outcome.corpus.map_or("?".into(), |c| c.to_string()),
            if outcome.crashed {
                "FOUND A FAILURE (see the log and fuzz/artifacts/)"
            } else {
                "no findings"
            }
        );
        outcomes.push(outcome);
    }
    println!();
    println!(
        "{:<20} {:>12} {:>8} {:>8} {:>8}  result",
        "target", "executions", "cov", "corpus", "secs"
    );
    for o in &outcomes {
        println!(
            "{:<20} {:>12} {:>8} {:>8} {:>8.0}  {}",
            o.target,
            o.executions,
            o.coverage.map_or("?".into(), |c| c.to_string()),
            o.corpus.map_or("?".into(), |c| c.to_string()),
            o.seconds,
            if o.crashed { "FAILURE" } else { "ok" }
        );
    }
    let json: Vec<String> = outcomes
        .iter()
        .map(|o| {
            format!(
                "{{\"target\":\"{}\",\"executions\":{},\"coverage\":{},\"corpus\":{},\"seconds\":{:.0},\"failure\":{},\"log\":\"{}\"}}",
                o.target,
                o.executions,
                o.coverage.unwrap_or(0),
                o.corpus.unwrap_or(0),
                o.seconds,
                o.crashed,
                o.log.replace('\\', "/")
            )
        })
        .collect();
    println!("FUZZ [{}]", json.join(","));
    Ok(if outcomes.iter().any(|o| o.crashed) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::read_log;

    #[test]
    fn libfuzzer_output_is_read() {
        let log = "INFO: Seed: 1\n#2\tINITED cov: 10 ft: 11 corp: 1/1b exec/s: 0 rss: 30Mb\n#1024\tNEW    cov: 120 ft: 300 corp: 17/2Kb lim: 4 exec/s: 512 rss: 40Mb\nDone 3000 runs in 61 second(s)\nstat::number_of_executed_units: 3000\n";
        assert_eq!(read_log(log), (3000, Some(120), Some(17), false));
        let crash =
            "==123==ERROR: libFuzzer: deadly signal\nTest unit written to ./artifacts/x/crash-1\n";
        assert!(read_log(crash).3);
    }
}
