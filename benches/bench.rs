//! The bench controller and the diagnosis: `cargo bench --bench bench`.
//! - a virtual run of the default plan (rigs/qa-bench.toml), capture set written to disk;
//! - diagnosing a 42-capture set (repair-laptop's plan with one-sided sweeps and two-sided
//!   tones added), WAV reading and every measurement included;
//! - rendering that set's report: every plot, the HTML with the plots inlined, the JSON.

use criterion::{criterion_group, criterion_main, Criterion};
use jackbench::bench::run_plan;
use jackbench::capture::manifest::StimulusEntry;
use jackbench::capture::CaptureSet;
use jackbench::diagnosis::diagnose;
use jackbench::report::{write_report, Formats};
use jackbench::rig::virtual_bench::VirtualBench;
use jackbench::rig::{PlanCapture, RigFile};
use jackbench::stimulus::Stimulus;
use std::path::Path;
use std::sync::atomic::AtomicBool;

fn rig(name: &str) -> RigFile {
    RigFile::load(Path::new(name)).expect("built-in rig")
}

fn bench_for(rig: &RigFile) -> VirtualBench {
    VirtualBench::for_rig(rig, 1)
}

fn virtual_run(c: &mut Criterion) {
    let rig = rig("qa-bench");
    let mut g = c.benchmark_group("run");
    g.sample_size(20);
    g.bench_function("virtual_qa_bench_default_plan", |b| {
        b.iter(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut bench = bench_for(&rig);
            run_plan(&rig, &mut bench, dir.path(), &AtomicBool::new(false), &mut |_| {}).expect("run")
        })
    });
    g.finish();
}

fn diagnose_set(c: &mut Criterion) {
    let mut rig = rig("repair-laptop");
    let extra = |direction, stimulus: &str, drive| {
        let text = format!("direction = \"{direction}\"\nstimulus = \"{stimulus}\"\ndrive = \"{drive}\"\n");
        toml::from_str::<PlanCapture>(&text).expect("plan capture")
    };
    // Separate captures beside the plan's sequences: a tone on both ears, a sweep on each.
    for (id, signal) in [
        ("tone-1k", Stimulus::Sine { freq_hz: 1000.0, level_dbfs: -12.0, seconds: 0.25 }),
        ("sweep", Stimulus::LogSweep { start_hz: 20.0, stop_hz: 20_000.0, level_dbfs: -12.0, seconds: 0.5 }),
    ] {
        rig.stimuli.push(StimulusEntry { id: id.into(), signal });
    }
    rig.plan.captures.push(extra("playback", "tone-1k", "both"));
    rig.plan.captures.push(extra("playback", "sweep", "left"));
    rig.plan.captures.push(extra("playback", "sweep", "right"));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bench = bench_for(&rig);
    run_plan(&rig, &mut bench, dir.path(), &AtomicBool::new(false), &mut |_| {}).expect("run");
    let set = CaptureSet::load(dir.path()).expect("set");
    let n = set.manifest.captures.len();
    let mut g = c.benchmark_group("diagnose");
    g.sample_size(20);
    g.bench_function(format!("repair_laptop_{n}_captures"), |b| {
        b.iter(|| diagnose(&set, &rig.limits).expect("diagnosis"))
    });
    g.finish();
    let d = diagnose(&set, &rig.limits).expect("diagnosis");
    let mut g = c.benchmark_group("report");
    g.sample_size(10);
    g.bench_function(format!("repair_laptop_{n}_captures"), |b| {
        b.iter(|| {
            let out = tempfile::tempdir().expect("tempdir");
            write_report(&set, &d, &rig.limits, out.path(), Formats::default()).expect("report")
        })
    });
    g.finish();
}

criterion_group!(benches, virtual_run, diagnose_set);
criterion_main!(benches);
