#!/usr/bin/env bash
# Builds {{name}}.wasm with componentize-py: CPython and app.py pre-initialised
# into one component; --stub-wasi replaces every WASI import with a trap, so
# the component imports only the strategy world.
set -euo pipefail
cd "$(dirname "$0")"
root={{root_sh}}
engine={{engine_sh}}
# The pinned componentize-py that `just setup-langs` installs in the checkout.
cpy="$root/target/langs/venv/bin/componentize-py"
[ -x "$cpy" ] || { echo "componentize-py is missing: run \`just setup-langs\` in $root" >&2; exit 1; }
"$cpy" --quiet -d "$root/wit" -w strategy componentize --stub-wasi -p . -p "$root/strategy-sdk/python" app -o {{name}}.wasm
echo "built {{name}}.wasm; check it with: $engine audit {{name}}.wasm"
