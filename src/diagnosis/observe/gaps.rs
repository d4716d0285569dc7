//! Observations of gaps and discontinuities (and, as evidence beside them, level steps and sounds
//! outside the tone).

use super::*;

pub(in crate::diagnosis) fn observe_gaps(ctx: &Context) -> Vec<Obs> {
    let mut out = Vec::new();
    for (i, m) in ctx.m.iter().enumerate() {
        // Tone captures (gaps and discontinuities in the tone) and silence captures (zero-fills).
        let testable: Vec<&EarMeasure> = match &m.signal {
            crate::stimulus::Stimulus::Sine { .. } => {
                m.ears.iter().enumerate().filter(|(e, x)| m.driven(*e) && x.present).map(|(_, x)| x).collect()
            }
            crate::stimulus::Stimulus::Silence { .. } => m.ears.iter().filter(|x| !x.digital_silence).collect(),
            crate::stimulus::Stimulus::LogSweep { .. } => {
                m.ears.iter().enumerate().filter(|(e, x)| m.driven(*e) && x.present).map(|(_, x)| x).collect()
            }
            _ => Vec::new(),
        };
        if testable.is_empty() {
            continue;
        }
        let events: usize = testable.iter().map(|x| x.dropouts.len()).sum();
        let longest = testable.iter().flat_map(|x| x.dropouts.iter().map(|d| d.ms)).fold(0.0, f64::max);
        // Level steps and sounds outside the tone are told beside the gaps, as what else the
        // capture showed; they are not gaps.
        let mut note = format!("{events} gap(s) or click(s), longest {longest:.1} ms");
        let steps: Vec<String> = testable
            .iter()
            .flat_map(|x| &x.level_steps)
            .map(|s| format!("{:+.1} dB at {:.3} s", s.db, s.at_s))
            .collect();
        if !steps.is_empty() {
            note += &format!("; level step(s) {}", steps.join(", "));
        }
        let outside: usize = testable.iter().map(|x| x.outside_events.len()).sum();
        if outside > 0 {
            note += &format!("; {outside} sound(s) outside the tone");
        }
        let mut o = obs(i, events > 0, 1.0 + events as f64 / 2.0, note);
        o.events = events;
        out.push(o);
    }
    out
}
