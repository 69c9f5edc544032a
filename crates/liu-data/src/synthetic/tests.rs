//! Tests of [`super`].

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
    assert_eq!(liu_core::time::format_timestamp(a.events[0].bar.time), "2024-01-02T14:30:00Z");
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
