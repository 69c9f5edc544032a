//! The smallest strategy: every handler is the SDK's default (do nothing).
//! Benchmarks use it to measure the sandbox's own cost per event.

use liu_strategy::prelude::*;

struct Noop;

impl Strategy for Noop {
    const NAME: &'static str = "noop";
    fn new(_params: &Params) -> Result<Self, String> {
        Ok(Noop)
    }
}

export_strategy!(Noop);
