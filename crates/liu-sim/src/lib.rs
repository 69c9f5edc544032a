//! liu-sim: the local market simulator ([`simulator`]: Alpaca's and
//! Polygon's streams, replaying bars at a chosen speed) and the stand-ins
//! of the providers' REST and trading APIs ([`standin`]), started together
//! by [`serve::run`] behind `liu-engine simulate`. Each speaks its
//! provider's documented wire format and timing; the stand-in broker fills
//! with liu-exec's one fill rule.
//!
//! The product crates never depend on it; their tests do.

pub mod serve;
pub mod simulator;
pub mod standin;
