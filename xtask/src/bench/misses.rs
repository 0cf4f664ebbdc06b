//! `cargo xtask bench misses`: the memory traffic of one forwarded copy, counted rather than
//! timed. The SFU core alone (`classroom-fanout-bench`, 200 students, one thread, 16 MiB
//! written between turns so that each turn finds the students' state out of the caches, as a
//! server at 200 does) runs under valgrind's callgrind with its cache simulation, collecting
//! only inside the timed turns (`timed_turn`). The same build gives the same counts on every
//! run, where a shared VM's timings wander by tens of per cent: a change to the copy path
//! shows here as instructions and cache lines a copy, before it can show in `bench sfu`.
//!
//! The simulated caches are fixed (32 KiB I1, 48 KiB D1, 8 MiB last level, 64-byte lines), so
//! figures compare across hosts. valgrind does not model AVX-512 or VAES: ring's AES-GCM runs
//! its AVX path here, so the instruction count of the sealing differs from the host's; the
//! rest is the same code.

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

use crate::args::Args;
use crate::util::{cargo, release_tool, run as run_cmd, run_tee, target_dir, which};

/// Runs the benchmark (see the module docs).
pub fn run(mut args: Args) -> Result<ExitCode> {
    let packets = args.number("--packets", 150)?;
    args.finish("bench misses")?;
    if packets == 0 {
        bail!("--packets must be at least 1");
    }
    let valgrind = match which("valgrind") {
        Some(v) => v,
        None => {
            println!("bench misses: valgrind is not installed; installing Debian's `valgrind`");
            crate::deps::apt_install(&["valgrind"])?;
            which("valgrind").context("apt-get installed valgrind but it is not on PATH")?
        }
    };
    run_cmd(cargo().args([
        "build",
        "--release",
        "-p",
        "classroom-loadgen",
        "--bin",
        "classroom-fanout-bench",
    ]))?;
    let bench = release_tool("classroom-fanout-bench");
    let out = target_dir().join("bench-misses").join("callgrind.out");
    std::fs::create_dir_all(out.parent().context("a folder")?)?;
    let packets = packets.to_string();
    let mut cmd = Command::new(valgrind);
    cmd.args([
        "--tool=callgrind",
        "--cache-sim=yes",
        "--I1=32768,8,64",
        "--D1=49152,12,64",
        "--LL=8388608,16,64",
        "--toggle-collect=*timed_turn*",
    ])
    .arg(format!("--callgrind-out-file={}", out.display()))
    .arg(&bench)
    .args([
        "--threads",
        "1",
        "--students",
        "200",
        "--wash-kib",
        "16384",
        "--packets",
        &packets,
    ])
    .env("RUST_BACKTRACE", "0");
    let (status, kept) = run_tee(&mut cmd, |l| l.starts_with("RUN "))?;
    if !status.success() {
        bail!("the fan-out bench under callgrind failed ({status})");
    }
    let copies = copies_of(&kept).context("no RUN line with copies_all_rounds")?;
    let events = events_of(&out)?;
    let per = |name: &str| -> Result<f64> {
        let n = events
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| *v)
            .with_context(|| format!("callgrind counted no {name}"))?;
        Ok(n as f64 / copies as f64)
    };
    let (ir, d1r, d1w, llr, llw) = (
        per("Ir")?,
        per("D1mr")?,
        per("D1mw")?,
        per("DLmr")?,
        per("DLmw")?,
    );
    println!(
        "\n== a forwarded copy's memory traffic (callgrind, 200 students, one thread, 16 MiB \
         written between turns) =="
    );
    println!("copies counted                     {copies}");
    println!("instructions a copy                {ir:.0}");
    println!("L1 data misses a copy, read/write  {d1r:.1} / {d1w:.1}");
    println!("memory reads a copy (last level)   {llr:.1}");
    println!("memory writes a copy (last level)  {llw:.1}");
    println!(
        "by function: callgrind_annotate --sort=DLmr --inclusive=no {}",
        out.display()
    );
    println!(
        "BENCH misses {{\"copies\":{copies},\"ir_per_copy\":{ir:.1},\"d1_read_misses_per_copy\":{d1r:.2},\
         \"d1_write_misses_per_copy\":{d1w:.2},\"ll_read_misses_per_copy\":{llr:.2},\
         \"ll_write_misses_per_copy\":{llw:.2}}}"
    );
    Ok(ExitCode::SUCCESS)
}

/// The copies made in all timed rounds, from the fan-out bench's `RUN` line.
fn copies_of(lines: &[String]) -> Option<u64> {
    lines.iter().rev().find_map(|l| {
        let v: serde_json::Value = serde_json::from_str(l.strip_prefix("RUN ")?).ok()?;
        v.get("copies_all_rounds")?.as_u64().filter(|&c| c > 0)
    })
}

/// The event totals of a callgrind output file: its `events:` names and `summary:` counts.
fn events_of(path: &Path) -> Result<Vec<(String, u64)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    events_in(&text).with_context(|| format!("no events and summary lines in {}", path.display()))
}

fn events_in(text: &str) -> Option<Vec<(String, u64)>> {
    let names = text.lines().find_map(|l| l.strip_prefix("events:"))?;
    let counts = text.lines().rev().find_map(|l| {
        l.strip_prefix("summary:")
            .or_else(|| l.strip_prefix("totals:"))
    })?;
    let counts: Vec<u64> = counts
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let names: Vec<&str> = names.split_whitespace().collect();
    (names.len() == counts.len())
        .then(|| names.into_iter().map(str::to_owned).zip(counts).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callgrind_totals_and_the_run_line_are_read() {
        let out = "version: 1\ncreator: callgrind-3.19.0\nevents: Ir Dr DLmr\nfl=x\n\
                   summary: 300 20 7\ntotals: 300 20 7\n";
        assert_eq!(
            events_in(out),
            Some(vec![
                ("Ir".to_owned(), 300),
                ("Dr".to_owned(), 20),
                ("DLmr".to_owned(), 7)
            ])
        );
        assert_eq!(events_in("events: Ir Dr\nsummary: 1\n"), None);
        assert_eq!(events_in("summary: 1 2\n"), None);
        let lines = vec![
            "noise".to_owned(),
            "RUN {\"threads\":1,\"copies\":10000,\"copies_all_rounds\":30000}".to_owned(),
        ];
        assert_eq!(copies_of(&lines), Some(30000));
        assert_eq!(copies_of(&["RUN {\"copies\":1}".to_owned()]), None);
    }
}
