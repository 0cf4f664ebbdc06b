//! The server between independent WebRTC stacks (issue 14): a real browser (Chromium,
//! headless, over WebDriver) publishing over WHIP to our GStreamer student and to a str0m
//! WHEP viewer, and watching over WHEP our GStreamer teacher and a str0m WHIP publisher. Each
//! stack numbers its codecs its own way (Chromium: Opus 111, VP8 96; the str0m peers below:
//! Opus 120, VP8 121), so the str0m legs pass only if the server maps payload types per leg.
//! (GStreamer adopts the server's numbers, which happen to be Chromium's for Opus and H.264.)

use std::time::{Duration, Instant};

use classroom_media::PublishConfig;
use classroom_protocol::{Role, Source};
use classroom_sfu::ServerHandle;
use classroom_sfu::core::dtls;
use classroom_tests::browser::{Browser, payload_type};
use classroom_tests::str0m_peer::Str0mPeer;
use str0m::format::{Codec, FormatParams};
use str0m::media::Frequency;
use str0m::rtp::Extension;

fn token(server: &ServerHandle, room: &str, name: &str, role: Role) -> String {
    server
        .mint_token(room, name, role, Duration::from_secs(600))
        .expect("token")
}

/// A browser on the server's own origin.
async fn browser_at(server: &ServerHandle) -> Browser {
    let browser = Browser::launch().await.expect("Chromium");
    browser
        .open(&format!("http://{}/healthz", server.signaling_addr()))
        .await
        .expect("page");
    browser
}

/// A str0m configuration numbered unlike Chromium and unlike the server's defaults.
fn odd_numbering() -> str0m::RtcConfig {
    let mut c = str0m::Rtc::builder().clear_codecs().clear_extension_map();
    let codecs = c.codec_config();
    codecs.add_config(
        120.into(),
        None,
        Codec::Opus,
        Frequency::FORTY_EIGHT_KHZ,
        Some(2),
        FormatParams {
            min_p_time: Some(10),
            use_inband_fec: Some(true),
            ..Default::default()
        },
    );
    codecs.add_config(
        121.into(),
        Some(122.into()),
        Codec::Vp8,
        Frequency::NINETY_KHZ,
        None,
        FormatParams::default(),
    );
    codecs.add_config(
        123.into(),
        Some(124.into()),
        Codec::H264,
        Frequency::NINETY_KHZ,
        None,
        FormatParams::parse_line(
            "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
        ),
    );
    c.set_extension(9, Extension::AudioLevel)
        .set_extension(12, Extension::AbsoluteSendTime)
        .set_extension(7, Extension::TransportSequenceNumber)
        .set_extension(5, Extension::RtpMid)
}

/// Polls `f` every 100 ms until it returns `Some`, or panics with `what` after `secs`.
async fn wait_for<T>(secs: u64, what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} within {secs} s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `room` has a camera and a microphone, then opens Chromium on the server and
/// watches the room over WHEP. Returns the browser and Chromium's offer.
async fn browser_watches(server: &ServerHandle, room: &str) -> (Browser, String) {
    // A WHEP viewer is pointed at the tracks that exist.
    wait_for(20, "the room's camera and microphone", async || {
        (server.metrics().snapshot().tracks >= 2).then_some(())
    })
    .await;
    let browser = browser_at(server).await;
    let (offer, answer) = browser
        .whep_watch(
            &format!("http://{}/whep/{room}", server.signaling_addr()),
            &token(server, room, "browser", Role::Observer),
        )
        .await
        .expect("Chromium watches over WHEP");
    eprintln!(
        "Chromium offers Opus as {:?}, VP8 as {:?}; the answer keeps {:?} and {:?}",
        payload_type(&offer, "audio", "opus"),
        payload_type(&offer, "video", "VP8"),
        payload_type(&answer, "audio", "opus"),
        payload_type(&answer, "video", "VP8"),
    );
    (browser, offer)
}

/// Waits until Chromium has decoded 60 video frames and played a second of audio that was
/// not made up, and checks the server sent every packet it could.
async fn browser_decodes(server: &ServerHandle, browser: Browser) {
    let stats = wait_for(30, "Chromium decodes video and audio", async || {
        let s = browser.viewer_stats().await.expect("getStats");
        (s.video_frames >= 60 && s.audio_samples > s.concealed_samples + 48_000).then_some(s)
    })
    .await;
    eprintln!("Chromium over WHEP: {stats:?}");
    assert_eq!(server.metrics().snapshot().codec_mismatches, 0);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_publishing_over_whip_reaches_gstreamer_and_a_str0m_whep_viewer() {
    let server = classroom_tests::class_server().await;
    let room = "interop";
    let browser = browser_at(&server).await;
    let base = format!("http://{}", server.signaling_addr());
    let (offer, _answer) = browser
        .whip_publish(
            &format!("{base}/whip/{room}"),
            &token(&server, room, "browser", Role::Teacher),
        )
        .await
        .expect("Chromium publishes over WHIP");
    eprintln!(
        "Chromium numbers Opus {:?} and VP8 {:?}",
        payload_type(&offer, "audio", "opus"),
        payload_type(&offer, "video", "VP8")
    );

    // Our GStreamer student, over the websocket.
    let (student, _events) = classroom_tests::connect_joined(classroom_tests::join_options(
        &server,
        room,
        "Ada",
        Role::Student,
        None,
    ))
    .await;
    // A str0m WHEP viewer with numbers of its own.
    let viewer = Str0mPeer::whep(
        server.signaling_addr(),
        room,
        &token(&server, room, "viewer", Role::Observer),
        odd_numbering(),
    )
    .await
    .expect("WHEP viewer");

    let (frames, audio) = wait_for(
        30,
        "the GStreamer student decodes the browser",
        async || {
            let s = student.stats();
            let frames = s.by_source(Source::Camera).map_or(0, |t| t.frames);
            let audio = s.by_source(Source::Microphone).map_or(0, |t| t.packets);
            (frames >= 60 && audio >= 100).then_some((frames, audio))
        },
    )
    .await;
    eprintln!("GStreamer student: {frames} camera frames, {audio} audio packets");
    let got = wait_for(30, "the str0m viewer receives the browser", async || {
        let r = viewer.received();
        (r.video_frames >= 60 && r.audio_frames >= 100).then_some(r)
    })
    .await;
    eprintln!("str0m WHEP viewer: {got:?}");
    assert!(
        got.payload_types
            .iter()
            .all(|pt| [120, 121, 123].contains(pt)),
        "the viewer got its own payload types: {:?}",
        got.payload_types
    );
    let m = server.metrics().snapshot();
    assert_eq!(m.codec_mismatches, 0);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_watches_our_gstreamer_teacher_over_whep() {
    // The server lets go of each connection's DTLS state once the peer is heard under the
    // keys (Chromium's receiver reports, the teacher's media): Chromium must keep decoding
    // past that. The quiet period, the fallback for a peer never heard, is a minute here (ten
    // seconds in a server), so the release comes from hearing Chromium.
    dtls::set_quiet(Duration::from_secs(60));
    let server = classroom_tests::class_server().await;
    let room = "interop-back";
    let publish = PublishConfig {
        camera_mode: (640, 360, 30),
        ..classroom_tests::ball_camera(true)
    };
    let (_teacher, _teacher_events) = classroom_tests::connect_joined(
        classroom_tests::join_options(&server, room, "Teacher", Role::Teacher, Some(publish)),
    )
    .await;
    let (browser, _) = browser_watches(&server, room).await;
    wait_for(20, "the teacher's and Chromium's DTLS let go", async || {
        (dtls::released() >= 2).then_some(())
    })
    .await;
    let before = browser.viewer_stats().await.expect("getStats").video_frames;
    wait_for(20, "Chromium decoding after the release", async || {
        let now = browser.viewer_stats().await.expect("getStats").video_frames;
        (now >= before + 30).then_some(())
    })
    .await;
    browser_decodes(&server, browser).await;
    assert_eq!(
        dtls::ignored_after_release(),
        0,
        "Chromium sends no DTLS after it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_watches_a_whip_publisher_that_numbers_its_codecs_unlike_it() {
    let server = classroom_tests::class_server().await;
    let room = "interop-odd";
    let publisher = Str0mPeer::whip(
        server.signaling_addr(),
        room,
        &token(&server, room, "encoder", Role::Teacher),
        odd_numbering(),
    )
    .await
    .expect("the str0m publisher publishes over WHIP");
    let (browser, offer) = browser_watches(&server, room).await;
    let sent = (
        payload_type(&publisher.answer, "audio", "opus"),
        payload_type(&publisher.answer, "video", "VP8"),
    );
    let wanted = (
        payload_type(&offer, "audio", "opus"),
        payload_type(&offer, "video", "VP8"),
    );
    eprintln!("the publisher sends Opus and VP8 as {sent:?}; Chromium takes them as {wanted:?}");
    assert!(
        sent.0 != wanted.0 && sent.1 != wanted.1,
        "the two sides must number differently for this test to mean anything"
    );
    browser_decodes(&server, browser).await;
    eprintln!("the publisher: {:?}", publisher.received());
}
