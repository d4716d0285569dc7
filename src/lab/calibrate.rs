//! Golden-unit calibration: a product model's limits measured on known-good units
//! (`jackbench calibrate`), written into `limits/<model>.toml`.
//!
//! # Method
//! 1. **Test.** Each golden unit is tested with the rig's plan in the unit-under-test's place and
//!    diagnosed against the rig's limits. A golden unit that fails is refused by name.
//! 2. **Curves per unit.** From the captures through the unit, averaged over its paths (ports):
//!    each ear's response shape from the playback sweep (the response less its 200 Hz–5 kHz
//!    median), its rub & buzz peak ratio per 1/3-octave band and its THD over frequency; the
//!    microphone's response shape; the 1 kHz tone gains (playback, both ears' mean, and record)
//!    and the playback balance.
//! 3. **Limits.** Per quantity and frequency, over the units: the mean `m` and standard deviation
//!    `σ`; a response mask `m ± max(k·σ, floor)`, an upper limit `m + max(k·σ, floor)` for rub
//!    & buzz and THD, and a window `m ± max(k·σ, floor)` for each gain and for the balance. `k`
//!    and the floors are [`CalibrationOptions`]. The gain windows' middles are the model's
//!    nominal sensitivity, from which the diagnosis counts a level fault (spec §3: 6 dB).
//! 4. **Outliers.** Each unit is held to the others by robust statistics: a unit further from
//!    the units' median than five robust standard deviations (1.4826·MAD) and twice the
//!    quantity's floor, at two neighbouring points of a curve or in a gain or the balance, is
//!    named and the calibration refused: a golden unit must be typical of its model, not merely
//!    working.

use crate::capture::{Direction, Drive, GoldenLimits, Limits};
use crate::diagnosis::{Diagnosis, Measured, Verdict};

/// How tight the limits are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalibrationOptions {
    /// Standard deviations from the mean to a limit.
    pub k: f64,
    /// The least distance from the mean to a limit, dB, per quantity.
    pub response_floor_db: f64,
    pub rub_buzz_floor_db: f64,
    pub thd_floor_db: f64,
    pub gain_floor_db: f64,
    pub balance_floor_db: f64,
    /// Fewest golden units a calibration accepts.
    pub min_units: usize,
}

impl Default for CalibrationOptions {
    fn default() -> Self {
        CalibrationOptions {
            k: 4.0,
            response_floor_db: 1.5,
            rub_buzz_floor_db: 6.0,
            thd_floor_db: 6.0,
            gain_floor_db: 1.5,
            balance_floor_db: 1.0,
            min_units: 5,
        }
    }
}

/// A curve over frequency: (Hz, dB).
pub type Points = Vec<(f64, f64)>;

/// One ear's curves.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EarCurves {
    pub response: Points,
    pub rub_buzz: Points,
    pub thd: Points,
}

/// What one golden unit measured.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitCurves {
    pub serial: String,
    pub ears: [EarCurves; 2],
    pub mic_response: Points,
    pub playback_gain_db: Option<f64>,
    pub record_gain_db: Option<f64>,
    /// Left less right, dB, from the sweep's mid-band gains.
    pub balance_db: Option<f64>,
}

/// Why a calibration was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CalibrationError {
    #[error("{units} golden unit(s) measured; a calibration needs at least {min} (--units)")]
    TooFew { units: usize, min: usize },
    #[error("golden unit {serial} failed its own test ({what}): it cannot set the limits of its model")]
    Failed { serial: String, what: String },
    #[error(
        "golden unit {serial} is an outlier: its {quantity} is {value:.1} dB at {freq}, where the units lie within {low:.1} to {high:.1} dB; test it again or leave it out"
    )]
    Outlier { serial: String, quantity: String, freq: String, value: f64, low: f64, high: f64 },
}

/// A unit's curves from its diagnosed set; `dut` is the unit-under-test's component id.
pub fn unit_curves(d: &Diagnosis, dut: &str, serial: &str) -> Result<UnitCurves, CalibrationError> {
    if d.verdict != Verdict::Pass {
        let what: Vec<String> = d.faults.iter().map(|f| f.code.to_string()).collect();
        let what = if what.is_empty() { "suspects only".to_string() } else { what.join(", ") };
        return Err(CalibrationError::Failed { serial: serial.to_string(), what });
    }
    let mine: Vec<&Measured> = d.captures.iter().map(|c| &c.measurements).filter(|m| m.path.headset == dut).collect();
    let sweep = |m: &&&Measured| matches!(m.signal, crate::stimulus::Stimulus::LogSweep { .. });
    let tone = |m: &&&Measured| matches!(m.signal, crate::stimulus::Stimulus::Sine { .. });
    let shape = |e: &crate::diagnosis::EarMeasure| -> Points {
        let g = e.gain_db.unwrap_or(0.0);
        e.response.iter().map(|p| (p.freq_hz, p.gain_db - g)).collect()
    };
    let mut ears = [EarCurves::default(), EarCurves::default()];
    let playback: Vec<&&Measured> = mine
        .iter()
        .filter(|m| m.direction == Direction::Playback && m.drive != Some(Drive::Left))
        .filter(sweep)
        .collect();
    for (e, ear) in ears.iter_mut().enumerate() {
        let of = |f: &dyn Fn(&crate::diagnosis::EarMeasure) -> Points| -> Vec<Points> {
            playback.iter().filter_map(|m| m.ears.get(e)).map(f).collect()
        };
        ear.response = mean_curve(&of(&shape));
        ear.rub_buzz = mean_curve(&of(&|x| x.rub_buzz.iter().map(|p| (p.freq_hz, p.peak_db)).collect()));
        ear.thd = mean_curve(&of(&|x| x.thd.iter().map(|p| (p.freq_hz, p.level_db)).collect()));
    }
    let balance: Vec<f64> =
        playback.iter().filter_map(|m| Some(m.ears.first()?.gain_db? - m.ears.get(1)?.gain_db?)).collect();
    let mic: Vec<Points> = mine
        .iter()
        .filter(|m| m.direction == Direction::Record)
        .filter(sweep)
        .filter_map(|m| m.ears.first())
        .map(shape)
        .collect();
    let tone_gain = |dir: Direction| -> Vec<f64> {
        mine.iter()
            .filter(|m| m.direction == dir)
            .filter(tone)
            .flat_map(|m| m.ears.iter().enumerate().filter(|(e, _)| m.driven(*e)).filter_map(|(_, x)| x.gain_db))
            .collect()
    };
    Ok(UnitCurves {
        serial: serial.to_string(),
        ears,
        mic_response: mean_curve(&mic),
        playback_gain_db: mean(&tone_gain(Direction::Playback)),
        record_gain_db: mean(&tone_gain(Direction::Record)),
        balance_db: mean(&balance),
    })
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn mean_sd(v: &[f64]) -> Option<(f64, f64)> {
    let m = mean(v)?;
    let var = if v.len() > 1 { v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64 } else { 0.0 };
    Some((m, var.sqrt()))
}

/// Per frequency of the first curve, the values of the curves that have it, where at least
/// `need` of them do.
fn per_frequency(curves: &[&Points], need: usize) -> Vec<(f64, Vec<f64>)> {
    let Some(first) = curves.first() else { return Vec::new() };
    first
        .iter()
        .map(|&(f, _)| (f, curves.iter().filter_map(|c| value_at(c, f)).collect::<Vec<f64>>()))
        .filter(|(_, v)| v.len() >= need.max(1))
        .collect()
}

/// The point-by-point mean of curves, over the frequencies they share.
fn mean_curve(curves: &[Points]) -> Points {
    let refs: Vec<&Points> = curves.iter().collect();
    per_frequency(&refs, refs.len()).into_iter().filter_map(|(f, v)| Some((f, mean(&v)?))).collect()
}

fn value_at(c: &[(f64, f64)], f: f64) -> Option<f64> {
    c.iter().find(|p| (p.0 / f - 1.0).abs() < 1e-6).map(|p| p.1)
}

/// Per frequency of the first unit's curve, the (mean, σ) over the units that have it, where
/// more than half do.
fn stats(curves: &[&Points]) -> Vec<(f64, f64, f64)> {
    per_frequency(curves, curves.len() / 2 + 1)
        .into_iter()
        .filter_map(|(f, v)| mean_sd(&v).map(|(m, s)| (f, m, s)))
        .collect()
}

fn mask(curves: &[&Points], k: f64, floor: f64) -> Vec<[f64; 3]> {
    stats(curves).into_iter().map(|(f, m, s)| [f, m - (k * s).max(floor), m + (k * s).max(floor)]).collect()
}

/// Per frequency, the lowest and the highest of the units: their band.
fn band(curves: &[&Points]) -> Vec<[f64; 3]> {
    per_frequency(curves, curves.len() / 2 + 1)
        .into_iter()
        .map(|(f, v)| {
            let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(*x), b.max(*x)));
            [f, lo, hi]
        })
        .collect()
}

fn upper(curves: &[&Points], k: f64, floor: f64) -> Vec<[f64; 2]> {
    stats(curves).into_iter().map(|(f, m, s)| [f, m + (k * s).max(floor)]).collect()
}

/// The window `mean ± max(k·σ, floor)` of `values` (σ the sample standard deviation), to 0.01.
pub(crate) fn window(values: &[f64], k: f64, floor: f64) -> Option<[f64; 2]> {
    let (m, s) = mean_sd(values)?;
    let w = (k * s).max(floor);
    Some([round2(m - w), round2(m + w)])
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The limits of `model` from its golden units, laid over `base` (the rig's): gain windows,
/// balance and the curves. Refuses too few units and names an outlier.
pub fn derive(
    model: &str,
    units: &[UnitCurves],
    base: &Limits,
    opts: &CalibrationOptions,
) -> Result<Limits, CalibrationError> {
    if units.len() < opts.min_units.max(2) {
        return Err(CalibrationError::TooFew { units: units.len(), min: opts.min_units.max(2) });
    }
    let all: Vec<&UnitCurves> = units.iter().collect();
    find_outlier(&all, opts)?;
    Ok(limits_of(model, &all, base, opts))
}

fn limits_of(model: &str, units: &[&UnitCurves], base: &Limits, o: &CalibrationOptions) -> Limits {
    let curves = |f: &dyn Fn(&UnitCurves) -> &Points| -> Vec<&Points> {
        units.iter().map(|u| f(u)).filter(|c| !c.is_empty()).collect()
    };
    let values = |f: &dyn Fn(&UnitCurves) -> Option<f64>| -> Vec<f64> { units.iter().filter_map(|u| f(u)).collect() };
    let r = |x: Vec<[f64; 3]>| x.into_iter().map(|[f, a, b]| [round2(f), round2(a), round2(b)]).collect();
    let u2 = |x: Vec<[f64; 2]>| x.into_iter().map(|[f, a]| [round2(f), round2(a)]).collect();
    let golden = GoldenLimits {
        model: model.to_string(),
        left_response_db: r(mask(&curves(&|u| &u.ears[0].response), o.k, o.response_floor_db)),
        right_response_db: r(mask(&curves(&|u| &u.ears[1].response), o.k, o.response_floor_db)),
        mic_response_db: r(mask(&curves(&|u| &u.mic_response), o.k, o.response_floor_db)),
        left_band_db: r(band(&curves(&|u| &u.ears[0].response))),
        right_band_db: r(band(&curves(&|u| &u.ears[1].response))),
        mic_band_db: r(band(&curves(&|u| &u.mic_response))),
        left_rub_buzz_db: u2(upper(&curves(&|u| &u.ears[0].rub_buzz), o.k, o.rub_buzz_floor_db)),
        right_rub_buzz_db: u2(upper(&curves(&|u| &u.ears[1].rub_buzz), o.k, o.rub_buzz_floor_db)),
        left_thd_db: u2(upper(&curves(&|u| &u.ears[0].thd), o.k, o.thd_floor_db)),
        right_thd_db: u2(upper(&curves(&|u| &u.ears[1].thd), o.k, o.thd_floor_db)),
        balance_db: None,
    };
    Limits {
        playback_gain_db: window(&values(&|u| u.playback_gain_db), o.k, o.gain_floor_db).or(base.playback_gain_db),
        record_gain_db: window(&values(&|u| u.record_gain_db), o.k, o.gain_floor_db).or(base.record_gain_db),
        golden: Some(GoldenLimits {
            balance_db: window(&values(&|u| u.balance_db), o.k, o.balance_floor_db),
            ..golden
        }),
        ..base.clone()
    }
}

/// How far from the units' median, in robust standard deviations (1.4826·MAD), a unit must lie
/// to be an outlier; and at least twice the quantity's floor.
const OUTLIER_K: f64 = 5.0;

/// The first unit that lies far out of the others: at two neighbouring points of a curve, or
/// in a single value, beyond `max(OUTLIER_K·1.4826·MAD, 2·floor)` of the median. Robust
/// statistics, so one rubbing unit among ten does not widen the yardstick it is measured by,
/// and a limit of k·σ from a handful of units does not refuse a typical one.
fn find_outlier(units: &[&UnitCurves], o: &CalibrationOptions) -> Result<(), CalibrationError> {
    let median = |mut v: Vec<f64>| -> f64 { crate::lab::spc::median(&mut v) };
    // (median, allowed distance) of a sample.
    let yardstick = |v: Vec<f64>, floor: f64| -> (f64, f64) {
        let m = median(v.clone());
        let mad = median(v.iter().map(|x| (x - m).abs()).collect());
        (m, (OUTLIER_K * 1.4826 * mad).max(2.0 * floor))
    };
    type Get = fn(&UnitCurves) -> &Points;
    let curves: [(&str, Get, f64); 7] = [
        ("left ear's response", |u| &u.ears[0].response, o.response_floor_db),
        ("right ear's response", |u| &u.ears[1].response, o.response_floor_db),
        ("microphone's response", |u| &u.mic_response, o.response_floor_db),
        ("left ear's rub & buzz", |u| &u.ears[0].rub_buzz, o.rub_buzz_floor_db),
        ("right ear's rub & buzz", |u| &u.ears[1].rub_buzz, o.rub_buzz_floor_db),
        ("left ear's THD", |u| &u.ears[0].thd, o.thd_floor_db),
        ("right ear's THD", |u| &u.ears[1].thd, o.thd_floor_db),
    ];
    let outlier =
        |u: &UnitCurves, quantity: &str, freq: String, value: f64, (m, d): (f64, f64)| CalibrationError::Outlier {
            serial: u.serial.clone(),
            quantity: quantity.to_string(),
            freq,
            value,
            low: m - d,
            high: m + d,
        };
    for (name, get, floor) in curves {
        let Some(first) = units.first() else { return Ok(()) };
        let sticks: Vec<(f64, (f64, f64))> = get(first)
            .iter()
            .filter_map(|&(f, _)| {
                let v: Vec<f64> = units.iter().filter_map(|u| value_at(get(u), f)).collect();
                (v.len() == units.len()).then(|| (f, yardstick(v, floor)))
            })
            .collect();
        for u in units {
            let out: Vec<Option<(f64, f64)>> = sticks
                .iter()
                .map(|&(f, (m, d))| value_at(get(u), f).filter(|v| (v - m).abs() > d).map(|v| (f, v)))
                .collect();
            if let Some(w) = out.windows(2).find(|w| w[0].is_some() && w[1].is_some()) {
                let (f, v) = w[0].unwrap_or_default();
                let stick = sticks.iter().find(|s| s.0 == f).map_or((0.0, 0.0), |s| s.1);
                return Err(outlier(u, name, crate::diagnosis::hz_text(f), v, stick));
            }
        }
    }
    type GetValue = fn(&UnitCurves) -> Option<f64>;
    let values: [(&str, GetValue, f64); 3] = [
        ("playback gain at 1 kHz", |u| u.playback_gain_db, o.gain_floor_db),
        ("record gain at 1 kHz", |u| u.record_gain_db, o.gain_floor_db),
        ("balance", |u| u.balance_db, o.balance_floor_db),
    ];
    for (name, get, floor) in values {
        let v: Vec<f64> = units.iter().filter_map(|u| get(u)).collect();
        if v.len() < units.len() || v.is_empty() {
            continue;
        }
        let (m, d) = yardstick(v, floor);
        if let Some(u) = units.iter().find(|u| get(u).is_some_and(|x| (x - m).abs() > d)) {
            return Err(outlier(u, name, "1 kHz".into(), get(u).unwrap_or_default(), (m, d)));
        }
    }
    Ok(())
}

/// How tight each limit came out, one line each, for the operator.
pub fn summary(l: &Limits) -> Vec<String> {
    let mut out = Vec::new();
    let span = |m: &[[f64; 3]]| -> Option<String> {
        let half: Vec<f64> = m.iter().map(|p| (p[2] - p[1]) / 2.0).collect();
        let (lo, hi) = half.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
        let (f0, f1) = (m.first()?[0], m.last()?[0]);
        Some(format!(
            "±{lo:.1} to ±{hi:.1} dB over {}–{} ({} points)",
            crate::diagnosis::hz_text(f0),
            crate::diagnosis::hz_text(f1),
            m.len()
        ))
    };
    let top = |m: &[[f64; 2]]| -> Option<String> {
        let (lo, hi) = m.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p[1]), b.max(p[1])));
        let (f0, f1) = (m.first()?[0], m.last()?[0]);
        Some(format!(
            "{lo:.1} to {hi:.1} dB over {}–{} ({} bands)",
            crate::diagnosis::hz_text(f0),
            crate::diagnosis::hz_text(f1),
            m.len()
        ))
    };
    if let Some(g) = &l.golden {
        for (name, m) in [
            ("left ear response mask", &g.left_response_db),
            ("right ear response mask", &g.right_response_db),
            ("microphone response mask", &g.mic_response_db),
        ] {
            if let Some(s) = span(m) {
                out.push(format!("{name}: {s}"));
            }
        }
        for (name, m) in [
            ("left ear rub & buzz limit (peak re signal)", &g.left_rub_buzz_db),
            ("right ear rub & buzz limit (peak re signal)", &g.right_rub_buzz_db),
            ("left ear THD limit", &g.left_thd_db),
            ("right ear THD limit", &g.right_thd_db),
        ] {
            if let Some(s) = top(m) {
                out.push(format!("{name}: {s}"));
            }
        }
    }
    if let Some([lo, hi]) = l.playback_gain_db {
        out.push(format!("playback sensitivity at 1 kHz: {lo:.2} to {hi:.2} dB"));
    }
    if let Some([lo, hi]) = l.record_gain_db {
        out.push(format!("microphone sensitivity at 1 kHz: {lo:.2} to {hi:.2} dB"));
    }
    if let Some([lo, hi]) = l.golden.as_ref().and_then(|g| g.balance_db) {
        out.push(format!("balance (left less right): {lo:.2} to {hi:.2} dB"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(serial: &str, offset: f64, rb: f64) -> UnitCurves {
        let curve = |v: f64| -> Points { (0..10).map(|i| (100.0 * 2f64.powi(i), v + 0.1 * f64::from(i))).collect() };
        let ear = EarCurves { response: curve(offset), rub_buzz: curve(-60.0 + rb), thd: curve(-50.0) };
        UnitCurves {
            serial: serial.into(),
            ears: [ear.clone(), ear],
            mic_response: curve(offset),
            playback_gain_db: Some(-5.0 + offset),
            record_gain_db: Some(-13.0),
            balance_db: Some(0.2 * offset),
        }
    }

    #[test]
    fn limits_are_the_mean_and_k_sigma_with_floors() {
        let units: Vec<UnitCurves> =
            (0..10).map(|i| unit(&format!("G{i}"), 0.2 * (f64::from(i) - 4.5), 0.5 * f64::from(i % 3))).collect();
        let l = derive("m", &units, &Limits::default(), &CalibrationOptions::default()).expect("calibrated");
        let g = l.golden.as_ref().expect("golden");
        // Offsets −0.9…0.9 in steps of 0.2: σ = 0.61, k·σ = 2.4 > the 1.5 dB floor.
        let [f, lo, hi] = g.left_response_db[0];
        assert_eq!(f, 100.0);
        assert!((hi - lo - 2.0 * 4.0 * 0.6055).abs() < 0.05 && (lo + hi).abs() < 0.02, "{lo} {hi}");
        // Rub & buzz spreads 0–1 dB: the 6 dB floor rules.
        let [_, top] = g.left_rub_buzz_db[0];
        assert!((top - (-60.0 + 0.45 + 6.0)).abs() < 0.05, "{top}");
        assert_eq!(g.left_response_db.len(), 10);
        let w = l.playback_gain_db.expect("window");
        assert!((w[0] + 5.0 + 2.42).abs() < 0.05 && (w[1] + 5.0 - 2.42).abs() < 0.05, "{w:?}");
    }

    #[test]
    fn too_few_units_and_an_outlier_are_refused_by_name() {
        let few: Vec<UnitCurves> = (0..3).map(|i| unit(&format!("G{i}"), 0.0, 0.0)).collect();
        assert_eq!(
            derive("m", &few, &Limits::default(), &CalibrationOptions::default()),
            Err(CalibrationError::TooFew { units: 3, min: 5 })
        );
        let mut units: Vec<UnitCurves> = (0..8).map(|i| unit(&format!("G{i}"), 0.05 * f64::from(i), 0.0)).collect();
        // One unit rubs: 20 dB more in the two lowest bands.
        units[5].ears[1].rub_buzz[0].1 += 20.0;
        units[5].ears[1].rub_buzz[1].1 += 20.0;
        let e = derive("m", &units, &Limits::default(), &CalibrationOptions::default()).expect_err("an outlier");
        assert!(
            matches!(&e, CalibrationError::Outlier { serial, quantity, .. } if serial == "G5" && quantity.contains("right ear's rub")),
            "{e}"
        );
    }
}
