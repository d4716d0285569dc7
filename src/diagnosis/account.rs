//! Every capture accounted for (spec §4, v1.2): PASS is a claim that the unit was measured, so
//! each capture of a set ends as explained by a fault, held by a suspect, measured clean, or
//! missing with why.
//!
//! # Method
//! 1. **Unmeasured**: a capture that could not be measured (not a regular file, not a WAV,
//!    shorter than its stimulus, samples that are not finite or beyond full scale), and a capture
//!    the plan had that the run did not make (the manifest's `[[pending]]`), is missing.
//! 2. **Unexplained**: a deterministic symptom of something lacking (the stimulus gone, low,
//!    cancelled, swapped, inverted, off pitch, a band lost) shown where no part explains it (each
//!    part of the path measured clean elsewhere) becomes a suspect, grouped by the parts its
//!    captures share ([`group_unexplained`], after the diagnosis's last step, unless a fault found
//!    since holds it: [`held`]). Random symptoms (gaps) keep their evidence threshold, and added
//!    sound (noise, hum, distortion, rub & buzz) on one capture is what room sound does: one
//!    glitch is not a fault.
//! 3. **Silent**: a driven channel that carries none of its stimulus is explained by a fault or a
//!    suspect on its path whose symptom silences that side ([`silences`]); otherwise it is
//!    missing: nothing was measured there ([`silent`]).
//! 4. **Untested parts**: every part under test (not a reference part, not bench equipment) needs
//!    a usable measurement through it, and a headset one in each direction the set measures
//!    headsets in: its speakers and its microphone ([`untested_parts`]).
//!
//! The verdict is `fail` when a fault or a suspect is named, else `incomplete` when anything is
//! missing, else `pass`.

use super::measure::{Measured, Unmeasured};
use super::observe::carries;
use super::{Context, Fault, Kinds, Obs, Step, Suspect, Symptom};
use crate::capture::{CaptureSet, ComponentKind, Direction};
use serde::Serialize;
use std::collections::BTreeSet;

/// What was not measured: a planned capture (or a sequence's segment of one), or a part under
/// test that no usable capture went through; and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Missing {
    /// The capture's file as the manifest names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The segment of a sequence, when only it is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// The part under test that was not measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    pub why: String,
}

impl Missing {
    fn capture(file: &str, segment: Option<&str>, why: String) -> Missing {
        Missing { file: Some(file.to_string()), segment: segment.map(str::to_string), component: None, why }
    }

    /// What is missing, for a person: the file (and segment), or the part.
    pub fn place(&self) -> String {
        match (&self.file, &self.segment, &self.component) {
            (Some(f), Some(s), _) => format!("{f} [{s}]"),
            (Some(f), None, _) => f.clone(),
            (None, _, Some(c)) => c.clone(),
            (None, _, None) => String::new(),
        }
    }
}

/// Step 1: the captures that could not be measured, and those the plan had and the run did not
/// make.
pub(super) fn unmeasured(set: &CaptureSet, unmeasured: Vec<Unmeasured>) -> Vec<Missing> {
    let mut out: Vec<Missing> = unmeasured.into_iter().map(|u| Missing::capture(&u.file, None, u.why)).collect();
    let why = match &set.manifest.stopped {
        Some(reason) => format!("planned but not made: the run stopped ({reason})"),
        None => "planned but not made".to_string(),
    };
    out.extend(set.manifest.pending.iter().map(|p| Missing::capture(&p.file, None, why.clone())));
    out
}

/// Shown observations of one symptom that no part explains, and the parts they share.
pub(super) struct Unexplained {
    pub components: Vec<String>,
    pub observations: Vec<Obs>,
}

/// Step 2: groups the unexplained observations of a step by the parts under test their paths
/// share. A part on every capture of the set (a bench's only driver) tells nothing apart: it is
/// named only when nothing else is shared. Reference parts are named only when a path has no
/// other part.
pub(super) fn group_unexplained(measured: &[Measured], kinds: &Kinds, left: &[&Obs]) -> Vec<Unexplained> {
    let everywhere: BTreeSet<&str> = measured
        .iter()
        .map(|m| m.path.ids().into_iter().collect::<BTreeSet<&str>>())
        .reduce(|a, b| a.intersection(&b).copied().collect())
        .unwrap_or_default();
    let parts = |m: &Measured| -> BTreeSet<String> {
        let kind = |id: &str| kinds.get(id).copied();
        let ids: Vec<&str> =
            m.path.ids().into_iter().filter(|id| kind(id).is_some_and(|k| k.0 != ComponentKind::Loopback)).collect();
        let under_test: BTreeSet<String> =
            ids.iter().filter(|id| kind(id).is_some_and(|k| !k.1)).map(|id| id.to_string()).collect();
        if under_test.is_empty() {
            ids.iter().map(|id| id.to_string()).collect()
        } else {
            under_test
        }
    };
    let telling = |set: &BTreeSet<String>| -> BTreeSet<String> {
        let told: BTreeSet<String> = set.iter().filter(|c| !everywhere.contains(c.as_str())).cloned().collect();
        if told.is_empty() {
            set.clone()
        } else {
            told
        }
    };
    let mut groups: Vec<(BTreeSet<String>, Vec<Obs>)> = Vec::new();
    for o in left {
        let mine = parts(&measured[o.capture]);
        let joined =
            groups.iter_mut().find(|(shared, _)| shared.intersection(&mine).any(|c| !everywhere.contains(c.as_str())));
        match joined {
            Some((shared, obs)) => {
                *shared = shared.intersection(&mine).cloned().collect();
                obs.push((*o).clone());
            }
            None => groups.push((mine, vec![(*o).clone()])),
        }
    }
    groups
        .into_iter()
        .map(|(shared, observations)| Unexplained { components: telling(&shared).into_iter().collect(), observations })
        .collect()
}

/// Whether a fault found holds an unexplained observation of `step`'s symptom on capture `m`:
/// one on a part of its path whose symptom is that one, explains it, or silences what it
/// silences (a dead ear is no sound at all under one-sided drive).
pub(super) fn held(m: &Measured, step: &Step, faults: &[Fault]) -> bool {
    let ids = m.path.ids();
    let silencing = matches!(
        step.symptom,
        Symptom::OutputDead | Symptom::ChannelDead | Symptom::InputDead | Symptom::DigitalSilence
    );
    faults.iter().filter(|f| ids.contains(&f.component.as_str())).any(|f| {
        let s = f.code.symptom;
        s == step.symptom
            || super::STEPS.iter().any(|k| k.family.contains(&s) && k.explains.contains(&step.symptom))
            || (silencing && silences(s, m.direction))
    })
}

/// Whether a fault of `symptom` on a part of a capture's path accounts for the capture's
/// stimulus not coming back on a side of `direction`.
pub(super) fn silences(symptom: Symptom, direction: Direction) -> bool {
    use Symptom as S;
    let either =
        matches!(symptom, S::PinoutMismatch | S::LowLevel | S::LowGain | S::RateMismatch | S::OpenContact | S::Short);
    let out = matches!(symptom, S::OutputDead | S::ChannelDead);
    let input = matches!(symptom, S::InputDead | S::DigitalSilence);
    either
        || match direction {
            Direction::Playback => out,
            Direction::Record => input,
            Direction::Loopback => out || input,
        }
}

/// Step 3: the driven channels that carry none of their stimulus with no fault or suspect on
/// their path to account for it.
pub(super) fn silent(ctx: &Context, faults: &[Fault], suspects: &[Suspect]) -> Vec<Missing> {
    let mut out = Vec::new();
    for (i, m) in ctx.m.iter().enumerate() {
        if !m.has_signal() {
            continue;
        }
        let ids = m.path.ids();
        let on_path = |c: &str| ids.contains(&c);
        let accounted = faults.iter().any(|f| on_path(&f.component) && silences(f.code.symptom, m.direction))
            || suspects.iter().any(|s| s.components.iter().any(|c| on_path(c)) && silences(s.symptom, m.direction));
        if accounted {
            continue;
        }
        let dead: Vec<usize> = (0..m.ears.len()).filter(|&e| m.driven(e) && !carries(ctx, i, e)).collect();
        if dead.is_empty() {
            continue;
        }
        let names: Vec<&str> = dead.iter().map(|&e| channel_name(m, e)).collect();
        let zeros = dead.iter().all(|&e| m.ears[e].digital_silence);
        let why = match (zeros, m.direction) {
            (true, Direction::Playback) => format!(
                "the ear couplers recorded exact digital zeros ({}): the bench's recorder gave nothing, so nothing was measured",
                names.join(", ")
            ),
            (true, _) => "the recording was exact digital zeros and no fault found explains it".to_string(),
            (false, _) => {
                format!("the {} carried none of the stimulus, and no fault found explains it", names.join(" and "))
            }
        };
        out.push(Missing::capture(&m.file, m.segment.as_ref().map(|w| w.id.as_str()), why));
    }
    out
}

fn channel_name(m: &Measured, ear: usize) -> &'static str {
    match (m.direction, ear) {
        (Direction::Playback, 0) => "left ear",
        (Direction::Playback, _) => "right ear",
        _ => "microphone",
    }
}

/// Step 4: the parts under test that no usable measurement went through (a headset: in each
/// direction the set measures headsets in). `missing`: what steps 1–3 found, which is not usable.
pub(super) fn untested_parts(set: &CaptureSet, ctx: &Context, missing: &[Missing]) -> Vec<Missing> {
    let lost: BTreeSet<(&str, Option<&str>)> =
        missing.iter().filter_map(|x| Some((x.file.as_deref()?, x.segment.as_deref()))).collect();
    let usable: Vec<&Measured> = ctx
        .m
        .iter()
        .filter(|m| m.has_signal())
        .filter(|m| {
            !lost.contains(&(m.file.as_str(), None))
                && !lost.contains(&(m.file.as_str(), m.segment.as_ref().map(|w| w.id.as_str())))
        })
        .collect();
    let planned = set.manifest.captures.iter().chain(&set.manifest.pending);
    let headset_directions: BTreeSet<&'static str> =
        planned.filter(|c| c.direction != Direction::Loopback).map(|c| c.direction.name()).collect();
    let mut out = Vec::new();
    for c in set.manifest.components.iter().filter(|c| !c.reference && c.kind != ComponentKind::Loopback) {
        let through = |d: Option<Direction>| {
            usable.iter().any(|m| m.path.ids().contains(&c.id.as_str()) && d.is_none_or(|d| m.direction == d))
        };
        let missing_in: Vec<(Direction, &str)> = if c.kind == ComponentKind::Headset {
            [(Direction::Playback, "its speakers were"), (Direction::Record, "its microphone was")]
                .into_iter()
                .filter(|(d, _)| headset_directions.contains(d.name()) && !through(Some(*d)))
                .collect()
        } else if !through(None) {
            vec![(Direction::Playback, "it was")]
        } else {
            Vec::new()
        };
        for (d, what) in missing_in {
            let why = if c.kind == ComponentKind::Headset {
                format!("no usable {} capture went through it: {what} not measured", d.name())
            } else {
                "no usable capture went through it: it was not measured".to_string()
            };
            out.push(Missing { file: None, segment: None, component: Some(c.id.clone()), why });
        }
    }
    out
}
