//! The ambient-noise guard on the virtual bench: bursts of room sound (speech, a slam; 30–45 dB
//! over the fixture's noise floor, 50–300 ms) in the ear couplers and the headset microphone.
//!
//! - Archived sets (no repeats possible) with room sound over **every** acoustic capture: no
//!   false fault on any shipped rig, over many seeds.
//! - Live runs with room sound over 30 % of the captures (three times the 10 %): healthy
//!   units pass, every injected fault is still found and no faulty unit passes; disturbed
//!   captures are made again and counted.
//! - The command line: `run --ambient`, the report's room-sound lines, a batch storing the
//!   repeats per unit.

mod common;

use common::{par_each, virtual_rigs};
use jackbench::bench::run_plan;
use jackbench::capture::{CaptureSet, ComponentKind};
use jackbench::diagnosis::{diagnose, Diagnosis, FaultCode, Symptom, Verdict};
use jackbench::lab::db::Database;
use jackbench::lab::store::{self, Filter};
use jackbench::rig::virtual_bench::{Ambient, InjectedFault, VirtualBench};
use jackbench::rig::RigFile;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

struct Run {
    diagnosis: Diagnosis,
    bursts: usize,
    repeats: usize,
    kept_disturbed: usize,
}

fn run(rig: &RigFile, faults: &[InjectedFault], ambient: Ambient, seed: u64) -> Run {
    run_with(rig, faults, ambient, seed, false)
}

/// [`run`], with a reference microphone outside the fixture when `reference`.
fn run_with(rig: &RigFile, faults: &[InjectedFault], ambient: Ambient, seed: u64, reference: bool) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bench = VirtualBench::for_rig(rig, seed).with_ambient(ambient).with_reference_mic(reference);
    for f in faults {
        bench.inject(f).expect("allowed fault");
    }
    let outcome = run_plan(rig, &mut bench, dir.path(), &AtomicBool::new(false), &mut |_| {}).expect("run");
    assert!(outcome.stopped.is_none(), "{:?}", outcome.stopped);
    let set = CaptureSet::load(dir.path()).expect("a valid capture set");
    let manifest_repeats: u32 = set.manifest.captures.iter().map(|c| c.repeats).sum();
    assert_eq!(manifest_repeats as usize, outcome.repeats, "the manifest counts every repeat");
    Run {
        diagnosis: diagnose(&set, &rig.limits).expect("diagnosis"),
        bursts: bench.bursts().len(),
        repeats: outcome.repeats,
        kept_disturbed: set.manifest.captures.iter().filter(|c| c.room_sound.is_some()).count(),
    }
}

fn named(d: &Diagnosis) -> Vec<String> {
    let mut v: Vec<String> = d.faults.iter().map(|f| format!("{}:{}", f.component, f.code)).collect();
    v.extend(d.suspects.iter().map(|s| format!("suspects {:?}:{}", s.components, s.symptom.name())));
    v
}

#[test]
fn archived_sets_with_room_sound_over_every_capture_give_no_false_fault() {
    // An archived set cannot repeat: the guard is off, and every capture through a headset has a
    // burst in it somewhere (lead, tone, tail, sweep).
    let rigs: Vec<RigFile> = virtual_rigs()
        .into_iter()
        .map(|mut r| {
            r.guard.repeats = 0;
            r
        })
        .collect();
    let cases: Vec<(usize, u64)> = (0..rigs.len()).flat_map(|r| (0..12).map(move |s| (r, 900 + s))).collect();
    let alarms = Mutex::new(Vec::new());
    let bursts = std::sync::atomic::AtomicUsize::new(0);
    // Captures kept disturbed, counted per rig over its seeds.
    let seen = Mutex::new(vec![0usize; rigs.len()]);
    par_each(&cases, |&(r, seed)| {
        let out = run(&rigs[r], &[], Ambient { share: 1.0, ..Ambient::default() }, seed);
        bursts.fetch_add(out.bursts, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(out.repeats, 0);
        seen.lock().expect("seen")[r] += out.kept_disturbed;
        if out.diagnosis.verdict != Verdict::Pass {
            alarms.lock().expect("alarms").push(format!("{} seed {seed}: {:?}", rigs[r].name, named(&out.diagnosis)));
        }
    });
    for (rig, seen) in rigs.iter().zip(seen.into_inner().expect("seen")) {
        assert!(seen >= 6, "{}: room sound seen in {seen} captures of 12 sets", rig.name);
    }
    let alarms = alarms.into_inner().expect("alarms");
    println!("{} healthy archived sets, {} bursts: {} false alarm(s)", cases.len(), bursts.into_inner(), alarms.len());
    assert!(alarms.is_empty(), "{alarms:#?}");
}

#[test]
fn live_runs_repeat_what_room_sound_disturbed_and_miss_no_fault() {
    let rig = virtual_rigs().into_iter().find(|r| r.name == "qa-bench").expect("qa-bench");
    let ambient = Ambient { share: 0.3, ..Ambient::default() };
    // Healthy units: all pass, and the guard made some captures again.
    let (mut repeats, mut kept, mut bursts) = (0, 0, 0);
    for seed in 0..10 {
        let out = run(&rig, &[], ambient, 1200 + seed);
        assert_eq!(out.diagnosis.verdict, Verdict::Pass, "seed {seed}: {:?}", named(&out.diagnosis));
        repeats += out.repeats;
        kept += out.kept_disturbed;
        bursts += out.bursts;
    }
    println!("healthy: {bursts} bursts, {repeats} repeats, {kept} captures kept disturbed");
    assert!(repeats >= 4 && repeats * 4 >= bursts, "{repeats} repeats for {bursts} bursts at 30 % disturbed captures");
    // Every fault the rig's parts can carry, at moderate severity: found, and no faulty unit passes.
    let mut cases = Vec::new();
    for c in rig.components.iter().filter(|c| c.kind != ComponentKind::Loopback) {
        for s in Symptom::ALL.iter().filter(|s| FaultCode::new(c.kind, **s).is_some()) {
            cases.push(InjectedFault { component: c.id.get_ref().clone(), symptom: *s, severity: 0.5 });
        }
    }
    let misses = Mutex::new(Vec::new());
    let passed = Mutex::new(Vec::new());
    par_each(&cases, |fault| {
        let seed = 1300 + fault.symptom as u64 * 7 + fault.component.len() as u64;
        let out = run(&rig, std::slice::from_ref(fault), ambient, seed);
        let d = &out.diagnosis;
        if d.verdict == Verdict::Pass {
            passed.lock().expect("passed").push(format!("{}:{}", fault.component, fault.symptom));
        }
        let named_it = d.faults.iter().any(|f| fault.symptom.found_as(f.code.symptom))
            || d.suspects.iter().any(|s| fault.symptom.found_as(s.symptom));
        if !named_it {
            misses.lock().expect("misses").push(format!("{}:{} -> {:?}", fault.component, fault.symptom, named(d)));
        }
    });
    let (misses, passed) = (misses.into_inner().expect("misses"), passed.into_inner().expect("passed"));
    println!("{} faults under room sound: {} missed, {} passed", cases.len(), misses.len(), passed.len());
    assert!(passed.is_empty(), "faulty units passed: {passed:?}");
    assert!(misses.len() * 50 <= cases.len(), "{misses:#?}");
}

#[test]
fn a_reference_microphone_repeats_exactly_the_captures_a_burst_reached() {
    let rig = virtual_rigs().into_iter().find(|r| r.name == "qa-bench").expect("qa-bench");
    let ambient = Ambient { share: 0.3, ..Ambient::default() };
    // Healthy units: every burst made its capture again, or (at the repeat limit) marked it kept
    // disturbed; no capture without one was made again; every unit passes.
    let (mut bursts, mut repeats) = (0, 0);
    for seed in 0..10 {
        let out = run_with(&rig, &[], ambient, 1200 + seed, true);
        assert_eq!(out.diagnosis.verdict, Verdict::Pass, "seed {seed}: {:?}", named(&out.diagnosis));
        assert_eq!(out.repeats + out.kept_disturbed, out.bursts, "seed {seed}");
        bursts += out.bursts;
        repeats += out.repeats;
    }
    println!("healthy, reference microphone: {bursts} bursts, {repeats} repeats");
    // 60 captures through a headset at 30 %, and their repeats: about 20 ± 4 bursts.
    assert!(bursts >= 12, "{bursts} bursts over 10 units at 30 %");
    // Faults that put sound or gaps into the fixture's captures without room sound: the
    // reference hears the room at rest, so nothing is made again (the capture's own residual
    // cannot tell every one of them from room sound), and the fault is found.
    let faults = [
        ("front-jack", Symptom::Hum),
        ("front-jack", Symptom::Noise),
        ("front-jack", Symptom::Intermittent),
        ("dut", Symptom::Intermittent),
        ("hda", Symptom::Dropouts),
        ("dut", Symptom::RubBuzz),
        ("dut", Symptom::Distortion),
    ];
    let quiet = Ambient { share: 0.0, ..Ambient::default() };
    let residual_repeats = Mutex::new(Vec::new());
    par_each(&faults, |&(component, symptom)| {
        for severity in [0.2, 0.5, 0.9] {
            let fault = InjectedFault { component: component.into(), symptom, severity };
            let seed = 1400 + symptom as u64;
            let out = run_with(&rig, std::slice::from_ref(&fault), quiet, seed, true);
            let case = format!("{component}:{symptom} at {severity}");
            assert_eq!((out.repeats, out.kept_disturbed), (0, 0), "{case}");
            let d = &out.diagnosis;
            assert!(
                d.faults.iter().any(|f| f.code.symptom == symptom) || d.suspects.iter().any(|s| s.symptom == symptom),
                "{case}: {:?}",
                named(d)
            );
            let without = run_with(&rig, std::slice::from_ref(&fault), quiet, seed, false);
            residual_repeats.lock().expect("repeats").push(format!("{case}: {}", without.repeats));
        }
    });
    println!("repeats without a reference microphone: {:?}", residual_repeats.into_inner().expect("repeats"));
    // Under room sound, with the reference: no faulty unit passes.
    par_each(&faults, |&(component, symptom)| {
        let fault = InjectedFault { component: component.into(), symptom, severity: 0.5 };
        let out = run_with(&rig, std::slice::from_ref(&fault), ambient, 1500 + symptom as u64, true);
        assert_eq!(out.diagnosis.verdict, Verdict::Fail, "{component}:{symptom}");
        assert_eq!(out.repeats + out.kept_disturbed, out.bursts, "{component}:{symptom}");
    });
}

fn jackbench() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_jackbench"));
    c.env_remove("JACKBENCH_DB");
    c
}

#[test]
fn the_command_line_lets_room_sound_in_and_counts_the_repeats() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("set");
    let run = jackbench()
        .args(["run", "--virtual", "--ambient", "0.5", "--seed", "4", "--out"])
        .arg(&out)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}\n{}", String::from_utf8_lossy(&run.stdout));
    assert!(stderr.contains("room sound: ") && stderr.contains("made again"), "{stderr}");
    let html = std::fs::read_to_string(out.join("report.html")).expect("report");
    assert!(html.contains("made again (the ambient-noise guard)"), "the bench table counts the repeats");

    // A share outside 0..1 is refused, naming the flag.
    let bad = jackbench().args(["run", "--virtual", "--ambient", "2"]).output().expect("runs");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--ambient 2"), "{}", String::from_utf8_lossy(&bad.stderr));

    // A batch stores each unit's repeats.
    let lab = tmp.path().join("lab");
    std::fs::create_dir_all(lab.join("limits")).expect("dir");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("limits/hs-200.toml"), lab.join("limits/hs-200.toml"))
        .expect("limits");
    std::fs::write(lab.join("serials.txt"), "A1\nA2\nA3\nA4\n").expect("serials");
    let db = format!("sqlite:{}", lab.join("results.db").display());
    let batch = jackbench()
        .current_dir(&lab)
        .args(["batch", "--rig", "qa-bench", "--model", "hs-200", "--serials", "serials.txt", "--virtual"])
        .args(["--ambient", "0.5", "--seed", "5", "--bench", "qa-1", "--operator", "kim", "--db", &db])
        .output()
        .expect("runs");
    assert_eq!(batch.status.code(), Some(0), "{}", String::from_utf8_lossy(&batch.stderr));
    let mut d = Database::open(&db).expect("opened");
    let units = store::units(&mut d, &Filter::default()).expect("units");
    assert_eq!(units.len(), 4);
    assert!(units.iter().all(|u| u.verdict == "pass"), "{units:?}");
    assert!(
        units.iter().map(|u| u.repeats).sum::<i64>() > 0,
        "{:?}",
        units.iter().map(|u| u.repeats).collect::<Vec<_>>()
    );
}

#[test]
fn a_digital_loop_is_no_room_sound() {
    // A perfect wire (a sound server's null sink): the stimulus comes back sample for sample, in
    // every format, at every level. Its residual is rounding alone, far under the signal, and
    // in floating point its "noise" is zero, so any ratio over it is huge: never room sound.
    use jackbench::analysis::spectrum::Spectrum;
    use jackbench::capture::{CaptureEntry, Direction, Drive, PathSpec, SampleFormat};
    use jackbench::diagnosis::measure::measure_audio;
    use jackbench::stimulus::Stimulus;
    let rate = 48_000;
    let mut checked = 0;
    for format in [SampleFormat::S16, SampleFormat::S24, SampleFormat::F32] {
        for level in [-6.0, -20.0, -40.0] {
            let stimuli = [
                Stimulus::Sine { freq_hz: 1_000.0, level_dbfs: level, seconds: 0.5 },
                Stimulus::LogSweep { start_hz: 20.0, stop_hz: 20_000.0, level_dbfs: level, seconds: 0.5 },
            ];
            for stimulus in stimuli {
                let lead = vec![0.0; rate as usize / 10];
                let x: Vec<f64> = lead.iter().copied().chain(stimulus.render(rate)).chain(lead.repeat(2)).collect();
                let audio = jackbench::capture::Audio::from_f64(rate, format, &[x.clone(), x]);
                let entry = CaptureEntry {
                    file: "wire.wav".into(),
                    direction: Direction::Playback,
                    stimulus: "s".into(),
                    drive: Some(Drive::Both),
                    path: PathSpec {
                        driver: "card".into(),
                        port: "jack".into(),
                        adapter: "direct".into(),
                        headset: "plug".into(),
                    },
                    latency_s: None,
                    stream_events: Vec::new(),
                    repeats: 0,
                    room_sound: None,
                };
                let ctx = format!("{format:?} at {level} dBFS, {stimulus:?}");
                let m = measure_audio(audio, &entry, stimulus, &mut Spectrum::default()).expect("measured");
                assert_eq!(m.room_sound(), None, "{ctx}");
                assert!(m.ears.iter().all(|e| e.disturbances.is_empty() && e.dropouts.is_empty()), "{ctx}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 18);
}
