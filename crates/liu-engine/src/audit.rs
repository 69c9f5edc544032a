//! `liu-engine audit`: what a stranger's strategy component asks for and
//! how it behaves, before anyone trades with it.
//!
//! The audit lists the component's imports and exports and refuses every
//! import outside the `strategy` world; then it dry-runs the strategy in the
//! sandbox, under the default limits, on synthetic minute bars and on the
//! bundled real daily prices, measuring fuel per event, peak memory, orders,
//! log volume and traps; and it replays each data set twice to check that
//! the orders are identical. Any refusal, trap or difference fails it.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde::Serialize;

use crate::runner::{StartError, StrategyRunner};
use liu_core::domain::{Fill, SymbolId};
use liu_core::market::MarketState;
use liu_data::MarketData;
use liu_exec::account::Account;
use liu_exec::broker::{Commission, FillAt, SimulatedBroker};
use liu_exec::metrics::nearest_rank;
use liu_exec::portfolio::Portfolio;
use liu_sandbox::params::ParamArg;
use liu_sandbox::{ImportCheck, KeyStore, Limits, LoadedStrategy, Sandbox, SandboxError};

/// More orders than events is spam, whatever the strategy.
const MAX_ORDERS_PER_1000_EVENTS: f64 = 1000.0;

/// Real daily prices shipped with the engine (GOOG, 2004–2013).
const BUNDLED_DAILY: &str = include_str!("../../../data/GOOG.csv");

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The file cannot be audited at all (unreadable, not a component).
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error("bundled data: {0}")]
    Data(#[from] liu_data::DataError),
}

/// The audit's findings; `passed` is the verdict.
#[derive(Debug, Serialize)]
pub struct AuditReport {
    pub path: PathBuf,
    pub digest: String,
    pub passed: bool,
    /// Why it failed; empty when it passed.
    pub reasons: Vec<String>,
    pub imports: Vec<ImportCheck>,
    pub exports: Vec<String>,
    /// Strategy name and version, when it could be started.
    pub strategy: Option<String>,
    pub limits: Limits,
    pub runs: Vec<DryRun>,
}

/// One data set replayed through the strategy (twice, for determinism).
#[derive(Debug, Serialize)]
pub struct DryRun {
    pub data: String,
    /// Events replayed: all of the data's, unless a trap or order spam stopped it.
    pub events: usize,
    pub fuel_per_event: FuelStats,
    pub peak_memory_bytes: usize,
    pub orders: u64,
    pub rejected_orders: u64,
    /// Orders with a NaN, infinite, zero or negative quantity or price, or
    /// malformed or oversized indicators.
    pub invalid_orders: u64,
    /// Log messages over the per-message limit.
    pub oversized_logs: u64,
    pub orders_per_1000_events: f64,
    pub fills: usize,
    pub log_bytes: usize,
    pub log_lines_dropped: u64,
    /// Why the strategy was disabled, if it was.
    pub trap: Option<String>,
    /// `None` when both replays gave the same fills; else the first difference.
    pub nondeterminism: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct FuelStats {
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
}

/// Audits the component at `path` with `params` (its defaults otherwise).
pub fn audit(sandbox: &Sandbox, path: &Path, params: &[ParamArg]) -> Result<AuditReport, AuditError> {
    let inspection = sandbox.inspect(path)?;
    let limits = Limits::default();
    let mut report = AuditReport {
        path: path.to_owned(),
        digest: inspection.digest,
        passed: false,
        reasons: Vec::new(),
        imports: inspection.imports,
        exports: inspection.exports,
        strategy: None,
        limits,
        runs: Vec::new(),
    };
    for import in report.imports.iter().filter(|i| i.status != "granted") {
        report.reasons.push(match import.capability {
            Some(capability) => format!("imports `{}` ({capability}), which the strategy world does not grant", import.name),
            None => format!("imports `{}`, an incompatible version of the strategy world", import.name),
        });
    }
    if !report.reasons.is_empty() {
        return Ok(report);
    }
    let loaded = match sandbox.load(path) {
        Ok(l) => l,
        Err(e) => {
            report.reasons.push(e.to_string());
            return Ok(report);
        }
    };
    let data_sets = [
        ("synthetic: 5 symbols x 2,000 minute bars".to_owned(), liu_data::synthetic::random_walk(2_000, 5, 7)),
        ("bundled: GOOG daily".to_owned(), bundled_daily()?),
    ];
    for (name, market_data) in &data_sets {
        let first = match dry_run(sandbox, &loaded, params, market_data, limits) {
            Ok(run) => run,
            Err(e) => {
                report.reasons.push(format!("{name}: {e}"));
                return Ok(report);
            }
        };
        if report.strategy.is_none() {
            report.strategy = Some(first.strategy.clone());
        }
        let second = dry_run(sandbox, &loaded, params, market_data, limits).map_err(|e| report.reasons.push(format!("{name}: {e}"))).ok();
        let nondeterminism = second.and_then(|second| first_difference(&first.fills, &second.fills));
        let mut run = first.summary(name.clone());
        if let Some(trap) = &run.trap {
            let trap = trap.strip_prefix("disabled: ").unwrap_or(trap);
            report.reasons.push(format!("{name}: disabled: {trap}"));
        }
        if run.invalid_orders > 0 {
            report.reasons.push(format!(
                "{name}: {} orders with a NaN, infinite, zero or negative quantity or price, or malformed or oversized indicators",
                run.invalid_orders
            ));
        }
        if run.orders_per_1000_events > MAX_ORDERS_PER_1000_EVENTS {
            report.reasons.push(format!(
                "{name}: order spam: {:.0} orders per 1,000 events (more than {MAX_ORDERS_PER_1000_EVENTS:.0})",
                run.orders_per_1000_events
            ));
        }
        if run.oversized_logs > 0 {
            report.reasons.push(format!("{name}: {} oversized log messages passed to the host", run.oversized_logs));
        }
        if run.log_lines_dropped > 0 {
            report
                .reasons
                .push(format!("{name}: logs beyond its budget: {} lines dropped after {} bytes", run.log_lines_dropped, run.log_bytes));
        }
        if let Some(diff) = &nondeterminism {
            report.reasons.push(format!("{name}: not deterministic: {diff}"));
        }
        run.nondeterminism = nondeterminism;
        report.runs.push(run);
    }
    report.passed = report.reasons.is_empty();
    Ok(report)
}

/// The bundled daily prices, through the same loader as user data.
fn bundled_daily() -> Result<MarketData, AuditError> {
    let dir = std::env::temp_dir().join(format!("liu-audit-{}", std::process::id()));
    let file = dir.join("GOOG.csv");
    let io = |source| liu_data::DataError::Io { path: file.clone(), source };
    std::fs::create_dir_all(&dir).map_err(io)?;
    std::fs::write(&file, BUNDLED_DAILY).map_err(io)?;
    let loaded = liu_data::load(&file, &Default::default());
    let _ = std::fs::remove_dir_all(&dir);
    Ok(loaded?)
}

/// What one replay observed.
struct Observed {
    strategy: String,
    /// Events replayed (fewer than the data's when stopped early).
    events: usize,
    fuel: Vec<u64>,
    peak_memory: usize,
    orders: u64,
    rejected: u64,
    invalid: u64,
    oversized_logs: u64,
    fills: Vec<Fill>,
    log: (usize, u64),
    trap: Option<String>,
}

impl Observed {
    fn summary(mut self, data: String) -> DryRun {
        let events = self.events;
        self.fuel.sort_unstable();
        let at = |q| nearest_rank(&self.fuel, q);
        let total = self.orders + self.rejected;
        DryRun {
            data,
            events,
            fuel_per_event: FuelStats { p50: at(0.5), p99: at(0.99), max: self.fuel.last().copied().unwrap_or(0) },
            peak_memory_bytes: self.peak_memory,
            orders: total,
            rejected_orders: self.rejected,
            invalid_orders: self.invalid,
            oversized_logs: self.oversized_logs,
            orders_per_1000_events: if events == 0 { 0.0 } else { total as f64 * 1000.0 / events as f64 },
            fills: self.fills.len(),
            log_bytes: self.log.0,
            log_lines_dropped: self.log.1,
            trap: self.trap,
            nondeterminism: None,
        }
    }
}

/// Replays `data` through a fresh instance, measuring each event.
fn dry_run(
    sandbox: &Sandbox,
    loaded: &LoadedStrategy,
    params: &[ParamArg],
    data: &MarketData,
    limits: Limits,
) -> Result<Observed, StartError> {
    let market = Rc::new(RefCell::new(MarketState::new(&data.symbols)));
    let account =
        Account::new(Portfolio::new(100_000.0, data.symbols.len()), SimulatedBroker::new(FillAt::NextOpen, Commission::default(), 1.0));
    let mut used = vec![false; params.len()];
    let mut runner = StrategyRunner::start(loaded, sandbox, market.clone(), account, limits, params, &mut used, &|_| KeyStore::default())?;
    for (id, name) in data.symbols.iter().enumerate() {
        runner.add_symbol(id as SymbolId, name);
    }
    let mut fuel = Vec::with_capacity(data.events.len());
    let events = &data.events;
    let mut i = 0;
    // Spam is evident long before the end; stop rather than replay it all.
    let spamming = |runner: &StrategyRunner, events: usize| {
        let orders = runner.account().accepted_orders + runner.account().rejected_orders;
        orders as f64 > MAX_ORDERS_PER_1000_EVENTS * (events as f64 / 1000.0) + 10_000.0
    };
    while i < events.len() && runner.disabled().is_none() && !spamming(&runner, i) {
        let time = events[i].bar.time;
        while i < events.len() && events[i].bar.time == time {
            let e = &events[i];
            market.borrow_mut().push_bar(e.symbol, data.timeframe, e.bar);
            let before = runner.instance().fuel_used();
            runner.on_bar(e.symbol, data.timeframe, &e.bar);
            fuel.push(runner.instance().fuel_used() - before);
            i += 1;
        }
        runner.end_step(time);
    }
    let state = runner.instance().state();
    Ok(Observed {
        strategy: format!("{} {}", runner.info().name, runner.info().version),
        events: i,
        fuel,
        peak_memory: state.peak_memory(),
        orders: runner.account().accepted_orders,
        rejected: runner.account().rejected_orders,
        invalid: runner.account().invalid_orders,
        oversized_logs: state.oversized_logs(),
        fills: runner.account().fills.clone(),
        log: state.log_volume(limits.log_bytes),
        trap: runner.disabled().map(str::to_owned),
    })
}

fn first_difference(a: &[Fill], b: &[Fill]) -> Option<String> {
    let index = a.iter().zip(b).position(|(x, y)| x != y);
    match index {
        Some(i) => Some(format!("fill {i} differs: {:?} vs {:?}", a[i], b[i])),
        None if a.len() != b.len() => Some(format!("{} fills in one replay, {} in the other", a.len(), b.len())),
        None => None,
    }
}

impl AuditReport {
    /// The report as text for a terminal.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(out, "{}  ({})", self.path.display(), self.digest);
        if let Some(s) = &self.strategy {
            let _ = writeln!(out, "strategy: {s}");
        }
        let _ = writeln!(out, "imports:");
        for i in &self.imports {
            let what = i.capability.map(|c| format!(" — {c}")).unwrap_or_default();
            let _ = writeln!(out, "  {:<9} {}{what}", i.status, i.name);
        }
        let _ = writeln!(out, "exports: {}", self.exports.join(", "));
        for r in &self.runs {
            let _ = writeln!(
                out,
                "dry run on {} ({} events): fuel/event p50 {} p99 {} max {}; peak memory {} KiB; {} orders ({:.1} per 1,000 events, {} rejected), {} fills; log {} bytes ({} lines dropped); {}; {}",
                r.data,
                r.events,
                r.fuel_per_event.p50,
                r.fuel_per_event.p99,
                r.fuel_per_event.max,
                r.peak_memory_bytes / 1024,
                r.orders,
                r.orders_per_1000_events,
                r.rejected_orders,
                r.fills,
                r.log_bytes,
                r.log_lines_dropped,
                r.trap.as_deref().map_or_else(|| "no trap".to_owned(), |t| format!("TRAP: {t}")),
                if r.nondeterminism.is_some() { "NOT deterministic" } else { "deterministic" },
            );
        }
        if self.passed {
            let _ = writeln!(out, "verdict: PASS");
        } else {
            let _ = writeln!(out, "verdict: FAIL");
            for reason in &self.reasons {
                let _ = writeln!(out, "  - {reason}");
            }
        }
        out
    }
}
