//! How the client reaches the server's signaling port: `wss://` with a pinned certificate
//! (the teacher's self-signed one, fingerprint from the invite) or verified against the
//! usual roots, and `ws://` only to loopback unless the caller allows it.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::ClientError;

/// Anything the websocket can run over: plain TCP or TLS.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Where a signaling URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub secure: bool,
    pub host: String,
    pub port: u16,
}

impl Target {
    /// Reads `ws://host:port/...` or `wss://...`.
    pub fn parse(url: &str) -> Result<Target, ClientError> {
        let bad = |why: &str| ClientError::InvalidUrl(format!("{url:?}: {why}"));
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let secure = match scheme.to_ascii_lowercase().as_str() {
            "ws" => false,
            "wss" => true,
            _ => return Err(bad("the scheme must be ws or wss")),
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            (h.to_owned(), after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (authority.to_owned(), None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            Some(p) => p.parse().map_err(|_| bad("bad port"))?,
            None if secure => 443,
            None => 80,
        };
        Ok(Target { secure, host, port })
    }

    /// Whether the host is this computer.
    pub fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

/// Accepts exactly the leaf certificate whose SHA-256 is the pin, and still checks that
/// the handshake was signed with that certificate's key. The host name is not checked: a
/// LAN server is reached by IP address and its self-signed certificate names whatever it
/// likes; the pin is what identifies it.
#[derive(Debug)]
struct Pinned {
    pin: [u8; 32],
    /// The fingerprint of a certificate that did not match, for a clear error.
    seen: Arc<Mutex<Option<[u8; 32]>>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let print: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if print == self.pin {
            return Ok(ServerCertVerified::assertion());
        }
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(print);
        }
        Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::ApplicationVerificationFailure,
        ))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Opens the connection the websocket runs over, refusing cleartext beyond loopback unless
/// `allow_insecure`.
pub(crate) async fn open(
    target: &Target,
    pin: Option<[u8; 32]>,
    extra_roots: &[Vec<u8>],
    allow_insecure: bool,
) -> Result<Box<dyn Io>, ClientError> {
    if !target.secure && !target.is_loopback() && !allow_insecure {
        return Err(ClientError::Insecure {
            host: target.host.clone(),
        });
    }
    let tcp = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(ClientError::Connect)?;
    let _ = tcp.set_nodelay(true);
    if !target.secure {
        return Ok(Box::new(tcp));
    }
    let seen = Arc::new(Mutex::new(None));
    let config = client_config(pin, extra_roots, seen.clone())?;
    let name = ServerName::try_from(target.host.clone())
        .map_err(|e| ClientError::InvalidUrl(format!("host {:?}: {e}", target.host)))?;
    match TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
    {
        Ok(tls) => Ok(Box::new(tls)),
        Err(e) => {
            let mismatch = seen.lock().ok().and_then(|s| *s);
            Err(match (pin, mismatch) {
                (Some(expected), Some(actual)) => ClientError::PinMismatch { expected, actual },
                _ => ClientError::Tls(e.to_string()),
            })
        }
    }
}

/// The TLS settings for reaching a class server: its certificate pinned by fingerprint (a
/// school's self-signed one), or verified against the usual roots and `extra_roots`. A
/// pinned handshake that fails records the fingerprint it saw in `seen`. Shared by the
/// signaling connection and the lesson downloader.
pub(crate) fn client_config(
    pin: Option<[u8; 32]>,
    extra_roots: &[Vec<u8>],
    seen: Arc<Mutex<Option<[u8; 32]>>>,
) -> Result<rustls::ClientConfig, ClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?;
    Ok(match pin {
        Some(pin) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned {
                pin,
                seen,
                algorithms: provider_algorithms(&provider),
            }))
            .with_no_client_auth(),
        None => {
            let mut roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            for der in extra_roots {
                roots
                    .add(CertificateDer::from(der.clone()))
                    .map_err(|e| ClientError::Tls(format!("extra root certificate: {e}")))?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    })
}

fn provider_algorithms(provider: &CryptoProvider) -> WebPkiSupportedAlgorithms {
    provider.signature_verification_algorithms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_read_and_loopback_recognised() {
        let t = Target::parse("wss://192.168.1.10:8443/ws").expect("url");
        assert_eq!(
            t,
            Target {
                secure: true,
                host: "192.168.1.10".into(),
                port: 8443
            }
        );
        assert!(!t.is_loopback());
        assert!(Target::parse("ws://[::1]:80/ws").expect("v6").is_loopback());
        assert!(
            Target::parse("ws://localhost/ws")
                .expect("name")
                .is_loopback()
        );
        assert_eq!(
            Target::parse("wss://school.example").expect("default").port,
            443
        );
        assert!(Target::parse("http://x/ws").is_err());
        assert!(Target::parse("ws://:80/ws").is_err());
        assert!(Target::parse("ws://h:port/ws").is_err());
    }
}
