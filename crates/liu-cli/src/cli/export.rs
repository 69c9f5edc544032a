//! `liu-engine export`: a batch's fills and equity curves for notebooks (see [`liu_research::export`]).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use liu_data::store::DbTarget;

#[derive(Args)]
pub struct ExportArgs {
    /// The batch to export.
    batch_id: String,
    /// Database: a SQLite file path or sqlite:// URL, or a postgres:// URL.
    #[arg(long, env = "DATABASE_URL", default_value = "./liu.db", hide_env_values = true)]
    db: DbTarget,
    /// Where to write the fills: FILE.parquet or FILE.csv.
    #[arg(long, value_name = "FILE", required_unless_present = "equity")]
    trades: Option<PathBuf>,
    /// Where to write each strategy's equity per bar: FILE.parquet or FILE.csv.
    #[arg(long, value_name = "FILE")]
    equity: Option<PathBuf>,
}

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let summary = liu_research::export::export(&args.db, &args.batch_id, args.trades.as_deref(), args.equity.as_deref())
        .with_context(|| format!("export of batch {} from {}", args.batch_id, args.db))?;
    if let Some(path) = &args.trades {
        outln!("{} fills to {}", summary.fills, path.display());
    }
    if let Some(path) = &args.equity {
        outln!("{} equity points to {}", summary.equity_points, path.display());
    }
    Ok(())
}
