//! Real-window tests: the app in its real WebKitGTK webview on a virtual X display, driven
//! through WebDriver the way a person uses it.
//!
//! A [`Scenario`] starts Xvfb and, per [`Scenario::launch`], one app instance through its own
//! `tauri-driver` (its own `--port` and `--native-port`; tauri-driver starts WebKitWebDriver,
//! which starts the app), with its own `HOME` and XDG folders. A [`Window`] is that instance's
//! WebDriver session (fantoccini) with helpers that act on what a person sees: click a control
//! by its accessible name, type into a field by its label, wait for text, read the pixels
//! inside a `<canvas>` or `<video>`, take a screenshot.
//!
//! A scenario that fails (an `Err` or a panic) saves, per window, a screenshot and everything
//! the instance printed (the app's stdout and stderr, WebKitWebDriver's and tauri-driver's
//! logs) as `target/artifacts/<scenario>-<window>.png` / `.log`, which CI keeps.
//!
//! ```no_run
//! use classroom_tests::window::{AppOptions, AppUnderTest, Scenario};
//! # let app = AppUnderTest { binary: "target/debug/classroom-app".into(), identifier: "app.classroom.desktop".into() };
//! Scenario::run("join-screen", app, |s| {
//!     let teacher = s.launch(AppOptions::new("teacher"))?;
//!     teacher.wait_for_text("Join a class", classroom_tests::window::WAIT)?;
//!     Ok(())
//! });
//! ```
//!
//! The app's screens are driven by [`flows`]: one helper per thing a person does (host a
//! class, join it), so a change to a screen changes one function, not every test.

pub mod flows;
mod page;
mod pen;
mod process;
mod xvfb;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::{Element, ElementRef};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub use fantoccini::key::Key;
pub use page::{Focused, Geometry, Pixels};
pub use pen::{Pen, Pointers};
pub use process::Output;
pub use xvfb::{Xvfb, find_program};

/// How long a step may take by default: generous, because a cold WebKit start and a class's
/// first frames on a loaded two-core CI machine take seconds.
pub const WAIT: Duration = Duration::from_secs(30);

/// How long an app may take from launch to a WebDriver session with its page loaded.
/// `CLASSROOM_UI_READY_TIMEOUT_SECS` overrides it.
pub fn launch_timeout() -> Duration {
    std::env::var("CLASSROOM_UI_READY_TIMEOUT_SECS")
        .ok()
        .and_then(|secs| secs.parse().ok())
        .map_or(Duration::from_secs(90), Duration::from_secs)
}

/// The virtual screen: room for two default-sized windows side by side is not needed (each
/// instance has its own window; screenshots are per window).
const SCREEN: (u32, u32) = (1280, 800);

/// The app binary under test and its Tauri identifier (which names its config folder).
#[derive(Debug, Clone)]
pub struct AppUnderTest {
    /// `env!("CARGO_BIN_EXE_classroom-app")` in the app's tests.
    pub binary: PathBuf,
    /// `identifier` from `tauri.conf.json`: the app's config folder is
    /// `$XDG_CONFIG_HOME/<identifier>`.
    pub identifier: String,
}

/// How to start one app instance.
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// A short label: names its folders and artifacts (`teacher`, `student-1`).
    pub label: String,
    /// Command-line arguments for the app.
    pub args: Vec<String>,
    /// Environment for the app (after the harness's own, so it can override `LANG`).
    pub env: Vec<(String, String)>,
    /// Files to put in the app's config folder before it starts, e.g. `settings.json`.
    pub config_files: Vec<(String, String)>,
}

impl AppOptions {
    /// An instance labelled `label`, English (`LANG=C.UTF-8`), no arguments.
    pub fn new(label: &str) -> Self {
        Self {
            label: label.to_owned(),
            ..Self::default()
        }
    }

    /// Adds command-line arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for the app.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Writes `contents` to `name` in the app's config folder before it starts.
    pub fn config_file(mut self, name: &str, contents: &str) -> Self {
        self.config_files
            .push((name.to_owned(), contents.to_owned()));
        self
    }

    /// Starts with the app's language setting forced to `language` (`en`, `zh-CN`), through
    /// the settings file the app reads at start.
    pub fn language(self, language: &str) -> Self {
        let settings = json!({ "language": language, "theme": "system" }).to_string();
        self.config_file("settings.json", &settings)
    }
}

/// A window test: a virtual display, app instances on it, and artifacts when it fails.
pub struct Scenario {
    name: String,
    app: AppUnderTest,
    work: PathBuf,
    artifacts: PathBuf,
    runtime: Arc<tokio::runtime::Runtime>,
    windows: Vec<Window>,
    /// A private D-Bus session bus, once a test asked for one ([`Scenario::session_bus`]).
    bus: Option<(String, process::Guard)>,
    /// The pen and the mouse, in a scenario run with them ([`Scenario::run_with_pen`]).
    pointers: Option<Pointers>,
    // Dropped last: the windows' processes need the display until they are gone.
    xvfb: Xvfb,
}

impl Scenario {
    /// Runs `body` as the scenario `name` against `app`. On failure (an `Err` or a panic) it
    /// saves every window's screenshot and output into `target/artifacts/`, then fails the
    /// test with the error and where the artifacts are.
    pub fn run(name: &str, app: AppUnderTest, body: impl FnOnce(&mut Scenario) -> Result<()>) {
        Self::run_on(name, app, false, body);
    }

    /// As [`Scenario::run`], on a real X server with a graphics tablet's pen
    /// and a mouse ([`Xvfb::start_with_pen`]; [`Scenario::pen`], [`Scenario::eraser`] and
    /// [`Scenario::mouse`] drive them) instead of Xvfb.
    pub fn run_with_pen(
        name: &str,
        app: AppUnderTest,
        body: impl FnOnce(&mut Scenario) -> Result<()>,
    ) {
        Self::run_on(name, app, true, body);
    }

    fn run_on(
        name: &str,
        app: AppUnderTest,
        with_pen: bool,
        body: impl FnOnce(&mut Scenario) -> Result<()>,
    ) {
        let mut scenario = match Scenario::start(name, app, with_pen) {
            Ok(s) => s,
            Err(e) => panic!("window test {name}: cannot start: {e:#}"),
        };
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&mut scenario)));
        let failure = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("{e:#}")),
            Err(panic) => Some(
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "panicked".into()),
            ),
        };
        if let Some(failure) = failure {
            let saved = scenario.save_artifacts("failed");
            scenario.close();
            panic!("window test {name} failed: {failure}\nartifacts:\n{saved}");
        }
        scenario.close();
    }

    fn start(name: &str, app: AppUnderTest, with_pen: bool) -> Result<Self> {
        if !app.binary.is_file() {
            bail!("the app binary {} is missing", app.binary.display());
        }
        let target = target_dir(&app.binary);
        let work = target.join("tmp").join("window-tests").join(name);
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).with_context(|| format!("create {}", work.display()))?;
        let artifacts = target.join("artifacts");
        std::fs::create_dir_all(&artifacts)
            .with_context(|| format!("create {}", artifacts.display()))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("a tokio runtime for the WebDriver client")?;
        let (xvfb, pointers) = if with_pen {
            let (display, pointers) = Xvfb::start_with_pen(SCREEN.0, SCREEN.1, &work)?;
            (display, Some(pointers))
        } else {
            (Xvfb::start(SCREEN.0, SCREEN.1, &work)?, None)
        };
        Ok(Self {
            name: name.to_owned(),
            app,
            work,
            artifacts,
            runtime: Arc::new(runtime),
            windows: Vec::new(),
            bus: None,
            pointers,
            xvfb,
        })
    }

    /// The folder where screenshots and logs are kept (`target/artifacts`).
    pub fn artifacts(&self) -> &Path {
        &self.artifacts
    }

    /// The virtual display.
    pub fn display(&self) -> &Xvfb {
        &self.xvfb
    }

    /// The tablet pen's tip, in a scenario run with [`Scenario::run_with_pen`].
    pub fn pen(&mut self) -> Result<&mut Pen> {
        Ok(&mut self.pointers()?.pen)
    }

    /// The tablet pen's eraser end, in a scenario run with [`Scenario::run_with_pen`].
    pub fn eraser(&mut self) -> Result<&mut Pen> {
        Ok(&mut self.pointers()?.eraser)
    }

    /// The mouse (X's, not WebDriver's), in a scenario run with [`Scenario::run_with_pen`].
    pub fn mouse(&mut self) -> Result<&mut Pen> {
        Ok(&mut self.pointers()?.mouse)
    }

    fn pointers(&mut self) -> Result<&mut Pointers> {
        self.pointers
            .as_mut()
            .context("this scenario has no pen: run it with Scenario::run_with_pen")
    }

    /// Starts an app instance and waits until its page shows (its main area has content).
    pub fn launch(&mut self, options: AppOptions) -> Result<Window> {
        let label = if options.label.is_empty() {
            format!("app-{}", self.windows.len() + 1)
        } else {
            options.label.clone()
        };
        let window = Window::launch(self, &label, &options)?;
        self.windows.push(window.clone());
        // The page has mounted and asked Rust for its settings and launch options once the
        // app's root has content (the app prints UI_READY then, but tauri-driver does not
        // pass the app's stdout on).
        window.wait_until(launch_timeout(), "the page to show", || {
            window
                .eval::<bool>(
                    "return document.readyState === 'complete' && \
                     !!document.querySelector('#app main > *')",
                    vec![],
                )
                .map(|ready| ready.then_some(()))
        })?;
        Ok(window)
    }

    /// Saves a screenshot and the output of every window as
    /// `<scenario>-<window>-<suffix>.png/.log`; returns the paths, one a line.
    pub fn save_artifacts(&self, suffix: &str) -> String {
        let mut saved = Vec::new();
        for window in &self.windows {
            let stem = format!("{}-{}-{suffix}", self.name, window.label());
            let png = self.artifacts.join(format!("{stem}.png"));
            match window.screenshot(&png) {
                Ok(()) => saved.push(png.display().to_string()),
                Err(e) => saved.push(format!("(no screenshot of {}: {e:#})", window.label())),
            }
            let log = self.artifacts.join(format!("{stem}.log"));
            if std::fs::write(&log, window.output()).is_ok() {
                saved.push(log.display().to_string());
            }
        }
        let screen = self
            .artifacts
            .join(format!("{}-screen-{suffix}.png", self.name));
        if self.xvfb.screenshot(&screen).is_ok() {
            saved.push(screen.display().to_string());
        }
        saved.join("\n")
    }

    /// Ends every session (the apps close) and stops the drivers.
    fn close(&mut self) {
        for window in self.windows.drain(..) {
            window.close();
        }
        self.bus = None;
    }

    /// The address of a D-Bus session bus of this scenario's own (started on first use), for
    /// apps that need one: on Linux the single-instance hand-over goes over it. Give it to
    /// each app as `DBUS_SESSION_BUS_ADDRESS` (apps get no bus otherwise, so that each runs
    /// on its own).
    pub fn session_bus(&mut self) -> Result<String> {
        if let Some((address, _)) = &self.bus {
            return Ok(address.clone());
        }
        let address = format!("unix:path={}", self.work.join("session-bus").display());
        let child = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nosyslog"])
            .arg(format!("--address={address}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start dbus-daemon (package dbus)")?;
        let guard = process::Guard::new("dbus-daemon", child, false);
        let socket = self.work.join("session-bus");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            if Instant::now() > deadline {
                bail!("dbus-daemon made no socket at {}", socket.display());
            }
            thread::sleep(Duration::from_millis(20));
        }
        self.bus = Some((address.clone(), guard));
        Ok(address)
    }

    /// Starts the app binary once more, as a desktop does when a link is clicked while the
    /// app runs: not through WebDriver, on the scenario's display, with `env` and `args`.
    /// Waits up to `timeout` for it to exit and returns its exit status and output; one that
    /// is still running then is stopped, and that is an error.
    pub fn start_again(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<(std::process::ExitStatus, String)> {
        let home = self.work.join("start-again");
        std::fs::create_dir_all(&home)?;
        let mut cmd = Command::new(&self.app.binary);
        on_display(&mut cmd, self.xvfb.display());
        cmd.args(args)
            .env("HOME", &home)
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            cmd.env(key, value);
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("start {}", self.app.binary.display()))?;
        let output = Output::capture(&mut child);
        let mut guard = process::Guard::new("the second start", child, true);
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = guard.exited() {
                return Ok((status, output.text()));
            }
            if Instant::now() > deadline {
                bail!(
                    "the second start did not exit within {timeout:?}:\n{}",
                    output.text()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `<target>` from `<target>/debug/classroom-app`.
fn target_dir(binary: &Path) -> PathBuf {
    binary
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// Points a GTK program at the scenario's X display, never at the desktop's Wayland one; no
/// accessibility bus on a bare X server (without `NO_AT_BRIDGE` GTK waits for one).
fn on_display(cmd: &mut Command, display: &str) {
    cmd.env("DISPLAY", display)
        .env_remove("WAYLAND_DISPLAY")
        .env("GDK_BACKEND", "x11")
        .env("NO_AT_BRIDGE", "1");
}

/// A port nobody listens on now.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("find a free port")?;
    Ok(listener.local_addr()?.port())
}

struct WindowInner {
    label: String,
    client: Client,
    runtime: Arc<tokio::runtime::Runtime>,
    output: Output,
    driver: Mutex<Option<process::Guard>>,
    config_dir: PathBuf,
}

/// One app instance's window, driven through its WebDriver session. Cheap to clone.
#[derive(Clone)]
pub struct Window {
    inner: Arc<WindowInner>,
}

impl Window {
    fn launch(scenario: &Scenario, label: &str, options: &AppOptions) -> Result<Self> {
        let tauri_driver = find_program("tauri-driver", "`cargo install tauri-driver`")?;
        let native_driver = find_program("WebKitWebDriver", "webkit2gtk-driver")?;
        let home = scenario.work.join(label);
        let dirs = ["home", "config", "data", "cache", "runtime"].map(|d| home.join(d));
        for dir in &dirs {
            std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // XDG_RUNTIME_DIR must be private, or GLib and PulseAudio refuse it.
            let _ = std::fs::set_permissions(&dirs[4], std::fs::Permissions::from_mode(0o700));
        }
        let config_dir = dirs[1].join(&scenario.app.identifier);
        std::fs::create_dir_all(&config_dir)?;
        for (name, contents) in &options.config_files {
            std::fs::write(config_dir.join(name), contents)
                .with_context(|| format!("write {name} into the app's config folder"))?;
        }

        let port = free_port()?;
        let native_port = free_port()?;
        let mut cmd = Command::new(&tauri_driver);
        on_display(&mut cmd, scenario.xvfb.display());
        cmd.args(["--port", &port.to_string()])
            .args(["--native-port", &native_port.to_string()])
            .arg("--native-driver")
            .arg(&native_driver)
            // Xvfb has no GPU behind it: GL in software (Mesa's llvmpipe). Not
            // WEBKIT_DISABLE_DMABUF_RENDERER: with it, WebKitWebDriver's screenshots wait for a
            // presentation update that never comes (measured with WebKitGTK 2.50).
            .env("LIBGL_ALWAYS_SOFTWARE", "1")
            // The instance's own home, settings, caches and runtime folder.
            .env("HOME", &dirs[0])
            .env("XDG_CONFIG_HOME", &dirs[1])
            .env("XDG_DATA_HOME", &dirs[2])
            .env("XDG_CACHE_HOME", &dirs[3])
            .env("XDG_RUNTIME_DIR", &dirs[4])
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            // English unless the test says otherwise.
            .env("LANG", "C.UTF-8")
            .env_remove("LANGUAGE")
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in &options.env {
            cmd.env(key, value);
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("start {}", tauri_driver.display()))?;
        let output = Output::capture(&mut child);
        let mut driver = process::Guard::new("tauri-driver", child, true);

        let url = format!("http://127.0.0.1:{port}");
        let runtime = Arc::clone(&scenario.runtime);
        // tauri-driver forwards to WebKitWebDriver, which it starts: both must listen.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let listening = |p: u16| std::net::TcpStream::connect(("127.0.0.1", p)).is_ok();
            if listening(port) && listening(native_port) {
                break;
            }
            if let Some(status) = driver.exited() {
                bail!("tauri-driver exited with {status}:\n{}", output.text());
            }
            if Instant::now() > deadline {
                bail!("tauri-driver did not listen on {port}:\n{}", output.text());
            }
            thread::sleep(Duration::from_millis(50));
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "tauri:options".into(),
            json!({
                "application": scenario.app.binary,
                "args": options.args,
            }),
        );
        let client = runtime
            .block_on(async {
                tokio::time::timeout(
                    launch_timeout(),
                    ClientBuilder::new(HttpConnector::new())
                        .capabilities(capabilities)
                        .connect(&url),
                )
                .await
            })
            .map_err(|_| anyhow!("no WebDriver session within {:?}", launch_timeout()))?
            .map_err(|e| anyhow!("WebDriver session for {label}: {e}\n{}", output.text()))?;
        Ok(Self {
            inner: Arc::new(WindowInner {
                label: label.to_owned(),
                client,
                runtime,
                output,
                driver: Mutex::new(Some(driver)),
                config_dir,
            }),
        })
    }

    /// The instance's label.
    pub fn label(&self) -> &str {
        &self.inner.label
    }

    /// The app's config folder (`$XDG_CONFIG_HOME/<identifier>`).
    pub fn config_dir(&self) -> &Path {
        &self.inner.config_dir
    }

    /// Everything the instance printed so far: the app's stdout and stderr, WebKitWebDriver's
    /// and tauri-driver's.
    pub fn output(&self) -> String {
        self.inner.output.text()
    }

    fn block<T>(&self, future: impl Future<Output = T>) -> T {
        self.inner.runtime.block_on(future)
    }

    /// Runs `script` in the page (`arguments` are `args`; `return` gives the result).
    pub fn eval<T: DeserializeOwned>(&self, script: &str, args: Vec<Value>) -> Result<T> {
        let value = self
            .block(self.inner.client.execute(script, args))
            .map_err(|e| anyhow!("script in {}: {e}", self.label()))?;
        serde_json::from_value(value.clone())
            .with_context(|| format!("script in {} returned {value}", self.label()))
    }

    /// Calls `probe` until it gives `Some`, at most `timeout`; the error names `what`.
    pub fn wait_until<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut probe: impl FnMut() -> Result<Option<T>>,
    ) -> Result<T> {
        let deadline = Instant::now() + timeout;
        let mut last_error = None;
        loop {
            match probe() {
                Ok(Some(value)) => return Ok(value),
                Ok(None) => {}
                Err(e) => last_error = Some(e),
            }
            if Instant::now() > deadline {
                let why = last_error.map(|e| format!(" (last error: {e:#})"));
                bail!(
                    "{}: waited {:?} for {what}{}",
                    self.label(),
                    timeout,
                    why.unwrap_or_default()
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the page's visible text contains `text` (case aside).
    pub fn wait_for_text(&self, text: &str, timeout: Duration) -> Result<()> {
        self.wait_until(timeout, &format!("the text {text:?}"), || {
            Ok(self.has_text(text)?.then_some(()))
        })
    }

    /// Waits until the page's visible text no longer contains `text`.
    pub fn wait_for_text_gone(&self, text: &str, timeout: Duration) -> Result<()> {
        self.wait_until(timeout, &format!("the text {text:?} to go"), || {
            Ok((!self.has_text(text)?).then_some(()))
        })
    }

    /// Whether the page's visible text contains `text` now (case aside).
    pub fn has_text(&self, text: &str) -> Result<bool> {
        self.eval(page::HAS_TEXT, vec![json!(text)])
    }

    /// Waits until an element matches the CSS `selector`; returns it.
    pub fn wait_for(&self, selector: &str, timeout: Duration) -> Result<Element> {
        self.wait_until(
            timeout,
            &format!("an element matching {selector:?}"),
            || match self.block(self.inner.client.find(Locator::Css(selector))) {
                Ok(el) => Ok(Some(el)),
                Err(e) if e.is_no_such_element() => Ok(None),
                Err(e) => Err(anyhow!("{e}")),
            },
        )
    }

    /// Waits until the element with `data-testid="id"` exists; returns it.
    pub fn wait_for_testid(&self, id: &str, timeout: Duration) -> Result<Element> {
        self.wait_for(&format!("[data-testid={id:?}]"), timeout)
    }

    /// The visible text of the element with `data-testid="id"`.
    pub fn text_of_testid(&self, id: &str) -> Result<String> {
        let el = self.wait_for_testid(id, WAIT)?;
        self.block(el.text())
            .map_err(|e| anyhow!("text of {id}: {e}"))
    }

    /// The value of the form field (or the text of the element) with `data-testid="id"`.
    pub fn value_of_testid(&self, id: &str) -> Result<String> {
        self.wait_for_testid(id, WAIT)?;
        self.eval(
            "const el = document.querySelector(`[data-testid=\"${arguments[0]}\"]`);\
             return 'value' in el ? el.value : el.textContent.trim();",
            vec![json!(id)],
        )
    }

    /// Whether an element with `data-testid="id"` is on the page now (no waiting).
    pub fn has_testid(&self, id: &str) -> Result<bool> {
        self.eval(
            "return document.querySelector(`[data-testid=\"${arguments[0]}\"]`) !== null;",
            vec![json!(id)],
        )
    }

    /// Whether the control with `data-testid="id"` is disabled (waiting for it to exist); an
    /// element that cannot be disabled (a link, a box) reads as enabled.
    pub fn is_disabled_testid(&self, id: &str) -> Result<bool> {
        self.wait_for_testid(id, WAIT)?;
        self.eval(
            "return document.querySelector(`[data-testid=\"${arguments[0]}\"]`).disabled === true;",
            vec![json!(id)],
        )
    }

    /// The enabled, visible control whose accessible name is `name` (a button's text, a field's
    /// label, an `aria-label`), waiting for it; an error lists the names seen when there is
    /// none, or when several match.
    pub fn find_by_name(&self, name: &str, timeout: Duration) -> Result<Element> {
        let mut seen: Vec<String> = Vec::new();
        let found = self.wait_until(timeout, &format!("a control named {name:?}"), || {
            let result = self
                .block(
                    self.inner
                        .client
                        .execute(page::FIND_BY_NAME, vec![json!(name), json!(true)]),
                )
                .map_err(|e| anyhow!("{e}"))?;
            seen = serde_json::from_value(result["seen"].clone()).unwrap_or_default();
            let found: Vec<Value> =
                serde_json::from_value(result["found"].clone()).unwrap_or_default();
            match found.len() {
                0 => Ok(None),
                1 => Ok(Some(found[0].clone())),
                n => Err(anyhow!("{n} controls are named {name:?}")),
            }
        });
        let found = found.map_err(|e| anyhow!("{e:#}; names on the page: {seen:?}"))?;
        self.element(&found)
    }

    /// Turns an element a script returned into a WebDriver element.
    fn element(&self, value: &Value) -> Result<Element> {
        let id = value
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .with_context(|| format!("not an element: {value}"))?;
        Ok(Element::from_element_id(
            self.inner.client.clone(),
            ElementRef::from(id.to_owned()),
        ))
    }

    /// Clicks the control named `name` (see [`Window::find_by_name`]) as a person would.
    pub fn click(&self, name: &str) -> Result<()> {
        let el = self.find_by_name(name, WAIT)?;
        self.block(el.click())
            .map_err(|e| anyhow!("{}: click {name:?}: {e}", self.label()))
    }

    /// Clicks the element with `data-testid="id"` once it is enabled, as a person waits for
    /// a greyed-out button: a click on a disabled one does nothing, and a test that clicked
    /// too early (the homework dialog's set button while the dialog still loads, on a busy
    /// machine) waited for its result in vain.
    pub fn click_testid(&self, id: &str) -> Result<()> {
        let el = self.wait_for_testid(id, WAIT)?;
        self.wait_until(WAIT, &format!("{id} to be enabled"), || {
            Ok((!self.is_disabled_testid(id)?).then_some(()))
        })?;
        self.block(el.click())
            .map_err(|e| anyhow!("{}: click {id}: {e}", self.label()))
    }

    /// Clicks the element matching the CSS `selector`, waiting for it.
    pub fn click_selector(&self, selector: &str) -> Result<()> {
        let el = self.wait_for(selector, WAIT)?;
        self.block(el.click())
            .map_err(|e| anyhow!("{}: click {selector:?}: {e}", self.label()))
    }

    /// Replaces the text of the field labelled `label` with `text`, typing it key by key.
    pub fn type_into(&self, label: &str, text: &str) -> Result<()> {
        let el = self.find_by_name(label, WAIT)?;
        self.block(async {
            el.clear().await?;
            el.send_keys(text).await
        })
        .map_err(|e| anyhow!("{}: type into {label:?}: {e}", self.label()))
    }

    /// Replaces the text of the field with `data-testid="id"`, typing it key by key.
    pub fn type_into_testid(&self, id: &str, text: &str) -> Result<()> {
        let el = self.wait_for_testid(id, WAIT)?;
        self.block(async {
            el.clear().await?;
            el.send_keys(text).await
        })
        .map_err(|e| anyhow!("{}: type into {id}: {e}", self.label()))
    }

    /// Chooses the option with `value` in the drop-down labelled `label`, by clicking it.
    pub fn select_option(&self, label: &str, value: &str) -> Result<()> {
        let el = self.find_by_name(label, WAIT)?;
        self.block(el.select_by_value(value))
            .map_err(|e| anyhow!("{}: choose {value:?} in {label:?}: {e}", self.label()))
    }

    /// Presses keys on whatever has the focus (text, or [`Key`]s as chars).
    pub fn press(&self, keys: &str) -> Result<()> {
        let actions = keys.chars().fold(KeyActions::new("keys".into()), |a, c| {
            a.then(KeyAction::Down { value: c })
                .then(KeyAction::Up { value: c })
        });
        self.block(self.inner.client.perform_actions(actions))
            .map_err(|e| anyhow!("{}: press {keys:?}: {e}", self.label()))
    }

    /// Presses `key` while holding Control (e.g. Ctrl+= to zoom in).
    pub fn press_with_control(&self, key: char) -> Result<()> {
        let control: char = Key::Control.into();
        let actions = KeyActions::new("chord".into())
            .then(KeyAction::Down { value: control })
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key })
            .then(KeyAction::Up { value: control });
        self.block(self.inner.client.perform_actions(actions))
            .map_err(|e| anyhow!("{}: press Ctrl+{key}: {e}", self.label()))
    }

    /// The element that has the keyboard focus, or `None` (the page itself).
    pub fn focused(&self) -> Result<Option<Focused>> {
        self.eval(page::FOCUSED, vec![])
    }

    /// The box of the first element matching `selector` and the viewport's size; `None` when
    /// nothing matches.
    pub fn geometry(&self, selector: &str) -> Result<Option<Geometry>> {
        self.eval(page::GEOMETRY, vec![json!(selector)])
    }

    /// The pixels inside the `<canvas>` or `<video>` matching `selector`, sampled on a
    /// `grid.0` x `grid.1` grid: what the element itself holds, not what the screen shows
    /// around it.
    pub fn element_pixels(&self, selector: &str, grid: (u32, u32)) -> Result<Pixels> {
        let value: Value = self.eval(
            page::ELEMENT_PIXELS,
            vec![json!(selector), json!(grid.0), json!(grid.1)],
        )?;
        if let Some(error) = value.get("error").and_then(Value::as_str) {
            bail!("{}: {error}", self.label());
        }
        serde_json::from_value(value).context("the pixels script's answer")
    }

    /// Saves a PNG of the window's page, once what the DOM holds now has been painted (a
    /// capture straight after a change can show the frame before it).
    pub fn screenshot(&self, file: &Path) -> Result<()> {
        let painted = "const done = arguments[arguments.length - 1];\
                       const timer = setTimeout(done, 500);\
                       requestAnimationFrame(() => requestAnimationFrame(() => \
                         { clearTimeout(timer); setTimeout(done, 50); }));";
        let client = &self.inner.client;
        let png = self
            .block(async {
                tokio::time::timeout(Duration::from_secs(20), async {
                    // A page that cannot answer scripts (hung, gone) still gets its capture.
                    let _ = client.execute_async(painted, vec![]).await;
                    client.screenshot().await
                })
                .await
            })
            .map_err(|_| anyhow!("no screenshot within 20 s"))?
            .map_err(|e| anyhow!("screenshot of {}: {e}", self.label()))?;
        std::fs::write(file, png).with_context(|| format!("write {}", file.display()))
    }

    /// Ends the session (WebKitWebDriver closes the app) and stops the driver.
    fn close(&self) {
        let client = self.inner.client.clone();
        let _ = self
            .block(async { tokio::time::timeout(Duration::from_secs(10), client.close()).await });
        if let Ok(mut driver) = self.inner.driver.lock() {
            driver.take();
        }
    }
}
