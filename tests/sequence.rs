//! The `sequence` stimulus: one capture that carries several stimuli, cut apart again and measured
//! as captures of their own. Checked against analytic truth over rate, lead, gain, DC offset and
//! noise, and for the wirings that invert or swap what one output channel played (where a
//! correlation with the whole sequence finds the wrong lag).

use jackbench::analysis::spectrum::Spectrum;
use jackbench::capture::{Audio, CaptureEntry, Direction, Drive, PathSpec, SampleFormat};
use jackbench::diagnosis::measure::{measure_take, Measured};
use jackbench::stimulus::{Segment, Stimulus};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

fn tone(id: &str, drive: Option<Drive>, seconds: f64) -> Segment {
    Segment { id: id.into(), drive, signal: Stimulus::Sine { freq_hz: 1000.0, level_dbfs: -12.0, seconds } }
}

/// The shipped plans' playback sequence: a tone on each ear alone, a sweep on both, a silence.
fn ears() -> Stimulus {
    Stimulus::Sequence {
        segments: vec![
            tone("tone-left", Some(Drive::Left), 0.1),
            tone("tone-right", Some(Drive::Right), 0.1),
            Segment {
                id: "sweep".into(),
                drive: Some(Drive::Both),
                signal: Stimulus::LogSweep { start_hz: 20.0, stop_hz: 20_000.0, level_dbfs: -12.0, seconds: 0.3 },
            },
            Segment { id: "quiet".into(), drive: None, signal: Stimulus::Silence { seconds: 0.05 } },
        ],
        gap_s: 0.02,
    }
}

fn entry(direction: Direction) -> CaptureEntry {
    CaptureEntry {
        file: "captures/x.wav".into(),
        direction,
        stimulus: "ears".into(),
        drive: (direction != Direction::Record).then_some(Drive::Both),
        path: PathSpec { driver: "card".into(), port: "jack".into(), adapter: "direct".into(), headset: "hs".into() },
        latency_s: None,
        stream_events: Vec::new(),
        repeats: 0,
        room_sound: None,
    }
}

/// A capture of `s` played on both outputs: each ear hears `mix[ear] = (from left, from right)`
/// times what that output played, after `lead` seconds, plus DC and white noise of rms `noise`.
fn capture(s: &Stimulus, rate: u32, lead: f64, mix: [(f64, f64); 2], dc: f64, noise: f64, seed: u64) -> Audio {
    let r = f64::from(rate);
    let n = ((lead + s.seconds() + 0.25) * r) as usize;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let normal = Normal::new(0.0, noise.max(1e-300)).expect("normal");
    let ears: Vec<Vec<f64>> = mix
        .iter()
        .map(|(a, b)| {
            (0..n)
                .map(|i| {
                    let t = i as f64 / r - lead;
                    a * s.value_on(t, Some(0)) + b * s.value_on(t, Some(1)) + dc + normal.sample(&mut rng)
                })
                .collect()
        })
        .collect();
    Audio::from_f64(rate, SampleFormat::F32, &ears)
}

fn segment<'a>(m: &'a [Measured], id: &str) -> &'a Measured {
    m.iter().find(|x| x.segment.as_ref().is_some_and(|w| w.id == id)).unwrap_or_else(|| panic!("no segment {id}"))
}

#[test]
fn a_sequence_lays_its_segments_out_in_physical_time() {
    let s = ears();
    assert!((s.seconds() - (0.1 + 0.1 + 0.3 + 0.05 + 3.0 * 0.02)).abs() < 1e-12);
    let starts: Vec<f64> = s.segments().iter().map(|(t, _)| *t).collect();
    for (got, want) in starts.iter().zip([0.0, 0.12, 0.24, 0.56]) {
        assert!((got - want).abs() < 1e-12, "{starts:?}");
    }
    let sine = Stimulus::Sine { freq_hz: 1000.0, level_dbfs: -12.0, seconds: 0.1 };
    for t in [0.003, 0.05, 0.0987] {
        // The left tone plays on the left output only, on its own time axis (fades included).
        assert_eq!(s.value_on(t, Some(0)), sine.value_at(t));
        assert_eq!(s.value_on(t, Some(1)), 0.0);
        // (0.12 + t) − 0.12 is t to rounding.
        assert!((s.value_on(0.12 + t, Some(1)) - sine.value_at(t)).abs() < 1e-9);
        assert_eq!(s.value_on(0.12 + t, Some(0)), 0.0);
        // The gaps are silent on both.
        assert_eq!(s.value_on(0.1 + t / 10.0, None), 0.0);
    }
    assert_eq!(s.render_on(48_000, Some(0)).len(), s.len_at(48_000));
    // The manifest form: segments as [[stimulus.segment]] tables, read back the same.
    let text = toml::to_string(&s).expect("serialised");
    let back: Stimulus = toml::from_str(&text).expect("parsed");
    assert_eq!(back, s, "{text}");
    // Errors name the field.
    let nested =
        Stimulus::Sequence { segments: vec![Segment { id: "inner".into(), drive: None, signal: ears() }], gap_s: 0.02 };
    assert!(nested.validate(48_000).unwrap_err().to_string().contains("segment"));
    let twice = Stimulus::Sequence { segments: vec![tone("a", None, 0.1), tone("a", None, 0.1)], gap_s: 0.02 };
    assert!(twice.validate(48_000).unwrap_err().to_string().contains("id of its own"));
}

#[test]
fn each_segment_measures_as_its_own_capture_at_any_rate_lead_gain_and_offset() {
    let s = ears();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut spectrum = Spectrum::default();
    for case in 0..24u64 {
        let rate = [44_100, 48_000, 96_000][case as usize % 3];
        let lead = rng.random_range(0.005..0.5);
        let gain_db: f64 = rng.random_range(-30.0..0.0);
        let g = 10f64.powf(gain_db / 20.0);
        let dc = rng.random_range(-0.05..0.05);
        let noise_dbfs: f64 = rng.random_range(-100.0..-80.0);
        // White noise of rms 10^(dB/20)/√2: a noise floor of `noise_dbfs` as the analysis reads it
        // (0 dBFS is the rms of a full-scale sine).
        let noise = 10f64.powf(noise_dbfs / 20.0) / 2f64.sqrt();
        let audio = capture(&s, rate, lead, [(g, 0.0), (0.0, g)], dc, noise, case);
        let ctx = format!("case {case}: {rate} Hz, lead {lead:.3} s, gain {gain_db:.1} dB, dc {dc:.3}");
        let m = measure_take(audio, &entry(Direction::Playback), s.clone(), &mut spectrum).expect("measured");
        assert_eq!(m.len(), 4, "{ctx}");
        // Names and drives as separate captures would have them.
        let left = segment(&m, "tone-left");
        assert_eq!((left.stimulus.as_str(), left.drive), ("ears/tone-left", Some(Drive::Left)), "{ctx}");
        // The window starts where the segment does, less the capture's lead (up to 0.25 s).
        let w = left.segment.as_ref().expect("window");
        assert!((w.start_s - (lead - 0.25).max(0.0)).abs() < 2.0 / f64::from(rate), "{ctx}: {w:?}");
        for (id, ear) in [("tone-left", 0), ("tone-right", 1)] {
            let t = segment(&m, id);
            let (on, off) = (&t.ears[ear], &t.ears[1 - ear]);
            assert!(on.present && !off.present, "{ctx}: {id}");
            let level = on.level_dbfs.expect("level");
            assert!((level - (-12.0 + gain_db)).abs() < 0.1, "{ctx}: {id} at {level} dBFS");
            assert!((on.freq_ratio.expect("frequency") - 1.0).abs() < 1e-4, "{ctx}: {id}");
            assert!(on.thd_percent.expect("thd") < 0.1, "{ctx}: {id}");
            assert!(on.dropouts.is_empty() && on.outside_events.is_empty(), "{ctx}: {id}: {on:?}");
        }
        let sweep = segment(&m, "sweep");
        for e in &sweep.ears {
            assert!(e.present && e.inverted == Some(false), "{ctx}");
            let gain = e.gain_db.expect("gain");
            assert!((gain - gain_db).abs() < 0.2, "{ctx}: sweep gain {gain}");
            let worst = e
                .response
                .iter()
                .filter(|p| (50.0..=16_000.0).contains(&p.freq_hz))
                .map(|p| ((p.gain_db - gain_db).abs(), p.freq_hz))
                .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a });
            assert!(worst.0 < 0.5, "{ctx}: response off by {} dB at {} Hz", worst.0, worst.1);
            assert!(e.dropouts.is_empty(), "{ctx}: {:?}", e.dropouts);
        }
        let quiet = segment(&m, "quiet");
        // White noise over 0..Nyquist, read in the band 20 Hz–20 kHz.
        let in_band = noise_dbfs + 10.0 * (19_980.0 / (f64::from(rate) / 2.0)).log10();
        for e in &quiet.ears {
            let got = e.noise_floor_dbfs;
            assert!((got - in_band).abs() < 1.5, "{ctx}: noise {got} dBFS, {in_band} dBFS in band");
            assert!(e.hum_dbfs.is_none(), "{ctx}");
        }
    }
}

#[test]
fn a_sequence_is_found_whatever_the_wiring_does_to_its_parts() {
    // Mixes of what the left and right outputs played, per ear: a CTIA/OMTP mismatch plays the
    // difference into both ears (the sweep on both cancels), a swap exchanges them, a dead ear
    // carries nothing.
    let s = ears();
    let wirings: [(&str, [(f64, f64); 2]); 4] = [
        ("pinout mismatch", [(0.5, -0.5), (-0.5, 0.5)]),
        ("swap", [(0.0, 0.5), (0.5, 0.0)]),
        ("left ear dead", [(0.0, 0.0), (0.0, 0.5)]),
        ("left ear inverted", [(-0.5, 0.0), (0.0, 0.5)]),
    ];
    let mut spectrum = Spectrum::default();
    for (k, (name, mix)) in wirings.iter().enumerate() {
        for lead in [0.01, 0.137, 0.42] {
            let audio = capture(&s, 48_000, lead, *mix, 0.0, 1e-5, k as u64);
            let m = measure_take(audio, &entry(Direction::Playback), s.clone(), &mut spectrum).expect("measured");
            let ctx = format!("{name}, lead {lead}");
            // Each tone lands in its own window, whole: its level is the mix's, its frequency
            // right, and no gap is cut into it.
            for (id, out) in [("tone-left", 0usize), ("tone-right", 1)] {
                let t = segment(&m, id);
                for (ear, (from_l, from_r)) in mix.iter().enumerate() {
                    let want = if out == 0 { *from_l } else { *from_r };
                    let e = &t.ears[ear];
                    assert_eq!(e.present, want != 0.0, "{ctx}: {id} ear {ear}");
                    if want != 0.0 {
                        let level = e.level_dbfs.expect("level");
                        let expect = -12.0 + 20.0 * want.abs().log10();
                        assert!((level - expect).abs() < 0.1, "{ctx}: {id} ear {ear}: {level} vs {expect}");
                        assert!((e.freq_ratio.expect("freq") - 1.0).abs() < 1e-4, "{ctx}: {id} ear {ear}");
                        assert!(e.dropouts.is_empty(), "{ctx}: {id} ear {ear}: {:?}", e.dropouts);
                    }
                }
            }
        }
    }
}
