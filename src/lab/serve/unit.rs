//! A unit: its tests by serial, newest first, a page at a time (each with its verdict, faults
//! and fixes, and links to its report and capture set); a serial not found is searched for.

use super::pages;
use super::{files, Shared, View};
use crate::lab::db::{Database, DbError};
use crate::lab::store::{self, SerialHit, StoredUnit};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use maud::{html, Markup};
use serde::Serialize;
use std::collections::HashMap;

/// Tests on a page.
pub const PER_PAGE: i64 = 20;
/// Serials a search lists.
pub const SEARCH_LIMIT: i64 = 50;

/// The page number asked for (from 1), or why it makes no sense.
fn page_number(q: &HashMap<String, String>) -> Result<i64, String> {
    match q.get("page").map(|p| p.trim()) {
        None | Some("") => Ok(1),
        Some(p) => match p.parse::<u64>() {
            Ok(n) if n >= 1 => Ok(i64::try_from(n).unwrap_or(i64::MAX)),
            _ => Err(format!("page {p:?}: give a page number from 1")),
        },
    }
}

/// One page of a serial's tests, as served by `/api/unit`.
#[derive(Debug, Serialize)]
pub struct UnitPage {
    pub format: &'static str,
    pub serial: String,
    /// Tests of this serial in all.
    pub tests: i64,
    pub page: i64,
    pub pages: i64,
    pub per_page: i64,
    pub history: Vec<StoredUnit>,
}

/// A serial's tests on page `page` (from 1). A page past the last is empty.
pub fn history(db: &mut Database, serial: &str, page: i64) -> Result<UnitPage, DbError> {
    let offset = (page.max(1) - 1).saturating_mul(PER_PAGE);
    let (history, tests) = store::history_page(db, serial, PER_PAGE, offset)?;
    Ok(UnitPage {
        format: "jackbench-unit/1",
        serial: serial.to_string(),
        tests,
        page,
        pages: (tests + PER_PAGE - 1) / PER_PAGE,
        per_page: PER_PAGE,
        history,
    })
}

/// The unit page for `serial` (page `page`), as HTML, and its status: 404 when no test has the
/// serial (the page then lists the serials that contain it).
pub fn html(db: &mut Database, view: &View, serial: &str, page_no: i64) -> Result<(StatusCode, String), DbError> {
    let serial = serial.trim();
    if serial.is_empty() {
        let body = html! { header { h1 { "Units" } (search_box(view, "")) p class="note" { "Type a serial, or part of one." } } };
        return Ok((StatusCode::OK, pages::page(view, "units", body, false).0));
    }
    let h = history(db, serial, page_no)?;
    if h.tests == 0 {
        let hits = store::serials_matching(db, serial, SEARCH_LIMIT)?;
        let body = html! {
            header { h1 { "Units" } (search_box(view, serial)) }
            section {
                p { "No unit with the serial " b { (serial) } "." }
                (hit_list(view, serial, &hits))
            }
        };
        return Ok((StatusCode::NOT_FOUND, pages::page(view, serial, body, false).0));
    }
    let body = html! {
        header {
            h1 { "Unit " (serial) }
            (search_box(view, serial))
            p class="note" { (h.tests) " test" @if h.tests != 1 { "s" } ", newest first." }
        }
        section {
            @if h.history.is_empty() {
                p { "Page " (page_no) " is past the last (" (h.pages) ")." }
            }
            @for t in &h.history { (test(view, t)) }
            (pager(view, serial, &h))
        }
    };
    Ok((StatusCode::OK, pages::page(view, serial, body, false).0))
}

fn search_box(view: &View, serial: &str) -> Markup {
    html! {
        form class="inline" method="get" action="/unit" {
            label { "Serial" input type="search" name="serial" value=(serial) autofocus; }
            @if let Some(t) = &view.token {
                input type="hidden" name="token" value=(t);
            }
            button { "Find" }
        }
    }
}

fn hit_list(view: &View, text: &str, hits: &[SerialHit]) -> Markup {
    html! {
        @if hits.is_empty() {
            p { "No serial contains " b { (text) } "." }
        } @else {
            p { "Serials that contain " b { (text) } @if hits.len() as i64 == SEARCH_LIMIT { " (the first " (SEARCH_LIMIT) ")" } ":" }
            table {
                tr { th { "serial" } th { "tests" } th { "last tested" } }
                @for h in hits {
                    tr {
                        td { a href=(view.link("/unit", &[("serial", &h.serial)])) { (h.serial) } }
                        td class="num" { (h.tests) }
                        td { (h.last_tested_at) }
                    }
                }
            }
        }
    }
}

fn test(view: &View, t: &StoredUnit) -> Markup {
    let links = view.reports.as_deref().and_then(|root| files::under(root, &t.capture_set));
    html! {
        div class=(format!("test {}", if t.verdict == "pass" { "pass" } else { "fail" })) {
            h3 { span class=(format!("verdict {}", t.verdict)) { (t.verdict.to_uppercase()) } " · " (t.tested_at.replace('T', " "))
                " · " (t.bench) " · " (t.model) }
            p class="note" { "operator " (t.operator) " · batch " (t.batch) " · rig " (t.rig)
                @if let Some(s) = t.bench_s { " · " (format!("{s:.2}")) " s on the bench" }
                @if t.repeats > 0 { " · " (t.repeats) " capture(s) repeated for room sound" }
                " · jackbench " (t.jackbench_version) }
            @if !t.faults.is_empty() {
                ul class="faults" {
                    @for f in &t.faults {
                        li {
                            b { (f.code) } " (" (f.component) @if let Some(c) = f.confidence { ", " (format!("{:.0} %", 100.0 * c)) } ")"
                            br; span class="evidence" { (f.evidence) }
                            br; span class="fix" { "Fix: " (f.remedy) }
                        }
                    }
                }
            }
            p {
                @match &links {
                    Some(l) => {
                        @if let Some(r) = &l.report { a href=(view.link(r, &[])) { "Report" } " · " }
                        a href=(view.link(&l.dir, &[])) { "Capture set" }
                    }
                    None => {
                        span class="note" { "Capture set: " (t.capture_set)
                            @if view.reports.is_none() { " (not served: start serve with --reports)" } @else { " (not under the reports directory)" } }
                    }
                }
            }
        }
    }
}

fn pager(view: &View, serial: &str, h: &UnitPage) -> Markup {
    html! {
        @if h.pages > 1 {
            p class="pager" {
                @if h.page > 1 {
                    @let prev = (h.page - 1).min(h.pages).to_string();
                    a href=(view.link("/unit", &[("serial", serial), ("page", &prev)])) { "← newer" }
                }
                span { "page " (h.page) " of " (h.pages) }
                @if h.page < h.pages {
                    @let next = (h.page + 1).to_string();
                    a href=(view.link("/unit", &[("serial", serial), ("page", &next)])) { "older →" }
                }
            }
        }
    }
}

pub(super) async fn page(State(state): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let view = state.view(&q);
    let page_no = match page_number(&q) {
        Ok(p) => p,
        Err(why) => return pages::bad_request(&view, &why),
    };
    let serial = q.get("serial").cloned().unwrap_or_default();
    state
        .render(move |db| {
            let (status, body) = html(db, &view, &serial, page_no)?;
            Ok((status, axum::response::Html(body)).into_response())
        })
        .await
}

/// `/api/unit?serial=…&page=N`: one page of the serial's tests (`jackbench-unit/1`); 404 with no test.
pub(super) async fn api(State(state): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let page_no = match page_number(&q) {
        Ok(p) => p,
        Err(why) => return pages::bad_request_json(&why),
    };
    let Some(serial) = q.get("serial").map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) else {
        return pages::bad_request_json("serial: give the unit's serial");
    };
    match state.pool.with(move |db| history(db, &serial, page_no)).await {
        Ok(h) if h.tests == 0 => (StatusCode::NOT_FOUND, Json(h)).into_response(),
        Ok(h) => Json(h).into_response(),
        Err(e) => pages::unavailable_json(&e),
    }
}

/// `/api/search?q=…`: the serials that contain `q` (any case), at most 50.
pub(super) async fn api_search(State(state): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(text) = q.get("q").map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) else {
        return pages::bad_request_json("q: give part of a serial");
    };
    match state.pool.with(move |db| store::serials_matching(db, &text, SEARCH_LIMIT)).await {
        Ok(hits) => Json(serde_json::json!({ "format": "jackbench-search/1", "serials": hits })).into_response(),
        Err(e) => pages::unavailable_json(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_numbers_are_whole_and_from_one() {
        let q = |p: &str| HashMap::from([("page".to_string(), p.to_string())]);
        assert_eq!(page_number(&HashMap::new()), Ok(1));
        assert_eq!(page_number(&q("3")), Ok(3));
        assert_eq!(page_number(&q("18446744073709551615")), Ok(i64::MAX));
        for bad in ["0", "-1", "x", "1e9", "99999999999999999999999"] {
            assert!(page_number(&q(bad)).is_err(), "{bad}");
        }
    }
}
