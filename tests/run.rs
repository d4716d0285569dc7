//! `jackbench run` and the bench controller: a run writes a valid capture set and its diagnosis;
//! a run that stops early (Ctrl-C, a device that fails) keeps every capture already made in a
//! manifest that lists exactly those.

use jackbench::bench::run_plan;
use jackbench::capture::{CaptureSet, PathSpec};
use jackbench::rig::virtual_bench::VirtualBench;
use jackbench::rig::{AudioEndpoint, CaptureRequest, RigError, RigFile, Station, SwitchMatrix, Take};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

fn qa_bench() -> RigFile {
    RigFile::load(Path::new("qa-bench")).expect("built-in rig")
}

fn bench_for(rig: &RigFile) -> VirtualBench {
    VirtualBench::for_rig(rig, 3)
}

/// A virtual bench whose audio device disappears after `ok` captures.
struct Unplugged {
    inner: VirtualBench,
    ok: usize,
}

impl AudioEndpoint for Unplugged {
    fn capture(&mut self, request: &CaptureRequest) -> Result<Take, RigError> {
        if self.ok == 0 {
            return Err(RigError::Device { device: "hda".into(), message: "the device was unplugged".into() });
        }
        self.ok -= 1;
        self.inner.capture(request)
    }
}

impl SwitchMatrix for Unplugged {
    fn connect(&mut self, path: &PathSpec) -> Result<(), RigError> {
        self.inner.connect(path)
    }
    fn disconnect_all(&mut self) -> Result<(), RigError> {
        self.inner.disconnect_all()
    }
}

impl Station for Unplugged {
    fn endpoint(&mut self) -> &mut dyn AudioEndpoint {
        self
    }
    fn switch(&mut self) -> &mut dyn SwitchMatrix {
        self
    }
}

/// The set in `dir` loads, lists exactly the WAV files that exist, and can be diagnosed.
fn assert_consistent(dir: &Path, made: usize) {
    let set = CaptureSet::load(dir).expect("the partial set is valid");
    assert_eq!(set.manifest.captures.len(), made);
    let on_disk = std::fs::read_dir(dir.join("captures"))
        .expect("captures")
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "wav")));
    assert_eq!(on_disk.count(), made, "no stray or missing WAV files");
    let d = jackbench::diagnosis::diagnose(&set, &Default::default()).expect("diagnosable");
    // Every capture is measured (a sequence once per segment).
    let files: std::collections::BTreeSet<&str> = d.captures.iter().map(|c| c.measurements.file.as_str()).collect();
    assert_eq!(files.len(), made);
}

#[test]
fn a_device_that_fails_mid_run_keeps_what_was_made() {
    let rig = qa_bench();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut station = Unplugged { inner: bench_for(&rig), ok: 4 };
    let out = run_plan(&rig, &mut station, dir.path(), &AtomicBool::new(false), &mut |_| {}).expect("results kept");
    assert_eq!((out.captures, out.planned), (4, rig.schedule().len()));
    let why = out.stopped.expect("stopped early");
    assert!(why.contains("hda") && why.contains("unplugged"), "{why}");
    assert_consistent(dir.path(), 4);
}

#[test]
fn an_interrupted_run_keeps_what_was_made() {
    let rig = qa_bench();
    let dir = tempfile::tempdir().expect("tempdir");
    let stop = AtomicBool::new(false);
    let mut bench = bench_for(&rig);
    // Ctrl-C arrives while the 3rd capture is being made: in the take that makes the second
    // path's playback and record captures at once (the 3rd and the 4th), which is finished.
    let out = run_plan(&rig, &mut bench, dir.path(), &stop, &mut |p| {
        if p.index == 3 {
            stop.store(true, Ordering::SeqCst);
        }
    })
    .expect("results kept");
    assert_eq!(out.captures, 4);
    assert!(out.stopped.is_some_and(|w| w.contains("interrupted")));
    assert_consistent(dir.path(), 4);
}

fn jackbench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_jackbench")).args(args).output().expect("runs")
}

#[test]
fn the_default_run_passes_and_an_injected_fault_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let healthy = dir.path().join("healthy");
    let o = jackbench(&["run", "--out", healthy.to_str().expect("utf-8")]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("the plan takes 2.96 s per unit"), "{err}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("PASS"));
    assert!(healthy.join("diagnosis.json").is_file() && healthy.join("capture-set.toml").is_file());

    let faulty = dir.path().join("faulty");
    let o = jackbench(&[
        "run",
        "--rig",
        "repair-laptop",
        "--fault",
        "customer-adapter:pinout_mismatch:mild",
        "--seed",
        "9",
        "--out",
        faulty.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    // The fault in words a technician reads without a manual, the code after it; the evidence
    // says what was played, through which parts, what came back and what the comparison showed.
    assert!(out.contains("\n1. Customer's adapter: CTIA/OMTP pinout mismatch (mic and ground swapped)\n"), "{out}");
    assert!(out.contains("\n   code:     adapter.pinout_mismatch on customer-adapter (confidence "), "{out}");
    let evidence = out.lines().find(|l| l.starts_with("   evidence: ")).unwrap_or_default();
    assert!(
        evidence.starts_with(
            "   evidence: A 1 kHz tone played to the left ear through Bench USB audio interface → Bench reference jack → \
             Customer's adapter → Golden reference headset: it came back in both ears alike, one in opposite polarity \
             to the other (mic and ground swapped) ("
        ) && evidence.contains(". The same test through Bench USB audio interface → Bench reference jack → No adapter (direct) → Customer's headset was normal ("),
        "{evidence}"
    );
    assert!(out.contains("fix:"), "{out}");
    // The set re-diagnoses offline to the same verdict.
    let o = jackbench(&["diagnose", faulty.to_str().expect("utf-8"), "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let d: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(d["faults"][0]["code"], "adapter.pinout_mismatch");
}

#[test]
fn bad_runs_exit_2_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: [(&[&str], &str); 4] = [
        (&["run", "--fault", "dut:hum"], "dut is a headset, and hum is a fault of a port only"),
        (&["run", "--fault", "nobody:noise"], "not a component"),
        (&["run", "--fault", "dut:humming"], "not a symptom"),
        (
            &["run", "--rig", "no/such/rig.toml"],
            "no/such/rig.toml: no such rig file, and no built-in rig of that name (the built-in rigs: qa-bench, repair-laptop,",
        ),
    ];
    for (args, says) in cases {
        let mut all = args.to_vec();
        let out = dir.path().join(format!("run-{}", says.len()));
        all.extend_from_slice(&["--out", out.to_str().expect("utf-8")]);
        let o = jackbench(&all);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    // The OS's reason is said once, not once per layer.
    let o = jackbench(&["run", "--rig", dir.path().join("rig.toml").to_str().expect("utf-8")]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.matches("os error").count(), 0, "{err}");
    let unreadable = dir.path().join("a-folder.toml");
    std::fs::create_dir_all(&unreadable).expect("mkdir");
    let o = jackbench(&["run", "--rig", unreadable.to_str().expect("utf-8")]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.code() == Some(2) && err.matches("os error").count() == 1, "{err}");
    let rig = dir.path().join("bad.toml");
    let text = jackbench::rig::file::BUILT_IN[0].1.replacen("adapter = \"direct\"", "adapter = \"duct-tape\"", 1);
    std::fs::write(&rig, text).expect("write");
    let o = jackbench(&["run", "--rig", rig.to_str().expect("utf-8")]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2));
    assert!(err.contains("bad.toml:") && err.contains("plan.path[0].adapter") && err.contains("duct-tape"), "{err}");
}

#[test]
fn the_virtual_bench_is_reproducible_from_its_seed() {
    let rig = qa_bench();
    let make = |seed: u64| {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut bench = VirtualBench::for_rig(&rig, seed);
        bench
            .inject(&jackbench::rig::virtual_bench::InjectedFault::parse("dut:intermittent").expect("fault"))
            .expect("ok");
        run_plan(&rig, &mut bench, dir.path(), &AtomicBool::new(false), &mut |_| {}).expect("run");
        let set = CaptureSet::load(dir.path()).expect("set");
        set.manifest.captures.iter().map(|c| std::fs::read(set.wav_path(c)).expect("wav")).collect::<Vec<_>>()
    };
    let (a, b, c) = (make(11), make(11), make(12));
    assert_eq!(a, b, "the same seed gives the same captures, byte for byte");
    assert_ne!(a, c, "another seed gives other noise, delays and spread");
}

/// What a newcomer trips over gets a message that says what to do (issue #13): a folder that
/// is not a capture set, a batch folder given where one unit's set is meant, and the faults a
/// rig's components can be given.
#[test]
fn a_newcomers_mistakes_are_answered_with_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let batch = dir.path().join("tray");
    let unit = batch.join("SN-1");
    let o = jackbench(&["run", "--seed", "2", "--out", unit.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    // Without a batch's settings beside them, it is a folder of runs.
    let o = jackbench(&["diagnose", batch.to_str().expect("utf-8")]);
    let says = format!(
        "{}: a folder of capture sets, not a capture set: give one of them (e.g. {})",
        batch.display(),
        unit.display()
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains(&says), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::write(batch.join("batch.toml"), "").expect("written");
    for command in ["report", "diagnose"] {
        let o = jackbench(&[command, batch.to_str().expect("utf-8")]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        let says = format!(
            "{}: a batch folder, not a capture set: each unit's capture set is in its serial's folder underneath (e.g. {})",
            batch.display(),
            unit.display()
        );
        assert!(err.contains(&says), "{err}");
        let o = jackbench(&[command, dir.path().join("tray").join("SN-1").join("captures").to_str().expect("utf-8")]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.code() == Some(2) && err.contains("captures: not a capture set (it has no capture-set.toml)"),
            "{err}"
        );
    }
    let o = jackbench(&["faults", "--rig", "repair-laptop"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    assert!(out.contains("  hum               mains hum; on a port\n"), "{out}");
    assert!(out.contains(
        "  intermittent      sound drops out at moments (a worn contact); on a port, an adapter or a headset"
    ));
    assert!(out.contains("customer-adapter  Customer's adapter (adapter): output_dead, channel_dead,"), "{out}");
    assert!(out.contains("loop-plug") && !out.contains("qa-bench"), "{out}");
    let o = jackbench(&["faults"]);
    let out = String::from_utf8_lossy(&o.stdout);
    for name in ["qa-bench", "repair-laptop", "qa-splitter", "loopback-check", "qa-relay"] {
        assert!(out.contains(&format!("\n{name} (rigs/{name}.toml):\n")), "{name}: {out}");
    }
    let o = jackbench(&["run", "--rig", "repair-laptop", "--fault", "dut:channel_dead"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("`jackbench faults` lists what each can carry"));
}

/// A fix matches the measured fault (issue #13): a tone 0.7 % off is a faulty clock, a tone
/// 8 % off a device at 44.1 kHz under a 48 kHz stream.
#[test]
fn the_fix_for_a_wrong_rate_fits_how_far_off_the_tones_are() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (severity, says) in [
        // 0.70 % and the driver's own clock, ±200 ppm off the bench's.
        ("mild", "% low, which no pair of standard sample rates explains"),
        ("severe", "The device runs at 44.1 kHz where the stream is 48 kHz (tones 8.1 % low)"),
    ] {
        let out = dir.path().join(severity);
        let fault = format!("laptop-audio:rate_mismatch:{severity}");
        let o = jackbench(&["run", "--rig", "repair-laptop", "--fault", &fault, "--out", out.to_str().expect("utf-8")]);
        let text = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(1), "{text}");
        assert!(text.contains("1. Laptop audio driver: the sample rate is wrong (tones off pitch)\n"), "{text}");
        assert!(text.lines().any(|l| l.starts_with("   fix:      ") && l.contains(says)), "{severity}: {text}");
        if severity == "mild" {
            let pct = text
                .split("Tones come back ")
                .nth(1)
                .and_then(|t| t.split(' ').next())
                .and_then(|v| v.parse::<f64>().ok());
            assert!(pct.is_some_and(|p| (p - 0.70).abs() <= 0.03), "{text}");
        }
    }
}

/// The terminal lists the captures whose own values are out, with the value (issue #13: a dead
/// ear's one-sided tone read "-56.1 / —" and was not marked).
#[test]
fn the_terminal_lists_what_is_out_of_each_capture() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("dead-ear");
    let o = jackbench(&["run", "--fault", "dut:channel_dead", "--seed", "4", "--out", out.to_str().expect("utf-8")]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    let listed: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "captures out of their limits:")
        .skip(1)
        .take_while(|l| l.starts_with("   ✗ "))
        .collect();
    let one_sided = listed
        .iter()
        .filter(|l| {
            l.contains("-dut-playback-both-ears.wav [tone-left at")
                || l.contains("-dut-playback-both-ears.wav [tone-right at")
        })
        .count();
    assert!(one_sided >= 2, "the dead ear's one-sided tones on both jacks: {listed:?}");
    assert!(listed.iter().all(|l| l.contains("ear: nothing came back")), "{listed:?}");
}
