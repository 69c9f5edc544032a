//! A run's equity curve as it is recorded: after each time step, the
//! equity of the run's portfolio (cash plus positions marked at the last
//! price seen) and whether a position is open. `backtest` records one point
//! per bar time, a consumer's session one per second of event time in which
//! it processed events (`trade`, `backtest --replay`, `backtest --tradeplan`:
//! a live feed of trades and quotes brings many frames a second, and a day's
//! curve stays within 23,400 points a strategy); both through this.

use liu_core::domain::Timestamp;
use liu_data::store::research::EquityCurve;
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
}
