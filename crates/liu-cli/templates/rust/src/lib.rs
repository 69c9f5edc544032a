//! {{name}}: buys `qty` of each symbol on its first bar and holds it.
//! Replace the logic; the SDK's documentation lists what a strategy may use.

use liu_strategy::prelude::*;

struct BuyAndHold {
    qty: f64,
    /// Symbols already bought, indexed by symbol id.
    bought: Vec<bool>,
}

impl Strategy for BuyAndHold {
    const NAME: &'static str = "{{name}}";

    fn params() -> Vec<ParamSpec> {
        vec![ParamSpec::float("qty", 10.0, "shares to buy")]
    }

    fn new(params: &Params) -> Result<Self, String> {
        let qty = params.float("qty")?;
        if !(qty > 0.0 && qty.is_finite()) {
            return Err(format!("qty must be a positive number, got {qty}"));
        }
        Ok(Self { qty, bought: Vec::new() })
    }

    fn on_bar(&mut self, symbol: SymbolId, _timeframe: Timeframe, _bar: &Bar) -> Verdict {
        let index = symbol as usize;
        if self.bought.len() <= index {
            self.bought.resize(index + 1, false);
        }
        if !self.bought[index] {
            self.bought[index] = orders::market(symbol, Side::Buy, self.qty).is_ok();
        }
        Verdict::Keep
    }
}

export_strategy!(BuyAndHold);
