//! liu-data: market data at rest. Loading OHLCV bars from a CSV file or a folder of
//! CSV files into one time-ordered stream of [`BarEvent`]s, plus synthetic data.
//!
//! The CSV format itself (columns, timestamp formats, validation) lives in
//! [`csv`]; this module owns file discovery, symbol numbering,
//! ordering, duplicate detection and timeframe inference. [`import`] stores
//! bar files in the database's `bars` table.

pub mod csv;
pub mod daily;
pub mod import;
pub mod parquet;
pub mod store;
pub mod synthetic;

use std::path::{Path, PathBuf};

use liu_core::domain::{BarEvent, SymbolId, Timeframe, Timestamp};

use liu_core::time::format_timestamp;

/// What to load.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Symbol for files without a symbol column (default: the file stem in upper case).
    pub symbol: Option<String>,
    /// Keep only bars with `time >= from`.
    pub from: Option<Timestamp>,
    /// Keep only bars with `time <= to`.
    pub to: Option<Timestamp>,
}

/// Bars ready to replay.
#[derive(Clone, Debug, PartialEq)]
pub struct MarketData {
    /// Symbol names, sorted; a [`SymbolId`] is an index into this list.
    pub symbols: Vec<String>,
    /// Bars sorted by (time, symbol id).
    pub events: Vec<BarEvent>,
    /// Bar spacing inferred from the data.
    pub timeframe: Timeframe,
}

/// Why market data could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a .csv file", path.display())]
    NotCsv { path: PathBuf },
    #[error("{}: folder contains no .csv file", path.display())]
    NoCsvInFolder { path: PathBuf },
    #[error("{}: empty file (a header row is required)", path.display())]
    Empty { path: PathBuf },
    #[error("{}: bad header: {message}", path.display())]
    BadHeader { path: PathBuf, message: String },
    #[error("{}: missing column \"{column}\" (header: {header})", path.display())]
    MissingColumn { path: PathBuf, column: &'static str, header: String },
    /// A bad data row; `line` is the 1-based physical line (the header is line 1).
    #[error("{}:{line}: {message}", path.display())]
    Malformed { path: PathBuf, line: u64, message: String },
    /// A Parquet file the parquet crate cannot read.
    #[error("{}: {source}", path.display())]
    Parquet {
        path: PathBuf,
        #[source]
        source: ::parquet::errors::ParquetError,
    },
    #[error("{}: compressed with {codec}; Parquet is read uncompressed or compressed with Snappy, gzip, zstd, LZ4 or Brotli (pandas: `to_parquet(…, compression=\"zstd\")`)", path.display())]
    ParquetCodec { path: PathBuf, codec: &'static str },
    /// A bad Parquet row; `row` is 1-based, counted over the whole file.
    #[error("{}: row {row}: {message}", path.display())]
    BadRow { path: PathBuf, row: u64, message: String },
    #[error("{}: no bars{}", path.display(), range_text(*from, *to))]
    NoBars { path: PathBuf, from: Option<Timestamp>, to: Option<Timestamp> },
}

fn range_text(from: Option<Timestamp>, to: Option<Timestamp>) -> String {
    match (from, to) {
        (None, None) => String::new(),
        (Some(f), None) => format!(" from {}", format_timestamp(f)),
        (None, Some(t)) => format!(" up to {}", format_timestamp(t)),
        (Some(f), Some(t)) => format!(" between {} and {}", format_timestamp(f), format_timestamp(t)),
    }
}

fn is_csv(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// The files to read: `path` itself, or every `*.csv` in the folder by file name.
fn list_files(path: &Path) -> Result<Vec<PathBuf>, DataError> {
    let io = |source| DataError::Io { path: path.to_path_buf(), source };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_dir() {
        if !is_csv(path) {
            return Err(DataError::NotCsv { path: path.to_path_buf() });
        }
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io)? {
        let entry = entry.map_err(io)?;
        let p = entry.path();
        if is_csv(&p) && std::fs::metadata(&p).is_ok_and(|m| m.is_file()) {
            files.push(p);
        }
    }
    if files.is_empty() {
        return Err(DataError::NoCsvInFolder { path: path.to_path_buf() });
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

/// Loads bars from a CSV file or from every `*.csv` file of a folder.
///
/// See [`csv`] for the accepted columns and timestamp formats. Every
/// row is validated (also rows outside `from`/`to`); symbols are numbered in
/// alphabetical order; two bars with the same symbol and time are an error; an
/// empty result is [`DataError::NoBars`].
pub fn load(path: &Path, opts: &LoadOptions) -> Result<MarketData, DataError> {
    let files = list_files(path)?;
    let mut sink = self::csv::Sink::default();
    for file in &files {
        self::csv::read_file(file, opts, &mut sink)?;
    }
    if sink.events.is_empty() {
        return Err(DataError::NoBars { path: path.to_path_buf(), from: opts.from, to: opts.to });
    }

    // Renumber symbols alphabetically, dropping those without bars.
    let used = &sink.used;
    let mut order: Vec<usize> = (0..sink.names.len()).filter(|&i| used.get(i).copied().unwrap_or(false)).collect();
    order.sort_by(|&a, &b| sink.names[a].cmp(&sink.names[b]));
    let mut remap = vec![0 as SymbolId; sink.names.len()];
    for (new, &old) in order.iter().enumerate() {
        remap[old] = new as SymbolId;
    }
    let symbols: Vec<String> = order.iter().map(|&i| std::mem::take(&mut sink.names[i])).collect();
    let mut events = sink.events;
    if remap.iter().enumerate().any(|(i, &r)| i != r as usize) {
        for e in &mut events {
            e.symbol = remap.get(e.symbol as usize).copied().unwrap_or(0);
        }
    }

    // Order by (time, symbol); the common already-sorted, duplicate-free case
    // skips the sort.
    let strictly_sorted = events.windows(2).all(|w| (w[0].bar.time, w[0].symbol) < (w[1].bar.time, w[1].symbol));
    if !strictly_sorted {
        let mut keys: Vec<(Timestamp, SymbolId, usize)> = events.iter().enumerate().map(|(i, e)| (e.bar.time, e.symbol, i)).collect();
        // The index makes the unstable sort stable.
        keys.sort_unstable();
        for w in keys.windows(2) {
            let (a, b) = (w[0], w[1]);
            if a.0 == b.0 && a.1 == b.1 {
                // The file of event i: the last one starting at or before i.
                let file_of = |i: usize| {
                    let k = sink.file_starts.partition_point(|&s| s <= i);
                    &files[k.saturating_sub(1).min(files.len() - 1)]
                };
                let (first_path, later_path) = (file_of(a.2), file_of(b.2));
                let first_line = self::csv::physical_line(first_path, sink.offsets[a.2]);
                let earlier =
                    if first_path == later_path { format!("line {first_line}") } else { format!("{}:{first_line}", first_path.display()) };
                return Err(DataError::Malformed {
                    path: later_path.clone(),
                    line: self::csv::physical_line(later_path, sink.offsets[b.2]),
                    message: format!("duplicate bar: {} at {} already given on {earlier}", symbols[a.1 as usize], format_timestamp(a.0)),
                });
            }
        }
        events = keys.iter().map(|k| events[k.2]).collect();
    }

    let timeframe = infer_timeframe(&events, symbols.len());
    Ok(MarketData { symbols, events, timeframe })
}

/// Median spacing between consecutive bars of the same symbol: at least 20 hours
/// is [`Timeframe::Day`], at least a minute [`Timeframe::Minute`], otherwise
/// [`Timeframe::Second`]. No spacing at all (one bar per symbol) is `Day`.
/// `events` must be sorted by time.
pub(crate) fn infer_timeframe(events: &[BarEvent], symbols: usize) -> Timeframe {
    const SECOND: i64 = liu_core::domain::NANOS_PER_SECOND;
    const DAY_GAP: i64 = 20 * 3600 * SECOND;
    const MINUTE_GAP: i64 = 60 * SECOND;
    // The median (element `n / 2` of the sorted gaps) is >= X exactly when at
    // most `n / 2` gaps are < X, so counting suffices.
    let (mut n, mut below_day, mut below_minute) = (0usize, 0usize, 0usize);
    let mut last: Vec<Option<Timestamp>> = vec![None; symbols];
    for e in events {
        let Some(slot) = last.get_mut(e.symbol as usize) else {
            continue;
        };
        if let Some(prev) = *slot {
            let gap = e.bar.time.saturating_sub(prev);
            n += 1;
            below_day += usize::from(gap < DAY_GAP);
            below_minute += usize::from(gap < MINUTE_GAP);
        }
        *slot = Some(e.bar.time);
    }
    if n == 0 || below_day <= n / 2 {
        Timeframe::Day
    } else if below_minute <= n / 2 {
        Timeframe::Minute
    } else {
        Timeframe::Second
    }
}

#[cfg(test)]
mod tests;
