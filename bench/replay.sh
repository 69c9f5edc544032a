#!/usr/bin/env bash
# Replay parity's two costs, measured side by side in one run:
#  1. Recording on the live path: fan-out as in bench/fanout.sh (simulator
#     at max speed -> producer -> 2 consumers running noop, JSON stream) for
#     5 s, without and with `trade --record`, three times each, alternating.
#     Prints events/s delivered to the consumers and the recording's cost.
#  2. Replay: a session of 20 symbols x 50,000 minute bars (1,000,000
#     events, sent at max speed) recorded with sma-cross, then
#     `backtest --replay` of that recording, whole process (reading and
#     checking the recording, running the strategies, committing the
#     batch to SQLite), best of 3. Prints events/s.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/live-common.sh
port=9391
start_simulator $port max --batch 1000
secs=5
write_plan "$out/record.toml" $port 100000.0 3600.0 "component = \"$(pwd)/target/strategies/noop.wasm\""
routed() { python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["routed"] / float(sys.argv[2]))' "$1" "$secs"; }
declare -A best=([plain]=0 [record]=0)
for round in 1 2 3; do
    for mode in plain record; do
        rm -rf "$out/record-dir" "$out"/record.db*
        extra=()
        [ "$mode" = record ] && extra=(--record "$out/record-dir")
        "$engine" trade --tradeplan "$out/record.toml" --db "$out/record.db" --duration-secs $secs --json "${extra[@]}" > "$out/record-$mode.json"
        rate=$(routed "$out/record-$mode.json")
        printf 'round %d, %-6s: %12.0f events/s to consumers\n' "$round" "$mode" "$rate"
        if (( $(echo "$rate > ${best[$mode]}" | bc -l) )); then best[$mode]=$rate; fi
    done
done
printf 'recording costs fan-out %.1f%%, best against best (%.0f without, %.0f with; target <= 5%%)\n' \
    "$(echo "(1 - ${best[record]} / ${best[plain]}) * 100" | bc -l)" "${best[plain]}" "${best[record]}"
kill $sim 2>/dev/null || true

# 2. A 1M-event recording, then its replay.
port=9392
log="$out/sim-$port.log"
"$engine" simulate --listen 127.0.0.1:$port --symbols 20 --bars 50000 --speed max --batch 1000 > "$log" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null' EXIT
until grep -q "simulator listening" "$log" 2>/dev/null; do sleep 0.1; done
symbols=$(python3 -c 'print(", ".join(f"\"SYM{i:03}\"" for i in range(20)))')
cat > "$out/replay.toml" <<PLAN
portfolio_value = 100000.0
stale_event_secs = 3600.0
warmup_minutes = 0
consumers = 2
symbols = [$symbols]
[provider]
kind = "alpaca"
feed = "test"
url = "ws://127.0.0.1:$port/v2/test"
events = ["minute"]
[[strategies]]
component = "$(pwd)/target/strategies/sma-cross.wasm"
params = { fast = 10, slow = 30, qty = 10 }
# At max speed bar times are as close as the sending: lift the per-minute order cap.
[strategies.limits]
max_orders_per_minute = 1000000000
PLAN
rm -rf "$out/replay-dir" "$out"/replay.db*
"$engine" trade --tradeplan "$out/replay.toml" --db "$out/replay.db" --duration-secs 15 --json --record "$out/replay-dir" > "$out/replay-trade.json"
du -sh "$out/replay-dir"
best=""
for _ in 1 2 3; do
    rm -f "$out"/replayed.db*
    t0=$EPOCHREALTIME
    "$engine" backtest --replay "$out/replay-dir" --db "$out/replayed.db" --json > "$out/replay.json"
    t=$(echo "$EPOCHREALTIME - $t0" | bc -l)
    if [ -z "$best" ] || (( $(echo "$t < $best" | bc -l) )); then best=$t; fi
done
events=$(python3 -c 'import json; print(json.load(open("bench-out/replay.json"))["events"])')
printf 'replay: %d events in %.3f s whole process: %.0f events/s (target >= 1,000,000)\n' "$events" "$best" "$(echo "$events / $best" | bc -l)"
