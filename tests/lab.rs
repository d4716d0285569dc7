//! The results database on both back-ends (SQLite always; PostgreSQL on the server
//! `JACKBENCH_TEST_PG` names, which `.ci/test` starts), and batches through the binary: every
//! unit stored once, history newest first, exports that parse back, a summary whose numbers
//! follow from what was stored, concurrent writers that lose nothing, and a batch interrupted
//! and resumed.

mod common;

use common::lab_data::{self, unit, TestDb};
use jackbench::diagnosis::Symptom;
use jackbench::lab::db::Database;
use jackbench::lab::store::{self, Filter};
use std::path::Path;
use std::process::{Command, Stdio};

fn jackbench() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_jackbench"));
    // No lab settings or database from the environment leak into a test.
    c.env_remove("JACKBENCH_DB");
    c
}

fn fill(db: &TestDb, n: u64, benches: u64, fail_every: u64) -> Database {
    let mut d = Database::open(&db.url).unwrap_or_else(|e| panic!("{}: {e}", db.backend));
    let units: Vec<_> = (0..n).map(|i| unit(i, benches, fail_every)).collect();
    store::insert_units(&mut d, &units).expect("stored");
    d
}

#[test]
fn units_are_read_back_as_stored() {
    for db in lab_data::all() {
        let mut d = fill(&db, 30, 3, 4);
        // The same serial tested again, later, passing this time.
        let mut again = unit(8, 3, 0);
        again.tested_at_ms += 3_600_000;
        store::insert_unit(&mut d, &again).expect("stored");
        let h = store::history(&mut d, "SN-8").expect("history");
        assert_eq!(h.len(), 2, "{}", db.backend);
        assert_eq!((h[0].verdict.as_str(), h[1].verdict.as_str()), ("pass", "fail"), "newest first");
        assert!(h[0].faults.is_empty());
        assert_eq!(h[1].faults.len(), 1);
        assert_eq!(h[1].faults[0].code, unit(8, 3, 4).faults[0].code);
        assert!(store::history(&mut d, "SN-999").expect("history").is_empty());

        let all = store::units(&mut d, &Filter::default()).expect("units");
        assert_eq!(all.len(), 31);
        let failing = all.iter().filter(|u| u.verdict == "fail").count();
        assert_eq!(failing, 8, "units 0, 4, … 28");
        assert!(all.iter().all(|u| (u.verdict == "fail") != u.faults.is_empty()), "{}", db.backend);
        // The ambient-noise guard's repeats per unit (schema version 2), the limits each was
        // judged against and their calibration (version 3), the bench's calibration (version 4).
        for u in &all {
            let i: u64 = u.serial.trim_start_matches("SN-").parse().expect("serial");
            assert_eq!(u.repeats, (i % 3) as i64, "{} {}", db.backend, u.serial);
            let want = unit(i, 3, 4);
            assert_eq!((&u.limits_file, &u.calibrated), (&want.limits_file, &want.calibrated), "{}", db.backend);
            // The bench calibration (version 4).
            let bench = (&u.bench_calibration, &u.bench_calibrated);
            assert_eq!(bench, (&want.bench_calibration, &want.bench_calibrated), "{}", db.backend);
            // The time per unit (version 5).
            assert_eq!((u.bench_s, u.elapsed_s), (want.bench_s, want.elapsed_s), "{}", db.backend);
        }
        // Filters: a model, a time.
        let hs200 = store::units(&mut d, &Filter { model: Some("hs-200".into()), ..Filter::default() }).expect("units");
        assert_eq!(hs200.len(), 16, "{}", db.backend);
        let since = unit(20, 3, 4).tested_at_ms;
        let late = store::units(&mut d, &Filter { since_ms: Some(since), ..Filter::default() }).expect("units");
        assert_eq!(late.len(), 11, "units 20..29 and the retest");
        let m =
            store::measurements(&mut d, &Filter { since_ms: Some(since), ..Filter::default() }).expect("measurements");
        assert_eq!(m.len(), 22);
        let thd_of_24 = m.iter().find(|r| r.serial == "SN-24" && r.name == "front.thd_percent").expect("SN-24 THD");
        assert!((thd_of_24.value - 0.9).abs() < 1e-12 && thd_of_24.pass && thd_of_24.limit_high == Some(1.0));
    }
}

#[test]
fn a_summary_follows_from_the_stored_units() {
    for db in lab_data::all() {
        let mut d = fill(&db, 60, 2, 5);
        let s = store::summary(&mut d, &Filter::default()).expect("summary");
        assert_eq!((s.units, s.passed), (60, 48), "{}", db.backend);
        assert_eq!(s.benches.len(), 2);
        for b in &s.benches {
            // Every fifth unit fails, and the fifths alternate between the two benches.
            assert_eq!((b.units, b.passed), (30, 24), "{}: {b:?}", db.backend);
        }
        // Time per unit: bench-0's units took 2.5 s of bench time (1440 units an hour), bench-1's
        // 3.0 s (1200); every unit but each fifth (recovered, no wall clock) 0.25 s of wall clock.
        let per_hour: Vec<f64> = s.benches.iter().filter_map(|b| b.units_per_hour()).collect();
        assert_eq!(per_hour.len(), 2, "{}", db.backend);
        assert!((per_hour[0] - 1440.0).abs() < 1e-6 && (per_hour[1] - 1200.0).abs() < 1e-6, "{per_hour:?}");
        assert!(s.benches.iter().all(|b| b.elapsed_s.is_some_and(|e| (e - 0.25).abs() < 1e-12)));
        let text = jackbench::lab::summary::text(&s, &Filter::default());
        assert!(text.contains("2.50 s of bench time per unit:   1440 units/hour"), "{text}");
        // Twelve failures cycling over three codes: four each, a third of the failed units each.
        assert_eq!(s.pareto.len(), 3);
        for p in &s.pareto {
            assert_eq!(p.units, 4, "{p:?}");
            assert!((p.percent - 100.0 / 3.0).abs() < 1e-9);
        }
        assert!((s.pareto[2].cumulative_percent - 100.0).abs() < 1e-9);
        // THD on bench-0: the even units' 0.1·(i mod 15); four of the fifteen residues are over 1 %.
        let thd: Vec<f64> = (0..60).filter(|i| i % 2 == 0).map(|i| 0.1 * (i % 15) as f64).collect();
        let sp = s.spreads.iter().find(|x| x.quantity == "thd_percent" && x.bench == "bench-0").expect("spread");
        let mean = thd.iter().sum::<f64>() / 30.0;
        let sd = (thd.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 30.0).sqrt();
        assert_eq!(sp.count, 30);
        assert!((sp.mean - mean).abs() < 1e-9 && (sp.sd - sd).abs() < 1e-6, "{sp:?} vs {mean} {sd}");
        assert!(sp.min.abs() < 1e-12 && (sp.max - 1.4).abs() < 1e-12, "{sp:?}");
        assert_eq!(sp.outside, thd.iter().filter(|v| **v > 1.0).count() as i64);
        // One THD per unit: the units counted are the measurements' units (issue #13: the
        // `units out` column counts units, as its header says).
        assert_eq!((sp.units, sp.units_outside), (30, sp.outside));
        assert_eq!(sp.limit_high, Some(1.0));
        // Histograms hold every measurement once.
        for h in &s.histograms {
            let total: i64 = h.counts.values().flatten().sum();
            assert_eq!(total, 60, "{}: {}", db.backend, h.quantity);
        }
        // A filter narrows everything.
        let s = store::summary(&mut d, &Filter { model: Some("hs-100".into()), ..Filter::default() }).expect("summary");
        assert_eq!((s.units, s.passed), (30, 24));
    }
}

#[test]
fn concurrent_writers_lose_no_row() {
    for db in lab_data::all() {
        Database::open(&db.url).expect("migrated");
        let writers: Vec<_> = (0..4u64)
            .map(|w| {
                let url = db.url.clone();
                std::thread::spawn(move || {
                    let mut d = Database::open(&url).expect("opened");
                    for k in 0..25 {
                        let mut u = unit(w * 100 + k, 4, 3);
                        u.bench = format!("bench-{w}");
                        store::insert_unit(&mut d, &u).expect("every write succeeds");
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().expect("writer");
        }
        let mut d = Database::open(&db.url).expect("opened");
        let all = store::units(&mut d, &Filter::default()).expect("units");
        assert_eq!(all.len(), 100, "{}", db.backend);
        let mut ids: Vec<i64> = all.iter().map(|u| u.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), 100);
        let m = store::measurements(&mut d, &Filter::default()).expect("measurements");
        assert_eq!(m.len(), 200, "{}", db.backend);
        let s = store::summary(&mut d, &Filter::default()).expect("summary");
        assert!(s.benches.iter().all(|b| b.units == 25), "{:?}", s.benches);
    }
}

/// A lab directory: the limits files, a serials file of `n` units.
fn lab(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = dir.path().join("limits");
    std::fs::create_dir_all(&limits).expect("limits dir");
    for f in ["hs-100.toml", "hs-200.toml"] {
        std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("limits").join(f), limits.join(f)).expect("copied");
    }
    let serials: String = (1..=n).map(|i| format!("HS-{i:04}\n")).collect();
    std::fs::write(dir.path().join("serials.txt"), format!("# tray 7\n{serials}")).expect("serials");
    dir
}

#[test]
fn a_virtual_batch_stores_every_unit_with_the_fault_it_was_given() {
    for db in lab_data::all() {
        let dir = lab(12);
        let out = jackbench()
            .current_dir(dir.path())
            .args(["batch", "--rig", "qa-bench", "--model", "hs-200", "--serials", "serials.txt", "--virtual"])
            .args(["--fault-rate", "0.5", "--seed", "11", "--bench", "qa-7", "--operator", "kim", "--db", &db.url])
            .args(["--out", "reports/tray-7"])
            .output()
            .expect("runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}\n{stdout}", String::from_utf8_lossy(&out.stderr));
        // The batch says where its results went, with the exact --db to read them back.
        let done = stdout.lines().find(|l| l.starts_with("batch ")).unwrap_or_default();
        let hint = match db.backend {
            "postgres" => format!("`jackbench summary --db '{}'` shows the yield (with the password", shown(&db.url)),
            _ => format!("`jackbench summary --db {}` shows the yield", db.url),
        };
        assert!(done.contains(&hint), "{done}");
        let mut d = Database::open(&db.url).expect("opened");
        let units = store::units(&mut d, &Filter::default()).expect("units");
        assert_eq!(units.len(), 12, "{}", db.backend);
        assert!(units.iter().all(|u| u.bench == "qa-7" && u.operator == "kim" && u.model == "hs-200"));
        // What the virtual bench gave each unit, as the batch printed it under its verdict.
        let lines: Vec<&str> = stdout.lines().collect();
        let given = |serial: &str| -> Option<String> {
            let at = lines.iter().position(|l| (l.contains("PASS") || l.contains("FAIL")) && l.ends_with(serial))?;
            let note = lines.get(at + 1)?.split("virtual bench: given dut:").nth(1)?;
            note.split(' ').next().map(str::to_string)
        };
        let (mut right, mut faulty) = (0, 0);
        for u in &units {
            assert!(dir.path().join(&u.capture_set).join("report.html").exists(), "{}", u.capture_set);
            // The electrical stage read each unit's plug first (qa-bench has the board's meter).
            let set = jackbench::capture::CaptureSet::load(&dir.path().join(&u.capture_set)).expect("set");
            assert_eq!(set.manifest.plugs.iter().map(|p| p.component.as_str()).collect::<Vec<_>>(), ["dut"]);
            match given(&u.serial) {
                None => assert_eq!(u.verdict, "pass", "{}: healthy but {:?}", u.serial, u.faults),
                Some(symptom) => {
                    faulty += 1;
                    let injected = Symptom::from_name(&symptom).expect("a symptom");
                    let named = |code: &str| {
                        code.strip_prefix("headset.").and_then(Symptom::from_name).is_some_and(|s| injected.found_as(s))
                    };
                    if u.faults.first().is_some_and(|f| named(&f.code)) {
                        right += 1;
                    }
                }
            }
        }
        assert!(faulty >= 3, "the seed gives faults to some units ({faulty})");
        assert!(right + 1 >= faulty, "{right} of {faulty} faults named ({})", db.backend);
        // The unit-level measurements are there, with their limits (a unit whose fault hides a
        // quantity, a dead ear say, has none of it).
        let m = store::measurements(&mut d, &Filter::default()).expect("measurements");
        let gains: Vec<_> = m.iter().filter(|r| r.name == "front-jack.playback_gain_db").collect();
        assert!(gains.len() + faulty >= 12 && gains.len() <= 12, "{} gains", gains.len());
        assert!(gains.iter().all(|r| r.limit_low == Some(-12.0) && r.limit_high == Some(0.0)));
        // Rub & buzz as one number: a healthy unit's under its limit (what noise alone reaches
        // and the model's margin), a rubbing unit's over it.
        let rub_limit = jackbench::diagnosis::NOISE_PEAK_DB + jackbench::capture::Limits::default().rub_buzz_max_db;
        for u in &units {
            let rb = m.iter().find(|r| r.serial == u.serial && r.name == "front-jack.rub_buzz_db");
            match given(&u.serial).as_deref() {
                None => {
                    let rb = rb.unwrap_or_else(|| panic!("{}: no rub & buzz", u.serial));
                    assert!(rb.pass && rb.value < rub_limit && rb.limit_high == Some(rub_limit), "{rb:?}");
                }
                Some("rub_buzz") => assert!(rb.is_some_and(|r| !r.pass), "{}: {rb:?}", u.serial),
                Some(_) => {}
            }
        }
    }
}

#[test]
fn an_interrupted_batch_resumes_without_losing_or_repeating_a_unit() {
    for db in lab_data::all() {
        let dir = lab(10);
        let args = ["batch", "--rig", "qa-bench", "--model", "hs-200", "--serials", "serials.txt", "--virtual"];
        let mut child = jackbench()
            .current_dir(dir.path())
            .args(args)
            .args(["--db", &db.url, "--out", "reports/tray-9"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("runs");
        // Ctrl-C once three units are stored. The test only reads (a read-only connection, as a
        // lab's viewer would): opening to write would take the write lock 200 times a second.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let stored = Database::open_existing(&db.url)
                .ok()
                .and_then(|mut d| store::units(&mut d, &Filter::default()).ok())
                .map_or(0, |u| u.len());
            if stored >= 3 {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                panic!("the batch ended ({status}) with {stored} unit(s) stored ({}): {err}", db.backend);
            }
            assert!(std::time::Instant::now() < deadline, "no unit was stored in 60 s ({})", db.backend);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let pid = libc::pid_t::try_from(child.id()).expect("pid");
        // SAFETY: kill(2) on the child this test started.
        unsafe { libc::kill(pid, libc::SIGINT) };
        let out = child.wait_with_output().expect("ends");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("--resume"), "{err}");
        let mut d = Database::open(&db.url).expect("opened");
        let before = store::units(&mut d, &Filter::default()).expect("units");
        assert!(before.len() < 10, "stopped early ({})", before.len());
        // A crash between a unit's capture set and its row: the row is gone, the set is there.
        let lost = before.last().expect("a unit").serial.clone();
        let batch = jackbench::lab::batch::BatchSettings::load(&dir.path().join("reports/tray-9")).expect("settings");
        assert!(!batch.finished);
        drop(d);
        delete_unit(&db.url, &lost);

        let out = jackbench()
            .current_dir(dir.path())
            .args(["batch", "--resume", "--out", "reports/tray-9"])
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
        assert!(err.contains("the database had missed") && err.contains(&lost), "{err}");
        let mut d = Database::open(&db.url).expect("opened");
        let after = store::units(&mut d, &Filter::default()).expect("units");
        let mut serials: Vec<&str> = after.iter().map(|u| u.serial.as_str()).collect();
        serials.sort_unstable();
        let want: Vec<String> = (1..=10).map(|i| format!("HS-{i:04}")).collect();
        assert_eq!(serials, want.iter().map(String::as_str).collect::<Vec<_>>(), "{}", db.backend);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("reports/tray-9"))
            .expect("dir")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        assert!(
            jackbench::lab::batch::BatchSettings::load(&dir.path().join("reports/tray-9")).expect("settings").finished
        );
    }
}

/// Removes a unit's rows, as if the process died before its transaction committed.
fn delete_unit(url: &str, serial: &str) {
    let mut d = Database::open(url).expect("opened");
    d.transaction(|tx| {
        use jackbench::lab::db::Param;
        let s = Param::Text(serial.into());
        tx.execute(
            "DELETE FROM fault WHERE unit_id IN (SELECT id FROM unit WHERE serial = ?)",
            std::slice::from_ref(&s),
        )?;
        tx.execute(
            "DELETE FROM measurement WHERE unit_id IN (SELECT id FROM unit WHERE serial = ?)",
            std::slice::from_ref(&s),
        )?;
        tx.execute("DELETE FROM unit WHERE serial = ?", &[s])?;
        Ok(())
    })
    .expect("deleted");
}

#[test]
fn history_export_and_summary_from_the_command_line() {
    let db = lab_data::sqlite();
    fill(&db, 40, 2, 4);
    let out = jackbench().args(["history", "SN-8", "--json", "--db", &db.url]).output().expect("runs");
    assert!(out.status.success());
    let h: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(h[0]["serial"], "SN-8");
    assert_eq!(h[0]["faults"][0]["component"], "dut");

    let out = jackbench()
        .args(["export", "--format", "csv", "--rows", "measurement", "--model", "hs-200", "--db", &db.url])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let mut r = csv::Reader::from_reader(out.stdout.as_slice());
    let headers = r.headers().expect("headers").clone();
    assert!(headers.iter().any(|h| h == "limit_high") && headers.iter().any(|h| h == "serial"));
    assert_eq!(r.records().count(), 40, "20 hs-200 units × 2 measurements");
    let out = jackbench()
        .args(["export", "--format", "json", "--since", "2026-01-01", "--db", &db.url])
        .output()
        .expect("runs");
    let units: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(units.as_array().map(Vec::len), Some(40));

    let html = tempfile::tempdir().expect("tempdir");
    let out = jackbench().args(["summary", "--db", &db.url, "--html"]).arg(html.path()).output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.starts_with("40 units tested, 30 passed: yield 75.0 %"), "{text}");
    let page = std::fs::read_to_string(html.path().join("summary.html")).expect("page");
    assert!(page.matches("data:image/png;base64,").count() >= 4 && !page.contains("http"), "plots inlined");

    // A bad --since is said before any database is looked for (there is none in the folder).
    let empty = tempfile::tempdir().expect("tempdir");
    let out = jackbench()
        .current_dir(empty.path())
        .args(["export", "--format", "csv", "--since", "last tuesday"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--since"));
}

#[test]
fn a_bad_limits_file_is_named_with_its_line_and_field() {
    let dir = lab(2);
    let path = dir.path().join("limits/hs-200.toml");
    let text =
        std::fs::read_to_string(&path).expect("limits").replace("thd_max_percent = 1.0", "thd_max_percent = \"one\"");
    std::fs::write(&path, text).expect("written");
    let out = jackbench()
        .current_dir(dir.path())
        .args(["batch", "--rig", "qa-bench", "--model", "hs-200", "--serials", "serials.txt", "--virtual"])
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(err.contains("limits/hs-200.toml") && err.contains("line") && err.contains("thd_max_percent"), "{err}");
    let out = jackbench()
        .current_dir(dir.path())
        .args(["batch", "--rig", "qa-bench", "--model", "hs-300", "--serials", "serials.txt", "--virtual"])
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code() == Some(2) && err.contains("hs-300") && err.contains("hs-100, hs-200"), "{err}");
}

#[test]
fn the_operator_scans_serials_until_an_empty_line() {
    use std::io::Write;
    let db = lab_data::sqlite();
    let dir = lab(0);
    let mut child = jackbench()
        .current_dir(dir.path())
        .args(["batch", "--rig", "qa-bench", "--model", "hs-100", "--virtual", "--db", &db.url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child.stdin.take().expect("stdin").write_all(b"A-1\nnot a serial\nA-2\n\nA-3\n").expect("typed");
    let out = child.wait_with_output().expect("ends");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("\"not a serial\" is not a serial"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("yield: 2 of 2 passed (100.0 %)"));
    let mut d = Database::open(&db.url).expect("opened");
    let units = store::units(&mut d, &Filter::default()).expect("units");
    let serials: Vec<&str> = units.iter().map(|u| u.serial.as_str()).collect();
    assert_eq!(serials, ["A-1", "A-2"], "the empty line ended the batch before A-3");
}

/// Commands that only read never create a database (issue #13): a missing SQLite file, a
/// PostgreSQL database without jackbench's tables, a file that is not SQLite, or a URL scheme
/// jackbench does not speak is exit 2 naming it, and nothing is created; each reader says which
/// database it read.
#[test]
fn readers_never_create_a_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nothere").join("r.db");
    let readers: [&[&str]; 4] =
        [&["history", "SN-001"], &["summary"], &["export", "--format", "csv"], &["export", "--format", "json"]];
    let run = |args: &[&str], db: &str| jackbench().current_dir(dir.path()).args(args).args(["--db", db]).output();
    let missing_url = missing.to_string_lossy().into_owned();
    for args in readers {
        let out = run(args, &missing_url).expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(&format!("{missing_url}: no results database there")), "{args:?}: {err}");
        assert!(!dir.path().join("nothere").exists(), "{args:?} created the directory");
    }
    let out = run(&["export", "--format", "csv", "--out", "units.csv"], &missing_url).expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(!dir.path().join("units.csv").exists(), "an export of nothing was written");
    for url in ["mysql://localhost/x", "mysql:results"] {
        let out = run(&["summary"], url).expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("jackbench does not speak `mysql:` databases"), "{err}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).expect("listed").count(), 0, "nothing created for any of them");
    std::fs::write(dir.path().join("notes.db"), "not a database").expect("written");
    let out = run(&["summary"], "notes.db").expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code() == Some(2) && err.contains("notes.db: not a jackbench results database"), "{err}");

    for db in lab_data::all() {
        if db.backend == "postgres" {
            // A PostgreSQL database with no jackbench tables stays without them.
            let out = run(&["summary"], &db.url).expect("runs");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.code() == Some(2) && err.contains("not a jackbench results database"), "{err}");
            let mut c = postgres::Client::connect(&db.url, postgres::NoTls).expect("connects");
            let tables: i64 = c
                .query_one("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()", &[])
                .expect("counted")
                .get(0);
            assert_eq!(tables, 0, "summary created tables");
        }
        fill(&db, 8, 1, 4);
        for args in readers {
            let out = run(args, &db.url).expect("runs");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{} {args:?}: {err}", db.backend);
            assert!(err.lines().any(|l| l == format!("results: {}", shown(&db.url))), "{} {args:?}: {err}", db.backend);
        }
    }
}

/// A database URL as jackbench shows it: the password, if any, as `***`.
fn shown(url: &str) -> String {
    match url.split_once("://").and_then(|(scheme, rest)| Some((scheme, rest.split_once('@')?))) {
        Some((scheme, (creds, host))) => match creds.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// A --serials file that is not there is named with its flag, and nothing is created (issue #13).
#[test]
fn a_missing_serials_file_is_named_with_its_flag() {
    let dir = lab(1);
    let out = jackbench()
        .current_dir(dir.path())
        .args(["batch", "--rig", "qa-bench", "--model", "hs-100", "--serials", "tray.txt", "--virtual"])
        .args(["--db", "results.sqlite", "--out", "reports/tray"])
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("tray.txt: the --serials file cannot be read"), "{err}");
    assert!(!dir.path().join("results.sqlite").exists() && !dir.path().join("reports").exists());
}

/// Numbers that explain themselves (issue #13): a unit failed on a fault with no stored
/// measurement out says what showed it; the summary counts units with and outside each quantity
/// and says why counts differ; no made-up operator is stored.
#[test]
fn numbers_explain_themselves() {
    let db = lab_data::sqlite();
    // SN-4 fails (every fourth unit) with its THD (0.4 %) and gain within their limits.
    fill(&db, 8, 1, 4);
    let out = jackbench().args(["history", "SN-4", "--db", &db.url]).output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\n     shown by: synthetic\n"), "{text}");
    assert!(text.contains("\n  outside limits: none of the stored measurements (see \"shown by\")\n"), "{text}");
    let out = jackbench().args(["summary", "--db", &db.url]).output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("units out"), "{text}");
    assert!(text.contains("so the counts differ between quantities"), "{text}");

    let dir = lab(1);
    let out = jackbench()
        .current_dir(dir.path())
        .env_remove("USER")
        .env_remove("LOGNAME")
        .args(["batch", "--rig", "qa-bench", "--model", "hs-100", "--serials", "serials.txt", "--virtual"])
        .args(["--db", "results.sqlite", "--out", "reports/tray"])
        .output()
        .expect("runs");
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&out.stderr));
    let mut d = Database::open(&dir.path().join("results.sqlite").to_string_lossy()).expect("opened");
    let units = store::units(&mut d, &Filter::default()).expect("units");
    assert_eq!(units.len(), 1);
    assert_eq!(units[0].operator, "", "no operator was given");
    let out = jackbench()
        .current_dir(dir.path())
        .args(["history", "HS-0001", "--db", "results.sqlite"])
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&out.stdout).contains("operator (not given)"));
}
