//! The `optimizer_run` table: one row per combination an `optimize` sweep
//! ran (per walk-forward window and sample), written as combinations finish
//! and read back by a sweep started again with the same arguments, which
//! skips what is recorded; and `optimizer_session`, one row per sweep saying
//! what it swept, which `report` reads. [`OptimizerLog`] is the synchronous handle the
//! sweep (a thread pool, no async runtime) holds on the database.

use chrono::Utc;

use super::{DbTarget, Store, StoreError, rfc3339};
use crate::{sql_execute, sql_fetch_all, sql_scalar};

/// One combination's outcome as `optimizer_run` keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerRow {
    pub session_id: String,
    /// The invocation that ran it.
    pub batch_id: String,
    pub window_index: i64,
    /// `full`, `in` or `out`.
    pub sample: String,
    /// The swept values as canonical JSON: the resume key.
    pub params_key: String,
    /// Every parameter as the strategy got it (given values over defaults).
    pub parameters: serde_json::Value,
    pub objective: Option<f64>,
    pub metrics: Option<serde_json::Value>,
    pub strategy_digest: String,
    /// `None` when the combination ran to the end; else why it failed.
    pub failure: Option<String>,
}

/// A sweep as `optimizer_session` keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerSession {
    pub session_id: String,
    pub strategy_name: String,
    pub strategy_digest: String,
    /// What was swept and how it was ranked (liu-research's description).
    pub description: serde_json::Value,
}

impl Store {
    /// Records sweep `session.session_id` unless it is recorded already
    /// (a resumed sweep keeps its first row).
    pub async fn record_optimizer_session(&self, session: &OptimizerSession) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO optimizer_session (optimizer_session_id, strategy_name, strategy_digest, description, created_at)
                           VALUES (?, ?, ?, ?::jsonb, ?::timestamptz)
                           ON CONFLICT (optimizer_session_id) DO NOTHING";
        let mut tx = self.begin().await?;
        sql_execute!(
            tx,
            SQL,
            &session.session_id,
            &session.strategy_name,
            &session.strategy_digest,
            session.description.to_string(),
            rfc3339(Utc::now())
        )?;
        tx.commit().await?;
        Ok(())
    }

    /// The sweep `id` names: a sweep's own id, or the `batch_id` of an
    /// `optimize` invocation that ran some of its combinations (the latest
    /// such sweep). `None` when `id` is neither.
    pub async fn optimizer_session(&self, id: &str) -> Result<Option<OptimizerSession>, StoreError> {
        type Raw = (String, String, String, String);
        const SQL: &str = "SELECT optimizer_session_id, strategy_name, strategy_digest, description::text FROM optimizer_session
                           WHERE optimizer_session_id = ?
                              OR optimizer_session_id = (SELECT optimizer_session_id FROM optimizer_run WHERE batch_id = ?
                                                         ORDER BY optimizer_run_id DESC LIMIT 1)";
        let mut tx = self.begin().await?;
        let rows = sql_fetch_all!(Raw, tx, SQL, id, id)?;
        // An id matching as a session wins over one matching as a batch.
        let row = rows.iter().find(|r| r.0 == id).or(rows.first()).cloned();
        row.map(|(session_id, strategy_name, strategy_digest, description)| {
            let description = serde_json::from_str(&description)
                .map_err(|e| StoreError::Corrupt(format!("optimizer_session {session_id}: the description is not JSON: {e}")))?;
            Ok(OptimizerSession { session_id, strategy_name, strategy_digest, description })
        })
        .transpose()
    }

    /// Whether `optimizer_run` has rows of sweep `id`, or of an `optimize`
    /// run whose batch id is `id`.
    pub async fn has_optimizer_rows(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let n = sql_scalar!(i64, tx, "SELECT count(*) FROM optimizer_run WHERE optimizer_session_id = ? OR batch_id = ?", id, id)?;
        Ok(n > 0)
    }

    /// Every row of sweep `session_id`, in the order they were written.
    pub async fn optimizer_rows(&self, session_id: &str) -> Result<Vec<OptimizerRow>, StoreError> {
        type Raw = (String, i64, String, String, String, Option<f64>, Option<String>, String, String, Option<String>);
        const SQL: &str = "SELECT batch_id, window_index, sample, params_key, parameters::text, objective, metrics::text,
                                  strategy_digest, status, failure
                           FROM optimizer_run WHERE optimizer_session_id = ? ORDER BY optimizer_run_id";
        let mut tx = self.begin().await?;
        let rows = sql_fetch_all!(Raw, tx, SQL, session_id)?;
        let json = |what: &str, text: &str| {
            serde_json::from_str(text)
                .map_err(|e| StoreError::Corrupt(format!("optimizer_run of session {session_id}: {what} is not JSON: {e}")))
        };
        rows.into_iter()
            .map(|(batch_id, window_index, sample, params_key, parameters, objective, metrics, strategy_digest, status, failure)| {
                let failure = match (status.as_str(), failure) {
                    ("ok", _) => None,
                    (_, reason) => Some(reason.unwrap_or(status)),
                };
                Ok(OptimizerRow {
                    session_id: session_id.to_owned(),
                    batch_id,
                    window_index,
                    sample,
                    params_key,
                    parameters: json("parameters", &parameters)?,
                    objective,
                    metrics: metrics.as_deref().map(|m| json("metrics", m)).transpose()?,
                    strategy_digest,
                    failure,
                })
            })
            .collect()
    }

    /// Inserts `rows` in one transaction; a row whose combination is
    /// already recorded (same session, window, sample and key) is skipped,
    /// so writing again is harmless.
    pub async fn record_optimizer_rows(&self, rows: &[OptimizerRow]) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO optimizer_run (optimizer_session_id, batch_id, parameters, tstamp, window_index, sample,
                                                      params_key, objective, metrics, strategy_digest, status, failure)
                           VALUES (?, ?, ?::jsonb, ?::timestamptz, ?, ?, ?, ?, ?::jsonb, ?, ?, ?)
                           ON CONFLICT (optimizer_session_id, window_index, sample, params_key) DO NOTHING";
        let now = rfc3339(Utc::now());
        let mut tx = self.begin().await?;
        for r in rows {
            let status = if r.failure.is_some() { "failed" } else { "ok" };
            sql_execute!(
                tx,
                SQL,
                &r.session_id,
                &r.batch_id,
                r.parameters.to_string(),
                &now,
                r.window_index,
                &r.sample,
                &r.params_key,
                r.objective,
                r.metrics.as_ref().map(|m| m.to_string()),
                &r.strategy_digest,
                status,
                r.failure.as_deref()
            )?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// A synchronous handle on one database for a sweep: opened (and migrated)
/// once, with its own current-thread runtime.
pub struct OptimizerLog {
    runtime: tokio::runtime::Runtime,
    store: Store,
}

impl OptimizerLog {
    pub fn open(target: &DbTarget) -> Result<Self, StoreError> {
        let runtime = super::blocking::runtime().map_err(StoreError::Runtime)?;
        let store = runtime.block_on(Store::open(target))?;
        Ok(Self { runtime, store })
    }

    pub fn record_session(&self, session: &OptimizerSession) -> Result<(), StoreError> {
        self.runtime.block_on(self.store.record_optimizer_session(session))
    }

    /// See [`Store::optimizer_session`].
    pub fn session(&self, id: &str) -> Result<Option<OptimizerSession>, StoreError> {
        self.runtime.block_on(self.store.optimizer_session(id))
    }

    /// See [`Store::has_optimizer_rows`].
    pub fn has_rows(&self, id: &str) -> Result<bool, StoreError> {
        self.runtime.block_on(self.store.has_optimizer_rows(id))
    }

    pub fn rows(&self, session_id: &str) -> Result<Vec<OptimizerRow>, StoreError> {
        self.runtime.block_on(self.store.optimizer_rows(session_id))
    }

    pub fn record(&self, rows: &[OptimizerRow]) -> Result<(), StoreError> {
        self.runtime.block_on(self.store.record_optimizer_rows(rows))
    }
}
