//! Observations of how the channels are wired: CTIA/OMTP mismatch, swapped or inverted ears.

use super::*;

pub(in crate::diagnosis) fn observe_pinout(ctx: &Context) -> Vec<Obs> {
    let cancel = ctx.limits.cancellation_min_db * DETECT;
    let mut out = Vec::new();
    for (i, m) in ctx.m.iter().enumerate().filter(|(_, m)| m.has_signal()) {
        match (m.direction, m.drive) {
            (Direction::Playback, Some(Drive::Left) | Some(Drive::Right)) if m.ears.len() == 2 => {
                // One-sided drive reaching both ears alike, in opposite polarity.
                let (l, r) = (&m.ears[0], &m.ears[1]);
                if let (Some(a), Some(b)) = (l.level_dbfs, r.level_dbfs) {
                    let inverted = m.stereo.and_then(|s| s.inverted).unwrap_or(false);
                    let alike = (a - b).abs() < 6.0;
                    out.push(obs(i, alike && inverted, 2.0, "it came back in both ears alike, one in opposite polarity to the other (mic and ground swapped)"));
                } else if l.present || r.present {
                    out.push(obs(i, false, 0.0, ""));
                }
            }
            (Direction::Playback, Some(Drive::Both)) => {
                let Some(single) = ctx.index.single_drive(m) else { continue };
                let both = m
                    .ears
                    .iter()
                    .filter_map(|e| e.level_dbfs)
                    .fold(None, |a: Option<f64>, l| Some(a.map_or(l, |a| a.max(l))));
                let drop = both.map_or(f64::INFINITY, |b| single - b);
                let shown = drop >= cancel;
                let note = match both {
                    Some(_) => format!("drive = both cancels by {:.0} dB", drop),
                    None => "drive = both cancels completely".to_string(),
                };
                out.push(obs(i, shown, (drop / cancel).min(4.0), note));
            }
            _ => {}
        }
    }
    out
}

pub(in crate::diagnosis) fn observe_channel_swap(ctx: &Context) -> Vec<Obs> {
    let mut out = Vec::new();
    for (i, m) in ctx.m.iter().enumerate() {
        let single = matches!(m.drive, Some(Drive::Left) | Some(Drive::Right));
        if !(m.has_signal() && m.direction == Direction::Playback && single && m.ears.len() == 2) {
            continue;
        }
        let Some(typical) = ctx.index.typical_playback(&m.stimulus) else { continue };
        let (own, other) =
            if m.drive == Some(Drive::Left) { (&m.ears[0], &m.ears[1]) } else { (&m.ears[1], &m.ears[0]) };
        let own_l = own.level_dbfs.unwrap_or(f64::NEG_INFINITY);
        let Some(other_l) = other.level_dbfs else {
            if own.present {
                out.push(obs(i, false, 0.0, ""));
            }
            continue;
        };
        let inverted_pair = m.stereo.and_then(|s| s.inverted).unwrap_or(false) && (own_l - other_l).abs() < 6.0;
        if inverted_pair {
            continue; // a pinout's signature, not a swap
        }
        let swapped = other_l >= own_l + 10.0 && other_l >= typical - 12.0;
        let other = match m.drive {
            Some(Drive::Left) => "right",
            _ => "left",
        };
        out.push(obs(i, swapped, 2.0, format!("it came back in the {other} ear instead")));
    }
    out
}

pub(in crate::diagnosis) fn observe_polarity(ctx: &Context) -> Vec<Obs> {
    let mut out = Vec::new();
    for (i, m) in ctx.m.iter().enumerate() {
        if !(m.has_signal() && m.direction == Direction::Playback && m.drive == Some(Drive::Both) && m.ears.len() == 2)
        {
            continue;
        }
        if !(carries(ctx, i, 0) && carries(ctx, i, 1)) {
            continue;
        }
        let inverted = match (m.stereo.and_then(|s| s.inverted), m.ears[0].inverted, m.ears[1].inverted) {
            (Some(inv), _, _) => inv,
            (None, Some(a), Some(b)) => a != b,
            _ => continue,
        };
        out.push(obs(i, inverted, 2.0, "one ear came back in opposite polarity to the other"));
    }
    out
}
