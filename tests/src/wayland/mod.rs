//! A private Wayland desktop for screen-sharing tests: its own D-Bus session bus, PipeWire and
//! WirePlumber, a headless sway (software rendering), and xdg-desktop-portal with the wlroots
//! backend — the programs a sway user runs, in a temporary runtime directory, none of them
//! touching the machine's own session (no sound or camera monitors, no service activation).
//! It is up in well under a second.
//!
//! - The portal's output dialog is a chooser script standing in for the person: it picks the
//!   first output offered, or declines when [`WaylandDesktop::decline_next_share`] says so —
//!   xdg-desktop-portal-wlr's documented chooser protocol, where an empty answer is
//!   "declined".
//! - Without a GPU, xdg-desktop-portal-wlr 0.7 refuses every cast; a relay between it and sway
//!   supplies the one event it insists on (`shim.rs` says exactly what and why).
//! - sway refuses to run as root; as root it runs as `nobody`.
//!
//! Every process is started through `setpriv --pdeathsig KILL`, so a test process that dies
//! (a panic that aborts, nextest's timeout) takes the desktop with it; a normal end kills them
//! in [`Drop`]. The desktop must be started and dropped on the test's own thread (the parent
//! death signal follows the spawning thread). Directories left by a killed run are removed by
//! the next start.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

mod shim;

use shim::DmabufShim;

/// The portal and its wlroots backend (Debian's paths).
const PORTAL: &str = "/usr/libexec/xdg-desktop-portal";
const PORTAL_WLR: &str = "/usr/libexec/xdg-desktop-portal-wlr";
const WLR_PORTAL_FILE: &str = "/usr/share/xdg-desktop-portal/portals/wlr.portal";
/// sway names its headless outputs HEADLESS-1, HEADLESS-2, ...
pub const OUTPUT: &str = "HEADLESS-1";
/// The desktop's solid background, so a captured frame can be told from a stand-in picture.
pub const BACKGROUND_RGB: (u8, u8, u8) = (0x2a, 0x6f, 0xdb);
/// sway refuses to run as root; it then runs as this user (nobody).
const UNPRIVILEGED: u32 = 65534;
const DIR_PREFIX: &str = "classroom-wayland-";

/// The headless desktop; every process is killed and the directory removed on drop.
pub struct WaylandDesktop {
    dir: PathBuf,
    bus: String,
    sway_runtime: PathBuf,
    children: Vec<(&'static str, Child)>,
    shim: Option<DmabufShim>,
    /// xdg-desktop-portal-wlr's arguments, then its Wayland socket.
    backend: Vec<String>,
}

/// Why the desktop could not be started on this machine: the test prints it and skips.
#[derive(Debug)]
pub struct Unavailable(pub String);

fn program_exists(name: &str) -> bool {
    if name.starts_with('/') {
        return Path::new(name).exists();
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(name).is_file()))
}

fn gst_element_exists(name: &str) -> bool {
    // Not `--exists`: that also wants the plugin's version to be GStreamer's, and PipeWire's
    // plugin carries PipeWire's own version.
    Command::new("gst-inspect-1.0")
        .arg(name)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A GPU (or any DRM render node) lets wlroots export DMA-BUFs itself.
fn has_render_node() -> bool {
    fs::read_dir("/dev/dri").is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
    })
}

fn is_root() -> bool {
    // The owner of /proc/self is this process's effective user.
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

impl WaylandDesktop {
    /// Starts the desktop with one output of `width`x`height`. `Err` when a program is not
    /// installed (`cargo xtask deps` installs them all); a program that is installed but fails
    /// is a panic with its log, since that is a real failure.
    pub fn start(width: u32, height: u32) -> Result<Self, Unavailable> {
        let needed = [
            ("dbus-daemon", "dbus-daemon"),
            ("dbus-send", "dbus-bin"),
            ("setpriv", "util-linux"),
            ("pipewire", "pipewire-bin"),
            ("wireplumber", "wireplumber"),
            ("sway", "sway"),
            ("swaybg", "swaybg"),
            (PORTAL, "xdg-desktop-portal"),
            (PORTAL_WLR, "xdg-desktop-portal-wlr"),
            (WLR_PORTAL_FILE, "xdg-desktop-portal-wlr"),
        ];
        let missing: Vec<String> = needed
            .iter()
            .filter(|(p, _)| !program_exists(p))
            .map(|(p, pkg)| format!("{p} (package {pkg})"))
            .collect();
        if !missing.is_empty() {
            return Err(Unavailable(format!(
                "no Wayland desktop: missing {}; `cargo xtask deps` installs them",
                missing.join(", ")
            )));
        }
        if !gst_element_exists("pipewiresrc") {
            return Err(Unavailable(
                "no Wayland capture: GStreamer's pipewiresrc is missing (package \
                 gstreamer1.0-pipewire; `cargo xtask deps` installs it)"
                    .into(),
            ));
        }
        remove_stale_dirs();
        let dir = new_dir();
        let mut desktop = WaylandDesktop {
            sway_runtime: dir.join("sway"),
            dir,
            bus: String::new(),
            children: Vec::new(),
            shim: None,
            backend: Vec::new(),
        };
        desktop.start_bus();
        desktop.start_pipewire();
        desktop.start_sway(width, height);
        desktop.start_portal();
        Ok(desktop)
    }

    /// Ends every screen cast from the desktop's side: the screencast backend
    /// (xdg-desktop-portal-wlr) stops, and with it the PipeWire stream it produced. This is
    /// what an app sees when the desktop ends a share; xdg-desktop-portal-wlr 0.7 has no "stop
    /// sharing" control of its own and sends no `Closed`, and sway 1.7 cannot unplug a headless
    /// output (disabling one fails to commit), so stopping the backend is how it happens here.
    pub fn end_screen_casts(&mut self) {
        self.children.retain_mut(|(name, child)| {
            if *name != "portal-wlr" {
                return true;
            }
            let _ = child.kill();
            let _ = child.wait();
            false
        });
    }

    /// Starts the screencast backend again after [`WaylandDesktop::end_screen_casts`]: new
    /// shares work again (the portal follows the backend's bus name).
    pub fn restart_screen_casts(&mut self) {
        self.end_screen_casts();
        self.start_backend();
    }

    /// The outputs the chooser was last offered, one per line.
    pub fn offered_outputs(&self) -> String {
        fs::read_to_string(self.dir.join("offered")).unwrap_or_default()
    }

    /// The private session bus, for [`classroom_media::portal::PortalRequest`].
    pub fn bus_address(&self) -> &str {
        &self.bus
    }

    /// The next share request is declined at the chooser (`true`) or accepted (`false`).
    pub fn decline_next_share(&self, decline: bool) {
        let flag = self.dir.join("decline");
        if decline {
            fs::write(&flag, b"").expect("write the decline flag");
        } else {
            let _ = fs::remove_file(&flag);
        }
    }

    /// Runs `swaymsg` against this desktop's sway (e.g. `["output", "HEADLESS-1", "disable"]`).
    pub fn swaymsg(&self, args: &[&str]) -> Result<String, String> {
        let socket = fs::read_dir(&self.sway_runtime)
            .map_err(|e| e.to_string())?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("sway-ipc."))
            })
            .ok_or("sway has no IPC socket")?;
        let out = Command::new("swaymsg")
            .arg("-s")
            .arg(&socket)
            .args(args)
            .output()
            .map_err(|e| format!("swaymsg: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(text)
        } else {
            Err(format!(
                "swaymsg {args:?}: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// The log of one of the desktop's programs (`dbus`, `pipewire`, `wireplumber`, `sway`,
    /// `portal-wlr`, `portal`), for failure messages.
    pub fn log(&self, name: &str) -> String {
        fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default()
    }

    /// Every log, last lines first-to-last, for a failing assertion.
    pub fn logs(&self) -> String {
        let mut text = String::new();
        for name in ["sway", "portal-wlr", "portal", "pipewire", "wireplumber"] {
            let log = self.log(name);
            let tail: Vec<&str> = log.lines().rev().take(25).collect();
            text.push_str(&format!("--- {name}.log (last lines)\n"));
            for line in tail.into_iter().rev() {
                text.push_str(line);
                text.push('\n');
            }
        }
        text
    }

    /// Spawns `program` with this desktop's environment, its output in `<name>.log`, killed
    /// with the test process.
    fn spawn(&mut self, name: &'static str, program: &str, args: &[&str], env: &[(&str, &str)]) {
        let mut cmd = self.command(name, program, args, env, &[]);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        self.children.push((name, child));
    }

    fn command(
        &self,
        name: &str,
        program: &str,
        args: &[&str],
        env: &[(&str, &str)],
        setpriv: &[&str],
    ) -> Command {
        let log = fs::File::create(self.dir.join(format!("{name}.log"))).expect("log file");
        let mut cmd = Command::new("setpriv");
        cmd.args(["--pdeathsig", "KILL"])
            .args(setpriv)
            .arg("--")
            .arg(program)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.join("home"))
            .env("XDG_RUNTIME_DIR", &self.dir)
            .env("XDG_CONFIG_HOME", self.dir.join("config"))
            .env("XDG_DATA_HOME", self.dir.join("data"))
            .env("XDG_STATE_HOME", self.dir.join("state"))
            .env("XDG_CACHE_HOME", self.dir.join("cache"))
            .env("XDG_CURRENT_DESKTOP", "sway")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log);
        if !self.bus.is_empty() {
            cmd.env("DBUS_SESSION_BUS_ADDRESS", &self.bus);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    fn start_bus(&mut self) {
        let socket = self.dir.join("bus");
        // A session bus with no service directories: nothing is started behind our back, so
        // nothing outlives the test; every service here is started (and killed) by us.
        let config = format!(
            "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n\
             \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n\
             <busconfig>\n  <type>session</type>\n  <listen>unix:path={}</listen>\n  \
             <auth>EXTERNAL</auth>\n  <policy context=\"default\">\n    \
             <allow send_destination=\"*\" eavesdrop=\"true\"/>\n    <allow eavesdrop=\"true\"/>\n    \
             <allow own=\"*\"/>\n  </policy>\n</busconfig>\n",
            socket.display()
        );
        let config_path = self.dir.join("bus.conf");
        fs::write(&config_path, config).expect("bus config");
        let config_arg = format!("--config-file={}", config_path.display());
        let mut cmd = self.command(
            "dbus",
            "dbus-daemon",
            &["--nofork", "--print-address=1", &config_arg],
            &[],
            &[],
        );
        cmd.stdout(Stdio::piped());
        let mut child = cmd.spawn().expect("dbus-daemon");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("dbus-daemon stdout");
        // The address is printed once the bus listens.
        let _ = BufReader::new(stdout).read_line(&mut line);
        self.children.push(("dbus", child));
        self.bus = line.trim().to_owned();
        assert!(
            !self.bus.is_empty(),
            "dbus-daemon gave no address:\n{}",
            self.log("dbus")
        );
    }

    fn start_pipewire(&mut self) {
        // WirePlumber without device monitors: the test needs no sound card or camera, and
        // must not take the machine's real ones from the user's own session.
        let wp = self.dir.join("config/wireplumber");
        for (sub, text) in [
            (
                "main.lua.d/51-classroom-test.lua",
                "alsa_monitor.enabled = false\nv4l2_monitor.enabled = false\nlibcamera_monitor.enabled = false\n",
            ),
            (
                "bluetooth.lua.d/51-classroom-test.lua",
                "bluez_monitor.enabled = false\n",
            ),
        ] {
            let path = wp.join(sub);
            fs::create_dir_all(path.parent().expect("parent")).expect("wireplumber config dir");
            fs::write(path, text).expect("wireplumber config");
        }
        self.spawn("pipewire", "pipewire", &[], &[]);
        self.wait_for("PipeWire's socket", |d| d.dir.join("pipewire-0").exists());
        self.spawn("wireplumber", "wireplumber", &[], &[]);
    }

    fn start_sway(&mut self, width: u32, height: u32) {
        let (r, g, b) = BACKGROUND_RGB;
        let config = format!(
            "xwayland disable\noutput * resolution {width}x{height} bg #{r:02x}{g:02x}{b:02x} solid_color\n"
        );
        fs::create_dir(&self.sway_runtime).expect("sway runtime dir");
        let config_path = self.sway_runtime.join("sway.conf");
        fs::write(&config_path, config).expect("sway config");
        let root = is_root();
        if root {
            // sway refuses to start as root (it could not drop privileges for good): it runs as
            // nobody, in a runtime directory of its own that the portal (root) can still reach.
            let chown = |p: &Path| {
                std::os::unix::fs::chown(p, Some(UNPRIVILEGED), Some(UNPRIVILEGED))
                    .expect("chown for sway")
            };
            chown(&self.sway_runtime);
            chown(&config_path);
            fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o711))
                .expect("runtime dir mode");
        }
        let ids = UNPRIVILEGED.to_string();
        let drop_root: Vec<&str> = if root {
            vec!["--reuid", &ids, "--regid", &ids, "--clear-groups"]
        } else {
            Vec::new()
        };
        let runtime = self.sway_runtime.to_string_lossy().into_owned();
        let config_arg = config_path.to_string_lossy().into_owned();
        let mut cmd = self.command(
            "sway",
            "sway",
            &["--config", &config_arg],
            &[
                ("XDG_RUNTIME_DIR", &runtime),
                ("HOME", &runtime),
                ("WLR_BACKENDS", "headless"),
                ("WLR_RENDERER", "pixman"),
                ("WLR_LIBINPUT_NO_DEVICES", "1"),
            ],
            &drop_root,
        );
        // sway needs no bus; keep it off ours.
        cmd.env_remove("DBUS_SESSION_BUS_ADDRESS");
        let child = cmd.spawn().expect("sway");
        self.children.push(("sway", child));
        self.wait_for("sway's Wayland socket", |d| {
            d.sway_runtime.join("wayland-1").exists() && d.swaymsg(&["-t", "get_outputs"]).is_ok()
        });
    }

    fn start_portal(&mut self) {
        // The chooser answers like a person would at xdg-desktop-portal-wlr's output dialog.
        let chooser = self.dir.join("chooser.sh");
        fs::write(
            &chooser,
            format!(
                "#!/bin/sh\ncat > '{0}/offered'\n[ -e '{0}/decline' ] && exit 0\nhead -n 1 '{0}/offered'\n",
                self.dir.display()
            ),
        )
        .expect("chooser script");
        fs::set_permissions(&chooser, fs::Permissions::from_mode(0o755)).expect("chooser mode");
        let config = self.dir.join("portal-wlr.conf");
        fs::write(
            &config,
            format!(
                "[screencast]\nchooser_type=dmenu\nchooser_cmd={}\nmax_fps=15\n",
                chooser.display()
            ),
        )
        .expect("portal-wlr config");
        // Only the wlroots backend: the GTK one needs a display and would only fail.
        let portals = self.dir.join("portals");
        fs::create_dir(&portals).expect("portals dir");
        fs::copy(WLR_PORTAL_FILE, portals.join("wlr.portal")).expect("wlr.portal");

        let wayland = self.sway_runtime.join("wayland-1");
        let wayland = wayland.to_string_lossy().into_owned();
        // Without a GPU the portal needs the relay (see `shim.rs`) to start any screen cast.
        let wayland = if has_render_node() {
            wayland
        } else {
            let relayed = self.dir.join("wayland-shim");
            self.shim = Some(
                DmabufShim::start(Path::new(&wayland), &relayed).expect("wayland relay socket"),
            );
            relayed.to_string_lossy().into_owned()
        };
        self.backend = vec![
            "--loglevel".into(),
            "DEBUG".into(),
            "--config".into(),
            config.to_string_lossy().into_owned(),
            wayland.clone(),
        ];
        // The portal looks its backends up once, at start: the backend must be on the bus.
        self.start_backend();
        let portals = portals.to_string_lossy().into_owned();
        self.spawn(
            "portal",
            PORTAL,
            &["--verbose"],
            &[
                ("WAYLAND_DISPLAY", &wayland),
                ("XDG_DESKTOP_PORTAL_DIR", &portals),
            ],
        );
        self.wait_for("xdg-desktop-portal on the bus", |d| {
            d.name_has_owner("org.freedesktop.portal.Desktop")
        });
    }

    /// Starts xdg-desktop-portal-wlr with the arguments in `backend` (the last one is the
    /// Wayland socket) and waits until it is on the bus.
    fn start_backend(&mut self) {
        let (wayland, args) = self.backend.split_last().expect("backend arguments");
        let (wayland, args): (String, Vec<String>) = (wayland.clone(), args.to_vec());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.spawn(
            "portal-wlr",
            PORTAL_WLR,
            &args,
            &[("WAYLAND_DISPLAY", &wayland)],
        );
        self.wait_for("xdg-desktop-portal-wlr on the bus", |d| {
            d.name_has_owner("org.freedesktop.impl.portal.desktop.wlr")
        });
    }

    fn name_has_owner(&self, name: &str) -> bool {
        Command::new("dbus-send")
            .arg(format!("--bus={}", self.bus))
            .args([
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
            ])
            .arg(format!("string:{name}"))
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"))
    }

    /// Polls `ready` for up to 10 s; a program that exits or never gets ready is a panic with
    /// the logs.
    fn wait_for(&mut self, what: &str, ready: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if ready(self) {
                return;
            }
            let exited = self
                .children
                .iter_mut()
                .find_map(|(name, child)| Some((*name, child.try_wait().ok()??)));
            if let Some((name, status)) = exited {
                panic!(
                    "{name} exited ({status}) while waiting for {what}:\n{}",
                    self.logs()
                );
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for WaylandDesktop {
    fn drop(&mut self) {
        // Newest first: the portal before its backend, sway before the bus.
        for (_, child) in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.shim = None;
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn new_dir() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "{DIR_PREFIX}{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir(&dir).expect("runtime dir");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).expect("runtime dir mode");
    for sub in ["home", "config", "data", "state", "cache"] {
        fs::create_dir(dir.join(sub)).expect("runtime subdir");
    }
    dir
}

/// Directories of test processes that were killed before their clean-up ran.
fn remove_stale_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(DIR_PREFIX))
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}
