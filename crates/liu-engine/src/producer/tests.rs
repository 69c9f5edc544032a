//! Tests of [`super`].

use super::*;

#[test]
fn a_consumer_dying_young_is_restarted_ever_later_and_a_healthy_one_at_once() {
    let young = Duration::from_millis(50);
    let mut delay = RESTART_DELAY / 2;
    let mut delays = Vec::new();
    for _ in 0..9 {
        delay = next_restart_delay(delay, young);
        delays.push(delay.as_millis());
    }
    assert_eq!(delays, [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]);
    assert_eq!(next_restart_delay(MAX_RESTART_DELAY, HEALTHY_RUN), RESTART_DELAY);
}

#[test]
fn strategy_results_are_summed_over_consumers_per_name_and_parameters() {
    use liu_core::domain::{OpenPosition, SessionResult};
    let result = |name: &str, params: &str, fills, equity, position: Option<(&str, f64)>| SessionResult {
        name: name.into(),
        parameters: params.into(),
        fills,
        starting_cash: 1000.0,
        realized_pnl: equity - 1000.0 - position.map_or(0.0, |p| p.1),
        unrealized_pnl: position.map_or(0.0, |p| p.1),
        fees: 1.0,
        equity,
        open_positions: position
            .map(|(symbol, pnl)| OpenPosition {
                symbol: symbol.into(),
                qty: 1.0,
                avg_price: 10.0,
                last_price: 10.0 + pnl,
                unrealized_pnl: pnl,
            })
            .into_iter()
            .collect(),
    };
    let results = std::collections::BTreeMap::from([
        (0, vec![result("sma", "{\"fast\":2}", 3, 1010.0, Some(("B", 4.0))), result("sma", "{\"fast\":3}", 1, 990.0, None)]),
        (1, vec![result("sma", "{\"fast\":2}", 2, 1030.0, Some(("A", -2.0))), result("sma", "{\"fast\":3}", 0, 1000.0, None)]),
    ]);
    let summary = summarize(&results);
    assert_eq!(summary.len(), 2, "one line per name and parameters");
    let first = &summary[0];
    assert_eq!((first.totals.parameters.as_str(), first.consumers, first.totals.fills), ("{\"fast\":2}", 2, 5));
    assert_eq!((first.totals.starting_cash, first.totals.equity, first.totals.fees), (2000.0, 2040.0, 2.0));
    assert_eq!((first.totals.realized_pnl, first.totals.unrealized_pnl), (38.0, 2.0));
    assert!((first.return_pct - 2.0).abs() < 1e-12);
    assert_eq!(first.totals.open_positions.iter().map(|p| p.symbol.as_str()).collect::<Vec<_>>(), ["A", "B"]);
    assert!((summary[1].return_pct + 0.5).abs() < 1e-12);
}

#[test]
fn partition_is_balanced_and_stable_as_symbols_arrive() {
    let mut p = Partition::new(3);
    let first: Vec<u32> = (0..7).map(|_| p.assign()).collect();
    assert_eq!(first, vec![0, 1, 2, 0, 1, 2, 0]);
    // Later symbols go to the least-loaded consumers; earlier ones never move.
    assert_eq!(p.assign(), 1);
    assert_eq!(p.assign(), 2);
    assert_eq!((0..7).map(|s| p.owner(s).unwrap()).collect::<Vec<_>>(), first);
    assert_eq!(p.owned_by(0).collect::<Vec<_>>(), vec![0, 3, 6]);
}

#[test]
fn symbol_ids_follow_sorted_names_so_runs_are_repeatable() {
    let t = SymbolTable::new(&["MSFT".into(), "AAPL".into(), "IBM".into(), "AAPL".into()], 2);
    assert_eq!(t.names, vec!["AAPL", "IBM", "MSFT"]);
    assert_eq!(t.assignment(0), vec![(0, "AAPL".to_string()), (2, "MSFT".to_string())]);
    assert_eq!(t.assignment(1), vec![(1, "IBM".to_string())]);
}
