//! The producer's per-frame work, without processes or sockets: parsing an
//! Alpaca stream frame of 100 minute bars (as `liu-engine simulate` sends one
//! time step), in JSON and in MessagePack (both Alpaca's), and encoding/decoding a consumer's share of it on the
//! producer ↔ consumer link.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use liu_core::domain::{Bar, MarketEvent, Timeframe};
use liu_engine::transport::{ToConsumer, encode_into};
use liu_venues::alpaca::{msgpack as alpaca_msgpack, stream as alpaca};

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

/// The same frame in MessagePack, `t` as the timestamp extension (96-bit form).
fn alpaca_bar_frame_msgpack() -> Vec<u8> {
    use rmp::encode::{write_array_len, write_ext_meta, write_f64, write_map_len, write_str, write_uint};
    let mut out = Vec::new();
    write_array_len(&mut out, SYMBOLS as u32).unwrap();
    for i in 0..SYMBOLS {
        let p = 100.0 + i as f64 * 0.37;
        let cents = |x: f64| (x * 100.0).round() / 100.0;
        write_map_len(&mut out, 10).unwrap();
        write_str(&mut out, "T").unwrap();
        write_str(&mut out, "b").unwrap();
        write_str(&mut out, "S").unwrap();
        write_str(&mut out, &format!("SYM{i:03}")).unwrap();
        for (key, value) in [("o", p), ("h", p + 0.5), ("l", p - 0.5), ("c", p + 0.1)] {
            write_str(&mut out, key).unwrap();
            write_f64(&mut out, cents(value)).unwrap();
        }
        write_str(&mut out, "v").unwrap();
        write_uint(&mut out, 1000 + i as u64).unwrap();
        write_str(&mut out, "t").unwrap();
        write_ext_meta(&mut out, 12, -1).unwrap();
        out.extend_from_slice(&123_456_789u32.to_be_bytes());
        out.extend_from_slice(&1_795_530_660i64.to_be_bytes());
        write_str(&mut out, "n").unwrap();
        write_uint(&mut out, 1).unwrap();
        write_str(&mut out, "vw").unwrap();
        write_f64(&mut out, cents(p + 0.1)).unwrap();
    }
    out
}

fn parse(c: &mut Criterion) {
    let frame = alpaca_bar_frame();
    assert_eq!(alpaca::parse_frame(&frame).events.len(), SYMBOLS);
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(SYMBOLS as u64));
    group.bench_function("parse alpaca frame of 100 bars", |b| b.iter(|| alpaca::parse_frame(std::hint::black_box(&frame))));
    let packed = alpaca_bar_frame_msgpack();
    assert_eq!(alpaca_msgpack::parse_frame(&packed).events, alpaca::parse_frame(&frame).events, "the two encodings agree");
    group.bench_function("parse alpaca msgpack frame of 100 bars", |b| {
        b.iter(|| alpaca_msgpack::parse_frame(std::hint::black_box(&packed)))
    });

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
