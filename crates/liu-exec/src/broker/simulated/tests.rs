//! Tests of [`super`].

use super::*;

fn bar(time: i64, open: f64, high: f64, low: f64, close: f64) -> Bar {
    Bar { time, open, high, low, close, volume: 1000.0 }
}

fn setup() -> (MarketState, Portfolio, SimulatedBroker) {
    let mut market = MarketState::new(&["AAA".to_string()]);
    market.push_bar(0, liu_core::domain::Timeframe::Day, bar(0, 100.0, 101.0, 99.0, 100.0));
    (market, Portfolio::new(100_000.0, 1), SimulatedBroker::new(FillAt::NextOpen, Commission::default(), 1.0))
}

fn request(side: Side, qty: f64, kind: OrderKind, limit: Option<f64>, stop: Option<f64>) -> OrderRequest {
    OrderRequest {
        symbol: 0,
        side,
        qty,
        kind,
        limit_price: limit,
        stop_price: stop,
        time_in_force: TimeInForce::Gtc,
        stop_loss: None,
        take_profit: None,
        indicators: String::new(),
    }
}

fn run(kind: OrderKind, side: Side, limit: Option<f64>, stop: Option<f64>, next: Bar) -> Option<f64> {
    let (market, mut p, mut b) = setup();
    let (mut fills, mut updates) = (Vec::new(), Vec::new());
    b.submit(request(side, 10.0, kind, limit, stop), &market, &mut p, &mut fills, &mut updates).unwrap();
    b.on_bar(0, &next, &mut p, &mut fills, &mut updates);
    fills.first().map(|f| f.price)
}

/// A long bracket: buy 10 at the next open (100), stop loss 95, take profit 110.
type Books = (MarketState, Portfolio, SimulatedBroker, Vec<Fill>, Vec<OrderUpdate>);

/// A long bracket entered: buy 10 with stop loss 95 and take profit 110,
/// filled at the open (100) of `entry`.
fn entered_bracket(entry: Bar) -> Books {
    let (market, mut p, mut b) = setup();
    let (mut fills, mut updates) = (Vec::new(), Vec::new());
    let mut r = request(Side::Buy, 10.0, OrderKind::Market, None, None);
    (r.stop_loss, r.take_profit) = (Some(95.0), Some(110.0));
    b.submit(r, &market, &mut p, &mut fills, &mut updates).unwrap();
    b.on_bar(0, &entry, &mut p, &mut fills, &mut updates);
    assert_eq!((fills.len(), p.position(0).unwrap().qty), (1, 10.0));
    (market, p, b, fills, updates)
}

/// [`entered_bracket`] and then the bar `next`.
fn bracket(next: Bar) -> (Portfolio, Vec<Fill>, Vec<OrderUpdate>, SimulatedBroker) {
    // The entry's own bar dips to 94: its legs are live only from the next bar.
    let (_, mut p, mut b, mut fills, mut updates) = entered_bracket(bar(1, 100.0, 101.0, 94.0, 100.0));
    b.on_bar(0, &next, &mut p, &mut fills, &mut updates);
    (p, fills, updates, b)
}

fn exit_of(fills: &[Fill]) -> (f64, f64, String) {
    let f = fills.last().unwrap();
    let leg: serde_json::Value = serde_json::from_str(&f.indicators).unwrap();
    (f.qty, f.price, leg["bracket_leg"].as_str().unwrap().to_owned())
}

#[test]
fn a_bracket_exits_at_its_take_profit_and_cancels_its_stop() {
    let (p, fills, updates, b) = bracket(bar(2, 105.0, 111.0, 99.0, 108.0));
    assert_eq!(exit_of(&fills), (10.0, 110.0, "take_profit".to_owned()));
    assert_eq!(p.position(0).unwrap().qty, 0.0);
    assert!(
        updates.iter().any(|u| u.status == OrderStatus::Canceled && u.reason.as_deref() == Some("the other exit of the bracket filled"))
    );
    assert!(!b.has_open_orders());
}

#[test]
fn when_one_bar_touches_both_exits_the_stop_fills_first() {
    let (_, fills, _, b) = bracket(bar(2, 100.0, 111.0, 94.0, 100.0));
    assert_eq!(exit_of(&fills), (10.0, 95.0, "stop_loss".to_owned()));
    assert!(!b.has_open_orders());
    // A gap through the stop fills at the open.
    let (_, fills, _, _) = bracket(bar(2, 90.0, 92.0, 89.0, 91.0));
    assert_eq!(exit_of(&fills), (10.0, 90.0, "stop_loss".to_owned()));
}

#[test]
fn shares_held_by_exits_cannot_be_sold_by_another_order() {
    let (market, mut p, mut b, mut fills, mut updates) = entered_bracket(bar(1, 100.0, 101.0, 99.0, 100.0));
    let refused = b.submit(request(Side::Sell, 4.0, OrderKind::Market, None, None), &market, &mut p, &mut fills, &mut updates);
    assert!(matches!(&refused, Err(Rejection::LimitExceeded(m)) if m.contains("held by open bracket exit orders")), "{refused:?}");
    // Buying more is not held back.
    b.submit(request(Side::Buy, 5.0, OrderKind::Market, None, None), &market, &mut p, &mut fills, &mut updates).unwrap();
}

#[test]
fn exits_die_with_the_position_they_would_close() {
    let (_, mut p, mut b, mut fills, mut updates) = entered_bracket(bar(1, 100.0, 101.0, 99.0, 100.0));
    // The position goes some other way (a fill booked from elsewhere, as
    // a restarted consumer books its predecessor's): the legs must not open a short.
    let sold = Execution {
        order_id: 99,
        symbol: 0,
        side: Side::Sell,
        qty: 10.0,
        price: 100.0,
        fee: 0.0,
        time: 2,
        stop_loss: None,
        take_profit: None,
        indicators: "",
    };
    p.apply(&sold, &mut fills);
    b.on_bar(0, &bar(3, 100.0, 120.0, 80.0, 100.0), &mut p, &mut fills, &mut updates);
    assert_eq!((fills.len(), p.position(0).unwrap().qty), (2, 0.0), "no leg filled");
    assert!(!b.has_open_orders(), "both legs cancelled");
    let gone = updates.iter().filter(|u| u.reason.as_deref() == Some("the position this exit would close is gone")).count();
    assert_eq!(gone, 2);
}

#[test]
fn market_order_fills_at_next_open() {
    assert_eq!(run(OrderKind::Market, Side::Buy, None, None, bar(1, 102.0, 103.0, 101.0, 102.5)), Some(102.0));
}

#[test]
fn limit_fills_at_price_when_traded_through_and_at_open_on_a_gap() {
    assert_eq!(run(OrderKind::Limit, Side::Buy, Some(99.0), None, bar(1, 100.0, 100.5, 98.0, 99.5)), Some(99.0));
    assert_eq!(run(OrderKind::Limit, Side::Buy, Some(99.0), None, bar(1, 97.0, 98.0, 96.0, 97.5)), Some(97.0));
    assert_eq!(run(OrderKind::Limit, Side::Buy, Some(99.0), None, bar(1, 100.0, 101.0, 99.5, 100.0)), None);
    assert_eq!(run(OrderKind::Limit, Side::Sell, Some(101.0), None, bar(1, 100.0, 101.5, 99.0, 100.0)), Some(101.0));
}

#[test]
fn stop_fills_at_stop_or_at_open_on_a_gap() {
    assert_eq!(run(OrderKind::Stop, Side::Sell, None, Some(98.0), bar(1, 99.0, 99.5, 97.0, 97.5)), Some(98.0));
    assert_eq!(run(OrderKind::Stop, Side::Sell, None, Some(98.0), bar(1, 95.0, 96.0, 94.0, 95.0)), Some(95.0));
    assert_eq!(run(OrderKind::Stop, Side::Buy, None, Some(102.0), bar(1, 100.0, 101.0, 99.0, 100.0)), None);
}

#[test]
fn stop_limit_does_not_fill_beyond_its_limit() {
    // Gaps above the limit: triggered but unfilled.
    assert_eq!(run(OrderKind::StopLimit, Side::Buy, Some(103.0), Some(102.0), bar(1, 104.0, 105.0, 103.5, 104.0)), None);
    assert_eq!(run(OrderKind::StopLimit, Side::Buy, Some(103.0), Some(102.0), bar(1, 101.0, 102.5, 100.0, 102.0)), Some(102.0));
}

#[test]
fn bad_quantities_and_prices_are_rejected_with_a_reason() {
    let (market, mut p, mut b) = setup();
    let (mut f, mut u) = (Vec::new(), Vec::new());
    for qty in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let r = b.submit(request(Side::Buy, qty, OrderKind::Market, None, None), &market, &mut p, &mut f, &mut u);
        assert!(matches!(r, Err(Rejection::InvalidQuantity(_))), "{qty}: {r:?}");
    }
    let r = b.submit(request(Side::Buy, 1.0, OrderKind::Limit, Some(f64::NAN), None), &market, &mut p, &mut f, &mut u);
    assert!(matches!(r, Err(Rejection::InvalidPrice(_))));
    let r = b.submit(request(Side::Buy, 1.0, OrderKind::Limit, None, None), &market, &mut p, &mut f, &mut u);
    assert!(matches!(r, Err(Rejection::InvalidPrice(_))));
    // 100k equity at 1x buys at most 1000 shares at 100.
    let r = b.submit(request(Side::Buy, 1001.0, OrderKind::Market, None, None), &market, &mut p, &mut f, &mut u);
    assert!(matches!(r, Err(Rejection::InsufficientBuyingPower(_))));
    assert!(!b.has_open_orders());
}

#[test]
fn tradeplan_limits_refuse_orders_with_typed_reasons() {
    let (market, mut p, b) = setup();
    let checks = OrderChecks { max_position_notional: Some(5_000.0), shortable: false, refuse_duplicates: true, ..OrderChecks::default() };
    let mut b = b.with_checks(checks);
    let (mut f, mut u) = (Vec::new(), Vec::new());
    let buy = |qty| request(Side::Buy, qty, OrderKind::Limit, Some(90.0), None);
    // 60 x 90 = 5,400 > 5,000.
    assert!(matches!(b.submit(buy(60.0), &market, &mut p, &mut f, &mut u), Err(Rejection::LimitExceeded(_))));
    b.submit(buy(50.0), &market, &mut p, &mut f, &mut u).unwrap();
    assert_eq!(b.submit(buy(50.0), &market, &mut p, &mut f, &mut u), Err(Rejection::DuplicateOpenOrder));
    // Selling more than the projected long would open a short.
    let sell = request(Side::Sell, 60.0, OrderKind::Market, None, None);
    assert_eq!(b.submit(sell, &market, &mut p, &mut f, &mut u), Err(Rejection::NotShortable));
}

#[test]
fn max_open_positions_counts_positions_and_pending_openings() {
    let mut market = MarketState::new(&["A".into(), "B".into()]);
    for s in 0..2 {
        market.push_bar(s, liu_core::domain::Timeframe::Day, bar(0, 10.0, 10.0, 10.0, 10.0));
    }
    let mut p = Portfolio::new(100_000.0, 2);
    let checks = OrderChecks { max_open_positions: Some(1), ..OrderChecks::default() };
    let mut b = SimulatedBroker::new(FillAt::NextOpen, Commission::default(), 1.0).with_checks(checks);
    let (mut f, mut u) = (Vec::new(), Vec::new());
    b.submit(request(Side::Buy, 1.0, OrderKind::Market, None, None), &market, &mut p, &mut f, &mut u).unwrap();
    let mut other = request(Side::Buy, 1.0, OrderKind::Market, None, None);
    other.symbol = 1;
    assert!(matches!(b.submit(other, &market, &mut p, &mut f, &mut u), Err(Rejection::LimitExceeded(_))));
}

#[test]
fn orders_over_the_rate_are_refused_until_the_next_event_minute() {
    let (mut market, mut p, b) = setup();
    let mut b = b.with_checks(OrderChecks { max_orders_per_minute: 3, ..OrderChecks::default() });
    let (mut f, mut u) = (Vec::new(), Vec::new());
    let order = || request(Side::Buy, 1.0, OrderKind::Limit, Some(50.0), None);
    // Invalid orders count too: the rate is of submissions.
    assert!(matches!(
        b.submit(request(Side::Buy, 0.0, OrderKind::Market, None, None), &market, &mut p, &mut f, &mut u),
        Err(Rejection::InvalidQuantity(_))
    ));
    for _ in 0..2 {
        b.submit(order(), &market, &mut p, &mut f, &mut u).unwrap();
    }
    for n in 1..=5 {
        let r = b.submit(order(), &market, &mut p, &mut f, &mut u);
        assert_eq!(r, Err(Rejection::LimitExceeded("more than 3 orders per minute".into())));
        assert_eq!(b.violations_in_a_row(), n);
    }
    // 59 s later is the same minute (the setup's bar is at 0); 60 s is the next.
    market.push_bar(0, liu_core::domain::Timeframe::Day, bar(59 * NANOS_PER_SECOND, 100.0, 101.0, 99.0, 100.0));
    assert!(matches!(b.submit(order(), &market, &mut p, &mut f, &mut u), Err(Rejection::LimitExceeded(_))));
    market.push_bar(0, liu_core::domain::Timeframe::Day, bar(60 * NANOS_PER_SECOND, 100.0, 101.0, 99.0, 100.0));
    b.submit(order(), &market, &mut p, &mut f, &mut u).unwrap();
    assert_eq!(b.violations_in_a_row(), 0);
}

#[test]
fn orders_outside_the_allowed_symbols_are_refused_and_counted() {
    let mut market = MarketState::new(&["A".into(), "B".into()]);
    for s in 0..2 {
        market.push_bar(s, liu_core::domain::Timeframe::Day, bar(0, 10.0, 10.0, 10.0, 10.0));
    }
    let mut p = Portfolio::new(100_000.0, 2);
    let checks = OrderChecks { allowed_symbols: Some(vec!["B".into()]), ..OrderChecks::default() };
    let mut b = SimulatedBroker::new(FillAt::NextOpen, Commission::default(), 1.0).with_checks(checks);
    let (mut f, mut u) = (Vec::new(), Vec::new());
    let mut order = request(Side::Buy, 1.0, OrderKind::Market, None, None);
    assert_eq!(b.submit(order.clone(), &market, &mut p, &mut f, &mut u), Err(Rejection::SymbolNotAllowed));
    assert_eq!(b.violations_in_a_row(), 1);
    // A position limit is feedback, not a violation: the count stays.
    order.qty = 1e9;
    assert!(matches!(b.submit(order.clone(), &market, &mut p, &mut f, &mut u), Err(Rejection::SymbolNotAllowed)));
    order.symbol = 1;
    assert!(matches!(b.submit(order.clone(), &market, &mut p, &mut f, &mut u), Err(Rejection::InsufficientBuyingPower(_))));
    assert_eq!(b.violations_in_a_row(), 2);
    order.qty = 1.0;
    b.submit(order, &market, &mut p, &mut f, &mut u).unwrap();
    assert_eq!(b.violations_in_a_row(), 0);
}

#[test]
fn day_orders_expire_after_their_first_day() {
    let (market, mut p, mut b) = setup();
    let (mut f, mut u) = (Vec::new(), Vec::new());
    let mut r = request(Side::Buy, 1.0, OrderKind::Limit, Some(50.0), None);
    r.time_in_force = TimeInForce::Day;
    b.submit(r, &market, &mut p, &mut f, &mut u).unwrap();
    let day = 86_400 * NANOS_PER_SECOND;
    b.on_bar(0, &bar(day, 100.0, 101.0, 99.0, 100.0), &mut p, &mut f, &mut u);
    assert!(b.has_open_orders());
    b.on_bar(0, &bar(2 * day, 100.0, 101.0, 99.0, 100.0), &mut p, &mut f, &mut u);
    assert!(!b.has_open_orders());
    assert_eq!(u.last().unwrap().status, OrderStatus::Expired);
}

#[test]
fn routed_orders_wait_for_the_outside_broker_and_apply_its_fills() {
    let (market, mut p, b) = setup();
    let mut b = b.routed_out();
    let (mut f, mut u) = (Vec::new(), Vec::new());
    let id = b.submit(request(Side::Buy, 10.0, OrderKind::Market, None, None), &market, &mut p, &mut f, &mut u).unwrap();
    assert!(matches!(b.take_routed().as_slice(), [RoutedRequest::Submit { id: i, .. }] if *i == id));
    // Bars no longer fill it; the outside broker does, in two parts.
    b.on_bar(0, &bar(1, 100.0, 101.0, 99.0, 100.0), &mut p, &mut f, &mut u);
    assert!(f.is_empty() && b.has_open_orders());
    assert!(b.on_routed_update(id, OrderStatus::PartiallyFilled, 4.0, 100.5, 2, None, &mut p, &mut f, &mut u));
    assert!(b.on_routed_update(id, OrderStatus::Filled, 6.0, 100.25, 3, None, &mut p, &mut f, &mut u));
    assert_eq!(f.iter().map(|x| (x.qty, x.price)).collect::<Vec<_>>(), [(4.0, 100.5), (6.0, 100.25)]);
    assert_eq!(p.position(0).unwrap().qty, 10.0);
    assert_eq!(
        u.iter().map(|x| (x.status, x.remaining_qty)).collect::<Vec<_>>(),
        [(OrderStatus::PartiallyFilled, 6.0), (OrderStatus::Filled, 0.0)]
    );
    assert!(!b.has_open_orders());
    // A cancel is only a request until the broker confirms it, sent once.
    let id = b.submit(request(Side::Buy, 1.0, OrderKind::Limit, Some(90.0), None), &market, &mut p, &mut f, &mut u).unwrap();
    b.take_routed();
    b.cancel(id, 4, &mut u).unwrap();
    b.cancel_all(4, "disabled", &mut u);
    assert_eq!(b.take_routed(), [RoutedRequest::Cancel { id, placed_as: None }]);
    assert!(b.has_open_orders());
    assert!(b.on_routed_update(id, OrderStatus::Canceled, 0.0, 0.0, 5, None, &mut p, &mut f, &mut u));
    assert!(!b.has_open_orders());
    assert!(!b.on_routed_update(id, OrderStatus::Filled, 1.0, 90.0, 6, None, &mut p, &mut f, &mut u));
}

#[test]
fn open_orders_are_reported_when_they_change_and_a_new_broker_restores_them() {
    let (market, mut p, mut b, mut fills, mut updates) = entered_bracket(bar(1, 100.0, 101.0, 99.0, 100.0));
    b.submit(request(Side::Buy, 3.0, OrderKind::Limit, Some(97.0), None), &market, &mut p, &mut fills, &mut updates).unwrap();
    let changes = b.take_open_order_changes(|_| None);
    assert_eq!(changes.len(), 1);
    assert!(b.take_open_order_changes(|_| None).is_empty(), "nothing changed since");

    // A restarted process: the position is booked from the fills, the orders from what was saved.
    let (market, mut p2, _) = setup();
    let mut restored = SimulatedBroker::new(FillAt::NextOpen, Commission::default(), 1.0);
    let sold_before = Execution {
        order_id: 1,
        symbol: 0,
        side: Side::Buy,
        qty: 10.0,
        price: 100.0,
        fee: 0.0,
        time: 1,
        stop_loss: None,
        take_profit: None,
        indicators: "",
    };
    p2.apply(&sold_before, &mut Vec::new());
    let back = restored.restore_open_orders(0, &changes[0].1, |_| true).unwrap();
    assert_eq!(back.len(), 3, "the bracket's two legs and the limit order");
    // The legs still hold the shares, and still cancel each other.
    let refused = restored.submit(request(Side::Sell, 1.0, OrderKind::Market, None, None), &market, &mut p2, &mut fills, &mut updates);
    assert!(matches!(refused, Err(Rejection::LimitExceeded(_))), "{refused:?}");
    let (mut fills, mut updates) = (Vec::new(), Vec::new());
    restored.on_bar(0, &bar(2, 105.0, 111.0, 96.0, 108.0), &mut p2, &mut fills, &mut updates);
    // In the order they were placed: the legs before the limit order.
    assert_eq!(fills.iter().map(|f| (f.qty, f.price)).collect::<Vec<_>>(), [(10.0, 110.0), (3.0, 97.0)]);
    let earlier: serde_json::Value = serde_json::from_str(&fills[1].indicators).unwrap();
    assert_eq!(earlier["placed_by_earlier_process"], 4, "the limit order was order 4 of the earlier process");
    assert!(!restored.has_open_orders(), "the stop went with the take-profit");
    // Every symbol that changed is reported, and an emptied one as `[]`.
    assert_eq!(restored.take_open_order_changes(|_| None), []);
    assert_eq!(b.take_open_order_changes(|_| None), []);
    b.cancel_all(3, "the session ended", &mut updates);
    assert_eq!(b.take_open_order_changes(|_| None), [(0, "[]".to_owned())]);
}

#[test]
fn restoring_keeps_only_what_the_caller_keeps_and_names_routed_orders_as_placed() {
    let (market, mut p, b) = setup();
    let mut b = b.routed_out();
    let (mut fills, mut updates) = (Vec::new(), Vec::new());
    for limit in [97.0, 98.0] {
        b.submit(request(Side::Buy, 1.0, OrderKind::Limit, Some(limit), None), &market, &mut p, &mut fills, &mut updates).unwrap();
    }
    let saved = b.take_open_order_changes(|id| Some(format!("old-{id}")));
    let mut restored = SimulatedBroker::new(FillAt::NextOpen, Commission::default(), 1.0).routed_out();
    let back = restored.restore_open_orders(0, &saved[0].1, |placed| placed == Some("old-2")).unwrap();
    assert_eq!(back, [RestoredOrder { id: 1, placed_as: Some("old-2".into()) }]);
    // Saved again under the name the broker knows it by.
    let again = restored.take_open_order_changes(|id| Some(format!("new-{id}")));
    assert!(again[0].1.contains("old-2") && !again[0].1.contains("new-"), "{again:?}");
    assert!(restored.restore_open_orders(0, "{not json", |_| true).is_err());
}
