//! Stand-ins for the two REST snapshot endpoints the momentum scanner reads:
//! Polygon's full-market snapshot and Alpaca's multi-symbol snapshots, served
//! from the [`Board`] in the providers' documented JSON.
//!
//! What the board does not know is filled with fixed stand-in values: trade
//! sizes of 100, quotes of size 1 at the last price on both sides, minute
//! VWAPs at the close, Alpaca's IEX exchange code, tape C, trade id 0 and
//! trade counts of 0. The board keeps no date for its previous day, so
//! Alpaca's `prevDailyBar.t` is the previous weekday.

use liu_core::time::format_timestamp;
use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, SecondsFormat, TimeZone, Utc, Weekday};
use chrono_tz::America::New_York;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Board, DayAggregate, SymbolBoard};
use liu_core::domain::{Bar, Timestamp};
use liu_venues::alpaca::{KEY_ID_HEADER, SECRET_KEY_HEADER};

const NANOS_PER_MILLI: i64 = 1_000_000;

/// Polygon's `GET /v2/snapshot/locale/us/markets/stocks/tickers`. With
/// `api_key`, requests must carry it as the `apiKey` query parameter.
pub fn polygon_router(board: Arc<Board>, api_key: Option<String>) -> Router {
    Router::new()
        .route("/v2/snapshot/locale/us/markets/stocks/tickers", get(polygon_tickers))
        .with_state(PolygonState { board, api_key: api_key.map(Arc::from) })
}

/// Alpaca's `GET /v2/stocks/snapshots`. With `key` or `secret`, requests must
/// carry them in `APCA-API-KEY-ID` and `APCA-API-SECRET-KEY`.
pub fn alpaca_data_router(board: Arc<Board>, key: Option<String>, secret: Option<String>) -> Router {
    Router::new().route("/v2/stocks/snapshots", get(alpaca_snapshots)).with_state(AlpacaState {
        board,
        key: key.map(Arc::from),
        secret: secret.map(Arc::from),
    })
}

#[derive(Clone)]
struct PolygonState {
    board: Arc<Board>,
    api_key: Option<Arc<str>>,
}

#[derive(Deserialize)]
struct PolygonQuery {
    #[serde(rename = "apiKey")]
    api_key: Option<String>,
    /// Comma-separated, case-sensitive; absent or empty: every ticker.
    tickers: Option<String>,
}

async fn polygon_tickers(State(state): State<PolygonState>, Query(query): Query<PolygonQuery>) -> Response {
    if let Some(expected) = &state.api_key {
        let error = match query.api_key.as_deref() {
            None | Some("") => Some("API Key was not provided"),
            Some(given) if given != &**expected => Some("Unknown API Key"),
            Some(_) => None,
        };
        if let Some(error) = error {
            let request_id = uuid::Uuid::new_v4().simple().to_string();
            let body = json!({ "status": "ERROR", "request_id": request_id, "error": error });
            return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
        }
    }
    let wanted: Vec<&str> = query.tickers.as_deref().unwrap_or_default().split(',').filter(|t| !t.is_empty()).collect();
    let tickers: Vec<Value> = state
        .board
        .all()
        .iter()
        .filter(|(symbol, _)| wanted.is_empty() || wanted.contains(&symbol.as_str()))
        .map(|(symbol, board)| polygon_ticker(symbol, board))
        .collect();
    Json(json!({ "status": "OK", "count": tickers.len(), "tickers": tickers })).into_response()
}

/// One ticker of Polygon's snapshot; a symbol without a previous day gets a
/// `prevDay` of zeros and no change. `updated` and the trade and quote times
/// are in nanoseconds, `min.t` in milliseconds.
fn polygon_ticker(symbol: &str, board: &SymbolBoard) -> Value {
    let prev = board.prev_day.unwrap_or_default();
    let (last, prev_close) = (board.last_price, prev.bar.close);
    let (change, change_pct) = if prev_close > 0.0 { (last - prev_close, (last / prev_close - 1.0) * 100.0) } else { (0.0, 0.0) };
    let mut ticker = json!({
        "ticker": symbol,
        "todaysChange": change,
        "todaysChangePerc": change_pct,
        "updated": board.updated,
        "day": polygon_day(&board.day),
        "prevDay": polygon_day(&prev),
        "lastTrade": { "p": last, "s": 100, "t": board.updated },
        "lastQuote": { "P": last, "S": 1, "p": last, "s": 1, "t": board.updated },
    });
    if let Some(bar) = &board.last_bar {
        ticker["min"] = json!({
            "av": board.day.bar.volume,
            "t": bar.time / NANOS_PER_MILLI,
            "o": bar.open, "h": bar.high, "l": bar.low, "c": bar.close, "v": bar.volume, "vw": bar.close,
        });
    }
    ticker
}

fn polygon_day(day: &DayAggregate) -> Value {
    let bar = &day.bar;
    json!({ "o": bar.open, "h": bar.high, "l": bar.low, "c": bar.close, "v": bar.volume, "vw": day.vwap })
}

#[derive(Clone)]
struct AlpacaState {
    board: Arc<Board>,
    key: Option<Arc<str>>,
    secret: Option<Arc<str>>,
}

#[derive(Deserialize)]
struct AlpacaQuery {
    /// Comma-separated; required.
    symbols: Option<String>,
}

async fn alpaca_snapshots(State(state): State<AlpacaState>, headers: HeaderMap, Query(query): Query<AlpacaQuery>) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let authorized = state.key.as_deref().is_none_or(|k| header(KEY_ID_HEADER) == Some(k))
        && state.secret.as_deref().is_none_or(|s| header(SECRET_KEY_HEADER) == Some(s));
    if !authorized {
        let body = json!({ "code": 40110000, "message": "request is not authorized" });
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    let symbols: Vec<&str> = query.symbols.as_deref().unwrap_or_default().split(',').filter(|s| !s.is_empty()).collect();
    if symbols.is_empty() {
        let body = json!({ "code": 40010001, "message": "symbols is required" });
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    let snapshots: BTreeMap<&str, Value> = symbols.into_iter().filter_map(|s| Some((s, alpaca_snapshot(&state.board.get(s)?)))).collect();
    Json(snapshots).into_response()
}

/// One symbol's Alpaca snapshot; `prevDailyBar` is omitted when the board has
/// no previous day. Times are RFC 3339.
fn alpaca_snapshot(board: &SymbolBoard) -> Value {
    let at = format_timestamp(board.updated);
    let last = board.last_price;
    let mut snapshot = json!({
        "latestTrade": { "t": at, "x": "V", "p": last, "s": 100, "c": ["@"], "i": 0, "z": "C" },
        "latestQuote": {
            "t": at, "ax": "V", "ap": last, "as": 1, "bx": "V", "bp": last, "bs": 1, "c": ["R"], "z": "C",
        },
        "dailyBar": alpaca_day(&board.day, session_start(board.updated, false)),
    });
    if let Some(bar) = &board.last_bar {
        snapshot["minuteBar"] = alpaca_minute(bar);
    }
    if let Some(prev) = &board.prev_day {
        snapshot["prevDailyBar"] = alpaca_day(prev, session_start(board.updated, true));
    }
    snapshot
}

fn alpaca_day(day: &DayAggregate, t: String) -> Value {
    let bar = &day.bar;
    json!({
        "t": t, "o": bar.open, "h": bar.high, "l": bar.low, "c": bar.close,
        "v": bar.volume.round() as i64, "n": 0, "vw": day.vwap,
    })
}

fn alpaca_minute(bar: &Bar) -> Value {
    json!({
        "t": format_timestamp(bar.time), "o": bar.open, "h": bar.high, "l": bar.low, "c": bar.close,
        "v": bar.volume.round() as i64, "n": 0, "vw": bar.close,
    })
}

/// New York midnight, in UTC, of the day of `time`, or of the weekday before it.
fn session_start(time: Timestamp, previous_weekday: bool) -> String {
    let mut date = DateTime::from_timestamp_nanos(time).with_timezone(&New_York).date_naive();
    if previous_weekday {
        let weekday = |d: &NaiveDate| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
        date = date.iter_days().rev().skip(1).find(weekday).unwrap_or(date);
    }
    let midnight = date.and_time(NaiveTime::MIN);
    let utc = New_York.from_local_datetime(&midnight).earliest().map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc));
    utc.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests;
