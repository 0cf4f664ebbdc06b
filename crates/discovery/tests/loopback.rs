//! Announce and browse over loopback on a private mDNS port: nothing leaves this computer.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use classroom_discovery::{
    AnnounceOptions, BrowseOptions, Browser, NearbyClass, Scope, announce, browse, reach,
};

/// A port of its own per test binary run, so parallel runs do not hear each other.
fn mdns_port() -> u16 {
    let listener = std::net::UdpSocket::bind("127.0.0.1:0").expect("free port");
    listener.local_addr().expect("addr").port()
}

fn wait_for(browser: &Browser, what: &str, done: impl Fn(&[NearbyClass]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = browser.classes();
        if done(&list) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {list:?} {:?}",
            browser.stats()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn a_class_appears_with_its_details_and_goes_when_it_ends() {
    let port = mdns_port();
    let browser = browse(BrowseOptions {
        scope: Scope::Loopback,
        mdns_port: port,
    })
    .expect("browse");
    assert!(browser.classes().is_empty());
    let mut changes = browser.subscribe();

    // A signaling port that really listens, to reach.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let signaling = listener.local_addr().expect("addr").port();
    let fingerprint = "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU".to_owned();
    let announcement = announce(&AnnounceOptions {
        tls: true,
        fingerprint: Some(fingerprint.clone()),
        scope: Scope::Loopback,
        mdns_port: port,
        ..AnnounceOptions::new("Physics 7B · 物理", "Ms. Rivera", signaling)
    })
    .expect("announce");
    tokio::time::timeout(Duration::from_secs(10), changes.changed())
        .await
        .expect("a change within 10 s")
        .expect("browser alive");
    wait_for(&browser, "the class appears", |l| l.len() == 1);
    let class = browser.classes().remove(0);
    assert_eq!(class.id, announcement.instance());
    assert_eq!(class.title, "Physics 7B · 物理");
    assert_eq!(class.teacher, "Ms. Rivera");
    assert_eq!(class.port, signaling);
    assert!(class.tls);
    assert_eq!(class.fingerprint, Some(fingerprint));
    assert!(class.compatible());
    assert_eq!(class.addresses, vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]);
    assert_eq!(
        class.url(class.addresses[0]),
        format!("wss://127.0.0.1:{signaling}/ws")
    );
    assert_eq!(browser.find(&class.id), Some(class.clone()));

    let reached = reach(&class, Duration::from_secs(1)).await.expect("reach");
    assert_eq!(reached.port(), signaling);
    // Nothing listening: the class was found but cannot be reached, with the port named.
    drop(listener);
    let err = reach(&class, Duration::from_secs(1))
        .await
        .expect_err("closed");
    assert!(
        err.to_string().contains(&format!("port {signaling}")),
        "{err}"
    );
    assert!(matches!(
        err,
        classroom_discovery::DiscoveryError::Unreachable { port, .. } if port == signaling
    ));

    drop(announcement);
    wait_for(&browser, "the class goes when it ends", |l| l.is_empty());
    assert_eq!(browser.stats().removed, 1);
    assert_eq!(browser.stats().rejected, 0);
}

#[test]
fn a_malformed_announcement_is_counted_not_listed() {
    let port = mdns_port();
    let browser = browse(BrowseOptions {
        scope: Scope::Loopback,
        mdns_port: port,
    })
    .expect("browse");
    // Written with mdns-sd directly: a TXT record this app would never send.
    let daemon = mdns_sd::ServiceDaemon::new_with_port(port).expect("daemon");
    daemon
        .disable_interface(mdns_sd::IfKind::All)
        .expect("disable");
    daemon
        .enable_interface(mdns_sd::IfKind::LoopbackV4)
        .expect("enable");
    let info = mdns_sd::ServiceInfo::new(
        classroom_discovery::SERVICE_TYPE,
        "bogus",
        "bogus-host.local.",
        "127.0.0.1",
        4000,
        &[
            ("v", "1"),
            ("title", "x"),
            ("teacher", "y"),
            ("tls", "maybe"),
        ][..],
    )
    .expect("info");
    daemon.register(info).expect("register");
    let deadline = Instant::now() + Duration::from_secs(10);
    while browser.stats().rejected == 0 {
        assert!(Instant::now() < deadline, "not seen: {:?}", browser.stats());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(browser.classes().is_empty());
    let stats = browser.stats();
    assert!(
        stats
            .last_rejection
            .as_deref()
            .is_some_and(|r| r.contains("tls")),
        "{stats:?}"
    );
    let _ = daemon.shutdown();
}
