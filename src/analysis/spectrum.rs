//! Windowed power spectra on a cached real-FFT plan.
//!
//! Scaling: for a windowed block of `N` samples with window sums `Σw` and `Σw²`, the one-sided
//! bin powers `P[m] = |X[m]|²` (unnormalised forward DFT, `m = 0..=N/2`) are turned into a
//! mean-square by `2·ΣP / (N·Σw²)`: a sine of amplitude `A` whose whole main lobe is summed gives
//! `A²/2`, and white noise of variance `σ²` summed over `B` bins gives `σ²·2B/N`, its share of
//! the band. That one rule is used for tones, harmonics, hum and noise alike (Parseval), so no
//! scalloping correction is ever needed.

use super::window::{Window, WindowKind};
use realfft::RealFftPlanner;
use std::collections::HashMap;
use std::sync::Arc;

/// A reusable FFT workspace: planner, scratch space, and the windows already built.
/// One per thread; keep it across measurements so plans and windows are made once.
pub struct Spectrum {
    planner: RealFftPlanner<f64>,
    input: Vec<f64>,
    windows: HashMap<(WindowKind, usize), Arc<Window>>,
}

impl Default for Spectrum {
    fn default() -> Self {
        Spectrum { planner: RealFftPlanner::new(), input: Vec::new(), windows: HashMap::new() }
    }
}

impl Spectrum {
    /// The window of `kind` and length `len`, built once.
    pub fn window(&mut self, kind: WindowKind, len: usize) -> Arc<Window> {
        // Segments of a few lengths recur; bound the cache anyway (a window of 2 s at 192 kHz is 3 MB).
        if self.windows.len() > 16 {
            self.windows.clear();
        }
        self.windows.entry((kind, len)).or_insert_with(|| Arc::new(Window::new(kind, len))).clone()
    }

    /// One-sided bin powers `|X[m]|²` of `x·w`, `m = 0..=N/2`.
    pub fn power(&mut self, x: &[f64], window: &Window) -> Vec<f64> {
        let n = x.len();
        debug_assert_eq!(n, window.w.len());
        let fft = self.planner.plan_fft_forward(n);
        self.input.clear();
        self.input.extend(x.iter().zip(&window.w).map(|(a, b)| a * b));
        let mut out = fft.make_output_vec();
        // The lengths come from the plan itself, so the transform cannot fail.
        if fft.process(&mut self.input, &mut out).is_err() {
            return vec![0.0; n / 2 + 1];
        }
        out.iter().map(|c| c.norm_sqr()).collect()
    }

    /// The complex spectrum of `x` (no window), length `N/2 + 1`.
    pub fn forward(&mut self, x: &[f64]) -> Vec<realfft::num_complex::Complex<f64>> {
        let fft = self.planner.plan_fft_forward(x.len());
        self.input.clear();
        self.input.extend_from_slice(x);
        let mut out = fft.make_output_vec();
        let _ = fft.process(&mut self.input, &mut out);
        out
    }

    /// The inverse of [`Spectrum::forward`] for a signal of length `n`, scaled by `1/n`.
    pub fn inverse(&mut self, spectrum: &[realfft::num_complex::Complex<f64>], n: usize) -> Vec<f64> {
        let ifft = self.planner.plan_fft_inverse(n);
        let mut input = spectrum.to_vec();
        // A real signal's DC and Nyquist bins are real; drop rounding residue the inverse rejects.
        if let Some(first) = input.first_mut() {
            first.im = 0.0;
        }
        if n.is_multiple_of(2) {
            if let Some(last) = input.last_mut() {
                last.im = 0.0;
            }
        }
        let mut out = ifft.make_output_vec();
        let _ = ifft.process(&mut input, &mut out);
        let scale = 1.0 / n as f64;
        out.iter_mut().for_each(|v| *v *= scale);
        out
    }
}

/// Mean-square of a component whose bins sum to `bin_power_sum` (see the module docs).
pub fn mean_square(bin_power_sum: f64, window: &Window) -> f64 {
    2.0 * bin_power_sum / (window.w.len() as f64 * window.sum_sq)
}

/// Whether `n`'s prime factors are all 2, 3, 5 or 7 (a length the FFT handles fastest).
fn is_fast_len(mut n: usize) -> bool {
    if n == 0 {
        return false;
    }
    for p in [2, 3, 5, 7] {
        while n.is_multiple_of(p) {
            n /= p;
        }
    }
    n == 1
}

/// The largest fast FFT length `≤ n` (it drops at most 3 % of the samples for n ≥ 100).
pub fn fast_len_at_most(n: usize) -> usize {
    (1..=n).rev().find(|&m| is_fast_len(m)).unwrap_or(n)
}

/// The smallest fast FFT length `≥ n`.
pub fn fast_len_at_least(n: usize) -> usize {
    (n.max(1)..).find(|&m| is_fast_len(m)).unwrap_or(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_lengths_are_smooth_and_close() {
        assert_eq!(fast_len_at_most(24_000), 24_000);
        assert_eq!(fast_len_at_most(23_431), 23_328); // 2^5·3^6
        assert_eq!(fast_len_at_least(23_431), 23_520); // 2^5·3·5·7^2
        for n in [100usize, 4_097, 99_991, 1_000_003] {
            let lo = fast_len_at_most(n);
            let hi = fast_len_at_least(n);
            assert!(is_fast_len(lo) && is_fast_len(hi) && lo <= n && n <= hi);
            assert!((n - lo) as f64 <= 0.03 * n as f64 && (hi - n) as f64 <= 0.03 * n as f64, "{n}: {lo} {hi}");
        }
    }
}
