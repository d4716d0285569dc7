//! Real sound through cpal and a real PulseAudio server: a null sink whose monitor is the default
//! source, so what jackbench plays on ALSA's `default` device comes back when it records from it.
//! `.ci/run` starts that server; on a machine without one these tests say so and pass without
//! running, except under CI (`CI` set), where a missing server is a failure.
#![cfg(feature = "audio")]

mod common;

use common::pulse::server;
use jackbench::analysis::{analyze, AnalyzeOptions};
use jackbench::capture::{Direction, Drive, PathSpec, SampleFormat};
use jackbench::rig::live::{DeviceRef, DriverDevices, LiveEndpoint, Routing};
use jackbench::rig::soundcard::SoundCards;
use jackbench::rig::{AudioEndpoint, CaptureRequest};
use jackbench::stimulus::Stimulus;
use std::collections::HashMap;

fn endpoint() -> LiveEndpoint<SoundCards> {
    let dev = DeviceRef::new(None, "default");
    let drivers = HashMap::from([("pc".to_string(), DriverDevices { output: dev.clone(), input: dev.clone() })]);
    LiveEndpoint::new(SoundCards::default(), Routing { drivers, couplers: dev.clone(), mouth: dev })
}

fn loopback(stimulus: Stimulus) -> CaptureRequest {
    CaptureRequest {
        path: PathSpec { driver: "pc".into(), port: "jack".into(), adapter: "direct".into(), headset: "plug".into() },
        direction: Direction::Loopback,
        stimulus,
        drive: Some(Drive::Left),
        rate_hz: 48_000,
        format: SampleFormat::F32,
        tail_s: 0.2,
    }
}

#[test]
fn a_tone_comes_back_at_its_frequency_and_a_stable_level() {
    let Some(_server) = server() else { return };
    let mut ep = endpoint();
    let tone = Stimulus::Sine { freq_hz: 997.0, level_dbfs: -12.0, seconds: 0.5 };
    let mut levels = Vec::new();
    for _ in 0..3 {
        let take = ep.capture(&loopback(tone.clone())).expect("a capture through PulseAudio");
        let a = analyze(&mut take.audio.source(), &AnalyzeOptions { freq_hz: None, silence: false }).expect("analysed");
        let ch = &a.channels[0];
        let f = ch.frequency_hz.expect("a tone");
        assert!((f - 997.0).abs() < 0.05, "frequency {f} Hz");
        levels.push(ch.level_dbfs.expect("a level"));
        let latency = take.latency_s.expect("the latency is measured");
        assert!(latency > 0.0 && latency < 0.5, "latency {latency} s; stream events {:?}", take.events);
        eprintln!(
            "loopback: {f:.3} Hz, {:.3} dBFS, latency {:.1} ms, {:?}",
            levels.last().unwrap(),
            latency * 1e3,
            take.events
        );
    }
    // The null sink is a unity-gain wire: −12 dBFS comes back at −12 dBFS, every time.
    for l in &levels {
        assert!((l + 12.0).abs() < 0.1, "level {l} dBFS");
    }
    let spread = levels.iter().cloned().fold(f64::MIN, f64::max) - levels.iter().cloned().fold(f64::MAX, f64::min);
    assert!(spread < 0.05, "levels {levels:?}");
}

fn jackbench() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_jackbench"))
}

/// Runs `jackbench ARGS` with `answers` on its standard input (the operator's Enter presses).
fn run_with(args: &[&str], answers: &str) -> std::process::Output {
    run_in(None, args, answers)
}

/// [`run_with`], with `HOME` set to `home` when given (where ALSA finds an `.asoundrc`).
fn run_in(home: Option<&std::path::Path>, args: &[&str], answers: &str) -> std::process::Output {
    use std::io::Write;
    let mut command = jackbench();
    if let Some(h) = home {
        command.env("HOME", h);
    }
    let mut child = command
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("jackbench starts");
    child.stdin.take().expect("stdin").write_all(answers.as_bytes()).expect("answers written");
    child.wait_with_output().expect("jackbench ends")
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    })
}

#[test]
fn devices_lists_the_default_device_with_its_formats() {
    let Some(_server) = server() else { return };
    let out = jackbench().args(["devices", "--json"]).output().expect("runs");
    assert!(out.status.success());
    let hosts = json(&out);
    let alsa = hosts.as_array().and_then(|h| h.iter().find(|h| h["host"] == "ALSA")).expect("the ALSA host");
    let default = alsa["devices"].as_array().and_then(|d| d.iter().find(|d| d["name"] == "default")).expect("default");
    assert_eq!((default["default_output"].as_bool(), default["default_input"].as_bool()), (Some(true), Some(true)));
    let offers_48k_float = |side: &str| {
        default[side].as_array().is_some_and(|r| {
            r.iter().any(|r| {
                r["format"] == "f32"
                    && r["channels"] == 2
                    && r["min_rate_hz"].as_u64() <= Some(48_000)
                    && r["max_rate_hz"].as_u64() >= Some(48_000)
            })
        })
    };
    assert!(offers_48k_float("outputs") && offers_48k_float("inputs"), "{default}");
    // Probing ALSA's plugin devices makes alsa-lib and libjack complain about cards and servers
    // that are not there; none of that reaches the terminal.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.trim().is_empty(), "{err}");
}

#[test]
fn doctor_passes_a_working_loopback_and_measures_it() {
    let Some(_server) = server() else { return };
    let out = jackbench().args(["doctor", "--json"]).output().expect("runs");
    let report = json(&out);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    let checks = report["checks"].as_array().expect("checks");
    let ids: Vec<&str> = checks.iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(ids, ["device", "open", "busy", "signal", "format", "loopback"]);
    assert!(checks.iter().all(|c| c["status"] == "ok"), "{report:#}");
    let m = &report["measured"];
    let num = |k: &str| m[k].as_f64().unwrap_or_else(|| panic!("{k} in {m}"));
    // The null sink is a wire: the 1 kHz tone at −12 dBFS returns unchanged.
    assert!((num("tone_frequency_hz") - 1000.0).abs() < 0.05, "{m}");
    assert!(num("loop_gain_db").abs() < 0.1, "{m}");
    assert!(num("level_spread_db") < 0.1, "{m}");
    assert!((num("real_rate_hz") / 48_000.0 - 1.0).abs() < 0.02, "{m}");
    assert!(num("latency_ms") > 0.0 && num("latency_ms") < 500.0, "{m}");
}

#[test]
fn a_device_name_that_is_not_there_lists_the_ones_that_are() {
    let Some(_server) = server() else { return };
    let out = jackbench().args(["doctor", "--device", "no-such-card"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FAIL  device") && text.contains("no-such-card") && text.contains("default"), "{text}");

    let dir = tempfile::tempdir().expect("tempdir");
    let rig = std::fs::read_to_string("rigs/loopback-check.toml")
        .expect("rig")
        .replace("device = \"default\"", "device = \"no-such-card\"");
    let rig_file = dir.path().join("rig.toml");
    std::fs::write(&rig_file, rig).expect("rig written");
    let set = dir.path().join("set");
    let rig_arg = rig_file.to_string_lossy().into_owned();
    let out = run_with(&["run", "--rig", &rig_arg, "--out", &set.to_string_lossy()], "\n");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-card") && err.contains("these are there") && err.contains("default"), "{err}");
}

#[test]
fn a_muted_sink_is_digital_silence_for_doctor_and_diagnose() {
    let Some(_server) = server() else { return };
    common::pulse::pactl(&["set-sink-mute", common::pulse::SINK, "1"]).expect("muted");
    let doctor = jackbench().args(["doctor", "--json"]).output().expect("runs");
    let report = json(&doctor);
    assert_eq!(doctor.status.code(), Some(1), "{report:#}");
    let signal = report["checks"].as_array().and_then(|c| c.iter().find(|c| c["id"] == "signal")).expect("signal");
    assert_eq!(signal["status"], "fail");
    assert!(signal["detail"].as_str().is_some_and(|d| d.contains("digital silence")), "{signal}");

    let dir = tempfile::tempdir().expect("tempdir");
    let set = dir.path().join("set");
    let run = run_with(&["run", "--rig", "loopback-check", "--out", &set.to_string_lossy(), "--json"], "\n");
    assert_eq!(run.status.code(), Some(1), "{}", String::from_utf8_lossy(&run.stderr));
    let diagnose = jackbench().args(["diagnose", "--json"]).arg(&set).output().expect("runs");
    assert_eq!(diagnose.status.code(), Some(1));
    let d = json(&diagnose);
    assert_eq!(d["faults"][0]["code"], "driver.digital_silence", "{d:#}");
    assert_eq!(d["faults"][0]["component"], "pc", "{d:#}");
}

#[test]
fn a_device_unplugged_mid_run_ends_the_run_and_keeps_its_captures() {
    use std::io::Write;
    let Some(_server) = server() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let set = dir.path().join("set");
    let mut child = jackbench()
        .args(["run", "--rig", "loopback-check", "--out"])
        .arg(&set)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("jackbench starts");
    child.stdin.take().expect("stdin").write_all(b"\n").expect("answered");
    // Pull the device once the first capture is in the manifest.
    let manifest = set.join("capture-set.toml");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !std::fs::read_to_string(&manifest).is_ok_and(|m| m.contains("[[capture]]")) {
        assert!(std::time::Instant::now() < deadline, "no capture was made");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // No fallback sink may take the streams over (the recipe's always-sink would).
    let _ = common::pulse::pactl(&["unload-module", "module-always-sink"]);
    let module = common::pulse::sink_module().expect("the loop sink's module");
    common::pulse::pactl(&["unload-module", &module]).expect("unloaded");
    let out = child.wait_with_output().expect("jackbench ends");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("the run stopped after") && err.contains("default"), "{err}");

    let loaded = jackbench::capture::CaptureSet::load(&set).expect("the partial set is valid");
    let made = loaded.manifest.captures.len();
    assert!((1..3).contains(&made), "{made} captures");
    let wavs = std::fs::read_dir(set.join("captures")).expect("captures").count();
    assert_eq!(wavs, made, "the manifest lists exactly the WAV files made");
    let diagnose = jackbench().arg("diagnose").arg(&set).output().expect("runs");
    assert_ne!(diagnose.status.code(), Some(2), "{}", String::from_utf8_lossy(&diagnose.stderr));
}

#[test]
fn a_whole_bench_runs_through_the_sound_server_and_passes() {
    let Some(_server) = server() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let set = dir.path().join("set");
    // Three paths: the operator presses Enter three times.
    let out = run_with(&["run", "--rig", "tests/rigs/pulse-bench.toml", "--out", &set.to_string_lossy()], "\n\n\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}\n{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(err.matches("Press Enter").count(), 3, "{err}");
    let loaded = jackbench::capture::CaptureSet::load(&set).expect("valid set");
    assert_eq!(loaded.manifest.captures.len(), 12);
    let mut latencies = Vec::new();
    for c in &loaded.manifest.captures {
        let audio = jackbench::capture::read_wav(&set.join(&c.file)).expect("readable");
        assert_eq!((audio.rate_hz, audio.format), (48_000, SampleFormat::S24), "{}", c.file);
        let want_channels = if c.direction == Direction::Playback { 2 } else { 1 };
        assert_eq!(audio.channels.len(), want_channels, "{}", c.file);
        if c.stimulus != "quiet" {
            let l = c.latency_s.unwrap_or_else(|| panic!("{}: no latency", c.file));
            assert!(l > 0.0 && l < 0.5, "{}: latency {l}; stream events {:?}", c.file, c.stream_events);
            latencies.push(l);
        }
    }
    // Every latency is positive and bounded (placing the stimulus by the callbacks as they ran
    // once gave −38 ms; the cadence that fixed it is unit-tested in rig::soundcard). Its
    // stability is not asserted: the sound server moves its own loop latency (10.8 ms for most
    // runs; 13 to 35 ms, once 132 ms, in one run out of six on an idle machine).
    println!("latencies, ms: {:?}", latencies.iter().map(|l| (l * 1e4).round() / 10.0).collect::<Vec<f64>>());
    assert!(set.join("report.html").exists());
}

#[test]
fn a_reference_microphone_hears_the_room_and_the_guard_makes_disturbed_captures_again() {
    let Some(_server) = server() else { return };
    // The room: a second null sink; the reference microphone: its monitor, as the ALSA device
    // `jb_room` that an .asoundrc in the run's home defines.
    let _room = common::pulse::ExtraSink::load("jb_room");
    let home = tempfile::tempdir().expect("home");
    std::fs::write(
        home.path().join(".asoundrc"),
        "pcm.jb_room {\n  type pulse\n  device \"jb_room.monitor\"\n  hint { show on description \"room\" }\n}\n",
    )
    .expect(".asoundrc");
    let rig = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rigs/pulse-room.toml");
    let run = |out: &std::path::Path| {
        let done = run_in(Some(home.path()), &["run", "--rig", rig, "--out", &out.to_string_lossy()], "\n");
        let err = String::from_utf8_lossy(&done.stderr).into_owned();
        assert_eq!(done.status.code(), Some(0), "{err}\n{}", String::from_utf8_lossy(&done.stdout));
        (jackbench::capture::CaptureSet::load(out).expect("valid set"), err)
    };
    // A quiet room: nothing is made again.
    let (quiet, err) = run(&home.path().join("quiet"));
    assert!(err.contains("the room heard by jb_room"), "{err}");
    for c in &quiet.manifest.captures {
        assert_eq!((c.repeats, c.room_sound.as_deref()), (0, None), "{}", c.file);
    }
    // A loud room: 100 ms bursts (a 300–3000 Hz chirp at −20 dBFS) every 400 ms, played into the
    // room's sink while the bench runs; every capture hears some, so each is made again up to the
    // rig's limit (2) and kept marked.
    let rate = 48_000usize;
    let mut raw = Vec::new();
    for _ in 0..100 {
        for i in 0..rate / 10 {
            let t = i as f64 / rate as f64;
            let phase = 2.0 * std::f64::consts::PI * (300.0 * t + 0.5 * 27_000.0 * t * t);
            raw.extend_from_slice(&((0.1 * phase.sin() * 32_767.0) as i16).to_le_bytes());
        }
        raw.extend(std::iter::repeat_n(0u8, 2 * rate * 3 / 10));
    }
    let bursts = home.path().join("bursts.raw");
    std::fs::write(&bursts, raw).expect("bursts");
    struct Player(std::process::Child);
    impl Drop for Player {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _player = Player(
        std::process::Command::new("pacat")
            .args(["--playback", "--device=jb_room", "--format=s16le", "--rate=48000", "--channels=1"])
            .arg(&bursts)
            .spawn()
            .expect("pacat plays"),
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (loud, err) = run(&home.path().join("loud"));
    assert!(err.contains("made again"), "{err}");
    for c in &loud.manifest.captures {
        assert_eq!(c.repeats, 2, "{}", c.file);
        let why = c.room_sound.as_deref().unwrap_or_default();
        assert!(why.starts_with("reference microphone: sound at"), "{}: {why}", c.file);
    }
}

/// A home whose `.asoundrc` defines the ALSA devices of `tests/rigs/pulse-overlap.toml`: the DUT
/// `jb_dut` (an `asym` device playing into jb_loop and recording the monitor of jb_mouth), the
/// ear couplers `jb_ears` (jb_loop's monitor) and the mouth simulator `jb_mouth_out` (jb_mouth).
/// The caller loads the jb_mouth sink.
fn overlap_fixture_home() -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("home");
    let pcm =
        |name: &str, body: &str| format!("pcm.{name} {{\n{body}\n  hint {{ show on description \"{name}\" }}\n}}\n");
    let asoundrc = [
        pcm("jb_dut_play", "  type pulse\n  device \"jb_loop\""),
        pcm("jb_dut_rec", "  type pulse\n  device \"jb_mouth.monitor\""),
        pcm("jb_dut", "  type asym\n  playback.pcm \"jb_dut_play\"\n  capture.pcm \"jb_dut_rec\""),
        pcm("jb_ears", "  type pulse\n  device \"jb_loop.monitor\""),
        pcm("jb_mouth_out", "  type pulse\n  device \"jb_mouth\""),
    ]
    .concat();
    std::fs::write(home.path().join(".asoundrc"), asoundrc).expect(".asoundrc");
    home
}

/// The amplitude of `freq_hz` in the middle quarter-second of a capture (a whole number of
/// cycles of 700 Hz and of 1 kHz: each is blind to the other).
fn amplitude_at(samples: &[f32], rate: f64, freq_hz: f64) -> f64 {
    let n = (0.25 * rate) as usize;
    let from = samples.len().saturating_sub(n) / 2;
    let (mut re, mut im) = (0.0, 0.0);
    for (k, v) in samples[from..from + n].iter().enumerate() {
        let phase = 2.0 * std::f64::consts::PI * freq_hz * k as f64 / rate;
        re += f64::from(*v) * phase.cos();
        im += f64::from(*v) * phase.sin();
    }
    2.0 * (re * re + im * im).sqrt() / n as f64
}

#[test]
fn the_ears_and_the_microphone_are_measured_at_once_on_separate_devices() {
    let Some(_server) = server() else { return };
    // The mouth simulator's sink, and a leak from it into the ears' sink (as a fixture's mouth
    // simulator is heard, faintly, by the ear couplers): the ears' capture holds the mouth's
    // 700 Hz only when both played at once.
    let _mouth = common::pulse::ExtraSink::load("jb_mouth");
    let leak = common::pulse::pactl(&[
        "load-module",
        "module-loopback",
        "source=jb_mouth.monitor",
        &format!("sink={}", common::pulse::SINK),
        "latency_msec=20",
    ])
    .expect("the leak loads");
    struct Unload(String);
    impl Drop for Unload {
        fn drop(&mut self) {
            let _ = common::pulse::pactl(&["unload-module", self.0.trim()]);
        }
    }
    let _leak = Unload(leak);
    let home = overlap_fixture_home();
    let rig_text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rigs/pulse-overlap.toml"))
        .expect("the rig");
    // The plan with and without `overlap`: the captures, and what the ears heard of the mouth.
    let run = |overlap: bool| {
        let name = if overlap { "overlap" } else { "one-by-one" };
        let rig = home.path().join(format!("{name}.toml"));
        std::fs::write(&rig, rig_text.replace("overlap = true", &format!("overlap = {overlap}"))).expect("rig");
        let set = home.path().join(name);
        let out =
            run_in(Some(home.path()), &["run", "--rig", &rig.to_string_lossy(), "--out", &set.to_string_lossy()], "\n");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(matches!(out.status.code(), Some(0 | 1)), "{err}\n{}", String::from_utf8_lossy(&out.stdout));
        let loaded = jackbench::capture::CaptureSet::load(&set).expect("valid set");
        assert_eq!(loaded.manifest.captures.len(), 2, "{err}");
        let audio = |d: Direction| {
            let c = loaded.manifest.captures.iter().find(|c| c.direction == d).expect("the capture");
            assert!(
                c.latency_s.is_some_and(|l| l > 0.0 && l < 0.5),
                "{}: {:?} {:?}",
                c.file,
                c.latency_s,
                c.stream_events
            );
            jackbench::capture::read_wav(&set.join(&c.file)).expect("readable")
        };
        let (ears, mic) = (audio(Direction::Playback), audio(Direction::Record));
        let rate = f64::from(ears.rate_hz);
        // Each capture holds its own stimulus at its level (−12 dBFS: 0.251 peak).
        let own = [amplitude_at(&ears.channels[0], rate, 1000.0), amplitude_at(&mic.channels[0], rate, 700.0)];
        for a in own {
            assert!((20.0 * (a / 0.251).log10()).abs() < 0.5, "{name}: own stimulus at {a}");
        }
        // The microphone's capture never hears the ears (nothing leaks that way).
        assert!(amplitude_at(&mic.channels[0], rate, 1000.0) < 1e-3, "{name}");
        (amplitude_at(&ears.channels[0], rate, 700.0), err)
    };
    let (apart, _) = run(false);
    assert!(apart < 1e-3, "one after the other, the ears hear nothing of the mouth: {apart}");
    let (together, err) = run(true);
    eprintln!("the mouth's 700 Hz in the ears' capture: one after the other {apart:.2e}, at once {together:.4}\n{err}");
    assert!(!err.contains("follow the ears'"), "{err}");
    // Played at once, the ears hear the mouth's tone through the leak, at its level.
    assert!((20.0 * (together / 0.251).log10()).abs() < 1.0, "at once, the ears hear the mouth at {together}");
}

#[test]
fn a_monitor_sees_the_sink_muted_and_unmuted_at_the_right_times_and_soon() {
    use std::io::{BufRead, Write};
    use std::time::{Duration, Instant};
    let Some(_server) = server() else { return };
    // The fixture of the overlap rig: the DUT plays into jb_loop (whose monitor is the ear
    // couplers) and records the mouth simulator's sink, jb_mouth.
    let _mouth = common::pulse::ExtraSink::load("jb_mouth");
    let home = overlap_fixture_home();
    let rig = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rigs/pulse-overlap.toml");
    let out = home.path().join("soak");
    let mut child = jackbench()
        .env("HOME", home.path())
        .args(["monitor", "--rig", rig, "--duration", "8s", "--json", "--out", &out.to_string_lossy()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("jackbench starts");
    child.stdin.take().expect("stdin").write_all(b"\n").expect("the operator connects");
    // Every line with the moment it arrived.
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<(Instant, serde_json::Value)>();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line) {
                let _ = tx.send((Instant::now(), v));
            }
        }
    });
    let mut lines = Vec::new();
    let wait_for = |lines: &mut Vec<(Instant, serde_json::Value)>, test: &dyn Fn(&serde_json::Value) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !lines.iter().any(|(_, v)| test(v)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) => lines.push(l),
                Err(_) => panic!("waited in vain; lines so far: {lines:?}"),
            }
        }
    };
    // Two seconds in, the ears' sink is muted for 150 ms, and a second later for 600 ms.
    wait_for(&mut lines, &|v| v["type"] == "second" && v["t_s"] == 2.0);
    // The moment before the call: the sound changes after it, so the delay to the screen is
    // measured from no later than the sound.
    let mute = |on: bool| {
        let at = Instant::now();
        common::pulse::pactl(&["set-sink-mute", common::pulse::SINK, if on { "1" } else { "0" }]).expect("mute");
        at
    };
    let m1 = mute(true);
    std::thread::sleep(Duration::from_millis(150));
    let u1 = mute(false);
    std::thread::sleep(Duration::from_millis(1000));
    let m2 = mute(true);
    std::thread::sleep(Duration::from_millis(600));
    let u2 = mute(false);
    wait_for(&mut lines, &|v| v["type"] == "summary");
    let status = child.wait().expect("ends");
    reader.join().expect("reader");
    let err = child.stderr.take().map(|mut e| {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut e, &mut s);
        s
    });
    assert_eq!(status.code(), Some(1), "{err:?}");
    let events: Vec<&(Instant, serde_json::Value)> = lines.iter().filter(|(_, v)| v["type"] == "event").collect();
    let find = |ch: &str, kind: &str| {
        events
            .iter()
            .find(|(_, v)| v["channel"] == ch && v["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} on {ch}: {events:?}"))
    };
    let ms = |a: Instant, b: Instant| b.duration_since(a).as_secs_f64() * 1000.0;
    for ear in ["left", "right"] {
        // The short mute is a gap as long as the sink was muted (pactl's own time aside). The
        // sound server has once let a few ms of sound through a mute: the gaps before the long
        // mute, taken together, span it.
        let (_, gap) = find(ear, "gap");
        let (_, dead) = find(ear, "dead");
        let t = |v: &serde_json::Value, k: &str| v[k].as_f64().expect("number");
        let all: Vec<&(Instant, serde_json::Value)> = events
            .iter()
            .copied()
            .filter(|(_, v)| v["channel"] == ear && v["kind"] == "gap" && t(v, "t_s") < t(dead, "t_s"))
            .collect();
        let start = all.iter().map(|(_, v)| t(v, "t_s")).fold(f64::MAX, f64::min);
        let g = all.iter().map(|(_, v)| t(v, "t_s") + t(v, "ms") / 1000.0).fold(f64::MIN, f64::max) - start;
        let g = g * 1000.0;
        let seen = all.iter().map(|(at, _)| *at).max().expect("a gap");
        assert!((g - ms(m1, u1)).abs() < 40.0, "{ear}: gaps over {g:.1} ms for {:.1} ms muted: {all:?}", ms(m1, u1));
        // The long one makes the line dead, and back after as long.
        let (back_seen, back) = find(ear, "back");
        let b = back["ms"].as_f64().expect("ms");
        assert!((b - ms(m2, u2)).abs() < 40.0, "{ear}: back after {b:.1} ms for {:.1} ms muted", ms(m2, u2));
        // The stream's times are the sound's: the two mutes as far apart as they were made.
        let apart = (dead["t_s"].as_f64().expect("t") - gap["t_s"].as_f64().expect("t")) * 1000.0;
        assert!(
            (apart - ms(m1, m2)).abs() < 40.0,
            "{ear}: {apart:.1} ms apart in the stream, {:.1} ms made",
            ms(m1, m2)
        );
        // On screen within 100 ms of the sound coming back (issue 16's target).
        let late = [ms(u1, seen), ms(u2, *back_seen)];
        println!(
            "{ear}: gap {g:.1} ms, back after {b:.1} ms; on screen {:.0} and {:.0} ms after the unmute",
            late[0], late[1]
        );
        assert!(late.iter().all(|l| *l < 100.0), "{ear}: {late:?} ms");
    }
    assert!(events.iter().all(|(_, v)| v["channel"] != "mic"), "the microphone's line was never touched: {events:?}");
}
