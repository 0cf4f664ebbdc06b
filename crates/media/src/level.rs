//! Audio levels in dBFS, for the microphone's input meter (and anything else that wants one).
//! Pure arithmetic over samples so it is tested without a sound card.

/// The quietest level reported: digital silence and anything under it read as this.
pub const FLOOR_DB: f64 = -100.0;

/// The level of one block of samples, in dBFS (0 = full scale).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AudioLevel {
    /// Root mean square over the block, floored at [`FLOOR_DB`].
    pub rms_db: f64,
    /// Largest absolute sample, floored at [`FLOOR_DB`].
    pub peak_db: f64,
}

impl AudioLevel {
    /// Silence.
    pub const SILENT: AudioLevel = AudioLevel {
        rms_db: FLOOR_DB,
        peak_db: FLOOR_DB,
    };
}

fn to_db(amplitude: f64) -> f64 {
    if amplitude > 0.0 {
        (20.0 * amplitude.log10()).max(FLOOR_DB)
    } else {
        FLOOR_DB
    }
}

/// RMS and peak of float samples in [-1, 1] (interleaved channels are fine: the level is over
/// all of them). Non-finite samples (a broken driver) are skipped rather than poisoning the
/// meter; an empty block is silence.
pub fn level_f32(samples: &[f32]) -> AudioLevel {
    let (mut sum, mut peak, mut n) = (0.0f64, 0.0f64, 0usize);
    for s in samples.iter().filter(|s| s.is_finite()) {
        let v = f64::from(*s).abs().min(1.0);
        sum += v * v;
        peak = peak.max(v);
        n += 1;
    }
    if n == 0 {
        return AudioLevel::SILENT;
    }
    AudioLevel {
        rms_db: to_db((sum / n as f64).sqrt()),
        peak_db: to_db(peak),
    }
}

/// RMS and peak of signed 16-bit samples.
pub fn level_i16(samples: &[i16]) -> AudioLevel {
    let floats: Vec<f32> = samples.iter().map(|s| f32::from(*s) / 32768.0).collect();
    level_f32(&floats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 0.05
    }

    #[test]
    fn full_scale_square_wave_is_zero_db() {
        let l = level_f32(&[1.0, -1.0, 1.0, -1.0]);
        assert!(close(l.rms_db, 0.0) && close(l.peak_db, 0.0), "{l:?}");
    }

    #[test]
    fn sine_rms_is_three_db_under_its_peak() {
        let sine: Vec<f32> = (0..48_000)
            .map(|i| 0.5 * (i as f32 * 440.0 * std::f32::consts::TAU / 48_000.0).sin())
            .collect();
        let l = level_f32(&sine);
        assert!(close(l.peak_db, -6.02), "{l:?}");
        assert!(close(l.rms_db, -9.03), "{l:?}");
    }

    #[test]
    fn silence_empty_and_garbage_read_as_the_floor() {
        assert_eq!(level_f32(&[0.0; 64]), AudioLevel::SILENT);
        assert_eq!(level_f32(&[]), AudioLevel::SILENT);
        assert_eq!(level_f32(&[f32::NAN, f32::INFINITY]), AudioLevel::SILENT);
        // One tiny sample far under the floor is still clamped to it.
        assert_eq!(level_f32(&[1e-9]).peak_db, FLOOR_DB);
    }

    #[test]
    fn clipped_samples_do_not_read_over_full_scale() {
        assert_eq!(level_f32(&[4.0, -3.0]).peak_db, 0.0);
    }

    #[test]
    fn sixteen_bit_samples_match_their_float_level() {
        let l = level_i16(&[16384, -16384]);
        assert!(close(l.peak_db, -6.02) && close(l.rms_db, -6.02), "{l:?}");
        assert_eq!(level_i16(&[0, 0]), AudioLevel::SILENT);
    }
}
