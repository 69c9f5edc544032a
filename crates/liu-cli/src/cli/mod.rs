//! Argument definitions and dispatch for each subcommand.

/// `print!` to standard output through [`out::write`]; `?`s its error.
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::out::write(format_args!($($arg)*))? };
}

/// `println!` to standard output through [`out::write`]; `?`s its error.
macro_rules! outln {
    () => { $crate::cli::out::write(format_args!("\n"))? };
    ($($arg:tt)*) => { $crate::cli::out::write(format_args!("{}\n", format_args!($($arg)*)))? };
}

pub mod out;

mod backtest;
mod bench;
mod db;
mod export;
mod import;
mod live;
mod mine;
mod new;
mod optimize;
mod report;
#[cfg(feature = "simulator")]
mod simulate;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "liu-engine", version, about = "Algorithmic trading with sandboxed WebAssembly strategies")]
pub struct Cli {
    /// Log more (engine info messages); LIU_LOG=<filter> overrides.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay historical bars through one or more strategy components.
    Backtest(backtest::BacktestArgs),
    /// Write a batch's HTML report: metrics and interactive charts, in one self-contained file.
    Report(report::ReportArgs),
    /// Write a batch's fills and equity curves as Parquet or CSV, for notebooks.
    Export(export::ExportArgs),
    /// Sweep a strategy's parameters: a full backtest per combination, ranked, recorded and resumable.
    Optimize(optimize::OptimizeArgs),
    /// Trade live: a producer and per-core consumer processes run the tradeplan's strategies.
    Trade(live::TradeArgs),
    /// Serve the Alpaca market-data stream protocol locally, replaying bars.
    #[cfg(feature = "simulator")]
    Simulate(simulate::SimulateArgs),
    /// One consumer process (started by `trade`).
    #[command(hide = true)]
    Consumer(live::ConsumerArgs),
    /// Check a strategy component before trusting it: its imports, a dry run
    /// under the sandbox limits, determinism; exit 0 only on a pass.
    Audit {
        /// The strategy component (.wasm).
        strategy: PathBuf,
        /// A strategy parameter, `name=value` (repeatable); defaults otherwise.
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<liu_sandbox::params::ParamArg>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a strategy component's name, version and parameters.
    Describe {
        /// The strategy component (.wasm).
        strategy: PathBuf,
    },
    /// Build components from core modules.
    Component {
        #[command(subcommand)]
        command: ComponentCommand,
    },
    /// Database schema: apply migrations, show their status.
    Db {
        #[command(subcommand)]
        command: db::DbCommand,
    },
    /// Load data into the database.
    Import {
        #[command(subcommand)]
        command: import::ImportCommand,
    },
    /// Fetch daily bars and reference data from Alpaca, Polygon or files into the database.
    Mine {
        #[command(subcommand)]
        command: mine::MineCommand,
    },
    /// Measure the rate of trade writes (`bench/db.sh`).
    #[command(hide = true)]
    BenchWrites(bench::BenchWritesArgs),
    /// Measure what waking a sleeping thread costs (`bench/handoff.sh`).
    #[command(hide = true)]
    BenchHandoff(bench::BenchHandoffArgs),
    /// Measure a live session's warm-up from the providers' REST bars (`bench/warmup.sh`).
    #[command(hide = true)]
    BenchWarmup(bench::BenchWarmupArgs),
    /// Sample data.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
    /// Scaffold a new project.
    New {
        #[command(subcommand)]
        command: NewCommand,
    },
}

#[derive(Subcommand)]
enum NewCommand {
    /// A strategy project (Rust, Python, JavaScript or C) with a build script.
    Strategy(new::NewStrategyArgs),
}

#[derive(Subcommand)]
enum ComponentCommand {
    /// Wrap a core module built with a strategy SDK (wasm32-unknown-unknown) into a component.
    New {
        /// The core module.
        input: PathBuf,
        /// Where to write the component.
        #[arg(short, long)]
        output: PathBuf,
    },
}

#[derive(Subcommand)]
enum DataCommand {
    /// Write deterministic synthetic minute bars (a random walk) as CSV.
    Generate {
        /// Bars per symbol.
        #[arg(long, default_value_t = 1_000_000)]
        bars: usize,
        /// Number of symbols.
        #[arg(long, default_value_t = 1)]
        symbols: usize,
        /// Random seed; the same seed gives the same file.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Output CSV file.
        #[arg(short, long)]
        output: PathBuf,
    },
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Backtest(args) => backtest::run(args),
        Command::Report(args) => report::run(args),
        Command::Export(args) => export::run(args),
        Command::Optimize(args) => optimize::run(args),
        Command::Trade(args) => live::trade(args),
        #[cfg(feature = "simulator")]
        Command::Simulate(args) => simulate::simulate(args),
        Command::Consumer(args) => live::consumer(args),
        Command::Audit { strategy, params, json } => audit(&strategy, &params, json),
        Command::Describe { strategy } => describe(&strategy),
        Command::Db { command } => db::run(command),
        Command::Import { command } => import::run(command),
        Command::Mine { command } => mine::run(command),
        Command::BenchWrites(args) => bench::run(args),
        Command::BenchHandoff(args) => bench::handoff(args),
        Command::BenchWarmup(args) => bench::warmup(args),
        Command::Component { command: ComponentCommand::New { input, output } } => {
            liu_sandbox::component::new_component(&input, &output)?;
            Ok(())
        }
        Command::New { command: NewCommand::Strategy(args) } => new::run(args),
        Command::Data { command: DataCommand::Generate { bars, symbols, seed, output } } => {
            anyhow::ensure!(symbols > 0 && bars > 0, "--bars and --symbols must be at least 1");
            let data = liu_data::synthetic::random_walk(bars, symbols, seed);
            liu_data::synthetic::write_csv(&data, &output).with_context(|| format!("writing {}", output.display()))?;
            eprintln!("wrote {} bars for {} symbol(s) to {}", data.events.len(), symbols, output.display());
            Ok(())
        }
    }
}

fn audit(path: &std::path::Path, params: &[liu_sandbox::params::ParamArg], json: bool) -> anyhow::Result<()> {
    use liu_sandbox::{Sandbox, SandboxConfig};
    let sandbox = Sandbox::new(SandboxConfig { max_instances: 2, ..SandboxConfig::default() })?;
    let report = liu_engine::audit::audit(&sandbox, path, params)?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        out!("{}", report.to_text());
    }
    if !report.passed {
        // The verdict is printed; the exit code says it to scripts.
        std::process::exit(1);
    }
    Ok(())
}

fn describe(path: &std::path::Path) -> anyhow::Result<()> {
    use liu_sandbox::{Limits, ParamValue, Sandbox, SandboxConfig};
    let sandbox = Sandbox::new(SandboxConfig { max_instances: 1, ..SandboxConfig::default() })?;
    let loaded = sandbox.load(path)?;
    let market = std::rc::Rc::new(std::cell::RefCell::new(liu_core::market::MarketState::new(&[])));
    let account = liu_exec::account::Account::new(
        liu_exec::portfolio::Portfolio::new(0.0, 0),
        liu_exec::broker::SimulatedBroker::new(Default::default(), Default::default(), 1.0),
    );
    let mut instance = loaded.instantiate(&sandbox, market, Box::new(account), Limits::default())?;
    let info =
        instance.describe().with_context(|| format!("{} failed in describe: {}", path.display(), instance.disabled().unwrap_or("")))?;
    outln!("{} {}  ({})", info.name, info.version, loaded.digest);
    for p in &info.params {
        let default = match &p.default {
            None => "required".to_owned(),
            Some(ParamValue::Integer(v)) => format!("default {v}"),
            Some(ParamValue::Float(v)) => format!("default {v}"),
            Some(ParamValue::Text(v)) => format!("default {v:?}"),
            Some(ParamValue::Flag(v)) => format!("default {v}"),
        };
        outln!("  {:<16} {:<8} {:<18} {}", p.name, format!("{:?}", p.kind).to_lowercase(), default, p.description);
    }
    Ok(())
}
