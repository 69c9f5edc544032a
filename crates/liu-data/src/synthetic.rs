//! Deterministic synthetic minute bars (a geometric random walk) for tests and
//! benchmarks, and a CSV writer whose output [`load`](super::load) reads back
//! exactly.
//!
//! Only integer arithmetic and IEEE-exact float operations (`+ - * /`, `round`)
//! are used, so a seed gives the same bars on every platform.

use std::io::Write;
use std::path::Path;

use super::MarketData;
use liu_core::domain::{Bar, BarEvent, NANOS_PER_SECOND, SymbolId, Timeframe};

/// 2024-01-02 14:30:00 UTC, in seconds since the epoch.
pub const START_SECONDS: i64 = 1_704_205_800;

/// splitmix64: tiny, fast, well-distributed, platform-independent; the
/// seeded generator of everything deterministic that needs randomness
/// (these bars, `optimize --random`).
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Symbol names: `SYN` for one symbol, else `SYM000`, `SYM001`, … (zero-padded
/// wide enough that alphabetical order equals index order).
fn names(symbols: usize) -> Vec<String> {
    if symbols == 1 {
        return vec!["SYN".to_string()];
    }
    let width = symbols.saturating_sub(1).to_string().len().max(3);
    (0..symbols).map(|i| format!("SYM{i:0width$}")).collect()
}

/// `bars_per_symbol` one-minute bars for each of `symbols` symbols, starting
/// 2024-01-02 14:30:00 UTC, continuous (no session gaps). Prices start at 100
/// and follow a geometric random walk (steps of about ±0.1 %), rounded to cents,
/// with `open` = previous close; volumes are integers in 100..=10000.
/// Events are sorted by (time, symbol id), like [`load`](super::load)'s output.
pub fn random_walk(bars_per_symbol: usize, symbols: usize, seed: u64) -> MarketData {
    let names = names(symbols);
    // Per-symbol state: generator and last close in cents.
    let mut state: Vec<(SplitMix64, i64)> = (0..symbols)
        .map(|i| {
            let mut mix = SplitMix64(seed ^ (i as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
            mix.next_u64();
            (mix, 10_000)
        })
        .collect();
    let mut events = Vec::with_capacity(bars_per_symbol.saturating_mul(symbols));
    for step in 0..bars_per_symbol {
        let time = (START_SECONDS + 60 * step as i64).saturating_mul(NANOS_PER_SECOND);
        for (sym, (rng, last)) in state.iter_mut().enumerate() {
            let open = *last;
            // Approximately normal step: sum of 4 uniforms, centred, sd ≈ 0.1 %.
            let z = rng.unit() + rng.unit() + rng.unit() + rng.unit() - 2.0;
            let ret = z * 0.0017;
            let close = ((open as f64 * (1.0 + ret)).round() as i64).max(1);
            let top = open.max(close);
            let bottom = open.min(close);
            let high = top + (top as f64 * 0.001 * rng.unit()).round() as i64;
            let low = (bottom - (bottom as f64 * 0.001 * rng.unit()).round() as i64).max(1);
            let volume = 100 + (rng.next_u64() % 9_901) as i64;
            *last = close;
            events.push(BarEvent {
                symbol: sym as SymbolId,
                bar: Bar {
                    time,
                    open: open as f64 / 100.0,
                    high: high as f64 / 100.0,
                    low: low as f64 / 100.0,
                    close: close as f64 / 100.0,
                    volume: volume as f64,
                },
            });
        }
    }
    MarketData { symbols: names, events, timeframe: Timeframe::Minute }
}

/// Writes `data` as CSV with header `symbol,timestamp,open,high,low,close,volume`;
/// timestamps are epoch seconds (with 9 decimals when not whole seconds).
/// Floats use Rust's shortest round-trip formatting, so loading the file gives
/// back identical bars.
pub fn write_csv(data: &MarketData, path: &Path) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut w = ::csv::WriterBuilder::new().buffer_capacity(1 << 18).from_writer(file);
    w.write_record(["symbol", "timestamp", "open", "high", "low", "close", "volume"])?;
    let mut fields: [String; 6] = Default::default();
    for e in &data.events {
        let symbol = data.symbols.get(e.symbol as usize).map(String::as_str).unwrap_or("");
        let b = &e.bar;
        for f in fields.iter_mut() {
            f.clear();
        }
        let t = b.time;
        let (secs, nanos) = (t / NANOS_PER_SECOND, t % NANOS_PER_SECOND);
        if nanos == 0 {
            write_fmt(&mut fields[0], format_args!("{secs}"));
        } else {
            let sign = if t < 0 { "-" } else { "" };
            write_fmt(&mut fields[0], format_args!("{sign}{}.{:09}", secs.unsigned_abs(), nanos.unsigned_abs()));
        }
        write_fmt(&mut fields[1], format_args!("{}", b.open));
        write_fmt(&mut fields[2], format_args!("{}", b.high));
        write_fmt(&mut fields[3], format_args!("{}", b.low));
        write_fmt(&mut fields[4], format_args!("{}", b.close));
        write_fmt(&mut fields[5], format_args!("{}", b.volume));
        w.write_record([symbol, &fields[0], &fields[1], &fields[2], &fields[3], &fields[4], &fields[5]])?;
    }
    w.flush()?;
    let mut inner = w.into_inner().map_err(|e| e.into_error())?;
    inner.flush()
}

fn write_fmt(s: &mut String, args: std::fmt::Arguments<'_>) {
    use std::fmt::Write as _;
    let _ = s.write_fmt(args);
}

#[cfg(test)]
mod tests;
