//! A token bucket: `burst` tokens, refilled at `per_sec`. Time is the caller's `now`.

use crate::Millis;

/// Tokens left and when they were last counted. Small (16 bytes) because every student has
/// two of them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    tokens: f64,
    at: Millis,
}

impl Bucket {
    /// A full bucket.
    pub(crate) fn full(now: Millis, burst: u32) -> Self {
        Bucket {
            tokens: f64::from(burst),
            at: now,
        }
    }

    fn refill(&mut self, now: Millis, burst: u32, per_sec: f64) {
        // A clock that steps back refills nothing rather than going negative.
        if now > self.at {
            let gained = (now - self.at) as f64 * per_sec.max(0.0) / 1000.0;
            self.tokens = (self.tokens + gained).min(f64::from(burst));
            self.at = now;
        }
    }

    /// Takes one token if there is one.
    pub(crate) fn take(&mut self, now: Millis, burst: u32, per_sec: f64) -> bool {
        self.refill(now, burst, per_sec);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whole tokens available now (for taking several at once).
    pub(crate) fn available(&mut self, now: Millis, burst: u32, per_sec: f64) -> u32 {
        self.refill(now, burst, per_sec);
        self.tokens.floor().max(0.0) as u32
    }

    /// Takes `n` tokens (at most what is there).
    pub(crate) fn spend(&mut self, n: u32) {
        self.tokens = (self.tokens - f64::from(n)).max(0.0);
    }

    /// Whether it is full at `now` (so it can be forgotten).
    pub(crate) fn is_full(&mut self, now: Millis, burst: u32, per_sec: f64) -> bool {
        self.refill(now, burst, per_sec);
        self.tokens >= f64::from(burst)
    }

    /// When the next token will be there, if it is not now.
    pub(crate) fn next_token_at(&self, per_sec: f64) -> Option<Millis> {
        if self.tokens >= 1.0 {
            return None;
        }
        if per_sec <= 0.0 {
            return Some(Millis::MAX);
        }
        let wait = ((1.0 - self.tokens) * 1000.0 / per_sec).ceil() as u64;
        Some(self.at.saturating_add(wait.max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate() {
        let mut b = Bucket::full(0, 3);
        assert!(b.take(0, 3, 1.0));
        assert!(b.take(0, 3, 1.0));
        assert!(b.take(0, 3, 1.0));
        assert!(!b.take(0, 3, 1.0));
        assert_eq!(b.next_token_at(1.0), Some(1000));
        assert!(!b.take(999, 3, 1.0));
        assert!(b.take(1000, 3, 1.0));
        // Never more than the burst, however long it rests.
        assert_eq!(b.available(1_000_000, 3, 1.0), 3);
        assert!(b.is_full(1_000_000, 3, 1.0));
    }

    #[test]
    fn clock_going_back_gives_nothing() {
        let mut b = Bucket::full(10_000, 1);
        assert!(b.take(10_000, 1, 1.0));
        assert!(!b.take(5_000, 1, 1.0));
        assert!(b.take(11_000, 1, 1.0));
    }

    #[test]
    fn spend_takes_several() {
        let mut b = Bucket::full(0, 20);
        assert_eq!(b.available(0, 20, 20.0), 20);
        b.spend(15);
        assert_eq!(b.available(0, 20, 20.0), 5);
        b.spend(50);
        assert_eq!(b.available(0, 20, 20.0), 0);
        assert_eq!(b.available(100, 20, 20.0), 2);
    }
}
