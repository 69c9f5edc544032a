//! Hostile: burns fuel slowly. Each bar does 1.5x the work of the one
//! before, starting at `start` iterations, so early bars are cheap and a
//! later one exceeds the per-event fuel budget. Attacks the per-event
//! fuel/deadline limit (it must fire mid-run, not just on bar one).

use liu_strategy::prelude::*;

struct SlowBurn { work: f64, bar: u64 }

impl Strategy for SlowBurn {
    const NAME: &'static str = "hostile-slow-burn";
    fn params() -> Vec<ParamSpec> {
        vec![ParamSpec::integer("start", 1000, "loop iterations on the first bar")]
    }
    fn new(params: &Params) -> Result<Self, String> {
        Ok(Self { work: params.integer("start")? as f64, bar: 0 })
    }
    fn on_bar(&mut self, _symbol: SymbolId, _tf: Timeframe, bar: &Bar) -> Verdict {
        self.bar += 1;
        let n = self.work as u64;
        log::debug(&format!("slow-burn: bar {} spins {n}", self.bar));
        let mut x = bar.close;
        for _ in 0..n {
            x = std::hint::black_box(x * 1.000_000_1);
        }
        std::hint::black_box(x);
        self.work *= 1.5;
        Verdict::Keep
    }
}

export_strategy!(SlowBurn);
