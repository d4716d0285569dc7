//! Clock drift between the device that plays a stimulus and the one that records it, found from
//! the stimulus itself and corrected before any analysis.
//!
//! A DUT's port and the bench's interface run on separate crystals, tens to a couple of hundred
//! ppm apart; a USB headset brings its own. The capture then holds the stimulus stretched in time
//! by the ratio of the two clocks. At 200 ppm a 0.4 s sweep ends 80 µs late, more than a period
//! at 16 kHz. A deconvolution reads that as lost top octaves, and the stretch walks a rub & buzz
//! detector's phase bins off the excitation. Every frequency also moves by the ratio, which is
//! too little to matter at 200 ppm.
//!
//! # Method
//! 1. **What tells the clock.** A stretch of the whole stimulus cannot be told from a path's
//!    group delay by a log sweep alone: the stretched sweep reaches each frequency `f` later by
//!    `L·(r − 1)·ln(f/f₁)` plus a constant, which is what an all-pass (a headset's bass resonance,
//!    a coupling high-pass) does too. Its magnitude response is therefore barely touched. A tone
//!    tells it exactly: a linear path never moves a frequency, so a tone played at `f` and
//!    recorded at `f/r` gives `r`.
//! 2. **Estimate.** Every tonal segment of the stimulus (a sine, or each line of a multitone)
//!    that came back is fitted for its frequency over the middle 60 % of where it lies in the
//!    capture ([`super::tone::fit_tone`], Hann-weighted least squares with the frequency refined;
//!    a 0.08 s tone 50 dB over the noise gives it to about 1 ppm). Each recorded channel
//!    within 20 dB of the loudest is used (crosstalk is left out). The ratio is `r = f/f_found`,
//!    the amplitude-weighted mean over all of them.
//! 3. **Correction.** A ratio within [`DRIFT_MAX`] of 1 is clock drift. The capture is resampled
//!    by `1/r` with a windowed-sinc resampler (rubato; 128 taps, Blackman–Harris², cut off at 0.89 of
//!    Nyquist, its delay removed), so that the stimulus is at its nominal rate and time.
//!    `diagnosis::measure` cuts a sequence's sweeps and multitones from it; its tones and
//!    silences, which a few hundred ppm do not move, from the capture as recorded (the
//!    resampler's cut-off would take the top of a silence's noise band away). A larger offset is no
//!    drift but a device at the wrong rate (spec §3's `rate_mismatch`, from 0.5 %). It is left
//!    alone so that the tone's frequency shows it.

use crate::stimulus::Stimulus;
use rubato::{
    calculate_cutoff, Resampler, SincFixedIn, SincInterpolationParameters, SincInterpolationType, WindowFunction,
};

/// The largest clock offset corrected as drift: 0.2 % (2000 ppm). Crystals differ by tens to a
/// couple of hundred ppm and a USB device by a few hundred; from 0.5 % it is a rate mismatch.
pub const DRIFT_MAX: f64 = 2e-3;

/// Under this offset nothing is resampled: 2 ppm moves a 10 s capture's end by 20 µs, and a
/// short tone through a quiet path (a loopback plug's −20 dB) is fitted to about 1 ppm.
pub const DRIFT_NEGLIGIBLE: f64 = 2e-6;

/// The clock offset found in a capture.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drift {
    /// Capture samples per stimulus sample: above 1 the recorder's clock runs fast against the
    /// player's.
    pub ratio: f64,
}

impl Drift {
    /// The offset in parts per million.
    pub fn ppm(&self) -> f64 {
        (self.ratio - 1.0) * 1e6
    }

    /// Whether it is drift this module corrects (not a rate mismatch, not negligible).
    pub fn correctable(&self) -> bool {
        let off = (self.ratio - 1.0).abs();
        (DRIFT_NEGLIGIBLE..=DRIFT_MAX).contains(&off)
    }
}

/// Finds the clock offset of a capture whose `channels` hold `stimulus` from sample `onset` on
/// (the stimulus's time 0), from the frequencies its tonal parts came back at. `None` when it
/// has no tone, none came back, or the offset lies further off than [`DRIFT_MAX`].
pub fn estimate(channels: &[&[f64]], rate_hz: u32, stimulus: &Stimulus, onset: f64) -> Option<Drift> {
    let rate = f64::from(rate_hz);
    // (start, seconds, frequencies) of each tonal part, in stimulus time.
    let tonal = |s: &Stimulus| -> Vec<f64> {
        match s {
            Stimulus::Sine { freq_hz, .. } => vec![*freq_hz],
            Stimulus::Multitone { freqs_hz, .. } => freqs_hz.clone(),
            _ => Vec::new(),
        }
    };
    let parts: Vec<(f64, f64, Vec<f64>)> = match stimulus {
        Stimulus::Sequence { .. } => stimulus
            .segments()
            .into_iter()
            .map(|(t, seg)| (t, seg.signal.seconds(), tonal(&seg.signal)))
            .filter(|p| !p.2.is_empty())
            .collect(),
        s => vec![(0.0, s.seconds(), tonal(s))].into_iter().filter(|p| !p.2.is_empty()).collect(),
    };
    let (mut sum, mut weight) = (0.0, 0.0);
    for (t, seconds, freqs) in parts {
        // The middle 60 %, clear of the fades and of the alignment's last samples.
        let from = (onset + (t + 0.2 * seconds) * rate).round();
        let to = (onset + (t + 0.8 * seconds) * rate).round();
        if from < 0.0 {
            continue;
        }
        let (from, to) = (from as usize, to as usize);
        for f in freqs {
            let fits: Vec<super::tone::ToneFit> = channels
                .iter()
                .filter_map(|c| c.get(from..to.min(c.len())))
                .filter_map(|x| super::tone::fit_tone(x, rate, f, true))
                .filter(|fit| fit.amplitude.is_finite() && fit.amplitude > 0.0)
                .collect();
            let loudest = fits.iter().map(|fit| fit.amplitude).fold(0.0, f64::max);
            for fit in fits.iter().filter(|fit| fit.amplitude >= 0.1 * loudest) {
                let r = f / fit.freq_hz;
                // A fit that wandered off to another line is no estimate of this one.
                if (r - 1.0).abs() <= 2.0 * DRIFT_MAX {
                    sum += fit.amplitude * r;
                    weight += fit.amplitude;
                }
            }
        }
    }
    let ratio = (weight > 0.0).then(|| sum / weight)?;
    ((ratio - 1.0).abs() <= DRIFT_MAX).then_some(Drift { ratio })
}

/// Resamples every channel by `1 / drift.ratio`, so that a stimulus the capture holds stretched
/// by the ratio comes back at its nominal rate; the resampler's delay is removed, so a sample's
/// time `t` moves to `t / ratio`.
pub fn correct(channels: &[Vec<f64>], drift: Drift) -> Result<Vec<Vec<f64>>, String> {
    let nch = channels.len();
    let len = channels.iter().map(Vec::len).max().unwrap_or(0);
    if nch == 0 || len == 0 {
        return Ok(channels.to_vec());
    }
    let ratio = 1.0 / drift.ratio;
    let sinc_len = 128;
    let window = WindowFunction::BlackmanHarris2;
    let params = SincInterpolationParameters {
        sinc_len,
        f_cutoff: calculate_cutoff(sinc_len, window),
        oversampling_factor: 256,
        interpolation: SincInterpolationType::Cubic,
        window,
    };
    let chunk = 8192.min(len.max(1));
    let mut r = SincFixedIn::<f64>::new(ratio, 1.0, params, chunk, nch).map_err(|e| e.to_string())?;
    // The filter's delay: half its length, in output frames (rubato reports it truncated).
    let delay = (0.5 * sinc_len as f64 * ratio).round() as usize;
    let want = (len as f64 * ratio).round() as usize;
    let mut out: Vec<Vec<f64>> = vec![Vec::with_capacity(want + delay + chunk); nch];
    let padded: Vec<Vec<f64>> = channels
        .iter()
        .map(|c| {
            let mut v = c.clone();
            v.resize(len, 0.0);
            v
        })
        .collect();
    let mut at = 0;
    while at < len {
        let need = r.input_frames_next();
        let produced = if at + need <= len {
            let slices: Vec<&[f64]> = padded.iter().map(|c| &c[at..at + need]).collect();
            at += need;
            r.process(&slices, None).map_err(|e| e.to_string())?
        } else {
            let slices: Vec<&[f64]> = padded.iter().map(|c| &c[at..]).collect();
            at = len;
            r.process_partial(Some(&slices), None).map_err(|e| e.to_string())?
        };
        out.iter_mut().zip(produced).for_each(|(o, p)| o.extend(p));
    }
    // Flush what the filter still holds.
    while out[0].len() < want + delay {
        let produced = r.process_partial::<&[f64]>(None, None).map_err(|e| e.to_string())?;
        if produced.first().is_none_or(Vec::is_empty) {
            break;
        }
        out.iter_mut().zip(produced).for_each(|(o, p)| o.extend(p));
    }
    Ok(out
        .into_iter()
        .map(|mut o| {
            o.drain(..delay.min(o.len()));
            o.resize(want, 0.0);
            o
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stimulus::Segment;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    fn sequence() -> Stimulus {
        let seg = |id: &str, signal: Stimulus| Segment { id: id.into(), drive: None, signal };
        Stimulus::Sequence {
            segments: vec![
                seg("tone", Stimulus::Sine { freq_hz: 1000.0, level_dbfs: -12.0, seconds: 0.08 }),
                seg("sweep", Stimulus::LogSweep { start_hz: 20.0, stop_hz: 20_000.0, level_dbfs: -12.0, seconds: 0.4 }),
            ],
            gap_s: 0.02,
        }
    }

    /// `s` as a device `ppm` off would record it after `lead_s`, over noise.
    fn stretched(s: &Stimulus, rate: u32, ppm: f64, lead_s: f64, noise: f64) -> Vec<f64> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let normal = Normal::new(0.0, noise.max(1e-300)).expect("valid");
        let r = 1.0 + ppm * 1e-6;
        let n = ((lead_s + s.seconds() * r + 0.2) * f64::from(rate)) as usize;
        (0..n).map(|i| s.value_at((i as f64 / f64::from(rate) - lead_s) / r) + normal.sample(&mut rng)).collect()
    }

    #[test]
    fn drift_is_found_to_a_ppm_and_corrected() {
        let s = sequence();
        for (rate, ppm, lead) in
            [(48_000, 200.0, 0.123), (44_100, -150.0, 0.01), (96_000, 37.0, 0.3), (48_000, -1800.0, 0.2)]
        {
            let y = stretched(&s, rate, ppm, lead, 1e-5);
            let onset = lead * f64::from(rate);
            let d = estimate(&[&y], rate, &s, onset).expect("found");
            assert!((d.ppm() - ppm).abs() < 1.0, "{rate} Hz, {ppm} ppm: found {:.2}", d.ppm());
            let fixed = correct(std::slice::from_ref(&y), d).expect("resampled");
            let again = estimate(&[&fixed[0]], rate, &s, onset / d.ratio).expect("found again");
            assert!(again.ppm().abs() < 1.0, "{rate} Hz, {ppm} ppm: {:.2} ppm left", again.ppm());
            // The same signal at the nominal rate: its length scaled, the tone's level kept.
            let expected = (y.len() as f64 / d.ratio).round() as usize;
            assert_eq!(fixed[0].len(), expected);
            let at = |x: &[f64], onset: f64| {
                let from = (onset + 0.02 * f64::from(rate)) as usize;
                crate::analysis::tone::fit_tone(&x[from..from + 2000], f64::from(rate), 1000.0, true).expect("tone")
            };
            let (before, after) = (at(&y, onset), at(&fixed[0], onset / d.ratio));
            assert!((20.0 * (after.amplitude / before.amplitude).log10()).abs() < 0.01, "{rate} Hz, {ppm} ppm");
            assert!((after.freq_hz - 1000.0).abs() < 0.01, "{rate} Hz, {ppm} ppm: {} Hz", after.freq_hz);
        }
    }

    #[test]
    fn a_rate_mismatch_is_no_drift_and_a_sweep_alone_tells_nothing() {
        let s = sequence();
        let y = stretched(&s, 48_000, 6000.0, 0.05, 1e-5);
        assert_eq!(estimate(&[&y], 48_000, &s, 0.05 * 48_000.0), None);
        let sweep = Stimulus::LogSweep { start_hz: 20.0, stop_hz: 20_000.0, level_dbfs: -12.0, seconds: 0.4 };
        let y = stretched(&sweep, 48_000, 200.0, 0.05, 1e-5);
        assert_eq!(estimate(&[&y], 48_000, &sweep, 0.05 * 48_000.0), None);
    }
}
