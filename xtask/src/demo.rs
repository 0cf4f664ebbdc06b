//! `cargo xtask demo`: provision, build, and run one teacher with students on this machine.

use std::env;
use std::process::{Command, ExitCode};

use anyhow::{Result, bail};

use crate::deps;
use crate::ui;
use crate::util::{cargo, exe, run, run_status, target_dir};

/// Options of `cargo xtask demo`.
pub struct Options {
    /// How long the demo streams, passed as `--seconds`.
    pub seconds: u64,
    /// Never open app windows, even with a display.
    pub headless: bool,
    /// Extra arguments for `classroom-demo` (after `--`).
    pub extra: Vec<String>,
}

/// Runs deps, the UI build, `cargo build --workspace --bins`, then `classroom-demo`; returns
/// the demo's exit code.
pub fn demo(opts: &Options) -> Result<ExitCode> {
    deps::deps(&deps::Options {
        check_only: false,
        verbose: false,
    })?;
    ui::ensure_built(false)?;
    // The debug profile, as the tests use: CI and developers build the graph once.
    run(cargo().args(["build", "--workspace", "--bins"]))?;

    let bin_dir = target_dir().join("debug");
    let demo_bin = bin_dir.join(exe("classroom-demo"));
    if !demo_bin.is_file() {
        bail!("demo: {} was not built", demo_bin.display());
    }
    let mut cmd = Command::new(&demo_bin);
    cmd.arg("--seconds").arg(opts.seconds.to_string());
    match display() {
        Some(display) if !opts.headless => {
            let app = bin_dir.join(exe("classroom-app"));
            println!("demo: display {display}: also opening the app's teacher and student windows");
            cmd.arg("--app-binary").arg(app);
        }
        Some(_) => println!("demo: --headless given: no app windows"),
        None => println!("demo: no $DISPLAY or $WAYLAND_DISPLAY: headless, no app windows"),
    }
    cmd.args(&opts.extra).current_dir(crate::util::root());
    let status = run_status(&mut cmd)?;
    // A demo killed by a signal has no code; report it as a failure.
    let code = status.code().unwrap_or(1);
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

/// The display a window would open on, if any.
fn display() -> Option<String> {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .find_map(|key| env::var(key).ok().filter(|v| !v.is_empty()))
        .or_else(|| cfg!(any(windows, target_os = "macos")).then(|| "desktop".to_owned()))
}
