//! Tests of [`super`].

use super::*;
use liu_core::domain::BarEvent;

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
