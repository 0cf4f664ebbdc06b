//! DTLS that lets go of its state once the handshake is settled.
//!
//! A peer connection uses DTLS once: the handshake yields the SRTP keys, which str0m keeps in
//! its own SRTP contexts, and from then on media never touches DTLS again (the server opens no
//! data channels). Yet each connection kept OpenSSL's whole DTLS state for its lifetime: the
//! `SSL` with its read and write record buffers, the handshake buffer DTLS keeps for
//! retransmitting its last flight, and a context with the certificate and key parsed again per
//! connection. `heaptrack` of a 200-student class put that at ~88 KB of the ~245 KB each
//! student cost the server (the largest share after the retransmission caches).
//!
//! [`Releasing`] wraps the configured provider's instance and drops it once nothing can need
//! it any more:
//! - the handshake completed here (`Connected`) and the keys were handed to str0m;
//! - no application data has gone either way, and no data channel was negotiated (its SCTP
//!   runs over DTLS for good; the core marks such a connection [`PeerKeyed::keep`], since a
//!   peer's SCTP INIT may come after its first SRTP packet);
//! - close has not started;
//! - and the peer is known to have completed its handshake too. Whoever sends the
//!   handshake's final flight does not hear whether it arrived; if it was lost, the other
//!   side retransmits its own flight (after 1 s, then 2, 4, 8 s) and must get an answer from
//!   this state. Known in one of two ways:
//!   - **the peer was heard under the keys** ([`PeerKeyed`], set by the core): media or
//!     RTCP from the peer that SRTP authenticated (a publisher's first RTP packet, a
//!     subscriber's first receiver report or keyframe request). A peer sends SRTP only once
//!     its own handshake is done (WebRTC stacks open SRTP when DTLS reports connected, which
//!     needs the final flight), so nothing it can still send needs DTLS; released at once,
//!     typically a second or two after the connection, not ten;
//!   - or, for a peer that sends neither, it has sent no DTLS datagram for [`QUIET`]: ten
//!     quiet seconds after the last one means either the peer completed or every one of its
//!     retries in that time was lost too, in which case the link carries no media either.
//!
//! A forged datagram cannot set the first (it must pass SRTP's authentication), and a class
//! of a thousand students joining at once holds the state for a second or two each instead
//! of ten (88 KB each).
//!
//! After the release, DTLS datagrams from the peer are ignored and counted: what a settled
//! peer can still send is an alert (`close_notify` when it closes), and without the record
//! keys an alert cannot be told from a forgery, so it does not close the connection; the
//! peer's leaving is noticed by ICE or its signaling instead. A local `close` is reported
//! done at once (no `close_notify` goes out). Application data after the release is refused
//! as on a closed connection.
//!
//! Counted process-wide (the provider is a static for str0m): [`released`] and
//! [`ignored_after_release`].
//!
//! Underneath, the DTLS itself is [`ossl::SharedContextDtls`]: OpenSSL with one context for
//! the server's certificate instead of one per connection.

mod ossl;

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use str0m::config::{CryptoProvider, DtlsCert};
use str0m::crypto::CryptoError;
use str0m::crypto::dtls::{
    DtlsImplError, DtlsInstance, DtlsOutput, DtlsProvider, DtlsVersion, ProtocolVersion,
};

/// How long the peer must have sent no DTLS datagram, after the handshake, before the state
/// is dropped (unless [`set_quiet`] said otherwise).
pub const QUIET: Duration = Duration::from_secs(10);

/// The quiet period in use, in milliseconds.
static QUIET_MS: AtomicU64 = AtomicU64::new(QUIET.as_millis() as u64);

/// Sets the quiet period for connections made from now on, in this process: for tests that
/// check, with real clients and in seconds, that a class carries on after the release.
pub fn set_quiet(quiet: Duration) {
    QUIET_MS.store(
        u64::try_from(quiet.as_millis()).unwrap_or(u64::MAX),
        Relaxed,
    );
}

/// How far ahead a released instance says its next timer is (it has none).
const NO_TIMER: Duration = Duration::from_secs(3600);

static RELEASED: AtomicU64 = AtomicU64::new(0);
static IGNORED_AFTER_RELEASE: AtomicU64 = AtomicU64::new(0);

/// DTLS instances whose state was dropped after their handshake, in this process.
pub fn released() -> u64 {
    RELEASED.load(Relaxed)
}

/// DTLS datagrams that arrived after their connection's state was dropped, in this process.
pub fn ignored_after_release() -> u64 {
    IGNORED_AFTER_RELEASE.load(Relaxed)
}

pub(crate) use ossl::{SRTP_AES_CM_ONLY, SharedContextDtls};

/// That a peer connection's peer has been heard under the handshake's keys (SRTP or SRTCP
/// that authenticated), which proves that it completed its handshake: the core sets it
/// ([`PeerKeyed::heard`]), the connection's DTLS reads it. Made for a connection with
/// [`building`] around the `Rtc`'s construction. A connection whose negotiation carries a
/// data channel is marked [`PeerKeyed::keep`] instead: the peer's SCTP INIT may come after
/// its first SRTP packet, and it needs the DTLS state for good.
#[derive(Debug, Clone, Default)]
pub(crate) struct PeerKeyed(Arc<AtomicU8>);

const UNHEARD: u8 = 0;
const HEARD: u8 = 1;
const KEEP: u8 = 2;

impl PeerKeyed {
    /// The peer was heard under the keys (unless the connection is kept).
    pub(crate) fn heard(&self) {
        if self.0.load(Relaxed) == UNHEARD {
            // Never over `KEEP`, which a negotiation may have set meanwhile.
            let _ = self.0.compare_exchange(UNHEARD, HEARD, Relaxed, Relaxed);
        }
    }

    /// The connection carries a data channel: hearing the peer releases nothing.
    pub(crate) fn keep(&self) {
        self.0.store(KEEP, Relaxed);
    }

    pub(crate) fn is_heard(&self) -> bool {
        self.0.load(Relaxed) == HEARD
    }
}

thread_local! {
    /// The [`PeerKeyed`] for the DTLS instance that the peer connection being built on this
    /// thread makes (str0m makes it inside `RtcConfig::build`, through the provider).
    static BUILDING: Cell<Option<PeerKeyed>> = const { Cell::new(None) };
}

/// Runs `build`, which makes one peer connection, so that its DTLS instance reads `keyed`;
/// what `build` returned. Instances made outside it (the fuzz target's, str0m peers') are
/// released by the quiet period only. The slot is emptied however `build` ends (str0m
/// panics when its DTLS cannot be made), so a later instance never picks up this flag.
pub(crate) fn building<T>(keyed: &PeerKeyed, build: impl FnOnce() -> T) -> T {
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            BUILDING.set(None);
        }
    }
    let _clear = Clear;
    BUILDING.set(Some(keyed.clone()));
    build()
}

/// The server's crypto: [`crate::crypto::provider`]'s, its DTLS (OpenSSL with a shared
/// context) wrapped in [`ReleasingProvider`]. The server's contexts are its own, not the
/// client provider's: a context is kept for the latest certificate only, and str0m peers in
/// the same process (tests, the fan-out bench) each bring a certificate of their own.
pub(crate) fn server_provider() -> CryptoProvider {
    static SHARED: OnceLock<SharedContextDtls> = OnceLock::new();
    static PROVIDER: OnceLock<ReleasingProvider> = OnceLock::new();
    let base = crate::crypto::provider();
    let wrapped = PROVIDER.get_or_init(|| ReleasingProvider {
        inner: SHARED.get_or_init(SharedContextDtls::new),
    });
    CryptoProvider {
        dtls_provider: wrapped,
        ..base
    }
}

/// The server's DTLS as str0m is given it (shared-context OpenSSL instances that let go of
/// their state), for feeding outside input to it directly (the `dtls_datagrams` fuzz
/// target).
pub fn server_dtls() -> &'static dyn DtlsProvider {
    server_provider().dtls_provider
}

/// A DTLS provider whose instances let go of their state (see the module docs).
pub(crate) struct ReleasingProvider {
    inner: &'static dyn DtlsProvider,
}

impl fmt::Debug for ReleasingProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReleasingProvider")
            .field("inner", &self.inner)
            .finish()
    }
}

impl DtlsProvider for ReleasingProvider {
    fn generate_certificate(&self) -> Option<DtlsCert> {
        self.inner.generate_certificate()
    }

    fn new_dtls(
        &self,
        cert: &DtlsCert,
        now: Instant,
        dtls_version: DtlsVersion,
        mtu: Option<usize>,
    ) -> Result<Box<dyn DtlsInstance>, CryptoError> {
        let inner = self.inner.new_dtls(cert, now, dtls_version, mtu)?;
        Ok(Box::new(Releasing::new(inner, now, BUILDING.take())))
    }

    fn is_test(&self) -> bool {
        self.inner.is_test()
    }
}

/// One connection's DTLS: the provider's instance until it is released.
#[derive(Debug)]
pub(crate) struct Releasing {
    inner: Option<Box<dyn DtlsInstance>>,
    /// The time of the latest `handle_timeout` (str0m's clock for this connection).
    now: Instant,
    active: Option<bool>,
    version: Option<ProtocolVersion>,
    connected: bool,
    keyed: bool,
    /// Application data went one way or the other: DTLS is needed for good.
    app_data: bool,
    closing: bool,
    /// A datagram arrived since the last `handle_timeout`.
    input_pending: bool,
    /// When the quiet period runs out (set once connected and keyed; moved by input).
    release_at: Option<Instant>,
    quiet: Duration,
    /// Set by the core once the peer is heard under the keys: released without the wait.
    peer_keyed: Option<PeerKeyed>,
}

impl Releasing {
    fn new(inner: Box<dyn DtlsInstance>, now: Instant, peer_keyed: Option<PeerKeyed>) -> Self {
        Releasing {
            inner: Some(inner),
            now,
            active: None,
            version: None,
            connected: false,
            keyed: false,
            app_data: false,
            closing: false,
            input_pending: false,
            release_at: None,
            quiet: Duration::from_millis(QUIET_MS.load(Relaxed)),
            peer_keyed,
        }
    }

    /// Whether the provider's state is gone.
    #[cfg(test)]
    pub(crate) fn is_released(&self) -> bool {
        self.inner.is_none()
    }

    fn eligible(&self) -> bool {
        self.connected && self.keyed && !self.app_data && !self.closing
    }

    /// The next timer: the instance's own, or the end of the quiet period if sooner.
    fn timer(&mut self, inner_at: Instant) -> Instant {
        if !self.eligible() {
            return inner_at;
        }
        let at = match self.release_at {
            Some(at) => at,
            None => {
                // The datagrams so far were the handshake's: the quiet period starts now
                // (at the latest timer str0m gave this instance, at most a retransmission
                // timer before the handshake's end).
                self.input_pending = false;
                *self.release_at.insert(self.now + self.quiet)
            }
        };
        let heard = self.peer_keyed.as_ref().is_some_and(PeerKeyed::is_heard);
        if heard || self.now >= at {
            // Everything the instance had to say was said (this is its final `Timeout`).
            self.inner = None;
            RELEASED.fetch_add(1, Relaxed);
            return self.now + NO_TIMER;
        }
        at.min(inner_at)
    }
}

impl DtlsInstance for Releasing {
    fn set_active(&mut self, active: bool) {
        self.active = Some(active);
        if let Some(inner) = &mut self.inner {
            inner.set_active(active);
        }
    }

    fn handle_packet(&mut self, packet: &[u8]) -> Result<(), DtlsImplError> {
        match &mut self.inner {
            Some(inner) => {
                // str0m hands an empty "packet" to start a client's handshake: not input.
                if !packet.is_empty() {
                    self.input_pending = true;
                }
                inner.handle_packet(packet)
            }
            None => {
                IGNORED_AFTER_RELEASE.fetch_add(1, Relaxed);
                Ok(())
            }
        }
    }

    fn poll_output<'a>(&mut self, buf: &'a mut [u8]) -> DtlsOutput<'a> {
        let Some(inner) = &mut self.inner else {
            return DtlsOutput::Timeout(self.now + NO_TIMER);
        };
        match inner.poll_output(buf) {
            DtlsOutput::Timeout(at) => DtlsOutput::Timeout(self.timer(at)),
            DtlsOutput::Connected => {
                self.connected = true;
                self.version = inner.protocol_version();
                DtlsOutput::Connected
            }
            DtlsOutput::KeyingMaterial(km, profile) => {
                self.keyed = true;
                DtlsOutput::KeyingMaterial(km, profile)
            }
            DtlsOutput::ApplicationData(data) => {
                self.app_data = true;
                DtlsOutput::ApplicationData(data)
            }
            DtlsOutput::CloseNotify => {
                self.closing = true;
                DtlsOutput::CloseNotify
            }
            other => other,
        }
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsImplError> {
        self.now = self.now.max(now);
        if std::mem::take(&mut self.input_pending) && self.release_at.is_some() {
            self.release_at = Some(self.now + self.quiet);
        }
        match &mut self.inner {
            Some(inner) => inner.handle_timeout(now),
            None => Ok(()),
        }
    }

    fn send_application_data(&mut self, data: &[u8]) -> Result<usize, DtlsImplError> {
        self.app_data = true;
        match &mut self.inner {
            Some(inner) => inner.send_application_data(data),
            None => Err(DtlsImplError::ConnectionClosed),
        }
    }

    fn is_active(&self) -> bool {
        match &self.inner {
            Some(inner) => inner.is_active(),
            None => self.active.unwrap_or(false),
        }
    }

    fn protocol_version(&self) -> Option<ProtocolVersion> {
        match &self.inner {
            Some(inner) => inner.protocol_version(),
            None => self.version,
        }
    }

    fn is_closing(&self) -> bool {
        match &self.inner {
            Some(inner) => inner.is_closing(),
            None => false,
        }
    }

    fn is_closed(&self) -> bool {
        match &self.inner {
            Some(inner) => inner.is_closed(),
            None => self.closing,
        }
    }

    fn close(&mut self) -> Result<(), DtlsImplError> {
        self.closing = true;
        match &mut self.inner {
            Some(inner) => inner.close(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Two real DTLS instances of the configured provider (OpenSSL), each wrapped, shaking
    //! hands in memory with a clock the tests move.

    use super::*;

    struct Side {
        dtls: Releasing,
        /// What the core would set when it hears the peer under the keys.
        peer_keyed: PeerKeyed,
        connected: bool,
        keyed: bool,
        app_data: Vec<Vec<u8>>,
        timer: Option<Instant>,
    }

    impl Side {
        /// The server's DTLS (a shared OpenSSL context) with a certificate of its own, as
        /// the client (`active`) or the server. (Other implementations are shaken hands
        /// with in `classroom-tests`: GStreamer's DTLS and Chromium's BoringSSL.)
        fn new(active: bool, now: Instant) -> Side {
            let cert = crate::crypto::generate_certificate().expect("certificate");
            let provider = ossl::SharedContextDtls::new();
            // What `ReleasingProvider::new_dtls` makes, kept as itself to look inside.
            let inner = provider
                .new_dtls(&cert, now, DtlsVersion::Dtls12, Some(1150))
                .expect("dtls");
            let peer_keyed = PeerKeyed::default();
            let mut dtls = Releasing::new(inner, now, Some(peer_keyed.clone()));
            dtls.set_active(active);
            dtls.handle_timeout(now).expect("init");
            if active {
                dtls.handle_packet(&[]).expect("client hello");
            }
            Side {
                dtls,
                peer_keyed,
                connected: false,
                keyed: false,
                app_data: Vec::new(),
                timer: None,
            }
        }

        /// Everything it has to say; the datagrams to send.
        fn drain(&mut self) -> Vec<Vec<u8>> {
            let mut out = Vec::new();
            let mut buf = vec![0u8; 2048];
            loop {
                match self.dtls.poll_output(&mut buf) {
                    DtlsOutput::Packet(p) => out.push(p.to_vec()),
                    DtlsOutput::Connected => self.connected = true,
                    DtlsOutput::KeyingMaterial(..) => self.keyed = true,
                    DtlsOutput::ApplicationData(d) => self.app_data.push(d.to_vec()),
                    DtlsOutput::Timeout(at) => {
                        self.timer = Some(at);
                        return out;
                    }
                    _ => {}
                }
            }
        }

        /// Runs its timer if due at `now`; the datagrams that came of it.
        fn tick(&mut self, now: Instant) -> Vec<Vec<u8>> {
            if self.timer.is_some_and(|t| t <= now) {
                self.dtls.handle_timeout(now).expect("timeout");
            }
            self.drain()
        }
    }

    /// Client and server shake hands at `now`; with `lose_final_flight` the server's last
    /// flight (its ChangeCipherSpec and Finished) never reaches the client.
    fn shake(now: Instant, lose_final_flight: bool) -> (Side, Side) {
        shake_with(
            Side::new(true, now),
            Side::new(false, now),
            lose_final_flight,
        )
    }

    fn shake_with(mut client: Side, mut server: Side, lose_final_flight: bool) -> (Side, Side) {
        let mut to_server = client.drain();
        for _ in 0..10 {
            for p in to_server.drain(..) {
                server.dtls.handle_packet(&p).expect("server input");
            }
            let to_client = server.drain();
            if !(lose_final_flight && server.connected) {
                for p in &to_client {
                    client.dtls.handle_packet(p).expect("client input");
                }
            }
            to_server = client.drain();
            if server.connected && to_server.is_empty() {
                break;
            }
        }
        assert!(server.connected && server.keyed);
        assert_eq!(client.connected, !lose_final_flight);
        (client, server)
    }

    fn handshake(now: Instant) -> (Side, Side) {
        shake(now, false)
    }

    #[test]
    fn two_instances_with_their_own_certificates_agree_on_keys_and_version() {
        let now = Instant::now();
        let (client, server) = shake_with(Side::new(true, now), Side::new(false, now), false);
        assert!(client.keyed && server.keyed);
        for side in [&client, &server] {
            assert_eq!(side.dtls.protocol_version(), Some(ProtocolVersion::DTLS1_2));
        }
    }

    #[test]
    fn a_lost_first_flight_is_sent_again_on_the_timer() {
        let t0 = Instant::now();
        let mut client = Side::new(true, t0);
        assert!(!client.drain().is_empty(), "the ClientHello");
        assert_eq!(client.timer, Some(t0 + ossl::HANDSHAKE_TICK));
        // It never arrives, and the server says nothing. Once OpenSSL's retransmission
        // timer (1 s, on the real clock) has run out, the next tick sends it again.
        std::thread::sleep(Duration::from_millis(1100));
        let again = client.tick(t0 + ossl::HANDSHAKE_TICK);
        assert!(!again.is_empty(), "sent again without waiting for the peer");
        let mut server = Side::new(false, t0);
        for p in &again {
            server.dtls.handle_packet(p).expect("ClientHello");
        }
        assert!(
            !server.drain().is_empty(),
            "the server answers the retransmission"
        );
    }

    #[test]
    fn the_shared_context_is_made_once_for_a_certificate() {
        let shared = ossl::SharedContextDtls::new();
        let cert = shared.generate_certificate().expect("certificate");
        let now = Instant::now();
        for _ in 0..3 {
            shared
                .new_dtls(&cert, now, DtlsVersion::Dtls12, None)
                .expect("dtls");
        }
        assert_eq!(shared.contexts_made(), 1);
        let other = shared.generate_certificate().expect("certificate");
        shared
            .new_dtls(&other, now, DtlsVersion::Dtls12, None)
            .expect("dtls");
        assert_eq!(shared.contexts_made(), 2, "a new certificate gets its own");
        assert!(
            shared
                .new_dtls(&cert, now, DtlsVersion::Dtls13, None)
                .is_err(),
            "DTLS 1.3 is not offered"
        );
    }

    #[test]
    fn a_settled_handshake_lets_go_after_the_quiet_period() {
        let t0 = Instant::now();
        let (mut client, mut server) = handshake(t0);
        let version = server.dtls.protocol_version();
        assert!(version.is_some());
        // str0m gets a timer at the end of the quiet period, not an hour away.
        assert_eq!(server.timer, Some(t0 + QUIET));
        client.tick(t0 + QUIET - Duration::from_millis(1));
        server.tick(t0 + QUIET - Duration::from_millis(1));
        assert!(!client.dtls.is_released() && !server.dtls.is_released());

        let before = released();
        assert!(client.tick(t0 + QUIET).is_empty());
        assert!(server.tick(t0 + QUIET).is_empty());
        assert!(client.dtls.is_released() && server.dtls.is_released());
        assert_eq!(released() - before, 2);
        // What str0m may still ask is answered from what was kept.
        assert_eq!(server.dtls.protocol_version(), version);
        assert!(client.dtls.is_active() && !server.dtls.is_active());
        assert!(server.timer.is_some_and(|t| t >= t0 + QUIET + NO_TIMER));

        // A datagram now is ignored and counted; application data is refused.
        let ignored = ignored_after_release();
        server
            .dtls
            .handle_packet(&[23, 254, 253, 0, 1])
            .expect("ignored");
        assert_eq!(ignored_after_release() - ignored, 1);
        assert!(server.drain().is_empty());
        assert!(server.dtls.send_application_data(b"late").is_err());

        // Closing is done at once (no close_notify can be sent without the state).
        assert!(!server.dtls.is_closed());
        server.dtls.close().expect("close");
        assert!(server.dtls.is_closed() && !server.dtls.is_closing());
    }

    #[test]
    fn a_peer_heard_under_the_keys_lets_the_state_go_at_once() {
        let t0 = Instant::now();
        let (mut client, mut server) = handshake(t0);
        let soon = t0 + Duration::from_millis(300);
        client.tick(soon);
        server.tick(soon);
        assert!(!server.dtls.is_released(), "not before the peer is heard");
        let before = released();
        // The core heard the client's SRTP: the server's next poll lets go, 9.7 s early.
        server.peer_keyed.heard();
        assert!(server.drain().is_empty());
        assert!(server.dtls.is_released());
        assert!(
            !client.dtls.is_released(),
            "the other side waits for its own proof"
        );
        assert!(released() - before >= 1);
        assert!(
            server.timer.is_some_and(|t| t >= t0 + NO_TIMER),
            "no timer after"
        );
    }

    #[test]
    fn the_proof_does_not_release_a_connection_that_needs_dtls() {
        let t0 = Instant::now();
        let (mut client, mut server) = handshake(t0);
        // A data channel: DTLS carries the application data for good.
        client.dtls.send_application_data(b"sctp").expect("send");
        for p in client.drain() {
            server.dtls.handle_packet(&p).expect("input");
        }
        server.peer_keyed.heard();
        server.drain();
        assert!(!server.dtls.is_released());
        // Nor one whose handshake has not completed here (the keys are not out yet).
        let t1 = Instant::now();
        let mut lone = Side::new(false, t1);
        lone.peer_keyed.heard();
        lone.drain();
        assert!(!lone.dtls.is_released());
    }

    #[test]
    fn the_connection_being_built_gets_the_proof_and_the_next_one_does_not() {
        let now = Instant::now();
        let provider = ReleasingProvider {
            inner: Box::leak(Box::new(ossl::SharedContextDtls::new())),
        };
        let cert = crate::crypto::generate_certificate().expect("certificate");
        let keyed = PeerKeyed::default();
        let built = building(&keyed, || {
            let made = provider.new_dtls(&cert, now, DtlsVersion::Dtls12, None);
            // Taken by the instance, not left for the next one.
            let left = BUILDING.take();
            (made, left.is_none())
        });
        assert!(built.0.is_ok());
        assert!(built.1, "the instance took the flag");
        // Only the instance made inside `building` shares the flag: one handle, two owners.
        assert_eq!(Arc::strong_count(&keyed.0), 2);
        let later = provider.new_dtls(&cert, now, DtlsVersion::Dtls12, None);
        assert!(later.is_ok());
        assert_eq!(Arc::strong_count(&keyed.0), 2);

        // A build that fails (str0m panics when its DTLS cannot be made) leaves nothing.
        let other = PeerKeyed::default();
        let caught = std::panic::catch_unwind(|| building(&other, || panic!("no DTLS")));
        assert!(caught.is_err());
        let after = BUILDING.take();
        assert!(after.is_none(), "the slot is empty after a panic");
    }

    #[test]
    fn a_connection_kept_for_a_data_channel_is_not_released_by_hearing_the_peer() {
        let t0 = Instant::now();
        let (_client, mut server) = handshake(t0);
        server.peer_keyed.keep();
        server.peer_keyed.heard();
        assert!(!server.peer_keyed.is_heard());
        server.drain();
        assert!(!server.dtls.is_released());
        // The order does not matter: kept after heard is kept too (if not yet released).
        let late = PeerKeyed::default();
        late.heard();
        late.keep();
        assert!(!late.is_heard());
    }

    #[test]
    fn a_retransmitted_flight_is_answered_and_postpones_the_release() {
        let t0 = Instant::now();
        let (mut client, mut server) = shake(t0, true);
        // The client did not hear the server's final flight and sends its own again once
        // OpenSSL's retransmission timer (1 s, on the real clock) has run out and the
        // handshake is driven; the server, still holding its state, answers it.
        std::thread::sleep(Duration::from_millis(1100));
        client.dtls.handle_packet(&[]).expect("drive the handshake");
        let again = client.drain();
        assert!(!again.is_empty(), "the client retransmits");
        for p in &again {
            server.dtls.handle_packet(p).expect("retransmission");
        }
        let answer = server.drain();
        assert!(
            !answer.is_empty(),
            "the server answers with its final flight again"
        );
        for p in &answer {
            client.dtls.handle_packet(p).expect("final flight");
        }
        // (str0m-openssl reports a pending timer before the handshake's outcome.)
        client.drain();
        client.drain();
        assert!(
            client.connected && client.keyed,
            "the handshake completes late"
        );
        // The quiet period starts again after that datagram (at the server's next timer).
        assert!(server.tick(t0 + QUIET).is_empty());
        assert!(!server.dtls.is_released(), "not at the first deadline");
        assert_eq!(server.timer, Some(t0 + QUIET + QUIET));
        server.tick(t0 + QUIET + QUIET);
        assert!(
            server.dtls.is_released(),
            "{QUIET:?} after the first deadline"
        );
    }

    #[test]
    fn a_connection_that_carried_application_data_keeps_its_state() {
        let t0 = Instant::now();
        let (mut client, mut server) = handshake(t0);
        client.dtls.send_application_data(b"sctp").expect("send");
        for p in client.drain() {
            server.dtls.handle_packet(&p).expect("input");
        }
        server.drain();
        assert_eq!(server.app_data, vec![b"sctp".to_vec()]);
        let later = t0 + QUIET * 3;
        client.tick(later);
        server.tick(later);
        assert!(!client.dtls.is_released(), "the sender keeps it");
        assert!(!server.dtls.is_released(), "the receiver keeps it");
    }

    #[test]
    fn a_closing_connection_keeps_its_state_to_send_close_notify() {
        let t0 = Instant::now();
        let (mut client, mut server) = handshake(t0);
        client.dtls.close().expect("close");
        let alert = client.drain();
        assert!(!alert.is_empty(), "close_notify goes out");
        for p in &alert {
            server.dtls.handle_packet(p).expect("alert");
        }
        server.drain();
        let later = t0 + QUIET * 3;
        client.tick(later);
        server.tick(later);
        assert!(!client.dtls.is_released() && !server.dtls.is_released());
    }
}
