//! `cargo xtask deps`: check the system packages and tools, install what is missing with apt-get.

use std::collections::{BTreeSet, HashSet};
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Result, bail};

use crate::checks;
use crate::util::{is_root, output, run, secs, which};

/// What one check looks for.
#[derive(Clone, Copy)]
pub enum Probe {
    /// A module `pkg-config --exists` knows.
    PkgConfig(&'static str),
    /// A file at a fixed path (a header whose package has no `.pc` file).
    File(&'static str),
    /// A GStreamer element in `gst-inspect-1.0`'s listing.
    Element(&'static str),
    /// An executable on `PATH`.
    Program(&'static str),
    /// libclang's shared library, which bindgen loads.
    Libclang,
    /// ImageMagick's `import`, not a stand-in of the same name.
    ImageMagick,
    /// `node` at least [`checks::MIN_NODE_MAJOR`].
    Node,
    /// A font with glyphs for a language (`fc-list :lang=zh`), so screens in that language
    /// (and their screenshots) show text rather than boxes.
    Font(&'static str),
}

/// One requirement and the packages that satisfy it on this platform.
pub struct Check {
    /// What is looked for.
    probe: Probe,
    /// Package names (apt), formulae (brew) or instruction keys (Windows).
    packages: Vec<&'static str>,
}

impl Check {
    /// A check satisfied by installing `packages`.
    pub fn new(probe: Probe, packages: &[&'static str]) -> Self {
        Self {
            probe,
            packages: packages.to_vec(),
        }
    }

    /// A short human name, e.g. `pkg-config webkit2gtk-4.1`.
    fn label(&self) -> String {
        match self.probe {
            Probe::PkgConfig(m) => format!("pkg-config module {m}"),
            Probe::File(p) => format!("file {p}"),
            Probe::Element(e) => format!("GStreamer element {e}"),
            Probe::Program(p) => format!("program {p}"),
            Probe::Libclang => "libclang (for bindgen)".into(),
            Probe::ImageMagick => "ImageMagick `import`".into(),
            Probe::Node => format!("node >= {}", checks::MIN_NODE_MAJOR),
            Probe::Font(lang) => format!("a font for language {lang}"),
        }
    }
}

/// The outcome of one check: `Ok(detail)` when present, `Err(why)` when missing.
type Outcome = std::result::Result<String, String>;

/// Options of `cargo xtask deps`.
pub struct Options {
    /// Only report; fail when something is missing.
    pub check_only: bool,
    /// Print every check, not only the missing ones.
    pub verbose: bool,
}

/// The platforms xtask knows how to provision.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Platform {
    /// Debian, Ubuntu and other Linux (apt-get where it exists).
    Linux,
    /// macOS with Homebrew: instructions only.
    MacOs,
    /// Windows: instructions only.
    Windows,
}

/// The platform xtask was built for.
fn platform() -> Platform {
    if cfg!(target_os = "macos") {
        Platform::MacOs
    } else if cfg!(windows) {
        Platform::Windows
    } else {
        Platform::Linux
    }
}

/// Runs `cargo xtask deps`; returns the one-line summary.
pub fn deps(opts: &Options) -> Result<String> {
    let start = Instant::now();
    let plat = platform();
    let checks = match plat {
        Platform::Linux => checks::linux(),
        Platform::MacOs => checks::macos(),
        Platform::Windows => checks::windows(),
    };
    let missing = evaluate(&checks, opts.verbose);
    // Tools from crates.io, after the system packages they may need to build.
    let tools = if missing.is_empty() || opts.check_only {
        cargo_tools(opts)?
    } else {
        String::new()
    };
    if missing.is_empty() {
        let line = format!(
            "deps: all {} checks present{tools} ({})",
            checks.len(),
            secs(start.elapsed())
        );
        println!("{line}");
        return Ok(line);
    }
    let packages = packages_of(&missing);
    println!("deps: {} of {} checks missing", missing.len(), checks.len());
    match plat {
        Platform::MacOs => {
            print!("{}", checks::macos_help(&packages));
            bail!("deps: missing system packages (see above)");
        }
        Platform::Windows => {
            print!("{}", checks::windows_help(&packages));
            bail!("deps: missing system packages (see above)");
        }
        Platform::Linux => {}
    }
    if opts.check_only {
        bail!(
            "deps: missing; `cargo xtask deps` installs them: apt-get install {}",
            packages.join(" ")
        );
    }
    apt_install(&packages)?;
    let still = evaluate(&checks, opts.verbose);
    if !still.is_empty() {
        let labels: Vec<String> = still.iter().map(|c| c.label()).collect();
        bail!(
            "deps: still missing after apt-get install: {}{}",
            labels.join(", "),
            node_hint(&still)
        );
    }
    let tools = cargo_tools(opts)?;
    let line = format!(
        "deps: installed {}; all {} checks present{tools} ({})",
        packages.join(" "),
        checks.len(),
        secs(start.elapsed())
    );
    println!("{line}");
    Ok(line)
}

/// Runs every check, prints the missing ones (all of them when `verbose`) and returns those.
fn evaluate(checks: &[Check], verbose: bool) -> Vec<&Check> {
    let mut probes = Probes::default();
    let mut missing = Vec::new();
    for check in checks {
        match probes.run(check.probe) {
            Ok(detail) => {
                if verbose {
                    println!("  ok       {:<42} {detail}", check.label());
                }
            }
            Err(why) => {
                println!(
                    "  MISSING  {:<42} {why} -> {}",
                    check.label(),
                    check.packages.join(" ")
                );
                missing.push(check);
            }
        }
    }
    missing
}

/// Programs installed with `cargo install`: name on PATH, crate, version requirement.
const CARGO_TOOLS: &[(&str, &str, &str)] = &[
    // The WebDriver bridge the window tests drive the app through (to WebKitWebDriver on
    // Linux); 2.x, not the 3.0 alphas crates.io lists as newest.
    ("tauri-driver", "tauri-driver", "^2"),
];

/// Installs the [`CARGO_TOOLS`] that are not on PATH (quietly: a few minutes of compiling, the
/// first time only). Returns `""` or `"; cargo-installed tauri-driver (3m 10s)"` for the
/// summary; with `check_only`, fails naming what is missing.
fn cargo_tools(opts: &Options) -> Result<String> {
    let missing: Vec<&(&str, &str, &str)> = CARGO_TOOLS
        .iter()
        .filter(|(program, ..)| which(program).is_none())
        .collect();
    if missing.is_empty() {
        if opts.verbose {
            for (program, ..) in CARGO_TOOLS {
                println!("  ok       program {program:<34} (cargo install)");
            }
        }
        return Ok(String::new());
    }
    let names: Vec<&str> = missing.iter().map(|(program, ..)| *program).collect();
    if opts.check_only {
        bail!(
            "deps: missing {}; `cargo xtask deps` installs it with cargo install",
            names.join(", ")
        );
    }
    let start = Instant::now();
    for (program, krate, version) in missing {
        println!(
            "deps: cargo install {krate} --version '{version}' --locked (compiles once, quietly;              a few minutes on two cores)"
        );
        let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let output = Command::new(cargo)
            .args([
                "install",
                krate,
                "--version",
                version,
                "--locked",
                "--quiet",
            ])
            .output()?;
        if !output.status.success() {
            bail!(
                "deps: cargo install {krate} failed ({}):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        if which(program).is_none() {
            bail!(
                "deps: cargo installed {krate}, but {program} is not on PATH: add cargo's bin \
                 folder (usually ~/.cargo/bin) to PATH"
            );
        }
    }
    Ok(format!(
        "; cargo-installed {} ({})",
        names.join(" "),
        secs(start.elapsed())
    ))
}

/// The distinct packages that satisfy `missing`, in a stable order.
fn packages_of(missing: &[&Check]) -> Vec<&'static str> {
    let set: BTreeSet<&'static str> = missing
        .iter()
        .flat_map(|c| c.packages.iter().copied())
        .collect();
    set.into_iter().collect()
}

/// Advice when apt-get's Node is still too old (Ubuntu 22.04 ships Node 12).
fn node_hint(still: &[&Check]) -> &'static str {
    if still.iter().any(|c| matches!(c.probe, Probe::Node)) {
        "\nThis distribution's nodejs is older than Node 18; install Node 18 or newer from \
         https://nodejs.org (or NodeSource's apt repository) and run `cargo xtask deps` again."
    } else {
        ""
    }
}

/// Installs `packages` with apt-get, as root directly or through sudo.
pub fn apt_install(packages: &[&str]) -> Result<()> {
    if which("apt-get").is_none() {
        bail!(
            "deps: no apt-get here; install the equivalents of these Debian packages with your \
             package manager: {}",
            packages.join(" ")
        );
    }
    let sudo = !is_root();
    if sudo && which("sudo").is_none() {
        bail!(
            "deps: not root and no sudo; as root run: apt-get update && apt-get install -y {}",
            packages.join(" ")
        );
    }
    let apt = |args: &[&str]| {
        let mut cmd = if sudo {
            let mut c = Command::new("sudo");
            c.args(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
            c
        } else {
            let mut c = Command::new("apt-get");
            c.env("DEBIAN_FRONTEND", "noninteractive");
            c
        };
        // Wait for another apt (unattended upgrades, a second terminal) instead of failing.
        cmd.args(["-o", "DPkg::Lock::Timeout=300"]).args(args);
        cmd
    };
    run(&mut apt(&["update"]))?;
    let mut install = apt(&["install", "-y"]);
    install.args(packages);
    run(&mut install)
}

/// Runs probes, caching what several checks share.
#[derive(Default)]
struct Probes {
    /// Element names from `gst-inspect-1.0`'s listing; `None` until first needed.
    elements: Option<std::result::Result<HashSet<String>, String>>,
}

impl Probes {
    /// Runs one probe.
    fn run(&mut self, probe: Probe) -> Outcome {
        match probe {
            Probe::PkgConfig(module) => pkg_config(module),
            Probe::File(path) => {
                if Path::new(path).is_file() {
                    Ok(String::new())
                } else {
                    Err("not found".into())
                }
            }
            Probe::Element(name) => {
                let listing = self.elements.get_or_insert_with(gst_elements);
                match listing {
                    Ok(set) if set.contains(name) => Ok(String::new()),
                    Ok(_) => Err("not in gst-inspect-1.0's list".into()),
                    Err(why) => Err(why.clone()),
                }
            }
            Probe::Program(name) => match which(name) {
                Some(path) => Ok(path.display().to_string()),
                None => Err("not on PATH".into()),
            },
            Probe::Libclang => libclang(),
            Probe::ImageMagick => imagemagick(),
            Probe::Node => node(),
            Probe::Font(lang) => font(lang),
        }
    }
}

/// `pkg-config --exists MODULE`.
fn pkg_config(module: &str) -> Outcome {
    match Command::new("pkg-config")
        .args(["--exists", module])
        .status()
    {
        Ok(s) if s.success() => Ok(String::new()),
        Ok(_) => Err("pkg-config does not find it".into()),
        Err(_) => Err("pkg-config is not installed".into()),
    }
}

/// Every element name `gst-inspect-1.0` lists (lines look like `plugin:  element: description`).
///
/// One listing read from the registry cache takes milliseconds, where `--exists` per element
/// takes one process each and wrongly rejects plugins with their own version (libnice).
fn gst_elements() -> std::result::Result<HashSet<String>, String> {
    let Some(listing) = output("gst-inspect-1.0", &[]) else {
        return Err("gst-inspect-1.0 is not installed or failed".into());
    };
    Ok(listing
        .lines()
        .filter_map(|line| line.split(": ").nth(1))
        .map(|e| e.trim().to_owned())
        .collect())
}

/// libclang as bindgen finds it: `$LIBCLANG_PATH`, `/usr/lib/llvm-*/lib`, or the linker cache.
fn libclang() -> Outcome {
    let is_libclang = |name: &str| {
        name.starts_with("libclang")
            && !name.starts_with("libclang-cpp")
            && (name.contains(".so") || name.ends_with(".dylib") || name.ends_with(".dll"))
    };
    if let Some(dir) = env::var_os("LIBCLANG_PATH") {
        let dir = PathBuf::from(dir);
        let found = std::fs::read_dir(&dir).ok().and_then(|entries| {
            entries
                .flatten()
                .find(|e| is_libclang(&e.file_name().to_string_lossy()))
        });
        if let Some(entry) = found {
            return Ok(entry.path().display().to_string());
        }
    }
    if let Ok(entries) = std::fs::read_dir("/usr/lib") {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with("llvm-") {
                let lib = entry.path().join("lib/libclang.so");
                if lib.exists() {
                    return Ok(lib.display().to_string());
                }
            }
        }
    }
    // `libclang.so` or `libclang-14.so` (unversioned names come with the -dev package).
    if let Some(cache) = output("ldconfig", &["-p"]).or_else(|| output("/sbin/ldconfig", &["-p"])) {
        let dev_link = cache.lines().map(str::trim).find(|l| {
            l.split_whitespace().next().is_some_and(|name| {
                name == "libclang.so"
                    || name
                        .strip_prefix("libclang-")
                        .and_then(|v| v.strip_suffix(".so"))
                        .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
            })
        });
        if let Some(line) = dev_link {
            return Ok(line.to_owned());
        }
    }
    Err("no libclang.so in $LIBCLANG_PATH, /usr/lib/llvm-*/lib or ldconfig".into())
}

/// `import -version` must name ImageMagick: some machines carry a stand-in of that name.
fn imagemagick() -> Outcome {
    let Some(path) = which("import") else {
        return Err("`import` is not on PATH".into());
    };
    match output(&path, &["-version"]) {
        Some(text) if text.contains("ImageMagick") => {
            Ok(text.lines().next().unwrap_or_default().trim().to_owned())
        }
        _ => Err(format!("{} is not ImageMagick", path.display())),
    }
}

/// `fc-list :lang=LANG family` names at least one font.
fn font(lang: &str) -> Outcome {
    match output("fc-list", &[&format!(":lang={lang}"), "family"]) {
        Some(list) if !list.trim().is_empty() => {
            Ok(list.lines().next().unwrap_or_default().trim().to_owned())
        }
        Some(_) => Err(format!("fontconfig knows no font for {lang}")),
        None => Err("fc-list (fontconfig) is not installed".into()),
    }
}

/// `node --version` at least [`checks::MIN_NODE_MAJOR`].
fn node() -> Outcome {
    let Some(version) = output("node", &["--version"]) else {
        return Err("node is not installed".into());
    };
    let version = version.trim();
    let major = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok());
    match major {
        Some(m) if m >= checks::MIN_NODE_MAJOR => Ok(version.to_owned()),
        _ => Err(format!("found node {version}")),
    }
}
