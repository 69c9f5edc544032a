//! Tests of [`super`].

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::{TimeZone, Utc};

use super::*;
use liu_core::domain::Bar;
use liu_sim::standin::Board;
use liu_sim::standin::snapshots::{alpaca_data_router, polygon_router};

fn filter() -> MomentumFilter {
    MomentumFilter {
        min_price: 2.0,
        max_price: 20.0,
        min_volume: 30_000.0,
        min_day_change_pct: 3.5,
        min_prev_day_dollar_volume: 500_000.0,
        max_symbols: 40,
    }
}

/// A snapshot passing [`filter`] with room on every side.
fn passing(symbol: &str) -> Snapshot {
    Snapshot {
        symbol: symbol.to_owned(),
        last_price: 10.5,
        day_volume: 100_000.0,
        day_change_pct: 5.0,
        prev_day_close: 10.0,
        prev_day_volume: 100_000.0,
    }
}

fn with(symbol: &str, change: impl Fn(&mut Snapshot)) -> Snapshot {
    let mut s = passing(symbol);
    change(&mut s);
    s
}

#[test]
fn each_filter_excludes_exactly_its_violator() {
    let snapshots = vec![
        passing("KEEP"),
        with("CHEAP", |s| s.last_price = 1.99),
        with("DEAR", |s| s.last_price = 20.01),
        with("THIN", |s| s.day_volume = 29_999.0),
        with("FLAT", |s| s.day_change_pct = 3.49),
        with("ILLIQ", |s| s.prev_day_volume = 49_999.0),
    ];
    assert_eq!(momentum_picks(&filter(), &snapshots), ["KEEP"]);
}

#[test]
fn bounds_follow_liu_price_and_change_inclusive_volumes_strict() {
    let snapshots = vec![
        with("MINP", |s| s.last_price = 2.0),
        with("MAXP", |s| s.last_price = 20.0),
        with("MINCHG", |s| s.day_change_pct = 3.5),
        with("EQVOL", |s| s.day_volume = 30_000.0),
        with("EQDV", |s| s.prev_day_volume = 50_000.0),
    ];
    let mut picks = momentum_picks(&filter(), &snapshots);
    picks.sort();
    assert_eq!(picks, ["MAXP", "MINCHG", "MINP"]);
}

#[test]
fn picks_are_by_day_volume_descending_then_symbol() {
    let snapshots = vec![
        with("MID", |s| s.day_volume = 50_000.0),
        with("BBB", |s| s.day_volume = 90_000.0),
        with("TOP", |s| s.day_volume = 500_000.0),
        with("AAA", |s| s.day_volume = 90_000.0),
    ];
    assert_eq!(momentum_picks(&filter(), &snapshots), ["TOP", "AAA", "BBB", "MID"]);
}

#[test]
fn picks_are_capped_at_max_symbols() {
    let snapshots: Vec<Snapshot> = (0..10).map(|i| with(&format!("S{i}"), |s| s.day_volume = 40_000.0 + f64::from(i))).collect();
    let capped = MomentumFilter { max_symbols: 3, ..filter() };
    assert_eq!(momentum_picks(&capped, &snapshots), ["S9", "S8", "S7"]);
}

#[test]
fn nonsense_numbers_are_skipped_and_symbols_picked_once() {
    let snapshots = vec![
        with("NANP", |s| s.last_price = f64::NAN),
        with("NANV", |s| s.day_volume = f64::NAN),
        with("INFV", |s| s.day_volume = f64::INFINITY),
        with("NANC", |s| s.day_change_pct = f64::NAN),
        with("ZEROPREV", |s| s.prev_day_close = 0.0),
        with("NEGPREV", |s| {
            s.prev_day_close = -10.0;
            s.prev_day_volume = -100_000.0;
        }),
        passing("TWICE"),
        with("TWICE", |s| s.day_volume = 200_000.0),
    ];
    assert_eq!(momentum_picks(&filter(), &snapshots), ["TWICE"]);
}

/// Polygon's documented full-market snapshot example, with an incomplete
/// and a malformed ticker added.
const POLYGON_EXAMPLE: &str = r#"{
      "count": 3,
      "status": "OK",
      "tickers": [
        {
          "day": {"c": 20.506, "h": 20.64, "l": 20.506, "o": 20.64, "v": 37216, "vw": 20.616},
          "lastQuote": {"P": 20.6, "S": 22, "p": 20.5, "s": 13, "t": 1605192959994246100},
          "lastTrade": {"c": [14, 41], "i": "71675577320245", "p": 20.506, "s": 2416, "t": 1605192894630916600, "x": 4},
          "min": {"av": 37216, "c": 20.506, "h": 20.506, "l": 20.506, "n": 1, "o": 20.506, "t": 1684428600000, "v": 5000, "vw": 20.5105},
          "prevDay": {"c": 20.63, "h": 21, "l": 20.5, "o": 20.79, "v": 292738, "vw": 20.6939},
          "ticker": "BCAT",
          "todaysChange": -0.124,
          "todaysChangePerc": -0.601,
          "updated": 1605192894630916600
        },
        {"ticker": "NOTRADE", "todaysChangePerc": 1.0, "day": {"c": 1, "v": 1}, "prevDay": {"c": 1, "v": 1}},
        {"ticker": "BROKEN", "todaysChangePerc": 1.0, "day": "x", "prevDay": {"c": 1, "v": 1}, "lastTrade": {"p": 1}}
      ]
    }"#;

#[test]
fn parses_polygons_documented_example_skipping_incomplete_tickers() {
    let snapshots = parse_polygon(POLYGON_EXAMPLE.as_bytes()).unwrap();
    assert_eq!(
        snapshots,
        [Snapshot {
            symbol: "BCAT".into(),
            last_price: 20.506,
            day_volume: 37216.0,
            day_change_pct: -0.601,
            prev_day_close: 20.63,
            prev_day_volume: 292738.0,
        }]
    );
    assert!(parse_polygon(br#"{"status":"OK","count":0}"#).unwrap().is_empty());
    assert!(parse_polygon(b"[1, 2]").is_err());
}

/// Alpaca's documented multi-symbol example (AAPL, TSLA), with an entry
/// whose previous day is null and one without a daily bar.
const ALPACA_EXAMPLE: &str = r#"{
      "AAPL": {
        "latestTrade": {"t": "2022-08-17T10:18:24.114694956Z", "x": "Q", "p": 172.61, "s": 160, "c": ["@", "T"], "i": 1011, "z": "C"},
        "latestQuote": {"t": "2022-08-17T10:18:27.052763263Z", "ax": "Q", "ap": 172.7, "as": 5, "bx": "Q", "bp": 172.6, "bs": 2, "c": ["R"], "z": "C"},
        "minuteBar": {"t": "2022-08-17T10:16:00Z", "o": 172.69, "h": 172.69, "l": 172.69, "c": 172.69, "v": 106, "n": 3, "vw": 172.688113},
        "dailyBar": {"t": "2022-08-16T04:00:00Z", "o": 172.62, "h": 173.71, "l": 171.6618, "c": 173.03, "v": 56457696, "n": 515139, "vw": 172.743391},
        "prevDailyBar": {"t": "2022-08-15T04:00:00Z", "o": 171.5, "h": 173.39, "l": 171.345, "c": 173.19, "v": 54091719, "n": 501626, "vw": 172.625371}
      },
      "TSLA": {
        "latestTrade": {"t": "2022-08-17T10:13:12.952851456Z", "x": "P", "p": 911.99, "s": 100, "c": ["@", "T"], "i": 2047, "z": "C"},
        "latestQuote": {"t": "2022-08-17T10:18:23.84717767Z", "ax": "P", "ap": 911.75, "as": 4, "bx": "Q", "bp": 911.31, "bs": 1, "c": ["R"], "z": "C"},
        "minuteBar": {"t": "2022-08-17T10:13:00Z", "o": 911.99, "h": 911.99, "l": 911.99, "c": 911.99, "v": 740, "n": 64, "vw": 911.780405},
        "dailyBar": {"t": "2022-08-16T04:00:00Z", "o": 935, "h": 944, "l": 908.65, "c": 919.69, "v": 29378774, "n": 805572, "vw": 925.215087},
        "prevDailyBar": {"t": "2022-08-15T04:00:00Z", "o": 905.32, "h": 939.4, "l": 903.69, "c": 927.96, "v": 29786389, "n": 825109, "vw": 923.982755}
      },
      "NOPREV": {"latestTrade": {"p": 5}, "dailyBar": {"c": 5, "v": 10}, "prevDailyBar": null},
      "NODAY": {"latestTrade": {"p": 5}, "prevDailyBar": {"c": 5, "v": 10}}
    }"#;

#[test]
fn parses_alpacas_documented_example_skipping_incomplete_snapshots() {
    let snapshots = parse_alpaca(ALPACA_EXAMPLE.as_bytes()).unwrap();
    let symbols: Vec<&str> = snapshots.iter().map(|s| s.symbol.as_str()).collect();
    assert_eq!(symbols, ["AAPL", "TSLA"]);
    let aapl = &snapshots[0];
    assert_eq!((aapl.last_price, aapl.day_volume), (172.61, 56457696.0));
    assert_eq!((aapl.prev_day_close, aapl.prev_day_volume), (173.19, 54091719.0));
    assert!((aapl.day_change_pct - (172.61 / 173.19 - 1.0) * 100.0).abs() < 1e-12);
    assert!((snapshots[1].day_change_pct - (911.99 / 927.96 - 1.0) * 100.0).abs() < 1e-12);
    assert!(parse_alpaca(b"[]").is_err());
}

#[test]
fn debug_of_a_source_redacts_credentials() {
    let polygon = SnapshotSource::Polygon { base_url: "http://p".into(), api_key: "pk-SECRET".into() };
    let alpaca = SnapshotSource::Alpaca {
        base_url: "http://a".into(),
        key: "AK-SECRET".into(),
        secret: "SK-SECRET".into(),
        feed: Some(AlpacaFeed::Iex),
    };
    for text in [format!("{polygon:?}"), format!("{alpaca:?}")] {
        assert!(!text.contains("SECRET"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }
}

/// 2024-03-04 (a Monday) at `hour`:`minute` New York time (EST), in ns.
fn ny(day: u32, hour: u32, minute: u32) -> i64 {
    Utc.with_ymd_and_hms(2024, 3, day, hour + 5, minute, 0).unwrap().timestamp_nanos_opt().unwrap()
}

fn bar(time: i64, close: f64, volume: f64) -> Bar {
    Bar { time, open: close, high: close, low: close, close, volume }
}

/// Two New York days of bars: (symbol, previous day's close and volume,
/// today's bars as (close, volume)). Only BUSY and GOOD pass [`filter`];
/// UNLISTED would, but is left out of [`universe`].
fn two_day_board() -> Arc<Board> {
    let board = Board::default();
    let trade = |symbol: &str, time: i64, close: f64, volume: f64| board.update(symbol, &bar(time, close, volume), time);
    let yesterday = ny(4, 15, 59);
    let (open, next) = (ny(5, 9, 30), ny(5, 9, 31));
    // Yesterday's close and volume, then today's bars.
    for (symbol, close, volume) in [
        ("BUSY", 10.0, 100_000.0),
        ("GOOD", 5.0, 200_000.0),
        ("CHEAP", 1.0, 1_000_000.0),
        ("FLAT", 10.0, 100_000.0),
        ("THIN", 10.0, 100_000.0),
        ("ILLIQ", 10.0, 10_000.0),
        ("UNLISTED", 10.0, 100_000.0),
    ] {
        trade(symbol, yesterday, close, volume);
    }
    trade("BUSY", open, 10.2, 50_000.0);
    trade("BUSY", next, 10.5, 150_000.0);
    trade("GOOD", open, 5.1, 40_000.0);
    trade("GOOD", next, 5.25, 60_000.0);
    trade("CHEAP", open, 1.1, 100_000.0);
    trade("FLAT", open, 10.1, 100_000.0);
    trade("THIN", open, 10.5, 20_000.0);
    trade("ILLIQ", open, 10.5, 100_000.0);
    trade("NEW", open, 10.5, 100_000.0);
    trade("UNLISTED", open, 10.5, 900_000.0);
    Arc::new(board)
}

fn universe() -> Vec<String> {
    ["BUSY", "GOOD", "CHEAP", "FLAT", "THIN", "ILLIQ", "NEW", "MISSING"].map(String::from).to_vec()
}

async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

fn polygon_at(addr: SocketAddr, api_key: &str) -> SnapshotSource {
    SnapshotSource::Polygon { base_url: format!("http://{addr}/"), api_key: api_key.into() }
}

fn alpaca_at(addr: SocketAddr, key: &str, secret: &str) -> SnapshotSource {
    SnapshotSource::Alpaca { base_url: format!("http://{addr}"), key: key.into(), secret: secret.into(), feed: Some(AlpacaFeed::Iex) }
}

#[tokio::test]
async fn polygon_round_trip_picks_the_busy_gappers() {
    let addr = serve(polygon_router(two_day_board(), Some("pk-right".into()))).await;
    let client = reqwest::Client::new();
    let picks = scan(&client, &polygon_at(addr, "pk-right"), &universe(), &filter()).await.unwrap();
    assert_eq!(picks, ["BUSY", "GOOD"]);
    let all = fetch_snapshots(&client, &polygon_at(addr, "pk-right"), &[]).await.unwrap();
    assert_eq!(all.len(), 8, "an empty universe keeps every ticker");
}

#[tokio::test]
async fn alpaca_round_trip_picks_the_busy_gappers() {
    let addr = serve(alpaca_data_router(two_day_board(), Some("AK".into()), Some("SK".into()))).await;
    let client = reqwest::Client::new();
    let picks = scan(&client, &alpaca_at(addr, "AK", "SK"), &universe(), &filter()).await.unwrap();
    assert_eq!(picks, ["BUSY", "GOOD"]);
    assert!(fetch_snapshots(&client, &alpaca_at(addr, "AK", "SK"), &[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn alpaca_universe_is_requested_in_chunks() {
    let addr = serve(alpaca_data_router(two_day_board(), None, None)).await;
    // Sorted, BUSY is first of the first chunk and GOOD in the second.
    let mut universe: Vec<String> = (0..1500).map(|i| format!("BZ{i:04}")).collect();
    universe.extend(self::universe());
    let picks = scan(&reqwest::Client::new(), &alpaca_at(addr, "", ""), &universe, &filter()).await.unwrap();
    assert_eq!(picks, ["BUSY", "GOOD"]);
}

#[tokio::test]
async fn wrong_polygon_key_is_a_401_that_does_not_show_the_key() {
    let addr = serve(polygon_router(two_day_board(), Some("pk-right".into()))).await;
    let err = scan(&reqwest::Client::new(), &polygon_at(addr, "pk-WRONG-key"), &universe(), &filter()).await.unwrap_err();
    assert!(matches!(err, ScanError::Status { status, .. } if status == reqwest::StatusCode::UNAUTHORIZED), "{err}");
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("pk-WRONG-key"), "{text}");
        assert!(text.contains("Unknown API Key"), "{text}");
    }
}

#[tokio::test]
async fn wrong_alpaca_secret_is_a_401_that_does_not_show_the_credentials() {
    let addr = serve(alpaca_data_router(two_day_board(), Some("AK-right".into()), Some("SK-right".into()))).await;
    let source = alpaca_at(addr, "AK-right", "SK-WRONG");
    let err = scan(&reqwest::Client::new(), &source, &universe(), &filter()).await.unwrap_err();
    assert!(matches!(err, ScanError::Status { status, .. } if status == reqwest::StatusCode::UNAUTHORIZED), "{err}");
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("AK-right") && !text.contains("SK-WRONG"), "{text}");
        assert!(text.contains("request is not authorized"), "{text}");
    }
}

#[tokio::test]
async fn an_error_body_echoing_the_key_is_masked_and_truncated() {
    let echo = axum::Router::new().route(
        "/v2/snapshot/locale/us/markets/stocks/tickers",
        axum::routing::get(|axum::extract::RawQuery(query): axum::extract::RawQuery| async move {
            (axum::http::StatusCode::FORBIDDEN, format!("{}{}", query.unwrap_or_default(), "x".repeat(2000)))
        }),
    );
    let addr = serve(echo).await;
    let err = fetch_snapshots(&reqwest::Client::new(), &polygon_at(addr, "pk-echoed"), &[]).await.unwrap_err();
    let ScanError::Status { status, body } = &err else { panic!("{err}") };
    assert_eq!(*status, reqwest::StatusCode::FORBIDDEN);
    assert!(body.starts_with("apiKey=<redacted>x"), "{body}");
    assert_eq!(body.chars().count(), MAX_ERROR_BODY + 1);
}

#[tokio::test]
async fn transport_errors_do_not_show_the_polygon_key() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = fetch_snapshots(&reqwest::Client::new(), &polygon_at(addr, "pk-in-url"), &[]).await.unwrap_err();
    assert!(matches!(err, ScanError::Http(_)), "{err}");
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("pk-in-url") && !text.contains("apiKey"), "{text}");
    }
}
