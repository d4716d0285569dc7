//! The results database: SQLite (a file, by default) or PostgreSQL (a server several benches
//! share), behind one small interface: transactions, parameterised statements, rows of
//! [`Value`]s. Queries are written once with `?` placeholders; PostgreSQL's `$n` are made from
//! them.
//!
//! The schema is versioned in `migrations/<backend>/NNNN_name.sql`; [`Database::open`] applies
//! the ones a database lacks, in order, each in its own transaction, under a lock (SQLite's write
//! lock, PostgreSQL's advisory lock), so benches that start at once migrate it once.
//!
//! SQLite runs in WAL mode with a busy timeout, so readers never block the writer and two
//! writers wait for each other instead of failing.

use std::path::PathBuf;
use std::time::Duration;

/// The migrations: (version, name, SQLite's SQL, PostgreSQL's SQL).
const MIGRATIONS: [(i64, &str, &str, &str); 6] = [
    (
        1,
        "results",
        include_str!("../../migrations/sqlite/0001_results.sql"),
        include_str!("../../migrations/postgres/0001_results.sql"),
    ),
    (
        2,
        "room_sound",
        include_str!("../../migrations/sqlite/0002_room_sound.sql"),
        include_str!("../../migrations/postgres/0002_room_sound.sql"),
    ),
    (
        3,
        "limits_source",
        include_str!("../../migrations/sqlite/0003_limits_source.sql"),
        include_str!("../../migrations/postgres/0003_limits_source.sql"),
    ),
    (
        4,
        "bench_calibration",
        include_str!("../../migrations/sqlite/0004_bench_calibration.sql"),
        include_str!("../../migrations/postgres/0004_bench_calibration.sql"),
    ),
    (
        5,
        "unit_time",
        include_str!("../../migrations/sqlite/0005_unit_time.sql"),
        include_str!("../../migrations/postgres/0005_unit_time.sql"),
    ),
    (
        6,
        "incomplete",
        include_str!("../../migrations/sqlite/0006_incomplete.sql"),
        include_str!("../../migrations/postgres/0006_incomplete.sql"),
    ),
];

/// How long a SQLite writer waits for another one before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// PostgreSQL advisory lock key for migrations ("jb" in ASCII).
const MIGRATION_LOCK: i64 = 0x6a62;

/// The database a `--db` names, when it names none.
pub const DEFAULT_DB: &str = "reports/results.sqlite";

/// A value to bind to a `?`; typed even when null, as PostgreSQL wants.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Int(i64),
    Real(Option<f64>),
    Text(String),
    /// Text or NULL.
    OptText(Option<String>),
}

/// A value read from a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl Value {
    pub fn int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Real(r) => Some(*r as i64),
            _ => None,
        }
    }
    pub fn real(&self) -> Option<f64> {
        match self {
            Value::Real(r) => Some(*r),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
    pub fn text(&self) -> String {
        match self {
            Value::Text(t) => t.clone(),
            Value::Int(i) => i.to_string(),
            Value::Real(r) => r.to_string(),
            Value::Null => String::new(),
        }
    }
}

/// A value of a row being scanned, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
}

impl Cell<'_> {
    pub fn real(&self) -> Option<f64> {
        match self {
            Cell::Real(r) => Some(*r),
            Cell::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
    pub fn int(&self) -> Option<i64> {
        match self {
            Cell::Int(i) => Some(*i),
            _ => None,
        }
    }
    pub fn text(&self) -> &str {
        match self {
            Cell::Text(t) => t,
            _ => "",
        }
    }
}

/// Why the database could not be used; each names it.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{db}: cannot open: {message}")]
    Open { db: String, message: String },
    #[error("{db}: {message}")]
    Query { db: String, message: String },
    #[error("{db}: its schema is version {found}, newer than this jackbench's {known}: upgrade jackbench")]
    TooNew { db: String, found: i64, known: i64 },
    #[error("{db}: its schema is version {found}, older than this jackbench's {known}: `jackbench batch --db {}` upgrades it", super::shell_word(.db))]
    TooOld { db: String, found: i64, known: i64 },
    #[error("{db}: no results database there (`jackbench batch --db {}` creates one)", super::shell_word(.db))]
    Missing { db: String },
    #[error("{db}: not a jackbench results database (no schema_migration table)")]
    NotResults { db: String },
    #[error("{db}: jackbench does not speak `{scheme}:` databases; give a file path, sqlite:PATH or postgres://USER@HOST/NAME")]
    Scheme { db: String, scheme: String },
}

/// What a database URL names.
enum Target {
    Postgres,
    Sqlite(PathBuf),
}

/// Parses a database URL: `postgres://…` or `postgresql://…`, `sqlite:PATH` (or `sqlite://PATH`)
/// or a plain path. Any other scheme (`mysql://…`, `mysql:…`) is refused rather than taken for a
/// file name; a one-letter prefix is a Windows drive.
fn target(url: &str) -> Result<Target, DbError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Target::Postgres);
    }
    if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
        return Ok(Target::Sqlite(PathBuf::from(path)));
    }
    if let Some((scheme, _)) = url.split_once(':') {
        let word = scheme.len() >= 2
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
        if word {
            return Err(DbError::Scheme { db: redact(url), scheme: scheme.to_string() });
        }
    }
    Ok(Target::Sqlite(PathBuf::from(url)))
}

enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::Client>),
}

/// An open, migrated results database.
pub struct Database {
    conn: Conn,
    /// What it was opened as, for messages (a password in a URL is hidden).
    name: String,
}

/// A transaction; committed by [`Database::transaction`] when its closure succeeds.
pub enum Tx<'a> {
    Sqlite(rusqlite::Transaction<'a>, &'a str),
    Postgres(postgres::Transaction<'a>, &'a str),
}

/// `?` placeholders as PostgreSQL's `$1, $2, …`.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// A URL with its password replaced by `***`.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl rusqlite::ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value as V};
        Ok(match self {
            Param::Int(i) => ToSqlOutput::Owned(V::Integer(*i)),
            Param::Real(Some(r)) => ToSqlOutput::Owned(V::Real(*r)),
            Param::Real(None) => ToSqlOutput::Owned(V::Null),
            Param::Text(t) | Param::OptText(Some(t)) => {
                ToSqlOutput::Borrowed(rusqlite::types::ValueRef::Text(t.as_bytes()))
            }
            Param::OptText(None) => ToSqlOutput::Owned(V::Null),
        })
    }
}

fn pg_params(params: &[Param]) -> Vec<Box<dyn postgres::types::ToSql + Sync>> {
    params
        .iter()
        .map(|p| -> Box<dyn postgres::types::ToSql + Sync> {
            match p {
                Param::Int(i) => Box::new(*i),
                Param::Real(r) => Box::new(*r),
                Param::Text(t) => Box::new(t.clone()),
                Param::OptText(t) => Box::new(t.clone()),
            }
        })
        .collect()
}

fn sqlite_rows(stmt: &mut rusqlite::Statement<'_>, params: &[Param]) -> rusqlite::Result<Vec<Vec<Value>>> {
    let n = stmt.column_count();
    let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            use rusqlite::types::ValueRef;
            values.push(match row.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(v) => Value::Int(v),
                ValueRef::Real(v) => Value::Real(v),
                ValueRef::Text(t) | ValueRef::Blob(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            });
        }
        out.push(values);
    }
    Ok(out)
}

fn pg_rows(rows: Vec<postgres::Row>) -> Result<Vec<Vec<Value>>, String> {
    use postgres::types::Type;
    rows.iter()
        .map(|row| {
            (0..row.len())
                .map(|i| {
                    let ty = row.columns()[i].type_().clone();
                    let v = if ty == Type::INT8 {
                        row.try_get::<_, Option<i64>>(i).map(|v| v.map_or(Value::Null, Value::Int))
                    } else if ty == Type::INT4 {
                        row.try_get::<_, Option<i32>>(i).map(|v| v.map_or(Value::Null, |v| Value::Int(v.into())))
                    } else if ty == Type::INT2 {
                        row.try_get::<_, Option<i16>>(i).map(|v| v.map_or(Value::Null, |v| Value::Int(v.into())))
                    } else if ty == Type::FLOAT8 {
                        row.try_get::<_, Option<f64>>(i).map(|v| v.map_or(Value::Null, Value::Real))
                    } else if ty == Type::FLOAT4 {
                        row.try_get::<_, Option<f32>>(i).map(|v| v.map_or(Value::Null, |v| Value::Real(v.into())))
                    } else if ty == Type::BOOL {
                        row.try_get::<_, Option<bool>>(i).map(|v| v.map_or(Value::Null, |v| Value::Int(v.into())))
                    } else {
                        row.try_get::<_, Option<String>>(i).map(|v| v.map_or(Value::Null, Value::Text))
                    };
                    v.map_err(|e| format!("column {} ({ty}): {e}", row.columns()[i].name()))
                })
                .collect()
        })
        .collect()
}

impl Tx<'_> {
    /// Runs a statement; the number of rows it changed.
    pub fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64, DbError> {
        match self {
            Tx::Sqlite(tx, db) => tx
                .prepare_cached(sql)
                .and_then(|mut s| s.execute(rusqlite::params_from_iter(params.iter())))
                .map(|n| n as u64)
                .map_err(|e| DbError::Query { db: db.to_string(), message: format!("{e} (in: {sql})") }),
            Tx::Postgres(tx, db) => {
                let boxed = pg_params(params);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
                tx.execute(numbered(sql).as_str(), &refs)
                    .map_err(|e| DbError::Query { db: db.to_string(), message: format!("{e} (in: {sql})") })
            }
        }
    }

    /// Runs a query; its rows.
    pub fn query(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Vec<Value>>, DbError> {
        match self {
            Tx::Sqlite(tx, db) => tx
                .prepare_cached(sql)
                .and_then(|mut s| sqlite_rows(&mut s, params))
                .map_err(|e| DbError::Query { db: db.to_string(), message: format!("{e} (in: {sql})") }),
            Tx::Postgres(tx, db) => {
                let boxed = pg_params(params);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
                let rows = tx
                    .query(numbered(sql).as_str(), &refs)
                    .map_err(|e| DbError::Query { db: db.to_string(), message: format!("{e} (in: {sql})") })?;
                pg_rows(rows).map_err(|message| DbError::Query { db: db.to_string(), message })
            }
        }
    }
}

impl Database {
    /// Opens `url` (`postgres://…` or `postgresql://…` for PostgreSQL; `sqlite:PATH` or a plain
    /// path for SQLite, created with its directory when missing) and migrates its schema: what a
    /// command that stores results opens.
    pub fn open(url: &str) -> Result<Database, DbError> {
        let name = redact(url);
        let open_err = |message: String| DbError::Open { db: name.clone(), message };
        let conn = match target(url)? {
            Target::Postgres => Conn::Postgres(Box::new(
                postgres::Client::connect(url, postgres::NoTls).map_err(|e| open_err(e.to_string()))?,
            )),
            Target::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| open_err(format!("cannot create {}: {e}", dir.display())))?;
                }
                let c = rusqlite::Connection::open(&path).map_err(|e| open_err(e.to_string()))?;
                c.busy_timeout(BUSY_TIMEOUT).map_err(|e| open_err(e.to_string()))?;
                c.pragma_update(None, "journal_mode", "WAL").map_err(|e| open_err(format!("WAL mode: {e}")))?;
                c.pragma_update(None, "synchronous", "NORMAL").map_err(|e| open_err(e.to_string()))?;
                // Off while the migrations run (the bundled SQLite starts with them on).
                c.pragma_update(None, "foreign_keys", "OFF").map_err(|e| open_err(e.to_string()))?;
                Conn::Sqlite(c)
            }
        };
        let mut db = Database { conn, name: name.clone() };
        // SQLite's foreign keys are off while its migrations run (a table made again to change a
        // constraint is dropped under its references: SQLite's own procedure), and checked by
        // each migration before it commits.
        db.migrate()?;
        if let Conn::Sqlite(c) = &db.conn {
            c.pragma_update(None, "foreign_keys", "ON")
                .map_err(|e| DbError::Open { db: name, message: e.to_string() })?;
        }
        Ok(db)
    }

    /// Opens an existing results database read-only: what a command that only reads opens
    /// (`history`, `export`, `summary`). Nothing is created; a missing file, a database without
    /// jackbench's tables, or one whose schema is not this version's, is an error naming it.
    pub fn open_existing(url: &str) -> Result<Database, DbError> {
        let name = redact(url);
        let open_err = |message: String| DbError::Open { db: name.clone(), message };
        let conn = match target(url)? {
            Target::Postgres => {
                let mut client =
                    postgres::Client::connect(url, postgres::NoTls).map_err(|e| open_err(e.to_string()))?;
                client
                    .batch_execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                    .map_err(|e| open_err(e.to_string()))?;
                Conn::Postgres(Box::new(client))
            }
            Target::Sqlite(path) => {
                if !path.is_file() {
                    return Err(DbError::Missing { db: name });
                }
                let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let c = rusqlite::Connection::open_with_flags(&path, flags).map_err(|e| open_err(e.to_string()))?;
                c.busy_timeout(BUSY_TIMEOUT).map_err(|e| open_err(e.to_string()))?;
                Conn::Sqlite(c)
            }
        };
        let mut db = Database { conn, name };
        let exists = match db.backend() {
            "postgres" => "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'schema_migration' AND table_schema = current_schema()",
            _ => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migration'",
        };
        let not_results = |e: DbError| match e {
            // A file that is not SQLite at all.
            DbError::Query { db, message } if message.contains("not a database") => DbError::NotResults { db },
            e => e,
        };
        let found = db.query(exists, &[]).map_err(not_results)?;
        if found.first().and_then(|r| r.first()).and_then(Value::int).unwrap_or(0) == 0 {
            return Err(DbError::NotResults { db: db.name.clone() });
        }
        let rows = db.query("SELECT MAX(version) FROM schema_migration", &[])?;
        let found = rows.first().and_then(|r| r.first()).and_then(Value::int).unwrap_or(0);
        let known = MIGRATIONS.iter().map(|m| m.0).max().unwrap_or(0);
        match found.cmp(&known) {
            std::cmp::Ordering::Greater => Err(DbError::TooNew { db: db.name.clone(), found, known }),
            std::cmp::Ordering::Less => Err(DbError::TooOld { db: db.name.clone(), found, known }),
            std::cmp::Ordering::Equal => Ok(db),
        }
    }

    /// What the database was opened as (passwords hidden).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self.conn {
            Conn::Sqlite(_) => "sqlite",
            Conn::Postgres(_) => "postgres",
        }
    }

    /// Runs `f` in one transaction: committed when it returns `Ok`, rolled back otherwise.
    pub fn transaction<T>(&mut self, f: impl FnOnce(&mut Tx<'_>) -> Result<T, DbError>) -> Result<T, DbError> {
        let name = self.name.clone();
        let err = |e: String| DbError::Query { db: name.clone(), message: e };
        match &mut self.conn {
            Conn::Sqlite(c) => {
                // IMMEDIATE: take the write lock at the start, so two writers queue (busy timeout)
                // rather than one failing at its first write.
                let tx = c
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(|e| err(e.to_string()))?;
                let mut tx = Tx::Sqlite(tx, &self.name);
                let out = f(&mut tx)?;
                let Tx::Sqlite(tx, _) = tx else { unreachable!() };
                tx.commit().map_err(|e| err(format!("commit: {e}")))?;
                Ok(out)
            }
            Conn::Postgres(c) => {
                let tx = c.transaction().map_err(|e| err(e.to_string()))?;
                let mut tx = Tx::Postgres(tx, &self.name);
                let out = f(&mut tx)?;
                let Tx::Postgres(tx, _) = tx else { unreachable!() };
                tx.commit().map_err(|e| err(format!("commit: {e}")))?;
                Ok(out)
            }
        }
    }

    /// A read-only query outside any explicit transaction.
    pub fn query(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Vec<Value>>, DbError> {
        let name = self.name.clone();
        match &mut self.conn {
            Conn::Sqlite(c) => c
                .prepare_cached(sql)
                .and_then(|mut s| sqlite_rows(&mut s, params))
                .map_err(|e| DbError::Query { db: name, message: format!("{e} (in: {sql})") }),
            Conn::Postgres(c) => {
                let boxed = pg_params(params);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
                let rows = c
                    .query(numbered(sql).as_str(), &refs)
                    .map_err(|e| DbError::Query { db: name.clone(), message: format!("{e} (in: {sql})") })?;
                pg_rows(rows).map_err(|message| DbError::Query { db: name, message })
            }
        }
    }

    /// Runs a query and hands each row to `f` as borrowed cells, without collecting the rows:
    /// for passes over millions of rows.
    pub fn scan(&mut self, sql: &str, params: &[Param], f: &mut dyn FnMut(&[Cell<'_>])) -> Result<u64, DbError> {
        let name = self.name.clone();
        let err = |e: String| DbError::Query { db: name.clone(), message: format!("{e} (in: {sql})") };
        /// The widest row a scan hands over.
        const MAX_COLUMNS: usize = 16;
        let mut n = 0u64;
        match &mut self.conn {
            Conn::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql).map_err(|e| err(e.to_string()))?;
                let width = stmt.column_count().min(MAX_COLUMNS);
                let mut rows = stmt.query(rusqlite::params_from_iter(params.iter())).map_err(|e| err(e.to_string()))?;
                while let Some(row) = rows.next().map_err(|e| err(e.to_string()))? {
                    let mut cells = [Cell::Null; MAX_COLUMNS];
                    for (i, cell) in cells.iter_mut().enumerate().take(width) {
                        use rusqlite::types::ValueRef;
                        *cell = match row.get_ref(i).map_err(|e| err(e.to_string()))? {
                            ValueRef::Null => Cell::Null,
                            ValueRef::Integer(v) => Cell::Int(v),
                            ValueRef::Real(v) => Cell::Real(v),
                            ValueRef::Text(t) | ValueRef::Blob(t) => Cell::Text(std::str::from_utf8(t).unwrap_or("")),
                        };
                    }
                    f(&cells[..width]);
                    n += 1;
                }
            }
            Conn::Postgres(c) => {
                use postgres::fallible_iterator::FallibleIterator;
                use postgres::types::Type;
                let boxed = pg_params(params);
                let refs = boxed.iter().map(|b| b.as_ref() as &dyn postgres::types::ToSql);
                let mut rows = c.query_raw(numbered(sql).as_str(), refs).map_err(|e| err(e.to_string()))?;
                while let Some(row) = rows.next().map_err(|e| err(e.to_string()))? {
                    let width = row.len().min(MAX_COLUMNS);
                    let mut cells = [Cell::Null; MAX_COLUMNS];
                    for (i, slot) in cells.iter_mut().enumerate().take(width) {
                        let ty = row.columns()[i].type_();
                        let cell = if *ty == Type::INT8 {
                            row.try_get::<_, Option<i64>>(i).map(|v| v.map_or(Cell::Null, Cell::Int))
                        } else if *ty == Type::FLOAT8 {
                            row.try_get::<_, Option<f64>>(i).map(|v| v.map_or(Cell::Null, Cell::Real))
                        } else {
                            row.try_get::<_, Option<&str>>(i).map(|v| v.map_or(Cell::Null, Cell::Text))
                        };
                        *slot = cell.map_err(|e| err(e.to_string()))?;
                    }
                    f(&cells[..width]);
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    /// The schema version, after applying what was missing.
    pub fn schema_version(&mut self) -> Result<i64, DbError> {
        let rows = self.query("SELECT MAX(version) FROM schema_migration", &[])?;
        Ok(rows.first().and_then(|r| r.first()).and_then(Value::int).unwrap_or(0))
    }

    fn migrate(&mut self) -> Result<(), DbError> {
        let known = MIGRATIONS.iter().map(|m| m.0).max().unwrap_or(0);
        let postgres = matches!(self.conn, Conn::Postgres(_));
        let name = self.name.clone();
        for (version, title, sqlite_sql, pg_sql) in MIGRATIONS {
            let done = self.transaction(|tx| {
                if postgres {
                    tx.execute("SELECT pg_advisory_xact_lock(?)", &[Param::Int(MIGRATION_LOCK)])?;
                }
                tx.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migration (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at_ms BIGINT NOT NULL)",
                    &[],
                )?;
                let found = tx.query("SELECT MAX(version) FROM schema_migration", &[])?;
                let found = found.first().and_then(|r| r.first()).and_then(Value::int).unwrap_or(0);
                if found > known {
                    return Err(DbError::TooNew { db: name.clone(), found, known });
                }
                if found >= version {
                    return Ok(true);
                }
                match tx {
                    Tx::Sqlite(t, db) => {
                        let failed =
                            |e: String| DbError::Query { db: db.to_string(), message: format!("migration {version}: {e}") };
                        t.execute_batch(sqlite_sql).map_err(|e| failed(e.to_string()))?;
                        let orphans: i64 = t
                            .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| r.get(0))
                            .map_err(|e| failed(e.to_string()))?;
                        if orphans > 0 {
                            return Err(failed(format!("{orphans} row(s) would lose the unit they belong to")));
                        }
                    }
                    Tx::Postgres(t, db) => t
                        .batch_execute(pg_sql)
                        .map_err(|e| DbError::Query { db: db.to_string(), message: format!("migration {version}: {e}") })?,
                }
                tx.execute(
                    "INSERT INTO schema_migration (version, name, applied_at_ms) VALUES (?, ?, ?)",
                    &[Param::Int(version), Param::Text(title.to_string()), Param::Int(now_ms())],
                )?;
                Ok(false)
            })?;
            let _ = done;
        }
        Ok(())
    }
}

/// Now, as Unix ms.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres_and_passwords_hidden() {
        assert_eq!(numbered("SELECT a FROM t WHERE b = ? AND c > ?"), "SELECT a FROM t WHERE b = $1 AND c > $2");
        assert_eq!(redact("postgres://lab:s3cret@db.local/results"), "postgres://lab:***@db.local/results");
        assert_eq!(redact("postgres://db.local/results"), "postgres://db.local/results");
        assert_eq!(redact("reports/results.sqlite"), "reports/results.sqlite");
    }

    #[test]
    fn a_new_sqlite_database_is_migrated_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab/results.sqlite");
        let url = path.to_string_lossy().into_owned();
        let mut db = Database::open(&url).unwrap();
        assert_eq!((db.backend(), db.schema_version().unwrap()), ("sqlite", 6));
        drop(db);
        let mut db = Database::open(&format!("sqlite:{url}")).unwrap();
        assert_eq!(db.schema_version().unwrap(), 6);
        let rows = db.query("SELECT COUNT(*) FROM schema_migration", &[]).unwrap();
        assert_eq!(rows[0][0], Value::Int(6));
        // A database from a newer jackbench is refused, not damaged.
        db.transaction(|tx| {
            tx.execute("INSERT INTO schema_migration VALUES (99, 'future', 0)", &[])?;
            Ok(())
        })
        .unwrap();
        drop(db);
        let e = Database::open(&url).err().unwrap().to_string();
        assert!(e.contains("version 99") && e.contains(&url), "{e}");
    }

    /// A database of version 5 (before `incomplete`) keeps every unit, fault and measurement
    /// through the table's rebuild, takes the new verdict, and still enforces its foreign keys.
    #[test]
    fn a_version_5_database_keeps_its_rows_and_takes_incomplete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE schema_migration (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at_ms BIGINT NOT NULL)",
            )
            .unwrap();
            for (version, name, sql, _) in &MIGRATIONS[..5] {
                c.execute_batch(sql).unwrap();
                c.execute("INSERT INTO schema_migration VALUES (?1, ?2, 0)", rusqlite::params![version, name]).unwrap();
            }
            c.execute_batch(
                "INSERT INTO unit (serial, model, rig, bench, operator, batch, tested_at_ms, jackbench_version, verdict, capture_set, repeats, bench_s) \
                 VALUES ('SN-1', 'hs-100', 'qa-bench', 'b', 'kim', 'B1', 5, '0.1.0', 'fail', 'reports/B1/SN-1', 2, 2.96);
                 INSERT INTO fault VALUES (1, 1, 'dut', 'headset.channel_dead', 0.9, 'e', 'r');
                 INSERT INTO measurement VALUES (1, 'front-jack.playback_gain_db', 'playback_gain_db', -6.0, 'dB', -12.0, 0.0, 1);",
            )
            .unwrap();
        }
        let url = path.to_string_lossy().into_owned();
        let mut db = Database::open(&url).unwrap();
        assert_eq!(db.schema_version().unwrap(), 6);
        let rows = db
            .query("SELECT u.serial, u.repeats, u.bench_s, f.code, m.value FROM unit u JOIN fault f ON f.unit_id = u.id JOIN measurement m ON m.unit_id = u.id", &[])
            .unwrap();
        assert_eq!(
            rows,
            vec![vec![
                Value::Text("SN-1".into()),
                Value::Int(2),
                Value::Real(2.96),
                Value::Text("headset.channel_dead".into()),
                Value::Real(-6.0)
            ]]
        );
        db.transaction(|tx| {
            tx.execute(
                "INSERT INTO unit (serial, model, rig, bench, operator, batch, tested_at_ms, jackbench_version, verdict, capture_set) \
                 VALUES ('SN-2', 'hs-100', 'qa-bench', 'b', 'kim', 'B1', 6, '0.1.0', 'incomplete', 'x')",
                &[],
            )
        })
        .unwrap();
        let bad = db.transaction(|tx| tx.execute("INSERT INTO fault VALUES (99, 1, 'dut', 'x', NULL, 'e', 'r')", &[]));
        assert!(bad.is_err(), "a fault of no unit is refused: foreign keys are on");
        let wrong = db.transaction(|tx| {
            tx.execute(
                "INSERT INTO unit (serial, model, rig, bench, operator, batch, tested_at_ms, jackbench_version, verdict, capture_set) \
                 VALUES ('SN-3', 'm', 'r', 'b', 'o', 'B', 7, 'v', 'maybe', 'x')",
                &[],
            )
        });
        assert!(wrong.is_err(), "a verdict outside pass/fail/incomplete is refused");
    }
}
