//! Importing CSV and Parquet bar files into the database's `bars` table
//! (`liu-engine import bars`): which files of a folder are imported, and the
//! import itself, one transaction per file, synchronous for callers without
//! an async runtime.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use liu_core::domain::{Timeframe, Timestamp};

use crate::store::{DbTarget, Store, StoreError, bars, blocking};
use crate::{DataError, LoadOptions, MarketData};

/// Bars per call to [`bars::upsert`]: the step of [`ImportProgress::written`],
/// and on PostgreSQL the rows of one statement.
const ROWS_PER_STEP: usize = 16_384;

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// `path` (the file, the folder or one of its entries) could not be read; the source says why.
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `path` is a file but neither a .csv nor a .parquet file.
    #[error("{}: not a .csv or .parquet file", path.display())]
    NotBarFile { path: PathBuf },
    /// `path` is a folder without any .csv or .parquet file.
    #[error("{}: the folder has no .csv or .parquet file", path.display())]
    NoBarFiles { path: PathBuf },
    /// The runtime of the call could not be built.
    #[error(transparent)]
    Runtime(std::io::Error),
    /// The database could not be opened or migrated; nothing was imported.
    #[error(transparent)]
    Open(StoreError),
    /// `file` could not be read or written: nothing of it was stored, and
    /// the files before it (`imported`) stay imported.
    #[error("importing {}", file.display())]
    File {
        file: PathBuf,
        imported: Vec<PathBuf>,
        #[source]
        source: FileError,
    },
}

/// Why one file of an import was not imported.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file's bars could not be loaded.
    #[error(transparent)]
    Load(#[from] DataError),
    /// Writing its bars failed; its transaction is rolled back.
    #[error(transparent)]
    Write(#[from] sqlx::Error),
}

/// How to import.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Symbol for a file without a symbol column (default: the file stem in upper case).
    pub symbol: Option<String>,
    /// Timeframe to store the bars under (default: the one inferred from each file's bars).
    pub timeframe: Option<Timeframe>,
}

/// One file's imported bars.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportedFile {
    /// The file.
    pub path: PathBuf,
    /// Its symbols, sorted.
    pub symbols: Vec<String>,
    /// How many bars it holds.
    pub bars: usize,
    /// The timeframe they are stored under.
    pub timeframe: Timeframe,
    /// Time of its first bar.
    pub first: Option<Timestamp>,
    /// Time of its last bar.
    pub last: Option<Timestamp>,
}

/// What a whole import did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ImportSummary {
    /// Files imported.
    pub files: usize,
    /// Bars imported, over all files.
    pub bars: usize,
    /// Time from the opened database to the last file committed.
    pub elapsed: Duration,
}

/// What [`import_bars`] reports while it works: for each file in turn,
/// [`loaded`](Self::loaded) once, [`written`](Self::written) after every
/// step, and [`imported`](Self::imported) once its bars are committed.
pub trait ImportProgress {
    /// `file` is read and holds `bars` bars, about to be written.
    fn loaded(&mut self, file: &Path, bars: usize);
    /// `bars` more bars of the current file are written (not yet committed).
    fn written(&mut self, bars: usize);
    /// The current file's bars are committed.
    fn imported(&mut self, file: &ImportedFile);
}

/// The files to import: `path` itself if it is a .csv or .parquet file, or
/// the .csv and .parquet files of the folder `path`, by file name.
pub fn bar_files(path: &Path) -> Result<Vec<PathBuf>, ImportError> {
    let wanted = |p: &Path| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) || crate::parquet::is_parquet(p);
    let io = |source| ImportError::Io { path: path.to_owned(), source };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_dir() {
        if !wanted(path) {
            return Err(ImportError::NotBarFile { path: path.to_owned() });
        }
        return Ok(vec![path.to_owned()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io)? {
        let p = entry.map_err(io)?.path();
        if wanted(&p) && p.is_file() {
            files.push(p);
        }
    }
    if files.is_empty() {
        return Err(ImportError::NoBarFiles { path: path.to_owned() });
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

/// Opens and migrates `target` and imports `files` in order, each in one
/// transaction: a bar already stored (same symbol, timeframe and time) is
/// replaced, so importing again changes nothing. Stops at the first file that
/// fails ([`ImportError::File`]); the files before it stay imported.
pub fn import_bars(
    target: &DbTarget,
    files: &[PathBuf],
    options: &ImportOptions,
    progress: &mut dyn ImportProgress,
) -> Result<ImportSummary, ImportError> {
    blocking::runtime().map_err(ImportError::Runtime)?.block_on(async {
        let store = Store::open(target).await.map_err(ImportError::Open)?;
        let load = LoadOptions { symbol: options.symbol.clone(), ..LoadOptions::default() };
        let started = Instant::now();
        let mut total = 0;
        for (i, file) in files.iter().enumerate() {
            let imported = match import_file(&store, file, &load, options.timeframe, progress).await {
                Ok(imported) => imported,
                Err(source) => return Err(ImportError::File { file: file.clone(), imported: files[..i].to_vec(), source }),
            };
            progress.imported(&imported);
            total += imported.bars;
        }
        Ok(ImportSummary { files: files.len(), bars: total, elapsed: started.elapsed() })
    })
}

/// Loads one file and upserts its bars in one transaction.
async fn import_file(
    store: &Store,
    file: &Path,
    options: &LoadOptions,
    timeframe: Option<Timeframe>,
    progress: &mut dyn ImportProgress,
) -> Result<ImportedFile, FileError> {
    let data = if crate::parquet::is_parquet(file) { crate::parquet::load(file, options)? } else { crate::load(file, options)? };
    let timeframe = timeframe.unwrap_or(data.timeframe);
    progress.loaded(file, data.events.len());
    let mut tx = store.begin().await?;
    for chunk in data.events.chunks(ROWS_PER_STEP) {
        bars::upsert(&mut tx, &data.symbols, timeframe, chunk).await?;
        progress.written(chunk.len());
    }
    tx.commit().await?;
    let MarketData { symbols, events, .. } = data;
    Ok(ImportedFile {
        path: file.to_owned(),
        symbols,
        bars: events.len(),
        timeframe,
        first: events.first().map(|e| e.bar.time),
        last: events.last().map(|e| e.bar.time),
    })
}

#[cfg(test)]
mod tests;
