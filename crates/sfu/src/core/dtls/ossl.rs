//! DTLS 1.2 over OpenSSL, with one `SslContext` per certificate for every connection.
//!
//! str0m's OpenSSL provider (up to str0m 0.24) built a context for each connection: the
//! certificate and the private key decoded from DER again (OpenSSL 3's decoder framework:
//! ~1,000 allocations a key), the cipher list and SRTP profiles parsed again, ~14 KB kept per connection. Building
//! a peer connection took ~0.6 ms of the core's thread, most of it there, so a class of a
//! thousand joining at once held forwarding up for over a second. Here the context is made
//! once for the server's one certificate and shared; each connection gets only its `SSL`
//! (building a peer connection: 593 -> 12.7 µs, release build, 500 in a row). Sessions are
//! not cached or resumed (a WebRTC handshake never resumes), so the shared context holds
//! nothing per connection. The `SSL` itself keeps its two record buffers (16.7 KB each) and
//! the handshake buffer DTLS holds for retransmitting its last flight (22 KB) for as long as
//! it lives, whatever the mode (`SSL_MODE_RELEASE_BUFFERS` measured no different for DTLS):
//! [`super::Releasing`] drops it once the handshake has settled.
//!
//! The handshake is driven by whatever arrives and by str0m's timer: while it lasts the
//! instance asks for a timer every [`HANDSHAKE_TICK`] and runs the handshake on it, which is
//! when OpenSSL retransmits a flight whose (real-clock) retransmission timer ran out, so a
//! lost first flight is sent again without waiting for the peer.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use openssl::error::ErrorStack;
use openssl::pkey::PKey;
use openssl::srtp::SrtpProfileId;
use openssl::ssl::{
    ErrorCode, HandshakeError, MidHandshakeSslStream, Ssl, SslContext, SslContextBuilder,
    SslMethod, SslOptions, SslSessionCacheMode, SslStream, SslVerifyMode,
};
use openssl::x509::X509;
use str0m::config::DtlsCert;
use str0m::crypto::CryptoError;
use str0m::crypto::dtls::{
    DtlsImplError, DtlsInstance, DtlsOutput, DtlsProvider, DtlsVersion, KeyingMaterial,
    ProtocolVersion, SrtpProfile,
};
use tracing::debug;

use crate::crypto::openssl_error;

/// How often a handshake in progress is run again (OpenSSL's first retransmission comes
/// after 1 s).
pub(crate) const HANDSHAKE_TICK: Duration = Duration::from_millis(250);

/// How far ahead an instance with nothing to time says its next timer is.
const NO_TIMER: Duration = Duration::from_secs(3600);

/// The label RFC 5764 exports the SRTP keys under.
const SRTP_KEY_LABEL: &str = "EXTRACTOR-dtls_srtp";

/// ECDHE only (forward secrecy), AEAD first; ECDSA and RSA certificates alike (browsers and
/// str0m use ECDSA, GStreamer's DTLS elements RSA).
const CIPHERS: &str = "ECDHE+AESGCM:ECDHE+CHACHA20:ECDHE+AES256:ECDHE+AES128";

/// The SRTP profiles, by preference: a peer that offers GCM gets GCM.
const SRTP_PROFILES: &str = "SRTP_AEAD_AES_256_GCM:SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80";

/// The one profile GStreamer 1.22's DTLS offers (the app's own clients).
pub(crate) const SRTP_AES_CM_ONLY: &str = "SRTP_AES128_CM_SHA1_80";

/// Largest application data record read at once (a DTLS record's largest plaintext).
const READ_CHUNK: usize = 16 * 1024;

/// Datagrams waiting for OpenSSL at most; more are dropped (OpenSSL reads every queued one
/// each time it runs, so only a stalled handshake could leave this many).
const INCOMING_MAX: usize = 64;

/// DTLS instances over OpenSSL sharing one context per certificate. Certificates are made by
/// [`crate::crypto::generate_certificate`].
pub(crate) struct SharedContextDtls {
    /// The SRTP profiles offered or accepted, by preference (OpenSSL's list syntax).
    profiles: &'static str,
    /// The latest certificate's DER and the context made for it (a server has one).
    context: Mutex<Option<(Vec<u8>, SslContext)>>,
    #[cfg(test)]
    made: std::sync::atomic::AtomicUsize,
}

impl SharedContextDtls {
    pub(crate) fn new() -> Self {
        Self::offering(SRTP_PROFILES)
    }

    /// Instances that offer (as a client) or accept (as a server) only `profiles`.
    pub(crate) fn offering(profiles: &'static str) -> Self {
        SharedContextDtls {
            profiles,
            context: Mutex::new(None),
            #[cfg(test)]
            made: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Contexts made so far.
    #[cfg(test)]
    pub(crate) fn contexts_made(&self) -> usize {
        self.made.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn context_for(&self, cert: &DtlsCert) -> Result<SslContext, ErrorStack> {
        let mut cached = self.context.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((der, ctx)) = cached.as_ref()
            && *der == cert.certificate
        {
            return Ok(ctx.clone());
        }
        let ctx = build_context(cert, self.profiles)?;
        #[cfg(test)]
        self.made.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *cached = Some((cert.certificate.clone(), ctx.clone()));
        Ok(ctx)
    }
}

impl fmt::Debug for SharedContextDtls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedContextDtls").finish_non_exhaustive()
    }
}

fn build_context(cert: &DtlsCert, profiles: &str) -> Result<SslContext, ErrorStack> {
    let mut b = SslContextBuilder::new(SslMethod::dtls())?;
    b.set_cipher_list(CIPHERS)?;
    b.set_tlsext_use_srtp(profiles)?;
    // Self-signed certificates on both sides: str0m compares the peer's with the SDP's
    // fingerprint once the handshake is done, so any certificate is accepted here, but one
    // must be presented.
    b.set_verify_callback(
        SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
        |_, _| true,
    );
    let x509 = X509::from_der(&cert.certificate)?;
    let key = PKey::private_key_from_der(&cert.private_key)?;
    b.set_certificate(&x509)?;
    b.set_private_key(&key)?;
    b.check_private_key()?;
    b.set_options(
        SslOptions::NO_DTLSV1
            | SslOptions::SINGLE_ECDH_USE
            | SslOptions::NO_QUERY_MTU
            | SslOptions::NO_TICKET,
    );
    b.set_session_cache_mode(SslSessionCacheMode::OFF);
    Ok(b.build())
}

impl DtlsProvider for SharedContextDtls {
    fn generate_certificate(&self) -> Option<DtlsCert> {
        crate::crypto::generate_certificate()
            .inspect_err(|e| tracing::warn!("no DTLS certificate: {e}"))
            .ok()
    }

    fn new_dtls(
        &self,
        cert: &DtlsCert,
        now: Instant,
        dtls_version: DtlsVersion,
        mtu: Option<usize>,
    ) -> Result<Box<dyn DtlsInstance>, CryptoError> {
        if dtls_version != DtlsVersion::Dtls12 {
            return Err(CryptoError::Other(format!(
                "only DTLS 1.2 is offered, not {dtls_version}"
            )));
        }
        let ctx = self.context_for(cert).map_err(openssl_error)?;
        let mut ssl = Ssl::new(&ctx).map_err(openssl_error)?;
        if let Some(mtu) = mtu {
            let mtu = u32::try_from(mtu).unwrap_or(u32::MAX);
            ssl.set_mtu(mtu).map_err(openssl_error)?;
        }
        Ok(Box::new(OpenSslDtls::new(ssl, now)))
    }
}

fn failed(op: dimpl::CryptoOperation) -> DtlsImplError {
    DtlsImplError::CryptoError(dimpl::CryptoError::OperationFailed(op))
}

/// The datagrams between OpenSSL and str0m: OpenSSL reads one whole datagram at a time and
/// writes one per call.
#[derive(Debug, Default)]
struct Datagrams {
    incoming: VecDeque<Vec<u8>>,
    outgoing: VecDeque<Vec<u8>>,
}

impl io::Read for Datagrams {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(datagram) = self.incoming.pop_front() else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        // OpenSSL reads into a buffer of a whole record's size; a datagram longer than that
        // is cut, and fails its record's integrity check.
        let n = datagram.len().min(buf.len());
        buf[..n].copy_from_slice(&datagram[..n]);
        Ok(n)
    }
}

impl io::Write for Datagrams {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outgoing.push_back(buf.to_vec());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Copies `data` to the front of `buf` and says how long it is; `None` when it does not fit.
fn copy_into(buf: &mut [u8], data: &[u8]) -> Option<usize> {
    let room = buf.get_mut(..data.len())?;
    room.copy_from_slice(data);
    Some(data.len())
}

enum Stage {
    /// Made, not started (the role is not known yet, or a server has heard nothing).
    Fresh(Ssl, Datagrams),
    Shaking(MidHandshakeSslStream<Datagrams>),
    Up(SslStream<Datagrams>),
    Failed,
}

impl Stage {
    fn datagrams(&self) -> Option<&Datagrams> {
        match self {
            Stage::Fresh(_, d) => Some(d),
            Stage::Shaking(mid) => Some(mid.get_ref()),
            Stage::Up(stream) => Some(stream.get_ref()),
            Stage::Failed => None,
        }
    }

    fn datagrams_mut(&mut self) -> Option<&mut Datagrams> {
        match self {
            Stage::Fresh(_, d) => Some(d),
            Stage::Shaking(mid) => Some(mid.get_mut()),
            Stage::Up(stream) => Some(stream.get_mut()),
            Stage::Failed => None,
        }
    }
}

/// One connection's DTLS over OpenSSL.
pub(crate) struct OpenSslDtls {
    stage: Stage,
    active: Option<bool>,
    now: Instant,
    /// Reported once each, in this order, when the handshake completes.
    peer_cert: Option<Vec<u8>>,
    keys: Option<(Vec<u8>, SrtpProfile)>,
    connected_pending: bool,
    app_in: VecDeque<Vec<u8>>,
    /// Application data given before the handshake completed.
    app_out: VecDeque<Vec<u8>>,
    close_sent: bool,
    close_received: bool,
    close_reported: bool,
    /// OpenSSL may have written datagrams not yet taken: false once a poll found none,
    /// until OpenSSL runs again. str0m polls every connection's DTLS each time it polls the
    /// connection (for every packet forwarded), and looking inside the stream for its queue
    /// goes through OpenSSL's BIO (`SSL_get_rbio`, `BIO_get_data`): ~2.5 % of the core's
    /// time per copy until the state is released.
    maybe_output: bool,
}

impl fmt::Debug for OpenSslDtls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenSslDtls")
            .field("active", &self.active)
            .field("up", &matches!(self.stage, Stage::Up(_)))
            .finish_non_exhaustive()
    }
}

impl OpenSslDtls {
    fn new(ssl: Ssl, now: Instant) -> Self {
        OpenSslDtls {
            stage: Stage::Fresh(ssl, Datagrams::default()),
            active: None,
            now,
            peer_cert: None,
            keys: None,
            connected_pending: false,
            app_in: VecDeque::new(),
            app_out: VecDeque::new(),
            close_sent: false,
            close_received: false,
            close_reported: false,
            maybe_output: true,
        }
    }

    /// Runs the handshake as far as it goes, then reads what arrived.
    fn advance(&mut self) -> Result<(), DtlsImplError> {
        let result = match std::mem::replace(&mut self.stage, Stage::Failed) {
            Stage::Fresh(ssl, datagrams) => match self.active {
                Some(true) => Some(ssl.connect(datagrams)),
                Some(false) if !datagrams.incoming.is_empty() => Some(ssl.accept(datagrams)),
                _ => {
                    self.stage = Stage::Fresh(ssl, datagrams);
                    None
                }
            },
            Stage::Shaking(mid) => Some(mid.handshake()),
            up @ Stage::Up(_) => {
                self.stage = up;
                None
            }
            Stage::Failed => return Err(failed(dimpl::CryptoOperation::Decrypt)),
        };
        match result {
            None => {}
            Some(Ok(stream)) => self.established(stream)?,
            Some(Err(HandshakeError::WouldBlock(mid))) => self.stage = Stage::Shaking(mid),
            Some(Err(HandshakeError::Failure(mid))) => {
                debug!("DTLS handshake failed: {}", mid.error());
                return Err(failed(dimpl::CryptoOperation::VerifySignature));
            }
            Some(Err(HandshakeError::SetupFailure(e))) => {
                debug!("DTLS set-up failed: {e}");
                return Err(failed(dimpl::CryptoOperation::CreateCipher));
            }
        }
        self.read()
    }

    fn established(&mut self, stream: SslStream<Datagrams>) -> Result<(), DtlsImplError> {
        let ssl = stream.ssl();
        let cert = ssl
            .peer_certificate()
            .and_then(|c| c.to_der().ok())
            .ok_or_else(|| failed(dimpl::CryptoOperation::VerifySignature))?;
        let profile = match ssl.selected_srtp_profile().map(|p| p.id()) {
            Some(SrtpProfileId::SRTP_AEAD_AES_256_GCM) => SrtpProfile::AEAD_AES_256_GCM,
            Some(SrtpProfileId::SRTP_AEAD_AES_128_GCM) => SrtpProfile::AEAD_AES_128_GCM,
            Some(SrtpProfileId::SRTP_AES128_CM_SHA1_80) => SrtpProfile::AES128_CM_SHA1_80,
            other => {
                debug!("DTLS: no usable SRTP profile negotiated ({other:?})");
                return Err(failed(dimpl::CryptoOperation::CreateCipher));
            }
        };
        let mut keys = vec![0u8; profile.keying_material_len()];
        ssl.export_keying_material(&mut keys, SRTP_KEY_LABEL, None)
            .map_err(|_| failed(dimpl::CryptoOperation::CreateCipher))?;
        debug!(version = ssl.version_str(), %profile, "DTLS established");
        self.peer_cert = Some(cert);
        self.keys = Some((keys, profile));
        self.connected_pending = true;
        self.stage = Stage::Up(stream);
        while let Some(data) = self.app_out.pop_front() {
            self.write(&data)?;
        }
        Ok(())
    }

    /// Reads application data and alerts once the connection is up.
    fn read(&mut self) -> Result<(), DtlsImplError> {
        let Stage::Up(stream) = &mut self.stage else {
            return Ok(());
        };
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            match stream.ssl_read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => self.app_in.push_back(buf[..n].to_vec()),
                Err(e) if e.code() == ErrorCode::ZERO_RETURN => {
                    if !self.close_received {
                        self.close_received = true;
                        if !self.close_sent {
                            // Answer the peer's close_notify with ours.
                            let _ = stream.shutdown();
                            self.close_sent = true;
                        }
                    }
                    return Ok(());
                }
                Err(e) if e.code() == ErrorCode::WANT_READ => return Ok(()),
                Err(e) => {
                    debug!("DTLS read failed: {e}");
                    return Err(failed(dimpl::CryptoOperation::Decrypt));
                }
            }
        }
    }

    /// Sends `data` as one record, or keeps it whole until the handshake is done; either
    /// way all of it is taken (str0m's contract: all or nothing).
    fn write(&mut self, data: &[u8]) -> Result<usize, DtlsImplError> {
        let Stage::Up(stream) = &mut self.stage else {
            self.app_out.push_back(data.to_vec());
            return Ok(data.len());
        };
        stream
            .ssl_write(data)
            .map_err(|_| failed(dimpl::CryptoOperation::Encrypt))
    }
}

impl DtlsInstance for OpenSslDtls {
    fn set_active(&mut self, active: bool) {
        self.active = Some(active);
    }

    fn handle_packet(&mut self, packet: &[u8]) -> Result<(), DtlsImplError> {
        self.maybe_output = true;
        // str0m hands an empty packet to start a client's handshake.
        if !packet.is_empty()
            && let Some(datagrams) = self.stage.datagrams_mut()
        {
            if datagrams.incoming.len() >= INCOMING_MAX {
                debug!("DTLS: {INCOMING_MAX} datagrams waiting already, one dropped");
            } else {
                datagrams.incoming.push_back(packet.to_vec());
            }
        }
        self.advance()
    }

    fn poll_output<'a>(&mut self, buf: &'a mut [u8]) -> DtlsOutput<'a> {
        if self.maybe_output {
            if let Some(datagrams) = self.stage.datagrams_mut()
                && let Some(datagram) = datagrams.outgoing.front()
            {
                let Some(n) = copy_into(buf, datagram) else {
                    return DtlsOutput::BufferTooSmall {
                        needed: datagram.len(),
                    };
                };
                datagrams.outgoing.pop_front();
                return DtlsOutput::Packet(&buf[..n]);
            }
            self.maybe_output = false;
        }
        if let Some(cert) = &self.peer_cert {
            let Some(n) = copy_into(buf, cert) else {
                return DtlsOutput::BufferTooSmall { needed: cert.len() };
            };
            self.peer_cert = None;
            return DtlsOutput::PeerCert(&buf[..n]);
        }
        if let Some((keys, profile)) = &self.keys {
            let profile = *profile;
            let Some(n) = copy_into(buf, keys) else {
                return DtlsOutput::BufferTooSmall { needed: keys.len() };
            };
            self.keys = None;
            return DtlsOutput::KeyingMaterial(KeyingMaterial::new(&buf[..n]), profile);
        }
        if std::mem::take(&mut self.connected_pending) {
            return DtlsOutput::Connected;
        }
        if let Some(data) = self.app_in.front() {
            let Some(n) = copy_into(buf, data) else {
                return DtlsOutput::BufferTooSmall { needed: data.len() };
            };
            self.app_in.pop_front();
            return DtlsOutput::ApplicationData(&buf[..n]);
        }
        if self.close_received && !self.close_reported {
            self.close_reported = true;
            return DtlsOutput::CloseNotify;
        }
        let shaking = matches!(self.stage, Stage::Shaking(_))
            || (matches!(self.stage, Stage::Fresh(..)) && self.active == Some(true));
        DtlsOutput::Timeout(self.now + if shaking { HANDSHAKE_TICK } else { NO_TIMER })
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsImplError> {
        self.now = self.now.max(now);
        if matches!(self.stage, Stage::Shaking(_)) {
            self.maybe_output = true;
            self.advance()?;
        }
        Ok(())
    }

    fn send_application_data(&mut self, data: &[u8]) -> Result<usize, DtlsImplError> {
        self.maybe_output = true;
        if self.close_sent || self.close_received {
            return Err(DtlsImplError::ConnectionClosed);
        }
        self.write(data)
    }

    fn is_active(&self) -> bool {
        self.active.unwrap_or(false)
    }

    fn protocol_version(&self) -> Option<ProtocolVersion> {
        matches!(self.stage, Stage::Up(_)).then_some(ProtocolVersion::DTLS1_2)
    }

    fn is_closing(&self) -> bool {
        self.close_sent || self.close_received
    }

    fn is_closed(&self) -> bool {
        let drained = self.stage.datagrams().is_none_or(|d| d.outgoing.is_empty());
        self.close_sent && drained
    }

    fn close(&mut self) -> Result<(), DtlsImplError> {
        self.maybe_output = true;
        if let Stage::Up(stream) = &mut self.stage
            && !self.close_sent
        {
            let _ = stream.shutdown();
        }
        self.close_sent = true;
        Ok(())
    }
}
