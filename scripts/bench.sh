#!/usr/bin/env bash
# The benchmark suite, one command: builds what it measures (native release,
# the npm package, the demo), runs every benchmark and writes BENCHMARKS.md
# with the plots docs/bench/scale.svg and docs/bench/browser.svg.
#
#   scripts/bench.sh [--runs 3] [--max-rooms 1000000] [--wasm-rooms 10000] [--criterion]
#
# Takes about 15 minutes with the defaults on 2 cores (--criterion adds
# about 5). Needs what scripts/setup.sh installs. Stop other heavy work
# first: the machine's noise is in the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p allot-tests --bins >&2
web/build.sh >&2
demo/run.sh build-if-needed >&2
exec python3 scripts/bench/run.py "$@"
