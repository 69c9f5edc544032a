//! `liu-engine bench-writes` (hidden, for `bench/db.sh`): the rate at which
//! the database takes `new_trades` rows through the same [`BatchWriter`] a
//! backtest uses, without a strategy or a replay in the way.

use std::time::Instant;

use anyhow::Context;
use chrono::Utc;
use clap::Args;
use liu_engine::domain::{Fill, NANOS_PER_SECOND, Operation, Side};
use liu_engine::store::{BatchWriter, Commit, DbTarget, RunEnd, RunStart};

#[derive(Args)]
pub struct BenchWritesArgs {
    /// Database: a SQLite path or sqlite:// URL, or a postgres:// URL.
    #[arg(long, env = "DATABASE_URL", default_value = "./liu.db", hide_env_values = true)]
    db: DbTarget,
    /// Fills to write, in one run.
    #[arg(long, default_value_t = 1_000_000)]
    rows: usize,
    /// Fills per message to the writer. A backtest hands over what its
    /// strategies filled every 65,536 bars: thousands of fills at a time for a
    /// busy strategy.
    #[arg(long, default_value_t = 4096)]
    per_message: usize,
}

pub fn run(args: BenchWritesArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.rows > 0 && args.per_message > 0, "--rows and --per-message must be at least 1");
    let run = RunStart {
        algo_name: "bench-writes".to_owned(),
        algo_env: "BACKTEST".to_owned(),
        parameters: serde_json::json!({}),
        start_time: Utc::now(),
        strategy_digest: String::new(),
    };
    let batch_id = uuid::Uuid::new_v4().to_string();
    // Alternating round trips, one a minute, as a busy strategy makes them.
    let fills: Vec<Fill> = (0..args.rows)
        .map(|i| {
            let buy = i % 2 == 0;
            Fill {
                order_id: i as u64 + 1,
                symbol: 0,
                side: if buy { Side::Buy } else { Side::Sell },
                operation: if buy { Operation::Buy } else { Operation::Sell },
                qty: 10.0,
                price: 100.0 + (i % 100) as f64 / 100.0,
                fee: 0.0,
                time: (1_704_205_800 + 60 * i as i64) * NANOS_PER_SECOND,
                stop_loss: None,
                take_profit: None,
                indicators: String::new(),
            }
        })
        .collect();
    let started = Instant::now();
    let writer = BatchWriter::start(&args.db, &batch_id, vec![run], vec!["SYN".to_owned()], Commit::AtEnd)
        .with_context(|| format!("opening the database {}", args.db))?;
    for chunk in fills.chunks(args.per_message) {
        writer.fills(0, chunk);
    }
    let end = RunEnd { end_time: Utc::now(), end_reason: "completed".to_owned(), fuel_used: 0 };
    writer.finish(vec![end]).with_context(|| format!("writing to {}", args.db))?;
    let secs = started.elapsed().as_secs_f64();
    println!("wrote {} new_trades rows to {} in {secs:.3} s: {:.0} rows/s", args.rows, args.db, args.rows as f64 / secs.max(1e-9));
    Ok(())
}
