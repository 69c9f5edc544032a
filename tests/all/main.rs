//! The end-to-end tests: one binary (as wasmtime keeps its `tests/all`),
//! one module per command. They drive the built `liu-engine` binary, the
//! sample components (`just strategies`) and real services: a SQLite file,
//! PostgreSQL at 127.0.0.1:5432, the simulator's WebSockets.

// Each module uses the helpers it needs.
#[allow(dead_code)]
mod common;

mod audit;
mod backtest;
mod conformance;
mod database;
mod devtools;
mod import;
mod metrics;
mod miners;
mod new;
mod optimize;
mod report;
mod sandbox;
mod trade;
