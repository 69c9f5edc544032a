#!/usr/bin/env bash
# Tick-to-order latency at ~100k events/s: the simulator sends 100 symbols'
# minute bars at 60,000x real time (1,000 bars/s per symbol); 2 consumers run
# sma-cross (fast 2, slow 3), which orders on most crosses. Each consumer
# reports p50/p99/p99.9 from the producer receiving an event to the order
# reaching the broker.
set -euo pipefail
cd "$(dirname "$0")/.."
engine=target/release/liu-engine
out=bench-out
mkdir -p "$out"
port=9391
export APCA_API_KEY_ID=bench APCA_API_SECRET_KEY=bench
rm -f "$out/latency-sim.log"
"$engine" simulate --listen 127.0.0.1:$port --symbols 100 --bars 1000000 --speed 60000 > "$out/latency-sim.log" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null' EXIT
until grep -q "simulator listening" "$out/latency-sim.log" 2>/dev/null; do sleep 0.1; done

symbols=$(python3 -c 'print(", ".join(f"\"SYM{i:03}\"" for i in range(100)))')
cat > "$out/latency.toml" <<PLAN
portfolio_value = 10000000.0
stale_event_secs = 5.0
consumers = 2
symbols = [$symbols]
[provider]
kind = "alpaca"
feed = "test"
url = "ws://127.0.0.1:$port/v2/test"
events = ["minute"]
[[strategies]]
component = "$(pwd)/target/strategies/sma-cross.wasm"
params = { fast = 2, slow = 3, qty = 1 }
PLAN
LIU_LOG=info "$engine" trade --tradeplan "$out/latency.toml" --db "$out/latency.db" --duration-secs 10 --json \
    2> "$out/latency.log" > "$out/latency.json"
python3 -c "import json; s=json.load(open('$out/latency.json')); print(f\"{s['events']/10:,.0f} events/s received\")"
grep -o "consumer=[0-9].*tick-to-order latency.*" "$out/latency.log" || grep -o "tick-to-order latency.*" "$out/latency.log"
