//! `jackbench faults`: what `run --fault` can inject, on which components of which rig.

use jackbench::diagnosis::{FaultCode, Symptom};
use jackbench::rig::file::BUILT_IN;
use jackbench::rig::RigFile;
use std::path::{Path, PathBuf};

use crate::Failure;

/// Prints the symptoms (with the component kinds each can live on) and, for the rig given or
/// every built-in rig, each component with the symptoms `--fault` may give it.
pub fn faults(rig: Option<&Path>) -> Result<u8, Failure> {
    let rigs: Vec<RigFile> = match rig {
        Some(p) => vec![RigFile::load(p)?],
        None => BUILT_IN.iter().map(|(name, text)| RigFile::parse(text, Path::new(name))).collect::<Result<_, _>>()?,
    };
    outln!("Faults the virtual bench injects: jackbench run --rig RIG --fault COMPONENT:SYMPTOM[:SEVERITY]");
    outln!("(SEVERITY mild, moderate (the default), severe, or 0..1; repeat --fault for several).");
    outln!();
    outln!("Symptoms:");
    for s in Symptom::ALL {
        let kinds: Vec<String> = s.kinds().iter().map(|k| with_article(k.name())).collect();
        let on = match kinds.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        };
        outln!("  {:<17} {}; on {on}", s.name(), s.describe());
    }
    for r in &rigs {
        outln!();
        let source: PathBuf = r.source.clone();
        outln!("{} ({}):", r.name, source.display());
        for c in &r.components {
            let symptoms: Vec<&str> =
                Symptom::ALL.iter().filter(|s| FaultCode::new(c.kind, **s).is_some()).map(|s| s.name()).collect();
            let label = c.label.as_deref().unwrap_or("");
            let reference = if c.reference { ", reference" } else { "" };
            if symptoms.is_empty() {
                outln!("  {:<17} {} ({}{reference}): bench equipment, no faults", c.id.get_ref(), label, c.kind);
            } else {
                outln!("  {:<17} {} ({}{reference}): {}", c.id.get_ref(), label, c.kind, symptoms.join(", "));
            }
        }
    }
    Ok(0)
}

/// "a port", "an adapter".
fn with_article(word: &str) -> String {
    let an = word.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {word}", if an { "an" } else { "a" })
}
