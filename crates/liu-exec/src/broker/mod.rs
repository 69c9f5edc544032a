//! The simulated broker: checks every order and fills it against bars
//! (backtests, the `paper` broker). Alpaca's trading API, and the routing
//! of live orders to it, are in liu-venues.

pub mod simulated;

pub use simulated::{
    Commission, DEFAULT_MAX_ORDERS_PER_MINUTE, FillAt, MAX_VIOLATIONS_IN_A_ROW, OrderChecks, RestingOrder, RestoreError, RestoredOrder,
    RoutedRequest, SimulatedBroker, fill_price,
};
