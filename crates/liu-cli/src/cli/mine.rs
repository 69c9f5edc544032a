//! `liu-engine mine daily-ohlc` and `mine tickers`: argument parsing and the
//! per-symbol loop around [`liu_engine::miner`]. Mining stops at the first
//! failing symbol; the symbols committed before it stay, and the error says
//! which they are.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{Months, NaiveDate, Utc};
use clap::{Args, Subcommand};
use liu_data::store::{DbTarget, Store};
use liu_engine::miner::daily::{self, DailySource, Window};
use liu_engine::miner::tickers::{self, TickerSource};
use liu_engine::miner::{MineError, Source};
use liu_venues::rest::{AlpacaHost, Api, Client, check_symbol};

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
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    match command {
        MineCommand::DailyOhlc(args) => runtime.block_on(daily_ohlc(args)),
        MineCommand::Tickers(args) => runtime.block_on(ticker_data(args)),
    }
}

async fn daily_ohlc(args: DailyArgs) -> anyhow::Result<()> {
    let to = args.to.unwrap_or_else(|| Utc::now().date_naive());
    let from = args.from.unwrap_or_else(|| to.checked_sub_months(Months::new(12)).unwrap_or(to));
    anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
    let window = Window { from, to, warmup_days: args.warmup_days };
    let source = match args.source {
        Source::File => DailySource::files(data_path(&args.common, "bar CSV file or folder")?)?,
        Source::Alpaca => DailySource::Api(Client::new(Api::alpaca_from_env(AlpacaHost::Data, args.common.base_url.as_deref())?)?),
        Source::Polygon => DailySource::Api(Client::new(Api::polygon_from_env(args.common.base_url.as_deref())?)?),
    };
    let symbols = match (&source, args.symbols.is_given()) {
        // A file knows its symbols: without a list, mine them all.
        (DailySource::Files { bars, .. }, false) => bars.keys().cloned().collect(),
        _ => args.symbols.read()?,
    };
    let store = Store::open(&args.common.db).await?;
    let mut done = Vec::new();
    for symbol in &symbols {
        let mined = daily::mine_symbol(&store, &source, symbol, window).await.map_err(|e| stopped(e, &done))?;
        println!("{symbol}: {} daily bars, {} .. {}", mined.rows, mined.first, mined.last);
        done.push(symbol.as_str());
    }
    println!("mined {} symbol(s) into stock_ohlc in {}", done.len(), args.common.db);
    Ok(())
}

async fn ticker_data(args: TickerArgs) -> anyhow::Result<()> {
    let source = match args.source {
        Source::File => TickerSource::file(data_path(&args.common, "reference .json or .csv file")?)?,
        Source::Alpaca => TickerSource::Api(Client::new(Api::alpaca_from_env(AlpacaHost::Trading, args.common.base_url.as_deref())?)?),
        Source::Polygon => TickerSource::Api(Client::new(Api::polygon_from_env(args.common.base_url.as_deref())?)?),
    };
    let symbols = match (&source, args.symbols.is_given()) {
        (TickerSource::File { rows, .. }, false) => rows.keys().cloned().collect(),
        _ => args.symbols.read()?,
    };
    let store = Store::open(&args.common.db).await?;
    let mut done = Vec::new();
    for symbol in &symbols {
        let row = tickers::mine_symbol(&store, &source, symbol).await.map_err(|e| stopped(e, &done))?;
        println!("{symbol}: {} ({} similar)", row.name, row.similar_tickers.len());
        done.push(symbol.as_str());
    }
    println!("mined {} symbol(s) into ticker_data in {}", done.len(), args.common.db);
    Ok(())
}

fn data_path<'a>(common: &'a CommonArgs, what: &str) -> anyhow::Result<&'a Path> {
    common.data.as_deref().with_context(|| format!("--source file needs --data (the {what})"))
}

/// The error of the symbol mining stopped at, saying what stays stored.
fn stopped(error: MineError, done: &[&str]) -> anyhow::Error {
    let kept =
        if done.is_empty() { "nothing was stored".to_owned() } else { format!("what was mined before stays stored: {}", done.join(", ")) };
    anyhow::Error::new(error).context(format!("mining stopped; {kept}"))
}

impl SymbolArgs {
    fn is_given(&self) -> bool {
        !self.symbols.is_empty() || self.symbols_file.is_some()
    }

    /// The symbols of `--symbols` then `--symbols-file`, checked, each once.
    fn read(&self) -> anyhow::Result<Vec<String>> {
        let mut all: Vec<String> = self.symbols.clone();
        if let Some(path) = &self.symbols_file {
            let text = std::fs::read_to_string(path).with_context(|| format!("--symbols-file {}", path.display()))?;
            for line in text.lines() {
                let line = line.split('#').next().unwrap_or_default();
                all.extend(line.split(',').map(str::to_owned));
            }
        }
        let mut symbols = Vec::new();
        for symbol in all.iter().filter(|s| !s.trim().is_empty()) {
            let symbol = check_symbol(symbol)?;
            if !symbols.contains(&symbol) {
                symbols.push(symbol);
            }
        }
        anyhow::ensure!(!symbols.is_empty(), "no symbols: give --symbols A,B or --symbols-file");
        Ok(symbols)
    }
}
