//! One computer of the LAN test (`tests/tests/lan.rs`), run inside a network namespace.
//!
//! `classroom-lan-node teacher --title T --name N`: hosts a class on the school network the
//! way the app does (`classroom_client::host`: TLS with a certificate made at start, its
//! fingerprint announced), creates the class with a code, joins it as the teacher (pinned)
//! publishing a test camera, prints `hosting`, `invite` (the class code) and `joined`, lets
//! in whoever knocks with the code (as a teacher clicks "admit all"), then prints `paths`
//! (the server's media paths) every second until its standard input closes.
//!
//! `classroom-lan-node student --name N`: reads the invite (one JSON line with the code) from
//! standard input, finds by mDNS the class nearby whose certificate the code checks, reaches
//! it, joins by code over `wss://` pinned to that certificate, waits in the lobby until let
//! in, and prints `found`, `reached`, `joined` and `frames` until it has decoded `--frames`
//! camera frames; failures are an `error` line with a `kind` (`noClassesNearby`,
//! `unreachable`, `join`, `noFrames`) and a non-zero exit.
//!
//! Every line on standard output is one JSON object with an `event` field.

use std::io::BufRead;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use classroom_client::discovery::{self, BrowseOptions, NearbyClass};
use classroom_client::host::{HostOptions, class_for_code, code_join, host};
use classroom_client::{JoinOptions, SessionEvent, connect};
use classroom_media::{PublishConfig, VideoInput};
use classroom_protocol::{ClassEvent, ClassRequest, LobbyPolicy, Role, Source};
use serde_json::json;

fn emit(value: serde_json::Value) {
    println!("{value}");
}

fn fail(kind: &str, message: impl std::fmt::Display, code: i32) -> ! {
    emit(json!({"event": "error", "kind": kind, "message": message.to_string()}));
    std::process::exit(code);
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    classroom_media::init().context("GStreamer")?;
    match args.first().map(String::as_str) {
        Some("teacher") => teacher(&args).await,
        Some("student") => student(&args).await,
        _ => bail!("usage: classroom-lan-node teacher|student [options]"),
    }
}

const ROOM: &str = "lan-class";

async fn teacher(args: &[String]) -> anyhow::Result<()> {
    let title = arg(args, "--title").unwrap_or_else(|| "LAN class".into());
    let name = arg(args, "--name").unwrap_or_else(|| "Teacher".into());
    let mut opts = HostOptions::lan(&title, &name);
    if let Some(port) = arg(args, "--port") {
        opts.port = port.parse().context("--port")?;
    }
    let hosted = host(opts).await?;
    let reach = hosted.reachability();
    emit(json!({
        "event": "hosting",
        "port": reach.port,
        "addresses": reach.addresses,
        "announced": reach.announced,
        "onlyThisComputer": reach.only_this_computer(),
        "instance": hosted.announced_as(),
        "inviteUrl": hosted.invite_url(),
        "mediaAddrs": hosted.server().media_addrs(),
    }));
    let ttl = Duration::from_secs(3600);
    let created = hosted
        .server()
        .create_class(ROOM, LobbyPolicy::AdmitAll, Vec::new())
        .await?;
    emit(json!({"event": "invite", "code": created.code}));
    let teacher_token = hosted
        .server()
        .mint_token(ROOM, &name, Role::Teacher, ttl)?;
    let publish = PublishConfig {
        camera: Some(VideoInput::Test {
            pattern: "ball".into(),
        }),
        camera_mode: (320, 240, 15),
        camera_bitrate: 300_000,
        screen: None,
        microphone: None,
        ..PublishConfig::default()
    };
    let opts = JoinOptions {
        publish: Some(publish),
        pin: hosted.fingerprint(),
        ..JoinOptions::new(
            &hosted.local_url(),
            &teacher_token,
            ROOM,
            &name,
            Role::Teacher,
        )
    };
    let (session, mut events) = connect(opts).await?;
    match tokio::time::timeout(Duration::from_secs(20), events.recv()).await {
        Ok(Some(SessionEvent::Joined { .. })) => emit(json!({"event": "joined"})),
        other => bail!("the teacher did not join: {other:?}"),
    }
    // Runs until the test closes our standard input.
    let (eof_tx, mut eof) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            if line.is_err() {
                break;
            }
        }
        let _ = eof_tx.send(());
    });
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = &mut eof => break,
            _ = tick.tick() => {
                let paths: Vec<_> = hosted
                    .server()
                    .media_paths()
                    .iter()
                    .map(|p| json!({"local": p.local, "remote": p.remote, "packetsIn": p.packets_in, "packetsOut": p.packets_out}))
                    .collect();
                emit(json!({"event": "paths", "paths": paths, "mediaAddrs": hosted.server().media_addrs()}));
            }
            ev = events.recv() => if let Some(ev) = ev {
                // Whoever knocks with the code is let in, as a teacher clicks "admit all".
                if let SessionEvent::Class(class) = &ev
                    && let ClassEvent::Lobby { waiting } = class.as_ref()
                    && !waiting.is_empty()
                {
                    emit(json!({"event": "lobby", "waiting": waiting.len()}));
                    session.class(ClassRequest::AdmitAll);
                    continue;
                }
                emit(json!({"event": "session", "what": format!("{ev:?}")}));
            },
        }
    }
    session.leave().await;
    hosted.shutdown().await;
    emit(json!({"event": "bye"}));
    Ok(())
}

/// What the teacher handed out: the class code.
#[derive(serde::Deserialize)]
struct Invite {
    code: String,
}

async fn student(args: &[String]) -> anyhow::Result<()> {
    let name = arg(args, "--name").unwrap_or_else(|| "Student".into());
    let want_frames: u64 = arg(args, "--frames")
        .map(|f| f.parse())
        .transpose()?
        .unwrap_or(30);
    let timeout = Duration::from_secs(
        arg(args, "--timeout")
            .map(|t| t.parse())
            .transpose()?
            .unwrap_or(60),
    );
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let invite: Invite = serde_json::from_str(&line).context("invite on stdin")?;

    let deadline = Instant::now() + timeout;
    let browser = discovery::browse(BrowseOptions::default())?;
    let mut changes = browser.subscribe();
    // Only the class the code was made for: its certificate is what the code checks.
    let class: NearbyClass = loop {
        if let Some(class) = class_for_code(&browser.classes(), &invite.code) {
            break class.clone();
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if tokio::time::timeout(left, changes.changed()).await.is_err() {
            fail(
                "noClassesNearby",
                format!("no classes found nearby ({:?})", browser.stats()),
                2,
            );
        }
    };
    emit(json!({"event": "found", "class": class, "stats": browser.stats()}));
    let addr = match discovery::reach(&class, Duration::from_secs(2)).await {
        Ok(addr) => addr,
        Err(e) => fail("unreachable", e, 3),
    };
    let url = class.url(addr.ip());
    emit(json!({"event": "reached", "addr": addr, "url": url}));
    let Some(opts) = code_join(&class, addr.ip(), &invite.code, &name) else {
        fail("join", "the class announces no certificate to pin", 4);
    };
    let (session, mut events) = match connect(opts).await {
        Ok(ok) => ok,
        Err(e) => fail("join", e, 4),
    };
    // Through the lobby: `waiting` first, then `joined` once the teacher lets us in.
    let join_deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = join_deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, events.recv()).await {
            Ok(Some(SessionEvent::Joined { participant_id, .. })) => {
                emit(json!({"event": "joined", "participantId": participant_id}));
                break;
            }
            Ok(Some(SessionEvent::Class(ev))) if matches!(*ev, ClassEvent::Waiting { .. }) => {
                emit(json!({"event": "waiting"}));
            }
            Ok(Some(SessionEvent::Class(_) | SessionEvent::TrackPublished(_))) => {}
            other => fail("join", format!("{other:?}"), 4),
        }
    }
    loop {
        let stats = session.stats();
        let camera = stats.by_source(Source::Camera);
        let frames = camera.map(|c| c.frames).unwrap_or(0);
        if frames >= want_frames {
            emit(json!({
                "event": "frames",
                "camera": frames,
                "resolution": camera.and_then(|c| c.resolution).map(|(w, h)| format!("{w}x{h}")),
                "fps": camera.map(|c| c.fps()),
            }));
            break;
        }
        if Instant::now() > deadline {
            fail("noFrames", format!("{frames} camera frames decoded"), 5);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    session.leave().await;
    emit(json!({"event": "left"}));
    Ok(())
}
