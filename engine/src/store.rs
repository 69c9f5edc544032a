//! Persistence: `algo_run`, `new_trades` and `trending_tickers` in an embedded SQLite file,
//! created and migrated on first use.
//!
//! A whole backtest is written in one transaction, from a writer thread
//! while it runs, so a failure leaves nothing half-written. PostgreSQL has migrations with the same schema
//! (`migrations/postgres`); running on it arrives with the data-layer work.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite};

use crate::domain::{Fill, Timestamp};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {target}: {source}")]
    Open { target: String, source: sqlx::Error },
    #[error("database {target}: migration failed: {source}")]
    Migrate { target: String, source: sqlx::migrate::MigrateError },
    #[error("database {target}: PostgreSQL is not supported yet; use a SQLite path or sqlite:// URL")]
    PostgresNotYetSupported { target: String },
    #[error("database write failed: {0}")]
    Write(#[from] sqlx::Error),
    #[error("the run ended without finishing its database batch; nothing was committed")]
    Abandoned,
}

/// A database reference as the user wrote it: a path, `sqlite://…` or `postgres://…`.
#[derive(Clone, Debug)]
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

/// The start of one `algo_run` row.
#[derive(Clone, Debug)]
pub struct RunStart {
    pub algo_name: String,
    pub algo_env: String,
    pub parameters: serde_json::Value,
    pub start_time: DateTime<Utc>,
    pub strategy_digest: String,
}

/// How an `algo_run` ended.
#[derive(Clone, Debug)]
pub struct RunEnd {
    pub end_time: DateTime<Utc>,
    pub end_reason: String,
    pub fuel_used: u64,
}

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

enum WriterMessage {
    Symbol { id: u32, name: String },
    Fills { run: usize, fills: Vec<Fill> },
    Finish(Vec<RunEnd>),
}

/// When a [`BatchWriter`] commits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Commit {
    /// Once, at [`BatchWriter::finish`]: a backtest is all or nothing.
    AtEnd,
    /// The runs at start, then each batch of fills as it arrives: a live
    /// session's trades are durable as soon as they happen.
    AsTheyCome,
}

/// Records one batch of runs from a background thread: `algo_run` rows at
/// start, fills as they arrive, the end fields at [`BatchWriter::finish`].
/// With [`Commit::AtEnd`] all of it is one transaction, and a writer dropped
/// without finishing rolls back, so a failed backtest leaves nothing behind.
pub struct BatchWriter {
    sender: std::sync::mpsc::Sender<WriterMessage>,
    thread: std::thread::JoinHandle<Result<Vec<i64>, StoreError>>,
}

impl BatchWriter {
    /// Opens and migrates the database and inserts the runs; returns once
    /// that is done (or failed), so connection errors surface before any work.
    pub fn start(target: &DbTarget, batch_id: &str, runs: Vec<RunStart>, symbols: Vec<String>, commit: Commit) -> Result<Self, StoreError> {
        let (sender, receiver) = std::sync::mpsc::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let (target, batch_id) = (target.clone(), batch_id.to_owned());
        let thread = std::thread::Builder::new()
            .name("liu-db-writer".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| StoreError::Open {
                    target: target.to_string(),
                    source: sqlx::Error::Io(e),
                })?;
                runtime.block_on(write_batch(&target, &batch_id, &runs, symbols, commit, receiver, ready_tx))
            })
            .map_err(|e| StoreError::Open { target: "writer thread".into(), source: sqlx::Error::Io(e) })?;
        match ready_rx.recv() {
            Ok(()) => Ok(Self { sender, thread }),
            // The thread ended before it was ready: it has the error.
            Err(_) => match thread.join() {
                Ok(Err(e)) => Err(e),
                _ => Err(StoreError::Write(sqlx::Error::WorkerCrashed)),
            },
        }
    }

    /// Names a symbol id used by later fills.
    pub fn symbol(&self, id: u32, name: &str) {
        let _ = self.sender.send(WriterMessage::Symbol { id, name: name.to_owned() });
    }

    /// Queues fills of run `run` (its index in the runs given to `start`).
    pub fn fills(&self, run: usize, fills: &[Fill]) {
        // A closed channel means the writer failed; `finish` reports why.
        let _ = self.sender.send(WriterMessage::Fills { run, fills: fills.to_vec() });
    }

    /// Writes the end of each run and commits; returns the `algo_run_id`s.
    pub fn finish(self, ends: Vec<RunEnd>) -> Result<Vec<i64>, StoreError> {
        let _ = self.sender.send(WriterMessage::Finish(ends));
        drop(self.sender);
        self.thread.join().unwrap_or(Err(StoreError::Write(sqlx::Error::WorkerCrashed)))
    }
}

async fn write_batch(
    target: &DbTarget,
    batch_id: &str,
    runs: &[RunStart],
    mut symbols: Vec<String>,
    commit: Commit,
    messages: std::sync::mpsc::Receiver<WriterMessage>,
    ready: std::sync::mpsc::SyncSender<()>,
) -> Result<Vec<i64>, StoreError> {
    let store = Store::open(target).await?;
    let mut tx = store.pool.begin().await?;
    let mut ids = Vec::with_capacity(runs.len());
    for run in runs {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO algo_run (algo_name, algo_env, build_number, parameters, start_time, batch_id, strategy_digest)
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING algo_run_id",
        )
        .bind(&run.algo_name)
        .bind(&run.algo_env)
        .bind(env!("CARGO_PKG_VERSION"))
        .bind(run.parameters.to_string())
        .bind(rfc3339(run.start_time))
        .bind(batch_id)
        .bind(&run.strategy_digest)
        .fetch_one(&mut *tx)
        .await?;
        ids.push(id);
    }
    if commit == Commit::AsTheyCome {
        tx.commit().await?;
        tx = store.pool.begin().await?;
    }
    let _ = ready.send(());
    let written = rfc3339(Utc::now());
    // Blocking receive is fine: this runtime has no other task, and sqlx's
    // SQLite driver works on its own thread.
    while let Ok(message) = messages.recv() {
        match message {
            WriterMessage::Symbol { id, name } => {
                let index = id as usize;
                if symbols.len() <= index {
                    symbols.resize(index + 1, String::new());
                }
                symbols[index] = name;
            }
            WriterMessage::Fills { run, fills } => {
                for chunk in fills.chunks(TRADE_ROWS_PER_INSERT) {
                    insert_fills(&mut tx, ids[run], &symbols, chunk, &written).await?;
                }
                if commit == Commit::AsTheyCome {
                    tx.commit().await?;
                    tx = store.pool.begin().await?;
                }
            }
            WriterMessage::Finish(ends) => {
                for (id, end) in ids.iter().zip(&ends) {
                    sqlx::query("UPDATE algo_run SET end_time = ?, end_reason = ?, fuel_used = ? WHERE algo_run_id = ?")
                        .bind(rfc3339(end.end_time))
                        .bind(&end.end_reason)
                        .bind(i64::try_from(end.fuel_used).unwrap_or(i64::MAX))
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                return Ok(ids);
            }
        }
    }
    // The sender went away without finishing: roll back (by dropping `tx`).
    Err(StoreError::Abandoned)
}

async fn insert_fills(
    tx: &mut sqlx::Transaction<'static, Sqlite>,
    run_id: i64,
    symbols: &[String],
    fills: &[Fill],
    written: &str,
) -> Result<(), StoreError> {
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
        "INSERT INTO new_trades (algo_run_id, symbol, operation, qty, price, indicators, client_time, tstamp, stop_price, target_price, fee, order_id) ",
    );
    q.push_values(fills, |mut row, f| {
        let indicators = if f.indicators.is_empty() { "{}" } else { f.indicators.as_str() };
        row.push_bind(run_id)
            .push_bind(symbols.get(f.symbol as usize).cloned().unwrap_or_default())
            .push_bind(f.operation.as_str())
            .push_bind(f.qty)
            .push_bind(f.price)
            .push_bind(indicators.to_owned())
            .push_bind(event_time(f.time))
            .push_bind(written.to_owned())
            .push_bind(f.stop_loss)
            .push_bind(f.take_profit)
            .push_bind(f.fee)
            .push_bind(f.order_id as i64);
    });
    q.build().execute(&mut **tx).await?;
    Ok(())
}

/// Rows per multi-row INSERT. Small enough that the statement is prepared
/// once and reused from sqlx's cache; large enough to amortise each call.
const TRADE_ROWS_PER_INSERT: usize = 1024;

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Event time (ns since epoch) as RFC 3339.
pub fn event_time(t: Timestamp) -> String {
    crate::data::format_timestamp(t)
}

impl Store {
    /// Opens (creating if needed) and migrates the database.
    pub async fn open(target: &DbTarget) -> Result<Self, StoreError> {
        let name = target.to_string();
        let path: &Path = match target {
            DbTarget::Sqlite(p) => p,
            DbTarget::Postgres(_) => return Err(StoreError::PostgresNotYetSupported { target: name }),
        };
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true);
        let options = options.busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open { target: name.clone(), source })?;
        SQLITE_MIGRATIONS.run(&pool).await.map_err(|source| StoreError::Migrate { target: name, source })?;
        Ok(Self { pool })
    }

    /// Records a scanner's picks in `trending_tickers`, in one transaction.
    pub async fn record_trending(&self, batch_id: &str, scanner: &str, symbols: &[String], at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for symbol in symbols {
            sqlx::query("INSERT INTO trending_tickers (symbol, scanner_name, create_tstamp, batch_id) VALUES (?, ?, ?, ?)")
                .bind(symbol)
                .bind(scanner)
                .bind(rfc3339(at))
                .bind(batch_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
