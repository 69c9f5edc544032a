//! Tests of [`super`].

use super::*;
use liu_core::domain::BarEvent;

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

#[test]
fn intraday_bars_sum_per_new_york_day_and_daily_bars_keep_their_date() {
    // 2024-03-05 20:59 and 21:01 UTC are 15:59 and 16:01 in New York; 2024-03-06 03:00 UTC is still the 5th there.
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().timestamp_nanos_opt().unwrap();
    let bar = |t: &str, o: f64, c: f64| Bar { time: at(t), open: o, high: o.max(c) + 1.0, low: o.min(c) - 1.0, close: c, volume: 5.0 };
    let data = MarketData {
        symbols: vec!["X".into()],
        events: [bar("2024-03-05T20:59:00Z", 10.0, 11.0), bar("2024-03-06T03:00:00Z", 11.0, 9.0), bar("2024-03-06T15:00:00Z", 9.0, 9.5)]
            .into_iter()
            .map(|bar| BarEvent { symbol: 0, bar })
            .collect(),
        timeframe: Timeframe::Minute,
    };
    let days = &daily_bars(&data)["X"];
    assert_eq!(days.len(), 2);
    assert_eq!(
        (days[0].date.to_string(), days[0].open, days[0].close, days[0].high, days[0].low, days[0].volume),
        ("2024-03-05".into(), 10.0, 9.0, 12.0, 8.0, 10.0)
    );
    assert_eq!(days[1].date.to_string(), "2024-03-06");
    // A daily symbol next to an intraday one keeps its dates.
    let daily = MarketData {
        symbols: vec!["X".into(), "D".into()],
        events: [(1, "2024-03-04T00:00:00Z"), (0, "2024-03-05T00:00:00Z"), (0, "2024-03-05T00:01:00Z"), (1, "2024-03-05T00:00:00Z")]
            .into_iter()
            .map(|(symbol, t)| BarEvent { symbol, bar: bar(t, 1.0, 2.0) })
            .collect(),
        timeframe: Timeframe::Minute,
    };
    let days = daily_bars(&daily);
    assert_eq!(days["D"].iter().map(|d| d.date.to_string()).collect::<Vec<_>>(), ["2024-03-04", "2024-03-05"]);
    assert_eq!(days["X"].iter().map(|d| d.date.to_string()).collect::<Vec<_>>(), ["2024-03-04"]);
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
