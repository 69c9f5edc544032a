//! `liu-engine import bars`: CSV and Parquet bar files into the database's
//! `bars` table, one transaction per file, with a progress bar on stderr and
//! a summary on stdout.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use liu_core::domain::Timeframe;
use liu_data::store::bars::{self, timeframe_name};
use liu_data::store::{DbTarget, Store};
use liu_data::{LoadOptions, MarketData};

#[derive(Subcommand)]
pub enum ImportCommand {
    /// OHLCV bars from a CSV or Parquet file, or from every .csv and .parquet
    /// file of a folder; a bar already stored (same symbol, timeframe and
    /// time) is replaced, so importing again changes nothing.
    Bars(ImportBarsArgs),
}

#[derive(Args)]
pub struct ImportBarsArgs {
    /// A .csv or .parquet file, or a folder of them.
    path: PathBuf,
    /// Database: a SQLite path or sqlite:// URL, or a postgres:// URL.
    #[arg(long, env = "DATABASE_URL", default_value = "./liu.db", hide_env_values = true)]
    db: DbTarget,
    /// Timeframe to store the bars under; `auto` infers it from the spacing of each file's bars.
    #[arg(long, value_enum, default_value_t = TimeframeArg::Auto)]
    timeframe: TimeframeArg,
    /// Symbol for a file without a symbol column (default: the file name).
    #[arg(long)]
    symbol: Option<String>,
}

/// A bar timeframe on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TimeframeArg {
    /// Inferred from the bars (import) or the one the stored bars have (backtest).
    Auto,
    Second,
    Minute,
    Day,
}

impl TimeframeArg {
    pub fn fixed(self) -> Option<Timeframe> {
        match self {
            TimeframeArg::Auto => None,
            TimeframeArg::Second => Some(Timeframe::Second),
            TimeframeArg::Minute => Some(Timeframe::Minute),
            TimeframeArg::Day => Some(Timeframe::Day),
        }
    }
}

/// Bars per call to [`bars::upsert`]: the step of the progress bar, and on
/// PostgreSQL the rows of one statement.
const ROWS_PER_STEP: usize = 16_384;

pub fn run(command: ImportCommand) -> anyhow::Result<()> {
    let ImportCommand::Bars(args) = command;
    let files = list_files(&args.path)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(import(&args, &files))
}

/// `path` itself, or the folder's .csv and .parquet files by name.
fn list_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let wanted = |p: &Path| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) || liu_data::parquet::is_parquet(p);
    let meta = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
    if !meta.is_dir() {
        anyhow::ensure!(wanted(path), "{}: not a .csv or .parquet file", path.display());
        return Ok(vec![path.to_owned()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).with_context(|| format!("{}", path.display()))? {
        let p = entry.with_context(|| format!("{}", path.display()))?.path();
        if wanted(&p) && p.is_file() {
            files.push(p);
        }
    }
    anyhow::ensure!(!files.is_empty(), "{}: the folder has no .csv or .parquet file", path.display());
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

async fn import(args: &ImportBarsArgs, files: &[PathBuf]) -> anyhow::Result<()> {
    let store = Store::open(&args.db).await.with_context(|| format!("opening the database {}", args.db))?;
    let options = LoadOptions { symbol: args.symbol.clone(), ..LoadOptions::default() };
    let started = Instant::now();
    let mut imported: Vec<&Path> = Vec::new();
    let mut total = 0usize;
    for file in files {
        let (data, timeframe) = match import_file(&store, file, &options, args.timeframe).await {
            Ok(done) => done,
            // The cause (file:line: column …) first, then what it means for the import.
            Err(e) => anyhow::bail!("{e:#}\n{}", not_imported(file, &imported)),
        };
        let span = match (data.events.first(), data.events.last()) {
            (Some(a), Some(b)) => {
                format!("{} .. {}", liu_core::time::format_timestamp(a.bar.time), liu_core::time::format_timestamp(b.bar.time))
            }
            _ => String::new(),
        };
        let symbols = if data.symbols.len() <= 5 { data.symbols.join(", ") } else { format!("{} symbols", data.symbols.len()) };
        println!("{}: {} {} bars of {symbols} ({span})", file.display(), data.events.len(), timeframe_name(timeframe));
        total += data.events.len();
        imported.push(file);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "imported {total} bars from {} file(s) into {} in {secs:.2} s ({:.0} bars/s)",
        files.len(),
        args.db,
        total as f64 / secs.max(1e-9)
    );
    Ok(())
}

/// Loads one file and upserts its bars in one transaction.
async fn import_file(
    store: &Store,
    file: &Path,
    options: &LoadOptions,
    timeframe: TimeframeArg,
) -> anyhow::Result<(MarketData, Timeframe)> {
    let data = if liu_data::parquet::is_parquet(file) { liu_data::parquet::load(file, options)? } else { liu_data::load(file, options)? };
    let timeframe = timeframe.fixed().unwrap_or(data.timeframe);
    let progress = indicatif::ProgressBar::new(data.events.len() as u64);
    progress.set_style(
        indicatif::ProgressStyle::with_template("{msg} {bar:40} {human_pos}/{human_len} bars  {per_sec}  eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    progress.set_message(file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
    let mut tx = store.begin().await?;
    for chunk in data.events.chunks(ROWS_PER_STEP) {
        bars::upsert(&mut tx, &data.symbols, timeframe, chunk).await?;
        progress.inc(chunk.len() as u64);
    }
    tx.commit().await?;
    progress.finish_and_clear();
    Ok((data, timeframe))
}

fn not_imported(file: &Path, before: &[&Path]) -> String {
    let earlier = match before {
        [] => String::new(),
        [one] => format!(" ({}, imported before it, stays imported)", one.display()),
        many => format!(" (the {} files imported before it stay imported)", many.len()),
    };
    format!("nothing from {} was imported{earlier}", file.display())
}
