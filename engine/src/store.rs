//! Persistence: `algo_run` and `new_trades` in an embedded SQLite file,
//! created and migrated on first use.
//!
//! A whole backtest is written in one transaction, so a failure leaves
//! nothing half-written. PostgreSQL has migrations with the same schema
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

/// One `algo_run` row and its fills.
pub struct RunRecord<'a> {
    pub algo_name: &'a str,
    pub algo_env: &'a str,
    pub parameters: &'a serde_json::Value,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub end_reason: &'a str,
    pub strategy_digest: &'a str,
    pub fuel_used: u64,
    pub fills: &'a [Fill],
    /// Symbol names by id.
    pub symbols: &'a [String],
}

pub struct Store {
    pool: SqlitePool,
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
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open { target: name.clone(), source })?;
        SQLITE_MIGRATIONS.run(&pool).await.map_err(|source| StoreError::Migrate { target: name, source })?;
        Ok(Self { pool })
    }

    /// Writes one batch of runs atomically; returns their `algo_run_id`s.
    pub async fn write_runs(&self, batch_id: &str, runs: &[RunRecord<'_>]) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let written = rfc3339(Utc::now());
        let build = env!("CARGO_PKG_VERSION");
        let mut ids = Vec::with_capacity(runs.len());
        for run in runs {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO algo_run (algo_name, algo_env, build_number, parameters, start_time, end_time, end_reason, batch_id, strategy_digest, fuel_used)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING algo_run_id",
            )
            .bind(run.algo_name)
            .bind(run.algo_env)
            .bind(build)
            .bind(run.parameters.to_string())
            .bind(rfc3339(run.start_time))
            .bind(rfc3339(run.end_time))
            .bind(run.end_reason)
            .bind(batch_id)
            .bind(run.strategy_digest)
            .bind(i64::try_from(run.fuel_used).unwrap_or(i64::MAX))
            .fetch_one(&mut *tx)
            .await?;
            for chunk in run.fills.chunks(TRADE_ROWS_PER_INSERT) {
                let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                    "INSERT INTO new_trades (algo_run_id, symbol, operation, qty, price, indicators, client_time, tstamp, stop_price, target_price, fee, order_id) ",
                );
                q.push_values(chunk, |mut row, f| {
                    let indicators = if f.indicators.is_empty() { "{}" } else { f.indicators.as_str() };
                    row.push_bind(id)
                        .push_bind(run.symbols[f.symbol as usize].as_str())
                        .push_bind(f.operation.as_str())
                        .push_bind(f.qty)
                        .push_bind(f.price)
                        .push_bind(indicators)
                        .push_bind(event_time(f.time))
                        .push_bind(written.as_str())
                        .push_bind(f.stop_loss)
                        .push_bind(f.take_profit)
                        .push_bind(f.fee)
                        .push_bind(f.order_id as i64);
                });
                q.build().execute(&mut *tx).await?;
            }
            ids.push(id);
        }
        tx.commit().await?;
        Ok(ids)
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}
