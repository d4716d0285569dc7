//! The results database at lab scale: `history` of one serial and `summary` of everything, over
//! 100 000 stored units (40 000 serials, so many retests; 16 measurements and ~12 % faults each;
//! 4 benches; 2 models; one unit every 30 s, bench qa-3's gain drifting up over the last tenth).
//! `cargo bench --bench lab`. And what `jackbench serve` renders from them server-side (query and
//! page): the floor of a shift and of all 100 000 units, a unit's history, the line's statistics. The SQLite database is built once into
//! target/bench-lab/ and reused (v2: with the drift); PostgreSQL is measured too when JACKBENCH_TEST_PG names a server
//! (its database `jackbench_bench_v2` is built once, likewise).

use criterion::{criterion_group, criterion_main, Criterion};
use jackbench::diagnosis::Verdict;
use jackbench::lab::db::{Database, Value};
use jackbench::lab::record::{FaultRecord, MeasurementRecord, UnitRecord};
use jackbench::lab::serve::{self, View};
use jackbench::lab::store::{self, Filter};
use rand::{Rng, SeedableRng};
use std::time::Instant;

const UNITS: i64 = 100_000;
const SERIALS: u64 = 40_000;
/// A quantity, its window and its spread: (name, unit, low, high, mean, sd).
type Quantity = (&'static str, &'static str, Option<f64>, Option<f64>, f64, f64);

const QUANTITIES: [Quantity; 8] = [
    ("playback_gain_db", "dB", Some(1.0), Some(13.0), 7.0, 1.5),
    ("balance_db", "dB", Some(-3.0), Some(3.0), 0.0, 0.8),
    ("crosstalk_db", "dB", None, None, -52.0, 2.0),
    ("thd_percent", "%", None, Some(1.0), 0.3, 0.2),
    ("response_dev_db", "dB", None, Some(6.0), 0.5, 0.8),
    ("mic_gain_db", "dB", Some(-19.0), Some(-7.0), -13.0, 1.5),
    ("mic_noise_dbfs", "dBFS", Some(-88.0), Some(-76.0), -82.0, 1.2),
    ("mic_thd_percent", "%", None, Some(1.0), 0.1, 0.1),
];
const CODES: [&str; 6] = [
    "headset.channel_dead",
    "headset.distortion",
    "headset.imbalance",
    "headset.low_level",
    "headset.intermittent",
    "headset.response",
];

fn unit(i: i64, rng: &mut impl Rng) -> UnitRecord {
    let mut measurements = Vec::with_capacity(16);
    // Bench qa-3 drifts: its gain rises 2 dB over the last 10 000 units.
    let drift = if i % 4 == 3 && i > UNITS - 10_000 { (i - (UNITS - 10_000)) as f64 * 0.0002 } else { 0.0 };
    for port in ["front-jack", "rear-jack"] {
        for (q, unit, lo, hi, mean, sd) in QUANTITIES {
            let shift = if q == "playback_gain_db" { drift } else { 0.0 };
            let value =
                shift + mean + sd * (rng.random::<f64>() + rng.random::<f64>() + rng.random::<f64>() - 1.5) * 2.0;
            let pass = lo.is_none_or(|l| value >= l) && hi.is_none_or(|h| value <= h);
            measurements.push(MeasurementRecord {
                name: format!("{port}.{q}"),
                value,
                unit: unit.into(),
                limit_low: lo,
                limit_high: hi,
                pass,
            });
        }
    }
    let faulty = rng.random_bool(0.12);
    UnitRecord {
        serial: format!("HS-{:06}", rng.random_range(0..SERIALS)),
        model: if i % 3 == 0 { "hs-100".into() } else { "hs-200".into() },
        rig: "qa-bench".into(),
        bench: format!("qa-{}", i % 4),
        operator: "kim".into(),
        batch: format!("b{}", i / 500),
        tested_at_ms: 1_780_000_000_000 + 30_000 * i,
        jackbench_version: "0.1.0".into(),
        verdict: if faulty { Verdict::Fail } else { Verdict::Pass },
        capture_set: format!("reports/b{}/{i}", i / 500),
        repeats: 0,
        limits_file: "limits/hs-100.toml".into(),
        calibrated: Some("2026-11-30T08:00:00Z".into()),
        bench_calibration: Some("limits/bench/qa-bench.toml".into()),
        bench_calibrated: Some("2026-11-29T07:00:00Z".into()),
        bench_s: Some(2.88),
        elapsed_s: Some(0.3),
        faults: if faulty {
            vec![FaultRecord {
                rank: 1,
                component: "dut".into(),
                code: CODES[rng.random_range(0..CODES.len())].into(),
                confidence: Some(0.9),
                evidence: "a synthetic unit".into(),
                remedy: "replace the headset".into(),
            }]
        } else {
            vec![]
        },
        measurements,
    }
}

/// The database at `url` with 100 000 units in it (built when it has fewer).
fn filled(url: &str) -> Database {
    let mut db = Database::open(url).expect("the database opens");
    let have = db.query("SELECT COUNT(*) FROM unit", &[]).expect("count");
    if have.first().and_then(|r| r.first()).and_then(Value::int) == Some(UNITS) {
        return db;
    }
    let started = Instant::now();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for chunk in (0..UNITS).collect::<Vec<_>>().chunks(5_000) {
        let units: Vec<UnitRecord> = chunk.iter().map(|i| unit(*i, &mut rng)).collect();
        store::insert_units(&mut db, &units).expect("stored");
    }
    eprintln!("{}: stored {UNITS} units in {:.1} s", db.name(), started.elapsed().as_secs_f64());
    db
}

fn measure(c: &mut Criterion, label: &str, db: &mut Database) {
    let mut g = c.benchmark_group(format!("lab_{label}"));
    g.sample_size(20);
    let mut k = 0u64;
    g.bench_function("history_of_a_serial", |b| {
        b.iter(|| {
            k = (k + 7_919) % SERIALS;
            store::history(db, &format!("HS-{k:06}")).expect("history")
        })
    });
    g.bench_function("summary_of_100k_units", |b| b.iter(|| store::summary(db, &Filter::default()).expect("summary")));
    let model =
        Filter { model: Some("hs-200".into()), since_ms: Some(1_780_000_000_000 + 30_000 * 50_000), until_ms: None };
    g.bench_function("summary_of_a_model_since_a_date", |b| b.iter(|| store::summary(db, &model).expect("summary")));
    g.finish();

    // What `jackbench serve` renders, query and page, server-side.
    let mut g = c.benchmark_group(format!("serve_{label}"));
    g.sample_size(20);
    let last = 1_780_000_000_000 + 30_000 * (UNITS - 1);
    let view = View { db_name: "bench".into(), shift_hours: 8.0, token: None, reports: None };
    g.bench_function("floor_of_a_shift", |b| {
        b.iter(|| serve::floor::html(db, &view, last - 8 * 3_600_000, &Default::default()).expect("floor"))
    });
    g.bench_function("floor_of_all_100k_units", |b| {
        b.iter(|| serve::floor::html(db, &view, 0, &Default::default()).expect("floor"))
    });
    g.bench_function("unit_history_page", |b| {
        b.iter(|| {
            k = (k + 7_919) % SERIALS;
            serve::unit::html(db, &view, &format!("HS-{k:06}"), 1).expect("history")
        })
    });
    let week = serve::stats::Request {
        model: Some("hs-200".into()),
        since_ms: last - 7 * 86_400_000,
        until_ms: last + 1,
        by: store::Subgroup::Hour,
        quantity: None,
    };
    g.bench_function("stats_of_a_model_for_a_week", |b| {
        b.iter(|| serve::stats::html(db, &view, &week).expect("stats"))
    });
    g.finish();
}

fn lab(c: &mut Criterion) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-lab");
    std::fs::create_dir_all(&dir).expect("target/bench-lab");
    let mut sqlite = filled(&dir.join("results-100k-v2.sqlite").to_string_lossy());
    measure(c, "sqlite", &mut sqlite);
    if let Ok(admin) = std::env::var("JACKBENCH_TEST_PG") {
        let mut c0 = postgres::Client::connect(&admin, postgres::NoTls).expect("the server answers");
        let exists = c0.query("SELECT 1 FROM pg_database WHERE datname = 'jackbench_bench_v2'", &[]).expect("query");
        if exists.is_empty() {
            c0.batch_execute("CREATE DATABASE jackbench_bench_v2").expect("created");
        }
        let url = format!("{}/jackbench_bench_v2", &admin[..admin.rfind('/').expect("a database in the URL")]);
        let mut pg = filled(&url);
        measure(c, "postgres", &mut pg);
    }
}

criterion_group!(benches, lab);
criterion_main!(benches);
