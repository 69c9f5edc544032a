//! The engine's metrics (`liu_exec::metrics`) against independent
//! implementations (empyrical, pandas; `tests/analysis/check_metrics.py`),
//! on the same equity curve and trades: a long/short SMA strategy on the
//! real GOOG daily prices, booked by the engine's own portfolio.

use std::process::Command;

use liu_core::domain::{Fill, Side};
use liu_data::LoadOptions;
use liu_exec::metrics;
use liu_exec::portfolio::{Execution, Portfolio};

use crate::common::{data, repo};

#[test]
fn metrics_match_empyrical_and_pandas_on_real_prices() {
    let market = liu_data::load(&data("GOOG.csv"), &LoadOptions { symbol: Some("GOOG".into()), ..Default::default() }).unwrap();
    let initial = 100_000.0;
    let mut portfolio = Portfolio::new(initial, 1);
    let (mut times, mut equity, mut fees, mut fills) = (Vec::new(), Vec::new(), Vec::new(), Vec::<Fill>::new());
    let mut steps_in_market = 0;
    let closes: Vec<f64> = market.events.iter().map(|e| e.bar.close).collect();
    for (i, event) in market.events.iter().enumerate() {
        let bar = &event.bar;
        // Above its 20-day mean: long 100; below: short 50; flips at the close.
        if i >= 20 {
            let mean = closes[i - 20..i].iter().sum::<f64>() / 20.0;
            let held = portfolio.position(0).map_or(0.0, |p| p.qty);
            let target = if bar.close > mean { 100.0 } else { -50.0 };
            if target != held {
                let (side, qty) = if target > held { (Side::Buy, target - held) } else { (Side::Sell, held - target) };
                let fee = 0.005 * qty;
                fees.push(fee);
                let execution = Execution {
                    order_id: i as u64,
                    symbol: 0,
                    side,
                    qty,
                    price: bar.close,
                    fee,
                    time: bar.time,
                    stop_loss: None,
                    take_profit: None,
                    indicators: "",
                };
                portfolio.apply(&execution, &mut fills);
            }
        }
        portfolio.mark(0, bar.close);
        times.push(bar.time);
        equity.push(portfolio.equity());
        steps_in_market += usize::from(portfolio.has_open_positions());
    }
    let ours = metrics::compute(initial, &times, &equity, steps_in_market, portfolio.round_trips(), portfolio.fees);
    assert!(ours.round_trips > 50 && ours.max_drawdown_pct > 1.0, "a curve with trades and drawdowns: {ours:?}");

    let case = serde_json::json!({
        "initial_equity": initial,
        "times": times,
        "equity": equity,
        "round_trips": portfolio.round_trips(),
        "fees": fees,
        "steps_in_market": steps_in_market,
    });
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("case.json");
    std::fs::write(&input, case.to_string()).unwrap();
    let python = repo().join("target/langs/analysis/bin/python");
    assert!(python.exists(), "{} is missing: run `just setup-langs`", python.display());
    let out = Command::new(python).arg(repo().join("tests/analysis/check_metrics.py")).arg(&input).output().unwrap();
    assert!(out.status.success(), "check_metrics.py: {}", String::from_utf8_lossy(&out.stderr));
    let theirs: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();

    let ours = serde_json::to_value(&ours).unwrap();
    for (name, expected) in &theirs {
        let expected = expected.as_f64().unwrap();
        let got = ours[name].as_f64().unwrap_or_else(|| panic!("{name} is missing from the engine's metrics"));
        assert!((got - expected).abs() <= 1e-9 * expected.abs().max(1.0), "{name}: engine {got}, independent {expected}");
    }
    // Everything the tear sheet shows is covered, except the inputs themselves.
    let unchecked: Vec<_> = ours.as_object().unwrap().keys().filter(|k| !theirs.contains_key(*k)).collect();
    assert_eq!(unchecked, ["final_equity", "initial_equity"], "metrics without an independent check");
}
