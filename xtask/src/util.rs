//! Paths, program lookup and running child processes.

use std::env;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

/// The workspace root: the parent of this crate's folder.
pub fn root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Cargo's target folder: `$CARGO_TARGET_DIR` (relative to the current folder, as cargo reads
/// it) or `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                env::current_dir().map(|cwd| cwd.join(&dir)).unwrap_or(dir)
            }
        }
        None => root().join("target"),
    }
}

/// A `cargo` command run from the workspace root, using the cargo that runs xtask.
///
/// `CARGO_TARGET_DIR` is passed on as an absolute path, because the child runs in another
/// folder than the one the variable was given in.
pub fn cargo() -> Command {
    let program = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(program);
    cmd.current_dir(root());
    if env::var_os("CARGO_TARGET_DIR").is_some_and(|v| !v.is_empty()) {
        cmd.env("CARGO_TARGET_DIR", target_dir());
    }
    cmd
}

/// A program's file name on this platform (`npm` is `npm.cmd` on Windows).
pub fn npm() -> &'static str {
    if cfg!(windows) { "npm.cmd" } else { "npm" }
}

/// `name` with the platform's executable suffix.
pub fn exe(name: &str) -> String {
    format!("{name}{}", env::consts::EXE_SUFFIX)
}

/// Where the release build of the workspace's program `name` is (`target/release/<name>`,
/// with the platform's executable suffix): the benches run the tools they built.
pub fn release_tool(name: &str) -> PathBuf {
    target_dir().join("release").join(exe(name))
}

/// The first executable file called `program` on `PATH`.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    let suffixes: Vec<String> = if cfg!(windows) {
        let pathext = env::var("PATHEXT").unwrap_or_else(|_| ".EXE;.CMD;.BAT".into());
        std::iter::once(String::new())
            .chain(pathext.split(';').map(str::to_owned))
            .collect()
    } else {
        vec![String::new()]
    };
    env::split_paths(&path).find_map(|dir| {
        suffixes
            .iter()
            .map(|s| dir.join(format!("{program}{s}")))
            .find(|p| is_executable(p))
    })
}

/// True for a regular file that may be executed.
fn is_executable(path: &Path) -> bool {
    let Ok(meta) = path.metadata() else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// Stdout of `program args` when it exits successfully; `None` if it is absent or fails.
pub fn output(program: impl AsRef<OsStr>, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// True when this process runs as root (`id -u` is 0); false where `id` is missing.
pub fn is_root() -> bool {
    output("id", &["-u"]).is_some_and(|uid| uid.trim() == "0")
}

/// A command line as a user would type it.
pub fn show(cmd: &Command) -> String {
    // The cargo running xtask is a long toolchain path; `cargo` reads better.
    let program = if env::var_os("CARGO").as_deref() == Some(cmd.get_program()) {
        OsStr::new("cargo")
    } else {
        cmd.get_program()
    };
    std::iter::once(program)
        .chain(cmd.get_args())
        .map(|a| {
            let a = a.to_string_lossy();
            if a.is_empty() || a.contains([' ', '"', '\'']) {
                format!("{a:?}")
            } else {
                a.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Echoes and runs `cmd` with inherited stdio; returns its exit status.
pub fn run_status(cmd: &mut Command) -> Result<ExitStatus> {
    println!("$ {}", show(cmd));
    cmd.status()
        .with_context(|| format!("could not start {}", show(cmd)))
}

/// Echoes and runs `cmd`; fails unless it exits successfully.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = run_status(cmd)?;
    if !status.success() {
        bail!("`{}` failed ({status})", show(cmd));
    }
    Ok(())
}

/// Echoes and runs `cmd`, copying its stdout and stderr line by line to our stdout (so a test
/// runner's summary, which nextest writes to stderr, reaches stdout). Returns the exit status and
/// the lines, stripped of colour codes, for which `keep` is true.
pub fn run_tee(cmd: &mut Command, keep: fn(&str) -> bool) -> Result<(ExitStatus, Vec<String>)> {
    println!("$ {}", show(cmd));
    if std::io::stdout().is_terminal() {
        // The child sees pipes; keep the colours a terminal user expects.
        for (key, value) in [("CARGO_TERM_COLOR", "always"), ("FORCE_COLOR", "1")] {
            if env::var_os(key).is_none() {
                cmd.env(key, value);
            }
        }
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start {}", show(cmd)))?;
    let stderr = child.stderr.take().context("child stderr")?;
    let stdout = child.stdout.take().context("child stdout")?;
    let err_thread = thread::spawn(move || copy_lines(stderr, keep));
    let mut kept = copy_lines(stdout, keep);
    let status = child.wait().context("waiting for child")?;
    kept.extend(
        err_thread
            .join()
            .map_err(|_| anyhow!("output thread panicked"))?,
    );
    Ok((status, kept))
}

/// Copies `from` to our stdout line by line; returns the stripped lines `keep` accepts.
fn copy_lines(from: impl Read, keep: fn(&str) -> bool) -> Vec<String> {
    let mut reader = BufReader::new(from);
    let mut kept = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if !line.ends_with(b"\n") {
            line.push(b'\n');
        }
        // A closed stdout is no reason to stop reading: the child would block on a full pipe.
        let _ = std::io::stdout().lock().write_all(&line);
        let text = strip_ansi(&String::from_utf8_lossy(&line));
        let text = text.trim_end();
        if keep(text) {
            kept.push(text.to_owned());
        }
    }
    kept
}

/// `text` without ANSI escape sequences (colours, cursor movement).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            // Parameters and intermediates, then one final byte in '@'..='~'.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            chars.next();
        }
    }
    out
}

/// A duration as seconds with one decimal, e.g. `12.3s`.
pub fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

#[cfg(test)]
/// Unit tests of the helpers above.
mod tests {
    use super::*;

    /// Colour codes vanish; plain text stays.
    #[test]
    fn strips_colour_codes() {
        assert_eq!(
            strip_ansi("\u{1b}[1;32m  Tests\u{1b}[0m 3 passed"),
            "  Tests 3 passed"
        );
        assert_eq!(strip_ansi("plain"), "plain");
    }

    /// Arguments with spaces are quoted.
    #[test]
    fn shows_quoted_arguments() {
        let mut cmd = Command::new("echo");
        cmd.args(["a b", "c"]);
        assert_eq!(show(&cmd), "echo \"a b\" c");
    }
}
