//! From measurements to a verdict: which component carries which fault (spec §3–4).
//!
//! # Method
//! 0. **The plug** (where the set has `[[plug]]` readings; [`electrical`]): what the meter
//!    measured is a fault of its own (`open_contact`, `short`, `button`), explains its sound, and
//!    settles look-alikes in step 4 (a plug that reads OMTP, an ear that reads whole).
//! 1. **Measure** every capture ([`measure`]).
//! 2. **Observe** each symptom on every capture that can show it: *shown* or *clean* (the tests
//!    live in `observe/`, one file per family: level, channels, gaps, spectrum). Some tests
//!    read one capture (no tone in either ear; one-sided drive reaching both ears in opposite
//!    polarity; a tone off in frequency), some compare a capture with its **peers**, the captures
//!    of the same class (direction, stimulus, drive, ear) through other paths: absolute gain is
//!    unknown, so a path is *low* when it is well below the best of its peers (faults lower
//!    levels; natural part-to-part spread is a dB or two), *noisy* when its floor is well above
//!    the quietest peer's.
//! 3. **Localise** each symptom by substitution ([`localise`]): the component of an allowed kind
//!    shared by the shown captures and absent from the clean ones. Symptoms are taken in order of
//!    dominance, and a fault found explains its captures for the symptoms after it (a pinout
//!    mismatch silences the microphone: that is not a second fault `input_dead`). Gaps are read
//!    one by one for their origin (`observe/gaps.rs`): exact zeros are lost samples, the driver's
//!    `dropouts`, localised first; a break on one line is a contact's `intermittent`; one on both
//!    ears at once with the noise going on is either (a driver's zero-filled buffer played out,
//!    or a worn sleeve both ears share): a driver's when its own recordings lost samples outright
//!    too, else a contact's, and substitution decides which: a contact's gaps stay on its paths.
//!    Reference parts are presumed good (`presume_references_good`).
//! 4. **Split** equivalents by signature: level lost in a driver *and* its jack is the driver's
//!    `low_gain` when the noise floor fell with the level (digital gain), the jack's `low_level`
//!    when it did not; gaps of unknown origin through a driver and a contact stay suspects. What
//!    still cannot be split is reported in `suspects`.
//! 5. **Rank** by confidence: the share of the component's testable captures that show the
//!    symptom, times how far past its threshold the measurement went.

mod account;
pub mod electrical;
mod evidence;
pub mod fault;
pub mod limit_tests;
pub mod localise;
pub mod measure;
mod observe;

pub use crate::capture::Limits;
pub use account::Missing;
pub use evidence::hz as hz_text;
pub use fault::{FaultCode, Symptom};
pub use limit_tests::{limit_tests, LimitTest};
pub use measure::{EarMeasure, Measured};
pub use observe::{DEAD_DB, NOISE_PEAK_DB};

use crate::capture::{CaptureSet, ComponentKind, Direction};
use localise::{localise, Evidence, Explanation, Testable};
use observe::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The `format` tag of the diagnosis JSON.
pub const DIAGNOSIS_FORMAT: &str = "jackbench-diagnosis/1";

/// One fault: where, what, how sure, and what to do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fault {
    pub component: String,
    pub code: FaultCode,
    /// The fault in words: "Customer's adapter: CTIA/OMTP pinout mismatch (mic and ground swapped)".
    pub title: String,
    pub confidence: f64,
    pub captures: Vec<String>,
    pub evidence: String,
    pub remedy: String,
}

/// Components the set cannot tell apart for a symptom; or reference parts that alone would
/// explain a symptom the other parts explain too (`presumed_good`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suspect {
    pub components: Vec<String>,
    pub symptom: Symptom,
    /// The suspicion in words: "Bench reference jack or Customer's adapter: no sound in either ear".
    pub title: String,
    pub evidence: String,
    /// Why they are suspects rather than a fault.
    pub why: SuspectWhy,
}

/// Why components are suspects rather than one of them a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SuspectWhy {
    /// They appear on exactly the same paths: the set cannot tell them apart.
    Inseparable,
    /// Reference parts that alone would explain the symptom, which the faults found explain as
    /// well.
    PresumedGood,
    /// The symptom showed where each of these parts measured clean on some other path: no one
    /// part explains it (how they meet, or a one-off).
    Unexplained,
}

impl Suspect {
    /// Why they are suspects, for a reader.
    pub fn why(&self) -> &'static str {
        match self.why {
            SuspectWhy::PresumedGood => "reference parts, presumed good: the faults above explain it as well",
            SuspectWhy::Inseparable => "the set cannot tell them apart",
            SuspectWhy::Unexplained => "no one part explains it: each measured clean on another path",
        }
    }

    /// What a technician does next.
    pub fn next_step(&self) -> &'static str {
        match self.why {
            SuspectWhy::PresumedGood => {
                "replace the parts found faulty and run again; if the symptom stays, check these reference parts"
            }
            SuspectWhy::Inseparable => "swap one of them for a known-good part and run again",
            SuspectWhy::Unexplained => {
                "reseat every plug of these paths and run again; if it stays, swap these parts for known-good ones one at a time"
            }
        }
    }
}

/// A capture's file and its measurements.
#[derive(Debug, Clone, Serialize)]
pub struct CaptureReport {
    pub file: String,
    pub measurements: Measured,
    /// The channels played to (or spoken to) that carried none of the stimulus (0 left or the
    /// microphone, 1 right): no signal, or only the residue a dead line leaves.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub silent: Vec<usize>,
}

/// Spec §4's object.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    pub format: &'static str,
    pub verdict: Verdict,
    pub faults: Vec<Fault>,
    pub suspects: Vec<Suspect>,
    /// (v1.2) The planned captures that were not measured, or were but showed nothing that any
    /// fault explains, and the parts under test no usable capture went through; each with why.
    pub missing: Vec<Missing>,
    pub captures: Vec<CaptureReport>,
}

/// Spec §4: `pass` only for a unit measured and good; `incomplete` when what was planned was not
/// all measured and nothing found fails the unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Incomplete,
}

impl Verdict {
    /// The verdict as the JSON and the results database spell it.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Incomplete => "incomplete",
        }
    }

    /// The verdict as a person reads it: PASS, FAIL, INCOMPLETE.
    pub fn shout(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Incomplete => "INCOMPLETE",
        }
    }
}

impl Diagnosis {
    /// What was measured, for a person: "23 captures measured", or "30 measurements from 9
    /// captures" when sequences were cut into segments.
    pub fn measured_summary(&self) -> String {
        let files: std::collections::HashSet<&str> = self.captures.iter().map(|c| c.file.as_str()).collect();
        match (self.captures.len(), files.len()) {
            (m, f) if m == f => format!("{f} captures measured"),
            (m, f) => format!("{m} measurements from {f} captures"),
        }
    }
}

/// Why a set could not be diagnosed.
#[derive(Debug, thiserror::Error)]
pub enum DiagnoseError {
    #[error("{}: the manifest lists no captures: nothing to diagnose", .0.display())]
    Empty(std::path::PathBuf),
}

/// Diagnoses a capture set. A capture that cannot be measured is no error: the diagnosis lists
/// it as missing (and is `incomplete` unless a fault is found).
pub fn diagnose(set: &CaptureSet, limits: &Limits) -> Result<Diagnosis, DiagnoseError> {
    if set.manifest.captures.is_empty() && set.manifest.pending.is_empty() {
        return Err(DiagnoseError::Empty(set.dir.join(crate::capture::manifest::MANIFEST_FILE)));
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let m = measure::measure_set(set, threads);
    Ok(diagnose_measured(set, m.measured, m.unmeasured, limits))
}

/// One symptom's observation on one capture.
#[derive(Debug, Clone)]
struct Obs {
    capture: usize,
    shown: bool,
    /// How far past the threshold, as a multiple of it (1 = at the threshold); 0 when clean.
    strength: f64,
    /// Independent occurrences in the capture (see [`localise::Testable::events`]).
    events: usize,
    /// A phrase for the evidence, e.g. "right ear silent".
    note: String,
}

/// The diagnosis of already measured captures (`unmeasured`: the captures that could not be).
pub fn diagnose_measured(
    set: &CaptureSet,
    measured: Vec<Measured>,
    unmeasured: Vec<measure::Unmeasured>,
    limits: &Limits,
) -> Diagnosis {
    let kinds: Kinds = set.manifest.components.iter().map(|c| (c.id.as_str(), (c.kind, c.reference))).collect();
    let labels: evidence::Labels =
        set.manifest.components.iter().map(|c| (c.id.as_str(), c.label.as_deref().unwrap_or(c.id.as_str()))).collect();
    let models: BTreeMap<&str, &str> =
        set.manifest.components.iter().filter_map(|c| Some((c.id.as_str(), c.model.as_deref()?))).collect();
    let mut faults: Vec<Fault> = Vec::new();
    let mut suspects: Vec<Suspect> = Vec::new();
    // (capture, symptom) pairs already explained by a fault found earlier.
    let mut explained: BTreeSet<(usize, Symptom)> = BTreeSet::new();
    // The plugs measured electrically: their faults first, as measurements, not inferences.
    let plugs = electrical::verdicts(set);
    let index = observe::Index::new(&measured);
    faults.extend(electrical::faults(&plugs, &measured, &labels, &mut explained));

    // Shown observations of deterministic symptoms that no part explained, by step; and each
    // step's clean observations (the evidence of what was normal).
    let mut unexplained: Vec<(&Step, Obs)> = Vec::new();
    let mut clean_seen: Vec<Vec<Obs>> = vec![Vec::new(); STEPS.len()];
    for step in STEPS {
        // What the earlier steps explained, as this step sees it.
        let before = explained.clone();
        let ctx = Context::new(&measured, limits, &before, &models, &index);
        let obs: Vec<Obs> =
            (step.observe)(&ctx).into_iter().filter(|o| !explained.contains(&(o.capture, step.symptom))).collect();
        if !obs.iter().any(|o| o.shown) {
            continue;
        }
        clean_seen[step_index(step)] = obs.iter().filter(|o| !o.shown).cloned().collect();
        let sided: Vec<Vec<String>> = obs
            .iter()
            .map(|o| {
                let comps = sided_components(&measured[o.capture]);
                if step.whole {
                    // Either side counts for the component as a whole.
                    let mut ids: Vec<String> = comps.iter().map(|c| format!("{}@out", split_side(c).0)).collect();
                    ids.dedup();
                    ids
                } else {
                    comps
                }
            })
            .collect();
        let tests: Vec<Testable> = obs
            .iter()
            .zip(&sided)
            .map(|(o, comps)| Testable {
                components: comps.iter().map(String::as_str).collect(),
                shown: o.shown,
                events: o.events,
            })
            .collect();
        let allowed = |sided: &str| {
            let (id, side) = split_side(sided);
            step.sides.contains(&side) && kinds.get(id).is_some_and(|(k, _)| step.blames(*k))
        };
        let (explanations, presumed_good) = presume_references_good(&tests, &allowed, step, &kinds);
        // The shown observations a fault or a suspect holds; the others are unexplained.
        let mut accounted = vec![false; obs.len()];
        for ex in &presumed_good {
            ex.covers.iter().for_each(|&i| accounted[i] = true);
            let covered: Vec<&Obs> = ex.covers.iter().map(|&i| &obs[i]).collect();
            let comps = unsided(&ex.components);
            let evidence = evidence::sentence(
                &labels,
                &measured,
                &Explanation { components: comps.clone(), ..ex.clone() },
                &covered,
                &obs,
            );
            if !suspects.iter().any(|s| s.components == comps && s.symptom == step.symptom) {
                let title = evidence::title(&labels, &comps, step.symptom.describe());
                suspects.push(Suspect {
                    components: comps,
                    symptom: step.symptom,
                    title,
                    evidence,
                    why: SuspectWhy::PresumedGood,
                });
            }
        }
        for mut ex in explanations {
            ex.components = unsided(&ex.components);
            let covered: Vec<&Obs> = ex.covers.iter().map(|&i| &obs[i]).collect();
            let resolved = match step.split {
                Some(split) => split(&ctx, &ex, &covered, &kinds),
                None => ex.components.iter().map(|c| (c.clone(), step.symptom)).collect(),
            };
            // What the plugs read settles what sound left open.
            let (mut resolved, plug_note) = electrical::sort_by_plug(&plugs, &labels, step.symptom, resolved);
            // Prefer the parts that are not known-good when the set cannot separate them.
            if resolved.len() > 1 {
                let non_ref: Vec<(String, Symptom)> =
                    resolved.iter().filter(|(c, _)| !kinds.get(c.as_str()).is_some_and(|k| k.1)).cloned().collect();
                if !non_ref.is_empty() {
                    resolved = non_ref;
                }
            }
            let mut evidence = evidence::sentence(&labels, &measured, &ex, &covered, &obs);
            if let Some(note) = plug_note {
                evidence = format!("{evidence} And {note}.");
            }
            let mut files: Vec<String> = Vec::new();
            for o in &covered {
                let f = &measured[o.capture].file;
                if !files.contains(f) {
                    files.push(f.clone());
                }
            }
            if resolved.len() == 1 {
                let (component, symptom) = resolved.remove(0);
                let Some(kind) = kinds.get(component.as_str()).map(|k| k.0) else { continue };
                let Some(code) = FaultCode::new(kind, symptom) else { continue };
                ex.covers.iter().for_each(|&i| accounted[i] = true);
                let strength = covered.iter().map(|o| o.strength).sum::<f64>() / covered.len().max(1) as f64;
                let share = ex.hits as f64 / (ex.hits + ex.misses).max(1) as f64;
                let confidence = (0.5 + 0.45 * share * (strength / 2.0).min(1.0)).clamp(0.0, 0.99);
                for o in &covered {
                    for s in step.explains {
                        explained.insert((o.capture, *s));
                    }
                    explained.insert((o.capture, step.symptom));
                }
                // The same fault's other captures (not shown for this test) are explained too.
                explain_component(&measured, &component, step.explains, &mut explained);
                if let Some(f) = faults.iter_mut().find(|f| f.component == component && f.code == code) {
                    f.captures.extend(files);
                    continue;
                }
                faults.push(Fault {
                    title: evidence::title(&labels, std::slice::from_ref(&component), code.symptom.describe()),
                    component,
                    code,
                    confidence: (confidence * 100.0).round() / 100.0,
                    captures: files,
                    evidence,
                    remedy: evidence::remedy(code, &measured, &covered),
                });
            } else if !resolved.is_empty() {
                ex.covers.iter().for_each(|&i| accounted[i] = true);
                for o in &covered {
                    explained.insert((o.capture, step.symptom));
                }
                let symptom = resolved[0].1;
                let comps: Vec<String> = resolved.into_iter().map(|(c, _)| c).collect();
                if !suspects.iter().any(|s| s.components == comps && s.symptom == symptom) {
                    let title = evidence::title(&labels, &comps, symptom.describe());
                    suspects.push(Suspect {
                        components: comps,
                        symptom,
                        title,
                        evidence,
                        why: SuspectWhy::Inseparable,
                    });
                }
            }
        }
        // A deterministic symptom of something lacking, shown where no part explains it: kept
        // for after the last step, when a fault found later may explain it still. Meanwhile the
        // capture is no normal peer for this symptom and what it makes meaningless. (Added sound
        // on a capture whose parts measured clean elsewhere is what room sound or a knock does:
        // like a single gap, it is no evidence against a part.)
        if step.tolerance == 0.0 && !step.symptom.adds_sound() {
            for o in obs.iter().zip(&accounted).filter(|(o, a)| o.shown && !**a).map(|(o, _)| o) {
                explained.insert((o.capture, step.symptom));
                explained.extend(step.explains.iter().map(|s| (o.capture, *s)));
                unexplained.push((step, o.clone()));
            }
        }
    }
    // What is still unexplained when every step has run: every part of those paths measured
    // clean on some other path (a plug not home, a jack that does not sense this headset, a
    // one-off). Not dropped: a suspect, with what it showed.
    for step in STEPS {
        let left: Vec<&Obs> = unexplained
            .iter()
            .filter(|(s, o)| std::ptr::eq(*s, step) && !account::held(&measured[o.capture], step, &faults))
            .map(|(_, o)| o)
            .collect();
        for group in account::group_unexplained(&measured, &kinds, &left) {
            if suspects.iter().any(|s| s.components == group.components && s.symptom == step.symptom) {
                continue;
            }
            let all = unexplained.iter().filter(|(s, _)| std::ptr::eq(*s, step)).map(|(_, o)| o.clone());
            let clean: Vec<Obs> = clean_seen[step_index(step)].iter().cloned().chain(all).collect();
            suspects.push(Suspect {
                title: evidence::title(&labels, &group.components, step.symptom.describe()),
                evidence: evidence::unexplained(&labels, &measured, &group.components, &group.observations, &clean),
                components: group.components,
                symptom: step.symptom,
                why: SuspectWhy::Unexplained,
            });
        }
    }
    faults.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    let ctx = Context::new(&measured, limits, &explained, &models, &index);
    let mut missing = account::unmeasured(set, unmeasured);
    missing.extend(account::silent(&ctx, &faults, &suspects));
    missing.extend(account::untested_parts(set, &ctx, &missing));
    let silent: Vec<Vec<usize>> = (0..measured.len())
        .map(|i| {
            let m = &measured[i];
            (0..m.ears.len()).filter(|&e| m.has_signal() && m.driven(e) && !observe::carries(&ctx, i, e)).collect()
        })
        .collect();
    let verdict = if !(faults.is_empty() && suspects.is_empty()) {
        Verdict::Fail
    } else if !missing.is_empty() {
        Verdict::Incomplete
    } else {
        Verdict::Pass
    };
    Diagnosis {
        format: DIAGNOSIS_FORMAT,
        verdict,
        faults,
        suspects,
        missing,
        captures: measured
            .into_iter()
            .zip(silent)
            .map(|(m, silent)| CaptureReport { file: m.file.clone(), measurements: m, silent })
            .collect(),
    }
}

/// A step's place in [`STEPS`].
fn step_index(step: &Step) -> usize {
    STEPS.iter().position(|s| std::ptr::eq(s, step)).unwrap_or(0)
}

/// Localises a step's symptom with the reference parts presumed good. An explanation that blames
/// only reference parts stands only when the other parts cannot explain the same captures as
/// well: with no clean capture through them (a deterministic symptom) and with no more faults
/// in all. When they can, they are blamed instead and the reference parts are returned apart,
/// to be named among the suspects. (A dead customer adapter and a dead customer headset on the
/// bench jack's two paths: the bench jack and the headset would explain it, and so do the adapter
/// and the headset. A dead reference adapter on every path stays one fault, not a jack and a
/// headset.) Random symptoms are left to the fit: their clean captures do not rule a part out.
fn presume_references_good(
    tests: &[Testable],
    allowed: &dyn Fn(&str) -> bool,
    step: &Step,
    kinds: &Kinds,
) -> (Vec<Explanation>, Vec<Explanation>) {
    let reference = |sided: &str| kinds.get(split_side(sided).0).is_some_and(|k| k.1);
    let found = localise(tests, allowed, step.tolerance, step.need);
    if step.tolerance > 0.0 {
        return (found, Vec::new());
    }
    let (mut out, mut presumed) = (Vec::new(), Vec::new());
    for (n, ex) in found.iter().enumerate() {
        if !ex.components.iter().all(|c| reference(c)) {
            out.push(ex.clone());
            continue;
        }
        // The same captures, with the shown ones this explanation does not cover left out.
        let only: Vec<Testable> = tests
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if t.shown && !ex.covers.contains(&i) {
                    Testable { components: Vec::new(), shown: false, events: 0 }
                } else {
                    t.clone()
                }
            })
            .collect();
        let others = localise(&only, |c| allowed(c) && !reference(c), 0.0, step.need);
        let covers_all = others.iter().map(|o| o.covers.len()).sum::<usize>() == ex.covers.len();
        // Parts the other explanations of this step do not blame already.
        let blamed_elsewhere = |o: &Explanation| {
            found.iter().enumerate().any(|(k, f)| k != n && f.components.iter().any(|c| o.components.contains(c)))
        };
        let new_faults = others.iter().filter(|o| !blamed_elsewhere(o)).count();
        if covers_all && new_faults <= 1 {
            out.extend(others);
            presumed.push(ex.clone());
        } else {
            out.push(ex.clone());
        }
    }
    (out, presumed)
}

/// Which side of a component a signal crosses: its output (towards the ears) or its input
/// (from the microphone). The two fail independently: a speaker distorts, the microphone of the
/// same headset does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Out,
    In,
}

const OUT: &[Side] = &[Side::Out];
const IN: &[Side] = &[Side::In];
const BOTH: &[Side] = &[Side::Out, Side::In];

/// A capture's components, each with the side it used: `id@out` or `id@in` (a loopback capture
/// crosses the driver, port and adapter both ways; its plug is bench equipment).
fn sided_components(m: &Measured) -> Vec<String> {
    let ids = m.path.ids();
    match m.direction {
        Direction::Playback => ids.iter().map(|id| format!("{id}@out")).collect(),
        Direction::Record => ids.iter().map(|id| format!("{id}@in")).collect(),
        Direction::Loopback => ids[..3].iter().flat_map(|id| [format!("{id}@out"), format!("{id}@in")]).collect(),
    }
}

/// Back from sides to components: `["hda@out", "hda@in", "dut@out"]` → `["hda", "dut"]`.
fn unsided(sided: &[String]) -> Vec<String> {
    let mut ids: Vec<String> = sided.iter().map(|c| split_side(c).0.to_string()).collect();
    ids.dedup();
    ids
}

fn split_side(sided: &str) -> (&str, Side) {
    match sided.rsplit_once('@') {
        Some((id, "in")) => (id, Side::In),
        Some((id, _)) => (id, Side::Out),
        None => (sided, Side::Out),
    }
}

fn explain_component(
    measured: &[Measured],
    component: &str,
    symptoms: &[Symptom],
    explained: &mut BTreeSet<(usize, Symptom)>,
) {
    for (i, m) in measured.iter().enumerate() {
        if m.path.ids().contains(&component) {
            for s in symptoms {
                explained.insert((i, *s));
            }
        }
    }
}

/// Each component's kind and whether it is a reference part, by id.
type Kinds<'a> = BTreeMap<&'a str, (ComponentKind, bool)>;

/// Turns a localised group of equivalent components into `(component, symptom)` pairs.
type Split = fn(&Context, &Explanation, &[&Obs], &Kinds) -> Vec<(String, Symptom)>;

/// What the symptom tests read.
struct Context<'a> {
    m: &'a [Measured],
    limits: &'a Limits,
    /// (capture, symptom) pairs a fault found earlier explains: such captures are no peers
    /// for that symptom (a path with a known fault does not define what is normal).
    explained: &'a BTreeSet<(usize, Symptom)>,
    /// Component id → product model, where the manifest names one.
    models: &'a BTreeMap<&'a str, &'a str>,
    /// The set's classes and levels, found once for every step.
    index: &'a observe::Index,
    /// Each capture's level deficit and whether it kept its level, found once per step (they
    /// depend on what the earlier steps explained).
    deficits: std::cell::OnceCell<Vec<Option<f64>>>,
    kept: std::cell::OnceCell<Vec<bool>>,
}

impl<'a> Context<'a> {
    fn new(
        m: &'a [Measured],
        limits: &'a Limits,
        explained: &'a BTreeSet<(usize, Symptom)>,
        models: &'a BTreeMap<&'a str, &'a str>,
        index: &'a observe::Index,
    ) -> Context<'a> {
        Context { m, limits, explained, models, index, deficits: Default::default(), kept: Default::default() }
    }

    /// Whether capture `j` may stand as a normal peer for `symptom`.
    fn peer(&self, j: usize, symptom: Symptom) -> bool {
        !self.explained.contains(&(j, symptom))
    }

    /// The golden units' limits that hold the capture's headset: those of its model.
    fn golden_for(&self, m: &Measured) -> Option<&crate::capture::GoldenLimits> {
        let g = self.limits.golden.as_ref()?;
        (self.models.get(m.path.headset.as_str()) == Some(&g.model.as_str())).then_some(g)
    }

    /// Whether two captures' responses may be held to the full mask: the same headset (or none),
    /// or headsets the manifest names as one model. Headsets of different or unknown models are
    /// voiced differently (a presence peak here, a dip there) and are compared with
    /// [`CROSS_MODEL_DB`] to spare.
    fn same_voicing(&self, a: &Measured, b: &Measured) -> bool {
        let (ha, hb) = (a.path.headset.as_str(), b.path.headset.as_str());
        ha == hb || self.models.get(ha).zip(self.models.get(hb)).is_some_and(|(x, y)| x == y)
    }
}

/// A step of the diagnosis: one symptom, or a family of look-alikes that one test observes
/// and a signature splits, in dominance order.
struct Step {
    /// The symptom observed; the first of `family`.
    symptom: Symptom,
    /// The symptoms the step can conclude (e.g. `low_level` and the driver's `low_gain`); the
    /// component kinds it may blame are theirs, from spec §3's table.
    family: &'static [Symptom],
    /// The sides of a component the symptom can show on.
    sides: &'static [Side],
    /// The symptom belongs to the component as a whole, not to one side (a worn contact breaks
    /// the speaker and the microphone lines alike, at random moments).
    whole: bool,
    /// Largest share of clean captures a candidate may have (random symptoms do not show on
    /// every capture).
    tolerance: f64,
    /// What a candidate must show at least.
    need: Evidence,
    observe: fn(&Context) -> Vec<Obs>,
    /// From the equivalent candidates to `(component, symptom)` pairs (one, or several =
    /// suspects); `None`: every candidate with the step's symptom.
    split: Option<Split>,
    /// Symptoms that the fault makes meaningless on the same component's captures.
    explains: &'static [Symptom],
}

impl Step {
    /// A step for one symptom with no signature split, no tolerance and nothing it explains.
    const fn of(symptom: &'static [Symptom; 1], sides: &'static [Side], observe: fn(&Context) -> Vec<Obs>) -> Step {
        Step {
            symptom: symptom[0],
            family: symptom,
            sides,
            whole: false,
            tolerance: 0.0,
            need: Evidence::ONE,
            observe,
            split: None,
            explains: &[],
        }
    }

    /// Whether a component of `kind` may carry what this step concludes.
    fn blames(&self, kind: ComponentKind) -> bool {
        kind != ComponentKind::Loopback && self.family.iter().any(|s| s.kinds().contains(&kind))
    }
}

use Symptom as S;

const STEPS: &[Step] = &[
    Step {
        explains: &[S::InputDead, S::LowGain, S::Dropouts, S::Intermittent, S::Noise, S::Hum],
        ..Step::of(&[S::DigitalSilence], IN, observe_digital_silence)
    },
    Step {
        explains: &[
            S::InputDead,
            S::OutputDead,
            S::ChannelDead,
            S::Polarity,
            S::ChannelSwap,
            S::Imbalance,
            S::LowLevel,
            S::Response,
        ],
        ..Step::of(&[S::PinoutMismatch], OUT, observe_pinout)
    },
    Step {
        explains: &[S::ChannelDead, S::InputDead, S::Polarity, S::ChannelSwap, S::Imbalance, S::LowLevel, S::Response],
        ..Step::of(&[S::OutputDead], OUT, observe_output_dead)
    },
    Step { explains: &[S::LowLevel, S::Response, S::LowGain], ..Step::of(&[S::InputDead], IN, observe_input_dead) },
    Step {
        explains: &[S::Imbalance, S::Polarity, S::ChannelSwap, S::LowLevel, S::Response],
        ..Step::of(&[S::ChannelDead], OUT, observe_channel_dead)
    },
    // A swap moves one-sided drive to the other ear (its level is lost there), but leaves the
    // balance of drive = both as it was: an imbalance beside it is a fault of its own.
    Step { explains: &[S::LowLevel], ..Step::of(&[S::ChannelSwap], OUT, observe_channel_swap) },
    Step::of(&[S::Polarity], OUT, observe_polarity),
    // A sweep played at the wrong rate is another sweep: its response is no measurement.
    Step { explains: &[S::Response], ..Step::of(&[S::RateMismatch], BOTH, observe_rate) },
    // Gaps are random: a faulty part shows them in some captures only, while healthy parts
    // practically never do, so two shown captures are enough, or three gaps in one (a single gap
    // may be a glitch). Lost samples first: the driver's dropouts then explain the gaps of
    // unknown origin on its captures, and the analog breaks beside them are a contact's.
    Step {
        whole: true,
        tolerance: 0.9,
        need: Evidence { captures: 2, events: 3 },
        explains: &[S::Dropouts, S::Distortion, S::RubBuzz, S::LowLevel, S::Response, S::Imbalance],
        ..Step::of(&[S::Dropouts], BOTH, observe_digital_gaps)
    },
    Step {
        family: &[S::Intermittent, S::Dropouts],
        whole: true,
        tolerance: 0.9,
        need: Evidence { captures: 2, events: 3 },
        split: Some(split_gaps),
        explains: &[S::Dropouts, S::Distortion, S::RubBuzz, S::LowLevel, S::Response, S::Imbalance],
        ..Step::of(&[S::Intermittent], BOTH, observe_analog_gaps)
    },
    Step {
        family: &[S::LowLevel, S::LowGain],
        split: Some(split_level),
        explains: &[S::Noise],
        ..Step::of(&[S::LowLevel], BOTH, observe_low_level)
    },
    Step::of(&[S::Imbalance], OUT, observe_imbalance),
    // A distorting path compresses the sweep where it is loudest: its response is no measurement.
    // A path that distorts a 1 kHz tone has high-order residual too: rub & buzz is what THD misses.
    Step { explains: &[S::Response, S::RubBuzz], ..Step::of(&[S::Distortion], BOTH, observe_distortion) },
    Step::of(&[S::RubBuzz], OUT, observe_rub_buzz),
    Step::of(&[S::Response], BOTH, observe_response),
    Step { explains: &[S::Noise], ..Step::of(&[S::Hum], BOTH, observe_hum) },
    Step::of(&[S::Noise], BOTH, observe_noise),
];

/// Look-alikes split between a driver and the other parts: the driver's `on_driver` when only
/// drivers are candidates or the signature says so (`Some(true)`), the others' `on_others` when
/// only they are or it says no; with no signature, every candidate (suspects).
fn split_driver(
    ex: &Explanation,
    kinds: &Kinds,
    on_driver: Symptom,
    on_others: Symptom,
    signature: impl FnOnce() -> Option<bool>,
) -> Vec<(String, Symptom)> {
    let is_driver = |c: &String| kinds.get(c.as_str()).is_some_and(|k| k.0 == ComponentKind::Driver);
    let (drivers, others): (Vec<&String>, Vec<&String>) = ex.components.iter().partition(|c| is_driver(c));
    let blame = |v: Vec<&String>, s: Symptom| v.into_iter().map(|c| (c.clone(), s)).collect();
    match (drivers.is_empty(), others.is_empty()) {
        (true, _) => blame(others, on_others),
        (false, true) => blame(drivers, on_driver),
        (false, false) => match signature() {
            Some(true) => blame(drivers, on_driver),
            Some(false) => blame(others, on_others),
            None => ex.components.iter().map(|c| (c.clone(), on_others)).collect(),
        },
    }
}

/// Level loss: a driver's is `low_gain`, anything else's `low_level`; a driver and a jack that
/// cannot be separated are told apart by the noise floor of the low captures.
fn split_level(ctx: &Context, ex: &Explanation, _: &[&Obs], kinds: &Kinds) -> Vec<(String, Symptom)> {
    split_driver(ex, kinds, Symptom::LowGain, Symptom::LowLevel, || noise_follows_level(ctx, &ex.components))
}

/// Whether the noise floors of the low record-side captures through `components` fell with
/// their level (digital gain: the noise passes through the driver's gain too). `None` without
/// such captures.
fn noise_follows_level(ctx: &Context, components: &[String]) -> Option<bool> {
    let mut votes = Vec::new();
    for (i, m) in ctx.m.iter().enumerate() {
        if m.direction == Direction::Playback || !components.iter().any(|c| m.path.ids().contains(&c.as_str())) {
            continue;
        }
        let Some(deficit) = level_deficit(ctx, i).filter(|d| *d >= ctx.limits.level_drop_max_db * DETECT) else {
            continue;
        };
        let Some(floor_drop) = noise_drop(ctx, i) else { continue };
        votes.push(floor_drop > deficit / 2.0);
    }
    if votes.is_empty() {
        return None;
    }
    Some(votes.iter().filter(|v| **v).count() * 2 > votes.len())
}

/// Gaps the digital test left: a contact's `intermittent` when any of them was an analog break;
/// when all could have been either, a driver and the other parts stay suspects together.
fn split_gaps(ctx: &Context, ex: &Explanation, covered: &[&Obs], kinds: &Kinds) -> Vec<(String, Symptom)> {
    let analog = covered.iter().any(|o| gap_origins(&ctx.m[o.capture]).analog > 0);
    split_driver(ex, kinds, Symptom::Dropouts, Symptom::Intermittent, || if analog { Some(false) } else { None })
}
