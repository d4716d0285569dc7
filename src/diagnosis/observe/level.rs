//! Observations of level: a path's stimulus gone (digital silence, output, input or one channel
//! dead), its level low against its peers, its ears unbalanced.

use super::*;

/// Exact zeros where a stimulus was played, or where silence was and the recorder has noise of
/// its own. A recorder that returns every stimulus with no noise at all (a digital loop: a
/// sound server's sink, a codec that rounds but adds nothing) records silence as zeros: that is
/// no mute.
pub(in crate::diagnosis) fn observe_digital_silence(ctx: &Context) -> Vec<Obs> {
    let noiseless = noiseless_recorders(ctx);
    ctx.m
        .iter()
        .enumerate()
        .filter(|(_, m)| is_input_side(m))
        .map(|(i, m)| {
            let zero = m.ears.iter().all(|e| e.digital_silence);
            let shown = zero && (m.has_signal() || !noiseless.contains(m.path.driver.as_str()));
            obs(i, shown, 2.0, "the recording was exact digital zeros".to_string())
        })
        .collect()
}

/// A noise floor under what any converter's rounding leaves (a 32-bit one's is −192 dBFS): none.
const NOISELESS_DBFS: f64 = -190.0;

/// How far over its samples' rounding a noise floor may stand and be that rounding alone, dB.
const ROUNDING_ONLY_DB: f64 = 3.0;

/// The drivers that recorded each stimulus they returned with no noise but their rounding: at
/// least one, and every one with its noise floor under [`NOISELESS_DBFS`] or within
/// [`ROUNDING_ONLY_DB`] of the rounding its samples carry.
fn noiseless_recorders<'a>(ctx: &Context<'a>) -> std::collections::BTreeSet<&'a str> {
    let mut all_quiet: std::collections::BTreeMap<&str, bool> = std::collections::BTreeMap::new();
    for m in ctx.m.iter().filter(|m| is_input_side(m) && m.has_signal()) {
        if m.ears.iter().all(|e| e.digital_silence) {
            continue;
        }
        if let Some(e) = m.ears.first() {
            let q = all_quiet.entry(m.path.driver.as_str()).or_insert(true);
            let floor = e.noise_floor_dbfs;
            let rounding = crate::analysis::rms_dbfs(e.rounding_rms);
            *q = *q && (floor < NOISELESS_DBFS || floor <= rounding + ROUNDING_ONLY_DB);
        }
    }
    all_quiet.into_iter().filter(|(_, q)| *q).map(|(d, _)| d).collect()
}

pub(in crate::diagnosis) fn observe_output_dead(ctx: &Context) -> Vec<Obs> {
    ctx.m
        .iter()
        .enumerate()
        .filter(|(_, m)| m.has_signal() && m.direction != Direction::Record)
        .filter(|(_, m)| !m.ears.iter().all(|e| e.digital_silence))
        .map(|(i, m)| {
            let dead = !(0..m.ears.len()).any(|e| carries(ctx, i, e));
            let note = if m.direction == Direction::Loopback {
                "loopback carries no stimulus"
            } else {
                "no stimulus in either ear"
            };
            obs(i, dead, 2.0, note)
        })
        .collect()
}

pub(in crate::diagnosis) fn observe_input_dead(ctx: &Context) -> Vec<Obs> {
    ctx.m
        .iter()
        .enumerate()
        .filter(|(_, m)| m.has_signal() && is_input_side(m))
        .filter(|(_, m)| !m.ears.iter().all(|e| e.digital_silence))
        .map(|(i, _)| obs(i, !carries(ctx, i, 0), 2.0, "the microphone picked up none of it"))
        .collect()
}

pub(in crate::diagnosis) fn observe_channel_dead(ctx: &Context) -> Vec<Obs> {
    let mut out = Vec::new();
    for (i, m) in ctx.m.iter().enumerate() {
        if !(m.has_signal() && m.direction == Direction::Playback && m.ears.len() == 2) {
            continue;
        }
        if m.drive == Some(Drive::Both) {
            let (l, r) = (carries(ctx, i, 0), carries(ctx, i, 1));
            if l || r {
                let side = if l { "right" } else { "left" };
                out.push(obs(i, l != r, 2.0, format!("the {side} ear stayed silent")));
            }
        }
    }
    out
}

/// How far a capture's driven ears are below the best peer of its class, dB (the smaller of
/// the ears: one quiet ear is an imbalance, not a level loss). `None` when not comparable.
/// Found for every capture at once, per class, and kept for the step.
pub(in crate::diagnosis) fn level_deficit(ctx: &Context, capture: usize) -> Option<f64> {
    ctx.deficits.get_or_init(|| level_deficits(ctx))[capture]
}

fn level_deficits(ctx: &Context) -> Vec<Option<f64>> {
    let mut out = vec![None; ctx.m.len()];
    for class in ctx.index.classes() {
        let Some(&first) = class.first() else { continue };
        let window = ctx.limits.gain_window(ctx.m[first].direction);
        let peers: Vec<usize> = class.iter().copied().filter(|&j| ctx.peer(j, Symptom::LowLevel)).collect();
        // The best gain per ear among the peers.
        let ears = peers.iter().map(|&j| ctx.m[j].ears.len()).max().unwrap_or(0);
        let best: Vec<f64> = (0..ears)
            .map(|e| {
                peers
                    .iter()
                    .filter_map(|&j| ctx.m[j].ears.get(e).and_then(|x| x.gain_db))
                    .fold(f64::NEG_INFINITY, f64::max)
            })
            .collect();
        // Up to two of the peers' paths: enough to know whether a capture has a peer elsewhere.
        let mut paths: Vec<&crate::capture::PathSpec> = Vec::new();
        for &j in &peers {
            if !paths.contains(&&ctx.m[j].path) {
                paths.push(&ctx.m[j].path);
                if paths.len() == 2 {
                    break;
                }
            }
        }
        for &i in class {
            let m = &ctx.m[i];
            if !m.has_signal() {
                continue;
            }
            // Without a peer on another path, only the limits' absolute window can judge.
            let has_peer = paths.iter().any(|p| **p != m.path);
            if !has_peer && window.is_none() {
                continue;
            }
            out[i] = deficit(ctx, i, &best, window);
        }
    }
    out
}

fn deficit(ctx: &Context, capture: usize, best: &[f64], window: Option<[f64; 2]>) -> Option<f64> {
    let m = &ctx.m[capture];
    let mut deficits = Vec::new();
    for (e, ear) in m.ears.iter().enumerate().filter(|(e, _)| m.driven(*e)) {
        if !carries(ctx, capture, e) {
            return None;
        }
        let level = ear.gain_db?;
        let best = best.get(e).copied().unwrap_or(f64::NEG_INFINITY).max(level);
        // The window's middle is what a working path delivers: a rig's window reaches the fault's
        // definition to either side of it, a model's calibrated one its golden units' spread.
        let expected = match window {
            Some([lo, hi]) => best.max((lo + hi) / 2.0),
            None => best,
        };
        deficits.push(expected - level);
    }
    deficits.into_iter().fold(None, |a: Option<f64>, d| Some(a.map_or(d, |a| a.min(d))))
}

/// Whether capture `j` kept its level: it is not low against its peers (a lowered digital gain
/// lowers the noise floor too, so such a capture is no reference for noise). A silence has no
/// level of its own: a sequence's silence kept it when the other segments of its capture did.
pub(in crate::diagnosis) fn kept_level(ctx: &Context, j: usize) -> bool {
    ctx.kept.get_or_init(|| {
        let limit = ctx.limits.level_drop_max_db * DETECT;
        let kept = |k: usize| level_deficit(ctx, k).is_none_or(|d| d < limit);
        // Per file: whether every measurement with a signal kept its level.
        let mut file_kept: std::collections::HashMap<&str, bool> = std::collections::HashMap::new();
        for (k, q) in ctx.m.iter().enumerate().filter(|(_, q)| q.has_signal()) {
            let e = file_kept.entry(q.file.as_str()).or_insert(true);
            *e = *e && kept(k);
        }
        ctx.m
            .iter()
            .enumerate()
            .map(|(k, p)| {
                if p.has_signal() {
                    kept(k)
                } else {
                    p.segment.is_none() || file_kept.get(p.file.as_str()).copied().unwrap_or(true)
                }
            })
            .collect()
    })[j]
}

/// How far a record-side capture's noise floor is below the same class's median peer floor
/// among captures that kept their level, dB.
pub(in crate::diagnosis) fn noise_drop(ctx: &Context, capture: usize) -> Option<f64> {
    let m = &ctx.m[capture];
    let floor = |p: &Measured| {
        p.ears.first().filter(|e| !e.disturbed()).map(|e| e.noise_floor_dbfs).filter(|f| *f > crate::analysis::DB_FLOOR)
    };
    let mine = floor(m)?;
    let peers: Vec<f64> = ctx
        .index
        .peers(capture)
        .filter(|&j| level_deficit(ctx, j).is_some_and(|d| d < ctx.limits.level_drop_max_db * DETECT))
        .filter_map(|j| floor(&ctx.m[j]))
        .collect();
    if peers.is_empty() {
        // No peer kept its level: the limits' nominal noise floor, if given.
        return ctx.limits.record_noise_dbfs.map(|[lo, hi]| (lo + hi) / 2.0 - mine);
    }
    let mut sorted = peers;
    sorted.sort_by(|a, b| a.total_cmp(b));
    Some(sorted[sorted.len() / 2] - mine)
}

pub(in crate::diagnosis) fn observe_low_level(ctx: &Context) -> Vec<Obs> {
    let limit = ctx.limits.level_drop_max_db * DETECT;
    (0..ctx.m.len())
        .filter_map(|i| {
            let d = level_deficit(ctx, i)?;
            Some(obs(i, d >= limit, d / limit, format!("it came back {d:.1} dB below what a working path delivers")))
        })
        .collect()
}

pub(in crate::diagnosis) fn observe_imbalance(ctx: &Context) -> Vec<Obs> {
    let limit = ctx.limits.imbalance_max_db * IMBALANCE_DETECT;
    let mut out = Vec::new();
    for (i, m) in ctx.m.iter().enumerate() {
        if !(m.has_signal() && m.direction == Direction::Playback && m.drive == Some(Drive::Both) && m.ears.len() == 2)
        {
            continue;
        }
        let (Some(l), Some(r)) = (m.ears[0].gain_db, m.ears[1].gain_db) else { continue };
        if !(carries(ctx, i, 0) && carries(ctx, i, 1)) {
            continue;
        }
        let d = l - r;
        out.push(obs(
            i,
            d.abs() >= limit,
            d.abs() / limit,
            if d >= 0.0 {
                format!("the left ear came back {d:.1} dB louder than the right")
            } else {
                format!("the right ear came back {:.1} dB louder than the left", -d)
            },
        ));
    }
    out
}

/// Imbalance is defined at 3 dB and parts spread by about 1 dB: counted from 2.5 dB.
pub(in crate::diagnosis) const IMBALANCE_DETECT: f64 = 0.85;
