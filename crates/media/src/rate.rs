//! Sending bitrate that follows the network: the loss-based half of Google Congestion Control
//! (draft-ietf-rmcat-gcc-02, section 6), fed with the fraction of packets lost that the
//! server's RTCP receiver reports give back to webrtcbin.
//!
//! GStreamer 1.22's webrtcbin has no bandwidth estimator (rtpgccbwe is in gst-plugins-rs,
//! not installed), so the delay-based half is missing: this controller reacts to loss, not
//! to queues building up before loss.

use std::time::Duration;

/// Loss above this fraction means the path is overloaded: back off.
pub const DECREASE_ABOVE: f64 = 0.10;
/// Loss below this fraction means there is room: probe upwards.
pub const INCREASE_BELOW: f64 = 0.02;
/// Multiplicative increase per second of clean reports.
pub const INCREASE_PER_SECOND: f64 = 1.08;

/// A loss-based bitrate controller for one video track.
#[derive(Debug, Clone, PartialEq)]
pub struct LossController {
    bitrate: f64,
    min: u32,
    max: u32,
}

impl LossController {
    /// Starts at `start`, kept within `min..=max` (bits/s).
    pub fn new(start: u32, min: u32, max: u32) -> Self {
        let (min, max) = (min.min(max), max.max(min));
        LossController {
            bitrate: f64::from(start.clamp(min, max)),
            min,
            max,
        }
    }

    /// The current target in bits/s.
    pub fn bitrate(&self) -> u32 {
        self.bitrate as u32
    }

    /// A receiver report said `fraction_lost` (0..=1) of the packets since the previous one
    /// were lost, `elapsed` after the previous update. Returns the new target.
    pub fn on_report(&mut self, fraction_lost: f64, elapsed: Duration) -> u32 {
        self.bitrate = next_bitrate(
            self.bitrate,
            fraction_lost,
            elapsed,
            f64::from(self.min),
            f64::from(self.max),
        );
        self.bitrate()
    }
}

/// GCC's loss rule as a pure function: above 10 % loss multiply by (1 - 0.5 × loss), below
/// 2 % grow 8 % per second, in between hold; clamp to `min..=max`. A NaN or out-of-range loss
/// (a broken report) holds the rate.
pub fn next_bitrate(
    current: f64,
    fraction_lost: f64,
    elapsed: Duration,
    min: f64,
    max: f64,
) -> f64 {
    let next = if !(0.0..=1.0).contains(&fraction_lost) {
        current
    } else if fraction_lost > DECREASE_ABOVE {
        current * (1.0 - 0.5 * fraction_lost)
    } else if fraction_lost < INCREASE_BELOW {
        // Cap the step: after a long silence one report must not jump straight to max.
        current * INCREASE_PER_SECOND.powf(elapsed.as_secs_f64().min(2.0))
    } else {
        current
    };
    next.clamp(min, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn heavy_loss_cuts_by_half_the_loss() {
        let b = next_bitrate(1_000_000.0, 0.2, S, 100_000.0, 2_000_000.0);
        assert!((b - 900_000.0).abs() < 1.0, "{b}");
        let b = next_bitrate(1_000_000.0, 1.0, S, 100_000.0, 2_000_000.0);
        assert!((b - 500_000.0).abs() < 1.0, "{b}");
    }

    #[test]
    fn clean_path_grows_eight_percent_a_second() {
        let b = next_bitrate(1_000_000.0, 0.0, S, 100_000.0, 2_000_000.0);
        assert!((b - 1_080_000.0).abs() < 1.0, "{b}");
        let half = next_bitrate(1_000_000.0, 0.01, S / 2, 100_000.0, 2_000_000.0);
        assert!(half > 1_030_000.0 && half < 1_050_000.0, "{half}");
    }

    #[test]
    fn moderate_loss_holds_and_bad_reports_hold() {
        for loss in [0.02, 0.05, 0.10, f64::NAN, -0.1, 1.5] {
            assert_eq!(
                next_bitrate(800_000.0, loss, S, 100_000.0, 2_000_000.0),
                800_000.0,
                "loss {loss}"
            );
        }
    }

    #[test]
    fn clamps_to_bounds() {
        assert_eq!(
            next_bitrate(1_990_000.0, 0.0, S, 1.0, 2_000_000.0),
            2_000_000.0
        );
        assert_eq!(next_bitrate(110_000.0, 0.9, S, 100_000.0, 1e9), 100_000.0);
        assert_eq!(
            next_bitrate(1_000_000.0, 0.0, Duration::from_secs(60), 1.0, 1e9),
            1_000_000.0 * 1.08f64.powi(2)
        );
    }

    #[test]
    fn controller_backs_off_under_loss_and_recovers() {
        let mut c = LossController::new(1_500_000, 150_000, 1_500_000);
        let mut rates = Vec::new();
        for _ in 0..5 {
            rates.push(c.on_report(0.3, S));
        }
        assert!(rates.windows(2).all(|w| w[1] < w[0]), "{rates:?}");
        let low = c.bitrate();
        assert!(low < 700_000, "{low}");
        for _ in 0..30 {
            c.on_report(0.0, S);
        }
        assert_eq!(c.bitrate(), 1_500_000, "back to the ceiling");
        assert_eq!(LossController::new(10, 100, 50).bitrate(), 50);
    }
}
