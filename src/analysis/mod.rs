//! Measurements on samples: pure functions and streaming scanners, no file or device I/O.
//!
//! [`analyze`] measures a recording of a single sine (spec §5) in three passes over a
//! [`SampleSource`], so an hour-long capture is measured in bounded memory:
//! 1. the envelope and sample statistics of every channel ([`locate`]);
//! 2. one steady segment per channel (0.5 s, longer for tones below 36 Hz) for the
//!    spectral measurements ([`tone`]);
//! 3. the whole steady part again for gaps, discontinuities, level steps and clipping
//!    ([`dropouts`]).
//!
//! When the tone's frequency is not given, a pass between 2 and 3 gathers the envelope of the
//! tone's own band, now that it is known, and places the tone again from it ([`locate`]): a burst
//! of noise after a tone that ended early, or a click before it, is then no part of it. On a long
//! recording, 0.1 s from its middle is measured first, and pass 1 gathers that tone's band
//! alongside; when the tone measured in pass 2 is the same (within 0.002 of a block's bin), that
//! band serves and the extra pass is not made.
//!
//! On a recording of several channels longer than about 5 s, each pass streams every channel on
//! a thread of its own while the calling thread reads and decodes ahead; the workers see the same
//! chunks, in the same order, as one thread would, so the results are the same to the bit
//! (tested). A short capture is measured on the calling thread: the diagnosis measures many of
//! them side by side already.
//!
//! Units: levels in dBFS where a full-scale sine's peak (for tones) or rms (for noise and hum)
//! is 0 dBFS; frequencies in Hz; times in seconds from the start of the capture. Decibel values
//! of nothing (digital silence) are reported as [`DB_FLOOR`].

pub mod align;
pub mod clock;
pub mod dropouts;
pub mod locate;
pub mod plug;
pub mod room;
pub mod rub_buzz;
pub mod spectrum;
pub mod stereo;
pub mod sweep;
pub mod tone;
pub mod window;

/// Signal helpers shared by the unit tests.
#[cfg(test)]
pub(crate) mod tests_support {
    /// A second-order low-pass (bilinear, Q = 1/√2) in place.
    pub fn lowpass2(x: &mut [f64], rate: f64, fc: f64) {
        let w = 2.0 * std::f64::consts::PI * fc / rate;
        let alpha = w.sin() / std::f64::consts::SQRT_2;
        let c = w.cos();
        let a0 = 1.0 + alpha;
        let (b0, b1, b2, a1, a2) =
            ((1.0 - c) / 2.0 / a0, (1.0 - c) / a0, (1.0 - c) / 2.0 / a0, -2.0 * c / a0, (1.0 - alpha) / a0);
        let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
        for v in x.iter_mut() {
            let y = b0 * *v + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
            (x2, x1, y2, y1) = (x1, *v, y1, y);
            *v = y;
        }
    }
}

pub use dropouts::{Dropout, LevelStep};
pub use locate::SoundEvent;
pub use spectrum::Spectrum;

use locate::{EnvelopeBuilder, Located, Region, ToneBand};
use serde::Serialize;

/// The lowest decibel value reported, standing for "nothing at all".
pub const DB_FLOOR: f64 = -300.0;

/// The `format` tag of [`Analysis`] JSON.
pub const ANALYSIS_FORMAT: &str = "jackbench-analysis/1";

/// Frames read per request while streaming.
const CHUNK_FRAMES: usize = 1 << 16;
/// Frames read at a time for the channels' workers (fewer hand-overs between threads); they
/// still see chunks of [`CHUNK_FRAMES`].
const READ_FRAMES: usize = 4 * CHUNK_FRAMES;
/// Reads ahead of the channels' workers.
const CHUNKS_AHEAD: usize = 1;
/// Stretches shorter than this are streamed on the calling thread (a capture of a few seconds
/// is measured beside others, and a thread per channel would cost more than it saves).
const PARALLEL_MIN_FRAMES: u64 = 4 * CHUNK_FRAMES as u64;
/// Recordings at least this long whose tone is not given have it probed in their middle, and
/// its band gathered in the first pass ([`probe_bands`]). The band serves the tone measured
/// later when their frequencies agree to [`locate::BAND_SAME`] of a bin: its envelope then
/// differs by under 10⁻⁵ dB from one gathered at the measured frequency, which can move a
/// decision taken exactly at a threshold (where a steady region ends) by one envelope block.
/// The choice depends on the recording's length alone, never on threads, so a recording is
/// always analysed the same way.
const PROBE_MIN_FRAMES: u64 = 4 * CHUNK_FRAMES as u64;

/// Where samples come from: a WAV file, memory, or a device's recording.
pub trait SampleSource {
    fn sample_rate(&self) -> u32;
    fn channels(&self) -> usize;
    /// Total number of frames.
    fn frames(&self) -> u64;
    /// Quantisation step in full-scale units (`2^−(bits−1)`), 0 for float samples.
    fn quantum(&self) -> f64;
    /// Reads up to `frames` frames from frame `start` into one buffer per channel (cleared first).
    fn read(&mut self, start: u64, frames: usize, out: &mut [Vec<f32>]) -> Result<(), SourceError>;
    /// What the samples read so far hold that no converter records, where the source counts it
    /// (a float WAV file); `None` where it cannot hold any.
    fn sample_faults(&self) -> Option<SampleFaults> {
        None
    }
}

/// What a recording's samples hold that no converter records (float files only): values that are
/// not numbers or infinite, and magnitudes beyond full scale (±1.0). The analysis reads a value
/// that is not finite as 0 (a gap) and keeps one beyond full scale as it is; these counts say
/// that it did.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct SampleFaults {
    /// Samples that are NaN or ±infinity.
    pub non_finite: u64,
    /// Finite samples of magnitude above 1.0.
    pub beyond_full_scale: u64,
    /// The largest finite magnitude, full scale = 1.0.
    pub peak: f64,
    /// The first frame holding either, seconds from the start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_at_s: Option<f64>,
    /// Every sample was counted (the whole file was read in order at least once).
    #[serde(skip)]
    pub complete: bool,
}

impl SampleFaults {
    /// Whether any sample is not what a converter records.
    pub fn any(&self) -> bool {
        self.non_finite > 0 || self.beyond_full_scale > 0
    }

    /// Counts the samples of `channels` (interleaving does not matter), frames from `first_frame`.
    pub fn scan(&mut self, channels: &[Vec<f32>], first_frame: u64, rate_hz: u32) {
        for c in channels {
            for (n, v) in c.iter().enumerate() {
                self.count(*v, first_frame + n as u64, rate_hz);
            }
        }
    }

    /// Counts one sample, frame `frame` of a recording at `rate_hz`.
    pub fn count(&mut self, v: f32, frame: u64, rate_hz: u32) {
        let a = f64::from(v.abs());
        let bad = if !v.is_finite() {
            self.non_finite += 1;
            true
        } else {
            self.peak = self.peak.max(a);
            if a > 1.0 {
                self.beyond_full_scale += 1;
                true
            } else {
                false
            }
        };
        if bad {
            let at = frame as f64 / f64::from(rate_hz.max(1));
            self.first_at_s = Some(self.first_at_s.map_or(at, |f| f.min(at)));
        }
    }

    /// In words: "12 samples are not finite (NaN or infinite) and 3 beyond full scale (peak
    /// +745.6 dBFS), the first at 0.512 s".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.non_finite > 0 {
            parts.push(format!("{} sample(s) are not finite (NaN or infinite)", self.non_finite));
        }
        if self.beyond_full_scale > 0 {
            let what = if parts.is_empty() { "sample(s) are " } else { "" };
            parts.push(format!("{} {what}beyond full scale (peak {:+.1} dBFS)", self.beyond_full_scale, db(self.peak)));
        }
        let mut s = parts.join(" and ");
        if let Some(at) = self.first_at_s {
            s.push_str(&format!(", the first at {at:.3} s"));
        }
        s
    }
}

/// A source that could not deliver samples; the message names the file or device.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

/// Why a recording could not be analysed.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("the recording has no channels")]
    NoChannels,
    #[error("--freq {0} Hz is not a frequency this recording can hold (0 < f < {1} Hz)")]
    BadFrequency(f64, f64),
}

/// Options of [`analyze`].
#[derive(Debug, Clone, Copy, Default)]
pub struct AnalyzeOptions {
    /// The tone's frequency, when known; otherwise it is found.
    pub freq_hz: Option<f64>,
    /// A silence capture: no tone is looked for; noise, hum, DC and zero-filled gaps are measured.
    pub silence: bool,
}

impl AnalyzeOptions {
    fn search(&self) -> tone::ToneSearch {
        match (self.silence, self.freq_hz) {
            (true, _) => tone::ToneSearch::Absent,
            (false, Some(f)) => tone::ToneSearch::Near(f),
            (false, None) => tone::ToneSearch::Find,
        }
    }
}

/// Spec §5's object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    pub format: &'static str,
    pub sample_rate: u32,
    pub frames: u64,
    pub duration_s: f64,
    pub channels: Vec<ChannelAnalysis>,
    /// Two-channel files only: how the channels compare (see [`stereo`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stereo: Option<StereoAnalysis>,
    /// Samples that are not finite (read as 0, a gap) or beyond full scale (kept as they are),
    /// when the recording holds any: no converter records them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid_samples: Option<SampleFaults>,
}

/// How the two channels of a recording compare, over the same 1 s of the steady part.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StereoAnalysis {
    /// Both channels carry the tone: `20·log10(A_L/A_R)`, dB.
    pub balance_db: Option<f64>,
    /// Both channels carry the tone: right phase minus left, degrees in (−180, 180].
    pub phase_deg: Option<f64>,
    /// Both channels carry the tone: true when they are in opposite polarity.
    pub inverted: Option<bool>,
    /// One channel carries the tone: the other's level at its frequency relative to it, dB.
    pub crosstalk_db: Option<f64>,
}

impl Analysis {
    /// Spec §5's object as `analyze --json` prints it: each channel's `dropouts` lists every
    /// event inside the tone, the bursts of sound over it (`disturbances`) among them. An
    /// acoustic path's diagnosis weighs those as room sound; in a file alone, or through an
    /// electrical loopback, they are artefacts like any other.
    pub fn contract(&self) -> Analysis {
        let mut a = self.clone();
        for c in &mut a.channels {
            c.dropouts.extend(c.disturbances.iter().map(|d| Dropout { at_s: d.at_s, ms: d.ms }));
            c.dropouts.sort_by(|x, y| x.at_s.total_cmp(&y.at_s));
        }
        a
    }
}

/// The measurements of one channel (spec §5 and a few more).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelAnalysis {
    /// Fundamental frequency, Hz; `null` when no tone was found.
    pub frequency_hz: Option<f64>,
    /// Fundamental's peak amplitude, dBFS.
    pub level_dbfs: Option<f64>,
    /// `100·√(ΣAₖ²)/A₁`, k = 2… up to 20 kHz or Nyquist, with the noise in the harmonics'
    /// bins taken out; 0 when they do not stand clear of it.
    pub thd_percent: Option<f64>,
    /// When the harmonics do not stand clear of the noise: the THD that noise could hide, %
    /// (the THD is below the noise, under this). `null` when THD is measured.
    pub thd_floor_percent: Option<f64>,
    /// Everything but the fundamental relative to everything, 20 Hz–20 kHz, dB.
    pub thd_n_db: Option<f64>,
    /// rms of the rest (DC, tone, harmonics, hum removed), 20 Hz–20 kHz, dBFS.
    pub noise_floor_dbfs: f64,
    /// rms of the 50/60 Hz family up to 1 kHz, dBFS; `null` when none rises above the floor.
    pub hum_dbfs: Option<f64>,
    /// 50 or 60 when hum was found.
    pub hum_mains_hz: Option<f64>,
    /// Mean sample value over the steady part, full scale = 1.0.
    pub dc_offset: f64,
    pub dropouts: Vec<Dropout>,
    /// Abrupt lasting changes of the tone's level by 1 dB or more (spec §5, v1.1).
    pub level_steps: Vec<LevelStep>,
    /// Sounds before the tone begins or after it ends (spec §5, v1.1).
    pub outside_events: Vec<SoundEvent>,
    /// Room sound over the tone (speech, a slam): added sound, not the path's (see
    /// [`dropouts`]); the spectral measurements are taken clear of it.
    pub disturbances: Vec<SoundEvent>,
    pub clipped: bool,
    pub digital_silence: bool,
    /// The grid the samples lie on ([`sample_step`]; 0: none): what the path rounds to.
    #[serde(skip)]
    pub sample_step: f64,
    /// Whether a tone stood clearly above the noise.
    pub tone_present: bool,
    /// The steady part measured, seconds from the start.
    pub steady_start_s: f64,
    pub steady_end_s: f64,
    /// Harmonics 2… as `{order, freq_hz, level_dbfs}`.
    pub harmonics: Vec<HarmonicLevel>,
}

/// One harmonic's level.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HarmonicLevel {
    pub order: u32,
    pub freq_hz: f64,
    pub level_dbfs: f64,
}

/// The median of a non-empty set of values (the upper one of an even count).
pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    let mid = v.len() / 2;
    *v.select_nth_unstable_by(mid, |a, b| a.total_cmp(b)).1
}

/// `20·log10(v)`, floored at [`DB_FLOOR`].
pub fn db(v: f64) -> f64 {
    if v > 0.0 {
        (20.0 * v.log10()).max(DB_FLOOR)
    } else {
        DB_FLOOR
    }
}

/// An rms value in dBFS, where a full-scale sine's rms (1/√2) is 0 dBFS.
pub fn rms_dbfs(rms: f64) -> f64 {
    db(rms * std::f64::consts::SQRT_2)
}

/// The step of the grid `x`'s samples lie on: the largest power of two 2⁻ᵏ (k ≤ 32) of which
/// every sample is a whole multiple, or 0 when they lie on none (computed in floating point, or
/// all zero). A path that rounds to 16 bits somewhere gives 2⁻¹⁵ whatever the file's format (a
/// sound server's 16-bit sink recorded into 24-bit samples): the rounding it adds under any
/// signal, `step/√12` rms, is noise that its silences, exact zeros, do not show.
pub fn sample_step(x: &[f64]) -> f64 {
    let mut grid = SampleGrid::default();
    x.iter().for_each(|v| grid.push(*v));
    grid.step()
}

/// [`sample_step`], gathered as the samples stream past.
#[derive(Debug, Clone, Copy, Default)]
pub struct SampleGrid {
    /// The OR of every sample's magnitude in units of 2⁻³².
    bits: u64,
    /// A sample lay on no grid of 2⁻³² or coarser.
    off: bool,
}

impl SampleGrid {
    const FINEST: i32 = 32;

    pub fn push(&mut self, v: f64) {
        if self.off || v == 0.0 {
            return;
        }
        let s = (v * 2f64.powi(Self::FINEST)).abs();
        if s.fract() == 0.0 && s < 2f64.powi(63) {
            // Whole and under 2⁶³: exact as an integer.
            self.bits |= s as u64;
        } else {
            self.off = true;
        }
    }

    pub fn push_all(&mut self, x: &[f32]) {
        if !self.off {
            x.iter().for_each(|v| self.push(f64::from(*v)));
        }
    }

    /// The grid's step, or 0 when there is none.
    pub fn step(&self) -> f64 {
        if self.off || self.bits == 0 {
            0.0
        } else {
            2f64.powi(self.bits.trailing_zeros() as i32 - Self::FINEST)
        }
    }
}

/// The rms of the rounding to a grid of `step` that any signal carries (uniform over a step).
pub fn rounding_rms(step: f64) -> f64 {
    step / 12f64.sqrt()
}

/// Measures a recording of a single sine, channel by channel.
pub fn analyze(src: &mut dyn SampleSource, opts: &AnalyzeOptions) -> Result<Analysis, AnalysisError> {
    // FFT plans and windows are kept per thread: a set's captures share a few segment lengths.
    thread_local! {
        static SPECTRUM: std::cell::RefCell<Spectrum> = std::cell::RefCell::new(Spectrum::default());
    }
    SPECTRUM.with(|s| analyze_with(src, opts, &mut s.borrow_mut(), &mut Streaming::new(PARALLEL_MIN_FRAMES)))
}

fn analyze_with(
    src: &mut dyn SampleSource,
    opts: &AnalyzeOptions,
    spectrum: &mut Spectrum,
    streaming: &mut Streaming,
) -> Result<Analysis, AnalysisError> {
    let rate = src.sample_rate();
    let rate_f = f64::from(rate);
    let nch = src.channels();
    if nch == 0 {
        return Err(AnalysisError::NoChannels);
    }
    if let Some(f) = opts.freq_hz {
        if !(f > 0.0 && f < rate_f / 2.0) {
            return Err(AnalysisError::BadFrequency(f, rate_f / 2.0));
        }
    }
    let frames = src.frames();
    let mut buf = vec![Vec::new(); nch];

    // Pass 1: envelope and statistics.
    let known = if opts.silence { None } else { opts.freq_hz };
    let mut env: Vec<EnvelopeBuilder> = (0..nch).map(|_| EnvelopeBuilder::new(rate, known)).collect();
    // A long recording whose tone is not given: the band of the tone found in its middle is
    // gathered alongside, and spares a pass when the tone measured later is the same.
    let mut probed: Vec<Option<ToneBand>> = match (known, opts.silence) {
        (None, false) if frames >= PROBE_MIN_FRAMES => probe_bands(src, rate, spectrum, &mut buf)?,
        _ => vec![None; nch],
    };
    for e in env.iter_mut() {
        e.reserve(frames);
    }
    for band in probed.iter_mut().flatten() {
        band.reserve(frames);
    }
    let mut pass1: Vec<(&mut EnvelopeBuilder, &mut Option<ToneBand>)> = env.iter_mut().zip(probed.iter_mut()).collect();
    for_each_chunk(src, streaming, &mut pass1, |(e, band), b| {
        e.push(b);
        if let Some(band) = band {
            band.push(b);
        }
    })?;
    let mut located: Vec<Located> = env.iter().map(EnvelopeBuilder::locate).collect();
    let mut regions = steady_regions(&located, &env);

    // Pass 2: the spectral measurements on a steady segment.
    let mut segments = Vec::with_capacity(nch);
    let mut spans = Vec::with_capacity(nch);
    for (c, r) in regions.iter().enumerate() {
        let (m, span) = measure_span(src, *r, c, rate_f, opts.search(), spectrum, &mut buf)?;
        segments.push(m);
        spans.push(span);
    }

    // The tone's band, now that its frequency is known, places it again.
    let tones: Vec<Option<f64>> = (0..nch)
        .map(|c| segments[c].fundamental.filter(|f| f.present && !env[c].has_band()).map(|f| f.freq_hz))
        .collect();
    if tones.iter().any(Option::is_some) {
        // Gathered already when the probe found this tone; otherwise in a pass of its own.
        let mut bands: Vec<Option<ToneBand>> =
            (0..nch).map(|c| probed[c].take().filter(|b| tones[c].is_some_and(|f| b.serves(f)))).collect();
        let mut missing: Vec<Option<ToneBand>> =
            (0..nch).map(|c| tones[c].filter(|_| bands[c].is_none()).and_then(|f| ToneBand::new(rate, f))).collect();
        missing.iter_mut().flatten().for_each(|b| b.reserve(frames));
        if missing.iter().any(Option::is_some) {
            for_each_chunk(src, streaming, &mut missing, |band, b| {
                if let Some(band) = band {
                    band.push(b);
                }
            })?;
        }
        for (c, found) in missing.into_iter().enumerate() {
            bands[c] = bands[c].take().or(found);
        }
        for (c, band) in bands.into_iter().enumerate() {
            if let Some(band) = band {
                env[c].set_band(band);
                located[c] = env[c].locate();
            }
        }
        // A segment measured stands as long as it lies inside its channel's new span.
        regions = steady_regions(&located, &env);
        for c in 0..nch {
            if spans[c].start < regions[c].start || spans[c].end > regions[c].end {
                let f = segments[c].fundamental.map_or(opts.search(), |f| tone::ToneSearch::Near(f.freq_hz));
                (segments[c], spans[c]) = measure_span(src, regions[c], c, rate_f, f, spectrum, &mut buf)?;
            }
        }
    }

    // Pass 3: gaps, discontinuities and clipping over each steady part.
    let mut scanners: Vec<dropouts::DropoutScanner> = (0..nch)
        .map(|c| {
            let m = &segments[c];
            let tone = m.fundamental.filter(|f| f.present);
            dropouts::DropoutScanner::new(
                dropouts::ScanSetup {
                    rate_hz: rate_f,
                    freq_hz: tone.map(|f| f.freq_hz),
                    amplitude: tone.map_or(0.0, |f| f.amplitude),
                    noise_rms: m.noise_rms,
                    hum_rms: m.hum.as_ref().map_or(0.0, |h| h.rms),
                    quantum: src.quantum(),
                    max: f64::from(env[c].max),
                    min: f64::from(env[c].min),
                    dc: m.dc,
                    quiet_rms: located[c].quiet_rms,
                    rounding_rms: rounding_rms(env[c].grid.step()),
                },
                regions[c].start,
            )
        })
        .collect();
    for (s, r) in scanners.iter_mut().zip(&regions) {
        s.reserve(r.len());
    }
    // Each scanner's filters settle on the samples just before its region.
    let primed: Vec<u64> = regions.iter().zip(&scanners).map(|(r, s)| r.start.saturating_sub(s.preroll())).collect();
    let scan_start = primed.iter().copied().min().unwrap_or(0);
    let scan_end = regions.iter().map(|r| r.end).max().unwrap_or(0);
    stream_channels(src, (scan_start, scan_end), streaming, &mut scanners, |c, s, pos, chunk| {
        let r = regions[c];
        let end = pos + chunk.len() as u64;
        let (p0, p1) = (primed[c].max(pos), r.start.min(end));
        if p1 > p0 {
            s.prime(&chunk[(p0 - pos) as usize..(p1 - pos) as usize]);
        }
        let (lo, hi) = (r.start.max(pos), r.end.min(end));
        if hi > lo {
            s.push(&chunk[(lo - pos) as usize..(hi - pos) as usize]);
        }
    })?;

    let long = scan_end.saturating_sub(scan_start) >= streaming.parallel_min;
    let scans = map_channels(scanners, long, dropouts::DropoutScanner::finish);
    let mut results = Vec::with_capacity(nch);
    for (c, scan) in scans.into_iter().enumerate() {
        // A dropout or a level step inside the measured segment biases it: measure again on the
        // longest span clear of both.
        let mut events = scan.dropouts.clone();
        events.extend(scan.level_steps.iter().map(|s| Dropout { at_s: s.at_s, ms: 0.0 }));
        events.extend(scan.disturbances.iter().map(|d| Dropout { at_s: d.at_s, ms: d.ms }));
        events.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
        let margin = (0.005 * rate_f) as u64;
        let hit = |r: &Region| {
            events.iter().any(|d| {
                let (s, e) = event_frames(d, rate_f, margin);
                s < r.end && e > r.start
            })
        };
        if hit(&spans[c]) {
            let clean = clean_spans(regions[c], &events, rate_f, margin).into_iter().max_by_key(Region::len);
            let tone = segments[c].fundamental.filter(|f| f.present);
            let freq = tone.map_or(opts.search(), |f| tone::ToneSearch::Near(f.freq_hz));
            match clean.filter(|r| r.len() as f64 >= 0.1 * rate_f) {
                Some(clean) => segments[c] = measure_span(src, clean, c, rate_f, freq, spectrum, &mut buf)?.0,
                // No long clean stretch (a short capture with several gaps): the whole steady
                // part with the gaps left out. The tone's own fit (frequency, level) holds however
                // much is left out; its harmonics and noise only while the gaps are at most a
                // quarter of it (masking more modulates the harmonics into the noise), else they
                // are read over the whole part, gaps and all.
                None => {
                    let span = regions[c].centred(tone::segment_len_for(tone.map(|f| f.freq_hz), rate_f) as u64);
                    let seg = read_segment(src, span, c, &mut buf)?;
                    let mut keep = vec![true; seg.len()];
                    for d in &events {
                        let (s, e) = event_frames(d, rate_f, margin);
                        let (lo, hi) = (s.max(span.start) - span.start, e.min(span.end).saturating_sub(span.start));
                        keep.iter_mut().take(hi as usize).skip(lo as usize).for_each(|k| *k = false);
                    }
                    let left_out = keep.iter().filter(|k| !**k).count();
                    if left_out < keep.len() {
                        let masked = tone::measure_segment_masked(&seg, rate_f, freq, spectrum, Some(&keep));
                        if left_out * 4 <= keep.len() {
                            segments[c] = masked;
                        } else if masked.fundamental.is_some_and(|f| f.present) {
                            segments[c].fundamental = masked.fundamental;
                        }
                    }
                }
            }
        }
        results.push(scan);
    }

    let channels: Vec<ChannelAnalysis> = results
        .into_iter()
        .enumerate()
        .map(|(c, scan)| {
            let m = &segments[c];
            let tone = m.fundamental;
            let present = tone.is_some_and(|f| f.present);
            let silent = env[c].nonzero == 0;
            ChannelAnalysis {
                frequency_hz: tone.filter(|_| !silent).map(|f| f.freq_hz),
                level_dbfs: tone.filter(|_| !silent).map(|f| db(f.amplitude)),
                thd_percent: m.thd_percent(),
                thd_floor_percent: m.thd_floor_percent(),
                thd_n_db: m.thd_n_db(),
                noise_floor_dbfs: rms_dbfs(m.noise_rms),
                hum_dbfs: m.hum.as_ref().map(|h| rms_dbfs(h.rms)),
                hum_mains_hz: m.hum.as_ref().map(|h| h.mains_hz),
                dc_offset: m.dc,
                dropouts: scan.dropouts,
                level_steps: scan.level_steps,
                outside_events: if present { std::mem::take(&mut located[c].outside) } else { Vec::new() },
                disturbances: scan.disturbances,
                clipped: (scan.clipped || m.flat_top) && present,
                digital_silence: silent,
                sample_step: env[c].grid.step(),
                tone_present: present && !silent,
                steady_start_s: regions[c].start as f64 / rate_f,
                steady_end_s: regions[c].end as f64 / rate_f,
                harmonics: m
                    .harmonics
                    .iter()
                    .map(|h| HarmonicLevel { order: h.order, freq_hz: h.freq_hz, level_dbfs: db(h.amplitude) })
                    .collect(),
            }
        })
        .collect();

    let stereo = if nch == 2 { compare_channels(src, &channels, &regions, rate_f, &mut buf)? } else { None };
    Ok(Analysis {
        format: ANALYSIS_FORMAT,
        sample_rate: rate,
        frames,
        duration_s: frames as f64 / rate_f,
        channels,
        stereo,
        invalid_samples: src.sample_faults().filter(SampleFaults::any),
    })
}

/// Each channel's steady part; a channel without a tone of its own is measured where the loudest
/// channel's tone is.
fn steady_regions(located: &[Located], env: &[EnvelopeBuilder]) -> Vec<Region> {
    let mut regions: Vec<Region> = located.iter().map(|l| l.steady).collect();
    let peak = |c: usize| env[c].max.abs().max(env[c].min.abs());
    let loudest = (0..regions.len()).filter(|&c| regions[c].onset_found).max_by(|&a, &b| peak(a).total_cmp(&peak(b)));
    if let Some(l) = loudest {
        let tone = regions[l];
        regions.iter_mut().filter(|r| !r.onset_found).for_each(|r| *r = Region { onset_found: false, ..tone });
    }
    regions
}

/// How the passes stream: buffers kept from pass to pass (fresh ones cost a page fault every
/// 4 KiB), and the length from which a stretch is worth a thread per channel.
struct Streaming {
    pool: Vec<Vec<Vec<f32>>>,
    parallel_min: u64,
}

impl Streaming {
    fn new(parallel_min: u64) -> Streaming {
        Streaming { pool: Vec::new(), parallel_min }
    }
}

/// Streams frames `[from, to)` of the recording through `work(channel, state, position, samples)`,
/// a chunk at a time, each channel with its own state.
///
/// A long stretch of a recording with several channels gets one worker thread per channel while
/// this thread reads ahead (the channels' scanners are independent, and reading and decoding is a
/// third of the work); a short one, or a single channel, runs here.
fn stream_channels<S: Send>(
    src: &mut dyn SampleSource,
    (from, to): (u64, u64),
    streaming: &mut Streaming,
    states: &mut [S],
    work: impl Fn(usize, &mut S, u64, &[f32]) + Sync,
) -> Result<(), SourceError> {
    let nch = src.channels();
    let to = to.min(src.frames());
    let pool = &mut streaming.pool;
    let mut take = || pool.pop().unwrap_or_else(|| vec![Vec::new(); nch]);
    if nch < 2 || to.saturating_sub(from) < streaming.parallel_min {
        let mut buf = take();
        let mut pos = from;
        while pos < to {
            src.read(pos, ((to - pos) as usize).min(CHUNK_FRAMES), &mut buf)?;
            let got = buf[0].len();
            if got == 0 {
                break;
            }
            states.iter_mut().zip(&buf).enumerate().for_each(|(c, (s, b))| work(c, s, pos, b));
            pos += got as u64;
        }
        pool.push(buf);
        return Ok(());
    }
    // Per channel, its share of the buffers.
    let mut mine: Vec<Vec<Vec<f32>>> = vec![Vec::new(); nch];
    for set in (0..=CHUNKS_AHEAD).map(|_| take()) {
        set.into_iter().zip(mine.iter_mut()).for_each(|(b, m)| m.push(b));
    }
    use std::sync::mpsc::{channel, sync_channel};
    let (result, mine) = std::thread::scope(|scope| {
        let work = &work;
        // Per channel: chunks to its worker, and its emptied buffers back for the next read.
        let mut to_worker = Vec::with_capacity(nch);
        let mut returned = Vec::with_capacity(nch);
        for ((c, state), buffers) in states.iter_mut().enumerate().zip(mine) {
            let (tx, rx) = sync_channel::<(u64, Vec<f32>)>(CHUNKS_AHEAD);
            let (back_tx, back_rx) = channel::<Vec<f32>>();
            for b in buffers {
                let _ = back_tx.send(b);
            }
            scope.spawn(move || {
                for (pos, chunk) in rx {
                    // The work sees the chunks it would see on one thread.
                    for (k, piece) in chunk.chunks(CHUNK_FRAMES).enumerate() {
                        work(c, state, pos + (k * CHUNK_FRAMES) as u64, piece);
                    }
                    // The reader may have stopped on an error: then nobody takes the buffer back.
                    let _ = back_tx.send(chunk);
                }
            });
            to_worker.push(tx);
            returned.push(back_rx);
        }
        let mut read = || -> Result<(), SourceError> {
            let mut pos = from;
            while pos < to {
                let mut buf: Vec<Vec<f32>> = Vec::with_capacity(nch);
                for r in &returned {
                    // A worker that is gone has panicked; the scope passes its panic on.
                    buf.push(r.recv().unwrap_or_default());
                }
                src.read(pos, ((to - pos) as usize).min(READ_FRAMES), &mut buf)?;
                let got = buf[0].len();
                if got == 0 {
                    break;
                }
                for (tx, b) in to_worker.iter().zip(buf) {
                    if tx.send((pos, b)).is_err() {
                        break;
                    }
                }
                pos += got as u64;
            }
            Ok(())
        };
        let result = read();
        // The workers finish what they were sent, then hand every buffer back.
        drop(to_worker);
        let mine: Vec<Vec<Vec<f32>>> = returned.iter().map(|r| r.iter().collect()).collect();
        (result, mine)
    });
    let sets = mine.iter().map(Vec::len).min().unwrap_or(0);
    let mut mine: Vec<_> = mine.into_iter().map(Vec::into_iter).collect();
    for _ in 0..sets {
        pool.push(mine.iter_mut().filter_map(Iterator::next).collect());
    }
    result
}

/// `f` of each channel's state, on a thread per channel when `parallel`.
fn map_channels<S: Send, R: Send>(states: Vec<S>, parallel: bool, f: impl Fn(S) -> R + Sync) -> Vec<R> {
    if !parallel || states.len() < 2 {
        return states.into_iter().map(f).collect();
    }
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = states.into_iter().map(|s| scope.spawn(move || f(s))).collect();
        // A worker that panicked passes its panic on, as the scope would.
        handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
    })
}

/// Streams the whole recording through `work`, channel by channel (see [`stream_channels`]).
fn for_each_chunk<S: Send>(
    src: &mut dyn SampleSource,
    streaming: &mut Streaming,
    states: &mut [S],
    work: impl Fn(&mut S, &[f32]) + Sync,
) -> Result<(), SourceError> {
    let frames = src.frames();
    stream_channels(src, (0, frames), streaming, states, |_, s, _, b| work(s, b))
}

/// Channels whose tone levels differ by more than this, in dB, are one driven channel and
/// crosstalk, not an imbalance.
pub const CROSSTALK_MIN_DB: f64 = 30.0;

/// Balance and polarity when both channels carry the tone, crosstalk when one does (or the
/// other is more than [`CROSSTALK_MIN_DB`] down).
fn compare_channels(
    src: &mut dyn SampleSource,
    channels: &[ChannelAnalysis],
    regions: &[Region],
    rate_f: f64,
    buf: &mut [Vec<f32>],
) -> Result<Option<StereoAnalysis>, SourceError> {
    let tone = |c: &ChannelAnalysis| c.frequency_hz.filter(|_| c.tone_present).zip(c.level_dbfs);
    let (driven, f) = match (tone(&channels[0]), tone(&channels[1])) {
        // More than 30 dB apart is not an imbalance of one signal but one channel leaking into the other.
        (Some((f, l0)), Some((_, l1))) if (l0 - l1).abs() <= CROSSTALK_MIN_DB => (None, f),
        (Some((f, l0)), Some((_, l1))) => (Some(if l0 > l1 { 0 } else { 1 }), f),
        (Some((f, _)), None) => (Some(0), f),
        (None, Some((f, _))) => (Some(1), f),
        (None, None) => return Ok(None),
    };
    let span = regions[driven.unwrap_or(0)].centred(tone::segment_len_for(Some(f), rate_f) as u64);
    let left = read_segment(src, span, 0, buf)?;
    let right = read_segment(src, span, 1, buf)?;
    Ok(Some(match driven {
        None => {
            let b = stereo::balance(&left, &right, rate_f, f);
            StereoAnalysis {
                balance_db: b.map(|b| b.balance_db),
                phase_deg: b.map(|b| b.phase_deg),
                inverted: b.map(|b| b.inverted),
                crosstalk_db: None,
            }
        }
        Some(d) => {
            let (on, off) = if d == 0 { (&left, &right) } else { (&right, &left) };
            StereoAnalysis {
                balance_db: None,
                phase_deg: None,
                inverted: None,
                crosstalk_db: stereo::crosstalk_db(on, off, rate_f, f),
            }
        }
    }))
}

/// Measures the centred segment of `region` that the tone wants (longer for low tones).
fn measure_span(
    src: &mut dyn SampleSource,
    region: Region,
    channel: usize,
    rate_f: f64,
    search: tone::ToneSearch,
    spectrum: &mut Spectrum,
    buf: &mut [Vec<f32>],
) -> Result<(tone::SegmentMeasurement, Region), SourceError> {
    let hint = match search {
        tone::ToneSearch::Near(f) => Some(f),
        _ => None,
    };
    let mut span = region.centred(tone::segment_len_for(hint, rate_f) as u64);
    let mut seg = read_segment(src, span, channel, buf)?;
    let mut m = tone::measure_segment(&seg, rate_f, search, spectrum);
    if let Some(f) = m.fundamental.filter(|f| f.present) {
        let want = tone::segment_len_for(Some(f.freq_hz), rate_f) as u64;
        if want > span.len() && region.len() > span.len() {
            span = region.centred(want);
            seg = read_segment(src, span, channel, buf)?;
            m = tone::measure_segment(&seg, rate_f, tone::ToneSearch::Near(f.freq_hz), spectrum);
        }
    }
    Ok((m, span))
}

/// The stretch a probe for the tone reads: ten periods of the lowest tone a band is kept for.
const PROBE_S: f64 = 0.1;

/// The band of the tone in the middle of the recording, per channel, where one stands there.
fn probe_bands(
    src: &mut dyn SampleSource,
    rate: u32,
    spectrum: &mut Spectrum,
    buf: &mut [Vec<f32>],
) -> Result<Vec<Option<ToneBand>>, SourceError> {
    let rate_f = f64::from(rate);
    let frames = src.frames();
    let len = ((PROBE_S * rate_f) as u64).min(frames);
    let middle = Region { start: 0, end: frames, onset_found: false }.centred(len);
    // One read for every channel: the probe is far shorter than a chunk.
    src.read(middle.start, len as usize, buf)?;
    Ok(buf
        .iter()
        .map(|samples| {
            let seg: Vec<f64> = samples.iter().map(|&v| f64::from(v)).collect();
            let m = tone::measure_segment(&seg, rate_f, tone::ToneSearch::Find, spectrum);
            m.fundamental.filter(|f| f.present).and_then(|f| ToneBand::new(rate, f.freq_hz))
        })
        .collect())
}

/// The frames `[start, end)` an event touches, widened by `margin` either side.
fn event_frames(d: &Dropout, rate_f: f64, margin: u64) -> (u64, u64) {
    let s = (d.at_s * rate_f) as u64;
    (s.saturating_sub(margin), s + (d.ms / 1000.0 * rate_f) as u64 + margin)
}

/// The parts of `region` that no dropout (widened by `margin` frames) touches.
fn clean_spans(region: Region, events: &[Dropout], rate_f: f64, margin: u64) -> Vec<Region> {
    let mut out = Vec::new();
    let mut start = region.start;
    for d in events {
        let (s, e) = event_frames(d, rate_f, margin);
        if s > start {
            out.push(Region { start, end: s.min(region.end), onset_found: region.onset_found });
        }
        start = start.max(e);
    }
    if region.end > start {
        out.push(Region { start, end: region.end, onset_found: region.onset_found });
    }
    out
}

fn read_segment(
    src: &mut dyn SampleSource,
    r: Region,
    channel: usize,
    buf: &mut [Vec<f32>],
) -> Result<Vec<f64>, SourceError> {
    let mut out = Vec::with_capacity(r.len() as usize);
    let mut pos = r.start;
    while pos < r.end {
        src.read(pos, ((r.end - pos) as usize).min(CHUNK_FRAMES), buf)?;
        let got = buf[channel].len();
        if got == 0 {
            break;
        }
        out.extend(buf[channel].iter().map(|&v| f64::from(v)));
        pos += got as u64;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{Audio, SampleFormat};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Normal};

    const RATE: u32 = 48_000;

    /// The grid of rounded samples is found at every depth from 8 to 32 bits, for any signal
    /// that reaches its finest step, and samples computed in floating point lie on none.
    #[test]
    fn the_sample_grid_is_the_rounding_of_the_samples() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let normal = Normal::new(0.0, 0.2).expect("normal");
        let x: Vec<f64> = (0..4096).map(|_| normal.sample(&mut rng)).collect();
        assert_eq!(sample_step(&x), 0.0);
        assert_eq!(sample_step(&[0.0; 16]), 0.0);
        for bits in 8..=32 {
            let q = 2f64.powi(1 - bits);
            let rounded: Vec<f64> = x.iter().map(|v| (v / q).round() * q).collect();
            assert_eq!(sample_step(&rounded), q, "{bits} bits");
            // 16-bit samples written as 24-bit ones, as a sound server's sink gives them.
            if bits <= 24 {
                let widened: Vec<f64> = rounded.iter().map(|v| (v * 2f64.powi(23)).round() / 2f64.powi(23)).collect();
                assert_eq!(sample_step(&widened), q, "{bits} bits in 24");
            }
        }
        assert!((rounding_rms(2f64.powi(-15)) - 2f64.powi(-15) / 12f64.sqrt()).abs() < 1e-18);
    }

    /// `seconds` of a channel: `tone(t)` gives the tone's (amplitude, frequency) at `t`, plus
    /// noise at −90 dBFS and a DC offset.
    fn channel(seconds: f64, seed: u64, dc: f64, tone: impl Fn(f64) -> (f64, f64)) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let noise = Normal::new(0.0, 10f64.powf(-90.0 / 20.0)).unwrap_or_else(|_| unreachable!());
        let mut phase = 0.0;
        (0..(seconds * f64::from(RATE)) as usize)
            .map(|n| {
                let (a, f) = tone(n as f64 / f64::from(RATE));
                phase += 2.0 * std::f64::consts::PI * f / f64::from(RATE);
                a * phase.sin() + noise.sample(&mut rng) + dc
            })
            .collect()
    }

    /// Every pass on a thread per channel against every pass on one thread: the same analysis,
    /// on recordings long enough to take the threads and the probe, and ones whose probe
    /// misleads (the tone not in the middle, a tone that changes frequency).
    #[test]
    fn threads_change_no_result() {
        let a = 10f64.powf(-12.0 / 20.0);
        let gap = |t: f64, at: f64| if (at..at + 0.005).contains(&t) { 0.0 } else { 1.0 };
        let recordings: Vec<(&str, Vec<Vec<f64>>, AnalyzeOptions)> = vec![
            (
                "a gap on the left, a level step on the right, DC",
                vec![
                    channel(7.0, 1, 0.01, |t| (a * gap(t, 3.3), 1000.0)),
                    channel(7.0, 2, 0.01, |t| (if t < 5.0 { a } else { a * 1.41 }, 1000.0)),
                ],
                AnalyzeOptions::default(),
            ),
            (
                "two tones, a click before them and a burst after",
                vec![
                    channel(7.0, 3, 0.0, |t| (if (0.5..6.5).contains(&t) { a } else { 0.0 }, 997.0)),
                    channel(7.0, 4, 0.0, |t| {
                        let click = if (0.2..0.2002).contains(&t) { 0.5 } else { 0.0 };
                        let burst = if (6.7..6.75).contains(&t) { 0.1 } else { 0.0 };
                        (if (0.5..6.5).contains(&t) { a } else { click + burst }, 3150.0)
                    }),
                ],
                AnalyzeOptions::default(),
            ),
            (
                "the tone only in the first two seconds",
                vec![
                    channel(7.0, 5, 0.0, |t| (if t < 2.0 { a } else { 0.0 }, 1000.0)),
                    channel(7.0, 6, 0.0, |t| (if t < 2.0 { a } else { 0.0 }, 1000.0)),
                ],
                AnalyzeOptions::default(),
            ),
            (
                "a tone that moves by 3 Hz half-way, mono",
                vec![channel(7.0, 7, 0.0, |t| (a, if t < 3.55 { 1000.0 } else { 1003.0 }))],
                AnalyzeOptions::default(),
            ),
            (
                "three channels, the tone given",
                vec![
                    channel(6.0, 8, 0.0, |t| (a * gap(t, 2.0), 500.0)),
                    channel(6.0, 9, 0.0, |_| (a / 10.0, 500.0)),
                    channel(6.0, 10, 0.0, |_| (0.0, 500.0)),
                ],
                AnalyzeOptions { freq_hz: Some(500.0), silence: false },
            ),
            (
                "silence with a zero-filled gap",
                vec![channel(6.0, 11, 0.0, |_| (0.0, 0.0))
                    .into_iter()
                    .enumerate()
                    .map(|(n, v)| if (100_000..100_500).contains(&n) { 0.0 } else { v })
                    .collect()],
                AnalyzeOptions { freq_hz: None, silence: true },
            ),
        ];
        for (what, channels, opts) in recordings {
            let audio = Audio::from_f64(RATE, SampleFormat::F32, &channels);
            let mut spectrum = Spectrum::default();
            let threaded = analyze_with(&mut audio.source(), &opts, &mut spectrum, &mut Streaming::new(0));
            let serial = analyze_with(&mut audio.source(), &opts, &mut spectrum, &mut Streaming::new(u64::MAX));
            let (threaded, serial) = (threaded.expect("analysed"), serial.expect("analysed"));
            assert_eq!(threaded, serial, "{what}");
            // And what they found is there.
            assert!(threaded.channels.iter().all(|c| c.frequency_hz.is_some() || opts.silence), "{what}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

        /// The same over rates, frequencies, levels, DC offsets and lengths, with a gap or a level
        /// step somewhere and, on a second channel, another tone.
        #[test]
        fn threads_change_no_result_over_rates_levels_and_dc(
            rate in proptest::sample::select(vec![44_100u32, 48_000, 96_000]),
            f_share in 0.0f64..1.0,
            level_db in -60.0f64..0.0,
            dc_share in 0.0f64..10.0,
            seconds in 6.0f64..8.0,
            event_at in 0.1f64..0.9,
            gap_ms in 1.0f64..20.0,
            step_db in -6.0f64..6.0,
            stereo in proptest::bool::ANY,
        ) {
            let freq = 300.0 * (15_000.0f64 / 300.0).powf(f_share);
            let a = 10f64.powf(level_db / 20.0);
            let r = f64::from(rate);
            let n = (seconds * r) as usize;
            let at = (event_at * n as f64) as usize;
            let gap = (gap_ms / 1000.0 * r) as usize;
            let step = 10f64.powf(step_db / 20.0);
            let tone = |f: f64, k: usize, gapped: bool| -> Vec<f64> {
                (0..n)
                    .map(|i| {
                        let g = if gapped && (at..at + gap).contains(&i) { 0.0 } else { 1.0 };
                        let s = if !gapped && i >= at { step } else { 1.0 };
                        let noise = 1e-5 * (((i * 7919 + k * 104_729) % 10_007) as f64 / 10_007.0 - 0.5);
                        a * g * s * (2.0 * std::f64::consts::PI * f * i as f64 / r).sin() + dc_share * a + noise
                    })
                    .collect()
            };
            let mut channels = vec![tone(freq, 1, true)];
            if stereo {
                channels.push(tone(freq * 1.37, 2, false));
            }
            let audio = Audio::from_f64(rate, SampleFormat::F32, &channels);
            let mut spectrum = Spectrum::default();
            let opts = AnalyzeOptions::default();
            let threaded = analyze_with(&mut audio.source(), &opts, &mut spectrum, &mut Streaming::new(0));
            let serial = analyze_with(&mut audio.source(), &opts, &mut spectrum, &mut Streaming::new(u64::MAX));
            proptest::prop_assert_eq!(threaded.expect("analysed"), serial.expect("analysed"));
        }
    }
}
