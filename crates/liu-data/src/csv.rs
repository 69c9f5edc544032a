//! CSV bar files: header recognition, the per-row parser and validator, and the
//! hand-rolled timestamp parser/formatter used on the hot path.
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
//! Accepted timestamp formats (see [`parse_timestamp`]):
//! - epoch numbers, integer or decimal, whose unit follows the number of integer
//!   digits: up to 12 digits are seconds, 13–15 milliseconds, 16–18 microseconds,
//!   19 nanoseconds (so `1700000000`, `1700000000.25` and `1700000000000` all work);
//! - `YYYY-MM-DD`, `YYYY-MM-DD HH:MM`, `YYYY-MM-DD HH:MM:SS`, `YYYY-MM-DD HH:MM:SS.fff…`
//!   (up to 9 significant fraction digits, further digits are truncated), with `T`
//!   instead of the space allowed, optionally followed by `Z` or a `±HH:MM`
//!   (also `±HHMM`, `±HH`) offset, which is converted to UTC. Naive times are UTC.

use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;

use ::csv::{ByteRecord, ErrorKind, ReaderBuilder};

use super::{DataError, LoadOptions};
use liu_core::domain::{Bar, BarEvent, NANOS_PER_SECOND, Timestamp, civil_from_days, days_from_civil, days_in_month};

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

/// Rows accumulated over every file of one load, with provisional symbol ids
/// (order of first appearance); `mod.rs` renumbers them alphabetically.
#[derive(Default)]
pub(super) struct Sink {
    pub events: Vec<BarEvent>,
    /// Per event: byte offset where the CSV reader started its record (see
    /// [`physical_line`]).
    pub offsets: Vec<u64>,
    /// Per file: index of its first event.
    pub file_starts: Vec<usize>,
    pub names: Vec<String>,
    /// Per provisional id: whether any bar was kept.
    pub used: Vec<bool>,
    ids: HashMap<Vec<u8>, u32, BuildHasherDefault<FxHasher>>,
}

/// FxHash (as in rustc): symbol names are short and trusted enough that a fast
/// non-DoS-resistant hash is fine.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Sink {
    /// Provisional id of a symbol name, adding it when new.
    fn intern(&mut self, name: &[u8]) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(String::from_utf8_lossy(name).into_owned());
        self.used.push(false);
        self.ids.insert(name.to_vec(), id);
        id
    }
}

/// Column indices of one file.
struct Columns {
    n: usize,
    time: usize,
    open: usize,
    high: usize,
    low: usize,
    close: usize,
    volume: Option<usize>,
    symbol: Option<usize>,
}

fn header_names(headers: &ByteRecord) -> String {
    let names: Vec<String> = headers.iter().map(|h| String::from_utf8_lossy(h.trim_ascii()).into_owned()).collect();
    names.join(",")
}

fn columns(path: &Path, headers: &ByteRecord) -> Result<Columns, DataError> {
    // Timestamp candidates in priority order.
    const TIME_NAMES: [&str; 6] = ["timestamp", "datetime", "ts", "date", "time", ""];
    let mut time_slots: [Option<usize>; 6] = [None; 6];
    // open, high, low, close, volume, symbol
    const NAMES: [&str; 6] = ["open", "high", "low", "close", "volume", "symbol"];
    let mut slots: [Option<usize>; 6] = [None; 6];

    let bad = |message: String| DataError::BadHeader { path: path.to_path_buf(), message };

    for (i, raw) in headers.iter().enumerate() {
        let mut raw = raw;
        if i == 0 {
            raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
        }
        let name = String::from_utf8_lossy(raw.trim_ascii()).to_ascii_lowercase();
        let name = match name.as_str() {
            "ticker" => "symbol",
            other => other,
        };
        if name.is_empty() && i != 0 {
            continue;
        }
        if let Some(k) = TIME_NAMES.iter().position(|t| *t == name) {
            if let Some(prev) = time_slots[k] {
                return Err(bad(format!("columns {} and {} are both named \"{name}\"", prev + 1, i + 1)));
            }
            time_slots[k] = Some(i);
        } else if let Some(k) = NAMES.iter().position(|t| *t == name) {
            if let Some(prev) = slots[k] {
                return Err(bad(format!("columns {} and {} are both \"{}\"", prev + 1, i + 1, NAMES[k])));
            }
            slots[k] = Some(i);
        }
    }

    let [ts, datetime, short_ts, date, time, _] = time_slots;
    if ts.is_none() && datetime.is_none() && short_ts.is_none() && date.is_some() && time.is_some() {
        return Err(bad("separate \"date\" and \"time\" columns are not supported; combine them into one timestamp column".to_string()));
    }
    let missing = |column: &'static str| DataError::MissingColumn { path: path.to_path_buf(), column, header: header_names(headers) };
    let time = time_slots.iter().find_map(|s| *s).ok_or_else(|| missing("timestamp"))?;
    Ok(Columns {
        n: headers.len(),
        time,
        open: slots[0].ok_or_else(|| missing("open"))?,
        high: slots[1].ok_or_else(|| missing("high"))?,
        low: slots[2].ok_or_else(|| missing("low"))?,
        close: slots[3].ok_or_else(|| missing("close"))?,
        volume: slots[4],
        symbol: slots[5],
    })
}

/// Shows a field in an error message (lossy, shortened).
fn show(field: &[u8]) -> String {
    let s = String::from_utf8_lossy(field);
    if s.chars().count() > 40 {
        let head: String = s.chars().take(40).collect();
        format!("{head}…")
    } else {
        s.into_owned()
    }
}

#[cold]
fn bad_number(column: &str, field: &[u8]) -> String {
    if field.is_empty() {
        format!("column \"{column}\": empty value")
    } else {
        format!("column \"{column}\": \"{}\" is not a number", show(field))
    }
}

#[cold]
fn not_finite(column: &str, field: &[u8]) -> String {
    format!("column \"{column}\": \"{}\" is not a finite number", show(field))
}

/// Exact powers of ten representable in an `f64`.
const POW10: [f64; 23] =
    [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/// Parses a finite decimal number. Plain `[-]digits[.digits]` with at most 17 digits
/// takes Clinger's fast path (exact integer mantissa divided by an exact power
/// of ten: one correctly rounded IEEE division, so the result is the correctly
/// rounded value); everything else goes to `fast_float2`.
#[inline(always)]
fn parse_f64(s: &[u8]) -> Option<f64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if !digits.is_empty() && digits.len() <= 18 {
        let mut m: u64 = 0;
        let mut frac = 0usize;
        let mut dot = false;
        let mut n = 0usize;
        let mut simple = true;
        for &b in digits {
            let d = b.wrapping_sub(b'0');
            if d < 10 {
                m = m * 10 + u64::from(d);
                n += 1;
                frac += usize::from(dot);
            } else if b == b'.' && !dot {
                dot = true;
            } else {
                simple = false;
                break;
            }
        }
        if simple && n > 0 && m <= 1 << 53 {
            let v = m as f64 / POW10[frac];
            return Some(if neg { -v } else { v });
        }
    }
    fast_float2::parse::<f64, _>(s).ok().filter(|v| v.is_finite())
}

/// A split CSV row: the csv crate's `ByteRecord` or the fast path's line.
trait Fields {
    fn count(&self) -> usize;
    fn field(&self, i: usize) -> &[u8];
}

impl Fields for ByteRecord {
    #[inline(always)]
    fn count(&self) -> usize {
        self.len()
    }
    #[inline(always)]
    fn field(&self, i: usize) -> &[u8] {
        self.get(i).unwrap_or(b"")
    }
}

/// A quote-free line and the end offsets of its fields.
struct Line<'a> {
    bytes: &'a [u8],
    ends: &'a [usize],
}

impl Fields for Line<'_> {
    #[inline(always)]
    fn count(&self) -> usize {
        self.ends.len()
    }
    #[inline(always)]
    fn field(&self, i: usize) -> &[u8] {
        let start = match i {
            0 => 0,
            _ => self.ends.get(i - 1).map_or(0, |e| e + 1),
        };
        let end = self.ends.get(i).copied().unwrap_or(0);
        self.bytes.get(start..end).unwrap_or(b"")
    }
}

#[inline(always)]
fn number<R: Fields>(rec: &R, i: usize, column: &'static str) -> Result<f64, String> {
    let field = rec.field(i).trim_ascii();
    match parse_f64(field) {
        Some(v) => Ok(v),
        None if fast_float2::parse::<f64, _>(field).is_ok() => Err(not_finite(column, field)),
        None => Err(bad_number(column, field)),
    }
}

/// Parses and validates one data row (everything except the symbol).
#[inline(always)]
fn parse_row<R: Fields>(rec: &R, c: &Columns) -> Result<Bar, String> {
    if rec.count() != c.n {
        return Err(format!("row has {} fields, the header has {}", rec.count(), c.n));
    }
    let tf = rec.field(c.time).trim_ascii();
    let Some(time) = parse_ts(tf) else {
        return Err(bad_timestamp(tf));
    };
    let open = number(rec, c.open, "open")?;
    let high = number(rec, c.high, "high")?;
    let low = number(rec, c.low, "low")?;
    let close = number(rec, c.close, "close")?;
    let volume = match c.volume {
        Some(i) if !rec.field(i).trim_ascii().is_empty() => number(rec, i, "volume")?,
        _ => 0.0,
    };
    let bar = Bar { time, open, high, low, close, volume };
    if volume < 0.0 || high < low || high < open || high < close || low > open || low > close {
        return Err(inconsistent(&bar));
    }
    Ok(bar)
}

/// The consistency checks of [`parse_row`], for bars read from other formats
/// (Parquet), so that every source accepts the same bars.
pub(super) fn check_bar(b: &Bar) -> Result<(), String> {
    let fields = [("open", b.open), ("high", b.high), ("low", b.low), ("close", b.close), ("volume", b.volume)];
    if let Some((column, v)) = fields.iter().find(|(_, v)| !v.is_finite()) {
        return Err(format!("column \"{column}\": {v} is not a finite number"));
    }
    if b.volume < 0.0 || b.high < b.low || b.high < b.open || b.high < b.close || b.low > b.open || b.low > b.close {
        return Err(inconsistent(b));
    }
    Ok(())
}

#[cold]
fn bad_timestamp(field: &[u8]) -> String {
    if field.is_empty() {
        return "column \"timestamp\": empty value".to_string();
    }
    format!(
        "column \"timestamp\": \"{}\" is not a valid timestamp (expected epoch seconds or \
         YYYY-MM-DD[ HH:MM[:SS[.fff]]][Z|±HH:MM])",
        show(field)
    )
}

#[cold]
fn inconsistent(b: &Bar) -> String {
    if b.volume < 0.0 {
        format!("column \"volume\": {} is negative", b.volume)
    } else if b.high < b.low {
        format!("high {} is below low {}", b.high, b.low)
    } else if b.high < b.open {
        format!("high {} is below open {}", b.high, b.open)
    } else if b.high < b.close {
        format!("high {} is below close {}", b.high, b.close)
    } else if b.low > b.open {
        format!("low {} is above open {}", b.low, b.open)
    } else {
        format!("low {} is above close {}", b.low, b.close)
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

/// Per-file state shared by both readers: columns, filter, symbol cache.
struct FileState<'a> {
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
    fn new(path: &'a Path, headers: &ByteRecord, opts: &LoadOptions, sink: &mut Sink) -> Result<Self, DataError> {
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
    fn row<R: Fields>(&mut self, rec: &R, byte: u64, sink: &mut Sink) -> Result<(), DataError> {
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

/// Where a line scan stopped.
enum Scan {
    /// `\n` at this index.
    Newline(usize),
    /// `"` or `\r` at this index.
    Special(usize),
    /// Ran out of bytes.
    Partial,
}

const ONES: u64 = 0x0101_0101_0101_0101;
const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;

/// High bit set in every zero byte of `x` (exact, no false positives).
#[inline(always)]
fn zero_bytes(x: u64) -> u64 {
    !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7)
}

/// Scans `bytes` for the end of the line, recording comma positions in `ends`;
/// eight bytes at a time (SWAR).
#[inline(always)]
fn scan(bytes: &[u8], ends: &mut Vec<usize>) -> Scan {
    let mut i = 0;
    while i + 8 <= bytes.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[i..i + 8]);
        let w = u64::from_le_bytes(word);
        let mut m = zero_bytes(w ^ (ONES * b',' as u64))
            | zero_bytes(w ^ (ONES * b'\n' as u64))
            | zero_bytes(w ^ (ONES * b'"' as u64))
            | zero_bytes(w ^ (ONES * b'\r' as u64));
        while m != 0 {
            let k = i + (m.trailing_zeros() / 8) as usize;
            match bytes[k] {
                b',' => ends.push(k),
                b'\n' => return Scan::Newline(k),
                _ => return Scan::Special(k),
            }
            m &= m - 1;
        }
        i += 8;
    }
    while i < bytes.len() {
        match bytes[i] {
            b',' => ends.push(i),
            b'\n' => return Scan::Newline(i),
            b'"' | b'\r' => return Scan::Special(i),
            _ => {}
        }
        i += 1;
    }
    Scan::Partial
}

/// The fast reader; `Ok(false)` means "needs the full CSV parser".
fn read_fast(path: &Path, opts: &LoadOptions, sink: &mut Sink) -> Result<bool, DataError> {
    use std::io::Read;
    let io = |source| DataError::Io { path: path.to_path_buf(), source };
    let mut file = File::open(path).map_err(io)?;
    let mut buf: Vec<u8> = vec![0; 1 << 20];
    let mut len = 0usize; // valid bytes in buf
    let mut base = 0u64; // file offset of buf[0]
    let mut eof = false;
    let mut ends: Vec<usize> = Vec::with_capacity(16);
    let mut state: Option<FileState<'_>> = None;
    let mut pos = 0usize; // start of the current line in buf

    loop {
        // Scan the line starting at `pos`; `i` is its end (absolute).
        ends.clear();
        let rest = &buf[pos..len];
        let (mut i, mut complete, mut cr) = (len, false, false);
        match scan(rest, &mut ends) {
            Scan::Newline(k) => (i, complete) = (pos + k, true),
            Scan::Partial => {}
            Scan::Special(k) => {
                let at = pos + k;
                match (buf[at], rest.get(k + 1)) {
                    (b'\r', Some(b'\n')) => (i, complete, cr) = (at + 1, true, true),
                    // Maybe "\r\n" across the buffer end: refill first.
                    (b'\r', None) if !eof => {}
                    _ => return Ok(false),
                }
            }
        }
        if cr {
            ends.push(i - 1 - pos);
        }
        if !complete && !eof {
            // Move the partial line to the front and read more.
            buf.copy_within(pos..len, 0);
            base += pos as u64;
            len -= pos;
            pos = 0;
            if len == buf.len() {
                buf.resize(buf.len() * 2, 0);
            }
            let n = loop {
                match file.read(&mut buf[len..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(io(e)),
                }
            };
            len += n;
            eof = n == 0;
            continue;
        }
        if !complete && i == pos {
            break; // end of file
        }
        if !cr {
            ends.push(i - pos);
        }
        let end_of_content = if cr { i - 1 } else { i };
        let line = Line { bytes: &buf[pos..end_of_content], ends: &ends };
        let byte = base + pos as u64;
        let blank = end_of_content == pos;
        pos = if complete { i + 1 } else { i };
        if blank {
            continue;
        }
        match &mut state {
            Some(st) => st.row(&line, byte, sink)?,
            None => {
                let fields: Vec<&[u8]> = (0..line.count()).map(|k| line.field(k)).collect();
                state = Some(FileState::new(path, &ByteRecord::from(fields), opts, sink)?);
            }
        }
    }
    if state.is_none() {
        return Err(DataError::Empty { path: path.to_path_buf() });
    }
    Ok(true)
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

// ---------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------

/// Parses a timestamp in one of the accepted formats (see the module docs)
/// into nanoseconds since the epoch, UTC. Surrounding whitespace is ignored.
/// Returns `None` for anything else or for times outside the `i64` nanosecond
/// range (years 1677–2262).
pub fn parse_timestamp(s: &str) -> Option<Timestamp> {
    parse_ts(s.as_bytes().trim_ascii())
}

#[inline]
fn parse_ts(s: &[u8]) -> Option<Timestamp> {
    if s.len() >= 10 && s[4] == b'-' { parse_iso(s) } else { parse_epoch(s) }
}

#[inline(always)]
fn digit(b: u8) -> Option<i64> {
    let d = b.wrapping_sub(b'0');
    if d < 10 { Some(d as i64) } else { None }
}

#[inline(always)]
fn two(s: &[u8], at: usize) -> Option<i64> {
    Some(digit(*s.get(at)?)? * 10 + digit(*s.get(at + 1)?)?)
}

/// Reads fraction digits starting at `at`; returns (nanoseconds, end).
/// Digits beyond the ninth are checked but ignored.
#[inline]
fn fraction(s: &[u8], mut at: usize) -> Option<(i64, usize)> {
    let start = at;
    let mut v: i64 = 0;
    let mut n = 0;
    while let Some(&b) = s.get(at) {
        let Some(d) = digit(b) else { break };
        if n < 9 {
            v = v * 10 + d;
            n += 1;
        }
        at += 1;
    }
    if at == start {
        return None;
    }
    while n < 9 {
        v *= 10;
        n += 1;
    }
    Some((v, at))
}

fn parse_epoch(s: &[u8]) -> Option<Timestamp> {
    let (neg, s) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut int: i64 = 0;
    let mut k = 0usize;
    while let Some(&b) = s.get(k) {
        let Some(d) = digit(b) else { break };
        int = int.checked_mul(10)?.checked_add(d)?;
        k += 1;
    }
    if k == 0 {
        return None;
    }
    let frac = if k < s.len() {
        if s[k] != b'.' {
            return None;
        }
        let (f, end) = fraction(s, k + 1)?;
        if end != s.len() {
            return None;
        }
        f
    } else {
        0
    };
    // Unit from the number of integer digits.
    let scale: i64 = match k {
        0..=12 => NANOS_PER_SECOND,
        13..=15 => 1_000_000,
        16..=18 => 1_000,
        19 => 1,
        _ => return None,
    };
    // `frac` is in billionths of the unit.
    let v = int.checked_mul(scale)?.checked_add(frac * scale / NANOS_PER_SECOND)?;
    Some(if neg { -v } else { v })
}

fn parse_iso(s: &[u8]) -> Option<Timestamp> {
    let y = two(s, 0)? * 100 + two(s, 2)?;
    let m = two(s, 5)?;
    let d = two(s, 8)?;
    if s[4] != b'-' || s[7] != b'-' || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    let mut nanos = 0;
    let mut at = 10;
    if at < s.len() {
        if !matches!(s[at], b' ' | b'T' | b't') {
            return None;
        }
        let hh = two(s, 11)?;
        let mm = two(s, 14)?;
        if *s.get(13)? != b':' || hh > 23 || mm > 59 {
            return None;
        }
        at = 16;
        let mut ss = 0;
        if s.get(at) == Some(&b':') {
            ss = two(s, 17)?;
            if ss > 59 {
                return None;
            }
            at = 19;
            if s.get(at) == Some(&b'.') {
                let (f, end) = fraction(s, at + 1)?;
                nanos = f;
                at = end;
            }
        }
        secs += hh * 3600 + mm * 60 + ss;
        // Offset.
        match s.get(at) {
            None => {}
            Some(b'Z' | b'z') if at + 1 == s.len() => {}
            Some(&sign @ (b'+' | b'-')) => {
                let oh = two(s, at + 1)?;
                let rest = &s[at + 3..];
                let om = match rest {
                    [] => 0,
                    [b':', a, b] | [a, b] => digit(*a)? * 10 + digit(*b)?,
                    _ => return None,
                };
                if oh > 23 || om > 59 {
                    return None;
                }
                let off = oh * 3600 + om * 60;
                // local = UTC + offset
                secs -= if sign == b'+' { off } else { -off };
            }
            _ => return None,
        }
    }
    secs.checked_mul(NANOS_PER_SECOND)?.checked_add(nanos)
}

/// Formats a timestamp as ISO 8601 UTC, e.g. `2024-01-02T14:30:00Z` (fractional
/// seconds shown only when non-zero). Accepted back by [`parse_timestamp`].
pub fn format_timestamp(t: Timestamp) -> String {
    let secs = t.div_euclid(NANOS_PER_SECOND);
    let nanos = t.rem_euclid(NANOS_PER_SECOND);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut out = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", sod / 3600, sod / 60 % 60, sod % 60);
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

#[cfg(test)]
mod tests;
