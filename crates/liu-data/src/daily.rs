//! Daily bars from loaded bars of any spacing: what `mine daily-ohlc` stores
//! from CSV files and what `simulate --rest-listen` serves as the
//! providers' daily history.
//!
//! Dates are New York trading days: intraday bars are summed per New York
//! day, daily bars keep their own date.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate};
use chrono_tz::America::New_York;

use crate::MarketData;
use liu_core::domain::{Bar, DailyBar, Timeframe};

/// Bars at least this far apart (ns) are daily bars: 20 hours, so that
/// daily bars stamped at the session's start or end still qualify.
pub const DAILY_SPACING: i64 = 20 * 3600 * liu_core::domain::NANOS_PER_SECOND;

/// Daily bars per symbol. A symbol whose bars are at least
/// [`DAILY_SPACING`] apart is daily data: its bars are kept as they are,
/// dated by their UTC date (a CSV date is UTC midnight). Other symbols'
/// bars are summed per New York day: first open, highest high, lowest low,
/// last close, total volume. (A folder may mix daily and intraday files.)
pub fn daily_bars(data: &MarketData) -> BTreeMap<String, Vec<DailyBar>> {
    let mut per_symbol: Vec<Vec<&Bar>> = vec![Vec::new(); data.symbols.len()];
    for event in &data.events {
        per_symbol[event.symbol as usize].push(&event.bar);
    }
    let mut out = BTreeMap::new();
    for (symbol, bars) in data.symbols.iter().zip(per_symbol) {
        let daily =
            if bars.len() < 2 { data.timeframe == Timeframe::Day } else { bars.windows(2).all(|w| w[1].time - w[0].time >= DAILY_SPACING) };
        let mut days: Vec<(NaiveDate, Bar)> = Vec::new();
        for bar in bars {
            let time = DateTime::from_timestamp_nanos(bar.time);
            let date = if daily { time.date_naive() } else { time.with_timezone(&New_York).date_naive() };
            match days.last_mut() {
                Some((day, aggregate)) if *day == date => aggregate.extend_with(bar),
                _ => days.push((date, *bar)),
            }
        }
        let days: Vec<DailyBar> = days
            .into_iter()
            .map(|(date, b)| DailyBar { date, open: b.open, high: b.high, low: b.low, close: b.close, volume: b.volume })
            .collect();
        if !days.is_empty() {
            out.insert(symbol.clone(), days);
        }
    }
    out
}

#[cfg(test)]
mod tests;
