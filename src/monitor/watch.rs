//! One recorded line watched as it streams: events as they happen, a summary each second.
//!
//! # Events
//! The line is scanned in short *cores* of [`CORE_S`], each with [`CONTEXT_S`] of the stream on
//! either side, by the capture analysis's own scanner ([`DropoutScanner`]: the instantaneous
//! amplitude of the tone for gaps, the predictor residual for clicks, the level track for steps,
//! the residual through a notch for noise bursts). What it finds inside the core is reported;
//! the context lets it see a gap's or a step's both sides, and an event is on screen
//! `CORE_S + CONTEXT_S` after it happened at the latest. A gap that runs past a window's end is
//! held open and reported when it closes, with its whole length; one open for [`DEAD_S`] makes
//! the line *dead*, and its end *back*.
//!
//! # Each second
//! The last second is measured as a capture's steady tone is ([`measure_segment`]): level, THD,
//! noise floor (the other lines' tones, which reach this one as crosstalk, taken out first). A
//! second without events becomes the reference the scanner judges the next ones by: the tone's
//! amplitude, the noise and hum behind it, its DC. Until the first second is measured nothing is
//! scanned.

use crate::analysis::dropouts::{DropoutScanner, ScanSetup};
use crate::analysis::tone::{fit_tone, fit_tones_masked, measure_segment_masked, subtract_tone, ToneSearch};
use crate::analysis::{db, rms_dbfs, Spectrum};
use serde::Serialize;

/// Stream scanned per step, seconds.
pub const CORE_S: f64 = 0.04;
/// Stream either side of a core, seconds: a level step's ten 5 ms blocks, a gap's edges.
pub const CONTEXT_S: f64 = 0.05;
/// A gap open this long makes the line dead, seconds.
pub const DEAD_S: f64 = 0.25;
/// Left of a window for the scanner's filters to settle, seconds (its notch at 20 Hz and up).
const PREROLL_S: f64 = 0.2;

/// What happened on a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The tone went away and came back (a contact opening, a dropout), `ms` long.
    Gap,
    /// A discontinuity without a gap.
    Click,
    /// The tone's level moved and stayed, by `db`.
    LevelStep,
    /// Sound over the tone that the path did not make, `ms` long.
    NoiseBurst,
    /// The tone has been gone for [`DEAD_S`].
    Dead,
    /// A dead line's tone is back, after `ms`.
    Back,
}

impl EventKind {
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Gap => "gap",
            EventKind::Click => "click",
            EventKind::LevelStep => "level step",
            EventKind::NoiseBurst => "noise burst",
            EventKind::Dead => "dead",
            EventKind::Back => "back",
        }
    }
}

/// An event, at `t_s` seconds of the stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub t_s: f64,
    /// The path it was on (`DRIVER/PORT/ADAPTER/HEADSET`), when the monitor knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub channel: String,
    pub kind: EventKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db: Option<f64>,
}

/// A line's last second.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineSecond {
    pub channel: String,
    /// The tone's level, dBFS (`None` when it is not there).
    pub level_dbfs: Option<f64>,
    pub thd_percent: Option<f64>,
    /// The noise behind the tone, dBFS rms.
    pub noise_dbfs: f64,
    /// Events on the line so far.
    pub events: u64,
    pub dead: bool,
}

/// What the scanner judges by: the line's last clean second.
#[derive(Debug, Clone, Copy)]
struct Reference {
    freq_hz: f64,
    amplitude: f64,
    noise_rms: f64,
    hum_rms: f64,
    dc: f64,
}

/// A line being watched.
pub struct Watch {
    pub name: String,
    freq_hz: f64,
    rate: f64,
    /// The other lines' tones, taken out before the noise is measured.
    others: Vec<f64>,
    /// Samples from frame `buf_start` on.
    buf: Vec<f32>,
    buf_start: u64,
    next_core: u64,
    core: u64,
    context: u64,
    preroll: u64,
    reference: Option<Reference>,
    second_start: u64,
    events: u64,
    /// Where a gap that ran past the last window's end began.
    open_gap: Option<u64>,
    /// The spans of this second's events, left out of its measurement.
    spans: Vec<(u64, u64)>,
    dead: bool,
    spectrum: Spectrum,
}

impl Watch {
    pub fn new(name: &str, freq_hz: f64, others: Vec<f64>, rate_hz: u32) -> Watch {
        let rate = f64::from(rate_hz);
        let frames = |s: f64| (s * rate).round() as u64;
        Watch {
            name: name.to_string(),
            freq_hz,
            rate,
            others,
            buf: Vec::new(),
            buf_start: 0,
            next_core: 0,
            core: frames(CORE_S).max(1),
            context: frames(CONTEXT_S),
            preroll: frames(PREROLL_S),
            reference: None,
            second_start: 0,
            events: 0,
            open_gap: None,
            spans: Vec::new(),
            dead: false,
            spectrum: Spectrum::default(),
        }
    }

    /// The stream's end so far, frames.
    fn end(&self) -> u64 {
        self.buf_start + self.buf.len() as u64
    }

    fn slice(&self, from: u64, to: u64) -> &[f32] {
        let a = from.saturating_sub(self.buf_start) as usize;
        let b = (to.saturating_sub(self.buf_start) as usize).min(self.buf.len());
        self.buf.get(a..b).unwrap_or_default()
    }

    /// Takes the next samples; pushes the events they complete, and the line's second when one
    /// is complete.
    pub fn push(&mut self, samples: &[f32], events: &mut Vec<Event>) -> Option<LineSecond> {
        self.buf.extend_from_slice(samples);
        let second = self.rate.round() as u64;
        while self.next_core + self.core + self.context <= self.end() {
            // Cores before the first reference (or so early that their context is not there)
            // are skipped.
            if self.reference.is_some() && self.next_core >= self.context + self.preroll {
                self.scan(self.next_core, events);
            }
            self.next_core += self.core;
        }
        let mut out = None;
        // A second is measured once every core of it is scanned, so that its events can be left out.
        let scanned = self.reference.is_none() || self.next_core >= self.second_start + second;
        if self.end() >= self.second_start + second && scanned {
            out = Some(self.measure_second(self.second_start, self.second_start + second));
            self.second_start += second;
        }
        // Keep what the next window and the next second need.
        let keep_from =
            (self.next_core.saturating_sub(self.context + self.preroll)).min(self.second_start).max(self.buf_start);
        let drop = (keep_from - self.buf_start) as usize;
        if drop > 0 {
            self.buf.drain(..drop);
            self.buf_start = keep_from;
        }
        out
    }

    fn event(&mut self, at: u64, kind: EventKind, ms: Option<f64>, db: Option<f64>, out: &mut Vec<Event>) {
        // What the event took out of the tone, with 2 ms either side, is left out of the second's
        // measurement (a level step is a change of level, not noise: it stays in).
        let margin = (0.002 * self.rate) as u64;
        let len = ms.map_or(0, |m| (m / 1000.0 * self.rate) as u64);
        match kind {
            EventKind::Gap | EventKind::Click | EventKind::NoiseBurst => {
                self.spans.push((at.saturating_sub(margin), at + len + margin));
            }
            EventKind::Back => self.spans.push((at.saturating_sub(len + margin), at + margin)),
            EventKind::Dead | EventKind::LevelStep => {}
        }
        self.events += 1;
        out.push(Event { t_s: at as f64 / self.rate, path: None, channel: self.name.clone(), kind, ms, db });
    }

    fn scan(&mut self, core_start: u64, out: &mut Vec<Event>) {
        let Some(r) = self.reference else { return };
        let (from, to) = (core_start - self.context, core_start + self.core + self.context);
        let core_end = core_start + self.core;
        let setup = ScanSetup {
            rate_hz: self.rate,
            freq_hz: Some(r.freq_hz),
            amplitude: r.amplitude,
            noise_rms: r.noise_rms,
            hum_rms: r.hum_rms,
            quantum: 0.0,
            // No clipping test: the extremes are out of reach.
            max: 1e9,
            min: -1e9,
            dc: r.dc,
            quiet_rms: Some(r.noise_rms),
            rounding_rms: 0.0,
        };
        let mut scanner = DropoutScanner::new(setup, from);
        let pre = scanner.preroll().min(self.preroll);
        scanner.prime(self.slice(from - pre, from));
        scanner.push(self.slice(from, to));
        let found = scanner.finish();
        let rate = self.rate;
        let frame = move |t: f64| (t * rate).round() as u64;
        let slack = (0.002 * self.rate) as u64;
        // A gap held open: does it go on through this window, or where did it end?
        if let Some(start) = self.open_gap {
            // Windows overlap: the gap is in this one from its start on (or from the window's).
            let since = start.max(from);
            let continuing = found.dropouts.iter().find(|d| {
                let (a, e) = (frame(d.at_s), frame(d.at_s) + frame(d.ms / 1000.0));
                d.ms > 0.0 && a <= since + slack && e + slack >= since
            });
            let end = match continuing {
                Some(d) if frame(d.at_s) + frame(d.ms / 1000.0) + slack >= to => None,
                Some(d) => Some((frame(d.at_s) + frame(d.ms / 1000.0)).max(start)),
                None => Some(since),
            };
            match end {
                None => {
                    if !self.dead && to.saturating_sub(start) as f64 >= DEAD_S * self.rate {
                        self.dead = true;
                        self.event(start, EventKind::Dead, None, None, out);
                    }
                    return;
                }
                Some(end) => {
                    let ms = Some((end - start) as f64 / self.rate * 1000.0);
                    let kind = if self.dead { EventKind::Back } else { EventKind::Gap };
                    self.event(if self.dead { end } else { start }, kind, ms, None, out);
                    self.open_gap = None;
                    self.dead = false;
                }
            }
        }
        for d in &found.dropouts {
            let at = frame(d.at_s);
            if at < core_start || at >= core_end {
                continue;
            }
            if d.ms == 0.0 {
                self.event(at, EventKind::Click, None, None, out);
            } else if at + frame(d.ms / 1000.0) + slack >= to {
                self.open_gap = Some(at);
            } else {
                self.event(at, EventKind::Gap, Some(d.ms), None, out);
            }
        }
        for s in &found.level_steps {
            let at = frame(s.at_s);
            if at >= core_start && at < core_end {
                self.event(at, EventKind::LevelStep, None, Some(s.db), out);
            }
        }
        for b in &found.disturbances {
            let at = frame(b.at_s);
            if at >= core_start && at < core_end {
                self.event(at, EventKind::NoiseBurst, Some(b.ms), None, out);
            }
        }
    }

    /// Level, THD and noise of `[from, to)`; a second without events becomes the reference.
    fn measure_second(&mut self, from: u64, to: u64) -> LineSecond {
        let mut x: Vec<f64> = self.slice(from, to).iter().map(|&v| f64::from(v)).collect();
        let n = x.len() as f64;
        // Leave out what this second's events took (and a gap still open).
        let open_from = self.open_gap.map(|s| s.max(from));
        let keep: Option<Vec<bool>> = (!self.spans.is_empty() || open_from.is_some()).then(|| {
            (from..to)
                .map(|f| !self.spans.iter().any(|&(a, b)| f >= a && f < b) && open_from.is_none_or(|o| f < o))
                .collect()
        });
        self.spans.retain(|&(_, b)| b > to);
        // The other lines' tones, which reach this one as crosstalk, out: fitted with this
        // line's own tone on the kept samples, at the frequencies this line's clock gives them.
        let ratio = self
            .reference
            .map(|r| r.freq_hz / self.freq_hz)
            .or_else(|| fit_tone(&x, self.rate, self.freq_hz, true).map(|t| t.freq_hz / self.freq_hz))
            .unwrap_or(1.0);
        let freqs: Vec<f64> =
            std::iter::once(self.freq_hz).chain(self.others.iter().copied()).map(|f| f * ratio).collect();
        let fits = fit_tones_masked(&x, self.rate, &freqs, keep.as_deref());
        for (&f, &(a, phase)) in freqs.iter().zip(&fits).skip(1) {
            subtract_tone(&mut x, self.rate, f, a, phase);
        }
        let kept = keep.as_ref().map_or(1.0, |k| k.iter().filter(|v| **v).count() as f64 / k.len().max(1) as f64);
        let m = if kept < 0.5 {
            // Too little is left to measure: the second says nothing of the tone.
            measure_segment_masked(&x, self.rate, ToneSearch::Absent, &mut self.spectrum, None)
        } else {
            measure_segment_masked(&x, self.rate, ToneSearch::Near(self.freq_hz), &mut self.spectrum, keep.as_deref())
        };
        let tone = m.fundamental.filter(|f| f.present);
        // A second becomes the reference when little of it went to events (they are left out of
        // its measurement) and no gap is open.
        let clean = kept >= 0.8 && !self.dead && self.open_gap.is_none() && n > 0.0;
        if let Some(f) = tone.filter(|_| clean) {
            self.reference = Some(Reference {
                freq_hz: f.freq_hz,
                amplitude: f.amplitude,
                noise_rms: m.noise_rms,
                hum_rms: m.hum.as_ref().map_or(0.0, |h| h.rms),
                dc: m.dc,
            });
        }
        LineSecond {
            channel: self.name.clone(),
            level_dbfs: tone.map(|f| db(f.amplitude)),
            thd_percent: m.thd_percent(),
            noise_dbfs: rms_dbfs(m.noise_rms.max(1e-12)),
            events: self.events,
            dead: self.dead,
        }
    }

    /// At the stream's end: the second that was waiting for its last cores' context, measured
    /// with what was scanned.
    pub fn flush(&mut self) -> Option<LineSecond> {
        let second = self.rate.round() as u64;
        (self.end() >= self.second_start + second).then(|| {
            let s = self.measure_second(self.second_start, self.second_start + second);
            self.second_start += second;
            s
        })
    }

    /// Forgets the counts (the reference and an open gap stay).
    pub fn reset(&mut self) {
        self.events = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A −12 dBFS tone with the given gaps (start s, length s), fed in 10 ms blocks.
    fn run(freq: f64, gaps: &[(f64, f64)], seconds: f64) -> (Vec<Event>, Vec<LineSecond>) {
        let rate = 48_000u32;
        let mut w = Watch::new("left", freq, vec![], rate);
        let (mut events, mut seconds_out) = (Vec::new(), Vec::new());
        let n = (seconds * 48_000.0) as usize;
        let x: Vec<f32> = (0..n)
            .map(|i| {
                let t = i as f64 / 48_000.0;
                let open = gaps.iter().any(|&(a, l)| t >= a && t < a + l);
                if open {
                    0.0
                } else {
                    (0.25 * (2.0 * std::f64::consts::PI * freq * t).sin()) as f32
                }
            })
            .collect();
        for block in x.chunks(480) {
            seconds_out.extend(w.push(block, &mut events));
        }
        seconds_out.extend(w.flush());
        (events, seconds_out)
    }

    #[test]
    fn short_gaps_long_gaps_and_dead_lines_are_told_apart_with_their_lengths() {
        for freq in [300.0, 1000.0, 4000.0] {
            let gaps = [(1.5, 0.001), (2.2, 0.03), (2.9, 0.15), (3.6, 0.6), (5.0, 2.0)];
            let (events, seconds) = run(freq, &gaps, 8.0);
            let kinds: Vec<(EventKind, f64)> = events.iter().map(|e| (e.kind, e.t_s)).collect();
            // Gaps under DEAD_S are gaps with their length; longer ones make the line dead at
            // their start and back at their end, with the whole length.
            let expect = [
                (EventKind::Gap, 1.5, 1.0),
                (EventKind::Gap, 2.2, 30.0),
                (EventKind::Gap, 2.9, 150.0),
                (EventKind::Dead, 3.6, 0.0),
                (EventKind::Back, 4.2, 600.0),
                (EventKind::Dead, 5.0, 0.0),
                (EventKind::Back, 7.0, 2000.0),
            ];
            assert_eq!(events.len(), expect.len(), "{freq} Hz: {kinds:?}");
            for (e, (kind, at, ms)) in events.iter().zip(expect) {
                assert_eq!(e.kind, kind, "{freq} Hz: {kinds:?}");
                assert!((e.t_s - at).abs() < 0.002, "{freq} Hz: {e:?}");
                if ms > 0.0 {
                    let got = e.ms.expect("a length");
                    assert!((got - ms).abs() < 1.0 + 0.01 * ms, "{freq} Hz: {e:?}");
                }
            }
            // Each second measures the tone at its level, its gaps left out.
            assert_eq!(seconds.len(), 8);
            for s in &seconds[1..] {
                if let Some(l) = s.level_dbfs {
                    assert!((l - (-12.04)).abs() < 0.1, "{freq} Hz: {s:?}");
                }
            }
            assert!(seconds[5].dead, "{freq} Hz: the line is dead through the sixth second");
        }
    }
}
