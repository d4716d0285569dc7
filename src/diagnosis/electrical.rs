//! The plug's DC resistances in the diagnosis (spec v1.1, electrical symptoms): a set whose
//! manifest has `[[plug]]` readings (the electrical stage of a rig with a meter) gets, before
//! any sound is weighed:
//!
//! 1. **Electrical faults**: each finding of [`crate::analysis::plug::classify`] (a line with no
//!    DC path, two contacts joined, a button pressed at rest) is a fault of the headset,
//!    measured, not inferred. It explains what it does to the sound on that side: a broken ear
//!    conductor is the dead ear, a shorted microphone the dead microphone.
//! 2. **Evidence for the substitutions**: the plug settles what comparisons of sound may leave
//!    open ([`sort_by_plug`]). A 4-pole plug that reads OMTP is the headset's pinout mismatch; one
//!    that reads CTIA clears the headset of it. An ear whose speaker reads its DC resistance is
//!    no broken conductor, so a dead ear through it is the port's or the adapter's output. A
//!    dead microphone whose DC path is intact points to the capsule or the port, not the cable:
//!    it stays `input_dead`, never `open_contact`.

use super::evidence::{self, Labels};
use super::measure::Measured;
use super::{Fault, FaultCode, Symptom};
use crate::analysis::plug::{classify, Pinout, PlugVerdict, Poles};
use crate::capture::plug::Contact;
use crate::capture::{CaptureSet, ComponentKind, Direction};
use std::collections::{BTreeMap, BTreeSet};

/// A measured fault is as sure as the meter: it is not a guess from comparisons.
const MEASURED_CONFIDENCE: f64 = 0.95;

/// The sound a broken or shorted ear line makes meaningless on the captures through it.
const EAR_EXPLAINS: &[Symptom] = &[
    Symptom::ChannelDead,
    Symptom::OutputDead,
    Symptom::Imbalance,
    Symptom::LowLevel,
    Symptom::Response,
    Symptom::Polarity,
    Symptom::ChannelSwap,
];
/// The sound a broken, shorted or loaded microphone line makes meaningless.
const MIC_EXPLAINS: &[Symptom] = &[Symptom::InputDead, Symptom::LowLevel, Symptom::LowGain, Symptom::Response];

/// Each measured headset's plug as its readings show it. A plug whose readings do not parse
/// was refused when the manifest was read; it is left out here.
pub fn verdicts(set: &CaptureSet) -> BTreeMap<String, PlugVerdict> {
    let mut out = BTreeMap::new();
    for plug in &set.manifest.plugs {
        let Ok(readings) = plug.readings() else { continue };
        // The unit has a microphone when the set records through it.
        let mic =
            set.manifest.captures.iter().any(|c| c.path.headset == plug.component && c.direction == Direction::Record);
        out.insert(plug.component.clone(), classify(&readings, mic));
    }
    out
}

/// The electrical faults of the measured plugs, and the (capture, symptom) pairs they explain.
pub(super) fn faults(
    verdicts: &BTreeMap<String, PlugVerdict>,
    measured: &[Measured],
    labels: &Labels,
    explained: &mut BTreeSet<(usize, Symptom)>,
) -> Vec<Fault> {
    let mut out: Vec<Fault> = Vec::new();
    for (headset, verdict) in verdicts {
        for finding in &verdict.findings {
            let Some(symptom) = Symptom::from_name(finding.symptom) else { continue };
            let Some(code) = FaultCode::new(ComponentKind::Headset, symptom) else { continue };
            let mic_line = verdict.poles == Poles::Four && finding.contacts.contains(&mic_contact(verdict));
            let ear_line = finding.contacts.iter().any(|c| matches!(c, Contact::T | Contact::R1));
            let mut files = Vec::new();
            for (i, m) in measured.iter().enumerate() {
                if m.path.headset != *headset {
                    continue;
                }
                let explains = match m.direction {
                    Direction::Playback if ear_line => EAR_EXPLAINS,
                    Direction::Record if mic_line => MIC_EXPLAINS,
                    _ => continue,
                };
                explained.extend(explains.iter().map(|s| (i, *s)));
                if !files.contains(&m.file) {
                    files.push(m.file.clone());
                }
            }
            let evidence =
                format!("The plug, measured between its contacts: {}. {}", finding.evidence, summary(verdict));
            if let Some(f) = out.iter_mut().find(|f| f.component == *headset && f.code == code) {
                f.evidence = format!("{} Also: {}.", f.evidence, finding.evidence);
                f.captures.extend(files.into_iter().filter(|x| !f.captures.contains(x)).collect::<Vec<_>>());
                continue;
            }
            out.push(Fault {
                component: headset.clone(),
                code,
                title: evidence::title(labels, std::slice::from_ref(headset), symptom.describe()),
                confidence: MEASURED_CONFIDENCE,
                captures: files,
                evidence,
                remedy: code.remedy().to_string(),
            });
        }
    }
    out
}

/// The contact a 4-pole plug's microphone is on, by the pinout it read (CTIA when it could not
/// be told).
fn mic_contact(v: &PlugVerdict) -> Contact {
    if v.pinout == Some(Pinout::Omtp) {
        Contact::R2
    } else {
        Contact::S
    }
}

/// The plug in a line: "4-pole CTIA; left 32.1 Ω, right 32.3 Ω, microphone 2.20 kΩ".
pub fn summary(v: &PlugVerdict) -> String {
    use crate::capture::plug::Reading;
    let kind = match (v.poles, v.pinout) {
        (Poles::Three, _) => "3-pole (TRS)".to_string(),
        (Poles::Four, Some(Pinout::Ctia)) => "4-pole CTIA (ground on ring 2, microphone on the sleeve)".to_string(),
        (Poles::Four, Some(Pinout::Omtp)) => "4-pole OMTP (microphone on ring 2, ground on the sleeve)".to_string(),
        (Poles::Four, None) => "4-pole, ground not told".to_string(),
    };
    let ohms = |o: Option<f64>| match o {
        None => "open".to_string(),
        Some(r) if r <= crate::analysis::plug::JOINED_OHMS => "short".to_string(),
        Some(r) => Reading::Ohms(r).to_string(),
    };
    let mut s = format!("The plug reads {kind}; left ear {}, right ear {}", ohms(v.left_ohms), ohms(v.right_ohms));
    if v.poles == Poles::Four {
        s += &format!(", microphone {}", ohms(v.mic_ohms));
    }
    s + "."
}

/// Whether headset `id`'s plug shows both ears' speakers whole: each reads its DC resistance and
/// no finding is on an ear.
fn ears_whole(v: &PlugVerdict) -> bool {
    v.left_ohms.is_some()
        && v.right_ohms.is_some()
        && !v.findings.iter().any(|f| f.contacts.iter().any(|c| matches!(c, Contact::T | Contact::R1)))
}

/// Sorts the candidates sound left for `symptom` by what the plugs read: the headset whose plug
/// reads OMTP carries a pinout mismatch, one that reads CTIA does not; a headset whose ears read
/// whole carries no dead ear. Never leaves none: when the plugs clear every candidate, sound's
/// answer stands. Returns the candidates kept and, when the plugs decided, why, in words.
pub(super) fn sort_by_plug(
    verdicts: &BTreeMap<String, PlugVerdict>,
    labels: &Labels,
    symptom: Symptom,
    resolved: Vec<(String, Symptom)>,
) -> (Vec<(String, Symptom)>, Option<String>) {
    if resolved.len() < 2 || verdicts.is_empty() {
        return (resolved, None);
    }
    let name = |id: &str| labels.get(id).copied().unwrap_or(id).to_string();
    let verdict = |id: &str| verdicts.get(id);
    match symptom {
        Symptom::PinoutMismatch => {
            let omtp: Vec<(String, Symptom)> = resolved
                .iter()
                .filter(|(c, _)| verdict(c).is_some_and(|v| v.pinout == Some(Pinout::Omtp)))
                .cloned()
                .collect();
            if let Some((id, _)) = omtp.first() {
                let why = format!("the plug of {} reads OMTP (microphone on ring 2, ground on the sleeve)", name(id));
                return (omtp, Some(why));
            }
            let ctia: Vec<&String> = resolved
                .iter()
                .map(|(c, _)| c)
                .filter(|c| verdict(c).is_some_and(|v| v.poles == Poles::Four && v.pinout == Some(Pinout::Ctia)))
                .collect();
            let names: Vec<String> = ctia.iter().map(|c| name(c)).collect();
            keep_others(resolved.clone(), &ctia, || {
                format!("the plug of {} reads CTIA, as the jack is wired", names.join(", "))
            })
        }
        Symptom::ChannelDead | Symptom::OutputDead => {
            let whole: Vec<&String> =
                resolved.iter().map(|(c, _)| c).filter(|c| verdict(c).is_some_and(ears_whole)).collect();
            let reads: Vec<String> = whole
                .iter()
                .filter_map(|c| {
                    let v = verdict(c)?;
                    Some(format!(
                        "{} reads its speakers whole (left {:.1} Ω, right {:.1} Ω)",
                        name(c),
                        v.left_ohms.unwrap_or_default(),
                        v.right_ohms.unwrap_or_default()
                    ))
                })
                .collect();
            keep_others(resolved.clone(), &whole, || {
                format!("the plug of {}: no broken conductor, so the dead line is before the plug", reads.join("; "))
            })
        }
        _ => (resolved, None),
    }
}

/// The candidates without `cleared`, with why in words, when any is left; else all of them.
fn keep_others(
    resolved: Vec<(String, Symptom)>,
    cleared: &[&String],
    why: impl FnOnce() -> String,
) -> (Vec<(String, Symptom)>, Option<String>) {
    if cleared.is_empty() {
        return (resolved, None);
    }
    let kept: Vec<(String, Symptom)> = resolved.iter().filter(|(c, _)| !cleared.contains(&c)).cloned().collect();
    if kept.is_empty() {
        return (resolved, None);
    }
    (kept, Some(why()))
}
