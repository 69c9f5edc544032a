//! Persistence on an embedded SQLite file (the default) or a PostgreSQL
//! server: the same tables and meaning on both (`migrations/sqlite`,
//! `migrations/postgres`), migrated on first use.
//!
//! Statements are written once, with `?` placeholders and PostgreSQL casts
//! (`?::timestamptz`, `?::jsonb`); [`Dialect`] renders them for each backend
//! (numbered `$n` parameters for PostgreSQL, casts dropped for SQLite, whose
//! columns hold RFC 3339 text and checked JSON text).
//!
//! Runs and fills go through [`BatchWriter`], off the strategy thread;
//! callers without an async runtime use the synchronous calls of [`blocking`].

pub mod bars;
mod batch;
pub mod blocking;
mod journal;
pub mod market_data;
pub mod optimizer;
pub mod research;

use liu_core::domain::AlgoEnv;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use liu_core::domain::{Operation, Side, Timestamp};

pub use batch::{BatchWriter, Commit, ReplayedRun, RunEnd, RunStart};
pub use journal::journal_dir;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {target}: {source}")]
    Open { target: String, source: sqlx::Error },
    #[error("database {target}: migration failed: {source}")]
    Migrate { target: String, source: sqlx::migrate::MigrateError },
    #[error("database write failed: {0}")]
    Write(#[from] sqlx::Error),
    #[error("the run ended without finishing its database batch; nothing was committed")]
    Abandoned,
    #[error("database unreachable at the end of the run: {rows} rows kept in the journal {}; they are written the next time a run opens the database", journal.display())]
    Deferred { rows: usize, journal: PathBuf },
    #[error("journal {}: {message}", path.display())]
    Journal { path: PathBuf, message: String },
    #[error("database holds an unreadable row: {0}")]
    Corrupt(String),
    /// The tokio runtime of a synchronous call ([`blocking`]) could not be built.
    #[error(transparent)]
    Runtime(std::io::Error),
}

/// A fill as `new_trades` keeps it, with the strategy that made it.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedFill {
    pub algo_name: String,
    /// The run's resolved parameters: with the name, which strategy of the plan made the fill.
    pub parameters: serde_json::Value,
    pub symbol: String,
    pub side: Side,
    pub qty: f64,
    pub price: f64,
    pub fee: f64,
    pub time: Timestamp,
}

/// A database reference as the user wrote it: a path, `sqlite://…` or `postgres://…`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DbTarget {
    Sqlite(PathBuf),
    Postgres(String),
}

impl FromStr for DbTarget {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            DbTarget::Postgres(s.to_owned())
        } else {
            let path = s.strip_prefix("sqlite://").or_else(|| s.strip_prefix("sqlite:")).unwrap_or(s);
            DbTarget::Sqlite(PathBuf::from(path))
        })
    }
}

impl DbTarget {
    /// The full reference, credentials included: for handing to a child
    /// process through its environment, never for printing.
    pub fn url(&self) -> String {
        match self {
            DbTarget::Sqlite(p) => p.display().to_string(),
            DbTarget::Postgres(url) => url.clone(),
        }
    }
}

impl std::fmt::Display for DbTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbTarget::Sqlite(p) => write!(f, "{}", p.display()),
            // Never print credentials embedded in a URL.
            DbTarget::Postgres(url) => match url.rsplit_once('@') {
                Some((_, host)) => write!(f, "postgres://…@{host}"),
                None => write!(f, "{url}"),
            },
        }
    }
}

/// Which SQL dialect a statement is rendered for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Renders a statement written with `?` placeholders and PostgreSQL
    /// `::type` casts. Neither appears inside the statements' literals.
    pub fn render(self, sql: &'static str) -> Cow<'static, str> {
        match self {
            Dialect::Sqlite if !sql.contains("::") => Cow::Borrowed(sql),
            Dialect::Sqlite => {
                let mut out = String::with_capacity(sql.len());
                let mut rest = sql;
                while let Some(at) = rest.find("::") {
                    out.push_str(&rest[..at]);
                    rest = rest[at + 2..].trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '[' || c == ']');
                }
                out.push_str(rest);
                Cow::Owned(out)
            }
            Dialect::Postgres => {
                let mut out = String::with_capacity(sql.len() + 16);
                let mut n = 0;
                for c in sql.chars() {
                    if c == '?' {
                        n += 1;
                        out.push('$');
                        out.push_str(&n.to_string());
                    } else {
                        out.push(c);
                    }
                }
                Cow::Owned(out)
            }
        }
    }
}

/// An open pool on either backend.
#[derive(Clone, Debug)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A transaction on either backend.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Runs a statement (see [`Dialect::render`]) on a [`Tx`] or [`Pool`] with
/// the given binds; evaluates to `Result<u64 rows affected, sqlx::Error>`.
#[macro_export]
macro_rules! sql_execute {
    ($on:expr, $sql:expr $(, $arg:expr)* $(,)?) => {{
        use $crate::store::Dialect;
        match $on.for_backend() {
            $crate::store::Backend::Sqlite(c) => sqlx::query(sqlx::AssertSqlSafe(Dialect::Sqlite.render($sql)))
                $(.bind($arg))*.execute(c).await.map(|r| r.rows_affected()),
            $crate::store::Backend::Postgres(c) => sqlx::query(sqlx::AssertSqlSafe(Dialect::Postgres.render($sql)))
                $(.bind($arg))*.execute(c).await.map(|r| r.rows_affected()),
        }
    }};
}

/// Like [`sql_execute!`] for a statement returning one scalar of type `$t`.
#[macro_export]
macro_rules! sql_scalar {
    ($t:ty, $on:expr, $sql:expr $(, $arg:expr)* $(,)?) => {{
        use $crate::store::Dialect;
        match $on.for_backend() {
            $crate::store::Backend::Sqlite(c) => sqlx::query_scalar::<_, $t>(sqlx::AssertSqlSafe(Dialect::Sqlite.render($sql)))
                $(.bind($arg))*.fetch_one(c).await,
            $crate::store::Backend::Postgres(c) => sqlx::query_scalar::<_, $t>(sqlx::AssertSqlSafe(Dialect::Postgres.render($sql)))
                $(.bind($arg))*.fetch_one(c).await,
        }
    }};
}

/// Like [`sql_execute!`] for a statement returning rows of type `$t` (a tuple or `FromRow`).
#[macro_export]
macro_rules! sql_fetch_all {
    ($t:ty, $on:expr, $sql:expr $(, $arg:expr)* $(,)?) => {{
        use $crate::store::Dialect;
        match $on.for_backend() {
            $crate::store::Backend::Sqlite(c) => sqlx::query_as::<_, $t>(sqlx::AssertSqlSafe(Dialect::Sqlite.render($sql)))
                $(.bind($arg))*.fetch_all(c).await,
            $crate::store::Backend::Postgres(c) => sqlx::query_as::<_, $t>(sqlx::AssertSqlSafe(Dialect::Postgres.render($sql)))
                $(.bind($arg))*.fetch_all(c).await,
        }
    }};
}

/// A connection-like executor of either backend, as the macros use it.
pub enum Backend<'c> {
    Sqlite(&'c mut sqlx::SqliteConnection),
    Postgres(&'c mut sqlx::PgConnection),
}

impl Tx {
    pub fn for_backend(&mut self) -> Backend<'_> {
        match self {
            Tx::Sqlite(tx) => Backend::Sqlite(tx),
            Tx::Postgres(tx) => Backend::Postgres(tx),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Tx::Sqlite(_) => Dialect::Sqlite,
            Tx::Postgres(_) => Dialect::Postgres,
        }
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }
}

/// An open, migrated database.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
    target: DbTarget,
}

/// One migration and whether it has been applied.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MigrationStatus {
    pub version: i64,
    pub description: String,
    pub applied: bool,
}

impl Store {
    /// Opens (creating a SQLite file if needed) and migrates the database.
    pub async fn open(target: &DbTarget) -> Result<Self, StoreError> {
        let store = Self::connect(target).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens without migrating (for `db status`).
    pub async fn connect(target: &DbTarget) -> Result<Self, StoreError> {
        let name = target.to_string();
        let open_error = |source| StoreError::Open { target: name.clone(), source };
        let pool = match target {
            DbTarget::Sqlite(path) => {
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10));
                // One writer: SQLite serialises writes anyway, and one
                // connection keeps a transaction's statements together.
                Pool::Sqlite(SqlitePoolOptions::new().max_connections(1).connect_with(options).await.map_err(open_error)?)
            }
            DbTarget::Postgres(url) => {
                let options = PgConnectOptions::from_str(url).map_err(open_error)?;
                Pool::Postgres(
                    PgPoolOptions::new()
                        .max_connections(4)
                        .acquire_timeout(Duration::from_secs(5))
                        .connect_with(options)
                        .await
                        .map_err(open_error)?,
                )
            }
        };
        Ok(Self { pool, target: target.clone() })
    }

    /// Applies the backend's pending migrations (concurrent callers wait on a lock).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let result = match &self.pool {
            Pool::Sqlite(p) => SQLITE_MIGRATIONS.run(p).await,
            Pool::Postgres(p) => POSTGRES_MIGRATIONS.run(p).await,
        };
        result.map_err(|source| StoreError::Migrate { target: self.target.to_string(), source })
    }

    /// Every migration of the backend, and whether it is applied.
    pub async fn migration_status(&self) -> Result<Vec<MigrationStatus>, StoreError> {
        let (migrator, applied): (&sqlx::migrate::Migrator, Vec<i64>) = match &self.pool {
            Pool::Sqlite(p) => {
                let exists: bool =
                    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')")
                        .fetch_one(p)
                        .await?;
                let applied = if exists {
                    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success").fetch_all(p).await?
                } else {
                    Vec::new()
                };
                (&SQLITE_MIGRATIONS, applied)
            }
            Pool::Postgres(p) => {
                let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL").fetch_one(p).await?;
                let applied = if exists {
                    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success").fetch_all(p).await?
                } else {
                    Vec::new()
                };
                (&POSTGRES_MIGRATIONS, applied)
            }
        };
        Ok(migrator
            .iter()
            .map(|m| MigrationStatus { version: m.version, description: m.description.to_string(), applied: applied.contains(&m.version) })
            .collect())
    }

    /// Writes (and removes) the journals that runs left for this database
    /// while it was unreachable; returns how many rows they held.
    pub async fn write_journals(&self) -> Result<usize, StoreError> {
        journal::replay_journals(self).await
    }

    pub fn target(&self) -> &DbTarget {
        &self.target
    }

    pub fn dialect(&self) -> Dialect {
        match self.pool {
            Pool::Sqlite(_) => Dialect::Sqlite,
            Pool::Postgres(_) => Dialect::Postgres,
        }
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// The `keystore` of every strategy in `context` (e.g. PAPER): values by key, by strategy name.
    pub async fn load_keystore(&self, context: &str) -> Result<HashMap<String, BTreeMap<String, String>>, StoreError> {
        let rows: Vec<(String, String, String)> = match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query_as("SELECT algo_name, key, value FROM keystore WHERE context = ?").bind(context).fetch_all(p).await?
            }
            Pool::Postgres(p) => {
                sqlx::query_as("SELECT algo_name, key, value FROM keystore WHERE context = $1").bind(context).fetch_all(p).await?
            }
        };
        let mut out: HashMap<String, BTreeMap<String, String>> = HashMap::new();
        for (algo_name, key, value) in rows {
            out.entry(algo_name).or_default().insert(key, value);
        }
        Ok(out)
    }

    /// Every fill recorded so far in `batch_id` under `env`, in the order each
    /// run made them, runs in the order they started: what a restarted
    /// consumer books into its strategies' accounts so that the positions of
    /// the process it replaces carry over.
    pub async fn batch_fills(&self, batch_id: &str, env: AlgoEnv) -> Result<Vec<RecordedFill>, StoreError> {
        const SQL: &str = "SELECT r.algo_name, r.parameters::text, t.symbol, t.operation, t.qty, t.price, t.fee, t.client_time::text
                           FROM new_trades t JOIN algo_run r ON r.algo_run_id = t.algo_run_id
                           WHERE r.batch_id = ? AND r.algo_env = ?
                           ORDER BY t.algo_run_id, t.fill_seq, t.trade_id";
        let mut tx = self.begin().await?;
        let rows = crate::sql_fetch_all!((String, String, String, String, f64, f64, f64, String), tx, SQL, batch_id, env.as_str())?;
        rows.into_iter()
            .map(|(algo_name, parameters, symbol, operation, qty, price, fee, time)| {
                let parameters = serde_json::from_str(&parameters)
                    .map_err(|e| StoreError::Corrupt(format!("algo_run of batch {batch_id}: parameters are not JSON: {e}")))?;
                let side = Operation::from_name(&operation)
                    .ok_or_else(|| StoreError::Corrupt(format!("new_trades of batch {batch_id}: unknown operation {operation:?}")))?
                    .side();
                let time = liu_core::time::parse_timestamp(&time)
                    .ok_or_else(|| StoreError::Corrupt(format!("new_trades of batch {batch_id}: unreadable client_time {time:?}")))?;
                Ok(RecordedFill { algo_name, parameters, symbol, side, qty, price, fee, time })
            })
            .collect()
    }

    /// The open orders saved in `batch_id` under `env` (see
    /// [`BatchWriter::open_orders`]): (strategy index, symbol, JSON array),
    /// what a restarted consumer puts back into its strategies' books.
    pub async fn batch_open_orders(&self, batch_id: &str, env: AlgoEnv) -> Result<Vec<(usize, String, String)>, StoreError> {
        const SQL: &str = "SELECT strategy, symbol, orders FROM open_orders WHERE batch_id = ? AND algo_env = ? ORDER BY strategy, symbol";
        let mut tx = self.begin().await?;
        let rows = crate::sql_fetch_all!((i64, String, String), tx, SQL, batch_id, env.as_str())?;
        Ok(rows.into_iter().map(|(strategy, symbol, orders)| (strategy as usize, symbol, orders)).collect())
    }

    /// Records a scanner's picks in `trending_tickers`, in one transaction.
    pub async fn record_trending(&self, batch_id: &str, scanner: &str, symbols: &[String], at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for symbol in symbols {
            sql_execute!(
                tx,
                "INSERT INTO trending_tickers (symbol, scanner_name, create_tstamp, batch_id) VALUES (?, ?, ?::timestamptz, ?)",
                symbol,
                scanner,
                rfc3339(at),
                batch_id
            )?;
        }
        tx.commit().await?;
        Ok(())
    }
}

pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Event time (ns since epoch) as RFC 3339.
pub fn event_time(t: Timestamp) -> String {
    liu_core::time::format_timestamp(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_render_for_each_dialect() {
        let sql = "INSERT INTO t (a, b, c) VALUES (?, ?::timestamptz, ?::jsonb)";
        assert_eq!(Dialect::Sqlite.render(sql), "INSERT INTO t (a, b, c) VALUES (?, ?, ?)");
        assert_eq!(Dialect::Postgres.render(sql), "INSERT INTO t (a, b, c) VALUES ($1, $2::timestamptz, $3::jsonb)");
        assert_eq!(Dialect::Sqlite.render("SELECT ?::float8[]"), "SELECT ?");
    }

    #[test]
    fn postgres_urls_print_without_credentials() {
        let t: DbTarget = "postgres://user:secret@db.example:5432/liu".parse().unwrap();
        assert_eq!(t.to_string(), "postgres://…@db.example:5432/liu");
        assert!(matches!("sqlite://x.db".parse::<DbTarget>().unwrap(), DbTarget::Sqlite(p) if p == std::path::Path::new("x.db")));
    }
}
