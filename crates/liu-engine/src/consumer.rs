//! A consumer process: runs the tradeplan's strategies on the events of the
//! symbols the producer assigned to it (folding trades and second bars into
//! the minute history, as LiuAlgoTrader does), trading through the paper broker,
//! and records its runs and fills as they happen.
//!
//! An event older than the stale limit is dropped: the consumer logs
//! `consumer {id} {symbol} out of sync w {time_diff}` and drains whatever
//! stale events are queued, to catch up with the market.

mod backtest;
mod broker;
mod live;
mod restore;
mod results;
mod session;

use liu_core::domain::AlgoEnv;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use chrono::Utc;

use crate::recording::RecordingError;
use crate::runner::{StartError, StrategyRunner};
use crate::tradeplan::{BrokerKind, StrategyConfig, TradePlan};
use crate::transport::TransportError;
use liu_core::market::MarketState;
use liu_data::store::{DbTarget, ReplayedRun, RunStart, StoreError};
use liu_exec::account::Account;
use liu_exec::broker::{Commission, DEFAULT_MAX_ORDERS_PER_MINUTE, FillAt, OrderChecks, SimulatedBroker};
use liu_exec::portfolio::Portfolio;
use liu_sandbox::params::{self, ParamArg};
use liu_sandbox::{KeyStore, Limits, LoadedStrategy, Sandbox, SandboxConfig, SandboxError};

pub use self::backtest::{ReplayConfig, ReplaySummary, backtest_plan, replay};
pub use self::broker::order_id_prefix;
// The tests reach these through this module.
#[cfg(test)]
use self::{
    broker::{client_order_id, parse_client_order_id, parse_earlier_client_order_id},
    results::{latency_histogram, latency_report},
    session::minutes_from_open,
};

/// Bars kept per symbol and timeframe for the `market-data` import: ten
/// days of minute bars including extended hours (16 hours a day).
pub const LIVE_HISTORY_BARS: usize = 10 * 16 * 60;

#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Params(#[from] params::ParamError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("consumer {id}: cannot reach the producer at {path}: {source}")]
    Connect { id: u32, path: PathBuf, source: std::io::Error },
    #[error("consumer {id}: {source}")]
    Transport { id: u32, source: TransportError },
    #[error("consumer {id}: the producer closed the connection before assigning symbols")]
    NoAssignment { id: u32 },
    #[error(transparent)]
    Recording(#[from] RecordingError),
    #[error("{plan}: none of the tradeplan's symbols is in the data (it has {data})")]
    NoSymbols { plan: PathBuf, data: String },
    #[error(transparent)]
    Plan(#[from] crate::tradeplan::TradePlanError),
}

#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    pub id: u32,
    pub socket: PathBuf,
    pub plan: TradePlan,
    /// The tradeplan file (a recording keeps its text).
    pub plan_path: PathBuf,
    /// `trade --record DIR`: record what this process's strategies see there.
    pub record: Option<PathBuf>,
    /// This process replaces one of the batch that died.
    pub restarted: bool,
    pub db: DbTarget,
    pub batch_id: String,
    pub env: AlgoEnv,
}

/// The sandbox limits of a tradeplan strategy, over the defaults.
pub fn limits_of(s: &StrategyConfig) -> Limits {
    let d = Limits::default();
    Limits {
        fuel_per_event: s.limits.fuel_per_event.unwrap_or(d.fuel_per_event),
        deadline: s.limits.deadline_ms.map_or(d.deadline, Duration::from_millis),
        memory_bytes: s.limits.memory_mb.map_or(d.memory_bytes, |mb| mb << 20),
        log_bytes: s.limits.log_bytes.unwrap_or(d.log_bytes),
        log_bytes_per_minute: s.limits.log_bytes_per_minute.unwrap_or(d.log_bytes_per_minute),
    }
}

/// The order checks of a tradeplan strategy: its own limits over the plan's.
fn checks_of(plan: &TradePlan, s: &StrategyConfig) -> OrderChecks {
    OrderChecks {
        max_position_notional: s.limits.max_position_notional.or(plan.limits.max_position_notional),
        max_open_positions: s.limits.max_open_positions.or(plan.limits.max_open_positions),
        shortable: plan.limits.shortable,
        refuse_duplicates: true,
        max_orders_per_minute: s.limits.max_orders_per_minute.unwrap_or(DEFAULT_MAX_ORDERS_PER_MINUTE),
        allowed_symbols: s.limits.allowed_symbols.clone(),
    }
}

/// Runs one consumer until the producer says shut down (or goes away).
pub fn run(config: ConsumerConfig) -> Result<(), ConsumerError> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|source| ConsumerError::Connect {
        id: config.id,
        path: config.socket.clone(),
        source,
    })?;
    runtime.block_on(live::run_async(config))
}

/// What earlier runs kept in the strategies' `state` stores, by strategy name.
type KeptState = HashMap<String, BTreeMap<String, String>>;

/// A plan's strategies, loaded and started over one market state.
type Started = (Vec<LoadedStrategy>, Vec<StrategyRunner>, Rc<RefCell<MarketState>>);

/// Loads and initialises the tradeplan's strategies, as each consumer runs them.
fn start_strategies(plan: &TradePlan, kept: &KeptState) -> Result<Started, ConsumerError> {
    let max_memory = plan.strategies.iter().map(|s| limits_of(s).memory_bytes).max().unwrap_or(Limits::default().memory_bytes);
    let sandbox = Sandbox::new(SandboxConfig {
        max_instances: plan.strategies.len() as u32 + 1,
        max_memory_bytes: max_memory,
        ..SandboxConfig::default()
    })?;
    let loaded = plan.strategies.iter().map(|s| sandbox.load(&s.component)).collect::<Result<Vec<_>, _>>()?;

    let market = Rc::new(RefCell::new(MarketState::default().with_history_limit(LIVE_HISTORY_BARS)));
    let mut runners = Vec::with_capacity(loaded.len());
    for (strategy, config_of) in loaded.iter().zip(&plan.strategies) {
        let args: Vec<ParamArg> =
            config_of.params.iter().map(|(name, value)| ParamArg { strategy: None, name: name.clone(), value: value.clone() }).collect();
        let mut used = vec![false; args.len()];
        let mut broker = SimulatedBroker::new(FillAt::NextOpen, Commission::default(), 1.0).with_checks(checks_of(plan, config_of));
        if plan.broker.kind == BrokerKind::Alpaca {
            broker = broker.routed_out();
        }
        let account = Account::new(Portfolio::new(plan.portfolio_value, 0), broker);
        let runner = StrategyRunner::start(strategy, &sandbox, market.clone(), account, limits_of(config_of), &args, &mut used, &|name| {
            KeyStore::with_values(kept.get(name).cloned().unwrap_or_default())
        })?;
        params::check_all_used(&args, &used, &[runner.info()])?;
        runners.push(runner);
    }

    Ok((loaded, runners, market))
}

/// The `algo_run` rows of a session's strategies, in plan order; a
/// replay's name the runs they replay (`replays`, also in plan order).
fn run_starts(
    runners: &[StrategyRunner],
    loaded: &[LoadedStrategy],
    env: AlgoEnv,
    start_time: chrono::DateTime<Utc>,
    replays: &[ReplayedRun],
) -> Vec<RunStart> {
    runners
        .iter()
        .zip(loaded)
        .enumerate()
        .map(|(i, (r, l))| RunStart {
            algo_name: r.name().to_owned(),
            algo_env: env,
            parameters: r.parameters().clone(),
            start_time,
            strategy_digest: l.digest.clone(),
            replays: replays.get(i).cloned(),
        })
        .collect()
}

/// Checks before any consumer starts that every strategy of the plan loads
/// (no import outside the world) and accepts its parameters, so a bad plan
/// is one error rather than consumers failing over and over.
pub fn check_strategies(plan: &TradePlan) -> Result<(), ConsumerError> {
    start_strategies(plan, &KeptState::new()).map(|_| ())
}

#[cfg(test)]
mod tests;
