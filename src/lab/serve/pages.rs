//! What every page shares: the frame (navigation, style), and the answers for what went wrong:
//! a database that fails (503), a request that makes no sense (400), nothing there (404).

use super::View;
use crate::lab::db::DbError;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use maud::{html, Markup, PreEscaped, DOCTYPE};

/// A whole page: `refresh` makes it reload itself every 10 s where JavaScript does not run.
pub fn page(view: &View, title: &str, body: Markup, refresh: bool) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { "jackbench · " (title) }
                    @if refresh { noscript { meta http-equiv="refresh" content="10"; } }
                    style { (PreEscaped(CSS)) }
                }
                body {
                    nav {
                        a href=(view.link("/", &[])) { "Floor" }
                        a href=(view.link("/unit", &[])) { "Units" }
                        a href=(view.link("/stats", &[])) { "Statistics" }
                        span class="db" { (view.db_name) " · read-only" }
                    }
                    (body)
                }
            }
        }
        .into_string(),
    )
}

/// A database failure as a page: the server stays up, the page says why.
pub fn unavailable(e: &DbError) -> Response {
    let view = View { db_name: String::new(), shift_hours: 0.0, token: None, reports: None };
    let body = page(
        &view,
        "unavailable",
        html! {
            section class="error" {
                h2 { "The results database is unavailable" }
                p { (e.to_string()) }
                p { "This page tries again when it is reloaded." }
            }
        },
        true,
    );
    (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
}

/// A database failure for the API.
pub fn unavailable_json(e: &DbError) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({ "error": e.to_string() }))).into_response()
}

/// A request that makes no sense, for the API.
pub fn bad_request_json(why: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "error": why }))).into_response()
}

/// A request that makes no sense, as a page.
pub fn bad_request(view: &View, why: &str) -> Response {
    let body = html! { section class="error" { h2 { "That request makes no sense" } p { (why) } } };
    (StatusCode::BAD_REQUEST, page(view, "bad request", body, false)).into_response()
}

/// Nothing at this address.
pub async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "nothing here: try / (the floor), /unit, /stats or /api/floor\n").into_response()
}

/// A time in ms as the page shows it: `2026-12-03 08:15:02Z`.
pub fn when(ms: i64) -> String {
    crate::lab::store::rfc3339(ms).replace('T', " ")
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7;color:#222}\
main,header,section{margin:1rem 1.5rem}\
nav{background:#263238;padding:.6rem 1.5rem;display:flex;gap:1.2rem;align-items:center}\
nav a{color:#fff;text-decoration:none;font-weight:600}nav .db{margin-left:auto;color:#b0bec5;font-size:.85rem}\
h1{font-size:1.4rem;margin:0}h2{font-size:1.15rem}.note{color:#555}\
#cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(16rem,1fr));gap:1rem;margin:1rem 1.5rem}\
.card{background:#fff;border-radius:.5rem;padding:1rem;border-left:.5rem solid #2e7d32;box-shadow:0 1px 3px #0002}\
.card.fail{border-left-color:#c62828}.card h2{margin:0;font-size:1.1rem}.card .big{font-size:2rem;margin:.3rem 0}\
.fail .verdict,.verdict.fail{color:#c62828;font-weight:bold}.verdict.incomplete{color:#e65100;font-weight:bold}.pass .verdict,.verdict.pass{color:#2e7d32;font-weight:bold}\
.card.flash{animation:flash 1s ease-in-out 3}@keyframes flash{50%{background:#ffcdd2}}\
.error{background:#fff3f3;border:1px solid #c62828;padding:1rem;border-radius:.5rem}\
table{border-collapse:collapse;background:#fff;margin:.5rem 0}td,th{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}\
th{background:#eceff1}td.num{text-align:right;font-variant-numeric:tabular-nums}\
.test{background:#fff;border-radius:.5rem;padding:.8rem 1rem;margin:.8rem 0;box-shadow:0 1px 3px #0002;border-left:.4rem solid #2e7d32}\
.test.fail{border-left-color:#c62828}.test h3{margin:0 0 .3rem;font-size:1rem}\
ul.faults li{margin:.3rem 0}.fix{color:#1b5e20}.bad{color:#c62828;font-weight:600}\
form.inline{display:flex;gap:.6rem;flex-wrap:wrap;align-items:end}form.inline label{display:flex;flex-direction:column;font-size:.85rem}\
.pager a,.pager span{margin-right:1rem}.bar{background:#90a4ae;height:.8rem;display:inline-block}\
svg{background:#fff;border-radius:.4rem;box-shadow:0 1px 3px #0002}svg text{font-size:11px;fill:#333}\
.legend span{display:inline-block;margin-right:1rem}.legend i{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:middle}\
.flags li{margin:.2rem 0}.chart{margin:1.5rem 1.5rem}";
