//! A summary of stored results, as text for the terminal and as a self-contained HTML page with
//! plots: yield per bench, a Pareto of fault codes, and each quantity's histogram per bench
//! against its limits.

use super::store::{Filter, Summary};
use crate::report::plot;
use base64::Engine;
use maud::{html, PreEscaped, DOCTYPE};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The summary as text.
pub fn text(s: &Summary, filter: &Filter) -> String {
    let mut out = String::new();
    let scope = match (&filter.model, filter.since_ms) {
        (Some(m), Some(t)) => format!(" (model {m}, since {})", super::store::rfc3339(t)),
        (Some(m), None) => format!(" (model {m})"),
        (None, Some(t)) => format!(" (since {})", super::store::rfc3339(t)),
        (None, None) => String::new(),
    };
    let _ = writeln!(out, "{} units tested, {} passed: yield {:.1} %{scope}", s.units, s.passed, s.yield_percent());
    if let (Some(a), Some(b)) = (&s.first_tested_at, &s.last_tested_at) {
        let _ = writeln!(out, "tested from {a} to {b}");
    }
    if s.units == 0 {
        return out;
    }
    let _ = writeln!(out, "\nper bench:");
    for b in &s.benches {
        let mut time = String::new();
        if let (Some(t), Some(per_hour)) = (b.bench_s, b.units_per_hour()) {
            time += &format!("  {t:>5.2} s of bench time per unit: {per_hour:>6.0} units/hour");
        }
        if let Some(e) = b.elapsed_s {
            time += &format!(" (wall clock {e:.2} s per unit)");
        }
        let _ = writeln!(
            out,
            "  {:<24} {:>8} units {:>8} passed  {:>5.1} %{time}",
            b.bench,
            b.units,
            b.passed,
            b.yield_percent()
        );
    }
    if !s.pareto.is_empty() {
        let _ = writeln!(out, "\nfaults (Pareto, share of failed units):");
        for p in &s.pareto {
            let _ = writeln!(
                out,
                "  {:<32} {:>8} units {:>6.1} %  (cumulative {:>5.1} %)",
                p.code, p.units, p.percent, p.cumulative_percent
            );
        }
    }
    let _ = writeln!(out, "\nmeasurements (per bench):");
    let _ = writeln!(
        out,
        "  {:<22} {:<16} {:>6} {:>6} {:>9} {:>8} {:>9} {:>9} {:>19} {:>9}",
        "quantity", "bench", "units", "n", "mean", "sd", "min", "max", "limits", "units out"
    );
    for sp in &s.spreads {
        let limits = super::record::limits_text(sp.limit_low, sp.limit_high);
        let _ = writeln!(
            out,
            "  {:<22} {:<16} {:>6} {:>6} {:>9.2} {:>8.2} {:>9.2} {:>9.2} {:>19} {:>9}  {}",
            sp.quantity,
            sp.bench,
            sp.units,
            sp.count,
            sp.mean,
            sp.sd,
            sp.min,
            sp.max,
            limits,
            sp.units_outside,
            sp.unit
        );
    }
    let _ = writeln!(
        out,
        "  units: units with the quantity; n: its measurements (one per port or path a unit was tested on);\n  \
         units out: units with a measurement outside its limits. A unit whose fault hides a quantity (a dead\n  \
         microphone has no gain) has none of it, so the counts differ between quantities."
    );
    out
}

/// Why the summary page could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    #[error("{}: cannot write: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Plot(#[from] plot::PlotError),
}

/// Writes `summary.html` (plots inlined) into `dir`, with its PNG plots beside it; the page's path.
pub fn write_html(s: &Summary, filter: &Filter, dir: &Path) -> Result<PathBuf, SummaryError> {
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SummaryError::Write { path: path.clone(), source }
    };
    std::fs::create_dir_all(dir).map_err(write_err(dir))?;
    let mut figures: Vec<(PathBuf, String)> = Vec::new();
    let yield_png = dir.join("summary-yield.png");
    let rows: Vec<(String, f64)> =
        s.benches.iter().map(|b| (format!("{} ({} units)", b.bench, b.units), b.yield_percent())).collect();
    plot::bars(&yield_png, "Yield per bench", "% of units passed", &rows, 100.0, None)?;
    figures.push((yield_png, "Yield per bench".into()));
    if !s.pareto.is_empty() {
        let png = dir.join("summary-pareto.png");
        let rows: Vec<(String, f64)> = s.pareto.iter().map(|p| (p.code.clone(), p.percent)).collect();
        let cumulative: Vec<f64> = s.pareto.iter().map(|p| p.cumulative_percent).collect();
        plot::bars(&png, "Fault codes (Pareto)", "% of failed units", &rows, 100.0, Some(&cumulative))?;
        figures.push((png, "Fault codes: share of failed units, running total in red".into()));
    }
    for h in &s.histograms {
        let png = dir.join(format!("summary-{}.png", h.quantity));
        let series: Vec<(String, Vec<i64>)> = h.counts.iter().map(|(b, c)| (b.clone(), c.clone())).collect();
        plot::histogram(&png, &h.quantity, &h.unit, h.lo, h.bin_width, &series, (h.limit_low, h.limit_high))?;
        figures.push((png, format!("{} per bench; limits in red", h.quantity)));
    }
    let mut images = Vec::new();
    for (f, caption) in &figures {
        let bytes = std::fs::read(f).map_err(write_err(f))?;
        images.push((base64::engine::general_purpose::STANDARD.encode(bytes), caption.clone()));
    }
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "jackbench summary" }
                style { (PreEscaped(CSS)) }
            }
            body {
                h1 { "Yield " (format!("{:.1} %", s.yield_percent())) ": " (s.passed) " of " (s.units) " units passed" }
                pre { (text(s, filter)) }
                @for (data, caption) in &images {
                    figure {
                        img src=(format!("data:image/png;base64,{data}")) alt=(caption);
                        figcaption { (caption) }
                    }
                }
                footer { "jackbench " (env!("CARGO_PKG_VERSION")) }
            }
        }
    };
    let path = dir.join("summary.html");
    std::fs::write(&path, page.into_string()).map_err(write_err(&path))?;
    Ok(path)
}

const CSS: &str = r#"
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 1.5em auto; max-width: 1000px; color: #222; }
pre { background: #f6f6f6; padding: .8em; overflow-x: auto; font-size: .85em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: .9em; }
footer { color: #888; font-size: .8em; margin-top: 2em; }
"#;
