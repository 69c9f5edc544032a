//! The producer's per-frame work, without processes or sockets: parsing an
//! Alpaca stream frame of 100 minute bars (as `liu-engine simulate` sends one
//! time step), and encoding/decoding a consumer's share of it on the
//! producer ↔ consumer link.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use liu_engine::domain::{Bar, MarketEvent, Timeframe};
use liu_engine::provider::alpaca;
use liu_engine::transport::{ToConsumer, encode_into};

const SYMBOLS: usize = 100;

/// One frame as the simulator writes it: 100 `b` messages.
fn alpaca_bar_frame() -> String {
    let members: Vec<String> = (0..SYMBOLS)
        .map(|i| {
            let p = 100.0 + i as f64 * 0.37;
            format!(
                r#"{{"T":"b","S":"SYM{i:03}","o":{p:.2},"h":{:.2},"l":{:.2},"c":{:.2},"v":{},"t":"2026-11-24T14:31:00.123456789Z","n":1,"vw":{:.2}}}"#,
                p + 0.5,
                p - 0.5,
                p + 0.1,
                1000 + i,
                p + 0.1
            )
        })
        .collect();
    format!("[{}]", members.join(","))
}

fn parse(c: &mut Criterion) {
    let frame = alpaca_bar_frame();
    assert_eq!(alpaca::parse_frame(&frame).events.len(), SYMBOLS);
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(SYMBOLS as u64));
    group.bench_function("parse alpaca frame of 100 bars", |b| b.iter(|| alpaca::parse_frame(std::hint::black_box(&frame))));

    let bar = Bar { time: 1_764_000_000_000_000_000, open: 100.0, high: 101.0, low: 99.0, close: 100.5, volume: 1000.0 };
    let events: Vec<_> = (0..SYMBOLS as u32 / 2).map(|s| (s, MarketEvent::Bar { timeframe: Timeframe::Minute, bar })).collect();
    let message = ToConsumer::Events { received_at: 1, events };
    let mut buf = Vec::with_capacity(1 << 16);
    group.throughput(Throughput::Elements(SYMBOLS as u64 / 2));
    group.bench_function("encode 50 events for a consumer", |b| {
        b.iter(|| {
            buf.clear();
            encode_into(std::hint::black_box(&message), &mut buf).unwrap();
        })
    });
    buf.clear();
    encode_into(&message, &mut buf).unwrap();
    group.bench_function("decode 50 events in a consumer", |b| {
        b.iter(|| rmp_serde::from_slice::<ToConsumer>(std::hint::black_box(&buf[4..])).unwrap())
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
