//! Rub & buzz and high-order harmonic distortion over frequency, from a log-sweep capture.
//!
//! A voice coil that rubs its gap, or a loose part that rattles, adds short impulses at the
//! peaks of the diaphragm's excursion. They carry little energy, so THD at 1 kHz misses them,
//! but they are broadband and recur every period: what is left of the capture far above the
//! excitation's low harmonics, and peaky. The measures follow Klippel's (higher-order harmonic
//! distortion, peak ratio, crest factor of the high-passed signal; "Measurement of Impulsive
//! Distortion, Rub and Buzz and other Disturbances", AES 114th Convention, 2003) and Audio
//! Precision's rub & buzz (a tracking high-pass at a multiple of the stimulus frequency; its
//! residual's rms, peak and crest factor).
//!
//! # Method
//! 1. **Excitation at each sample.** The capture carries the sweep after the path's delay `d`
//!    (from [`super::sweep::sweep_response`]), so at capture time `t` the excitation is
//!    `f(t) = f₁·e^{(t−d)/L}`, `L = T / ln(f₂/f₁)`.
//! 2. **Tracking high-pass.** An 8th-order Butterworth high-pass (four state-variable sections in
//!    the topology-preserving form, which stays well-behaved while its cut-off moves) whose
//!    cut-off follows `order·f(t)` (`order` 10 by default). It removes DC and the fundamental by
//!    160 dB, the 3rd harmonic by 84 dB, the 5th by 48 dB. What passes is the **residual**:
//!    harmonics of about the order and above, impulses, and the noise above the cut-off.
//! 3. **Bands.** Fractional-octave bands of excitation (1/3 octave by default, centred at
//!    `f₁·2^(i/3)`), each measured over the stretch of the capture where `f(t)` is inside it,
//!    widened to at least three periods of its centre. Stretches within 5 ms of a gap the caller
//!    names (a worn contact's click, a lost block's edges) are left out. A band is measured when
//!    its stretch lies inside the sweep (10 ms before its end, and in from its start by 10 ms or
//!    the twelve time constants the filter takes to forget the fade-in, 49 ms for a sweep from
//!    20 Hz) and its top times `order` is below 0.45·rate.
//! 4. **Per band**, with `x` the capture less its mean and `r` the residual over the stretch:
//!    - `hohd_db = 20·log10(rms r / rms x)`: higher-order harmonic distortion (orders ≳ 10),
//!      relative to the whole signal (the fundamental, for any healthy path), dB;
//!    - `peak_db = 20·log10(peak r / rms x)`: the peak ratio, dB. The peak is the **second
//!      largest** of the per-period peaks (periods of the band's centre frequency), so one
//!      click or one burst of room noise does not make it; a defect that recurs with the
//!      excitation does;
//!    - `crest_db = 20·log10(peak r / rms r)`: the residual's crest factor, dB. Noise alone gives
//!      10–12 dB over a band's stretch; rubbing impulses 20 dB and more, whatever the noise.
//!    - `noise_db = 20·log10(rms n / rms x)`, `n` the capture's quiet parts (up to 0.2 s before
//!      the sweep, and from 30 ms after it) through the same high-pass at the band's centre: the
//!      noise the band would show on its own, so `peak_db − noise_db` reads a rub against the
//!      noise of its own band, whatever the noise's colour (a path that lost its top octaves has
//!      little noise above the cut-off, and little residual). A capture with no quiet part (a
//!      tight plan records the sweep alone) gives it from the band's residual: 1.4826 times its
//!      median magnitude, which is the rms for Gaussian noise and which impulses recurring at a
//!      few phases of each period leave nearly where it was. Never zero for want of quiet, and
//!      never under the rounding the samples carry (`step/√12` for samples on a grid of `step`,
//!      [`super::sample_step`], its share above the cut-off): a digital path that rounds to 16
//!      bits adds that under the sweep and records its quiet parts as exact zeros.
//!    - `locked`: how much of the residual is locked to the excitation's phase, 0..1: its
//!      coherence with the stimulus, which tells a defect from room sound over the sweep (a
//!      slam or speech raises the peaks as much, at no particular phase). Each half-period of
//!      the excitation (its phase `φ(t) = 2π·f₁·L·(e^{(t−d)/L} − 1)` folded modulo π: a
//!      diaphragm rubs at both ends of its travel) is split into `K` phase bins (8, fewer where a
//!      bin would hold under 6 samples). Each sample's residual energy, divided by the
//!      residual's mean square over the period around it (so a burst that swells or decays
//!      within a cycle spreads evenly), goes to its bin, per period; each bin keeps the **lower
//!      quartile** over the band's periods (a defect recurs in every period and stays in it;
//!      sound that comes and goes does not). With `s` the share of those quartiles in the top
//!      `⌈K/4⌉` bins and `u = ⌈K/4⌉/K` what uniform residual gives, `locked = (s − u)/(1 − u)`.
//!      Noise, room sound included, gives 0 to 0.17 (a band whose few periods a burst's edge
//!      cuts can reach 0.3, never two neighbouring bands); a rub or a buzz from about 0.2 when
//!      mild to 1.

use super::db;
use super::Dropout;
use crate::stimulus::Stimulus;
use serde::Serialize;

/// Options of [`rub_buzz`].
#[derive(Debug, Clone, Copy)]
pub struct RubBuzzOptions {
    /// The tracking high-pass's cut-off as a multiple of the excitation frequency.
    pub order: f64,
    /// Bands per octave of excitation.
    pub bands_per_octave: u32,
    /// The rounding the capture's samples carry, rms (found on them before any DC was taken off,
    /// which moves them off their grid; [`super::sample_step`]). The grid `y` itself lies on
    /// counts too.
    pub rounding_rms: f64,
}

impl Default for RubBuzzOptions {
    fn default() -> Self {
        RubBuzzOptions { order: 10.0, bands_per_octave: 3, rounding_rms: 0.0 }
    }
}

/// Rub & buzz in one band of excitation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RubBuzzPoint {
    /// The band's centre, Hz (the excitation, not the residual's frequency).
    pub freq_hz: f64,
    /// The signal's rms over the band's stretch, dBFS (0 dBFS: a full-scale sine's rms).
    pub signal_dbfs: f64,
    /// Residual rms over the signal's rms, dB: higher-order harmonic distortion.
    pub hohd_db: f64,
    /// Recurring residual peak over the signal's rms, dB: the peak ratio.
    pub peak_db: f64,
    /// Recurring residual peak over the residual's rms, dB: its crest factor.
    pub crest_db: f64,
    /// The capture's noise through the band's high-pass (its quiet parts, before and after the
    /// sweep), rms over the signal's rms, dB. `peak_db − noise_db` is the peak over the noise
    /// the band would show on its own: 10–13 dB for noise alone, whatever its colour or level.
    pub noise_db: f64,
    /// Share of the residual locked to the excitation's phase, 0..1 (see the module's notes):
    /// noise and room sound 0–0.17, a rub or buzz from about 0.2 (mild) to 1.
    #[serde(default)]
    pub locked: f64,
}

/// A band's residual counts as locked to the excitation from this share (noise gives 0 to 0.17).
pub const LOCKED_MIN: f64 = 0.2;

/// Phase bins per half-period of the excitation, at most.
const PHASE_BINS: usize = 8;

/// Butterworth pole Qs of an 8th-order high-pass, one per second-order section.
const BUTTERWORTH8_Q: [f64; 4] = [0.509_795_6, 0.601_344_9, 0.899_976_2, 2.562_915_4];

/// A state-variable filter section (topology-preserving transform): high-pass output, cut-off
/// and Q set per sample.
#[derive(Default, Clone, Copy)]
struct Svf {
    ic1: f64,
    ic2: f64,
}

impl Svf {
    /// One sample through the section; `g = tan(π·fc/rate)`, `k = 1/Q`.
    #[inline]
    fn high_pass(&mut self, v0: f64, g: f64, k: f64) -> f64 {
        let a1 = 1.0 / (1.0 + g * (g + k));
        let a2 = g * a1;
        let a3 = g * a2;
        let v3 = v0 - self.ic2;
        let v1 = a1 * self.ic1 + a2 * v3;
        let v2 = self.ic2 + a2 * self.ic1 + a3 * v3;
        self.ic1 = 2.0 * v1 - self.ic1;
        self.ic2 = 2.0 * v2 - self.ic2;
        v0 - k * v1 - v2
    }
}

/// The residual of `y` above a high-pass whose cut-off at sample `n` is `cutoff(n)` Hz, read
/// every [`CUTOFF_STEP`] samples and interpolated between (a sweep's excitation moves by under
/// 0.5 % in that time, even a 0.5 s sweep over three decades).
pub fn tracking_high_pass(y: &[f64], rate_hz: f64, cutoff: impl Fn(usize) -> f64) -> Vec<f64> {
    let mut sections = [Svf::default(); 4];
    let ks = BUTTERWORTH8_Q.map(|q| 1.0 / q);
    let limit = 0.49 * rate_hz;
    let g_at = |n: usize| (std::f64::consts::PI * cutoff(n).clamp(1.0, limit) / rate_hz).tan();
    let mut out = Vec::with_capacity(y.len());
    let mut g0 = g_at(0);
    for (b, block) in y.chunks(CUTOFF_STEP).enumerate() {
        // Linear between the block's ends: a cut-off that steps would leave a click at each step.
        let g1 = g_at((b + 1) * CUTOFF_STEP);
        out.extend(block.iter().enumerate().map(|(i, &v)| {
            let g = g0 + (g1 - g0) * i as f64 / CUTOFF_STEP as f64;
            sections.iter_mut().zip(ks).fold(v, |x, (s, k)| s.high_pass(x, g, k))
        }));
        g0 = g1;
    }
    out
}

/// Samples between updates of a tracking filter's cut-off.
const CUTOFF_STEP: usize = 16;

/// Gaussian noise's rms over its median magnitude.
const MAD_TO_RMS: f64 = 1.482_6;

/// The longest stretch of each quiet part (the one nearest the sweep) the band noise is read on.
const QUIET_MAX_S: f64 = 0.2;

/// The rms of `parts` through the high-pass at a fixed `cutoff_hz`, each part's start left out:
/// twelve time constants of the filter and 10 ms more (near Nyquist the bilinear filter rings
/// longer than its analog model, and a DC offset starts it with a step); 0 when nothing is left.
fn band_noise(parts: &[&[f64]], rate_hz: f64, cutoff_hz: f64) -> f64 {
    let skip = ((12.0 * BUTTERWORTH8_Q[3] / (std::f64::consts::PI * cutoff_hz) + 0.01) * rate_hz).ceil() as usize;
    let (mut sum, mut count) = (0.0, 0usize);
    for part in parts.iter().filter(|p| p.len() > skip) {
        let r = tracking_high_pass(part, rate_hz, |_| cutoff_hz);
        sum += r[skip..].iter().map(|v| v * v).sum::<f64>();
        count += r.len() - skip;
    }
    if count == 0 {
        0.0
    } else {
        (sum / count as f64).sqrt()
    }
}

/// Rub & buzz over frequency of `y`, a capture of the log sweep `stimulus` at `rate_hz` whose
/// impulse response peaks `delay_s` into the capture. `gaps` are left out (see the module's
/// method). Empty when the stimulus is not a sweep or no band fits.
pub fn rub_buzz(
    y: &[f64],
    stimulus: &Stimulus,
    rate_hz: f64,
    delay_s: f64,
    gaps: &[Dropout],
    opts: &RubBuzzOptions,
) -> Vec<RubBuzzPoint> {
    let Stimulus::LogSweep { start_hz, stop_hz, seconds, .. } = *stimulus else { return Vec::new() };
    if y.is_empty() || rate_hz < 1.0 || start_hz <= 0.0 || stop_hz <= start_hz || opts.order <= 1.0 {
        return Vec::new();
    }
    let l = seconds / (stop_hz / start_hz).ln();
    // The excitation at a capture time, Hz; held at the sweep's ends outside it.
    let excitation = |t: f64| start_hz * ((t - delay_s) / l).clamp(0.0, seconds / l).exp();
    // Its phase, radians (any constant offset: only its recurrence matters).
    let phase = |t: f64| 2.0 * std::f64::consts::PI * start_hz * l * (((t - delay_s) / l).exp() - 1.0);
    let residual = tracking_high_pass(y, rate_hz, |n| opts.order * excitation(n as f64 / rate_hz));
    let rounding = opts.rounding_rms.max(super::rounding_rms(super::sample_step(y)));
    // The quiet parts: before the sweep (10 ms of margin) and after it (30 ms for its decay).
    let at_most = (QUIET_MAX_S * rate_hz) as usize;
    let before = &y[..(((delay_s - 0.01) * rate_hz).max(0.0) as usize).min(y.len())];
    let after = &y[(((delay_s + seconds + 0.03) * rate_hz).max(0.0) as usize).min(y.len())..];
    let quiet: Vec<&[f64]> = [&before[before.len().saturating_sub(at_most)..], &after[..after.len().min(at_most)]]
        .into_iter()
        .filter(|q| !q.is_empty())
        .collect();

    // Running sum of the residual's energy, for its local mean square.
    let energy_before: Vec<f64> = std::iter::once(0.0)
        .chain(residual.iter().scan(0.0, |acc, v| {
            *acc += v * v;
            Some(*acc)
        }))
        .collect();
    let per_octave = f64::from(opts.bands_per_octave.max(1));
    let half = 0.5 / per_octave;
    let top = 0.45 * rate_hz / opts.order;
    // Sample index of capture time t, clamped to the capture.
    let at = |t: f64| ((t * rate_hz).round().max(0.0) as usize).min(y.len());
    // The filter starts on the sweep's fade-in: its sharpest section rings with a time constant
    // of Q/(π·fc); twelve of them (−100 dB) pass before a band is read.
    let settle = 12.0 * BUTTERWORTH8_Q[3] / (std::f64::consts::PI * opts.order * start_hz);
    let (sweep_start, sweep_end) = (delay_s + settle.max(0.01), delay_s + seconds - 0.01);
    let excluded: Vec<(f64, f64)> = gaps.iter().map(|g| (g.at_s - 0.005, g.at_s + g.ms / 1000.0 + 0.005)).collect();
    let mut points = Vec::new();
    for i in 0.. {
        let centre = start_hz * 2f64.powf(f64::from(i) / per_octave);
        let (lo, hi) = (centre * 2f64.powf(-half), centre * 2f64.powf(half));
        if hi > top || hi > stop_hz {
            break;
        }
        // The band's stretch in capture time, widened to three periods.
        let (t_lo, t_hi) = (delay_s + l * (lo / start_hz).ln(), delay_s + l * (hi / start_hz).ln());
        let period = 1.0 / centre;
        let widen = ((3.0 * period - (t_hi - t_lo)) / 2.0).max(0.0);
        let (t_lo, t_hi) = (t_lo - widen, t_hi + widen);
        if t_lo < sweep_start || t_hi > sweep_end {
            continue;
        }
        // Per period: its peak, its energy per phase bin, and the sums for the two rms values
        // (the signal's without its DC), skipping excluded stretches.
        let bins = ((0.5 * period * rate_hz / 6.0) as usize).clamp(2, PHASE_BINS);
        let half_span = ((0.5 * period * rate_hz) as usize).max(1);
        let mut phase_energy: Vec<Vec<f64>> = Vec::new();
        let (mut peaks, mut sum_r2, mut sum_x, mut sum_x2, mut count) = (Vec::new(), 0.0, 0.0, 0.0, 0usize);
        let mut magnitudes: Vec<f64> = Vec::new();
        let mut t = t_lo;
        while t + period <= t_hi + 1e-9 {
            let (a, b) = (at(t), at(t + period));
            let clear = !excluded.iter().any(|&(s, e)| t < e && t + period > s);
            if clear && b > a {
                let mut energy = vec![0.0; bins];
                for (n, r) in residual[a..b].iter().enumerate() {
                    let n = a + n;
                    let half_turns = phase(n as f64 / rate_hz) / std::f64::consts::PI;
                    let bin = ((half_turns - half_turns.floor()) * bins as f64) as usize;
                    // Against the residual's mean square over the period around the sample: what
                    // comes and goes slower than a cycle (a burst's envelope) weighs evenly.
                    let (lo, hi) = (n.saturating_sub(half_span), (n + half_span + 1).min(residual.len()));
                    let local = (energy_before[hi] - energy_before[lo]) / (hi - lo) as f64;
                    if local > 0.0 {
                        energy[bin.min(bins - 1)] += r * r / local;
                    }
                }
                phase_energy.push(energy);
                peaks.push(residual[a..b].iter().fold(0f64, |m, v| m.max(v.abs())));
                magnitudes.extend(residual[a..b].iter().map(|v| v.abs()));
                sum_r2 += residual[a..b].iter().map(|v| v * v).sum::<f64>();
                sum_x += y[a..b].iter().sum::<f64>();
                sum_x2 += y[a..b].iter().map(|v| v * v).sum::<f64>();
                count += b - a;
            }
            t += period;
        }
        let mean = sum_x / count.max(1) as f64;
        let var_x = sum_x2 / count.max(1) as f64 - mean * mean;
        if peaks.is_empty() || count == 0 || var_x <= 0.0 {
            continue;
        }
        peaks.sort_by(|a, b| b.total_cmp(a));
        let peak = peaks.get(1).copied().unwrap_or(peaks[0]);
        let rms_r = (sum_r2 / count as f64).sqrt();
        let rms_x = var_x.sqrt();
        // The band's noise from the quiet parts; a tight plan records none (the sweep from the
        // capture's first sample to its last): then from the residual itself, whose median
        // magnitude impulses at a few phases of each period barely move (for Gaussian noise
        // its rms is 1.4826 times the median magnitude).
        // Never under the rounding the samples carry under the signal (a digital path's quiet
        // parts are exact zeros): its share above the cut-off.
        let noise = match band_noise(&quiet, rate_hz, opts.order * centre) {
            n if n > 0.0 => n,
            _ => {
                let mid = magnitudes.len() / 2;
                MAD_TO_RMS * *magnitudes.select_nth_unstable_by(mid, f64::total_cmp).1
            }
        }
        .max(rounding * (1.0 - opts.order * centre / (rate_hz / 2.0)).max(0.0).sqrt());
        let locked = {
            // Each bin's lower quartile over the periods.
            let mut medians: Vec<f64> = (0..bins)
                .map(|k| {
                    let mut v: Vec<f64> = phase_energy.iter().map(|e| e[k]).collect();
                    let q = v.len() / 4;
                    *v.select_nth_unstable_by(q, f64::total_cmp).1
                })
                .collect();
            medians.sort_by(|a, b| b.total_cmp(a));
            let total: f64 = medians.iter().sum();
            let top = bins.div_ceil(4);
            let u = top as f64 / bins as f64;
            if total > 0.0 {
                ((medians[..top].iter().sum::<f64>() / total - u) / (1.0 - u)).max(0.0)
            } else {
                0.0
            }
        };
        points.push(RubBuzzPoint {
            freq_hz: centre,
            signal_dbfs: db(rms_x * std::f64::consts::SQRT_2),
            hohd_db: db(rms_r / rms_x),
            peak_db: db(peak / rms_x),
            crest_db: db(peak / rms_r.max(f64::MIN_POSITIVE)),
            noise_db: db(noise.max(f64::MIN_POSITIVE) / rms_x),
            locked,
        });
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Normal};
    use std::f64::consts::PI;

    struct Case {
        rate: f64,
        seconds: f64,
        level_dbfs: f64,
        dc: f64,
        delay: f64,
    }

    const CASES: [Case; 4] = [
        Case { rate: 48_000.0, seconds: 0.5, level_dbfs: -12.0, dc: 0.0, delay: 0.1 },
        Case { rate: 44_100.0, seconds: 1.0, level_dbfs: -30.0, dc: 0.05, delay: 0.31 },
        Case { rate: 96_000.0, seconds: 0.5, level_dbfs: -3.0, dc: -0.02, delay: 0.02 },
        Case { rate: 16_000.0, seconds: 2.0, level_dbfs: -20.0, dc: 0.1, delay: 0.2 },
    ];

    fn sweep(c: &Case) -> Stimulus {
        Stimulus::LogSweep {
            start_hz: 20.0,
            stop_hz: (c.rate / 2.0).min(20_000.0),
            level_dbfs: c.level_dbfs,
            seconds: c.seconds,
        }
    }

    /// The capture: the sweep after `delay`, plus `extra(t_in_sweep, phase, inst_hz)` while it
    /// plays, plus DC and white noise of rms `noise`.
    fn capture(c: &Case, noise: f64, seed: u64, extra: impl Fn(f64, f64, f64) -> f64) -> (Vec<f64>, Stimulus) {
        let s = sweep(c);
        let Stimulus::LogSweep { start_hz, stop_hz, seconds, .. } = s else { unreachable!() };
        let l = seconds / (stop_hz / start_hz).ln();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = Normal::new(0.0, noise.max(1e-300)).expect("normal");
        let len = ((c.delay + seconds + 0.2) * c.rate) as usize;
        let y = (0..len)
            .map(|i| {
                let t = i as f64 / c.rate - c.delay;
                let mut v = s.value_at(t) + c.dc + n.sample(&mut rng);
                if (0.0..seconds).contains(&t) {
                    let phase = 2.0 * PI * start_hz * l * (t / l).exp_m1();
                    v += crate::stimulus::fade_gain(t, seconds) * extra(t, phase, start_hz * (t / l).exp());
                }
                v
            })
            .collect();
        (y, s)
    }

    fn measure(c: &Case, y: &[f64], s: &Stimulus) -> Vec<RubBuzzPoint> {
        rub_buzz(y, s, c.rate, c.delay, &[], &RubBuzzOptions::default())
    }

    #[test]
    fn a_clean_sweep_in_noise_shows_the_noise_and_a_noise_crest() {
        for (k, c) in CASES.iter().enumerate() {
            let noise = 10f64.powf((c.level_dbfs - 70.0) / 20.0);
            let (y, s) = capture(c, noise, k as u64, |_, _, _| 0.0);
            let pts = measure(c, &y, &s);
            assert!(pts.len() >= 4, "case {k}: {} bands", pts.len());
            let a_rms = s.amplitude() / 2f64.sqrt();
            for p in &pts {
                // White noise above the cut-off 10·f (Butterworth: the brick-wall bandwidth).
                let passed = (1.0 - 10.0 * p.freq_hz / (c.rate / 2.0)).max(0.0);
                let want = db(noise * passed.sqrt() / a_rms);
                // Tolerance ±1.5 dB: band edges, the estimate of an rms over a short stretch.
                assert!((p.hohd_db - want).abs() < 1.5, "case {k} {} Hz: hohd {} vs {want}", p.freq_hz, p.hohd_db);
                // The second-largest period peak of Gaussian noise: 2.5 to 4.2 σ, against the
                // residual's rms and against the band's noise alike.
                assert!((7.0..13.5).contains(&p.crest_db), "case {k} {} Hz: crest {}", p.freq_hz, p.crest_db);
                let over = p.peak_db - p.noise_db;
                assert!((7.0..13.5).contains(&over), "case {k} {} Hz: peak over noise {over}", p.freq_hz);
                assert!(p.locked < 0.2, "case {k} {} Hz: noise locked {}", p.freq_hz, p.locked);
            }
        }
    }

    #[test]
    fn a_high_order_harmonic_of_a_tenth_of_a_percent_is_measured() {
        for (k, c) in CASES.iter().enumerate() {
            let a = 10f64.powf(c.level_dbfs / 20.0);
            let noise = a * 1e-5;
            // 0.1 % of the fundamental at order 12, where it fits below 0.45·rate.
            let top = 0.45 * c.rate;
            let (y, s) = capture(c, noise, 10 + k as u64, |_, ph, f| {
                if 12.0 * f < top {
                    0.001 * a * (12.0 * ph + 0.4).sin()
                } else {
                    0.0
                }
            });
            let pts = measure(c, &y, &s);
            let inside: Vec<_> = pts.iter().filter(|p| 12.0 * p.freq_hz * 2f64.powf(1.0 / 6.0) < top).collect();
            assert!(inside.len() >= 4, "case {k}");
            for p in inside {
                // Tolerance ±1 dB around −60 dB.
                assert!((p.hohd_db + 60.0).abs() < 1.0, "case {k} {} Hz: {}", p.freq_hz, p.hohd_db);
            }
        }
    }

    #[test]
    fn low_order_distortion_does_not_pass_and_recurring_impulses_do() {
        let c = &CASES[0];
        let a = 10f64.powf(c.level_dbfs / 20.0);
        let noise = a * 10f64.powf(-80.0 / 20.0);
        // 10 % THD of 2nd and 3rd order: nothing of it may pass (below −70 dB of residual).
        let (y, s) = capture(c, noise, 3, |_, ph, _| a * (0.07 * (2.0 * ph).sin() + 0.07 * (3.0 * ph).sin()));
        for p in measure(c, &y, &s) {
            assert!(p.hohd_db < -70.0, "{} Hz: hohd {}", p.freq_hz, p.hohd_db);
        }
        // A rub after every positive peak between 100 and 400 Hz: a 6 kHz ring of 1 % of the
        // amplitude decaying in 0.2 ms, whose crest is 0.82 of that: a peak ratio of
        // 20·log10(0.0082·√2) = −38.7 dB there, and a crest far over noise's.
        let (y, s) = capture(c, noise, 4, |_, ph, f| {
            let since = (ph - PI / 2.0).rem_euclid(2.0 * PI) / (2.0 * PI * f);
            if (100.0..400.0).contains(&f) && since < 0.001 {
                0.01 * a * (-since / 0.0002).exp() * (2.0 * PI * 6_000.0 * since).sin()
            } else {
                0.0
            }
        });
        let pts = measure(c, &y, &s);
        for p in pts.iter().filter(|p| (140.0..300.0).contains(&p.freq_hz)) {
            // Tolerance −3/+1.2 dB: the crest between samples, and the high-pass's phase, which
            // spreads the ring (−1.5 dB here).
            assert!((-41.7..-37.5).contains(&p.peak_db), "{} Hz: peak {}", p.freq_hz, p.peak_db);
            // A ring of energy (0.01·a)²·τ/4 a period: crest √(period·4/τ)·0.82, 16 dB and up
            // below 300 Hz once the filter's phase is counted; noise stays under 13.5 dB.
            assert!(p.crest_db > 15.0, "{} Hz: crest {}", p.freq_hz, p.crest_db);
            // Once a cycle at the same phase: locked to the excitation.
            assert!(p.locked > 0.5, "{} Hz: locked {}", p.freq_hz, p.locked);
        }
        for p in pts.iter().filter(|p| p.freq_hz > 600.0) {
            assert!(p.peak_db < -60.0, "{} Hz: peak {}", p.freq_hz, p.peak_db);
        }
    }

    #[test]
    fn one_click_does_not_make_a_band_s_peak_and_a_named_gap_is_left_out() {
        let c = &CASES[0];
        let a = 10f64.powf(c.level_dbfs / 20.0);
        let noise = a * 1e-4;
        let click_at = 0.2; // s into the sweep
        let (y, s) = capture(c, noise, 5, |t, _, _| if (t - click_at).abs() < 0.5 / c.rate { 0.3 * a } else { 0.0 });
        let pts = measure(c, &y, &s);
        let worst = pts.iter().map(|p| p.peak_db).fold(f64::MIN, f64::max);
        assert!(worst < -60.0, "one click made a peak of {worst} dB");
        // Two clicks a period apart do; named as a gap, they are left out again.
        let (y, s) = capture(c, noise, 6, |t, _, f| {
            let second = click_at + 1.0 / f;
            if (t - click_at).abs() < 0.5 / c.rate || (t - second).abs() < 0.5 / c.rate {
                0.3 * a
            } else {
                0.0
            }
        });
        let pts = measure(c, &y, &s);
        assert!(pts.iter().any(|p| p.peak_db > -40.0), "{pts:?}");
        let gap = [Dropout { at_s: c.delay + click_at, ms: 1000.0 * 2.5 / 150.0 }];
        let pts = rub_buzz(&y, &s, c.rate, c.delay, &gap, &RubBuzzOptions::default());
        let worst = pts.iter().map(|p| p.peak_db).fold(f64::MIN, f64::max);
        assert!(worst < -60.0, "a named gap still made a peak of {worst} dB");
    }

    #[test]
    fn a_burst_of_room_noise_raises_the_peaks_but_is_not_locked_to_the_sweep() {
        // Band-limited noise bursts 20 dB under the sweep, 200 ms long, at three places in the
        // sweep, on every case (rate, level, DC, delay).
        for (k, c) in CASES.iter().enumerate() {
            let a = 10f64.powf(c.level_dbfs / 20.0);
            let mut rng = ChaCha8Rng::seed_from_u64(40 + k as u64);
            let hiss = Normal::new(0.0, 0.1 * a).expect("normal");
            let n = (c.rate * (c.seconds + 2.0 * c.delay + 0.3)) as usize;
            let burst: Vec<f64> = (0..n).map(|_| hiss.sample(&mut rng)).collect();
            for start in [0.05, 0.15, 0.25] {
                let (y, s) = capture(c, a * 1e-4, 20 + k as u64, |t, _, _| {
                    if (start..start + 0.2).contains(&t) {
                        burst[((t * c.rate) as usize).min(n - 1)]
                    } else {
                        0.0
                    }
                });
                let pts = measure(c, &y, &s);
                let loud = pts.iter().filter(|p| p.peak_db - p.noise_db > 20.0).count();
                assert!(loud > 0, "case {k} at {start}: the burst should show in the peaks");
                // Noise gives under 0.2; a band that the burst's edge cuts (a few periods at a low
                // frequency) may reach more, but never two neighbours.
                for w in pts.windows(2) {
                    let least = w[0].locked.min(w[1].locked);
                    assert!(least < LOCKED_MIN, "case {k} at {start}, {} Hz: locked {least}", w[0].freq_hz);
                }
                let many = pts.iter().filter(|p| p.locked >= 0.2).count();
                assert!(many <= 1, "case {k} at {start}: {many} bands locked");
            }
        }
    }

    /// A digital path that rounds to `bits` bits, with no noise of its own: its quiet parts are
    /// exact zeros and the rounding lies under the sweep. Each band's noise is then that rounding's
    /// share above the cut-off (±2 dB, as read from the residual when the quiet parts give none),
    /// and its peaks stand over it as noise's do (5–13.5 dB: rounding's peaks are bounded), never
    /// the 200 dB over zero that once read as room sound.
    #[test]
    fn a_rounded_sweep_with_silent_quiet_parts_reads_the_rounding_as_its_noise() {
        for (k, c) in CASES.iter().enumerate() {
            for bits in [16, 20, 24] {
                let q = 2f64.powi(1 - bits);
                let (y, s) = capture(c, 0.0, 80 + k as u64, |_, _, _| 0.0);
                // No DC: its rounding would be a constant, not noise.
                let y: Vec<f64> = y.iter().map(|v| ((v - c.dc) / q).round() * q).collect();
                assert_eq!(crate::analysis::sample_step(&y), q, "case {k}, {bits} bits");
                let pts = measure(c, &y, &s);
                assert!(pts.len() >= 4, "case {k}: {} bands", pts.len());
                let a_rms = s.amplitude() / 2f64.sqrt();
                for p in &pts {
                    let passed = (1.0 - 10.0 * p.freq_hz / (c.rate / 2.0)).max(0.0);
                    let want = db(q / 12f64.sqrt() * passed.sqrt() / a_rms);
                    assert!(
                        (p.noise_db - want).abs() < 2.0,
                        "case {k}, {bits} bits, {} Hz: noise {} vs {want}",
                        p.freq_hz,
                        p.noise_db
                    );
                    let over = p.peak_db - p.noise_db;
                    assert!(
                        (5.0..13.5).contains(&over),
                        "case {k}, {bits} bits, {} Hz: peak over noise {over}",
                        p.freq_hz
                    );
                }
            }
        }
    }

    /// A tight plan's capture holds the sweep alone: no quiet before or after it. The band's
    /// noise then comes from its residual: within 2 dB of the noise through the band (the same
    /// as with quiet parts), and a rub stands as far over it as it does with quiet around it.
    #[test]
    fn without_quiet_parts_the_noise_is_read_from_the_residual_and_a_rub_still_stands_out() {
        for (k, c) in CASES.iter().enumerate() {
            let a = 10f64.powf(c.level_dbfs / 20.0);
            let noise = a * 10f64.powf(-70.0 / 20.0);
            let rub = |_: f64, ph: f64, f: f64| {
                let since = (ph - PI / 2.0).rem_euclid(2.0 * PI) / (2.0 * PI * f);
                if (100.0..400.0).contains(&f) && since < 0.001 {
                    0.01 * a * (-since / 0.0002).exp() * (2.0 * PI * 0.1 * c.rate * since).sin()
                } else {
                    0.0
                }
            };
            let (with_quiet, s) = capture(c, noise, 60 + k as u64, rub);
            // The same capture cut to the sweep: from its first sample to its last.
            let Stimulus::LogSweep { seconds, .. } = s else { unreachable!() };
            let from = (c.delay * c.rate).round() as usize;
            let to = (((c.delay + seconds) * c.rate).round() as usize).min(with_quiet.len());
            let tight = &with_quiet[from..to];
            let quiet_pts = measure(c, &with_quiet, &s);
            let tight_pts = rub_buzz(tight, &s, c.rate, 0.0, &[], &RubBuzzOptions::default());
            assert!(tight_pts.len() >= 4, "case {k}: {} bands", tight_pts.len());
            let a_rms = a / 2f64.sqrt();
            for p in &tight_pts {
                assert!(p.noise_db > -200.0, "case {k} {} Hz: no noise read ({})", p.freq_hz, p.noise_db);
                let Some(q) = quiet_pts.iter().find(|q| (q.freq_hz / p.freq_hz - 1.0).abs() < 1e-9) else { continue };
                // The band's edges against the rub's 100–400 Hz: inside, outside, or across.
                let (lo, hi) = (p.freq_hz * 2f64.powf(-1.0 / 6.0), p.freq_hz * 2f64.powf(1.0 / 6.0));
                let (inside, outside) = (lo >= 100.0 && hi <= 400.0, hi <= 100.0 || lo >= 400.0);
                if outside {
                    // Noise alone: the residual's estimate against the quiet parts', ±2 dB.
                    let passed = (1.0 - 10.0 * p.freq_hz / (c.rate / 2.0)).max(0.0);
                    let want = db(noise * passed.sqrt() / a_rms);
                    assert!(
                        (p.noise_db - want).abs() < 2.0,
                        "case {k} {} Hz: noise {} vs {want}",
                        p.freq_hz,
                        p.noise_db
                    );
                } else if inside {
                    // The rub over the noise: within 3 dB of what the quiet parts give.
                    let (over_tight, over_quiet) = (p.peak_db - p.noise_db, q.peak_db - q.noise_db);
                    assert!(over_tight > 13.5, "case {k} {} Hz: rub {over_tight} dB over noise", p.freq_hz);
                    assert!(
                        (over_tight - over_quiet).abs() < 3.0,
                        "case {k} {} Hz: {over_tight} vs {over_quiet}",
                        p.freq_hz
                    );
                }
            }
        }
    }
}
