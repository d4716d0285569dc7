//! The plug measured electrically in the diagnosis (issue 17): the virtual bench's model of the
//! relay board's meter reads each headset's plug before the sound, and the diagnosis uses it.
//!
//! Every case is run twice on the same seed, by sound alone and with the meter, and judged
//! against the injected fault (spec §4's "right": the component and the code, a look-alike code
//! of the same fault, e.g. a dead ear named as the broken conductor it is, or the component
//! among the suspects). Printed: how many pinout mismatches, dead microphones and dead ears sound
//! alone left among suspects that the meter names
//! (`cargo test --test plug_diagnosis -- --nocapture`).

mod common;

use common::{counter_rig, par_each, virtual_rigs};
use jackbench::bench::run_plan;
use jackbench::capture::{CaptureSet, ComponentKind};
use jackbench::diagnosis::{diagnose, Diagnosis, Symptom, Verdict};
use jackbench::rig::virtual_bench::{InjectedFault, VirtualBench};
use jackbench::rig::RigFile;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

/// Runs the plan with `faults`, by sound alone or with the meter, and diagnoses what it wrote.
fn run(rig: &RigFile, faults: &[InjectedFault], seed: u64, meter: bool) -> (Diagnosis, usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bench = VirtualBench::for_rig(rig, seed).with_meter(meter);
    for f in faults {
        bench.inject(f).expect("allowed fault");
    }
    let outcome = run_plan(rig, &mut bench, dir.path(), &AtomicBool::new(false), &mut |_| {}).expect("run");
    assert!(outcome.stopped.is_none(), "{:?}", outcome.stopped);
    let set = CaptureSet::load(dir.path()).expect("a valid capture set");
    let plugs = set.manifest.plugs.len();
    (diagnose(&set, &rig.limits).expect("diagnosis"), plugs)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Wrong,
    Suspect,
    Right,
}

fn judge(d: &Diagnosis, truth: &InjectedFault) -> Outcome {
    if d.faults.iter().any(|f| f.component == truth.component && truth.symptom.found_as(f.code.symptom)) {
        return Outcome::Right;
    }
    if d.suspects.iter().any(|s| truth.symptom.found_as(s.symptom) && s.components.contains(&truth.component)) {
        return Outcome::Suspect;
    }
    Outcome::Wrong
}

/// What a case is about, for the table: an electrical fault by what sound alone heard of it (a
/// microphone line's open, short or held button is a dead or weak microphone to the ear).
fn family(s: Symptom, alone: &Diagnosis) -> &'static str {
    let heard = |want: &[Symptom]| {
        alone.faults.iter().any(|f| want.contains(&f.code.symptom))
            || alone.suspects.iter().any(|x| want.contains(&x.symptom))
    };
    match s {
        Symptom::PinoutMismatch => "pinout mismatch",
        Symptom::InputDead => "dead microphone",
        Symptom::ChannelDead | Symptom::OutputDead => "dead ear(s)",
        _ if heard(&[Symptom::InputDead, Symptom::LowLevel]) && !heard(&[Symptom::ChannelDead]) => "mic line (DC)",
        _ => "ear line (DC)",
    }
}

#[test]
fn the_meter_names_what_sound_alone_left_among_suspects_and_loses_nothing() {
    // And repair-counter, where sound alone cannot tell the customer's adapter from the headset.
    let mut rigs = virtual_rigs();
    rigs.push(counter_rig());
    let symptoms = [
        Symptom::PinoutMismatch,
        Symptom::InputDead,
        Symptom::ChannelDead,
        Symptom::OutputDead,
        Symptom::OpenContact,
        Symptom::Short,
        Symptom::Button,
    ];
    let mut cases = Vec::new();
    for (r, rig) in rigs.iter().enumerate() {
        let planned = |id: &str| rig.plan.paths.iter().any(|p| p.spec().ids().contains(&id));
        for c in rig.components.iter().filter(|c| c.kind != ComponentKind::Loopback && !c.reference) {
            if !planned(c.id.get_ref()) {
                continue;
            }
            for s in symptoms.iter().filter(|s| s.kinds().contains(&c.kind)) {
                // Electrical faults of ports and adapters are out of the meter's reach (it reads
                // the plug in a headset socket); sound names them as their look-alikes, which the
                // suite of every fault covers.
                if s.is_electrical() && c.kind != ComponentKind::Headset {
                    continue;
                }
                for seed in 0..4u64 {
                    let fault = InjectedFault { component: c.id.get_ref().clone(), symptom: *s, severity: 0.5 };
                    cases.push((r, fault, 2000 + 13 * seed + *s as u64));
                }
            }
        }
    }
    let results = Mutex::new(Vec::new());
    par_each(&cases, |(r, fault, seed)| {
        let rig = &rigs[*r];
        let (alone, _) = run(rig, std::slice::from_ref(fault), *seed, false);
        let (metered, plugs) = run(rig, std::slice::from_ref(fault), *seed, true);
        let exact = metered.faults.iter().any(|f| f.component == fault.component && f.code.symptom == fault.symptom);
        results.lock().expect("results").push((
            rig.name.clone(),
            fault.clone(),
            judge(&alone, fault),
            judge(&metered, fault),
            exact,
            plugs,
            metered,
            family(fault.symptom, &alone),
        ));
    });
    let results = results.into_inner().expect("results");
    println!(
        "{:<18} {:>5} {:>22} {:>22} {:>8}",
        "family", "cases", "alone: right/susp/wrong", "meter: right/susp/wrong", "named"
    );
    let mut worse = Vec::new();
    let mut electrical_missed = Vec::new();
    let mut named_total = 0;
    for fam in ["pinout mismatch", "dead microphone", "mic line (DC)", "dead ear(s)", "ear line (DC)"] {
        let of: Vec<_> = results.iter().filter(|r| r.7 == fam).collect();
        let tally = |k: usize| {
            let o = |want| of.iter().filter(|r| if k == 0 { r.2 == want } else { r.3 == want }).count();
            format!("{}/{}/{}", o(Outcome::Right), o(Outcome::Suspect), o(Outcome::Wrong))
        };
        let named = of.iter().filter(|r| r.2 == Outcome::Suspect && r.3 == Outcome::Right).count();
        named_total += named;
        println!("{fam:<18} {:>5} {:>22} {:>22} {:>8}", of.len(), tally(0), tally(1), named);
    }
    for (rig, fault, alone, metered, exact, plugs, d, _) in &results {
        let label = format!("{rig} {}:{}", fault.component, fault.symptom);
        assert_eq!(*plugs, 1, "{label}: one plug under test measured");
        if metered < alone {
            worse.push(format!("{label}: {alone:?} alone, {metered:?} with the meter: {:?}", names(d)));
        }
        if fault.symptom.is_electrical() && !exact {
            electrical_missed.push(format!("{label}: {:?}", names(d)));
        }
        match metered {
            Outcome::Suspect => println!("    still a suspect with the meter: {label}: {:?}", names(d)),
            Outcome::Wrong => println!("    wrong with the meter: {label}: {:?}", names(d)),
            Outcome::Right => {}
        }
    }
    println!("{named_total} cases sound alone left among suspects are named with the meter");
    assert!(worse.is_empty(), "the meter made these worse: {worse:#?}");
    assert!(electrical_missed.is_empty(), "electrical faults not named as such: {electrical_missed:#?}");
    // repair-counter is where sound alone cannot separate the customer's adapter and headset.
    assert!(named_total >= 8, "{named_total} cases named");
}

fn names(d: &Diagnosis) -> Vec<String> {
    d.faults
        .iter()
        .map(|f| format!("{}:{}", f.component, f.code))
        .chain(d.suspects.iter().map(|s| format!("suspects {:?}:{}", s.components, s.symptom)))
        .collect()
}

#[test]
fn healthy_units_pass_with_the_meter_on_every_rig() {
    let mut rigs = virtual_rigs();
    rigs.push(counter_rig());
    let cases: Vec<(usize, u64)> = (0..rigs.len()).flat_map(|r| (0..8).map(move |s| (r, 3000 + s))).collect();
    par_each(&cases, |(r, seed)| {
        let (d, plugs) = run(&rigs[*r], &[], *seed, true);
        assert_eq!(plugs, rigs[*r].plugs_to_measure().len(), "{}", rigs[*r].name);
        assert_eq!(d.verdict, Verdict::Pass, "{} seed {seed}: {:?}", rigs[*r].name, names(&d));
    });
}

#[test]
fn the_plug_command_reads_the_virtual_bench_s_plug_with_the_fault_given() {
    let plug = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_jackbench")).arg("plug").args(args).output().expect("runs")
    };
    let json = |out: &std::process::Output| -> serde_json::Value { serde_json::from_slice(&out.stdout).expect("json") };
    let out = plug(&["--rig", "qa-bench", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out);
    assert_eq!((v["headset"].as_str(), v["verdict"]["pinout"].as_str()), (Some("dut"), Some("ctia")), "{v}");
    assert_eq!(v["readings"]["pairs"].as_array().map(Vec::len), Some(6));
    for (fault, symptom) in [("dut:short", "short"), ("dut:open_contact", "open_contact"), ("dut:button", "button")] {
        let out = plug(&["--rig", "qa-bench", "--json", "--seed", "3", "--fault", fault]);
        assert_eq!(out.status.code(), Some(1), "{fault}");
        let v = json(&out);
        assert_eq!(v["verdict"]["findings"][0]["symptom"], symptom, "{fault}: {v}");
    }
    let out = plug(&["--rig", "qa-bench", "--json", "--fault", "dut:pinout_mismatch"]);
    assert_eq!(json(&out)["verdict"]["pinout"], "omtp");
    // What cannot be done says so.
    for (args, says) in [
        (&["--rig", "qa-bench", "--buttons"][..], "no operator"),
        (&["--rig", "qa-bench", "--fault", "dut:hum"][..], "hum is a fault of a port only"),
        (&["--rig", "loopback-check"][..], "switched by hand"),
    ] {
        let out = plug(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
