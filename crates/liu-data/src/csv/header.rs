//! The header row: which column holds the timestamp, the prices, the volume and the symbol.

use std::path::Path;

use ::csv::ByteRecord;

use crate::DataError;

/// Column indices of one file.
pub(super) struct Columns {
    pub(super) n: usize,
    pub(super) time: usize,
    pub(super) open: usize,
    pub(super) high: usize,
    pub(super) low: usize,
    pub(super) close: usize,
    pub(super) volume: Option<usize>,
    pub(super) symbol: Option<usize>,
}

fn header_names(headers: &ByteRecord) -> String {
    let names: Vec<String> = headers.iter().map(|h| String::from_utf8_lossy(h.trim_ascii()).into_owned()).collect();
    names.join(",")
}

pub(super) fn columns(path: &Path, headers: &ByteRecord) -> Result<Columns, DataError> {
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
