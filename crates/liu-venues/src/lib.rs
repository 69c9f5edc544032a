//! liu-venues: the outside services, as their documents describe them,
//! one home per provider: [`alpaca`] (hosts, credentials, the market-data
//! stream in JSON and MessagePack, the trading API and trade_updates) and
//! [`polygon`] (hosts, credential, the stocks stream). Shared by both:
//! [`stream`], the reconnecting stream client; [`history`], recent bars for
//! warm-up; [`rest`], the one REST client; [`routing`], which drives
//! Alpaca's trading API for the producer; [`net`], what their network code
//! shares.
//!
//! It depends on liu-core only. Its stand-ins live in liu-sim, which its
//! tests use over real sockets.

pub mod alpaca;
pub mod history;
pub mod net;
pub mod polygon;
pub mod rest;
pub mod routing;
pub mod stream;
