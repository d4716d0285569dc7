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
        assert!(latency > 0.0 && latency < 0.5, "latency {latency} s");
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
