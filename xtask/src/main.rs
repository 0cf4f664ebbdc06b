//! `cargo xtask`: the project's automation (system packages, demo, tests, benchmarks).
//!
//! It depends on nothing but `anyhow`, because it must build on a fresh machine before the
//! system libraries it installs are there.

mod args;
mod bench;
mod checks;
mod demo;
mod deps;
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
    bench   Benchmarks: `bench sfu` (ours vs Janus), `bench media` (delay, CPU),
            `bench control` (10,000 students: roll call, notify, chat bytes, memory)
    help    Print this, or `help <COMMAND>` for one command

Run `cargo xtask <COMMAND> --help` for a command's options.
";

/// `cargo xtask deps --help`.
const HELP_DEPS: &str = "\
cargo xtask deps [--check] [--verbose]

Checks pkg-config modules (WebKitGTK, GStreamer, ALSA, PipeWire ...), GStreamer elements
(webrtcbin, nicesrc, vp8enc, x264enc, opusenc, avdec_h264, pipewiresrc ...), and tools (clang
and libclang, Xvfb, xauth, ImageMagick, WebKitWebDriver, pulseaudio, the Wayland test desktop:
sway, PipeWire, WirePlumber, xdg-desktop-portal-wlr; node >= 18, npm). On Debian/Ubuntu it
installs what is missing with apt-get (as root, else through sudo; apt-get update first, only
when something is missing). On macOS and Windows it prints the commands to run instead.

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
    npm test in ui/.
Then prints each step's result, duration and test counts; exits 1 if any step failed.
RUST_BACKTRACE=1 is set for the tests. Window tests start their own Xvfb.

OPTIONS:
    --no-fmt       Skip the format check
    --no-clippy    Skip clippy
    -- ARGS        Passed on to the Rust test runner (e.g. a test name filter)
";

/// `cargo xtask bench --help`.
const HELP_BENCH: &str = "\
cargo xtask bench <sfu|media|control> [OPTIONS]

    sfu      Our SFU against Janus's VideoRoom under the same load (classroom-load)
    media    Glass-to-glass delay, join-to-first-frame and publisher CPU (loopback)
    control  A class of 10,000 students over real websockets (classroom-control-load):
             roll call, teacher action to everyone, chat bytes per student, server CPU
             and memory per student

Each prints a table and ends with one line `BENCH <name> {json}`.

OPTIONS (sfu):
    --max-subs N        Largest subscriber count to step to [default: 200]
    --step-seconds S    Measurement window per step [default: 5]
    --skip-janus        Only our server (Janus is otherwise installed with apt-get if missing)

OPTIONS (control):
    --students N        Students [default: 10000]
    --actions N         Teacher actions timed, a multiple of 4 [default: 12]
    --chat-rate N       Chat messages per second in the chat phase [default: 20]
    --chat-seconds S    Chat phase length [default: 10]
    --max-load L        Wait (up to --wait-secs) for the 1-minute load average to fall to L
    --wait-secs S       How long to wait for that [default: 0]
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
        "bench" => bench::bench(args),
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
        "bench" => HELP_BENCH,
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
