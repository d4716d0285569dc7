//! `jackbench serve`: the lab's live view over the results database, read-only.
//!
//! Pages (server-rendered with maud, usable without JavaScript, every asset served from here):
//! - `/`: the floor ([`floor`]), one card per bench with a unit this shift, live through
//!   `/events` (server-sent events, one `unit` event per unit stored) where the browser runs
//!   JavaScript, a failing unit flashing its card; without it, the page reloads every 10 s.
//! - `/unit?serial=…`: a unit's tests, newest first, a page at a time, each with its verdict,
//!   faults and fixes and links to its report and capture set; a serial not found is searched
//!   for ([`unit`]).
//! - `/stats?model=…&from=…&to=…&by=hour|day|batch`: the line's yield over time, fault Pareto,
//!   and a control chart with Cpk for each key quantity, benches that drift flagged ([`stats`]).
//! - `/files/…`: the capture sets and reports under `--reports` ([`files`]).
//! - `/api/…`: the same as JSON (`floor`, `unit`, `search`, `stats`, `landed`), for lab systems.
//!
//! Safe by default: the database is opened read-only ([`Database::open_existing`]); the server
//! listens on localhost unless told otherwise, and on any other address it requires a token
//! (`Authorization: Bearer …`, or `?token=…` for a browser, carried on every link); files only
//! from under the reports directory; every string from the database escaped (maud); every query
//! bounded (pages of tests, the newest 20 000 units for statistics). A database that fails a
//! request makes that page say so (503); the server stays up.

pub mod files;
pub mod floor;
pub mod pages;
pub mod stats;
pub mod unit;

use crate::lab::db::{Database, DbError};
use crate::lab::store::{self, Landed};
use axum::extract::{Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
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
    /// Where the capture sets and reports are: served under `/files/`, linked from each test.
    pub reports: Option<std::path::PathBuf>,
}

/// What every page needs to know beyond the database: its name, the shift, how links carry the
/// token, where the reports are.
#[derive(Debug, Clone)]
pub struct View {
    pub db_name: String,
    pub shift_hours: f64,
    /// The token the page was asked for with in its query (its links carry it on).
    pub token: Option<String>,
    /// The reports directory, canonical.
    pub reports: Option<std::path::PathBuf>,
}

impl View {
    /// `path` with `params` as its query, the token added when the page has one.
    pub fn link(&self, path: &str, params: &[(&str, &str)]) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            q.append_pair(k, v);
        }
        let mut query = q.finish();
        if let Some(t) = &self.token {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&form_urlencoded::Serializer::new(String::new()).append_pair("token", t).finish());
        }
        if query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{query}")
        }
    }
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
    #[error("--reports {dir}: {source}")]
    Reports { dir: std::path::PathBuf, source: std::io::Error },
    #[error("the server: {0}")]
    Io(#[from] std::io::Error),
}

/// Read-only connections, reused: opened as needed, dropped when a query failed on them; at most
/// [`CONNECTIONS`] at work at once (more requests wait their turn rather than open connections
/// past what a PostgreSQL server allows).
struct Pool {
    url: String,
    /// The database's name with its password hidden, for errors.
    name: String,
    idle: Mutex<Vec<Database>>,
    permits: tokio::sync::Semaphore,
}

/// Connections at work at once.
const CONNECTIONS: usize = 8;

impl Pool {
    /// Runs `f` on a connection, off the async threads.
    async fn with<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Database) -> Result<T, DbError> + Send + 'static,
    ) -> Result<T, DbError> {
        let Ok(_permit) = self.permits.acquire().await else {
            return Err(DbError::Query { db: self.name.clone(), message: "the server is stopping".into() });
        };
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
            Err(DbError::Query { db: self.name.clone(), message: format!("the query's thread: {e}") })
        })
    }
}

pub(crate) struct AppState {
    pool: Arc<Pool>,
    db_name: String,
    options: ServeOptions,
    landed: tokio::sync::broadcast::Sender<Landed>,
    reports: Option<std::path::PathBuf>,
    /// The benches that drift now (by bench), as the floor's cards show them.
    drifting: std::sync::RwLock<Drifts>,
}

/// What each bench drifts in now.
pub type Drifts = std::collections::BTreeMap<String, Vec<stats::Drifting>>;

type Shared = Arc<AppState>;

impl AppState {
    /// The view of a request whose query is `q`.
    fn view(&self, q: &HashMap<String, String>) -> View {
        View {
            db_name: self.db_name.clone(),
            shift_hours: self.options.shift_hours,
            token: q.get("token").cloned(),
            reports: self.reports.clone(),
        }
    }

    /// Runs a page's query and rendering on a connection; a failing database as a 503 page.
    async fn render(&self, f: impl FnOnce(&mut Database) -> Result<Response, DbError> + Send + 'static) -> Response {
        match self.pool.with(f).await {
            Ok(r) => r,
            Err(e) => pages::unavailable(&e),
        }
    }
}

/// Serves until Ctrl-C. Prints the address it listens on (`jackbench serve: http://…/`) on
/// standard error once it does.
pub async fn serve(options: ServeOptions) -> Result<(), ServeError> {
    if !options.listen.ip().is_loopback() && options.token.is_none() {
        return Err(ServeError::NeedsToken(options.listen));
    }
    let reports = match &options.reports {
        Some(dir) => Some(
            std::fs::canonicalize(dir)
                .and_then(|d| if d.is_dir() { Ok(d) } else { Err(std::io::Error::other("not a directory")) })
                .map_err(|source| ServeError::Reports { dir: dir.clone(), source })?,
        ),
        None => None,
    };
    // The database must be there and be a results database before anything listens. Opened on a
    // blocking thread: PostgreSQL's client runs a runtime of its own.
    let url = options.db.clone();
    let (first, last) = tokio::task::spawn_blocking(move || -> Result<(Database, i64), DbError> {
        let mut db = Database::open_existing(&url)?;
        let last = store::last_unit_id(&mut db)?;
        if db.backend() == "postgres" {
            let rows = db.query("SELECT current_user, has_table_privilege('unit', 'INSERT')", &[])?;
            if let Some(r) = rows.first().filter(|r| r.get(1).and_then(|v| v.int()) == Some(1)) {
                eprintln!(
                    "jackbench serve: note: the role {} may write to the results; the server's sessions are \
                     read-only, and a role granted only SELECT makes sure of it (see the README)",
                    r.first().map(|v| v.text()).unwrap_or_default()
                );
            }
        }
        Ok((db, last))
    })
    .await
    .map_err(|e| std::io::Error::other(format!("opening the database: {e}")))??;
    let db_name = first.name().to_string();
    let pool = Arc::new(Pool {
        url: options.db.clone(),
        name: db_name.clone(),
        idle: Mutex::new(vec![first]),
        permits: tokio::sync::Semaphore::new(CONNECTIONS),
    });
    let (landed, _) = tokio::sync::broadcast::channel(256);
    let state = Arc::new(AppState {
        pool,
        db_name,
        options: options.clone(),
        landed,
        reports,
        drifting: std::sync::RwLock::new(Drifts::new()),
    });
    tokio::spawn(poll_landed(Arc::clone(&state), last));
    tokio::spawn(watch_drift(Arc::clone(&state)));
    let app = router(Arc::clone(&state));
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| ServeError::Bind { addr: options.listen, source })?;
    let addr = listener.local_addr()?;
    let files = state.reports.as_ref().map_or(String::new(), |d| format!(", reports from {}", d.display()));
    eprintln!("jackbench serve: http://{addr}/ over {} (read-only){files}", state.db_name);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

fn router(state: Shared) -> Router {
    Router::new()
        .route("/", get(floor::page))
        .route("/floor/cards", get(floor::cards))
        .route("/events", get(events))
        .route("/unit", get(unit::page))
        .route("/stats", get(stats::page))
        .route("/files/", get(files::root))
        .route("/files/{*path}", get(files::get))
        .route("/api/floor", get(floor::api))
        .route("/api/unit", get(unit::api))
        .route("/api/search", get(unit::api_search))
        .route("/api/stats", get(stats::api))
        .route("/api/landed", get(api_landed))
        .fallback(pages::not_found)
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

/// How often the floor's drift flags are computed again (the statistics of a week take 0.1–0.3 s
/// on 100 000 units: too long for every page, short for a background task).
const DRIFT_EVERY: Duration = Duration::from_secs(60);

/// Computes which benches drift now, at start and every [`DRIFT_EVERY`].
async fn watch_drift(state: Shared) {
    let mut tick = tokio::time::interval(DRIFT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let since = shift_start(&state);
        match state.pool.with(move |db| stats::drifting(db, since)).await {
            Ok(d) => {
                if let Ok(mut w) = state.drifting.write() {
                    *w = d;
                }
            }
            Err(e) => eprintln!("jackbench serve: the drift flags: {e}"),
        }
    }
}

impl AppState {
    /// The drift flags as last computed.
    fn drifts(&self) -> Drifts {
        self.drifting.read().map(|d| d.clone()).unwrap_or_default()
    }
}

/// The start of the shift, Unix ms.
fn shift_start(state: &AppState) -> i64 {
    crate::lab::db::now_ms() - (state.options.shift_hours * 3_600_000.0) as i64
}

/// `/api/landed?after=ID`: the units stored after unit `ID`, oldest first, at most 200 (a lab
/// system polls it with the last id it has).
async fn api_landed(State(state): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let after = match q.get("after").map(|a| a.parse::<i64>()) {
        None => 0,
        Some(Ok(a)) => a,
        Some(Err(_)) => return pages::bad_request_json("after: give a unit id (a whole number)"),
    };
    match state.pool.with(move |db| store::landed_after(db, after, 200)).await {
        Ok(units) => Json(serde_json::json!({ "format": "jackbench-landed/1", "units": units })).into_response(),
        Err(e) => pages::unavailable_json(&e),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole_and_links_carry_them_escaped() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"abc", b"abcd"));
        let view = View { db_name: String::new(), shift_hours: 8.0, token: Some("a b&".into()), reports: None };
        assert_eq!(view.link("/unit", &[("serial", "SN 1&<")]), "/unit?serial=SN+1%26%3C&token=a+b%26");
        assert_eq!(view.link("/", &[]), "/?token=a+b%26");
    }
}
