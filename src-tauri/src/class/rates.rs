//! The class view's frame and bit rates per received track, each over at least
//! [`MIN_WINDOW`] of counting.
//!
//! The page asks for the class's figures once a second, and sometimes at once besides (a
//! camera began; the diagnostics report asks too). Rates divided over the few milliseconds
//! since the last call read a voice's 20 ms packets as nothing or as a spike, which then
//! stayed on screen for a second. A call that comes sooner than [`MIN_WINDOW`] after a
//! track's last counted window answers that window's rates, and the next window still runs
//! from where that one ended.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The shortest span rates are worked out over.
pub(crate) const MIN_WINDOW: Duration = Duration::from_millis(500);

/// A track's counters when its last window ended, and that window's rates.
#[derive(Debug, Clone, Copy)]
struct Window {
    frames: u64,
    bytes: u64,
    at: Instant,
    fps: f64,
    kbps: f64,
}

/// Rates per track (by track id).
#[derive(Debug, Default)]
pub(crate) struct Rates {
    windows: HashMap<String, Window>,
}

impl Rates {
    /// Frames a second and kbit/s of `track`, whose counters read `frames` and `bytes` at
    /// `now`. The first call for a track has no window yet: it answers `first_fps` (the
    /// track's own rate since its first frame) and 0 kbit/s.
    pub(crate) fn of(
        &mut self,
        track: &str,
        frames: u64,
        bytes: u64,
        now: Instant,
        first_fps: f64,
    ) -> (f64, f64) {
        let Some(last) = self.windows.get_mut(track) else {
            self.windows.insert(
                track.to_owned(),
                Window {
                    frames,
                    bytes,
                    at: now,
                    fps: first_fps,
                    kbps: 0.0,
                },
            );
            return (first_fps, 0.0);
        };
        let span = now.saturating_duration_since(last.at);
        if span >= MIN_WINDOW {
            let secs = span.as_secs_f64();
            *last = Window {
                frames,
                bytes,
                at: now,
                fps: frames.saturating_sub(last.frames) as f64 / secs,
                kbps: bytes.saturating_sub(last.bytes) as f64 * 8.0 / 1000.0 / secs,
            };
        }
        (last.fps, last.kbps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_counted_over_the_time_between_windows() {
        let mut rates = Rates::default();
        let t0 = Instant::now();
        assert_eq!(rates.of("t1", 10, 4_000, t0, 29.5), (29.5, 0.0));
        // 30 frames and 4,000 bytes (32 kbit) in one second.
        let (fps, kbps) = rates.of("t1", 40, 8_000, t0 + Duration::from_secs(1), 0.0);
        assert!((fps - 30.0).abs() < 1e-9, "{fps}");
        assert!((kbps - 32.0).abs() < 1e-9, "{kbps}");
        // Another track has windows of its own.
        assert_eq!(
            rates.of("t2", 5, 100, t0 + Duration::from_secs(1), 0.0),
            (0.0, 0.0)
        );
    }

    #[test]
    fn a_call_soon_after_a_window_answers_that_window_and_does_not_cut_the_next() {
        let mut rates = Rates::default();
        let t0 = Instant::now();
        rates.of("voice", 0, 0, t0, 0.0);
        let t1 = t0 + Duration::from_secs(1);
        let first = rates.of("voice", 0, 4_000, t1, 0.0);
        assert!((first.1 - 32.0).abs() < 1e-9, "{first:?}");
        // 10 ms later, no packet yet: not 0 kbit/s, the last window's 32.
        assert_eq!(
            rates.of("voice", 0, 4_000, t1 + Duration::from_millis(10), 0.0),
            first
        );
        // The next window runs from t1, not from the call 10 ms after it.
        let second = rates.of("voice", 0, 8_160, t1 + Duration::from_millis(1040), 0.0);
        assert!((second.1 - 32.0).abs() < 1e-9, "{second:?}");
    }

    #[test]
    fn counters_that_go_back_read_as_nothing_counted() {
        let mut rates = Rates::default();
        let t0 = Instant::now();
        rates.of("t1", 100, 50_000, t0, 0.0);
        // A track counted afresh (its stream started again) does not give a negative rate.
        assert_eq!(
            rates.of("t1", 3, 1_000, t0 + Duration::from_secs(1), 0.0),
            (0.0, 0.0)
        );
        // And a clock read out of order is no window.
        assert_eq!(rates.of("t1", 33, 5_000, t0, 0.0), (0.0, 0.0));
    }
}
