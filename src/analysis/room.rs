//! Room sound heard by a reference microphone outside the fixture: the loudest burst over the
//! microphone's own quiet floor during a capture.
//!
//! The recording is cut into 10 ms blocks; the floor is the 10th percentile of their rms (a
//! burst may fill most of a short capture, the quiet tenth of it is the room at rest). A burst is
//! a run of at least two blocks [`RUN_OVER_DB`] or more over that floor (3 dB of hysteresis keep a
//! syllable's dip inside it); its level is its loudest block's over the floor.

/// Block length, seconds.
const BLOCK_S: f64 = 0.010;
/// Share of blocks under the floor.
const FLOOR_QUANTILE: f64 = 0.10;
/// How far over the floor a block belongs to a burst, dB.
pub const RUN_OVER_DB: f64 = 10.0;
/// The quietest floor counted (−120 dBFS power): a digitally silent microphone's rounding is no
/// room sound.
const QUIETEST: f64 = 1e-12;

/// A burst of room sound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoomBurst {
    /// Its start, seconds from the recording's start.
    pub at_s: f64,
    pub ms: f64,
    /// Its loudest 10 ms over the microphone's quiet floor, dB.
    pub over_floor_db: f64,
}

/// The loudest burst in `x` at `rate_hz`, or `None` when the room stayed at rest (or the
/// recording is under 10 blocks long).
pub fn loudest_burst(x: &[f64], rate_hz: u32) -> Option<RoomBurst> {
    let n = ((f64::from(rate_hz) * BLOCK_S) as usize).max(1);
    // A microphone's DC offset is no sound.
    let dc = x.iter().sum::<f64>() / x.len().max(1) as f64;
    let power: Vec<f64> =
        x.chunks_exact(n).map(|b| b.iter().map(|v| (v - dc) * (v - dc)).sum::<f64>() / n as f64).collect();
    if power.len() < 10 {
        return None;
    }
    let mut sorted = power.clone();
    sorted.sort_by(f64::total_cmp);
    let floor = sorted[((sorted.len() as f64 * FLOOR_QUANTILE) as usize).min(sorted.len() - 1)].max(QUIETEST);
    let over = |p: f64| 10.0 * (p / floor).log10();
    let mut best: Option<RoomBurst> = None;
    let mut i = 0;
    while i < power.len() {
        if over(power[i]) < RUN_OVER_DB {
            i += 1;
            continue;
        }
        let start = i;
        let mut peak = 0.0f64;
        while i < power.len() && over(power[i]) >= RUN_OVER_DB - 3.0 {
            peak = peak.max(power[i]);
            i += 1;
        }
        if i - start >= 2 && best.is_none_or(|b| over(peak) > b.over_floor_db) {
            best = Some(RoomBurst {
                at_s: start as f64 * BLOCK_S,
                ms: (i - start) as f64 * BLOCK_S * 1000.0,
                over_floor_db: over(peak),
            });
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn noise(n: usize, rms: f64, seed: u64) -> Vec<f64> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        // Uniform noise of the given rms.
        (0..n).map(|_| rms * 3f64.sqrt() * rng.random_range(-1.0..1.0)).collect()
    }

    #[test]
    fn a_burst_is_found_where_it_lies_at_its_level_whatever_the_floor_and_rate() {
        for rate in [16_000u32, 44_100, 48_000, 96_000] {
            for floor_db in [-100.0, -80.0, -50.0] {
                for (at_s, ms, over) in [(0.05, 60.0, 20.0), (0.3, 300.0, 45.0), (0.6, 150.0, 30.0)] {
                    let r = f64::from(rate);
                    let floor = 10f64.powf(floor_db / 20.0);
                    // At a DC offset 40 dB over the floor.
                    let mut x: Vec<f64> =
                        noise((0.9 * r) as usize, floor, 1).iter().map(|v| v + 100.0 * floor).collect();
                    let from = (at_s * r) as usize;
                    let burst = noise((ms / 1000.0 * r) as usize, floor * 10f64.powf(over / 20.0), 2);
                    for (o, b) in x[from..].iter_mut().zip(&burst) {
                        *o += b;
                    }
                    let b = loudest_burst(&x, rate).expect("found");
                    let case = format!("{rate} Hz, floor {floor_db} dB, {ms} ms at {at_s} s, {over} dB: {b:?}");
                    // Block edges: within a block (10 ms) either side.
                    assert!((b.at_s - at_s).abs() <= 0.0101, "{case}");
                    assert!((b.ms - ms).abs() <= 20.01, "{case}");
                    // The loudest block of uniform noise: within 1.5 dB of its rms.
                    assert!((b.over_floor_db - over).abs() < 1.5, "{case}");
                }
                // The room at rest: nothing 10 dB over the floor for two blocks.
                let quiet = noise((0.9 * f64::from(rate)) as usize, 10f64.powf(floor_db / 20.0), 3);
                assert_eq!(loudest_burst(&quiet, rate), None, "{rate} Hz, {floor_db} dB");
            }
        }
        assert_eq!(loudest_burst(&[0.0; 100], 48_000), None, "too short");
    }
}
