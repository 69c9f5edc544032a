//! liu-core: the one home of the types every stage shares. [`domain`] holds
//! bars, trades, quotes, orders, fills and ids; [`time`] timestamps, their
//! one parser and formatter; [`market`] the
//! market state a strategy reads (recent bars, last trades and quotes);
//! [`gateway`] the interface through which a strategy reaches its broker.
//!
//! It depends on no other liu crate and on nothing that does I/O.

pub mod domain;
pub mod gateway;
pub mod market;
pub mod time;
