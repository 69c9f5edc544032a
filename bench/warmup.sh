#!/usr/bin/env bash
# A live session's warm-up: 100 symbols x 390 minute bars fetched from the
# REST stand-in of `simulate --history-bars 390` (Alpaca's several-symbol
# bars endpoint with next_page_token, and Polygon's per-ticker minute
# aggregates with next_url), the way `trade` fetches them before its first
# live event. Target: <= 2 s.
set -euo pipefail
cd "$(dirname "$0")/.."
engine=target/release/liu-engine
export APCA_API_KEY_ID=bench-key APCA_API_SECRET_KEY=bench-secret POLYGON_API_KEY=bench-polygon
out=$(mktemp)
"$engine" simulate --listen 127.0.0.1:0 --rest-listen 127.0.0.1:0 --symbols 100 --bars 500 \
    --history-bars 390 --speed 1 >"$out" 2>/dev/null &
sim=$!
trap 'kill $sim 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 100); do grep -q '^stand-in REST listening on ' "$out" && break; sleep 0.1; done
rest=$(sed -n 's/^stand-in REST listening on //p' "$out")
[ -n "$rest" ] || { echo "warmup.sh: the simulator did not start" >&2; exit 1; }
"$engine" bench-warmup --rest-url "$rest" --provider alpaca --symbols 100 --minutes 390
"$engine" bench-warmup --rest-url "$rest" --provider polygon --symbols 100 --minutes 390
