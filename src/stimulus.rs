//! Reference signals, defined in physical time (spec `capture-set.md` §2) and rendered at any rate.
//!
//! Every signal is `a·s(t)` for `0 ≤ t < seconds` with `a = 10^(level_dbfs/20)` (0 dBFS is a
//! full-scale sine), multiplied by a 5 ms raised-cosine fade at each end. The sample at index `n`
//! is the value at `t = n / rate`, so one stimulus renders consistently at 44.1, 48 or 96 kHz and
//! the analysis can rebuild the exact reference a capture is aligned against.

use crate::capture::Drive;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// Length of the raised-cosine fade-in and fade-out, in seconds.
pub const FADE_S: f64 = 0.005;

/// One reference signal. The serde form is the `[[stimulus]]` table of the manifest (without `id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Stimulus {
    /// `a·sin(2π·f·t)`.
    Sine { freq_hz: f64, level_dbfs: f64, seconds: f64 },
    /// Exponential sine sweep `a·sin(2π·f1·L·(e^(t/L) − 1))`, `L = seconds / ln(f2/f1)`.
    LogSweep { start_hz: f64, stop_hz: f64, level_dbfs: f64, seconds: f64 },
    /// Nothing is played: the capture measures noise and hum.
    Silence { seconds: f64 },
    /// Several sines of equal amplitude `a` each, with Schroeder phases `φ_k = −π·k·(k−1)/K`
    /// (k = 1…K in the order given). On a common frequency grid (tones at integer multiples of
    /// one spacing) these keep the crest factor near 1.7–2, against √(2K) when all phases agree;
    /// for tones off a grid no closed-form rule does much better than random phases.
    /// `level_dbfs` is each tone's level.
    Multitone { freqs_hz: Vec<f64>, level_dbfs: f64, seconds: f64 },
    /// Several stimuli one after another in one capture, `gap_s` of silence between two; each
    /// segment is defined on its own time axis (its own fades) and played on the channels its
    /// `drive` names. Segment `k` starts at `t_k = Σ_{j<k} (seconds_j + gap_s)`; the sequence
    /// lasts `Σ seconds_k + (K − 1)·gap_s`. The analysis cuts each segment out of the capture and
    /// measures it as a capture of that stimulus and drive (see [`Segment`]).
    Sequence {
        #[serde(rename = "segment")]
        segments: Vec<Segment>,
        #[serde(default = "default_gap")]
        gap_s: f64,
    },
}

/// One part of a [`Stimulus::Sequence`]: a stimulus of any other kind, named, and the output
/// channels it plays on (playback and loopback; `both` when absent; a record capture's mouth
/// simulator plays every segment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drive: Option<Drive>,
    #[serde(flatten)]
    pub signal: Stimulus,
}

/// The silence between two segments of a sequence when the manifest does not say, seconds: long
/// enough for a headset's response to die away and for the analysis to cut each segment clear
/// of its neighbours.
pub const SEQUENCE_GAP_S: f64 = 0.02;

fn default_gap() -> f64 {
    SEQUENCE_GAP_S
}

impl Segment {
    /// Whether this segment plays on output channel `channel` (0 left, 1 right).
    pub fn plays_on(&self, channel: usize) -> bool {
        match self.drive {
            Some(Drive::Left) => channel == 0,
            Some(Drive::Right) => channel == 1,
            _ => true,
        }
    }
}

/// Why a stimulus cannot be rendered.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StimulusError {
    #[error("{field} = {value} is out of range: {why}")]
    OutOfRange { field: &'static str, value: f64, why: &'static str },
}

fn check(field: &'static str, value: f64, ok: bool, why: &'static str) -> Result<(), StimulusError> {
    if ok && value.is_finite() {
        Ok(())
    } else {
        Err(StimulusError::OutOfRange { field, value, why })
    }
}

impl Stimulus {
    /// The `kind` of the manifest: "sine", "log_sweep", "silence", "multitone", "sequence".
    pub fn kind_name(&self) -> &'static str {
        match self {
            Stimulus::Sine { .. } => "sine",
            Stimulus::LogSweep { .. } => "log_sweep",
            Stimulus::Silence { .. } => "silence",
            Stimulus::Multitone { .. } => "multitone",
            Stimulus::Sequence { .. } => "sequence",
        }
    }

    /// A tone's frequency; `None` for any other stimulus.
    pub fn tone_hz(&self) -> Option<f64> {
        match self {
            Stimulus::Sine { freq_hz, .. } => Some(*freq_hz),
            _ => None,
        }
    }

    /// Duration in seconds.
    pub fn seconds(&self) -> f64 {
        match self {
            Stimulus::Sine { seconds, .. }
            | Stimulus::LogSweep { seconds, .. }
            | Stimulus::Silence { seconds }
            | Stimulus::Multitone { seconds, .. } => *seconds,
            Stimulus::Sequence { segments, gap_s } => {
                segments.iter().map(|s| s.signal.seconds()).sum::<f64>()
                    + gap_s * segments.len().saturating_sub(1) as f64
            }
        }
    }

    /// A sequence's segments with their start times, seconds; any other stimulus has none.
    pub fn segments(&self) -> Vec<(f64, &Segment)> {
        let Stimulus::Sequence { segments, gap_s } = self else { return Vec::new() };
        let mut t = 0.0;
        segments
            .iter()
            .map(|s| {
                let at = t;
                t += s.signal.seconds() + gap_s;
                (at, s)
            })
            .collect()
    }

    /// Peak amplitude of one tone as a linear factor (0 for silence; a sequence's loudest segment).
    pub fn amplitude(&self) -> f64 {
        match self {
            Stimulus::Sine { level_dbfs, .. }
            | Stimulus::LogSweep { level_dbfs, .. }
            | Stimulus::Multitone { level_dbfs, .. } => db_to_amplitude(*level_dbfs),
            Stimulus::Silence { .. } => 0.0,
            Stimulus::Sequence { segments, .. } => segments.iter().map(|s| s.signal.amplitude()).fold(0.0, f64::max),
        }
    }

    /// The level of one tone at the source, dBFS (0 for silence and sequences, whose segments
    /// carry their own).
    pub fn level_dbfs(&self) -> f64 {
        match self {
            Stimulus::Sine { level_dbfs, .. }
            | Stimulus::LogSweep { level_dbfs, .. }
            | Stimulus::Multitone { level_dbfs, .. } => *level_dbfs,
            Stimulus::Silence { .. } | Stimulus::Sequence { .. } => 0.0,
        }
    }

    /// Checks every parameter against what can be rendered at `rate_hz`.
    pub fn validate(&self, rate_hz: u32) -> Result<(), StimulusError> {
        let nyquist = f64::from(rate_hz) / 2.0;
        let secs = self.seconds();
        check(
            "seconds",
            secs,
            secs > 2.0 * FADE_S && secs <= 24.0 * 3600.0,
            "must be longer than the two 5 ms fades and at most 24 h",
        )?;
        let level = |l: f64| check("level_dbfs", l, (-200.0..=0.0).contains(&l), "must be within -200..=0 dBFS");
        match self {
            Stimulus::Sine { freq_hz, level_dbfs, .. } => {
                level(*level_dbfs)?;
                check("freq_hz", *freq_hz, *freq_hz > 0.0 && *freq_hz < nyquist, "must be above 0 and below Nyquist")
            }
            Stimulus::LogSweep { start_hz, stop_hz, level_dbfs, .. } => {
                level(*level_dbfs)?;
                check(
                    "start_hz",
                    *start_hz,
                    *start_hz > 0.0 && *start_hz < nyquist,
                    "must be above 0 and below Nyquist",
                )?;
                check(
                    "stop_hz",
                    *stop_hz,
                    *stop_hz > *start_hz && *stop_hz <= nyquist,
                    "must be above start_hz and at most Nyquist",
                )
            }
            Stimulus::Silence { .. } => Ok(()),
            Stimulus::Multitone { freqs_hz, level_dbfs, .. } => {
                level(*level_dbfs)?;
                check("freqs_hz", freqs_hz.len() as f64, !freqs_hz.is_empty(), "needs at least one tone")?;
                for f in freqs_hz {
                    check("freqs_hz", *f, *f > 0.0 && *f < nyquist, "every tone must be above 0 and below Nyquist")?;
                }
                Ok(())
            }
            Stimulus::Sequence { segments, gap_s } => {
                check("gap_s", *gap_s, (0.0..=10.0).contains(gap_s), "must be within 0..=10 s")?;
                check("segment", segments.len() as f64, !segments.is_empty(), "needs at least one segment")?;
                for (k, s) in segments.iter().enumerate() {
                    let nested = matches!(s.signal, Stimulus::Sequence { .. });
                    check("segment", k as f64, !nested, "a segment cannot itself be a sequence")?;
                    let unique = segments[..k].iter().all(|o| o.id != s.id) && !s.id.is_empty();
                    check("segment", k as f64, unique, "every segment needs an id of its own")?;
                    s.signal.validate(rate_hz)?;
                }
                Ok(())
            }
        }
    }

    /// Number of samples at `rate_hz`: the indices `n` with `n / rate < seconds`.
    pub fn len_at(&self, rate_hz: u32) -> usize {
        samples_for(self.seconds(), rate_hz)
    }

    /// The value at time `t` (seconds), fades included; 0 outside `0 ≤ t < seconds`. A sequence's
    /// value is its segment's, whatever channels the segment plays on.
    pub fn value_at(&self, t: f64) -> f64 {
        self.value_on(t, None)
    }

    /// The value at time `t` on output channel `channel` (0 left, 1 right; `None`: any channel):
    /// a sequence's segments play only on the channels they drive; any other stimulus plays on
    /// every channel the capture drives. (A sequence finds its segment from the start here: for
    /// many instants, [`Stimulus::player`] finds it in logarithmic time.)
    pub fn value_on(&self, t: f64, channel: Option<usize>) -> f64 {
        self.player().value_on(t, channel)
    }

    /// The stimulus ready to be evaluated at many instants: a sequence's segment starts are
    /// found once, and each value then takes a binary search instead of a walk over the segments.
    pub fn player(&self) -> Player<'_> {
        let starts: Vec<f64> = self.segments().into_iter().map(|(at, _)| at).collect();
        Player { stimulus: self, seconds: self.seconds(), starts }
    }
    fn raw_at(&self, t: f64) -> f64 {
        let a = self.amplitude();
        match self {
            Stimulus::Sine { freq_hz, .. } => a * (2.0 * PI * freq_hz * t).sin(),
            Stimulus::LogSweep { start_hz, stop_hz, seconds, .. } => {
                let l = seconds / (stop_hz / start_hz).ln();
                a * (2.0 * PI * start_hz * l * ((t / l).exp_m1())).sin()
            }
            Stimulus::Silence { .. } | Stimulus::Sequence { .. } => 0.0,
            Stimulus::Multitone { freqs_hz, .. } => {
                let k_total = freqs_hz.len() as f64;
                freqs_hz
                    .iter()
                    .enumerate()
                    .map(|(i, f)| {
                        let k = i as f64 + 1.0;
                        let phase = -PI * k * (k - 1.0) / k_total;
                        a * (2.0 * PI * f * t + phase).sin()
                    })
                    .sum()
            }
        }
    }

    /// Renders the stimulus at `rate_hz` as samples in full-scale units (±1.0).
    pub fn render(&self, rate_hz: u32) -> Vec<f64> {
        self.render_on(rate_hz, None)
    }

    /// Renders what output channel `channel` plays (see [`Stimulus::value_on`]).
    pub fn render_on(&self, rate_hz: u32, channel: Option<usize>) -> Vec<f64> {
        let rate = f64::from(rate_hz);
        let player = self.player();
        (0..self.len_at(rate_hz)).map(|n| player.value_on(n as f64 / rate, channel)).collect()
    }

    /// Instantaneous frequency in Hz at time `t` (for sweeps), `None` for silence and multitones.
    pub fn freq_at(&self, t: f64) -> Option<f64> {
        match self {
            Stimulus::Sine { freq_hz, .. } => Some(*freq_hz),
            Stimulus::LogSweep { start_hz, stop_hz, seconds, .. } => {
                let l = seconds / (stop_hz / start_hz).ln();
                Some(start_hz * (t / l).exp())
            }
            _ => None,
        }
    }
}

/// A [`Stimulus`] with its segments' starts found (see [`Stimulus::player`]).
pub struct Player<'a> {
    stimulus: &'a Stimulus,
    seconds: f64,
    /// A sequence's segment starts, seconds, ascending; empty for any other stimulus.
    starts: Vec<f64>,
}

impl Player<'_> {
    /// The value at time `t` on output channel `channel` (see [`Stimulus::value_on`]).
    pub fn value_on(&self, t: f64, channel: Option<usize>) -> f64 {
        if !(0.0..self.seconds).contains(&t) {
            return 0.0;
        }
        let Stimulus::Sequence { segments, .. } = self.stimulus else {
            return fade_gain(t, self.seconds) * self.stimulus.raw_at(t);
        };
        // The last segment starting at or before t; t may lie in the gap after it.
        let k = self.starts.partition_point(|&at| at <= t);
        let Some(k) = k.checked_sub(1) else { return 0.0 };
        let (at, s) = (self.starts[k], &segments[k]);
        let on = t < at + s.signal.seconds() && channel.is_none_or(|c| s.plays_on(c));
        if on {
            s.signal.value_at(t - at)
        } else {
            0.0
        }
    }
}

/// Number of samples `n` with `n / rate < seconds`.
pub fn samples_for(seconds: f64, rate_hz: u32) -> usize {
    let exact = seconds * f64::from(rate_hz);
    // A product such as 0.5 s × 44100 Hz can land a hair above an integer; treat that as exact.
    let n = (exact - 1e-9).ceil();
    if n <= 0.0 {
        0
    } else {
        n as usize
    }
}

/// The raised-cosine fade gain at time `t` of a signal lasting `seconds`.
pub fn fade_gain(t: f64, seconds: f64) -> f64 {
    let edge = t.min(seconds - t);
    if edge >= FADE_S {
        1.0
    } else if edge <= 0.0 {
        0.0
    } else {
        0.5 * (1.0 - (PI * edge / FADE_S).cos())
    }
}

/// `10^(dB/20)`.
pub fn db_to_amplitude(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// `20·log10(a)`; −inf for 0.
pub fn amplitude_to_db(a: f64) -> f64 {
    20.0 * a.log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sine_matches_its_definition_and_fades() {
        let s = Stimulus::Sine { freq_hz: 1000.0, level_dbfs: -6.0, seconds: 0.5 };
        let x = s.render(48_000);
        assert_eq!(x.len(), 24_000);
        let a = db_to_amplitude(-6.0);
        // Steady part: exactly the sine (to rounding).
        for n in [480usize, 1000, 12_345, 23_000] {
            let t = n as f64 / 48_000.0;
            assert!((x[n] - a * (2.0 * PI * 1000.0 * t).sin()).abs() < 1e-12);
        }
        // Fades: zero gain at t = 0, half gain at 2.5 ms.
        assert_eq!(x[0], 0.0);
        assert!((fade_gain(0.0025, 0.5) - 0.5).abs() < 1e-12);
        assert!((fade_gain(0.5 - 0.0025, 0.5) - 0.5).abs() < 1e-12);
        let peak = x.iter().fold(0f64, |m, v| m.max(v.abs()));
        assert!((peak - a).abs() < 1e-6, "peak {peak} vs {a}");
    }

    #[test]
    fn lengths_follow_physical_time_at_every_rate() {
        let s = Stimulus::Silence { seconds: 0.5 };
        assert_eq!(s.len_at(44_100), 22_050);
        assert_eq!(s.len_at(48_000), 24_000);
        assert_eq!(s.len_at(96_000), 48_000);
        assert_eq!(samples_for(1.0 / 3.0, 48_000), 16_000);
    }

    #[test]
    fn log_sweep_frequency_runs_from_start_to_stop() {
        let s = Stimulus::LogSweep { start_hz: 20.0, stop_hz: 20_000.0, level_dbfs: -12.0, seconds: 2.0 };
        assert!((s.freq_at(0.0).unwrap() - 20.0).abs() < 1e-9);
        assert!((s.freq_at(2.0).unwrap() - 20_000.0).abs() < 1e-6);
        assert!((s.freq_at(1.0).unwrap() - (20.0f64 * 20_000.0).sqrt()).abs() < 1e-6);
        // The phase's derivative is that frequency: count zero crossings over 10 ms at t = 1 s.
        let rate = 192_000u32;
        let x = s.render(rate);
        let start = rate as usize;
        let len = rate as usize / 100;
        let crossings = x[start..start + len].windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
        let f = s.freq_at(1.005).unwrap();
        assert!((crossings as f64 - f * 0.01).abs() <= 1.5, "{crossings} crossings vs {f} Hz");
    }

    #[test]
    fn multitone_on_a_grid_has_low_crest_factor() {
        let crest = |x: &[f64]| {
            let peak = x.iter().fold(0f64, |m, v| m.max(v.abs()));
            peak / (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt()
        };
        let freqs: Vec<f64> = (1..=19).map(|k| 50.0 * f64::from(k)).collect();
        let n = freqs.len() as f64;
        let s = Stimulus::Multitone { freqs_hz: freqs.clone(), level_dbfs: -30.0, seconds: 1.0 };
        let x = s.render(48_000);
        let rms = (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt();
        // Equal-amplitude tones: rms = a·√(K/2), fades aside (1 % tolerance).
        assert!((rms - db_to_amplitude(-30.0) * (n / 2.0).sqrt()).abs() / rms < 0.01);
        // Schroeder phases: crest factor about 1.9; all phases equal: about 4.6.
        let same: Vec<f64> =
            (0..48_000).map(|i| freqs.iter().map(|f| (2.0 * PI * f * f64::from(i) / 48_000.0).sin()).sum()).collect();
        assert!(crest(&x) < 2.1, "crest factor {}", crest(&x));
        assert!(crest(&same) > 4.0, "crest factor {}", crest(&same));
    }

    #[test]
    fn validation_names_the_field() {
        let s = Stimulus::Sine { freq_hz: 30_000.0, level_dbfs: -6.0, seconds: 1.0 };
        match s.validate(48_000) {
            Err(StimulusError::OutOfRange { field, .. }) => assert_eq!(field, "freq_hz"),
            other => panic!("expected an error, got {other:?}"),
        }
        let s = Stimulus::Sine { freq_hz: 1000.0, level_dbfs: 3.0, seconds: 1.0 };
        assert!(s.validate(48_000).is_err());
        let s = Stimulus::Silence { seconds: 0.001 };
        assert!(s.validate(48_000).is_err());
    }
}
