//! Observations of gaps and discontinuities (and, as evidence beside them, level steps and sounds
//! outside the tone).
//!
//! Each gap is read for where it came from. Exact digital zeros are samples a driver lost
//! (zero-filled). A gap on both ears at the same instant with the analog noise going on is
//! either: a driver's zero-filled buffer played out through the analog chain, or a contact the
//! two ears share (a worn sleeve, their common return) breaking both at once. A driver that
//! loses samples loses them on its recordings too, as exact zeros: through a driver whose
//! recordings show such, both-ears gaps are its dropouts; through one whose recordings are whole,
//! they are a contact's, and substitution tells which (the gaps stay on the paths through the worn
//! part). A gap on one ear of two, or in a recorded signal with noise in it,
//! is an analog break. Where a capture cannot tell (one ear driven through the analog chain), the
//! gap is of unknown origin: a driver's dropouts found elsewhere explain it, or else it counts for
//! the parts it passed.

use super::*;

/// A capture's gaps and clicks by origin.
#[derive(Debug, Default, Clone, Copy)]
pub(in crate::diagnosis) struct GapOrigins {
    /// Zero-filled: samples lost.
    pub digital: usize,
    /// On both ears at the same instant, with noise in it: a driver's lost samples played out,
    /// or a contact both ears share.
    pub common: usize,
    /// On one ear of two, or a recorded gap with noise in it: an analog break.
    pub analog: usize,
    /// One driven ear through the analog chain: either.
    pub unknown: usize,
}

/// Two gaps whose spans come closer than this are one event on both ears, s.
const TOGETHER_S: f64 = 0.002;

/// The ears a capture's gaps are read on: driven and present on tones and sweeps, every ear not
/// digitally silent on silence.
fn testable(m: &Measured) -> Vec<&EarMeasure> {
    match &m.signal {
        crate::stimulus::Stimulus::Sine { .. } | crate::stimulus::Stimulus::LogSweep { .. } => {
            m.ears.iter().enumerate().filter(|(e, x)| m.driven(*e) && x.present).map(|(_, x)| x).collect()
        }
        crate::stimulus::Stimulus::Silence { .. } => m.ears.iter().filter(|x| !x.digital_silence).collect(),
        _ => Vec::new(),
    }
}

/// An ear's gaps as events (start, end), s: pieces whose spans come within [`TOGETHER_S`] of each
/// other are one event.
fn events(gaps: &[crate::analysis::Dropout]) -> Vec<(f64, f64)> {
    let mut spans: Vec<(f64, f64)> = gaps.iter().map(|g| (g.at_s, g.at_s + g.ms / 1000.0)).collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(spans.len());
    for (a, b) in spans {
        match out.last_mut() {
            Some(last) if a < last.1 + TOGETHER_S => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

pub(in crate::diagnosis) fn gap_origins(m: &Measured) -> GapOrigins {
    let ears = testable(m);
    let mut o = GapOrigins::default();
    if m.direction == Direction::Playback && ears.len() == 2 {
        // Each ear's gaps as events: pieces closer than TOGETHER_S are one gap that the detector
        // read in pieces (the sweep passing a resonance inside it, a click at its edge).
        let (l, r) = (events(&ears[0].dropouts), events(&ears[1].dropouts));
        // One event on both ears when their spans meet (to within TOGETHER_S).
        let near = |a: &(f64, f64), other: &[(f64, f64)]| {
            other.iter().any(|b| a.0 < b.1 + TOGETHER_S && b.0 < a.1 + TOGETHER_S)
        };
        // Zero-filled on either ear: the samples themselves were lost.
        let zeros = |x: &EarMeasure, (s, e): (f64, f64)| {
            x.dropouts
                .iter()
                .zip(&x.zero_fill)
                .any(|(d, z)| *z && d.at_s < e + TOGETHER_S && d.at_s + d.ms / 1e3 > s - TOGETHER_S)
        };
        for a in l.iter().filter(|a| near(a, &r)) {
            if zeros(ears[0], *a) || zeros(ears[1], *a) {
                o.digital += 1;
            } else {
                o.common += 1;
            }
        }
        o.analog = l.iter().filter(|a| !near(a, &r)).count() + r.iter().filter(|b| !near(b, &l)).count();
        return o;
    }
    for x in ears {
        for (k, _) in x.dropouts.iter().enumerate() {
            if x.zero_fill.get(k).copied().unwrap_or(false) {
                o.digital += 1;
            } else if m.direction == Direction::Record {
                o.analog += 1;
            } else {
                o.unknown += 1;
            }
        }
    }
    o
}

/// The drivers that lost samples outright somewhere in the set: a zero-filled gap on one of
/// their captures (their recordings, or both ears' exact zeros).
fn drivers_losing_samples<'a>(ctx: &Context<'a>) -> std::collections::BTreeSet<&'a str> {
    ctx.m.iter().filter(|m| gap_origins(m).digital > 0).map(|m| m.path.driver.as_str()).collect()
}

/// Gaps that show lost samples: zero-filled ones, and those on both ears at once through a driver
/// that lost samples outright elsewhere (its lost buffers, played out through the analog chain,
/// look so). Through a driver whose own recordings are whole, a gap on both ears at once is a
/// contact both ears share (a worn sleeve), and the analog step takes it.
pub(in crate::diagnosis) fn observe_digital_gaps(ctx: &Context) -> Vec<Obs> {
    let losing = drivers_losing_samples(ctx);
    observe_gap_events(ctx, |i, g| {
        g.digital + if losing.contains(ctx.m[i].path.driver.as_str()) { g.common } else { 0 }
    })
}

/// Gaps that show an analog break, and those of unknown origin that no driver's dropouts explain.
pub(in crate::diagnosis) fn observe_analog_gaps(ctx: &Context) -> Vec<Obs> {
    observe_gap_events(ctx, |i, g| {
        g.analog + if ctx.explained.contains(&(i, Symptom::Dropouts)) { 0 } else { g.unknown + g.common }
    })
}

fn observe_gap_events(ctx: &Context, count: impl Fn(usize, &GapOrigins) -> usize) -> Vec<Obs> {
    let mut out = Vec::new();
    for (i, m) in ctx.m.iter().enumerate() {
        let testable = testable(m);
        if testable.is_empty() {
            continue;
        }
        let origins = gap_origins(m);
        let events = count(i, &origins);
        let all: usize = testable.iter().map(|x| x.dropouts.len()).sum();
        let longest = testable.iter().flat_map(|x| x.dropouts.iter().map(|d| d.ms)).fold(0.0, f64::max);
        // Level steps and sounds outside the tone are told beside the gaps, as what else the
        // capture showed; they are not gaps.
        let mut note = format!("it came back with {all} gap(s) or click(s), the longest {longest:.1} ms");
        let mut origin = Vec::new();
        if origins.digital > 0 {
            origin.push(format!("{} zero-filled", origins.digital));
        }
        if origins.common > 0 {
            origin.push(format!("{} on both ears at once", origins.common));
        }
        if origins.analog > 0 {
            origin.push(format!("{} on one line only", origins.analog));
        }
        if !origin.is_empty() {
            note += &format!(" ({})", origin.join(", "));
        }
        let steps: Vec<String> = testable
            .iter()
            .flat_map(|x| &x.level_steps)
            .map(|s| format!("{:+.1} dB at {:.3} s", s.db, s.at_s))
            .collect();
        if !steps.is_empty() {
            note += &format!("; level step(s) {}", steps.join(", "));
        }
        let outside: usize = testable.iter().map(|x| x.outside_events.len()).sum();
        if outside > 0 {
            note += &format!("; {outside} sound(s) outside the tone");
        }
        let mut o = obs(i, events > 0, 1.0 + events as f64 / 2.0, note);
        o.events = events;
        out.push(o);
    }
    out
}
