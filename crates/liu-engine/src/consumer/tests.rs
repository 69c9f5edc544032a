//! Tests of [`super`].

use super::{
    checks_of, client_order_id, latency_histogram, latency_report, limits_of, minutes_from_open, parse_client_order_id,
    parse_earlier_client_order_id,
};
use liu_exec::broker::DEFAULT_MAX_ORDERS_PER_MINUTE;

#[test]
fn a_strategys_own_limits_override_the_plans() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.wasm"), b"\0asm").unwrap();
    let path = dir.path().join("plan.toml");
    let text = "portfolio_value = 1000.0\nsymbols = [\"AAPL\"]\n[provider]\nkind = \"alpaca\"\n\
            [limits]\nmax_position_notional = 5000.0\nmax_open_positions = 4\n\
            [[strategies]]\ncomponent = \"s.wasm\"\n\
            [strategies.limits]\nmax_position_notional = 100.0\nmax_orders_per_minute = 7\nallowed_symbols = [\"aapl\"]\nlog_bytes_per_minute = 99\n\
            [[strategies]]\ncomponent = \"s.wasm\"\n";
    std::fs::write(&path, text).unwrap();
    let plan = crate::tradeplan::load(&path).unwrap();
    let own = checks_of(&plan, &plan.strategies[0]);
    assert_eq!(own.max_position_notional, Some(100.0));
    assert_eq!(own.max_open_positions, Some(4));
    assert_eq!(own.max_orders_per_minute, 7);
    assert_eq!(own.allowed_symbols, Some(vec!["AAPL".to_string()]));
    assert_eq!(limits_of(&plan.strategies[0]).log_bytes_per_minute, 99);
    let plain = checks_of(&plan, &plan.strategies[1]);
    assert_eq!(plain.max_position_notional, Some(5000.0));
    assert_eq!(plain.max_orders_per_minute, DEFAULT_MAX_ORDERS_PER_MINUTE);
    assert_eq!(plain.allowed_symbols, None);
}

#[test]
fn client_order_ids_name_their_strategy_and_order_and_only_this_process_reads_them() {
    let prefix = "3f2a1b4c-1.4242";
    let id = client_order_id(prefix, 2, 17);
    assert_eq!(parse_client_order_id(prefix, &id), Some((2, 17)));
    // An earlier process of the same consumer (another pid) is not ours.
    assert_eq!(parse_client_order_id("3f2a1b4c-1.4243", &id), None);
    assert_eq!(parse_client_order_id(prefix, "manual-order"), None);
    // ... but its fills are recognised as an earlier process's.
    assert_eq!(parse_earlier_client_order_id("3f2a1b4c-1.4243", &id), Some((2, 17)));
    assert_eq!(parse_earlier_client_order_id(prefix, &id), None);
    assert_eq!(parse_earlier_client_order_id("3f2a1b4c-2.4243", &id), None, "another consumer's");
}

#[test]
fn minutes_from_open_follow_new_york_time_across_daylight_saving() {
    // 2024-07-01 13:30 UTC is 9:30 EDT (UTC-4); 2024-01-02 14:45 UTC is 9:45 EST (UTC-5).
    assert_eq!(minutes_from_open(1_719_840_600_000_000_000), Some(0));
    assert_eq!(minutes_from_open(1_704_206_700_000_000_000), Some(15));
    // 2024-01-02 14:00 UTC is 9:00 EST: before the open.
    assert_eq!(minutes_from_open(1_704_204_000_000_000_000), None);
}

#[test]
fn latency_report_gives_percentiles_to_three_significant_digits() {
    let mut latencies = latency_histogram();
    for i in 1..=1000u64 {
        latencies.record(i * 1000).unwrap();
    }
    // 1µs..1000µs: p50 is 500µs, p99 990µs, p99.9 999µs, each reported
    // as the top of its 0.1%-wide bucket.
    let report = latency_report(&latencies, "orders").unwrap();
    assert_eq!(report, "p50 500.223µs p99 990.207µs p99.9 999.423µs max 1.000447ms (1000 orders)");
    assert_eq!(latency_report(&latency_histogram(), "frames"), None);
}
