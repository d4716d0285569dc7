//! Measurement of one steady segment: fundamental, harmonics, hum, noise, DC.
//!
//! # Numerics
//! 1. **Find** the tone: 4-term Blackman–Harris power spectrum of the segment, highest bin in
//!    20 Hz–20 kHz (or within ±10 % of a given frequency), refined by a parabola through the
//!    log-powers of that bin and its neighbours. The tone counts as present when that bin stands
//!    20 dB above the noise density around it (the median of the bins within a quarter of its
//!    frequency either side: real noise is coloured). Silence captures skip this step.
//! 2. **Fit** the fundamental: a window-weighted four-parameter least-squares sine fit
//!    (IEEE 1057 style: `a·cos ωt + b·sin ωt + c`, Gauss–Newton on `ω`) gives frequency,
//!    amplitude `A₁ = √(a²+b²)` and DC `c` without scalloping loss. The weights are a window that
//!    keeps hum and harmonics from biasing it: Hann when every other line is 24 bins or more
//!    away (its sidelobes are then below −90 dB and its 1.5-bin noise bandwidth scatters the
//!    level least), else the window of step 4. The segment is the whole steady part up to 1 s,
//!    trimmed to a length with prime factors 2, 3, 5, 7 only (fast FFTs).
//! 3. **Subtract** the fit and take the windowed power spectrum of the residual. Harmonics
//!    (`k·f₀` up to 20 kHz or Nyquist) and the 50/60 Hz hum family (up to 1 kHz) are measured as
//!    the energy in their main lobes (Parseval, see [`super::spectrum`]) less the expected noise
//!    in those bins; hum components count only when they rise [`HUM_SIGMAS`] standard deviations
//!    above that noise, harmonics when they rise [`HARMONIC_SIGMAS`]: a lobe of noise alone
//!    exceeds its mean half the time, and nineteen such excesses would add up to a THD of a
//!    noisy capture's noise, not of its distortion. Noise is the mean power of the remaining
//!    in-band bins times the band's width.
//! 4. The window for harmonics and hum is the 7-term Blackman–Harris when those lines are at
//!    least 17 bins apart, else the 4-term, else Hann (see `choose_window`); the segment is long
//!    enough for the tone's own harmonics to be 17 bins apart from 20 Hz up ([`segment_len_for`]).
//!    Noise is always summed through the 7-term window, whose sidelobes keep the lines out of it.
//!
//! Definitions are those of spec §5: level in dBFS of the peak amplitude (a full-scale sine is
//! 0 dBFS), THD in % over harmonics 2…, THD+N in dB relative to everything in 20 Hz–20 kHz,
//! noise and hum as rms in dBFS where a full-scale sine's rms is 0 dBFS.

use super::spectrum::{mean_square, Spectrum};
use super::window::{Window, WindowKind};
use std::f64::consts::PI;

/// The measurement band, in Hz (capped at Nyquist).
pub const BAND_HZ: (f64, f64) = (20.0, 20_000.0);
/// Hum is measured up to this frequency, in Hz.
pub const HUM_MAX_HZ: f64 = 1_000.0;
/// A hum line counts when its lobe holds this many standard deviations more than the noise
/// expected there (the lobe sum is Gamma-distributed; 10 puts a false line near 1e-8).
pub const HUM_SIGMAS: f64 = 10.0;
/// A harmonic counts when its lobe holds this many standard deviations more than the noise
/// expected there (a false one near 1e-5 a harmonic).
pub const HARMONIC_SIGMAS: f64 = 5.0;
/// Mains frequencies whose families are looked for.
pub const MAINS_HZ: [f64; 2] = [50.0, 60.0];

/// The sine found in a segment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fundamental {
    pub freq_hz: f64,
    /// Peak amplitude, full scale = 1.0.
    pub amplitude: f64,
    /// Phase in radians at the segment's first sample, of `A·cos(ωt + φ)`.
    pub phase_rad: f64,
    /// Whether the tone stood clearly above the noise (else it was measured at a given frequency).
    pub present: bool,
}

/// One harmonic of the fundamental.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Harmonic {
    pub order: u32,
    pub freq_hz: f64,
    /// Peak amplitude, full scale = 1.0 (noise contribution removed, so it can be 0).
    pub amplitude: f64,
}

/// Mains hum found in a segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Hum {
    /// 50 or 60.
    pub mains_hz: f64,
    /// rms of the family's components that rose above the noise.
    pub rms: f64,
    /// `(frequency, peak amplitude)` of each of those components.
    pub components: Vec<(f64, f64)>,
}

/// Everything measured on one segment.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentMeasurement {
    pub fundamental: Option<Fundamental>,
    pub dc: f64,
    pub harmonics: Vec<Harmonic>,
    /// The harmonics' power all told, with the noise in their lobes taken out (see
    /// [`SegmentMeasurement::thd_percent`]).
    pub harmonic_power: HarmonicPower,
    /// rms of the noise in the band (DC, tone, harmonics and hum removed).
    pub noise_rms: f64,
    pub hum: Option<Hum>,
    pub window: WindowKind,
    /// Whether the tone's peaks are held flat below where its fundamental would take them
    /// (see [`flat_topped`]).
    pub flat_top: bool,
}

/// The harmonics' lobes all told, as the squared peak amplitude `ΣAₖ²` they hold beyond the
/// noise expected in them (`total`, signed: noise alone sums to zero on average), the standard
/// deviation noise alone gives that sum (`noise_sd`), and how many of its own standard
/// deviations the clearest single harmonic stands over its noise (`clearest`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HarmonicPower {
    pub total: f64,
    pub noise_sd: f64,
    pub clearest: f64,
}

/// A single harmonic shows distortion on its own from this many standard deviations of its
/// lobe's noise: the lobe's sum has a long tail (a few correlated bins), which puts 5 σ near one
/// false line in a hundred; 8 σ near one in 10⁵.
pub const HARMONIC_ALONE_SIGMAS: f64 = 8.0;

impl HarmonicPower {
    /// Whether the harmonics stand clear of the noise in their lobes: all told by
    /// [`HARMONIC_SIGMAS`] standard deviations of noise alone, or one of them by
    /// [`HARMONIC_ALONE_SIGMAS`] of its own.
    pub fn measured(&self) -> bool {
        self.total > HARMONIC_SIGMAS * self.noise_sd || self.clearest > HARMONIC_ALONE_SIGMAS
    }

    /// The most `ΣAₖ²` that could hide in the noise: the threshold of [`Self::measured`].
    pub fn hidden(&self) -> f64 {
        HARMONIC_SIGMAS * self.noise_sd
    }
}

impl SegmentMeasurement {
    /// THD in percent: `100·√(ΣAₖ²)/A₁` over the harmonics that stand over the noise in their
    /// own lobes, each less that noise; `None` without a tone. Where the harmonics do not stand
    /// clear of the noise all told ([`HarmonicPower::measured`]), a lobe that noise alone lifted
    /// over its threshold is no distortion: the THD is 0, below the noise, and
    /// [`SegmentMeasurement::thd_floor_percent`] says how much could hide there.
    pub fn thd_percent(&self) -> Option<f64> {
        let f = self.fundamental.filter(|f| f.present)?;
        if !self.harmonic_power.measured() {
            return Some(0.0);
        }
        let h2: f64 = self.harmonics.iter().map(|h| h.amplitude * h.amplitude).sum();
        Some(100.0 * h2.sqrt() / f.amplitude)
    }

    /// The THD that the noise in the harmonics' bins could hide, %, when the harmonics do not
    /// stand clear of it (`None` when they do, or without a tone): the THD is below the noise,
    /// under this.
    pub fn thd_floor_percent(&self) -> Option<f64> {
        let f = self.fundamental.filter(|f| f.present)?;
        let h = self.harmonic_power;
        (!h.measured()).then(|| 100.0 * h.hidden().sqrt() / f.amplitude)
    }

    /// THD+N in dB: everything but the fundamental relative to everything, in the band.
    pub fn thd_n_db(&self) -> Option<f64> {
        let f = self.fundamental.filter(|f| f.present)?;
        let h: f64 = self.harmonics.iter().map(|h| h.amplitude * h.amplitude / 2.0).sum();
        let hum = self.hum.as_ref().map_or(0.0, |h| h.rms * h.rms);
        let rest = h + hum + self.noise_rms * self.noise_rms;
        let total = rest + f.amplitude * f.amplitude / 2.0;
        Some(10.0 * (rest / total).log10())
    }
}

/// The segment length, in samples, that [`measure_segment`] wants for a tone at `freq_hz`:
/// 1 s (or as much of the steady part as there is: the fit's variance falls with its length;
/// a 1 s fit holds −80 dBFS at 16 bits to ±0.05 dB), and at least long enough that harmonics
/// lie 17 bins apart (the 7-term window's lobes).
pub fn segment_len_for(freq_hz: Option<f64>, rate_hz: f64) -> usize {
    let want_s: f64 = 1.0;
    let s = match freq_hz {
        Some(f) if f > 0.0 => want_s.max(18.0 / f),
        _ => want_s,
    };
    (s * rate_hz).round() as usize
}

/// What to look for in a segment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ToneSearch {
    /// The strongest line in 20 Hz–20 kHz, if it stands clear of the noise.
    Find,
    /// A line within ±10 % of this frequency; if none, the level at exactly this frequency.
    Near(f64),
    /// No tone is expected (a silence capture): only DC, hum and noise are measured, so a strong
    /// hum is measured as hum rather than taken for the tone.
    Absent,
}

/// Measures a steady segment `x` sampled at `rate_hz`, looking for the tone as `search` says.
pub fn measure_segment(x: &[f64], rate_hz: f64, search: ToneSearch, spectrum: &mut Spectrum) -> SegmentMeasurement {
    measure_segment_masked(x, rate_hz, search, spectrum, None)
}

/// [`measure_segment`] with the samples where `keep` is false (gaps) left out: the fit gives them
/// no weight, the residual is zero there, and the residual's power is scaled by the window energy
/// kept, `Σw²/Σ(w²·keep)`. A short capture whose gaps leave no long clean stretch is measured so.
pub fn measure_segment_masked(
    x: &[f64],
    rate_hz: f64,
    search: ToneSearch,
    spectrum: &mut Spectrum,
    keep: Option<&[bool]>,
) -> SegmentMeasurement {
    let n = x.len();
    let mean = x.iter().sum::<f64>() / n.max(1) as f64;
    if n < 64 {
        return SegmentMeasurement {
            fundamental: None,
            dc: mean,
            harmonics: Vec::new(),
            harmonic_power: HarmonicPower::default(),
            noise_rms: 0.0,
            hum: None,
            window: WindowKind::Hann,
            flat_top: false,
        };
    }
    let nyquist = rate_hz / 2.0;
    let band_hi = BAND_HZ.1.min(nyquist);
    let bin_hz = rate_hz / n as f64;

    // 1. Find the tone.
    let found = match search {
        ToneSearch::Absent => None,
        ToneSearch::Find => find_peak(x, mean, rate_hz, None, band_hi, spectrum),
        ToneSearch::Near(f) => find_peak(x, mean, rate_hz, Some(f), band_hi, spectrum),
    };
    let (omega0, present) = match (found, search) {
        (Some(f), _) => (2.0 * PI * f / rate_hz, true),
        (None, ToneSearch::Near(f)) => (2.0 * PI * f / rate_hz, false),
        (None, _) => (0.0, false),
    };

    // Every hum line that could be there: both families, up to 1 kHz.
    let hum_lines: Vec<(f64, f64)> = MAINS_HZ
        .iter()
        .flat_map(|&m| (1..).map(move |k| (m, m * f64::from(k))).take_while(|(_, f)| *f <= HUM_MAX_HZ))
        .filter(|(_, f)| *f <= band_hi)
        .collect();
    let spacing = line_spacing_bins(omega0 * rate_hz / (2.0 * PI), &hum_lines, band_hi, bin_hz);
    let kind = choose_window(spacing);
    let window = spectrum.window(kind, n);

    // 2. Fit the fundamental (or only DC when there is no tone).
    fn with_mask<'a>(w: &'a [f64], keep: Option<&[bool]>) -> std::borrow::Cow<'a, [f64]> {
        match keep {
            Some(k) => w.iter().zip(k).map(|(&w, &k)| if k { w } else { 0.0 }).collect(),
            None => std::borrow::Cow::Borrowed(w),
        }
    }
    let fit = if omega0 > 0.0 {
        if spacing >= HANN_FIT_MIN_SPACING_BINS {
            let hann = spectrum.window(WindowKind::Hann, n);
            fit_sine(x, &with_mask(&hann.w, keep), omega0, present)
        } else {
            fit_sine(x, &with_mask(&window.w, keep), omega0, present)
        }
    } else {
        fit_dc(x, &with_mask(&window.w, keep))
    };
    let mut residual = fit.residual(x);
    if let Some(k) = keep {
        residual.iter_mut().zip(k).filter(|(_, &k)| !k).for_each(|(r, _)| *r = 0.0);
    }
    // The window energy the gaps took away.
    let kept_share = |w: &Window| -> f64 {
        let kept: f64 = with_mask(&w.w, keep).iter().map(|v| v * v).sum();
        if kept > 0.0 {
            w.sum_sq / kept
        } else {
            1.0
        }
    };
    let scaled = |mut p: Vec<f64>, w: &Window| -> Vec<f64> {
        if keep.is_some() {
            let g = kept_share(w);
            p.iter_mut().for_each(|v| *v *= g);
        }
        p
    };

    // 3. Spectrum of the residual.
    let power = scaled(spectrum.power(&residual, &window), &window);
    let lobe = kind.lobe_bins();
    let last_bin = power.len() - 1;
    let to_bin = |f: f64| f / bin_hz;
    let band = (to_bin(BAND_HZ.0).ceil() as usize, (to_bin(band_hi).floor() as usize).min(last_bin));
    let mut tonal = vec![false; power.len()];
    let mark = |centre: f64, tonal: &mut Vec<bool>| {
        let (lo, hi) = lobe_range(centre, lobe, last_bin);
        tonal[lo..=hi].iter_mut().for_each(|t| *t = true);
    };

    let mut harmonic_centres = Vec::new();
    let f0 = fit.omega * rate_hz / (2.0 * PI);
    if present {
        mark(to_bin(f0), &mut tonal);
        let mut k = 2u32;
        while f64::from(k) * f0 <= band_hi && f64::from(k) * f0 < nyquist {
            let c = to_bin(f64::from(k) * f0);
            mark(c, &mut tonal);
            harmonic_centres.push((k, c));
            k += 1;
        }
    }

    // Hum: each family's lines that do not share bins with the tone's lobes and peak where
    // they should (a 50 Hz line seen from the 60 Hz line's lobe peaks off-centre). The noise
    // they are judged against leaves out every hum line's lobe, whether or not it holds a line.
    let harmonic_tonal = tonal.clone();
    for &(_, f) in &hum_lines {
        mark(to_bin(f), &mut tonal);
    }
    let noise = LocalNoise::new(&power, &tonal);
    // The power a line's lobe holds beyond the noise expected there, when that excess is over
    // `sigmas` standard deviations of the lobe's noise (its bins are correlated by the window).
    let excess = |c: f64, sigmas: f64| -> Option<f64> {
        let (lo, hi) = lobe_range(c, lobe, last_bin);
        let s: f64 = power[lo..=hi].iter().sum();
        let width = (hi - lo + 1) as f64;
        let psd = noise.mean_around(c, lobe);
        (s > psd * (width + sigmas * (width * window.enbw_bins()).sqrt())).then_some(s - psd * width)
    };
    // Below a billionth of the signal's peak (−180 dB) a "line" is arithmetic rounding, not hum:
    // a noiseless tone would otherwise show hum against a noise estimate of zero.
    let rounding_amplitude = 1e-9 * x.iter().fold(0f64, |m, v| m.max(v.abs()));
    let mut best: Option<Hum> = None;
    for mains in MAINS_HZ {
        let mut comps = Vec::new();
        let mut ms = 0.0;
        for &(_, f) in hum_lines.iter().filter(|(m, _)| *m == mains) {
            let c = to_bin(f);
            let (lo, hi) = lobe_range(c, lobe, last_bin);
            if harmonic_tonal[lo..=hi].iter().any(|t| *t) {
                continue;
            }
            let peak = (lo..=hi).max_by(|&a, &b| power[a].total_cmp(&power[b])).unwrap_or(lo);
            if (peak as f64 - c).abs() > 1.0 {
                continue;
            }
            let Some(e) = excess(c, HUM_SIGMAS) else { continue };
            let p = mean_square(e, &window);
            if (2.0 * p).sqrt() > rounding_amplitude {
                ms += p;
                comps.push((f, (2.0 * p).sqrt()));
            }
        }
        if !comps.is_empty() && best.as_ref().is_none_or(|b| ms > b.rms * b.rms) {
            best = Some(Hum { mains_hz: mains, rms: ms.sqrt(), components: comps });
        }
    }

    // Harmonic amplitudes, each less the noise expected in its lobe; 0 when not clearly above it.
    let harmonics = harmonic_centres
        .iter()
        .map(|&(order, c)| {
            let e = excess(c, HARMONIC_SIGMAS).unwrap_or(0.0);
            Harmonic { order, freq_hz: c * bin_hz, amplitude: (2.0 * mean_square(e, &window)).sqrt() }
        })
        .collect();
    // The harmonics' power all told, each lobe less the noise expected in it (signed: noise alone
    // sums to zero on average, where lobes kept only above a threshold would each add their
    // luck), against the spread that noise alone gives that sum.
    let (mut total, mut spread2, mut clearest) = (0.0, 0.0, 0.0f64);
    for &(_, c) in &harmonic_centres {
        let (lo, hi) = lobe_range(c, lobe, last_bin);
        let width = (hi - lo + 1) as f64;
        let psd = noise.mean_around(c, lobe);
        let e = power[lo..=hi].iter().sum::<f64>() - psd * width;
        let sd = psd * (width * window.enbw_bins()).sqrt();
        total += e;
        spread2 += sd * sd;
        if sd > 0.0 {
            clearest = clearest.max(e / sd);
        } else if e > 0.0 {
            clearest = f64::INFINITY;
        }
    }
    // As the squared peak amplitude of one sine holding that power.
    let to_amplitude2 = |p: f64| 2.0 * mean_square(p, &window);
    let harmonic_power =
        HarmonicPower { total: to_amplitude2(total), noise_sd: to_amplitude2(spread2.sqrt()), clearest };

    // Noise over the whole band from the mean of its non-tonal bins, always through the 7-term
    // window: a narrower one resolves lines but leaks them into the noise.
    // Through narrower windows when the 7-term's lobes leave no bin between the lines (a low
    // tone's harmonics on a short segment).
    let mut centres: Vec<f64> = harmonic_centres.iter().map(|&(_, c)| c).collect();
    centres.extend(hum_lines.iter().map(|&(_, f)| to_bin(f)));
    if present {
        centres.push(to_bin(f0));
    }
    let mut noise_through = |k: WindowKind| -> Option<f64> {
        if k == kind {
            return band_noise(&power, &tonal, band, &window);
        }
        let w = spectrum.window(k, n);
        let p = scaled(spectrum.power(&residual, &w), &w);
        let mut t = vec![false; p.len()];
        for &c in &centres {
            let (lo, hi) = lobe_range(c, k.lobe_bins(), last_bin);
            t[lo..=hi].iter_mut().for_each(|t| *t = true);
        }
        band_noise(&p, &t, band, &w)
    };
    let noise_ms = WindowKind::BY_PREFERENCE.into_iter().find_map(&mut noise_through).unwrap_or(0.0);

    SegmentMeasurement {
        fundamental: (omega0 > 0.0).then(|| Fundamental {
            freq_hz: f0,
            amplitude: fit.amplitude(),
            phase_rad: fit.phase_at_start(n),
            present,
        }),
        dc: fit.c,
        harmonics,
        harmonic_power,
        noise_rms: noise_ms.sqrt(),
        hum: best,
        window: kind,
        flat_top: present && flat_topped(x, &residual, fit.c, fit.amplitude()),
    }
}

/// Whether a tone is clipped, from its fitted fundamental: a clipped sine's fundamental reaches
/// above the held level, so at the sampled instants the fitted sine `s(n)` (DC taken off) rises
/// past the largest sample by a deficit `D`, while the samples where it does (`s(n)` over that
/// largest sample) are held flat: they do not follow `s`. On either polarity, clipped when
/// `D > A₁/100`, at least 3 samples are there, and the slope of the samples against `s` over them
/// is under 0.1 (a hard clip gives 0; a third harmonic that compresses the peaks gives `1 − 9h`
/// for a share `h`, so 0.55 at 5 % THD). Noise cannot make a deficit (it raises the largest sample)
/// and does not bias the slope (`s` is noiseless), so neither test needs the noise level, which
/// the aliases of a digital clip would inflate anyway. This holds at any frequency (a 6 kHz peak at 48 kHz is a single sample)
/// and for flat tops scaled below full scale (clipped earlier in the chain), and a sine sampled
/// at a few fixed phases (12 kHz at 48 kHz) has no deficit: `s` is taken at the same instants.
/// (At such a rate a peak lowered by distortion cannot be told from a clipped one.)
pub fn flat_topped(x: &[f64], residual: &[f64], dc: f64, amplitude: f64) -> bool {
    let min_deficit = 0.01 * amplitude;
    [1.0, -1.0].into_iter().any(|sign: f64| {
        // Samples and the model, DC off, the polarity turned up.
        let pairs = x.iter().zip(residual).map(|(&v, &r)| (sign * (v - dc), sign * (v - r - dc)));
        let (x_max, s_max) = pairs.clone().fold((f64::MIN, f64::MIN), |(a, b), (v, s)| (a.max(v), b.max(s)));
        if s_max - x_max <= min_deficit {
            return false;
        }
        // Least-squares slope of the samples on the model where the model passes the largest sample.
        let (mut n, mut ss, mut sv, mut sss, mut ssv) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (v, s) in pairs.filter(|&(_, s)| s >= x_max) {
            n += 1.0;
            ss += s;
            sv += v;
            sss += s * s;
            ssv += s * v;
        }
        if n < 3.0 {
            return false;
        }
        // A tone at a fixed few phases of the rate (6 kHz at 48 kHz) puts every such sample at one
        // value of `s`: no slope to take, and the deficit alone tells.
        let var = (sss - ss * ss / n).max(0.0);
        var <= n * (1e-3 * amplitude).powi(2) || (ssv - ss * sv / n) / var < 0.1
    })
}

/// The closest two lines come, in bins: the tone's harmonics (spaced `f0`) and the hum lines
/// against them. Pairs closer than any window can separate (7 bins) are collisions, attributed
/// to the harmonic, and do not count.
fn line_spacing_bins(f0: f64, hum_lines: &[(f64, f64)], band_hi: f64, bin_hz: f64) -> f64 {
    let unresolvable = (2 * WindowKind::Hann.lobe_bins() + 1) as f64;
    let mut spacing = MAINS_HZ[0] / bin_hz;
    if f0 > 0.0 {
        spacing = spacing.min(f0 / bin_hz);
        let mut k = 1.0;
        while k * f0 <= (HUM_MAX_HZ + f0).min(band_hi) {
            for &(_, f) in hum_lines {
                let d = (k * f0 - f).abs() / bin_hz;
                if d >= unresolvable {
                    spacing = spacing.min(d);
                }
            }
            k += 1.0;
        }
    }
    spacing
}

/// The window with the lowest sidelobes whose lobes keep lines `spacing` bins apart.
fn choose_window(spacing: f64) -> WindowKind {
    WindowKind::BY_PREFERENCE
        .into_iter()
        .find(|k| spacing >= (2 * k.lobe_bins() + 1) as f64)
        .unwrap_or(WindowKind::Hann)
}

/// Lines at least this many bins apart leak less than −90 dB through a Hann window's sidelobes,
/// so the fundamental is fitted through Hann (noise bandwidth 1.5 bins against the 7-term
/// Blackman–Harris's 2.63: a level with 25 % less scatter).
const HANN_FIT_MIN_SPACING_BINS: f64 = 24.0;

/// Mean-square noise in `band` from the mean power of its non-tonal bins times its width; `None`
/// when every bin is in a line's lobe.
fn band_noise(power: &[f64], tonal: &[bool], band: (usize, usize), window: &Window) -> Option<f64> {
    if band.1 < band.0 {
        return Some(0.0);
    }
    let (sum, count) = (band.0..=band.1).filter(|&m| !tonal[m]).fold((0.0, 0usize), |(s, k), m| (s + power[m], k + 1));
    (count > 0).then(|| mean_square(sum / count as f64 * (band.1 - band.0 + 1) as f64, window))
}

/// Bins `centre ± lobe`, clipped to the spectrum.
fn lobe_range(centre: f64, lobe: usize, last_bin: usize) -> (usize, usize) {
    let c = centre.round().max(0.0) as usize;
    (c.saturating_sub(lobe).min(last_bin), (c + lobe).min(last_bin))
}

/// Mean power of the non-tonal bins near a frequency, from prefix sums.
struct LocalNoise {
    sum: Vec<f64>,
    count: Vec<usize>,
}

impl LocalNoise {
    fn new(power: &[f64], tonal: &[bool]) -> LocalNoise {
        let mut sum = Vec::with_capacity(power.len() + 1);
        let mut count = Vec::with_capacity(power.len() + 1);
        sum.push(0.0);
        count.push(0);
        // Skip the bins below the lowest lobe-free frequency: DC residue is not noise.
        for (m, (p, t)) in power.iter().zip(tonal).enumerate() {
            let use_it = !t && m > 2;
            sum.push(sum[m] + if use_it { *p } else { 0.0 });
            count.push(count[m] + usize::from(use_it));
        }
        LocalNoise { sum, count }
    }

    /// Mean of the non-tonal bins within a neighbourhood that widens until it holds enough bins.
    fn mean_around(&self, centre: f64, lobe: usize) -> f64 {
        let n = self.sum.len() - 1;
        let c = centre.round().max(0.0) as usize;
        let mut half = (8 * lobe).max(32);
        loop {
            let lo = c.saturating_sub(half);
            let hi = (c + half + 1).min(n);
            let k = self.count[hi] - self.count[lo];
            if k >= 4 * lobe || (lo == 0 && hi == n) {
                return if k == 0 { 0.0 } else { (self.sum[hi] - self.sum[lo]) / k as f64 };
            }
            half *= 2;
        }
    }
}

/// Locates the strongest spectral peak; `None` when nothing stands 20 dB over the noise density.
fn find_peak(
    x: &[f64],
    mean: f64,
    rate_hz: f64,
    freq_hz: Option<f64>,
    band_hi: f64,
    spectrum: &mut Spectrum,
) -> Option<f64> {
    let n = x.len();
    let window = spectrum.window(WindowKind::BlackmanHarris4, n);
    let centred: Vec<f64> = x.iter().map(|v| v - mean).collect();
    let power = spectrum.power(&centred, &window);
    let bin_hz = rate_hz / n as f64;
    let last = power.len() - 2;
    let (lo_hz, hi_hz) = match freq_hz {
        Some(f) => (f / 1.1, (f * 1.1).min(rate_hz / 2.0)),
        None => (BAND_HZ.0 * 0.75, band_hi),
    };
    let lo = ((lo_hz / bin_hz).floor() as usize).max(WindowKind::BlackmanHarris4.lobe_bins());
    let hi = ((hi_hz / bin_hz).ceil() as usize).min(last);
    if hi <= lo {
        return None;
    }
    let (peak, &p) = power[lo..=hi].iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, p)| (i + lo, p))?;
    // The noise density around the peak: the median of the bins within a quarter of its
    // frequency (at least 32 bins) either side, its own lobes left out. Local, because the noise
    // of a real capture is coloured: against the whole band's median, a low-frequency noise bump
    // would pass for a tone.
    let guard = 2 * WindowKind::BlackmanHarris4.lobe_bins();
    let reach = (peak / 4).max(32);
    let around: Vec<f64> = (peak.saturating_sub(reach).max(3)..=(peak + reach).min(last))
        .filter(|m| m.abs_diff(peak) > guard)
        .map(|m| power[m])
        .collect();
    if around.is_empty() {
        return None;
    }
    let median = super::median(around);
    // An exponential bin's median is ln 2 of its mean.
    let density = median / std::f64::consts::LN_2;
    if p.is_nan() || p <= 100.0 * density || p <= 0.0 {
        return None;
    }
    let l = |m: usize| power[m].max(f64::MIN_POSITIVE).ln();
    let (a, b, c) = (l(peak - 1), l(peak), l(peak + 1));
    let denom = a - 2.0 * b + c;
    let delta = if denom.abs() > 0.0 { (0.5 * (a - c) / denom).clamp(-0.5, 0.5) } else { 0.0 };
    Some((peak as f64 + delta) * bin_hz)
}

/// A sine fitted to a stretch of samples: `amplitude·cos(2π·freq_hz·n/rate + phase_rad) + dc`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneFit {
    pub freq_hz: f64,
    /// Peak amplitude, full scale = 1.0.
    pub amplitude: f64,
    /// Phase at the first sample, radians in `[0, 2π)`.
    pub phase_rad: f64,
    pub dc: f64,
}

/// Fits a sine near `freq_hz` to `x` (Hann-weighted least squares, as step 2 of the module
/// docs). With `refine`, the frequency is refined too; without, the fit is at exactly `freq_hz`,
/// which measures a tone's coherent level even far below the noise (crosstalk). `None` for
/// fewer than 64 samples.
pub fn fit_tone(x: &[f64], rate_hz: f64, freq_hz: f64, refine: bool) -> Option<ToneFit> {
    if x.len() < 64 || !(freq_hz > 0.0 && freq_hz < rate_hz / 2.0) {
        return None;
    }
    let w = Window::new(WindowKind::Hann, x.len());
    let fit = fit_sine(x, &w.w, 2.0 * PI * freq_hz / rate_hz, refine);
    Some(ToneFit {
        freq_hz: fit.omega * rate_hz / (2.0 * PI),
        amplitude: fit.amplitude(),
        phase_rad: fit.phase_at_start(x.len()),
        dc: fit.c,
    })
}

/// A fitted `a·cos(ωt) + b·sin(ωt) + c` with `t = n − (N−1)/2` (centred for conditioning).
#[derive(Debug, Clone, Copy)]
struct SineFit {
    a: f64,
    b: f64,
    c: f64,
    omega: f64,
}

impl SineFit {
    fn amplitude(&self) -> f64 {
        self.a.hypot(self.b)
    }

    /// Phase `φ` of `A·cos(ω·n + φ)` at `n = 0`.
    fn phase_at_start(&self, n: usize) -> f64 {
        let t0 = -((n as f64 - 1.0) / 2.0);
        // a·cos θ + b·sin θ = A·cos(θ − atan2(b, a)).
        (self.omega * t0 - self.b.atan2(self.a)).rem_euclid(2.0 * PI)
    }

    fn residual(&self, x: &[f64]) -> Vec<f64> {
        let mut out = Vec::with_capacity(x.len());
        for_each_phase(x.len(), self.omega, |i, cs, sn, _| {
            out.push(x[i] - (self.a * cs + self.b * sn + self.c));
        });
        out
    }
}

/// `cos ωn` and `sin ωn` for `n = 0, 1, 2, …`, by rotation with an exact restart every 512
/// samples (the rotation's rounding error stays below 1e-13): a tenth of the cost of `sin_cos`.
#[derive(Debug, Clone)]
pub struct Rotor {
    omega: f64,
    rc: f64,
    rs: f64,
    n: usize,
    cs: f64,
    sn: f64,
}

impl Rotor {
    pub fn new(omega: f64) -> Rotor {
        let (rs, rc) = omega.sin_cos();
        Rotor { omega, rc, rs, n: 0, cs: 1.0, sn: 0.0 }
    }

    /// `(cos ωn, sin ωn)` for this sample, then the next.
    #[inline]
    pub fn next_phase(&mut self) -> (f64, f64) {
        if self.n.is_multiple_of(512) {
            (self.sn, self.cs) = (self.omega * self.n as f64).sin_cos();
        }
        let out = (self.cs, self.sn);
        (self.cs, self.sn) = (self.cs * self.rc - self.sn * self.rs, self.sn * self.rc + self.cs * self.rs);
        self.n += 1;
        out
    }
}

/// Takes `amplitude·cos(2πf·n/rate + phase)` out of `x` (a tone that [`fit_tones_masked`] found).
pub fn subtract_tone(x: &mut [f64], rate_hz: f64, freq_hz: f64, amplitude: f64, phase: f64) {
    let (a, b) = (amplitude * phase.cos(), -amplitude * phase.sin());
    let mut r = Rotor::new(2.0 * PI * freq_hz / rate_hz);
    for v in x {
        let (c, s) = r.next_phase();
        // A·cos(ωn + φ) = A·cos φ·cos ωn − A·sin φ·sin ωn.
        *v -= a * c + b * s;
    }
}

/// Calls `f(n, cos ωt, sin ωt, t)` for `t = n − (N−1)/2`, by rotation with an exact restart every
/// 512 samples (the rotation's rounding error stays below 1e-13).
fn for_each_phase(len: usize, omega: f64, mut f: impl FnMut(usize, f64, f64, f64)) {
    let centre = (len as f64 - 1.0) / 2.0;
    let (rs, rc) = omega.sin_cos();
    let mut i = 0;
    while i < len {
        let t = i as f64 - centre;
        let (mut sn, mut cs) = (omega * t).sin_cos();
        let end = (i + 512).min(len);
        for j in i..end {
            f(j, cs, sn, j as f64 - centre);
            let c2 = cs * rc - sn * rs;
            sn = sn * rc + cs * rs;
            cs = c2;
        }
        i = end;
    }
}

fn fit_dc(x: &[f64], w: &[f64]) -> SineFit {
    let (sw, swx) = x.iter().zip(w).fold((0.0, 0.0), |(s, sx), (v, wv)| (s + wv, sx + wv * v));
    SineFit { a: 0.0, b: 0.0, c: if sw > 0.0 { swx / sw } else { 0.0 }, omega: 0.0 }
}

/// Weighted least-squares fit; with `refine`, Gauss–Newton also moves `ω`.
// Normal equations read best with the matrix indices written out.
#[allow(clippy::needless_range_loop)]
fn fit_sine(x: &[f64], w: &[f64], omega0: f64, refine: bool) -> SineFit {
    let mut fit = linear_fit(x, w, omega0);
    if !refine {
        return fit;
    }
    for _ in 0..8 {
        let (a0, b0) = (fit.a, fit.b);
        let mut m = [[0.0f64; 4]; 4];
        let mut v = [0.0f64; 4];
        for_each_phase(x.len(), fit.omega, |i, cs, sn, t| {
            let wv = w[i];
            let j = [cs, sn, 1.0, t * (b0 * cs - a0 * sn)];
            let xv = x[i] * wv;
            for r in 0..4 {
                let jr = j[r] * wv;
                v[r] += j[r] * xv;
                for c in r..4 {
                    m[r][c] += jr * j[c];
                }
            }
        });
        for r in 0..4 {
            for c in 0..r {
                m[r][c] = m[c][r];
            }
        }
        let Some(p) = solve::<4>(m, v) else { break };
        // The fourth unknown is the step in ω; keep it within a bin so a noisy fit cannot jump.
        let max_step = 2.0 * PI / x.len() as f64;
        let step = p[3].clamp(-max_step, max_step);
        fit = SineFit { a: p[0], b: p[1], c: p[2], omega: fit.omega + step };
        // Converged when the step is a millionth of a bin: far below any tolerance (a bin of a
        // 1 s segment is 1 Hz), and above the rounding that a tighter test would chase. The
        // step's own solve already corrected a, b, c for it to first order.
        if step.abs() < 1e-6 * max_step {
            return fit;
        }
    }
    linear_fit(x, w, fit.omega)
}

/// Sines at exactly `freqs_hz` (and DC) fitted to `x` together, Hann-weighted least squares over
/// the samples `keep` leaves in: each one's `(amplitude, phase)` of `A·cos(ωn + φ)`, `n` from
/// the first sample. Fitted together, tones close in frequency do not leak into each other's fit,
/// also when gaps are left out (which makes the sines no longer orthogonal). Empty when the
/// system is singular or `x` is shorter than 64 samples.
// Normal equations read best with the matrix indices written out.
#[allow(clippy::needless_range_loop)]
pub fn fit_tones_masked(x: &[f64], rate_hz: f64, freqs_hz: &[f64], keep: Option<&[bool]>) -> Vec<(f64, f64)> {
    let n = x.len();
    let k = 2 * freqs_hz.len() + 1;
    if n < 64 || freqs_hz.is_empty() {
        return Vec::new();
    }
    let w = Window::new(WindowKind::Hann, n);
    let mut rotors: Vec<Rotor> = freqs_hz.iter().map(|f| Rotor::new(2.0 * PI * f / rate_hz)).collect();
    // The upper triangle of the normal matrix, row by row, packed.
    let mut packed = vec![0.0f64; k * (k + 1) / 2];
    let mut v = vec![0.0f64; k];
    let mut j = vec![0.0f64; k];
    j[k - 1] = 1.0;
    for (i, &xi) in x.iter().enumerate() {
        // Every rotor turns on every sample, kept or not, so each stays at its sample.
        for (t, r) in rotors.iter_mut().enumerate() {
            (j[2 * t], j[2 * t + 1]) = r.next_phase();
        }
        let wv = w.w[i] * if keep.is_none_or(|kp| kp.get(i).copied().unwrap_or(true)) { 1.0 } else { 0.0 };
        if wv == 0.0 {
            continue;
        }
        let mut row = packed.as_mut_slice();
        for (r, &jr) in j.iter().enumerate() {
            let jw = jr * wv;
            v[r] += jw * xi;
            let (this, rest) = row.split_at_mut(k - r);
            for (m, &jc) in this.iter_mut().zip(&j[r..]) {
                *m += jw * jc;
            }
            row = rest;
        }
    }
    let mut m = vec![vec![0.0f64; k]; k];
    let mut at = 0;
    for r in 0..k {
        for c in r..k {
            m[r][c] = packed[at];
            m[c][r] = packed[at];
            at += 1;
        }
    }
    if !solve_in_place(&mut m, &mut v) {
        return Vec::new();
    }
    let p = v;
    // a·cos + b·sin = A·cos(ωn + φ) with A = √(a²+b²), φ = atan2(−b, a).
    (0..freqs_hz.len())
        .map(|t| ((p[2 * t].powi(2) + p[2 * t + 1].powi(2)).sqrt(), (-p[2 * t + 1]).atan2(p[2 * t])))
        .collect()
}

// Normal equations read best with the matrix indices written out.
#[allow(clippy::needless_range_loop)]
fn linear_fit(x: &[f64], w: &[f64], omega: f64) -> SineFit {
    let mut m = [[0.0f64; 3]; 3];
    let mut v = [0.0f64; 3];
    for_each_phase(x.len(), omega, |i, cs, sn, _| {
        let wv = w[i];
        let j = [cs, sn, 1.0];
        for r in 0..3 {
            v[r] += j[r] * x[i] * wv;
            for c in r..3 {
                m[r][c] += j[r] * j[c] * wv;
            }
        }
    });
    for r in 0..3 {
        for c in 0..r {
            m[r][c] = m[c][r];
        }
    }
    match solve::<3>(m, v) {
        Some(p) => SineFit { a: p[0], b: p[1], c: p[2], omega },
        None => SineFit { a: 0.0, b: 0.0, c: 0.0, omega },
    }
}

/// Gaussian elimination with partial pivoting; `None` when singular.
fn solve<const K: usize>(mut m: [[f64; K]; K], mut v: [f64; K]) -> Option<[f64; K]> {
    solve_in_place(&mut m, &mut v).then_some(v)
}

/// Solves `m·x = v` by Gaussian elimination with partial pivoting, leaving `x` in `v`; false
/// when `m` is singular. Rows of any storage: fixed arrays on the hot path, vectors where the
/// size is known only at run time.
// Elimination reads best with the matrix indices written out.
#[allow(clippy::needless_range_loop)]
pub(crate) fn solve_in_place<R: AsMut<[f64]>>(m: &mut [R], v: &mut [f64]) -> bool {
    let k = v.len();
    if m.len() != k {
        return false;
    }
    for col in 0..k {
        let Some(piv) = (col..k).max_by(|&a, &b| m[a].as_mut()[col].abs().total_cmp(&m[b].as_mut()[col].abs())) else {
            return false;
        };
        if m[piv].as_mut()[col].abs() < 1e-300 {
            return false;
        }
        m.swap(col, piv);
        v.swap(col, piv);
        for r in col + 1..k {
            let (top, rest) = m.split_at_mut(r);
            let (pivot, row) = (top[col].as_mut(), rest[0].as_mut());
            let f = row[col] / pivot[col];
            for c in col..k {
                row[c] -= f * pivot[c];
            }
            v[r] -= f * v[col];
        }
    }
    for r in (0..k).rev() {
        let row = m[r].as_mut();
        let s: f64 = (r + 1..k).map(|c| row[c] * v[c]).sum();
        v[r] = (v[r] - s) / row[r];
    }
    true
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_rotor_keeps_to_sin_cos_and_a_subtracted_tone_is_gone() {
        for omega in [1e-4, 0.13, 1.0, 2.9] {
            let mut r = Rotor::new(omega);
            for n in 0..100_000 {
                let (c, s) = r.next_phase();
                let (es, ec) = (omega * n as f64).sin_cos();
                // The reference's own argument ωn is rounded to its last bit.
                let tol = 1e-13 + omega * n as f64 * 1e-15;
                assert!((c - ec).abs() < tol && (s - es).abs() < tol, "ω {omega}, n {n}");
            }
        }
        let rate = 48_000.0;
        let mut x: Vec<f64> = (0..48_000).map(|n| 0.3 * (2.0 * PI * 1234.5 * n as f64 / rate + 0.7).cos()).collect();
        subtract_tone(&mut x, rate, 1234.5, 0.3, 0.7);
        assert!(x.iter().all(|v| v.abs() < 1e-12));
    }

    #[test]
    fn tones_fitted_together_keep_their_amplitudes_across_left_out_gaps() {
        // A −18 dBFS tone with 12 gaps of 5–40 ms, and a tone 52 dB under it 250 Hz away: left
        // out, the gaps cost neither fit anything.
        let rate = 48_000.0;
        let (a1, a2) = (0.125, 0.125 * 10f64.powf(-52.0 / 20.0));
        let mut x: Vec<f64> = (0..48_000)
            .map(|n| {
                let t = n as f64 / rate;
                a1 * (2.0 * PI * 1000.0 * t + 0.3).cos() + a2 * (2.0 * PI * 1250.0 * t - 1.1).cos()
            })
            .collect();
        let mut keep = vec![true; x.len()];
        for g in 0..12 {
            let (from, len) = (3_000 + g * 3_700, 240 + g * 150);
            x[from..from + len].iter_mut().for_each(|v| *v = 0.0);
            keep[from..from + len].iter_mut().for_each(|k| *k = false);
        }
        let fits = fit_tones_masked(&x, rate, &[1000.0, 1250.0], Some(&keep));
        assert!((fits[0].0 / a1 - 1.0).abs() < 1e-9 && (fits[0].1 - 0.3).abs() < 1e-9, "{fits:?}");
        assert!((fits[1].0 / a2 - 1.0).abs() < 1e-6 && (fits[1].1 + 1.1).abs() < 1e-6, "{fits:?}");
        // Without the mask the gaps pull the small tone's fit off by far more.
        let blind = fit_tones_masked(&x, rate, &[1000.0, 1250.0], None);
        assert!((blind[1].0 / a2 - 1.0).abs() > 1e-3, "{blind:?}");
    }
    use super::*;

    fn tone(n: usize, rate: f64, f: f64, a: f64, phase: f64) -> Vec<f64> {
        (0..n).map(|i| a * (2.0 * PI * f * i as f64 / rate + phase).cos()).collect()
    }

    #[test]
    fn pure_tone_is_fitted_to_rounding() {
        let rate = 48_000.0;
        let x = tone(24_000, rate, 997.3, 0.5, 0.7);
        let m = measure_segment(&x, rate, ToneSearch::Find, &mut Spectrum::default());
        let f = m.fundamental.unwrap();
        assert!((f.freq_hz - 997.3).abs() < 1e-6, "{}", f.freq_hz);
        assert!((f.amplitude - 0.5).abs() < 1e-9);
        assert!((f.phase_rad - 0.7).abs() < 1e-6, "{}", f.phase_rad);
        assert!(m.dc.abs() < 1e-12);
        assert!(m.thd_percent().unwrap() < 1e-5);
        assert!(m.hum.is_none());
    }

    #[test]
    fn absent_tone_at_a_given_frequency_is_measured_there() {
        use rand::SeedableRng;
        use rand_distr::Distribution;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let normal = rand_distr::Normal::new(0.0, 1e-4).expect("valid");
        let x: Vec<f64> = (0..24_000).map(|_| normal.sample(&mut rng)).collect();
        let m = measure_segment(&x, 48_000.0, ToneSearch::Near(1000.0), &mut Spectrum::default());
        let f = m.fundamental.unwrap();
        assert!(!f.present);
        assert!((f.freq_hz - 1000.0).abs() < 1e-9, "{}", f.freq_hz);
        assert!(m.thd_percent().is_none());
    }
}
