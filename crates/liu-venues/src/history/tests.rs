//! Tests of [`super`].

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
    Client::new(Api::Alpaca { base_url: Url::parse(&format!("http://{addr}/")).unwrap(), key: "AK".into(), secret: "SK".into() }).unwrap()
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
        .route("/v2/stocks/bars", get(|| async { r#"{"bars": {"AAA": [{"t": "yesterday", "o": 1, "h": 1, "l": 1, "c": 1, "v": 1}]}}"# }))
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
