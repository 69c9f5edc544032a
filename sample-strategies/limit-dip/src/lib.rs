//! Buys the dip: on each symbol's first bar, one limit order to buy `qty`
//! at `pct` percent under that bar's close, good until canceled; then waits.
//! Its orders rest at the broker, which makes it the strategy of choice to
//! test what happens to resting orders (cancellation at shutdown, fills
//! after a consumer died). With `stop-pct` / `target-pct` the order is a
//! bracket: its exits rest that far under / over the limit price.

use liu_strategy::prelude::*;
use liu_strategy::{OrderKind, TimeInForce};

struct LimitDip {
    qty: f64,
    pct: f64,
    stop_pct: f64,
    target_pct: f64,
    placed: Vec<bool>,
}

impl Strategy for LimitDip {
    const NAME: &'static str = "limit-dip";

    fn params() -> Vec<ParamSpec> {
        vec![
            ParamSpec::float("qty", 1.0, "shares to buy per symbol"),
            ParamSpec::float("pct", 0.2, "how far under the first close to bid, in percent"),
            ParamSpec::float("stop-pct", 0.0, "stop loss this far under the limit price, in percent (0: none)"),
            ParamSpec::float("target-pct", 0.0, "take profit this far over the limit price, in percent (0: none)"),
        ]
    }

    fn new(params: &Params) -> Result<Self, String> {
        let (qty, pct) = (params.float("qty")?, params.float("pct")?);
        if !(qty > 0.0 && qty.is_finite()) || !(pct > 0.0 && pct < 100.0) {
            return Err(format!("need qty > 0 and 0 < pct < 100, got qty={qty} pct={pct}"));
        }
        let (stop_pct, target_pct) = (params.float("stop-pct")?, params.float("target-pct")?);
        if !(0.0..100.0).contains(&stop_pct) || !(target_pct >= 0.0 && target_pct.is_finite()) {
            return Err(format!("need 0 <= stop-pct < 100 and target-pct >= 0, got {stop_pct} and {target_pct}"));
        }
        Ok(Self { qty, pct, stop_pct, target_pct, placed: Vec::new() })
    }

    fn on_bar(&mut self, symbol: SymbolId, _timeframe: Timeframe, bar: &Bar) -> Verdict {
        let index = symbol as usize;
        if self.placed.len() <= index {
            self.placed.resize(index + 1, false);
        }
        if !std::mem::replace(&mut self.placed[index], true) {
            let price = (bar.close * (1.0 - self.pct / 100.0) * 100.0).round() / 100.0;
            let mut request = orders::request(symbol, Side::Buy, self.qty);
            request.kind = OrderKind::Limit;
            request.limit_price = Some(price);
            request.time_in_force = TimeInForce::Gtc;
            let cents = |p: f64| (p * 100.0).round() / 100.0;
            if self.stop_pct > 0.0 {
                request.stop_loss = Some(cents(price * (1.0 - self.stop_pct / 100.0)));
            }
            if self.target_pct > 0.0 {
                request.take_profit = Some(cents(price * (1.0 + self.target_pct / 100.0)));
            }
            if let Err(e) = orders::submit(&request) {
                log::warn(&format!("limit-dip: order refused: {e:?}"));
            }
        }
        Verdict::Keep
    }
}

export_strategy!(LimitDip);
