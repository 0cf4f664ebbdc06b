//! How often one publisher layer is asked for a keyframe.
//!
//! A token bucket: [`KEYFRAME_BURST`] requests may go out back to back, then one per
//! [`KEYFRAME_REQUEST_INTERVAL`]. A crowd of joining students (or one student hammering PLIs)
//! therefore gets at most two keyframes a second out of the encoder, while the common case of
//! two unrelated needs close together (a student's loss repair, then a new student joining)
//! is served at once. With a bucket of one, that new student waited up to half a second.
//!
//! A request that finds the bucket empty is held, not dropped, until a token is back; a
//! keyframe arriving meanwhile answers it (see [`KeyframeBudget::on_keyframe`]).

use std::time::{Duration, Instant};

/// Sustained rate of keyframe requests per layer: one per this interval.
pub const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(500);

/// Requests per layer that may go out back to back.
pub const KEYFRAME_BURST: f64 = 2.0;

/// The keyframe request budget of one publisher layer.
#[derive(Debug, Clone)]
pub(super) struct KeyframeBudget {
    tokens: f64,
    updated: Option<Instant>,
    /// A request held back until this time.
    held: Option<Instant>,
}

impl Default for KeyframeBudget {
    fn default() -> Self {
        KeyframeBudget {
            tokens: KEYFRAME_BURST,
            updated: None,
            held: None,
        }
    }
}

impl KeyframeBudget {
    /// A request wants to go out now: `true` if it may (a token is spent), else it is held
    /// until [`KeyframeBudget::held_until`].
    pub(super) fn try_send(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.held = None;
            return true;
        }
        let wait = KEYFRAME_REQUEST_INTERVAL.mul_f64(1.0 - self.tokens);
        self.held.get_or_insert(now + wait);
        false
    }

    /// When a held request may go out.
    pub(super) fn held_until(&self) -> Option<Instant> {
        self.held
    }

    /// A keyframe came from the publisher: it serves whoever asked while a request was
    /// held, so the held request is dropped. Returns whether one was.
    pub(super) fn on_keyframe(&mut self) -> bool {
        self.held.take().is_some()
    }

    fn refill(&mut self, now: Instant) {
        if let Some(at) = self.updated {
            let gained = now.saturating_duration_since(at).as_secs_f64()
                / KEYFRAME_REQUEST_INTERVAL.as_secs_f64();
            self.tokens = (self.tokens + gained).min(KEYFRAME_BURST);
        }
        self.updated = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_at_once_then_one_per_interval() {
        let t0 = Instant::now();
        let mut b = KeyframeBudget::default();
        assert!(b.try_send(t0));
        assert!(b.try_send(t0 + Duration::from_millis(10)));
        assert!(!b.try_send(t0 + Duration::from_millis(20)));
        // Held until the bucket has a whole token again: 0.02 of one was refilled by then.
        let held = b.held_until().expect("held");
        assert!(held > t0 + Duration::from_millis(480) && held <= t0 + Duration::from_millis(510));
        assert!(!b.try_send(t0 + Duration::from_millis(200)));
        assert_eq!(
            b.held_until(),
            Some(held),
            "a second ask does not push it back"
        );
        assert!(b.try_send(held));
        assert_eq!(b.held_until(), None);
        assert!(!b.try_send(held + Duration::from_millis(1)));
    }

    #[test]
    fn a_hammering_subscriber_gets_the_sustained_rate() {
        let t0 = Instant::now();
        let mut b = KeyframeBudget::default();
        let sent = (0..500)
            .filter(|i| b.try_send(t0 + Duration::from_millis(20 * i)))
            .count();
        // 10 s: the burst, then one per 500 ms.
        assert!((20..=22).contains(&sent), "{sent}");
    }

    #[test]
    fn a_keyframe_answers_the_held_request() {
        let t0 = Instant::now();
        let mut b = KeyframeBudget::default();
        assert!(b.try_send(t0) && b.try_send(t0));
        assert!(!b.try_send(t0));
        assert!(b.on_keyframe());
        assert_eq!(b.held_until(), None);
        assert!(!b.on_keyframe(), "nothing held any more");
    }
}
