//! The miners' tables: upserts of `stock_ohlc` (a symbol's daily bar with
//! its indicators, keyed by symbol and date) and `ticker_data` (a symbol's
//! reference data, keyed by symbol). A second write of the same key updates
//! the row and its `modify_tstamp`, keeping its `create_tstamp`.

use chrono::{DateTime, Utc};
use liu_core::domain::DailyBar;

use super::{Tx, rfc3339};
use crate::sql_execute;

/// One `stock_ohlc` row: a symbol's day and the indicators computed on it.
#[derive(Clone, Debug, PartialEq)]
pub struct OhlcRow<'a> {
    pub symbol: &'a str,
    pub bar: DailyBar,
    /// A JSON object.
    pub indicators: serde_json::Value,
}

pub async fn upsert_ohlc(tx: &mut Tx, row: &OhlcRow<'_>, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    let now = rfc3339(now);
    sql_execute!(
        tx,
        "INSERT INTO stock_ohlc (symbol, symbol_date, open, high, low, close, volume, indicators, create_tstamp, modify_tstamp)
         VALUES (?, ?::date, ?, ?, ?, ?, ?, ?::jsonb, ?::timestamptz, ?::timestamptz)
         ON CONFLICT (symbol, symbol_date) DO UPDATE SET
             open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
             volume = excluded.volume, indicators = excluded.indicators, modify_tstamp = excluded.modify_tstamp",
        row.symbol,
        row.bar.date.to_string(),
        row.bar.open,
        row.bar.high,
        row.bar.low,
        row.bar.close,
        row.bar.volume,
        row.indicators.to_string(),
        now.clone(),
        now
    )?;
    Ok(())
}

/// One `ticker_data` row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TickerRow {
    pub symbol: String,
    pub name: String,
    pub description: Option<String>,
    pub industry: Option<String>,
    pub sector: Option<String>,
    pub exchange: Option<String>,
    pub similar_tickers: Vec<String>,
    pub tags: Vec<String>,
    pub short_ratio: Option<f64>,
}

pub async fn upsert_ticker(tx: &mut Tx, row: &TickerRow, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    let now = rfc3339(now);
    let list = |v: &[String]| serde_json::Value::from(v.to_vec()).to_string();
    sql_execute!(
        tx,
        "INSERT INTO ticker_data (symbol, name, description, industry, sector, exchange, similar_tickers, tags, short_ratio,
                                  create_tstamp, modify_tstamp)
         VALUES (?, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?, ?::timestamptz, ?::timestamptz)
         ON CONFLICT (symbol) DO UPDATE SET
             name = excluded.name, description = excluded.description, industry = excluded.industry,
             sector = excluded.sector, exchange = excluded.exchange, similar_tickers = excluded.similar_tickers,
             tags = excluded.tags, short_ratio = excluded.short_ratio, modify_tstamp = excluded.modify_tstamp",
        row.symbol.as_str(),
        row.name.as_str(),
        row.description.as_deref(),
        row.industry.as_deref(),
        row.sector.as_deref(),
        row.exchange.as_deref(),
        list(&row.similar_tickers),
        list(&row.tags),
        row.short_ratio,
        now.clone(),
        now
    )?;
    Ok(())
}
