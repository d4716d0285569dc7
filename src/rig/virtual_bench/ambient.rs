//! Ambient sound on the production floor: bursts that reach the ear couplers and the headset
//! microphone through the fixture (speech, a door slam), and the reference microphone outside it.
//!
//! A burst is drawn per capture from its own random stream, so a capture with ambient sound
//! switched on is the same capture as without, plus the burst: tests compare the two.

use super::{add_noise, biquad, db};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::f64::consts::PI;

/// Ambient bursts injected into acoustic captures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ambient {
    /// Share of acoustic captures a burst lands in, 0..1.
    pub share: f64,
    /// The burst's rms over the capture's own noise floor, dB, drawn uniformly in this range.
    pub over_floor_db: (f64, f64),
    /// Its length, ms, drawn uniformly in this range.
    pub ms: (f64, f64),
    /// When it starts, seconds from the capture's start; `None`: anywhere in the capture.
    pub at_s: Option<f64>,
}

impl Default for Ambient {
    /// The production floor: a burst in 10 % of captures, 30–45 dB over the fixture's
    /// floor, 50–300 ms.
    fn default() -> Ambient {
        Ambient { share: 0.1, over_floor_db: (30.0, 45.0), ms: (50.0, 300.0), at_s: None }
    }
}

/// What a burst sounds like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BurstKind {
    /// Band-limited noise (150 Hz–4 kHz) in syllables of about 150 ms.
    Speech,
    /// An impact: broadband, instant attack, decaying over the burst's length.
    Slam,
}

/// One burst: its sound relative to the fixture (unit rms over its length), and where it lies.
#[derive(Debug, Clone, PartialEq)]
pub struct Burst {
    pub kind: BurstKind,
    pub start: usize,
    /// The burst's samples, rms 1 over its length.
    pub sound: Vec<f64>,
    pub over_floor_db: f64,
}

/// Per-ear coupling of room sound into the fixture, dB: the couplers seal unevenly.
const EAR_COUPLING_DB: [f64; 2] = [0.0, -3.0];
/// How much louder the reference microphone outside the fixture hears the room, dB.
pub const REFERENCE_OVER_DB: f64 = 25.0;
/// The reference microphone's own noise floor, dBFS rms.
pub const REFERENCE_NOISE_DBFS: f64 = -80.0;

impl Ambient {
    /// The burst of capture number `capture` (counting from 1) of `frames` samples, if one lands.
    pub fn burst(&self, seed: u64, capture: u64, frames: usize, rate: f64) -> Option<Burst> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xa3b1_95c7_0d2e_4f61 ^ capture.wrapping_mul(0x2545_f491));
        if rng.random::<f64>() >= self.share {
            return None;
        }
        let draw = |rng: &mut ChaCha8Rng, (lo, hi): (f64, f64)| if hi > lo { rng.random_range(lo..hi) } else { lo };
        let len = ((draw(&mut rng, self.ms) / 1000.0 * rate) as usize).clamp(1, frames.max(1));
        let over_floor_db = draw(&mut rng, self.over_floor_db);
        let start = match self.at_s {
            Some(t) => ((t * rate) as usize).min(frames.saturating_sub(len)),
            None => rng.random_range(0..frames.saturating_sub(len).max(1)),
        };
        let kind = if rng.random::<bool>() { BurstKind::Speech } else { BurstKind::Slam };
        let mut sound = vec![0.0; len];
        add_noise(&mut sound, 1.0, &mut rng);
        match kind {
            BurstKind::Speech => {
                biquad(&mut sound, rate, 150.0, true);
                biquad(&mut sound, rate, 4_000.0, false);
                let phase = rng.random_range(0.0..PI);
                for (i, v) in sound.iter_mut().enumerate() {
                    let t = i as f64 / rate;
                    // Syllables, with 10 ms ramps at the burst's ends.
                    let syllable = (PI * t / 0.15 + phase).sin().abs().powf(0.7);
                    let ramp = (t / 0.01).min((len - i) as f64 / rate / 0.01).min(1.0);
                    *v *= syllable * ramp;
                }
            }
            BurstKind::Slam => {
                biquad(&mut sound, rate, 1_500.0, false);
                let tau = len as f64 / rate / 4.0;
                for (i, v) in sound.iter_mut().enumerate() {
                    *v *= (-(i as f64 / rate) / tau).exp();
                }
            }
        }
        let rms = (sound.iter().map(|v| v * v).sum::<f64>() / len as f64).sqrt();
        if rms > 0.0 {
            sound.iter_mut().for_each(|v| *v /= rms);
        }
        Some(Burst { kind, start, sound, over_floor_db })
    }
}

impl Burst {
    /// Adds the burst to the channels of a capture whose noise floor is `floor_dbfs` (rms).
    pub fn add_to(&self, channels: &mut [Vec<f64>], floor_dbfs: f64) {
        for (c, ch) in channels.iter_mut().enumerate() {
            let g = db(floor_dbfs + self.over_floor_db + EAR_COUPLING_DB[c.min(1)]);
            let from = self.start.min(ch.len());
            for (o, s) in ch[from..].iter_mut().zip(&self.sound) {
                *o += g * s;
            }
        }
    }

    /// What the reference microphone outside the fixture records over `frames` samples: the
    /// burst [`REFERENCE_OVER_DB`] louder over its floor than the fixture hears it over its own.
    pub fn reference(&self, frames: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
        let mut x = quiet_reference(frames, rng);
        let g = db(REFERENCE_NOISE_DBFS + self.over_floor_db + REFERENCE_OVER_DB);
        for (o, s) in x[self.start.min(frames)..].iter_mut().zip(&self.sound) {
            *o += g * s;
        }
        x
    }
}

/// What the reference microphone records of a room at rest: its own noise.
pub fn quiet_reference(frames: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let mut x = vec![0.0; frames];
    add_noise(&mut x, db(REFERENCE_NOISE_DBFS), rng);
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_land_in_their_share_of_captures_at_their_level_and_length() {
        let a = Ambient::default();
        let rate = 48_000.0;
        let bursts: Vec<Burst> = (1..=2000).filter_map(|k| a.burst(7, k, 48_000, rate)).collect();
        // 10 % of 2000, binomial σ ≈ 13.
        assert!((160..=240).contains(&bursts.len()), "{} bursts", bursts.len());
        for b in &bursts {
            let ms = b.sound.len() as f64 / rate * 1000.0;
            assert!((50.0..=300.0).contains(&ms), "{ms} ms");
            assert!((30.0..=45.0).contains(&b.over_floor_db));
            let rms = (b.sound.iter().map(|v| v * v).sum::<f64>() / b.sound.len() as f64).sqrt();
            assert!((rms - 1.0).abs() < 1e-9);
            assert!(b.start + b.sound.len() <= 48_000);
        }
        assert!(bursts.iter().any(|b| b.kind == BurstKind::Speech) && bursts.iter().any(|b| b.kind == BurstKind::Slam));
        let fixed = Ambient { share: 1.0, at_s: Some(0.25), ..a };
        assert_eq!(fixed.burst(1, 1, 48_000, rate).map(|b| b.start), Some(12_000));
    }
}
