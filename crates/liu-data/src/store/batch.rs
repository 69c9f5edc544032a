//! [`BatchWriter`]: records one batch of runs from a background thread —
//! `algo_run` rows at start, fills as they arrive, the end of each run at
//! [`BatchWriter::finish`].
//!
//! A backtest ([`Commit::AtEnd`]) is one transaction: a failure leaves
//! nothing written. A live session ([`Commit::AsTheyCome`]) commits each
//! batch of fills as it arrives; while the database is unreachable the fills
//! wait in memory and in a local journal file, and are written when it comes
//! back (or by the next run that opens it). Every fill carries its sequence
//! number in its run, unique in `new_trades`, so a retried batch is never
//! written twice.

use liu_core::domain::AlgoEnv;
use liu_core::domain::EndReason;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::journal::{Journal, JournalEntry};
use super::research::{EquityCurve, SymbolBars, write_curves};
use super::{DbTarget, Store, StoreError, Tx, event_time, rfc3339};
use crate::{sql_execute, sql_scalar};
use liu_core::domain::Fill;

/// The start of one `algo_run` row.
#[derive(Clone, Debug)]
pub struct RunStart {
    pub algo_name: String,
    pub algo_env: AlgoEnv,
    pub parameters: serde_json::Value,
    pub start_time: DateTime<Utc>,
    pub strategy_digest: String,
    /// The run this one replays (`backtest --replay`): Liu's `ref_algo_run`.
    pub replays: Option<ReplayedRun>,
}

/// A run of a recorded `trade` session, as its recording names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayedRun {
    pub batch_id: String,
    pub algo_run_id: i64,
}

/// How an `algo_run` ended.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunEnd {
    pub end_time: DateTime<Utc>,
    pub end_reason: EndReason,
    pub fuel_used: u64,
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

/// One `new_trades` row, as written and as journaled.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TradeRow {
    pub algo_run_id: i64,
    pub fill_seq: i64,
    pub symbol: String,
    pub operation: String,
    pub qty: f64,
    pub price: f64,
    pub indicators: String,
    pub client_time: String,
    pub stop_price: Option<f64>,
    pub target_price: Option<f64>,
    pub fee: f64,
    pub order_id: i64,
}

enum WriterMessage {
    Symbol { id: u32, name: String },
    Fills { run: usize, fills: Vec<Fill> },
    State { run: usize, changes: Vec<(String, Option<String>)> },
    OpenOrders { run: usize, symbol: u32, orders: String },
    Curves { curves: Vec<EquityCurve>, bars: Vec<SymbolBars> },
    Finish(Vec<RunEnd>),
}

/// See the module documentation.
pub struct BatchWriter {
    sender: std::sync::mpsc::Sender<WriterMessage>,
    thread: std::thread::JoinHandle<Result<Vec<i64>, StoreError>>,
    run_ids: Vec<i64>,
}

impl BatchWriter {
    /// Opens and migrates the database, writes what earlier runs left in the
    /// journal, and inserts the runs; returns once that is done (or failed),
    /// so connection errors surface before any work.
    pub fn start(target: &DbTarget, batch_id: &str, runs: Vec<RunStart>, symbols: Vec<String>, commit: Commit) -> Result<Self, StoreError> {
        let (sender, receiver) = std::sync::mpsc::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let (target, batch_id) = (target.clone(), batch_id.to_owned());
        let thread = std::thread::Builder::new()
            .name("liu-db-writer".into())
            .spawn(move || {
                if commit == Commit::AsTheyCome {
                    yield_cpu_to_strategies();
                }
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| StoreError::Open { target: target.to_string(), source: sqlx::Error::Io(e) })?;
                let writer = Writer { target: &target, batch_id: &batch_id, symbols, commit };
                runtime.block_on(writer.run(&runs, receiver, ready_tx))
            })
            .map_err(|e| StoreError::Open { target: "writer thread".into(), source: sqlx::Error::Io(e) })?;
        match ready_rx.recv() {
            Ok(run_ids) => Ok(Self { sender, thread, run_ids }),
            // The thread ended before it was ready: it has the error.
            Err(_) => match thread.join() {
                Ok(Err(e)) => Err(e),
                _ => Err(StoreError::Write(sqlx::Error::WorkerCrashed)),
            },
        }
    }

    /// The `algo_run_id`s of the runs inserted at start, in their order
    /// (a recording names the runs it was made by).
    pub fn run_ids(&self) -> &[i64] {
        &self.run_ids
    }

    /// Names a symbol id used by later fills.
    pub fn symbol(&self, id: u32, name: &str) {
        let _ = self.sender.send(WriterMessage::Symbol { id, name: name.to_owned() });
    }

    /// Queues fills of run `run` (its index in the runs given to `start`).
    pub fn fills(&self, run: usize, fills: Vec<Fill>) {
        // A closed channel means the writer failed; `finish` reports why.
        let _ = self.sender.send(WriterMessage::Fills { run, fills });
    }

    /// Queues changes to the `state` store of run `run`'s strategy (`None` deletes).
    pub fn state(&self, run: usize, changes: Vec<(String, Option<String>)>) {
        let _ = self.sender.send(WriterMessage::State { run, changes });
    }

    /// Queues the open orders now of run `run`'s strategy in `symbol` (a
    /// JSON array; `[]` when none is left), replacing those saved before:
    /// what a restarted consumer puts back. Runs are the plan's strategies
    /// in order.
    pub fn open_orders(&self, run: usize, symbol: u32, orders: String) {
        let _ = self.sender.send(WriterMessage::OpenOrders { run, symbol, orders });
    }

    /// Queues each run's equity curve (in the order of the runs given to
    /// `start`) and the bars the batch replayed, for `report` and `export`.
    pub fn curves(&self, curves: Vec<EquityCurve>, bars: Vec<SymbolBars>) {
        let _ = self.sender.send(WriterMessage::Curves { curves, bars });
    }

    /// Writes the end of each run and commits; returns the `algo_run_id`s.
    pub fn finish(self, ends: Vec<RunEnd>) -> Result<Vec<i64>, StoreError> {
        let _ = self.sender.send(WriterMessage::Finish(ends));
        drop(self.sender);
        self.thread.join().unwrap_or(Err(StoreError::Write(sqlx::Error::WorkerCrashed)))
    }
}

/// Puts the calling thread in the `SCHED_IDLE` class, so that a live
/// session's writer, and the SQLite worker thread it starts (threads inherit
/// their creator's policy), never delay the strategy thread: a waking
/// strategy thread preempts them at once, while on a machine with spare
/// cycles they keep up as before. Best effort: without it writes still work.
fn yield_cpu_to_strategies() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a valid sched_param; on Linux, pid 0 names the
    // calling thread, and lowering its own policy needs no privilege.
    let failed = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } != 0;
    if failed {
        tracing::debug!("cannot lower the database writer's priority: {}", std::io::Error::last_os_error());
    }
}

/// How long a live writer keeps retrying at the end of a run before it
/// leaves the rest in the journal.
const FINISH_RETRY_LIMIT: Duration = Duration::from_secs(10);
/// Most queued messages gathered at a time.
const MAX_MESSAGES_PER_WRITE: usize = 256;
/// Least time between a live writer's commits. A fill after a quiet spell
/// is written at once; at high fill rates rows gather for up to this long,
/// so that the pages a commit rewrites (every index's, per symbol) are
/// written once per interval rather than once per burst, which keeps the
/// writer's CPU, shared with the strategies, low.
const COMMIT_INTERVAL: Duration = Duration::from_millis(100);
/// Rows pending that are written at once, linger or not.
const WRITE_AT_ROWS: usize = 4096;
/// Waits between retries while the database is unreachable: doubling from
/// the first to the longest.
const FIRST_RETRY_INTERVAL: Duration = Duration::from_millis(100);
const MAX_RETRY_INTERVAL: Duration = Duration::from_secs(2);

struct Writer<'a> {
    target: &'a DbTarget,
    batch_id: &'a str,
    symbols: Vec<String>,
    commit: Commit,
}

impl Writer<'_> {
    async fn run(self, runs: &[RunStart], messages: Receiver<WriterMessage>, ready: SyncSender<Vec<i64>>) -> Result<Vec<i64>, StoreError> {
        let store = Store::open(self.target).await?;
        if self.commit == Commit::AsTheyCome {
            store.write_journals().await?;
        }
        let mut tx = store.begin().await?;
        let mut ids = Vec::with_capacity(runs.len());
        for run in runs {
            ids.push(insert_run(&mut tx, self.batch_id, run).await?);
        }
        match self.commit {
            Commit::AtEnd => self.all_or_nothing(tx, runs, &ids, messages, ready).await,
            Commit::AsTheyCome => {
                tx.commit().await?;
                let _ = ready.send(ids.clone());
                self.commit_as_they_come(&store, runs, &ids, messages).await
            }
        }
    }

    fn rows(&self, run_id: i64, seq: &mut i64, fills: &[Fill]) -> Vec<TradeRow> {
        fills
            .iter()
            .map(|f| {
                *seq += 1;
                TradeRow {
                    algo_run_id: run_id,
                    fill_seq: *seq,
                    symbol: self.symbols.get(f.symbol as usize).cloned().unwrap_or_default(),
                    operation: f.operation.as_str().to_owned(),
                    qty: f.qty,
                    price: f.price,
                    indicators: if f.indicators.is_empty() { "{}".to_owned() } else { f.indicators.clone() },
                    client_time: event_time(f.time),
                    stop_price: f.stop_loss,
                    target_price: f.take_profit,
                    fee: f.fee,
                    order_id: f.order_id as i64,
                }
            })
            .collect()
    }

    fn open_orders_entry(&self, runs: &[RunStart], ids: &[i64], run: usize, symbol: u32, orders: String) -> JournalEntry {
        JournalEntry::OpenOrders {
            batch_id: self.batch_id.to_owned(),
            algo_env: runs[run].algo_env,
            strategy: run as i64,
            symbol: self.symbols.get(symbol as usize).cloned().unwrap_or_default(),
            algo_run_id: ids[run],
            orders,
        }
    }

    fn name_symbol(&mut self, id: u32, name: String) {
        let index = id as usize;
        if self.symbols.len() <= index {
            self.symbols.resize(index + 1, String::new());
        }
        self.symbols[index] = name;
    }

    async fn all_or_nothing(
        mut self,
        mut tx: Tx,
        runs: &[RunStart],
        ids: &[i64],
        messages: Receiver<WriterMessage>,
        ready: SyncSender<Vec<i64>>,
    ) -> Result<Vec<i64>, StoreError> {
        let _ = ready.send(ids.to_vec());
        let written = rfc3339(Utc::now());
        let mut seqs = vec![0i64; ids.len()];
        // Blocking receive is fine: this runtime has no other task.
        while let Ok(message) = messages.recv() {
            match message {
                WriterMessage::Symbol { id, name } => self.name_symbol(id, name),
                WriterMessage::Fills { run, fills } => {
                    let rows = self.rows(ids[run], &mut seqs[run], &fills);
                    insert_trades(&mut tx, &rows, &written).await?;
                }
                WriterMessage::State { run, changes } => {
                    for entry in state_entries(&runs[run], changes) {
                        write_state(&mut tx, &entry, &written).await?;
                    }
                }
                WriterMessage::OpenOrders { run, symbol, orders } => {
                    let entry = self.open_orders_entry(runs, ids, run, symbol, orders);
                    write_open_orders(&mut tx, &entry, &written).await?;
                }
                WriterMessage::Curves { curves, bars } => write_curves(&mut tx, self.batch_id, ids, &curves, &bars).await?,
                WriterMessage::Finish(ends) => {
                    for (id, end) in ids.iter().zip(&ends) {
                        update_run_end(&mut tx, *id, end).await?;
                    }
                    tx.commit().await?;
                    return Ok(ids.to_vec());
                }
            }
        }
        // The sender went away without finishing: roll back (by dropping `tx`).
        Err(StoreError::Abandoned)
    }

    async fn commit_as_they_come(
        mut self,
        store: &Store,
        runs: &[RunStart],
        ids: &[i64],
        messages: Receiver<WriterMessage>,
    ) -> Result<Vec<i64>, StoreError> {
        let mut seqs = vec![0i64; ids.len()];
        let mut pending: Vec<JournalEntry> = Vec::new();
        let mut journal = Journal::new(self.batch_id, store.target());
        let mut retry_in = FIRST_RETRY_INTERVAL;
        let mut next_attempt = Instant::now();
        let mut finish_deadline: Option<Instant> = None;
        let mut outage_since: Option<Instant> = None;
        let mut closed = false;
        // Commits are spaced at least `COMMIT_INTERVAL` apart unless rows pile up or the run ends.
        let mut last_commit: Option<Instant> = None;
        let mut write_now = false;
        loop {
            // Wait for work; with rows pending, until they are due (the
            // commit interval, or the next retry while writes are failing).
            let due =
                (!pending.is_empty()).then(|| write_due(outage_since.is_some(), next_attempt, last_commit, write_now, Instant::now()));
            let message = match (closed, due) {
                (true, None) => break,
                (true, Some(due)) => {
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    None
                }
                (false, None) => match messages.recv() {
                    Ok(m) => Some(m),
                    Err(_) => {
                        closed = true;
                        None
                    }
                },
                (false, Some(due)) => match messages.recv_timeout(due.saturating_duration_since(Instant::now())) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => {
                        closed = true;
                        None
                    }
                },
            };
            let mut arrived = Vec::new();
            // Take whatever else is already queued, so that one transaction
            // writes it all: a busy session costs one INSERT per burst, not per fill.
            let (mut next, mut taken) = (message, 0);
            while let Some(message) = next.take() {
                match message {
                    WriterMessage::Symbol { id, name } => self.name_symbol(id, name),
                    WriterMessage::Fills { run, fills } => {
                        arrived.extend(self.rows(ids[run], &mut seqs[run], &fills).into_iter().map(JournalEntry::Trade));
                    }
                    WriterMessage::State { run, changes } => arrived.extend(state_entries(&runs[run], changes)),
                    WriterMessage::OpenOrders { run, symbol, orders } => {
                        arrived.push(self.open_orders_entry(runs, ids, run, symbol, orders))
                    }
                    // Curves come once, at the end; they are not journaled,
                    // so they are written at once, in their own transaction.
                    // Without them the report rebuilds the curves from the
                    // fills: a failure costs the curves, never the fills.
                    WriterMessage::Curves { curves, bars } => {
                        if let Err(e) = write_live_curves(store, self.batch_id, ids, &curves, &bars).await {
                            tracing::warn!(error = %e, batch = self.batch_id, "cannot write the session's equity curves; the report will rebuild them from the fills");
                        }
                    }
                    WriterMessage::Finish(ends) => {
                        arrived.extend(ids.iter().zip(ends).map(|(&algo_run_id, end)| JournalEntry::End { algo_run_id, end }));
                        finish_deadline = Some(Instant::now() + FINISH_RETRY_LIMIT);
                        write_now = true;
                    }
                }
                taken += 1;
                if taken < MAX_MESSAGES_PER_WRITE && !closed {
                    next = messages.try_recv().ok();
                }
            }
            if closed && pending.is_empty() && arrived.is_empty() {
                break;
            }
            if closed {
                finish_deadline.get_or_insert_with(|| Instant::now() + FINISH_RETRY_LIMIT);
            }
            if outage_since.is_some() {
                journal.append(&arrived)?;
            }
            pending.extend(arrived);
            write_now |= closed || pending.len() >= WRITE_AT_ROWS;
            let now = Instant::now();
            if pending.is_empty() || write_due(outage_since.is_some(), next_attempt, last_commit, write_now, now) > now {
                continue;
            }
            match write_entries(store, &pending).await {
                Ok(()) => {
                    if let Some(since) = outage_since.take() {
                        tracing::info!(rows = pending.len(), down_for = ?since.elapsed(), "database reachable again; journaled rows written");
                        journal.remove()?;
                    }
                    let finished = pending.iter().any(|e| matches!(e, JournalEntry::End { .. }));
                    pending.clear();
                    last_commit = Some(Instant::now());
                    write_now = false;
                    retry_in = FIRST_RETRY_INTERVAL;
                    if finished {
                        break;
                    }
                }
                Err(e) => {
                    if outage_since.is_none() {
                        tracing::warn!(error = %e, rows = pending.len(), journal = %journal.path().display(), "database write failed; keeping rows in memory and in the journal until it is back");
                        outage_since = Some(Instant::now());
                        journal.append(&pending)?;
                    }
                    if finish_deadline.is_some_and(|d| Instant::now() >= d) {
                        return Err(StoreError::Deferred { rows: pending.len(), journal: journal.path().to_owned() });
                    }
                    next_attempt = Instant::now() + retry_in;
                    retry_in = (retry_in * 2).min(MAX_RETRY_INTERVAL);
                }
            }
        }
        Ok(ids.to_vec())
    }
}

/// A live session's curves, in a transaction of their own.
async fn write_live_curves(
    store: &Store,
    batch_id: &str,
    ids: &[i64],
    curves: &[EquityCurve],
    bars: &[SymbolBars],
) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    write_curves(&mut tx, batch_id, ids, curves, bars).await?;
    tx.commit().await?;
    Ok(())
}

/// Writes journal entries in one transaction; rows already written are skipped.
pub(super) async fn write_entries(store: &Store, entries: &[JournalEntry]) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    let written = rfc3339(Utc::now());
    let trades: Vec<TradeRow> = entries
        .iter()
        .filter_map(|e| match e {
            JournalEntry::Trade(row) => Some(row.clone()),
            JournalEntry::State { .. } | JournalEntry::End { .. } | JournalEntry::OpenOrders { .. } => None,
        })
        .collect();
    insert_trades(&mut tx, &trades, &written).await?;
    for entry in entries {
        match entry {
            JournalEntry::Trade(_) => {}
            JournalEntry::State { .. } => write_state(&mut tx, entry, &written).await?,
            JournalEntry::OpenOrders { .. } => write_open_orders(&mut tx, entry, &written).await?,
            JournalEntry::End { algo_run_id, end } => update_run_end(&mut tx, *algo_run_id, end).await?,
        }
    }
    tx.commit().await?;
    Ok(())
}

/// When a live writer's pending rows are due: at the next retry while the
/// database is down; otherwise `now` when asked to write at once (the run
/// ends, rows piled up) or nothing was committed yet, else one
/// [`COMMIT_INTERVAL`] after the last commit.
fn write_due(outage: bool, next_attempt: Instant, last_commit: Option<Instant>, write_now: bool, now: Instant) -> Instant {
    match last_commit {
        _ if outage => next_attempt,
        Some(last) if !write_now => last + COMMIT_INTERVAL,
        _ => now,
    }
}

fn state_entries(run: &RunStart, changes: Vec<(String, Option<String>)>) -> impl Iterator<Item = JournalEntry> + '_ {
    changes.into_iter().map(|(key, value)| JournalEntry::State {
        algo_name: run.algo_name.clone(),
        context: run.algo_env.to_string(),
        key,
        value,
    })
}

/// Applies one `state` change to `keystore`.
async fn write_state(tx: &mut Tx, entry: &JournalEntry, written: &str) -> Result<(), StoreError> {
    let JournalEntry::State { algo_name, context, key, value } = entry else {
        return Ok(());
    };
    match value {
        Some(value) => sql_execute!(
            tx,
            "INSERT INTO keystore (algo_name, context, key, value, modify_tstamp) VALUES (?, ?, ?, ?, ?::timestamptz)
             ON CONFLICT (algo_name, context, key) DO UPDATE SET value = excluded.value, modify_tstamp = excluded.modify_tstamp",
            algo_name,
            context,
            key,
            value,
            written,
        )?,
        None => sql_execute!(tx, "DELETE FROM keystore WHERE algo_name = ? AND context = ? AND key = ?", algo_name, context, key)?,
    };
    Ok(())
}

/// Replaces the saved open orders of one strategy in one symbol.
async fn write_open_orders(tx: &mut Tx, entry: &JournalEntry, written: &str) -> Result<(), StoreError> {
    let JournalEntry::OpenOrders { batch_id, algo_env, strategy, symbol, algo_run_id, orders } = entry else {
        return Ok(());
    };
    if orders == "[]" {
        sql_execute!(
            tx,
            "DELETE FROM open_orders WHERE batch_id = ? AND algo_env = ? AND strategy = ? AND symbol = ?",
            batch_id,
            algo_env.as_str(),
            *strategy,
            symbol,
        )?;
    } else {
        sql_execute!(
            tx,
            "INSERT INTO open_orders (batch_id, algo_env, strategy, symbol, algo_run_id, orders, modify_tstamp)
             VALUES (?, ?, ?, ?, ?, ?, ?::timestamptz)
             ON CONFLICT (batch_id, algo_env, strategy, symbol)
             DO UPDATE SET algo_run_id = excluded.algo_run_id, orders = excluded.orders, modify_tstamp = excluded.modify_tstamp",
            batch_id,
            algo_env.as_str(),
            *strategy,
            symbol,
            *algo_run_id,
            orders,
            written,
        )?;
    }
    Ok(())
}

/// Inserts an `algo_run` row. The run it replays is referenced only if
/// this database holds it in the recorded batch: a recording replayed into
/// another database names runs that are not there, or are others.
async fn insert_run(tx: &mut Tx, batch_id: &str, run: &RunStart) -> Result<i64, StoreError> {
    let (ref_batch, ref_id) = run.replays.as_ref().map(|r| (r.batch_id.as_str(), r.algo_run_id)).unzip();
    Ok(sql_scalar!(
        i64,
        tx,
        "INSERT INTO algo_run (algo_name, algo_env, build_number, parameters, start_time, batch_id, strategy_digest, ref_algo_run)
         VALUES (?, ?, ?, ?::jsonb, ?::timestamptz, ?, ?,
                 (SELECT algo_run_id FROM algo_run WHERE algo_run_id = ? AND batch_id = ?)) RETURNING algo_run_id::bigint",
        &run.algo_name,
        run.algo_env.as_str(),
        env!("CARGO_PKG_VERSION"),
        run.parameters.to_string(),
        rfc3339(run.start_time),
        batch_id,
        &run.strategy_digest,
        ref_id,
        ref_batch,
    )?)
}

async fn update_run_end(tx: &mut Tx, id: i64, end: &RunEnd) -> Result<(), StoreError> {
    sql_execute!(
        tx,
        "UPDATE algo_run SET end_time = ?::timestamptz, end_reason = ?, fuel_used = ? WHERE algo_run_id = ?",
        rfc3339(end.end_time),
        end.end_reason.to_string(),
        i64::try_from(end.fuel_used).unwrap_or(i64::MAX),
        id,
    )?;
    Ok(())
}

/// Rows per SQLite INSERT, largest first: any count is written with a few
/// statements of these fixed shapes, which stay prepared in the connection's
/// statement cache (a statement per distinct count would be parsed anew).
const SQLITE_ROWS_PER_INSERT: [usize; 4] = [1024, 64, 8, 1];

/// `rows` in chunks of the [`SQLITE_ROWS_PER_INSERT`] sizes, largest first.
pub(super) fn sqlite_insert_chunks<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        let size = SQLITE_ROWS_PER_INSERT.into_iter().find(|&n| n <= rows.len())?;
        let (chunk, rest) = rows.split_at(size);
        rows = rest;
        Some(chunk)
    })
}

/// Inserts trades, skipping any (run, fill_seq) already present.
async fn insert_trades(tx: &mut Tx, rows: &[TradeRow], written: &str) -> Result<(), StoreError> {
    match tx {
        Tx::Sqlite(tx) => {
            for chunk in sqlite_insert_chunks(rows) {
                let mut q: QueryBuilder<sqlx::Sqlite> = QueryBuilder::new(
                    "INSERT INTO new_trades (algo_run_id, fill_seq, symbol, operation, qty, price, indicators, client_time, tstamp, stop_price, target_price, fee, order_id) ",
                );
                q.push_values(chunk, |mut row, t| {
                    row.push_bind(t.algo_run_id)
                        .push_bind(t.fill_seq)
                        .push_bind(t.symbol.as_str())
                        .push_bind(t.operation.as_str())
                        .push_bind(t.qty)
                        .push_bind(t.price)
                        .push_bind(t.indicators.as_str())
                        .push_bind(t.client_time.as_str())
                        .push_bind(written)
                        .push_bind(t.stop_price)
                        .push_bind(t.target_price)
                        .push_bind(t.fee)
                        .push_bind(t.order_id);
                });
                q.push(" ON CONFLICT (algo_run_id, fill_seq) DO NOTHING");
                q.build().persistent(true).execute(&mut **tx).await?;
            }
        }
        Tx::Postgres(tx) => {
            if rows.is_empty() {
                return Ok(());
            }
            // One statement for any number of rows: columns travel as arrays.
            let col = |f: fn(&TradeRow) -> String| rows.iter().map(f).collect::<Vec<String>>();
            sqlx::query(
                "INSERT INTO new_trades (algo_run_id, fill_seq, symbol, operation, qty, price, indicators, client_time, tstamp, stop_price, target_price, fee, order_id)
                 SELECT r, s, sym, op, q, p, ind::jsonb, ct::timestamptz, $9::timestamptz, sp, tp, fee, oid
                 FROM UNNEST($1::int4[], $2::int8[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::text[], $8::text[],
                             $10::float8[], $11::float8[], $12::float8[], $13::int8[])
                      AS u(r, s, sym, op, q, p, ind, ct, sp, tp, fee, oid)
                 ON CONFLICT (algo_run_id, fill_seq) DO NOTHING",
            )
            .bind(rows.iter().map(|t| t.algo_run_id as i32).collect::<Vec<_>>())
            .bind(rows.iter().map(|t| t.fill_seq).collect::<Vec<_>>())
            .bind(col(|t| t.symbol.clone()))
            .bind(col(|t| t.operation.clone()))
            .bind(rows.iter().map(|t| t.qty).collect::<Vec<_>>())
            .bind(rows.iter().map(|t| t.price).collect::<Vec<_>>())
            .bind(col(|t| t.indicators.clone()))
            .bind(col(|t| t.client_time.clone()))
            .bind(written)
            .bind(rows.iter().map(|t| t.stop_price).collect::<Vec<_>>())
            .bind(rows.iter().map(|t| t.target_price).collect::<Vec<_>>())
            .bind(rows.iter().map(|t| t.fee).collect::<Vec<_>>())
            .bind(rows.iter().map(|t| t.order_id).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
