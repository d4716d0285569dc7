//! `analyze` on what real benches record (spec §5, v1.1; issue #12): DC offsets, clipping at any
//! frequency and upstream of the recorder, quarter-second captures with gaps, THD under hum, noise
//! and DC together, level steps, tones that end early, and sounds outside the tone. Every case
//! states its tolerance; the property tests sweep level, frequency, duration, rate and DC.

mod common;

use common::Synth;
use jackbench::analysis::{analyze, AnalyzeOptions, ChannelAnalysis};
use jackbench::capture::SampleFormat;
use proptest::prelude::*;

fn measure(s: &Synth) -> ChannelAnalysis {
    let audio = s.audio(1);
    analyze(&mut audio.source(), &AnalyzeOptions::default()).expect("analysis runs").channels.remove(0)
}

fn freq_tol(f: f64) -> f64 {
    0.05f64.max(20e-6 * f)
}

/// Issue #12's first class: a quiet tone on a DC offset made 99 false dropouts.
#[test]
fn dc_offset_makes_no_false_dropouts() {
    for rate in [44_100, 48_000, 96_000] {
        for (level, dc) in [(-40.0, 0.01), (-40.0, -0.02), (-60.0, 0.01), (-20.0, 0.1), (-50.0, 0.05)] {
            for freq in [100.0, 1_000.0, 5_000.0] {
                let mut s = Synth::tone(rate, SampleFormat::S24, freq, level);
                s.dc = dc;
                s.noise_sigma = 10f64.powf((level - 60.0) / 20.0);
                let c = measure(&s);
                let ctx = format!("{rate} Hz, {freq} Hz at {level} dBFS on DC {dc}");
                assert!(c.dropouts.is_empty(), "{ctx}: {:?}", c.dropouts);
                assert!(!c.clipped, "{ctx}: clipped");
                // Level ±0.05 dB, DC ±1e-4 of full scale (issue #3's tolerances).
                assert!((c.level_dbfs.expect("level") - level).abs() <= 0.05, "{ctx}: {:?}", c.level_dbfs);
                assert!((c.dc_offset - dc).abs() <= 1e-4, "{ctx}: DC {}", c.dc_offset);
            }
        }
    }
}

/// Real gaps are still found on a DC offset.
#[test]
fn gaps_on_a_dc_offset_are_found() {
    for rate in [44_100, 48_000] {
        let mut s = Synth::tone(rate, SampleFormat::S24, 1_000.0, -40.0);
        s.dc = 0.01;
        s.noise_sigma = 1e-6;
        s.gaps = vec![(0.5, 3.0), (0.9, 10.0)];
        let c = measure(&s);
        assert_eq!(c.dropouts.len(), 2, "{rate}: {:?}", c.dropouts);
        for (d, (at, ms)) in c.dropouts.iter().zip(&s.gaps) {
            assert!((d.at_s - at).abs() <= 0.005 && (d.ms - ms).abs() <= 5.0, "{rate}: {d:?}");
        }
    }
}

/// Clipping at any frequency (a flat top may be one sample long at 6 kHz) and clipped upstream
/// (flat tops scaled below full scale), with and without DC; an unclipped tone never is.
#[test]
fn clipping_is_found_at_any_frequency_and_upstream() {
    for rate in [44_100, 48_000, 96_000] {
        for freq in [100.0, 1_000.0, 3_000.0, 6_000.0, 9_000.0] {
            for format in [SampleFormat::S16, SampleFormat::S24, SampleFormat::F32] {
                for (limit, gain, dc) in [(1.0, 1.0, 0.0), (0.6, 0.25, 0.0), (0.7, 0.5, 0.01), (0.2, 2.0, 0.0)] {
                    // A tone 3 dB over the limit: its top 30 % of each half period is held.
                    let mut s = Synth::tone(rate, format, freq, 20.0 * (limit * 1.41f64).log10());
                    s.clip = Some((limit, gain));
                    s.dc = dc;
                    s.noise_sigma = 1e-5;
                    let c = measure(&s);
                    let ctx = format!("{rate} {format:?} {freq} Hz clipped at {limit} × {gain}, DC {dc}");
                    assert!(c.clipped, "{ctx}: not seen");
                    // A clipped tone is no dropout either.
                    assert!(c.dropouts.is_empty(), "{ctx}: {:?}", c.dropouts);
                }
                for level in [-0.2, -6.0, -30.0] {
                    let mut s = Synth::tone(rate, format, freq, level);
                    s.noise_sigma = 1e-6;
                    s.dc = 0.005;
                    assert!(!measure(&s).clipped, "{rate} {format:?} {freq} Hz at {level} dBFS: false clip");
                }
            }
        }
    }
}

/// A tone mildly clipped (1 dB over the limit) is still seen.
#[test]
fn mild_clipping_is_found() {
    for freq in [1_000.0, 4_000.0] {
        let mut s = Synth::tone(48_000, SampleFormat::S24, freq, 20.0 * (0.5 * 1.12f64).log10());
        s.clip = Some((0.5, 0.8));
        s.noise_sigma = 1e-5;
        assert!(measure(&s).clipped, "{freq} Hz clipped 1 dB");
    }
}

/// A quarter-second capture at 96 kHz with three 2.7 ms gaps: level ±0.05 dB, frequency within
/// 20 ppm, every gap found.
#[test]
fn a_quarter_second_with_three_gaps_is_measured_on_its_clean_part() {
    for rate in [44_100, 48_000, 96_000] {
        for freq in [440.0, 1_000.0, 3_150.0] {
            let mut s = Synth::tone(rate, SampleFormat::S24, freq, -12.0);
            (s.lead_s, s.tone_s, s.tail_s) = (0.01, 0.22, 0.02);
            s.noise_sigma = 1e-5;
            s.gaps = vec![(0.07, 2.7), (0.12, 2.7), (0.17, 2.7)];
            let c = measure(&s);
            let ctx = format!("{rate} Hz, {freq} Hz");
            assert_eq!(c.dropouts.len(), 3, "{ctx}: {:?}", c.dropouts);
            let l = c.level_dbfs.expect("level");
            assert!((l + 12.0).abs() <= 0.05, "{ctx}: level {l}");
            let f = c.frequency_hz.expect("frequency");
            assert!((f - freq).abs() <= freq_tol(freq), "{ctx}: frequency {f}");
        }
    }
}

/// THD on a quarter-second capture with hum, noise and DC together: ±5 % relative.
#[test]
fn thd_of_a_short_capture_with_hum_noise_and_dc() {
    for rate in [44_100, 48_000, 96_000] {
        for freq in [440.0, 1_000.0, 2_500.0] {
            for thd in [0.3, 1.0, 5.0] {
                let mut s = Synth::tone(rate, SampleFormat::S24, freq, -12.0);
                (s.lead_s, s.tone_s, s.tail_s) = (0.01, 0.22, 0.02);
                let r = thd / 100.0;
                s.harmonics = vec![(2, 0.8 * r), (3, 0.6 * r)];
                s.hum = Some((50.0, vec![(1, 3e-3), (3, 1e-3)]));
                s.noise_sigma = 1e-5;
                s.dc = 0.02;
                let c = measure(&s);
                let got = c.thd_percent.expect("thd");
                let ctx = format!("{rate} Hz, {freq} Hz, THD {thd} %");
                assert!((got - s.thd_percent()).abs() <= 0.05 * s.thd_percent(), "{ctx}: {got}");
                assert!((c.level_dbfs.expect("level") + 12.0).abs() <= 0.05, "{ctx}: {:?}", c.level_dbfs);
            }
        }
    }
}

/// A volume change is a pair of level steps, at their times ±10 ms and their size ±0.3 dB, never
/// a dropout; a persistent change is one step.
#[test]
fn level_steps_are_measured_and_are_not_dropouts() {
    for rate in [44_100, 48_000, 96_000] {
        for freq in [250.0, 1_000.0, 6_000.0] {
            let cases: [&[(f64, f64)]; 4] = [
                &[(0.6, 20.0 * 1.4f64.log10()), (0.9, -20.0 * 1.4f64.log10())],
                &[(0.7, -6.0)],
                &[(0.5, 1.5)],
                &[(0.45, -12.0), (0.95, 12.0)],
            ];
            for steps in cases {
                let mut s = Synth::tone(rate, SampleFormat::S24, freq, -12.0);
                s.tone_s = 1.0;
                s.noise_sigma = 1e-5;
                s.steps = steps.to_vec();
                let c = measure(&s);
                let ctx = format!("{rate} Hz, {freq} Hz, steps {steps:?}");
                assert!(c.dropouts.is_empty(), "{ctx}: dropouts {:?}", c.dropouts);
                assert_eq!(c.level_steps.len(), steps.len(), "{ctx}: {:?}", c.level_steps);
                for (got, (at, db)) in c.level_steps.iter().zip(steps.iter()) {
                    assert!((got.at_s - at).abs() <= 0.010, "{ctx}: {got:?}");
                    assert!((got.db - db).abs() <= 0.3, "{ctx}: {got:?}");
                }
            }
        }
    }
}

/// A steady tone has no level steps, whatever its noise, hum and DC.
#[test]
fn a_steady_tone_has_no_level_steps() {
    for (level, noise_db) in [(-12.0, -100.0), (-30.0, -70.0), (-40.0, -60.0)] {
        let mut s = Synth::tone(48_000, SampleFormat::S16, 1_000.0, level);
        s.noise_sigma = 10f64.powf(noise_db / 20.0);
        s.hum = Some((60.0, vec![(1, 1e-3)]));
        s.dc = 0.01;
        let c = measure(&s);
        assert!(c.level_steps.is_empty(), "{level} dBFS: {:?}", c.level_steps);
    }
}

/// A tone that ends early, with a burst of noise after it and clicks before it: the steady part
/// stays inside the tone, the sounds outside it are outside events (±10 ms), and none of them is
/// a dropout or makes the tone clipped.
#[test]
fn sounds_before_and_after_the_tone_are_outside_events() {
    for rate in [44_100, 48_000, 96_000] {
        for freq in [440.0, 1_000.0, 3_000.0] {
            let mut s = Synth::tone(rate, SampleFormat::S24, freq, -12.0);
            (s.lead_s, s.tone_s, s.tail_s) = (0.4, 0.6, 1.2);
            s.noise_sigma = 1e-5;
            // Clicks in the lead, a burst 80 ms after the tone ends, another late in the tail.
            s.bursts = vec![(0.1, 0.3, 0.3), (0.25, 2.0, 0.05), (1.08, 40.0, 0.3), (1.7, 100.0, 0.02)];
            let c = measure(&s);
            let ctx = format!("{rate} Hz, {freq} Hz");
            assert!(c.dropouts.is_empty(), "{ctx}: dropouts {:?}", c.dropouts);
            assert!(!c.clipped, "{ctx}: clipped");
            assert!(c.level_steps.is_empty(), "{ctx}: steps {:?}", c.level_steps);
            assert!(c.steady_start_s >= 0.4 && c.steady_end_s <= 1.0, "{ctx}: {}–{}", c.steady_start_s, c.steady_end_s);
            assert!(c.steady_end_s >= 0.97, "{ctx}: steady part ends at {}", c.steady_end_s);
            assert!((c.level_dbfs.expect("level") + 12.0).abs() <= 0.05, "{ctx}: {:?}", c.level_dbfs);
            assert_eq!(c.outside_events.len(), s.bursts.len(), "{ctx}: {:?}", c.outside_events);
            for (e, (at, ms, _)) in c.outside_events.iter().zip(&s.bursts) {
                assert!((e.at_s - at).abs() <= 0.010, "{ctx}: {e:?} vs {at}");
                assert!((e.ms - ms).abs() <= 10.0, "{ctx}: {e:?} vs {ms} ms");
            }
        }
    }
}

/// Noise that fills most of the lead, before playback began, is one outside event; the same noise
/// throughout the capture (a noisy room) is none.
#[test]
fn noise_before_playback_is_an_outside_event() {
    for rate in [44_100, 48_000] {
        let mut s = Synth::tone(rate, SampleFormat::S24, 1_000.0, -12.0);
        (s.lead_s, s.tone_s, s.tail_s) = (0.5, 0.5, 0.3);
        s.noise_sigma = 1e-5;
        s.bursts = vec![(0.05, 400.0, 0.01)];
        let c = measure(&s);
        assert_eq!(c.outside_events.len(), 1, "{rate}: {:?}", c.outside_events);
        let e = c.outside_events[0];
        assert!((e.at_s - 0.05).abs() <= 0.010 && (e.ms - 400.0).abs() <= 10.0, "{rate}: {e:?}");
        assert!(c.dropouts.is_empty(), "{rate}: {:?}", c.dropouts);
        s.bursts.clear();
        s.noise_sigma = 0.01;
        let c = measure(&s);
        assert!(c.outside_events.is_empty(), "{rate}, noisy room: {:?}", c.outside_events);
    }
}

/// A quiet lead and tail have no outside events, even with hum and noise in them.
#[test]
fn a_quiet_lead_and_tail_have_no_outside_events() {
    for (noise_db, hum) in [(-100.0, 0.0), (-60.0, 1e-3), (-50.0, 0.01)] {
        let mut s = Synth::tone(48_000, SampleFormat::S16, 1_000.0, -12.0);
        s.tail_s = 0.8;
        s.noise_sigma = 10f64.powf(noise_db / 20.0);
        if hum > 0.0 {
            s.hum = Some((50.0, vec![(1, hum), (3, hum / 3.0)]));
        }
        let c = measure(&s);
        assert!(c.outside_events.is_empty(), "noise {noise_db} dB, hum {hum}: {:?}", c.outside_events);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Over level, frequency, duration, rate and DC: no false dropout, no false clip, no false
    /// step or outside event, level within 0.1 dB and frequency within 20 ppm (SNR ≥ 50 dB).
    #[test]
    fn a_clean_tone_is_measured_right_whatever_its_circumstances(
        level in -60.0f64..-1.0,
        log_freq in (60f64).ln()..(12_000f64).ln(),
        tone_s in 0.2f64..2.0,
        lead_s in 0.02f64..0.5,
        rate in prop::sample::select(vec![44_100u32, 48_000, 96_000]),
        dc_share in -1.0f64..1.0,
        seed in 0u64..1_000,
    ) {
        let freq = log_freq.exp();
        let mut s = Synth::tone(rate, SampleFormat::F32, freq, level);
        (s.lead_s, s.tone_s, s.tail_s) = (lead_s, tone_s, 0.2);
        s.noise_sigma = 10f64.powf((level - 50.0) / 20.0);
        // DC up to ten times the tone's amplitude, and at most 0.05 of full scale.
        let amplitude = 10f64.powf(level / 20.0);
        s.dc = dc_share * (10.0 * amplitude).min(0.05);
        if level + 20.0 * (1.0 + s.dc.abs() / amplitude).log10() > -0.5 {
            s.dc = 0.0;
        }
        s.seed = seed;
        let c = measure(&s);
        prop_assert!(c.dropouts.is_empty(), "dropouts {:?}", c.dropouts);
        prop_assert!(!c.clipped, "false clip");
        prop_assert!(c.level_steps.is_empty(), "steps {:?}", c.level_steps);
        prop_assert!(c.outside_events.is_empty(), "outside {:?}", c.outside_events);
        let l = c.level_dbfs.expect("level");
        prop_assert!((l - level).abs() <= 0.1, "level {} for {}", l, level);
        let f = c.frequency_hz.expect("frequency");
        prop_assert!((f - freq).abs() <= freq_tol(freq), "frequency {} for {}", f, freq);
        prop_assert!((c.dc_offset - s.dc).abs() <= 1e-4 + 0.01 * s.dc.abs(), "DC {} for {}", c.dc_offset, s.dc);
    }

    /// A distorting speaker (harmonics up to 5 %, in any phase) is no clipped one, in any format.
    #[test]
    fn distortion_is_not_clipping(
        h2 in 0.0f64..0.03,
        h3 in 0.0f64..0.05,
        level in -40.0f64..-1.0,
        log_freq in (60f64).ln()..(8_000f64).ln(),
        rate in prop::sample::select(vec![44_100u32, 48_000, 96_000]),
        format in prop::sample::select(vec![SampleFormat::S16, SampleFormat::S24, SampleFormat::F32]),
    ) {
        let freq = log_freq.exp();
        let mut s = Synth::tone(rate, format, freq, level);
        s.harmonics = vec![(2, h2), (3, h3)];
        s.noise_sigma = 10f64.powf((level - 70.0) / 20.0);
        let c = measure(&s);
        prop_assert!(!c.clipped, "false clip");
        prop_assert!(c.dropouts.is_empty(), "dropouts {:?}", c.dropouts);
    }

    /// Clipped anywhere along the chain, at any frequency and rate: seen.
    #[test]
    fn clipping_is_seen_whatever_its_circumstances(
        over_db in 1.5f64..12.0,
        limit in 0.05f64..1.0,
        gain in 0.1f64..1.0,
        log_freq in (60f64).ln()..(8_000f64).ln(),
        rate in prop::sample::select(vec![44_100u32, 48_000, 96_000]),
        dc in -0.02f64..0.02,
    ) {
        let freq = log_freq.exp();
        let mut s = Synth::tone(rate, SampleFormat::F32, freq, 20.0 * limit.log10() + over_db);
        s.clip = Some((limit, gain));
        s.noise_sigma = 1e-3 * limit * gain;
        s.dc = dc;
        let c = measure(&s);
        prop_assert!(c.clipped, "not seen");
        prop_assert!(c.dropouts.is_empty(), "dropouts {:?}", c.dropouts);
    }
}
