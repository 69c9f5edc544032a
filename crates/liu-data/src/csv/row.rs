//! Row validation: one data row into a checked [`Bar`], and the same consistency checks for other formats.

use liu_core::domain::Bar;

use super::fields::{Fields, show};
use super::header::Columns;
use super::number::number;
use liu_core::time::parse_timestamp_bytes;

/// Parses and validates one data row (everything except the symbol).
#[inline(always)]
pub(super) fn parse_row<R: Fields>(rec: &R, c: &Columns) -> Result<Bar, String> {
    if rec.count() != c.n {
        return Err(format!("row has {} fields, the header has {}", rec.count(), c.n));
    }
    let tf = rec.field(c.time).trim_ascii();
    let Some(time) = parse_timestamp_bytes(tf) else {
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
pub(crate) fn check_bar(b: &Bar) -> Result<(), String> {
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
