//! Opens the real app window on a virtual X display and checks that it shows the join screen.
//!
//! Needs `Xvfb` (package `xvfb`) and ImageMagick's `import` (package `imagemagick`); the test fails,
//! rather than skips, when they are missing, so CI cannot pass without having run it. The
//! screenshot is kept in `target/artifacts/window-join-screen.png` for people to look at.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long the app may take to show its page. Generous: a cold WebKit start on a loaded
/// two-core CI machine takes several seconds. `CLASSROOM_UI_READY_TIMEOUT_SECS` overrides it.
const UI_READY_TIMEOUT: Duration = Duration::from_secs(90);
/// How long after `UI_READY` the screen may take to show enough of the page.
const PAINT_TIMEOUT: Duration = Duration::from_secs(20);
const SCREEN: (u32, u32) = (1280, 800);

#[test]
fn window_shows_the_join_screen() {
    let xvfb_path = find_program("Xvfb", "xvfb");
    let import_path = find_program("import", "imagemagick");

    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("window-test");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("create the test's work folder");
    let artifacts = artifacts_dir();

    let xvfb = Xvfb::start(&xvfb_path, &work);
    let display = xvfb.display.clone();

    let mut app = App::launch(&display, &work);
    match app.wait_for_line("UI_READY", ui_ready_timeout()) {
        Ok(()) => {}
        Err(why) => panic!("the page never reported UI_READY: {why}\n{}", app.report()),
    }

    let screenshot = artifacts.join("window-join-screen.png");
    // The page reports ready after it has painted once; a moment more lets the X server catch up
    // so the kept screenshot is the settled page.
    thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let verdict = loop {
        capture(&import_path, &display, &screenshot);
        let verdict = judge(&screenshot);
        if verdict.looks_like_the_join_screen() || started.elapsed() > PAINT_TIMEOUT {
            break verdict;
        }
        thread::sleep(Duration::from_millis(500));
    };
    assert!(
        verdict.looks_like_the_join_screen(),
        "the window does not show the join screen ({verdict:?}); see {}\n{}",
        screenshot.display(),
        app.report()
    );
    assert!(
        app.is_running(),
        "the app exited after showing its page\n{}",
        app.report()
    );
    assert_eq!(
        app.count_lines("UI_READY"),
        1,
        "UI_READY must be printed exactly once"
    );
    eprintln!("screenshot: {} ({verdict:?})", screenshot.display());
}

fn ui_ready_timeout() -> Duration {
    std::env::var("CLASSROOM_UI_READY_TIMEOUT_SECS")
        .ok()
        .and_then(|secs| secs.parse().ok())
        .map_or(UI_READY_TIMEOUT, Duration::from_secs)
}

/// `<target>/artifacts`, next to the `<target>/tmp` cargo gives integration tests.
fn artifacts_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.parent().unwrap_or(tmp).join("artifacts");
    std::fs::create_dir_all(&dir).expect("create target/artifacts");
    dir
}

/// Finds a program on `PATH`, or fails the test saying which package provides it.
fn find_program(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not on PATH: this test opens the app on a virtual X display and \
                 needs it. Install it with `sudo apt-get install {package}`."
            )
        })
}

fn capture(import: &Path, display: &str, file: &Path) {
    let output = Command::new(import)
        .args(["-display", display, "-window", "root"])
        .arg(format!("PNG:{}", file.display()))
        .env("DISPLAY", display)
        .stdin(Stdio::null())
        .output()
        .expect("run ImageMagick's import");
    assert!(
        output.status.success(),
        "import failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// What the screenshot shows, measured coarsely enough not to care about fonts or anti-aliasing.
#[derive(Debug)]
struct Verdict {
    distinct_colours: usize,
    /// Share of the screen in the chalkboard green of the side panel.
    board_share: f64,
    /// Share of the screen in the most common colour; near 1.0 for a blank screen.
    commonest_share: f64,
}

impl Verdict {
    fn looks_like_the_join_screen(&self) -> bool {
        self.distinct_colours >= 200 && self.board_share > 0.05 && self.commonest_share < 0.85
    }
}

fn judge(file: &Path) -> Verdict {
    let image = image::open(file)
        .unwrap_or_else(|error| panic!("decode {}: {error}", file.display()))
        .to_rgb8();
    assert_eq!(
        image.dimensions(),
        SCREEN,
        "the screenshot should cover the whole virtual screen"
    );
    let mut counts = std::collections::HashMap::<[u8; 3], usize>::new();
    let mut board = 0usize;
    for pixel in image.pixels() {
        let [r, g, b] = pixel.0;
        *counts.entry(pixel.0).or_default() += 1;
        // The side panel is #1f3d33 under soft gradients: dark, with green above red and blue.
        if (30..=110).contains(&g) && g > r.saturating_add(12) && g >= b && r < 80 {
            board += 1;
        }
    }
    let total = f64::from(SCREEN.0 * SCREEN.1);
    let commonest = counts.values().copied().max().unwrap_or_default();
    Verdict {
        distinct_colours: counts.len(),
        board_share: board as f64 / total,
        commonest_share: commonest as f64 / total,
    }
}

/// A child process that is terminated when dropped, so a failing test leaves nothing behind.
struct Guard {
    name: &'static str,
    child: Child,
}

impl Guard {
    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        // SIGTERM first: Xvfb then removes its lock file and socket, which SIGKILL leaves behind.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        eprintln!("{} did not stop on SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A virtual X server on a display number nobody else uses.
struct Xvfb {
    display: String,
    _guard: Guard,
}

impl Xvfb {
    fn start(program: &Path, work: &Path) -> Self {
        let (width, height) = SCREEN;
        let mut failures = Vec::new();
        for number in 90..140 {
            // Another server (or a crashed one) owns this number; Xvfb would refuse it anyway.
            if Path::new(&format!("/tmp/.X11-unix/X{number}")).exists()
                || Path::new(&format!("/tmp/.X{number}-lock")).exists()
            {
                continue;
            }
            let display = format!(":{number}");
            let log = work.join(format!("xvfb-{number}.log"));
            let stderr = std::fs::File::create(&log).expect("create the Xvfb log file");
            let child = Command::new(program)
                .args([
                    display.as_str(),
                    "-screen",
                    "0",
                    &format!("{width}x{height}x24"),
                ])
                .args(["-nolisten", "tcp", "-noreset"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .unwrap_or_else(|error| panic!("start {}: {error}", program.display()));
            let mut guard = Guard {
                name: "Xvfb",
                child,
            };
            match wait_for_socket(&mut guard, number, &log) {
                Ok(()) => {
                    return Self {
                        display,
                        _guard: guard,
                    };
                }
                Err(why) => failures.push(format!("{display}: {why}")),
            }
        }
        panic!(
            "could not start Xvfb on any display from :90 to :139:\n{}",
            failures.join("\n")
        );
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

/// The app under test, with its output collected for the failure report.
struct App {
    guard: Guard,
    stdout: Receiver<String>,
    stdout_seen: Vec<String>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl App {
    fn launch(display: &str, work: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_classroom-app"))
            // Pre-fills the form, and the unknown flag checks that one does not stop the app.
            .args([
                "--role",
                "teacher",
                "--name",
                "Ada Lovelace",
                "--room",
                "physics-7b",
            ])
            .args([
                "--server",
                "ws://127.0.0.1:8080/ws",
                "--flag-from-a-launcher",
            ])
            .env("DISPLAY", display)
            .env_remove("WAYLAND_DISPLAY")
            .env("GDK_BACKEND", "x11")
            // Xvfb has no GPU behind it. WebKitGTK 2.50 on Debian 12 renders there without help
            // when the machine has no /dev/dri; on a runner that has one, WebKit's DMA-BUF
            // renderer and hardware GL would aim at a device the virtual display cannot show.
            .env("WEBKIT_DISABLE_DMABUF_RENDERER", "1")
            .env("LIBGL_ALWAYS_SOFTWARE", "1")
            // No accessibility bus on a bare X server; without this GTK waits for it.
            .env("NO_AT_BRIDGE", "1")
            // Keep the webview's profile out of the developer's home folder.
            .env("HOME", work.join("home"))
            .env("XDG_CONFIG_HOME", work.join("config"))
            .env("XDG_DATA_HOME", work.join("data"))
            .env("XDG_CACHE_HOME", work.join("cache"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the classroom-app binary");

        let (lines, stdout) = mpsc::channel();
        let out = child.stdout.take().expect("piped stdout");
        thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let err = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Ok(mut sink) = sink.lock() {
                    sink.push(line);
                }
            }
        });
        Self {
            guard: Guard {
                name: "classroom-app",
                child,
            },
            stdout,
            stdout_seen: Vec::new(),
            stderr,
        }
    }

    fn wait_for_line(&mut self, wanted: &str, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self
                .stdout
                .recv_timeout(left.min(Duration::from_millis(250)))
            {
                Ok(line) => {
                    let found = line.trim() == wanted;
                    self.stdout_seen.push(line);
                    if found {
                        return Ok(());
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if let Some(status) = self.guard.exited() {
                        return Err(format!("the app exited with {status}"));
                    }
                    if left.is_zero() {
                        return Err(format!("nothing after {} s", timeout.as_secs()));
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    thread::sleep(Duration::from_millis(200));
                    let status = self.guard.exited();
                    return Err(format!(
                        "the app closed its stdout (exit status {status:?})"
                    ));
                }
            }
        }
    }

    fn is_running(&mut self) -> bool {
        self.guard.exited().is_none()
    }

    fn count_lines(&mut self, wanted: &str) -> usize {
        self.stdout_seen.extend(self.stdout.try_iter());
        self.stdout_seen
            .iter()
            .filter(|line| line.trim() == wanted)
            .count()
    }

    /// The app's output so far, for a failure message.
    fn report(&mut self) -> String {
        self.stdout_seen.extend(self.stdout.try_iter());
        let stderr = self
            .stderr
            .lock()
            .map(|lines| lines.join("\n"))
            .unwrap_or_default();
        format!(
            "--- app stdout ---\n{}\n--- app stderr ---\n{stderr}",
            self.stdout_seen.join("\n")
        )
    }
}
