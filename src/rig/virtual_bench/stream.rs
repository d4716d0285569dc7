//! The virtual bench played and recorded without end (`jackbench monitor`): a continuous model
//! of one path.
//!
//! Each recorded line (left and right ear, the microphone) is what the bench's own chain gives
//! for the plan's steady tones ([`VirtualBench::steady`]): every tone as heard on the line (its
//! own, and the other ear's through crosstalk), the own tone's harmonics, the line's noise and
//! hum. The faults that come and go are drawn as events in time, seeded:
//! - a **worn contact** (`intermittent` on the port, adapter or headset) opens one line at a time,
//!   at its rate of events per second, for 1–50 ms (log-uniform), with a click where it opens;
//! - a **driver's dropouts** zero every line at once for one to three 256-frame buffers.
//!
//! Every event is kept as [`StreamTruth`], for tests to hold a monitor's findings against.

use super::{Steady, VirtualBench};
use crate::rig::stream::{AudioStream, StreamChannel, StreamPlan};
use crate::rig::RigError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::f64::consts::PI;
use std::time::{Duration, Instant};

/// Frames computed per [`AudioStream::read`]: 10 ms at 48 kHz, a sound card's block.
const BLOCK: usize = 480;

/// How fast a virtual stream runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// As a sound card delivers: a block when its time has come.
    RealTime,
    /// As fast as it can be computed.
    Fast,
}

/// One event the model put into the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamTruth {
    /// The line's index among the plan's channels.
    pub line: usize,
    pub start_frame: u64,
    pub frames: u64,
    /// `"contact"` (a worn contact, with the part's id) or `"dropout"` (the driver's).
    pub cause: String,
}

/// A sine computed by rotation: `(cos, sin)` of its phase, turned by its step each frame.
#[derive(Debug, Clone, Copy)]
struct Oscillator {
    amplitude: f64,
    c: f64,
    s: f64,
    step_c: f64,
    step_s: f64,
}

impl Oscillator {
    fn new(freq_hz: f64, amplitude: f64, rate: f64, phase: f64) -> Oscillator {
        let w = 2.0 * PI * freq_hz / rate;
        Oscillator { amplitude, c: phase.cos(), s: phase.sin(), step_c: w.cos(), step_s: w.sin() }
    }

    fn next(&mut self) -> f64 {
        let v = self.amplitude * self.s;
        (self.c, self.s) = (self.c * self.step_c - self.s * self.step_s, self.s * self.step_c + self.c * self.step_s);
        v
    }

    /// Puts the phasor back on the unit circle (rounding drifts it by ~1e-16 a frame).
    fn renormalise(&mut self) {
        let r = (self.c * self.c + self.s * self.s).sqrt();
        if r > 0.0 {
            (self.c, self.s) = (self.c / r, self.s / r);
        }
    }
}

struct Line {
    oscillators: Vec<Oscillator>,
    noise: Option<Normal<f64>>,
    /// Peak of the line's sound, for the size of a contact's click.
    peak: f64,
    /// The spans `[from, to)` in which the line is open (drawn ahead, pruned as they pass).
    open: Vec<(u64, u64)>,
    click_at: Option<u64>,
}

/// A process of events in time: the next one's frame.
struct Process {
    per_s: f64,
    next: u64,
    cause: String,
    /// Zeroes every line (a driver's dropout) rather than one (a contact).
    all_lines: bool,
}

/// The virtual bench's [`AudioStream`].
pub struct VirtualStream {
    plan: StreamPlan,
    rate: f64,
    lines: Vec<Line>,
    processes: Vec<Process>,
    rng: ChaCha8Rng,
    frame: u64,
    pace: Pace,
    started: Instant,
    truth: Vec<StreamTruth>,
}

impl VirtualStream {
    /// Starts the path of `plan` on `bench`, its noise and events drawn from `seed`.
    pub fn new(bench: &VirtualBench, plan: StreamPlan, seed: u64, pace: Pace) -> Result<VirtualStream, RigError> {
        let Steady { lines, contacts, dropouts_per_s } = bench.steady(&plan)?;
        let rate = f64::from(plan.rate_hz);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x006d_6f6e_6974_6f72);
        let lines = lines
            .into_iter()
            .map(|l| {
                let mut oscillators: Vec<Oscillator> = Vec::new();
                for (i, &(f, a)) in l.tones.iter().enumerate() {
                    oscillators.push(Oscillator::new(f, a, rate, rng.random_range(0.0..2.0 * PI)));
                    if i == l.own {
                        for (k, rel) in l.harmonics.iter().enumerate() {
                            let fk = f * (k + 2) as f64;
                            if fk < rate / 2.0 {
                                oscillators.push(Oscillator::new(fk, a * rel, rate, rng.random_range(0.0..2.0 * PI)));
                            }
                        }
                    }
                }
                if let Some((mains, rms)) = l.hum {
                    // The hum as its fundamental and third harmonic, the rms shared between them.
                    for k in [1.0, 3.0] {
                        oscillators.push(Oscillator::new(mains * k, rms, rate, rng.random_range(0.0..2.0 * PI)));
                    }
                }
                let peak = oscillators.iter().map(|o| o.amplitude).sum::<f64>();
                Line {
                    oscillators,
                    noise: Normal::new(0.0, l.noise_rms).ok().filter(|_| l.noise_rms > 0.0),
                    peak,
                    open: Vec::new(),
                    click_at: None,
                }
            })
            .collect();
        let mut processes: Vec<Process> = contacts
            .into_iter()
            .map(|(part, per_s)| Process { per_s, next: 0, cause: format!("contact {part}"), all_lines: false })
            .collect();
        if let Some(per_s) = dropouts_per_s {
            processes.push(Process { per_s, next: 0, cause: "dropout".into(), all_lines: true });
        }
        for p in &mut processes {
            p.next = next_after(0, p.per_s, rate, &mut rng);
        }
        Ok(VirtualStream {
            plan,
            rate,
            lines,
            processes,
            rng,
            frame: 0,
            pace,
            started: Instant::now(),
            truth: Vec::new(),
        })
    }

    /// Every event put into the stream so far.
    pub fn truth(&self) -> &[StreamTruth] {
        &self.truth
    }

    /// Frames delivered so far.
    pub fn frames(&self) -> u64 {
        self.frame
    }

    /// Draws the events that start in `[from, to)`.
    fn draw_events(&mut self, from: u64, to: u64) {
        let rate = self.rate;
        for p in &mut self.processes {
            while p.next < to {
                let at = p.next.max(from);
                let (lines, frames): (Vec<usize>, u64) = if p.all_lines {
                    let block = ((256.0 * rate / 48_000.0) as u64).max(16);
                    ((0..self.lines.len()).collect(), block * self.rng.random_range(1..=3u64))
                } else {
                    let line = self.rng.random_range(0..self.lines.len().max(1));
                    (vec![line], ((rate * 0.001 * 50f64.powf(self.rng.random::<f64>())) as u64).max(1))
                };
                for &l in &lines {
                    if let Some(line) = self.lines.get_mut(l) {
                        line.open.push((at, at + frames));
                        if !p.all_lines {
                            line.click_at = Some(at);
                        }
                    }
                    self.truth.push(StreamTruth { line: l, start_frame: at, frames, cause: p.cause.clone() });
                }
                p.next = next_after(at + frames, p.per_s, rate, &mut self.rng);
            }
        }
    }
}

/// The frame of the next event of a process at `per_s`, after `frame` (exponential waits).
fn next_after(frame: u64, per_s: f64, rate: f64, rng: &mut ChaCha8Rng) -> u64 {
    let u: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
    frame + (-u.ln() / per_s.max(1e-9) * rate).round() as u64
}

impl AudioStream for VirtualStream {
    fn rate_hz(&self) -> u32 {
        self.plan.rate_hz
    }

    fn channels(&self) -> Vec<StreamChannel> {
        self.plan.channels()
    }

    fn read(&mut self, out: &mut [Vec<f32>]) -> Result<(), RigError> {
        if self.pace == Pace::RealTime {
            let due = self.started + Duration::from_secs_f64((self.frame + BLOCK as u64) as f64 / self.rate);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let (from, to) = (self.frame, self.frame + BLOCK as u64);
        self.draw_events(from, to);
        for (line, out) in self.lines.iter_mut().zip(out.iter_mut()) {
            out.reserve(BLOCK);
            for n in from..to {
                let mut v: f64 = line.oscillators.iter_mut().map(Oscillator::next).sum();
                if let Some(noise) = &line.noise {
                    v += noise.sample(&mut self.rng);
                }
                if line.open.iter().any(|&(a, b)| n >= a && n < b) {
                    v = if line.click_at == Some(n) { 0.5 * line.peak } else { 0.0 };
                }
                out.push(v as f32);
            }
            line.oscillators.iter_mut().for_each(Oscillator::renormalise);
            line.open.retain(|&(_, b)| b > to);
        }
        self.frame = to;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{ComponentKind, PathSpec};

    fn bench() -> VirtualBench {
        VirtualBench::new(
            [
                ("hda", ComponentKind::Driver),
                ("jack", ComponentKind::Port),
                ("direct", ComponentKind::Adapter),
                ("dut", ComponentKind::Headset),
            ],
            7,
        )
    }

    fn plan() -> StreamPlan {
        StreamPlan {
            path: PathSpec {
                driver: "hda".into(),
                port: "jack".into(),
                adapter: "direct".into(),
                headset: "dut".into(),
            },
            ears: Some([1000.0, 1250.0]),
            mouth: Some(700.0),
            level_dbfs: -12.0,
            rate_hz: 48_000,
        }
    }

    #[test]
    fn each_line_carries_its_tone_at_the_path_s_level_and_continues_across_blocks() {
        let mut s = VirtualStream::new(&bench(), plan(), 1, Pace::Fast).unwrap();
        let mut out = vec![Vec::new(); 3];
        for _ in 0..100 {
            s.read(&mut out).unwrap();
        }
        assert_eq!(out[0].len(), 48_000);
        let mut spectrum = crate::analysis::Spectrum::default();
        for (c, f) in [(0, 1000.0), (1, 1250.0), (2, 700.0)] {
            let x: Vec<f64> = out[c].iter().map(|&v| f64::from(v)).collect();
            let m = crate::analysis::tone::measure_segment(
                &x,
                48_000.0,
                crate::analysis::tone::ToneSearch::Near(f),
                &mut spectrum,
            );
            let fund = m.fundamental.unwrap();
            // Within the clock's ±200 ppm of the tone played.
            assert!((fund.freq_hz / f - 1.0).abs() < 3e-4, "line {c}: {} Hz", fund.freq_hz);
            // Ears: −12 dBFS through −6 dB of couplers and ±2 dB of voicing and spread; the
            // microphone −13 dB and its voicing.
            let level = 20.0 * fund.amplitude.log10();
            assert!(level < -12.0 && level > -32.0, "line {c}: {level} dBFS");
            // No gap, no click: the noise floor stays the path's (−84 dBFS of the couplers).
            assert!(m.noise_rms < 1e-3, "line {c}: noise {}", m.noise_rms);
        }
        assert!(s.truth().is_empty());
    }

    #[test]
    fn a_worn_contact_opens_one_line_at_a_time_at_its_rate() {
        let mut b = bench();
        b.inject(&crate::rig::virtual_bench::InjectedFault::parse("jack:intermittent:mild").unwrap()).unwrap();
        let mut s = VirtualStream::new(&b, plan(), 2, Pace::Fast).unwrap();
        let mut out = vec![Vec::new(); 3];
        for _ in 0..1000 {
            s.read(&mut out).unwrap();
        }
        // Mild: 3 events a second over 10 s.
        let n = s.truth().len();
        assert!((15..=50).contains(&n), "{n} events");
        for t in s.truth() {
            assert!(t.frames >= 48 && t.frames <= 2_400, "{t:?}");
            let line = &out[t.line];
            let end = (t.start_frame + t.frames).min(line.len() as u64) as usize;
            assert!(line[t.start_frame as usize + 1..end].iter().all(|v| *v == 0.0), "{t:?}");
        }
    }
}
