//! Hostile: unbounded, non-tail recursion on bar `after`. Attacks the
//! guest stack limit: wasmtime must trap with a stack overflow (not crash
//! the host) and the engine disable only this instance.

use liu_strategy::prelude::*;
use std::hint::black_box;

struct DeepRecursion { after: i64, seen: i64 }

#[inline(never)]
fn dive(depth: u64) -> u64 {
    // A frame-sized local and work after the call keep this from becoming a
    // loop or a tail call.
    let pad = black_box([depth; 16]);
    // Never true, but the compiler cannot know that.
    if depth == black_box(u64::MAX) {
        return pad[0];
    }
    let below = dive(black_box(depth + 1));
    black_box(below.wrapping_add(pad[(depth % 16) as usize]))
}

impl Strategy for DeepRecursion {
    const NAME: &'static str = "hostile-deep-recursion";
    fn params() -> Vec<ParamSpec> {
        vec![ParamSpec::integer("after", 10, "bars to process before recursing")]
    }
    fn new(params: &Params) -> Result<Self, String> {
        Ok(Self { after: params.integer("after")?, seen: 0 })
    }
    fn on_bar(&mut self, _symbol: SymbolId, _tf: Timeframe, _bar: &Bar) -> Verdict {
        self.seen += 1;
        if self.seen >= self.after {
            black_box(dive(black_box(0)));
        }
        Verdict::Keep
    }
}

export_strategy!(DeepRecursion);
