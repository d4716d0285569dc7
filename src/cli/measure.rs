//! What `analyze` and `diagnose` print for a person: the measurement table of a recording, and a
//! verdict with its faults, evidence and fixes.

use jackbench::analysis::{Analysis, ChannelAnalysis};
use jackbench::diagnosis::{Diagnosis, Verdict};

pub(crate) fn print_diagnosis(dir: &std::path::Path, d: &Diagnosis, limits: &jackbench::capture::Limits) {
    outln!("{}: {} ({})", dir.display(), d.verdict.shout(), d.measured_summary());
    for (i, f) in d.faults.iter().enumerate() {
        outln!();
        outln!("{}. {}", i + 1, f.title);
        outln!("   code:     {} on {} (confidence {:.0} %)", f.code, f.component, 100.0 * f.confidence);
        outln!("   evidence: {}", f.evidence);
        outln!("   fix:      {}", f.remedy);
    }
    for s in &d.suspects {
        outln!();
        outln!("suspects: {}", s.title);
        outln!("   code:     {} on one of {} ({})", s.symptom, s.components.join(", "), s.why());
        outln!("   evidence: {}", s.evidence);
        outln!("   next:     {}", s.next_step());
    }
    if !d.missing.is_empty() {
        outln!();
        if d.verdict == Verdict::Incomplete {
            outln!("not measured (the unit cannot pass until these are):");
        } else {
            outln!("not measured:");
        }
        for m in &d.missing {
            outln!("   ? {}: {}", m.place(), m.why);
        }
    }
    // The captures (a sequence's segments each) whose own values are out, with what is out.
    let out: Vec<(String, Vec<String>)> = d
        .captures
        .iter()
        .map(|c| (c.measurements.place(), jackbench::report::out_marks(c, limits)))
        .filter(|(_, marks)| !marks.is_empty())
        .collect();
    if !out.is_empty() {
        outln!();
        outln!("captures out of their limits:");
        for (file, marks) in out {
            outln!("   ✗ {file}: {}", marks.join("; "));
        }
    }
}

pub(crate) fn opt(v: Option<f64>, digits: usize, unit: &str) -> String {
    v.map_or_else(|| "—".to_string(), |v| format!("{v:.digits$} {unit}"))
}

/// One row of the analysis table: its label and how a channel's value is shown.
type Row = (&'static str, fn(&ChannelAnalysis) -> String);

pub(crate) fn print_analysis(file: &std::path::Path, a: &Analysis) {
    outln!("{}: {} Hz, {} channel(s), {:.3} s", file.display(), a.sample_rate, a.channels.len(), a.duration_s);
    let names = ["left", "right"];
    let rows: [Row; 15] = [
        ("frequency", |c| opt(c.frequency_hz, 4, "Hz")),
        ("level", |c| opt(c.level_dbfs, 3, "dBFS")),
        ("THD", |c| match c.thd_floor_percent {
            Some(floor) => format!("below the noise, < {floor:.3} %"),
            None => opt(c.thd_percent, 4, "%"),
        }),
        ("THD+N", |c| opt(c.thd_n_db, 2, "dB")),
        ("noise floor", |c| format!("{:.2} dBFS", c.noise_floor_dbfs)),
        ("hum", |c| match (c.hum_dbfs, c.hum_mains_hz) {
            (Some(h), Some(m)) => format!("{h:.2} dBFS ({m:.0} Hz)"),
            _ => "none".into(),
        }),
        ("DC offset", |c| format!("{:+.6}", c.dc_offset)),
        ("dropouts", |c| list(&c.dropouts, |d| format!("{:.4} s ({:.1} ms)", d.at_s, d.ms))),
        ("level steps", |c| list(&c.level_steps, |s| format!("{:.3} s ({:+.1} dB)", s.at_s, s.db))),
        ("outside tone", |c| list(&c.outside_events, |e| format!("{:.3} s ({:.0} ms)", e.at_s, e.ms))),
        ("sound over it", |c| list(&c.disturbances, |e| format!("{:.3} s ({:.0} ms)", e.at_s, e.ms))),
        ("clipped", |c| yes_no(c.clipped)),
        ("digital silence", |c| yes_no(c.digital_silence)),
        ("tone found", |c| yes_no(c.tone_present)),
        ("steady part", |c| format!("{:.3}–{:.3} s", c.steady_start_s, c.steady_end_s)),
    ];
    out!("{:<16}", "");
    for (i, _) in a.channels.iter().enumerate() {
        out!("{:<26}", if a.channels.len() == 1 { "mono" } else { names.get(i).copied().unwrap_or("?") });
    }
    outln!();
    for (label, f) in rows {
        out!("{label:<16}");
        for c in &a.channels {
            out!("{:<26}", f(c));
        }
        outln!();
    }
    if let Some(st) = &a.stereo {
        if let (Some(b), Some(p), Some(inv)) = (st.balance_db, st.phase_deg, st.inverted) {
            let polarity = if inv { "inverted" } else { "same" };
            outln!("{:<16}{b:+.2} dB (left − right), phase {p:+.1}°, polarity {polarity}", "balance");
        }
        if let Some(x) = st.crosstalk_db {
            outln!("{:<16}{x:.1} dB", "crosstalk");
        }
    }
}

/// Events as a comma-separated list, or "none".
fn list<T>(items: &[T], show: impl Fn(&T) -> String) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.iter().map(show).collect::<Vec<_>>().join(", ")
    }
}

pub(crate) fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}
