//! Observations of level: a path's stimulus gone (digital silence, output, input or one channel
//! dead), its level low against its peers, its ears unbalanced.

use super::*;

pub(in crate::diagnosis) fn observe_digital_silence(ctx: &Context) -> Vec<Obs> {
    ctx.m
        .iter()
        .enumerate()
        .filter(|(_, m)| is_input_side(m))
        .map(|(i, m)| {
            let zero = m.ears.iter().all(|e| e.digital_silence);
            obs(i, zero, 2.0, "the recording was exact digital zeros".to_string())
        })
        .collect()
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
pub(in crate::diagnosis) fn level_deficit(ctx: &Context, capture: usize) -> Option<f64> {
    let m = &ctx.m[capture];
    if !m.has_signal() {
        return None;
    }
    let key = class_key(m);
    let window = ctx.limits.gain_window(m.direction);
    // Without a peer on another path, only the limits' absolute window can judge.
    let has_peer = ctx
        .m
        .iter()
        .enumerate()
        .any(|(j, p)| class_key(p) == key && p.path != m.path && ctx.peer(j, Symptom::LowLevel));
    if !has_peer && window.is_none() {
        return None;
    }
    let mut deficits = Vec::new();
    for (e, ear) in m.ears.iter().enumerate().filter(|(e, _)| m.driven(*e)) {
        if !carries(ctx, capture, e) {
            return None;
        }
        let level = ear.gain_db?;
        let best = ctx
            .m
            .iter()
            .enumerate()
            .filter(|(j, p)| class_key(p) == key && (*j == capture || ctx.peer(*j, Symptom::LowLevel)))
            .filter_map(|(_, p)| p.ears.get(e).and_then(|x| x.gain_db))
            .fold(f64::NEG_INFINITY, f64::max);
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

/// How far a record-side capture's noise floor is below the same class's highest peer floor
/// among captures that kept their level, dB.
pub(in crate::diagnosis) fn noise_drop(ctx: &Context, capture: usize) -> Option<f64> {
    let m = &ctx.m[capture];
    let floor = |p: &Measured| {
        p.ears.first().filter(|e| !e.disturbed()).map(|e| e.noise_floor_dbfs).filter(|f| *f > crate::analysis::DB_FLOOR)
    };
    let mine = floor(m)?;
    let key = class_key(m);
    let peers: Vec<f64> = ctx
        .m
        .iter()
        .enumerate()
        .filter(|(j, p)| class_key(p) == key && *j != capture)
        .filter(|(j, _)| level_deficit(ctx, *j).is_some_and(|d| d < ctx.limits.level_drop_max_db * DETECT))
        .filter_map(|(_, p)| floor(p))
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
