//! A virtual X display for window tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::pen::{Pen, Pointers, xorg_pen_config};
use super::process::Guard;

/// A virtual X server on a display number nobody else uses; stopped when dropped.
pub struct Xvfb {
    display: String,
    size: (u32, u32),
    _guard: Guard,
}

impl Xvfb {
    /// Starts `Xvfb` with one `width`x`height` 24-bit screen on the first free display from
    /// :90, its log in `work`.
    pub fn start(width: u32, height: u32, work: &Path) -> Result<Self> {
        let program = find_program("Xvfb", "xvfb")?;
        Self::start_server("Xvfb", work, |display, _| {
            let mut command = Command::new(&program);
            command.args([display, "-screen", "0", &format!("{width}x{height}x24")]);
            command.args(["-nolisten", "tcp", "-noreset"]);
            Ok(command)
        })
        .map(|(display, guard)| Self {
            display,
            size: (width, height),
            _guard: guard,
        })
    }

    /// Starts a real X server (`Xorg` on its dummy video driver, `width`x`height`) with a
    /// graphics tablet's pen: devices of X's `inputtest` driver named "Test pen" and "Test
    /// eraser" (GTK takes devices named so for a pen and its eraser end) with X, Y and
    /// pressure axes, and a "Test mouse" without pressure, which [`Pen`]s drive through the
    /// driver's sockets. Xvfb cannot have such devices; this is how a pen's pressure is
    /// tested without one. Needs root (the tests' machines and CI run as root).
    pub fn start_with_pen(width: u32, height: u32, work: &Path) -> Result<(Self, Pointers)> {
        let program = find_program("Xorg", "xserver-xorg-core")?;
        let (pen, eraser, mouse) = (
            work.join("pen.sock"),
            work.join("eraser.sock"),
            work.join("mouse.sock"),
        );
        let config = work.join("xorg-pen.conf");
        std::fs::write(
            &config,
            xorg_pen_config(width, height, &pen, &eraser, &mouse),
        )
        .with_context(|| format!("write {}", config.display()))?;
        // An empty folder, so none of the machine's own configuration snippets are read.
        let snippets = work.join("xorg.conf.d");
        std::fs::create_dir_all(&snippets)
            .with_context(|| format!("create {}", snippets.display()))?;
        let (display, guard) = Self::start_server("Xorg", work, |display, number| {
            let mut command = Command::new(&program);
            command.arg(display).arg("-config").arg(&config);
            // No configuration from the machine's own folders, no console.
            command.arg("-configdir").arg(&snippets);
            command
                .arg("-logfile")
                .arg(work.join(format!("xorg-{number}.log")));
            command.args(["-nolisten", "tcp", "-noreset", "-novtswitch", "-sharevts"]);
            Ok(command)
        })?;
        let pointers = Pointers {
            pen: Pen::connect(&pen, (width, height), true)?,
            eraser: Pen::connect(&eraser, (width, height), true)?,
            mouse: Pen::connect(&mouse, (width, height), false)?,
        };
        Ok((
            Self {
                display,
                size: (width, height),
                _guard: guard,
            },
            pointers,
        ))
    }

    /// Starts the X server `command` makes for a display name and number on the first free
    /// number from :90 (its stderr in `work`); returns the display name and the running server.
    fn start_server(
        name: &'static str,
        work: &Path,
        command: impl Fn(&str, u32) -> Result<Command>,
    ) -> Result<(String, Guard)> {
        let mut failures = Vec::new();
        for number in 90..140 {
            // Another server (or a crashed one) owns this number; a server would refuse it anyway.
            if Path::new(&format!("/tmp/.X11-unix/X{number}")).exists()
                || Path::new(&format!("/tmp/.X{number}-lock")).exists()
            {
                continue;
            }
            let display = format!(":{number}");
            let log = work.join(format!("{}-{number}.log", name.to_lowercase()));
            let stderr =
                std::fs::File::create(&log).with_context(|| format!("create {}", log.display()))?;
            let child = command(&display, number)?
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .with_context(|| format!("start {name}"))?;
            let mut guard = Guard::new(name, child, false);
            match wait_for_socket(&mut guard, number, &log) {
                Ok(()) => return Ok((display, guard)),
                Err(why) => failures.push(format!("{display}: {why}")),
            }
        }
        bail!(
            "could not start {name} on any display from :90 to :139:\n{}",
            failures.join("\n")
        )
    }

    /// The display name, like `:90`.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// The screen's size in pixels.
    pub fn size(&self) -> (u32, u32) {
        self.size
    }

    /// Saves a PNG of the whole screen with ImageMagick's `import` (everything on the display,
    /// for when a window's own screenshot cannot be had).
    pub fn screenshot(&self, file: &Path) -> Result<()> {
        let import = find_program("import", "imagemagick")?;
        let output = Command::new(import)
            .args(["-display", &self.display, "-window", "root"])
            .arg(format!("PNG:{}", file.display()))
            .stdin(Stdio::null())
            .output()
            .context("run ImageMagick's import")?;
        if !output.status.success() {
            bail!(
                "import failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }
}

/// Waits until the server listens; a server that lost a race for the number exits instead.
fn wait_for_socket(xvfb: &mut Guard, number: u32, log: &Path) -> Result<(), String> {
    let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(status) = xvfb.exited() {
            let stderr = std::fs::read_to_string(log).unwrap_or_default();
            return Err(format!("exited with {status}: {}", stderr.trim()));
        }
        if socket.exists() {
            // Give a server that lost the race for the lock file the moment it needs to exit.
            thread::sleep(Duration::from_millis(300));
            if let Some(status) = xvfb.exited() {
                return Err(format!("exited with {status} after the socket appeared"));
            }
            return Ok(());
        }
        thread::sleep(Duration::from_millis(50));
    }
    Err("no socket after 30 s".into())
}

/// Finds a program on `PATH`, or says which package provides it. Window tests fail, rather
/// than skip, when one is missing, so CI cannot pass without having run them.
pub fn find_program(name: &str, package: &str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .with_context(|| {
            format!(
                "`{name}` is not on PATH: window tests need it. `cargo xtask deps` installs it \
                 ({package})."
            )
        })
}
