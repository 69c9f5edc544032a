//! Tests of [`super`].

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
