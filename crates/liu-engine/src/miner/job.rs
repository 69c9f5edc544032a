//! A whole `mine` command, synchronous: its source built, its symbols read,
//! the database opened and the symbols mined one by one on a runtime of its
//! own ([`mine_daily_ohlc`], [`mine_tickers`]). Mining stops at the first
//! failing symbol; the symbols committed before it stay, and the error
//! ([`JobError::Stopped`]) says which they are.
//!
//! The errors' texts name the command line's options (`--data`,
//! `--symbols-file`, `--symbols`): the job's fields are those options.

use std::future::Future;
use std::path::{Path, PathBuf};

use liu_data::store::market_data::TickerRow;
use liu_data::store::{DbTarget, Store, StoreError};
use liu_venues::rest::{AlpacaHost, Api, Client, RestError, check_symbol};

use super::daily::{self, DailySource, Mined, Window};
use super::tickers::{self, TickerSource};
use super::{MineError, Source};

/// The symbols to mine as given: a list, a file of them, or both.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SymbolList {
    /// Symbols as given (`--symbols`), not yet checked.
    pub symbols: Vec<String>,
    /// A file of symbols (`--symbols-file`): one per line or
    /// comma-separated; `#` starts a comment.
    pub file: Option<PathBuf>,
}

impl SymbolList {
    /// Whether any symbol or a symbol file was given. A job reading a file
    /// source without them mines every symbol of the file.
    pub fn is_given(&self) -> bool {
        !self.symbols.is_empty() || self.file.is_some()
    }

    /// The symbols of [`symbols`](Self::symbols) then those of
    /// [`file`](Self::file), checked ([`check_symbol`]), each once, in the
    /// order given. None at all is [`JobError::NoSymbols`].
    pub fn read(&self) -> Result<Vec<String>, JobError> {
        let mut all: Vec<String> = self.symbols.clone();
        if let Some(path) = &self.file {
            let text = std::fs::read_to_string(path).map_err(|source| JobError::SymbolsFile { path: path.clone(), source })?;
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
        if symbols.is_empty() {
            return Err(JobError::NoSymbols);
        }
        Ok(symbols)
    }
}

/// Where a job reads from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceConfig {
    /// Alpaca, Polygon or a file.
    pub kind: Source,
    /// The REST API's base URL; `None` leaves it to the environment, then
    /// to the real host (see [`Api::alpaca_from_env`], [`Api::polygon_from_env`]).
    pub base_url: Option<String>,
    /// With [`Source::File`]: the file (or folder) to read (`--data`).
    pub data: Option<PathBuf>,
}

impl SourceConfig {
    /// The file of a file source; `what` names it in the error when missing.
    fn data(&self, what: &'static str) -> Result<&Path, JobError> {
        self.data.as_deref().ok_or(JobError::NoData { what })
    }
}

/// `mine daily-ohlc`: daily bars with the engine's indicators into
/// `stock_ohlc` (see [`daily`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DailyJob {
    /// The symbols; a file source without them mines all of the file's.
    pub symbols: SymbolList,
    /// Where the bars come from.
    pub source: SourceConfig,
    /// The dates stored and the warm-up fetched before them.
    pub window: Window,
    /// The database written to.
    pub db: DbTarget,
}

/// `mine tickers`: reference data into `ticker_data` (see [`tickers`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TickerJob {
    /// The symbols; a file source without them mines all of the file's.
    pub symbols: SymbolList,
    /// Where the reference data comes from.
    pub source: SourceConfig,
    /// The database written to.
    pub db: DbTarget,
}

/// One symbol a job mined and committed, and what was stored of it.
#[derive(Clone, Debug, PartialEq)]
pub struct SymbolReport<T> {
    /// The symbol, checked.
    pub symbol: String,
    /// What was stored: [`Mined`] for daily bars, the [`TickerRow`] for
    /// reference data.
    pub stored: T,
}

/// Why a job failed. Failures before the first symbol leave the database
/// as it was (a source or a symbol list that cannot be read is refused
/// before the database is opened); [`JobError::Stopped`] keeps the symbols
/// mined before it.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// A file source without its file.
    #[error("--source file needs --data (the {what})")]
    NoData {
        /// What file the source expects.
        what: &'static str,
    },
    /// The symbol file could not be read.
    #[error("--symbols-file {}", path.display())]
    SymbolsFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The symbol list and file held no symbol.
    #[error("no symbols: give --symbols A,B or --symbols-file")]
    NoSymbols,
    /// Missing credentials, a bad base URL, the HTTP client, or a given
    /// symbol that is not one.
    #[error(transparent)]
    Rest(#[from] RestError),
    /// The file source could not be loaded.
    #[error(transparent)]
    Load(MineError),
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The job's runtime could not be started.
    #[error(transparent)]
    Runtime(std::io::Error),
    /// A symbol failed; those mined before it stay stored.
    #[error("mining stopped; {}", kept(stored))]
    Stopped {
        /// The symbols committed before the failure, in order.
        stored: Vec<String>,
        /// The failing symbol's error.
        source: MineError,
    },
}

fn kept(stored: &[String]) -> String {
    if stored.is_empty() { "nothing was stored".to_owned() } else { format!("what was mined before stays stored: {}", stored.join(", ")) }
}

/// Runs `job`: builds its source (credentials are checked before anything
/// is opened or asked), reads its symbols, opens and migrates the database,
/// then mines each symbol in one transaction, calling `on_symbol` after each
/// commit. Returns what was stored, symbol by symbol.
pub fn mine_daily_ohlc(job: &DailyJob, on_symbol: &mut dyn FnMut(&SymbolReport<Mined>)) -> Result<Vec<SymbolReport<Mined>>, JobError> {
    run(daily_ohlc(job, on_symbol))
}

/// Runs `job` as [`mine_daily_ohlc`] does, for reference data.
pub fn mine_tickers(
    job: &TickerJob,
    on_symbol: &mut dyn FnMut(&SymbolReport<TickerRow>),
) -> Result<Vec<SymbolReport<TickerRow>>, JobError> {
    run(ticker_data(job, on_symbol))
}

/// Drives `job` to its end on a single-threaded runtime of its own.
fn run<T>(job: impl Future<Output = Result<T, JobError>>) -> Result<T, JobError> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(JobError::Runtime)?;
    runtime.block_on(job)
}

async fn daily_ohlc(job: &DailyJob, on_symbol: &mut dyn FnMut(&SymbolReport<Mined>)) -> Result<Vec<SymbolReport<Mined>>, JobError> {
    let base_url = job.source.base_url.as_deref();
    let source = match job.source.kind {
        Source::File => DailySource::files(job.source.data("bar CSV file or folder")?).map_err(JobError::Load)?,
        Source::Alpaca => DailySource::Api(Client::new(Api::alpaca_from_env(AlpacaHost::Data, base_url)?)?),
        Source::Polygon => DailySource::Api(Client::new(Api::polygon_from_env(base_url)?)?),
    };
    let symbols = match (&source, job.symbols.is_given()) {
        // A file knows its symbols: without a list, mine them all.
        (DailySource::Files { bars, .. }, false) => bars.keys().cloned().collect(),
        _ => job.symbols.read()?,
    };
    let store = Store::open(&job.db).await?;
    let mut done = Vec::new();
    for symbol in symbols {
        let stored = daily::mine_symbol(&store, &source, &symbol, job.window).await.map_err(|e| stopped(e, &done))?;
        let report = SymbolReport { symbol, stored };
        on_symbol(&report);
        done.push(report);
    }
    Ok(done)
}

async fn ticker_data(
    job: &TickerJob,
    on_symbol: &mut dyn FnMut(&SymbolReport<TickerRow>),
) -> Result<Vec<SymbolReport<TickerRow>>, JobError> {
    let base_url = job.source.base_url.as_deref();
    let source = match job.source.kind {
        Source::File => TickerSource::file(job.source.data("reference .json or .csv file")?).map_err(JobError::Load)?,
        Source::Alpaca => TickerSource::Api(Client::new(Api::alpaca_from_env(AlpacaHost::Trading, base_url)?)?),
        Source::Polygon => TickerSource::Api(Client::new(Api::polygon_from_env(base_url)?)?),
    };
    let symbols = match (&source, job.symbols.is_given()) {
        (TickerSource::File { rows, .. }, false) => rows.keys().cloned().collect(),
        _ => job.symbols.read()?,
    };
    let store = Store::open(&job.db).await?;
    let mut done = Vec::new();
    for symbol in symbols {
        let stored = tickers::mine_symbol(&store, &source, &symbol).await.map_err(|e| stopped(e, &done))?;
        let report = SymbolReport { symbol, stored };
        on_symbol(&report);
        done.push(report);
    }
    Ok(done)
}

/// The error of the symbol mining stopped at, with the symbols before it.
fn stopped<T>(source: MineError, done: &[SymbolReport<T>]) -> JobError {
    JobError::Stopped { stored: done.iter().map(|r| r.symbol.clone()).collect(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbol_lists_are_checked_and_deduplicated() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("symbols.txt");
        std::fs::write(&file, "BBB, CCC # comment\n\n# only a comment\nAAA\n").unwrap();
        let list = SymbolList { symbols: vec!["AAA".into(), " ".into()], file: Some(file.clone()) };
        assert_eq!(list.read().unwrap(), ["AAA", "BBB", "CCC"]);
        assert!(matches!(SymbolList::default().read(), Err(JobError::NoSymbols)));
        assert!(!SymbolList::default().is_given());
        let missing = SymbolList { symbols: Vec::new(), file: Some(dir.path().join("missing.txt")) };
        let error = missing.read().unwrap_err();
        assert!(error.to_string().starts_with("--symbols-file ") && std::error::Error::source(&error).is_some(), "{error}");
        let bad = SymbolList { symbols: vec!["A B".into()], file: None };
        assert!(matches!(bad.read(), Err(JobError::Rest(RestError::BadSymbol(_)))));
    }

    #[test]
    fn a_stop_names_what_stays_stored() {
        let error = |stored: &[&str]| JobError::Stopped {
            stored: stored.iter().map(|s| (*s).to_owned()).collect(),
            source: MineError::NotInFile { symbol: "ZZZ".into(), path: "bars.csv".into() },
        };
        assert_eq!(error(&[]).to_string(), "mining stopped; nothing was stored");
        assert_eq!(error(&["AAA", "BBB"]).to_string(), "mining stopped; what was mined before stays stored: AAA, BBB");
    }

    #[test]
    fn a_file_source_needs_its_file() {
        let job = TickerJob {
            symbols: SymbolList::default(),
            source: SourceConfig { kind: Source::File, base_url: None, data: None },
            db: DbTarget::Sqlite("unused.db".into()),
        };
        let error = mine_tickers(&job, &mut |_| unreachable!()).unwrap_err();
        assert_eq!(error.to_string(), "--source file needs --data (the reference .json or .csv file)");
    }
}
