//! Building the server's peer connections: one DTLS certificate, RTP mode, stats, and the
//! server's UDP addresses for this peer as host candidates.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use classroom_protocol::ErrorCode;
use str0m::config::CryptoProvider;
use str0m::rtp::{Extension, ExtensionMap};
use str0m::{Candidate, Rtc};
use tracing::warn;

use super::dtls::PeerKeyed;
use super::{CoreConfig, EGRESS_TWCC_BWE, INITIAL_ESTIMATE_BPS, Refusal};

/// DTLS and SRTP set-up shared by every peer connection. One certificate for the server:
/// generating a key pair per connection cost milliseconds of the core's one thread for each
/// joiner, which a class joining at once turned into seconds of stalled forwarding. (The
/// fingerprint in each SDP still pins it; a client learns nothing from seeing it twice.)
pub(super) struct Crypto {
    pub(super) provider: Arc<CryptoProvider>,
    pub(super) cert: Option<str0m::crypto::dtls::DtlsCert>,
}

impl Crypto {
    pub(super) fn new() -> Self {
        let provider = Arc::new(super::dtls::server_provider());
        let cert = provider.dtls_provider.generate_certificate();
        if cert.is_none() {
            warn!("could not pre-generate a DTLS certificate; each connection makes its own");
        }
        Crypto { provider, cert }
    }
}

/// Which way a peer connection carries media.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Leg {
    /// A client's media to the server (it offers, or WHIP).
    Publish,
    /// The server's media to a client (the server offers, or WHEP).
    Subscribe,
}

/// The header extensions a subscribe connection offers or accepts: str0m's standard set
/// without transport-wide sequence numbers unless the egress estimator is on. Without the
/// estimator nothing reads the subscriber's TWCC feedback, yet with the extension every
/// copy of every packet was numbered and registered, and every subscriber sent feedback
/// several times a second for the server to parse and file (a few per cent of the server's
/// CPU at 50 students). Layer choice reads receiver reports instead.
fn subscribe_extensions() -> ExtensionMap {
    let mut exts = ExtensionMap::empty();
    for (id, ext) in ExtensionMap::standard().iter() {
        if EGRESS_TWCC_BWE || *ext != Extension::TransportSequenceNumber {
            exts.set(id, ext.clone());
        }
    }
    exts
}

/// A peer connection that advertises `candidates` (the server's addresses for this peer;
/// `config.udp_addr` when empty) as its host candidates.
///
/// RTP mode: packets are forwarded as they are, never reassembled into frames. Stats every
/// second feed the NACK and loss counters. A publish connection keeps TWCC, so the
/// publisher's own estimator hears how its media arrives; a subscribe connection has it
/// only with the egress estimator (`EGRESS_TWCC_BWE`, see [`subscribe_extensions`]).
///
/// Returned with the flag its DTLS reads: set once the peer is heard under the keys, it
/// lets the DTLS state go at once (`dtls::PeerKeyed`).
pub(super) fn new_rtc(
    config: &CoreConfig,
    crypto: &Crypto,
    candidates: &[SocketAddr],
    now: Instant,
    leg: Leg,
) -> Result<(Rtc, PeerKeyed), Refusal> {
    let mut builder = Rtc::builder()
        .set_crypto_provider(crypto.provider.clone())
        .set_rtp_mode(true)
        .set_stats_interval(Some(Duration::from_secs(1)));
    if let Some(cert) = &crypto.cert {
        builder = builder.set_dtls_cert(cert.clone());
    }
    if leg == Leg::Subscribe {
        builder = builder.set_extension_map(subscribe_extensions());
        if EGRESS_TWCC_BWE {
            builder =
                builder.enable_bwe(Some(str0m::bwe::Bitrate::bps(INITIAL_ESTIMATE_BPS as u64)));
        }
    }
    let keyed = PeerKeyed::default();
    let mut rtc = super::dtls::building(&keyed, || builder.build(now));
    let fallback = [config.udp_addr];
    let addrs = if candidates.is_empty() {
        &fallback[..]
    } else {
        candidates
    };
    for addr in addrs {
        let candidate = Candidate::host(*addr, "udp")
            .map_err(|e| (ErrorCode::Internal, format!("host candidate: {e}")))?;
        rtc.add_local_candidate(candidate);
    }
    Ok((rtc, keyed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use str0m::rtp::{ExtensionSerializer, ExtensionValues};

    #[derive(Debug)]
    struct Custom;

    impl ExtensionSerializer for Custom {
        fn write_to(&self, buf: &mut [u8], _ev: &ExtensionValues) -> usize {
            buf[0] = 7;
            1
        }
        fn parse_value(&self, _buf: &[u8], _ev: &mut ExtensionValues) -> bool {
            true
        }
        fn is_video(&self) -> bool {
            true
        }
        fn is_audio(&self) -> bool {
            false
        }
    }

    /// str0m is patched (vendor/str0m/CLASSROOM.md) to answer a map's lookups from one byte
    /// an id: every change to the map must keep that byte and the entry in step.
    #[test]
    fn the_extension_map_answers_from_its_one_byte_codes_as_from_its_entries() {
        let mut m = ExtensionMap::empty();
        assert_eq!(m.id_of(Extension::AbsoluteSendTime), None);
        assert_eq!(m.iter().count(), 0);
        m.set(3, Extension::AbsoluteSendTime);
        m.set(7, Extension::RtpMid);
        m.set(16, Extension::ColorSpace);
        m.set(17, Extension::VideoTiming); // out of range: not kept
        m.set(0, Extension::VideoTiming);
        m.set(9, Extension::with_serializer("urn:example:custom", Custom));
        assert_eq!(m.id_of(Extension::AbsoluteSendTime), Some(3));
        assert_eq!(m.id_of(Extension::RtpMid), Some(7));
        assert_eq!(m.id_of(Extension::ColorSpace), Some(16));
        assert_eq!(m.id_of(Extension::VideoTiming), None);
        assert_eq!(m.id_of(Extension::TransportSequenceNumber), None);
        let custom = Extension::with_serializer("urn:example:custom", Custom);
        assert_eq!(m.id_of(custom.clone()), Some(9));
        let other = Extension::with_serializer("urn:example:other", Custom);
        assert_eq!(m.id_of(other), None);
        assert_eq!(m.lookup(9), Some(&custom));
        assert_eq!(m.lookup(16), Some(&Extension::ColorSpace));
        assert_eq!(m.lookup(4), None);
        assert_eq!(m.lookup(0), None);
        assert_eq!(m.lookup(200), None);

        // An id given another extension: the old one is gone from it.
        m.set(3, Extension::AudioLevel);
        assert_eq!(m.id_of(Extension::AbsoluteSendTime), None);
        assert_eq!(m.id_of(Extension::AudioLevel), Some(3));
        m.set(9, Extension::VideoOrientation);
        assert_eq!(m.id_of(custom), None);
        let all: Vec<(u8, Extension)> = m.iter().map(|(i, e)| (i, e.clone())).collect();
        assert_eq!(
            all,
            vec![
                (3, Extension::AudioLevel),
                (7, Extension::RtpMid),
                (9, Extension::VideoOrientation),
                (16, Extension::ColorSpace),
            ]
        );
        assert_eq!(
            format!("{m:?}"),
            "Extensions(3=ssrc-audio-level, 7=mid, 9=video-orientation, 16=color-space)"
        );

        // Maps built the same way are equal; the subscriber's set leaves out only TWCC.
        let mut again = ExtensionMap::empty();
        for (id, e) in &all {
            again.set(*id, e.clone());
        }
        assert_eq!(again, m);
        let sub = subscribe_extensions();
        let standard = ExtensionMap::standard();
        for (id, e) in standard.iter() {
            let kept = EGRESS_TWCC_BWE || *e != Extension::TransportSequenceNumber;
            assert_eq!(sub.id_of(e.clone()), kept.then_some(id), "{e}");
            assert_eq!(sub.lookup(id), kept.then_some(e));
        }
    }
}
