//! Hostile: on the first bar, allocates 1 MiB chunks forever and keeps them.
//! Attacks the host's memory cap: the instance must be stopped when
//! `memory.grow` is refused and disabled without hurting the engine.
//! Chunks are reserved, not filled, so each costs little fuel and the
//! memory cap (not the fuel budget) is what stops it.

use liu_strategy::prelude::*;

struct MemoryBomb;

impl Strategy for MemoryBomb {
    const NAME: &'static str = "hostile-memory-bomb";
    fn new(_params: &Params) -> Result<Self, String> {
        Ok(Self)
    }
    fn on_bar(&mut self, _symbol: SymbolId, _tf: Timeframe, _bar: &Bar) -> Verdict {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut chunk = Vec::<u8>::with_capacity(1 << 20);
            chunk.push(0xA5);
            hoard.push(std::hint::black_box(chunk));
        }
    }
}

export_strategy!(MemoryBomb);
