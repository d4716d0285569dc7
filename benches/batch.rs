//! A 100-unit virtual batch on `qa-bench` with 30 % faulty units, timed whole as a production
//! line runs it (`jackbench batch`: each unit's plan on the virtual bench, its diagnosis, its
//! report with every plot, its row in a SQLite database): `cargo bench --bench batch`.
//! Issue 15's target is under a minute of wall time on the 2-core machine. One run is the
//! measurement (a minute per sample is too long for criterion's statistics); it prints the wall
//! time, the seconds and units per hour, and the bench time per unit the plan would take on a
//! real bench.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

const UNITS: usize = 100;

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let serials: String = (1..=UNITS).map(|i| format!("SN{i:05}\n")).collect();
    std::fs::write(dir.path().join("serials.txt"), serials).expect("serials");
    std::fs::create_dir_all(dir.path().join("limits")).expect("limits dir");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("limits/hs-100.toml"),
        dir.path().join("limits/hs-100.toml"),
    )
    .expect("limits");
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_jackbench"))
        .args(["batch", "--rig", "qa-bench", "--model", "hs-100", "--serials", "serials.txt", "--virtual"])
        .args(["--fault-rate", "0.3", "--seed", "15", "--db", "results.sqlite", "--out", "batch"])
        .current_dir(dir.path())
        .output()
        .expect("jackbench batch runs");
    let wall = started.elapsed().as_secs_f64();
    // Exit 1: some units failed, as 30 % faulty units should.
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = Command::new(env!("CARGO_BIN_EXE_jackbench"))
        .args(["summary", "--db", "results.sqlite"])
        .current_dir(dir.path())
        .output()
        .expect("jackbench summary runs");
    let text = String::from_utf8_lossy(&summary.stdout);
    let yield_line = text.lines().find(|l| l.contains("passed")).unwrap_or("").trim().to_string();
    let bench_line = text.lines().find(|l| l.contains("bench time per unit")).unwrap_or("").trim().to_string();
    println!(
        "batch/qa_bench_100_units_30pct_faulty: {wall:.1} s wall, {:.2} s per unit, {:.0} units/hour",
        wall / UNITS as f64,
        3600.0 * UNITS as f64 / wall
    );
    println!("  {yield_line}");
    println!("  {bench_line}");
}
