//! `cargo xtask`: the project's automation (system packages, demo, tests, benchmarks).
//!
//! It depends on nothing but `anyhow`, because it must build on a fresh machine before the
//! system libraries it installs are there.

mod args;
mod bench;
mod bindings;
mod bundle;
mod checks;
mod demo;
mod deps;
mod fuzz;
mod test;
mod ui;
mod util;

use std::process::ExitCode;

use anyhow::Result;

use args::Args;

/// `cargo xtask --help`.
const HELP: &str = "\
cargo xtask: automation for the classroom workspace

USAGE:
    cargo xtask <COMMAND> [OPTIONS]

COMMANDS:
    deps    Check system packages and tools; install missing ones with apt-get (Debian/Ubuntu)
    ui      npm ci (when needed) and npm run build in ui/ (tauri embeds ui/dist)
    demo    deps + ui + cargo build, then run a teacher and students: classroom-demo
    test    deps + ui + fmt + clippy + Rust tests + UI tests, with a summary
    bindings  Regenerate ui/src/lib/bindings (TypeScript types from the Rust types)
    bundle  The Linux packages (.deb of the app and of classroom-server), lintian-checked;
            `--test` installs, runs and removes them in a fresh Debian root
    bench   Benchmarks: `bench sfu` (ours vs Janus), `bench misses` (a copy's cache misses),
            `bench media` (delay, CPU), `bench flood`,
            `bench video`, `bench app` (start, join, paint, memory), `bench control` (10,000
            students: roll call, notify, chat bytes, memory), `bench store`, `bench annotate`
    fuzz    Run every fuzz target in fuzz/ for a set time (cargo-fuzz, RUSTC_BOOTSTRAP=1)
    help    Print this, or `help <COMMAND>` for one command

Run `cargo xtask <COMMAND> --help` for a command's options.
";

/// `cargo xtask deps --help`.
const HELP_DEPS: &str = "\
cargo xtask deps [--check] [--verbose]

Checks pkg-config modules (WebKitGTK, GStreamer, ALSA, PipeWire ...), GStreamer elements
(webrtcbin, nicesrc, vp8enc, x264enc, opusenc, avdec_h264, pipewiresrc ...), tools (clang
and libclang, Xvfb, xauth, ImageMagick, WebKitWebDriver, pulseaudio, the Wayland test desktop:
sway, PipeWire, WirePlumber, xdg-desktop-portal-wlr; node >= 18, npm) and a Chinese font. On
Debian/Ubuntu it installs what is missing with apt-get (as root, else through sudo; apt-get
update first, only when something is missing), then `cargo install tauri-driver --version '^2'
--locked` when tauri-driver is not on PATH (quietly; a few minutes, once). On macOS and Windows
it prints the commands to run instead.

OPTIONS:
    --check      Only report; exit 1 when something is missing
    --verbose    List every check, not only the missing ones
";

/// `cargo xtask ui --help`.
const HELP_UI: &str = "\
cargo xtask ui [--force]

Runs `npm ci` in ui/ when ui/node_modules is missing or older than ui/package-lock.json, then
`npm run build` when ui/dist is older than the sources. ui/dist must exist before cargo builds
src-tauri, because tauri's generate_context! embeds it.

OPTIONS:
    --force    Build even when ui/dist looks up to date
";

/// `cargo xtask demo --help`.
const HELP_DEMO: &str = "\
cargo xtask demo [--seconds N] [--headless] [-- DEMO-ARGS...]

Runs deps, the ui step and `cargo build --workspace --bins` (debug profile, as the tests use),
then target/debug/classroom-demo --seconds N. With a display ($DISPLAY or $WAYLAND_DISPLAY) and
without --headless it also passes --app-binary target/debug/classroom-app, which opens the app's
teacher and student windows. Exits with the demo's exit code.

OPTIONS:
    --seconds N    How long to stream (default 10)
    --headless     Never open app windows
    -- ARGS        Passed on to classroom-demo
";

/// `cargo xtask test --help`.
const HELP_TEST: &str = "\
cargo xtask test [--no-fmt] [--no-clippy] [-- TEST-ARGS...]

Runs, in order and all of them even after a failure:
    deps, ui build, cargo fmt --all -- --check,
    cargo clippy --workspace --all-targets --locked -- -D warnings,
    cargo nextest run --workspace --locked --no-fail-fast and cargo test --workspace --doc --locked
        (or cargo test --workspace --locked --no-fail-fast without cargo-nextest),
    npm run check (svelte-check: TypeScript against the generated bindings) and npm test in ui/.
Then prints each step's result, duration and test counts; exits 1 if any step failed.
RUST_BACKTRACE=1 is set for the tests. Window tests start their own Xvfb.

OPTIONS:
    --no-fmt       Skip the format check
    --no-clippy    Skip clippy
    -- ARGS        Passed on to the Rust test runner (e.g. a test name filter)
";

/// `cargo xtask bindings --help`.
const HELP_BINDINGS: &str = "\
cargo xtask bindings

Regenerates the TypeScript types in ui/src/lib/bindings/ from the Rust types that cross the
webview boundary (ts-rs; src-tauri/src/bindings.rs lists them), by running the bindings test of
classroom-app with CLASSROOM_WRITE_BINDINGS=1. Commit the result: a test fails when the
committed files are stale.
";

/// `cargo xtask bundle --help`.
const HELP_BUNDLE: &str = "\
cargo xtask bundle [--test] [--no-build] [--keep-root]

Builds target/bundle/classroom_<version>_<arch>.deb (the app: Tauri's bundler, the CLI from
ui/node_modules; release build, stripped; Depends = GStreamer's plugin packages from
src-tauri/tauri.linux.conf.json + the shared libraries dpkg-shlibdeps finds) and
target/bundle/classroom-server_<version>_<arch>.deb (the server as the systemd service
classroom-server, settings in /etc/classroom as a conffile, a token secret made at install),
then runs lintian on both (exit 1 on any error). Installs dpkg-dev, lintian and binutils with
apt-get when missing. A release build of the app takes about 25 minutes cold on 2 cores.

OPTIONS:
    --test         Then, as root: a fresh Debian root of this machine's release
                   (debootstrap --variant=minbase of $CLASSROOM_DEBIAN_SUITE or this machine's
                   codename, from $CLASSROOM_DEBIAN_MIRROR or deb.debian.org / Ubuntu's
                   archive; cached as target/bundle/install-test/<suite>-minbase.tar),
                   and installer/linux/install-test.sh inside it: apt-get installs both
                   packages (no recommends), the app's GStreamer has every element a class
                   needs, the app opens its window on Xvfb and its page loads (screenshot),
                   the server runs as its user and is healthy, an upgrade keeps edited
                   settings, remove keeps them, purge leaves nothing
    --no-build     Package the binaries already in target/release
    --keep-root    Leave the test's Debian root in target/bundle/install-test/root
";

/// `cargo xtask bench --help`.
const HELP_BENCH: &str = "\
cargo xtask bench <sfu|misses|media|flood|video|app|control|store|annotate> [OPTIONS]

    sfu      Our SFU against Janus's VideoRoom under the same load (classroom-load)
    misses   A forwarded copy's instructions and cache misses, counted by valgrind's
             callgrind (the core alone, 200 students, state cold): the same on every run
    media    Glass-to-glass delay, join-to-first-frame and publisher CPU (loopback)
    flood    A class under garbage UDP, spoofed DTLS ClientHellos and idle TCP connections:
             students' frame rate before/during/after, server memory before/after
    video    Remote video in the app's page under Xvfb, per path: frames painted per
             second, decode-to-paint time, the app's CPU (720p30 camera, 1080p15 screen)
    app      The app itself under Xvfb (release): cold start to the home screen, join to the
             first remote frame painted, a 720p30 camera painted (fps, CPU of the app and
             WebKit), the student app's resident memory in the class
    control  A class of 10,000 students over real websockets (classroom-control-load):
             roll call, teacher action to everyone, chat bytes per student, server CPU
             and memory per student
    store    The offline library: listing and searching 10,000 lessons, a 200 MB download
             against curl from nginx, bytes fetched again after a cut
    annotate The whiteboard and homework: remote stroke delay (teacher -> server ->
             student on loopback), the model's changes applied per second, ingest of a
             12 MP photo, a 4K page of 2,000 strokes over a photo to PNG (--strokes N)

Each prints a table and ends with one line `BENCH <name> {json}`.

OPTIONS (sfu):
    --max-subs N        Largest subscriber count to step to [default: 200]
    --step-seconds S    Measurement window per step [default: 8]
    --skip-janus        Only our server (Janus is otherwise installed with apt-get if missing)
    --threads N         Our server is also measured on N threads [default: 2]
    --route R           hosts: the load generator in a network namespace of its own behind a
                        veth pair, each side's receives on its own CPUs, as separate computers;
                        local: both on one address, the students' receives charged to the
                        server (the route before session 55) [default: hosts]

OPTIONS (misses):
    --packets N         Camera packets forwarded to the 200 students [default: 150]

OPTIONS (flood):
    --seconds N         Flood length [default: 60]
    --garbage N         Garbage datagrams per second [default: 20000]
    --hellos N          Spoofed DTLS ClientHellos per second [default: 1000]
    --idle N            Idle TCP connections held at the signaling port [default: 1000]
    --debug             Build and run the dev profile instead of release

OPTIONS (video):
    --paths LIST        rgba,i420,webcodecs [default: all three]
    --modes LIST        720p30,1080p15 [default: both]
    --codec C           auto, h264, vp8 or an encoder name [default: auto]
    --seconds N         Measured seconds per case [default: 10]
    --warmup N          Seconds after the first painted frame before measuring [default: 4]
    --screen WxH        Xvfb's screen [default: 1920x1080]
    --enlarge BOOL      The tile enlarged over a full-screen window [default: true]

OPTIONS (app):
    --starts N          Starts timed for the cold start (median) [default: 5]
    --seconds N         Measured seconds in the class [default: 10]
    --warmup N          Seconds after the first painted frame before measuring [default: 4]

OPTIONS (control):
    --students N        Students [default: 10000]
    --actions N         Teacher actions timed, a multiple of 4 [default: 12]
    --chat-rate N       Chat messages per second in the chat phase [default: 20]
    --chat-seconds S    Chat phase length [default: 10]
    --max-load L        Wait (up to --wait-secs) for the 1-minute load average to fall to L
    --wait-secs S       How long to wait for that [default: 0]
";

/// `cargo xtask fuzz --help`.
const HELP_FUZZ: &str = "\
cargo xtask fuzz [--seconds N] [--target NAME]

Installs cargo-fuzz when missing, builds the targets in fuzz/ once (release, with the sanitizer;
RUSTC_BOOTSTRAP=1 lets the stable toolchain take the nightly flags), then runs each target for
N seconds in turn. libFuzzer's output goes to fuzz/target/logs/<target>.log, findings to
fuzz/artifacts/<target>/. Prints executions, coverage and corpus size per target and a last
line `FUZZ [json]`; exits 1 if any target found a failure.

OPTIONS:
    --seconds N      How long each target runs [default: 60]
    --target NAME    Only this target
";

/// Runs one xtask command and exits with its code.
fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Dispatches one command line; returns the process exit code.
fn run(mut argv: Vec<String>) -> Result<ExitCode> {
    if argv.is_empty() {
        print!("{HELP}");
        return Ok(ExitCode::from(2));
    }
    let command = argv.remove(0);
    let mut args = Args::new(argv);
    let help = args.help();
    match command.as_str() {
        "-h" | "--help" => print_help(HELP),
        "help" => {
            let topic = args.positional();
            args.finish("help")?;
            let text = match topic.as_deref() {
                None => HELP,
                Some(cmd) => help_for(cmd).unwrap_or(HELP),
            };
            print_help(text)
        }
        _ if help => match help_for(&command) {
            Some(text) => print_help(text),
            None => unknown(&command),
        },
        "deps" => {
            let opts = deps::Options {
                check_only: args.flag("--check"),
                verbose: args.flag("--verbose") || args.flag("-v"),
            };
            args.finish("deps")?;
            deps::deps(&opts)?;
            Ok(ExitCode::SUCCESS)
        }
        "ui" => {
            let force = args.flag("--force");
            args.finish("ui")?;
            ui::ensure_built(force)?;
            Ok(ExitCode::SUCCESS)
        }
        "demo" => {
            let seconds = args.number("--seconds", 10)?;
            let headless = args.flag("--headless");
            let extra = args.finish("demo")?;
            demo::demo(&demo::Options {
                seconds,
                headless,
                extra,
            })
        }
        "test" => {
            let no_fmt = args.flag("--no-fmt");
            let no_clippy = args.flag("--no-clippy");
            let extra = args.finish("test")?;
            test::test(&test::Options {
                no_fmt,
                no_clippy,
                extra,
            })
        }
        "bindings" => {
            args.finish("bindings")?;
            bindings::bindings()
        }
        "bundle" => {
            let opts = bundle::Options {
                test: args.flag("--test"),
                no_build: args.flag("--no-build"),
                keep_root: args.flag("--keep-root"),
            };
            args.finish("bundle")?;
            bundle::bundle(&opts)
        }
        "bench" => bench::bench(args),
        "fuzz" => fuzz::run(args),
        other => unknown(other),
    }
}

/// The help text of one command.
fn help_for(command: &str) -> Option<&'static str> {
    Some(match command {
        "deps" => HELP_DEPS,
        "ui" => HELP_UI,
        "demo" => HELP_DEMO,
        "test" => HELP_TEST,
        "bindings" => HELP_BINDINGS,
        "bundle" => HELP_BUNDLE,
        "bench" => HELP_BENCH,
        "fuzz" => HELP_FUZZ,
        _ => return None,
    })
}

/// Prints `text` and succeeds.
fn print_help(text: &str) -> Result<ExitCode> {
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// Reports an unknown command with the usage.
fn unknown(command: &str) -> Result<ExitCode> {
    eprint!("error: unknown command {command:?}\n\n{HELP}");
    Ok(ExitCode::from(2))
}
