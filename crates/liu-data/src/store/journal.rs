//! The local journal of a live writer: rows that could not be written
//! because the database was unreachable, as JSON lines, so that they survive
//! the process. Each file opens with a header naming its database (without
//! credentials); the next writer that opens that database writes the rows
//! and removes the file. Writing is idempotent (see `fill_seq`), so a file
//! replayed twice, or after its rows were partly written, adds nothing twice.

use liu_core::domain::AlgoEnv;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use super::batch::{RunEnd, TradeRow, write_entries};
use super::{DbTarget, Store, StoreError};

/// One journaled row.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JournalEntry {
    Trade(TradeRow),
    /// A `keystore` change; `None` deletes the key.
    State {
        algo_name: String,
        context: String,
        key: String,
        value: Option<String>,
    },
    End {
        algo_run_id: i64,
        end: RunEnd,
    },
    /// The open orders of one strategy (its index in the plan) in one
    /// symbol, replacing the saved ones; `[]` deletes them.
    OpenOrders {
        batch_id: String,
        algo_env: AlgoEnv,
        strategy: i64,
        symbol: String,
        algo_run_id: i64,
        orders: String,
    },
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    database: String,
    batch_id: String,
}

/// Where journals live: `$LIU_JOURNAL_DIR`, or `liu-journal` in the working directory.
pub fn journal_dir() -> PathBuf {
    std::env::var_os("LIU_JOURNAL_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("liu-journal"))
}

/// A writer's journal file, created on the first append.
pub(super) struct Journal {
    path: PathBuf,
    header: Header,
    file: Option<std::fs::File>,
}

impl Journal {
    pub fn new(batch_id: &str, target: &DbTarget) -> Self {
        static SERIAL: AtomicU32 = AtomicU32::new(0);
        let name = format!("{batch_id}-{}-{}.jsonl", std::process::id(), SERIAL.fetch_add(1, Ordering::Relaxed));
        Self { path: journal_dir().join(name), header: Header { database: target.to_string(), batch_id: batch_id.to_owned() }, file: None }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends entries and flushes them to disk.
    pub fn append(&mut self, entries: &[JournalEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let error = |e: &dyn std::fmt::Display| StoreError::Journal { path: self.path.clone(), message: e.to_string() };
        let mut out = Vec::new();
        if self.file.is_none() {
            std::fs::create_dir_all(journal_dir()).map_err(|e| error(&e))?;
            serde_json::to_writer(&mut out, &self.header).map_err(|e| error(&e))?;
            out.push(b'\n');
        }
        for entry in entries {
            serde_json::to_writer(&mut out, entry).map_err(|e| error(&e))?;
            out.push(b'\n');
        }
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(std::fs::OpenOptions::new().create(true).append(true).open(&self.path).map_err(|e| error(&e))?),
        };
        file.write_all(&out).and_then(|()| file.sync_data()).map_err(|e| error(&e))
    }

    /// Removes the file once its rows are in the database.
    pub fn remove(&mut self) -> Result<(), StoreError> {
        if self.file.take().is_some() {
            remove(&self.path)?;
        }
        Ok(())
    }
}

fn remove(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(StoreError::Journal { path: path.to_owned(), message: format!("cannot remove: {e}") })
        }
        _ => Ok(()),
    }
}

/// Writes (and removes) every journal left for this database.
pub(super) async fn replay_journals(store: &Store) -> Result<usize, StoreError> {
    let Ok(dir) = std::fs::read_dir(journal_dir()) else { return Ok(0) };
    let mut rows = 0;
    let database = store.target().to_string();
    let mut files: Vec<PathBuf> =
        dir.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "jsonl")).collect();
    files.sort();
    for path in files {
        let Some((header, entries)) = read(&path)? else { continue };
        if header.database != database {
            continue;
        }
        write_entries(store, &entries).await?;
        tracing::info!(journal = %path.display(), rows = entries.len(), batch_id = %header.batch_id, "journaled rows written");
        remove(&path)?;
        rows += entries.len();
    }
    Ok(rows)
}

/// Reads a journal; `None` for a file that vanished (another process took it).
fn read(path: &Path) -> Result<Option<(Header, Vec<JournalEntry>)>, StoreError> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(StoreError::Journal { path: path.to_owned(), message: e.to_string() });
        }
    };
    let lines: Vec<String> = std::io::BufReader::new(file)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(|e| StoreError::Journal { path: path.to_owned(), message: e.to_string() })?;
    let bad = |line: usize, e: serde_json::Error| StoreError::Journal { path: path.to_owned(), message: format!("line {line}: {e}") };
    let Some(first) = lines.first() else { return Ok(None) };
    let header: Header = serde_json::from_str(first).map_err(|e| bad(1, e))?;
    let mut entries = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate().skip(1) {
        match serde_json::from_str(line) {
            Ok(entry) => entries.push(entry),
            // A process killed mid-append leaves a torn last line; the
            // lines before it are whole.
            Err(e) if i + 1 == lines.len() && e.is_eof() => {
                tracing::warn!(journal = %path.display(), line = i + 1, "torn last line skipped")
            }
            Err(e) => return Err(bad(i + 1, e)),
        }
    }
    Ok(Some((header, entries)))
}
