//! The operations listener speaks real HTTP: `/metrics` in the OpenMetrics text format with
//! the server's counters, `/healthz`, and 404 for anything else.

use std::time::Duration;

use classroom_sfu::{ServerConfig, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .expect("write");
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut out))
        .await
        .expect("answer in time")
        .expect("read");
    out
}

#[tokio::test]
async fn metrics_are_served_in_openmetrics_text() {
    let h = start(ServerConfig {
        metrics: Some("127.0.0.1:0".parse().expect("addr")),
        ..ServerConfig::loopback()
    })
    .await
    .expect("server");
    let addr = h.metrics_addr().expect("metrics listener");

    // Some traffic to count: junk UDP is received and dropped.
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    for _ in 0..3 {
        udp.send_to(b"not webrtc", h.udp_addr())
            .await
            .expect("send");
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while h.metrics().snapshot().udp_dropped < 3 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let reply = get(addr, "/metrics").await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("application/openmetrics-text"), "{reply}");
    assert!(reply.contains("classroom_udp_dropped_total 3"), "{reply}");
    assert!(
        reply.contains("classroom_udp_packets_in_total 3"),
        "{reply}"
    );
    // Nothing was answered: no message handed to the kernel.
    assert!(
        reply.contains("classroom_udp_send_messages_total 0"),
        "{reply}"
    );
    assert!(
        reply.contains("# TYPE classroom_participants gauge"),
        "{reply}"
    );
    assert!(reply.contains("classroom_rooms 0"), "{reply}");
    if cfg!(target_os = "linux") {
        assert!(reply.contains("process_cpu_seconds_total"), "{reply}");
    }
    assert!(reply.trim_end().ends_with("# EOF"), "{reply}");

    assert!(get(addr, "/healthz").await.starts_with("HTTP/1.1 200"));
    assert!(get(addr, "/nope").await.starts_with("HTTP/1.1 404"));
    h.shutdown().await;
}
