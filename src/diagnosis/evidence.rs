//! The words of a diagnosis: a fault's title ("Customer's adapter: CTIA/OMTP pinout mismatch")
//! and its evidence as a sentence a technician reads without a manual: what was played, through
//! which parts, what came back, and what the comparison path showed.

use super::localise::Explanation;
use super::measure::Measured;
use super::{FaultCode, Obs, Symptom};
use crate::capture::{Direction, Drive};
use crate::stimulus::Stimulus;
use std::collections::BTreeMap;

/// Component id → the label a person reads (the id where the manifest gives none).
pub(super) type Labels<'a> = BTreeMap<&'a str, &'a str>;

/// "Customer's adapter: CTIA/OMTP pinout mismatch (mic and ground swapped)".
pub(super) fn title(labels: &Labels, components: &[String], what: &str) -> String {
    let names: Vec<&str> = components.iter().map(|c| label(labels, c)).collect();
    let who = match names.as_slice() {
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
        [] => String::new(),
    };
    format!("{who}: {what}")
}

fn label<'a>(labels: &Labels<'a>, id: &'a str) -> &'a str {
    labels.get(id).copied().unwrap_or(id)
}

/// The evidence for `ex`: the example capture's test and path, what came back on the captures it
/// covers, the captures through the same parts that did not show it, and a capture of the same
/// test through other parts that was normal (from `all`, the step's observations).
pub(super) fn sentence(
    labels: &Labels,
    measured: &[Measured],
    ex: &Explanation,
    covered: &[&Obs],
    all: &[Obs],
) -> String {
    let Some(first) = covered.first() else { return String::new() };
    let m = &measured[first.capture];
    let mut notes: Vec<&str> = covered.iter().map(|o| o.note.as_str()).filter(|n| !n.is_empty()).collect();
    notes.sort();
    notes.dedup();
    let more = notes.len().saturating_sub(3);
    notes.truncate(3);
    let mut what = notes.join("; ");
    if more > 0 {
        what += &format!("; and {more} more");
    }
    let mut s = format!(
        "{} through {}: {what} ({} capture(s), e.g. {}).",
        capitalised(&played(m)),
        path(labels, m),
        covered.len(),
        m.place()
    );
    let parts: Vec<&str> = ex.components.iter().map(|c| label(labels, c)).collect();
    if ex.misses > 0 {
        s += &format!(" {} other capture(s) through {} did not show it.", ex.misses, parts.join(" / "));
    }
    // The same test through parts none of the blamed ones is in, that came back normal.
    let through_blamed = |p: &Measured| ex.components.iter().any(|c| p.path.ids().contains(&c.as_str()));
    let same_test = |p: &Measured| p.direction == m.direction && p.stimulus == m.stimulus && p.drive == m.drive;
    let normal = all.iter().filter(|o| !o.shown).map(|o| &measured[o.capture]);
    let comparison = normal.clone().find(|p| same_test(p) && !through_blamed(p));
    let other = comparison.or_else(|| normal.clone().find(|p| !through_blamed(p)));
    match other {
        Some(p) if comparison.is_some() => {
            s += &format!(" The same test through {} was normal ({}).", path(labels, p), p.place())
        }
        Some(p) => {
            s += &format!(" {} through {} was normal ({}).", capitalised(&played(p)), path(labels, p), p.place())
        }
        None => s += &format!(" No capture avoided {}: nothing else could be compared.", parts.join(" / ")),
    }
    s
}

/// The evidence for a symptom that no one part explains: what came back on the captures that show
/// it, and for each suspect part a capture of the same test through it that was normal.
pub(super) fn unexplained(
    labels: &Labels,
    measured: &[Measured],
    components: &[String],
    shown: &[Obs],
    all: &[Obs],
) -> String {
    let Some(first) = shown.first() else { return String::new() };
    let m = &measured[first.capture];
    let mut notes: Vec<&str> = shown.iter().map(|o| o.note.as_str()).filter(|n| !n.is_empty()).collect();
    notes.sort();
    notes.dedup();
    notes.truncate(3);
    let mut s = format!(
        "{} through {}: {} ({} capture(s), e.g. {}).",
        capitalised(&played(m)),
        path(labels, m),
        notes.join("; "),
        shown.len(),
        m.place()
    );
    // For each part, a normal capture through it: of the same test where there is one, on
    // another path than the ones that showed the symptom.
    let shown_paths: Vec<&crate::capture::PathSpec> = shown.iter().map(|o| &measured[o.capture].path).collect();
    let same_test = |p: &Measured| p.direction == m.direction && p.stimulus == m.stimulus && p.drive == m.drive;
    let normal: Vec<String> = components
        .iter()
        .filter_map(|c| {
            let through: Vec<&Measured> = all
                .iter()
                .filter(|o| !o.shown)
                .map(|o| &measured[o.capture])
                .filter(|p| p.path.ids().contains(&c.as_str()) && !shown_paths.contains(&&p.path))
                .collect();
            let p = through
                .iter()
                .find(|p| same_test(p))
                .or_else(|| through.iter().find(|p| p.direction == m.direction))
                .or_else(|| through.first())?;
            Some(format!("{} was normal through {} ({})", label(labels, c), path(labels, p), p.place()))
        })
        .collect();
    if normal.is_empty() {
        s += " No part of the path is known to be faulty.";
    } else {
        s += &format!(" Yet {}: no one part explains it.", normal.join("; "));
    }
    s
}

/// The fix for `code`, fitted to what was measured where the general text would mislead: a tone
/// 0.7 % off is a faulty clock, not a 44.1 vs 48 kHz setting (8.8 %).
pub(super) fn remedy(code: FaultCode, measured: &[Measured], covered: &[&Obs]) -> String {
    if code.symptom != Symptom::RateMismatch {
        return code.remedy().to_string();
    }
    let mut ratios: Vec<(f64, u32)> = covered
        .iter()
        .map(|o| &measured[o.capture])
        .flat_map(|m| {
            m.ears
                .iter()
                .enumerate()
                .filter(|(e, _)| m.driven(*e))
                .filter_map(|(_, x)| Some((x.freq_ratio?, m.sample_rate)))
        })
        .collect();
    if ratios.is_empty() {
        return code.remedy().to_string();
    }
    ratios.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (r, stream) = ratios[ratios.len() / 2];
    let off = 100.0 * (r - 1.0).abs();
    let way = if r > 1.0 { "high" } else { "low" };
    // The device at a standard rate while the stream assumes another: played tones scale by
    // device/stream, recorded ones by stream/device.
    let stream = f64::from(stream);
    let device = STANDARD_RATES
        .iter()
        .copied()
        .find(|&a| a != stream && [r * stream, stream / r].iter().any(|&b| (b - a).abs() < 0.002 * a));
    match device {
        Some(a) => format!(
            "The device runs at {} where the stream is {} (tones {off:.1} % {way}): set the same default format in \
             the OS sound settings and the app, disable exclusive-mode conversions, update the driver.",
            hz(a),
            hz(stream)
        ),
        None => format!(
            "Tones come back {off:.2} % {way}, which no pair of standard sample rates explains: the device's clock \
             or its rate conversion is faulty. Try another USB port or interface, update its firmware and driver; \
             replace it if it stays."
        ),
    }
}

/// The sample rates devices run at, Hz.
const STANDARD_RATES: [f64; 12] = [
    8_000.0, 11_025.0, 16_000.0, 22_050.0, 24_000.0, 32_000.0, 44_100.0, 48_000.0, 88_200.0, 96_000.0, 176_400.0,
    192_000.0,
];

/// What was played, and where: "a 1 kHz tone played to the left ear".
fn played(m: &Measured) -> String {
    let signal = match &m.signal {
        Stimulus::Sine { freq_hz, .. } => format!("a {} tone", hz(*freq_hz)),
        Stimulus::LogSweep { start_hz, stop_hz, .. } => format!("a {}–{} sweep", hz(*start_hz), hz(*stop_hz)),
        Stimulus::Silence { .. } => "silence".to_string(),
        Stimulus::Multitone { freqs_hz, .. } => format!("a multitone of {} tones", freqs_hz.len()),
        Stimulus::Sequence { segments, .. } => format!("a sequence of {} segments", segments.len()),
    };
    let silent = matches!(m.signal, Stimulus::Silence { .. });
    match (m.direction, m.drive) {
        (Direction::Playback, Some(Drive::Left)) => format!("{signal} played to the left ear"),
        (Direction::Playback, Some(Drive::Right)) => format!("{signal} played to the right ear"),
        (Direction::Playback, _) if silent => "silence played to both ears".to_string(),
        (Direction::Playback, _) => format!("{signal} played to both ears"),
        (Direction::Record, _) if silent => "silence recorded from the microphone".to_string(),
        (Direction::Record, _) => format!("{signal} played into the microphone"),
        (Direction::Loopback, _) => format!("{signal} played round the loopback plug"),
    }
}

/// "Laptop audio driver → Laptop headset jack → No adapter (direct) → Customer's headset".
fn path(labels: &Labels, m: &Measured) -> String {
    m.path.ids().iter().map(|id| label(labels, id)).collect::<Vec<_>>().join(" → ")
}

/// "1 kHz", "500 Hz", "20 kHz", "22.05 kHz", "1.6 kHz": a rate in 10 Hz steps as it is, any
/// other frequency in kHz to one decimal.
pub fn hz(f: f64) -> String {
    if f >= 1000.0 {
        let k = f / 1000.0;
        if ((k * 100.0).round() - k * 100.0).abs() < 1e-9 {
            format!("{k} kHz")
        } else {
            let k = format!("{k:.1}");
            format!("{} kHz", k.strip_suffix(".0").unwrap_or(&k))
        }
    } else {
        format!("{f:.0} Hz")
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequencies_read_as_a_technician_says_them() {
        assert_eq!(hz(1000.0), "1 kHz");
        assert_eq!(hz(44_100.0), "44.1 kHz");
        assert_eq!(hz(2500.0), "2.5 kHz");
        assert_eq!(hz(22_050.0), "22.05 kHz");
        assert_eq!(hz(1612.7), "1.6 kHz");
        assert_eq!(hz(440.0), "440 Hz");
        assert_eq!(capitalised("a tone"), "A tone");
    }

    #[test]
    fn titles_name_the_part_by_its_label() {
        let labels: Labels = [("cust", "Customer's adapter")].into_iter().collect();
        assert_eq!(title(&labels, &["cust".into()], "dead"), "Customer's adapter: dead");
        assert_eq!(
            title(&labels, &["a".into(), "b".into(), "cust".into()], "dead"),
            "a, b or Customer's adapter: dead"
        );
    }
}
