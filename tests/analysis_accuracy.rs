//! Accuracy of `analysis::analyze` against analytic truth, over rates, formats, frequencies and
//! levels, with noise, hum, DC and harmonics present together. Tolerances are issue #3's.

mod common;

use common::{Synth, FORMATS};
use jackbench::analysis::{analyze, Analysis, AnalyzeOptions};
use jackbench::capture::SampleFormat;

fn run(s: &Synth) -> Analysis {
    let audio = s.audio(1);
    analyze(&mut audio.source(), &AnalyzeOptions::default()).expect("analysis runs")
}

fn freq_tol(f: f64) -> f64 {
    0.05f64.max(20e-6 * f)
}

/// A tone with everything at once: harmonics, noise, hum, DC.
fn busy(rate: u32, format: SampleFormat, freq: f64, level: f64) -> Synth {
    let mut s = Synth::tone(rate, format, freq, level);
    s.harmonics = vec![(2, 0.01), (3, 0.005), (5, 0.002)];
    s.noise_sigma = 10f64.powf(-95.0 / 20.0);
    s.hum = Some((50.0, vec![(1, 3e-4), (3, 1e-4)]));
    s.dc = 0.01;
    s.seed = (freq as u64) ^ u64::from(rate);
    s
}

#[test]
fn frequency_level_thd_noise_hum_dc_at_every_rate_and_format() {
    let mut checked = 0;
    for rate in [44_100, 48_000, 96_000] {
        for format in FORMATS {
            for freq in [20.0, 97.0, 1000.0, 3_150.0, 12_000.0, 20_000.0] {
                let s = busy(rate, format, freq, -12.0);
                let a = run(&s);
                let c = &a.channels[0];
                let ctx = format!("{rate} Hz {format:?} {freq} Hz");
                let f = c.frequency_hz.expect("tone found");
                assert!((f - freq).abs() <= freq_tol(freq), "{ctx}: frequency {f}");
                let l = c.level_dbfs.expect("level");
                assert!((l + 12.0).abs() <= 0.05, "{ctx}: level {l}");
                let thd = c.thd_percent.unwrap_or_else(|| panic!("{ctx}: no THD: {c:?}"));
                let want = s.thd_percent();
                assert!((thd - want).abs() <= 0.05 * want, "{ctx}: THD {thd} vs {want}");
                let tn = c.thd_n_db.expect("thd+n");
                assert!((tn - s.thd_n_db()).abs() <= 0.5, "{ctx}: THD+N {tn} vs {}", s.thd_n_db());
                assert!(
                    (c.noise_floor_dbfs - s.noise_floor_dbfs()).abs() <= 1.0,
                    "{ctx}: noise {} vs {}",
                    c.noise_floor_dbfs,
                    s.noise_floor_dbfs()
                );
                let hum = c.hum_dbfs.expect("hum found");
                let want_hum = s.hum_dbfs().unwrap();
                // A 20 Hz tone's 5th harmonic sits on the 100 Hz hum line, but this hum has 50 and 150 Hz.
                assert!((hum - want_hum).abs() <= 1.0, "{ctx}: hum {hum} vs {want_hum}");
                assert_eq!(c.hum_mains_hz, Some(50.0), "{ctx}");
                assert!((c.dc_offset - 0.01).abs() <= 1e-4, "{ctx}: DC {}", c.dc_offset);
                assert!(c.dropouts.is_empty(), "{ctx}: {:?}", c.dropouts);
                assert!(!c.clipped && !c.digital_silence, "{ctx}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 54);
}

#[test]
fn level_holds_from_zero_to_minus_eighty_dbfs() {
    for format in FORMATS {
        for rate in [44_100, 48_000, 96_000] {
            for level in [0.0, -6.0, -20.0, -40.0, -60.0, -80.0] {
                let mut s = Synth::tone(rate, format, 1_000.0, level);
                // Analog noise as a real converter has. At 16 bits it must be at least half a step
                // (-96 dBFS): an undithered 3-step sine at -80 dBFS is really a different signal.
                let noise_db = if format == SampleFormat::S16 { -96.0 } else { -120.0 };
                s.noise_sigma = 10f64.powf(noise_db / 20.0);
                let c = &run(&s).channels[0];
                let l = c.level_dbfs.expect("level");
                assert!((l - level).abs() <= 0.05, "{format:?} {rate} {level} dBFS: {l}");
                assert!((c.frequency_hz.unwrap() - 1000.0).abs() <= 0.05);
                assert!(!c.clipped || level == 0.0, "{format:?} {rate} {level}: clipped");
            }
        }
    }
}

#[test]
fn thd_holds_from_a_hundredth_to_thirty_percent() {
    for rate in [44_100, 48_000, 96_000] {
        for thd in [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0] {
            for freq in [50.0, 1000.0, 6000.0] {
                let mut s = Synth::tone(rate, SampleFormat::F32, freq, -10.0);
                // Spread over three harmonics: amplitudes in ratio 3:2:1.
                let r = thd / 100.0 / (9.0f64 + 4.0 + 1.0).sqrt();
                s.harmonics = vec![(2, 3.0 * r), (3, 2.0 * r), (4, r)];
                s.noise_sigma = 10f64.powf(-110.0 / 20.0);
                s.hum = Some((60.0, vec![(1, 1e-5)]));
                let want = s.thd_percent();
                let c = &run(&s).channels[0];
                let got = c.thd_percent.unwrap();
                assert!((got - want).abs() <= 0.05 * want, "{rate} {freq} Hz THD {thd}%: {got}");
                let tn = c.thd_n_db.unwrap();
                assert!(
                    (tn - s.thd_n_db()).abs() <= 0.5,
                    "{rate} {freq} Hz THD {thd}%: THD+N {tn} vs {}",
                    s.thd_n_db()
                );
            }
        }
    }
}

#[test]
fn noise_and_hum_levels_over_their_range() {
    for rate in [44_100, 48_000, 96_000] {
        for noise_db in [-120.0, -100.0, -80.0, -60.0] {
            for (mains, hum_db) in [(50.0, -90.0), (60.0, -70.0), (50.0, -50.0)] {
                let mut s = Synth::tone(rate, SampleFormat::S24, 1_000.0, -20.0);
                s.noise_sigma = 10f64.powf(noise_db / 20.0);
                // Family: fundamental, 2nd and 3rd at -6 and -10 dB relative; hum_db is the total.
                let rel = [1.0, 0.5, 0.316];
                let norm = rel.iter().map(|r| r * r).sum::<f64>().sqrt();
                let total = 10f64.powf(hum_db / 20.0);
                s.hum = Some((mains, rel.iter().enumerate().map(|(i, r)| (i as u32 + 1, total * r / norm)).collect()));
                let c = &run(&s).channels[0];
                let ctx = format!("{rate} noise {noise_db} hum {mains}/{hum_db}");
                assert!(
                    (c.noise_floor_dbfs - s.noise_floor_dbfs()).abs() <= 1.0,
                    "{ctx}: noise {} vs {}",
                    c.noise_floor_dbfs,
                    s.noise_floor_dbfs()
                );
                // Hum 20 dB or more over the noise in its bandwidth must be found and measured.
                if hum_db > noise_db - 10.0 {
                    let h = c.hum_dbfs.unwrap_or_else(|| panic!("{ctx}: hum not found"));
                    assert!((h - s.hum_dbfs().unwrap()).abs() <= 1.0, "{ctx}: hum {h} vs {}", s.hum_dbfs().unwrap());
                    assert_eq!(c.hum_mains_hz, Some(mains), "{ctx}");
                }
            }
        }
    }
}

#[test]
fn no_hum_is_null_and_silence_is_flagged() {
    for seed in 0..20 {
        let mut s = Synth::tone(48_000, SampleFormat::S24, 1_000.0, -20.0);
        s.noise_sigma = 1e-4;
        s.seed = seed;
        let c = &run(&s).channels[0];
        assert_eq!(c.hum_dbfs, None, "seed {seed}: false hum {:?}", c.hum_dbfs);
        assert!(c.dropouts.is_empty(), "seed {seed}: false dropouts {:?}", c.dropouts);
    }
    let mut s = Synth::tone(48_000, SampleFormat::S16, 1_000.0, -20.0);
    s.tone = None;
    let c = &run(&s).channels[0];
    assert!(c.digital_silence);
    assert_eq!(c.frequency_hz, None);
    assert!(!run(&busy(48_000, SampleFormat::S16, 1000.0, -20.0)).channels[0].digital_silence);
}

#[test]
fn every_dropout_is_found_with_its_time() {
    let cases: [(f64, &[(f64, f64)]); 4] = [
        (1_000.0, &[(0.5, 10.0), (0.8, 1.0), (1.0, 21.3)]),
        (100.0, &[(0.4, 5.0), (0.9, 50.0)]),
        (20.0, &[(0.6, 2.0), (0.95, 30.0)]),
        (8_000.0, &[(0.33, 1.0), (0.5, 1.5), (0.7, 3.0), (1.1, 8.0)]),
    ];
    for rate in [44_100, 48_000, 96_000] {
        for format in FORMATS {
            for (freq, gaps) in cases {
                let mut s = busy(rate, format, freq, -12.0);
                s.tone_s = 1.2;
                s.gaps = gaps.to_vec();
                let c = &run(&s).channels[0];
                let ctx = format!("{rate} {format:?} {freq} Hz");
                assert_eq!(c.dropouts.len(), gaps.len(), "{ctx}: {:?}", c.dropouts);
                for (d, (at, ms)) in c.dropouts.iter().zip(gaps.iter()) {
                    assert!((d.at_s - at).abs() <= 0.005, "{ctx}: {d:?} vs {at}");
                    assert!((d.ms - ms).abs() <= 5.0, "{ctx}: {d:?} vs {ms} ms");
                }
            }
        }
    }
}

#[test]
fn lost_samples_are_discontinuities() {
    for rate in [44_100, 48_000] {
        for (freq, lost) in [(1_000.0, 17usize), (440.0, 256), (5_000.0, 3)] {
            let mut s = busy(rate, SampleFormat::S24, freq, -6.0);
            s.lost = vec![(0.61, lost), (0.9, lost)];
            let c = &run(&s).channels[0];
            assert_eq!(c.dropouts.len(), 2, "{rate} {freq} Hz: {:?}", c.dropouts);
            assert!((c.dropouts[0].at_s - 0.61).abs() <= 0.005, "{:?}", c.dropouts);
            assert!((c.dropouts[1].at_s - 0.9).abs() <= 0.005, "{:?}", c.dropouts);
        }
    }
}

#[test]
fn clipping_is_seen_and_a_clean_peak_is_not() {
    for format in FORMATS {
        // A +3 dBFS tone held at full scale (a float file holds it as written, so clamp it).
        let x: Vec<f64> = Synth::tone(48_000, format, 100.0, 3.0).render().iter().map(|v| v.clamp(-1.0, 1.0)).collect();
        let audio = jackbench::capture::Audio::from_f64(48_000, format, &[x]);
        let c = &analyze(&mut audio.source(), &AnalyzeOptions::default()).unwrap().channels[0];
        assert!(c.clipped, "{format:?}: +3 dBFS tone held at full scale");
        // Clipped earlier in the chain, below full scale.
        let mut x = Synth::tone(48_000, format, 1000.0, -6.0).render();
        let lim = 0.4;
        x.iter_mut().for_each(|v| *v = v.clamp(-lim, lim));
        let audio = jackbench::capture::Audio::from_f64(48_000, format, &[x]);
        let c = &analyze(&mut audio.source(), &AnalyzeOptions::default()).unwrap().channels[0];
        assert!(c.clipped, "{format:?}: clipped at 0.4");
        for freq in [20.0, 1000.0, 12_345.0] {
            let mut s = Synth::tone(48_000, format, freq, -0.5);
            s.noise_sigma = 1e-6;
            assert!(!run(&s).channels[0].clipped, "{format:?} {freq}: false clip");
        }
    }
}

#[test]
fn rare_rates_work_too() {
    for (rate, freq) in [(8_000, 1_000.0), (16_000, 440.0), (32_000, 10_000.0), (88_200, 15_000.0), (192_000, 1_000.0)]
    {
        let s = busy(rate, SampleFormat::S24, freq, -12.0);
        let c = &run(&s).channels[0];
        assert!((c.frequency_hz.unwrap() - freq).abs() <= freq_tol(freq), "{rate}");
        assert!((c.level_dbfs.unwrap() + 12.0).abs() <= 0.05, "{rate}: {:?}", c.level_dbfs);
        let want = s.thd_percent();
        assert!((c.thd_percent.unwrap() - want).abs() <= 0.05 * want, "{rate}: {:?} vs {want}", c.thd_percent);
        assert!(
            (c.noise_floor_dbfs - s.noise_floor_dbfs()).abs() <= 1.0,
            "{rate}: {} vs {}",
            c.noise_floor_dbfs,
            s.noise_floor_dbfs()
        );
    }
}

#[test]
fn a_given_frequency_measures_there() {
    let s = busy(48_000, SampleFormat::S24, 1_000.0, -30.0);
    let audio = s.audio(2);
    let a = analyze(&mut audio.source(), &AnalyzeOptions { freq_hz: Some(1_000.0), silence: false }).unwrap();
    assert_eq!(a.channels.len(), 2);
    for c in &a.channels {
        assert!((c.level_dbfs.unwrap() + 30.0).abs() <= 0.05);
    }
    // Where no tone is, the level at the given frequency is the noise's, far below.
    let mut quiet = busy(48_000, SampleFormat::S24, 1_000.0, -30.0);
    quiet.tone = None;
    let audio = quiet.audio(1);
    let a = analyze(&mut audio.source(), &AnalyzeOptions { freq_hz: Some(1_000.0), silence: false }).unwrap();
    assert!(!a.channels[0].tone_present);
    assert!(a.channels[0].level_dbfs.unwrap() < -100.0, "{:?}", a.channels[0].level_dbfs);
}

#[test]
fn two_channel_files_report_balance_polarity_and_crosstalk() {
    use jackbench::capture::Audio;
    let s = busy(48_000, SampleFormat::S24, 1_000.0, -12.0);
    let x = s.render();
    // Right 4 dB down and inverted.
    let g = 10f64.powf(-4.0 / 20.0);
    let right: Vec<f64> = x.iter().map(|v| -g * (v - 0.01) + 0.01).collect();
    let audio = Audio::from_f64(48_000, SampleFormat::S24, &[x.clone(), right]);
    let a = analyze(&mut audio.source(), &AnalyzeOptions::default()).expect("analysed");
    let st = a.stereo.expect("two channels compared");
    // Tolerances: balance ±0.05 dB, phase within 1° of 180°.
    assert!((st.balance_db.expect("balance") - 4.0).abs() < 0.05, "{st:?}");
    assert!((st.phase_deg.expect("phase").abs() - 180.0).abs() < 1.0, "{st:?}");
    assert_eq!(st.inverted, Some(true));
    assert_eq!(st.crosstalk_db, None);

    // Left only, the right channel 70 dB down plus its own noise: crosstalk −70 ±0.5 dB.
    let mut quiet = busy(48_000, SampleFormat::S24, 1_000.0, -12.0);
    quiet.tone = None;
    quiet.seed = 99;
    let bleed: Vec<f64> = quiet.render().iter().zip(&x).map(|(n, v)| n + 10f64.powf(-70.0 / 20.0) * v).collect();
    let audio = Audio::from_f64(48_000, SampleFormat::S24, &[x, bleed]);
    let a = analyze(&mut audio.source(), &AnalyzeOptions::default()).expect("analysed");
    let st = a.stereo.expect("two channels compared");
    assert!((st.crosstalk_db.expect("crosstalk") + 70.0).abs() < 0.5, "{st:?}");
    assert_eq!(st.balance_db, None);
    // Mono files have no stereo object.
    assert!(run(&s).stereo.is_none());
}

#[test]
fn silence_mode_measures_strong_hum_as_hum_without_false_dropouts() {
    for (mains, hum_db) in [(50.0, -45.0), (60.0, -60.0)] {
        let mut s = Synth::tone(48_000, SampleFormat::S16, 1_000.0, -12.0);
        s.tone = None;
        s.noise_sigma = 10f64.powf(-85.0 / 20.0);
        let total = 10f64.powf(hum_db / 20.0);
        s.hum = Some((mains, vec![(1, total * 0.8), (2, total * 0.48), (3, total * 0.36)]));
        let audio = s.audio(1);
        let a = analyze(&mut audio.source(), &AnalyzeOptions { freq_hz: None, silence: true }).expect("analysed");
        let c = &a.channels[0];
        let ctx = format!("{mains} Hz at {hum_db} dBFS");
        assert!(!c.tone_present && c.frequency_hz.is_none(), "{ctx}: {c:?}");
        assert_eq!(c.hum_mains_hz, Some(mains), "{ctx}");
        assert!((c.hum_dbfs.expect("hum") - s.hum_dbfs().expect("truth")).abs() < 1.0, "{ctx}: {:?}", c.hum_dbfs);
        assert!((c.noise_floor_dbfs - s.noise_floor_dbfs()).abs() < 1.0, "{ctx}: {}", c.noise_floor_dbfs);
        assert!(c.dropouts.is_empty(), "{ctx}: {:?}", c.dropouts);
    }
}

#[test]
fn coloured_noise_alone_is_no_tone() {
    // Noise rising 6 dB an octave towards low frequencies (integrated white noise), no tone:
    // against the whole band's median its low end would stand 20 dB out.
    for seed in 0..10 {
        let mut white = Synth::tone(48_000, SampleFormat::F32, 1_000.0, -12.0);
        white.tone = None;
        white.noise_sigma = 1e-5;
        white.seed = seed;
        let mut acc = 0.0;
        let x: Vec<f64> = white
            .render()
            .iter()
            .map(|v| {
                acc = 0.995 * acc + v;
                acc
            })
            .collect();
        let audio = jackbench::capture::Audio::from_f64(48_000, SampleFormat::F32, &[x]);
        let c = &analyze(&mut audio.source(), &AnalyzeOptions::default()).expect("analysed").channels[0];
        assert!(!c.tone_present, "seed {seed}: a tone at {:?} Hz, {:?} dBFS", c.frequency_hz, c.level_dbfs);
    }
}

/// A short tone only a few dB above mains hum or a raised noise floor (a faulty port): with its
/// frequency known, it is found where it is (the hum fills the lead and tail as loudly), hum
/// makes no gaps, real gaps are still found, and noise makes no THD.
#[test]
fn a_tone_barely_above_hum_or_noise_is_measured_where_it_is() {
    let known = AnalyzeOptions { freq_hz: Some(1_000.0), silence: false };
    let at = |s: &Synth| {
        let audio = s.audio(1);
        analyze(&mut audio.source(), &known).expect("analysis runs").channels.remove(0)
    };
    for rate in [44_100, 48_000, 96_000] {
        // Hum peaks 0.05 + 0.025 + 0.015 against a 0.056 (−25 dBFS) tone: the broadband level
        // of lead, tone and tail differ by under 10 dB.
        let mut s = Synth::tone(rate, SampleFormat::S24, 1_000.0, -25.0);
        (s.lead_s, s.tone_s, s.tail_s) = (0.4, 0.25, 0.25);
        s.hum = Some((60.0, vec![(1, 0.05), (2, 0.025), (3, 0.015)]));
        s.noise_sigma = 1e-5;
        let c = at(&s);
        let ctx = format!("{rate} Hz, hum");
        assert!(c.steady_start_s >= 0.4 && c.steady_start_s <= 0.43, "{ctx}: starts {}", c.steady_start_s);
        assert!(c.steady_end_s <= 0.65 && c.steady_end_s >= 0.62, "{ctx}: ends {}", c.steady_end_s);
        assert!(c.dropouts.is_empty(), "{ctx}: {:?}", c.dropouts);
        assert!((c.level_dbfs.expect("level") + 25.0).abs() < 0.1, "{ctx}: {:?}", c.level_dbfs);
        s.gaps = vec![(0.47, 5.0), (0.56, 2.0)];
        let c = at(&s);
        assert_eq!(c.dropouts.len(), 2, "{ctx}, two gaps: {:?}", c.dropouts);
        for (d, (t, _)) in c.dropouts.iter().zip(&s.gaps) {
            assert!((d.at_s - t).abs() <= 0.005, "{ctx}: {d:?}");
        }

        // White noise at −43 dBFS rms, 18 dB under the tone's rms, and no harmonics: no THD.
        let mut s = Synth::tone(rate, SampleFormat::S24, 1_000.0, -25.0);
        (s.lead_s, s.tone_s, s.tail_s) = (0.4, 0.25, 0.25);
        s.noise_sigma = 10f64.powf(-43.0 / 20.0) / 2f64.sqrt();
        s.seed = u64::from(rate);
        let c = at(&s);
        let ctx = format!("{rate} Hz, noise");
        assert!(c.thd_percent.expect("thd") < 0.3, "{ctx}: THD {:?}", c.thd_percent);
        // A 2 % third harmonic in the same noise is measured.
        s.harmonics = vec![(3, 0.02)];
        let thd = at(&s).thd_percent.expect("thd");
        assert!((thd - 2.0).abs() < 0.3, "{ctx}: THD {thd} % for 2 %");
    }
}

#[test]
fn room_sound_over_a_tone_is_a_disturbance_not_a_dropout_and_the_noise_is_read_clear_of_it() {
    // A burst of white noise 25 dB over the floor (and at least 15 dB under the tone) inside the
    // tone, at every rate, several frequencies and levels; with and without gaps elsewhere.
    let mut checked = 0;
    for rate in [44_100, 48_000, 96_000] {
        for (k, freq) in [120.0, 1_000.0, 6_000.0].into_iter().enumerate() {
            for level in [-6.0, -30.0] {
                for with_gaps in [false, true] {
                    let mut s = Synth::tone(rate, SampleFormat::F32, freq, level);
                    s.noise_sigma = 10f64.powf((level - 70.0) / 20.0);
                    s.seed = 31 * k as u64 + rate as u64 + u64::from(with_gaps);
                    let (at, ms) = (s.lead_s + 0.55 + 0.05 * k as f64, 60.0 + 80.0 * k as f64);
                    s.bursts = vec![(at, ms, s.noise_sigma * 10f64.powf(25.0 / 20.0))];
                    if with_gaps {
                        s.gaps = vec![(s.lead_s + 0.2, 5.0), (s.lead_s + 0.35, 20.0)];
                    }
                    let c = &run(&s).channels[0];
                    let ctx = format!("{rate} Hz, {freq} Hz at {level} dBFS, gaps {with_gaps}");
                    // The disturbance is found where the burst is (to a block or two, 10 ms).
                    let d = c.disturbances.iter().find(|d| d.at_s < at + ms / 1000.0 && d.at_s + d.ms / 1000.0 > at);
                    let d = d.unwrap_or_else(|| panic!("{ctx}: no disturbance in {:?}", c.disturbances));
                    assert!((d.at_s - at).abs() <= 0.012, "{ctx}: starts at {} for {at}", d.at_s);
                    assert!((d.ms - ms).abs() <= 25.0, "{ctx}: {} ms for {ms}", d.ms);
                    // Its noise is no click, and the gaps elsewhere are found as they are.
                    let want = if with_gaps { 2 } else { 0 };
                    assert_eq!(c.dropouts.len(), want, "{ctx}: {:?}", c.dropouts);
                    // The noise floor is read clear of it (±1.5 dB).
                    assert!(
                        (c.noise_floor_dbfs - s.noise_floor_dbfs()).abs() <= 1.5,
                        "{ctx}: noise {} vs {}",
                        c.noise_floor_dbfs,
                        s.noise_floor_dbfs()
                    );
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 36);
    // A steady tone with harmonics and noise, and one with a worn contact's clicks, have none.
    let mut s = busy(48_000, SampleFormat::S24, 1_000.0, -12.0);
    s.harmonics = vec![(2, 0.03), (3, 0.02)];
    assert!(run(&s).channels[0].disturbances.is_empty());
    s.gaps = vec![(0.4, 1.0), (0.5, 2.0), (0.6, 1.5), (0.7, 3.0)];
    let c = &run(&s).channels[0];
    assert!(c.disturbances.is_empty(), "{:?}", c.disturbances);
    assert_eq!(c.dropouts.len(), 4, "{:?}", c.dropouts);
}

/// The classes the held-out single-tone captures and a peer's loopback cases found, each as a
/// property over rate, format, frequency, level, duration and DC (issue 33).
mod held_out {
    use super::*;
    use proptest::prelude::*;

    fn rates() -> impl Strategy<Value = u32> {
        proptest::sample::select(vec![16_000u32, 44_100, 48_000, 96_000])
    }

    fn formats() -> impl Strategy<Value = SampleFormat> {
        proptest::sample::select(vec![SampleFormat::S16, SampleFormat::S24, SampleFormat::F32])
    }

    /// A tone 70 dB over its noise (as a good path carries it), its noise drawn from `seed`.
    fn tone_over_noise(rate: u32, format: SampleFormat, freq: f64, level: f64, seed: u64) -> Synth {
        let mut s = Synth::tone(rate, format, freq, level);
        s.noise_sigma = 10f64.powf((level - 70.0) / 20.0);
        s.seed = seed;
        s
    }

    proptest! {
        // A fixed seed: CI runs the same 40 cases each time (the regressions file keeps any that failed).
        #![proptest_config(ProptestConfig { cases: 40, rng_seed: proptest::test_runner::RngSeed::Fixed(33), ..ProptestConfig::default() })]

        /// A pure tone under noise: the noise in the harmonics' bins is no distortion. THD reads
        /// under 0.02 % (a tenth of the 0.21 % once read), or, where harmonics could hide in the
        /// noise, 0 with the floor they could hide under, which lies over what was read.
        #[test]
        fn thd_of_a_pure_tone_under_noise_is_not_the_noise(
            rate in rates(), format in formats(), freq in 60.0f64..5_000.0, level in -40.0f64..-3.0,
            snr in 50.0f64..100.0, dc in -0.05f64..0.05, seed in 0u64..1_000_000,
        ) {
            prop_assume!(freq < f64::from(rate) / 4.0);
            let mut s = Synth::tone(rate, format, freq, level);
            s.noise_sigma = 10f64.powf((level - snr) / 20.0);
            s.dc = dc;
            s.seed = seed;
            let c = &run(&s).channels[0];
            let thd = c.thd_percent.unwrap_or(0.0);
            prop_assert!(thd < 0.02, "THD {thd} % for 0 % (floor {:?})", c.thd_floor_percent);
            if let Some(floor) = c.thd_floor_percent {
                prop_assert!(floor.is_finite() && floor >= thd, "floor {floor} % under THD {thd} %");
            }
        }

        /// A short capture (0.2 to 0.4 s of tone) with blocks lost as zeros (one to three, 3 to
        /// 20 ms each): its frequency within 0.05 % (or 0.05 Hz) and its level within 0.5 dB,
        /// measured on its clean stretches, and each gap found. (It read 3 dB low: when the gaps
        /// leave no stretch of many periods the fit spans them, and gives them no weight however
        /// much of the tone they take.)
        #[test]
        fn a_short_capture_with_lost_blocks_is_measured_on_its_clean_stretches(
            rate in rates(), format in formats(), freq in 300.0f64..6_000.0, level in -40.0f64..-3.0,
            tone_s in 0.2f64..0.4, gaps in proptest::collection::vec((0.15f64..0.85, 3.0f64..20.0), 1..=3),
            dc in -0.05f64..0.05, seed in 0u64..1_000_000,
        ) {
            prop_assume!(freq < f64::from(rate) / 4.0);
            let mut s = tone_over_noise(rate, format, freq, level, seed);
            s.dc = dc;
            s.lead_s = 0.05;
            s.tail_s = 0.05;
            s.tone_s = tone_s;
            // Gaps spread over the tone, apart from each other by 20 ms at least.
            let mut at: Vec<f64> = gaps.iter().map(|(share, _)| s.lead_s + share * tone_s).collect();
            at.sort_by(f64::total_cmp);
            prop_assume!(at.windows(2).all(|w| w[1] - w[0] > 0.035));
            s.gaps = at.iter().zip(&gaps).map(|(a, (_, ms))| (*a, *ms)).collect();
            let c = &run(&s).channels[0];
            let f = c.frequency_hz.expect("a tone");
            let tol = (5e-4 * freq).max(0.05);
            prop_assert!((f - freq).abs() <= tol, "frequency {f} Hz for {freq} Hz (±{tol})");
            let l = c.level_dbfs.expect("a level");
            prop_assert!((l - level).abs() <= 0.5, "level {l} dBFS for {level}");
            for (a, ms) in &s.gaps {
                prop_assert!(
                    c.dropouts.iter().any(|d| d.at_s < a + ms / 1000.0 + 0.005 && d.at_s + d.ms / 1000.0 > a - 0.005),
                    "gap at {a} s ({ms} ms) not in {:?}",
                    c.dropouts
                );
            }
        }

        /// A burst inside a tone (40 to 150 ms, 30 to 64 dB over the noise the capture holds, its
        /// rounding included) is an event where it lies in `analyze`'s contract, the tone's level
        /// unmoved and no clipping, in every format at 16 to 96 kHz. (In 16-bit captures none was
        /// found: their quiet parts were exact zeros, a floor under the tone's own rounding.)
        #[test]
        fn a_burst_inside_a_tone_is_an_event_where_it_lies(
            rate in rates(), format in formats(), freq in 300.0f64..6_000.0, level in -40.0f64..-3.0,
            share in 0.15f64..0.75, ms in 40.0f64..150.0, over_noise in 30.0f64..64.0,
            seed in 0u64..1_000_000,
        ) {
            prop_assume!(freq < f64::from(rate) / 4.0);
            let mut s = tone_over_noise(rate, format, freq, level, seed);
            let at = s.lead_s + share * s.tone_s;
            // Over the noise the capture holds, its format's rounding included.
            let q = format.quantum();
            let floor = (s.noise_sigma.powi(2) + q * q / 12.0).sqrt();
            s.bursts = vec![(at, ms, floor * 10f64.powf(over_noise / 20.0))];
            let a = run(&s).contract();
            let c = &a.channels[0];
            prop_assert!(
                c.dropouts.iter().any(|d| d.at_s < at + ms / 1000.0 && d.at_s + d.ms / 1000.0 > at - 0.012),
                "burst at {at} s ({ms} ms) not in {:?}",
                c.dropouts
            );
            prop_assert!(!c.clipped);
            let l = c.level_dbfs.expect("a level");
            prop_assert!((l - level).abs() <= 0.2, "level {l} dBFS for {level}");
        }

        /// Sound after the tone's end (20 ms and more after it; a click, a burst 10 to 30 dB under
        /// the tone) is outside it: no gap at the tone's end, no clipping, and the tone measured as it
        /// is. (From 400 Hz: up to 300 Hz the tone has no band of its own to tell it from a burst
        /// at its level, and such a burst right after it still joins its span; a burst within
        /// 10 dB of the tone can still read as sound over the whole tone, issue 33's note.)
        #[test]
        fn an_artefact_after_the_tone_is_no_gap_and_no_clipping(
            rate in rates(), format in formats(), freq in 400.0f64..6_000.0, level in -40.0f64..-3.0,
            after_ms in 20.0f64..150.0, ms in 1.0f64..60.0, under_tone in 10.0f64..30.0,
            seed in 0u64..1_000_000,
        ) {
            prop_assume!(freq < f64::from(rate) / 4.0);
            let mut s = tone_over_noise(rate, format, freq, level, seed);
            let end = s.lead_s + s.tone_s;
            let at = end + after_ms / 1000.0;
            s.tail_s = s.tail_s.max(after_ms / 1000.0 + ms / 1000.0 + 0.05);
            let rms = s.amplitude() / 2f64.sqrt() * 10f64.powf(-under_tone / 20.0);
            s.bursts = vec![(at, ms, rms)];
            let c = &run(&s).contract().channels[0];
            prop_assert!(!c.clipped, "clipped");
            prop_assert!(
                !c.dropouts.iter().any(|d| (d.at_s - end).abs() < 0.02 || (d.at_s + d.ms / 1000.0 - end).abs() < 0.02),
                "a gap at the tone's end ({end} s): {:?}",
                c.dropouts
            );
            let f = c.frequency_hz.expect("a tone");
            prop_assert!((f - freq).abs() <= super::freq_tol(freq), "frequency {f} Hz for {freq} Hz");
            let l = c.level_dbfs.expect("a level");
            prop_assert!((l - level).abs() <= 0.1, "level {l} dBFS for {level}");
        }
    }
}
