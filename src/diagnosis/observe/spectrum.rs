//! Observations in frequency: the driver's rate, distortion, the response against its peers, hum
//! and the noise floor.

use super::*;
use crate::analysis::rub_buzz::LOCKED_MIN;

pub(in crate::diagnosis) fn observe_rate(ctx: &Context) -> Vec<Obs> {
    let limit = ctx.limits.rate_error_max_percent / 100.0 * DETECT;
    let mut out = Vec::new();
    for (i, m) in ctx.m.iter().enumerate() {
        // A loopback is played and recorded on the driver's one clock: a clock off the bench's
        // cancels in it, so it clears no driver of a wrong rate.
        if m.direction == Direction::Loopback {
            continue;
        }
        let ratios: Vec<f64> =
            m.ears.iter().enumerate().filter(|(e, _)| m.driven(*e)).filter_map(|(_, x)| x.freq_ratio).collect();
        if ratios.is_empty() {
            continue;
        }
        let err = ratios.iter().map(|r| r - 1.0).sum::<f64>() / ratios.len() as f64;
        out.push(obs(
            i,
            err.abs() >= limit,
            err.abs() / limit,
            format!("the tone came back {:.2} % {}", 100.0 * err.abs(), if err > 0.0 { "high" } else { "low" }),
        ));
    }
    out
}

pub(in crate::diagnosis) fn observe_distortion(ctx: &Context) -> Vec<Obs> {
    let limit = ctx.limits.thd_max_percent;
    let mut out = Vec::new();
    for (i, m) in ctx.m.iter().enumerate() {
        if !matches!(m.signal, crate::stimulus::Stimulus::Sine { .. }) {
            continue;
        }
        let thd: Vec<f64> = m
            .ears
            .iter()
            .enumerate()
            .filter(|(e, x)| m.driven(*e) && carries(ctx, i, *e) && !x.disturbed())
            .filter_map(|(_, x)| x.thd_percent)
            .collect();
        let Some(max) = thd.iter().copied().reduce(f64::max) else { continue };
        // A nonlinearity grows with the level through it: a capture that lost level (a driver's
        // low gain ahead of a distorting jack) did not test it, and its clean tone is no alibi.
        let quiet = level_deficit(ctx, i).is_some_and(|d| d >= ctx.limits.level_drop_max_db * DETECT);
        if max < limit && quiet {
            continue;
        }
        out.push(obs(i, max >= limit, max / limit, format!("it came back with {max:.2} % THD")));
    }
    out
}

/// Rub & buzz: a playback sweep's recurring high-order residual on a driven ear, read per band
/// as its peak over the noise of the same band (so a noisier path, a quieter one, or one that
/// lost its top octaves reads alike), against the median of the same band on the other headsets' captures of the class
/// (without any, against [`NOISE_PEAK_DB`], what noise alone reaches). Shown when it stands the
/// limit over them in [`RUB_BUZZ_SPAN`] neighbouring bands: a defect rubs over a band of
/// frequencies near the speaker's resonance, where a stray click reaches one. A capture that
/// lost level did not move the speaker as far, and one that reached full scale has the
/// harmonics of its own clipping, so neither is a test.
pub(in crate::diagnosis) fn observe_rub_buzz(ctx: &Context) -> Vec<Obs> {
    let limit = ctx.limits.rub_buzz_max_db * DETECT;
    let over_noise = |x: &EarMeasure| -> Vec<(f64, f64)> {
        x.rub_buzz.iter().map(|p| (p.freq_hz, p.peak_db - p.noise_db.max(RUB_BUZZ_FLOOR_DB - NOISE_PEAK_DB))).collect()
    };
    // Only residual that recurs with the excitation is a defect's: room sound over the sweep
    // raises the peaks as much, but at no particular phase.
    let locked_over_noise = |x: &EarMeasure| -> Vec<(f64, f64)> {
        over_noise(x)
            .into_iter()
            .zip(&x.rub_buzz)
            .map(|((f, v), p)| (f, if p.locked >= LOCKED_MIN { v } else { f64::NEG_INFINITY }))
            .collect()
    };
    let mut out = Vec::new();
    for (i, m) in ctx.m.iter().enumerate() {
        if m.direction != Direction::Playback || !matches!(m.signal, crate::stimulus::Stimulus::LogSweep { .. }) {
            continue;
        }
        if level_deficit(ctx, i).is_some_and(|d| d >= ctx.limits.level_drop_max_db * DETECT) {
            continue;
        }
        let peers: Vec<&Measured> = ctx
            .index
            .peers(i)
            .map(|j| (j, &ctx.m[j]))
            .filter(|(j, p)| p.path.headset != m.path.headset && ctx.peer(*j, Symptom::RubBuzz))
            .map(|(_, p)| p)
            .collect();
        // (excess, band from, band to, ear)
        let mut worst: Option<(f64, f64, f64, usize)> = None;
        let mut tested = false;
        let mut golden_hit = false;
        for (e, x) in m.ears.iter().enumerate() {
            // An overloaded recording has the harmonics of its own clipping; room sound over the
            // sweep raises the bands around it.
            if !m.driven(e)
                || !carries(ctx, i, e)
                || x.rub_buzz.is_empty()
                || x.clipped
                || m.sweep_room_sound(e).is_some()
            {
                continue;
            }
            tested = true;
            let excess: Vec<(f64, f64)> = locked_over_noise(x)
                .into_iter()
                .map(|(f, v)| {
                    let mut refs: Vec<f64> = peers
                        .iter()
                        .filter_map(|p| p.ears.get(e))
                        .filter(|y| y.present)
                        .filter_map(|y| over_noise(y).into_iter().find(|q| (q.0 - f).abs() < 1e-6).map(|q| q.1))
                        .collect();
                    refs.sort_by(f64::total_cmp);
                    // Noise alone reaches 10–13 dB; a peer quieter than that in a band sets no
                    // stricter mark.
                    let reference = refs.get(refs.len() / 2).map_or(NOISE_PEAK_DB, |r| r.max(NOISE_PEAK_DB - 3.0));
                    (f, v - reference)
                })
                .collect();
            for w in excess.windows(RUB_BUZZ_SPAN) {
                let least = w.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
                if worst.is_none_or(|b| least > b.0) {
                    worst = Some((least, w[0].0, w[RUB_BUZZ_SPAN - 1].0, e));
                }
            }
            // The model's golden units: the peak ratio over their limit, where it stands clear of
            // the band's noise (a noisier path raises the ratio without any rub).
            if let Some(limit_curve) = ctx.golden_for(m).map(|g| g.rub_buzz(e)) {
                let over: Vec<(f64, f64)> = x
                    .rub_buzz
                    .iter()
                    .filter_map(|p| {
                        let [_, top] = *limit_curve.iter().find(|q| (q[0] / p.freq_hz - 1.0).abs() < 1e-3)?;
                        Some((p.freq_hz, if impulsive(p) { p.peak_db - top } else { f64::NEG_INFINITY }))
                    })
                    .collect();
                for w in over.windows(RUB_BUZZ_SPAN) {
                    let least = w.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
                    // Over the golden limit counts as the full limit over the peers.
                    if least > 0.0 && worst.is_none_or(|b| least + limit > b.0) {
                        worst = Some((least + limit, w[0].0, w[RUB_BUZZ_SPAN - 1].0, e));
                        golden_hit = true;
                    }
                }
            }
        }
        if !tested {
            continue;
        }
        let (d, lo, hi, e) = worst.unwrap_or((0.0, 0.0, 0.0, 0));
        let side = if e == 0 { "left" } else { "right" };
        let (lo_hz, hi_hz) = (crate::diagnosis::evidence::hz(lo), crate::diagnosis::evidence::hz(hi));
        let note = if golden_hit {
            format!(
                "its {side} ear's rub & buzz stood {:.0} dB over the golden units' limit from {lo_hz} to {hi_hz}",
                d - limit
            )
        } else {
            let against = if peers.is_empty() { "what noise alone reaches" } else { "the other headsets'" };
            format!(
                "its {side} ear's impulsive residual (rub & buzz) stood {d:.0} dB over {against} from {lo_hz} to {hi_hz}"
            )
        };
        out.push(obs(i, d >= limit, d / limit, note));
    }
    out
}

/// A residual peak under this, dB re the signal, is no rub & buzz whatever the noise under it
/// (where a path's band has almost no noise, a peak of a millionth of the signal would
/// otherwise stand out): production limits sit at −40 to −60 dB.
pub const RUB_BUZZ_FLOOR_DB: f64 = -80.0;

/// Neighbouring 1/3-octave bands a rub & buzz must span: two.
pub(in crate::diagnosis) const RUB_BUZZ_SPAN: usize = 2;

/// What the second-largest period peak of noise alone reaches over the band's noise rms, dB:
/// Gaussian noise's peaks over a band's few periods are 3 to 4.5 σ.
pub const NOISE_PEAK_DB: f64 = 12.0;

/// Whether a band's recurring residual is impulsive, the kind a golden rub & buzz limit judges:
/// 3 dB over what noise alone reaches over the band's noise, and locked to the sweep (room sound
/// is not). A noise-like peak over the limit is a noisier path, not a rub.
pub(in crate::diagnosis) fn impulsive(p: &crate::analysis::rub_buzz::RubBuzzPoint) -> bool {
    p.peak_db - p.noise_db >= NOISE_PEAK_DB + 3.0 && p.locked >= LOCKED_MIN
}

/// Response shape (each response less its own mid-band gain) against the best peer's at every
/// frequency of the mask band; shown when it falls below by more than the limit. Peers of another
/// headset model are held to the mask with [`CROSS_MODEL_DB`] to spare; the two ears of one
/// capture (one headset) are held to each other with none, whatever the model.
pub(in crate::diagnosis) fn observe_response(ctx: &Context) -> Vec<Obs> {
    let limit = ctx.limits.response_max_db * DETECT;
    let (lo, hi) = (ctx.limits.response_band_hz[0], ctx.limits.response_band_hz[1]);
    let shape = |x: &EarMeasure| -> Vec<(f64, f64)> {
        let g = x.gain_db.unwrap_or(0.0);
        x.response.iter().filter(|p| p.freq_hz >= lo && p.freq_hz <= hi).map(|p| (p.freq_hz, p.gain_db - g)).collect()
    };
    let mut out = Vec::new();
    for (i, m) in ctx.m.iter().enumerate() {
        let ears: Vec<(usize, &EarMeasure)> =
            m.ears.iter().enumerate().filter(|(e, x)| m.driven(*e) && x.present && !x.response.is_empty()).collect();
        // (frequency, shortfall, what it was measured against: "fell N dB under …")
        let mut worst: Option<(f64, f64, String)> = None;
        let mut keep = |found: Option<(f64, f64)>, against: &dyn Fn(f64) -> String| {
            if let Some((f, d)) = found {
                if worst.as_ref().is_none_or(|w| d > w.1) {
                    worst = Some((f, d, against(d)));
                }
            }
        };
        for &(e, ear) in &ears {
            let mine = shape(ear);
            // Whether every peer was a headset of another (or an unknown) model.
            let mut only_other_models = true;
            // Each peer's shape less what its voicing may differ by.
            let peers: Vec<Vec<(f64, f64)>> = ctx
                .index
                .peers(i)
                .filter(|&j| ctx.peer(j, Symptom::Response))
                .map(|j| &ctx.m[j])
                .filter_map(|p| {
                    let spare = if ctx.same_voicing(m, p) { 0.0 } else { CROSS_MODEL_DB };
                    p.ears.get(e).map(|x| (x, spare))
                })
                .filter(|(x, _)| x.present && !x.response.is_empty())
                .map(|(x, spare)| {
                    only_other_models &= spare > 0.0;
                    shape(x).into_iter().map(|(f, v)| (f, v - spare)).collect()
                })
                .collect();
            if peers.is_empty() {
                continue;
            }
            let against = if only_other_models {
                format!("its peers, beyond the {CROSS_MODEL_DB:.0} dB another headset model's voicing may differ by")
            } else {
                "its peers".to_string()
            };
            keep(Some(shortfall(&mine, &peers).unwrap_or((0.0, 0.0))), &|d| format!("fell {d:.1} dB under {against}"));
        }
        // The model's golden units: the shape outside their mask, over a span of points, counts
        // as the full limit past it.
        if let Some(g) = ctx.golden_for(m) {
            for &(e, ear) in &ears {
                let mask = if is_input_side(m) { &g.mic_response_db[..] } else { g.response(e) };
                let outside: Vec<(f64, f64, bool)> = shape(ear)
                    .into_iter()
                    .filter_map(|(f, v)| {
                        let [_, lo, hi] = *mask.iter().find(|q| (q[0] / f - 1.0).abs() < 1e-3)?;
                        Some(if v < lo { (f, lo - v, false) } else { (f, (v - hi).max(0.0), true) })
                    })
                    .collect();
                for w in outside.windows(RESPONSE_SPAN) {
                    let least = w.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
                    if least > 0.0 {
                        let (f, above) = (w[RESPONSE_SPAN / 2].0, w[RESPONSE_SPAN / 2].2);
                        let what = if above { "rose" } else { "fell" };
                        // Past the mask counts as the full limit under the peers.
                        let side = if above { "over" } else { "under" };
                        keep(Some((f, least + limit)), &|_| {
                            format!("{what} {least:.1} dB {side} the golden units' mask")
                        });
                    }
                }
            }
        }
        // The two ears of one headset are voiced alike: one that lost a band against the other
        // is a fault on any model.
        if let [(_, l), (_, r)] = ears[..] {
            let (l, r) = (shape(l), shape(r));
            keep(shortfall(&l, std::slice::from_ref(&r)), &|d| format!("fell {d:.1} dB under the right ear"));
            keep(shortfall(&r, std::slice::from_ref(&l)), &|d| format!("fell {d:.1} dB under the left ear"));
        }
        let Some((f, d, against)) = worst else { continue };
        out.push(obs(i, d >= limit, d / limit, format!("its response {against} around {f:.0} Hz")));
    }
    out
}

/// The worst shortfall of a response shape under the best of `peers`, as (frequency, dB): a
/// response fault is broad, so what counts at each place is the smallest shortfall over
/// [`RESPONSE_SPAN`] consecutive points (a gap or a click notches a narrow band only). `None`
/// when the shapes share too few points.
fn shortfall(mine: &[(f64, f64)], peers: &[Vec<(f64, f64)>]) -> Option<(f64, f64)> {
    let short: Vec<(f64, f64)> = mine
        .iter()
        .enumerate()
        .filter_map(|(k, &(f, v))| {
            let best = peers
                .iter()
                .filter_map(|p| p.get(k).filter(|q| (q.0 - f).abs() < 1e-6).map(|q| q.1))
                .fold(f64::NEG_INFINITY, f64::max);
            best.is_finite().then_some((f, best - v))
        })
        .collect();
    short
        .windows(RESPONSE_SPAN)
        .map(|w| (w[RESPONSE_SPAN / 2].0, w.iter().map(|p| p.1).fold(f64::INFINITY, f64::min)))
        .reduce(|a, b| if b.1 > a.1 { b } else { a })
}

/// How much more than the mask a response may fall under a headset of another (or an unknown)
/// model's before it counts, dB: voicings differ by up to about 10 dB over half an octave (a
/// presence peak of 6–10 dB at 2–4 kHz, a dip above it), while a lost top octave or a dead band
/// takes 20 dB or more.
pub const CROSS_MODEL_DB: f64 = 12.0;

/// Consecutive response points (1/6 octave apart) a response fault must span: half an octave.
pub(in crate::diagnosis) const RESPONSE_SPAN: usize = 3;

pub(in crate::diagnosis) fn observe_hum(ctx: &Context) -> Vec<Obs> {
    let over = ctx.limits.hum_over_floor_db;
    let mut out = Vec::new();
    for (i, m) in ctx.m.iter().enumerate() {
        // Room sound over a capture can carry low tones of its own.
        let ears: Vec<&EarMeasure> = m.ears.iter().filter(|e| !e.digital_silence && !e.disturbed()).collect();
        if ears.is_empty() || matches!(m.signal, crate::stimulus::Stimulus::LogSweep { .. }) {
            continue;
        }
        let excess = ears
            .iter()
            .map(|e| e.hum_dbfs.map_or(f64::NEG_INFINITY, |h| h - e.noise_floor_dbfs))
            .fold(f64::NEG_INFINITY, f64::max);
        let shown = excess >= over;
        out.push(obs(
            i,
            shown,
            if shown { excess / over } else { 0.0 },
            format!("mains hum stood {excess:.0} dB over the noise floor"),
        ));
    }
    out
}

pub(in crate::diagnosis) fn observe_noise(ctx: &Context) -> Vec<Obs> {
    let limit = ctx.limits.noise_rise_max_db * NOISE_DETECT;
    let testable = |m: &Measured| {
        matches!(m.signal, crate::stimulus::Stimulus::Silence { .. } | crate::stimulus::Stimulus::Sine { .. })
    };
    // Room sound over a capture raises its floor, not the path's.
    let floor = |p: &Measured| {
        p.ears
            .iter()
            .filter(|e| !e.disturbed())
            .map(|e| e.noise_floor_dbfs)
            .filter(|f| *f > crate::analysis::DB_FLOOR)
            .fold(f64::NEG_INFINITY, f64::max)
    };
    let mut out = Vec::new();
    for class in ctx.index.classes() {
        if !class.first().is_some_and(|&i| testable(&ctx.m[i])) {
            continue;
        }
        // The two quietest peers that kept their level (a lowered digital gain lowers the floor
        // too): the quietest other than the capture itself is one of them.
        let mut quietest: [(f64, usize); 2] = [(f64::INFINITY, usize::MAX); 2];
        for &j in class {
            if !(ctx.peer(j, Symptom::Noise) && kept_level(ctx, j)) {
                continue;
            }
            let f = floor(&ctx.m[j]);
            if !f.is_finite() {
                continue;
            }
            if f < quietest[0].0 {
                quietest = [(f, j), quietest[0]];
            } else if f < quietest[1].0 {
                quietest[1] = (f, j);
            }
        }
        for &i in class {
            let mine = floor(&ctx.m[i]);
            if !mine.is_finite() {
                continue;
            }
            let other = if quietest[0].1 == i { quietest[1].0 } else { quietest[0].0 };
            if !other.is_finite() {
                continue;
            }
            let rise = mine - other;
            out.push(obs(
                i,
                rise >= limit,
                rise / limit,
                format!("its noise floor stood {rise:.0} dB above the quietest other path"),
            ));
        }
    }
    out.sort_by_key(|o| o.capture);
    out
}

/// The noise rise is defined at 20 dB; counted from half of it (floors of healthy parts agree
/// within a few dB).
pub(in crate::diagnosis) const NOISE_DETECT: f64 = 0.5;
