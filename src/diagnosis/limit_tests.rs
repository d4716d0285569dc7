//! The limit tests of a unit, as a production test sequence lists them: each quantity of the
//! unit's headset that has a limit of its own (a gain window, the THD limit at the test tone, the
//! balance window, the golden units' response masks and rub & buzz limit), with its low and high
//! limit, the measured value, the margin and pass or fail.
//!
//! The margin is the distance inside the nearer limit, negative outside. A curve is judged the way
//! the diagnosis judges it: outside its mask only where it stays outside over
//! [`RESPONSE_SPAN`] neighbouring points ([`RUB_BUZZ_SPAN`] bands for distortion), since a gap or
//! a click notches a single point. So a curve's margin is the smallest, over runs of that many
//! points, of the largest margin in the run, and the row shows the point that sets it. The
//! verdict of the unit stays the diagnosis's; this table is how each limit was met.

use super::measure::{EarMeasure, Measured};
use super::observe::{impulsive, is_input_side, RESPONSE_SPAN, RUB_BUZZ_SPAN};
use super::Diagnosis;
use crate::capture::{CaptureSet, ComponentKind, Direction, Drive, GoldenLimits, Limits};
use serde::Serialize;

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LimitTest {
    /// What is tested, with the ear: "Response (golden mask), left ear".
    pub quantity: String,
    /// The capture it was measured on.
    pub capture: String,
    /// The frequency of the point that sets the margin (curves and tones).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_hz: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high: Option<f64>,
    pub measured: f64,
    /// "dB" or "%".
    pub unit: &'static str,
    /// Inside the nearer limit, in `unit`; negative outside.
    pub margin: f64,
    pub pass: bool,
}

/// A point of a curve against its limits: (Hz, low, high, measured).
type Judged = (f64, Option<f64>, Option<f64>, f64);

fn margin_of(low: Option<f64>, high: Option<f64>, v: f64) -> f64 {
    let below = low.map_or(f64::INFINITY, |l| v - l);
    let above = high.map_or(f64::INFINITY, |h| h - v);
    below.min(above)
}

/// The point that sets a curve's margin: over every run of `span` neighbouring points, the one
/// with the largest margin in the run; of those, the one with the smallest.
fn sustained(points: &[Judged], span: usize) -> Option<Judged> {
    let span = span.clamp(1, points.len().max(1));
    points
        .windows(span)
        .filter_map(|w| w.iter().copied().max_by(|a, b| margin_of(a.1, a.2, a.3).total_cmp(&margin_of(b.1, b.2, b.3))))
        .min_by(|a, b| margin_of(a.1, a.2, a.3).total_cmp(&margin_of(b.1, b.2, b.3)))
}

fn row(quantity: String, capture: &str, (at, low, high, measured): Judged, unit: &'static str) -> LimitTest {
    let margin = margin_of(low, high, measured);
    LimitTest {
        quantity,
        capture: capture.to_string(),
        at_hz: (at > 0.0).then_some(at),
        low,
        high,
        measured,
        unit,
        margin,
        pass: margin >= 0.0,
    }
}

fn ear_name(m: &Measured, ear: usize) -> &'static str {
    match (m.direction, ear) {
        (Direction::Playback, 0) => "left ear",
        (Direction::Playback, _) => "right ear",
        _ => "microphone",
    }
}

/// The golden limit of a curve at `f` (matched to 1 ‰, as the calibration wrote it).
fn at<const N: usize>(curve: &[[f64; N]], f: f64) -> Option<[f64; N]> {
    curve.iter().copied().find(|q| (q[0] / f - 1.0).abs() < 1e-3)
}

/// The rows of one ear (or microphone) of one capture.
fn ear_tests(
    m: &Measured,
    ear: usize,
    x: &EarMeasure,
    limits: &Limits,
    golden: Option<&GoldenLimits>,
) -> Vec<LimitTest> {
    let mut out = Vec::new();
    let name = ear_name(m, ear);
    let file = m.file.as_str();
    let tone = m.signal.tone_hz();
    // Gain at the test tone against the model's window.
    if let (Some(f), Some(g), Some([lo, hi])) = (tone, x.gain_db, limits.gain_window(m.direction)) {
        out.push(row(format!("Sensitivity (gain), {name}"), file, (f, Some(lo), Some(hi), g), "dB"));
    }
    // THD at the test tone.
    if let (Some(f), Some(thd)) = (tone, x.thd_percent.filter(|_| m.direction == Direction::Playback)) {
        out.push(row(format!("THD, {name}"), file, (f, None, Some(limits.thd_max_percent), thd), "%"));
    }
    let Some(g) = golden else { return out };
    // The response shape (each curve less its mid-band gain) against the golden mask.
    if !x.response.is_empty() {
        let mask = if is_input_side(m) { &g.mic_response_db[..] } else { g.response(ear) };
        let (lo, hi) = (limits.response_band_hz[0], limits.response_band_hz[1]);
        let mid = x.gain_db.unwrap_or(0.0);
        let points: Vec<Judged> = x
            .response
            .iter()
            .filter(|p| p.freq_hz >= lo && p.freq_hz <= hi)
            .filter_map(|p| {
                let [_, l, h] = at(mask, p.freq_hz)?;
                Some((p.freq_hz, Some(l), Some(h), p.gain_db - mid))
            })
            .collect();
        if let Some(p) = sustained(&points, RESPONSE_SPAN) {
            out.push(row(format!("Response (golden mask), {name}"), file, p, "dB"));
        }
    }
    if m.direction != Direction::Playback {
        return out;
    }
    // THD over frequency is left out: above a few kHz a path's THD is its port's as much as its
    // headset's, and the golden limit holds only for the paths it was measured on (the report
    // plots it against the limit, for a look).
    // Rub & buzz: the band's residual peak against the golden units' limit, where it is
    // impulsive (clear of the band's noise and locked to the sweep); a noise-like peak over the
    // limit is no rub & buzz and is held at the limit.
    let rb: Vec<Judged> = x
        .rub_buzz
        .iter()
        .filter_map(|p| {
            let top = at(g.rub_buzz(ear), p.freq_hz)?[1];
            let v = if impulsive(p) { p.peak_db } else { p.peak_db.min(top) };
            Some((p.freq_hz, None, Some(top), v))
        })
        .collect();
    if let Some(p) = sustained(&rb, RUB_BUZZ_SPAN) {
        out.push(row(format!("Rub & buzz (golden limit), {name}"), file, p, "dB"));
    }
    out
}

/// The limit tests of the set's unit under test: every capture whose headset is not a
/// reference, in manifest order.
pub fn limit_tests(set: &CaptureSet, d: &Diagnosis, limits: &Limits) -> Vec<LimitTest> {
    let components = &set.manifest.components;
    let under_test =
        |id: &str| components.iter().any(|c| c.id == id && c.kind == ComponentKind::Headset && !c.reference);
    let model_of = |id: &str| components.iter().find(|c| c.id == id).and_then(|c| c.model.as_deref());
    let mut out = Vec::new();
    for m in d.captures.iter().map(|c| &c.measurements) {
        if !under_test(&m.path.headset) || !m.has_signal() {
            continue;
        }
        let golden = limits.golden.as_ref().filter(|g| model_of(&m.path.headset) == Some(g.model.as_str()));
        for (ear, x) in m.ears.iter().enumerate() {
            if m.driven(ear) && x.present {
                out.extend(ear_tests(m, ear, x, limits, golden));
            }
        }
        // The balance of a headset driven on both ears (a tone's level, a sweep's mid-band).
        if m.direction == Direction::Playback && m.drive == Some(Drive::Both) {
            if let [l, r] = &m.ears[..] {
                if let (Some(a), Some(b)) = (l.gain_db, r.gain_db) {
                    let w = limits.imbalance_max_db;
                    let [lo, hi] = golden.and_then(|g| g.balance_db).unwrap_or([-w, w]);
                    let f = m.signal.tone_hz().unwrap_or(0.0);
                    out.push(row("Balance (left − right)".into(), &m.file, (f, Some(lo), Some(hi), a - b), "dB"));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_margin_is_the_distance_inside_the_nearer_limit() {
        assert_eq!(margin_of(Some(-1.0), Some(3.0), 2.0), 1.0);
        assert_eq!(margin_of(Some(-1.0), Some(3.0), -2.5), -1.5);
        assert_eq!(margin_of(None, Some(1.0), 0.25), 0.75);
        assert_eq!(margin_of(Some(0.0), None, 5.0), 5.0);
    }

    #[test]
    fn a_curve_fails_only_where_it_stays_out_over_the_span() {
        let p = |f: f64, v: f64| (f, Some(-1.0), Some(1.0), v);
        // One point 4 dB out between two inside: a notch, not a fault; the run's best sets it.
        let notch = [p(100.0, 0.0), p(125.0, 0.5), p(160.0, 5.0), p(200.0, 0.2), p(250.0, 0.0)];
        let s = sustained(&notch, 3).expect("a point");
        assert!(margin_of(s.1, s.2, s.3) > 0.0, "{s:?}");
        // Three points out in a row: the least-out of them, 1.5 dB outside.
        let out = [p(100.0, 0.0), p(125.0, 2.5), p(160.0, 4.0), p(200.0, 3.0), p(250.0, 0.0)];
        let s = sustained(&out, 3).expect("a point");
        assert_eq!((s.0, margin_of(s.1, s.2, s.3)), (125.0, -1.5));
        assert_eq!(sustained(&[], 3), None);
    }
}
