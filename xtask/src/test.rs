//! `cargo xtask test`: everything CI runs, in one build, with a summary at the end.

use std::process::{Command, ExitCode, ExitStatus};
use std::time::Instant;

use anyhow::{Result, bail};

use crate::deps;
use crate::ui;
use crate::util::{cargo, npm, root, run, run_tee, secs, target_dir};

/// Options of `cargo xtask test`.
pub struct Options {
    /// Skip `cargo fmt --check`.
    pub no_fmt: bool,
    /// Skip clippy.
    pub no_clippy: bool,
    /// Extra arguments for the Rust test runner (after `--`), e.g. a test name filter.
    pub extra: Vec<String>,
}

/// One finished step of the run.
struct Step {
    /// Short name shown in the summary.
    name: &'static str,
    /// Whether it passed.
    ok: bool,
    /// Wall-clock seconds it took.
    took: String,
    /// Counts or the failure, on one line.
    note: String,
}

/// Runs every step, even after a failure, and prints a summary; non-zero exit on any failure.
pub fn test(opts: &Options) -> Result<ExitCode> {
    let start = Instant::now();
    let mut steps = Vec::new();
    let mut step = |name: &'static str, f: &mut dyn FnMut() -> Result<String>| {
        println!("\n==> test: {name}");
        let began = Instant::now();
        let result = f();
        let took = secs(began.elapsed());
        let (ok, note) = match result {
            Ok(note) => (true, note),
            Err(err) => (false, format!("{err:#}")),
        };
        if !ok {
            println!("==> test: {name} FAILED: {note}");
        }
        steps.push(Step {
            name,
            ok,
            took,
            note,
        });
    };

    step("deps", &mut || {
        let line = deps::deps(&deps::Options {
            check_only: false,
            verbose: false,
        })?;
        Ok(line.trim_start_matches("deps: ").to_owned())
    });
    step("ui build", &mut || {
        let line = ui::ensure_built(false)?;
        Ok(line.trim_start_matches("ui: ").to_owned())
    });
    if !opts.no_fmt {
        step("fmt", &mut || {
            run(cargo().args(["fmt", "--all", "--", "--check"]))?;
            Ok(String::new())
        });
    }
    if !opts.no_clippy {
        step("clippy", &mut || {
            run(cargo()
                .args(["clippy", "--workspace", "--all-targets", "--locked"])
                .args(["--", "-D", "warnings"]))?;
            Ok(String::new())
        });
        // The fuzz targets are a workspace of their own, which cargo-fuzz builds only when
        // someone fuzzes: checked here (on stable, in the same target directory) so that a
        // change to the types they drive fails this run instead of the next fuzzing.
        step("fuzz check", &mut || {
            run(cargo()
                .args(["check", "--bins", "--locked", "--manifest-path"])
                .arg(crate::fuzz::manifest())
                .arg("--target-dir")
                .arg(target_dir()))?;
            Ok(String::new())
        });
    }
    if nextest_available() {
        step("rust tests", &mut || {
            let mut cmd = rust_cmd(&[
                "nextest",
                "run",
                "--workspace",
                "--locked",
                "--no-fail-fast",
            ]);
            cmd.args(["--no-tests", "warn"]).args(&opts.extra);
            tee(&mut cmd, is_nextest_summary, join_lines)
        });
        step("doctests", &mut || {
            let mut cmd = rust_cmd(&["test", "--workspace", "--doc", "--locked"]);
            tee(&mut cmd, is_cargo_test_result, sum_cargo_results)
        });
    } else {
        step("rust tests", &mut || {
            let mut cmd = rust_cmd(&["test", "--workspace", "--locked", "--no-fail-fast"]);
            if !opts.extra.is_empty() {
                cmd.arg("--").args(&opts.extra);
            }
            tee(&mut cmd, is_cargo_test_result, sum_cargo_results)
        });
    }
    step("ui types", &mut || {
        // Vite builds without type checking: this is where a change in the generated
        // bindings that the UI does not follow fails.
        run(Command::new(npm())
            .args(["run", "check"])
            .current_dir(root().join("ui")))?;
        Ok(String::new())
    });
    step("ui tests", &mut || {
        let mut cmd = Command::new(npm());
        cmd.arg("test").current_dir(root().join("ui"));
        // vitest watches for changes unless it knows it is in CI.
        if std::env::var_os("CI").is_none() {
            cmd.env("CI", "1");
        }
        tee(&mut cmd, is_vitest_summary, join_lines)
    });

    println!("\n==> test summary");
    for s in &steps {
        let mark = if s.ok { "ok  " } else { "FAIL" };
        println!("  {mark}  {:<11} {:>7}  {}", s.name, s.took, s.note);
    }
    // What the run leaves on disk (a CI machine once ran out of it mid-build).
    println!(
        "  target folder: {:.1} GB",
        folder_bytes(&target_dir()) as f64 / 1e9
    );
    let failed: Vec<&str> = steps.iter().filter(|s| !s.ok).map(|s| s.name).collect();
    let total = secs(start.elapsed());
    if failed.is_empty() {
        println!("test: all {} steps passed in {total}", steps.len());
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "test: {} of {} steps FAILED ({}) in {total}",
            failed.len(),
            steps.len(),
            failed.join(", ")
        );
        Ok(ExitCode::FAILURE)
    }
}

/// The bytes of the files under `dir` (symbolic links not followed; what cannot be read is
/// left out).
fn folder_bytes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => folder_bytes(&entry.path()),
            Ok(kind) if kind.is_file() => entry.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

/// A cargo command for running tests, with backtraces on.
fn rust_cmd(args: &[&str]) -> Command {
    let mut cmd = cargo();
    cmd.args(args).env("RUST_BACKTRACE", "1");
    cmd
}

/// True when `cargo nextest` is installed.
fn nextest_available() -> bool {
    cargo()
        .args(["nextest", "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs a test runner through [`run_tee`]; the summary lines, condensed by `condense`, become
/// the step's note (and are part of the error when it fails).
fn tee(
    cmd: &mut Command,
    keep: fn(&str) -> bool,
    condense: fn(&[String]) -> String,
) -> Result<String> {
    let (status, lines): (ExitStatus, Vec<String>) = run_tee(cmd, keep)?;
    let note = condense(&lines);
    if !status.success() {
        bail!("{note}{}({status})", if note.is_empty() { "" } else { " " });
    }
    Ok(note)
}

/// nextest's closing line: `Summary [   1.234s] 42 tests run: 42 passed, 1 skipped`.
fn is_nextest_summary(line: &str) -> bool {
    line.trim_start().starts_with("Summary [")
}

/// libtest's per-binary line: `test result: ok. 3 passed; 0 failed; 1 ignored; ...`.
fn is_cargo_test_result(line: &str) -> bool {
    line.starts_with("test result:")
}

/// vitest's closing lines: ` Test Files  2 passed (2)` and `      Tests  9 passed (9)`.
fn is_vitest_summary(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("Test Files ") || t.starts_with("Tests ")
}

/// Summary lines, whitespace collapsed, sorted (stdout and stderr interleave), on one line.
fn join_lines(lines: &[String]) -> String {
    let mut lines: Vec<String> = lines
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    lines.sort();
    lines.join("; ")
}

/// Sums libtest's `test result:` lines into `N passed, N failed, N ignored`.
fn sum_cargo_results(lines: &[String]) -> String {
    let mut totals = [0u64; 3];
    for line in lines {
        for part in line.split([';', '.']) {
            let mut words = part.split_whitespace();
            let (Some(n), Some(what)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = n.parse::<u64>() else { continue };
            match what {
                "passed" => totals[0] += n,
                "failed" => totals[1] += n,
                "ignored" => totals[2] += n,
                _ => {}
            }
        }
    }
    if lines.is_empty() {
        return String::new();
    }
    format!(
        "{} passed, {} failed, {} ignored",
        totals[0], totals[1], totals[2]
    )
}

#[cfg(test)]
/// Unit tests of the helpers above.
mod tests {
    use super::*;

    /// Counts add up across test binaries.
    #[test]
    fn sums_libtest_results() {
        let lines = vec![
            "test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s".to_owned(),
            "test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.50s".to_owned(),
        ];
        assert_eq!(sum_cargo_results(&lines), "5 passed, 1 failed, 1 ignored");
        assert_eq!(sum_cargo_results(&[]), "");
    }

    /// A folder's size is the sum of its files, nested folders included.
    #[test]
    fn sums_a_folders_files() {
        let dir = std::env::temp_dir().join(format!("xtask-size-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("a/b")).expect("a file in the temporary folder");
        std::fs::write(dir.join("one"), [0u8; 10]).expect("a file in the temporary folder");
        std::fs::write(dir.join("a/b/two"), [0u8; 32]).expect("a file in the temporary folder");
        assert_eq!(folder_bytes(&dir), 42);
        assert_eq!(folder_bytes(&dir.join("missing")), 0);
        std::fs::remove_dir_all(&dir).expect("a file in the temporary folder");
    }

    /// Runner summary lines are recognised, progress lines are not.
    #[test]
    fn recognises_summaries() {
        assert!(is_nextest_summary(
            "     Summary [   0.012s] 5 tests run: 5 passed, 0 skipped"
        ));
        assert!(is_vitest_summary("      Tests  10 passed (10)"));
        assert!(is_vitest_summary(" Test Files  2 passed (2)"));
        assert!(!is_vitest_summary(
            " ✓ src/lib/format.test.ts (4 tests) 3ms"
        ));
    }
}
