//! Brokers: where checked orders go and where fills come from.
//!
//! `simulated` fills against historical bars for backtests.

pub mod simulated;

pub use simulated::{Commission, FillAt, OrderChecks, SimulatedBroker};
