#!/usr/bin/env bash
# Builds {{name}}.wasm: clang compiles for wasm32 against wasi-libc (for
# malloc and string functions only) with the SDK's committed wit-bindgen
# bindings, and liu-engine wraps the core module into a component. Any
# libc call that needs WASI (stdio, time, files) leaves an import that
# `component new` refuses.
set -euo pipefail
cd "$(dirname "$0")"
root={{root_sh}}
engine={{engine_sh}}
sdk="$root/strategy-sdk/c"
command -v clang >/dev/null || { echo "clang is missing: run \`just setup-langs\` in $root" >&2; exit 1; }
clang --target=wasm32-wasi -O2 -Wall -Wextra -mexec-model=reactor -I "$sdk" -o {{crate}}.core.wasm \
    strategy.c "$sdk/liu_strategy.c" "$sdk/bindings/strategy.c" "$sdk/bindings/strategy_component_type.o"
"$engine" component new {{crate}}.core.wasm -o {{name}}.wasm
rm {{crate}}.core.wasm
echo "built {{name}}.wasm; check it with: $engine audit {{name}}.wasm"
