//! What the school network can announce to a student's app that browses for classes: any
//! sequence of resolved announcements and goodbyes (instance names, ports, addresses, TXT
//! records as their wire bytes, decoded by mdns-sd as its daemon does) through the nearby
//! list (`classroom_discovery::NearbyList`). Never a panic; the list stays within its bounds
//! and lists only classes a student could join: a usable address, a port, a title and
//! teacher that are text, a fingerprint that is one.
//!
//! mdns-sd's packet parser itself is fuzzed upstream (its `unstable-fuzz-api`); that entry
//! point's own checks disagree with its parser in 0.21.7 (a question of an unknown type is
//! skipped, and the check wants every question the header counts), so it is not called here.
//! `crates/discovery/tests/loopback.rs` sends damaged packets to a real browsing daemon.
#![no_main]

use std::net::IpAddr;

use classroom_discovery::list::{MAX_ADDRESSES, MAX_CLASSES, MAX_NAME_BYTES};
use classroom_discovery::txt::{MAX_TEXT_BYTES, is_fingerprint};
use classroom_discovery::{Announced, NearbyList};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use mdns_sd::TxtProperties;

/// A TXT record a teacher's app sends, as wire bytes (each string its length, then it).
fn good_txt() -> Vec<u8> {
    let mut wire = Vec::new();
    for s in [
        "v=1",
        "title=Physics 7B",
        "teacher=Ms. Rivera",
        "tls=1",
        "fp=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU",
    ] {
        wire.push(s.len() as u8);
        wire.extend_from_slice(s.as_bytes());
    }
    wire
}

fn check(list: &NearbyList) {
    let classes = list.classes();
    assert!(classes.len() <= MAX_CLASSES, "{} classes listed", classes.len());
    for c in &classes {
        assert!(!c.id.is_empty() && c.id.len() <= MAX_NAME_BYTES);
        assert_ne!(c.port, 0);
        assert!(!c.addresses.is_empty() && c.addresses.len() <= MAX_ADDRESSES);
        assert!(c.addresses.windows(2).all(|w| (w[0].is_ipv6(), w[0]) < (w[1].is_ipv6(), w[1])));
        for ip in &c.addresses {
            assert!(!ip.is_unspecified() && !ip.is_multicast(), "{ip}");
            if let IpAddr::V6(v6) = ip {
                assert!(!v6.is_unicast_link_local(), "{ip}");
            }
        }
        for text in [&c.title, &c.teacher] {
            assert!(!text.trim().is_empty() && text.len() <= MAX_TEXT_BYTES);
            assert!(!text.chars().any(char::is_control));
        }
        assert!(c.fingerprint.as_deref().is_none_or(is_fingerprint));
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut list = NearbyList::new();
    let good = good_txt();
    while !u.is_empty() {
        let Ok(op) = u.arbitrary::<u8>() else { break };
        // Mostly a few dozen names past the list's limit, so updates, goodbyes and the
        // limit meet; sometimes a name of any bytes and length.
        let name = if op & 0x0f == 0 {
            u.arbitrary::<String>().unwrap_or_default()
        } else {
            format!("Class {}._classroom._tcp.local.", u.arbitrary::<u8>().unwrap_or(0) % 80)
        };
        if op & 0x80 != 0 {
            list.removed(&name);
            check(&list);
            continue;
        }
        let port: u16 = u.arbitrary().unwrap_or(0);
        let addresses: Vec<IpAddr> = u.arbitrary().unwrap_or_default();
        let wire: Vec<u8> = if op & 0x40 != 0 { good.clone() } else { u.arbitrary().unwrap_or_default() };
        let txt = TxtProperties::from(&wire[..]);
        let before = list.len();
        match list.resolved(&Announced { fullname: &name, port, addresses: &addresses, txt: &txt }) {
            Ok(_) => assert!(list.len() == before || list.len() == before + 1),
            Err((_, was_listed)) => assert_eq!(list.len(), before - usize::from(was_listed)),
        }
        check(&list);
    }
});
