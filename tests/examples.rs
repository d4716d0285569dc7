//! The six example capture sets of ../shared/examples, diagnosed through the binary and checked
//! against their truth: the right component and code (or the true one among the equivalents the
//! truth lists, in `faults` or `suspects`), and a pass for the healthy set.

use serde_json::Value;
use std::path::PathBuf;
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
        let out = Command::new(env!("CARGO_BIN_EXE_jackbench"))
            .args(["diagnose", dir.join(name).to_str().expect("utf-8"), "--json"])
            .output()
            .expect("runs");
        let d: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{name}: {e}: {}", String::from_utf8_lossy(&out.stderr)));
        assert_eq!(d["format"], "jackbench-diagnosis/1");
        let want = t["faults"].as_array().expect("faults");
        if want.is_empty() {
            assert_eq!(d["verdict"], "pass", "{name}: {}", d["faults"]);
            assert_eq!(out.status.code(), Some(0), "{name}");
            continue;
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
        (manifest.replacen("captures/p3-record-sweep.wav", "captures/missing.wav", 1), "missing.wav"),
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
    // A corrupt WAV is named too.
    std::fs::write(copy.join("capture-set.toml"), &manifest).expect("write");
    std::fs::write(copy.join("captures/p0-record-quiet.wav"), b"RIFF garbage").expect("write");
    let out = run(&manifest);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("p0-record-quiet.wav"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
