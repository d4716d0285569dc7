//! Writing units to the results database and reading them back: a unit's history, exports for
//! lab systems, and the numbers of a summary (yield, a Pareto of fault codes, the spread of each
//! quantity against its limits), per bench.

use super::db::{Database, DbError, Param, Tx, Value};
use super::record::{FaultRecord, MeasurementRecord, UnitRecord};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Rows per multi-row INSERT.
const ROWS_PER_INSERT: usize = 200;

/// `INSERT … VALUES (…), (…)` for `rows` rows of `columns` placeholders.
fn values_sql(head: &str, columns: usize, rows: usize) -> String {
    let one = format!("({})", vec!["?"; columns].join(", "));
    format!("{head} VALUES {}", vec![one; rows].join(", "))
}

fn insert_in(tx: &mut Tx<'_>, u: &UnitRecord) -> Result<i64, DbError> {
    let rows = tx.query(
        "INSERT INTO unit (serial, model, rig, bench, operator, batch, tested_at_ms, jackbench_version, verdict, capture_set, repeats, \
         limits_file, calibrated, bench_calibration, bench_calibrated, bench_s, elapsed_s) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         RETURNING id",
        &[
            Param::Text(u.serial.clone()),
            Param::Text(u.model.clone()),
            Param::Text(u.rig.clone()),
            Param::Text(u.bench.clone()),
            Param::Text(u.operator.clone()),
            Param::Text(u.batch.clone()),
            Param::Int(u.tested_at_ms),
            Param::Text(u.jackbench_version.clone()),
            Param::Text(u.verdict.name().into()),
            Param::Text(u.capture_set.clone()),
            Param::Int(u.repeats),
            Param::Text(u.limits_file.clone()),
            Param::OptText(u.calibrated.clone()),
            Param::OptText(u.bench_calibration.clone()),
            Param::OptText(u.bench_calibrated.clone()),
            Param::Real(u.bench_s),
            Param::Real(u.elapsed_s),
        ],
    )?;
    let id = rows.first().and_then(|r| r.first()).and_then(Value::int).unwrap_or(0);
    for chunk in u.faults.chunks(ROWS_PER_INSERT) {
        let sql = values_sql(
            "INSERT INTO fault (unit_id, rank, component, code, confidence, evidence, remedy)",
            7,
            chunk.len(),
        );
        let params: Vec<Param> = chunk
            .iter()
            .flat_map(|f| {
                [
                    Param::Int(id),
                    Param::Int(f.rank),
                    Param::Text(f.component.clone()),
                    Param::Text(f.code.clone()),
                    Param::Real(f.confidence),
                    Param::Text(f.evidence.clone()),
                    Param::Text(f.remedy.clone()),
                ]
            })
            .collect();
        tx.execute(&sql, &params)?;
    }
    for chunk in u.measurements.chunks(ROWS_PER_INSERT) {
        let sql = values_sql(
            "INSERT INTO measurement (unit_id, name, quantity, value, unit, limit_low, limit_high, pass)",
            8,
            chunk.len(),
        );
        let params: Vec<Param> = chunk
            .iter()
            .flat_map(|m| {
                [
                    Param::Int(id),
                    Param::Text(m.name.clone()),
                    Param::Text(quantity(&m.name).to_string()),
                    Param::Real(Some(m.value)),
                    Param::Text(m.unit.clone()),
                    Param::Real(m.limit_low),
                    Param::Real(m.limit_high),
                    Param::Int(i64::from(m.pass)),
                ]
            })
            .collect();
        tx.execute(&sql, &params)?;
    }
    Ok(id)
}

/// The quantity of a measurement's name (`front-jack.thd_percent` → `thd_percent`).
pub fn quantity(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

/// Stores one unit, its faults and measurements, in one transaction: all or nothing. Its id.
pub fn insert_unit(db: &mut Database, u: &UnitRecord) -> Result<i64, DbError> {
    db.transaction(|tx| insert_in(tx, u))
}

/// Stores many units in one transaction (imports, benchmarks).
pub fn insert_units(db: &mut Database, units: &[UnitRecord]) -> Result<(), DbError> {
    db.transaction(|tx| {
        for u in units {
            insert_in(tx, u)?;
        }
        Ok(())
    })
}

/// The serials a batch has stored.
pub fn serials_in_batch(db: &mut Database, batch: &str) -> Result<HashSet<String>, DbError> {
    let rows = db.query("SELECT serial FROM unit WHERE batch = ?", &[Param::Text(batch.into())])?;
    Ok(rows.iter().filter_map(|r| r.first()).map(Value::text).collect())
}

/// A unit as stored.
#[derive(Debug, Clone, Serialize)]
pub struct StoredUnit {
    pub id: i64,
    pub serial: String,
    pub model: String,
    pub rig: String,
    pub bench: String,
    pub operator: String,
    pub batch: String,
    /// RFC 3339, UTC.
    pub tested_at: String,
    pub tested_at_ms: i64,
    pub jackbench_version: String,
    pub verdict: String,
    pub capture_set: String,
    /// Captures made again because room sound disturbed them.
    pub repeats: i64,
    /// The limits file the unit was judged against, and when those limits were calibrated.
    pub limits_file: String,
    pub calibrated: Option<String>,
    /// The bench calibration whose windows were in force, and its date.
    pub bench_calibration: Option<String>,
    pub bench_calibrated: Option<String>,
    /// The plan's bench time per unit and the wall clock it took, seconds.
    pub bench_s: Option<f64>,
    pub elapsed_s: Option<f64>,
    pub faults: Vec<FaultRecord>,
}

/// Which units: tested since a time (and before one), of a model.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub model: Option<String>,
}

impl Filter {
    /// `WHERE …` over `unit` aliased `u`, and its parameters.
    fn clause(&self) -> (String, Vec<Param>) {
        let mut terms = vec!["1 = 1".to_string()];
        let mut params = Vec::new();
        if let Some(s) = self.since_ms {
            terms.push("u.tested_at_ms >= ?".into());
            params.push(Param::Int(s));
        }
        if let Some(u) = self.until_ms {
            terms.push("u.tested_at_ms < ?".into());
            params.push(Param::Int(u));
        }
        if let Some(m) = &self.model {
            terms.push("u.model = ?".into());
            params.push(Param::Text(m.clone()));
        }
        (format!("WHERE {}", terms.join(" AND ")), params)
    }
}

/// A Unix time in ms as RFC 3339 (UTC, seconds).
pub fn rfc3339(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(t).to_string()
}

const UNIT_COLUMNS: &str = "u.id, u.serial, u.model, u.rig, u.bench, u.operator, u.batch, u.tested_at_ms, \
                            u.jackbench_version, u.verdict, u.capture_set, u.repeats, u.limits_file, u.calibrated, \
                            u.bench_calibration, u.bench_calibrated, u.bench_s, u.elapsed_s";

/// Units from `rows` (of [`UNIT_COLUMNS`]), with the faults `fault_where` selects (a condition
/// on `fault f JOIN unit u`) attached.
fn units_from(
    db: &mut Database,
    rows: Vec<Vec<Value>>,
    fault_where: &str,
    params: &[Param],
) -> Result<Vec<StoredUnit>, DbError> {
    let mut units: Vec<StoredUnit> = rows
        .iter()
        .map(|r| {
            let t = |i: usize| r.get(i).map(Value::text).unwrap_or_default();
            let opt = |i: usize| r.get(i).filter(|v| **v != Value::Null).map(Value::text);
            let ms = r.get(7).and_then(Value::int).unwrap_or(0);
            StoredUnit {
                id: r.first().and_then(Value::int).unwrap_or(0),
                serial: t(1),
                model: t(2),
                rig: t(3),
                bench: t(4),
                operator: t(5),
                batch: t(6),
                tested_at: rfc3339(ms),
                tested_at_ms: ms,
                jackbench_version: t(8),
                verdict: t(9),
                capture_set: t(10),
                repeats: r.get(11).and_then(Value::int).unwrap_or(0),
                limits_file: t(12),
                calibrated: opt(13),
                bench_calibration: opt(14),
                bench_calibrated: opt(15),
                bench_s: r.get(16).and_then(Value::real),
                elapsed_s: r.get(17).and_then(Value::real),
                faults: Vec::new(),
            }
        })
        .collect();
    if units.is_empty() {
        return Ok(units);
    }
    let rows = db.query(
        &format!(
            "SELECT f.unit_id, f.rank, f.component, f.code, f.confidence, f.evidence, f.remedy              FROM fault f JOIN unit u ON u.id = f.unit_id {fault_where} ORDER BY f.unit_id, f.rank"
        ),
        params,
    )?;
    let mut by_unit: HashMap<i64, Vec<FaultRecord>> = HashMap::new();
    for r in rows {
        let t = |i: usize| r.get(i).map(Value::text).unwrap_or_default();
        by_unit.entry(r.first().and_then(Value::int).unwrap_or(0)).or_default().push(FaultRecord {
            rank: r.get(1).and_then(Value::int).unwrap_or(0),
            component: t(2),
            code: t(3),
            confidence: r.get(4).and_then(Value::real),
            evidence: t(5),
            remedy: t(6),
        });
    }
    for u in &mut units {
        u.faults = by_unit.remove(&u.id).unwrap_or_default();
    }
    Ok(units)
}

/// Every test of a unit, newest first.
pub fn history(db: &mut Database, serial: &str) -> Result<Vec<StoredUnit>, DbError> {
    let params = [Param::Text(serial.into())];
    let rows = db.query(
        &format!("SELECT {UNIT_COLUMNS} FROM unit u WHERE u.serial = ? ORDER BY u.tested_at_ms DESC, u.id DESC"),
        &params,
    )?;
    units_from(db, rows, "WHERE u.serial = ?", &params)
}

/// One page of a serial's tests, newest first (`limit` from `offset`), and how many tests the
/// serial has in all. Bounded however often a unit (a golden one, say) was tested.
pub fn history_page(
    db: &mut Database,
    serial: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<StoredUnit>, i64), DbError> {
    let total = db.query("SELECT COUNT(*) FROM unit WHERE serial = ?", &[Param::Text(serial.into())])?;
    let total = total.first().and_then(|r| r.first()).and_then(Value::int).unwrap_or(0);
    if offset >= total {
        return Ok((Vec::new(), total));
    }
    let rows = db.query(
        &format!(
            "SELECT {UNIT_COLUMNS} FROM unit u WHERE u.serial = ? ORDER BY u.tested_at_ms DESC, u.id DESC LIMIT ? OFFSET ?"
        ),
        &[Param::Text(serial.into()), Param::Int(limit), Param::Int(offset)],
    )?;
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.first().and_then(Value::int)).collect();
    let (lo, hi) = (ids.iter().copied().min().unwrap_or(0), ids.iter().copied().max().unwrap_or(0));
    let params = [Param::Text(serial.into()), Param::Int(lo), Param::Int(hi)];
    let units = units_from(db, rows, "WHERE u.serial = ? AND u.id BETWEEN ? AND ?", &params)?;
    Ok((units, total))
}

/// A serial found by a search: how often it was tested, and its last test.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SerialHit {
    pub serial: String,
    pub tests: i64,
    /// RFC 3339, UTC.
    pub last_tested_at: String,
}

/// The serials that contain `text` (any case), by serial, at most `limit`.
pub fn serials_matching(db: &mut Database, text: &str, limit: i64) -> Result<Vec<SerialHit>, DbError> {
    let pattern = format!("%{}%", text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    let rows = db.query(
        "SELECT serial, COUNT(*), MAX(tested_at_ms) FROM unit WHERE LOWER(serial) LIKE ? ESCAPE '\\' \
         GROUP BY serial ORDER BY serial LIMIT ?",
        &[Param::Text(pattern), Param::Int(limit)],
    )?;
    Ok(rows
        .iter()
        .map(|r| SerialHit {
            serial: r[0].text(),
            tests: r[1].int().unwrap_or(0),
            last_tested_at: rfc3339(r[2].int().unwrap_or(0)),
        })
        .collect())
}

/// The units a filter selects, oldest first, with their faults.
pub fn units(db: &mut Database, filter: &Filter) -> Result<Vec<StoredUnit>, DbError> {
    let (clause, params) = filter.clause();
    let rows =
        db.query(&format!("SELECT {UNIT_COLUMNS} FROM unit u {clause} ORDER BY u.tested_at_ms, u.id"), &params)?;
    units_from(db, rows, &clause, &params)
}

/// One measurement as exported: the unit it belongs to, the value and its limits.
#[derive(Debug, Clone, Serialize)]
pub struct StoredMeasurement {
    pub unit_id: i64,
    pub serial: String,
    pub model: String,
    pub bench: String,
    pub tested_at: String,
    pub verdict: String,
    pub name: String,
    pub value: f64,
    pub unit: String,
    pub limit_low: Option<f64>,
    pub limit_high: Option<f64>,
    pub pass: bool,
}

/// The measurements of the units a filter selects.
pub fn measurements(db: &mut Database, filter: &Filter) -> Result<Vec<StoredMeasurement>, DbError> {
    let (clause, params) = filter.clause();
    let rows = db.query(
        &format!(
            "SELECT u.id, u.serial, u.model, u.bench, u.tested_at_ms, u.verdict, m.name, m.value, m.unit, \
             m.limit_low, m.limit_high, m.pass FROM measurement m JOIN unit u ON u.id = m.unit_id {clause} \
             ORDER BY u.tested_at_ms, u.id, m.name"
        ),
        &params,
    )?;
    Ok(rows
        .iter()
        .map(|r| {
            let t = |i: usize| r.get(i).map(Value::text).unwrap_or_default();
            StoredMeasurement {
                unit_id: r.first().and_then(Value::int).unwrap_or(0),
                serial: t(1),
                model: t(2),
                bench: t(3),
                tested_at: rfc3339(r.get(4).and_then(Value::int).unwrap_or(0)),
                verdict: t(5),
                name: t(6),
                value: r.get(7).and_then(Value::real).unwrap_or(f64::NAN),
                unit: t(8),
                limit_low: r.get(9).and_then(Value::real),
                limit_high: r.get(10).and_then(Value::real),
                pass: r.get(11).and_then(Value::int) == Some(1),
            }
        })
        .collect())
}

/// Units and passes of one bench.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BenchYield {
    pub bench: String,
    pub units: i64,
    pub passed: i64,
    /// Mean plan bench time per unit and mean wall clock per unit, seconds (units that have it).
    pub bench_s: Option<f64>,
    pub elapsed_s: Option<f64>,
}

impl BenchYield {
    /// Units an hour of bench time: 3600 s over the mean bench time per unit.
    pub fn units_per_hour(&self) -> Option<f64> {
        self.bench_s.filter(|s| *s > 0.0).map(|s| 3600.0 / s)
    }

    /// Passed over tested, %.
    pub fn yield_percent(&self) -> f64 {
        if self.units == 0 {
            0.0
        } else {
            100.0 * self.passed as f64 / self.units as f64
        }
    }
}

/// How many failed units a fault code was found on.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ParetoEntry {
    pub code: String,
    pub units: i64,
    /// Of all the failed units, %.
    pub percent: f64,
    pub cumulative_percent: f64,
}

/// The spread of one quantity on one bench, against its limits.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Spread {
    pub quantity: String,
    pub bench: String,
    pub unit: String,
    pub count: i64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub sd: f64,
    pub limit_low: Option<f64>,
    pub limit_high: Option<f64>,
    /// Measurements outside their limits.
    pub outside: i64,
    /// Units with a measurement of the quantity (a unit whose fault hides it, a dead microphone's
    /// gain say, has none).
    pub units: i64,
    /// Units with at least one measurement of the quantity outside its limits.
    pub units_outside: i64,
}

/// A histogram of one quantity, one series per bench: `counts[bench][bin]`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Histogram {
    pub quantity: String,
    pub unit: String,
    pub lo: f64,
    pub bin_width: f64,
    pub counts: BTreeMap<String, Vec<i64>>,
    pub limit_low: Option<f64>,
    pub limit_high: Option<f64>,
}

/// The bins of a histogram.
pub const BINS: usize = 24;

/// What `jackbench summary` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub units: i64,
    pub passed: i64,
    pub first_tested_at: Option<String>,
    pub last_tested_at: Option<String>,
    pub benches: Vec<BenchYield>,
    pub pareto: Vec<ParetoEntry>,
    pub spreads: Vec<Spread>,
    pub histograms: Vec<Histogram>,
}

impl Summary {
    pub fn yield_percent(&self) -> f64 {
        BenchYield { bench: String::new(), units: self.units, passed: self.passed, bench_s: None, elapsed_s: None }
            .yield_percent()
    }
}

/// The values of one quantity on one bench, gathered by [`summary`].
struct Group {
    unit: String,
    values: Vec<f64>,
    min: f64,
    max: f64,
    outside: i64,
    low: Option<f64>,
    high: Option<f64>,
    units: std::collections::BTreeSet<i64>,
    units_outside: std::collections::BTreeSet<i64>,
}

impl Group {
    fn new(unit: &str) -> Group {
        Group {
            unit: unit.to_string(),
            values: Vec::new(),
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            outside: 0,
            low: None,
            high: None,
            units: Default::default(),
            units_outside: Default::default(),
        }
    }

    fn add(&mut self, unit: i64, v: f64, pass: bool, low: Option<f64>, high: Option<f64>) {
        self.units.insert(unit);
        if !pass {
            self.units_outside.insert(unit);
        }
        self.values.push(v);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.outside += i64::from(!pass);
        self.low = match (self.low, low) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.high = match (self.high, high) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    fn spread(&self, quantity: &str, bench: &str) -> Spread {
        let n = self.values.len().max(1) as f64;
        let mean = self.values.iter().sum::<f64>() / n;
        let sd = (self.values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        Spread {
            quantity: quantity.to_string(),
            bench: bench.to_string(),
            unit: self.unit.clone(),
            count: self.values.len() as i64,
            min: self.min,
            max: self.max,
            mean,
            sd,
            limit_low: self.low,
            limit_high: self.high,
            outside: self.outside,
            units: self.units.len() as i64,
            units_outside: self.units_outside.len() as i64,
        }
    }
}

/// The fault codes of the units `clause` selects, by how many units each was found on, as shares
/// of the `failed` units.
fn pareto(db: &mut Database, clause: &str, params: &[Param], failed: i64) -> Result<Vec<ParetoEntry>, DbError> {
    let rows = db.query(
        &format!(
            "SELECT f.code, COUNT(DISTINCT f.unit_id) FROM fault f JOIN unit u ON u.id = f.unit_id {clause} \
             GROUP BY f.code ORDER BY 2 DESC, 1"
        ),
        params,
    )?;
    let failed = failed.max(1) as f64;
    let mut cumulative = 0.0;
    Ok(rows
        .iter()
        .map(|r| {
            let n = r.get(1).and_then(Value::int).unwrap_or(0);
            let percent = 100.0 * n as f64 / failed;
            cumulative += percent;
            ParetoEntry {
                code: r.first().map(Value::text).unwrap_or_default(),
                units: n,
                percent,
                cumulative_percent: cumulative,
            }
        })
        .collect())
}

/// Yield, the Pareto of fault codes and the spread of every quantity, per bench.
pub fn summary(db: &mut Database, filter: &Filter) -> Result<Summary, DbError> {
    let (clause, params) = filter.clause();
    let rows = db.query(
        &format!(
            "SELECT u.bench, COUNT(*), COUNT(*) FILTER (WHERE u.verdict = 'pass'), MIN(u.tested_at_ms), \
             MAX(u.tested_at_ms), AVG(u.bench_s), AVG(u.elapsed_s) FROM unit u {clause} GROUP BY u.bench ORDER BY u.bench"
        ),
        &params,
    )?;
    let benches: Vec<BenchYield> = rows
        .iter()
        .map(|r| BenchYield {
            bench: r.first().map(Value::text).unwrap_or_default(),
            units: r.get(1).and_then(Value::int).unwrap_or(0),
            passed: r.get(2).and_then(Value::int).unwrap_or(0),
            bench_s: r.get(5).and_then(Value::real),
            elapsed_s: r.get(6).and_then(Value::real),
        })
        .collect();
    let first = rows.iter().filter_map(|r| r.get(3).and_then(Value::int)).min();
    let last = rows.iter().filter_map(|r| r.get(4).and_then(Value::int)).max();
    let units: i64 = benches.iter().map(|b| b.units).sum();
    let passed: i64 = benches.iter().map(|b| b.passed).sum();

    let pareto = pareto(db, &clause, &params, units - passed)?;

    // One pass over the measurements: each (quantity, bench)'s values, kept to compute the
    // spread and the histograms exactly. (Grouping in SQL sorts every row; a join scan does not.)
    let mut groups: BTreeMap<String, BTreeMap<String, Group>> = BTreeMap::new();
    db.scan(
        &format!(
            "SELECT m.quantity, u.bench, m.value, m.pass, m.limit_low, m.limit_high, m.unit, u.id \
             FROM measurement m JOIN unit u ON u.id = m.unit_id {clause}"
        ),
        &params,
        &mut |row| {
            let (q, bench) = (row[0].text(), row[1].text());
            let by_bench = match groups.get_mut(q) {
                Some(b) => b,
                None => groups.entry(q.to_string()).or_default(),
            };
            let g = match by_bench.get_mut(bench) {
                Some(g) => g,
                None => by_bench.entry(bench.to_string()).or_insert_with(|| Group::new(row[6].text())),
            };
            let unit = row[7].int().unwrap_or(-1);
            g.add(unit, row[2].real().unwrap_or(f64::NAN), row[3].int() == Some(1), row[4].real(), row[5].real());
        },
    )?;
    let mut spreads = Vec::new();
    let mut histograms = Vec::new();
    for (q, by_bench) in &groups {
        for (bench, g) in by_bench {
            spreads.push(g.spread(q, bench));
        }
        let limit_low = by_bench.values().filter_map(|g| g.low).reduce(f64::min);
        let limit_high = by_bench.values().filter_map(|g| g.high).reduce(f64::max);
        let lo = by_bench.values().map(|g| g.min).chain(limit_low).fold(f64::INFINITY, f64::min);
        let hi = by_bench.values().map(|g| g.max).chain(limit_high).fold(f64::NEG_INFINITY, f64::max);
        if !(lo.is_finite() && hi.is_finite()) {
            continue;
        }
        let width = ((hi - lo) / BINS as f64).max(1e-9);
        let counts = by_bench
            .iter()
            .map(|(bench, g)| {
                let mut c = vec![0i64; BINS];
                for v in &g.values {
                    c[(((v - lo) / width).floor().max(0.0) as usize).min(BINS - 1)] += 1;
                }
                (bench.clone(), c)
            })
            .collect();
        histograms.push(Histogram {
            quantity: q.clone(),
            unit: by_bench.values().next().map(|g| g.unit.clone()).unwrap_or_default(),
            lo,
            bin_width: width,
            counts,
            limit_low,
            limit_high,
        });
    }
    Ok(Summary {
        units,
        passed,
        first_tested_at: first.map(rfc3339),
        last_tested_at: last.map(rfc3339),
        benches,
        pareto,
        spreads,
        histograms,
    })
}

/// The measurements of a unit by id (for its history in detail).
pub fn unit_measurements(db: &mut Database, id: i64) -> Result<Vec<MeasurementRecord>, DbError> {
    let rows = db.query(
        "SELECT name, value, unit, limit_low, limit_high, pass FROM measurement WHERE unit_id = ? ORDER BY name",
        &[Param::Int(id)],
    )?;
    Ok(rows
        .iter()
        .map(|r| MeasurementRecord {
            name: r.first().map(Value::text).unwrap_or_default(),
            value: r.get(1).and_then(Value::real).unwrap_or(f64::NAN),
            unit: r.get(2).map(Value::text).unwrap_or_default(),
            limit_low: r.get(3).and_then(Value::real),
            limit_high: r.get(4).and_then(Value::real),
            pass: r.get(5).and_then(Value::int) == Some(1),
        })
        .collect())
}

/// Units a batch has stored, and how many of them passed.
pub fn batch_yield(db: &mut Database, batch: &str) -> Result<(u64, u64), DbError> {
    let rows = db.query(
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE verdict = 'pass') FROM unit WHERE batch = ?",
        &[Param::Text(batch.into())],
    )?;
    let get = |i: usize| rows.first().and_then(|r| r.get(i)).and_then(Value::int).unwrap_or(0).max(0) as u64;
    Ok((get(0), get(1)))
}

/// One bench on the floor: its units since a time, and its last unit.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FloorBench {
    pub bench: String,
    pub units: i64,
    pub passed: i64,
    pub yield_percent: f64,
    /// Mean plan bench time per unit, seconds (units that have it).
    pub bench_s: Option<f64>,
    pub last_id: i64,
    pub last_serial: String,
    pub last_verdict: String,
    pub last_operator: String,
    pub last_model: String,
    /// RFC 3339, UTC.
    pub last_tested_at: String,
}

/// Every bench with a unit since `since_ms`, by name: bounded by the benches (one row each), read
/// through the time index.
pub fn floor(db: &mut Database, since_ms: i64) -> Result<Vec<FloorBench>, DbError> {
    let rows = db.query(
        "SELECT u.bench, COUNT(*), COUNT(*) FILTER (WHERE u.verdict = 'pass'), AVG(u.bench_s), MAX(u.id) \
         FROM unit u WHERE u.tested_at_ms >= ? GROUP BY u.bench ORDER BY u.bench",
        &[Param::Int(since_ms)],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let (units, passed, last_id) = (r[1].int().unwrap_or(0), r[2].int().unwrap_or(0), r[4].int().unwrap_or(0));
        let last = db.query(
            "SELECT serial, verdict, operator, model, tested_at_ms FROM unit WHERE id = ?",
            &[Param::Int(last_id)],
        )?;
        let last = last.first();
        let text = |k: usize| last.and_then(|l| l.get(k)).map(Value::text).unwrap_or_default();
        out.push(FloorBench {
            bench: r[0].text(),
            units,
            passed,
            yield_percent: if units > 0 { 100.0 * passed as f64 / units as f64 } else { 0.0 },
            bench_s: r[3].real(),
            last_id,
            last_serial: text(0),
            last_verdict: text(1),
            last_operator: text(2),
            last_model: text(3),
            last_tested_at: rfc3339(last.and_then(|l| l.get(4)).and_then(Value::int).unwrap_or(0)),
        });
    }
    Ok(out)
}

/// A unit as it lands: what the floor's live view needs.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Landed {
    pub id: i64,
    pub bench: String,
    pub serial: String,
    pub verdict: String,
}

/// The units stored after unit `after_id`, oldest first, at most `limit`.
pub fn landed_after(db: &mut Database, after_id: i64, limit: i64) -> Result<Vec<Landed>, DbError> {
    let rows = db.query(
        "SELECT id, bench, serial, verdict FROM unit WHERE id > ? ORDER BY id LIMIT ?",
        &[Param::Int(after_id), Param::Int(limit)],
    )?;
    Ok(rows
        .iter()
        .map(|r| Landed { id: r[0].int().unwrap_or(0), bench: r[1].text(), serial: r[2].text(), verdict: r[3].text() })
        .collect())
}

/// The newest unit's id (0 in an empty database).
pub fn last_unit_id(db: &mut Database) -> Result<i64, DbError> {
    let rows = db.query("SELECT MAX(id) FROM unit", &[])?;
    Ok(rows.first().and_then(|r| r.first()).and_then(Value::int).unwrap_or(0))
}

/// How the line's statistics group units into subgroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Subgroup {
    /// The hour a unit was tested in (UTC).
    Hour,
    /// The day (UTC).
    Day,
    /// The unit's batch.
    Batch,
}

impl Subgroup {
    /// The subgroup's key as SQL over `unit u` (a fixed expression: nothing from the request).
    fn sql(self) -> &'static str {
        match self {
            Subgroup::Hour => "CAST(u.tested_at_ms / 3600000 AS TEXT)",
            Subgroup::Day => "CAST(u.tested_at_ms / 86400000 AS TEXT)",
            Subgroup::Batch => "u.batch",
        }
    }
}

/// Which units the line's statistics read.
#[derive(Debug, Clone)]
pub struct LineQuery {
    pub model: Option<String>,
    pub since_ms: i64,
    pub until_ms: i64,
    pub by: Subgroup,
    /// The quantities whose values are read (`playback_gain_db`, …).
    pub quantities: Vec<String>,
    /// At most this many units, the newest: the period starts later when more lie in it.
    pub max_units: i64,
}

/// One subgroup's yield.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SubgroupYield {
    pub key: String,
    pub start_ms: i64,
    pub units: i64,
    pub passed: i64,
}

/// One quantity's values over the line, for its control chart.
#[derive(Debug, Clone)]
pub struct QuantityValues {
    pub quantity: String,
    pub unit: String,
    /// The product's limits: the narrowest window the units were judged against.
    pub limit_low: Option<f64>,
    pub limit_high: Option<f64>,
    pub samples: Vec<crate::lab::spc::Sample>,
}

/// What the line's statistics read: yield by subgroup, the fault Pareto, each quantity's values.
#[derive(Debug, Clone)]
pub struct LineData {
    pub since_ms: i64,
    pub until_ms: i64,
    /// The period was shortened to the newest `max_units` units.
    pub truncated: bool,
    pub units: i64,
    pub passed: i64,
    pub yields: Vec<SubgroupYield>,
    pub pareto: Vec<ParetoEntry>,
    pub quantities: Vec<QuantityValues>,
}

/// The models in the database, by name.
pub fn models(db: &mut Database) -> Result<Vec<String>, DbError> {
    let rows = db.query("SELECT DISTINCT model FROM unit ORDER BY model", &[])?;
    Ok(rows.iter().filter_map(|r| r.first()).map(Value::text).collect())
}

/// The line's units in a period (bounded to the newest `max_units`), read for its statistics.
pub fn line(db: &mut Database, q: &LineQuery) -> Result<LineData, DbError> {
    let filter =
        |since: i64| Filter { since_ms: Some(since), until_ms: Some(q.until_ms), model: q.model.clone() }.clause();
    // The newest max_units units: the period starts at the oldest of them.
    let (clause, mut params) = filter(q.since_ms);
    params.push(Param::Int(q.max_units.max(1) - 1));
    let nth = db.query(
        &format!("SELECT u.tested_at_ms FROM unit u {clause} ORDER BY u.tested_at_ms DESC LIMIT 1 OFFSET ?"),
        &params,
    )?;
    let oldest_kept = nth.first().and_then(|r| r.first()).and_then(Value::int);
    let truncated = oldest_kept.is_some_and(|t| t > q.since_ms);
    let since_ms = oldest_kept.filter(|_| truncated).unwrap_or(q.since_ms);
    let (clause, params) = filter(since_ms);
    let key = q.by.sql();

    let rows = db.query(
        &format!(
            "SELECT {key}, MIN(u.tested_at_ms), COUNT(*), COUNT(*) FILTER (WHERE u.verdict = 'pass') \
             FROM unit u {clause} GROUP BY 1 ORDER BY 2"
        ),
        &params,
    )?;
    let yields: Vec<SubgroupYield> = rows
        .iter()
        .map(|r| SubgroupYield {
            key: r[0].text(),
            start_ms: r[1].int().unwrap_or(0),
            units: r[2].int().unwrap_or(0),
            passed: r[3].int().unwrap_or(0),
        })
        .collect();
    let units: i64 = yields.iter().map(|y| y.units).sum();
    let passed: i64 = yields.iter().map(|y| y.passed).sum();

    let pareto = pareto(db, &clause, &params, units - passed)?;

    let mut quantities: BTreeMap<String, QuantityValues> = BTreeMap::new();
    if !q.quantities.is_empty() {
        let starts: HashMap<String, i64> = yields.iter().map(|y| (y.key.clone(), y.start_ms)).collect();
        let mut params = params.clone();
        let marks = vec!["?"; q.quantities.len()].join(", ");
        params.extend(q.quantities.iter().map(|n| Param::Text(n.clone())));
        db.scan(
            &format!(
                "SELECT {key}, u.bench, m.quantity, m.value, m.unit, m.limit_low, m.limit_high \
                 FROM measurement m JOIN unit u ON u.id = m.unit_id {clause} AND m.quantity IN ({marks})"
            ),
            &params,
            &mut |r| {
                let name = r[2].text();
                let entry = match quantities.get_mut(name) {
                    Some(e) => e,
                    None => quantities.entry(name.to_string()).or_insert_with(|| QuantityValues {
                        quantity: name.to_string(),
                        unit: r[4].text().to_string(),
                        limit_low: None,
                        limit_high: None,
                        samples: Vec::new(),
                    }),
                };
                // The narrowest window: a product's limits are what every unit must meet.
                if let Some(l) = r[5].real() {
                    entry.limit_low = Some(entry.limit_low.map_or(l, |x: f64| x.max(l)));
                }
                if let Some(h) = r[6].real() {
                    entry.limit_high = Some(entry.limit_high.map_or(h, |x: f64| x.min(h)));
                }
                let key = r[0].text();
                entry.samples.push(crate::lab::spc::Sample {
                    key: key.to_string(),
                    start_ms: starts.get(key).copied().unwrap_or(0),
                    bench: r[1].text().to_string(),
                    value: r[3].real().unwrap_or(f64::NAN),
                });
            },
        )?;
    }
    // In the order asked.
    let quantities = q.quantities.iter().filter_map(|n| quantities.remove(n)).collect();
    Ok(LineData { since_ms, until_ms: q.until_ms, truncated, units, passed, yields, pareto, quantities })
}
