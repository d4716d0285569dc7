//! Gaps, discontinuities and clipping, found while streaming through the steady part of a tone.
//!
//! # Gaps
//! For a sine of angular frequency `ω`, `y[n] = x[n]² + ((x[n]·cos ωd − x[n−d]) / sin ωd)²`
//! equals `A²` at every sample, whatever the phase: an instantaneous amplitude from two samples
//! `d` apart. `d` is a quarter period, at most 0.5 ms, so the noise gain `1/sin ωd` stays small
//! even for a 20 Hz tone. A gap is where the running mean of `y` over `M = max(4, d/2)` samples
//! falls below `0.1·A²` (the tone 10 dB down) plus the level noise alone would give, that noise
//! being estimated robustly from the predictor residual below (a gap cannot inflate it). Because the
//! low mean needs both samples and the whole mean window inside the gap, a run of low means
//! `[r₀, r₁)` is the gap `[r₀ − d − M + 1, r₁)`. Gaps closer than 1 ms merge.
//!
//! # Discontinuities
//! The second-order predictor residual `e[n] = x[n] − 2·cos ω·x[n−1] + x[n−2]` is zero for a
//! pure sine; lost samples, clicks and crackle make it spike. A spike counts when it exceeds ten
//! robust standard deviations (1.4826 × median absolute value over the chunk), stands six times
//! over the residual's rms within 128 samples either side (a click does however loud the noise;
//! the peaks of room sound over the tone do not), and is not repeated
//! one period earlier or later (the corners of a clipped waveform repeat; a discontinuity does
//! not). Spikes within 2 ms of a gap are its edges; the rest cluster within 2 ms into one
//! discontinuity each, reported with length 0.
//!
//! # DC
//! The DC measured on the steady segment is taken off every sample first: on an offset as large
//! as the tone, `y` would swing with the tone's phase and fall under the threshold once a period.
//! When the offset exceeds the tone's amplitude, the high-pass below also runs (any drift of so
//! large an offset would otherwise move `y`).
//!
//! # Level steps
//! The mean of `y` over blocks of whole tone periods (at least 5 ms) tracks the tone's level. A
//! step is where the median level of the 10 blocks after a block differs from that of the 10
//! before by 1 dB or more, stands 8 robust standard deviations of that difference clear of the
//! block-to-block scatter, and is the largest such difference within 10 blocks; its size is then
//! taken between the medians of the whole stretches either side, and its time inside the block
//! that holds it from how far that block's mean lies between the two levels. A low stretch of at
//! least 100 ms in which the tone stays 10 dB over the noise and within 30 dB of its level is a
//! level change, not a gap, and
//! predictor spikes within 2 ms of a step are its edge, not a discontinuity.
//!
//! # Disturbances (room sound)
//! Sound from the room (speech, a door slam) adds itself to the capture: it makes no gap and takes
//! no level away, but it lifts what is left besides the tone for tens to hundreds of milliseconds.
//! The samples go through a notch at the tone (RBJ, Q = 0.7, primed on the samples before the
//! region), which passes the room's sound at every other frequency (without a tone, the samples
//! themselves serve). Per 5 ms block its mean square and peak² about the block's mean are kept
//! (what is left of a DC offset is no sound); the blocks where the notch rings after a gap, a
//! click or a level step of the tone's own are left out. A
//! disturbance is a run of blocks (holes of up to 10 ms bridged) at least 20 ms long whose
//! mean square stands 10 dB over the floor (the median block's, or what the capture's quiet
//! before and after the tone gives, whichever is lower: a slam's tail can fill the whole tone;
//! the quiet's never under the rounding the samples carry, which a noiseless recorder's quiet
//! parts lack, as exact zeros),
//! that is **noise-like** (in its median block the peak² is under 40 times the mean square:
//! Gaussian noise gives 11 to 16 over 240 samples; a lone click 100 and more; the clicks of a
//! worn contact stay that sparse) and that comes and goes: it starts or ends inside the tone
//! (covers under 90 % of it), or it **swings** (its blocks' mean squares span 3 dB between their
//! 10th and 90th percentiles: room sound swells and fades, while a path's own harmonics and noise
//! stay level, within 1 dB). Spikes
//! inside a disturbance (2 ms of margin) are part of it, not discontinuities. A gap inside one is
//! kept unless the disturbance comes within 20 dB of the tone (then the sound itself can take the
//! instantaneous amplitude under the gap threshold).
//!
//! # Without a tone
//! Runs of exact digital zeros of at least 0.5 ms inside a signal whose noise is far above the
//! quantisation step are gaps (a zero-filled buffer in a noise capture).
//!
//! # Clipping
//! The share of samples within `δ = max(q, 4σ)` (quantum `q`, noise rms `σ`) of the capture's
//! extreme is compared with the share an unclipped sine of the measured peak spends there,
//! `arccos(1 − δ/A)/π`: clipped when it is over four times that plus 0.2 %. Only samples in runs of
//! two or more count: a lone sample that lands on each peak of a sampled sine is no plateau.

use super::median;
use biquad::{Biquad, Coefficients, DirectForm2Transposed, Hertz, Type};
use std::f64::consts::PI;

/// A gap or discontinuity, at `at_s` seconds from the start of the capture, lasting `ms`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Dropout {
    pub at_s: f64,
    pub ms: f64,
}

/// What the scanner knows about the tone before it starts.
#[derive(Debug, Clone, Copy)]
pub struct ScanSetup {
    pub rate_hz: f64,
    /// Tone frequency, when a tone is present.
    pub freq_hz: Option<f64>,
    /// Tone peak amplitude.
    pub amplitude: f64,
    /// Broadband noise rms.
    pub noise_rms: f64,
    /// Mains hum rms (0 when none was found).
    pub hum_rms: f64,
    /// Quantisation step (0 for float).
    pub quantum: f64,
    /// Extremes of the capture, for the clipping test.
    pub max: f64,
    pub min: f64,
    /// DC offset, taken off every sample before the scan.
    pub dc: f64,
    /// The capture's rms where it should be quiet (before and after the tone), when known.
    pub quiet_rms: Option<f64>,
    /// The rms of the rounding the samples carry (on a grid of `step`, `step/√12`; 0 for none,
    /// [`super::sample_step`]): the least a tone's residual holds, though the quiet parts of a
    /// noiseless recorder be exact zeros.
    pub rounding_rms: f64,
}

/// An abrupt, lasting change of the tone's level at `at_s` seconds: `db` signed, + louder after.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LevelStep {
    pub at_s: f64,
    pub db: f64,
}

/// What a scan found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScanResult {
    /// Gaps and discontinuities, sorted by time.
    pub dropouts: Vec<Dropout>,
    pub level_steps: Vec<LevelStep>,
    pub clipped: bool,
    /// Room sound over the tone (see the module's notes), sorted by time.
    pub disturbances: Vec<super::SoundEvent>,
}

/// A spike counts when it stands this many times over the residual's rms within
/// [`LOCAL_HALF`] samples of it (a click of three samples in 256 stands 10 times over).
const LOCAL_SPIKE: f64 = 6.0;
const LOCAL_HALF: usize = 128;

/// Block of the residual track, seconds.
const DISTURB_BLOCK_S: f64 = 0.005;
/// A disturbed block's mean square over the median block's, dB.
const DISTURB_OVER_DB: f64 = 10.0;
/// Shortest disturbance, seconds, and the longest quiet hole bridged inside one.
const DISTURB_MIN_S: f64 = 0.02;
const DISTURB_HOLE_S: f64 = 0.01;
/// A disturbance's blocks swing at least this much (90th over 10th percentile of mean square, 3 dB;
/// steady noise swings under 1 dB over 5 ms blocks).
const DISTURB_SWING: f64 = 2.0;
/// Quality of the notch that takes the tone out of the disturbance track (its width is f/Q).
const NOTCH_Q: f64 = 0.7;
/// Largest peak² over mean square of a noise-like block.
const DISTURB_CREST2: f64 = 40.0;
/// A disturbance within this of the tone (signal-equivalent power) can fake gaps, dB.
const DISTURB_GAP_DB: f64 = 20.0;
/// Sound this far under the tone or further, dB, can move no measurement of it, however far it
/// stands over the path's own noise: no disturbance. A digital loop's residual is rounding
/// alone, at −120 dB and lower.
pub const ROOM_SOUND_FLOOR_DB: f64 = -80.0;

/// The residual's mean square and peak² per block, about the block's mean (what is left of a DC
/// offset, and drift far below the block's rate, is no sound), streamed.
#[derive(Debug, Default)]
struct ResidualTrack {
    len: usize,
    samples: Vec<f64>,
    /// Per block `(mean square, peak²)`, single precision (a long recording's track is long).
    blocks: Vec<(f32, f32)>,
}

impl ResidualTrack {
    /// Feeds the next residual samples.
    fn push(&mut self, mut e: &[f64]) {
        if !self.samples.is_empty() {
            let take = (self.len - self.samples.len()).min(e.len());
            self.samples.extend_from_slice(&e[..take]);
            e = &e[take..];
            if self.samples.len() == self.len {
                self.blocks.push(narrow(block_stats(&self.samples)));
                self.samples.clear();
            }
        }
        let whole = e.chunks_exact(self.len);
        self.samples.extend_from_slice(whole.remainder());
        self.blocks.extend(whole.map(|b| narrow(block_stats(b))));
    }

    /// Disturbed runs as block ranges `[first, end)`, with their median mean square and whether
    /// they are room sound (long and noise-like, coming and going) or a short burst (under
    /// [`DISTURB_MIN_S`]: crackle); `quiet` is the residual's mean square the capture's quiet
    /// parts imply, when known. Blocks where `excluded` is true (a gap's or click's own ring
    /// through the notch) are never hot.
    fn disturbed(&self, quiet: Option<f64>, excluded: &[bool]) -> Vec<(usize, usize, f64, Hot)> {
        if self.blocks.len() < 8 || self.len == 0 {
            return Vec::new();
        }
        let typical = median(self.blocks.iter().map(|b| f64::from(b.0)).collect());
        // A burst stands out of the loud end of the track too: the residual of a low tone or of
        // strong hum swings with their waveform from block to block, periodically.
        let loud_end = {
            let mut v: Vec<f64> = self.blocks.iter().map(|b| f64::from(b.0)).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() * 9 / 10]
        };
        let floor = quiet.filter(|q| *q > 0.0).map_or(typical, |q| q.min(typical));
        let hot_level = floor * 10f64.powf(DISTURB_OVER_DB / 10.0);
        let (min_blocks, hole) =
            ((DISTURB_MIN_S / DISTURB_BLOCK_S).round() as usize, (DISTURB_HOLE_S / DISTURB_BLOCK_S).round() as usize);
        // Runs of hot blocks, holes of up to `hole` bridged. A left-out block (the tone's own ring
        // after a gap or click) is neither hot nor quiet: it joins a run beside it (loud room
        // sound can itself dip the tone into a gap) but counts for nothing.
        let out = |i: usize| excluded.get(i).copied().unwrap_or(false);
        let hot = |i: usize| f64::from(self.blocks[i].0) > hot_level && floor > 0.0 && !out(i);
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for i in 0..self.blocks.len() {
            if hot(i) || out(i) {
                match runs.last_mut() {
                    Some(r) if i - r.1 <= hole => r.1 = i + 1,
                    _ => runs.push((i, i + 1)),
                }
            }
        }
        runs.into_iter()
            .filter_map(|(a, b)| {
                let hot: Vec<(f64, f64)> = (a..b)
                    .filter(|&i| hot(i))
                    .map(|i| (f64::from(self.blocks[i].0), f64::from(self.blocks[i].1)))
                    .collect();
                if hot.is_empty() {
                    return None;
                }
                if hot.len() < min_blocks {
                    let peak = hot.iter().map(|x| x.0).fold(0.0, f64::max);
                    let stands_out = peak > loud_end * 10f64.powf(DISTURB_OVER_DB / 10.0);
                    return stands_out.then(|| (a, b, median(hot.iter().map(|x| x.0).collect()), Hot::Burst));
                }
                let crest2 = median(hot.iter().map(|x| x.1 / x.0).collect());
                // Room sound swells and fades; what stays level over the tone (its harmonics, the
                // path's own noise) is the path's.
                let mut levels: Vec<f64> = hot.iter().map(|x| x.0).collect();
                levels.sort_by(f64::total_cmp);
                let (p10, p90) = (levels[levels.len() / 10], levels[levels.len() * 9 / 10]);
                let varies = p90 > DISTURB_SWING * p10;
                // … unless it clearly starts or ends inside the tone.
                let partial = ((b - a) as f64) < 0.9 * self.blocks.len() as f64;
                (crest2 < DISTURB_CREST2 && (varies || partial))
                    .then(|| (a, b, median(hot.iter().map(|x| x.0).collect()), Hot::Room))
            })
            .collect()
    }
}

/// What a run of hot blocks of the residual is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Hot {
    /// Room sound: long, noise-like, coming and going.
    Room,
    /// A burst shorter than room sound lasts: crackle, an artefact of the path.
    Burst,
}

fn narrow((ms, peak2): (f64, f64)) -> (f32, f32) {
    (ms as f32, peak2 as f32)
}

/// A block's mean square and peak² about its mean, in four independent lanes so that the loop
/// vectorises.
fn block_stats(b: &[f64]) -> (f64, f64) {
    const L: usize = 4;
    let lanes = b.chunks_exact(L);
    let rest = lanes.remainder();
    let (mut sum, mut sq, mut max, mut min) = ([0.0; L], [0.0; L], [f64::MIN; L], [f64::MAX; L]);
    for c in lanes {
        for k in 0..L {
            sum[k] += c[k];
            sq[k] += c[k] * c[k];
            max[k] = max[k].max(c[k]);
            min[k] = min[k].min(c[k]);
        }
    }
    let (mut sum, mut sq) = (sum.iter().sum::<f64>(), sq.iter().sum::<f64>());
    let (mut max, mut min) = (max.iter().fold(f64::MIN, |a, &v| a.max(v)), min.iter().fold(f64::MAX, |a, &v| a.min(v)));
    for &v in rest {
        (sum, sq, max, min) = (sum + v, sq + v * v, max.max(v), min.min(v));
    }
    let n = b.len() as f64;
    let mean = sum / n;
    // About the mean: the residual has no DC to speak of (it is taken off first), so the one-pass
    // variance loses nothing.
    let peak = (max - mean).max(mean - min);
    ((sq / n - mean * mean).max(0.0), peak * peak)
}

/// Smallest level change reported as a step, dB (spec §5).
pub const STEP_MIN_DB: f64 = 1.0;
/// Blocks of level each side of a step.
const STEP_BLOCKS: usize = 10;
/// A low stretch at least this long with the tone still in it is a level change, seconds (gaps
/// last about 1 to 50 ms).
const STEP_MIN_S: f64 = 0.1;
/// … the tone counting as still in it when `y` stays within this of the tone's level, dB, and
/// 10 dB over the noise.
const STEP_MAX_DROP_DB: f64 = 30.0;

/// The high-pass in front of the gap estimate (see the module's notes), two Butterworth sections
/// primed with the samples just before the scanned region so that it starts settled.
struct HumFilter {
    sections: [DirectForm2Transposed<f64>; 2],
    /// Samples to prime it with: its slowest pole pair (Q 1.31) decays by 60 dB in 3/cutoff.
    settle: u64,
}

impl HumFilter {
    /// Tones under 80 Hz get none: a quarter of them is under the audio band.
    fn for_tone(rate_hz: f64, freq_hz: f64) -> Option<HumFilter> {
        let cutoff = freq_hz / 4.0;
        if cutoff < 20.0 {
            return None;
        }
        let section = |q: f64| -> Option<DirectForm2Transposed<f64>> {
            let c = Coefficients::<f64>::from_params(
                Type::HighPass,
                Hertz::<f64>::from_hz(rate_hz).ok()?,
                Hertz::<f64>::from_hz(cutoff).ok()?,
                q,
            )
            .ok()?;
            Some(DirectForm2Transposed::<f64>::new(c))
        };
        // The pole pairs of a 4th-order Butterworth: Q = 1 / (2·cos(π/8)) and 1 / (2·cos(3π/8)).
        let q = |k: f64| 1.0 / (2.0 * (k * PI / 8.0).cos());
        let settle = (3.0 / cutoff * rate_hz).ceil() as u64;
        Some(HumFilter { sections: [section(q(1.0))?, section(q(3.0))?], settle })
    }

    fn run(&mut self, v: f64) -> f64 {
        let [a, b] = &mut self.sections;
        b.run(a.run(v))
    }
}

/// A notch filter (numerator `b0·(1, −2·cos ω, 1)`, two poles) run a chunk at a time. The
/// numerator is an FIR over the chunk; the poles' recursion, serial sample by sample, is split
/// into blocks: each block's response from rest (four blocks side by side, independent chains the
/// processor overlaps) plus the decay of the state carried into it, `y₋₁·g₁[n] + y₋₂·g₂[n]`. The
/// same filter as the direct recursion, to rounding, at a quarter of its latency per sample.
struct Notch {
    b0: f64,
    b1: f64,
    a1: f64,
    a2: f64,
    /// The last two inputs and outputs.
    x: [f64; 2],
    y: [f64; 2],
    /// The recursion's response to `y₋₁ = 1` and to `y₋₂ = 1`, one block long.
    g: [[f64; NOTCH_BLOCK]; 2],
}

const NOTCH_BLOCK: usize = 64;

impl Notch {
    fn new(c: &Coefficients<f64>) -> Notch {
        let decay = |y1: f64, y2: f64| {
            let (mut g, mut y) = ([0.0; NOTCH_BLOCK], [y1, y2]);
            for v in g.iter_mut() {
                *v = -c.a1 * y[0] - c.a2 * y[1];
                y = [*v, y[0]];
            }
            g
        };
        Notch {
            b0: c.b0,
            b1: c.b1,
            a1: c.a1,
            a2: c.a2,
            x: [0.0; 2],
            y: [0.0; 2],
            g: [decay(1.0, 0.0), decay(0.0, 1.0)],
        }
    }

    /// Filters `x` into `out` (cleared first), carrying the state on.
    fn run(&mut self, x: &[f64], out: &mut Vec<f64>) {
        out.clear();
        if x.is_empty() {
            return;
        }
        // The numerator (b2 = b0 for a notch).
        let (b0, b1) = (self.b0, self.b1);
        let at = |i: usize| -> f64 {
            match i {
                0 => x[0] * b0 + self.x[0] * b1 + self.x[1] * b0,
                1 => x[1] * b0 + x[0] * b1 + self.x[0] * b0,
                _ => 0.0,
            }
        };
        out.extend((0..x.len().min(2)).map(at));
        if x.len() > 2 {
            let n = x.len();
            out.extend(x[2..].iter().zip(&x[1..n - 1]).zip(&x[..n - 2]).map(|((&a, &b), &c)| (a + c) * b0 + b * b1));
        }
        self.x = match x.len() {
            1 => [x[0], self.x[0]],
            n => [x[n - 1], x[n - 2]],
        };
        // Each block's response from rest, four blocks at a time.
        let (a1, a2) = (self.a1, self.a2);
        let mut quads = out.chunks_exact_mut(4 * NOTCH_BLOCK);
        for q in quads.by_ref() {
            let (mut y1, mut y2) = ([0.0; 4], [0.0; 4]);
            for n in 0..NOTCH_BLOCK {
                for k in 0..4 {
                    let v = q[k * NOTCH_BLOCK + n] - a1 * y1[k] - a2 * y2[k];
                    q[k * NOTCH_BLOCK + n] = v;
                    (y2[k], y1[k]) = (y1[k], v);
                }
            }
        }
        for b in quads.into_remainder().chunks_mut(NOTCH_BLOCK) {
            let (mut y1, mut y2) = (0.0, 0.0);
            for v in b.iter_mut() {
                *v -= a1 * y1 + a2 * y2;
                (y2, y1) = (y1, *v);
            }
        }
        // The state carried from block to block.
        let [g1, g2] = &self.g;
        for b in out.chunks_mut(NOTCH_BLOCK) {
            let [y1, y2] = self.y;
            b.iter_mut().zip(g1).zip(g2).for_each(|((v, g1), g2)| *v += y1 * g1 + y2 * g2);
            self.y = match b.len() {
                1 => [b[0], y1],
                n => [b[n - 1], b[n - 2]],
            };
        }
    }
}

/// Streaming scanner over one channel's steady region.
pub struct DropoutScanner {
    setup: ScanSetup,
    hum_filter: Option<HumFilter>,
    /// `buf` through `hum_filter` (empty without one).
    filtered: Vec<f64>,
    cos_w: f64,
    cos_wd: f64,
    inv_sin_wd: f64,
    lag: usize,
    mean_len: usize,
    period: usize,
    gap_detector: bool,
    spike_floor: f64,
    /// Samples from global frame `buf_start` on.
    buf: Vec<f64>,
    buf_start: u64,
    next_eval: u64,
    ctx: usize,
    low_run: Option<u64>,
    gaps: Vec<(u64, u64)>,
    clicks: Vec<u64>,
    zero_run: Option<u64>,
    min_zero_run: u64,
    // Clipping counters.
    clip_delta: f64,
    near_max: u64,
    near_min: u64,
    counted: u64,
    // The level track: mean `y` over blocks of `level_block` samples from `level_origin` on.
    level_block: usize,
    level_origin: u64,
    level_acc: f64,
    level_in: usize,
    levels: Vec<f64>,
    /// The largest noise level in `y` seen (see `evaluate`).
    noise_y: f64,
    /// The robust scale of the predictor residual in the last stretch.
    sigma: Option<f64>,
    /// The residual per block, from `start` on: the samples through a notch at the tone (all of
    /// the room's sound but the tone's own frequency), or the samples themselves without a tone.
    residual: ResidualTrack,
    notch: Option<(Notch, u64)>,
    /// Working buffers, kept between chunks.
    scratch: Vec<f64>,
    ys: Vec<f64>,
    start: u64,
}

/// How many of `x[from..to]` are at or beyond `hi` (and how many at or below `lo`) and sit in a
/// run of two or more such samples (a lone sample on a sampled peak is no plateau): those with a
/// like sample on either side. One branch-free loop, so that it vectorises.
fn in_runs(x: &[f64], from: usize, to: usize, hi: f64, lo: f64) -> (u64, u64) {
    if to <= from {
        return (0, 0);
    }
    // The inner samples have both neighbours in `x`; the two ends are counted one by one.
    let (a, b) = (from.max(1), to.min(x.len().saturating_sub(1)));
    let b = b.max(a);
    let (mut n_hi, mut n_lo) = (0u64, 0u64);
    if b > a {
        for ((&p, &v), &n) in x[a - 1..b - 1].iter().zip(&x[a..b]).zip(&x[a + 1..b + 1]) {
            n_hi += u64::from((v >= hi) & ((p >= hi) | (n >= hi)));
            n_lo += u64::from((v <= lo) & ((p <= lo) | (n <= lo)));
        }
    }
    let like = |i: usize, f: &dyn Fn(f64) -> bool| {
        let h = |k: usize| x.get(k).is_some_and(|&v| f(v));
        u64::from(h(i) && ((i > 0 && h(i - 1)) || h(i + 1)))
    };
    for i in (from..a).chain(b..to) {
        n_hi += like(i, &|v| v >= hi);
        n_lo += like(i, &|v| v <= lo);
    }
    (n_hi, n_lo)
}

/// The median of magnitudes (non-negative, finite), as [`median`] takes it: ordered by their
/// bits, which for such floats is their order, and integers select faster.
fn median_magnitude(v: Vec<f64>) -> f64 {
    let mut bits: Vec<u64> = v.into_iter().map(f64::to_bits).collect();
    let mid = bits.len() / 2;
    match bits.get(mid) {
        Some(_) => f64::from_bits(*bits.select_nth_unstable(mid).1),
        None => 0.0,
    }
}

/// Running sums in place, `x[i] = x[0] + … + x[i]`: four quarters summed side by side (four
/// independent chains), then each quarter lifted by the totals before it.
fn prefix_sum(x: &mut [f64]) {
    const K: usize = 4;
    let q = x.len() / K;
    let (body, tail) = x.split_at_mut(q * K);
    let mut parts: Vec<&mut [f64]> = body.chunks_exact_mut(q.max(1)).collect();
    if q > 0 {
        let mut acc = [0.0; K];
        #[allow(clippy::needless_range_loop)] // the four chains side by side are the point
        for i in 0..q {
            for k in 0..K {
                acc[k] += parts[k][i];
                parts[k][i] = acc[k];
            }
        }
        let mut lift = 0.0;
        for (k, part) in parts.iter_mut().enumerate() {
            if lift != 0.0 {
                part.iter_mut().for_each(|v| *v += lift);
            }
            lift += acc[k];
        }
    }
    let mut acc = body.last().copied().unwrap_or(0.0);
    for v in tail {
        acc += *v;
        *v = acc;
    }
}

/// The first `i` where `test(a[i], b[i])` holds, blocks of 64 tested first without a branch.
fn find2(a: &[f64], b: &[f64], test: impl Fn(f64, f64) -> bool) -> Option<usize> {
    const BLOCK: usize = 64;
    let n = a.len().min(b.len());
    let mut start = 0;
    for (a, b) in a[..n].chunks(BLOCK).zip(b[..n].chunks(BLOCK)) {
        if a.iter().zip(b).fold(false, |any, (&a, &b)| any | test(a, b)) {
            return a.iter().zip(b).position(|(&a, &b)| test(a, b)).map(|i| start + i);
        }
        start += a.len();
    }
    None
}

/// Calls `f(i)` for each `i` in `0..a.len()` where `test(a[i], b[i], c[i])` holds. Blocks of 64 are
/// tested first without a branch (the hits are rare: gaps' edges, clicks).
fn for_each_hit(a: &[f64], b: &[f64], c: &[f64], test: impl Fn(f64, f64, f64) -> bool, mut f: impl FnMut(usize)) {
    const BLOCK: usize = 64;
    let n = a.len().min(b.len()).min(c.len());
    let mut start = 0;
    for ((a, b), c) in a[..n].chunks(BLOCK).zip(b[..n].chunks(BLOCK)).zip(c[..n].chunks(BLOCK)) {
        let any = a.iter().zip(b).zip(c).fold(false, |any, ((&a, &b), &c)| any | test(a, b, c));
        if any {
            a.iter()
                .zip(b)
                .zip(c)
                .enumerate()
                .filter(|(_, ((&a, &b), &c))| test(a, b, c))
                .for_each(|(i, _)| f(start + i));
        }
        start += a.len();
    }
}

impl DropoutScanner {
    pub fn new(setup: ScanSetup, start_frame: u64) -> DropoutScanner {
        let rate = setup.rate_hz;
        let omega = setup.freq_hz.map_or(0.0, |f| 2.0 * PI * f / rate);
        let max_lag = (0.0005 * rate).round().max(1.0) as usize;
        let lag = if omega > 0.0 { ((PI / 2.0 / omega).round() as usize).clamp(1, max_lag) } else { 1 };
        let mean_len = (lag / 2).max(4);
        let wd = omega * lag as f64;
        let (sin_wd, cos_wd) = wd.sin_cos();
        let inv_sin_wd = if sin_wd.abs() > 1e-9 { 1.0 / sin_wd } else { 0.0 };
        let gap_detector = omega > 0.0 && setup.amplitude > 0.0 && inv_sin_wd > 0.0;
        let period = if omega > 0.0 { (2.0 * PI / omega).round() as usize } else { 0 };
        let ctx = (lag + mean_len + period + 8).max(LOCAL_HALF + 2);
        let clip_delta = setup.quantum.max(4.0 * setup.noise_rms).max(1e-7);
        let hum_matters =
            setup.hum_rms > 0.1 * setup.amplitude / std::f64::consts::SQRT_2 || setup.dc.abs() > setup.amplitude;
        let hum_filter =
            setup.freq_hz.filter(|_| gap_detector && hum_matters).and_then(|f| HumFilter::for_tone(rate, f));
        DropoutScanner {
            setup,
            hum_filter,
            filtered: Vec::new(),
            cos_w: omega.cos(),
            cos_wd,
            inv_sin_wd,
            lag,
            mean_len,
            period,
            gap_detector,
            spike_floor: (6.0 * setup.quantum).max(1e-6 * setup.amplitude).max(1e-9),
            buf: Vec::new(),
            buf_start: start_frame,
            next_eval: start_frame,
            ctx,
            low_run: None,
            gaps: Vec::new(),
            clicks: Vec::new(),
            zero_run: None,
            min_zero_run: ((0.0005 * rate).round() as u64).max(16),
            clip_delta,
            near_max: 0,
            near_min: 0,
            counted: 0,
            level_block: setup.freq_hz.map_or(1, |f| {
                let periods = (0.005 * f).ceil().max(1.0);
                ((periods * rate / f).round() as usize).max(1)
            }),
            // y starts `lag` samples into the region.
            level_origin: start_frame + lag as u64,
            level_acc: 0.0,
            level_in: 0,
            levels: Vec::new(),
            noise_y: 0.0,
            sigma: None,
            residual: ResidualTrack { len: ((DISTURB_BLOCK_S * rate).round() as usize).max(1), ..Default::default() },
            notch: setup.freq_hz.filter(|_| gap_detector).and_then(|f| {
                let c = Coefficients::<f64>::from_params(
                    Type::Notch,
                    Hertz::<f64>::from_hz(rate).ok()?,
                    Hertz::<f64>::from_hz(f).ok()?,
                    NOTCH_Q,
                )
                .ok()?;
                // Its poles decay with a time constant of 2Q/ω: ten of them, to −87 dB.
                let settle = (10.0 * 2.0 * NOTCH_Q / (2.0 * PI * f) * rate).ceil() as u64;
                Some((Notch::new(&c), settle))
            }),
            start: start_frame,
            scratch: Vec::new(),
            ys: Vec::new(),
        }
    }

    /// Room for the block tracks of a region of `frames` samples, so that a long recording's
    /// tracks are not grown by doubling (and copying) as they stream.
    pub fn reserve(&mut self, frames: u64) {
        self.levels.reserve_exact((frames / self.level_block as u64 + 1) as usize);
        self.residual.blocks.reserve_exact((frames / self.residual.len.max(1) as u64 + 1) as usize);
    }

    /// How many samples before the region [`DropoutScanner::prime`] wants.
    pub fn preroll(&self) -> u64 {
        let hum = self.hum_filter.as_ref().map_or(0, |f| f.settle);
        hum.max(self.notch.as_ref().map_or(0, |n| n.1))
    }

    /// Feeds samples that come just before the region: they settle the filters, nothing more.
    pub fn prime(&mut self, samples: &[f32]) {
        let dc = self.setup.dc;
        let hum_from = samples.len().saturating_sub(self.hum_filter.as_ref().map_or(0, |f| f.settle) as usize);
        if let Some(f) = &mut self.hum_filter {
            samples[hum_from..].iter().for_each(|&v| {
                f.run(f64::from(v) - dc);
            });
        }
        if let Some((n, _)) = &mut self.notch {
            self.scratch.clear();
            self.scratch.extend(samples.iter().map(|&v| f64::from(v) - dc));
            let mut out = Vec::new();
            n.run(&self.scratch, &mut out);
        }
    }

    /// Feeds the next samples of the region (contiguous with what came before).
    pub fn push(&mut self, samples: &[f32]) {
        let dc = self.setup.dc;
        let new = self.buf.len();
        self.buf.extend(samples.iter().map(|&v| f64::from(v) - dc));
        let fresh = &self.buf[new..];
        match &mut self.notch {
            Some((n, _)) => {
                n.run(fresh, &mut self.scratch);
                self.residual.push(&self.scratch);
            }
            None => self.residual.push(fresh),
        }
        if let Some(f) = &mut self.hum_filter {
            self.filtered.extend(fresh.iter().map(|&v| f.run(v)));
        }
        self.evaluate(false);
    }

    fn evaluate(&mut self, last: bool) {
        let buf_end = self.buf_start + self.buf.len() as u64;
        let eval_end = if last { buf_end } else { buf_end.saturating_sub(self.ctx as u64) };
        if eval_end <= self.next_eval {
            return;
        }
        let (from, to) = ((self.next_eval - self.buf_start) as usize, (eval_end - self.buf_start) as usize);
        let x = std::mem::take(&mut self.buf);
        let filtered = std::mem::take(&mut self.filtered);
        let xg = if self.hum_filter.is_some() { &filtered } else { &x };
        let cos_w = self.cos_w;
        let e = |i: usize| -> Option<f64> { (i >= 2).then(|| x[i] - 2.0 * cos_w * x[i - 1] + x[i - 2]) };

        // Robust scale of the predictor residual over this stretch. Every 13th sample is plenty
        // (thousands a chunk); a prime stride does not lock onto a tone's period.
        let mags: Vec<f64> = (from..to).step_by(13).filter_map(|i| e(i).map(f64::abs)).collect();
        // A short last stretch keeps the scale of the stretch before it.
        let sigma = match (mags.len(), self.sigma) {
            (k, Some(prev)) if k < 64 => prev,
            (0, None) => 0.0,
            _ => 1.4826 * median_magnitude(mags),
        };
        self.sigma = Some(sigma);
        let spike = (10.0 * sigma).max(self.spike_floor);
        // The broadband noise behind y, from the same robust scale: white noise of variance σ²
        // gives the residual a variance of σ²·(2 + 4·cos²ω) and y a mean of σ²·(1 + (1+cos²ωd)/sin²ωd).
        // Harmonics inflate it, which only makes the test more cautious.
        let noise_var =
            sigma * sigma / (2.0 + 4.0 * self.cos_w * self.cos_w) + self.setup.quantum * self.setup.quantum / 12.0;
        let noise_y = noise_var * (1.0 + (1.0 + self.cos_wd * self.cos_wd) * self.inv_sin_wd * self.inv_sin_wd);
        let a2 = self.setup.amplitude * self.setup.amplitude;
        let y_threshold = 0.1 * a2 + noise_y;
        let gaps_visible = self.gap_detector && a2 > 10.0 * noise_y;
        self.noise_y = self.noise_y.max(noise_y);

        // Running mean of y: prefix sums over the buffer.
        let mut ys = std::mem::take(&mut self.ys);
        if self.gap_detector {
            // y is 0 for the first `lag` samples: never inside a mean window, since evaluation
            // starts `ctx` samples in.
            let pre = &mut ys;
            pre.clear();
            let lag = self.lag.min(xg.len());
            pre.resize(lag + 1, 0.0);
            let (cos_wd, inv_sin_wd) = (self.cos_wd, self.inv_sin_wd);
            pre.extend(xg[lag..].iter().zip(&xg[..xg.len() - lag]).map(|(&now, &then)| {
                let q = (now * cos_wd - then) * inv_sin_wd;
                now * now + q * q
            }));
            prefix_sum(&mut pre[lag + 1..]);
        }

        // Three tight passes over the stretch, each with its state in locals.
        let base = self.buf_start;
        // Clipping: samples near either extreme, counted in runs of two or more.
        let dc = self.setup.dc;
        let (near_hi, near_lo) = (self.setup.max - dc - self.clip_delta, self.setup.min - dc + self.clip_delta);
        let (n_hi, n_lo) = in_runs(&x, from, to, near_hi, near_lo);
        (self.near_max, self.near_min) = (self.near_max + n_hi, self.near_min + n_lo);
        self.counted += (to - from) as u64;

        if self.gap_detector {
            // Gaps: runs where the mean of y over `mean_len` samples stays under the threshold.
            let mut low_run = self.low_run;
            let mut closed = Vec::new();
            if gaps_visible {
                let m = self.mean_len;
                let limit = y_threshold * m as f64;
                // The mean over the `m` samples ending at i is low when `ys[i + 1] − ys[i + 1 − m]`
                // is under `limit`: find where it turns low, then where it turns back.
                let first = from.max(m + self.lag - 1);
                let mut i = first;
                while i < to {
                    let (now, back) = (&ys[i + 1..to + 1], &ys[i + 1 - m..to + 1 - m]);
                    let turn = match low_run {
                        None => find2(now, back, |n, b| n - b < limit),
                        Some(_) => find2(now, back, |n, b| n - b >= limit || (n - b).is_nan()),
                    };
                    let Some(k) = turn else { break };
                    i += k;
                    match low_run.take() {
                        None => low_run = Some(base + i as u64),
                        Some(r0) => closed.push((r0, base + i as u64)),
                    }
                    i += 1;
                }
            } else if let Some(r0) = low_run.take() {
                closed.push((r0, base + from as u64));
            }
            self.low_run = low_run;
            for (r0, r1) in closed {
                self.close_gap(r0, r1);
            }
            // The level track: y block by block, from the prefix sums (y[i] = ys[i + 1] − ys[i]).
            let (block, mut acc, mut count) = (self.level_block, self.level_acc, self.level_in);
            let mut i = from.max(self.lag);
            while i < to {
                let take = (block - count).min(to - i);
                acc += ys[i + take] - ys[i];
                count += take;
                i += take;
                if count == block {
                    self.levels.push(acc / block as f64);
                    (acc, count) = (0.0, 0);
                }
            }
            (self.level_acc, self.level_in) = (acc, count);
            // Discontinuities: predictor spikes that do not recur a period away. The residual's
            // blocks go on the track for disturbances.
            let c2 = 2.0 * cos_w;
            let first = from.max(2);
            let mut spikes = Vec::new();
            if first < to {
                let (now, one, two) = (&x[first..to], &x[first - 1..to - 1], &x[first - 2..to - 2]);
                for_each_hit(now, one, two, |a, b, c| (a - c2 * b + c).abs() > spike, |i| spikes.push(first + i));
            }
            for i in spikes {
                let mag = (x[i] - c2 * x[i - 1] + x[i - 2]).abs();
                if !self.repeats(&x, i, mag) && self.stands_out(&x, i, mag) {
                    self.clicks.push(base + i as u64);
                }
            }
        } else {
            // No usable tone: only exact-zero runs inside live noise are gaps.
            let live_noise = self.setup.noise_rms > 4.0 * self.setup.quantum && self.setup.noise_rms > 0.0;
            for (i, &v) in x.iter().enumerate().take(to).skip(from) {
                let g = base + i as u64;
                match (v == 0.0 && live_noise, self.zero_run) {
                    (true, None) => self.zero_run = Some(g),
                    (false, Some(z0)) => {
                        if g - z0 >= self.min_zero_run {
                            self.gaps.push((z0, g));
                        }
                        self.zero_run = None;
                    }
                    _ => {}
                }
            }
        }
        self.buf = x;
        self.filtered = filtered;
        self.ys = ys;
        self.next_eval = eval_end;
        // Keep the context the next stretch needs.
        let keep_from = (self.next_eval.saturating_sub(self.ctx as u64)).max(self.buf_start);
        let drop = (keep_from - self.buf_start) as usize;
        self.buf.drain(..drop);
        if self.hum_filter.is_some() {
            self.filtered.drain(..drop);
        }
        self.buf_start = keep_from;
    }

    /// Whether a spike of size `mag` at buffer index `i` stands [`LOCAL_SPIKE`] times over the
    /// residual's rms around it: a click does, however loud the capture's noise; the peaks of room
    /// sound over the tone do not.
    fn stands_out(&self, x: &[f64], i: usize, mag: f64) -> bool {
        let (lo, hi) = (i.saturating_sub(LOCAL_HALF).max(2), (i + LOCAL_HALF).min(x.len()));
        if hi <= lo {
            return true;
        }
        let c2 = 2.0 * self.cos_w;
        let energy: f64 = (lo..hi).map(|j| (x[j] - c2 * x[j - 1] + x[j - 2]).powi(2)).sum();
        mag > LOCAL_SPIKE * (energy / (hi - lo) as f64).sqrt()
    }

    /// Whether a spike of size `mag` at buffer index `i` recurs a period away (a waveform feature).
    fn repeats(&self, x: &[f64], i: usize, mag: f64) -> bool {
        if self.period < 4 {
            return false;
        }
        let e = |j: usize| x[j] - 2.0 * self.cos_w * x[j - 1] + x[j - 2];
        let near = |c: isize| -> f64 {
            (c - 2..=c + 2)
                .filter(|&j| j >= 2 && (j as usize) < x.len())
                .map(|j| e(j as usize).abs())
                .fold(0.0, f64::max)
        };
        let p = self.period as isize;
        let i = i as isize;
        near(i - p).max(near(i + p)) > 0.3 * mag
    }

    fn close_gap(&mut self, r0: u64, r1: u64) {
        let back = (self.lag + self.mean_len - 1) as u64;
        let start = r0.saturating_sub(back);
        let merge = (0.001 * self.setup.rate_hz) as u64;
        match self.gaps.last_mut() {
            Some(last) if start <= last.1 + merge => last.1 = r1,
            _ => self.gaps.push((start, r1)),
        }
    }

    /// Finishes the scan: gaps and discontinuities, level steps, and whether it looks clipped.
    pub fn finish(mut self) -> ScanResult {
        self.evaluate(true);
        let end = self.buf_start + self.buf.len() as u64;
        if let Some(r0) = self.low_run.take() {
            self.close_gap(r0, end);
        }
        if let Some(z0) = self.zero_run.take() {
            if end - z0 >= self.min_zero_run {
                self.gaps.push((z0, end));
            }
        }
        let rate = self.setup.rate_hz;
        // Long low stretches that still carry the tone are level changes.
        let min_step = (STEP_MIN_S * rate) as u64;
        let levels = std::mem::take(&mut self.levels);
        let a2 = self.setup.amplitude * self.setup.amplitude;
        let floor = (10.0 * self.noise_y).max(a2 * 10f64.powf(-STEP_MAX_DROP_DB / 10.0));
        let (block, origin) = (self.level_block as u64, self.level_origin);
        let carries_tone = |&(s, e): &(u64, u64)| {
            let inside: Vec<f64> = (s.saturating_sub(origin).div_ceil(block)..(e.saturating_sub(origin) / block))
                .filter_map(|b| levels.get(b as usize).copied())
                .collect();
            e - s >= min_step && !inside.is_empty() && median(inside) > floor
        };
        self.gaps.retain(|g| !carries_tone(g));
        let steps = self.level_steps(&levels);

        let guard = (0.002 * rate) as u64;
        // Room sound: its spikes are no discontinuities, and where it comes near the tone, its
        // dips are no gaps.
        let len = self.residual.len as u64;
        // The notch passes the quiet's broadband noise whole. A noiseless recorder rounds its
        // quiet parts to exact zeros, while the tone carries the rounding: the floor is never
        // under it (else the whole tone is hot, and a burst in it is the path's own level).
        let rounding = self.setup.rounding_rms * self.setup.rounding_rms;
        let quiet = self.setup.quiet_rms.map(|q| (q * q).max(rounding));
        // The notch rings after every step of the tone's own (a gap's edges, a click, a level
        // step) for its settling time: those blocks are the path's, not the room's.
        let settle = self.notch.as_ref().map_or(0, |n| n.1);
        let mut excluded = vec![false; self.residual.blocks.len()];
        let mut exclude = |from: u64, to: u64| {
            let (a, b) = (from.saturating_sub(self.start) / len.max(1), to.saturating_sub(self.start) / len.max(1));
            excluded.iter_mut().take(b as usize + 1).skip(a as usize).for_each(|x| *x = true);
        };
        for &(s, e) in &self.gaps {
            exclude(s.saturating_sub(len), e + settle);
        }
        for &c in &self.clicks {
            exclude(c.saturating_sub(len), c + settle);
        }
        for &(at, _) in &steps {
            exclude(at.saturating_sub(settle + len), at + settle);
        }

        let hot: Vec<(u64, u64, f64, Hot)> = self
            .residual
            .disturbed(quiet, &excluded)
            .into_iter()
            .map(|(a, b, ms, kind)| (self.start + a as u64 * len, self.start + b as u64 * len, ms, kind))
            .filter(|&(_, _, ms, _)| ms >= a2 / 2.0 * 10f64.powf(ROOM_SOUND_FLOOR_DB / 10.0))
            .collect();
        let disturbed: Vec<(u64, u64, f64)> =
            hot.iter().filter(|h| h.3 == Hot::Room).map(|&(s, e, ms, _)| (s, e, ms)).collect();
        // Bursts too short for room sound that no gap or click already accounts for: crackle
        // (not where the notch still settles on the region's first samples).
        let bursts: Vec<(u64, u64)> = hot
            .iter()
            .filter(|h| h.3 == Hot::Burst)
            .map(|&(s, e, _, _)| (s, e))
            .filter(|&(s, _)| s >= self.start + settle + len)
            .filter(|&(s, e)| !self.gaps.iter().any(|&(gs, ge)| gs < e + guard && ge + guard > s))
            .collect();
        let tone_power = a2 / 2.0;
        self.gaps.retain(|&(s, e)| {
            !disturbed.iter().any(|&(ds, de, ms)| {
                s + guard >= ds && e <= de + guard && ms > tone_power * 10f64.powf(-DISTURB_GAP_DB / 10.0)
            })
        });
        self.clicks.retain(|&c| !disturbed.iter().any(|&(ds, de, _)| c + guard >= ds && c <= de + guard));
        self.clicks.retain(|&c| !bursts.iter().any(|&(bs, be)| c + guard >= bs && c <= be + guard));
        let mut events: Vec<Dropout> = self
            .gaps
            .iter()
            .chain(&bursts)
            .map(|&(s, e)| Dropout { at_s: s as f64 / rate, ms: (e - s) as f64 / rate * 1000.0 })
            .collect();
        let mut last_click: Option<u64> = None;
        for &c in &self.clicks {
            let at_gap = self.gaps.iter().any(|&(s, e)| c + guard >= s && c <= e + guard);
            let at_step = steps.iter().any(|&(at, _)| c.abs_diff(at) <= guard + block);
            if at_gap || at_step || last_click.is_some_and(|l| c - l <= guard) {
                continue;
            }
            last_click = Some(c);
            events.push(Dropout { at_s: c as f64 / rate, ms: 0.0 });
        }
        events.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));

        let clipped = self.counted > 0 && self.setup.amplitude > 0.0 && {
            let expected = (1.0 - self.clip_delta / self.setup.amplitude).clamp(-1.0, 1.0).acos() / PI;
            let limit = 4.0 * expected + 0.002;
            let share = |k: u64| k as f64 / self.counted as f64;
            share(self.near_max) > limit || share(self.near_min) > limit
        };
        ScanResult {
            dropouts: events,
            level_steps: steps.into_iter().map(|(at, db)| LevelStep { at_s: at as f64 / rate, db }).collect(),
            clipped,
            disturbances: disturbed
                .iter()
                .map(|&(s, e, _)| super::SoundEvent { at_s: s as f64 / rate, ms: (e - s) as f64 / rate * 1000.0 })
                .collect(),
        }
    }

    /// The level steps in a track of block levels (mean `y`), as `(frame, dB)`; blocks that a gap
    /// touches are left out.
    fn level_steps(&self, levels: &[f64]) -> Vec<(u64, f64)> {
        let (block, origin) = (self.level_block as u64, self.level_origin);
        let a2 = self.setup.amplitude * self.setup.amplitude;
        // Blocks in dB, NaN where a gap touches or nothing of the tone is left (not an `Option`:
        // half the bytes on a long recording's track).
        let db: Vec<f64> = levels
            .iter()
            .enumerate()
            .map(|(b, &y)| {
                let (s, e) = (origin + b as u64 * block, origin + (b as u64 + 1) * block);
                let touched = self.gaps.iter().any(|&(gs, ge)| gs < e + block && ge + block > s);
                if !touched && y > 0.0 && y > 1e-6 * a2 {
                    10.0 * y.log10()
                } else {
                    f64::NAN
                }
            })
            .collect();
        let w = STEP_BLOCKS;
        if db.len() < w + 2 {
            return Vec::new();
        }
        // Block-to-block scatter, robustly (a step is one difference among many).
        let diffs: Vec<f64> = db.windows(2).map(|p| (p[1] - p[0]).abs()).filter(|d| !d.is_nan()).collect();
        if diffs.is_empty() {
            return Vec::new();
        }
        let scatter = 1.4826 * median(diffs) / std::f64::consts::SQRT_2;
        let side = |r: std::ops::Range<usize>| -> Option<f64> {
            let v: Vec<f64> = db[r].iter().copied().filter(|v| !v.is_nan()).collect();
            (v.len() >= w / 2).then(|| median(v))
        };
        // The same over at most `w` blocks, without an allocation (it runs for every block).
        let near = |r: std::ops::Range<usize>| -> Option<f64> {
            let mut v = [0.0; STEP_BLOCKS];
            let mut n = 0;
            for (slot, &x) in v.iter_mut().zip(db[r].iter().filter(|v| !v.is_nan())) {
                *slot = x;
                n += 1;
            }
            (n >= w / 2).then(|| *v[..n].select_nth_unstable_by(n / 2, f64::total_cmp).1)
        };
        // The difference of medians either side of each block. Both medians lie within the
        // blocks' range: where that is under the smallest step, no step can be picked there, and
        // the difference is not worked out (0 stands for it; the picks only look at 1 dB and more).
        let spread = |r: std::ops::Range<usize>| {
            db[r].iter().filter(|v| !v.is_nan()).fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)))
        };
        let change: Vec<f64> = (0..db.len())
            .map(|j| (j, spread(j.saturating_sub(w)..(j + 1 + w).min(db.len()))))
            .map(|(j, (lo, hi))| match (hi - lo >= STEP_MIN_DB).then_some(j) {
                None => 0.0,
                Some(j) => match (near(j.saturating_sub(w)..j), near(j + 1..(j + 1 + w).min(db.len()))) {
                    (Some(b), Some(a)) => a - b,
                    _ => 0.0,
                },
            })
            .collect();
        // A median of w values scatters by about 1.25·σ/√w; the difference of two by √2 times that.
        let noise = 8.0 * 1.25 * scatter * (2.0 / w as f64).sqrt();
        let picks: Vec<usize> = (0..db.len())
            .filter(|&j| {
                let c = change[j].abs();
                c >= STEP_MIN_DB
                    && c > noise
                    && (j.saturating_sub(w)..(j + w + 1).min(db.len()))
                        .all(|k| change[k].abs() <= c && (k >= j || change[k].abs() < c))
            })
            .collect();
        // Sizes between the medians of the whole stretches either side; drop what falls under 1 dB.
        let mut steps = Vec::new();
        for (n, &j) in picks.iter().enumerate() {
            let lo = if n == 0 { 0 } else { picks[n - 1] + 1 };
            let hi = picks.get(n + 1).copied().unwrap_or(db.len());
            let (Some(before), Some(after)) = (side(lo..j), side(j + 1..hi)) else { continue };
            let size = after - before;
            if size.abs() < STEP_MIN_DB {
                continue;
            }
            // Where the level changed: the medians' difference is flat for some blocks around the
            // step, so count how much of the blocks around j (w either side, within its
            // neighbours) is at the level before, each block by how far its mean lies between
            // the two levels.
            let (yb, ya) = (10f64.powf(before / 10.0), 10f64.powf(after / 10.0));
            let (from, to) = (j.saturating_sub(w).max(lo), (j + w + 1).min(hi));
            let before_blocks: f64 = (from..to)
                .map(|k| if !db[k].is_nan() { ((levels[k] - ya) / (yb - ya)).clamp(0.0, 1.0) } else { 0.5 })
                .sum();
            let at = origin + from as u64 * block + (before_blocks * block as f64).round() as u64;
            steps.push((at, size));
        }
        steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn noise(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
    }

    /// The block-wise notch against the direct recursion (the `biquad` crate's), fed in pieces of
    /// every awkward size, at tones from 20 Hz to near Nyquist.
    #[test]
    fn notch_in_blocks_is_the_direct_recursion() {
        for (rate, freq) in [(48_000.0, 20.0), (48_000.0, 1000.0), (44_100.0, 15_000.0), (192_000.0, 97.0)] {
            let c = Coefficients::<f64>::from_params(
                Type::Notch,
                Hertz::<f64>::from_hz(rate).unwrap(),
                Hertz::<f64>::from_hz(freq).unwrap(),
                NOTCH_Q,
            )
            .unwrap();
            let x = noise(20_000, freq as u64);
            let mut direct = DirectForm2Transposed::<f64>::new(c);
            let want: Vec<f64> = x.iter().map(|&v| direct.run(v)).collect();
            let mut notch = Notch::new(&c);
            let (mut got, mut out) = (Vec::new(), Vec::new());
            let mut rest = &x[..];
            for size in [1, 2, 3, 63, 64, 65, 255, 256, 257, 1000, 4096, 1].iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (piece, tail) = rest.split_at((*size).min(rest.len()));
                notch.run(piece, &mut out);
                assert_eq!(out.len(), piece.len());
                got.extend_from_slice(&out);
                rest = tail;
            }
            // Rounding only: the slowest poles (20 Hz) carry it furthest.
            let scale = want.iter().fold(0.0, |m: f64, v| m.max(v.abs()));
            let worst = want.iter().zip(&got).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            assert!(worst < 1e-9 * scale, "{freq} Hz at {rate}: differs by {worst:e}");
        }
    }

    #[test]
    fn prefix_sums_in_quarters_are_running_sums() {
        for n in (0..20).chain([63, 1001, 65_536 + 3]) {
            let x = noise(n, n as u64);
            let mut got = x.clone();
            prefix_sum(&mut got);
            let mut acc = 0.0;
            for (i, (&v, &g)) in x.iter().zip(&got).enumerate() {
                acc += v;
                assert!((acc - g).abs() < 1e-9, "n = {n}, i = {i}: {acc} against {g}");
            }
        }
    }

    /// Counted against a plain run-length count: samples in runs of two or more, over any stretch
    /// of the buffer.
    #[test]
    fn plateau_samples_are_those_in_runs() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        // Values from a few levels, so that runs of every length occur.
        let x: Vec<f64> = (0..3000).map(|_| f64::from(rng.random_range(0..4u8))).collect();
        let plain = |from: usize, to: usize, hit: &dyn Fn(f64) -> bool| -> u64 {
            let mut total = 0;
            let mut i = 0;
            while i < x.len() {
                let mut j = i;
                while j < x.len() && hit(x[j]) {
                    j += 1;
                }
                if j - i >= 2 {
                    total += (i.max(from)..j.min(to)).count() as u64;
                }
                i = j.max(i + 1);
            }
            total
        };
        // The shortest buffers, every stretch of them.
        for n in 0..4 {
            let short = &x[..n];
            for from in 0..=n {
                for to in from..=n {
                    let plain_short = |hit: &dyn Fn(f64) -> bool| -> u64 {
                        (from..to)
                            .filter(|&i| {
                                hit(short[i]) && ((i > 0 && hit(short[i - 1])) || (i + 1 < n && hit(short[i + 1])))
                            })
                            .count() as u64
                    };
                    assert_eq!(
                        in_runs(short, from, to, 2.0, 1.0),
                        (plain_short(&|v| v >= 2.0), plain_short(&|v| v <= 1.0))
                    );
                }
            }
        }
        for _ in 0..300 {
            let from = rng.random_range(0..x.len());
            let to = rng.random_range(from..=x.len());
            let (hi, lo) = (f64::from(rng.random_range(1..4u8)), f64::from(rng.random_range(0..3u8)));
            let got = in_runs(&x, from, to, hi, lo);
            assert_eq!(got, (plain(from, to, &|v| v >= hi), plain(from, to, &|v| v <= lo)), "[{from}, {to})");
        }
    }

    #[test]
    fn block_tests_find_what_a_plain_scan_finds() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for n in [0, 1, 63, 64, 65, 500] {
            let (a, b, c) = (noise(n, 1), noise(n, 2), noise(n, 3));
            for _ in 0..20 {
                let t = rng.random_range(1.0..2.5);
                let test = |a: f64, b: f64, c: f64| a + b + c > t;
                let want: Vec<usize> = (0..n).filter(|&i| test(a[i], b[i], c[i])).collect();
                let mut got = Vec::new();
                for_each_hit(&a, &b, &c, test, |i| got.push(i));
                assert_eq!(got, want);
                assert_eq!(find2(&a, &b, |a, b| a - b > t), (0..n).find(|&i| a[i] - b[i] > t));
            }
        }
    }

    #[test]
    fn median_of_magnitudes_is_the_median() {
        for n in 1..40 {
            let v: Vec<f64> = noise(n, n as u64).into_iter().map(f64::abs).collect();
            assert_eq!(median_magnitude(v.clone()), median(v));
        }
        assert_eq!(median_magnitude(Vec::new()), 0.0);
    }

    /// One pass for the block's statistics against the two-pass definition.
    #[test]
    fn block_statistics_about_the_mean() {
        for (n, dc) in [(1, 0.0), (3, 0.5), (240, 0.0), (241, 2.0), (1000, -30.0)] {
            let x: Vec<f64> = noise(n, n as u64).into_iter().map(|v| v * 1e-3 + dc).collect();
            let mean = x.iter().sum::<f64>() / n as f64;
            let ms = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
            let peak = x.iter().map(|v| (v - mean).abs()).fold(0.0, f64::max);
            let (got_ms, got_peak2) = block_stats(&x);
            // The one-pass variance loses about (mean/σ)² units of rounding.
            let tolerance = 1e-13 * (ms + mean * mean);
            assert!((got_ms - ms).abs() <= tolerance, "n = {n}: {got_ms:e} against {ms:e}");
            assert!((got_peak2 - peak * peak).abs() <= 1e-9 * peak * peak, "n = {n}");
        }
    }
}
