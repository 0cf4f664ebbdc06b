//! Shared set-up for the end-to-end tests in `tests/tests/`.

use std::time::{Duration, Instant};

use classroom_client::{JoinOptions, Session, SessionEvent, connect};
use classroom_media::{AudioInput, PublishConfig, VideoInput};
use classroom_protocol::{ClassEvent, Role};
use classroom_sfu::{ServerConfig, ServerHandle, start};
use tokio::sync::mpsc::UnboundedReceiver;

/// What a test teacher publishes: GStreamer's moving ball as the camera, a test tone as the
/// microphone when `voice`, no screen.
pub fn ball_camera(voice: bool) -> PublishConfig {
    PublishConfig {
        camera: Some(VideoInput::Test {
            pattern: "ball".into(),
        }),
        microphone: voice.then_some(AudioInput::Test),
        screen: None,
        ..PublishConfig::default()
    }
}

/// Logging (`RUST_LOG`, default `warn`) into the test's output, GStreamer checked for the
/// plugins the class needs, and a real classroom server on 127.0.0.1 with free ports.
pub async fn class_server() -> ServerHandle {
    class_server_with(ServerConfig::loopback()).await
}

/// [`class_server`] with settings of the test's own (they should stay on loopback).
pub async fn class_server_with(config: ServerConfig) -> ServerHandle {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
    classroom_media::init().expect("GStreamer with the plugins from `cargo xtask deps`");
    start(config).await.expect("server")
}

/// How `name` joins room `room` of `server` as `role` with a freshly minted token,
/// publishing `publish` if given.
pub fn join_options(
    server: &ServerHandle,
    room: &str,
    name: &str,
    role: Role,
    publish: Option<PublishConfig>,
) -> JoinOptions {
    let token = server
        .mint_token(room, name, role, Duration::from_secs(600))
        .expect("token");
    JoinOptions {
        publish,
        ..JoinOptions::new(&server.url(), &token, room, name, role)
    }
}

/// Connects with `opts` and waits (up to 10 s) until the server has said `joined`.
pub async fn connect_joined(opts: JoinOptions) -> (Session, UnboundedReceiver<SessionEvent>) {
    let who = opts.display_name.clone();
    let (session, mut events) = connect(opts).await.expect("connect");
    match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
        Ok(Some(SessionEvent::Joined { .. })) => {}
        other => panic!("{who} did not join: {other:?}"),
    }
    (session, events)
}

/// Waits (up to 10 s) until the class tells `events`' owner it is on stage.
pub async fn wait_on_stage(events: &mut UnboundedReceiver<SessionEvent>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, events.recv()).await {
            Ok(Some(SessionEvent::Class(ev))) => {
                if let ClassEvent::You(you) = *ev
                    && you.on_stage
                {
                    return;
                }
            }
            Ok(Some(_)) => {}
            other => panic!("never brought on stage: {other:?}"),
        }
    }
}

pub mod browser;
pub mod flood;
pub mod netns;
pub mod str0m_peer;
pub mod wayland;
pub mod window;
