#!/usr/bin/env bash
# The cost of the sandbox limits: sma-cross over 1,000,000 synthetic minute
# bars with fuel metering + epoch deadlines on (the default) and off
# (`backtest --unmetered`, a hidden flag that exists for this measurement).
# Whole-process wall time, best of 3 runs each; prints bars/s and the slowdown.
set -euo pipefail
cd "$(dirname "$0")/.."
engine=target/release/liu-engine
sma=target/strategies/sma-cross.wasm
out=bench-out
mkdir -p "$out"
[ -f "$out/minute-1m.csv" ] || "$engine" data generate --bars 1000000 --seed 7 -o "$out/minute-1m.csv"

best_wall() { # best wall seconds of 3 runs of "$@"
    local best=""
    for _ in 1 2 3; do
        rm -f "$out"/limits.db*
        local t0=$EPOCHREALTIME
        "$@" >/dev/null
        local t=$(echo "$EPOCHREALTIME - $t0" | bc -l)
        if [ -z "$best" ] || (( $(echo "$t < $best" | bc -l) )); then best=$t; fi
    done
    echo "$best"
}

run() { "$engine" backtest --strategy "$sma" --data "$out/minute-1m.csv" --db "$out/limits.db" \
    --param fast=10 --param slow=30 --param qty=10 "$@"; }
on=$(best_wall run)
off=$(best_wall run --unmetered)
printf 'sma-cross, 1M bars, limits on : %7.3f s %12.0f bars/s\n' "$on" "$(echo "1000000 / $on" | bc -l)"
printf 'sma-cross, 1M bars, limits off: %7.3f s %12.0f bars/s\n' "$off" "$(echo "1000000 / $off" | bc -l)"
printf 'slowdown from fuel + epoch: %.1f%% (target <= 15%%)\n' "$(echo "($on / $off - 1) * 100" | bc -l)"
