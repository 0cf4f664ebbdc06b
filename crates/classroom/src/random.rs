//! Randomness the class needs for what it makes itself (fresh identities, invite secrets,
//! class codes). The class never reads a randomness source of its own: the driver hands it
//! one (the OS's), tests a seeded one, so a test run is a function of its inputs.

/// Where the class's random bytes come from.
pub trait RandomSource: Send {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// A deterministic source (SplitMix64) for tests and simulations. Not for secrets: anyone
/// who knows the seed knows every byte.
#[derive(Debug, Clone)]
pub struct SeededRandom {
    state: u64,
}

impl SeededRandom {
    /// A source that always yields the same bytes for the same seed.
    pub fn new(seed: u64) -> Self {
        SeededRandom { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl RandomSource for SeededRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// `n` random bytes as lowercase hex.
pub(crate) fn hex(random: &mut dyn RandomSource, n: usize) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut bytes = vec![0u8; n];
    random.fill(&mut bytes);
    let mut s = String::with_capacity(2 * n);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// Compares two secrets in time that depends only on their lengths, so a guesser cannot
/// learn a prefix from how long the comparison took.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_source_repeats_and_differs_by_seed() {
        let (mut a, mut b, mut c) = (
            SeededRandom::new(1),
            SeededRandom::new(1),
            SeededRandom::new(2),
        );
        let (mut x, mut y, mut z) = ([0u8; 13], [0u8; 13], [0u8; 13]);
        a.fill(&mut x);
        b.fill(&mut y);
        c.fill(&mut z);
        assert_eq!(x, y);
        assert_ne!(x, z);
    }

    #[test]
    fn hex_has_two_digits_per_byte() {
        let s = hex(&mut SeededRandom::new(3), 16);
        assert_eq!(s.len(), 32);
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
