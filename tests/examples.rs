//! The six example capture sets of ../shared/examples, diagnosed through the binary and checked
//! against their truth: the right component and code (or the true one among the equivalents the
//! truth lists, in `faults` or `suspects`), and a pass for the healthy set.

use jackbench::analysis::align::align;
use jackbench::analysis::Spectrum;
use jackbench::capture::{read_wav, write_wav, Audio, CaptureEntry, CaptureSet, Direction, SampleFormat};
use jackbench::stimulus::Stimulus;
use realfft::RealFftPlanner;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn examples_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/examples/capture-sets");
    if dir.join("truth.json").is_file() {
        return Some(dir);
    }
    // CI always has shared/ beside the repository: there, missing examples are a failure.
    assert!(std::env::var_os("CI").is_none(), "{} is missing", dir.display());
    eprintln!("skipped: {} is not here (it is beside the repository in CI)", dir.display());
    None
}

#[test]
fn every_example_set_is_diagnosed_right() {
    let Some(dir) = examples_dir() else { return };
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).expect("truth")).expect("json");
    let sets = truth.as_object().expect("object");
    assert!(sets.len() >= 6);
    for (name, t) in sets {
        check_diagnosis(name, &dir.join(name), t);
    }
}

/// Diagnoses `set` through the binary and checks it against its truth `t`.
fn check_diagnosis(name: &str, set: &Path, t: &Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_jackbench"))
        .args(["diagnose", set.to_str().expect("utf-8"), "--json"])
        .output()
        .expect("runs");
    let d: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{name}: {e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(d["format"], "jackbench-diagnosis/1");
    let want = t["faults"].as_array().expect("faults");
    if want.is_empty() {
        assert_eq!(d["verdict"], "pass", "{name}: {} {}", d["faults"], d["suspects"]);
        assert_eq!(out.status.code(), Some(0), "{name}");
        return;
    }
    assert_eq!(d["verdict"], "fail", "{name}");
    assert_eq!(out.status.code(), Some(1), "{name}");
    for f in want {
        let code = f["code"].as_str().expect("code");
        let symptom = code.split_once('.').map(|(_, s)| s).expect("kind.symptom");
        let ok_components: Vec<&str> =
            f["equivalent"].as_array().expect("equivalent").iter().filter_map(Value::as_str).collect();
        let in_faults = d["faults"]
            .as_array()
            .expect("faults")
            .iter()
            .any(|g| g["code"] == code && ok_components.contains(&g["component"].as_str().unwrap_or("")));
        let in_suspects = d["suspects"].as_array().expect("suspects").iter().any(|s| {
            s["symptom"] == symptom
                && s["components"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|x| ok_components.contains(&x.as_str().unwrap_or(""))))
        });
        assert!(in_faults || in_suspects, "{name}: {code} on {ok_components:?} not found in {}", d["faults"]);
    }
    // Every fault carries evidence, a confidence in 0..1 and a remedy.
    for g in d["faults"].as_array().expect("faults") {
        let c = g["confidence"].as_f64().expect("confidence");
        assert!((0.0..=1.0).contains(&c), "{name}: {g}");
        assert!(!g["evidence"].as_str().unwrap_or("").is_empty() && !g["remedy"].as_str().unwrap_or("").is_empty());
    }
}

#[test]
fn unusable_sets_exit_2_naming_file_and_field() {
    let Some(dir) = examples_dir() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let copy = tmp.path().join("set");
    std::fs::create_dir_all(copy.join("captures")).expect("mkdir");
    let src = dir.join("example-00");
    let manifest = std::fs::read_to_string(src.join("capture-set.toml")).expect("manifest");
    for entry in std::fs::read_dir(src.join("captures")).expect("captures") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), copy.join("captures").join(entry.file_name())).expect("copy");
    }
    let run = |text: &str| {
        std::fs::write(copy.join("capture-set.toml"), text).expect("write");
        Command::new(env!("CARGO_BIN_EXE_jackbench"))
            .args(["diagnose", copy.to_str().expect("utf-8")])
            .output()
            .expect("runs")
    };
    let cases = [
        (manifest.replacen("headset = \"dut\" }", "headset = \"nobody\" }", 1), "path.headset"),
        (manifest.replacen("stimulus = \"sweep\"", "stimulus = \"chirp\"", 1), ".stimulus"),
        (manifest.replacen("kind = \"sine\"", "kind = \"square\"", 1), "capture-set.toml"),
    ];
    for (text, says) in cases {
        let out = run(&text);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{says}: {err}");
        assert!(err.contains(says) && err.contains("capture-set.toml"), "{says}: {err}");
    }
    // A manifest with no captures has nothing to judge: unusable, not a pass.
    let header = manifest.split("[[capture]]").next().expect("header").to_string();
    let out = run(&header);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no captures"));
    // A capture that is missing or corrupt is not measured: the set is incomplete (exit 1), the
    // capture named with why, and the rest measured.
    let missing = manifest.replacen("captures/p3-record-sweep.wav", "captures/missing.wav", 1);
    let out = run(&missing);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("INCOMPLETE") && text.contains("missing.wav") && text.contains("No such file"), "{text}");
    std::fs::write(copy.join("captures/p0-record-quiet.wav"), b"RIFF garbage").expect("write");
    let out = run(&manifest);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("INCOMPLETE") && text.contains("p0-record-quiet.wav: not a usable WAV"), "{text}");
}

/// What the contract leaves open must not change a diagnosis: the sample rate (44.1, 48 or
/// 96 kHz) and encoding of the WAV files, the unknown absolute gain of the couplers and of the
/// recording path, and the unknown delay before the stimulus. Each example set is rewritten
/// under each of these changes and must still be diagnosed as its truth says.
#[test]
fn examples_keep_their_diagnosis_under_what_the_contract_leaves_open() {
    let Some(dir) = examples_dir() else { return };
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).expect("truth")).expect("json");
    let variants: [(&str, Rewrite); 4] = [
        ("gain", |_, entry, audio| {
            // Couplers 6 dB less sensitive, the recording path 3 dB quieter; stored as float so
            // that nothing but the gain changes.
            let g = if entry.direction == Direction::Playback { 0.5 } else { 0.708 };
            Audio {
                format: SampleFormat::F32,
                channels: audio.channels.iter().map(|c| c.iter().map(|v| v * g).collect()).collect(),
                ..audio
            }
        }),
        ("rate", |_, _, audio| {
            let to = if audio.rate_hz == 48_000 { 44_100 } else { 48_000 };
            resample(audio, to)
        }),
        ("96k-float", |_, _, audio| Audio { format: SampleFormat::F32, ..resample(audio, 96_000) }),
        ("earlier", |stimulus, _, audio| {
            // Half of the lead before the stimulus cut away (all of 0.1 s of a silence capture).
            let rate = audio.rate_hz;
            let lead = match stimulus {
                Stimulus::Silence { .. } => 0.1 * f64::from(rate),
                _ => {
                    let loudest =
                        audio.channels.iter().max_by(|a, b| energy(a).total_cmp(&energy(b))).expect("a channel");
                    let x: Vec<f64> = loudest.iter().map(|&v| f64::from(v)).collect();
                    let reference = stimulus.render(rate);
                    align(&x, &reference, f64::from(rate), &mut Spectrum::default())
                        .filter(|a| a.correlation > 0.5)
                        .map_or(0.0, |a| a.delay_samples / 2.0)
                }
            };
            let cut = (lead as usize).min(audio.frames() / 4);
            Audio { channels: audio.channels.iter().map(|c| c[cut..].to_vec()).collect(), ..audio }
        }),
    ];
    let tmp = tempfile::tempdir().expect("tempdir");
    for (name, t) in truth.as_object().expect("object") {
        let set = CaptureSet::load(&dir.join(name)).expect("example loads");
        for (label, rewrite) in &variants {
            let copy = tmp.path().join(format!("{name}-{label}"));
            std::fs::create_dir_all(&copy).expect("mkdir");
            std::fs::copy(dir.join(name).join("capture-set.toml"), copy.join("capture-set.toml")).expect("copy");
            for entry in &set.manifest.captures {
                let audio = read_wav(&set.wav_path(entry)).expect("example reads");
                let stimulus = &set.manifest.stimulus(&entry.stimulus).expect("stimulus").signal;
                let out = copy.join(&entry.file);
                std::fs::create_dir_all(out.parent().expect("parent")).expect("mkdir");
                write_wav(&out, &rewrite(stimulus, entry, audio)).expect("write");
            }
            check_diagnosis(&format!("{name} ({label})"), &copy, t);
        }
    }
}

type Rewrite = fn(&Stimulus, &CaptureEntry, Audio) -> Audio;

fn energy(x: &[f32]) -> f64 {
    x.iter().map(|&v| f64::from(v) * f64::from(v)).sum()
}

/// Band-limited resampling of a whole recording to `to_hz`: its spectrum cut or zero-padded to
/// the new length. The ends of a capture are noise, so the wrap-around the FFT implies is harmless.
fn resample(audio: Audio, to_hz: u32) -> Audio {
    let n = audio.frames();
    let m = (n as u64 * u64::from(to_hz) / u64::from(audio.rate_hz)) as usize;
    let mut planner = RealFftPlanner::<f64>::new();
    let (fwd, inv) = (planner.plan_fft_forward(n), planner.plan_fft_inverse(m));
    let channels = audio
        .channels
        .iter()
        .map(|c| {
            let mut x: Vec<f64> = c.iter().map(|&v| f64::from(v)).collect();
            let mut spectrum = fwd.make_output_vec();
            fwd.process(&mut x, &mut spectrum).expect("forward FFT");
            let mut out_spectrum = inv.make_input_vec();
            let keep = out_spectrum.len().min(spectrum.len());
            out_spectrum[..keep].copy_from_slice(&spectrum[..keep]);
            // The bins at 0 Hz and (for even lengths) at the new Nyquist must be real.
            out_spectrum[0].im = 0.0;
            if m.is_multiple_of(2) {
                let last = out_spectrum.len() - 1;
                out_spectrum[last].im = 0.0;
            }
            let mut y = inv.make_output_vec();
            inv.process(&mut out_spectrum, &mut y).expect("inverse FFT");
            y.iter().map(|&v| (v / n as f64) as f32).collect()
        })
        .collect();
    Audio { rate_hz: to_hz, format: audio.format, channels }
}
