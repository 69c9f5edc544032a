//! Hostile: submits `per-bar` one-share market orders on every bar.
//! Attacks the engine's order rate limit: it must refuse with
//! `limit-exceeded` (and, ideally, disable the strategy) rather than
//! forward a flood to the broker.

use liu_strategy::prelude::*;

struct OrderSpam { per_bar: i64, accepted: u64, rejected: u64 }

impl Strategy for OrderSpam {
    const NAME: &'static str = "hostile-order-spam";
    fn params() -> Vec<ParamSpec> {
        vec![ParamSpec::integer("per-bar", 1000, "market orders submitted per bar")]
    }
    fn new(params: &Params) -> Result<Self, String> {
        Ok(Self { per_bar: params.integer("per-bar")?, accepted: 0, rejected: 0 })
    }
    fn on_bar(&mut self, symbol: SymbolId, _tf: Timeframe, _bar: &Bar) -> Verdict {
        let mut first_err = None;
        for i in 0..self.per_bar {
            let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
            match orders::market(symbol, side, 1.0) {
                Ok(_) => self.accepted += 1,
                Err(e) => {
                    self.rejected += 1;
                    first_err.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_err {
            log::warn(&format!(
                "order-spam: accepted {} rejected {} so far; first rejection this bar: {e:?}",
                self.accepted, self.rejected
            ));
        }
        Verdict::Keep
    }
}

export_strategy!(OrderSpam);
