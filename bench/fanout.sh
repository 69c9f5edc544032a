#!/usr/bin/env bash
# Producer ingest + fan-out: `liu-engine simulate --speed max` → producer →
# 2 consumer processes running the noop strategy, for 10 seconds, with the
# stream in JSON and then in MessagePack (the simulator builds each frame as
# JSON and transcodes it, so the MessagePack run measures that too). Prints
# events/s received by the producer and delivered to consumers (from the
# producer's summary), and what was dropped because a consumer fell behind.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/live-common.sh
port=9390
start_simulator $port max --batch 1000
secs=10
# The stream in both of Alpaca's encodings (JSON text, MessagePack binary).
for encoding in json msgpack; do
    ENCODING=$encoding write_plan "$out/fanout.toml" $port 100000.0 3600.0 "component = \"$(pwd)/target/strategies/noop.wasm\""
    rm -f "$out"/fanout.db*
    "$engine" trade --tradeplan "$out/fanout.toml" --db "$out/fanout.db" --duration-secs $secs --json > "$out/fanout.json"
    python3 - "$out/fanout.json" $secs $encoding <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); secs = float(sys.argv[2])
print(f"{sys.argv[3]}: producer received {s['events']:,} events in {secs:.0f} s: {s['events']/secs:,.0f} events/s")
print(f"{sys.argv[3]}: routed to consumers: {s['routed']:,} ({s['routed']/secs:,.0f} events/s); dropped: {sum(s['dropped_full']):,} (queue full), {sum(s['dropped_down']):,} (before a consumer connected)")
PY
done
