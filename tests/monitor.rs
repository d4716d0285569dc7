//! `jackbench monitor` against the virtual bench's truth: every gap the model opens is found at
//! its time, a healthy path gives no event, and the command's JSON lines and soak directory.

use jackbench::capture::{ComponentKind, PathSpec};
use jackbench::monitor::{Event, EventKind, Monitor};
use jackbench::rig::stream::{AudioStream, StreamPlan};
use jackbench::rig::virtual_bench::{InjectedFault, Pace, StreamTruth, VirtualBench, VirtualStream};

fn bench(seed: u64, faults: &[&str]) -> VirtualBench {
    let mut b = VirtualBench::new(
        [
            ("hda", ComponentKind::Driver),
            ("jack", ComponentKind::Port),
            ("adapter", ComponentKind::Adapter),
            ("dut", ComponentKind::Headset),
        ],
        seed,
    );
    for f in faults {
        b.inject(&InjectedFault::parse(f).expect("fault")).expect("allowed");
    }
    b
}

fn plan(rate_hz: u32, level_dbfs: f64) -> StreamPlan {
    StreamPlan {
        path: PathSpec { driver: "hda".into(), port: "jack".into(), adapter: "adapter".into(), headset: "dut".into() },
        ears: Some([1000.0, 1250.0]),
        mouth: Some(700.0),
        level_dbfs,
        rate_hz,
    }
}

/// Runs `seconds` of the stream through a monitor: the events found and the model's truth.
fn watch(b: &VirtualBench, plan: StreamPlan, seed: u64, seconds: f64) -> (Vec<Event>, Vec<StreamTruth>) {
    let mut stream = VirtualStream::new(b, plan, seed, Pace::Fast).expect("stream");
    let names = stream.channels();
    let mut monitor = Monitor::new(&names, stream.rate_hz());
    let mut events = Vec::new();
    let mut blocks = vec![Vec::new(); names.len()];
    let total = (seconds * f64::from(stream.rate_hz())) as u64;
    while stream.frames() < total {
        blocks.iter_mut().for_each(Vec::clear);
        stream.read(&mut blocks).expect("read");
        monitor.push(&blocks, &mut events);
    }
    (events, stream.truth().to_vec())
}

/// The truth events a monitor can see: after its first second (its reference) and before the
/// last 0.2 s, not starting inside an earlier gap on the same line (they are one gap then).
fn visible(truth: &[StreamTruth], rate: f64, seconds: f64) -> Vec<&StreamTruth> {
    let merge = (0.002 * rate) as u64;
    truth
        .iter()
        .filter(|t| {
            let at = t.start_frame as f64 / rate;
            at > 1.2 && at < seconds - 0.3
        })
        .filter(|t| {
            !truth.iter().any(|o| {
                o.line == t.line && o.start_frame < t.start_frame && o.start_frame + o.frames + merge >= t.start_frame
            })
        })
        .collect()
}

#[test]
fn every_gap_of_a_worn_contact_or_a_dropout_is_found_within_5_ms() {
    let names = ["left", "right", "mic"];
    let (mut found, mut total) = (0, 0);
    let mut missed = Vec::new();
    // Worn contacts on each part, a driver's dropouts, at several levels and rates.
    let cases: [(&str, u32, f64); 5] = [
        ("jack:intermittent:severe", 48_000, -12.0),
        ("adapter:intermittent:moderate", 44_100, -20.0),
        ("dut:intermittent:severe", 96_000, -6.0),
        ("hda:dropouts:severe", 48_000, -12.0),
        ("jack:intermittent:moderate", 48_000, -30.0),
    ];
    for (k, (fault, rate, level)) in cases.iter().enumerate() {
        let seconds = 20.0;
        let (events, truth) = watch(&bench(k as u64, &[fault]), plan(*rate, *level), 50 + k as u64, seconds);
        let r = f64::from(*rate);
        for t in visible(&truth, r, seconds) {
            total += 1;
            let at = t.start_frame as f64 / r;
            let hit = events.iter().any(|e| {
                e.channel == names[t.line]
                    && matches!(e.kind, EventKind::Gap | EventKind::Dead)
                    && (e.t_s - at).abs() <= 0.005
            });
            if hit {
                found += 1;
            } else {
                missed.push(format!("{fault} @{rate}: {t:?} at {at:.4} s"));
            }
        }
        // Nothing found where the model put nothing (a click at a gap's edge is part of it).
        for e in &events {
            let near = truth.iter().any(|t| {
                let (a, b) = (t.start_frame as f64 / r, (t.start_frame + t.frames) as f64 / r);
                names[t.line] == e.channel && e.t_s >= a - 0.005 && e.t_s <= b + 0.005
            });
            assert!(near, "{fault}: {e:?} where the model opened nothing");
        }
    }
    println!("gaps found within 5 ms: {found} of {total}");
    assert!(total >= 300, "{total} gaps");
    assert!(found * 100 >= total * 99, "{found} of {total}: {missed:#?}");
}

#[test]
fn a_healthy_path_gives_no_event_in_an_hour() {
    // An hour at 48 kHz and −12 dBFS beside ten minutes at 44.1 kHz and −24 dBFS (the two on
    // the machine's two cores).
    let runs: Vec<std::thread::JoinHandle<()>> = [(1u64, 48_000u32, -12.0, 3600.0), (2, 44_100, -24.0, 600.0)]
        .into_iter()
        .map(|(seed, rate, level, seconds)| {
            std::thread::spawn(move || {
                let (events, truth) = watch(&bench(seed, &[]), plan(rate, level), seed, seconds);
                assert!(truth.is_empty());
                assert!(events.is_empty(), "seed {seed}, {seconds} s: {events:?}");
            })
        })
        .collect();
    for r in runs {
        r.join().expect("no event");
    }
}

fn jackbench(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_jackbench")).args(args).output().expect("runs")
}

#[test]
fn the_command_writes_a_json_line_per_event_and_per_second_and_its_soak_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("soak");
    let o = jackbench(&[
        "monitor",
        "--fast",
        "--duration",
        "6s",
        "--json",
        "--fault",
        "front-jack:intermittent:severe",
        "--out",
        &out.to_string_lossy(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let of = |t: &str| lines.iter().filter(|l| l["type"] == t).collect::<Vec<_>>();
    // A second's line each second, with every line's level, THD and noise.
    let seconds = of("second");
    assert_eq!(seconds.len(), 6);
    for (k, s) in seconds.iter().enumerate() {
        assert_eq!(s["t_s"].as_f64(), Some((k + 1) as f64));
        let names: Vec<&str> =
            s["lines"].as_array().expect("lines").iter().filter_map(|l| l["channel"].as_str()).collect();
        assert_eq!(names, ["left", "right", "mic"]);
        for l in s["lines"].as_array().expect("lines") {
            assert!(l["level_dbfs"].as_f64().is_some_and(|v| v < -12.0 && v > -40.0), "{l}");
            // The events are left out of the noise (from the second second on: the first is
            // the reference the scan starts from).
            if k > 0 {
                assert!(l["noise_dbfs"].as_f64().is_some_and(|v| v < -70.0), "second {}: {l}", k + 1);
            }
        }
    }
    // Events in time order, each with its line and kind; a severe worn contact opens about 12
    // times a second after the first second.
    let events = of("event");
    assert!(events.len() >= 20, "{} events", events.len());
    let times: Vec<f64> = events.iter().filter_map(|e| e["t_s"].as_f64()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1] + 0.05), "{times:?}");
    assert!(events
        .iter()
        .all(|e| e["kind"] == "gap" || e["kind"] == "click" || e["kind"] == "dead" || e["kind"] == "back"));
    let summary = of("summary");
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0]["verdict"]["pass"], false);
    assert_eq!(summary[0]["verdict"]["suspects"][0], "front-jack");
    // The directory: every event on disk, clips around them, the summary.
    let logged = std::fs::read_to_string(out.join("events.jsonl")).expect("events.jsonl");
    assert_eq!(logged.lines().count(), events.len());
    let clips = std::fs::read_dir(out.join("clips")).expect("clips").count();
    assert!(clips >= 1 && clips <= events.len(), "{clips} clips");
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("monitor.json")).expect("monitor.json")).expect("json");
    assert_eq!(written["seconds"].as_f64(), Some(6.0));
    // The report: the verdict, the counts, and the four plots over time inlined.
    let page = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    assert!(page.contains("FAIL") && page.contains("front-jack"), "the verdict names the port");
    assert_eq!(page.matches("data:image/png;base64,").count(), 4);

    // A healthy path: no event, exit 0.
    let healthy = dir.path().join("healthy");
    let o = jackbench(&["monitor", "--fast", "--duration", "4s", "--json", "--out", &healthy.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!String::from_utf8_lossy(&o.stdout).contains("\"type\":\"event\""));
}

#[test]
fn bad_paths_and_real_devices_are_named_errors() {
    let o = jackbench(&["monitor", "--fast", "--duration", "1s", "--path", "9"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--path 9") && err.contains("4 paths"), "{err}");
    let o = jackbench(&["monitor", "--fast", "--duration", "1s", "--path", "4"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("loop-plug") && err.contains("loopback plug"), "{err}");
}

/// Runs `jackbench ARGS` with `input` on its standard input.
fn jackbench_with(args: &[&str], input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_jackbench"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("written");
    child.wait_with_output().expect("ends")
}

#[test]
fn a_technician_s_lines_mark_moments_and_q_stops_an_endless_soak() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("soak");
    // An hour asked for; `q` ends it at once, with everything written.
    let o = jackbench_with(
        &["monitor", "--fast", "--duration", "1h", "--json", "--out", &out.to_string_lossy()],
        "wiggling the plug\nq\n",
    );
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    let mark: serde_json::Value = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .find(|v: &serde_json::Value| v["type"] == "mark")
        .expect("a mark line");
    assert_eq!(mark["text"], "wiggling the plug");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("monitor.json")).expect("monitor.json")).expect("json");
    assert!(summary["seconds"].as_f64().is_some_and(|s| s < 3600.0), "{summary}");
    assert_eq!(summary["marks"][0]["text"], "wiggling the plug");
    let logged = std::fs::read_to_string(out.join("events.jsonl")).expect("events");
    assert!(logged.lines().any(|l| l.contains("\"type\":\"mark\"")), "{logged}");
}

/// Runs the repair bench's paths in turn with `faults`; the summary and the event lines.
fn paths_in_turn(faults: &[&str]) -> (serde_json::Value, Vec<serde_json::Value>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("soak");
    let mut args = vec!["monitor", "--rig", "rigs/repair-laptop.toml", "--path", "all", "--fast", "--json"];
    args.extend(["--dwell", "10s", "--duration", "80s", "--seed", "3", "--out"]);
    let out_arg = out.to_string_lossy().into_owned();
    args.push(&out_arg);
    for f in faults {
        args.extend(["--fault", f]);
    }
    let o = jackbench(&args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(if faults.is_empty() { 0 } else { 1 }), "{faults:?}: {err}");
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&o.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("monitor.json")).expect("monitor.json")).expect("json");
    (summary, lines)
}

#[test]
fn paths_watched_in_turn_name_the_part_on_every_path_with_events() {
    // The repair bench's four acoustic paths, 10 s each, twice round: a worn part shows on every
    // path through it and on none of the others, a driver on both of its paths at once on every
    // line.
    for (fault, part) in [
        ("customer-adapter:intermittent:moderate", "customer-adapter"),
        ("laptop-jack:intermittent:moderate", "laptop-jack"),
        ("customer-headset:intermittent:mild", "customer-headset"),
        ("laptop-audio:dropouts:moderate", "laptop-audio"),
    ] {
        let (summary, lines) = paths_in_turn(&[fault]);
        assert_eq!(summary["verdict"]["suspects"], serde_json::json!([part]), "{fault}: {summary}");
        // Every event names its path, and only paths through the part have any.
        let events: Vec<&serde_json::Value> = lines.iter().filter(|l| l["type"] == "event").collect();
        assert!(!events.is_empty());
        for e in &events {
            let path = e["path"].as_str().expect("an event's path");
            assert!(path.split(" → ").any(|p| p == part), "{fault}: an event on {path}");
        }
        // The turns are marks in the record: four paths, twice.
        let turns = summary["marks"]
            .as_array()
            .expect("marks")
            .iter()
            .filter(|m| m["text"].as_str().is_some_and(|t| t.starts_with("watching ")));
        assert_eq!(turns.count(), 8, "{fault}");
    }
    // Two worn parts on paths that share nothing the quiet paths do not clear: both are named.
    let (summary, _) = paths_in_turn(&["customer-adapter:intermittent:moderate", "laptop-jack:intermittent:moderate"]);
    let suspects = summary["verdict"]["suspects"].to_string();
    assert!(suspects.contains("customer-adapter") && suspects.contains("laptop-jack"), "{summary}");
    assert!(summary["verdict"]["findings"][0].as_str().is_some_and(|f| f.contains("more than one")), "{summary}");
    // A healthy bench: every path quiet.
    let (summary, _) = paths_in_turn(&[]);
    assert_eq!(summary["verdict"]["pass"], true, "{summary}");
}

#[test]
fn a_soak_stopped_by_sigterm_writes_its_summary_and_report() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("soak");
    // An overnight soak that a service manager (or `kill`) stops: as Ctrl-C, nothing is lost.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_jackbench"))
        .args(["monitor", "--duration", "8h", "--json", "--out", &out.to_string_lossy()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let second = lines.by_ref().map_while(Result::ok).find(|l| l.contains("\"type\":\"second\""));
    assert!(second.is_some(), "a second was measured");
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    // SAFETY: kill(2) on the child this test started; no memory is shared.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().expect("ends");
    assert_eq!(status.code(), Some(0), "a healthy path, stopped: {rest:?}");
    assert!(rest.iter().any(|l| l.contains("\"type\":\"summary\"")), "{rest:?}");
    assert!(out.join("monitor.json").exists() && out.join("report.html").exists());
}
