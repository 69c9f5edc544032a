//! Backtests through a consumer's session: `backtest --replay` of a
//! recorded session and `backtest --tradeplan` over historical bars.

use liu_core::domain::AlgoEnv;
use liu_core::domain::EndReason;
use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

use chrono::Utc;

use super::session::Session;
use super::{ConsumerError, KeptState, run_starts, start_strategies};
use crate::curve::SessionBars;
use crate::producer::{StrategySummary, summarize};
use crate::recording::{self, Record, RecordingError, RecordingReader};
use crate::runner::StrategyRunner;
use crate::tradeplan::{BrokerKind, TradePlan};
use liu_core::domain::{MarketEvent, SessionResult, SymbolId, wall_clock};
use liu_core::market::MarketState;
use liu_data::store::{BatchWriter, Commit, DbTarget, ReplayedRun};
use liu_sandbox::LoadedStrategy;

/// Events between two hand-overs of a backtest session's fills to its
/// writer: large batches make large INSERTs (a live session hands them
/// over after every frame, to make them durable at once).
const BACKTEST_FLUSH_EVERY: u64 = 1 << 16;

/// What `backtest --replay` replays.
#[derive(Clone, Debug)]
pub struct ReplayConfig {
    /// A recording file, or the folder `trade --record` wrote.
    pub recording: PathBuf,
    /// The tradeplan to run; it must be the recorded one (same digest).
    /// Default: the plan text the recording holds.
    pub plan: Option<PathBuf>,
    pub db: DbTarget,
}

/// What a replay did.
#[derive(Debug, serde::Serialize)]
pub struct ReplaySummary {
    pub batch_id: String,
    pub recordings: Vec<PathBuf>,
    /// Events replayed, over every recording.
    pub events: u64,
    /// Per strategy, summed over the recorded consumers, as `trade` reports it.
    pub strategies: Vec<StrategySummary>,
}

/// Replays a recorded session: each consumer's recording through that
/// consumer's strategies, runner, checks, limits, schedule windows and paper
/// fill rule, as the live session ran them, into a new batch (`BACKTEST`).
/// Every recording is read through and checked, and every strategy loaded
/// and matched against the recorded digests, before anything is written.
/// `progress` is told (events done, events in all) as it goes.
pub fn replay(config: &ReplayConfig, progress: &dyn Fn(u64, u64)) -> Result<ReplaySummary, ConsumerError> {
    let files = recording::recordings_at(&config.recording)?;
    let mut headers = Vec::with_capacity(files.len());
    let mut total = 0;
    for file in &files {
        let (header, events) = RecordingReader::check(file)?;
        total += events;
        headers.push(header);
    }
    // One plan for all: the given one, or the recorded one.
    let first = &headers[0];
    let (plan_text, plan_path) = match &config.plan {
        Some(path) => (std::fs::read_to_string(path).map_err(|source| RecordingError::Io { path: path.clone(), source })?, path.clone()),
        None => (first.plan_text.clone(), first.plan_path.clone()),
    };
    let digest = recording::plan_digest(&plan_text);
    for (file, header) in files.iter().zip(&headers) {
        if header.plan_digest != digest {
            return Err(RecordingError::PlanMismatch {
                path: file.clone(),
                plan: plan_path,
                recorded: header.plan_digest.clone(),
                given: digest,
            }
            .into());
        }
    }
    let plan = crate::tradeplan::parse(&plan_text, &plan_path)?;
    if plan.broker.kind == BrokerKind::Alpaca {
        tracing::warn!(
            plan = %plan_path.display(),
            "the recorded session traded through Alpaca, whose fills came from the broker; the replay fills by the paper broker's rule, so its fills may differ"
        );
    }
    let mut partitions = Vec::with_capacity(files.len());
    for (file, header) in files.iter().zip(headers) {
        let (loaded, runners, market) = start_strategies(&plan, &header.kept_state)?;
        for (index, (l, recorded)) in loaded.iter().zip(&header.strategy_digests).enumerate() {
            if l.digest != *recorded {
                let component = plan.strategies[index].component.clone();
                return Err(RecordingError::StrategyMismatch {
                    path: file.clone(),
                    index,
                    component,
                    recorded: recorded.clone(),
                    given: l.digest.clone(),
                }
                .into());
            }
        }
        if header.restarted {
            tracing::warn!(recording = %file.display(), "this consumer process replaced one that died: it started from the fills and orders its predecessor recorded, which the replay does not have; its fills may differ");
        }
        partitions.push((file, header, loaded, runners, market));
    }

    let batch_id = uuid::Uuid::new_v4().to_string();
    let start_time = Utc::now();
    let mut results = std::collections::BTreeMap::new();
    let mut replayed = 0u64;
    for (file, header, loaded, runners, market) in partitions {
        // The recorded session's runs, when the recording names them.
        let replays: Vec<ReplayedRun> =
            header.algo_run_ids.iter().map(|&algo_run_id| ReplayedRun { batch_id: header.batch_id.clone(), algo_run_id }).collect();
        if replays.is_empty() {
            tracing::info!(recording = %file.display(), "the recording does not name the runs it was made by (an older liu-engine made it): the replay's runs reference none");
        }
        let mut session =
            Session::for_backtest(header.consumer, &plan, &loaded, runners, market, &config.db, &batch_id, start_time, &replays)?;
        let (_, mut reader) = RecordingReader::open(file)?;
        while let Some(record) = reader.next_record()? {
            match record {
                Record::Assign(symbols) => session.assign(symbols),
                Record::History(history) => session.warm_up(history),
                Record::Events(events) => session.backtest_frame(events, &mut replayed, total, progress),
                Record::Header(_) | Record::End => {}
            }
        }
        results.insert(header.consumer, session.end_backtest(plan.portfolio_value, EndReason::Replayed)?);
    }
    debug_assert_eq!(replayed, total);
    Ok(ReplaySummary { batch_id, recordings: files, events: replayed, strategies: summarize(&results) })
}

/// `backtest --tradeplan plan.toml --data FILE`: the plan's strategies over
/// historical bars, run as one `trade` consumer owning every symbol runs
/// them (runner, checks, limits, schedule windows, paper fill rule), each
/// bar time one frame, into a new batch (`BACKTEST`). Symbols: those of
/// the plan the data has (every symbol of the data if the plan lists none).
pub fn backtest_plan(
    plan_path: &std::path::Path,
    data: &liu_data::MarketData,
    db: &DbTarget,
    progress: &dyn Fn(u64, u64),
) -> Result<ReplaySummary, ConsumerError> {
    let plan = crate::tradeplan::load(plan_path)?;
    let symbols: Vec<(SymbolId, String)> = data
        .symbols
        .iter()
        .enumerate()
        .filter(|(_, s)| plan.symbols.is_empty() || plan.symbols.contains(s))
        .map(|(i, s)| (i as SymbolId, s.clone()))
        .collect();
    if symbols.is_empty() {
        return Err(ConsumerError::NoSymbols { plan: plan_path.to_owned(), data: data.symbols.join(", ") });
    }
    let (loaded, runners, market) = start_strategies(&plan, &KeptState::new())?;
    let batch_id = uuid::Uuid::new_v4().to_string();
    let mut session = Session::for_backtest(0, &plan, &loaded, runners, market, db, &batch_id, Utc::now(), &[])?;
    // The bars are in memory already, as in a plain backtest, which stores
    // every one too. A replay, like a live session, keeps them within a
    // bound a symbol, so its memory stays flat however long the recording.
    session.bars_seen = SessionBars::every_bar();
    session.assign(symbols);
    let timeframe = data.timeframe;
    let (mut done, total) = (0u64, data.events.len() as u64);
    // One frame per bar time, as the feed delivers a minute's bars.
    for step in data.events.chunk_by(|a, b| a.bar.time == b.bar.time) {
        let events = step.iter().map(|e| (e.symbol, MarketEvent::Bar { timeframe, bar: e.bar })).collect();
        session.backtest_frame(events, &mut done, total, progress);
    }
    let results = std::collections::BTreeMap::from([(0, session.end_backtest(plan.portfolio_value, EndReason::Completed)?)]);
    Ok(ReplaySummary { batch_id, recordings: Vec::new(), events: done, strategies: summarize(&results) })
}

impl Session {
    /// A session of a backtest (a replay, or a plan over history): its runs
    /// (`BACKTEST`, referencing the runs in `replays`) are written in one
    /// transaction when it ends.
    #[allow(clippy::too_many_arguments)]
    fn for_backtest(
        id: u32,
        plan: &TradePlan,
        loaded: &[LoadedStrategy],
        runners: Vec<StrategyRunner>,
        market: Rc<RefCell<MarketState>>,
        db: &DbTarget,
        batch_id: &str,
        start_time: chrono::DateTime<Utc>,
        replays: &[ReplayedRun],
    ) -> Result<Self, ConsumerError> {
        let runs = run_starts(&runners, loaded, AlgoEnv::Backtest, start_time, replays);
        let writer = BatchWriter::start(db, batch_id, runs, Vec::new(), Commit::AtEnd)?;
        Ok(Self::new(id, plan, market, runners, writer, batch_id))
    }

    /// Runs one frame of a backtest session; `done` counts the events so
    /// far. Fills go to the writer every [`BACKTEST_FLUSH_EVERY`] events.
    fn backtest_frame(&mut self, events: Vec<(SymbolId, MarketEvent)>, done: &mut u64, total: u64, progress: &dyn Fn(u64, u64)) {
        let before = *done;
        *done += events.len() as u64;
        self.process(wall_clock(), events);
        if before / BACKTEST_FLUSH_EVERY != *done / BACKTEST_FLUSH_EVERY {
            self.flush_records();
            progress(*done, total);
        }
    }

    /// Ends a backtest session: open orders end with it, its runs are
    /// written; returns its strategies' results.
    fn end_backtest(mut self, starting_cash: f64, reason: EndReason) -> Result<Vec<SessionResult>, ConsumerError> {
        self.cancel_all_orders();
        self.flush_records();
        let results = self.results(starting_cash);
        self.finish(reason)?;
        Ok(results)
    }
}
