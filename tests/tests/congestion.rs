//! The sending bitrate follows the loss the server reports: with a third of the camera's RTP
//! packets dropped on the way out, str0m's receiver reports say so, and the publisher's
//! loss-based controller lowers the encoder's target, live.

use std::time::{Duration, Instant};

use classroom_client::{JoinOptions, connect};
use classroom_media::{CodecChoice, PublishConfig, VideoEncoder};
use classroom_protocol::{Role, Source};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_bitrate_drops_when_the_server_reports_loss() {
    let server = classroom_tests::class_server().await;
    let token = server
        .mint_token("cc", "t", Role::Teacher, Duration::from_secs(600))
        .expect("token");
    let start = 800_000;
    let publish = PublishConfig {
        camera_mode: (320, 240, 30),
        camera_bitrate: start,
        video_codec: CodecChoice::Only(VideoEncoder::X264),
        drop_video_rtp: 0.3,
        ..classroom_tests::ball_camera(true)
    };
    let (teacher, _events) = connect(JoinOptions {
        publish: Some(publish),
        ..JoinOptions::new(&server.url(), &token, "cc", "Teacher", Role::Teacher)
    })
    .await
    .expect("teacher joins");

    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let stats = teacher.publish_stats();
        if let Some(cam) = stats.by_source(Source::Camera) {
            seen.push((cam.target_bitrate, cam.rtp.fraction_lost));
            if cam.target_bitrate < start * 3 / 4 {
                assert!(
                    cam.rtp.fraction_lost.is_some_and(|f| f > 0.1),
                    "bitrate fell without reported loss: {cam:?}"
                );
                // The audio track is not dropped and not controlled.
                let mic = stats.by_source(Source::Microphone).expect("mic stats");
                assert_eq!(mic.target_bitrate, 32_000, "{mic:?}");
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "camera target never fell under loss: {seen:?}"
        );
    }
    eprintln!("target bitrate / reported loss, every 0.5 s: {seen:?}");
    teacher.leave().await;
    server.shutdown().await;
}
