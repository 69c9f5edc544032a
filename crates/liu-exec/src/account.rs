//! One strategy instance's trading account in a backtest: its portfolio,
//! its orders at the simulated broker, and what happened to them.

use crate::broker::SimulatedBroker;
use crate::portfolio::Portfolio;
use liu_core::domain::{Fill, OrderUpdate};

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
