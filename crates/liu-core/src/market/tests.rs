//! Tests of [`super`].

use super::MarketState;
use crate::domain::{Bar, MarketEvent, NANOS_PER_SECOND, Timeframe, Trade};

const MINUTE: i64 = 60 * NANOS_PER_SECOND;

fn bars(m: &MarketState, timeframe: Timeframe) -> Vec<Bar> {
    m.bars(0, timeframe, 10).copied().collect()
}

fn trade(time: i64, price: f64, size: f64) -> MarketEvent {
    MarketEvent::Trade(Trade { time, price, size })
}

#[test]
fn trades_and_second_bars_fold_into_minute_bars_and_provider_bars_supersede_them() {
    let mut m = MarketState::new(&["AAPL".into()]);
    let t0 = 1_700_000_040 * NANOS_PER_SECOND; // a whole minute
    m.record(0, &trade(t0 + NANOS_PER_SECOND, 10.0, 100.0));
    m.record(0, &trade(t0 + 20 * NANOS_PER_SECOND, 12.0, 50.0));
    let second = Bar { time: t0 + 59 * NANOS_PER_SECOND, open: 9.5, high: 9.5, low: 9.0, close: 9.0, volume: 25.0 };
    m.record(0, &MarketEvent::Bar { timeframe: Timeframe::Second, bar: second });
    assert_eq!(bars(&m, Timeframe::Minute), [Bar { time: t0, open: 10.0, high: 12.0, low: 9.0, close: 9.0, volume: 175.0 }]);
    assert_eq!(bars(&m, Timeframe::Second), [second]);
    // The next minute opens a new bar; a late print of the old minute is ignored.
    m.record(0, &trade(t0 + MINUTE, 11.0, 10.0));
    m.record(0, &trade(t0 + 30 * NANOS_PER_SECOND, 99.0, 10.0));
    let minute = bars(&m, Timeframe::Minute);
    assert_eq!(minute.len(), 2);
    assert_eq!(minute[1], Trade { time: t0 + MINUTE, price: 11.0, size: 10.0 }.as_bar());
    assert_eq!(minute[0].high, 12.0);
    // The provider's own bar for that minute replaces the folded one.
    let official = Bar { time: t0 + MINUTE, open: 11.0, high: 11.5, low: 10.5, close: 11.2, volume: 400.0 };
    m.record(0, &MarketEvent::Bar { timeframe: Timeframe::Minute, bar: official });
    assert_eq!(bars(&m, Timeframe::Minute)[1], official);
    assert_eq!(m.bars(0, Timeframe::Minute, 10).len(), 2);
}

#[test]
fn a_provider_bar_arriving_after_the_next_minutes_trades_takes_its_place_and_corrections_replace() {
    let mut m = MarketState::new(&["AAPL".into()]).with_history_limit(10);
    let t0 = 1_700_000_040 * NANOS_PER_SECOND;
    let bar = |time: i64, close: f64| Bar { time, open: 10.0, high: 12.0, low: 9.0, close, volume: 500.0 };
    // Minute 0's prints, then minute 1's first print before minute 0's bar
    // (Alpaca sends a bar 20-100 ms after its minute closes).
    m.record(0, &trade(t0 + NANOS_PER_SECOND, 10.0, 100.0));
    m.record(0, &trade(t0 + MINUTE + 50_000_000, 11.0, 10.0));
    assert!(m.record(0, &MarketEvent::Bar { timeframe: Timeframe::Minute, bar: bar(t0, 10.5) }));
    assert_eq!(bars(&m, Timeframe::Minute), [bar(t0, 10.5), Trade { time: t0 + MINUTE, price: 11.0, size: 10.0 }.as_bar()]);
    // Minute 1's own bar supersedes the folded one.
    assert!(m.record(0, &MarketEvent::Bar { timeframe: Timeframe::Minute, bar: bar(t0 + MINUTE, 11.5) }));
    // An updated bar (`u`) for minute 0 replaces it and is no new bar.
    assert!(!m.record(0, &MarketEvent::Bar { timeframe: Timeframe::Minute, bar: bar(t0, 10.7) }));
    assert_eq!(bars(&m, Timeframe::Minute), [bar(t0, 10.7), bar(t0 + MINUTE, 11.5)]);
    // A correction of a bar no longer in a full history is dropped.
    let mut full = MarketState::new(&["AAPL".into()]).with_history_limit(2);
    for i in 1..=3 {
        full.push_bar(0, Timeframe::Minute, bar(i * MINUTE, i as f64));
    }
    assert!(!full.push_bar(0, Timeframe::Minute, bar(MINUTE, 9.0)));
    assert_eq!(bars(&full, Timeframe::Minute), [bar(2 * MINUTE, 2.0), bar(3 * MINUTE, 3.0)]);
}

#[test]
fn a_live_history_keeps_only_its_most_recent_bars() {
    let mut m = MarketState::new(&["AAPL".into()]).with_history_limit(3);
    let bar = |i: i64| Bar { time: i * MINUTE, open: i as f64, high: i as f64, low: i as f64, close: i as f64, volume: 1.0 };
    for i in 1..=5 {
        m.push_bar(0, Timeframe::Minute, bar(i));
    }
    assert_eq!(bars(&m, Timeframe::Minute), [bar(3), bar(4), bar(5)]);
    assert_eq!(m.bars(0, Timeframe::Minute, 2).copied().collect::<Vec<_>>(), [bar(4), bar(5)]);
    // Folded trades respect the limit too.
    m.record(0, &trade(6 * MINUTE, 6.0, 1.0));
    assert_eq!(bars(&m, Timeframe::Minute).iter().map(|b| b.time / MINUTE).collect::<Vec<_>>(), [4, 5, 6]);
    assert_eq!(m.last_price(0), Some(6.0));
}
