//! Randomness for secrets: the class's invite secrets, codes and fresh identities.

use tracing::warn;

/// The operating system's randomness, for the identities and secrets the class makes.
pub struct OsRandom;

impl classroom::RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        if getrandom::fill(buf).is_err() {
            // No OS randomness at all is a broken machine; secrets made now would be
            // guessable, so say so loudly and at least do not hand out zeros.
            warn!("no OS randomness: class secrets fall back to the clock");
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
                .to_le_bytes();
            for (i, b) in buf.iter_mut().enumerate() {
                *b = t[i % t.len()] ^ (i as u8);
            }
        }
    }
}

/// A fresh secret of 128 random bits as 32 lowercase hex digits: what an invite carries.
pub fn invite_secret() -> String {
    let mut bytes = [0u8; 16];
    classroom::RandomSource::fill(&mut OsRandom, &mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
