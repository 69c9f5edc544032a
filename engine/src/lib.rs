//! liu-engine: an algorithmic-trading engine in which every strategy is an
//! untrusted WebAssembly component.
//!
//! The modules follow the data flow: [`data`] loads bars, [`market`] holds
//! what has been seen, [`sandbox`] runs strategies in wasmtime with their
//! [`fincalcs`], [`broker`] fills their orders into a [`portfolio`],
//! [`backtest`] drives the replay, [`metrics`] scores it and [`store`]
//! records it. [`domain`] is the one home of bars, orders and fills.

pub mod account;
pub mod audit;
pub mod backtest;
pub mod broker;
pub mod component;
pub mod consumer;
pub mod data;
pub mod domain;
pub mod fincalcs;
pub mod market;
pub mod metrics;
pub mod miner;
pub mod params;
pub mod portfolio;
pub mod producer;
pub mod provider;
pub mod recording;
pub mod runner;
pub mod sandbox;
pub mod scanner;
pub mod simulator;
pub mod standin;
pub mod store;
pub mod tradeplan;
pub mod transport;
