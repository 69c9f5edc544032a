//! Timing a live session's warm-up (`liu-engine bench-warmup`,
//! `bench/warmup.sh`): rounds of [`recent_minute_bars`] for many symbols
//! from a provider's REST API (the stand-in of `simulate --history-bars`),
//! synchronously, on a runtime of their own.

use std::time::{Duration, Instant};

use super::{HistoryRequest, recent_minute_bars};
use crate::rest::{AlpacaHost, Api, Client, RestError};

/// The provider whose REST API is timed; credentials come from the
/// environment, as `trade` reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WarmupProvider {
    /// Alpaca's market-data API (its several-symbol bars endpoint).
    Alpaca,
    /// Polygon's per-ticker minute aggregates.
    Polygon,
}

/// What to time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WarmupBench {
    /// Whose API.
    pub provider: WarmupProvider,
    /// The REST API's base URL.
    pub rest_url: String,
    /// How many symbols: `SYM000`, `SYM001`, … (as `simulate` names its
    /// random walk).
    pub symbols: usize,
    /// Minute bars per symbol.
    pub minutes: usize,
    /// Warm-ups to time (at least one is).
    pub rounds: usize,
}

impl WarmupBench {
    /// The bars one warm-up must return: every minute of every symbol.
    pub fn bars(&self) -> usize {
        self.symbols * self.minutes
    }
}

/// How long each warm-up took, shortest first; never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WarmupTimes {
    /// One per round, sorted.
    pub times: Vec<Duration>,
}

impl WarmupTimes {
    /// The median round (the upper one of an even count).
    pub fn median(&self) -> Duration {
        self.times[self.times.len() / 2]
    }

    /// The fastest round.
    pub fn best(&self) -> Duration {
        self.times[0]
    }

    /// The slowest round.
    pub fn worst(&self) -> Duration {
        self.times[self.times.len() - 1]
    }
}

/// Why a timing failed.
#[derive(Debug, thiserror::Error)]
pub enum WarmupBenchError {
    /// Missing credentials, a bad base URL or the HTTP client.
    #[error(transparent)]
    Rest(#[from] RestError),
    /// The runtime could not be started.
    #[error(transparent)]
    Runtime(std::io::Error),
    /// A symbol's warm-up failed.
    #[error("warm-up of {symbol}")]
    Symbol {
        /// The symbol.
        symbol: String,
        /// Why.
        source: RestError,
    },
    /// A warm-up returned another number of bars than asked for.
    #[error("expected {expected} bars, got {got}")]
    BarCount {
        /// [`WarmupBench::bars`].
        expected: usize,
        /// What came back.
        got: usize,
    },
}

/// Times `bench.rounds` warm-ups (at least one), each fetching every
/// symbol's newest `bench.minutes` minute bars ending now; every warm-up
/// must return them all.
pub fn time_warmups(bench: &WarmupBench) -> Result<WarmupTimes, WarmupBenchError> {
    let api = match bench.provider {
        WarmupProvider::Alpaca => Api::alpaca_from_env(AlpacaHost::Data, Some(&bench.rest_url))?,
        WarmupProvider::Polygon => Api::polygon_from_env(Some(&bench.rest_url))?,
    };
    let client = Client::new(api)?;
    let symbols: Vec<String> = (0..bench.symbols).map(|i| format!("SYM{i:03}")).collect();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(WarmupBenchError::Runtime)?;
    let mut times = Vec::with_capacity(bench.rounds);
    for _ in 0..bench.rounds.max(1) {
        let request = HistoryRequest { symbols: &symbols, end: liu_core::domain::wall_clock(), count: bench.minutes, feed: None };
        let started = Instant::now();
        let history = runtime.block_on(recent_minute_bars(&client, &request));
        let elapsed = started.elapsed();
        let mut bars = 0;
        for (symbol, result) in history {
            bars += result.map_err(|source| WarmupBenchError::Symbol { symbol, source })?.len();
        }
        if bars != bench.bars() {
            return Err(WarmupBenchError::BarCount { expected: bench.bars(), got: bars });
        }
        times.push(elapsed);
    }
    times.sort();
    Ok(WarmupTimes { times })
}
