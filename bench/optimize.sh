#!/usr/bin/env bash
# Parameter sweeps: `liu-engine optimize` over the 100-combination grid of
# sma-cross (fast 2,4..20 x slow 25,30..70, maximising final equity) on
# 200,000 synthetic minute bars (../shared/bench/gen_bars.py 200000 FILE 7),
# whole process, against backtesting.py's Backtest.optimize on the same grid
# and file in the same run (../shared/bench/peer_bt.py backtesting-optimize).
# Prints wall time and bar-evaluations/s (combinations x bars / seconds);
# the speed-up of --jobs 2 over --jobs 1; max RSS for 20 and 100
# combinations. Every liu-engine run starts from an empty database, so
# nothing is resumed.
set -euo pipefail
cd "$(dirname "$0")/.."
engine=target/release/liu-engine
sma=target/strategies/sma-cross.wasm
out=bench-out
shared=../shared/bench
mkdir -p "$out"
. bench/timing.sh

if [ -f "$shared/gen_bars.py" ]; then
    [ -f "$out/peer-200k.csv" ] || python3 "$shared/gen_bars.py" 200000 "$out/peer-200k.csv" 7
    bars="$out/peer-200k.csv"
else
    [ -f "$out/minute-200k.csv" ] || "$engine" data generate --bars 200000 --seed 7 -o "$out/minute-200k.csv"
    bars="$out/minute-200k.csv"
fi
n=200000

sweep() { # jobs, then extra arguments
    local jobs=$1
    shift
    rm -f "$out"/optimize.db*
    "$engine" optimize --strategy "$sma" --data "$bars" --objective final_equity --jobs "$jobs" --db "$out/optimize.db" --json "$@"
}


report() { # name combinations seconds
    printf '%-40s %4d x %d bars %8.3f s %12.0f bar-evaluations/s\n' "$1" "$2" "$n" "$3" "$(echo "$2 * $n / $3" | bc -l)"
}

grid=(--grid fast=2..20:2 --grid slow=25..70:5)
two=$(best_wall sweep 2 "${grid[@]}")
report "liu-engine optimize, --jobs 2" 100 "$two"
one=$(best_wall sweep 1 "${grid[@]}")
report "liu-engine optimize, --jobs 1" 100 "$one"
printf 'speed-up of --jobs 2 over --jobs 1: %.2fx (target >= 1.8x)\n' "$(echo "$one / $two" | bc -l)"
sweep 2 "${grid[@]}" --top 1 | python3 -c 'import json,sys; b=json.load(sys.stdin)["best"]; print("liu-engine best:", b["params"], "final equity", b["metrics"]["final_equity"])'

rss() { # max RSS in MiB of a sweep with these arguments
    rm -f "$out"/optimize.db*
    /usr/bin/time -v "$engine" optimize --strategy "$sma" --data "$bars" --jobs 2 --db "$out/optimize.db" --json "$@" 2>&1 >/dev/null |
        awk '/Maximum resident set size/ { printf "%.1f", $6 / 1024 }'
}
printf 'max RSS: 20 combinations %s MiB, 100 combinations %s MiB\n' \
    "$(rss --grid fast=2..20:2 --grid slow=25,30)" "$(rss "${grid[@]}")"

if [ -f "$shared/peer_bt.py" ]; then
    # The same venv as bench/backtest.sh.
    if [ ! -x "$out/venv/bin/python" ]; then
        python3 -m venv "$out/venv"
        "$out/venv/bin/pip" install --quiet backtesting pandas
    fi
    read -r _ combos _ secs rate fast slow equity <<<"$("$out/venv/bin/python" "$shared/peer_bt.py" backtesting-optimize "$bars" 2>/dev/null | tail -1)"
    report "backtesting.py Backtest.optimize" "$combos" "$secs"
    echo "backtesting.py best: fast=$fast slow=$slow final equity $equity"
    printf 'ratio liu-engine (--jobs 2) / backtesting.py: %.1fx (target >= 20x)\n' "$(echo "100 * $n / $two / $rate" | bc -l)"
fi
