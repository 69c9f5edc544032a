//! liu-venues: the outside services, as their documents describe them.
//! [`provider`] holds the market-data streams (Alpaca, Polygon) and their
//! historical bars; [`rest`] the one REST client for both providers;
//! [`alpaca_trading`] Alpaca's trading API and trade_updates stream, which
//! [`routing`] drives for the producer; [`net`] what their network code
//! shares.
//!
//! It depends on liu-core only. Its stand-ins live in liu-sim, which its
//! tests use over real sockets.

pub mod alpaca_trading;
pub mod net;
pub mod provider;
pub mod rest;
pub mod routing;
