//! liu-engine: runs strategies. [`runner`] drives one strategy instance
//! over events; [`backtest`] and [`audit`] replay history through it;
//! [`producer`] holds the market-data stream and fans it over [`transport`]
//! to [`consumer`] processes, which trade a [`tradeplan`] and can keep a
//! [`recording`]; [`scanner`] picks symbols and [`miner`] fills the
//! database. Both record each run's equity through [`curve`].
//!
//! It depends on every crate below it (core, exec, sandbox, data, venues),
//! never on liu-sim or the CLI.

pub mod audit;
pub mod backtest;
pub mod consumer;
pub mod curve;
pub mod miner;
pub mod producer;
pub mod recording;
pub mod runner;
pub mod scanner;
pub mod tradeplan;
pub mod transport;
