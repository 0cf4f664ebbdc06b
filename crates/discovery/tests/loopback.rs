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

/// Browsing on loopback and `port` only.
fn loopback_browser(port: u16) -> Browser {
    browse(BrowseOptions {
        scope: Scope::Loopback,
        mdns_port: port,
    })
    .expect("browse")
}

/// An mDNS daemon of mdns-sd's own on loopback and `port`, to announce what this app would not.
fn loopback_daemon(port: u16) -> mdns_sd::ServiceDaemon {
    let daemon = mdns_sd::ServiceDaemon::new_with_port(port).expect("daemon");
    daemon
        .disable_interface(mdns_sd::IfKind::All)
        .expect("disable");
    daemon
        .enable_interface(mdns_sd::IfKind::LoopbackV4)
        .expect("enable");
    daemon
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
    let browser = loopback_browser(port);
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
    let browser = loopback_browser(port);
    // Written with mdns-sd directly: a TXT record this app would never send.
    let daemon = loopback_daemon(port);
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

/// Datagrams to a browsing app's daemon on `port`, as a device on the network would send
/// them (unicast to the port: mdns-sd's socket there takes both).
fn send_raw(port: u16, packets: &[Vec<u8>]) {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("socket");
    for p in packets {
        socket
            .send_to(p, (Ipv4Addr::LOCALHOST, port))
            .expect("send on loopback");
    }
}

/// A DNS header: id, flags, then the four counts.
fn header(flags: u16, counts: [u16; 4]) -> Vec<u8> {
    let mut h = vec![0, 0];
    h.extend_from_slice(&flags.to_be_bytes());
    for c in counts {
        h.extend_from_slice(&c.to_be_bytes());
    }
    h
}

/// A DNS name from its labels.
fn name(labels: &[&str]) -> Vec<u8> {
    let mut n = Vec::new();
    for label in labels {
        n.push(label.len() as u8);
        n.extend_from_slice(label.as_bytes());
    }
    n.push(0);
    n
}

/// `_classroom._tcp.local.` as DNS labels.
fn service_name() -> Vec<u8> {
    name(&["_classroom", "_tcp", "local"])
}

/// A resource record of class IN, TTL 120 s.
fn record(owner: &[u8], ty: u16, rdata: &[u8]) -> Vec<u8> {
    let mut r = owner.to_vec();
    r.extend_from_slice(&ty.to_be_bytes());
    r.extend_from_slice(&[0, 1, 0, 0, 0, 120]);
    r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    r.extend_from_slice(rdata);
    r
}

/// A whole announcement written by hand (PTR, SRV, TXT and A records, no compression) of a
/// class called "Raw" at 127.0.0.1:4200: what proves datagrams sent this way reach the
/// daemon's parser.
fn raw_announcement() -> Vec<u8> {
    let instance = name(&["Raw", "_classroom", "_tcp", "local"]);
    let host = name(&["raw-host", "local"]);
    let mut p = header(0x8400, [0, 1, 0, 3]);
    p.extend(record(&service_name(), 12, &instance));
    let mut srv = vec![0, 0, 0, 0];
    srv.extend_from_slice(&4200u16.to_be_bytes());
    srv.extend_from_slice(&host);
    p.extend(record(&instance, 33, &srv));
    let mut txt = Vec::new();
    for kv in ["v=1", "title=Raw", "teacher=Hand", "tls=0"] {
        txt.push(kv.len() as u8);
        txt.extend_from_slice(kv.as_bytes());
    }
    p.extend(record(&instance, 16, &txt));
    p.extend(record(&host, 1, &[127, 0, 0, 1]));
    p
}

#[test]
fn damaged_and_hostile_packets_do_not_stop_browsing() {
    let port = mdns_port();
    let browser = loopback_browser(port);
    let mut packets: Vec<Vec<u8>> = vec![
        // Cut short inside the header, and empty.
        vec![],
        vec![0, 0, 0x84],
        // A question of an unknown type (found by fuzzing mdns-sd's own entry point).
        vec![
            0x58, 0xff, 0x2a, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x2b, 0xff, 0,
        ],
        // Counts far beyond the packet.
        header(0x8400, [0xffff, 0xffff, 0xffff, 0xffff]),
    ];
    // A name whose compression pointer points at itself, as a question and as an answer.
    let mut looped = header(0x8400, [1, 1, 0, 0]);
    looped.extend_from_slice(&[0xc0, 12, 0, 12, 0, 1]);
    looped.extend_from_slice(&[0xc0, 18, 0, 16, 0, 1, 0, 0, 0, 120, 0, 0]);
    packets.push(looped);
    // An answer for our service type whose PTR data runs past the packet, then one whose
    // TXT strings claim more bytes than there are.
    for (ty, rdata) in [
        (12u16, vec![0x3f, b'x']),
        (16, vec![0xff, b'v', b'=', b'1']),
    ] {
        let mut p = header(0x8400, [0, 1, 0, 0]);
        p.extend_from_slice(&service_name());
        p.extend_from_slice(&ty.to_be_bytes());
        p.extend_from_slice(&[0, 1, 0, 0, 0, 120]);
        p.extend_from_slice(&(rdata.len() as u16 + 40).to_be_bytes());
        p.extend_from_slice(&rdata);
        packets.push(p);
    }
    // And noise: deterministic bytes of every length up to 600.
    let mut x: u32 = 0x9e37_79b9;
    for len in (0..600).step_by(7) {
        let mut p = header(0x8400, [1, 2, 0, 1]);
        p.extend((0..len).map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        }));
        packets.push(p);
    }
    // The daemon still parses what comes the same way: a class announced by hand after
    // the noise. Sent again until it is listed, as a device re-announces: the daemon takes
    // datagrams only once its thread has enabled the interface, some time after `browse`.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !browser.classes().iter().any(|c| c.title == "Raw") {
        assert!(
            Instant::now() < deadline,
            "the hand-written class after the damaged packets: {:?}",
            browser.stats()
        );
        send_raw(port, &packets);
        send_raw(port, &[raw_announcement()]);
        std::thread::sleep(Duration::from_millis(200));
    }
    let listed = browser.classes();
    assert_eq!((listed.len(), listed[0].port), (1, 4200), "{listed:?}");
    // And it still resolves and lists a class announced as a teacher's app does.
    let announcement = announce(&AnnounceOptions {
        scope: Scope::Loopback,
        mdns_port: port,
        ..AnnounceOptions::new("After the noise", "Mr. Chen", 4100)
    })
    .expect("announce");
    wait_for(&browser, "a real class after the damaged packets", |l| {
        l.len() == 2 && l.iter().any(|c| c.id == announcement.instance())
    });
}

#[test]
fn a_flood_of_announcements_lists_at_most_the_limit() {
    let port = mdns_port();
    let browser = loopback_browser(port);
    // One device announcing more classes than a school has.
    let daemon = loopback_daemon(port);
    let extra = 16;
    let max = classroom_discovery::list::MAX_CLASSES;
    for i in 0..max + extra {
        let title = format!("Flood {i:03}");
        let info = mdns_sd::ServiceInfo::new(
            classroom_discovery::SERVICE_TYPE,
            &title,
            "flood-host.local.",
            "127.0.0.1",
            4000,
            &[
                ("v", "1"),
                ("title", title.as_str()),
                ("teacher", "nobody"),
                ("tls", "0"),
            ][..],
        )
        .expect("info");
        daemon.register(info).expect("register");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stats = browser.stats();
        if stats.rejected >= extra as u64 && browser.classes().len() == max {
            assert!(
                stats
                    .last_rejection
                    .as_deref()
                    .is_some_and(|r| r.contains("listed already")),
                "{stats:?}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} listed, {stats:?}",
            browser.classes().len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(browser.classes().len(), max);
    let _ = daemon.shutdown();
}
