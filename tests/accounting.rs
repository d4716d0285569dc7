//! No verdict beyond the evidence (spec §4, v1.2): a capture set whose captures were not all
//! measured is never PASS, and work grows with the data, not with what a file claims.
//!
//! - Every capture of every shipped rig's plan (healthy unit), in turn zeroed, made NaN, cut to one
//!   frame, or 30 dB down: never `pass`; the capture is listed missing (with why) or a fault or
//!   suspect names a part of its path.
//! - A run stopped after any number of captures leaves a set that is `incomplete`, listing the
//!   captures the plan still had.
//! - A set that lists only the golden unit's captures: `incomplete`, the unit named.
//! - A stimulus declared longer than its capture (up to an hour), captures of every file kind,
//!   sequences of many segments and sets of many captures: named, bounded, measured.

mod common;

use common::{counter_rig, par_map, virtual_rigs};
use jackbench::bench::run_plan;
use jackbench::capture::{read_wav, write_wav, Audio, CaptureSet, Direction, SampleFormat};
use jackbench::diagnosis::{diagnose, Diagnosis, Verdict};
use jackbench::rig::virtual_bench::VirtualBench;
use jackbench::rig::RigFile;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Runs `rig`'s plan on a healthy virtual unit into `dir`.
fn healthy_set(rig: &RigFile, dir: &Path, seed: u64) {
    let mut bench = VirtualBench::for_rig(rig, seed);
    let outcome = run_plan(rig, &mut bench, dir, &AtomicBool::new(false), &mut |_| {}).expect("run");
    assert!(outcome.stopped.is_none(), "{:?}", outcome.stopped);
}

fn copy_set(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join("captures")).expect("mkdir");
    std::fs::copy(from.join("capture-set.toml"), to.join("capture-set.toml")).expect("copy manifest");
    for e in std::fs::read_dir(from.join("captures")).expect("captures").flatten() {
        std::fs::copy(e.path(), to.join("captures").join(e.file_name())).expect("copy capture");
    }
}

fn diagnosed(dir: &Path, rig: &RigFile) -> Diagnosis {
    let set = CaptureSet::load(dir).expect("a valid capture set");
    diagnose(&set, &rig.limits).expect("diagnosis")
}

#[derive(Debug, Clone, Copy)]
enum Harm {
    Zeroed,
    NotFinite,
    OneFrame,
    Down30,
}

/// The capture's samples after `harm`.
fn harmed(audio: &Audio, harm: Harm) -> Audio {
    let map = |f: &dyn Fn(f32) -> f32| Audio {
        rate_hz: audio.rate_hz,
        format: SampleFormat::F32,
        channels: audio.channels.iter().map(|c| c.iter().map(|v| f(*v)).collect()).collect(),
    };
    match harm {
        Harm::Zeroed => map(&|_| 0.0),
        Harm::NotFinite => map(&|_| f32::NAN),
        Harm::Down30 => map(&|v| v * 10f32.powf(-30.0 / 20.0)),
        Harm::OneFrame => Audio {
            rate_hz: audio.rate_hz,
            format: audio.format,
            channels: audio.channels.iter().map(|c| c[..1].to_vec()).collect(),
        },
    }
}

/// Whether capture `file` is accounted for by `d` other than as measured clean: missing, or on
/// the path of a fault or a suspect.
fn accounted(d: &Diagnosis, set: &CaptureSet, file: &str) -> bool {
    let Some(entry) = set.manifest.captures.iter().find(|c| c.file == file) else { return false };
    let on_path = |c: &str| entry.path.ids().contains(&c);
    d.missing.iter().any(|m| m.file.as_deref() == Some(file))
        || d.faults.iter().any(|f| on_path(&f.component))
        || d.suspects.iter().any(|s| s.components.iter().any(|c| on_path(c)))
}

#[test]
fn no_harmed_capture_on_any_rig_passes() {
    let mut rigs = virtual_rigs();
    rigs.push(counter_rig());
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut cases: Vec<(usize, String, Harm)> = Vec::new();
    for (r, rig) in rigs.iter().enumerate() {
        let dir = tmp.path().join(&rig.name);
        healthy_set(rig, &dir, 7);
        let set = CaptureSet::load(&dir).expect("set");
        assert_eq!(diagnosed(&dir, rig).verdict, Verdict::Pass, "{}: the healthy unit passes", rig.name);
        for c in &set.manifest.captures {
            for harm in [Harm::Zeroed, Harm::NotFinite, Harm::OneFrame, Harm::Down30] {
                cases.push((r, c.file.clone(), harm));
            }
        }
    }
    let results = par_map(&cases, |(r, file, harm)| {
        let rig = &rigs[*r];
        let case = tempfile::tempdir().expect("tempdir");
        copy_set(&tmp.path().join(&rig.name), case.path());
        let path = case.path().join(file);
        let audio = read_wav(&path).expect("read");
        write_wav(&path, &harmed(&audio, *harm)).expect("write");
        let set = CaptureSet::load(case.path()).expect("set");
        let d = diagnose(&set, &rig.limits).expect("diagnosis");
        let direction = set.manifest.captures.iter().find(|c| &c.file == file).map(|c| c.direction);
        let why = d.missing.iter().find(|m| m.file.as_deref() == Some(file)).map(|m| m.why.clone());
        let mut wrong = Vec::new();
        if d.verdict == Verdict::Pass {
            wrong.push("PASS".to_string());
        }
        if !accounted(&d, &set, file) {
            wrong.push("the capture is neither missing nor on a blamed path".into());
        }
        // What each harm must say, where it says it.
        let says = |w: &str| why.as_deref().is_some_and(|y| y.contains(w));
        match harm {
            Harm::NotFinite if !says("not finite") => wrong.push(format!("missing says {why:?}")),
            Harm::OneFrame if !says("too short") => wrong.push(format!("missing says {why:?}")),
            Harm::Zeroed if direction == Some(Direction::Playback) && !says("digital zeros") => {
                wrong.push(format!("missing says {why:?}"))
            }
            Harm::Down30 if d.verdict != Verdict::Fail => wrong.push(format!("{:?}, not fail", d.verdict)),
            _ => {}
        }
        (format!("{} {file} {harm:?}", rig.name), wrong)
    });
    let wrong: Vec<String> =
        results.iter().filter(|(_, w)| !w.is_empty()).map(|(c, w)| format!("{c}: {}", w.join("; "))).collect();
    println!("{} harmed captures on {} rigs: {} wrong", results.len(), rigs.len(), wrong.len());
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn a_run_stopped_anywhere_leaves_an_incomplete_set_that_lists_what_was_not_made() {
    let mut stopped_runs = 0;
    for rig in virtual_rigs() {
        let planned = rig.schedule().len();
        for made in [0, 1, planned / 2, planned - 1] {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut bench = VirtualBench::for_rig(&rig, 3);
            let stop = AtomicBool::new(false);
            // Stop when the capture after `made` is about to be made.
            let outcome = run_plan(&rig, &mut bench, dir.path(), &stop, &mut |p| {
                if p.index > made && !p.label.starts_with("plug") {
                    stop.store(true, Ordering::SeqCst);
                }
            })
            .expect("run");
            let set = CaptureSet::load(dir.path()).expect("a valid set, however short");
            assert_eq!(set.manifest.captures.len() + set.manifest.pending.len(), planned, "{}", rig.name);
            // The take that saw the stop asked for is still made: a stop at the last one is none.
            if outcome.stopped.is_none() {
                assert!(set.manifest.pending.is_empty(), "{}: a run that did not stop made its plan", rig.name);
                continue;
            }
            stopped_runs += 1;
            assert!(!set.manifest.pending.is_empty(), "{}: a stopped run left captures to make", rig.name);
            if set.manifest.captures.is_empty() {
                // Nothing measured: the set still diagnoses, as missing everything.
                let d = diagnose(&set, &rig.limits).expect("diagnosis");
                assert_eq!(d.verdict, Verdict::Incomplete);
                continue;
            }
            let d = diagnose(&set, &rig.limits).expect("diagnosis");
            assert_eq!(d.verdict, Verdict::Incomplete, "{} after {made}: {:?}", rig.name, d.missing);
            for p in &set.manifest.pending {
                let m = d.missing.iter().find(|m| m.file.as_deref() == Some(p.file.as_str()));
                assert!(
                    m.is_some_and(|m| m.why.contains("not made") && m.why.contains("interrupted")),
                    "{}: {} is listed as not made: {:?}",
                    rig.name,
                    p.file,
                    d.missing
                );
            }
        }
    }
    assert!(stopped_runs >= 6, "{stopped_runs} runs stopped");
}

#[test]
fn a_set_of_the_golden_unit_alone_is_incomplete_and_names_the_unit() {
    let rig = virtual_rigs().into_iter().find(|r| r.name == "qa-bench").expect("qa-bench");
    let dir = tempfile::tempdir().expect("tempdir");
    healthy_set(&rig, dir.path(), 11);
    let manifest_path = dir.path().join("capture-set.toml");
    let mut set = CaptureSet::load(dir.path()).expect("set");
    // What a foreign tool might leave: the unit's captures dropped, no plan to say so.
    set.manifest.captures.retain(|c| c.path.headset != "dut");
    set.manifest.pending.clear();
    set.manifest.write(dir.path()).expect("write");
    assert!(manifest_path.is_file());
    let d = diagnosed(dir.path(), &rig);
    assert_eq!(d.verdict, Verdict::Incomplete, "{:?}", d.missing);
    let dut: Vec<&str> =
        d.missing.iter().filter(|m| m.component.as_deref() == Some("dut")).map(|m| m.why.as_str()).collect();
    assert!(dut.iter().any(|w| w.contains("speakers")) && dut.iter().any(|w| w.contains("microphone")), "{dut:?}");
}

/// A manifest of one capture of `file`, a tone of `seconds`, at `rate`.
fn one_capture_set(dir: &Path, seconds: f64) {
    std::fs::create_dir_all(dir.join("captures")).expect("mkdir");
    std::fs::write(
        dir.join("capture-set.toml"),
        format!(
            r#"format = "jackbench-capture-set/1"
[[component]]
id = "hda"
kind = "driver"
[[component]]
id = "jack"
kind = "port"
[[component]]
id = "direct"
kind = "adapter"
reference = true
[[component]]
id = "hs"
kind = "headset"
[[stimulus]]
id = "sweep"
kind = "log_sweep"
start_hz = 20.0
stop_hz = 20000.0
level_dbfs = -12.0
seconds = {seconds}
[[capture]]
file = "captures/a.wav"
direction = "playback"
stimulus = "sweep"
drive = "both"
path = {{ driver = "hda", port = "jack", adapter = "direct", headset = "hs" }}
"#
        ),
    )
    .expect("manifest");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 12, ..Default::default() })]

    /// A stimulus claimed longer than the capture holds (up to an hour of a 1 s capture) is no
    /// measurement and costs nothing: the capture is missing as too short, whatever the claim.
    #[test]
    fn a_stimulus_longer_than_its_capture_is_too_short_whatever_it_claims(
        claim_s in proptest::prop_oneof![1.01f64..5.0, 5.0f64..3600.0],
        rate in proptest::sample::select(vec![44_100u32, 48_000, 96_000]),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        one_capture_set(dir.path(), claim_s);
        let audio = Audio::from_f64(rate, SampleFormat::S16, &[vec![0.01; rate as usize], vec![0.01; rate as usize]]);
        write_wav(&dir.path().join("captures/a.wav"), &audio).expect("write");
        let d = diagnose(&CaptureSet::load(dir.path()).expect("set"), &Default::default()).expect("diagnosis");
        proptest::prop_assert_eq!(d.verdict, Verdict::Incomplete);
        proptest::prop_assert!(d.missing.iter().any(|m| m.why.contains("too short")), "{:?}", d.missing);
        proptest::prop_assert!(d.captures.is_empty());
    }
}

#[test]
fn captures_that_are_not_regular_files_are_named_for_what_they_are() {
    let dir = tempfile::tempdir().expect("tempdir");
    one_capture_set(dir.path(), 0.5);
    let wav = dir.path().join("captures/a.wav");
    // What the error says, and how the path is made so.
    type Make = Box<dyn Fn(&PathBuf)>;
    let cases: Vec<(&str, Make)> = vec![
        ("a directory", Box::new(|p: &PathBuf| std::fs::create_dir(p).expect("dir"))),
        (
            "a symbolic link to",
            Box::new(|p: &PathBuf| std::os::unix::fs::symlink(p.with_file_name("gone.wav"), p).expect("link")),
        ),
        ("a character device", Box::new(|p: &PathBuf| std::os::unix::fs::symlink("/dev/zero", p).expect("link"))),
        (
            "a FIFO",
            Box::new(|p: &PathBuf| {
                let ok = std::process::Command::new("mkfifo").arg(p).status().is_ok_and(|s| s.success());
                assert!(ok, "mkfifo");
            }),
        ),
        ("No such file", Box::new(|_: &PathBuf| {})),
    ];
    for (says, make) in cases {
        let _ = std::fs::remove_file(&wav);
        let _ = std::fs::remove_dir(&wav);
        make(&wav);
        // Opening a FIFO for reading would wait for a writer: the diagnosis must not.
        let d = diagnose(&CaptureSet::load(dir.path()).expect("set"), &Default::default()).expect("diagnosis");
        assert_eq!(d.verdict, Verdict::Incomplete, "{says}");
        assert!(d.missing.iter().any(|m| m.why.contains(says)), "{says}: {:?}", d.missing);
    }
}

#[test]
fn a_manifest_that_is_not_a_regular_file_is_refused_without_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("capture-set.toml");
    let ok = std::process::Command::new("mkfifo").arg(&fifo).status().is_ok_and(|s| s.success());
    assert!(ok, "mkfifo");
    let e = CaptureSet::load(dir.path()).expect_err("a FIFO is no manifest").to_string();
    assert!(e.contains("FIFO") && e.contains("capture-set.toml"), "{e}");
    std::fs::remove_file(&fifo).expect("rm");
    std::os::unix::fs::symlink("/dev/zero", &fifo).expect("link");
    let e = CaptureSet::load(dir.path()).expect_err("a device is no manifest").to_string();
    assert!(e.contains("character device"), "{e}");
}

/// A record capture of a sequence of `n` tones of 40 ms, 10 ms apart, rendered with the bench's
/// own stimulus over a little noise.
fn sequence_set(dir: &Path, n: usize) {
    use jackbench::stimulus::{Segment, Stimulus};
    let segments: Vec<Segment> = (0..n)
        .map(|k| Segment {
            id: format!("t{k}"),
            drive: None,
            signal: Stimulus::Sine { freq_hz: 1000.0, level_dbfs: -12.0, seconds: 0.04 },
        })
        .collect();
    let seq = Stimulus::Sequence { segments, gap_s: 0.01 };
    let rate = 48_000u32;
    let lead = vec![0.0; (0.1 * f64::from(rate)) as usize];
    let tail = vec![0.0; (0.3 * f64::from(rate)) as usize];
    let mut x: Vec<f64> = lead.into_iter().chain(seq.render(rate)).chain(tail).collect();
    for (i, v) in x.iter_mut().enumerate() {
        *v = 0.3 * *v + 1e-4 * (((i * 7919) % 10_007) as f64 / 10_007.0 - 0.5);
    }
    std::fs::create_dir_all(dir.join("captures")).expect("mkdir");
    write_wav(&dir.join("captures/seq.wav"), &Audio::from_f64(rate, SampleFormat::F32, &[x])).expect("write");
    let mut m = jackbench::capture::Manifest::new(None);
    let text = r#"format = "jackbench-capture-set/1"
[[component]]
id = "hda"
kind = "driver"
[[component]]
id = "jack"
kind = "port"
[[component]]
id = "direct"
kind = "adapter"
reference = true
[[component]]
id = "hs"
kind = "headset"
reference = true
[[capture]]
file = "captures/seq.wav"
direction = "record"
stimulus = "seq"
path = { driver = "hda", port = "jack", adapter = "direct", headset = "hs" }
"#;
    let parsed = jackbench::capture::Manifest::parse(text, Path::new("x")).expect("parse");
    m.components = parsed.components;
    m.captures = parsed.captures;
    m.stimuli = vec![jackbench::capture::manifest::StimulusEntry { id: "seq".into(), signal: seq }];
    m.write(dir).expect("manifest");
}

#[test]
fn sequences_of_many_segments_are_measured_segment_by_segment() {
    for n in [1, 37, 1500] {
        let dir = tempfile::tempdir().expect("tempdir");
        sequence_set(dir.path(), n);
        let d = diagnose(&CaptureSet::load(dir.path()).expect("set"), &Default::default()).expect("diagnosis");
        assert_eq!(d.captures.len(), n, "one measurement a segment");
        assert_eq!(d.verdict, Verdict::Pass, "{n} segments: {:?} {:?} {:?}", d.missing, d.suspects, d.faults);
        for c in &d.captures {
            let level = c.measurements.ears[0].level_dbfs.expect("a tone in every segment");
            // -12 dBFS played, 0.3 recorded: -22.46 dBFS.
            assert!((level - (-12.0 + 20.0 * 0.3f64.log10())).abs() < 0.1, "{level}");
        }
    }
}

/// A loopback set of one path: a 1 kHz tone at `level_dbfs` after `delay_s`, rounded to `bits`
/// bits with Gaussian noise of `noise_dbfs` rms (or none), and a silence recorded as exact zeros.
fn digital_loop_set(dir: &Path, rate: u32, level_dbfs: f64, delay_s: f64, bits: i32, noise_dbfs: Option<f64>) {
    use rand::SeedableRng;
    use rand_distr::Distribution;
    std::fs::create_dir_all(dir.join("captures")).expect("mkdir");
    std::fs::write(
        dir.join("capture-set.toml"),
        r#"format = "jackbench-capture-set/1"
[[component]]
id = "pc"
kind = "driver"
[[component]]
id = "jack"
kind = "port"
[[component]]
id = "direct"
kind = "adapter"
reference = true
[[component]]
id = "plug"
kind = "loopback"
reference = true
[[stimulus]]
id = "tone"
kind = "sine"
freq_hz = 1000.0
level_dbfs = LEVEL
seconds = 0.5
[[stimulus]]
id = "quiet"
kind = "silence"
seconds = 0.3
[[capture]]
file = "captures/tone.wav"
direction = "loopback"
stimulus = "tone"
drive = "left"
path = { driver = "pc", port = "jack", adapter = "direct", headset = "plug" }
[[capture]]
file = "captures/quiet.wav"
direction = "loopback"
stimulus = "quiet"
drive = "left"
path = { driver = "pc", port = "jack", adapter = "direct", headset = "plug" }
"#
        .replace("LEVEL", &format!("{level_dbfs:.1}")),
    )
    .expect("manifest");
    let q = 2f64.powi(1 - bits);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(bits as u64);
    let noise =
        rand_distr::Normal::new(0.0, noise_dbfs.map_or(0.0, |n| 10f64.powf(n / 20.0) / 2f64.sqrt())).expect("normal");
    let a = 10f64.powf(level_dbfs / 20.0);
    let len = ((delay_s + 0.5 + 0.2) * rate as f64) as usize;
    let tone: Vec<f64> = (0..len)
        .map(|i| {
            let t = i as f64 / rate as f64 - delay_s;
            let v = if (0.0..0.5).contains(&t) { a * (2.0 * std::f64::consts::PI * 1000.0 * t).sin() } else { 0.0 };
            ((v + noise.sample(&mut rng)) / q).round() * q
        })
        .collect();
    write_wav(&dir.join("captures/tone.wav"), &Audio::from_f64(rate, SampleFormat::S24, &[tone])).expect("write");
    let quiet = vec![0.0; (0.5 * rate as f64) as usize];
    write_wav(&dir.join("captures/quiet.wav"), &Audio::from_f64(rate, SampleFormat::S24, &[quiet])).expect("write");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 16, ..Default::default() })]

    /// A recorder that returns its tone with no noise at all (a digital loop: a sound server's
    /// 16-bit sink, a codec that rounds and adds nothing) records silence as exact zeros: no mute,
    /// and the set passes. A recorder with noise of its own (−80 dBFS) that gives exact zeros for
    /// silence was muted or blocked: never a pass, a fault or suspect on its path.
    #[test]
    fn silence_as_zeros_is_a_mute_only_on_a_recorder_with_noise_of_its_own(
        rate in proptest::sample::select(vec![44_100u32, 48_000, 96_000]),
        level in -40.0f64..-3.0,
        delay in 0.0f64..0.1,
        bits in proptest::sample::select(vec![16, 20, 24]),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        digital_loop_set(dir.path(), rate, level, delay, bits, None);
        let d = diagnose(&CaptureSet::load(dir.path()).expect("set"), &Default::default()).expect("diagnosis");
        proptest::prop_assert_eq!(d.verdict, Verdict::Pass, "{:?} {:?} {:?}", d.faults, d.suspects, d.missing);

        let dir = tempfile::tempdir().expect("tempdir");
        digital_loop_set(dir.path(), rate, level, delay, bits, Some(-80.0));
        let set = CaptureSet::load(dir.path()).expect("set");
        let d = diagnose(&set, &Default::default()).expect("diagnosis");
        proptest::prop_assert!(d.verdict != Verdict::Pass);
        proptest::prop_assert!(accounted(&d, &set, "captures/quiet.wav"), "{:?} {:?} {:?}", d.faults, d.suspects, d.missing);
    }
}
