//! What the results database keeps of one tested unit: who, what, where and when, the verdict,
//! the faults ranked, and the unit's measurements with the limits they were judged against.
//!
//! # The measurements of a unit
//! Taken from the diagnosis of its capture set, on every path through the unit under test (the
//! component that carries the serial), named `<port>.<quantity>` (`<port>/<adapter>.` when the
//! plan puts the unit on one port through several adapters):
//!
//! | quantity | from | unit | limit |
//! |---|---|---|---|
//! | `playback_gain_db` | one-sided playback tones: the driven ear's level less the stimulus's, mean of both ears | dB | `playback_gain_db` window |
//! | `balance_db` | the same tones: left ear's gain less the right's | dB | ±`imbalance_max_db` |
//! | `crosstalk_db` | the same tones: undriven ear against driven ear, worse side | dB | none |
//! | `thd_percent` | playback tones, driven ears, the worse | % | `thd_max_percent` |
//! | `rub_buzz_db` | playback sweep, driven ears: the loudest 1/3-octave band's recurring residual peak over the band's own noise (a band not locked to the sweep counts as noise, at most what noise alone reaches), the worse ear | dB | noise alone + `rub_buzz_max_db` |
//! | `response_dev_db` | playback sweep: how far the response's shape falls below the reference headset's in the mask band | dB | `response_max_db` |
//! | `mic_gain_db` | record tone: level less the stimulus's (microphone sensitivity) | dB | `record_gain_db` window |
//! | `mic_thd_percent` | record tone | % | `thd_max_percent` |
//! | `mic_noise_dbfs` | record silence: the noise floor | dBFS | `record_noise_dbfs` window |
//! | `mic_response_dev_db` | record sweep, as above | dB | `response_max_db` |
//!
//! A quantity the set does not show (no such capture, no stimulus found) is left out rather than
//! stored as a number that means nothing.

use crate::analysis::sweep::ResponsePoint;
use crate::capture::Limits;
use crate::capture::{ComponentKind, Direction, Drive, Manifest, PathSpec};
use crate::diagnosis::{Diagnosis, Measured, Verdict};
use serde::Serialize;

/// One measurement of a unit, judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeasurementRecord {
    pub name: String,
    pub value: f64,
    pub unit: String,
    pub limit_low: Option<f64>,
    pub limit_high: Option<f64>,
    pub pass: bool,
}

impl MeasurementRecord {
    fn new(name: String, value: f64, unit: &str, low: Option<f64>, high: Option<f64>) -> MeasurementRecord {
        let pass = low.is_none_or(|l| value >= l) && high.is_none_or(|h| value <= h);
        MeasurementRecord { name, value, unit: unit.to_string(), limit_low: low, limit_high: high, pass }
    }
}

/// A limit window in words: `1.0 … 13.0`, `≤ 1.0`, `≥ -88.0`, or `—` when none applies.
pub fn limits_text(low: Option<f64>, high: Option<f64>) -> String {
    match (low, high) {
        (Some(l), Some(h)) => format!("{l:.1} … {h:.1}"),
        (None, Some(h)) => format!("≤ {h:.1}"),
        (Some(l), None) => format!("≥ {l:.1}"),
        (None, None) => "—".into(),
    }
}

/// One fault (or suspect group) of a unit, ranked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultRecord {
    pub rank: i64,
    pub component: String,
    /// `kind.symptom`; a suspect group is `suspect.symptom`.
    pub code: String,
    pub confidence: Option<f64>,
    pub evidence: String,
    pub remedy: String,
}

/// Everything stored of one tested unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitRecord {
    pub serial: String,
    pub model: String,
    pub rig: String,
    pub bench: String,
    pub operator: String,
    pub batch: String,
    pub tested_at_ms: i64,
    pub jackbench_version: String,
    pub verdict: Verdict,
    pub capture_set: String,
    /// Captures the ambient-noise guard made again because room sound disturbed them.
    pub repeats: i64,
    /// The limits file the unit was judged against (a model's, else the rig file).
    pub limits_file: String,
    /// When those limits were calibrated on golden units, RFC 3339.
    pub calibrated: Option<String>,
    /// The bench calibration whose gain and noise windows were in force, and its date.
    pub bench_calibration: Option<String>,
    pub bench_calibrated: Option<String>,
    /// The plan's bench time per unit, seconds ([`crate::rig::RigFile::bench_time`]).
    pub bench_s: Option<f64>,
    /// Wall clock from the unit's first capture to its result, seconds (`None`: recovered).
    pub elapsed_s: Option<f64>,
    pub faults: Vec<FaultRecord>,
    pub measurements: Vec<MeasurementRecord>,
}

/// The faults of a diagnosis as rows: faults by rank, then suspect groups, then what is missing
/// (`code` = `missing`, `component` the capture or the part).
pub fn fault_records(d: &Diagnosis) -> Vec<FaultRecord> {
    let mut out: Vec<FaultRecord> = d
        .faults
        .iter()
        .map(|f| FaultRecord {
            rank: 0,
            component: f.component.clone(),
            code: f.code.to_string(),
            confidence: Some(f.confidence),
            evidence: f.evidence.clone(),
            remedy: f.remedy.clone(),
        })
        .collect();
    out.extend(d.suspects.iter().map(|s| FaultRecord {
        rank: 0,
        component: s.components.join(","),
        code: format!("suspect.{}", s.symptom.name()),
        confidence: None,
        evidence: format!("{} ({})", s.evidence, s.why()),
        remedy: s.next_step().into(),
    }));
    out.extend(d.missing.iter().map(|m| FaultRecord {
        rank: 0,
        component: m.place(),
        code: "missing".into(),
        confidence: None,
        evidence: m.why.clone(),
        remedy: "test the unit again: what is missing was not measured".into(),
    }));
    for (i, f) in out.iter_mut().enumerate() {
        f.rank = i as i64 + 1;
    }
    out
}

/// The component a unit's serial belongs to: the one non-reference headset of the bench (the
/// unit under test); `None` when the bench has none or several.
pub fn unit_under_test(manifest: &Manifest) -> Option<String> {
    let mut duts = manifest.components.iter().filter(|c| c.kind == ComponentKind::Headset && !c.reference);
    let first = duts.next()?;
    duts.next().is_none().then(|| first.id.clone())
}

/// A response's shape (less its own mid-band gain) in `band`.
fn shape(points: &[ResponsePoint], gain_db: f64, band: [f64; 2]) -> Vec<(f64, f64)> {
    points
        .iter()
        .filter(|p| p.freq_hz >= band[0] && p.freq_hz <= band[1])
        .map(|p| (p.freq_hz, p.gain_db - gain_db))
        .collect()
}

/// How far `mine` falls below `reference` (same frequency grid), dB: the largest shortfall
/// held over five consecutive points, so a single notch does not count as a response.
/// Rub & buzz as one number for the line's statistics: over the playback sweeps' driven ears
/// (clipped captures, with their own harmonics, left out), the highest band's residual peak over
/// the band's own noise; a band whose residual is not locked to the sweep (room sound, noise)
/// counts at most as much as noise alone reaches.
fn rub_buzz_db<'a>(captures: impl Iterator<Item = &'a Measured>) -> Option<f64> {
    let noise_alone = crate::diagnosis::NOISE_PEAK_DB;
    captures
        .filter(|m| matches!(m.signal, crate::stimulus::Stimulus::LogSweep { .. }))
        .flat_map(|m| {
            m.ears.iter().enumerate().filter(|(e, x)| m.driven(*e) && x.present && !x.clipped).map(|(_, x)| x)
        })
        .flat_map(|x| x.rub_buzz.iter())
        .map(|p| {
            let v = p.peak_db - p.noise_db;
            if p.locked >= crate::analysis::rub_buzz::LOCKED_MIN {
                v
            } else {
                v.min(noise_alone)
            }
        })
        .filter(|v| v.is_finite())
        .reduce(f64::max)
}

fn shortfall_db(mine: &[(f64, f64)], reference: &[(f64, f64)]) -> Option<f64> {
    const SPAN: usize = 5;
    let short: Vec<f64> = mine
        .iter()
        .filter_map(|(f, v)| reference.iter().find(|(g, _)| (g / f - 1.0).abs() < 1e-6).map(|(_, r)| r - v))
        .collect();
    if short.len() < SPAN {
        return None;
    }
    short.windows(SPAN).map(|w| w.iter().copied().fold(f64::INFINITY, f64::min)).reduce(f64::max).map(|s| s.max(0.0))
}

/// The unit's measurements from its diagnosis (see the module's table).
pub fn unit_measurements(d: &Diagnosis, manifest: &Manifest, dut: &str, limits: &Limits) -> Vec<MeasurementRecord> {
    let captures: Vec<&Measured> = d.captures.iter().map(|c| &c.measurements).collect();
    let reference_headset = |id: &str| manifest.component(id).is_some_and(|c| c.reference);
    let mut paths: Vec<&PathSpec> = Vec::new();
    for m in &captures {
        if m.path.headset == dut && !paths.contains(&&m.path) {
            paths.push(&m.path);
        }
    }
    // A port the unit is on through more than one adapter: its paths are told apart by adapter.
    let several_adapters = |path: &PathSpec| paths.iter().any(|p| p.port == path.port && p.adapter != path.adapter);
    let window = |w: Option<[f64; 2]>| w.map_or((None, None), |[lo, hi]| (Some(lo), Some(hi)));
    let mut out = Vec::new();
    for path in &paths {
        let tag = if several_adapters(path) { format!("{}/{}", path.port, path.adapter) } else { path.port.clone() };
        let name = |q: &str| format!("{tag}.{q}");
        let on_path = |dir: Direction| captures.iter().filter(move |m| &&m.path == path && m.direction == dir);
        let tones = |dir: Direction| {
            on_path(dir).filter(|m| m.has_signal() && matches!(m.signal, crate::stimulus::Stimulus::Sine { .. }))
        };

        // Playback: one-sided tones.
        let driven = |m: &Measured| match m.drive {
            Some(Drive::Left) => Some(0),
            Some(Drive::Right) => Some(1),
            _ => None,
        };
        let mut gains = [None, None];
        let mut crosstalk: Option<f64> = None;
        let mut thd: Option<f64> = None;
        for m in tones(Direction::Playback) {
            for (e, ear) in m.ears.iter().enumerate() {
                if m.driven(e) {
                    thd = ear.thd_percent.map_or(thd, |t| Some(thd.map_or(t, |x: f64| x.max(t))));
                }
            }
            let Some(side) = driven(m) else { continue };
            let (Some(d), Some(u)) = (m.ears.get(side), m.ears.get(1 - side)) else { continue };
            if let Some(g) = d.gain_db.filter(|_| d.present) {
                gains[side] = Some(g);
                let xt = u.level_dbfs.map_or(-120.0, |l| l) - d.level_dbfs.unwrap_or(0.0);
                crosstalk = Some(crosstalk.map_or(xt, |x: f64| x.max(xt)));
            }
        }
        if let (Some(l), Some(r)) = (gains[0], gains[1]) {
            let (lo, hi) = window(limits.playback_gain_db);
            out.push(MeasurementRecord::new(name("playback_gain_db"), (l + r) / 2.0, "dB", lo, hi));
            let b = limits.imbalance_max_db;
            out.push(MeasurementRecord::new(name("balance_db"), l - r, "dB", Some(-b), Some(b)));
        }
        if let Some(x) = crosstalk {
            out.push(MeasurementRecord::new(name("crosstalk_db"), x.max(-120.0), "dB", None, None));
        }
        if let Some(t) = thd {
            out.push(MeasurementRecord::new(name("thd_percent"), t, "%", None, Some(limits.thd_max_percent)));
        }
        if let Some(rb) = rub_buzz_db(on_path(Direction::Playback).copied()) {
            let high = crate::diagnosis::NOISE_PEAK_DB + limits.rub_buzz_max_db;
            out.push(MeasurementRecord::new(name("rub_buzz_db"), rb, "dB", None, Some(high)));
        }

        // Record: tone, silence.
        if let Some(m) = tones(Direction::Record).next() {
            if let Some(ear) = m.ears.first().filter(|e| e.present) {
                if let Some(g) = ear.gain_db {
                    let (lo, hi) = window(limits.record_gain_db);
                    out.push(MeasurementRecord::new(name("mic_gain_db"), g, "dB", lo, hi));
                }
                if let Some(t) = ear.thd_percent {
                    out.push(MeasurementRecord::new(
                        name("mic_thd_percent"),
                        t,
                        "%",
                        None,
                        Some(limits.thd_max_percent),
                    ));
                }
            }
        }
        if let Some(m) = on_path(Direction::Record).find(|m| !m.has_signal()) {
            if let Some(ear) = m.ears.first().filter(|e| !e.digital_silence) {
                let (lo, hi) = window(limits.record_noise_dbfs);
                out.push(MeasurementRecord::new(name("mic_noise_dbfs"), ear.noise_floor_dbfs, "dBFS", lo, hi));
            }
        }

        // Responses against the reference headset's on another path, same direction and drive.
        for (dir, quantity) in [(Direction::Playback, "response_dev_db"), (Direction::Record, "mic_response_dev_db")] {
            let sweep = |m: &&&Measured| matches!(m.signal, crate::stimulus::Stimulus::LogSweep { .. });
            let Some(mine) = on_path(dir).find(sweep) else { continue };
            let reference = captures.iter().find(|r| {
                r.direction == dir
                    && r.stimulus == mine.stimulus
                    && r.drive == mine.drive
                    && reference_headset(&r.path.headset)
            });
            let Some(reference) = reference else { continue };
            let worst = (0..mine.ears.len())
                .filter(|e| mine.driven(*e))
                .filter_map(|e| {
                    let (a, b) = (mine.ears.get(e)?, reference.ears.get(e)?);
                    if !a.present || !b.present {
                        return None;
                    }
                    let band = limits.response_band_hz;
                    shortfall_db(&shape(&a.response, a.gain_db?, band), &shape(&b.response, b.gain_db?, band))
                })
                .reduce(f64::max);
            if let Some(w) = worst {
                out.push(MeasurementRecord::new(name(quantity), w, "dB", None, Some(limits.response_max_db)));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shortfall_is_the_worst_held_over_five_points() {
        let reference: Vec<(f64, f64)> = (0..20).map(|k| (100.0 * 1.2f64.powi(k), 0.0)).collect();
        let mut mine = reference.clone();
        // A single deep notch does not count; a broad 7 dB loss from point 12 on does.
        mine[4].1 = -20.0;
        for p in &mut mine[12..] {
            p.1 = -7.0;
        }
        assert_eq!(shortfall_db(&mine, &reference), Some(7.0));
        assert_eq!(shortfall_db(&reference, &reference), Some(0.0));
        assert_eq!(shortfall_db(&mine[..3], &reference), None);
    }

    #[test]
    fn a_measurement_passes_inside_its_window_only() {
        let m = MeasurementRecord::new("x".into(), 5.0, "dB", Some(1.0), Some(13.0));
        assert!(m.pass);
        assert!(!MeasurementRecord::new("x".into(), 0.5, "dB", Some(1.0), Some(13.0)).pass);
        assert!(MeasurementRecord::new("x".into(), -50.0, "dB", None, None).pass);
    }
}
