//! Statistical process control over a line's measurements: control charts, capability, drift.
//!
//! The method, in four steps:
//! 1. **Subgroups.** The values of one quantity are grouped by bench and by subgroup (the hour or
//!    day the units were tested in, or their batch): each subgroup is summarised by its size `n`,
//!    mean `x̄`, range `R` and standard deviation `s`.
//!    Values more than 6 robust σ from the median (1.4826 × the median absolute deviation) are left
//!    out and counted: a dead ear's gain is a defect for the Pareto, not the process's spread,
//!    and one would be most of the chart's σ. A drift toward a limit stays well inside 6 σ.
//! 2. **Limits from the data.** The within-subgroup spread is the pooled standard deviation of
//!    every subgroup, unbiased by `c4` (`σ̂ = s_p / c4(ν + 1)`, `ν = Σ(nᵢ − 1)`). The mean chart's
//!    centre is the grand mean `x̿`, its limits `x̿ ± 3σ̂/√nᵢ` for each subgroup's own size; the
//!    spread chart plots `s` with centre `c4(nᵢ)σ̂` and limits `σ̂(c4 ± 3√(1 − c4²))` (the `x̄–s`
//!    chart: subgroups of an hour hold tens of units, where a range wastes most of them and its
//!    constants are tabulated only to 25; the range is kept with each subgroup for a look).
//! 3. **Capability against the product's limits.** `Cpk = min(USL − x̿, x̿ − LSL) / 3σ̂` (the
//!    within-subgroup spread: what the process could do) and `Ppk`, the same with the overall
//!    standard deviation (what it did); one-sided where the product has one limit.
//! 4. **Drift, per bench.** A bench's first half of subgroups is its baseline (its centre; the
//!    spread is the line's `σ̂`); its latest subgroup is judged against it two ways: its mean
//!    beyond 3σ of its size (a jump), or the EWMA of its means (λ = 0.2) beyond its 3σ limit (a
//!    slow or sustained drift, which Shewhart's limits find late); both limits widened by the
//!    baseline's own error (it is estimated from the same data). Only the latest counts: a flag
//!    says the bench drifts now. Both rules together raise a false alarm about once in 200
//!    judgements of a stable bench (the Western Electric run rules, at about once in 60, would
//!    flag some bench on most views of a line with 4 benches and 5 quantities). A bench needs 8
//!    subgroups to be judged. Where the drift heads toward a product limit, the flag says so.
//!
//! All of it is a pure function of the values: no database, no I/O.

use serde::Serialize;
use std::collections::BTreeMap;

/// One value of a quantity: the subgroup it falls in (its key and when it starts, for ordering
/// and drawing) and the bench it was measured on.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub key: String,
    pub start_ms: i64,
    pub bench: String,
    pub value: f64,
}

/// One subgroup of one bench, summarised and judged.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Point {
    pub key: String,
    pub start_ms: i64,
    pub bench: String,
    pub n: usize,
    pub mean: f64,
    pub range: f64,
    pub sd: f64,
    /// The mean chart's limits for this subgroup's size.
    pub mean_lcl: f64,
    pub mean_ucl: f64,
    /// The spread chart's centre and limits for this subgroup's size.
    pub sd_center: f64,
    pub sd_lcl: f64,
    pub sd_ucl: f64,
    /// The mean or the spread outside its control limits.
    pub out_of_control: bool,
}

/// A bench whose latest subgroups break a run rule against its own baseline.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Drift {
    pub bench: String,
    /// The rule, in words.
    pub rule: String,
    /// The subgroup where it holds (the latest), and when that subgroup starts (Unix ms).
    pub key: String,
    pub start_ms: i64,
    /// The bench's baseline centre and its latest mean.
    pub baseline: f64,
    pub latest: f64,
    /// The product limit it heads toward, when it does.
    pub toward_limit: Option<f64>,
}

/// One quantity's control chart and capability.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Chart {
    pub quantity: String,
    pub unit: String,
    pub values: usize,
    /// Values left out as gross outliers (beyond 6 robust σ of the median).
    pub outliers: usize,
    /// The grand mean, the within-subgroup σ̂ and the overall standard deviation.
    pub center: f64,
    pub sigma_within: f64,
    pub sigma_overall: f64,
    pub limit_low: Option<f64>,
    pub limit_high: Option<f64>,
    pub cpk: Option<f64>,
    pub ppk: Option<f64>,
    /// By subgroup start, then bench.
    pub points: Vec<Point>,
    pub drifts: Vec<Drift>,
    /// Each bench's mean less the line's, in units of the quantity.
    pub bench_offsets: BTreeMap<String, f64>,
}

/// `c4(n)`: the mean of a normal sample's standard deviation over σ, for `n` values.
pub fn c4(n: usize) -> f64 {
    if n < 2 {
        return 1.0;
    }
    let n = n as f64;
    (2.0 / (n - 1.0)).sqrt() * (libm::lgamma(n / 2.0) - libm::lgamma((n - 1.0) / 2.0)).exp()
}

/// The process capability of `center ± 3σ` against a product's limits (one-sided with one).
pub fn capability(center: f64, sigma: f64, low: Option<f64>, high: Option<f64>) -> Option<f64> {
    if !(sigma > 0.0 && sigma.is_finite()) {
        return None;
    }
    let up = high.map(|h| (h - center) / (3.0 * sigma));
    let down = low.map(|l| (center - l) / (3.0 * sigma));
    match (up, down) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

struct Group {
    key: String,
    start_ms: i64,
    bench: String,
    values: Vec<f64>,
}

/// Subgroups with fewer values than this do not enter the pooled spread (their `s` is 0).
const MIN_FOR_SPREAD: usize = 2;
/// The EWMA's weight of the newest subgroup, and its limit in σ of the EWMA (an in-control run
/// of about 500 subgroups between false alarms; a sustained shift of 1 σ of the subgroup mean
/// found in about 10).
const EWMA_LAMBDA: f64 = 0.2;
const EWMA_L: f64 = 3.0;
/// A bench needs this many subgroups to be judged for drift.
pub const MIN_SUBGROUPS_FOR_DRIFT: usize = 8;

/// The chart of one quantity from its samples (non-finite values are left out), with the
/// product's limits. `None` when there are no values.
pub fn chart(quantity: &str, unit: &str, samples: &[Sample], low: Option<f64>, high: Option<f64>) -> Option<Chart> {
    let mut finite: Vec<f64> = samples.iter().map(|s| s.value).filter(|v| v.is_finite()).collect();
    let (keep_lo, keep_hi) = robust_window(&mut finite);
    let mut outliers = 0;
    let mut groups: BTreeMap<(i64, String, String), Group> = BTreeMap::new();
    for s in samples.iter().filter(|s| s.value.is_finite()) {
        if s.value < keep_lo || s.value > keep_hi {
            outliers += 1;
            continue;
        }
        groups
            .entry((s.start_ms, s.key.clone(), s.bench.clone()))
            .or_insert_with(|| Group {
                key: s.key.clone(),
                start_ms: s.start_ms,
                bench: s.bench.clone(),
                values: Vec::new(),
            })
            .values
            .push(s.value);
    }
    let all: Vec<f64> = groups.values().flat_map(|g| g.values.iter().copied()).collect();
    if all.is_empty() {
        return None;
    }
    let count = all.len() as f64;
    let center = all.iter().sum::<f64>() / count;
    let sigma_overall = if all.len() > 1 {
        (all.iter().map(|v| (v - center).powi(2)).sum::<f64>() / (count - 1.0)).sqrt()
    } else {
        0.0
    };
    let stats = |g: &Group| {
        let n = g.values.len();
        let mean = g.values.iter().sum::<f64>() / n as f64;
        let ss = g.values.iter().map(|v| (v - mean).powi(2)).sum::<f64>();
        let (lo, hi) = g.values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
        (n, mean, ss, hi - lo)
    };
    let (mut ss_sum, mut dof) = (0.0, 0usize);
    for g in groups.values().filter(|g| g.values.len() >= MIN_FOR_SPREAD) {
        let (n, _, ss, _) = stats(g);
        ss_sum += ss;
        dof += n - 1;
    }
    // Without any subgroup of two, the overall spread stands in.
    let sigma_within = if dof > 0 { (ss_sum / dof as f64).sqrt() / c4(dof + 1) } else { sigma_overall };
    let points: Vec<Point> = groups
        .values()
        .map(|g| {
            let (n, mean, ss, range) = stats(g);
            let sd = if n > 1 { (ss / (n as f64 - 1.0)).sqrt() } else { 0.0 };
            let half = 3.0 * sigma_within / (n as f64).sqrt();
            let c = c4(n);
            let spread = 3.0 * (1.0 - c * c).max(0.0).sqrt();
            let (sd_center, sd_lcl, sd_ucl) =
                (c * sigma_within, (sigma_within * (c - spread)).max(0.0), sigma_within * (c + spread));
            let mean_out = (mean - center).abs() > half && sigma_within > 0.0;
            let sd_out = n >= MIN_FOR_SPREAD && sigma_within > 0.0 && (sd > sd_ucl || sd < sd_lcl);
            Point {
                key: g.key.clone(),
                start_ms: g.start_ms,
                bench: g.bench.clone(),
                n,
                mean,
                range,
                sd,
                mean_lcl: center - half,
                mean_ucl: center + half,
                sd_center,
                sd_lcl,
                sd_ucl,
                out_of_control: mean_out || sd_out,
            }
        })
        .collect();
    let mut by_bench: BTreeMap<&str, Vec<&Point>> = BTreeMap::new();
    for p in &points {
        by_bench.entry(&p.bench).or_default().push(p);
    }
    let mut drifts = Vec::new();
    let mut bench_offsets = BTreeMap::new();
    for (bench, pts) in &by_bench {
        let (sum, n) = pts.iter().fold((0.0, 0usize), |(s, k), p| (s + p.mean * p.n as f64, k + p.n));
        bench_offsets.insert(bench.to_string(), sum / n.max(1) as f64 - center);
        drifts.extend(drift(bench, pts, sigma_within, low, high));
    }
    Some(Chart {
        quantity: quantity.to_string(),
        unit: unit.to_string(),
        values: all.len(),
        outliers,
        center,
        sigma_within,
        sigma_overall,
        limit_low: low,
        limit_high: high,
        cpk: capability(center, sigma_within, low, high),
        ppk: capability(center, sigma_overall, low, high),
        points,
        drifts,
        bench_offsets,
    })
}

/// Robust σ from the median absolute deviation: how far from the median a value may lie and
/// still be the process's.
const OUTLIER_ROBUST_SIGMA: f64 = 6.0;

/// The median of `values` (sorted in place; the mean of the middle two when even; NaN when empty).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// The window of values kept: the median ± 6 robust σ (everything when the MAD is 0).
fn robust_window(values: &mut [f64]) -> (f64, f64) {
    if values.len() < 3 {
        return (f64::NEG_INFINITY, f64::INFINITY);
    }
    let m = median(values);
    let mut dev: Vec<f64> = values.iter().map(|v| (v - m).abs()).collect();
    let mad = median(&mut dev);
    if mad > 0.0 {
        let half = OUTLIER_ROBUST_SIGMA * 1.4826 * mad;
        (m - half, m + half)
    } else {
        (f64::NEG_INFINITY, f64::INFINITY)
    }
}

/// The run rules on one bench's latest subgroups (in time order) against its baseline.
fn drift(bench: &str, pts: &[&Point], sigma: f64, low: Option<f64>, high: Option<f64>) -> Option<Drift> {
    if pts.len() < MIN_SUBGROUPS_FOR_DRIFT || sigma.is_nan() || sigma <= 0.0 {
        return None;
    }
    let base = &pts[..pts.len() / 2];
    let (sum, n_base) = base.iter().fold((0.0, 0usize), |(s, k), p| (s + p.mean * p.n as f64, k + p.n));
    let n_base = n_base.max(1) as f64;
    let baseline = sum / n_base;
    // Each mean in σ of its own size from the baseline. The baseline is itself estimated (its
    // error, σ/√n_base, is common to every z): the limits widen by it, else a bench with a short
    // baseline would be flagged for its baseline's error.
    let z: Vec<f64> = pts.iter().map(|p| (p.mean - baseline) / (sigma / (p.n as f64).sqrt())).collect();
    let latest = pts[pts.len() - 1];
    let zl = z[z.len() - 1];
    let jump_limit = 3.0 * (1.0 + latest.n as f64 / n_base).sqrt();
    // The EWMA of the z-scores, from the start of the period, its weights, and its limit at the
    // latest: its own variance, λ/(2−λ)·(1−(1−λ)^2t), and the baseline's, (Σ wᵢ√nᵢ)²/n_base.
    let (mut ewma, mut weighted_root_n) = (0.0, 0.0);
    for (p, v) in pts.iter().zip(&z) {
        ewma = EWMA_LAMBDA * v + (1.0 - EWMA_LAMBDA) * ewma;
        weighted_root_n = EWMA_LAMBDA * (p.n as f64).sqrt() + (1.0 - EWMA_LAMBDA) * weighted_root_n;
    }
    let t = z.len() as i32;
    let own = EWMA_LAMBDA / (2.0 - EWMA_LAMBDA) * (1.0 - (1.0 - EWMA_LAMBDA).powi(2 * t));
    let ewma_limit = EWMA_L * (own + weighted_root_n * weighted_root_n / n_base).sqrt();
    let (rule, up) = if zl.abs() > jump_limit {
        (
            format!(
                "its latest subgroup's mean is {:.1} σ from the bench's baseline (beyond its limit of {jump_limit:.1} σ)",
                zl.abs()
            ),
            zl > 0.0,
        )
    } else if ewma.abs() > ewma_limit {
        let text = format!(
            "its moving average (EWMA, λ = {EWMA_LAMBDA}) is {:.1} σ from the bench's baseline, beyond its limit of {:.1} σ: a sustained shift",
            ewma.abs(),
            ewma_limit
        );
        (text, ewma > 0.0)
    } else {
        return None;
    };
    let toward_limit = if up { high } else { low };
    Some(Drift {
        bench: bench.to_string(),
        rule,
        key: latest.key.clone(),
        start_ms: latest.start_ms,
        baseline,
        latest: latest.mean,
        toward_limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    #[test]
    fn c4_matches_its_closed_forms() {
        // c4(2) = √(2/π); c4(3) = √π / 2; c4 → 1 − 1/(4n) − 7/(32n²) for large n.
        assert!((c4(2) - (2.0 / std::f64::consts::PI).sqrt()).abs() < 1e-12);
        assert!((c4(3) - std::f64::consts::PI.sqrt() / 2.0).abs() < 1e-12);
        assert!((c4(400) - (1.0 - 1.0 / 1600.0 - 7.0 / (32.0 * 400.0 * 400.0))).abs() < 1e-8);
    }

    #[test]
    fn capability_is_the_nearer_limit_in_three_sigma() {
        assert_eq!(capability(0.0, 1.0, Some(-3.0), Some(6.0)), Some(1.0));
        assert_eq!(capability(0.0, 1.0, None, Some(4.5)), Some(1.5));
        assert_eq!(capability(0.0, 1.0, None, None), None);
        assert_eq!(capability(0.0, 0.0, Some(-1.0), Some(1.0)), None);
    }

    fn samples(benches: &[(&str, f64, f64)], hours: usize, per: usize, seed: u64) -> Vec<Sample> {
        // (bench, mean, drift per hour over the second half)
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let noise = Normal::new(0.0, 1.0).expect("normal");
        let mut out = Vec::new();
        for h in 0..hours {
            for (bench, mean, slope) in benches {
                let shift = if h >= hours / 2 { slope * (h - hours / 2 + 1) as f64 } else { 0.0 };
                for _ in 0..per {
                    out.push(Sample {
                        key: format!("h{h:02}"),
                        start_ms: h as i64 * 3_600_000,
                        bench: bench.to_string(),
                        value: mean + shift + noise.sample(&mut rng),
                    });
                }
            }
        }
        out
    }

    #[test]
    fn a_stable_line_gives_its_sigma_and_capability_and_no_drift() {
        // σ = 1 within every subgroup, benches offset by 0.3: σ̂ within 5 %, Cpk near
        // (6 − 0.1) / 3 for limits ±6 around 0.
        for seed in 0..8 {
            let s = samples(&[("a", -0.1, 0.0), ("b", 0.2, 0.0), ("c", 0.0, 0.0)], 24, 20, seed);
            let c = chart("gain_db", "dB", &s, Some(-6.0), Some(6.0)).expect("chart");
            assert!((c.sigma_within - 1.0).abs() < 0.05, "seed {seed}: σ̂ {}", c.sigma_within);
            assert!(c.center.abs() < 0.15, "seed {seed}: centre {}", c.center);
            let cpk = c.cpk.expect("cpk");
            assert!((cpk - (6.0 - c.center.abs()) / 3.0).abs() < 0.12, "seed {seed}: Cpk {cpk}");
            assert!(c.ppk.expect("ppk") <= cpk + 0.02, "a line with bench offsets does worse than it could");
            assert!(c.drifts.is_empty(), "seed {seed}: {:?}", c.drifts);
            assert_eq!(c.points.len(), 72);
            // Each bench mean of 480 values: σ 0.046, their difference 0.065.
            assert!((c.bench_offsets["b"] - c.bench_offsets["a"] - 0.3).abs() < 0.2);
        }
    }

    #[test]
    fn a_bench_that_drifts_is_flagged_toward_its_limit_and_the_others_are_not() {
        // Bench b rises 0.15 σ an hour over the second half of a day: 1.8 σ at the end, of single
        // values; its subgroup means (20 values) are far outside.
        for seed in 0..8 {
            let s = samples(&[("a", 0.0, 0.0), ("b", 0.0, 0.15), ("c", 0.0, 0.0)], 24, 20, seed);
            let c = chart("thd_percent", "%", &s, None, Some(5.0)).expect("chart");
            let benches: Vec<&str> = c.drifts.iter().map(|d| d.bench.as_str()).collect();
            assert_eq!(benches, ["b"], "seed {seed}: {:?}", c.drifts);
            assert_eq!(c.drifts[0].toward_limit, Some(5.0));
            assert!(c.drifts[0].latest > c.drifts[0].baseline + 1.0);
            assert!(c.points.iter().any(|p| p.bench == "b" && p.out_of_control));
        }
        // Rates over 200 lines of 3 benches, 24 hours of 20 units: a step of k σ of the subgroup
        // mean on bench a over the latest 8 hours, the others stable. A 3 σ step is found on
        // nearly every line; a stable bench is flagged in about 1 view in 200 (allowed: 2 %).
        let rates = |k: f64| {
            let (mut found, mut false_alarms) = (0, 0);
            for seed in 100..300 {
                let s = samples(&[("a", 0.0, 0.0), ("b", 0.0, 0.0), ("c", 0.0, 0.0)], 24, 20, seed);
                let stepped: Vec<Sample> = s
                    .into_iter()
                    .map(|mut x| {
                        if x.bench == "a" && x.start_ms >= 16 * 3_600_000 {
                            x.value -= k / 20f64.sqrt();
                        }
                        x
                    })
                    .collect();
                let c = chart("gain_db", "dB", &stepped, Some(-6.0), Some(6.0)).expect("chart");
                if let Some(d) = c.drifts.iter().find(|d| d.bench == "a") {
                    found += 1;
                    assert_eq!(d.toward_limit, Some(-6.0));
                }
                false_alarms += c.drifts.iter().filter(|d| d.bench != "a").count();
            }
            eprintln!("a {k} σ step found on {found} of 200 lines; {false_alarms} false alarms in 400 stable benches");
            (found, false_alarms)
        };
        let (found, false_alarms) = rates(3.0);
        assert!(found >= 190, "a 3 σ step found on {found} of 200 lines");
        assert!(false_alarms <= 8, "{false_alarms} false alarms in 400 stable benches");
        let (found, _) = rates(2.0);
        assert!(found >= 120, "a 2 σ step found on {found} of 200 lines");
    }

    #[test]
    fn gross_outliers_are_left_out_and_counted_and_the_sigma_is_the_process() {
        let mut s = samples(&[("a", 0.0, 0.0), ("b", 0.0, 0.0)], 12, 20, 5);
        // Three dead ears at −60.
        for k in [3, 50, 200] {
            s[k].value = -60.0;
        }
        let c = chart("playback_gain_db", "dB", &s, Some(-6.0), Some(6.0)).expect("chart");
        assert_eq!((c.outliers, c.values), (3, 477));
        assert!((c.sigma_within - 1.0).abs() < 0.08, "σ̂ {}", c.sigma_within);
        // A value 4 σ out is the process's and stays.
        s[7].value = 4.0;
        assert_eq!(chart("q", "dB", &s, None, None).expect("chart").outliers, 3);
    }

    #[test]
    fn few_subgroups_or_single_values_are_not_judged_and_nothing_panics() {
        let s = samples(&[("a", 0.0, 1.0)], 6, 5, 1);
        assert!(chart("q", "dB", &s, None, None).expect("chart").drifts.is_empty(), "6 subgroups are too few");
        let one = [Sample { key: "k".into(), start_ms: 0, bench: "a".into(), value: 2.0 }];
        let c = chart("q", "dB", &one, Some(0.0), Some(4.0)).expect("chart");
        assert_eq!((c.center, c.sigma_within, c.cpk), (2.0, 0.0, None));
        assert!(chart("q", "dB", &[], None, None).is_none());
        let nan = [Sample { key: "k".into(), start_ms: 0, bench: "a".into(), value: f64::NAN }];
        assert!(chart("q", "dB", &nan, None, None).is_none());
    }
}
