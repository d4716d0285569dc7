//! Clock drift between the device that plays and the one that records (issue #15): the virtual
//! bench's drivers run on clocks of their own, ±200 ppm off the bench's interface. The analysis
//! finds the offset from the sequence's tones and corrects it before anything is measured:
//! responses are those of a bench without drift to ±0.2 dB up to 16 kHz, polarity and swaps are
//! read right, no drift is taken for a rate mismatch, and 0.6 % still is one.

mod common;

use common::{par_map, virtual_rigs};
use jackbench::bench::run_plan;
use jackbench::capture::{CaptureSet, Direction};
use jackbench::diagnosis::{diagnose, Diagnosis, Measured, Symptom};
use jackbench::rig::virtual_bench::{InjectedFault, VirtualBench};
use jackbench::rig::RigFile;
use std::sync::atomic::AtomicBool;

/// Runs `rig` with every driver's clock at `ppm` (`None`: as the bench draws them) and `faults`.
fn run(rig: &RigFile, ppm: Option<f64>, faults: &[&str], seed: u64) -> Diagnosis {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bench = VirtualBench::for_rig(rig, seed);
    if let Some(ppm) = ppm {
        for c in rig.components.iter().filter(|c| c.kind == jackbench::capture::ComponentKind::Driver) {
            bench.set_clock_ppm(c.id.get_ref(), ppm).expect("a driver");
        }
    }
    for f in faults {
        bench.inject(&InjectedFault::parse(f).expect("fault")).expect("allowed");
    }
    let out = run_plan(rig, &mut bench, dir.path(), &AtomicBool::new(false), &mut |_| {}).expect("run");
    assert!(out.stopped.is_none());
    let set = CaptureSet::load(dir.path()).expect("set");
    diagnose(&set, &rig.limits).expect("diagnosis")
}

fn sweeps(d: &Diagnosis) -> Vec<&Measured> {
    d.captures.iter().map(|c| &c.measurements).filter(|m| m.stimulus.ends_with("/sweep")).collect()
}

fn symptoms(d: &Diagnosis) -> Vec<String> {
    d.faults.iter().map(|f| format!("{}:{}", f.component, f.code)).collect()
}

#[test]
fn drift_is_found_corrected_and_no_fault() {
    let rigs = virtual_rigs();
    let mut cases = Vec::new();
    for r in 0..rigs.len() {
        for ppm in [-200.0, -120.0, 60.0, 200.0] {
            cases.push((r, ppm));
        }
    }
    let worst = par_map(&cases, |&(r, ppm)| {
        let rig = &rigs[r];
        let seed = 40 + r as u64;
        let (drifting, steady) = (run(rig, Some(ppm), &[], seed), run(rig, Some(0.0), &[], seed));
        assert!(drifting.faults.is_empty(), "{} at {ppm} ppm: {:?}", rig.name, symptoms(&drifting));
        // Every capture with tones found the offset: the couplers record what the driver played
        // (a fast driver compresses it), the driver records what the bench played.
        for m in drifting.captures.iter().map(|c| &c.measurements) {
            let Some(w) = &m.segment else { continue };
            let expect = match m.direction {
                Direction::Playback => -ppm / (1.0 + ppm * 1e-6),
                Direction::Record => ppm,
                Direction::Loopback => 0.0,
            };
            match w.clock_ppm {
                Some(found) => assert!((found - expect).abs() < 2.0, "{}: {found:.1} ppm, {expect:.1} set", m.place()),
                None => assert!(m.direction == Direction::Loopback, "{}: no offset found at {ppm} ppm", m.place()),
            }
        }
        // Each sweep's response is the drift-free bench's to within 0.2 dB from 50 Hz to 16 kHz.
        let mut worst: f64 = 0.0;
        for (a, b) in sweeps(&drifting).into_iter().zip(sweeps(&steady)) {
            assert_eq!(a.place(), b.place());
            for (x, y) in a.ears.iter().zip(&b.ears).filter(|(x, _)| x.present) {
                for (p, q) in x.response.iter().zip(&y.response).filter(|(p, _)| (50.0..=16_000.0).contains(&p.freq_hz))
                {
                    let e = (p.gain_db - q.gain_db).abs();
                    assert!(e <= 0.2, "{}: {:.0} Hz off by {e:.2} dB at {ppm} ppm", a.place(), p.freq_hz);
                    worst = worst.max(e);
                }
            }
        }
        worst
    });
    println!("worst response difference under ±200 ppm: {:.3} dB", worst.iter().copied().fold(0.0, f64::max));
}

#[test]
fn polarity_and_swaps_are_read_right_under_drift() {
    let rig = virtual_rigs().into_iter().find(|r| r.name == "qa-bench").expect("qa-bench");
    let cases: Vec<(&str, Symptom, f64)> = [
        ("dut:polarity", Symptom::Polarity),
        ("dut:channel_swap", Symptom::ChannelSwap),
        ("hda:channel_swap", Symptom::ChannelSwap),
        ("golden:polarity", Symptom::Polarity),
    ]
    .into_iter()
    .flat_map(|(f, s)| [-200.0, 200.0].map(|ppm| (f, s, ppm)))
    .collect();
    par_map(&cases, |&(fault, symptom, ppm)| {
        let d = run(&rig, Some(ppm), &[fault], 5);
        let component = fault.split(':').next().expect("component");
        assert!(
            d.faults.iter().any(|f| f.component == component && f.code.symptom == symptom),
            "{fault} at {ppm} ppm: {:?}",
            symptoms(&d)
        );
        assert!(!d.faults.iter().any(|f| f.code.symptom == Symptom::RateMismatch), "{fault}: {:?}", symptoms(&d));
    });
}

#[test]
fn a_clock_half_a_percent_off_is_still_a_rate_mismatch() {
    let rig = virtual_rigs().into_iter().find(|r| r.name == "qa-bench").expect("qa-bench");
    for ppm in [-6000.0, 6000.0] {
        let d = run(&rig, Some(ppm), &[], 3);
        assert!(
            d.faults.iter().any(|f| f.component == "hda" && f.code.symptom == Symptom::RateMismatch),
            "{ppm} ppm: {:?}",
            symptoms(&d)
        );
        // Not corrected: no segment claims a drift it did not take out.
        let claimed: Vec<String> = d
            .captures
            .iter()
            .filter_map(|c| Some((c.measurements.place(), c.measurements.segment.as_ref()?.clock_ppm?)))
            .map(|(p, c)| format!("{p}: {c:.0} ppm"))
            .collect();
        assert!(claimed.is_empty(), "{ppm} ppm: {claimed:?}");
    }
}
