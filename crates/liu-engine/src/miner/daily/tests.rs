//! Tests of [`super`].

use super::*;

fn day(date: &str, close: f64) -> DailyBar {
    DailyBar { date: date.parse().unwrap(), open: close, high: close + 1.0, low: close - 1.0, close, volume: 10.0 }
}

#[test]
fn indicators_leave_out_the_warm_up_and_match_fincalcs() {
    let bars: Vec<DailyBar> = (0..30).map(|i| day("2024-01-01", 100.0 + f64::from(i % 7))).collect();
    let values = indicators(&bars);
    assert!(values[18].get("sma_20").is_none());
    let closes: Vec<f64> = bars.iter().map(|b| b.close).collect();
    let mean = closes[10..30].iter().sum::<f64>() / 20.0;
    assert!((values[29]["sma_20"].as_f64().unwrap() - mean).abs() < 1e-9);
    assert_eq!(values[29]["rsi_14"].as_f64().unwrap(), fincalcs::rsi(&closes, 14)[29]);
    assert!(values[29].get("sma_50").is_none());
}

#[tokio::test]
async fn a_body_that_is_not_the_documented_json_names_the_symbol_and_the_url_without_the_key() {
    let app = axum::Router::new().fallback(|| async { "<html>maintenance</html>" });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let api = Api::Polygon { base_url: reqwest::Url::parse(&format!("http://{addr}/")).unwrap(), api_key: "pk-SECRET".into() };
    let source = DailySource::Api(Client::new(api).unwrap());
    let (from, to) = ("2024-01-02".parse().unwrap(), "2024-01-31".parse().unwrap());
    let err = source.fetch("XYZ", from, to).await.unwrap_err();
    assert!(matches!(&err, MineError::Rest(liu_venues::rest::RestError::Decode { symbol, .. }) if symbol == "XYZ"), "{err:?}");
    let text = err.to_string();
    assert!(text.starts_with(&format!("XYZ: GET http://{addr}/v2/aggs/ticker/XYZ/range/1/day/2024-01-02/2024-01-31?")), "{text}");
    assert!(text.contains("not the documented JSON") && !text.contains("SECRET"), "{text}");
}
