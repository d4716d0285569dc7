//! `jackbench serve` as a client sees it, over SQLite and PostgreSQL: the floor's cards and JSON
//! from the stored units, a unit stored while a client listens arriving as an event within a
//! second, strings from the database escaped, and the token: required off localhost, checked on
//! every request when set.

mod common;

use common::lab_data::{self, unit};
use jackbench::lab::db::{now_ms, Database};
use jackbench::lab::store;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A served database: the child process and the address it printed.
struct Served {
    child: Child,
    addr: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(db: &str, extra: &[&str]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jackbench"))
        .args(["serve", "--db", db, "--listen", "127.0.0.1:0"])
        .args(extra)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("serve starts");
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    // The line that says where it listens (the database's notices may come first).
    let mut line = String::new();
    let mut said = String::new();
    while err.read_line(&mut line).is_ok_and(|n| n > 0) && !line.contains("http://") {
        said += &line;
        line.clear();
    }
    assert!(line.contains("http://"), "serve said: {said}");
    // The rest of what it says is drained, so that it never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::stderr()));
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    Served { child, addr }
}

/// One HTTP/1.1 GET: the status and the body.
fn get(addr: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connects");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req += &format!("{k}: {v}\r\n");
    }
    req += "\r\n";
    s.write_all(req.as_bytes()).expect("sent");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

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
    // The live page carries the token to what it fetches.
    assert!(page.contains(&format!("data-base=\"?token={token}\"")), "{page}");
    // A missing database is said before anything listens.
    let out = Command::new(env!("CARGO_BIN_EXE_jackbench"))
        .args(["serve", "--db", "/nonexistent/results.sqlite"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}
