//! Momentum, long only: a port of the idea of LiuAlgoTrader's momentum strategy.
//!
//! Entry (flat, no order pending): MACD above zero, rising, and above its
//! signal line; RSI below `rsi-entry-max`; close above the VWAP of the last
//! `vwap-bars` bars. The stop is the nearest support level below the close
//! (else close - 2 ATR); the target is `reward-risk` times the risk above
//! the close. Both travel with the order as a bracket and are recorded with
//! the fill.
//!
//! Exit (long): the bracket's, at the stop or at the target, whichever the
//! price reaches first (the broker holds the shares for them until then).
//!
//! All indicators are the host's `fincalcs`.

use liu_strategy::fincalcs;
use liu_strategy::prelude::*;
use liu_strategy::{DeterministicMap, OrderStatus, TimeInForce};

struct MomentumLong {
    qty: f64,
    lookback: u32,
    vwap_bars: u32,
    rsi_entry_max: f64,
    reward_risk: f64,
    symbols: DeterministicMap<SymbolId, Book>,
}

#[derive(Default)]
struct Book {
    /// An entry was submitted and has not filled or ended yet.
    pending: bool,
}

impl Strategy for MomentumLong {
    const NAME: &'static str = "momentum-long";

    fn params() -> Vec<ParamSpec> {
        vec![
            ParamSpec::float("qty", 100.0, "shares per entry"),
            ParamSpec::integer("lookback", 60, "bars of history fed to the indicators"),
            ParamSpec::integer("vwap-bars", 20, "bars in the VWAP the close must beat"),
            ParamSpec::float("rsi-entry-max", 75.0, "no entry when RSI(14) is above this"),
            ParamSpec::float("reward-risk", 2.0, "target distance as a multiple of the stop distance"),
        ]
    }

    fn new(params: &Params) -> Result<Self, String> {
        let lookback = params.integer("lookback")?;
        let vwap_bars = params.integer("vwap-bars")?;
        if !(35..=10_000).contains(&lookback) {
            return Err(format!("lookback must be in 35..=10000 (MACD needs 35 bars), got {lookback}"));
        }
        if !(1..=lookback).contains(&vwap_bars) {
            return Err(format!("vwap-bars must be in 1..=lookback, got {vwap_bars}"));
        }
        let qty = params.float("qty")?;
        if !(qty > 0.0 && qty.is_finite()) {
            return Err(format!("qty must be a positive number, got {qty}"));
        }
        Ok(Self {
            qty,
            lookback: lookback as u32,
            vwap_bars: vwap_bars as u32,
            rsi_entry_max: params.float("rsi-entry-max")?,
            reward_risk: params.float("reward-risk")?,
            symbols: DeterministicMap::default(),
        })
    }

    fn add_symbol(&mut self, symbol: SymbolId, _name: &str) -> Verdict {
        self.symbols.insert(symbol, Book::default());
        Verdict::Keep
    }

    fn on_bar(&mut self, symbol: SymbolId, timeframe: Timeframe, bar: &Bar) -> Verdict {
        let Some(book) = self.symbols.get_mut(&symbol) else { return Verdict::Keep };
        if book.pending {
            return Verdict::Keep;
        }
        let bars = market::bars(symbol, timeframe, self.lookback);
        if bars.len() < self.lookback as usize {
            return Verdict::Keep;
        }
        let closes: Vec<f64> = bars.iter().map(|b| b.close).collect();
        let rsi = last(&fincalcs::rsi(&closes, 14));
        let position = market::get_position(symbol).qty;

        if position > 0.0 {
            return Verdict::Keep; // the bracket exits
        }

        let macd = fincalcs::macd(&closes, 12, 26, 9);
        let (m, m_prev, signal) = (last(&macd.macd), nth_last(&macd.macd, 1), last(&macd.signal));
        let vwap = fincalcs::vwap(&bars[bars.len() - self.vwap_bars as usize..]);
        let entry = m > 0.0 && m > m_prev && m > signal && rsi < self.rsi_entry_max && bar.close > vwap;
        if !entry {
            return Verdict::Keep;
        }
        let support = fincalcs::support_resistance(&bars, 3)
            .support
            .into_iter()
            .find(|level| *level < bar.close);
        let stop = support.unwrap_or_else(|| bar.close - 2.0 * last(&fincalcs::atr(&bars, 14)));
        if !(stop < bar.close) {
            return Verdict::Keep;
        }
        let target = bar.close + self.reward_risk * (bar.close - stop);

        let mut request = orders::request(symbol, Side::Buy, self.qty);
        // Good until canceled: a day bracket's exits would expire with the day.
        request.time_in_force = TimeInForce::Gtc;
        request.stop_loss = Some(stop);
        request.take_profit = Some(target);
        request.indicators = format!(
            r#"{{"macd":{},"macd_signal":{},"rsi":{},"vwap":{},"stop":{},"target":{}}}"#,
            json_number(m),
            json_number(signal),
            json_number(rsi),
            json_number(vwap),
            json_number(stop),
            json_number(target)
        );
        book.pending = orders::submit(&request).is_ok();
        Verdict::Keep
    }

    fn on_order_update(&mut self, update: &OrderUpdate) {
        if update.remaining_qty > 0.0 && update.status == OrderStatus::PartiallyFilled {
            return;
        }
        if let Some(book) = self.symbols.get_mut(&update.symbol) {
            book.pending = false;
        }
    }
}

fn last(series: &[f64]) -> f64 {
    nth_last(series, 0)
}

fn nth_last(series: &[f64], n: usize) -> f64 {
    series.len().checked_sub(n + 1).map_or(f64::NAN, |i| series[i])
}

/// JSON has no NaN or infinity.
fn json_number(v: f64) -> String {
    if v.is_finite() { format!("{v}") } else { "null".to_owned() }
}

export_strategy!(MomentumLong);
