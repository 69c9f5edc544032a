//! Stand-ins for the two REST snapshot endpoints the momentum scanner reads:
//! Polygon's full-market snapshot and Alpaca's multi-symbol snapshots, served
//! from the [`Board`] in the providers' documented JSON.
//!
//! What the board does not know is filled with fixed stand-in values: trade
//! sizes of 100, quotes of size 1 at the last price on both sides, minute
//! VWAPs at the close, Alpaca's IEX exchange code, tape C, trade id 0 and
//! trade counts of 0. The board keeps no date for its previous day, so
//! Alpaca's `prevDailyBar.t` is the previous weekday.

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

use super::{Board, DayBar, SymbolBoard};
use liu_core::domain::{Bar, Timestamp};
use liu_venues::alpaca_trading::{KEY_ID_HEADER, SECRET_KEY_HEADER};

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
    let last = board.last_price;
    let (change, change_pct) = if prev.close > 0.0 { (last - prev.close, (last / prev.close - 1.0) * 100.0) } else { (0.0, 0.0) };
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
            "av": board.day.volume,
            "t": bar.time / NANOS_PER_MILLI,
            "o": bar.open, "h": bar.high, "l": bar.low, "c": bar.close, "v": bar.volume, "vw": bar.close,
        });
    }
    ticker
}

fn polygon_day(day: &DayBar) -> Value {
    json!({ "o": day.open, "h": day.high, "l": day.low, "c": day.close, "v": day.volume, "vw": day.vwap })
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
    let at = rfc3339(board.updated);
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

fn alpaca_day(day: &DayBar, t: String) -> Value {
    json!({
        "t": t, "o": day.open, "h": day.high, "l": day.low, "c": day.close,
        "v": day.volume.round() as i64, "n": 0, "vw": day.vwap,
    })
}

fn alpaca_minute(bar: &Bar) -> Value {
    json!({
        "t": rfc3339(bar.time), "o": bar.open, "h": bar.high, "l": bar.low, "c": bar.close,
        "v": bar.volume.round() as i64, "n": 0, "vw": bar.close,
    })
}

fn rfc3339(time: Timestamp) -> String {
    DateTime::from_timestamp_nanos(time).to_rfc3339_opts(SecondsFormat::AutoSi, true)
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
mod tests {
    use std::net::SocketAddr;

    use super::*;

    /// 2024-03-`day` at `hour`:`minute` New York time (EST), in ns.
    fn ny(day: u32, hour: u32, minute: u32) -> Timestamp {
        Utc.with_ymd_and_hms(2024, 3, day, hour + 5, minute, 0).unwrap().timestamp_nanos_opt().unwrap()
    }

    fn bar(time: Timestamp, close: f64, volume: f64) -> Bar {
        Bar { time, open: close, high: close + 0.5, low: close - 0.5, close, volume }
    }

    /// BUSY traded on Monday 4 and Tuesday 5 March 2024; NEW only on the 5th.
    fn board() -> Arc<Board> {
        let board = Board::default();
        board.update("BUSY", &bar(ny(4, 15, 59), 10.0, 100_000.0), ny(4, 15, 59));
        board.update("BUSY", &bar(ny(5, 9, 30), 10.2, 50_000.0), ny(5, 9, 30));
        board.update("BUSY", &bar(ny(5, 9, 31), 10.5, 150_000.0), ny(5, 9, 31));
        board.update("NEW", &bar(ny(5, 9, 30), 7.0, 1_000.0), ny(5, 9, 30));
        Arc::new(board)
    }

    async fn serve(router: Router) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        addr
    }

    async fn get_json(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.unwrap();
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        (status, serde_json::from_slice(&response.bytes().await.unwrap()).unwrap())
    }

    const POLYGON: &str = "/v2/snapshot/locale/us/markets/stocks/tickers";
    const ALPACA: &str = "/v2/stocks/snapshots";

    #[tokio::test]
    async fn polygon_serves_the_documented_snapshot_of_the_board() {
        let addr = serve(polygon_router(board(), Some("pk".into()))).await;
        let url = format!("http://{addr}{POLYGON}");
        let (status, body) = get_json(reqwest::Client::new().get(&url).query(&[("apiKey", "pk")])).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!((&body["status"], &body["count"]), (&json!("OK"), &json!(2)));
        let busy = &body["tickers"][0];
        assert_eq!(busy["ticker"], "BUSY");
        assert!((busy["todaysChangePerc"].as_f64().unwrap() - 5.0).abs() < 1e-9);
        assert!((busy["todaysChange"].as_f64().unwrap() - 0.5).abs() < 1e-9);
        assert_eq!(busy["updated"], ny(5, 9, 31));
        assert_eq!(busy["day"]["o"], 10.2);
        assert_eq!(busy["day"]["c"], 10.5);
        assert_eq!(busy["day"]["h"], 11.0);
        assert_eq!(busy["day"]["l"], 9.7);
        assert_eq!(busy["day"]["v"], 200_000.0);
        assert_eq!(busy["prevDay"]["c"], 10.0);
        assert_eq!(busy["prevDay"]["v"], 100_000.0);
        assert_eq!(busy["lastTrade"]["p"], 10.5);
        assert_eq!(busy["lastTrade"]["t"], ny(5, 9, 31), "trade times are ns");
        assert_eq!(busy["lastQuote"]["P"], 10.5);
        assert_eq!(busy["lastQuote"]["p"], 10.5);
        assert_eq!(busy["min"]["t"], ny(5, 9, 31) / NANOS_PER_MILLI, "minute times are ms");
        assert_eq!(busy["min"]["v"], 150_000.0);
        assert_eq!(busy["min"]["av"], 200_000.0);
        let new = &body["tickers"][1];
        assert_eq!(new["ticker"], "NEW");
        assert_eq!(new["prevDay"], json!({ "o": 0.0, "h": 0.0, "l": 0.0, "c": 0.0, "v": 0.0, "vw": 0.0 }));
        assert_eq!(new["todaysChangePerc"], 0.0);
    }

    #[tokio::test]
    async fn polygon_narrows_to_the_tickers_parameter() {
        let addr = serve(polygon_router(board(), None)).await;
        let url = format!("http://{addr}{POLYGON}");
        let (status, body) = get_json(reqwest::Client::new().get(&url).query(&[("tickers", "NEW,NOPE")])).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["count"], 1);
        assert_eq!(body["tickers"][0]["ticker"], "NEW");
    }

    #[tokio::test]
    async fn polygon_refuses_a_wrong_or_missing_key() {
        let addr = serve(polygon_router(board(), Some("pk".into()))).await;
        let url = format!("http://{addr}{POLYGON}");
        let client = reqwest::Client::new();
        for (request, error) in
            [(client.get(&url).query(&[("apiKey", "nope")]), "Unknown API Key"), (client.get(&url), "API Key was not provided")]
        {
            let (status, body) = get_json(request).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert_eq!((&body["status"], &body["error"]), (&json!("ERROR"), &json!(error)));
            assert_eq!(body["request_id"].as_str().unwrap().len(), 32);
        }
    }

    #[tokio::test]
    async fn alpaca_serves_the_documented_snapshots_of_the_requested_symbols() {
        let addr = serve(alpaca_data_router(board(), Some("AK".into()), Some("SK".into()))).await;
        let request = reqwest::Client::new()
            .get(format!("http://{addr}{ALPACA}"))
            .query(&[("symbols", "NEW,BUSY,MISSING"), ("feed", "iex")])
            .header("APCA-API-KEY-ID", "AK")
            .header("APCA-API-SECRET-KEY", "SK");
        let (status, body) = get_json(request).await;
        assert_eq!(status, StatusCode::OK);
        let symbols: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(symbols, ["BUSY", "NEW"]);
        let busy = &body["BUSY"];
        let trade_time = DateTime::parse_from_rfc3339(busy["latestTrade"]["t"].as_str().unwrap()).unwrap();
        assert_eq!(trade_time.timestamp_nanos_opt(), Some(ny(5, 9, 31)));
        assert_eq!(busy["latestTrade"]["p"], 10.5);
        assert_eq!(busy["latestQuote"]["ap"], 10.5);
        assert_eq!(busy["minuteBar"]["t"], "2024-03-05T14:31:00Z");
        assert_eq!(busy["minuteBar"]["v"], 150_000);
        assert_eq!(busy["dailyBar"]["t"], "2024-03-05T05:00:00Z");
        assert_eq!(busy["dailyBar"]["v"], 200_000, "volumes are integers");
        assert_eq!(busy["dailyBar"]["c"], 10.5);
        assert_eq!(busy["prevDailyBar"]["t"], "2024-03-04T05:00:00Z");
        assert_eq!(busy["prevDailyBar"]["c"], 10.0);
        assert_eq!(busy["prevDailyBar"]["v"], 100_000);
        assert!(body["NEW"].get("prevDailyBar").is_none());
        assert_eq!(body["NEW"]["dailyBar"]["c"], 7.0);
    }

    #[tokio::test]
    async fn alpaca_refuses_wrong_credentials_and_a_missing_symbols_parameter() {
        let addr = serve(alpaca_data_router(board(), Some("AK".into()), Some("SK".into()))).await;
        let url = format!("http://{addr}{ALPACA}");
        let client = reqwest::Client::new();
        let unauthorized = json!({ "code": 40110000, "message": "request is not authorized" });
        for request in [
            client.get(&url).query(&[("symbols", "BUSY")]),
            client.get(&url).query(&[("symbols", "BUSY")]).header("APCA-API-KEY-ID", "AK").header("APCA-API-SECRET-KEY", "x"),
        ] {
            assert_eq!(get_json(request).await, (StatusCode::UNAUTHORIZED, unauthorized.clone()));
        }
        let (status, body) = get_json(client.get(&url).header("APCA-API-KEY-ID", "AK").header("APCA-API-SECRET-KEY", "SK")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["message"], "symbols is required");
    }

    #[test]
    fn the_previous_session_of_a_monday_is_the_friday() {
        assert_eq!(session_start(ny(4, 10, 0), true), "2024-03-01T05:00:00Z");
        // Across the start of daylight saving time (Sunday 10 March 2024).
        let tuesday = Utc.with_ymd_and_hms(2024, 3, 12, 14, 0, 0).unwrap().timestamp_nanos_opt().unwrap();
        assert_eq!(session_start(tuesday, false), "2024-03-12T04:00:00Z");
        assert_eq!(session_start(tuesday, true), "2024-03-11T04:00:00Z");
    }
}
