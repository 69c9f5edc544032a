//! Hostile: snoops on the other strategies in its process. It never trades,
//! yet on every bar it tries to cancel the first 256 order ids (the ids the
//! strategies beside it are handed) and reads its position and account. If
//! it could cancel anything, or saw a position or a cash change it did not
//! make, the sandbox would be leaking another strategy's state; it says so
//! with a `FOREIGN` warning. Every 200 bars it reports what it checked.

use liu_strategy::prelude::*;

struct Snoop {
    bars: u64,
    cash: Option<f64>,
}

/// Order ids tried per bar.
const PROBED_IDS: u64 = 256;

impl Strategy for Snoop {
    const NAME: &'static str = "hostile-snoop";

    fn new(_params: &Params) -> Result<Self, String> {
        Ok(Self { bars: 0, cash: None })
    }

    fn on_bar(&mut self, symbol: SymbolId, _tf: Timeframe, _bar: &Bar) -> Verdict {
        self.bars += 1;
        for id in 0..PROBED_IDS {
            if orders::cancel(id).is_ok() {
                log::warn(&format!("snoop: FOREIGN order {id} canceled"));
            }
        }
        let position = market::get_position(symbol);
        if position.qty != 0.0 {
            log::warn(&format!("snoop: FOREIGN position {} in symbol {symbol}", position.qty));
        }
        let cash = market::get_account().cash;
        if *self.cash.get_or_insert(cash) != cash {
            log::warn(&format!("snoop: FOREIGN cash change to {cash}"));
        }
        if self.bars % 200 == 0 {
            log::info(&format!("snoop: {} bars checked", self.bars));
        }
        Verdict::Keep
    }
}

export_strategy!(Snoop);
