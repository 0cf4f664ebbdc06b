//! Out of file descriptors, the accept loop pauses (5 ms doubling to 1 s) instead of spinning
//! and flooding the log, and serves again once descriptors are free. Its own test binary:
//! it lowers this process's descriptor limit.

mod net;
use net::*;

use std::time::Duration;

use classroom_sfu::Limits;
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use tokio::net::TcpStream;

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64)
}

#[tokio::test]
async fn accept_errors_back_off_and_the_server_recovers() {
    let h = server(Limits::default()).await;
    let addr = h.signaling_addr();
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    setrlimit(Resource::RLIMIT_NOFILE, open_fds() + 30, hard).expect("setrlimit");
    // Clients take descriptors until none are left; the server's accepts then fail with
    // EMFILE while the kernel holds the rest of the connections in the backlog.
    let mut clients = Vec::new();
    for _ in 0..200 {
        match TcpStream::connect(addr).await {
            Ok(s) => clients.push(s),
            Err(_) => break,
        }
    }
    assert!(clients.len() < 200, "the descriptor limit was reached");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let at_start = h.metrics().snapshot().accept_errors;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let in_two_seconds = h.metrics().snapshot().accept_errors - at_start;
    eprintln!(
        "{} clients; {at_start} accept errors before, {in_two_seconds} in 2 s of EMFILE",
        clients.len()
    );
    assert!(at_start >= 1, "accepts failed");
    // Paused 5, 10, 20 ... 1000 ms: a handful per second, not a busy loop.
    assert!(
        in_two_seconds <= 10,
        "{in_two_seconds} accept errors in 2 s"
    );
    drop(clients);
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).expect("restore");
    let mut ok = false;
    for _ in 0..40 {
        if request(addr, "GET", "/healthz", &[], "").await.0 == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "the server serves again");
    h.shutdown().await;
}
