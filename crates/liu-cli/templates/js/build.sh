#!/usr/bin/env bash
# Builds {{name}}.wasm with componentize-js (StarlingMonkey, pre-initialised
# with wizer). Every WASI feature is disabled, so the component imports only
# the strategy world. The toolchain is the one pinned in the checkout.
set -euo pipefail
cd "$(dirname "$0")"
root={{root_sh}}
engine={{engine_sh}}
# The pinned componentize-js that `just setup-langs` installs in the checkout.
cjs="$root/strategy-sdk/js/node_modules/.bin/componentize-js"
[ -x "$cjs" ] || { echo "componentize-js is missing: run \`just setup-langs\` in $root" >&2; exit 1; }
"$cjs" strategy.js --wit "$root/wit" -n strategy \
    --disable stdio random clocks http fetch-event -o {{name}}.wasm
echo "built {{name}}.wasm; check it with: $engine audit {{name}}.wasm"
