//! A run's equity curve as it is recorded: after each time step, the
//! equity of the run's portfolio (cash plus positions marked at the last
//! price seen) and whether a position is open. `backtest` records one point
//! per bar time, a consumer's session one per frame of events it processes
//! (`trade`, `backtest --replay`, `backtest --tradeplan`); both through this.

use liu_core::domain::Timestamp;
use liu_data::store::research::EquityCurve;
use liu_exec::portfolio::Portfolio;

/// See the module documentation. 16 bytes a point.
#[derive(Clone, Debug)]
pub struct CurveRecorder {
    curve: EquityCurve,
    /// The last point had a position open (taken back when it is replaced).
    last_in_market: bool,
}

impl CurveRecorder {
    pub fn new(initial_equity: f64) -> Self {
        Self { curve: EquityCurve { initial_equity, times: Vec::new(), equity: Vec::new(), steps_in_market: 0 }, last_in_market: false }
    }

    pub fn reserve(&mut self, points: usize) {
        self.curve.times.reserve(points);
        self.curve.equity.reserve(points);
    }

    /// Records `portfolio` as it is after the step at `time`. A time not
    /// after the last point's (a later frame of the same bar time, a late
    /// event) replaces that point's value and keeps its time: times strictly
    /// increase, one point per step.
    pub fn record(&mut self, time: Timestamp, portfolio: &Portfolio) {
        let in_market = portfolio.has_open_positions();
        let c = &mut self.curve;
        match (c.times.last(), c.equity.last_mut()) {
            (Some(&last), Some(equity)) if time <= last => {
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
}
