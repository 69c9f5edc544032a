//! Session recordings (`trade --record DIR`): what one consumer process saw,
//! in the order its strategies saw it, so that `backtest --replay DIR` can
//! run the same strategies over the same events and must make the same fills.
//!
//! One file per consumer process, `consumer-{id}-{pid}.liurec`:
//! the 8-byte magic [`MAGIC`], then records, each a little-endian `u32`
//! length and that many bytes of MessagePack ([`Record`]). The first record
//! is the [`Header`] (format version, the plan and its digest, the
//! strategies' digests, the `state` they started from, the session's
//! `algo_run` ids); then the symbols
//! assigned, the warm-up history and every event processed (stale events the
//! consumer dropped are not in it), and [`Record::End`] when the session
//! ended cleanly. Written as the session goes, through a buffer: memory stays
//! flat however long it trades.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest;

use liu_core::domain::{Bar, MarketEvent, SymbolId};

/// The first bytes of every recording.
pub const MAGIC: &[u8; 8] = b"LIUREC\r\n";
/// The format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Largest record accepted when reading (a frame of events or of history).
const MAX_RECORD_BYTES: u32 = 256 << 20;
/// The file name extension of recordings.
pub const EXTENSION: &str = "liurec";

/// What a recording starts with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format: u32,
    pub consumer: u32,
    pub pid: u32,
    pub batch_id: String,
    /// The tradeplan as the session read it, and where it was (relative
    /// component paths resolve against its folder).
    pub plan_text: String,
    pub plan_path: PathBuf,
    /// [`plan_digest`] of `plan_text`.
    pub plan_digest: String,
    /// Each strategy's component digest, in plan order.
    pub strategy_digests: Vec<String>,
    /// The `state` each strategy started from (keystore), by strategy name.
    pub kept_state: HashMap<String, BTreeMap<String, String>>,
    /// The process carried on from an earlier one of the batch (a restart):
    /// it started from recorded fills and orders, which a replay does not have.
    pub restarted: bool,
    /// The `algo_run_id` of each strategy's run, in plan order: the runs a
    /// replay references. The header is a MessagePack array, so a field
    /// added last with a default reads older recordings, which lack it
    /// (their replays reference nothing).
    #[serde(default)]
    pub algo_run_ids: Vec<i64>,
}

/// One record after the header.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Record {
    Header(Box<Header>),
    /// Symbols assigned to the consumer (ids are session-wide).
    Assign(Vec<(SymbolId, String)>),
    /// Warm-up bars put into the market history.
    History(Vec<(SymbolId, Vec<Bar>)>),
    /// Events the strategies processed, in order.
    Events(Vec<(SymbolId, MarketEvent)>),
    /// The session ended cleanly.
    End,
}

/// The digest a recording names its plan by: SHA-256 of the plan's text.
pub fn plan_digest(text: &str) -> String {
    let digest = sha2::Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("recording {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a liu-engine recording (it does not start with the recording magic)")]
    NotARecording { path: PathBuf },
    #[error("recording {path} is truncated at byte offset {offset}: {what}")]
    Truncated { path: PathBuf, offset: u64, what: String },
    #[error("recording {path} is corrupt at byte offset {offset}: {what}")]
    Corrupt { path: PathBuf, offset: u64, what: String },
    #[error("recording {path} has format version {found}; this build reads version {FORMAT_VERSION} (a newer liu-engine wrote it)")]
    NewerFormat { path: PathBuf, found: u32 },
    #[error("recording {path} was made with plan digest {recorded}; {plan} has digest {given}: not the same tradeplan")]
    PlanMismatch { path: PathBuf, plan: PathBuf, recorded: String, given: String },
    #[error("recording {path}: strategy {index} ({component}) has digest {given}, the recorded session ran {recorded}")]
    StrategyMismatch { path: PathBuf, index: usize, component: PathBuf, recorded: String, given: String },
    #[error("{path} holds no recording (no *.{EXTENSION} file)")]
    Empty { path: PathBuf },
}

/// Writes one consumer's recording as its session goes.
pub struct Recorder {
    out: BufWriter<std::fs::File>,
    path: PathBuf,
    buf: Vec<u8>,
}

impl Recorder {
    /// Creates `dir/consumer-{id}-{pid}.liurec` and writes the header.
    pub fn create(dir: &Path, header: Header) -> Result<Self, RecordingError> {
        let io = |path: &Path, source| RecordingError::Io { path: path.to_owned(), source };
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let path = dir.join(format!("consumer-{}-{}.{EXTENSION}", header.consumer, header.pid));
        let file = std::fs::File::create(&path).map_err(|e| io(&path, e))?;
        let mut recorder = Self { out: BufWriter::with_capacity(1 << 16, file), path, buf: Vec::new() };
        recorder.out.write_all(MAGIC).map_err(|e| io(&recorder.path, e))?;
        recorder.write(&Record::Header(Box::new(header)))?;
        Ok(recorder)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record (buffered).
    pub fn write(&mut self, record: &Record) -> Result<(), RecordingError> {
        self.buf.clear();
        rmp_serde::encode::write(&mut self.buf, record)
            .map_err(|e| RecordingError::Io { path: self.path.clone(), source: std::io::Error::other(e) })?;
        let len = u32::try_from(self.buf.len()).unwrap_or(u32::MAX);
        let io = |source| RecordingError::Io { path: self.path.clone(), source };
        self.out.write_all(&len.to_le_bytes()).map_err(io)?;
        self.out.write_all(&self.buf).map_err(|source| RecordingError::Io { path: self.path.clone(), source })
    }

    /// Writes the end record and flushes it all to the file.
    pub fn finish(mut self) -> Result<(), RecordingError> {
        self.write(&Record::End)?;
        self.out.flush().map_err(|source| RecordingError::Io { path: self.path.clone(), source })
    }
}

/// Reads a recording record by record, checking it as it goes.
pub struct RecordingReader {
    input: BufReader<std::fs::File>,
    path: PathBuf,
    offset: u64,
    buf: Vec<u8>,
    ended: bool,
}

impl RecordingReader {
    /// Opens `path` and reads its header.
    pub fn open(path: &Path) -> Result<(Header, Self), RecordingError> {
        let file = std::fs::File::open(path).map_err(|source| RecordingError::Io { path: path.to_owned(), source })?;
        let mut reader =
            Self { input: BufReader::with_capacity(1 << 16, file), path: path.to_owned(), offset: 0, buf: Vec::new(), ended: false };
        let mut magic = [0u8; 8];
        if reader.input.read_exact(&mut magic).is_err() || &magic != MAGIC {
            return Err(RecordingError::NotARecording { path: path.to_owned() });
        }
        reader.offset = MAGIC.len() as u64;
        let header_at = reader.offset;
        let header = match reader.next_record()? {
            Some(Record::Header(header)) => *header,
            _ => return Err(reader.corrupt(header_at, "the first record is not the header")),
        };
        if header.format > FORMAT_VERSION {
            return Err(RecordingError::NewerFormat { path: path.to_owned(), found: header.format });
        }
        Ok((header, reader))
    }

    fn truncated(&self, at: u64, what: impl Into<String>) -> RecordingError {
        RecordingError::Truncated { path: self.path.clone(), offset: at, what: what.into() }
    }

    fn corrupt(&self, at: u64, what: impl Into<String>) -> RecordingError {
        RecordingError::Corrupt { path: self.path.clone(), offset: at, what: what.into() }
    }

    /// Whether the file has no byte left.
    fn at_end(&mut self) -> Result<bool, RecordingError> {
        let path = &self.path;
        Ok(self.input.fill_buf().map_err(|source| RecordingError::Io { path: path.clone(), source })?.is_empty())
    }

    /// The next record after the header; `None` after [`Record::End`]. A file
    /// that stops before its end record, or mid-record, is truncated.
    pub fn next_record(&mut self) -> Result<Option<Record>, RecordingError> {
        if self.ended {
            return Ok(None);
        }
        let at = self.offset;
        if self.at_end()? {
            return Err(self.truncated(at, "the file ends without the end record (the session did not finish cleanly)"));
        }
        let mut len = [0u8; 4];
        self.input.read_exact(&mut len).map_err(|_| self.truncated(at, "the file ends inside a record's length"))?;
        let len = u32::from_le_bytes(len);
        if len > MAX_RECORD_BYTES {
            return Err(self.corrupt(at, format!("a record of {len} bytes (the limit is {MAX_RECORD_BYTES})")));
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.resize(len as usize, 0);
        self.input.read_exact(&mut buf).map_err(|_| self.truncated(at, format!("the file ends inside a record of {len} bytes")))?;
        let record: Record = rmp_serde::from_slice(&buf).map_err(|e| self.corrupt(at, format!("an unreadable record: {e}")))?;
        self.buf = buf;
        self.offset = at + 4 + u64::from(len);
        match record {
            Record::End => {
                self.ended = true;
                if !self.at_end()? {
                    return Err(self.corrupt(self.offset, "bytes after the end record"));
                }
            }
            Record::Header(_) if at != MAGIC.len() as u64 => return Err(self.corrupt(at, "a second header")),
            _ => {}
        }
        Ok(Some(record))
    }

    /// Reads the whole recording through, checking every record; returns
    /// the events it holds.
    pub fn check(path: &Path) -> Result<(Header, u64), RecordingError> {
        let (header, mut reader) = Self::open(path)?;
        let mut events = 0u64;
        while let Some(record) = reader.next_record()? {
            if let Record::Events(e) = record {
                events += e.len() as u64;
            }
        }
        Ok((header, events))
    }
}

/// The recordings at `path`: the file itself, or every `*.liurec` in the
/// folder, in name order.
pub fn recordings_at(path: &Path) -> Result<Vec<PathBuf>, RecordingError> {
    if !path.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let entries = std::fs::read_dir(path).map_err(|source| RecordingError::Io { path: path.to_owned(), source })?;
    let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == EXTENSION)).collect();
    files.sort();
    if files.is_empty() {
        return Err(RecordingError::Empty { path: path.to_owned() });
    }
    Ok(files)
}

#[cfg(test)]
mod tests;
