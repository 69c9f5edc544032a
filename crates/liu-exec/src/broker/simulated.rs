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

use crate::portfolio::{Execution, Portfolio};
use liu_core::domain::{
    Bar, Fill, NANOS_PER_SECOND, OrderId, OrderKind, OrderRequest, OrderStatus, OrderUpdate, Rejection, Side, SymbolId, TimeInForce,
    Timestamp,
};
use liu_core::market::MarketState;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum FillAt {
    /// Market orders fill at the next bar's open.
    #[default]
    NextOpen,
    /// Market orders fill at the current bar's close.
    Close,
}

/// Commission charged on every fill: per share plus a percent of notional.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Commission {
    pub per_share: f64,
    pub percent: f64,
}

impl Commission {
    pub fn fee(&self, qty: f64, price: f64) -> f64 {
        self.per_share * qty + self.percent / 100.0 * qty * price
    }
}

/// An order the broker holds; serialized as a restarted consumer reads it
/// back (`open_orders`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct OpenOrder {
    id: OrderId,
    request: OrderRequest,
    /// A stop-limit whose stop has been hit rests as a limit.
    triggered: bool,
    /// UTC day (days since epoch) of the first bar the order was live on.
    first_day: Option<i64>,
    /// Routed out: a cancel has been sent for it.
    cancel_sent: bool,
    /// An exit leg of this bracket order (its parent's id).
    leg_of: Option<OrderId>,
    /// Matched only against bars after this time (a leg, from the bar after
    /// its parent filled).
    active_after: Timestamp,
    /// Routed out: the `client_order_id` the outside broker knows it by,
    /// once saved (a restored order keeps the one it was placed with).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    placed_as: Option<String>,
}

impl OpenOrder {
    fn new(id: OrderId, request: OrderRequest) -> Self {
        Self {
            id,
            request,
            triggered: false,
            first_day: None,
            cancel_sent: false,
            leg_of: None,
            active_after: Timestamp::MIN,
            placed_as: None,
        }
    }
}

/// A restored order: its id in this process, and the `client_order_id` it
/// was placed with when routed out.
#[derive(Clone, Debug, PartialEq)]
pub struct RestoredOrder {
    pub id: OrderId,
    pub placed_as: Option<String>,
}

/// Why saved orders could not be restored.
#[derive(Debug, thiserror::Error)]
#[error("saved open orders are not readable: {0}")]
pub struct RestoreError(#[from] serde_json::Error);

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

fn valid_price(name: &str, price: Option<f64>) -> Result<f64, Rejection> {
    match price {
        Some(p) if p.is_finite() && p > 0.0 => Ok(p),
        Some(p) => Err(Rejection::InvalidPrice(format!("{name} must be a positive finite number, got {p}"))),
        None => Err(Rejection::InvalidPrice(format!("{name} is required for this order kind"))),
    }
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

    /// The symbols whose open orders changed since the previous call, each
    /// with its open orders now as a JSON array (`[]`: none left), for a
    /// live session to save. `placed_as` names an order routed out by this
    /// process to the outside broker.
    pub fn take_open_order_changes(&mut self, placed_as: impl Fn(OrderId) -> Option<String>) -> Vec<(SymbolId, String)> {
        // Per frame of a live session: nothing to do unless the book changed.
        if self.open == self.reported {
            return Vec::new();
        }
        let in_symbol = |orders: &[OpenOrder], symbol: SymbolId| -> Vec<OpenOrder> {
            orders.iter().filter(|o| o.request.symbol == symbol).cloned().collect()
        };
        let mut symbols: Vec<SymbolId> = self.open.iter().chain(&self.reported).map(|o| o.request.symbol).collect();
        symbols.sort_unstable();
        symbols.dedup();
        let mut out = Vec::new();
        for symbol in symbols {
            let mut now = in_symbol(&self.open, symbol);
            if now == in_symbol(&self.reported, symbol) {
                continue;
            }
            for order in &mut now {
                order.placed_as = order.placed_as.take().or_else(|| placed_as(order.id));
                order.cancel_sent = false;
            }
            out.push((symbol, serde_json::to_string(&now).unwrap_or_else(|_| "[]".to_owned())));
        }
        self.reported = self.open.clone();
        out
    }

    /// Puts back the open orders of `symbol` an earlier process saved (see
    /// [`Self::take_open_order_changes`]), under new ids; `keep` chooses
    /// which (routed out: those the outside broker still holds). Legs stay
    /// attached to their parent. Returns the restored orders.
    pub fn restore_open_orders(
        &mut self,
        symbol: SymbolId,
        saved: &str,
        keep: impl Fn(Option<&str>) -> bool,
    ) -> Result<Vec<RestoredOrder>, RestoreError> {
        let orders: Vec<OpenOrder> = serde_json::from_str(saved)?;
        let mut new_ids: Vec<(OrderId, OrderId)> = Vec::new();
        let mut restored = Vec::new();
        for mut order in orders.into_iter().filter(|o| keep(o.placed_as.as_deref())) {
            let id = self.next_id;
            self.next_id += 1;
            new_ids.push((order.id, id));
            // Its fills say whose order it was, as the fills of an earlier
            // process's order the broker reports do.
            let earlier = order.placed_as.clone().map_or_else(|| serde_json::Value::from(order.id), serde_json::Value::from);
            order.request.indicators = with_indicator(&order.request.indicators, "placed_by_earlier_process", earlier);
            order.id = id;
            order.request.symbol = symbol;
            // A leg's parent has filled and is gone: its siblings still share one new parent id.
            if let Some(parent) = order.leg_of {
                let known = new_ids.iter().find(|(old, _)| *old == parent).map(|(_, new)| *new);
                order.leg_of = Some(known.unwrap_or_else(|| {
                    let fresh = self.next_id;
                    self.next_id += 1;
                    new_ids.push((parent, fresh));
                    fresh
                }));
            }
            restored.push(RestoredOrder { id, placed_as: order.placed_as.clone() });
            self.open.push(order);
        }
        Ok(restored)
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

    /// Counts the order against its event-time minute; over the limit it is
    /// refused before any other check, so a flood costs little.
    fn check_rate(&mut self, now: Timestamp) -> Result<(), Rejection> {
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

    /// Signed quantity of open orders in `symbol`; exit legs only close
    /// what is held, so they do not count.
    fn pending(&self, symbol: SymbolId) -> f64 {
        self.open.iter().filter(|o| o.request.symbol == symbol && o.leg_of.is_none()).map(|o| o.request.side.sign() * o.request.qty).sum()
    }

    /// After `order` filled at `time`: its exit legs, if it is a bracket or
    /// OTO order, and the end of exit legs whose position is gone.
    fn after_fill(&mut self, order: &OpenOrder, time: Timestamp, portfolio: &Portfolio, updates: &mut Vec<OrderUpdate>) {
        let r = &order.request;
        if order.leg_of.is_none() {
            // The stop leg first: when one bar touches both, it fills first.
            let legs = [("stop_loss", r.stop_loss, OrderKind::Stop), ("take_profit", r.take_profit, OrderKind::Limit)];
            for (name, price, kind) in legs {
                let Some(price) = price else { continue };
                let id = self.next_id;
                self.next_id += 1;
                let request = OrderRequest {
                    symbol: r.symbol,
                    side: r.side.opposite(),
                    qty: r.qty,
                    kind,
                    limit_price: (kind == OrderKind::Limit).then_some(price),
                    stop_price: (kind == OrderKind::Stop).then_some(price),
                    time_in_force: if r.time_in_force == TimeInForce::Day { TimeInForce::Day } else { TimeInForce::Gtc },
                    stop_loss: None,
                    take_profit: None,
                    indicators: format!(r#"{{"bracket_leg":"{name}","parent_order_id":{}}}"#, order.id),
                };
                self.open.push(OpenOrder { leg_of: Some(order.id), active_after: time, ..OpenOrder::new(id, request) });
            }
        }
        self.drop_orphan_legs(r.symbol, time, portfolio, updates);
    }

    /// Cancels the exit legs of `symbol` that would no longer close a
    /// position: they must never open one.
    fn drop_orphan_legs(&mut self, symbol: SymbolId, time: Timestamp, portfolio: &Portfolio, updates: &mut Vec<OrderUpdate>) {
        let held = portfolio.position(symbol).map_or(0.0, |p| p.qty);
        self.open.retain(|o| {
            let closes = o.request.side.sign() * held < 0.0;
            if o.leg_of.is_none() || o.request.symbol != symbol || closes {
                return true;
            }
            updates.push(update(o, OrderStatus::Canceled, 0.0, 0.0, time, Some("the position this exit would close is gone".into())));
            false
        });
    }

    /// Shares held by open exit legs are not available, as at Alpaca ("insufficient
    /// qty available"): an order closing them is refused; the bracket owns the exit.
    fn check_held_by_exits(&self, request: &OrderRequest, portfolio: &Portfolio) -> Result<(), Rejection> {
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
    fn check_buying_power(&self, request: &OrderRequest, last: f64, portfolio: &Portfolio) -> Result<(), Rejection> {
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

    fn check_limits(&self, request: &OrderRequest, last: f64, portfolio: &Portfolio) -> Result<(), Rejection> {
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

/// `indicators` (a JSON object, or empty) with `key` set to `value`.
fn with_indicator(indicators: &str, key: &str, value: serde_json::Value) -> String {
    let mut object = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(indicators).unwrap_or_default();
    object.insert(key.to_owned(), value);
    serde_json::Value::Object(object).to_string()
}

/// Largest `indicators` document accepted with an order.
const MAX_INDICATORS: usize = 64 << 10;

/// `indicators` is persisted as JSON, so it must be an object (or empty).
fn check_indicators(indicators: &str) -> Result<(), Rejection> {
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

/// The price an open order fills at on `bar`, if it fills.
fn match_price(order: &mut OpenOrder, bar: &Bar) -> Option<f64> {
    let r = &order.request;
    let resting =
        RestingOrder { side: r.side, kind: r.kind, time_in_force: r.time_in_force, limit_price: r.limit_price, stop_price: r.stop_price };
    fill_price(&resting, &mut order.triggered, bar)
}

/// What the fill rule needs of a resting order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RestingOrder {
    pub side: Side,
    pub kind: OrderKind,
    pub time_in_force: TimeInForce,
    pub limit_price: Option<f64>,
    pub stop_price: Option<f64>,
}

/// The one fill rule of the engine, shared by backtests, the paper broker
/// and the Alpaca trading stand-in (which matches each replayed bar, and an
/// order arriving against the last price): the price `order` fills at on `bar`,
/// if it fills. A market order fills at the open (`cls`: at the close). A
/// limit fills at its price when the bar trades through it, or at the open
/// when the bar opens through it. A stop triggers the same way and fills
/// where it triggered. A stop-limit whose stop triggers fills there if that
/// is within its limit, and rests as a limit (`triggered`) otherwise.
pub fn fill_price(order: &RestingOrder, triggered: &mut bool, bar: &Bar) -> Option<f64> {
    let buy = order.side == Side::Buy;
    // A limit fills at its price or better; a gap through it fills at the open.
    let limit_fill = |limit: f64| {
        if buy {
            if bar.open <= limit {
                Some(bar.open)
            } else if bar.low <= limit {
                Some(limit)
            } else {
                None
            }
        } else if bar.open >= limit {
            Some(bar.open)
        } else if bar.high >= limit {
            Some(limit)
        } else {
            None
        }
    };
    // A stop triggers when traded through; a gap through it triggers at the open.
    let stop_trigger = |stop: f64| {
        if buy {
            if bar.open >= stop {
                Some(bar.open)
            } else if bar.high >= stop {
                Some(stop)
            } else {
                None
            }
        } else if bar.open <= stop {
            Some(bar.open)
        } else if bar.low <= stop {
            Some(stop)
        } else {
            None
        }
    };
    match order.kind {
        OrderKind::Market if order.time_in_force == TimeInForce::Cls => Some(bar.close),
        OrderKind::Market => Some(bar.open),
        OrderKind::Limit => limit_fill(order.limit_price?),
        OrderKind::Stop => stop_trigger(order.stop_price?),
        OrderKind::StopLimit => {
            let limit = order.limit_price?;
            if *triggered {
                return limit_fill(limit);
            }
            let trigger = stop_trigger(order.stop_price?)?;
            *triggered = true;
            let within = if buy { trigger <= limit } else { trigger >= limit };
            within.then_some(trigger)
        }
    }
}

#[cfg(test)]
mod tests;
