#!/usr/bin/env bash
# sma-cross in each guest language (Rust, C, JavaScript, Python; built by
# `just strategies`) on the same backtest: 100,000 synthetic minute bars of
# one symbol, fast 10 / slow 30, default sandbox limits. Reports, best of 3:
#   - replay throughput in bars/s (the engine's own `-v` figure: the replay
#     only, after loading the CSV and instantiating);
#   - startup: wall time of `liu-engine describe`: process start, loading the
#     component (read, SHA-256 digest, deserialise the cached compilation),
#     instantiating it and one call. Rust's figure is the floor; what a
#     language adds to it is its load and instantiation cost, paid once per
#     strategy instance, never per event.
set -euo pipefail
cd "$(dirname "$0")/.."
engine=target/release/liu-engine
out=bench-out
bars=100000
mkdir -p "$out"
data="$out/minute-100k.csv"
[ -f "$data" ] || "$engine" data generate --bars "$bars" --seed 7 -o "$data" 2>/dev/null

best() { # smallest of the numbers on stdin
    sort -g | head -1
}

replay_rate() { # component -> best bars/s of 3 replays
    for _ in 1 2 3; do
        rm -f "$out"/lang.db*
        "$engine" backtest -v --strategy "$1" --data "$data" --db "$out/lang.db" \
            --param fast=10 --param slow=30 --param qty=10 2>&1 >/dev/null |
            sed -n 's/.*replayed in [0-9.]*s (\([0-9]*\) bars\/s).*/\1/p'
    done | sort -g | tail -1
}

describe_ms() { # component -> best wall milliseconds of 5 `describe` runs
    "$engine" describe "$1" >/dev/null # compiles into the cache once
    for _ in 1 2 3 4 5; do
        local t0=$EPOCHREALTIME
        "$engine" describe "$1" >/dev/null
        echo "($EPOCHREALTIME - $t0) * 1000" | bc -l
    done | best
}

printf '%-10s %12s %16s %10s\n' language "bars/s" "startup ms" "size"
for lang in rust c js python; do
    component=target/strategies/sma-cross-$lang.wasm
    [ "$lang" = rust ] && component=target/strategies/sma-cross.wasm
    # A component the sandbox cannot host is reported, not benchmarked.
    if ! err=$("$engine" describe "$component" 2>&1 >/dev/null); then
        printf '%-10s cannot run: %s\n' "$lang" "$err"
        continue
    fi
    rate=$(replay_rate "$component")
    ms=$(describe_ms "$component")
    size=$(du -h "$component" | cut -f1)
    printf '%-10s %12s %16.1f %10s\n' "$lang" "$rate" "$ms" "$size"
done
