//! Where the tone is in a capture: a capture starts with up to 0.5 s of silence, the tone has
//! 5 ms fades, and a tail follows; only the steady part between the fades is measured.
//!
//! The envelope is the rms of 5 ms blocks about the capture's mean (a DC offset as large as the
//! tone would hide its onset), gathered while streaming as each block's mean and variance
//! (single precision, 8 bytes a block and channel, 16 with the tone band: an hour of stereo is
//! under 25 MB).
//! Blocks within 20 dB of the loud end of the envelope (its 90th percentile; where that stands
//! under 10 dB over the quiet, the level its loudest 20 ms reach: a short tone in a long capture)
//! are loud; the longest run of loud blocks is the tone's core. Neighbouring loud runs less than
//! 0.3 s away join it (the quiet between them was a dropout, not the tone's end) when they carry
//! the tone at its level: their median level within 6 dB of the core's either way, and with a
//! tone band (below) their rms share in the tone's band at least 0.8 of the core's, so a burst of
//! noise, a slam or a click after a tone that ended early stays outside it, and so does sound at
//! the tone's frequency far louder or quieter than it (a buffer played again, overloaded). Blocks
//! at either end of the span whose band share is under half the core's, or whose band level is
//! 6 dB under the core's with a share under 0.9 of its (two or more: room sound running into the
//! tone), are trimmed off. The
//! steady part is that span less 12 ms at each end: the 5 ms fade plus the block the onset fell
//! in, with margin. When the envelope's quiet and loud ends are within 10 dB there is no onset to
//! find (a soak recording, or no tone at all): the whole capture less 12 ms at each end is used and
//! the spectral test decides whether a tone is there.
//!
//! # Outside events
//! Where the tone's span was found, the blocks before it and after it (15 ms of guard either side
//! for the fades) should be quiet. Their 10th percentile rms is the quiet floor; runs of blocks
//! 10 dB over it, and over −60 dB relative to the tone, are sounds outside the tone (clicks, pops,
//! bursts), reported to the block (5 ms).
//!
//! # The tone's band
//! When the tone's frequency is known (from 300 Hz: below, a 5 ms block holds too few periods),
//! a second envelope is gathered beside the broadband one: the tone's own band, each block's
//! samples Hann-weighted and correlated with a complex exponential at that frequency (a band some
//! 400 Hz wide; the magnitude needs no phase reference, so one table serves every block). When it
//! is not known, `analyze` gathers the band in a second pass once the tone is found. Hum or a
//! raised noise floor can sit within 10 dB of a tone across the band and hide its onset from the
//! broadband envelope, but hardly inside the tone's band. The span is taken from the band unless
//! the broadband envelope shows the tone with over 20 dB more contrast (a tone far off its nominal
//! frequency, a driver at the wrong rate, leaves its band; the broadband one still sees it).

/// Block length of the envelope, in seconds.
pub const BLOCK_S: f64 = 0.005;
/// The shortest stretch whose level counts as the loud end of the envelope, seconds.
const LOUD_MIN_S: f64 = 0.02;
/// The longest lead before a stimulus (spec §2), and the shortest tail after it, seconds.
pub const LEAD_S: f64 = 0.5;
const TAIL_S: f64 = 0.2;
/// A [`ToneBand`] gathered at a frequency this far from the tone's, in bins of a block
/// (`Δf·BLOCK_S`), is the tone's band (a Hann window's response falls by `(πΔfT)²/6` there).
pub const BAND_SAME: f64 = 0.002;
/// Trimmed off each end of the tone, in seconds.
pub const EDGE_S: f64 = 0.012;
/// Quiet runs shorter than this inside the tone are bridged, in seconds.
pub const BRIDGE_S: f64 = 0.3;
/// Left out of the quiet either side of the tone (its fades and the blocks they fall in), seconds.
pub const OUTSIDE_GUARD_S: f64 = 0.015;
/// A loud run beyond a quiet stretch joins the tone when this share of its rms lies in the tone's
/// band, relative to the tone's own share …
const JOIN_PURITY: f64 = 0.8;
/// … or, without a band, when its median level is at least this share of the tone's (6 dB under).
const JOIN_WITHIN: f64 = 0.5;
/// A block outside the tone is a sound when its rms stands this far over the quiet floor, dB.
pub const OUTSIDE_OVER_FLOOR_DB: f64 = 10.0;
/// … and no further than this under the tone's loud level, dB.
pub const OUTSIDE_UNDER_TONE_DB: f64 = 60.0;

/// A burst of sound outside the tone, at `at_s` seconds from the start, lasting `ms`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SoundEvent {
    pub at_s: f64,
    pub ms: f64,
}

/// Streaming accumulator of one channel's envelope and sample statistics.
#[derive(Debug, Clone)]
pub struct EnvelopeBuilder {
    rate_hz: f64,
    block: usize,
    acc: (f64, f64),
    in_block: usize,
    /// Each block's mean and variance about it (about the capture's mean, the rms is then exact
    /// in single precision however large the offset).
    moments: Vec<(f32, f32)>,
    sum: f64,
    band: Option<ToneBand>,
    pub max: f32,
    pub min: f32,
    pub nonzero: u64,
    pub frames: u64,
    /// The grid the samples lie on (a path's rounding, [`super::sample_step`]).
    pub grid: super::SampleGrid,
}

/// The envelope of one frequency's band: per block, `|Σ x[k]·w[k]·e^{−iωk}|` with `w` a Hann
/// window. The Hann window keeps what lies 4 bins (800 Hz) away, mains hum under a 1 kHz tone,
/// 48 dB down.
#[derive(Debug, Clone)]
pub struct ToneBand {
    freq_hz: f64,
    /// `w[k]·cos ωk` and `w[k]·sin ωk` for one block (single precision: an envelope to a few
    /// parts in a million, eight lanes at a time).
    cos_w: Vec<f32>,
    sin_w: Vec<f32>,
    acc: (f64, f64),
    in_block: usize,
    /// The window's sum: a tone of amplitude `A` accumulates `A·gain/2`.
    gain: f64,
    /// What a DC of 1.0 accumulates in a block (taken off with the capture's mean).
    dc_response: (f64, f64),
    /// Each block's sum.
    sums: Vec<(f32, f32)>,
}

impl ToneBand {
    /// The band of `freq_hz` in blocks of [`BLOCK_S`]; `None` for a frequency the rate cannot hold
    /// or under 300 Hz (too few periods a block for a steady envelope).
    pub fn new(rate_hz: u32, freq_hz: f64) -> Option<ToneBand> {
        let rate = f64::from(rate_hz);
        if !(freq_hz > 0.0 && freq_hz < rate / 2.0) {
            return None;
        }
        // Below 1.5 periods a block, the tone's image at −f falls inside the window's main lobe
        // and the envelope beats with the tone's phase.
        if freq_hz * BLOCK_S < 1.5 {
            return None;
        }
        let block = block_len(rate_hz);
        let w = 2.0 * std::f64::consts::PI * freq_hz / rate;
        let window: Vec<f64> =
            (0..block).map(|k| (std::f64::consts::PI * (k as f64 + 0.5) / block as f64).sin().powi(2)).collect();
        let gain = window.iter().sum();
        let cos_w: Vec<f32> = window.iter().enumerate().map(|(k, v)| (v * (w * k as f64).cos()) as f32).collect();
        let sin_w: Vec<f32> = window.iter().enumerate().map(|(k, v)| (v * (w * k as f64).sin()) as f32).collect();
        let dc_response = (cos_w.iter().map(|&v| f64::from(v)).sum(), sin_w.iter().map(|&v| f64::from(v)).sum());
        Some(ToneBand { freq_hz, cos_w, sin_w, acc: (0.0, 0.0), in_block: 0, gain, dc_response, sums: Vec::new() })
    }

    /// Room for the blocks of `frames` samples, so that a long recording's track is not grown by
    /// doubling (and copying) as it streams.
    pub fn reserve(&mut self, frames: u64) {
        self.sums.reserve_exact((frames / self.cos_w.len().max(1) as u64 + 1) as usize);
    }

    /// Whether this band serves as the band of a tone measured at `freq_hz`: within
    /// [`BAND_SAME`] of the block's bin width, where the window's response has moved by under
    /// 10⁻⁵ dB.
    pub fn serves(&self, freq_hz: f64) -> bool {
        (self.freq_hz - freq_hz).abs() * BLOCK_S <= BAND_SAME
    }

    /// The rms of the tone in each block, a DC of `dc` taken off.
    fn envelope(&self, dc: f64) -> Vec<f32> {
        let (c, s) = self.dc_response;
        self.sums
            .iter()
            .map(|&(re, im)| {
                let amplitude = 2.0 * (f64::from(re) - dc * c).hypot(f64::from(im) - dc * s) / self.gain;
                (amplitude / std::f64::consts::SQRT_2) as f32
            })
            .collect()
    }

    pub fn push(&mut self, samples: &[f32]) {
        let block = self.cos_w.len();
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (block - self.in_block).min(rest.len());
            let (part, tail) = rest.split_at(take);
            let range = self.in_block..self.in_block + take;
            let (re, im) = dot2(part, &self.cos_w[range.clone()], &self.sin_w[range]);
            self.acc = (self.acc.0 + re, self.acc.1 + im);
            let (re, im) = self.acc;
            self.in_block += take;
            if self.in_block == block {
                self.sums.push((re as f32, im as f32));
                self.acc = (0.0, 0.0);
                self.in_block = 0;
            }
            rest = tail;
        }
    }
}

/// `(Σx, Σx², max, min, count of non-zero)` of a block, in eight independent lanes.
fn moments(x: &[f32]) -> (f64, f64, f32, f32, u64) {
    const L: usize = 8;
    let (mut sum, mut sq, mut max, mut min, mut nonzero) =
        ([0f64; L], [0f64; L], [f32::MIN; L], [f32::MAX; L], [0u32; L]);
    let chunks = x.chunks_exact(L);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..L {
            let v = f64::from(c[k]);
            sum[k] += v;
            sq[k] += v * v;
            max[k] = max[k].max(c[k]);
            min[k] = min[k].min(c[k]);
            nonzero[k] += u32::from(c[k] != 0.0);
        }
    }
    let mut out = (
        sum.iter().sum::<f64>(),
        sq.iter().sum::<f64>(),
        max.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)),
        min.iter().fold(f32::INFINITY, |a, &b| a.min(b)),
        nonzero.iter().map(|&n| u64::from(n)).sum::<u64>(),
    );
    for &v in rest {
        out.0 += f64::from(v);
        out.1 += f64::from(v) * f64::from(v);
        out.2 = out.2.max(v);
        out.3 = out.3.min(v);
        out.4 += u64::from(v != 0.0);
    }
    out
}

/// `(Σ x·c, Σ x·s)` in eight independent lanes, so that the loop vectorises.
fn dot2(x: &[f32], c: &[f32], s: &[f32]) -> (f64, f64) {
    const L: usize = 8;
    let (mut re, mut im) = ([0f32; L], [0f32; L]);
    let (xc, cc, sc) = (x.chunks_exact(L), c.chunks_exact(L), s.chunks_exact(L));
    let (xr, cr, sr) = (xc.remainder(), cc.remainder(), sc.remainder());
    for ((x, c), s) in xc.zip(cc).zip(sc) {
        for k in 0..L {
            re[k] += x[k] * c[k];
            im[k] += x[k] * s[k];
        }
    }
    let mut out = (re.iter().map(|&v| f64::from(v)).sum::<f64>(), im.iter().map(|&v| f64::from(v)).sum::<f64>());
    for ((&x, &c), &s) in xr.iter().zip(cr).zip(sr) {
        out.0 += f64::from(x * c);
        out.1 += f64::from(x * s);
    }
    out
}

/// Samples in one envelope block at `rate_hz`.
pub fn block_len(rate_hz: u32) -> usize {
    ((f64::from(rate_hz) * BLOCK_S).round() as usize).max(1)
}

/// Where the tone is in one channel: its steady part, and the sounds outside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub steady: Region,
    pub outside: Vec<SoundEvent>,
    /// The rms of the quiet before and after the tone (its 10th percentile block), when there is
    /// a quiet to read: the capture's own floor, which room sound over the tone cannot raise.
    pub quiet_rms: Option<f64>,
}

impl EnvelopeBuilder {
    /// An envelope of the broadband level, and of the band of `tone_hz` when it is known.
    pub fn new(rate_hz: u32, tone_hz: Option<f64>) -> EnvelopeBuilder {
        EnvelopeBuilder {
            rate_hz: f64::from(rate_hz),
            block: block_len(rate_hz),
            acc: (0.0, 0.0),
            in_block: 0,
            moments: Vec::new(),
            sum: 0.0,
            band: tone_hz.and_then(|f| ToneBand::new(rate_hz, f)),
            max: f32::NEG_INFINITY,
            min: f32::INFINITY,
            nonzero: 0,
            frames: 0,
            grid: super::SampleGrid::default(),
        }
    }

    /// Room for the blocks of `frames` samples (see [`ToneBand::reserve`]).
    pub fn reserve(&mut self, frames: u64) {
        self.moments.reserve_exact((frames / self.block as u64 + 1) as usize);
        if let Some(band) = &mut self.band {
            band.reserve(frames);
        }
    }

    /// Whether the tone's band is being gathered.
    pub fn has_band(&self) -> bool {
        self.band.is_some()
    }

    /// Sets the tone's band, gathered in a pass of its own over the same samples.
    pub fn set_band(&mut self, band: ToneBand) {
        self.band = Some(band);
    }

    pub fn push(&mut self, samples: &[f32]) {
        self.grid.push_all(samples);
        // Block by block, so the inner loops are plain reductions the compiler vectorises.
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (self.block - self.in_block).min(rest.len());
            let (part, tail) = rest.split_at(take);
            let (sum, sq, max, min, nonzero) = moments(part);
            (self.max, self.min) = (self.max.max(max), self.min.min(min));
            self.nonzero += nonzero;
            self.sum += sum;
            self.acc = (self.acc.0 + sum, self.acc.1 + sq);
            self.in_block += take;
            if self.in_block == self.block {
                let n = self.block as f64;
                let mean = self.acc.0 / n;
                self.moments.push((mean as f32, (self.acc.1 / n - mean * mean).max(0.0) as f32));
                self.acc = (0.0, 0.0);
                self.in_block = 0;
            }
            rest = tail;
        }
        if let Some(band) = &mut self.band {
            band.push(samples);
        }
        self.frames += samples.len() as u64;
    }

    /// The capture's mean, full scale = 1.0.
    pub fn mean(&self) -> f64 {
        if self.frames == 0 {
            0.0
        } else {
            self.sum / self.frames as f64
        }
    }

    /// The block envelope about the capture's mean, rms (complete blocks only).
    pub fn envelope(&self) -> Vec<f32> {
        let dc = self.mean();
        self.moments.iter().map(|&(m, var)| (f64::from(var) + (f64::from(m) - dc).powi(2)).sqrt() as f32).collect()
    }

    pub fn block_len(&self) -> usize {
        self.block
    }

    /// The steady span of the tone, as a frame range, and whether an onset was found: from the
    /// envelope that shows the tone with more contrast.
    pub fn steady_region(&self) -> Region {
        self.locate().steady
    }

    /// The steady span of the tone and the sounds outside it.
    pub fn locate(&self) -> Located {
        let rms = self.envelope();
        let broadband = self.span_in(&rms, &rms, None);
        let chosen = match &self.band {
            None => broadband,
            Some(band) => {
                let narrow_rms = band.envelope(self.mean());
                let narrow = self.span_in(&narrow_rms, &rms, Some(&narrow_rms));
                // The band, unless the tone shows far more clearly across the whole band (a tone
                // far off its nominal frequency leaves its band).
                match (&broadband, &narrow) {
                    (Some(b), Some(n)) if b.contrast > 10.0 * n.contrast => broadband,
                    (_, Some(_)) => narrow,
                    _ => broadband,
                }
            }
        };
        let Some(span) = chosen else {
            return Located { steady: self.whole(), outside: Vec::new(), quiet_rms: None };
        };
        let edge = self.edge_frames();
        let start = span.blocks.0 as u64 * self.block as u64 + edge;
        let end = (span.blocks.1 as u64 * self.block as u64).saturating_sub(edge);
        if end <= start + 64 {
            return Located { steady: self.whole(), outside: Vec::new(), quiet_rms: None };
        }
        let (outside, quiet_rms) = self.outside(&rms, span.blocks, span.loud);
        Located { steady: Region { start, end, onset_found: true }, outside, quiet_rms }
    }

    fn edge_frames(&self) -> u64 {
        (EDGE_S / BLOCK_S * self.block as f64).round() as u64
    }

    /// The whole capture less the edges: where a tone without onset is measured.
    fn whole(&self) -> Region {
        let edge = self.edge_frames();
        Region { start: edge.min(self.frames / 4), end: self.frames - edge.min(self.frames / 4), onset_found: false }
    }

    /// The tone's span of blocks in one envelope, `None` when it shows no onset. With `band`, a
    /// neighbouring loud run joins the core only when it carries the tone (see the module's notes).
    fn span_in(&self, env: &[f32], broadband: &[f32], band: Option<&[f32]>) -> Option<Span> {
        if env.len() < 8 {
            return None;
        }
        let mut sorted = env.to_vec();
        sorted.sort_by(|a, b| a.total_cmp(b));
        let pick = |q: f64| f64::from(sorted[((sorted.len() - 1) as f64 * q).round() as usize]);
        // The quiet: the envelope's 5th percentile, or the quiet of the capture's lead or tail
        // (spec §2: up to 0.5 s before the stimulus, at least 0.2 s after it), which in an
        // hour-long capture is far under a 20th of its blocks.
        let edge_quiet = |blocks: &[f32]| {
            let mut v = blocks.to_vec();
            v.sort_by(|a, b| a.total_cmp(b));
            v.get(v.len() / 10).map_or(f64::INFINITY, |q| f64::from(*q))
        };
        let (head, tail) = {
            let quarter = env.len() / 4;
            let head = ((LEAD_S / BLOCK_S) as usize).min(quarter);
            let tail = ((TAIL_S / BLOCK_S) as usize).min(quarter);
            (&env[..head], &env[env.len() - tail..])
        };
        let quiet = pick(0.05).min(edge_quiet(head)).min(edge_quiet(tail));
        // The loud end: the 90th percentile, where the tone fills more than a tenth of the
        // capture; where that shows no contrast, the level that the loudest 20 ms reach (a click
        // of a block or two does not): a short tone in a long capture, such as a 0.1 s tone
        // after 0.5 s of lead and before 1 s of tail.
        let enough = |loud: f64| loud > 0.0 && loud >= quiet * 10f64.powf(10.0 / 20.0);
        let least_loud = ((LOUD_MIN_S / BLOCK_S).round() as usize).clamp(1, sorted.len());
        let loud = Some(pick(0.90))
            .filter(|l| enough(*l))
            .or_else(|| Some(f64::from(sorted[sorted.len() - least_loud])).filter(|l| enough(*l)))?;
        let contrast = if quiet > 0.0 { loud / quiet } else { f64::INFINITY };
        let threshold = loud * 0.1;
        // Maximal runs of loud blocks.
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for (i, &v) in env.iter().enumerate() {
            if f64::from(v) >= threshold {
                match runs.last_mut() {
                    Some(r) if r.1 == i => r.1 = i + 1,
                    _ => runs.push((i, i + 1)),
                }
            }
        }
        let core = (0..runs.len()).max_by_key(|&k| (runs[k].1 - runs[k].0, std::cmp::Reverse(k)))?;
        // How much of a run's energy lies in the tone's band (1 for a pure tone).
        let purity = |r: (usize, usize)| -> f64 {
            band.map_or(1.0, |b| {
                let (t, all) = (r.0..r.1).fold((0.0, 0.0), |(t, all), i| {
                    (t + f64::from(b[i]).powi(2), all + f64::from(broadband[i]).powi(2))
                });
                if all > 0.0 {
                    (t / all).sqrt()
                } else {
                    0.0
                }
            })
        };
        let core_purity = purity(runs[core]);
        // A run's median level in the envelope.
        let level = |r: (usize, usize)| {
            let mut v: Vec<f32> = env[r.0..r.1].to_vec();
            let mid = v.len() / 2;
            f64::from(*v.select_nth_unstable_by(mid, |a, b| a.total_cmp(b)).1)
        };
        let core_level = level(runs[core]);
        // The tone resumes after a dropout in its band (room sound has a share of it, and a tone
        // nearly all); without a band, at its level.
        // Either way it resumes at its level: sound at the tone's frequency much louder or
        // quieter after it ended (a buffer played again, an echo of it) is none of the tone.
        let at_level = |r: (usize, usize)| {
            let l = level(r);
            l >= core_level * JOIN_WITHIN && l * JOIN_WITHIN <= core_level
        };
        let joins = |r: (usize, usize)| match band {
            Some(_) => purity(r) >= JOIN_PURITY * core_purity && at_level(r),
            None => at_level(r),
        };
        let bridge = (BRIDGE_S / BLOCK_S).round() as usize;
        let (mut lo, mut hi) = (core, core);
        while lo > 0 && runs[lo].0 - runs[lo - 1].1 <= bridge && joins(runs[lo - 1]) {
            lo -= 1;
        }
        while hi + 1 < runs.len() && runs[hi + 1].0 - runs[hi].1 <= bridge && joins(runs[hi + 1]) {
            hi += 1;
        }
        let (mut first, mut last) = (runs[lo].0, runs[hi].1);
        // Sound right next to the tone (room noise as it starts or ends) is loud but mostly out of
        // the tone's band: the span ends where the band holds under half the core's share. A fade
        // takes at most the one block its onset fell in, so a trim counts from two blocks.
        if let Some(b) = band {
            // Band level of the core, against which a block under it by 6 dB is not the tone's
            // unless nearly all of it lies in the band (a tone after a level step).
            let core_band = {
                let mut v: Vec<f32> = b[runs[core].0..runs[core].1].to_vec();
                let mid = v.len() / 2;
                f64::from(*v.select_nth_unstable_by(mid, |x, y| x.total_cmp(y)).1)
            };
            let foreign = |i: &usize| {
                let (all, tone) = (f64::from(broadband[*i]), f64::from(b[*i]));
                let share = if all > 0.0 { tone / all } else { 0.0 };
                share < 0.5 * core_purity || (tone < 0.5 * core_band && share < 0.9 * core_purity)
            };
            let lead = (first..last).take_while(foreign).count();
            if lead >= 2 {
                first += lead;
            }
            let trail = (first..last).rev().take_while(foreign).count();
            if trail >= 2 {
                last -= trail;
            }
        }
        Some(Span { blocks: (first, last), contrast, loud })
    }

    /// Runs of blocks before and after the tone's span that stand out of the quiet.
    fn outside(&self, env: &[f32], (first, last): (usize, usize), loud: f64) -> (Vec<SoundEvent>, Option<f64>) {
        let guard = (OUTSIDE_GUARD_S / BLOCK_S).round() as usize;
        let before = 0..first.saturating_sub(guard);
        let after = (last + guard).min(env.len())..env.len();
        let mut quiet: Vec<f32> = env[before.clone()].iter().chain(&env[after.clone()]).copied().collect();
        if quiet.len() < 4 {
            return (Vec::new(), None);
        }
        // The quiet floor is a low percentile: noise that fills most of the lead still stands
        // out of the quiet rest.
        let low = quiet.len() / 10;
        let floor = f64::from(*quiet.select_nth_unstable_by(low, |a, b| a.total_cmp(b)).1);
        let over =
            (floor * 10f64.powf(OUTSIDE_OVER_FLOOR_DB / 20.0)).max(loud * 10f64.powf(-OUTSIDE_UNDER_TONE_DB / 20.0));
        let mut events = Vec::new();
        for range in [before, after] {
            let mut run: Option<usize> = None;
            for i in range.clone().chain(std::iter::once(range.end)) {
                let hot = i < range.end && f64::from(env[i]) > over;
                match (hot, run) {
                    (true, None) => run = Some(i),
                    (false, Some(r0)) => {
                        events.push((r0, i));
                        run = None;
                    }
                    _ => {}
                }
            }
        }
        let events = events
            .into_iter()
            .map(|(a, b)| SoundEvent {
                at_s: (a * self.block) as f64 / self.rate_hz,
                ms: ((b - a) * self.block) as f64 / self.rate_hz * 1000.0,
            })
            .collect();
        (events, Some(floor))
    }
}

/// The tone's span in an envelope, in blocks `[start, end)`, with the envelope's contrast and
/// loud level (rms).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Span {
    blocks: (usize, usize),
    contrast: f64,
    loud: f64,
}

/// A span of frames `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub start: u64,
    pub end: u64,
    /// True when the tone's onset and end were found in the envelope.
    pub onset_found: bool,
}

impl Region {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// A sub-span of at most `len` frames centred in this one, its length FFT-friendly.
    pub fn centred(&self, len: u64) -> Region {
        let len = crate::analysis::spectrum::fast_len_at_most(len.min(self.len()) as usize) as u64;
        let start = self.start + (self.len() - len) / 2;
        Region { start, end: start + len, onset_found: self.onset_found }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stimulus::Stimulus;

    #[test]
    fn steady_part_excludes_lead_fades_and_tail() {
        let rate = 48_000;
        let tone = Stimulus::Sine { freq_hz: 1000.0, level_dbfs: -20.0, seconds: 1.0 }.render(rate);
        let lead = 17_123usize;
        let mut x = vec![0f32; lead];
        x.extend(tone.iter().map(|v| *v as f32));
        x.extend(std::iter::repeat_n(0f32, 12_000));
        // A little noise everywhere.
        for (i, v) in x.iter_mut().enumerate() {
            *v += 1e-5 * (((i * 7_919) % 1_000) as f32 / 500.0 - 1.0);
        }
        let mut env = EnvelopeBuilder::new(rate, None);
        env.push(&x);
        let r = env.steady_region();
        assert!(r.onset_found);
        let fade = (0.005 * f64::from(rate)) as u64;
        assert!(r.start >= lead as u64 + fade, "{r:?}");
        assert!(r.start <= lead as u64 + 3 * fade, "{r:?}");
        let tone_end = (lead + tone.len()) as u64;
        assert!(r.end <= tone_end - fade && r.end >= tone_end - 3 * fade, "{r:?}");
    }

    #[test]
    fn a_dropout_does_not_end_the_tone() {
        let rate = 44_100;
        let mut x: Vec<f32> = Stimulus::Sine { freq_hz: 440.0, level_dbfs: -6.0, seconds: 2.0 }
            .render(rate)
            .iter()
            .map(|v| *v as f32)
            .collect();
        x[40_000..41_000].iter_mut().for_each(|v| *v = 0.0);
        let mut lead = vec![0f32; 5_000];
        lead.extend(x);
        let mut env = EnvelopeBuilder::new(rate, None);
        env.push(&lead);
        let r = env.steady_region();
        assert!(r.len() as f64 > 1.9 * f64::from(rate), "{r:?}");
    }
}
