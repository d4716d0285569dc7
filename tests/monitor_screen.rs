//! `jackbench monitor`'s screen as a technician sees it: started in a real terminal (tmux), keys
//! sent as they would be typed, the pane captured and read. Without tmux these tests say so and
//! pass, except in CI, where they must run.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of the test's own, killed when the test ends.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `command` in a detached 120 × 34 terminal, or `None` where there is no tmux.
    fn start(name: &str, command: &str) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            assert!(std::env::var_os("CI").is_none(), "CI installs tmux: it must be there");
            eprintln!("skipped: no tmux on this machine (apt-get install tmux)");
            return None;
        }
        let t = Tmux { socket: format!("jackbench-{name}-{}", std::process::id()) };
        let o = t.tmux(&["new-session", "-d", "-x", "120", "-y", "34", "-s", "bench", command]);
        assert!(o.status.success(), "tmux new-session: {}", String::from_utf8_lossy(&o.stderr));
        Some(t)
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux").args(["-L", &self.socket, "-f", "/dev/null"]).args(args).output().expect("tmux runs")
    }

    /// The pane's text as it is on screen now (`colours`: with its escape sequences).
    fn pane(&self, colours: bool) -> String {
        let mut args = vec!["capture-pane", "-p", "-t", "bench"];
        if colours {
            args.push("-e");
        }
        String::from_utf8_lossy(&self.tmux(&args).stdout).into_owned()
    }

    /// Waits until the pane shows what `seen` looks for; the pane then, or a failure with the pane.
    fn wait_for(&self, what: &str, seen: impl Fn(&str) -> bool) -> String {
        self.wait_for_in(false, what, seen)
    }

    /// [`Tmux::wait_for`], on the pane's text with its colours if `colours`.
    fn wait_for_in(&self, colours: bool, what: &str, seen: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let pane = self.pane(colours);
            if seen(&pane) {
                return pane;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "the screen never showed {what}:\n{pane}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Types keys: `literal` as text, else tmux key names (`Enter`, `Escape`).
    fn keys(&self, keys: &str, literal: bool) {
        let mut args = vec!["send-keys", "-t", "bench"];
        if literal {
            args.push("-l");
        }
        args.push(keys);
        assert!(self.tmux(&args).status.success());
    }

    /// Whether the terminal has rung its bell.
    fn rang(&self) -> bool {
        String::from_utf8_lossy(&self.tmux(&["display", "-p", "-t", "bench", "#{window_bell_flag}"]).stdout).trim()
            == "1"
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// The monitor in real time on the virtual bench, then the shell's report of its exit status.
fn command(out: &Path, extra: &str) -> String {
    format!(
        "{} monitor --duration 60s --out {} {extra}; echo EXIT=$?; sleep 60",
        env!("CARGO_BIN_EXE_jackbench"),
        out.display()
    )
}

/// The number after `label` on the first line that has it.
fn number_after(pane: &str, label: &str) -> Option<u64> {
    let rest = &pane[pane.find(label)? + label.len()..];
    rest.trim_start().split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// A line's row in the meters: its cells after the name.
fn row<'a>(pane: &'a str, name: &str) -> Option<&'a str> {
    pane.lines().find(|l| l.trim_start_matches('│').starts_with(&format!("{name} ")))
}

#[test]
fn a_worn_jack_flashes_rings_and_counts_and_the_keys_mark_reset_and_quit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("soak");
    let Some(t) = Tmux::start("worn", &command(&out, "--fault front-jack:intermittent:moderate --seed 4")) else {
        return;
    };
    // Every line gets its meter, its tone and, after the first second, its measured level.
    let pane = t.wait_for("every line's level and an event", |p| {
        ["left", "right", "mic"].iter().all(|n| row(p, n).is_some_and(|r| r.contains("dBFS")))
            && number_after(p, "events:").is_some_and(|n| n > 0)
    });
    assert!(pane.contains("hda → front-jack → direct → dut"), "the path is named:\n{pane}");
    for (name, tone) in [("left", "1000 Hz"), ("right", "1250 Hz"), ("mic", "700 Hz")] {
        let r = row(&pane, name).expect("row");
        assert!(r.contains(tone) && r.contains('█'), "{name}'s row shows its tone and a meter: {r}");
    }
    // The event is in the log with its time and size, the screen flashes red, the bell rang.
    assert!(pane.lines().any(|l| l.contains(" s  ") && l.contains("gap") && l.contains(" ms")), "{pane}");
    // The flash: the title bar turns red and says EVENT (for 0.7 s after each event).
    t.wait_for_in(true, "the title bar flashing red", |p| {
        p.lines().next().is_some_and(|top| top.contains("EVENT") && (top.contains("48;5;1m") || top.contains("41m")))
    });
    assert!(t.rang(), "the bell rang");

    // `1` marks the plug; `m` opens a note, typed and entered.
    t.keys("1", true);
    t.wait_for("the preset mark", |p| p.contains("── mark: wiggling the plug in the jack"));
    t.keys("m", true);
    t.wait_for("the note's prompt", |p| p.contains("Enter marks, Esc cancels"));
    t.keys("cable at the strain relief, bent", true);
    t.wait_for("the note being typed", |p| p.contains("mark: cable at the strain relief, bent█"));
    t.keys("Enter", false);
    t.wait_for("the note as a mark", |p| {
        p.contains("── mark: cable at the strain relief, bent") && p.contains("q  quit")
    });

    // `r` starts the counts again: fewer than before, and the reset is in the log.
    let before = number_after(&t.pane(false), "events:").expect("a count");
    t.keys("r", true);
    let pane = t.wait_for("the reset", |p| p.contains("── counts reset"));
    let after = number_after(&pane, "events:").expect("a count");
    assert!(after < before, "{after} events shown after the reset, {before} before");

    // `q` leaves the screen, prints the verdict and exits 1 (events were seen).
    t.keys("q", true);
    let pane = t.wait_for("the exit", |p| p.contains("EXIT="));
    assert!(pane.contains("FAIL:") && pane.contains("front-jack") && pane.contains("EXIT=1"), "{pane}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("monitor.json")).expect("monitor.json")).expect("json");
    let marks: Vec<&str> =
        summary["marks"].as_array().expect("marks").iter().filter_map(|m| m["text"].as_str()).collect();
    assert_eq!(marks, ["wiggling the plug in the jack", "cable at the strain relief, bent", "counts reset"]);
    assert!(summary["seconds"].as_f64().is_some_and(|s| s < 60.0), "q stopped it early: {summary}");
}

#[test]
fn a_healthy_path_shows_its_levels_and_nothing_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("soak");
    let Some(t) = Tmux::start("healthy", &command(&out, "--seed 2")) else {
        return;
    };
    let pane = t.wait_for("three seconds measured", |p| p.contains("0:00:04 / 0:01:00"));
    for name in ["left", "right", "mic"] {
        let r = row(&pane, name).expect("row");
        assert!(r.contains("dBFS") && !r.contains("DEAD"), "{r}");
    }
    assert_eq!(number_after(&pane, "events:"), Some(0), "{pane}");
    assert!(pane.contains("no event yet") && !pane.contains("EVENT"), "{pane}");
    assert!(!t.rang(), "the bell stayed quiet");
    t.keys("Escape", false);
    let pane = t.wait_for("the exit", |p| p.contains("EXIT="));
    assert!(pane.contains("PASS:") && pane.contains("EXIT=0"), "{pane}");
}
