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
    clear && gain >= ctx.index.best_driven_gain[capture] - DEAD_DB
}

/// The most peers a capture is compared with where each comparison is a curve (a response, rub &
/// buzz per band) or a median: a plan's class has a few, and a set of thousands of captures of one
/// class is judged against an even spread of that many, so the work grows with the set, not its
/// square.
pub(in crate::diagnosis) const MAX_PEERS: usize = 64;

/// What the tests read about a set that no step changes, found once: each capture's class and the
/// members of each, the best level each direction and stimulus delivers, the one-sided playback
/// level of each path and stimulus.
pub(in crate::diagnosis) struct Index {
    /// Each capture's class (an index into `classes`).
    class_of: Vec<usize>,
    /// The captures of each class (direction, stimulus and drive: what a capture's level and
    /// noise are compared within), in manifest order.
    classes: Vec<Vec<usize>>,
    /// The best driven-ear gain of the capture's direction and stimulus, dB.
    best_driven_gain: Vec<f64>,
    /// The strongest driven-ear playback level per stimulus, dBFS.
    typical_playback: std::collections::HashMap<String, f64>,
    /// The strongest level of one-sided playback per (path, stimulus), dBFS.
    single_drive: std::collections::HashMap<(crate::capture::PathSpec, String), f64>,
}

impl Index {
    pub(in crate::diagnosis) fn new(m: &[Measured]) -> Index {
        use std::collections::HashMap;
        let mut keys: HashMap<(Direction, &str, Option<Drive>), usize> = HashMap::new();
        let mut classes: Vec<Vec<usize>> = Vec::new();
        let mut class_of = Vec::with_capacity(m.len());
        let mut best: HashMap<(Direction, &str), f64> = HashMap::new();
        let mut typical_playback: HashMap<String, f64> = HashMap::new();
        let mut single_drive: HashMap<(crate::capture::PathSpec, String), f64> = HashMap::new();
        for (i, x) in m.iter().enumerate() {
            let next = classes.len();
            let c = *keys.entry((x.direction, x.stimulus.as_str(), x.drive)).or_insert(next);
            if c == next {
                classes.push(Vec::new());
            }
            classes[c].push(i);
            class_of.push(c);
            let driven = || x.ears.iter().enumerate().filter(|(e, _)| x.driven(*e)).map(|(_, y)| y);
            let b = best.entry((x.direction, x.stimulus.as_str())).or_insert(f64::NEG_INFINITY);
            for g in driven().filter_map(|y| y.gain_db) {
                *b = b.max(g);
            }
            if x.direction == Direction::Playback {
                for l in driven().filter_map(|y| y.level_dbfs) {
                    let t = typical_playback.entry(x.stimulus.clone()).or_insert(f64::NEG_INFINITY);
                    *t = t.max(l);
                }
                if matches!(x.drive, Some(Drive::Left) | Some(Drive::Right)) {
                    for l in x.ears.iter().filter_map(|y| y.level_dbfs) {
                        let s = single_drive.entry((x.path.clone(), x.stimulus.clone())).or_insert(f64::NEG_INFINITY);
                        *s = s.max(l);
                    }
                }
            }
        }
        let best_driven_gain = m
            .iter()
            .map(|x| best.get(&(x.direction, x.stimulus.as_str())).copied().unwrap_or(f64::NEG_INFINITY))
            .collect();
        Index { class_of, classes, best_driven_gain, typical_playback, single_drive }
    }

    /// The captures of capture `i`'s class, `i` among them, in manifest order.
    pub(in crate::diagnosis) fn class(&self, i: usize) -> &[usize] {
        &self.classes[self.class_of[i]]
    }

    /// Every class's members.
    pub(in crate::diagnosis) fn classes(&self) -> &[Vec<usize>] {
        &self.classes
    }

    /// The strongest driven-ear playback level of `stimulus`, dBFS: what a path that works
    /// delivers.
    pub(in crate::diagnosis) fn typical_playback(&self, stimulus: &str) -> Option<f64> {
        self.typical_playback.get(stimulus).copied().filter(|l| l.is_finite())
    }

    /// The same path's one-sided playback level of the same stimulus, dBFS.
    pub(in crate::diagnosis) fn single_drive(&self, m: &Measured) -> Option<f64> {
        self.single_drive.get(&(m.path.clone(), m.stimulus.clone())).copied().filter(|l| l.is_finite())
    }

    /// The captures capture `i` is compared with where comparisons cost: the others of its
    /// class, at most [`MAX_PEERS`], spread evenly over it.
    pub(in crate::diagnosis) fn peers(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        let class = self.class(i);
        let others = class.len().saturating_sub(1);
        let take = others.min(MAX_PEERS);
        let mine = class.iter().position(|&j| j == i).unwrap_or(0);
        (0..take).map(move |k| {
            // The k-th of `take` spread over the `others` (the class less capture i).
            let at = if take == others { k } else { k * others / take };
            class[if at >= mine { at + 1 } else { at }]
        })
    }
}

/// How far under the best peer a channel may be and still carry the stimulus, dB.
pub const DEAD_DB: f64 = 45.0;

/// Share of a limit at which a measurement counts: limits are the spec's fault definitions,
/// and a fault at its definition must be caught despite part-to-part spread.
pub(in crate::diagnosis) const DETECT: f64 = 0.75;
