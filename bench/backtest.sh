#!/usr/bin/env bash
# Whole-process backtest throughput: `liu-engine backtest` wall time, from
# reading the CSV to the committed SQLite transaction, for sma-cross over
#   - 1,000,000 synthetic minute bars of one symbol;
#   - 100 symbols x 10,000 bars;
#   - 1,000,000 bars with the sandbox limits on and off;
# and, on the same 1M-bar file, backtesting.py (../shared/bench/peer_bt.py)
# when ../shared is present. Prints bars/s; best of 3 runs.
set -euo pipefail
cd "$(dirname "$0")/.."
engine=target/release/liu-engine
sma=target/strategies/sma-cross.wasm
out=bench-out
shared=../shared/bench
mkdir -p "$out"
. bench/timing.sh
fresh() { rm -f "$out"/bench.db*; "$@"; } # each timed run starts from an empty database


report() { # name bars seconds
    printf '%-34s %9d bars %7.3f s %12.0f bars/s\n' "$1" "$2" "$3" "$(echo "$2 / $3" | bc -l)"
}

if [ -f "$shared/gen_bars.py" ]; then
    [ -f "$out/peer-1m.csv" ] || python3 "$shared/gen_bars.py" 1000000 "$out/peer-1m.csv" 7
    one="$out/peer-1m.csv"
else
    [ -f "$out/minute-1m.csv" ] || "$engine" data generate --bars 1000000 --seed 7 -o "$out/minute-1m.csv"
    one="$out/minute-1m.csv"
fi
[ -f "$out/minute-100x10k.csv" ] || "$engine" data generate --bars 10000 --symbols 100 --seed 7 -o "$out/minute-100x10k.csv"

t=$(best_wall fresh "$engine" backtest --strategy "$sma" --data "$one" --db "$out/bench.db")
report "liu-engine sma-cross 1 x 1M" 1000000 "$t"
liu_rate=$(echo "1000000 / $t" | bc -l)
t=$(best_wall fresh "$engine" backtest --strategy "$sma" --data "$out/minute-100x10k.csv" --db "$out/bench.db")
report "liu-engine sma-cross 100 x 10k" 1000000 "$t"

# The cost of the sandbox limits: fuel metering + epoch deadlines on (the
# default) and off (`--unmetered`, a hidden flag that exists for this).
[ -f "$out/minute-1m.csv" ] || "$engine" data generate --bars 1000000 --seed 7 -o "$out/minute-1m.csv"
limited() { "$engine" backtest --strategy "$sma" --data "$out/minute-1m.csv" --db "$out/bench.db" \
    --param fast=10 --param slow=30 --param qty=10 "$@"; }
on=$(best_wall fresh limited)
off=$(best_wall fresh limited --unmetered)
report "sma-cross 1M, limits on" 1000000 "$on"
report "sma-cross 1M, limits off" 1000000 "$off"
printf 'slowdown from fuel + epoch: %.1f%% (target <= 15%%)\n' "$(echo "($on / $off - 1) * 100" | bc -l)"

if [ -f "$shared/peer_bt.py" ]; then
    if [ ! -x "$out/venv/bin/python" ]; then
        python3 -m venv "$out/venv"
        "$out/venv/bin/pip" install --quiet backtesting pandas
    fi
    read -r _ bars secs rate _ <<<"$("$out/venv/bin/python" "$shared/peer_bt.py" backtesting "$one" 2>/dev/null | tail -1)"
    report "backtesting.py SmaCross (run only)" "$bars" "$secs"
    printf 'ratio liu-engine / backtesting.py: %.1fx\n' "$(echo "$liu_rate / $rate" | bc -l)"
fi
