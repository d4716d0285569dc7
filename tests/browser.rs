//! The HTML report of a faulty virtual run, opened in a real headless Chromium (Debian's
//! `chromium`, which .ci/run installs): it loads with no console message at all (the page has no
//! script and fetches nothing) and its screenshot shows the page, red verdict first.
//! Without Chromium this test says so and passes, except in CI, where it must run.

mod common;

use std::path::PathBuf;
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"].iter().map(PathBuf::from).find(|p| p.is_file())
}

#[test]
fn the_report_loads_in_chromium_without_errors() {
    let Some(browser) = chromium() else {
        assert!(std::env::var_os("CI").is_none(), "CI installs chromium: it must be there");
        eprintln!("skipped: no chromium on this machine (apt-get install chromium)");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let set = dir.path().join("set");
    let o = Command::new(env!("CARGO_BIN_EXE_jackbench"))
        .args(["run", "--fault", "dut:channel_dead", "--out", set.to_str().expect("utf-8")])
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let page = set.join("report.html");
    let shot = dir.path().join("shot.png");
    let profile = dir.path().join("profile");
    let o = Command::new(&browser)
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
    let common::PngLook { width: w, height: h, inked, red_top, .. } = common::look_at_png(&shot);
    assert!(w >= 1000 && h >= 1000, "{w}×{h}");
    assert!(inked > 0.05, "the screenshot is nearly blank ({inked:.3} inked)");
    assert!(red_top > 0.2, "the FAIL verdict band is not at the top ({red_top:.3} red)");
}
