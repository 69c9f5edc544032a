#!/usr/bin/env bash
# Tick-to-order latency at ~100k events/s: the simulator sends 100 symbols'
# minute bars at 60,000x real time (1,000 bars/s per symbol); 2 consumers run
# sma-cross (fast 2, slow 3), which orders on most crosses. Each consumer
# reports p50/p99/p99.9 from the producer receiving an event to the order
# reaching the broker. The strategy's order-rate limit is lifted: at this
# pace the default would refuse all but 600 orders a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/live-common.sh
port=9391
start_simulator $port 60000
write_plan "$out/latency.toml" $port 10000000.0 5.0 "component = \"$(pwd)/target/strategies/sma-cross.wasm\"
params = { fast = 2, slow = 3, qty = 1 }
# Event time is the wall clock: lift the default 600 orders a minute.
limits = { max_orders_per_minute = 100000000 }"
rm -f "$out"/latency.db*
LIU_LOG=info "$engine" trade --tradeplan "$out/latency.toml" --db "$out/latency.db" --duration-secs 10 --json \
    2> "$out/latency.log" > "$out/latency.json"
python3 -c "import json; s=json.load(open('$out/latency.json')); print(f\"{s['events']/10:,.0f} events/s received\")"
grep -oE "(tick-to-order|delivery) latency.*" "$out/latency.log"
