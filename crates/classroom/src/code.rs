//! Short class codes: 12 characters of Crockford base32, shown as `XXXX-XXXX-XXXX`.
//!
//! The first 8 characters (40 bits) may be a check on the server's TLS certificate
//! fingerprint, so a student who types the code into an app that reached the wrong server
//! learns it before sending anything; the last 4 (20 bits) are the secret part. Twenty bits
//! alone could be guessed, so code joins are rate-limited per source address and per class
//! and always wait in the lobby: a code is a way to knock, never a key.

use crate::random::RandomSource;

/// Crockford's base32 alphabet: no I, L, O or U, so what is read aloud is typed right.
pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Characters in a code (without dashes).
pub const LEN: usize = 12;

/// Characters of a code that may check the server's certificate; the rest is secret.
pub const PREFIX_LEN: usize = 8;

/// A code as typed, made canonical: upper case, dashes and spaces dropped, `O` read as `0`
/// and `I`/`L` as `1`. `None` when it is not 12 characters of the alphabet.
pub fn normalize(typed: &str) -> Option<String> {
    let mut out = String::with_capacity(LEN);
    for c in typed.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' | '\u{a0}' | '\t' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
            return None;
        }
        if out.len() == LEN {
            return None;
        }
        out.push(c);
    }
    (out.len() == LEN).then_some(out)
}

/// A normalized code shown in groups of four: `K7QM-3XZ2-9HWD`.
pub fn format(code: &str) -> String {
    let mut out = String::with_capacity(code.len() + code.len() / 4);
    for (i, c) in code.chars().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(c);
    }
    out
}

/// A new code, formatted. The first 40 bits come from `fingerprint_bits` (the first five
/// bytes of the server certificate's SHA-256) when given, else from `random`; the last 20
/// bits are always random.
pub fn generate(fingerprint_bits: Option<[u8; 5]>, random: &mut dyn RandomSource) -> String {
    let head = match fingerprint_bits {
        Some(bytes) => bytes,
        None => {
            let mut bytes = [0u8; 5];
            random.fill(&mut bytes);
            bytes
        }
    };
    let mut tail = [0u8; 3];
    random.fill(&mut tail);
    let head = head.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let tail = tail.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)) >> 4;
    let mut code = String::with_capacity(LEN);
    push_base32(&mut code, head, 8);
    push_base32(&mut code, tail, 4);
    format(&code)
}

/// The part of a normalized code that checks the server (the first 8 characters).
pub(crate) fn prefix(code: &str) -> &str {
    code.get(..PREFIX_LEN).unwrap_or(code)
}

/// The first 8 characters a code made for a server with this certificate fingerprint
/// (SHA-256) starts with.
pub fn fingerprint_prefix(fingerprint: &[u8; 32]) -> String {
    let head = fingerprint[..5]
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let mut out = String::with_capacity(PREFIX_LEN);
    push_base32(&mut out, head, 8);
    out
}

/// Whether the typed `code` was made for the server with this certificate fingerprint: the
/// check a student's app makes before it sends the code to a server it found nearby (40
/// bits: a look-alike server would need that many tries to mint a certificate that passes).
pub fn matches_fingerprint(code: &str, fingerprint: &[u8; 32]) -> bool {
    normalize(code).is_some_and(|c| prefix(&c) == fingerprint_prefix(fingerprint))
}

fn push_base32(out: &mut String, value: u64, chars: u32) {
    for i in (0..chars).rev() {
        let digit = (value >> (5 * i)) & 31;
        out.push(char::from(ALPHABET[digit as usize]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    #[test]
    fn a_code_made_for_a_certificate_checks_it_and_no_other() {
        let mut random = SeededRandom::new(7);
        let mut fp = [0u8; 32];
        random.fill(&mut fp);
        let head: [u8; 5] = fp[..5].try_into().expect("5 bytes");
        let code = generate(Some(head), &mut random);
        assert!(matches_fingerprint(&code, &fp));
        assert!(matches_fingerprint(
            &code.to_lowercase().replace('-', " "),
            &fp
        ));
        let mut other = fp;
        other[4] ^= 1;
        assert!(
            !matches_fingerprint(&code, &other),
            "one bit of the first 40 differs"
        );
        other = fp;
        other[5] ^= 0xff;
        assert!(
            matches_fingerprint(&code, &other),
            "bits past the 40th are not checked"
        );
        assert!(!matches_fingerprint("not a code", &fp));
    }

    #[test]
    fn normalize_forgives_case_dashes_spaces_and_lookalikes() {
        assert_eq!(normalize("k7qm-3xz2-9hwd").as_deref(), Some("K7QM3XZ29HWD"));
        assert_eq!(
            normalize(" K7QM 3XZ2 9HWD ").as_deref(),
            Some("K7QM3XZ29HWD")
        );
        assert_eq!(normalize("oOiI-lL00-1111").as_deref(), Some("001111001111"));
    }

    #[test]
    fn normalize_refuses_wrong_length_and_letters_outside_the_alphabet() {
        assert_eq!(normalize("K7QM-3XZ2-9HW"), None);
        assert_eq!(normalize("K7QM-3XZ2-9HWDD"), None);
        assert_eq!(
            normalize("K7QM-3XZ2-9HWU"),
            None,
            "U is not in Crockford's alphabet"
        );
        assert_eq!(normalize("K7QM-3XZ2-9HW!"), None);
        assert_eq!(normalize("K7QM-3XZ2-9HWÉ"), None);
        assert_eq!(normalize(""), None);
    }

    #[test]
    fn format_groups_by_four() {
        assert_eq!(format("K7QM3XZ29HWD"), "K7QM-3XZ2-9HWD");
        assert_eq!(format(""), "");
    }

    #[test]
    fn generated_codes_normalize_to_themselves() {
        let mut random = SeededRandom::new(7);
        for _ in 0..100 {
            let shown = generate(None, &mut random);
            assert_eq!(shown.len(), 14);
            let code = normalize(&shown).expect("a generated code parses");
            assert_eq!(format(&code), shown);
        }
    }

    #[test]
    fn fingerprint_fixes_the_first_eight_characters_only() {
        let fp = [0xde, 0xad, 0xbe, 0xef, 0x01];
        let a = normalize(&generate(Some(fp), &mut SeededRandom::new(1))).expect("parses");
        let b = normalize(&generate(Some(fp), &mut SeededRandom::new(2))).expect("parses");
        assert_eq!(prefix(&a), prefix(&b));
        assert_ne!(a, b, "the secret part is random");
        // 0xdeadbeef01, five bits at a time: 27 26 22 27 29 27 24 1.
        assert_eq!(prefix(&a), "VTPVXVR1");
        let other = normalize(&generate(Some([0; 5]), &mut SeededRandom::new(1))).expect("parses");
        assert_eq!(prefix(&other), "00000000");
        assert_eq!(&other[8..], &a[8..], "same seed, same secret part");
    }

    #[test]
    fn the_secret_part_uses_all_twenty_bits() {
        // Over many codes every character of the secret part takes many values.
        let mut random = SeededRandom::new(9);
        let mut seen = [[false; 32]; 4];
        for _ in 0..2000 {
            let code = normalize(&generate(Some([0; 5]), &mut random)).expect("parses");
            for (i, c) in code[8..].bytes().enumerate() {
                let digit = ALPHABET.iter().position(|a| *a == c).expect("in alphabet");
                seen[i][digit] = true;
            }
        }
        for (i, digits) in seen.iter().enumerate() {
            assert!(digits.iter().all(|s| *s), "character {i} misses values");
        }
    }
}
