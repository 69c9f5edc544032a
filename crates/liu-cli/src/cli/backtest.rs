//! `liu-engine backtest`.

use liu_core::domain::EndReason;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use clap::{ArgGroup, Args};
use liu_core::domain::Fill;
use liu_data::LoadOptions;
use liu_data::store::bars::BarQuery;
use liu_data::store::blocking::ReadBarsError;
use liu_data::store::research::SymbolBars;
use liu_data::store::{self, BatchWriter, Commit, DbTarget, RunEnd, RunStart};
use liu_engine::backtest::{self, BacktestConfig, BacktestReport};
use liu_engine::consumer::ReplayConfig;
use liu_exec::broker::{Commission, DEFAULT_MAX_ORDERS_PER_MINUTE, FillAt, OrderChecks};
use liu_sandbox::params::ParamArg;
use liu_sandbox::{Limits, Sandbox, SandboxConfig};
use serde_json::json;

use super::import::TimeframeArg;

#[derive(Args)]
// One source of events: bars (a file, or the database) or a recording.
#[command(group(ArgGroup::new("source").args(["data", "from_db", "replay"]).required(true)))]
pub struct BacktestArgs {
    /// A strategy component (.wasm); repeat for several.
    #[arg(long = "strategy", required_unless_present_any = ["replay", "tradeplan"], conflicts_with_all = ["replay", "tradeplan"])]
    strategies: Vec<PathBuf>,
    /// Replay a session `trade --record DIR` recorded (the folder, or one
    /// file): the tradeplan's strategies over exactly the events each
    /// consumer's strategies saw, with the paper broker's rules, into a new batch.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["data", "from_db"])]
    replay: Option<PathBuf>,
    /// Run a tradeplan's strategies as `trade` runs them (its parameters,
    /// limits, schedules and the paper broker), over --data / --from-db
    /// bars of its symbols. With --replay: the plan to replay, which must
    /// be the recorded one (default: the plan the recording holds).
    #[arg(long)]
    tradeplan: Option<PathBuf>,
    /// A parameter: name=value (every strategy declaring it) or strategy.name=value.
    #[arg(long = "param")]
    params: Vec<ParamArg>,
    /// Also write the batch's HTML report (as `liu-engine report`) to this file.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["replay", "tradeplan"])]
    report: Option<PathBuf>,
    #[command(flatten)]
    options: RunOptions,
}

/// What `backtest` and `optimize` share: which bars, the database, the
/// account and broker settings, the sandbox limits, the output.
#[derive(Args)]
pub(super) struct RunOptions {
    /// Bars: a CSV file or a folder of CSV files.
    #[arg(long)]
    pub(super) data: Option<PathBuf>,
    /// Bars: those of each --symbol in the database's `bars` table (see `import bars`).
    #[arg(long, requires = "symbol")]
    pub(super) from_db: bool,
    /// Database: a SQLite file path or sqlite:// URL (WAL mode), or a postgres:// URL.
    #[arg(long, env = "DATABASE_URL", default_value = "./liu.db", hide_env_values = true)]
    pub(super) db: DbTarget,
    /// Print a machine-readable JSON summary on stdout.
    #[arg(long)]
    pub(super) json: bool,
    /// With --data: the symbol of a file without a symbol column (default: the
    /// file name). With --from-db: a symbol to replay; repeat for several.
    #[arg(long)]
    symbol: Vec<String>,
    /// With --from-db: the timeframe of the bars (default: the one the symbols' bars have).
    #[arg(long, value_enum, requires = "from_db")]
    timeframe: Option<TimeframeArg>,
    /// First bar time to replay (date, datetime or epoch seconds), inclusive.
    #[arg(long)]
    from: Option<String>,
    /// Last bar time to replay, inclusive.
    #[arg(long)]
    to: Option<String>,
    /// Starting cash of each strategy's account.
    #[arg(long, default_value_t = 100_000.0)]
    cash: f64,
    /// Commission per share.
    #[arg(long, default_value_t = 0.0)]
    commission_per_share: f64,
    /// Commission in percent of notional.
    #[arg(long, default_value_t = 0.0)]
    commission_pct: f64,
    /// Where market orders fill.
    #[arg(long, value_enum, default_value_t = FillAt::NextOpen)]
    fill_at: FillAt,
    /// Gross exposure allowed as a multiple of equity.
    #[arg(long, default_value_t = 1.0)]
    leverage: f64,
    /// Fuel per callback.
    #[arg(long, default_value_t = Limits::default().fuel_per_event)]
    fuel: u64,
    /// Wall-clock deadline per callback, in milliseconds.
    #[arg(long, default_value_t = Limits::default().deadline.as_millis() as u64)]
    deadline_ms: u64,
    /// Memory cap per strategy, in MiB.
    #[arg(long, default_value_t = Limits::default().memory_bytes >> 20)]
    memory_mb: usize,
    /// Orders each strategy may submit per minute of bar time; the rest are rejected.
    #[arg(long, default_value_t = DEFAULT_MAX_ORDERS_PER_MINUTE, value_parser = clap::value_parser!(u32).range(1..))]
    max_orders_per_minute: u32,
    /// Bytes each strategy may log per minute of bar time; the rest are dropped.
    #[arg(long, default_value_t = Limits::default().log_bytes_per_minute)]
    log_bytes_per_minute: usize,
    /// Run without fuel metering and deadlines, only to measure what they
    /// cost (`bench/backtest.sh`). Never for strategies you do not trust.
    #[arg(long, hide = true)]
    unmetered: bool,
}

impl RunOptions {
    /// Checks the numbers and reads the bars: from `--data` (a file or
    /// folder), else the `--symbol`s of the database.
    pub(super) fn market_data(&self) -> anyhow::Result<liu_data::MarketData> {
        for (name, v) in [("--cash", self.cash), ("--leverage", self.leverage)] {
            anyhow::ensure!(v.is_finite() && v > 0.0, "{name} must be a positive number, got {v}");
        }
        for (name, v) in [("--commission-per-share", self.commission_per_share), ("--commission-pct", self.commission_pct)] {
            anyhow::ensure!(v.is_finite() && v >= 0.0, "{name} must be zero or positive, got {v}");
        }
        let from = self.from.as_deref().map(|s| parse_time("--from", s)).transpose()?;
        let to = self.to.as_deref().map(|s| parse_time("--to", s)).transpose()?;
        Ok(match &self.data {
            Some(path) => {
                anyhow::ensure!(
                    self.symbol.len() <= 1,
                    "with --data, --symbol names the symbol of a file without a symbol column: give it once"
                );
                liu_data::load(path, &LoadOptions { symbol: self.symbol.first().cloned(), from, to })?
            }
            None => {
                let query = BarQuery { symbols: self.symbol.clone(), timeframe: self.timeframe.and_then(TimeframeArg::fixed), from, to };
                bars_from_db(&self.db, &query)?
            }
        })
    }

    /// A sandbox for `instances` live strategy instances under these limits.
    pub(super) fn sandbox(&self, instances: u32) -> anyhow::Result<Sandbox> {
        Ok(Sandbox::new(SandboxConfig {
            max_instances: instances,
            max_memory_bytes: self.memory_mb << 20,
            enforce_limits: !self.unmetered,
            ..SandboxConfig::default()
        })?)
    }

    /// The span to replay when `--from`/`--to` are not given (a tradeplan's `[optimizer]` dates).
    pub(super) fn default_span(&mut self, from: Option<&str>, to: Option<&str>) {
        self.from = self.from.take().or_else(|| from.map(str::to_owned));
        self.to = self.to.take().or_else(|| to.map(str::to_owned));
    }

    pub(super) fn config(&self) -> BacktestConfig {
        BacktestConfig {
            cash: self.cash,
            commission: Commission { per_share: self.commission_per_share, percent: self.commission_pct },
            fill_at: self.fill_at,
            leverage: self.leverage,
            limits: Limits {
                fuel_per_event: self.fuel,
                deadline: Duration::from_millis(self.deadline_ms),
                memory_bytes: self.memory_mb << 20,
                log_bytes_per_minute: self.log_bytes_per_minute,
                ..Limits::default()
            },
            checks: OrderChecks { max_orders_per_minute: self.max_orders_per_minute, ..OrderChecks::default() },
        }
    }
}

pub fn run(args: BacktestArgs) -> anyhow::Result<()> {
    if let Some(recording) = &args.replay {
        return replay(recording, &args);
    }
    let started = Instant::now();
    let market_data = args.options.market_data()?;
    let loaded_in = started.elapsed();
    if let Some(plan) = &args.tradeplan {
        let db = args.options.db.clone();
        return report_session(&args, started, |progress| liu_engine::consumer::backtest_plan(plan, &market_data, &db, progress));
    }

    let sandbox = args.options.sandbox(args.strategies.len() as u32 + 1)?;
    let strategies = args.strategies.iter().map(|p| sandbox.load(p)).collect::<Result<Vec<_>, _>>()?;
    let config = args.options.config();

    let backtest = backtest::prepare(&sandbox, &strategies, &args.params, &market_data, &config)?;

    // Every input is valid: open the database and record while replaying.
    let batch_id = uuid::Uuid::new_v4().to_string();
    let start_time = Utc::now();
    let runs = backtest
        .strategies()
        .map(|s| RunStart {
            algo_name: s.name.to_owned(),
            algo_env: liu_core::domain::AlgoEnv::Backtest,
            parameters: s.parameters.clone(),
            start_time,
            strategy_digest: s.digest.to_owned(),
            replays: None,
        })
        .collect();
    let writer = BatchWriter::start(&args.options.db, &batch_id, runs, market_data.symbols.clone(), Commit::AtEnd)
        .with_context(|| format!("opening the database {}", args.options.db))?;

    let bar = progress_bar(market_data.events.len());
    let replay_started = Instant::now();
    let report = backtest.run(&mut WriterSink(&writer), &mut |done| {
        if let Some(b) = &bar {
            b.set_position(done as u64);
        }
    });
    let replayed_in = replay_started.elapsed();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let end_time = Utc::now();
    let curves = report.strategies.iter().map(|s| s.curve.clone()).collect();
    writer.curves(curves, bars_by_symbol(&market_data));
    let ends = report.strategies.iter().map(|s| RunEnd { end_time, end_reason: s.end_reason.clone(), fuel_used: s.fuel_used }).collect();
    writer.finish(ends).with_context(|| format!("recording the backtest in {}", args.options.db))?;
    let written_in = end_time.signed_duration_since(Utc::now()).abs();

    if args.options.json {
        outln!("{}", serde_json::to_string_pretty(&json_summary(&batch_id, &args.options.db, &report))?);
    } else {
        print_summary(&batch_id, &args.options.db, &report)?;
    }
    tracing::info!(
        "loaded {} bars in {:.3}s, replayed in {:.3}s ({:.0} bars/s), database finished {:.3}s after the replay",
        report.bars,
        loaded_in.as_secs_f64(),
        replayed_in.as_secs_f64(),
        report.bars as f64 / replayed_in.as_secs_f64().max(1e-9),
        written_in.as_seconds_f64()
    );
    if let Some(path) = &args.report {
        super::report::write_report(&args.options.db, &batch_id, path)?;
        eprintln!("report written to {}", path.display());
    }
    Ok(())
}

/// Each symbol's bars of the replay, for the batch's record.
fn bars_by_symbol(data: &liu_data::MarketData) -> Vec<SymbolBars> {
    let mut out: Vec<SymbolBars> = data.symbols.iter().map(|s| SymbolBars { symbol: s.clone(), ..SymbolBars::default() }).collect();
    for e in &data.events {
        out[e.symbol as usize].push(&e.bar);
    }
    out
}

/// Reads the bars of a `--from-db` backtest.
fn bars_from_db(db: &DbTarget, query: &BarQuery) -> anyhow::Result<liu_data::MarketData> {
    match store::blocking::read_bars(db, query) {
        Err(ReadBarsError::Open(e)) => Err(e).with_context(|| format!("opening the database {db}")),
        read => Ok(read?),
    }
}

/// Streams fills to the database writer thread.
struct WriterSink<'a>(&'a BatchWriter);

impl backtest::FillSink for WriterSink<'_> {
    fn fills(&mut self, strategy: usize, fills: &[Fill]) {
        self.0.fills(strategy, fills.to_vec());
    }
}

fn parse_time(flag: &str, s: &str) -> anyhow::Result<i64> {
    liu_core::time::parse_timestamp(s).with_context(|| format!("{flag} `{s}`: expected a date (2024-01-31), a datetime or epoch seconds"))
}

fn progress_bar(total: usize) -> Option<indicatif::ProgressBar> {
    if total < 200_000 || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {human_pos}/{human_len} bars  {per_sec}  eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(bar)
}

fn json_summary(batch_id: &str, db: &DbTarget, report: &BacktestReport) -> serde_json::Value {
    let strategies: Vec<_> = report
        .strategies
        .iter()
        .map(|s| {
            let m = &s.metrics;
            json!({
                "name": s.name,
                "version": s.version,
                "path": s.path,
                "parameters": s.parameters,
                "final_equity": m.final_equity,
                "return_pct": m.total_return_pct,
                "cagr_pct": m.cagr_pct,
                "max_drawdown_pct": m.max_drawdown_pct,
                "sharpe": m.sharpe,
                "sortino": m.sortino,
                "win_rate_pct": m.win_rate_pct,
                "profit_factor": m.profit_factor,
                "trades": m.round_trips,
                "fills": s.fills.len(),
                "exposure_pct": m.exposure_pct,
                "end_reason": s.end_reason,
                "open_positions": s.open_positions,
                "rejected_orders": s.rejected_orders,
                "fuel_used": s.fuel_used,
            })
        })
        .collect();
    json!({
        "batch_id": batch_id,
        "db": db.to_string(),
        "symbols": report.symbols,
        "bars": report.bars,
        "from": report.first_bar.map(store::event_time),
        "to": report.last_bar.map(store::event_time),
        "strategies": strategies,
    })
}

fn print_summary(batch_id: &str, db: &DbTarget, report: &BacktestReport) -> anyhow::Result<()> {
    let span = match (report.first_bar, report.last_bar) {
        (Some(a), Some(b)) => format!("{} .. {}", &store::event_time(a)[..10], &store::event_time(b)[..10]),
        _ => String::new(),
    };
    let symbols = if report.symbols.len() <= 5 { report.symbols.join(", ") } else { format!("{} symbols", report.symbols.len()) };
    outln!("backtest {batch_id}  ({symbols}; {} bars; {span})  recorded in {db}", report.bars);
    outln!();
    outln!(
        "{:<22} {:>14} {:>9} {:>8} {:>9} {:>7} {:>8} {:>6} {:>7} {:>7} {:>6} {:>7}",
        "strategy",
        "final equity",
        "return%",
        "CAGR%",
        "max DD%",
        "sharpe",
        "sortino",
        "win%",
        "PF",
        "trades",
        "fills",
        "expo%"
    );
    for s in &report.strategies {
        let m = &s.metrics;
        let pf = m.profit_factor.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
        outln!(
            "{:<22} {:>14.2} {:>9.2} {:>8.2} {:>9.2} {:>7.2} {:>8.2} {:>6.1} {:>7} {:>7} {:>6} {:>7.1}",
            truncate(&s.name, 22),
            m.final_equity,
            m.total_return_pct,
            m.cagr_pct,
            m.max_drawdown_pct,
            m.sharpe,
            m.sortino,
            m.win_rate_pct,
            pf,
            m.round_trips,
            s.fills.len(),
            m.exposure_pct
        );
    }
    for s in &report.strategies {
        if s.end_reason != EndReason::Completed {
            outln!("\n{}: DISABLED — {}", s.name, s.end_reason);
        }
        for p in &s.open_positions {
            super::out::open_position(&s.name, "at end of data", p)?;
        }
    }
    Ok(())
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// `backtest --replay`: see [`liu_engine::consumer::replay`].
fn replay(recording: &std::path::Path, args: &BacktestArgs) -> anyhow::Result<()> {
    let config = ReplayConfig { recording: recording.to_owned(), plan: args.tradeplan.clone(), db: args.options.db.clone() };
    report_session(args, Instant::now(), |progress| liu_engine::consumer::replay(&config, progress))
}

/// Runs a plan's session backtest (`run`, given a progress callback), with
/// the backtest's progress bar on a terminal, and prints what it did as
/// `trade` does.
fn report_session(
    args: &BacktestArgs,
    started: Instant,
    run: impl FnOnce(&dyn Fn(u64, u64)) -> Result<liu_engine::consumer::ReplaySummary, liu_engine::consumer::ConsumerError>,
) -> anyhow::Result<()> {
    // Made on the first report, which tells the total.
    let bar = std::cell::OnceCell::new();
    let progress = |done: u64, total: u64| {
        if let Some(bar) = bar.get_or_init(|| if args.options.json { None } else { progress_bar(total as usize) }) {
            bar.set_position(done);
        }
    };
    let summary = run(&progress)?;
    if let Some(Some(bar)) = bar.get() {
        bar.finish_and_clear();
    }
    let elapsed = started.elapsed();
    if args.options.json {
        let mut value = serde_json::to_value(&summary)?;
        value["elapsed_secs"] = json!(elapsed.as_secs_f64());
        outln!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        outln!(
            "backtest {}: {} events ({} recording(s)) in {:.2} s",
            summary.batch_id,
            summary.events,
            summary.recordings.len(),
            elapsed.as_secs_f64()
        );
        super::live::print_strategies(&summary.strategies)?;
    }
    Ok(())
}
