//! `liu-engine import bars`: CSV and Parquet bar files into the database's
//! `bars` table, one transaction per file ([`liu_data::import`]), with a
//! progress bar on stderr and a summary on stdout.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use liu_core::domain::Timeframe;
use liu_data::import::{self, ImportError, ImportOptions, ImportProgress, ImportedFile};
use liu_data::store::DbTarget;
use liu_data::store::bars::timeframe_name;

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

pub fn run(command: ImportCommand) -> anyhow::Result<()> {
    let ImportCommand::Bars(args) = command;
    let files = import::bar_files(&args.path)?;
    let options = ImportOptions { symbol: args.symbol.clone(), timeframe: args.timeframe.fixed() };
    let mut progress = Progress(None);
    let summary = match import::import_bars(&args.db, &files, &options, &mut progress) {
        Ok(summary) => summary,
        Err(ImportError::Open(e)) => return Err(e).with_context(|| format!("opening the database {}", args.db)),
        // The cause (file:line: column …) first, then what it means for the import.
        Err(ImportError::File { file, imported, source }) => {
            anyhow::bail!("{:#}\n{}", anyhow::Error::new(source), not_imported(&file, &imported))
        }
        Err(e) => return Err(e.into()),
    };
    let secs = summary.elapsed.as_secs_f64();
    outln!(
        "imported {} bars from {} file(s) into {} in {secs:.2} s ({:.0} bars/s)",
        summary.bars,
        summary.files,
        args.db,
        summary.bars as f64 / secs.max(1e-9)
    );
    Ok(())
}

/// A progress bar on stderr for the file being written, and a line on stdout for each file imported.
struct Progress(Option<indicatif::ProgressBar>);

impl ImportProgress for Progress {
    fn loaded(&mut self, file: &Path, bars: usize) {
        let progress = indicatif::ProgressBar::new(bars as u64);
        progress.set_style(
            indicatif::ProgressStyle::with_template("{msg} {bar:40} {human_pos}/{human_len} bars  {per_sec}  eta {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        progress.set_message(file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        self.0 = Some(progress);
    }

    fn written(&mut self, bars: usize) {
        if let Some(progress) = &self.0 {
            progress.inc(bars as u64);
        }
    }

    fn imported(&mut self, file: &ImportedFile) {
        if let Some(progress) = self.0.take() {
            progress.finish_and_clear();
        }
        let span = match (file.first, file.last) {
            (Some(a), Some(b)) => format!("{} .. {}", liu_core::time::format_timestamp(a), liu_core::time::format_timestamp(b)),
            _ => String::new(),
        };
        let symbols = if file.symbols.len() <= 5 { file.symbols.join(", ") } else { format!("{} symbols", file.symbols.len()) };
        super::out::progress(format_args!(
            "{}: {} {} bars of {symbols} ({span})",
            file.path.display(),
            file.bars,
            timeframe_name(file.timeframe)
        ));
    }
}

fn not_imported(file: &Path, before: &[PathBuf]) -> String {
    let earlier = match before {
        [] => String::new(),
        [one] => format!(" ({}, imported before it, stays imported)", one.display()),
        many => format!(" (the {} files imported before it stay imported)", many.len()),
    };
    format!("nothing from {} was imported{earlier}", file.display())
}
