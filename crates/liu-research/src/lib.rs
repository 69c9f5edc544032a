//! The research loop between live sessions, on top of the engine:
//!
//! - [`optimize`]: parameter sweeps (grid, random, walk-forward), each
//!   combination a full backtest through the engine's runner, recorded in
//!   `optimizer_run` and resumable;
//! - [`report`]: one self-contained HTML tear sheet for a batch or a sweep;
//! - [`export`]: fills and equity curves as Parquet or CSV for notebooks;
//! - [`analysis`]: what both read of a stored run (round trips, curve, metrics).
//!
//! It depends on the engine and the crates below it; nothing depends on it
//! but the CLI.

pub mod analysis;
pub mod export;
pub mod optimize;
pub mod report;
