//! The line's statistics for a model and a period: yield over time, the fault Pareto, and for
//! each key quantity a control chart (subgroup means and standard deviations per bench, limits
//! from the data) with Cpk against the product's limits and the benches that drift flagged
//! ([`crate::lab::spc`]). Charts are SVG drawn here: no script, nothing fetched.

use super::pages;
use super::{Shared, View};
use crate::lab::db::{now_ms, Database, DbError};
use crate::lab::spc::{self, Chart};
use crate::lab::store::{self, LineQuery, ParetoEntry, Subgroup, SubgroupYield};
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use maud::{html, Markup};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// The quantities charted, with what the page calls them.
pub const KEY_QUANTITIES: [(&str, &str); 5] = [
    ("playback_gain_db", "Sensitivity (playback gain)"),
    ("balance_db", "Balance (left less right)"),
    ("thd_percent", "THD"),
    ("rub_buzz_db", "Rub & buzz"),
    ("mic_gain_db", "Microphone sensitivity"),
];
/// The newest units the statistics read at most.
pub const MAX_UNITS: i64 = 20_000;
/// The period when none is given: the last 7 days.
const DEFAULT_DAYS: i64 = 7;
const DAY_MS: i64 = 86_400_000;

/// What a statistics request asks for.
#[derive(Debug, Clone)]
pub struct Request {
    /// `None`: the model of the newest unit.
    pub model: Option<String>,
    pub since_ms: i64,
    pub until_ms: i64,
    pub by: Subgroup,
    /// Another quantity to chart besides the key ones.
    pub quantity: Option<String>,
}

/// A time from the query: a date (`2026-12-03`, the day's start, UTC) or an RFC 3339 time.
fn parse_time(field: &str, text: &str) -> Result<i64, String> {
    let t = text.trim();
    let full = if t.len() == 10 { format!("{t}T00:00:00Z") } else { t.to_string() };
    let at = humantime::parse_rfc3339_weak(&full)
        .map_err(|_| format!("{field} {text:?}: give a date (2026-12-03) or a time (2026-12-03T08:00:00Z)"))?;
    let ms = at.duration_since(std::time::UNIX_EPOCH).map_err(|_| format!("{field} {text:?}: before 1970"))?;
    i64::try_from(ms.as_millis()).map_err(|_| format!("{field} {text:?}: too far ahead"))
}

impl Request {
    /// From a page's query, or why it makes no sense.
    pub fn from_query(q: &HashMap<String, String>) -> Result<Request, String> {
        let nonempty = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        // A `to` date means through that day.
        let until_ms = match nonempty("to") {
            Some(t) if t.len() == 10 => parse_time("to", t)? + DAY_MS,
            Some(t) => parse_time("to", t)?,
            None => now_ms() + 1,
        };
        let since_ms = match nonempty("from") {
            Some(f) => parse_time("from", f)?,
            None => until_ms - DEFAULT_DAYS * DAY_MS,
        };
        if since_ms >= until_ms {
            return Err("from: give a start before the end (to)".into());
        }
        let by = match nonempty("by") {
            None | Some("hour") => Subgroup::Hour,
            Some("day") => Subgroup::Day,
            Some("batch") => Subgroup::Batch,
            Some(other) => return Err(format!("by {other:?}: give hour, day or batch")),
        };
        Ok(Request {
            model: nonempty("model").map(str::to_string),
            since_ms,
            until_ms,
            by,
            quantity: nonempty("quantity").map(str::to_string),
        })
    }

    fn quantities(&self) -> Vec<String> {
        let mut q: Vec<String> = KEY_QUANTITIES.iter().map(|(n, _)| n.to_string()).collect();
        if let Some(extra) = &self.quantity {
            if !q.contains(extra) {
                q.push(extra.clone());
            }
        }
        q
    }
}

/// The line's statistics, as `/api/stats` serves them (`jackbench-stats/1`).
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub format: &'static str,
    pub model: Option<String>,
    pub models: Vec<String>,
    pub since: String,
    pub until: String,
    /// The period was shortened to the newest units.
    pub truncated: bool,
    pub by: Subgroup,
    pub units: i64,
    pub passed: i64,
    pub yield_percent: f64,
    pub yields: Vec<SubgroupYield>,
    pub pareto: Vec<ParetoEntry>,
    pub charts: Vec<Chart>,
    #[serde(skip)]
    since_ms: i64,
    #[serde(skip)]
    until_ms: i64,
}

/// Reads and computes the statistics a request asks for.
pub fn compute(db: &mut Database, r: &Request) -> Result<Stats, DbError> {
    let models = store::models(db)?;
    let model = match &r.model {
        Some(m) => Some(m.clone()),
        None => newest_model(db)?,
    };
    let data = store::line(
        db,
        &LineQuery {
            model: model.clone(),
            since_ms: r.since_ms,
            until_ms: r.until_ms,
            by: r.by,
            quantities: r.quantities(),
            max_units: MAX_UNITS,
        },
    )?;
    let charts = data
        .quantities
        .iter()
        .filter_map(|q| spc::chart(&q.quantity, &q.unit, &q.samples, q.limit_low, q.limit_high))
        .collect();
    Ok(Stats {
        format: "jackbench-stats/1",
        model,
        models,
        since: store::rfc3339(data.since_ms),
        until: store::rfc3339(data.until_ms),
        truncated: data.truncated,
        by: r.by,
        units: data.units,
        passed: data.passed,
        yield_percent: if data.units > 0 { 100.0 * data.passed as f64 / data.units as f64 } else { 0.0 },
        yields: data.yields,
        pareto: data.pareto,
        charts,
        since_ms: data.since_ms,
        until_ms: data.until_ms,
    })
}

/// A quantity a bench drifts in now, as the floor shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Drifting {
    pub model: String,
    pub quantity: String,
    /// What the page calls the quantity.
    pub label: String,
    pub rule: String,
    pub toward_limit: Option<f64>,
}

/// The benches that drift now, with what in: the statistics of the last 7 days, by hour, of each
/// model tested since `shift_ms` (what the floor's cards show, computed in the background).
pub fn drifting(db: &mut Database, shift_ms: i64) -> Result<BTreeMap<String, Vec<Drifting>>, DbError> {
    let rows = db.query(
        "SELECT DISTINCT model FROM unit WHERE tested_at_ms >= ? ORDER BY model",
        &[crate::lab::db::Param::Int(shift_ms)],
    )?;
    let until_ms = now_ms() + 1;
    let mut out: BTreeMap<String, Vec<Drifting>> = BTreeMap::new();
    for model in rows.iter().filter_map(|r| r.first()).map(|v| v.text()) {
        let r = Request {
            model: Some(model.clone()),
            since_ms: until_ms - DEFAULT_DAYS * DAY_MS,
            until_ms,
            by: Subgroup::Hour,
            quantity: None,
        };
        for c in compute(db, &r)?.charts {
            for d in c.drifts {
                out.entry(d.bench.clone()).or_default().push(Drifting {
                    model: model.clone(),
                    quantity: c.quantity.clone(),
                    label: KEY_QUANTITIES
                        .iter()
                        .find(|(q, _)| *q == c.quantity)
                        .map_or(c.quantity.clone(), |(_, l)| l.to_string()),
                    rule: d.rule,
                    toward_limit: d.toward_limit,
                });
            }
        }
    }
    Ok(out)
}

/// The model of the newest unit.
fn newest_model(db: &mut Database) -> Result<Option<String>, DbError> {
    let rows = db.query("SELECT model FROM unit ORDER BY id DESC LIMIT 1", &[])?;
    Ok(rows.first().and_then(|r| r.first()).map(|v| v.text()))
}

/// The statistics page, as HTML.
pub fn html(db: &mut Database, view: &View, r: &Request) -> Result<String, DbError> {
    let s = compute(db, r)?;
    let by = match s.by {
        Subgroup::Hour => "hour",
        Subgroup::Day => "day",
        Subgroup::Batch => "batch",
    };
    let date = |ms: i64| store::rfc3339(ms)[..10].to_string();
    let body = html! {
        header {
            h1 { "Statistics" @if let Some(m) = &s.model { " · " (m) } }
            form class="inline" method="get" action="/stats" {
                label { "Model" select name="model" {
                    @for m in &s.models { option value=(m) selected[Some(m) == s.model.as_ref()] { (m) } }
                } }
                label { "From" input type="date" name="from" value=(date(s.since_ms)); }
                label { "To" input type="date" name="to" value=(date(s.until_ms - 1)); }
                label { "Subgroups" select name="by" {
                    @for b in ["hour", "day", "batch"] { option value=(b) selected[b == by] { (b) } }
                } }
                @if let Some(t) = &view.token { input type="hidden" name="token" value=(t); }
                button { "Show" }
            }
            p class="note" {
                (s.units) " units from " (pages::when(s.since_ms)) " to " (pages::when(s.until_ms)) ", yield "
                b { (format!("{:.1} %", s.yield_percent)) } ". "
                @if s.truncated { "The period was shortened to the newest " (MAX_UNITS) " units. " }
                "Subgroups: one per " (by) " and bench."
            }
        }
        @if s.units == 0 {
            section { p { "No unit of this model in this period." } }
        } @else {
            section {
                h2 { "Yield by " (by) }
                (yield_chart(&s.yields))
            }
            section {
                h2 { "Fault Pareto" }
                (pareto(&s.pareto, s.units - s.passed))
            }
            @for c in &s.charts { (chart_section(c, &s.yields)) }
            @let missing: Vec<&str> = KEY_QUANTITIES.iter().filter(|(q, _)| !s.charts.iter().any(|c| c.quantity == *q)).map(|(_, l)| *l).collect();
            @if !missing.is_empty() {
                section { p class="note" { "Not measured in this period: " (missing.join(", ")) "." } }
            }
        }
    };
    Ok(pages::page(view, "statistics", body, false).0)
}

const PALETTE: [&str; 8] = ["#1565c0", "#ef6c00", "#2e7d32", "#6a1b9a", "#00838f", "#ad1457", "#4e342e", "#546e7a"];
const W: f64 = 900.0;
const H: f64 = 220.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// A line on a chart across its width.
struct Level {
    y: f64,
    label: String,
    style: &'static str,
}

/// One series: (subgroup index, value, marked).
struct Series {
    label: String,
    color: &'static str,
    points: Vec<(usize, f64, bool)>,
}

/// An SVG chart over the subgroups `keys` (by index): series as lines with points, levels as
/// horizontal lines (drawn when inside the value range, else named in `outside`).
fn plot(keys: &[&SubgroupYield], series: &[Series], levels: &[Level], unit: &str) -> Markup {
    let ys: Vec<f64> = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).filter(|v| v.is_finite()).collect();
    let (mut lo, mut hi) = ys.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
    if !lo.is_finite() {
        return html! {};
    }
    // Control lines always; a product limit when it is near enough to read against the data.
    let span = (hi - lo).max(1e-9);
    for l in levels {
        if l.style != "limit" || (l.y >= lo - 2.0 * span && l.y <= hi + 2.0 * span) {
            lo = lo.min(l.y);
            hi = hi.max(l.y);
        }
    }
    let pad = ((hi - lo) * 0.08).max(1e-6);
    let (lo, hi) = (lo - pad, hi + pad);
    let n = keys.len().max(2);
    let x = |i: usize| LEFT + (W - LEFT - RIGHT) * i as f64 / (n - 1) as f64;
    let y = |v: f64| TOP + (H - TOP - BOTTOM) * (1.0 - (v - lo) / (hi - lo));
    let label_every = (keys.len() / 8).max(1);
    let outside: Vec<&Level> = levels.iter().filter(|l| l.y < lo || l.y > hi).collect();
    html! {
        svg width=(W) height=(H) viewBox=(format!("0 0 {W} {H}")) role="img" {
            @for k in 0..5 {
                @let v = lo + (hi - lo) * k as f64 / 4.0;
                line x1=(LEFT) x2=(W - RIGHT) y1=(y(v)) y2=(y(v)) stroke="#eee" {}
                @let v = if v.abs() < (hi - lo) * 1e-6 { 0.0 } else { v };
                text x=(LEFT - 6.0) y=(y(v) + 4.0) text-anchor="end" { (format!("{v:.3}").trim_end_matches('0').trim_end_matches('.')) }
            }
            text x="4" y=(TOP + 8.0) { (unit) }
            @for (i, k) in keys.iter().enumerate() {
                @if i % label_every == 0 {
                    text x=(x(i)) y=(H - 8.0) text-anchor="middle" { (short_key(k)) }
                }
            }
            @for l in levels {
                @if l.y >= lo && l.y <= hi {
                    @let (stroke, dash) = match l.style { "center" => ("#37474f", ""), "limit" => ("#c62828", "6 3"), _ => ("#78909c", "3 3") };
                    line x1=(LEFT) x2=(W - RIGHT) y1=(y(l.y)) y2=(y(l.y)) stroke=(stroke) stroke-dasharray=(dash) {}
                    text x=(W - RIGHT - 2.0) y=(y(l.y) - 3.0) text-anchor="end" fill=(stroke) { (l.label) }
                }
            }
            @for s in series {
                @let path: Vec<String> = s.points.iter().filter(|p| p.1.is_finite()).map(|p| format!("{:.1},{:.1}", x(p.0), y(p.1))).collect();
                polyline points=(path.join(" ")) fill="none" stroke=(s.color) stroke-width="1.5" {}
                @for p in s.points.iter().filter(|p| p.1.is_finite()) {
                    @if p.2 {
                        circle cx=(x(p.0)) cy=(y(p.1)) r="4.5" fill="#c62828" { title { (s.label) ": out of control" } }
                    } @else {
                        circle cx=(x(p.0)) cy=(y(p.1)) r="2.5" fill=(s.color) {}
                    }
                }
            }
        }
        @if series.len() > 1 {
            p class="legend" { @for s in series { span { i style=(format!("background:{}", s.color)) {} (s.label) } } }
        }
        @if !outside.is_empty() {
            @let names: Vec<String> = outside.iter().map(|l| format!("{} ({} {unit})", l.label, l.y)).collect();
            p class="note" { "Off the chart: " (names.join(", ")) "." }
        }
    }
}

/// A subgroup's key as a label: an hour or a day as its time, a batch as itself.
fn short_key(y: &SubgroupYield) -> String {
    let t = store::rfc3339(y.start_ms);
    match y.key.parse::<i64>() {
        Ok(_) if t.len() >= 16 => t[5..16].replace('T', " "),
        _ => y.key.chars().take(14).collect(),
    }
}

fn yield_chart(yields: &[SubgroupYield]) -> Markup {
    let keys: Vec<&SubgroupYield> = yields.iter().collect();
    let points = yields
        .iter()
        .enumerate()
        .map(|(i, y)| (i, if y.units > 0 { 100.0 * y.passed as f64 / y.units as f64 } else { f64::NAN }, false))
        .collect();
    let series = [Series { label: "yield".into(), color: PALETTE[0], points }];
    html! { (plot(&keys, &series, &[Level { y: 100.0, label: "100 %".into(), style: "control" }], "%")) }
}

fn pareto(entries: &[ParetoEntry], failed: i64) -> Markup {
    html! {
        @if entries.is_empty() {
            p { "No fault found in this period." }
        } @else {
            table {
                tr { th { "fault" } th { "units" } th { "of the " (failed) " failed" } th { "cumulative" } }
                @for e in entries.iter().take(20) {
                    tr {
                        td { (e.code) }
                        td class="num" { (e.units) }
                        td { span class="bar" style=(format!("width:{:.1}rem", e.percent.clamp(0.0, 100.0) / 5.0)) {} " " (format!("{:.1} %", e.percent)) }
                        td class="num" { (format!("{:.1} %", e.cumulative_percent)) }
                    }
                }
            }
        }
    }
}

fn chart_section(c: &Chart, yields: &[SubgroupYield]) -> Markup {
    let title = KEY_QUANTITIES.iter().find(|(q, _)| *q == c.quantity).map_or(c.quantity.as_str(), |(_, t)| t);
    let keys: Vec<&SubgroupYield> = yields.iter().collect();
    let index: HashMap<&str, usize> = yields.iter().enumerate().map(|(i, y)| (y.key.as_str(), i)).collect();
    let mut by_bench: BTreeMap<&str, Vec<&spc::Point>> = BTreeMap::new();
    for p in &c.points {
        by_bench.entry(&p.bench).or_default().push(p);
    }
    let series = |sd: bool| -> Vec<Series> {
        by_bench
            .iter()
            .enumerate()
            .map(|(i, (bench, pts))| Series {
                label: bench.to_string(),
                color: PALETTE[i % PALETTE.len()],
                points: pts
                    .iter()
                    .filter_map(|p| {
                        let v = if sd { p.sd } else { p.mean };
                        let out = if sd {
                            p.n >= 2 && (p.sd > p.sd_ucl || p.sd < p.sd_lcl)
                        } else {
                            p.mean < p.mean_lcl || p.mean > p.mean_ucl
                        };
                        Some((*index.get(p.key.as_str())?, v, out))
                    })
                    .collect(),
            })
            .collect()
    };
    // The control lines drawn for the commonest subgroup size; each point is judged for its own.
    let mut sizes: Vec<usize> = c.points.iter().map(|p| p.n).collect();
    sizes.sort_unstable();
    let typical = c.points.iter().find(|p| p.n == sizes[sizes.len() / 2]);
    let mut mean_levels = vec![Level { y: c.center, label: format!("x̿ {:.3}", c.center), style: "center" }];
    let mut sd_levels = Vec::new();
    if let Some(p) = typical {
        mean_levels.push(Level { y: p.mean_ucl, label: format!("UCL (n = {})", p.n), style: "control" });
        mean_levels.push(Level { y: p.mean_lcl, label: format!("LCL (n = {})", p.n), style: "control" });
        sd_levels.push(Level { y: p.sd_center, label: format!("c4·σ (n = {})", p.n), style: "center" });
        sd_levels.push(Level { y: p.sd_ucl, label: "UCL".into(), style: "control" });
        if p.sd_lcl > 0.0 {
            sd_levels.push(Level { y: p.sd_lcl, label: "LCL".into(), style: "control" });
        }
    }
    if let Some(l) = c.limit_low {
        mean_levels.push(Level { y: l, label: "product low limit".into(), style: "limit" });
    }
    if let Some(h) = c.limit_high {
        mean_levels.push(Level { y: h, label: "product high limit".into(), style: "limit" });
    }
    let fmt = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.2}"));
    html! {
        section class="chart" data-quantity=(c.quantity) {
            h2 { (title) " " span class="note" { "(" (c.quantity) ", " (c.unit) ")" } }
            p {
                "Cpk " b class=(if c.cpk.is_some_and(|v| v < 1.33) { "bad" } else { "" }) { (fmt(c.cpk)) }
                " · Ppk " (fmt(c.ppk)) " · x̿ " (format!("{:.3}", c.center)) " · σ within subgroups " (format!("{:.3}", c.sigma_within))
                " · σ overall " (format!("{:.3}", c.sigma_overall)) " · " (c.values) " values"
                @if c.outliers > 0 { " (" (c.outliers) " gross outliers left out: defects, in the Pareto)" }
                " · limits " (crate::lab::record::limits_text(c.limit_low, c.limit_high))
            }
            @if !c.drifts.is_empty() {
                ul class="flags" {
                    @for d in &c.drifts {
                        li class="bad" { "Bench " (d.bench) " drifts: " (d.rule) "; in the subgroup from " (pages::when(d.start_ms)) @if d.key.parse::<i64>().is_err() { " (" (d.key) ")" } " its mean is "
                            (format!("{:.3}", d.latest)) " against a baseline of " (format!("{:.3}", d.baseline))
                            @if let Some(l) = d.toward_limit { ", toward the product limit " (format!("{l}")) } "." }
                    }
                }
            }
            (plot(&keys, &series(false), &mean_levels, &c.unit))
            details {
                summary { "Spread within subgroups (s chart) and each bench's offset" }
                (plot(&keys, &series(true), &sd_levels, &c.unit))
                table {
                    tr { th { "bench" } th { "mean less the line's" } }
                    @for (b, o) in &c.bench_offsets { tr { td { (b) } td class="num" { (format!("{o:+.3}")) " " (c.unit) } } }
                }
            }
        }
    }
}

pub(super) async fn page(State(state): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let view = state.view(&q);
    let r = match Request::from_query(&q) {
        Ok(r) => r,
        Err(why) => return pages::bad_request(&view, &why),
    };
    state.render(move |db| Ok(Html(html(db, &view, &r)?).into_response())).await
}

/// `/api/stats?model=…&from=…&to=…&by=…`: the statistics as JSON.
pub(super) async fn api(State(state): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let r = match Request::from_query(&q) {
        Ok(r) => r,
        Err(why) => return pages::bad_request_json(&why),
    };
    match state.pool.with(move |db| compute(db, &r)).await {
        Ok(s) => Json(s).into_response(),
        Err(e) => pages::unavailable_json(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_is_read_from_dates_or_times_and_nonsense_is_refused() {
        let q = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let r = Request::from_query(&q(&[("from", "2026-12-01"), ("to", "2026-12-02"), ("by", "batch")])).expect("ok");
        assert_eq!(r.until_ms - r.since_ms, 2 * DAY_MS, "through the end of the `to` day");
        assert_eq!(r.by, Subgroup::Batch);
        let r =
            Request::from_query(&q(&[("from", "2026-12-01T06:00:00Z"), ("to", "2026-12-01T14:00:00Z")])).expect("ok");
        assert_eq!(r.until_ms - r.since_ms, 8 * 3_600_000);
        let r = Request::from_query(&q(&[])).expect("defaults");
        assert_eq!(r.until_ms - r.since_ms, DEFAULT_DAYS * DAY_MS);
        for bad in [
            vec![("from", "yesterday")],
            vec![("by", "minute")],
            vec![("from", "2026-12-02"), ("to", "2026-12-01")],
            vec![("to", "99999-01-01")],
        ] {
            assert!(Request::from_query(&q(&bad)).is_err(), "{bad:?}");
        }
    }
}
