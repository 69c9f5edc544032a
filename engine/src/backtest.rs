//! `liu-engine backtest`: replays bars in time order, across all symbols,
//! through every strategy, each trading its own simulated account.
//!
//! Per bar, for each strategy: the broker first matches the strategy's open
//! orders against the bar (so nothing fills on information from the future),
//! order updates are delivered, then the strategy sees the bar. After all
//! symbols of a time step, `run-all` is called for strategies that want it
//! and each account's equity is recorded.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

use serde::Serialize;

use crate::account::Account;
use crate::broker::{Commission, FillAt, SimulatedBroker};
use crate::data::MarketData;
use crate::domain::{Fill, SymbolId, Timestamp};
use crate::market::MarketState;
use crate::metrics::{self, Metrics};
use crate::params::{self, ParamArg};
use crate::portfolio::Portfolio;
use crate::sandbox::{Limits, LoadedStrategy, Sandbox, StrategyInstance, Verdict};

#[derive(Clone, Debug)]
pub struct BacktestConfig {
    pub cash: f64,
    pub commission: Commission,
    pub fill_at: FillAt,
    pub leverage: f64,
    pub limits: Limits,
}

impl Default for BacktestConfig {
    fn default() -> Self {
        Self { cash: 100_000.0, commission: Commission::default(), fill_at: FillAt::NextOpen, leverage: 1.0, limits: Limits::default() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error(transparent)]
    Params(#[from] params::ParamError),
    #[error(transparent)]
    Sandbox(#[from] crate::sandbox::SandboxError),
    #[error("strategy {strategy} ({path}) refused to start: {message}")]
    InitRefused { strategy: String, path: PathBuf, message: String },
    #[error("strategy {path} failed while starting: {reason}")]
    InitTrapped { path: PathBuf, reason: String },
}

/// A position still open at the end of the data, marked to the last close.
#[derive(Clone, Debug, Serialize)]
pub struct OpenPosition {
    pub symbol: String,
    pub qty: f64,
    pub avg_price: f64,
    pub last_price: f64,
    pub unrealized_pnl: f64,
}

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
    pub end_reason: String,
    pub open_positions: Vec<OpenPosition>,
    pub fuel_used: u64,
    pub rejected_orders: u64,
    #[serde(skip)]
    pub equity: Vec<f64>,
}

#[derive(Debug, Serialize)]
pub struct BacktestReport {
    pub symbols: Vec<String>,
    pub bars: usize,
    pub first_bar: Option<Timestamp>,
    pub last_bar: Option<Timestamp>,
    pub strategies: Vec<StrategyResult>,
}

struct Runner {
    instance: StrategyInstance,
    loaded_index: usize,
    name: String,
    version: String,
    parameters: serde_json::Value,
    rejected: Vec<bool>,
    wants_run_all: bool,
    times: Vec<Timestamp>,
    equity: Vec<f64>,
    steps_in_market: usize,
    /// Fills already handed to the sink.
    flushed: usize,
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
    let mut infos = Vec::with_capacity(strategies.len());
    let mut used = vec![false; param_args.len()];
    for (index, loaded) in strategies.iter().enumerate() {
        let account = Account::new(
            Portfolio::new(config.cash, data.symbols.len()),
            SimulatedBroker::new(config.fill_at, config.commission, config.leverage),
        );
        let mut instance = loaded.instantiate(sandbox, market.clone(), account, config.limits)?;
        let trapped = |instance: &StrategyInstance| BacktestError::InitTrapped {
            path: loaded.path.clone(),
            reason: instance.disabled().unwrap_or("unknown").to_owned(),
        };
        let info = instance.describe().ok_or_else(|| trapped(&instance))?;
        let values = params::resolve(&info, param_args, &mut used)?;
        match instance.init(&values) {
            Some(Ok(())) => {}
            Some(Err(message)) => {
                return Err(BacktestError::InitRefused { strategy: info.name, path: loaded.path.clone(), message });
            }
            None => return Err(trapped(&instance)),
        }
        let wants_run_all = instance.wants_run_all();
        infos.push(info.clone());
        runners.push(Runner {
            instance,
            loaded_index: index,
            parameters: params::to_json(&values),
            name: info.name,
            version: info.version,
            rejected: vec![false; data.symbols.len()],
            wants_run_all,
            times: Vec::new(),
            equity: Vec::new(),
            steps_in_market: 0,
            flushed: 0,
        });
    }
    params::check_all_used(param_args, &used, &infos.iter().collect::<Vec<_>>())?;

    for r in &mut runners {
        for (id, name) in data.symbols.iter().enumerate() {
            if r.instance.add_symbol(id as SymbolId, name) == Some(Verdict::RejectSymbol) {
                r.rejected[id] = true;
            }
        }
    }

    Ok(Backtest { market, runners, strategies, data, config })
}

impl Backtest<'_> {
    pub fn strategies(&self) -> impl Iterator<Item = PreparedStrategy<'_>> {
        self.runners.iter().map(|r| PreparedStrategy {
            name: &r.name,
            digest: &self.strategies[r.loaded_index].digest,
            parameters: &r.parameters,
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

/// Prepares and runs in one go, keeping fills only in the report.
pub fn run(
    sandbox: &Sandbox,
    strategies: &[LoadedStrategy],
    param_args: &[ParamArg],
    data: &MarketData,
    config: &BacktestConfig,
    progress: Progress<'_>,
) -> Result<BacktestReport, BacktestError> {
    Ok(prepare(sandbox, strategies, param_args, data, config)?.run(&mut (), progress))
}

const PROGRESS_EVERY: usize = 1 << 16;

/// Hands each runner's fills since the last flush to the sink.
fn flush(runners: &mut [Runner], sink: &mut dyn FillSink) {
    for (index, r) in runners.iter_mut().enumerate() {
        let fills = &r.instance.state().account.fills;
        if fills.len() > r.flushed {
            sink.fills(index, &fills[r.flushed..]);
            r.flushed = fills.len();
        }
    }
}

fn replay(market: &Rc<RefCell<MarketState>>, runners: &mut [Runner], data: &MarketData, sink: &mut dyn FillSink, progress: Progress<'_>) {
    let timeframe = data.timeframe;
    let events = &data.events;
    for r in runners.iter_mut() {
        r.times.reserve(events.len() / data.symbols.len().max(1));
        r.equity.reserve(events.len() / data.symbols.len().max(1));
    }
    let mut i = 0;
    while i < events.len() {
        let time = events[i].bar.time;
        while i < events.len() && events[i].bar.time == time {
            let event = &events[i];
            let (symbol, bar) = (event.symbol, &event.bar);
            market.borrow_mut().push_bar(symbol, timeframe, *bar);
            for r in runners.iter_mut() {
                let state = r.instance.state_mut();
                let a = &mut state.account;
                a.broker.on_bar(symbol, bar, &mut a.portfolio, &mut a.fills, &mut a.pending_updates);
                a.portfolio.mark(symbol, bar.close);
                if r.rejected[symbol as usize] || r.instance.disabled().is_some() {
                    continue;
                }
                r.instance.deliver_order_updates();
                if r.instance.on_bar(symbol, timeframe, bar) == Some(Verdict::RejectSymbol) {
                    r.rejected[symbol as usize] = true;
                }
                r.instance.deliver_order_updates();
            }
            i += 1;
            if i % PROGRESS_EVERY == 0 {
                flush(runners, sink);
                progress(i);
            }
        }
        for r in runners.iter_mut() {
            if r.wants_run_all && r.instance.disabled().is_none() {
                r.instance.run_all(time);
                r.instance.deliver_order_updates();
            }
            if let Some(reason) = r.instance.disabled() {
                let reason = format!("strategy disabled: {reason}");
                let a = &mut r.instance.state_mut().account;
                if a.broker.has_open_orders() {
                    a.broker.cancel_all(time, &reason, &mut a.pending_updates);
                }
                a.pending_updates.clear();
            }
            let p = &r.instance.state().account.portfolio;
            r.times.push(time);
            r.equity.push(p.equity());
            r.steps_in_market += usize::from(p.has_open_positions());
        }
    }
    flush(runners, sink);
    progress(events.len());
}

fn finish(r: Runner, strategies: &[LoadedStrategy], data: &MarketData, config: &BacktestConfig) -> StrategyResult {
    let state = r.instance.state();
    let portfolio = &state.account.portfolio;
    let metrics = metrics::compute(config.cash, &r.times, &r.equity, r.steps_in_market, portfolio.round_trips());
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
    let loaded = &strategies[r.loaded_index];
    StrategyResult {
        name: r.name,
        version: r.version,
        path: loaded.path.clone(),
        digest: loaded.digest.clone(),
        parameters: r.parameters,
        metrics,
        fills: state.account.fills.clone(),
        end_reason: r.instance.disabled().map_or_else(|| "completed".to_owned(), str::to_owned),
        open_positions,
        fuel_used: r.instance.fuel_used(),
        rejected_orders: state.account.rejected_orders,
        equity: r.equity,
    }
}
