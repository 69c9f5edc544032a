//! The engine-side broker of one strategy instance: checks orders, keeps
//! them open, and fills them against later bars (backtests and the `paper`
//! broker) — or, once [`SimulatedBroker::routed_out`], hands them to an
//! outside broker and applies the fills that broker reports.
//!
//! Fill model: a market order fills at the next bar's open ([`FillAt::NextOpen`],
//! the default) or at once at the current close ([`FillAt::Close`], Liu's
//! behaviour). Limit and stop orders fill when a later bar trades through the
//! price: at the price, or at the open when the bar gaps through it.
//!
//! Brackets: an order carrying a stop loss and/or a take profit, once it
//! fills, leaves exit legs as Alpaca's bracket and OTO orders do: a stop
//! (at the stop loss) and a limit (at the take profit) for the filled
//! quantity, on the other side. They are matched from the bar after the
//! fill. One leg filling cancels the other; when one bar touches both, the
//! stop fills first (the bar's path is unknown: the cautious reading). Legs
//! are cancelled when the position they would close is gone (the strategy
//! closed it), so they never open a position. Leg fills are the strategy's
//! own fills, with `{"bracket_leg": "stop_loss" | "take_profit",
//! "parent_order_id": N}` as their indicators.

mod brackets;
mod checks;
mod commission;
mod fill_rule;
mod open_orders;

use crate::portfolio::{Execution, Portfolio};
use checks::{check_indicators, valid_price};
use fill_rule::match_price;
#[cfg(test)]
use liu_core::domain::Side;
use liu_core::domain::{
    Bar, Fill, NANOS_PER_SECOND, OrderId, OrderKind, OrderRequest, OrderStatus, OrderUpdate, Rejection, SymbolId, TimeInForce, Timestamp,
};
use liu_core::market::MarketState;
use open_orders::OpenOrder;

pub use checks::{DEFAULT_MAX_ORDERS_PER_MINUTE, MAX_VIOLATIONS_IN_A_ROW, OrderChecks};
pub use commission::Commission;
pub use fill_rule::{FillAt, RestingOrder, fill_price};
pub use open_orders::{RestoreError, RestoredOrder};

#[derive(Debug)]
pub struct SimulatedBroker {
    open: Vec<OpenOrder>,
    next_id: OrderId,
    fill_at: FillAt,
    commission: Commission,
    /// Gross exposure may not exceed equity times this.
    leverage: f64,
    checks: OrderChecks,
    /// The event-time minute being counted and the orders submitted in it.
    rate_minute: i64,
    orders_this_minute: u32,
    /// Orders refused in a row by the order rate or the allowed symbols.
    violations: u32,
    /// `Some` when orders go to an outside broker: requests not yet sent.
    routed: Option<Vec<RoutedRequest>>,
    /// The open orders as [`Self::take_open_order_changes`] last saw them.
    reported: Vec<OpenOrder>,
}

/// A request for the outside broker, in the order the strategy made them.
#[derive(Clone, Debug, PartialEq)]
pub enum RoutedRequest {
    Submit {
        id: OrderId,
        request: OrderRequest,
    },
    /// `placed_as`: the `client_order_id` of an order put back from an
    /// earlier process (this process's own orders have none).
    Cancel {
        id: OrderId,
        placed_as: Option<String>,
    },
}

fn day_of(time: Timestamp) -> i64 {
    time.div_euclid(86_400 * NANOS_PER_SECOND)
}

impl SimulatedBroker {
    pub fn new(fill_at: FillAt, commission: Commission, leverage: f64) -> Self {
        Self {
            open: Vec::new(),
            next_id: 1,
            fill_at,
            commission,
            leverage,
            checks: OrderChecks::default(),
            rate_minute: i64::MIN,
            orders_this_minute: 0,
            violations: 0,
            routed: None,
            reported: Vec::new(),
        }
    }

    /// Sends accepted orders to an outside broker (see [`Self::take_routed`])
    /// instead of matching them against bars; fills come back through
    /// [`Self::on_routed_update`].
    pub fn routed_out(mut self) -> Self {
        self.routed = Some(Vec::new());
        self
    }

    /// Requests for the outside broker since the previous call.
    pub fn take_routed(&mut self) -> Vec<RoutedRequest> {
        self.routed.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Applies what the outside broker reported for order `id`: a fill (or
    /// partial fill) of `qty` at `price` goes to the portfolio and `fills`;
    /// a final status closes the order. Returns false for an order this
    /// broker does not hold (already closed, or not its own).
    #[allow(clippy::too_many_arguments)]
    pub fn on_routed_update(
        &mut self,
        id: OrderId,
        status: OrderStatus,
        qty: f64,
        price: f64,
        time: Timestamp,
        reason: Option<String>,
        portfolio: &mut Portfolio,
        fills: &mut Vec<Fill>,
        updates: &mut Vec<OrderUpdate>,
    ) -> bool {
        let Some(index) = self.open.iter().position(|o| o.id == id) else {
            return false;
        };
        if matches!(status, OrderStatus::Filled | OrderStatus::PartiallyFilled) && qty > 0.0 {
            let mut part = self.open[index].clone();
            part.request.qty = qty.min(part.request.qty);
            self.execute(&part, price, time, portfolio, fills, &mut Vec::new());
            self.open[index].request.qty -= part.request.qty;
        }
        // The order's quantity is now what remains: `update` reports it.
        let order = &self.open[index];
        let done = status != OrderStatus::PartiallyFilled || order.request.qty <= 0.0;
        updates.push(update(order, status, qty, price, time, reason));
        if done {
            self.open.remove(index);
        }
        true
    }

    /// Adds the engine-side checks of a live session.
    pub fn with_checks(mut self, checks: OrderChecks) -> Self {
        self.checks = checks;
        self
    }

    /// Orders refused in a row by the order rate or the allowed symbols
    /// (an accepted order resets it); see [`MAX_VIOLATIONS_IN_A_ROW`].
    pub fn violations_in_a_row(&self) -> u32 {
        self.violations
    }

    /// Checks a request and accepts it. With [`FillAt::Close`] a market order
    /// fills at once; its fill and update are appended to `fills` / `updates`.
    pub fn submit(
        &mut self,
        request: OrderRequest,
        market: &MarketState,
        portfolio: &mut Portfolio,
        fills: &mut Vec<Fill>,
        updates: &mut Vec<OrderUpdate>,
    ) -> Result<OrderId, Rejection> {
        let result = self.check_rate(market.now()).and_then(|()| self.accept(request, market, portfolio, fills, updates));
        match &result {
            Ok(_) => self.violations = 0,
            Err(Rejection::SymbolNotAllowed) => self.violations += 1,
            Err(Rejection::LimitExceeded(_)) if self.orders_this_minute > self.checks.max_orders_per_minute => {
                self.violations += 1;
            }
            Err(_) => {}
        }
        result
    }

    fn accept(
        &mut self,
        request: OrderRequest,
        market: &MarketState,
        portfolio: &mut Portfolio,
        fills: &mut Vec<Fill>,
        updates: &mut Vec<OrderUpdate>,
    ) -> Result<OrderId, Rejection> {
        if !(request.qty.is_finite() && request.qty > 0.0) {
            return Err(Rejection::InvalidQuantity(format!("must be a positive finite number, got {}", request.qty)));
        }
        let Some(name) = market.symbol_name(request.symbol) else {
            return Err(Rejection::UnknownSymbol);
        };
        if self.checks.allowed_symbols.as_ref().is_some_and(|allowed| !allowed.iter().any(|s| s == name)) {
            return Err(Rejection::SymbolNotAllowed);
        }
        match request.kind {
            OrderKind::Market => {}
            OrderKind::Limit => {
                valid_price("limit price", request.limit_price)?;
            }
            OrderKind::Stop => {
                valid_price("stop price", request.stop_price)?;
            }
            OrderKind::StopLimit => {
                valid_price("limit price", request.limit_price)?;
                valid_price("stop price", request.stop_price)?;
            }
        }
        for (name, p) in [("stop loss", request.stop_loss), ("take profit", request.take_profit)] {
            if p.is_some() {
                valid_price(name, p)?;
            }
        }
        check_indicators(&request.indicators)?;
        let Some(last) = market.last_price(request.symbol) else {
            return Err(Rejection::InvalidPrice("no price yet for this symbol".into()));
        };
        self.check_held_by_exits(&request, portfolio)?;
        self.check_buying_power(&request, last, portfolio)?;
        self.check_limits(&request, last, portfolio)?;

        let id = self.next_id;
        self.next_id += 1;
        if let Some(routed) = &mut self.routed {
            routed.push(RoutedRequest::Submit { id, request: request.clone() });
            self.open.push(OpenOrder::new(id, request));
        } else if self.fill_at == FillAt::Close && request.kind == OrderKind::Market {
            let order = OpenOrder::new(id, request);
            self.execute(&order, last, market.now(), portfolio, fills, updates);
            self.after_fill(&order, market.now(), portfolio, updates);
        } else {
            self.open.push(OpenOrder::new(id, request));
        }
        Ok(id)
    }

    pub fn cancel(&mut self, id: OrderId, now: Timestamp, updates: &mut Vec<OrderUpdate>) -> Result<(), Rejection> {
        let index = self.open.iter().position(|o| o.id == id).ok_or(Rejection::UnknownOrder)?;
        if let Some(routed) = &mut self.routed {
            // Open until the outside broker confirms: it may still fill.
            let order = &mut self.open[index];
            if !std::mem::replace(&mut order.cancel_sent, true) {
                routed.push(RoutedRequest::Cancel { id, placed_as: order.placed_as.clone() });
            }
            return Ok(());
        }
        let order = self.open.remove(index);
        updates.push(update(&order, OrderStatus::Canceled, 0.0, 0.0, now, Some("canceled by strategy".into())));
        Ok(())
    }

    pub fn leverage(&self) -> f64 {
        self.leverage
    }

    /// Cancels every open order (e.g. when the strategy is disabled).
    pub fn cancel_all(&mut self, now: Timestamp, reason: &str, updates: &mut Vec<OrderUpdate>) {
        if let Some(routed) = &mut self.routed {
            for order in self.open.iter_mut().filter(|o| !o.cancel_sent) {
                order.cancel_sent = true;
                routed.push(RoutedRequest::Cancel { id: order.id, placed_as: order.placed_as.clone() });
            }
            return;
        }
        for order in self.open.drain(..) {
            updates.push(update(&order, OrderStatus::Canceled, 0.0, 0.0, now, Some(reason.to_owned())));
        }
    }

    pub fn has_open_orders(&self) -> bool {
        !self.open.is_empty()
    }

    /// Matches the open orders of `symbol` against a new bar, before the
    /// strategy sees it, in the order they were placed. Fills go to the
    /// portfolio, `fills` and `updates`.
    pub fn on_bar(
        &mut self,
        symbol: SymbolId,
        bar: &Bar,
        portfolio: &mut Portfolio,
        fills: &mut Vec<Fill>,
        updates: &mut Vec<OrderUpdate>,
    ) {
        if self.open.is_empty() || self.routed.is_some() {
            return;
        }
        let today = day_of(bar.time);
        // By id: a fill may cancel other orders (a bracket's other leg) or
        // add some (its legs, live from the next bar).
        let due: Vec<OrderId> =
            self.open.iter().filter(|o| o.request.symbol == symbol && bar.time > o.active_after).map(|o| o.id).collect();
        for id in due {
            let Some(i) = self.open.iter().position(|o| o.id == id) else {
                continue;
            };
            let order = &mut self.open[i];
            let first_day = *order.first_day.get_or_insert(today);
            let tif = order.request.time_in_force;
            if tif == TimeInForce::Day && today > first_day {
                let order = self.open.remove(i);
                updates.push(update(&order, OrderStatus::Expired, 0.0, 0.0, bar.time, Some("day order expired".into())));
                continue;
            }
            if let Some(price) = match_price(order, bar) {
                let mut order = self.open.remove(i);
                if order.leg_of.is_some() {
                    // An exit closes at most what is held, and never opens a position.
                    let held = portfolio.position(symbol).map_or(0.0, |p| p.qty);
                    if order.request.side.sign() * held >= 0.0 {
                        self.open.insert(i, order);
                        self.drop_orphan_legs(symbol, bar.time, portfolio, updates);
                        continue;
                    }
                    order.request.qty = order.request.qty.min(held.abs());
                }
                self.execute(&order, price, bar.time, portfolio, fills, updates);
                if let Some(parent) = order.leg_of {
                    // One exit filled: the bracket's other leg goes.
                    self.open.retain(|o| {
                        if o.leg_of != Some(parent) {
                            return true;
                        }
                        updates.push(update(
                            o,
                            OrderStatus::Canceled,
                            0.0,
                            0.0,
                            bar.time,
                            Some("the other exit of the bracket filled".into()),
                        ));
                        false
                    });
                }
                self.after_fill(&order, bar.time, portfolio, updates);
                continue;
            }
            if matches!(tif, TimeInForce::Ioc | TimeInForce::Fok | TimeInForce::Opg | TimeInForce::Cls) {
                let order = self.open.remove(i);
                updates.push(update(
                    &order,
                    OrderStatus::Canceled,
                    0.0,
                    0.0,
                    bar.time,
                    Some(format!("{tif:?} order not filled on its bar").to_lowercase()),
                ));
            }
        }
    }

    fn execute(
        &self,
        order: &OpenOrder,
        price: f64,
        time: Timestamp,
        portfolio: &mut Portfolio,
        fills: &mut Vec<Fill>,
        updates: &mut Vec<OrderUpdate>,
    ) {
        let r = &order.request;
        portfolio.apply(
            &Execution {
                order_id: order.id,
                symbol: r.symbol,
                side: r.side,
                qty: r.qty,
                price,
                fee: self.commission.fee(r.qty, price),
                time,
                stop_loss: r.stop_loss,
                take_profit: r.take_profit,
                indicators: &r.indicators,
            },
            fills,
        );
        updates.push(update(order, OrderStatus::Filled, r.qty, price, time, None));
    }
}

fn update(order: &OpenOrder, status: OrderStatus, qty: f64, price: f64, time: Timestamp, reason: Option<String>) -> OrderUpdate {
    let r = &order.request;
    OrderUpdate {
        order_id: order.id,
        symbol: r.symbol,
        side: r.side,
        status,
        fill_qty: qty,
        fill_price: price,
        remaining_qty: if status == OrderStatus::Filled { 0.0 } else { r.qty },
        time,
        reason,
    }
}

#[cfg(test)]
mod tests;
