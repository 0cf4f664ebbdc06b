//! The load generator against an in-process classroom server on loopback: one publisher and
//! two subscribers for about two seconds. Media must arrive, be matched to what was sent and
//! be counted without loss; the server's own /proc figures are this process's (the server
//! runs in it), so they must be present and positive.

use std::sync::Arc;
use std::time::Duration;

use classroom_loadgen::clip::{AudioClip, VideoClip};
use classroom_loadgen::run::{self, Plan, Target};
use classroom_loadgen::{AUDIO_ASSET, VIDEO_ASSET, default_asset};
use classroom_sfu::{ServerConfig, start};

#[tokio::test(flavor = "current_thread")]
async fn two_subscribers_receive_the_clip_through_our_server() {
    let server = start(ServerConfig::loopback()).await.expect("server");
    let video = Arc::new(VideoClip::load(&default_asset(VIDEO_ASSET)).expect("video"));
    let audio = Arc::new(AudioClip::load(&default_asset(AUDIO_ASSET)).expect("audio"));
    let target = Target::Ours {
        url: server.url(),
        key: server.access().clone(),
        room: "test".into(),
    };
    let plan = Plan {
        steps: vec![1, 2],
        window: Duration::from_secs(2),
        settle: Duration::from_millis(500),
        server_pid: Some(std::process::id()),
        cpu_limit: 10.0, // never: the test machine is busy
        stop_on_loss: false,
        bind_ip: "127.0.0.1".parse().expect("ip"),
        // The app's own clients' SRTP (AES-CTR with HMAC-SHA1 tags, our ciphers on both
        // ends); every other str0m peer in the tests negotiates AES-GCM.
        srtp_aes_cm: true,
    };
    let mut seen = 0;
    let outcome = run::run(target, &plan, video, audio, |_| seen += 1)
        .await
        .expect("run");
    server.shutdown().await;
    assert_eq!(seen, 2);
    assert_eq!(outcome.steps.len(), 2);
    let last = &outcome.steps[1];
    eprintln!("{last:#?}");
    assert_eq!(last.subscribers, 2);
    assert_eq!(last.rx.silent_subscribers, 0);
    // 30 fps for 2 s to two subscribers: each frame's last packet at least.
    assert!(last.rx.video_received >= 100, "{:?}", last.rx);
    assert!(last.rx.audio_received >= 150, "{:?}", last.rx);
    // Every frame's final packet carries the frame's last bytes, whatever the server's
    // packetization, so at least one delay sample per frame per subscriber.
    assert!(last.rx.matched >= 100, "{:?}", last.rx);
    assert!(last.rx.delay_p50_ms > 0.0 && last.rx.delay_p50_ms < 200.0);
    assert!(last.rx.expected >= last.rx.video_received + last.rx.audio_received - 2);
    assert!(last.loss_pct < 5.0, "loss {}", last.loss_pct);
    assert!(last.server_rss_kb > 0);
    assert!(last.server_cpu_pct > 0.0);
    assert!(last.us_per_pkt > 0.0);
    assert!(
        outcome
            .summary_line()
            .starts_with("SUMMARY server=ours last_good_subs=2 ")
    );
}
