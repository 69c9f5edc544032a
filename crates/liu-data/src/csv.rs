//! CSV bar files: header recognition, the per-row parser and validator, and the
//! timestamp parser of liu_core::time, used on the hot path.
//!
//! A header row is required; names are trimmed and case-insensitive, other
//! columns are ignored:
//! - timestamp: `timestamp`, `datetime`, `ts`, `date`, `time` (first found in
//!   that order) or an empty first name (pandas' `,Open,High,Low,Close,Volume`);
//! - `open`, `high`, `low`, `close`; `volume` optional (missing or empty → 0);
//! - `symbol` or `ticker` optional (otherwise the `--symbol` option or the file
//!   stem in upper case).
//!
//! Rows must have as many fields as the header, finite numbers, `volume >= 0`
//! and `low <= open, close <= high`. Blank lines are skipped; line numbers in
//! errors are physical lines (the header is line 1).
//!
//! Quote-free files (the norm) go through a fast line splitter; files with `"`
//! or bare `\r` line ends are read with the `csv` crate, with the same results.
//!
//! Accepted timestamp formats (see [`liu_core::time::parse_timestamp`]):
//! - epoch numbers, integer or decimal, whose unit follows the number of integer
//!   digits: up to 12 digits are seconds, 13–15 milliseconds, 16–18 microseconds,
//!   19 nanoseconds (so `1700000000`, `1700000000.25` and `1700000000000` all work);
//! - `YYYY-MM-DD`, `YYYY-MM-DD HH:MM`, `YYYY-MM-DD HH:MM:SS`, `YYYY-MM-DD HH:MM:SS.fff…`
//!   (up to 9 significant fraction digits, further digits are truncated), with `T`
//!   instead of the space allowed, optionally followed by `Z` or a `±HH:MM`
//!   (also `±HHMM`, `±HH`) offset, which is converted to UTC. Naive times are UTC.

mod fast_reader;
mod fields;
mod file_state;
mod header;
mod number;
mod row;
mod sink;

use std::fs::File;
use std::path::Path;

use ::csv::{ByteRecord, ErrorKind, ReaderBuilder};

use super::{DataError, LoadOptions};
use fast_reader::read_fast;
use file_state::FileState;
#[cfg(test)]
use liu_core::domain::NANOS_PER_SECOND;

#[cfg(test)]
use liu_core::time::{format_timestamp, parse_timestamp};
pub(super) use row::check_bar;
pub(super) use sink::Sink;

/// The 1-based physical line of a record whose parsing started at `byte`.
///
/// The csv reader's own line count misses blank lines skipped before a record,
/// so on the (cold) error path we count newlines in the file itself: those
/// before `byte`, plus those of the blank lines that follow it.
pub(super) fn physical_line(path: &Path, byte: u64) -> u64 {
    use std::io::{BufRead, BufReader};
    let Ok(file) = File::open(path) else {
        return 0;
    };
    let mut r = BufReader::with_capacity(1 << 16, file);
    let mut line = 1u64;
    let mut pos = 0u64;
    loop {
        let Ok(buf) = r.fill_buf() else { return line };
        if buf.is_empty() {
            return line;
        }
        let mut used = 0;
        for &b in buf {
            if pos >= byte && b != b'\n' && b != b'\r' {
                return line;
            }
            if b == b'\n' {
                line += 1;
            }
            pos += 1;
            used += 1;
        }
        r.consume(used);
    }
}

fn csv_error(path: &Path, err: ::csv::Error) -> DataError {
    let line = err.position().map_or(0, |p| p.line());
    let message = err.to_string();
    match err.into_kind() {
        ErrorKind::Io(source) => DataError::Io { path: path.to_path_buf(), source },
        _ => DataError::Malformed { path: path.to_path_buf(), line, message },
    }
}

/// Reads one CSV file into `sink`, validating every row and keeping those in
/// the `from`/`to` range.
///
/// Files without any `"` or bare `\r` take a fast line splitter; others (or if
/// one turns up mid-file) are read with the `csv` crate. Both accept exactly
/// the same quote-free input.
pub(super) fn read_file(path: &Path, opts: &LoadOptions, sink: &mut Sink) -> Result<(), DataError> {
    let start = sink.events.len();
    sink.file_starts.push(start);
    if read_fast(path, opts, sink)? {
        return Ok(());
    }
    sink.events.truncate(start);
    sink.offsets.truncate(start);
    read_csv(path, opts, sink)
}

/// The general reader (quoted fields, bare `\r` line ends), via the `csv` crate.
fn read_csv(path: &Path, opts: &LoadOptions, sink: &mut Sink) -> Result<(), DataError> {
    let f = File::open(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    let mut rdr = ReaderBuilder::new().has_headers(true).flexible(true).buffer_capacity(1 << 18).from_reader(f);
    let headers = rdr.byte_headers().map_err(|e| csv_error(path, e))?.clone();
    let mut state = FileState::new(path, &headers, opts, sink)?;
    let mut rec = ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(path, e)),
        }
        let byte = rec.position().map_or(0, |p| p.byte());
        state.row(&rec, byte, sink)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
