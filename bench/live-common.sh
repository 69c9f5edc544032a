# Shared by the live benchmarks (sourced): start the simulator and write a
# 100-symbol, 2-consumer tradeplan for it.
engine=target/release/liu-engine
out=bench-out
mkdir -p "$out"
export APCA_API_KEY_ID=bench APCA_API_SECRET_KEY=bench

# start_simulator PORT SPEED EXTRA_ARGS...: runs until the script exits.
start_simulator() {
    local port=$1 speed=$2 log="$out/sim-$1.log"
    shift 2
    rm -f "$log"
    "$engine" simulate --listen 127.0.0.1:"$port" --symbols 100 --bars 1000000 --speed "$speed" "$@" > "$log" 2>&1 &
    sim=$!
    trap 'kill $sim 2>/dev/null' EXIT
    until grep -q "simulator listening" "$log" 2>/dev/null; do sleep 0.1; done
}

# write_plan FILE PORT PORTFOLIO_VALUE STALE_SECS STRATEGY_LINES
write_plan() {
    local symbols
    symbols=$(python3 -c 'print(", ".join(f"\"SYM{i:03}\"" for i in range(100)))')
    cat > "$1" <<PLAN
portfolio_value = $3
stale_event_secs = $4
warmup_minutes = 0

consumers = 2
symbols = [$symbols]
[provider]
kind = "alpaca"
feed = "test"
url = "ws://127.0.0.1:$2/v2/test"
events = ["minute"]
encoding = "${ENCODING:-json}"
[[strategies]]
$5
PLAN
}
