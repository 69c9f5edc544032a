//! `liu-engine trade` and the hidden `consumer` it re-executes.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use liu_data::store::DbTarget;
use liu_engine::consumer::{self, ConsumerConfig};
use liu_engine::producer::{self, ProducerConfig};
use liu_engine::tradeplan;

#[derive(Args)]
pub struct TradeArgs {
    /// The tradeplan (see tradeplan.example.toml).
    #[arg(long)]
    tradeplan: PathBuf,
    /// Database: a SQLite file path or sqlite:// URL (WAL mode), or a postgres:// URL.
    #[arg(long, env = "DATABASE_URL", default_value = "./liu.db", hide_env_values = true)]
    db: DbTarget,
    /// Stop by itself after this many seconds (default: run until SIGINT/SIGTERM).
    #[arg(long)]
    duration_secs: Option<f64>,
    /// Print the final summary as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Record what each consumer's strategies see into this folder (one
    /// file per consumer process), for `backtest --replay`.
    #[arg(long, value_name = "DIR")]
    record: Option<PathBuf>,
}

#[derive(Args)]
pub struct ConsumerArgs {
    #[arg(long)]
    id: u32,
    #[arg(long)]
    socket: PathBuf,
    #[arg(long)]
    tradeplan: PathBuf,
    #[arg(long)]
    batch_id: String,
    #[arg(long)]
    env: liu_core::domain::AlgoEnv,
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    db: DbTarget,
    #[arg(long)]
    record: Option<PathBuf>,
    /// This process replaces one of the batch that died.
    #[arg(long)]
    restarted: bool,
}

pub fn trade(args: TradeArgs) -> anyhow::Result<()> {
    let plan = tradeplan::load(&args.tradeplan)?;
    let duration = match args.duration_secs {
        Some(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
        Some(s) => anyhow::bail!("--duration-secs must be a positive number, got {s}"),
        None => None,
    };
    let batch_id = uuid::Uuid::new_v4().to_string();
    let plan_path = std::fs::canonicalize(&args.tradeplan).with_context(|| format!("{}", args.tradeplan.display()))?;
    let env = plan.algo_env();
    let config = ProducerConfig {
        plan,
        plan_path,
        db: args.db,
        socket_dir: std::env::temp_dir().join(format!("liu-engine-{}", &batch_id[..8])),
        batch_id,
        env,
        duration,
        record: args.record,
    };
    let summary = producer::run_blocking(config)?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        outln!(
            "trade {}: {} events received, {} routed to consumers, {} dropped (queue full), {} dropped (consumer down), consumer restarts {:?}, stream reconnects {}",
            summary.batch_id,
            summary.events,
            summary.routed,
            summary.dropped_full.iter().sum::<u64>(),
            summary.dropped_down.iter().sum::<u64>(),
            summary.restarts,
            summary.reconnects
        );
        print_strategies(&summary.strategies)?;
    }
    Ok(())
}

/// Per strategy, as `backtest` prints it: fills, realised and unrealised
/// P&L, equity (summed over the consumers, each trading its own cash).
pub(super) fn print_strategies(strategies: &[producer::StrategySummary]) -> anyhow::Result<()> {
    if strategies.is_empty() {
        return Ok(());
    }
    outln!();
    outln!(
        "{:<22} {:>9} {:>7} {:>12} {:>12} {:>9} {:>14} {:>9}",
        "strategy",
        "consumers",
        "fills",
        "realized",
        "unrealized",
        "fees",
        "equity",
        "return%"
    );
    for s in strategies {
        let t = &s.totals;
        let name: String = t.name.chars().take(22).collect();
        outln!(
            "{name:<22} {:>9} {:>7} {:>12.2} {:>12.2} {:>9.2} {:>14.2} {:>9.2}",
            s.consumers,
            t.fills,
            t.realized_pnl,
            t.unrealized_pnl,
            t.fees,
            t.equity,
            s.return_pct
        );
    }
    for s in strategies {
        for p in &s.totals.open_positions {
            super::out::open_position(&s.totals.name, "at the end", p)?;
        }
    }
    Ok(())
}

pub fn consumer(args: ConsumerArgs) -> anyhow::Result<()> {
    let plan = tradeplan::load(&args.tradeplan)?;
    consumer::run(ConsumerConfig {
        id: args.id,
        socket: args.socket,
        plan,
        plan_path: args.tradeplan,
        record: args.record,
        restarted: args.restarted,
        db: args.db,
        batch_id: args.batch_id,
        env: args.env,
    })?;
    Ok(())
}
