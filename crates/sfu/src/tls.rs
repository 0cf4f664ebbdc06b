//! TLS on the signaling port (rustls with the ring provider): a certificate the operator
//! provides (a school's standalone server), or a fresh self-signed one made at start (the
//! teacher's embedded server on a LAN, whose students pin its SHA-256 fingerprint from the
//! invite instead of trusting a certificate authority).

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio_rustls::TlsAcceptor;

/// Whether and how the signaling port speaks TLS.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Tls {
    /// Plain `ws://` and `http://` (a class on one computer).
    #[default]
    Off,
    /// A certificate chain (leaf first) and its private key, both PEM.
    Pem {
        /// The chain, PEM.
        cert_chain: Vec<u8>,
        /// The key (PKCS#8, PKCS#1 or SEC1), PEM.
        key: Vec<u8>,
    },
    /// A fresh ECDSA P-256 certificate made at start for these DNS names and IP addresses;
    /// clients pin its fingerprint ([`crate::ServerHandle::fingerprint`]).
    SelfSigned {
        /// Subject alternative names, e.g. `["localhost", "192.168.1.10"]`.
        names: Vec<String>,
    },
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tls::Off => f.write_str("Off"),
            Tls::Pem { .. } => f.write_str("Pem(<certificate and key>)"),
            Tls::SelfSigned { names } => {
                f.debug_struct("SelfSigned").field("names", names).finish()
            }
        }
    }
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate or key PEM could not be read.
    #[error("TLS {what}: {message}")]
    Pem {
        /// Certificate or key.
        what: &'static str,
        /// Why.
        message: String,
    },
    /// rustls refused the certificate and key (e.g. they do not match).
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    /// The self-signed certificate could not be made.
    #[error("self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// SHA-256 of a certificate's DER: the fingerprint clients pin.
pub fn fingerprint(cert_der: &[u8]) -> [u8; 32] {
    Sha256::digest(cert_der).into()
}

/// The chain and key for `tls`, or `None` when TLS is off.
fn chain_and_key(
    tls: &Tls,
) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, TlsError> {
    match tls {
        Tls::Off => Ok(None),
        Tls::Pem { cert_chain, key } => {
            let chain = CertificateDer::pem_slice_iter(cert_chain)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| TlsError::Pem {
                    what: "certificate",
                    message: e.to_string(),
                })?;
            if chain.is_empty() {
                return Err(TlsError::Pem {
                    what: "certificate",
                    message: "no CERTIFICATE block in the PEM".into(),
                });
            }
            let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| TlsError::Pem {
                what: "key",
                message: e.to_string(),
            })?;
            Ok(Some((chain, key)))
        }
        Tls::SelfSigned { names } => {
            let names = if names.is_empty() {
                vec!["localhost".to_owned()]
            } else {
                names.clone()
            };
            let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
            let mut params = rcgen::CertificateParams::new(names)?;
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, "classroom server");
            let cert = params.self_signed(&key)?;
            let key = PrivateKeyDer::try_from(key.serialize_der()).map_err(|e| TlsError::Pem {
                what: "key",
                message: e.to_string(),
            })?;
            Ok(Some((vec![cert.der().clone()], key)))
        }
    }
}

/// The acceptor and the leaf certificate's fingerprint, or `None` when TLS is off.
pub(crate) fn acceptor(tls: &Tls) -> Result<Option<(TlsAcceptor, [u8; 32])>, TlsError> {
    let Some((chain, key)) = chain_and_key(tls)? else {
        return Ok(None);
    };
    let print = chain
        .first()
        .map(|c| fingerprint(c.as_ref()))
        .unwrap_or_default();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some((TlsAcceptor::from(Arc::new(config)), print)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_certificates_are_fresh_and_fingerprinted() {
        let tls = Tls::SelfSigned {
            names: vec!["localhost".into(), "127.0.0.1".into()],
        };
        let (_, a) = acceptor(&tls).expect("tls").expect("on");
        let (_, b) = acceptor(&tls).expect("tls").expect("on");
        assert_ne!(a, b, "a new certificate each start");
        assert!(acceptor(&Tls::Off).expect("off").is_none());
    }

    #[test]
    fn bad_pem_is_a_clear_error() {
        let err = acceptor(&Tls::Pem {
            cert_chain: b"not pem".to_vec(),
            key: b"not pem".to_vec(),
        })
        .err()
        .expect("refused");
        assert!(err.to_string().contains("certificate"), "{err}");
        let made = rcgen::generate_simple_self_signed(vec!["x".into()]).expect("cert");
        let other = rcgen::generate_simple_self_signed(vec!["y".into()]).expect("cert");
        let err = acceptor(&Tls::Pem {
            cert_chain: made.cert.pem().into_bytes(),
            key: other.signing_key.serialize_pem().into_bytes(),
        })
        .err()
        .expect("mismatched key");
        assert!(matches!(err, TlsError::Config(_)), "{err}");
        let ok = acceptor(&Tls::Pem {
            cert_chain: made.cert.pem().into_bytes(),
            key: made.signing_key.serialize_pem().into_bytes(),
        })
        .expect("valid")
        .expect("on");
        assert_eq!(ok.1, fingerprint(made.cert.der()));
    }
}
