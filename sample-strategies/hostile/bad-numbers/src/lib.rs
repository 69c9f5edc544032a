//! Hostile: submits orders with NaN, +inf, -inf, zero and negative
//! quantities and prices (limit and stop prices too), one per bar in
//! rotation. Attacks the engine's order validation: every one must come
//! back as a typed rejection, which is logged, and the strategy keeps
//! running.

use liu_strategy::prelude::*;
use liu_strategy::orders::OrderRequest;
use liu_strategy::{OrderKind, TimeInForce};

const BAD: [f64; 5] = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -5.0];

struct BadNumbers { bar: usize }

fn case(symbol: SymbolId, n: usize) -> (String, OrderRequest) {
    let bad = BAD[n % BAD.len()];
    let mut r = orders::request(symbol, Side::Buy, 1.0);
    let what = match (n / BAD.len()) % 6 {
        0 => {
            r.qty = bad;
            "market qty"
        }
        1 => {
            r.kind = OrderKind::Limit;
            r.limit_price = Some(bad);
            "limit price"
        }
        2 => {
            r.kind = OrderKind::Stop;
            r.stop_price = Some(bad);
            "stop price"
        }
        3 => {
            r.kind = OrderKind::StopLimit;
            r.limit_price = Some(bad);
            r.stop_price = Some(bad);
            "stop-limit prices"
        }
        4 => {
            r.kind = OrderKind::Limit;
            r.limit_price = Some(100.0);
            r.qty = bad;
            r.side = Side::Sell;
            r.time_in_force = TimeInForce::Gtc;
            "limit sell qty"
        }
        _ => {
            r.stop_loss = Some(bad);
            r.take_profit = Some(bad);
            "stop-loss/take-profit"
        }
    };
    (format!("{what} = {bad}"), r)
}

impl Strategy for BadNumbers {
    const NAME: &'static str = "hostile-bad-numbers";
    fn new(_params: &Params) -> Result<Self, String> {
        Ok(Self { bar: 0 })
    }
    fn on_bar(&mut self, symbol: SymbolId, _tf: Timeframe, _bar: &Bar) -> Verdict {
        let (what, req) = case(symbol, self.bar);
        self.bar += 1;
        match orders::submit(&req) {
            Ok(id) => log::warn(&format!("bad-numbers: {what}: ACCEPTED as order {id}")),
            Err(e) => log::info(&format!("bad-numbers: {what}: rejected: {e:?}")),
        }
        Verdict::Keep
    }
}

export_strategy!(BadNumbers);
