//! Hostile: panics (a trap) on bar `after`. The message must reach the
//! engine's log and `algo_run.end_reason`.

use liu_strategy::prelude::*;

struct Panics { after: i64, seen: i64 }

impl Strategy for Panics {
    const NAME: &'static str = "hostile-panic";
    fn params() -> Vec<ParamSpec> {
        vec![ParamSpec::integer("after", 20, "bars to process before panicking")]
    }
    fn new(params: &Params) -> Result<Self, String> {
        Ok(Self { after: params.integer("after")?, seen: 0 })
    }
    fn on_bar(&mut self, _symbol: SymbolId, _tf: Timeframe, bar: &Bar) -> Verdict {
        self.seen += 1;
        if self.seen >= self.after {
            panic!("deliberate failure at close {}", bar.close);
        }
        Verdict::Keep
    }
}

export_strategy!(Panics);
