//! Tests of [`super`].

use super::*;
use liu_exec::account::Account;
use liu_exec::broker::{Commission, FillAt, MAX_VIOLATIONS_IN_A_ROW, OrderChecks, SimulatedBroker};
use liu_exec::portfolio::Portfolio;

fn state(checks: OrderChecks, limits: &Limits) -> HostState {
    let mut market = MarketState::new(&["A".into()]);
    let bar = domain::Bar { time: 0, open: 10.0, high: 10.0, low: 10.0, close: 10.0, volume: 1.0 };
    market.push_bar(0, domain::Timeframe::Minute, bar);
    let broker = SimulatedBroker::new(FillAt::NextOpen, Commission::default(), 1.0).with_checks(checks);
    let account = Account::new(Portfolio::new(1_000.0, 1), broker);
    HostState::new("test".into(), Rc::new(RefCell::new(market)), Box::new(account), 1 << 20, limits)
}

fn advance_to(s: &HostState, time: domain::Timestamp) {
    let bar = domain::Bar { time, open: 10.0, high: 10.0, low: 10.0, close: 10.0, volume: 1.0 };
    s.market.borrow_mut().push_bar(0, domain::Timeframe::Minute, bar);
}

#[test]
fn the_state_store_is_bounded_and_reports_each_change_once() {
    let mut s = state(OrderChecks::default(), &Limits::default());
    assert!(ws::Host::set(&mut s, "k".repeat(MAX_STATE_KEY + 1), "v".into()).is_err());
    assert!(ws::Host::set(&mut s, "k".into(), "v".repeat(MAX_STATE_VALUE + 1)).is_err());
    for i in 0..MAX_STATE_KEYS {
        ws::Host::set(&mut s, format!("key{i}"), "1".into()).unwrap();
    }
    assert!(ws::Host::set(&mut s, "one-too-many".into(), "1".into()).is_err());
    ws::Host::set(&mut s, "key0".into(), "2".into()).unwrap(); // replacing stays allowed
    assert_eq!(s.keystore.take_changes().len(), MAX_STATE_KEYS);
    ws::Host::set(&mut s, "key0".into(), "2".into()).unwrap(); // unchanged: nothing to write
    ws::Host::delete(&mut s, "key1".into());
    assert_eq!(s.keystore.take_changes(), vec![("key1".to_owned(), None)]);
    assert_eq!(ws::Host::get(&mut s, "key0".into()).as_deref(), Some("2"));
    assert_eq!(ws::Host::get(&mut s, "key1".into()), None);
}

#[test]
fn log_lines_over_the_minute_budget_are_dropped_and_counted() {
    let mut s = state(OrderChecks::default(), &Limits { log_bytes_per_minute: 10, ..Limits::default() });
    for _ in 0..3 {
        wl::Host::log(&mut s, wl::Level::Info, "12345".into());
    }
    assert_eq!((s.log_minute_bytes, s.log_dropped), (10, 1));
    // The next event-time minute has a fresh budget; the run's total still applies.
    advance_to(&s, 60 * NANOS_PER_SECOND);
    wl::Host::log(&mut s, wl::Level::Info, "12345".into());
    assert_eq!((s.log_minute_bytes, s.log_dropped, s.log_bytes_left), (5, 1, Limits::default().log_bytes - 15));
}

#[test]
fn repeated_violations_flag_the_instance_and_stop_further_orders() {
    let checks = OrderChecks { allowed_symbols: Some(vec!["B".into()]), ..OrderChecks::default() };
    let mut s = state(checks, &Limits::default());
    let order = wo::OrderRequest {
        symbol: 0,
        side: wt::Side::Buy,
        qty: 1.0,
        kind: wt::OrderKind::Market,
        limit_price: None,
        stop_price: None,
        time_in_force: wt::TimeInForce::Gtc,
        stop_loss: None,
        take_profit: None,
        indicators: String::new(),
    };
    for _ in 0..MAX_VIOLATIONS_IN_A_ROW - 1 {
        assert_eq!(wo::Host::submit(&mut s, order.clone()), Err(wo::Rejection::SymbolNotAllowed));
    }
    assert!(s.violation.is_none());
    assert_eq!(wo::Host::submit(&mut s, order.clone()), Err(wo::Rejection::SymbolNotAllowed));
    assert!(matches!(wo::Host::submit(&mut s, order), Err(wo::Rejection::LimitExceeded(_))));
    assert_eq!(
        s.take_violation().as_deref(),
        Some("disabled: 100 orders rejected in a row for exceeding limits (last: symbol not allowed for this strategy)")
    );
    assert_eq!(s.account::<Account>().unwrap().rejected_orders, u64::from(MAX_VIOLATIONS_IN_A_ROW) + 1);
}
