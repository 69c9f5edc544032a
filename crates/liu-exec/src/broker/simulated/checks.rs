//! Order checks: prices, quantities and indicators, the order rate, exits holding shares, buying power and a tradeplan's limits.

use super::SimulatedBroker;
use crate::portfolio::Portfolio;
use liu_core::domain::{NANOS_PER_SECOND, OrderId, OrderRequest, Rejection, SymbolId, Timestamp};

/// Orders a strategy may submit per event-time minute unless told otherwise:
/// ten a second, far above what a strategy trading on bars needs.
pub const DEFAULT_MAX_ORDERS_PER_MINUTE: u32 = 600;

/// Orders in a row refused by the order rate or the allowed symbols after
/// which [`SimulatedBroker::violations_in_a_row`] tells the host to disable
/// the strategy: it is not listening to its rejections.
pub const MAX_VIOLATIONS_IN_A_ROW: u32 = 100;

/// Engine-side order checks beyond buying power (a tradeplan's `[limits]`,
/// and a strategy's own `[strategies.limits]` over them).
#[derive(Clone, Debug, PartialEq)]
pub struct OrderChecks {
    /// Largest absolute position value per symbol after the order.
    pub max_position_notional: Option<f64>,
    /// Most symbols with a position (or an order opening one) at once.
    pub max_open_positions: Option<usize>,
    /// Whether an order may open or grow a short.
    pub shortable: bool,
    /// Refuse an order identical to one still open.
    pub refuse_duplicates: bool,
    /// Orders accepted for checking per event-time minute (market clock, so
    /// backtests replay the same); the rest of the minute's are refused.
    pub max_orders_per_minute: u32,
    /// The only symbols (by name) the strategy may order; `None`: any.
    pub allowed_symbols: Option<Vec<String>>,
}

impl Default for OrderChecks {
    fn default() -> Self {
        Self {
            max_position_notional: None,
            max_open_positions: None,
            shortable: true,
            refuse_duplicates: false,
            max_orders_per_minute: DEFAULT_MAX_ORDERS_PER_MINUTE,
            allowed_symbols: None,
        }
    }
}

pub(super) fn valid_price(name: &str, price: Option<f64>) -> Result<f64, Rejection> {
    match price {
        Some(p) if p.is_finite() && p > 0.0 => Ok(p),
        Some(p) => Err(Rejection::InvalidPrice(format!("{name} must be a positive finite number, got {p}"))),
        None => Err(Rejection::InvalidPrice(format!("{name} is required for this order kind"))),
    }
}

/// Largest `indicators` document accepted with an order.
const MAX_INDICATORS: usize = 64 << 10;

/// `indicators` is persisted as JSON, so it must be an object (or empty).
pub(super) fn check_indicators(indicators: &str) -> Result<(), Rejection> {
    if indicators.is_empty() {
        return Ok(());
    }
    if indicators.len() > MAX_INDICATORS {
        return Err(Rejection::InvalidIndicators(format!("{} bytes, limit is {MAX_INDICATORS}", indicators.len())));
    }
    match serde_json::from_str::<serde_json::Value>(indicators) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        Ok(_) => Err(Rejection::InvalidIndicators("must be a JSON object".into())),
        Err(e) => Err(Rejection::InvalidIndicators(e.to_string())),
    }
}

impl SimulatedBroker {
    /// Counts the order against its event-time minute; over the limit it is
    /// refused before any other check, so a flood costs little.
    pub(super) fn check_rate(&mut self, now: Timestamp) -> Result<(), Rejection> {
        let minute = now.div_euclid(60 * NANOS_PER_SECOND);
        if minute != self.rate_minute {
            self.rate_minute = minute;
            self.orders_this_minute = 0;
        }
        self.orders_this_minute = self.orders_this_minute.saturating_add(1);
        let max = self.checks.max_orders_per_minute;
        if self.orders_this_minute > max {
            return Err(Rejection::LimitExceeded(format!("more than {max} orders per minute")));
        }
        Ok(())
    }

    /// Signed quantity of open orders in `symbol`; exit legs only close
    /// what is held, so they do not count.
    fn pending(&self, symbol: SymbolId) -> f64 {
        self.open.iter().filter(|o| o.request.symbol == symbol && o.leg_of.is_none()).map(|o| o.request.side.sign() * o.request.qty).sum()
    }

    /// Shares held by open exit legs are not available, as at Alpaca ("insufficient
    /// qty available"): an order closing them is refused; the bracket owns the exit.
    pub(super) fn check_held_by_exits(&self, request: &OrderRequest, portfolio: &Portfolio) -> Result<(), Rejection> {
        if self.routed.is_some() {
            return Ok(()); // the outside broker holds the legs, and checks
        }
        let mut held_by: Vec<(OrderId, f64)> = Vec::new();
        for o in self.open.iter().filter(|o| o.request.symbol == request.symbol && o.request.side == request.side) {
            if let Some(parent) = o.leg_of
                && !held_by.iter().any(|(p, _)| *p == parent)
            {
                held_by.push((parent, o.request.qty));
            }
        }
        let held: f64 = held_by.iter().map(|(_, q)| q).sum();
        if held == 0.0 {
            return Ok(());
        }
        let position = portfolio.position(request.symbol).map_or(0.0, |p| p.qty);
        let closable = position.abs() * f64::from(u8::from(request.side.sign() * position < 0.0));
        let available = (closable - held).max(0.0);
        if request.qty > available {
            return Err(Rejection::LimitExceeded(format!(
                "insufficient qty available: {held} held by open bracket exit orders, {available} available"
            )));
        }
        Ok(())
    }

    /// An order that grows the symbol's projected position must fit in the
    /// buying power left after every projected position; reducing orders pass.
    pub(super) fn check_buying_power(&self, request: &OrderRequest, last: f64, portfolio: &Portfolio) -> Result<(), Rejection> {
        let pos = portfolio.position(request.symbol).map_or(0.0, |p| p.qty);
        let projected = pos + self.pending(request.symbol);
        let after = projected + request.side.sign() * request.qty;
        if after.abs() <= projected.abs() {
            return Ok(());
        }
        let price = request.limit_price.unwrap_or(last);
        let required = (after.abs() - projected.abs()) * price;
        let committed: f64 = portfolio
            .positions()
            .map(|(s, p)| {
                let mark = if p.last_price > 0.0 { p.last_price } else { last };
                (p.qty + self.pending(s)).abs() * mark
            })
            .sum();
        let available = portfolio.equity() * self.leverage - committed;
        if required > available {
            return Err(Rejection::InsufficientBuyingPower(format!("order needs {required:.2}, {:.2} available", available.max(0.0))));
        }
        Ok(())
    }

    pub(super) fn check_limits(&self, request: &OrderRequest, last: f64, portfolio: &Portfolio) -> Result<(), Rejection> {
        let c = &self.checks;
        if c.refuse_duplicates && self.open.iter().any(|o| o.request == *request) {
            return Err(Rejection::DuplicateOpenOrder);
        }
        let projected = |s: SymbolId| portfolio.position(s).map_or(0.0, |p| p.qty) + self.pending(s);
        let before = projected(request.symbol);
        let after = before + request.side.sign() * request.qty;
        if after < 0.0 && after < before.min(0.0) && !c.shortable {
            return Err(Rejection::NotShortable);
        }
        if let Some(max) = c.max_position_notional {
            let notional = after.abs() * request.limit_price.unwrap_or(last);
            if after.abs() > before.abs() && notional > max {
                return Err(Rejection::LimitExceeded(format!("position of {notional:.2} over the {max:.2} per-symbol limit")));
            }
        }
        if let Some(max) = c.max_open_positions
            && before == 0.0
            && after != 0.0
        {
            let open = portfolio.positions().filter(|(s, _)| projected(*s) != 0.0).count();
            if open >= max {
                return Err(Rejection::LimitExceeded(format!("{open} open positions, the limit is {max}")));
            }
        }
        Ok(())
    }
}
