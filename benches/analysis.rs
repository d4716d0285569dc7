//! Throughput of the measurement core. `cargo bench --bench analysis`; criterion reports
//! elements (frames) per second: divide by the sample rate for "× real time".

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use jackbench::analysis::rub_buzz::{rub_buzz, RubBuzzOptions};
use jackbench::analysis::spectrum::Spectrum;
use jackbench::analysis::sweep::{sweep_response, SweepOptions};
use jackbench::analysis::{analyze, AnalyzeOptions, SampleSource};
use jackbench::capture::wav::{write_wav, WavSource};
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

/// THD and rub & buzz over frequency of one 0.5 s sweep capture (0.8 s of audio), as the
/// diagnosis measures every playback sweep: the deconvolution with orders 2 to 5, then the
/// tracking high-pass and its bands. Issue #14's target: under 20 ms.
fn bench_distortion(c: &mut Criterion) {
    let sweep = Stimulus::LogSweep { start_hz: 20.0, stop_hz: 20_000.0, level_dbfs: -12.0, seconds: 0.5 };
    let r = f64::from(RATE);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let y: Vec<f64> = (0..(0.8 * r) as usize)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let s = 0.5 * sweep.value_at(i as f64 / r - 0.1);
            s + 0.02 * s * s * s + (state as f64 / u64::MAX as f64 - 0.5) * 1e-4
        })
        .collect();
    let mut g = c.benchmark_group("distortion");
    g.sample_size(20);
    g.throughput(Throughput::Elements(y.len() as u64));
    let mut spectrum = Spectrum::default();
    let opts = SweepOptions { points_per_octave: 6, max_order: 5 };
    g.bench_function(BenchmarkId::new("thd_and_rub_buzz_48k", "0.5s_sweep"), |b| {
        b.iter(|| {
            let resp = sweep_response(black_box(&y), &sweep, r, &opts, &mut spectrum).expect("measured");
            let rb = rub_buzz(&y, &sweep, r, resp.delay_s, &[], &RubBuzzOptions::default());
            (resp.thd.len(), rb.len())
        })
    });
    g.bench_function(BenchmarkId::new("rub_buzz_only_48k", "0.5s_sweep"), |b| {
        b.iter(|| rub_buzz(black_box(&y), &sweep, r, 0.1, &[], &RubBuzzOptions::default()))
    });
    g.finish();
}

/// An archived capture read back: a 120 s stereo float WAV file decoded (the page cache warm),
/// and analysed streaming from the file as `jackbench analyze` does.
fn bench_file(c: &mut Criterion) {
    let ten = capture_10s();
    let audio = Audio {
        rate_hz: ten.rate_hz,
        format: ten.format,
        channels: ten.channels.iter().map(|c| c.repeat(12)).collect(),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("long.wav");
    write_wav(&path, &audio).expect("written");
    let mut g = c.benchmark_group("wav_file");
    g.sample_size(10);
    g.throughput(Throughput::Elements(audio.frames() as u64));
    g.bench_function(BenchmarkId::new("decode_f32_stereo_48k", "120s"), |b| {
        b.iter(|| WavSource::open(&path).expect("opens").read_all().expect("reads"))
    });
    // What each pass of `analyze` pays to read the file: 256 k frames at a time into reused buffers.
    g.bench_function(BenchmarkId::new("stream_f32_stereo_48k", "120s"), |b| {
        let mut buf = vec![Vec::new(); 2];
        b.iter(|| {
            let mut src = WavSource::open(&path).expect("opens");
            let mut pos = 0;
            while pos < src.frames() {
                src.read(pos, 1 << 18, &mut buf).expect("reads");
                pos += buf[0].len() as u64;
            }
            pos
        })
    });
    g.bench_function(BenchmarkId::new("analyze_f32_stereo_48k", "120s"), |b| {
        b.iter(|| {
            let mut src = WavSource::open(&path).expect("opens");
            analyze(&mut src, &AnalyzeOptions::default()).expect("analysis runs")
        })
    });
    g.finish();
}

criterion_group!(benches, bench_analyze, bench_sweep, bench_distortion, bench_file);
criterion_main!(benches);
