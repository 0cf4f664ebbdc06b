//! Video freezes as WebRTC's statistics define them: a gap between two decoded frames of at
//! least max(3 × the average frame interval, average + 150 ms), the average taken over the
//! last 30 frames.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

const WINDOW: usize = 30;
const EXTRA: Duration = Duration::from_millis(150);

/// Counts freezes in a stream of frame arrival times.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FreezeDetector {
    last: Option<Instant>,
    intervals: VecDeque<Duration>,
    sum: Duration,
    freezes: u64,
    frozen: Duration,
}

impl FreezeDetector {
    /// A frame was decoded at `now`. Returns true when the gap before it was a freeze.
    pub fn on_frame(&mut self, now: Instant) -> bool {
        let Some(last) = self.last.replace(now) else {
            return false;
        };
        let gap = now.saturating_duration_since(last);
        let frozen = match self.average() {
            Some(avg) => gap >= (avg * 3).max(avg + EXTRA),
            None => false,
        };
        if frozen {
            self.freezes += 1;
            self.frozen += gap;
        } else {
            // A freeze would drag the average up and hide the next one; keep it out.
            self.intervals.push_back(gap);
            self.sum += gap;
            if self.intervals.len() > WINDOW
                && let Some(old) = self.intervals.pop_front()
            {
                self.sum -= old;
            }
        }
        frozen
    }

    fn average(&self) -> Option<Duration> {
        // Too few intervals say nothing about the frame rate yet.
        (self.intervals.len() >= 3).then(|| self.sum / self.intervals.len() as u32)
    }

    /// Freezes so far.
    pub fn freezes(&self) -> u64 {
        self.freezes
    }

    /// Total time spent frozen.
    pub fn frozen(&self) -> Duration {
        self.frozen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(d: &mut FreezeDetector, start: Instant, at_ms: &[u64]) -> Vec<bool> {
        at_ms
            .iter()
            .map(|ms| d.on_frame(start + Duration::from_millis(*ms)))
            .collect()
    }

    #[test]
    fn steady_30fps_never_freezes() {
        let mut d = FreezeDetector::default();
        let times: Vec<u64> = (0..300).map(|i| i * 33).collect();
        assert!(feed(&mut d, Instant::now(), &times).iter().all(|f| !f));
        assert_eq!(d.freezes(), 0);
    }

    #[test]
    fn a_250ms_gap_at_30fps_is_a_freeze_but_a_100ms_one_is_not() {
        let mut d = FreezeDetector::default();
        let start = Instant::now();
        let mut times: Vec<u64> = (0..30).map(|i| i * 33).collect();
        // 33 ms average: threshold max(99, 183) = 183 ms.
        times.push(29 * 33 + 100);
        times.push(29 * 33 + 100 + 250);
        let result = feed(&mut d, start, &times);
        assert!(!result[30], "100 ms gap is not a freeze");
        assert!(result[31], "250 ms gap is a freeze");
        assert_eq!(d.freezes(), 1);
        assert_eq!(d.frozen(), Duration::from_millis(250));
    }

    #[test]
    fn at_5fps_the_threshold_is_three_intervals() {
        let mut d = FreezeDetector::default();
        let start = Instant::now();
        let mut times: Vec<u64> = (0..10).map(|i| i * 200).collect();
        // 200 ms average: threshold max(600, 350) = 600 ms, so 500 ms is no freeze; it joins
        // the average (230 ms, threshold 690 ms), and then 700 ms is one.
        times.push(9 * 200 + 500);
        times.push(9 * 200 + 500 + 700);
        let result = feed(&mut d, start, &times);
        assert!(!result[10]);
        assert!(result[11]);
    }
}
