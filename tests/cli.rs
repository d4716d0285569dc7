//! The `jackbench` binary end to end: stimuli written, analysed back, exit codes and messages.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn jackbench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jackbench")).args(args).output().expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn analyze_json(path: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["analyze", path.to_str().expect("utf-8 path"), "--json"];
    args.extend_from_slice(extra);
    let o = jackbench(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("analyze --json prints one JSON object")
}

#[test]
fn a_written_sine_is_measured_back_in_every_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (format, rate) in [("s16", "44100"), ("s24", "48000"), ("f32", "96000")] {
        let out = dir.path().join(format!("tone-{format}.wav"));
        let o = jackbench(&[
            "stimulus",
            "sine",
            "--freq",
            "997",
            "--level",
            "-20",
            "--seconds",
            "1",
            "--rate",
            rate,
            "--format",
            format,
            "--lead",
            "0.3",
            "--tail",
            "0.2",
            "--channels",
            "2",
            out.to_str().expect("utf-8"),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let v = analyze_json(&out, &[]);
        assert_eq!(v["format"], "jackbench-analysis/1");
        assert_eq!(v["sample_rate"].as_u64(), rate.parse().ok());
        let channels = v["channels"].as_array().expect("channels");
        assert_eq!(channels.len(), 2);
        for c in channels {
            // Tolerances of issue 3: frequency ±0.05 Hz, level ±0.05 dB.
            assert!((c["frequency_hz"].as_f64().expect("f") - 997.0).abs() < 0.05, "{format}: {c}");
            assert!((c["level_dbfs"].as_f64().expect("level") + 20.0).abs() < 0.05, "{format}: {c}");
            assert_eq!(c["digital_silence"], false);
            assert_eq!(c["clipped"], false);
            assert_eq!(c["dropouts"].as_array().map(Vec::len), Some(0));
            for field in ["thd_percent", "thd_n_db", "noise_floor_dbfs", "hum_dbfs", "dc_offset"] {
                assert!(c.get(field).is_some(), "{field} missing: {c}");
            }
        }
    }
}

#[test]
fn every_stimulus_kind_writes_its_length() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: [(&[&str], f64); 4] = [
        (&["sine", "--freq", "1000", "--seconds", "0.5"], 0.5),
        (&["log-sweep", "--start", "20", "--stop", "20000", "--seconds", "2"], 2.0),
        (&["silence", "--seconds", "0.3"], 0.3),
        (&["multitone", "--freqs", "100,200,300,400", "--seconds", "1"], 1.0),
    ];
    for (args, seconds) in cases {
        let out = dir.path().join(format!("{}.wav", args[0]));
        let mut all = vec!["stimulus"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--rate", "44100", out.to_str().expect("utf-8")]);
        let o = jackbench(&all);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let audio = jackbench::capture::read_wav(&out).expect("readable");
        assert_eq!(audio.frames(), (seconds * 44_100.0) as usize, "{}", args[0]);
    }
}

#[test]
fn the_table_names_every_measurement() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("t.wav");
    let o = jackbench(&["stimulus", "sine", "--freq", "440", "--lead", "0.2", out.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0));
    let o = jackbench(&["analyze", out.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0));
    let table = String::from_utf8_lossy(&o.stdout);
    for row in ["frequency", "440.0000 Hz", "level", "-12.000 dBFS", "THD", "THD+N", "noise floor", "hum", "dropouts"] {
        assert!(table.contains(row), "{row} missing from:\n{table}");
    }
}

#[test]
fn unusable_input_exits_2_and_names_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let not_wav = dir.path().join("notes.wav");
    std::fs::write(&not_wav, "just text").expect("write");
    let eight = dir.path().join("eight-bit.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 8,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&eight, spec).expect("create");
    for i in 0..100 {
        w.write_sample((i % 50) as i8).expect("write");
    }
    w.finalize().expect("finalize");
    let three = dir.path().join("three-channels.wav");
    let spec = hound::WavSpec {
        channels: 3,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&three, spec).expect("create");
    for _ in 0..300 {
        w.write_sample(5i16).expect("write");
    }
    w.finalize().expect("finalize");
    let cut = dir.path().join("cut.wav");
    let o = jackbench(&["stimulus", "sine", "--freq", "1000", cut.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0));
    let bytes = std::fs::read(&cut).expect("read");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let missing = dir.path().join("missing.wav");

    for (path, says) in [
        (&not_wav, "not a usable WAV"),
        (&eight, "8-bit"),
        (&three, "3 channels"),
        (&cut, "truncated"),
        (&missing, "cannot open"),
    ] {
        let o = jackbench(&["analyze", path.to_str().expect("utf-8")]);
        let msg = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{}: {msg}", path.display());
        assert!(msg.contains(path.file_name().and_then(|n| n.to_str()).expect("name")), "{msg}");
        assert!(msg.contains(says), "{msg}");
        assert!(!msg.contains("panicked"), "{msg}");
    }
    // A frequency the file cannot hold.
    let o = jackbench(&["analyze", cut.to_str().expect("utf-8"), "--freq", "30000"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn bad_stimulus_parameters_name_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("x.wav");
    let o = jackbench(&["stimulus", "sine", "--freq", "30000", "--rate", "48000", out.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("freq_hz"), "{}", stderr(&o));
    assert!(!out.exists(), "nothing is written for a bad stimulus");
    let o = jackbench(&["stimulus", "sine", "--freq", "1000", "--rate", "4000", out.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--rate"), "{}", stderr(&o));
}

/// A reader that goes away (`jackbench diagnose … | head`) is no error of the bench's: no panic,
/// the usual exit status. A write that fails otherwise (a full disk) is said, with exit 2.
#[test]
fn standard_output_that_closes_or_fails_is_handled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = dir.path().join("set");
    let o = jackbench(&["run", "--out", set.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let set = set.to_str().expect("utf-8");
    for (args, code) in [(vec!["diagnose", set, "--json"], 0), (vec!["diagnose", set], 0), (vec!["--help"], 0)] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_jackbench"))
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the binary runs");
        drop(child.stdout.take()); // the reader is gone before the first byte
        let o = child.wait_with_output().expect("waits");
        let err = stderr(&o);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        if args[0] == "diagnose" {
            assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
            assert!(err.is_empty(), "{args:?}: {err}");
        }
    }
    if Path::new("/dev/full").exists() {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
        let o = Command::new(env!("CARGO_BIN_EXE_jackbench"))
            .args(["diagnose", set, "--json"])
            .stdout(full)
            .output()
            .expect("the binary runs");
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains("cannot write to standard output"), "{}", stderr(&o));
    }
}
