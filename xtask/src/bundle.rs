//! `cargo xtask bundle`: the Linux packages.
//!
//! - `classroom_<version>_<arch>.deb`, the app, from Tauri's bundler (the CLI from npm, pinned
//!   in ui/package.json): `tauri build --no-bundle`, the binary stripped, its shared-library
//!   dependencies read by `dpkg-shlibdeps` and added to the GStreamer plugin packages that
//!   `src-tauri/tauri.linux.conf.json` lists (the bundler itself adds only WebKitGTK and GTK),
//!   then `tauri bundle --bundles deb` with those and a changelog.
//! - `classroom-server_<version>_<arch>.deb`, the server as a systemd service with its
//!   settings file as a conffile, assembled here from `installer/linux` and
//!   `installer/server` and built with `dpkg-deb`.
//!
//! Both are checked with lintian (no errors allowed). `--test` then installs them into a fresh
//! Debian root made with debootstrap and runs `installer/linux/install-test.sh` there.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::deps;
use crate::ui;
use crate::util::{cargo, is_root, output, root, run, run_status, secs, target_dir, which};

/// Options of `cargo xtask bundle`.
pub struct Options {
    /// Install, run and remove the packages in a fresh Debian root afterwards.
    pub test: bool,
    /// Package the binaries already built (no cargo, no tauri build).
    pub no_build: bool,
    /// Leave the test's Debian root in place for a look inside.
    pub keep_root: bool,
}

/// The version of both packages: the workspace's.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Who answers for the packages.
const MAINTAINER: &str = "The Classroom developers <packaging@classroom.invalid>";

/// Programs the packaging needs and the Debian package of each.
const TOOLS: &[(&str, &str)] = &[
    ("dpkg-deb", "dpkg"),
    ("dpkg-shlibdeps", "dpkg-dev"),
    ("lintian", "lintian"),
    ("strip", "binutils"),
    ("gzip", "gzip"),
    ("md5sum", "coreutils"),
];

/// What `--test` needs besides.
const TEST_TOOLS: &[(&str, &str)] = &[
    ("debootstrap", "debootstrap"),
    ("unshare", "util-linux"),
    ("Xvfb", "xvfb"),
    ("xwininfo", "x11-utils"),
    ("import", "imagemagick"),
    ("curl", "curl"),
    ("file", "file"),
];

/// Runs the command; returns its exit code.
pub fn bundle(opts: &Options) -> Result<ExitCode> {
    if !cfg!(target_os = "linux") {
        bail!(
            "bundle: builds the Linux packages on Linux; Windows and macOS installers are \
             built by their CI jobs"
        );
    }
    let started = Instant::now();
    if !opts.no_build {
        deps::deps(&deps::Options {
            check_only: false,
            verbose: false,
        })?;
    }
    ensure_tools(TOOLS)?;
    if opts.test {
        ensure_tools(TEST_TOOLS)?;
    }

    let out = target_dir().join("bundle");
    fs::create_dir_all(&out)?;
    let release = target_dir().join("release");
    if !opts.no_build {
        ui::ensure_built(false)?;
        run(tauri()
            .args(["build", "--no-bundle", "--ci"])
            .env("CARGO_TARGET_DIR", target_dir()))?;
        run(cargo().args([
            "build",
            "--release",
            "--locked",
            "-p",
            "classroom-sfu",
            "--bin",
            "classroom-server",
        ]))?;
    }
    let arch = output("dpkg", &["--print-architecture"])
        .map(|a| a.trim().to_owned())
        .context("dpkg --print-architecture")?;
    let date = changelog_date();

    let app_deb = app_package(&release, &out, &arch, &date)?;
    let server_deb = server_package(&release, &out, &arch, &date)?;

    let mut lint_ok = true;
    for deb in [&app_deb, &server_deb] {
        let status = run_status(
            Command::new("lintian")
                .args(["--fail-on", "error"])
                .arg(deb),
        )?;
        lint_ok &= status.success();
    }
    for deb in [&app_deb, &server_deb] {
        let size = fs::metadata(deb).map(|m| m.len()).unwrap_or(0);
        println!(
            "bundle: {} ({:.1} MB)",
            deb.display(),
            size as f64 / 1_000_000.0
        );
    }
    if !lint_ok {
        println!("bundle: lintian found errors (above)");
        return Ok(ExitCode::FAILURE);
    }
    println!(
        "bundle: both packages built, lintian clean of errors, in {}",
        secs(started.elapsed())
    );
    if !opts.test {
        return Ok(ExitCode::SUCCESS);
    }
    install_test(&app_deb, &server_deb, opts.keep_root)
}

/// The Tauri CLI from ui/node_modules, run from the workspace root.
fn tauri() -> Command {
    let mut cmd = Command::new(root().join("ui/node_modules/.bin/tauri"));
    cmd.current_dir(root());
    cmd
}

/// Installs the packages of any missing tool.
fn ensure_tools(tools: &[(&str, &'static str)]) -> Result<()> {
    let missing: BTreeSet<&str> = tools
        .iter()
        .filter(|(program, _)| which(program).is_none())
        .map(|&(_, package)| package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let missing: Vec<&str> = missing.into_iter().collect();
    println!("bundle: installing {}", missing.join(" "));
    deps::apt_install(&missing)
}

/// The last commit's date in the changelog's form (RFC 2822), so that the same commit gives
/// the same packages; now, outside a git checkout.
fn changelog_date() -> String {
    let root = root();
    output(
        "git",
        &["-C", &root.to_string_lossy(), "log", "-1", "--format=%cD"],
    )
    .map(|d| d.trim().to_owned())
    .filter(|d| !d.is_empty())
    .or_else(|| output("date", &["-R"]).map(|d| d.trim().to_owned()))
    .unwrap_or_else(|| "Thu, 01 Jan 1970 00:00:00 +0000".into())
}

/// A Debian changelog for `package` at [`VERSION`].
fn changelog(package: &str, date: &str) -> String {
    format!(
        "{package} ({VERSION}) stable; urgency=medium\n\n  * Classroom {VERSION}.\n\n -- \
         {MAINTAINER}  {date}\n"
    )
}

/// Strips a binary as Debian's dh_strip does.
fn strip(binary: &Path) -> Result<()> {
    run(Command::new("strip")
        .args([
            "--strip-unneeded",
            "--remove-section=.comment",
            "--remove-section=.note",
        ])
        .arg(binary))
}

/// The shared-library packages `binary` needs, from `dpkg-shlibdeps` (run in `work`, which
/// gets the `debian/control` the tool insists on).
fn shlib_depends(binary: &Path, work: &Path) -> Result<Vec<String>> {
    fs::create_dir_all(work.join("debian"))?;
    fs::write(
        work.join("debian/control"),
        "Source: classroom\n\nPackage: classroom\nArchitecture: any\n",
    )?;
    let out = Command::new("dpkg-shlibdeps")
        .arg("-O")
        .arg(format!("-e{}", binary.display()))
        .current_dir(work)
        .output()
        .context("running dpkg-shlibdeps")?;
    if !out.status.success() {
        bail!(
            "dpkg-shlibdeps {}: {}",
            binary.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("shlibs:Depends="))
        .context("dpkg-shlibdeps printed no shlibs:Depends")?;
    Ok(line.split(", ").map(|d| d.trim().to_owned()).collect())
}

/// `bundle.linux.deb.depends` of `src-tauri/tauri.linux.conf.json`.
fn configured_depends() -> Result<Vec<String>> {
    let path = root().join("src-tauri/tauri.linux.conf.json");
    let text = fs::read_to_string(&path).with_context(|| path.display().to_string())?;
    let config: serde_json::Value =
        serde_json::from_str(&text).with_context(|| path.display().to_string())?;
    let list = config
        .pointer("/bundle/linux/deb/depends")
        .and_then(|v| v.as_array())
        .with_context(|| format!("{}: no bundle.linux.deb.depends", path.display()))?;
    Ok(list
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect())
}

/// Builds the app's .deb with Tauri's bundler; returns its path in `out`.
fn app_package(release: &Path, out: &Path, arch: &str, date: &str) -> Result<PathBuf> {
    let binary = release.join("classroom-app");
    if !binary.is_file() {
        bail!("bundle: {} was not built", binary.display());
    }
    strip(&binary)?;
    let work = out.join("app");
    let mut depends = configured_depends()?;
    for d in shlib_depends(&binary, &work)? {
        if !depends.contains(&d) {
            depends.push(d);
        }
    }
    // Through `files`, not the bundler's `changelog` option, which files it under the product
    // name (/usr/share/doc/Classroom) rather than the package's.
    let changelog_path = work.join("changelog");
    fs::write(&changelog_path, changelog("classroom", date))?;
    run(Command::new("gzip")
        .args(["-9n", "-f"])
        .arg(&changelog_path))?;
    // Merged over tauri.conf.json and tauri.linux.conf.json (arrays are replaced, objects
    // merged).
    let overlay = serde_json::json!({
        "version": VERSION,
        "bundle": { "linux": { "deb": {
            "depends": depends,
            "files": {
                "/usr/share/doc/classroom/changelog.gz": work.join("changelog.gz"),
            },
        } } }
    });
    let overlay_path = work.join("tauri.deb.json");
    fs::write(&overlay_path, serde_json::to_string_pretty(&overlay)?)?;

    let bundled = release.join("bundle/deb");
    let _ = fs::remove_dir_all(&bundled);
    run(tauri()
        .args(["bundle", "--bundles", "deb", "--ci", "--config"])
        .arg(&overlay_path)
        .env("CARGO_TARGET_DIR", target_dir()))?;
    let made = fs::read_dir(&bundled)
        .with_context(|| bundled.display().to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .with_context(|| format!("no .deb in {}", bundled.display()))?;
    let deb = out.join(format!("classroom_{VERSION}_{arch}.deb"));
    fs::copy(&made, &deb)?;
    Ok(deb)
}

/// Builds classroom-server's .deb with dpkg-deb; returns its path in `out`.
fn server_package(release: &Path, out: &Path, arch: &str, date: &str) -> Result<PathBuf> {
    let built = release.join("classroom-server");
    if !built.is_file() {
        bail!("bundle: {} was not built", built.display());
    }
    let linux = root().join("installer/linux");
    let work = out.join("server");
    // dpkg-shlibdeps reads a staged binary from debian/<package>/.
    let stage = work.join("debian/classroom-server");
    let _ = fs::remove_dir_all(&stage);
    let doc = stage.join("usr/share/doc/classroom-server");
    for dir in [
        stage.join("DEBIAN"),
        stage.join("usr/bin"),
        stage.join("lib/systemd/system"),
        stage.join("etc/classroom"),
        doc.clone(),
    ] {
        fs::create_dir_all(dir)?;
    }
    let binary = stage.join("usr/bin/classroom-server");
    place(&built, &binary, 0o755)?;
    strip(&binary)?;
    place(
        &linux.join("classroom-server.service"),
        &stage.join("lib/systemd/system/classroom-server.service"),
        0o644,
    )?;
    place(
        &root().join("installer/server/classroom-server.toml"),
        &stage.join("etc/classroom/classroom-server.toml"),
        0o644,
    )?;
    place(&linux.join("copyright"), &doc.join("copyright"), 0o644)?;
    let changelog_path = doc.join("changelog");
    fs::write(&changelog_path, changelog("classroom-server", date))?;
    run(Command::new("gzip")
        .args(["-9n", "-f"])
        .arg(&changelog_path))?;
    for script in ["postinst", "prerm", "postrm"] {
        place(
            &linux.join(format!("server.{script}")),
            &stage.join("DEBIAN").join(script),
            0o755,
        )?;
    }
    fs::write(
        stage.join("DEBIAN/conffiles"),
        "/etc/classroom/classroom-server.toml\n",
    )?;

    let mut depends = vec!["adduser".to_owned()];
    depends.extend(shlib_depends(&binary, &work)?);
    let (files, installed_kb) = payload(&stage)?;
    write_md5sums(&stage, &files)?;
    let control = format!(
        "Package: classroom-server\n\
         Version: {VERSION}\n\
         Architecture: {arch}\n\
         Maintainer: {MAINTAINER}\n\
         Installed-Size: {installed_kb}\n\
         Depends: {}\n\
         Section: net\n\
         Priority: optional\n\
         Description: server for live online classes on a school's network\n \
         The Classroom app's server for a school network or a data centre: joins,\n \
         the class's rules (lobby, hands, roll call, chat, polls), the forwarding of\n \
         the teacher's camera, microphone and screen to every student (WebRTC, with\n \
         WHIP and WHEP), the lessons library and attendance reports, run as the\n \
         systemd service classroom-server.\n",
        depends.join(", ")
    );
    fs::write(stage.join("DEBIAN/control"), control)?;

    let deb = out.join(format!("classroom-server_{VERSION}_{arch}.deb"));
    run(Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Zxz", "--build"])
        .arg(&stage)
        .arg(&deb))?;
    Ok(deb)
}

/// Copies `from` to `to` with `mode`.
fn place(from: &Path, to: &Path, mode: u32) -> Result<()> {
    fs::copy(from, to).with_context(|| format!("{} -> {}", from.display(), to.display()))?;
    set_mode(to, mode)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    Ok(fs::set_permissions(path, fs::Permissions::from_mode(mode))?)
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Result<()> {
    Ok(())
}

/// The package's files (relative to `stage`, DEBIAN/ left out) and its installed size in KiB
/// as dpkg counts it (each file rounded up, plus one per folder).
fn payload(stage: &Path) -> Result<(Vec<PathBuf>, u64)> {
    let mut files = Vec::new();
    let mut kb = 0;
    let mut pending = vec![stage.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            let relative = path.strip_prefix(stage)?.to_path_buf();
            if relative.starts_with("DEBIAN") {
                continue;
            }
            if entry.file_type()?.is_dir() {
                kb += 1;
                pending.push(path);
            } else {
                kb += entry.metadata()?.len().div_ceil(1024);
                files.push(relative);
            }
        }
    }
    files.sort();
    Ok((files, kb))
}

/// DEBIAN/md5sums, as dpkg-deb expects it (conffiles included, as debhelper does).
fn write_md5sums(stage: &Path, files: &[PathBuf]) -> Result<()> {
    let out = Command::new("md5sum")
        .args(files)
        .current_dir(stage)
        .output()
        .context("md5sum")?;
    if !out.status.success() {
        bail!("md5sum: {}", String::from_utf8_lossy(&out.stderr));
    }
    fs::write(stage.join("DEBIAN/md5sums"), out.stdout)?;
    set_mode(&stage.join("DEBIAN/md5sums"), 0o644)
}

/// `--test`: a fresh Debian root (debootstrap, cached as a tarball in target/bundle), the
/// install test script run in a private mount namespace, the root removed afterwards.
fn install_test(app_deb: &Path, server_deb: &Path, keep_root: bool) -> Result<ExitCode> {
    if !is_root() {
        bail!("bundle --test: needs root (debootstrap, chroot, mount)");
    }
    let started = Instant::now();
    let dir = target_dir().join("bundle/install-test");
    fs::create_dir_all(&dir)?;
    // This machine's release, from its own archive (Debian's, or Ubuntu's on an Ubuntu CI
    // runner); both can be overridden.
    let (id, codename) = host_release();
    let suite = std::env::var("CLASSROOM_DEBIAN_SUITE")
        .ok()
        .or(codename)
        .unwrap_or_else(|| "bookworm".into());
    let default_mirror = if id.as_deref() == Some("ubuntu") {
        "http://archive.ubuntu.com/ubuntu"
    } else {
        "http://deb.debian.org/debian"
    };
    let mirror = std::env::var("CLASSROOM_DEBIAN_MIRROR").unwrap_or_else(|_| default_mirror.into());
    let cache = dir.join(format!("{suite}-minbase.tar"));
    if !cache.is_file() {
        let fresh = dir.join("debootstrap");
        let _ = fs::remove_dir_all(&fresh);
        run(Command::new("debootstrap")
            .args(["--variant=minbase", &suite])
            .arg(&fresh)
            .arg(&mirror))?;
        let partial = dir.join("partial.tar");
        run(Command::new("tar")
            .arg("-C")
            .arg(&fresh)
            .arg("-cf")
            .arg(&partial)
            .arg("."))?;
        fs::rename(&partial, &cache)?;
        fs::remove_dir_all(&fresh)?;
    }
    let root_dir = dir.join("root");
    remove_root(&root_dir)?;
    fs::create_dir_all(&root_dir)?;
    run(Command::new("tar")
        .arg("-C")
        .arg(&root_dir)
        .arg("-xf")
        .arg(&cache))?;
    println!(
        "bundle --test: a fresh {suite} root from {mirror} in {}",
        root_dir.display()
    );
    let logs = dir.join("logs");
    let _ = fs::remove_dir_all(&logs);
    let status = run_status(
        Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--", "sh"])
            .arg(root().join("installer/linux/install-test.sh"))
            .arg(&root_dir)
            .arg(app_deb)
            .arg(server_deb)
            .arg(&logs),
    )?;
    if !keep_root {
        remove_root(&root_dir)?;
    }
    println!(
        "bundle --test: {} in {} (logs and screenshot in {})",
        if status.success() { "passed" } else { "FAILED" },
        secs(started.elapsed()),
        logs.display()
    );
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Deletes a test root, refusing while anything is mounted inside it (the test's mounts live
/// in its own namespace, so there should never be one; a bind mount of /dev would otherwise
/// be emptied along with it).
fn remove_root(root_dir: &Path) -> Result<()> {
    if !root_dir.exists() {
        return Ok(());
    }
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let prefix = root_dir.to_string_lossy();
    if let Some(m) = mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(1))
        .find(|m| m.starts_with(prefix.as_ref()))
    {
        bail!("bundle --test: {m} is mounted inside the test root; unmount it first");
    }
    fs::remove_dir_all(root_dir).with_context(|| root_dir.display().to_string())
}

/// This machine's distribution (`debian`, `ubuntu`) and codename (`bookworm`), from
/// /etc/os-release.
fn host_release() -> (Option<String>, Option<String>) {
    let text = fs::read_to_string("/etc/os-release").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .map(|v| v.trim_matches('"').to_owned())
            .filter(|v| !v.is_empty())
    };
    (field("ID"), field("VERSION_CODENAME"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_changelog_has_debians_form() {
        let text = changelog("classroom-server", "Thu, 03 Dec 2026 08:00:00 +0000");
        assert!(text.starts_with(&format!(
            "classroom-server ({VERSION}) stable; urgency=medium\n\n  * "
        )));
        assert!(text.ends_with(&format!(
            "\n\n -- {MAINTAINER}  Thu, 03 Dec 2026 08:00:00 +0000\n"
        )));
    }

    #[test]
    fn the_app_package_lists_gstreamers_plugins() {
        let depends = configured_depends().expect("tauri.linux.conf.json");
        for plugin in ["plugins-base", "plugins-good", "plugins-bad", "nice"] {
            assert!(
                depends.iter().any(|d| d.contains(plugin)),
                "{plugin} missing from {depends:?}"
            );
        }
    }

    #[test]
    fn the_payload_counts_files_and_folders() {
        let dir = std::env::temp_dir().join(format!("xtask-payload-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("DEBIAN")).expect("dir");
        fs::create_dir_all(dir.join("usr/bin")).expect("dir");
        fs::write(dir.join("DEBIAN/control"), "x").expect("write");
        fs::write(dir.join("usr/bin/a"), vec![0u8; 1025]).expect("write");
        let (files, kb) = payload(&dir).expect("payload");
        assert_eq!(files, vec![PathBuf::from("usr/bin/a")]);
        // usr, usr/bin and two KiB for 1,025 bytes.
        assert_eq!(kb, 4);
        fs::remove_dir_all(&dir).expect("clean up");
    }
}
