//! Arbitrary datagrams into the server's DTLS (`classroom_sfu::core::dtls`: OpenSSL with a
//! shared context, released after the handshake), as a server waiting for a ClientHello and
//! as a client that sent one, then again after the quiet period: handled or refused with an
//! error, never a panic, and never more output than a buffer holds.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use str0m::config::DtlsCert;
use str0m::crypto::dtls::{DtlsOutput, DtlsVersion};

fn cert() -> &'static DtlsCert {
    static CERT: OnceLock<DtlsCert> = OnceLock::new();
    CERT.get_or_init(|| {
        classroom_sfu::core::dtls::server_dtls()
            .generate_certificate()
            .expect("certificate")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&role, mut rest)) = data.split_first() else {
        return;
    };
    let provider = classroom_sfu::core::dtls::server_dtls();
    let now = Instant::now();
    let Ok(mut dtls) = provider.new_dtls(cert(), now, DtlsVersion::Dtls12, Some(1150)) else {
        return;
    };
    let active = role & 1 == 1;
    dtls.set_active(active);
    let _ = dtls.handle_timeout(now);
    if active {
        let _ = dtls.handle_packet(&[]);
    }
    let mut buf = vec![0u8; 2048];
    let mut drain = |dtls: &mut Box<dyn str0m::crypto::dtls::DtlsInstance>| {
        for _ in 0..1000 {
            match dtls.poll_output(&mut buf) {
                DtlsOutput::Timeout(_) | DtlsOutput::BufferTooSmall { .. } => break,
                DtlsOutput::Packet(p) => assert!(p.len() <= 2048),
                _ => {}
            }
        }
    };
    drain(&mut dtls);
    // Datagrams: a two-byte little-endian length, then that many bytes.
    let mut t = now;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let (datagram, tail) = rest[2..].split_at(len);
        rest = tail;
        let _ = dtls.handle_packet(datagram);
        drain(&mut dtls);
        t += Duration::from_millis(300);
        let _ = dtls.handle_timeout(t);
        drain(&mut dtls);
    }
    // Past any quiet period, then one more datagram and a close.
    let _ = dtls.handle_timeout(t + Duration::from_secs(30));
    drain(&mut dtls);
    let _ = dtls.handle_packet(&[22, 254, 253, 0, 0]);
    drain(&mut dtls);
    let _ = dtls.close();
    drain(&mut dtls);
});
