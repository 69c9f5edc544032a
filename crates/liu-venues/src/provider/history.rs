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

use std::collections::HashMap;

use serde::Deserialize;

use crate::provider::alpaca::{format_rfc3339, parse_rfc3339};
use crate::rest::{AlpacaBar, Api, Client, PolygonAggs, RestError, next_page, path_segment};
use liu_core::domain::{Bar, NANOS_PER_SECOND, Timeframe, Timestamp};

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
    /// Alpaca's data feed (`iex`, `sip`); `None` leaves it to the account.
    pub feed: Option<&'a str>,
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
        query.push(("feed", feed.to_owned()));
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
    let mut url = first.clone();
    let mut bars = Vec::new();
    let mut seen = std::collections::HashSet::new();
    loop {
        let page: PolygonAggs = client.get(symbol, &url).await?;
        let next = page.next_url.clone();
        bars.extend(page.into_results(symbol, &url)?.iter().map(|b| Bar {
            time: b.t * 1_000_000,
            open: b.o,
            high: b.h,
            low: b.l,
            close: b.c,
            volume: b.v,
        }));
        match next.filter(|n| !n.is_empty()) {
            Some(next) if bars.len() < wanted => url = next_page(symbol, &first, &url, &next, &mut seen)?,
            _ => break,
        }
    }
    Ok(request.keep_newest(bars))
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use axum::Router;
    use reqwest::Url;

    use super::*;
    use liu_sim::standin::market_rest::{self, MinuteHistory};

    async fn serve(app: Router) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    }

    fn alpaca_client(addr: SocketAddr) -> Client {
        Client::new(Api::Alpaca { base_url: Url::parse(&format!("http://{addr}/")).unwrap(), key: "AK".into(), secret: "SK".into() })
            .unwrap()
    }

    fn polygon_client(addr: SocketAddr) -> Client {
        Client::new(Api::Polygon { base_url: Url::parse(&format!("http://{addr}/")).unwrap(), api_key: "PK".into() }).unwrap()
    }

    /// Three symbols of 4000 minute bars each (more than one Alpaca page of
    /// 10000 across symbols), the last ending at minute 100000.
    fn minutes() -> MinuteHistory {
        ["AAA", "BBB", "CCC"]
            .iter()
            .enumerate()
            .map(|(i, s)| (s.to_string(), (96_000..100_000).map(|m| Bar { close: (m * 10 + i as i64) as f64, ..bar(m) }).collect()))
            .collect()
    }

    #[tokio::test]
    async fn both_providers_rest_bars_give_the_newest_minutes_across_pages() {
        let history = minutes();
        let addr =
            serve(market_rest::router(Default::default(), history.clone(), Some("AK".into()), Some("SK".into()), Some("PK".into()))).await;
        let symbols = vec!["AAA".to_owned(), "BBB".to_owned(), "CCC".to_owned(), "NONE".to_owned()];
        // At 99_999:30 the bar of minute 99_999 has not ended: the newest is 99_998.
        let end = (99_999 * 60 + 30) * NANOS_PER_SECOND;
        let request = HistoryRequest { symbols: &symbols, end, count: 3_500, feed: None };
        let alpaca = recent_minute_bars(&alpaca_client(addr), &request).await;
        let polygon = recent_minute_bars(&polygon_client(addr), &request).await;
        for (dialect, got) in [("alpaca", alpaca), ("polygon", polygon)] {
            for (symbol, result) in got {
                match history.get(&symbol) {
                    Some(all) => {
                        let bars = result.unwrap_or_else(|e| panic!("{dialect} {symbol}: {e}"));
                        assert_eq!(bars.as_slice(), &all[all.len() - 3_501..all.len() - 1], "{dialect} {symbol}");
                    }
                    // Alpaca leaves an unknown symbol out; Polygon answers 404.
                    None if dialect == "alpaca" => assert!(result.unwrap().is_empty()),
                    None => assert!(result.unwrap_err().to_string().contains("NONE"), "{dialect}"),
                }
            }
        }
    }

    #[tokio::test]
    async fn an_answer_that_is_not_the_documented_json_fails_its_symbols_with_the_url() {
        use axum::routing::get;
        let app = Router::new()
            .route(
                "/v2/stocks/bars",
                get(|| async { r#"{"bars": {"AAA": [{"t": "yesterday", "o": 1, "h": 1, "l": 1, "c": 1, "v": 1}]}}"# }),
            )
            .route("/v2/aggs/ticker/{t}/range/1/minute/{from}/{to}", get(|| async { "<html>maintenance</html>" }));
        let addr = serve(app).await;
        let symbols = vec!["AAA".to_owned()];
        let request = HistoryRequest { symbols: &symbols, end: 100 * 60 * NANOS_PER_SECOND, count: 10, feed: None };
        let (_, alpaca) = recent_minute_bars(&alpaca_client(addr), &request).await.remove(0);
        let shown = alpaca.unwrap_err().to_string();
        assert!(shown.contains("AAA") && shown.contains("/v2/stocks/bars") && shown.contains("`yesterday`"), "{shown}");
        let (_, polygon) = recent_minute_bars(&polygon_client(addr), &request).await.remove(0);
        let shown = polygon.unwrap_err().to_string();
        assert!(shown.contains("AAA") && shown.contains("/range/1/minute/") && shown.contains("not the documented JSON"), "{shown}");
        assert!(!shown.contains("PK"), "no key in errors: {shown}");
    }

    fn bar(minute: i64) -> Bar {
        Bar { time: minute * 60 * NANOS_PER_SECOND, open: 1.0, high: 1.0, low: 1.0, close: minute as f64, volume: 1.0 }
    }

    #[test]
    fn keeps_the_newest_finished_bars_in_order_once_each() {
        let symbols = vec!["A".to_owned()];
        let request = HistoryRequest { symbols: &symbols, end: 100 * 60 * NANOS_PER_SECOND + 5, count: 3, feed: None };
        // Minute 100 has not ended at `end`; 97 comes twice; they arrive newest first.
        let kept = request.keep_newest(vec![bar(100), bar(99), bar(98), bar(97), bar(97), bar(96)]);
        assert_eq!(kept.iter().map(|b| b.close).collect::<Vec<_>>(), vec![97.0, 98.0, 99.0]);
    }

    #[test]
    fn the_window_reaches_back_the_bars_wanted_and_a_long_weekend() {
        let symbols = vec!["A".to_owned()];
        let request = HistoryRequest { symbols: &symbols, end: 10_000 * 60 * NANOS_PER_SECOND, count: 390, feed: None };
        assert_eq!(request.end - request.start(), (390 * 60 + LOOKBACK_DAYS * 86_400) * NANOS_PER_SECOND);
    }
}
