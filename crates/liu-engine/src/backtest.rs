//! `liu-engine backtest`: replays bars in time order, across all symbols,
//! through every strategy, each trading its own simulated account.
//!
//! Per bar, for each strategy: the broker first matches the strategy's open
//! orders against the bar (so nothing fills on information from the future),
//! order updates are delivered, then the strategy sees the bar. After all
//! symbols of a time step, `run-all` is called for strategies that want it
//! and each account's equity is recorded.

use liu_core::domain::EndReason;
use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

use serde::Serialize;

use crate::curve::CurveRecorder;
use crate::runner::{StartError, StrategyRunner};
use liu_core::domain::{Fill, SymbolId, Timestamp};
use liu_core::market::MarketState;
use liu_data::MarketData;
use liu_data::store::research::EquityCurve;
use liu_exec::account::Account;
use liu_exec::broker::{Commission, FillAt, OrderChecks, SimulatedBroker};
use liu_exec::metrics::{self, Metrics};
use liu_exec::portfolio::Portfolio;
use liu_sandbox::params::{self, ParamArg};
use liu_sandbox::{KeyStore, Limits, LoadedStrategy, Sandbox};

#[derive(Clone, Debug)]
pub struct BacktestConfig {
    pub cash: f64,
    pub commission: Commission,
    pub fill_at: FillAt,
    pub leverage: f64,
    pub limits: Limits,
    /// Engine-side order checks of every strategy's account.
    pub checks: OrderChecks,
}

impl Default for BacktestConfig {
    fn default() -> Self {
        Self {
            cash: 100_000.0,
            commission: Commission::default(),
            fill_at: FillAt::NextOpen,
            leverage: 1.0,
            limits: Limits::default(),
            checks: OrderChecks::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error(transparent)]
    Params(#[from] params::ParamError),
    #[error(transparent)]
    Start(#[from] StartError),
}

/// A position still open at the end of the data, marked to the last close.
pub use liu_core::domain::OpenPosition;

/// The outcome of one strategy.
#[derive(Debug, Serialize)]
pub struct StrategyResult {
    pub name: String,
    pub version: String,
    pub path: PathBuf,
    pub digest: String,
    pub parameters: serde_json::Value,
    pub metrics: Metrics,
    #[serde(skip)]
    pub fills: Vec<Fill>,
    /// `completed`, or why the strategy was disabled.
    pub end_reason: EndReason,
    pub open_positions: Vec<OpenPosition>,
    pub fuel_used: u64,
    pub rejected_orders: u64,
    /// The equity after each time step.
    #[serde(skip)]
    pub curve: EquityCurve,
}

#[derive(Debug, Serialize)]
pub struct BacktestReport {
    pub symbols: Vec<String>,
    pub bars: usize,
    pub first_bar: Option<Timestamp>,
    pub last_bar: Option<Timestamp>,
    pub strategies: Vec<StrategyResult>,
}

/// A strategy in the replay, with its equity curve.
struct Runner {
    strategy: StrategyRunner,
    loaded_index: usize,
    curve: CurveRecorder,
}

/// Called every so many bars with the number done, for progress display.
pub type Progress<'a> = &'a mut dyn FnMut(usize);

/// Receives fills while the replay runs, in order, per strategy (by index
/// in [`Backtest::strategies`]), so they can be written off the replay thread.
pub trait FillSink {
    fn fills(&mut self, strategy: usize, fills: &[Fill]);
}

/// A sink that keeps nothing (the report still carries every fill).
impl FillSink for () {
    fn fills(&mut self, _strategy: usize, _fills: &[Fill]) {}
}

/// A backtest whose strategies are instantiated, given their parameters and
/// initialised: every input has been checked, nothing has been replayed.
pub struct Backtest<'a> {
    market: Rc<RefCell<MarketState>>,
    runners: Vec<Runner>,
    strategies: &'a [LoadedStrategy],
    data: &'a MarketData,
    config: &'a BacktestConfig,
}

/// Name and parameters of a prepared strategy.
pub struct PreparedStrategy<'a> {
    pub name: &'a str,
    pub digest: &'a str,
    pub parameters: &'a serde_json::Value,
}

/// Checks parameters against every strategy's declared ones and initialises
/// the strategies; nothing is replayed yet.
pub fn prepare<'a>(
    sandbox: &Sandbox,
    strategies: &'a [LoadedStrategy],
    param_args: &[ParamArg],
    data: &'a MarketData,
    config: &'a BacktestConfig,
) -> Result<Backtest<'a>, BacktestError> {
    let market = Rc::new(RefCell::new(MarketState::new(&data.symbols)));
    let mut runners = Vec::with_capacity(strategies.len());
    let mut used = vec![false; param_args.len()];
    for (index, loaded) in strategies.iter().enumerate() {
        let account = Account::new(
            Portfolio::new(config.cash, data.symbols.len()),
            SimulatedBroker::new(config.fill_at, config.commission, config.leverage).with_checks(config.checks.clone()),
        );
        let strategy = StrategyRunner::start(loaded, sandbox, market.clone(), account, config.limits, param_args, &mut used, &|_| {
            KeyStore::default()
        })?;
        runners.push(Runner { strategy, loaded_index: index, curve: CurveRecorder::new(config.cash) });
    }
    let infos: Vec<_> = runners.iter().map(|r| r.strategy.info()).collect();
    params::check_all_used(param_args, &used, &infos)?;

    for r in &mut runners {
        for (id, name) in data.symbols.iter().enumerate() {
            r.strategy.add_symbol(id as SymbolId, name);
        }
    }

    Ok(Backtest { market, runners, strategies, data, config })
}

impl Backtest<'_> {
    pub fn strategies(&self) -> impl Iterator<Item = PreparedStrategy<'_>> {
        self.runners.iter().map(|r| PreparedStrategy {
            name: r.strategy.name(),
            digest: &self.strategies[r.loaded_index].digest,
            parameters: r.strategy.parameters(),
        })
    }

    /// Replays every bar; fills reach `sink` as they happen.
    pub fn run(mut self, sink: &mut dyn FillSink, progress: Progress<'_>) -> BacktestReport {
        replay(&self.market, &mut self.runners, self.data, sink, progress);
        let (strategies, data, config) = (self.strategies, self.data, self.config);
        let results = self.runners.into_iter().map(|r| finish(r, strategies, data, config)).collect();
        BacktestReport {
            symbols: data.symbols.clone(),
            bars: data.events.len(),
            first_bar: data.events.first().map(|e| e.bar.time),
            last_bar: data.events.last().map(|e| e.bar.time),
            strategies: results,
        }
    }
}

const PROGRESS_EVERY: usize = 1 << 16;

/// Hands each runner's fills since the last flush to the sink.
fn flush(runners: &mut [Runner], sink: &mut dyn FillSink) {
    for (index, r) in runners.iter_mut().enumerate() {
        let fills = r.strategy.take_new_fills();
        if !fills.is_empty() {
            sink.fills(index, fills);
        }
    }
}

fn replay(market: &Rc<RefCell<MarketState>>, runners: &mut [Runner], data: &MarketData, sink: &mut dyn FillSink, progress: Progress<'_>) {
    let timeframe = data.timeframe;
    let events = &data.events;
    for r in runners.iter_mut() {
        r.curve.reserve(events.len() / data.symbols.len().max(1));
    }
    let mut i = 0;
    while i < events.len() {
        let time = events[i].bar.time;
        while i < events.len() && events[i].bar.time == time {
            let event = &events[i];
            let (symbol, bar) = (event.symbol, &event.bar);
            market.borrow_mut().push_bar(symbol, timeframe, *bar);
            for r in runners.iter_mut() {
                r.strategy.on_bar(symbol, timeframe, bar);
            }
            i += 1;
            if i % PROGRESS_EVERY == 0 {
                flush(runners, sink);
                progress(i);
            }
        }
        for r in runners.iter_mut() {
            r.strategy.end_step(time);
            r.curve.record(time, &r.strategy.account().portfolio);
        }
    }
    flush(runners, sink);
    progress(events.len());
}

fn finish(mut r: Runner, strategies: &[LoadedStrategy], data: &MarketData, config: &BacktestConfig) -> StrategyResult {
    let account = r.strategy.account();
    let portfolio = &account.portfolio;
    let curve = r.curve.into_curve();
    let metrics =
        metrics::compute(config.cash, &curve.times, &curve.equity, curve.steps_in_market as usize, portfolio.round_trips(), portfolio.fees);
    let open_positions = portfolio
        .positions()
        .filter(|(_, p)| p.qty != 0.0)
        .map(|(s, p)| OpenPosition {
            symbol: data.symbols[s as usize].clone(),
            qty: p.qty,
            avg_price: p.avg_price,
            last_price: p.last_price,
            unrealized_pnl: p.unrealized_pnl(),
        })
        .collect();
    let rejected_orders = account.rejected_orders;
    let loaded = &strategies[r.loaded_index];
    let info = r.strategy.info();
    let (name, version) = (info.name.clone(), info.version.clone());
    let end_reason = r.strategy.disabled().map_or(EndReason::Completed, |why| EndReason::Disabled(why.to_owned()));
    StrategyResult {
        name,
        version,
        path: loaded.path.clone(),
        digest: loaded.digest.clone(),
        parameters: r.strategy.parameters().clone(),
        metrics,
        end_reason,
        open_positions,
        fuel_used: r.strategy.instance().fuel_used(),
        rejected_orders,
        // Moved out, not copied: a sweep runs this once per combination.
        fills: r.strategy.drain_fills(),
        curve,
    }
}
