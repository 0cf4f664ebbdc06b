//! The installers' CI workflow (`.github/workflows/installers.yml`) cannot run here; what can
//! be checked is checked: it is YAML, every job runs on the system it is for and names every
//! step, the Windows and macOS jobs run the Rust tests and build their installer, and every
//! file a step names exists in the repository.

use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

fn workflow() -> Yaml {
    let path = root().join(".github/workflows/installers.yml");
    let text = std::fs::read_to_string(&path).expect("workflow file");
    let mut docs = YamlLoader::load_from_str(&text).expect("the workflow is valid YAML");
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

/// Each step of `job` as (name, run or uses).
fn steps(job: &Yaml) -> Vec<(String, String)> {
    job["steps"]
        .as_vec()
        .expect("steps")
        .iter()
        .map(|step| {
            let name = step["name"]
                .as_str()
                .unwrap_or_else(|| panic!("a step without a name: {step:?}"))
                .to_owned();
            let body = step["run"]
                .as_str()
                .or_else(|| step["uses"].as_str())
                .unwrap_or_else(|| panic!("step {name:?} neither runs nor uses anything"))
                .to_owned();
            (name, body)
        })
        .collect()
}

#[test]
fn every_job_runs_on_its_system_and_names_every_step() {
    let wf = workflow();
    let jobs = wf["jobs"].as_hash().expect("jobs");
    for (system, runner) in [
        ("windows", "windows-"),
        ("macos", "macos-"),
        ("linux", "ubuntu-"),
    ] {
        let job = &wf["jobs"][system];
        assert!(!job.is_badvalue(), "no {system} job");
        assert!(
            job["runs-on"]
                .as_str()
                .is_some_and(|r| r.starts_with(runner)),
            "{system} runs on {:?}",
            job["runs-on"]
        );
        assert!(job["name"].as_str().is_some(), "{system} job has no name");
        assert!(
            job["timeout-minutes"].as_i64().is_some(),
            "{system}: no timeout"
        );
        assert!(!steps(job).is_empty());
    }
    assert_eq!(jobs.len(), 3);
}

#[test]
fn windows_and_macos_run_the_tests_and_build_their_installer() {
    let wf = workflow();
    for (system, bundles) in [("windows", "--bundles msi"), ("macos", "--bundles app,dmg")] {
        let steps = steps(&wf["jobs"][system]);
        let runs = |needle: &str| steps.iter().any(|(_, body)| body.contains(needle));
        assert!(
            runs("cargo test --workspace --locked"),
            "{system}: no Rust tests"
        );
        assert!(runs("npm ci"), "{system}: no npm ci");
        assert!(runs(bundles), "{system}: no {bundles}");
        assert!(
            runs("actions/upload-artifact"),
            "{system}: the installer is not kept"
        );
        // The tests run before the installer is built.
        let test_at = steps
            .iter()
            .position(|(_, b)| b.contains("cargo test"))
            .expect("tests");
        let build_at = steps
            .iter()
            .position(|(_, b)| b.contains(bundles))
            .expect("bundle");
        assert!(
            test_at < build_at,
            "{system}: installer built before the tests"
        );
    }
    let linux = steps(&wf["jobs"]["linux"]);
    assert!(
        linux
            .iter()
            .any(|(_, b)| b.contains("cargo xtask bundle --test"))
    );
}

#[test]
fn every_file_a_step_names_exists() {
    let wf = workflow();
    let mut named = 0;
    for system in ["windows", "macos", "linux"] {
        for (name, body) in steps(&wf["jobs"][system]) {
            for word in body.split_whitespace() {
                let word = word.trim_start_matches("./");
                if word.starts_with("installer/") {
                    named += 1;
                    assert!(
                        root().join(word).exists(),
                        "step {name:?} names {word}, which does not exist"
                    );
                }
            }
        }
    }
    // The staging scripts, the bundle overlays and the MSI check.
    assert!(named >= 5, "only {named} files named");
}
