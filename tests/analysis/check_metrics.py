"""Computes a backtest's metrics with independent implementations, for the
engine's tests to compare against: the return and risk ratios with
empyrical (Quantopian's library, as pyfolio and zipline use it), the
drawdown duration and trade statistics with pandas/numpy.

Input (argv[1], JSON): initial equity, the equity curve (times in ns since
the epoch and values), the round trips and the fees. Output (stdout, JSON):
the metrics, named as liu_exec::metrics::Metrics names them.
"""

import json
import sys

import empyrical
import numpy as np
import pandas as pd

DAY_NS = 86_400 * 10**9
YEAR_NS = 365.25 * DAY_NS

case = json.load(open(sys.argv[1]))
initial = case["initial_equity"]
times = np.array(case["times"], dtype=np.int64)
equity = pd.Series(case["equity"], index=pd.to_datetime(times, unit="ns"))
assert equity.iloc[0] == initial, "the curve must start at the initial equity"

returns = equity.pct_change().dropna()
years = (times[-1] - times[0]) / YEAR_NS
# Periods per year as observed in the curve (the engine annualises the same way).
ppy = len(returns) / years

max_dd = -empyrical.max_drawdown(returns)
out = {
    "total_return_pct": empyrical.cum_returns_final(returns) * 100,
    "cagr_pct": empyrical.annual_return(returns, annualization=ppy) * 100,
    "annual_return_pct": returns.mean() * ppy * 100,
    "volatility_pct": empyrical.annual_volatility(returns, annualization=ppy) * 100,
    "sharpe": empyrical.sharpe_ratio(returns, annualization=ppy),
    "sortino": empyrical.sortino_ratio(returns, annualization=ppy),
    "calmar": empyrical.calmar_ratio(returns, annualization=ppy),
    "max_drawdown_pct": max_dd * 100,
}

# The longest stretch under water: from a peak to the first point back at
# or above it, or to the last point (as backtesting.py measures it).
longest, peak, peak_time, under = 0, initial, times[0], False
for t, e in zip(times, case["equity"]):
    if e >= peak:
        if under:
            longest = max(longest, t - peak_time)
        peak, peak_time, under = e, t, False
    else:
        under = True
        longest = max(longest, t - peak_time)
out["max_drawdown_duration_days"] = longest / DAY_NS

trips = pd.DataFrame(case["round_trips"])
pnl = trips["pnl"]
ret = trips["pnl"] / trips["entry_value"] * 100
wins, losses = pnl[pnl > 0].sum(), -pnl[pnl < 0].sum()
out.update(
    round_trips=len(trips),
    win_rate_pct=(pnl > 0).mean() * 100,
    profit_factor=wins / losses,
    expectancy=pnl.mean(),
    sqn=np.sqrt(len(pnl)) * pnl.mean() / pnl.std(ddof=1),
    best_trade_pct=ret.max(),
    worst_trade_pct=ret.min(),
    avg_trade_pct=ret.mean(),
    avg_holding_days=((trips["exit_time"] - trips["entry_time"]) / DAY_NS).mean(),
    fees=float(np.sum(case["fees"])),
    exposure_pct=case["steps_in_market"] / len(equity) * 100,
)
json.dump({k: float(v) for k, v in out.items()}, sys.stdout)
