//! The report of a monitor's run (`jackbench monitor`): a self-contained `report.html` in its
//! directory with the verdict, the counts per line, the technician's marks with the events under
//! each, and the level, THD, noise floor and events of every line over the run's time.

use super::{plot, ReportError, CSS};
use crate::monitor::soak::{SecondRow, Summary};
use crate::monitor::Mark;
use base64::Engine;
use maud::{html, PreEscaped, DOCTYPE};
use std::path::{Path, PathBuf};

/// Writes `dir/report.html` (its plots as PNG beside it, and inlined).
pub fn write(
    dir: &Path,
    summary: &Summary,
    names: &[String],
    rows: &[SecondRow],
    marks: &[Mark],
) -> Result<PathBuf, ReportError> {
    let marks_at: Vec<(f64, String)> = marks.iter().map(|m| (m.t_s, m.text.clone())).collect();
    let event_seconds: Vec<f64> =
        rows.iter().filter(|r| r.lines.iter().any(|l| l.events > 0)).map(|r| f64::from(r.t_s)).collect();
    let series = |pick: &dyn Fn(&crate::monitor::soak::LineRow) -> Option<f32>| -> Vec<(&str, Vec<(f64, f64)>)> {
        names
            .iter()
            .enumerate()
            .map(|(k, n)| {
                let pts = rows
                    .iter()
                    .filter_map(|r| r.lines.get(k).and_then(pick).map(|v| (f64::from(r.t_s), f64::from(v))))
                    .collect();
                (n.as_str(), pts)
            })
            .collect()
    };
    let figures = [
        ("level.png", "Level of each line's tone", "Level (dBFS)", series(&|l| l.level_dbfs)),
        ("thd.png", "THD of each line", "THD (%)", series(&|l| l.thd_percent)),
        ("noise.png", "Noise floor of each line (events left out)", "Noise (dBFS)", series(&|l| Some(l.noise_dbfs))),
        ("events.png", "Events per second", "Events", series(&|l| Some(l.events as f32))),
    ];
    let mut images = Vec::new();
    for (file, title, y, s) in &figures {
        let path = dir.join(file);
        plot::over_time(&path, title, y, s, &marks_at, &event_seconds)?;
        let bytes = std::fs::read(&path).map_err(|source| ReportError::Write { path: path.clone(), source })?;
        images.push((base64::engine::general_purpose::STANDARD.encode(bytes), *title));
    }
    let v = &summary.verdict;
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "jackbench monitor" }
                style { (PreEscaped(CSS)) }
            }
            body {
                header class=(if v.pass { "verdict pass" } else { "verdict fail" }) {
                    h1 { (if v.pass { "PASS" } else { "FAIL" }) ": " (format!("{:.1} s watched", summary.seconds)) }
                    @for f in &v.findings { p { (f) } }
                    @if !v.suspects.is_empty() { p { "Suspects, most likely first: " (v.suspects.join(", ")) } }
                }
                section {
                    h2 { "Events per line" }
                    table {
                        tr { th { "line" } th { "gaps" } th { "clicks" } th { "level steps" } th { "noise bursts" } th { "dead" } }
                        @for c in &summary.counts {
                            tr { td { (c.channel) } td { (c.gaps) } td { (c.clicks) } td { (c.level_steps) } td { (c.noise_bursts) } td { (c.dead) } }
                        }
                    }
                    p { (summary.clips) " sound clip(s) in clips/" @if summary.clips_dropped > 0 { ", " (summary.clips_dropped) " event(s) past the clip limit" } "." }
                }
                @if !summary.marks.is_empty() {
                    section {
                        h2 { "Marks" }
                        table {
                            tr { th { "from" } th { "what was being done" } th { "events" } }
                            @for m in &summary.marks {
                                tr { td { (format!("{:.1} s", m.t_s)) } td { (m.text) } td { (m.events) } }
                            }
                        }
                    }
                }
                section {
                    h2 { "Over time" }
                    @for (data, caption) in &images {
                        figure {
                            img src=(format!("data:image/png;base64,{data}")) alt=(caption);
                            figcaption { (caption) }
                        }
                    }
                }
            }
        }
    };
    let path = dir.join("report.html");
    super::write(&path, page.into_string().as_bytes())?;
    Ok(path)
}
