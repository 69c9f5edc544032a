//! Tests of [`super`].

use super::*;

const DAY: i64 = 86_400 * NANOS_PER_SECOND;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

fn rt(pnl: f64) -> RoundTrip {
    RoundTrip { symbol: 0, entry_time: 0, exit_time: DAY, pnl, entry_value: 100.0 }
}

#[test]
fn returns_and_drawdown() {
    // initial 100; curve 100, 120, 90, 110.
    // total return = 110/100 - 1 = 10 %.
    // peak 120 then 90: drawdown = 30/120 = 25 %.
    let times = [0, DAY, 2 * DAY, 3 * DAY];
    let m = compute(100.0, &times, &[100.0, 120.0, 90.0, 110.0], 2, &[], 0.0);
    assert!(close(m.total_return_pct, 10.0), "{m:?}");
    assert!(close(m.max_drawdown_pct, 25.0), "{m:?}");
    assert!(close(m.final_equity, 110.0));
    // exposure = 2 / 4 steps = 50 %.
    assert!(close(m.exposure_pct, 50.0));
}

#[test]
fn drawdown_peak_includes_initial_equity() {
    // initial 200, curve 150, 180: peak stays 200, trough 150 → 25 %.
    let m = compute(200.0, &[0, DAY], &[150.0, 180.0], 0, &[], 0.0);
    assert!(close(m.max_drawdown_pct, 25.0), "{m:?}");
}

#[test]
fn cagr_over_two_years() {
    // 100 → 121 over exactly 2 years (2 * 365.25 days): (1.21)^(1/2) - 1 = 10 %.
    let two_years = (2.0 * 365.25 * DAY as f64) as i64;
    let m = compute(100.0, &[0, two_years], &[100.0, 121.0], 0, &[], 0.0);
    assert!(close(m.cagr_pct, 10.0), "{m:?}");
    // Zero span → 0.
    let m = compute(100.0, &[5, 5], &[100.0, 121.0], 0, &[], 0.0);
    assert_eq!(m.cagr_pct, 0.0);
    assert!(close(m.total_return_pct, 21.0));
}

#[test]
fn sharpe_and_sortino() {
    // Curve 100, 110, 99, 108.9 one day apart → returns +10 %, -10 %, +10 %.
    // mean = 0.1/3 = 0.033333; deviations 0.066667, -0.133333, 0.066667;
    // sample var = (0.0044444 + 0.0177778 + 0.0044444) / 2 = 0.0133333, sd = 0.1154701.
    // years = 3 days / 365.25; periods/year = 3 / years = 365.25; sqrt = 19.1116.
    // sharpe = 0.033333 / 0.1154701 * 19.1116 = 5.51703.
    // downside = sqrt((0 + 0.01 + 0) / 3) = 0.0577350; sortino = 0.033333/0.057735*19.1116 = 11.03406.
    let times = [0, DAY, 2 * DAY, 3 * DAY];
    let m = compute(100.0, &times, &[100.0, 110.0, 99.0, 108.9], 0, &[], 0.0);
    let ann = 365.25f64.sqrt();
    let sharpe = (0.1 / 3.0) / (0.0133333333333333f64).sqrt() * ann;
    let sortino = (0.1 / 3.0) / (0.01f64 / 3.0).sqrt() * ann;
    assert!((m.sharpe - sharpe).abs() < 1e-6, "{m:?} vs {sharpe}");
    assert!((m.sortino - sortino).abs() < 1e-6, "{m:?} vs {sortino}");
    assert!((m.sharpe - 5.51703).abs() < 1e-4);
    assert!((m.sortino - 11.03406).abs() < 1e-4);
}

#[test]
fn undefined_ratios_are_zero() {
    // Constant curve: no variance.
    let times = [0, DAY, 2 * DAY];
    let m = compute(100.0, &times, &[100.0, 100.0, 100.0], 0, &[], 0.0);
    assert_eq!((m.sharpe, m.sortino), (0.0, 0.0));
    // Constant growth of 1 % a step: zero variance (up to rounding) → Sharpe 0;
    // no negative return → Sortino 0.
    let m = compute(100.0, &times, &[100.0, 101.0, 102.01], 0, &[], 0.0);
    assert_eq!((m.sharpe, m.sortino), (0.0, 0.0), "{m:?}");
    // One point.
    let m = compute(100.0, &[0], &[105.0], 1, &[], 0.0);
    assert_eq!((m.sharpe, m.sortino, m.cagr_pct), (0.0, 0.0, 0.0));
    assert!(close(m.total_return_pct, 5.0));
    assert!(close(m.exposure_pct, 100.0));
}

#[test]
fn trades() {
    // pnl +30, -10, +20, -5: 2 winners of 4 → 50 %; PF = 50 / 15 = 3.3333.
    let trips = [rt(30.0), rt(-10.0), rt(20.0), rt(-5.0)];
    let m = compute(100.0, &[0], &[100.0], 0, &trips, 0.0);
    assert_eq!(m.round_trips, 4);
    assert!(close(m.win_rate_pct, 50.0));
    assert!(close(m.profit_factor.unwrap(), 50.0 / 15.0));
    // Only winners (and a flat trade, not a winner): PF None, win rate 1/2.
    let m = compute(100.0, &[0], &[100.0], 0, &[rt(5.0), rt(0.0)], 0.0);
    assert_eq!(m.profit_factor, None);
    assert!(close(m.win_rate_pct, 50.0));
    // No trades.
    let m = compute(100.0, &[0], &[100.0], 0, &[], 0.0);
    assert_eq!((m.win_rate_pct, m.profit_factor, m.round_trips), (0.0, None, 0));
}

#[test]
fn degenerate_inputs_stay_finite() {
    let all = |m: &Metrics| {
        [
            m.initial_equity,
            m.final_equity,
            m.total_return_pct,
            m.cagr_pct,
            m.max_drawdown_pct,
            m.sharpe,
            m.sortino,
            m.annual_return_pct,
            m.volatility_pct,
            m.calmar,
            m.max_drawdown_duration_days,
            m.win_rate_pct,
            m.profit_factor.unwrap_or(0.0),
            m.expectancy,
            m.sqn,
            m.best_trade_pct,
            m.worst_trade_pct,
            m.avg_trade_pct,
            m.avg_holding_days,
            m.fees,
            m.exposure_pct,
        ]
        .iter()
        .all(|x| x.is_finite())
    };
    let cases = [
        compute(0.0, &[], &[], 5, &[], 0.0),
        compute(100.0, &[0, 60 * NANOS_PER_SECOND], &[100.0, 1e6], 1, &[], 0.0), // huge CAGR
        compute(100.0, &[0, DAY, 2 * DAY], &[100.0, 0.0, -50.0], 1, &[], 0.0),
        compute(f64::NAN, &[0, DAY], &[f64::NAN, f64::INFINITY], 9, &[rt(f64::INFINITY), rt(-1.0)], 0.0),
        compute(100.0, &[0, DAY], &[100.0], 0, &[], 0.0), // length mismatch
    ];
    for m in &cases {
        assert!(all(m), "{m:?}");
        serde_json::to_string(m).unwrap();
    }
    // Wipe-out: equity to 0 → drawdown 100 %, CAGR -100 %.
    let m = compute(100.0, &[0, DAY], &[100.0, 0.0], 0, &[], 0.0);
    assert!(close(m.max_drawdown_pct, 100.0));
    assert!(close(m.cagr_pct, -100.0));
    // Empty curve: final = initial.
    let m = compute(100.0, &[], &[], 0, &[], 0.0);
    assert_eq!((m.final_equity, m.total_return_pct, m.exposure_pct), (100.0, 0.0, 0.0));
}

#[test]
fn drawdown_duration_runs_from_the_peak_to_the_recovery() {
    // 100, 120 (peak, day 1), 90, 110, 125 (back above on day 5): 4 days under water.
    let times = [0, DAY, 2 * DAY, 3 * DAY, 5 * DAY];
    let m = compute(100.0, &times, &[100.0, 120.0, 90.0, 110.0, 125.0], 0, &[], 0.0);
    assert!(close(m.max_drawdown_duration_days, 4.0), "{m:?}");
    // Never back: under water to the end of the curve (day 1 to day 3).
    let m = compute(100.0, &times[..4], &[100.0, 120.0, 90.0, 110.0], 0, &[], 0.0);
    assert!(close(m.max_drawdown_duration_days, 2.0), "{m:?}");
    // Below the initial equity from the first point on: from the first point.
    let m = compute(100.0, &[DAY, 3 * DAY], &[90.0, 95.0], 0, &[], 0.0);
    assert!(close(m.max_drawdown_duration_days, 2.0), "{m:?}");
    // No drawdown: 0, and so is Calmar.
    let m = compute(100.0, &times[..2], &[100.0, 120.0], 0, &[], 0.0);
    assert_eq!((m.max_drawdown_duration_days, m.calmar), (0.0, 0.0));
}

#[test]
fn calmar_volatility_and_annual_return() {
    // 100 → 121 over two years with a 25 % drawdown on the way: CAGR 10 %, Calmar 0.4.
    let two_years = (2.0 * 365.25 * DAY as f64) as i64;
    let m = compute(100.0, &[0, two_years / 2, two_years], &[100.0, 80.0, 121.0], 0, &[], 0.0);
    assert!(close(m.calmar, 10.0 / 20.0), "{m:?}");
    // Returns -20 % and +51.25 %: mean 15.625 %, sample sd 50.0814 %,
    // one period a year → annual return 15.625 %, volatility 50.0814 %.
    assert!(close(m.annual_return_pct, 15.625), "{m:?}");
    let sd = ((0.35625f64.powi(2) + 0.35625f64.powi(2)) / 1.0).sqrt() * 100.0;
    assert!(close(m.volatility_pct, sd), "{m:?} vs {sd}");
}

#[test]
fn trade_statistics() {
    // pnl +30, -10, +20, -5, each on 100 of capital, held 1 day; fees 4.
    // expectancy 8.75; sample sd sqrt(1118.75 / 3) = 19.3111; SQN = 2 × 8.75 / 19.3111.
    let trips = [rt(30.0), rt(-10.0), rt(20.0), rt(-5.0)];
    let m = compute(100.0, &[0], &[100.0], 0, &trips, 4.0);
    assert!(close(m.expectancy, 8.75), "{m:?}");
    assert!(close(m.sqn, 2.0 * 8.75 / (1118.75f64 / 3.0).sqrt()), "{m:?}");
    assert!((m.sqn - 0.90622).abs() < 1e-4);
    assert_eq!((m.best_trade_pct, m.worst_trade_pct), (30.0, -10.0));
    assert!(close(m.avg_trade_pct, 8.75));
    assert!(close(m.avg_holding_days, 1.0));
    assert_eq!(m.fees, 4.0);
    // One trade: no spread, SQN 0; a trip that put no capital to work has a 0 % return.
    let m = compute(100.0, &[0], &[100.0], 0, &[RoundTrip { entry_value: 0.0, ..rt(5.0) }], 0.0);
    assert_eq!((m.sqn, m.best_trade_pct, m.expectancy), (0.0, 0.0, 5.0));
}
