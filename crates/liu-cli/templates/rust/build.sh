#!/usr/bin/env bash
# Builds {{name}}.wasm: the crate for wasm32-unknown-unknown (no operating
# system, so no WASI imports), wrapped into a component by liu-engine.
set -euo pipefail
cd "$(dirname "$0")"
engine={{engine_sh}}
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
cargo build --release --target wasm32-unknown-unknown
"$engine" component new "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/{{crate}}.wasm" -o {{name}}.wasm
echo "built {{name}}.wasm; check it with: $engine audit {{name}}.wasm"
