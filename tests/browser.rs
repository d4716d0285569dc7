//! HTML reports opened in a real headless Chromium (Debian's `chromium`, which .ci/run installs):
//! a faulty virtual run's, and a production unit's against its model's golden limits (the
//! limit-test table, the response masks with the golden units' band, rub & buzz and THD over
//! frequency against their limits). Each loads with no console message at all (the page has no
//! script and fetches nothing) and its screenshot shows the page, the verdict first.
//! And the lab's live floor (`jackbench serve`) driven over the DevTools protocol: a virtual batch
//! stores units into the served database and each appears on the open page in under a second.
//! Without Chromium these tests say so and pass, except in CI, where they must run.

mod common;

use std::path::PathBuf;
use std::process::Command;

/// The browser, or `None` with a visible message where there is none (under CI, a failure).
fn chromium() -> Option<PathBuf> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].iter().map(PathBuf::from).find(|p| p.is_file());
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI installs chromium: it must be there");
        eprintln!("skipped: no chromium on this machine (apt-get install chromium)");
    }
    found
}

#[test]
fn the_report_loads_in_chromium_without_errors() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let set = dir.path().join("set");
    let o = Command::new(env!("CARGO_BIN_EXE_jackbench"))
        .args(["run", "--fault", "dut:channel_dead", "--out", set.to_str().expect("utf-8")])
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let page = set.join("report.html");
    let look = screenshot(&browser, &page, dir.path());
    assert!(look.red_top > 0.2, "the FAIL verdict band is not at the top ({:.3} red)", look.red_top);
}

/// Opens `page` in Chromium, checks it loads without a console message, and looks at its
/// screenshot (at least 1000 × 1000 and not blank).
fn screenshot(browser: &std::path::Path, page: &std::path::Path, dir: &std::path::Path) -> common::PngLook {
    let shot = dir.join("shot.png");
    let profile = dir.join("profile");
    let o = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,1600",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium starts");
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "chromium failed: {log}");
    // Any console line is an error or a warning: the page runs no script of its own.
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE") || l.contains("Failed to load")).collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    let look = common::look_at_png(&shot);
    let (w, h) = (look.width, look.height);
    assert!(w >= 1000 && h >= 1000, "{w}×{h}");
    assert!(look.inked > 0.05, "the screenshot is nearly blank ({:.3} inked)", look.inked);
    look
}

#[test]
fn a_unit_against_its_golden_limits_shows_its_limit_tests_and_masks() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let jackbench = |args: &[&str]| {
        let o =
            Command::new(env!("CARGO_BIN_EXE_jackbench")).args(args).current_dir(dir.path()).output().expect("runs");
        (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    std::fs::write(dir.path().join("golden.txt"), "G1\nG2\nG3\nG4\nG5\n").expect("serials");
    std::fs::write(dir.path().join("units.txt"), "U1\n").expect("serials");
    let rig = concat!(env!("CARGO_MANIFEST_DIR"), "/rigs/qa-bench.toml");
    let calibrate = ["calibrate", "--rig", rig, "--model", "hs-100", "--units", "5", "--serials", "golden.txt"];
    let (code, err) = jackbench(&[&calibrate[..], &["--virtual"]].concat());
    assert_eq!(code, Some(0), "{err}");
    let batch = ["batch", "--rig", rig, "--model", "hs-100", "--serials", "units.txt", "--virtual"];
    let (code, err) = jackbench(&[&batch[..], &["--db", "results.sqlite", "--out", "tray"]].concat());
    assert_eq!(code, Some(0), "{err}");
    let page = dir.path().join("tray/U1/report.html");
    let html = std::fs::read_to_string(&page).expect("the unit's report");
    // The limit-test table: every row of a healthy unit passes.
    assert!(html.contains("<h2>Limit tests</h2>"), "no limit-test table");
    let passes = html.matches(">PASS</td>").count();
    assert!(passes >= 20 && !html.contains(">FAIL</td>"), "{passes} rows passed");
    // The masks with the golden units' band, and distortion against the golden limits, inlined.
    for caption in ["left ear response shape", "right ear response shape", "microphone response shape"] {
        assert!(html.contains(caption), "no golden-mask plot of the {caption}");
    }
    assert!(html.contains("Rub &amp; buzz against the golden limit of model hs-100"), "no golden rub & buzz plot");
    assert!(html.contains("THD over frequency against the golden limit of model hs-100"), "no golden THD plot");
    let look = screenshot(&browser, &page, dir.path());
    assert!(look.red_top < 0.05, "a healthy unit's page starts red ({:.3})", look.red_top);
}

/// A headless Chromium with the DevTools protocol on a free port, showing `url`.
struct Browser {
    child: std::process::Child,
    ws: tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    fn open(browser: &std::path::Path, url: &str) -> Browser {
        use std::io::BufRead;
        let profile = tempfile::tempdir().expect("tempdir");
        let mut child = Command::new(browser)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
            .args(["--disable-component-update", "--disable-sync", "--remote-debugging-port=0"])
            .args(["--window-size=1280,900", "--hide-scrollbars"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("chromium starts");
        let mut err = std::io::BufReader::new(child.stderr.take().expect("stderr"));
        let mut line = String::new();
        let mut said = String::new();
        while err.read_line(&mut line).is_ok_and(|n| n > 0) && !line.contains("DevTools listening on ws://") {
            said += &line;
            line.clear();
        }
        std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
        let port = line
            .split("ws://127.0.0.1:")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or_else(|| panic!("no DevTools address: {said}{line}"))
            .to_string();
        // The page's own connection.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let ws_url = loop {
            let (_, list) = common::served::get(&format!("127.0.0.1:{port}"), "/json/list", &[]);
            let v: serde_json::Value = serde_json::from_str(&list).unwrap_or_default();
            let page =
                v.as_array().and_then(|a| a.iter().find(|t| t["type"] == "page" && t["url"].as_str() == Some(url)));
            if let Some(ws) = page.and_then(|p| p["webSocketDebuggerUrl"].as_str()) {
                break ws.to_string();
            }
            assert!(std::time::Instant::now() < deadline, "no page target: {list}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        let (ws, _) = tungstenite::connect(ws_url.as_str()).expect("DevTools connects");
        Browser { child, ws, next_id: 0, _profile: profile }
    }

    /// Calls a DevTools method and waits for its result.
    fn call(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.next_id += 1;
        let id = self.next_id;
        let msg = serde_json::json!({ "id": id, "method": method, "params": params });
        self.ws.send(tungstenite::Message::text(msg.to_string())).expect("sent");
        loop {
            let m = self.ws.read().expect("DevTools answers");
            if let Ok(text) = m.to_text() {
                let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
                if v["id"].as_u64() == Some(id) {
                    assert!(v.get("error").is_none(), "{method}: {v}");
                    return v["result"].clone();
                }
            }
        }
    }

    /// A JavaScript expression's value on the page.
    fn eval(&mut self, expression: &str) -> serde_json::Value {
        let r = self.call("Runtime.evaluate", serde_json::json!({ "expression": expression, "returnByValue": true }));
        r["result"]["value"].clone()
    }
}

#[test]
fn the_floor_shows_each_unit_a_batch_stores_within_a_second_in_chromium() {
    use jackbench::lab::db::Database;
    use jackbench::lab::store;
    use std::time::{Duration, Instant};
    let Some(browser) = chromium() else { return };
    let db_file = common::lab_data::sqlite();
    let dir = tempfile::tempdir().expect("tempdir");
    let reports = dir.path().join("reports");
    std::fs::create_dir_all(&reports).expect("reports");
    let jackbench = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_jackbench"));
        c.args(args)
            .args(["--db", &db_file.url])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        c
    };
    let serials = |name: &str, list: &[&str]| {
        let f = dir.path().join(name);
        std::fs::write(&f, list.join("\n") + "\n").expect("serials");
        f.to_string_lossy().into_owned()
    };
    // A bench already on the floor, then the server and the page.
    let first = serials("first.txt", &["LIVE-000"]);
    let out = reports.join("first").to_string_lossy().into_owned();
    let batch = ["batch", "--rig", "qa-bench", "--model", "hs-100", "--bench", "qa-live", "--operator", "kim"];
    let status = jackbench(&[&batch[..], &["--serials", &first, "--out", &out]].concat()).status().expect("runs");
    assert_eq!(status.code(), Some(0));
    let s = common::served::serve(&db_file.url, &["--reports", reports.to_str().expect("utf-8")]);
    let url = format!("http://{}/", s.addr);
    let mut b = Browser::open(&browser, &url);
    let deadline = Instant::now() + Duration::from_secs(20);
    while b.eval("document.getElementById('live') && document.getElementById('live').textContent") != "Live." {
        assert!(Instant::now() < deadline, "the page never went live");
        std::thread::sleep(Duration::from_millis(100));
    }
    let card = "(function(){var c=document.querySelector('.card[data-bench=\"qa-live\"]');\
                return c?Number(c.getAttribute('data-last')):0;})()";
    assert_eq!(b.eval(card).as_i64(), Some(1));

    // A virtual batch of four units, one fault in three; each unit's arrival timed from when
    // it is in the database to when its card shows it.
    let tray = serials("tray.txt", &["LIVE-001", "LIVE-002", "LIVE-003", "LIVE-004"]);
    let out = reports.join("tray").to_string_lossy().into_owned();
    let mut run =
        jackbench(&[&batch[..], &["--serials", &tray, "--out", &out, "--fault-rate", "0.5", "--seed", "4"]].concat())
            .spawn()
            .expect("the batch starts");
    let mut db = Database::open_existing(&db_file.url).expect("db");
    let (mut stored_at, mut shown_at) = (std::collections::BTreeMap::new(), std::collections::BTreeMap::new());
    let deadline = Instant::now() + Duration::from_secs(120);
    while shown_at.len() < 4 && Instant::now() < deadline {
        let now = Instant::now();
        let last = store::last_unit_id(&mut db).expect("last");
        for id in 2..=last {
            stored_at.entry(id).or_insert(now);
        }
        let shown = b.eval(card).as_i64().unwrap_or(0);
        for id in 2..=shown {
            shown_at.entry(id).or_insert(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = run.wait();
    assert_eq!(shown_at.len(), 4, "units shown: {shown_at:?}");
    let lags: Vec<Duration> = (2..=5).map(|id| shown_at[&id].saturating_duration_since(stored_at[&id])).collect();
    eprintln!("stored → on the page: {lags:?}");
    assert!(lags.iter().all(|l| *l < Duration::from_secs(1)), "{lags:?}");
    // The card says what the database says, and the page looks like a floor.
    let text = b.eval("document.querySelector('.card[data-bench=\"qa-live\"]').textContent");
    assert!(text.as_str().is_some_and(|t| t.contains("LIVE-004") && t.contains("5 units")), "{text}");
    let shot = b.call("Page.captureScreenshot", serde_json::json!({ "format": "png" }));
    use base64::Engine;
    let png = base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().expect("data")).expect("base64");
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-floor.png");
    std::fs::write(&file, png).expect("written");
    let look = common::look_at_png(&file);
    assert!(look.width >= 1000 && look.inked > 0.05, "{look:?} ({})", file.display());
    eprintln!("the floor's screenshot: {}", file.display());
}
