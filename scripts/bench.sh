#!/usr/bin/env bash
# The benchmark suite, one command: builds what it measures (native release,
# the npm package, the demo), runs every benchmark (the PostgreSQL ones on a
# throwaway local server) and writes BENCHMARKS.md
# with the plots docs/bench/scale.svg and docs/bench/browser.svg.
#
#   scripts/bench.sh [--runs 3] [--max-rooms 10000000] [--breakdown-rooms 1000000] [--wasm-rooms 10000] [--criterion]
#
# Takes about 15 minutes with the defaults on 2 cores, 10 of them the
# three 10,000,000-room runs, which need about 17 GiB of memory (skipped,
# with a note, where it is not available); --criterion adds about 5. Needs what scripts/setup.sh installs. Stop other heavy work
# first: the machine's noise is in the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p allot-tests --bins >&2
web/build.sh >&2
demo/run.sh build-if-needed >&2
# The PostgreSQL rows run against a throwaway server on 127.0.0.1 that
# scripts/pg.sh starts for the suite and removes afterwards.
scripts/pg.sh install >&2
exec scripts/pg.sh run -- python3 scripts/bench/run.py "$@"
