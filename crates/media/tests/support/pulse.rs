//! A PulseAudio server for device tests: virtual sound cards (null sinks and their monitor
//! sources) that can be plugged and unplugged by loading and unloading modules.
//!
//! The daemon runs in this user's default runtime location, so every client in the test
//! process (GStreamer's pulse elements, ALSA's `pulse`/`default` PCMs that cpal opens, pactl)
//! finds it without environment changes. It exits by itself 10 s after its last client.

use std::process::Command;
use std::time::{Duration, Instant};

/// Runs pactl; `None` when it fails.
pub fn pactl(args: &[&str]) -> Option<String> {
    let out = Command::new("pactl").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A reachable PulseAudio server, started if needed. `Err` says why there can be no sound
/// devices on this machine (then the caller skips, printing the reason).
pub fn ensure_server() -> Result<(), String> {
    if pactl(&["info"]).is_some() {
        unplug_orphans();
        return Ok(());
    }
    // -n: none of the desktop's modules (no rescue-streams: an unplugged device must fail its
    // streams, as hardware does); the native protocol is what clients speak.
    let started = Command::new("pulseaudio")
        .args([
            "--daemonize=yes",
            "--exit-idle-time=10",
            "-n",
            "--load=module-native-protocol-unix",
        ])
        .status()
        .map_err(|e| {
            format!("no sound devices: cannot run pulseaudio ({e}); `cargo xtask deps` installs it")
        })?;
    if !started.success() {
        return Err(format!(
            "no sound devices: pulseaudio failed to start ({started})"
        ));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if pactl(&["info"]).is_some() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err("no sound devices: pulseaudio started but does not answer".into())
}

/// A loaded virtual sound card; unplugged (module unloaded) on drop.
pub struct NullSink {
    /// Sink name; its capture side is `{name}.monitor`.
    pub name: String,
    module: Option<String>,
}

impl NullSink {
    /// Plugs in a null sink called `name`.
    pub fn plug(name: &str) -> NullSink {
        let module = pactl(&[
            "load-module",
            "module-null-sink",
            &format!("sink_name={name}"),
            "rate=48000",
            "channels=1",
        ])
        .unwrap_or_else(|| panic!("pactl load-module module-null-sink {name}"));
        NullSink {
            name: name.to_owned(),
            module: Some(module.trim().to_owned()),
        }
    }

    /// Unplugs it now.
    pub fn unplug(&mut self) {
        if let Some(id) = self.module.take() {
            pactl(&["unload-module", &id]);
        }
    }
}

impl Drop for NullSink {
    fn drop(&mut self) {
        self.unplug();
    }
}

/// A name no other test process uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", std::process::id())
}

/// Ends this process's recording streams from the server side, as PulseAudio does when their
/// device goes away and no other device can take them.
pub fn kill_my_recordings() {
    let Some(list) = pactl(&["list", "source-outputs"]) else {
        return;
    };
    let me = format!("application.process.id = \"{}\"", std::process::id());
    for block in list.split("Source Output #").skip(1) {
        if block.contains(&me)
            && let Some(index) = block.split_whitespace().next()
        {
            pactl(&["kill-source-output", index]);
        }
    }
}

/// Unplugs cards left by test processes that died before their clean-up ran (names end in
/// the owner's pid): a stale card would otherwise take over streams meant to fail.
fn unplug_orphans() {
    let Some(modules) = pactl(&["list", "short", "modules"]) else {
        return;
    };
    for line in modules.lines() {
        let mut fields = line.split('\t');
        let (Some(id), Some("module-null-sink"), Some(args)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let owner = args
            .split_whitespace()
            .find_map(|a| a.strip_prefix("sink_name=classroom_"))
            .and_then(|n| n.rsplit('_').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = owner
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        {
            pactl(&["unload-module", id]);
        }
    }
}
