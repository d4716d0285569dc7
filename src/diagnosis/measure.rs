//! Measuring every capture of a set: what the diagnosis reasons about, per capture and per ear.
//!
//! - **sine**: the tone analysis at the stimulus frequency (±10 %), per channel: presence, level,
//!   frequency, THD, noise floor, hum, dropouts; and the stereo comparison.
//! - **silence**: the same in silence mode: noise floor, hum, digital silence, zero-filled gaps.
//! - **log_sweep** (and multitone): alignment with the stimulus gives presence (correlation),
//!   level (gain) and polarity; the sweep deconvolution gives the frequency response.
//!
//! Playback captures have two ears (left, right); record and loopback captures one channel (a
//! second channel, which the contract says is identical, is ignored).

use crate::analysis::align::align;
use crate::analysis::rub_buzz::{rub_buzz, RubBuzzOptions, RubBuzzPoint};
use crate::analysis::spectrum::Spectrum;
use crate::analysis::sweep::{sweep_response, DistortionPoint, ResponsePoint, SweepOptions};
use crate::analysis::SampleSource;
use crate::analysis::{analyze, AnalyzeOptions, Dropout, LevelStep, SoundEvent, StereoAnalysis, DB_FLOOR};
use crate::capture::{CaptureEntry, CaptureSet, Direction, Drive, FirstChannels, PathSpec, WavError, WavSource};
use crate::stimulus::Stimulus;
use serde::Serialize;

/// A sweep or multitone counts as present on a channel when its normalised correlation with the
/// stimulus is at least this. A clean copy gives 1; noise alone about 1/√(time·bandwidth), 0.01
/// for half a second over 20 kHz, and its best lag a few times that; a path that lost half the
/// sweep's octaves (a port that lost its bass below 800 Hz) still carries it, at about 0.3.
pub const SWEEP_PRESENT_CORRELATION: f64 = 0.1;

/// What one channel of a capture shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EarMeasure {
    /// The stimulus is on this channel (a tone stands 20 dB over the local noise; a sweep correlates).
    pub present: bool,
    /// Level of the stimulus on this channel, dBFS (tone: fundamental peak; sweep: stimulus level
    /// plus the median gain over 200 Hz–5 kHz). `None` when absent.
    pub level_dbfs: Option<f64>,
    /// `level_dbfs` less the stimulus's level: the path's gain, dB.
    pub gain_db: Option<f64>,
    /// Measured over nominal frequency (tones).
    pub freq_ratio: Option<f64>,
    pub thd_percent: Option<f64>,
    pub noise_floor_dbfs: f64,
    pub hum_dbfs: Option<f64>,
    /// 50 or 60 when hum was found.
    pub hum_mains_hz: Option<f64>,
    pub digital_silence: bool,
    /// The rms of the rounding the samples carry under any signal, full scale = 1.0
    /// ([`crate::analysis::sample_step`]; 0 when they lie on no grid): the least noise a stimulus
    /// comes back with on this path, though its silences be exact zeros.
    #[serde(skip)]
    pub rounding_rms: f64,
    /// Gaps (`ms` > 0) and discontinuities (`ms` = 0).
    pub dropouts: Vec<Dropout>,
    /// For each of `dropouts`: whether its samples are exact zeros (digital zero-fill, not an
    /// analog break). Serialised as `zero_filled`, their count.
    #[serde(rename = "zero_filled", serialize_with = "count_true")]
    pub zero_fill: Vec<bool>,
    /// Tone: abrupt lasting changes of its level (a contact whose resistance changed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub level_steps: Vec<LevelStep>,
    /// Tone: sounds before it began or after it ended, where the capture should be quiet.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub outside_events: Vec<SoundEvent>,
    /// Tone: room sound over it (speech, a slam). It adds sound: it can neither make a gap nor
    /// take level away, so the capture still tells those; its spectral measurements are taken
    /// clear of it where the tone is long enough.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub disturbances: Vec<SoundEvent>,
    /// Tone: the waveform is flat-topped. Sweep: the capture reached full scale (the recording
    /// overloaded, so its distortion is the bench's).
    pub clipped: bool,
    /// Sweep: the capture carries the stimulus inverted.
    pub inverted: Option<bool>,
    /// Sweep: normalised correlation with the stimulus (1 = a clean copy).
    pub correlation: Option<f64>,
    /// Sweep: the frequency response, dB relative to the stimulus.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub response: Vec<ResponsePoint>,
    /// Sweep: THD over frequency (orders 2 to 5), from the harmonic impulse responses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub thd: Vec<DistortionPoint>,
    /// Sweep: rub & buzz over frequency (1/3-octave bands; see [`crate::analysis::rub_buzz`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rub_buzz: Vec<RubBuzzPoint>,
}

impl EarMeasure {
    /// A channel on which nothing was measured yet: no stimulus, no events, silence's floor.
    pub fn nothing() -> EarMeasure {
        EarMeasure {
            present: false,
            level_dbfs: None,
            gain_db: None,
            freq_ratio: None,
            thd_percent: None,
            noise_floor_dbfs: DB_FLOOR,
            hum_dbfs: None,
            hum_mains_hz: None,
            digital_silence: false,
            rounding_rms: 0.0,
            dropouts: Vec::new(),
            zero_fill: Vec::new(),
            level_steps: Vec::new(),
            outside_events: Vec::new(),
            disturbances: Vec::new(),
            clipped: false,
            inverted: None,
            correlation: None,
            response: Vec::new(),
            thd: Vec::new(),
            rub_buzz: Vec::new(),
        }
    }

    /// Sweep: the loudest band whose residual stands far over its noise without being locked to
    /// the sweep, on this ear alone (see [`Measured::sweep_room_sound`], which asks the other
    /// ear). Sound far under the signal moves no measurement (a digital loop's rounding stands
    /// 200 dB over its zero noise).
    pub fn sweep_unlocked_peak(&self) -> Option<&RubBuzzPoint> {
        self.rub_buzz
            .iter()
            .filter(|p| {
                p.peak_db - p.noise_db >= crate::diagnosis::NOISE_PEAK_DB + ROOM_OVER_NOISE_DB
                    && p.locked < crate::analysis::rub_buzz::LOCKED_MIN
                    && p.peak_db >= crate::analysis::dropouts::ROOM_SOUND_FLOOR_DB
            })
            .max_by(|a, b| (a.peak_db - a.noise_db).total_cmp(&(b.peak_db - b.noise_db)))
    }

    /// Room sound lay over this channel's tone: its noise, hum and THD may be the room's (it
    /// adds sound; it makes no gap and takes no level away).
    pub fn disturbed(&self) -> bool {
        !self.disturbances.is_empty()
    }
}

/// How far over what noise alone reaches a sweep band's unlocked residual marks room sound, dB.
pub const ROOM_OVER_NOISE_DB: f64 = 10.0;

/// One capture, measured.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    pub file: String,
    pub direction: Direction,
    pub stimulus: String,
    #[serde(skip)]
    pub signal: Stimulus,
    pub drive: Option<Drive>,
    pub path: PathSpec,
    pub sample_rate: u32,
    /// Playback: [left ear, right ear]; record and loopback: [microphone].
    pub ears: Vec<EarMeasure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stereo: Option<StereoAnalysis>,
    /// The segment of a sequence this measurement is of (`None`: the whole capture). Its times
    /// (gaps, steps, events) count from the segment window's start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment: Option<SegmentWindow>,
}

/// Where a segment of a sequence was cut from its capture.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentWindow {
    /// The segment's id in its sequence.
    pub id: String,
    /// The window measured, seconds into the WAV file: the segment and the quiet around it.
    pub start_s: f64,
    pub seconds: f64,
    /// The capture's clock offset (the recorder's against the player's), found from its tones,
    /// ppm (`analysis::clock`); its sweeps and multitones were cut from the capture resampled by
    /// it. `None`: the sequence has no tone that came back, or the offset is no drift (a rate
    /// mismatch, left alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_ppm: Option<f64>,
}

impl Measured {
    /// The capture's file, and the segment when this is one: for evidence and reports.
    pub fn place(&self) -> String {
        match &self.segment {
            Some(w) => format!("{} [{} at {:.2} s]", self.file, w.id, w.start_s),
            None => self.file.clone(),
        }
    }

    /// Room sound over this capture, in words: a tone's disturbances, or a sweep band whose
    /// residual stands far over its noise without being locked to the sweep. `None` when clean.
    pub fn room_sound(&self) -> Option<String> {
        let mut what = Vec::new();
        for (e, x) in self.ears.iter().enumerate() {
            let name = if self.ears.len() == 2 { ["left ear", "right ear"][e] } else { "microphone" };
            if let Some(d) = x.disturbances.iter().max_by(|a, b| a.ms.total_cmp(&b.ms)) {
                what.push(format!("{name}: sound over the tone at {:.2} s for {:.0} ms", d.at_s, d.ms));
                continue;
            }
            if let Some(p) = self.sweep_room_sound(e) {
                what.push(format!(
                    "{name}: sound over the sweep near {}, {:.0} dB over its noise and not locked to it",
                    crate::diagnosis::hz_text(p.freq_hz),
                    p.peak_db - p.noise_db
                ));
            }
        }
        (!what.is_empty()).then(|| what.join("; "))
    }

    /// Room sound over ear `e`'s sweep: its loudest band whose residual stands far over its noise
    /// without being locked to the sweep ([`EarMeasure::sweep_unlocked_peak`]), heard by the other
    /// ear too where the capture has one. The bands next to it share the sound, and with few
    /// periods each they may look locked: the ear's rub & buzz is no test. Sound in the room
    /// reaches both couplers; residual on one ear alone, with the other ear's band at its noise,
    /// is that ear's own: the edge of a rub, where the excursion reaches the defect only in some
    /// periods.
    pub fn sweep_room_sound(&self, e: usize) -> Option<&RubBuzzPoint> {
        let p = self.ears.get(e)?.sweep_unlocked_peak()?;
        let other = self.ears.iter().enumerate().find(|(o, x)| *o != e && self.driven(*o) && !x.rub_buzz.is_empty());
        match other {
            Some((_, x)) => {
                let q = x.rub_buzz.iter().find(|q| (q.freq_hz / p.freq_hz - 1.0).abs() < 1e-6)?;
                (q.peak_db - q.noise_db >= crate::diagnosis::NOISE_PEAK_DB + 3.0).then_some(p)
            }
            None => Some(p),
        }
    }

    /// Whether the stimulus is a signal (not silence).
    pub fn has_signal(&self) -> bool {
        !matches!(self.signal, Stimulus::Silence { .. })
    }

    /// Whether an ear is driven: playback ears by their drive; record and loopback always.
    pub fn driven(&self, ear: usize) -> bool {
        drives(self.direction, self.drive, ear)
    }
}

/// Whether a capture in `direction` with `drive` played into `ear` (on the other ear of a
/// one-sided playback capture is only crosstalk).
fn drives(direction: Direction, drive: Option<Drive>, ear: usize) -> bool {
    match (direction, drive) {
        (Direction::Playback, Some(Drive::Left)) => ear == 0,
        (Direction::Playback, Some(Drive::Right)) => ear == 1,
        _ => true,
    }
}

/// Why a capture could not be measured. Each names the capture's file; the diagnosis lists such
/// captures as `missing` (spec §4, v1.2) and measures the rest.
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    #[error(transparent)]
    Wav(#[from] WavError),
    #[error("{file}: {message}")]
    Unusable { file: String, message: String },
}

impl MeasureError {
    /// Why, without the file's path in front (the caller names the capture).
    pub fn reason(&self, path: &std::path::Path) -> String {
        let text = self.to_string();
        let prefix = format!("{}: ", path.display());
        text.strip_prefix(&prefix).map(str::to_string).unwrap_or(text)
    }
}

/// A capture that could not be measured, and why (a WAV that is not one, a capture shorter than
/// its stimulus, samples no converter records).
#[derive(Debug, Clone, PartialEq)]
pub struct Unmeasured {
    /// The capture's file as the manifest names it.
    pub file: String,
    pub why: String,
}

/// What [`measure_set`] made of a set: the measurements (a sequence's segments each), and the
/// captures it could not measure.
#[derive(Debug, Clone, Default)]
pub struct SetMeasurements {
    pub measured: Vec<Measured>,
    pub unmeasured: Vec<Unmeasured>,
}

/// Measures every capture of `set`, on up to `threads` threads, in manifest order (a sequence's
/// segments in their order, one measurement each). A capture that cannot be measured is said in
/// `unmeasured`; it stops nothing.
pub fn measure_set(set: &CaptureSet, threads: usize) -> SetMeasurements {
    let captures = &set.manifest.captures;
    let threads = threads.clamp(1, captures.len().max(1));
    let mut results: Vec<Option<Result<Vec<Measured>, MeasureError>>> = (0..captures.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let chunks: Vec<_> = results.chunks_mut(captures.len().div_ceil(threads).max(1)).collect();
        let mut start = 0;
        for chunk in chunks {
            let first = start;
            start += chunk.len();
            scope.spawn(move || {
                let mut spectrum = Spectrum::default();
                for (k, slot) in chunk.iter_mut().enumerate() {
                    *slot = Some(measure_capture(set, &captures[first + k], &mut spectrum));
                }
            });
        }
    });
    let mut out = SetMeasurements::default();
    for (r, entry) in results.into_iter().zip(captures) {
        match r {
            Some(Ok(m)) => out.measured.extend(m),
            Some(Err(e)) => {
                out.unmeasured.push(Unmeasured { file: entry.file.clone(), why: e.reason(&set.wav_path(entry)) })
            }
            None => out.unmeasured.push(Unmeasured { file: entry.file.clone(), why: "not measured".into() }),
        }
    }
    out
}

/// What of a capture's tail past its stimulus a broadband stimulus or a sequence is measured with,
/// seconds (at least; as much again as the stimulus lasts, for long ones): its quiet and what a
/// late start pushed there. Tones and silences are streamed from the file whole.
const MEASURED_TAIL_S: f64 = 1.5;

/// Measures one capture: one measurement, or one per segment of a sequence. Tones and silences
/// are streamed from the file (an hour-long capture is measured in bounded memory); sweeps,
/// multitones and sequences are read as far as they can reach (the longest lead, the stimulus and
/// a tail). A capture shorter than its stimulus, or with samples that are not finite or beyond
/// full scale, is no measurement (an error naming why).
pub fn measure_capture(
    set: &CaptureSet,
    entry: &CaptureEntry,
    spectrum: &mut Spectrum,
) -> Result<Vec<Measured>, MeasureError> {
    let path = set.wav_path(entry);
    let signal = set
        .manifest
        .stimulus(&entry.stimulus)
        .map(|s| s.signal.clone())
        .ok_or_else(|| MeasureError::Unusable { file: entry.file.clone(), message: "unknown stimulus".into() })?;
    let mut src = WavSource::open(&path)?;
    let rate = f64::from(src.sample_rate());
    let unusable = |message: String| MeasureError::Unusable { file: path.display().to_string(), message };
    let have_s = src.frames() as f64 / rate;
    let needed_s = signal.seconds();
    if have_s < needed_s {
        return Err(unusable(format!(
            "too short: {have_s:.3} s of audio for a stimulus of {needed_s:.3} s (\"{}\")",
            entry.stimulus
        )));
    }
    let samples = |faults: crate::capture::SampleFaults| -> Result<(), MeasureError> {
        if faults.any() {
            return Err(unusable(format!("{}: no converter records that", faults.describe())));
        }
        Ok(())
    };
    if matches!(signal, Stimulus::Sine { .. } | Stimulus::Silence { .. }) {
        if let Err(e) = signal.validate(src.sample_rate()) {
            return Err(unusable(format!("stimulus \"{}\" cannot be played at {rate} Hz: {e}", entry.stimulus)));
        }
        let m = measure_tone(&mut src, entry, signal)?;
        samples(src.sample_faults())?;
        return Ok(vec![m]);
    }
    let reach_s = crate::analysis::locate::LEAD_S + needed_s + MEASURED_TAIL_S.max(needed_s);
    let (audio, faults) = src.read_prefix((reach_s * rate).ceil() as u64)?;
    samples(faults)?;
    measure_take(audio, entry, signal, spectrum)
}

/// Measures one capture's audio: one measurement, or one per segment of a sequence.
pub fn measure_take(
    audio: crate::capture::Audio,
    entry: &CaptureEntry,
    signal: Stimulus,
    spectrum: &mut Spectrum,
) -> Result<Vec<Measured>, MeasureError> {
    match signal {
        Stimulus::Sequence { .. } => measure_sequence(audio, entry, &signal, spectrum),
        _ => measure_audio(audio, entry, signal, spectrum).map(|m| vec![m]),
    }
}

/// Below this share of a capture's energy explained by the sequence, the capture is taken not to
/// carry it anywhere (a dead path): its segments are then cut where the capture's lead puts them.
/// Noise alone explains about 1/(time·bandwidth), under 10⁻⁴ for a sequence of a few tenths of
/// a second.
const SEQUENCE_FOUND_SHARE: f64 = 0.01;
/// The most of a capture's lead or tail a segment at either end of a sequence takes into its
/// window, seconds.
const EDGE_QUIET_S: f64 = 0.25;

/// Measures each segment of a sequence as a capture of its own: the sequence is found in the
/// capture once (over all its channels, as a mix of what each output played:
/// [`crate::analysis::align::locate_mix`]), each segment is cut with the
/// quiet around it and measured with its stimulus and drive. The quiet: half the gap on a side
/// where another sound follows; the neighbouring silence segments; and the capture's lead or tail,
/// up to [`EDGE_QUIET_S`], where only silence lies between the segment and the sequence's end.
fn measure_sequence(
    audio: crate::capture::Audio,
    entry: &CaptureEntry,
    signal: &Stimulus,
    spectrum: &mut Spectrum,
) -> Result<Vec<Measured>, MeasureError> {
    let Stimulus::Sequence { gap_s, .. } = signal else { return Ok(Vec::new()) };
    if let Err(e) = signal.validate(audio.rate_hz) {
        return Err(MeasureError::Unusable {
            file: entry.file.clone(),
            message: format!("stimulus \"{}\" cannot be played at {} Hz: {e}", entry.stimulus, audio.rate_hz),
        });
    }
    let rate = f64::from(audio.rate_hz);
    let used = if entry.direction == Direction::Playback { audio.channels.len().min(2) } else { 1 };
    let len = audio.channels.first().map_or(0, Vec::len);
    // What each output channel played: the capture is found as a mix of them (any polarity).
    let references: Vec<Vec<f64>> = if entry.direction == Direction::Record {
        vec![signal.render(audio.rate_hz)]
    } else {
        vec![signal.render_on(audio.rate_hz, Some(0)), signal.render_on(audio.rate_hz, Some(1))]
    };
    let ys: Vec<Vec<f64>> =
        audio.channels.iter().take(used).map(|c| c.iter().map(|&v| f64::from(v)).collect()).collect();
    let found = crate::analysis::align::locate_mix(
        &ys.iter().map(Vec::as_slice).collect::<Vec<_>>(),
        &references.iter().map(Vec::as_slice).collect::<Vec<_>>(),
        spectrum,
    );
    let stimulus_len = references.first().map_or(0, Vec::len);
    let onset = found
        .filter(|(_, explained)| *explained >= SEQUENCE_FOUND_SHARE)
        .map(|(lag, _)| lag as f64)
        // Not found: the stimulus as far into the capture as its lead can be (spec §2).
        .unwrap_or_else(|| (len as f64 - stimulus_len as f64 - 0.2 * rate).clamp(0.0, 0.5 * rate));
    // Clock drift between the device that played and the one that recorded: found from the
    // tones. The sweeps and multitones are cut from the capture resampled by it (they are what
    // a stretch in time moves); tones and silences from the capture as recorded, at their
    // stretched places (a few hundred ppm moves no level, noise or THD, and resampling would
    // take the band above the resampler's cut-off out of a silence's noise).
    let drift = crate::analysis::clock::estimate(
        &ys.iter().map(Vec::as_slice).collect::<Vec<_>>(),
        audio.rate_hz,
        signal,
        onset,
    )
    .filter(crate::analysis::clock::Drift::correctable);
    drop(ys);
    let broadband = |s: &Stimulus| matches!(s, Stimulus::LogSweep { .. } | Stimulus::Multitone { .. });
    let segments = signal.segments();
    let corrected = match drift {
        Some(d) if segments.iter().any(|(_, seg)| broadband(&seg.signal)) => {
            let wide: Vec<Vec<f64>> =
                audio.channels.iter().map(|c| c.iter().map(|&v| f64::from(v)).collect()).collect();
            let fixed = crate::analysis::clock::correct(&wide, d).map_err(|e| MeasureError::Unusable {
                file: entry.file.clone(),
                message: format!("resampling: {e}"),
            })?;
            let channels = fixed.into_iter().map(|c| c.into_iter().map(|v| v as f32).collect()).collect();
            Some(crate::capture::Audio { channels, rate_hz: audio.rate_hz, format: audio.format })
        }
        _ => None,
    };
    let stretch = drift.map_or(1.0, |d| d.ratio);
    let silent = |j: usize| matches!(segments[j].1.signal, Stimulus::Silence { .. });
    let mut out = Vec::with_capacity(segments.len());
    for (k, (_, seg)) in segments.iter().enumerate() {
        // The window reaches over the silences next to the segment, and into the lead or the
        // tail when only silences lie between it and the sequence's end.
        let (mut first, mut last) = (k, k);
        while first > 0 && silent(first - 1) {
            first -= 1;
        }
        while last + 1 < segments.len() && silent(last + 1) {
            last += 1;
        }
        let lo = if first == 0 { -EDGE_QUIET_S } else { segments[first].0 - gap_s / 2.0 };
        let end_of = |j: usize| segments[j].0 + segments[j].1.signal.seconds();
        let hi = if last + 1 == segments.len() { end_of(last) + EDGE_QUIET_S } else { end_of(last) + gap_s / 2.0 };
        // Where the window lies in the audio it is cut from, and how a sample there maps to the
        // file's own time.
        let (source, at, per_sample) = match &corrected {
            Some(c) if broadband(&seg.signal) => (c, onset / stretch, stretch),
            _ => (&audio, onset, 1.0),
        };
        let scale = stretch / per_sample;
        let len = source.channels.first().map_or(0, Vec::len);
        let from = (at + lo * rate * scale).round().max(0.0) as usize;
        let to = ((at + hi * rate * scale).round().max(0.0) as usize).min(len);
        let from = from.min(to);
        let cut = crate::capture::Audio {
            rate_hz: source.rate_hz,
            format: source.format,
            channels: source.channels.iter().map(|c| c[from..to].to_vec()).collect(),
        };
        let sub = CaptureEntry {
            stimulus: format!("{}/{}", entry.stimulus, seg.id),
            drive: if entry.direction == Direction::Record { None } else { Some(seg.drive.unwrap_or(Drive::Both)) },
            ..entry.clone()
        };
        let mut m = measure_audio(cut, &sub, seg.signal.clone(), spectrum)?;
        // The window in the file's own time.
        m.segment = Some(SegmentWindow {
            id: seg.id.clone(),
            start_s: from as f64 / rate * per_sample,
            seconds: (to - from) as f64 / rate * per_sample,
            clock_ppm: drift.map(|d| d.ppm()),
        });
        out.push(m);
    }
    Ok(out)
}

/// Measures one capture's audio, as recorded for `entry` with the stimulus `signal` (the bench
/// reads a take so before it keeps it).
pub fn measure_audio(
    audio: crate::capture::Audio,
    entry: &CaptureEntry,
    signal: Stimulus,
    spectrum: &mut Spectrum,
) -> Result<Measured, MeasureError> {
    if matches!(signal, Stimulus::Sine { .. } | Stimulus::Silence { .. }) {
        if let Err(e) = signal.validate(audio.rate_hz) {
            return Err(MeasureError::Unusable {
                file: entry.file.clone(),
                message: format!("stimulus \"{}\" cannot be played at {} Hz: {e}", entry.stimulus, audio.rate_hz),
            });
        }
        return measure_tone(&mut audio.source(), entry, signal);
    }
    let rate = f64::from(audio.rate_hz);
    let channels = if entry.direction == Direction::Playback { audio.channels.len().min(2) } else { 1 };
    let kept = crate::capture::Audio {
        rate_hz: audio.rate_hz,
        format: audio.format,
        channels: audio.channels.into_iter().take(channels).collect(),
    };
    if let Err(e) = signal.validate(kept.rate_hz) {
        return Err(MeasureError::Unusable {
            file: entry.file.clone(),
            message: format!("stimulus \"{}\" cannot be played at {} Hz: {e}", entry.stimulus, kept.rate_hz),
        });
    }
    let stim_level = signal.level_dbfs();
    // Sweeps and multitones are measured by alignment: their noise (the quietest block) and zero
    // test come from the samples.
    let mut ears: Vec<EarMeasure> = kept
        .channels
        .iter()
        .map(|x| EarMeasure {
            noise_floor_dbfs: crate::analysis::rms_dbfs(quiet_rms(x, rate)),
            digital_silence: x.iter().all(|v| *v == 0.0),
            rounding_rms: {
                let mut grid = crate::analysis::SampleGrid::default();
                grid.push_all(x);
                crate::analysis::rounding_rms(grid.step())
            },
            ..EarMeasure::nothing()
        })
        .collect();
    if matches!(signal, Stimulus::LogSweep { .. } | Stimulus::Multitone { .. }) {
        let reference = signal.render(kept.rate_hz);
        for (ear, x) in ears.iter_mut().zip(&kept.channels) {
            let mut y: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
            ear.clipped = reaches_full_scale(&y);
            // A DC offset (a codec's, a mic bias's) is no part of the response: at the capture's
            // ends it is a step whose spectrum falls like 1/f into the sweep's low octaves.
            let dc = y.iter().sum::<f64>() / y.len().max(1) as f64;
            y.iter_mut().for_each(|v| *v -= dc);
            let Some(al) = align(&y, &reference, rate, spectrum) else { continue };
            ear.present = al.correlation >= SWEEP_PRESENT_CORRELATION && !ear.digital_silence;
            ear.inverted = Some(al.inverted());
            ear.correlation = Some(al.correlation);
            if !ear.present {
                continue;
            }
            let mut gain_db = crate::analysis::db(al.gain.abs());
            if matches!(signal, Stimulus::LogSweep { .. }) {
                if let Some(r) =
                    sweep_response(&y, &signal, rate, &SweepOptions { points_per_octave: 6, max_order: 5 }, spectrum)
                {
                    let mut mid: Vec<f64> = r
                        .response
                        .iter()
                        .filter(|p| (200.0..=5_000.0).contains(&p.freq_hz))
                        .map(|p| p.gain_db)
                        .collect();
                    if !mid.is_empty() {
                        let k = mid.len() / 2;
                        gain_db = *mid.select_nth_unstable_by(k, |a, b| a.total_cmp(b)).1;
                    }
                    // The noise under the sweep: what the residual of the tone analysis saw
                    // is the sweep itself, so take the quietest stretch around it instead.
                    let noise = quiet_rms(x, rate);
                    ear.dropouts =
                        crate::analysis::sweep::sweep_gaps(&y, &signal, al.delay_samples, rate, &r.response, noise);
                    // The rounding the samples carry, as found before the DC came off.
                    let opts = RubBuzzOptions { rounding_rms: ear.rounding_rms, ..Default::default() };
                    ear.rub_buzz = rub_buzz(&y, &signal, rate, r.delay_s, &ear.dropouts, &opts);
                    ear.response = r.response;
                    ear.thd = r.thd;
                }
            }
            ear.gain_db = Some(gain_db);
            ear.level_dbfs = Some(gain_db + stim_level);
        }
    }
    for (e, x) in ears.iter_mut().zip(&kept.channels) {
        if e.digital_silence {
            e.noise_floor_dbfs = DB_FLOOR;
        }
        e.zero_fill = zero_filled(&mut |from, to| x[from.min(x.len())..to.min(x.len())].to_vec(), &e.dropouts, rate);
    }
    Ok(Measured {
        file: entry.file.clone(),
        direction: entry.direction,
        stimulus: entry.stimulus.clone(),
        signal,
        drive: entry.drive,
        path: entry.path.clone(),
        sample_rate: kept.rate_hz,
        ears,
        stereo: None,
        segment: None,
    })
}

/// Measures a capture of a tone or a silence, streamed from `src` (its first two channels for
/// playback, its first for record and loopback): the tone analysis at the stimulus frequency
/// (spec §5), per channel.
fn measure_tone(src: &mut dyn SampleSource, entry: &CaptureEntry, signal: Stimulus) -> Result<Measured, MeasureError> {
    let rate = f64::from(src.sample_rate());
    let channels = if entry.direction == Direction::Playback { 2 } else { 1 };
    let mut src = FirstChannels::new(src, channels);
    let unusable =
        |e: crate::analysis::AnalysisError| MeasureError::Unusable { file: entry.file.clone(), message: e.to_string() };
    let (tone_freq, silence) = match &signal {
        Stimulus::Sine { freq_hz, .. } => (Some(*freq_hz), false),
        _ => (None, true),
    };
    let stim_level = signal.level_dbfs();
    let a = analyze(&mut src, &AnalyzeOptions { freq_hz: tone_freq, silence }).map_err(unusable)?;
    let mut ears: Vec<EarMeasure> = a
        .channels
        .iter()
        .enumerate()
        .map(|(e, c)| {
            let present = tone_freq.is_some() && c.tone_present;
            EarMeasure {
                present,
                level_dbfs: c.level_dbfs.filter(|_| present),
                gain_db: c.level_dbfs.filter(|_| present).map(|l| l - stim_level),
                freq_ratio: c.frequency_hz.filter(|_| present).zip(tone_freq).map(|(f, f0)| f / f0),
                // Crosstalk on the ear a one-sided tone does not drive has a level, but no
                // distortion of its own: its harmonics sit in that ear's noise.
                thd_percent: c.thd_percent.filter(|_| present && drives(entry.direction, entry.drive, e)),
                noise_floor_dbfs: if c.digital_silence { DB_FLOOR } else { c.noise_floor_dbfs },
                hum_dbfs: c.hum_dbfs,
                hum_mains_hz: c.hum_mains_hz,
                digital_silence: c.digital_silence,
                rounding_rms: crate::analysis::rounding_rms(c.sample_step),
                dropouts: c.dropouts.clone(),
                level_steps: c.level_steps.clone(),
                outside_events: c.outside_events.clone(),
                disturbances: c.disturbances.clone(),
                clipped: c.clipped,
                ..EarMeasure::nothing()
            }
        })
        .collect();
    // An electrical loopback hears no room: sound over its tone is the path's own, crackle, and
    // counts among its gaps and clicks.
    if entry.direction == Direction::Loopback {
        for e in &mut ears {
            let bursts = std::mem::take(&mut e.disturbances);
            e.dropouts.extend(bursts.iter().map(|d| Dropout { at_s: d.at_s, ms: d.ms }));
            e.dropouts.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
        }
    }
    let mut buf = vec![Vec::new(); src.channels()];
    for (c, e) in ears.iter_mut().enumerate() {
        let mut read = |from: usize, to: usize| -> Vec<f32> {
            let n = to.saturating_sub(from);
            match src.read(from as u64, n, &mut buf) {
                Ok(()) => buf.get(c).cloned().unwrap_or_default(),
                Err(_) => Vec::new(),
            }
        };
        e.zero_fill = zero_filled(&mut read, &e.dropouts, rate);
    }
    Ok(Measured {
        file: entry.file.clone(),
        direction: entry.direction,
        stimulus: entry.stimulus.clone(),
        signal,
        drive: entry.drive,
        path: entry.path.clone(),
        sample_rate: src.sample_rate(),
        ears,
        stereo: if tone_freq.is_some() { a.stereo } else { None },
        segment: None,
    })
}

fn count_true<S: serde::Serializer>(flags: &[bool], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(flags.iter().filter(|f| **f).count() as u64)
}

/// For each gap: whether its samples are exact digital zeros over most of its length. `read`
/// gives the samples of frames `[from, to)` (fewer at the capture's end).
fn zero_filled(read: &mut dyn FnMut(usize, usize) -> Vec<f32>, dropouts: &[Dropout], rate_hz: f64) -> Vec<bool> {
    dropouts
        .iter()
        .map(|d| {
            let s = (d.at_s * rate_hz) as usize;
            let e = ((d.at_s + d.ms / 1000.0) * rate_hz) as usize;
            if d.ms <= 0.0 || e <= s {
                return false;
            }
            let x = read(s, e);
            let zeros = x.iter().filter(|v| **v == 0.0).count();
            !x.is_empty() && zeros * 2 > x.len()
        })
        .collect()
}

/// Whether a capture holds full scale for two samples running or more: an overloaded recording.
fn reaches_full_scale(y: &[f64]) -> bool {
    y.windows(2).any(|w| w[0].abs() >= FULL_SCALE && w[1].abs() >= FULL_SCALE)
}

/// The level a clamped sample sits at or above: full scale, less the last step of a 16-bit format.
const FULL_SCALE: f64 = 1.0 - 2.0 / 32_768.0;

/// The rms of the quietest 5 ms block of a capture: its noise, where the stimulus is not.
fn quiet_rms(y: &[f32], rate_hz: f64) -> f64 {
    let block = ((0.005 * rate_hz) as usize).max(16);
    y.chunks(block)
        .filter(|c| c.len() == block)
        .map(|c| (c.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / block as f64).sqrt())
        .fold(f64::INFINITY, f64::min)
        .min(1.0)
}
