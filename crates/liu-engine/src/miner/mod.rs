//! Miners: daily OHLC bars with the engine's indicators (`mine daily-ohlc`,
//! [`daily`]) and reference data (`mine tickers`, [`tickers`]) per symbol,
//! from Alpaca's or Polygon's REST APIs (through [`liu_venues::rest`]) or
//! from local files, upserted into `stock_ohlc` and `ticker_data`; [`job`]
//! runs a whole `mine` command (source, symbol list, database, the symbols
//! one by one) synchronously.

pub mod daily;
pub mod job;
pub mod tickers;

use std::path::PathBuf;
use std::str::FromStr;

pub use liu_venues::rest::RestError;

/// Where a miner reads from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Alpaca,
    Polygon,
    File,
}

impl FromStr for Source {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "alpaca" => Ok(Source::Alpaca),
            "polygon" => Ok(Source::Polygon),
            "file" => Ok(Source::File),
            _ => Err(format!("unknown source `{s}` (expected alpaca, polygon or file)")),
        }
    }
}

/// Why mining failed: a request (see [`RestError`]), a file, or the database.
#[derive(Debug, thiserror::Error)]
pub enum MineError {
    #[error(transparent)]
    Rest(#[from] RestError),
    #[error("{symbol}: no daily bars between {from} and {to} from {url}")]
    NoBars { symbol: String, url: String, from: chrono::NaiveDate, to: chrono::NaiveDate },
    #[error("{symbol}: unknown symbol: not in {}", path.display())]
    NotInFile { symbol: String, path: PathBuf },
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    #[error(transparent)]
    Data(#[from] liu_data::DataError),
    #[error("{symbol}: database write failed: {source}")]
    Store { symbol: String, source: sqlx::Error },
}
