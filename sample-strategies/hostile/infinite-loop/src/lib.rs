//! Hostile: trades normally, then spins forever on bar `after`.
//! The sandbox must stop it (fuel or deadline) and disable only this instance.

use liu_strategy::prelude::*;

struct InfiniteLoop { after: i64, seen: i64 }

impl Strategy for InfiniteLoop {
    const NAME: &'static str = "hostile-infinite-loop";
    fn params() -> Vec<ParamSpec> {
        vec![ParamSpec::integer("after", 50, "bars to process before looping")]
    }
    fn new(params: &Params) -> Result<Self, String> {
        Ok(Self { after: params.integer("after")?, seen: 0 })
    }
    fn on_bar(&mut self, symbol: SymbolId, _tf: Timeframe, _bar: &Bar) -> Verdict {
        self.seen += 1;
        if self.seen == 1 {
            let _ = orders::market(symbol, Side::Buy, 1.0);
        }
        if self.seen >= self.after {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        Verdict::Keep
    }
}

export_strategy!(InfiniteLoop);
