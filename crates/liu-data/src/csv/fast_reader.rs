//! The fast reader for quote-free files: a SWAR line splitter over a growing buffer.

use std::fs::File;
use std::path::Path;

use ::csv::ByteRecord;

use super::fields::{Fields, Line};
use super::file_state::FileState;
use super::sink::Sink;
use crate::{DataError, LoadOptions};

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
pub(super) fn read_fast(path: &Path, opts: &LoadOptions, sink: &mut Sink) -> Result<bool, DataError> {
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
