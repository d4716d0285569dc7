//! `jackbench serve` as a client sees it, over SQLite and PostgreSQL: the floor's cards and JSON
//! from the stored units, a unit stored while a client listens arriving as an event within a
//! second; a unit's history a page at a time with its report served from the reports directory
//! and nothing outside it (traversal, encoded, through a symbolic link); the line's statistics
//! with a drifting bench flagged; strings from the database escaped; the token required off
//! localhost and checked on every request; a role granted SELECT alone serving every page; a
//! database that goes away mid-request answered 503 while the server stays up; and 50 clients on
//! the floor for 30 s while a batch writes, on each back-end.

mod common;

use common::lab_data::{self, unit};
use common::served::{get, request, serve};
use jackbench::lab::db::{now_ms, Database};
use jackbench::lab::store;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Stores unit `i` of the synthetic set, tested now, on `bench`.
fn store_unit(db: &mut Database, i: u64, bench: &str, fail: bool) {
    let mut u = unit(i, 1, if fail { 1 } else { 0 });
    u.bench = bench.to_string();
    u.tested_at_ms = now_ms();
    store::insert_unit(db, &u).expect("stored");
}

#[test]
fn the_floor_shows_each_bench_and_a_new_unit_arrives_live() {
    for t in lab_data::all() {
        let mut db = Database::open(&t.url).expect("db");
        for i in 0..6 {
            store_unit(&mut db, i, if i % 2 == 0 { "qa-1" } else { "qa-2" }, i == 4);
        }
        // A bench name that is markup, and a unit tested long ago (outside the shift).
        store_unit(&mut db, 10, "<script>alert(1)</script>", false);
        let mut old = unit(11, 1, 0);
        old.bench = "old-bench".into();
        old.tested_at_ms = now_ms() - 48 * 3_600_000;
        store::insert_unit(&mut db, &old).expect("stored");
        let s = serve(&t.url, &[]);
        let (status, json) = get(&s.addr, "/api/floor", &[]);
        assert_eq!(status, 200, "{json}");
        let v: serde_json::Value = serde_json::from_str(&json).expect("json");
        let benches = v["benches"].as_array().expect("benches");
        let names: Vec<&str> = benches.iter().filter_map(|b| b["bench"].as_str()).collect();
        assert_eq!(names, ["<script>alert(1)</script>", "qa-1", "qa-2"], "{} ({json})", t.backend);
        let qa1 = &benches[1];
        assert_eq!((qa1["units"].as_i64(), qa1["passed"].as_i64()), (Some(3), Some(2)), "{qa1}");
        assert_eq!((qa1["last_serial"].as_str(), qa1["last_verdict"].as_str()), (Some("SN-4"), Some("fail")));
        let (status, page) = get(&s.addr, "/", &[]);
        assert_eq!(status, 200);
        assert!(page.contains("data-bench=\"qa-1\"") && page.contains("SN-4"), "{page}");
        assert!(!page.contains("<script>alert") && page.contains("&lt;script&gt;alert(1)"), "escaped");
        assert!(!page.contains("http://") && !page.contains("https://"), "nothing fetched from elsewhere");
        // Live: listen to the events, store a unit, and see it within a second.
        let mut events = TcpStream::connect(&s.addr).expect("connects");
        events.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        write!(events, "GET /events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n", s.addr).expect("sent");
        let mut reader = BufReader::new(events);
        let mut line = String::new();
        // The response's head first: the stream is open once it has come.
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
            line.clear();
        }
        let stored = Instant::now();
        store_unit(&mut db, 20, "qa-2", true);
        let mut got = None;
        line.clear();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            if let Some(data) = line.trim().strip_prefix("data: ") {
                got = Some(data.to_string());
                break;
            }
            line.clear();
        }
        let took = stored.elapsed();
        let data: serde_json::Value = serde_json::from_str(&got.expect("an event")).expect("json");
        assert_eq!(
            (data["bench"].as_str(), data["serial"].as_str(), data["verdict"].as_str()),
            (Some("qa-2"), Some("SN-20"), Some("fail"))
        );
        assert!(took < Duration::from_secs(1), "{} took {took:?}", t.backend);
        let (_, json) = get(&s.addr, "/api/floor", &[]);
        assert!(json.contains("\"last_serial\":\"SN-20\""), "{json}");
        assert_eq!(get(&s.addr, "/no/such/page", &[]).0, 404);
    }
}

#[test]
fn a_token_is_required_off_localhost_and_checked_when_set() {
    let t = lab_data::sqlite();
    let mut db = Database::open(&t.url).expect("db");
    store_unit(&mut db, 1, "qa-1", false);
    let dir = tempfile::tempdir().expect("tempdir");
    // Off localhost without a token: refused before anything listens.
    let out = Command::new(env!("CARGO_BIN_EXE_jackbench"))
        .args(["serve", "--db", &t.url, "--listen", "0.0.0.0:0"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a token"), "{}", String::from_utf8_lossy(&out.stderr));
    let short = dir.path().join("short");
    std::fs::write(&short, "abc\n").expect("written");
    let out = Command::new(env!("CARGO_BIN_EXE_jackbench"))
        .args(["serve", "--db", &t.url, "--token-file"])
        .arg(&short)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let file = dir.path().join("token");
    let token = "s3cret-floor-token-0123";
    std::fs::write(&file, format!("{token}\n")).expect("written");
    let s = serve(&t.url, &["--token-file", file.to_str().expect("utf-8")]);
    assert_eq!(get(&s.addr, "/api/floor", &[]).0, 401);
    assert_eq!(get(&s.addr, "/api/floor", &[("Authorization", "Bearer wrong-token-0000000")]).0, 401);
    assert_eq!(get(&s.addr, "/api/floor?token=s3cret", &[]).0, 401);
    assert_eq!(get(&s.addr, "/api/floor", &[("Authorization", &format!("Bearer {token}"))]).0, 200);
    let (status, page) = get(&s.addr, &format!("/?token={token}"), &[]);
    assert_eq!(status, 200);
    // The live page carries the token to what it fetches, and its links too.
    assert!(page.contains(&format!("data-events=\"/events?token={token}\"")), "{page}");
    assert!(page.contains(&format!("href=\"/stats?token={token}\"")), "{page}");
    assert_eq!(get(&s.addr, "/unit?serial=SN-1", &[]).0, 401);
    assert_eq!(get(&s.addr, "/files/", &[]).0, 401);
    // A missing database is said before anything listens.
    let out = Command::new(env!("CARGO_BIN_EXE_jackbench"))
        .args(["serve", "--db", "/nonexistent/results.sqlite"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

/// Unit `i` of the synthetic set with `serial`, tested `minutes_ago` minutes ago.
fn test_of(
    i: u64,
    serial: &str,
    minutes_ago: i64,
    fail: bool,
    capture_set: &str,
) -> jackbench::lab::record::UnitRecord {
    let mut u = unit(i, 1, if fail { 1 } else { 0 });
    u.serial = serial.to_string();
    u.tested_at_ms = now_ms() - minutes_ago * 60_000;
    u.capture_set = capture_set.to_string();
    u
}

#[test]
fn a_units_history_links_its_report_and_nothing_outside_the_reports_is_served() {
    for t in lab_data::all() {
        let mut db = Database::open(&t.url).expect("db");
        let dir = tempfile::tempdir().expect("tempdir");
        let reports = dir.path().join("reports");
        let set = reports.join("b1").join("SN 7");
        std::fs::create_dir_all(&set).expect("set");
        std::fs::write(set.join("report.html"), "<h1>the report of SN 7</h1>").expect("report");
        std::fs::write(set.join("manifest.toml"), "# manifest\n").expect("manifest");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).expect("outside");
        std::fs::write(outside.join("secret.txt"), "SECRET-CONTENTS").expect("secret");
        std::fs::write(dir.path().join("secret.txt"), "SECRET-CONTENTS").expect("secret");
        #[cfg(unix)]
        std::os::unix::fs::symlink(&outside, reports.join("escape")).expect("symlink");
        // SN 7: three tests, the newest failed; 45 tests of a golden unit; a serial that is markup.
        let set_path = set.to_str().expect("utf-8");
        store::insert_unit(&mut db, &test_of(1, "SN 7", 300, false, set_path)).expect("stored");
        store::insert_unit(&mut db, &test_of(2, "SN 7", 200, false, "/somewhere/else")).expect("stored");
        store::insert_unit(&mut db, &test_of(3, "SN 7", 100, true, set_path)).expect("stored");
        let golden: Vec<_> = (0..45).map(|k| test_of(10 + k, "GOLDEN-1", 1000 - k as i64, false, "x")).collect();
        store::insert_units(&mut db, &golden).expect("stored");
        store::insert_unit(&mut db, &test_of(60, "<script>alert(1)</script>", 5, true, "x")).expect("stored");
        let s = serve(&t.url, &["--reports", reports.to_str().expect("utf-8")]);

        let (status, page) = get(&s.addr, "/unit?serial=SN+7", &[]);
        assert_eq!(status, 200, "{page}");
        assert_eq!(page.matches("class=\"test ").count(), 3, "{}: three tests", t.backend);
        let newest = page.find("class=\"test fail\"").expect("the failed test");
        assert!(newest < page.find("class=\"test pass\"").expect("a passed test"), "newest first");
        assert!(page.contains("headset.channel_dead") && page.contains("Fix: replace it"), "{page}");
        assert!(page.contains("href=\"/files/b1/SN%207/report.html\""), "{page}");
        assert!(page.contains("/somewhere/else (not under the reports directory)"), "{page}");
        let (status, head, report) = request(&s.addr, "/files/b1/SN%207/report.html", &[]);
        assert_eq!(status, 200);
        assert!(report.contains("the report of SN 7"));
        assert!(head.to_lowercase().contains("content-security-policy: default-src 'none'"), "{head}");
        let (status, listing) = get(&s.addr, "/files/b1/SN%207/", &[]);
        assert_eq!(status, 200);
        assert!(listing.contains("manifest.toml") && listing.contains("report.html"), "{listing}");
        let (_, root) = get(&s.addr, "/files/", &[]);
        assert!(root.contains("b1/") && !root.contains("escape"), "a link that leads out is not listed: {root}");

        // Traversal, plain and encoded, and a symbolic link out: nothing outside is served.
        for bad in [
            "/files/../secret.txt",
            "/files/b1/../../secret.txt",
            "/files/..%2fsecret.txt",
            "/files/..%2F..%2Fsecret.txt",
            "/files/%2e%2e/secret.txt",
            "/files/%2E%2E%2Fsecret.txt",
            "/files/%252e%252e/secret.txt",
            "/files/b1%5c..%5c..%5csecret.txt",
            "/files/escape/secret.txt",
            "/files/escape/",
            "/files//etc/passwd",
            "/files/b1/SN%207/report.html%00.png",
        ] {
            let (status, body) = get(&s.addr, bad, &[]);
            assert!(status == 404 || status == 400, "{bad}: {status}");
            assert!(!body.contains("SECRET-CONTENTS") && !body.contains("root:"), "{bad}: {body}");
        }

        // Paging: 45 tests, 20 a page.
        let (_, p1) = get(&s.addr, "/unit?serial=GOLDEN-1", &[]);
        assert_eq!(p1.matches("class=\"test ").count(), 20);
        assert!(p1.contains("page 1 of 3") && p1.contains("page=2"), "{p1}");
        let (_, p3) = get(&s.addr, "/unit?serial=GOLDEN-1&page=3", &[]);
        assert_eq!(p3.matches("class=\"test ").count(), 5);
        let (status, past) = get(&s.addr, "/unit?serial=GOLDEN-1&page=999999999999", &[]);
        assert_eq!(status, 200);
        assert!(past.contains("past the last"), "{past}");
        for bad in ["0", "-1", "99999999999999999999999", "two"] {
            assert_eq!(get(&s.addr, &format!("/unit?serial=GOLDEN-1&page={bad}"), &[]).0, 400, "page {bad}");
        }
        let (status, json) = get(&s.addr, "/api/unit?serial=GOLDEN-1&page=2", &[]);
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_str(&json).expect("json");
        assert_eq!((v["tests"].as_i64(), v["pages"].as_i64()), (Some(45), Some(3)));
        assert_eq!(v["history"].as_array().map(Vec::len), Some(20));

        // A serial that is markup, an unknown one, a search.
        let (status, page) = get(&s.addr, "/unit?serial=%3Cscript%3Ealert(1)%3C%2Fscript%3E", &[]);
        assert_eq!(status, 200);
        assert!(!page.contains("<script>alert") && page.contains("&lt;script&gt;alert(1)"), "escaped");
        let (status, page) = get(&s.addr, "/unit?serial=NOPE-404", &[]);
        assert_eq!(status, 404);
        assert!(page.contains("No unit with the serial") && page.contains("No serial contains"), "{page}");
        let (status, page) = get(&s.addr, "/unit?serial=olden", &[]);
        assert_eq!(status, 404);
        assert!(page.contains("href=\"/unit?serial=GOLDEN-1\""), "found by part, any case: {page}");
        assert_eq!(get(&s.addr, "/api/unit?serial=NOPE-404", &[]).0, 404);
        let (_, hits) = get(&s.addr, "/api/search?q=sn+", &[]);
        assert!(hits.contains("\"serial\":\"SN 7\"") && hits.contains("\"tests\":3"), "{hits}");
        let (_, landed) = get(&s.addr, "/api/landed?after=0", &[]);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&landed).expect("json")["units"].as_array().map(Vec::len),
            Some(49)
        );
        assert_eq!(get(&s.addr, "/api/landed?after=x", &[]).0, 400);
    }
}

#[test]
fn the_line_statistics_chart_each_quantity_and_flag_the_bench_that_drifts() {
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};
    for t in lab_data::all() {
        let mut db = Database::open(&t.url).expect("db");
        // 24 hours, 3 benches, 10 units a bench an hour; gain 7 dB ± 0.5; bench qa-3's rises
        // 0.1 dB an hour over the last 12 hours. Every 25th unit fails, with a fault.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let noise = Normal::new(0.0, 0.5).expect("normal");
        let start = (now_ms() / 3_600_000 - 24) * 3_600_000;
        let mut units = Vec::new();
        let mut i = 0;
        for h in 0..24i64 {
            for bench in ["qa-1", "qa-2", "qa-3"] {
                for k in 0..10i64 {
                    let mut u = unit(i, 1, 25);
                    u.bench = bench.into();
                    u.model = "hs-100".into();
                    u.tested_at_ms = start + h * 3_600_000 + k * 300_000;
                    let drift = if bench == "qa-3" && h >= 12 { 0.1 * (h - 11) as f64 } else { 0.0 };
                    u.measurements[0].value = 7.0 + drift + noise.sample(&mut rng);
                    units.push(u);
                    i += 1;
                }
            }
        }
        store::insert_units(&mut db, &units).expect("stored");
        let failed = units.iter().filter(|u| !u.faults.is_empty()).count() as i64;
        let s = serve(&t.url, &[]);
        let from = store::rfc3339(start);
        let (status, json) = get(&s.addr, &format!("/api/stats?model=hs-100&from={from}&by=hour"), &[]);
        assert_eq!(status, 200, "{json}");
        let v: serde_json::Value = serde_json::from_str(&json).expect("json");
        assert_eq!(v["units"].as_i64(), Some(720), "{}", t.backend);
        assert_eq!(v["yields"].as_array().map(Vec::len), Some(24));
        let pareto_units: i64 =
            v["pareto"].as_array().expect("pareto").iter().filter_map(|e| e["units"].as_i64()).sum();
        assert_eq!(pareto_units, failed);
        let gain =
            v["charts"].as_array().expect("charts").iter().find(|c| c["quantity"] == "playback_gain_db").expect("gain");
        assert_eq!(gain["points"].as_array().map(Vec::len), Some(72), "a point per hour and bench");
        let sigma = gain["sigma_within"].as_f64().expect("σ");
        assert!((sigma - 0.5).abs() < 0.05, "σ̂ within {sigma} (0.5 drawn)");
        // Cpk against 1..13 around ~7.2: about (13 − 7.2) / 1.5, the drift making the mean higher.
        let cpk = gain["cpk"].as_f64().expect("cpk");
        assert!((3.5..4.2).contains(&cpk), "Cpk {cpk}");
        let drifts: Vec<&str> =
            gain["drifts"].as_array().expect("drifts").iter().filter_map(|d| d["bench"].as_str()).collect();
        assert_eq!(drifts, ["qa-3"], "{}", gain["drifts"]);
        assert_eq!(gain["drifts"][0]["toward_limit"].as_f64(), Some(13.0));
        let thd = v["charts"].as_array().expect("charts").iter().find(|c| c["quantity"] == "thd_percent").expect("thd");
        assert!(thd["drifts"].as_array().is_some_and(Vec::is_empty), "{}", thd["drifts"]);

        let (status, page) = get(&s.addr, &format!("/stats?model=hs-100&from={}&by=hour", &from[..10]), &[]);
        assert_eq!(status, 200);
        assert!(page.contains("<svg") && page.contains("Bench qa-3 drifts"), "{page}");
        assert!(page.contains("Fault Pareto") && page.contains("headset.channel_dead"));
        for (q, code) in [("from=yesterday", 400), ("by=minute", 400), ("from=2026-12-02&to=2026-12-01", 400)] {
            assert_eq!(get(&s.addr, &format!("/stats?{q}"), &[]).0, code, "{q}");
            assert_eq!(get(&s.addr, &format!("/api/stats?{q}"), &[]).0, code, "{q}");
        }
        // The floor's card of qa-3 says it drifts, and in what (computed at start, then every minute).
        let deadline = Instant::now() + Duration::from_secs(10);
        let drifting = loop {
            let (_, json) = get(&s.addr, "/api/floor", &[]);
            let v: serde_json::Value = serde_json::from_str(&json).expect("json");
            let by_bench: Vec<(String, Vec<String>)> = v["benches"]
                .as_array()
                .expect("benches")
                .iter()
                .map(|b| {
                    let q = b["drifting"].as_array().into_iter().flatten();
                    (
                        b["bench"].as_str().unwrap_or_default().to_string(),
                        q.filter_map(|d| d["quantity"].as_str()).map(str::to_string).collect(),
                    )
                })
                .collect();
            if by_bench.iter().any(|(_, q)| !q.is_empty()) || Instant::now() > deadline {
                break by_bench;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let flagged: Vec<&(String, Vec<String>)> = drifting.iter().filter(|(_, q)| !q.is_empty()).collect();
        assert_eq!(flagged, [&("qa-3".to_string(), vec!["playback_gain_db".to_string()])], "{}", t.backend);
        let (_, floor) = get(&s.addr, "/", &[]);
        assert!(floor.contains("drifting: <a href=\"/stats?model=hs-100\">Sensitivity (playback gain)</a>"), "{floor}");
        // By batch and by day answer too.
        assert_eq!(get(&s.addr, &format!("/api/stats?from={from}&by=batch"), &[]).0, 200);
        assert_eq!(get(&s.addr, "/stats?by=day", &[]).0, 200);
    }
}

#[test]
fn a_database_that_goes_away_mid_request_is_answered_503_and_the_server_stays_up() {
    // SQLite: the database's files (with its write-ahead log and index) are overwritten under the
    // open connections, then put back.
    let t = lab_data::sqlite();
    let mut db = Database::open(&t.url).expect("db");
    store_unit(&mut db, 1, "qa-1", false);
    drop(db);
    let s = serve(&t.url, &[]);
    assert_eq!(get(&s.addr, "/api/floor", &[]).0, 200);
    let files: Vec<String> = ["", "-wal", "-shm"]
        .iter()
        .map(|x| format!("{}{x}", t.url))
        .filter(|f| std::path::Path::new(f).exists())
        .collect();
    let saved: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).expect("the file")).collect();
    for (f, bytes) in files.iter().zip(&saved) {
        std::fs::write(f, vec![0x55u8; bytes.len().max(4096)]).expect("overwritten");
    }
    let (status, page) = get(&s.addr, "/", &[]);
    assert_eq!(status, 503, "{page}");
    assert!(page.contains("The results database is unavailable"), "{page}");
    let (status, json) = get(&s.addr, "/api/floor", &[]);
    assert_eq!(status, 503);
    assert!(json.contains("\"error\""), "{json}");
    for (f, bytes) in files.iter().zip(&saved) {
        std::fs::write(f, bytes).expect("put back");
    }
    let (status, page) = get(&s.addr, "/", &[]);
    assert_eq!(status, 200, "{page}");

    // PostgreSQL: the server's connection is killed while its query waits on a lock.
    let Some(t) = lab_data::postgres() else { return };
    let mut db = Database::open(&t.url).expect("db");
    store_unit(&mut db, 1, "qa-1", false);
    let s = serve(&t.url, &[]);
    assert_eq!(get(&s.addr, "/api/floor", &[]).0, 200);
    let mut locker = postgres::Client::connect(&t.url, postgres::NoTls).expect("connects");
    let mut tx = locker.transaction().expect("begins");
    tx.batch_execute("LOCK TABLE unit IN ACCESS EXCLUSIVE MODE").expect("locked");
    let addr = s.addr.clone();
    let waiting = std::thread::spawn(move || get(&addr, "/api/floor", &[]));
    // The request is in the database, waiting on the lock; its connection goes away.
    let mut killer = postgres::Client::connect(&t.url, postgres::NoTls).expect("connects");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut killed = 0;
    while killed == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        let rows = killer
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .expect("terminated");
        killed = rows.len();
    }
    assert!(killed > 0, "the request never waited on the lock");
    let (status, json) = waiting.join().expect("answered");
    assert_eq!(status, 503, "{json}");
    drop(tx);
    let (status, json) = get(&s.addr, "/api/floor", &[]);
    assert_eq!(status, 200, "a new connection: {json}");
}

#[test]
fn fifty_clients_on_the_floor_while_a_batch_writes_see_no_error_and_no_unit_lost() {
    let seconds: u64 = std::env::var("JACKBENCH_LOAD_S").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    for t in lab_data::all() {
        load(&t, seconds);
    }
}

/// 50 clients on the floor of `t` for `seconds` while a virtual batch writes into it.
fn load(t: &lab_data::TestDb, seconds: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(Database::open(&t.url).expect("db"));
    let s = serve(&t.url, &[]);
    // One listener counts the units as they land.
    let mut events = TcpStream::connect(&s.addr).expect("connects");
    events.set_read_timeout(Some(Duration::from_secs(seconds + 60))).expect("timeout");
    write!(events, "GET /events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n", s.addr).expect("sent");
    let (tx, rx) = std::sync::mpsc::channel::<i64>();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(events);
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            if let Some(data) = line.trim().strip_prefix("data: ") {
                let v: serde_json::Value = serde_json::from_str(data).expect("json");
                let _ = tx.send(v["id"].as_i64().unwrap_or(0));
            }
            line.clear();
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    // A virtual batch writes for as long as the clients read (one unit about every second).
    let serials = dir.path().join("serials.txt");
    std::fs::write(&serials, (1..=400).map(|k| format!("LOAD-{k:04}\n")).collect::<String>()).expect("serials");
    let mut batch = Command::new(env!("CARGO_BIN_EXE_jackbench"))
        .args(["batch", "--rig", "qa-bench", "--model", "hs-100", "--bench", "qa-load", "--operator", "kim"])
        .args(["--fault-rate", "0.3", "--seed", "5", "--db", &t.url])
        .arg("--serials")
        .arg(&serials)
        .arg("--out")
        .arg(dir.path().join("batch"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the batch starts");
    let until = Instant::now() + Duration::from_secs(seconds);
    let clients: Vec<_> = (0..50)
        .map(|_| {
            let addr = s.addr.clone();
            std::thread::spawn(move || {
                let (mut ok, mut bad) = (0u64, Vec::new());
                while Instant::now() < until {
                    let (status, body) = get(&addr, "/", &[]);
                    if status == 200 && body.contains("id=\"cards\"") {
                        ok += 1;
                    } else {
                        bad.push(format!("{status}: {}", body.chars().take(200).collect::<String>()));
                    }
                }
                (ok, bad)
            })
        })
        .collect();
    let (mut ok, mut bad) = (0, Vec::new());
    for c in clients {
        let (o, b) = c.join().expect("a client");
        ok += o;
        bad.extend(b);
    }
    // The batch is stopped as an operator would (Ctrl-C): what it stored stays.
    unsafe { libc::kill(batch.id() as i32, libc::SIGINT) };
    let _ = batch.wait();
    eprintln!(
        "{}: {ok} floor pages in {seconds} s to 50 clients ({:.0} a second), {} errors",
        t.backend,
        ok as f64 / seconds as f64,
        bad.len()
    );
    assert!(bad.is_empty(), "{} errors, e.g. {:?}", bad.len(), &bad[..bad.len().min(3)]);
    let mut db = Database::open_existing(&t.url).expect("db");
    let stored = store::last_unit_id(&mut db).expect("last");
    eprintln!("the batch stored {stored} units meanwhile, each arrived as its event");
    assert!(stored >= (seconds as i64 / 10).max(1), "the batch stored {stored} units in {seconds} s");
    // Every stored unit arrived as an event, in order, none twice.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = Vec::new();
    while seen.last() != Some(&stored) && Instant::now() < deadline {
        if let Ok(id) = rx.recv_timeout(Duration::from_millis(200)) {
            seen.push(id);
        }
    }
    assert_eq!(seen, (1..=stored).collect::<Vec<_>>(), "the live events");
    let (_, json) = get(&s.addr, "/api/floor", &[]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v["benches"][0]["units"].as_i64(), Some(stored), "{json}");
}

#[test]
fn a_role_that_may_only_read_serves_every_page() {
    // PostgreSQL: a lab gives the dashboard a role granted SELECT alone.
    let Some(t) = lab_data::postgres() else { return };
    let mut db = Database::open(&t.url).expect("db");
    for i in 0..4 {
        store_unit(&mut db, i, "qa-1", i == 2);
    }
    drop(db);
    let role = format!("jb_reader_{}", std::process::id());
    let mut owner = postgres::Client::connect(&t.url, postgres::NoTls).expect("connects");
    owner
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD 'reader'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"
        ))
        .expect("a read-only role");
    let at = t.url.find('@').expect("credentials in the URL");
    let reader_url = format!("postgres://{role}:reader{}", &t.url[at..]);
    {
        let mut reader = postgres::Client::connect(&reader_url, postgres::NoTls).expect("the reader connects");
        let denied = reader.batch_execute("DELETE FROM fault").expect_err("the role may not write");
        assert_eq!(denied.code(), Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE), "{denied:?}");
        let s = serve(&reader_url, &[]);
        for path in ["/", "/api/floor", "/unit?serial=SN-2", "/stats", "/api/stats", "/api/landed?after=0"] {
            let (status, body) = get(&s.addr, path, &[]);
            assert_eq!(status, 200, "{path}: {body}");
        }
        let (_, page) = get(&s.addr, "/unit?serial=SN-2", &[]);
        assert!(page.contains("FAIL") && page.contains("Fix: replace it"), "{page}");
        assert!(!page.contains(":reader@"), "the password is not shown");
    }
    // The role goes with its grants (its sessions may take a moment to end).
    owner.batch_execute(&format!("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}")).expect("revoked");
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Err(e) = owner.batch_execute(&format!("DROP ROLE IF EXISTS {role}")) {
        assert!(Instant::now() < deadline, "the role stays: {e:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
