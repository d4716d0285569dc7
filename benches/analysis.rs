//! Throughput of the measurement core. `cargo bench --bench analysis`; criterion reports
//! elements (frames) per second: divide by the sample rate for "× real time".

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use jackbench::analysis::spectrum::Spectrum;
use jackbench::analysis::sweep::{sweep_response, SweepOptions};
use jackbench::analysis::{analyze, AnalyzeOptions};
use jackbench::capture::{Audio, SampleFormat};
use jackbench::stimulus::Stimulus;
use std::hint::black_box;

const RATE: u32 = 48_000;

/// A 10 s stereo capture: 0.3 s of lead, a 1 kHz tone at −12 dBFS with a little distortion,
/// hum and noise, and a tail.
fn capture_10s() -> Audio {
    let tone = Stimulus::Sine { freq_hz: 1000.0, level_dbfs: -12.0, seconds: 9.4 };
    let r = f64::from(RATE);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let x: Vec<f64> = (0..10 * RATE as usize)
        .map(|i| {
            let t = i as f64 / r;
            // xorshift noise, uniform ±1e-4
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state as f64 / u64::MAX as f64 - 0.5) * 2e-4;
            let s = tone.value_at(t - 0.3);
            s + 0.01 * s * s + 3e-4 * (2.0 * std::f64::consts::PI * 50.0 * t).sin() + noise
        })
        .collect();
    Audio::from_f64(RATE, SampleFormat::F32, &[x.clone(), x])
}

fn bench_analyze(c: &mut Criterion) {
    let audio = capture_10s();
    let mut g = c.benchmark_group("analyze");
    g.sample_size(20);
    g.throughput(Throughput::Elements(audio.frames() as u64));
    g.bench_function(BenchmarkId::new("tone_stereo_48k", "10s"), |b| {
        b.iter(|| analyze(&mut audio.source(), &AnalyzeOptions::default()).expect("analysis runs"))
    });
    g.finish();
}

fn bench_sweep(c: &mut Criterion) {
    let sweep = Stimulus::LogSweep { start_hz: 20.0, stop_hz: 20_000.0, level_dbfs: -12.0, seconds: 1.0 };
    let r = f64::from(RATE);
    let y: Vec<f64> = (0..(1.5 * r) as usize).map(|i| 0.7 * sweep.value_at(i as f64 / r - 0.2)).collect();
    let mut g = c.benchmark_group("sweep");
    g.sample_size(20);
    g.throughput(Throughput::Elements(y.len() as u64));
    let mut spectrum = Spectrum::default();
    g.bench_function(BenchmarkId::new("deconvolve_48k", "1s_sweep_1.5s_capture"), |b| {
        b.iter(|| sweep_response(black_box(&y), &sweep, r, &SweepOptions::default(), &mut spectrum).expect("measured"))
    });
    g.finish();
}

criterion_group!(benches, bench_analyze, bench_sweep);
criterion_main!(benches);
