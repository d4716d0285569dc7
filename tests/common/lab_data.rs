//! Results databases for tests, one per back-end: SQLite in a temporary directory, and
//! PostgreSQL (a fresh database on the server `JACKBENCH_TEST_PG` names, dropped afterwards),
//! and synthetic units with known contents.

use jackbench::diagnosis::Verdict;
use jackbench::lab::record::{FaultRecord, MeasurementRecord, UnitRecord};
use std::sync::atomic::{AtomicU32, Ordering};

/// A database for one test; removed when dropped.
pub struct TestDb {
    pub url: String,
    pub backend: &'static str,
    _dir: Option<tempfile::TempDir>,
    drop_pg: Option<(String, String)>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.drop_pg {
            if let Ok(mut c) = postgres::Client::connect(admin, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// A new, empty SQLite database.
pub fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = dir.path().join("results.sqlite").to_string_lossy().into_owned();
    TestDb { url, backend: "sqlite", _dir: Some(dir), drop_pg: None }
}

/// A new, empty PostgreSQL database, or `None` (with a message) when no server is configured;
/// under CI a missing server is a failure.
pub fn postgres() -> Option<TestDb> {
    static N: AtomicU32 = AtomicU32::new(0);
    let Ok(admin) = std::env::var("JACKBENCH_TEST_PG") else {
        if std::env::var_os("CI").is_some() {
            panic!("CI needs a PostgreSQL server for the database tests (JACKBENCH_TEST_PG); .ci/test starts one");
        }
        eprintln!("SKIPPED (PostgreSQL): set JACKBENCH_TEST_PG, e.g. eval \"$(.ci/postgres)\"");
        return None;
    };
    let name = format!("jb_test_{}_{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst));
    let mut c = postgres::Client::connect(&admin, postgres::NoTls).expect("the test server answers");
    c.batch_execute(&format!("CREATE DATABASE {name}")).expect("a test database");
    let url = match admin.rfind('/') {
        Some(i) => format!("{}/{name}", &admin[..i]),
        None => panic!("JACKBENCH_TEST_PG has no database part: {admin}"),
    };
    Some(TestDb { url, backend: "postgres", _dir: None, drop_pg: Some((admin, name)) })
}

/// Every back-end available here.
pub fn all() -> Vec<TestDb> {
    let mut v = vec![sqlite()];
    v.extend(postgres());
    v
}

/// A unit with known contents: serial `SN-<i>`, tested at `t0 + i` minutes on bench
/// `bench-<i % benches>`; failing units (every `fail_every`th) carry a fault whose code cycles
/// over three; measurements `front.playback_gain_db = 5 + (i % 7)` (window 1..13, so 12 and
/// 13 pass, never outside), and `front.thd_percent = 0.1 · (i % 15)` (limit 1: outside when
/// i % 15 > 10).
pub fn unit(i: u64, benches: u64, fail_every: u64) -> UnitRecord {
    let fail = fail_every > 0 && i.is_multiple_of(fail_every);
    let codes = ["headset.channel_dead", "headset.distortion", "port.hum"];
    let thd = 0.1 * (i % 15) as f64;
    UnitRecord {
        serial: format!("SN-{i}"),
        model: if i.is_multiple_of(2) { "hs-200".into() } else { "hs-100".into() },
        rig: "qa-bench".into(),
        bench: format!("bench-{}", i % benches.max(1)),
        operator: "kim".into(),
        batch: "b1".into(),
        tested_at_ms: 1_790_000_000_000 + 60_000 * i as i64,
        jackbench_version: "0.1.0".into(),
        verdict: if fail { Verdict::Fail } else { Verdict::Pass },
        capture_set: format!("reports/b1/SN-{i}"),
        repeats: (i % 3) as i64,
        limits_file: format!("limits/{}.toml", if i.is_multiple_of(2) { "hs-200" } else { "hs-100" }),
        // Odd units' limits were calibrated, even units' not.
        calibrated: (i % 2 == 1).then(|| "2026-11-30T08:00:00Z".to_string()),
        // Units 0, 3, 6, … on a calibrated bench.
        bench_calibration: i.is_multiple_of(3).then(|| "limits/bench/qa-bench.toml".to_string()),
        bench_calibrated: i.is_multiple_of(3).then(|| "2026-11-29T07:00:00Z".to_string()),
        bench_s: Some(2.5 + 0.5 * (i % 2) as f64),
        elapsed_s: (!i.is_multiple_of(5)).then_some(0.25),
        faults: if fail {
            vec![FaultRecord {
                rank: 1,
                component: "dut".into(),
                code: codes[(i / fail_every.max(1)) as usize % 3].into(),
                confidence: Some(0.9),
                evidence: "synthetic".into(),
                remedy: "replace it".into(),
            }]
        } else {
            vec![]
        },
        measurements: vec![
            MeasurementRecord {
                name: "front.playback_gain_db".into(),
                value: 5.0 + (i % 7) as f64,
                unit: "dB".into(),
                limit_low: Some(1.0),
                limit_high: Some(13.0),
                pass: true,
            },
            MeasurementRecord {
                name: "front.thd_percent".into(),
                value: thd,
                unit: "%".into(),
                limit_low: None,
                limit_high: Some(1.0),
                pass: thd <= 1.0,
            },
        ],
    }
}
