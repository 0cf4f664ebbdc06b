//! Updates in the real window, from an update service on loopback run by the test: a newer
//! version is found; a tampered package, one signed with another key and an unsigned one are
//! refused in words and never installed; the properly signed one passes the signature check
//! (and then stops at installing, which a development build cannot do); with the school's
//! policy `off` nothing is asked of the service at all.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use minisign::KeyPair;

use super::*;

/// The package the service offers (not an executable: were it ever installed, the updater
/// would refuse it as a format before touching anything).
const PACKAGE: &[u8] = b"classroom 9.9.9 update package, for the updater window test\n";

/// What the manifest announces for each case: (package bytes served, signature).
struct Case {
    bytes: Vec<u8>,
    signature: String,
}

fn base64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// A signature as Tauri's bundler writes it: the minisign signature file, base64.
fn sign(keys: &KeyPair, bytes: &[u8]) -> String {
    let signature =
        minisign::sign(Some(&keys.pk), &keys.sk, bytes, Some("version:9.9.9"), None).expect("sign");
    base64(&signature.into_string())
}

/// Serves `/manifest` (the current case's release) and `/package/N` on loopback; counts the
/// requests. Returns the endpoint.
fn serve(
    cases: Arc<Vec<Case>>,
    current: Arc<AtomicUsize>,
    hits: Arc<Mutex<Vec<String>>>,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            // The rest of the head.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request.split(' ').nth(1).unwrap_or("/").to_owned();
            hits.lock().expect("hits").push(path.clone());
            let case = current.load(Ordering::SeqCst);
            let (kind, body) = if path.starts_with("/manifest") {
                let url = format!("http://127.0.0.1:{port}/package/{case}");
                let signature = &cases[case].signature;
                let platform = serde_json::json!({ "url": url, "signature": signature });
                let manifest = serde_json::json!({
                    "version": "9.9.9",
                    "notes": "A newer classroom.",
                    "pub_date": "2026-12-01T00:00:00Z",
                    "platforms": {
                        "linux-x86_64": platform,
                        "linux-x86_64-deb": platform,
                        "linux-x86_64-appimage": platform,
                    }
                });
                ("application/json", manifest.to_string().into_bytes())
            } else {
                ("application/octet-stream", cases[case].bytes.clone())
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    format!("http://127.0.0.1:{port}/manifest/{{{{target}}}}/{{{{arch}}}}/{{{{current_version}}}}")
}

/// The update service on loopback offering `cases`, with the case now served, the requests
/// seen, its endpoint and our public key as the app takes it.
struct Service {
    current: Arc<AtomicUsize>,
    hits: Arc<Mutex<Vec<String>>>,
    endpoint: String,
    pubkey: String,
}

fn service(ours: &KeyPair, cases: Vec<Case>) -> Service {
    let current = Arc::new(AtomicUsize::new(0));
    let hits = Arc::new(Mutex::new(Vec::new()));
    let endpoint = serve(Arc::new(cases), current.clone(), hits.clone());
    let pubkey = base64(&ours.pk.to_box().expect("key box").into_string());
    Service {
        current,
        hits,
        endpoint,
        pubkey,
    }
}

#[test]
fn an_update_is_installed_only_when_our_key_signed_exactly_its_bytes() {
    let ours = KeyPair::generate_unencrypted_keypair().expect("keys");
    let theirs = KeyPair::generate_unencrypted_keypair().expect("keys");
    let mut tampered = PACKAGE.to_vec();
    tampered[10] ^= 1;
    let cases = vec![
        // 0: tampered on the way: our signature over the original bytes.
        Case {
            bytes: tampered,
            signature: sign(&ours, PACKAGE),
        },
        // 1: signed, but with someone else's key.
        Case {
            bytes: PACKAGE.to_vec(),
            signature: sign(&theirs, PACKAGE),
        },
        // 2: not signed at all.
        Case {
            bytes: PACKAGE.to_vec(),
            signature: String::new(),
        },
        // 3: ours, intact.
        Case {
            bytes: PACKAGE.to_vec(),
            signature: sign(&ours, PACKAGE),
        },
    ];
    let Service {
        current,
        hits,
        endpoint,
        pubkey,
    } = service(&ours, cases);

    // The school's policy `notify`: the app asks once after start and offers what it found.
    let dir = policy_folder(
        "updates-notify",
        &[("managed/30-updates.json", r#"{"updates": "notify"}"#)],
    );
    let policy_dir = dir.to_string_lossy().into_owned();
    Scenario::run("updates", app(), |s| {
        let win = s.launch(
            AppOptions::new("student")
                .env("CLASSROOM_POLICY_DIR", &policy_dir)
                .env("CLASSROOM_UPDATE_ENDPOINT", &endpoint)
                .env("CLASSROOM_UPDATE_PUBKEY", &pubkey),
        )?;
        win.wait_for_testid("join-form", WAIT)?;
        flows::wait_for_text_in_testid(
            &win,
            "update-notice",
            "Version 9.9.9 of Classroom is available.",
        )?;
        win.wait_for_testid("update-install", WAIT)?;
        keep(s, &win, "home-update-offered-en")?;
        ensure!(
            hits.lock().expect("hits").len() == 1,
            "one question at start, nothing downloaded before the person asks"
        );
        win.click_testid("update-dismiss")?;
        win.click_testid("open-settings")?;
        let untrusted = "This update is not signed by Classroom's publisher and was not installed.";
        for (case, expect) in [
            (0, untrusted),
            (1, untrusted),
            (2, untrusted),
            // Past the signature check: a development build cannot install itself.
            (3, "The update could not be installed"),
        ] {
            current.store(case, Ordering::SeqCst);
            flows::scroll_to(&win, "update-check")?;
            win.click_testid("update-check")?;
            flows::wait_for_text_in_testid(&win, "update-note", "Version 9.9.9 is available.")?;
            flows::scroll_to(&win, "update-install")?;
            win.click_testid("update-install")?;
            flows::wait_for_text_in_testid(&win, "update-note", expect)
                .with_context(|| format!("case {case}"))?;
            if case == 0 {
                // The screenshot is taken from the next frame WebKit presents.
                std::thread::sleep(Duration::from_millis(500));
                keep(s, &win, "settings-update-refused-en")?;
            }
        }
        let asked = hits.lock().expect("hits").len();
        ensure!(
            asked == 9,
            "one manifest at start, then four manifests and four packages: {asked}"
        );
        Ok(())
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn by_default_the_app_installs_a_newer_version_by_itself_and_says_so() {
    let ours = KeyPair::generate_unencrypted_keypair().expect("keys");
    let mut tampered = PACKAGE.to_vec();
    tampered[10] ^= 1;
    let Service {
        current,
        hits,
        endpoint,
        pubkey,
    } = service(
        &ours,
        vec![
            // 0: tampered on the way.
            Case {
                bytes: tampered,
                signature: sign(&ours, PACKAGE),
            },
            // 1: ours, intact.
            Case {
                bytes: PACKAGE.to_vec(),
                signature: sign(&ours, PACKAGE),
            },
        ],
    );
    Scenario::run("updates-auto", app(), |s| {
        // No policy: `auto`. A tampered package is downloaded, refused, and said so.
        let win = s.launch(
            AppOptions::new("tampered")
                .env("CLASSROOM_UPDATE_ENDPOINT", &endpoint)
                .env("CLASSROOM_UPDATE_PUBKEY", &pubkey),
        )?;
        win.wait_until(WAIT, "the app's own install to be refused", || {
            let state = flows::data_of_testid(&win, "update-notice", "state")?;
            Ok(state.filter(|s| s == "failed"))
        })?;
        flows::wait_for_text_in_testid(
            &win,
            "update-notice",
            "not signed by Classroom's publisher",
        )?;
        flows::wait_for_text_in_testid(&win, "update-notice", "this version keeps working")?;
        keep(s, &win, "home-update-failed-en")?;
        // Our package, intact: it passes the signature check and gets as far as installing,
        // which a development build cannot do (a release installs it here).
        current.store(1, Ordering::SeqCst);
        let win = s.launch(
            AppOptions::new("intact")
                .language("zh-CN")
                .env("CLASSROOM_UPDATE_ENDPOINT", &endpoint)
                .env("CLASSROOM_UPDATE_PUBKEY", &pubkey),
        )?;
        flows::wait_for_text_in_testid(&win, "update-notice", "9.9.9 版未能安装")?;
        let said = win.text_of_testid("update-notice")?;
        ensure!(
            !said.contains("not signed"),
            "our own package was taken for a foreign one: {said}"
        );
        let paths = hits.lock().expect("hits").clone();
        ensure!(
            paths.iter().filter(|p| p.starts_with("/package/")).count() == 2,
            "each app downloaded the package once by itself: {paths:?}"
        );
        Ok(())
    });
}

#[test]
fn with_updates_turned_off_by_the_school_the_service_is_never_asked() {
    let dir = policy_folder(
        "updates-off",
        &[("managed/30-updates.json", r#"{"updates": "off"}"#)],
    );
    let policy_dir = dir.to_string_lossy().into_owned();
    let hits = Arc::new(Mutex::new(Vec::new()));
    let endpoint = serve(
        Arc::new(Vec::new()),
        Arc::new(AtomicUsize::new(0)),
        hits.clone(),
    );
    Scenario::run("updates-off", app(), |s| {
        let win = s.launch(
            AppOptions::new("student")
                .env("CLASSROOM_POLICY_DIR", &policy_dir)
                .env("CLASSROOM_UPDATE_ENDPOINT", &endpoint),
        )?;
        win.wait_for_testid("join-form", WAIT)?;
        win.click_testid("open-settings")?;
        flows::wait_for_text_in_testid(
            &win,
            "updates-off",
            "Your school installs new versions of the app itself.",
        )?;
        let disabled = win.is_disabled_testid("update-check")?;
        ensure!(disabled, "no checking for updates");
        // Past the moment the app asks by itself when updates are on.
        std::thread::sleep(Duration::from_secs(6));
        ensure!(
            hits.lock().expect("hits").is_empty(),
            "the service was asked"
        );
        Ok(())
    });
    let _ = std::fs::remove_dir_all(&dir);
}
