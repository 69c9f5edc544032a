//! Per-file reading state shared by both readers: columns, the time filter and the symbol cache.

use std::path::Path;

use ::csv::ByteRecord;

use super::fields::Fields;
use super::header::{Columns, columns};
use super::physical_line;
use super::row::parse_row;
use super::sink::Sink;
use crate::{DataError, LoadOptions};
use liu_core::domain::{BarEvent, Timestamp};

/// Per-file state shared by both readers: columns, filter, symbol cache.
pub(super) struct FileState<'a> {
    path: &'a Path,
    cols: Columns,
    from: Timestamp,
    to: Timestamp,
    /// Symbol of the whole file when there is no symbol column.
    fixed_name: Option<Vec<u8>>,
    fixed_id: Option<u32>,
    last_sym: Vec<u8>,
    last_id: u32,
    /// Short symbols (≤ 8 bytes) packed into integers: (bytes, length, id).
    recent: Vec<(u64, usize, u32)>,
    last_pushed: u32,
    file_len: u64,
    first_event: usize,
    reserved: bool,
}

/// Rows read before capacity for the rest of the file is estimated.
const SAMPLE_ROWS: usize = 256;

impl<'a> FileState<'a> {
    pub(super) fn new(path: &'a Path, headers: &ByteRecord, opts: &LoadOptions, sink: &mut Sink) -> Result<Self, DataError> {
        if headers.is_empty() || (headers.len() == 1 && headers[0].trim_ascii().is_empty()) {
            return Err(DataError::Empty { path: path.to_path_buf() });
        }
        let cols = columns(path, headers)?;
        let fixed_name = match cols.symbol {
            Some(_) => None,
            None => Some(match &opts.symbol {
                Some(s) => s.as_bytes().to_vec(),
                None => path.file_stem().map(|s| s.to_string_lossy().to_uppercase()).unwrap_or_default().into_bytes(),
            }),
        };
        Ok(Self {
            path,
            cols,
            from: opts.from.unwrap_or(Timestamp::MIN),
            to: opts.to.unwrap_or(Timestamp::MAX),
            fixed_name,
            fixed_id: None,
            last_sym: Vec::new(),
            last_id: u32::MAX,
            recent: Vec::new(),
            last_pushed: u32::MAX,
            file_len: std::fs::metadata(path).map_or(0, |m| m.len()),
            first_event: sink.events.len(),
            reserved: false,
        })
    }

    #[cold]
    fn malformed(&self, byte: u64, message: String) -> DataError {
        DataError::Malformed { path: self.path.to_path_buf(), line: physical_line(self.path, byte), message }
    }

    /// Validates one row starting at `byte` and keeps it if in range.
    #[inline(always)]
    pub(super) fn row<R: Fields>(&mut self, rec: &R, byte: u64, sink: &mut Sink) -> Result<(), DataError> {
        let bar = match parse_row(rec, &self.cols) {
            Ok(bar) => bar,
            Err(message) => return Err(self.malformed(byte, message)),
        };
        let id = if let Some(id) = self.fixed_id {
            id
        } else if let Some(name) = &self.fixed_name {
            let id = sink.intern(name);
            self.fixed_id = Some(id);
            id
        } else {
            let s = rec.field(self.cols.symbol.unwrap_or(0)).trim_ascii();
            if !s.is_empty() && s.len() <= 8 {
                // Interleaved multi-symbol files change symbol every row: a
                // small scan of packed names beats hashing.
                let mut w = [0u8; 8];
                w[..s.len()].copy_from_slice(s);
                let key = u64::from_le_bytes(w);
                if let Some(&(_, _, id)) = self.recent.iter().find(|r| r.0 == key && r.1 == s.len()) {
                    id
                } else {
                    let id = sink.intern(s);
                    if self.recent.len() < 64 {
                        self.recent.push((key, s.len(), id));
                    }
                    id
                }
            } else {
                if s != self.last_sym.as_slice() || self.last_id == u32::MAX {
                    if s.is_empty() {
                        return Err(self.malformed(byte, "column \"symbol\": empty value".into()));
                    }
                    self.last_id = sink.intern(s);
                    self.last_sym.clear();
                    self.last_sym.extend_from_slice(s);
                }
                self.last_id
            }
        };
        if bar.time < self.from || bar.time > self.to {
            return Ok(());
        }
        if id != self.last_pushed {
            if let Some(u) = sink.used.get_mut(id as usize) {
                *u = true;
            }
            self.last_pushed = id;
        }
        if !self.reserved && sink.events.len() - self.first_event >= SAMPLE_ROWS {
            // Reserve for the rest of the file from the bytes per row so far.
            self.reserved = true;
            let per_row = byte.max(1) as f64 / SAMPLE_ROWS as f64;
            let rows = (self.file_len.saturating_sub(byte) as f64 / per_row) as usize;
            let rows = rows + rows / 16 + 16;
            sink.events.reserve(rows);
            sink.offsets.reserve(rows);
        }
        sink.events.push(BarEvent { symbol: id, bar });
        sink.offsets.push(byte);
        Ok(())
    }
}
