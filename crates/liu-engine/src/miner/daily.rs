//! `mine daily-ohlc`: one symbol's daily bars from Alpaca, Polygon or CSV
//! files, the engine's [`indicators`] over them, upserted into `stock_ohlc`
//! in one transaction (re-mining a date updates its row).
//!
//! Dates are New York trading days: Alpaca and Polygon stamp a daily bar
//! with New York midnight; intraday CSV bars are summed per New York day,
//! daily CSV bars keep their own date ([`daily_bars`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::America::New_York;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::MineError;
use liu_core::domain::Bar;
use liu_core::time::parse_rfc3339;
use liu_data::LoadOptions;
use liu_data::daily::daily_bars;
use liu_data::store::Store;
use liu_data::store::market_data::{OhlcRow, upsert_ohlc};
use liu_sandbox::fincalcs;
use liu_venues::rest::{AlpacaBar, Api, Client, decode, path_segment};

/// Alpaca's largest page; Polygon's is 50000.
const ALPACA_PAGE_LIMIT: &str = "10000";
const POLYGON_PAGE_LIMIT: &str = "50000";

pub use liu_core::domain::DailyBar;

/// The dates to store, and how many calendar days of history before them
/// to fetch as warm-up, so that long indicators (SMA 200) are defined from
/// the first stored date rather than 200 bars into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub warmup_days: u32,
}

impl Window {
    pub fn fetch_from(&self) -> NaiveDate {
        self.from.checked_sub_days(Days::new(u64::from(self.warmup_days))).unwrap_or(NaiveDate::MIN)
    }
}

/// Where daily bars come from.
#[derive(Debug)]
pub enum DailySource {
    /// Alpaca's `GET /v2/stocks/{symbol}/bars` or Polygon's daily aggregates.
    Api(Client),
    /// Bars loaded by the engine's CSV loader, summed per day.
    Files { path: PathBuf, bars: BTreeMap<String, Vec<DailyBar>> },
}

impl DailySource {
    /// Loads a CSV file or folder (see [`liu_data::load`]).
    pub fn files(path: &Path) -> Result<Self, MineError> {
        let data = liu_data::load(path, &LoadOptions::default())?;
        Ok(DailySource::Files { path: path.to_owned(), bars: daily_bars(&data) })
    }

    /// The symbol's bars from `from` to `to` (inclusive), in date order, one
    /// per date, and where they were read (the first URL, or the path).
    pub async fn fetch(&self, symbol: &str, from: NaiveDate, to: NaiveDate) -> Result<(Vec<DailyBar>, String), MineError> {
        let (mut bars, origin) = match self {
            DailySource::Api(client) => match client.api() {
                Api::Alpaca { .. } => alpaca_bars(client, symbol, from, to).await?,
                Api::Polygon { .. } => polygon_bars(client, symbol, from, to).await?,
            },
            DailySource::Files { path, bars } => {
                let all = bars.get(symbol).ok_or_else(|| MineError::NotInFile { symbol: symbol.to_owned(), path: path.clone() })?;
                (all.clone(), path.display().to_string())
            }
        };
        bars.retain(|b| (from..=to).contains(&b.date));
        bars.sort_by_key(|b| b.date);
        // A provider repeating a day across pages: the later answer wins.
        bars.reverse();
        bars.dedup_by_key(|b| b.date);
        bars.reverse();
        Ok((bars, origin))
    }
}

/// What [`mine_symbol`] stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Mined {
    pub rows: usize,
    pub first: NaiveDate,
    pub last: NaiveDate,
}

/// Fetches `symbol`'s bars over the window and its warm-up, computes the
/// indicators over all of them, and upserts the window's rows in one
/// transaction. No bar inside the window is an error ([`MineError::NoBars`]).
pub async fn mine_symbol(store: &Store, source: &DailySource, symbol: &str, window: Window) -> Result<Mined, MineError> {
    let (bars, origin) = source.fetch(symbol, window.fetch_from(), window.to).await?;
    let values = indicators(&bars);
    let keep: Vec<(&DailyBar, Map<String, Value>)> = bars.iter().zip(values).filter(|(b, _)| b.date >= window.from).collect();
    let (Some(first), Some(last)) = (keep.first().map(|(b, _)| b.date), keep.last().map(|(b, _)| b.date)) else {
        return Err(MineError::NoBars { symbol: symbol.to_owned(), url: origin, from: window.from, to: window.to });
    };
    let store_error = |source| MineError::Store { symbol: symbol.to_owned(), source };
    let now = Utc::now();
    let mut tx = store.begin().await.map_err(store_error)?;
    for (bar, indicators) in &keep {
        let row = OhlcRow { symbol, bar: DailyBar::clone(bar), indicators: Value::Object(indicators.clone()) };
        upsert_ohlc(&mut tx, &row, now).await.map_err(store_error)?;
    }
    tx.commit().await.map_err(store_error)?;
    tracing::info!(symbol, rows = keep.len(), %first, %last, from = %origin, "mined daily bars");
    Ok(Mined { rows: keep.len(), first, last })
}

/// The indicators stored with each bar, computed by [`liu_sandbox::fincalcs`]
/// over the closes (and highs and lows for ATR) of `bars` up to and
/// including it: `sma_20`, `sma_50`, `sma_200`, `ema_20`, `rsi_14`, `macd`,
/// `macd_signal`, `macd_hist` (12/26/9), `bb_upper`, `bb_middle`, `bb_lower`
/// (20, 2 standard deviations), `atr_14` and `stddev_20`. An indicator not
/// yet defined (warm-up) is left out.
pub fn indicators(bars: &[DailyBar]) -> Vec<Map<String, Value>> {
    let closes: Vec<f64> = bars.iter().map(|b| b.close).collect();
    let ohlc: Vec<Bar> =
        bars.iter().map(|b| Bar { time: 0, open: b.open, high: b.high, low: b.low, close: b.close, volume: b.volume }).collect();
    let macd = fincalcs::macd(&closes, 12, 26, 9);
    let bands = fincalcs::bollinger(&closes, 20, 2.0);
    let series: [(&str, Vec<f64>); 13] = [
        ("sma_20", fincalcs::sma(&closes, 20)),
        ("sma_50", fincalcs::sma(&closes, 50)),
        ("sma_200", fincalcs::sma(&closes, 200)),
        ("ema_20", fincalcs::ema(&closes, 20)),
        ("rsi_14", fincalcs::rsi(&closes, 14)),
        ("macd", macd.macd),
        ("macd_signal", macd.signal),
        ("macd_hist", macd.histogram),
        ("bb_upper", bands.upper),
        ("bb_middle", bands.middle),
        ("bb_lower", bands.lower),
        ("atr_14", fincalcs::atr(&ohlc, 14)),
        ("stddev_20", fincalcs::stddev(&closes, 20)),
    ];
    (0..bars.len())
        .map(|i| {
            series
                .iter()
                .filter_map(|(name, values)| {
                    let value = serde_json::Number::from_f64(values[i])?;
                    Some(((*name).to_owned(), Value::Number(value)))
                })
                .collect()
        })
        .collect()
}

#[derive(Deserialize)]
struct AlpacaBars {
    /// `null` when there are none.
    bars: Option<Vec<AlpacaBar>>,
    next_page_token: Option<String>,
}

/// Alpaca's historical daily bars, split-adjusted (as Polygon's
/// `adjusted=true`), following `next_page_token`.
async fn alpaca_bars(client: &Client, symbol: &str, from: NaiveDate, to: NaiveDate) -> Result<(Vec<DailyBar>, String), MineError> {
    let path = format!("v2/stocks/{}/bars", path_segment(symbol));
    let query = [
        ("timeframe", "1Day".to_owned()),
        ("start", format!("{from}T00:00:00Z")),
        ("end", format!("{to}T23:59:59Z")),
        ("adjustment", "split".to_owned()),
        ("limit", ALPACA_PAGE_LIMIT.to_owned()),
    ];
    let first = client.url(&path, &query)?;
    let mut url = first.clone();
    let mut bars = Vec::new();
    let mut tokens = std::collections::HashSet::new();
    loop {
        let page: AlpacaBars = client.get(symbol, &url).await?;
        for bar in page.bars.unwrap_or_default() {
            let time = parse_rfc3339(&bar.t).ok_or_else(|| decode(symbol, &url, format!("bar time {:?} is not RFC 3339", bar.t)))?;
            let date = DateTime::from_timestamp_nanos(time).with_timezone(&New_York).date_naive();
            bars.push(DailyBar { date, open: bar.o, high: bar.h, low: bar.l, close: bar.c, volume: bar.v });
        }
        match page.next_page_token.filter(|t| !t.is_empty()) {
            Some(token) => {
                if !tokens.insert(token.clone()) {
                    return Err(decode(symbol, &url, format!("next_page_token {token:?} repeats")).into());
                }
                let mut query = query.to_vec();
                query.push(("page_token", token));
                url = client.url(&path, &query)?;
            }
            None => break,
        }
    }
    Ok((bars, first.to_string()))
}

/// Polygon's split-adjusted daily aggregates, following `next_url` (on the
/// same host only: the API key goes with it).
async fn polygon_bars(client: &Client, symbol: &str, from: NaiveDate, to: NaiveDate) -> Result<(Vec<DailyBar>, String), MineError> {
    let path = format!("v2/aggs/ticker/{}/range/1/day/{from}/{to}", path_segment(symbol));
    let query = [("adjusted", "true".to_owned()), ("sort", "asc".to_owned()), ("limit", POLYGON_PAGE_LIMIT.to_owned())];
    let first = client.url(&path, &query)?;
    let mut bars = Vec::new();
    client
        .polygon_aggs(symbol, &first, |url, aggs| {
            for agg in aggs {
                let time = DateTime::from_timestamp_millis(agg.t).ok_or_else(|| decode(symbol, url, format!("bar time {}", agg.t)))?;
                let date = time.with_timezone(&New_York).date_naive();
                bars.push(DailyBar { date, open: agg.o, high: agg.h, low: agg.l, close: agg.c, volume: agg.v });
            }
            Ok(true)
        })
        .await?;
    Ok((bars, first.to_string()))
}

#[cfg(test)]
mod tests;
