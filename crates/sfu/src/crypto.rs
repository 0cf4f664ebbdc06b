//! The cryptography str0m is given, over OpenSSL: SRTP's ciphers, the hashes of STUN and of
//! certificate fingerprints, self-signed certificates, and DTLS (the shared-context OpenSSL
//! DTLS of `core/dtls/ossl.rs`).
//!
//! str0m 0.25 takes its crypto as a [`CryptoProvider`] of trait objects. Its OpenSSL backend
//! (`str0m-openssl` 0.7) is not published on the registry these machines build from, and its
//! other backend (aws-lc-rs) would be a third crypto library in the server next to OpenSSL
//! (DTLS, here and in GStreamer) and ring (rustls). So the server, the load generator and the
//! tests' str0m peers all take [`provider`]: the few primitives SRTP needs, each one
//! OpenSSL or ring call sequence, checked against the RFCs' and NIST's test vectors below.
//!
//! Per packet SRTP uses a key made once (the key schedule is not redone): AES-GCM (RFC 7714,
//! the profile browsers pick) over ring's `LessSafeKey`, or AES-CTR with an HMAC-SHA1 tag
//! (RFC 3711, which str0m computes with [`Sha1HmacProvider`]) over an OpenSSL cipher context
//! given a new IV per packet. GCM is ring's because it is every forwarded copy's cipher and
//! ring's call costs half of OpenSSL 3's (1,150-byte packets on this machine: ~190 against
//! ~370 ns a seal): OpenSSL 3 sets a GCM IV through its provider parameters (name lookups
//! and `ctrl` calls) on every packet, ring runs the same stitched AES-NI/CLMUL code
//! directly. ring offers no bare AES-CTR, so AES-CM stays on OpenSSL.

use std::fmt;
use std::sync::OnceLock;

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::cipher::{Cipher, CipherRef};
use openssl::cipher_ctx::CipherCtx;
use openssl::ec::{EcGroup, EcKey};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::x509::extension::{BasicConstraints, ExtendedKeyUsage, KeyUsage};
use openssl::x509::{X509Builder, X509NameBuilder};
use ring::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, Tag, UnboundKey};
use str0m::config::{CryptoProvider, DtlsCert};
use str0m::crypto::CryptoError;
use str0m::crypto::{
    AeadAes128GcmCipher, AeadAes256GcmCipher, Aes128CmSha1_80Cipher, Sha1HmacProvider,
    Sha1Provider, Sha256Provider, SrtpProvider, SupportedAeadAes128Gcm, SupportedAeadAes256Gcm,
    SupportedAes128CmSha1_80,
};

use crate::core::dtls::{SRTP_AES_CM_ONLY, SharedContextDtls};

/// The crypto for a str0m peer connection: SRTP and hashes over OpenSSL, DTLS over OpenSSL
/// with one context per certificate. The server wraps its DTLS further (it lets go of the
/// state after the handshake: `core/dtls.rs`); peers that are clients (the load generator,
/// tests) take this as it is. It is also installed as the process's default, which a str0m
/// peer connection built without one takes (str0m is built without a backend of its own, so
/// it would otherwise panic).
pub fn provider() -> CryptoProvider {
    static DTLS: OnceLock<SharedContextDtls> = OnceLock::new();
    let p = with_dtls(DTLS.get_or_init(SharedContextDtls::new));
    if CryptoProvider::get_default().is_none() {
        p.clone().install_process_default();
    }
    p
}

/// [`provider`] for a client that offers only AES128_CM_SHA1_80, as GStreamer 1.22's
/// webrtcbin (the app's own students and teacher) does: the load generator's
/// `--srtp-aes-cm` measures the server with such peers (AES-CTR and an HMAC-SHA1 tag per
/// packet instead of AES-GCM).
pub fn aes_cm_client_provider() -> CryptoProvider {
    static DTLS: OnceLock<SharedContextDtls> = OnceLock::new();
    with_dtls(DTLS.get_or_init(|| SharedContextDtls::offering(SRTP_AES_CM_ONLY)))
}

fn with_dtls(dtls: &'static SharedContextDtls) -> CryptoProvider {
    CryptoProvider {
        srtp_provider: &Srtp,
        sha1_hmac_provider: &Hashes,
        sha1_provider: &Hashes,
        sha256_provider: &Hashes,
        dtls_provider: dtls,
    }
}

/// A self-signed ECDSA P-256 certificate for DTLS (what browsers and str0m present; the peer
/// checks it against the fingerprint in the SDP, not against any authority). Valid from a
/// day ago, so a peer whose clock is a little behind still accepts it, for ten years: the
/// server makes one for its whole life, which may well pass a year, and the key never leaves
/// its memory.
pub fn generate_certificate() -> Result<DtlsCert, CryptoError> {
    certificate().map_err(openssl_error)
}

fn certificate() -> Result<DtlsCert, ErrorStack> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    let key = PKey::from_ec_key(EcKey::generate(&group)?)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", "classroom")?;
    let name = name.build();
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    b.set_serial_number(serial.to_asn1_integer()?.as_ref())?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(&name)?;
    b.set_not_before(
        Asn1Time::from_unix(i64::try_from(crate::unix_secs()).unwrap_or(i64::MAX) - 86_400)?
            .as_ref(),
    )?;
    b.set_not_after(Asn1Time::days_from_now(3650)?.as_ref())?;
    b.set_pubkey(&key)?;
    // An end entity, not an authority: it signs handshakes, not certificates.
    b.append_extension(BasicConstraints::new().critical().build()?)?;
    b.append_extension(KeyUsage::new().critical().digital_signature().build()?)?;
    b.append_extension(
        ExtendedKeyUsage::new()
            .server_auth()
            .client_auth()
            .build()?,
    )?;
    b.sign(&key, MessageDigest::sha256())?;
    Ok(DtlsCert {
        certificate: b.build().to_der()?,
        private_key: key.private_key_to_der()?,
    })
}

/// SHA-1 HMAC (STUN's message integrity, SRTP's AES-CM tags), SHA-1 and SHA-256
/// (certificate fingerprints).
#[derive(Debug)]
struct Hashes;

impl Sha1HmacProvider for Hashes {
    fn sha1_hmac(&self, key: &[u8], payloads: &[&[u8]]) -> [u8; 20] {
        hmac_sha1(key, payloads)
    }
}

impl Sha1Provider for Hashes {
    fn sha1(&self, data: &[u8]) -> [u8; 20] {
        openssl::sha::sha1(data)
    }
}

impl Sha256Provider for Hashes {
    fn sha256(&self, data: &[u8]) -> [u8; 32] {
        openssl::sha::sha256(data)
    }
}

/// HMAC-SHA1 (RFC 2104) over OpenSSL's plain SHA-1: it runs for every STUN message and, with
/// an AES-CM peer, every SRTP and SRTCP packet each way, and OpenSSL 3's `EVP_PKEY` HMAC
/// made a key object and a signer (a provider lookup, several allocations) per call. Any key
/// works, an empty one too (`EVP_PKEY_new_mac_key` refuses that).
fn hmac_sha1(key: &[u8], payloads: &[&[u8]]) -> [u8; 20] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..20].copy_from_slice(&openssl::sha::sha1(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|k| k ^ byte);
    let mut inner = openssl::sha::Sha1::new();
    inner.update(&pad(0x36));
    for p in payloads {
        inner.update(p);
    }
    let mut outer = openssl::sha::Sha1::new();
    outer.update(&pad(0x5c));
    outer.update(&inner.finish());
    outer.finish()
}

/// The traits give hashes and ciphers made from fixed-size keys no way to fail: OpenSSL
/// failing there means the library itself is broken (no such algorithm), not bad input.
fn failed(what: &str, e: &ErrorStack) -> ! {
    panic!("OpenSSL could not compute {what}: {e}")
}

/// SRTP's ciphers and key derivation.
#[derive(Debug)]
struct Srtp;

impl SrtpProvider for Srtp {
    fn aes_128_cm_sha1_80(&self) -> &'static dyn SupportedAes128CmSha1_80 {
        &Srtp
    }

    fn aead_aes_128_gcm(&self) -> &'static dyn SupportedAeadAes128Gcm {
        &Srtp
    }

    fn aead_aes_256_gcm(&self) -> &'static dyn SupportedAeadAes256Gcm {
        &Srtp
    }

    fn srtp_aes_128_ecb_round(&self, key: &[u8], input: &[u8], output: &mut [u8]) {
        ecb_block(Cipher::aes_128_ecb(), key, input, output)
            .unwrap_or_else(|e| failed("AES-128-ECB", &e));
    }

    fn srtp_aes_256_ecb_round(&self, key: &[u8], input: &[u8], output: &mut [u8]) {
        ecb_block(Cipher::aes_256_ecb(), key, input, output)
            .unwrap_or_else(|e| failed("AES-256-ECB", &e));
    }
}

/// One AES block of `input` encrypted under `key` into the front of `output` (SRTP's key
/// derivation: RFC 3711 §4.3.3).
fn ecb_block(
    cipher: &CipherRef,
    key: &[u8],
    input: &[u8],
    output: &mut [u8],
) -> Result<(), ErrorStack> {
    let mut ctx = CipherCtx::new()?;
    ctx.encrypt_init(Some(cipher), Some(key), None)?;
    ctx.set_padding(false);
    let mut block = [0; 32];
    let n = ctx.cipher_update(&input[..16], Some(&mut block))?;
    let m = ctx.cipher_final(&mut block[n..])?;
    output[..n + m].copy_from_slice(&block[..n + m]);
    Ok(())
}

/// An AES-CTR context keyed once (for encrypting: decrypting is the same key stream), given
/// a new IV per packet.
struct Ctr(CipherCtx);

impl fmt::Debug for Ctr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ctr")
    }
}

impl Ctr {
    fn new(key: &[u8; 16]) -> Self {
        let made = (|| {
            let mut ctx = CipherCtx::new()?;
            ctx.encrypt_init(Some(Cipher::aes_128_ctr()), Some(key), None)?;
            Ok(ctx)
        })();
        Ctr(made.unwrap_or_else(|e: ErrorStack| failed("a cipher context", &e)))
    }

    /// `output` gets `input` xored with the key stream from `iv` (the same operation
    /// either way).
    fn apply(&mut self, iv: &[u8], input: &[u8], output: &mut [u8]) -> Result<(), CryptoError> {
        let ctx = &mut self.0;
        ctx.encrypt_init(None, None, Some(iv))
            .map_err(openssl_error)?;
        let out = output
            .get_mut(..input.len())
            .ok_or_else(|| too_short(input.len()))?;
        let n = ctx.cipher_update(input, Some(out)).map_err(openssl_error)?;
        ctx.cipher_final(&mut out[n..]).map_err(openssl_error)?;
        Ok(())
    }
}

const GCM_TAG: usize = 16;

/// An OpenSSL failure as str0m's error (also the DTLS's: `core/dtls/ossl.rs`).
pub(crate) fn openssl_error(e: ErrorStack) -> CryptoError {
    CryptoError::Other(format!("OpenSSL: {e}"))
}

fn too_short(needed: usize) -> CryptoError {
    CryptoError::Other(format!("SRTP output buffer under {needed} bytes"))
}

impl SupportedAes128CmSha1_80 for Srtp {
    fn create_cipher(&self, key: [u8; 16], _encrypt: bool) -> Box<dyn Aes128CmSha1_80Cipher> {
        Box::new(Ctr::new(&key))
    }
}

impl Aes128CmSha1_80Cipher for Ctr {
    fn encrypt(
        &mut self,
        iv: &[u8; 16],
        input: &[u8],
        output: &mut [u8],
    ) -> Result<(), CryptoError> {
        self.apply(iv, input, output)
    }

    fn decrypt(
        &mut self,
        iv: &[u8; 16],
        input: &[u8],
        output: &mut [u8],
    ) -> Result<(), CryptoError> {
        self.apply(iv, input, output)
    }
}

impl SupportedAeadAes128Gcm for Srtp {
    fn create_cipher(&self, key: [u8; 16], _encrypt: bool) -> Box<dyn AeadAes128GcmCipher> {
        Box::new(Gcm::new(&AES_128_GCM, &key))
    }
}

impl SupportedAeadAes256Gcm for Srtp {
    fn create_cipher(&self, key: [u8; 32], _encrypt: bool) -> Box<dyn AeadAes256GcmCipher> {
        Box::new(Gcm::new(&AES_256_GCM, &key))
    }
}

/// An AES-GCM key (ring's, its schedule and GHASH table made once), sealing or opening.
///
/// Made at the first packet: str0m makes a sealing and an opening cipher for each key of
/// both directions of a connection, so half of them are never used; ring's key (~550
/// bytes) for each of those was ~2 KB a student (heaptrack, 200 students).
struct Gcm(GcmKey);

enum GcmKey {
    /// The key's bytes (the first `len` of `bytes`), not yet scheduled.
    Pending {
        algorithm: &'static ring::aead::Algorithm,
        bytes: [u8; 32],
        len: usize,
    },
    Ready(Box<LessSafeKey>),
}

impl fmt::Debug for Gcm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Gcm")
    }
}

/// Associated data up to this long is joined on the stack when it comes in parts (SRTCP's
/// header and index); longer (an RTP header with a large extension) in a `Vec`.
const AAD_ON_STACK: usize = 256;

impl Gcm {
    fn new(algorithm: &'static ring::aead::Algorithm, key: &[u8]) -> Self {
        let mut bytes = [0u8; 32];
        let len = key.len().min(bytes.len());
        bytes[..len].copy_from_slice(&key[..len]);
        Gcm(GcmKey::Pending {
            algorithm,
            bytes,
            len,
        })
    }

    /// The scheduled key, made now if this is the first use.
    fn key(&mut self) -> &LessSafeKey {
        if let GcmKey::Pending {
            algorithm,
            bytes,
            len,
        } = &mut self.0
        {
            // The key's length is the algorithm's by the traits' types: ring refusing it
            // means the library itself is broken.
            let key = UnboundKey::new(algorithm, &bytes[..*len])
                .unwrap_or_else(|_| panic!("ring refused a {len}-byte AES-GCM key"));
            bytes.fill(0);
            self.0 = GcmKey::Ready(Box::new(LessSafeKey::new(key)));
        }
        match &self.0 {
            GcmKey::Ready(key) => key,
            GcmKey::Pending { .. } => unreachable!("scheduled above"),
        }
    }

    /// `output` gets `input` encrypted followed by the 16-byte tag.
    fn seal(
        &mut self,
        iv: &[u8; 12],
        aad: &[u8],
        input: &[u8],
        output: &mut [u8],
    ) -> Result<(), CryptoError> {
        let out = output
            .get_mut(..input.len() + GCM_TAG)
            .ok_or_else(|| too_short(input.len() + GCM_TAG))?;
        let (body, tag) = out.split_at_mut(input.len());
        body.copy_from_slice(input);
        let sealed = self
            .key()
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(*iv), Aad::from(aad), body)
            .map_err(|_| CryptoError::Other("AES-GCM: packet too long to seal".into()))?;
        tag.copy_from_slice(sealed.as_ref());
        Ok(())
    }

    /// `input` (ciphertext and tag) checked against `aads` and decrypted into `output`; its
    /// length, or an error for a forged or damaged packet.
    fn open(
        &mut self,
        iv: &[u8; 12],
        aads: &[&[u8]],
        input: &[u8],
        output: &mut [u8],
    ) -> Result<usize, CryptoError> {
        let Some(body_len) = input.len().checked_sub(GCM_TAG) else {
            return Err(CryptoError::Other(
                "SRTP packet shorter than its tag".into(),
            ));
        };
        let (body, tag) = input.split_at(body_len);
        let tag = Tag::try_from(tag)
            .map_err(|_| CryptoError::Other("SRTP tag of the wrong length".into()))?;
        let out = output
            .get_mut(..body_len)
            .ok_or_else(|| too_short(body_len))?;
        out.copy_from_slice(body);
        let nonce = Nonce::assume_unique_for_key(*iv);
        let key = self.key();
        let opened = match aads {
            [one] => key.open_in_place_separate_tag(nonce, Aad::from(one), tag, out, 0..),
            parts => {
                let len: usize = parts.iter().map(|p| p.len()).sum();
                let mut stack = [0u8; AAD_ON_STACK];
                let mut heap = Vec::new();
                let joined: &mut [u8] = if len <= AAD_ON_STACK {
                    &mut stack[..len]
                } else {
                    heap.resize(len, 0);
                    &mut heap
                };
                let mut at = 0;
                for p in parts {
                    joined[at..at + p.len()].copy_from_slice(p);
                    at += p.len();
                }
                key.open_in_place_separate_tag(nonce, Aad::from(&*joined), tag, out, 0..)
            }
        };
        opened
            .map(|plain| plain.len())
            .map_err(|_| CryptoError::Other("SRTP authentication failed".into()))
    }
}

/// The two GCM traits differ only in their key size, which `Gcm` already holds.
macro_rules! gcm_cipher {
    ($($trait:ident),*) => {$(
        impl $trait for Gcm {
            fn encrypt(
                &mut self,
                iv: &[u8; 12],
                aad: &[u8],
                input: &[u8],
                output: &mut [u8],
            ) -> Result<(), CryptoError> {
                self.seal(iv, aad, input, output)
            }

            fn decrypt(
                &mut self,
                iv: &[u8; 12],
                aads: &[&[u8]],
                input: &[u8],
                output: &mut [u8],
            ) -> Result<usize, CryptoError> {
                self.open(iv, aads, input, output)
            }
        }
    )*};
}

gcm_cipher!(AeadAes128GcmCipher, AeadAes256GcmCipher);

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    #[test]
    fn aes_ecb_rounds_match_fips_197() {
        let input = hex("00112233445566778899aabbccddeeff");
        let mut out = [0; 32];
        Srtp.srtp_aes_128_ecb_round(&hex("000102030405060708090a0b0c0d0e0f"), &input, &mut out);
        assert_eq!(out[..16], hex("69c4e0d86a7b0430d8cdb78070b4c55a")[..]);
        let key = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
        Srtp.srtp_aes_256_ecb_round(&key, &input, &mut out);
        assert_eq!(out[..16], hex("8ea2b7ca516745bfeafc49904b496089")[..]);
    }

    #[test]
    fn aes_cm_key_stream_matches_rfc_3711() {
        // RFC 3711 B.2: the key stream is what encrypting zeros gives.
        let key: [u8; 16] = hex("2B7E151628AED2A6ABF7158809CF4F3C")
            .try_into()
            .expect("16 bytes");
        let iv: [u8; 16] = hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000")
            .try_into()
            .expect("16 bytes");
        let mut cipher = Srtp.create_cipher_cm(key, true);
        let mut out = [0; 48 + 15];
        cipher.encrypt(&iv, &[0; 48], &mut out).expect("encrypt");
        let expected = hex(
            "E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB 41E95B3BB0A2E8DD477901E4FCA894C0",
        );
        assert_eq!(out[..48], expected[..]);
        // Decrypting is the same stream.
        let mut back = [0; 48 + 15];
        let mut d = Srtp.create_cipher_cm(key, false);
        d.decrypt(&iv, &out[..48], &mut back).expect("decrypt");
        assert_eq!(back[..48], [0; 48]);
    }

    impl Srtp {
        fn create_cipher_cm(&self, key: [u8; 16], encrypt: bool) -> Box<dyn Aes128CmSha1_80Cipher> {
            SupportedAes128CmSha1_80::create_cipher(self, key, encrypt)
        }
    }

    #[test]
    fn aes_gcm_matches_the_gcm_specification_and_refuses_a_changed_byte() {
        // McGrew and Viega, test cases 2 (AES-128) and 14 (AES-256): zero key, IV and block.
        let iv = [0; 12];
        let mut out = [0; 32];
        let mut c128 = SupportedAeadAes128Gcm::create_cipher(&Srtp, [0; 16], true);
        c128.encrypt(&iv, &[], &[0; 16], &mut out).expect("seal");
        assert_eq!(
            out[..],
            hex("0388dace60b6a392f328c2b971b2fe78 ab6e47d42cec13bdf53a67b21257bddf")[..]
        );
        let mut c256 = SupportedAeadAes256Gcm::create_cipher(&Srtp, [0; 32], true);
        c256.encrypt(&iv, &[], &[0; 16], &mut out).expect("seal");
        assert_eq!(
            out[..],
            hex("cea7403d4d606b6e074ec5d3baf39d18 d0d1c8a799996bf0265b98b5d48ab919")[..]
        );

        // A round trip with associated data in two parts, as str0m passes SRTCP's.
        let key = [7; 16];
        let aad = b"header bytes";
        let mut sealed = [0; 21 + 16];
        SupportedAeadAes128Gcm::create_cipher(&Srtp, key, true)
            .encrypt(&[1; 12], aad, b"twenty-one bytes long", &mut sealed)
            .expect("seal");
        let mut open = SupportedAeadAes128Gcm::create_cipher(&Srtp, key, false);
        let mut plain = [0; 21];
        let n = open
            .decrypt(&[1; 12], &[&aad[..6], &aad[6..]], &sealed, &mut plain)
            .expect("open");
        assert_eq!(&plain[..n], b"twenty-one bytes long");
        // Any change is refused, and the context still opens the next good packet.
        for at in [0, 20, 21, 36] {
            let mut bad = sealed;
            bad[at] ^= 1;
            assert!(
                open.decrypt(&[1; 12], &[aad], &bad, &mut plain).is_err(),
                "byte {at}"
            );
        }
        assert!(
            open.decrypt(&[1; 12], &[b"other"], &sealed, &mut plain)
                .is_err()
        );
        assert!(
            open.decrypt(&[1; 12], &[aad], &sealed[..10], &mut plain)
                .is_err()
        );
        assert!(
            open.decrypt(&[1; 12], &[aad], &sealed, &mut [0; 3])
                .is_err()
        );
        assert_eq!(
            open.decrypt(&[1; 12], &[aad], &sealed, &mut plain)
                .expect("open"),
            21
        );

        // Associated data longer than the stack's room (an RTP header with a large
        // extension), in parts and whole, agree.
        let long: Vec<u8> = (0..=255u8).cycle().take(AAD_ON_STACK + 44).collect();
        SupportedAeadAes128Gcm::create_cipher(&Srtp, key, true)
            .encrypt(&[2; 12], &long, b"twenty-one bytes long", &mut sealed)
            .expect("seal");
        for parts in [vec![&long[..]], vec![&long[..100], &long[100..]]] {
            let n = open
                .decrypt(&[2; 12], &parts, &sealed, &mut plain)
                .expect("open with a long header");
            assert_eq!(&plain[..n], b"twenty-one bytes long");
        }
        let mut other = long.clone();
        other[AAD_ON_STACK + 1] ^= 1;
        assert!(
            open.decrypt(&[2; 12], &[&other[..10], &other[10..]], &sealed, &mut plain)
                .is_err()
        );
    }

    #[test]
    fn aes_gcm_with_associated_data_agrees_with_openssl() {
        // The seal side pinned by an independent implementation, with associated data (an
        // RTP header) and lengths around the block size and a full packet.
        let mut x: u32 = 0x1234_5678;
        let mut bytes = |n: usize| -> Vec<u8> {
            (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect()
        };
        for (key_len, len) in [
            (16, 0),
            (16, 15),
            (16, 16),
            (16, 1150),
            (32, 17),
            (32, 1150),
        ] {
            let (key, iv, aad, plain) = (bytes(key_len), bytes(12), bytes(20), bytes(len));
            let mut theirs_tag = [0u8; 16];
            let cipher = if key_len == 16 {
                openssl::symm::Cipher::aes_128_gcm()
            } else {
                openssl::symm::Cipher::aes_256_gcm()
            };
            let theirs =
                openssl::symm::encrypt_aead(cipher, &key, Some(&iv), &aad, &plain, &mut theirs_tag)
                    .expect("OpenSSL seals");
            let mut ours = vec![0; len + 16];
            let iv: [u8; 12] = iv.try_into().expect("12 bytes");
            if key_len == 16 {
                let key: [u8; 16] = key.try_into().expect("16 bytes");
                SupportedAeadAes128Gcm::create_cipher(&Srtp, key, true)
                    .encrypt(&iv, &aad, &plain, &mut ours)
                    .expect("seal");
            } else {
                let key: [u8; 32] = key.try_into().expect("32 bytes");
                SupportedAeadAes256Gcm::create_cipher(&Srtp, key, true)
                    .encrypt(&iv, &aad, &plain, &mut ours)
                    .expect("seal");
            }
            assert_eq!(
                ours[..len],
                theirs[..],
                "ciphertext, {key_len}-byte key, {len}"
            );
            assert_eq!(
                ours[len..],
                theirs_tag[..],
                "tag, {key_len}-byte key, {len}"
            );
        }
    }

    #[test]
    fn hashes_match_their_standards() {
        // RFC 2202 test case 1, and the FIPS 180 "abc" examples.
        assert_eq!(
            Hashes.sha1_hmac(&[0x0b; 20], &[b"Hi ", b"There"])[..],
            hex("b617318655057264e28bc0b6fb378c8ef146be00")[..]
        );
        // RFC 2202 test case 6: a key longer than a block is hashed first.
        let long = b"Test Using Larger Than Block-Size Key - Hash Key First";
        assert_eq!(
            Hashes.sha1_hmac(&[0xaa; 80], &[long])[..],
            hex("aa4ae5e15272d00e95705637ce8a3b55ed402112")[..]
        );
        // An empty key is a key like any other (OpenSSL's EVP HMAC refuses it), and agrees
        // with OpenSSL's HMAC for a key it takes.
        let _ = Hashes.sha1_hmac(&[], &[b"data"]);
        let key = PKey::hmac(b"key").expect("key");
        let mut signer = openssl::sign::Signer::new(MessageDigest::sha1(), &key).expect("signer");
        let theirs = signer
            .sign_oneshot_to_vec(b"The quick brown fox")
            .expect("sign");
        assert_eq!(
            Hashes.sha1_hmac(b"key", &[b"The quick", b" brown fox"])[..],
            theirs[..]
        );
        assert_eq!(
            Hashes.sha1(b"abc")[..],
            hex("a9993e364706816aba3e25717850c26c9cd0d89d")[..]
        );
        assert_eq!(
            Hashes.sha256(b"abc")[..],
            hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")[..]
        );
    }

    #[test]
    fn certificates_are_self_signed_p256_and_valid_now() {
        let cert = generate_certificate().expect("certificate");
        let x509 = openssl::x509::X509::from_der(&cert.certificate).expect("der");
        let key = PKey::private_key_from_der(&cert.private_key).expect("key");
        assert!(x509.verify(&key).expect("verify"), "signed by its own key");
        assert_eq!(
            key.ec_key().expect("ec").group().curve_name(),
            Some(Nid::X9_62_PRIME256V1)
        );
        let now = Asn1Time::days_from_now(0).expect("now");
        assert!(x509.not_before() < now && now < x509.not_after());
        let in_five_years = Asn1Time::days_from_now(5 * 365).expect("later");
        assert!(
            in_five_years < x509.not_after(),
            "outlives a long-running server"
        );
        assert!(
            x509.to_text()
                .is_ok_and(|t| String::from_utf8_lossy(&t).contains("CA:FALSE"))
        );
        let other = generate_certificate().expect("certificate");
        assert_ne!(cert.certificate, other.certificate, "a fresh key each time");
    }
}
