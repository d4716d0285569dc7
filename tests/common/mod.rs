//! Synthetic captures with known content, and the analytic truth of what analysis must report.
#![allow(dead_code)]

use jackbench::capture::{Audio, SampleFormat};
use jackbench::stimulus::{fade_gain, Stimulus};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::f64::consts::PI;

/// A capture: silence, then a faded tone with harmonics, everything over noise, hum and DC.
#[derive(Debug, Clone)]
pub struct Synth {
    pub rate_hz: u32,
    pub format: SampleFormat,
    pub lead_s: f64,
    pub tone_s: f64,
    pub tail_s: f64,
    /// `(frequency, peak level in dBFS)`.
    pub tone: Option<(f64, f64)>,
    /// `(order, amplitude relative to the fundamental)`.
    pub harmonics: Vec<(u32, f64)>,
    /// White Gaussian noise, standard deviation (full scale = 1.0).
    pub noise_sigma: f64,
    /// `(mains Hz, [(order, peak amplitude)])`.
    pub hum: Option<(f64, Vec<(u32, f64)>)>,
    pub dc: f64,
    /// Zero-filled gaps `(start s, length ms)`, applied to the tone only (noise stays).
    pub gaps: Vec<(f64, f64)>,
    /// Samples lost at `(time s, count)`: the tone jumps ahead.
    pub lost: Vec<(f64, usize)>,
    /// Clipped earlier in the chain: the tone (with its harmonics) held within `±limit`, then
    /// scaled by `gain` (1.0: clipped where it is recorded).
    pub clip: Option<(f64, f64)>,
    /// Level steps `(time s, dB)`: the tone's gain changes abruptly and stays (cumulative).
    pub steps: Vec<(f64, f64)>,
    /// Bursts of white noise `(start s, length ms, rms)`, added to everything.
    pub bursts: Vec<(f64, f64, f64)>,
    pub seed: u64,
}

impl Synth {
    pub fn tone(rate_hz: u32, format: SampleFormat, freq: f64, level_dbfs: f64) -> Synth {
        Synth {
            rate_hz,
            format,
            lead_s: 0.237,
            tone_s: 1.0,
            tail_s: 0.25,
            tone: Some((freq, level_dbfs)),
            harmonics: Vec::new(),
            noise_sigma: 0.0,
            hum: None,
            dc: 0.0,
            gaps: Vec::new(),
            lost: Vec::new(),
            clip: None,
            steps: Vec::new(),
            bursts: Vec::new(),
            seed: 1,
        }
    }

    pub fn amplitude(&self) -> f64 {
        self.tone.map_or(0.0, |(_, l)| 10f64.powf(l / 20.0))
    }

    /// The samples, quantised to the format like a WAV file would hold them.
    pub fn render(&self) -> Vec<f64> {
        let rate = f64::from(self.rate_hz);
        let n = ((self.lead_s + self.tone_s + self.tail_s) * rate).round() as usize;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let normal = Normal::new(0.0, self.noise_sigma.max(1e-300)).expect("valid sigma");
        let lead = (self.lead_s * rate).round() as usize;
        let mut burst_rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x9e37_79b9);
        let normal_unit = Normal::new(0.0, 1.0).expect("valid sigma");
        let mut skip = 0usize;
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let mut v = self.dc;
            if self.noise_sigma > 0.0 {
                v += normal.sample(&mut rng);
            }
            if let Some((mains, comps)) = &self.hum {
                let t = i as f64 / rate;
                for (k, a) in comps {
                    v += a * (2.0 * PI * mains * f64::from(*k) * t + 0.3 * f64::from(*k)).sin();
                }
            }
            if let Some((f, _)) = self.tone {
                if i >= lead {
                    // Lost samples advance the tone's own clock.
                    let t_abs = i as f64 / rate;
                    skip = self.lost.iter().filter(|(at, _)| t_abs >= *at).map(|(_, k)| *k).sum();
                    let j = i - lead + skip;
                    let t = j as f64 / rate;
                    if t < self.tone_s && !self.gaps.iter().any(|(at, ms)| t_abs >= *at && t_abs < at + ms / 1000.0) {
                        let a = self.amplitude();
                        let mut s = Stimulus::Sine {
                            freq_hz: f,
                            level_dbfs: self.tone.map_or(0.0, |x| x.1),
                            seconds: self.tone_s,
                        }
                        .value_at(t);
                        for (k, r) in &self.harmonics {
                            // What a converter's anti-alias filter leaves: nothing at or above Nyquist.
                            if f * f64::from(*k) >= rate / 2.0 {
                                continue;
                            }
                            s += fade_gain(t, self.tone_s)
                                * a
                                * r
                                * (2.0 * PI * f * f64::from(*k) * t + 0.7 * f64::from(*k)).sin();
                        }
                        let gain_db: f64 = self.steps.iter().filter(|(at, _)| t_abs >= *at).map(|(_, d)| d).sum();
                        s *= 10f64.powf(gain_db / 20.0);
                        if let Some((limit, gain)) = self.clip {
                            s = s.clamp(-limit, limit) * gain;
                        }
                        v += s;
                    }
                }
            }
            let t_abs = i as f64 / rate;
            for (at, ms, rms) in &self.bursts {
                if t_abs >= *at && t_abs < at + ms / 1000.0 {
                    v += rms * normal_unit.sample(&mut burst_rng);
                }
            }
            out.push(v);
        }
        let _ = skip;
        quantise(&out, self.format)
    }

    pub fn audio(&self, channels: usize) -> Audio {
        let x = self.render();
        Audio::from_f64(self.rate_hz, self.format, &vec![x; channels])
    }

    fn band_hi(&self) -> f64 {
        20_000f64.min(f64::from(self.rate_hz) / 2.0)
    }

    /// Variance of the white noise, quantisation included.
    fn noise_var(&self) -> f64 {
        let q = self.format.quantum();
        self.noise_sigma * self.noise_sigma + q * q / 12.0
    }

    /// Noise floor in dBFS over 20 Hz–20 kHz.
    pub fn noise_floor_dbfs(&self) -> f64 {
        let share = (self.band_hi() - 20.0) / (f64::from(self.rate_hz) / 2.0);
        10.0 * (2.0 * self.noise_var() * share).log10()
    }

    pub fn hum_dbfs(&self) -> Option<f64> {
        let (_, comps) = self.hum.as_ref()?;
        Some(10.0 * comps.iter().map(|(_, a)| a * a).sum::<f64>().log10())
    }

    fn harmonics_in_band(&self) -> Vec<(u32, f64)> {
        let Some((f, _)) = self.tone else { return Vec::new() };
        self.harmonics.iter().copied().filter(|(k, _)| f * f64::from(*k) <= self.band_hi()).collect()
    }

    pub fn thd_percent(&self) -> f64 {
        100.0 * self.harmonics_in_band().iter().map(|(_, r)| r * r).sum::<f64>().sqrt()
    }

    pub fn thd_n_db(&self) -> f64 {
        let a = self.amplitude();
        let h: f64 = self.harmonics_in_band().iter().map(|(_, r)| (a * r).powi(2) / 2.0).sum();
        let hum = self.hum_dbfs().map_or(0.0, |d| 10f64.powf(d / 10.0) / 2.0);
        let noise = 10f64.powf(self.noise_floor_dbfs() / 10.0) / 2.0;
        let rest = h + hum + noise;
        10.0 * (rest / (rest + a * a / 2.0)).log10()
    }
}

/// Rounds to the format's grid and saturates, as writing a WAV file does.
pub fn quantise(x: &[f64], format: SampleFormat) -> Vec<f64> {
    match format {
        SampleFormat::F32 => x.iter().map(|v| f64::from(*v as f32)).collect(),
        _ => {
            let full = 1.0 / format.quantum();
            x.iter().map(|v| (v * full).round().clamp(-full, full - 1.0) / full).collect()
        }
    }
}

pub const FORMATS: [SampleFormat; 3] = [SampleFormat::S16, SampleFormat::S24, SampleFormat::F32];

/// What a PNG shows, for tests that look at pictures.
#[derive(Debug)]
pub struct PngLook {
    pub width: u32,
    pub height: u32,
    /// Share of pixels that are not (near) white.
    pub inked: f64,
    /// Distinct colours seen.
    pub colours: usize,
    /// Share of the verdict's red (R > 170, G and B < 80) in the top 120 rows.
    pub red_top: f64,
}

/// Decodes a PNG file and measures what is on it.
pub fn look_at_png(path: &std::path::Path) -> PngLook {
    let mut decoder = png::Decoder::new(std::fs::File::open(path).expect("open"));
    // Indexed plots are looked at in their colours.
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let px = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    let inked = pixels.iter().filter(|p| p.iter().take(3).any(|c| *c < 240)).count() as f64 / pixels.len() as f64;
    let colours: std::collections::HashSet<&[u8]> = pixels.iter().copied().collect();
    let top = ((info.width * 120) as usize).min(pixels.len()).max(1);
    let red = pixels[..top].iter().filter(|p| p[0] > 170 && p[1] < 80 && p[2] < 80).count() as f64 / top as f64;
    PngLook { width: info.width, height: info.height, inked, colours: colours.len(), red_top: red }
}

pub mod lab_data;
pub mod pulse;
pub mod relay_sim;
pub mod served;

/// `f` over `items` on both cores, results in the items' order.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let out = std::sync::Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                out.lock().expect("out").push((i, r));
            });
        }
    });
    let mut v = out.into_inner().expect("out");
    v.sort_by_key(|(i, _)| *i);
    v.into_iter().map(|(_, r)| r).collect()
}

/// `f` over `items` on both cores.
pub fn par_each<T: Sync>(items: &[T], f: impl Fn(&T) + Sync) {
    par_map(items, f);
}

/// The built-in rigs of the virtual bench whose plans are substitution designs (the QA and
/// repair benches). Not loopback-check, a real computer's one-path check whose plan cannot see
/// headset or one-ear faults by design, nor repair-counter, the counter's quick check with no
/// part to swap in: it presumes the bench's parts good and leaves among suspects what sound
/// cannot split between the customer's adapter and headset ([`counter_rig`]).
pub fn virtual_rigs() -> Vec<jackbench::rig::RigFile> {
    built_in_virtual().into_iter().filter(|r| r.name != "repair-counter").collect()
}

/// The repair counter's quick check (rigs/repair-counter.toml).
pub fn counter_rig() -> jackbench::rig::RigFile {
    built_in_virtual().into_iter().find(|r| r.name == "repair-counter").expect("repair-counter")
}

fn built_in_virtual() -> Vec<jackbench::rig::RigFile> {
    jackbench::rig::file::BUILT_IN
        .iter()
        .map(|(name, text)| jackbench::rig::RigFile::parse(text, std::path::Path::new(name)).expect("built-in rig"))
        .filter(|r| r.switch.kind == jackbench::rig::file::SwitchKind::Virtual)
        .collect()
}
