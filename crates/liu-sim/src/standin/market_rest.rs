//! Stand-ins for the providers' historical and reference REST endpoints the
//! miners and the live warm-up read, in their documented JSON: Alpaca's
//! `GET /v2/stocks/{symbol}/bars` (daily bars) and `GET /v2/stocks/bars`
//! (minute bars of several symbols), Polygon's
//! `GET /v2/aggs/ticker/{ticker}/range/1/{day|minute}/{from}/{to}`,
//! `GET /v3/reference/tickers/{ticker}` and
//! `GET /v1/related-companies/{ticker}`. (Alpaca's `GET /v2/assets/{symbol}`
//! is the trading stand-in's.)
//!
//! Bars are the whole daily history of the data the simulator replays
//! (see [`liu_data::daily::daily_bars`]), known from the start rather
//! than as the replay reaches them, each stamped with New York midnight as
//! the real services do. Like them, the stand-in answers 401 without the
//! configured credentials and 404 for a symbol it does not know (where
//! Polygon's aggregates answer an empty 200). Differences, on purpose:
//! - pages hold at most [`MAX_PAGE`] bars (the real limits are 10000 and
//!   50000), so that clients' pagination is exercised; page tokens and
//!   cursors are the date of the next page's first bar;
//! - daily bars (`1Day`, `1/day`) are served per symbol, split-adjusted or
//!   not alike (the data has no splits); minute bars (`1Min`, `1/minute`)
//!   are the simulator's warm-up history (`simulate --history-bars`), served
//!   as the real services page them: Alpaca's several-symbol endpoint
//!   "sorted by symbol first then by bar timestamp", at most `limit` bars
//!   of all symbols a page (its real limits: default 1000, at most 10000),
//!   with an opaque `next_page_token`; Polygon's per ticker with `next_url`;
//! - the reference data is made up from the symbol: name `<SYMBOL> Corp.`,
//!   SIC 7372 (prepackaged software), primary exchange XNAS, type CS; the
//!   related companies are the other symbols of the data, at most 10;
//! - trade counts are 0 and VWAPs the bar's typical price.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::America::New_York;
use serde::Deserialize;
use serde_json::{Value, json};

use liu_core::domain::DailyBar;
use liu_core::domain::{Bar, Timestamp};
use liu_venues::alpaca::trading::error_code;
use liu_venues::alpaca::{KEY_ID_HEADER, SECRET_KEY_HEADER};

/// Most bars per page.
pub const MAX_PAGE: usize = 100;
/// Alpaca's default and largest `limit`.
const ALPACA_DEFAULT_LIMIT: usize = 1000;
const ALPACA_MAX_LIMIT: usize = 10_000;
/// Polygon's default and largest `limit`.
const POLYGON_DEFAULT_LIMIT: usize = 5000;
const POLYGON_MAX_LIMIT: usize = 50_000;
/// Most related companies listed.
const MAX_RELATED: usize = 10;

/// Daily bars per symbol, in date order.
pub type History = BTreeMap<String, Vec<DailyBar>>;
/// Minute bars per symbol, in time order.
pub type MinuteHistory = BTreeMap<String, Vec<Bar>>;

#[derive(Clone)]
struct MarketRest {
    history: Arc<History>,
    minutes: Arc<MinuteHistory>,
    key: Option<Arc<str>>,
    secret: Option<Arc<str>>,
    polygon_key: Option<Arc<str>>,
}

/// The routes, serving `history` (daily) and `minutes`. Alpaca requests
/// must carry `key` and `secret` (when set) in `APCA-API-KEY-ID` /
/// `APCA-API-SECRET-KEY`, Polygon requests `polygon_key` (when set) as `apiKey`.
pub fn router(
    history: History,
    minutes: MinuteHistory,
    key: Option<String>,
    secret: Option<String>,
    polygon_key: Option<String>,
) -> Router {
    Router::new()
        .route("/v2/stocks/bars", get(alpaca_minute_bars))
        .route("/v2/stocks/{symbol}/bars", get(alpaca_bars))
        .route("/v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{from}/{to}", get(polygon_aggs))
        .route("/v3/reference/tickers/{ticker}", get(polygon_ticker))
        .route("/v1/related-companies/{ticker}", get(polygon_related))
        .with_state(MarketRest {
            history: Arc::new(history),
            minutes: Arc::new(minutes),
            key: key.map(Arc::from),
            secret: secret.map(Arc::from),
            polygon_key: polygon_key.map(Arc::from),
        })
}

/// New York midnight of `date`, in UTC: the time of a daily bar.
fn bar_time(date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_time(NaiveTime::MIN);
    New_York.from_local_datetime(&midnight).earliest().map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
}

/// A volume as an integer when it is one (Alpaca's are), else as is.
fn volume(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9e15 { json!(v as i64) } else { json!(v) }
}

fn typical_price(bar: &DailyBar) -> f64 {
    (bar.high + bar.low + bar.close) / 3.0
}

// ---------------------------------------------------------------------------
// Alpaca
// ---------------------------------------------------------------------------

fn alpaca_error(status: StatusCode, code: u64, message: impl Into<String>) -> Response {
    (status, Json(json!({ "code": code, "message": message.into() }))).into_response()
}

fn unprocessable(message: impl Into<String>) -> Response {
    alpaca_error(StatusCode::UNPROCESSABLE_ENTITY, error_code::UNPROCESSABLE, message)
}

/// The query of Alpaca's bars endpoints (`symbols` for the several-symbol one).
#[derive(Deserialize)]
struct AlpacaBarsQuery {
    symbols: Option<String>,
    timeframe: Option<String>,
    start: Option<String>,
    end: Option<String>,
    limit: Option<String>,
    page_token: Option<String>,
    sort: Option<String>,
}

/// An RFC 3339 time or a date (its UTC midnight), as Alpaca accepts.
fn alpaca_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| text.parse::<NaiveDate>().ok().map(|d| d.and_time(NaiveTime::MIN).and_utc()))
}

/// Alpaca's check of the credential headers, as its error response.
fn alpaca_refusal(state: &MarketRest, headers: &HeaderMap) -> Option<Response> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let authorized = state.key.as_deref().is_none_or(|k| header(KEY_ID_HEADER) == Some(k))
        && state.secret.as_deref().is_none_or(|s| header(SECRET_KEY_HEADER) == Some(s));
    (!authorized).then(|| alpaca_error(StatusCode::UNAUTHORIZED, error_code::UNAUTHORIZED, "request is not authorized"))
}

fn time_of(t: Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(t)
}

/// `GET /v2/stocks/bars`: minute bars of several symbols, sorted by symbol
/// then time, `limit` bars a page across symbols. The page token is opaque
/// to clients: here the symbol and time of the next page's first bar.
async fn alpaca_minute_bars(State(state): State<MarketRest>, headers: HeaderMap, Query(query): Query<AlpacaBarsQuery>) -> Response {
    if let Some(refusal) = alpaca_refusal(&state, &headers) {
        return refusal;
    }
    let symbols: Vec<&str> = match query.symbols.as_deref() {
        Some(list) if !list.trim().is_empty() => list.split(',').map(str::trim).filter(|s| !s.is_empty()).collect(),
        _ => return unprocessable("symbols is required"),
    };
    let AlpacaWindow { start, end, limit, descending } = match alpaca_window(&query, &["1Min", "1T"], "1Min bars here") {
        Ok(window) => window,
        Err(response) => return response,
    };
    let token = match query.page_token.as_deref() {
        None => None,
        Some(t) => match t.rsplit_once(':').and_then(|(s, time)| Some((s.to_owned(), time.parse::<Timestamp>().ok()?))) {
            Some(position) => Some(position),
            None => return unprocessable("invalid page_token"),
        },
    };
    let mut sorted = symbols.clone();
    sorted.sort_unstable();
    sorted.dedup();
    let in_range = |b: &&Bar| {
        let t = time_of(b.time);
        start.is_none_or(|s| t >= s) && end.is_none_or(|e| t <= e)
    };
    let mut all = sorted.iter().flat_map(|symbol| {
        let bars: Vec<&Bar> = state.minutes.get(*symbol).map(|b| b.iter().filter(in_range).collect()).unwrap_or_default();
        let ordered: Box<dyn Iterator<Item = &Bar>> =
            if descending { Box::new(bars.into_iter().rev()) } else { Box::new(bars.into_iter()) };
        ordered.map(move |b| (*symbol, b))
    });
    if let Some((symbol, time)) = &token {
        let after = |(s, b): &(&str, &Bar)| (*s, b.time) != (symbol.as_str(), *time);
        let mut skipped = all.by_ref().skip_while(after).peekable();
        let page: Vec<(&str, &Bar)> = skipped.by_ref().take(limit).collect();
        let next = skipped.next();
        return minute_page(&page, next);
    }
    let page: Vec<(&str, &Bar)> = all.by_ref().take(limit).collect();
    let next = all.next();
    minute_page(&page, next)
}

fn minute_page(page: &[(&str, &Bar)], next: Option<(&str, &Bar)>) -> Response {
    let mut bars = serde_json::Map::new();
    for (symbol, b) in page {
        let list = bars.entry(symbol.to_string()).or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = list {
            list.push(json!({
                "t": time_of(b.time).to_rfc3339_opts(SecondsFormat::Secs, true),
                "o": b.open, "h": b.high, "l": b.low, "c": b.close, "v": volume(b.volume),
                "n": 0, "vw": (b.high + b.low + b.close) / 3.0,
            }));
        }
    }
    Json(json!({ "bars": bars, "next_page_token": next.map(|(s, b)| format!("{s}:{}", b.time)) })).into_response()
}

/// What an Alpaca bars request asks for besides its symbols.
struct AlpacaWindow {
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    limit: usize,
    descending: bool,
}

/// Reads `timeframe` (one of `timeframes`, which the stand-in serves as
/// `served`), `start`, `end`, `limit` and `sort` as Alpaca checks them: a
/// bad one gets its 422.
#[allow(clippy::result_large_err)] // the error is the response itself
fn alpaca_window(query: &AlpacaBarsQuery, timeframes: &[&str], served: &str) -> Result<AlpacaWindow, Response> {
    match query.timeframe.as_deref() {
        Some(tf) if timeframes.contains(&tf) => {}
        Some(_) => return Err(unprocessable(format!("invalid timeframe (the stand-in serves {served})"))),
        None => return Err(unprocessable("timeframe is required")),
    }
    let bound = |text: &Option<String>, name: &str| match text.as_deref() {
        None => Ok(None),
        Some(t) => alpaca_time(t).map(Some).ok_or_else(|| unprocessable(format!("invalid {name}"))),
    };
    let (start, end) = (bound(&query.start, "start")?, bound(&query.end, "end")?);
    let limit = match query.limit.as_deref().map(str::parse::<usize>) {
        None => ALPACA_DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=ALPACA_MAX_LIMIT).contains(&n) => n,
        Some(_) => return Err(unprocessable("invalid limit")),
    };
    let descending = match query.sort.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(unprocessable("invalid sort")),
    };
    Ok(AlpacaWindow { start, end, limit, descending })
}

async fn alpaca_bars(
    State(state): State<MarketRest>,
    headers: HeaderMap,
    Path(symbol): Path<String>,
    Query(query): Query<AlpacaBarsQuery>,
) -> Response {
    if let Some(refusal) = alpaca_refusal(&state, &headers) {
        return refusal;
    }
    let AlpacaWindow { start, end, limit, descending } = match alpaca_window(&query, &["1Day", "1D"], "1Day bars only") {
        Ok(window) => window,
        Err(response) => return response,
    };
    let Some(bars) = state.history.get(&symbol) else {
        return alpaca_error(StatusCode::NOT_FOUND, error_code::NOT_FOUND, format!("symbol not found: {symbol}"));
    };
    let token = match query.page_token.as_deref().map(str::parse::<NaiveDate>) {
        None => None,
        Some(Ok(date)) => Some(date),
        Some(Err(_)) => return unprocessable("invalid page_token"),
    };
    let in_range = |b: &&DailyBar| {
        let t = bar_time(b.date);
        start.is_none_or(|s| t >= s) && end.is_none_or(|e| t <= e)
    };
    let (page, next) = page(bars.iter().filter(in_range), descending, token, limit.min(MAX_PAGE));
    let bars: Vec<Value> = page
        .iter()
        .map(|b| {
            json!({
                "t": bar_time(b.date).to_rfc3339_opts(SecondsFormat::Secs, true),
                "o": b.open, "h": b.high, "l": b.low, "c": b.close, "v": volume(b.volume),
                "n": 0, "vw": typical_price(b),
            })
        })
        .collect();
    Json(json!({ "bars": bars, "symbol": symbol, "next_page_token": next.map(|d| d.to_string()) })).into_response()
}

/// One page of `bars` (in date order) sorted as asked, starting at the bar
/// dated `from` (a token from an earlier page), and the date starting the
/// next page.
fn page<'a>(
    bars: impl DoubleEndedIterator<Item = &'a DailyBar>,
    descending: bool,
    from: Option<NaiveDate>,
    size: usize,
) -> (Vec<&'a DailyBar>, Option<NaiveDate>) {
    let ordered: Vec<&DailyBar> = if descending { bars.rev().collect() } else { bars.collect() };
    let rest: Vec<&DailyBar> = match from {
        Some(d) => ordered.into_iter().skip_while(|b| if descending { b.date > d } else { b.date < d }).collect(),
        None => ordered,
    };
    let next = rest.get(size).map(|b| b.date);
    (rest.into_iter().take(size).collect(), next)
}

// ---------------------------------------------------------------------------
// Polygon
// ---------------------------------------------------------------------------

fn request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn polygon_error(status: StatusCode, text: &str) -> Response {
    let body = if status == StatusCode::NOT_FOUND {
        json!({ "status": "NOT_FOUND", "request_id": request_id(), "message": text })
    } else {
        json!({ "status": "ERROR", "request_id": request_id(), "error": text })
    };
    (status, Json(body)).into_response()
}

/// Polygon's check of the `apiKey` parameter, as its error response.
fn polygon_refusal(state: &MarketRest, given: Option<&str>) -> Option<Response> {
    let expected = state.polygon_key.as_deref()?;
    let error = match given {
        None | Some("") => "API Key was not provided",
        Some(key) if key != expected => "Unknown API Key",
        Some(_) => return None,
    };
    Some(polygon_error(StatusCode::UNAUTHORIZED, error))
}

#[derive(Deserialize)]
struct PolygonAuth {
    #[serde(rename = "apiKey")]
    api_key: Option<String>,
}

#[derive(Deserialize)]
struct PolygonAggsQuery {
    #[serde(rename = "apiKey")]
    api_key: Option<String>,
    adjusted: Option<String>,
    sort: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// A date or a millisecond timestamp, as Polygon accepts for `from`/`to`.
fn polygon_time(text: &str) -> Option<DateTime<Utc>> {
    match text.parse::<NaiveDate>() {
        Ok(date) => Some(bar_time(date)),
        Err(_) => DateTime::from_timestamp_millis(text.parse().ok()?),
    }
}

async fn polygon_aggs(
    State(state): State<MarketRest>,
    headers: HeaderMap,
    Path((ticker, multiplier, timespan, from, to)): Path<(String, String, String, String, String)>,
    Query(query): Query<PolygonAggsQuery>,
) -> Response {
    if let Some(refusal) = polygon_refusal(&state, query.api_key.as_deref()) {
        return refusal;
    }
    let bad = |text: &str| polygon_error(StatusCode::BAD_REQUEST, text);
    if multiplier != "1" || !matches!(timespan.as_str(), "day" | "minute") {
        return bad("the stand-in serves 1/day and 1/minute aggregates only");
    }
    let (Some(start), Some(end)) = (polygon_time(&from), polygon_time(&to)) else {
        return bad("from and to must be dates (YYYY-MM-DD) or millisecond timestamps");
    };
    let limit = match query.limit.as_deref().map(str::parse::<usize>) {
        None => POLYGON_DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=POLYGON_MAX_LIMIT).contains(&n) => n,
        Some(_) => return bad("limit must be between 1 and 50000"),
    };
    let descending = match query.sort.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return bad("sort must be asc or desc"),
    };
    let adjusted = query.adjusted.as_deref() != Some("false");
    if timespan == "minute" {
        return polygon_minute_aggs(
            &state,
            &headers,
            &ticker,
            (&from, &to),
            (start, end),
            (limit, descending, adjusted),
            query.cursor.as_deref(),
        );
    }
    let Some(bars) = state.history.get(&ticker) else {
        return polygon_error(StatusCode::NOT_FOUND, "Ticker not found.");
    };
    let cursor = match query.cursor.as_deref().map(str::parse::<NaiveDate>) {
        None => None,
        Some(Ok(date)) => Some(date),
        Some(Err(_)) => return bad("invalid cursor"),
    };
    let in_range: Vec<&DailyBar> = bars.iter().filter(|b| (start..=end).contains(&bar_time(b.date))).collect();
    let (page, next) = page(in_range.iter().copied(), descending, cursor, limit.min(MAX_PAGE));
    let results: Vec<Value> = page
        .iter()
        .map(|b| {
            json!({
                "v": volume(b.volume), "vw": typical_price(b), "o": b.open, "c": b.close, "h": b.high, "l": b.low,
                "t": bar_time(b.date).timestamp_millis(), "n": 0,
            })
        })
        .collect();
    let mut body = json!({
        "ticker": ticker, "queryCount": in_range.len(), "resultsCount": results.len(), "adjusted": adjusted,
        "results": results, "status": "OK", "request_id": request_id(), "count": page.len(),
    });
    if let Some(next) = next {
        // Polygon's next_url is absolute and carries no key: the client adds it.
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
        let sort = if descending { "desc" } else { "asc" };
        body["next_url"] = json!(format!(
            "http://{host}/v2/aggs/ticker/{ticker}/range/1/day/{from}/{to}?cursor={next}&adjusted={adjusted}&sort={sort}&limit={limit}"
        ));
    }
    Json(body).into_response()
}

/// Minute aggregates of one ticker; the cursor is the next page's first
/// bar time (ns).
fn polygon_minute_aggs(
    state: &MarketRest,
    headers: &HeaderMap,
    ticker: &str,
    (from, to): (&str, &str),
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    (limit, descending, adjusted): (usize, bool, bool),
    cursor: Option<&str>,
) -> Response {
    let Some(bars) = state.minutes.get(ticker) else {
        return polygon_error(StatusCode::NOT_FOUND, "Ticker not found.");
    };
    let cursor = match cursor.map(str::parse::<Timestamp>) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(_)) => return polygon_error(StatusCode::BAD_REQUEST, "invalid cursor"),
    };
    let in_range: Vec<&Bar> = bars.iter().filter(|b| (start..=end).contains(&time_of(b.time))).collect();
    let ordered: Vec<&Bar> = if descending { in_range.iter().rev().copied().collect() } else { in_range.clone() };
    let rest: Vec<&Bar> = match cursor {
        Some(t) => ordered.into_iter().skip_while(|b| b.time != t).collect(),
        None => ordered,
    };
    let page = &rest[..rest.len().min(limit)];
    let results: Vec<Value> = page
        .iter()
        .map(|b| {
            json!({
                "v": volume(b.volume), "vw": (b.high + b.low + b.close) / 3.0, "o": b.open, "c": b.close, "h": b.high, "l": b.low,
                "t": b.time.div_euclid(1_000_000), "n": 0,
            })
        })
        .collect();
    let mut body = json!({
        "ticker": ticker, "queryCount": in_range.len(), "resultsCount": results.len(), "adjusted": adjusted,
        "results": results, "status": "OK", "request_id": request_id(), "count": page.len(),
    });
    if let Some(next) = rest.get(limit) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
        let sort = if descending { "desc" } else { "asc" };
        body["next_url"] = json!(format!(
            "http://{host}/v2/aggs/ticker/{ticker}/range/1/minute/{from}/{to}?cursor={}&adjusted={adjusted}&sort={sort}&limit={limit}",
            next.time
        ));
    }
    Json(body).into_response()
}

async fn polygon_ticker(State(state): State<MarketRest>, Path(ticker): Path<String>, Query(auth): Query<PolygonAuth>) -> Response {
    if let Some(refusal) = polygon_refusal(&state, auth.api_key.as_deref()) {
        return refusal;
    }
    let Some(bars) = state.history.get(&ticker) else {
        return polygon_error(StatusCode::NOT_FOUND, "Ticker not found.");
    };
    let results = json!({
        "ticker": ticker,
        "name": format!("{ticker} Corp."),
        "market": "stocks",
        "locale": "us",
        "primary_exchange": "XNAS",
        "type": "CS",
        "active": true,
        "currency_name": "usd",
        "description": format!("{ticker} Corp. is made up by liu-engine's stand-in from the bars it replays."),
        "sic_code": "7372",
        "sic_description": "SERVICES-PREPACKAGED SOFTWARE",
        "list_date": bars.first().map(|b| b.date.to_string()),
    });
    Json(json!({ "request_id": request_id(), "status": "OK", "results": results })).into_response()
}

async fn polygon_related(State(state): State<MarketRest>, Path(ticker): Path<String>, Query(auth): Query<PolygonAuth>) -> Response {
    if let Some(refusal) = polygon_refusal(&state, auth.api_key.as_deref()) {
        return refusal;
    }
    if !state.history.contains_key(&ticker) {
        return polygon_error(StatusCode::NOT_FOUND, "Ticker not found.");
    }
    let related: Vec<Value> = state.history.keys().filter(|t| **t != ticker).take(MAX_RELATED).map(|t| json!({ "ticker": t })).collect();
    Json(json!({ "request_id": request_id(), "status": "OK", "stock_symbol": ticker, "results": related })).into_response()
}

#[cfg(test)]
mod tests {
    use chrono::Datelike;

    use super::*;

    fn history() -> History {
        let bar = |d: u32| DailyBar {
            date: NaiveDate::from_ymd_opt(2024, 1, d).unwrap(),
            open: 10.0,
            high: 11.0,
            low: 9.0,
            close: 10.0 + f64::from(d),
            volume: 1000.0,
        };
        BTreeMap::from([("AAA".to_owned(), (1..=5).map(bar).collect()), ("BBB".to_owned(), vec![bar(2)])])
    }

    #[test]
    fn pages_start_at_the_token_in_either_order() {
        let h = history();
        let bars = &h["AAA"];
        let (first, next) = page(bars.iter(), false, None, 2);
        assert_eq!(first.iter().map(|b| b.date.day0() + 1).collect::<Vec<_>>(), [1, 2]);
        let (second, next) = page(bars.iter(), false, next, 2);
        assert_eq!(second.iter().map(|b| b.date.day0() + 1).collect::<Vec<_>>(), [3, 4]);
        let (last, next) = page(bars.iter(), false, next, 2);
        assert_eq!((last.len(), next), (1, None));
        let (down, next) = page(bars.iter(), true, None, 3);
        assert_eq!(down.iter().map(|b| b.date.day0() + 1).collect::<Vec<_>>(), [5, 4, 3]);
        assert_eq!(page(bars.iter(), true, next, 3).0.len(), 2);
    }

    #[test]
    fn daily_bars_are_stamped_new_york_midnight() {
        assert_eq!(bar_time(NaiveDate::from_ymd_opt(2024, 1, 2).unwrap()).to_rfc3339(), "2024-01-02T05:00:00+00:00");
        assert_eq!(bar_time(NaiveDate::from_ymd_opt(2024, 7, 2).unwrap()).to_rfc3339(), "2024-07-02T04:00:00+00:00");
        assert_eq!(volume(1000.0), json!(1000));
        assert_eq!(volume(0.5), json!(0.5));
    }
}
