//! `jackbench serve`: the lab's live view over the results database, read-only.
//!
//! - `/`: the floor, one card per bench with a unit this shift (units, yield, time per unit, the
//!   last unit's verdict, serial and operator). Live where the browser runs JavaScript: it listens
//!   to `/events` and redraws the cards as units land, a failing unit flashing its card; without
//!   it, the page refreshes itself every 10 s.
//! - `/floor/cards`: the cards alone (what the live page fetches).
//! - `/events`: server-sent events, one `unit` event per unit stored (`{"id", "bench", "serial",
//!   "verdict"}`). One poller reads the database for every client (every 250 ms), so clients cost
//!   no queries.
//! - `/api/floor`: the floor as JSON.
//!
//! Safe by default: the database is opened read-only ([`Database::open_existing`]); the server
//! listens on localhost unless told otherwise, and on any other address it requires a token
//! (`Authorization: Bearer …`, or `?token=…` for a browser). Every string from the database is
//! escaped (maud). A database that fails a request makes that page say so (503); the server stays up.

use crate::lab::db::{Database, DbError};
use crate::lab::store::{self, FloorBench, Landed};
use axum::extract::{Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Serialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The results database's URL (opened read-only).
    pub db: String,
    pub listen: SocketAddr,
    /// Required on every request when set (always set for a non-local address).
    pub token: Option<String>,
    /// The shift: units tested in the last this many hours.
    pub shift_hours: f64,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(
        "--listen {0}: a non-local address needs a token (--token-file): anyone on the network could read the results"
    )]
    NeedsToken(SocketAddr),
    #[error("--listen {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("the server: {0}")]
    Io(#[from] std::io::Error),
}

/// Read-only connections, reused: opened as needed, dropped when a query failed on them.
struct Pool {
    url: String,
    idle: Mutex<Vec<Database>>,
}

impl Pool {
    /// Runs `f` on a connection, off the async threads.
    async fn with<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Database) -> Result<T, DbError> + Send + 'static,
    ) -> Result<T, DbError> {
        let pool = Arc::clone(self);
        let joined = tokio::task::spawn_blocking(move || {
            let taken = pool.idle.lock().map(|mut v| v.pop()).unwrap_or(None);
            let mut db = match taken {
                Some(db) => db,
                None => Database::open_existing(&pool.url)?,
            };
            let out = f(&mut db);
            // A connection that failed may be broken: a new one next time.
            if out.is_ok() {
                if let Ok(mut idle) = pool.idle.lock() {
                    idle.push(db);
                }
            }
            out
        })
        .await;
        joined.unwrap_or_else(|e| {
            Err(DbError::Query { db: self.url.clone(), message: format!("the query's thread: {e}") })
        })
    }
}

struct AppState {
    pool: Arc<Pool>,
    db_name: String,
    options: ServeOptions,
    landed: tokio::sync::broadcast::Sender<Landed>,
}

type Shared = Arc<AppState>;

/// Serves until Ctrl-C. Prints the address it listens on (`jackbench serve: http://…/`) on
/// standard error once it does.
pub async fn serve(options: ServeOptions) -> Result<(), ServeError> {
    if !options.listen.ip().is_loopback() && options.token.is_none() {
        return Err(ServeError::NeedsToken(options.listen));
    }
    // The database must be there and be a results database before anything listens. Opened on a
    // blocking thread: PostgreSQL's client runs a runtime of its own.
    let url = options.db.clone();
    let (first, last) = tokio::task::spawn_blocking(move || -> Result<(Database, i64), DbError> {
        let mut db = Database::open_existing(&url)?;
        let last = store::last_unit_id(&mut db)?;
        Ok((db, last))
    })
    .await
    .map_err(|e| std::io::Error::other(format!("opening the database: {e}")))??;
    let db_name = first.name().to_string();
    let pool = Arc::new(Pool { url: options.db.clone(), idle: Mutex::new(vec![first]) });
    let (landed, _) = tokio::sync::broadcast::channel(256);
    let state = Arc::new(AppState { pool, db_name, options: options.clone(), landed });
    tokio::spawn(poll_landed(Arc::clone(&state), last));
    let app = router(Arc::clone(&state));
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| ServeError::Bind { addr: options.listen, source })?;
    let addr = listener.local_addr()?;
    eprintln!("jackbench serve: http://{addr}/ over {} (read-only)", state.db_name);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

fn router(state: Shared) -> Router {
    Router::new()
        .route("/", get(floor_page))
        .route("/floor/cards", get(floor_cards))
        .route("/events", get(events))
        .route("/api/floor", get(api_floor))
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&state), require_token))
        .with_state(state)
}

/// The token, where one is set: in `Authorization: Bearer …` or the query's `token`.
async fn require_token(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let Some(token) = &state.options.token else { return next.run(request).await };
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let query =
        Query::<HashMap<String, String>>::try_from_uri(request.uri()).ok().and_then(|Query(mut q)| q.remove("token"));
    let given = bearer.or(query);
    if given.as_deref().is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes())) {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a token is required (Authorization: Bearer …, or ?token=…)\n",
        )
            .into_response()
    }
}

/// Compares without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Reads the units that landed since the last look, for every client at once.
async fn poll_landed(state: Shared, mut last: i64) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // Read even when nobody listens: a client that subscribes while a query runs gets every
        // unit after the last one read (sending to no one is no error).
        match state.pool.with(move |db| store::landed_after(db, last, 200)).await {
            Ok(units) => {
                for u in units {
                    last = last.max(u.id);
                    let _ = state.landed.send(u);
                }
            }
            Err(e) => eprintln!("jackbench serve: {e}"),
        }
    }
}

/// The start of the shift, Unix ms.
fn shift_start(state: &AppState) -> i64 {
    crate::lab::db::now_ms() - (state.options.shift_hours * 3_600_000.0) as i64
}

/// A database failure as a page: the server stays up, the page says why.
fn unavailable(e: &DbError) -> Response {
    let body = page(
        "unavailable",
        html! {
            section class="error" {
                h2 { "The results database is unavailable" }
                p { (e.to_string()) }
                p { "This page tries again when it is reloaded." }
            }
        },
    );
    (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
}

async fn floor_data(state: &Shared) -> Result<Vec<FloorBench>, DbError> {
    let since = shift_start(state);
    state.pool.with(move |db| store::floor(db, since)).await
}

#[derive(Serialize)]
struct FloorJson {
    format: &'static str,
    shift_since: String,
    benches: Vec<FloorBench>,
}

async fn api_floor(State(state): State<Shared>) -> Response {
    match floor_data(&state).await {
        Ok(benches) => {
            Json(FloorJson { format: "jackbench-floor/1", shift_since: store::rfc3339(shift_start(&state)), benches })
                .into_response()
        }
        Err(e) => {
            (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({ "error": e.to_string() }))).into_response()
        }
    }
}

async fn floor_cards(State(state): State<Shared>) -> Response {
    match floor_data(&state).await {
        Ok(benches) => Html(cards(&benches).into_string()).into_response(),
        Err(e) => unavailable(&e),
    }
}

async fn floor_page(State(state): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let benches = match floor_data(&state).await {
        Ok(b) => b,
        Err(e) => return unavailable(&e),
    };
    // The live script carries the token it was given to the requests it makes.
    let token = q.get("token").map(|t| format!("?token={}", url_escape(t))).unwrap_or_default();
    let body = html! {
        header {
            h1 { "jackbench · the floor" }
            p class="note" { "Units of the last " (format!("{}", state.options.shift_hours)) " h, from " (state.db_name) " (read-only). "
                span id="live" { "Refreshed every 10 s." } }
        }
        div id="cards" data-base=(token) { (cards(&benches)) }
        script { (PreEscaped(LIVE_JS)) }
    };
    page("the floor", body).into_response()
}

/// `t` safe inside a URL's query value.
fn url_escape(t: &str) -> String {
    t.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn cards(benches: &[FloorBench]) -> Markup {
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
                p class="last" { "last: " b { (b.last_serial) } " " span class="verdict" { (b.last_verdict.to_uppercase()) }
                    " · " (b.last_model) " · " (b.last_operator) " · " (b.last_tested_at) }
            }
        }
    }
}

fn page(title: &str, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { "jackbench · " (title) }
                    noscript { meta http-equiv="refresh" content="10"; }
                    style { (PreEscaped(CSS)) }
                }
                body { (body) }
            }
        }
        .into_string(),
    )
}

async fn events(State(state): State<Shared>) -> impl IntoResponse {
    let stream = BroadcastStream::new(state.landed.subscribe()).filter_map(|r| {
        // A client too slow for the broadcast missed some units: it redraws all the same.
        let u = r.ok()?;
        let data = serde_json::to_string(&u).ok()?;
        Some(Ok::<Event, std::convert::Infallible>(Event::default().event("unit").data(data)))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:1.5rem;background:#f4f5f7;color:#222}\
h1{font-size:1.4rem;margin:0}.note{color:#555}\
#cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(16rem,1fr));gap:1rem;margin-top:1rem}\
.card{background:#fff;border-radius:.5rem;padding:1rem;border-left:.5rem solid #2e7d32;box-shadow:0 1px 3px #0002}\
.card.fail{border-left-color:#c62828}.card h2{margin:0;font-size:1.1rem}.card .big{font-size:2rem;margin:.3rem 0}\
.card.fail .verdict{color:#c62828;font-weight:bold}.card.pass .verdict{color:#2e7d32;font-weight:bold}\
.card.flash{animation:flash 1s ease-in-out 3}@keyframes flash{50%{background:#ffcdd2}}\
.error{background:#fff3f3;border:1px solid #c62828;padding:1rem;border-radius:.5rem}";

/// The live floor: on each unit, fetch the cards again; a failing unit flashes its card.
const LIVE_JS: &str = r#"(function(){
var cards=document.getElementById('cards');var base=cards.getAttribute('data-base')||'';
if(!window.EventSource){return;}
document.getElementById('live').textContent='Live.';
var es=new EventSource('/events'+base);
es.addEventListener('unit',function(e){var u=JSON.parse(e.data);
fetch('/floor/cards'+base).then(function(r){return r.text();}).then(function(t){cards.innerHTML=t;
if(u.verdict!=='pass'){var c=cards.querySelectorAll('.card');for(var i=0;i<c.length;i++){if(c[i].getAttribute('data-bench')===u.bench){c[i].classList.add('flash');}}}});});
es.onerror=function(){document.getElementById('live').textContent='Reconnecting…';};
es.onopen=function(){document.getElementById('live').textContent='Live.';};
})();"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole_and_tokens_are_escaped_in_urls() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"abc", b"abcd"));
        assert_eq!(url_escape("a b&<"), "a%20b%26%3C");
    }

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
        let html = cards(&[b]).into_string();
        assert!(!html.contains("<script>") && !html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }
}
