#!/usr/bin/env bash
# Producer ingest + fan-out: `liu-engine simulate --speed max` → producer →
# 2 consumer processes running the noop strategy, for 10 seconds. Prints
# events/s received by the producer and delivered to consumers (from the
# producer's summary), and what was dropped because a consumer fell behind.
set -euo pipefail
cd "$(dirname "$0")/.."
engine=target/release/liu-engine
out=bench-out
mkdir -p "$out"
port=9390
export APCA_API_KEY_ID=bench APCA_API_SECRET_KEY=bench

"$engine" simulate --listen 127.0.0.1:$port --symbols 100 --bars 1000000 --speed max --batch 1000 > "$out/sim.log" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null' EXIT
until grep -q "simulator listening" "$out/sim.log"; do sleep 0.1; done

symbols=$(python3 -c 'print(", ".join(f"\"SYM{i:03}\"" for i in range(100)))')
cat > "$out/fanout.toml" <<PLAN
portfolio_value = 100000.0
stale_event_secs = 3600.0
consumers = 2
symbols = [$symbols]
[provider]
kind = "alpaca"
feed = "test"
url = "ws://127.0.0.1:$port/v2/test"
events = ["minute"]
[[strategies]]
component = "$(pwd)/target/strategies/noop.wasm"
PLAN

secs=10
"$engine" trade --tradeplan "$out/fanout.toml" --db "$out/fanout.db" --duration-secs $secs --json > "$out/fanout.json"
python3 - "$out/fanout.json" $secs <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); secs = float(sys.argv[2])
print(f"producer received {s['events']:,} events in {secs:.0f} s: {s['events']/secs:,.0f} events/s")
print(f"routed to consumers: {s['routed']:,} ({s['routed']/secs:,.0f} events/s); dropped: {sum(s['dropped_full']):,} (queue full), {sum(s['dropped_down']):,} (before a consumer connected)")
PY
