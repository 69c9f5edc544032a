//! liu-exec: what happens to an order. [`broker`] checks every order and
//! fills it with the one fill rule (`broker::fill_price`) shared by
//! backtests, the paper broker and the stand-ins of liu-sim; [`portfolio`]
//! books the fills, [`account`] holds one strategy's portfolio and orders,
//! and [`metrics`] scores the result.
//!
//! It depends on liu-core only: no sandbox, no I/O, no venue.

pub mod account;
pub mod broker;
pub mod metrics;
pub mod portfolio;
