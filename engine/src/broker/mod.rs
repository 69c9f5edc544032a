//! Brokers: where checked orders go and where fills come from.
//!
//! `simulated` checks every order and fills against bars (backtests, the
//! `paper` broker); `alpaca` is Alpaca's trading API, which `routing`
//! drives from the producer.

pub mod alpaca;
pub mod routing;
pub mod simulated;

pub use simulated::{
    Commission, DEFAULT_MAX_ORDERS_PER_MINUTE, FillAt, MAX_VIOLATIONS_IN_A_ROW, OrderChecks, RestingOrder, RestoreError, RestoredOrder,
    RoutedRequest, SimulatedBroker, fill_price,
};
