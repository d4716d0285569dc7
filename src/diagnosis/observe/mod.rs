//! The tests of each symptom: each reads the measured captures and says, capture by capture,
//! whether the symptom is shown, how strongly, and why. One file per family of symptoms; the
//! helpers they share are here.

mod channels;
mod gaps;
mod level;
mod spectrum;

pub(in crate::diagnosis) use channels::*;
pub(in crate::diagnosis) use gaps::*;
pub(in crate::diagnosis) use level::*;
pub use spectrum::NOISE_PEAK_DB;
pub(in crate::diagnosis) use spectrum::*;

use super::{Context, Obs};
use crate::capture::{Direction, Drive};
use crate::diagnosis::measure::{EarMeasure, Measured};
use crate::diagnosis::Symptom;

pub(in crate::diagnosis) fn obs(capture: usize, shown: bool, strength: f64, note: impl Into<String>) -> Obs {
    Obs { capture, shown, strength: if shown { strength } else { 0.0 }, events: usize::from(shown), note: note.into() }
}

pub(in crate::diagnosis) fn is_input_side(m: &Measured) -> bool {
    matches!(m.direction, Direction::Record | Direction::Loopback)
}

/// A channel carries the stimulus when it is there at all and within [`DEAD_DB`] of the best
/// level any capture of the same direction and stimulus delivers: a dead line leaves a residue
/// a coherent detector still finds (and crosstalk sits about 50 dB down), but no working path
/// loses that much.
pub(in crate::diagnosis) fn carries(ctx: &Context, capture: usize, ear: usize) -> bool {
    let m = &ctx.m[capture];
    let Some(x) = m.ears.get(ear) else { return false };
    let Some(gain) = x.gain_db.filter(|_| x.present) else { return false };
    // A sweep that is present counts however much of it gaps or a lost octave took away: a dead
    // line is told by its level. With a calibrated gain window, a channel carries what is within
    // DEAD_DB of the window's middle, a working path's gain (noise cannot fake that, and the
    // other channel's crosstalk, 52 ± 3 dB under it, stays out); without one, what stands 20 dB
    // clear of its own noise floor does.
    let clear = match ctx.limits.gain_window(m.direction) {
        Some([lo, hi]) => gain >= (lo + hi) / 2.0 - DEAD_DB,
        None => x.level_dbfs.is_some_and(|l| l - x.noise_floor_dbfs >= 20.0),
    };
    if !clear {
        return false;
    }
    let best = ctx
        .m
        .iter()
        .filter(|p| p.direction == m.direction && p.stimulus == m.stimulus)
        .flat_map(|p| p.ears.iter().enumerate().filter(|(e, _)| p.driven(*e)).filter_map(|(_, x)| x.gain_db))
        .fold(f64::NEG_INFINITY, f64::max);
    gain >= best - DEAD_DB
}

/// How far under the best peer a channel may be and still carry the stimulus, dB.
pub const DEAD_DB: f64 = 45.0;

/// Share of a limit at which a measurement counts: limits are the spec's fault definitions,
/// and a fault at its definition must be caught despite part-to-part spread.
pub(in crate::diagnosis) const DETECT: f64 = 0.75;

/// The class a capture's level is compared within.
pub(in crate::diagnosis) fn class_key(m: &Measured) -> (Direction, String, Option<Drive>) {
    (m.direction, m.stimulus.clone(), m.drive)
}
