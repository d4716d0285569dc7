//! HTML reports opened in a real headless Chromium (Debian's `chromium`, which .ci/run installs):
//! a faulty virtual run's, and a production unit's against its model's golden limits (the
//! limit-test table, the response masks with the golden units' band, rub & buzz and THD over
//! frequency against their limits). Each loads with no console message at all (the page has no
//! script and fetches nothing) and its screenshot shows the page, the verdict first.
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
