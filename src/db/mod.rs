//! Database access: one connection type over SQLite and PostgreSQL, the r2d2 pool, the
//! per-connection SQLite pragmas and the embedded migrations of both backends.
//!
//! The backend is chosen from the URL scheme, never guessed: diesel's `MultiConnection`
//! tries every backend and hides why the real one failed, so we open one concrete
//! connection first and only then build the pool.
//!
//! A lookup by a unique key reads with `get_result`, not `first`: diesel sends
//! `.first()`'s `LIMIT 1` as a bound parameter, and SQLite (3.53 here) lets the planner
//! read a bound LIMIT, so every new binding expires the statement and the next step
//! prepares it again from the SQL text — a whole parse and plan per execution, which
//! was a quarter of the rule path's CPU in `hookdesk bench-e2e`.

pub mod prepared;
pub mod schema;
pub mod text;
mod trace;
pub mod versioned;
mod write;

pub use trace::install_from_env as install_sql_trace;

pub use write::{busy_total, is_busy, note_busy, write, write_first, write_joined};

use std::time::Duration;

use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{CustomizeConnection, ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

pub type DbPool = Pool<Manager>;
pub type PooledConn = PooledConnection<Manager>;

/// Opens the pool's connections with the backend's own type. diesel's generic
/// `ConnectionManager<DbConn>` tries every backend and reports any failure as "Invalid
/// connection url for multiconnection", which hid why a connection could not be opened
/// under load (e.g. PostgreSQL's "too many clients").
#[derive(Debug, Clone)]
pub struct Manager {
    backend: Backend,
}

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConn, Self::Error> {
        match &self.backend {
            Backend::Sqlite(p) => SqliteConnection::establish(p).map(DbConn::Sqlite),
            Backend::Postgres(u) => PgConnection::establish(u).map(DbConn::Postgres),
        }
        .map_err(diesel::r2d2::Error::ConnectionError)
    }

    /// Checked on every checkout, without a round trip. It used to be `SELECT 1`: two or
    /// three round trips per delivery on PostgreSQL (a pool checkout for the API call's
    /// authentication, one for its work, one per claim and record), each costing both
    /// processes CPU. A PostgreSQL server that ends a session (restart, failover,
    /// `pg_terminate_backend`) sends its farewell and closes the socket; a non-blocking
    /// read of the socket (libpq's `PQconsumeInput`, through `notifications_iter`; pooled
    /// connections never `LISTEN`, so nothing is consumed) then fails, and r2d2 opens a
    /// new connection instead. (SQLite's are not checked: see `connect_with`.)
    fn is_valid(&self, conn: &mut DbConn) -> Result<(), Self::Error> {
        match conn {
            DbConn::Postgres(pg) => {
                // Twice: one read takes the server's farewell (an error message) and
                // succeeds; the next finds the socket closed.
                for _ in 0..2 {
                    for n in pg.notifications_iter() {
                        n.map_err(diesel::r2d2::Error::QueryError)?;
                    }
                }
                Ok(())
            }
            DbConn::Sqlite(_) => Ok(()),
        }
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// Which database a URL points at, decided by its scheme alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A file path (or `:memory:`), as SQLite wants it.
    Sqlite(String),
    /// The URL exactly as given, for libpq.
    Postgres(String),
}

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error(
        "unsupported database URL scheme `{0}`: use sqlite://PATH, a file path, or postgres://…"
    )]
    UnsupportedScheme(String),
    #[error("database URL is empty")]
    Empty,
    #[error("cannot open the database: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error("cannot build the connection pool: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("cannot apply migrations: {0}")]
    Migrate(String),
    #[error("database error during setup: {0}")]
    Query(#[from] diesel::result::Error),
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self, DbSetupError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(DbSetupError::Empty);
        }
        if let Some(rest) = url.strip_prefix("sqlite://") {
            return Ok(Backend::Sqlite(rest.to_string()));
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            return Ok(Backend::Sqlite(rest.to_string()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Backend::Postgres(url.to_string()));
        }
        // Anything with a scheme we don't know is refused rather than taken for a file name.
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(DbSetupError::UnsupportedScheme(scheme.to_string()));
        }
        if let Some((scheme, _)) = url.split_once(':')
            && !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+')
            && scheme.len() > 1
        {
            return Err(DbSetupError::UnsupportedScheme(scheme.to_string()));
        }
        Ok(Backend::Sqlite(url.to_string()))
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self, Backend::Sqlite(_))
    }

    fn connection_string(&self) -> &str {
        match self {
            Backend::Sqlite(p) | Backend::Postgres(p) => p,
        }
    }
}

/// Applied to every SQLite connection the pool opens. `busy_timeout` must come before
/// `journal_mode=WAL`, or opening several connections at once can fail with "locked".
#[derive(Debug)]
struct SqlitePragmas {
    busy_timeout_ms: u32,
}

impl CustomizeConnection<DbConn, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut DbConn) -> Result<(), diesel::r2d2::Error> {
        if let DbConn::Sqlite(c) = conn {
            c.batch_execute(&sqlite_pragmas(self.busy_timeout_ms))
                .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

/// How long a writer waits for the write lock unless configured (`db_busy_timeout_ms`).
pub const DEFAULT_BUSY_TIMEOUT_MS: u32 = 10_000;

/// `wal_autocheckpoint = 0`: checkpoints are `db::write`'s (its rule 6), off the writers' queue.
fn sqlite_pragmas(busy_timeout_ms: u32) -> String {
    format!(
        "PRAGMA busy_timeout = {busy_timeout_ms}; PRAGMA journal_mode = WAL; \
         PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
         PRAGMA wal_autocheckpoint = 0;"
    )
}

/// Opens the pool after proving one direct connection works, so a bad URL or a
/// server that is down fails at once with the driver's own message.
pub fn connect(url: &str, max_size: u32) -> Result<DbPool, DbSetupError> {
    connect_with(url, max_size, DEFAULT_BUSY_TIMEOUT_MS)
}

/// [`connect`] with SQLite's busy timeout: how long a writer waits for the write lock.
pub fn connect_with(
    url: &str,
    max_size: u32,
    busy_timeout_ms: u32,
) -> Result<DbPool, DbSetupError> {
    install_sql_trace();
    let backend = Backend::from_url(url)?;
    let conn_str = backend.connection_string().to_string();
    match &backend {
        Backend::Sqlite(_) => {
            let mut c = SqliteConnection::establish(&conn_str)?;
            c.batch_execute(&sqlite_pragmas(busy_timeout_ms))?;
        }
        Backend::Postgres(_) => {
            PgConnection::establish(&conn_str)?;
        }
    }
    // A SQLite connection is a file handle that cannot go stale; a PostgreSQL one can be
    // cut by a server restart, so it is checked on checkout (`Manager::is_valid`, no round
    // trip).
    let test_on_check_out = !backend.is_sqlite();
    let manager = Manager { backend };
    let pool = Pool::builder()
        .max_size(max_size)
        .test_on_check_out(test_on_check_out)
        .connection_timeout(Duration::from_secs(10))
        .connection_customizer(Box::new(SqlitePragmas { busy_timeout_ms }))
        .build(manager)?;
    Ok(pool)
}

/// Applies every pending migration of the connection's backend.
pub fn run_migrations(conn: &mut DbConn) -> Result<usize, DbSetupError> {
    let applied = match conn {
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
        DbConn::Postgres(c) => {
            // Nodes started together take turns (a session lock, released below or when
            // the connection closes): the later ones find nothing pending, instead of
            // racing to create the same tables.
            c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
                .map_err(|e| DbSetupError::Migrate(e.to_string()))?;
            let applied = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.len());
            let _ = c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
            applied
        }
    };
    applied.map_err(|e| DbSetupError::Migrate(e.to_string()))
}

/// The PostgreSQL advisory lock key that serialises migrations across processes.
const MIGRATION_LOCK: i64 = 0x686f_6f6b_6465_736b; // "hookdesk"

/// Reverts every migration (used by the up → down → up test and by nothing else).
pub fn revert_all_migrations(conn: &mut DbConn) -> Result<(), DbSetupError> {
    let res = match conn {
        DbConn::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS).map(|_| ()),
        DbConn::Postgres(c) => c.revert_all_migrations(POSTGRES_MIGRATIONS).map(|_| ()),
    };
    res.map_err(|e| DbSetupError::Migrate(e.to_string()))
}

/// Table name → sorted column names, as the database itself reports them. The test
/// that keeps the two migration trees in step compares these.
pub fn describe_schema(
    conn: &mut DbConn,
) -> Result<std::collections::BTreeMap<String, Vec<String>>, DbSetupError> {
    use diesel::RunQueryDsl;
    use diesel::sql_types::Text;

    #[derive(diesel::QueryableByName)]
    struct Col {
        #[diesel(sql_type = Text)]
        table_name: String,
        #[diesel(sql_type = Text)]
        column_name: String,
    }

    let cols: Vec<Col> = match conn {
        DbConn::Sqlite(c) => diesel::sql_query(
            "SELECT m.name AS table_name, p.name AS column_name \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
             AND m.name <> '__diesel_schema_migrations'",
        )
        .load(c)?,
        DbConn::Postgres(c) => diesel::sql_query(
            "SELECT table_name::text AS table_name, column_name::text AS column_name \
             FROM information_schema.columns WHERE table_schema = current_schema() \
             AND table_name <> '__diesel_schema_migrations'",
        )
        .load(c)?,
    };
    let mut out = std::collections::BTreeMap::<String, Vec<String>>::new();
    for c in cols {
        out.entry(c.table_name).or_default().push(c.column_name);
    }
    for v in out.values_mut() {
        v.sort();
    }
    Ok(out)
}

/// Runs diesel work on the blocking thread pool, never on the async executor. Settings
/// read during the call are read from the database once ([`settings::get`]).
pub async fn run<T, F>(pool: &DbPool, f: F) -> crate::error::Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConn) -> crate::error::Result<T> + Send + 'static,
{
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get()?;
        let _scope = settings::Scope::enter();
        f(&mut conn)
    })
    .await
    .map_err(|e| crate::error::Error::Internal(format!("blocking task failed: {e}")))?
}

/// Current time as stored in the database (UTC, naive).
pub fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

diesel::define_sql_function! {
    /// SQL `lower()`, so free-text search ignores case on PostgreSQL too.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// `s` with LIKE's wildcards escaped (use with `.escape('\\')`).
pub fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Small named values the application keeps in the database (e.g. the cookie key),
/// so every web node sharing the database agrees on them.
///
/// Within one [`run`](super::run) call the whole (small) table is read once, at the first
/// [`get`], and later reads answer from that copy: a request used to read a definition
/// version row half a dozen times (webhooks, forms, rules, the public base URL), one
/// round trip each. The copy is as of that first read, as if the whole call had read
/// then; any [`put`] in the call drops it, so the next read sees the call's own write
/// (or, after a rollback, the stored value again).
pub mod settings {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use diesel::prelude::*;

    use super::DbConn;
    use super::schema::settings;
    use crate::error::Result;

    /// Per thread, because a `run` call runs on one blocking thread from start to end.
    /// `None`: not inside `run` (every read goes to the database); `Some(None)`: inside,
    /// nothing read yet; `Some(Some(copy))`: the table as first read.
    type Copy = Option<Option<HashMap<String, String>>>;

    thread_local! {
        static SCOPE: RefCell<Copy> = const { RefCell::new(None) };
    }

    /// Marks the current thread as inside a `run` call until dropped.
    pub(super) struct Scope(());

    impl Scope {
        pub(super) fn enter() -> Self {
            SCOPE.with(|s| *s.borrow_mut() = Some(None));
            Scope(())
        }
    }

    impl Drop for Scope {
        fn drop(&mut self) {
            SCOPE.with(|s| *s.borrow_mut() = None);
        }
    }

    pub fn get(conn: &mut DbConn, name: &str) -> Result<Option<String>> {
        let in_scope = SCOPE.with(|s| {
            s.borrow()
                .as_ref()
                .map(|copy| copy.as_ref().map(|m| m.get(name).cloned()))
        });
        match in_scope {
            None => get_stored(conn, name),
            Some(Some(known)) => Ok(known),
            Some(None) => {
                let all: HashMap<String, String> = settings::table
                    .select((settings::name, settings::value))
                    .load::<(String, String)>(conn)?
                    .into_iter()
                    .collect();
                let v = all.get(name).cloned();
                SCOPE.with(|s| *s.borrow_mut() = Some(Some(all)));
                Ok(v)
            }
        }
    }

    /// The stored value, never the call's copy.
    fn get_stored(conn: &mut DbConn, name: &str) -> Result<Option<String>> {
        Ok(settings::table
            .find(name)
            .select(settings::value)
            .get_result(conn)
            .optional()?)
    }

    /// Drops the call's copy: the next [`get`] reads the table again.
    fn forget() {
        SCOPE.with(|s| {
            if let Some(copy) = &mut *s.borrow_mut() {
                *copy = None;
            }
        });
    }

    /// Stores `value` under `name`, replacing what was there. Call inside a write.
    /// (diesel's upsert is not available across backends; a migration that seeds the
    /// row keeps two first writers from racing to insert it.)
    pub fn put(conn: &mut DbConn, name: &str, value: &str) -> Result<()> {
        forget();
        let n = diesel::update(settings::table.find(name))
            .set(settings::value.eq(value))
            .execute(conn)?;
        if n == 0 {
            diesel::insert_into(settings::table)
                .values((settings::name.eq(name), settings::value.eq(value)))
                .execute(conn)?;
        }
        Ok(())
    }

    /// Returns the stored value, storing `init()` first if there is none. Two nodes
    /// racing here both end up with the value that won the insert.
    pub fn get_or_init(
        conn: &mut DbConn,
        name: &str,
        init: impl FnOnce() -> String,
    ) -> Result<String> {
        if let Some(v) = get(conn, name)? {
            return Ok(v);
        }
        forget();
        let v = init();
        let inserted = diesel::insert_into(settings::table)
            .values((settings::name.eq(name), settings::value.eq(&v)))
            .execute(conn);
        match inserted {
            Ok(_) => Ok(v),
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => get_stored(conn, name)?
                .ok_or_else(|| crate::error::Error::Internal(format!("setting {name} vanished"))),
            Err(e) => Err(e.into()),
        }
    }
}
