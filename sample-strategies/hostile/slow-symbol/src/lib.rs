//! Hostile (slow): burns `spin` iterations on every bar of one symbol, so
//! the consumer that owns that symbol falls behind the market while the
//! other consumers keep up.

use liu_strategy::prelude::*;

struct SlowSymbol {
    target: String,
    spin: i64,
    slow: Option<SymbolId>,
}

impl Strategy for SlowSymbol {
    const NAME: &'static str = "hostile-slow-symbol";
    fn params() -> Vec<ParamSpec> {
        vec![
            ParamSpec::text("symbol", "SYM003", "the symbol to be slow on"),
            ParamSpec::integer("spin", 50_000_000, "loop iterations per bar of that symbol"),
        ]
    }
    fn new(params: &Params) -> Result<Self, String> {
        Ok(Self { target: params.text("symbol")?.to_owned(), spin: params.integer("spin")?, slow: None })
    }
    fn add_symbol(&mut self, symbol: SymbolId, name: &str) -> Verdict {
        if name == self.target {
            self.slow = Some(symbol);
        }
        Verdict::Keep
    }
    fn on_bar(&mut self, symbol: SymbolId, _tf: Timeframe, bar: &Bar) -> Verdict {
        if self.slow == Some(symbol) {
            let mut x = bar.close;
            for _ in 0..self.spin {
                x = std::hint::black_box(x * 1.000_000_1);
            }
            std::hint::black_box(x);
        }
        Verdict::Keep
    }
}

export_strategy!(SlowSymbol);
