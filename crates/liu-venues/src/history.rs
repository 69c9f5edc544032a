//! Recent minute bars from the providers' REST APIs, to warm a live
//! session's history before its first live event (LiuAlgoTrader's
//! `DataLoader` does the same), so that `market-data.bars`/`closes` return a
//! full window at once.
//!
//! - Alpaca: `GET /v2/stocks/bars?symbols=A,B&timeframe=1Min&start&end&limit`,
//!   following `next_page_token`. Its documents: "The returned results are
//!   sorted by symbol first then by bar timestamp", the limit counts bars of
//!   all symbols together, and a bar's `t` is its start in RFC 3339
//!   (docs.alpaca.markets, Historical bars).
//! - Polygon: `GET /v2/aggs/ticker/{ticker}/range/1/minute/{from}/{to}`
//!   per ticker, newest first (`sort=desc`), following `next_url` (which
//!   carries no key: the client adds it); `t` is the window's start in Unix
//!   milliseconds (polygon.io/docs/stocks/get_v2_aggs_ticker__stocksticker__range).
//!
//! The window asked for ends now and reaches back the bars wanted plus
//! [`LOOKBACK_DAYS`], so a session starting after a weekend or a holiday
//! still finds the last session's bars; the newest `count` bars are kept.
//! A bar that has not ended by `end` (the minute in progress) is left out:
//! its live bar follows. Failures are per symbol; they never fail the others.
//!
//! [`timing`] times warm-ups for `liu-engine bench-warmup`.

use std::collections::HashMap;

use serde::Deserialize;

use crate::alpaca::AlpacaFeed;
use crate::rest::{AlpacaBar, Api, Client, RestError, path_segment};
use liu_core::domain::{Bar, NANOS_PER_SECOND, Timeframe, Timestamp};
use liu_core::time::{format_rfc3339, parse_rfc3339};

pub mod timing;

/// Calendar days searched beyond the bars wanted: a long weekend.
pub const LOOKBACK_DAYS: i64 = 4;
/// Alpaca's largest page.
const ALPACA_PAGE: usize = 10_000;
/// Symbols per Alpaca request (the query string stays short).
const ALPACA_SYMBOLS_PER_REQUEST: usize = 100;
/// Polygon's largest page.
const POLYGON_PAGE: usize = 50_000;
/// Polygon requests in flight at once (one per ticker).
const POLYGON_CONCURRENCY: usize = 8;

/// What a warm-up asks for: the newest `count` minute bars of each symbol
/// that ended by `end` (ns since the epoch).
#[derive(Clone, Debug)]
pub struct HistoryRequest<'a> {
    pub symbols: &'a [String],
    pub end: Timestamp,
    pub count: usize,
    /// Alpaca's data feed; `None` leaves it to the account.
    pub feed: Option<AlpacaFeed>,
}

impl HistoryRequest<'_> {
    /// The oldest bar start the window holds.
    pub fn start(&self) -> Timestamp {
        let minute = Timeframe::Minute.nanos();
        self.end - self.count as i64 * minute - LOOKBACK_DAYS * 86_400 * NANOS_PER_SECOND
    }

    /// Sorts, removes repeats and unfinished bars, and keeps the newest `count`.
    fn keep_newest(&self, mut bars: Vec<Bar>) -> Vec<Bar> {
        let minute = Timeframe::Minute.nanos();
        bars.retain(|b| b.time + minute <= self.end && b.time >= self.start());
        bars.sort_by_key(|b| b.time);
        bars.dedup_by_key(|b| b.time);
        let excess = bars.len().saturating_sub(self.count);
        bars.drain(..excess);
        bars
    }
}

/// Each symbol's bars, oldest first, or why it has none.
pub type History = Vec<(String, Result<Vec<Bar>, RestError>)>;

/// Fetches `request` from the client's provider.
pub async fn recent_minute_bars(client: &Client, request: &HistoryRequest<'_>) -> History {
    if request.symbols.is_empty() || request.count == 0 {
        return request.symbols.iter().map(|s| (s.clone(), Ok(Vec::new()))).collect();
    }
    match client.api() {
        Api::Alpaca { .. } => {
            let mut all = Vec::with_capacity(request.symbols.len());
            for chunk in request.symbols.chunks(ALPACA_SYMBOLS_PER_REQUEST) {
                all.extend(alpaca(client, request, chunk).await);
            }
            all
        }
        Api::Polygon { .. } => {
            let mut all = Vec::with_capacity(request.symbols.len());
            for chunk in request.symbols.chunks(POLYGON_CONCURRENCY) {
                let results = futures_util::future::join_all(chunk.iter().map(|symbol| polygon(client, request, symbol))).await;
                all.extend(chunk.iter().cloned().zip(results));
            }
            all
        }
    }
}

#[derive(Deserialize)]
struct AlpacaPage {
    /// `{}` or `null` when the window holds no bars.
    bars: Option<HashMap<String, Vec<AlpacaBar>>>,
    next_page_token: Option<String>,
}

async fn alpaca(client: &Client, request: &HistoryRequest<'_>, symbols: &[String]) -> History {
    let label = symbols.join(",");
    let mut query = vec![
        ("symbols", label.clone()),
        ("timeframe", "1Min".to_owned()),
        ("start", format_rfc3339(request.start())),
        ("end", format_rfc3339(request.end)),
        ("limit", ALPACA_PAGE.to_string()),
        ("adjustment", "raw".to_owned()),
    ];
    if let Some(feed) = request.feed {
        query.push(("feed", feed.as_str().to_owned()));
    }
    let mut bars: HashMap<String, Result<Vec<Bar>, RestError>> = symbols.iter().map(|s| (s.clone(), Ok(Vec::new()))).collect();
    let mut token: Option<String> = None;
    loop {
        let mut page_query = query.clone();
        if let Some(t) = &token {
            page_query.push(("page_token", t.clone()));
        }
        let url = match client.url("v2/stocks/bars", &page_query) {
            Ok(url) => url,
            Err(e) => return fail_all(symbols, &e),
        };
        let page: AlpacaPage = match client.get(&label, &url).await {
            Ok(page) => page,
            Err(e) => return fail_all(symbols, &e),
        };
        for (symbol, page_bars) in page.bars.unwrap_or_default() {
            let Some(Ok(kept)) = bars.get_mut(&symbol) else { continue };
            for b in page_bars {
                match parse_rfc3339(&b.t) {
                    Some(time) => kept.push(Bar { time, open: b.o, high: b.h, low: b.l, close: b.c, volume: b.v }),
                    None => {
                        let message = format!("bar time `{}` is not RFC 3339", b.t);
                        bars.insert(symbol.clone(), Err(RestError::Decode { symbol: symbol.clone(), url: url.to_string(), message }));
                        break;
                    }
                }
            }
        }
        match page.next_page_token.filter(|t| !t.is_empty()) {
            Some(next) if token.as_deref() != Some(&next) => token = Some(next),
            _ => break,
        }
    }
    symbols
        .iter()
        .map(|s| {
            let result = bars.remove(s).unwrap_or_else(|| Ok(Vec::new())).map(|b| request.keep_newest(b));
            (s.clone(), result)
        })
        .collect()
}

/// The same error for every symbol of a failed request.
fn fail_all(symbols: &[String], error: &RestError) -> History {
    let message = error.to_string();
    symbols.iter().map(|s| (s.clone(), Err(RestError::ForSymbols { symbol: s.clone(), message: message.clone() }))).collect()
}

async fn polygon(client: &Client, request: &HistoryRequest<'_>, symbol: &str) -> Result<Vec<Bar>, RestError> {
    let to_millis = |t: Timestamp| (t.div_euclid(1_000_000)).to_string();
    let path = format!("v2/aggs/ticker/{}/range/1/minute/{}/{}", path_segment(symbol), to_millis(request.start()), to_millis(request.end));
    // One more than wanted: the newest may be the minute still in progress.
    let wanted = request.count + 1;
    let query = [("adjusted", "true".to_owned()), ("sort", "desc".to_owned()), ("limit", wanted.min(POLYGON_PAGE).to_string())];
    let first = client.url(&path, &query)?;
    let mut bars = Vec::new();
    client
        .polygon_aggs(symbol, &first, |_, aggs| {
            bars.extend(aggs.iter().map(|b| Bar { time: b.t * 1_000_000, open: b.o, high: b.h, low: b.l, close: b.c, volume: b.v }));
            Ok(bars.len() < wanted)
        })
        .await?;
    Ok(request.keep_newest(bars))
}

#[cfg(test)]
mod tests;
