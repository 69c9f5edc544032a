//! `liu-engine mine daily-ohlc` and `mine tickers`: argument parsing and
//! the per-symbol output around [`liu_engine::miner::job`], which runs the
//! whole mining job. Mining stops at the first failing symbol; the symbols
//! committed before it stay, and the error says which they are.

use std::path::PathBuf;

use chrono::{Months, NaiveDate, Utc};
use clap::{Args, Subcommand};
use liu_data::store::DbTarget;
use liu_engine::miner::Source;
use liu_engine::miner::daily::Window;
use liu_engine::miner::job::{self, DailyJob, SourceConfig, SymbolList, TickerJob};

#[derive(Subcommand)]
pub enum MineCommand {
    /// Daily OHLC bars with the engine's indicators into `stock_ohlc`.
    DailyOhlc(DailyArgs),
    /// Reference data (name, industry, sector, exchange, similar tickers) into `ticker_data`.
    Tickers(TickerArgs),
}

#[derive(Args)]
struct SymbolArgs {
    /// Comma-separated symbols.
    #[arg(long, value_delimiter = ',')]
    symbols: Vec<String>,
    /// A file of symbols: one per line or comma-separated; `#` starts a comment.
    #[arg(long)]
    symbols_file: Option<PathBuf>,
}

#[derive(Args)]
struct CommonArgs {
    /// The REST API's base URL (default: APCA_API_DATA_URL or APCA_API_BASE_URL
    /// for alpaca, POLYGON_BASE_URL for polygon, else the real host).
    #[arg(long)]
    base_url: Option<String>,
    /// With `--source file`: the file (or folder) to read.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Database: a SQLite file path or sqlite:// URL, or a postgres:// URL.
    #[arg(long, env = "DATABASE_URL", default_value = "./liu.db", hide_env_values = true)]
    db: DbTarget,
}

#[derive(Args)]
pub struct DailyArgs {
    #[command(flatten)]
    symbols: SymbolArgs,
    /// First date to store (default: a year before --to).
    #[arg(long)]
    from: Option<NaiveDate>,
    /// Last date to store (default: today, UTC).
    #[arg(long)]
    to: Option<NaiveDate>,
    /// Calendar days fetched before --from so that long indicators (SMA 200)
    /// are defined from --from on; only --from..--to is stored.
    #[arg(long, default_value_t = 365)]
    warmup_days: u32,
    /// alpaca (market-data API), polygon (daily aggregates) or file (CSV bars, --data).
    #[arg(long, default_value = "alpaca")]
    source: Source,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args)]
pub struct TickerArgs {
    #[command(flatten)]
    symbols: SymbolArgs,
    /// polygon (ticker details and related companies), alpaca (assets) or
    /// file (a .json or .csv reference file, --data).
    #[arg(long, default_value = "polygon")]
    source: Source,
    #[command(flatten)]
    common: CommonArgs,
}

pub fn run(command: MineCommand) -> anyhow::Result<()> {
    match command {
        MineCommand::DailyOhlc(args) => daily_ohlc(args),
        MineCommand::Tickers(args) => ticker_data(args),
    }
}

fn daily_ohlc(args: DailyArgs) -> anyhow::Result<()> {
    let to = args.to.unwrap_or_else(|| Utc::now().date_naive());
    let from = args.from.unwrap_or_else(|| to.checked_sub_months(Months::new(12)).unwrap_or(to));
    anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
    let window = Window { from, to, warmup_days: args.warmup_days };
    let (source, db) = args.common.split(args.source);
    let job = DailyJob { symbols: args.symbols.into(), source, window, db };
    let mined = job::mine_daily_ohlc(&job, &mut |report| {
        let mined = &report.stored;
        super::out::progress(format_args!("{}: {} daily bars, {} .. {}", report.symbol, mined.rows, mined.first, mined.last));
    })?;
    outln!("mined {} symbol(s) into stock_ohlc in {}", mined.len(), job.db);
    Ok(())
}

fn ticker_data(args: TickerArgs) -> anyhow::Result<()> {
    let (source, db) = args.common.split(args.source);
    let job = TickerJob { symbols: args.symbols.into(), source, db };
    let mined = job::mine_tickers(&job, &mut |report| {
        let row = &report.stored;
        super::out::progress(format_args!("{}: {} ({} similar)", report.symbol, row.name, row.similar_tickers.len()));
    })?;
    outln!("mined {} symbol(s) into ticker_data in {}", mined.len(), job.db);
    Ok(())
}

impl CommonArgs {
    /// The source read from and the database written to.
    fn split(self, kind: Source) -> (SourceConfig, DbTarget) {
        (SourceConfig { kind, base_url: self.base_url, data: self.data }, self.db)
    }
}

impl From<SymbolArgs> for SymbolList {
    fn from(args: SymbolArgs) -> Self {
        SymbolList { symbols: args.symbols, file: args.symbols_file }
    }
}
