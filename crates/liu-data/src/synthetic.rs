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

/// splitmix64: tiny, fast, well-distributed, platform-independent.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
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
            mix.next();
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
            let volume = 100 + (rng.next() % 9_901) as i64;
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
mod tests {
    use super::*;
    use crate::{LoadOptions, load};

    #[test]
    fn deterministic_and_valid() {
        let a = random_walk(500, 3, 42);
        assert_eq!(a, random_walk(500, 3, 42));
        assert_ne!(a.events, random_walk(500, 3, 43).events);
        assert_eq!(a.symbols, ["SYM000", "SYM001", "SYM002"]);
        assert_eq!(random_walk(2, 1, 0).symbols, ["SYN"]);
        assert_eq!(random_walk(1, 1001, 0).symbols[1000], "SYM1000");
        assert_eq!(random_walk(1, 1001, 0).symbols[999], "SYM0999");
        assert_eq!(a.events.len(), 1500);
        assert_eq!(a.events[0].bar.time, START_SECONDS * NANOS_PER_SECOND);
        assert_eq!(crate::format_timestamp(a.events[0].bar.time), "2024-01-02T14:30:00Z");
        // Pinned values: the generator must not change silently (or differ by platform).
        let b = |time: i64, o: f64, h: f64, l: f64, c: f64, v: f64| Bar {
            time: time * NANOS_PER_SECOND,
            open: o,
            high: h,
            low: l,
            close: c,
            volume: v,
        };
        assert_eq!(a.events[0].bar, b(START_SECONDS, 100.0, 100.09, 99.78, 99.8, 235.0));
        assert_eq!(a.events[2].bar, b(START_SECONDS, 100.0, 100.08, 99.93, 100.01, 723.0));
        assert_eq!(a.events[3].bar, b(START_SECONDS + 60, 99.8, 99.85, 99.69, 99.74, 9491.0));
        let last = a.events[1499].bar;
        assert_eq!(last, b(START_SECONDS + 499 * 60, 105.4, 105.49, 105.3, 105.38, 9568.0));
        let mut prev_close = [100.0; 3];
        for (i, e) in a.events.iter().enumerate() {
            let b = e.bar;
            assert_eq!(e.symbol as usize, i % 3);
            assert_eq!(b.time, (START_SECONDS + 60 * (i / 3) as i64) * NANOS_PER_SECOND);
            assert_eq!(b.open, prev_close[i % 3]);
            assert!(b.high >= b.open.max(b.close) && b.low <= b.open.min(b.close) && b.low > 0.0);
            assert!((100.0..=10_000.0).contains(&b.volume) && b.volume.fract() == 0.0);
            for p in [b.open, b.high, b.low, b.close] {
                assert_eq!((p * 100.0).round() / 100.0, p, "not cents: {p}");
            }
            prev_close[i % 3] = b.close;
        }
    }

    #[test]
    fn csv_round_trip() {
        let data = random_walk(300, 4, 7);
        let path = std::env::temp_dir().join(format!("liu-synth-{}.csv", std::process::id()));
        write_csv(&data, &path).unwrap();
        let back = load(&path, &LoadOptions::default());
        let _ = std::fs::remove_file(&path);
        assert_eq!(back.unwrap(), data);

        let one = random_walk(50, 1, 1);
        let path = std::env::temp_dir().join(format!("liu-synth1-{}.csv", std::process::id()));
        write_csv(&one, &path).unwrap();
        let back = load(&path, &LoadOptions::default());
        let _ = std::fs::remove_file(&path);
        assert_eq!(back.unwrap(), one);
    }

    #[test]
    fn write_csv_sub_second_times() {
        let mut d = random_walk(3, 1, 1);
        d.events[0].bar.time = -1_500_000_000;
        d.events[1].bar.time = 250_000_000;
        d.events[2].bar.time = 1_704_205_800_000_000_001;
        let path = std::env::temp_dir().join(format!("liu-synth2-{}.csv", std::process::id()));
        write_csv(&d, &path).unwrap();
        let back = load(&path, &LoadOptions::default());
        let _ = std::fs::remove_file(&path);
        let back = back.unwrap();
        assert_eq!(back.events, d.events);
    }
}
