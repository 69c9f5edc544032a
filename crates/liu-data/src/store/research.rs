//! What `report` and `export` read and write of a finished batch: the
//! per-bar equity curves and replayed bars stored with it (`equity_curve`,
//! `batch_bars`, see their migration for the packed layout), its runs and
//! fills, the runs of other batches linked to its runs by `ref_algo_run` (a
//! `trade` session and its replays), and Liu's per-trade analysis tables
//! (`gain_loss`, `trade_analysis`).

use liu_core::domain::{Bar, Operation, Timestamp};

use super::{Store, StoreError, Tx, event_time, rfc3339};
use crate::{sql_execute, sql_fetch_all};

/// One run's equity, one point per time step of the replay.
#[derive(Clone, Debug, PartialEq)]
pub struct EquityCurve {
    pub initial_equity: f64,
    pub times: Vec<Timestamp>,
    pub equity: Vec<f64>,
    /// Points at which the run had a position open.
    pub steps_in_market: u64,
}

/// The bars of one symbol a batch replayed, in time order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SymbolBars {
    pub symbol: String,
    pub times: Vec<Timestamp>,
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    pub close: Vec<f64>,
}

impl SymbolBars {
    /// Appends a bar (bars come in time order).
    pub fn push(&mut self, bar: &Bar) {
        self.times.push(bar.time);
        self.open.push(bar.open);
        self.high.push(bar.high);
        self.low.push(bar.low);
        self.close.push(bar.close);
    }
}

/// A fill as stored in `new_trades`.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredFill {
    pub symbol: String,
    pub operation: Operation,
    pub qty: f64,
    pub price: f64,
    pub fee: f64,
    pub time: Timestamp,
    pub stop_price: Option<f64>,
}

/// One `algo_run` of a batch with its fills and, when stored, its curve.
#[derive(Clone, Debug)]
pub struct BatchRun {
    pub algo_run_id: i64,
    pub algo_name: String,
    pub algo_env: String,
    pub parameters: serde_json::Value,
    pub end_reason: Option<String>,
    /// The run this one replays (`ref_algo_run`).
    pub ref_algo_run: Option<i64>,
    pub fills: Vec<StoredFill>,
    pub curve: Option<EquityCurve>,
}

/// A run of another batch linked to a run of this one: it replays that
/// run, or that run replays it.
#[derive(Clone, Debug)]
pub struct LinkedRun {
    pub batch_id: String,
    pub algo_run_id: i64,
    pub algo_name: String,
    /// The run of this batch it is linked to.
    pub linked_to: i64,
    /// It replays the run of this batch (else that run replays it).
    pub replays_it: bool,
    pub curve: Option<EquityCurve>,
    /// Its fills, in order: loaded only when it stored no curve, to rebuild one.
    pub fills: Vec<StoredFill>,
}

/// A batch as stored: its runs in the order they started, the bars it
/// replayed, and the runs of other batches linked to its runs.
#[derive(Clone, Debug)]
pub struct StoredBatch {
    pub batch_id: String,
    pub runs: Vec<BatchRun>,
    pub bars: Vec<SymbolBars>,
    pub linked: Vec<LinkedRun>,
}

/// A `trade_analysis` row: one round trip.
#[derive(Clone, Debug, PartialEq)]
pub struct TripAnalysis {
    pub symbol: String,
    pub start: Timestamp,
    pub end: Timestamp,
    pub gain_percentage: f64,
    pub gain_value: f64,
    pub r_units: Option<f64>,
}

/// A `gain_loss` row: one symbol's result in a run.
#[derive(Clone, Debug, PartialEq)]
pub struct SymbolGain {
    pub symbol: String,
    pub gain_percentage: f64,
    pub gain_value: f64,
}

/// The analysis rows of one run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunAnalysis {
    pub trips: Vec<TripAnalysis>,
    pub gains: Vec<SymbolGain>,
}

/// Why a synchronous call of this module failed.
#[derive(Debug, thiserror::Error)]
pub enum ResearchStoreError {
    #[error(transparent)]
    Runtime(std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no batch {0} in the database")]
    UnknownBatch(String),
}

fn pack_i64(values: &[i64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn pack_f64(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn unpack<T>(bytes: &[u8], points: usize, what: &str, from: fn([u8; 8]) -> T) -> Result<Vec<T>, StoreError> {
    if bytes.len() != points * 8 {
        return Err(StoreError::Corrupt(format!("{what}: {} bytes for {points} points", bytes.len())));
    }
    Ok(bytes.chunks_exact(8).map(|c| from(c.try_into().unwrap_or([0; 8]))).collect())
}

/// Writes the curves of runs `ids` (same order) and the batch's bars, in `tx`.
pub(super) async fn write_curves(
    tx: &mut Tx,
    batch_id: &str,
    ids: &[i64],
    curves: &[EquityCurve],
    bars: &[SymbolBars],
) -> Result<(), StoreError> {
    for (id, c) in ids.iter().zip(curves) {
        let points = c.times.len().min(c.equity.len());
        sql_execute!(
            tx,
            "INSERT INTO equity_curve (algo_run_id, initial_equity, points, steps_in_market, times, equity) VALUES (?, ?, ?, ?, ?, ?)",
            *id,
            c.initial_equity,
            points as i64,
            i64::try_from(c.steps_in_market).unwrap_or(i64::MAX),
            pack_i64(&c.times[..points]),
            pack_f64(&c.equity[..points]),
        )?;
    }
    for b in bars {
        sql_execute!(
            tx,
            "INSERT INTO batch_bars (batch_id, symbol, points, times, open, high, low, close) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            batch_id,
            &b.symbol,
            b.times.len() as i64,
            pack_i64(&b.times),
            pack_f64(&b.open),
            pack_f64(&b.high),
            pack_f64(&b.low),
            pack_f64(&b.close),
        )?;
    }
    Ok(())
}

/// The stored curves of a batch's runs, by `algo_run_id`.
async fn batch_curves(tx: &mut Tx, batch_id: &str) -> Result<Vec<(i64, EquityCurve)>, StoreError> {
    let rows = sql_fetch_all!(
        (i64, f64, i64, i64, Vec<u8>, Vec<u8>),
        tx,
        "SELECT c.algo_run_id::bigint, c.initial_equity, c.points, c.steps_in_market, c.times, c.equity
         FROM equity_curve c JOIN algo_run r ON r.algo_run_id = c.algo_run_id WHERE r.batch_id = ?",
        batch_id
    )?;
    rows.into_iter()
        .map(|(id, initial_equity, points, steps_in_market, times, equity)| {
            let what = format!("equity_curve of run {id}");
            let curve = EquityCurve {
                initial_equity,
                times: unpack(&times, points as usize, &what, i64::from_le_bytes)?,
                equity: unpack(&equity, points as usize, &what, f64::from_le_bytes)?,
                steps_in_market: steps_in_market.max(0) as u64,
            };
            Ok((id, curve))
        })
        .collect()
}

/// The fills of a batch's runs by `algo_run_id`, each run's in order.
async fn batch_fills(tx: &mut Tx, batch_id: &str) -> Result<Vec<(i64, StoredFill)>, StoreError> {
    let rows = sql_fetch_all!(
        (i64, String, String, f64, f64, f64, String, Option<f64>),
        tx,
        "SELECT t.algo_run_id::bigint, t.symbol, t.operation, t.qty, t.price, t.fee, t.client_time::text, t.stop_price
         FROM new_trades t JOIN algo_run r ON r.algo_run_id = t.algo_run_id
         WHERE r.batch_id = ? ORDER BY t.algo_run_id, t.fill_seq, t.trade_id",
        batch_id
    )?;
    rows.into_iter()
        .map(|(id, symbol, operation, qty, price, fee, time, stop_price)| {
            let operation = Operation::from_name(&operation)
                .ok_or_else(|| StoreError::Corrupt(format!("new_trades of run {id}: unknown operation {operation:?}")))?;
            let time = liu_core::time::parse_timestamp(&time)
                .ok_or_else(|| StoreError::Corrupt(format!("new_trades of run {id}: unreadable client_time {time:?}")))?;
            Ok((id, StoredFill { symbol, operation, qty, price, fee, time, stop_price }))
        })
        .collect()
}

/// The runs of other batches linked to the runs of `batch_id` by
/// `ref_algo_run`, either way, with their stored curves, and the fills of
/// those that stored none.
async fn linked_runs(tx: &mut Tx, batch_id: &str) -> Result<Vec<LinkedRun>, StoreError> {
    let rows = sql_fetch_all!(
        (i64, String, String, i64, Option<i64>),
        tx,
        "SELECT o.algo_run_id::bigint, o.batch_id, o.algo_name, r.algo_run_id::bigint, o.ref_algo_run::bigint
         FROM algo_run r JOIN algo_run o ON o.ref_algo_run = r.algo_run_id OR r.ref_algo_run = o.algo_run_id
         WHERE r.batch_id = ? AND o.batch_id <> r.batch_id ORDER BY o.algo_run_id",
        batch_id
    )?;
    let mut linked: Vec<LinkedRun> = rows
        .into_iter()
        .map(|(algo_run_id, batch_id, algo_name, linked_to, ref_algo_run)| LinkedRun {
            batch_id,
            algo_run_id,
            algo_name,
            linked_to,
            replays_it: ref_algo_run == Some(linked_to),
            curve: None,
            fills: Vec::new(),
        })
        .collect();
    let mut batches: Vec<String> = linked.iter().map(|l| l.batch_id.clone()).collect();
    batches.sort();
    batches.dedup();
    for batch in batches {
        for (id, curve) in batch_curves(tx, &batch).await? {
            if let Some(l) = linked.iter_mut().find(|l| l.algo_run_id == id) {
                l.curve = Some(curve);
            }
        }
        if linked.iter().any(|l| l.batch_id == batch && l.curve.is_none()) {
            for (id, fill) in batch_fills(tx, &batch).await? {
                if let Some(l) = linked.iter_mut().find(|l| l.algo_run_id == id && l.curve.is_none()) {
                    l.fills.push(fill);
                }
            }
        }
    }
    Ok(linked)
}

impl Store {
    /// A batch's runs, fills, curves and bars; `None` if no run has this batch id.
    pub async fn load_batch(&self, batch_id: &str) -> Result<Option<StoredBatch>, StoreError> {
        let mut tx = self.begin().await?;
        let runs = sql_fetch_all!(
            (i64, String, String, String, Option<String>, Option<i64>),
            tx,
            "SELECT algo_run_id::bigint, algo_name, algo_env, parameters::text, end_reason, ref_algo_run::bigint
             FROM algo_run WHERE batch_id = ? ORDER BY algo_run_id",
            batch_id
        )?;
        if runs.is_empty() {
            return Ok(None);
        }
        let mut runs = runs
            .into_iter()
            .map(|(algo_run_id, algo_name, algo_env, parameters, end_reason, ref_algo_run)| {
                let parameters = serde_json::from_str(&parameters)
                    .map_err(|e| StoreError::Corrupt(format!("algo_run {algo_run_id}: parameters are not JSON: {e}")))?;
                Ok(BatchRun { algo_run_id, algo_name, algo_env, parameters, end_reason, ref_algo_run, fills: Vec::new(), curve: None })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let index = |runs: &[BatchRun], id: i64| runs.iter().position(|r| r.algo_run_id == id);

        for (id, fill) in batch_fills(&mut tx, batch_id).await? {
            if let Some(i) = index(&runs, id) {
                runs[i].fills.push(fill);
            }
        }

        for (id, curve) in batch_curves(&mut tx, batch_id).await? {
            if let Some(i) = index(&runs, id) {
                runs[i].curve = Some(curve);
            }
        }
        let linked = linked_runs(&mut tx, batch_id).await?;

        let rows = sql_fetch_all!(
            (String, i64, Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>),
            tx,
            "SELECT symbol, points, times, open, high, low, close FROM batch_bars WHERE batch_id = ? ORDER BY symbol",
            batch_id
        )?;
        let bars = rows
            .into_iter()
            .map(|(symbol, points, times, open, high, low, close)| {
                let (n, what) = (points as usize, format!("batch_bars of {symbol}"));
                Ok(SymbolBars {
                    times: unpack(&times, n, &what, i64::from_le_bytes)?,
                    open: unpack(&open, n, &what, f64::from_le_bytes)?,
                    high: unpack(&high, n, &what, f64::from_le_bytes)?,
                    low: unpack(&low, n, &what, f64::from_le_bytes)?,
                    close: unpack(&close, n, &what, f64::from_le_bytes)?,
                    symbol,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Some(StoredBatch { batch_id: batch_id.to_owned(), runs, bars, linked }))
    }

    /// Replaces the `trade_analysis` and `gain_loss` rows of each run with
    /// the given ones, in one transaction: writing them again adds nothing.
    pub async fn write_analysis(&self, runs: &[(i64, RunAnalysis)]) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let written = rfc3339(chrono::Utc::now());
        for (id, analysis) in runs {
            sql_execute!(tx, "DELETE FROM trade_analysis WHERE algo_run_id = ?", *id)?;
            sql_execute!(tx, "DELETE FROM gain_loss WHERE algo_run_id = ?", *id)?;
            insert_trips(&mut tx, *id, &analysis.trips, &written).await?;
            for g in &analysis.gains {
                sql_execute!(
                    tx,
                    "INSERT INTO gain_loss (symbol, algo_run_id, gain_percentage, gain_value, tstamp) VALUES (?, ?, ?, ?, ?::timestamptz)",
                    &g.symbol,
                    *id,
                    g.gain_percentage,
                    g.gain_value,
                    &written,
                )?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Inserts run `id`'s `trade_analysis` rows: a statement per row would
/// cost a round trip each (65,000 for a 1M-bar batch), so SQLite takes
/// them in multi-row INSERTs and PostgreSQL as arrays, as fills are written.
async fn insert_trips(tx: &mut Tx, id: i64, trips: &[TripAnalysis], written: &str) -> Result<(), StoreError> {
    match tx {
        Tx::Sqlite(tx) => {
            for chunk in super::batch::sqlite_insert_chunks(trips) {
                let mut q: sqlx::QueryBuilder<sqlx::Sqlite> = sqlx::QueryBuilder::new(
                    "INSERT INTO trade_analysis (symbol, algo_run_id, start_ts, end_ts, gain_percentage, gain_value, r_units, tstamp) ",
                );
                q.push_values(chunk, |mut row, t| {
                    row.push_bind(t.symbol.as_str())
                        .push_bind(id)
                        .push_bind(event_time(t.start))
                        .push_bind(event_time(t.end))
                        .push_bind(t.gain_percentage)
                        .push_bind(t.gain_value)
                        .push_bind(t.r_units)
                        .push_bind(written);
                });
                q.build().persistent(true).execute(&mut **tx).await?;
            }
        }
        Tx::Postgres(tx) => {
            if trips.is_empty() {
                return Ok(());
            }
            sqlx::query(
                "INSERT INTO trade_analysis (symbol, algo_run_id, start_ts, end_ts, gain_percentage, gain_value, r_units, tstamp)
                 SELECT sym, $2, st::timestamptz, en::timestamptz, gp, gv, r, $8::timestamptz
                 FROM UNNEST($1::text[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::float8[]) AS u(sym, st, en, gp, gv, r)",
            )
            .bind(trips.iter().map(|t| t.symbol.clone()).collect::<Vec<_>>())
            .bind(id)
            .bind(trips.iter().map(|t| event_time(t.start)).collect::<Vec<_>>())
            .bind(trips.iter().map(|t| event_time(t.end)).collect::<Vec<_>>())
            .bind(trips.iter().map(|t| t.gain_percentage).collect::<Vec<_>>())
            .bind(trips.iter().map(|t| t.gain_value).collect::<Vec<_>>())
            .bind(trips.iter().map(|t| t.r_units).collect::<Vec<_>>())
            .bind(written)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

/// Synchronous [`Store::load_batch`]: opens and migrates `target` first; an
/// unknown batch id is [`ResearchStoreError::UnknownBatch`].
pub fn load_batch(target: &super::DbTarget, batch_id: &str) -> Result<StoredBatch, ResearchStoreError> {
    super::blocking::runtime().map_err(ResearchStoreError::Runtime)?.block_on(async {
        let store = Store::open(target).await?;
        store.load_batch(batch_id).await?.ok_or_else(|| ResearchStoreError::UnknownBatch(batch_id.to_owned()))
    })
}

/// Synchronous [`Store::write_analysis`].
pub fn write_analysis(target: &super::DbTarget, runs: &[(i64, RunAnalysis)]) -> Result<(), ResearchStoreError> {
    super::blocking::runtime().map_err(ResearchStoreError::Runtime)?.block_on(async {
        let store = Store::open(target).await?;
        Ok(store.write_analysis(runs).await?)
    })
}
