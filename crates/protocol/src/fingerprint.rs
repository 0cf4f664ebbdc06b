//! A server certificate's SHA-256 fingerprint as text: base64url without padding (43
//! characters, compact enough for an invite link or class code) or hex (64 digits, with or
//! without colons, as `openssl x509 -fingerprint -sha256` prints it).
//!
//! A student's app pins the teacher's self-signed certificate by this fingerprint, so no
//! certificate authority is needed on a school LAN.

/// Why a fingerprint could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FingerprintError {
    /// Neither 43 base64url characters nor 64 hex digits.
    #[error("a certificate fingerprint is 43 base64url characters or 64 hex digits, got {0:?}")]
    Format(String),
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64url without padding: 43 characters.
pub fn to_base64url(print: &[u8; 32]) -> String {
    let mut out = String::with_capacity(43);
    for chunk in print.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let index = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(B64[index as usize]));
        }
    }
    out
}

/// Lowercase hex: 64 digits.
pub fn to_hex(print: &[u8; 32]) -> String {
    print.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads either form (hex may have colons and any case; surrounding spaces are ignored).
pub fn parse(text: &str) -> Result<[u8; 32], FingerprintError> {
    let t = text.trim();
    let bad = || FingerprintError::Format(t.chars().take(100).collect());
    let hex: String = t.chars().filter(|c| *c != ':').collect();
    if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            let pair = hex.get(2 * i..2 * i + 2).ok_or_else(bad)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
        }
        return Ok(out);
    }
    if t.len() != 43 {
        return Err(bad());
    }
    let mut bits = 0u32;
    let mut nbits = 0u32;
    let mut out = Vec::with_capacity(32);
    for c in t.bytes() {
        let v = B64.iter().position(|x| *x == c).ok_or_else(bad)?;
        bits = (bits << 6) | v as u32;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    // 43 characters carry 258 bits: the last 2 must be zero in a canonical encoding.
    if bits != 0 {
        return Err(bad());
    }
    out.try_into().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_round_trip() {
        let mut print = [0u8; 32];
        for (i, b) in print.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37).wrapping_add(250);
        }
        let b64 = to_base64url(&print);
        assert_eq!(b64.len(), 43);
        assert!(!b64.contains(['=', '+', '/']));
        assert_eq!(parse(&b64), Ok(print));
        let hex = to_hex(&print);
        assert_eq!(hex.len(), 64);
        assert_eq!(parse(&hex), Ok(print));
        let colons: Vec<String> = print.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(parse(&format!(" {} ", colons.join(":"))), Ok(print));
        for p in [[0u8; 32], [0xff; 32]] {
            assert_eq!(parse(&to_base64url(&p)), Ok(p));
        }
    }

    #[test]
    fn a_known_value_matches_other_tools() {
        // SHA-256 of the empty string, as `printf '' | sha256sum` and `basenc --base64url`.
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let print = parse(hex).expect("hex");
        assert_eq!(
            to_base64url(&print),
            "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
    }

    #[test]
    fn anything_else_is_refused_clearly() {
        for bad in [
            "",
            "abc",
            &"g".repeat(64),
            &"A".repeat(44),
            "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFV",
            "47DEQpj8HBSa+/TImW-5JCeuQeRkm5NMpJWZG3hSuFU",
        ] {
            let err = parse(bad).expect_err(bad);
            assert!(err.to_string().contains("43 base64url"), "{err}");
        }
    }
}
