//! SMA crossover, long and short.
//!
//! On each bar: when the fast SMA crosses above the slow one (previous fast <
//! previous slow and current fast > current slow) close any short and go long
//! `qty`; on the opposite cross close any long and go short `qty`.
//!
//! On a symbol's first bar the averages start from the history the engine
//! already holds (`market::closes`: a live session's warm-up), so a warm
//! session can trade on its first live bar; a backtest has none there.

use liu_strategy::prelude::*;
use liu_strategy::rolling::Window;

struct SmaCross {
    fast: usize,
    slow: usize,
    qty: f64,
    /// Indexed by symbol id (dense, small integers).
    symbols: Vec<Option<Series>>,
}

/// Per-symbol state: the two windows and the previous bar's averages.
struct Series {
    fast: Window,
    slow: Window,
    previous: Option<(f64, f64)>,
    /// Whether the windows were filled from the engine's history yet.
    seeded: bool,
}

impl Strategy for SmaCross {
    const NAME: &'static str = "sma-cross";

    fn params() -> Vec<ParamSpec> {
        vec![
            ParamSpec::integer("fast", 10, "fast SMA period, in bars"),
            ParamSpec::integer("slow", 30, "slow SMA period, in bars"),
            ParamSpec::float("qty", 100.0, "shares per position"),
        ]
    }

    fn new(params: &Params) -> Result<Self, String> {
        let fast = params.integer("fast")?;
        let slow = params.integer("slow")?;
        let qty = params.float("qty")?;
        if fast < 1 || slow <= fast {
            return Err(format!("need 1 <= fast < slow, got fast={fast} slow={slow}"));
        }
        if !(qty > 0.0 && qty.is_finite()) {
            return Err(format!("qty must be a positive number, got {qty}"));
        }
        Ok(Self { fast: fast as usize, slow: slow as usize, qty, symbols: Vec::new() })
    }

    fn add_symbol(&mut self, symbol: SymbolId, _name: &str) -> Verdict {
        let series = Series { fast: Window::new(self.fast), slow: Window::new(self.slow), previous: None, seeded: false };
        let index = symbol as usize;
        if self.symbols.len() <= index {
            self.symbols.resize_with(index + 1, || None);
        }
        self.symbols[index] = Some(series);
        Verdict::Keep
    }

    fn on_bar(&mut self, symbol: SymbolId, timeframe: Timeframe, bar: &Bar) -> Verdict {
        let Some(Some(s)) = self.symbols.get_mut(symbol as usize) else { return Verdict::Keep };
        if !s.seeded {
            s.seeded = true;
            // The closes before this bar, as if the strategy had seen them.
            let closes = market::closes(symbol, timeframe, self.slow as u32 + 1);
            for &close in closes.iter().take(closes.len().saturating_sub(1)) {
                s.fast.push(close);
                s.slow.push(close);
                if let (Some(fast), Some(slow)) = (s.fast.mean(), s.slow.mean()) {
                    s.previous = Some((fast, slow));
                }
            }
        }
        s.fast.push(bar.close);
        s.slow.push(bar.close);
        let (Some(fast), Some(slow)) = (s.fast.mean(), s.slow.mean()) else { return Verdict::Keep };
        if let Some((prev_fast, prev_slow)) = s.previous.replace((fast, slow)) {
            // Move to +qty / -qty in one order: it covers any opposite position first.
            let target = if prev_fast < prev_slow && fast > slow {
                self.qty
            } else if prev_fast > prev_slow && fast < slow {
                -self.qty
            } else {
                return Verdict::Keep;
            };
            let delta = target - market::get_position(symbol).qty;
            if delta > 0.0 {
                let _ = orders::market(symbol, Side::Buy, delta);
            } else if delta < 0.0 {
                let _ = orders::market(symbol, Side::Sell, -delta);
            }
        }
        Verdict::Keep
    }
}

export_strategy!(SmaCross);
