//! What a run records for `report` and `export` as it goes.
//!
//! [`CurveRecorder`]: a run's equity curve, after each time step the equity
//! of the run's portfolio (cash plus positions marked at the last price
//! seen) and whether a position is open. `backtest` records one point per
//! bar time, a consumer's session one per second of event time in which it
//! processed events (`trade`, `backtest --replay`, `backtest --tradeplan`:
//! a live feed of trades and quotes brings many frames a second, and a day's
//! curve stays within 23,400 points a strategy); both through this.
//!
//! [`SessionBars`]: the minute bars a consumer's session saw, by symbol, for
//! the report's candles and buy-and-hold. A live session and a replay keep
//! them within a bound per symbol, however long they run.

use liu_core::domain::{Bar, SymbolId, Timestamp};
use liu_data::store::research::{EquityCurve, SymbolBars};
use liu_exec::portfolio::Portfolio;

/// See the module documentation. 16 bytes a point.
#[derive(Clone, Debug)]
pub struct CurveRecorder {
    curve: EquityCurve,
    /// Steps closer than this (ns, by `time / resolution`) share one point.
    resolution: Timestamp,
    /// The last point had a position open (taken back when it is replaced).
    last_in_market: bool,
}

impl CurveRecorder {
    pub fn new(initial_equity: f64) -> Self {
        Self {
            curve: EquityCurve { initial_equity, times: Vec::new(), equity: Vec::new(), steps_in_market: 0 },
            resolution: 1,
            last_in_market: false,
        }
    }

    /// Steps within the same `resolution` ns (counted from the epoch) share
    /// one point: the last one's value, at the last one's time.
    pub fn with_resolution(mut self, resolution: Timestamp) -> Self {
        self.resolution = resolution.max(1);
        self
    }

    pub fn reserve(&mut self, points: usize) {
        self.curve.times.reserve(points);
        self.curve.equity.reserve(points);
    }

    /// Records `portfolio` as it is after the step at `time`. A time in the
    /// last point's resolution step, or before it (a later frame of the same
    /// bar time, a late event), replaces that point's value, its time moving
    /// up to `time` if later: times strictly increase, one point per step.
    pub fn record(&mut self, time: Timestamp, portfolio: &Portfolio) {
        let in_market = portfolio.has_open_positions();
        let step = |t: Timestamp| t.div_euclid(self.resolution);
        let c = &mut self.curve;
        match (c.times.last_mut(), c.equity.last_mut()) {
            (Some(last), Some(equity)) if step(time) <= step(*last) => {
                *last = (*last).max(time);
                *equity = portfolio.equity();
                c.steps_in_market -= u64::from(self.last_in_market);
            }
            _ => {
                c.times.push(time);
                c.equity.push(portfolio.equity());
            }
        }
        c.steps_in_market += u64::from(in_market);
        self.last_in_market = in_market;
    }

    pub fn into_curve(self) -> EquityCurve {
        self.curve
    }
}

/// Candles a live session or a replay keeps per symbol at most: what the
/// report draws of a series. A trading day of minute bars (390) is kept
/// bar for bar.
pub const SESSION_CANDLES: usize = 4_000;

/// The minute bars a session saw (as its strategies saw them: a later
/// correction is not applied), by symbol id.
#[derive(Debug)]
pub struct SessionBars {
    max_candles: usize,
    symbols: Vec<CandleRecorder>,
}

impl SessionBars {
    /// Keeps at most `max_candles` (even, at least 2) candles a symbol:
    /// past that, neighbouring candles are merged in pairs.
    pub fn bounded(max_candles: usize) -> Self {
        Self { max_candles: (max_candles.max(2) + 1) & !1, symbols: Vec::new() }
    }

    /// Keeps every bar (`backtest --tradeplan`, whose bars are in memory
    /// already, like a plain backtest's).
    pub fn every_bar() -> Self {
        Self { max_candles: usize::MAX, symbols: Vec::new() }
    }

    pub fn push(&mut self, symbol: SymbolId, name: &str, bar: &Bar) {
        let index = symbol as usize;
        if self.symbols.len() <= index {
            self.symbols.resize_with(index + 1, CandleRecorder::default);
        }
        let candles = &mut self.symbols[index];
        if candles.bars.symbol.is_empty() {
            candles.bars.symbol = name.to_owned();
        }
        candles.push(bar, self.max_candles);
    }

    /// Each symbol's candles, for those that had any.
    pub fn into_bars(self) -> Vec<SymbolBars> {
        self.symbols.into_iter().map(|c| c.bars).filter(|b| !b.times.is_empty()).collect()
    }
}

/// One symbol's candles. Each holds `span` bars (the last one up to
/// `span`): its first open, highest high, lowest low and last close, at its
/// last bar's time, so a close is never drawn, nor held in buy-and-hold,
/// before it was known.
#[derive(Debug)]
struct CandleRecorder {
    bars: SymbolBars,
    span: usize,
    in_last: usize,
}

impl Default for CandleRecorder {
    fn default() -> Self {
        Self { bars: SymbolBars::default(), span: 1, in_last: 0 }
    }
}

impl CandleRecorder {
    fn push(&mut self, bar: &Bar, max_candles: usize) {
        let b = &mut self.bars;
        if self.in_last < self.span && !b.times.is_empty() {
            let last = b.times.len() - 1;
            b.times[last] = bar.time;
            b.high[last] = b.high[last].max(bar.high);
            b.low[last] = b.low[last].min(bar.low);
            b.close[last] = bar.close;
            self.in_last += 1;
            return;
        }
        if b.times.len() >= max_candles {
            self.halve();
        }
        self.bars.push(bar);
        self.in_last = 1;
    }

    /// Merges the candles in pairs (there is an even number of them, all
    /// full), so each now holds twice the bars.
    fn halve(&mut self) {
        let b = &mut self.bars;
        let half = b.times.len() / 2;
        for i in 0..half {
            let (first, second) = (2 * i, 2 * i + 1);
            b.times[i] = b.times[second];
            b.open[i] = b.open[first];
            b.high[i] = b.high[first].max(b.high[second]);
            b.low[i] = b.low[first].min(b.low[second]);
            b.close[i] = b.close[second];
        }
        for v in [&mut b.open, &mut b.high, &mut b.low, &mut b.close] {
            v.truncate(half);
        }
        b.times.truncate(half);
        self.span *= 2;
        self.in_last = self.span;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liu_core::domain::Side;
    use liu_exec::portfolio::Execution;

    fn buy(portfolio: &mut Portfolio, price: f64, time: Timestamp) {
        let execution = Execution {
            order_id: 1,
            symbol: 0,
            side: Side::Buy,
            qty: 10.0,
            price,
            fee: 0.0,
            time,
            stop_loss: None,
            take_profit: None,
            indicators: "",
        };
        portfolio.apply(&execution, &mut Vec::new());
    }

    #[test]
    fn a_step_recorded_again_replaces_its_point_and_its_exposure() {
        let mut portfolio = Portfolio::new(1000.0, 1);
        let mut curve = CurveRecorder::new(1000.0);
        curve.record(10, &portfolio);
        buy(&mut portfolio, 50.0, 10);
        // The same step again (a later frame of its bars): one point, now in the market.
        curve.record(10, &portfolio);
        portfolio.mark(0, 60.0);
        curve.record(20, &portfolio);
        // A late event of an earlier step lands on the last point.
        portfolio.mark(0, 55.0);
        curve.record(15, &portfolio);
        let c = curve.into_curve();
        assert_eq!((c.times, c.equity, c.steps_in_market), (vec![10, 20], vec![1000.0, 1050.0], 2));
    }

    #[test]
    fn steps_within_the_resolution_share_the_last_ones_point() {
        let second = 1_000_000_000;
        let mut portfolio = Portfolio::new(1000.0, 1);
        let mut curve = CurveRecorder::new(1000.0).with_resolution(second);
        curve.record(5 * second + 1, &portfolio);
        buy(&mut portfolio, 50.0, 5 * second + 2);
        portfolio.mark(0, 51.0);
        curve.record(5 * second + 900, &portfolio);
        portfolio.mark(0, 52.0);
        curve.record(6 * second, &portfolio);
        let c = curve.into_curve();
        assert_eq!(c.times, vec![5 * second + 900, 6 * second]);
        assert_eq!(c.equity, vec![1010.0, 1020.0]);
        assert_eq!(c.steps_in_market, 2);
    }

    fn minute(i: i64) -> Bar {
        let price = 100.0 + i as f64;
        Bar { time: i * 60_000_000_000, open: price, high: price + 0.5, low: price - 0.5, close: price + 0.25, volume: 10.0 }
    }

    #[test]
    fn a_day_of_minute_bars_is_kept_bar_for_bar() {
        let mut seen = SessionBars::bounded(SESSION_CANDLES);
        for i in 0..390 {
            seen.push(3, "GOOG", &minute(i));
        }
        let bars = seen.into_bars();
        assert_eq!(bars.len(), 1, "symbols 0..2 had no bars");
        let mut expected = SymbolBars { symbol: "GOOG".into(), ..SymbolBars::default() };
        (0..390).for_each(|i| expected.push(&minute(i)));
        assert_eq!(bars[0], expected);
    }

    /// Past the bound, candles merge in pairs; every candle then stands for
    /// the same number of bars, at its last bar's time, and the extremes,
    /// the first open and the last close survive.
    #[test]
    fn a_long_session_keeps_within_the_bound_and_merges_whole_candles() {
        let mut seen = SessionBars::bounded(8);
        for i in 0..21 {
            seen.push(0, "X", &minute(i));
        }
        let b = &seen.into_bars()[0];
        // 8 candles of one bar, then of two (4 + new ones), then of four at 16 bars: 5 full + 1 of one bar.
        assert_eq!(b.times.len(), 6);
        assert_eq!(b.times, [3, 7, 11, 15, 19, 20].map(|i| minute(i).time));
        assert_eq!(b.open, [0, 4, 8, 12, 16, 20].map(|i| minute(i).open));
        assert_eq!(b.close, [3, 7, 11, 15, 19, 20].map(|i| minute(i).close));
        assert_eq!(b.high, [3, 7, 11, 15, 19, 20].map(|i| minute(i).high));
        assert_eq!(b.low, [0, 4, 8, 12, 16, 20].map(|i| minute(i).low));
        let mut long = SessionBars::bounded(SESSION_CANDLES);
        for i in 0..1_000_000 {
            long.push(0, "X", &minute(i));
        }
        let b = &long.into_bars()[0];
        assert!(b.times.len() <= SESSION_CANDLES && b.times.len() > SESSION_CANDLES / 2, "{}", b.times.len());
        assert_eq!((b.open[0], *b.close.last().unwrap()), (minute(0).open, minute(999_999).close));
    }
}
