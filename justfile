# liu-engine tasks. `just demo` and `just test` are all a new user needs.

set shell := ["bash", "-euo", "pipefail", "-c"]

engine := "target/release/liu-engine"
components := "target/strategies"

# Run the demo backtest.
default: demo

# Toolchain pieces a clean machine lacks.
setup:
    rustup target add wasm32-unknown-unknown wasm32-wasip2

# Build the engine binary (release: tests, demo and benchmarks share one build).
engine:
    cargo build --release -p liu-engine

# Build every sample strategy into a component under target/strategies/.
strategies: setup engine
    cd sample-strategies && cargo build --release --target wasm32-unknown-unknown --workspace --exclude hostile-wasi-filesystem --exclude hostile-wasi-sockets --exclude hostile-env-clock
    # Deliberately built for WASI so that they really import wasi:filesystem,
    # wasi:sockets, wasi:cli/environment and wasi:clocks/wall-clock.
    cd sample-strategies && cargo build --release --target wasm32-wasip2 -p hostile-wasi-filesystem -p hostile-wasi-sockets -p hostile-env-clock
    mkdir -p {{components}}
    for core in sample-strategies/target/wasm32-unknown-unknown/release/*.wasm; do \
        name=$(basename "$core" .wasm | tr _ -); \
        {{engine}} component new "$core" -o {{components}}/$name.wasm; \
    done
    cp sample-strategies/target/wasm32-wasip2/release/hostile_wasi_filesystem.wasm {{components}}/hostile-wasi-filesystem.wasm
    cp sample-strategies/target/wasm32-wasip2/release/hostile_wasi_sockets.wasm {{components}}/hostile-wasi-sockets.wasm
    cp sample-strategies/target/wasm32-wasip2/release/hostile_env_clock.wasm {{components}}/hostile-env-clock.wasm
    @ls {{components}}

# Backtest the two sample strategies on real GOOG daily prices into ./liu.db.
demo: strategies
    {{engine}} backtest \
        --strategy {{components}}/sma-cross.wasm \
        --strategy {{components}}/momentum-long.wasm \
        --data data/GOOG.csv \
        --param sma-cross.fast=10 --param sma-cross.slow=30 --param qty=100

# Unit, integration and end-to-end tests.
test: strategies
    cargo nextest run --release --workspace --no-fail-fast

# Benchmarks (figures in the closing note / README).
bench: strategies
    cargo bench -p liu-engine --bench sandbox
    ./bench/backtest.sh
    ./bench/fanout.sh
    ./bench/latency.sh

# Live trading against the local market simulator for 20 s (paper broker, two consumers).
trade-demo: strategies
    #!/usr/bin/env bash
    set -euo pipefail
    export APCA_API_KEY_ID=demo APCA_API_SECRET_KEY=demo
    log=$(mktemp)
    {{engine}} simulate --listen 127.0.0.1:9300 --symbols 20 --speed 600 --repeat > "$log" 2>&1 & sim=$!
    trap 'kill $sim; rm -f "$log"' EXIT
    until grep -q "simulator listening" "$log"; do sleep 0.1; done
    {{engine}} trade --tradeplan data/tradeplan.demo.toml --duration-secs 20
