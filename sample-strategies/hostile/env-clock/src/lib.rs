//! Hostile: reads the environment (the broker secret) and the wall clock.
//! Built for wasm32-wasip2, so it imports `wasi:cli/environment` and
//! `wasi:clocks/wall-clock`, which the engine must refuse at load time
//! (strategies see only event time and no secrets).

use liu_strategy::prelude::*;
use std::time::{SystemTime, UNIX_EPOCH};

struct EnvClock;

fn wall_nanos() -> i128 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

impl Strategy for EnvClock {
    const NAME: &'static str = "hostile-env-clock";
    fn new(_params: &Params) -> Result<Self, String> {
        let secret = std::env::var("APCA_API_SECRET_KEY").unwrap_or_else(|e| format!("<{e}>"));
        log::warn(&format!("env-clock: APCA_API_SECRET_KEY = {secret}"));
        Ok(Self)
    }
    fn on_bar(&mut self, _symbol: SymbolId, _tf: Timeframe, bar: &Bar) -> Verdict {
        let wall = wall_nanos();
        log::warn(&format!("env-clock: wall clock {wall} ns, event time {} ns", bar.time));
        Verdict::Keep
    }
}

export_strategy!(EnvClock);
