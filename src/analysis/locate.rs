//! Where the tone is in a capture: a capture starts with up to 0.5 s of silence, the tone has
//! 5 ms fades, and a tail follows; only the steady part between the fades is measured.
//!
//! The envelope is the rms of 5 ms blocks, gathered while streaming (8 bytes a block and channel:
//! an hour of stereo is under 6 MB). Blocks within 20 dB of the loud end of the envelope (its
//! 90th percentile) belong to the tone; quiet runs shorter than 0.3 s inside it are dropouts, not
//! its end. The steady part is that span less 12 ms at each end: the 5 ms fade plus the block
//! the onset fell in, with margin. When the envelope's quiet and loud ends are within 10 dB there
//! is no onset to find (a soak recording, or no tone at all): the whole capture less 12 ms at each
//! end is used and the spectral test decides whether a tone is there.
//!
//! When the tone's frequency is known, a second envelope is gathered beside the broadband one: the
//! tone's own band, each block's samples Hann-weighted and demodulated at that frequency (a band
//! some 400 Hz wide for 5 ms blocks). Hum or a raised noise floor can sit within 10 dB of a tone
//! across the band and hide its onset from the broadband envelope, but hardly inside the tone's
//! band. The span is taken from whichever envelope shows the tone with more contrast (a tone far
//! off its nominal frequency, a driver at the wrong rate, leaves its band; the broadband one still
//! sees it).

/// Block length of the envelope, in seconds.
pub const BLOCK_S: f64 = 0.005;
/// Trimmed off each end of the tone, in seconds.
pub const EDGE_S: f64 = 0.012;
/// Quiet runs shorter than this inside the tone are bridged, in seconds.
pub const BRIDGE_S: f64 = 0.3;

/// Streaming accumulator of one channel's envelope and sample statistics.
#[derive(Debug, Clone)]
pub struct EnvelopeBuilder {
    block: usize,
    acc: f64,
    in_block: usize,
    rms: Vec<f32>,
    band: Option<ToneBand>,
    pub max: f32,
    pub min: f32,
    pub nonzero: u64,
    pub frames: u64,
}

/// The envelope of one frequency's band: each block's samples, Hann-weighted, demodulated by a
/// unit phasor that turns at the tone's frequency (a recurrence, renormalised every block). The
/// Hann window keeps what lies 4 bins (800 Hz) away, mains hum under a 1 kHz tone, 48 dB down.
#[derive(Debug, Clone)]
struct ToneBand {
    step: (f64, f64),
    phasor: (f64, f64),
    acc: (f64, f64),
    window: Vec<f64>,
    /// The window's sum: a tone of amplitude `A` accumulates `A·gain/2`.
    gain: f64,
    rms: Vec<f32>,
}

impl ToneBand {
    /// Adds `part`, which starts `offset` samples into the current block.
    fn push(&mut self, part: &[f32], offset: usize) {
        let ((c, s), (mut re, mut im), (mut ar, mut ai)) = (self.step, self.phasor, self.acc);
        for (&v, &w) in part.iter().zip(&self.window[offset..]) {
            let v = f64::from(v) * w;
            ar += v * re;
            ai -= v * im;
            (re, im) = (re * c - im * s, re * s + im * c);
        }
        let norm = re.hypot(im);
        self.phasor = (re / norm, im / norm);
        self.acc = (ar, ai);
    }

    /// Closes a block: the rms of the tone it held.
    fn close(&mut self) {
        let amplitude = 2.0 * self.acc.0.hypot(self.acc.1) / self.gain;
        self.rms.push((amplitude / std::f64::consts::SQRT_2) as f32);
        self.acc = (0.0, 0.0);
    }
}

impl EnvelopeBuilder {
    /// An envelope of the broadband level, and of the band of `tone_hz` when it is known.
    pub fn new(rate_hz: u32, tone_hz: Option<f64>) -> EnvelopeBuilder {
        let block = ((f64::from(rate_hz) * BLOCK_S).round() as usize).max(1);
        let band = tone_hz.filter(|f| *f > 0.0 && *f < f64::from(rate_hz) / 2.0).map(|f| {
            let w = 2.0 * std::f64::consts::PI * f / f64::from(rate_hz);
            let window: Vec<f64> =
                (0..block).map(|k| (std::f64::consts::PI * (k as f64 + 0.5) / block as f64).sin().powi(2)).collect();
            let gain = window.iter().sum();
            ToneBand { step: (w.cos(), w.sin()), phasor: (1.0, 0.0), acc: (0.0, 0.0), window, gain, rms: Vec::new() }
        });
        EnvelopeBuilder {
            block,
            acc: 0.0,
            in_block: 0,
            rms: Vec::new(),
            band,
            max: f32::NEG_INFINITY,
            min: f32::INFINITY,
            nonzero: 0,
            frames: 0,
        }
    }

    pub fn push(&mut self, samples: &[f32]) {
        // Block by block, so the inner loops are plain reductions the compiler vectorises.
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (self.block - self.in_block).min(rest.len());
            let (part, tail) = rest.split_at(take);
            let (mut sq, mut max, mut min, mut nonzero) = (0.0f64, self.max, self.min, 0u64);
            for &v in part {
                sq += f64::from(v) * f64::from(v);
                max = max.max(v);
                min = min.min(v);
                nonzero += u64::from(v != 0.0);
            }
            (self.max, self.min) = (max, min);
            self.nonzero += nonzero;
            self.acc += sq;
            if let Some(band) = &mut self.band {
                band.push(part, self.in_block);
            }
            self.in_block += take;
            if self.in_block == self.block {
                self.rms.push((self.acc / self.block as f64).sqrt() as f32);
                if let Some(band) = &mut self.band {
                    band.close();
                }
                self.acc = 0.0;
                self.in_block = 0;
            }
            rest = tail;
        }
        self.frames += samples.len() as u64;
    }

    /// The block envelope (complete blocks only).
    pub fn envelope(&self) -> &[f32] {
        &self.rms
    }

    pub fn block_len(&self) -> usize {
        self.block
    }

    /// The steady span of the tone, as a frame range, and whether an onset was found: from the
    /// envelope that shows the tone with more contrast.
    pub fn steady_region(&self) -> Region {
        let broadband = self.region_in(&self.rms);
        let Some(band) = &self.band else { return broadband.0 };
        let narrow = self.region_in(&band.rms);
        match (broadband.0.onset_found, narrow.0.onset_found) {
            (true, true) if broadband.1 >= narrow.1 => broadband.0,
            (_, true) => narrow.0,
            _ => broadband.0,
        }
    }

    /// The steady span in one envelope, and the envelope's contrast (loud end over quiet end).
    fn region_in(&self, env: &[f32]) -> (Region, f64) {
        let edge = (EDGE_S / BLOCK_S * self.block as f64).round() as u64;
        let whole = Region {
            start: edge.min(self.frames / 4),
            end: self.frames - edge.min(self.frames / 4),
            onset_found: false,
        };
        if env.len() < 8 {
            return (whole, 1.0);
        }
        let mut sorted = env.to_vec();
        sorted.sort_by(|a, b| a.total_cmp(b));
        let pick = |q: f64| f64::from(sorted[((sorted.len() - 1) as f64 * q).round() as usize]);
        let (quiet, loud) = (pick(0.05), pick(0.90));
        let contrast = if quiet > 0.0 { loud / quiet } else { f64::INFINITY };
        if loud <= 0.0 || loud < quiet * 10f64.powf(10.0 / 20.0) {
            return (whole, contrast);
        }
        let threshold = loud * 0.1;
        let bridge = (BRIDGE_S / BLOCK_S).round() as usize;
        // Longest run of loud blocks, quiet runs shorter than `bridge` bridged.
        let mut best: Option<(usize, usize)> = None;
        let mut current: Option<(usize, usize)> = None;
        for (i, &v) in env.iter().enumerate() {
            if f64::from(v) >= threshold {
                current = match current {
                    Some((s, e)) if i - e <= bridge => Some((s, i + 1)),
                    _ => Some((i, i + 1)),
                };
                if let Some((s, e)) = current {
                    if best.is_none_or(|(bs, be)| e - s > be - bs) {
                        best = Some((s, e));
                    }
                }
            }
        }
        let Some((s, e)) = best else { return (whole, contrast) };
        let start = s as u64 * self.block as u64 + edge;
        let end = (e as u64 * self.block as u64).saturating_sub(edge);
        if end <= start + 64 {
            return (whole, contrast);
        }
        (Region { start, end, onset_found: true }, contrast)
    }
}

/// A span of frames `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub start: u64,
    pub end: u64,
    /// True when the tone's onset and end were found in the envelope.
    pub onset_found: bool,
}

impl Region {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// A sub-span of at most `len` frames centred in this one, its length FFT-friendly.
    pub fn centred(&self, len: u64) -> Region {
        let len = crate::analysis::spectrum::fast_len_at_most(len.min(self.len()) as usize) as u64;
        let start = self.start + (self.len() - len) / 2;
        Region { start, end: start + len, onset_found: self.onset_found }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stimulus::Stimulus;

    #[test]
    fn steady_part_excludes_lead_fades_and_tail() {
        let rate = 48_000;
        let tone = Stimulus::Sine { freq_hz: 1000.0, level_dbfs: -20.0, seconds: 1.0 }.render(rate);
        let lead = 17_123usize;
        let mut x = vec![0f32; lead];
        x.extend(tone.iter().map(|v| *v as f32));
        x.extend(std::iter::repeat_n(0f32, 12_000));
        // A little noise everywhere.
        for (i, v) in x.iter_mut().enumerate() {
            *v += 1e-5 * (((i * 7_919) % 1_000) as f32 / 500.0 - 1.0);
        }
        let mut env = EnvelopeBuilder::new(rate, None);
        env.push(&x);
        let r = env.steady_region();
        assert!(r.onset_found);
        let fade = (0.005 * f64::from(rate)) as u64;
        assert!(r.start >= lead as u64 + fade, "{r:?}");
        assert!(r.start <= lead as u64 + 3 * fade, "{r:?}");
        let tone_end = (lead + tone.len()) as u64;
        assert!(r.end <= tone_end - fade && r.end >= tone_end - 3 * fade, "{r:?}");
    }

    #[test]
    fn a_dropout_does_not_end_the_tone() {
        let rate = 44_100;
        let mut x: Vec<f32> = Stimulus::Sine { freq_hz: 440.0, level_dbfs: -6.0, seconds: 2.0 }
            .render(rate)
            .iter()
            .map(|v| *v as f32)
            .collect();
        x[40_000..41_000].iter_mut().for_each(|v| *v = 0.0);
        let mut lead = vec![0f32; 5_000];
        lead.extend(x);
        let mut env = EnvelopeBuilder::new(rate, None);
        env.push(&lead);
        let r = env.steady_region();
        assert!(r.len() as f64 > 1.9 * f64::from(rate), "{r:?}");
    }
}
