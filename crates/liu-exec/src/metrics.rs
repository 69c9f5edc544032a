//! Performance metrics of a finished backtest: returns, drawdown, risk-adjusted
//! ratios and trade statistics, computed from the equity curve and round trips.
//!
//! Every output is finite (NaN becomes 0, ±infinity is clamped to ±`f64::MAX`),
//! so [`Metrics`] always serialises to JSON.

use serde::Serialize;

use liu_core::domain::{NANOS_PER_SECOND, SymbolId, Timestamp};

/// Nanoseconds in a year of 365.25 days.
const NANOS_PER_YEAR: f64 = 365.25 * NANOS_PER_DAY;
const NANOS_PER_DAY: f64 = 86_400.0 * NANOS_PER_SECOND as f64;

/// One closed position: entry to exit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RoundTrip {
    pub symbol: SymbolId,
    pub entry_time: Timestamp,
    pub exit_time: Timestamp,
    /// Profit or loss, net of fees.
    pub pnl: f64,
    /// The value of every opening fill of the trip (quantity × price), the
    /// capital it put to work; its return is `pnl / entry_value`.
    pub entry_value: f64,
}

impl RoundTrip {
    /// Return on the capital the trip put to work, in percent; 0 when it put none.
    pub fn return_pct(&self) -> f64 {
        if self.entry_value > 0.0 { self.pnl / self.entry_value * 100.0 } else { 0.0 }
    }
}

/// Summary statistics of a backtest. Percentages are in percent (5.0 = 5 %).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metrics {
    pub initial_equity: f64,
    pub final_equity: f64,
    /// `(final / initial - 1) * 100`.
    pub total_return_pct: f64,
    /// Compound annual growth rate over the span from the first to the last time.
    pub cagr_pct: f64,
    /// Largest peak-to-trough fall, as a positive percentage of the peak.
    pub max_drawdown_pct: f64,
    /// Annualised mean per-step return: mean × periods per year.
    pub annual_return_pct: f64,
    /// Annualised volatility: sample standard deviation of per-step returns × sqrt(periods per year).
    pub volatility_pct: f64,
    /// Annualised Sharpe ratio of per-step returns (risk-free rate 0).
    pub sharpe: f64,
    /// Annualised Sortino ratio of per-step returns (target 0).
    pub sortino: f64,
    /// CAGR / max drawdown; 0 without a drawdown.
    pub calmar: f64,
    /// The longest time spent below a previous peak, from the peak to the
    /// first point back at or above it (or to the end of the curve), in days.
    pub max_drawdown_duration_days: f64,
    /// Share of round trips with `pnl > 0`.
    pub win_rate_pct: f64,
    /// Gross profit / gross loss; `None` when no round trip lost money.
    pub profit_factor: Option<f64>,
    pub round_trips: usize,
    /// Mean PnL per round trip, net of fees, in money.
    pub expectancy: f64,
    /// System quality number (Van Tharp): sqrt(n) × mean / sample std dev of
    /// round-trip PnL; 0 with fewer than 2 round trips or no spread.
    pub sqn: f64,
    /// Best, worst and mean round-trip return on the capital it put to work ([`RoundTrip::return_pct`]).
    pub best_trade_pct: f64,
    pub worst_trade_pct: f64,
    pub avg_trade_pct: f64,
    /// Mean time from a round trip's first opening fill to its closing fill, in days.
    pub avg_holding_days: f64,
    /// Fees (commissions) paid, in money.
    pub fees: f64,
    /// Share of time steps with an open position.
    pub exposure_pct: f64,
}

/// NaN → 0, ±inf → ±`f64::MAX`.
fn finite(x: f64) -> f64 {
    if x.is_nan() { 0.0 } else { x.clamp(-f64::MAX, f64::MAX) }
}

/// The nearest-rank `q` quantile (0 to 1) of `sorted` samples; 0 when empty.
pub fn nearest_rank(sorted: &[u64], q: f64) -> u64 {
    match sorted.len() {
        0 => 0,
        n => sorted[((n - 1) as f64 * q).round() as usize],
    }
}

/// Computes the metrics of a backtest.
///
/// - `times`, `equity`: the equity curve, one point per time step (if the
///   lengths differ, the shorter one decides).
/// - `steps_in_market`: how many of those steps had an open position.
/// - `round_trips`, `fees`: the closed trades and every fee paid.
///
/// Conventions:
/// - The peak for the drawdown starts at `initial_equity`.
/// - CAGR uses years = (last time − first time) / 365.25 days; 0 if the span is 0.
/// - Sharpe and Sortino use the simple returns between consecutive curve points
///   (`n` points give `n − 1` returns; the step from `initial_equity` to the first
///   point is not counted, since the first point normally precedes any trade).
///   They are annualised by `sqrt(periods per year)` with periods per year =
///   `(n − 1) / years`, the observed rate of steps (≈252 for daily trading-day
///   data). Sharpe = mean / sample std dev; Sortino = mean / sqrt(mean(min(r, 0)²)).
///   Both are 0 when undefined: fewer than 2 returns, a zero span, zero
///   (or numerically negligible) deviation. A return after a non-positive
///   equity point is undefined and skipped. Annual return and volatility
///   are the mean and the sample deviation of the same returns, annualised
///   the same way (× periods per year, × its square root).
/// - Calmar = CAGR / max drawdown, both in percent.
pub fn compute(
    initial_equity: f64,
    times: &[Timestamp],
    equity: &[f64],
    steps_in_market: usize,
    round_trips: &[RoundTrip],
    fees: f64,
) -> Metrics {
    let n = times.len().min(equity.len());
    let (times, equity) = (&times[..n], &equity[..n]);
    let final_equity = equity.last().copied().unwrap_or(initial_equity);

    let valid_initial = initial_equity.is_finite() && initial_equity > 0.0;
    let growth = final_equity / initial_equity;
    let total_return_pct = if valid_initial { (growth - 1.0) * 100.0 } else { 0.0 };

    let years = match (times.first(), times.last()) {
        (Some(&a), Some(&b)) if b > a => (b as f64 - a as f64) / NANOS_PER_YEAR,
        _ => 0.0,
    };
    let cagr_pct = if !valid_initial || years <= 0.0 {
        0.0
    } else if growth <= 0.0 {
        -100.0
    } else {
        (growth.powf(1.0 / years) - 1.0) * 100.0
    };

    // Drawdown, and the longest stretch under water: from the time of the
    // peak (the first point for the initial equity) to the first point back
    // at or above it, or to the last point if it never gets back.
    let mut peak = initial_equity;
    let mut peak_time = times.first().copied().unwrap_or(0);
    let mut max_dd = 0.0f64;
    let mut longest_under_water = 0i64;
    let mut under_water = false;
    for (&t, &e) in times.iter().zip(equity) {
        if e >= peak {
            // Back at the peak, or a new one: a stretch under water ends here.
            if under_water {
                longest_under_water = longest_under_water.max(t - peak_time);
            }
            (peak, peak_time, under_water) = (e, t, false);
        } else {
            under_water = true;
            longest_under_water = longest_under_water.max(t - peak_time);
        }
        if peak > 0.0 {
            let dd = (peak - e) / peak;
            if dd > max_dd {
                max_dd = dd;
            }
        }
    }

    // Per-step returns.
    let returns: Vec<f64> =
        equity.windows(2).filter(|w| w[0] > 0.0 && w[0].is_finite() && w[1].is_finite()).map(|w| w[1] / w[0] - 1.0).collect();
    let (annual_return, volatility, sharpe, sortino) = if returns.len() >= 2 && years > 0.0 {
        let m = returns.len() as f64;
        let mean = returns.iter().sum::<f64>() / m;
        let var = returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (m - 1.0);
        let sd = var.sqrt();
        let downside = (returns.iter().map(|r| r.min(0.0).powi(2)).sum::<f64>() / m).sqrt();
        let periods_per_year = (n - 1) as f64 / years;
        let ann = periods_per_year.sqrt();
        // A deviation this small relative to the mean is rounding noise of a
        // constant return, not risk.
        let negligible = |d: f64| d == 0.0 || d <= 1e-12 * mean.abs();
        let sharpe = if negligible(sd) { 0.0 } else { mean / sd * ann };
        let sortino = if negligible(downside) { 0.0 } else { mean / downside * ann };
        (mean * periods_per_year, if negligible(sd) { 0.0 } else { sd * ann }, sharpe, sortino)
    } else {
        (0.0, 0.0, 0.0, 0.0)
    };
    let calmar = if max_dd > 0.0 { cagr_pct / (max_dd * 100.0) } else { 0.0 };

    // Trades.
    let winners = round_trips.iter().filter(|t| t.pnl > 0.0).count();
    let gross_profit: f64 = round_trips.iter().filter(|t| t.pnl > 0.0).map(|t| t.pnl).sum();
    let gross_loss: f64 = -round_trips.iter().filter(|t| t.pnl < 0.0).map(|t| t.pnl).sum::<f64>();
    let win_rate_pct = if round_trips.is_empty() { 0.0 } else { winners as f64 / round_trips.len() as f64 * 100.0 };
    let profit_factor = (gross_loss > 0.0).then(|| finite(gross_profit / gross_loss));
    let trades = round_trips.len() as f64;
    let mean_of = |values: &mut dyn Iterator<Item = f64>| if trades > 0.0 { values.sum::<f64>() / trades } else { 0.0 };
    let expectancy = mean_of(&mut round_trips.iter().map(|t| t.pnl));
    let sqn = if round_trips.len() >= 2 {
        let sd = (round_trips.iter().map(|t| (t.pnl - expectancy).powi(2)).sum::<f64>() / (trades - 1.0)).sqrt();
        if sd > 1e-12 * expectancy.abs() { trades.sqrt() * expectancy / sd } else { 0.0 }
    } else {
        0.0
    };
    let trade_returns = || round_trips.iter().map(RoundTrip::return_pct);
    let best_trade_pct = trade_returns().reduce(f64::max).unwrap_or(0.0);
    let worst_trade_pct = trade_returns().reduce(f64::min).unwrap_or(0.0);
    let avg_trade_pct = mean_of(&mut trade_returns());
    let avg_holding_days = mean_of(&mut round_trips.iter().map(|t| (t.exit_time - t.entry_time) as f64 / NANOS_PER_DAY));

    let exposure_pct = if n == 0 { 0.0 } else { (steps_in_market.min(n) as f64 / n as f64) * 100.0 };

    Metrics {
        initial_equity: finite(initial_equity),
        final_equity: finite(final_equity),
        total_return_pct: finite(total_return_pct),
        cagr_pct: finite(cagr_pct),
        max_drawdown_pct: finite(max_dd * 100.0),
        annual_return_pct: finite(annual_return * 100.0),
        volatility_pct: finite(volatility * 100.0),
        sharpe: finite(sharpe),
        sortino: finite(sortino),
        calmar: finite(calmar),
        max_drawdown_duration_days: finite(longest_under_water as f64 / NANOS_PER_DAY),
        win_rate_pct: finite(win_rate_pct),
        profit_factor,
        round_trips: round_trips.len(),
        expectancy: finite(expectancy),
        sqn: finite(sqn),
        best_trade_pct: finite(best_trade_pct),
        worst_trade_pct: finite(worst_trade_pct),
        avg_trade_pct: finite(avg_trade_pct),
        avg_holding_days: finite(avg_holding_days),
        fees: finite(fees),
        exposure_pct: finite(exposure_pct),
    }
}

#[cfg(test)]
mod tests;
