#!/usr/bin/env bash
# `liu-engine report` and `export` on a 1,000,000-bar batch: synthetic
# minute bars (`data generate`), backtested with sma-cross and
# momentum-long into SQLite, then the report (whole process: reading the
# batch, round trips, metrics, trade_analysis/gain_loss, the page) and the
# exports, best of 3 each. Prints seconds and the page's size (targets:
# <= 2 s, <= 5 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
engine=target/release/liu-engine
out=bench-out/report
rm -rf "$out" && mkdir -p "$out"
. bench/timing.sh
"$engine" data generate --bars 1000000 --symbols 1 --seed 7 -o "$out/bars.csv"
batch=$("$engine" backtest --json --db "$out/liu.db" --data "$out/bars.csv" \
    --strategy target/strategies/sma-cross.wasm --strategy target/strategies/momentum-long.wasm \
    --param sma-cross.fast=50 --param sma-cross.slow=200 | python3 -c 'import json,sys; print(json.load(sys.stdin)["batch_id"])')
t=$(best_wall "$engine" report "$batch" --db "$out/liu.db" -o "$out/report.html")
size=$(stat -c %s "$out/report.html")
printf 'report of 1,000,000 bars x 2 strategies: %.2f s, %.2f MB (targets: <= 2 s, <= 5 MB)\n' "$t" "$(echo "$size / 1048576" | bc -l)"
t=$(best_wall "$engine" export "$batch" --db "$out/liu.db" --trades "$out/trades.parquet" --equity "$out/equity.parquet")
printf 'export to Parquet (fills, 2,000,000 equity points): %.2f s\n' "$t"
t=$(best_wall "$engine" export "$batch" --db "$out/liu.db" --trades "$out/trades.csv" --equity "$out/equity.csv")
printf 'export to CSV: %.2f s\n' "$t"
