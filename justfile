# liu-engine tasks. `just demo` and `just test` are all a new user needs.

set shell := ["bash", "-euo", "pipefail", "-c"]

engine := "target/release/liu-engine"
components := "target/strategies"
# componentize-py lives in a venv of its own (Debian's python3 refuses global pip installs).
langs_venv := "target/langs/venv"
# The providers' Python clients, for the tests that check the stand-ins against them.
clients_venv := "target/langs/clients"
# Independent implementations of the metrics (empyrical, pandas), for the tests that check ours.
analysis_venv := "target/langs/analysis"
# pandas and pyarrow, for the tests that read `export` files back as notebooks do.
notebook_venv := "target/langs/notebook"
componentize_js := "strategy-sdk/js/node_modules/.bin/componentize-js"

# Run the demo backtest.
default: demo

# Toolchain pieces a clean machine lacks.
setup:
    rustup target add wasm32-unknown-unknown wasm32-wasip2

# The binary embeds the report's charting library, so that comes first.
# Build the engine binary (release: tests, demo and benchmarks share one build).
engine: report-assets
    cargo build --release -p liu-cli

# ECharts at the version of crates/liu-research/report-assets/package-lock.json,
# into that folder's node_modules, where the build reads it; reinstalled when the lock changes.
# Install the charting library `liu-engine report` inlines.
report-assets:
    #!/usr/bin/env bash
    set -euo pipefail
    if ! command -v npm >/dev/null; then
        sudo=$([ "$(id -u)" = 0 ] || echo sudo)
        $sudo apt-get update -qq && $sudo apt-get install -y -qq nodejs npm
    fi
    if ! [ crates/liu-research/report-assets/node_modules/.package-lock.json -nt crates/liu-research/report-assets/package-lock.json ]; then
        (cd crates/liu-research/report-assets && npm ci --no-audit --no-fund --loglevel=error)
    fi

# Toolchains for strategies in Python, JavaScript and C, at pinned versions;
# each step is skipped when already done, so this is quick after the first run.
setup-langs: report-assets
    #!/usr/bin/env bash
    set -euo pipefail
    need=()
    command -v clang >/dev/null || need+=(clang)
    command -v wasm-ld >/dev/null || need+=(lld)
    [ -f /usr/lib/wasm32-wasi/libc.a ] || need+=(wasi-libc libclang-rt-dev-wasm32)
    python3 -c 'import ensurepip' 2>/dev/null || need+=(python3-venv)
    command -v npm >/dev/null || need+=(nodejs npm)
    if [ ${#need[@]} -gt 0 ]; then
        sudo=$([ "$(id -u)" = 0 ] || echo sudo)
        $sudo apt-get update -qq && $sudo apt-get install -y -qq "${need[@]}"
    fi
    want=$(grep -v '^#' strategy-sdk/python/requirements.txt)
    if ! [ -x {{langs_venv}}/bin/componentize-py ] || ! {{langs_venv}}/bin/pip freeze 2>/dev/null | grep -qx "$want"; then
        python3 -m venv {{langs_venv}}
        {{langs_venv}}/bin/pip install --quiet -r strategy-sdk/python/requirements.txt
    fi
    want=$(grep -v '^#' tests/clients/requirements.txt | sort)
    if ! [ -x {{clients_venv}}/bin/python ] || [ "$({{clients_venv}}/bin/pip freeze 2>/dev/null | grep -iE '^(alpaca-py|polygon-api-client)==' | sort)" != "$want" ]; then
        python3 -m venv {{clients_venv}}
        {{clients_venv}}/bin/pip install --quiet -r tests/clients/requirements.txt
    fi
    want=$(grep -v '^#' tests/analysis/requirements.txt | sort)
    if ! [ -x {{analysis_venv}}/bin/python ] || [ "$({{analysis_venv}}/bin/pip freeze 2>/dev/null | grep -iE '^(empyrical-reloaded|numpy|pandas)==' | sort)" != "$want" ]; then
        python3 -m venv {{analysis_venv}}
        {{analysis_venv}}/bin/pip install --quiet -r tests/analysis/requirements.txt
    fi
    want=$(grep -v '^#' tests/notebook/requirements.txt | sort)
    if ! [ -x {{notebook_venv}}/bin/python ] || [ "$({{notebook_venv}}/bin/pip freeze 2>/dev/null | grep -iE '^(numpy|pandas|pyarrow)==' | sort)" != "$want" ]; then
        python3 -m venv {{notebook_venv}}
        {{notebook_venv}}/bin/pip install --quiet -r tests/notebook/requirements.txt
    fi
    # The versions of package-lock.json, reinstalled when the lock changes. Not
    # `npm ci`: it insists on lock entries for every platform's optional
    # binaries, some of which the registry here does not serve.
    if ! [ strategy-sdk/js/node_modules/.package-lock.json -nt strategy-sdk/js/package-lock.json ]; then
        (cd strategy-sdk/js && npm install --no-save --no-audit --no-fund --loglevel=error)
    fi

# Regenerate the C SDK's committed wit-bindgen bindings after a change to wit/.
bindings-c:
    wit-bindgen --version 2>/dev/null | grep -q ' 0.61.1' || cargo install wit-bindgen-cli --version 0.61.1 --locked
    wit-bindgen c wit --world strategy --out-dir strategy-sdk/c/bindings

# Build every sample strategy into a component under target/strategies/.
strategies: setup setup-langs engine
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
    # The same sma-cross in Python, JavaScript and C (strategy-sdk/<lang>/README.md).
    # Python and JS are pre-initialised interpreters; both builds drop every WASI import.
    {{langs_venv}}/bin/componentize-py --quiet -d wit -w strategy componentize --stub-wasi \
        -p sample-strategies/python/sma-cross -p strategy-sdk/python sma_cross -o {{components}}/sma-cross-python.wasm
    {{componentize_js}} sample-strategies/js/sma-cross/sma-cross.js --wit wit -n strategy \
        --disable stdio random clocks http fetch-event -o {{components}}/sma-cross-js.wasm
    clang --target=wasm32-wasi -O2 -Wall -Wextra -Werror -mexec-model=reactor -I strategy-sdk/c \
        -o sample-strategies/target/sma-cross-c.core.wasm sample-strategies/c/sma-cross/sma_cross.c \
        strategy-sdk/c/liu_strategy.c strategy-sdk/c/bindings/strategy.c strategy-sdk/c/bindings/strategy_component_type.o
    {{engine}} component new sample-strategies/target/sma-cross-c.core.wasm -o {{components}}/sma-cross-c.wasm
    # bar-counter in each language: the SDKs' `state` wrappers, kept across sessions.
    {{langs_venv}}/bin/componentize-py --quiet -d wit -w strategy componentize --stub-wasi \
        -p sample-strategies/python/bar-counter -p strategy-sdk/python bar_counter -o {{components}}/bar-counter-python.wasm
    {{componentize_js}} sample-strategies/js/bar-counter/bar-counter.js --wit wit -n strategy \
        --disable stdio random clocks http fetch-event -o {{components}}/bar-counter-js.wasm
    clang --target=wasm32-wasi -O2 -Wall -Wextra -Werror -mexec-model=reactor -I strategy-sdk/c \
        -o sample-strategies/target/bar-counter-c.core.wasm sample-strategies/c/bar-counter/bar_counter.c \
        strategy-sdk/c/liu_strategy.c strategy-sdk/c/bindings/strategy.c strategy-sdk/c/bindings/strategy_component_type.o
    {{engine}} component new sample-strategies/target/bar-counter-c.core.wasm -o {{components}}/bar-counter-c.wasm
    @ls {{components}}

# Backtest the two sample strategies on real GOOG daily prices into ./liu.db.
demo: strategies
    {{engine}} backtest \
        --strategy {{components}}/sma-cross.wasm \
        --strategy {{components}}/momentum-long.wasm \
        --data data/GOOG.csv \
        --param sma-cross.fast=10 --param sma-cross.slow=30 --param qty=100 \
        --report liu-report.html

# Unit, integration and end-to-end tests.
test: strategies
    cargo nextest run --release --workspace --no-fail-fast

# Formatting and lints, as CI checks them.
lint: report-assets
    cargo fmt --all --check
    cargo clippy --release --workspace --all-targets -- -D warnings

# Benchmarks (figures in the closing note / README).
bench: strategies
    cargo bench -p liu-sandbox --bench sandbox
    cargo bench -p liu-engine --bench ingest
    ./bench/backtest.sh
    ./bench/fanout.sh
    ./bench/latency.sh
    ./bench/handoff.sh
    ./bench/languages.sh
    ./bench/db.sh
    ./bench/warmup.sh
    ./bench/replay.sh
    ./bench/report.sh
    ./bench/optimize.sh

# Live trading against the local market simulator for 20 s (paper broker, two consumers).
trade-demo: strategies
    #!/usr/bin/env bash
    set -euo pipefail
    export APCA_API_KEY_ID=demo APCA_API_SECRET_KEY=demo
    log=$(mktemp)
    {{engine}} simulate --listen 127.0.0.1:9300 --rest-listen 127.0.0.1:9301 --history-bars 60 --symbols 20 --bars 100000 --speed 600 --repeat > "$log" 2>&1 & sim=$!
    trap 'kill $sim; rm -f "$log"' EXIT
    until grep -q "simulator listening" "$log"; do sleep 0.1; done
    {{engine}} trade --tradeplan data/tradeplan.demo.toml --duration-secs 20
