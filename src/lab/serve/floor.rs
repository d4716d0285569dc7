//! The floor: one card per bench with a unit this shift (units, yield, time per unit, the last
//! unit's verdict, serial, model, operator and time), live where the browser runs JavaScript.

use super::pages;
use super::stats::Drifting;
use super::{shift_start, Drifts, Shared, View};
use crate::lab::db::{Database, DbError};
use crate::lab::store::{self, FloorBench};
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use maud::{html, Markup, PreEscaped};
use serde::Serialize;
use std::collections::HashMap;

/// The floor page of the units tested since `since_ms`, with the benches that drift, as HTML
/// (what `/` serves).
pub fn html(db: &mut Database, view: &View, since_ms: i64, drifts: &Drifts) -> Result<String, DbError> {
    let benches = store::floor(db, since_ms)?;
    let body = html! {
        header {
            h1 { "The floor" }
            p class="note" { "Units of the last " (format!("{}", view.shift_hours)) " h (since " (pages::when(since_ms)) "). "
                span id="live" { "Reloaded every 10 s." } }
        }
        div id="cards" data-cards=(view.link("/floor/cards", &[])) data-events=(view.link("/events", &[])) {
            (cards_markup(view, &benches, drifts))
        }
        script { (PreEscaped(LIVE_JS)) }
    };
    Ok(pages::page(view, "the floor", body, true).0)
}

pub(super) async fn page(State(state): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let view = state.view(&q);
    let since = shift_start(&state);
    let drifts = state.drifts();
    state.render(move |db| Ok(Html(html(db, &view, since, &drifts)?).into_response())).await
}

/// The cards alone (what the live page fetches when a unit lands).
pub(super) async fn cards(State(state): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let view = state.view(&q);
    let since = shift_start(&state);
    let drifts = state.drifts();
    state
        .render(move |db| {
            let benches = store::floor(db, since)?;
            Ok(Html(cards_markup(&view, &benches, &drifts).into_string()).into_response())
        })
        .await
}

#[derive(Serialize)]
struct FloorJson {
    format: &'static str,
    shift_since: String,
    benches: Vec<Card>,
}

/// A bench on the floor, and what it drifts in now.
#[derive(Serialize)]
struct Card {
    #[serde(flatten)]
    bench: FloorBench,
    drifting: Vec<Drifting>,
}

/// `/api/floor`: the floor as JSON (`jackbench-floor/1`).
pub(super) async fn api(State(state): State<Shared>) -> Response {
    let since = shift_start(&state);
    let drifts = state.drifts();
    match state.pool.with(move |db| store::floor(db, since)).await {
        Ok(benches) => {
            let benches = benches
                .into_iter()
                .map(|b| Card { drifting: drifts.get(&b.bench).cloned().unwrap_or_default(), bench: b })
                .collect();
            Json(FloorJson { format: "jackbench-floor/1", shift_since: store::rfc3339(since), benches }).into_response()
        }
        Err(e) => pages::unavailable_json(&e),
    }
}

fn cards_markup(view: &View, benches: &[FloorBench], drifts: &Drifts) -> Markup {
    html! {
        @if benches.is_empty() {
            p class="empty" { "No unit tested this shift yet." }
        }
        @for b in benches {
            @let fail = b.last_verdict != "pass";
            div class=(if fail { "card fail" } else { "card pass" }) data-bench=(b.bench) data-last=(b.last_id) {
                h2 { (b.bench) }
                p class="big" { (format!("{:.1} %", b.yield_percent)) }
                p { (b.units) " units, " (b.passed) " passed" }
                p { "time per unit " (b.bench_s.map_or("—".to_string(), |s| format!("{s:.2} s"))) }
                p class="last" { "last: " a href=(view.link("/unit", &[("serial", &b.last_serial)])) { b { (b.last_serial) } }
                    " " span class="verdict" { (b.last_verdict.to_uppercase()) }
                    " · " (b.last_model) " · " (b.last_operator) " · " (b.last_tested_at) }
                @for d in drifts.get(&b.bench).map(Vec::as_slice).unwrap_or_default() {
                    p class="bad drift" title=(d.rule) { "drifting: "
                        a href=(view.link("/stats", &[("model", &d.model)])) { (d.label) } " (" (d.model) ")"
                        @if let Some(l) = d.toward_limit { " toward " (l) } }
                }
            }
        }
    }
}

/// The live floor: on each unit, fetch the cards again; a failing unit flashes its card.
const LIVE_JS: &str = r#"(function(){
var cards=document.getElementById('cards');
if(!window.EventSource){return;}
document.getElementById('live').textContent='Live.';
var es=new EventSource(cards.getAttribute('data-events'));
es.addEventListener('unit',function(e){var u=JSON.parse(e.data);
fetch(cards.getAttribute('data-cards')).then(function(r){return r.text();}).then(function(t){cards.innerHTML=t;
if(u.verdict!=='pass'){var c=cards.querySelectorAll('.card');for(var i=0;i<c.length;i++){if(c[i].getAttribute('data-bench')===u.bench){c[i].classList.add('flash');}}}});});
es.onerror=function(){document.getElementById('live').textContent='Reconnecting…';};
es.onopen=function(){document.getElementById('live').textContent='Live.';};
})();"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_names_and_serials_are_escaped_on_the_cards() {
        let b = FloorBench {
            bench: "<script>alert(1)</script>".into(),
            units: 1,
            passed: 0,
            yield_percent: 0.0,
            bench_s: None,
            last_id: 1,
            last_serial: "\"><img src=x onerror=alert(1)>".into(),
            last_verdict: "fail".into(),
            last_operator: "o".into(),
            last_model: "m".into(),
            last_tested_at: String::new(),
        };
        let view = View { db_name: String::new(), shift_hours: 8.0, token: None, reports: None };
        let html = cards_markup(&view, &[b], &Drifts::new()).into_string();
        assert!(!html.contains("<script>") && !html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        // The serial in the link is a query value, encoded.
        assert!(html.contains("/unit?serial=%22%3E%3Cimg+src%3Dx"), "{html}");
    }
}
