"""How often a floating-point SMA crossover sees the wrong side of a tie.

For every combination of the optimize benchmark's grid (fast 2,4..20 x slow
25,30..70) over a CSV of bars with 4-decimal closes, compares the sign of
SMA(fast) - SMA(slow) at each bar, computed two ways, with exact integer
arithmetic on the decimal prices:
  - per-window: each window summed oldest to newest (the SDKs' old `Window`);
  - running: the SDKs' `Window` (a running sum, summed again oldest to newest
    each time the window wraps).
Prints the bars where each is wrong, per combination and in all.

Usage: python bench/sma_ties.py bench-out/peer-200k.csv   (needs numpy)
"""
import csv
import sys

import numpy as np

rows = list(csv.DictReader(open(sys.argv[1])))
close = np.array([float(r["close"]) for r in rows])
scaled = [round(float(r["close"]) * 10_000) for r in rows]
assert all(abs(i / 10_000 - c) < 1e-9 for i, c in zip(scaled, close)), "closes must have at most 4 decimals"
n = len(close)


def per_window(length):
    # Vectorised across windows, sequential within each: ((0 + x0) + x1) + ...
    total = np.zeros(n - length + 1)
    for k in range(length):
        total += close[k : n - length + 1 + k]
    return total / length


def running(length):
    values, nxt, filled, total, out = [0.0] * length, 0, False, 0.0, []
    for x in close:
        leaving, values[nxt] = values[nxt], x
        nxt += 1
        if nxt == length:
            nxt, filled, total = 0, True, 0.0
            for v in values:  # oldest to newest, as nxt is 0
                total += v
        else:
            total = (total - leaving) + x
        if filled:
            out.append(total / length)
    return np.array(out)


def exact_sums(length):
    prefix = [0]
    for i in scaled:
        prefix.append(prefix[-1] + i)
    return [prefix[i + length] - prefix[i] for i in range(n - length + 1)]


cache = {}


def series(kind, length):
    if (kind, length) not in cache:
        cache[kind, length] = {"per-window": per_window, "running": running, "exact": exact_sums}[kind](length)
    return cache[kind, length]


wrong = {"per-window": 0, "running": 0}
for fast in range(2, 21, 2):
    for slow in range(25, 71, 5):
        ef, es, skip = series("exact", fast), series("exact", slow), slow - fast
        exact = np.sign(np.array([ef[i + skip] * slow - es[i] * fast for i in range(len(es))], dtype=np.float64))
        counts = []
        for kind in wrong:
            sign = np.sign(series(kind, fast)[skip:] - series(kind, slow))
            bad = int((sign != exact).sum())
            wrong[kind] += bad
            counts.append(f"{kind} {bad}")
        print(f"fast {fast:2} slow {slow:2}: exact ties {int((exact == 0).sum())}, wrong sign: {', '.join(counts)}")
print("in all, bars with the wrong sign:", ", ".join(f"{k} {v}" for k, v in wrong.items()))
