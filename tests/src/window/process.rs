//! Child processes that are stopped when dropped, and the output they print.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A child process (with `tree`, also every process it started) that is terminated when
/// dropped, so a failing test leaves nothing behind.
///
/// The processes stay in the test's process group, so a test runner that kills a hung test's
/// group (nextest's timeout) takes them too.
pub struct Guard {
    name: &'static str,
    child: Child,
    tree: bool,
}

impl Guard {
    /// Guards `child`; with `tree`, the processes it started (tauri-driver's WebKitWebDriver
    /// and the app that starts) are stopped with it.
    pub fn new(name: &'static str, child: Child, tree: bool) -> Self {
        Self { name, child, tree }
    }

    /// The exit status, once the process has ended.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // Found before anything is signalled: an orphan is adopted by init and lost to us.
        let mut pids = if self.tree {
            descendants(self.child.id())
        } else {
            Vec::new()
        };
        pids.push(self.child.id());
        // SIGTERM first: Xvfb then removes its lock file and socket, which SIGKILL leaves
        // behind.
        kill("-TERM", &pids);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let leader_done = self.exited().is_some();
            pids.retain(|pid| Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(*pid));
            if leader_done && pids.is_empty() {
                return;
            }
            if Instant::now() > deadline {
                break;
            }
            thread::sleep(Duration::from_millis(50));
        }
        eprintln!("{} did not stop on SIGTERM; killing it", self.name);
        kill("-KILL", &pids);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `signal` to each of `pids`.
fn kill(signal: &str, pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg(signal)
        .arg("--")
        .args(pids.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status();
}

/// The parent pid and state of a process, from `/proc/<pid>/stat`.
fn stat(pid: u32) -> Option<(u32, char)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
    let rest = &text[text.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((ppid, state))
}

fn is_zombie(pid: u32) -> bool {
    stat(pid).is_none_or(|(_, state)| state == 'Z')
}

/// Every process descended from `root`, deepest last.
fn descendants(root: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let parents: Vec<(u32, u32)> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| stat(pid).map(|(ppid, _)| (pid, ppid)))
        .collect();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, ppid)| *ppid == parent)
                .map(|(pid, _)| *pid),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// Lines a process printed, collected on threads of their own.
#[derive(Clone, Default)]
pub struct Output {
    lines: Arc<Mutex<Vec<String>>>,
}

impl Output {
    /// Collects what `child` prints on stdout and stderr (both must be piped), each line
    /// prefixed with the stream's name.
    pub fn capture(child: &mut Child) -> Self {
        let output = Self::default();
        if let Some(out) = child.stdout.take() {
            output.follow("out", out);
        }
        if let Some(err) = child.stderr.take() {
            output.follow("err", err);
        }
        output
    }

    fn follow(&self, stream: &'static str, source: impl Read + Send + 'static) {
        let lines = Arc::clone(&self.lines);
        thread::spawn(move || {
            for line in BufReader::new(source).lines().map_while(Result::ok) {
                if let Ok(mut lines) = lines.lock() {
                    lines.push(format!("{stream}| {line}"));
                }
            }
        });
    }

    /// Everything so far, one line each.
    pub fn text(&self) -> String {
        self.lines
            .lock()
            .map(|lines| lines.join("\n"))
            .unwrap_or_default()
    }
}
