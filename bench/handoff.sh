#!/usr/bin/env bash
# The machine's floor under tick-to-order latency: one hand-off (a write to a
# Unix socket, the wake-up of a thread blocked reading it, the read) between
# threads pinned to the same CPU and to two different CPUs, with the reader
# asleep for 1 ms before each, as a consumer is between frames in
# bench/latency.sh; then back to back, with the reader barely asleep.
set -euo pipefail
cd "$(dirname "$0")/.."
engine=target/release/liu-engine
"$engine" bench-handoff --rounds 5000 --gap-us 1000
"$engine" bench-handoff --rounds 20000 --gap-us 0
