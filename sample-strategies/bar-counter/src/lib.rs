//! Counts each symbol's bars across sessions with the `state` store: a live
//! session picks up the counts the last one kept (and says so in its log).
//! Shows how a strategy keeps state between runs; it never trades.

use liu_strategy::prelude::*;

#[derive(Default)]
struct BarCounter {
    /// Indexed by symbol id: the state key and the count so far.
    symbols: Vec<Option<(String, u64)>>,
}

impl Strategy for BarCounter {
    const NAME: &'static str = "bar-counter";

    fn new(_params: &Params) -> Result<Self, String> {
        Ok(Self::default())
    }

    fn add_symbol(&mut self, symbol: SymbolId, name: &str) -> Verdict {
        let key = format!("bars:{name}");
        let kept = state::get(&key).and_then(|v| v.parse().ok()).unwrap_or(0);
        if kept > 0 {
            log::info(&format!("bar-counter: resuming {name} at {kept}"));
        }
        let index = symbol as usize;
        if self.symbols.len() <= index {
            self.symbols.resize_with(index + 1, || None);
        }
        self.symbols[index] = Some((key, kept));
        Verdict::Keep
    }

    fn on_bar(&mut self, symbol: SymbolId, _timeframe: Timeframe, _bar: &Bar) -> Verdict {
        if let Some(Some((key, count))) = self.symbols.get_mut(symbol as usize) {
            *count += 1;
            if let Err(e) = state::set(key, &count.to_string()) {
                log::warn(&format!("bar-counter: {e}"));
            }
        }
        Verdict::Keep
    }
}

export_strategy!(BarCounter);
