//! Alignment of a capture with its stimulus: latency to a fraction of a sample, gain and polarity.
//!
//! # Numerics
//! 1. **Cross-correlation** by FFT: `r[d] = Σₙ y[n]·x[n−d]` for every lag `d ≥ 0` (the capture `y`
//!    starts before the stimulus `x`), zero-padded to a fast length `≥ len(y) + len(x)` so no lag
//!    wraps. The integer lag is the one with the largest `|r[d]|`.
//! 2. **Sub-sample delay** from the phase of the cross-spectrum `R(ω) = Y(ω)·X*(ω)`: a pure delay
//!    `d + δ` makes it `|R|·e^{−jω(d+δ)}` (times −1 when inverted). With the integer part and the
//!    sign taken out, the phase is `−ω·δ`; `δ` is its slope by weighted least squares (weights
//!    `|R|`, bins above −60 dB of the largest), without a parabola's bias.
//! 3. **Gain**: `g = Σ Re(R·e^{jω(d+δ)}) / Σ|X|²`, signed: negative when the capture is inverted.
//!    `correlation` is that aligned cross sum normalised by the energies of the stimulus and of
//!    the capture under it: 1 for a clean copy, near 0 when the stimulus is not in the capture.
//!
//! A sweep, a multitone or noise aligns unambiguously. A steady sine correlates equally well a
//! whole number of periods away: its delay is only known to its envelope (the fades).

use super::spectrum::{fast_len_at_least, Spectrum};

/// Where and how strongly the stimulus appears in the capture.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Alignment {
    /// Capture sample index at which stimulus sample 0 lands (fractional).
    pub delay_samples: f64,
    /// The same in seconds: the latency of the path plus any recording lead.
    pub delay_s: f64,
    /// Linear gain from stimulus to capture; negative when the capture is polarity-inverted.
    pub gain: f64,
    /// Normalised correlation at the delay, 0..1.
    pub correlation: f64,
}

impl Alignment {
    /// True when the capture carries the stimulus inverted.
    pub fn inverted(&self) -> bool {
        self.gain < 0.0
    }
}

/// Aligns `capture` with `reference` (the stimulus as rendered at `rate_hz`). `None` when either
/// is empty or silent.
pub fn align(capture: &[f64], reference: &[f64], rate_hz: f64, spectrum: &mut Spectrum) -> Option<Alignment> {
    if capture.is_empty() || reference.is_empty() {
        return None;
    }
    let n = fast_len_at_least(capture.len() + reference.len());
    let pad = |x: &[f64]| {
        let mut v = x.to_vec();
        v.resize(n, 0.0);
        v
    };
    let y = spectrum.forward(&pad(capture));
    let x = spectrum.forward(&pad(reference));
    let cross: Vec<_> = y.iter().zip(&x).map(|(a, b)| a * b.conj()).collect();
    let r = spectrum.inverse(&cross, n);

    // 1. Integer lag, non-negative and leaving some overlap.
    let (lag, &peak) = r[..capture.len()].iter().enumerate().max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))?;
    let ref_energy: f64 = reference.iter().map(|v| v * v).sum();
    let under: f64 = capture[lag..(lag + reference.len()).min(capture.len())].iter().map(|v| v * v).sum();
    if ref_energy <= 0.0 || under <= 0.0 || peak == 0.0 {
        return None;
    }
    let sign = peak.signum();

    // 2. Fractional part from the phase slope.
    let omega = |k: usize| 2.0 * std::f64::consts::PI * k as f64 / n as f64;
    let rotated: Vec<_> = cross
        .iter()
        .enumerate()
        .map(|(k, c)| c * realfft::num_complex::Complex::from_polar(sign, omega(k) * lag as f64))
        .collect();
    let max_mag = rotated.iter().map(|c| c.norm()).fold(0.0, f64::max);
    let (mut sw, mut swx, mut swy, mut swxx, mut swxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (k, c) in rotated.iter().enumerate().skip(1) {
        let w = c.norm();
        if w < 1e-3 * max_mag {
            continue;
        }
        let (wx, ph) = (omega(k), c.arg());
        sw += w;
        swx += w * wx;
        swy += w * ph;
        swxx += w * wx * wx;
        swxy += w * wx * ph;
    }
    let det = sw * swxx - swx * swx;
    let frac = if det > 0.0 { (-(sw * swxy - swx * swy) / det).clamp(-1.0, 1.0) } else { 0.0 };
    let delay = lag as f64 + frac;

    // 3. Gain at the refined delay.
    let x_energy: f64 = x.iter().enumerate().map(|(k, c)| bin_weight(k, n) * c.norm_sqr()).sum();
    let aligned: f64 = cross
        .iter()
        .enumerate()
        .map(|(k, c)| bin_weight(k, n) * (c * realfft::num_complex::Complex::from_polar(1.0, omega(k) * delay)).re)
        .sum();
    Some(Alignment {
        delay_samples: delay,
        delay_s: delay / rate_hz,
        gain: aligned / x_energy,
        // Parseval: the one-sided sums are n times the time-domain ones.
        correlation: (aligned.abs() / n as f64 / (ref_energy * under).sqrt()).min(1.0),
    })
}

/// The lag at which `channels` (a capture's channels, each starting before the stimulus) are best
/// explained as mixes of `references` (what each output channel played, rendered at the capture's
/// rate), with any gain and sign per channel and reference, and how much of the capture's energy
/// under the stimulus that explains (0..1).
///
/// Per capture channel `y` and lag `d`, with `c_i(d) = Σₙ y[n]·x_i[n−d]` (by FFT) and the Gram
/// matrix `G_ij = Σₙ x_i[n]·x_j[n]`, the energy of `y`'s least-squares projection onto the
/// references is `c(d)ᵀ·G⁻¹·c(d)`; the lag maximises its sum over the channels. Unlike a
/// correlation with one reference, this finds a sequence whose parts came back in opposite
/// polarities (an ear that hears the left output's tone inverted against the right's: a CTIA/OMTP
/// mismatch), swapped, or with some parts cancelled. References that are copies of an earlier one
/// (every segment on every channel) count once.
pub fn locate_mix(channels: &[&[f64]], references: &[&[f64]], spectrum: &mut Spectrum) -> Option<(usize, f64)> {
    let len = channels.iter().map(|c| c.len()).max()?;
    let ref_len = references.iter().map(|r| r.len()).max()?;
    if len == 0 || ref_len == 0 {
        return None;
    }
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    // Independent references only: a copy (or a scaled copy) adds nothing to the span.
    let mut kept: Vec<&[f64]> = Vec::new();
    for r in references {
        let e = dot(r, r);
        if e <= 0.0 {
            continue;
        }
        let dependent = kept.iter().any(|k| {
            let c = dot(k, r);
            c * c >= (1.0 - 1e-9) * dot(k, k) * e
        });
        if !dependent {
            kept.push(r);
        }
        if kept.len() == 2 {
            break;
        }
    }
    if kept.is_empty() {
        return None;
    }
    let g: Vec<Vec<f64>> = kept.iter().map(|a| kept.iter().map(|b| dot(a, b)).collect()).collect();
    let n = fast_len_at_least(len + ref_len);
    let pad = |x: &[f64]| {
        let mut v = x.to_vec();
        v.resize(n, 0.0);
        v
    };
    let xs: Vec<_> = kept.iter().map(|r| spectrum.forward(&pad(r))).collect();
    let mut explained = vec![0.0; len];
    let mut under_total = vec![0.0; len];
    for y in channels.iter().filter(|c| !c.is_empty()) {
        let yf = spectrum.forward(&pad(y));
        let cs: Vec<Vec<f64>> = xs
            .iter()
            .map(|x| {
                let cross: Vec<_> = yf.iter().zip(x).map(|(a, b)| a * b.conj()).collect();
                spectrum.inverse(&cross, n)
            })
            .collect();
        let mut prefix = Vec::with_capacity(y.len() + 1);
        prefix.push(0.0);
        for v in y.iter() {
            prefix.push(prefix.last().copied().unwrap_or(0.0) + v * v);
        }
        for d in 0..y.len() {
            let e = match cs.len() {
                1 => cs[0][d] * cs[0][d] / g[0][0],
                _ => {
                    let (a, b) = (cs[0][d], cs[1][d]);
                    let det = g[0][0] * g[1][1] - g[0][1] * g[1][0];
                    (a * a * g[1][1] - 2.0 * a * b * g[0][1] + b * b * g[0][0]) / det
                }
            };
            explained[d] += e;
            under_total[d] += prefix[(d + ref_len).min(y.len())] - prefix[d];
        }
    }
    let (lag, best) = explained.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
    let under = under_total[lag];
    (under > 0.0 && *best > 0.0).then(|| (lag, (best / under).min(1.0)))
}

/// One-sided spectrum weights for Parseval sums: bins other than DC and Nyquist stand for two.
fn bin_weight(k: usize, n: usize) -> f64 {
    if k == 0 || (n.is_multiple_of(2) && k == n / 2) {
        1.0
    } else {
        2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stimulus::Stimulus;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    /// The stimulus as a capture would hold it: delayed by `delay_s` exactly (it is defined in
    /// continuous time), scaled by `gain`, over white noise.
    fn capture_of(s: &Stimulus, rate: u32, delay_s: f64, gain: f64, noise: f64, len_s: f64) -> Vec<f64> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let normal = Normal::new(0.0, noise.max(1e-300)).expect("valid");
        let r = f64::from(rate);
        (0..(len_s * r) as usize).map(|i| gain * s.value_at(i as f64 / r - delay_s) + normal.sample(&mut rng)).collect()
    }

    #[test]
    fn sweep_delay_is_found_to_a_hundredth_of_a_sample() {
        let sweep = Stimulus::LogSweep { start_hz: 20.0, stop_hz: 20_000.0, level_dbfs: -12.0, seconds: 1.0 };
        for rate in [44_100u32, 48_000, 96_000] {
            let r = f64::from(rate);
            let reference = sweep.render(rate);
            for (delay_s, gain) in [(0.123_456_7, 0.5), (0.000_01, 1.0), (0.437_91, -0.05)] {
                let y = capture_of(&sweep, rate, delay_s, gain, 1e-4, 1.7);
                let a = align(&y, &reference, r, &mut Spectrum::default()).expect("aligned");
                // Tolerances: delay ±0.01 sample, gain ±0.1 %, polarity exact.
                assert!((a.delay_samples - delay_s * r).abs() < 0.01, "{rate} {delay_s}: {a:?}");
                assert!((a.gain - gain).abs() < 1e-3 * gain.abs(), "{rate} {delay_s}: {a:?}");
                assert_eq!(a.inverted(), gain < 0.0);
                assert!(a.correlation > 0.99, "{a:?}");
            }
        }
    }

    #[test]
    fn multitone_aligns_and_noise_does_not_correlate() {
        let freqs: Vec<f64> = (1..=30).map(|k| 100.0 * f64::from(k)).collect();
        let mt = Stimulus::Multitone { freqs_hz: freqs, level_dbfs: -30.0, seconds: 0.5 };
        let reference = mt.render(48_000);
        let y = capture_of(&mt, 48_000, 0.2503, 2.0, 1e-3, 1.0);
        let a = align(&y, &reference, 48_000.0, &mut Spectrum::default()).expect("aligned");
        assert!((a.delay_s - 0.2503).abs() < 0.01 / 48_000.0, "{a:?}");
        let silence = Stimulus::Silence { seconds: 0.5 };
        let noise = capture_of(&silence, 48_000, 0.0, 0.0, 1e-3, 1.0);
        let a = align(&noise, &reference, 48_000.0, &mut Spectrum::default()).expect("some lag wins");
        assert!(a.correlation < 0.1, "{a:?}");
    }
}
