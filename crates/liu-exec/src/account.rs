//! One strategy instance's trading account: its portfolio, its orders at
//! the simulated broker, and what happened to them. It is the strategy's
//! [`OrderGateway`] in backtests and live sessions alike.

use crate::broker::{MAX_VIOLATIONS_IN_A_ROW, SimulatedBroker};
use crate::portfolio::Portfolio;
use liu_core::domain::{Fill, OrderId, OrderRequest, OrderUpdate, Rejection, SymbolId, Timestamp};
use liu_core::gateway::{AccountView, OrderGateway, PositionView};
use liu_core::market::MarketState;

#[derive(Debug)]
pub struct Account {
    pub portfolio: Portfolio,
    pub broker: SimulatedBroker,
    /// Every fill so far, in order.
    pub fills: Vec<Fill>,
    /// Updates not yet delivered to the strategy.
    pub pending_updates: Vec<OrderUpdate>,
    /// Orders the engine refused.
    pub rejected_orders: u64,
    /// Of those, orders with a NaN, infinite, zero or negative quantity or
    /// price, or unusable indicators (malformed or oversized JSON).
    pub invalid_orders: u64,
    /// Orders accepted and handed to the broker.
    pub accepted_orders: u64,
}

impl Account {
    pub fn new(portfolio: Portfolio, broker: SimulatedBroker) -> Self {
        Self {
            portfolio,
            broker,
            fills: Vec::new(),
            pending_updates: Vec::new(),
            rejected_orders: 0,
            invalid_orders: 0,
            accepted_orders: 0,
        }
    }
}

impl OrderGateway for Account {
    fn position(&self, symbol: SymbolId) -> Option<PositionView> {
        self.portfolio.position(symbol).map(|p| PositionView {
            qty: p.qty,
            avg_entry_price: p.avg_price,
            market_value: p.market_value(),
            unrealized_pnl: p.unrealized_pnl(),
        })
    }

    fn account(&self) -> AccountView {
        let p = &self.portfolio;
        let equity = p.equity();
        AccountView { cash: p.cash, equity, buying_power: (equity * self.broker.leverage() - p.gross_exposure()).max(0.0) }
    }

    fn submit(&mut self, request: OrderRequest, market: &MarketState) -> Result<OrderId, Rejection> {
        let result = self.broker.submit(request, market, &mut self.portfolio, &mut self.fills, &mut self.pending_updates);
        match &result {
            Ok(_) => self.accepted_orders += 1,
            Err(r) => {
                self.rejected_orders += 1;
                if matches!(r, Rejection::InvalidQuantity(_) | Rejection::InvalidPrice(_) | Rejection::InvalidIndicators(_)) {
                    self.invalid_orders += 1;
                }
            }
        }
        result
    }

    fn refuse(&mut self) {
        self.rejected_orders += 1;
    }

    fn cancel(&mut self, id: OrderId, now: Timestamp) -> Result<(), Rejection> {
        self.broker.cancel(id, now, &mut self.pending_updates)
    }

    fn violations_in_a_row(&self) -> (u32, u32) {
        (self.broker.violations_in_a_row(), MAX_VIOLATIONS_IN_A_ROW)
    }

    fn take_updates(&mut self) -> Vec<OrderUpdate> {
        std::mem::take(&mut self.pending_updates)
    }

    fn has_updates(&self) -> bool {
        !self.pending_updates.is_empty()
    }
}
