//! Two-channel measurements of a tone: left/right balance, relative polarity, crosstalk.
//!
//! Both channels are fitted over the same span at the same frequency ([`super::tone::fit_tone`]),
//! so their amplitudes and phases compare directly:
//! - **balance** is `20·log10(A_L / A_R)` in dB (positive: left louder);
//! - **phase** is the right channel's phase minus the left's, wrapped to (−180°, 180°]; the
//!   channels are **inverted** relative to each other when it is more than 90° away from 0 (a
//!   polarity flip shows as 180°, a small delay between ears as a few degrees);
//! - **crosstalk** is the level of the driven tone in the undriven channel relative to the driven
//!   one, `20·log10(A_other / A_driven)` in dB, from a fit at exactly the driven frequency: the
//!   fit is coherent, so crosstalk well below the broadband noise floor is still measured
//!   (the noise adds about `σ·√(3/N)` to the fitted amplitude, N samples, Hann weights).

use super::db;
use super::tone::fit_tone;

/// Balance and relative phase of a tone present on both channels.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Balance {
    /// `20·log10(A_L / A_R)`, dB.
    pub balance_db: f64,
    /// Right phase minus left phase, degrees in (−180, 180].
    pub phase_deg: f64,
    /// True when the channels are in opposite polarity (|phase| > 90°).
    pub inverted: bool,
}

/// Balance and relative phase of the tone at `freq_hz` in `left` and `right` (same length and
/// span). `None` when the span is too short or either channel carries no tone at all.
pub fn balance(left: &[f64], right: &[f64], rate_hz: f64, freq_hz: f64) -> Option<Balance> {
    let n = left.len().min(right.len());
    let l = fit_tone(&left[..n], rate_hz, freq_hz, false)?;
    let r = fit_tone(&right[..n], rate_hz, freq_hz, false)?;
    if l.amplitude <= 0.0 || r.amplitude <= 0.0 {
        return None;
    }
    let mut phase = (r.phase_rad - l.phase_rad).to_degrees() % 360.0;
    if phase > 180.0 {
        phase -= 360.0;
    } else if phase <= -180.0 {
        phase += 360.0;
    }
    Some(Balance { balance_db: db(l.amplitude) - db(r.amplitude), phase_deg: phase, inverted: phase.abs() > 90.0 })
}

/// Crosstalk from `driven` into `other` at `freq_hz`, dB (negative: the other channel is quieter).
/// `None` when the span is too short or the driven channel is silent.
pub fn crosstalk_db(driven: &[f64], other: &[f64], rate_hz: f64, freq_hz: f64) -> Option<f64> {
    let n = driven.len().min(other.len());
    let d = fit_tone(&driven[..n], rate_hz, freq_hz, false)?;
    let o = fit_tone(&other[..n], rate_hz, freq_hz, false)?;
    (d.amplitude > 0.0).then(|| db(o.amplitude) - db(d.amplitude))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};
    use std::f64::consts::PI;

    fn sine(n: usize, rate: f64, f: f64, a: f64, phase: f64) -> Vec<f64> {
        (0..n).map(|i| a * (2.0 * PI * f * i as f64 / rate + phase).sin()).collect()
    }

    fn with_noise(mut x: Vec<f64>, sigma: f64, seed: u64) -> Vec<f64> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let normal = Normal::new(0.0, sigma).expect("valid sigma");
        x.iter_mut().for_each(|v| *v += normal.sample(&mut rng));
        x
    }

    #[test]
    fn balance_and_polarity_match_the_construction() {
        let rate = 48_000.0;
        for (f, bal_db, phase_deg, inverted) in [
            (1000.0, 3.5, 180.0f64, true),
            (100.0, -6.0, 0.0, false),
            (10_000.0, 0.2, 12.0, false),
            (440.0, 0.0, -170.0, true),
        ] {
            let a = 0.3;
            let left = with_noise(sine(48_000, rate, f, a, 0.4), 1e-4, 1);
            let right = with_noise(
                sine(48_000, rate, f, a * 10f64.powf(-bal_db / 20.0), 0.4 + phase_deg.to_radians()),
                1e-4,
                2,
            );
            let b = balance(&left, &right, rate, f).expect("both carry the tone");
            // Tolerances: balance ±0.01 dB, phase ±0.1° (noise 70 dB below the tone).
            assert!((b.balance_db - bal_db).abs() < 0.01, "{f} Hz: {b:?}");
            let dphi = (b.phase_deg - phase_deg + 540.0) % 360.0 - 180.0;
            assert!(dphi.abs() < 0.1, "{f} Hz: {b:?}");
            assert_eq!(b.inverted, inverted, "{f} Hz: {b:?}");
        }
    }

    #[test]
    fn crosstalk_is_measured_below_the_noise_floor() {
        let rate = 48_000.0;
        let driven = sine(48_000, rate, 1000.0, 0.5, 0.0);
        for xt_db in [-20.0, -60.0, -80.0] {
            // Noise at −77 dBFS rms: −80 dB crosstalk is 3 dB under the broadband noise.
            let other = with_noise(sine(48_000, rate, 1000.0, 0.5 * 10f64.powf(xt_db / 20.0), 1.0), 1e-4, 3);
            let got = crosstalk_db(&driven, &other, rate, 1000.0).expect("measured");
            assert!((got - xt_db).abs() < 0.5, "{xt_db} dB: {got}");
        }
        assert!(crosstalk_db(&vec![0.0; 1000], &driven[..1000], rate, 1000.0).is_none());
    }
}
