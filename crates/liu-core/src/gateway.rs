//! The small interface through which a strategy's host calls reach its
//! broker and account: liu-sandbox calls it, liu-exec's `Account`
//! implements it, and the sandbox never sees a broker's concrete type.

use crate::domain::{OrderId, OrderRequest, OrderUpdate, Rejection, SymbolId, Timestamp};
use crate::market::MarketState;

/// A position in one symbol, as a strategy sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PositionView {
    /// Signed quantity: negative when short.
    pub qty: f64,
    pub avg_entry_price: f64,
    /// The quantity at the last price.
    pub market_value: f64,
    pub unrealized_pnl: f64,
}

/// An account, as a strategy sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AccountView {
    pub cash: f64,
    /// Cash plus open positions at their last prices.
    pub equity: f64,
    /// What more the account may buy: equity times leverage, less gross exposure.
    pub buying_power: f64,
}

/// Where a strategy's orders go and what it may read of its account.
///
/// `Any` lets the engine, which chose the implementation, reach it again
/// through the sandbox (`HostState::account`).
pub trait OrderGateway: std::any::Any {
    /// The position in `symbol`, if there is one.
    fn position(&self, symbol: SymbolId) -> Option<PositionView>;
    /// Cash, equity and buying power now.
    fn account(&self) -> AccountView;
    /// Checks and places an order at the prices of `market`; counts it as
    /// accepted or rejected.
    fn submit(&mut self, request: OrderRequest, market: &MarketState) -> Result<OrderId, Rejection>;
    /// Counts an order the host refused before it reached the gateway.
    fn refuse(&mut self);
    /// Cancels an open order at `now`.
    fn cancel(&mut self, id: OrderId, now: Timestamp) -> Result<(), Rejection>;
    /// Orders rejected in a row for breaking a limit, and how many of those
    /// disable the strategy.
    fn violations_in_a_row(&self) -> (u32, u32);
    /// Order updates not yet delivered to the strategy, oldest first.
    fn take_updates(&mut self) -> Vec<OrderUpdate>;
    /// Whether any update waits to be delivered.
    fn has_updates(&self) -> bool;
}
